//! Data rules enforced when people and links are written (safeguards.md S1, S2, S4, S18).
//!
//! S1 (a category on every person and link; no "gang member" or "associate") is enforced by
//! the domain types themselves: such a record cannot be built. The rules here need the whole
//! batch and what is already stored:
//!
//! - **S2** `CHILD_SUSPECT_NEEDS_SAFEGUARDING_LINK`: anyone who may be under 18 and is recorded
//!   as a suspect (in their categories or in a link's) has a safeguarding link.
//! - **S4** `EXPLOITER_NEEDS_CONDUCT_ITEM`: a suspected exploiter adult has at least one graded
//!   person-incident link about their own conduct; association alone is not enough.
//! - **S18** `REVIEW_TOO_FAR`: review dates at most 92 days ahead for children and 183 for
//!   adults, counted from the record's as-of date.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::domain::{Dataset, Day, LinkKind, PersonRef, SubjectCategory};

/// Longest review period for anyone who may be a child, in days (S18: at most 3 months).
pub const CHILD_REVIEW_MAX_DAYS: u16 = 92;
/// Longest review period for adults, in days (S18: at most 6 months).
pub const ADULT_REVIEW_MAX_DAYS: u16 = 183;

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleViolation {
    /// Stable code, e.g. `CHILD_SUSPECT_NEEDS_SAFEGUARDING_LINK`.
    pub code: &'static str,
    /// The record at fault (`person:P…` or `link:42`).
    pub record: String,
    /// What to do about it.
    pub message: String,
}

/// What is already stored that a rule may rely on.
pub trait StoredLinks {
    /// True when a link of `kind` from `person` is stored.
    fn has_link(&self, person: &PersonRef, kind: LinkKind) -> bool;
}

