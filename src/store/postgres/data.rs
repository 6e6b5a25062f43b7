//! The spatial side of the PostgreSQL store: `public`'s incidents, withdrawals, duplicate
//! links, imported files, reference layers, and the change feed.
//!
//! What the `SQLite` store calls a segment is here a *batch*: the `segment` column of
//! `incidents` holds the id of the write that stored the row (one per import, one per
//! amendment; NULL for rows written one by one by `write_records`). Batch ids, imported-file
//! ids and withdrawal sequence numbers are the largest stored plus one, taken under one
//! transaction-level advisory lock ([`lock_writes`]) held until commit: two servers' writes
//! then commit in the order of their numbers, so a follower that read up to batch `n` never
//! misses a batch `m < n` committed later (a sequence would hand out numbers in one order and
//! commit them in another).
//!
//! Reads that hand incidents over run in one `REPEATABLE READ` transaction and fetch through a
//! portal [`BATCH_ROWS`] rows at a time, so a 10M-row store is never one result in memory.
//! Geometry goes through `geozero` (EWKB): points, lines and multipolygons in SRID 4326.

use std::fmt::Display;
use std::str::FromStr;

use geo::{CoordsIter as _, Geometry};
use geozero::wkb::{Decode, Encode};
use postgres::types::{FromSql, ToSql};
use postgres::{Client, GenericClient, Row, Transaction};

use super::super::changes::{ChangeKind, ChangeSet};
use super::super::sqlite::Code;
use super::super::{IncidentsFingerprint, KindCounts, StoreError, StoreResult, Written};
use super::{pg, record_change};
use crate::domain::{
    AtcoCode, Boundary, BoundaryCode, Category, Dataset, Day, Guardian, Incident, IncidentId,
    IncidentLocation, IncidentTime, IsaRef, LocationPrecision, LonLat, PlaceId, PlaceKind,
    PlaceOfConcern, Provenance, Route, RouteId, SchemeName, School, ServiceId, Stop, TimePrecision,
    Urn, YouthService,
};

/// Rows fetched from a portal at a time, and the most handed to a callback at once.
const BATCH_ROWS: i32 = 50_000;

/// Key of the transaction-level advisory lock every numbered write takes (`sp_write`).
const WRITE_LOCK: i64 = 0x7370_5f77_7269_7465;

/// Serialises the writes that hand out batch ids, file ids and withdrawal numbers, until the
/// caller's transaction ends.
fn lock_writes(tx: &mut Transaction<'_>) -> StoreResult<()> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
        .map_err(pg("waiting for the store's write lock"))?;
    Ok(())
}

/// A non-negative database count or id as `u64` (a negative one reads as 0).
fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A 64-bit unsigned id as a `bigint` key; ids above `i64::MAX` cannot be stored.
fn sql_id(id: u64, operation: &'static str) -> StoreResult<i64> {
    i64::try_from(id).map_err(|_| StoreError::Refused {
        operation,
        field: "id",
        problem: format!("{id} is above the largest storable id {}", i64::MAX),
    })
}

/// A day as days since 1970-01-01 (SQL: `DATE '1970-01-01' + $n`).
fn day_param(day: Day) -> i32 {
    i32::from(day.days_since_epoch())
}

/// A point as an EWKB geometry parameter (SQL wraps it in `ST_SetSRID(.., 4326)`).
fn point(p: LonLat) -> Encode<Geometry<f64>> {
    Encode(Geometry::Point(p.to_point()))
}

fn to_json<T: serde::Serialize + ?Sized>(
    value: &T,
    operation: &'static str,
    field: &'static str,
) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Refused {
        operation,
        field,
        problem: format!("cannot be written as JSON: {e}"),
    })
}

// ---------------------------------------------------------------------------------------------
// Versions, counts and the change feed.

pub(super) fn schema_version(client: &mut Client) -> StoreResult<u32> {
    let v: i32 = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .and_then(|r| r.try_get(0))
        .map_err(pg("reading the schema version"))?;
    Ok(u32::try_from(v).unwrap_or(0))
}

