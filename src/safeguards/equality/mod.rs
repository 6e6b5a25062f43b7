//! The S22 disproportionality monitor (issue 13, points 6 and 7; safeguards.md S22).
//!
//! Every month the monitor compares how often groups of people appear in a monitored
//! population with how often they appear in a baseline, as a Relative Rate Index with its 95 %
//! interval ([`crate::analysis::rri`]), and raises an alert when a comparison is flagged in two
//! consecutive months. An alert stays open until the governance board records an explanation
//! or a reform ("explain or reform", the Lammy Review).
//!
//! Ethnicity is sensitive processing (DPA 2018 s.35): the attributes the monitor needs are held
//! in their own table (`person_equality`, migration 0008), read only here, and served only to
//! the `equality_monitor` role, with published counts passed through the disclosure control
//! (S21). docs/SECURITY.md "Equality monitoring (S22)" says who could misuse them and how they
//! are confined.
//!
//! | Module | What |
//! |---|---|
//! | [`attributes`] | `saferplaces equality import-attributes`: people's attributes from a CSV file |
//! | [`baselines`] | resident baselines (ages 10–24 by authority and MSOA): CSV loader and totals |
//! | [`monitor`] | the populations, the comparisons of one month, and the trigger |
//! | [`cli`] | `saferplaces equality run` and `equality close`: store, alerts and audit |
//! | [`api`] | the published form of the latest results (`GET /api/v1/equality/latest`) |

pub mod api;
pub mod attributes;
pub mod baselines;
pub mod cli;
pub mod monitor;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::domain::{Day, PersonRef};

/// Errors of the equality monitor's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EqualityError {
    /// A value is not one of the codes the field allows.
    #[error("{field}: {value:?} is not valid ({expected})")]
    InvalidValue {
        /// The field.
        field: &'static str,
        /// The value given.
        value: String,
        /// What is allowed.
        expected: &'static str,
    },
}

fn invalid(field: &'static str, value: &str, expected: &'static str) -> EqualityError {
    EqualityError::InvalidValue {
        field,
        value: value.to_owned(),
        expected,
    }
}

macro_rules! code_enum {
    ($(#[$doc:meta])* $name:ident, $field:literal { $( $(#[$vdoc:meta])* $variant:ident = $code:literal, )* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vdoc])* $variant, )*
        }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The code used in the store, files and the API.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code,)* }
            }
        }

        impl FromStr for $name {
            type Err = EqualityError;
            fn from_str(s: &str) -> Result<Self, EqualityError> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.code() == s.trim())
                    .ok_or_else(|| invalid($field, s, concat!($($code, " "),*)))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

code_enum!(
    /// Ethnic group in the ONS Census 2021 5-group classification (the high-level groups of
    /// the 19-group classification, table TS021), plus `not_stated`. A 19-group code is mapped
    /// to its high-level group before it is stored ([`Ethnicity::from_police_label`] does this
    /// for the data.police.uk labels). People who did not state one are counted in no group.
    Ethnicity, "ethnicity" {
        /// Asian, Asian British or Asian Welsh.
        Asian = "asian",
        /// Black, Black British, Black Welsh, Caribbean or African.
        Black = "black",
        /// Mixed or Multiple ethnic groups.
        Mixed = "mixed",
        /// White.
        White = "white",
        /// Other ethnic group.
        Other = "other",
        /// Not stated or not known.
        NotStated = "not_stated",
    }
);

impl Ethnicity {
    /// The group of a data.police.uk ethnicity label: the self-defined 19-group labels
    /// (`Black/African/Caribbean/Black British - Any other ...`, `White - English/...`) and
    /// the officer-defined 5-group ones (`White`, `Black`, `Asian`, `Other`, `Mixed`). Matched
    /// on the leading word, ASCII case-insensitively; a label saying "Not stated", and
    /// anything else, is `not_stated`.
    pub fn from_police_label(label: &str) -> Self {
        if label.to_ascii_lowercase().contains("not stated") {
            return Self::NotStated;
        }
        let head = label
            .trim()
            .split(|c: char| !c.is_ascii_alphabetic())
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match head.as_str() {
            "asian" => Self::Asian,
            "black" => Self::Black,
            "mixed" => Self::Mixed,
            "white" => Self::White,
            "other" => Self::Other,
            _ => Self::NotStated,
        }
    }
}

code_enum!(
    /// Sex as recorded (Census 2021 asked sex, not gender identity; police.uk publishes
    /// "gender" with the values Male, Female and Other, of which only the first two are mapped).
    Sex, "sex" {
        /// Female.
        Female = "female",
        /// Male.
        Male = "male",
        /// Not stated, not known or another value.
        NotStated = "not_stated",
    }
);

code_enum!(
    /// A characteristic results are broken down by.
    Dimension, "dimension" {
        /// [`Ethnicity`].
        Ethnicity = "ethnicity",
        /// [`Sex`].
        Sex = "sex",
        /// Age band: `10-17` or `18-24` (the data.police.uk bands inside the 10–24 baseline).
        AgeBand = "age_band",
        /// Local authority of residence (ONS code).
        Authority = "authority",
        /// Index of Multiple Deprivation decile of residence, 1 (most deprived) to 10.
        DeprivationDecile = "deprivation_decile",
        /// MSOA of residence (ONS 2021 code).
        Msoa = "msoa",
    }
);

