//! Stop and search records from data.police.uk (formats.md §1.3, quirks in §7).
//!
//! One [`StopSearch`] is one person or one vehicle searched. The record carries no identity of
//! the person: only the open-data fields (gender, age band, ethnicity labels) that
//! data.police.uk itself publishes. Vocabularies are open (formats.md §0): every normalised
//! field keeps its raw label next to it, and an outcome label nobody has mapped yet becomes
//! [`StopOutcome::Other`] rather than a rejection. The search type is the exception: it decides
//! what the row means, so an unknown type is refused by the importer.

use serde::{Deserialize, Serialize};

use super::{Day, LonLat, Provenance};

/// What was searched (the `Type` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchType {
    /// `Person search`.
    PersonSearch,
    /// `Person and Vehicle search`.
    PersonAndVehicleSearch,
    /// `Vehicle search`. Published with a date only (time `00:00:00`) and no personal fields.
    VehicleSearch,
}

impl SearchType {
    /// The data.police.uk label, e.g. `Person and Vehicle search`.
    pub fn label(self) -> &'static str {
        match self {
            Self::PersonSearch => "Person search",
            Self::PersonAndVehicleSearch => "Person and Vehicle search",
            Self::VehicleSearch => "Vehicle search",
        }
    }

    /// The type with this label, compared ASCII case-insensitively; `None` for any other
    /// label (the importer rejects the row).
    pub fn from_label(s: &str) -> Option<Self> {
        [
            Self::PersonSearch,
            Self::PersonAndVehicleSearch,
            Self::VehicleSearch,
        ]
        .into_iter()
        .find(|t| t.label().eq_ignore_ascii_case(s))
    }
}

/// The normalised outcome of a search (formats.md §1.3). Serialised in `snake_case`
/// (`nfa`, `penalty_notice`, `cannabis_khat_warning`, …), the codes formats.md names.
///
/// Label mapping ([`StopOutcome::from_label`], ASCII case-insensitive):
///
/// | Label | Outcome |
/// |---|---|
/// | `A no further action disposal`; legacy `Nothing found - no further action` | [`Nfa`](Self::Nfa) |
/// | legacy `Suspected psychoactive substances seized - No further action` | [`Nfa`](Self::Nfa) (choice: the seizure is of the item; no action was taken against the person) |
/// | `Arrest`; legacy `Suspect arrested` | [`Arrest`](Self::Arrest) |
/// | `Summons / charged by post`; legacy `Suspect summonsed to court` | [`Summons`](Self::Summons) |
/// | `Caution (simple or conditional)`; legacy `Offender cautioned` | [`Caution`](Self::Caution) |
/// | `Penalty Notice for Disorder`; legacy `Offender given penalty notice` | [`PenaltyNotice`](Self::PenaltyNotice) |
/// | `Khat or Cannabis warning`; legacy `Offender given drugs possession warning` | [`CannabisKhatWarning`](Self::CannabisKhatWarning) |
/// | `Community resolution`; legacy `Local resolution` | [`CommunityResolution`](Self::CommunityResolution) |
/// | legacy `Article found - Detailed outcome unavailable` | [`Other`](Self::Other) (choice: something was found but what followed is not known, so neither NFA nor any disposal can be claimed) |
/// | any other non-empty label | [`Other`](Self::Other), raw label kept |
/// | empty | [`Unknown`](Self::Unknown) |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopOutcome {
    /// No further action.
    Nfa,
    /// Arrest.
    Arrest,
    /// Summons or charged by post.
    Summons,
    /// Simple or conditional caution.
    Caution,
    /// Penalty notice for disorder.
    PenaltyNotice,
    /// Khat or cannabis warning (formerly a drugs possession warning).
    CannabisKhatWarning,
    /// Community resolution (formerly local resolution).
    CommunityResolution,
    /// A non-empty label outside the mapping, or an outcome whose detail is unavailable.
    Other,
    /// The outcome column was empty.
    Unknown,
}

/// Every label with a fixed mapping, current and legacy (formats.md §1.3).
const OUTCOME_LABELS: &[(&str, StopOutcome)] = &[
    ("A no further action disposal", StopOutcome::Nfa),
    ("Nothing found - no further action", StopOutcome::Nfa),
    (
        "Suspected psychoactive substances seized - No further action",
        StopOutcome::Nfa,
    ),
    ("Arrest", StopOutcome::Arrest),
    ("Suspect arrested", StopOutcome::Arrest),
    ("Summons / charged by post", StopOutcome::Summons),
    ("Suspect summonsed to court", StopOutcome::Summons),
    ("Caution (simple or conditional)", StopOutcome::Caution),
    ("Offender cautioned", StopOutcome::Caution),
    ("Penalty Notice for Disorder", StopOutcome::PenaltyNotice),
    ("Offender given penalty notice", StopOutcome::PenaltyNotice),
    ("Khat or Cannabis warning", StopOutcome::CannabisKhatWarning),
    (
        "Offender given drugs possession warning",
        StopOutcome::CannabisKhatWarning,
    ),
    ("Community resolution", StopOutcome::CommunityResolution),
    ("Local resolution", StopOutcome::CommunityResolution),
    (
        "Article found - Detailed outcome unavailable",
        StopOutcome::Other,
    ),
];

