// saferplaces map front end.
//
// Plain ES modules, no framework, no bundler. MapLibre GL JS v6 is imported
// unbundled from ./vendor/, so it finds its worker (vendor/maplibre-gl-worker.mjs)
// relative to its own URL and no setWorkerUrl call is needed.
//
// Every layer is a vector tile source of our own server (maps.md §1, §6):
// GET /api/v1/layers lists the layers the caller's role may see, each layer's
// TileJSON gives its tile URL, and only those layers are added to the style.
// Temporal layers (hexagons, incidents, crossborder) carry the time window
// (whole months, maps.md §5.4) and the category in their tile URLs; a change
// of window calls source.setTiles() so the tiles are fetched again.
//
// Access (safeguards.md S12, S15, S21): an optional bearer token, kept in
// sessionStorage only, goes with every /api/v1/ request and (through
// transformRequest) with our own /tiles/ requests. After sign-in, sign-out or
// the idle logout every source is removed and the map is rebuilt from a fresh
// /api/v1/meta and /api/v1/layers.
//
// The view (camera, layers, window, category, scheme, compared areas) is kept
// in the URL fragment (urlstate.js) and restored from it on load.
//
// Hooks for the browser test (web/test/map.test.mjs):
//   window.__map            the maplibregl Map
//   window.__ready          true from the first `idle` after the map has been
//                           built for the current caller; false while access changes
//   window.__access         "loading", "ok" or "denied" (the role has no map access)
//   window.__caller         `caller` from the last /api/v1/meta, with `tileLayers`
//                           (ids from /api/v1/layers), or null
//   window.__errors         map `error` events, as strings
//   window.__view           the current view state (as written to the URL)
//   window.__rendered       "<from>/<to>/<category>/<scheme>" of the window whose
//                           tiles the map last finished rendering (at `idle`)
//   window.__renderKey()    the same key for the view the controls show now
//   window.__compared       "<scheme>/<a>/<b>/<from>/<to>/<category>" of the
//                           comparison on show, or null
//   window.__mapRequests    every URL MapLibre requested (transformRequest)
//   window.__accessChanges  how many times access has been (re)loaded
//   window.__idleCheck(t)   run the idle-logout check as if the clock read t (ms)
import {
  AttributionControl,
  Map as MapLibreMap,
  NavigationControl,
  Popup,
  ScaleControl,
} from "./vendor/maplibre-gl.mjs";
import { areasOf, defaultPair, fillAreaSelect, renderComparison } from "./areas.js";
import {
  ACTIVITY_EVENTS,
  IDLE_LOGOUT_MS,
  TOKEN_PATTERN,
  getJSON,
  session,
  status,
  tileRequest,
} from "./session.js";
import {
  COLOURS,
  EMERGING_LABELS,
  KNOWN_LAYERS,
  LAYER_INFO,
  STYLE_LAYERS,
  hexColourExpression,
  layerOfSource,
  rampBreaks,
  renderFeatureLegend,
  renderHexLegend,
} from "./style.js";
import { formatHash, parseHash } from "./urlstate.js";
import {
  $,
  $$,
  clamp,
  el,
  firstDay,
  humanDay,
  humanMonth,
  isCount,
  isDay,
  lastDay,
  monthOf,
  monthRange,
  monthsBetween,
  numberFormat,
} from "./util.js";

// ---------------------------------------------------------------------------
// Configuration

const API = "/api/v1";

const ATTRIBUTION =
  "Contains public sector information licensed under the Open Government Licence v3.0. " +
  "Contains OS data © Crown copyright and database right. Synthetic demo data.";

// Central Bristol.
const INITIAL_VIEW = { center: [-2.59, 51.455], zoom: 11 };
const DEFAULT_SCHEME = "locality_social_care";
const SCHEME_LABELS = {
  lad: "Local authorities",
  ward: "Wards",
  lsoa: "LSOAs",
  msoa: "MSOAs",
  locality_police: "Police localities",
  locality_social_care: "Social care localities",
};

// Time window: whole months (maps.md §5.4: quantised so tile cache keys repeat).
const DEFAULT_SPAN = 3;
const SPANS = [1, 3, 6, 12];
// Play: at least this long on each month, and never before its tiles are drawn.
const PLAY_STEP_MS = 1200;
// Debounce for the month slider (dragging) and the URL.
const SLIDER_DEBOUNCE_MS = 150;
const URL_DEBOUNCE_MS = 250;

// Layers whose tiles take the window and category (as /api/v1/layers says; this is the fallback).
const TEMPORAL = new Set(["hexagons", "hotspots", "emerging", "risk", "incidents", "crossborder"]);
// The emerging layer looks back this many months from the window's end (a space-time cube
// needs a long series whatever the window's span).
const EMERGING_MONTHS = 36;

