//! Data rules enforced when people and links are written (safeguards.md S1, S2, S4, S18).
//!
//! S1 (a category on every person and link; no "gang member" or "associate") is enforced by
//! the domain types themselves: such a record cannot be built. The rules here are checked on
//! the state the store would hold after the write, not on the batch alone: for every person the
//! batch touches (people in it, and people its links come from or point to), the resulting
//! person is the batch's version if it has one (a re-import amends the stored record) or else
//! the stored one, and their links are every stored link from or to them, with the batch's
//! links added (a batch link replaces the stored link with its id). So the order of imports
//! cannot get round a rule: a links-only import that makes a stored child a suspect is checked
//! against that child, and a people import against the links already stored.
//!
//! - **S1** `LINK_FROM_NOT_FOUND` / `LINK_TARGET_NOT_FOUND`: every link of the batch comes
//!   from a person and points to a person, place or incident that is stored or in the same
//!   batch. People are therefore imported before their links, or with them in one batch.
//! - **S2** `CHILD_SUSPECT_NEEDS_SAFEGUARDING_LINK`: anyone who may be under 18 and is recorded
//!   as a suspect (in their categories or in any of their links') has a safeguarding link.
//! - **S4** `EXPLOITER_NEEDS_CONDUCT_ITEM`: anyone recorded as a suspected exploiter adult (in
//!   their categories or any of their links') has a conduct item: a graded `person_incident`
//!   link in which their category is about their own conduct (`suspect`,
//!   `suspected_exploiter_adult` or `convicted`, not `victim` or `witness`), to an incident
//!   that is stored or in the batch. Association alone is not enough.
//! - **S18** `REVIEW_TOO_FAR`: review dates at most 92 days ahead for children and 183 for
//!   adults, counted from the record's as-of date. A link touching anyone who may be a child
//!   (from or to them, stored or in the batch) follows the child limit.
//!
//! The module is pure: the store fetches a [`StoredState`] for the batch and the rules read it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::domain::{
    Dataset, Day, IncidentId, Link, LinkKind, LinkTarget, Person, PersonRef, PlaceId,
    SubjectCategory,
};

/// Longest review period for anyone who may be a child, in days (S18: at most 3 months).
pub const CHILD_REVIEW_MAX_DAYS: u16 = 92;
/// Longest review period for adults, in days (S18: at most 6 months).
pub const ADULT_REVIEW_MAX_DAYS: u16 = 183;

/// Categories that describe a person's own conduct in an incident (S4).
const CONDUCT: [SubjectCategory; 3] = [
    SubjectCategory::Suspect,
    SubjectCategory::SuspectedExploiterAdult,
    SubjectCategory::Convicted,
];

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleViolation {
    /// Stable code, e.g. `CHILD_SUSPECT_NEEDS_SAFEGUARDING_LINK`.
    pub code: &'static str,
    /// The record at fault (`person:P…` or `link:42`).
    pub record: String,
    /// The field at fault (`from`, `to`) when the rule is about one field; `None` when it is
    /// about the record as a whole.
    pub field: Option<&'static str>,
    /// What to do about it.
    pub message: String,
}

/// What the store holds that the rules need for one batch ([`StoredState::touched`] says which
/// people that is). Pure data: the store fills it, the rules read it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredState {
    /// The stored version of every touched person that is stored.
    pub people: BTreeMap<PersonRef, Person>,
    /// Every stored link from or to a touched person, and every stored link whose id the batch
    /// carries, by id.
    pub links: BTreeMap<u64, Link>,
    /// Which of the incidents pointed to by the batch's links and by `links` are stored.
    pub incidents: BTreeSet<IncidentId>,
    /// Which of the places pointed to by the batch's links and by `links` are stored.
    pub places: BTreeSet<PlaceId>,
}

