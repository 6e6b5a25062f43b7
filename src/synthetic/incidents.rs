//! Synthetic incidents: where (clusters, background, near-repeat follow-ups), when (season,
//! week, school day, trend), what (category mixes by setting) and from whom (agency,
//! sharing agreement, grade).

use crate::domain::{
    Agency, Category, Day, Grade, Incident, IncidentId, IncidentLocation, IncidentTime, IsaRef,
    LocationPrecision, Provenance, TimePrecision,
};

use super::SyntheticResult;
use super::calendar::{Calendar, TimeClass};
use super::gazetteer::{CLUSTERS, ClusterSpec, Setting, Trend, is_deprived};
use super::rng::{Rng, WeightedIndex};
use super::spatial::{AreaIndex, Authority, lonlat, offset_m};

/// Share of primary incidents drawn from the diffuse background rather than a cluster.
pub const BACKGROUND_SHARE: f64 = 0.40;
/// Share of primary incidents that start a near-repeat chain.
pub const NEAR_REPEAT_SHARE: f64 = 0.20;
/// Largest number of follow-ups in a chain.
pub const NEAR_REPEAT_MAX_FOLLOW_UPS: u64 = 4;
/// Standard deviation of a follow-up's offset from its primary, metres per axis.
pub const NEAR_REPEAT_SD_M: f64 = 70.0;
/// Largest offset of a follow-up from its primary, metres.
pub const NEAR_REPEAT_MAX_M: f64 = 200.0;
/// Mean of the (exponential) delay of a follow-up after its primary, days; delays are
/// 1 + that, capped at [`NEAR_REPEAT_MAX_DAYS`].
pub const NEAR_REPEAT_MEAN_DELAY_DAYS: f64 = 3.5;
/// Longest delay of a follow-up, days.
pub const NEAR_REPEAT_MAX_DAYS: usize = 14;
/// Share of incidents with no location.
pub const NO_LOCATION_SHARE: f64 = 0.006;
/// Share of located incidents moved to a snap point.
pub const SNAP_POINT_SHARE: f64 = 0.15;
/// Share of incidents with day-only time.
pub const DAY_ONLY_SHARE: f64 = 0.15;
/// Share of incidents with month-only time.
pub const MONTH_ONLY_SHARE: f64 = 0.10;
/// Snap grid spacing in longitude, degrees (about 104 m).
const SNAP_LON_DEG: f64 = 0.0015;
/// Snap grid spacing in latitude, degrees (about 111 m).
const SNAP_LAT_DEG: f64 = 0.001;
/// Background weight multiplier for Bristol wards (demo data is weighted towards Bristol).
const BRISTOL_BACKGROUND_FACTOR: f64 = 2.2;
/// Background weight multiplier for deprived wards.
const DEPRIVED_BACKGROUND_FACTOR: f64 = 1.6;

/// Where a generated incident came from (kept alongside the incidents for the people
/// generator; never exported).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Drawn from cluster `CLUSTERS[i]` (or a follow-up of such an incident).
    Cluster(usize),
    /// Drawn from the background of an authority.
    Background(Authority),
}

/// An incident before ids, precision and provenance are assigned.
#[derive(Debug, Clone, Copy)]
struct Raw {
    day_off: usize,
    minute: u16,
    category: Category,
    point: (f64, f64),
    origin: Origin,
    involves_child: bool,
}

use Category as C;

