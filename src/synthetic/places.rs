//! Synthetic places of concern: real public places from the gazetteer, each with invented
//! guardians (roles and organisations only, never private names), a review date and
//! provenance.

use crate::domain::{
    Agency, Day, Grade, Guardian, IsaRef, PlaceId, PlaceKind, PlaceOfConcern, Provenance,
};

use super::SyntheticResult;
use super::gazetteer::PLACES;
use super::rng::Rng;
use super::spatial::{AreaIndex, Authority, lonlat};

/// Longest time from the end of the window to a place's review, days (six months).
pub const PLACE_REVIEW_MAX_DAYS: u64 = 181;

fn guardian(role: &str, organisation: impl Into<String>) -> Guardian {
    Guardian {
        role: role.to_owned(),
        organisation: organisation.into(),
    }
}

/// Guardians of a place: who is responsible for it, by kind and authority.
fn guardians_for(name: &str, kind: PlaceKind, authority: Authority) -> Vec<Guardian> {
    let council = authority.council();
    let mut g = Vec::with_capacity(3);
    match kind {
        PlaceKind::TransportHub if name.contains("station") && !name.contains("Bus") => {
            g.push(guardian("station manager", "Great Western Railway"));
            g.push(guardian(
                "neighbourhood officer",
                "British Transport Police",
            ));
        }
        PlaceKind::TransportHub => {
            g.push(guardian("interchange supervisor", "First West of England"));
            g.push(guardian(
                "transport safety officer",
                "West of England Combined Authority",
            ));
        }
        PlaceKind::Park => {
            g.push(guardian("park warden", format!("{council} Parks")));
            g.push(guardian(
                "detached youth work lead",
                format!("{council} Youth Services"),
            ));
        }
        PlaceKind::Shop
            if name.contains("Centre") || name.contains("Circus") || name.contains("Mall") =>
        {
            g.push(guardian("centre manager", "shopping centre management"));
            g.push(guardian(
                "security supervisor",
                "shopping centre management",
            ));
        }
        PlaceKind::Shop => {
            g.push(guardian(
                "town centre manager",
                format!("{council} Economic Development"),
            ));
            g.push(guardian(
                "coordinator",
                "local business crime reduction partnership",
            ));
        }
        PlaceKind::Takeaway => {
            g.push(guardian(
                "licensing officer",
                format!("{council} Licensing"),
            ));
            g.push(guardian(
                "food business operators' forum",
                "premises operators",
            ));
        }
        PlaceKind::CarPark => {
            g.push(guardian(
                "car park operator",
                format!("{council} Parking Services"),
            ));
        }
        PlaceKind::Underpass => {
            g.push(guardian("highways officer", format!("{council} Highways")));
            g.push(guardian(
                "street lighting engineer",
                format!("{council} Highways"),
            ));
        }
        PlaceKind::Venue => {
            g.push(guardian("venue security manager", "venue operator"));
            g.push(guardian(
                "licensing officer",
                format!("{council} Licensing"),
            ));
        }
        PlaceKind::Residential => {
            g.push(guardian("housing officer", format!("{council} Housing")));
            g.push(guardian(
                "neighbourhood officer",
                "local housing association",
            ));
        }
        PlaceKind::SchoolGate => {
            g.push(guardian(
                "designated safeguarding lead",
                "nearby schools (synthetic)",
            ));
            g.push(guardian("school crossing patrol", council.to_owned()));
        }
    }
    g.push(guardian(
        "neighbourhood policing team sergeant",
        "Avon and Somerset Police",
    ));
    g
}

/// The places of concern, ids `1..=PLACES.len()` in gazetteer order, with reviews due
/// within six months after `end_day`.
pub fn generate(
    index: &AreaIndex,
    end_day: Day,
    rng: &mut Rng,
) -> SyntheticResult<Vec<PlaceOfConcern>> {
    let agency = Agency::new("synthetic-community-safety")?;
    let isa = IsaRef::new("ISA-WOE-2024-005")?;
    let grades = ["2BP", "2CP", "1BP", "3CP"]
        .iter()
        .map(|g| g.parse::<Grade>())
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(PLACES.len());
    for (i, spec) in PLACES.iter().enumerate() {
        let authority = index
            .authority_at(spec.lon, spec.lat)
            .unwrap_or(Authority::Bristol);
        let review_days = rng.range(7, PLACE_REVIEW_MAX_DAYS) as u16;
        out.push(PlaceOfConcern {
            id: PlaceId::new(i as u32 + 1),
            kind: spec.kind,
            name: spec.name.to_owned(),
            location: lonlat((spec.lon, spec.lat))?,
            guardians: guardians_for(spec.name, spec.kind, authority),
            review_due: end_day.plus_days(review_days),
            provenance: Provenance {
                agency: agency.clone(),
                isa_ref: Some(isa.clone()),
                grade: rng.choose(&grades).copied(),
            },
        });
    }
    Ok(out)
}