pub(super) fn counts(client: &mut Client, counts: &mut KindCounts) -> StoreResult<()> {
    let row = client
        .query_one(
            "SELECT (SELECT COUNT(*) FROM incidents) - (SELECT COUNT(*) FROM incident_withdrawals), \
             (SELECT COUNT(*) FROM places), (SELECT COUNT(*) FROM schools), \
             (SELECT COUNT(*) FROM stops), (SELECT COUNT(*) FROM routes), \
             (SELECT COUNT(*) FROM services), (SELECT COUNT(*) FROM boundaries)",
            &[],
        )
        .map_err(pg("counting stored records"))?;
    let n = |i: usize| -> StoreResult<u64> {
        row.try_get::<_, i64>(i)
            .map(unsigned)
            .map_err(pg("counting stored records"))
    };
    counts.incidents = n(0)?;
    counts.places = n(1)?;
    counts.schools = n(2)?;
    counts.stops = n(3)?;
    counts.routes = n(4)?;
    counts.services = n(5)?;
    counts.boundaries = n(6)?;
    Ok(())
}

/// The newest sequence number of the change feed: every write transaction appends to the
/// feed, so this moves whenever any connection commits a change.
pub(super) fn change_marker(client: &mut Client) -> StoreResult<u64> {
    latest_change(client)
}

pub(super) fn latest_change(client: &mut Client) -> StoreResult<u64> {
    let seq: i64 = client
        .query_one("SELECT COALESCE(MAX(seq), 0) FROM changes", &[])
        .and_then(|r| r.try_get(0))
        .map_err(pg("reading the change feed"))?;
    Ok(unsigned(seq))
}

pub(super) fn changes_since(client: &mut Client, after: u64) -> StoreResult<ChangeSet> {
    let context = "reading the change feed";
    let mut set = ChangeSet {
        latest: after,
        ..ChangeSet::default()
    };
    // The kinds, not every row: one row per kind however many changes there were.
    let rows = client
        .query(
            "SELECT kind, MAX(seq) FROM changes WHERE seq > $1 GROUP BY kind",
            &[&i64::try_from(after).unwrap_or(i64::MAX)],
        )
        .map_err(pg(context))?;
    for row in rows {
        let kind: String = row.try_get(0).map_err(pg(context))?;
        let seq: i64 = row.try_get(1).map_err(pg(context))?;
        set.mark(seq, &kind)?;
    }
    Ok(set)
}

// ---------------------------------------------------------------------------------------------
// Writing records one by one.

pub(super) fn write_records(
    tx: &mut Transaction<'_>,
    data: &Dataset,
    written: &mut Written,
) -> StoreResult<()> {
    let c = &mut written.counts;
    c.incidents = write_incidents(tx, &data.incidents)?;
    c.places = write_places(tx, &data.places)?;
    c.schools = write_schools(tx, &data.schools)?;
    c.stops = write_stops(tx, &data.stops)?;
    c.routes = write_routes(tx, &data.routes)?;
    c.services = write_services(tx, &data.services)?;
    c.boundaries = write_boundaries(tx, &data.boundaries)?;
    // As the SQLite store's `record_changes` for these kinds (people's is the people side's).
    if c.incidents > 0 {
        record_change(tx, ChangeKind::Incidents, None)?;
    }
    if c.places + c.schools + c.stops + c.routes + c.services + c.boundaries > 0 {
        record_change(tx, ChangeKind::Reference, None)?;
    }
    Ok(())
}

/// Runs the prepared `sql` for every record with the parameters `params` gives; returns the
/// rows inserted.
fn insert_all<T>(
    tx: &mut Transaction<'_>,
    sql: &str,
    context: &'static str,
    records: &[T],
    mut params: impl FnMut(
        &T,
        &mut dyn FnMut(&[&(dyn ToSql + Sync)]) -> StoreResult<u64>,
    ) -> StoreResult<u64>,
) -> StoreResult<u64> {
    if records.is_empty() {
        return Ok(0);
    }
    let stmt = tx.prepare(sql).map_err(pg(context))?;
    let mut inserted = 0;
    for record in records {
        inserted += params(record, &mut |p| tx.execute(&stmt, p).map_err(pg(context)))?;
    }
    Ok(inserted)
}