// A tile URL template must be one of ours (origin rewritten to the page's own).
const TEMPLATE = /^(?:[a-z]+:\/\/[^/?#]+)?(\/tiles\/([a-z_]+)\/\{z\}\/\{x\}\/\{y\})(?:\?([^#]*))?$/;

// Style layers whose features open a popup, the one that wins first.
const CLICKABLE = STYLE_LAYERS.filter((s) => s.click !== undefined).sort((a, b) => a.click - b.click);

// Hexagon disclosure details come from a one-cell /api/v1/hexagons probe (see probeDisclosure).
const PROBE_BBOX = "-2.5901,51.4549,-2.5899,51.4551";

// ---------------------------------------------------------------------------
// The application: one map, rebuilt for each caller (see Access below).

class App {
  constructor(map, wanted) {
    this.map = map;
    this.meta = null; // /api/v1/meta for the current caller; null while access changes
    this.layerDocs = new Map(); // id -> entry of /api/v1/layers, for this caller
    this.templates = new Map(); // id -> { path, query } of its tile URL
    this.disclosure = null; // {controlled, min_count, rounding} for aggregate roles, else null
    this.controlled = false;
    this.months = []; // every month with data, "YYYY-MM"
    this.span = DEFAULT_SPAN; // months in the window (fewer at the very start of the data)
    this.areasChosen = false; // the user (or the URL) chose the areas: no default pair
    // The user's view. `layers`: names switched on (may include layers the caller may not see).
    this.view = {
      from: null,
      to: null,
      category: "",
      scheme: DEFAULT_SCHEME,
      a: "",
      b: "",
      layers: new Set(KNOWN_LAYERS.filter((id) => LAYER_INFO[id].on)),
    };
    this.pending = wanted; // URL state to apply at the next configure
    this.generation = 0; // bumped on every change of access; stale results are dropped
    this.loadAbort = null; // aborts every request of the current generation
    this.compareAbort = null;
    this.areaLists = new Map(); // scheme -> [{code, name, youth}], this generation
    this.areaRequests = new Map(); // scheme -> Promise of the list
    this.popup = new Popup({ closeButton: true, maxWidth: "320px" });
    this.selected = null; // { source, id } of the feature with `selected` state
    this.playing = false;
    this.playTimer = 0;
    this.sliderTimer = 0;
    this.urlTimer = 0;
    this.breaks = rampBreaks([]);
    this.built = false; // sources and layers exist for this generation
    this.onAuthRejected = null; // called when a data request answers 401 (token revoked)
  }

  permits(name) {
    return this.layerDocs.has(name);
  }

  isOn(name) {
    return this.permits(name) && this.view.layers.has(name);
  }

  /** Once: control and map listeners. */
  init() {
    this.bindControls();
    this.setUpPopups();
    this.map.on("idle", () => this.afterIdle());
    window.__renderKey = () => this.renderedKey();
    this.map.on("moveend", () => this.writeUrlSoon());
    this.map.on("zoomend", () => this.renderZoomHints());
    window.addEventListener("hashchange", () => this.onHashChange());
    $(".skip-link").addEventListener("click", (event) => {
      event.preventDefault();
      this.map.getCanvas().focus();
    });
  }

  // --- access changes ------------------------------------------------------

  /**
   * Before any change of access: stop playing and every request, remove every
   * source and layer, and clear popups, controls and legend, so nothing
   * loaded for one caller stays on show for the next.
   */
  suspend() {
    this.generation += 1;
    this.stopPlaying();
    clearTimeout(this.sliderTimer);
    for (const controller of [this.compareAbort, this.loadAbort]) controller?.abort();
    this.compareAbort = this.loadAbort = null;
    this.closePopup();
    this.removeSourcesAndLayers();
    this.areaLists.clear();
    this.areaRequests.clear();
    this.meta = null;
    this.layerDocs = new Map();
    this.templates = new Map();
    this.disclosure = null;
    this.controlled = false;
    this.built = false;
    window.__ready = false;
    window.__rendered = null;
    window.__compared = null;
    this.disableControls();
    $("#layer-list").replaceChildren();
    $("#compare").replaceChildren();
    $("#effective-window").textContent = "";
    $("#window-label").textContent = "";
    this.breaks = rampBreaks([]);
    renderHexLegend(this.breaks, null);
    renderFeatureLegend(() => false);
    $("#legend-hex-title").hidden = true;
    $("#legend-hexagons").hidden = true;
    for (const key of ["tiles", "areas", "compare", "disclosure"]) status.clear(key);
    status.setInfo("");
  }

  removeSourcesAndLayers() {
    const { map } = this;
    for (const { layer } of STYLE_LAYERS) if (map.getLayer(layer.id)) map.removeLayer(layer.id);
    for (const source of new Set(STYLE_LAYERS.map((s) => s.source))) if (map.getSource(source)) map.removeSource(source);
  }

  /**
   * Show the map for a caller: `meta` from /api/v1/meta, `layers` from
   * /api/v1/layers, `caller` normalised.
   */
  async configure(meta, layers) {
    const { map } = this;
    const generation = this.generation;
    this.meta = meta;
    this.loadAbort = new AbortController();
    const signal = this.loadAbort.signal;
    this.controlled = layers.disclosure !== "exact";
    this.layerDocs = new Map(
      (Array.isArray(layers.layers) ? layers.layers : [])
        .filter((l) => l && KNOWN_LAYERS.includes(l.id))
        .map((l) => [l.id, l]),
    );
    this.months =
      isDay(meta.data_from) && isDay(meta.data_to) ? monthsBetween(monthOf(meta.data_from), monthOf(meta.data_to)) : [];

    // Keep the camera near the study area (with some slack around it).
    if (Array.isArray(meta.bounds) && meta.bounds.length === 4) {
      const [minLon, minLat, maxLon, maxLat] = meta.bounds;
      map.setMaxBounds([
        [minLon - 1, minLat - 0.6],
        [maxLon + 1, maxLat + 0.6],
      ]);
    }

    // Each layer's TileJSON: its tile URL (with the data version), zoom range and bounds.
    const tilejsons = await Promise.all(
      [...this.layerDocs.values()].map(async (doc) => {
        try {
          return [doc.id, await getJSON(typeof doc.tilejson === "string" ? doc.tilejson : `/tiles/${doc.id}.json`, null, signal)];
        } catch (err) {
          if (signal.aborted) throw err;
          status.error("tiles", `Could not load the ${doc.id} layer: ${err.message}`);
          this.authRejected(err);
          return [doc.id, null];
        }
      }),
    ).catch(() => null);
    if (!tilejsons || generation !== this.generation) return;
    for (const [id, tilejson] of tilejsons) {
      const template = tilejson && parseTemplate(tilejson.tiles?.[0], id);
      if (!template) {
        if (tilejson) status.error("tiles", `The ${id} layer has no usable tile URL; it is not shown.`);
        this.layerDocs.delete(id);
        continue;
      }
      this.templates.set(id, { ...template, tilejson });
    }

    this.applyWanted(this.pending);
    this.pending = null;
    this.populateControls();
    this.addSourcesAndLayers();
    this.built = true;
    this.applyVisibility();
    this.renderWindow();
    $("#legend-hex-title").hidden = !this.permits("hexagons");
    $("#legend-hexagons").hidden = !this.permits("hexagons");
    renderHexLegend(this.breaks, this.controlled ? { controlled: true } : null);
    this.setShown(true);
    this.writeUrlSoon();

    await Promise.all([this.probeDisclosure(), this.loadAreas()]);
    if (generation !== this.generation) return;
    this.markReadyWhenIdle();
  }

  /** Show or hide the controls and the legend (hidden when the role has no map access). */
  setShown(shown) {
    $("#controls").hidden = !shown;
    $(".legend").hidden = !shown;
  }

  /**
   * Merge URL state into the view, keeping only what this caller may see:
   * months with data, known categories and schemes. Areas are checked once
   * the scheme's list has loaded.
   */
  applyWanted(wanted) {
    const { view, meta, months } = this;
    if (wanted) {
      if (wanted.layers) view.layers = new Set(wanted.layers.filter((id) => KNOWN_LAYERS.includes(id)));
      if (wanted.from && wanted.to) Object.assign(view, { from: wanted.from, to: wanted.to });
      if (wanted.category !== undefined) view.category = wanted.category;
      if (wanted.scheme) view.scheme = wanted.scheme;
      if (wanted.a !== undefined) view.a = wanted.a;
      if (wanted.b !== undefined) view.b = wanted.b;
      if (wanted.a !== undefined || wanted.b !== undefined) this.areasChosen = true;
    }
    // Window: inside the data's months, else the last DEFAULT_SPAN months.
    if (months.length) {
      const last = months.length - 1;
      let end = months.indexOf(view.to);
      let start = months.indexOf(view.from);
      if (end < 0 && view.to > months[last]) end = last;
      if (start < 0 && view.from && view.from < months[0]) start = 0;
      if (end < 0 || start < 0 || start > end) {
        end = last;
        start = Math.max(0, last - DEFAULT_SPAN + 1);
      }
      this.span = end - start + 1;
      view.from = months[start];
      view.to = months[end];
    } else {
      view.from = view.to = null;
    }
    if (!(meta.categories ?? []).some((c) => c.slug === view.category)) view.category = "";
    const schemes = this.schemes();
    if (!schemes.includes(view.scheme)) view.scheme = schemes.includes(DEFAULT_SCHEME) ? DEFAULT_SCHEME : schemes[0];
  }

  schemes() {
    return Array.isArray(this.meta?.schemes) && this.meta.schemes.length ? this.meta.schemes : [DEFAULT_SCHEME];
  }

  /** A shared URL opened in this tab (or the fragment edited): apply it as on load. */
  onHashChange() {
    if (formatHash(this.viewForUrl()) === window.location.hash) return;
    const wanted = parseHash(window.location.hash);
    if (wanted.center) this.map.jumpTo({ center: wanted.center, zoom: wanted.zoom });
    if (!this.meta || !this.built) {
      this.pending = wanted;
      return;
    }
    this.stopPlaying();
    const before = { ...this.view };
    this.applyWanted(wanted);
    this.populateControls();
    this.applyVisibility();
    if (before.scheme !== this.view.scheme) this.setBoundaryTiles();
    this.onWindowChanged();
    void this.probeDisclosure();
    void this.loadAreas();
  }

  // --- sources and layers --------------------------------------------------

  /** The tile URL of `name` (or "boundaries-lad") for the current view, on our own origin. */
  tileUrl(source) {
    const name = layerOfSource(source);
    const template = this.templates.get(name);
    const query = new URLSearchParams(template.query);
    for (const key of ["from", "to", "category", "scheme"]) query.delete(key);
    if (this.isTemporal(name) && this.view.from && this.view.to) {
      const end = this.months.indexOf(this.view.to);
      const from = name === "emerging" && end >= 0 ? this.months[Math.max(0, end - EMERGING_MONTHS + 1)] : this.view.from;
      query.set("from", firstDay(from));
      query.set("to", lastDay(this.view.to));
      if (this.view.category) query.set("category", this.view.category);
    }
    if (name === "boundaries") query.set("scheme", source === "boundaries-lad" ? "lad" : this.view.scheme);
    return `${window.location.origin}${template.path}?${query}`;
  }

  isTemporal(name) {
    const doc = this.layerDocs.get(name);
    return typeof doc?.temporal === "boolean" ? doc.temporal : TEMPORAL.has(name);
  }

  addSourcesAndLayers() {
    const { map } = this;
    const sources = new Set();
    for (const { source } of STYLE_LAYERS) {
      const name = layerOfSource(source);
      if (sources.has(source) || !this.permits(name)) continue;
      sources.add(source);
      const { tilejson } = this.templates.get(name);
      const spec = {
        type: "vector",
        tiles: [this.tileUrl(source)],
        minzoom: isCount(tilejson.minzoom) ? tilejson.minzoom : 0,
        maxzoom: isCount(tilejson.maxzoom) ? tilejson.maxzoom : 14,
      };
      if (Array.isArray(tilejson.bounds) && tilejson.bounds.length === 4) spec.bounds = tilejson.bounds;
      // promoteId (maps.md §2, §6.2): H3 indexes exceed 2^53, so the 15-character
      // h3 string is the feature id; areas are identified by their code.
      if (["hexagons", "hotspots", "emerging", "risk", "crossborder"].includes(name)) spec.promoteId = { [name]: "h3" };
      if (name === "boundaries") spec.promoteId = { boundaries: "code" };
      map.addSource(source, spec);
    }
    for (const { source, layer } of [...STYLE_LAYERS].sort((a, b) => a.z - b.z)) {
      if (!sources.has(source)) continue;
      map.addLayer({
        ...layer,
        source,
        "source-layer": layerOfSource(source),
        layout: { ...layer.layout, visibility: "none" },
      });
    }
    if (map.getLayer("hexagons-fill")) map.setPaintProperty("hexagons-fill", "fill-color", hexColourExpression(this.breaks));
    this.setCompareFilter();
  }

  /** Each layer is visible when the caller may see it and the user has it on. */
  applyVisibility() {
    for (const { source, layer } of STYLE_LAYERS) {
      if (!this.map.getLayer(layer.id)) continue;
      const on = this.isOn(layerOfSource(source));
      this.map.setLayoutProperty(layer.id, "visibility", on ? "visible" : "none");
    }
    renderFeatureLegend((name) => this.isOn(name) && name !== "hexagons");
    $("#legend-hex-title").hidden = !this.isOn("hexagons");
    $("#legend-hexagons").hidden = !this.isOn("hexagons");
    $("#legend-disclosure").hidden = !this.isOn("hexagons") || !this.controlled;
  }

  /** New tile URLs for the temporal layers: the tiles are fetched again for the new window. */
  setTemporalTiles() {
    for (const name of this.layerDocs.keys()) {
      if (!this.isTemporal(name)) continue;
      const source = this.map.getSource(name);
      const url = this.tileUrl(name);
      if (source && source.tiles?.[0] !== url) source.setTiles([url]);
    }
  }

  setBoundaryTiles() {
    const source = this.map.getSource("boundaries");
    if (source) source.setTiles([this.tileUrl("boundaries")]);
  }

  /** Outline the two compared areas on the map. */
  setCompareFilter() {
    if (!this.map.getLayer("boundaries-compare")) return;
    const { a, b } = this.view;
    const codes = [a, b].filter(Boolean);
    this.map.setFilter("boundaries-compare", ["in", ["get", "code"], ["literal", codes]]);
    const colour = a && b && a !== b ? ["match", ["get", "code"], a, COLOURS.areaA, COLOURS.areaB] : a ? COLOURS.areaA : COLOURS.areaB;
    this.map.setPaintProperty("boundaries-compare", "line-color", colour);
  }

  // --- controls ------------------------------------------------------------

  /** Once: listeners on the controls that stay in the page. */
  bindControls() {
    const slider = $("#month");
    slider.addEventListener("input", () => {
      this.stopPlaying();
      this.setEnd(Number(slider.value), SLIDER_DEBOUNCE_MS);
    });
    // At either end of the data a step button is aria-disabled, not disabled, so
    // keyboard focus stays on it.
    for (const [id, delta] of [["#step-back", -1], ["#step-forward", 1]]) {
      $(id).addEventListener("click", () => {
        if ($(id).getAttribute("aria-disabled") === "true") return;
        this.stopPlaying();
        this.step(delta);
      });
    }
    $("#play").addEventListener("click", () => (this.playing ? this.stopPlaying() : this.startPlaying()));
    $("#span").addEventListener("change", () => {
      this.stopPlaying();
      this.span = clamp(Number($("#span").value) || DEFAULT_SPAN, 1, Math.max(1, this.months.length));
      this.setEnd(this.months.indexOf(this.view.to));
    });
    $("#category").addEventListener("change", () => {
      this.view.category = $("#category").value;
      this.onWindowChanged();
      void this.probeDisclosure();
    });
    $("#scheme").addEventListener("change", () => {
      this.view.scheme = $("#scheme").value;
      this.view.a = this.view.b = "";
      this.areasChosen = false;
      this.closePopup();
      this.setBoundaryTiles();
      this.setCompareFilter();
      this.writeUrlSoon();
      void this.loadAreas();
    });
    for (const key of ["a", "b"]) {
      $(`#area-${key}`).addEventListener("change", () => {
        this.areasChosen = true;
        this.view[key] = $(`#area-${key}`).value;
        this.onAreasChanged();
      });
    }
    // The controls sit in a <form>: pressing Enter in a field must not reload the page.
    $("#controls").addEventListener("submit", (event) => event.preventDefault());
  }

  disableControls() {
    for (const control of $$("#controls input, #controls select, #controls button")) control.disabled = true;
  }

  /** Fill the controls from meta and the layers, showing the view. */
  populateControls() {
    const { meta, view, months } = this;
    const temporal = [...this.layerDocs.keys()].some((name) => this.isTemporal(name));
    const hasMonths = temporal && months.length > 0;

    const slider = $("#month");
    slider.min = "0";
    slider.max = String(Math.max(0, months.length - 1));
    for (const control of [slider, $("#step-back"), $("#step-forward"), $("#play"), $("#span")]) {
      control.disabled = !hasMonths;
    }
    $("#data-range").textContent =
      isDay(meta.data_from) && isDay(meta.data_to)
        ? `Data from ${humanDay(meta.data_from)} to ${humanDay(meta.data_to)}.`
        : "No incident data.";

    const category = $("#category");
    const all = el("option", { text: "All categories" });
    all.value = "";
    category.replaceChildren(
      all,
      ...(meta.categories ?? []).map(({ slug, label }) => {
        const option = el("option", { text: label });
        option.value = slug;
        return option;
      }),
    );
    category.value = view.category;
    category.disabled = !temporal;

    const scheme = $("#scheme");
    scheme.replaceChildren(
      ...this.schemes().map((s) => {
        const option = el("option", { text: SCHEME_LABELS[s] ?? s });
        option.value = s;
        return option;
      }),
    );
    scheme.value = view.scheme;
    scheme.disabled = false;

    // The layer switcher: only the layers /api/v1/layers lists for this caller.
    const items = KNOWN_LAYERS.filter((name) => this.permits(name)).map((name) => {
      const doc = this.layerDocs.get(name);
      const item = el("li");
      const checkbox = el("input", { attrs: { type: "checkbox", id: `layer-${name}` } });
      checkbox.checked = view.layers.has(name);
      checkbox.dataset.layer = name;
      if (typeof doc.description === "string") checkbox.title = doc.description;
      checkbox.addEventListener("change", () => {
        if (checkbox.checked) view.layers.add(name);
        else view.layers.delete(name);
        if (!checkbox.checked && this.selected && layerOfSource(this.selected.source) === name) this.closePopup();
        this.applyVisibility();
        this.writeUrlSoon();
      });
      const label = el("label", { text: LAYER_INFO[name].label, attrs: { for: checkbox.id } });
      const hint = el("span", { className: "zoom-hint", attrs: { id: `layer-${name}-hint` } });
      checkbox.setAttribute("aria-describedby", hint.id);
      item.append(checkbox, label, hint);
      return item;
    });
    $("#layer-list").replaceChildren(...items);
    this.renderZoomHints();
    this.renderSpanOptions();
  }

  /** "zoom in" next to layers whose tiles start above the current zoom. */
  renderZoomHints() {
    const zoom = this.map.getZoom();
    for (const [name, { tilejson }] of this.templates) {
      const hint = document.getElementById(`layer-${name}-hint`);
      if (!hint) continue;
      const min = isCount(tilejson.minzoom) ? tilejson.minzoom : 0;
      hint.textContent = zoom < min - 1e-6 ? `zoom in to see (level ${min}+)` : "";
    }
  }

  /** Options of "Months shown", including the current span if it is not a preset. */
  renderSpanOptions() {
    const { months, view } = this;
    const select = $("#span");
    if (!months.length) {
      select.replaceChildren();
      return;
    }
    const current = clamp(this.span, 1, months.length);
    const spans = new Set([...SPANS.filter((s) => s < months.length), months.length, current]);
    select.replaceChildren(
      ...[...spans]
        .sort((a, b) => a - b)
        .map((s) => {
          const text = s === months.length ? `All (${s} months)` : s === 1 ? "1 month" : `${s} months`;
          const option = el("option", { text });
          option.value = String(s);
          return option;
        }),
    );
    select.value = String(current);
  }

  /** Slider, label, buttons and notes for the current window. */
  renderWindow() {
    const { months, view } = this;
    if (!months.length || !view.from) {
      $("#window-label").textContent = "No incident data.";
      return;
    }
    const end = months.indexOf(view.to);
    const slider = $("#month");
    slider.value = String(end);
    const label = monthRange(view.from, view.to);
    slider.setAttribute("aria-valuetext", `${humanMonth(view.to, true)} (window ${label})`);
    $("#window-label").textContent = label;
    $("#step-back").setAttribute("aria-disabled", String(end <= 0));
    $("#step-forward").setAttribute("aria-disabled", String(end >= months.length - 1));
    $("#effective-window").textContent = this.controlled
      ? `Shown: ${humanDay(firstDay(view.from))} – ${humanDay(lastDay(view.to))} (whole months)`
      : "";
    this.renderSpanOptions();
  }

  /** Move the window's end to month index `end`, keeping its length. */
  setEnd(end, delay = 0) {
    const { months, view } = this;
    if (!months.length) return;
    const to = clamp(end, 0, months.length - 1);
    view.to = months[to];
    view.from = months[Math.max(0, to - this.span + 1)];
    this.renderWindow();
    clearTimeout(this.sliderTimer);
    if (delay > 0) this.sliderTimer = setTimeout(() => this.onWindowChanged(), delay);
    else this.onWindowChanged();
  }

  /** One month back or forward (the window keeps its length). */
  step(delta) {
    const end = this.months.indexOf(this.view.to);
    if (end < 0) return false;
    const next = end + delta;
    if (next < 0 || next > this.months.length - 1) return false;
    this.setEnd(next);
    return true;
  }

  startPlaying() {
    if (!this.months.length || this.playing) return;
    this.playing = true;
    $("#play").textContent = "Pause";
    $("#play").setAttribute("aria-pressed", "true");
    // From the end, start again at the beginning (the window keeps its length).
    if (this.months.indexOf(this.view.to) >= this.months.length - 1) this.setEnd(this.span - 1);
    this.scheduleNextStep();
  }

  /** Next month once this one's tiles are drawn and it has been on show for PLAY_STEP_MS. */
  scheduleNextStep() {
    const generation = this.generation;
    const shownAt = performance.now();
    this.map.once("idle", () => {
      if (!this.playing || generation !== this.generation) return;
      const wait = Math.max(0, PLAY_STEP_MS - (performance.now() - shownAt));
      this.playTimer = setTimeout(() => {
        if (!this.playing || generation !== this.generation) return;
        if (this.step(1)) this.scheduleNextStep();
        else this.stopPlaying();
      }, wait);
    });
    this.map.triggerRepaint();
  }

  stopPlaying() {
    clearTimeout(this.playTimer);
    if (!this.playing) return;
    this.playing = false;
    $("#play").textContent = "Play";
    $("#play").setAttribute("aria-pressed", "false");
  }

  /** Window or category changed: new tiles, comparison and URL. */
  onWindowChanged() {
    if (!this.built) return;
    this.closePopup(); // a popup's figures belong to the previous window
    this.renderWindow();
    this.setTemporalTiles();
    this.writeUrlSoon();
    void this.loadComparison();
  }

  // --- data ----------------------------------------------------------------

  /**
   * Aggregate roles: the suppression threshold and rounding for the legend
   * and popups. The tiles do not carry them, so ask /api/v1/hexagons for one
   * cell's worth (its `disclosure` block); the threshold depends on the
   * category (stricter for categories about children).
   */
  async probeDisclosure() {
    if (!this.controlled || !this.permits("hexagons")) {
      this.disclosure = null;
      return;
    }
    const generation = this.generation;
    const params = new URLSearchParams({ res: "5", bbox: PROBE_BBOX });
    if (this.view.from) {
      params.set("from", firstDay(this.view.from));
      params.set("to", lastDay(this.view.to));
    }
    if (this.view.category) params.set("category", this.view.category);
    try {
      const doc = await getJSON(`${API}/hexagons`, params, this.loadAbort?.signal);
      if (generation !== this.generation) return;
      const d = doc?.disclosure;
      this.disclosure = d?.controlled === true ? d : { controlled: true };
      renderHexLegend(this.breaks, this.disclosure);
      this.applyVisibility();
      status.clear("disclosure");
    } catch (err) {
      if (err.name === "AbortError" || generation !== this.generation) return;
      this.disclosure = { controlled: true };
      status.error("disclosure", `Could not load the disclosure settings: ${err.message}`);
      this.authRejected(err);
    }
  }

  /** The areas of a scheme (from /api/v1/boundaries), once per generation. */
  areaList(scheme) {
    if (!this.areaRequests.has(scheme)) {
      const signal = this.loadAbort?.signal;
      const request = getJSON(`${API}/boundaries`, new URLSearchParams({ scheme }), signal).then((collection) => {
        const areas = areasOf(collection);
        this.areaLists.set(scheme, areas);
        return areas;
      });
      request.catch(() => this.areaRequests.delete(scheme));
      this.areaRequests.set(scheme, request);
    }
    return this.areaRequests.get(scheme);
  }

  /** Fill the area pickers for the current scheme, then compare. */
  async loadAreas() {
    const generation = this.generation;
    const { scheme } = this.view;
    const pickers = [$("#area-a"), $("#area-b")];
    for (const p of pickers) p.disabled = true;
    let areas;
    try {
      areas = await this.areaList(scheme);
    } catch (err) {
      if (err.name === "AbortError" || generation !== this.generation) return;
      status.error("areas", `Could not load the areas of ${SCHEME_LABELS[scheme] ?? scheme}: ${err.message}`);
      this.authRejected(err);
      return;
    }
    if (generation !== this.generation || scheme !== this.view.scheme) return;
    status.clear("areas");
    const known = (code) => areas.some((a) => a.code === code);
    if (!this.areasChosen && !this.view.a && !this.view.b) [this.view.a, this.view.b] = defaultPair(areas);
    if (!known(this.view.a)) this.view.a = "";
    if (!known(this.view.b)) this.view.b = "";
    fillAreaSelect(pickers[0], areas, this.view.a);
    fillAreaSelect(pickers[1], areas, this.view.b);
    for (const p of pickers) p.disabled = false;
    this.onAreasChanged();
  }

  onAreasChanged() {
    this.setCompareFilter();
    this.writeUrlSoon();
    void this.loadComparison();
  }

  /** GET /api/v1/areas/compare for the two areas and the window; render the table. */
  async loadComparison() {
    const generation = this.generation;
    this.compareAbort?.abort();
    const { scheme, a, b, from, to, category } = this.view;
    const container = $("#compare");
    window.__compared = null;
    if (!this.meta || !this.areaLists.has(scheme)) return;
    if (!a || !b) {
      container.replaceChildren(el("p", { className: "hint", text: "Choose two areas to compare them." }));
      return;
    }
    if (a === b) {
      container.replaceChildren(el("p", { className: "hint", text: "Choose two different areas." }));
      return;
    }
    const controller = (this.compareAbort = new AbortController());
    const params = new URLSearchParams({ scheme, a, b });
    if (from && to) {
      params.set("from", firstDay(from));
      params.set("to", lastDay(to));
    }
    if (category) params.set("category", category);
    container.setAttribute("aria-busy", "true");
    try {
      const response = await getJSON(`${API}/areas/compare`, params, controller.signal);
      if (controller.signal.aborted || generation !== this.generation) return;
      renderComparison(container, response, category ? this.categoryLabel(category) : "all categories");
      window.__compared = [scheme, a, b, from, to, category].join("/");
      status.clear("compare");
    } catch (err) {
      if (controller.signal.aborted || generation !== this.generation) return;
      container.replaceChildren(el("p", { className: "hint", text: "The comparison could not be loaded." }));
      status.error("compare", `Could not compare the areas: ${err.message}`);
      this.authRejected(err);
    } finally {
      if (this.compareAbort === controller) container.removeAttribute("aria-busy");
    }
  }

  categoryLabel(slug) {
    return this.meta?.categories?.find((c) => c.slug === slug)?.label ?? slug;
  }

  /** A 401 on a data request while signed in: the token stopped working. */
  authRejected(err) {
    if (err?.status === 401 && session.token) this.onAuthRejected?.();
  }

  // --- after each render ---------------------------------------------------

  /** Which window the tiles on show belong to. */
  renderedKey() {
    const { from, to, category, scheme } = this.view;
    return `${from}/${to}/${category}/${scheme}`;
  }

  /**
   * At every `idle`: note which window is drawn (for the tests), fit the
   * hexagon ramp to the cells in view (not while playing, so months stay
   * comparable) and summarise the view in the status line.
   */
  afterIdle() {
    if (!this.built) return;
    const { map } = this;
    const current = [...this.layerDocs.keys()]
      .filter((name) => this.isTemporal(name) || name === "boundaries")
      .every((name) => map.getSource(name)?.tiles?.[0] === this.tileUrl(name));
    if (current) window.__rendered = this.renderedKey();

    if (!this.isOn("hexagons")) {
      status.setInfo("");
      return;
    }
    const cells = new Map();
    for (const f of map.queryRenderedFeatures({ layers: ["hexagons-fill"] })) cells.set(f.id ?? f.properties.h3, f.properties);
    const counts = [...cells.values()].map((p) => p.count).filter(isCount);
    const suppressed = [...cells.values()].filter((p) => p.suppressed === true).length;
    if (!this.playing) {
      const floor = this.disclosure && isCount(this.disclosure.min_count) && this.disclosure.min_count >= 1 ? this.disclosure.min_count : 1;
      const breaks = rampBreaks(counts, floor);
      if (breaks.join() !== this.breaks.join()) {
        this.breaks = breaks;
        map.setPaintProperty("hexagons-fill", "fill-color", hexColourExpression(breaks));
        renderHexLegend(breaks, this.controlled ? this.disclosure ?? { controlled: true } : null);
        this.applyVisibility();
      }
    }
    const total = counts.reduce((a, b) => a + b, 0);
    const label = this.view.category ? this.categoryLabel(this.view.category) : "all categories";
    const period = this.view.from ? monthRange(this.view.from, this.view.to) : "all dates";
    const n = numberFormat.format(cells.size);
    status.setInfo(
      this.controlled
        ? `${period}, ${label}: about ${numberFormat.format(total)} incidents in ${n} hexagons in view ` +
            `(rounded counts; ${numberFormat.format(suppressed)} suppressed).`
        : `${period}, ${label}: ${numberFormat.format(total)} incidents in ${n} hexagons in view.`,
    );
  }

  /**
   * Test hook: __ready becomes true at the first `idle` after this
   * generation's map has been built and its first loads have settled.
   */
  markReadyWhenIdle() {
    const generation = this.generation;
    this.map.once("idle", () => {
      if (generation === this.generation) window.__ready = true;
    });
    this.map.triggerRepaint(); // make sure an idle event follows even if nothing changes
  }

  // --- URL -----------------------------------------------------------------

  viewForUrl() {
    const c = this.map.getCenter();
    return {
      center: [c.lng, c.lat],
      zoom: this.map.getZoom(),
      layers: this.meta ? KNOWN_LAYERS.filter((name) => this.isOn(name)) : [...this.view.layers],
      from: this.view.from,
      to: this.view.to,
      category: this.view.category,
      scheme: this.view.scheme,
      a: this.view.a,
      b: this.view.b,
    };
  }

  /** Write the view to the URL fragment (replaceState: no history entry per change). */
  writeUrlSoon() {
    if (!this.built) return;
    clearTimeout(this.urlTimer);
    this.urlTimer = setTimeout(() => {
      if (!this.built) return;
      const view = this.viewForUrl();
      window.__view = view;
      const hash = formatHash(view);
      if (hash !== window.location.hash) window.history.replaceState(null, "", hash);
    }, URL_DEBOUNCE_MS);
  }

  // --- popups --------------------------------------------------------------

  setUpPopups() {
    const { map } = this;
    map.on("click", (event) => this.popupAt(event.point, event.lngLat));
    for (const { layer } of CLICKABLE.filter((s) => s.layer.id !== "boundaries-fill")) {
      map.on("mouseenter", layer.id, () => (map.getCanvas().style.cursor = "pointer"));
      map.on("mouseleave", layer.id, () => (map.getCanvas().style.cursor = ""));
    }
    this.popup.on("close", () => this.clearSelected());
    // Keyboard: Enter on the focused map describes what is under the crosshair
    // at its centre (the same popup as a click there). The popup takes focus
    // (MapLibre's focusAfterOpen); Escape closes it and gives focus back to the map.
    map.getCanvas().addEventListener("keydown", (event) => {
      if (event.key !== "Enter") return;
      event.preventDefault();
      const { clientWidth: w, clientHeight: h } = map.getCanvas();
      const centre = { x: w / 2, y: h / 2 };
      if (!this.popupAt(centre, map.unproject([centre.x, centre.y]))) {
        status.notice("popup", "Nothing to describe at the centre of the map.");
      }
    });
    document.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || !this.popup.isOpen()) return;
      const inside = this.popup.getElement()?.contains(document.activeElement);
      this.closePopup();
      if (inside) map.getCanvas().focus();
    });
  }

  /** Open the popup of the top clickable feature at a pixel; false when there is none. */
  popupAt(point, lngLat) {
    const { map } = this;
    status.clear("popup");
    const { x, y } = point;
    const visible = (id) => map.getLayer(id) && map.getLayoutProperty(id, "visibility") !== "none";
    for (const { layer, click } of CLICKABLE) {
      if (!visible(layer.id)) continue;
      // Points and lines are small: use a box around the pointer for them.
      const near = click <= 3 ? [[x - 4, y - 4], [x + 4, y + 4]] : [x, y];
      const feature = map.queryRenderedFeatures(near, { layers: [layer.id] })[0];
      if (feature) {
        this.openPopup(feature, lngLat);
        return true;
      }
    }
    this.closePopup();
    return false;
  }

  /** The popup for a feature: what the caller's role may see of it, as text only. */
  openPopup(feature, lngLat) {
    const props = feature.properties ?? {};
    const id = feature.layer.id;
    const content = el("div", { className: "popup" });
    const list = el("dl");
    const add = (label, value) => {
      if (value === undefined || value === null || value === "") return;
      list.append(el("dt", { text: label }), el("dd", { text: String(value) }));
    };
    const period = () => (this.view.from ? monthRange(this.view.from, this.view.to) : "all dates");
    const category = () => (this.view.category ? this.categoryLabel(this.view.category) : "All categories");
    const count = () => {
      if (props.suppressed === true || !isCount(props.count)) {
        const min = this.disclosure?.min_count;
        return isCount(min) ? `suppressed (fewer than ${numberFormat.format(min)})` : "suppressed";
      }
      // A monthly release: the sum of the published months, a lower bound when a month of
      // the window is suppressed (docs/DISCLOSURE.md, "Monthly release of the map").
      if (props.partial === true) return `at least ${numberFormat.format(props.count)} (a month is suppressed)`;
      return numberFormat.format(props.count);
    };
    const rounding = () => {
      const r = this.disclosure?.rounding;
      if (this.controlled && props.suppressed !== true) add("Note", `Rounded to the nearest ${isCount(r) ? r : 5}`);
    };
    let title;
    let extra = null;
    switch (id) {
      case "hexagons-fill":
        title = "Hexagon";
        add("Incidents", count());
        add("Period", period());
        add("Category", category());
        rounding();
        add("H3 cell", props.h3);
        break;
      case "hotspots-fill": {
        const bin = Number(props.bin);
        const level = { 3: "99 %", 2: "95 %", 1: "90 %" }[Math.abs(bin)] ?? "";
        title = bin > 0 ? `Hot spot (${level} confidence)` : `Cold spot (${level} confidence)`;
        add("Gi* bin", String(bin));
        if (!this.controlled && Number.isFinite(Number(props.z))) add("z-score", Number(props.z).toFixed(2));
        add("Incidents", count());
        add("Period", period());
        add("Category", category());
        rounding();
        add("H3 cell", props.h3);
        break;
      }
      case "emerging-fill": {
        title = EMERGING_LABELS[Number(props.code)] ?? props.label ?? "Emerging hot spot";
        add("Pattern", props.label);
        add("Incidents", count());
        add("Months", `${EMERGING_MONTHS} to the end of the window`);
        add("Category", category());
        rounding();
        add("H3 cell", props.h3);
        break;
      }
      case "risk-fill":
        title = "Near-repeat risk";
        add("Elevated", isDay(props.from) && isDay(props.to) ? `${humanDay(props.from)} – ${humanDay(props.to)}` : null);
        add("Knox ratio", Number.isFinite(Number(props.knox_ratio)) ? Number(props.knox_ratio).toFixed(1) : null);
        if (!this.controlled) add("Recent incidents behind it", count());
        else add("Shown as", "whole months over a wide area, with no counts");
        add("Category", category());
        add("H3 cell", props.h3);
        break;
      case "crossborder-cells":
        title = "Near an authority border";
        add("Incidents", count());
        add("By authority", this.borderParts(props.parts));
        add("Period", period());
        add("Category", category());
        rounding();
        add("H3 cell", props.h3);
        break;
      case "crossborder-border":
        title = "Authority border";
        add("Between", [props.code, props.other].filter(Boolean).join(" and "));
        extra = this.borderNames(props, list);
        break;
      case "crossborder-routes":
        title = "Route crossing a border";
        add("Route", props.name);
        break;
      case "boundaries-fill":
        title = "Area";
        add("Name", props.name);
        add("Code", props.code);
        add("Scheme", SCHEME_LABELS[props.scheme] ?? props.scheme);
        add("Young people", isCount(props.youth_population) ? numberFormat.format(props.youth_population) : null);
        extra = this.compareButtons(props.code);
        break;
      case "places-circle":
        title = "Place of concern";
        add("Name", props.name);
        add("Kind", humanise(props.kind));
        add("Review due", isDay(props.review_due) ? humanDay(props.review_due) : props.review_due);
        extra = this.placeDetails(feature, list);
        break;
      case "incidents-circle":
        title = "Incident";
        add("Category", props.category ? this.categoryLabel(props.category) : null);
        add("Date", isDay(props.date) ? humanDay(props.date) : props.date);
        add("ID", props.id);
        break;
      case "schools-circle":
        title = "School";
        add("Name", props.name);
        add("Phase", humanise(props.phase));
        add("Local authority", props.la_code);
        break;
      case "services-circle":
        title = "Youth service";
        add("Name", props.name);
        add("Tier", humanise(props.tier));
        add("Kind", humanise(props.kind));
        add("Provider", props.provider);
        break;
      case "stops-circle":
        title = "Stop";
        add("Name", props.name);
        add("ATCO code", props.atco);
        break;
      case "routes-line":
        title = "Route";
        add("Route", props.short_name);
        add("Name", props.long_name);
        add("Mode", humanise(props.mode));
        break;
      default:
        return;
    }
    content.append(el("h3", { text: title }), list);
    if (extra) content.append(extra);

    this.clearSelected();
    if (["hexagons-fill", "hotspots-fill", "emerging-fill", "risk-fill", "crossborder-cells"].includes(id) && feature.id !== undefined) {
      // The h3 string, thanks to promoteId; setFeatureState on a vector source needs sourceLayer.
      this.selected = { source: feature.source, sourceLayer: feature.sourceLayer, id: feature.id };
      this.map.setFeatureState(this.selected, { selected: true });
    }
    this.popup.setLngLat(lngLat).setDOMContent(content).addTo(this.map);
  }

  /** "Compare as area A / B" buttons in an area's popup. */
  compareButtons(code) {
    if (!code || !this.areaLists.get(this.view.scheme)?.some((a) => a.code === code)) return null;
    const group = el("div", { className: "popup-actions", attrs: { role: "group", "aria-label": "Compare this area" } });
    for (const key of ["a", "b"]) {
      const button = el("button", { text: `Compare as area ${key.toUpperCase()}`, attrs: { type: "button" } });
      button.addEventListener("click", () => {
        this.areasChosen = true;
        this.view[key] = code;
        $(`#area-${key}`).value = code;
        this.closePopup();
        this.onAreasChanged();
      });
      group.append(button);
    }
    return group;
  }

  /**
   * A near-border cell's parts ("CODE:COUNT;CODE:suppressed;CODE:COUNT+") as text:
   * each authority's count, "suppressed", or "at least N" for a lower bound.
   */
  borderParts(parts) {
    if (typeof parts !== "string" || parts === "") return null;
    return parts
      .split(";")
      .map((part) => {
        const [code, value = ""] = part.split(":");
        if (value === "suppressed") return `${code}: suppressed`;
        const n = Number.parseInt(value, 10);
        if (!Number.isFinite(n)) return `${code}: no figure`;
        return `${code}: ${value.endsWith("+") ? "at least " : ""}${numberFormat.format(n)}`;
      })
      .join("; ");
  }

  /** Authority names for a border's codes, filled in when the list has loaded. */
  borderNames(props, list) {
    const generation = this.generation;
    void this.areaList("lad")
      .then((areas) => {
        if (generation !== this.generation) return;
        const name = (code) => areas.find((a) => a.code === code)?.name ?? code;
        const dd = list.querySelector("dd");
        if (dd) dd.textContent = [props.code, props.other].filter(Boolean).map(name).join(" and ");
      })
      .catch(() => {});
    return null;
  }

  /**
   * Analysts: the place's record from /api/v1/places (a small box around the
   * point, matched on the id the tile carries as its feature id).
   */
  placeDetails(feature, list) {
    if (feature.id === undefined || feature.geometry?.type !== "Point") return null;
    const generation = this.generation;
    const [lon, lat] = feature.geometry.coordinates;
    const d = 0.002;
    const bbox = [lon - d, lat - d, lon + d, lat + d].map((v) => v.toFixed(5)).join(",");
    const note = el("p", { className: "hint popup-loading", text: "Loading the place's record…" });
    void getJSON(`${API}/places`, new URLSearchParams({ bbox }), this.loadAbort?.signal)
      .then((collection) => {
        if (generation !== this.generation) return;
        const record = (collection.features ?? []).find((f) => String(f.properties?.id) === String(feature.id));
        note.remove();
        if (!record) return;
        const p = record.properties;
        const add = (label, value) => {
          if (value === undefined || value === null || value === "") return;
          list.append(el("dt", { text: label }), el("dd", { text: String(value) }));
        };
        // Guardians are roles in organisations (never named people).
        const guardians = (Array.isArray(p.guardians) ? p.guardians : [])
          .map((g) => (typeof g === "string" ? g : [g?.role, g?.organisation && `(${g.organisation})`].filter(Boolean).join(" ")))
          .filter(Boolean);
        add("Capable guardians", guardians.join("; "));
        add("Recorded by", p.agency);
        add("Place ID", p.id);
      })
      .catch((err) => {
        if (err.name === "AbortError") return;
        note.textContent = "The place's record could not be loaded.";
        this.authRejected(err);
      });
    return note;
  }

  clearSelected() {
    if (!this.selected) return;
    if (this.map.getSource(this.selected.source)) this.map.removeFeatureState(this.selected, "selected");
    this.selected = null;
  }

  closePopup() {
    if (this.popup.isOpen()) this.popup.remove();
    this.clearSelected();
  }
}

