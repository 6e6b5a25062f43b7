//! The served incident index saved next to the store, so a restart reads sorted columns
//! instead of decoding every stored incident and locating its H3 cell (issue 15, point 3:
//! start-up at 10M incidents halved).
//!
//! The file is a cache, never a source: the store stays the record, and a saved index is used
//! only when it provably describes the store's incidents up to a segment:
//!
//! - its header names the change-feed sequence number and incident segment it stands at, and
//!   the store's [`IncidentsFingerprint`] then; at start the feed must show no change to the
//!   incidents table since (segments are only ever added), and the fingerprint must match;
//! - a SHA-256 of everything before it ends the file, so a torn write or a flipped bit is
//!   refused as a whole;
//! - every index is checked before it is built ([`IncidentIndex::from_saved`]), so even a
//!   well-formed file with wrong columns cannot make a query read out of bounds.
//!
//! Anything else (absent, older format, mismatched, damaged) means a cold build from the store,
//! logged with the reason, and a new file written in the background. Segments added after the
//! saved one are read from the store and served as a run.
//!
//! Layout, little-endian: `SPINDEX1`, format version (u32), sequence number, segment cursor,
//! the five fingerprint figures (u64 each), the number of base pieces and of runs (u32 each);
//! per index: located incidents, unlocated incidents (u64), a day-range flag (u8) and its two
//! days (u16), an id width (u8: 4 or 8); then its columns in sorted order: ids, longitudes,
//! latitudes (f32 bits), flags (u8), res-10 cells (u64), category and day (u32); last the
//! SHA-256 (32 bytes).

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::incidents::{Columns, IdColumn};
use super::{IncidentIndex, IncidentLayer};
use crate::store::IncidentsFingerprint;

/// The file's name in the data directory.
pub const FILE_NAME: &str = "incidents.index";

const MAGIC: &[u8; 8] = b"SPINDEX1";
const FORMAT_VERSION: u32 = 1;
/// Values converted per read call.
const CHUNK: usize = 1 << 16;

/// Saving or loading a saved index failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PersistError {
    /// The file could not be read or written.
    #[error("{operation} {}: {source}", path.display())]
    Io {
        /// What was being done.
        operation: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's cause.
        source: io::Error,
    },
    /// The file is not a saved index this version can use.
    #[error("{}: {field}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// The part of the file at fault.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

/// Where a saved index stands in the store's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavedAt {
    /// The change feed's sequence number when the layer was served.
    pub seq: u64,
    /// The largest incident segment the layer holds.
    pub segment_cursor: u64,
    /// The store's incidents up to that segment.
    pub fingerprint: IncidentsFingerprint,
}

/// Writes `layer` to `path` (through a temporary file renamed into place, so a reader never
/// sees half a file). Run it off the async runtime: at 10M incidents it writes about 250 MB.
///
/// # Errors
/// [`PersistError::Io`] naming the operation, the file and the OS cause.
pub fn save(path: &Path, at: SavedAt, layer: &IncidentLayer) -> Result<(), PersistError> {
    let tmp = path.with_extension("index.partial");
    let io_err = |operation: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |source| PersistError::Io {
            operation,
            path: p,
            source,
        }
    };
    let file = File::create(&tmp).map_err(io_err("creating", &tmp))?;
    // Hashed below the buffer, so the hash sees large blocks.
    let mut out = BufWriter::with_capacity(
        1 << 20,
        HashingWriter {
            inner: file,
            hash: Sha256::new(),
        },
    );
    write_layer(&mut out, at, layer).map_err(io_err("writing", &tmp))?;
    let HashingWriter { mut inner, hash } = out
        .into_inner()
        .map_err(|e| io_err("writing", &tmp)(e.into_error()))?;
    inner
        .write_all(&hash.finalize())
        .map_err(io_err("writing", &tmp))?;
    inner.sync_all().map_err(io_err("syncing", &tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err("renaming into place", path))
}

