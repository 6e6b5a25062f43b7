//! Get Information About Schools (GIAS) establishment extracts, `edubasealldataYYYYMMDD.csv`
//! (formats.md §2), read under the rules of formats.md §0 with the quirks of §7.
//!
//! - The file is **Windows-1252** (formats.md §2, §7) and is decoded as such, so byte `0x92`
//!   becomes `’` (U+2019). A byte-order mark overrides that: a UTF-8 BOM means UTF-8 (decoded
//!   with U+FFFD for invalid sequences), and a UTF-16 BOM means UTF-16 (WHATWG BOM sniffing,
//!   `encoding_rs::Encoding::decode`).
//! - Columns are found by **header name** (trimmed, ASCII case-insensitive); order does not
//!   matter and the ~130 columns this parser has no use for are ignored. Head-teacher names
//!   and telephone numbers are never read (formats.md §2).
//! - CRLF and LF endings, quoted fields (`"Bristol, City of"`), empty = NULL, physical line
//!   numbers with the header as line 1, a missing required column rejecting every row, and a
//!   row of the wrong width rejected: all as in `police.rs`, through the shared table reader
//!   below (also used by `naptan.rs`).
//! - `Easting`/`Northing` are OSGB36 British National Grid metres, converted to WGS84 with
//!   [`BngPoint::to_lonlat`] (OS *A guide to coordinate systems in Great Britain*, Annex C
//!   and §6.6; a Helmert transform, good to about 3–5 m). The original values are kept in
//!   [`GiasRow::bng`].

use crate::domain::{BngPoint, BoundaryCode, Day, LonLat, Phase, School, Urn};

use super::report::{Parsed, SourceFile};
use super::table::{Fault, Row, digits, number, parse_table};

/// GIAS columns this parser reads (formats.md §2); indexed by the `G_` constants.
const GIAS_COLUMNS: [&str; 14] = [
    "URN",
    "EstablishmentName",
    "EstablishmentStatus (code)",
    "EstablishmentStatus (name)",
    "TypeOfEstablishment (name)",
    "PhaseOfEducation (name)",
    "OpenDate",
    "CloseDate",
    "LA (name)",
    "DistrictAdministrative (code)",
    "GSSLACode (name)",
    "Easting",
    "Northing",
    "PhaseOfEducation (code)",
];
const G_URN: usize = 0;
const G_NAME: usize = 1;
const G_STATUS_CODE: usize = 2;
const G_STATUS_NAME: usize = 3;
const G_TYPE_NAME: usize = 4;
const G_PHASE_NAME: usize = 5;
const G_OPEN_DATE: usize = 6;
const G_CLOSE_DATE: usize = 7;
const G_LA_NAME: usize = 8;
const G_DISTRICT_CODE: usize = 9;
const G_GSS_LA_CODE: usize = 10;
const G_EASTING: usize = 11;
const G_NORTHING: usize = 12;
const G_PHASE_CODE: usize = 13;
const GIAS_REQUIRED: [usize; 2] = [G_URN, G_NAME];

/// One establishment row of a GIAS extract: the [`School`] plus the raw columns it was built
/// from. Text fields are trimmed; empty fields are `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct GiasRow {
    /// The school: URN, name, phase, WGS84 location, LA GSS code, open or not.
    pub school: School,
    /// `EstablishmentStatus (name)` as written (e.g. `Open, but proposed to close`); empty
    /// when the field or column is empty.
    pub status: String,
    /// `TypeOfEstablishment (name)`, e.g. `Academy converter`.
    pub type_name: Option<String>,
    /// The original `Easting`/`Northing`. Always `Some` for an accepted row (a row without
    /// coordinates is rejected); an `Option` so that a later policy can keep unlocated rows.
    pub bng: Option<BngPoint>,
    /// `OpenDate`; `None` when empty or well-formed but before 1970 (see [`parse_gias`]).
    pub open_date: Option<Day>,
    /// `CloseDate`; as `open_date`.
    pub close_date: Option<Day>,
    /// `LA (name)`, e.g. `Bristol, City of`.
    pub la_name: Option<String>,
}