fn write_incidents(tx: &mut Transaction<'_>, incidents: &[Incident]) -> StoreResult<u64> {
    const OPERATION: &str = "store incidents";
    insert_all(
        tx,
        "INSERT INTO incidents (id, category, day, minute, time_precision, geom, \
         location_precision, involves_child, agency, isa_ref, grade) \
         VALUES ($1, $2, DATE '1970-01-01' + $3::int, $4, $5, ST_SetSRID($6::geometry, 4326), \
         $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
        "storing incidents",
        incidents,
        |i, exec| {
            let location = i.location.as_ref();
            exec(&[
                &sql_id(i.id.get(), OPERATION)?,
                &i.category.slug(),
                &day_param(i.time.day),
                &i.time
                    .minute_of_day
                    .map(|m| i16::try_from(m).unwrap_or(i16::MAX)),
                &i.time.precision.code(),
                &location.map(|l| point(l.point)),
                &location.map(|l| l.precision.code()),
                &i.involves_child,
                &i.provenance.agency.as_str(),
                &i.provenance.isa_ref.as_ref().map(IsaRef::as_str),
                &i.provenance.grade.map(|g| g.to_string()),
            ])
        },
    )
}

fn write_places(tx: &mut Transaction<'_>, places: &[PlaceOfConcern]) -> StoreResult<u64> {
    insert_all(
        tx,
        "INSERT INTO places (id, kind, name, geom, guardians, review_due, agency, isa_ref, grade) \
         VALUES ($1, $2, $3, ST_SetSRID($4::geometry, 4326), $5::text::jsonb, \
         DATE '1970-01-01' + $6::int, $7, $8, $9) ON CONFLICT DO NOTHING",
        "storing places",
        places,
        |p, exec| {
            let guardians = to_json(&p.guardians, "store places", "guardians")?;
            exec(&[
                &i64::from(p.id.get()),
                &p.kind.code(),
                &p.name,
                &point(p.location),
                &guardians,
                &day_param(p.review_due),
                &p.provenance.agency.as_str(),
                &p.provenance.isa_ref.as_ref().map(IsaRef::as_str),
                &p.provenance.grade.map(|g| g.to_string()),
            ])
        },
    )
}

fn write_schools(tx: &mut Transaction<'_>, schools: &[School]) -> StoreResult<u64> {
    insert_all(
        tx,
        "INSERT INTO schools (urn, name, phase, geom, la_code, open) \
         VALUES ($1, $2, $3, ST_SetSRID($4::geometry, 4326), $5, $6) ON CONFLICT DO NOTHING",
        "storing schools",
        schools,
        |s, exec| {
            exec(&[
                &i32::try_from(s.urn.get()).unwrap_or(i32::MAX),
                &s.name,
                &s.phase.code(),
                &point(s.location),
                &s.la_code.as_str(),
                &s.open,
            ])
        },
    )
}

fn write_stops(tx: &mut Transaction<'_>, stops: &[Stop]) -> StoreResult<u64> {
    insert_all(
        tx,
        "INSERT INTO stops (atco, name, geom, active) \
         VALUES ($1, $2, ST_SetSRID($3::geometry, 4326), $4) ON CONFLICT DO NOTHING",
        "storing stops",
        stops,
        |s, exec| exec(&[&s.id.as_str(), &s.name, &point(s.location), &s.active]),
    )
}

fn write_routes(tx: &mut Transaction<'_>, routes: &[Route]) -> StoreResult<u64> {
    insert_all(
        tx,
        "INSERT INTO routes (id, short_name, long_name, mode, geom, stops) \
         VALUES ($1, $2, $3, $4, ST_SetSRID($5::geometry, 4326), $6::text::jsonb) \
         ON CONFLICT DO NOTHING",
        "storing routes",
        routes,
        |r, exec| {
            let line = Encode(Geometry::LineString(geo::LineString::from(
                r.line
                    .iter()
                    .map(|p| (p.lon(), p.lat()))
                    .collect::<Vec<_>>(),
            )));
            let stops = to_json(&r.stops, "store routes", "stops")?;
            exec(&[
                &i64::from(r.id.get()),
                &r.short_name,
                &r.long_name,
                &r.mode.code(),
                &line,
                &stops,
            ])
        },
    )
}