/// Reads the layer saved at `path`: `Ok(None)` when there is no file.
///
/// # Errors
/// [`PersistError::Io`] when the file cannot be read; [`PersistError::Format`] when it is not
/// a complete, undamaged saved index of this format.
pub fn load(path: &Path) -> Result<Option<(SavedAt, IncidentLayer)>, PersistError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(PersistError::Io {
                operation: "opening",
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let len = file
        .metadata()
        .map_err(|source| PersistError::Io {
            operation: "reading the length of",
            path: path.to_path_buf(),
            source,
        })?
        .len();
    let mut input = Input {
        inner: BufReader::with_capacity(1 << 20, file),
        hash: Sha256::new(),
        path,
        len,
    };
    let (at, base, runs) = read_layer(&mut input)?;
    let expected = input.hash.clone().finalize();
    let mut stored = [0u8; 32];
    input.raw(&mut stored, "checksum")?;
    if stored[..] != expected[..] {
        return Err(input.format("checksum", "the file does not match its SHA-256"));
    }
    let mut rest = [0u8; 1];
    if input.inner.read(&mut rest).map_err(|e| input.io(e))? != 0 {
        return Err(input.format("checksum", "bytes after the checksum"));
    }
    let layer = IncidentLayer::from_pieces(base, runs)
        .ok_or_else(|| input.format("pieces", "not the pieces of one layer"))?;
    Ok(Some((at, layer)))
}

fn write_layer(out: &mut impl Write, at: SavedAt, layer: &IncidentLayer) -> io::Result<()> {
    let (base, runs) = layer.pieces();
    out.write_all(MAGIC)?;
    out.write_all(&FORMAT_VERSION.to_le_bytes())?;
    let f = at.fingerprint;
    for v in [
        at.seq,
        at.segment_cursor,
        f.table_rows,
        f.table_max_id,
        f.segments,
        f.segment_rows,
        f.segment_id_sum,
    ] {
        out.write_all(&v.to_le_bytes())?;
    }
    for n in [base.len(), runs.len()] {
        out.write_all(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes())?;
    }
    for index in base.iter().chain(&runs) {
        write_index(out, index)?;
    }
    Ok(())
}

fn write_index(out: &mut impl Write, index: &IncidentIndex) -> io::Result<()> {
    let (lon, lat, flags, narrow) = index.point_columns();
    out.write_all(&(index.len() as u64).to_le_bytes())?;
    out.write_all(&(index.unlocated() as u64).to_le_bytes())?;
    let range = index.day_range();
    out.write_all(&[u8::from(range.is_some())])?;
    let (lo, hi) = range.map_or((0, 0), |(lo, hi)| {
        (lo.days_since_epoch(), hi.days_since_epoch())
    });
    out.write_all(&lo.to_le_bytes())?;
    out.write_all(&hi.to_le_bytes())?;
    out.write_all(&[if narrow { 4 } else { 8 }])?;
    // Narrow ids were checked to fit when the index was built.
    for p in index.positions() {
        if narrow {
            out.write_all(&u32::try_from(p.id).unwrap_or(u32::MAX).to_le_bytes())?;
        } else {
            out.write_all(&p.id.to_le_bytes())?;
        }
    }
    for v in lon.iter().chain(lat) {
        out.write_all(&v.to_bits().to_le_bytes())?;
    }
    out.write_all(flags)?;
    for p in index.positions() {
        out.write_all(&p.cell10.to_le_bytes())?;
    }
    for p in index.positions() {
        out.write_all(&p.catday.to_le_bytes())?;
    }
    Ok(())
}

type Pieces = (SavedAt, Vec<IncidentIndex>, Vec<IncidentIndex>);

fn read_layer(input: &mut Input<'_>) -> Result<Pieces, PersistError> {
    let mut magic = [0u8; 8];
    input.bytes(&mut magic, "magic")?;
    if &magic != MAGIC {
        return Err(input.format("magic", "not a saved saferplaces index"));
    }
    let version = input.u32("format version")?;
    if version != FORMAT_VERSION {
        return Err(input.format(
            "format version",
            format!("{version}, this build reads {FORMAT_VERSION}"),
        ));
    }
    let mut header = [0u64; 7];
    for v in &mut header {
        *v = input.u64("header")?;
    }
    let [
        seq,
        segment_cursor,
        table_rows,
        table_max_id,
        segments,
        segment_rows,
        segment_id_sum,
    ] = header;
    let at = SavedAt {
        seq,
        segment_cursor,
        fingerprint: IncidentsFingerprint {
            table_rows,
            table_max_id,
            segments,
            segment_rows,
            segment_id_sum,
        },
    };
    let (n_base, n_runs) = (input.u32("pieces")?, input.u32("pieces")?);
    if n_base + n_runs > 1024 {
        return Err(input.format("pieces", format!("{n_base} + {n_runs} indexes")));
    }
    let mut base = Vec::new();
    let mut runs = Vec::new();
    for k in 0..n_base + n_runs {
        let index = read_index(input)?;
        if k < n_base {
            base.push(index);
        } else {
            runs.push(index);
        }
    }
    Ok((at, base, runs))
}

fn read_index(input: &mut Input<'_>) -> Result<IncidentIndex, PersistError> {
    let n = input.u64("incidents")?;
    let unlocated = input.u64("unlocated")?;
    // An index holds at most u32::MAX incidents; refusing larger counts here also bounds what
    // a damaged header can make us allocate before the checksum is reached.
    let n = usize::try_from(n)
        .ok()
        .filter(|&n| u32::try_from(n).is_ok())
        .ok_or_else(|| input.format("incidents", format!("{n} incidents")))?;
    let unlocated = usize::try_from(unlocated)
        .map_err(|_| input.format("unlocated", format!("{unlocated}")))?;
    let mut flag = [0u8; 1];
    input.bytes(&mut flag, "day range")?;
    let (lo, hi) = (input.u16("day range")?, input.u16("day range")?);
    let day_range = (flag[0] == 1).then_some((lo, hi));
    let mut width = [0u8; 1];
    input.bytes(&mut width, "id width")?;
    // Every incident takes its id plus 21 bytes: a count the file cannot hold is refused
    // before anything is allocated for it.
    let per_incident = u64::from(width[0]) + 21;
    if (n as u64).saturating_mul(per_incident) > input.len {
        return Err(input.format(
            "incidents",
            format!("{n} incidents in a {} byte file", input.len),
        ));
    }
    let ids = match width[0] {
        4 => IdColumn::Narrow(input.column(n, "ids", le_u32)?),
        8 => IdColumn::Wide(input.column(n, "ids", le_u64)?),
        w => return Err(input.format("id width", format!("{w}"))),
    };
    let cols = Columns {
        ids,
        lon: input.column(n, "longitudes", |b| f32::from_bits(le_u32(b)))?,
        lat: input.column(n, "latitudes", |b| f32::from_bits(le_u32(b)))?,
        cat_flags: input.column(n, "flags", |b| b[0])?,
        cells10: input.column(n, "cells", le_u64)?,
        catday: input.column(n, "categories and days", le_u32)?,
    };
    IncidentIndex::from_saved(cols, unlocated, day_range)
        .map_err(|message| input.format("columns", message))
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn le_u64(b: &[u8]) -> u64 {
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// A writer that hashes what passes through it.
struct HashingWriter<W> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The file being read, hashed as it goes.
struct Input<'a> {
    inner: BufReader<File>,
    hash: Sha256,
    path: &'a Path,
    /// The file's length in bytes.
    len: u64,
}

impl Input<'_> {
    fn io(&self, source: io::Error) -> PersistError {
        PersistError::Io {
            operation: "reading",
            path: self.path.to_path_buf(),
            source,
        }
    }

    fn format(&self, field: &'static str, message: impl Into<String>) -> PersistError {
        PersistError::Format {
            path: self.path.to_path_buf(),
            field,
            message: message.into(),
        }
    }

    /// Reads exactly `buf` without hashing it; a short file is a format error.
    fn raw(&mut self, buf: &mut [u8], field: &'static str) -> Result<(), PersistError> {
        self.inner.read_exact(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                self.format(field, "the file ends early")
            } else {
                self.io(e)
            }
        })
    }

    fn bytes(&mut self, buf: &mut [u8], field: &'static str) -> Result<(), PersistError> {
        self.raw(buf, field)?;
        self.hash.update(&*buf);
        Ok(())
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, PersistError> {
        let mut b = [0u8; 2];
        self.bytes(&mut b, field)?;
        Ok(u16::from_le_bytes(b))
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, PersistError> {
        let mut b = [0u8; 4];
        self.bytes(&mut b, field)?;
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, PersistError> {
        let mut b = [0u8; 8];
        self.bytes(&mut b, field)?;
        Ok(u64::from_le_bytes(b))
    }

    /// `n` values of `size_of::<T>()` bytes each, decoded by `decode`, read in chunks (the
    /// caller has checked that the file can hold them).
    fn column<T>(
        &mut self,
        n: usize,
        field: &'static str,
        decode: impl Fn(&[u8]) -> T,
    ) -> Result<Vec<T>, PersistError> {
        let size = size_of::<T>();
        let mut out = Vec::with_capacity(n);
        let mut buf = vec![0u8; CHUNK * size];
        let mut left = n;
        while left > 0 {
            let take = left.min(CHUNK);
            let bytes = &mut buf[..take * size];
            self.bytes(bytes, field)?;
            out.extend(bytes.chunks_exact(size).map(&decode));
            left -= take;
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "persist_tests.rs"]
mod tests;
