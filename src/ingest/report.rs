//! What a parser returns and what an import reports: every row read is stored, a duplicate, or
//! rejected with the file, line and field named (issue 4; `R = S + D + J`).

use serde::Serialize;

use crate::domain::{Agency, IsaRef};

/// One rejected row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// File name as given on the command line.
    pub file: String,
    /// 1-based line of the row (the header is line 1 in CSV files; feature number in GeoJSON).
    pub line: u64,
    /// The field at fault (header name or property).
    pub field: String,
    /// What is wrong, for the person fixing the file.
    pub reason: String,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: line {}, field {}: {}",
            self.file, self.line, self.field, self.reason
        )
    }
}

/// The file being parsed and where its rows come from (provenance, formats.md §0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// File name as given (used in rejections).
    pub name: String,
    /// Lower-case hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// The supplying agency.
    pub agency: Agency,
    /// The sharing agreement the file was received under, if any.
    pub isa_ref: Option<IsaRef>,
    /// Where a long parse reports how far it has got (silent by default).
    pub progress: Progress,
}

/// How many rows a parse reads between two progress reports.
pub const PROGRESS_EVERY_ROWS: u64 = 1 << 18;

/// How far an import has got: a phase, rows so far, and bytes consumed of the file's total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressPoint {
    /// `parse` or `store`.
    pub phase: &'static str,
    /// Rows read (parse) or about to be written (store).
    pub rows: u64,
    /// Bytes of the file consumed so far.
    pub bytes: u64,
    /// The file's size in bytes.
    pub total_bytes: u64,
}

/// A sink for [`ProgressPoint`]s: the CLI prints them, tests and libraries stay silent.
/// Two sinks always compare equal: progress is not part of a file's identity.
#[derive(Clone, Default)]
pub struct Progress(Option<std::sync::Arc<dyn Fn(ProgressPoint) + Send + Sync>>);

impl Progress {
    /// Reports to `sink`.
    pub fn new(sink: impl Fn(ProgressPoint) + Send + Sync + 'static) -> Self {
        Self(Some(std::sync::Arc::new(sink)))
    }

    /// Reports nowhere.
    pub fn silent() -> Self {
        Self(None)
    }

    /// Reports one point (nothing when silent).
    pub fn report(&self, point: ProgressPoint) {
        if let Some(sink) = &self.0 {
            sink(point);
        }
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(sink)"
        } else {
            "Progress(silent)"
        })
    }
}

impl PartialEq for Progress {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Progress {}

/// The result of parsing one file: records, how many rows were read, and the rejections.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<T> {
    /// Records parsed, in file order.
    pub records: Vec<T>,
    /// The 1-based line (or feature number) of each record, parallel to `records`.
    pub lines: Vec<u64>,
    /// Data rows read (not counting the header).
    pub read: u64,
    /// Rows refused, each naming file, line and field.
    pub rejections: Vec<Rejection>,
}

impl<T> Default for Parsed<T> {
    fn default() -> Self {
        Self {
            records: Vec::new(),
            lines: Vec::new(),
            read: 0,
            rejections: Vec::new(),
        }
    }
}

/// A stable 63-bit id from a namespace and the parts that identify a record, so that importing
/// the same row twice gives the same id (idempotent imports). SHA-256, first 8 bytes, top bit
/// cleared so the id fits an `SQLite` integer.
pub fn stable_id(namespace: &str, parts: &[&[u8]]) -> u64 {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(namespace.as_bytes());
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b) & 0x7FFF_FFFF_FFFF_FFFF
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_ids_depend_on_every_part_and_its_boundaries() {
        let a = stable_id("x", &[b"ab", b"c"]);
        assert_eq!(a, stable_id("x", &[b"ab", b"c"]));
        assert_ne!(a, stable_id("x", &[b"a", b"bc"]), "part boundaries count");
        assert_ne!(a, stable_id("y", &[b"ab", b"c"]), "namespaces count");
        assert!(a < 1 << 63);
    }
}
