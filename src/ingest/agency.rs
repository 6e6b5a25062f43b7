//! Agency files: the project's own schema for incidents, places of concern, youth services,
//! people and links shared by partner agencies (docs/formats.md), as CSV or as a GeoJSON
//! `FeatureCollection` of Points whose properties use the CSV column names.
//!
//! - CSV goes through the shared table reader (formats.md §0: header by name, BOM, CRLF/LF,
//!   empty = NULL, physical line numbers). GeoJSON records are numbered by feature, 1-based.
//! - Provenance: the agency and sharing agreement come from the [`SourceFile`] (the command
//!   line's `--agency` and `--isa-ref`); the grade comes from the row.
//! - Ids are stable: parsing the same file twice gives the same ids (see each parser).
//! - Safeguards: a column or property whose name looks like a score, rank, rating, risk level
//!   or RAG band refuses the whole file, every row rejected naming it (safeguards.md S5);
//!   people and links files refuse name, address and date-of-birth columns the same way;
//!   "gang member" and "associate" are refused as subject categories (S1).

use std::borrow::Cow;
use std::path::Path;

use serde_json::Value;

use crate::domain::{
    Agency, Category, Day, DomainError, Grade, Guardian, Incident, IncidentId, IncidentLocation,
    IncidentTime, Link, LinkKind, LinkTarget, LocationPrecision, LonLat, Person, PersonRef,
    PlaceId, PlaceKind, PlaceOfConcern, Provenance, ServiceId, ServiceTier, SubjectCategory,
    TimePrecision, YouthService,
};

use super::ons::FILE_FIELD;
use super::report::{Parsed, Rejection, SourceFile, stable_id};
use super::table::{Fault, Row, UTF8_BOM, parse_table};

/// How an agency file is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgencyFormat {
    /// CSV with a header row (docs/formats.md).
    Csv,
    /// A GeoJSON `FeatureCollection` of Point features.
    GeoJson,
}

/// The format of an agency file from its extension: `.geojson` or `.json` (any case) is
/// GeoJSON, anything else CSV.
pub fn format_for(path: &Path) -> AgencyFormat {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("geojson") || e.eq_ignore_ascii_case("json") => {
            AgencyFormat::GeoJson
        }
        _ => AgencyFormat::Csv,
    }
}

/// The id of an agency incident: `stable_id("agency-incident", [agency, ref])`.
pub fn incident_id(agency: &Agency, reference: &str) -> IncidentId {
    IncidentId::new(stable_id(
        "agency-incident",
        &[agency.as_str().as_bytes(), reference.as_bytes()],
    ))
}

/// The id of an agency place: the low 31 bits of `stable_id("agency-place", [agency, ref])`.
pub fn place_id(agency: &Agency, reference: &str) -> PlaceId {
    PlaceId::new(low31(stable_id(
        "agency-place",
        &[agency.as_str().as_bytes(), reference.as_bytes()],
    )))
}

/// The id of an agency youth service: the low 31 bits of
/// `stable_id("agency-service", [agency, ref])`.
pub fn service_id(agency: &Agency, reference: &str) -> ServiceId {
    ServiceId::new(low31(stable_id(
        "agency-service",
        &[agency.as_str().as_bytes(), reference.as_bytes()],
    )))
}

/// The id of an agency link: `stable_id("agency-link", [agency, ref])`.
pub fn link_id(agency: &Agency, reference: &str) -> u64 {
    stable_id(
        "agency-link",
        &[agency.as_str().as_bytes(), reference.as_bytes()],
    )
}

fn low31(id: u64) -> u32 {
    (id & 0x7FFF_FFFF) as u32
}

/// Parses an incidents file (docs/formats.md "Incidents").
///
/// Required: `ref`, `category` (slug or label), `involves_child`, and one of `date`
/// (`YYYY-MM-DD`) or `month` (`YYYY-MM`). Optional: `time` (`HH:MM`, with `date` only),
/// `lon`/`lat` (both or neither; GeoJSON: the Point), `location_precision` (default `exact`,
/// only with a location), `grade`. Id: [`incident_id`].
pub fn parse_incidents(bytes: &[u8], src: &SourceFile, format: AgencyFormat) -> Parsed<Incident> {
    parse_kind(bytes, src, format, &INCIDENTS, incident_row)
}

