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
    incidents.iter().map(input_of).collect()
}

/// What the incident index reads of one incident.
fn input_of(i: &Incident) -> IncidentInput {
    IncidentInput {
        id: i.id,
        location: i.location.map(|l| l.point),
        day: i.time.day,
        category: i.category,
        involves_child: i.involves_child,
        day_known: i.time.precision != TimePrecision::Month,
    }
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
        delta: IncidentDelta,
        users: Option<Vec<(String, User)>>,
    ) -> Self {
        let mut next = self.clone();
        let moved = changed.incidents || !delta.is_empty() || changed.reference;
        if changed.incidents {
            // The store's reads skip withdrawn incidents: a whole reload has none to tombstone.
            next.incidents = IncidentLayer::build(&incident_inputs(&data.incidents));
        } else {
            next.incidents = next.incidents.with_runs(delta.added);
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
        if moved {
            next.data_version += 1;
        }
        next
    }
}

/// Incident changes read from the change feed since a snapshot: added by imports (and
/// amendments), and withdrawn (with what they were indexed from, so the layer can tombstone
/// them until its next merge).
#[derive(Debug, Default)]
pub struct IncidentDelta {
    /// Incidents of newly stored segments, indexed piece by piece as they were read
    /// ([`RunPieces`]): each added incident in one piece, each piece a run of the layer.
    pub added: Vec<IncidentIndex>,
    /// Incidents withdrawn since (some may never have been indexed: ignored then).
    pub withdrawn: Vec<IncidentInput>,
}

impl IncidentDelta {
    /// True when nothing was added or withdrawn.
    pub fn is_empty(&self) -> bool {
        self.added_rows() == 0 && self.withdrawn.is_empty()
    }

    /// Ids of the located incidents added, ascending.
    pub fn added_ids(&self) -> Vec<crate::domain::IncidentId> {
        let mut ids: Vec<_> = self.added.iter().flat_map(IncidentIndex::ids).collect();
        ids.sort_unstable();
        ids
    }

    /// Incidents added, located or not.
    pub fn added_rows(&self) -> usize {
        self.added.iter().map(|p| p.len() + p.unlocated()).sum()
    }
}

/// Fewest incidents in one piece of [`RunPieces`] (two store segments).
pub const PIECE_MIN_ROWS: usize = 131_072;

/// The incidents an update adds, indexed while they are read (issue 15, point 2: peak memory
/// during an update): the store hands them over a segment at a time, and every
/// [`Self::piece_rows`] of them become one index, so the update holds at most one piece's
/// inputs (40 bytes each, and the build's sort keys and columns, about 100 bytes each at the
/// build's peak) beside the pieces already built (about 25 bytes each). A whole import read
/// into one list and built at once held about 100 bytes per incident together: 1.38M rows
/// took 82 MB to read and 60 MB more to build.
///
/// At most [`super::incident_layer::MAX_RUNS`] pieces are made (more only when the store
/// grew after its rows were counted), so the pieces go into the layer as runs without being
/// folded together when it had none.
#[derive(Debug)]
pub struct RunPieces {
    piece_rows: usize,
    inputs: Vec<IncidentInput>,
    pieces: Vec<IncidentIndex>,
}

impl RunPieces {
    /// Pieces for about `expected_rows` incidents: one when they are at most twice
    /// [`PIECE_MIN_ROWS`], else up to `MAX_RUNS` of at least `PIECE_MIN_ROWS` each.
    pub fn new(expected_rows: usize) -> Self {
        let piece_rows = if expected_rows <= 2 * PIECE_MIN_ROWS {
            expected_rows.max(1)
        } else {
            PIECE_MIN_ROWS.max(expected_rows.div_ceil(super::incident_layer::MAX_RUNS))
        };
        Self {
            piece_rows,
            // Reserved once, but never more than a million rows on the store's word alone.
            inputs: Vec::with_capacity(piece_rows.min(expected_rows).min(1 << 20)),
            pieces: Vec::new(),
        }
    }

    /// Pieces of `piece_rows` incidents each (tests: many pieces from few incidents).
    #[cfg(test)]
    pub(crate) fn with_piece_rows(piece_rows: usize) -> Self {
        Self {
            piece_rows: piece_rows.max(1),
            inputs: Vec::new(),
            pieces: Vec::new(),
        }
    }

    /// The incidents of a piece (the last may hold fewer, or more when the store grew).
    pub fn piece_rows(&self) -> usize {
        self.piece_rows
    }

    /// Takes in the next incidents read, building a piece whenever one is full.
    pub fn push(&mut self, incidents: &[Incident]) {
        self.push_inputs(incidents.iter().map(input_of));
    }

    /// As [`Self::push`], for incidents already turned into the index's inputs.
    pub fn push_inputs(&mut self, inputs: impl IntoIterator<Item = IncidentInput>) {
        for input in inputs {
            self.inputs.push(input);
            if self.inputs.len() >= self.piece_rows {
                self.build_piece();
            }
        }
    }

    fn build_piece(&mut self) {
        if !self.inputs.is_empty() {
            // By id, as a whole load reads them, whatever order the segments came in.
            self.inputs.sort_unstable_by_key(|i| i.id.get());
            self.pieces.push(IncidentIndex::build(&self.inputs));
            self.inputs.clear();
        }
    }

    /// The pieces, the last one built from what is left.
    pub fn finish(mut self) -> Vec<IncidentIndex> {
        self.build_piece();
        self.pieces
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

#[cfg(test)]
#[path = "run_pieces_tests.rs"]
mod run_pieces_tests;
