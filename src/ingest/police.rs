//! data.police.uk bulk CSVs: street-level crime (formats.md §1.1) and stop and search
//! (formats.md §1.3), read under the rules of formats.md §0 with the quirks of §7.
//!
//! Both parsers are pure functions from a file's bytes to records plus rejections:
//!
//! - Columns are found by **header name** (trimmed, ASCII case-insensitive), so column order
//!   does not matter (stop-and-search has `Latitude,Longitude`, street has the reverse) and
//!   unknown extra columns are ignored.
//! - A UTF-8 BOM is stripped; CRLF, LF (and bare CR) line endings are accepted; fields are read
//!   by a quoting-aware CSV reader (`csv`, flexible row lengths).
//! - Every field is trimmed of surrounding ASCII whitespace, and an empty field is NULL.
//! - A required column missing from the header rejects **every** data row, naming the column
//!   ("column missing from the header"); the rows still count as read.
//! - A row whose field count differs from the header's is rejected: a short row names the first
//!   missing column, a long row the header's last column.
//! - Every rejection names the file, the line and the field. Lines are 1-based physical lines
//!   with the header as line 1 (a quoted line break moves later rows down), the same for CRLF
//!   and LF files. Only `\n` ends a line for this count, so in a file with bare-CR (classic
//!   Mac) line endings every row reports line 2.
//!
//! Ids are stable across re-imports of the same file (`report::stable_id`); the recipes are on
//! [`parse_street`] and [`parse_stop_search`].
//!
//! Throughput (measured, not asserted): a release build parsing the real January 2023 Avon and
//! Somerset street file (12,566 rows, 3.0 MB, CRLF) 100 times in a loop ran at about
//! 1.0 million rows/s (about 240 MB/s) on one core of the shared 2-core build machine, records
//! built and dropped; stop-and-search at about 1.25 million rows/s. The end-to-end import
//! target is 300,000 rows/s. Profile: CSV tokenising, then SHA-256 for the ids, then the
//! per-row `String`s. Hot-path choices: `ByteRecord`s, header positions resolved once, numbers
//! parsed from the field bytes, and one id hash per row (a second only for repeated rows).

use std::sync::Arc;

use csv::ByteRecord;

use crate::domain::{
    Category, Day, Incident, IncidentId, IncidentLocation, IncidentTime, LocationPrecision,
    Provenance, SearchType, StopOutcome, StopSearch, TimePrecision,
};

use super::intern::Interner;
use super::report::{Parsed, SourceFile, stable_id};
use super::table::{Fault, Row, UTF8_BOM, digits, parse_table};

/// Namespace of street-crime incident ids (see [`parse_street`]).
pub const STREET_ID_NAMESPACE: &str = "police-street";
/// Namespace of stop-and-search ids (see [`parse_stop_search`]).
pub const STOP_SEARCH_ID_NAMESPACE: &str = "police-stop-search";

/// Street columns in their published order (formats.md §1.1); indexed by the `S_` constants.
const STREET_COLUMNS: [&str; 12] = [
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
];
const S_CRIME_ID: usize = 0;
const S_MONTH: usize = 1;
const S_REPORTED_BY: usize = 2;
const S_FALLS_WITHIN: usize = 3;
const S_LONGITUDE: usize = 4;
const S_LATITUDE: usize = 5;
const S_LOCATION: usize = 6;
const S_LSOA_CODE: usize = 7;
const S_LSOA_NAME: usize = 8;
const S_CRIME_TYPE: usize = 9;
const S_LAST_OUTCOME: usize = 10;
const S_CONTEXT: usize = 11;
const STREET_REQUIRED: [usize; 4] = [S_MONTH, S_LONGITUDE, S_LATITUDE, S_CRIME_TYPE];

