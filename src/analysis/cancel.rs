//! Cooperative cancellation of a running analysis (issue 14, point 1): when its request times
//! out or its client goes away, a computation stops at its next checkpoint and frees its
//! memory, instead of running to the end for nobody.
//!
//! The token is ambient to the thread that runs the computation ([`run_with`]), so the pure
//! analysis functions keep their signatures: their long loops call [`checkpoint`], which is a
//! thread-local read and one relaxed atomic load, and returns [`AnalysisError::Cancelled`]
//! once the token is set. Outside [`run_with`] (the CLI, tests, benches) nothing is ever
//! cancelled.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{AnalysisError, AnalysisResult};

/// A cancellation flag shared by a computation and whoever may cancel it.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token not cancelled yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the computation to stop at its next checkpoint.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// True once [`Self::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

thread_local! {
    static CURRENT: RefCell<Option<CancelToken>> = const { RefCell::new(None) };
}

/// Runs `f` on this thread with `token` as the ambient token of every [`checkpoint`] inside it,
/// restoring the previous one afterwards (also when `f` panics).
pub fn run_with<R>(token: &CancelToken, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<CancelToken>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            CURRENT.with(|c| *c.borrow_mut() = previous);
        }
    }
    let previous = CURRENT.with(|c| c.borrow_mut().replace(token.clone()));
    let _restore = Restore(previous);
    f()
}

/// Fails with [`AnalysisError::Cancelled`] when the computation running on this thread was
/// cancelled. Call it in long loops, every few thousand cheap steps or every expensive one.
///
/// # Errors
///
/// [`AnalysisError::Cancelled`] once the ambient token is cancelled.
pub fn checkpoint() -> AnalysisResult<()> {
    if is_cancelled() {
        Err(AnalysisError::Cancelled)
    } else {
        Ok(())
    }
}

/// True when the computation running on this thread was cancelled.
pub fn is_cancelled() -> bool {
    CURRENT.with(|c| c.borrow().as_ref().is_some_and(CancelToken::is_cancelled))
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
}
