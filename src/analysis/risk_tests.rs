use h3o::{LatLng, Resolution};

use super::*;

fn day(y: i32, m: u32, d: u32) -> Day {
    Day::from_ymd(y, m, d).expect("valid day")
}

/// A small deterministic generator (`SplitMix64`).
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        crate::synthetic::rng::splitmix64(&mut self.0)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn event(lon: f64, lat: f64, d: Day, child: bool) -> DayEvent {
    DayEvent {
        at: LonLat::new(lon, lat).expect("valid point"),
        day: d,
        category: Category::Burglary,
        involves_child: child,
    }
}

/// A year of background incidents over a 10 km square of Bristol, plus chains: an incident
/// followed by two more within about 50 m and 1 to 3 days (a strong near-repeat pattern).
fn year_with_near_repeats(as_of: Day) -> Vec<DayEvent> {
    let mut g = Gen(7);
    let mut out = Vec::new();
    for _ in 0..400 {
        let d = as_of.minus_days((g.unit() * 364.0) as u16);
        out.push(event(
            -2.66 + g.unit() * 0.14,
            51.41 + g.unit() * 0.09,
            d,
            false,
        ));
    }
    for _ in 0..80 {
        let d = as_of.minus_days(30 + (g.unit() * 330.0) as u16);
        let (lon, lat) = (-2.66 + g.unit() * 0.14, 51.41 + g.unit() * 0.09);
        out.push(event(lon, lat, d, false));
        for k in 1..=2u16 {
            out.push(event(
                lon + (g.unit() - 0.5) * 0.0006,
                lat + (g.unit() - 0.5) * 0.0004,
                d.plus_days(k),
                false,
            ));
        }
    }
    out
}

#[test]
fn a_significant_pattern_projects_windows_from_recent_incidents_only() {
    let as_of = day(2024, 6, 30);
    let mut events = year_with_near_repeats(as_of);
    // Background incidents are old (the recent period is the last 28 days): drop any that
    // fell inside it, then add one recent incident at a known place and day.
    let recent_from = as_of.minus_days(27);
    events.retain(|e| e.day < recent_from);
    let fresh = event(-2.5879, 51.4545, as_of.minus_days(2), false);
    events.push(fresh);
    let layer = risk_layer(&events, None, as_of, &RiskSettings::default()).expect("layer");
    assert_eq!(layer.recent_incidents, 1);
    assert!(
        !layer.bands.is_empty(),
        "the chains make the first band significant: {:?}",
        layer.warnings
    );
    // The shortest band (0-200 m, 0-7 days) must be among the elevated ones.
    assert!(
        layer
            .bands
            .iter()
            .any(|b| (b.max_distance_m - 200.0).abs() < 1e-9
                && b.from_days == 0
                && b.knox_ratio > 1.0)
    );
    let own = LatLng::new(51.4545, -2.5879)
        .expect("valid")
        .to_cell(Resolution::Nine);
    let w = layer
        .windows
        .iter()
        .find(|w| w.h3 == own)
        .expect("the incident's own cell is at risk");
    assert_eq!(
        w.from,
        as_of.minus_days(2),
        "risk starts on the incident's day"
    );
    assert!(w.to >= as_of, "a window that ended before as_of is dropped");
    assert_eq!(w.incidents, 1);
    // Every window is near the one recent incident: within the largest band plus a cell.
    let max_band = layer
        .bands
        .iter()
        .map(|b| b.max_distance_m)
        .fold(0.0, f64::max);
    for w in &layer.windows {
        let c = LatLng::from(w.h3);
        let d = LatLng::new(51.4545, -2.5879).expect("valid").distance_m(c);
        assert!(d <= max_band + 400.0, "{} is {d} m away", w.h3);
    }
    // Moving as_of past every window leaves nothing.
    let later =
        risk_layer(&events, None, as_of.plus_days(60), &RiskSettings::default()).expect("layer");
    assert!(later.windows.is_empty());
}