const HUB_MIX: &[(Category, f64)] = &[
    (C::ViolentCrime, 20.0),
    (C::AntiSocialBehaviour, 15.0),
    (C::Robbery, 10.0),
    (C::TheftFromThePerson, 8.0),
    (C::PublicOrder, 10.0),
    (C::Drugs, 8.0),
    (C::PossessionOfWeapons, 5.0),
    (C::SeriousYouthViolence, 6.0),
    (C::KnifeCrime, 5.0),
    (C::ChildExploitationConcern, 6.0),
    (C::Shoplifting, 2.0),
    (C::OtherTheft, 4.0),
    (C::CriminalDamageArson, 1.0),
];
const SHOPPING_MIX: &[(Category, f64)] = &[
    (C::Shoplifting, 25.0),
    (C::AntiSocialBehaviour, 18.0),
    (C::ViolentCrime, 15.0),
    (C::PublicOrder, 8.0),
    (C::Robbery, 6.0),
    (C::TheftFromThePerson, 5.0),
    (C::OtherTheft, 6.0),
    (C::Drugs, 4.0),
    (C::SeriousYouthViolence, 4.0),
    (C::KnifeCrime, 3.0),
    (C::PossessionOfWeapons, 3.0),
    (C::ChildExploitationConcern, 2.0),
    (C::BicycleTheft, 2.0),
    (C::CriminalDamageArson, 1.0),
];
const PARK_MIX: &[(Category, f64)] = &[
    (C::AntiSocialBehaviour, 25.0),
    (C::Drugs, 14.0),
    (C::ViolentCrime, 14.0),
    (C::SeriousYouthViolence, 9.0),
    (C::KnifeCrime, 7.0),
    (C::Robbery, 7.0),
    (C::ChildExploitationConcern, 8.0),
    (C::PossessionOfWeapons, 5.0),
    (C::PublicOrder, 5.0),
    (C::CriminalDamageArson, 4.0),
    (C::BicycleTheft, 2.0),
];
const ESTATE_MIX: &[(Category, f64)] = &[
    (C::AntiSocialBehaviour, 24.0),
    (C::ViolentCrime, 18.0),
    (C::Drugs, 12.0),
    (C::CriminalDamageArson, 7.0),
    (C::SeriousYouthViolence, 7.0),
    (C::KnifeCrime, 5.0),
    (C::ChildExploitationConcern, 6.0),
    (C::PossessionOfWeapons, 4.0),
    (C::PublicOrder, 5.0),
    (C::Burglary, 4.0),
    (C::VehicleCrime, 3.0),
    (C::Robbery, 3.0),
    (C::OtherCrime, 2.0),
];
const NIGHTLIFE_MIX: &[(Category, f64)] = &[
    (C::ViolentCrime, 30.0),
    (C::PublicOrder, 18.0),
    (C::Drugs, 10.0),
    (C::AntiSocialBehaviour, 12.0),
    (C::TheftFromThePerson, 5.0),
    (C::Robbery, 5.0),
    (C::PossessionOfWeapons, 5.0),
    (C::KnifeCrime, 4.0),
    (C::SeriousYouthViolence, 3.0),
    (C::OtherTheft, 4.0),
    (C::CriminalDamageArson, 2.0),
    (C::Shoplifting, 2.0),
];
const BACKGROUND_MIX: &[(Category, f64)] = &[
    (C::ViolentCrime, 22.0),
    (C::AntiSocialBehaviour, 20.0),
    (C::CriminalDamageArson, 8.0),
    (C::Burglary, 6.0),
    (C::VehicleCrime, 7.0),
    (C::Shoplifting, 6.0),
    (C::OtherTheft, 6.0),
    (C::Drugs, 5.0),
    (C::PublicOrder, 5.0),
    (C::BicycleTheft, 2.0),
    (C::OtherCrime, 3.0),
    (C::Robbery, 2.0),
    (C::PossessionOfWeapons, 2.0),
    (C::SeriousYouthViolence, 2.0),
    (C::KnifeCrime, 2.0),
    (C::ChildExploitationConcern, 2.0),
    (C::TheftFromThePerson, 1.0),
];

/// Probability that an incident of `category` involves a child.
pub fn child_share(category: Category) -> f64 {
    match category {
        C::SeriousYouthViolence | C::ChildExploitationConcern => 1.0,
        C::Robbery | C::KnifeCrime => 0.35,
        C::AntiSocialBehaviour => 0.30,
        C::PossessionOfWeapons => 0.25,
        C::BicycleTheft => 0.20,
        C::ViolentCrime | C::Drugs | C::Shoplifting | C::CriminalDamageArson => 0.15,
        C::PublicOrder => 0.12,
        C::TheftFromThePerson => 0.10,
        _ => 0.05,
    }
}

/// A category mix prepared for sampling.
struct Mix {
    categories: Vec<Category>,
    table: WeightedIndex,
}

