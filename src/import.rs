//! `saferplaces import <kind>`: parse a file, account for every row, and store it whole or not
//! at all (issue 4). Each file is one transaction; without `--allow-partial` a file with any
//! rejected row stores nothing. Records are keyed by stable ids, so re-importing a file stores
//! nothing new. A running server notices the change and rebuilds its indexes within a second.

use std::path::Path;

use serde::Serialize;
use serde_json::json;

use crate::domain::{Agency, IsaRef, SchemeName};
use crate::ingest::agency::{
    format_for, parse_incidents, parse_links, parse_people, parse_places, parse_services,
};
use crate::ingest::batch::{ImportBatch, ImportFile, ImportedIncident, SourceAttributes};
use crate::ingest::gias::parse_gias;
use crate::ingest::gtfs::parse_gtfs;
use crate::ingest::lsoa::{FileVintage, LsoaCodeSets, LsoaVintage};
use crate::ingest::naptan::parse_naptan;
use crate::ingest::ons::{BoundaryFileOptions, parse_boundaries_all};
use crate::ingest::police::{parse_stop_search, parse_street_into};
use crate::ingest::report::{Progress, ProgressPoint, Rejection, SourceFile};
use crate::store::{Store, StoreError};

/// The kinds this version imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportKind {
    /// data.police.uk street-level crime CSV.
    PoliceStreet,
    /// data.police.uk stop-and-search CSV.
    PoliceStopSearch,
    /// ONS-style boundary GeoJSON (any vintage); needs `--scheme`.
    Boundaries,
    /// Get Information About Schools (`edubasealldata*.csv`, Windows-1252).
    Gias,
    /// `NaPTAN` stops (`Stops.csv`).
    Naptan,
    /// A GTFS feed, zip or folder: stops and routes (routes become lines).
    Gtfs,
    /// Agency incidents (CSV or GeoJSON; docs/formats.md).
    Incidents,
    /// Agency places of concern (CSV or GeoJSON).
    Places,
    /// Agency youth services (CSV or GeoJSON).
    Services,
    /// Agency people (CSV or GeoJSON); safeguards rules apply and the collection is audited.
    People,
    /// Agency links (CSV or GeoJSON); safeguards rules apply and the collection is audited.
    Links,
}

impl ImportKind {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Self::PoliceStreet => "police-street",
            Self::PoliceStopSearch => "police-stop-search",
            Self::Boundaries => "boundaries",
            Self::Gias => "gias",
            Self::Naptan => "naptan",
            Self::Gtfs => "gtfs",
            Self::Incidents => "incidents",
            Self::Places => "places",
            Self::Services => "services",
            Self::People => "people",
            Self::Links => "links",
        }
    }

    /// People and links: person-level, checked against the safeguards rules and the sharing
    /// agreements, and their collection audited (S16).
    pub fn is_person_level(self) -> bool {
        matches!(self, Self::People | Self::Links)
    }
}

/// What became of one file that was read and accounted for (a file that could not be read
/// or stored is an [`ImportError`] instead).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportOutcome {
    /// Its valid rows were stored (re-imported rows count as duplicates).
    #[default]
    Stored,
    /// Rows were rejected without `--allow-partial`: nothing from it was stored.
    Refused,
    /// `--dry-run`: accounted for, nothing stored.
    DryRun,
}

impl ImportOutcome {
    /// The word the summaries print: `stored`, `refused` or `dry-run`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Stored => "stored",
            Self::Refused => "refused",
            Self::DryRun => "dry-run",
        }
    }

    /// True when the file makes the import fail (exit status 1): it was refused.
    pub fn is_failure(self) -> bool {
        self == Self::Refused
    }
}

