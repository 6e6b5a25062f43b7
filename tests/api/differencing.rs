//! Issue 13, first finding: an anonymous user fetched `/api/v1/areas/compare` for all 78
//! month windows of one year and solved the published figures as bounded equations, pinning
//! suppressed monthly counts exactly. The attacker here does the same: every window, every
//! published figure turned into an interval of true values, then interval propagation over all
//! the sums until nothing tightens.

use serde_json::Value;

use crate::support::spawn_app;

/// Ashley and Bedminster (2013 wards of Bristol).
const AREAS: [&str; 2] = ["E05001972", "E05001974"];

/// Larger than any count here.
const UNBOUNDED: i64 = 1_000_000;

/// The true values a published figure allows: a suppressed count is at least 1 (secondary
/// suppression hides counts above the threshold too), a published count `r` is anything that
/// rounds to it (halves up) and is not below the threshold.
fn interval(figure: &Value, threshold: i64, base: i64) -> (i64, i64) {
    if figure["suppressed"] == true {
        return (1, UNBOUNDED);
    }
    let r = figure["count"].as_i64().unwrap();
    if r == 0 {
        return (0, 0);
    }
    let half = base / 2;
    let lo = (r - half).max(threshold);
    // Halves round up, so r + base/2 rounds to the next multiple when base is even.
    let hi = if base % 2 == 0 {
        r + half - 1
    } else {
        r + half
    };
    (lo, hi)
}

/// [`interval`] for a single category's area figures: a suppressed one may also stand for 0
/// (`safeguards::releases::suppressed_may_be_zero`).
fn category_interval(figure: &Value, threshold: i64, base: i64) -> (i64, i64) {
    let (lo, hi) = interval(figure, threshold, base);
    if figure["suppressed"] == true {
        (0, hi)
    } else {
        (lo, hi)
    }
}

/// The demo data's public-order incidents per (res-8 cell, month of `months`), the cell being
/// the res-8 ancestor of the incident's res-10 cell (as the incident index places it).
fn public_order_cell_months(
    months: &[saferplaces::domain::Day],
) -> std::collections::HashMap<(h3o::CellIndex, usize), i64> {
    use saferplaces::domain::Category;
    use saferplaces::store::{SqliteStore, Store};
    let data = SqliteStore::open(crate::support::demo_data_dir())
        .unwrap()
        .load()
        .unwrap();
    let mut counts = std::collections::HashMap::new();
    for i in &data.incidents {
        let Some(location) = i.location else { continue };
        let Some(m) = months.iter().position(|m| *m == i.time.day.month_start()) else {
            continue;
        };
        if i.category != Category::PublicOrder {
            continue;
        }
        let p = location.point;
        let cell = h3o::LatLng::new(p.lat(), p.lon())
            .unwrap()
            .to_cell(h3o::Resolution::Ten)
            .parent(h3o::Resolution::Eight)
            .unwrap();
        *counts.entry((cell, m)).or_insert(0) += 1;
    }
    counts
}

/// The res-8 cells whose centre lies in `ward`'s outline (the ward as aggregate roles' tables
/// count it), found by walking the grid around the outline's first vertex.
fn ward_cells(ward: &str) -> Vec<h3o::CellIndex> {
    use geo::Contains;
    use saferplaces::store::{SqliteStore, Store};
    let data = SqliteStore::open(crate::support::demo_data_dir())
        .unwrap()
        .load()
        .unwrap();
    let outline = data
        .boundaries
        .iter()
        .find(|b| b.scheme.as_str() == "ward" && b.code.as_str() == ward)
        .unwrap()
        .geometry
        .clone();
    let start = outline.0[0].exterior().0[0];
    let origin = h3o::LatLng::new(start.y, start.x)
        .unwrap()
        .to_cell(h3o::Resolution::Eight);
    // Bristol's wards are at most a few km across; res-8 cells are about 0.9 km apart.
    let cells: Vec<h3o::CellIndex> = origin.grid_disk(20);
    let inside: Vec<h3o::CellIndex> = cells
        .into_iter()
        .filter(|c| {
            let centre = h3o::LatLng::from(*c);
            outline.contains(&geo::Point::new(centre.lng(), centre.lat()))
        })
        .collect();
    assert!(!inside.is_empty(), "ward {ward} holds no res-8 cell centre");
    inside
}

