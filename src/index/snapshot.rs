//! One consistent, immutable view of all indexes for a data version.
//!
//! A snapshot is made of parts by kind of data (issue 15, point 1): incidents, the reference
//! layers, people and links, users. Each part is shared (`Arc`), so a change to one kind makes
//! a new snapshot that shares every other part with the old one: a new user, case assignment
//! or review touches only its kind, and an import adds a run to the incident layer
//! ([`IncidentLayer::with_run`]) instead of rebuilding the index.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::domain::{
    Dataset, Incident, PlaceOfConcern, Route, School, Stop, TimePrecision, User, YouthService,
};
use crate::safeguards::scope::PeopleData;
use crate::store::changes::ChangeSet;

use super::{
    BorderIndex, BoundaryIndex, IncidentIndex, IncidentInput, IncidentLayer, LineLayer, PointLayer,
};

/// Every index for one version of the data. Shared behind an `Arc` and replaced whole; its
/// parts are shared between versions.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Monotonic version of what tiles and analyses read (incidents and reference layers);
    /// caches key on it. A change of people or users alone keeps it.
    pub data_version: u64,
    /// Incidents: a base index and the runs imported since (near-repeat events are read
    /// from it too, `IncidentLayer::day_events`).
    pub incidents: IncidentLayer,
    /// Places of concern.
    pub places: Arc<PointLayer<PlaceOfConcern>>,
    /// Schools.
    pub schools: Arc<PointLayer<School>>,
    /// Transport stops.
    pub stops: Arc<PointLayer<Stop>>,
    /// Transport routes.
    pub routes: Arc<LineLayer<Route>>,
    /// Youth services.
    pub services: Arc<PointLayer<YouthService>>,
    /// Boundaries of every scheme.
    pub boundaries: Arc<BoundaryIndex>,
    /// Borders shared by the local authorities (scheme `lad`).
    pub borders: Arc<BorderIndex>,
    /// People, links, cases and meetings, served only through the safeguards scope.
    pub people: Arc<PeopleData>,
    /// Users by the SHA-256 hash of their token.
    pub users: Arc<BTreeMap<String, User>>,
}

/// The index inputs of `incidents` (in the order given).
pub fn incident_inputs(incidents: &[Incident]) -> Vec<IncidentInput> {
    incidents
        .iter()
        .map(|i| IncidentInput {
            id: i.id,
            location: i.location.map(|l| l.point),
            day: i.time.day,
            category: i.category,
            involves_child: i.involves_child,
            day_known: i.time.precision != TimePrecision::Month,
        })
        .collect()
}

impl Snapshot {
    /// Builds every index from `data` and the users (keyed by token hash).
    pub fn build(data: Dataset, users: Vec<(String, User)>, data_version: u64) -> Self {
        let inputs = incident_inputs(&data.incidents);
        Self::build_with_inputs(data, &inputs, users, data_version)
    }

    /// As [`Self::build`], with the incidents given as index inputs (`data.incidents` is not
    /// read): start-up streams the stored incidents into these, never holding every full
    /// record at once.
    pub fn build_with_inputs(
        data: Dataset,
        inputs: &[IncidentInput],
        users: Vec<(String, User)>,
        data_version: u64,
    ) -> Self {
        Self::build_with_layer(data, IncidentLayer::build(inputs), users, data_version)
    }

    /// As [`Self::build`], with the incident layer given (read from a saved index at start,
    /// `jobs::load_snapshot`); `data.incidents` is not read.
    pub fn build_with_layer(
        mut data: Dataset,
        incidents: IncidentLayer,
        users: Vec<(String, User)>,
        data_version: u64,
    ) -> Self {
        let (r, people) = (Reference::build(&mut data), people_of(&mut data));
        Self {
            data_version,
            incidents,
            places: r.places,
            schools: r.schools,
            stops: r.stops,
            routes: r.routes,
            services: r.services,
            boundaries: r.boundaries,
            borders: r.borders,
            people,
            users: Arc::new(users.into_iter().collect()),
        }
    }