/// Stop-and-search columns in their published order (formats.md §1.3); indexed by `T_`.
const STOP_COLUMNS: [&str; 15] = [
    "Type",
    "Date",
    "Part of a policing operation",
    "Policing operation",
    "Latitude",
    "Longitude",
    "Gender",
    "Age range",
    "Self-defined ethnicity",
    "Officer-defined ethnicity",
    "Legislation",
    "Object of search",
    "Outcome",
    "Outcome linked to object of search",
    "Removal of more than just outer clothing",
];
const T_TYPE: usize = 0;
const T_DATE: usize = 1;
const T_PART_OF_OPERATION: usize = 2;
const T_OPERATION: usize = 3;
const T_LATITUDE: usize = 4;
const T_LONGITUDE: usize = 5;
const T_GENDER: usize = 6;
const T_AGE_RANGE: usize = 7;
const T_SELF_ETHNICITY: usize = 8;
const T_OFFICER_ETHNICITY: usize = 9;
const T_LEGISLATION: usize = 10;
const T_OBJECT: usize = 11;
const T_OUTCOME: usize = 12;
const T_LINKED: usize = 13;
const T_REMOVAL: usize = 14;
const STOP_REQUIRED: [usize; 2] = [T_TYPE, T_DATE];

/// The data.police.uk crime types. Partner-agency categories (`Knife crime`, …) share
/// [`Category`] but are refused in a police file.
const POLICE_CATEGORIES: [Category; 14] = [
    Category::AntiSocialBehaviour,
    Category::BicycleTheft,
    Category::Burglary,
    Category::CriminalDamageArson,
    Category::Drugs,
    Category::OtherTheft,
    Category::PossessionOfWeapons,
    Category::PublicOrder,
    Category::Robbery,
    Category::Shoplifting,
    Category::TheftFromThePerson,
    Category::VehicleCrime,
    Category::ViolentCrime,
    Category::OtherCrime,
];

/// One row of a street-level crime file (formats.md §1.1): the incident plus the raw columns
/// it was built from. Text fields are trimmed; empty fields are `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct StreetRow {
    /// The incident: category, month, snap point (if any), provenance.
    pub incident: Incident,
    /// `Crime ID` (64 hex characters). Empty on every anti-social behaviour row and **not
    /// unique** within a file (formats.md §7), so it is an attribute, never a key.
    pub crime_id: Option<Arc<str>>,
    /// `Month` as written, `YYYY-MM`.
    pub month: Arc<str>,
    /// `Reported by` (the force that supplied the row).
    pub reported_by: Option<Arc<str>>,
    /// `Falls within` (the force whose area the row falls in).
    pub falls_within: Option<Arc<str>>,
    /// The street name from `Location` (`On or near <street>`), without the prefix. `None` for
    /// `No Location` (any case), for `On or near ` with no street, and for an empty field.
    /// Never show it as an address (formats.md §7).
    pub location_text: Option<Arc<str>>,
    /// `LSOA code` (2011 or 2021 vintage; formats.md §7).
    pub lsoa_code: Option<Arc<str>>,
    /// `LSOA name`, e.g. `Bristol 044C`.
    pub lsoa_name: Option<Arc<str>>,
    /// `Crime type` as written.
    pub crime_type_raw: Arc<str>,
    /// `Last outcome category` as written (empty on anti-social behaviour rows).
    pub last_outcome: Option<Arc<str>>,
    /// `Context` (empty in every sample row).
    pub context: Option<Arc<str>>,
}