impl StoredState {
    /// The people a batch touches directly: its people, and the people its links come from or
    /// point to. (The store adds the people of stored links the batch replaces.)
    pub fn touched(batch: &Dataset) -> BTreeSet<PersonRef> {
        let mut out: BTreeSet<PersonRef> = batch.people.iter().map(|p| p.id.clone()).collect();
        for l in &batch.links {
            out.insert(l.from.clone());
            if let LinkTarget::Person(p) = &l.to {
                out.insert(p.clone());
            }
        }
        out
    }
}

/// The person a link points to, if it points to one.
fn target_person(l: &Link) -> Option<&PersonRef> {
    match &l.to {
        LinkTarget::Person(p) => Some(p),
        LinkTarget::Place(_) | LinkTarget::Incident(_) => None,
    }
}

/// The state after the write, for the people the batch touches.
struct Resulting<'a> {
    people: BTreeMap<&'a PersonRef, &'a Person>,
    links: BTreeMap<u64, &'a Link>,
    incidents: BTreeSet<IncidentId>,
    places: BTreeSet<PlaceId>,
}

impl<'a> Resulting<'a> {
    fn new(batch: &'a Dataset, stored: &'a StoredState) -> Self {
        let mut people: BTreeMap<&PersonRef, &Person> = stored.people.iter().collect();
        // The batch's version replaces the stored one (an amendment).
        for p in &batch.people {
            people.insert(&p.id, p);
        }
        let mut links: BTreeMap<u64, &Link> = stored.links.iter().map(|(k, v)| (*k, v)).collect();
        for l in &batch.links {
            links.insert(l.id, l);
        }
        let mut incidents = stored.incidents.clone();
        incidents.extend(batch.incidents.iter().map(|i| i.id));
        let mut places = stored.places.clone();
        places.extend(batch.places.iter().map(|p| p.id));
        Self {
            people,
            links,
            incidents,
            places,
        }
    }

    fn links_from<'s>(&'s self, person: &'s PersonRef) -> impl Iterator<Item = &'a Link> + 's {
        self.links
            .values()
            .copied()
            .filter(move |l| &l.from == person)
    }

    fn may_be_child(&self, person: &PersonRef, as_of: Day) -> bool {
        self.people
            .get(person)
            .is_some_and(|p| p.may_be_child_on(as_of))
    }

    fn is_conduct_item(&self, l: &Link) -> bool {
        l.kind == LinkKind::PersonIncident
            && l.categories.iter().any(|c| CONDUCT.contains(c))
            && matches!(&l.to, LinkTarget::Incident(i) if self.incidents.contains(i))
    }
}

/// The batch record a rule about `person` is reported on: the person's row if the batch has
/// one, else the first batch link from them, else the first batch link to them.
fn record_for(batch: &Dataset, person: &PersonRef) -> String {
    if batch.people.iter().any(|p| &p.id == person) {
        return format!("person:{person}");
    }
    batch
        .links
        .iter()
        .find(|l| &l.from == person)
        .or_else(|| {
            batch
                .links
                .iter()
                .find(|l| target_person(l) == Some(person))
        })
        .map_or_else(|| format!("person:{person}"), |l| format!("link:{}", l.id))
}

/// Checks a batch against the state the store would hold after writing it; returns every
/// violation, not just the first.
pub fn check_batch(batch: &Dataset, as_of: Day, stored: &StoredState) -> Vec<RuleViolation> {
    let mut out = Vec::new();
    let after = Resulting::new(batch, stored);
    check_links_exist(batch, &after, &mut out);
    check_subjects(batch, as_of, stored, &after, &mut out);
    check_review_periods(batch, as_of, &after, &mut out);
    out
}

