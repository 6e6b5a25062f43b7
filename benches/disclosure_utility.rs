//! Utility cost of the disclosure control for aggregate roles (issue 13, points 1 and 8): the
//! mean absolute error per cell of what `public` and `planner` users are shown, against the
//! true counts, at each H3 resolution they may see, for windows of 1, 3 and 12 whole months.
//! Two methods side by side, on the same data:
//!
//! - `window`: each window protected on its own from res-10 counts (the method before the
//!   monthly release; overlapping windows could be differenced);
//! - `monthly`: the monthly release the server uses now (`safeguards::releases::month_release`
//!   per month, `window_release` for the window).
//!
//! A suppressed cell counts as an error of its whole true value (the map shows no number), a
//! partial (lower-bound) cell as the shortfall. Cells are those with a true or published count.
//!
//! Usage: `cargo bench --bench disclosure_utility -- [DATA_DIR]` (default `./data`, the store
//! `make demo` or `saferplaces demo --no-serve` creates). It prints a Markdown table;
//! docs/BENCHMARKS.md keeps the figures.

// A measurement tool: its output is the table it prints.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a measurement tool: its output is the table it prints"
)]

use std::collections::HashMap;

use h3o::{CellIndex, Resolution};
use saferplaces::domain::{Category, TimeWindow};
use saferplaces::index::{CountQuery, H3Res, Snapshot};
use saferplaces::safeguards::disclosure::{
    DisclosurePolicy, MonthRelease, Published, Sensitivity, months_of, protect_cell_levels,
};
use saferplaces::safeguards::releases;
use saferplaces::store::{SqliteStore, Store};

/// One month's release of one layer (its cells and its area figures).
type Release = releases::MonthLayer;

fn world() -> saferplaces::domain::Bbox {
    saferplaces::domain::Bbox::from_coords(-180.0, -90.0, 180.0, 90.0).expect("valid box")
}

/// True counts of `window` at `res`, over the categories aggregate roles count for `category`.
fn truth(
    snap: &Snapshot,
    window: TimeWindow,
    category: Option<Category>,
    res: Resolution,
) -> HashMap<CellIndex, u32> {
    let mut out = HashMap::new();
    for c in releases::categories_in(category) {
        let q = CountQuery {
            bbox: world(),
            res: H3Res::new(u8::from(res)).expect("indexed resolution"),
            window,
            category: Some(c),
        };
        for cc in snap.incidents.cell_counts(&q) {
            *out.entry(cc.cell).or_default() += cc.count;
        }
    }
    out
}

/// The monthly release of `month` for `category`, with the area figures of `areas`, from the
/// index's cell counts, as `api::hexagons` builds it.
fn month_release(
    snap: &Snapshot,
    month: TimeWindow,
    category: Option<Category>,
    areas: &[releases::AreaCells],
    policy: &DisclosurePolicy,
) -> Release {
    releases::month_release(
        category,
        |c, res| {
            snap.incidents
                .cell_counts(&CountQuery {
                    bbox: world(),
                    res: H3Res::new(u8::from(res)).expect("indexed"),
                    window: month,
                    category: Some(c),
                })
                .iter()
                .map(|cc| (cc.cell, cc.count))
                .collect()
        },
        areas,
        policy,
    )
}

/// Mean absolute error of `shown` (value, partial) against `exact` over the cells of either.
fn mae(
    exact: &HashMap<CellIndex, u32>,
    shown: &HashMap<CellIndex, (Published, bool)>,
) -> (f64, usize, usize) {
    let mut cells: Vec<CellIndex> = exact.keys().copied().collect();
    cells.extend(shown.keys().filter(|c| !exact.contains_key(c)));
    let mut err = 0.0;
    let mut suppressed = 0;
    for c in &cells {
        let t = f64::from(exact.get(c).copied().unwrap_or(0));
        match shown.get(c).map(|s| s.0) {
            Some(Published::Value(v)) => err += (f64::from(v) - t).abs(),
            Some(Published::Suppressed) => {
                err += t;
                suppressed += 1;
            }
            None => err += t,
        }
    }
    let n = cells.len().max(1);
    (err / n as f64, cells.len(), suppressed)
}

