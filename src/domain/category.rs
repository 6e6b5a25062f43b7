//! Incident categories: the data.police.uk crime types plus partner-agency categories.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{DomainError, DomainResult};

macro_rules! categories {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $slug:literal, $label:literal, $children:literal; )*) => {
        /// What an incident was. Codes are stable small integers (they index per-category
        /// arrays in the geospatial index); slugs follow the data.police.uk API where one exists.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "&'static str")]
        #[repr(u8)]
        pub enum Category {
            $( $(#[$doc])* $variant = $code, )*
        }

        impl Category {
            /// Every category, in code order.
            pub const ALL: &'static [Category] = &[$(Category::$variant),*];

            /// The API slug, e.g. `violent-crime`.
            pub fn slug(self) -> &'static str {
                match self { $(Category::$variant => $slug,)* }
            }

            /// The human label, e.g. `Violence and sexual offences` (the police.uk CSV label).
            pub fn label(self) -> &'static str {
                match self { $(Category::$variant => $label,)* }
            }

            /// True when the category is about children by definition, so aggregate outputs
            /// use the stricter child threshold (safeguards.md S21).
            pub fn concerns_children(self) -> bool {
                match self { $(Category::$variant => $children,)* }
            }

            /// The stable numeric code (index into per-category arrays).
            pub fn code(self) -> u8 {
                self as u8
            }

            /// The category with numeric `code`, if any.
            pub fn from_code(code: u8) -> Option<Self> {
                match code { $($code => Some(Category::$variant),)* _ => None }
            }

            /// Finds a category by slug or by its police.uk CSV label.
            pub fn from_slug_or_label(s: &str) -> Option<Self> {
                match s { $($slug | $label => Some(Category::$variant),)* _ => None }
            }
        }
    };
}

categories! {
    /// Anti-social behaviour (police.uk).
    AntiSocialBehaviour = 0, "anti-social-behaviour", "Anti-social behaviour", false;
    /// Bicycle theft (police.uk).
    BicycleTheft = 1, "bicycle-theft", "Bicycle theft", false;
    /// Burglary (police.uk).
    Burglary = 2, "burglary", "Burglary", false;
    /// Criminal damage and arson (police.uk).
    CriminalDamageArson = 3, "criminal-damage-arson", "Criminal damage and arson", false;
    /// Drugs (police.uk).
    Drugs = 4, "drugs", "Drugs", false;
    /// Other theft (police.uk).
    OtherTheft = 5, "other-theft", "Other theft", false;
    /// Possession of weapons (police.uk).
    PossessionOfWeapons = 6, "possession-of-weapons", "Possession of weapons", false;
    /// Public order (police.uk).
    PublicOrder = 7, "public-order", "Public order", false;
    /// Robbery (police.uk).
    Robbery = 8, "robbery", "Robbery", false;
    /// Shoplifting (police.uk).
    Shoplifting = 9, "shoplifting", "Shoplifting", false;
    /// Theft from the person (police.uk).
    TheftFromThePerson = 10, "theft-from-the-person", "Theft from the person", false;
    /// Vehicle crime (police.uk).
    VehicleCrime = 11, "vehicle-crime", "Vehicle crime", false;
    /// Violence and sexual offences (police.uk).
    ViolentCrime = 12, "violent-crime", "Violence and sexual offences", false;
    /// Other crime (police.uk).
    OtherCrime = 13, "other-crime", "Other crime", false;
    /// Serious violence where a victim or suspect is under 25 (partner data, VRU definition).
    SeriousYouthViolence = 14, "serious-youth-violence", "Serious youth violence", true;
    /// Knife or bladed-article offence or injury (partner data: police, hospital).
    KnifeCrime = 15, "knife-crime", "Knife crime", false;
    /// A recorded concern about child criminal or sexual exploitation at a place.
    ChildExploitationConcern = 16, "child-exploitation-concern", "Child exploitation concern", true;
}

/// Number of categories; per-category arrays have this length.
pub const CATEGORY_COUNT: usize = 17;

impl TryFrom<String> for Category {
    type Error = DomainError;
    fn try_from(s: String) -> DomainResult<Self> {
        s.parse()
    }
}

impl From<Category> for &'static str {
    fn from(c: Category) -> Self {
        c.slug()
    }
}

impl FromStr for Category {
    type Err = DomainError;
    fn from_str(s: &str) -> DomainResult<Self> {
        Category::from_slug_or_label(s).ok_or_else(|| {
            DomainError::invalid("category", format!("{s:?} is not a known category"))
        })
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_dense_and_round_trip() {
        assert_eq!(Category::ALL.len(), CATEGORY_COUNT);
        for (i, c) in Category::ALL.iter().enumerate() {
            assert_eq!(usize::from(c.code()), i);
            assert_eq!(Category::from_code(c.code()), Some(*c));
            assert_eq!(c.slug().parse::<Category>().unwrap(), *c);
            assert_eq!(c.label().parse::<Category>().unwrap(), *c);
        }
        assert_eq!(Category::from_code(CATEGORY_COUNT as u8), None);
    }

    #[test]
    fn police_csv_labels_map_to_api_slugs() {
        let c: Category = "Violence and sexual offences".parse().unwrap();
        assert_eq!(c.slug(), "violent-crime");
        assert!("all-crime".parse::<Category>().is_err());
    }
}
