// saferplaces map front end.
//
// Plain ES module, no framework, no bundler. MapLibre GL JS v6 is imported
// unbundled from ./vendor/, so it finds its worker (vendor/maplibre-gl-worker.mjs)
// relative to its own URL and no setWorkerUrl call is needed.
//
// Every request goes to our own origin: the style has a plain background, no
// basemap tiles, no glyphs and no sprites, so there are no symbol layers.
//
// Hooks for the browser test (web/test/map.test.mjs):
//   window.__map          the maplibregl Map
//   window.__ready        true from the first `idle` after all initial data
//                         (hexagons included) has been loaded
//   window.__errors       map `error` events, as strings
//   window.__hexRendered  query string of the hexagon request whose data the
//                         map last finished rendering (the map was idle after it)
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
// "Nice" class breaks; the ramp uses 1 plus five consecutive values (see rampBreaks).
const NICE_BREAKS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5];

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
// reverse order, see addSourcesAndLayers). `visible` is the initial state.
const LAYERS = [
  { id: "places-circle", label: "Places of concern", visible: true },
  { id: "schools-circle", label: "Schools", visible: true },
  { id: "services-circle", label: "Services", visible: true },
  { id: "stops-circle", label: "Stops", visible: false },
  { id: "routes-line", label: "Routes", visible: true },
  { id: "boundaries-lad-line", label: "Authorities", visible: true },
  { id: "boundaries-line", label: "Boundaries", visible: true },
  { id: "hexagons-fill", label: "Incidents", visible: true, alsoToggles: ["hexagons-selected"] },
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
const CLICKABLE_FEATURES = ["places-circle", "schools-circle", "services-circle", "stops-circle", "routes-line"];

const EMPTY = { type: "FeatureCollection", features: [] };

// ---------------------------------------------------------------------------
// Small helpers

const $ = (selector) => document.querySelector(selector);
const numberFormat = new Intl.NumberFormat("en-GB");
const dateFormat = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });

const clamp = (value, lo, hi) => Math.min(hi, Math.max(lo, value));

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

/** GET a JSON document from our API; errors carry a readable message. */
async function getJSON(path, params, signal) {
  const url = params ? `${path}?${params}` : path;
  let response;
  try {
    response = await fetch(url, { signal, headers: { Accept: "application/json" } });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new Error(`${path}: ${err.message}`);
  }
  if (!response.ok) {
    // The API answers 4xx with {"error": ..., "field": ...}.
    let detail = "";
    try {
      const body = await response.json();
      detail = [body.error, body.field && `field ${body.field}`].filter(Boolean).join(", ");
    } catch {
      // not JSON: the status line is all we have
    }
    throw new Error(`${path}: HTTP ${response.status}${detail ? ` (${detail})` : ""}`);
  }
  return response.json();
}

// ---------------------------------------------------------------------------
// Status line (role="status"): one info message, plus any current errors.

const status = {
  info: "Loading…",
  errors: new Map(), // key -> message, so a later success can clear it

  setInfo(text) {
    this.info = text;
    this.render();
  },
  error(key, message) {
    this.errors.set(key, message);
    this.render();
  },
  clear(key) {
    if (this.errors.delete(key)) this.render();
  },
  render() {
    const node = $("#status");
    node.replaceChildren(
      ...[...this.errors.values()].map((message) => el("span", { className: "status-error", text: message })),
      ...(this.info ? [el("span", { text: this.info })] : []),
    );
    node.classList.toggle("has-error", this.errors.size > 0);
  },
};

// ---------------------------------------------------------------------------
// Hexagon colour ramp

/**
 * Class breaks for the current counts: always starting at 1, then five
 * consecutive "nice" values whose top is the largest nice value not above the
 * 95th percentile (so a few extreme cells don't wash out the rest). Breaks
 * follow the data in view, and the legend is redrawn to match.
 */
function rampBreaks(counts) {
  const sorted = counts.filter((c) => c > 0).sort((a, b) => a - b);
  const p95 = sorted.length ? sorted[Math.floor(0.95 * (sorted.length - 1))] : 1;
  let top = 5; // index of the top break; at least [1, 2, 5, 10, 20, 50]
  while (top + 1 < NICE_BREAKS.length && NICE_BREAKS[top + 1] <= p95) top += 1;
  return [1, ...NICE_BREAKS.slice(top - 4, top + 1)];
}

/** A `step` expression: counts below the first break (0) are transparent. */
function hexColourExpression(breaks) {
  const expression = ["step", ["coalesce", ["get", "count"], 0], "rgba(0, 0, 0, 0)"];
  breaks.forEach((b, i) => expression.push(b, HEX_COLOURS[i]));
  return expression;
}

/**
 * The ramp as a row of swatches labelled with each class's lower bound; the
 * full range ("5–9", "50 or more") is there for screen readers.
 */
function renderHexLegend(breaks) {
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
}

function legendItem(swatchClass, colour, label) {
  const item = el("li");
  const swatch = el("span", { className: `swatch ${swatchClass}` });
  swatch.style.setProperty("--swatch", colour); // colours come from our constants, not data
  swatch.setAttribute("aria-hidden", "true");
  item.append(swatch, el("span", { text: label }));
  return item;
}

