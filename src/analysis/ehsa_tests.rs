use h3o::Resolution;
use proptest::prelude::*;

use super::*;
use crate::analysis::gistar::{DEFAULT_MAX_CELLS, cell_of};
use crate::domain::{Bbox, LonLat};

/// H/C series from a string: `H` hot, `C` cold, anything else neither.
fn series(s: &str) -> (Vec<bool>, Vec<bool>) {
    (
        s.chars().map(|c| c == 'H').collect(),
        s.chars().map(|c| c == 'C').collect(),
    )
}

fn cat(s: &str, trend: Trend) -> i8 {
    let (h, c) = series(s);
    classify(&h, &c, trend)
}

#[test]
fn each_hot_category_follows_its_rule() {
    // T = 10, so "at least 90 %" means 9 steps.
    assert_eq!(cat("..........", Trend::None), 0);
    assert_eq!(cat(".........H", Trend::None), 1, "new");
    assert_eq!(cat(".......HHH", Trend::None), 2, "consecutive");
    assert_eq!(cat(".HHHHHHHHH", Trend::Increasing), 3, "intensifying");
    assert_eq!(cat(".HHHHHHHHH", Trend::None), 4, "persistent");
    assert_eq!(cat(".HHHHHHHHH", Trend::Decreasing), 5, "diminishing");
    assert_eq!(cat("..H..H...H", Trend::None), 6, "sporadic");
    assert_eq!(cat("..C..H...H", Trend::None), 7, "oscillating");
    assert_eq!(cat("HHHHHHHHH.", Trend::None), 8, "historical");
}

#[test]
fn each_cold_category_mirrors_the_hot_one_with_trends_reversed() {
    assert_eq!(cat(".........C", Trend::None), -1);
    assert_eq!(cat(".......CCC", Trend::None), -2);
    assert_eq!(
        cat(".CCCCCCCCC", Trend::Decreasing),
        -3,
        "intensifying cold"
    );
    assert_eq!(cat(".CCCCCCCCC", Trend::None), -4);
    assert_eq!(cat(".CCCCCCCCC", Trend::Increasing), -5, "diminishing cold");
    assert_eq!(cat("..C..C...C", Trend::None), -6);
    assert_eq!(cat("..H..C...C", Trend::None), -7);
    assert_eq!(cat("CCCCCCCCC.", Trend::None), -8);
}

#[test]
fn the_published_precedences_hold() {
    // New beats Oscillating when the only hot step is the last.
    assert_eq!(cat("CC.......H", Trend::None), 1);
    // Consecutive beats Oscillating.
    assert_eq!(cat("CC.....HHH", Trend::None), 2);
    // A hot run with an earlier hot step is not Consecutive.
    assert_eq!(cat("H......HHH", Trend::None), 6);
    // Hot in >= 90 % but not at the final step: Historical, never Persistent.
    assert_eq!(cat("HHHHHHHHH.", Trend::Increasing), 8);
    // Hot in >= 90 % of earlier steps but cold at the final step: a cold category.
    assert_eq!(cat("HHHHHHHHHC", Trend::None), -1);
}

#[test]
fn the_ninety_percent_boundary_is_exact() {
    assert_eq!(ninety_percent_of(10), 9);
    assert_eq!(ninety_percent_of(30), 27);
    assert_eq!(ninety_percent_of(36), 33);
    assert_eq!(ninety_percent_of(1), 1);
    // T = 30: 27 hot steps (= ⌈0.9 T⌉) is persistent; 26 is not.
    let s27 = format!("{}{}", "...", "H".repeat(27));
    assert_eq!(cat(&s27, Trend::None), 4);
    let s26 = format!("{}{}{}", "H", "....", "H".repeat(25));
    assert_eq!(cat(&s26, Trend::None), 6);
    let h26 = format!("{}{}", "H".repeat(26), "....");
    assert_eq!(cat(&h26, Trend::None), 0);
    let h27 = format!("{}{}", "H".repeat(27), "...");
    assert_eq!(cat(&h27, Trend::None), 8);
}

fn arb_step() -> impl Strategy<Value = char> {
    prop_oneof![Just('H'), Just('C'), Just('.')]
}

