//! Readers for the real formats saferplaces imports, and the West of England area set built
//! from `geodata/`.
//!
//! Parsers are pure functions from bytes to domain records; they never touch a store. Errors
//! name the file, the record (line or feature number, 1-based) and the field.

pub mod agency;
pub mod batch;
pub mod gias;
pub mod gtfs;
pub mod intern;
pub mod lsoa;
pub mod naptan;
pub mod ons;
pub mod police;
pub mod reconcile;
pub mod report;
mod table;
#[cfg(test)]
mod test_support;
pub mod west_of_england;

/// An input record could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The file could not be opened or read.
    #[error("cannot read {file}")]
    Io {
        /// The file.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid for its format as a whole (e.g. not GeoJSON at all).
    #[error("{file}: {reason}")]
    Format {
        /// The file.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// One record has a bad or missing field.
    #[error("{file}: record {record}, field {field}: {reason}")]
    Field {
        /// The file.
        file: String,
        /// Record number, 1-based (line for CSV, feature for GeoJSON).
        record: usize,
        /// The field at fault.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

/// Result alias for ingest.
pub type IngestResult<T> = Result<T, IngestError>;
