// saferplaces map front end.
//
// Plain ES module, no framework, no bundler. MapLibre GL JS v6 is imported
// unbundled from ./vendor/, so it finds its worker (vendor/maplibre-gl-worker.mjs)
// relative to its own URL and no setWorkerUrl call is needed.
//
// Every request goes to our own origin: the style has a plain background, no
// basemap tiles, no glyphs and no sprites, so there are no symbol layers.
//
// Access (safeguards.md S12, S15, S21): an optional bearer token, kept in
// sessionStorage only, is sent with every /api/v1/ request. /api/v1/meta says
// who the caller is and which layers it may request; the app requests and
// offers only those. After sign-in, sign-out or the idle logout, everything is
// cleared and rebuilt from a fresh /api/v1/meta.
//
// Hooks for the browser test (web/test/map.test.mjs):
//   window.__map          the maplibregl Map
//   window.__ready        true from the first `idle` after all data for the
//                         current caller (hexagons included, when permitted)
//                         has been loaded; false again while access changes
//   window.__access       "loading", "ok" (map shown for __caller) or "denied"
//                         (the token's role has no map access)
//   window.__caller       `caller` from the last /api/v1/meta, or null
//   window.__errors       map `error` events, as strings
//   window.__hexRendered  query string of the hexagon request whose data the
//                         map last finished rendering (the map was idle after it)
//   window.__accessChanges  how many times access has been (re)loaded
//   window.__idleCheck(t) run the idle-logout check as if the clock read t (ms)
import {
  AttributionControl,
  Map as MapLibreMap,
  NavigationControl,
  Popup,
  ScaleControl,
} from "./vendor/maplibre-gl.mjs";

// ---------------------------------------------------------------------------
// Configuration

const API = "/api/v1";

// S15: sign out automatically after this long without user interaction.
const IDLE_LOGOUT_MS = 15 * 60 * 1000;
// Interactions that count as activity for the idle logout.
const ACTIVITY_EVENTS = ["pointerdown", "pointermove", "keydown", "wheel", "touchstart"];
// sessionStorage keys (never localStorage: the token must not outlive the tab).
const TOKEN_KEY = "saferplaces.token";
const ACTIVITY_KEY = "saferplaces.lastActivity";
// What a token may look like before we put it in a header (printable ASCII, no spaces).
const TOKEN_PATTERN = /^[\x21-\x7e]{1,512}$/;

// Used when /api/v1/meta does not say what the caller may see: deny by
// default, i.e. treat the caller as public (reference and aggregate layers).
const PUBLIC_LAYERS = ["hexagons", "boundaries", "schools", "stops", "routes", "services"];

const ATTRIBUTION =
  "Contains public sector information licensed under the Open Government Licence v3.0. " +
  "Contains OS data © Crown copyright and database right. Synthetic demo data.";

const INITIAL_VIEW = { center: [-2.62, 51.46], zoom: 10 };

const DEFAULT_SCHEME = "locality_social_care";

const SCHEME_LABELS = {
  lad: "Local authorities",
  ward: "Wards",
  locality_police: "Police localities",
  locality_social_care: "Social care localities",
};

// H3 resolutions the client may ask for; narrowed further by /api/v1/meta.
const RES_LIMITS = [5, 10];

// Sequential colour ramp (ColorBrewer YlOrRd, 6 classes) for hexagon counts.
const HEX_COLOURS = ["#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026"];
// "Nice" class breaks; the ramp uses a floor plus five consecutive values (see rampBreaks).
const NICE_BREAKS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5];

// Suppressed hexagons (S21): light grey fill and a dashed darker outline.
const SUPPRESSED_FILL = "#d5d8dc";
const SUPPRESSED_LINE = "#57606a";
// A cell is suppressed when the server says so (its count is then null).
const SUPPRESSED_EXPRESSION = ["==", ["get", "suppressed"], true];

const COLOURS = {
  places: "#e7298a",
  schools: "#1f78b4",
  stops: "#525252",
  routes: "#8c510a",
  lad: "#1a1a2e",
  boundaries: "#5a5a7a",
  tiers: { universal: "#1b9e77", targeted: "#7570b3", specialist: "#111111" },
};

// Layer switcher entries, listed top-most first (the map draws them in the
// reverse order, see addSourcesAndLayers). `visible` is the initial state;
// `data` is the name of the layer in meta's `caller.layers` (and of its
// endpoint): an entry is offered only when the caller may request it.
const LAYERS = [
  { id: "places-circle", data: "places", label: "Places of concern", visible: true },
  { id: "schools-circle", data: "schools", label: "Schools", visible: true },
  { id: "services-circle", data: "services", label: "Services", visible: true },
  { id: "stops-circle", data: "stops", label: "Stops", visible: false },
  { id: "routes-line", data: "routes", label: "Routes", visible: true },
  { id: "boundaries-lad-line", data: "boundaries", label: "Authorities", visible: true },
  { id: "boundaries-line", data: "boundaries", label: "Boundaries", visible: true },
  {
    id: "hexagons-fill",
    data: "hexagons",
    label: "Incidents",
    visible: true,
    alsoToggles: ["hexagons-suppressed", "hexagons-selected"],
  },
];

// Point and line datasets, fetched once without bbox.
const FEATURE_SOURCES = ["places", "schools", "services", "stops", "routes"];

// What a popup shows for each clickable layer: [property, label] pairs.
const POPUPS = {
  "places-circle": {
    title: "Place of concern",
    fields: [["name", "Name"], ["kind", "Kind"], ["id", "ID"]],
  },
  "schools-circle": {
    title: "School",
    fields: [["name", "Name"], ["phase", "Phase"], ["urn", "URN"]],
  },
  "services-circle": {
    title: "Service",
    fields: [["name", "Name"], ["tier", "Tier"], ["kind", "Kind"], ["provider", "Provider"], ["id", "ID"]],
  },
  "stops-circle": { title: "Stop", fields: [["name", "Name"], ["id", "ID"]] },
  "routes-line": {
    title: "Route",
    fields: [["short_name", "Route"], ["long_name", "Name"], ["mode", "Mode"], ["id", "ID"]],
  },
  // A third element "number" formats the value with digit grouping (never ids).
  "hexagons-fill": { title: "Hexagon", fields: [["count", "Incidents", "number"], ["h3", "H3 cell"]] },
};
// Points and lines take precedence over the hexagons underneath them.
// (Layers the caller may not see stay in the style, hidden and empty.)
const CLICKABLE_FEATURES = ["places-circle", "schools-circle", "services-circle", "stops-circle", "routes-line"];

