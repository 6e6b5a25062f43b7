//! Typed identifiers. Numeric ids wrap integers; textual ids are validated on construction.

use std::fmt;
use std::str::FromStr;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{DomainError, DomainResult};

macro_rules! numeric_id {
    ($(#[$doc:meta])* $name:ident($inner:ty), $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name($inner);

        impl $name {
            /// Wraps a raw id.
            pub const fn new(raw: $inner) -> Self {
                Self(raw)
            }

            /// The raw id.
            pub const fn get(self) -> $inner {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> DomainResult<Self> {
                s.parse::<$inner>()
                    .map(Self)
                    .map_err(|_| DomainError::invalid($field, format!("{s:?} is not a valid id")))
            }
        }
    };
}

numeric_id!(
    /// An incident, unique within the store.
    IncidentId(u64), "incident_id"
);
numeric_id!(
    /// A place of concern.
    PlaceId(u32), "place_id"
);
numeric_id!(
    /// A transport route.
    RouteId(u32), "route_id"
);
numeric_id!(
    /// A youth service.
    ServiceId(u32), "service_id"
);

/// A school's Unique Reference Number (GIAS `URN`): 6 digits, 100000..=999999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Urn(u32);

impl Urn {
    /// Validates a 6-digit URN.
    pub fn new(raw: u32) -> DomainResult<Self> {
        if (100_000..=999_999).contains(&raw) {
            Ok(Self(raw))
        } else {
            Err(DomainError::invalid(
                "urn",
                format!("{raw} is not a 6-digit URN"),
            ))
        }
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for Urn {
    type Error = DomainError;
    fn try_from(v: u32) -> DomainResult<Self> {
        Self::new(v)
    }
}

impl From<Urn> for u32 {
    fn from(u: Urn) -> Self {
        u.0
    }
}

impl fmt::Display for Urn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Validated text ids. The text is held as `Arc<str>`, so a clone (every imported row carries
/// its agency and sharing agreement) shares the bytes instead of allocating.
macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident, $field:literal, $check:expr, $expect:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Arc<str>);

        impl $name {
            /// Validates the text form.
            pub fn new(raw: impl Into<String>) -> DomainResult<Self> {
                let raw = raw.into();
                let check: fn(&str) -> bool = $check;
                if check(&raw) {
                    Ok(Self(Arc::from(raw)))
                } else {
                    Err(DomainError::invalid($field, format!("{raw:?} is not {}", $expect)))
                }
            }

            /// The text form.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = DomainError;
            fn try_from(s: String) -> DomainResult<Self> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> Self {
                v.0.as_ref().to_owned()
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> DomainResult<Self> {
                Self::new(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-')
}

text_id!(
    /// A `NaPTAN` ATCO code (also the GTFS `stop_id` in UK feeds): 4 to 16 ASCII letters and digits,
    /// e.g. `0100BRP90310`.
    AtcoCode, "atco_code",
    |s| (4..=16).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_alphanumeric()),
    "an ATCO code (4-16 letters and digits)"
);
text_id!(
    /// A boundary code within its scheme: a GSS code such as `E06000023`, or a saferplaces
    /// locality code such as `bristol-south`. 1-32 ASCII letters, digits, `-` or `_`.
    BoundaryCode, "code",
    |s| (1..=32).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
    "a boundary code (1-32 letters, digits, - or _)"
);
text_id!(
    /// A boundary scheme name, e.g. `lad`, `ward`, `locality_police`. Lower-case slug.
    SchemeName, "scheme", is_slug, "a scheme name (lower-case letters, digits, - or _)"
);
text_id!(
    /// A pseudonymous person reference: `P` followed by 8 to 16 lower-case hex digits. It is
    /// never a name, date of birth or agency identifier.
    PersonRef, "person_ref",
    |s| s.len() >= 9 && s.len() <= 17 && s.starts_with('P')
        && s[1..].bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)),
    "a pseudonymous reference (P + 8-16 lower-case hex digits)"
);

text_id!(
    /// An agency or data source name, e.g. `avon-and-somerset-police`. Lower-case slug.
    Agency, "agency", is_slug, "an agency slug (lower-case letters, digits, - or _)"
);
text_id!(
    /// An information sharing agreement reference, e.g. `ISA-2024-007`.
    IsaRef, "isa_ref",
    |s| (1..=64).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'/' | b'.')),
    "a sharing agreement reference (1-64 letters, digits, - _ / .)"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_ids_validate_their_form() {
        assert!(AtcoCode::new("0100BRP90310").is_ok());
        assert!(AtcoCode::new("01 0").is_err());
        assert!(BoundaryCode::new("E06000023").is_ok());
        assert!(BoundaryCode::new("").is_err());
        assert!(SchemeName::new("locality_police").is_ok());
        assert!(SchemeName::new("Ward").is_err());
        assert!(PersonRef::new("P0a1b2c3d").is_ok());
        assert!(PersonRef::new("John Smith").is_err());
        assert!(PersonRef::new("P0A1B2C3D").is_err());
    }

    #[test]
    fn a_urn_has_six_digits() {
        assert!(Urn::new(108_995).is_ok());
        assert!(Urn::new(99_999).is_err());
        assert!(Urn::new(1_000_000).is_err());
    }

    #[test]
    fn ids_refuse_invalid_json() {
        assert!(serde_json::from_str::<PersonRef>("\"gang-42\"").is_err());
        assert!(serde_json::from_str::<Urn>("12").is_err());
    }
}
