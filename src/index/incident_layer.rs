//! The incidents a snapshot serves: a base of chunks plus a few small runs of incidents added
//! since (issue 15, point 1), queried together.
//!
//! An import into a running server builds a run of its own rows only (milliseconds for a
//! month of police.uk data) and serves `base + runs` at once; the base is never rebuilt for
//! it. The base is a list of chunks, each an [`IncidentIndex`] over one range of the index
//! order cut where a res-7 cell ends ([`IncidentIndex::build_chunks`]), of about
//! [`chunk_target`] incidents. When the runs grow ([`IncidentLayer::needs_merge`]) a
//! background job merges them in one chunk at a time (issue 15, point 2: peak memory during
//! an update at most 1.3 times steady): [`IncidentLayer::begin_merge`] marks the runs served
//! now as taken; each [`IncidentLayer::merge_step`] builds one new chunk from the old chunk
//! and the taken runs' incidents in its range ([`IncidentIndex::merge_ranges`]: one pass over
//! sorted columns, no cell located again), and [`IncidentLayer::with_step`] swaps it in and
//! moves the taken runs' "merged up to" key past it. Queries go on all the while; a taken run
//! counts only its incidents at or after that key, so every query answers at every step what
//! one index over all the incidents would. The extra memory of a step is one new chunk, not
//! a whole base. Runs added during a merge are kept whole for the next one.
//!
//! Every query answers exactly what one index over all the incidents would: counts of the
//! same cell add up (cells are the res-10 ancestors, so each incident counts in one cell per
//! resolution whichever index holds it; res-5 and res-6 cells may span chunks), point queries
//! concatenate, and near-repeat events come in one canonical order so that a Knox permutation
//! test gives the same result before and after a merge.
//!
//! Incidents are only ever added today (imports and demo writes); a correction or an erasure
//! of incidents would reload the kind whole (`jobs`), so no tombstones are kept.

use std::sync::Arc;

use crate::domain::{Bbox, Category, Day, DayEvent, TimeWindow};

use super::incidents::res7_key;
use super::{CellCount, CountQuery, IncidentHit, IncidentIndex, IncidentInput};

/// Runs kept before the smallest are folded together, so a query visits at most this many
/// indexes besides the base (twice as many during a merge: the taken runs and the new ones).
pub const MAX_RUNS: usize = 4;

/// The base is rebuilt once the runs hold this share of its incidents (1/8) or
/// [`MERGE_MIN_ROWS`], whichever is larger: rare merges on a large base, prompt ones on a
/// small store.
const MERGE_SHARE_DIVISOR: usize = 8;
/// See [`MERGE_SHARE_DIVISOR`].
const MERGE_MIN_ROWS: usize = 200_000;

/// Chunks are at least this many incidents (a store under twice this has one chunk, and its
/// queries do no more work than one index's).
const CHUNK_MIN_ROWS: usize = 1_000_000;
/// The base aims at this many chunks at least, so a merge step holds at most about an eighth
/// of the base besides it.
const CHUNK_SHARE_DIVISOR: usize = 8;

/// The chunk size the base aims at for `total` incidents: max(1M, total / 8). A chunk is cut
/// when it passes twice this.
pub fn chunk_target(total: usize) -> usize {
    CHUNK_MIN_ROWS.max(total / CHUNK_SHARE_DIVISOR)
}

/// One chunk of the base: its index holds the incidents whose res-10 cell index is at or
/// after `start` and before the next chunk's `start` (a [`res7_key`]; 0 for the first).
#[derive(Debug, Clone)]
struct Chunk {
    start: u64,
    index: Arc<IncidentIndex>,
}

/// A chunk-wise merge under way: the first `taken` runs are being merged into the chunks;
/// their incidents before `upto` (a chunk's `start`) are in the chunks already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Merging {
    taken: usize,
    upto: u64,
}

/// A base of chunks and the runs added since. Cheap to clone (shared indexes).
#[derive(Debug, Clone)]
pub struct IncidentLayer {
    /// In index order, never empty.
    chunks: Vec<Chunk>,
    /// Oldest first.
    runs: Vec<Arc<IncidentIndex>>,
    merging: Option<Merging>,
}