impl std::fmt::Display for ImportOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Parse and account, but store nothing.
    pub dry_run: bool,
    /// Store a file's valid rows even when some rows are rejected.
    pub allow_partial: bool,
    /// The supplying agency (provenance).
    pub agency: Agency,
    /// The sharing agreement (provenance).
    pub isa_ref: Option<IsaRef>,
    /// Boundary scheme (for `boundaries`).
    pub scheme: Option<SchemeName>,
    /// Boundary code property (for `boundaries`).
    pub code_field: Option<String>,
    /// Boundary name property (for `boundaries`).
    pub name_field: Option<String>,
    /// Where long imports report progress (the CLI prints it; silent by default).
    pub progress: Progress,
    /// LSOA code sets for deciding a police file's LSOA vintage; `None` records every row's
    /// vintage as unknown.
    pub lsoa_codes: Option<std::sync::Arc<LsoaCodeSets>>,
    /// A links file imported with the people (`people` only): people and links are checked
    /// and written as one batch, so a person and the links the rules require of them (S2, S4)
    /// arrive together.
    pub links: Option<std::path::PathBuf>,
    /// The sharing agreements that people and links imports are checked against (S20); `None`
    /// skips the check (benches and non-person kinds).
    pub sharing: Option<SharingCheck>,
    /// "Today" for people and links: review periods (S18) are counted from it and sharing
    /// agreements must be in force on it. The CLI takes it from the settings' clock
    /// (`SAFERPLACES_TODAY`, else the system date), like every other command.
    pub today: crate::domain::Day,
}

/// What a people or links import is checked against (S20; issue 12, point 7): data of a
/// controller other than the deployment's own needs `--isa-ref` naming a configured, unexpired
/// agreement with a flow from that controller.
#[derive(Debug, Clone)]
pub struct SharingCheck {
    /// The configured agreements.
    pub agreements: std::sync::Arc<crate::safeguards::sharing::Agreements>,
    /// The deployment's own controller (`SAFERPLACES_CONTROLLER`), whose data needs no
    /// agreement.
    pub controller: Option<String>,
}

impl SharingCheck {
    /// Checks that `agency`'s people or links may be imported with `isa_ref` on `today`.
    ///
    /// # Errors
    ///
    /// [`ImportError::NoSharingAgreement`] saying what is missing.
    pub fn check(
        &self,
        agency: &Agency,
        isa_ref: Option<&IsaRef>,
        today: crate::domain::Day,
    ) -> Result<(), ImportError> {
        if self.controller.as_deref() == Some(agency.as_str()) {
            return Ok(());
        }
        let Some(isa_ref) = isa_ref else {
            return Err(ImportError::NoSharingAgreement(format!(
                "people and links of {agency} are another controller's data: name the sharing \
                 agreement they arrive under with --isa-ref (safeguards.md S20)"
            )));
        };
        self.agreements
            .check_import(isa_ref, agency.as_str(), today)
            .map(|_| ())
            .map_err(ImportError::NoSharingAgreement)
    }
}

/// An import could not run at all (as opposed to rows being rejected).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An option is missing or invalid.
    #[error("{0}")]
    Usage(String),
    /// People or links of another controller without a configured agreement (S20).
    #[error("{0}")]
    NoSharingAgreement(String),
    /// The store failed; nothing from the file was stored. The file was read: `read` rows.
    #[error("storing {path} in {store} ({read} rows read, none stored)")]
    Store {
        /// The file.
        path: String,
        /// The store it was to go into ([`Store::location`]).
        store: String,
        /// Data rows read from the file before the store failed.
        read: u64,
        /// The cause.
        #[source]
        source: Box<StoreError>,
    },
    /// The audit record of a people or links file could not be written (S16: the command
    /// stops). `summary` is what the file came to when it was read and accounted for.
    #[error("writing the audit record of importing {path}")]
    Audit {
        /// The file.
        path: String,
        /// What the file came to, when it got that far.
        summary: Option<Box<FileSummary>>,
        /// The cause.
        #[source]
        source: crate::safeguards::audit::AuditError,
    },
}