function renderFeatureLegend() {
  $("#legend-features").replaceChildren(
    legendItem("swatch-circle", COLOURS.places, "Place of concern"),
    legendItem("swatch-circle", COLOURS.schools, "School"),
    legendItem("swatch-circle", COLOURS.tiers.universal, "Service: universal"),
    legendItem("swatch-circle", COLOURS.tiers.targeted, "Service: targeted"),
    legendItem("swatch-circle", COLOURS.tiers.specialist, "Service: specialist"),
    legendItem("swatch-circle swatch-small", COLOURS.stops, "Stop"),
    legendItem("swatch-line", COLOURS.routes, "Transport route"),
    legendItem("swatch-line swatch-thick", COLOURS.lad, "Local authority boundary"),
    legendItem("swatch-line", COLOURS.boundaries, "Selected boundaries"),
  );
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
        "fill-opacity": ["case", ["boolean", ["feature-state", "selected"], false], 0.95, 0.7],
        "fill-outline-color": "rgba(120, 60, 0, 0.25)",
      },
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
  for (const layer of layers) {
    const entry = LAYERS.find((l) => l.id === layer.id || l.alsoToggles?.includes(layer.id));
    const visible = entry?.visible ?? true;
    map.addLayer({ ...layer, layout: { ...layer.layout, visibility: visible ? "visible" : "none" } });
  }
}

// ---------------------------------------------------------------------------
// The application

class App {
  constructor(map, meta) {
    this.map = map;
    this.meta = meta;
    const [lo, hi] = RES_LIMITS;
    const resolutions = (meta.h3_resolutions ?? []).filter((r) => r >= lo && r <= hi);
    this.resMin = resolutions.length ? Math.min(...resolutions) : lo;
    this.resMax = resolutions.length ? Math.max(...resolutions) : hi;
    this.state = { from: "", to: "", category: "", scheme: DEFAULT_SCHEME };
    this.hexTimer = 0;
    this.hexAbort = null;
    this.schemeAbort = null;
    this.boundaryCache = new Map(); // scheme -> FeatureCollection
    this.popup = new Popup({ closeButton: true, maxWidth: "300px" });
    this.selectedHex = null;
    this.hexLoads = 0; // successful hexagon loads so far
    this.started = false; // true once the initial loads have settled
  }

  // --- controls ------------------------------------------------------------

  setUpControls() {
    const { meta, state } = this;
    const from = $("#date-from");
    const to = $("#date-to");
    for (const input of [from, to]) {
      input.min = meta.data_from;
      input.max = meta.data_to;
      input.disabled = false;
      input.addEventListener("change", () => this.onDatesChanged());
    }
    $("#data-range").textContent = `Data from ${humanDay(meta.data_from)} to ${humanDay(meta.data_to)}.`;

    for (const button of document.querySelectorAll("[data-preset]")) {
      button.disabled = false;
      button.addEventListener("click", () => this.applyPreset(button.dataset.preset));
    }
    const initial = this.presetWindow("90d");
    this.setWindow(initial.from, initial.to);

    const category = $("#category");
    for (const { slug, label } of meta.categories ?? []) {
      const option = el("option", { text: label });
      option.value = slug;
      category.append(option);
    }
    category.disabled = false;
    category.addEventListener("change", () => {
      state.category = category.value;
      this.scheduleHexagons(0);
    });

    const scheme = $("#scheme");
    const schemes = meta.schemes?.length ? meta.schemes : [DEFAULT_SCHEME];
    if (!schemes.includes(state.scheme)) state.scheme = schemes[0];
    for (const s of schemes) {
      const option = el("option", { text: SCHEME_LABELS[s] ?? s });
      option.value = s;
      scheme.append(option);
    }
    scheme.value = state.scheme;
    scheme.disabled = false;
    scheme.addEventListener("change", () => {
      state.scheme = scheme.value;
      void this.loadSchemeBoundaries();
    });

    const list = $("#layer-list");
    for (const layer of LAYERS) {
      const item = el("li");
      const checkbox = el("input");
      checkbox.type = "checkbox";
      checkbox.id = `toggle-${layer.id}`;
      checkbox.checked = layer.visible;
      checkbox.addEventListener("change", () => {
        for (const id of [layer.id, ...(layer.alsoToggles ?? [])]) {
          this.map.setLayoutProperty(id, "visibility", checkbox.checked ? "visible" : "none");
        }
        if (!checkbox.checked && layer.id === "hexagons-fill") this.closePopup();
      });
      const label = el("label", { text: layer.label });
      label.htmlFor = checkbox.id;
      item.append(checkbox, label);
      list.append(item);
    }

    // The controls sit in a <form>: pressing Enter in a field must not reload the page.
    $("#controls").addEventListener("submit", (event) => event.preventDefault());
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
    this.hexTimer = setTimeout(() => void this.loadHexagons(), delay);
  }