/// Parses a GIAS establishment extract (formats.md §2).
///
/// Required columns: `URN`, `EstablishmentName`; the others are read when present. Per row:
///
/// - `URN`: a 6-digit [`Urn`]; anything else rejects the row naming `URN`.
/// - `EstablishmentName`: required, decoded from Windows-1252.
/// - `open` is true when `EstablishmentStatus (code)` is `1` (Open) or `3` (Open, but
///   proposed to close). When the code is empty the name decides (`Open` or `Open, but
///   proposed to close`, any case). A code that is not a number rejects the row.
/// - `PhaseOfEducation (name)` → [`Phase`]: `Nursery`; `Primary` and `Middle deemed
///   primary`; `Secondary` and `Middle deemed secondary`; `16 plus`; `All-through`;
///   `Not applicable` and empty → [`Phase::NotApplicable`] (ASCII case-insensitive). When the
///   name is empty the code column (0–7) is used. An unknown label rejects the row naming the
///   column, so a new GIAS phase shows up in the import report instead of being guessed.
/// - `OpenDate`, `CloseDate`: `dd-mm-yyyy` or empty. A malformed date rejects the row naming
///   the column. A well-formed date before 1970 (GIAS writes e.g. `01-01-1900` for
///   long-established schools) or after 2149 cannot be a [`Day`]; it gives `None` and the row
///   is kept, because a school matters more than its founding date.
/// - `la_code`: `DistrictAdministrative (code)` (a GSS code such as `E06000023`) when
///   present, else `GSSLACode (name)`; both empty rejects the row naming
///   `DistrictAdministrative (code)`. An invalid code rejects the row naming its column.
/// - Location: `Easting` and `Northing` (metres, OSGB36 National Grid) converted with
///   [`BngPoint::to_lonlat`]. **A row without coordinates is rejected naming `Easting`**
///   (or `Northing` when only that is empty), because a [`School`] must have a location to be
///   drawn or measured from; the import report lists such schools. Non-numeric or off-grid
///   values reject the row naming the column.
pub fn parse_gias(bytes: &[u8], src: &SourceFile) -> Parsed<GiasRow> {
    let (text, _encoding, _had_errors) = encoding_rs::WINDOWS_1252.decode(bytes);
    parse_table(
        text.as_bytes(),
        src,
        &GIAS_COLUMNS,
        &GIAS_REQUIRED,
        |row, _line| gias_row(row),
    )
}

fn gias_row(row: &Row<'_>) -> Result<GiasRow, Fault> {
    let urn_text = row.required(G_URN)?;
    let urn = urn_text
        .parse::<u32>()
        .ok()
        .and_then(|n| Urn::new(n).ok())
        .filter(|_| urn_text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| Fault::new(G_URN, format!("{urn_text:?} is not a 6-digit URN")))?;
    let name = row.required(G_NAME)?.to_owned();
    let status = row.text(G_STATUS_NAME)?.unwrap_or_default().to_owned();
    let open = match row.text(G_STATUS_CODE)? {
        Some(code) => match code.parse::<u32>() {
            Ok(n) => n == 1 || n == 3,
            Err(_) => {
                return Err(Fault::new(
                    G_STATUS_CODE,
                    format!("{code:?} is not a status code"),
                ));
            }
        },
        None => {
            status.eq_ignore_ascii_case("Open")
                || status.eq_ignore_ascii_case("Open, but proposed to close")
        }
    };
    let phase = phase(row)?;
    let open_date = date(row, G_OPEN_DATE)?;
    let close_date = date(row, G_CLOSE_DATE)?;
    let la_code = la_code(row)?;
    let (bng, location) = location(row)?;
    Ok(GiasRow {
        school: School {
            urn,
            name,
            phase,
            location,
            la_code,
            open,
        },
        status,
        type_name: row.string(G_TYPE_NAME)?,
        bng: Some(bng),
        open_date,
        close_date,
        la_name: row.string(G_LA_NAME)?,
    })
}

