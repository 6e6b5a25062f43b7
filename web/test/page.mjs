// Functions the map test runs inside the page (page.evaluate serialises
// them, so each must be self-contained: no imports, no outer variables).

/** Rendered hexagons: feature count, unique cells, their total count, and the cell:count list. */
export function renderedHexagons() {
  const features = window.__map.getLayer("hexagons-fill")
    ? window.__map.queryRenderedFeatures({ layers: ["hexagons-fill"] })
    : [];
  const cells = new Map(); // a cell may be drawn in several tiles: count it once
  let valid = 0;
  let idIsH3 = 0;
  for (const f of features) {
    const p = f.properties;
    if (typeof p.h3 === "string" && p.h3.length === 15 && typeof p.count === "number" && p.count > 0) valid += 1;
    if (f.id === p.h3) idIsH3 += 1;
    cells.set(p.h3, p.count);
  }
  let total = 0;
  for (const count of cells.values()) total += Number(count) || 0;
  const list = [...cells.entries()].map(([h3, count]) => `${h3}:${count ?? "s"}`).sort();
  return {
    features: features.length,
    cells: cells.size,
    valid,
    idIsH3,
    total,
    list,
    sample: features[0] ? { id: features[0].id, ...features[0].properties } : null,
  };
}

/**
 * Disclosure properties of the rendered hexagons, one entry per cell: how
 * many, how many suppressed, counts that break the controlled rules, and how
 * many counts are not multiples of 5. (A suppressed cell has no count.)
 */
export function hexagonDisclosure() {
  const cells = new Map();
  for (const { properties: p } of window.__map.queryRenderedFeatures({ layers: ["hexagons-fill"] })) {
    cells.set(p.h3, p);
  }
  let suppressed = 0;
  let notMultipleOf5 = 0;
  const breaches = [];
  for (const p of cells.values()) {
    const noCount = p.count === null || p.count === undefined;
    if (noCount) {
      if (p.suppressed === true) suppressed += 1;
      else breaches.push({ ...p, why: "no count but not suppressed" });
      continue;
    }
    if (p.suppressed === true) breaches.push({ ...p, why: "suppressed but has a count" });
    if (typeof p.count !== "number") breaches.push({ ...p, why: "count is not a number" });
    else if (p.count % 5 !== 0) notMultipleOf5 += 1;
    if (typeof p.count === "number" && (p.count % 5 !== 0 || p.count < 5)) {
      breaches.push({ ...p, why: "not a multiple of 5 that is at least 5" });
    }
  }
  return { cells: cells.size, suppressed, notMultipleOf5, breaches: breaches.slice(0, 5), breachCount: breaches.length };
}

/** Rendered features per style layer id (0 for a layer that is not in the style). */
export function renderedCounts(layerIds) {
  const map = window.__map;
  return Object.fromEntries(
    layerIds.map((id) => [id, map.getLayer(id) ? map.queryRenderedFeatures({ layers: [id] }).length : 0]),
  );
}

/** Style layers and sources of the map that belong to our tile layers. */
export function styleSummary() {
  const style = window.__map.getStyle();
  return {
    layers: style.layers.map((l) => l.id).filter((id) => id !== "background"),
    visible: style.layers
      .filter((l) => l.id !== "background" && (l.layout?.visibility ?? "visible") !== "none")
      .map((l) => l.id),
    sources: Object.keys(style.sources),
    tiles: Object.fromEntries(Object.entries(style.sources).map(([id, s]) => [id, s.tiles?.[0] ?? null])),
  };
}

/**
 * Where to click to hit a feature of `layerId` with nothing clickable above
 * it: { x, y, id, properties } in page pixels, or null. For hexagons,
 * `wantSuppressed` picks a suppressed (true) or published (false) cell.
 */
export function clickTarget(layerId, wantSuppressed) {
  const map = window.__map;
  const rect = map.getContainer().getBoundingClientRect();
  const margin = 70; // clear of the map controls at the edges
  const above = {
    "hexagons-fill": [
      "places-circle",
      "schools-circle",
      "services-circle",
      "stops-circle",
      "incidents-circle",
      "routes-line",
      "crossborder-border",
      "crossborder-routes",
      "crossborder-cells",
    ],
    "places-circle": [],
  }[layerId] ?? [];
  const blockers = above.filter((id) => map.getLayer(id) && map.getLayoutProperty(id, "visibility") !== "none");
  for (const f of map.queryRenderedFeatures({ layers: [layerId] })) {
    if (wantSuppressed !== undefined && (f.properties.suppressed === true) !== wantSuppressed) continue;
    let lngLat;
    if (f.geometry.type === "Point") lngLat = f.geometry.coordinates;
    else if (f.geometry.type === "Polygon") {
      const pts = f.geometry.coordinates[0].slice(0, -1);
      lngLat = [pts.reduce((a, c) => a + c[0], 0) / pts.length, pts.reduce((a, c) => a + c[1], 0) / pts.length];
    } else continue;
    const p = map.project(lngLat);
    if (p.x < margin || p.x > rect.width - margin || p.y < margin || p.y > rect.height - margin) continue;
    const box = [
      [p.x - 7, p.y - 7],
      [p.x + 7, p.y + 7],
    ];
    if (blockers.length && map.queryRenderedFeatures(box, { layers: blockers }).length) continue;
    const top = map.queryRenderedFeatures([p.x, p.y], { layers: [layerId] })[0];
    if (f.geometry.type === "Polygon" && top?.id !== f.id) continue;
    return { x: rect.left + p.x, y: rect.top + p.y, id: f.id ?? null, properties: f.properties };
  }
  return null;
}

