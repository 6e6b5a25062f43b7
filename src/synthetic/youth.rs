//! Synthetic youth population (residents aged 10–24) per ward, and its sums over authorities
//! and localities.
//!
//! The figures are **synthetic**: drawn from the seeded generator between 1 000 and 3 500
//! per ward, higher in Bristol than in the two neighbouring authorities, higher in the wards
//! listed in [`super::gazetteer::DEPRIVED_WARDS`] (most of them inner and South Bristol), and
//! highest in the student-heavy city-centre ward. They are plausible in size, not census
//! figures, and must never be quoted as real.

use crate::domain::Boundary;
use crate::ingest::west_of_england::{
    AreaSet, SCHEME_LAD, SCHEME_LOCALITY_POLICE, SCHEME_LOCALITY_SOCIAL_CARE, SCHEME_WARD,
};

use super::gazetteer::is_deprived;
use super::rng::Rng;
use super::spatial::{AreaIndex, Authority, sum_over_wards};

/// Smallest synthetic ward youth population.
pub const MIN_WARD_YOUTH: u32 = 1_000;
/// Largest synthetic ward youth population.
pub const MAX_WARD_YOUTH: u32 = 3_500;

/// One synthetic youth-population figure per ward of `index.wards`, in the same order.
pub fn ward_youth_population(index: &AreaIndex, rng: &mut Rng) -> Vec<u32> {
    index
        .wards
        .iter()
        .map(|w| {
            let mut v = rng.range(1_000, 1_800) as u32;
            if w.authority == Authority::Bristol {
                v += 400;
                if w.name == "Cabot" {
                    v += 1_200; // city-centre students
                }
            }
            if is_deprived(&w.name) {
                let inner_or_south = matches!(w.sub_area.as_deref(), Some("central" | "south"));
                v += if inner_or_south { 1_100 } else { 800 };
            }
            v.clamp(MIN_WARD_YOUTH, MAX_WARD_YOUTH)
        })
        .collect()
}

/// The area set's boundaries with `youth_population` filled: wards get their synthetic
/// figure, and every `lad` and locality the sum over the wards whose interior point it
/// contains (`None` when it contains none, as for Bath and North East Somerset).
pub fn boundaries_with_youth(
    areas: &AreaSet,
    index: &AreaIndex,
    ward_youth: &[u32],
) -> Vec<Boundary> {
    let mut out = areas.boundaries.clone();
    for (w, v) in index.wards.iter().zip(ward_youth) {
        if let Some(b) = out.get_mut(w.boundary_index) {
            b.youth_population = Some(*v);
        }
    }
    for b in &mut out {
        let scheme = b.scheme.as_str();
        if scheme == SCHEME_WARD {
            continue;
        }
        if scheme == SCHEME_LAD
            || scheme == SCHEME_LOCALITY_POLICE
            || scheme == SCHEME_LOCALITY_SOCIAL_CARE
        {
            b.youth_population = sum_over_wards(b, index, ward_youth);
        }
    }
    out
}
