//! Borders between local authorities (the cross-border layer, product M5): the edges of each
//! `lad` outline that another authority's outline shares, within [`SHARED_EDGE_TOLERANCE_M`].
//! Coastline and borders with authorities outside the area set are left out, so "near a border"
//! means near a border the partnership's agencies actually work across.
//!
//! Distances are in a local equirectangular projection around the study area (about 0.1 %
//! error over 50 km), ample for "within a kilometre of a border".

use geo::CoordsIter as _;
use rstar::{PointDistance as _, RTree, primitives::Line};

use crate::domain::{Boundary, LonLat};

/// Two outlines' edges closer than this are one shared border.
pub const SHARED_EDGE_TOLERANCE_M: f64 = 50.0;

const ORIGIN_LON: f64 = -2.59;
const ORIGIN_LAT: f64 = 51.45;
const M_PER_DEG_LAT: f64 = 110_574.0;

fn m_per_deg_lon() -> f64 {
    111_320.0 * ORIGIN_LAT.to_radians().cos()
}

/// Local metres east and north of the study area's origin.
pub fn to_local_m(lon: f64, lat: f64) -> [f64; 2] {
    [
        (lon - ORIGIN_LON) * m_per_deg_lon(),
        (lat - ORIGIN_LAT) * M_PER_DEG_LAT,
    ]
}

/// One shared border edge, in lon/lat, with the two authorities it separates.
#[derive(Debug, Clone, PartialEq)]
pub struct BorderEdge {
    /// Start and end, lon/lat.
    pub line: [LonLat; 2],
    /// Code of the authority whose outline the edge was taken from.
    pub code: String,
    /// Code of the authority on the other side.
    pub other: String,
}

/// A run of consecutive shared edges between the same two authorities, as one line.
#[derive(Debug, Clone, PartialEq)]
pub struct BorderLine {
    /// Vertices, lon/lat, at least two.
    pub points: Vec<LonLat>,
    /// Code of the authority whose outline the line follows.
    pub code: String,
    /// Code of the authority on the other side.
    pub other: String,
}

/// Shared authority borders with nearest-edge distance queries.
#[derive(Debug, Default)]
pub struct BorderIndex {
    edges: Vec<BorderEdge>,
    lines: Vec<BorderLine>,
    tree: RTree<Line<[f64; 2]>>,
}

impl BorderIndex {
    /// The shared borders between `authorities` (one outline each).
    pub fn build(authorities: &[&Boundary]) -> Self {
        let edges_of = |b: &Boundary| -> Vec<([f64; 2], [f64; 2])> {
            let mut out = Vec::new();
            for poly in &b.geometry.0 {
                for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                    let pts: Vec<_> = ring.coords_iter().collect();
                    for w in pts.windows(2) {
                        out.push(([w[0].x, w[0].y], [w[1].x, w[1].y]));
                    }
                }
            }
            out
        };
        let per_area: Vec<Vec<([f64; 2], [f64; 2])>> =
            authorities.iter().map(|b| edges_of(b)).collect();
        let trees: Vec<RTree<Line<[f64; 2]>>> = per_area
            .iter()
            .map(|edges| {
                RTree::bulk_load(
                    edges
                        .iter()
                        .map(|(a, b)| Line::new(to_local_m(a[0], a[1]), to_local_m(b[0], b[1])))
                        .collect(),
                )
            })
            .collect();
        let tol2 = SHARED_EDGE_TOLERANCE_M * SHARED_EDGE_TOLERANCE_M;
        let mut edges = Vec::new();
        let mut local = Vec::new();
        for (i, area_edges) in per_area.iter().enumerate() {
            for (a, b) in area_edges {
                let mid = to_local_m(f64::midpoint(a[0], b[0]), f64::midpoint(a[1], b[1]));
                let other = trees.iter().enumerate().find(|(j, t)| {
                    *j != i
                        && t.nearest_neighbor(&mid)
                            .is_some_and(|n| n.distance_2(&mid) <= tol2)
                });
                let Some((j, _)) = other else { continue };
                let (Ok(p), Ok(q)) = (LonLat::new(a[0], a[1]), LonLat::new(b[0], b[1])) else {
                    continue;
                };
                edges.push(BorderEdge {
                    line: [p, q],
                    code: authorities[i].code.as_str().to_owned(),
                    other: authorities[j].code.as_str().to_owned(),
                });
                local.push(Line::new(to_local_m(a[0], a[1]), to_local_m(b[0], b[1])));
            }
        }
        let lines = chain(&edges);
        Self {
            edges,
            lines,
            tree: RTree::bulk_load(local),
        }
    }

    /// The shared borders as lines: consecutive edges between the same two authorities joined
    /// (thousands of two-point edges become a few dozen lines).
    pub fn lines(&self) -> &[BorderLine] {
        &self.lines
    }

    /// The shared edges (each border appears once per side).
    pub fn edges(&self) -> &[BorderEdge] {
        &self.edges
    }

    /// Metres from `p` to the nearest shared border, or `None` with no borders.
    pub fn distance_m(&self, p: LonLat) -> Option<f64> {
        let q = to_local_m(p.lon(), p.lat());
        self.tree
            .nearest_neighbor(&q)
            .map(|l| l.distance_2(&q).sqrt())
    }
}