/// What happened to one file. `read = stored + duplicates + rejected` always: when a file is
/// refused (rejections without `--allow-partial`) every row counts as rejected, and `invalid`
/// says how many had errors of their own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileSummary {
    /// The file.
    pub file: String,
    /// Data rows read.
    pub read: u64,
    /// Rows newly stored.
    pub stored: u64,
    /// Valid rows already stored (re-imports) or repeated within the file.
    pub duplicates: u64,
    /// Rows not stored because of rejection.
    pub rejected: u64,
    /// Rows with errors of their own (each in `rejections`).
    pub invalid: u64,
    /// Stored rows without a location.
    pub unlocated: u64,
    /// Rows read but outside what the kind imports, not counted in `read` (GTFS stations and
    /// other non-boarding stops).
    pub skipped: u64,
    /// Stored police rows outside Bristol, North Somerset, South Gloucestershire and Bath and
    /// North East Somerset (by LSOA name; formats.md §7). They are kept, and reported.
    pub outside_area: u64,
    /// Stored, refused (rejections without `--allow-partial`: nothing stored) or a dry run.
    pub outcome: ImportOutcome,
    /// The LSOA vintage of a police street file (`2011`, `2021`, `mixed`, `unknown`...) and
    /// the row counts behind it; absent for other kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lsoa_vintage: Option<LsoaSummary>,
    /// Every rejection.
    pub rejections: Vec<Rejection>,
    /// Pseudonymous subjects of a people or links file that was written or refused (for its
    /// audit record, S16); empty for other kinds.
    #[serde(skip)]
    pub subjects: Vec<String>,
    /// Pseudonymous subjects of the refused rows of a people or links file that parsed (for
    /// the denied collection's audit record).
    #[serde(skip)]
    pub refused_subjects: Vec<String>,
    /// Lower-case hex SHA-256 of the file (for audit records).
    #[serde(skip)]
    pub sha256: String,
    /// The links file imported with a people file, and its SHA-256 (`--links`).
    #[serde(skip)]
    pub links_file: Option<(String, String)>,
    /// Why rows of a people or links file were refused, for its audit record: the codes of
    /// the rules broken and `ROW_REJECTED:<field>` for rows that did not parse (no values).
    #[serde(skip)]
    pub refusal_codes: std::collections::BTreeSet<String>,
    /// People and links amended by this file (each is audited as an alteration).
    #[serde(skip)]
    pub amended: Vec<crate::store::Amendment>,
}

/// A street file's LSOA vintage and the counts it was decided from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LsoaSummary {
    /// The decision ([`FileVintage::decide`]).
    pub vintage: &'static str,
    /// Rows by the vintage of their code.
    #[serde(flatten)]
    pub rows: FileVintage,
}

/// Names of the four authorities as they begin LSOA names.
const AREA_LSOA_PREFIXES: [&str; 4] = [
    "Bristol ",
    "North Somerset ",
    "South Gloucestershire ",
    "Bath and North East Somerset ",
];

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    use std::fmt::Write;
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The bytes hashed for a folder feed: each regular file's name and contents, sorted by name.
fn folder_digest_input(dir: &Path) -> std::io::Result<Vec<u8>> {
    let mut entries: Vec<std::path::PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    let mut out = Vec::new();
    for p in entries {
        out.extend_from_slice(
            p.file_name()
                .map(std::ffi::OsStr::as_encoded_bytes)
                .unwrap_or_default(),
        );
        out.push(0);
        out.extend_from_slice(&std::fs::read(&p)?);
    }
    Ok(out)
}