const EMPTY = { type: "FeatureCollection", features: [] };

// ---------------------------------------------------------------------------
// Small helpers

const $ = (selector) => document.querySelector(selector);
const numberFormat = new Intl.NumberFormat("en-GB");
const dateFormat = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });

const clamp = (value, lo, hi) => Math.min(hi, Math.max(lo, value));
const isCount = (value) => typeof value === "number" && Number.isFinite(value);

/** Create an element with a class and text, never parsing HTML. */
function el(tag, { className, text } = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// Dates are plain calendar days ("YYYY-MM-DD"); do the arithmetic in UTC.
const parseDay = (day) => new Date(`${day}T00:00:00Z`);
const formatDay = (date) => date.toISOString().slice(0, 10);
function addDays(day, n) {
  const d = parseDay(day);
  d.setUTCDate(d.getUTCDate() + n);
  return formatDay(d);
}
function addMonths(day, n) {
  const d = parseDay(day);
  d.setUTCMonth(d.getUTCMonth() + n);
  return formatDay(d);
}
const maxDay = (a, b) => (a > b ? a : b); // ISO days compare as strings
const humanDay = (day) => dateFormat.format(parseDay(day));

// ---------------------------------------------------------------------------
// Session: the access token (S12) and the idle logout (S15)

/** sessionStorage, or null where the browser refuses it (the token then lives in memory only). */
function sessionStore() {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

const session = {
  token: null,
  lastActivity: Date.now(),
  lastSaved: 0,
  timer: 0,
  onIdle: null, // called when the idle logout fires

  /** Restore a token from this tab's sessionStorage, unless it has been idle too long. */
  restore() {
    const store = sessionStore();
    const token = store?.getItem(TOKEN_KEY) ?? null;
    const last = Number(store?.getItem(ACTIVITY_KEY));
    if (token && TOKEN_PATTERN.test(token) && Number.isFinite(last) && Date.now() - last < IDLE_LOGOUT_MS) {
      this.token = token;
      this.lastActivity = last;
      this.schedule();
    } else {
      this.clear();
    }
  },

  set(token) {
    this.token = token;
    try {
      sessionStore()?.setItem(TOKEN_KEY, token);
    } catch {
      // storage full or refused: keep the token in memory for this page only
    }
    this.touch(Date.now(), true);
  },

  clear() {
    this.token = null;
    clearTimeout(this.timer);
    try {
      sessionStore()?.removeItem(TOKEN_KEY);
      sessionStore()?.removeItem(ACTIVITY_KEY);
    } catch {
      // nothing stored
    }
  },

  /** User activity: restart the idle clock (cheap enough to run on every pointermove). */
  touch(now = Date.now(), force = false) {
    if (!this.token) return;
    this.lastActivity = now;
    if (force || now - this.lastSaved > 10_000) {
      this.lastSaved = now;
      try {
        sessionStore()?.setItem(ACTIVITY_KEY, String(now));
      } catch {
        // best effort
      }
    }
    if (force || !this.timer) this.schedule();
  },

  /** One timer; when it fires early (activity since), it re-arms for the remainder. */
  schedule() {
    clearTimeout(this.timer);
    const wait = Math.max(0, this.lastActivity + IDLE_LOGOUT_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = 0;
      this.check();
    }, wait + 250);
  },

  check(now = Date.now()) {
    if (!this.token) return;
    if (now - this.lastActivity >= IDLE_LOGOUT_MS) {
      this.clear();
      this.onIdle?.();
    } else if (!this.timer) {
      this.schedule();
    }
  },

  headers() {
    const headers = { Accept: "application/json" };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    return headers;
  },
};

/** An API error: HTTP status and the API's error code, when there was a response. */
class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * GET a JSON document from our API with the caller's token; errors carry a
 * readable message, the HTTP status and the API's error code. `no-store`:
 * responses may hold place-level data and differ by role, so none of them
 * goes into the browser's HTTP cache (S15).
 */
async function getJSON(path, params, signal) {
  const url = params ? `${path}?${params}` : path;
  let response;
  try {
    response = await fetch(url, { signal, headers: session.headers(), cache: "no-store" });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(`${path}: ${err.message}`);
  }
  if (!response.ok) {
    // The API answers 4xx with {"error": CODE, "message": ..., "field": ...}.
    let code;
    let detail = "";
    try {
      const body = await response.json();
      code = typeof body.error === "string" ? body.error : undefined;
      detail = [body.error, body.field && `field ${body.field}`].filter(Boolean).join(", ");
    } catch {
      // not JSON: the status line is all we have
    }
    throw new ApiError(`${path}: HTTP ${response.status}${detail ? ` (${detail})` : ""}`, response.status, code);
  }
  return response.json();
}

// ---------------------------------------------------------------------------
// Status line (role="status"): who you are, any current errors and notices,
// and one info message.

const status = {
  identity: "",
  info: "Loading…",
  errors: new Map(), // key -> message, so a later success can clear it
  notices: new Map(), // key -> message: not errors, but worth saying (e.g. idle logout)

  setIdentity(text) {
    this.identity = text;
    this.render();
  },
  setInfo(text) {
    this.info = text;
    this.render();
  },
  notice(key, message) {
    this.notices.set(key, message);
    this.render();
  },
  error(key, message) {
    this.errors.set(key, message);
    this.render();
  },
  clear(key) {
    const a = this.errors.delete(key);
    const b = this.notices.delete(key);
    if (a || b) this.render();
  },
  render() {
    const node = $("#status");
    node.replaceChildren(
      ...(this.identity ? [el("span", { className: "status-identity", text: this.identity })] : []),
      ...[...this.errors.values()].map((message) => el("span", { className: "status-error", text: message })),
      ...[...this.notices.values()].map((message) => el("span", { className: "status-notice", text: message })),
      ...(this.info ? [el("span", { className: "status-info", text: this.info })] : []),
    );
    node.classList.toggle("has-error", this.errors.size > 0);
  },
};

// ---------------------------------------------------------------------------
// Hexagon colour ramp

/**
 * Class breaks for the current counts: starting at `floor` (1, or the
 * smallest published count under disclosure control), then five consecutive
 * "nice" values above it whose top is the largest nice value not above the
 * 95th percentile (so a few extreme cells don't wash out the rest). Breaks
 * follow the data in view, and the legend is redrawn to match.
 */
function rampBreaks(counts, floor = 1) {
  // Suppressed cells have no count (null): they take no part in the ramp.
  const sorted = counts.filter((c) => isCount(c) && c > 0).sort((a, b) => a - b);
  const p95 = sorted.length ? sorted[Math.floor(0.95 * (sorted.length - 1))] : 1;
  const nice = NICE_BREAKS.filter((b) => b > floor);
  let top = 4; // index of the top break in `nice`; at least five values above the floor
  while (top + 1 < nice.length && nice[top + 1] <= p95) top += 1;
  return [floor, ...nice.slice(top - 4, top + 1)];
}

/**
 * Suppressed cells are grey; the rest use a `step` expression where counts
 * below the first break (0) are transparent.
 */
function hexColourExpression(breaks) {
  const step = ["step", ["coalesce", ["get", "count"], 0], "rgba(0, 0, 0, 0)"];
  breaks.forEach((b, i) => step.push(b, HEX_COLOURS[i]));
  return ["case", SUPPRESSED_EXPRESSION, SUPPRESSED_FILL, step];
}

/**
 * The ramp as a row of swatches labelled with each class's lower bound; the
 * full range ("5–9", "50 or more") is there for screen readers. Under
 * disclosure control (S21) a "Suppressed" entry and the rounding follow it.
 */
function renderHexLegend(breaks, disclosure = null) {
  const compact = new Intl.NumberFormat("en-GB", { notation: "compact" });
  const items = breaks.map((b, i) => {
    const next = breaks[i + 1];
    let range;
    if (next === undefined) range = `${numberFormat.format(b)} or more`;
    else if (next - 1 === b) range = numberFormat.format(b);
    else range = `${numberFormat.format(b)}–${numberFormat.format(next - 1)}`;

    const item = el("li");
    const swatch = el("span", { className: "swatch swatch-fill" });
    swatch.style.setProperty("--swatch", HEX_COLOURS[i]);
    const short = el("span", { className: "ramp-label", text: `${compact.format(b)}${next === undefined ? "+" : ""}` });
    for (const node of [swatch, short]) node.setAttribute("aria-hidden", "true");
    item.append(swatch, short, el("span", { className: "visually-hidden", text: range }));
    return item;
  });
  $("#legend-hexagons").replaceChildren(...items);

  const notes = [];
  if (disclosure?.controlled) {
    const item = el("li");
    const swatch = el("span", { className: "swatch swatch-suppressed" });
    swatch.setAttribute("aria-hidden", "true");
    const min = isCount(disclosure.min_count) ? disclosure.min_count : 5;
    item.append(swatch, el("span", { text: `Suppressed (fewer than ${numberFormat.format(min)})` }));
    notes.push(item);
    const rounding = isCount(disclosure.rounding) && disclosure.rounding > 1 ? disclosure.rounding : null;
    const note = [
      rounding ? `Other counts are rounded to the nearest ${numberFormat.format(rounding)}.` : "",
      disclosure.time ? `Time is shown by ${disclosure.time}.` : "",
    ]
      .filter(Boolean)
      .join(" ");
    if (note) notes.push(el("li", { className: "legend-note", text: note }));
  }
  $("#legend-disclosure").replaceChildren(...notes);
  $("#legend-disclosure").hidden = notes.length === 0;
}

function legendItem(swatchClass, colour, label) {
  const item = el("li");
  const swatch = el("span", { className: `swatch ${swatchClass}` });
  swatch.style.setProperty("--swatch", colour); // colours come from our constants, not data
  swatch.setAttribute("aria-hidden", "true");
  item.append(swatch, el("span", { text: label }));
  return item;
}

/** Legend entries for the layers the caller may see (`permitted(name)`). */
function renderFeatureLegend(permitted) {
  const entries = [
    ["places", "swatch-circle", COLOURS.places, "Place of concern"],
    ["schools", "swatch-circle", COLOURS.schools, "School"],
    ["services", "swatch-circle", COLOURS.tiers.universal, "Service: universal"],
    ["services", "swatch-circle", COLOURS.tiers.targeted, "Service: targeted"],
    ["services", "swatch-circle", COLOURS.tiers.specialist, "Service: specialist"],
    ["stops", "swatch-circle swatch-small", COLOURS.stops, "Stop"],
    ["routes", "swatch-line", COLOURS.routes, "Transport route"],
    ["boundaries", "swatch-line swatch-thick", COLOURS.lad, "Local authority boundary"],
    ["boundaries", "swatch-line", COLOURS.boundaries, "Selected boundaries"],
  ];
  const items = entries.filter(([name]) => permitted(name)).map(([, ...rest]) => legendItem(...rest));
  $("#legend-features").replaceChildren(...items);
  $("#legend-points-title").hidden = items.length === 0;
}

// ---------------------------------------------------------------------------
// Map style: a plain background and our own sources, nothing remote.

function addSourcesAndLayers(map) {
  for (const id of ["boundaries", "boundaries-lad", ...FEATURE_SOURCES]) {
    map.addSource(id, { type: "geojson", data: EMPTY });
  }
  // promoteId makes the 15-character h3 string the feature id (H3 indexes
  // exceed 2^53, so they must never be numeric ids; maps.md §2 and §6.2).
  map.addSource("hexagons", { type: "geojson", data: EMPTY, promoteId: "h3" });

  const radius = (small, large) => ["interpolate", ["linear"], ["zoom"], 9, small, 15, large];
  const point = (colour, r = radius(3.5, 8)) => ({
    "circle-color": colour,
    "circle-radius": r,
    "circle-stroke-color": "#ffffff",
    "circle-stroke-width": 1,
  });

  // Bottom to top.
  const layers = [
    {
      id: "hexagons-fill",
      type: "fill",
      source: "hexagons",
      paint: {
        "fill-color": hexColourExpression(rampBreaks([])),
        "fill-opacity": [
          "case",
          ["boolean", ["feature-state", "selected"], false],
          0.95,
          SUPPRESSED_EXPRESSION,
          0.55,
          0.7,
        ],
        "fill-outline-color": "rgba(120, 60, 0, 0.25)",
      },
    },
    {
      // Suppressed cells (S21): a dashed darker outline on top of the grey fill.
      id: "hexagons-suppressed",
      type: "line",
      source: "hexagons",
      filter: SUPPRESSED_EXPRESSION,
      paint: { "line-color": SUPPRESSED_LINE, "line-width": 1, "line-dasharray": [2, 1.5], "line-opacity": 0.8 },
    },
    {
      // Outline of the clicked cell; feature-state works in paint only, not in filters.
      id: "hexagons-selected",
      type: "line",
      source: "hexagons",
      paint: {
        "line-color": "#111111",
        "line-width": 2.5,
        "line-opacity": ["case", ["boolean", ["feature-state", "selected"], false], 1, 0],
      },
    },
    {
      id: "boundaries-line",
      type: "line",
      source: "boundaries",
      paint: { "line-color": COLOURS.boundaries, "line-width": 1.2, "line-dasharray": [3, 2] },
    },
    {
      id: "boundaries-lad-line",
      type: "line",
      source: "boundaries-lad",
      layout: { "line-join": "round" },
      paint: { "line-color": COLOURS.lad, "line-width": 3 },
    },
    {
      id: "routes-line",
      type: "line",
      source: "routes",
      layout: { "line-join": "round", "line-cap": "round" },
      paint: { "line-color": COLOURS.routes, "line-width": 1.6, "line-opacity": 0.8 },
    },
    { id: "stops-circle", type: "circle", source: "stops", paint: point(COLOURS.stops, radius(2, 5)) },
    {
      id: "services-circle",
      type: "circle",
      source: "services",
      paint: point([
        "match",
        ["get", "tier"],
        "universal", COLOURS.tiers.universal,
        "targeted", COLOURS.tiers.targeted,
        "specialist", COLOURS.tiers.specialist,
        "#999999",
      ]),
    },
    { id: "schools-circle", type: "circle", source: "schools", paint: point(COLOURS.schools) },
    { id: "places-circle", type: "circle", source: "places", paint: point(COLOURS.places) },
  ];
  // Everything starts hidden: App.applyVisibility shows what the caller may see.
  for (const layer of layers) {
    map.addLayer({ ...layer, layout: { ...layer.layout, visibility: "none" } });
  }
}

/** The map layer ids an entry of LAYERS switches. */
const layerIds = (entry) => [entry.id, ...(entry.alsoToggles ?? [])];

const isDay = (value) => typeof value === "string" && /^\d{4}-\d{2}-\d{2}$/.test(value);


// ---------------------------------------------------------------------------
// The application: one map, reconfigured for each caller (see Access below).

class App {
  constructor(map) {
    this.map = map;
    this.meta = null; // /api/v1/meta for the current caller; null while access changes
    this.layers = new Set(); // names from caller.layers: what we may request and offer
    this.resMin = RES_LIMITS[0];
    this.resMax = RES_LIMITS[1];
    this.state = { from: "", to: "", category: "", scheme: DEFAULT_SCHEME };
    this.visibility = new Map(LAYERS.map((l) => [l.id, l.visible])); // the user's layer choices
    this.generation = 0; // bumped on every change of access; stale results are dropped
    this.loadAbort = null; // aborts every request of the current generation
    this.hexTimer = 0;
    this.hexAbort = null;
    this.schemeAbort = null;
    this.boundaryCache = new Map(); // scheme -> FeatureCollection, for this generation
    this.hexShown = null; // { from, to, category, disclosure } of the hexagons on the map
    this.popup = new Popup({ closeButton: true, maxWidth: "300px" });
    this.selectedHex = null;
    this.hexLoads = 0; // successful hexagon loads in this generation
    this.started = false; // true once this generation's initial loads have settled
    this.onAuthRejected = null; // called when a data request answers 401 (token revoked)
  }

  permits(name) {
    return this.layers.has(name);
  }

  /** Once: sources and layers (all hidden and empty), control and map listeners. */
  init() {
    addSourcesAndLayers(this.map);
    this.bindControls();
    this.setUpPopups();
    this.map.on("moveend", () => this.scheduleHexagons());
  }

  // --- access changes ------------------------------------------------------

  /**
   * Before any change of access: stop every request, and clear every source,
   * popup, control and legend, so nothing loaded for one caller stays on show
   * for the next (e.g. place-level data after sign-out).
   */
  suspend() {
    this.generation += 1;
    clearTimeout(this.hexTimer);
    for (const controller of [this.hexAbort, this.schemeAbort, this.loadAbort]) controller?.abort();
    this.hexAbort = this.schemeAbort = this.loadAbort = null;
    this.closePopup();
    for (const id of ["hexagons", "boundaries", "boundaries-lad", ...FEATURE_SOURCES]) {
      this.map.getSource(id)?.setData(EMPTY);
    }
    this.boundaryCache.clear();
    this.meta = null;
    this.layers = new Set();
    this.hexShown = null;
    this.hexLoads = 0;
    this.started = false;
    window.__ready = false;
    window.__hexRendered = null;
    this.applyVisibility();
    this.disableControls();
    $("#layer-list").replaceChildren();
    $("#effective-window").textContent = "";
    renderHexLegend(rampBreaks([]));
    renderFeatureLegend(() => false);
    $("#legend-hex-title").hidden = true;
    $("#legend-hexagons").hidden = true;
    for (const key of ["hexagons", "boundaries", "boundaries-lad", "dates", ...FEATURE_SOURCES]) status.clear(key);
    status.setInfo("");
  }

  /** Show the map for a caller: `meta` from /api/v1/meta, `caller` normalised. */
  async configure(meta, caller) {
    const { map } = this;
    const generation = this.generation;
    this.meta = meta;
    this.layers = new Set(caller.layers);
    this.loadAbort = new AbortController();
    const [lo, hi] = RES_LIMITS;
    const resolutions = (meta.h3_resolutions ?? []).filter((r) => r >= lo && r <= hi);
    this.resMin = resolutions.length ? Math.min(...resolutions) : lo;
    this.resMax = resolutions.length ? Math.max(...resolutions) : hi;

    // Keep the camera near the study area (with some slack around it).
    const [minLon, minLat, maxLon, maxLat] = meta.bounds;
    map.setMaxBounds([
      [minLon - 1, minLat - 0.6],
      [maxLon + 1, maxLat + 0.6],
    ]);

    this.populateControls();
    this.applyVisibility();
    const hexagons = this.permits("hexagons");
    $("#legend-hex-title").hidden = !hexagons;
    $("#legend-hexagons").hidden = !hexagons;
    renderHexLegend(rampBreaks([])); // the suppression entry follows the first hexagon response
    this.setShown(true);
    renderFeatureLegend((name) => this.permits(name));

    const signal = this.loadAbort.signal;
    await Promise.all([
      this.loadHexagons(),
      this.loadLadBoundaries(signal),
      this.loadSchemeBoundaries(),
      ...FEATURE_SOURCES.filter((name) => this.permits(name)).map((name) => this.loadFeatures(name, signal)),
    ]);
    if (generation !== this.generation) return;
    if (!hexagons) status.setInfo("");
    this.started = true;
    this.markReadyWhenIdle();
  }

  /** Show or hide the controls and the legend (hidden when the role has no map access). */
  setShown(shown) {
    $("#controls").hidden = !shown;
    $(".legend").hidden = !shown;
  }

  /** Each layer is visible when the caller may see it and the user has it switched on. */
  applyVisibility() {
    for (const entry of LAYERS) {
      const visible = this.permits(entry.data) && this.visibility.get(entry.id);
      for (const id of layerIds(entry)) {
        if (this.map.getLayer(id)) this.map.setLayoutProperty(id, "visibility", visible ? "visible" : "none");
      }
    }
  }

  // --- controls ------------------------------------------------------------

  /** Once: listeners on the controls that stay in the page. */
  bindControls() {
    for (const input of [$("#date-from"), $("#date-to")]) {
      input.addEventListener("change", () => this.onDatesChanged());
    }
    for (const button of document.querySelectorAll("[data-preset]")) {
      button.addEventListener("click", () => this.applyPreset(button.dataset.preset));
    }
    const category = $("#category");
    category.addEventListener("change", () => {
      this.state.category = category.value;
      this.scheduleHexagons(0);
    });
    const scheme = $("#scheme");
    scheme.addEventListener("change", () => {
      this.state.scheme = scheme.value;
      void this.loadSchemeBoundaries();
    });
    // The controls sit in a <form>: pressing Enter in a field must not reload the page.
    $("#controls").addEventListener("submit", (event) => event.preventDefault());
  }

  disableControls() {
    for (const control of document.querySelectorAll("#controls input, #controls select, #controls button")) {
      control.disabled = true;
    }
  }

  /** Fill the controls from meta, keeping the user's choices where they still apply. */
  populateControls() {
    const { meta, state } = this;
    const hexagons = this.permits("hexagons");

    const from = $("#date-from");
    const to = $("#date-to");
    for (const input of [from, to]) {
      input.min = meta.data_from;
      input.max = meta.data_to;
      input.disabled = !hexagons;
    }
    $("#data-range").textContent =
      isDay(meta.data_from) && isDay(meta.data_to)
        ? `Data from ${humanDay(meta.data_from)} to ${humanDay(meta.data_to)}.`
        : "";
    for (const button of document.querySelectorAll("[data-preset]")) button.disabled = !hexagons;
    const inRange = (day) => isDay(day) && day >= meta.data_from && day <= meta.data_to;
    if (inRange(state.from) && inRange(state.to) && state.from <= state.to) {
      this.setWindow(state.from, state.to);
    } else {
      const initial = this.presetWindow("90d");
      this.setWindow(initial.from, initial.to);
    }

    const category = $("#category");
    const all = el("option", { text: "All categories" });
    all.value = "";
    const options = [all];
    for (const { slug, label } of meta.categories ?? []) {
      const option = el("option", { text: label });
      option.value = slug;
      options.push(option);
    }
    category.replaceChildren(...options);
    if (!(meta.categories ?? []).some((c) => c.slug === state.category)) state.category = "";
    category.value = state.category;
    category.disabled = !hexagons;

    const scheme = $("#scheme");
    const schemes = meta.schemes?.length ? meta.schemes : [DEFAULT_SCHEME];
    if (!schemes.includes(state.scheme)) state.scheme = schemes.includes(DEFAULT_SCHEME) ? DEFAULT_SCHEME : schemes[0];
    scheme.replaceChildren(
      ...schemes.map((s) => {
        const option = el("option", { text: SCHEME_LABELS[s] ?? s });
        option.value = s;
        return option;
      }),
    );
    scheme.value = state.scheme;
    scheme.disabled = !this.permits("boundaries");

    // Offer only the layers this caller may see.
    const items = LAYERS.filter((layer) => this.permits(layer.data)).map((layer) => {
      const item = el("li");
      const checkbox = el("input");
      checkbox.type = "checkbox";
      checkbox.id = `toggle-${layer.id}`;
      checkbox.checked = this.visibility.get(layer.id);
      checkbox.addEventListener("change", () => {
        this.visibility.set(layer.id, checkbox.checked);
        this.applyVisibility();
        if (!checkbox.checked && layer.id === "hexagons-fill") this.closePopup();
      });
      const label = el("label", { text: layer.label });
      label.htmlFor = checkbox.id;
      item.append(checkbox, label);
      return item;
    });
    $("#layer-list").replaceChildren(...items);
  }

  presetWindow(preset) {
    const { data_from: first, data_to: last } = this.meta;
    switch (preset) {
      case "90d":
        return { from: maxDay(first, addDays(last, -89)), to: last };
      case "12m":
        return { from: maxDay(first, addDays(addMonths(last, -12), 1)), to: last };
      default:
        return { from: first, to: last };
    }
  }

  applyPreset(preset) {
    if (!this.meta) return;
    const { from, to } = this.presetWindow(preset);
    this.setWindow(from, to);
    this.scheduleHexagons(0);
  }

  /** Set the time window in state and in the inputs, keeping from <= to. */
  setWindow(from, to) {
    Object.assign(this.state, { from, to });
    const fromInput = $("#date-from");
    const toInput = $("#date-to");
    fromInput.value = from;
    toInput.value = to;
    fromInput.max = to;
    toInput.min = from;
    for (const button of document.querySelectorAll("[data-preset]")) {
      const p = this.presetWindow(button.dataset.preset);
      button.setAttribute("aria-pressed", String(p.from === from && p.to === to));
    }
  }

  onDatesChanged() {
    if (!this.meta) return;
    const { data_from: first, data_to: last } = this.meta;
    const from = $("#date-from").value;
    const to = $("#date-to").value;
    if (!from || !to) {
      status.error("dates", "Enter both a from date and a to date.");
      return;
    }
    if (from > to) {
      status.error("dates", "The from date must be on or before the to date.");
      return;
    }
    status.clear("dates");
    // Clamp to the data range (typed dates can fall outside min/max).
    const clampDay = (day) => (day < first ? first : day > last ? last : day);
    this.setWindow(clampDay(from), clampDay(to));
    this.scheduleHexagons();
  }

  // --- data loading --------------------------------------------------------

  /** Query for the hexagons in view, or null when the view misses the data. */
  hexParams() {
    const { map, meta, state } = this;
    const res = clamp(Math.floor((2 * map.getZoom()) / 3) + 2, this.resMin, this.resMax);
    const view = map.getBounds();
    const [minLon, minLat, maxLon, maxLat] = meta.bounds;
    // Round outwards to 4 decimals (about 10 m), then clamp to the data bounds.
    const down = (v) => Math.floor(v * 1e4) / 1e4;
    const up = (v) => Math.ceil(v * 1e4) / 1e4;
    const bbox = [
      Math.max(down(view.getWest()), minLon),
      Math.max(down(view.getSouth()), minLat),
      Math.min(up(view.getEast()), maxLon),
      Math.min(up(view.getNorth()), maxLat),
    ];
    if (bbox[0] >= bbox[2] || bbox[1] >= bbox[3]) return null;
    const params = new URLSearchParams({ res: String(res), bbox: bbox.join(","), from: state.from, to: state.to });
    if (state.category) params.set("category", state.category);
    return params;
  }

  /** Debounced reload: one request per burst of map moves or control changes. */
  scheduleHexagons(delay = 150) {
    clearTimeout(this.hexTimer);
    if (!this.meta || !this.permits("hexagons")) return;
    this.hexTimer = setTimeout(() => void this.loadHexagons(), delay);
  }

  async loadHexagons() {
    if (!this.meta || !this.permits("hexagons")) return;
    const generation = this.generation;
    this.hexAbort?.abort(); // only the newest request may update the map
    const controller = (this.hexAbort = new AbortController());
    const source = this.map.getSource("hexagons");
    const params = this.hexParams();
    if (!params) {
      source.setData(EMPTY);
      status.setInfo("The map view is outside the data area.");
      return;
    }
    const query = params.toString();
    try {
      const collection = await getJSON(`${API}/hexagons`, params, controller.signal);
      if (controller.signal.aborted || generation !== this.generation) return;
      this.showHexagons(collection, params);
      this.hexLoads += 1;
      this.map.once("idle", () => {
        if (generation === this.generation) window.__hexRendered = query;
      });
      this.markReadyWhenIdle();
    } catch (err) {
      if (controller.signal.aborted || generation !== this.generation) return;
      status.setInfo(""); // the previous summary no longer matches the controls
      status.error("hexagons", `Could not load hexagons: ${err.message}`);
      this.authRejected(err);
    }
  }

  /** Draw a hexagon collection; suppressed cells (null counts) stay out of the ramp. */
  showHexagons(collection, params) {
    const features = Array.isArray(collection.features) ? collection.features : [];
    const counts = features.map((f) => f.properties?.count).filter(isCount);
    const suppressed = features.filter((f) => f.properties?.suppressed === true).length;
    // The response says whether disclosure control applied (S21).
    const disclosure = collection.disclosure?.controlled === true ? collection.disclosure : null;
    const floor = disclosure && isCount(disclosure.min_count) && disclosure.min_count >= 1 ? disclosure.min_count : 1;
    const breaks = rampBreaks(counts, floor);
    this.map.setPaintProperty("hexagons-fill", "fill-color", hexColourExpression(breaks));
    renderHexLegend(breaks, disclosure);
    this.closePopup(); // the clicked cell's count may no longer be current

    // The window actually counted: under disclosure control, whole months.
    const q = collection.query ?? {};
    const from = isDay(q.from) ? q.from : this.state.from;
    const to = isDay(q.to) ? q.to : this.state.to;
    const { category } = this.state;
    this.hexShown = { from, to, category, disclosure };
    $("#effective-window").textContent = disclosure
      ? `Shown: ${humanDay(from)} – ${humanDay(to)} (${disclosure.time ?? "whole months"})`
      : "";

    this.map.getSource("hexagons").setData(collection);
    status.clear("hexagons");
    const total = counts.reduce((a, b) => a + b, 0);
    const label = category ? this.categoryLabel(category) : "all categories";
    const cells = numberFormat.format(features.length);
    const span = `H3 resolution ${params.get("res")}, ${humanDay(from)} – ${humanDay(to)}`;
    if (disclosure) {
      status.setInfo(
        `About ${numberFormat.format(total)} incidents (${label}; rounded counts) in ${cells} hexagons, ` +
          `${numberFormat.format(suppressed)} suppressed, at ${span}.`,
      );
    } else {
      status.setInfo(`${numberFormat.format(total)} incidents (${label}) in ${cells} hexagons at ${span}.`);
    }
  }

  categoryLabel(slug) {
    return this.meta?.categories?.find((c) => c.slug === slug)?.label ?? slug;
  }

  /** A 401 on a data request while signed in: the token stopped working. */
  authRejected(err) {
    if (err?.status === 401 && session.token) this.onAuthRejected?.();
  }

  async loadBoundaries(scheme, signal) {
    let collection = this.boundaryCache.get(scheme);
    if (!collection) {
      collection = await getJSON(`${API}/boundaries`, new URLSearchParams({ scheme }), signal);
      if (signal?.aborted) throw new DOMException("aborted", "AbortError");
      this.boundaryCache.set(scheme, collection);
    }
    return collection;
  }

  async loadLadBoundaries(signal) {
    if (!this.permits("boundaries")) return;
    const generation = this.generation;
    try {
      const collection = await this.loadBoundaries("lad", signal);
      if (generation !== this.generation) return;
      this.map.getSource("boundaries-lad").setData(collection);
      status.clear("boundaries-lad");
    } catch (err) {
      if (signal.aborted || generation !== this.generation) return;
      status.error("boundaries-lad", `Could not load local authority boundaries: ${err.message}`);
      this.authRejected(err);
    }
  }

  async loadSchemeBoundaries() {
    if (!this.meta || !this.permits("boundaries")) return;
    const generation = this.generation;
    this.schemeAbort?.abort();
    const controller = (this.schemeAbort = new AbortController());
    const { scheme } = this.state;
    const source = this.map.getSource("boundaries");
    // Local authorities are always drawn by the thicker lad layer.
    if (scheme === "lad") {
      source.setData(EMPTY);
      status.clear("boundaries");
      return;
    }
    try {
      const collection = await this.loadBoundaries(scheme, controller.signal);
      if (controller.signal.aborted || generation !== this.generation) return;
      source.setData(collection);
      status.clear("boundaries");
    } catch (err) {
      if (controller.signal.aborted || generation !== this.generation) return;
      status.error("boundaries", `Could not load ${SCHEME_LABELS[scheme] ?? scheme}: ${err.message}`);
      this.authRejected(err);
    }
  }

  async loadFeatures(name, signal) {
    if (!this.permits(name)) return; // never ask for what the role may not read
    const generation = this.generation;
    try {
      const collection = await getJSON(`${API}/${name}`, null, signal);
      if (signal.aborted || generation !== this.generation) return;
      this.map.getSource(name).setData(collection);
      status.clear(name);
    } catch (err) {
      if (signal.aborted || generation !== this.generation) return;
      status.error(name, `Could not load ${name}: ${err.message}`);
      this.authRejected(err);
    }
  }

  // --- popups --------------------------------------------------------------

  setUpPopups() {
    const { map } = this;
    const visible = (id) => map.getLayoutProperty(id, "visibility") !== "none";

    map.on("click", (event) => {
      const { x, y } = event.point;
      // Small points are hard to hit: use a box around the click for them,
      // but the exact point for hexagons.
      const near = map.queryRenderedFeatures(
        [
          [x - 4, y - 4],
          [x + 4, y + 4],
        ],
        { layers: CLICKABLE_FEATURES.filter(visible) },
      );
      const hex = visible("hexagons-fill") ? map.queryRenderedFeatures(event.point, { layers: ["hexagons-fill"] }) : [];
      const feature = near[0] ?? hex[0]; // topmost first
      if (!feature) {
        this.closePopup();
        return;
      }
      this.openPopup(feature, event.lngLat);
    });

    for (const id of [...CLICKABLE_FEATURES, "hexagons-fill"]) {
      map.on("mouseenter", id, () => (map.getCanvas().style.cursor = "pointer"));
      map.on("mouseleave", id, () => (map.getCanvas().style.cursor = ""));
    }
    this.popup.on("close", () => this.clearSelectedHex());
  }

  openPopup(feature, lngLat) {
    const spec = POPUPS[feature.layer.id];
    const props = feature.properties ?? {};
    const isHex = feature.layer.id === "hexagons-fill";
    const shown = this.hexShown;
    const content = el("div", { className: "popup" });
    content.append(el("h3", { text: spec.title }));
    const list = el("dl");
    for (const [key, label, format] of spec.fields) {
      let value = props[key];
      // A suppressed cell has no count (S21): say so rather than show nothing or 0.
      if (isHex && key === "count" && props.suppressed === true) {
        const min = shown?.disclosure?.min_count;
        value = isCount(min) ? `suppressed (fewer than ${numberFormat.format(min)})` : "suppressed";
      }
      if (value === undefined || value === null || value === "") continue;
      const text = format === "number" && typeof value === "number" ? numberFormat.format(value) : String(value);
      list.append(el("dt", { text: label }), el("dd", { text }));
    }
    if (isHex && shown) {
      list.append(
        el("dt", { text: "Period" }),
        el("dd", { text: `${humanDay(shown.from)} – ${humanDay(shown.to)}` }),
        el("dt", { text: "Category" }),
        el("dd", { text: shown.category ? this.categoryLabel(shown.category) : "All categories" }),
      );
      if (shown.disclosure && props.suppressed !== true && isCount(shown.disclosure.rounding)) {
        list.append(
          el("dt", { text: "Note" }),
          el("dd", { text: `Rounded to the nearest ${numberFormat.format(shown.disclosure.rounding)}` }),
        );
      }
    }
    content.append(list);

    this.clearSelectedHex();
    if (isHex && feature.id !== undefined) {
      this.selectedHex = feature.id; // the h3 string, thanks to promoteId
      this.map.setFeatureState({ source: "hexagons", id: feature.id }, { selected: true });
    }
    this.popup.setLngLat(lngLat).setDOMContent(content).addTo(this.map);
  }

  clearSelectedHex() {
    if (this.selectedHex === null) return;
    this.map.removeFeatureState({ source: "hexagons", id: this.selectedHex }, "selected");
    this.selectedHex = null;
  }

  closePopup() {
    if (this.popup.isOpen()) this.popup.remove();
    this.clearSelectedHex();
  }

  /**
   * Test hook: __ready becomes true at the first `idle` after this
   * generation's loads have settled and (when the caller may see them)
   * hexagons have loaded at least once. A failed hexagon load leaves it false
   * (and shows the error); a later successful reload can still complete it.
   */
  markReadyWhenIdle() {
    if (!this.started || window.__ready) return;
    if (this.permits("hexagons") && this.hexLoads === 0) return;
    const generation = this.generation;
    this.map.once("idle", () => {
      if (generation === this.generation) window.__ready = true;
    });
    this.map.triggerRepaint(); // make sure an idle event follows even if nothing changes
  }
}

// ---------------------------------------------------------------------------
// Access: the sign-in form, who the caller is, and what the map shows for it.

/** meta's `caller`, checked; without one, deny by default and treat the caller as public. */
function normaliseCaller(caller) {
  if (!caller || typeof caller !== "object") {
    return { role: "public", name: null, layers: PUBLIC_LAYERS, disclosure: "controlled" };
  }
  return {
    role: typeof caller.role === "string" ? caller.role : "public",
    name: typeof caller.name === "string" && caller.name ? caller.name : null,
    layers: Array.isArray(caller.layers) ? caller.layers.filter((l) => typeof l === "string") : [],
    disclosure: caller.disclosure === "exact" ? "exact" : "controlled",
  };
}

const CONTROLLED_NOTE = "counts are disclosure-controlled and shown by whole month";

class Access {
  constructor(app) {
    this.app = app;
    this.generation = 0;
  }

  bind() {
    $("#signin").addEventListener("submit", (event) => {
      event.preventDefault();
      void this.signIn($("#token").value);
    });
    $("#sign-out").addEventListener("click", () => void this.signOut());
    // Any interaction with the page restarts the idle clock (S15).
    for (const type of ACTIVITY_EVENTS) {
      document.addEventListener(type, () => session.touch(), { capture: true, passive: true });
    }
    // Background tabs throttle timers: check again when the tab comes back.
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") session.check();
    });
    session.onIdle = () => {
      status.clear("access");
      status.notice("access", `Signed out after ${IDLE_LOGOUT_MS / 60_000} minutes without activity.`);
      void this.refresh();
    };
    this.app.onAuthRejected = () => void this.refresh();
    window.__idleCheck = (now) => session.check(now);
    $("#token-hint").textContent =
      "Without a token you see the public view. " +
      `After ${IDLE_LOGOUT_MS / 60_000} minutes without activity you are signed out.`;
    for (const control of [$("#token"), $("#use-token")]) control.disabled = false;
  }

  async signIn(raw) {
    const token = raw.trim();
    status.clear("access");
    const input = $("#token");
    if (!token) {
      status.error("access", "Enter an access token, then choose “Use token”.");
      input.focus();
      return;
    }
    if (!TOKEN_PATTERN.test(token)) {
      status.error("access", "That is not an access token: it should be one line of letters and digits, without spaces.");
      input.focus();
      return;
    }
    input.value = ""; // the token lives in sessionStorage only, not in the page
    session.set(token);
    await this.refresh();
  }

  async signOut() {
    const wasSignedIn = Boolean(session.token);
    session.clear();
    status.clear("access");
    if (wasSignedIn) status.notice("access", "Signed out.");
    $("#token").focus(); // the Sign out button is about to be disabled
    await this.refresh();
  }

  /** Fetch meta for the current token and rebuild the map for that caller. */
  async refresh() {
    const generation = ++this.generation;
    window.__accessChanges = (window.__accessChanges ?? 0) + 1;
    this.app.suspend();
    window.__access = "loading";
    window.__caller = null;
    this.render(null);
    let meta;
    try {
      meta = await getJSON(`${API}/meta`);
    } catch (err) {
      if (generation !== this.generation) return;
      if (session.token && err.status === 401) {
        // The token was rejected (e.g. INVALID_TOKEN): fall back to the public view.
        session.clear();
        status.clear("access");
        status.error("access", `The access token was not accepted (${err.code ?? "HTTP 401"}). Showing the public view.`);
        await this.refresh();
        return;
      }
      if (session.token && err.status === 403) {
        this.showNoAccess(err.code);
        return;
      }
      this.render(null, "");
      status.error("meta", `Could not load the map settings: ${err.message}`);
      return;
    }
    if (generation !== this.generation) return;
    status.clear("meta");
    const caller = normaliseCaller(meta.caller);
    if (caller.layers.length === 0) {
      this.showNoAccess(null, caller);
      return;
    }
    window.__caller = caller;
    window.__access = "ok";
    this.render(caller);
    await this.app.configure(meta, caller);
  }

  /** The token is valid but its role may not use the map (e.g. auditor, admin). */
  showNoAccess(code, caller = null) {
    window.__access = "denied";
    window.__caller = null;
    this.app.setShown(false);
    const who = caller?.name ? `Signed in as ${caller.name} (${caller.role})` : "Signed in";
    this.render(null, `${who}, with a role that has no map access.`);
    status.setInfo("");
    status.clear("access");
    status.error(
      "access",
      `This role has no map access${code ? ` (${code})` : ""}, so the map shows no data. ` +
        "Use “Sign out” to return to the public view.",
    );
  }

  /** Identity line and the sign-out button; `caller` null while loading or refused. */
  render(caller, identity) {
    $("#sign-out").disabled = !session.token;
    let text = identity;
    if (text === undefined) {
      if (!caller) text = "Checking access…";
      else if (caller.role === "public") text = `Public view — ${CONTROLLED_NOTE}`;
      else {
        text = `Signed in as ${caller.name ?? "an unnamed user"} (${caller.role})`;
        if (caller.disclosure === "controlled") text += ` — ${CONTROLLED_NOTE}`;
      }
    }
    status.setIdentity(text);
  }
}

