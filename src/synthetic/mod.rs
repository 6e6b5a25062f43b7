//! The deterministic synthetic demo dataset of the West of England.
//!
//! saferplaces ships no real personal data. `make demo` and the tests use this generator
//! instead: [`generate`] turns a [`SyntheticParams`] and the real boundary files (an
//! [`AreaSet`]) into a [`Dataset`] with realistic *structure* and entirely invented
//! *records*. Place names and approximate positions are real public facts; every incident,
//! place concern, school, stop, route, service, person, link and youth-population figure is
//! synthetic. This header is the documentation of the demo data.
//!
//! # Determinism and the seed
//! Output depends only on the parameters, the boundary files and [`GENERATOR_VERSION`]. The
//! default seed is `0x5AFE_0001` ("safe", demo dataset 1). Each part of the dataset draws from
//! its own PRNG stream derived from the seed ([`rng::Rng::stream`]: `SplitMix64` seeding
//! xoshiro256**), so changing the number of incidents does not move the schools. Bump
//! [`GENERATOR_VERSION`] whenever the output for a given seed changes.
//!
//! # What is generated
//! - **Incidents** (`incidents`, ids `1..=n` in time order), dated in the window from
//!   `end_day` minus `years` years to `end_day` inclusive. 40 % come from a diffuse
//!   background spread over the wards of Bristol, North Somerset and South Gloucestershire
//!   (weighted by synthetic youth population, towards Bristol and deprived wards); 60 % from
//!   Gaussian clusters (sd 120–400 m) at transport hubs, shopping streets, parks, estates and
//!   night-time economies ([`gazetteer::CLUSTERS`]). Every located incident lies inside one
//!   of the three authorities. 20 % of primary incidents start a near-repeat chain of 1–4
//!   follow-ups within 200 m and 1–14 days. One **emerging** hotspot (Hengrove and
//!   Stockwood, South Bristol) is near zero for all but the last 12 months and then ramps
//!   up; one **fading** hotspot (St Pauls and Stokes Croft) is strong in the first 12 months
//!   and declines to near zero. Five clusters straddle the Bristol–South Gloucestershire and
//!   Bristol–North Somerset borders. Time follows a season (summer above winter), a week, an
//!   approximate school calendar (after-school peak 15:00–18:00 for youth categories on
//!   school days) and weekend late evenings for violence and public order. About 75 % have
//!   exact times, 15 % day-only and 10 % month-only; 15 % of locations are snap points and
//!   0.6 % are missing. Sources are `synthetic-*` agencies, partner records carry
//!   `ISA-WOE-*` sharing agreements and many carry 3x5x2 grades.
//! - **Places of concern** (`places`): 135 real public places near the clusters, with
//!   invented concerns, guardians as roles and organisations only, reviews due within six
//!   months after `end_day`.
//! - **Schools** (`schools`): 100 invented schools, URNs `9xxxxx`, names ending
//!   "(synthetic)".
//! - **Transport** (`stops`, `routes`): 20 bus routes through real waypoints, densified to
//!   ≤ 300 m between vertices, stops about every 350–500 m with synthetic ATCO codes such as
//!   `0100SYN00001`.
//! - **Youth services** (`services`): 60 services by tier, unevenly spread as the 2024
//!   review found (many universal services in North Bristol, few targeted and specialist
//!   services in South Bristol relative to incidents).
//! - **People and links** (`people`, `links`): see [`people`]. No score, rank or rating
//!   exists anywhere (safeguards.md S5).
//! - **Equality attributes** (S22; not part of the [`Dataset`], stored apart by the demo):
//!   synthetic ethnicity, sex, deprivation decile and authority per person ([`equality`],
//!   stream 22) and an MSOA of residence inside that authority ([`msoa`], streams 23 and 24),
//!   with synthetic resident baselines by authority and MSOA; not Census figures.
//! - **Boundaries** (`boundaries`): the input area set with `youth_population` filled:
//!   a **synthetic** figure of residents aged 10–24 per ward (1 000–3 500, higher in deprived
//!   inner and South Bristol wards; see [`youth`]), and for every authority and locality the
//!   sum over its wards (membership by ward interior point). Bath and North East Somerset has
//!   no wards loaded and keeps `None`.
//!
//! # Units
//! Distances are metres, converted to degrees by an equirectangular approximation about
//! 51.45° N (1° latitude ≈ 111 320 m, 1° longitude ≈ 111 320 · cos 51.45° m); see
//! [`spatial`].

pub mod calendar;
pub mod cases;
pub mod equality;
pub mod gazetteer;
pub mod incidents;
pub mod msoa;
pub mod people;
pub mod places;
pub mod rng;
pub mod schools;
pub mod services;
pub mod spatial;
pub mod transport;
pub mod youth;

#[cfg(test)]
mod tests;

use crate::domain::{Dataset, Day, DomainError};
use crate::ingest::west_of_england::AreaSet;

use calendar::Calendar;
use rng::Rng;
use spatial::AreaIndex;

/// Version of the generator's output. Bump when the dataset for a given seed changes.
pub const GENERATOR_VERSION: u32 = 1;

/// The default seed, `0x5AFE_0001` ("safe", demo dataset 1).
pub const DEFAULT_SEED: u64 = 0x5AFE_0001;

/// Largest number of incidents accepted (benchmarks use 10 million; about 2 GB while generating).
pub const MAX_INCIDENTS: usize = 20_000_000;
/// Largest number of people accepted.
pub const MAX_PEOPLE: usize = 1_000_000;
/// Largest window accepted, years.
pub const MAX_YEARS: u16 = 20;

