//! People and links: pseudonymous, categorised, graded and always carrying a review date.
//!
//! safeguards.md S1: every person and every link has at least one subject category from a
//! closed list; "gang member" and "associate" are not categories and cannot be built. S5: no
//! score, rank or rating field exists on a person. S18: everything carries `review_due`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Agency, Day, DomainError, DomainResult, IncidentId, IsaRef, PersonRef, PlaceId};

/// The subject category of a person in a record or link (safeguards.md S1). Closed list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectCategory {
    /// Harmed by an incident.
    Victim,
    /// A child at risk of exploitation (a welfare category, never an enforcement one).
    ChildAtRiskOfExploitation,
    /// Saw or heard an incident.
    Witness,
    /// An adult suspected of exploiting children; needs a graded conduct item (S4).
    SuspectedExploiterAdult,
    /// Suspected of an offence. An under-18 suspect must be linked to a safeguarding record (S2).
    Suspect,
    /// Convicted of an offence.
    Convicted,
    /// A professional or other person recorded in a professional capacity.
    ProfessionalOther,
}

impl SubjectCategory {
    /// Every category.
    pub const ALL: &'static [SubjectCategory] = &[
        Self::Victim,
        Self::ChildAtRiskOfExploitation,
        Self::Witness,
        Self::SuspectedExploiterAdult,
        Self::Suspect,
        Self::Convicted,
        Self::ProfessionalOther,
    ];

    /// The `snake_case` code used in files and the API.
    pub fn code(self) -> &'static str {
        match self {
            Self::Victim => "victim",
            Self::ChildAtRiskOfExploitation => "child_at_risk_of_exploitation",
            Self::Witness => "witness",
            Self::SuspectedExploiterAdult => "suspected_exploiter_adult",
            Self::Suspect => "suspect",
            Self::Convicted => "convicted",
            Self::ProfessionalOther => "professional_other",
        }
    }
}

impl FromStr for SubjectCategory {
    type Err = DomainError;
    fn from_str(s: &str) -> DomainResult<Self> {
        let norm = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        if matches!(
            norm.as_str(),
            "gang_member" | "associate" | "gang_associate" | "nominal"
        ) {
            return Err(DomainError::invalid(
                "subject_category",
                format!(
                    "{s:?} is not a subject category: association is not a category (safeguards.md S1)"
                ),
            ));
        }
        Self::ALL
            .iter()
            .copied()
            .find(|c| c.code() == norm)
            .ok_or_else(|| {
                DomainError::invalid(
                    "subject_category",
                    format!("{s:?} is not a subject category"),
                )
            })
    }
}

impl fmt::Display for SubjectCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An intelligence grade in the UK 3x5x2 form: source evaluation `1`-`3`, intelligence
/// assessment `A`-`E`, handling code `P` (lawful sharing permitted) or `C` (conditions apply).
/// Written `1AP`; `1/A/P` and `1-A-P` are accepted on input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Grade {
    source: u8,
    intelligence: u8,
    handling: u8,
}

impl Grade {
    /// Validates the three parts.
    pub fn new(source: u8, intelligence: char, handling: char) -> DomainResult<Self> {
        let bad = |why: &str| DomainError::invalid("grade", why.to_owned());
        if !(1..=3).contains(&source) {
            return Err(bad("source evaluation must be 1, 2 or 3"));
        }
        if !('A'..='E').contains(&intelligence) {
            return Err(bad("intelligence assessment must be A to E"));
        }
        if !matches!(handling, 'P' | 'C') {
            return Err(bad("handling code must be P or C"));
        }
        Ok(Self {
            source,
            intelligence: intelligence as u8,
            handling: handling as u8,
        })
    }

    /// The handling code, `P` or `C`.
    pub fn handling_code(self) -> char {
        char::from(self.handling)
    }
}

impl FromStr for Grade {
    type Err = DomainError;
    fn from_str(s: &str) -> DomainResult<Self> {
        let chars: Vec<char> = s
            .chars()
            .filter(|c| !matches!(c, '/' | '-' | ' '))
            .collect();
        let [src, int, hand] = chars[..] else {
            return Err(DomainError::invalid(
                "grade",
                format!("{s:?} is not a 3x5x2 grade like 1AP"),
            ));
        };
        let source = src.to_digit(10).ok_or_else(|| {
            DomainError::invalid("grade", format!("{s:?} is not a 3x5x2 grade like 1AP"))
        })?;
        Self::new(
            source as u8,
            int.to_ascii_uppercase(),
            hand.to_ascii_uppercase(),
        )
    }
}

impl TryFrom<String> for Grade {
    type Error = DomainError;
    fn try_from(s: String) -> DomainResult<Self> {
        s.parse()
    }
}

impl From<Grade> for String {
    fn from(g: Grade) -> Self {
        g.to_string()
    }
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}{}",
            self.source,
            char::from(self.intelligence),
            char::from(self.handling)
        )
    }
}

/// A pseudonymous person. Holds no name, address or date of birth; the birth year alone
/// decides whether child safeguards apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    /// Pseudonymous reference.
    pub id: PersonRef,
    /// Year of birth, used only to decide whether the person is a child on a given day.
    pub birth_year: u16,
    /// Subject categories held across records (at least one).
    pub categories: Vec<SubjectCategory>,
    /// Who recorded the person: the controller of the record (S20).
    pub source: Agency,
    /// When the record must next be reviewed (S18).
    pub review_due: Day,
    /// The information sharing agreement the record arrived under, when it came from another
    /// controller (S20; issue 12, point 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isa_ref: Option<IsaRef>,
}

