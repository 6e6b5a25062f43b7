//! A small cache of computed analysis layers (Gi*, emerging hot spots, risk windows), oldest
//! evicted first. Keys carry the data version, so new data never meets an old entry; tiles of
//! one view share one computation.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

/// Layers kept per cache.
pub const CACHE_ENTRIES: usize = 48;

/// Computed layers by key.
#[derive(Debug)]
pub struct AnalysisCache<K, V> {
    entries: Mutex<VecDeque<(K, Arc<V>)>>,
    capacity: usize,
}

impl<K, V> Default for AnalysisCache<K, V> {
    fn default() -> Self {
        Self::with_capacity(CACHE_ENTRIES)
    }
}

impl<K, V> AnalysisCache<K, V> {
    /// A cache keeping at most `capacity` entries (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
        }
    }
}

impl<K: PartialEq, V> AnalysisCache<K, V> {
    /// The layer for `key`, from the cache or computed now by `compute` (outside the lock:
    /// two requests racing on a new key may both compute it; both results are equal).
    ///
    /// # Errors
    ///
    /// Whatever `compute` returns; nothing is cached then.
    pub fn get_or_compute<E>(
        &self,
        key: K,
        compute: impl FnOnce() -> Result<V, E>,
    ) -> Result<Arc<V>, E> {
        if let Some(hit) = self
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| Arc::clone(v))
        {
            return Ok(hit);
        }
        let value = Arc::new(compute()?);
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity {
            entries.pop_front();
        }
        entries.push_back((key, Arc::clone(&value)));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_computed_once_and_the_oldest_is_evicted() {
        let cache: AnalysisCache<u32, u32> = AnalysisCache::default();
        let mut calls = 0;
        for _ in 0..3 {
            let v = cache
                .get_or_compute(7, || {
                    calls += 1;
                    Ok::<_, ()>(49)
                })
                .expect("computed");
            assert_eq!(*v, 49);
        }
        assert_eq!(calls, 1);
        for k in 0..CACHE_ENTRIES as u32 {
            cache
                .get_or_compute(100 + k, || Ok::<_, ()>(k))
                .expect("computed");
        }
        let mut recomputed = false;
        cache
            .get_or_compute(7, || {
                recomputed = true;
                Ok::<_, ()>(49)
            })
            .expect("computed");
        assert!(recomputed, "the first key was evicted");
        let err = cache.get_or_compute(1_000, || Err::<u32, _>("no"));
        assert_eq!(err, Err("no"));
    }
}
