//! Threads for background work that must yield to queries: the incident merge and the
//! near-repeat calibration (issue 15, point 3: tile throughput during a merge stays within 20 %
//! of steady).
//!
//! Each runs on its own named thread at the lowest scheduling priority (nice 19). Linux keeps
//! the nice value per thread, so the request threads (tokio workers and its blocking pool)
//! keep theirs: when every core is busy, the scheduler gives a nice-19 thread about 1.5 % of a
//! core against a nice-0 one, and the background work takes the idle time instead. Under a
//! sustained saturating load a merge therefore takes longer (new imports are served as runs in
//! the meantime, so freshness does not depend on it). Dedicated threads rather than the tokio
//! blocking pool: a pooled thread would keep the lowered priority for the requests it runs
//! next, and an unprivileged process cannot raise it again.
//!
//! They also take turns: one background job works at a time ([`LANE`]), the others wait on
//! their threads. Each job's working memory is bounded on its own (a merge step holds one new
//! chunk, a calibration its events, sample and pair budget, a save a write buffer); taking
//! turns keeps the server's peak during an update at the largest of them rather than their
//! sum (issue 15, point 2). Nothing waits for a background job while holding the lane.

use std::sync::{Mutex, PoisonError};

use std::io;
use std::thread::JoinHandle;

/// The nice value of background threads: the lowest priority.
pub const BACKGROUND_NICE: i32 = 19;

/// Held by the background job working now.
static LANE: Mutex<()> = Mutex::new(());

/// Starts `work` on a new thread named `name` at [`BACKGROUND_NICE`]. A failure to lower the
/// priority is logged and the work runs anyway (it is still correct, only less polite).
///
/// # Errors
/// The operating system's error when the thread cannot be created.
pub fn spawn<T, F>(name: &str, work: F) -> io::Result<JoinHandle<T>>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let thread_name = name.to_owned();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            lower_priority(&thread_name);
            // A job that panicked left nothing behind the lock guards.
            let _turn = LANE.lock().unwrap_or_else(PoisonError::into_inner);
            work()
        })
}

/// Lowers the calling thread's priority to [`BACKGROUND_NICE`].
fn lower_priority(name: &str) {
    let result = rustix::process::getpriority_process(None).and_then(|now| {
        if now >= BACKGROUND_NICE {
            return Ok(now);
        }
        rustix::process::nice(BACKGROUND_NICE - now)
    });
    if let Err(e) = result {
        tracing::warn!(thread = name, error = %e, "cannot lower a background thread's priority");
    }
}

/// Runs `work` on a background thread and awaits its result without blocking the runtime.
///
/// # Errors
/// The operating system's error when the thread cannot be created, or
/// [`io::ErrorKind::Other`] when the work panicked.
pub async fn run<T, F>(name: &str, work: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (send, receive) = tokio::sync::oneshot::channel();
    spawn(name, move || {
        // The receiver may be gone (server shutting down): nothing to report then.
        let _ = send.send(work());
    })?;
    receive
        .await
        .map_err(|_| io::Error::other(format!("background thread {name} stopped without a result")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn background_work_runs_at_the_lowest_priority_and_leaves_the_caller_alone() {
        let before = rustix::process::getpriority_process(None).expect("own priority");
        let seen = spawn("test-background", || {
            rustix::process::getpriority_process(None).expect("thread priority")
        })
        .expect("spawn")
        .join()
        .expect("join");
        assert_eq!(seen, BACKGROUND_NICE);
        assert_eq!(
            rustix::process::getpriority_process(None).expect("own priority"),
            before,
            "the spawning thread keeps its priority"
        );
    }

    #[test]
    fn background_jobs_take_turns() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let (working, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let jobs: Vec<_> = (0..3)
            .map(|i| {
                let (working, most) = (Arc::clone(&working), Arc::clone(&most));
                spawn(&format!("test-turns-{i}"), move || {
                    let now = working.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    working.fetch_sub(1, Ordering::SeqCst);
                })
                .expect("spawn")
            })
            .collect();
        for job in jobs {
            job.join().expect("join");
        }
        assert_eq!(
            most.load(Ordering::SeqCst),
            1,
            "no two background jobs work at once"
        );
    }

    #[test]
    fn a_panicking_job_does_not_stop_the_next() {
        let failed = spawn("test-turns-panic", || -> u8 { panic!("boom") }).expect("spawn");
        assert!(failed.join().is_err());
        let next = spawn("test-turns-after", || 7_u8).expect("spawn");
        assert_eq!(next.join().expect("join"), 7);
    }

    #[tokio::test]
    async fn run_returns_the_result_and_reports_a_panic() {
        assert_eq!(run("test-ok", || 6 * 7).await.expect("result"), 42);
        let err = run("test-panic", || -> u8 { panic!("boom") })
            .await
            .expect_err("a panic is an error");
        assert!(err.to_string().contains("test-panic"), "{err}");
    }
}
