// The map's layers: one vector source per tile layer (maps.md §6.2), the
// MapLibre style layers drawn from it, the hexagon colour ramp, the legend
// and what each layer's popup shows.
//
// Nothing here is remote: the style has a plain background, no basemap, no
// glyphs and no sprites, so there are no symbol layers.
import { $, el, isCount, numberFormat } from "./util.js";

// Sequential colour ramp (ColorBrewer YlOrRd, 6 classes) for hexagon counts.
export const HEX_COLOURS = ["#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026"];
// "Nice" class breaks; the ramp uses a floor plus five consecutive values (see rampBreaks).
const NICE_BREAKS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5];

// Suppressed cells (S21): light grey fill and a dashed darker outline.
const SUPPRESSED_FILL = "#d5d8dc";
const SUPPRESSED_LINE = "#57606a";
// A cell is suppressed when the server says so (its count is then absent).
const SUPPRESSED = ["==", ["get", "suppressed"], true];

export const COLOURS = {
  places: "#e7298a",
  incidents: "#67001f",
  schools: "#1f78b4",
  stops: "#525252",
  routes: "#8c510a",
  lad: "#1a1a2e",
  boundaries: "#5a5a7a",
  areaA: "#0b5cad",
  areaB: "#d95f02",
  border: "#6a3d9a",
  nearBorder: "#cab2d6",
  crossingRoute: "#ff7f00",
  tiers: { universal: "#1b9e77", targeted: "#7570b3", specialist: "#111111" },
};

/**
 * Every tile layer the app knows, in the order of the layer switcher. A
 * layer is offered only when /api/v1/layers lists it for the caller.
 * `on`: shown by default; `temporal` layers take the time window and the
 * category in their tile URLs.
 */
export const LAYER_INFO = {
  hexagons: { label: "Incident hexagons", on: true },
  hotspots: { label: "Hot and cold spots (Gi*)", on: false },
  emerging: { label: "Emerging hot spots (36 months)", on: false },
  risk: { label: "Near-repeat risk windows", on: false },
  incidents: { label: "Incidents (points)", on: false },
  places: { label: "Places of concern", on: true },
  crossborder: { label: "Cross-border", on: false },
  schools: { label: "Schools", on: true },
  services: { label: "Youth services", on: true },
  stops: { label: "Stops", on: false },
  routes: { label: "Transport routes", on: true },
  boundaries: { label: "Boundaries", on: true },
};
export const KNOWN_LAYERS = Object.keys(LAYER_INFO);

// ---------------------------------------------------------------------------
// Hexagon colour ramp

/**
 * Class breaks for the counts in view: starting at `floor` (1, or the
 * smallest published count under disclosure control), then five consecutive
 * "nice" values above it whose top is the largest nice value not above the
 * 95th percentile (so a few extreme cells don't wash out the rest).
 */
export function rampBreaks(counts, floor = 1) {
  // Suppressed cells have no count: they take no part in the ramp.
  const sorted = counts.filter((c) => isCount(c) && c > 0).sort((a, b) => a - b);
  const p95 = sorted.length ? sorted[Math.floor(0.95 * (sorted.length - 1))] : 1;
  const nice = NICE_BREAKS.filter((b) => b > floor);
  let top = 4; // index of the top break in `nice`; at least five values above the floor
  while (top + 1 < nice.length && nice[top + 1] <= p95) top += 1;
  return [floor, ...nice.slice(top - 4, top + 1)];
}

/** Suppressed cells grey; the rest a `step` where counts below the first break are transparent. */
export function hexColourExpression(breaks) {
  const step = ["step", ["coalesce", ["get", "count"], 0], "rgba(0, 0, 0, 0)"];
  breaks.forEach((b, i) => step.push(b, HEX_COLOURS[i]));
  return ["case", SUPPRESSED, SUPPRESSED_FILL, step];
}

// ---------------------------------------------------------------------------
// Style layers

const radius = (small, large) => ["interpolate", ["linear"], ["zoom"], 9, small, 15, large];
const point = (colour, r = radius(3.5, 8)) => ({
  "circle-color": colour,
  "circle-radius": r,
  "circle-stroke-color": "#ffffff",
  "circle-stroke-width": 1,
});

