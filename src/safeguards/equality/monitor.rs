//! The comparisons of one month (S22): pure functions from records to [`Comparison`]s.
//!
//! Populations ([`Population`]):
//!
//! - `intelligence:<category>`: distinct people aged 10–24 recorded in the month in that subject
//!   category, against residents aged 10–24 ([`super::baselines`]). "Recorded in the month"
//!   means linked with that category to an incident dated in the month (links carry no date of
//!   their own). By ethnicity, sex, age band, authority, deprivation decile and MSOA.
//! - `child_suspect_vs_victim`: children (under 18 during the month, from the birth year)
//!   recorded in the month as `suspect` or `victim`; the monitored population is the suspects,
//!   the baseline all of them (suspects and victims), so each group's rate is its share of
//!   suspects and the RRI compares shares. Taking the union as the baseline keeps every `a ≤ N`,
//!   which S22's interval needs. By ethnicity, sex, authority, deprivation decile and MSOA.
//! - `stop_search`: person searches (and person-and-vehicle searches) in the month of people
//!   in the 10–17 and 18–24 bands, against residents aged 10–24; searches, not people
//!   (data.police.uk holds no identity). Ethnicity from the self-defined label, else the
//!   officer-defined one. By ethnicity, sex and age band (the records hold no residence).
//!
//! A person's deprivation decile is their own when recorded, else their MSOA's from the
//! baselines ([`Groups::with_decile_from`]). MSOA counts are small; they are published only
//! through the child-threshold protection of [`super::api`], like every other count.
//!
//! People subject to actions (S7) are not monitored: the store holds no action records yet.
//!
//! Reference groups: `white` for ethnicity and decile `10` (least deprived) for deprivation,
//! the conventions of the Lammy Review and the IMD; otherwise the group with the largest
//! baseline (ties: the first code). People whose group is unknown or `not_stated` are in no
//! group of that dimension.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::baselines::BaselineTotals;
use super::{Dimension, Ethnicity, Month, PersonEquality, Sex, age_band};
use crate::analysis::rri::{RriCounts, RriOutcome, rri};
use crate::domain::{
    Incident, IncidentId, Link, LinkTarget, Person, PersonRef, SearchType, StopSearch,
    SubjectCategory,
};

/// A monitored population.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Population {
    /// People aged 10–24 recorded in intelligence in one category, against residents.
    Intelligence(SubjectCategory),
    /// Children recorded as `suspect`, against children recorded as `suspect` or `victim`.
    ChildSuspectVsVictim,
    /// Person searches of people aged 10–24, against residents.
    StopSearch,
}

impl Population {
    /// The code stored and published, e.g. `intelligence:suspect`.
    pub fn code(self) -> String {
        match self {
            Self::Intelligence(c) => format!("intelligence:{}", c.code()),
            Self::ChildSuspectVsVictim => "child_suspect_vs_victim".to_owned(),
            Self::StopSearch => "stop_search".to_owned(),
        }
    }
}

/// The groups one person (or search) falls in; `None` where unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Groups {
    /// Ethnic group.
    pub ethnicity: Option<Ethnicity>,
    /// Sex.
    pub sex: Option<Sex>,
    /// Age band (`10-17`, `18-24`).
    pub age_band: Option<&'static str>,
    /// Authority of residence.
    pub authority: Option<String>,
    /// Deprivation decile.
    pub deprivation_decile: Option<u8>,
    /// MSOA of residence.
    pub msoa: Option<String>,
}

impl Groups {
    /// The groups of a person with these attributes, aged `age` (None: no age band).
    pub fn of(attrs: Option<&PersonEquality>, age: Option<i32>) -> Self {
        Self {
            ethnicity: attrs.map(|a| a.ethnicity),
            sex: attrs.map(|a| a.sex),
            age_band: age.and_then(age_band),
            authority: attrs.and_then(|a| a.authority.clone()),
            deprivation_decile: attrs.and_then(|a| a.deprivation_decile),
            msoa: attrs.and_then(|a| a.msoa.clone()),
        }
    }

    /// These groups, with the deprivation decile of the MSOA (from the baselines) when no
    /// decile of the person's own is recorded.
    #[must_use]
    pub fn with_decile_from(mut self, residents: &BaselineTotals) -> Self {
        if self.deprivation_decile.is_none() {
            self.deprivation_decile = self.msoa.as_deref().and_then(|m| residents.decile_of(m));
        }
        self
    }

    /// The group code in `dimension`, if known and stated.
    pub fn group(&self, dimension: Dimension) -> Option<String> {
        match dimension {
            Dimension::Ethnicity => self
                .ethnicity
                .filter(|e| *e != Ethnicity::NotStated)
                .map(|e| e.code().to_owned()),
            Dimension::Sex => self
                .sex
                .filter(|s| *s != Sex::NotStated)
                .map(|s| s.code().to_owned()),
            Dimension::AgeBand => self.age_band.map(str::to_owned),
            Dimension::Authority => self.authority.clone(),
            Dimension::DeprivationDecile => self.deprivation_decile.map(|d| d.to_string()),
            Dimension::Msoa => self.msoa.clone(),
        }
    }
}

