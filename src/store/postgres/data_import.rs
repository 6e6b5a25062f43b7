//! Imports into the PostgreSQL store (issue 16, point 3): an import's incidents go through
//! binary `COPY` into a temporary staging table, then one `INSERT .. SELECT .. ON CONFLICT DO
//! NOTHING` moves them into `incidents` under one new batch id, all in the import's
//! transaction: the file is stored whole or not at all, and importing it again stores nothing.

use postgres::Transaction;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};

use super::super::super::{
    ImportBatch, ImportFile, ImportWritten, ImportedIncident, StoreError, StoreResult,
};
use super::{
    day_param, lock_writes, pg, point, record_change, sql_id, unsigned, write_boundaries,
    write_places, write_routes, write_schools, write_services, write_stops,
};
use crate::domain::IsaRef;
use crate::store::changes::ChangeKind;
use crate::store::sqlite::Code as _;

const OPERATION: &str = "store an import";

/// The next batch id (the `segment` of the rows a write stores). The caller holds the write
/// lock ([`lock_writes`]) until it commits.
pub(super) fn next_batch(tx: &mut Transaction<'_>) -> StoreResult<i64> {
    tx.query_one("SELECT COALESCE(MAX(segment), 0) + 1 FROM incidents", &[])
        .and_then(|r| r.try_get(0))
        .map_err(pg("numbering an incident batch"))
}

/// Adds a file to the register of imported files under the next id (the caller holds the
/// write lock); returns the id.
pub(super) fn register_file(
    tx: &mut Transaction<'_>,
    sha256: &str,
    kind: &str,
    name: &str,
    at: &str,
    summary: &serde_json::Value,
) -> StoreResult<i64> {
    tx.query_one(
        "INSERT INTO imported_files (id, file_sha256, kind, file_name, imported_at, summary) \
         VALUES ((SELECT COALESCE(MAX(id), 0) + 1 FROM imported_files), $1, $2, $3, $4, \
         $5::text::jsonb) RETURNING id",
        &[&sha256, &kind, &name, &at, &summary.to_string()],
    )
    .and_then(|r| r.try_get(0))
    .map_err(pg("registering the imported file"))
}

/// The source columns of an imported incident, in the staging table's order after the
/// incident's own.
const SOURCE_COLUMNS: &str =
    "line, source_ref, area_code, area_vintage, location, category_raw, outcome_raw, outside_area";

/// Stores one incident with its source record as batch `batch` of file `file_id`.
pub(super) fn insert_sourced(
    tx: &mut Transaction<'_>,
    row: &ImportedIncident,
    file_id: i64,
    batch: i64,
) -> StoreResult<()> {
    let i = &row.incident;
    let a = &row.attributes;
    let location = i.location.as_ref();
    tx.execute(
        &format!(
            "INSERT INTO incidents (id, category, day, minute, time_precision, geom, \
             location_precision, involves_child, agency, isa_ref, grade, segment, file_id, \
             {SOURCE_COLUMNS}) VALUES ($1, $2, DATE '1970-01-01' + $3::int, $4, $5, \
             ST_SetSRID($6::geometry, 4326), $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             $17, $18, $19, $20, $21)"
        ),
        &[
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
            &batch,
            &file_id,
            &sql_id(row.line, OPERATION)?,
            &a.source_ref.as_deref(),
            &a.area_code.as_deref(),
            &a.area_vintage.as_deref(),
            &a.location.as_deref(),
            &a.category_raw.as_deref(),
            &a.outcome_raw.as_deref(),
            &row.outside_area,
        ],
    )
    .map_err(pg("storing an amended incident"))?;
    Ok(())
}

/// The public part of `write_import`: the file registered, its incidents through binary COPY
/// under a new batch, its reference records; what was stored, and the file's id (the people
/// part stores stop-and-search records under it).
pub(in super::super) fn write_import(
    tx: &mut Transaction<'_>,
    batch: &ImportBatch,
    file: &ImportFile,
    summary: &serde_json::Value,
) -> StoreResult<(ImportWritten, i64)> {
    lock_writes(tx)?;
    let file_id = register_file(
        tx,
        &file.sha256,
        &file.kind,
        &file.name,
        &file.imported_at,
        summary,
    )?;
    let mut written = ImportWritten::default();
    if !batch.incidents.is_empty() {
        let id = next_batch(tx)?;
        written = copy_incidents(tx, &batch.incidents, file_id, id)?;
        if written.stored > 0 {
            record_change(tx, ChangeKind::IncidentSegments, Some((id, id)))?;
        }
    }
    written.stored += write_boundaries(tx, &batch.boundaries)?;
    written.stored += write_schools(tx, &batch.schools)?;
    written.stored += write_stops(tx, &batch.stops)?;
    written.stored += write_routes(tx, &batch.routes)?;
    written.stored += write_places(tx, &batch.places)?;
    written.stored += write_services(tx, &batch.services)?;
    let reference = [
        batch.boundaries.len(),
        batch.schools.len(),
        batch.stops.len(),
        batch.routes.len(),
        batch.places.len(),
        batch.services.len(),
    ];
    if reference.iter().any(|&n| n > 0) {
        record_change(tx, ChangeKind::Reference, None)?;
    }
    Ok((written, file_id))
}