/** Emerging hot spot codes and their colours (hot warm, cold cool). */
export const EMERGING_COLOURS = [
  [1, "#fdd0a2"], // new
  [2, "#fdae6b"], // consecutive
  [3, "#e6550d"], // intensifying
  [4, "#a63603"], // persistent
  [5, "#fd8d3c"], // diminishing
  [6, "#fee6ce"], // sporadic
  [7, "#f16913"], // oscillating
  [8, "#bcbddc"], // historical
  [-1, "#c6dbef"],
  [-2, "#9ecae1"],
  [-3, "#3182bd"],
  [-4, "#08519c"],
  [-5, "#6baed6"],
  [-6, "#deebf7"],
  [-7, "#4292c6"],
  [-8, "#dadaeb"],
];
export const EMERGING_LABELS = {
  1: "New hot spot", 2: "Consecutive hot spot", 3: "Intensifying hot spot", 4: "Persistent hot spot",
  5: "Diminishing hot spot", 6: "Sporadic hot spot", 7: "Oscillating hot spot", 8: "Historical hot spot",
  [-1]: "New cold spot", [-2]: "Consecutive cold spot", [-3]: "Intensifying cold spot", [-4]: "Persistent cold spot",
  [-5]: "Diminishing cold spot", [-6]: "Sporadic cold spot", [-7]: "Oscillating cold spot", [-8]: "Historical cold spot",
};

const selectedOpacity = (on, off) => ["case", ["boolean", ["feature-state", "selected"], false], on, off];

/**
 * The style layers of each source, bottom to top within the source. `z`
 * orders them across sources (lower is drawn first). `click` marks layers
 * whose features open a popup, `rank` which wins when several are under the
 * pointer (lower first). The source of "boundaries-lad" is the boundaries
 * layer with scheme=lad.
 */