/// One step of a chunk-wise merge, built off the served layer by
/// [`IncidentLayer::merge_step`] and swapped in by [`IncidentLayer::with_step`].
#[derive(Debug)]
pub struct MergeStep {
    /// The merge as the step found it.
    merging: Merging,
    /// The chunk replaced, and where it was.
    old: Arc<IncidentIndex>,
    at: usize,
    /// The taken runs, as the step read them.
    taken: Vec<Arc<IncidentIndex>>,
    /// The chunks replacing `old` (two when it was cut).
    new: Vec<Chunk>,
    /// Where the taken runs are merged up to after this step; `None` after the last chunk.
    next_upto: Option<u64>,
}

impl MergeStep {
    /// Bytes of heap memory held by the new chunks: what the step adds to the served layer
    /// until it is swapped in (nothing when the chunk had no taken incident and is kept).
    pub fn heap_bytes(&self) -> usize {
        self.new
            .iter()
            .filter(|c| !Arc::ptr_eq(&c.index, &self.old))
            .map(|c| c.index.heap_bytes())
            .sum()
    }

    /// True when this step completes the merge.
    pub fn is_last(&self) -> bool {
        self.next_upto.is_none()
    }
}

impl From<IncidentIndex> for IncidentLayer {
    /// One chunk holding `base`.
    fn from(base: IncidentIndex) -> Self {
        Self {
            chunks: vec![Chunk {
                start: 0,
                index: Arc::new(base),
            }],
            runs: Vec::new(),
            merging: None,
        }
    }
}

impl IncidentLayer {
    /// The layer of `inputs`: a base of chunks of about [`chunk_target`] incidents, no runs.
    pub fn build(inputs: &[IncidentInput]) -> Self {
        Self::build_with_target(inputs, chunk_target(inputs.len()))
    }

    fn build_with_target(inputs: &[IncidentInput], target: usize) -> Self {
        let chunks = IncidentIndex::build_chunks(inputs, target);
        Self::from_chunks(chunks.into_iter().map(Arc::new).collect(), Vec::new())
            .unwrap_or_else(|| Self::from(IncidentIndex::build(inputs)))
    }

    /// Chunks in index order, each starting at the res-7 key of its first incident: `None`
    /// when two overlap at res 7 or a chunk other than a lone one is empty.
    fn from_chunks(base: Vec<Arc<IncidentIndex>>, runs: Vec<Arc<IncidentIndex>>) -> Option<Self> {
        let mut chunks: Vec<Chunk> = Vec::with_capacity(base.len());
        let mut end = 0u64;
        for index in base {
            let start = if chunks.is_empty() {
                0
            } else {
                res7_key(index.cell10_at(0)?)
            };
            if !chunks.is_empty() && start < end {
                return None;
            }
            if let Some(last) = index.len().checked_sub(1).and_then(|p| index.cell10_at(p)) {
                end = res7_key(last) + CUT_STEP;
            }
            chunks.push(Chunk { start, index });
        }
        (!chunks.is_empty()).then_some(Self {
            chunks,
            runs,
            merging: None,
        })
    }

    /// This layer with `added` served too. The runs not taken by a merge stay at most
    /// [`MAX_RUNS`]: the two newest (smallest) are merged first when they would pass it.
    #[must_use]
    pub fn with_run(&self, added: IncidentIndex) -> Self {
        let taken = self.merging.map_or(0, |m| m.taken);
        let mut runs = self.runs.clone();
        let mut added = added;
        while runs.len() - taken >= MAX_RUNS {
            if let Some(last) = runs.pop() {
                added = last.merge(&added);
            }
        }
        runs.push(Arc::new(added));
        Self {
            chunks: self.chunks.clone(),
            runs,
            merging: self.merging,
        }
    }

    fn base_rows(&self) -> usize {
        self.chunks
            .iter()
            .map(|c| c.index.len() + c.index.unlocated())
            .sum()
    }

    /// True when the runs are large enough that a merge should begin (none is under way).
    pub fn needs_merge(&self) -> bool {
        let in_runs: usize = self.runs.iter().map(|r| r.len() + r.unlocated()).sum();
        self.merging.is_none()
            && !self.runs.is_empty()
            && in_runs >= MERGE_MIN_ROWS.max(self.base_rows() / MERGE_SHARE_DIVISOR)
    }

    /// True while a chunk-wise merge is under way.
    pub fn merging(&self) -> bool {
        self.merging.is_some()
    }