/// Parses a data.police.uk street-level crime CSV (`*-street.csv`, formats.md §1.1).
///
/// Required columns: `Month`, `Longitude`, `Latitude`, `Crime type`; the others are read when
/// present. Per row:
///
/// - `Month` `YYYY-MM` gives the first of the month with [`TimePrecision::Month`] and no
///   minute; anything else (or a month outside 1970-01..2149-05) rejects the row.
/// - Both coordinates empty: a valid row with no location ("unlocated"; `No Location` rows).
///   One empty, non-numeric, non-finite or off the globe: rejected naming that column.
///   Otherwise a [`LocationPrecision::SnapPoint`] (data.police.uk anonymises to snap points).
/// - `Crime type` by [`Category::from_slug_or_label`] (CSV labels and API slugs), limited to
///   the 14 data.police.uk types, plus two explicit legacy labels from archives before about
///   2014: `Violent crime` → [`Category::ViolentCrime`], and `Public disorder and weapons`
///   (slug `public-disorder-weapons`) → [`Category::PublicOrder`]. The second is a choice:
///   the old type merged public order with weapons possession and cannot be split, so such
///   rows count as public order (never as weapons possession) and `crime_type_raw` keeps the
///   old label. Anything else, including partner-only categories, rejects the row naming
///   `Crime type`.
/// - `involves_child` is false, meaning "not known to involve a child": police.uk publishes
///   nothing about the people involved. Provenance is `src`'s agency and sharing agreement,
///   with no grade.
///
/// **Incident id** (idempotent imports):
/// `stable_id("police-street", [month, crime_id or "", longitude text, latitude text,
/// location, LSOA code, crime type, last outcome, occurrence])`, every part the trimmed field
/// bytes as written (`location` is the whole `Location` field, e.g. `On or near Julius Place`;
/// a part is empty when the field is NULL or the column absent), and `occurrence` the decimal
/// text of the 0-based count of earlier accepted rows in the same file with the same eight
/// parts. So identical rows (formats.md §7: e.g. four identical ASB rows on one snap point)
/// stay distinct, re-importing a file gives the same ids, and a duplicated `Crime ID` with
/// different location, LSOA or outcome gives two different ids (both rows are kept).
pub fn parse_street(bytes: &[u8], src: &SourceFile) -> Parsed<StreetRow> {
    parse_street_into(bytes, src, |row, _| row, |row, id| row.incident.id = id)
}

/// [`parse_street`], handing each accepted row and its line to `into` as it is parsed, so a
/// caller that keeps something else per row (the importer keeps the store's record) never
/// holds every [`StreetRow`] at once. `set_id` corrects the id of a repeated row afterwards
/// (see [`number_repeats`]).
pub fn parse_street_into<T>(
    bytes: &[u8],
    src: &SourceFile,
    mut into: impl FnMut(StreetRow, u64) -> T,
    set_id: impl Fn(&mut T, IncidentId),
) -> Parsed<T> {
    let mut shared = Interner::new();
    let provenance = provenance(src);
    // Per accepted row: its occurrence-0 id with its position, and where its record starts.
    let expected = bytes.len() / 200;
    let mut firsts: Vec<(u64, u32)> = Vec::with_capacity(expected);
    let mut starts: Vec<u64> = Vec::with_capacity(expected);
    let mut columns: Option<Vec<Option<usize>>> = None;
    let mut parsed = parse_table(
        bytes,
        src,
        &STREET_COLUMNS,
        &STREET_REQUIRED,
        |row, line| {
            let r = street_row(row, &provenance, &mut shared)?;
            if columns.is_none() {
                columns = Some(row.columns().to_vec());
            }
            firsts.push((r.incident.id.get(), firsts.len() as u32));
            starts.push(row.start_byte());
            Ok(into(r, line))
        },
    );
    if let Some(columns) = columns {
        number_repeats(
            bytes,
            &mut parsed.records,
            firsts,
            &starts,
            &columns,
            set_id,
        );
    }
    parsed
}

/// Gives the repeats of a row their occurrence ids (recipe on [`parse_street`]).
///
/// Every accepted row was given its occurrence-`0` id while parsing. Sorting those ids with
/// the rows' positions puts the rows of equal content together in file order; the first keeps
/// its id and the k-th repeat gets the occurrence-k id, computed from the raw fields of the
/// run's first record, read again from `bytes`. Equal occurrence-`0` ids stand for equal
/// content: two different rows would collide there only as often as two rows collide on
/// their final 63-bit ids, which the store must tolerate anyway. (A hash map probed once per
/// row did the same, but its random probes into a million-entry table cost a tenth of the
/// whole import; the sort is sequential.)
fn number_repeats<T>(
    bytes: &[u8],
    records: &mut [T],
    mut firsts: Vec<(u64, u32)>,
    starts: &[u64],
    columns: &[Option<usize>],
    set_id: impl Fn(&mut T, IncidentId),
) {
    firsts.sort_unstable();
    let input = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let mut record = ByteRecord::new();
    let mut k = 0;
    while k < firsts.len() {
        let first = firsts[k].0;
        let end = k + firsts[k..].iter().take_while(|f| f.0 == first).count();
        if end - k > 1 {
            let at = starts
                .get(firsts[k].1 as usize)
                .and_then(|&s| usize::try_from(s).ok());
            let read = at.and_then(|at| input.get(at..)).is_some_and(|rest| {
                csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(rest)
                    .read_byte_record(&mut record)
                    .unwrap_or(false)
            });
            // The record parsed once already; reading it again cannot fail on bytes in memory.
            if read {
                let row = Row::new(&record, columns);
                for (occurrence, &(_, at)) in firsts[k + 1..end].iter().enumerate() {
                    let id = street_id(&row, occurrence as u64 + 1);
                    if let Some(r) = records.get_mut(at as usize) {
                        set_id(r, IncidentId::new(id));
                    }
                }
            }
        }
        k = end;
    }
}

