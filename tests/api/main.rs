//! Integration tests: the real binary on port 0, queried over HTTP (style.md rule 7).

#![expect(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]
#![expect(
    clippy::print_stderr,
    reason = "tests print why they skip when ../shared is absent"
)]

mod access;
mod admission;
mod analyse;
mod analytics;
mod audit_trail;
mod connections;
mod contract;
mod differencing;
mod endpoints;
mod equality;
mod erasure;
mod import;
mod incident_cli;
mod incremental;
mod integrity;
mod oracles;
mod pg_audit;
mod pg_cluster;
mod pg_replicas;
mod pg_schema;
mod reviews;
mod rules;
mod safeguards;
mod sar;
mod storage_errors;
mod support;
mod tiles;
mod tokens;
mod write_errors;