/// Imports one file.
///
/// # Errors
///
/// [`ImportError`] when the file cannot be read, an option is missing, or the store fails (in
/// which case nothing from the file was stored). Rejected rows are not errors: they are in the
/// summary.
pub fn import_file(
    store: &mut dyn Store,
    kind: ImportKind,
    path: &Path,
    opts: &ImportOptions,
) -> Result<FileSummary, ImportError> {
    let name = path.display().to_string();
    // A GTFS feed may be a folder: hash its files (sorted by name) instead of reading it.
    let bytes = if kind == ImportKind::Gtfs && path.is_dir() {
        folder_digest_input(path).map_err(|source| ImportError::Read {
            path: name.clone(),
            source,
        })?
    } else {
        std::fs::read(path).map_err(|source| ImportError::Read {
            path: name.clone(),
            source,
        })?
    };
    let src = SourceFile {
        name: name.clone(),
        sha256: sha256_hex(&bytes),
        agency: opts.agency.clone(),
        isa_ref: opts.isa_ref.clone(),
        progress: opts.progress.clone(),
    };
    let file = ImportFile {
        name: name.clone(),
        sha256: src.sha256.clone(),
        imported_at: crate::safeguards::audit::rfc3339_millis(std::time::SystemTime::now()),
        kind: kind.name().to_owned(),
    };

    let mut summary = FileSummary {
        file: name.clone(),
        sha256: src.sha256.clone(),
        ..FileSummary::default()
    };
    if opts.links.is_some() && kind != ImportKind::People {
        return Err(ImportError::Usage(
            "--links goes with `import people` only".to_owned(),
        ));
    }
    if kind.is_person_level()
        && let Some(sharing) = &opts.sharing
    {
        sharing.check(&opts.agency, opts.isa_ref.as_ref(), opts.today)?;
    }
    if kind.is_person_level() {
        return import_people_or_links(store, kind, path, &bytes, &src, opts, summary);
    }
    let parse_started = std::time::Instant::now();
    let batch = parse_batch(kind, path, &bytes, &src, opts, &mut summary)?;
    let parse_ms = parse_started.elapsed().as_millis() as u64;
    summary.invalid = summary.rejections.len() as u64;
    let valid = summary.read - summary.invalid;
    if summary.invalid > 0 && !opts.allow_partial {
        summary.outcome = ImportOutcome::Refused;
        summary.rejected = summary.read;
        return Ok(summary);
    }
    summary.rejected = summary.invalid;
    let register = json!({"read": summary.read, "rejected": summary.rejected, "kind": kind.name()});
    opts.progress.report(ProgressPoint {
        phase: "store",
        rows: valid,
        bytes: bytes.len() as u64,
        total_bytes: bytes.len() as u64,
    });
    let store_started = std::time::Instant::now();
    let written = store
        .write_import(&batch, &file, &register, !opts.dry_run)
        .map_err(|source| ImportError::Store {
            path: name.clone(),
            store: store.location(),
            read: summary.read,
            source: Box::new(source),
        })?;
    tracing::info!(
        file = %name,
        rows = summary.read,
        parse_ms,
        store_ms = store_started.elapsed().as_millis() as u64,
        "import timings"
    );
    summary.stored = written.stored;
    summary.unlocated = written.unlocated;
    summary.duplicates = valid - written.stored;
    summary.outside_area = written.outside_area;
    if opts.dry_run {
        summary.outcome = ImportOutcome::DryRun;
        return Ok(summary);
    }
    summary.outcome = ImportOutcome::Stored;
    Ok(summary)
}