    /// This layer with a chunk-wise merge of its current runs begun (nothing merged yet: it
    /// answers every query as `self`); `None` without runs or when one is under way.
    #[must_use]
    pub fn begin_merge(&self) -> Option<Self> {
        (self.merging.is_none() && !self.runs.is_empty()).then(|| Self {
            chunks: self.chunks.clone(),
            runs: self.runs.clone(),
            merging: Some(Merging {
                taken: self.runs.len(),
                upto: 0,
            }),
        })
    }

    /// The next step of the merge under way; `None` when there is none. Builds one chunk
    /// (two when it passes twice [`chunk_target`]): call it off the async runtime.
    pub fn merge_step(&self) -> Option<MergeStep> {
        let total = self.len() + self.unlocated();
        self.merge_step_with_target(chunk_target(total))
    }

    fn merge_step_with_target(&self, target: usize) -> Option<MergeStep> {
        let merging = self.merging?;
        let at = self.chunks.iter().position(|c| c.start == merging.upto)?;
        let chunk = &self.chunks[at];
        let next_upto = self.chunks.get(at + 1).map(|c| c.start);
        let taken = &self.runs[..merging.taken];
        let range = |index: &IncidentIndex| {
            index.position_of(merging.upto)..next_upto.map_or(index.len(), |k| index.position_of(k))
        };
        let rows = chunk.index.len() + taken.iter().map(|r| range(r).len()).sum::<usize>();
        // The unlocated incidents of the taken runs, and their days, go with the last chunk.
        let (unlocated, day_range) = if next_upto.is_none() {
            let runs = taken.iter().map(AsRef::as_ref);
            (
                chunk.index.unlocated() + runs.clone().map(IncidentIndex::unlocated).sum::<usize>(),
                runs.filter_map(IncidentIndex::day_range)
                    .chain(chunk.index.day_range())
                    .reduce(unite),
            )
        } else {
            (chunk.index.unlocated(), chunk.index.day_range())
        };
        let build = |from: u64, to: Option<u64>, unlocated, day_range| {
            let cut = |index: &IncidentIndex| {
                index.position_of(from)..to.map_or(index.len(), |k| index.position_of(k))
            };
            let mut parts = vec![(chunk.index.as_ref(), cut(&chunk.index))];
            parts.extend(taken.iter().map(|r| (r.as_ref(), cut(r))));
            Arc::new(IncidentIndex::merge_ranges(&parts, unlocated, day_range))
        };
        if rows == chunk.index.len() && next_upto.is_some() {
            // No taken incident falls in this chunk: it stays as it is, nothing is built.
            return Some(MergeStep {
                merging,
                old: Arc::clone(&chunk.index),
                at,
                taken: taken.to_vec(),
                new: vec![chunk.clone()],
                next_upto,
            });
        }
        let split = (rows > 2 * target)
            .then(|| split_key(&chunk.index))
            .flatten();
        let new = match split {
            // The left part takes none of the unlocated incidents nor the carried day range.
            Some(key) => vec![
                Chunk {
                    start: chunk.start,
                    index: build(chunk.start, Some(key), 0, None),
                },
                Chunk {
                    start: key,
                    index: build(key, next_upto, unlocated, day_range),
                },
            ],
            None => vec![Chunk {
                start: chunk.start,
                index: build(chunk.start, next_upto, unlocated, day_range),
            }],
        };
        Some(MergeStep {
            merging,
            old: Arc::clone(&chunk.index),
            at,
            taken: taken.to_vec(),
            new,
            next_upto,
        })
    }

    /// This layer with `step` swapped in: its chunk replaced, the taken runs merged up to the
    /// next chunk (dropped after the last). `None` when the layer changed under the step (a
    /// reload replaced the incidents, or another step went in): the caller steps again from
    /// the layer it serves.
    #[must_use]
    pub fn with_step(&self, step: MergeStep) -> Option<Self> {
        let same = self.merging == Some(step.merging)
            && self
                .chunks
                .get(step.at)
                .is_some_and(|c| Arc::ptr_eq(&c.index, &step.old))
            && self.runs.len() >= step.taken.len()
            && self
                .runs
                .iter()
                .zip(&step.taken)
                .all(|(a, b)| Arc::ptr_eq(a, b));
        if !same {
            return None;
        }
        let mut chunks = self.chunks.clone();
        chunks.splice(step.at..=step.at, step.new);
        let (runs, merging) = match step.next_upto {
            Some(upto) => (
                self.runs.clone(),
                Some(Merging {
                    taken: step.merging.taken,
                    upto,
                }),
            ),
            None => (self.runs[step.merging.taken..].to_vec(), None),
        };
        Some(Self {
            chunks,
            runs,
            merging,
        })
    }

