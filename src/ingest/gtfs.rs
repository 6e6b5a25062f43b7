//! GTFS static feeds (bus routes and stops), formats.md §3, read under the rules of
//! formats.md §0.
//!
//! - The feed is a `.zip` of `.txt` files or a folder holding the same files (at its top level;
//!   a zip whose files sit in a sub-folder is not searched).
//! - Every file goes through the table reader shared with the other CSV importers: UTF-8 with
//!   an optional BOM, quoted fields, CRLF or LF, columns by header name, unknown columns
//!   ignored, empty fields as NULL. Rejections name `<feed>/<file>` (e.g.
//!   `feed.zip/stops.txt`), the physical line and the column.
//! - `stops.txt` gives [`Stop`]s; `routes.txt`, `trips.txt`, `shapes.txt` and `stop_times.txt`
//!   together give one [`Route`] per `route_id`. `agency.txt`, `calendar.txt` and
//!   `calendar_dates.txt` are not read, and stop times are not parsed (they may exceed
//!   `24:00:00`; nothing here needs them).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::domain::{AtcoCode, LonLat, Route, RouteId, RouteMode, Stop};

use super::report::{Parsed, Rejection, SourceFile, stable_id};
use super::table::{Fault, Row, digits, parse_table, show};

/// The largest single file read from a feed (uncompressed), a guard against zip bombs. The
/// whole South West `stop_times.txt` is well under this.
pub const MAX_FILE_BYTES: u64 = 4 << 30;

/// A parsed GTFS feed.
///
/// `stops` counts only boarding stops: rows of `stops.txt` with `location_type` 0 or empty.
/// Stations, entrances, generic nodes and boarding areas (`location_type` 1–4) are read but
/// not stored and not counted in `stops.read`; they are counted in `skipped_non_stops`, so
/// `stops.read == stops.records.len() + stops.rejections.len()` holds and the importer must
/// report `skipped_non_stops` as skipped rows of `stops.txt` (with duplicates, so that
/// `R = S + D + J` still holds).
///
/// `routes` is one record per `routes.txt` row: `routes.read` counts `routes.txt` data rows,
/// and a route whose line cannot be built is a rejection of its `routes.txt` line.
///
/// Faulty rows of the supporting files (`trips.txt`, `stop_times.txt`, `shapes.txt`) are in
/// `support_rejections`; they are not counted in either `read`.
#[derive(Debug, Clone, PartialEq)]
pub struct GtfsFeed {
    /// Boarding stops from `stops.txt`.
    pub stops: Parsed<Stop>,
    /// Routes from `routes.txt`, with lines and stop sequences from the other files.
    pub routes: Parsed<Route>,
    /// Rows of `stops.txt` with `location_type` 1–4: read, not stored, not in `stops.read`.
    pub skipped_non_stops: u64,
    /// Refused rows of `trips.txt`, `stop_times.txt` and `shapes.txt`.
    pub support_rejections: Vec<Rejection>,
}

/// The feed as a whole cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GtfsError {
    /// The path could not be opened, or a file in it could not be read.
    #[error("cannot read {file}")]
    Io {
        /// The path or `<feed>/<file>`.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The path is neither a folder nor a readable zip archive.
    #[error("{file}: not a GTFS feed (neither a folder nor a zip archive)")]
    NotAFeed {
        /// The path.
        file: String,
        /// Why the zip reader refused it.
        #[source]
        source: zip::result::ZipError,
    },
    /// A file the feed needs is absent.
    #[error("{file}: missing from the feed ({why})")]
    MissingFile {
        /// `<feed>/<file>`, e.g. `feed.zip/stops.txt`.
        file: String,
        /// Why it is needed.
        why: &'static str,
    },
    /// A file is larger than [`MAX_FILE_BYTES`] once uncompressed.
    #[error("{file}: larger than {limit} bytes uncompressed")]
    TooLarge {
        /// `<feed>/<file>`.
        file: String,
        /// The limit.
        limit: u64,
    },
}