/// The phase from `PhaseOfEducation (name)`, or from the code when the name is empty.
fn phase(row: &Row<'_>) -> Result<Phase, Fault> {
    if let Some(name) = row.text(G_PHASE_NAME)? {
        let known = [
            ("Nursery", Phase::Nursery),
            ("Primary", Phase::Primary),
            ("Middle deemed primary", Phase::Primary),
            ("Secondary", Phase::Secondary),
            ("Middle deemed secondary", Phase::Secondary),
            ("16 plus", Phase::SixteenPlus),
            ("All-through", Phase::AllThrough),
            ("All through", Phase::AllThrough),
            ("Not applicable", Phase::NotApplicable),
        ];
        return known
            .iter()
            .find(|(label, _)| label.eq_ignore_ascii_case(name))
            .map(|&(_, p)| p)
            .ok_or_else(|| {
                Fault::new(
                    G_PHASE_NAME,
                    format!("{name:?} is not a known phase of education"),
                )
            });
    }
    match row.text(G_PHASE_CODE)? {
        None | Some("0") => Ok(Phase::NotApplicable),
        Some("1") => Ok(Phase::Nursery),
        Some("2" | "3") => Ok(Phase::Primary),
        Some("4" | "5") => Ok(Phase::Secondary),
        Some("6") => Ok(Phase::SixteenPlus),
        Some("7") => Ok(Phase::AllThrough),
        Some(other) => Err(Fault::new(
            G_PHASE_CODE,
            format!("{other:?} is not a phase code 0-7"),
        )),
    }
}

/// A `dd-mm-yyyy` date column: empty is `None`, malformed is a fault, well-formed but outside
/// 1970..2149 is `None` (documented on [`parse_gias`]).
fn date(row: &Row<'_>, c: usize) -> Result<Option<Day>, Fault> {
    let Some(text) = row.text(c)? else {
        return Ok(None);
    };
    let bad = || Fault::new(c, format!("{text:?} is not a date dd-mm-yyyy"));
    let [d0, d1, b'-', m0, m1, b'-', y0, y1, y2, y3] = *text.as_bytes() else {
        return Err(bad());
    };
    let (Some(day), Some(month), Some(year)) = (
        digits(&[d0, d1]),
        digits(&[m0, m1]),
        digits(&[y0, y1, y2, y3]),
    ) else {
        return Err(bad());
    };
    let year = i32::try_from(year).map_err(|_| bad())?;
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if day == 0 || day > month_days {
        return Err(bad());
    }
    Ok(Day::from_ymd(year, month, day).ok())
}

/// The LA GSS code: `DistrictAdministrative (code)`, else `GSSLACode (name)`.
fn la_code(row: &Row<'_>) -> Result<BoundaryCode, Fault> {
    let (c, text) = match (row.text(G_DISTRICT_CODE)?, row.text(G_GSS_LA_CODE)?) {
        (Some(t), _) => (G_DISTRICT_CODE, t),
        (None, Some(t)) => (G_GSS_LA_CODE, t),
        (None, None) => {
            return Err(Fault::new(
                G_DISTRICT_CODE,
                "empty, and GSSLACode (name) is empty too",
            ));
        }
    };
    BoundaryCode::new(text).map_err(|e| Fault::new(c, e.to_string()))
}

/// The National Grid position and its WGS84 conversion; both coordinates are required.
fn location(row: &Row<'_>) -> Result<(BngPoint, LonLat), Fault> {
    let (e, n) = match (row.bytes(G_EASTING), row.bytes(G_NORTHING)) {
        (Some(e), Some(n)) => (e, n),
        (None, _) => {
            return Err(Fault::new(
                G_EASTING,
                "empty: a school needs a location, so rows without coordinates are refused",
            ));
        }
        (Some(_), None) => {
            return Err(Fault::new(
                G_NORTHING,
                "empty while the easting is set: a school needs a location",
            ));
        }
    };
    bng_to_lonlat(e, n, G_EASTING, G_NORTHING)
}

/// Parses an easting and a northing (metres) and converts them; faults name the column.
pub(super) fn bng_to_lonlat(
    easting: &[u8],
    northing: &[u8],
    easting_c: usize,
    northing_c: usize,
) -> Result<(BngPoint, LonLat), Fault> {
    let e = number(easting, easting_c)?;
    let n = number(northing, northing_c)?;
    let point = BngPoint::new(e, n).map_err(|err| {
        let c = if err.field() == "northing" {
            northing_c
        } else {
            easting_c
        };
        Fault::new(c, err.to_string())
    })?;
    let lonlat = point
        .to_lonlat()
        .map_err(|err| Fault::new(easting_c, err.to_string()))?;
    Ok((point, lonlat))
}

#[cfg(test)]
#[path = "gias_tests.rs"]
mod tests;