#[test]
fn no_pattern_or_too_few_incidents_gives_no_windows_and_says_why() {
    let as_of = day(2024, 6, 30);
    let few: Vec<DayEvent> = (0..5)
        .map(|i| event(-2.59, 51.45, as_of.minus_days(i), false))
        .collect();
    let layer = risk_layer(&few, None, as_of, &RiskSettings::default()).expect("layer");
    assert!(layer.windows.is_empty() && layer.bands.is_empty());
    assert!(
        layer.warnings[0].contains("at least 20"),
        "{:?}",
        layer.warnings
    );

    // Uniform in space and time, no chains: for this seed no band is significant, so the
    // layer draws nothing and says so.
    let mut g = Gen(99);
    let uniform: Vec<DayEvent> = (0..300)
        .map(|_| {
            event(
                -2.66 + g.unit() * 0.14,
                51.41 + g.unit() * 0.09,
                as_of.minus_days((g.unit() * 364.0) as u16),
                false,
            )
        })
        .collect();
    let layer = risk_layer(&uniform, None, as_of, &RiskSettings::default()).expect("layer");
    assert!(layer.bands.is_empty(), "{:?}", layer.bands);
    assert!(layer.windows.is_empty());
    assert!(
        layer
            .warnings
            .iter()
            .any(|w| w.contains("no space-time band")),
        "{:?}",
        layer.warnings
    );
}

#[test]
fn the_category_filter_and_the_study_period_select_the_events() {
    let as_of = day(2024, 6, 30);
    let mut events = year_with_near_repeats(as_of);
    let all = risk_layer(&events, None, as_of, &RiskSettings::default()).expect("layer");
    for e in &mut events {
        e.category = Category::Robbery;
    }
    let none = risk_layer(
        &events,
        Some(Category::Burglary),
        as_of,
        &RiskSettings::default(),
    )
    .expect("layer");
    assert_eq!(none.study_incidents, 0);
    assert!(none.windows.is_empty());
    let robbery = risk_layer(
        &events,
        Some(Category::Robbery),
        as_of,
        &RiskSettings::default(),
    )
    .expect("layer");
    assert_eq!(robbery.study_incidents, all.study_incidents);
    assert_eq!(robbery.windows, all.windows);
    // Incidents after as_of are not seen.
    let earlier =
        risk_layer(&events, None, day(2023, 12, 31), &RiskSettings::default()).expect("layer");
    assert!(earlier.study_incidents < all.study_incidents);
}

#[test]
fn bad_settings_are_refused() {
    let as_of = day(2024, 6, 30);
    let bad = RiskSettings {
        alpha: 1.5,
        ..RiskSettings::default()
    };
    assert!(risk_layer(&[], None, as_of, &bad).is_err());
    let bad = RiskSettings {
        min_ratio: 0.5,
        ..RiskSettings::default()
    };
    assert!(risk_layer(&[], None, as_of, &bad).is_err());
    let bad = RiskSettings {
        recent_days: 0,
        ..RiskSettings::default()
    };
    assert!(risk_layer(&[], None, as_of, &bad).is_err());
}

fn layer_with(windows: Vec<RiskCell>, as_of: Day) -> RiskLayer {
    RiskLayer {
        settings: RiskSettings::default(),
        as_of,
        category: None,
        study_incidents: 0,
        recent_incidents: 0,
        calibrated_as_of: as_of,
        bands: Vec::new(),
        windows,
        warnings: Vec::new(),
    }
}

#[test]
fn aggregate_roles_get_parent_cells_whole_weeks_and_only_well_supported_cells() {
    let as_of = day(2024, 6, 30); // a Sunday
    let here = LatLng::new(51.4545, -2.5879).expect("valid");
    let cell9 = here.to_cell(Resolution::Nine);
    // Wednesday 19 June to Tuesday 25 June.
    let windows = vec![RiskCell {
        h3: cell9,
        from: day(2024, 6, 19),
        to: day(2024, 7, 2),
        knox_ratio: 2.345,
        incidents: 3,
        involves_child: false,
    }];
    let layer = layer_with(windows, as_of);
    let events: Vec<DayEvent> = (0..3)
        .map(|i| event(-2.5879, 51.4545, day(2024, 6, 19 + i), false))
        .collect();
    let out = coarsen(&layer, &events, Resolution::Seven, |child| {
        if child { 10 } else { 3 }
    })
    .expect("coarse");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].h3, cell9.parent(Resolution::Seven).expect("parent"));
    assert_eq!(out[0].from, day(2024, 6, 17), "widened to Monday");
    assert_eq!(out[0].to, day(2024, 7, 7), "widened to Sunday");
    assert_eq!(out[0].from.weekday_mon0(), 0);
    assert_eq!(out[0].to.weekday_mon0(), 6);
    assert!((out[0].knox_ratio - 2.3).abs() < 1e-12);

    // Below the threshold: left out entirely.
    let out = coarsen(&layer, &events[..2], Resolution::Seven, |_| 3).expect("coarse");
    assert!(out.is_empty());
    // A child involved raises the threshold.
    let mut child = events.clone();
    child[0].involves_child = true;
    let out = coarsen(
        &layer,
        &child,
        Resolution::Seven,
        |c| if c { 10 } else { 3 },
    )
    .expect("coarse");
    assert!(out.is_empty());
    // A finer resolution than the layer's is refused.
    assert!(coarsen(&layer, &events, Resolution::Ten, |_| 3).is_err());
}