/// Parses one file of a kind that is written as an [`ImportBatch`] (every kind but people
/// and links), recording what was read and rejected in `summary`.
fn parse_batch(
    kind: ImportKind,
    path: &Path,
    bytes: &[u8],
    src: &SourceFile,
    opts: &ImportOptions,
    summary: &mut FileSummary,
) -> Result<ImportBatch, ImportError> {
    let name = &src.name;
    let mut batch = ImportBatch::default();
    match kind {
        ImportKind::PoliceStreet => police_street(bytes, src, opts, summary, &mut batch),
        ImportKind::PoliceStopSearch => {
            let parsed = parse_stop_search(bytes, src);
            summary.read = parsed.read;
            summary.rejections = parsed.rejections;
            batch.stop_searches = parsed.records.into_iter().zip(parsed.lines).collect();
        }
        ImportKind::Gias => {
            let parsed = parse_gias(bytes, src);
            summary.read = parsed.read;
            summary.rejections = parsed.rejections;
            batch.schools = parsed.records.into_iter().map(|r| r.school).collect();
        }
        ImportKind::Naptan => {
            let parsed = parse_naptan(bytes, src);
            summary.read = parsed.read;
            summary.rejections = parsed.rejections;
            batch.stops = parsed.records.into_iter().map(|r| r.stop).collect();
        }
        ImportKind::Gtfs => {
            let feed =
                parse_gtfs(path, src).map_err(|e| ImportError::Usage(format!("{name}: {e}")))?;
            // R counts stops.txt and routes.txt rows plus rejected rows of the supporting files;
            // stations and other non-boarding rows are counted apart (`skipped`).
            summary.read =
                feed.stops.read + feed.routes.read + feed.support_rejections.len() as u64;
            summary.skipped = feed.skipped_non_stops;
            summary.rejections = feed.stops.rejections;
            summary.rejections.extend(feed.routes.rejections);
            summary.rejections.extend(feed.support_rejections);
            batch.stops = feed.stops.records;
            batch.routes = feed.routes.records;
        }
        ImportKind::Incidents => {
            let parsed = parse_incidents(bytes, src, format_for(path));
            summary.read = parsed.read;
            summary.rejections = parsed.rejections;
            batch.incidents = parsed
                .records
                .into_iter()
                .zip(parsed.lines)
                .map(|(incident, line)| ImportedIncident {
                    incident,
                    line,
                    attributes: SourceAttributes::default(),
                    outside_area: false,
                })
                .collect();
        }
        ImportKind::Places => {
            let parsed = parse_places(bytes, src, format_for(path));
            summary.read = parsed.read;
            summary.rejections = parsed.rejections;
            batch.places = parsed.records;
        }
        ImportKind::Services => {
            let parsed = parse_services(bytes, src, format_for(path));
            summary.read = parsed.read;
            summary.rejections = parsed.rejections;
            batch.services = parsed.records;
        }
        // Checked against the rules instead: `import_people_or_links`.
        ImportKind::People | ImportKind::Links => {}
        ImportKind::Boundaries => {
            let scheme = opts
                .scheme
                .clone()
                .ok_or_else(|| ImportError::Usage("boundaries need --scheme NAME".to_owned()))?;
            let text = String::from_utf8_lossy(bytes);
            let o = BoundaryFileOptions {
                scheme,
                code_field: opts.code_field.clone(),
                name_field: opts.name_field.clone(),
            };
            let parsed = parse_boundaries_all(&text, name, &o);
            summary.read = parsed.read;
            summary.rejections = parsed.rejections;
            batch.boundaries = parsed.records;
        }
    }
    Ok(batch)
}

/// A police street file: each row becomes the store's record as it is parsed, with its LSOA
/// vintage and whether it lies outside the four authorities.
fn police_street(
    bytes: &[u8],
    src: &SourceFile,
    opts: &ImportOptions,
    summary: &mut FileSummary,
    batch: &mut ImportBatch,
) {
    let mut vintages = FileVintage::default();
    // One shared string per vintage, indexed by discriminant.
    let vintage_codes = LsoaVintage::ALL.map(|v| std::sync::Arc::<str>::from(v.code()));
    // Each row becomes the store's record as it is parsed (no second list of rows).
    let parsed = parse_street_into(
        bytes,
        src,
        |r, line| {
            let vintage = opts
                .lsoa_codes
                .as_ref()
                .map_or(LsoaVintage::Unknown, |sets| {
                    sets.classify(r.lsoa_code.as_deref(), r.lsoa_name.as_deref())
                });
            vintages.add(vintage);
            let inside = r
                .lsoa_name
                .as_deref()
                .is_some_and(|n| AREA_LSOA_PREFIXES.iter().any(|p| n.starts_with(p)));
            let outside_row = r.incident.location.is_some() && !inside;
            let attributes = SourceAttributes {
                source_ref: r.crime_id,
                area_code: r.lsoa_code,
                location: r.location_text,
                category_raw: Some(r.crime_type_raw),
                outcome_raw: r.last_outcome,
                area_vintage: Some(std::sync::Arc::clone(&vintage_codes[vintage as usize])),
            };
            ImportedIncident {
                incident: r.incident,
                line,
                attributes,
                outside_area: outside_row,
            }
        },
        |record, id| record.incident.id = id,
    );
    summary.read = parsed.read;
    summary.rejections = parsed.rejections;
    batch.incidents = parsed.records;
    summary.lsoa_vintage = Some(LsoaSummary {
        vintage: vintages.decide(),
        rows: vintages,
    });
}