/// Checks a batch; returns every violation, not just the first.
pub fn check_batch(batch: &Dataset, as_of: Day, stored: &dyn StoredLinks) -> Vec<RuleViolation> {
    let mut out = Vec::new();
    let has = |p: &PersonRef, kind: LinkKind| {
        batch.links.iter().any(|l| &l.from == p && l.kind == kind) || stored.has_link(p, kind)
    };
    let suspects_in_links: BTreeSet<&PersonRef> = batch
        .links
        .iter()
        .filter(|l| l.categories.contains(&SubjectCategory::Suspect))
        .map(|l| &l.from)
        .collect();
    for p in &batch.people {
        let child = p.may_be_child_on(as_of);
        let suspect =
            p.categories.contains(&SubjectCategory::Suspect) || suspects_in_links.contains(&p.id);
        if child && suspect && !has(&p.id, LinkKind::Safeguarding) {
            out.push(RuleViolation {
                code: "CHILD_SUSPECT_NEEDS_SAFEGUARDING_LINK",
                record: format!("person:{}", p.id),
                message: "a child recorded as a suspect must be linked to a safeguarding or \
                          exploitation-consideration record (safeguards.md S2)"
                    .to_owned(),
            });
        }
        if p.categories
            .contains(&SubjectCategory::SuspectedExploiterAdult)
            && !has(&p.id, LinkKind::PersonIncident)
        {
            out.push(RuleViolation {
                code: "EXPLOITER_NEEDS_CONDUCT_ITEM",
                record: format!("person:{}", p.id),
                message: "a suspected exploiter needs at least one graded item about their own \
                          conduct, not association alone (safeguards.md S4)"
                    .to_owned(),
            });
        }
        let max = if child {
            CHILD_REVIEW_MAX_DAYS
        } else {
            ADULT_REVIEW_MAX_DAYS
        };
        if p.review_due > as_of.plus_days(max) {
            out.push(RuleViolation {
                code: "REVIEW_TOO_FAR",
                record: format!("person:{}", p.id),
                message: format!(
                    "review_due {} is more than {max} days after {as_of} (safeguards.md S18)",
                    p.review_due
                ),
            });
        }
    }
    let children: BTreeSet<&PersonRef> = batch
        .people
        .iter()
        .filter(|p| p.may_be_child_on(as_of))
        .map(|p| &p.id)
        .collect();
    for l in &batch.links {
        // A link about a child in this batch follows the child's review period.
        let max = if children.contains(&l.from) {
            CHILD_REVIEW_MAX_DAYS
        } else {
            ADULT_REVIEW_MAX_DAYS
        };
        if l.review_due > as_of.plus_days(max) {
            out.push(RuleViolation {
                code: "REVIEW_TOO_FAR",
                record: format!("link:{}", l.id),
                message: format!(
                    "review_due {} is more than {max} days after {as_of} (safeguards.md S18)",
                    l.review_due
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Agency, Grade, IncidentId, Link, LinkTarget, Person};

    struct Nothing;
    impl StoredLinks for Nothing {
        fn has_link(&self, _: &PersonRef, _: LinkKind) -> bool {
            false
        }
    }
    struct HasSafeguarding;
    impl StoredLinks for HasSafeguarding {
        fn has_link(&self, _: &PersonRef, kind: LinkKind) -> bool {
            kind == LinkKind::Safeguarding
        }
    }

    fn day(s: &str) -> Day {
        s.parse().unwrap()
    }

    fn person(id: &str, year: u16, cats: Vec<SubjectCategory>) -> Person {
        Person::new(
            PersonRef::new(id).unwrap(),
            year,
            cats,
            Agency::new("police").unwrap(),
            day("2026-12-01"),
        )
        .unwrap()
    }

    fn link(id: u64, from: &str, kind: LinkKind, cats: Vec<SubjectCategory>) -> Link {
        Link::new(
            id,
            kind,
            PersonRef::new(from).unwrap(),
            LinkTarget::Incident(IncidentId::new(1)),
            cats,
            "2BP".parse::<Grade>().unwrap(),
            Agency::new("police").unwrap(),
            day("2026-12-01"),
        )
        .unwrap()
    }

    #[test]
    fn a_child_suspect_without_a_safeguarding_link_is_refused() {
        let batch = Dataset {
            people: vec![person("P0000000c", 2010, vec![SubjectCategory::Suspect])],
            ..Dataset::default()
        };
        let v = check_batch(&batch, day("2026-11-22"), &Nothing);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].code, "CHILD_SUSPECT_NEEDS_SAFEGUARDING_LINK");
        assert!(
            check_batch(&batch, day("2026-11-22"), &HasSafeguarding).is_empty(),
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
            check_batch(&with_link, day("2026-11-22"), &Nothing).is_empty(),
            "a link in the batch satisfies it"
        );
    }

    #[test]
    fn a_child_who_is_a_suspect_only_in_a_link_is_caught_too() {
        let batch = Dataset {
            people: vec![person("P0000000c", 2011, vec![SubjectCategory::Victim])],
            links: vec![link(
                1,
                "P0000000c",
                LinkKind::PersonIncident,
                vec![SubjectCategory::Suspect],
            )],
            ..Dataset::default()
        };
        let v = check_batch(&batch, day("2026-11-22"), &Nothing);
        assert_eq!(
            v.iter().map(|v| v.code).collect::<Vec<_>>(),
            vec!["CHILD_SUSPECT_NEEDS_SAFEGUARDING_LINK"]
        );
    }

    #[test]
    fn an_adult_suspect_needs_no_safeguarding_link() {
        let batch = Dataset {
            people: vec![person("P0000000a", 1990, vec![SubjectCategory::Suspect])],
            ..Dataset::default()
        };
        assert!(check_batch(&batch, day("2026-11-22"), &Nothing).is_empty());
    }

    #[test]
    fn a_suspected_exploiter_on_association_alone_is_refused() {
        let exploiter = person(
            "P0000000e",
            1985,
            vec![SubjectCategory::SuspectedExploiterAdult],
        );
        let peer_only = Dataset {
            people: vec![exploiter.clone()],
            links: vec![link(
                1,
                "P0000000e",
                LinkKind::Peer,
                vec![SubjectCategory::SuspectedExploiterAdult],
            )],
            ..Dataset::default()
        };
        let v = check_batch(&peer_only, day("2026-11-22"), &Nothing);
        assert_eq!(
            v.iter().map(|v| v.code).collect::<Vec<_>>(),
            vec!["EXPLOITER_NEEDS_CONDUCT_ITEM"]
        );
        let conduct = Dataset {
            people: vec![exploiter],
            links: vec![link(
                2,
                "P0000000e",
                LinkKind::PersonIncident,
                vec![SubjectCategory::Suspect],
            )],
            ..Dataset::default()
        };
        assert!(check_batch(&conduct, day("2026-11-22"), &Nothing).is_empty());
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
        let v = check_batch(&batch, day("2026-11-22"), &Nothing);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].record, "person:P0000000c");
    }
}
