//! Records about places and events: incidents, places of concern, schools, transport,
//! youth services and boundaries, plus the [`Dataset`] that carries them between modules.

use serde::{Deserialize, Serialize};

use super::{
    Agency, AtcoCode, BoundaryCode, Case, Category, Day, Grade, IncidentId, IsaRef, Link, LonLat,
    MaceMeeting, Person, PlaceId, RouteId, SchemeName, ServiceId, Urn,
};

/// Where a row came from (formats.md §0; issue M2): the agency, the sharing agreement it was
/// shared under, and its grade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The supplying agency.
    pub agency: Agency,
    /// The information sharing agreement the row was shared under, if any.
    pub isa_ref: Option<IsaRef>,
    /// The intelligence grade, where the source grades its records.
    pub grade: Option<Grade>,
}

/// How precisely an incident's time is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimePrecision {
    /// Day and minute known.
    Exact,
    /// Day known, time of day not.
    Day,
    /// Month only (data.police.uk); `day` holds the first of the month.
    Month,
}

/// When an incident happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentTime {
    /// The day; the first of the month for [`TimePrecision::Month`].
    pub day: Day,
    /// Minute of the day, 0..1440, when known.
    pub minute_of_day: Option<u16>,
    /// How precise `day` and `minute_of_day` are.
    pub precision: TimePrecision,
}

/// How precisely an incident's location is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationPrecision {
    /// Recorded position.
    Exact,
    /// Moved to an anonymised snap point (the data.police.uk method).
    SnapPoint,
    /// Only the area is known; the point is its representative point.
    Area,
}

/// Where an incident happened.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IncidentLocation {
    /// WGS84 position.
    pub point: LonLat,
    /// How precise the position is.
    pub precision: LocationPrecision,
}

/// A located incident known to the day, as near-repeat analysis reads it: a place and a day,
/// never a person. Month-precision records are never one (their day is the first of the
/// month, which would fake same-day pairs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayEvent {
    /// Where it happened.
    pub at: LonLat,
    /// The day.
    pub day: Day,
    /// Its category.
    pub category: Category,
    /// True when a child is involved (decides the disclosure threshold).
    pub involves_child: bool,
}

impl DayEvent {
    /// The event of `incident`, when it has a location and a known day.
    pub fn of(incident: &Incident) -> Option<Self> {
        if incident.time.precision == TimePrecision::Month {
            return None;
        }
        incident.location.map(|l| Self {
            at: l.point,
            day: incident.time.day,
            category: incident.category,
            involves_child: incident.involves_child,
        })
    }
}

/// One incident from any source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Store-wide id.
    pub id: IncidentId,
    /// What happened.
    pub category: Category,
    /// When.
    pub time: IncidentTime,
    /// Where, if known.
    pub location: Option<IncidentLocation>,
    /// True when a child is involved in any role; such incidents never leave the server as
    /// raw coordinates to aggregate roles (safeguards.md S21).
    pub involves_child: bool,
    /// Where the record came from.
    pub provenance: Provenance,
}

/// The kind of a place of concern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaceKind {
    /// Bus or rail station, interchange.
    TransportHub,
    /// Park, green space or play area.
    Park,
    /// Shopping street, shop or shopping centre.
    Shop,
    /// Fast-food or takeaway premises.
    Takeaway,
    /// Car park.
    CarPark,
    /// Underpass, alley or stairwell.
    Underpass,
    /// Entertainment or leisure venue.
    Venue,
    /// Residential block or estate common area.
    Residential,
    /// Area outside a school or college at opening and closing times.
    SchoolGate,
}

/// Someone responsible for a place (Contextual Safeguarding's "guardians"): a role and the
/// organisation, never a private individual's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guardian {
    /// The role, e.g. `park warden`.
    pub role: String,
    /// The organisation, e.g. `Bristol City Council Parks`.
    pub organisation: String,
}

/// A place of concern: a subject of assessment and plan in its own right (safeguards.md S9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaceOfConcern {
    /// Id.
    pub id: PlaceId,
    /// Kind of place.
    pub kind: PlaceKind,
    /// Public name of the place.
    pub name: String,
    /// WGS84 position.
    pub location: LonLat,
    /// Who is responsible for the place.
    pub guardians: Vec<Guardian>,
    /// When the place's listing must next be reviewed.
    pub review_due: Day,
    /// Where the record came from.
    pub provenance: Provenance,
}

