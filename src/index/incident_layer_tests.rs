//! A layer of a base and runs answers exactly what one index over all the incidents answers,
//! and a merge builds exactly that index.

use super::*;
use crate::domain::{CATEGORY_COUNT, IncidentId, LonLat};
use crate::index::{H3Res, IncidentInput};

/// `SplitMix64`, as the index tests use.
struct Mix(u64);
impl Mix {
    fn next(&mut self) -> u64 {
        crate::synthetic::rng::splitmix64(&mut self.0)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `n` incidents with ids `first..first + n`, clustered and spread, some unlocated, some known
/// only to the month, many sharing cell, category and day (so ties are ordered by id).
pub(in crate::index) fn incidents(first: u64, n: usize, seed: u64) -> Vec<IncidentInput> {
    let mut r = Mix(seed);
    (0..n)
        .map(|i| {
            let (lon, lat) = if r.next().is_multiple_of(2) {
                (
                    -2.5813 + (r.unit() - 0.5) * 0.004,
                    51.4490 + (r.unit() - 0.5) * 0.003,
                )
            } else {
                (-3.0 + r.unit() * 0.7, 51.3 + r.unit() * 0.35)
            };
            IncidentInput {
                id: IncidentId::new(first + i as u64),
                location: (!r.next().is_multiple_of(40)).then(|| LonLat::new(lon, lat).unwrap()),
                day: Day::from_days_since_epoch(19_300 + (r.next() % 60) as u16),
                category: Category::ALL[(r.next() % CATEGORY_COUNT as u64) as usize],
                involves_child: r.next().is_multiple_of(5),
                day_known: !r.next().is_multiple_of(7),
            }
        })
        .collect()
}

/// Splits `all` into `parts` sets of interleaved ids (each in id order).
fn split(all: &[IncidentInput], parts: usize, seed: u64) -> Vec<Vec<IncidentInput>> {
    let mut r = Mix(seed);
    let mut out = vec![Vec::new(); parts];
    for i in all {
        out[(r.next() % parts as u64) as usize].push(*i);
    }
    out
}

fn queries() -> Vec<CountQuery> {
    let window = |a: u16, b: u16| {
        TimeWindow::new(Day::from_days_since_epoch(a), Day::from_days_since_epoch(b)).unwrap()
    };
    let mut out = Vec::new();
    for res in 5..=10 {
        for (bbox, w, category) in [
            (
                Bbox::from_coords(-3.1, 51.2, -2.2, 51.7).unwrap(),
                window(19_000, 20_000),
                None,
            ),
            (
                Bbox::from_coords(-2.59, 51.44, -2.57, 51.46).unwrap(),
                window(19_310, 19_330),
                None,
            ),
            (
                Bbox::from_coords(-2.7, 51.4, -2.5, 51.5).unwrap(),
                window(19_300, 19_340),
                Some(Category::ALL[3]),
            ),
        ] {
            out.push(CountQuery {
                bbox,
                res: H3Res::new(res).unwrap(),
                window: w,
                category,
            });
        }
    }
    out
}

#[test]
fn a_merge_of_two_indexes_is_the_index_of_all_their_incidents() {
    let all = incidents(1, 6_000, 7);
    let parts = split(&all, 2, 11);
    let (a, b) = (
        IncidentIndex::build(&parts[0]),
        IncidentIndex::build(&parts[1]),
    );
    let whole = IncidentIndex::build(&all);
    // Every column, level and tree, byte for byte as Debug shows them.
    assert_eq!(format!("{:?}", a.merge(&b)), format!("{whole:?}"));
    assert_eq!(format!("{:?}", b.merge(&a)), format!("{whole:?}"));
    // Merging with an empty index changes nothing.
    let empty = IncidentIndex::build(&[]);
    assert_eq!(format!("{:?}", whole.merge(&empty)), format!("{whole:?}"));
}

#[test]
fn ids_out_of_order_in_the_input_build_the_same_index() {
    let all = incidents(1, 3_000, 3);
    let mut shuffled = all.clone();
    shuffled.reverse();
    assert_eq!(
        format!("{:?}", IncidentIndex::build(&shuffled)),
        format!("{:?}", IncidentIndex::build(&all))
    );
}

pub(in crate::index) fn assert_same(layer: &IncidentLayer, whole: &IncidentIndex) {
    assert_eq!(layer.len(), whole.len());
    assert_eq!(layer.unlocated(), whole.unlocated());
    assert_eq!(layer.day_range(), whole.day_range());
    assert_eq!(layer.last_known_day(), whole.last_known_day());
    for q in queries() {
        assert_eq!(layer.cell_counts(&q), whole.cell_counts(&q), "{q:?}");
    }
    let single = IncidentLayer::from(whole.merge(&IncidentIndex::build(&[])));
    let (from, to) = (
        Day::from_days_since_epoch(19_300),
        Day::from_days_since_epoch(19_330),
    );
    assert_eq!(layer.day_events(from, to), single.day_events(from, to));
    let bbox = Bbox::from_coords(-2.6, 51.44, -2.56, 51.46).unwrap();
    let window = TimeWindow::new(from, to).unwrap();
    let key = |h: &IncidentHit| h.id.get();
    let (mut got, more) = layer.incidents_in_bbox(bbox, window, None, usize::MAX);
    let (mut want, _) = whole.incidents_in_bbox(bbox, window, None, usize::MAX);
    assert!(!more);
    got.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(got, want);
    // Truncation is reported exactly when more match than the limit.
    let n = want.len();
    assert!(n > 10, "the fixture must have hits");
    for limit in [0, 1, n - 1, n, n + 1] {
        let (hits, more) = layer.incidents_in_bbox(bbox, window, None, limit);
        assert_eq!(hits.len(), limit.min(n));
        assert_eq!(more, limit < n, "limit {limit}");
    }
}

#[test]
fn a_base_with_runs_answers_as_one_index_before_and_after_its_merge() {
    let all = incidents(1, 8_000, 21);
    let parts = split(&all, 7, 5);
    let whole = IncidentIndex::build(&all);
    let mut layer = IncidentLayer::from(IncidentIndex::build(&parts[0]));
    for p in &parts[1..] {
        layer = layer.with_run(IncidentIndex::build(p));
        assert!(layer.runs() <= MAX_RUNS);
    }
    assert_eq!(layer.runs(), MAX_RUNS);
    assert_same(&layer, &whole);
    let (merged, taken) = layer.merged().unwrap();
    assert_eq!(taken.len(), MAX_RUNS);
    assert_eq!(format!("{merged:?}"), format!("{whole:?}"));
    let rebased = layer.rebased(merged, &taken).unwrap();
    assert_eq!(rebased.runs(), 0);
    assert!(rebased.merged().is_none());
    assert_same(&rebased, &whole);
}

#[test]
fn runs_added_during_a_merge_are_kept_when_the_new_base_is_swapped_in() {
    let all = incidents(1, 5_000, 9);
    let parts = split(&all, 3, 2);
    let whole = IncidentIndex::build(&all);
    let layer = IncidentLayer::from(IncidentIndex::build(&parts[0]))
        .with_run(IncidentIndex::build(&parts[1]));
    // The merge starts on `layer`; meanwhile another import adds a run.
    let (merged, taken) = layer.merged().unwrap();
    let later = layer.with_run(IncidentIndex::build(&parts[2]));
    let swapped = later.rebased(merged, &taken).unwrap();
    assert_eq!(swapped.runs(), 1);
    assert_same(&swapped, &whole);
}

#[test]
fn a_merge_is_not_swapped_in_when_its_runs_were_folded_meanwhile() {
    let all = incidents(1, 6_000, 4);
    let parts = split(&all, MAX_RUNS + 2, 6);
    let whole = IncidentIndex::build(&all);
    let mut layer = IncidentLayer::from(IncidentIndex::build(&parts[0]));
    for p in &parts[1..=MAX_RUNS] {
        layer = layer.with_run(IncidentIndex::build(p));
    }
    let (merged, taken) = layer.merged().unwrap();
    // A further import folds the newest taken run with its own rows.
    let later = layer.with_run(IncidentIndex::build(&parts[MAX_RUNS + 1]));
    assert_eq!(later.runs(), MAX_RUNS);
    assert!(later.rebased(merged, &taken).is_none());
    // Nothing was lost: the layer still answers for every incident, and merges again.
    assert_same(&later, &whole);
    let (again, taken) = later.merged().unwrap();
    assert_same(&later.rebased(again, &taken).unwrap(), &whole);
}

#[test]
fn a_merge_is_due_when_the_runs_pass_an_eighth_of_the_base_and_the_floor() {
    let small = IncidentLayer::from(IncidentIndex::build(&incidents(1, 1_000, 1)));
    assert!(!small.needs_merge());
    let with_run = small.with_run(IncidentIndex::build(&incidents(10_000, 500, 2)));
    // Half the base, but under the floor of rows.
    assert!(!with_run.needs_merge());
}

#[test]
fn near_repeat_events_are_in_one_order_whatever_holds_them() {
    let all = incidents(1, 4_000, 17);
    let parts = split(&all, 3, 8);
    let layered = IncidentLayer::from(IncidentIndex::build(&parts[2]))
        .with_run(IncidentIndex::build(&parts[0]))
        .with_run(IncidentIndex::build(&parts[1]));
    let single = IncidentLayer::from(IncidentIndex::build(&all));
    let (from, to) = (
        Day::from_days_since_epoch(19_300),
        Day::from_days_since_epoch(19_400),
    );
    let events = single.day_events(from, to);
    assert_eq!(layered.day_events(from, to), events);
    // Month-precision and unlocated incidents are never events.
    let expected = all
        .iter()
        .filter(|i| i.day_known && i.location.is_some())
        .count();
    assert_eq!(events.len(), expected);
    assert!(events.is_sorted_by_key(|e| e.day));
}

#[test]
fn a_build_split_over_threads_is_the_build_of_its_parts_merged() {
    // Above the threshold the cells are located on several threads (on any machine with more
    // than one core); below it on one. Both must give the very same index.
    let all = incidents(1, 150_000, 31);
    let parts = split(&all, 2, 12);
    assert!(parts.iter().all(|p| p.len() < 100_000));
    let serial = IncidentIndex::build(&parts[0]).merge(&IncidentIndex::build(&parts[1]));
    assert_eq!(
        format!("{:?}", IncidentIndex::build(&all)),
        format!("{serial:?}")
    );
}
