//! Protocol-buffer wire primitives for the MVT writer: varints, zigzag, field keys and packed
//! fields (protobuf encoding guide, "Encoding"). Only what `vector_tile.proto` 2.1 needs.

/// Wire type of varint fields (`uint32`, `uint64`, `sint64`, `bool`, enums).
pub(crate) const VARINT: u32 = 0;
/// Wire type of 64-bit fields (`double`).
pub(crate) const I64: u32 = 1;
/// Wire type of length-delimited fields (strings, messages, packed repeated fields).
pub(crate) const LEN: u32 = 2;

/// Appends `v` as a base-128 varint.
pub(crate) fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    if v < 0x80 {
        // Most geometry deltas and tag indices: one byte.
        buf.push(v as u8);
        return;
    }
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Bytes taken by `v` as a varint (1 to 10).
pub(crate) fn varint_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Appends a field key: `field << 3 | wire type`.
pub(crate) fn put_key(buf: &mut Vec<u8>, field: u32, wire: u32) {
    put_varint(buf, u64::from((field << 3) | wire));
}

/// Appends a length-delimited field holding `bytes`.
pub(crate) fn put_bytes_field(buf: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(buf, field, LEN);
    put_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

/// A packed repeated `uint32` field under construction: the varints, already encoded, so that
/// writing the field is one copy and its length is known without a second pass.
#[derive(Debug, Default, Clone)]
pub(crate) struct Packed(Vec<u8>);

impl Packed {
    /// Appends one value.
    pub(crate) fn push(&mut self, v: u32) {
        put_varint(&mut self.0, u64::from(v));
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Bytes the field takes with its key and length; nothing when empty.
    pub(crate) fn field_len(&self, field: u32) -> usize {
        if self.0.is_empty() {
            0
        } else {
            varint_len(u64::from(field << 3)) + varint_len(self.0.len() as u64) + self.0.len()
        }
    }

    /// Appends the field (omitted when empty).
    pub(crate) fn put_field(&self, buf: &mut Vec<u8>, field: u32) {
        if !self.0.is_empty() {
            put_bytes_field(buf, field, &self.0);
        }
    }
}

/// Zigzag for `sint32` parameters: 0, −1, 1, −2 → 0, 1, 2, 3.
pub(crate) fn zigzag32(v: i32) -> u32 {
    (v.wrapping_shl(1) ^ (v >> 31)).cast_unsigned()
}

/// Zigzag for `sint64` values.
pub(crate) fn zigzag64(v: i64) -> u64 {
    (v.wrapping_shl(1) ^ (v >> 63)).cast_unsigned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_match_the_protobuf_guide() {
        let enc = |v: u64| {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(b.len(), varint_len(v));
            b
        };
        assert_eq!(enc(0), [0]);
        assert_eq!(enc(1), [1]);
        assert_eq!(enc(127), [0x7F]);
        assert_eq!(enc(150), [0x96, 0x01]);
        assert_eq!(enc(16_384), [0x80, 0x80, 0x01]);
        assert_eq!(enc(u64::MAX).len(), 10);
    }

    #[test]
    fn zigzag_matches_the_protobuf_guide() {
        assert_eq!(zigzag32(0), 0);
        assert_eq!(zigzag32(-1), 1);
        assert_eq!(zigzag32(1), 2);
        assert_eq!(zigzag32(-2), 3);
        assert_eq!(zigzag32(i32::MAX), u32::MAX - 1);
        assert_eq!(zigzag32(i32::MIN), u32::MAX);
        assert_eq!(zigzag64(-3), 5);
        assert_eq!(zigzag64(i64::MIN), u64::MAX);
    }

    #[test]
    fn packed_fields_are_omitted_when_empty() {
        let mut b = Vec::new();
        let mut p = Packed::default();
        p.put_field(&mut b, 2);
        assert!(b.is_empty());
        assert_eq!(p.field_len(2), 0);
        p.push(1);
        p.push(300);
        p.put_field(&mut b, 4);
        assert_eq!(b, [0x22, 3, 1, 0xAC, 0x02]);
        assert_eq!(p.field_len(4), b.len());
        p.clear();
        assert!(p.is_empty());
    }
}
