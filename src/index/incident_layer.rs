//! The incidents a snapshot serves: an immutable base index plus a few small runs of incidents
//! added since (issue 15, point 1), queried together.
//!
//! An import into a running server builds a run of its own rows only (milliseconds for a
//! month of police.uk data) and serves `base + runs` at once; the base is never rebuilt for
//! it. When the runs grow ([`IncidentLayer::needs_merge`]) a background job merges them into a
//! new base ([`IncidentIndex::merge`]: one pass over sorted columns, no cell recomputed) while
//! queries go on against the old one, and swaps it in with [`IncidentLayer::rebased`], which
//! keeps any run added during the merge.
//!
//! Every query answers exactly what one index over all the incidents would: counts of the
//! same cell add up (cells are the res-10 ancestors, so each incident counts in one cell per
//! resolution whichever index holds it), point queries concatenate, and near-repeat events
//! come in one canonical order so that a Knox permutation test gives the same result before
//! and after a merge.
//!
//! Incidents are only ever added today (imports and demo writes); a correction or an erasure
//! of incidents would reload the kind whole (`jobs`), so no tombstones are kept.

use std::sync::Arc;

use crate::domain::{Bbox, Category, Day, DayEvent, TimeWindow};

use super::{CellCount, CountQuery, IncidentHit, IncidentIndex};

/// Runs kept before the smallest are folded together, so a query visits at most this many
/// indexes besides the base.
pub const MAX_RUNS: usize = 4;

/// The base is rebuilt once the runs hold this share of its incidents (1/8) or
/// [`MERGE_MIN_ROWS`], whichever is larger: rare merges on a large base, prompt ones on a
/// small store.
const MERGE_SHARE_DIVISOR: usize = 8;
/// See [`MERGE_SHARE_DIVISOR`].
const MERGE_MIN_ROWS: usize = 200_000;

/// A base index and the runs added since it was built. Cheap to clone (shared indexes).
#[derive(Debug, Clone)]
pub struct IncidentLayer {
    base: Arc<IncidentIndex>,
    /// Oldest first.
    runs: Vec<Arc<IncidentIndex>>,
}

impl From<IncidentIndex> for IncidentLayer {
    fn from(base: IncidentIndex) -> Self {
        Self {
            base: Arc::new(base),
            runs: Vec::new(),
        }
    }
}

impl IncidentLayer {
    /// This layer with `added` served too. The runs stay at most [`MAX_RUNS`]: the two
    /// newest (smallest) are merged first when they would pass it.
    #[must_use]
    pub fn with_run(&self, added: IncidentIndex) -> Self {
        let mut runs = self.runs.clone();
        let mut added = added;
        while runs.len() >= MAX_RUNS {
            if let Some(last) = runs.pop() {
                added = last.merge(&added);
            }
        }
        runs.push(Arc::new(added));
        Self {
            base: Arc::clone(&self.base),
            runs,
        }
    }

    /// True when the runs are large enough that the base should be rebuilt with them.
    pub fn needs_merge(&self) -> bool {
        let in_runs: usize = self.runs.iter().map(|r| r.len() + r.unlocated()).sum();
        !self.runs.is_empty()
            && in_runs
                >= MERGE_MIN_ROWS
                    .max((self.base.len() + self.base.unlocated()) / MERGE_SHARE_DIVISOR)
    }

    /// The base merged with every current run, and the runs it took in (for
    /// [`Self::rebased`]); `None` without runs. Runs for seconds on a large base: call it off
    /// the async runtime.
    pub fn merged(&self) -> Option<(IncidentIndex, Vec<Arc<IncidentIndex>>)> {
        let runs = match self.runs.as_slice() {
            [] => return None,
            [only] => return Some((self.base.merge(only), self.runs.clone())),
            // Runs are small: fold them together first, then one pass over the base.
            [first, second, rest @ ..] => {
                rest.iter().fold(first.merge(second), |acc, r| acc.merge(r))
            }
        };
        Some((self.base.merge(&runs), self.runs.clone()))
    }