/// People and links go through [`Store::write_checked`], so the safeguards data rules (S1, S2,
/// S4, S18) are checked on the state the store would hold after the write; each violation
/// becomes a rejection on its record's line (the field named when the rule is about one, else
/// the rule's code). Review periods are counted from today. A changed re-import of a stored
/// person or link is an amendment, counted as stored and listed in `amended`.
fn import_people_or_links(
    store: &mut dyn Store,
    kind: ImportKind,
    path: &Path,
    bytes: &[u8],
    src: &SourceFile,
    opts: &ImportOptions,
    mut summary: FileSummary,
) -> Result<FileSummary, ImportError> {
    use crate::domain::Dataset;
    let mut data = Dataset::default();
    // Where each record came from: `person:P…` / `link:42` -> (file, line).
    let mut lines: std::collections::BTreeMap<String, (String, u64)> =
        std::collections::BTreeMap::new();
    if kind == ImportKind::People {
        let parsed = parse_people(bytes, src, format_for(path));
        summary.read = parsed.read;
        summary.rejections = parsed.rejections;
        for (p, n) in parsed.records.iter().zip(&parsed.lines) {
            lines
                .entry(format!("person:{}", p.id))
                .or_insert_with(|| (src.name.clone(), *n));
        }
        data.people = parsed.records;
        if let Some(links_path) = &opts.links {
            let links_name = links_path.display().to_string();
            let links_bytes = std::fs::read(links_path).map_err(|source| ImportError::Read {
                path: links_name.clone(),
                source,
            })?;
            let links_src = SourceFile {
                name: links_name.clone(),
                sha256: sha256_hex(&links_bytes),
                ..src.clone()
            };
            summary.links_file = Some((links_name, links_src.sha256.clone()));
            add_links(
                &mut data,
                &mut summary,
                &mut lines,
                &links_bytes,
                &links_src,
                links_path,
            );
        }
    } else {
        add_links(&mut data, &mut summary, &mut lines, bytes, src, path);
    }
    for r in &summary.rejections {
        summary
            .refusal_codes
            .insert(format!("ROW_REJECTED:{}", r.field));
    }
    let today = opts.today;
    // Rules first, so violations are reported like any rejected row.
    let violations = store
        .check_rules(&data, today)
        .map_err(|source| ImportError::Store {
            path: summary.file.clone(),
            store: store.location(),
            read: summary.read,
            source: Box::new(source),
        })?;
    let bad = reject_violations(&mut summary, &lines, &violations);
    summary.invalid = summary.rejections.len() as u64;
    let valid = summary.read - summary.invalid.min(summary.read);
    if summary.invalid > 0 && !opts.allow_partial {
        summary.outcome = ImportOutcome::Refused;
        summary.rejected = summary.read;
        summary.refused_subjects = subjects_of(&data, |_| true);
        return Ok(summary);
    }
    summary.refused_subjects = subjects_of(&data, |record| bad.contains(record));
    data.people
        .retain(|p| !bad.contains(&format!("person:{}", p.id)));
    data.links
        .retain(|l| !bad.contains(&format!("link:{}", l.id)));
    summary.subjects = subjects_of(&data, |_| true);
    summary.rejected = summary.invalid.min(summary.read);
    if opts.dry_run {
        summary.outcome = ImportOutcome::DryRun;
        summary.stored = valid;
        return Ok(summary);
    }
    // Dropping refused records can break a rule for what is left (a safeguarding link refused
    // for its review date): the write checks again and refuses the whole batch if so.
    let written = store
        .write_checked(&data, today)
        .map_err(|source| ImportError::Store {
            path: summary.file.clone(),
            store: store.location(),
            read: summary.read,
            source: Box::new(source),
        })?;
    summary.stored = written.counts.people + written.counts.links + written.amended.len() as u64;
    summary.duplicates = valid - summary.stored.min(valid);
    summary.amended = written.amended;
    summary.outcome = ImportOutcome::Stored;
    Ok(summary)
}

