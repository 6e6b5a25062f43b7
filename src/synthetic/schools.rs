//! Synthetic schools: 100 invented establishments spread over the three authorities in
//! proportion to population (Bristol 48, South Gloucestershire 30, North Somerset 22), placed
//! in wards weighted by synthetic youth population. URNs are in the 9xxxxx range and names end
//! in "(synthetic)" so that they can never be mistaken for real GIAS records.

use std::collections::BTreeSet;

use crate::domain::{BoundaryCode, Phase, School, Urn};

use super::rng::{Rng, WeightedIndex};
use super::spatial::{AreaIndex, Authority, lonlat};
use super::{SyntheticError, SyntheticResult};

/// Number of schools generated.
pub const SCHOOL_COUNT: usize = 100;

/// Schools per authority and phase: (authority, primary, secondary, all-through, sixteen
/// plus, alternative provision).
const PLAN: [(Authority, usize, usize, usize, usize, usize); 3] = [
    (Authority::Bristol, 33, 11, 1, 1, 2),
    (Authority::SouthGloucestershire, 22, 7, 0, 0, 1),
    (Authority::NorthSomerset, 16, 5, 0, 0, 1),
];

fn suffixes(phase: Phase) -> &'static [&'static str] {
    match phase {
        Phase::Primary | Phase::Nursery => &[
            "Primary School",
            "Park Primary",
            "Church of England Primary School",
            "Community Primary",
            "Infant and Junior School",
            "Primary Academy",
            "Green Primary School",
        ],
        Phase::Secondary => &[
            "Park Academy",
            "Academy",
            "Community School",
            "High School",
            "Secondary School",
        ],
        Phase::AllThrough => &["All-through Academy", "Learning Community"],
        Phase::SixteenPlus => &["Sixth Form College", "Post-16 Centre"],
        Phase::NotApplicable => &[
            "Learning Centre",
            "Alternative Provision Academy",
            "Pupil Referral Unit",
        ],
    }
}

/// A short, readable stem from a ward name ("Weston-super-Mare Central" → "Weston Central",
/// "Bradley Stoke Central and Stoke Lodge" → "Bradley Stoke Central").
fn stem(ward: &str) -> String {
    let base = ward.split(" and ").next().unwrap_or(ward);
    base.replace("Weston-super-Mare", "Weston")
}

/// Generates the schools.
pub fn generate(
    index: &AreaIndex,
    ward_youth: &[u32],
    rng: &mut Rng,
) -> SyntheticResult<Vec<School>> {
    let mut urns = BTreeSet::new();
    let mut names = BTreeSet::new();
    let mut out = Vec::with_capacity(SCHOOL_COUNT);
    for (authority, primary, secondary, all_through, sixteen, ap) in PLAN {
        let la_code = BoundaryCode::new(authority.code())?;
        let weights = index.wards.iter().zip(ward_youth).map(|(w, y)| {
            if w.authority == authority {
                f64::from(*y)
            } else {
                0.0
            }
        });
        let table = WeightedIndex::new(weights).ok_or(SyntheticError::Exhausted {
            what: "school wards",
        })?;
        let phases = std::iter::repeat_n(Phase::Primary, primary)
            .chain(std::iter::repeat_n(Phase::Secondary, secondary))
            .chain(std::iter::repeat_n(Phase::AllThrough, all_through))
            .chain(std::iter::repeat_n(Phase::SixteenPlus, sixteen))
            .chain(std::iter::repeat_n(Phase::NotApplicable, ap));
        for phase in phases {
            let ward = index
                .wards
                .get(table.sample(rng))
                .ok_or(SyntheticError::Exhausted {
                    what: "school wards",
                })?;
            let point = index.sample_in_ward(ward, rng);
            let urn = loop {
                let candidate = rng.range(900_000, 999_999) as u32;
                if urns.insert(candidate) {
                    break Urn::new(candidate)?;
                }
            };
            let list = suffixes(phase);
            let start = rng.index(list.len());
            let base = stem(&ward.name);
            let name = (0..list.len() * 4)
                .map(|k| {
                    let suffix = list
                        .get((start + k) % list.len())
                        .copied()
                        .unwrap_or("School");
                    let round = k / list.len();
                    if round == 0 {
                        format!("{base} {suffix} (synthetic)")
                    } else {
                        format!("{base} {suffix} {} (synthetic)", round + 1)
                    }
                })
                .find(|n| !names.contains(n))
                .ok_or(SyntheticError::Exhausted {
                    what: "school names",
                })?;
            names.insert(name.clone());
            out.push(School {
                urn,
                name,
                phase,
                location: lonlat(point)?,
                la_code: la_code.clone(),
                open: true,
            });
        }
    }
    Ok(out)
}