/// Parses a GTFS feed at `path`, a `.zip` or a folder (formats.md §3).
///
/// `src.name` prefixes every rejection's file (`<src.name>/stops.txt`).
///
/// Whole-feed errors: `path` unreadable or neither a folder nor a zip; `stops.txt`,
/// `routes.txt` or `trips.txt` missing; `stop_times.txt` missing while `shapes.txt` is also
/// missing. Everything else is a per-row rejection:
///
/// - **Stops** (`stops.txt`): `location_type` empty or 0 is a stop; 1–4 are counted in
///   [`GtfsFeed::skipped_non_stops`]; other values reject naming `location_type`. `stop_id`
///   must be an [`AtcoCode`] (UK feeds use ATCO codes), `stop_name` must be set, and
///   `stop_lat`/`stop_lon` must be a point on the globe. Every stop is `active`.
/// - **Routes** (`routes.txt`): `route_id` unique in the file; `route_type` any integer, mapped
///   by [`route_mode`]; at least one of `route_short_name`, `route_long_name` (the absent one
///   becomes empty). The id is [`route_id`] of `agency_id` and `route_id`.
/// - **Line**: the route's trips (`trips.txt`) are taken in `trip_id` order. If `shapes.txt`
///   exists and a trip has a `shape_id`, the first such trip is the route's trip and its
///   shape's points in `shape_pt_sequence` order are the line (fewer than 2 rejects the route
///   naming `shape_id`). Otherwise the first trip is the route's trip and the line is its
///   stops in `stop_sequence` order mapped to their locations (fewer than 2 rejects naming
///   `stop_sequence`).
/// - **Route stops**: the ATCO codes of the route's trip in `stop_sequence` order, empty when
///   `stop_times.txt` is absent. A `stop_times.txt` row naming a stop that is not a stored
///   stop of this feed is rejected (in `support_rejections`) naming `stop_id`.
#[expect(
    clippy::too_many_lines,
    reason = "reads the feed's files in dependency order, each step building the lookups the next one checks against"
)]
pub fn parse_gtfs(path: &Path, src: &SourceFile) -> Result<GtfsFeed, GtfsError> {
    let mut feed = FeedFiles::open(path, &src.name)?;
    let stops_bytes = feed.require("stops.txt", "required by GTFS")?;
    let routes_bytes = feed.require("routes.txt", "required by GTFS")?;
    let trips_bytes = feed.require("trips.txt", "required by GTFS")?;
    let shapes_bytes = feed.read("shapes.txt")?;
    let stop_times_bytes = if shapes_bytes.is_some() {
        feed.read("stop_times.txt")?
    } else {
        Some(feed.require(
            "stop_times.txt",
            "route lines come from stop times when shapes.txt is absent",
        )?)
    };

    let (stops, skipped_non_stops) = parse_stops(&stops_bytes, &file_source(src, "stops.txt"));
    let heads = parse_table(
        &routes_bytes,
        &file_source(src, "routes.txt"),
        &ROUTE_COLUMNS,
        &ROUTE_REQUIRED,
        |row, _line| route_head(row),
    );
    let mut support_rejections = Vec::new();
    let trips = parse_table(
        &trips_bytes,
        &file_source(src, "trips.txt"),
        &TRIP_COLUMNS,
        &TRIP_REQUIRED,
        |row, _line| {
            Ok(Trip {
                route: row.required(T_ROUTE_ID)?.to_owned(),
                id: row.required(T_TRIP_ID)?.to_owned(),
                shape: row.string(T_SHAPE_ID)?,
            })
        },
    );
    support_rejections.extend(trips.rejections);
    let chosen = choose_trips(&trips.records, shapes_bytes.is_some());

    let wanted_trips: HashSet<&str> = chosen.values().map(|c| c.trip_id.as_str()).collect();
    let locations: HashMap<&str, LonLat> = stops
        .records
        .iter()
        .map(|s| (s.id.as_str(), s.location))
        .collect();
    let mut sequences: HashMap<String, BTreeMap<u32, AtcoCode>> = HashMap::new();
    if let Some(bytes) = &stop_times_bytes {
        let parsed = parse_table(
            bytes,
            &file_source(src, "stop_times.txt"),
            &STOP_TIME_COLUMNS,
            &STOP_TIME_REQUIRED,
            |row, _line| {
                let trip_id = row.required(ST_TRIP_ID)?;
                let sequence = sequence_number(row.raw(ST_STOP_SEQUENCE), ST_STOP_SEQUENCE)?;
                let stop_id = row.required(ST_STOP_ID)?;
                if !locations.contains_key(stop_id) {
                    return Err(Fault::new(
                        ST_STOP_ID,
                        format!(
                            "{} is not a stored stop of this feed",
                            show(stop_id.as_bytes())
                        ),
                    ));
                }
                if wanted_trips.contains(trip_id) {
                    let atco = AtcoCode::new(stop_id)
                        .map_err(|e| Fault::new(ST_STOP_ID, e.to_string()))?;
                    let trip = sequences.entry(trip_id.to_owned()).or_default();
                    if trip.contains_key(&sequence) {
                        return Err(Fault::new(
                            ST_STOP_SEQUENCE,
                            format!("stop_sequence {sequence} repeats within trip {trip_id:?}"),
                        ));
                    }
                    trip.insert(sequence, atco);
                }
                Ok(())
            },
        );
        support_rejections.extend(parsed.rejections);
    }

    let wanted_shapes: HashSet<&str> = chosen
        .values()
        .filter_map(|c| c.shape_id.as_deref())
        .collect();
    let mut shapes: HashMap<String, BTreeMap<u32, LonLat>> = HashMap::new();
    if let Some(bytes) = &shapes_bytes {
        let parsed = parse_table(
            bytes,
            &file_source(src, "shapes.txt"),
            &SHAPE_COLUMNS,
            &SHAPE_REQUIRED,
            |row, _line| {
                let shape_id = row.required(SH_SHAPE_ID)?;
                let sequence = sequence_number(row.raw(SH_SEQUENCE), SH_SEQUENCE)?;
                let point = row
                    .lon_lat(SH_LON, SH_LAT)?
                    .ok_or_else(|| Fault::new(SH_LAT, "empty: a shape point needs a location"))?;
                if wanted_shapes.contains(shape_id) {
                    let shape = shapes.entry(shape_id.to_owned()).or_default();
                    if shape.contains_key(&sequence) {
                        return Err(Fault::new(
                            SH_SEQUENCE,
                            format!(
                                "shape_pt_sequence {sequence} repeats within shape {shape_id:?}"
                            ),
                        ));
                    }
                    shape.insert(sequence, point);
                }
                Ok(())
            },
        );
        support_rejections.extend(parsed.rejections);
    }

    let routes = build_routes(
        heads,
        &file_source(src, "routes.txt").name,
        &chosen,
        &sequences,
        &shapes,
        &locations,
    );
    Ok(GtfsFeed {
        stops,
        routes,
        skipped_non_stops,
        support_rejections,
    })
}