/// Parses a places-of-concern file (docs/formats.md "Places").
///
/// Required: `ref`, `kind`, `name`, `lon`/`lat` (GeoJSON: the Point), `review_due`.
/// Optional: `guardians` (`role: organisation; role: organisation`), `grade`. Id: [`place_id`].
pub fn parse_places(
    bytes: &[u8],
    src: &SourceFile,
    format: AgencyFormat,
) -> Parsed<PlaceOfConcern> {
    parse_kind(bytes, src, format, &PLACES, place_row)
}

/// Parses a youth services file (docs/formats.md "Services").
///
/// Required: `ref`, `name`, `tier` (`universal`, `targeted` or `specialist`), `kind`,
/// `provider`, `lon`/`lat` (GeoJSON: the Point). Id: [`service_id`].
pub fn parse_services(
    bytes: &[u8],
    src: &SourceFile,
    format: AgencyFormat,
) -> Parsed<YouthService> {
    parse_kind(bytes, src, format, &SERVICES, service_row)
}

/// Parses a people file (docs/formats.md "People").
///
/// Required: `ref` (a [`PersonRef`], kept as the id), `birth_year`, `categories`
/// (`;`-separated subject categories), `review_due`. Name, address and date-of-birth columns
/// refuse the whole file. Geometry, if any, is ignored.
pub fn parse_people(bytes: &[u8], src: &SourceFile, format: AgencyFormat) -> Parsed<Person> {
    parse_kind(bytes, src, format, &PEOPLE, person_row)
}

/// Parses a links file (docs/formats.md "Links").
///
/// Required: `ref`, `kind`, `from` (a [`PersonRef`]), `to_type` (`person`, `place` or
/// `incident`), `to`, `categories`, `grade`, `review_due`. A place or incident `to` is the
/// same agency's own `ref`, turned into [`place_id`] / [`incident_id`]. Id: [`link_id`].
pub fn parse_links(bytes: &[u8], src: &SourceFile, format: AgencyFormat) -> Parsed<Link> {
    parse_kind(bytes, src, format, &LINKS, link_row)
}

/// One file kind: its columns (by name), those the CSV header must have, and whether personal
/// identifiers are refused as columns.
struct Spec {
    names: &'static [&'static str],
    required: &'static [usize],
    person_level: bool,
}

/// Why a row was refused: the field (column or property name, or `geometry`) and the reason.
#[derive(Debug)]
struct Bad {
    field: &'static str,
    reason: String,
}

