// Small helpers shared by the modules of the saferplaces map: DOM building
// without HTML parsing, number and date formatting, and whole-month arithmetic.

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

export const numberFormat = new Intl.NumberFormat("en-GB");
export const decimalFormat = new Intl.NumberFormat("en-GB", { maximumFractionDigits: 1, minimumFractionDigits: 1 });
export const signedFormat = new Intl.NumberFormat("en-GB", {
  maximumFractionDigits: 1,
  minimumFractionDigits: 1,
  signDisplay: "exceptZero",
});
const dayFormat = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
const monthFormat = new Intl.DateTimeFormat("en-GB", { month: "short", year: "numeric", timeZone: "UTC" });
const longMonthFormat = new Intl.DateTimeFormat("en-GB", { month: "long", year: "numeric", timeZone: "UTC" });

export const clamp = (value, lo, hi) => Math.min(hi, Math.max(lo, value));
export const isCount = (value) => typeof value === "number" && Number.isFinite(value);

/** Create an element with a class and text; text is never parsed as HTML. */
export function el(tag, { className, text, attrs } = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attrs ?? {})) node.setAttribute(name, value);
  return node;
}

/** An SVG element (for the sparklines). */
export function svg(tag, attrs = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return node;
}

// --- calendar days ("YYYY-MM-DD") and months ("YYYY-MM"), in UTC ------------

export const isDay = (value) => typeof value === "string" && /^\d{4}-\d{2}-\d{2}$/.test(value);
export const isMonth = (value) => typeof value === "string" && /^\d{4}-(0[1-9]|1[0-2])$/.test(value);
export const parseDay = (day) => new Date(`${day}T00:00:00Z`);
export const humanDay = (day) => dayFormat.format(parseDay(day));

/** "2025-03" -> "Mar 2025"; `long` gives "March 2025". */
export const humanMonth = (month, long = false) =>
  (long ? longMonthFormat : monthFormat).format(parseDay(`${month}-01`));

export const monthOf = (day) => day.slice(0, 7);

/** The first and last day of a month. */
export const firstDay = (month) => `${month}-01`;
export function lastDay(month) {
  const [y, m] = month.split("-").map(Number);
  return new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
}

/** Every month from `from` to `to` inclusive (both "YYYY-MM"). */
export function monthsBetween(from, to) {
  const out = [];
  let [y, m] = from.split("-").map(Number);
  const [ty, tm] = to.split("-").map(Number);
  while (y < ty || (y === ty && m <= tm)) {
    out.push(`${y}-${String(m).padStart(2, "0")}`);
    m += 1;
    if (m > 12) {
      m = 1;
      y += 1;
    }
    if (out.length > 1200) break; // a century: bad input, stop
  }
  return out;
}

/** "Jan 2025 – Mar 2025", or "Mar 2025" for one month. */
export function monthRange(from, to) {
  return from === to ? humanMonth(from) : `${humanMonth(from)} – ${humanMonth(to)}`;
}
