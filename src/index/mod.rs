//! In-memory geospatial indexes, built from a [`Dataset`](crate::domain::Dataset) and swapped
//! whole when data change (style.md rule 2: read-mostly, never locked across an `.await`).
//!
//! - [`IncidentIndex`]: incidents sorted by H3 cell, with per-resolution (5–10) cumulative
//!   day arrays so that "counts per cell for this bbox, time window and category" costs two
//!   binary searches per cell and category, whatever the number of incidents.
//! - [`PointLayer`]: rstar R-tree over point records (places, schools, stops, services).
//! - [`LineLayer`]: rstar R-tree over line envelopes with exact segment tests (routes).
//! - [`BoundaryIndex`]: rstar R-tree over polygon envelopes per scheme with exact
//!   point-in-polygon (every boundary scheme).
//! - [`BorderIndex`]: the borders the four authorities share, for cross-border queries.
//! - [`Snapshot`]: all of the above for one data version.

mod borders;
mod boundaries;
mod incident_layer;
mod incidents;
mod layers;
pub mod persist;
mod snapshot;

pub use borders::{BorderEdge, BorderIndex, BorderLine, to_local_m};
pub use boundaries::BoundaryIndex;
pub use incident_layer::{IncidentLayer, MAX_RUNS, MergeStep, Taken, chunk_target};
pub use incidents::{CellCount, CountQuery, H3Res, IncidentHit, IncidentIndex, IncidentInput};
pub use layers::{LineLayer, PointLayer};
pub use snapshot::{IncidentDelta, PIECE_MIN_ROWS, RunPieces, Snapshot, incident_inputs};