/// Creates the temporary staging table of an import's incidents (dropped at the latest when
/// the transaction ends); returns its column types for binary COPY.
fn create_staging(tx: &mut Transaction<'_>) -> StoreResult<[Type; 19]> {
    let context = "copying an import's incidents";
    tx.batch_execute(
        "CREATE TEMP TABLE import_staging (id bigint, category text, day integer, \
         minute smallint, time_precision text, geom geometry, location_precision text, \
         involves_child boolean, agency text, isa_ref text, grade text, line bigint, \
         source_ref text, area_code text, area_vintage text, location text, category_raw text, \
         outcome_raw text, outside_area boolean) ON COMMIT DROP",
    )
    .map_err(pg(context))?;
    let geometry = tx
        .prepare("SELECT NULL::geometry")
        .map_err(pg(context))?
        .columns()
        .first()
        .map(|c| c.type_().clone())
        .ok_or_else(|| StoreError::Corrupt {
            table: "geometry",
            row: String::new(),
            reason: "PostGIS's geometry type is not known to the server".to_owned(),
        })?;
    Ok([
        Type::INT8,
        Type::TEXT,
        Type::INT4,
        Type::INT2,
        Type::TEXT,
        geometry,
        Type::TEXT,
        Type::BOOL,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::INT8,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::BOOL,
    ])
}

/// Copies `incidents` (a repeated id keeps its first row, as the `SQLite` store) into a
/// staging table through binary COPY, then stores those not stored yet as batch `batch` of
/// file `file_id`; counts what was stored.
fn copy_incidents(
    tx: &mut Transaction<'_>,
    incidents: &[ImportedIncident],
    file_id: i64,
    batch: i64,
) -> StoreResult<ImportWritten> {
    let context = "copying an import's incidents";
    // Sort compact (id, position) keys, not the rows; the first row of an id is kept.
    let mut keys: Vec<(u64, usize)> = incidents
        .iter()
        .enumerate()
        .map(|(at, i)| (i.incident.id.get(), at))
        .collect();
    keys.sort_unstable();
    keys.dedup_by_key(|k| k.0);
    let types = create_staging(tx)?;
    let sink = tx
        .copy_in("COPY import_staging FROM STDIN (FORMAT binary)")
        .map_err(pg(context))?;
    let mut writer = BinaryCopyInWriter::new(sink, &types);
    for &(_, at) in &keys {
        let row = &incidents[at];
        let i = &row.incident;
        let a = &row.attributes;
        let location = i.location.as_ref();
        let values: [&(dyn ToSql + Sync); 19] = [
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
            &sql_id(row.line, OPERATION)?,
            &a.source_ref.as_deref(),
            &a.area_code.as_deref(),
            &a.area_vintage.as_deref(),
            &a.location.as_deref(),
            &a.category_raw.as_deref(),
            &a.outcome_raw.as_deref(),
            &row.outside_area,
        ];
        writer.write(&values).map_err(pg(context))?;
    }
    writer.finish().map_err(pg(context))?;
    let counts = tx
        .query_one(
            &format!(
                "WITH stored AS (INSERT INTO incidents (id, category, day, minute, \
                 time_precision, geom, location_precision, involves_child, agency, isa_ref, \
                 grade, segment, file_id, {SOURCE_COLUMNS}) \
                 SELECT id, category, DATE '1970-01-01' + day, minute, time_precision, \
                 ST_SetSRID(geom, 4326), location_precision, involves_child, agency, isa_ref, \
                 grade, $1, $2, {SOURCE_COLUMNS} FROM import_staging \
                 ON CONFLICT DO NOTHING RETURNING geom IS NULL AS unlocated, outside_area) \
                 SELECT COUNT(*), COUNT(*) FILTER (WHERE unlocated), \
                 COUNT(*) FILTER (WHERE outside_area) FROM stored"
            ),
            &[&batch, &file_id],
        )
        .map_err(pg("storing an import's incidents"))?;
    let n = |i: usize| -> StoreResult<u64> {
        counts
            .try_get::<_, i64>(i)
            .map(unsigned)
            .map_err(pg("storing an import's incidents"))
    };
    // The staging table goes now, not at commit: a dry run's caller may import again.
    tx.batch_execute("DROP TABLE import_staging")
        .map_err(pg(context))?;
    Ok(ImportWritten {
        stored: n(0)?,
        unlocated: n(1)?,
        outside_area: n(2)?,
    })
}

pub(in super::super) fn write_matches(
    client: &mut postgres::Client,
    matches: &[crate::ingest::reconcile::LikelyDuplicate],
    params: &serde_json::Value,
    found_at: &str,
) -> StoreResult<u64> {
    let context = "linking duplicates";
    let mut tx = client
        .transaction()
        .map_err(pg("starting to link duplicates"))?;
    let stmt = tx
        .prepare(
            "INSERT INTO incident_matches (a, b, kind, category, distance_m, days_apart, params, \
             found_at) VALUES ($1, $2, 'likely_duplicate', $3, $4, $5, $6::text::jsonb, $7) \
             ON CONFLICT DO NOTHING",
        )
        .map_err(pg(context))?;
    let params = params.to_string();
    let mut new = 0;
    for m in matches {
        new += tx
            .execute(
                &stmt,
                &[
                    &sql_id(m.a.get(), "link likely duplicates")?,
                    &sql_id(m.b.get(), "link likely duplicates")?,
                    &m.category.slug(),
                    &m.distance_m,
                    &i32::from(m.days_apart),
                    &params,
                    &found_at,
                ],
            )
            .map_err(pg(context))?;
    }
    tx.commit().map_err(pg("committing duplicate links"))?;
    Ok(new)
}