    /// This layer with `base` (the result of [`Self::merged`]) replacing the base and the
    /// `taken` runs; runs added since are kept. `None` when this layer's runs no longer begin
    /// with `taken` (the newest runs were folded together meanwhile, so one of them holds
    /// incidents the merge did not see): the caller merges again.
    #[must_use]
    pub fn rebased(&self, base: IncidentIndex, taken: &[Arc<IncidentIndex>]) -> Option<Self> {
        let kept = self.runs.get(taken.len()..)?;
        let same = self.runs.iter().zip(taken).all(|(a, b)| Arc::ptr_eq(a, b));
        same.then(|| Self {
            base: Arc::new(base),
            runs: kept.to_vec(),
        })
    }

    /// The indexes this layer serves, for saving (`index::persist`): the base's, then the
    /// runs', each in order. [`Self::from_pieces`] rebuilds the same layer from them.
    pub fn pieces(&self) -> (Vec<Arc<IncidentIndex>>, Vec<Arc<IncidentIndex>>) {
        (vec![Arc::clone(&self.base)], self.runs.clone())
    }

    /// The layer [`Self::pieces`] was taken from. `None` when `base` is not what `pieces`
    /// gives (here: exactly one index).
    pub fn from_pieces(base: Vec<IncidentIndex>, runs: Vec<IncidentIndex>) -> Option<Self> {
        let [base]: [IncidentIndex; 1] = base.try_into().ok()?;
        Some(Self {
            base: Arc::new(base),
            runs: runs.into_iter().map(Arc::new).collect(),
        })
    }

    /// Runs served beside the base.
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    fn parts(&self) -> impl Iterator<Item = &IncidentIndex> {
        std::iter::once(self.base.as_ref()).chain(self.runs.iter().map(AsRef::as_ref))
    }

    /// Number of located (indexed) incidents.
    pub fn len(&self) -> usize {
        self.parts().map(IncidentIndex::len).sum()
    }

    /// True when no incident is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Incidents left out for want of a location.
    pub fn unlocated(&self) -> usize {
        self.parts().map(IncidentIndex::unlocated).sum()
    }

    /// First and last day over all incidents, located or not.
    pub fn day_range(&self) -> Option<(Day, Day)> {
        self.parts()
            .filter_map(IncidentIndex::day_range)
            .reduce(|(a0, a1), (b0, b1)| (a0.min(b0), a1.max(b1)))
    }

    /// The last day of a located incident known to the day.
    pub fn last_known_day(&self) -> Option<Day> {
        self.parts().filter_map(IncidentIndex::last_known_day).max()
    }

    /// Bytes of heap memory held by the indexes.
    pub fn heap_bytes(&self) -> usize {
        self.parts().map(IncidentIndex::heap_bytes).sum()
    }

    /// As [`IncidentIndex::cell_counts`] over all the incidents: sorted by cell, zero counts
    /// omitted.
    pub fn cell_counts(&self, q: &CountQuery) -> Vec<CellCount> {
        let mut counts = self.base.cell_counts(q);
        for run in &self.runs {
            counts = add_counts(&counts, &run.cell_counts(q));
        }
        counts
    }

    /// As [`IncidentIndex::incidents_in_bbox`] over all the incidents: the base's hits (by
    /// cell), then each run's, at most `limit`.
    pub fn incidents_in_bbox(
        &self,
        bbox: Bbox,
        window: TimeWindow,
        category: Option<Category>,
        limit: usize,
    ) -> (Vec<IncidentHit>, bool) {
        let mut hits = Vec::new();
        for part in self.parts() {
            let room = limit - hits.len();
            let (found, more) = part.incidents_in_bbox(bbox, window, category, room);
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
        for part in self.parts() {
            part.day_events(from, to, &mut out);
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