/// Each rule violation as a rejection on its record's line (the field named when the rule is
/// about one, else the rule's code); returns the records refused.
fn reject_violations(
    summary: &mut FileSummary,
    lines: &std::collections::BTreeMap<String, (String, u64)>,
    violations: &[crate::safeguards::rules::RuleViolation],
) -> std::collections::BTreeSet<String> {
    let mut bad = std::collections::BTreeSet::new();
    for v in violations {
        let (file, line) = lines
            .get(&v.record)
            .cloned()
            .unwrap_or_else(|| (summary.file.clone(), 0));
        summary.rejections.push(Rejection {
            file,
            line,
            field: v.field.unwrap_or(v.code).to_owned(),
            reason: if v.field.is_some() {
                format!("{}: {}", v.code, v.message)
            } else {
                v.message.clone()
            },
        });
        summary.refusal_codes.insert(v.code.to_owned());
        bad.insert(v.record.clone());
    }
    bad
}

/// The sorted pseudonymous refs of the people and of the links' `from` in `data` whose record
/// (`person:P…` / `link:42`) passes `keep`.
fn subjects_of(data: &crate::domain::Dataset, keep: impl Fn(&String) -> bool) -> Vec<String> {
    let mut out: Vec<String> = data
        .people
        .iter()
        .filter(|p| keep(&format!("person:{}", p.id)))
        .map(|p| p.id.as_str().to_owned())
        .chain(
            data.links
                .iter()
                .filter(|l| keep(&format!("link:{}", l.id)))
                .map(|l| l.from.as_str().to_owned()),
        )
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Parses a links file into `data`, recording each link's file and line.
fn add_links(
    data: &mut crate::domain::Dataset,
    summary: &mut FileSummary,
    lines: &mut std::collections::BTreeMap<String, (String, u64)>,
    bytes: &[u8],
    src: &SourceFile,
    path: &Path,
) {
    let parsed = parse_links(bytes, src, format_for(path));
    summary.read += parsed.read;
    summary.rejections.extend(parsed.rejections);
    for (l, n) in parsed.records.iter().zip(&parsed.lines) {
        lines
            .entry(format!("link:{}", l.id))
            .or_insert_with(|| (src.name.clone(), *n));
    }
    data.links.extend(parsed.records);
}

/// Imports files of one kind with one set of options, writing the audit records of people and
/// links files (S16) as each file finishes: the collection (allowed, refused) and every
/// amendment, or the denied collection of a file that failed outright. Every caller gets the
/// same records; the CLI only prints.
pub struct Importer<'a> {
    store: &'a mut dyn Store,
    kind: ImportKind,
    opts: &'a ImportOptions,
    audit: Option<&'a crate::safeguards::audit::AuditLog>,
}

impl<'a> Importer<'a> {
    /// An importer of `kind` files into `store`; `audit` receives the records of people and
    /// links files (`None` writes none: dry runs of tests and benches).
    pub fn new(
        store: &'a mut dyn Store,
        kind: ImportKind,
        opts: &'a ImportOptions,
        audit: Option<&'a crate::safeguards::audit::AuditLog>,
    ) -> Self {
        Self {
            store,
            kind,
            opts,
            audit,
        }
    }

    /// Imports one file ([`import_file`]) and writes its audit records.
    ///
    /// # Errors
    ///
    /// The [`ImportError`] of [`import_file`] (its denied collection audited first), or
    /// [`ImportError::Audit`] when an audit record could not be written, carrying what the
    /// file came to.
    pub fn file(&mut self, path: &Path) -> Result<FileSummary, ImportError> {
        let result = import_file(self.store, self.kind, path, self.opts);
        let Some(log) = self.audit else {
            return result;
        };
        let audit_error = |summary, source| ImportError::Audit {
            path: path.display().to_string(),
            summary,
            source,
        };
        match result {
            Ok(summary) => {
                for event in audit_events(self.kind, &summary, self.opts) {
                    if let Err(source) = log.append(event) {
                        return Err(audit_error(Some(Box::new(summary)), source));
                    }
                }
                Ok(summary)
            }
            Err(error) => {
                if let Some(event) = failed_audit_event(self.kind, path, self.opts, &error) {
                    log.append(event)
                        .map_err(|source| audit_error(None, source))?;
                }
                Err(error)
            }
        }
    }
}

