//! Columnar segments of imported incidents: how the embedded store keeps a million-row import
//! in about a tenth of a second instead of two B-tree inserts per row (issue 4, point 7).
//!
//! An import's new incidents (sorted by id, duplicates removed) are cut into segments of at
//! most [`SEGMENT_ROWS`] rows. Each segment is one row of `incident_segments` with two blobs:
//!
//! - `ids`: the incident ids, `u64` little-endian, strictly ascending. Dedup on the next import
//!   reads only these.
//! - `data`: every other column, each stored contiguously:
//!
//! ```text
//! magic "SPIS", version u8 = 2, rows u32
//! line            u32 × rows          (1-based line in the source file)
//! day             u16 × rows          (days since 1970-01-01)
//! minute          u16 × rows          (0xFFFF: no time of day)
//! coordinates     u8 kind, then
//!   kind 0: lon, lat  f64 × rows each (NaN in both: no location)
//!   kind 1: lon, lat  i32 × rows each, millionths of a degree (i32::MIN in both: no
//!           location); written when every coordinate in the segment is exactly the double
//!           nearest a six-decimal value, as police.uk gives them, so decoding x / 1e6 gives
//!           back the same bits
//! flags           u8  × rows          (bit 0 involves_child, bit 1 outside_area)
//! then twelve text columns, in this order: category (slug), time_precision,
//! location_precision, agency, isa_ref, grade, source_ref, area_code, location,
//! category_raw, outcome_raw, area_vintage. Each is
//!   entries u32, then per entry: length u32, UTF-8 bytes;
//!   width u8 (1, 2 or 4), then rows indexes of that width (0: no value, k: entry k)
//! except source_ref (police Crime IDs, mostly distinct), which begins with a kind byte:
//!   kind 0: a text column with no dictionary: entries = rows, entry k-1 belongs to row k-1
//!           (empty: no value), then width 0 and no indexes;
//!   kind 1: every reference present is 64 lowercase hex digits (a police.uk Crime ID):
//!           a presence bitmap of ceil(rows / 8) bytes (bit r % 8 of byte r / 8: row r has
//!           one), then the 32 bytes those digits spell, per row that has one.
//! ```
//!
//! Version 1 (written until November 2026) has the same layout without the two kind bytes:
//! coordinates are always f64 and `source_ref` is always a kind-0 column. Both versions decode.
//! Version 2 stores a police.uk row in 65 bytes with its id instead of 105 (1M rows, 7 in 8
//! with a Crime ID: 65.3 MB instead of 104.7 MB), which is what an import
//! writes twice (WAL, then checkpoint) and a load reads.
//!
//! Text vocabularies are stored as their codes, like the row tables, so reordering an enum
//! never changes the meaning of stored bytes; unknown codes are reported as corrupt. Repeated
//! text (agency, LSOA code, crime type, outcome) is stored once per segment, and each distinct
//! value is parsed once on load, which also makes loading faster than reading rows.
//!
//! The codec is pure: it neither reads nor writes the database, and decoding untrusted bytes
//! returns an error, never panics.

use std::borrow::Cow;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt as _};

use super::sqlite::Code;
use super::{ImportedIncident, SourceAttributes, StoreError, StoreResult};
use crate::domain::{
    Agency, Category, Day, Grade, Incident, IncidentId, IncidentLocation, IncidentTime, IsaRef,
    LocationPrecision, LonLat, Provenance, TimePrecision,
};

/// Most rows in one segment.
pub const SEGMENT_ROWS: usize = 65_536;

const MAGIC: &[u8; 4] = b"SPIS";
const VERSION: u8 = 2;
/// Coordinate and source-reference kinds (version 2).
const COORDS_F64: u8 = 0;
const COORDS_MICRO: u8 = 1;
const NO_MICRO: i32 = i32::MIN;
const REFS_TEXT: u8 = 0;
const REFS_HEX: u8 = 1;
const NO_MINUTE: u16 = u16::MAX;
const FLAG_CHILD: u8 = 1;
const FLAG_OUTSIDE: u8 = 2;
const TABLE: &str = "incident_segments";

