//! A small, strict MVT 2.1 decoder for tests, written from the specification and independent
//! of the encoder crate, so round trips check the bytes and not one library against itself.

use super::coord::TilePoint;
use super::geometry::{TileGeometry, TilePolygon, signed_area2};

/// A decoded property value, keeping the wire type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DValue {
    Str(String),
    F32(f32),
    F64(f64),
    I64(i64),
    U64(u64),
    S64(i64),
    Bool(bool),
}

/// One geometry part as drawn by the commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DPart {
    pub(crate) points: Vec<TilePoint>,
    pub(crate) closed: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DFeature {
    pub(crate) id: Option<u64>,
    /// 1 point, 2 line, 3 polygon.
    pub(crate) geom_type: u64,
    pub(crate) commands: Vec<u32>,
    pub(crate) props: Vec<(String, DValue)>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DLayer {
    pub(crate) name: String,
    pub(crate) extent: u64,
    pub(crate) version: u64,
    pub(crate) keys: Vec<String>,
    pub(crate) values: Vec<DValue>,
    pub(crate) features: Vec<DFeature>,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }
    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }
    fn varint(&mut self) -> u64 {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.buf[self.pos];
            self.pos += 1;
            v |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return v;
            }
        }
        panic!("varint too long");
    }
    fn bytes(&mut self) -> &'a [u8] {
        let n = usize::try_from(self.varint()).unwrap();
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        s
    }
    fn fixed<const N: usize>(&mut self) -> [u8; N] {
        let s: [u8; N] = self.buf[self.pos..self.pos + N].try_into().unwrap();
        self.pos += N;
        s
    }
    /// `(field, wire type)`.
    fn key(&mut self) -> (u64, u64) {
        let k = self.varint();
        (k >> 3, k & 7)
    }
}

fn packed(buf: &[u8]) -> Vec<u32> {
    let mut r = Reader::new(buf);
    let mut out = Vec::new();
    while !r.done() {
        out.push(u32::try_from(r.varint()).unwrap());
    }
    out
}

fn value(buf: &[u8]) -> DValue {
    let mut r = Reader::new(buf);
    let mut out = None;
    while !r.done() {
        let v = match r.key() {
            (1, 2) => DValue::Str(String::from_utf8(r.bytes().to_vec()).unwrap()),
            (2, 5) => DValue::F32(f32::from_le_bytes(r.fixed::<4>())),
            (3, 1) => DValue::F64(f64::from_le_bytes(r.fixed::<8>())),
            (4, 0) => DValue::I64(r.varint() as i64),
            (5, 0) => DValue::U64(r.varint()),
            (6, 0) => {
                let z = r.varint();
                DValue::S64(((z >> 1) as i64) ^ -((z & 1) as i64))
            }
            (7, 0) => DValue::Bool(r.varint() != 0),
            other => panic!("unexpected value field {other:?}"),
        };
        assert!(out.is_none(), "a Value message must hold exactly one field");
        out = Some(v);
    }
    out.expect("an empty Value message")
}

fn feature(buf: &[u8], keys: &[String], values: &[DValue]) -> DFeature {
    let mut r = Reader::new(buf);
    let mut f = DFeature {
        id: None,
        geom_type: 0,
        commands: Vec::new(),
        props: Vec::new(),
    };
    let mut tags = Vec::new();
    while !r.done() {
        match r.key() {
            (1, 0) => f.id = Some(r.varint()),
            (2, 2) => tags = packed(r.bytes()),
            (3, 0) => f.geom_type = r.varint(),
            (4, 2) => f.commands = packed(r.bytes()),
            other => panic!("unexpected feature field {other:?}"),
        }
    }
    assert!(tags.len() % 2 == 0, "odd tag count");
    for pair in tags.chunks(2) {
        let k = keys[pair[0] as usize].clone();
        let v = values[pair[1] as usize].clone();
        f.props.push((k, v));
    }
    f
}