/// The true count of public-order incidents in `ward` per month of `months`, as aggregate roles'
/// area tables count them: an incident is in the ward whose outline holds the centre of its
/// res-8 cell.
fn best_fit_counts(ward: &str, months: &[saferplaces::domain::Day]) -> Vec<i64> {
    let cells = ward_cells(ward);
    let counts = public_order_cell_months(months);
    (0..months.len())
        .map(|m| cells.iter().filter_map(|c| counts.get(&(*c, m))).sum())
        .collect()
}

/// One published sum: the true values of `vars` add up to a value in `lo..=hi`.
struct Sum {
    vars: Vec<usize>,
    lo: i64,
    hi: i64,
}

/// Interval propagation: tightens every variable's bounds from every sum until a fixpoint.
fn propagate(bounds: &mut [(i64, i64)], sums: &[Sum]) {
    for _ in 0..1_000 {
        let mut changed = false;
        for s in sums {
            let lo_sum: i64 = s.vars.iter().map(|&v| bounds[v].0).sum();
            let hi_sum: i64 = s.vars.iter().map(|&v| bounds[v].1).sum();
            for &v in &s.vars {
                let (lo, hi) = bounds[v];
                let new_lo = lo.max(s.lo - (hi_sum - hi));
                let new_hi = hi.min(s.hi - (lo_sum - lo));
                assert!(
                    new_lo <= new_hi,
                    "the published figures contradict the attacker's model"
                );
                if (new_lo, new_hi) != (lo, hi) {
                    bounds[v] = (new_lo, new_hi);
                    changed = true;
                }
            }
        }
        if !changed {
            return;
        }
    }
}

/// The first days of the twelve whole months ending with the last whole month of the data.
fn last_twelve_months(app: &crate::support::TestApp) -> Vec<saferplaces::domain::Day> {
    let meta = app.get("/api/v1/meta").json();
    let last: saferplaces::domain::Day = meta["data_to"]
        .as_str()
        .unwrap_or_else(|| panic!("no data_to in {meta}"))
        .parse()
        .unwrap();
    let mut months = vec![last.month_start().minus_days(1).month_start()];
    while months.len() < 12 {
        months.insert(0, months[0].minus_days(1).month_start());
    }
    months
}

