// The area panel: two areas of one scheme side by side, from
// GET /api/v1/areas/compare (incidents, rate per 1,000 young people, monthly
// trend). Suppressed figures (S21) are said to be suppressed, never shown as
// 0 or left blank, and rates and trends derived from them are not given.
import { COLOURS } from "./style.js";
import { el, humanMonth, isCount, isMonth, monthRange, numberFormat, decimalFormat, signedFormat, svg } from "./util.js";

/** Areas of a boundaries GeoJSON collection: [{code, name, youth}] sorted by name. */
export function areasOf(collection) {
  const features = Array.isArray(collection?.features) ? collection.features : [];
  const seen = new Set();
  const areas = [];
  for (const f of features) {
    const p = f?.properties ?? {};
    const code = typeof p.code === "string" ? p.code : null;
    if (!code || seen.has(code)) continue;
    seen.add(code);
    areas.push({
      code,
      name: typeof p.name === "string" && p.name ? p.name : code,
      youth: isCount(p.youth_population) ? p.youth_population : null,
    });
  }
  return areas.sort((a, b) => a.name.localeCompare(b.name, "en-GB") || a.code.localeCompare(b.code));
}

/** Fill an area <select> ("Choose an area…" first) and select `value` when present. */
export function fillAreaSelect(select, areas, value) {
  const none = el("option", { text: "Choose an area…" });
  none.value = "";
  const options = [none];
  const names = new Map();
  for (const a of areas) names.set(a.name, (names.get(a.name) ?? 0) + 1);
  for (const a of areas) {
    // Two areas with one name (it happens across authorities): add the code.
    const option = el("option", { text: names.get(a.name) > 1 ? `${a.name} (${a.code})` : a.name });
    option.value = a.code;
    options.push(option);
  }
  select.replaceChildren(...options);
  select.value = areas.some((a) => a.code === value) ? value : "";
}

/**
 * Default pair when nothing is chosen: South against East and Central (or
 * East) when the scheme has them, the comparison the partnership asked for
 * first (product.md, M8); else none.
 */
export function defaultPair(areas) {
  const south = areas.find((a) => /\bsouth$/i.test(a.name));
  const east = areas.find((a) => /\beast\b.*\bcentral$/i.test(a.name)) ?? areas.find((a) => /\beast$/i.test(a.name));
  return south && east ? [south.code, east.code] : ["", ""];
}

function countText(figure, minCount) {
  // A total summed from published months is withheld when any month is suppressed: it may be
  // large, so "fewer than" would be wrong.
  if (figure?.suppressed === true && figure?.sum_of_published_months === true) {
    return "not given (a month is suppressed)";
  }
  if (!figure || figure.suppressed === true || !isCount(figure.count)) {
    return isCount(minCount) ? `suppressed (fewer than ${numberFormat.format(minCount)})` : "suppressed";
  }
  return numberFormat.format(figure.count);
}

/**
 * A small inline SVG sparkline of monthly counts on a shared vertical scale
 * (`max`), with gaps and grey ticks where a month is suppressed. The label
 * lists every value for screen readers.
 */
export function sparkline(monthly, months, max, colour, areaName) {
  const width = 132;
  const height = 30;
  const pad = 3;
  const n = monthly.length;
  const x = (i) => (n <= 1 ? width / 2 : pad + (i * (width - 2 * pad)) / (n - 1));
  const y = (v) => height - pad - (max > 0 ? (v * (height - 2 * pad)) / max : 0);
  const spoken = monthly
    .map((m, i) => {
      const month = isMonth(months[i]) ? humanMonth(months[i]) : `month ${i + 1}`;
      return `${month}: ${m?.suppressed ? "suppressed" : m?.count ?? "no figure"}`;
    })
    .join(", ");
  const node = svg("svg", {
    class: "sparkline",
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": `Monthly incidents in ${areaName}. ${spoken}`,
  });
  node.append(svg("line", { x1: 0, x2: width, y1: height - pad, y2: height - pad, class: "sparkline-axis" }));
  // One polyline per run of published months: a suppressed month breaks the line.
  let run = [];
  const flush = () => {
    if (run.length > 1) {
      node.append(svg("polyline", { points: run.join(" "), fill: "none", stroke: colour, "stroke-width": 1.8 }));
    }
    run = [];
  };
  monthly.forEach((m, i) => {
    if (m && m.suppressed !== true && isCount(m.count)) {
      run.push(`${x(i).toFixed(1)},${y(m.count).toFixed(1)}`);
      node.append(svg("circle", { cx: x(i).toFixed(1), cy: y(m.count).toFixed(1), r: 1.8, fill: colour }));
    } else {
      flush();
      node.append(
        svg("line", { x1: x(i), x2: x(i), y1: height - pad - 5, y2: height - pad, class: "sparkline-suppressed" }),
      );
    }
  });
  flush();
  return node;
}

