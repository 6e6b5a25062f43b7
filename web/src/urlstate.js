// View state in the URL fragment, so a view can be shared and restored:
//
//   #map=<zoom>/<lat>/<lon>&layers=hexagons,schools&from=2025-01&to=2025-03
//    &category=<slug>&scheme=<scheme>&a=<area code>&b=<area code>
//
// The fragment never reaches the server (no request logs, no Referer), and it
// never holds the access token. Everything read from it is validated here and
// again against what the caller may see (unknown layers, categories, schemes
// and areas are dropped by the app).
import { isMonth } from "./util.js";

const SLUG = /^[a-z0-9_-]{1,64}$/;
const CODE = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * Parse a fragment ("#..." or "") into a partial view state. Absent or
 * invalid entries are left out (or null), so the caller's defaults apply.
 */
export function parseHash(hash) {
  const params = new URLSearchParams(String(hash ?? "").replace(/^#/, ""));
  const state = {};

  const map = params.get("map")?.split("/").map(Number);
  if (map?.length === 3 && map.every(Number.isFinite)) {
    const [zoom, lat, lon] = map;
    if (zoom >= 0 && zoom <= 22 && Math.abs(lat) <= 85 && Math.abs(lon) <= 180) {
      state.zoom = zoom;
      state.center = [lon, lat];
    }
  }

  if (params.has("layers")) {
    const raw = params.get("layers");
    state.layers = raw === "" ? [] : raw.split(",").filter((id) => SLUG.test(id));
  }

  const from = params.get("from");
  const to = params.get("to");
  if (isMonth(from) && isMonth(to) && from <= to) {
    state.from = from;
    state.to = to;
  }

  const category = params.get("category");
  if (category !== null && (category === "" || SLUG.test(category))) state.category = category;
  const scheme = params.get("scheme");
  if (scheme && SLUG.test(scheme)) state.scheme = scheme;
  for (const key of ["a", "b"]) {
    const code = params.get(key);
    if (code !== null && (code === "" || CODE.test(code))) state[key] = code;
  }
  return state;
}

/** The fragment for a full view state (the inverse of parseHash). */
export function formatHash(state) {
  const parts = [];
  if (state.center && Number.isFinite(state.zoom)) {
    const [lon, lat] = state.center;
    parts.push(`map=${state.zoom.toFixed(2)}/${lat.toFixed(5)}/${lon.toFixed(5)}`);
  }
  const add = (key, value) => {
    if (value !== undefined && value !== null) parts.push(`${key}=${encodeURIComponent(value)}`);
  };
  if (state.layers) parts.push(`layers=${state.layers.map(encodeURIComponent).join(",")}`);
  if (state.from && state.to) {
    add("from", state.from);
    add("to", state.to);
  }
  if (state.category) add("category", state.category);
  add("scheme", state.scheme || null);
  if (state.a) add("a", state.a);
  if (state.b) add("b", state.b);
  return `#${parts.join("&")}`;
}
