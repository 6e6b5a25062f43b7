//! Analyses over the indexes: pure, synchronous functions from an index snapshot and a query to
//! plain values. Disclosure control is applied by the caller (the API) for aggregate roles.
//!
//! Hot spot analytics (issue 6) follow `analytics.md` exactly and describe **places and
//! times, never people**: every function here takes cells, points and days only.
//!
//! | Module | What | analytics.md |
//! |---|---|---|
//! | [`gistar`] | study-area cell universes, H3 neighbours, Getis-Ord Gi\* with bins | §1 |
//! | [`fdr`] | confidence bins, Benjamini–Hochberg as `ArcGIS` applies it | §1.2, §1.3 |
//! | [`kde`] | quartic kernel density, `ArcGIS` normalisation and default radius | §4 |
//! | [`mann_kendall`] | Mann–Kendall trend test with tie correction | §2.3 |
//! | [`ehsa`] | space-time cube, space-time Gi\*, the 17 emerging hot spot categories, before/after | §2 |
//! | [`rri`] | Relative Rate Index and its 95 % interval, the S22 trigger | safeguards.md S22 |
//! | [`knox`] | multi-band Knox with Monte Carlo (correct and NRC modes), global Knox, risk windows | §5 |
//!
//! Every result carries its settings (serde `Serialize` structs) so that a number can always
//! be traced back to how it was computed (`analytics.md` §11).

pub mod areas;
pub mod budget;
pub mod cancel;
pub mod close_pairs;
pub mod ehsa;
pub mod fdr;
pub mod gistar;
pub mod kde;
pub mod knox;
pub mod mann_kendall;
pub mod risk;
pub mod rri;

#[cfg(test)]
#[path = "reference_tests.rs"]
mod reference_tests;

/// The software version echoed in every analysis result.
pub const SOFTWARE_VERSION: &str = concat!("saferplaces ", env!("CARGO_PKG_VERSION"));

/// Why an analysis could not run. Validation problems name the setting at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AnalysisError {
    /// A setting was outside its allowed range; `field` names the setting.
    #[error("invalid {field}: {reason}")]
    InvalidSetting {
        /// The setting, e.g. `k` or `radius_m`.
        field: &'static str,
        /// Why it was refused, written for the person who supplied it.
        reason: String,
    },
    /// The analysis needs data and got none (or none inside the study area).
    #[error("no data: {0}")]
    NoData(String),
    /// The data are degenerate for this method (e.g. every point in the same place, so the
    /// default kernel radius is zero); the message says what to supply instead.
    #[error("degenerate input: {0}")]
    Degenerate(String),
    /// A study area would hold more cells than the limit, usually from one stray point or too
    /// fine a resolution.
    #[error("the study area holds more than {limit} cells at resolution {res}")]
    TooManyCells {
        /// The limit that was exceeded.
        limit: usize,
        /// The H3 resolution asked for.
        res: u8,
    },
    /// A point could not be projected to the British National Grid (it is off the grid).
    #[error("point {index} cannot be projected to the British National Grid: {reason}")]
    Projection {
        /// Position of the point in the input.
        index: usize,
        /// Why the projection failed.
        reason: String,
    },
    /// Two inputs that must line up (cells and values, cells of one resolution) do not.
    #[error("inputs do not match: {0}")]
    Mismatch(String),
    /// An input file could not be read or parsed (CLI only); `line` is 1-based when known.
    #[error("{file}{}: {reason}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Input {
        /// The file.
        file: String,
        /// The line, when the problem is on one line.
        line: Option<u64>,
        /// What is wrong.
        reason: String,
    },
    /// The computation was cancelled (its request timed out or its client went away;
    /// [`cancel`]).
    #[error("cancelled")]
    Cancelled,
}

impl AnalysisError {
    /// Builds an [`AnalysisError::InvalidSetting`].
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidSetting {
            field,
            reason: reason.into(),
        }
    }
}

/// Result alias for analyses.
pub type AnalysisResult<T> = Result<T, AnalysisError>;

/// Serialises an H3 cell as its 15-character lower-case hex id (as h3-py and `api.md` print it).
#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's serialize_with passes a reference"
)]
pub(crate) fn serialize_cell<S: serde::Serializer>(
    cell: &h3o::CellIndex,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(cell)
}
