//! `saferplaces import <kind> FILES`: the options, progress on stderr, one summary per file
//! and the `--json` total on stdout. Parsing, storing and the audit records of people and
//! links are the library's ([`crate::import::Importer`]).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use super::common::{DataDirArg, open_audit, open_store, out, settings, sign_head};
use crate::config::Settings;
use crate::import::{
    FileSummary, ImportError, ImportKind, ImportOptions, ImportOutcome, Importer, SharingCheck,
};
use crate::ingest::lsoa::LsoaCodeSets;
use crate::ingest::report::{Progress, ProgressPoint};
use crate::safeguards::sharing::Agreements;

// No doc comment: the `import` variant's is the help text.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// What the files are.
    #[arg(value_enum)]
    pub kind: ImportKind,
    /// The files.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub dir: DataDirArg,
    /// End with one JSON summary line.
    #[arg(long)]
    pub json: bool,
    /// Parse and account for every row, but store nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Store the valid rows of a file even when some are rejected.
    #[arg(long)]
    pub allow_partial: bool,
    /// Supplying agency, recorded on every row (provenance).
    #[arg(long, default_value = "data-police-uk")]
    pub agency: String,
    /// Information sharing agreement the files were received under.
    #[arg(long)]
    pub isa_ref: Option<String>,
    /// A links file imported in one batch with the people (people only): the rules are
    /// checked on both together, so a person arrives with the links they require.
    #[arg(long, value_name = "FILE")]
    pub links: Option<PathBuf>,
    /// Boundary scheme name (boundaries only), e.g. lsoa11, ward, msoa11.
    #[arg(long)]
    pub scheme: Option<String>,
    /// Property holding the boundary code (boundaries only; found by pattern otherwise).
    #[arg(long)]
    pub code_field: Option<String>,
    /// Property holding the boundary name (boundaries only; found by pattern otherwise).
    #[arg(long)]
    pub name_field: Option<String>,
}

/// `saferplaces import`: imports every file, printing progress and a summary per file;
/// fails when any file was refused or failed.
pub(crate) fn run(args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let s = settings(None, args.dir.data_dir.clone())?;
    crate::telemetry::init(s.log_format);
    let opts = options(&s, args)?;
    let mut store = open_store(&s)?;
    // People and links are person-level: their collection is audited (S16).
    let audit = if args.kind.is_person_level() {
        // Refused before the audit log is opened, so the message says read-only.
        store.writable("import people or links")?;
        Some(open_audit(&s)?)
    } else {
        None
    };
    let mut importer = Importer::new(&mut *store, args.kind, &opts, audit.as_ref());
    let mut run = RunTotals::default();
    for path in &args.paths {
        import_one(&mut importer, args.kind, path, &mut run)?;
    }
    if args.json {
        out(&serde_json::to_string(
            &run.json(args.paths.len(), opts.dry_run),
        )?)?;
    }
    if let Some(log) = &audit {
        sign_head(log)?;
    }
    Ok(run.exit_code())
}

/// The import options of `args`, with the review-date and agreement clock of the settings.
fn options(s: &Settings, args: &ImportArgs) -> anyhow::Result<ImportOptions> {
    let today = s.clock().today();
    Ok(ImportOptions {
        dry_run: args.dry_run,
        allow_partial: args.allow_partial,
        agency: args.agency.parse()?,
        isa_ref: args.isa_ref.as_ref().map(|r| r.parse()).transpose()?,
        scheme: args.scheme.as_ref().map(|r| r.parse()).transpose()?,
        code_field: args.code_field.clone(),
        name_field: args.name_field.clone(),
        progress: Progress::new(print_progress),
        lsoa_codes: lsoa_codes(&s.geodata_dir, args.kind)?,
        links: args.links.clone(),
        sharing: if args.kind.is_person_level() {
            Some(SharingCheck {
                agreements: Arc::new(Agreements::load(&s.sharing_agreements)?),
                controller: s.controller.clone(),
            })
        } else {
            None
        },
        today,
    })
}

/// What the files of one run came to, for the `--json` line and the exit status.
#[derive(Default)]
pub(super) struct RunTotals {
    total: FileSummary,
    vintages: Vec<serde_json::Value>,
    failed: bool,
    /// Rows read from files whose storing failed (counted in `read`, not stored).
    failed_rows: u64,
    /// Why files failed.
    errors: Vec<serde_json::Value>,
}

impl RunTotals {
    pub(super) fn add(&mut self, f: &FileSummary) {
        let t = &mut self.total;
        t.read += f.read;
        t.stored += f.stored;
        t.duplicates += f.duplicates;
        t.rejected += f.rejected;
        t.invalid += f.invalid;
        t.unlocated += f.unlocated;
        t.outside_area += f.outside_area;
        t.skipped += f.skipped;
        self.failed |= f.outcome.is_failure();
    }

