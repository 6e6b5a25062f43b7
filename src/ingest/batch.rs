//! The records of one imported file, as the importers build them and the store writes them
//! in one transaction ([`crate::store::Store::write_import`]). Every importer fills the same
//! batch; the store re-exports these types.

/// The file an import batch came from (formats.md §0: name, hash, import time); each row
/// records its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportFile {
    /// File name as given.
    pub name: String,
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
    /// RFC 3339 UTC time of the import.
    pub imported_at: String,
    /// The import kind, e.g. `police-street`.
    pub kind: String,
}

/// Raw source attributes of an imported incident, kept next to the normalised values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceAttributes {
    /// The source's own reference (police.uk Crime ID; not unique).
    pub source_ref: Option<std::sync::Arc<str>>,
    /// Area code given by the source (police.uk LSOA).
    pub area_code: Option<std::sync::Arc<str>>,
    /// Location text (street name only).
    pub location: Option<std::sync::Arc<str>>,
    /// Category label as written.
    pub category_raw: Option<std::sync::Arc<str>>,
    /// Outcome label as written.
    pub outcome_raw: Option<std::sync::Arc<str>>,
    /// The vintage of `area_code` (police LSOAs: [`crate::ingest::lsoa::LsoaVintage::code`]).
    pub area_vintage: Option<std::sync::Arc<str>>,
}

/// One file's records, written in one transaction.
#[derive(Debug, Clone, Default)]
pub struct ImportBatch {
    /// Incidents.
    pub incidents: Vec<ImportedIncident>,
    /// Stop-and-search records with their line.
    pub stop_searches: Vec<(crate::domain::StopSearch, u64)>,
    /// Boundaries (keyed by scheme and code).
    pub boundaries: Vec<crate::domain::Boundary>,
    /// Schools (keyed by URN).
    pub schools: Vec<crate::domain::School>,
    /// Transport stops (keyed by ATCO code).
    pub stops: Vec<crate::domain::Stop>,
    /// Transport routes (keyed by id).
    pub routes: Vec<crate::domain::Route>,
    /// Places of concern (keyed by id).
    pub places: Vec<crate::domain::PlaceOfConcern>,
    /// Youth services (keyed by id).
    pub services: Vec<crate::domain::YouthService>,
}

/// One imported incident.
#[derive(Debug, Clone)]
pub struct ImportedIncident {
    /// The incident.
    pub incident: crate::domain::Incident,
    /// 1-based line in the file.
    pub line: u64,
    /// Raw source attributes.
    pub attributes: SourceAttributes,
    /// True when the incident lies outside the partnership area (kept, and reported).
    pub outside_area: bool,
}
