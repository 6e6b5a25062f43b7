//! `saferplaces migrate`: applies the PostgreSQL migrations (issue 16).

use std::process::ExitCode;

use super::common::{out, settings};
use crate::store::postgres;

/// `saferplaces migrate`: the database is named by `SAFERPLACES_DATABASE_URL` only (it may
/// hold a password, which a flag would show in the process list).
pub(crate) fn run() -> anyhow::Result<ExitCode> {
    let s = settings(None, None)?;
    let Some(url) = s.database_url else {
        anyhow::bail!(
            "SAFERPLACES_DATABASE_URL is not set: `saferplaces migrate` applies the PostgreSQL \
             migrations to the database it names (a libpq connection string or postgres:// URL). \
             The embedded SQLite store needs no migrate: it migrates itself when opened"
        );
    };
    let report = postgres::migrate(url.expose())?;
    for name in &report.applied {
        out(&format!("applied {name}"))?;
    }
    if report.applied.is_empty() {
        out(&format!("up to date at version {}", report.version))?;
    } else {
        out(&format!("now at version {}", report.version))?;
    }
    Ok(ExitCode::SUCCESS)
}