#[expect(
    clippy::too_many_lines,
    reason = "a bench script: builds its data, runs each configuration and prints its table in order"
)]
fn main() {
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "data".to_owned());
    let data = match SqliteStore::open(std::path::Path::new(&dir)).and_then(|s| s.load()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!(
                "disclosure_utility: cannot read the store {dir}: {e}; run `saferplaces demo --no-serve` first"
            );
            return;
        }
    };
    let snap = Snapshot::build(data, Vec::new(), 1);
    let policy = DisclosurePolicy::default();
    let schemes: Vec<String> = snap.boundaries.schemes().map(str::to_owned).collect();
    let areas = releases::area_cells(schemes.iter().flat_map(|s| snap.boundaries.of_scheme(s)));
    let Some((first, last)) = snap.incidents.day_range() else {
        eprintln!("disclosure_utility: the store holds no incidents");
        return;
    };
    let span = TimeWindow::new(first, last).expect("ordered range");
    // Whole months, the last one complete.
    let months: Vec<TimeWindow> = months_of(span, span)
        .into_iter()
        .filter(|m| m.to() <= last)
        .collect();
    let mut cache: HashMap<(TimeWindow, Option<Category>), Release> = HashMap::new();
    println!(
        "| category | months | res | cells | mean true count | MAE window | suppressed window | MAE monthly | suppressed monthly | partial monthly |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for category in [
        None,
        Some(Category::ViolentCrime),
        Some(Category::ChildExploitationConcern),
    ] {
        let cap = releases::max_res(category);
        for len in [1usize, 3, 12] {
            let Some(tail) = months.len().checked_sub(len) else {
                continue;
            };
            let chosen = &months[tail..];
            let window =
                TimeWindow::new(chosen[0].from(), chosen[chosen.len() - 1].to()).expect("ordered");
            // Old: the window protected on its own from res-10 counts.
            let finest: Vec<(CellIndex, u32)> = truth(&snap, window, category, Resolution::Ten)
                .into_iter()
                .collect();
            let old: HashMap<CellIndex, Published> = protect_cell_levels(
                &finest,
                Resolution::Five,
                Sensitivity::for_category(category),
                &policy,
            )
            .into_iter()
            .collect();
            // New: the monthly release with the areas of every scheme, as
            // `api::hexagons::protected_cells` builds it.
            let keys: Vec<(TimeWindow, Option<Category>)> =
                chosen.iter().map(|&m| (m, category)).collect();
            for &(m, atom) in &keys {
                cache
                    .entry((m, atom))
                    .or_insert_with(|| month_release(&snap, m, atom, &areas, &policy));
            }
            let parts: Vec<&MonthRelease> =
                keys.iter().map(|k| cache[k].cells.as_slice()).collect();
            let new = releases::window_release(&parts, category);
            for r in 5..=u8::from(cap) {
                let res = Resolution::try_from(r).expect("valid resolution");
                let exact = truth(&snap, window, category, res);
                let at_res = |f: &dyn Fn(CellIndex) -> (Published, bool)| -> HashMap<CellIndex, (Published, bool)> {
                    let mut cells: Vec<CellIndex> = exact.keys().copied().collect();
                    cells.extend(new.iter().map(|(c, _)| *c).filter(|c| c.resolution() == res));
                    cells.extend(old.keys().copied().filter(|c| c.resolution() == res));
                    cells.into_iter().map(|c| (c, f(c))).collect()
                };
                let old_shown = at_res(&|c| {
                    (
                        releases::shown(
                            old.get(&c).copied().unwrap_or(Published::Value(0)),
                            category,
                        ),
                        false,
                    )
                });
                let new_shown = at_res(&|c| releases::shown_cell(&new, c, category));
                let (e_old, n, s_old) = mae(&exact, &old_shown);
                let (e_new, _, s_new) = mae(&exact, &new_shown);
                let partial = new_shown.values().filter(|s| s.1).count();
                let mean = f64::from(exact.values().sum::<u32>()) / n.max(1) as f64;
                println!(
                    "| {} | {len} | {r} | {n} | {mean:.1} | {e_old:.2} | {s_old} | {e_new:.2} | {s_new} | {partial} |",
                    category.map_or("all (general)", Category::slug),
                );
            }
        }
    }

    // The area tables: each area-month of the last twelve months as aggregate roles see it
    // (the monthly release's area figure, an area being the cells whose centre lies in it),
    // against the exact point-in-polygon count analysts see.
    println!();
    println!(
        "| category | scheme | area-months | mean exact count | MAE best fit (true) | MAE published | suppressed |"
    );
    println!("|---|---|---|---|---|---|---|");
    let last12: Vec<TimeWindow> = months[months.len().saturating_sub(12)..].to_vec();
    for category in [
        None,
        Some(Category::ViolentCrime),
        Some(Category::ChildExploitationConcern),
    ] {
        for scheme in &schemes {
            let (mut n, mut sum_exact, mut err_fit, mut err_pub, mut suppressed) =
                (0usize, 0.0, 0.0, 0.0, 0usize);
            for (k, area) in areas.iter().enumerate() {
                if area.scheme != *scheme {
                    continue;
                }
                let Some(boundary) = snap
                    .boundaries
                    .of_scheme(scheme)
                    .find(|b| b.code.as_str() == area.code)
                else {
                    continue;
                };
                for &m in &last12 {
                    let exact: u32 = releases::categories_in(category)
                        .map(|c| {
                            saferplaces::analysis::areas::count_in_area(
                                &snap.incidents,
                                boundary,
                                m,
                                Some(c),
                            )
                            .total
                        })
                        .sum();
                    let res = releases::max_res(category);
                    let cells = truth(&snap, m, category, res);
                    let fit: u32 = area
                        .cells(category)
                        .iter()
                        .filter_map(|c| cells.get(c))
                        .sum();
                    let release = cache
                        .entry((m, category))
                        .or_insert_with(|| month_release(&snap, m, category, &areas, &policy));
                    let shown = releases::shown(release.areas[k], category);
                    n += 1;
                    sum_exact += f64::from(exact);
                    err_fit += (f64::from(fit) - f64::from(exact)).abs();
                    match shown {
                        Published::Value(v) => err_pub += (f64::from(v) - f64::from(exact)).abs(),
                        Published::Suppressed => {
                            err_pub += f64::from(exact);
                            suppressed += 1;
                        }
                    }
                }
            }
            let d = n.max(1) as f64;
            println!(
                "| {} | {scheme} | {n} | {:.1} | {:.2} | {:.2} | {suppressed} ({:.0} %) |",
                category.map_or("all (general)", Category::slug),
                sum_exact / d,
                err_fit / d,
                err_pub / d,
                100.0 * suppressed as f64 / d,
            );
        }
    }
}