/// One encoded segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedSegment {
    /// Rows in the segment.
    pub rows: usize,
    /// Ids, `u64` little-endian, ascending.
    pub ids: Vec<u8>,
    /// The other columns.
    pub data: Vec<u8>,
    /// Lowest and highest id.
    pub min_id: u64,
    pub max_id: u64,
    /// Rows without a location.
    pub unlocated: u64,
    /// Rows outside the partnership area.
    pub outside_area: u64,
}

/// One text column's distinct values across the rows handed to a [`SegmentEncoder`].
///
/// Values are looked up by address first: the importers intern repeated text (one `Arc<str>`
/// per distinct value) and vocabulary codes are `&'static str`, so a row's value is nearly
/// always a pointer already seen, found without reading or hashing its bytes. A new address
/// falls back to a lookup by content, so equal text at two addresses still shares one entry.
#[derive(Default)]
struct Dict<'a> {
    /// Entry `k - 1` is value `k` (0 stands for "no value").
    entries: Vec<Cow<'a, str>>,
    by_address: HashMap<(usize, usize), u32>,
    by_text: HashMap<&'a str, u32>,
    /// The last value's address and index: constant columns never reach the maps.
    last: Option<((usize, usize), u32)>,
}

impl<'a> Dict<'a> {
    fn index(&mut self, value: Option<&'a str>) -> u32 {
        let Some(v) = value else { return 0 };
        let address = (v.as_ptr() as usize, v.len());
        if let Some((last, index)) = self.last
            && last == address
        {
            return index;
        }
        let index = if let Some(&index) = self.by_address.get(&address) {
            index
        } else {
            let next = self.entries.len() as u32 + 1;
            let index = *self.by_text.entry(v).or_insert(next);
            if index == next {
                self.entries.push(Cow::Borrowed(v));
            }
            self.by_address.insert(address, index);
            index
        };
        self.last = Some((address, index));
        index
    }

    /// Appends an entry the caller owns (grades are formatted, not borrowed) and returns its
    /// index; the caller keeps its own value → index map.
    fn push_owned(&mut self, text: String) -> u32 {
        self.entries.push(Cow::Owned(text));
        self.entries.len() as u32
    }
}

/// Number of text columns (the format's twelve, in order).
const TEXT_COLUMNS: usize = 12;
/// Column numbers of the text columns that need special handling, in format order.
const GRADE_COLUMN: usize = 5;
const SOURCE_REF_COLUMN: usize = 6;

/// One row reduced to what a segment stores: fixed-width values and, per text column, the
/// index of its value in the encoder's [`Dict`] (about 100 bytes instead of the row's 200 and
/// its pointers).
#[derive(Clone, Copy)]
struct Packed<'a> {
    id: u64,
    lon: f64,
    lat: f64,
    line: u32,
    day: u16,
    minute: u16,
    flags: u8,
    /// Dictionary index per text column (0: no value); unused for `source_ref`.
    text: [u32; TEXT_COLUMNS],
    /// Where the reference's 32 bytes are in [`SegmentEncoder::crime_ids`] when it is a
    /// police.uk Crime ID ([`NOT_HEX`]: none, or other text).
    crime_id: u32,
    /// The source reference (empty: none), written as it is (mostly distinct values).
    source_ref: &'a str,
}

/// Encodes segments of rows whose order (ascending id) differs from the order they are held
/// in (file order).
///
/// An import's ids are hashes, so id order visits the parsed rows at random. Reading each
/// 200-byte row and its string pointers at random, with a dozen dictionary lookups between
/// reads, cost most of the encoding time; here the rows are read once in the order they are
/// held, the dictionaries are built in that pass, and each segment then gathers compact
/// [`Packed`] rows and maps file-wide dictionary indexes to the segment's own. The bytes are
/// the same as encoding each segment on its own: a segment's dictionary lists its values in
/// order of first appearance by id.
pub struct SegmentEncoder<'a> {
    rows: Vec<Packed<'a>>,
    dicts: [Dict<'a>; TEXT_COLUMNS],
    /// The bytes of each Crime ID, decoded in the sequential pass (a segment then copies 32
    /// bytes per row instead of reading 64 digits at random).
    crime_ids: Vec<[u8; 32]>,
}

/// [`Packed::crime_id`] of a row with no Crime ID.
const NOT_HEX: u32 = u32::MAX;

