//! saferplaces: contextual-safeguarding spatial intelligence. Places, never children.
//!
//! The crate is organised by domain (style.md rule 1); see `ARCHITECTURE.md` for the code map.

pub mod analysis;
pub mod api;
pub mod background;
pub mod cache;
pub mod cli;
pub mod config;
pub mod connections;
pub mod domain;
pub mod import;
pub mod index;
pub mod ingest;
pub mod jobs;
pub mod safeguards;
pub mod service;
pub mod startup;
pub mod store;
pub mod synthetic;
pub mod telemetry;
pub mod tiles;