export const STYLE_LAYERS = [
  {
    z: 0,
    click: 9,
    source: "boundaries",
    layer: {
      // Invisible fill: it makes an area clickable (popup with "compare").
      id: "boundaries-fill",
      type: "fill",
      paint: { "fill-color": "#000000", "fill-opacity": 0 },
    },
  },
  {
    z: 1,
    click: 5,
    source: "hexagons",
    layer: {
      id: "hexagons-fill",
      type: "fill",
      paint: {
        "fill-color": hexColourExpression(rampBreaks([])),
        "fill-opacity": selectedOpacity(0.95, ["case", SUPPRESSED, 0.55, 0.7]),
        "fill-outline-color": "rgba(120, 60, 0, 0.25)",
      },
    },
  },
  {
    z: 2,
    source: "hexagons",
    layer: {
      id: "hexagons-suppressed",
      type: "line",
      filter: SUPPRESSED,
      paint: { "line-color": SUPPRESSED_LINE, "line-width": 1, "line-dasharray": [2, 1.5], "line-opacity": 0.8 },
    },
  },
  {
    z: 3,
    source: "hexagons",
    layer: {
      // Outline of the clicked cell; feature-state works in paint only.
      id: "hexagons-selected",
      type: "line",
      paint: { "line-color": "#111111", "line-width": 2.5, "line-opacity": selectedOpacity(1, 0) },
    },
  },
  {
    // Gi* bins (maps.md §6.2): 99/95/90 % hot spots red, cold spots blue.
    z: 3.5,
    click: 4,
    source: "hotspots",
    layer: {
      id: "hotspots-fill",
      type: "fill",
      paint: {
        "fill-color": ["match", ["get", "bin"], 3, "#b2182b", 2, "#ef8a62", 1, "#fddbc7", -1, "#d1e5f0", -2, "#67a9cf", -3, "#2166ac", "#f7f7f7"],
        "fill-opacity": selectedOpacity(0.9, 0.65),
        "fill-outline-color": "rgba(60, 60, 60, 0.3)",
      },
    },
  },
  {
    // Emerging hot spot categories (ArcGIS cube codes): hot 1..8 warm colours, cold -1..-8
    // cool colours; the stronger the pattern, the darker.
    z: 3.6,
    click: 4,
    source: "emerging",
    layer: {
      id: "emerging-fill",
      type: "fill",
      paint: {
        "fill-color": ["match", ["get", "code"], ...EMERGING_COLOURS.flat(), "#f7f7f7"],
        "fill-opacity": selectedOpacity(0.9, 0.7),
        "fill-outline-color": "rgba(60, 60, 60, 0.35)",
      },
    },
  },
  {
    // Near-repeat risk windows: the stronger the Knox ratio, the darker.
    z: 3.7,
    click: 4,
    source: "risk",
    layer: {
      id: "risk-fill",
      type: "fill",
      paint: {
        "fill-color": ["interpolate", ["linear"], ["get", "knox_ratio"], 1, "#fff7bc", 1.5, "#fec44f", 2.5, "#d95f0e"],
        "fill-opacity": selectedOpacity(0.9, 0.7),
        "fill-outline-color": "#993404",
      },
    },
  },
  {
    z: 4,
    click: 4,
    source: "crossborder",
    layer: {
      id: "crossborder-cells",
      type: "fill",
      filter: ["==", ["get", "kind"], "near_border"],
      paint: {
        "fill-color": ["case", SUPPRESSED, SUPPRESSED_FILL, COLOURS.nearBorder],
        "fill-opacity": selectedOpacity(0.95, 0.6),
        "fill-outline-color": COLOURS.border,
      },
    },
  },
  {
    z: 5,
    source: "crossborder",
    layer: {
      id: "crossborder-suppressed",
      type: "line",
      filter: ["all", ["==", ["get", "kind"], "near_border"], SUPPRESSED],
      paint: { "line-color": SUPPRESSED_LINE, "line-width": 1, "line-dasharray": [2, 1.5] },
    },
  },
  {
    z: 6,
    source: "boundaries",
    layer: {
      id: "boundaries-line",
      type: "line",
      paint: { "line-color": COLOURS.boundaries, "line-width": 1.2, "line-dasharray": [3, 2] },
    },
  },
  {
    z: 7,
    source: "boundaries-lad",
    layer: {
      id: "boundaries-lad-line",
      type: "line",
      layout: { "line-join": "round" },
      paint: { "line-color": COLOURS.lad, "line-width": 2.5 },
    },
  },
  {
    z: 8,
    source: "boundaries",
    layer: {
      // The two compared areas; the filter is set by the area panel.
      id: "boundaries-compare",
      type: "line",
      filter: ["in", ["get", "code"], ["literal", []]],
      layout: { "line-join": "round" },
      paint: { "line-color": COLOURS.areaA, "line-width": 4, "line-opacity": 0.9 },
    },
  },
  {
    z: 9,
    click: 3,
    source: "crossborder",
    layer: {
      id: "crossborder-border",
      type: "line",
      filter: ["==", ["get", "kind"], "border"],
      layout: { "line-join": "round", "line-cap": "round" },
      paint: { "line-color": COLOURS.border, "line-width": 4, "line-dasharray": [2, 1], "line-opacity": 0.9 },
    },
  },
  {
    z: 10,
    click: 3,
    source: "crossborder",
    layer: {
      id: "crossborder-routes",
      type: "line",
      filter: ["==", ["get", "kind"], "crossing_route"],
      layout: { "line-join": "round", "line-cap": "round" },
      paint: { "line-color": COLOURS.crossingRoute, "line-width": 3, "line-opacity": 0.85 },
    },
  },
  {
    z: 11,
    click: 2,
    source: "routes",
    layer: {
      id: "routes-line",
      type: "line",
      layout: { "line-join": "round", "line-cap": "round" },
      paint: { "line-color": COLOURS.routes, "line-width": 1.6, "line-opacity": 0.8 },
    },
  },
  { z: 12, click: 1, source: "stops", layer: { id: "stops-circle", type: "circle", paint: point(COLOURS.stops, radius(2, 5)) } },
  {
    z: 13,
    click: 1,
    source: "incidents",
    layer: { id: "incidents-circle", type: "circle", paint: point(COLOURS.incidents, radius(2.5, 5)) },
  },
  {
    z: 14,
    click: 1,
    source: "services",
    layer: {
      id: "services-circle",
      type: "circle",
      paint: point([
        "match",
        ["get", "tier"],
        "universal", COLOURS.tiers.universal,
        "targeted", COLOURS.tiers.targeted,
        "specialist", COLOURS.tiers.specialist,
        "#999999",
      ]),
    },
  },
  { z: 15, click: 1, source: "schools", layer: { id: "schools-circle", type: "circle", paint: point(COLOURS.schools) } },
  { z: 16, click: 0, source: "places", layer: { id: "places-circle", type: "circle", paint: point(COLOURS.places) } },
];

/** The tile layer (switcher entry) a source belongs to. */
export const layerOfSource = (source) => (source === "boundaries-lad" ? "boundaries" : source);

// ---------------------------------------------------------------------------
// Legend

function swatchItem(swatchClass, colour, label) {
  const item = el("li");
  const swatch = el("span", { className: `swatch ${swatchClass}`, attrs: { "aria-hidden": "true" } });
  if (colour) swatch.style.setProperty("--swatch", colour); // our constants, never data
  item.append(swatch, el("span", { text: label }));
  return item;
}

/**
 * The hexagon ramp as a row of swatches labelled with each class's lower
 * bound (the full range, e.g. "5–9", is there for screen readers). Under
 * disclosure control (S21) a "Suppressed" entry and the rounding follow.
 */