/// PRNG stream numbers of the parts of the dataset (fixed: changing one changes the output).
mod streams {
    pub const YOUTH: u64 = 1;
    pub const INCIDENTS: u64 = 2;
    pub const PLACES: u64 = 3;
    pub const SCHOOLS: u64 = 4;
    pub const TRANSPORT: u64 = 5;
    pub const SERVICES: u64 = 6;
    pub const PEOPLE: u64 = 7;
    pub const CASES: u64 = 8;
}

/// Parameters of the synthetic dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticParams {
    /// PRNG seed; the same seed (and [`GENERATOR_VERSION`]) gives the same dataset.
    pub seed: u64,
    /// Number of incidents.
    pub incidents: usize,
    /// Number of people.
    pub people: usize,
    /// Last day of the window, inclusive.
    pub end_day: Day,
    /// Length of the window in years, ending on `end_day`.
    pub years: u16,
}

impl Default for SyntheticParams {
    /// Seed [`DEFAULT_SEED`] (`0x5AFE_0001`), 60 000 incidents, 3 000 people, three years
    /// ending 2026-10-31.
    fn default() -> Self {
        // 2026-10-31 is 20 757 days after 1970-01-01.
        Self {
            seed: DEFAULT_SEED,
            incidents: 60_000,
            people: 3_000,
            end_day: Day::from_days_since_epoch(20_757),
            years: 3,
        }
    }
}

/// The synthetic dataset could not be generated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyntheticError {
    /// A parameter is out of range; `field` names it.
    #[error("invalid synthetic parameter {field}: {reason}")]
    InvalidParams {
        /// The parameter at fault.
        field: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// The area set lacks a boundary the generator needs (an authority or its wards).
    #[error("the area set has no {scheme} boundary {code}")]
    MissingBoundary {
        /// The scheme, e.g. `lad`.
        scheme: String,
        /// The code, or a description of what is missing.
        code: String,
    },
    /// A static gazetteer table refers to an entry that does not exist (a bug in the tables).
    #[error("gazetteer entry {name:?} is missing")]
    Gazetteer {
        /// The name referred to.
        name: String,
    },
    /// A sampler ran out of candidates (for example, no positive weights).
    #[error("nothing left to sample for {what}")]
    Exhausted {
        /// What was being sampled.
        what: &'static str,
    },
    /// A generated value failed domain validation (a bug in the generator).
    #[error("generated value is invalid")]
    Domain(#[from] DomainError),
}

/// Result alias for the synthetic generator.
pub type SyntheticResult<T> = Result<T, SyntheticError>;

fn validate(params: &SyntheticParams) -> SyntheticResult<()> {
    if params.incidents > MAX_INCIDENTS {
        return Err(SyntheticError::InvalidParams {
            field: "incidents",
            reason: format!("{} is more than {MAX_INCIDENTS}", params.incidents),
        });
    }
    if params.people > MAX_PEOPLE {
        return Err(SyntheticError::InvalidParams {
            field: "people",
            reason: format!("{} is more than {MAX_PEOPLE}", params.people),
        });
    }
    if params.years == 0 || params.years > MAX_YEARS {
        return Err(SyntheticError::InvalidParams {
            field: "years",
            reason: format!("{} is not in 1..={MAX_YEARS}", params.years),
        });
    }
    Ok(())
}

/// Generates the synthetic dataset for `params` over the boundaries in `areas` (which must
/// hold the `lad` outlines of Bristol, North Somerset and South Gloucestershire and their
/// wards, as [`crate::ingest::west_of_england::load_area_set`] loads them).
///
/// # Errors
/// [`SyntheticError::InvalidParams`] for out-of-range parameters (including a window that
/// would start before 1970), [`SyntheticError::MissingBoundary`] when the area set lacks an
/// authority or its wards, and the remaining variants only on internal bugs.
pub fn generate(params: &SyntheticParams, areas: &AreaSet) -> SyntheticResult<Dataset> {
    validate(params)?;
    let index = AreaIndex::new(areas)?;
    let cal = Calendar::new(params.end_day, params.years)?;
    let stream = |s: u64| Rng::stream(params.seed, s);

    let ward_youth = youth::ward_youth_population(&index, &mut stream(streams::YOUTH));
    let boundaries = youth::boundaries_with_youth(areas, &index, &ward_youth);
    let places = places::generate(&index, cal.end, &mut stream(streams::PLACES))?;
    let (incidents, origins) = incidents::generate(
        params.incidents,
        &cal,
        &index,
        &ward_youth,
        &mut stream(streams::INCIDENTS),
    )?;
    let schools = schools::generate(&index, &ward_youth, &mut stream(streams::SCHOOLS))?;
    let (stops, routes) = transport::generate(&index, &mut stream(streams::TRANSPORT))?;
    let services = services::generate(&index, &mut stream(streams::SERVICES))?;
    let input = people::PeopleInput {
        people: params.people,
        cal: &cal,
        incidents: &incidents,
        origins: &origins,
        places: &places,
    };
    let (people, links) = people::generate(&input, &mut stream(streams::PEOPLE))?;
    let (cases, meetings) =
        cases::generate(&cal, &people, &links, &places, &mut stream(streams::CASES))?;

    Ok(Dataset {
        incidents,
        places,
        schools,
        stops,
        routes,
        services,
        boundaries,
        people,
        links,
        cases,
        meetings,
    })
}
