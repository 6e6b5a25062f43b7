//! Reconciliation across sources (issue 4, point 5): incidents from different agencies that
//! are probably the same event are *linked*, never deleted, and reported; and a per-area report
//! sets incidents beside the distinct individuals linked to them, because the 2024 review found
//! the two confused.
//!
//! A pair is a likely duplicate when both incidents are located, have the same category, come
//! from different agencies, lie within `distance_m` of each other and within `window_days` of
//! each other. A month-precision incident (police.uk) matches any day of its month widened by
//! the window, since its day is unknown.
//!
//! # Units
//!
//! Distances in metres by an equirectangular approximation at the pair's mean latitude (exact to
//! well under 1 % at the distances used, up to a few kilometres).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::domain::{
    Category, Day, Incident, IncidentId, Link, LinkKind, LinkTarget, TimePrecision,
};
use crate::index::BoundaryIndex;

/// Metres per degree of latitude (mean, WGS84).
const M_PER_DEG_LAT: f64 = 111_320.0;

/// Settings of the duplicate search.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ReconcileParams {
    /// Largest distance between the two incidents, in metres.
    pub distance_m: f64,
    /// Largest difference between their days.
    pub window_days: u16,
}

impl Default for ReconcileParams {
    fn default() -> Self {
        Self {
            distance_m: 100.0,
            window_days: 1,
        }
    }
}

/// Two incidents from different sources that are probably one event.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LikelyDuplicate {
    /// The incident with the smaller id.
    pub a: IncidentId,
    /// The other incident.
    pub b: IncidentId,
    /// Their common category.
    pub category: Category,
    /// Distance between them, metres.
    pub distance_m: f64,
    /// Days between them (0 when either has month precision and the other falls in its month).
    pub days_apart: u16,
}

fn day_span(i: &Incident) -> (u16, u16) {
    let d = i.time.day.days_since_epoch();
    match i.time.precision {
        TimePrecision::Month => {
            let (y, m, _) = i.time.day.ymd();
            let next = if m == 12 {
                Day::from_ymd(y + 1, 1, 1)
            } else {
                Day::from_ymd(y, m + 1, 1)
            };
            let last = next.map_or(d, |n| n.days_since_epoch().saturating_sub(1));
            (d, last)
        }
        TimePrecision::Day | TimePrecision::Exact => (d, d),
    }
}

/// Every likely duplicate pair, each once, sorted by `(a, b)`.
///
/// # Complexity
///
/// Incidents are bucketed on a grid of `distance_m` squares; each is compared only with the
/// incidents of its own and the eight neighbouring squares.
pub fn likely_duplicates(incidents: &[Incident], params: ReconcileParams) -> Vec<LikelyDuplicate> {
    let cell_deg_lat = params.distance_m.max(1.0) / M_PER_DEG_LAT;
    let lat_scale = |lat: f64| M_PER_DEG_LAT * lat.to_radians().cos().max(0.01);
    // One longitude width for every cell, from the highest latitude present, so every cell is
    // at least `distance_m` wide and a pair is always in the same or adjacent cells.
    let max_abs_lat = incidents
        .iter()
        .filter_map(|i| i.location)
        .map(|l| l.point.lat().abs())
        .fold(0.0_f64, f64::max);
    let cell_deg_lon = params.distance_m.max(1.0) / lat_scale(max_abs_lat);
    let key = |lon: f64, lat: f64| -> (i64, i64) {
        (
            (lon / cell_deg_lon).floor() as i64,
            (lat / cell_deg_lat).floor() as i64,
        )
    };
    let mut grid: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
    for (i, inc) in incidents.iter().enumerate() {
        if let Some(l) = inc.location {
            grid.entry(key(l.point.lon(), l.point.lat()))
                .or_default()
                .push(i);
        }
    }
    let mut out = Vec::new();
    for (i, a) in incidents.iter().enumerate() {
        let Some(la) = a.location else { continue };
        let (ka, kb) = key(la.point.lon(), la.point.lat());
        let (a0, a1) = day_span(a);
        for dx in -1..=1 {
            for dy in -1..=1 {
                let Some(bucket) = grid.get(&(ka + dx, kb + dy)) else {
                    continue;
                };
                for &j in bucket {
                    if j <= i {
                        continue;
                    }
                    let b = &incidents[j];
                    if b.category != a.category || b.provenance.agency == a.provenance.agency {
                        continue;
                    }
                    let Some(lb) = b.location else { continue };
                    let (b0, b1) = day_span(b);
                    let gap = b0.saturating_sub(a1).max(a0.saturating_sub(b1));
                    if gap > params.window_days {
                        continue;
                    }
                    let mean_lat = la.point.lat().midpoint(lb.point.lat());
                    let dx_m = (la.point.lon() - lb.point.lon()) * lat_scale(mean_lat);
                    let dy_m = (la.point.lat() - lb.point.lat()) * M_PER_DEG_LAT;
                    let distance_m = dx_m.hypot(dy_m);
                    if distance_m > params.distance_m {
                        continue;
                    }
                    let (x, y) = if a.id <= b.id {
                        (a.id, b.id)
                    } else {
                        (b.id, a.id)
                    };
                    out.push(LikelyDuplicate {
                        a: x,
                        b: y,
                        category: a.category,
                        distance_m,
                        days_apart: gap,
                    });
                }
            }
        }
    }
    out.sort_by_key(|d| (d.a, d.b));
    out.dedup_by_key(|d| (d.a, d.b));
    out
}