impl Bad {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// One row's fields, from a CSV row or a GeoJSON feature.
trait Fields {
    /// The trimmed text of field `name`; `None` when empty or absent.
    fn text(&self, name: &'static str) -> Result<Option<Cow<'_, str>>, Bad>;
    /// The location: the `lon`/`lat` pair or the Point geometry; `None` when absent.
    fn point(&self) -> Result<Option<LonLat>, Bad>;

    /// Field `name`, which must not be empty.
    fn required(&self, name: &'static str) -> Result<Cow<'_, str>, Bad> {
        self.text(name)?.ok_or_else(|| Bad::new(name, "empty"))
    }
}

const GEOMETRY: &str = "geometry";

const INCIDENTS: Spec = Spec {
    names: &[
        "ref",
        "category",
        "date",
        "month",
        "time",
        "lon",
        "lat",
        "location_precision",
        "involves_child",
        "grade",
    ],
    required: &[0, 1, 8],
    person_level: false,
};
const PLACES: Spec = Spec {
    names: &[
        "ref",
        "kind",
        "name",
        "lon",
        "lat",
        "guardians",
        "review_due",
        "grade",
    ],
    required: &[0, 1, 2, 3, 4, 6],
    person_level: false,
};
const SERVICES: Spec = Spec {
    names: &["ref", "name", "tier", "kind", "provider", "lon", "lat"],
    required: &[0, 1, 2, 3, 4, 5, 6],
    person_level: false,
};
const PEOPLE: Spec = Spec {
    names: &["ref", "birth_year", "categories", "review_due"],
    required: &[0, 1, 2, 3],
    person_level: true,
};
const LINKS: Spec = Spec {
    names: &[
        "ref",
        "kind",
        "from",
        "to_type",
        "to",
        "categories",
        "grade",
        "review_due",
    ],
    required: &[0, 1, 2, 3, 4, 5, 6, 7],
    person_level: true,
};

/// True when a column name looks like a score, rank, rating, risk level or RAG band (S5):
/// lower-cased with `-`, `.` and spaces read as `_`, it contains `score`, `rank`, `rating` or
/// `risk_level`/`risklevel`, or has `rag` as a whole `_`-separated word.
fn is_score_like(name: &str) -> bool {
    let norm = normalise(name);
    ["score", "rank", "rating", "risk_level", "risklevel"]
        .iter()
        .any(|w| norm.contains(w))
        || norm.split('_').any(|w| w == "rag")
}

/// True when a column name looks like a personal identifier that people and links files must
/// not carry: a name, an address or postcode, or a date of birth.
fn is_personal_identifier(name: &str) -> bool {
    let norm = normalise(name);
    let compact = norm.replace('_', "");
    ["name", "address", "postcode", "dateofbirth", "birthdate"]
        .iter()
        .any(|w| compact.contains(w))
        || compact == "dob"
        || compact == "postalcode"
}

fn normalise(name: &str) -> String {
    name.trim()
        .to_ascii_lowercase()
        .replace(['-', '.', ' '], "_")
}

/// The first forbidden column name among `names`, with the reason it is refused.
fn forbidden<'n>(
    names: impl IntoIterator<Item = &'n str>,
    spec: &Spec,
) -> Option<(String, String)> {
    names.into_iter().find_map(|name| {
        if is_score_like(name) {
            Some((
                name.trim().to_owned(),
                format!(
                    "a {:?} column is not accepted: saferplaces takes no scores, ranks, ratings \
                     or RAG bands (safeguards.md S5); the whole file is refused",
                    name.trim()
                ),
            ))
        } else if spec.person_level && is_personal_identifier(name) {
            Some((
                name.trim().to_owned(),
                format!(
                    "a {:?} column is not accepted: people and links carry no names, addresses \
                     or dates of birth, only a pseudonymous ref and birth year (safeguards.md \
                     S1, D); the whole file is refused",
                    name.trim()
                ),
            ))
        } else {
            None
        }
    })
}

fn parse_kind<T>(
    bytes: &[u8],
    src: &SourceFile,
    format: AgencyFormat,
    spec: &Spec,
    row: fn(&dyn Fields, &SourceFile) -> Result<T, Bad>,
) -> Parsed<T> {
    match format {
        AgencyFormat::Csv => parse_csv(bytes, src, spec, row),
        AgencyFormat::GeoJson => parse_geojson(bytes, src, spec, row),
    }
}

// ---------------------------------------------------------------------------------------------
// CSV

struct CsvFields<'a, 'r> {
    row: &'a Row<'r>,
    names: &'static [&'static str],
}

impl CsvFields<'_, '_> {
    fn bytes(&self, name: &'static str) -> Option<&[u8]> {
        self.names
            .iter()
            .position(|n| *n == name)
            .and_then(|c| self.row.bytes(c))
    }
}

/// A coordinate from CSV bytes; non-numbers are refused naming `name`.
fn coordinate(name: &'static str, b: &[u8]) -> Result<f64, Bad> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or_else(|| Bad::new(name, format!("{} is not a number", show(b))))
}

impl Fields for CsvFields<'_, '_> {
    fn text(&self, name: &'static str) -> Result<Option<Cow<'_, str>>, Bad> {
        self.bytes(name)
            .map(|b| {
                std::str::from_utf8(b)
                    .map(Cow::Borrowed)
                    .map_err(|_| Bad::new(name, "not valid UTF-8"))
            })
            .transpose()
    }

    fn point(&self) -> Result<Option<LonLat>, Bad> {
        match (self.bytes("lon"), self.bytes("lat")) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(Bad::new("lon", "empty while lat is set")),
            (Some(_), None) => Err(Bad::new("lat", "empty while lon is set")),
            (Some(lon), Some(lat)) => {
                let lon = coordinate("lon", lon)?;
                let lat = coordinate("lat", lat)?;
                LonLat::new(lon, lat).map(Some).map_err(|e| {
                    let field = if e.field() == "latitude" {
                        "lat"
                    } else {
                        "lon"
                    };
                    Bad::new(field, reason(e))
                })
            }
        }
    }
}

fn parse_csv<T>(
    bytes: &[u8],
    src: &SourceFile,
    spec: &Spec,
    row: fn(&dyn Fields, &SourceFile) -> Result<T, Bad>,
) -> Parsed<T> {
    let header = csv_header(bytes);
    let header_names = header
        .iter()
        .map(|h| String::from_utf8_lossy(h.trim_ascii()).into_owned())
        .collect::<Vec<_>>();
    if let Some((column, why)) = forbidden(header_names.iter().map(String::as_str), spec) {
        // Every row is rejected naming the column, so `read` still counts the rows.
        let mut parsed = parse_table(bytes, src, spec.names, &[], |_, _| {
            Err::<T, _>(Fault::new(usize::MAX, String::new()))
        });
        for r in &mut parsed.rejections {
            r.field.clone_from(&column);
            r.reason.clone_from(&why);
        }
        return parsed;
    }
    let names = spec.names;
    parse_table(bytes, src, names, spec.required, |r, _line| {
        row(&CsvFields { row: r, names }, src).map_err(|bad| {
            let column = names
                .iter()
                .position(|n| *n == bad.field)
                .unwrap_or(usize::MAX);
            Fault::new(column, bad.reason)
        })
    })
}

/// The header record of a CSV file (empty when there is none).
fn csv_header(bytes: &[u8]) -> csv::ByteRecord {
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut header = csv::ByteRecord::new();
    match reader.read_byte_record(&mut header) {
        Ok(true) => header,
        Ok(false) | Err(_) => csv::ByteRecord::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// GeoJSON

struct GeoFields<'a> {
    properties: &'a serde_json::Map<String, Value>,
    geometry: Option<&'a geojson::Geometry>,
}

impl Fields for GeoFields<'_> {
    fn text(&self, name: &'static str) -> Result<Option<Cow<'_, str>>, Bad> {
        let key = self
            .properties
            .keys()
            .find(|k| k.trim().eq_ignore_ascii_case(name));
        let Some(value) = key.and_then(|k| self.properties.get(k)) else {
            return Ok(None);
        };
        let text: Cow<'_, str> = match value {
            Value::Null => return Ok(None),
            Value::String(s) => Cow::Borrowed(s.trim()),
            Value::Bool(b) => Cow::Owned(b.to_string()),
            Value::Number(n) => Cow::Owned(n.to_string()),
            Value::Array(items) => {
                let parts = items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .ok_or_else(|| Bad::new(name, "a list may hold only strings"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Cow::Owned(parts.join(";"))
            }
            Value::Object(_) => {
                return Err(Bad::new(
                    name,
                    "an object is not accepted: give text, a number or true/false",
                ));
            }
        };
        Ok((!text.trim().is_empty()).then_some(text))
    }

    fn point(&self) -> Result<Option<LonLat>, Bad> {
        let Some(geometry) = self.geometry else {
            return Ok(None);
        };
        let geojson::GeometryValue::Point { coordinates } = &geometry.value else {
            return Err(Bad::new(
                GEOMETRY,
                format!(
                    "a {} is not accepted: only Point geometry",
                    geometry.value.type_name()
                ),
            ));
        };
        let [lon, lat, ..] = coordinates.as_slice() else {
            return Err(Bad::new(GEOMETRY, "a Point needs longitude and latitude"));
        };
        LonLat::new(*lon, *lat)
            .map(Some)
            .map_err(|e| Bad::new(GEOMETRY, reason(e)))
    }
}

fn parse_geojson<T>(
    bytes: &[u8],
    src: &SourceFile,
    spec: &Spec,
    row: fn(&dyn Fields, &SourceFile) -> Result<T, Bad>,
) -> Parsed<T> {
    let whole_file = |reason: String| Parsed {
        records: Vec::new(),
        lines: Vec::new(),
        read: 1,
        rejections: vec![Rejection {
            file: src.name.clone(),
            line: 1,
            field: FILE_FIELD.to_owned(),
            reason,
        }],
    };
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => return whole_file(format!("not GeoJSON: {e}")),
    };
    let features = match &value {
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("FeatureCollection") => {
            match o.get("features") {
                Some(Value::Array(features)) => features,
                _ => return whole_file("a FeatureCollection needs a features list".to_owned()),
            }
        }
        _ => return whole_file("expected a FeatureCollection".to_owned()),
    };

    let mut parsed = Parsed::default();
    let reject = |line: u64, field: &str, reason: String| Rejection {
        file: src.name.clone(),
        line,
        field: field.to_owned(),
        reason,
    };
    let property_names = features
        .iter()
        .filter_map(|f| f.get("properties").and_then(Value::as_object))
        .flat_map(|p| p.keys().map(String::as_str));
    if let Some((column, why)) = forbidden(property_names, spec) {
        for line in 1..=features.len() as u64 {
            parsed.read += 1;
            parsed.rejections.push(reject(line, &column, why.clone()));
        }
        return parsed;
    }

    let no_properties = serde_json::Map::new();
    for (i, raw) in features.iter().enumerate() {
        let line = i as u64 + 1;
        parsed.read += 1;
        let feature: geojson::Feature = match serde_json::from_value(raw.clone()) {
            Ok(f) => f,
            Err(e) => {
                parsed.rejections.push(reject(
                    line,
                    "(feature)",
                    format!("not a GeoJSON Feature: {e}"),
                ));
                continue;
            }
        };
        let fields = GeoFields {
            properties: feature.properties.as_ref().unwrap_or(&no_properties),
            geometry: feature.geometry.as_ref(),
        };
        match row(&fields, src) {
            Ok(record) => {
                parsed.records.push(record);
                parsed.lines.push(line);
            }
            Err(bad) => parsed.rejections.push(reject(line, bad.field, bad.reason)),
        }
    }
    parsed
}

// ---------------------------------------------------------------------------------------------
// Rows

fn incident_row(f: &dyn Fields, src: &SourceFile) -> Result<Incident, Bad> {
    let reference = f.required("ref")?;
    let category_text = f.required("category")?;
    let category = Category::from_slug_or_label(&category_text).ok_or_else(|| {
        Bad::new(
            "category",
            format!(
                "{} is not an incident category slug or label",
                quoted(&category_text)
            ),
        )
    })?;
    let time = incident_time(f)?;
    let location = if let Some(point) = f.point()? {
        Some(IncidentLocation {
            point,
            precision: location_precision(f)?,
        })
    } else {
        if f.text("location_precision")?.is_some() {
            return Err(Bad::new(
                "location_precision",
                "set without a location (lon/lat or a Point)",
            ));
        }
        None
    };
    let involves_child = boolean(f, "involves_child")?
        .ok_or_else(|| Bad::new("involves_child", "empty: give true or false"))?;
    Ok(Incident {
        id: incident_id(&src.agency, &reference),
        category,
        time,
        location,
        involves_child,
        provenance: provenance(f, src)?,
    })
}

fn incident_time(f: &dyn Fields) -> Result<IncidentTime, Bad> {
    match (f.text("date")?, f.text("month")?) {
        (Some(_), Some(_)) => Err(Bad::new("month", "set together with date: give one")),
        (None, None) => Err(Bad::new(
            "date",
            "empty: give date (YYYY-MM-DD) or month (YYYY-MM)",
        )),
        (None, Some(month)) => {
            if f.text("time")?.is_some() {
                return Err(Bad::new("time", "a time needs a date, not a month"));
            }
            let day = month_start(&month)
                .ok_or_else(|| Bad::new("month", format!("{} is not YYYY-MM", quoted(&month))))?;
            Ok(IncidentTime {
                day,
                minute_of_day: None,
                precision: TimePrecision::Month,
            })
        }
        (Some(date), None) => {
            let day = day(&date, "date")?;
            let minute_of_day = f.text("time")?.map(|t| minute(&t)).transpose()?;
            Ok(IncidentTime {
                day,
                minute_of_day,
                precision: if minute_of_day.is_some() {
                    TimePrecision::Exact
                } else {
                    TimePrecision::Day
                },
            })
        }
    }
}

fn month_start(s: &str) -> Option<Day> {
    let b = s.as_bytes();
    if b.len() != 7 || b.get(4) != Some(&b'-') {
        return None;
    }
    let year = digits(b.get(..4)?)?;
    let month = digits(b.get(5..)?)?;
    Day::from_ymd(i32::try_from(year).ok()?, month, 1).ok()
}

fn minute(s: &str) -> Result<u16, Bad> {
    let bad = || {
        Bad::new(
            "time",
            format!("{} is not HH:MM (00:00 to 23:59)", quoted(s)),
        )
    };
    let b = s.as_bytes();
    if b.len() != 5 || b.get(2) != Some(&b':') {
        return Err(bad());
    }
    let h = b
        .get(..2)
        .and_then(digits)
        .filter(|h| *h < 24)
        .ok_or_else(bad)?;
    let m = b
        .get(3..)
        .and_then(digits)
        .filter(|m| *m < 60)
        .ok_or_else(bad)?;
    u16::try_from(h * 60 + m).map_err(|_| bad())
}

fn location_precision(f: &dyn Fields) -> Result<LocationPrecision, Bad> {
    let Some(text) = f.text("location_precision")? else {
        return Ok(LocationPrecision::Exact);
    };
    match text.to_ascii_lowercase().as_str() {
        "exact" => Ok(LocationPrecision::Exact),
        "snap_point" => Ok(LocationPrecision::SnapPoint),
        "area" => Ok(LocationPrecision::Area),
        _ => Err(Bad::new(
            "location_precision",
            format!("{} is not exact, snap_point or area", quoted(&text)),
        )),
    }
}

fn place_row(f: &dyn Fields, src: &SourceFile) -> Result<PlaceOfConcern, Bad> {
    let reference = f.required("ref")?;
    let kind = place_kind(&f.required("kind")?)?;
    let name = f.required("name")?.into_owned();
    let location = required_point(f)?;
    let guardians = f
        .text("guardians")?
        .map(|g| guardians(&g))
        .transpose()?
        .unwrap_or_default();
    let review_due = day(&f.required("review_due")?, "review_due")?;
    Ok(PlaceOfConcern {
        id: place_id(&src.agency, &reference),
        kind,
        name,
        location,
        guardians,
        review_due,
        provenance: provenance(f, src)?,
    })
}

const PLACE_KINDS: [(&str, PlaceKind); 9] = [
    ("transport_hub", PlaceKind::TransportHub),
    ("park", PlaceKind::Park),
    ("shop", PlaceKind::Shop),
    ("takeaway", PlaceKind::Takeaway),
    ("car_park", PlaceKind::CarPark),
    ("underpass", PlaceKind::Underpass),
    ("venue", PlaceKind::Venue),
    ("residential", PlaceKind::Residential),
    ("school_gate", PlaceKind::SchoolGate),
];

fn place_kind(s: &str) -> Result<PlaceKind, Bad> {
    let norm = normalise(s);
    PLACE_KINDS
        .iter()
        .find(|(code, _)| *code == norm)
        .map(|(_, kind)| *kind)
        .ok_or_else(|| {
            let codes: Vec<&str> = PLACE_KINDS.iter().map(|(c, _)| *c).collect();
            Bad::new(
                "kind",
                format!("{} is not one of {}", quoted(s), codes.join(", ")),
            )
        })
}

fn guardians(s: &str) -> Result<Vec<Guardian>, Bad> {
    s.split(';')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let (role, organisation) = item
                .split_once(':')
                .map(|(r, o)| (r.trim(), o.trim()))
                .filter(|(r, o)| !r.is_empty() && !o.is_empty())
                .ok_or_else(|| {
                    Bad::new(
                        "guardians",
                        format!("{} is not \"role: organisation\"", quoted(item)),
                    )
                })?;
            Ok(Guardian {
                role: role.to_owned(),
                organisation: organisation.to_owned(),
            })
        })
        .collect()
}