/// The saferplaces [`RouteId`] of a GTFS route: the low 31 bits of
/// `stable_id("gtfs-route", [agency_id, route_id])` (an absent `agency_id` is empty), so that
/// re-importing the same feed gives the same ids.
///
/// Caveat: 31 bits means two distinct routes collide with probability about n²/2³² (about
/// 0.1% for 3 000 routes). A collision within one feed rejects the later route naming
/// `route_id`; a collision across feeds is not detected here.
pub fn route_id(agency_id: &str, route_id: &str) -> RouteId {
    let id = stable_id("gtfs-route", &[agency_id.as_bytes(), route_id.as_bytes()]);
    RouteId::new((id & 0x7FFF_FFFF) as u32)
}

/// Groups a GTFS `route_type` (basic or extended) into a [`RouteMode`]: 3, 200–299 (coach) and
/// 700–799 are [`RouteMode::Bus`]; 2 and 100–199 [`RouteMode::Rail`]; 4 and 1000–1099
/// [`RouteMode::Ferry`]; everything else [`RouteMode::Other`].
pub fn route_mode(route_type: i64) -> RouteMode {
    match route_type {
        3 | 200..=299 | 700..=799 => RouteMode::Bus,
        2 | 100..=199 => RouteMode::Rail,
        4 | 1000..=1099 => RouteMode::Ferry,
        _ => RouteMode::Other,
    }
}

/// `stops.txt` columns read; indexed by the `S_` constants.
const STOP_COLUMNS: [&str; 5] = [
    "stop_id",
    "stop_name",
    "stop_lat",
    "stop_lon",
    "location_type",
];
const S_ID: usize = 0;
const S_NAME: usize = 1;
const S_LAT: usize = 2;
const S_LON: usize = 3;
const S_LOCATION_TYPE: usize = 4;
const STOP_REQUIRED: [usize; 1] = [S_ID];