impl Mix {
    fn new(entries: &[(Category, f64)]) -> Option<Self> {
        Some(Self {
            categories: entries.iter().map(|(c, _)| *c).collect(),
            table: WeightedIndex::new(entries.iter().map(|(_, w)| *w))?,
        })
    }

    fn sample(&self, rng: &mut Rng) -> Category {
        self.categories
            .get(self.table.sample(rng))
            .copied()
            .unwrap_or(C::AntiSocialBehaviour)
    }
}

/// The sharing agencies and agreements incidents come from.
struct Sources {
    police: Agency,
    hospital: Agency,
    youth: Agency,
    social_care: Agency,
    education: Agency,
    community_safety: Agency,
    isa_hospital: IsaRef,
    isa_youth: IsaRef,
    isa_social_care: IsaRef,
    isa_education: IsaRef,
    isa_community_safety: IsaRef,
    grades: Vec<Grade>,
}

impl Sources {
    fn new() -> SyntheticResult<Self> {
        let grades = ["1AP", "2BP", "2BC", "3CP", "2CP", "1BP", "3DC"]
            .iter()
            .map(|g| g.parse::<Grade>())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            police: Agency::new("synthetic-police")?,
            hospital: Agency::new("synthetic-hospital")?,
            youth: Agency::new("synthetic-youth-services")?,
            social_care: Agency::new("synthetic-social-care")?,
            education: Agency::new("synthetic-education")?,
            community_safety: Agency::new("synthetic-community-safety")?,
            isa_hospital: IsaRef::new("ISA-WOE-2024-001")?,
            isa_youth: IsaRef::new("ISA-WOE-2024-002")?,
            isa_social_care: IsaRef::new("ISA-WOE-2024-003")?,
            isa_education: IsaRef::new("ISA-WOE-2025-004")?,
            isa_community_safety: IsaRef::new("ISA-WOE-2024-005")?,
            grades,
        })
    }

    fn provenance(&self, category: Category, rng: &mut Rng) -> Provenance {
        let u = rng.f64();
        let (agency, isa) = match category {
            C::SeriousYouthViolence if u < 0.35 => (&self.hospital, Some(&self.isa_hospital)),
            C::SeriousYouthViolence if u < 0.45 => (&self.youth, Some(&self.isa_youth)),
            C::KnifeCrime if u < 0.30 => (&self.hospital, Some(&self.isa_hospital)),
            C::ChildExploitationConcern if u < 0.45 => {
                (&self.social_care, Some(&self.isa_social_care))
            }
            C::ChildExploitationConcern if u < 0.65 => (&self.youth, Some(&self.isa_youth)),
            C::ChildExploitationConcern if u < 0.75 => (&self.education, Some(&self.isa_education)),
            C::AntiSocialBehaviour if u < 0.15 => {
                (&self.community_safety, Some(&self.isa_community_safety))
            }
            C::AntiSocialBehaviour if u < 0.25 => (&self.youth, Some(&self.isa_youth)),
            _ => (&self.police, None),
        };
        let graded_share = if isa.is_some() { 0.6 } else { 0.4 };
        let grade = if rng.chance(graded_share) {
            rng.choose(&self.grades).copied()
        } else {
            None
        };
        Provenance {
            agency: agency.clone(),
            isa_ref: isa.cloned(),
            grade,
        }
    }
}

/// Everything the incident generator samples from.
struct Sampler<'a> {
    cal: &'a Calendar,
    index: &'a AreaIndex,
    clusters: WeightedIndex,
    wards: WeightedIndex,
    hub: Mix,
    shopping: Mix,
    park: Mix,
    estate: Mix,
    nightlife: Mix,
    background: Mix,
}