/**
 * The comparison table for a /api/v1/areas/compare response. `categoryLabel`
 * names the category filter.
 */
export function renderComparison(container, response, categoryLabel) {
  const areas = Array.isArray(response?.areas) ? response.areas.slice(0, 2) : [];
  if (areas.length !== 2) {
    container.replaceChildren(el("p", { className: "hint", text: "No comparison available." }));
    return;
  }
  const disclosure = response.disclosure?.controlled === true ? response.disclosure : null;
  const minCount = disclosure?.min_count;
  // Months come as their first day ("2026-08-01"); keep "YYYY-MM".
  const months = (Array.isArray(response.months) ? response.months : []).map((m) => String(m).slice(0, 7));
  const q = response.query ?? {};
  const period =
    typeof q.from === "string" && typeof q.to === "string" ? monthRange(q.from.slice(0, 7), q.to.slice(0, 7)) : "";
  const colours = [COLOURS.areaA, COLOURS.areaB];

  const table = el("table", { className: "compare-table" });
  table.append(
    el("caption", {
      text: `${period}${period ? ", " : ""}${categoryLabel}${disclosure ? "; rounded counts, small numbers suppressed" : ""}`,
    }),
  );
  const head = el("tr");
  head.append(el("td"));
  areas.forEach((a, i) => {
    const th = el("th", { attrs: { scope: "col" } });
    th.append(el("span", { className: `area-key area-key-${i ? "b" : "a"}`, attrs: { "aria-hidden": "true" } }));
    th.append(document.createTextNode(a.name ?? a.code));
    head.append(th);
  });
  const thead = el("thead");
  thead.append(head);
  table.append(thead);

  const body = el("tbody");
  const row = (label, cells, className) => {
    const tr = el("tr", { className });
    tr.append(el("th", { text: label, attrs: { scope: "row" } }));
    for (const cell of cells) {
      const td = el("td");
      if (cell instanceof Node) td.append(cell);
      else td.textContent = cell;
      tr.append(td);
    }
    body.append(tr);
  };
  row(
    "Incidents",
    areas.map((a) => countText(a.incidents, minCount)),
    "compare-incidents",
  );
  row(
    "Young people",
    areas.map((a) => (isCount(a.youth_population) ? numberFormat.format(a.youth_population) : "not known")),
  );
  row(
    "Rate per 1,000 young people",
    areas.map((a) => {
      if (isCount(a.rate_per_1000_youth)) return decimalFormat.format(a.rate_per_1000_youth);
      if (a.incidents?.suppressed) return "not given (count suppressed)";
      return "not known";
    }),
    "compare-rate",
  );
  row(
    "Trend",
    areas.map((a) => {
      if (isCount(a.trend_per_month)) return `${signedFormat.format(a.trend_per_month)} a month`;
      if ((a.monthly ?? []).some((m) => m?.suppressed)) return "not given (a month is suppressed)";
      return months.length < 2 ? "needs two months or more" : "not known";
    }),
    "compare-trend",
  );
  const max = Math.max(
    0,
    ...areas.flatMap((a) => (a.monthly ?? []).map((m) => (isCount(m?.count) ? m.count : 0))),
  );
  row(
    "Monthly",
    areas.map((a, i) => sparkline(a.monthly ?? [], months, max, colours[i], a.name ?? a.code)),
    "compare-monthly",
  );
  table.append(body);

  const notes = [
    el("p", {
      className: "hint",
      text: "Trend: the change in monthly incidents per month (least-squares slope over the window).",
    }),
  ];
  if (disclosure) {
    notes.push(
      el("p", {
        className: "hint",
        text:
          `Counts below ${isCount(minCount) ? numberFormat.format(minCount) : "the threshold"} are suppressed ` +
          `and others rounded to the nearest ${numberFormat.format(disclosure.rounding ?? 5)}; ` +
          "the table is protected as a whole, by whole months.",
      }),
    );
  }
  container.replaceChildren(table, ...notes);
}