/// Decodes a tile into its layers, panicking on anything malformed.
pub(crate) fn decode(tile: &[u8]) -> Vec<DLayer> {
    let mut r = Reader::new(tile);
    let mut layers = Vec::new();
    while !r.done() {
        assert_eq!(r.key(), (3, 2), "a tile holds only layers");
        let lbuf = r.bytes();
        let mut lr = Reader::new(lbuf);
        let mut name = None;
        let mut extent = 4096;
        let mut version = 1;
        let mut keys = Vec::new();
        let mut values = Vec::new();
        let mut raw_features = Vec::new();
        while !lr.done() {
            match lr.key() {
                (1, 2) => name = Some(String::from_utf8(lr.bytes().to_vec()).unwrap()),
                (2, 2) => raw_features.push(lr.bytes()),
                (3, 2) => keys.push(String::from_utf8(lr.bytes().to_vec()).unwrap()),
                (4, 2) => values.push(value(lr.bytes())),
                (5, 0) => extent = lr.varint(),
                (15, 0) => version = lr.varint(),
                other => panic!("unexpected layer field {other:?}"),
            }
        }
        let features = raw_features
            .into_iter()
            .map(|b| feature(b, &keys, &values))
            .collect();
        layers.push(DLayer {
            name: name.expect("a layer needs a name"),
            extent,
            version,
            keys,
            values,
            features,
        });
    }
    layers
}

fn unzig(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

impl DFeature {
    /// The parts drawn by the command stream, checking the command grammar of the type.
    pub(crate) fn parts(&self) -> Vec<DPart> {
        let mut parts: Vec<DPart> = Vec::new();
        let (mut x, mut y) = (0i32, 0i32);
        let mut i = 0;
        let c = &self.commands;
        while i < c.len() {
            let (id, count) = (c[i] & 7, (c[i] >> 3) as usize);
            i += 1;
            match id {
                1 => {
                    assert!(count >= 1);
                    if self.geom_type != 1 {
                        assert_eq!(count, 1, "MoveTo of a line or ring moves once");
                    }
                    for _ in 0..count {
                        x += unzig(c[i]);
                        y += unzig(c[i + 1]);
                        i += 2;
                        if self.geom_type == 1 && !parts.is_empty() {
                            parts[0].points.push(TilePoint::new(x, y));
                        } else {
                            parts.push(DPart {
                                points: vec![TilePoint::new(x, y)],
                                closed: false,
                            });
                        }
                    }
                }
                2 => {
                    assert!(count >= 1 && self.geom_type != 1);
                    let part = parts.last_mut().expect("LineTo before MoveTo");
                    for _ in 0..count {
                        x += unzig(c[i]);
                        y += unzig(c[i + 1]);
                        i += 2;
                        part.points.push(TilePoint::new(x, y));
                    }
                }
                7 => {
                    assert_eq!(count, 1);
                    assert_eq!(self.geom_type, 3, "ClosePath only in polygons");
                    parts.last_mut().expect("ClosePath before MoveTo").closed = true;
                }
                other => panic!("unknown command {other}"),
            }
        }
        if self.geom_type == 3 {
            assert!(parts.iter().all(|p| p.closed), "every ring is closed");
        }
        parts
    }

    /// The geometry as the encoder's input type: rings grouped into polygons by winding
    /// (positive area opens a polygon, negative adds a hole), as MVT 2.1 §4.3.4.4 prescribes.
    pub(crate) fn geometry(&self) -> TileGeometry {
        let parts = self.parts();
        match self.geom_type {
            1 => TileGeometry::Points(parts.into_iter().flat_map(|p| p.points).collect()),
            2 => TileGeometry::Lines(parts.into_iter().map(|p| p.points).collect()),
            3 => {
                let mut polys: Vec<TilePolygon> = Vec::new();
                for p in parts {
                    let area = signed_area2(&p.points);
                    assert_ne!(area, 0, "a zero-area ring was written");
                    if area > 0 {
                        polys.push(TilePolygon {
                            exterior: p.points,
                            holes: Vec::new(),
                        });
                    } else {
                        polys
                            .last_mut()
                            .expect("a hole before any exterior ring")
                            .holes
                            .push(p.points);
                    }
                }
                TileGeometry::Polygons(polys)
            }
            other => panic!("unexpected geometry type {other}"),
        }
    }

    /// A property by key.
    pub(crate) fn prop(&self, key: &str) -> Option<&DValue> {
        self.props.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}
