//! Measured memory of running computations (issue 14, point 1): what each computation has
//! allocated and not yet freed, so that the admission layer (`api::admission`) enforces its
//! memory budgets on measured figures rather than on estimates alone.
//!
//! The process's global allocator is [`Allocator`] (`tracking-allocator`, set in `main.rs`):
//! it writes, in a word ahead of every allocation, the allocation group entered on the
//! allocating thread, and reports each allocation to the group entered and each free to the
//! group that allocated it, on whichever thread the free happens. [`measure`] opens an
//! [`Account`] (a new group), enters it on the current thread for the length of a computation
//! and closes it afterwards. Allocations outside every account (the root group) cost one
//! thread-local read and one comparison in the tracker and are not counted.
//!
//! The accounts live in a fixed table of atomics ([`SLOTS`] of them; the computations running at
//! once are bounded by the admission layer's workers), so the tracker never allocates or locks.
//! A free of memory whose account is closed (a result kept in a cache, freed when evicted) finds
//! no open slot and is ignored: an account counts what its computation holds while it runs.
//!
//! A computation spawns no threads today; one that did would open an account of its own on the
//! spawned thread and bring its figures back (tracking-allocator's group token cannot be
//! entered on two threads at once).
//!
//! Without [`install`] (benches, tools, test binaries without the allocator) every account
//! reads zero and no budget is ever exceeded.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};

use tracking_allocator::{
    AllocationGroupId, AllocationGroupToken, AllocationRegistry, AllocationTracker,
};

/// The global allocator that attributes allocations to accounts: set it in a binary with
/// `#[global_allocator] static ALLOCATOR: Allocator = allocator();`, then call [`install`].
///
/// Over jemalloc rather than glibc's malloc (issue 15, point 2): at 10M incidents glibc kept
/// the memory freed by an import's merge steps in its per-thread arenas (a server at 429 MB
/// steady peaked at 928 MB and stayed there), where jemalloc returns much of it (about 340 MB
/// steady, 711 MB peak, 512 MB after; `docs/BENCHMARKS.md`).
pub type Allocator = tracking_allocator::Allocator<tikv_jemallocator::Jemalloc>;

/// The [`Allocator`] over jemalloc, for a `#[global_allocator]` static.
pub const fn allocator() -> Allocator {
    Allocator::from_allocator(tikv_jemallocator::Jemalloc)
}

/// What the allocator holds for the whole process, from jemalloc's statistics: bytes the
/// program has allocated, in the pages those allocations occupy (`active_bytes`, with
/// fragmentation), and resident (`resident_bytes`: also jemalloc's metadata and freed pages
/// not yet returned to the system). Logged beside the background jobs' measured peaks, so a
/// resident figure can be told apart into live data and allocator overhead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocatorStats {
    /// Bytes allocated and not yet freed.
    pub allocated_bytes: usize,
    /// Bytes in the pages those allocations occupy.
    pub active_bytes: usize,
    /// Bytes of physically resident pages the allocator maps.
    pub resident_bytes: usize,
}

/// The allocator's statistics now; `None` if jemalloc does not answer.
pub fn allocator_stats() -> Option<AllocatorStats> {
    use tikv_jemalloc_ctl::{epoch, stats};
    epoch::advance().ok()?;
    Some(AllocatorStats {
        allocated_bytes: stats::allocated::read().ok()?,
        active_bytes: stats::active::read().ok()?,
        resident_bytes: stats::resident::read().ok()?,
    })
}

/// Accounts open at once at most; [`Account::open`] beyond them returns an unmeasured account.
pub const SLOTS: usize = 128;

/// One open account: its group id (0 when free), the bytes its group holds, and the most it
/// held.
struct Slot {
    group: AtomicUsize,
    live: AtomicI64,
    peak: AtomicI64,
}

impl Slot {
    const fn new() -> Self {
        Self {
            group: AtomicUsize::new(0),
            live: AtomicI64::new(0),
            peak: AtomicI64::new(0),
        }
    }
}

static TABLE: [Slot; SLOTS] = [const { Slot::new() }; SLOTS];

/// The group id of a slot being opened: never a real group (ids count up from 2).
const CLAIMING: usize = usize::MAX;

/// The longest probe an open account needed past its home slot, so lookups stop there.
static MAX_PROBE: AtomicUsize = AtomicUsize::new(0);

