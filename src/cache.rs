//! The one bounded cache of the server (issue 15, point 4; modelled on martin-core's
//! `ResourceCache`): encoded tiles (`api::tile_cache`) and every analysis layer
//! (`service`) are instances of [`BoundedCache`].
//!
//! - **Bound**: every entry has a weight (its bytes, from a weigher given at construction, or 1
//!   for a cache bounded by entries); the cache holds at most its budget, evicting the oldest
//!   entries (first in, first out) to make room. An entry heavier than a shard's budget is
//!   returned but not kept; a budget of 0 turns caching off.
//! - **Single flight**: [`BoundedCache::get_or_compute`] runs one computation per key at a
//!   time; concurrent callers of that key wait for it instead of repeating it. A computation
//!   that fails or panics releases its waiters, and one of them computes the key itself.
//! - **Invalidation by data version**: a key may carry the data version it was computed from
//!   ([`CacheKey::data_version`]). A shard that meets a newer version drops everything it holds
//!   before answering, and ignores keys of an older one, so nothing computed from an older
//!   snapshot is served once a newer one has been asked for. Keys without a version (the risk
//!   calibrations, which are reused across versions on purpose) are never invalidated.
//! - **Shards**: a cache may be split into shards, each with its own lock and a share of the
//!   budget, so concurrent tile requests do not contend for one lock; analysis caches use one.
//!
//! Synchronous (the computations run on the blocking pool) and free of HTTP types.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// A key of a [`BoundedCache`].
pub trait CacheKey: Eq + Hash + Clone {
    /// The data version the value was computed from, when the entry should be dropped as soon
    /// as a newer version is asked for; `None` keeps the entry across versions.
    fn data_version(&self) -> Option<u64>;

    /// Feeds the parts of the key that pick its shard. By default the whole key; a key whose
    /// versions must meet in one shard (so that a newer one clears the older) leaves the
    /// version out.
    fn shard_hash<H: Hasher>(&self, state: &mut H) {
        self.hash(state);
    }
}

/// One cached value, its weight and its place in the insertion order (for
/// [`BoundedCache::find_newest`]).
#[derive(Debug)]
struct Entry<V> {
    value: Arc<V>,
    weight: usize,
    seq: u64,
}

/// One shard's entries, oldest first in `order`, and the keys being computed now.
#[derive(Debug)]
struct Inner<K, V> {
    version: u64,
    entries: HashMap<K, Entry<V>>,
    order: VecDeque<K>,
    weight: usize,
    computing: Vec<K>,
}

impl<K: CacheKey, V> Inner<K, V> {
    fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
        self.weight = 0;
    }

    /// Applies `key`'s data version: a newer one empties the shard first. Returns false when
    /// the key is of an older version than the shard's (nothing of it is kept).
    fn admit_version(&mut self, key: &K) -> bool {
        match key.data_version() {
            Some(v) if v > self.version => {
                self.clear();
                self.version = v;
                true
            }
            Some(v) => v == self.version,
            None => true,
        }
    }

    fn hit(&self, key: &K) -> Option<Arc<V>> {
        self.entries.get(key).map(|e| Arc::clone(&e.value))
    }
}

#[derive(Debug)]
struct Shard<K, V> {
    inner: Mutex<Inner<K, V>>,
    done: Condvar,
}

impl<K, V> Shard<K, V> {
    fn lock(&self) -> MutexGuard<'_, Inner<K, V>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A bounded, optionally sharded map from `K` to `Arc<V>` with single-flight computation and
/// invalidation by data version (module docs).
#[derive(Debug)]
pub struct BoundedCache<K, V> {
    shards: Box<[Shard<K, V>]>,
    shard_budget: usize,
    weigher: fn(&V) -> usize,
    hasher: std::hash::RandomState,
    seq: AtomicU64,
}

/// The weight of every entry of a cache bounded by entries.
fn one<V>(_: &V) -> usize {
    1
}

impl<K, V> BoundedCache<K, V> {
    /// A cache of at most `capacity` entries (at least one), in one shard.
    pub fn entries(capacity: usize) -> Self {
        Self::weighted(capacity.max(1), 1, one::<V>)
    }

    /// A cache of at most `budget` in the units of `weigher` (bytes, typically), split into
    /// `shards` shards (at least one) of an equal share each; 0 turns caching off.
    pub fn weighted(budget: usize, shards: usize, weigher: fn(&V) -> usize) -> Self {
        let shards = shards.max(1);
        Self {
            shards: (0..shards)
                .map(|_| Shard {
                    inner: Mutex::new(Inner {
                        version: 0,
                        entries: HashMap::new(),
                        order: VecDeque::new(),
                        weight: 0,
                        computing: Vec::new(),
                    }),
                    done: Condvar::new(),
                })
                .collect(),
            shard_budget: budget / shards,
            weigher,
            hasher: std::hash::RandomState::new(),
            seq: AtomicU64::new(0),
        }
    }