/** "secondary_school" -> "Secondary school". */
function humanise(value) {
  if (typeof value !== "string" || !value) return value;
  const text = value.replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * The path and query of a TileJSON tile URL, if it is one of our own tile
 * URLs for `layer`: the origin is replaced by the page's own, so no request
 * can go to another host whatever the document says.
 */
function parseTemplate(url, layer) {
  const match = typeof url === "string" ? TEMPLATE.exec(url) : null;
  if (!match || match[2] !== layer) return null;
  return { path: match[1], query: match[3] ?? "" };
}

// ---------------------------------------------------------------------------
// Access: the sign-in form, who the caller is, and what the map shows for it.

/** meta's `caller`, checked; without one, deny by default and treat the caller as public. */
function normaliseCaller(caller) {
  if (!caller || typeof caller !== "object") return { role: "public", name: null, disclosure: "controlled" };
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

  /** Fetch meta and the layers for the current token and rebuild the map for that caller. */
  async refresh() {
    const generation = ++this.generation;
    window.__accessChanges = (window.__accessChanges ?? 0) + 1;
    this.app.suspend();
    window.__access = "loading";
    window.__caller = null;
    this.render(null);
    let meta;
    let layers;
    try {
      meta = await getJSON(`${API}/meta`);
      if (generation !== this.generation) return;
      layers = await getJSON(`${API}/layers`);
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
    const tileLayers = (Array.isArray(layers?.layers) ? layers.layers : []).map((l) => l?.id).filter(Boolean);
    if (tileLayers.length === 0) {
      this.showNoAccess(null, caller);
      return;
    }
    window.__caller = { ...caller, tileLayers };
    window.__access = "ok";
    this.render(caller);
    await this.app.configure(meta, layers);
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

  const wanted = parseHash(window.location.hash);
  let map;
  try {
    map = new MapLibreMap({
      container: "map",
      style: {
        version: 8,
        sources: {},
        layers: [{ id: "background", type: "background", paint: { "background-color": "#f3f1ec" } }],
      },
      center: wanted.center ?? INITIAL_VIEW.center,
      zoom: wanted.zoom ?? INITIAL_VIEW.zoom,
      minZoom: 7,
      maxZoom: 16,
      dragRotate: false,
      pitchWithRotate: false,
      attributionControl: false,
      fadeDuration: 0,
      transformRequest: tileRequest,
    });
  } catch (err) {
    // MapLibre v6 throws here without WebGL2.
    status.setInfo("");
    status.error("map", `The map could not start (${err.message}). It needs a browser with WebGL2.`);
    return;
  }
  window.__map = map;
  map.touchZoomRotate.disableRotation();
  map.keyboard.disableRotation();
  map.getCanvas().setAttribute(
    "aria-label",
    "Map. Arrow keys pan, plus and minus zoom, Enter describes what is at the centre, Escape closes the description.",
  );
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
  const app = new App(map, wanted);
  app.init();
  const access = new Access(app);
  access.bind();
  await access.refresh();
}

void main();