fn service_row(f: &dyn Fields, src: &SourceFile) -> Result<YouthService, Bad> {
    let reference = f.required("ref")?;
    let name = f.required("name")?.into_owned();
    let tier_text = f.required("tier")?;
    let tier = match tier_text.to_ascii_lowercase().as_str() {
        "universal" => ServiceTier::Universal,
        "targeted" => ServiceTier::Targeted,
        "specialist" => ServiceTier::Specialist,
        _ => {
            return Err(Bad::new(
                "tier",
                format!(
                    "{} is not universal, targeted or specialist",
                    quoted(&tier_text)
                ),
            ));
        }
    };
    Ok(YouthService {
        id: service_id(&src.agency, &reference),
        name,
        tier,
        kind: f.required("kind")?.into_owned(),
        provider: f.required("provider")?.into_owned(),
        location: required_point(f)?,
    })
}

fn person_row(f: &dyn Fields, src: &SourceFile) -> Result<Person, Bad> {
    let id = person_ref(&f.required("ref")?, "ref")?;
    let year_text = f.required("birth_year")?;
    let birth_year = digits(year_text.as_bytes())
        .and_then(|y| u16::try_from(y).ok())
        .filter(|y| (1900..=2149).contains(y) && year_text.len() == 4)
        .ok_or_else(|| {
            Bad::new(
                "birth_year",
                format!("{} is not a four-digit birth year", quoted(&year_text)),
            )
        })?;
    let categories = categories(f)?;
    let review_due = day(&f.required("review_due")?, "review_due")?;
    Person::new(id, birth_year, categories, src.agency.clone(), review_due)
        .map(|p| p.with_isa_ref(src.isa_ref.clone()))
        .map_err(|e| Bad::new("categories", reason(e)))
}

