//! Reviews of person-level entries (safeguards.md S7, S18): a named human decides, with a
//! rationale of at least 30 characters, whether an entry is retained (with a new review date),
//! amended (a new review date after changing it) or removed (erased at once). The new review
//! date keeps to the S18 limits counted from the day of the review: at most
//! [`CHILD_REVIEW_MAX_DAYS`] for anyone who may be a child, [`ADULT_REVIEW_MAX_DAYS`] for adults.
//!
//! This module only decides whether a review is acceptable; the store records it and the CLI
//! (`saferplaces review record`) audits it and, for `remove`, erases through the same path as
//! the retention sweep.

use std::fmt;
use std::str::FromStr;

use crate::domain::{Day, Person, PersonRef};

use super::rules::{ADULT_REVIEW_MAX_DAYS, CHILD_REVIEW_MAX_DAYS};

/// Fewest characters a rationale may have (S7).
pub const MIN_RATIONALE_CHARS: usize = 30;
/// Longest decision-maker name (as the store's CHECK).
pub const MAX_DECIDED_BY_CHARS: usize = 100;

/// What a review decided (S18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewOutcome {
    /// Keep the entry until the new review date.
    Retain,
    /// The entry was corrected; keep it until the new review date.
    Amend,
    /// Erase the entry now.
    Remove,
}

impl ReviewOutcome {
    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Retain => "retain",
            Self::Amend => "amend",
            Self::Remove => "remove",
        }
    }
}

impl fmt::Display for ReviewOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for ReviewOutcome {
    type Err = ReviewError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "retain" => Ok(Self::Retain),
            "amend" => Ok(Self::Amend),
            "remove" => Ok(Self::Remove),
            other => Err(ReviewError::UnknownOutcome(other.to_owned())),
        }
    }
}

/// A review to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// The person reviewed.
    pub person: PersonRef,
    /// The next review date; `None` exactly when the outcome is [`ReviewOutcome::Remove`].
    pub review_due: Option<Day>,
    /// Why (at least [`MIN_RATIONALE_CHARS`] characters).
    pub rationale: String,
    /// The decision.
    pub outcome: ReviewOutcome,
    /// The named human who decided (S7; never a service account).
    pub decided_by: String,
    /// When, RFC 3339 UTC with milliseconds.
    pub decided_at: String,
}

/// A review that cannot be recorded; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReviewError {
    /// The outcome is not `retain`, `amend` or `remove`.
    #[error("--outcome {0:?}: expected retain, amend or remove")]
    UnknownOutcome(String),
    /// The rationale is too short.
    #[error(
        "--rationale: {chars} characters; a rationale needs at least {MIN_RATIONALE_CHARS} (safeguards.md S7)"
    )]
    RationaleTooShort {
        /// Characters given (trimmed).
        chars: usize,
    },
    /// No decision-maker, or a name too long.
    #[error(
        "--decided-by: name the person who decided (1 to {MAX_DECIDED_BY_CHARS} characters; safeguards.md S7)"
    )]
    DecidedBy,
    /// Retain and amend need the next review date.
    #[error("--review-due: a {0} decision needs the next review date")]
    ReviewDueMissing(ReviewOutcome),
    /// Remove erases the entry, so a next review date makes no sense.
    #[error("--review-due: a remove decision erases the person; give no review date")]
    ReviewDueWithRemove,
    /// The new date is not after the day of the review.
    #[error("--review-due {due}: must be after today ({today})")]
    ReviewDueNotAhead {
        /// Date given.
        due: Day,
        /// Day of the review.
        today: Day,
    },
    /// The new date is beyond the S18 limit for this person.
    #[error(
        "--review-due {due}: at most {max_days} days from {today} (latest {latest}) for {who} (safeguards.md S18)"
    )]
    ReviewDueTooFar {
        /// Date given.
        due: Day,
        /// Day of the review.
        today: Day,
        /// The limit in days.
        max_days: u16,
        /// The latest acceptable date.
        latest: Day,
        /// "anyone who may be a child" or "an adult".
        who: &'static str,
    },
}

