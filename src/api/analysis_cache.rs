//! A small cache of computed analysis layers (Gi*, emerging hot spots, risk windows, monthly
//! releases), oldest evicted first. Keys carry the data version, so new data never meets an old
//! entry; tiles of one view share one computation.
//!
//! Concurrent requests for a key being computed wait for that computation instead of
//! repeating it (single flight): on a fresh server, fifty requests arriving in the same 100 ms
//! for one month's release used to compute it fifty times over on the blocking pool.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// Layers kept per cache.
pub const CACHE_ENTRIES: usize = 48;

/// The entries, and the keys being computed now.
#[derive(Debug)]
struct Inner<K, V> {
    entries: VecDeque<(K, Arc<V>)>,
    computing: Vec<K>,
}

/// Computed layers by key.
#[derive(Debug)]
pub struct AnalysisCache<K, V> {
    inner: Mutex<Inner<K, V>>,
    done: Condvar,
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
            inner: Mutex::new(Inner {
                entries: VecDeque::new(),
                computing: Vec::new(),
            }),
            done: Condvar::new(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<K, V>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Takes a key out of `computing` and wakes the waiters when dropped, also when the computation
/// panics or fails.
struct Computing<'a, K: PartialEq, V> {
    cache: &'a AnalysisCache<K, V>,
    key: Option<K>,
}

impl<K: PartialEq, V> Drop for Computing<'_, K, V> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let mut inner = self.cache.lock();
            inner.computing.retain(|k| *k != key);
            drop(inner);
            self.cache.done.notify_all();
        }
    }
}

impl<K: PartialEq + Clone, V> AnalysisCache<K, V> {
    /// The layer for `key` when it is cached, without computing or waiting.
    pub fn get(&self, key: &K) -> Option<Arc<V>> {
        self.lock()
            .entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| Arc::clone(v))
    }

    /// The layer for `key`, from the cache, from the computation of another caller in progress
    /// (waiting for it), or computed now by `compute` outside the lock.
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
        let mut inner = self.lock();
        loop {
            if let Some(hit) = inner
                .entries
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| Arc::clone(v))
            {
                return Ok(hit);
            }
            if !inner.computing.contains(&key) {
                break;
            }
            inner = self
                .done
                .wait(inner)
                .unwrap_or_else(PoisonError::into_inner);
        }
        inner.computing.push(key.clone());
        drop(inner);
        let mut flight = Computing {
            cache: self,
            key: Some(key),
        };
        let value = Arc::new(compute()?);
        // Set above; taken here so that the guard does not also remove it.
        let Some(key) = flight.key.take() else {
            return Ok(value);
        };
        let mut inner = self.lock();
        inner.computing.retain(|k| *k != key);
        if inner.entries.len() >= self.capacity {
            inner.entries.pop_front();
        }
        inner.entries.push_back((key, Arc::clone(&value)));
        drop(inner);
        self.done.notify_all();
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

    #[test]
    fn concurrent_callers_of_one_key_share_one_computation() {
        let cache: Arc<AnalysisCache<u32, u32>> = Arc::new(AnalysisCache::default());
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let (cache, calls) = (Arc::clone(&cache), Arc::clone(&calls));
                std::thread::spawn(move || {
                    *cache
                        .get_or_compute(3, || {
                            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(200));
                            Ok::<_, ()>(9)
                        })
                        .expect("computed")
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().expect("no panic"), 9);
        }
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn a_failed_computation_leaves_the_key_to_the_next_caller() {
        let cache: Arc<AnalysisCache<u32, u32>> = Arc::new(AnalysisCache::default());
        let leader = {
            let cache = Arc::clone(&cache);
            std::thread::spawn(move || {
                cache.get_or_compute(5, || {
                    std::thread::sleep(std::time::Duration::from_millis(150));
                    Err::<u32, _>("cancelled")
                })
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(30));
        // Waits for the leader, which fails, then computes the key itself.
        let got = cache.get_or_compute(5, || Ok::<_, &str>(25));
        assert_eq!(got.map(|v| *v), Ok(25));
        assert_eq!(leader.join().expect("no panic"), Err("cancelled"));
        // A panicking computation releases the key too.
        let cache2 = Arc::clone(&cache);
        let panicked = std::thread::spawn(move || {
            cache2.get_or_compute(6, || -> Result<u32, ()> { panic!("boom") })
        })
        .join();
        assert!(panicked.is_err());
        assert_eq!(
            cache.get_or_compute(6, || Ok::<_, ()>(36)).map(|v| *v),
            Ok(36)
        );
    }
}
