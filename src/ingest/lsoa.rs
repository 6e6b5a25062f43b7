//! LSOA vintages (formats.md §7): data.police.uk moved from 2011 to 2021 Lower Layer Super
//! Output Areas, so the `LSOA code` of a street row means a 2011 or a 2021 area depending on
//! the file. The vintage is decided by **membership of each code set**, never by the code's
//! prefix, and stored on every row.
//!
//! The code sets live in `geodata/lsoa/`: `lsoa11.csv` (the 678 LSOAs of the four authorities,
//! from the partnership's ONS files) and, when supplied, `lsoa21.csv` (`LSOA21CD,LSOA21NM`).
//! The 2021 list is not in the shared reference data and cannot be downloaded on the build
//! machines, so without it the classifier uses the rule the ONS followed in 2021: an LSOA that
//! did not change kept its 2011 code, and every split, merged or redrawn LSOA got a new code.
//! Hence, for a row whose LSOA name places it in one of the four authorities, a code outside
//! the 2011 set is a 2021 code, while a code inside it is a 2011 code **or** an unchanged 2021
//! one (reported as such, not guessed). Rows elsewhere (the Avon and Somerset files carry
//! Somerset and out-of-force rows) are `unknown` unless a supplied list contains them.

use std::collections::HashSet;
use std::path::Path;

use super::{IngestError, IngestResult};

/// The four authorities, as LSOA names begin.
const AREA_NAMES: [&str; 4] = [
    "Bristol ",
    "North Somerset ",
    "South Gloucestershire ",
    "Bath and North East Somerset ",
];

/// What one LSOA code says about its vintage. Discriminants index [`LsoaVintage::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LsoaVintage {
    /// A 2011 code that no longer exists in 2021 (needs the 2021 list to be known).
    Only2011 = 0,
    /// A code that exists only in the 2021 set (a new code for a changed area).
    Only2021 = 1,
    /// A code valid in both vintages (unchanged area; needs the 2021 list).
    Both = 2,
    /// In the 2011 set; whether it also exists in 2021 is unknown without the 2021 list.
    In2011 = 3,
    /// Not in any known set (outside the four authorities, or no code).
    Unknown = 4,
}

impl LsoaVintage {
    /// Every vintage, in discriminant order.
    pub const ALL: [Self; 5] = [
        Self::Only2011,
        Self::Only2021,
        Self::Both,
        Self::In2011,
        Self::Unknown,
    ];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Only2011 => "2011",
            Self::Only2021 => "2021",
            Self::Both => "2011_and_2021",
            Self::In2011 => "2011_or_unchanged",
            Self::Unknown => "unknown",
        }
    }
}

/// The code sets a street file's LSOA codes are checked against.
#[derive(Debug, Clone, Default)]
pub struct LsoaCodeSets {
    lsoa11: HashSet<String>,
    lsoa21: Option<HashSet<String>>,
}

impl LsoaCodeSets {
    /// Code sets from lists of codes (tests and callers with their own lists).
    pub fn new(lsoa11: impl IntoIterator<Item = String>, lsoa21: Option<Vec<String>>) -> Self {
        Self {
            lsoa11: lsoa11.into_iter().collect(),
            lsoa21: lsoa21.map(|v| v.into_iter().collect()),
        }
    }

    /// Reads `geodata_dir/lsoa/lsoa11.csv` and, if present, `lsoa21.csv`.
    ///
    /// # Errors
    ///
    /// [`IngestError`] naming the file and line when a list is missing (2011) or malformed.
    pub fn load(geodata_dir: &Path) -> IngestResult<Self> {
        let dir = geodata_dir.join("lsoa");
        let lsoa11 = read_codes(&dir.join("lsoa11.csv"), "LSOA11CD")?;
        let path21 = dir.join("lsoa21.csv");
        let lsoa21 = if path21.exists() {
            Some(read_codes(&path21, "LSOA21CD")?)
        } else {
            None
        };
        Ok(Self { lsoa11, lsoa21 })
    }

    /// True when the 2021 list was supplied.
    pub fn has_2021(&self) -> bool {
        self.lsoa21.is_some()
    }

    /// The vintage of `code`, given the row's LSOA name (used only without the 2021 list).
    pub fn classify(&self, code: Option<&str>, name: Option<&str>) -> LsoaVintage {
        let Some(code) = code else {
            return LsoaVintage::Unknown;
        };
        let in11 = self.lsoa11.contains(code);
        match &self.lsoa21 {
            Some(set21) => match (in11, set21.contains(code)) {
                (true, true) => LsoaVintage::Both,
                (true, false) => LsoaVintage::Only2011,
                (false, true) => LsoaVintage::Only2021,
                (false, false) => LsoaVintage::Unknown,
            },
            None if in11 => LsoaVintage::In2011,
            None => {
                let in_area = name.is_some_and(|n| AREA_NAMES.iter().any(|a| n.starts_with(a)));
                if in_area {
                    LsoaVintage::Only2021
                } else {
                    LsoaVintage::Unknown
                }
            }
        }
    }
}

/// A file's vintage from the vintages of its rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FileVintage {
    /// Rows with a 2011-only code.
    pub only_2011: u64,
    /// Rows with a 2021-only code.
    pub only_2021: u64,
    /// Rows whose code is in the 2011 set and may also be an unchanged 2021 code.
    pub in_2011: u64,
    /// Rows whose code is valid in both vintages.
    pub both: u64,
    /// Rows with no code or a code in no known set.
    pub unknown: u64,
}

