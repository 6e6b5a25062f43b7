//! Spatial helpers for the generator: metre offsets near Bristol, a fast point-in-polygon
//! index for the (large) authority outlines, and uniform sampling inside wards.
//!
//! # Units
//! Positions are WGS84 degrees. Offsets and distances are metres, converted with an
//! equirectangular approximation about latitude 51.45° N: 1° of latitude ≈ 111 320 m and
//! 1° of longitude ≈ 111 320 · cos(51.45°) ≈ 69 390 m. Over the West of England (≈ 60 km
//! across) the error is well under 1 %, ample for synthetic data.

use geo::{BoundingRect, InteriorPoint};

use crate::domain::{Boundary, LonLat};
use crate::ingest::west_of_england::{AreaSet, SCHEME_LAD, SCHEME_WARD};

use super::rng::Rng;
use super::{SyntheticError, SyntheticResult};

/// Metres per degree of latitude (equirectangular approximation).
pub const M_PER_DEG_LAT: f64 = 111_320.0;
/// Reference latitude of the approximation, degrees (central Bristol).
pub const REF_LAT_DEG: f64 = 51.45;

/// Metres per degree of longitude at [`REF_LAT_DEG`].
pub fn m_per_deg_lon() -> f64 {
    M_PER_DEG_LAT * REF_LAT_DEG.to_radians().cos()
}

/// Projects a position to local metres `(x_m, y_m)` east and north of 0°E, 0°N on the
/// equirectangular plane (only differences are meaningful).
pub fn to_local_m(lon: f64, lat: f64) -> (f64, f64) {
    (lon * m_per_deg_lon(), lat * M_PER_DEG_LAT)
}

/// Moves `(lon, lat)` by `dx_m` metres east and `dy_m` metres north.
pub fn offset_m(lon: f64, lat: f64, dx_m: f64, dy_m: f64) -> (f64, f64) {
    (lon + dx_m / m_per_deg_lon(), lat + dy_m / M_PER_DEG_LAT)
}

/// Approximate distance in metres between two positions.
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let dx = (a.0 - b.0) * m_per_deg_lon();
    let dy = (a.1 - b.1) * M_PER_DEG_LAT;
    dx.hypot(dy)
}

/// Builds a validated [`LonLat`].
pub fn lonlat(p: (f64, f64)) -> SyntheticResult<LonLat> {
    Ok(LonLat::new(p.0, p.1)?)
}

/// One polygon edge in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Edge {
    x1: f64,
    y1: f64,
    x2: f64,
    y2: f64,
}

/// A multipolygon prepared for fast containment tests: its edges are bucketed into
/// horizontal strips, so a crossing-number (even–odd) test looks only at the few edges in the
/// point's strip instead of the thousands in a full authority outline.
#[derive(Debug, Clone, PartialEq)]
pub struct StripPolygon {
    min_x: f64,
    min_y: f64,
    max_x: f64,
    max_y: f64,
    strip_h_deg: f64,
    strips: Vec<Vec<Edge>>,
}

