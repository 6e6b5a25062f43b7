//! Retention (safeguards.md S18): entries past `review_due` are hidden from operational roles
//! at once (see [`super::scope`]); entries past `review_due` plus a grace period with no
//! recorded review are expired and erased from the store and every derived index.

use crate::domain::{Dataset, Day, PersonRef};

/// Days after `review_due` before an unreviewed entry is erased (its hard expiry).
pub const DEFAULT_GRACE_DAYS: u16 = 30;

/// What a sweep will erase: ids only, never content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expired {
    /// People to erase (their links go with them).
    pub people: Vec<PersonRef>,
    /// Links to erase whose person stays.
    pub links: Vec<u64>,
}

impl Expired {
    /// True when nothing is due.
    pub fn is_empty(&self) -> bool {
        self.people.is_empty() && self.links.is_empty()
    }
}

/// The entries of `data` whose hard expiry (`review_due + grace_days`) is before `today`.
pub fn expired(data: &Dataset, today: Day, grace_days: u16) -> Expired {
    let gone = |review_due: Day| review_due.plus_days(grace_days) < today;
    let people: Vec<PersonRef> = data
        .people
        .iter()
        .filter(|p| gone(p.review_due))
        .map(|p| p.id.clone())
        .collect();
    let links = data
        .links
        .iter()
        .filter(|l| gone(l.review_due) && !people.contains(&l.from))
        .map(|l| l.id)
        .collect();
    Expired { people, links }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        Agency, Grade, Link, LinkKind, LinkTarget, Person, PlaceId, SubjectCategory,
    };

    #[test]
    fn only_entries_past_review_and_grace_expire() {
        let d = |s: &str| -> Day { s.parse().unwrap() };
        let p = |id: &str, due: &str| {
            Person::new(
                PersonRef::new(id).unwrap(),
                1990,
                vec![SubjectCategory::Witness],
                Agency::new("x").unwrap(),
                d(due),
            )
            .unwrap()
        };
        let l = |id: u64, from: &str, due: &str| {
            Link::new(
                id,
                LinkKind::PersonPlace,
                PersonRef::new(from).unwrap(),
                LinkTarget::Place(PlaceId::new(1)),
                vec![SubjectCategory::Witness],
                "1AP".parse::<Grade>().unwrap(),
                Agency::new("x").unwrap(),
                d(due),
            )
            .unwrap()
        };
        let data = Dataset {
            people: vec![p("P00000001", "2026-09-01"), p("P00000002", "2026-11-01")],
            links: vec![
                l(1, "P00000001", "2026-09-01"),
                l(2, "P00000002", "2026-09-01"),
                l(3, "P00000002", "2026-12-01"),
            ],
            ..Dataset::default()
        };
        let e = expired(&data, d("2026-11-22"), 30);
        assert_eq!(e.people, vec![PersonRef::new("P00000001").unwrap()]);
        assert_eq!(
            e.links,
            vec![2],
            "link 1 goes with its person; link 3 is current"
        );
        assert!(expired(&data, d("2026-10-01"), 30).is_empty());
    }
}