/// S1: every link of the batch joins records that exist.
fn check_links_exist(batch: &Dataset, after: &Resulting<'_>, out: &mut Vec<RuleViolation>) {
    for l in &batch.links {
        if !after.people.contains_key(&l.from) {
            out.push(RuleViolation {
                code: "LINK_FROM_NOT_FOUND",
                record: format!("link:{}", l.id),
                field: Some("from"),
                message: format!(
                    "person {} is neither stored nor in this batch: import people before their \
                     links, or in the same batch (safeguards.md S1)",
                    l.from
                ),
            });
        }
        let target = match &l.to {
            LinkTarget::Person(p) => after
                .people
                .contains_key(p)
                .then_some(())
                .ok_or_else(|| format!("person {p}")),
            LinkTarget::Incident(i) => after
                .incidents
                .contains(i)
                .then_some(())
                .ok_or_else(|| format!("incident {}", i.get())),
            LinkTarget::Place(p) => after
                .places
                .contains(p)
                .then_some(())
                .ok_or_else(|| format!("place {}", p.get())),
        };
        if let Err(what) = target {
            out.push(RuleViolation {
                code: "LINK_TARGET_NOT_FOUND",
                record: format!("link:{}", l.id),
                field: Some("to"),
                message: format!(
                    "{what} is neither stored nor in this batch: import it before the links to \
                     it, or in the same batch (safeguards.md S1)"
                ),
            });
        }
    }
}

/// S2 and S4 for everyone whose own record or links the batch changes.
fn check_subjects(
    batch: &Dataset,
    as_of: Day,
    stored: &StoredState,
    after: &Resulting<'_>,
    out: &mut Vec<RuleViolation>,
) {
    let mut subjects: BTreeSet<&PersonRef> = batch.people.iter().map(|p| &p.id).collect();
    subjects.extend(batch.links.iter().map(|l| &l.from));
    subjects.extend(
        batch
            .links
            .iter()
            .filter_map(|l| stored.links.get(&l.id))
            .map(|l| &l.from),
    );
    for id in subjects {
        let Some(person) = after.people.get(id) else {
            continue; // reported by check_links_exist as LINK_FROM_NOT_FOUND
        };
        let holds = |c: SubjectCategory| {
            person.categories.contains(&c)
                || after.links_from(id).any(|l| l.categories.contains(&c))
        };
        if person.may_be_child_on(as_of)
            && holds(SubjectCategory::Suspect)
            && !after
                .links_from(id)
                .any(|l| l.kind == LinkKind::Safeguarding)
        {
            out.push(RuleViolation {
                code: "CHILD_SUSPECT_NEEDS_SAFEGUARDING_LINK",
                record: record_for(batch, id),
                field: None,
                message: format!(
                    "{id} may be a child and is recorded as a suspect, so must be linked to a \
                     safeguarding or exploitation-consideration record (safeguards.md S2)"
                ),
            });
        }
        if holds(SubjectCategory::SuspectedExploiterAdult)
            && !after.links_from(id).any(|l| after.is_conduct_item(l))
        {
            out.push(RuleViolation {
                code: "EXPLOITER_NEEDS_CONDUCT_ITEM",
                record: record_for(batch, id),
                field: None,
                message: format!(
                    "{id} is recorded as a suspected exploiter and needs at least one graded \
                     person_incident link about their own conduct (suspect, \
                     suspected_exploiter_adult or convicted) to a stored incident, not \
                     association alone (safeguards.md S4)"
                ),
            });
        }
    }
}

/// S18: review periods of the batch's records.
fn check_review_periods(
    batch: &Dataset,
    as_of: Day,
    after: &Resulting<'_>,
    out: &mut Vec<RuleViolation>,
) {
    for p in &batch.people {
        let max = if p.may_be_child_on(as_of) {
            CHILD_REVIEW_MAX_DAYS
        } else {
            ADULT_REVIEW_MAX_DAYS
        };
        if p.review_due > as_of.plus_days(max) {
            out.push(too_far(
                format!("person:{}", p.id),
                p.review_due,
                max,
                as_of,
            ));
        }
    }
    for l in &batch.links {
        // A link touching anyone who may be a child follows the child's review period.
        let child = after.may_be_child(&l.from, as_of)
            || target_person(l).is_some_and(|p| after.may_be_child(p, as_of));
        let max = if child {
            CHILD_REVIEW_MAX_DAYS
        } else {
            ADULT_REVIEW_MAX_DAYS
        };
        if l.review_due > as_of.plus_days(max) {
            out.push(too_far(format!("link:{}", l.id), l.review_due, max, as_of));
        }
    }
}

