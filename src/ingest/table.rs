//! The CSV table reader shared by every CSV importer (formats.md §0): header by name (any
//! column order, ASCII case ignored, unknown columns ignored), a UTF-8 BOM stripped, CRLF and
//! LF, a quoting-aware reader, empty fields as NULL, a missing required column rejecting every
//! row, short rows rejected naming the first missing column, and physical line numbers in every
//! rejection. Parsers describe their columns and turn one [`Row`] into a record.

use csv::ByteRecord;

use crate::domain::LonLat;

use super::report::{PROGRESS_EVERY_ROWS, Parsed, ProgressPoint, Rejection, SourceFile};

pub(super) const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
pub(super) const COLUMN_MISSING: &str = "column missing from the header";

/// Why a row was refused: the index of the column at fault (into the parser's column list)
/// and the reason.
pub(super) struct Fault {
    column: usize,
    reason: String,
}

impl Fault {
    pub(super) fn new(column: usize, reason: impl Into<String>) -> Self {
        Self {
            column,
            reason: reason.into(),
        }
    }
}

/// A data row with the parser's columns resolved to record positions.
pub(super) struct Row<'r> {
    record: &'r ByteRecord,
    columns: &'r [Option<usize>],
}

impl<'r> Row<'r> {
    /// A row of `record` with the header's column positions.
    pub(super) fn new(record: &'r ByteRecord, columns: &'r [Option<usize>]) -> Self {
        Self { record, columns }
    }

    /// The header's column positions (index = the parser's column number).
    pub(super) fn columns(&self) -> &'r [Option<usize>] {
        self.columns
    }

    /// The byte offset of the record in the parsed input (after any BOM).
    pub(super) fn start_byte(&self) -> u64 {
        self.record.position().map_or(0, csv::Position::byte)
    }

    /// The trimmed bytes of column `c`; empty when the field is empty or the column absent.
    pub(super) fn raw(&self, c: usize) -> &'r [u8] {
        self.columns
            .get(c)
            .copied()
            .flatten()
            .and_then(|i| self.record.get(i))
            .map_or(&[][..], <[u8]>::trim_ascii)
    }

    /// The trimmed bytes of column `c`, `None` when empty (empty = NULL).
    pub(super) fn bytes(&self, c: usize) -> Option<&'r [u8]> {
        let raw = self.raw(c);
        (!raw.is_empty()).then_some(raw)
    }

    /// Column `c` as text; invalid UTF-8 is a fault.
    pub(super) fn text(&self, c: usize) -> Result<Option<&'r str>, Fault> {
        self.bytes(c)
            .map(|b| std::str::from_utf8(b).map_err(|_| Fault::new(c, "not valid UTF-8")))
            .transpose()
    }

    /// Column `c` as an owned string.
    pub(super) fn string(&self, c: usize) -> Result<Option<String>, Fault> {
        Ok(self.text(c)?.map(str::to_owned))
    }

    /// Column `c` as a required label.
    pub(super) fn required(&self, c: usize) -> Result<&'r str, Fault> {
        self.text(c)?.ok_or_else(|| Fault::new(c, "empty"))
    }

    /// Column `c` as `True` / `False` / NULL.
    pub(super) fn boolean(&self, c: usize) -> Result<Option<bool>, Fault> {
        match self.bytes(c) {
            None => Ok(None),
            Some(b) if b.eq_ignore_ascii_case(b"true") => Ok(Some(true)),
            Some(b) if b.eq_ignore_ascii_case(b"false") => Ok(Some(false)),
            Some(b) => Err(Fault::new(c, format!("{} is not True or False", show(b)))),
        }
    }

    /// A longitude/latitude pair: both empty is `None`; half-empty, non-numeric or off the
    /// globe is a fault naming the column at fault.
    pub(super) fn lon_lat(&self, lon_c: usize, lat_c: usize) -> Result<Option<LonLat>, Fault> {
        match (self.bytes(lon_c), self.bytes(lat_c)) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(Fault::new(lon_c, "empty while the latitude is set")),
            (Some(_), None) => Err(Fault::new(lat_c, "empty while the longitude is set")),
            (Some(lon), Some(lat)) => {
                let lon = number(lon, lon_c)?;
                let lat = number(lat, lat_c)?;
                LonLat::new(lon, lat).map(Some).map_err(|e| {
                    let c = if e.field() == "latitude" {
                        lat_c
                    } else {
                        lon_c
                    };
                    Fault::new(c, e.to_string())
                })
            }
        }
    }
}