fn write_services(tx: &mut Transaction<'_>, services: &[YouthService]) -> StoreResult<u64> {
    insert_all(
        tx,
        "INSERT INTO services (id, name, tier, kind, provider, geom) \
         VALUES ($1, $2, $3, $4, $5, ST_SetSRID($6::geometry, 4326)) ON CONFLICT DO NOTHING",
        "storing youth services",
        services,
        |s, exec| {
            exec(&[
                &i64::from(s.id.get()),
                &s.name,
                &s.tier.code(),
                &s.kind,
                &s.provider,
                &point(s.location),
            ])
        },
    )
}

fn write_boundaries(tx: &mut Transaction<'_>, boundaries: &[Boundary]) -> StoreResult<u64> {
    insert_all(
        tx,
        "INSERT INTO boundaries (scheme, code, name, geom, youth_population) \
         VALUES ($1, $2, $3, ST_SetSRID($4::geometry, 4326), $5) ON CONFLICT DO NOTHING",
        "storing boundaries",
        boundaries,
        |b, exec| {
            // As the SQLite store: a non-finite coordinate is refused, never stored.
            if !b
                .geometry
                .coords_iter()
                .all(|c| c.x.is_finite() && c.y.is_finite())
            {
                return Err(StoreError::Refused {
                    operation: "store boundaries",
                    field: "geometry",
                    problem: format!(
                        "boundary {}/{} has a non-finite coordinate",
                        b.scheme, b.code
                    ),
                });
            }
            let geometry = Encode(Geometry::MultiPolygon(b.geometry.clone()));
            exec(&[
                &b.scheme.as_str(),
                &b.code.as_str(),
                &b.name,
                &geometry,
                &b.youth_population.map(i64::from),
            ])
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Reading.

/// The columns of an incident, in the order [`incident_row`] reads them (table alias `i`).
const INCIDENT_COLUMNS: &str = "i.id, i.category, (i.day - DATE '1970-01-01'), i.minute, \
     i.time_precision, i.geom, i.location_precision, i.involves_child, i.agency, i.isa_ref, \
     i.grade";

/// The condition that skips withdrawn incidents (table alias `i`).
const NOT_WITHDRAWN: &str =
    "NOT EXISTS (SELECT 1 FROM incident_withdrawals w WHERE w.incident_id = i.id)";

/// One stored row being turned back into a domain value; every failure is a
/// [`StoreError::Corrupt`] naming the table, the row's key and the column.
struct Cells<'a> {
    row: &'a Row,
    table: &'static str,
}

impl<'a> Cells<'a> {
    fn key(&self) -> String {
        if let Ok(id) = self.row.try_get::<_, i64>(0) {
            return id.to_string();
        }
        if let Ok(id) = self.row.try_get::<_, i32>(0) {
            return id.to_string();
        }
        let text = |i| self.row.try_get::<_, String>(i).ok();
        match (text(0), text(1)) {
            (Some(a), Some(b)) if self.table == "boundaries" => format!("{a}/{b}"),
            (Some(a), _) => a,
            _ => "?".to_owned(),
        }
    }

    fn corrupt(&self, reason: impl Display) -> StoreError {
        StoreError::Corrupt {
            table: self.table,
            row: self.key(),
            reason: reason.to_string(),
        }
    }

    fn column_corrupt(&self, idx: usize, reason: impl Display) -> StoreError {
        let column = self.row.columns().get(idx).map_or("?", |c| c.name());
        self.corrupt(format!("{column}: {reason}"))
    }

    fn get<T: FromSql<'a>>(&self, idx: usize) -> StoreResult<T> {
        self.row
            .try_get(idx)
            .map_err(|e| self.column_corrupt(idx, e))
    }

    fn id(&self, idx: usize) -> StoreResult<u64> {
        let raw: i64 = self.get(idx)?;
        u64::try_from(raw).map_err(|e| self.column_corrupt(idx, e))
    }

    /// A `bigint` id column of a 32-bit id.
    fn id32(&self, idx: usize) -> StoreResult<u32> {
        let raw: i64 = self.get(idx)?;
        u32::try_from(raw).map_err(|e| self.column_corrupt(idx, e))
    }

    fn parse<T>(&self, idx: usize) -> StoreResult<T>
    where
        T: FromStr,
        T::Err: Display,
    {
        let text: String = self.get(idx)?;
        text.parse().map_err(|e| self.column_corrupt(idx, e))
    }

    fn parse_optional<T>(&self, idx: usize) -> StoreResult<Option<T>>
    where
        T: FromStr,
        T::Err: Display,
    {
        let text: Option<String> = self.get(idx)?;
        text.map(|t| t.parse().map_err(|e| self.column_corrupt(idx, e)))
            .transpose()
    }

    /// A `jsonb` column selected as `::text`.
    fn json<T: serde::de::DeserializeOwned>(&self, idx: usize) -> StoreResult<T> {
        let text: String = self.get(idx)?;
        serde_json::from_str(&text).map_err(|e| self.column_corrupt(idx, e))
    }

    fn code<T: Code>(&self, idx: usize) -> StoreResult<T> {
        let text: String = self.get(idx)?;
        T::from_code(&text)
            .ok_or_else(|| self.column_corrupt(idx, format!("{text:?} is not a known code")))
    }

    /// A date column selected as days since 1970-01-01.
    fn day(&self, idx: usize) -> StoreResult<Day> {
        let days: i32 = self.get(idx)?;
        u16::try_from(days)
            .map(Day::from_days_since_epoch)
            .map_err(|e| self.column_corrupt(idx, format!("day {days}: {e}")))
    }

    /// A geometry column, `None` when NULL.
    fn geometry(&self, idx: usize) -> StoreResult<Option<Geometry<f64>>> {
        let decoded: Decode<Geometry<f64>> = self.get(idx)?;
        Ok(decoded.geometry)
    }

    fn lonlat_of(&self, idx: usize, geometry: Option<Geometry<f64>>) -> StoreResult<LonLat> {
        match geometry {
            Some(Geometry::Point(p)) => {
                LonLat::new(p.x(), p.y()).map_err(|e| self.column_corrupt(idx, e))
            }
            other => Err(self.column_corrupt(idx, format!("not a point: {other:?}"))),
        }
    }

    fn lonlat(&self, idx: usize) -> StoreResult<LonLat> {
        let g = self.geometry(idx)?;
        self.lonlat_of(idx, g)
    }

    fn provenance(&self, agency: usize, isa_ref: usize, grade: usize) -> StoreResult<Provenance> {
        Ok(Provenance {
            agency: self.parse(agency)?,
            isa_ref: self.parse_optional(isa_ref)?,
            grade: self.parse_optional(grade)?,
        })
    }
}

/// An incident from the [`INCIDENT_COLUMNS`] of `row`.
fn incident_row(row: &Row) -> StoreResult<Incident> {
    let c = Cells {
        row,
        table: "incidents",
    };
    let minute: Option<i16> = c.get(3)?;
    let minute_of_day = minute
        .map(|m| u16::try_from(m).map_err(|e| c.column_corrupt(3, e)))
        .transpose()?;
    let location = match (c.geometry(5)?, c.get::<Option<String>>(6)?) {
        (None, None) => None,
        (Some(g), Some(_)) => Some(IncidentLocation {
            point: c.lonlat_of(5, Some(g))?,
            precision: c.code::<LocationPrecision>(6)?,
        }),
        _ => return Err(c.corrupt("location columns are partly NULL")),
    };
    Ok(Incident {
        id: IncidentId::new(c.id(0)?),
        category: c.parse::<Category>(1)?,
        time: IncidentTime {
            day: c.day(2)?,
            minute_of_day,
            precision: c.code::<TimePrecision>(4)?,
        },
        location,
        involves_child: c.get(7)?,
        provenance: c.provenance(8, 9, 10)?,
    })
}

/// Runs `sql` through a portal in `tx` and hands its rows to `each`, [`BATCH_ROWS`] at a time.
fn for_each_row_batch(
    tx: &mut Transaction<'_>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    context: &'static str,
    each: &mut dyn FnMut(Vec<Row>) -> StoreResult<()>,
) -> StoreResult<()> {
    let portal = tx.bind(sql, params).map_err(pg(context))?;
    loop {
        let rows = tx.query_portal(&portal, BATCH_ROWS).map_err(pg(context))?;
        let last = rows.len() < usize::try_from(BATCH_ROWS).unwrap_or(usize::MAX);
        if !rows.is_empty() {
            each(rows)?;
        }
        if last {
            return Ok(());
        }
    }
}

/// The incidents `sql` (selecting [`INCIDENT_COLUMNS`]) finds, handed to `each` in batches of
/// at most [`BATCH_ROWS`].
fn for_each_incident(
    tx: &mut Transaction<'_>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    each: &mut dyn FnMut(Vec<Incident>),
) -> StoreResult<()> {
    for_each_row_batch(tx, sql, params, "reading stored incidents", &mut |rows| {
        let incidents = rows
            .iter()
            .map(incident_row)
            .collect::<StoreResult<Vec<_>>>()?;
        each(incidents);
        Ok(())
    })
}

/// A read-only snapshot in which a read's queries agree.
fn snapshot(client: &mut Client) -> StoreResult<Transaction<'_>> {
    client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(pg("starting a read transaction"))
}