impl StripPolygon {
    /// Prepares `mp` with strips about `strip_h_m` metres high. `None` for an empty geometry.
    pub fn new(mp: &geo::MultiPolygon<f64>, strip_h_m: f64) -> Option<Self> {
        let rect = mp.bounding_rect()?;
        let (min_x, min_y) = (rect.min().x, rect.min().y);
        let (max_x, max_y) = (rect.max().x, rect.max().y);
        let strip_h_deg = (strip_h_m / M_PER_DEG_LAT).max(1e-6);
        let n_strips = (((max_y - min_y) / strip_h_deg).floor() as usize + 1).min(100_000);
        let mut strips: Vec<Vec<Edge>> = vec![Vec::new(); n_strips];
        let strip_of =
            |y: f64| (((y - min_y) / strip_h_deg).floor().max(0.0) as usize).min(n_strips - 1);
        for poly in &mp.0 {
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                for line in ring.lines() {
                    let e = Edge {
                        x1: line.start.x,
                        y1: line.start.y,
                        x2: line.end.x,
                        y2: line.end.y,
                    };
                    let (lo, hi) = (strip_of(e.y1.min(e.y2)), strip_of(e.y1.max(e.y2)));
                    for strip in &mut strips[lo..=hi] {
                        strip.push(e);
                    }
                }
            }
        }
        Some(Self {
            min_x,
            min_y,
            max_x,
            max_y,
            strip_h_deg,
            strips,
        })
    }

    /// True when `(lon, lat)` is inside (even–odd rule; points exactly on an edge may go
    /// either way).
    pub fn contains(&self, lon: f64, lat: f64) -> bool {
        if lon < self.min_x || lon > self.max_x || lat < self.min_y || lat > self.max_y {
            return false;
        }
        let i = ((lat - self.min_y) / self.strip_h_deg).floor() as usize;
        let Some(strip) = self.strips.get(i) else {
            return false;
        };
        let mut inside = false;
        for e in strip {
            if (e.y1 > lat) != (e.y2 > lat) {
                let x_cross = e.x1 + (lat - e.y1) * (e.x2 - e.x1) / (e.y2 - e.y1);
                if x_cross > lon {
                    inside = !inside;
                }
            }
        }
        inside
    }

    /// The bounding box `(min_lon, min_lat, max_lon, max_lat)`.
    pub fn bbox(&self) -> (f64, f64, f64, f64) {
        (self.min_x, self.min_y, self.max_x, self.max_y)
    }
}

/// The authorities of the partnership's geography (`domain::geography`): the demo generates
/// records in the partners ([`Authority::PARTNERS`]) only.
pub use crate::domain::geography::Authority;

/// A ward prepared for sampling.
#[derive(Debug, Clone)]
pub struct WardInfo {
    /// Index of the ward in the area set's boundaries.
    pub boundary_index: usize,
    /// Ward name.
    pub name: String,
    /// The authority holding the ward's interior point.
    pub authority: Authority,
    /// Bristol sub-area (`north`, `central`, `east`, `south`), `None` outside Bristol.
    pub sub_area: Option<String>,
    /// A point inside the ward.
    pub interior: (f64, f64),
    /// The prepared outline.
    pub shape: StripPolygon,
}

/// The authorities and wards of an [`AreaSet`], prepared for containment tests and sampling.
#[derive(Debug, Clone)]
pub struct AreaIndex {
    /// `(authority, outline)` for every authority present.
    lads: Vec<(Authority, StripPolygon)>,
    /// Every ward whose interior point lies in a covered authority.
    pub wards: Vec<WardInfo>,
}

/// Strip height for authority outlines, metres.
const LAD_STRIP_H_M: f64 = 110.0;
/// Strip height for ward outlines, metres.
const WARD_STRIP_H_M: f64 = 200.0;

impl AreaIndex {
    /// Prepares the `lad` and `ward` schemes of `areas`. Errors when one of the three covered
    /// authorities, or its wards, is missing.
    pub fn new(areas: &AreaSet) -> SyntheticResult<Self> {
        let mut lads = Vec::new();
        for b in areas.scheme(SCHEME_LAD) {
            if let Some(auth) = Authority::from_code(b.code.as_str())
                && let Some(shape) = StripPolygon::new(&b.geometry, LAD_STRIP_H_M)
            {
                lads.push((auth, shape));
            }
        }
        lads.sort_by_key(|(a, _)| *a);
        for auth in Authority::PARTNERS {
            if !lads.iter().any(|(a, _)| *a == auth) {
                return Err(SyntheticError::MissingBoundary {
                    scheme: SCHEME_LAD.to_owned(),
                    code: auth.code().to_owned(),
                });
            }
        }
        let mut index = Self {
            lads,
            wards: Vec::new(),
        };
        for (i, b) in areas.boundaries.iter().enumerate() {
            if b.scheme.as_str() != SCHEME_WARD {
                continue;
            }
            let Some(ip) = b.geometry.interior_point() else {
                continue;
            };
            let interior = (ip.x(), ip.y());
            let Some(authority) = index.authority_at(interior.0, interior.1) else {
                continue;
            };
            if !Authority::PARTNERS.contains(&authority) {
                continue;
            }
            let Some(shape) = StripPolygon::new(&b.geometry, WARD_STRIP_H_M) else {
                continue;
            };
            index.wards.push(WardInfo {
                boundary_index: i,
                name: b.name.clone(),
                authority,
                sub_area: areas.bristol_ward_sub_area.get(&b.code).cloned(),
                interior,
                shape,
            });
        }
        for auth in Authority::PARTNERS {
            if !index.wards.iter().any(|w| w.authority == auth) {
                return Err(SyntheticError::MissingBoundary {
                    scheme: SCHEME_WARD.to_owned(),
                    code: format!("any ward of {}", auth.code()),
                });
            }
        }
        Ok(index)
    }

