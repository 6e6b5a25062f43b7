//! One consistent, immutable view of all indexes for a data version.

use std::collections::BTreeMap;

use crate::domain::{Dataset, PlaceOfConcern, Route, School, Stop, User, YouthService};
use crate::safeguards::scope::PeopleData;

use super::{
    BorderIndex, BoundaryIndex, IncidentIndex, IncidentInput, IncidentLayer, LineLayer, PointLayer,
};

/// Every index for one version of the data. Shared behind an `Arc` and replaced whole.
#[derive(Debug)]
pub struct Snapshot {
    /// Monotonic data version (bumped on every rebuild).
    pub data_version: u64,
    /// Incidents: a base index and the runs imported since (near-repeat events are read
    /// from it too, `IncidentLayer::day_events`).
    pub incidents: IncidentLayer,
    /// Places of concern.
    pub places: PointLayer<PlaceOfConcern>,
    /// Schools.
    pub schools: PointLayer<School>,
    /// Transport stops.
    pub stops: PointLayer<Stop>,
    /// Transport routes.
    pub routes: LineLayer<Route>,
    /// Youth services.
    pub services: PointLayer<YouthService>,
    /// Boundaries of every scheme.
    pub boundaries: BoundaryIndex,
    /// Borders shared by the local authorities (scheme `lad`).
    pub borders: BorderIndex,
    /// People, links, cases and meetings, served only through the safeguards scope.
    pub people: PeopleData,
    /// Users by the SHA-256 hash of their token.
    pub users: BTreeMap<String, User>,
}

impl Snapshot {
    /// Builds every index from `data` and the users (keyed by token hash).
    pub fn build(data: Dataset, users: Vec<(String, User)>, data_version: u64) -> Self {
        let inputs: Vec<IncidentInput> = data
            .incidents
            .iter()
            .map(|i| IncidentInput {
                id: i.id,
                location: i.location.map(|l| l.point),
                day: i.time.day,
                category: i.category,
                involves_child: i.involves_child,
                day_known: i.time.precision != crate::domain::TimePrecision::Month,
            })
            .collect();
        Self {
            data_version,
            incidents: IncidentLayer::from(IncidentIndex::build(&inputs)),
            places: PointLayer::new(data.places, |p| p.location),
            schools: PointLayer::new(data.schools, |s| s.location),
            stops: PointLayer::new(data.stops, |s| s.location),
            routes: LineLayer::new(data.routes, |r| r.line.as_slice()),
            services: PointLayer::new(data.services, |s| s.location),
            borders: BorderIndex::build(
                &data
                    .boundaries
                    .iter()
                    .filter(|b| b.scheme.as_str() == "lad")
                    .collect::<Vec<_>>(),
            ),
            boundaries: BoundaryIndex::new(data.boundaries),
            people: PeopleData::new(data.people, data.links, data.cases, data.meetings),
            users: users.into_iter().collect(),
        }
    }
}
