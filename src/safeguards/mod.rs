//! Safeguards (safeguards.md): roles and purposes, the access policy, field allowlists,
//! disclosure control of aggregates, the tamper-evident audit log, write-time data rules and
//! retention. Every later feature goes through these mechanisms.

pub mod access_cli;
#[cfg(test)]
mod attack_tests;
pub mod audit;
pub mod audit_checkpoint;
pub mod disclosure;
pub mod equality;
pub mod fields;
pub mod monitor;
pub mod policy;
pub mod releases;
pub mod retention;
pub mod reviews;
pub mod rules;
pub mod sar;
pub mod scope;
pub mod sharing;
pub mod tokens;