/// The audit records of one people or links file (S16; issue 12 points 3 and 6): a
/// `collection`/`allow` record when records were stored, a `collection`/`deny` record when rows
/// were refused (`deny_reason` the comma-separated refusal codes, `record_count` the rows
/// refused), and one `alteration` record per amended person or link (the names of the changed
/// fields, never their values). Records hold pseudonymous ids, codes, counts and the file's
/// name and hash, never other field values. Dry runs and other kinds give none.
pub fn audit_events(
    kind: ImportKind,
    f: &FileSummary,
    opts: &ImportOptions,
) -> Vec<crate::safeguards::audit::AuditEvent> {
    use crate::safeguards::audit::{AuditEvent, AuditEventType, Decision};
    if !kind.is_person_level() || f.outcome == ImportOutcome::DryRun {
        return Vec::new();
    }
    let mut query = json!({
        "kind": kind.name(), "file": f.file, "file_sha256": f.sha256,
        "agency": opts.agency, "isa_ref": opts.isa_ref,
    });
    if let Some((name, sha256)) = &f.links_file {
        query["links_file"] = json!(name);
        query["links_file_sha256"] = json!(sha256);
    }
    let event = |event_type, decision, subjects: &[String], count: u64| {
        let mut e = AuditEvent::new(event_type, "importer", decision);
        e.client = Some("cli".to_owned());
        e.subject_ids = subjects.to_vec();
        e.record_count = count;
        e.query = query.clone();
        crate::safeguards::policy::POLICY_VERSION.clone_into(&mut e.policy_version);
        e
    };
    let mut out = Vec::new();
    if f.outcome == ImportOutcome::Stored && f.stored > 0 {
        out.push(event(
            AuditEventType::Collection,
            Decision::Allow,
            &f.subjects,
            f.stored,
        ));
    }
    if f.rejected > 0 {
        let mut e = event(
            AuditEventType::Collection,
            Decision::Deny,
            &f.refused_subjects,
            f.rejected,
        );
        let codes: Vec<&str> = f.refusal_codes.iter().map(String::as_str).collect();
        e.deny_reason = Some(codes.join(","));
        out.push(e);
    }
    for a in &f.amended {
        let mut e = event(
            AuditEventType::Alteration,
            Decision::Allow,
            &[a.subject.as_str().to_owned()],
            1,
        );
        e.record_id = Some(a.record.clone());
        e.query["fields_changed"] = json!(a.fields);
        out.push(e);
    }
    out
}

/// The audit record of a people or links import that failed outright (unreadable file, store
/// error, no sharing agreement): `collection`/`deny` with `deny_reason` `IMPORT_FAILED` (or
/// `NO_SHARING_AGREEMENT`) and the file name only.
pub fn failed_audit_event(
    kind: ImportKind,
    path: &Path,
    opts: &ImportOptions,
    error: &ImportError,
) -> Option<crate::safeguards::audit::AuditEvent> {
    use crate::safeguards::audit::{AuditEvent, AuditEventType, Decision};
    if !kind.is_person_level() || opts.dry_run {
        return None;
    }
    let mut e = AuditEvent::new(AuditEventType::Collection, "importer", Decision::Deny);
    e.client = Some("cli".to_owned());
    e.deny_reason = Some(
        match error {
            ImportError::NoSharingAgreement(_) => "NO_SHARING_AGREEMENT",
            _ => "IMPORT_FAILED",
        }
        .to_owned(),
    );
    e.query = json!({"kind": kind.name(), "file": path.display().to_string(), "agency": opts.agency, "isa_ref": opts.isa_ref});
    crate::safeguards::policy::POLICY_VERSION.clone_into(&mut e.policy_version);
    Some(e)
}

#[cfg(test)]
#[path = "import_tests.rs"]
mod tests;