/// True once [`install`] set the tracker and the global allocator is [`Allocator`].
static MEASURING: AtomicBool = AtomicBool::new(false);

/// The slot of the open account of `group`, if any.
#[inline]
fn slot_of(group: usize) -> Option<&'static Slot> {
    let home = group % SLOTS;
    let probe = MAX_PROBE.load(Ordering::Relaxed);
    (0..=probe)
        .map(|i| &TABLE[(home + i) % SLOTS])
        .find(|s| s.group.load(Ordering::Relaxed) == group)
}

/// Adds `bytes` (negative for a free) to `group`'s account when it is open.
#[inline]
fn charge(group: &AllocationGroupId, bytes: i64) {
    let group = group.as_usize().get();
    if group == AllocationGroupId::ROOT.as_usize().get() {
        return;
    }
    if let Some(slot) = slot_of(group) {
        let live = slot.live.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if bytes > 0 {
            slot.peak.fetch_max(live, Ordering::Relaxed);
        }
    }
}

/// The tracker `tracking-allocator` calls on every allocation and free.
struct Accounts;

impl AllocationTracker for Accounts {
    fn allocated(
        &self,
        _addr: usize,
        _object_size: usize,
        wrapped_size: usize,
        group_id: AllocationGroupId,
    ) {
        charge(&group_id, wrapped_size as i64);
    }

    fn deallocated(
        &self,
        _addr: usize,
        _object_size: usize,
        wrapped_size: usize,
        source_group_id: AllocationGroupId,
        _current_group_id: AllocationGroupId,
    ) {
        charge(&source_group_id, -(wrapped_size as i64));
    }
}

/// Starts measuring: sets the tracker of the global [`Allocator`] and enables it. Call it once
/// in a binary whose global allocator is [`Allocator`]; later calls do nothing. Elsewhere it
/// is harmless but measures nothing (the tracker is only called by [`Allocator`]).
pub fn install() {
    // Err only when a tracker is already set, by an earlier call.
    if AllocationRegistry::set_global_tracker(Accounts).is_ok() {
        AllocationRegistry::enable_tracking();
        MEASURING.store(true, Ordering::SeqCst);
    }
}

/// True once [`install`] ran in this process.
pub fn is_measuring() -> bool {
    MEASURING.load(Ordering::Relaxed)
}

/// Bytes held now by all open accounts together.
pub fn in_use() -> u64 {
    TABLE
        .iter()
        .filter(|s| s.group.load(Ordering::Relaxed) != 0)
        .map(|s| s.live.load(Ordering::Relaxed).max(0) as u64)
        .sum()
}

/// A view of an open account's figures, copied freely (into checkpoints, across threads).
#[derive(Clone, Copy)]
pub struct Meter {
    group: usize,
    slot: Option<&'static Slot>,
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meter")
            .field("group", &self.group)
            .field("live", &self.live())
            .field("peak", &self.peak())
            .finish_non_exhaustive()
    }
}

impl Meter {
    /// True while the account is open (a closed one's slot may hold another account).
    fn open_slot(&self) -> Option<&'static Slot> {
        self.slot
            .filter(|s| s.group.load(Ordering::Relaxed) == self.group)
    }

    /// Bytes the computation holds now (allocated in its group and not freed yet); zero once
    /// the account is closed or when it is unmeasured.
    pub fn live(&self) -> u64 {
        self.open_slot()
            .map_or(0, |s| s.live.load(Ordering::Relaxed).max(0) as u64)
    }

    /// The most bytes the computation held at once; zero once the account is closed.
    pub fn peak(&self) -> u64 {
        self.open_slot()
            .map_or(0, |s| s.peak.load(Ordering::Relaxed).max(0) as u64)
    }

    /// True when this account holds at least as much as every other open account.
    pub fn is_heaviest(&self) -> bool {
        let mine = self.live();
        TABLE
            .iter()
            .filter(|s| {
                let g = s.group.load(Ordering::Relaxed);
                g != 0 && g != self.group
            })
            .all(|s| s.live.load(Ordering::Relaxed).max(0) as u64 <= mine)
    }
}

/// A computation's account: a new allocation group and its slot. Closed on drop.
pub struct Account {
    token: Option<AllocationGroupToken>,
    meter: Meter,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.meter.fmt(f)
    }
}