fn link_row(f: &dyn Fields, src: &SourceFile) -> Result<Link, Bad> {
    let reference = f.required("ref")?;
    let kind_text = f.required("kind")?;
    let kind = link_kind(&kind_text)?;
    let from = person_ref(&f.required("from")?, "from")?;
    let to_type = f.required("to_type")?.to_ascii_lowercase();
    let to_text = f.required("to")?;
    let to = match to_type.as_str() {
        "person" => LinkTarget::Person(person_ref(&to_text, "to")?),
        "place" => LinkTarget::Place(place_id(&src.agency, &to_text)),
        "incident" => LinkTarget::Incident(incident_id(&src.agency, &to_text)),
        _ => {
            return Err(Bad::new(
                "to_type",
                format!("{} is not person, place or incident", quoted(&to_type)),
            ));
        }
    };
    let fits = match kind {
        LinkKind::Peer | LinkKind::Family | LinkKind::Exploitation => to_type == "person",
        LinkKind::PersonPlace => to_type == "place",
        LinkKind::PersonIncident => to_type == "incident",
        LinkKind::Safeguarding => true,
    };
    if !fits {
        return Err(Bad::new(
            "to_type",
            format!("a {} link cannot point to a {to_type}", kind_text.trim()),
        ));
    }
    let categories = categories(f)?;
    let grade_text = f.text("grade")?.ok_or_else(|| {
        Bad::new(
            "grade",
            "empty: a link needs a 3x5x2 grade like 1AP (safeguards.md S3)",
        )
    })?;
    let grade = grade_text
        .parse::<Grade>()
        .map_err(|e| Bad::new("grade", reason(e)))?;
    let review_due = day(&f.required("review_due")?, "review_due")?;
    Link::new(
        link_id(&src.agency, &reference),
        kind,
        from,
        to,
        categories,
        grade,
        src.agency.clone(),
        review_due,
    )
    .map(|l| l.with_isa_ref(src.isa_ref.clone()))
    .map_err(|e| Bad::new("categories", reason(e)))
}