/// `routes.txt` columns read; indexed by the `R_` constants.
const ROUTE_COLUMNS: [&str; 5] = [
    "route_id",
    "agency_id",
    "route_short_name",
    "route_long_name",
    "route_type",
];
const R_ID: usize = 0;
const R_AGENCY: usize = 1;
const R_SHORT: usize = 2;
const R_LONG: usize = 3;
const R_TYPE: usize = 4;
const ROUTE_REQUIRED: [usize; 2] = [R_ID, R_TYPE];

/// `trips.txt` columns read; indexed by the `T_` constants.
const TRIP_COLUMNS: [&str; 4] = ["route_id", "service_id", "trip_id", "shape_id"];
const T_ROUTE_ID: usize = 0;
const T_SERVICE_ID: usize = 1;
const T_TRIP_ID: usize = 2;
const T_SHAPE_ID: usize = 3;
const TRIP_REQUIRED: [usize; 3] = [T_ROUTE_ID, T_SERVICE_ID, T_TRIP_ID];

/// `stop_times.txt` columns read; indexed by the `ST_` constants.
const STOP_TIME_COLUMNS: [&str; 3] = ["trip_id", "stop_sequence", "stop_id"];
const ST_TRIP_ID: usize = 0;
const ST_STOP_SEQUENCE: usize = 1;
const ST_STOP_ID: usize = 2;
const STOP_TIME_REQUIRED: [usize; 3] = [ST_TRIP_ID, ST_STOP_SEQUENCE, ST_STOP_ID];

/// `shapes.txt` columns read; indexed by the `SH_` constants.
const SHAPE_COLUMNS: [&str; 4] = [
    "shape_id",
    "shape_pt_lat",
    "shape_pt_lon",
    "shape_pt_sequence",
];
const SH_SHAPE_ID: usize = 0;
const SH_LAT: usize = 1;
const SH_LON: usize = 2;
const SH_SEQUENCE: usize = 3;
const SHAPE_REQUIRED: [usize; 4] = [SH_SHAPE_ID, SH_LAT, SH_LON, SH_SEQUENCE];

/// The files of a feed, in a zip or a folder.
enum FeedFiles {
    Zip {
        name: String,
        archive: zip::ZipArchive<File>,
    },
    Folder {
        name: String,
        dir: PathBuf,
    },
}

