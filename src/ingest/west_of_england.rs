//! The West of England area set: local authorities, wards and the two locality schemes,
//! built from the files in `geodata/` (see `geodata/SOURCES.md`).
//!
//! Schemes produced: `lad` (the four authorities), `ward` (2013 wards of Bristol, North
//! Somerset and South Gloucestershire), `locality_social_care` (Bristol North, East and
//! Central, South; North Somerset; South Gloucestershire) and `locality_police` (Bristol North
//! and Central, East, South; North Somerset; South Gloucestershire). Bristol localities are
//! unions of wards, so both schemes nest exactly inside the Bristol outline's wards.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::domain::{Authority, Boundary, BoundaryCode, SchemeName};

use super::ons::{BoundaryFileOptions, read_boundary_file};
use super::{IngestError, IngestResult};

/// Scheme name of local authority districts.
pub const SCHEME_LAD: &str = "lad";
/// Scheme name of electoral wards.
pub const SCHEME_WARD: &str = "ward";
/// Scheme name of the police localities (North and Central combined).
pub const SCHEME_LOCALITY_POLICE: &str = "locality_police";
/// Scheme name of the social-care localities (East and Central combined).
pub const SCHEME_LOCALITY_SOCIAL_CARE: &str = "locality_social_care";

/// GSS code of Bristol.
pub const BRISTOL: &str = Authority::Bristol.code();
/// GSS code of North Somerset.
pub const NORTH_SOMERSET: &str = Authority::NorthSomerset.code();
/// GSS code of South Gloucestershire.
pub const SOUTH_GLOUCESTERSHIRE: &str = Authority::SouthGloucestershire.code();
/// GSS code of Bath and North East Somerset.
pub const BATH_NE_SOMERSET: &str = Authority::BathNeSomerset.code();

const LAD_FILES: [&str; 4] = [
    "lad_bristol.geojson",
    "lad_northsomerset.geojson",
    "lad_southgloucestershire.geojson",
    "lad_bathandnortheastsomerset.geojson",
];
/// The ward file of a partner (`wards_<GSS code>.geojson`); the neighbour has none.
fn ward_file(authority: Authority) -> String {
    format!("wards_{}.geojson", authority.code())
}

#[derive(Deserialize)]
struct LocalitiesFile {
    bristol_sub_areas: BTreeMap<String, Vec<String>>,
    schemes: BTreeMap<String, Vec<LocalityDef>>,
}

#[derive(Deserialize)]
struct LocalityDef {
    code: String,
    name: String,
    #[serde(default)]
    sub_areas: Vec<String>,
    #[serde(default)]
    authority: Option<String>,
}

/// The loaded area set, with the Bristol sub-area (north, central, east, south) of each
/// Bristol ward for generators that need it.
#[derive(Debug, Clone)]
pub struct AreaSet {
    /// Every boundary in every scheme.
    pub boundaries: Vec<Boundary>,
    /// Bristol ward code → sub-area name (`north`, `central`, `east`, `south`).
    pub bristol_ward_sub_area: BTreeMap<BoundaryCode, String>,
}

impl AreaSet {
    /// Boundaries of one scheme.
    pub fn scheme<'a>(&'a self, scheme: &'a str) -> impl Iterator<Item = &'a Boundary> + 'a {
        self.boundaries
            .iter()
            .filter(move |b| b.scheme.as_str() == scheme)
    }

    /// One boundary by scheme and code.
    pub fn get(&self, scheme: &str, code: &str) -> Option<&Boundary> {
        self.boundaries
            .iter()
            .find(|b| b.scheme.as_str() == scheme && b.code.as_str() == code)
    }
}

fn scheme(name: &str) -> IngestResult<SchemeName> {
    SchemeName::new(name).map_err(|e| IngestError::Format {
        file: "geodata".to_owned(),
        reason: e.to_string(),
    })
}