/// The largest batch id stored, 0 when none.
fn max_batch(client: &mut impl GenericClient) -> StoreResult<u64> {
    let id: Option<i64> = client
        .query_one("SELECT MAX(segment) FROM incidents", &[])
        .and_then(|r| r.try_get(0))
        .map_err(pg("reading the newest incident batch"))?;
    Ok(id.map_or(0, unsigned))
}

pub(super) fn load_kinds(
    tx: &mut Transaction<'_>,
    kinds: &ChangeSet,
    dataset: &mut Dataset,
) -> StoreResult<u64> {
    if kinds.incidents {
        let mut incidents = Vec::new();
        for_each_incident(
            tx,
            &format!(
                "SELECT {INCIDENT_COLUMNS} FROM incidents i WHERE {NOT_WITHDRAWN} ORDER BY i.id"
            ),
            &[],
            &mut |batch| incidents.extend(batch),
        )?;
        dataset.incidents = incidents;
    }
    if kinds.reference {
        dataset.places = load_places(tx)?;
        dataset.schools = load_schools(tx)?;
        dataset.stops = load_stops(tx)?;
        dataset.routes = load_routes(tx)?;
        dataset.services = load_services(tx)?;
        dataset.boundaries = load_boundaries(tx)?;
    }
    max_batch(tx)
}