/// One subject of a within-population comparison: their groups and whether they are in the
/// monitored part (e.g. recorded as a suspect).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The groups.
    pub groups: Groups,
    /// True when in the monitored part of the population.
    pub member: bool,
}

/// One comparison of one month: a group against the reference group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Population code ([`Population::code`]).
    pub population: String,
    /// The dimension.
    pub dimension: Dimension,
    /// The group.
    pub group: String,
    /// The reference group.
    pub reference: String,
    /// The exact counts (never published as they are: see [`super::api`]).
    pub counts: RriCounts,
    /// RRI and its interval, or why there is none.
    pub outcome: RriOutcome,
}

impl Comparison {
    /// True when the month is flagged under S22.
    pub fn flagged(&self) -> bool {
        self.outcome.flagged()
    }

    /// The key identifying the comparison across months.
    pub fn key(&self) -> (String, Dimension, String) {
        (self.population.clone(), self.dimension, self.group.clone())
    }
}

/// The reference group of `dimension` among `baselines` (group → baseline size).
fn reference_group(dimension: Dimension, baselines: &BTreeMap<String, u64>) -> Option<String> {
    let conventional = match dimension {
        Dimension::Ethnicity => Some("white"),
        Dimension::DeprivationDecile => Some("10"),
        _ => None,
    };
    if let Some(c) = conventional.filter(|c| baselines.get(*c).is_some_and(|n| *n > 0)) {
        return Some(c.to_owned());
    }
    // Largest baseline; on a tie the first code (iteration is in code order).
    let mut best: Option<(&String, u64)> = None;
    for (g, n) in baselines {
        if best.is_none_or(|(_, b)| *n > b) {
            best = Some((g, *n));
        }
    }
    best.filter(|(_, n)| *n > 0).map(|(g, _)| g.clone())
}

/// Comparisons of every group against the reference, given each group's monitored count and
/// baseline.
fn compare(
    population: &str,
    dimension: Dimension,
    monitored: &BTreeMap<String, u64>,
    baselines: &BTreeMap<String, u64>,
) -> Vec<Comparison> {
    let Some(reference) = reference_group(dimension, baselines) else {
        return Vec::new();
    };
    let count = |m: &BTreeMap<String, u64>, g: &str| m.get(g).copied().unwrap_or(0);
    let (a_r, n_r) = (count(monitored, &reference), count(baselines, &reference));
    baselines
        .keys()
        .filter(|g| **g != reference)
        .map(|g| {
            let counts = RriCounts {
                a_g: count(monitored, g),
                n_g: count(baselines, g),
                a_r,
                n_r,
            };
            Comparison {
                population: population.to_owned(),
                dimension,
                group: g.clone(),
                reference: reference.clone(),
                counts,
                outcome: rri(counts),
            }
        })
        .collect()
}

/// Comparisons within a population: each group's rate is its members over its subjects.
pub fn compare_within(
    population: &str,
    subjects: &[Subject],
    dimensions: &[Dimension],
) -> Vec<Comparison> {
    let mut out = Vec::new();
    for &d in dimensions {
        let mut monitored: BTreeMap<String, u64> = BTreeMap::new();
        let mut baselines: BTreeMap<String, u64> = BTreeMap::new();
        for s in subjects {
            if let Some(g) = s.groups.group(d) {
                if s.member {
                    *monitored.entry(g.clone()).or_default() += 1;
                }
                *baselines.entry(g).or_default() += 1;
            }
        }
        out.extend(compare(population, d, &monitored, &baselines));
    }
    out
}

/// Comparisons against resident baselines: each group's rate is its members over its
/// residents. Members in a group with no baseline row are counted nowhere.
pub fn compare_to_residents(
    population: &str,
    members: &[Groups],
    residents: &BaselineTotals,
    dimensions: &[Dimension],
) -> Vec<Comparison> {
    let mut out = Vec::new();
    for &d in dimensions {
        let baselines: BTreeMap<String, u64> = residents
            .groups(d)
            .into_iter()
            .map(|g| {
                let n = residents.residents(d, &g);
                (g, n)
            })
            .collect();
        let mut monitored: BTreeMap<String, u64> = BTreeMap::new();
        for m in members {
            if let Some(g) = m.group(d).filter(|g| baselines.contains_key(g)) {
                *monitored.entry(g).or_default() += 1;
            }
        }
        out.extend(compare(population, d, &monitored, &baselines));
    }
    out
}

/// Everything the monitor reads for a month.
pub struct MonthData<'a> {
    /// People.
    pub people: &'a [Person],
    /// Links.
    pub links: &'a [Link],
    /// Incidents (for the month of each link).
    pub incidents: &'a [Incident],
    /// Equality attributes by person.
    pub equality: &'a BTreeMap<PersonRef, PersonEquality>,
    /// Imported stop-and-search records.
    pub stop_searches: &'a [StopSearch],
    /// Resident baselines.
    pub residents: &'a BaselineTotals,
}

