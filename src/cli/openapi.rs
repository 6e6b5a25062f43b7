//! `saferplaces openapi`: print the OpenAPI document a server serves.

use std::process::ExitCode;

use super::common::out;

/// `saferplaces openapi`.
pub(crate) fn run() -> anyhow::Result<ExitCode> {
    out(&serde_json::to_string_pretty(
        &crate::api::openapi::document(),
    )?)?;
    Ok(ExitCode::SUCCESS)
}