/// Parses a data.police.uk stop-and-search CSV (`*-stop-and-search.csv`, formats.md §1.3).
///
/// Required columns: `Type`, `Date`; all others are optional. Per row:
///
/// - `Type` must be one of the three [`SearchType`] labels; anything else rejects the row.
/// - `Date` is ISO 8601 with seconds and a UTC offset (`2023-01-01T00:05:22+00:00`; also `Z`,
///   `+0100` and fractional seconds). The time is converted to UTC, so `+01:00` moves the
///   minute and possibly the day back. A time of exactly `00:00:00` is data.police.uk's
///   date-only marker (vehicle searches): the day is kept as written and `minute_of_day` is
///   `None`. A date without an offset, or outside 1970..2149, rejects the row.
/// - Coordinates as for street files (both empty is valid), with plain WGS84 precision.
/// - Booleans are `True` / `False` (any case) or empty; anything else rejects the row.
/// - `Outcome` is normalised by [`StopOutcome::from_label`] and the raw label kept.
///
/// **Id**: `stable_id("police-stop-search", [file SHA-256 as lower-case hex text, line number
/// as decimal text])`, as formats.md §1.3 asks (there is no id column). Rows of a group search
/// are identical, so only their position tells them apart: the recipe keeps them distinct, and
/// re-importing the same file gives the same ids.
pub fn parse_stop_search(bytes: &[u8], src: &SourceFile) -> Parsed<StopSearch> {
    parse_table(bytes, src, &STOP_COLUMNS, &STOP_REQUIRED, |row, line| {
        stop_search_row(row, line, src)
    })
}

fn street_row(
    row: &Row<'_>,
    provenance: &Provenance,
    shared: &mut Interner,
) -> Result<StreetRow, Fault> {
    let month = row.text(S_MONTH)?.unwrap_or_default();
    let day = parse_month(month).ok_or_else(|| {
        Fault::new(
            S_MONTH,
            format!("{month:?} is not a month YYYY-MM between 1970-01 and 2149-05"),
        )
    })?;
    let point = row.lon_lat(S_LONGITUDE, S_LATITUDE)?;
    let crime_type_raw = row.required(S_CRIME_TYPE)?;
    let category = street_category(crime_type_raw).ok_or_else(|| {
        Fault::new(
            S_CRIME_TYPE,
            format!("{crime_type_raw:?} is not a data.police.uk crime type"),
        )
    })?;
    let location_text = row.text(S_LOCATION)?.and_then(street_name);
    // Unique per crime, so allocated rather than interned.
    let crime_id = row.text(S_CRIME_ID)?.map(Arc::<str>::from);
    let mut text = |c: usize| -> Result<Option<Arc<str>>, Fault> {
        Ok(row.text(c)?.map(|t| shared.get_in(c, t)))
    };
    let reported_by = text(S_REPORTED_BY)?;
    let falls_within = text(S_FALLS_WITHIN)?;
    let lsoa_code = text(S_LSOA_CODE)?;
    let lsoa_name = text(S_LSOA_NAME)?;
    let last_outcome = text(S_LAST_OUTCOME)?;
    let context = text(S_CONTEXT)?;
    // The occurrence-0 id; repeats are numbered after the parse (`number_repeats`), counting
    // accepted rows only.
    let id = street_id(row, 0);
    Ok(StreetRow {
        incident: Incident {
            id: IncidentId::new(id),
            category,
            time: IncidentTime {
                day,
                minute_of_day: None,
                precision: TimePrecision::Month,
            },
            location: point.map(|point| IncidentLocation {
                point,
                precision: LocationPrecision::SnapPoint,
            }),
            involves_child: false,
            provenance: provenance.clone(),
        },
        crime_id,
        month: shared.get_in(S_MONTH, month),
        reported_by,
        falls_within,
        location_text: location_text.map(|t| shared.get_in(S_LOCATION, t)),
        lsoa_code,
        lsoa_name,
        crime_type_raw: shared.get_in(S_CRIME_TYPE, crime_type_raw),
        last_outcome,
        context,
    })
}