fn arb_trend() -> impl Strategy<Value = Trend> {
    prop_oneof![
        Just(Trend::Increasing),
        Just(Trend::Decreasing),
        Just(Trend::None)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, rng_seed: proptest::test_runner::RngSeed::Fixed(0x5AFE), ..ProptestConfig::default() })]

    /// Every category is reached only by its rule (checked independently of `classify`).
    #[test]
    fn every_category_is_reached_only_by_its_rule(steps in proptest::collection::vec(arb_step(), 1..40), trend in arb_trend()) {
        let s: String = steps.iter().collect();
        let (h, c) = series(&s);
        let code = classify(&h, &c, trend);
        let t = h.len();
        let need = ninety_percent_of(t);
        let (same, other, sign) = if code >= 0 { (&h, &c, 1) } else { (&c, &h, -1) };
        let n_same = same.iter().filter(|x| **x).count();
        let last = same[t - 1];
        let up = if sign > 0 { Trend::Increasing } else { Trend::Decreasing };
        let down = if sign > 0 { Trend::Decreasing } else { Trend::Increasing };
        match code.abs() {
            0 => {
                prop_assert!(!h[t - 1] && !c[t - 1]);
                prop_assert!(h.iter().filter(|x| **x).count() < need);
                prop_assert!(c.iter().filter(|x| **x).count() < need);
            }
            1 => prop_assert!(last && n_same == 1),
            2 => {
                let run = same.iter().rev().take_while(|x| **x).count();
                prop_assert!(last && run >= 2 && run == n_same && n_same < need);
            }
            3 => prop_assert!(last && n_same >= need && trend == up),
            4 => prop_assert!(last && n_same >= need && trend != up && trend != down),
            5 => prop_assert!(last && n_same >= need && trend == down),
            6 => prop_assert!(last && n_same < need && n_same > 1 && !other[..t - 1].iter().any(|x| *x)),
            7 => prop_assert!(last && n_same < need && n_same > 1 && other[..t - 1].iter().any(|x| *x)),
            8 => prop_assert!(!h[t - 1] && !c[t - 1] && n_same >= need),
            _ => prop_assert!(false, "code {code} out of range"),
        }
    }
}

#[test]
fn monthly_steps_are_calendar_months_with_partial_ends_flagged() {
    let a: Day = "2024-01-15".parse().unwrap();
    let b: Day = "2024-04-30".parse().unwrap();
    let s = cube_steps(StepUnit::Month, Alignment::EndTime, a, b).unwrap();
    assert_eq!(s.len(), 4);
    assert_eq!(s[0].from.to_string(), "2024-01-01");
    assert_eq!(s[1].to.to_string(), "2024-02-29");
    assert!(s[0].partial && !s[1].partial && !s[3].partial);
    assert!(cube_steps(StepUnit::Month, Alignment::EndTime, b, a).is_err());
}

#[test]
fn weekly_steps_end_at_the_last_day_or_start_at_the_first() {
    let a: Day = "2024-01-01".parse().unwrap();
    let b: Day = "2024-01-20".parse().unwrap();
    let s = cube_steps(StepUnit::Week, Alignment::EndTime, a, b).unwrap();
    assert_eq!(s.len(), 3);
    assert_eq!(s[2].to, b);
    assert_eq!(s[0].from.to_string(), "2023-12-31");
    assert!(s[0].partial && !s[2].partial);
    let s = cube_steps(StepUnit::Week, Alignment::StartTime, a, b).unwrap();
    assert_eq!(s[0].from, a);
    assert!(s[2].partial);
    let one = cube_steps(StepUnit::Week, Alignment::EndTime, a, a).unwrap();
    assert_eq!(one.len(), 1);
}

fn universe() -> CellUniverse {
    CellUniverse::in_box(
        Bbox::from_coords(-2.62, 51.44, -2.58, 51.46).unwrap(),
        Resolution::Nine,
        DEFAULT_MAX_CELLS,
    )
    .unwrap()
}

/// A cube with background noise everywhere and an emerging cluster in the last months.
fn planted_events(u: &CellUniverse) -> (Vec<(CellIndex, Day, f64)>, CellIndex) {
    let centre = cell_of(LonLat::new(-2.60, 51.45).unwrap(), Resolution::Nine);
    let mut events = Vec::new();
    let first: Day = "2023-01-01".parse().unwrap();
    for m in 0..24u16 {
        let day = first.plus_days(m * 31).month_start().plus_days(5);
        for (i, c) in u.cells().iter().enumerate() {
            if (i + usize::from(m)) % 5 == 0 {
                events.push((*c, day, 1.0));
            }
        }
        if m >= 21 {
            for c in centre.grid_disk::<Vec<CellIndex>>(1) {
                events.push((c, day, 12.0));
            }
        }
    }
    (events, centre)
}

#[test]
fn an_emerging_cluster_is_classified_new_or_consecutive() {
    let u = universe();
    let (events, centre) = planted_events(&u);
    let cube = SpaceTimeCube::from_events(&u, &events, &CubeSettings::default()).unwrap();
    assert_eq!(cube.steps().len(), 24);
    let r = emerging_hotspots(&cube, &EhsaSettings::default()).unwrap();
    let row = r.cells.iter().find(|c| c.h3 == centre).unwrap();
    assert_eq!(row.category, 2, "{row:?}");
    assert_eq!(row.label, "consecutive hot spot");
    assert_eq!(r.settings.global_window, "whole cube");
    let total: usize = r.summary.categories.iter().map(|c| c.2).sum();
    assert_eq!(total, u.len());
}

