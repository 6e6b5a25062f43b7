//! Synthetic cases and MACE meetings, the references that scope person-level access.
//!
//! - **Investigation cases** `OP-<year>-XXXXXXXX`: one per suspected exploiter adult, naming
//!   that adult and up to two other adults linked by exploitation or incident to the same
//!   children.
//! - **Safeguarding cases** `SG-<year>-XXXXXXXX`: one per child recorded as at risk of
//!   exploitation or as a suspect, naming the child (a police analyst sees a child only through
//!   one of these).
//!
//! References end in eight characters of a keyed hash of the case's first subject, not a
//! counter: stepping through sequential references finds nothing (issue 12, point 1). Every
//! case is owned by the synthetic police force ([`CASE_ORG`]) and about half are assigned to
//! the demo police analyst ([`DEMO_ANALYST`]); the rest belong to nobody in the demo.
//! - **MACE meetings** `MACE-<panel>-<yyyy>-<mm>`: two panels (1 = Bristol, 2 = North Somerset
//!   and South Gloucestershire) meeting on the second Tuesday of each of the last six months
//!   of the window and of the month after it; each agenda lists 6–12 children from that
//!   panel's safeguarding cases and 2–4 places of concern.
//!
//! Cases take the review date of their subjects' records; meetings have none (they are events).

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::{
    Case, CaseKind, CaseRef, Day, Link, LinkKind, LinkTarget, MaceMeeting, Person, PersonRef,
    PlaceId, PlaceOfConcern, SubjectCategory,
};

use super::calendar::Calendar;
use super::rng::Rng;
use super::{SyntheticError, SyntheticResult};

/// Number of MACE panels.
pub const PANELS: u32 = 2;

/// The organisation owning every synthetic case.
pub const CASE_ORG: &str = "synthetic-police";

/// The demo user assigned to about half of the synthetic cases.
pub const DEMO_ANALYST: &str = "demo-police_analyst";

/// Characters of the reference suffix: Crockford base 32 (no I, L, O, U).
const REF_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// `<prefix>-<year>-` and eight base-32 characters of SHA-256 over the subject, so references
/// are stable for a seed but not sequential; the first hash byte's low bit decides whether the
/// demo analyst is assigned.
fn case_ref(prefix: &str, year: i32, subject: &PersonRef) -> SyntheticResult<(CaseRef, bool)> {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("saferplaces-demo-case\n{prefix}\n{subject}"));
    let suffix: String = digest
        .iter()
        .take(8)
        .map(|b| char::from(REF_ALPHABET[usize::from(b & 31)]))
        .collect();
    let reference =
        CaseRef::new(format!("{prefix}-{year}-{suffix}")).map_err(SyntheticError::Domain)?;
    Ok((reference, digest[8] & 1 == 0))
}

fn assigned(to_demo_analyst: bool) -> Vec<String> {
    if to_demo_analyst {
        vec![DEMO_ANALYST.to_owned()]
    } else {
        Vec::new()
    }
}

/// The second Tuesday of the month holding `day`.
fn second_tuesday(day: Day) -> Day {
    let first = day.month_start();
    // weekday_mon0: Monday = 0, Tuesday = 1.
    let to_tuesday = (8 - u16::from(first.weekday_mon0())) % 7;
    first.plus_days(to_tuesday + 7)
}