impl Account {
    /// Opens an account with a new allocation group. When the table is full (or the group ids
    /// are exhausted) the account is unmeasured: it reads zero.
    pub fn open() -> Self {
        let token = AllocationGroupToken::register();
        let Some(group) = token.as_ref().map(|t| t.id().as_usize().get()) else {
            return Self {
                token: None,
                meter: Meter {
                    group: 0,
                    slot: None,
                },
            };
        };
        let home = group % SLOTS;
        let slot = (0..SLOTS).find_map(|i| {
            let slot = &TABLE[(home + i) % SLOTS];
            // Claim the slot (no group has this id), reset it, then give it the group, so that
            // the new account starts from zero and no other opening resets it after.
            slot.group
                .compare_exchange(0, CLAIMING, Ordering::AcqRel, Ordering::Relaxed)
                .ok()?;
            slot.live.store(0, Ordering::Relaxed);
            slot.peak.store(0, Ordering::Relaxed);
            slot.group.store(group, Ordering::Release);
            MAX_PROBE.fetch_max(i, Ordering::Relaxed);
            Some(slot)
        });
        Self {
            token,
            meter: Meter { group, slot },
        }
    }

    /// The account's figures.
    pub fn meter(&self) -> Meter {
        self.meter
    }

    /// Bytes the computation holds now.
    pub fn live(&self) -> u64 {
        self.meter.live()
    }

    /// The most bytes the computation held at once.
    pub fn peak(&self) -> u64 {
        self.meter.peak()
    }

    /// Runs `f` on this thread with the account's group entered: every allocation `f` makes on
    /// this thread is counted here until `f` returns (also when it panics).
    pub fn enter<R>(&mut self, f: impl FnOnce() -> R) -> R {
        match self.token.as_mut() {
            Some(token) => {
                let _entered = token.enter();
                f()
            }
            None => f(),
        }
    }
}

impl Drop for Account {
    fn drop(&mut self) {
        if let Some(slot) = self.meter.slot {
            slot.group.store(0, Ordering::Release);
        }
    }
}

/// Runs `f` in a new [`Account`] on this thread and returns its result with the account,
/// still open (its figures readable) until the caller drops it.
pub fn measure<R>(f: impl FnOnce(Meter) -> R) -> (R, Account) {
    let mut account = Account::open();
    let meter = account.meter();
    let out = account.enter(|| f(meter));
    (out, account)
}

#[cfg(test)]
#[global_allocator]
static ALLOCATOR: Allocator = allocator();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allocator_statistics_count_a_held_block_within_active_and_resident_pages() {
        // Other tests allocate and free meanwhile, so only what holds whatever they do is
        // checked: the block is counted while held, and the figures nest.
        let block = std::hint::black_box(vec![1_u8; 64 << 20]);
        let s = allocator_stats().expect("jemalloc answers");
        assert!(s.allocated_bytes >= block.len(), "{s:?}");
        assert!(s.active_bytes >= s.allocated_bytes, "{s:?}");
        assert!(s.resident_bytes >= s.active_bytes, "{s:?}");
    }

    #[test]
    fn an_account_counts_its_threads_allocations_and_a_free_on_another_thread() {
        install();
        let mut account = Account::open();
        assert_eq!(account.live(), 0);
        let block: Vec<u8> = account.enter(|| vec![7_u8; 4 << 20]);
        assert!(
            account.live() >= 4 << 20,
            "the allocation is counted: {account:?}"
        );
        // Allocations outside the group are not.
        let outside = vec![1_u8; 8 << 20];
        assert!(account.live() < 5 << 20, "{account:?}");
        // Freed on another thread, the bytes go back to the account that allocated them.
        std::thread::spawn(move || drop(block))
            .join()
            .expect("the freeing thread");
        assert_eq!(account.live(), 0, "{account:?}");
        assert!(account.peak() >= 4 << 20, "{account:?}");
        drop(outside);
    }

    #[test]
    fn a_closed_account_ignores_late_frees_and_others_are_summed() {
        install();
        let (kept, first) = measure(|_| vec![0_u64; 1 << 16]);
        let (_, second) = measure(|a| {
            let held = vec![0_u8; 2 << 20];
            let live = a.live();
            drop(held);
            live
        });
        assert!(second.peak() >= 2 << 20);
        assert!(first.live() >= 1 << 19);
        drop(first);
        // The result outlived its account; freeing it later changes nothing.
        drop(kept);
        assert_eq!(second.live(), 0, "{second:?}");
    }
}
