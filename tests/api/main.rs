//! Integration tests: the real binary on port 0, queried over HTTP (style.md rule 7).

#![expect(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]

mod endpoints;
mod safeguards;
mod support;