#[test]
fn every_month_window_of_an_area_comparison_pins_no_suppressed_month() {
    let app = spawn_app();
    let months = last_twelve_months(&app);
    let month_end = |m: saferplaces::domain::Day| m.plus_days(40).month_start().minus_days(1);
    // Variables: true count of (area, month); plus per-window row totals and grand totals as sums.
    let var = |area: usize, month: usize| area * 12 + month;
    let mut sums: Vec<Sum> = Vec::new();
    let mut first: Option<(Vec<Value>, i64, i64)> = None;
    let mut repeated_identically = true;
    for a in 0..12 {
        for b in a..12 {
            let path = format!(
                "/api/v1/areas/compare?scheme=ward&a={}&b={}&category=public-order&from={}&to={}",
                AREAS[0],
                AREAS[1],
                months[a],
                month_end(months[b])
            );
            let reply = app.get(&path);
            assert_eq!(reply.status, 200, "{}", reply.body);
            let v = reply.json();
            repeated_identically &= app.get(&path).json() == v;
            let threshold = v["disclosure"]["min_count"].as_i64().unwrap();
            let base = v["disclosure"]["rounding"].as_i64().unwrap();
            let published_months = v["months"].as_array().unwrap().len();
            assert_eq!(published_months, b - a + 1, "{path}");
            let mut grand_vars = Vec::new();
            for (i, area) in v["areas"].as_array().unwrap().iter().enumerate() {
                let vars: Vec<usize> = (a..=b).map(|m| var(i, m)).collect();
                for (k, figure) in area["monthly"].as_array().unwrap().iter().enumerate() {
                    let (lo, hi) = category_interval(figure, threshold, base);
                    sums.push(Sum {
                        vars: vec![var(i, a + k)],
                        lo,
                        hi,
                    });
                }
                let (lo, hi) = category_interval(&area["incidents"], threshold, base);
                sums.push(Sum {
                    vars: vars.clone(),
                    lo,
                    hi,
                });
                grand_vars.extend(vars);
            }
            let (lo, hi) = category_interval(&v["total"], threshold, base);
            sums.push(Sum {
                vars: grand_vars,
                lo,
                hi,
            });
            if a == 0 && b == 0 {
                first = Some((v["areas"].as_array().unwrap().clone(), threshold, base));
            }
        }
    }
    assert!(
        repeated_identically,
        "identical requests gave different figures"
    );
    let (_, threshold, _) = first.unwrap();
    let mut bounds = vec![(0_i64, UNBOUNDED); 24];
    propagate(&mut bounds, &sums);
    // The months whose true count is below the threshold (the test knows the truth, the
    // attacker does not): the wards as aggregate roles' tables count them.
    let mut suppressed = Vec::new();
    for (i, ward) in AREAS.iter().enumerate() {
        for (m, n) in best_fit_counts(ward, &months).into_iter().enumerate() {
            let (lo, hi) = bounds[var(i, m)];
            assert!(lo <= n && n <= hi, "the attacker's model is unsound");
            if (1..threshold).contains(&n) {
                suppressed.push(var(i, m));
            }
        }
    }
    assert!(
        !suppressed.is_empty(),
        "the demo has small monthly counts here; the attack needs some"
    );
    let pinned: Vec<(usize, (i64, i64))> = suppressed
        .iter()
        .map(|&v| (v, bounds[v]))
        .filter(|(_, (lo, hi))| hi - lo + 1 < threshold - 1)
        .collect();
    assert!(
        pinned.is_empty(),
        "the attacker narrowed {} of {} suppressed months below 1..{}: {pinned:?}",
        pinned.len(),
        suppressed.len(),
        threshold - 1
    );
}

/// The four authorities' outlines, the hot spot layers' study area.
fn study_area() -> geo::MultiPolygon<f64> {
    use saferplaces::store::{SqliteStore, Store};
    let data = SqliteStore::open(crate::support::demo_data_dir())
        .unwrap()
        .load()
        .unwrap();
    geo::MultiPolygon(
        data.boundaries
            .iter()
            .filter(|b| b.scheme.as_str() == "lad")
            .flat_map(|b| b.geometry.0.iter().cloned())
            .collect(),
    )
}

/// The counts of a published hexagon layer as the attacker reads them: a suppressed cell is 0.
fn published_counts(layer: &Value) -> Vec<(h3o::CellIndex, f64)> {
    hexagon_figures(layer)
        .into_iter()
        .map(|(cell, (count, _))| (cell.parse().unwrap(), count.unwrap_or(0) as f64))
        .collect()
}