    /// This snapshot with the kinds `changed` names replaced from `data` (loaded for those
    /// kinds only, `Store::load_kinds`), the incidents of `delta` added to the incident layer
    /// and its withdrawn ones tombstoned, and `users` when given. The data version moves only
    /// when incidents or reference layers changed.
    #[must_use]
    pub fn with_changes(
        &self,
        changed: &ChangeSet,
        mut data: Dataset,
        delta: &IncidentDelta,
        users: Option<Vec<(String, User)>>,
    ) -> Self {
        let mut next = self.clone();
        if changed.incidents {
            // The store's reads skip withdrawn incidents: a whole reload has none to tombstone.
            next.incidents = IncidentLayer::build(&incident_inputs(&data.incidents));
        } else {
            if !delta.added.is_empty() {
                next.incidents = next.incidents.with_run(IncidentIndex::build(&delta.added));
            }
            // After the run: an amendment's old row may be in it.
            if !delta.withdrawn.is_empty() {
                next.incidents = next.incidents.with_tombstones(&delta.withdrawn);
            }
        }
        if changed.reference {
            let r = Reference::build(&mut data);
            next.places = r.places;
            next.schools = r.schools;
            next.stops = r.stops;
            next.routes = r.routes;
            next.services = r.services;
            next.boundaries = r.boundaries;
            next.borders = r.borders;
        }
        if changed.people {
            next.people = people_of(&mut data);
        }
        if let Some(users) = users {
            next.users = Arc::new(users.into_iter().collect());
        }
        if changed.incidents || !delta.is_empty() || changed.reference {
            next.data_version += 1;
        }
        next
    }
}

/// Incident changes read from the change feed since a snapshot: added by imports (and
/// amendments), and withdrawn (with what they were indexed from, so the layer can tombstone
/// them until its next merge).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentDelta {
    /// Incidents of newly stored segments, by id.
    pub added: Vec<IncidentInput>,
    /// Incidents withdrawn since (some may never have been indexed: ignored then).
    pub withdrawn: Vec<IncidentInput>,
}

impl IncidentDelta {
    /// True when nothing was added or withdrawn.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.withdrawn.is_empty()
    }
}

/// The reference layers, built together.
struct Reference {
    places: Arc<PointLayer<PlaceOfConcern>>,
    schools: Arc<PointLayer<School>>,
    stops: Arc<PointLayer<Stop>>,
    routes: Arc<LineLayer<Route>>,
    services: Arc<PointLayer<YouthService>>,
    boundaries: Arc<BoundaryIndex>,
    borders: Arc<BorderIndex>,
}

/// The people data of `data`, taken out of it.
fn people_of(data: &mut Dataset) -> Arc<PeopleData> {
    Arc::new(PeopleData::new(
        std::mem::take(&mut data.people),
        std::mem::take(&mut data.links),
        std::mem::take(&mut data.cases),
        std::mem::take(&mut data.meetings),
    ))
}

impl Reference {
    /// The reference layers of `data`, taken out of it.
    fn build(data: &mut Dataset) -> Self {
        let boundaries = std::mem::take(&mut data.boundaries);
        Self {
            places: Arc::new(PointLayer::new(std::mem::take(&mut data.places), |p| {
                p.location
            })),
            schools: Arc::new(PointLayer::new(std::mem::take(&mut data.schools), |s| {
                s.location
            })),
            stops: Arc::new(PointLayer::new(std::mem::take(&mut data.stops), |s| {
                s.location
            })),
            routes: Arc::new(LineLayer::new(std::mem::take(&mut data.routes), |r| {
                r.line.as_slice()
            })),
            services: Arc::new(PointLayer::new(std::mem::take(&mut data.services), |s| {
                s.location
            })),
            borders: Arc::new(BorderIndex::build(
                &boundaries
                    .iter()
                    .filter(|b| b.scheme.as_str() == "lad")
                    .collect::<Vec<_>>(),
            )),
            boundaries: Arc::new(BoundaryIndex::new(boundaries)),
        }
    }
}