/// Every row of `sql` from `table`, converted by `convert`.
fn load_all<T>(
    tx: &mut Transaction<'_>,
    table: &'static str,
    sql: &str,
    convert: impl Fn(&Cells<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let rows = tx.query(sql, &[]).map_err(pg("loading stored records"))?;
    rows.iter()
        .map(|row| convert(&Cells { row, table }))
        .collect()
}

fn load_places(tx: &mut Transaction<'_>) -> StoreResult<Vec<PlaceOfConcern>> {
    let sql = "SELECT id, kind, name, geom, guardians::text, (review_due - DATE '1970-01-01'), \
               agency, isa_ref, grade FROM places ORDER BY id";
    load_all(tx, "places", sql, |c| {
        Ok(PlaceOfConcern {
            id: PlaceId::new(c.id32(0)?),
            kind: c.code::<PlaceKind>(1)?,
            name: c.get(2)?,
            location: c.lonlat(3)?,
            guardians: c.json::<Vec<Guardian>>(4)?,
            review_due: c.day(5)?,
            provenance: c.provenance(6, 7, 8)?,
        })
    })
}

fn load_schools(tx: &mut Transaction<'_>) -> StoreResult<Vec<School>> {
    let sql = "SELECT urn, name, phase, geom, la_code, open FROM schools ORDER BY urn";
    load_all(tx, "schools", sql, |c| {
        let urn: i32 = c.get(0)?;
        Ok(School {
            urn: u32::try_from(urn)
                .map_err(|e| c.column_corrupt(0, e))
                .and_then(|u| Urn::new(u).map_err(|e| c.column_corrupt(0, e)))?,
            name: c.get(1)?,
            phase: c.code(2)?,
            location: c.lonlat(3)?,
            la_code: c.parse::<BoundaryCode>(4)?,
            open: c.get(5)?,
        })
    })
}

fn load_stops(tx: &mut Transaction<'_>) -> StoreResult<Vec<Stop>> {
    // `COLLATE "C"`: byte order, as SQLite sorts text.
    let sql = "SELECT atco, name, geom, active FROM stops ORDER BY atco COLLATE \"C\"";
    load_all(tx, "stops", sql, |c| {
        Ok(Stop {
            id: c.parse::<AtcoCode>(0)?,
            name: c.get(1)?,
            location: c.lonlat(2)?,
            active: c.get(3)?,
        })
    })
}

fn load_routes(tx: &mut Transaction<'_>) -> StoreResult<Vec<Route>> {
    let sql = "SELECT id, short_name, long_name, mode, geom, stops::text FROM routes ORDER BY id";
    load_all(tx, "routes", sql, |c| {
        let line = match c.geometry(4)? {
            Some(Geometry::LineString(l)) => l
                .coords()
                .map(|p| LonLat::new(p.x, p.y).map_err(|e| c.column_corrupt(4, e)))
                .collect::<StoreResult<Vec<_>>>()?,
            other => return Err(c.column_corrupt(4, format!("not a line: {other:?}"))),
        };
        Ok(Route {
            id: RouteId::new(c.id32(0)?),
            short_name: c.get(1)?,
            long_name: c.get(2)?,
            mode: c.code(3)?,
            line,
            stops: c.json::<Vec<AtcoCode>>(5)?,
        })
    })
}

fn load_services(tx: &mut Transaction<'_>) -> StoreResult<Vec<YouthService>> {
    let sql = "SELECT id, name, tier, kind, provider, geom FROM services ORDER BY id";
    load_all(tx, "services", sql, |c| {
        Ok(YouthService {
            id: ServiceId::new(c.id32(0)?),
            name: c.get(1)?,
            tier: c.code(2)?,
            kind: c.get(3)?,
            provider: c.get(4)?,
            location: c.lonlat(5)?,
        })
    })
}

fn load_boundaries(tx: &mut Transaction<'_>) -> StoreResult<Vec<Boundary>> {
    let sql = "SELECT scheme, code, name, geom, youth_population FROM boundaries \
               ORDER BY scheme COLLATE \"C\", code COLLATE \"C\"";
    load_all(tx, "boundaries", sql, |c| {
        let geometry = match c.geometry(3)? {
            Some(Geometry::MultiPolygon(m)) => m,
            other => return Err(c.column_corrupt(3, format!("not a multipolygon: {other:?}"))),
        };
        let population: Option<i64> = c.get(4)?;
        Ok(Boundary {
            scheme: c.parse::<SchemeName>(0)?,
            code: c.parse::<BoundaryCode>(1)?,
            name: c.get(2)?,
            geometry,
            youth_population: population
                .map(|p| u32::try_from(p).map_err(|e| c.column_corrupt(4, e)))
                .transpose()?,
        })
    })
}

// ---------------------------------------------------------------------------------------------
// Streaming incidents.

pub(super) fn for_each_incident_batch(
    client: &mut Client,
    each: &mut dyn FnMut(Vec<Incident>),
) -> StoreResult<u64> {
    let mut tx = snapshot(client)?;
    // The rows written one by one first, then each batch, as the SQLite store hands them.
    for_each_incident(
        &mut tx,
        &format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents i WHERE i.segment IS NULL AND {NOT_WITHDRAWN} \
             ORDER BY i.id"
        ),
        &[],
        each,
    )?;
    for_each_incident(
        &mut tx,
        &format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents i WHERE i.segment IS NOT NULL AND {NOT_WITHDRAWN} \
             ORDER BY i.segment, i.id"
        ),
        &[],
        each,
    )?;
    let cursor = max_batch(&mut tx)?;
    tx.commit().map_err(pg("ending a read transaction"))?;
    Ok(cursor)
}

