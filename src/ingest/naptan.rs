//! `NaPTAN` stops, `Stops.csv` from the access-nodes download (formats.md §4), read under the
//! rules of formats.md §0.
//!
//! - UTF-8, with a BOM stripped if present; a field that is not valid UTF-8 rejects its row.
//! - Columns are found by **header name** (trimmed, ASCII case-insensitive), through the
//!   table reader shared with `gias.rs` (same line numbering, width checks and
//!   missing-column rule as `police.rs`). The Welsh `*Lang` columns and the rest are ignored.
//! - Location: `Longitude`/`Latitude` (WGS84) when both are present and valid, else
//!   `Easting`/`Northing` (OSGB36 National Grid) converted with
//!   [`crate::domain::BngPoint::to_lonlat`] (OS *A guide to coordinate systems in Great
//!   Britain*, Annex C and §6.6; good to about 3–5 m).

use crate::domain::{AtcoCode, LonLat, Stop};

use super::gias::bng_to_lonlat;
use super::report::{Parsed, SourceFile};
use super::table::{Fault, Row, number, parse_table};

/// `NaPTAN` columns this parser reads (formats.md §4); indexed by the `N_` constants.
const NAPTAN_COLUMNS: [&str; 11] = [
    "ATCOCode",
    "CommonName",
    "Indicator",
    "LocalityName",
    "AdministrativeAreaCode",
    "Easting",
    "Northing",
    "Longitude",
    "Latitude",
    "StopType",
    "Status",
];
const N_ATCO: usize = 0;
const N_COMMON_NAME: usize = 1;
const N_INDICATOR: usize = 2;
const N_LOCALITY: usize = 3;
const N_ADMIN_AREA: usize = 4;
const N_EASTING: usize = 5;
const N_NORTHING: usize = 6;
const N_LONGITUDE: usize = 7;
const N_LATITUDE: usize = 8;
const N_STOP_TYPE: usize = 9;
const N_STATUS: usize = 10;
const NAPTAN_REQUIRED: [usize; 2] = [N_ATCO, N_COMMON_NAME];

/// One row of a `NaPTAN` `Stops.csv`: the [`Stop`] plus the raw columns it was built from.
/// Text fields are trimmed; empty fields are `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct NaptanRow {
    /// The stop: ATCO code, display name, WGS84 location.
    pub stop: Stop,
    /// `StopType`, e.g. `BCT` (on-street bus stop) or `RLY` (formats.md §4).
    pub stop_type: Option<String>,
    /// `Status` as written (`active` or `inactive`).
    pub status: Option<String>,
    /// True when `Status` is `active` (any case). Only active stops go into live layers.
    pub active: bool,
    /// `LocalityName`, e.g. `Bristol City Centre`.
    pub locality: Option<String>,
    /// `AdministrativeAreaCode`, leading zeros kept (Bristol `009`).
    pub admin_area: Option<String>,
}

/// Parses a `NaPTAN` `Stops.csv` (formats.md §4).
///
/// Required columns: `ATCOCode`, `CommonName`; the others are read when present. Per row:
///
/// - `ATCOCode` must be a valid [`AtcoCode`] (4–16 ASCII letters and digits), else the row is
///   rejected naming `ATCOCode`.
/// - The stop's name is `CommonName`, with `Indicator` appended in parentheses when present:
///   `Temple Meads` and `Stop T3` give `Temple Meads (Stop T3)`.
/// - Location: `Longitude`/`Latitude` when both are present, numeric and on the globe; else
///   `Easting`/`Northing` converted from the National Grid; else the row is rejected naming
///   `Longitude`. Every stop needs a location.
/// - `active` is `Status` equal to `active`, ASCII case-insensitive; inactive stops are
///   returned too (with `active == false`) so the caller decides.
pub fn parse_naptan(bytes: &[u8], src: &SourceFile) -> Parsed<NaptanRow> {
    parse_table(
        bytes,
        src,
        &NAPTAN_COLUMNS,
        &NAPTAN_REQUIRED,
        |row, _line| naptan_row(row),
    )
}

fn naptan_row(row: &Row<'_>) -> Result<NaptanRow, Fault> {
    let atco = row.required(N_ATCO)?;
    let id = AtcoCode::new(atco).map_err(|e| Fault::new(N_ATCO, e.to_string()))?;
    let common_name = row.required(N_COMMON_NAME)?;
    let name = match row.text(N_INDICATOR)? {
        Some(indicator) => format!("{common_name} ({indicator})"),
        None => common_name.to_owned(),
    };
    let location = location(row)?;
    let status = row.string(N_STATUS)?;
    let active = status
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("active"));
    Ok(NaptanRow {
        stop: Stop {
            id,
            name,
            location,
            active,
        },
        stop_type: row.string(N_STOP_TYPE)?,
        active,
        status,
        locality: row.string(N_LOCALITY)?,
        admin_area: row.string(N_ADMIN_AREA)?,
    })
}

/// WGS84 from `Longitude`/`Latitude` if usable, else from `Easting`/`Northing`.
fn location(row: &Row<'_>) -> Result<LonLat, Fault> {
    let wgs84 = match (row.bytes(N_LONGITUDE), row.bytes(N_LATITUDE)) {
        (Some(lon), Some(lat)) => {
            let lon = number(lon, N_LONGITUDE);
            let lat = number(lat, N_LATITUDE);
            match (lon, lat) {
                (Ok(lon), Ok(lat)) => LonLat::new(lon, lat).ok(),
                _ => None,
            }
        }
        _ => None,
    };
    if let Some(p) = wgs84 {
        return Ok(p);
    }
    match (row.bytes(N_EASTING), row.bytes(N_NORTHING)) {
        (Some(e), Some(n)) => bng_to_lonlat(e, n, N_EASTING, N_NORTHING).map(|(_, p)| p),
        _ => Err(Fault::new(
            N_LONGITUDE,
            "no usable Longitude/Latitude and no Easting/Northing: a stop needs a location",
        )),
    }
}

#[cfg(test)]
#[path = "naptan_tests.rs"]
mod tests;
