//! Field allowlists per role and purpose (safeguards.md S14): a response carries only the
//! fields its allowlist names. Ethnicity is named only for the internal equality-monitoring
//! function (S22); no allowlist can name a score, rank or rating, because none exists (S5).

use serde_json::{Map, Value, json};

use crate::domain::{Day, Link, LinkTarget, Person, PurposeCode, Role};

/// Every field a person record can be rendered with.
pub const PERSON_FIELDS: &[&str] = &[
    "id",
    "birth_year",
    "age_band",
    "categories",
    "source",
    "review_due",
    "ethnicity",
];
/// Every field a link can be rendered with.
pub const LINK_FIELDS: &[&str] = &[
    "id",
    "kind",
    "to",
    "categories",
    "grade",
    "handling_code",
    "source",
    "review_due",
];

/// The allowlists for one role and purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowlist {
    /// Person fields.
    pub person: &'static [&'static str],
    /// Link fields.
    pub link: &'static [&'static str],
}

/// The allowlist for `role` reading person-level data for `purpose`, or `None` when the pair
/// has none (and must be refused).
pub fn allowlist(role: Role, purpose: PurposeCode) -> Option<Allowlist> {
    use PurposeCode::{
        DisruptingExploitation, EqualityMonitoring, MacePanel, SafeguardingChildren,
    };
    match (role, purpose) {
        (Role::PoliceAnalyst, DisruptingExploitation) => Some(Allowlist {
            person: &[
                "id",
                "birth_year",
                "age_band",
                "categories",
                "source",
                "review_due",
            ],
            link: &[
                "id",
                "kind",
                "to",
                "categories",
                "grade",
                "handling_code",
                "source",
                "review_due",
            ],
        }),
        (Role::PoliceAnalyst, SafeguardingChildren) => Some(Allowlist {
            person: &["id", "age_band", "categories", "source", "review_due"],
            link: &[
                "id",
                "kind",
                "to",
                "categories",
                "grade",
                "handling_code",
                "review_due",
            ],
        }),
        (Role::MaceMember, MacePanel | SafeguardingChildren) => Some(Allowlist {
            person: &["id", "age_band", "categories", "review_due"],
            link: &[
                "id",
                "kind",
                "to",
                "categories",
                "handling_code",
                "review_due",
            ],
        }),
        (Role::EqualityMonitor, EqualityMonitoring) => Some(Allowlist {
            person: &["id", "age_band", "categories", "ethnicity"],
            link: &[],
        }),
        _ => None,
    }
}

/// The age band of someone born in `birth_year`, as of `today`, using the police.uk bands.
/// Conservative: anyone who could still be 17 is `10-17`.
pub fn age_band(birth_year: u16, today: Day) -> &'static str {
    let (year, _, _) = today.ymd();
    let youngest_age = year - i32::from(birth_year) - 1;
    match youngest_age {
        i32::MIN..=9 => "under_10",
        10..=17 => "10-17",
        18..=24 => "18-24",
        25..=34 => "25-34",
        _ => "over_34",
    }
}

fn keep(mut full: Map<String, Value>, allowed: &[&str]) -> Map<String, Value> {
    full.retain(|k, _| allowed.contains(&k.as_str()));
    full
}

/// A person rendered with the allowed fields only. No ethnicity is held in this version, so
/// even the equality monitor's allowlist finds none.
pub fn render_person(p: &Person, allowed: &[&str], today: Day) -> Map<String, Value> {
    let mut full = Map::new();
    full.insert("id".to_owned(), json!(p.id));
    full.insert("birth_year".to_owned(), json!(p.birth_year));
    full.insert("age_band".to_owned(), json!(age_band(p.birth_year, today)));
    full.insert("categories".to_owned(), json!(p.categories));
    full.insert("source".to_owned(), json!(p.source));
    full.insert("review_due".to_owned(), json!(p.review_due));
    keep(full, allowed)
}

/// A link rendered with the allowed fields only.
pub fn render_link(l: &Link, allowed: &[&str]) -> Map<String, Value> {
    let mut full = Map::new();
    full.insert("id".to_owned(), json!(l.id));
    full.insert("kind".to_owned(), json!(l.kind));
    let to = match &l.to {
        LinkTarget::Person(p) => json!({"type": "person", "id": p}),
        LinkTarget::Place(p) => json!({"type": "place", "id": p}),
        LinkTarget::Incident(i) => json!({"type": "incident", "id": i}),
    };
    full.insert("to".to_owned(), to);
    full.insert("categories".to_owned(), json!(l.categories));
    full.insert("grade".to_owned(), json!(l.grade));
    full.insert(
        "handling_code".to_owned(),
        json!(l.grade.handling_code().to_string()),
    );
    full.insert("source".to_owned(), json!(l.source));
    full.insert("review_due".to_owned(), json!(l.review_due));
    keep(full, allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlists_name_only_known_fields_and_never_a_score() {
        for role in Role::ALL {
            for purpose in PurposeCode::ALL {
                let Some(a) = allowlist(*role, *purpose) else {
                    continue;
                };
                for f in a.person {
                    assert!(PERSON_FIELDS.contains(f), "{f}");
                }
                for f in a.link {
                    assert!(LINK_FIELDS.contains(f), "{f}");
                }
                let all = a.person.iter().chain(a.link);
                for f in all {
                    let lower = f.to_ascii_lowercase();
                    for bad in ["score", "rank", "rag", "risk_level", "harm"] {
                        assert!(!lower.contains(bad), "{role}/{purpose}: {f}");
                    }
                }
            }
        }
    }

    #[test]
    fn ethnicity_is_allowed_only_to_equality_monitoring() {
        for role in Role::ALL {
            for purpose in PurposeCode::ALL {
                if let Some(a) = allowlist(*role, *purpose) {
                    let has = a.person.contains(&"ethnicity");
                    assert_eq!(has, *role == Role::EqualityMonitor, "{role}/{purpose}");
                }
            }
        }
    }

    #[test]
    fn age_bands_are_conservative_about_children() {
        let today: Day = "2026-11-22".parse().unwrap();
        assert_eq!(age_band(2008, today), "10-17"); // 17 or 18: counted as a child
        assert_eq!(age_band(2007, today), "18-24");
        assert_eq!(age_band(2020, today), "under_10");
        assert_eq!(age_band(1980, today), "over_34");
    }
}