#[test]
fn the_map_draws_the_window_in_force_else_the_next() {
    let as_of = day(2024, 6, 30);
    let c = LatLng::new(51.45, -2.59)
        .expect("valid")
        .to_cell(Resolution::Nine);
    let w = |f: Day, t: Day| RiskCell {
        h3: c,
        from: f,
        to: t,
        knox_ratio: 2.0,
        incidents: 1,
        involves_child: false,
    };
    let windows = vec![
        w(day(2024, 6, 1), day(2024, 6, 10)),
        w(day(2024, 7, 3), day(2024, 7, 9)),
        w(day(2024, 6, 28), day(2024, 7, 1)),
    ];
    let drawn = current_windows(&windows, as_of, |w| (w.h3, w.from, w.to));
    assert_eq!(drawn.len(), 1);
    assert_eq!(drawn[0].from, day(2024, 6, 28));
    let drawn = current_windows(&windows[..2], as_of, |w| (w.h3, w.from, w.to));
    assert_eq!(drawn[0].from, day(2024, 7, 3), "else the next to start");
}

#[test]
fn weak_bands_are_not_projected_and_a_calibration_can_serve_a_later_day() {
    let as_of = day(2024, 6, 30);
    let events = year_with_near_repeats(as_of);
    let strict = RiskSettings {
        min_ratio: 1e6,
        ..RiskSettings::default()
    };
    let none = risk_layer(&events, None, as_of, &strict).expect("layer");
    assert!(none.bands.is_empty() && none.windows.is_empty());
    assert!(
        none.warnings
            .iter()
            .any(|w| w.contains("Knox ratio of at least"))
    );
    let all = risk_layer(&events, None, as_of, &RiskSettings::default()).expect("layer");
    assert!(all.bands.iter().all(|b| b.knox_ratio >= 1.2));

    // Calibrate, then project: the same as the one call.
    let settings = RiskSettings::default();
    let c = calibrate(&events, None, as_of, &settings).expect("calibration");
    assert_eq!(project(&events, as_of, &settings, &c).expect("layer"), all);
    // A new incident two days later, projected through the older calibration, gets its
    // windows at once and says which calibration it used.
    let mut later = events.clone();
    let fresh = event(-2.5, 51.52, as_of.plus_days(2), false);
    later.push(fresh);
    let layer = project(&later, as_of.plus_days(2), &settings, &c).expect("layer");
    assert_eq!(layer.calibrated_as_of, as_of);
    assert_eq!(layer.as_of, as_of.plus_days(2));
    let own = LatLng::new(51.52, -2.5)
        .expect("valid")
        .to_cell(Resolution::Nine);
    assert!(
        layer
            .windows
            .iter()
            .any(|w| w.h3 == own && w.from == as_of.plus_days(2))
    );
}

#[test]
fn a_calibration_with_more_close_pairs_than_the_budget_says_it_streamed_and_keeps_its_bands() {
    // 4,000 incidents of a year within about 300 m: 8 million close pairs, more than the
    // 64 MiB pair budget holds, with near repeats (every fifth incident follows the one
    // before it the next day at the same place).
    let as_of = day(2024, 6, 30);
    let mut g = Gen(15);
    let mut events: Vec<DayEvent> = Vec::with_capacity(4_000);
    while events.len() < 4_000 {
        let e = match events.last() {
            Some(prev) if events.len().is_multiple_of(5) && prev.day < as_of => {
                event(prev.at.lon(), prev.at.lat(), prev.day.plus_days(1), false)
            }
            _ => event(
                -2.59 + g.unit() * 0.004,
                51.45 + g.unit() * 0.0027,
                as_of.minus_days((g.unit() * 364.0) as u16),
                false,
            ),
        };
        events.push(e);
    }
    let settings = RiskSettings::default();
    let c = calibrate(&events, None, as_of, &settings).expect("calibration");
    assert!(
        c.warnings.iter().any(|w| w.contains("passes")),
        "{:?}",
        c.warnings
    );
    // The same bands as a run that holds every pair.
    let xy = to_bng(events.iter().map(|e| e.at)).expect("on the grid");
    let points: Vec<SpaceTimePoint> = xy
        .iter()
        .zip(&events)
        .map(|(p, e)| SpaceTimePoint {
            x_m: p[0],
            y_m: p[1],
            day: e.day,
        })
        .collect();
    let whole = knox_with_pair_budget(&points, &settings.knox, usize::MAX).expect("knox");
    assert_eq!(whole.pair_passes, 1);
    let mut bands = whole.elevated_bands(settings.alpha);
    bands.retain(|b| b.knox_ratio >= settings.min_ratio);
    assert!(!bands.is_empty());
    assert_eq!(c.bands, bands);
}