impl Sampler<'_> {
    fn mix(&self, origin: Origin) -> &Mix {
        match origin {
            Origin::Background(_) => &self.background,
            Origin::Cluster(i) => match CLUSTERS.get(i).map(|c| c.setting) {
                Some(Setting::Hub) => &self.hub,
                Some(Setting::Shopping) => &self.shopping,
                Some(Setting::Park) => &self.park,
                Some(Setting::Estate) => &self.estate,
                Some(Setting::Nightlife) => &self.nightlife,
                None => &self.background,
            },
        }
    }

    fn background_point(&self, rng: &mut Rng) -> ((f64, f64), Origin) {
        let fallback = self.index.wards.first();
        let ward = self.index.wards.get(self.wards.sample(rng)).or(fallback);
        match ward {
            Some(w) => (
                self.index.sample_in_ward(w, rng),
                Origin::Background(w.authority),
            ),
            None => ((-2.5965, 51.4545), Origin::Background(Authority::Bristol)),
        }
    }

    fn cluster_point(&self, spec: &ClusterSpec, rng: &mut Rng) -> Option<(f64, f64)> {
        for _ in 0..40 {
            let p = offset_m(
                spec.lon,
                spec.lat,
                spec.sd_m * rng.normal(),
                spec.sd_m * rng.normal(),
            );
            if self.index.covered_authority_at(p.0, p.1).is_some() {
                return Some(p);
            }
        }
        None
    }

    fn timing(&self, category: Category, child: bool, trend: Trend, rng: &mut Rng) -> (usize, u16) {
        let mut class = TimeClass::of(category);
        if child && class != TimeClass::Youth && rng.chance(0.5) {
            class = TimeClass::Youth;
        }
        let day_off = self.cal.sample_day(class, trend, rng);
        (day_off, self.cal.sample_minute(class, day_off, rng))
    }

    fn primary(&self, rng: &mut Rng) -> Raw {
        let (point, origin, trend) = if rng.chance(BACKGROUND_SHARE) {
            let (p, o) = self.background_point(rng);
            (p, o, Trend::Steady)
        } else {
            let i = self.clusters.sample(rng);
            let spec = CLUSTERS.get(i);
            if let Some((p, trend)) =
                spec.and_then(|s| self.cluster_point(s, rng).map(|p| (p, s.trend)))
            {
                (p, Origin::Cluster(i), trend)
            } else {
                let (p, o) = self.background_point(rng);
                (p, o, Trend::Steady)
            }
        };
        let category = self.mix(origin).sample(rng);
        let involves_child = rng.chance(child_share(category));
        let (day_off, minute) = self.timing(category, involves_child, trend, rng);
        Raw {
            day_off,
            minute,
            category,
            point,
            origin,
            involves_child,
        }
    }

    fn follow_up(&self, primary: &Raw, rng: &mut Rng) -> Option<Raw> {
        let delay = 1
            + (rng.exponential(NEAR_REPEAT_MEAN_DELAY_DAYS) as usize).min(NEAR_REPEAT_MAX_DAYS - 1);
        let day_off = primary.day_off + delay;
        if day_off >= self.cal.window_days() {
            return None;
        }
        let mut point = primary.point;
        for _ in 0..20 {
            let (dx, dy) = (
                NEAR_REPEAT_SD_M * rng.normal(),
                NEAR_REPEAT_SD_M * rng.normal(),
            );
            if dx.hypot(dy) > NEAR_REPEAT_MAX_M {
                continue;
            }
            let p = offset_m(primary.point.0, primary.point.1, dx, dy);
            if self.index.covered_authority_at(p.0, p.1).is_some() {
                point = p;
                break;
            }
        }
        let category = if rng.chance(0.6) {
            primary.category
        } else {
            self.mix(primary.origin).sample(rng)
        };
        let involves_child = rng.chance(child_share(category));
        let mut class = TimeClass::of(category);
        if involves_child && class != TimeClass::Youth && rng.chance(0.5) {
            class = TimeClass::Youth;
        }
        let minute = self.cal.sample_minute(class, day_off, rng);
        Some(Raw {
            day_off,
            minute,
            category,
            point,
            origin: primary.origin,
            involves_child,
        })
    }
}

/// Background weight of each ward in `index.wards` from its youth population.
pub fn ward_background_weights(index: &AreaIndex, youth: &[u32]) -> Vec<f64> {
    index
        .wards
        .iter()
        .zip(youth)
        .map(|(w, y)| {
            let a = if w.authority == Authority::Bristol {
                BRISTOL_BACKGROUND_FACTOR
            } else {
                1.0
            };
            let d = if is_deprived(&w.name) {
                DEPRIVED_BACKGROUND_FACTOR
            } else {
                1.0
            };
            f64::from(*y) * a * d
        })
        .collect()
}

