//! Person-level scope: which people a user may see for a purpose and a case reference
//! (safeguards.md S12, S13, S18). Access is granted through a case or a MACE agenda, never by
//! browsing; entries past their review date are hidden from every operational role.

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::{
    Case, CaseKind, CaseRef, Day, Link, LinkKind, MaceMeeting, Person, PersonRef, PurposeCode,
    Role, User,
};

use super::policy::DenyReason;
use super::sharing::Agreements;

/// Days before and after a MACE meeting in which its members see the agenda (S12).
pub const MACE_WINDOW_DAYS: u16 = 14;

/// The person-level records the scope is computed over, indexed once per data version.
#[derive(Debug, Default)]
pub struct PeopleData {
    /// People by reference.
    pub people: BTreeMap<PersonRef, Person>,
    /// Links by the person they are about.
    pub links_from: BTreeMap<PersonRef, Vec<Link>>,
    /// Cases by reference.
    pub cases: BTreeMap<CaseRef, Case>,
    /// MACE meetings by reference.
    pub meetings: BTreeMap<CaseRef, MaceMeeting>,
}

impl PeopleData {
    /// Indexes the records.
    pub fn new(
        people: Vec<Person>,
        links: Vec<Link>,
        cases: Vec<Case>,
        meetings: Vec<MaceMeeting>,
    ) -> Self {
        let mut links_from: BTreeMap<PersonRef, Vec<Link>> = BTreeMap::new();
        for l in links {
            links_from.entry(l.from.clone()).or_default().push(l);
        }
        Self {
            people: people.into_iter().map(|p| (p.id.clone(), p)).collect(),
            links_from,
            cases: cases
                .into_iter()
                .map(|c| (c.reference.clone(), c))
                .collect(),
            meetings: meetings
                .into_iter()
                .map(|m| (m.reference.clone(), m))
                .collect(),
        }
    }
}

/// The purposes each person-level role may give.
pub fn purpose_allowed(role: Role, purpose: PurposeCode) -> bool {
    match role {
        Role::PoliceAnalyst => {
            matches!(
                purpose,
                PurposeCode::DisruptingExploitation | PurposeCode::SafeguardingChildren
            )
        }
        Role::MaceMember => matches!(
            purpose,
            PurposeCode::MacePanel | PurposeCode::SafeguardingChildren
        ),
        _ => false,
    }
}

/// How a read reaches a case's subjects (issue 12, point 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseAccess {
    /// The user is assigned to the case (or reads a MACE agenda of their panel).
    Assigned,
    /// The user is not assigned but declared break-glass access with a justification and a
    /// legal basis: allowed, flagged in the audit record, and an alert is raised.
    BreakGlass,
}

/// What a caller may see through one case or meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The people visible.
    pub people: BTreeSet<PersonRef>,
    /// How the case was reached.
    pub access: CaseAccess,
    /// Subjects of the case held by another controller with no agreement flow to the
    /// caller's organisation for this purpose (S20): withheld, and refused by name.
    pub no_agreement: BTreeSet<PersonRef>,
}

/// The people `user` may see for `purpose` under `case_ref` on `today`, and whether the read
/// needs break-glass. A police analyst reads a case's subjects only when assigned to it, or
/// when `break_glass` is declared; a MACE member only for meetings of their panels. Either
/// way, another controller's people only through an agreement flow (`sharing`, S20).
///
/// # Errors
///
/// The [`DenyReason`] to answer with when the case or meeting is not the user's or the purpose
/// is not allowed.
pub fn visible_people(
    user: &User,
    purpose: PurposeCode,
    case_ref: &CaseRef,
    today: Day,
    data: &PeopleData,
    break_glass: bool,
    sharing: &Agreements,
) -> Result<Scope, DenyReason> {
    let (people, access) = case_people(user, purpose, case_ref, today, data, break_glass)?;
    let (people, no_agreement): (BTreeSet<PersonRef>, BTreeSet<PersonRef>) =
        people.into_iter().partition(|p| {
            data.people.get(p).is_some_and(|person| {
                sharing
                    .permits(person.source.as_str(), user.org.as_deref(), purpose, today)
                    .is_some()
            })
        });
    Ok(Scope {
        people,
        access,
        no_agreement,
    })
}

