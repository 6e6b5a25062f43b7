//! Domain model: validated newtypes and records shared by every other module.
//!
//! Invariants are carried by types (style rule 3): a [`LonLat`] is always finite and on the
//! globe, a [`Bbox`] is never inverted, a [`Day`] is a calendar day, ids cannot be built from
//! arbitrary strings, and safeguard vocabularies ([`SubjectCategory`]) have no catch-all
//! variant. Nothing here does I/O.

mod access;
mod bng;
mod cases;
mod category;
mod error;
pub mod geography;
mod geom;
mod ids;
mod person;
mod records;
mod stop_search;
mod time;

pub use access::{LegalBasis, PurposeCode, Role, User};
pub use bng::*;
pub use cases::{Case, CaseKind, CaseRef, MaceMeeting};
pub use category::{CATEGORY_COUNT, Category};
pub use error::{DomainError, DomainResult};
pub use geography::{Authority, Membership};
pub use geom::{Bbox, LonLat};
pub use ids::{
    Agency, AtcoCode, BoundaryCode, IncidentId, IsaRef, PersonRef, PlaceId, RouteId, SchemeName,
    ServiceId, Urn,
};
pub use person::{Grade, Link, LinkKind, LinkTarget, Person, SubjectCategory};
pub use records::{
    Boundary, Dataset, DayEvent, Guardian, Incident, IncidentLocation, IncidentTime,
    LocationPrecision, Phase, PlaceKind, PlaceOfConcern, Provenance, Route, RouteMode, School,
    ServiceTier, Stop, TimePrecision, YouthService,
};
pub use stop_search::*;
pub use time::{Day, TimeWindow};