/// Phase of education (GIAS `PhaseOfEducation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Nursery.
    Nursery,
    /// Primary (and middle deemed primary).
    Primary,
    /// Secondary (and middle deemed secondary).
    Secondary,
    /// Sixteen plus.
    SixteenPlus,
    /// All-through.
    AllThrough,
    /// Alternative provision, pupil referral units and special schools without a phase.
    NotApplicable,
}

/// A school.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct School {
    /// GIAS URN.
    pub urn: Urn,
    /// Establishment name.
    pub name: String,
    /// Phase.
    pub phase: Phase,
    /// WGS84 position.
    pub location: LonLat,
    /// Local authority GSS code.
    pub la_code: BoundaryCode,
    /// True while the establishment is open (GIAS status "Open" or "Open, but proposed to
    /// close"); closed schools are kept for history but not drawn.
    pub open: bool,
}

/// A transport stop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stop {
    /// ATCO code.
    pub id: AtcoCode,
    /// Common name.
    pub name: String,
    /// WGS84 position.
    pub location: LonLat,
    /// False for stops `NaPTAN` marks inactive: kept, not drawn (formats.md §4).
    pub active: bool,
}

/// Transport mode (GTFS `route_type`, grouped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteMode {
    /// Bus or coach.
    Bus,
    /// Rail.
    Rail,
    /// Ferry.
    Ferry,
    /// Anything else.
    Other,
}

/// A transport route as a line with its stops in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// Id.
    pub id: RouteId,
    /// Short name shown on the vehicle, e.g. `2`.
    pub short_name: String,
    /// Long name, e.g. `Cribbs Causeway - Stockwood`.
    pub long_name: String,
    /// Mode.
    pub mode: RouteMode,
    /// The path, at least two points.
    pub line: Vec<LonLat>,
    /// Stops served, in order.
    pub stops: Vec<AtcoCode>,
}

/// Tier of a youth service (product.md M10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceTier {
    /// Open to all young people (youth clubs, sport).
    Universal,
    /// For young people with identified needs (mentoring, detached youth work).
    Targeted,
    /// For young people at high risk or harmed (exploitation teams, hospital navigators).
    Specialist,
}

/// A youth service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct YouthService {
    /// Id.
    pub id: ServiceId,
    /// Name.
    pub name: String,
    /// Tier.
    pub tier: ServiceTier,
    /// What it offers, e.g. `youth club`.
    pub kind: String,
    /// Provider organisation.
    pub provider: String,
    /// WGS84 position.
    pub location: LonLat,
}

/// An area in a boundary scheme (local authorities, wards, LSOAs, police or social-care
/// localities). Coordinates are WGS84 lon/lat.
#[derive(Debug, Clone, PartialEq)]
pub struct Boundary {
    /// Scheme, e.g. `lad`, `ward`, `locality_police`.
    pub scheme: SchemeName,
    /// Code within the scheme.
    pub code: BoundaryCode,
    /// Name.
    pub name: String,
    /// Outline.
    pub geometry: geo::MultiPolygon<f64>,
    /// Resident young people aged 10-24, where known (used for rates).
    pub youth_population: Option<u32>,
}

/// Everything a store holds, as plain values: what importers and the synthetic generator
/// produce and what the index is built from.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Incidents.
    pub incidents: Vec<Incident>,
    /// Places of concern.
    pub places: Vec<PlaceOfConcern>,
    /// Schools.
    pub schools: Vec<School>,
    /// Transport stops.
    pub stops: Vec<Stop>,
    /// Transport routes.
    pub routes: Vec<Route>,
    /// Youth services.
    pub services: Vec<YouthService>,
    /// Boundaries in every scheme.
    pub boundaries: Vec<Boundary>,
    /// People (never served before the safeguards layer exists).
    pub people: Vec<Person>,
    /// Links between people, places and incidents.
    pub links: Vec<Link>,
    /// Cases, which scope police analysts' person-level access.
    pub cases: Vec<Case>,
    /// MACE meetings, which scope panel members' person-level access.
    pub meetings: Vec<MaceMeeting>,
}
