//! Close pairs of events for the Knox tests (issue 15, point 2): a compact bucket grid that
//! lists every unordered pair of events no farther apart than a distance, and can stop when
//! a chunk of bounded size is full and go on later from where it stopped. The Knox tests
//! keep one chunk in memory at a time, so their memory does not grow with the number of
//! close pairs ([`super::knox`], "Memory").
//!
//! # Memory
//!
//! The grid keeps the event indexes sorted by bucket (4 bytes per event) and, per occupied
//! bucket, its key and where it starts (8 bytes, at most one bucket per event): at most
//! 12 bytes per event, besides the coordinates it borrows. A `PairChunk` holds
//! [`PAIR_BYTES`] per pair and never more pairs than its limit.

use super::knox::{DistanceMetric, distance};

/// Bytes of one close pair in a `PairChunk`: two `u32` event indexes and a `u8` row.
pub const PAIR_BYTES: usize = 9;

/// Buckets per axis at most: the bucket side is at least the extent / 4096.
const SIDE: u32 = 4097;

/// Where a listing stopped: the event whose pairs were being listed and how many of its
/// accepted pairs were listed already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursor {
    event: usize,
    taken: u64,
}

impl Cursor {
    /// The start of the listing.
    pub(crate) const START: Self = Self { event: 0, taken: 0 };
}

/// Close pairs `(i, j, row)` in three columns, at most `limit` of them; capacity never grows
/// past the limit.
#[derive(Debug, Default)]
pub(crate) struct PairChunk {
    i: Vec<u32>,
    j: Vec<u32>,
    row: Vec<u8>,
    limit: usize,
}

impl PairChunk {
    /// An empty chunk for at most `limit` pairs (at least one).
    pub(crate) fn with_limit(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            ..Self::default()
        }
    }

    /// Pairs held.
    pub(crate) fn len(&self) -> usize {
        self.i.len()
    }

    fn is_full(&self) -> bool {
        self.i.len() >= self.limit
    }

    fn push(&mut self, i: u32, j: u32, row: u8) {
        if self.i.len() == self.i.capacity() {
            // Grow by doubling, but never past the limit.
            let more = self.i.capacity().max(1024).min(self.limit - self.i.len());
            self.i.reserve_exact(more);
            self.j.reserve_exact(more);
            self.row.reserve_exact(more);
        }
        self.i.push(i);
        self.j.push(j);
        self.row.push(row);
    }

    /// Empties the chunk, keeping its capacity.
    pub(crate) fn clear(&mut self) {
        self.i.clear();
        self.j.clear();
        self.row.clear();
    }

    /// The pairs: event indexes `i < j` and the row the caller accepted them with.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, u32, u8)> + '_ {
        self.i
            .iter()
            .zip(&self.j)
            .zip(&self.row)
            .map(|((&i, &j), &r)| (i, j, r))
    }
}

/// A bucket grid of side at least `max_d` over borrowed planar coordinates (Manhattan ≥
/// Euclidean, so the grid serves both metrics): a pair within `max_d` lies in the same or
/// neighbouring buckets.
#[derive(Debug)]
pub(crate) struct PairGrid<'a> {
    xy: &'a [[f64; 2]],
    max_d: f64,
    metric: DistanceMetric,
    lo: [f64; 2],
    size: f64,
    /// Event indexes sorted by bucket, then by index.
    order: Vec<u32>,
    /// Keys of the occupied buckets, ascending.
    keys: Vec<u32>,
    /// Where each occupied bucket starts in `order`, and an end sentinel.
    starts: Vec<u32>,
}

impl<'a> PairGrid<'a> {
    /// The grid of `xy` (finite coordinates, fewer than 2³² events) for pairs within `max_d`.
    pub(crate) fn new(xy: &'a [[f64; 2]], max_d: f64, metric: DistanceMetric) -> Self {
        let (mut lo_x, mut lo_y) = (f64::INFINITY, f64::INFINITY);
        let (mut hi_x, mut hi_y) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        for p in xy {
            lo_x = lo_x.min(p[0]);
            lo_y = lo_y.min(p[1]);
            hi_x = hi_x.max(p[0]);
            hi_y = hi_y.max(p[1]);
        }
        // Buckets no smaller than the extent / 4096 so the key never overflows.
        let size = max_d
            .max((hi_x - lo_x).max(hi_y - lo_y) / 4096.0)
            .max(f64::MIN_POSITIVE);
        let mut grid = Self {
            xy,
            max_d,
            metric,
            lo: [lo_x, lo_y],
            size,
            order: Vec::new(),
            keys: Vec::new(),
            starts: Vec::new(),
        };
        let mut order: Vec<u32> = (0..xy.len() as u32).collect();
        order.sort_unstable_by_key(|&i| (grid.key(xy[i as usize]), i));
        let mut buckets = 0usize;
        let mut last = None;
        for &i in &order {
            let k = grid.key(xy[i as usize]);
            if last != Some(k) {
                buckets += 1;
                last = Some(k);
            }
        }
        let mut keys = Vec::with_capacity(buckets);
        let mut starts = Vec::with_capacity(buckets + 1);
        for (at, &i) in order.iter().enumerate() {
            let k = grid.key(xy[i as usize]);
            if keys.last() != Some(&k) {
                keys.push(k);
                starts.push(at as u32);
            }
        }
        starts.push(order.len() as u32);
        grid.order = order;
        grid.keys = keys;
        grid.starts = starts;
        grid
    }