impl FileVintage {
    /// Counts one row.
    pub fn add(&mut self, v: LsoaVintage) {
        match v {
            LsoaVintage::Only2011 => self.only_2011 += 1,
            LsoaVintage::Only2021 => self.only_2021 += 1,
            LsoaVintage::In2011 => self.in_2011 += 1,
            LsoaVintage::Both => self.both += 1,
            LsoaVintage::Unknown => self.unknown += 1,
        }
    }

    /// The file's vintage: `2011` or `2021` when the codes that tell the vintages apart all
    /// agree, `mixed` when they do not, `2011` also when every known code is a 2011 code and
    /// none is a new 2021 code (all could still be unchanged 2021 codes; without the 2021 list
    /// this is the best the codes can say, and `in_2011` shows it), `unknown` with no code in
    /// any set.
    pub fn decide(&self) -> &'static str {
        match (self.only_2011 > 0, self.only_2021 > 0) {
            (true, true) => "mixed",
            (true, false) => "2011",
            (false, true) => "2021",
            (false, false) if self.in_2011 > 0 => "2011",
            (false, false) if self.both > 0 => "2011_and_2021",
            (false, false) => "unknown",
        }
    }
}

fn read_codes(path: &Path, column: &str) -> IngestResult<HashSet<String>> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| IngestError::Io {
        file: file.clone(),
        source,
    })?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let at = header
        .split(',')
        .position(|h| h.trim().eq_ignore_ascii_case(column))
        .ok_or_else(|| IngestError::Field {
            file: file.clone(),
            record: 1,
            field: column.to_owned(),
            reason: "column missing from the header".to_owned(),
        })?;
    let mut codes = HashSet::new();
    for (n, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let code = line.split(',').nth(at).map(str::trim).unwrap_or_default();
        let valid = code.len() == 9
            && code.starts_with(['E', 'W'])
            && code[1..].bytes().all(|b| b.is_ascii_digit());
        if !valid {
            return Err(IngestError::Field {
                file,
                record: n + 2,
                field: column.to_owned(),
                reason: format!("{code:?} is not an LSOA code (E01/W01 and 7 digits)"),
            });
        }
        codes.insert(code.to_owned());
    }
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets(with21: bool) -> LsoaCodeSets {
        LsoaCodeSets::new(
            ["E01014540".to_owned(), "E01014541".to_owned()],
            with21.then(|| vec!["E01014540".to_owned(), "E01033361".to_owned()]),
        )
    }

    #[test]
    fn with_both_lists_membership_decides() {
        let s = sets(true);
        assert_eq!(s.classify(Some("E01014540"), None), LsoaVintage::Both);
        assert_eq!(s.classify(Some("E01014541"), None), LsoaVintage::Only2011);
        assert_eq!(s.classify(Some("E01033361"), None), LsoaVintage::Only2021);
        assert_eq!(
            s.classify(Some("E01099999"), Some("Bristol 001A")),
            LsoaVintage::Unknown
        );
        assert_eq!(s.classify(None, None), LsoaVintage::Unknown);
    }

    #[test]
    fn without_the_2021_list_a_new_code_in_the_area_is_2021_and_a_2011_code_stays_open() {
        let s = sets(false);
        assert_eq!(
            s.classify(Some("E01014540"), Some("Bristol 032B")),
            LsoaVintage::In2011
        );
        // Not a 2011 code, but named in Bristol: a code given in 2021.
        assert_eq!(
            s.classify(Some("E01033361"), Some("Bristol 061G")),
            LsoaVintage::Only2021
        );
        // Outside the four authorities nothing can be said.
        assert_eq!(
            s.classify(Some("E01035110"), Some("Mendip 007G")),
            LsoaVintage::Unknown
        );
        // The prefix is never used: a 2011-looking number is not assumed to be 2011.
        assert_eq!(
            s.classify(Some("E01014999"), Some("Leeds 004D")),
            LsoaVintage::Unknown
        );
    }

    #[test]
    fn all_is_in_discriminant_order() {
        assert!(
            LsoaVintage::ALL
                .iter()
                .enumerate()
                .all(|(i, v)| *v as usize == i)
        );
    }

    #[test]
    fn a_file_vintage_follows_the_codes_that_tell_vintages_apart() {
        let mut f = FileVintage::default();
        assert_eq!(f.decide(), "unknown");
        f.add(LsoaVintage::In2011);
        assert_eq!(f.decide(), "2011");
        f.add(LsoaVintage::Only2021);
        assert_eq!(f.decide(), "2021");
        f.add(LsoaVintage::Only2011);
        assert_eq!(f.decide(), "mixed");
    }

    #[test]
    fn the_shipped_2011_list_has_the_four_authorities() {
        let s = LsoaCodeSets::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata")).unwrap();
        assert_eq!(s.lsoa11.len(), 115 + 263 + 135 + 165);
        assert!(!s.has_2021());
    }

    #[test]
    fn a_malformed_list_names_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lsoa")).unwrap();
        std::fs::write(
            dir.path().join("lsoa/lsoa11.csv"),
            "LSOA11CD,LSOA11NM\nE01014540,a\nE0101,b\n",
        )
        .unwrap();
        let err = LsoaCodeSets::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("lsoa11.csv") && err.contains("record 3") && err.contains("LSOA11CD"),
            "{err}"
        );
        let missing = tempfile::tempdir().unwrap();
        assert!(LsoaCodeSets::load(missing.path()).is_err());
    }
}
