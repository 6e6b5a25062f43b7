//! The tile cache: encoded tiles by everything that fixes their bytes, invalidated the moment a
//! new snapshot is served (maps.md §5.3).
//!
//! A key holds the layer, the data version, `z/x/y`, the quantised time window, the category,
//! the boundary scheme and the caller's disclosure class, so a planner never receives a tile
//! rendered for an analyst. Encoding is deterministic, so the key also fixes the bytes: the
//! strong `ETag` is a hash of the key (plus `-gz` for the gzip representation), and a
//! revalidation (`If-None-Match`) is answered `304` without rendering or even a cache lookup.
//!
//! Invalidation: every snapshot has a new data version (the reload job swaps snapshots within a
//! second of a store change). A shard that sees a newer version drops everything it holds
//! before answering, so no tile of an older version is served after the swap. This is coarser
//! than evicting exactly the changed cells' tiles, but it is exact (nothing stale survives) and
//! costs nothing per change; the trade-off is a cold cache after each import.
//!
//! Memory is bounded: the cache is an instance of the server's one generic cache
//! ([`crate::cache::BoundedCache`]) in 16 shards, each holding at most a sixteenth of the byte
//! budget and evicting its oldest tiles to make room for a new one. Empty tiles are cached too
//! (as `204`).

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::cache::{BoundedCache, CacheKey};
use crate::domain::{Category, TimeWindow};
use crate::safeguards::policy::DisclosureClass;

/// Shards of the cache, each with its own lock: concurrent tile requests rarely contend.
const SHARDS: usize = 16;

/// Everything that fixes a tile's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TileKey {
    /// Layer name.
    pub layer: &'static str,
    /// Data version of the snapshot rendered from.
    pub data_version: u64,
    /// Zoom.
    pub z: u8,
    /// Column.
    pub x: u32,
    /// Row.
    pub y: u32,
    /// Time window after quantisation, for layers that aggregate over time.
    pub window: Option<TimeWindow>,
    /// Category filter.
    pub category: Option<Category>,
    /// Boundary scheme (boundaries layer).
    pub scheme: Option<String>,
    /// The caller's disclosure class.
    pub class: DisclosureClass,
    /// Which derived input the tile was drawn from beyond the data version: for the risk
    /// layer, the data version of the Knox calibration used (an older one while the current
    /// one is computed), so a tile drawn from a stale calibration is never served, or
    /// confirmed by a 304, once the current one is in; 0 for every other layer.
    pub derived: u64,
}

impl TileKey {
    /// The strong entity tag of the uncompressed (`gzip: false`) or gzip representation.
    pub fn etag(&self, gzip: bool) -> String {
        // SipHash with fixed keys: stable across processes and restarts of the same build.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.hash(&mut h);
        format!(
            "\"{}-{}-{:016x}{}\"",
            self.layer,
            self.data_version,
            h.finish(),
            if gzip { "-gz" } else { "" }
        )
    }
}

impl CacheKey for TileKey {
    fn data_version(&self) -> Option<u64> {
        Some(self.data_version)
    }

    /// The shard of a tile position: every version and variant of one tile share a shard, so
    /// a newer version always meets (and clears) the older ones.
    fn shard_hash<H: Hasher>(&self, state: &mut H) {
        (self.layer, self.z, self.x, self.y).hash(state);
    }
}

/// One cached tile: `None` bodies are empty tiles (204).
#[derive(Debug, Clone)]
pub struct CachedTile {
    /// The MVT bytes, uncompressed; `None` for an empty tile.
    pub raw: Option<Arc<[u8]>>,
    /// The same bytes gzipped; `None` for an empty tile.
    pub gzip: Option<Arc<[u8]>>,
}

impl CachedTile {
    fn bytes(&self) -> usize {
        self.raw.as_ref().map_or(0, |b| b.len()) + self.gzip.as_ref().map_or(0, |b| b.len()) + 128
    }
}

/// A sharded, byte-bounded map from [`TileKey`] to [`CachedTile`]: an instance of the generic
/// [`BoundedCache`].
#[derive(Debug)]
pub struct TileCache(BoundedCache<TileKey, CachedTile>);

impl TileCache {
    /// A cache of at most about `budget_bytes`; 0 disables caching.
    pub fn new(budget_bytes: usize) -> Self {
        Self(BoundedCache::weighted(
            budget_bytes,
            SHARDS,
            CachedTile::bytes,
        ))
    }

    /// The cached tile for `key`, if any. A key of a newer data version than the shard's
    /// empties the shard first.
    pub fn get(&self, key: &TileKey) -> Option<CachedTile> {
        self.0.get(key).map(|t| CachedTile::clone(&t))
    }

    /// Stores `tile` under `key` (ignored for a version older than the shard's).
    pub fn put(&self, key: TileKey, tile: CachedTile) {
        self.0.insert(key, Arc::new(tile));
    }

    /// Tiles held (all shards).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(version: u64, x: u32) -> TileKey {
        TileKey {
            layer: "hexagons",
            data_version: version,
            z: 12,
            x,
            y: 1361,
            window: None,
            category: None,
            scheme: None,
            class: DisclosureClass::Exact,
            derived: 0,
        }
    }

    fn tile(n: usize) -> CachedTile {
        CachedTile {
            raw: Some(Arc::from(vec![7u8; n])),
            gzip: None,
        }
    }

    #[test]
    fn a_newer_data_version_empties_the_cache_before_anything_is_served() {
        let c = TileCache::new(1 << 20);
        c.put(key(1, 1), tile(10));
        assert!(c.get(&key(1, 1)).is_some());
        assert!(
            c.get(&key(2, 1)).is_none(),
            "the old tile is not served for a new version"
        );
        assert!(c.get(&key(1, 1)).is_none(), "and is gone");
        // A late put of an old version is ignored.
        c.put(key(1, 1), tile(10));
        assert!(c.get(&key(1, 1)).is_none());
    }

    #[test]
    fn the_byte_budget_is_kept() {
        let c = TileCache::new(16 * 1000);
        for x in 0..1000 {
            c.put(key(1, x), tile(200));
        }
        let held: usize = (0..1000)
            .filter_map(|x| c.get(&key(1, x)))
            .map(|t| t.bytes())
            .sum();
        assert!(held <= 16 * 1000, "{held}");
        assert!(!c.is_empty());
        let off = TileCache::new(0);
        off.put(key(1, 1), tile(1));
        assert!(off.get(&key(1, 1)).is_none());
    }

    #[test]
    fn etags_differ_by_every_part_of_the_key_and_by_encoding() {
        let a = key(1, 1);
        let mut b = a.clone();
        b.class = DisclosureClass::Controlled;
        let mut c = a.clone();
        c.category = Some(Category::Drugs);
        let mut d = a.clone();
        d.derived = 7;
        let tags = [
            a.etag(false),
            a.etag(true),
            b.etag(false),
            c.etag(false),
            d.etag(false),
            key(2, 1).etag(false),
        ];
        for (i, t) in tags.iter().enumerate() {
            assert!(t.starts_with('"') && t.ends_with('"'));
            for u in &tags[i + 1..] {
                assert_ne!(t, u);
            }
        }
        assert_eq!(a.etag(true), key(1, 1).etag(true), "stable");
    }
}