export function renderHexLegend(breaks, disclosure) {
  const compact = new Intl.NumberFormat("en-GB", { notation: "compact" });
  const items = breaks.map((b, i) => {
    const next = breaks[i + 1];
    let range;
    if (next === undefined) range = `${numberFormat.format(b)} or more`;
    else if (next - 1 === b) range = numberFormat.format(b);
    else range = `${numberFormat.format(b)}–${numberFormat.format(next - 1)}`;
    const item = el("li");
    const swatch = el("span", { className: "swatch swatch-fill", attrs: { "aria-hidden": "true" } });
    swatch.style.setProperty("--swatch", HEX_COLOURS[i]);
    const short = el("span", {
      className: "ramp-label",
      text: `${compact.format(b)}${next === undefined ? "+" : ""}`,
      attrs: { "aria-hidden": "true" },
    });
    item.append(swatch, short, el("span", { className: "visually-hidden", text: range }));
    return item;
  });
  $("#legend-hexagons").replaceChildren(...items);

  const notes = [];
  if (disclosure?.controlled) {
    const min = isCount(disclosure.min_count) ? disclosure.min_count : null;
    notes.push(
      swatchItem(
        "swatch-suppressed",
        null,
        min ? `Suppressed (fewer than ${numberFormat.format(min)})` : "Suppressed (too few to publish)",
      ),
    );
    const rounding = isCount(disclosure.rounding) && disclosure.rounding > 1 ? disclosure.rounding : null;
    const note = [
      rounding ? `Other counts are rounded to the nearest ${numberFormat.format(rounding)}.` : "",
      "Time is shown by whole months.",
    ]
      .filter(Boolean)
      .join(" ");
    notes.push(el("li", { className: "legend-note", text: note }));
  }
  $("#legend-disclosure").replaceChildren(...notes);
  $("#legend-disclosure").hidden = notes.length === 0;
}

/** Legend entries of the feature layers that are on (`shown(name)`). */
export function renderFeatureLegend(shown) {
  const entries = [
    ["places", "swatch-circle", COLOURS.places, "Place of concern"],
    ["incidents", "swatch-circle swatch-small", COLOURS.incidents, "Incident (exact location)"],
    ["hotspots", "swatch-fill", "#b2182b", "Hot spot, 99 % confidence"],
    ["hotspots", "swatch-fill", "#ef8a62", "Hot spot, 95 %"],
    ["hotspots", "swatch-fill", "#fddbc7", "Hot spot, 90 %"],
    ["hotspots", "swatch-fill", "#d1e5f0", "Cold spot, 90 %"],
    ["hotspots", "swatch-fill", "#67a9cf", "Cold spot, 95 %"],
    ["hotspots", "swatch-fill", "#2166ac", "Cold spot, 99 %"],
    ...EMERGING_COLOURS.filter(([code]) => [1, 2, 3, 4, 5, 6, -3, -4].includes(code)).map(([code, colour]) => [
      "emerging",
      "swatch-fill",
      colour,
      EMERGING_LABELS[code],
    ]),
    ["risk", "swatch-fill", "#fec44f", "Elevated near-repeat risk"],
    ["risk", "swatch-fill", "#d95f0e", "Strongly elevated (Knox ratio 2.5+)"],
    ["crossborder", "swatch-line swatch-thick swatch-dashed", COLOURS.border, "Shared authority border"],
    ["crossborder", "swatch-fill", COLOURS.nearBorder, "Incidents within 1 km of a border"],
    ["crossborder", "swatch-line swatch-thick", COLOURS.crossingRoute, "Route crossing a border"],
    ["schools", "swatch-circle", COLOURS.schools, "School"],
    ["services", "swatch-circle", COLOURS.tiers.universal, "Service: universal"],
    ["services", "swatch-circle", COLOURS.tiers.targeted, "Service: targeted"],
    ["services", "swatch-circle", COLOURS.tiers.specialist, "Service: specialist"],
    ["stops", "swatch-circle swatch-small", COLOURS.stops, "Stop"],
    ["routes", "swatch-line", COLOURS.routes, "Transport route"],
    ["boundaries", "swatch-line swatch-thick", COLOURS.lad, "Local authority boundary"],
    ["boundaries", "swatch-line swatch-dashed", COLOURS.boundaries, "Areas of the chosen scheme"],
    ["boundaries", "swatch-line swatch-thick", COLOURS.areaA, "Compared area A"],
    ["boundaries", "swatch-line swatch-thick", COLOURS.areaB, "Compared area B"],
  ];
  const items = entries.filter(([name]) => shown(name)).map(([, ...rest]) => swatchItem(...rest));
  $("#legend-features").replaceChildren(...items);
  $("#legend-features-title").hidden = items.length === 0;
}