#[test]
fn a_study_period_over_the_sample_cap_is_sampled_the_same_in_any_order_and_says_so() {
    // A year of 40,000 incidents over a Bristol square, with a strong near-repeat pattern
    // (every other incident repeats at the same place the next day).
    let as_of = day(2024, 6, 30);
    let mut g = Gen(21);
    let mut events: Vec<DayEvent> = Vec::with_capacity(40_000);
    while events.len() < 40_000 {
        let e = match events.last() {
            Some(prev) if events.len() % 2 == 1 && prev.day < as_of => {
                event(prev.at.lon(), prev.at.lat(), prev.day.plus_days(1), false)
            }
            _ => event(
                -2.66 + g.unit() * 0.14,
                51.41 + g.unit() * 0.09,
                as_of.minus_days((g.unit() * 364.0) as u16),
                false,
            ),
        };
        events.push(e);
    }
    let settings = RiskSettings {
        knox: KnoxSettings {
            permutations: 19,
            ..RiskSettings::default().knox
        },
        ..RiskSettings::default()
    };
    let c = calibrate(&events, None, as_of, &settings).expect("calibration");
    assert_eq!(c.study_incidents, 40_000);
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains(&format!("sample of {MAX_STUDY_SAMPLE} of the 40000"))),
        "{:?}",
        c.warnings
    );
    // The pattern survives sampling, and the sample does not depend on the input order.
    assert!(!c.bands.is_empty(), "{:?}", c.warnings);
    let mut reversed = events.clone();
    reversed.reverse();
    assert_eq!(
        calibrate(&reversed, None, as_of, &settings).expect("calibration"),
        c
    );
    // Under the cap nothing is sampled.
    let small = calibrate(&events[..20_000], None, as_of, &settings).expect("calibration");
    assert!(!small.warnings.iter().any(|w| w.contains("sample")));
}

#[test]
fn the_streamed_sample_is_the_events_with_the_smallest_hashes() {
    // The sample is kept in a bounded heap while streaming; it must be exactly the `max`
    // events of smallest hash (as sorting them all would give), duplicates included.
    let mut g = Gen(11);
    let as_of = day(2026, 6, 30);
    let mut events: Vec<DayEvent> = (0..5_000)
        .map(|_| {
            event(
                -2.6 + g.unit() * 0.01,
                51.45 + g.unit() * 0.01,
                as_of.minus_days((g.unit() * 30.0) as u16),
                g.unit() < 0.5,
            )
        })
        .collect();
    // Repeated events (the same place and day) hash alike.
    let repeats: Vec<DayEvent> = events[..500].to_vec();
    events.extend(repeats);
    let keep = |e: &DayEvent| e.involves_child;
    for (max, seed) in [(100, 1), (1_000, 7), (2_000, 42)] {
        let (sample, total) = sample_study(&events, keep, max, seed);
        let mut all: Vec<DayEvent> = events.iter().filter(|e| keep(e)).copied().collect();
        assert_eq!(total, all.len());
        all.sort_by_key(|e| sample_key(e, seed));
        all.truncate(max);
        all.sort_unstable_by_key(canonical);
        assert_eq!(sample, all, "max {max}, seed {seed}");
    }
    // At or under the cap, every selected event in its order.
    let (sample, total) = sample_study(&events[..300], keep, 1_000, 1);
    let all: Vec<DayEvent> = events[..300].iter().filter(|e| keep(e)).copied().collect();
    assert_eq!((sample, total), (all.clone(), all.len()));
}
