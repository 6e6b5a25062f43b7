//! The admission layer for expensive computations (issue 14, point 1): area comparisons, hot
//! spots, emerging hot spots, risk windows, and the monthly releases behind aggregate roles'
//! maps and tables (`api::hexagons::admit_months`: the release areas, each cold month and each
//! window's assembly) all run through [`Admission::run`].
//!
//! In order, a request:
//! 1. **shares** the computation of an identical request already running (same key: endpoint,
//!    data version, normalised parameters, disclosure class), awaiting its result instead of
//!    computing again (the endpoints' own caches then serve later requests);
//! 2. is **refused up front** with `422 TOO_EXPENSIVE` when its estimated memory exceeds the
//!    budget of one computation;
//! 3. **queues** for one of its disclosure class's workers (aggregate roles and exact roles
//!    have separate workers, so an anonymous flood cannot starve the analysts), and is refused
//!    with `503 BUSY` and `Retry-After` when the queue is full;
//! 4. **reserves** its estimated memory from the budget of all computations together, waiting
//!    while others hold it;
//! 5. runs on the blocking pool with a [`CancelToken`] and a **measured** account
//!    (`analysis::cancel::run_budgeted`, `analysis::budget`): every allocation it makes on that
//!    thread is counted to it, and every free of that memory on any thread is counted back.
//!    It stops at its next checkpoint (`analysis::cancel`) when its request is dropped (its
//!    timeout fired or its client went away), when its live allocation passes the budget of
//!    one computation (`422 TOO_EXPENSIVE`: the same request would fail again), or when all
//!    running computations together pass the total and it holds most of it (`503 BUSY` with
//!    `Retry-After`: it fitted its own budget and may run once the others are done). Its
//!    worker and reservation are released when it has stopped, not before, and its memory is
//!    freed as it returns.
//!
//! The estimates are deliberately rough upper bounds written next to each endpoint (bytes per
//! cell and step), calibrated on measured peaks: each computation logs its measured peak
//! (`alloc_peak_bytes`) next to its estimate, and `/health` reports the bytes running
//! computations hold (`computations_bytes`). The budgets are on what computations allocate,
//! not the process's resident memory; what a computation leaves in a cache is bounded by that
//! cache.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OnceCell, Semaphore};

use super::{ApiError, ApiResult};
use crate::analysis::cancel::{self, Budget, CancelToken, OverBudget};
pub use crate::config::AdmissionSettings;
use crate::safeguards::policy::DisclosureClass;

/// Flights kept before the abandoned ones are dropped.
const MAX_FLIGHTS: usize = 1024;

/// Seconds a refused client is asked to wait before retrying.
pub const RETRY_AFTER_SECS: u32 = 2;

/// What one request asks of the admission layer.
#[derive(Debug, Clone)]
pub struct Work {
    /// Identical requests share one computation: the endpoint, the data version, the
    /// normalised parameters and the disclosure class, as text.
    pub key: String,
    /// Whose workers run it.
    pub class: DisclosureClass,
    /// Upper estimate of the memory it allocates, bytes.
    pub estimate_bytes: u64,
}

/// About how many H3 cells of `res` cover the study area (`api::STUDY_AREA`): its box's area
/// over the mean cell area, rounded up.
pub fn study_area_cells(res: h3o::Resolution) -> u64 {
    let [west, south, east, north] = super::STUDY_AREA;
    let km_per_deg_lat = 111.2;
    let km_per_deg_lon = km_per_deg_lat * f64::midpoint(south, north).to_radians().cos();
    let area_km2 = (east - west) * km_per_deg_lon * (north - south) * km_per_deg_lat;
    // Bounded: at most 2.8e3 km² over res-15 cells (about 9e-7 km²) is about 3e9.
    (area_km2 / res.area_km2()).ceil() as u64
}

/// One class's workers and queue.
#[derive(Debug)]
struct Gate {
    workers: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
}

impl Gate {
    fn new(workers: u32, queue: u32) -> Self {
        Self {
            workers: Arc::new(Semaphore::new(workers.max(1) as usize)),
            waiting: AtomicUsize::new(0),
            queue: queue as usize,
        }
    }
}

/// A computation in flight, shared by the identical requests awaiting it.
type Flight = Arc<OnceCell<Arc<dyn Any + Send + Sync>>>;

/// The admission layer: one per server, in `AppState`.
#[derive(Debug)]
pub struct Admission {
    settings: AdmissionSettings,
    aggregate: Gate,
    exact: Gate,
    memory: Arc<Semaphore>,
    flights: Mutex<HashMap<String, Flight>>,
    running: Arc<AtomicUsize>,
}

impl Default for Admission {
    fn default() -> Self {
        Self::new(AdmissionSettings::default())
    }
}

