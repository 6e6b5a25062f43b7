//! Synthetic youth services (ids 1..=60), deliberately spread unevenly by tier.
//!
//! The 2024 thematic review found universal, targeted and specialist provision unevenly spread
//! against need. The demo data reproduces that pattern so that the prevention-offer and
//! area-comparison views have something to show: North Bristol has many universal services,
//! South Bristol few targeted and specialist services relative to its incidents, and North
//! Somerset and South Gloucestershire a handful each. Every service is invented.

use std::collections::BTreeSet;

use crate::domain::{ServiceId, ServiceTier, YouthService};

use super::gazetteer::is_deprived;
use super::rng::{Rng, WeightedIndex};
use super::spatial::{AreaIndex, Authority, WardInfo, lonlat};
use super::{SyntheticError, SyntheticResult};

/// Where a group of services is placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Zone {
    /// A Bristol sub-area (`north`, `central`, `east`, `south`).
    Bristol(&'static str),
    /// A whole neighbouring authority.
    Authority(Authority),
}

/// Services per zone: (zone, universal, targeted, specialist). Totals 34, 16 and 10.
const PLAN: [(Zone, usize, usize, usize); 6] = [
    (Zone::Bristol("north"), 13, 4, 2),
    (Zone::Bristol("central"), 5, 5, 4),
    (Zone::Bristol("east"), 3, 2, 1),
    (Zone::Bristol("south"), 5, 2, 1),
    (Zone::Authority(Authority::NorthSomerset), 4, 2, 1),
    (Zone::Authority(Authority::SouthGloucestershire), 4, 1, 1),
];

/// Number of services generated.
pub const SERVICE_COUNT: usize = 60;

/// Fixed sites of hospital youth navigators: (zone, site name, lon, lat).
const NAVIGATOR_SITES: [(&str, &str, f64, f64); 2] = [
    ("north", "Southmead Hospital", -2.5920, 51.4950),
    ("central", "Bristol Royal Infirmary", -2.5960, 51.4585),
];

/// Kind of the hospital youth navigator services.
const NAVIGATOR_KIND: &str = "hospital youth navigator";

fn kinds(tier: ServiceTier) -> &'static [&'static str] {
    match tier {
        ServiceTier::Universal => &[
            "youth club",
            "open-access sports session",
            "arts and music project",
            "library youth session",
            "adventure playground",
        ],
        ServiceTier::Targeted => &[
            "mentoring",
            "detached youth work",
            "family support",
            "school inclusion project",
        ],
        ServiceTier::Specialist => &[
            "exploitation support team",
            "youth justice service",
            "trauma-informed therapy",
        ],
    }
}

fn provider(tier: ServiceTier, zone: Zone, rng: &mut Rng) -> String {
    let council = match zone {
        Zone::Bristol(_) => Authority::Bristol,
        Zone::Authority(a) => a,
    };
    let options: [String; 3] = match tier {
        ServiceTier::Universal => [
            format!("{} Youth Services (synthetic)", council.council()),
            "Community Youth Collective (synthetic)".to_owned(),
            "Synthetic Youth Sport Trust".to_owned(),
        ],
        ServiceTier::Targeted => [
            "Synthetic Mentoring Network".to_owned(),
            format!("{} Detached Youth Work Team (synthetic)", council.council()),
            "Family Partnership (synthetic)".to_owned(),
        ],
        ServiceTier::Specialist => [
            "Exploitation Support Team (synthetic)".to_owned(),
            format!("{} Youth Justice Service (synthetic)", council.council()),
            "Young People's Therapy Service (synthetic)".to_owned(),
        ],
    };
    rng.choose(&options).cloned().unwrap_or_default()
}

fn title_case(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            if matches!(w, "and" | "of") {
                return w.to_owned();
            }
            let mut cs = w.chars();
            cs.next()
                .map(|f| f.to_uppercase().chain(cs).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn in_zone(w: &WardInfo, zone: Zone) -> bool {
    match zone {
        Zone::Bristol(sub) => {
            w.authority == Authority::Bristol && w.sub_area.as_deref() == Some(sub)
        }
        Zone::Authority(a) => w.authority == a,
    }
}

/// Generates the youth services.
pub fn generate(index: &AreaIndex, rng: &mut Rng) -> SyntheticResult<Vec<YouthService>> {
    let mut out = Vec::with_capacity(SERVICE_COUNT);
    let mut names = BTreeSet::new();
    for (zone, universal, targeted, specialist) in PLAN {
        let tiers = std::iter::repeat_n(ServiceTier::Universal, universal)
            .chain(std::iter::repeat_n(ServiceTier::Targeted, targeted))
            .chain(std::iter::repeat_n(ServiceTier::Specialist, specialist));
        let mut navigator = match zone {
            Zone::Bristol(sub) => NAVIGATOR_SITES.iter().find(|s| s.0 == sub),
            Zone::Authority(_) => None,
        };
        for tier in tiers {
            let needy = tier != ServiceTier::Universal;
            let weights = index.wards.iter().map(|w| {
                match (in_zone(w, zone), needy && is_deprived(&w.name)) {
                    (false, _) => 0.0,
                    (true, true) => 3.0,
                    (true, false) => 1.0,
                }
            });
            let table = WeightedIndex::new(weights).ok_or(SyntheticError::Exhausted {
                what: "service wards",
            })?;
            let ward = index
                .wards
                .get(table.sample(rng))
                .ok_or(SyntheticError::Exhausted {
                    what: "service wards",
                })?;
            let site = if tier == ServiceTier::Specialist {
                navigator.take()
            } else {
                None
            };
            let (base, kind, point) = if let Some((_, site, lon, lat)) = site {
                (format!("{site} Youth"), NAVIGATOR_KIND, (*lon, *lat))
            } else {
                let kind = rng.choose(kinds(tier)).copied().unwrap_or("youth club");
                let base = ward.name.replace("Weston-super-Mare", "Weston");
                (base, kind, index.sample_in_ward(ward, rng))
            };
            let label = if kind == NAVIGATOR_KIND {
                "Navigators".to_owned()
            } else {
                title_case(kind)
            };
            let mut name = format!("{base} {label} (synthetic)");
            let mut k = 2;
            while names.contains(&name) {
                name = format!("{base} {label} {k} (synthetic)");
                k += 1;
            }
            names.insert(name.clone());
            out.push(YouthService {
                id: ServiceId::new(out.len() as u32 + 1),
                name,
                tier,
                kind: kind.to_owned(),
                provider: if kind == NAVIGATOR_KIND {
                    "Hospital Youth Navigator Service (synthetic)".to_owned()
                } else {
                    provider(tier, zone, rng)
                },
                location: lonlat(point)?,
            });
        }
    }
    Ok(out)
}