/// Loads the area set from a `geodata/` directory.
pub fn load_area_set(geodata_dir: &Path) -> IngestResult<AreaSet> {
    let ons = geodata_dir.join("ons");
    let lad_opts = BoundaryFileOptions {
        scheme: scheme(SCHEME_LAD)?,
        code_field: Some("CODE".to_owned()),
        name_field: Some("NAME".to_owned()),
    };
    let mut lads = Vec::new();
    for f in LAD_FILES {
        lads.extend(read_boundary_file(&ons.join(f), &lad_opts)?);
    }
    for lad in &mut lads {
        // Boundary-Line names carry a type suffix such as "City of Bristol (B)".
        if let Some(stripped) = lad.name.strip_suffix(" (B)") {
            lad.name = stripped.to_owned();
        }
    }
    let ward_opts = BoundaryFileOptions::for_scheme(scheme(SCHEME_WARD)?);
    let mut wards = Vec::new();
    for a in Authority::PARTNERS {
        wards.extend(read_boundary_file(&ons.join(ward_file(a)), &ward_opts)?);
    }

    let loc_path = geodata_dir.join("localities.json");
    let loc_file = loc_path.display().to_string();
    let text = std::fs::read_to_string(&loc_path).map_err(|source| IngestError::Io {
        file: loc_file.clone(),
        source,
    })?;
    let defs: LocalitiesFile = serde_json::from_str(&text).map_err(|e| IngestError::Format {
        file: loc_file.clone(),
        reason: e.to_string(),
    })?;

    // Bristol ward name → code, and code → sub-area.
    let bristol_wards: BTreeMap<&str, &Boundary> = wards
        .iter()
        .filter(|w| w.code.as_str().starts_with("E05") && ward_in(w, &lads, BRISTOL))
        .map(|w| (w.name.as_str(), w))
        .collect();
    let mut ward_sub_area = BTreeMap::new();
    for (sub, names) in &defs.bristol_sub_areas {
        for n in names {
            let w = bristol_wards
                .get(n.as_str())
                .ok_or_else(|| IngestError::Field {
                    file: loc_file.clone(),
                    record: 0,
                    field: format!("bristol_sub_areas.{sub}"),
                    reason: format!("no Bristol ward named {n:?}"),
                })?;
            ward_sub_area.insert(w.code.clone(), sub.clone());
        }
    }
    if ward_sub_area.len() != bristol_wards.len() {
        return Err(IngestError::Format {
            file: loc_file,
            reason: format!(
                "{} Bristol wards but {} assigned to sub-areas",
                bristol_wards.len(),
                ward_sub_area.len()
            ),
        });
    }

    let mut localities = Vec::new();
    for (scheme_name, list) in &defs.schemes {
        let sch = scheme(scheme_name)?;
        for def in list {
            let geometry = if let Some(code) = &def.authority {
                lads.iter()
                    .find(|l| l.code.as_str() == code)
                    .map(|l| l.geometry.clone())
                    .ok_or_else(|| IngestError::Format {
                        file: loc_file.clone(),
                        reason: format!("no authority {code}"),
                    })?
            } else {
                let parts: Vec<&geo::MultiPolygon<f64>> = ward_sub_area
                    .iter()
                    .filter(|(_, sub)| def.sub_areas.contains(sub))
                    .filter_map(|(code, _)| wards.iter().find(|w| &w.code == code))
                    .map(|w| &w.geometry)
                    .collect();
                geo::unary_union(parts)
            };
            let code = BoundaryCode::new(def.code.as_str()).map_err(|e| IngestError::Format {
                file: loc_file.clone(),
                reason: e.to_string(),
            })?;
            localities.push(Boundary {
                scheme: sch.clone(),
                code,
                name: def.name.clone(),
                geometry,
                youth_population: None,
            });
        }
    }

    let mut boundaries = lads;
    boundaries.extend(wards);
    boundaries.extend(localities);
    Ok(AreaSet {
        boundaries,
        bristol_ward_sub_area: ward_sub_area,
    })
}

/// True when the ward's interior point lies in the authority `lad_code`.
fn ward_in(ward: &Boundary, lads: &[Boundary], lad_code: &str) -> bool {
    use geo::{Contains, InteriorPoint};
    let Some(p) = ward.geometry.interior_point() else {
        return false;
    };
    lads.iter()
        .any(|l| l.code.as_str() == lad_code && l.geometry.contains(&p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, Contains, InteriorPoint};

    fn geodata() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata")
    }

    #[test]
    fn the_area_set_has_every_scheme_with_the_expected_counts() {
        let a = load_area_set(&geodata()).unwrap();
        assert_eq!(a.scheme(SCHEME_LAD).count(), 4);
        assert_eq!(a.scheme(SCHEME_WARD).count(), 35 + 36 + 35);
        assert_eq!(a.scheme(SCHEME_LOCALITY_POLICE).count(), 5);
        assert_eq!(a.scheme(SCHEME_LOCALITY_SOCIAL_CARE).count(), 5);
        assert_eq!(a.bristol_ward_sub_area.len(), 35);
        assert_eq!(a.get(SCHEME_LAD, BRISTOL).unwrap().name, "City of Bristol");
    }

    /// The `lad` outlines loaded are the authorities of `domain::geography`, one each.
    #[test]
    fn the_lad_outlines_are_the_four_authorities() {
        let a = load_area_set(&geodata()).unwrap();
        let mut codes: Vec<&str> = a.scheme(SCHEME_LAD).map(|b| b.code.as_str()).collect();
        codes.sort_unstable();
        let mut known: Vec<&str> = Authority::ALL.iter().map(|a| a.code()).collect();
        known.sort_unstable();
        assert_eq!(codes, known);
    }

    #[test]
    fn bristol_localities_partition_bristol_in_both_schemes() {
        let a = load_area_set(&geodata()).unwrap();
        let wards_area: f64 = a
            .scheme(SCHEME_WARD)
            .filter(|w| a.bristol_ward_sub_area.contains_key(&w.code))
            .map(|w| w.geometry.unsigned_area())
            .sum();
        for sch in [SCHEME_LOCALITY_POLICE, SCHEME_LOCALITY_SOCIAL_CARE] {
            let total: f64 = a
                .scheme(sch)
                .filter(|l| l.code.as_str().starts_with("bristol"))
                .map(|l| l.geometry.unsigned_area())
                .sum();
            approx::assert_relative_eq!(total, wards_area, max_relative = 1e-6);
        }
        // Every Bristol ward's interior point is in exactly one locality of each scheme.
        for w in a
            .scheme(SCHEME_WARD)
            .filter(|w| a.bristol_ward_sub_area.contains_key(&w.code))
        {
            let p = w.geometry.interior_point().unwrap();
            for sch in [SCHEME_LOCALITY_POLICE, SCHEME_LOCALITY_SOCIAL_CARE] {
                assert_eq!(
                    a.scheme(sch).filter(|l| l.geometry.contains(&p)).count(),
                    1,
                    "{} in {sch}",
                    w.name
                );
            }
        }
    }
}