/// Decrements a counter when dropped.
struct Decrement<'a>(&'a AtomicUsize);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Cancels its token when dropped, unless disarmed (the computation finished).
struct CancelOnDrop(Option<CancelToken>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(token) = self.0.take() {
            token.cancel();
        }
    }
}

impl Admission {
    /// An admission layer with `settings`.
    pub fn new(settings: AdmissionSettings) -> Self {
        Self {
            settings,
            aggregate: Gate::new(settings.workers_per_class, settings.queue_per_class),
            exact: Gate::new(settings.workers_per_class, settings.queue_per_class),
            memory: Arc::new(Semaphore::new(settings.memory_total_mib.max(1) as usize)),
            flights: Mutex::new(HashMap::new()),
            running: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Computations running now (on the blocking pool, including cancelled ones not yet
    /// stopped at a checkpoint).
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Runs `compute` for `work` under the layer's rules (module docs), sharing the result of
    /// an identical request in flight.
    ///
    /// # Errors
    ///
    /// [`ApiError::TooExpensive`] over the per-computation budget, [`ApiError::Busy`] when the
    /// class's queue is full, and whatever `compute` returns.
    pub async fn run<T, F>(&self, work: Work, compute: F) -> ApiResult<Arc<T>>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> ApiResult<T> + Send + 'static,
    {
        let flight = {
            let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
            // A flight whose requests all went away stays behind empty; drop such flights
            // before the map grows.
            if flights.len() >= MAX_FLIGHTS {
                flights.retain(|_, f| Arc::strong_count(f) > 1);
            }
            Arc::clone(flights.entry(work.key.clone()).or_default())
        };
        let result = flight
            .get_or_try_init(|| async {
                let value = self.admit_and_compute(&work, compute).await?;
                Ok::<_, ApiError>(value as Arc<dyn Any + Send + Sync>)
            })
            .await
            .map(Arc::clone);
        // The flight ends with its result (or its failure); later identical requests use the
        // endpoint's own cache or start a new flight.
        {
            let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
            if flights
                .get(&work.key)
                .is_some_and(|f| Arc::ptr_eq(f, &flight) && (f.initialized() || result.is_err()))
            {
                flights.remove(&work.key);
            }
        }
        result?.downcast::<T>().map_err(|_| {
            ApiError::internal(std::io::Error::other(format!(
                "two endpoints share the admission key {}",
                work.key
            )))
        })
    }

    async fn admit_and_compute<T, F>(&self, work: &Work, compute: F) -> ApiResult<Arc<T>>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> ApiResult<T> + Send + 'static,
    {
        let per_computation_bytes = u64::from(self.settings.memory_per_computation_mib) << 20;
        if work.estimate_bytes > per_computation_bytes {
            return Err(ApiError::TooExpensive(format!(
                "this request would need about {} MiB, more than the {} MiB one computation may \
                 use: ask for a shorter window, a coarser resolution or monthly steps",
                work.estimate_bytes.div_ceil(1 << 20),
                self.settings.memory_per_computation_mib
            )));
        }
        let gate = match work.class {
            DisclosureClass::Controlled => &self.aggregate,
            DisclosureClass::Exact => &self.exact,
        };
        if gate.waiting.fetch_add(1, Ordering::SeqCst) >= gate.queue
            && gate.workers.available_permits() == 0
        {
            gate.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(ApiError::Busy {
                retry_after_secs: RETRY_AFTER_SECS,
            });
        }
        let worker = {
            let _waiting = Decrement(&gate.waiting);
            Arc::clone(&gate.workers)
                .acquire_owned()
                .await
                .map_err(ApiError::internal)?
        };
        let mib = u32::try_from(work.estimate_bytes.div_ceil(1 << 20))
            .unwrap_or(u32::MAX)
            .clamp(1, self.settings.memory_total_mib.max(1));
        let memory = Arc::clone(&self.memory)
            .acquire_many_owned(mib)
            .await
            .map_err(ApiError::internal)?;
        let token = CancelToken::new();
        let mut guard = CancelOnDrop(Some(token.clone()));
        let running = Arc::clone(&self.running);
        running.fetch_add(1, Ordering::SeqCst);
        let span = tracing::Span::current();
        let limits = Budget {
            per_computation: per_computation_bytes,
            total: u64::from(self.settings.memory_total_mib.max(1)) << 20,
        };
        let (key, estimate) = (work.key.clone(), work.estimate_bytes);
        let stopped = token.clone();
        let handle = tokio::task::spawn_blocking(move || {
            // The worker and the memory are released when the computation has stopped.
            let _held = (worker, memory, Decrement(&running));
            span.in_scope(|| {
                let (result, peak) = cancel::run_budgeted(&token, limits, compute);
                // Measured, not estimated: what the computation held at most at once.
                tracing::info!(
                    key = %key,
                    alloc_peak_bytes = peak,
                    estimate_bytes = estimate,
                    over_budget = ?token.over_budget(),
                    "computation ended"
                );
                result
            })
        });
        let outcome = handle.await;
        guard.0 = None;
        if let Some(why) = stopped.over_budget() {
            return Err(over_budget_error(why));
        }
        match outcome {
            Ok(result) => result.map(Arc::new),
            Err(join) => Err(ApiError::internal(join)),
        }
    }
}

/// The answer to a computation stopped on its measured memory: `422` over its own budget (the
/// same request would fail again), `503` with `Retry-After` over the total (it fitted its own
/// budget; it may run once the others have finished).
fn over_budget_error(why: OverBudget) -> ApiError {
    match why {
        OverBudget::Own { used, limit } => ApiError::TooExpensive(format!(
            "this request used more than {} MiB (measured), more than the {} MiB one \
             computation may use, and was stopped: ask for a shorter window, a coarser \
             resolution or monthly steps",
            used >> 20,
            limit >> 20
        )),
        OverBudget::Total { used, limit, own } => {
            tracing::warn!(
                used,
                limit,
                own,
                "the computations together passed their memory budget; the largest was stopped"
            );
            ApiError::Busy {
                retry_after_secs: RETRY_AFTER_SECS,
            }
        }
    }
}

/// Bytes held now by running computations, measured (zero where the tracking allocator is not
/// installed).
pub fn measured_in_use() -> u64 {
    crate::analysis::budget::in_use()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Waits (on a computation's thread) until `flag` is set, at most ten seconds: a test that
    /// fails before setting it then fails instead of hanging, as its runtime waits for every
    /// blocking task when it shuts down.
    fn wait_for(flag: &std::sync::atomic::AtomicBool) {
        for _ in 0..1000 {
            if flag.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn work(key: &str, class: DisclosureClass) -> Work {
        Work {
            key: key.to_owned(),
            class,
            estimate_bytes: 1 << 20,
        }
    }

    /// Waits (outside the runtime's workers) until `f` holds, at most five seconds.
    async fn eventually(f: impl Fn() -> bool) -> bool {
        for _ in 0..500 {
            if f() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn identical_concurrent_requests_share_one_computation() {
        let admission = Arc::new(Admission::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (admission, calls) = (Arc::clone(&admission), Arc::clone(&calls));
            tasks.push(tokio::spawn(async move {
                admission
                    .run(work("k", DisclosureClass::Controlled), move || {
                        calls.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(200));
                        Ok(42_u32)
                    })
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(*t.await.unwrap().unwrap(), 42);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(admission.flights.lock().unwrap().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_is_refused_with_busy_and_the_other_class_still_runs() {
        let admission = Arc::new(Admission::new(AdmissionSettings {
            workers_per_class: 1,
            queue_per_class: 1,
            ..AdmissionSettings::default()
        }));
        // Not a barrier: a blocking task that never returns would keep the test's runtime from
        // shutting down, so a failed assertion below would hang the test run instead of failing.
        let release = Arc::new(std::sync::atomic::AtomicBool::new(false));
        // One running, one queued.
        let mut held = Vec::new();
        for k in 0..2 {
            let (admission, release) = (Arc::clone(&admission), Arc::clone(&release));
            held.push(tokio::spawn(async move {
                admission
                    .run(
                        work(&format!("slow{k}"), DisclosureClass::Controlled),
                        move || {
                            if k == 0 {
                                wait_for(&release);
                            }
                            Ok(k)
                        },
                    )
                    .await
            }));
        }
        assert!(eventually(|| admission.running() == 1).await);
        assert!(
            eventually(|| admission.aggregate.waiting.load(Ordering::SeqCst) == 1).await,
            "the second request waits"
        );
        let refused = admission
            .run(work("third", DisclosureClass::Controlled), || Ok(3))
            .await;
        assert!(
            matches!(refused, Err(ApiError::Busy { retry_after_secs }) if retry_after_secs > 0),
            "{refused:?}"
        );
        let other = admission
            .run(work("analyst", DisclosureClass::Exact), || Ok(4))
            .await;
        assert_eq!(*other.unwrap(), 4, "the exact class has its own workers");
        release.store(true, Ordering::SeqCst);
        for t in held {
            t.await.unwrap().unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_request_cancels_its_computation_and_frees_its_worker() {
        let admission = Arc::new(Admission::new(AdmissionSettings {
            workers_per_class: 1,
            ..AdmissionSettings::default()
        }));
        let stopped = Arc::new(AtomicUsize::new(0));
        let task = {
            let (admission, stopped) = (Arc::clone(&admission), Arc::clone(&stopped));
            tokio::spawn(async move {
                admission
                    .run(work("long", DisclosureClass::Exact), move || {
                        // A long analysis with checkpoints.
                        loop {
                            if cancel::checkpoint().is_err() {
                                stopped.fetch_add(1, Ordering::SeqCst);
                                return Err::<(), _>(ApiError::internal(std::io::Error::other(
                                    "cancelled",
                                )));
                            }
                            std::thread::sleep(Duration::from_millis(5));
                        }
                    })
                    .await
            })
        };
        assert!(eventually(|| admission.running() == 1).await);
        task.abort();
        assert!(
            eventually(|| admission.running() == 0).await,
            "the computation stopped"
        );
        assert_eq!(stopped.load(Ordering::SeqCst), 1);
        // Its worker is free again.
        let next = admission
            .run(work("next", DisclosureClass::Exact), || Ok(7))
            .await;
        assert_eq!(*next.unwrap(), 7);
    }

    #[tokio::test]
    async fn a_computation_over_its_memory_budget_is_refused_before_it_starts() {
        let admission = Admission::default();
        let mut w = work("huge", DisclosureClass::Exact);
        w.estimate_bytes = 4 << 30;
        let out = admission
            .run(w, || -> ApiResult<u32> { panic!("must not run") })
            .await;
        assert!(matches!(out, Err(ApiError::TooExpensive(_))), "{out:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_the_total_the_heaviest_computation_is_stopped_with_busy_and_the_other_goes_on() {
        crate::analysis::budget::install();
        // 16 MiB for all together, 12 MiB for one: each below its own budget, together over
        // (with room for the few MiB of other tests measured at the same time).
        let admission = Arc::new(Admission::new(AdmissionSettings {
            workers_per_class: 2,
            queue_per_class: 2,
            memory_total_mib: 16,
            memory_per_computation_mib: 12,
        }));
        // Both computations hold their memory at once (a count, not a barrier: see
        // `wait_for`).
        let both_hold = Arc::new(AtomicUsize::new(0));
        let heavy_stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let spawn = |key: &'static str, mib: usize| {
            let (admission, both_hold, heavy_stopped) = (
                Arc::clone(&admission),
                Arc::clone(&both_hold),
                Arc::clone(&heavy_stopped),
            );
            tokio::spawn(async move {
                admission
                    .run(work(key, DisclosureClass::Controlled), move || {
                        let held = vec![1_u8; mib << 20];
                        both_hold.fetch_add(1, Ordering::SeqCst);
                        for _ in 0..1000 {
                            if both_hold.load(Ordering::SeqCst) >= 2 {
                                break;
                            }
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        if mib > 8 {
                            // The heavy one: stopped at its next checkpoint.
                            for _ in 0..500 {
                                if cancel::checkpoint().is_err() {
                                    heavy_stopped.store(true, Ordering::SeqCst);
                                    return Err(ApiError::internal(std::io::Error::other(
                                        "stopped",
                                    )));
                                }
                                std::thread::sleep(Duration::from_millis(10));
                            }
                            return Ok(held.len());
                        }
                        // The light one waits for the heavy one to stop, then fits.
                        for _ in 0..500 {
                            if heavy_stopped.load(Ordering::SeqCst) {
                                break;
                            }
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        std::thread::sleep(Duration::from_millis(50));
                        cancel::checkpoint().map_err(ApiError::internal)?;
                        Ok(held.len())
                    })
                    .await
            })
        };
        let heavy = spawn("heavy", 10);
        let light = spawn("light", 7);
        let heavy = heavy.await.unwrap();
        assert!(
            matches!(heavy, Err(ApiError::Busy { retry_after_secs }) if retry_after_secs > 0),
            "{heavy:?}"
        );
        assert_eq!(*light.await.unwrap().unwrap(), 7 << 20);
        assert!(eventually(|| admission.running() == 0).await);
    }

    #[tokio::test]
    async fn past_its_own_budget_a_computation_is_stopped_with_too_expensive() {
        crate::analysis::budget::install();
        let admission = Admission::new(AdmissionSettings {
            memory_total_mib: 64,
            memory_per_computation_mib: 2,
            ..AdmissionSettings::default()
        });
        // Estimated at 1 MiB, so admitted; it allocates 3.
        let out = admission
            .run(work("underestimated", DisclosureClass::Exact), || {
                let held = vec![1_u8; 3 << 20];
                cancel::checkpoint().map_err(ApiError::internal)?;
                Ok(held.len())
            })
            .await;
        assert!(
            matches!(&out, Err(ApiError::TooExpensive(m)) if m.contains("measured")),
            "{out:?}"
        );
    }
}
