//! R-tree layers of point and line records.

use rstar::{AABB, RTree, primitives::GeomWithData, primitives::Rectangle};

use crate::domain::{Bbox, LonLat};

type PointEntry = GeomWithData<[f64; 2], u32>;
type RectEntry = GeomWithData<Rectangle<[f64; 2]>, u32>;

fn envelope(bbox: Bbox) -> AABB<[f64; 2]> {
    AABB::from_corners(
        [bbox.min().lon(), bbox.min().lat()],
        [bbox.max().lon(), bbox.max().lat()],
    )
}

/// Point records in an R-tree. Records keep their input order; queries return them in it.
#[derive(Debug)]
pub struct PointLayer<T> {
    items: Vec<T>,
    tree: RTree<PointEntry>,
}

impl<T> PointLayer<T> {
    /// Indexes `items` by the position `locate` gives each.
    pub fn new(items: Vec<T>, locate: impl Fn(&T) -> LonLat) -> Self {
        let entries = items
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let p = locate(t);
                GeomWithData::new([p.lon(), p.lat()], i as u32)
            })
            .collect();
        Self {
            items,
            tree: RTree::bulk_load(entries),
        }
    }

    /// Every record, in input order.
    pub fn all(&self) -> &[T] {
        &self.items
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when the layer holds nothing.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Records inside `bbox` (edges included), in input order.
    pub fn in_bbox(&self, bbox: Bbox) -> Vec<&T> {
        let mut idx: Vec<u32> = self
            .tree
            .locate_in_envelope(&envelope(bbox))
            .map(|e| e.data)
            .collect();
        idx.sort_unstable();
        idx.into_iter().map(|i| &self.items[i as usize]).collect()
    }

    /// The `n` records nearest to `p` by planar distance in degrees (adequate for ranking
    /// within a city; not a distance measure).
    pub fn nearest(&self, p: LonLat, n: usize) -> Vec<&T> {
        self.tree
            .nearest_neighbor_iter(&[p.lon(), p.lat()])
            .take(n)
            .map(|e| &self.items[e.data as usize])
            .collect()
    }
}

/// Line records (routes) in an R-tree of segment envelopes, so a query touches only the
/// segments near the box.
#[derive(Debug)]
pub struct LineLayer<T> {
    items: Vec<T>,
    segments: RTree<RectEntry>,
}

impl<T> LineLayer<T> {
    /// Indexes `items` by the polyline `line` gives each.
    pub fn new(items: Vec<T>, line: impl Fn(&T) -> &[LonLat]) -> Self {
        let mut entries = Vec::new();
        for (i, t) in items.iter().enumerate() {
            for w in line(t).windows(2) {
                let (a, b) = (w[0], w[1]);
                let rect = Rectangle::from_corners([a.lon(), a.lat()], [b.lon(), b.lat()]);
                entries.push(GeomWithData::new(rect, i as u32));
            }
        }
        Self {
            items,
            segments: RTree::bulk_load(entries),
        }
    }

    /// Every record, in input order.
    pub fn all(&self) -> &[T] {
        &self.items
    }

    /// Records with a segment whose envelope meets `bbox`, in input order. A segment's
    /// envelope meeting the box is exact for axis-aligned segments and conservative (by at
    /// most one segment's extent) otherwise; routes are densified to short segments.
    pub fn in_bbox(&self, bbox: Bbox) -> Vec<&T> {
        let mut idx: Vec<u32> = self
            .segments
            .locate_in_envelope_intersecting(&envelope(bbox))
            .map(|e| e.data)
            .collect();
        idx.sort_unstable();
        idx.dedup();
        idx.into_iter().map(|i| &self.items[i as usize]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ll(lon: f64, lat: f64) -> LonLat {
        LonLat::new(lon, lat).unwrap()
    }

    #[test]
    fn point_queries_equal_brute_force() {
        let pts: Vec<LonLat> = (0..400)
            .map(|i| {
                ll(
                    -2.7 + f64::from(i % 20) * 0.01,
                    51.4 + f64::from(i / 20) * 0.005,
                )
            })
            .collect();
        let layer = PointLayer::new(pts.clone(), |p| *p);
        let bbox = Bbox::from_coords(-2.655, 51.42, -2.6, 51.45).unwrap();
        let got: Vec<LonLat> = layer.in_bbox(bbox).into_iter().copied().collect();
        let want: Vec<LonLat> = pts.iter().copied().filter(|p| bbox.contains(*p)).collect();
        assert!(!want.is_empty());
        assert_eq!(got, want);
        let nearest = layer.nearest(ll(-2.7, 51.4), 1);
        assert_eq!(*nearest[0], ll(-2.7, 51.4));
    }

    #[test]
    fn a_line_is_found_by_any_box_its_segments_cross() {
        let lines = vec![
            vec![ll(-2.7, 51.4), ll(-2.6, 51.4), ll(-2.6, 51.5)],
            vec![ll(-2.0, 51.0), ll(-2.0, 51.1)],
        ];
        let layer = LineLayer::new(lines, Vec::as_slice);
        assert_eq!(
            layer
                .in_bbox(Bbox::from_coords(-2.65, 51.39, -2.64, 51.41).unwrap())
                .len(),
            1
        );
        assert_eq!(
            layer
                .in_bbox(Bbox::from_coords(-2.61, 51.45, -2.59, 51.46).unwrap())
                .len(),
            1
        );
        assert!(
            layer
                .in_bbox(Bbox::from_coords(-2.5, 51.2, -2.4, 51.3).unwrap())
                .is_empty()
        );
        assert_eq!(
            layer
                .in_bbox(Bbox::from_coords(-3.0, 50.0, -1.0, 52.0).unwrap())
                .len(),
            2
        );
    }
}