const LINK_KINDS: [(&str, LinkKind); 6] = [
    ("peer", LinkKind::Peer),
    ("family", LinkKind::Family),
    ("exploitation", LinkKind::Exploitation),
    ("person_place", LinkKind::PersonPlace),
    ("person_incident", LinkKind::PersonIncident),
    ("safeguarding", LinkKind::Safeguarding),
];

fn link_kind(s: &str) -> Result<LinkKind, Bad> {
    let norm = normalise(s);
    LINK_KINDS
        .iter()
        .find(|(code, _)| *code == norm)
        .map(|(_, kind)| *kind)
        .ok_or_else(|| {
            let codes: Vec<&str> = LINK_KINDS.iter().map(|(c, _)| *c).collect();
            Bad::new(
                "kind",
                format!("{} is not one of {}", quoted(s), codes.join(", ")),
            )
        })
}

// ---------------------------------------------------------------------------------------------
// Field helpers

/// `;`-separated subject categories, at least one (S1).
fn categories(f: &dyn Fields) -> Result<Vec<SubjectCategory>, Bad> {
    let text = f.required("categories")?;
    let mut out: Vec<SubjectCategory> = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let category = part
            .parse::<SubjectCategory>()
            .map_err(|e| Bad::new("categories", reason(e)))?;
        if !out.contains(&category) {
            out.push(category);
        }
    }
    if out.is_empty() {
        return Err(Bad::new("categories", "empty"));
    }
    Ok(out)
}