impl<'a> SegmentEncoder<'a> {
    /// Reads `rows` once, in the order given; [`SegmentEncoder::encode`] refers to them by
    /// their position in it.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] when a line number does not fit in 32 bits.
    pub fn new<I>(rows: I) -> StoreResult<Self>
    where
        I: IntoIterator<Item = &'a ImportedIncident>,
        I::IntoIter: ExactSizeIterator,
    {
        let rows = rows.into_iter();
        let mut packed = Vec::with_capacity(rows.len());
        let mut dicts: [Dict<'a>; TEXT_COLUMNS] = std::array::from_fn(|_| Dict::default());
        let mut grades: HashMap<Grade, u32> = HashMap::new();
        let mut crime_ids = Vec::new();
        for r in rows {
            let i = &r.incident;
            let line = u32::try_from(r.line)
                .map_err(|_| corrupt("new", format!("line {} does not fit in 32 bits", r.line)))?;
            let (lon, lat) = i
                .location
                .as_ref()
                .map_or((f64::NAN, f64::NAN), |l| (l.point.lon(), l.point.lat()));
            let child = if i.involves_child { FLAG_CHILD } else { 0 };
            let outside = if r.outside_area { FLAG_OUTSIDE } else { 0 };
            let a = &r.attributes;
            let grade = i.provenance.grade.map_or(0, |g| {
                *grades
                    .entry(g)
                    .or_insert_with(|| dicts[GRADE_COLUMN].push_owned(g.to_string()))
            });
            let text = [
                dicts[0].index(Some(i.category.slug())),
                dicts[1].index(Some(i.time.precision.code())),
                dicts[2].index(i.location.as_ref().map(|l| l.precision.code())),
                dicts[3].index(Some(i.provenance.agency.as_str())),
                dicts[4].index(i.provenance.isa_ref.as_ref().map(IsaRef::as_str)),
                grade,
                0,
                dicts[7].index(a.area_code.as_deref()),
                dicts[8].index(a.location.as_deref()),
                dicts[9].index(a.category_raw.as_deref()),
                dicts[10].index(a.outcome_raw.as_deref()),
                dicts[11].index(a.area_vintage.as_deref()),
            ];
            let source_ref = a.source_ref.as_deref().unwrap_or("");
            let crime_id = match hex32(source_ref) {
                Some(bytes) if crime_ids.len() < NOT_HEX as usize => {
                    crime_ids.push(bytes);
                    (crime_ids.len() - 1) as u32
                }
                _ => NOT_HEX,
            };
            packed.push(Packed {
                id: i.id.get(),
                lon,
                lat,
                line,
                day: i.time.day.days_since_epoch(),
                minute: i.time.minute_of_day.unwrap_or(NO_MINUTE),
                flags: child | outside,
                text,
                crime_id,
                // An empty string stands for "no value"; sources never give an empty
                // reference (the parsers turn empty fields into `None`).
                source_ref,
            });
        }
        Ok(Self {
            rows: packed,
            dicts,
            crime_ids,
        })
    }

    /// Encodes the rows at `positions` (at most [`SEGMENT_ROWS`], ascending ids with none
    /// repeated) as one segment.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] when the rows are too many, unsorted, or a position is out of
    /// range (nothing is written then).
    pub fn encode(&self, positions: &[usize]) -> StoreResult<EncodedSegment> {
        let n = positions.len();
        if n == 0 || n > SEGMENT_ROWS {
            return Err(corrupt(
                "new",
                format!("a segment holds 1 to {SEGMENT_ROWS} rows, not {n}"),
            ));
        }
        // Copy the rows out first: a loop that only loads lets the processor fetch many rows
        // at once, where the encoding loop below would wait for each in turn.
        let mut rows: Vec<Packed<'_>> = Vec::with_capacity(n);
        for &at in positions {
            rows.push(
                *self
                    .rows
                    .get(at)
                    .ok_or_else(|| corrupt("new", format!("no row at position {at}")))?,
            );
        }
        if rows.windows(2).any(|w| w[0].id >= w[1].id) {
            return Err(corrupt(
                "new",
                "rows are not in strictly ascending id order",
            ));
        }
        let mut ids = Vec::with_capacity(n * 8);
        let mut lines = Vec::with_capacity(n * 4);
        let mut days = Vec::with_capacity(n * 2);
        let mut minutes = Vec::with_capacity(n * 2);
        let mut flags = Vec::with_capacity(n);
        let (mut unlocated, mut outside_area) = (0, 0);
        let mut columns: [SegmentColumn; TEXT_COLUMNS] =
            std::array::from_fn(|c| SegmentColumn::new(self.dicts[c].entries.len(), n));
        for p in &rows {
            ids.extend_from_slice(&p.id.to_le_bytes());
            lines.extend_from_slice(&p.line.to_le_bytes());
            days.extend_from_slice(&p.day.to_le_bytes());
            minutes.extend_from_slice(&p.minute.to_le_bytes());
            flags.push(p.flags);
            unlocated += u64::from(p.lon.is_nan());
            outside_area += u64::from(p.flags & FLAG_OUTSIDE != 0);
            for (column, &index) in columns.iter_mut().zip(&p.text) {
                column.push(index);
            }
        }
        let mut data = Vec::with_capacity(9 + n * 48);
        data.extend_from_slice(MAGIC);
        data.push(VERSION);
        data.extend_from_slice(&(n as u32).to_le_bytes());
        for column in [&lines, &days, &minutes] {
            data.extend_from_slice(column);
        }
        write_coordinates(&rows, &mut data);
        data.extend_from_slice(&flags);
        for (c, column) in columns.iter().enumerate() {
            if c == SOURCE_REF_COLUMN {
                self.write_source_refs(&rows, &mut data);
            } else {
                column.write(&self.dicts[c], &mut data);
            }
        }
        Ok(EncodedSegment {
            rows: n,
            ids,
            data,
            min_id: rows[0].id,
            max_id: rows[n - 1].id,
            unlocated,
            outside_area,
        })
    }

    /// The source references: 32 bytes each when all are police.uk Crime IDs, else text.
    fn write_source_refs(&self, rows: &[Packed<'_>], out: &mut Vec<u8>) {
        if rows
            .iter()
            .any(|p| p.crime_id == NOT_HEX && !p.source_ref.is_empty())
        {
            out.push(REFS_TEXT);
            out.extend_from_slice(&(rows.len() as u32).to_le_bytes());
            for p in rows {
                out.extend_from_slice(&(p.source_ref.len() as u32).to_le_bytes());
                out.extend_from_slice(p.source_ref.as_bytes());
            }
            out.push(0);
            return;
        }
        out.push(REFS_HEX);
        let bitmap_at = out.len();
        out.resize(bitmap_at + rows.len().div_ceil(8), 0);
        for (r, p) in rows.iter().enumerate() {
            if let Some(bytes) = self.crime_ids.get(p.crime_id as usize) {
                out[bitmap_at + r / 8] |= 1 << (r % 8);
                out.extend_from_slice(bytes);
            }
        }
    }
}

/// The coordinates: millionths of a degree when that loses nothing, else `f64`.
fn write_coordinates(rows: &[Packed<'_>], out: &mut Vec<u8>) {
    let columns = [|p: &Packed<'_>| p.lon, |p: &Packed<'_>| p.lat];
    let start = out.len();
    out.push(COORDS_MICRO);
    for pick in columns {
        for p in rows {
            let Some(m) = micro(pick(p)) else {
                // One coordinate off the grid: the whole segment as f64.
                out.truncate(start);
                out.push(COORDS_F64);
                for pick in columns {
                    for p in rows {
                        out.extend_from_slice(&pick(p).to_le_bytes());
                    }
                }
                return;
            };
            out.extend_from_slice(&m.to_le_bytes());
        }
    }
}

/// `x` in millionths of a degree when dividing those by 1e6 gives back exactly `x`
/// ([`NO_MICRO`] for NaN, no location).
#[inline]
fn micro(x: f64) -> Option<i32> {
    if x.is_nan() {
        return Some(NO_MICRO);
    }
    // Rounded half away from zero without a libm call; |lon| <= 180 keeps it far inside i32
    // (a conversion saturates, and the exactness check refuses anything else).
    let y = x * 1e6;
    let m = (y + 0.5f64.copysign(y)) as i32;
    (m != NO_MICRO && (f64::from(m) / 1e6).to_bits() == x.to_bits()).then_some(m)
}

/// The 32 bytes spelled by exactly 64 lowercase hex digits.
fn hex32(text: &str) -> Option<[u8; 32]> {
    /// Each byte's digit value, or 0x10 when it is not a lowercase hex digit.
    const VALUE: [u8; 256] = {
        let mut t = [0x10u8; 256];
        let mut c = 0;
        while c < 10 {
            t[b'0' as usize + c] = c as u8;
            c += 1;
        }
        let mut c = 0;
        while c < 6 {
            t[b'a' as usize + c] = 10 + c as u8;
            c += 1;
        }
        t
    };
    let digits: &[u8; 64] = text.as_bytes().try_into().ok()?;
    let mut out = [0u8; 32];
    // No branch per digit: any non-digit sets bit 4 in `bad`.
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let (high, low) = (VALUE[usize::from(pair[0])], VALUE[usize::from(pair[1])]);
        bad |= high | low;
        *o = (high << 4) | low;
    }
    (bad & 0x10 == 0).then_some(out)
}

/// The 64 lowercase hex digits of 32 bytes.
fn hex64(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// A text column of one segment: the segment's own dictionary, as indexes into the encoder's.
struct SegmentColumn {
    /// Encoder index → segment index (0: not in this segment yet).
    remap: Vec<u32>,
    /// Encoder indexes of the segment's entries, in order of first appearance.
    entries: Vec<u32>,
    indexes: Vec<u32>,
}

impl SegmentColumn {
    fn new(dict_len: usize, rows: usize) -> Self {
        Self {
            remap: vec![0; dict_len + 1],
            entries: Vec::new(),
            indexes: Vec::with_capacity(rows),
        }
    }

    fn push(&mut self, index: u32) {
        let local = if index == 0 {
            0
        } else {
            let slot = &mut self.remap[index as usize];
            if *slot == 0 {
                self.entries.push(index);
                *slot = self.entries.len() as u32;
            }
            *slot
        };
        self.indexes.push(local);
    }

    fn write(&self, dict: &Dict<'_>, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for &e in &self.entries {
            let text = &dict.entries[e as usize - 1];
            out.extend_from_slice(&(text.len() as u32).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        let width: u8 = match self.entries.len() {
            0..=255 => 1,
            256..=65_535 => 2,
            _ => 4,
        };
        out.push(width);
        match width {
            1 => out.extend(self.indexes.iter().map(|&i| i as u8)),
            2 => {
                for &i in &self.indexes {
                    out.extend_from_slice(&(i as u16).to_le_bytes());
                }
            }
            _ => {
                for &i in &self.indexes {
                    out.extend_from_slice(&i.to_le_bytes());
                }
            }
        }
    }
}

/// Encodes `rows` (at most [`SEGMENT_ROWS`], sorted by id with no id repeated) as one segment.
///
/// # Errors
///
/// [`StoreError::Corrupt`] when the rows are too many, unsorted, or a line number does not fit
/// in 32 bits (nothing is written then).
pub fn encode(rows: &[&ImportedIncident]) -> StoreResult<EncodedSegment> {
    let encoder = SegmentEncoder::new(rows.iter().copied())?;
    let positions: Vec<usize> = (0..rows.len()).collect();
    encoder.encode(&positions)
}

/// Decodes a segment's id blob.
///
/// # Errors
///
/// [`StoreError::Corrupt`] naming the segment when the blob is not whole `u64`s.
pub fn decode_ids(segment: i64, ids: &[u8]) -> StoreResult<Vec<u64>> {
    if !ids.len().is_multiple_of(8) {
        return Err(corrupt(
            segment,
            "the id blob is not a whole number of u64s",
        ));
    }
    Ok(ids
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect())
}

/// A decoded row with its import attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedRow {
    /// The incident.
    pub incident: Incident,
    /// 1-based line in the source file.
    pub line: u64,
    /// Raw source attributes.
    pub attributes: SourceAttributes,
    /// Outside the partnership area.
    pub outside_area: bool,
}

/// Decodes a whole segment into its incidents (what a store load needs).
///
/// # Errors
///
/// [`StoreError::Corrupt`] naming the segment for any malformed byte, unknown code or
/// out-of-range value.
pub fn decode_incidents(segment: i64, ids: &[u8], data: &[u8]) -> StoreResult<Vec<Incident>> {
    Ok(decode(segment, ids, data, false)?
        .into_iter()
        .map(|r| r.incident)
        .collect())
}

/// Decodes a whole segment with the import attributes of every row.
///
/// # Errors
///
/// As [`decode_incidents`].
pub fn decode_rows(segment: i64, ids: &[u8], data: &[u8]) -> StoreResult<Vec<DecodedRow>> {
    decode(segment, ids, data, true)
}

/// A bounds-checked little-endian reader.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    segment: i64,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> StoreResult<&'a [u8]> {
        let end = self
            .at
            .checked_add(len)
            .filter(|e| *e <= self.bytes.len())
            .ok_or_else(|| corrupt(self.segment, format!("data ends early at byte {}", self.at)))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u8(&mut self) -> StoreResult<u8> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> StoreResult<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// `rows` fixed-width values.
    fn array(&mut self, rows: usize, width: usize) -> StoreResult<&'a [u8]> {
        let len = rows
            .checked_mul(width)
            .ok_or_else(|| corrupt(self.segment, "column length overflows"))?;
        self.take(len)
    }

    /// A dictionary column: its entries and one index per row (0 = none).
    fn dict(&mut self, rows: usize) -> StoreResult<(Vec<&'a str>, Vec<u32>)> {
        let entries = self.u32()? as usize;
        // Each entry needs at least its 4-byte length: refuse counts the data cannot hold.
        if entries > self.bytes.len().saturating_sub(self.at) / 4 {
            return Err(corrupt(
                self.segment,
                format!("{entries} dictionary entries cannot fit"),
            ));
        }
        let mut values = Vec::with_capacity(entries);
        for _ in 0..entries {
            let len = self.u32()? as usize;
            let bytes = self.take(len)?;
            let text = std::str::from_utf8(bytes)
                .map_err(|_| corrupt(self.segment, "a dictionary entry is not UTF-8"))?;
            values.push(text);
        }
        let width = self.u8()?;
        if width == 0 {
            if entries != rows {
                return Err(corrupt(
                    self.segment,
                    format!("a plain column has {entries} values for {rows} rows"),
                ));
            }
            let indexes = values
                .iter()
                .zip(1..)
                .map(|(v, k)| if v.is_empty() { 0 } else { k })
                .collect();
            return Ok((values, indexes));
        }
        let raw = self.array(rows, usize::from(width))?;
        let indexes: Vec<u32> = match width {
            1 => raw.iter().map(|&b| u32::from(b)).collect(),
            2 => raw
                .chunks_exact(2)
                .map(|c| u32::from(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            4 => raw
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            w => {
                return Err(corrupt(
                    self.segment,
                    format!("index width {w} is not 0, 1, 2 or 4"),
                ));
            }
        };
        if let Some(bad) = indexes.iter().find(|&&i| i as usize > values.len()) {
            return Err(corrupt(
                self.segment,
                format!("index {bad} is past a dictionary of {}", values.len()),
            ));
        }
        Ok((values, indexes))
    }
}

/// A decoded column: distinct values (`[0]` is "no value") and each row's index into them.
type Column<T> = (Vec<Option<T>>, Vec<u32>);

/// A dictionary column parsed once per entry.
fn parse_dict<T: Clone>(
    segment: i64,
    (entries, indexes): (Vec<&str>, Vec<u32>),
    what: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> StoreResult<Column<T>> {
    let mut values = Vec::with_capacity(entries.len() + 1);
    values.push(None);
    for e in entries {
        let v = parse(e).ok_or_else(|| corrupt(segment, format!("{e:?} is not a {what}")))?;
        values.push(Some(v));
    }
    Ok((values, indexes))
}

fn get<T: Clone>(col: &Column<T>, row: usize) -> Option<T> {
    col.0[col.1[row] as usize].clone()
}

fn le_u16(b: &[u8], row: usize) -> u16 {
    u16::from_le_bytes([b[2 * row], b[2 * row + 1]])
}

fn le_f64(b: &[u8], row: usize) -> f64 {
    let s = &b[8 * row..8 * row + 8];
    f64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]])
}

/// A segment's coordinate columns as stored.
enum Coordinates<'a> {
    F64(&'a [u8], &'a [u8]),
    Micro(&'a [u8], &'a [u8]),
}

