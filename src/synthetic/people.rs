//! Synthetic people and links: pseudonymous, categorised, graded, with review dates.
//!
//! About 55 % of the people are children (born 10–17 years before the end of the window).
//! About one in 75 (40 of the default 3 000) is an adult categorised
//! `suspected_exploiter_adult`: each has exploitation links to 5–25 distinct children, graded
//! person–incident links about their own conduct (safeguards.md S4) and person–place links to
//! places of concern near where they operate. Everyone else holds a victim, witness, suspect,
//! at-risk or professional role through person–incident, person–place, peer, family and
//! safeguarding links. People have an internal "home" cluster that keeps their links local,
//! with a minority of exploitation links reaching children elsewhere (including across
//! authority borders).
//!
//! Safeguards built in: every person and link has at least one subject category and never an
//! "associate" or "gang member" one (S1); anyone who may have been under 18 at any time in the
//! window and is a suspect in any link also has a safeguarding link (S2); nothing is scored,
//! ranked or rated (S5); every record has a review date, at most three months after the end
//! of the window for children and six months for adults.

use std::collections::BTreeSet;

use crate::domain::{
    Agency, Category, Grade, Incident, Link, LinkKind, LinkTarget, Person, PersonRef,
    PlaceOfConcern, SubjectCategory,
};

use super::calendar::Calendar;
use super::gazetteer::CLUSTERS;
use super::incidents::Origin;
use super::rng::{Rng, WeightedIndex};
use super::spatial::distance_m;
use super::{SyntheticError, SyntheticResult};

use SubjectCategory as S;

/// Share of people who are children.
pub const CHILD_SHARE: f64 = 0.55;
/// Suspected exploiters per person (40 in the default 3 000).
pub const EXPLOITERS_PER_PERSON: f64 = 40.0 / 3000.0;
/// Fewest children linked to one suspected exploiter.
pub const MIN_CHILDREN_PER_EXPLOITER: u64 = 5;
/// Most children linked to one suspected exploiter.
pub const MAX_CHILDREN_PER_EXPLOITER: u64 = 25;
/// Longest review period for records about children, days (three months).
pub const CHILD_REVIEW_MAX_DAYS: u64 = 90;
/// Longest review period for records about adults only, days (six months).
pub const ADULT_REVIEW_MAX_DAYS: u64 = 181;
/// Places considered "near" a cluster for person–place links.
const NEAR_PLACES: usize = 6;

/// Categories of incidents that count as conduct items for suspected exploiters (S4).
const CONDUCT: [Category; 6] = [
    Category::Drugs,
    Category::ChildExploitationConcern,
    Category::PossessionOfWeapons,
    Category::SeriousYouthViolence,
    Category::KnifeCrime,
    Category::Robbery,
];

/// Inputs of the people generator.
pub struct PeopleInput<'a> {
    /// Number of people.
    pub people: usize,
    /// The window.
    pub cal: &'a Calendar,
    /// Incidents, in id order.
    pub incidents: &'a [Incident],
    /// Origin of each incident.
    pub origins: &'a [Origin],
    /// Places of concern.
    pub places: &'a [PlaceOfConcern],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Victim,
    Witness,
    Suspect,
    AtRisk,
    Professional,
    Exploiter,
}

/// Age of a person relative to the window (from the birth year only, conservatively).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AgeGroup {
    /// Possibly under 18 on the last day of the window.
    Child,
    /// 18 or over on the last day, but possibly under 18 earlier in the window.
    FormerChild,
    /// 18 or over throughout the window.
    Adult,
}

impl AgeGroup {
    fn of(birth_year: u16, start_year: u16, end_year: u16) -> Self {
        if birth_year + 18 >= end_year {
            Self::Child
        } else if birth_year + 18 >= start_year {
            Self::FormerChild
        } else {
            Self::Adult
        }
    }

    fn child_at_end(self) -> bool {
        self == Self::Child
    }

    fn child_in_window(self) -> bool {
        self != Self::Adult
    }
}

