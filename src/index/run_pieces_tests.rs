//! An update's incidents indexed piece by piece while they are read ([`RunPieces`]) answer as
//! one run built from all of them, and hold much less memory while being built.

use super::*;
use crate::domain::{Bbox, Category, Day, IncidentId, LonLat, TimeWindow};
use crate::index::{CountQuery, H3Res};

/// `n` inputs with ids from `first`: half in a dense cluster, some unlocated, some known only
/// to the month (`SplitMix64` from `seed`).
fn inputs(first: u64, n: usize, seed: u64) -> Vec<IncidentInput> {
    let mut state = seed;
    let mut next = move || crate::synthetic::rng::splitmix64(&mut state);
    (0..n)
        .map(|i| {
            let (a, b) = ((next() >> 11) as f64, (next() >> 11) as f64);
            let unit = |v: f64| v / (1u64 << 53) as f64;
            let (lon, lat) = if next().is_multiple_of(2) {
                (
                    -2.5813 + (unit(a) - 0.5) * 0.004,
                    51.449 + (unit(b) - 0.5) * 0.003,
                )
            } else {
                (-3.0 + unit(a) * 0.7, 51.3 + unit(b) * 0.35)
            };
            IncidentInput {
                id: IncidentId::new(first + i as u64),
                location: (!next().is_multiple_of(40)).then(|| LonLat::new(lon, lat).unwrap()),
                day: Day::from_days_since_epoch(19_300 + (next() % 60) as u16),
                category: Category::ALL[(next() % Category::ALL.len() as u64) as usize],
                involves_child: next().is_multiple_of(5),
                day_known: !next().is_multiple_of(7),
            }
        })
        .collect()
}

fn assert_same_answers(a: &IncidentLayer, b: &IncidentLayer) {
    assert_eq!((a.len(), a.unlocated()), (b.len(), b.unlocated()));
    let days = |x: u16, y: u16| {
        TimeWindow::new(Day::from_days_since_epoch(x), Day::from_days_since_epoch(y)).unwrap()
    };
    let bboxes = [
        Bbox::from_coords(-3.1, 51.2, -2.2, 51.7).unwrap(),
        Bbox::from_coords(-2.6, 51.44, -2.56, 51.46).unwrap(),
    ];
    for bbox in bboxes {
        for res in [H3Res::new(7).unwrap(), H3Res::new(9).unwrap()] {
            for (window, category) in [
                (days(19_300, 19_360), None),
                (days(19_310, 19_320), Some(Category::Drugs)),
            ] {
                let q = CountQuery {
                    bbox,
                    res,
                    window,
                    category,
                };
                assert_eq!(a.cell_counts(&q), b.cell_counts(&q), "{q:?}");
            }
        }
        let window = days(19_300, 19_360);
        let ids = |l: &IncidentLayer| {
            let (hits, more) = l.incidents_in_bbox(bbox, window, None, usize::MAX);
            assert!(!more);
            let mut ids: Vec<u64> = hits.iter().map(|h| h.id.get()).collect();
            ids.sort_unstable();
            ids
        };
        assert_eq!(ids(a), ids(b));
    }
    let (from, to) = (
        Day::from_days_since_epoch(19_300),
        Day::from_days_since_epoch(19_360),
    );
    assert_eq!(a.day_events(from, to), b.day_events(from, to));
}

#[test]
fn pieces_answer_as_one_run_of_all_their_incidents() {
    let base = IncidentLayer::build(&inputs(1, 3_000, 1));
    let added = inputs(1_000_000, 2_000, 2);
    let one_run = base.with_run(IncidentIndex::build(&added));
    // Several piece sizes, fed in batches of awkward sizes: one piece, a few, and more than
    // the layer keeps as runs (the newest are folded together).
    for piece_rows in [5_000, 700, 333, 150] {
        let mut pieces = RunPieces::with_piece_rows(piece_rows);
        for batch in added.chunks(257) {
            pieces.push_inputs(batch.iter().copied());
        }
        let pieces = pieces.finish();
        assert_eq!(pieces.len(), 2_000_usize.div_ceil(piece_rows));
        let layer = pieces
            .into_iter()
            .fold(base.clone(), |layer, piece| layer.with_run(piece));
        assert!(layer.runs() <= super::super::incident_layer::MAX_RUNS);
        assert_same_answers(&layer, &one_run);
        // And after the merge.
        let (merged, _) = layer.merged().unwrap();
        assert_same_answers(&IncidentLayer::from(merged), &one_run);
    }
}

#[test]
fn a_large_update_is_cut_into_at_most_max_runs_pieces_of_at_least_the_minimum() {
    let max = super::super::incident_layer::MAX_RUNS;
    assert_eq!(RunPieces::new(12_566).piece_rows(), 12_566);
    assert_eq!(
        RunPieces::new(2 * PIECE_MIN_ROWS).piece_rows(),
        2 * PIECE_MIN_ROWS
    );
    assert_eq!(
        RunPieces::new(2 * PIECE_MIN_ROWS + 1).piece_rows(),
        PIECE_MIN_ROWS
    );
    assert_eq!(
        RunPieces::new(1_382_260).piece_rows(),
        1_382_260_usize.div_ceil(max)
    );
    // No rows, or a store's absurd count: nothing reserved beyond a bound, nothing built.
    assert!(RunPieces::new(0).finish().is_empty());
    assert!(RunPieces::new(usize::MAX).inputs.capacity() <= 1 << 20);
}

/// The heap an update's read holds at its peak, and the heap of the index it leaves: the
/// incidents arrive in segments of 65,536 (each dropped once taken in, as the store's reads
/// hand them over), and are indexed either piece by piece or all at once after the read (as
/// before issue 15's memory work).
fn peak_of_read(n: usize, in_pieces: bool) -> (usize, usize) {
    let all = inputs(1, n, 9);
    let ((rows, kept), account) = crate::analysis::budget::measure(|_| {
        if in_pieces {
            let mut pieces = RunPieces::new(n);
            for segment in all.chunks(65_536) {
                pieces.push_inputs(segment.to_vec());
            }
            let pieces = pieces.finish();
            assert_eq!(pieces.len(), super::super::incident_layer::MAX_RUNS);
            (
                pieces
                    .iter()
                    .map(|p| p.len() + p.unlocated())
                    .sum::<usize>(),
                pieces.iter().map(IncidentIndex::heap_bytes).sum::<usize>(),
            )
        } else {
            let mut run = Vec::with_capacity(n);
            for segment in all.chunks(65_536) {
                run.extend(segment.to_vec());
            }
            let index = IncidentIndex::build(&run);
            (index.len() + index.unlocated(), index.heap_bytes())
        }
    });
    assert_eq!(rows, n);
    (usize::try_from(account.peak()).unwrap(), kept)
}

#[test]
fn an_update_read_in_pieces_holds_under_half_the_transient_memory_of_a_whole_build() {
    crate::analysis::budget::install();
    let n = 600_000;
    let (whole, whole_index) = peak_of_read(n, false);
    let (pieces, pieces_index) = peak_of_read(n, true);
    // What the read holds beyond the index it leaves behind: the inputs, sort keys and
    // columns of the build.
    let (whole_extra, pieces_extra) = (whole - whole_index, pieces - pieces_index);
    eprintln!(
        "read of {n} incidents: whole build peak {whole} B, {whole_extra} B beyond its index; \
         in pieces {pieces} B, {pieces_extra} B beyond theirs"
    );
    assert!(
        pieces_extra * 2 < whole_extra,
        "in pieces {pieces_extra} B beyond the index, not under half of {whole_extra} B"
    );
}