/// Generates `n` incidents with ids `1..=n` in time order, and the origin of each.
pub fn generate(
    n: usize,
    cal: &Calendar,
    index: &AreaIndex,
    youth: &[u32],
    rng: &mut Rng,
) -> SyntheticResult<(Vec<Incident>, Vec<Origin>)> {
    let no_weights = || super::SyntheticError::Exhausted {
        what: "incident sampling weights",
    };
    let sampler = Sampler {
        cal,
        index,
        clusters: WeightedIndex::new(CLUSTERS.iter().map(|c| c.weight)).ok_or_else(no_weights)?,
        wards: WeightedIndex::new(ward_background_weights(index, youth)).ok_or_else(no_weights)?,
        hub: Mix::new(HUB_MIX).ok_or_else(no_weights)?,
        shopping: Mix::new(SHOPPING_MIX).ok_or_else(no_weights)?,
        park: Mix::new(PARK_MIX).ok_or_else(no_weights)?,
        estate: Mix::new(ESTATE_MIX).ok_or_else(no_weights)?,
        nightlife: Mix::new(NIGHTLIFE_MIX).ok_or_else(no_weights)?,
        background: Mix::new(BACKGROUND_MIX).ok_or_else(no_weights)?,
    };

    let mut raw: Vec<Raw> = Vec::with_capacity(n);
    while raw.len() < n {
        let primary = sampler.primary(rng);
        raw.push(primary);
        if rng.chance(NEAR_REPEAT_SHARE) {
            let k = rng.range(1, NEAR_REPEAT_MAX_FOLLOW_UPS);
            for _ in 0..k {
                if raw.len() >= n {
                    break;
                }
                if let Some(f) = sampler.follow_up(&primary, rng) {
                    raw.push(f);
                }
            }
        }
    }
    raw.sort_by_key(|r| (r.day_off, r.minute));

    let sources = Sources::new()?;
    let mut incidents = Vec::with_capacity(n);
    let mut origins = Vec::with_capacity(n);
    for (i, r) in raw.iter().enumerate() {
        let day = cal.days.get(r.day_off).map_or(cal.start, |d| d.day);
        incidents.push(Incident {
            id: IncidentId::new(i as u64 + 1),
            category: r.category,
            time: time_of(day, r.minute, cal.start, rng),
            location: location_of(r.point, index, rng)?,
            involves_child: r.involves_child,
            provenance: sources.provenance(r.category, rng),
        });
        origins.push(r.origin);
    }
    Ok((incidents, origins))
}

fn time_of(day: Day, minute: u16, window_start: Day, rng: &mut Rng) -> IncidentTime {
    let u = rng.f64();
    if u < MONTH_ONLY_SHARE && day.month_start() >= window_start {
        IncidentTime {
            day: day.month_start(),
            minute_of_day: None,
            precision: TimePrecision::Month,
        }
    } else if u < MONTH_ONLY_SHARE + DAY_ONLY_SHARE {
        IncidentTime {
            day,
            minute_of_day: None,
            precision: TimePrecision::Day,
        }
    } else {
        IncidentTime {
            day,
            minute_of_day: Some(minute),
            precision: TimePrecision::Exact,
        }
    }
}

fn location_of(
    point: (f64, f64),
    index: &AreaIndex,
    rng: &mut Rng,
) -> SyntheticResult<Option<IncidentLocation>> {
    let u = rng.f64();
    if u < NO_LOCATION_SHARE {
        return Ok(None);
    }
    if u < NO_LOCATION_SHARE + SNAP_POINT_SHARE {
        let snapped = (
            (point.0 / SNAP_LON_DEG).round() * SNAP_LON_DEG,
            (point.1 / SNAP_LAT_DEG).round() * SNAP_LAT_DEG,
        );
        if index.covered_authority_at(snapped.0, snapped.1).is_some() {
            return Ok(Some(IncidentLocation {
                point: lonlat(snapped)?,
                precision: LocationPrecision::SnapPoint,
            }));
        }
    }
    Ok(Some(IncidentLocation {
        point: lonlat(point)?,
        precision: LocationPrecision::Exact,
    }))
}