struct Draft {
    id: PersonRef,
    birth_year: u16,
    home: usize,
    age: AgeGroup,
    role: Role,
    categories: BTreeSet<SubjectCategory>,
    source: Agency,
    has_links: bool,
    has_safeguarding: bool,
    first_suspect_target: Option<LinkTarget>,
}

impl Draft {
    /// The welfare category used on this child's peer, family and safeguarding links.
    fn welfare_category(&self) -> SubjectCategory {
        match self.role {
            Role::Victim => S::Victim,
            Role::Witness => S::Witness,
            _ => S::ChildAtRiskOfExploitation,
        }
    }
}

struct Agencies {
    police: Agency,
    social_care: Agency,
    youth: Agency,
    education: Agency,
    community_safety: Agency,
}

struct Book<'a> {
    links: Vec<Link>,
    drafts: Vec<Draft>,
    cal: &'a Calendar,
    general_grades: Vec<Grade>,
    conduct_grades: Vec<Grade>,
}

impl Book<'_> {
    /// Adds a link from `from`; `to_person` is the index of a target person, if any.
    #[expect(
        clippy::too_many_arguments,
        reason = "a link has this many independent facts"
    )]
    fn add(
        &mut self,
        kind: LinkKind,
        from: usize,
        to: LinkTarget,
        to_person: Option<usize>,
        categories: Vec<SubjectCategory>,
        conduct: bool,
        source: Agency,
        rng: &mut Rng,
    ) -> SyntheticResult<()> {
        let target_child = to_person
            .and_then(|i| self.drafts.get(i))
            .is_some_and(|d| d.age.child_at_end());
        let Some(d) = self.drafts.get_mut(from) else {
            return Err(SyntheticError::Exhausted {
                what: "person index",
            });
        };
        let max_days = if d.age.child_at_end() || target_child {
            CHILD_REVIEW_MAX_DAYS
        } else {
            ADULT_REVIEW_MAX_DAYS
        };
        let review_due = self.cal.end.plus_days(rng.range(14, max_days) as u16);
        let grades = if conduct {
            &self.conduct_grades
        } else {
            &self.general_grades
        };
        let grade = *rng
            .choose(grades)
            .ok_or(SyntheticError::Exhausted { what: "grades" })?;
        d.categories.extend(categories.iter().copied());
        d.has_links = true;
        if kind == LinkKind::Safeguarding {
            d.has_safeguarding = true;
        }
        if categories.contains(&S::Suspect) && d.first_suspect_target.is_none() {
            d.first_suspect_target = Some(to.clone());
        }
        let id = self.links.len() as u64 + 1;
        self.links.push(Link::new(
            id,
            kind,
            d.id.clone(),
            to,
            categories,
            grade,
            source,
            review_due,
        )?);
        Ok(())
    }

    fn person_target(&self, i: usize) -> SyntheticResult<LinkTarget> {
        self.drafts
            .get(i)
            .map(|d| LinkTarget::Person(d.id.clone()))
            .ok_or(SyntheticError::Exhausted {
                what: "person index",
            })
    }
}

/// Incident pools by home cluster.
struct Pools {
    by_cluster: Vec<Vec<usize>>,
    child_by_cluster: Vec<Vec<usize>>,
    child_all: Vec<usize>,
}

impl Pools {
    fn new(incidents: &[Incident], origins: &[Origin]) -> Self {
        let mut by_cluster = vec![Vec::new(); CLUSTERS.len()];
        let mut child_by_cluster = vec![Vec::new(); CLUSTERS.len()];
        let mut child_all = Vec::new();
        for (i, (inc, origin)) in incidents.iter().zip(origins).enumerate() {
            if inc.involves_child {
                child_all.push(i);
            }
            if let Origin::Cluster(c) = origin {
                if let Some(v) = by_cluster.get_mut(*c) {
                    v.push(i);
                }
                if inc.involves_child
                    && let Some(v) = child_by_cluster.get_mut(*c)
                {
                    v.push(i);
                }
            }
        }
        Self {
            by_cluster,
            child_by_cluster,
            child_all,
        }
    }