    /// The authority containing `(lon, lat)`, if any.
    pub fn authority_at(&self, lon: f64, lat: f64) -> Option<Authority> {
        self.lads
            .iter()
            .find(|(_, s)| s.contains(lon, lat))
            .map(|(a, _)| *a)
    }

    /// The covered authority (Bristol, North Somerset, South Gloucestershire) containing the
    /// point, if any.
    pub fn covered_authority_at(&self, lon: f64, lat: f64) -> Option<Authority> {
        self.authority_at(lon, lat)
            .filter(|a| Authority::PARTNERS.contains(a))
    }

    /// A uniform random point inside ward `w` that is also inside its authority. Rejection
    /// sampling in the ward's bounding box; falls back to the ward's interior point.
    pub fn sample_in_ward(&self, w: &WardInfo, rng: &mut Rng) -> (f64, f64) {
        let (x0, y0, x1, y1) = w.shape.bbox();
        for _ in 0..200 {
            let lon = rng.range_f64(x0, x1);
            let lat = rng.range_f64(y0, y1);
            if w.shape.contains(lon, lat) && self.authority_at(lon, lat) == Some(w.authority) {
                return (lon, lat);
            }
        }
        w.interior
    }
}

/// Sums `values` (one per ward, same order as `index.wards`) over the wards whose interior
/// point lies in `boundary`; `None` when no ward does.
pub fn sum_over_wards(boundary: &Boundary, index: &AreaIndex, values: &[u32]) -> Option<u32> {
    let shape = StripPolygon::new(&boundary.geometry, LAD_STRIP_H_M)?;
    let mut total: Option<u32> = None;
    for (w, v) in index.wards.iter().zip(values) {
        if shape.contains(w.interior.0, w.interior.1) {
            total = Some(total.unwrap_or(0).saturating_add(*v));
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Contains;

    #[test]
    fn metre_offsets_round_trip_through_the_equirectangular_approximation() {
        let (lon, lat) = offset_m(-2.59, 51.45, 300.0, -400.0);
        approx::assert_relative_eq!(
            distance_m((-2.59, 51.45), (lon, lat)),
            500.0,
            max_relative = 1e-9
        );
        approx::assert_relative_eq!(m_per_deg_lon(), 69_390.0, max_relative = 1e-3);
    }

    #[test]
    fn strip_containment_agrees_with_geo_on_a_polygon_with_a_hole() {
        let mp: geo::MultiPolygon<f64> = geo::wkt! {
            MULTIPOLYGON(((0. 0.,0.01 0.,0.01 0.01,0. 0.01,0. 0.),(0.004 0.004,0.006 0.004,0.006 0.006,0.004 0.006,0.004 0.004)))
        };
        let s = StripPolygon::new(&mp, 50.0).unwrap();
        let mut r = Rng::new(3);
        for _ in 0..5000 {
            let (x, y) = (r.range_f64(-0.002, 0.012), r.range_f64(-0.002, 0.012));
            assert_eq!(
                s.contains(x, y),
                mp.contains(&geo::Point::new(x, y)),
                "({x}, {y})"
            );
        }
    }
}