/// Checks `review` of `person` made on `today` against S7 and S18.
///
/// # Errors
///
/// The first [`ReviewError`] found, in the order rationale, decision-maker, review date.
pub fn check_review(person: &Person, review: &Review, today: Day) -> Result<(), ReviewError> {
    let chars = review.rationale.trim().chars().count();
    if chars < MIN_RATIONALE_CHARS {
        return Err(ReviewError::RationaleTooShort { chars });
    }
    let name_chars = review.decided_by.trim().chars().count();
    if name_chars == 0 || name_chars > MAX_DECIDED_BY_CHARS {
        return Err(ReviewError::DecidedBy);
    }
    match (review.outcome, review.review_due) {
        (ReviewOutcome::Remove, None) => Ok(()),
        (ReviewOutcome::Remove, Some(_)) => Err(ReviewError::ReviewDueWithRemove),
        (outcome, None) => Err(ReviewError::ReviewDueMissing(outcome)),
        (_, Some(due)) => {
            if due <= today {
                return Err(ReviewError::ReviewDueNotAhead { due, today });
            }
            let (max_days, who) = if person.may_be_child_on(today) {
                (CHILD_REVIEW_MAX_DAYS, "anyone who may be a child")
            } else {
                (ADULT_REVIEW_MAX_DAYS, "an adult")
            };
            let latest = today.plus_days(max_days);
            if due > latest {
                return Err(ReviewError::ReviewDueTooFar {
                    due,
                    today,
                    max_days,
                    latest,
                    who,
                });
            }
            Ok(())
        }
    }
}

/// The reference of a stored review, as audit records carry it (`review_decision_ref`).
pub fn review_ref(id: u64) -> String {
    format!("review:{id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Agency, SubjectCategory};

    fn day(s: &str) -> Day {
        s.parse().unwrap()
    }

    fn person(birth_year: u16) -> Person {
        Person::new(
            PersonRef::new("P00000001").unwrap(),
            birth_year,
            vec![SubjectCategory::Witness],
            Agency::new("x").unwrap(),
            day("2026-12-01"),
        )
        .unwrap()
    }

    fn review(outcome: ReviewOutcome, due: Option<&str>) -> Review {
        Review {
            person: PersonRef::new("P00000001").unwrap(),
            review_due: due.map(day),
            rationale: "Multi-agency panel agreed the concern is still current.".to_owned(),
            outcome,
            decided_by: "A. Chair".to_owned(),
            decided_at: "2026-12-01T10:00:00.000Z".to_owned(),
        }
    }

    #[test]
    fn review_dates_keep_to_the_s18_limits_for_children_and_adults() {
        let today = day("2026-12-01");
        let (child, adult) = (person(2012), person(1990));
        let retain = |due| review(ReviewOutcome::Retain, Some(due));
        // 92 days for a child, 183 for an adult, counted from the day of the review.
        assert_eq!(check_review(&child, &retain("2027-03-03"), today), Ok(()));
        assert!(matches!(
            check_review(&child, &retain("2027-03-04"), today),
            Err(ReviewError::ReviewDueTooFar { max_days: 92, .. })
        ));
        assert_eq!(check_review(&adult, &retain("2027-06-02"), today), Ok(()));
        assert!(matches!(
            check_review(&adult, &retain("2027-06-03"), today),
            Err(ReviewError::ReviewDueTooFar { max_days: 183, .. })
        ));
        assert!(matches!(
            check_review(&adult, &retain("2026-12-01"), today),
            Err(ReviewError::ReviewDueNotAhead { .. })
        ));
    }

    #[test]
    fn a_review_needs_a_rationale_a_decision_maker_and_a_date_unless_it_removes() {
        let today = day("2026-12-01");
        let p = person(1990);
        let mut short = review(ReviewOutcome::Retain, Some("2027-01-01"));
        short.rationale = "too short".to_owned();
        assert_eq!(
            check_review(&p, &short, today),
            Err(ReviewError::RationaleTooShort { chars: 9 })
        );
        let mut nobody = review(ReviewOutcome::Amend, Some("2027-01-01"));
        nobody.decided_by = "  ".to_owned();
        assert_eq!(
            check_review(&p, &nobody, today),
            Err(ReviewError::DecidedBy)
        );
        assert_eq!(
            check_review(&p, &review(ReviewOutcome::Amend, None), today),
            Err(ReviewError::ReviewDueMissing(ReviewOutcome::Amend))
        );
        assert_eq!(
            check_review(
                &p,
                &review(ReviewOutcome::Remove, Some("2027-01-01")),
                today
            ),
            Err(ReviewError::ReviewDueWithRemove)
        );
        assert_eq!(
            check_review(&p, &review(ReviewOutcome::Remove, None), today),
            Ok(())
        );
        assert_eq!("remove".parse(), Ok(ReviewOutcome::Remove));
        assert!("delete".parse::<ReviewOutcome>().is_err());
        assert_eq!(review_ref(7), "review:7");
    }
}