    /// Every chunk and current run merged into one index, and the runs it took in (for
    /// [`Self::rebased`]); `None` without runs. Builds a whole base beside the served one (a
    /// peak of twice the base): the server merges chunk by chunk instead
    /// ([`Self::merge_step`]); this stays for small layers and tools.
    pub fn merged(&self) -> Option<(IncidentIndex, Vec<Arc<IncidentIndex>>)> {
        if self.runs.is_empty() {
            return None;
        }
        let mut parts: Vec<_> = self
            .chunks
            .iter()
            .map(|c| (c.index.as_ref(), 0..c.index.len()))
            .collect();
        parts.extend(self.served_runs().map(|(r, skip)| (r, skip..r.len())));
        let unlocated = self.unlocated();
        Some((
            IncidentIndex::merge_ranges(&parts, unlocated, self.day_range()),
            self.runs.clone(),
        ))
    }

    /// This layer with `base` (the result of [`Self::merged`]) replacing the chunks and the
    /// `taken` runs; runs added since are kept. `None` when this layer's runs no longer begin
    /// with `taken` (the newest runs were folded together meanwhile, so one of them holds
    /// incidents the merge did not see): the caller merges again.
    #[must_use]
    pub fn rebased(&self, base: IncidentIndex, taken: &[Arc<IncidentIndex>]) -> Option<Self> {
        let kept = self.runs.get(taken.len()..)?;
        let same = self.runs.iter().zip(taken).all(|(a, b)| Arc::ptr_eq(a, b));
        same.then(|| Self {
            chunks: vec![Chunk {
                start: 0,
                index: Arc::new(base),
            }],
            runs: kept.to_vec(),
            merging: None,
        })
    }

    /// The indexes this layer serves, for saving (`index::persist`): the base's chunks in
    /// order, then the runs, oldest first. [`Self::from_pieces`] rebuilds the same layer from
    /// them. Save between merges ([`Self::merging`] false): during one, the taken runs are
    /// given whole although their incidents before the merge's key are in the chunks too, so
    /// a layer rebuilt from them would count those twice.
    pub fn pieces(&self) -> (Vec<Arc<IncidentIndex>>, Vec<Arc<IncidentIndex>>) {
        (
            self.chunks.iter().map(|c| Arc::clone(&c.index)).collect(),
            self.runs.clone(),
        )
    }

    /// The layer [`Self::pieces`] was taken from. `None` when `base` is not what `pieces`
    /// gives: no index, or chunks out of index order or sharing a res-7 cell.
    pub fn from_pieces(base: Vec<IncidentIndex>, runs: Vec<IncidentIndex>) -> Option<Self> {
        Self::from_chunks(
            base.into_iter().map(Arc::new).collect(),
            runs.into_iter().map(Arc::new).collect(),
        )
    }

    /// Runs served beside the base.
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Chunks of the base.
    pub fn chunks(&self) -> usize {
        self.chunks.len()
    }

    /// The runs with the position from which each counts: past the merged key for a run a
    /// merge has taken, 0 otherwise.
    fn served_runs(&self) -> impl Iterator<Item = (&IncidentIndex, usize)> {
        let m = self.merging.unwrap_or(Merging { taken: 0, upto: 0 });
        self.runs.iter().enumerate().map(move |(k, r)| {
            let skip = if k < m.taken && m.upto > 0 {
                r.position_of(m.upto)
            } else {
                0
            };
            (r.as_ref(), skip)
        })
    }

    /// Every index served with the position from which it counts.
    fn parts(&self) -> impl Iterator<Item = (&IncidentIndex, usize)> {
        self.chunks
            .iter()
            .map(|c| (c.index.as_ref(), 0))
            .chain(self.served_runs())
    }

    /// Number of located (indexed) incidents.
    pub fn len(&self) -> usize {
        self.parts().map(|(p, skip)| p.len() - skip).sum()
    }

    /// True when no incident is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Incidents left out for want of a location (a taken run's go into the last chunk with
    /// the merge's last step, when the run is dropped).
    pub fn unlocated(&self) -> usize {
        self.parts().map(|(p, _)| p.unlocated()).sum()
    }

    /// First and last day over all incidents, located or not (a union, so an incident seen
    /// in a chunk and in a run during a merge changes nothing).
    pub fn day_range(&self) -> Option<(Day, Day)> {
        self.parts()
            .filter_map(|(p, _)| p.day_range())
            .reduce(unite)
    }