/// Generates cases and meetings for the people and links already generated.
#[expect(
    clippy::too_many_lines,
    reason = "the random draws happen in one fixed order that other tests pin to demo values; splitting risks reordering them"
)]
pub fn generate(
    cal: &Calendar,
    people: &[Person],
    links: &[Link],
    places: &[PlaceOfConcern],
    rng: &mut Rng,
) -> SyntheticResult<(Vec<Case>, Vec<MaceMeeting>)> {
    let (end_year, _, _) = cal.end.ymd();

    // Children linked to each exploiter, and adults sharing those children.
    let mut children_of: BTreeMap<&PersonRef, BTreeSet<&PersonRef>> = BTreeMap::new();
    for l in links.iter().filter(|l| l.kind == LinkKind::Exploitation) {
        if let LinkTarget::Person(child) = &l.to {
            children_of.entry(&l.from).or_default().insert(child);
        }
    }

    let mut cases = Vec::new();
    let exploiters: Vec<&Person> = people
        .iter()
        .filter(|p| {
            p.categories
                .contains(&SubjectCategory::SuspectedExploiterAdult)
                && !p.may_be_child_on(cal.end)
        })
        .collect();
    for adult in &exploiters {
        let mine = children_of.get(&adult.id).cloned().unwrap_or_default();
        let mut subjects = vec![adult.id.clone()];
        for other in &exploiters {
            if subjects.len() >= 3 || other.id == adult.id {
                continue;
            }
            let shares = children_of
                .get(&other.id)
                .is_some_and(|theirs| theirs.intersection(&mine).next().is_some());
            if shares {
                subjects.push(other.id.clone());
            }
        }
        let (reference, demo) = case_ref("OP", end_year, &adult.id)?;
        cases.push(Case {
            reference,
            org: CASE_ORG.to_owned(),
            assigned: assigned(demo),
            kind: CaseKind::Investigation,
            subjects,
            opened: cal.start.plus_days(rng.below(u64::from(
                cal.end.days_since_epoch() - cal.start.days_since_epoch(),
            )) as u16),
            review_due: adult.review_due,
        });
    }

    let at_risk: Vec<&Person> = people
        .iter()
        .filter(|p| {
            p.may_be_child_on(cal.end)
                && (p
                    .categories
                    .contains(&SubjectCategory::ChildAtRiskOfExploitation)
                    || p.categories.contains(&SubjectCategory::Suspect))
        })
        .collect();
    let mut panel_children: BTreeMap<u32, Vec<PersonRef>> = BTreeMap::new();
    for child in &at_risk {
        let (reference, demo) = case_ref("SG", end_year, &child.id)?;
        cases.push(Case {
            reference,
            org: CASE_ORG.to_owned(),
            assigned: assigned(demo),
            kind: CaseKind::Safeguarding,
            subjects: vec![child.id.clone()],
            opened: cal.end.minus_days(rng.range(10, 300) as u16),
            review_due: child.review_due,
        });
        // Two thirds of children are discussed at the Bristol panel.
        let panel = if rng.chance(2.0 / 3.0) { 1 } else { 2 };
        panel_children
            .entry(panel)
            .or_default()
            .push(child.id.clone());
    }

    let place_ids: Vec<PlaceId> = places.iter().map(|p| p.id).collect();
    let mut meetings = Vec::new();
    let mut month = cal.end.month_start();
    let mut months = vec![month.plus_days(40).month_start()];
    for _ in 0..6 {
        months.push(month);
        month = month.minus_days(1).month_start();
    }
    months.sort();
    for panel in 1..=PANELS {
        let pool = panel_children.get(&panel).cloned().unwrap_or_default();
        for m in &months {
            let day = second_tuesday(*m);
            let (y, mo, _) = day.ymd();
            let mut subjects = Vec::new();
            if !pool.is_empty() {
                let n = rng.range(6, 12) as usize;
                for _ in 0..n.min(pool.len()) {
                    if let Some(p) = rng.choose(&pool)
                        && !subjects.contains(p)
                    {
                        subjects.push(p.clone());
                    }
                }
            }
            let mut agenda_places = Vec::new();
            for _ in 0..rng.range(2, 4) {
                if let Some(p) = rng.choose(&place_ids)
                    && !agenda_places.contains(p)
                {
                    agenda_places.push(*p);
                }
            }
            subjects.sort();
            agenda_places.sort();
            meetings.push(MaceMeeting {
                reference: CaseRef::new(format!("MACE-{panel}-{y}-{mo:02}"))
                    .map_err(SyntheticError::Domain)?,
                panel_id: panel,
                day,
                subjects,
                places: agenda_places,
            });
        }
    }
    Ok((cases, meetings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_second_tuesday_is_a_tuesday_between_the_8th_and_14th() {
        for m in 1..=12 {
            let d = second_tuesday(Day::from_ymd(2026, m, 17).unwrap());
            let (_, mm, dd) = d.ymd();
            assert_eq!(d.weekday_mon0(), 1);
            assert_eq!(mm, m);
            assert!((8..=14).contains(&dd), "{d}");
        }
    }
}