fn case_people(
    user: &User,
    purpose: PurposeCode,
    case_ref: &CaseRef,
    today: Day,
    data: &PeopleData,
    break_glass: bool,
) -> Result<(BTreeSet<PersonRef>, CaseAccess), DenyReason> {
    if !purpose_allowed(user.role, purpose) {
        return Err(DenyReason::PurposeNotPermitted);
    }
    let current = |p: &PersonRef| data.people.get(p).is_some_and(|p| p.review_due >= today);
    match user.role {
        Role::PoliceAnalyst => {
            let case = data.cases.get(case_ref).ok_or(DenyReason::CaseNotInScope)?;
            if case.review_due < today {
                return Err(DenyReason::CaseNotInScope);
            }
            // The purpose must fit the case: disruption for investigations, safeguarding for
            // safeguarding cases.
            let fits = matches!(
                (case.kind, purpose),
                (CaseKind::Investigation, PurposeCode::DisruptingExploitation)
                    | (CaseKind::Safeguarding, PurposeCode::SafeguardingChildren)
            );
            if !fits {
                return Err(DenyReason::PurposeNotPermitted);
            }
            let access = if case.assigned.contains(&user.name) {
                CaseAccess::Assigned
            } else if break_glass {
                CaseAccess::BreakGlass
            } else {
                return Err(DenyReason::CaseNotAssigned);
            };
            // Adults linked to the case; children only through a safeguarding case (S12).
            let people = case
                .subjects
                .iter()
                .filter(|p| current(p))
                .filter(|p| {
                    case.kind == CaseKind::Safeguarding
                        || data
                            .people
                            .get(*p)
                            .is_some_and(|person| !person.may_be_child_on(today))
                })
                .cloned()
                .collect();
            Ok((people, access))
        }
        Role::MaceMember => {
            let meeting = data
                .meetings
                .get(case_ref)
                .ok_or(DenyReason::CaseNotInScope)?;
            if !user.panels.contains(&meeting.panel_id) {
                return Err(DenyReason::CaseNotInScope);
            }
            let opens = meeting.day.minus_days(MACE_WINDOW_DAYS);
            let closes = meeting.day.plus_days(MACE_WINDOW_DAYS);
            if today < opens || today > closes {
                return Err(DenyReason::OutsideMeetingWindow);
            }
            let people = meeting
                .subjects
                .iter()
                .filter(|p| current(p))
                .cloned()
                .collect();
            Ok((people, CaseAccess::Assigned))
        }
        _ => Err(DenyReason::RoleNotPermitted),
    }
}