impl StopOutcome {
    /// Normalises a raw `Outcome` label (see the table on [`StopOutcome`]). `None` or an empty
    /// label gives [`StopOutcome::Unknown`]; an unmapped label gives [`StopOutcome::Other`].
    pub fn from_label(raw: Option<&str>) -> Self {
        let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
            return Self::Unknown;
        };
        OUTCOME_LABELS
            .iter()
            .find(|(label, _)| label.eq_ignore_ascii_case(raw))
            .map_or(Self::Other, |&(_, outcome)| outcome)
    }
}

/// One stop and search: one person or one vehicle searched (formats.md §1.3). No identity of
/// the person is held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopSearch {
    /// Store-wide id, stable across re-imports of the same file (see
    /// `ingest::police::parse_stop_search` for the recipe).
    pub id: u64,
    /// The day of the search in UTC. For a date-only row (see `minute_of_day`) the day as
    /// written, since there is no instant to convert.
    pub day: Day,
    /// Minute of the UTC day, 0..1440. `None` when the published time is exactly `00:00:00`:
    /// data.police.uk publishes vehicle searches with a date only and writes that as midnight
    /// (all 11 vehicle searches in the January 2023 Avon and Somerset file), so a midnight
    /// time is read as "time unknown", not as a search at 00:00.
    pub minute_of_day: Option<u16>,
    /// WGS84 position (an anonymised point, as for street crime), if published.
    pub location: Option<LonLat>,
    /// What was searched.
    pub search_type: SearchType,
    /// `Part of a policing operation`, when filled.
    pub part_of_operation: Option<bool>,
    /// `Policing operation` name, when filled.
    pub operation: Option<String>,
    /// `Gender` label (`Male`, `Female`, `Other`), when filled; empty on vehicle searches.
    pub gender: Option<String>,
    /// `Age range` label (`under 10`, `10-17`, `18-24`, `25-34`, `over 34`), when filled.
    pub age_range: Option<String>,
    /// `Self-defined ethnicity` label (2011 Census wording), when filled.
    ///
    /// Sensitive (safeguards.md S14, S22): held for disproportionality monitoring only and
    /// never served to operational roles.
    pub self_defined_ethnicity: Option<String>,
    /// `Officer-defined ethnicity` label (`White`, `Black`, `Asian`, `Mixed`, `Other`), when
    /// filled.
    ///
    /// Sensitive (safeguards.md S14, S22): held for disproportionality monitoring only and
    /// never served to operational roles.
    pub officer_defined_ethnicity: Option<String>,
    /// `Legislation` the search was made under, e.g. `Misuse of Drugs Act 1971 (section 23)`.
    pub legislation: Option<String>,
    /// `Object of search`, e.g. `Controlled drugs`.
    pub object_of_search: Option<String>,
    /// Normalised outcome.
    pub outcome: StopOutcome,
    /// The raw `Outcome` label, always kept (vocabularies change; formats.md §0).
    pub outcome_raw: Option<String>,
    /// `Outcome linked to object of search`, when filled.
    pub outcome_linked_to_object: Option<bool>,
    /// `Removal of more than just outer clothing`, when filled (empty on vehicle searches).
    pub removal_of_more_than_outer_clothing: Option<bool>,
    /// True when the age range is `10-17` or `under 10`.
    pub is_child: bool,
    /// Where the record came from.
    pub provenance: Provenance,
}

impl StopSearch {
    /// True for the child age bands `10-17` and `under 10` (ASCII case-insensitive).
    pub fn age_range_is_child(age_range: &str) -> bool {
        let a = age_range.trim();
        a == "10-17" || a.eq_ignore_ascii_case("under 10")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_and_legacy_outcome_labels_share_codes() {
        for (label, want) in [
            ("A no further action disposal", StopOutcome::Nfa),
            ("Nothing found - no further action", StopOutcome::Nfa),
            ("Suspect arrested", StopOutcome::Arrest),
            ("summons / charged by post", StopOutcome::Summons),
            (
                "Offender given drugs possession warning",
                StopOutcome::CannabisKhatWarning,
            ),
            ("Local resolution", StopOutcome::CommunityResolution),
            ("Offender cautioned", StopOutcome::Caution),
            ("Offender given penalty notice", StopOutcome::PenaltyNotice),
            (
                "Article found - Detailed outcome unavailable",
                StopOutcome::Other,
            ),
            ("Some label from 2031", StopOutcome::Other),
        ] {
            assert_eq!(StopOutcome::from_label(Some(label)), want, "{label}");
        }
        assert_eq!(StopOutcome::from_label(None), StopOutcome::Unknown);
        assert_eq!(StopOutcome::from_label(Some(" ")), StopOutcome::Unknown);
        assert_eq!(
            serde_json::to_string(&StopOutcome::CannabisKhatWarning).unwrap(),
            "\"cannabis_khat_warning\""
        );
    }

    #[test]
    fn search_types_round_trip_through_their_labels() {
        for t in [
            SearchType::PersonSearch,
            SearchType::PersonAndVehicleSearch,
            SearchType::VehicleSearch,
        ] {
            assert_eq!(SearchType::from_label(t.label()), Some(t));
        }
        assert_eq!(SearchType::from_label("Boat search"), None);
    }

    #[test]
    fn only_the_under_18_age_bands_are_children() {
        assert!(StopSearch::age_range_is_child("10-17"));
        assert!(StopSearch::age_range_is_child("under 10"));
        assert!(!StopSearch::age_range_is_child("18-24"));
        assert!(!StopSearch::age_range_is_child("over 34"));
    }
}