    /// An incident near `home` (one involving a child when `child`), preferring `wanted`
    /// categories; `None` when there is none at all.
    fn pick(
        &self,
        home: usize,
        child: bool,
        wanted: &[Category],
        incidents: &[Incident],
        rng: &mut Rng,
    ) -> Option<usize> {
        let local = if child {
            self.child_by_cluster.get(home)
        } else {
            self.by_cluster.get(home)
        };
        let local = local.filter(|v| !v.is_empty());
        let all: Vec<usize>;
        let pool: &[usize] = match local {
            Some(v) => v,
            None if child => &self.child_all,
            None => {
                all = (0..incidents.len()).collect();
                &all
            }
        };
        if !wanted.is_empty() {
            for _ in 0..40 {
                let i = *rng.choose(pool)?;
                if incidents
                    .get(i)
                    .is_some_and(|inc| wanted.contains(&inc.category))
                {
                    return Some(i);
                }
            }
        }
        rng.choose(pool).copied()
    }
}

fn grades(codes: &[&str]) -> SyntheticResult<Vec<Grade>> {
    Ok(codes
        .iter()
        .map(|g| g.parse::<Grade>())
        .collect::<Result<Vec<_>, _>>()?)
}

/// Generates the people (sorted by reference) and their links (ids from 1).
#[expect(
    clippy::too_many_lines,
    reason = "the random draws happen in one fixed order that other tests pin to demo values; splitting risks reordering them"
)]
pub fn generate(
    input: &PeopleInput<'_>,
    rng: &mut Rng,
) -> SyntheticResult<(Vec<Person>, Vec<Link>)> {
    let n = input.people;
    if n == 0 {
        return Ok((Vec::new(), Vec::new()));
    }
    let ag = Agencies {
        police: Agency::new("synthetic-police")?,
        social_care: Agency::new("synthetic-social-care")?,
        youth: Agency::new("synthetic-youth-services")?,
        education: Agency::new("synthetic-education")?,
        community_safety: Agency::new("synthetic-community-safety")?,
    };
    let (end_year, _, _) = input.cal.end.ymd();
    let (start_year, _, _) = input.cal.start.ymd();
    let end_year = u16::try_from(end_year).map_err(|_| SyntheticError::InvalidParams {
        field: "end_day",
        reason: "year out of range".to_owned(),
    })?;
    let start_year = u16::try_from(start_year).unwrap_or(end_year);

    let n_exploiters = ((n as f64 * EXPLOITERS_PER_PERSON).round() as usize).min(n);
    let n_children = ((n as f64 * CHILD_SHARE).round() as usize).min(n - n_exploiters);
    let homes =
        WeightedIndex::new(CLUSTERS.iter().map(|c| c.weight)).ok_or(SyntheticError::Exhausted {
            what: "cluster weights",
        })?;

    // People.
    let mut used_refs = BTreeSet::new();
    let mut drafts = Vec::with_capacity(n);
    for i in 0..n {
        let id = loop {
            let raw = format!("P{:08x}", rng.next_u64() >> 32);
            if used_refs.insert(raw.clone()) {
                break PersonRef::new(raw)?;
            }
        };
        let (role, age) = if i < n_exploiters {
            (Role::Exploiter, rng.range(22, 50))
        } else if i < n_exploiters + n_children {
            let role = match rng.weighted(&[0.33, 0.17, 0.22, 0.28]) {
                Some(0) => Role::Victim,
                Some(1) => Role::Witness,
                Some(2) => Role::Suspect,
                _ => Role::AtRisk,
            };
            (role, rng.range(10, 17))
        } else {
            let role = match rng.weighted(&[0.35, 0.25, 0.25, 0.15]) {
                Some(0) => Role::Victim,
                Some(1) => Role::Witness,
                Some(2) => Role::Suspect,
                _ => Role::Professional,
            };
            (role, rng.range(19, 64))
        };
        let birth_year = end_year.saturating_sub(age as u16);
        let age = AgeGroup::of(birth_year, start_year, end_year);
        let source = match role {
            Role::Professional => ag.community_safety.clone(),
            _ if age.child_at_end() => match rng.weighted(&[0.5, 0.35, 0.15]) {
                Some(0) => ag.social_care.clone(),
                Some(1) => ag.police.clone(),
                _ => ag.education.clone(),
            },
            _ => ag.police.clone(),
        };
        let mut categories = BTreeSet::new();
        if role == Role::Exploiter {
            categories.insert(S::SuspectedExploiterAdult);
        }
        drafts.push(Draft {
            id,
            birth_year,
            home: homes.sample(rng),
            age,
            role,
            categories,
            source,
            has_links: false,
            has_safeguarding: false,
            first_suspect_target: None,
        });
    }

    let mut children_by_home = vec![Vec::new(); CLUSTERS.len()];
    let mut adults_by_home = vec![Vec::new(); CLUSTERS.len()];
    let mut all_children = Vec::new();
    for (i, d) in drafts.iter().enumerate() {
        if d.age.child_at_end() {
            all_children.push(i);
            if let Some(v) = children_by_home.get_mut(d.home) {
                v.push(i);
            }
        } else if !matches!(d.role, Role::Exploiter | Role::Professional)
            && let Some(v) = adults_by_home.get_mut(d.home)
        {
            v.push(i);
        }
    }

    // Places near each cluster, nearest first.
    let near_places: Vec<Vec<usize>> = CLUSTERS
        .iter()
        .map(|c| {
            let mut idx: Vec<usize> = (0..input.places.len()).collect();
            idx.sort_by(|&a, &b| {
                let da = input.places.get(a).map_or(f64::MAX, |p| {
                    distance_m((p.location.lon(), p.location.lat()), (c.lon, c.lat))
                });
                let db = input.places.get(b).map_or(f64::MAX, |p| {
                    distance_m((p.location.lon(), p.location.lat()), (c.lon, c.lat))
                });
                da.total_cmp(&db)
            });
            idx.truncate(NEAR_PLACES);
            idx
        })
        .collect();
    let place_near = |home: usize, rng: &mut Rng| -> Option<LinkTarget> {
        let list = near_places.get(home)?;
        let i = *rng.choose(list)?;
        input.places.get(i).map(|p| LinkTarget::Place(p.id))
    };

    let pools = Pools::new(input.incidents, input.origins);
    let incident_target = |i: usize| {
        input
            .incidents
            .get(i)
            .map(|inc| LinkTarget::Incident(inc.id))
    };
    let mut book = Book {
        links: Vec::new(),
        drafts,
        cal: input.cal,
        general_grades: grades(&["1AP", "2BP", "2CP", "3CP", "2BC", "3DC"])?,
        conduct_grades: grades(&["1BP", "2BP", "2BC", "2CP", "1AP"])?,
    };

    // Suspected exploiters: many children, their own conduct, places.
    for e in 0..n_exploiters {
        let home = book.drafts.get(e).map_or(0, |d| d.home);
        let k = (rng.range(MIN_CHILDREN_PER_EXPLOITER, MAX_CHILDREN_PER_EXPLOITER) as usize)
            .min(all_children.len());
        let mut chosen = Vec::with_capacity(k);
        let mut attempts = 0;
        while chosen.len() < k && attempts < k * 30 {
            attempts += 1;
            let local = children_by_home.get(home).filter(|v| !v.is_empty());
            let pick = match local {
                Some(v) if rng.chance(0.7) => rng.choose(v).copied(),
                _ => rng.choose(&all_children).copied(),
            };
            if let Some(c) = pick
                && !chosen.contains(&c)
            {
                chosen.push(c);
            }
        }
        for c in chosen {
            let source = if rng.chance(0.6) {
                ag.police.clone()
            } else {
                ag.social_care.clone()
            };
            let to = book.person_target(c)?;
            book.add(
                LinkKind::Exploitation,
                e,
                to,
                Some(c),
                vec![S::SuspectedExploiterAdult],
                true,
                source,
                rng,
            )?;
            if let Some(d) = book.drafts.get_mut(c) {
                d.categories.insert(S::ChildAtRiskOfExploitation);
            }
        }
        for _ in 0..rng.range(1, 4) {
            if let Some(t) = pools
                .pick(home, false, &CONDUCT, input.incidents, rng)
                .and_then(incident_target)
            {
                book.add(
                    LinkKind::PersonIncident,
                    e,
                    t,
                    None,
                    vec![S::Suspect],
                    true,
                    ag.police.clone(),
                    rng,
                )?;
            }
        }
        let mut seen = Vec::new();
        for _ in 0..rng.range(2, 5) {
            if let Some(t) = place_near(home, rng)
                && !seen.contains(&t)
            {
                seen.push(t.clone());
                let cats = vec![S::SuspectedExploiterAdult];
                book.add(
                    LinkKind::PersonPlace,
                    e,
                    t,
                    None,
                    cats,
                    true,
                    ag.police.clone(),
                    rng,
                )?;
            }
        }
    }

    // Everyone else, by role.
    for p in n_exploiters..n {
        let Some(d) = book.drafts.get(p) else {
            continue;
        };
        let (home, role, child) = (d.home, d.role, d.age.child_at_end());
        match role {
            Role::Victim | Role::Witness | Role::Suspect => {
                let category = match role {
                    Role::Victim => S::Victim,
                    Role::Witness => S::Witness,
                    _ => S::Suspect,
                };
                let m = 1 + usize::from(rng.chance(0.35)) + usize::from(rng.chance(0.1));
                let convicted = !child && role == Role::Suspect && rng.chance(0.25);
                let mut seen = Vec::new();
                for j in 0..m {
                    let Some(i) = pools.pick(home, child, &[], input.incidents, rng) else {
                        break;
                    };
                    if seen.contains(&i) {
                        continue;
                    }
                    seen.push(i);
                    let Some(inc) = input.incidents.get(i) else {
                        continue;
                    };
                    let cats = if convicted && j == 0 {
                        vec![S::Convicted]
                    } else {
                        vec![category]
                    };
                    let source = inc.provenance.agency.clone();
                    let conduct = role == Role::Suspect;
                    book.add(
                        LinkKind::PersonIncident,
                        p,
                        LinkTarget::Incident(inc.id),
                        None,
                        cats,
                        conduct,
                        source,
                        rng,
                    )?;
                }
            }
            Role::AtRisk => {
                if let Some(t) = place_near(home, rng) {
                    let cats = vec![S::ChildAtRiskOfExploitation];
                    book.add(
                        LinkKind::Safeguarding,
                        p,
                        t,
                        None,
                        cats,
                        false,
                        ag.social_care.clone(),
                        rng,
                    )?;
                }
                if rng.chance(0.5)
                    && let Some(t) = place_near(home, rng)
                {
                    let cats = vec![S::ChildAtRiskOfExploitation];
                    book.add(
                        LinkKind::PersonPlace,
                        p,
                        t,
                        None,
                        cats,
                        false,
                        ag.youth.clone(),
                        rng,
                    )?;
                }
            }
            Role::Professional => {
                let target = if rng.chance(0.5) {
                    pools
                        .pick(home, false, &[], input.incidents, rng)
                        .and_then(incident_target)
                } else {
                    place_near(home, rng)
                };
                if let Some(t) = target {
                    let kind = if matches!(t, LinkTarget::Place(_)) {
                        LinkKind::PersonPlace
                    } else {
                        LinkKind::PersonIncident
                    };
                    let cats = vec![S::ProfessionalOther];
                    book.add(
                        kind,
                        p,
                        t,
                        None,
                        cats,
                        false,
                        ag.community_safety.clone(),
                        rng,
                    )?;
                }
            }
            Role::Exploiter => {}
        }
    }

    // Peer and family links among children and with adults near them.
    let mut pairs = BTreeSet::new();
    for &c in &all_children {
        let Some(d) = book.drafts.get(c) else {
            continue;
        };
        let (home, welfare) = (d.home, d.welfare_category());
        let local = children_by_home.get(home).map_or(&[][..], Vec::as_slice);
        if rng.chance(0.45) {
            for _ in 0..rng.range(1, 2) {
                let Some(&o) = rng.choose(local) else { break };
                let key = (c.min(o), c.max(o));
                if o == c || !pairs.insert(key) {
                    continue;
                }
                let to = book.person_target(o)?;
                book.add(
                    LinkKind::Peer,
                    c,
                    to,
                    Some(o),
                    vec![welfare],
                    false,
                    ag.youth.clone(),
                    rng,
                )?;
            }
        }
        if rng.chance(0.25)
            && let Some(&a) = adults_by_home.get(home).and_then(|v| rng.choose(v))
        {
            let to = book.person_target(a)?;
            book.add(
                LinkKind::Family,
                c,
                to,
                Some(a),
                vec![welfare],
                false,
                ag.social_care.clone(),
                rng,
            )?;
        }
        if rng.chance(0.08)
            && let Some(&o) = rng.choose(local)
            && o != c
            && pairs.insert((c.min(o), c.max(o)))
        {
            let to = book.person_target(o)?;
            book.add(
                LinkKind::Family,
                c,
                to,
                Some(o),
                vec![welfare],
                false,
                ag.social_care.clone(),
                rng,
            )?;
        }
    }

    // S2: anyone who may have been a child in the window and is a suspect in any link gets a
    // safeguarding link about the same incident or place. Also make sure everyone has a link.
    for p in 0..book.drafts.len() {
        let Some(d) = book.drafts.get(p) else {
            continue;
        };
        let needs_safeguarding =
            d.age.child_in_window() && d.categories.contains(&S::Suspect) && !d.has_safeguarding;
        let target = d.first_suspect_target.clone();
        let (home, has_links, child) = (d.home, d.has_links, d.age.child_at_end());
        if needs_safeguarding {
            let t = target
                .or_else(|| place_near(home, rng))
                .ok_or(SyntheticError::Exhausted {
                    what: "safeguarding target",
                })?;
            let cats = vec![S::ChildAtRiskOfExploitation];
            book.add(
                LinkKind::Safeguarding,
                p,
                t,
                None,
                cats,
                false,
                ag.social_care.clone(),
                rng,
            )?;
        } else if !has_links && let Some(t) = place_near(home, rng) {
            let (kind, cats) = if child {
                (LinkKind::Safeguarding, vec![S::ChildAtRiskOfExploitation])
            } else {
                (LinkKind::PersonPlace, vec![S::Witness])
            };
            book.add(kind, p, t, None, cats, false, ag.social_care.clone(), rng)?;
        }
    }

    // People records.
    let cal_end = input.cal.end;
    let mut people = Vec::with_capacity(book.drafts.len());
    for d in book.drafts {
        let mut categories: Vec<SubjectCategory> = d.categories.into_iter().collect();
        if categories.is_empty() {
            categories.push(if d.age.child_at_end() {
                S::ChildAtRiskOfExploitation
            } else {
                S::Witness
            });
        }
        let max_days = if d.age.child_at_end() {
            CHILD_REVIEW_MAX_DAYS
        } else {
            ADULT_REVIEW_MAX_DAYS
        };
        let review_due = cal_end.plus_days(rng.range(14, max_days) as u16);
        people.push(Person::new(
            d.id,
            d.birth_year,
            categories,
            d.source,
            review_due,
        )?);
    }
    people.sort_by(|a, b| a.id.cmp(&b.id));
    Ok((people, book.links))
}