/// The links of `person` a caller with `visible` people may see: never peer links (peer maps
/// stay inside a child's social-care case, S10), never links past review, links to other
/// people only when those people are visible too, and links held by another controller only
/// when `permitted` says an agreement flow covers them (S20). Returns the links and how many
/// were withheld.
pub fn visible_links<'a>(
    person: &PersonRef,
    visible: &BTreeSet<PersonRef>,
    today: Day,
    data: &'a PeopleData,
    permitted: &dyn Fn(&Link) -> bool,
) -> (Vec<&'a Link>, usize) {
    let all = data.links_from.get(person).map_or(&[][..], Vec::as_slice);
    let shown: Vec<&Link> = all
        .iter()
        .filter(|l| l.kind != LinkKind::Peer && l.review_due >= today && permitted(l))
        .filter(|l| match &l.to {
            crate::domain::LinkTarget::Person(p) => visible.contains(p),
            _ => true,
        })
        .collect();
    let withheld = all.len() - shown.len();
    (shown, withheld)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Agency, Grade, LinkTarget, SubjectCategory};

    fn day(s: &str) -> Day {
        s.parse().unwrap()
    }

    fn person(id: &str, birth_year: u16, cats: &[SubjectCategory], review: &str) -> Person {
        Person::new(
            PersonRef::new(id).unwrap(),
            birth_year,
            cats.to_vec(),
            Agency::new("police").unwrap(),
            day(review),
        )
        .unwrap()
    }

    fn fixture() -> PeopleData {
        let adult = person(
            "P000000a1",
            1980,
            &[SubjectCategory::SuspectedExploiterAdult],
            "2027-03-01",
        );
        let child = person(
            "P000000c1",
            2010,
            &[SubjectCategory::ChildAtRiskOfExploitation],
            "2027-01-01",
        );
        let stale = person("P000000a2", 1985, &[SubjectCategory::Suspect], "2026-01-01");
        let link = |id: u64, kind: LinkKind, to: &Person| {
            Link::new(
                id,
                kind,
                adult.id.clone(),
                LinkTarget::Person(to.id.clone()),
                vec![SubjectCategory::SuspectedExploiterAdult],
                "2BP".parse::<Grade>().unwrap(),
                Agency::new("police").unwrap(),
                day("2027-01-01"),
            )
            .unwrap()
        };
        let links = vec![
            link(1, LinkKind::Exploitation, &child),
            link(2, LinkKind::Peer, &stale),
        ];
        let cases = vec![
            Case {
                reference: CaseRef::new("OP-2026-001").unwrap(),
                kind: CaseKind::Investigation,
                subjects: vec![adult.id.clone(), child.id.clone(), stale.id.clone()],
                opened: day("2026-01-01"),
                review_due: day("2027-06-01"),
                org: "police".to_owned(),
                assigned: vec!["t".to_owned()],
            },
            Case {
                reference: CaseRef::new("SG-2026-0001").unwrap(),
                kind: CaseKind::Safeguarding,
                subjects: vec![child.id.clone()],
                opened: day("2026-01-01"),
                review_due: day("2027-06-01"),
                org: "police".to_owned(),
                assigned: vec!["t".to_owned()],
            },
        ];
        let meetings = vec![MaceMeeting {
            reference: CaseRef::new("MACE-1-2026-11").unwrap(),
            panel_id: 1,
            day: day("2026-11-10"),
            subjects: vec![child.id.clone()],
            places: vec![],
        }];
        PeopleData::new(vec![adult, child, stale], links, cases, meetings)
    }

    /// Reads without break-glass: the people only.
    fn vis(
        u: &User,
        p: PurposeCode,
        c: &CaseRef,
        today: Day,
        d: &PeopleData,
    ) -> Result<BTreeSet<PersonRef>, DenyReason> {
        visible_people(u, p, c, today, d, false, &Agreements::default()).map(|s| s.people)
    }

    #[test]
    fn a_police_analyst_reads_only_assigned_cases_unless_they_declare_break_glass() {
        let d = fixture();
        let stranger = User {
            name: "someone-else".to_owned(),
            ..user(Role::PoliceAnalyst, vec![])
        };
        let op = CaseRef::new("OP-2026-001").unwrap();
        let today = day("2026-11-22");
        assert_eq!(
            vis(
                &stranger,
                PurposeCode::DisruptingExploitation,
                &op,
                today,
                &d
            ),
            Err(DenyReason::CaseNotAssigned)
        );
        let s = visible_people(
            &stranger,
            PurposeCode::DisruptingExploitation,
            &op,
            today,
            &d,
            true,
            &Agreements::default(),
        )
        .unwrap();
        assert_eq!(s.access, CaseAccess::BreakGlass);
        assert_eq!(s.people.len(), 1);
        let assigned = user(Role::PoliceAnalyst, vec![]);
        let s = visible_people(
            &assigned,
            PurposeCode::DisruptingExploitation,
            &op,
            today,
            &d,
            true,
            &Agreements::default(),
        )
        .unwrap();
        assert_eq!(
            s.access,
            CaseAccess::Assigned,
            "no break-glass needed when assigned"
        );
    }

    #[test]
    fn another_controllers_people_are_withheld_without_an_agreement_flow() {
        let d = fixture();
        let elsewhere = User {
            org: Some("north-somerset-council".to_owned()),
            ..user(Role::PoliceAnalyst, vec![])
        };
        let s = visible_people(
            &elsewhere,
            PurposeCode::DisruptingExploitation,
            &CaseRef::new("OP-2026-001").unwrap(),
            day("2026-11-22"),
            &d,
            false,
            &Agreements::default(),
        )
        .unwrap();
        assert!(s.people.is_empty());
        assert_eq!(s.no_agreement.len(), 1, "the current adult, held by police");
    }

    fn user(role: Role, panels: Vec<u32>) -> User {
        User {
            id: 1,
            name: "t".to_owned(),
            role,
            org: Some("police".to_owned()),
            panels,
            token_expires_at: u64::MAX,
            token_revoked_at: None,
        }
    }

    #[test]
    fn a_police_analyst_sees_adults_of_an_investigation_but_children_only_through_safeguarding() {
        let d = fixture();
        let u = user(Role::PoliceAnalyst, vec![]);
        let today = day("2026-11-22");
        let op = vis(
            &u,
            PurposeCode::DisruptingExploitation,
            &CaseRef::new("OP-2026-001").unwrap(),
            today,
            &d,
        )
        .unwrap();
        assert_eq!(
            op.iter().map(PersonRef::as_str).collect::<Vec<_>>(),
            vec!["P000000a1"],
            "child and stale adult hidden"
        );
        let sg = vis(
            &u,
            PurposeCode::SafeguardingChildren,
            &CaseRef::new("SG-2026-0001").unwrap(),
            today,
            &d,
        )
        .unwrap();
        assert_eq!(
            sg.iter().map(PersonRef::as_str).collect::<Vec<_>>(),
            vec!["P000000c1"]
        );
        assert_eq!(
            vis(
                &u,
                PurposeCode::DisruptingExploitation,
                &CaseRef::new("OP-1999-999").unwrap(),
                today,
                &d
            ),
            Err(DenyReason::CaseNotInScope)
        );
        assert_eq!(
            vis(
                &u,
                PurposeCode::PlaceBasedPrevention,
                &CaseRef::new("OP-2026-001").unwrap(),
                today,
                &d
            ),
            Err(DenyReason::PurposeNotPermitted)
        );
        assert_eq!(
            vis(
                &u,
                PurposeCode::DisruptingExploitation,
                &CaseRef::new("SG-2026-0001").unwrap(),
                today,
                &d
            ),
            Err(DenyReason::PurposeNotPermitted),
            "a disruption purpose cannot open a safeguarding case"
        );
    }

    #[test]
    fn a_mace_member_sees_the_agenda_only_within_fourteen_days_of_their_panels_meeting() {
        let d = fixture();
        let m = CaseRef::new("MACE-1-2026-11").unwrap();
        let member = user(Role::MaceMember, vec![1]);
        let one_day_after =
            vis(&member, PurposeCode::MacePanel, &m, day("2026-11-11"), &d).unwrap();
        assert_eq!(one_day_after.len(), 1);
        assert!(vis(&member, PurposeCode::MacePanel, &m, day("2026-11-24"), &d).is_ok());
        assert_eq!(
            vis(&member, PurposeCode::MacePanel, &m, day("2026-11-25"), &d),
            Err(DenyReason::OutsideMeetingWindow)
        );
        assert_eq!(
            vis(&member, PurposeCode::MacePanel, &m, day("2026-10-26"), &d),
            Err(DenyReason::OutsideMeetingWindow)
        );
        let other_panel = user(Role::MaceMember, vec![2]);
        assert_eq!(
            vis(
                &other_panel,
                PurposeCode::MacePanel,
                &m,
                day("2026-11-11"),
                &d
            ),
            Err(DenyReason::CaseNotInScope)
        );
    }

    #[test]
    fn peer_links_and_links_to_people_out_of_scope_are_withheld() {
        let d = fixture();
        let adult = PersonRef::new("P000000a1").unwrap();
        let only_adult: BTreeSet<PersonRef> = [adult.clone()].into_iter().collect();
        let (shown, withheld) =
            visible_links(&adult, &only_adult, day("2026-11-22"), &d, &|_| true);
        assert!(shown.is_empty());
        assert_eq!(withheld, 2);
        let with_child: BTreeSet<PersonRef> = [adult.clone(), PersonRef::new("P000000c1").unwrap()]
            .into_iter()
            .collect();
        let (shown, _) = visible_links(&adult, &with_child, day("2026-11-22"), &d, &|_| true);
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].kind, LinkKind::Exploitation);
    }

    #[test]
    fn only_police_analysts_and_mace_members_have_person_level_purposes() {
        for r in Role::ALL {
            let any = PurposeCode::ALL.iter().any(|p| purpose_allowed(*r, *p));
            assert_eq!(
                any,
                matches!(r, Role::PoliceAnalyst | Role::MaceMember),
                "{r}"
            );
        }
    }
}
