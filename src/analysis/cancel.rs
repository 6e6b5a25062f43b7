//! Cooperative cancellation of a running analysis (issue 14, point 1): when its request times
//! out or its client goes away, a computation stops at its next checkpoint and frees its
//! memory, instead of running to the end for nobody.
//!
//! The token is ambient to the thread that runs the computation ([`run_with`]), so the pure
//! analysis functions keep their signatures: their long loops call [`checkpoint`], which is a
//! thread-local read and one relaxed atomic load, and returns [`AnalysisError::Cancelled`]
//! once the token is set. Outside [`run_with`] (the CLI, tests, benches) nothing is ever
//! cancelled.
//!
//! A computation run with [`run_budgeted`] is also stopped at its next checkpoint when its
//! measured memory (`analysis::budget`) passes its own budget, or when all running
//! computations together pass the total and it is the one holding most; the token then says
//! which ([`CancelToken::over_budget`]), so the admission layer answers `422` or `503`.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use super::budget::{self, Meter};
use super::{AnalysisError, AnalysisResult};

/// The memory budgets a computation runs under, bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// What the computation itself may hold.
    pub per_computation: u64,
    /// What all running computations may hold together.
    pub total: u64,
}

/// Why a computation was stopped on its memory budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverBudget {
    /// It held `used` bytes, more than the `limit` one computation may hold.
    Own {
        /// Bytes it held, measured.
        used: u64,
        /// The budget of one computation.
        limit: u64,
    },
    /// All running computations held `used` bytes together, more than the `limit`, and this
    /// one held most of them (`own`).
    Total {
        /// Bytes all held together, measured.
        used: u64,
        /// The budget of all computations together.
        limit: u64,
        /// Bytes this computation held.
        own: u64,
    },
}

#[derive(Debug, Default)]
struct TokenState {
    cancelled: AtomicBool,
    over: OnceLock<OverBudget>,
}

/// A cancellation flag shared by a computation and whoever may cancel it.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<TokenState>);

impl CancelToken {
    /// A token not cancelled yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the computation to stop at its next checkpoint.
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::Relaxed);
    }

    /// True once [`Self::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::Relaxed)
    }

    /// Why the computation was stopped on its memory budgets, if it was.
    pub fn over_budget(&self) -> Option<OverBudget> {
        self.0.over.get().copied()
    }

    /// Stops the computation for `why`.
    fn stop_over_budget(&self, why: OverBudget) {
        // The first reason stands.
        let _ = self.0.over.set(why);
        self.cancel();
    }
}

/// What a checkpoint consults: the token, and the account and budgets of a budgeted run.
#[derive(Clone)]
struct Ambient {
    token: CancelToken,
    budget: Option<(Meter, Budget)>,
}

thread_local! {
    static CURRENT: RefCell<Option<Ambient>> = const { RefCell::new(None) };
}

fn run_in<R>(ambient: Ambient, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Ambient>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            CURRENT.with(|c| *c.borrow_mut() = previous);
        }
    }
    let previous = CURRENT.with(|c| c.borrow_mut().replace(ambient));
    let _restore = Restore(previous);
    f()
}

/// Runs `f` on this thread with `token` as the ambient token of every [`checkpoint`] inside it,
/// restoring the previous one afterwards (also when `f` panics).
pub fn run_with<R>(token: &CancelToken, f: impl FnOnce() -> R) -> R {
    run_in(
        Ambient {
            token: token.clone(),
            budget: None,
        },
        f,
    )
}

/// [`run_with`] that also measures what `f` allocates on this thread in a new account
/// (`analysis::budget`) and stops it at a checkpoint past `limits` (the token then says why:
/// [`CancelToken::over_budget`]). Returns `f`'s result and the most bytes it held at once.
pub fn run_budgeted<R>(token: &CancelToken, limits: Budget, f: impl FnOnce() -> R) -> (R, u64) {
    let (out, account) = budget::measure(|meter| {
        run_in(
            Ambient {
                token: token.clone(),
                budget: Some((meter, limits)),
            },
            f,
        )
    });
    (out, account.peak())
}

/// Fails with [`AnalysisError::Cancelled`] when the computation running on this thread was
/// cancelled. Call it in long loops, every few thousand cheap steps or every expensive one.
///
/// In a budgeted run it also checks the measured memory: over the computation's own budget, or
/// over the total while this computation holds most, it cancels the token with the reason.
///
/// # Errors
///
/// [`AnalysisError::Cancelled`] once the ambient token is cancelled or a budget is exceeded.
pub fn checkpoint() -> AnalysisResult<()> {
    if is_cancelled() {
        Err(AnalysisError::Cancelled)
    } else {
        Ok(())
    }
}

/// True when the computation running on this thread was cancelled, or is now past its memory
/// budgets (which cancels it).
pub fn is_cancelled() -> bool {
    CURRENT.with(|c| {
        let current = c.borrow();
        let Some(ambient) = current.as_ref() else {
            return false;
        };
        if ambient.token.is_cancelled() {
            return true;
        }
        let Some((meter, limits)) = ambient.budget else {
            return false;
        };
        // Its own budget is on the most it has held at once (a transient peak between two
        // checkpoints counts: a buffer copied while it grows held both copies); the total is
        // on what all computations hold now.
        let own = meter.peak();
        let over = if own > limits.per_computation {
            Some(OverBudget::Own {
                used: own,
                limit: limits.per_computation,
            })
        } else {
            let used = budget::in_use();
            (used > limits.total && meter.is_heaviest()).then_some(OverBudget::Total {
                used,
                limit: limits.total,
                own,
            })
        };
        over.inspect(|&why| ambient.token.stop_over_budget(why))
            .is_some()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_fails_only_inside_a_cancelled_run() {
        assert!(checkpoint().is_ok(), "no token: never cancelled");
        let token = CancelToken::new();
        run_with(&token, || {
            assert!(checkpoint().is_ok());
            token.cancel();
            assert!(matches!(checkpoint(), Err(AnalysisError::Cancelled)));
        });
        assert!(checkpoint().is_ok(), "the token ends with its run");
    }

    #[test]
    fn runs_nest_and_restore_the_outer_token() {
        let outer = CancelToken::new();
        let inner = CancelToken::new();
        inner.cancel();
        run_with(&outer, || {
            run_with(&inner, || assert!(is_cancelled()));
            assert!(!is_cancelled());
        });
    }

    #[test]
    fn a_budgeted_run_stops_at_a_checkpoint_past_its_own_budget_and_says_why() {
        budget::install();
        let token = CancelToken::new();
        let limits = Budget {
            per_computation: 1 << 20,
            total: 1 << 40,
        };
        let (outcome, peak) = run_budgeted(&token, limits, || {
            let small = vec![1_u8; 1 << 10];
            checkpoint()?;
            let large = vec![1_u8; 4 << 20];
            let stopped = checkpoint();
            drop((small, large));
            stopped
        });
        assert!(
            matches!(outcome, Err(AnalysisError::Cancelled)),
            "{outcome:?}"
        );
        assert!(peak >= 4 << 20, "{peak}");
        assert!(
            matches!(token.over_budget(), Some(OverBudget::Own { used, limit })
                if used >= 4 << 20 && limit == 1 << 20),
            "{:?}",
            token.over_budget()
        );
    }
}