/// One area's row of the incidents-against-individuals report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AreaVolume {
    /// Area code.
    pub code: String,
    /// Area name.
    pub name: String,
    /// Incidents located in the area.
    pub incidents: u64,
    /// Incidents in the area with at least one person linked.
    pub incidents_with_people: u64,
    /// Distinct people linked to those incidents (an individual linked to many incidents
    /// counts once).
    pub distinct_individuals: u64,
}

/// Incidents against distinct individuals per area of `scheme`, for incidents in `from..=to`.
/// Counts only, never identities.
pub fn incidents_against_individuals(
    incidents: &[Incident],
    links: &[Link],
    boundaries: &BoundaryIndex,
    scheme: &str,
    from: Day,
    to: Day,
) -> Vec<AreaVolume> {
    let mut people_of: HashMap<IncidentId, BTreeSet<&str>> = HashMap::new();
    for l in links.iter().filter(|l| l.kind == LinkKind::PersonIncident) {
        if let LinkTarget::Incident(id) = l.to {
            people_of.entry(id).or_default().insert(l.from.as_str());
        }
    }
    let mut rows: BTreeMap<String, (String, u64, u64, BTreeSet<&str>)> = BTreeMap::new();
    for b in boundaries.of_scheme(scheme) {
        rows.insert(
            b.code.as_str().to_owned(),
            (b.name.clone(), 0, 0, BTreeSet::new()),
        );
    }
    for inc in incidents
        .iter()
        .filter(|i| i.time.day >= from && i.time.day <= to)
    {
        let Some(l) = inc.location else { continue };
        let Some(area) = boundaries.locate(scheme, l.point) else {
            continue;
        };
        let Some(row) = rows.get_mut(area.code.as_str()) else {
            continue;
        };
        row.1 += 1;
        if let Some(people) = people_of.get(&inc.id) {
            row.2 += 1;
            row.3.extend(people.iter().copied());
        }
    }
    rows.into_iter()
        .map(|(code, (name, incidents, with, people))| AreaVolume {
            code,
            name,
            incidents,
            incidents_with_people: with,
            distinct_individuals: people.len() as u64,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        Agency, IncidentLocation, IncidentTime, LocationPrecision, LonLat, Provenance,
    };

    fn inc(
        id: u64,
        agency: &str,
        cat: Category,
        day: &str,
        precision: TimePrecision,
        lon: f64,
        lat: f64,
    ) -> Incident {
        Incident {
            id: IncidentId::new(id),
            category: cat,
            time: IncidentTime {
                day: day.parse().unwrap(),
                minute_of_day: None,
                precision,
            },
            location: Some(IncidentLocation {
                point: LonLat::new(lon, lat).unwrap(),
                precision: LocationPrecision::Exact,
            }),
            involves_child: false,
            provenance: Provenance {
                agency: Agency::new(agency).unwrap(),
                isa_ref: None,
                grade: None,
            },
        }
    }

    #[test]
    fn incidents_from_two_agencies_close_in_space_and_time_are_linked() {
        let d = TimePrecision::Day;
        let v = [
            inc(
                1,
                "police",
                Category::KnifeCrime,
                "2026-05-01",
                d,
                -2.5900,
                51.4540,
            ),
            inc(
                2,
                "hospital",
                Category::KnifeCrime,
                "2026-05-02",
                d,
                -2.5905,
                51.4541,
            ),
            inc(
                3,
                "police",
                Category::KnifeCrime,
                "2026-05-01",
                d,
                -2.5901,
                51.4540,
            ), // same agency as 1
            inc(
                4,
                "hospital",
                Category::Robbery,
                "2026-05-01",
                d,
                -2.5900,
                51.4540,
            ), // other category
            inc(
                5,
                "hospital",
                Category::KnifeCrime,
                "2026-05-05",
                d,
                -2.5900,
                51.4540,
            ), // too late
            inc(
                6,
                "hospital",
                Category::KnifeCrime,
                "2026-05-01",
                d,
                -2.5800,
                51.4540,
            ), // 700 m away
        ];
        let pairs = likely_duplicates(&v, ReconcileParams::default());
        let ids: Vec<(u64, u64)> = pairs.iter().map(|p| (p.a.get(), p.b.get())).collect();
        assert_eq!(ids, vec![(1, 2), (2, 3)]);
        assert!(pairs[0].distance_m < 50.0 && pairs[0].days_apart == 1);
    }

    #[test]
    fn a_month_precision_incident_matches_any_day_of_its_month() {
        let v = [
            inc(
                1,
                "data-police-uk",
                Category::Robbery,
                "2026-05-01",
                TimePrecision::Month,
                -2.59,
                51.454,
            ),
            inc(
                2,
                "hospital",
                Category::Robbery,
                "2026-05-28",
                TimePrecision::Day,
                -2.59,
                51.454,
            ),
            inc(
                3,
                "hospital",
                Category::Robbery,
                "2026-06-03",
                TimePrecision::Day,
                -2.59,
                51.454,
            ),
        ];
        let ids: Vec<u64> = likely_duplicates(&v, ReconcileParams::default())
            .iter()
            .map(|p| p.b.get())
            .collect();
        assert_eq!(ids, vec![2]);
    }

    #[test]
    fn the_grid_search_equals_brute_force() {
        let mut v = Vec::new();
        let mut s = 7u64;
        for id in 0..600u64 {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let r = s >> 11;
            let agency = if r.is_multiple_of(2) { "a" } else { "b" };
            let cat = if r.is_multiple_of(3) {
                Category::Robbery
            } else {
                Category::KnifeCrime
            };
            let day = Day::from_days_since_epoch(20_000 + (r % 5) as u16).to_string();
            let lon = -2.6 + ((r >> 8) % 1000) as f64 * 0.00002;
            let lat = 51.0
                + ((r >> 20) % 1000) as f64 * 0.001 * f64::from(u8::from(r.is_multiple_of(7)))
                + ((r >> 40) % 1000) as f64 * 0.00002;
            v.push(inc(id + 1, agency, cat, &day, TimePrecision::Day, lon, lat));
        }
        let p = ReconcileParams {
            distance_m: 60.0,
            window_days: 1,
        };
        let fast: Vec<(u64, u64)> = likely_duplicates(&v, p)
            .iter()
            .map(|d| (d.a.get(), d.b.get()))
            .collect();
        let mut brute = Vec::new();
        for (i, a) in v.iter().enumerate() {
            for b in &v[i + 1..] {
                let (la, lb) = (a.location.unwrap().point, b.location.unwrap().point);
                let mean = la.lat().midpoint(lb.lat());
                let dx = (la.lon() - lb.lon()) * M_PER_DEG_LAT * mean.to_radians().cos();
                let dy = (la.lat() - lb.lat()) * M_PER_DEG_LAT;
                let days = a
                    .time
                    .day
                    .days_since_epoch()
                    .abs_diff(b.time.day.days_since_epoch());
                if a.category == b.category
                    && a.provenance.agency != b.provenance.agency
                    && dx.hypot(dy) <= 60.0
                    && days <= 1
                {
                    brute.push((a.id.get().min(b.id.get()), a.id.get().max(b.id.get())));
                }
            }
        }
        brute.sort_unstable();
        assert!(!brute.is_empty());
        assert_eq!(fast, brute);
    }
}