impl FeedFiles {
    fn open(path: &Path, name: &str) -> Result<Self, GtfsError> {
        let io = |source| GtfsError::Io {
            file: path.display().to_string(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.is_dir() {
            return Ok(Self::Folder {
                name: name.to_owned(),
                dir: path.to_path_buf(),
            });
        }
        let file = File::open(path).map_err(io)?;
        let archive = zip::ZipArchive::new(file).map_err(|source| GtfsError::NotAFeed {
            file: path.display().to_string(),
            source,
        })?;
        Ok(Self::Zip {
            name: name.to_owned(),
            archive,
        })
    }

    /// The bytes of `file`, or `None` when the feed has no such file.
    fn read(&mut self, file: &str) -> Result<Option<Vec<u8>>, GtfsError> {
        let (name, reader): (&str, Box<dyn Read + '_>) = match self {
            Self::Folder { name, dir } => match File::open(dir.join(file)) {
                Ok(f) => (name, Box::new(f)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(source) => {
                    return Err(GtfsError::Io {
                        file: format!("{name}/{file}"),
                        source,
                    });
                }
            },
            Self::Zip { name, archive } => match archive.by_name(file) {
                Ok(f) => (name, Box::new(f)),
                Err(zip::result::ZipError::FileNotFound) => return Ok(None),
                Err(e) => {
                    return Err(GtfsError::Io {
                        file: format!("{name}/{file}"),
                        source: std::io::Error::other(e),
                    });
                }
            },
        };
        let full = format!("{name}/{file}");
        let mut bytes = Vec::new();
        reader
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| GtfsError::Io {
                file: full.clone(),
                source,
            })?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(GtfsError::TooLarge {
                file: full,
                limit: MAX_FILE_BYTES,
            });
        }
        Ok(Some(bytes))
    }

    /// The bytes of `file`; its absence is a [`GtfsError::MissingFile`].
    fn require(&mut self, file: &str, why: &'static str) -> Result<Vec<u8>, GtfsError> {
        self.read(file)?.ok_or_else(|| GtfsError::MissingFile {
            file: format!("{}/{file}", self.name()),
            why,
        })
    }

    fn name(&self) -> &str {
        match self {
            Self::Zip { name, .. } | Self::Folder { name, .. } => name,
        }
    }
}

/// `src` with its name set to `<src.name>/<file>`, for rejections.
fn file_source(src: &SourceFile, file: &str) -> SourceFile {
    SourceFile {
        name: format!("{}/{file}", src.name),
        ..src.clone()
    }
}

/// One row of `stops.txt`: a boarding stop, or a station/entrance/node/area to skip.
enum StopRow {
    Stop(Stop),
    NotAStop,
}

/// Parses `stops.txt`, returning the boarding stops and the number of non-stops skipped.
fn parse_stops(bytes: &[u8], src: &SourceFile) -> (Parsed<Stop>, u64) {
    let rows = parse_table(bytes, src, &STOP_COLUMNS, &STOP_REQUIRED, |row, _line| {
        match row.bytes(S_LOCATION_TYPE) {
            None | Some(b"0") => {}
            Some(b"1" | b"2" | b"3" | b"4") => return Ok(StopRow::NotAStop),
            Some(other) => {
                return Err(Fault::new(
                    S_LOCATION_TYPE,
                    format!("{} is not a location type (0-4)", show(other)),
                ));
            }
        }
        let id = AtcoCode::new(row.required(S_ID)?).map_err(|e| Fault::new(S_ID, e.to_string()))?;
        let name = row.required(S_NAME)?.to_owned();
        let location = row
            .lon_lat(S_LON, S_LAT)?
            .ok_or_else(|| Fault::new(S_LAT, "empty: a stop needs a location"))?;
        Ok(StopRow::Stop(Stop {
            id,
            name,
            location,
            active: true,
        }))
    });
    let mut stops = Parsed {
        records: Vec::with_capacity(rows.records.len()),
        lines: Vec::with_capacity(rows.lines.len()),
        read: rows.read,
        rejections: rows.rejections,
    };
    let mut skipped = 0;
    for (row, line) in rows.records.into_iter().zip(rows.lines) {
        match row {
            StopRow::Stop(stop) => {
                stops.records.push(stop);
                stops.lines.push(line);
            }
            StopRow::NotAStop => skipped += 1,
        }
    }
    stops.read -= skipped;
    (stops, skipped)
}

/// A `routes.txt` row before its line is known.
struct RouteHead {
    gtfs_id: String,
    id: RouteId,
    short_name: String,
    long_name: String,
    mode: RouteMode,
}

fn route_head(row: &Row<'_>) -> Result<RouteHead, Fault> {
    let gtfs_id = row.required(R_ID)?;
    let agency = row.text(R_AGENCY)?.unwrap_or_default();
    let raw_type = row.required(R_TYPE)?;
    let route_type: i64 = raw_type.parse().map_err(|_| {
        Fault::new(
            R_TYPE,
            format!("{} is not an integer", show(raw_type.as_bytes())),
        )
    })?;
    let short_name = row.string(R_SHORT)?;
    let long_name = row.string(R_LONG)?;
    if short_name.is_none() && long_name.is_none() {
        return Err(Fault::new(
            R_SHORT,
            "route_short_name and route_long_name are both empty; one is required",
        ));
    }
    Ok(RouteHead {
        gtfs_id: gtfs_id.to_owned(),
        id: route_id(agency, gtfs_id),
        short_name: short_name.unwrap_or_default(),
        long_name: long_name.unwrap_or_default(),
        mode: route_mode(route_type),
    })
}

/// A `trips.txt` row.
struct Trip {
    route: String,
    id: String,
    shape: Option<String>,
}

/// The trip that gives a route its line and stops.
struct Chosen {
    trip_id: String,
    /// Set when the line comes from `shapes.txt`.
    shape_id: Option<String>,
}

/// For each `route_id`, the first trip (by `trip_id`) with a `shape_id` when `shapes.txt`
/// exists and such a trip does, else the first trip.
fn choose_trips(trips: &[Trip], have_shapes: bool) -> HashMap<String, Chosen> {
    let mut first: HashMap<&str, &Trip> = HashMap::new();
    let mut first_shaped: HashMap<&str, &Trip> = HashMap::new();
    for trip in trips {
        let slot = first.entry(&trip.route).or_insert(trip);
        if trip.id < slot.id {
            *slot = trip;
        }
        if have_shapes && trip.shape.is_some() {
            let slot = first_shaped.entry(&trip.route).or_insert(trip);
            if trip.id < slot.id {
                *slot = trip;
            }
        }
    }
    first
        .into_iter()
        .map(|(route, trip)| {
            let chosen = match first_shaped.get(route) {
                Some(shaped) => Chosen {
                    trip_id: shaped.id.clone(),
                    shape_id: shaped.shape.clone(),
                },
                None => Chosen {
                    trip_id: trip.id.clone(),
                    shape_id: None,
                },
            };
            (route.to_owned(), chosen)
        })
        .collect()
}

/// A non-negative sequence number (`stop_sequence`, `shape_pt_sequence`), at most 9 digits.
fn sequence_number(raw: &[u8], column: usize) -> Result<u32, Fault> {
    if raw.is_empty() {
        return Err(Fault::new(column, "empty"));
    }
    digits(raw).ok_or_else(|| {
        Fault::new(
            column,
            format!(
                "{} is not a non-negative integer (at most 9 digits)",
                show(raw)
            ),
        )
    })
}

/// Attaches lines and stops to the route heads; routes without a usable line, repeated
/// `route_id`s and id collisions become rejections of their `routes.txt` line.
fn build_routes(
    heads: Parsed<RouteHead>,
    file: &str,
    chosen: &HashMap<String, Chosen>,
    sequences: &HashMap<String, BTreeMap<u32, AtcoCode>>,
    shapes: &HashMap<String, BTreeMap<u32, LonLat>>,
    locations: &HashMap<&str, LonLat>,
) -> Parsed<Route> {
    let mut routes = Parsed {
        records: Vec::with_capacity(heads.records.len()),
        lines: Vec::with_capacity(heads.lines.len()),
        read: heads.read,
        rejections: heads.rejections,
    };
    let mut seen_gtfs: HashMap<String, u64> = HashMap::new();
    let mut seen_ids: HashMap<RouteId, String> = HashMap::new();
    for (head, line) in heads.records.into_iter().zip(heads.lines) {
        let reject = |field: &str, reason: String| Rejection {
            file: file.to_owned(),
            line,
            field: field.to_owned(),
            reason,
        };
        if let Some(first) = seen_gtfs.get(&head.gtfs_id) {
            routes.rejections.push(reject(
                "route_id",
                format!("{:?} repeats the route on line {first}", head.gtfs_id),
            ));
            continue;
        }
        seen_gtfs.insert(head.gtfs_id.clone(), line);
        if let Some(other) = seen_ids.get(&head.id) {
            routes.rejections.push(reject(
                "route_id",
                format!(
                    "{:?} hashes to the same saferplaces route id {} as {other:?}",
                    head.gtfs_id,
                    head.id.get()
                ),
            ));
            continue;
        }
        seen_ids.insert(head.id, head.gtfs_id.clone());
        let built = match chosen.get(&head.gtfs_id) {
            None => Err(reject(
                "stop_sequence",
                format!("route {:?} has no trips in trips.txt", head.gtfs_id),
            )),
            Some(trip) => {
                let stops: Vec<AtcoCode> = sequences
                    .get(&trip.trip_id)
                    .map(|s| s.values().cloned().collect())
                    .unwrap_or_default();
                let (line_points, field, what) = match &trip.shape_id {
                    Some(shape_id) => (
                        shapes
                            .get(shape_id)
                            .map(|s| s.values().copied().collect())
                            .unwrap_or_default(),
                        "shape_id",
                        format!("shape {shape_id:?} (trip {:?})", trip.trip_id),
                    ),
                    None => (
                        stops
                            .iter()
                            .filter_map(|s| locations.get(s.as_str()).copied())
                            .collect::<Vec<_>>(),
                        "stop_sequence",
                        format!("the stop sequence of trip {:?}", trip.trip_id),
                    ),
                };
                if line_points.len() < 2 {
                    Err(reject(
                        field,
                        format!(
                            "{what} has {} usable point(s); a route line needs at least 2",
                            line_points.len()
                        ),
                    ))
                } else {
                    Ok(Route {
                        id: head.id,
                        short_name: head.short_name,
                        long_name: head.long_name,
                        mode: head.mode,
                        line: line_points,
                        stops,
                    })
                }
            }
        };
        match built {
            Ok(route) => {
                routes.records.push(route);
                routes.lines.push(line);
            }
            Err(r) => routes.rejections.push(r),
        }
    }
    routes.rejections.sort_by_key(|r| r.line);
    routes
}

#[cfg(test)]
#[path = "gtfs_tests.rs"]
mod tests;
