//! Helpers shared by the fuzz targets: a fixed [`SourceFile`], the invariants every parser
//! promises about its [`Parsed`] result, and a scratch directory for the GTFS targets (whose
//! entry point takes a path, not bytes).

use std::path::PathBuf;
use std::sync::OnceLock;

use saferplaces::domain::{Agency, IsaRef};
use saferplaces::ingest::agency::AgencyFormat;
use saferplaces::ingest::report::{Parsed, SourceFile};

/// The source every target parses under (the shape the unit tests use).
pub fn source(name: &str) -> SourceFile {
    SourceFile {
        name: name.to_owned(),
        sha256: "0".repeat(64),
        agency: Agency::new("fuzz-agency").expect("valid agency slug"),
        isa_ref: Some(IsaRef::new("ISA-FUZZ-1").expect("valid ISA ref")),
        progress: saferplaces::ingest::report::Progress::default(),
    }
}

/// The documented invariants of a parse result (report.rs, issue 4 `R = S + D + J` at the
/// parser level): `lines` is parallel to `records`, and every row read is either a record or
/// a rejection.
pub fn check<T>(p: &Parsed<T>) {
    assert_eq!(
        p.records.len(),
        p.lines.len(),
        "lines must be parallel to records"
    );
    assert_eq!(
        p.read,
        (p.records.len() + p.rejections.len()) as u64,
        "every row read must be a record or a rejection"
    );
}

/// The agency format chosen by the first input byte (even: CSV, odd: GeoJSON) and the rest.
pub fn agency_input(data: &[u8]) -> Option<(AgencyFormat, &[u8])> {
    let (&first, rest) = data.split_first()?;
    let format = if first & 1 == 0 {
        AgencyFormat::Csv
    } else {
        AgencyFormat::GeoJson
    };
    Some((format, rest))
}

/// A per-process scratch directory, on tmpfs when there is one (the GTFS targets write their
/// input there every run). Removed by nobody: it lives as long as the fuzzing session and
/// `/dev/shm` is cleared on reboot.
pub fn scratch_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("saferplaces-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        dir
    })
}