async function main() {
  window.__errors = [];
  window.__ready = false;
  window.__access = "loading";
  window.__caller = null;
  session.restore();
  status.render();

  let map;
  try {
    map = new MapLibreMap({
      container: "map",
      style: {
        version: 8,
        sources: {},
        layers: [{ id: "background", type: "background", paint: { "background-color": "#f3f1ec" } }],
      },
      ...INITIAL_VIEW,
      minZoom: 7,
      maxZoom: 16,
      dragRotate: false,
      pitchWithRotate: false,
      attributionControl: false,
    });
  } catch (err) {
    // MapLibre v6 throws here without WebGL2.
    status.setInfo("");
    status.error("map", `The map could not start (${err.message}). It needs a browser with WebGL2.`);
    return;
  }
  window.__map = map;
  map.touchZoomRotate.disableRotation();
  map.on("error", (event) => {
    const message = String(event.error?.message ?? event.error ?? "unknown map error");
    window.__errors.push(message);
    status.error("map", `Map error: ${message}`);
  });
  map.addControl(new NavigationControl({ showCompass: false }), "top-right");
  // Bottom-right controls stack upwards in the order added: scale above attribution.
  map.addControl(new AttributionControl({ compact: false, customAttribution: ATTRIBUTION }), "bottom-right");
  map.addControl(new ScaleControl({ unit: "metric" }), "bottom-right");

  await new Promise((resolve) => map.once("load", resolve));
  const app = new App(map);
  app.init();
  const access = new Access(app);
  access.bind();
  await access.refresh();
}

void main();