    /// The last day of a located incident known to the day.
    pub fn last_known_day(&self) -> Option<Day> {
        self.parts().filter_map(|(p, _)| p.last_known_day()).max()
    }

    /// Bytes of heap memory held by the indexes.
    pub fn heap_bytes(&self) -> usize {
        self.chunks
            .iter()
            .map(|c| c.index.heap_bytes())
            .chain(self.runs.iter().map(|r| r.heap_bytes()))
            .sum()
    }

    /// As [`IncidentIndex::cell_counts`] over all the incidents: sorted by cell, zero counts
    /// omitted.
    pub fn cell_counts(&self, q: &CountQuery) -> Vec<CellCount> {
        let mut counts = match self.chunks.as_slice() {
            [one] => one.index.cell_counts(q),
            chunks => {
                // Chunks follow the index order, so their lists concatenate in cell order; a
                // res-5 or res-6 cell across a cut ends one list and begins the next.
                let mut all: Vec<CellCount> = Vec::new();
                for c in chunks {
                    for cc in c.index.cell_counts(q) {
                        match all.last_mut() {
                            Some(last) if last.cell == cc.cell => last.count += cc.count,
                            _ => all.push(cc),
                        }
                    }
                }
                all
            }
        };
        for (run, skip) in self.served_runs() {
            counts = add_counts(&counts, &run.cell_counts_after(skip, q));
        }
        counts
    }

    /// As [`IncidentIndex::incidents_in_bbox`] over all the incidents: the chunks' hits (by
    /// cell), then each run's, at most `limit`.
    pub fn incidents_in_bbox(
        &self,
        bbox: Bbox,
        window: TimeWindow,
        category: Option<Category>,
        limit: usize,
    ) -> (Vec<IncidentHit>, bool) {
        let mut hits = Vec::new();
        for (part, skip) in self.parts() {
            let room = limit - hits.len();
            let (found, more) = part.incidents_in_bbox_after(skip, bbox, window, category, room);
            hits.extend(found);
            if more {
                return (hits, true);
            }
        }
        (hits, false)
    }

    /// The located incidents known to the day with a day in `[from, to]`, in one canonical
    /// order (day, position, category, child), whichever index holds them: near-repeat
    /// analysis permutes days over events in order, so the order must not depend on when the
    /// base was last merged.
    pub fn day_events(&self, from: Day, to: Day) -> Vec<DayEvent> {
        let mut out = Vec::new();
        for (part, skip) in self.parts() {
            part.day_events_after(skip, from, to, &mut out);
        }
        out.sort_unstable_by(|a, b| {
            (
                a.day,
                a.at.lon().to_bits(),
                a.at.lat().to_bits(),
                a.category.code(),
                a.involves_child,
            )
                .cmp(&(
                    b.day,
                    b.at.lon().to_bits(),
                    b.at.lat().to_bits(),
                    b.category.code(),
                    b.involves_child,
                ))
        });
        out
    }
}

/// The union of two day ranges.
fn unite((a0, a1): (Day, Day), (b0, b1): (Day, Day)) -> (Day, Day) {
    (a0.min(b0), a1.max(b1))
}

/// The distance between consecutive res-7 keys: one step of the res-7 digit.
const CUT_STEP: u64 = 1 << (3 * (15 - super::incidents::CUT_RES as u32));

/// A res-7 key near the middle of `index` after its first res-7 cell, where it can be cut
/// in two non-empty parts; `None` when its incidents all lie in one res-7 cell.
fn split_key(index: &IncidentIndex) -> Option<u64> {
    let first = res7_key(index.cell10_at(0)?);
    let mid = res7_key(index.cell10_at(index.len() / 2)?);
    if mid > first {
        return Some(mid);
    }
    // The middle incident is in the first res-7 cell: cut where that cell ends.
    let after = index.position_of(mid + CUT_STEP);
    index.cell10_at(after).map(res7_key)
}

/// The sum of two cell count lists, both sorted by cell.
fn add_counts(a: &[CellCount], b: &[CellCount]) -> Vec<CellCount> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cell.cmp(&b[j].cell) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(CellCount {
                    cell: a[i].cell,
                    count: a[i].count + b[j].count,
                });
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

#[cfg(test)]
#[path = "incident_layer_tests.rs"]
pub(super) mod tests;