/// Joins edges that continue one another (in outline order) between the same authorities.
fn chain(edges: &[BorderEdge]) -> Vec<BorderLine> {
    let mut lines: Vec<BorderLine> = Vec::new();
    for e in edges {
        if let Some(last) = lines.last_mut()
            && last.code == e.code
            && last.other == e.other
            && last.points.last() == Some(&e.line[0])
        {
            last.points.push(e.line[1]);
            continue;
        }
        lines.push(BorderLine {
            points: e.line.to_vec(),
            code: e.code.clone(),
            other: e.other.clone(),
        });
    }
    lines
}

#[cfg(test)]
mod tests {
    use geo::{MultiPolygon, polygon};

    use super::*;
    use crate::domain::{BoundaryCode, SchemeName};

    fn square(code: &str, x0: f64) -> Boundary {
        Boundary {
            scheme: SchemeName::new("lad").unwrap(),
            code: BoundaryCode::new(code).unwrap(),
            name: code.to_owned(),
            geometry: MultiPolygon(vec![polygon![
                (x: x0, y: 51.40), (x: x0 + 0.1, y: 51.40), (x: x0 + 0.1, y: 51.50),
                (x: x0, y: 51.50), (x: x0, y: 51.40)
            ]]),
            youth_population: None,
        }
    }

    #[test]
    fn only_the_shared_edge_is_a_border_and_distances_are_in_metres() {
        let a = square("A", -2.7);
        let b = square("B", -2.6);
        let idx = BorderIndex::build(&[&a, &b]);
        // The shared edge is x = -2.6 (one edge from each outline).
        assert_eq!(idx.edges().len(), 2);
        assert_eq!(idx.lines().len(), 2);
        assert!(idx.lines().iter().all(|l| l.points.len() == 2));
        assert!(
            idx.edges()
                .iter()
                .all(|e| e.line.iter().all(|p| (p.lon() + 2.6).abs() < 1e-12))
        );
        let near = LonLat::new(-2.6 + 0.005, 51.45).unwrap();
        let d = idx.distance_m(near).unwrap();
        let expected = 0.005 * m_per_deg_lon();
        assert!((d - expected).abs() < 1.0, "{d} vs {expected}");
        // Far from the shared edge but next to an outer edge (a coast): still far.
        let west = LonLat::new(-2.6995, 51.45).unwrap();
        assert!(idx.distance_m(west).unwrap() > 6_000.0);
    }

    #[test]
    fn consecutive_edges_join_into_one_line() {
        let p = |x: f64| LonLat::new(x, 51.4).unwrap();
        let edge = |a: f64, b: f64, other: &str| BorderEdge {
            line: [p(a), p(b)],
            code: "A".to_owned(),
            other: other.to_owned(),
        };
        let lines = chain(&[
            edge(-2.6, -2.59, "B"),
            edge(-2.59, -2.58, "B"),
            edge(-2.58, -2.57, "C"),
            edge(-2.50, -2.49, "C"),
        ]);
        let lens: Vec<usize> = lines.iter().map(|l| l.points.len()).collect();
        assert_eq!(lens, [3, 2, 2]);
    }

    #[test]
    fn no_authorities_no_borders() {
        let idx = BorderIndex::build(&[]);
        assert!(idx.edges().is_empty());
        assert_eq!(idx.distance_m(LonLat::new(-2.6, 51.45).unwrap()), None);
    }
}