/// The header position of each of `names` (trimmed, ASCII case ignored), `None` when absent.
fn resolve_columns(header: &ByteRecord, names: &[&'static str]) -> Vec<Option<usize>> {
    names
        .iter()
        .map(|name| {
            header
                .iter()
                .position(|h| h.trim_ascii().eq_ignore_ascii_case(name.as_bytes()))
        })
        .collect()
}

/// Reads the header, resolves `names` once, and hands each data row to `parse_row` with its
/// line number. Handles BOM, row-width and missing-column rejections for every format here.
pub(super) fn parse_table<T>(
    bytes: &[u8],
    src: &SourceFile,
    names: &[&'static str],
    required: &[usize],
    mut parse_row: impl FnMut(&Row<'_>, u64) -> Result<T, Fault>,
) -> Parsed<T> {
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut parsed = Parsed::default();
    let reject = |line: u64, field: String, reason: String| Rejection {
        file: src.name.clone(),
        line,
        field,
        reason,
    };

    let mut header = ByteRecord::new();
    match reader.read_byte_record(&mut header) {
        Ok(true) => {}
        Ok(false) => return parsed,
        Err(e) => {
            // Unreachable for in-memory input (the reader only fails on I/O), kept total.
            let line = e.position().map_or(1, csv::Position::line);
            parsed
                .rejections
                .push(reject(line, "(header)".to_owned(), e.to_string()));
            return parsed;
        }
    }
    let columns = resolve_columns(&header, names);
    let missing = required
        .iter()
        .find(|&&c| columns.get(c).copied().flatten().is_none())
        .and_then(|&c| names.get(c).copied());
    let width = header.len();
    let header_name = |i: usize| {
        let raw = header.get(i).unwrap_or_default().trim_ascii();
        String::from_utf8_lossy(raw).into_owned()
    };

    // Street rows run to about 230 bytes; over-reserving a little is cheaper than regrowing.
    let expected_rows = bytes.len() / 192;
    parsed.records.reserve(expected_rows);
    parsed.lines.reserve(expected_rows);
    let mut record = ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = record_line(bytes, e.position());
                parsed
                    .rejections
                    .push(reject(line, "(row)".to_owned(), e.to_string()));
                break;
            }
        }
        parsed.read += 1;
        if parsed.read % PROGRESS_EVERY_ROWS == 0 {
            src.progress.report(ProgressPoint {
                phase: "parse",
                rows: parsed.read,
                bytes: record.position().map_or(0, csv::Position::byte),
                total_bytes: bytes.len() as u64,
            });
        }
        let line = record_line(bytes, record.position());
        let outcome = if let Some(name) = missing {
            Err(((*name).to_owned(), COLUMN_MISSING.to_owned()))
        } else if record.len() < width {
            Err((
                header_name(record.len()),
                format!("row has {} fields but the header has {width}", record.len()),
            ))
        } else if record.len() > width {
            Err((
                header_name(width.saturating_sub(1)),
                format!(
                    "row has {} fields but the header has {width} (an unquoted comma?)",
                    record.len()
                ),
            ))
        } else {
            let row = Row {
                record: &record,
                columns: &columns,
            };
            parse_row(&row, line).map_err(|f| {
                let name = names.get(f.column).copied().unwrap_or("(row)");
                (name.to_owned(), f.reason)
            })
        };
        match outcome {
            Ok(value) => {
                parsed.records.push(value);
                parsed.lines.push(line);
            }
            Err((field, reason)) => parsed.rejections.push(reject(line, field, reason)),
        }
    }
    parsed
}

/// The 1-based physical line on which a data record starts.
///
/// `csv::Position::line` counts the `\n` bytes consumed before the record. After a CRLF row
/// the reader stops at the `\r`, so the record "starts" on the `\n` that ends the previous
/// line (and before any blank lines it skips): count those line feeds too, or every line in a
/// CRLF file would be one short. Bare-CR files have no `\n` at all; their rows report line 2,
/// the first line a data row can be on.
pub(super) fn record_line(bytes: &[u8], position: Option<&csv::Position>) -> u64 {
    let Some(position) = position else {
        return 2;
    };
    let start = usize::try_from(position.byte()).unwrap_or(usize::MAX);
    let skipped_feeds = bytes
        .get(start..)
        .unwrap_or_default()
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .filter(|&&b| b == b'\n')
        .count();
    (position.line() + skipped_feeds as u64).max(2)
}

/// An all-digit ASCII number (at most 9 digits).
pub(super) fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0')))
}

/// A coordinate from bytes; non-numbers are a fault on `column`.
pub(super) fn number(b: &[u8], column: usize) -> Result<f64, Fault> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or_else(|| Fault::new(column, format!("{} is not a number", show(b))))
}

/// A field value for a rejection message: quoted, lossy UTF-8, at most 60 characters.
pub(super) fn show(b: &[u8]) -> String {
    let text = String::from_utf8_lossy(b);
    let cut: String = text.chars().take(60).collect();
    if cut.len() < text.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}
