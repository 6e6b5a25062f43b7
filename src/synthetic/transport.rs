//! Synthetic bus routes and stops.
//!
//! Each of the twenty routes in [`super::gazetteer::ROUTES`] is a polyline through real
//! waypoints, densified so that consecutive points are at most [`MAX_VERTEX_GAP_M`] apart.
//! Stops sit at every waypoint and at even spacing of about 350–500 m between them; a stop
//! within [`STOP_SHARE_RADIUS_M`] of an existing one is shared, so routes meeting in the
//! city centre share stops. ATCO codes are synthetic: the authority's `NaPTAN` prefix
//! (`0100` Bristol, `0190` North Somerset, `0170` South Gloucestershire, `0180` Bath and
//! North East Somerset) followed by `SYN` and a five-digit number.

use std::collections::BTreeMap;

use crate::domain::{AtcoCode, Route, RouteId, RouteMode, Stop};

use super::gazetteer::{ROUTES, WAYPOINTS, Waypoint, waypoint};
use super::rng::Rng;
use super::spatial::{AreaIndex, Authority, distance_m, lonlat};
use super::{SyntheticError, SyntheticResult};

/// Largest distance between consecutive points of a route line, metres.
pub const MAX_VERTEX_GAP_M: f64 = 300.0;
/// Target distance between stops, metres.
pub const STOP_SPACING_M: f64 = 425.0;
/// Stops closer than this to an existing stop reuse it, metres.
pub const STOP_SHARE_RADIUS_M: f64 = 60.0;

struct StopBook {
    stops: Vec<Stop>,
    points: Vec<(f64, f64)>,
    counters: BTreeMap<&'static str, u32>,
}

impl StopBook {
    /// The stop at `p` (reusing one within the share radius), creating it if needed.
    fn stop_at(
        &mut self,
        p: (f64, f64),
        index: &AreaIndex,
        near: &Waypoint,
    ) -> SyntheticResult<AtcoCode> {
        if let Some(i) = self
            .points
            .iter()
            .position(|q| distance_m(*q, p) <= STOP_SHARE_RADIUS_M)
            && let Some(s) = self.stops.get(i)
        {
            return Ok(s.id.clone());
        }
        let authority = index
            .authority_at(p.0, p.1)
            .or_else(|| index.authority_at(near.lon, near.lat))
            .unwrap_or(Authority::Bristol);
        let prefix = authority.atco_prefix();
        let counter = self.counters.entry(prefix).or_insert(0);
        *counter += 1;
        let id = AtcoCode::new(format!("{prefix}SYN{counter:05}"))?;
        let at_waypoint = distance_m((near.lon, near.lat), p) <= STOP_SHARE_RADIUS_M;
        let name = if at_waypoint {
            near.name.to_owned()
        } else {
            format!("{} (synthetic stop {})", near.name, self.stops.len() + 1)
        };
        self.stops.push(Stop {
            id: id.clone(),
            name,
            location: lonlat(p)?,
            active: true,
        });
        self.points.push(p);
        Ok(id)
    }
}

/// The waypoint nearest to `p`.
fn nearest_waypoint(p: (f64, f64)) -> Option<&'static Waypoint> {
    WAYPOINTS
        .iter()
        .min_by(|a, b| distance_m((a.lon, a.lat), p).total_cmp(&distance_m((b.lon, b.lat), p)))
}

fn lerp(a: (f64, f64), b: (f64, f64), t: f64) -> (f64, f64) {
    (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)
}

/// Generates the stops and the twenty routes.
pub fn generate(index: &AreaIndex, rng: &mut Rng) -> SyntheticResult<(Vec<Stop>, Vec<Route>)> {
    let mut book = StopBook {
        stops: Vec::new(),
        points: Vec::new(),
        counters: BTreeMap::new(),
    };
    let mut routes = Vec::with_capacity(ROUTES.len());
    for (ri, spec) in ROUTES.iter().enumerate() {
        let wps: Vec<&Waypoint> = spec
            .via
            .iter()
            .map(|n| {
                waypoint(n).ok_or_else(|| SyntheticError::Gazetteer {
                    name: (*n).to_owned(),
                })
            })
            .collect::<SyntheticResult<_>>()?;
        let (Some(first), Some(last)) = (wps.first(), wps.last()) else {
            return Err(SyntheticError::Gazetteer {
                name: spec.short_name.to_owned(),
            });
        };
        let mut line = vec![(first.lon, first.lat)];
        let mut stops = vec![book.stop_at((first.lon, first.lat), index, first)?];
        for pair in wps.windows(2) {
            let [a, b] = pair else { continue };
            let (pa, pb) = ((a.lon, a.lat), (b.lon, b.lat));
            let len_m = distance_m(pa, pb);
            // Densify: equal sub-segments no longer than 250 m (≤ 300 m with margin).
            let pieces = (len_m / 250.0).ceil().max(1.0) as usize;
            for k in 1..=pieces {
                line.push(lerp(pa, pb, k as f64 / pieces as f64));
            }
            // Stops: evenly spaced intervals of about STOP_SPACING_M, jittered by up to ±25 m.
            let intervals = (len_m / STOP_SPACING_M).round().max(1.0) as usize;
            for k in 1..intervals {
                let jitter_m = rng.range_f64(-25.0, 25.0);
                let t = ((k as f64 * len_m / intervals as f64 + jitter_m) / len_m).clamp(0.0, 1.0);
                let p = lerp(pa, pb, t);
                let near = nearest_waypoint(p).unwrap_or(a);
                let id = book.stop_at(p, index, near)?;
                if stops.last() != Some(&id) {
                    stops.push(id);
                }
            }
            let id = book.stop_at(pb, index, b)?;
            if stops.last() != Some(&id) {
                stops.push(id);
            }
        }
        routes.push(Route {
            id: RouteId::new(ri as u32 + 1),
            short_name: spec.short_name.to_owned(),
            long_name: format!("{} - {}", first.name, last.name),
            mode: RouteMode::Bus,
            line: line
                .into_iter()
                .map(lonlat)
                .collect::<SyntheticResult<_>>()?,
            stops,
        });
    }
    Ok((book.stops, routes))
}