pub(super) fn incidents_fingerprint(
    client: &mut Client,
    cursor: u64,
) -> StoreResult<IncidentsFingerprint> {
    let context = "reading the stored incidents' fingerprint";
    let cursor = i64::try_from(cursor).unwrap_or(i64::MAX);
    let mut tx = snapshot(client)?;
    let row = tx
        .query_one(
            "SELECT \
             (SELECT COUNT(*) FROM incidents WHERE segment IS NULL), \
             (SELECT COALESCE(MAX(id), 0) FROM incidents WHERE segment IS NULL), \
             COUNT(*), COALESCE(SUM(n), 0)::bigint, \
             COALESCE(SUM(lo % 4294967296 + hi % 4294967296), 0)::bigint, \
             (SELECT COUNT(*) FROM incident_withdrawals WHERE segment IS NULL), \
             (SELECT COUNT(*) FROM incident_withdrawals WHERE segment <= $1) \
             FROM (SELECT COUNT(*) AS n, MIN(id) AS lo, MAX(id) AS hi FROM incidents \
                   WHERE segment <= $1 GROUP BY segment) AS batches",
            &[&cursor],
        )
        .map_err(pg(context))?;
    let n = |i: usize| -> StoreResult<u64> {
        row.try_get::<_, i64>(i).map(unsigned).map_err(pg(context))
    };
    let fingerprint = IncidentsFingerprint {
        table_rows: n(0)?.saturating_sub(n(5)?),
        table_max_id: n(1)?,
        segments: n(2)?,
        segment_rows: n(3)?.saturating_sub(n(6)?),
        segment_id_sum: n(4)?,
    };
    tx.commit().map_err(pg("ending a read transaction"))?;
    Ok(fingerprint)
}