/// Issue 13, fifth finding: hot spot bins for aggregate roles were computed from exact counts,
/// so a bin could reveal a suppressed neighbourhood. Now they are Gi* of the published counts:
/// the attacker can recompute every bin from the published hexagons (a suppressed cell taken
/// as 0), so a bin tells nothing the published counts do not.
#[test]
fn public_hot_spot_bins_are_gi_star_of_the_published_counts() {
    use saferplaces::analysis::gistar::{CellUniverse, GiStarSettings, hotspots};
    let app = spawn_app();
    let meta = app.get("/api/v1/meta").json();
    let last: saferplaces::domain::Day = meta["data_to"].as_str().unwrap().parse().unwrap();
    let to = last.month_start().minus_days(1);
    let from = to.month_start().minus_days(62).month_start();
    let q = format!("res=8&from={from}&to={to}&category=public-order");
    let published = app.get(&format!("/api/v1/hexagons?{q}")).json();
    let counts = published_counts(&published);
    assert!(
        published["features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["properties"]["suppressed"] == true),
        "the window has suppressed cells, or the test proves nothing"
    );
    let area = study_area();
    let universe =
        CellUniverse::in_polygons(&area, "four authorities", h3o::Resolution::Eight, 400_000)
            .unwrap();
    let expected: std::collections::BTreeMap<String, i64> = hotspots(
        &universe,
        &counts,
        &GiStarSettings { k: 1, fdr: true },
        None,
    )
    .unwrap()
    .cells
    .iter()
    .filter(|c| c.bin != 0)
    .map(|c| (c.h3.to_string(), i64::from(c.bin)))
    .collect();
    let served = app.get(&format!("/api/v1/hotspots?{q}")).json();
    let got: std::collections::BTreeMap<String, i64> = served["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["h3"].as_str().unwrap().to_owned(),
                c["bin"].as_i64().unwrap(),
            )
        })
        .collect();
    let differ: Vec<_> = expected
        .iter()
        .filter(|(cell, bin)| got.get(*cell) != Some(bin))
        .chain(got.iter().filter(|(cell, _)| !expected.contains_key(*cell)))
        .take(5)
        .collect();
    assert!(
        differ.is_empty() && !got.is_empty(),
        "{} published bins, {} recomputed from the published counts; differing: {differ:?}",
        got.len(),
        expected.len()
    );
}