impl<'a> Coordinates<'a> {
    fn read(r: &mut Reader<'a>, rows: usize, version: u8) -> StoreResult<Self> {
        let kind = if version == 1 { COORDS_F64 } else { r.u8()? };
        match kind {
            COORDS_F64 => Ok(Self::F64(r.array(rows, 8)?, r.array(rows, 8)?)),
            COORDS_MICRO => Ok(Self::Micro(r.array(rows, 4)?, r.array(rows, 4)?)),
            k => Err(corrupt(
                r.segment,
                format!("coordinate kind {k} is unknown"),
            )),
        }
    }

    /// Row `row`'s longitude and latitude (NaN: none).
    fn at(&self, row: usize) -> (f64, f64) {
        match self {
            Self::F64(lons, lats) => (le_f64(lons, row), le_f64(lats, row)),
            Self::Micro(lons, lats) => {
                let micro = |b: &[u8]| {
                    let m = i32::from_le_bytes([
                        b[4 * row],
                        b[4 * row + 1],
                        b[4 * row + 2],
                        b[4 * row + 3],
                    ]);
                    if m == NO_MICRO {
                        f64::NAN
                    } else {
                        f64::from(m) / 1e6
                    }
                };
                (micro(lons), micro(lats))
            }
        }
    }
}