    /// Entries held (all shards).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().entries.len()).sum()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The total weight held (all shards).
    pub fn weight(&self) -> usize {
        self.shards.iter().map(|s| s.lock().weight).sum()
    }
}

/// Takes a key out of its shard's `computing` and wakes the waiters when dropped, also when
/// the computation fails or panics.
struct Flight<'a, K: CacheKey, V> {
    shard: &'a Shard<K, V>,
    key: Option<K>,
}

impl<K: CacheKey, V> Drop for Flight<'_, K, V> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let mut inner = self.shard.lock();
            inner.computing.retain(|k| *k != key);
            drop(inner);
            self.shard.done.notify_all();
        }
    }
}

impl<K: CacheKey, V> BoundedCache<K, V> {
    fn shard(&self, key: &K) -> &Shard<K, V> {
        let mut h = self.hasher.build_hasher();
        key.shard_hash(&mut h);
        let n = self.shards.len() as u64;
        &self.shards[(h.finish() % n) as usize]
    }

    /// The value of `key` when it is cached, without computing or waiting. A key of a newer
    /// data version than its shard's empties the shard first.
    pub fn get(&self, key: &K) -> Option<Arc<V>> {
        if self.shard_budget == 0 {
            return None;
        }
        let mut inner = self.shard(key).lock();
        if !inner.admit_version(key) {
            return None;
        }
        inner.hit(key)
    }

    /// Stores `value` under `key` (replacing a value of the same key, which then counts as the
    /// newest), evicting the oldest entries of the shard until it fits. Ignored for a key of an
    /// older data version than the shard's, and for a value heavier than a shard's budget.
    pub fn insert(&self, key: K, value: Arc<V>) {
        if self.shard_budget == 0 {
            return;
        }
        let weight = (self.weigher)(&value);
        let mut inner = self.shard(&key).lock();
        self.store(&mut inner, key, value, weight);
    }

    fn store(&self, inner: &mut Inner<K, V>, key: K, value: Arc<V>, weight: usize) {
        if !inner.admit_version(&key) || weight > self.shard_budget {
            return;
        }
        if let Some(old) = inner.entries.remove(&key) {
            inner.weight -= old.weight;
            inner.order.retain(|k| *k != key);
        }
        while inner.weight + weight > self.shard_budget {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(e) = inner.entries.remove(&oldest) {
                inner.weight -= e.weight;
            }
        }
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        inner.weight += weight;
        inner.order.push_back(key.clone());
        inner.entries.insert(key, Entry { value, weight, seq });
    }

    /// The most recently stored entry whose key satisfies `pick`, if any.
    pub fn find_newest(&self, pick: impl Fn(&K) -> bool) -> Option<(K, Arc<V>)> {
        self.shards
            .iter()
            .filter_map(|s| {
                let inner = s.lock();
                inner
                    .entries
                    .iter()
                    .filter(|(k, _)| pick(k))
                    .max_by_key(|(_, e)| e.seq)
                    .map(|(k, e)| (e.seq, k.clone(), Arc::clone(&e.value)))
            })
            .max_by_key(|(seq, _, _)| *seq)
            .map(|(_, k, v)| (k, v))
    }

    /// The value of `key`, from the cache, from the computation of another caller in progress
    /// (waiting for it), or computed now by `compute` outside the lock and stored.
    ///
    /// # Errors
    ///
    /// Whatever `compute` returns; nothing is cached then, and a caller that was waiting for
    /// this computation computes the key itself.
    pub fn get_or_compute<E>(
        &self,
        key: K,
        compute: impl FnOnce() -> Result<V, E>,
    ) -> Result<Arc<V>, E> {
        if self.shard_budget == 0 {
            return compute().map(Arc::new);
        }
        let shard = self.shard(&key);
        let mut inner = shard.lock();
        loop {
            if !inner.admit_version(&key) {
                // Computed from an older snapshot than the cache holds: not kept, not shared.
                drop(inner);
                return compute().map(Arc::new);
            }
            if let Some(hit) = inner.hit(&key) {
                return Ok(hit);
            }
            if !inner.computing.contains(&key) {
                break;
            }
            inner = shard
                .done
                .wait(inner)
                .unwrap_or_else(PoisonError::into_inner);
        }
        inner.computing.push(key.clone());
        drop(inner);
        let mut flight = Flight {
            shard,
            key: Some(key),
        };
        let value = Arc::new(compute()?);
        let weight = (self.weigher)(&value);
        // Set above; taken here so that the guard does not also remove it.
        let Some(key) = flight.key.take() else {
            return Ok(value);
        };
        let mut inner = shard.lock();
        inner.computing.retain(|k| *k != key);
        self.store(&mut inner, key, Arc::clone(&value), weight);
        drop(inner);
        shard.done.notify_all();
        Ok(value)
    }

    /// [`Self::get_or_compute`] for a computation that cannot fail.
    pub fn get_or_insert_with(&self, key: K, compute: impl FnOnce() -> V) -> Arc<V> {
        match self.get_or_compute(key, || Ok::<_, std::convert::Infallible>(compute())) {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
