use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::time::Duration;

use super::*;

/// A key without a data version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Plain(u32);

impl CacheKey for Plain {
    fn data_version(&self) -> Option<u64> {
        None
    }
}

/// A key of (data version, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Versioned(u64, u32);

impl CacheKey for Versioned {
    fn data_version(&self) -> Option<u64> {
        Some(self.0)
    }

    fn shard_hash<H: Hasher>(&self, state: &mut H) {
        self.1.hash(state);
    }
}

/// The analysis caches' entry count before the generic cache (`api::analysis_cache`).
const CACHE_ENTRIES: usize = 48;

#[test]
fn a_key_is_computed_once_and_the_oldest_is_evicted() {
    let cache: BoundedCache<Plain, u32> = BoundedCache::entries(CACHE_ENTRIES);
    let mut calls = 0;
    for _ in 0..3 {
        let v = cache
            .get_or_compute(Plain(7), || {
                calls += 1;
                Ok::<_, ()>(49)
            })
            .expect("computed");
        assert_eq!(*v, 49);
    }
    assert_eq!(calls, 1);
    for k in 0..CACHE_ENTRIES as u32 {
        cache
            .get_or_compute(Plain(100 + k), || Ok::<_, ()>(k))
            .expect("computed");
    }
    let mut recomputed = false;
    cache
        .get_or_compute(Plain(7), || {
            recomputed = true;
            Ok::<_, ()>(49)
        })
        .expect("computed");
    assert!(recomputed, "the first key was evicted");
    let err = cache.get_or_compute(Plain(1_000), || Err::<u32, _>("no"));
    assert_eq!(err, Err("no"));
}

#[test]
fn concurrent_callers_of_one_key_share_one_computation() {
    let cache: Arc<BoundedCache<Plain, u32>> = Arc::new(BoundedCache::entries(CACHE_ENTRIES));
    let calls = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let (cache, calls) = (Arc::clone(&cache), Arc::clone(&calls));
            std::thread::spawn(move || {
                *cache
                    .get_or_compute(Plain(3), || {
                        calls.fetch_add(1, AtomicOrdering::SeqCst);
                        std::thread::sleep(Duration::from_millis(200));
                        Ok::<_, ()>(9)
                    })
                    .expect("computed")
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().expect("no panic"), 9);
    }
    assert_eq!(calls.load(AtomicOrdering::SeqCst), 1);
}

#[test]
fn a_failed_computation_leaves_the_key_to_the_next_caller() {
    let cache: Arc<BoundedCache<Plain, u32>> = Arc::new(BoundedCache::entries(CACHE_ENTRIES));
    let leader = {
        let cache = Arc::clone(&cache);
        std::thread::spawn(move || {
            cache.get_or_compute(Plain(5), || {
                std::thread::sleep(Duration::from_millis(150));
                Err::<u32, _>("cancelled")
            })
        })
    };
    std::thread::sleep(Duration::from_millis(30));
    // Waits for the leader, which fails, then computes the key itself.
    let got = cache.get_or_compute(Plain(5), || Ok::<_, &str>(25));
    assert_eq!(got.map(|v| *v), Ok(25));
    assert_eq!(leader.join().expect("no panic"), Err("cancelled"));
    // A panicking computation releases the key too.
    let cache2 = Arc::clone(&cache);
    let panicked = std::thread::spawn(move || {
        cache2.get_or_compute(Plain(6), || -> Result<u32, ()> { panic!("boom") })
    })
    .join();
    assert!(panicked.is_err());
    assert_eq!(
        cache
            .get_or_compute(Plain(6), || Ok::<_, ()>(36))
            .map(|v| *v),
        Ok(36)
    );
}