/** A snapshot of what the page says about access and the view. */
export function accessState() {
  return {
    access: window.__access,
    caller: window.__caller,
    changes: window.__accessChanges ?? 0,
    ready: window.__ready === true,
    status: document.querySelector("#status")?.textContent ?? "",
    signOutEnabled: !document.querySelector("#sign-out")?.disabled,
    layerToggles: [...document.querySelectorAll("#layer-list input")].map((i) => i.id),
    checked: [...document.querySelectorAll("#layer-list input:checked")].map((i) => i.dataset.layer),
    legend: document.querySelector(".legend")?.textContent ?? "",
    effectiveWindow: document.querySelector("#effective-window")?.textContent ?? "",
    windowLabel: document.querySelector("#window-label")?.textContent ?? "",
    tokenInput: document.querySelector("#token")?.value ?? "",
    stored: Object.fromEntries(Object.keys(sessionStorage).map((k) => [k, sessionStorage.getItem(k)])),
    local: Object.values(localStorage),
    href: location.href,
  };
}

/** The controls' values. */
export function controlValues() {
  const value = (id) => document.getElementById(id)?.value ?? null;
  return {
    month: value("month"),
    monthMax: document.getElementById("month")?.max ?? null,
    monthText: document.getElementById("month")?.getAttribute("aria-valuetext") ?? null,
    span: value("span"),
    category: value("category"),
    scheme: value("scheme"),
    a: value("area-a"),
    b: value("area-b"),
    play: document.getElementById("play")?.getAttribute("aria-pressed"),
    playText: document.getElementById("play")?.textContent.trim(),
    windowLabel: document.getElementById("window-label")?.textContent ?? "",
  };
}

/** The comparison table as text: area names, and per row the two cells. */
export function comparison() {
  const table = document.querySelector("#compare table");
  if (!table) return { table: false, text: document.querySelector("#compare")?.textContent ?? "" };
  const heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
  const rows = Object.fromEntries(
    [...table.querySelectorAll("tbody tr")].map((tr) => [
      tr.querySelector("th").textContent.trim(),
      [...tr.querySelectorAll("td")].map((td) => td.textContent.trim()),
    ]),
  );
  const sparklines = [...table.querySelectorAll("svg.sparkline")].map((s) => ({
    label: s.getAttribute("aria-label"),
    points: s.querySelectorAll("circle").length,
    gaps: s.querySelectorAll(".sparkline-suppressed").length,
  }));
  return { table: true, caption: table.caption?.textContent ?? "", heads, rows, sparklines, compared: window.__compared };
}

/** Resolves at the next `idle` (forcing a repaint so one comes). */
export function waitForIdle() {
  return new Promise((done) => {
    window.__map.once("idle", done);
    window.__map.triggerRepaint();
  });
}

/** True when the tiles of the current view are loaded and drawn. */
export function settled() {
  const map = window.__map;
  return Boolean(
    map && window.__ready === true && map.loaded() && map.areTilesLoaded() && !map.isMoving() &&
      typeof window.__renderKey === "function" && window.__rendered === window.__renderKey(),
  );
}

/** The focused element: id (or tag and class) and whether it shows a focus outline. */
export function focused() {
  const node = document.activeElement;
  if (!node || node === document.body) return { id: "(body)", outline: "none", visible: false };
  const style = getComputedStyle(node);
  const rect = node.getBoundingClientRect();
  return {
    id: node.id || `${node.tagName.toLowerCase()}.${[...node.classList].join(".")}`,
    outline: style.outlineStyle,
    outlineWidth: style.outlineWidth,
    focusVisible: node.matches(":focus-visible"),
    visible: rect.width > 0 && rect.height > 0,
    label: node.getAttribute("aria-label") ?? node.labels?.[0]?.textContent?.trim() ?? node.textContent.trim(),
  };
}
