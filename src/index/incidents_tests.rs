//! Index queries against brute force on seeded random data (as rstar tests its trees).

use super::*;
use crate::domain::CATEGORY_COUNT;
use proptest::prelude::*;

/// A small deterministic generator (`SplitMix64`) so fixtures need no RNG crate.
struct Mix(u64);
impl Mix {
    fn next(&mut self) -> u64 {
        crate::synthetic::rng::splitmix64(&mut self.0)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn random_incidents(n: usize, seed: u64) -> Vec<IncidentInput> {
    let mut r = Mix(seed);
    (0..n)
        .map(|i| {
            // Half clustered near Temple Meads, half spread over the study area.
            let (lon, lat) = if r.next().is_multiple_of(2) {
                (
                    -2.5813 + (r.unit() - 0.5) * 0.02,
                    51.4490 + (r.unit() - 0.5) * 0.012,
                )
            } else {
                (-3.0 + r.unit() * 0.7, 51.3 + r.unit() * 0.35)
            };
            IncidentInput {
                id: IncidentId::new(i as u64 + 1),
                location: (!r.next().is_multiple_of(50)).then(|| LonLat::new(lon, lat).unwrap()),
                day: Day::from_days_since_epoch(19_300 + (r.next() % 1100) as u16),
                category: Category::ALL[(r.next() % CATEGORY_COUNT as u64) as usize],
                involves_child: r.next().is_multiple_of(5),
                day_known: true,
            }
        })
        .collect()
}

fn brute_counts(inputs: &[IncidentInput], q: &CountQuery) -> Vec<CellCount> {
    let mut map = std::collections::BTreeMap::<CellIndex, u32>::new();
    for inc in inputs {
        let Some(p) = inc.location else { continue };
        // Hierarchical semantics: the res-r ancestor of the point's res-10 cell.
        let cell = LatLng::new(p.lat(), p.lon())
            .unwrap()
            .to_cell(Resolution::Ten)
            .parent(q.res.to_h3())
            .unwrap();
        let c = LatLng::from(cell);
        if !q.bbox.contains_raw(c.lng(), c.lat()) || !q.window.contains(inc.day) {
            continue;
        }
        if q.category.is_some_and(|want| want != inc.category) {
            continue;
        }
        *map.entry(cell).or_default() += 1;
    }
    map.into_iter()
        .map(|(cell, count)| CellCount { cell, count })
        .collect()
}

#[test]
fn cell_counts_equal_brute_force_for_every_resolution() {
    let inputs = random_incidents(20_000, 7);
    let index = IncidentIndex::build(&inputs);
    assert_eq!(index.len() + index.unlocated(), inputs.len());
    let bboxes = [
        Bbox::from_coords(-3.12, 51.27, -2.25, 51.69).unwrap(),
        Bbox::from_coords(-2.60, 51.44, -2.57, 51.46).unwrap(),
        Bbox::from_coords(-2.7, 51.3, -2.6, 51.5).unwrap(),
    ];
    let windows = [
        TimeWindow::all(),
        TimeWindow::new(
            Day::from_days_since_epoch(19_500),
            Day::from_days_since_epoch(19_589),
        )
        .unwrap(),
        TimeWindow::new(
            Day::from_days_since_epoch(19_400),
            Day::from_days_since_epoch(19_400),
        )
        .unwrap(),
    ];
    for res in MIN_RES..=MAX_RES {
        for bbox in bboxes {
            for window in windows {
                for category in [
                    None,
                    Some(Category::ViolentCrime),
                    Some(Category::ChildExploitationConcern),
                ] {
                    let q = CountQuery {
                        bbox,
                        res: H3Res::new(res).unwrap(),
                        window,
                        category,
                    };
                    assert_eq!(
                        index.cell_counts(&q),
                        brute_counts(&inputs, &q),
                        "res {res} bbox {bbox} {window:?} {category:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn counts_at_every_resolution_add_up_to_the_same_total() {
    let inputs = random_incidents(5_000, 11);
    let index = IncidentIndex::build(&inputs);
    let bbox = Bbox::from_coords(-180.0, -90.0, 180.0, 90.0).unwrap();
    for res in MIN_RES..=MAX_RES {
        let q = CountQuery {
            bbox,
            res: H3Res::new(res).unwrap(),
            window: TimeWindow::all(),
            category: None,
        };
        let total: u32 = index.cell_counts(&q).iter().map(|c| c.count).sum();
        assert_eq!(total as usize, index.len(), "res {res}");
    }
}

#[test]
fn incidents_in_bbox_equal_brute_force_and_respect_the_limit() {
    let inputs = random_incidents(10_000, 3);
    let index = IncidentIndex::build(&inputs);
    let bbox = Bbox::from_coords(-2.59, 51.445, -2.575, 51.455).unwrap();
    let window = TimeWindow::new(
        Day::from_days_since_epoch(19_300),
        Day::from_days_since_epoch(19_900),
    )
    .unwrap();
    let (hits, more) = index.incidents_in_bbox(bbox, window, None, usize::MAX);
    assert!(!more);
    let mut got: Vec<u64> = hits.iter().map(|h| h.id.get()).collect();
    got.sort_unstable();
    let want: Vec<u64> = inputs
        .iter()
        .filter(|i| {
            i.location.is_some_and(|p| {
                bbox.contains_raw(f64::from(p.lon() as f32), f64::from(p.lat() as f32))
            })
        })
        .filter(|i| window.contains(i.day))
        .map(|i| i.id.get())
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);
    let (limited, more) = index.incidents_in_bbox(bbox, window, None, 3);
    assert_eq!(limited.len(), 3);
    assert!(more);
}

#[test]
fn a_coarse_cell_count_is_exactly_the_sum_of_its_children() {
    let inputs = random_incidents(20_000, 5);
    let index = IncidentIndex::build(&inputs);
    let bbox = Bbox::from_coords(-180.0, -90.0, 180.0, 90.0).unwrap();
    let window = TimeWindow::new(
        Day::from_days_since_epoch(19_500),
        Day::from_days_since_epoch(19_800),
    )
    .unwrap();
    for res in MIN_RES..MAX_RES {
        let q = |r: u8| CountQuery {
            bbox,
            res: H3Res::new(r).unwrap(),
            window,
            category: Some(Category::Drugs),
        };
        let coarse = index.cell_counts(&q(res));
        let mut rolled = std::collections::BTreeMap::<CellIndex, u32>::new();
        for c in index.cell_counts(&q(res + 1)) {
            *rolled
                .entry(c.cell.parent(H3Res::new(res).unwrap().to_h3()).unwrap())
                .or_default() += c.count;
        }
        let rolled: Vec<CellCount> = rolled
            .into_iter()
            .map(|(cell, count)| CellCount { cell, count })
            .collect();
        assert_eq!(coarse, rolled, "res {res}");
    }
}

/// Documents how often the hierarchy differs from direct indexing (H3 children do not tile
/// their parent exactly); the figure is quoted in ARCHITECTURE.md.
#[test]
fn the_ancestor_differs_from_the_direct_cell_only_near_edges() {
    let inputs = random_incidents(20_000, 9);
    for res in [Resolution::Five, Resolution::Eight, Resolution::Nine] {
        let (mut differ, mut total) = (0u32, 0u32);
        for p in inputs.iter().filter_map(|i| i.location) {
            let ll = LatLng::new(p.lat(), p.lon()).unwrap();
            total += 1;
            differ +=
                u32::from(ll.to_cell(Resolution::Ten).parent(res).unwrap() != ll.to_cell(res));
        }
        let share = f64::from(differ) / f64::from(total);
        assert!(share > 0.0 && share < 0.2, "res {res}: {share}");
    }
}

#[test]
fn an_empty_index_answers_every_query_with_nothing() {
    let index = IncidentIndex::build(&[]);
    let q = CountQuery {
        bbox: Bbox::from_coords(-3.0, 51.0, -2.0, 52.0).unwrap(),
        res: H3Res::new(8).unwrap(),
        window: TimeWindow::all(),
        category: None,
    };
    assert!(index.cell_counts(&q).is_empty());
    assert!(index.is_empty());
    assert_eq!(index.day_range(), None);
}

#[test]
fn resolutions_outside_five_to_ten_are_refused() {
    assert!(H3Res::new(4).is_err());
    assert!(H3Res::new(11).is_err());
    assert!(H3Res::new(5).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, rng_seed: proptest::test_runner::RngSeed::Fixed(0x5AFE), ..ProptestConfig::default() })]

    #[test]
    fn any_query_matches_brute_force(
        seed in 0u64..1_000,
        res in MIN_RES..=MAX_RES,
        x0 in -3.1f64..-2.3, dx in 0.0f64..0.5,
        y0 in 51.28f64..51.68, dy in 0.0f64..0.3,
        d0 in 19_300u16..20_400, dd in 0u16..400,
        cat in proptest::option::of(0u8..CATEGORY_COUNT as u8),
    ) {
        let inputs = random_incidents(2_000, seed);
        let index = IncidentIndex::build(&inputs);
        let q = CountQuery {
            bbox: Bbox::from_coords(x0, y0, (x0 + dx).min(180.0), (y0 + dy).min(90.0)).unwrap(),
            res: H3Res::new(res).unwrap(),
            window: TimeWindow::new(Day::from_days_since_epoch(d0), Day::from_days_since_epoch(d0 + dd)).unwrap(),
            category: cat.and_then(Category::from_code),
        };
        prop_assert_eq!(index.cell_counts(&q), brute_counts(&inputs, &q));
    }
}

#[test]
fn the_day_event_count_is_what_day_events_hands_over() {
    let inputs = random_incidents(3_000, 17);
    let index = IncidentIndex::build(&inputs);
    let (first, last) = index.day_range().expect("incidents");
    let span = last.days_since_epoch() - first.days_since_epoch();
    for (from, to) in [
        (first, last),
        (first, first.plus_days(span / 3)),
        (last.minus_days(span / 4), last),
        (last, first),
    ] {
        for skip in [0, 1, 1_000, 3_000] {
            let mut out = Vec::new();
            index.day_events_after(skip, from, to, &mut out);
            assert_eq!(index.day_events_after_count(skip, from, to), out.len());
        }
    }
}