#[test]
fn the_weight_bound_holds_and_the_oldest_go_first() {
    // One shard of 1,000 bytes; values weigh their length.
    let cache: BoundedCache<Plain, Vec<u8>> = BoundedCache::weighted(1_000, 1, Vec::len);
    for k in 0..10 {
        cache.insert(Plain(k), Arc::new(vec![0; 300]));
        assert!(cache.weight() <= 1_000, "{}", cache.weight());
    }
    assert_eq!(cache.len(), 3, "three of 300 bytes fit in 1,000");
    assert!(cache.get(&Plain(9)).is_some() && cache.get(&Plain(7)).is_some());
    assert!(cache.get(&Plain(6)).is_none(), "the oldest were evicted");
    // Replacing a key adjusts the weight instead of adding to it.
    cache.insert(Plain(9), Arc::new(vec![0; 100]));
    assert_eq!(cache.weight(), 700);
    // Too heavy for the shard: returned, not kept, and nothing else is evicted for it.
    let big = cache
        .get_or_compute(Plain(50), || Ok::<_, ()>(vec![0; 2_000]))
        .expect("computed");
    assert_eq!(big.len(), 2_000);
    assert!(cache.get(&Plain(50)).is_none());
    assert_eq!(cache.len(), 3);
    // Sharded: every shard keeps its share.
    let sharded: BoundedCache<Plain, Vec<u8>> = BoundedCache::weighted(16 * 1_000, 16, Vec::len);
    for k in 0..1_000 {
        sharded.insert(Plain(k), Arc::new(vec![0; 200]));
    }
    assert!(sharded.weight() <= 16 * 1_000, "{}", sharded.weight());
    assert!(!sharded.is_empty());
    // A budget of 0 keeps nothing and still computes.
    let off: BoundedCache<Plain, Vec<u8>> = BoundedCache::weighted(0, 4, Vec::len);
    off.insert(Plain(1), Arc::new(vec![1]));
    assert!(off.get(&Plain(1)).is_none());
    assert_eq!(
        off.get_or_compute(Plain(1), || Ok::<_, ()>(vec![2]))
            .map(|v| v[0]),
        Ok(2)
    );
}

#[test]
fn a_newer_data_version_empties_the_shard_and_an_older_is_never_kept() {
    let cache: BoundedCache<Versioned, u32> = BoundedCache::entries(8);
    cache.insert(Versioned(1, 1), Arc::new(10));
    cache.insert(Versioned(1, 2), Arc::new(20));
    assert_eq!(cache.get(&Versioned(1, 1)).as_deref(), Some(&10));
    assert!(cache.get(&Versioned(2, 1)).is_none());
    assert!(
        cache.get(&Versioned(1, 2)).is_none(),
        "every entry of the old version is gone"
    );
    assert!(cache.is_empty());
    // A late insert of the old version is ignored.
    cache.insert(Versioned(1, 1), Arc::new(10));
    assert!(cache.get(&Versioned(1, 1)).is_none());
    // A late computation of the old version is answered but not kept.
    let mut calls = 0;
    for _ in 0..2 {
        let v = cache
            .get_or_compute(Versioned(1, 3), || {
                calls += 1;
                Ok::<_, ()>(30)
            })
            .expect("computed");
        assert_eq!(*v, 30);
    }
    assert_eq!(calls, 2);
    // The current version is kept.
    cache.insert(Versioned(2, 1), Arc::new(11));
    assert_eq!(cache.get(&Versioned(2, 1)).as_deref(), Some(&11));
    // Keys without a version survive any number of versions in another cache.
    let plain: BoundedCache<Plain, u32> = BoundedCache::entries(8);
    plain.insert(Plain(1), Arc::new(1));
    plain.insert(Plain(2), Arc::new(2));
    assert_eq!(plain.len(), 2);
}

#[test]
fn a_version_change_while_waiting_does_not_cache_the_old_value() {
    let cache: Arc<BoundedCache<Versioned, u32>> = Arc::new(BoundedCache::entries(8));
    let leader = {
        let cache = Arc::clone(&cache);
        std::thread::spawn(move || {
            cache.get_or_compute(Versioned(1, 1), || {
                std::thread::sleep(Duration::from_millis(150));
                Ok::<_, ()>(1)
            })
        })
    };
    std::thread::sleep(Duration::from_millis(30));
    // A newer version is asked for while version 1 is computed.
    assert!(cache.get(&Versioned(2, 1)).is_none());
    assert_eq!(leader.join().expect("no panic").map(|v| *v), Ok(1));
    assert!(
        cache.is_empty(),
        "the old value landed after the new version and is not kept"
    );
    assert!(cache.get(&Versioned(1, 1)).is_none());
}

#[test]
fn the_newest_matching_entry_is_found() {
    let cache: BoundedCache<Plain, u32> = BoundedCache::entries(4);
    for k in [5, 1, 9, 3] {
        cache.insert(Plain(k), Arc::new(k * 10));
    }
    let odd_over_2 = cache.find_newest(|k| k.0 > 2);
    assert_eq!(odd_over_2.map(|(k, v)| (k.0, *v)), Some((3, 30)));
    assert_eq!(
        cache.find_newest(|k| k.0 < 5).map(|(k, _)| k.0),
        Some(3),
        "insertion order, not key order"
    );
    assert!(cache.find_newest(|k| k.0 == 7).is_none());
    // Replacing a key moves it to the newest place.
    cache.insert(Plain(5), Arc::new(55));
    assert_eq!(cache.find_newest(|k| k.0 > 2).map(|(k, _)| k.0), Some(5));
}