/// The age bands compared (those of data.police.uk that lie inside the 10–24 baseline).
pub const AGE_BANDS: [&str; 2] = ["10-17", "18-24"];

/// The age band of someone aged `age` years, if inside the 10–24 baseline.
pub fn age_band(age: i32) -> Option<&'static str> {
    match age {
        10..=17 => Some(AGE_BANDS[0]),
        18..=24 => Some(AGE_BANDS[1]),
        _ => None,
    }
}

/// The protected characteristics of one person the monitor needs (table `person_equality`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonEquality {
    /// The person.
    pub person: PersonRef,
    /// Ethnic group.
    pub ethnicity: Ethnicity,
    /// Sex.
    pub sex: Sex,
    /// Deprivation decile of residence (1 most deprived .. 10), when known.
    pub deprivation_decile: Option<u8>,
    /// Authority of residence (ONS code), when known.
    pub authority: Option<String>,
    /// MSOA of residence (ONS 2021 code), when known.
    pub msoa: Option<String>,
}

code_enum!(
    /// How an alert was closed: the disparity was explained with evidence, or practice was
    /// changed (the Lammy Review's "explain or reform").
    CloseOutcome, "outcome" {
        /// Explained with evidence.
        Explain = "explain",
        /// Practice changed.
        Reform = "reform",
    }
);

/// Whether an alert is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// Waiting for an explain-or-reform record.
    Open,
    /// Closed with one.
    Closed,
}

/// An S22 alert (table `equality_alerts`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EqualityAlert {
    /// Id.
    pub id: u64,
    /// The month in which the trigger held (the second flagged month).
    pub month: String,
    /// Population code.
    pub population: String,
    /// Dimension.
    pub dimension: String,
    /// Group.
    pub group: String,
    /// Reference group.
    pub reference: String,
    /// RRI of the month.
    pub rri: f64,
    /// 95 % interval of the month, low and high.
    pub ci: [f64; 2],
    /// Open or closed.
    pub status: AlertStatus,
    /// When it was opened (RFC 3339 UTC).
    pub opened_at: String,
    /// How it was closed.
    pub outcome: Option<String>,
    /// The explain-or-reform record.
    pub record: Option<String>,
    /// Who closed it.
    pub closed_by: Option<String>,
    /// When (RFC 3339 UTC).
    pub closed_at: Option<String>,
}

/// A calendar month, written `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// The month holding `day`.
    pub fn of(day: Day) -> Self {
        let (year, month, _) = day.ymd();
        Self { year, month }
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// The month before.
    #[must_use]
    pub fn previous(self) -> Self {
        if self.month == 1 {
            Self {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Self {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// True when `day` is in this month.
    pub fn contains(self, day: Day) -> bool {
        Self::of(day) == self
    }
}

impl FromStr for Month {
    type Err = EqualityError;
    fn from_str(s: &str) -> Result<Self, EqualityError> {
        let bad = || invalid("month", s, "YYYY-MM, e.g. 2026-09");
        let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        Day::from_ymd(year, month, 1).map_err(|_| bad())?;
        Ok(Self { year, month })
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_print_and_step_back() {
        let m: Month = "2026-01".parse().unwrap();
        assert_eq!(m.to_string(), "2026-01");
        assert_eq!(m.previous().to_string(), "2025-12");
        for bad in [
            "2026-13", "2026-1", "26-01", "2026", "", "2026-00", "abcd-ef",
        ] {
            assert!(bad.parse::<Month>().is_err(), "{bad}");
        }
        let day = Day::from_ymd(2026, 1, 31).unwrap();
        assert!(m.contains(day));
        assert!(!m.previous().contains(day));
    }

    #[test]
    fn police_labels_map_to_the_census_five_groups() {
        for (label, want) in [
            (
                "Black/African/Caribbean/Black British - Any other Black/African/Caribbean background",
                Ethnicity::Black,
            ),
            (
                "White - English/Welsh/Scottish/Northern Irish/British",
                Ethnicity::White,
            ),
            (
                "Asian/Asian British - Any other Asian background",
                Ethnicity::Asian,
            ),
            (
                "Mixed/Multiple ethnic groups - White and Black Caribbean",
                Ethnicity::Mixed,
            ),
            ("Other ethnic group - Not stated", Ethnicity::NotStated),
            (
                "Other ethnic group - Any other ethnic group",
                Ethnicity::Other,
            ),
            ("White", Ethnicity::White),
            ("", Ethnicity::NotStated),
            ("Unknown", Ethnicity::NotStated),
        ] {
            assert_eq!(Ethnicity::from_police_label(label), want, "{label}");
        }
        assert_eq!("black".parse::<Ethnicity>().unwrap(), Ethnicity::Black);
        assert!("Black".parse::<Ethnicity>().is_err());
    }

    #[test]
    fn age_bands_cover_ten_to_twenty_four_only() {
        assert_eq!(age_band(9), None);
        assert_eq!(age_band(10), Some("10-17"));
        assert_eq!(age_band(17), Some("10-17"));
        assert_eq!(age_band(18), Some("18-24"));
        assert_eq!(age_band(24), Some("18-24"));
        assert_eq!(age_band(25), None);
    }
}
