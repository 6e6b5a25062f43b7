//! The process's open-file limit: raised at start as far as allowed, and the connection cap
//! derived from it.
//!
//! Every connection holds one file descriptor. Without a cap below the open-file limit, enough
//! idle clients leave no descriptor for `accept`, the store or the audit log, and the server
//! stops accepting anyone (issue 14's 1,100 silent connections against a limit of 1,024).

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Descriptors kept back from connections for the store, the audit log, static files, the
/// listener, refusals in progress and the runtime itself.
pub const RESERVED_FILES: u64 = 128;

/// The default cap's ceiling: beyond this many connections the 2-core machine the service is
/// sized for is saturated long before descriptors run out.
pub const MAX_DEFAULT_CONNECTIONS: u64 = 4096;

/// The open-file limit after [`raise_soft_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    /// The soft limit in force; `None` is unlimited.
    pub soft: Option<u64>,
    /// The hard limit; `None` is unlimited.
    pub hard: Option<u64>,
    /// The soft limit before it was raised, when it was.
    pub raised_from: Option<u64>,
}

/// Raises the soft open-file limit to the hard limit where the system allows it, and returns
/// the limit in force. An unlimited hard limit is approached through finite steps (Linux caps
/// descriptors at `fs.nr_open`, macOS at `OPEN_MAX`). A refusal is logged and leaves the limit
/// as it was.
pub fn raise_soft_limit() -> OpenFiles {
    let before = getrlimit(Resource::Nofile);
    let unchanged = OpenFiles {
        soft: before.current,
        hard: before.maximum,
        raised_from: None,
    };
    let Some(soft) = before.current else {
        return unchanged;
    };
    let targets: &[u64] = match before.maximum {
        Some(hard) => &[hard],
        None => &[1 << 20, 10_240],
    };
    let mut refusal = None;
    for &target in targets.iter().filter(|&&t| t > soft) {
        let raised = Rlimit {
            current: Some(target),
            maximum: before.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => {
                let after = getrlimit(Resource::Nofile);
                return OpenFiles {
                    soft: after.current,
                    hard: after.maximum,
                    raised_from: Some(soft),
                };
            }
            Err(e) => refusal = Some(e),
        }
    }
    if let Some(e) = refusal {
        tracing::warn!(
            error = %e,
            soft,
            hard = ?before.maximum,
            "could not raise the open-file soft limit; keeping it"
        );
    }
    unchanged
}

/// The default connection cap for a soft open-file limit: all but [`RESERVED_FILES`]
/// descriptors, half of them when the limit is too small for that, at most
/// [`MAX_DEFAULT_CONNECTIONS`], and at least 1.
pub fn connection_cap(soft: Option<u64>) -> usize {
    let cap = match soft {
        None => MAX_DEFAULT_CONNECTIONS,
        Some(soft) if soft >= 2 * RESERVED_FILES => {
            (soft - RESERVED_FILES).min(MAX_DEFAULT_CONNECTIONS)
        }
        Some(soft) => soft / 2,
    };
    usize::try_from(cap.max(1)).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_descriptors_for_everything_else_and_stays_bounded() {
        assert_eq!(connection_cap(Some(1024)), 896);
        assert_eq!(connection_cap(Some(64)), 32);
        assert_eq!(connection_cap(Some(1)), 1);
        assert_eq!(connection_cap(Some(0)), 1);
        assert_eq!(connection_cap(Some(1 << 20)), 4096);
        assert_eq!(connection_cap(None), 4096);
        for soft in 1..3000 {
            let cap = connection_cap(Some(soft)) as u64;
            assert!(
                cap <= soft.max(1) && (soft < 4 || cap < soft),
                "{soft}: {cap}"
            );
        }
    }

    #[test]
    fn raising_leaves_the_soft_limit_at_most_the_hard_limit() {
        let files = raise_soft_limit();
        if let (Some(soft), Some(hard)) = (files.soft, files.hard) {
            assert!(soft <= hard);
        }
        // A second call finds nothing more to raise.
        assert_eq!(raise_soft_limit().raised_from, None);
    }
}
