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
//! # Tombstones
//!
//! A withdrawn incident leaves the layer at once as a tombstone
//! ([`IncidentLayer::with_tombstones`]); an amendment is a tombstone for the old row plus the
//! new row in a run. The tombstoned rows are kept as a small index of their own (a "negative
//! run") and a sorted id set: cell counts are the pieces' counts minus the negative run's,
//! point queries over-fetch by the negative run's hits and drop tombstoned ids, near-repeat
//! events are a multiset difference, so every query answers as a layer built without those
//! rows. A layer without tombstones pays one `Option` check per query. The next chunk-wise
//! merge drops the rows from every chunk and run it rebuilds (also rebuilding a chunk that no
//! run touches but that holds a tombstoned row), and each step retires the tombstones of its
//! key range; tombstones added during a merge stay pending for the next one.

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
const CHUNK_MIN_ROWS: usize = 500_000;
/// The base aims at this many chunks at least, so a merge step holds at most about a
/// sixteenth of the base besides it (a new chunk and its build's columns beside the one it
/// replaces: at 10M incidents about 35 MB a step instead of 60-80 MB with eighths, issue 15,
/// point 2).
const CHUNK_SHARE_DIVISOR: usize = 16;

/// The chunk size the base aims at for `total` incidents: max(500k, total / 16). A chunk is
/// cut when it passes twice this.
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

/// Incidents withdrawn from a layer and not yet merged away: each one a row the layer holds.
#[derive(Debug)]
struct Tombstones {
    /// The located ones, indexed exactly as the layer indexed them (a "negative run"); its
    /// [`IncidentIndex::unlocated`] is the number of unlocated ones.
    index: IncidentIndex,
    /// Ids of `index`'s incidents, sorted.
    located: Vec<u64>,
    /// Ids of the unlocated ones, sorted.
    unlocated: Vec<u64>,
}

impl Tombstones {
    fn len(&self) -> usize {
        self.located.len() + self.unlocated.len()
    }

    fn contains(&self, id: u64) -> bool {
        self.located.binary_search(&id).is_ok() || self.unlocated.binary_search(&id).is_ok()
    }

    fn heap_bytes(&self) -> usize {
        self.index.heap_bytes() + (self.located.capacity() + self.unlocated.capacity()) * 8
    }

    /// These tombstones without the ids in `gone` (sorted); `None` when none is left.
    fn without(this: &Arc<Self>, gone: &[u64]) -> Option<Arc<Self>> {
        if gone.is_empty() {
            return Some(Arc::clone(this));
        }
        let keep = |ids: &[u64]| -> Vec<u64> {
            ids.iter()
                .copied()
                .filter(|id| gone.binary_search(id).is_err())
                .collect()
        };
        let (located, unlocated) = (keep(&this.located), keep(&this.unlocated));
        if located.is_empty() && unlocated.is_empty() {
            return None;
        }
        let index = IncidentIndex::merge_ranges_without(
            &[(&this.index, 0..this.index.len())],
            gone,
            unlocated.len(),
            None,
        );
        Some(Arc::new(Self {
            index,
            located,
            unlocated,
        }))
    }

    /// The ids a merge step over the keys `from..to` (to the end when `None`) drops: the
    /// located tombstones in that range, and the unlocated ones with the last step.
    fn dropped_by_step(&self, from: u64, to: Option<u64>) -> Vec<u64> {
        let range = key_range(&self.index, from, to);
        let mut ids: Vec<u64> = self.index.ids_in(range).collect();
        if to.is_none() {
            ids.extend_from_slice(&self.unlocated);
        }
        ids.sort_unstable();
        ids
    }
}

