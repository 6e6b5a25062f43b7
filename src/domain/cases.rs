//! Cases and MACE meetings: the references that scope person-level access (safeguards.md S12,
//! S13). A case or meeting names its subjects; access to a person is granted through them,
//! never by browsing.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Day, DomainError, DomainResult, PersonRef, PlaceId};

/// A case, meeting or investigation reference, e.g. `SG-2026-0042` or `MACE-7`. 3-40 ASCII
/// letters, digits, `-`, `_` or `/`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CaseRef(String);

impl CaseRef {
    /// Validates the form.
    pub fn new(raw: impl Into<String>) -> DomainResult<Self> {
        let raw = raw.into();
        if (3..=40).contains(&raw.len())
            && raw
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'/'))
        {
            Ok(Self(raw))
        } else {
            Err(DomainError::invalid(
                "case_ref",
                format!("{raw:?} is not a case reference (3-40 letters, digits, - _ /)"),
            ))
        }
    }

    /// The text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for CaseRef {
    type Err = DomainError;
    fn from_str(s: &str) -> DomainResult<Self> {
        Self::new(s)
    }
}

impl TryFrom<String> for CaseRef {
    type Error = DomainError;
    fn try_from(s: String) -> DomainResult<Self> {
        Self::new(s)
    }
}

impl From<CaseRef> for String {
    fn from(c: CaseRef) -> Self {
        c.0
    }
}

impl fmt::Display for CaseRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a case is for. A police analyst sees children only through a safeguarding case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    /// A criminal investigation or disruption operation against adults who exploit.
    Investigation,
    /// A child-safeguarding or exploitation-consideration case.
    Safeguarding,
}

/// A case and the people it concerns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// Reference.
    pub reference: CaseRef,
    /// Kind.
    pub kind: CaseKind,
    /// Subjects of the case.
    pub subjects: Vec<PersonRef>,
    /// When the case was opened.
    pub opened: Day,
    /// When the case must next be reviewed.
    pub review_due: Day,
    /// The organisation that owns the case (issue 12, point 1).
    pub org: String,
    /// Names of the users assigned to the case: only they read its subjects, except by an
    /// audited break-glass declaration (issue 12, point 1).
    pub assigned: Vec<String>,
}

/// A MACE panel meeting with its agenda (safeguards.md S12: members see agenda subjects from
/// 14 days before to 14 days after the meeting).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaceMeeting {
    /// Meeting reference, used as the `X-Case-Ref` of reads for the meeting.
    pub reference: CaseRef,
    /// The panel holding the meeting.
    pub panel_id: u32,
    /// Meeting day.
    pub day: Day,
    /// People on the agenda.
    pub subjects: Vec<PersonRef>,
    /// Places on the agenda (places are first-class subjects, S9).
    pub places: Vec<PlaceId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_references_are_validated() {
        assert!(CaseRef::new("SG-2026-0042").is_ok());
        assert!(CaseRef::new("MACE-7").is_ok());
        assert!(CaseRef::new("x").is_err());
        assert!(CaseRef::new("DROP TABLE people;").is_err());
    }
}