/// A kind-1 source reference column: a presence bitmap, then 32 bytes per reference.
fn hex_refs(r: &mut Reader<'_>, rows: usize, attributes: bool) -> StoreResult<Column<Arc<str>>> {
    let bitmap = r.array(rows.div_ceil(8), 1)?;
    if !rows.is_multiple_of(8) && bitmap.last().is_some_and(|&b| b >> (rows % 8) != 0) {
        return Err(corrupt(
            r.segment,
            "the reference bitmap marks rows past the last",
        ));
    }
    let present = bitmap
        .iter()
        .map(|b| b.count_ones() as usize)
        .sum::<usize>();
    let bytes = r.array(present, 32)?;
    if !attributes {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut values: Vec<Option<Arc<str>>> = Vec::with_capacity(present + 1);
    values.push(None);
    values.extend(bytes.chunks_exact(32).map(|b| Some(Arc::from(hex64(b)))));
    let mut next = 0u32;
    let indexes = (0..rows)
        .map(|row| {
            if bitmap[row / 8] & (1 << (row % 8)) == 0 {
                0
            } else {
                next += 1;
                next
            }
        })
        .collect();
    Ok((values, indexes))
}

#[expect(
    clippy::too_many_lines,
    reason = "decodes one segment's columns in file order from one reader; the format reads top to bottom"
)]
fn decode(segment: i64, ids: &[u8], data: &[u8], attributes: bool) -> StoreResult<Vec<DecodedRow>> {
    let ids = decode_ids(segment, ids)?;
    let mut r = Reader {
        bytes: data,
        at: 0,
        segment,
    };
    if r.take(4)? != MAGIC {
        return Err(corrupt(segment, "not an incident segment (bad magic)"));
    }
    let version = r.u8()?;
    if version != 1 && version != VERSION {
        return Err(corrupt(
            segment,
            format!("segment format {version} is not 1 or {VERSION}"),
        ));
    }
    let n = r.u32()? as usize;
    if n != ids.len() {
        return Err(corrupt(segment, format!("{n} rows but {} ids", ids.len())));
    }
    if ids.windows(2).any(|w| w[0] >= w[1]) {
        return Err(corrupt(segment, "ids are not strictly ascending"));
    }
    let lines = r.array(n, 4)?;
    let days = r.array(n, 2)?;
    let minutes = r.array(n, 2)?;
    let coordinates = Coordinates::read(&mut r, n, version)?;
    let flags = r.array(n, 1)?;
    let category = parse_dict(segment, r.dict(n)?, "category", |s| {
        s.parse::<Category>().ok()
    })?;
    let time_precision = parse_dict(
        segment,
        r.dict(n)?,
        "time precision",
        TimePrecision::from_code,
    )?;
    let location_precision = parse_dict(
        segment,
        r.dict(n)?,
        "location precision",
        LocationPrecision::from_code,
    )?;
    let agency = parse_dict(segment, r.dict(n)?, "agency", |s| Agency::new(s).ok())?;
    let isa_ref = parse_dict(segment, r.dict(n)?, "sharing agreement", |s| {
        IsaRef::new(s).ok()
    })?;
    let grade = parse_dict(segment, r.dict(n)?, "grade", |s| s.parse::<Grade>().ok())?;
    let text = |r: &mut Reader<'_>| -> StoreResult<Column<Arc<str>>> {
        let (entries, indexes) = r.dict(n)?;
        let mut values: Vec<Option<Arc<str>>> = Vec::new();
        if attributes {
            values.reserve(entries.len() + 1);
            values.push(None);
            values.extend(entries.into_iter().map(|e| Some(Arc::from(e))));
        }
        Ok((values, indexes))
    };
    let source_ref = match if version == 1 { REFS_TEXT } else { r.u8()? } {
        REFS_TEXT => text(&mut r)?,
        REFS_HEX => hex_refs(&mut r, n, attributes)?,
        kind => {
            return Err(corrupt(
                segment,
                format!("source reference kind {kind} is unknown"),
            ));
        }
    };
    let area_code = text(&mut r)?;
    let location = text(&mut r)?;
    let category_raw = text(&mut r)?;
    let outcome_raw = text(&mut r)?;
    let area_vintage = text(&mut r)?;
    if r.at != data.len() {
        return Err(corrupt(
            segment,
            format!("{} bytes after the last column", data.len() - r.at),
        ));
    }
    let mut out = Vec::with_capacity(n);
    for (row, &id) in ids.iter().enumerate() {
        let row_err = |reason: String| corrupt(segment, format!("row {row}: {reason}"));
        let day = Day::from_days_since_epoch(le_u16(days, row));
        let minute = le_u16(minutes, row);
        let minute_of_day = match minute {
            NO_MINUTE => None,
            m if m < 1440 => Some(m),
            m => return Err(row_err(format!("minute {m} is not below 1440"))),
        };
        let (lon, lat) = coordinates.at(row);
        let location_at = match (lon.is_nan(), lat.is_nan(), get(&location_precision, row)) {
            (true, true, None) => None,
            (false, false, Some(precision)) => Some(IncidentLocation {
                point: LonLat::new(lon, lat).map_err(|e| row_err(e.to_string()))?,
                precision,
            }),
            _ => return Err(row_err("location columns are partly empty".to_owned())),
        };
        let flag = flags[row];
        let incident = Incident {
            id: IncidentId::new(id),
            category: get(&category, row).ok_or_else(|| row_err("no category".to_owned()))?,
            time: IncidentTime {
                day,
                minute_of_day,
                precision: get(&time_precision, row)
                    .ok_or_else(|| row_err("no time precision".to_owned()))?,
            },
            location: location_at,
            involves_child: flag & FLAG_CHILD != 0,
            provenance: Provenance {
                agency: get(&agency, row).ok_or_else(|| row_err("no agency".to_owned()))?,
                isa_ref: get(&isa_ref, row),
                grade: get(&grade, row),
            },
        };
        let attributes = if attributes {
            SourceAttributes {
                source_ref: get(&source_ref, row),
                area_code: get(&area_code, row),
                location: get(&location, row),
                category_raw: get(&category_raw, row),
                outcome_raw: get(&outcome_raw, row),
                area_vintage: get(&area_vintage, row),
            }
        } else {
            SourceAttributes::default()
        };
        let line = u32::from_le_bytes([
            lines[4 * row],
            lines[4 * row + 1],
            lines[4 * row + 2],
            lines[4 * row + 3],
        ]);
        out.push(DecodedRow {
            incident,
            line: u64::from(line),
            attributes,
            outside_area: flag & FLAG_OUTSIDE != 0,
        });
    }
    Ok(out)
}

fn corrupt(segment: impl std::fmt::Display, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        table: TABLE,
        row: segment.to_string(),
        reason: reason.into(),
    }
}

#[cfg(test)]
#[path = "segment_tests.rs"]
mod tests;