  async loadHexagons() {
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
      if (controller.signal.aborted) return;
      const counts = collection.features.map((f) => Number(f.properties?.count) || 0);
      const breaks = rampBreaks(counts);
      this.map.setPaintProperty("hexagons-fill", "fill-color", hexColourExpression(breaks));
      renderHexLegend(breaks);
      this.closePopup(); // the clicked cell's count may no longer be current
      source.setData(collection);
      status.clear("hexagons");
      const total = counts.reduce((a, b) => a + b, 0);
      const { from, to, category } = this.state;
      const label = category ? this.categoryLabel(category) : "all categories";
      status.setInfo(
        `${numberFormat.format(total)} incidents (${label}) in ${numberFormat.format(counts.length)} ` +
          `hexagons at H3 resolution ${params.get("res")}, ${humanDay(from)} – ${humanDay(to)}.`,
      );
      this.hexLoads += 1;
      this.map.once("idle", () => {
        window.__hexRendered = query;
      });
      this.markReadyWhenIdle();
    } catch (err) {
      if (controller.signal.aborted) return;
      status.setInfo(""); // the previous summary no longer matches the controls
      status.error("hexagons", `Could not load hexagons: ${err.message}`);
    }
  }

  categoryLabel(slug) {
    return this.meta.categories?.find((c) => c.slug === slug)?.label ?? slug;
  }

  async loadBoundaries(scheme, signal) {
    let collection = this.boundaryCache.get(scheme);
    if (!collection) {
      collection = await getJSON(`${API}/boundaries`, new URLSearchParams({ scheme }), signal);
      this.boundaryCache.set(scheme, collection);
    }
    return collection;
  }

  async loadLadBoundaries() {
    try {
      this.map.getSource("boundaries-lad").setData(await this.loadBoundaries("lad"));
      status.clear("boundaries-lad");
    } catch (err) {
      status.error("boundaries-lad", `Could not load local authority boundaries: ${err.message}`);
    }
  }

  async loadSchemeBoundaries() {
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
      if (controller.signal.aborted) return;
      source.setData(collection);
      status.clear("boundaries");
    } catch (err) {
      if (controller.signal.aborted) return;
      status.error("boundaries", `Could not load ${SCHEME_LABELS[scheme] ?? scheme}: ${err.message}`);
    }
  }

  async loadFeatures(name) {
    try {
      this.map.getSource(name).setData(await getJSON(`${API}/${name}`));
      status.clear(name);
    } catch (err) {
      status.error(name, `Could not load ${name}: ${err.message}`);
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
    const content = el("div", { className: "popup" });
    content.append(el("h3", { text: spec.title }));
    const list = el("dl");
    for (const [key, label, format] of spec.fields) {
      const value = props[key];
      if (value === undefined || value === null || value === "") continue;
      const text = format === "number" && typeof value === "number" ? numberFormat.format(value) : String(value);
      list.append(el("dt", { text: label }), el("dd", { text }));
    }
    if (feature.layer.id === "hexagons-fill") {
      const { from, to, category } = this.state;
      list.append(
        el("dt", { text: "Period" }),
        el("dd", { text: `${humanDay(from)} – ${humanDay(to)}` }),
        el("dt", { text: "Category" }),
        el("dd", { text: category ? this.categoryLabel(category) : "All categories" }),
      );
    }
    content.append(list);

    this.clearSelectedHex();
    if (feature.layer.id === "hexagons-fill" && feature.id !== undefined) {
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

  // --- start ---------------------------------------------------------------

  async start() {
    const { map, meta } = this;
    // Keep the camera near the study area (with some slack around it).
    const [minLon, minLat, maxLon, maxLat] = meta.bounds;
    map.setMaxBounds([
      [minLon - 1, minLat - 0.6],
      [maxLon + 1, maxLat + 0.6],
    ]);

    addSourcesAndLayers(map);
    renderHexLegend(rampBreaks([]));
    renderFeatureLegend();
    this.setUpControls();
    this.setUpPopups();

    await Promise.all([
      this.loadHexagons(),
      this.loadLadBoundaries(),
      this.loadSchemeBoundaries(),
      ...FEATURE_SOURCES.map((name) => this.loadFeatures(name)),
    ]);
    map.on("moveend", () => this.scheduleHexagons());

    this.started = true;
    this.markReadyWhenIdle();
  }

  /**
   * Test hook: __ready becomes true at the first `idle` after the initial
   * loads have settled and hexagons have loaded at least once. A failed
   * hexagon load leaves it false (and shows the error); a later successful
   * reload can still complete it.
   */
  markReadyWhenIdle() {
    if (!this.started || this.hexLoads === 0 || window.__ready) return;
    this.map.once("idle", () => {
      window.__ready = true;
    });
    this.map.triggerRepaint(); // make sure an idle event follows even if nothing changes
  }
}

async function main() {
  window.__errors = [];
  window.__ready = false;
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

  let meta;
  try {
    [meta] = await Promise.all([getJSON(`${API}/meta`), new Promise((resolve) => map.once("load", resolve))]);
  } catch (err) {
    status.setInfo("");
    status.error("meta", `Could not load the map settings: ${err.message}`);
    return;
  }
  await new App(map, meta).start();
}

void main();