fn provenance(f: &dyn Fields, src: &SourceFile) -> Result<Provenance, Bad> {
    let grade = f
        .text("grade")?
        .map(|g| g.parse::<Grade>().map_err(|e| Bad::new("grade", reason(e))))
        .transpose()?;
    Ok(Provenance {
        agency: src.agency.clone(),
        isa_ref: src.isa_ref.clone(),
        grade,
    })
}

fn required_point(f: &dyn Fields) -> Result<LonLat, Bad> {
    f.point()?
        .ok_or_else(|| Bad::new("lon", "empty: a location (lon/lat or a Point) is required"))
}

fn person_ref(s: &str, field: &'static str) -> Result<PersonRef, Bad> {
    PersonRef::new(s).map_err(|e| Bad::new(field, reason(e)))
}

fn boolean(f: &dyn Fields, name: &'static str) -> Result<Option<bool>, Bad> {
    match f.text(name)? {
        None => Ok(None),
        Some(t) if t.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(t) if t.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(t) => Err(Bad::new(
            name,
            format!("{} is not true or false", quoted(&t)),
        )),
    }
}

fn day(s: &str, field: &'static str) -> Result<Day, Bad> {
    s.parse::<Day>().map_err(|e| Bad::new(field, reason(e)))
}

/// An all-digit ASCII number (at most 9 digits).
fn digits(b: &[u8]) -> Option<u32> {
    super::table::digits(b)
}

/// The reason inside a domain error, without its `invalid <field>:` prefix.
fn reason(e: DomainError) -> String {
    match e {
        DomainError::Invalid { reason, .. } => reason,
    }
}

fn quoted(s: &str) -> String {
    show(s.as_bytes())
}

fn show(b: &[u8]) -> String {
    super::table::show(b)
}

#[cfg(test)]
#[path = "agency_tests.rs"]
mod tests;