/// The street incident id of `row` for its `occurrence` (recipe on [`parse_street`]).
fn street_id(row: &Row<'_>, occurrence: u64) -> u64 {
    let mut digits = [0u8; 20];
    stable_id(
        STREET_ID_NAMESPACE,
        &[
            row.raw(S_MONTH),
            row.raw(S_CRIME_ID),
            row.raw(S_LONGITUDE),
            row.raw(S_LATITUDE),
            row.raw(S_LOCATION),
            row.raw(S_LSOA_CODE),
            row.raw(S_CRIME_TYPE),
            row.raw(S_LAST_OUTCOME),
            decimal(occurrence, &mut digits),
        ],
    )
}

fn stop_search_row(row: &Row<'_>, line: u64, src: &SourceFile) -> Result<StopSearch, Fault> {
    let type_raw = row.required(T_TYPE)?;
    let search_type = SearchType::from_label(type_raw).ok_or_else(|| {
        Fault::new(
            T_TYPE,
            format!(
                "{type_raw:?} is not Person search, Person and Vehicle search or Vehicle search"
            ),
        )
    })?;
    let date = row.required(T_DATE)?;
    let (day, minute_of_day) = parse_timestamp(date).ok_or_else(|| {
        Fault::new(
            T_DATE,
            format!(
                "{date:?} is not a date and time with a UTC offset \
                 (YYYY-MM-DDTHH:MM:SS+HH:MM) between 1970 and 2149"
            ),
        )
    })?;
    let location = row.lon_lat(T_LONGITUDE, T_LATITUDE)?;
    let outcome_raw = row.string(T_OUTCOME)?;
    let age_range = row.string(T_AGE_RANGE)?;
    let mut digits = [0u8; 20];
    Ok(StopSearch {
        id: stable_id(
            STOP_SEARCH_ID_NAMESPACE,
            &[src.sha256.as_bytes(), decimal(line, &mut digits)],
        ),
        day,
        minute_of_day,
        location,
        search_type,
        part_of_operation: row.boolean(T_PART_OF_OPERATION)?,
        operation: row.string(T_OPERATION)?,
        gender: row.string(T_GENDER)?,
        is_child: age_range
            .as_deref()
            .is_some_and(StopSearch::age_range_is_child),
        age_range,
        self_defined_ethnicity: row.string(T_SELF_ETHNICITY)?,
        officer_defined_ethnicity: row.string(T_OFFICER_ETHNICITY)?,
        legislation: row.string(T_LEGISLATION)?,
        object_of_search: row.string(T_OBJECT)?,
        outcome: StopOutcome::from_label(outcome_raw.as_deref()),
        outcome_raw,
        outcome_linked_to_object: row.boolean(T_LINKED)?,
        removal_of_more_than_outer_clothing: row.boolean(T_REMOVAL)?,
        provenance: provenance(src),
    })
}

fn provenance(src: &SourceFile) -> Provenance {
    Provenance {
        agency: src.agency.clone(),
        isa_ref: src.isa_ref.clone(),
        grade: None,
    }
}