const ALL_DIMENSIONS: [Dimension; 6] = [
    Dimension::Ethnicity,
    Dimension::Sex,
    Dimension::AgeBand,
    Dimension::Authority,
    Dimension::DeprivationDecile,
    Dimension::Msoa,
];

/// The comparisons of `month` for every population (module docs).
pub fn monitor_month(month: Month, data: &MonthData<'_>) -> Vec<Comparison> {
    let in_month: BTreeSet<IncidentId> = data
        .incidents
        .iter()
        .filter(|i| month.contains(i.time.day))
        .map(|i| i.id)
        .collect();
    // Person → the categories they were recorded in this month.
    let mut recorded: BTreeMap<&PersonRef, BTreeSet<SubjectCategory>> = BTreeMap::new();
    for l in data.links {
        if matches!(&l.to, LinkTarget::Incident(i) if in_month.contains(i)) {
            recorded
                .entry(&l.from)
                .or_default()
                .extend(l.categories.iter().copied());
        }
    }
    let people: BTreeMap<&PersonRef, &Person> = data.people.iter().map(|p| (&p.id, p)).collect();
    let mut out = Vec::new();

    // People recorded in intelligence, by category, aged 10–24.
    let mut by_category: BTreeMap<SubjectCategory, Vec<Groups>> = BTreeMap::new();
    let mut children: Vec<Subject> = Vec::new();
    for (id, cats) in &recorded {
        let Some(person) = people.get(id) else {
            continue;
        };
        let age = month.year() - i32::from(person.birth_year);
        let attrs = data.equality.get(*id);
        if age_band(age).is_some() {
            for c in cats {
                by_category
                    .entry(*c)
                    .or_default()
                    .push(Groups::of(attrs, Some(age)).with_decile_from(data.residents));
            }
        }
        let suspect = cats.contains(&SubjectCategory::Suspect);
        if age < 18 && (suspect || cats.contains(&SubjectCategory::Victim)) {
            children.push(Subject {
                groups: Groups::of(attrs, None).with_decile_from(data.residents),
                member: suspect,
            });
        }
    }
    for (c, members) in &by_category {
        out.extend(compare_to_residents(
            &Population::Intelligence(*c).code(),
            members,
            data.residents,
            &ALL_DIMENSIONS,
        ));
    }
    out.extend(compare_within(
        &Population::ChildSuspectVsVictim.code(),
        &children,
        &[
            Dimension::Ethnicity,
            Dimension::Sex,
            Dimension::Authority,
            Dimension::DeprivationDecile,
            Dimension::Msoa,
        ],
    ));

    // Stop and search.
    let searched: Vec<Groups> = data
        .stop_searches
        .iter()
        .filter(|s| month.contains(s.day) && s.search_type != SearchType::VehicleSearch)
        .filter_map(stop_search_groups)
        .collect();
    if !searched.is_empty() {
        out.extend(compare_to_residents(
            &Population::StopSearch.code(),
            &searched,
            data.residents,
            &[Dimension::Ethnicity, Dimension::Sex, Dimension::AgeBand],
        ));
    }
    out
}

/// The groups of a searched person in the 10–24 bands, or `None` outside them.
fn stop_search_groups(s: &StopSearch) -> Option<Groups> {
    let band = super::AGE_BANDS
        .iter()
        .copied()
        .find(|b| s.age_range.as_deref().is_some_and(|r| r.trim() == *b))?;
    let ethnicity = [&s.self_defined_ethnicity, &s.officer_defined_ethnicity]
        .into_iter()
        .flatten()
        .map(|l| Ethnicity::from_police_label(l))
        .find(|e| *e != Ethnicity::NotStated)
        .unwrap_or(Ethnicity::NotStated);
    let sex = match s.gender.as_deref().map(str::trim) {
        Some(g) if g.eq_ignore_ascii_case("female") => Sex::Female,
        Some(g) if g.eq_ignore_ascii_case("male") => Sex::Male,
        _ => Sex::NotStated,
    };
    Some(Groups {
        ethnicity: Some(ethnicity),
        sex: Some(sex),
        age_band: Some(band),
        authority: None,
        deprivation_decile: None,
        msoa: None,
    })
}

/// The comparisons of `current` whose key was also flagged in `previous`, and which are
/// flagged now: the S22 trigger.
pub fn triggered<'a>(previous: &[Comparison], current: &'a [Comparison]) -> Vec<&'a Comparison> {
    let before: BTreeSet<_> = previous
        .iter()
        .filter(|c| c.flagged())
        .map(Comparison::key)
        .collect();
    current
        .iter()
        .filter(|c| c.flagged() && before.contains(&c.key()))
        .collect()
}

#[cfg(test)]
#[path = "monitor_tests.rs"]
mod tests;