#[test]
fn step_counts_give_the_same_cube_as_events() {
    let u = universe();
    let (events, _) = planted_events(&u);
    let settings = CubeSettings::default();
    let a = SpaceTimeCube::from_events(&u, &events, &settings).unwrap();
    let steps = a.steps().to_vec();
    let per_step: Vec<Vec<(CellIndex, f64)>> = steps
        .iter()
        .map(|s| {
            events
                .iter()
                .filter(|e| e.1 >= s.from && e.1 <= s.to)
                .map(|e| (e.0, e.2))
                .collect()
        })
        .collect();
    let b = SpaceTimeCube::from_step_counts(&u, steps, &per_step, &settings).unwrap();
    assert_eq!(a.counts(), b.counts());
}

#[test]
fn the_backward_window_sums_exactly_the_bins_it_names() {
    // Two cells neighbouring each other, three steps, K = 1.
    let u = universe();
    let cells: Vec<CellIndex> = u.cells()[..2].to_vec();
    let small = CellUniverse::from_cells(Resolution::Nine, cells.clone()).unwrap();
    let events = vec![
        (cells[0], "2024-01-03".parse().unwrap(), 1.0),
        (cells[1], "2024-02-03".parse().unwrap(), 2.0),
        (cells[0], "2024-03-03".parse().unwrap(), 4.0),
        (cells[1], "2024-03-04".parse().unwrap(), 8.0),
    ];
    let cube = SpaceTimeCube::from_events(&small, &events, &CubeSettings::default()).unwrap();
    let w = Neighbours::from_lists(&[vec![0], vec![1]]).unwrap();
    let st = space_time_gistar(&cube, &w, 1, false).unwrap();
    // n = 6, x = [1,0,4, 0,2,8]; mean 2.5; S = sqrt((1+0+16+0+4+64)/6 - 6.25).
    let mean = 2.5;
    let sd = (85.0_f64 / 6.0 - 6.25).sqrt();
    let z = |sum: f64, w: f64| (sum - mean * w) / (sd * ((6.0 * w - w * w) / 5.0).sqrt());
    // Cell 0 at t = 0 has only itself: undefined. At t = 2 the window is steps 1..=2.
    assert_eq!(st.z[0], None);
    approx::assert_relative_eq!(st.z[2].unwrap(), z(4.0, 2.0), max_relative = 1e-12);
    approx::assert_relative_eq!(st.z[5].unwrap(), z(10.0, 2.0), max_relative = 1e-12);
}

#[test]
fn an_empty_cube_and_bad_settings_are_handled() {
    let u = universe();
    assert!(SpaceTimeCube::from_events(&u, &[], &CubeSettings::default()).is_err());
    let settings = CubeSettings {
        from: Some("2024-01-01".parse().unwrap()),
        to: Some("2024-12-31".parse().unwrap()),
        ..CubeSettings::default()
    };
    let cube = SpaceTimeCube::from_events(&u, &[], &settings).unwrap();
    let r = emerging_hotspots(&cube, &EhsaSettings::default()).unwrap();
    assert!(r.cells.iter().all(|c| c.category == 0));
    assert!(r.warnings.iter().any(|w| w.contains("S = 0")));
    let bad = EhsaSettings {
        hot_level: 0,
        ..EhsaSettings::default()
    };
    assert!(emerging_hotspots(&cube, &bad).is_err());
}

#[test]
fn dropping_never_observed_cells_keeps_only_cells_with_events() {
    let u = universe();
    let c = u.cells()[3];
    let events = vec![(c, "2024-01-03".parse().unwrap(), 1.0)];
    let settings = CubeSettings {
        drop_never_observed: true,
        ..CubeSettings::default()
    };
    let cube = SpaceTimeCube::from_events(&u, &events, &settings).unwrap();
    assert_eq!(cube.universe().cells(), &[c]);
}

#[test]
fn before_after_flags_a_significant_rise() {
    let u = universe();
    let a = u.cells()[0];
    let b = u.cells()[1];
    let r = before_after(
        &u,
        &[(a, 5.0), (b, 5.0)],
        &[(a, 40.0), (b, 5.0)],
        90,
        90,
        false,
    )
    .unwrap();
    let ra = &r.cells[0];
    assert_eq!(ra.h3, a);
    assert!(ra.z.unwrap() > 4.0);
    assert_eq!(ra.bin, 3);
    assert_eq!(r.cells[1].z, Some(0.0));
    approx::assert_relative_eq!(ra.rate_ratio.unwrap(), 8.0);
    assert!(before_after(&u, &[], &[], 0, 10, true).is_err());
}