/// The crime type of a street row: police.uk labels and slugs, plus the legacy labels
/// documented on [`parse_street`]. Partner-only categories are refused.
fn street_category(label: &str) -> Option<Category> {
    let category = match label {
        "Violent crime" => Category::ViolentCrime,
        "Public disorder and weapons" | "public-disorder-weapons" => Category::PublicOrder,
        other => Category::from_slug_or_label(other)?,
    };
    POLICE_CATEGORIES.contains(&category).then_some(category)
}

/// The street name in a `Location` field: `On or near X` gives `X`; `No Location` (any case)
/// and `On or near ` with nothing after give `None`; other text is kept as it is.
fn street_name(location: &str) -> Option<&str> {
    const PREFIX: &str = "On or near";
    if location.eq_ignore_ascii_case("No Location") {
        return None;
    }
    let rest = match location.get(..PREFIX.len()) {
        Some(head) if head.eq_ignore_ascii_case(PREFIX) => location.get(PREFIX.len()..)?.trim(),
        _ => location,
    };
    (!rest.is_empty()).then_some(rest)
}

/// Decimal digits of `n` written into `buf` (no allocation).
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut start = buf.len();
    for slot in buf.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
        start -= 1;
        if n == 0 {
            break;
        }
    }
    buf.get(start..).unwrap_or_default()
}

/// `YYYY-MM` to the first day of that month.
fn parse_month(s: &str) -> Option<Day> {
    let [y0, y1, y2, y3, b'-', m0, m1] = *s.as_bytes() else {
        return None;
    };
    let year = digits(&[y0, y1, y2, y3])?;
    let month = digits(&[m0, m1])?;
    Day::from_ymd(i32::try_from(year).ok()?, month, 1).ok()
}

/// An ISO 8601 date-time with seconds and a UTC offset to (UTC day, UTC minute of day); a
/// time of exactly midnight is date-only: (the day as written, `None`).
fn parse_timestamp(s: &str) -> Option<(Day, Option<u16>)> {
    let (date_time, zone) = s.as_bytes().split_at_checked(19)?;
    let [
        y0,
        y1,
        y2,
        y3,
        b'-',
        mo0,
        mo1,
        b'-',
        d0,
        d1,
        b'T' | b't' | b' ',
        h0,
        h1,
        b':',
        mi0,
        mi1,
        b':',
        s0,
        s1,
    ] = *date_time
    else {
        return None;
    };
    let year = i32::try_from(digits(&[y0, y1, y2, y3])?).ok()?;
    let local = Day::from_ymd(year, digits(&[mo0, mo1])?, digits(&[d0, d1])?).ok()?;
    let (hour, minute, second) = (digits(&[h0, h1])?, digits(&[mi0, mi1])?, digits(&[s0, s1])?);
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    // Optional fraction of a second.
    let (fraction_is_zero, zone) = match zone.split_first() {
        Some((b'.', rest)) => {
            let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            let (frac, rest) = rest.split_at_checked(n)?;
            if frac.is_empty() {
                return None;
            }
            (frac.iter().all(|&b| b == b'0'), rest)
        }
        _ => (true, zone),
    };
    let offset_min: i64 = match *zone {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), oh0, oh1, b':', om0, om1]
        | [sign @ (b'+' | b'-'), oh0, oh1, om0, om1] => {
            let (oh, om) = (digits(&[oh0, oh1])?, digits(&[om0, om1])?);
            if oh > 23 || om > 59 {
                return None;
            }
            let magnitude = i64::from(oh * 60 + om);
            if sign == b'-' { -magnitude } else { magnitude }
        }
        _ => return None,
    };
    if hour == 0 && minute == 0 && second == 0 && fraction_is_zero {
        return Some((local, None));
    }
    let utc =
        i64::from(local.days_since_epoch()) * 1440 + i64::from(hour * 60 + minute) - offset_min;
    let day = u16::try_from(utc.div_euclid(1440)).ok()?;
    let minute_of_day = u16::try_from(utc.rem_euclid(1440)).ok()?;
    Some((Day::from_days_since_epoch(day), Some(minute_of_day)))
}

#[cfg(test)]
#[path = "police_tests.rs"]
mod tests;
