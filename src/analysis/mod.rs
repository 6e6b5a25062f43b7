//! Analyses over the indexes: pure, synchronous functions from an index snapshot and a query to
//! plain values. Disclosure control is applied by the caller (the API) for aggregate roles.

pub mod areas;