/// Issue 13, point 3: emerging hot spot categories for aggregate roles are the analysis of the
/// published monthly counts (the same release as each month's hexagon layer), so a category
/// says nothing the published months do not.
#[test]
fn public_emerging_categories_are_the_analysis_of_the_published_monthly_counts() {
    use saferplaces::analysis::ehsa::{
        Alignment, CubeSettings, EhsaSettings, SpaceTimeCube, StepUnit, cube_steps,
        emerging_hotspots,
    };
    use saferplaces::analysis::gistar::CellUniverse;
    let app = spawn_app();
    let meta = app.get("/api/v1/meta").json();
    let last: saferplaces::domain::Day = meta["data_to"].as_str().unwrap().parse().unwrap();
    let to = last.month_start().minus_days(1);
    let mut from = to.month_start();
    for _ in 0..11 {
        from = from.minus_days(1).month_start();
    }
    let steps = cube_steps(StepUnit::Month, Alignment::EndTime, from, to).unwrap();
    assert_eq!(steps.len(), 12);
    let per_step: Vec<Vec<(h3o::CellIndex, f64)>> = steps
        .iter()
        .map(|s| {
            let v = app
                .get(&format!(
                    "/api/v1/hexagons?res=7&from={}&to={}&category=public-order",
                    s.from, s.to
                ))
                .json();
            published_counts(&v)
        })
        .collect();
    let area = study_area();
    let universe =
        CellUniverse::in_polygons(&area, "four authorities", h3o::Resolution::Seven, 400_000)
            .unwrap();
    let cube = SpaceTimeCube::from_step_counts(
        &universe,
        steps,
        &per_step,
        &CubeSettings {
            step: StepUnit::Month,
            alignment: Alignment::EndTime,
            from: Some(from),
            to: Some(to),
            drop_never_observed: false,
        },
    )
    .unwrap();
    let expected: std::collections::BTreeMap<String, i64> =
        emerging_hotspots(&cube, &EhsaSettings::default())
            .unwrap()
            .cells
            .iter()
            .filter(|c| c.category != 0)
            .map(|c| (c.h3.to_string(), i64::from(c.category)))
            .collect();
    let served = app
        .get(&format!(
            "/api/v1/emerging?res=7&step=month&from={from}&to={to}&category=public-order"
        ))
        .json();
    let got: std::collections::BTreeMap<String, i64> = served["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["h3"].as_str().unwrap().to_owned(),
                c["code"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(
        !got.is_empty(),
        "no emerging pattern: the test proves nothing"
    );
    assert_eq!(
        got, expected,
        "categories differ from the published months' analysis"
    );
}

/// The published cells of one hexagon layer: cell → (count or `None` when suppressed, partial).
fn hexagon_figures(layer: &Value) -> std::collections::BTreeMap<String, (Option<i64>, bool)> {
    layer["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = &f["properties"];
            (
                p["h3"].as_str().unwrap().to_owned(),
                (p["count"].as_i64(), p["partial"] == true),
            )
        })
        .collect()
}

/// Issue 13, point 1, on the map: the 78-window attack of the first finding, sent to
/// `/api/v1/hexagons` (res 8, all categories, anonymous). Each window used to be protected on
/// its own, so windows one month apart differenced into the months: the attacker below pins
/// suppressed cell-months. Now every window of a cell is the sum of its published months
/// (the monthly release), which the test checks figure by figure, so the windows add nothing to
/// the single months, and the same attacker (who, knowing the method, reads a window as that
/// sum) pins nothing.
#[test]
#[expect(
    clippy::too_many_lines,
    reason = "a test that walks one scenario end to end, checking each window figure by figure"
)]
fn every_month_window_of_the_hexagon_layer_is_the_sum_of_its_published_months() {
    let app = spawn_app();
    let months = last_twelve_months(&app);
    let month_end = |m: saferplaces::domain::Day| m.plus_days(40).month_start().minus_days(1);
    let fetch = |a: usize, b: usize| {
        let path = format!(
            "/api/v1/hexagons?res=8&from={}&to={}",
            months[a],
            month_end(months[b])
        );
        let reply = app.get(&path);
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        reply.json()
    };
    let single: Vec<Value> = (0..12).map(|m| fetch(m, m)).collect();
    let threshold = single[0]["disclosure"]["min_count"].as_i64().unwrap();
    let base = single[0]["disclosure"]["rounding"].as_i64().unwrap();
    let single: Vec<_> = single.iter().map(hexagon_figures).collect();
    // Variables: the true count of (cell, month).
    let cells: Vec<String> = single
        .iter()
        .flat_map(|m| m.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let index: std::collections::HashMap<&str, usize> = cells
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let var = |cell: usize, month: usize| cell * 12 + month;
    let figure = |m: &std::collections::BTreeMap<String, (Option<i64>, bool)>, cell: &str| match m
        .get(cell)
    {
        None => serde_json::json!({"count": 0, "suppressed": false}),
        Some((None, _)) => serde_json::json!({"count": null, "suppressed": true}),
        Some((Some(n), _)) => serde_json::json!({"count": n, "suppressed": false}),
    };
    let mut sums: Vec<Sum> = Vec::new();
    for (m, release) in single.iter().enumerate() {
        for (i, cell) in cells.iter().enumerate() {
            let (lo, hi) = interval(&figure(release, cell), threshold, base);
            sums.push(Sum {
                vars: vec![var(i, m)],
                lo,
                hi,
            });
        }
    }
    let mut not_sums = Vec::new();
    for a in 0..12 {
        for b in a + 1..12 {
            let window = fetch(a, b);
            let monthly_release = window["disclosure"]["method"]
                .as_str()
                .is_some_and(|m| m.starts_with("monthly release"));
            let figures = hexagon_figures(&window);
            for (cell, &(count, partial)) in &figures {
                // What the single months publish for this cell.
                let published: Vec<Option<i64>> = (a..=b)
                    .map(|m| single[m].get(cell).map_or(Some(0), |f| f.0))
                    .collect();
                let sum: i64 = published.iter().flatten().sum();
                let any_suppressed = published.iter().any(Option::is_none);
                let expected = if sum > 0 { Some(sum) } else { None };
                if (count, partial) != (expected, sum > 0 && any_suppressed) {
                    not_sums.push(format!(
                        "{cell} {a}..{b}: {count:?} partial {partial}, months {published:?}"
                    ));
                }
                let Some(&i) = index.get(cell.as_str()) else {
                    continue;
                };
                // The attacker's reading of a window: under a monthly release it is the sum of
                // the published months, which the single months already say; otherwise it is a
                // protected true total (the review's model).
                if !monthly_release {
                    let (lo, hi) = interval(&figure(&figures, cell), threshold, base);
                    sums.push(Sum {
                        vars: (a..=b).map(|m| var(i, m)).collect(),
                        lo,
                        hi,
                    });
                }
            }
        }
    }
    let mut bounds = vec![(0_i64, UNBOUNDED); cells.len() * 12];
    propagate(&mut bounds, &sums);
    let pinned: Vec<String> = cells
        .iter()
        .enumerate()
        .flat_map(|(i, cell)| (0..12).map(move |m| (i, cell, m)))
        .filter(|&(_, cell, m)| single[m].get(cell).is_some_and(|f| f.0.is_none()))
        .filter(|&(i, _, m)| {
            let (lo, hi) = bounds[var(i, m)];
            hi - lo + 1 < threshold - 1
        })
        .map(|(i, cell, m)| format!("{cell} month {m}: {:?}", bounds[var(i, m)]))
        .collect();
    assert!(
        pinned.is_empty(),
        "the attacker narrowed {} suppressed cell-months below 1..{}: {:?}",
        pinned.len(),
        threshold - 1,
        &pinned[..pinned.len().min(5)]
    );
    assert!(
        not_sums.is_empty(),
        "{} window figures are not the sum of their published months: {:?}",
        not_sums.len(),
        &not_sums[..not_sums.len().min(5)]
    );
    assert!(
        single.iter().any(|m| m.values().any(|f| f.0.is_none())),
        "the months have suppressed cells, or the test proves nothing"
    );
}

/// The attack harness's category finding (`src/safeguards/attack_tests.rs`,
/// `the_category_layers_and_all_categories_together_pin_no_suppressed_count`), through the
/// server: a category layer used to list only the cells holding that category, so its zeros
/// told which cells hold at least one incident of each category, lower bounds that add up
/// against the "all categories" layer. Now a category layer lists every cell "all categories"
/// lists, and its zeros there are shown as suppressed.
#[test]
fn a_category_layer_does_not_tell_which_occupied_cells_lack_the_category() {
    let app = spawn_app();
    let q = "res=8&from=2026-09-01&to=2026-09-30";
    let all = hexagon_figures(&app.get(&format!("/api/v1/hexagons?{q}")).json());
    let public = hexagon_figures(
        &app.get(&format!("/api/v1/hexagons?{q}&category=public-order"))
            .json(),
    );
    let exact = hexagon_figures(
        &app.get_as(
            "vru_analyst",
            &format!("/api/v1/hexagons?{q}&category=public-order"),
            &[],
        )
        .json(),
    );
    let lacking: Vec<&String> = all.keys().filter(|c| !exact.contains_key(*c)).collect();
    assert!(
        !lacking.is_empty(),
        "every occupied cell holds public order, so the test shows nothing"
    );
    for cell in &lacking {
        assert_eq!(
            public.get(*cell).map(|f| f.0),
            Some(None),
            "{cell}: no public-order incident, but occupied; it must be listed as suppressed"
        );
    }
    assert!(
        public.keys().all(|c| all.contains_key(c)),
        "a category cell outside the occupied cells"
    );
}

/// Issue 13, point 1: the area tables and the map together. A ward-month used to be counted
/// point by point and protected on its own, apart from the map's network, so a figure one
/// output suppressed the other published or bounded (the attack harness pinned values that
/// way). Now a ward is the union of the res-8 cells whose centre lies in it, and each month's
/// ward figures are protected with the map as one release. The attacker below reads twelve
/// single months of the public-order map (res 8) and of the two wards' tables, takes each ward
/// as the sum of its cells, and narrows no suppressed cell or ward-month below the suppression
/// range; the test's truth (from the store) checks that the attacker's model is sound.
#[test]
fn the_area_tables_and_the_map_together_narrow_no_suppressed_value() {
    let app = spawn_app();
    let months = last_twelve_months(&app);
    let month_end = |m: saferplaces::domain::Day| m.plus_days(40).month_start().minus_days(1);
    let wards: Vec<Vec<h3o::CellIndex>> = AREAS.iter().map(|w| ward_cells(w)).collect();
    let cells: Vec<h3o::CellIndex> = wards.iter().flatten().copied().collect();
    let truth = public_order_cell_months(&months);
    // Variables: (cell, month) for every cell of both wards.
    let var = |cell: usize, m: usize| cell * 12 + m;
    let mut sums: Vec<Sum> = Vec::new();
    let mut threshold = 0;
    // Suppressed figures the attacker must not narrow: (variables summed, true value).
    let mut protected: Vec<(Vec<usize>, i64)> = Vec::new();
    for (m, first) in months.iter().enumerate() {
        let window = format!(
            "category=public-order&from={first}&to={}",
            month_end(*first)
        );
        let map = app
            .get(&format!(
                "/api/v1/hexagons?res=8&bbox=-2.70,51.38,-2.50,51.52&{window}"
            ))
            .json();
        let figures = hexagon_figures(&map);
        let table = app
            .get(&format!(
                "/api/v1/areas/compare?scheme=ward&a={}&b={}&{window}",
                AREAS[0], AREAS[1]
            ))
            .json();
        threshold = table["disclosure"]["min_count"].as_i64().unwrap();
        let base = table["disclosure"]["rounding"].as_i64().unwrap();
        for (i, cell) in cells.iter().enumerate() {
            let figure = match figures.get(&cell.to_string()) {
                None => serde_json::json!({"count": 0, "suppressed": false}),
                Some((None, _)) => serde_json::json!({"count": null, "suppressed": true}),
                Some((Some(n), _)) => serde_json::json!({"count": n, "suppressed": false}),
            };
            let (lo, hi) = category_interval(&figure, threshold, base);
            sums.push(Sum {
                vars: vec![var(i, m)],
                lo,
                hi,
            });
            let t = truth.get(&(*cell, m)).copied().unwrap_or(0);
            if figure["suppressed"] == true && t >= 1 {
                protected.push((vec![var(i, m)], t));
            }
        }
        let mut offset = 0;
        for (w, ward) in wards.iter().enumerate() {
            let figure = &table["areas"][w]["monthly"][0];
            let (lo, hi) = category_interval(figure, threshold, base);
            let vars: Vec<usize> = (offset..offset + ward.len()).map(|i| var(i, m)).collect();
            let t: i64 = ward.iter().filter_map(|c| truth.get(&(*c, m))).sum();
            if figure["suppressed"] == true && t >= 1 {
                protected.push((vars.clone(), t));
            }
            sums.push(Sum { vars, lo, hi });
            offset += ward.len();
        }
    }
    assert!(
        !protected.is_empty(),
        "the demo has suppressed public-order figures here; the attack needs some"
    );
    let mut bounds = vec![(0_i64, UNBOUNDED); cells.len() * 12];
    propagate(&mut bounds, &sums);
    let mut narrowed = Vec::new();
    for (vars, t) in &protected {
        let lo: i64 = vars.iter().map(|&v| bounds[v].0).sum();
        let hi: i64 = vars
            .iter()
            .map(|&v| bounds[v].1)
            .sum::<i64>()
            .min(UNBOUNDED);
        assert!(lo <= *t && *t <= hi, "the attacker's model is unsound");
        if hi - lo + 1 < threshold - 1 {
            narrowed.push((vars.clone(), *t, (lo, hi)));
        }
    }
    assert!(
        narrowed.is_empty(),
        "the attacker narrowed {} of {} suppressed figures: {narrowed:?}",
        narrowed.len(),
        protected.len()
    );
}
