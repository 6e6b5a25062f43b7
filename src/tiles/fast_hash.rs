//! A small, fast hasher for the encoder's lookup tables (H3 cells, property keys and values).
//!
//! The standard `SipHash` costs tens of nanoseconds per lookup, which shows up when every
//! hexagon of a tile is looked up in the boundary cache and every property key and value in the
//! layer's tables. A folded 64×64→128-bit multiply (as in foldhash and wyhash) mixes well into
//! both the low bits (the bucket) and the high bits (the control byte) that `hashbrown` uses.
//! Tables keyed by strings from imported data take a random per-table seed
//! ([`FastHash::random`]), so crafted names cannot be made to collide on purpose; integer keys
//! from our own data use the fixed seed. Iteration order never reaches the output: tables are
//! only looked up, never iterated to write.

use std::hash::{BuildHasher, Hasher};

/// Odd multiplier (the 64-bit golden ratio).
const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// Builds [`FastHasher`]s from a seed (zero by default).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FastHash {
    seed: u64,
}

impl FastHash {
    /// A builder with a seed drawn from the standard library's per-process random keys.
    pub(crate) fn random() -> Self {
        Self {
            seed: std::collections::hash_map::RandomState::new().hash_one(0x5AFE_u64),
        }
    }
}

impl BuildHasher for FastHash {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(self.seed)
    }
}

/// See the module notes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FastHasher(u64);

fn fold_mul(a: u64, b: u64) -> u64 {
    let m = u128::from(a) * u128::from(b);
    (m as u64) ^ ((m >> 64) as u64)
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = fold_mul(self.0 ^ v, K);
    }

    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }

    fn finish(&self) -> u64 {
        fold_mul(self.0, K ^ 0xA076_1D64_78BD_642F)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn nearby_keys_spread_over_low_and_high_bits() {
        let b = FastHash::default();
        let hashes: Vec<u64> = (0u64..4096)
            .map(|k| b.hash_one(0x0891_9583_0000_0fff + (k << 12)))
            .collect();
        let low: HashSet<u64> = hashes.iter().map(|h| h & 0xFFF).collect();
        let high: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(low.len() > 2500, "{} distinct low 12-bit values", low.len());
        assert_eq!(high.len(), 128);
        let (r1, r2) = (FastHash::random(), FastHash::random());
        assert_ne!(r1.hash_one("h3"), r2.hash_one("h3"), "random seeds differ");
    }
}