    pub(super) fn json(&self, files: usize, dry_run: bool) -> serde_json::Value {
        let t = &self.total;
        serde_json::json!({
            "read": t.read, "stored": t.stored, "duplicates": t.duplicates,
            "rejected": t.rejected, "invalid": t.invalid, "unlocated": t.unlocated, "outside_area": t.outside_area, "skipped": t.skipped,
            "failed": self.failed_rows, "errors": self.errors,
            "files": files, "dry_run": dry_run, "ok": !self.failed,
            "lsoa_vintages": self.vintages,
        })
    }

    pub(super) fn exit_code(&self) -> ExitCode {
        if self.failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }
}

/// Imports one file through `importer` and prints what became of it.
fn import_one(
    importer: &mut Importer<'_>,
    kind: ImportKind,
    path: &std::path::Path,
    run: &mut RunTotals,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let _ = writeln!(
        std::io::stderr(),
        "importing {} as {} ...",
        path.display(),
        kind.name()
    );
    match importer.file(path) {
        Ok(f) => {
            print_file(&f, started, run)?;
            if f.outcome == ImportOutcome::Refused {
                out(&format!(
                    "  nothing from {} was stored; fix the rows above or use --allow-partial",
                    f.file
                ))?;
            }
            run.add(&f);
        }
        // The file's audit record could not be written: what was done is shown, then the
        // command stops (the collection must not go unrecorded).
        Err(ImportError::Audit {
            summary, source, ..
        }) => {
            if let Some(f) = summary {
                print_file(&f, started, run)?;
            }
            return Err(source.into());
        }
        Err(e) => {
            if let ImportError::Store { read, .. } = &e {
                run.total.read += read;
                run.failed_rows += read;
            }
            // The whole chain of causes: the store's operation, file and the OS's reason.
            let message = format!("{:#}", anyhow::Error::from(e));
            out(&format!("{}: failed — {message}", path.display()))?;
            run.errors
                .push(serde_json::json!({"file": path.display().to_string(), "error": message}));
            run.failed = true;
        }
    }
    Ok(())
}

/// A file's rejections (the first 20), its summary line and its LSOA vintage.
fn print_file(f: &FileSummary, started: Instant, run: &mut RunTotals) -> anyhow::Result<()> {
    let shown = 20;
    for r in f.rejections.iter().take(shown) {
        out(&format!("  rejected: {r}"))?;
    }
    if f.rejections.len() > shown {
        out(&format!(
            "  ... and {} more rejections",
            f.rejections.len() - shown
        ))?;
    }
    out(&format!(
        "{}: {} — read {}, stored {}, duplicates {}, rejected {} ({} invalid), unlocated {}, outside area {} ({:.2} s)",
        f.file,
        f.outcome,
        f.read,
        f.stored,
        f.duplicates,
        f.rejected,
        f.invalid,
        f.unlocated,
        f.outside_area,
        started.elapsed().as_secs_f64()
    ))?;
    if let Some(v) = f.lsoa_vintage {
        out(&format!(
            "  LSOA vintage {}: {} rows with a 2011 code (or an unchanged 2021 one), {} with a 2021-only code, {} with a 2011-only code, {} unknown (outside the four authorities or no code)",
            v.vintage,
            v.rows.in_2011 + v.rows.both,
            v.rows.only_2021,
            v.rows.only_2011,
            v.rows.unknown
        ))?;
        run.vintages
            .push(serde_json::json!({"file": f.file, "vintage": v}));
    }
    Ok(())
}

/// The LSOA code sets a police street import classifies its rows with.
fn lsoa_codes(
    geodata_dir: &std::path::Path,
    kind: ImportKind,
) -> anyhow::Result<Option<Arc<LsoaCodeSets>>> {
    if kind != ImportKind::PoliceStreet {
        return Ok(None);
    }
    let sets = LsoaCodeSets::load(geodata_dir)
        .with_context(|| format!("loading LSOA code lists from {}", geodata_dir.display()))?;
    Ok(Some(Arc::new(sets)))
}

/// One progress line on stderr (stdout stays the summary, and `--json`'s last line).
fn print_progress(p: ProgressPoint) {
    let line = match p.phase {
        "parse" => format!(
            "  ... {} rows read, {:.0} % of {:.1} MB",
            p.rows,
            100.0 * p.bytes as f64 / (p.total_bytes.max(1)) as f64,
            p.total_bytes as f64 / 1e6
        ),
        phase => format!("  ... {phase}: {} rows", p.rows),
    };
    let _ = writeln!(std::io::stderr(), "{line}");
}
