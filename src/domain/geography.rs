//! The partnership's geography in one place (issue 15, point 4): the four local authorities
//! of the West of England that saferplaces knows, which of them are partners (their data is
//! held and their records generated in the demo) and which is a neighbour (its outline is
//! loaded so borders and cross-border routes are right, but it holds no records), and the
//! study area all layers are served over.
//!
//! Codes are the ONS GSS codes of the local authority districts (`lad` scheme).

use super::geom::Bbox;

/// Whether an authority belongs to the partnership.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Membership {
    /// A member of the partnership: its records are held (and generated in the demo).
    Partner,
    /// A neighbour: its outline is loaded, it holds no records.
    Neighbour,
}

/// A local authority of the West of England known to saferplaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Authority {
    /// Bristol, `E06000023`.
    Bristol,
    /// North Somerset, `E06000024`.
    NorthSomerset,
    /// South Gloucestershire, `E06000025`.
    SouthGloucestershire,
    /// Bath and North East Somerset, `E06000022` (neighbour only).
    BathNeSomerset,
}

impl Authority {
    /// Every authority, partners first, in the order of their codes' use in the demo.
    pub const ALL: [Authority; 4] = [
        Self::Bristol,
        Self::NorthSomerset,
        Self::SouthGloucestershire,
        Self::BathNeSomerset,
    ];

    /// The partners: the authorities whose records are held (and generated in the demo).
    pub const PARTNERS: [Authority; 3] = [
        Self::Bristol,
        Self::NorthSomerset,
        Self::SouthGloucestershire,
    ];

    /// The GSS code (`lad` scheme).
    pub const fn code(self) -> &'static str {
        match self {
            Self::Bristol => "E06000023",
            Self::NorthSomerset => "E06000024",
            Self::SouthGloucestershire => "E06000025",
            Self::BathNeSomerset => "E06000022",
        }
    }

    /// The authority with GSS code `code`.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.code() == code)
    }

    /// The authority's name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Bristol => "Bristol",
            Self::NorthSomerset => "North Somerset",
            Self::SouthGloucestershire => "South Gloucestershire",
            Self::BathNeSomerset => "Bath and North East Somerset",
        }
    }

    /// Partner or neighbour.
    pub const fn membership(self) -> Membership {
        match self {
            Self::Bristol | Self::NorthSomerset | Self::SouthGloucestershire => Membership::Partner,
            Self::BathNeSomerset => Membership::Neighbour,
        }
    }

    /// True for a partner.
    pub fn is_partner(self) -> bool {
        self.membership() == Membership::Partner
    }

    /// The council's name (guardians and providers in the demo).
    pub const fn council(self) -> &'static str {
        match self {
            Self::Bristol => "Bristol City Council",
            Self::NorthSomerset => "North Somerset Council",
            Self::SouthGloucestershire => "South Gloucestershire Council",
            Self::BathNeSomerset => "Bath and North East Somerset Council",
        }
    }

    /// The `NaPTAN` administrative-area prefix of ATCO codes in the authority.
    pub const fn atco_prefix(self) -> &'static str {
        match self {
            Self::Bristol => "0100",
            Self::NorthSomerset => "0190",
            Self::SouthGloucestershire => "0170",
            Self::BathNeSomerset => "0180",
        }
    }
}

/// `[lon, lat]` of central Bristol: the default view of the map and of every TileJSON
/// document.
pub const MAP_CENTRE: [f64; 2] = [-2.59, 51.45];

/// Study-area bounds for all layers (maps.md §1), `[min_lon, min_lat, max_lon, max_lat]` in
/// degrees: the four authority outlines.
pub const STUDY_AREA: [f64; 4] = [-3.12, 51.27, -2.25, 51.69];

/// [`STUDY_AREA`] as a box, built at compile time (checked by a unit test).
pub const STUDY_AREA_BBOX: Bbox =
    Bbox::from_valid_coords(STUDY_AREA[0], STUDY_AREA[1], STUDY_AREA[2], STUDY_AREA[3]);

/// The study-area box ([`STUDY_AREA_BBOX`]).
pub fn study_area() -> Bbox {
    STUDY_AREA_BBOX
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_study_area_box_is_the_valid_box_of_its_numbers() {
        let checked =
            Bbox::from_coords(STUDY_AREA[0], STUDY_AREA[1], STUDY_AREA[2], STUDY_AREA[3]).unwrap();
        assert_eq!(STUDY_AREA_BBOX, checked);
        assert_eq!(study_area().to_string(), "-3.12,51.27,-2.25,51.69");
    }

    #[test]
    fn codes_are_distinct_and_found_again() {
        for a in Authority::ALL {
            assert_eq!(Authority::from_code(a.code()), Some(a));
            assert!(a.code().starts_with("E06") && a.code().len() == 9);
        }
        assert_eq!(Authority::from_code("E06000001"), None);
    }

    #[test]
    fn the_partners_are_the_three_authorities_with_records_and_bath_is_a_neighbour() {
        let partners: Vec<Authority> = Authority::ALL
            .into_iter()
            .filter(|a| a.is_partner())
            .collect();
        assert_eq!(partners, Authority::PARTNERS);
        assert_eq!(
            Authority::BathNeSomerset.membership(),
            Membership::Neighbour
        );
    }
}
