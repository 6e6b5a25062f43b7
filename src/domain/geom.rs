//! Coordinates and boxes in WGS84 longitude/latitude (longitude first, as in GeoJSON and geo).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{DomainError, DomainResult};

/// A WGS84 position in decimal degrees, longitude first. Always finite and on the globe.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "[f64; 2]", into = "[f64; 2]")]
pub struct LonLat {
    lon: f64,
    lat: f64,
}

impl LonLat {
    /// Validates a longitude in [-180, 180] and latitude in [-90, 90], both finite.
    pub fn new(lon: f64, lat: f64) -> DomainResult<Self> {
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err(DomainError::invalid(
                "longitude",
                format!("{lon} is not in -180..180"),
            ));
        }
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(DomainError::invalid(
                "latitude",
                format!("{lat} is not in -90..90"),
            ));
        }
        Ok(Self { lon, lat })
    }

    /// Longitude in degrees.
    pub fn lon(self) -> f64 {
        self.lon
    }

    /// Latitude in degrees.
    pub fn lat(self) -> f64 {
        self.lat
    }

    /// As a `geo` point (x = longitude, y = latitude).
    pub fn to_point(self) -> geo::Point<f64> {
        geo::Point::new(self.lon, self.lat)
    }
}

impl TryFrom<[f64; 2]> for LonLat {
    type Error = DomainError;
    fn try_from(v: [f64; 2]) -> DomainResult<Self> {
        Self::new(v[0], v[1])
    }
}

impl From<LonLat> for [f64; 2] {
    fn from(p: LonLat) -> Self {
        [p.lon, p.lat]
    }
}

/// A WGS84 bounding box `min_lon,min_lat,max_lon,max_lat`, never inverted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bbox {
    min: LonLat,
    max: LonLat,
}

impl Bbox {
    /// Builds a box from its south-west and north-east corners.
    pub fn new(min: LonLat, max: LonLat) -> DomainResult<Self> {
        if min.lon > max.lon || min.lat > max.lat {
            return Err(DomainError::invalid(
                "bbox",
                "minimum corner is above or right of maximum",
            ));
        }
        Ok(Self { min, max })
    }

    /// A box from four numbers in `min_lon, min_lat, max_lon, max_lat` order that are known
    /// to make a valid box: for the domain's constants only (`geography::STUDY_AREA_BBOX`),
    /// each checked against [`Bbox::from_coords`] by a unit test.
    pub(super) const fn from_valid_coords(
        min_lon: f64,
        min_lat: f64,
        max_lon: f64,
        max_lat: f64,
    ) -> Self {
        Self {
            min: LonLat {
                lon: min_lon,
                lat: min_lat,
            },
            max: LonLat {
                lon: max_lon,
                lat: max_lat,
            },
        }
    }

    /// Builds a box from four numbers in `min_lon, min_lat, max_lon, max_lat` order.
    pub fn from_coords(
        min_lon: f64,
        min_lat: f64,
        max_lon: f64,
        max_lat: f64,
    ) -> DomainResult<Self> {
        let min = LonLat::new(min_lon, min_lat)
            .map_err(|e| DomainError::invalid("bbox", e.to_string()))?;
        let max = LonLat::new(max_lon, max_lat)
            .map_err(|e| DomainError::invalid("bbox", e.to_string()))?;
        Self::new(min, max)
    }

    /// South-west corner.
    pub fn min(self) -> LonLat {
        self.min
    }

    /// North-east corner.
    pub fn max(self) -> LonLat {
        self.max
    }

    /// True when `p` lies inside or on the edge of the box.
    pub fn contains(self, p: LonLat) -> bool {
        p.lon >= self.min.lon
            && p.lon <= self.max.lon
            && p.lat >= self.min.lat
            && p.lat <= self.max.lat
    }

    /// True when `(lon, lat)` lies inside or on the edge of the box (for hot loops over raw columns).
    pub fn contains_raw(self, lon: f64, lat: f64) -> bool {
        lon >= self.min.lon && lon <= self.max.lon && lat >= self.min.lat && lat <= self.max.lat
    }

    /// The box grown by `margin_deg` degrees on every side, clamped to the globe.
    #[must_use]
    pub fn expanded_deg(self, margin_deg: f64) -> Self {
        let min = LonLat {
            lon: (self.min.lon - margin_deg).max(-180.0),
            lat: (self.min.lat - margin_deg).max(-90.0),
        };
        let max = LonLat {
            lon: (self.max.lon + margin_deg).min(180.0),
            lat: (self.max.lat + margin_deg).min(90.0),
        };
        Self { min, max }
    }

    /// The smallest box holding every point, or `None` for no points.
    pub fn enclosing(points: impl IntoIterator<Item = LonLat>) -> Option<Self> {
        let mut it = points.into_iter();
        let first = it.next()?;
        let (mut min, mut max) = (first, first);
        for p in it {
            min.lon = min.lon.min(p.lon);
            min.lat = min.lat.min(p.lat);
            max.lon = max.lon.max(p.lon);
            max.lat = max.lat.max(p.lat);
        }
        Some(Self { min, max })
    }

    /// Width times height in square degrees (used to cap query sizes, not as an area measure).
    pub fn area_deg2(self) -> f64 {
        (self.max.lon - self.min.lon) * (self.max.lat - self.min.lat)
    }
}

impl FromStr for Bbox {
    type Err = DomainError;

    fn from_str(s: &str) -> DomainResult<Self> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        if parts.len() != 4 {
            return Err(DomainError::invalid(
                "bbox",
                "expected minLon,minLat,maxLon,maxLat",
            ));
        }
        let mut v = [0.0_f64; 4];
        for (slot, part) in v.iter_mut().zip(&parts) {
            *slot = part
                .parse::<f64>()
                .map_err(|_| DomainError::invalid("bbox", format!("{part:?} is not a number")))?;
        }
        Self::from_coords(v[0], v[1], v[2], v[3])
    }
}

impl fmt::Display for Bbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{},{},{},{}",
            self.min.lon, self.min.lat, self.max.lon, self.max.lat
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bbox_parses_from_four_numbers_and_prints_back() {
        let b: Bbox = "-2.7,51.4,-2.5,51.5".parse().unwrap();
        assert_eq!(b.to_string(), "-2.7,51.4,-2.5,51.5");
        assert!(b.contains(LonLat::new(-2.6, 51.45).unwrap()));
        assert!(!b.contains(LonLat::new(-2.8, 51.45).unwrap()));
    }

    #[test]
    fn an_inverted_or_malformed_bbox_is_refused() {
        assert!("-2.5,51.4,-2.7,51.5".parse::<Bbox>().is_err());
        assert!("-2.5,51.4,-2.7".parse::<Bbox>().is_err());
        assert!("a,b,c,d".parse::<Bbox>().is_err());
        assert!("-2.5,91,-2.4,92".parse::<Bbox>().is_err());
        assert!("NaN,51,-2.4,52".parse::<Bbox>().is_err());
    }

    #[test]
    fn a_lonlat_refuses_non_finite_and_off_globe_values() {
        assert!(LonLat::new(f64::INFINITY, 0.0).is_err());
        assert!(LonLat::new(0.0, 90.5).is_err());
        assert!(LonLat::new(-180.0, -90.0).is_ok());
    }
}