pub(super) fn for_each_incident_after_segment(
    client: &mut Client,
    after: u64,
    each: &mut dyn FnMut(Vec<Incident>),
) -> StoreResult<u64> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let mut tx = snapshot(client)?;
    for_each_incident(
        &mut tx,
        &format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents i WHERE i.segment > $1 AND {NOT_WITHDRAWN} \
             ORDER BY i.segment, i.id"
        ),
        &[&after],
        each,
    )?;
    let cursor = max_batch(&mut tx)?;
    tx.commit().map_err(pg("ending a read transaction"))?;
    Ok(cursor)
}

pub(super) fn incident_rows_after_segment(client: &mut Client, after: u64) -> StoreResult<u64> {
    let n: i64 = client
        .query_one(
            "SELECT COUNT(*) FROM incidents WHERE segment > $1",
            &[&i64::try_from(after).unwrap_or(i64::MAX)],
        )
        .and_then(|r| r.try_get(0))
        .map_err(pg("counting the incidents of new batches"))?;
    Ok(unsigned(n))
}

pub(super) fn for_each_withdrawal_after(
    client: &mut Client,
    after: u64,
    each: &mut dyn FnMut(Vec<Incident>),
) -> StoreResult<u64> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let mut tx = snapshot(client)?;
    for_each_incident(
        &mut tx,
        &format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents i JOIN incident_withdrawals w \
             ON w.incident_id = i.id WHERE w.seq > $1 ORDER BY i.id"
        ),
        &[&after],
        each,
    )?;
    let newest: i64 = tx
        .query_one(
            "SELECT COALESCE(MAX(seq), 0) FROM incident_withdrawals",
            &[],
        )
        .and_then(|r| r.try_get(0))
        .map_err(pg("reading the withdrawn incidents"))?;
    tx.commit().map_err(pg("ending a read transaction"))?;
    Ok(unsigned(newest))
}

#[path = "data_withdrawals.rs"]
mod withdrawals;
pub(super) use withdrawals::{amend_incident, withdraw_incidents};

#[path = "data_import.rs"]
mod import;
pub(super) use import::{write_import, write_matches};

#[cfg(test)]
#[path = "data_tests.rs"]
mod tests;