impl Person {
    /// Builds a person, refusing an empty category list (S1).
    pub fn new(
        id: PersonRef,
        birth_year: u16,
        categories: Vec<SubjectCategory>,
        source: Agency,
        review_due: Day,
    ) -> DomainResult<Self> {
        if categories.is_empty() {
            return Err(DomainError::invalid(
                "categories",
                "a person needs at least one subject category",
            ));
        }
        Ok(Self {
            id,
            birth_year,
            categories,
            source,
            review_due,
            isa_ref: None,
        })
    }

    /// The same person, recorded as arriving under `isa_ref`.
    #[must_use]
    pub fn with_isa_ref(mut self, isa_ref: Option<IsaRef>) -> Self {
        self.isa_ref = isa_ref;
        self
    }

    /// True when the person may be under 18 on `day`. Conservative: with only a birth year,
    /// anyone who could still be 17 counts as a child.
    pub fn may_be_child_on(&self, day: Day) -> bool {
        let (year, _, _) = day.ymd();
        i32::from(self.birth_year) + 18 >= year
    }
}

/// What a link connects a person to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum LinkTarget {
    /// Another person.
    Person(PersonRef),
    /// A place of concern.
    Place(PlaceId),
    /// An incident.
    Incident(IncidentId),
}

/// The kind of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// Peer relationship between young people (welfare context only, S10).
    Peer,
    /// Family relationship.
    Family,
    /// An adult exploiting or suspected of exploiting a child.
    Exploitation,
    /// A person seen at or connected with a place.
    PersonPlace,
    /// A person involved in an incident, in the role given by the link's categories.
    PersonIncident,
    /// A safeguarding or exploitation-consideration record (S2).
    Safeguarding,
}

/// A graded, categorised link from a person to a person, place or incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// Store-wide link id.
    pub id: u64,
    /// What kind of link.
    pub kind: LinkKind,
    /// The person the link is about.
    pub from: PersonRef,
    /// What they are linked to.
    pub to: LinkTarget,
    /// The subject's categories in this link (at least one, S1).
    pub categories: Vec<SubjectCategory>,
    /// Intelligence grade (S3).
    pub grade: Grade,
    /// Who recorded the link: its controller (S20).
    pub source: Agency,
    /// When the link must next be reviewed (S18).
    pub review_due: Day,
    /// The information sharing agreement the link arrived under (S20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isa_ref: Option<IsaRef>,
}

impl Link {
    /// Builds a link, refusing an empty category list (S1).
    #[expect(
        clippy::too_many_arguments,
        reason = "a link has eight independent facts"
    )]
    pub fn new(
        id: u64,
        kind: LinkKind,
        from: PersonRef,
        to: LinkTarget,
        categories: Vec<SubjectCategory>,
        grade: Grade,
        source: Agency,
        review_due: Day,
    ) -> DomainResult<Self> {
        if categories.is_empty() {
            return Err(DomainError::invalid(
                "categories",
                "a link needs at least one subject category",
            ));
        }
        Ok(Self {
            id,
            kind,
            from,
            to,
            categories,
            grade,
            source,
            review_due,
            isa_ref: None,
        })
    }

    /// The same link, recorded as arriving under `isa_ref`.
    #[must_use]
    pub fn with_isa_ref(mut self, isa_ref: Option<IsaRef>) -> Self {
        self.isa_ref = isa_ref;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gang_member_and_associate_are_not_categories() {
        assert!("gang_member".parse::<SubjectCategory>().is_err());
        assert!("Gang member".parse::<SubjectCategory>().is_err());
        assert!("associate".parse::<SubjectCategory>().is_err());
        assert!(serde_json::from_str::<SubjectCategory>("\"gang_member\"").is_err());
        assert_eq!(
            "suspected exploiter adult"
                .parse::<SubjectCategory>()
                .unwrap(),
            SubjectCategory::SuspectedExploiterAdult
        );
    }

    #[test]
    fn grades_parse_in_the_3x5x2_form() {
        assert_eq!("1AP".parse::<Grade>().unwrap().to_string(), "1AP");
        assert_eq!("2/b/c".parse::<Grade>().unwrap().to_string(), "2BC");
        assert!("4AP".parse::<Grade>().is_err());
        assert!("1FP".parse::<Grade>().is_err());
        assert!("1AX".parse::<Grade>().is_err());
        assert!("1A".parse::<Grade>().is_err());
    }

    #[test]
    fn a_person_without_a_category_is_refused() {
        let id = PersonRef::new("P00000001").unwrap();
        let due: Day = "2027-01-01".parse().unwrap();
        assert!(Person::new(id, 2008, vec![], Agency::new("police").unwrap(), due).is_err());
    }

    #[test]
    fn anyone_who_could_be_seventeen_counts_as_a_child() {
        let id = PersonRef::new("P00000001").unwrap();
        let due: Day = "2027-01-01".parse().unwrap();
        let p = Person::new(
            id,
            2006,
            vec![SubjectCategory::Victim],
            Agency::new("police").unwrap(),
            due,
        )
        .unwrap();
        assert!(p.may_be_child_on("2024-12-31".parse().unwrap()));
        assert!(!p.may_be_child_on("2025-01-01".parse().unwrap()));
    }
}