/// A base of chunks, the runs added since and the tombstones not yet merged away. Cheap to
/// clone (shared indexes).
#[derive(Debug, Clone)]
pub struct IncidentLayer {
    /// In index order, never empty. A chunk is empty only when it is the first, or when it is
    /// the last and carries unlocated incidents (its located rows were all withdrawn).
    chunks: Vec<Chunk>,
    /// Oldest first.
    runs: Vec<Arc<IncidentIndex>>,
    merging: Option<Merging>,
    /// Pending tombstones, applied to every query; `None` when there are none.
    tombs: Option<Arc<Tombstones>>,
    /// The tombstones the merge under way drops (those pending when it began); the ones of
    /// the keys before `merging.upto` have left `tombs` already.
    merge_tombs: Option<Arc<Tombstones>>,
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
    /// The tombstones the merge drops, as the step read them.
    tombs: Option<Arc<Tombstones>>,
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
        Self::with_chunks(
            vec![Chunk {
                start: 0,
                index: Arc::new(base),
            }],
            Vec::new(),
        )
    }
}

impl IncidentLayer {
    /// The layer of `chunks` and `runs`, no merge, no tombstone.
    fn with_chunks(chunks: Vec<Chunk>, runs: Vec<Arc<IncidentIndex>>) -> Self {
        Self {
            chunks,
            runs,
            merging: None,
            tombs: None,
            merge_tombs: None,
        }
    }

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
    /// when two overlap at res 7 or there is no chunk. A chunk after the first without
    /// located incidents (all withdrawn by a merge) is left out, or, when it carries
    /// unlocated incidents, starts where the last located one before it ends (folded into
    /// the first chunk when there is none).
    fn from_chunks(base: Vec<Arc<IncidentIndex>>, runs: Vec<Arc<IncidentIndex>>) -> Option<Self> {
        let mut chunks: Vec<Chunk> = Vec::with_capacity(base.len());
        let mut end = 0u64;
        for index in base {
            let prev_start = chunks.last().map(|c| c.start);
            let start = match (prev_start, index.cell10_at(0)) {
                (None, _) => 0,
                (Some(_), None) if index.unlocated() == 0 => continue,
                (Some(_), None) if end == 0 => {
                    // Nothing located before it: only the first chunk is kept, and it is empty.
                    let first = chunks.first_mut()?;
                    let day_range = [first.index.day_range(), index.day_range()]
                        .into_iter()
                        .flatten()
                        .reduce(unite);
                    let unlocated = first.index.unlocated() + index.unlocated();
                    first.index = Arc::new(IncidentIndex::merge_ranges(&[], unlocated, day_range));
                    continue;
                }
                (Some(_), None) => end,
                (Some(_), Some(first)) => res7_key(first),
            };
            if prev_start.is_some_and(|p| start < end || start <= p) {
                return None;
            }
            if let Some(last) = index.len().checked_sub(1).and_then(|p| index.cell10_at(p)) {
                end = res7_key(last) + CUT_STEP;
            }
            chunks.push(Chunk { start, index });
        }
        (!chunks.is_empty()).then(|| Self::with_chunks(chunks, runs))
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
            runs,
            ..self.clone()
        }
    }

    /// This layer with each of `added` served as a run, in order ([`Self::with_run`]): the
    /// pieces an update was indexed in (`RunPieces`).
    #[must_use]
    pub fn with_runs(&self, added: Vec<IncidentIndex>) -> Self {
        added
            .into_iter()
            .fold(self.clone(), |layer, piece| layer.with_run(piece))
    }

    /// The layer without the incidents `removed` (withdrawn, or amended: the amended row then
    /// comes as a run under its new id): each is a row the layer holds, given as the same
    /// [`IncidentInput`] it was indexed from. From now on every query answers as a layer
    /// built without them, except [`Self::day_range`] and [`Self::last_known_day`], which may
    /// stay wider (see there). The rows leave the indexes with the next merge
    /// ([`Self::needs_merge`] is true while tombstones are pending).
    ///
    /// Idempotent: an incident already tombstoned, or one the layer does not hold (no located
    /// row with the same id, cell, category, day, flags and position), is ignored. The layer
    /// keeps no ids of unlocated rows, only their number, so an unlocated incident is taken
    /// on trust as long as tombstones do not outnumber the unlocated rows; a repeat of it is
    /// ignored while its tombstone is pending, but one repeated after the merge that dropped
    /// it would be counted again: give each withdrawal once (the store's change feed does).
    ///
    /// # Complexity
    ///
    /// One H3 cell per removed incident, a binary search and one res-10 cell scan per index
    /// served, and a rebuild of the pending tombstones' own small index.
    #[must_use]
    pub fn with_tombstones(&self, removed: &[IncidentInput]) -> Self {
        let pending = self.tombs.as_deref();
        let mut fresh: Vec<IncidentInput> = removed
            .iter()
            .filter(|r| !pending.is_some_and(|t| t.contains(r.id.get())))
            .copied()
            .collect();
        fresh.sort_by_key(|r| r.id.get());
        fresh.dedup_by_key(|r| r.id.get());
        if fresh.is_empty() {
            return self.clone();
        }
        let found = IncidentIndex::build(&fresh);
        let (mut held, mut refused) = (Vec::new(), Vec::new());
        for at in 0..found.len() {
            let id = found.ids_in(at..at + 1).next().unwrap_or(0);
            if self.holds(&found, at) {
                held.push(id);
            } else {
                refused.push(id);
            }
        }
        held.sort_unstable();
        refused.sort_unstable();
        // The rest were not located by the index build, as the layer's own builds left them.
        let room = self
            .raw_unlocated()
            .saturating_sub(pending.map_or(0, |t| t.unlocated.len()));
        let unlocated: Vec<u64> = fresh
            .iter()
            .map(|r| r.id.get())
            .filter(|id| held.binary_search(id).is_err() && refused.binary_search(id).is_err())
            .take(room)
            .collect();
        if held.is_empty() && unlocated.is_empty() {
            return self.clone();
        }
        let (old_index, old_located, old_unlocated) = pending
            .map_or((None, &[][..], &[][..]), |t| {
                (Some(&t.index), &t.located[..], &t.unlocated[..])
            });
        let mut parts = vec![(&found, 0..found.len())];
        parts.extend(old_index.map(|i| (i, 0..i.len())));
        let located = union_sorted(old_located, &held);
        let unlocated = union_sorted(old_unlocated, &unlocated);
        let index = IncidentIndex::merge_ranges_without(&parts, &refused, unlocated.len(), None);
        Self {
            tombs: Some(Arc::new(Tombstones {
                index,
                located,
                unlocated,
            })),
            ..self.clone()
        }
    }

    /// True when an index served holds the incident at `at` of `found` where it is served:
    /// in the chunk of its key, or in a run past the merged key.
    fn holds(&self, found: &IncidentIndex, at: usize) -> bool {
        let Some(cell) = found.cell10_at(at) else {
            return false;
        };
        let chunk = self
            .chunks
            .partition_point(|c| c.start <= cell)
            .saturating_sub(1);
        self.chunks
            .get(chunk)
            .is_some_and(|c| c.index.holds_incident_of(0, found, at))
            || self
                .served_runs()
                .any(|(run, skip)| run.holds_incident_of(skip, found, at))
    }

    /// Tombstones not yet merged away (pending: applied to every query).
    pub fn tombstones(&self) -> usize {
        self.tombs.as_ref().map_or(0, |t| t.len())
    }

    fn base_rows(&self) -> usize {
        self.chunks
            .iter()
            .map(|c| c.index.len() + c.index.unlocated())
            .sum()
    }

    /// True when a merge should begin (none is under way): tombstones are pending, or the
    /// runs are large enough.
    pub fn needs_merge(&self) -> bool {
        let in_runs: usize = self.runs.iter().map(|r| r.len() + r.unlocated()).sum();
        self.merging.is_none()
            && (self.tombs.is_some()
                || (!self.runs.is_empty()
                    && in_runs >= MERGE_MIN_ROWS.max(self.base_rows() / MERGE_SHARE_DIVISOR)))
    }

    /// True while a chunk-wise merge is under way.
    pub fn merging(&self) -> bool {
        self.merging.is_some()
    }

    /// This layer with a chunk-wise merge of its current runs and pending tombstones begun
    /// (nothing merged yet: it answers every query as `self`); `None` without either or when
    /// one is under way. Tombstones added from now on stay pending for the next merge.
    #[must_use]
    pub fn begin_merge(&self) -> Option<Self> {
        (self.merging.is_none() && (!self.runs.is_empty() || self.tombs.is_some())).then(|| Self {
            merging: Some(Merging {
                taken: self.runs.len(),
                upto: 0,
            }),
            merge_tombs: self.tombs.clone(),
            ..self.clone()
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
        let dead = self.merge_tombs.as_deref();
        let in_range = |index: &IncidentIndex| key_range(index, merging.upto, next_upto).len();
        let taken_here: usize = taken.iter().map(|r| in_range(r)).sum();
        let dead_here = dead.map_or(0, |t| in_range(&t.index));
        let last = next_upto.is_none();
        let dead_unlocated = if last {
            dead.map_or(0, |t| t.unlocated.len())
        } else {
            0
        };
        let step = |new| MergeStep {
            merging,
            old: Arc::clone(&chunk.index),
            at,
            taken: taken.to_vec(),
            tombs: self.merge_tombs.clone(),
            new,
            next_upto,
        };
        if taken_here == 0 && dead_here == 0 && (!last || (taken.is_empty() && dead_unlocated == 0))
        {
            // Nothing of the merge falls in this chunk: it stays as it is, nothing is built.
            return Some(step(vec![chunk.clone()]));
        }
        let rows = (chunk.index.len() + taken_here).saturating_sub(dead_here);
        // The unlocated incidents of the taken runs, and their days, go with the last chunk.
        let (unlocated, day_range) = if last {
            let runs = taken.iter().map(AsRef::as_ref);
            (
                (chunk.index.unlocated()
                    + runs.clone().map(IncidentIndex::unlocated).sum::<usize>())
                .saturating_sub(dead_unlocated),
                runs.filter_map(IncidentIndex::day_range)
                    .chain(chunk.index.day_range())
                    .reduce(unite),
            )
        } else {
            (chunk.index.unlocated(), chunk.index.day_range())
        };
        let without = dead.map_or(&[][..], |t| t.located.as_slice());
        let build = |from: u64, to: Option<u64>, unlocated, day_range| {
            let mut parts = vec![(chunk.index.as_ref(), key_range(&chunk.index, from, to))];
            parts.extend(taken.iter().map(|r| (r.as_ref(), key_range(r, from, to))));
            Arc::new(IncidentIndex::merge_ranges_without(
                &parts, without, unlocated, day_range,
            ))
        };
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
        Some(step(new))
    }

    /// This layer with `step` swapped in: its chunk replaced (a new chunk left without any
    /// incident is dropped, its keys going to the chunk before), the taken runs merged up to
    /// the next chunk (dropped after the last), and the tombstones of the step's keys retired
    /// (all the merge's with the last step). `None` when the layer changed under the step (a
    /// reload replaced the incidents, or another step went in): the caller steps again from
    /// the layer it serves.
    #[must_use]
    pub fn with_step(&self, step: MergeStep) -> Option<Self> {
        let same = self.merging == Some(step.merging)
            && same_tombs(self.merge_tombs.as_ref(), step.tombs.as_ref())
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
        let new = step
            .new
            .into_iter()
            .filter(|c| c.start == 0 || !c.index.is_empty() || c.index.unlocated() > 0);
        chunks.splice(step.at..=step.at, new);
        let gone = step.tombs.as_ref().map_or_else(Vec::new, |t| {
            t.dropped_by_step(step.merging.upto, step.next_upto)
        });
        let tombs = self
            .tombs
            .as_ref()
            .and_then(|t| Tombstones::without(t, &gone));
        let (runs, merging, merge_tombs) = match step.next_upto {
            Some(upto) => (
                self.runs.clone(),
                Some(Merging {
                    taken: step.merging.taken,
                    upto,
                }),
                step.tombs,
            ),
            None => (self.runs[step.merging.taken..].to_vec(), None, None),
        };
        Some(Self {
            chunks,
            runs,
            merging,
            tombs,
            merge_tombs,
        })
    }

    /// Every chunk and current run merged into one index without the pending tombstones'
    /// incidents, and what it took in (for [`Self::rebased`]); `None` without runs or
    /// tombstones. Builds a whole base beside the served one (a peak of twice the base): the
    /// server merges chunk by chunk instead ([`Self::merge_step`]); this stays for small
    /// layers and tools.
    pub fn merged(&self) -> Option<(IncidentIndex, Taken)> {
        if self.runs.is_empty() && self.tombs.is_none() {
            return None;
        }
        let mut parts: Vec<_> = self
            .chunks
            .iter()
            .map(|c| (c.index.as_ref(), 0..c.index.len()))
            .collect();
        parts.extend(self.served_runs().map(|(r, skip)| (r, skip..r.len())));
        let without = self
            .tombs
            .as_ref()
            .map_or(&[][..], |t| t.located.as_slice());
        let base = IncidentIndex::merge_ranges_without(
            &parts,
            without,
            self.unlocated(),
            self.day_range(),
        );
        Some((
            base,
            Taken {
                runs: self.runs.clone(),
                tombs: self.tombs.clone(),
            },
        ))
    }

    /// This layer with `base` (the result of [`Self::merged`]) replacing the chunks and the
    /// `taken` runs; runs added since are kept, and so are tombstones added since (the ones
    /// `base` left out are retired). `None` when this layer's runs no longer begin with
    /// `taken`'s (the newest runs were folded together meanwhile, so one of them holds
    /// incidents the merge did not see): the caller merges again.
    #[must_use]
    pub fn rebased(&self, base: IncidentIndex, taken: &Taken) -> Option<Self> {
        let kept = self.runs.get(taken.runs.len()..)?;
        let same = self
            .runs
            .iter()
            .zip(&taken.runs)
            .all(|(a, b)| Arc::ptr_eq(a, b));
        let gone = taken
            .tombs
            .as_ref()
            .map_or_else(Vec::new, |t| union_sorted(&t.located, &t.unlocated));
        same.then(|| Self {
            tombs: self
                .tombs
                .as_ref()
                .and_then(|t| Tombstones::without(t, &gone)),
            ..Self::with_chunks(
                vec![Chunk {
                    start: 0,
                    index: Arc::new(base),
                }],
                kept.to_vec(),
            )
        })
    }

    /// The indexes this layer serves, for saving (`index::persist`): the base's chunks in
    /// order, then the runs, oldest first. [`Self::from_pieces`] rebuilds the same layer from
    /// them. Save between merges ([`Self::merging`] false) and without pending tombstones
    /// ([`Self::tombstones`] 0): during a merge, the taken runs are given whole although
    /// their incidents before the merge's key are in the chunks too, so a layer rebuilt from
    /// them would count those twice; pending tombstones are not among the pieces (they are
    /// ignored here), so a layer rebuilt from them would serve the withdrawn incidents again.
    pub fn pieces(&self) -> (Vec<Arc<IncidentIndex>>, Vec<Arc<IncidentIndex>>) {
        (
            self.chunks.iter().map(|c| Arc::clone(&c.index)).collect(),
            self.runs.clone(),
        )
    }

    /// The layer [`Self::pieces`] was taken from (without tombstones). `None` when `base` is
    /// not what `pieces` gives: no index, or chunks out of index order or sharing a res-7
    /// cell.
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

    /// Number of located (indexed) incidents, tombstoned ones left out.
    pub fn len(&self) -> usize {
        let all: usize = self.parts().map(|(p, skip)| p.len() - skip).sum();
        all.saturating_sub(self.tombs.as_ref().map_or(0, |t| t.index.len()))
    }

    /// True when no incident is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Unlocated incidents served, tombstoned ones included.
    fn raw_unlocated(&self) -> usize {
        self.parts().map(|(p, _)| p.unlocated()).sum()
    }

    /// Incidents left out for want of a location (a taken run's go into the last chunk with
    /// the merge's last step, when the run is dropped), tombstoned ones left out.
    pub fn unlocated(&self) -> usize {
        self.raw_unlocated()
            .saturating_sub(self.tombs.as_ref().map_or(0, |t| t.unlocated.len()))
    }

    /// First and last day over all incidents, located or not (a union, so an incident seen
    /// in a chunk and in a run during a merge changes nothing). Tombstones do not narrow it,
    /// nor does a merge that drops their incidents (each chunk keeps the range it was built
    /// with): it covers the days of every incident served, and may be wider than those of a
    /// layer built without the withdrawn ones until the incidents are reloaded.
    pub fn day_range(&self) -> Option<(Day, Day)> {
        self.parts()
            .filter_map(|(p, _)| p.day_range())
            .reduce(unite)
    }

    /// The last day of a located incident known to the day. With tombstones pending it may
    /// be later than that of the incidents left (a withdrawn incident's day counts until the
    /// merge rebuilds its chunk or run); it is never earlier.
    pub fn last_known_day(&self) -> Option<Day> {
        self.parts().filter_map(|(p, _)| p.last_known_day()).max()
    }

    /// Bytes of heap memory held by the indexes and the tombstones.
    pub fn heap_bytes(&self) -> usize {
        let merging_tombs = match (&self.merge_tombs, &self.tombs) {
            (Some(m), Some(t)) if Arc::ptr_eq(m, t) => 0,
            (Some(m), _) => m.heap_bytes(),
            (None, _) => 0,
        };
        self.chunks
            .iter()
            .map(|c| c.index.heap_bytes())
            .chain(self.runs.iter().map(|r| r.heap_bytes()))
            .sum::<usize>()
            + self.tombs.as_ref().map_or(0, |t| t.heap_bytes())
            + merging_tombs
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
        match &self.tombs {
            None => counts,
            Some(t) => subtract_counts(counts, &t.index.cell_counts(q)),
        }
    }

    /// As [`IncidentIndex::incidents_in_bbox`] over all the incidents: the chunks' hits (by
    /// cell), then each run's, at most `limit`. With tombstones, as many more as tombstoned
    /// incidents match are read, and those are dropped, so none takes a place of the limit.
    pub fn incidents_in_bbox(
        &self,
        bbox: Bbox,
        window: TimeWindow,
        category: Option<Category>,
        limit: usize,
    ) -> (Vec<IncidentHit>, bool) {
        let Some(t) = &self.tombs else {
            return self.served_in_bbox(bbox, window, category, limit);
        };
        let (dead, _) = t
            .index
            .incidents_in_bbox(bbox, window, category, usize::MAX);
        if dead.is_empty() {
            return self.served_in_bbox(bbox, window, category, limit);
        }
        // Every tombstoned incident matching is among the hits unless more than
        // `limit + dead` match, and then more than `limit` are left.
        let (mut hits, more) =
            self.served_in_bbox(bbox, window, category, limit.saturating_add(dead.len()));
        hits.retain(|h| t.located.binary_search(&h.id.get()).is_err());
        let more = more || hits.len() > limit;
        hits.truncate(limit);
        (hits, more)
    }

    /// [`Self::incidents_in_bbox`] over the indexes served, tombstoned incidents included.
    fn served_in_bbox(
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
    /// base was last merged. Tombstoned incidents are taken out (one event equal to each).
    pub fn day_events(&self, from: Day, to: Day) -> Vec<DayEvent> {
        // Sized once: at 10M incidents a year's events are tens of MB, and growing by doubling
        // would hold up to three times that at the last copy.
        let expected = self
            .parts()
            .map(|(part, skip)| part.day_events_after_count(skip, from, to))
            .sum();
        let mut out = Vec::with_capacity(expected);
        for (part, skip) in self.parts() {
            part.day_events_after(skip, from, to, &mut out);
        }
        out.sort_unstable_by_key(event_key);
        let Some(t) = &self.tombs else {
            return out;
        };
        let mut dead = Vec::new();
        t.index.day_events(from, to, &mut dead);
        if dead.is_empty() {
            return out;
        }
        dead.sort_unstable_by_key(event_key);
        let mut dead = dead.iter().map(event_key).peekable();
        out.retain(|e| {
            let key = event_key(e);
            while dead.next_if(|d| *d < key).is_some() {}
            dead.next_if_eq(&key).is_none()
        });
        out
    }

    /// The events of [`Self::day_events`], handed to `f` one at a time in the order the
    /// indexes hold them (the chunks in index order, then the runs), not in the canonical
    /// order: a reader whose result must not depend on the layer's pieces sorts what it keeps
    /// (the near-repeat calibration keeps a sample of at most
    /// [`crate::analysis::risk::MAX_STUDY_SAMPLE`] and sorts that). Tombstoned incidents are
    /// taken out as there, a multiset difference: for each tombstoned event one streamed event
    /// equal to it is skipped. Holds nothing but the tombstoned events of the period (few:
    /// they leave with the next merge), so a year of millions of events costs no memory.
    pub fn for_each_day_event(&self, from: Day, to: Day, mut f: impl FnMut(&DayEvent)) {
        let mut dead = self.dead_events(from, to);
        for (part, skip) in self.parts() {
            if dead.is_empty() {
                part.for_each_day_event_after(skip, from, to, &mut f);
                continue;
            }
            part.for_each_day_event_after(skip, from, to, &mut |e| {
                let key = event_key(e);
                if let Ok(k) = dead.binary_search_by(|d| d.0.cmp(&key))
                    && dead[k].1 > 0
                {
                    dead[k].1 -= 1;
                    return;
                }
                f(e);
            });
        }
    }

    /// The tombstoned events with a day in `[from, to]`, as (canonical key, how many), sorted
    /// by key; empty without tombstones.
    fn dead_events(&self, from: Day, to: Day) -> Vec<(EventKey, u32)> {
        let Some(t) = &self.tombs else {
            return Vec::new();
        };
        let mut events = Vec::new();
        t.index.day_events(from, to, &mut events);
        let mut keys: Vec<EventKey> = events.iter().map(event_key).collect();
        keys.sort_unstable();
        let mut out: Vec<(EventKey, u32)> = Vec::with_capacity(keys.len());
        for key in keys {
            match out.last_mut() {
                Some(last) if last.0 == key => last.1 += 1,
                _ => out.push((key, 1)),
            }
        }
        out
    }

    /// At least as many as the events [`Self::day_events`] gives for `[from, to]` (every
    /// located incident of those days, tombstoned ones and those only known to the month
    /// included): a bound for memory estimates, in microseconds
    /// ([`IncidentIndex::day_events_at_most`]).
    pub fn day_events_at_most(&self, from: Day, to: Day) -> usize {
        self.parts()
            .map(|(part, _)| part.day_events_at_most(from, to))
            .sum()
    }
}

/// What [`IncidentLayer::merged`] took in: the runs, and the tombstones it left out.
#[derive(Debug, Clone)]
pub struct Taken {
    runs: Vec<Arc<IncidentIndex>>,
    tombs: Option<Arc<Tombstones>>,
}

impl Taken {
    /// The runs taken in.
    pub fn runs(&self) -> usize {
        self.runs.len()
    }
}

/// A near-repeat event's place in the canonical order.
type EventKey = (Day, u64, u64, u8, bool);

/// The canonical order of near-repeat events: day, position, category, child.
fn event_key(e: &DayEvent) -> EventKey {
    (
        e.day,
        e.at.lon().to_bits(),
        e.at.lat().to_bits(),
        e.category.code(),
        e.involves_child,
    )
}

/// True when both are the same tombstones (or both none).
fn same_tombs(a: Option<&Arc<Tombstones>>, b: Option<&Arc<Tombstones>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// The positions of `index` whose res-10 cell is at or after `from` and before `to` (to the
/// end when `None`).
fn key_range(index: &IncidentIndex, from: u64, to: Option<u64>) -> std::ops::Range<usize> {
    index.position_of(from)..to.map_or(index.len(), |k| index.position_of(k))
}

/// The union of two sorted, disjoint id lists, sorted.
fn union_sorted(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out: Vec<u64> = a.iter().chain(b).copied().collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// `a` less `b`, both sorted by cell, where every cell of `b` counts at most its count in
/// `a` (the tombstones are rows of the layer); cells left at zero are omitted.
fn subtract_counts(mut a: Vec<CellCount>, b: &[CellCount]) -> Vec<CellCount> {
    if b.is_empty() {
        return a;
    }
    let mut b = b.iter().peekable();
    a.retain_mut(|c| {
        while b.next_if(|d| d.cell < c.cell).is_some() {}
        if let Some(d) = b.next_if(|d| d.cell == c.cell) {
            c.count = c.count.saturating_sub(d.count);
        }
        c.count > 0
    });
    a
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