    /// The bucket column and row of a point, each in `0..SIDE`.
    fn cell(&self, p: [f64; 2]) -> (u32, u32) {
        let axis = |v: f64, lo: f64| ((v - lo) / self.size).floor().clamp(0.0, 4096.0) as u32;
        (axis(p[0], self.lo[0]), axis(p[1], self.lo[1]))
    }

    fn key(&self, p: [f64; 2]) -> u32 {
        let (bx, by) = self.cell(p);
        bx * SIDE + by
    }

    /// The events of bucket (`bx`, `by`), in index order.
    fn bucket(&self, bx: i64, by: i64) -> &[u32] {
        let side = i64::from(SIDE);
        if !(0..side).contains(&bx) || !(0..side).contains(&by) {
            return &[];
        }
        let key = (bx * side + by) as u32;
        match self.keys.binary_search(&key) {
            Ok(k) => &self.order[self.starts[k] as usize..self.starts[k + 1] as usize],
            Err(_) => &[],
        }
    }

    /// Adds to `out` the pairs `(i, j)`, `i < j`, within `max_d` that `accept` gives a row
    /// (from the distance), from `from` on, in a fixed order, until `out` is full. Returns
    /// where to go on when `out` filled up before the last pair, `None` when every pair has
    /// been listed — or the computation was cancelled (the caller checks the token before
    /// using the pairs).
    pub(crate) fn fill(
        &self,
        from: Cursor,
        accept: impl Fn(f64) -> Option<u8>,
        out: &mut PairChunk,
    ) -> Option<Cursor> {
        for i in from.event..self.xy.len() {
            if i % 1024 == 0 && super::cancel::is_cancelled() {
                return None;
            }
            let skip = if i == from.event { from.taken } else { 0 };
            let mut taken = 0u64;
            let p = self.xy[i];
            let (bx, by) = self.cell(p);
            for dx in -1..=1 {
                for dy in -1..=1 {
                    let list = self.bucket(i64::from(bx) + dx, i64::from(by) + dy);
                    let later = list.partition_point(|&j| j as usize <= i);
                    for &j in &list[later..] {
                        let d = distance(self.metric, p, self.xy[j as usize]);
                        if d > self.max_d {
                            continue;
                        }
                        let Some(row) = accept(d) else {
                            continue;
                        };
                        taken += 1;
                        if taken <= skip {
                            continue;
                        }
                        if out.is_full() {
                            return Some(Cursor {
                                event: i,
                                taken: taken - 1,
                            });
                        }
                        out.push(i as u32, j, row);
                    }
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_pairs(xy: &[[f64; 2]], max_d: f64, limit: usize) -> (Vec<(u32, u32, u8)>, usize) {
        let grid = PairGrid::new(xy, max_d, DistanceMetric::Euclidean);
        let mut chunk = PairChunk::with_limit(limit);
        let mut from = Some(Cursor::START);
        let mut out = Vec::new();
        let mut chunks = 0;
        while let Some(start) = from {
            chunk.clear();
            from = grid.fill(start, |d| Some(u8::from(d > 1.0)), &mut chunk);
            assert!(chunk.len() <= limit.max(1));
            assert!(chunk.i.capacity() <= limit.max(1));
            out.extend(chunk.iter());
            chunks += 1;
        }
        (out, chunks)
    }

    #[test]
    fn chunked_listing_gives_every_close_pair_once_in_the_same_order() {
        // A dense clump (many pairs per event) and a sparse spread.
        let mut xy: Vec<[f64; 2]> = (0..60)
            .map(|i| [f64::from(i % 7) * 0.3, f64::from(i / 7) * 0.3])
            .collect();
        xy.extend((0..200).map(|i| [f64::from(i * 37 % 101) * 3.1, f64::from(i * 53 % 89) * 2.7]));
        let mut brute = Vec::new();
        for i in 0..xy.len() {
            for j in i + 1..xy.len() {
                let d = distance(DistanceMetric::Euclidean, xy[i], xy[j]);
                if d <= 4.0 {
                    brute.push((i as u32, j as u32, u8::from(d > 1.0)));
                }
            }
        }
        let (whole, one) = all_pairs(&xy, 4.0, usize::MAX);
        assert_eq!(one, 1);
        let mut sorted = whole.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, brute);
        for limit in [1, 2, 7, 100, brute.len() - 1, brute.len()] {
            let (chunked, chunks) = all_pairs(&xy, 4.0, limit);
            assert_eq!(chunked, whole, "limit {limit}");
            assert_eq!(chunks, brute.len().div_ceil(limit), "limit {limit}");
        }
    }

    #[test]
    fn an_empty_or_single_input_has_no_pairs() {
        assert_eq!(all_pairs(&[], 1.0, 10), (Vec::new(), 1));
        assert_eq!(all_pairs(&[[1.0, 2.0]], 1.0, 10), (Vec::new(), 1));
    }
}