fn too_far(record: String, due: Day, max: u16, as_of: Day) -> RuleViolation {
    RuleViolation {
        code: "REVIEW_TOO_FAR",
        record,
        field: Some("review_due"),
        message: format!(
            "review_due {due} is more than {max} days after {as_of} (safeguards.md S18)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Agency, Grade, IncidentId, Link, LinkTarget, Person};

    fn day(s: &str) -> Day {
        s.parse().unwrap()
    }

    fn pref(id: &str) -> PersonRef {
        PersonRef::new(id).unwrap()
    }

    fn person(id: &str, year: u16, cats: Vec<SubjectCategory>) -> Person {
        Person::new(
            pref(id),
            year,
            cats,
            Agency::new("police").unwrap(),
            day("2026-12-01"),
        )
        .unwrap()
    }

    fn link_to(
        id: u64,
        from: &str,
        kind: LinkKind,
        to: LinkTarget,
        cats: Vec<SubjectCategory>,
    ) -> Link {
        Link::new(
            id,
            kind,
            pref(from),
            to,
            cats,
            "2BP".parse::<Grade>().unwrap(),
            Agency::new("police").unwrap(),
            day("2026-12-01"),
        )
        .unwrap()
    }

    /// A link to incident 1 (stored in [`with_incident`]).
    fn link(id: u64, from: &str, kind: LinkKind, cats: Vec<SubjectCategory>) -> Link {
        link_to(
            id,
            from,
            kind,
            LinkTarget::Incident(IncidentId::new(1)),
            cats,
        )
    }

    /// A store holding incident 1 and the given people and links.
    fn with_incident(people: Vec<Person>, links: Vec<Link>) -> StoredState {
        StoredState {
            people: people.into_iter().map(|p| (p.id.clone(), p)).collect(),
            links: links.into_iter().map(|l| (l.id, l)).collect(),
            incidents: [IncidentId::new(1)].into(),
            places: BTreeSet::new(),
        }
    }

    fn codes(v: &[RuleViolation]) -> Vec<&'static str> {
        v.iter().map(|v| v.code).collect()
    }

    const AS_OF: &str = "2026-11-22";

    #[test]
    fn a_child_suspect_without_a_safeguarding_link_is_refused() {
        let batch = Dataset {
            people: vec![person("P0000000c", 2010, vec![SubjectCategory::Suspect])],
            ..Dataset::default()
        };
        let v = check_batch(&batch, day(AS_OF), &with_incident(vec![], vec![]));
        assert_eq!(codes(&v), vec!["CHILD_SUSPECT_NEEDS_SAFEGUARDING_LINK"]);
        let stored = with_incident(
            vec![],
            vec![link(
                7,
                "P0000000c",
                LinkKind::Safeguarding,
                vec![SubjectCategory::ChildAtRiskOfExploitation],
            )],
        );
        assert!(
            check_batch(&batch, day(AS_OF), &stored).is_empty(),
            "a stored link satisfies it"
        );
        let with_link = Dataset {
            links: vec![link(
                1,
                "P0000000c",
                LinkKind::Safeguarding,
                vec![SubjectCategory::ChildAtRiskOfExploitation],
            )],
            ..batch
        };
        assert!(
            check_batch(&with_link, day(AS_OF), &with_incident(vec![], vec![])).is_empty(),
            "a link in the batch satisfies it"
        );
    }

    #[test]
    fn a_links_only_batch_is_checked_against_the_stored_child() {
        let child = person("P0000000c", 2011, vec![SubjectCategory::Victim]);
        let batch = Dataset {
            links: vec![link(
                1,
                "P0000000c",
                LinkKind::PersonIncident,
                vec![SubjectCategory::Suspect],
            )],
            ..Dataset::default()
        };
        let v = check_batch(&batch, day(AS_OF), &with_incident(vec![child], vec![]));
        assert_eq!(codes(&v), vec!["CHILD_SUSPECT_NEEDS_SAFEGUARDING_LINK"]);
        assert_eq!(v[0].record, "link:1", "reported on the batch's link");
    }

    #[test]
    fn an_adult_suspect_needs_no_safeguarding_link() {
        let batch = Dataset {
            people: vec![person("P0000000a", 1990, vec![SubjectCategory::Suspect])],
            ..Dataset::default()
        };
        assert!(check_batch(&batch, day(AS_OF), &StoredState::default()).is_empty());
    }

    #[test]
    fn a_suspected_exploiter_needs_a_conduct_link_to_an_incident_that_exists() {
        let exploiter = person(
            "P0000000e",
            1985,
            vec![SubjectCategory::SuspectedExploiterAdult],
        );
        let refused = |links: Vec<Link>, stored: &StoredState| {
            let batch = Dataset {
                people: vec![exploiter.clone()],
                links,
                ..Dataset::default()
            };
            codes(&check_batch(&batch, day(AS_OF), stored))
                .contains(&"EXPLOITER_NEEDS_CONDUCT_ITEM")
        };
        let store = with_incident(vec![], vec![]);
        let peer = link_to(
            1,
            "P0000000e",
            LinkKind::Peer,
            LinkTarget::Person(pref("P0000000e")),
            vec![SubjectCategory::SuspectedExploiterAdult],
        );
        assert!(refused(vec![peer], &store), "association alone");
        let victim = link(
            2,
            "P0000000e",
            LinkKind::PersonIncident,
            vec![SubjectCategory::Victim],
        );
        assert!(
            refused(vec![victim], &store),
            "a victim link is not conduct"
        );
        let suspect = link(
            3,
            "P0000000e",
            LinkKind::PersonIncident,
            vec![SubjectCategory::Suspect],
        );
        assert!(
            refused(vec![suspect.clone()], &StoredState::default()),
            "conduct in an incident that does not exist"
        );
        assert!(!refused(vec![suspect], &store));
        let convicted = link(
            4,
            "P0000000e",
            LinkKind::PersonIncident,
            vec![SubjectCategory::Convicted],
        );
        assert!(
            !refused(vec![], &with_incident(vec![], vec![convicted])),
            "a stored conduct link"
        );
    }

    #[test]
    fn a_suspected_exploiter_category_on_a_link_alone_needs_conduct_too() {
        let adult = person("P0000000e", 1985, vec![SubjectCategory::Witness]);
        let batch = Dataset {
            links: vec![link_to(
                1,
                "P0000000e",
                LinkKind::PersonPlace,
                LinkTarget::Place(PlaceId::new(9)),
                vec![SubjectCategory::SuspectedExploiterAdult],
            )],
            ..Dataset::default()
        };
        let mut stored = with_incident(vec![adult], vec![]);
        stored.places.insert(PlaceId::new(9));
        assert_eq!(
            codes(&check_batch(&batch, day(AS_OF), &stored)),
            vec!["EXPLOITER_NEEDS_CONDUCT_ITEM"]
        );
    }

    #[test]
    fn links_from_or_to_records_that_do_not_exist_are_refused_by_field() {
        let adult = person("P0000000a", 1980, vec![SubjectCategory::Witness]);
        let batch = Dataset {
            links: vec![
                link(
                    1,
                    "P0000dead",
                    LinkKind::PersonIncident,
                    vec![SubjectCategory::Witness],
                ),
                link_to(
                    2,
                    "P0000000a",
                    LinkKind::Family,
                    LinkTarget::Person(pref("P0000beef")),
                    vec![SubjectCategory::Witness],
                ),
                link_to(
                    3,
                    "P0000000a",
                    LinkKind::PersonPlace,
                    LinkTarget::Place(PlaceId::new(404)),
                    vec![SubjectCategory::Witness],
                ),
                link_to(
                    4,
                    "P0000000a",
                    LinkKind::PersonIncident,
                    LinkTarget::Incident(IncidentId::new(404)),
                    vec![SubjectCategory::Witness],
                ),
            ],
            ..Dataset::default()
        };
        let v = check_batch(&batch, day(AS_OF), &with_incident(vec![adult], vec![]));
        let got: Vec<(&str, &str, Option<&str>)> = v
            .iter()
            .map(|v| (v.code, v.record.as_str(), v.field))
            .collect();
        assert_eq!(
            got,
            vec![
                ("LINK_FROM_NOT_FOUND", "link:1", Some("from")),
                ("LINK_TARGET_NOT_FOUND", "link:2", Some("to")),
                ("LINK_TARGET_NOT_FOUND", "link:3", Some("to")),
                ("LINK_TARGET_NOT_FOUND", "link:4", Some("to")),
            ]
        );
    }

    #[test]
    fn review_dates_beyond_the_category_limit_are_refused() {
        let mut child = person("P0000000c", 2012, vec![SubjectCategory::Victim]);
        child.review_due = day("2027-03-01");
        let mut adult = person("P0000000a", 1980, vec![SubjectCategory::Witness]);
        adult.review_due = day("2027-03-01");
        let batch = Dataset {
            people: vec![child, adult],
            ..Dataset::default()
        };
        let v = check_batch(&batch, day(AS_OF), &StoredState::default());
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].record, "person:P0000000c");
    }

    #[test]
    fn every_link_touching_a_stored_child_follows_the_child_limit() {
        let child = person("P0000000c", 2012, vec![SubjectCategory::Victim]);
        let adult = person("P0000000a", 1980, vec![SubjectCategory::Witness]);
        let mut from_child = link(
            1,
            "P0000000c",
            LinkKind::PersonIncident,
            vec![SubjectCategory::Victim],
        );
        let mut to_child = link_to(
            2,
            "P0000000a",
            LinkKind::Family,
            LinkTarget::Person(pref("P0000000c")),
            vec![SubjectCategory::Witness],
        );
        let mut adults_own = link(
            3,
            "P0000000a",
            LinkKind::PersonIncident,
            vec![SubjectCategory::Witness],
        );
        for l in [&mut from_child, &mut to_child, &mut adults_own] {
            l.review_due = day("2027-03-01"); // 99 days after AS_OF
        }
        let batch = Dataset {
            links: vec![from_child, to_child, adults_own],
            ..Dataset::default()
        };
        let v = check_batch(
            &batch,
            day(AS_OF),
            &with_incident(vec![child, adult], vec![]),
        );
        let records: Vec<&str> = v.iter().map(|v| v.record.as_str()).collect();
        assert_eq!(records, vec!["link:1", "link:2"], "{v:?}");
        assert!(v.iter().all(|v| v.code == "REVIEW_TOO_FAR"));
    }

    #[test]
    fn an_amendment_is_checked_as_the_batch_version_with_the_stored_links() {
        // Stored: a child suspect with a safeguarding link. The batch re-points that link.
        let child = person("P0000000c", 2012, vec![SubjectCategory::Suspect]);
        let safeguarding = link(
            5,
            "P0000000c",
            LinkKind::Safeguarding,
            vec![SubjectCategory::ChildAtRiskOfExploitation],
        );
        let stored = with_incident(vec![child], vec![safeguarding]);
        let batch = Dataset {
            links: vec![link(
                5,
                "P0000000c",
                LinkKind::PersonIncident,
                vec![SubjectCategory::Victim],
            )],
            ..Dataset::default()
        };
        assert_eq!(
            codes(&check_batch(&batch, day(AS_OF), &stored)),
            vec!["CHILD_SUSPECT_NEEDS_SAFEGUARDING_LINK"]
        );
        // A batch version of the person that drops `suspect` is fine with no safeguarding link.
        let no_longer = Dataset {
            people: vec![person("P0000000c", 2012, vec![SubjectCategory::Victim])],
            ..batch
        };
        assert!(check_batch(&no_longer, day(AS_OF), &stored).is_empty());
    }
}
