//! Resident baselines for the S22 monitor: residents aged 10–24 by authority and MSOA, one
//! characteristic at a time (docs/formats.md "Resident baselines").
//!
//! The file is CSV with exactly this header and one row per authority, MSOA, dimension and
//! group:
//!
//! ```text
//! authority,msoa,dimension,group,residents
//! E06000023,E02003012,ethnicity,black,412
//! E06000023,,sex,female,30211
//! ```
//!
//! `msoa` may be empty: the row is then the whole authority. Rows are summed over MSOAs into
//! authority totals; an MSOA's own `sex` rows give its total for the MSOA breakdown. An
//! optional sixth column, `decile`, gives an MSOA's deprivation decile: the loader then adds one
//! `deprivation_decile` row per such MSOA with its residents, so decile baselines are sums of
//! MSOAs, and a person with an MSOA but no decile takes the MSOA's ([`BaselineTotals::decile_of`]).
//! A bad row is refused with the file, line and field named; nothing is loaded from a file with
//! any bad row.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{AGE_BANDS, Dimension, Ethnicity, Sex};

/// The header line a baseline file must start with.
pub const HEADER: &str = "authority,msoa,dimension,group,residents";

/// The header of a baseline file whose MSOA rows carry the MSOA's deprivation decile.
pub const HEADER_WITH_DECILE: &str = "authority,msoa,dimension,group,residents,decile";

/// Errors of the baseline loader.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BaselineError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A line is not valid.
    #[error("{file}:{line}: field {field}: {reason}")]
    Field {
        /// The file.
        file: String,
        /// Line number, from 1.
        line: usize,
        /// The field at fault.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

/// One baseline row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineRow {
    /// Authority (ONS code).
    pub authority: String,
    /// MSOA code, or empty for the whole authority.
    pub msoa: String,
    /// The characteristic (never `authority`: that is the `authority` column).
    pub dimension: Dimension,
    /// The group's code within the dimension.
    pub group: String,
    /// Residents aged 10–24.
    pub residents: u64,
}

/// Checks a group code against its dimension's codes.
fn valid_group(dimension: Dimension, group: &str) -> Result<(), String> {
    let ok = match dimension {
        Dimension::Ethnicity => group
            .parse::<Ethnicity>()
            .is_ok_and(|e| e != Ethnicity::NotStated),
        Dimension::Sex => group.parse::<Sex>().is_ok_and(|s| s != Sex::NotStated),
        Dimension::AgeBand => AGE_BANDS.contains(&group),
        Dimension::DeprivationDecile => group.parse::<u8>().is_ok_and(|d| (1..=10).contains(&d)),
        Dimension::Authority => return Err("authority is a column, not a dimension".to_owned()),
        Dimension::Msoa => return Err("msoa is a column, not a dimension".to_owned()),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{group:?} is not a {dimension} group"))
    }
}

/// Parses baseline CSV `text`; `file` names it in errors.
///
/// With the optional `decile` column ([`HEADER_WITH_DECILE`]), an MSOA's rows may carry its
/// Index of Multiple Deprivation decile; one `deprivation_decile` row per such MSOA is then
/// added, holding the MSOA's residents (the sum of its `sex` rows). Such a file gives no
/// `deprivation_decile` rows of its own.
///
/// # Errors
///
/// [`BaselineError::Field`] naming the file, line and field of the first bad line: a wrong
/// header, a wrong number of fields, an unknown dimension or group, a negative or non-numeric
/// count, an empty authority, a row given twice, or a group given both for a whole authority
/// and by MSOA; with a `decile` column, a decile outside 1–10, a decile on a whole-authority
/// row, two deciles for one MSOA, an MSOA with a decile but no `sex` rows, or a
/// `deprivation_decile` row.
#[expect(
    clippy::too_many_lines,
    reason = "one validating pass over the baseline file whose checks share the per-authority and per-MSOA state"
)]
pub fn parse(text: &str, file: &str) -> Result<Vec<BaselineRow>, BaselineError> {
    let err = |line: usize, field: &'static str, reason: String| BaselineError::Field {
        file: file.to_owned(),
        line,
        field,
        reason,
    };
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let with_decile = match lines
        .next()
        .map(|(_, h)| h.trim_start_matches('\u{feff}').trim())
    {
        Some(HEADER) => false,
        Some(HEADER_WITH_DECILE) => true,
        _ => {
            return Err(err(
                1,
                "header",
                format!("the first line must be {HEADER:?} or {HEADER_WITH_DECILE:?}"),
            ));
        }
    };
    let mut rows = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut scope: BTreeMap<(&str, Dimension, &str), (bool, usize)> = BTreeMap::new();
    // (authority, MSOA) → (decile, the line that first gave it).
    let mut deciles: BTreeMap<(String, String), (u8, usize)> = BTreeMap::new();
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let (authority, msoa, dimension, group, residents, decile) =
            match (with_decile, &fields[..]) {
                (false, &[authority, msoa, dimension, group, residents]) => {
                    (authority, msoa, dimension, group, residents, "")
                }
                (true, &[authority, msoa, dimension, group, residents, decile]) => {
                    (authority, msoa, dimension, group, residents, decile)
                }
                _ => {
                    let (width, header) = if with_decile {
                        (6, HEADER_WITH_DECILE)
                    } else {
                        (5, HEADER)
                    };
                    return Err(err(
                        n,
                        "line",
                        format!("{} fields; expected {width} ({header})", fields.len()),
                    ));
                }
            };
        if authority.is_empty() {
            return Err(err(n, "authority", "empty".to_owned()));
        }
        let dimension: Dimension = dimension
            .parse()
            .map_err(|e: super::EqualityError| err(n, "dimension", e.to_string()))?;
        if with_decile && dimension == Dimension::DeprivationDecile {
            return Err(err(
                n,
                "dimension",
                "a file with a decile column gives no deprivation_decile rows: they are \
                 summed from the MSOA rows"
                    .to_owned(),
            ));
        }
        valid_group(dimension, group).map_err(|reason| err(n, "group", reason))?;
        let residents: u64 = residents
            .parse()
            .map_err(|e| err(n, "residents", format!("{residents:?}: {e}")))?;
        if !seen.insert((authority, msoa, dimension, group)) {
            return Err(err(n, "line", "this row was given before".to_owned()));
        }
        // Whole-authority (empty MSOA) or by MSOA, per authority, dimension and group.
        match scope.get(&(authority, dimension, group)) {
            Some(&(whole, at)) if whole != msoa.is_empty() => {
                return Err(err(
                    n,
                    "msoa",
                    format!(
                        "{authority} {dimension} {group} was given {} on line {at}; give it \
                         for the whole authority or by MSOA, not both (it would count twice)",
                        if whole {
                            "for the whole authority"
                        } else {
                            "by MSOA"
                        }
                    ),
                ));
            }
            Some(_) => {}
            None => {
                scope.insert((authority, dimension, group), (msoa.is_empty(), n));
            }
        }
        if !decile.is_empty() {
            let d = decile
                .parse::<u8>()
                .ok()
                .filter(|d| (1..=10).contains(d))
                .ok_or_else(|| err(n, "decile", format!("{decile:?} is not 1 to 10, or empty")))?;
            if msoa.is_empty() {
                return Err(err(
                    n,
                    "decile",
                    "a whole-authority row has no decile".to_owned(),
                ));
            }
            let key = (authority.to_owned(), msoa.to_owned());
            match deciles.get(&key) {
                Some(&(first, at)) if first != d => {
                    return Err(err(
                        n,
                        "decile",
                        format!("{msoa} was given decile {first} on line {at}, not {d}"),
                    ));
                }
                Some(_) => {}
                None => {
                    deciles.insert(key, (d, n));
                }
            }
        }
        rows.push(BaselineRow {
            authority: authority.to_owned(),
            msoa: msoa.to_owned(),
            dimension,
            group: group.to_owned(),
            residents,
        });
    }
    for ((authority, msoa), (decile, line)) in deciles {
        let sex_rows: Vec<u64> = rows
            .iter()
            .filter(|r| r.dimension == Dimension::Sex && r.authority == authority && r.msoa == msoa)
            .map(|r| r.residents)
            .collect();
        if sex_rows.is_empty() {
            return Err(err(
                line,
                "decile",
                format!("{msoa} has a decile but no sex rows to count its residents"),
            ));
        }
        rows.push(BaselineRow {
            authority,
            msoa,
            dimension: Dimension::DeprivationDecile,
            group: decile.to_string(),
            residents: sex_rows.iter().fold(0, |a, r| a.saturating_add(*r)),
        });
    }
    Ok(rows)
}

/// Loads a baseline file.
///
/// # Errors
///
/// [`BaselineError::Io`] when it cannot be read, [`BaselineError::Field`] for a bad line.
pub fn load(path: &Path) -> Result<Vec<BaselineRow>, BaselineError> {
    let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

/// Baseline totals: residents per (dimension, group) over all authorities, per
/// (authority, dimension, group), and per authority (from the `sex` rows, the dimension every
/// authority must give fully).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BaselineTotals {
    /// (dimension, group) → residents in every authority.
    pub by_group: BTreeMap<(Dimension, String), u64>,
    /// Authority → residents (summed over its `sex` rows).
    pub by_authority: BTreeMap<String, u64>,
    /// MSOA → residents (summed over its `sex` rows).
    pub by_msoa: BTreeMap<String, u64>,
    /// MSOA → its deprivation decile, from the MSOA's `deprivation_decile` rows; `None` when
    /// they give more than one.
    pub msoa_decile: BTreeMap<String, Option<u8>>,
}

impl BaselineTotals {
    /// The deprivation decile of `msoa`, when the baselines give it exactly one.
    pub fn decile_of(&self, msoa: &str) -> Option<u8> {
        self.msoa_decile.get(msoa).copied().flatten()
    }

    /// Sums `rows` over MSOAs and authorities.
    pub fn new(rows: &[BaselineRow]) -> Self {
        let mut t = Self::default();
        for r in rows {
            let g = t
                .by_group
                .entry((r.dimension, r.group.clone()))
                .or_default();
            *g = g.saturating_add(r.residents);
            if r.dimension == Dimension::Sex {
                let a = t.by_authority.entry(r.authority.clone()).or_default();
                *a = a.saturating_add(r.residents);
                if !r.msoa.is_empty() {
                    let m = t.by_msoa.entry(r.msoa.clone()).or_default();
                    *m = m.saturating_add(r.residents);
                }
            }
            if r.dimension == Dimension::DeprivationDecile && !r.msoa.is_empty() {
                let d = r.group.parse::<u8>().ok();
                t.msoa_decile
                    .entry(r.msoa.clone())
                    .and_modify(|known| {
                        if *known != d {
                            *known = None;
                        }
                    })
                    .or_insert(d);
            }
        }
        t
    }

    /// The baseline of one group: residents in it (for [`Dimension::Authority`], in that
    /// authority).
    pub fn residents(&self, dimension: Dimension, group: &str) -> u64 {
        match dimension {
            Dimension::Authority => self.by_authority.get(group).copied().unwrap_or(0),
            Dimension::Msoa => self.by_msoa.get(group).copied().unwrap_or(0),
            _ => self
                .by_group
                .get(&(dimension, group.to_owned()))
                .copied()
                .unwrap_or(0),
        }
    }

    /// The groups with a baseline in `dimension`.
    pub fn groups(&self, dimension: Dimension) -> Vec<String> {
        match dimension {
            Dimension::Authority => self.by_authority.keys().cloned().collect(),
            Dimension::Msoa => self.by_msoa.keys().cloned().collect(),
            _ => self
                .by_group
                .keys()
                .filter(|(d, _)| *d == dimension)
                .map(|(_, g)| g.clone())
                .collect(),
        }
    }
}

/// The rows as CSV text with [`HEADER`] (the format [`parse`] reads).
pub fn to_csv(rows: &[BaselineRow]) -> String {
    let mut s = String::from(HEADER);
    s.push('\n');
    for r in rows {
        let line = [
            r.authority.as_str(),
            r.msoa.as_str(),
            r.dimension.code(),
            r.group.as_str(),
            &r.residents.to_string(),
        ]
        .join(",");
        s.push_str(&line);
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "authority,msoa,dimension,group,residents\n\
        E06000023,E02003012,ethnicity,black,412\n\
        E06000023,E02003013,ethnicity,black,100\n\
        E06000023,,ethnicity,white,9000\n\
        E06000023,,sex,female,5000\n\
        E06000023,,sex,male,5100\n\
        E06000024,,sex,male,700\n\
        E06000024,,deprivation_decile,3,20\n\
        E06000024,,age_band,18-24,300\n";

    #[test]
    fn rows_sum_over_msoas_and_authorities() {
        let rows = parse(GOOD, "b.csv").unwrap();
        assert_eq!(rows.len(), 8);
        let t = BaselineTotals::new(&rows);
        assert_eq!(t.residents(Dimension::Ethnicity, "black"), 512);
        assert_eq!(t.residents(Dimension::Sex, "male"), 5800);
        assert_eq!(t.residents(Dimension::Authority, "E06000023"), 10_100);
        assert_eq!(t.residents(Dimension::Authority, "E06000024"), 700);
        assert_eq!(t.residents(Dimension::Ethnicity, "asian"), 0);
        assert_eq!(t.groups(Dimension::Ethnicity), vec!["black", "white"]);
        assert_eq!(parse(&to_csv(&rows), "again").unwrap(), rows);
    }

    /// MSOA rows with a `decile` column: the decile baselines are the MSOAs' residents.
    const WITH_DECILES: &str = "authority,msoa,dimension,group,residents,decile\n\
        A1,E02000001,sex,female,60,1\n\
        A1,E02000001,sex,male,40,1\n\
        A1,E02000001,ethnicity,black,30,\n\
        A1,E02000002,sex,female,100,10\n\
        A1,E02000002,sex,male,100,\n\
        A1,E02000003,sex,male,50,1\n\
        A1,,age_band,10-17,150,\n";

    #[test]
    fn a_decile_column_gives_decile_baselines_summed_from_msoa_rows() {
        let rows = parse(WITH_DECILES, "d.csv").unwrap();
        assert_eq!(
            rows.len(),
            10,
            "7 rows and one decile row per MSOA: {rows:#?}"
        );
        let t = BaselineTotals::new(&rows);
        assert_eq!(t.residents(Dimension::DeprivationDecile, "1"), 150);
        assert_eq!(t.residents(Dimension::DeprivationDecile, "10"), 200);
        assert_eq!(t.groups(Dimension::DeprivationDecile), vec!["1", "10"]);
        assert_eq!(t.residents(Dimension::Msoa, "E02000001"), 100);
        assert_eq!(t.residents(Dimension::Msoa, "E02000002"), 200);
        assert_eq!(
            t.groups(Dimension::Msoa),
            vec!["E02000001", "E02000002", "E02000003"]
        );
        assert_eq!(t.residents(Dimension::Authority, "A1"), 350);
        assert_eq!(t.decile_of("E02000001"), Some(1));
        assert_eq!(t.decile_of("E02000002"), Some(10));
        assert_eq!(t.decile_of("E02000009"), None);
        // Written back, the derived rows are ordinary decile rows of the old format.
        assert_eq!(parse(&to_csv(&rows), "again").unwrap(), rows);
        // The old format (no decile column) still loads, with no MSOA decile lookup when an
        // MSOA has rows in two deciles.
        let old = parse(
            "authority,msoa,dimension,group,residents\n\
             A1,E02000001,deprivation_decile,1,5\n\
             A1,E02000001,deprivation_decile,2,7\n\
             A1,E02000002,deprivation_decile,4,9\n",
            "old.csv",
        )
        .unwrap();
        let t = BaselineTotals::new(&old);
        assert_eq!(t.decile_of("E02000001"), None);
        assert_eq!(t.decile_of("E02000002"), Some(4));
    }

    #[test]
    fn bad_decile_columns_name_file_line_and_field() {
        let h = "authority,msoa,dimension,group,residents,decile\n";
        let cases = [
            (format!("{h}A1,E02000001,sex,male,3\n"), 2, "line"),
            (format!("{h}A1,E02000001,sex,male,3,0\n"), 2, "decile"),
            (format!("{h}A1,E02000001,sex,male,3,x\n"), 2, "decile"),
            (format!("{h}A1,,sex,male,3,4\n"), 2, "decile"),
            (
                format!("{h}A1,E02000001,sex,male,3,4\nA1,E02000001,sex,female,3,5\n"),
                3,
                "decile",
            ),
            (
                format!("{h}A1,E02000001,deprivation_decile,4,3,4\n"),
                2,
                "dimension",
            ),
            (
                format!("{h}A1,E02000001,ethnicity,black,3,4\n"),
                2,
                "decile",
            ),
            (
                "authority,msoa,dimension,group,residents\nE1,,msoa,E02000001,1\n".to_owned(),
                2,
                "group",
            ),
        ];
        for (text, want_line, want_field) in cases {
            match parse(&text, "x.csv") {
                Err(BaselineError::Field {
                    file, line, field, ..
                }) => {
                    assert_eq!(
                        (file.as_str(), line, field),
                        ("x.csv", want_line, want_field),
                        "{text}"
                    );
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn bad_lines_name_file_line_and_field() {
        let cases = [
            ("authority,msoa,dim,group,residents\n", 1, "header"),
            ("", 1, "header"),
            (
                "authority,msoa,dimension,group,residents\nE1,,ethnicity,black\n",
                2,
                "line",
            ),
            (
                "authority,msoa,dimension,group,residents\nE1,,race,black,1\n",
                2,
                "dimension",
            ),
            (
                "authority,msoa,dimension,group,residents\nE1,,ethnicity,Black,1\n",
                2,
                "group",
            ),
            (
                "authority,msoa,dimension,group,residents\nE1,,ethnicity,not_stated,1\n",
                2,
                "group",
            ),
            (
                "authority,msoa,dimension,group,residents\nE1,,deprivation_decile,11,1\n",
                2,
                "group",
            ),
            (
                "authority,msoa,dimension,group,residents\nE1,,authority,E1,1\n",
                2,
                "group",
            ),
            (
                "authority,msoa,dimension,group,residents\n\nE1,,sex,male,-3\n",
                3,
                "residents",
            ),
            (
                "authority,msoa,dimension,group,residents\n,,sex,male,3\n",
                2,
                "authority",
            ),
            (
                "authority,msoa,dimension,group,residents\nE1,,sex,male,3\nE1,,sex,male,4\n",
                3,
                "line",
            ),
            // A group given both for the whole authority and by MSOA would count twice.
            (
                "authority,msoa,dimension,group,residents\nE1,,sex,male,3\nE1,E02000001,sex,male,2\n",
                3,
                "msoa",
            ),
            (
                "authority,msoa,dimension,group,residents\nE1,E02000001,sex,male,2\nE1,E02000002,sex,male,2\nE1,,sex,male,3\n",
                4,
                "msoa",
            ),
        ];
        for (text, want_line, want_field) in cases {
            match parse(text, "x.csv") {
                Err(BaselineError::Field {
                    file, line, field, ..
                }) => {
                    assert_eq!(
                        (file.as_str(), line, field),
                        ("x.csv", want_line, want_field),
                        "{text}"
                    );
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        let e = load(Path::new("/nonexistent/baselines.csv")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/baselines.csv"), "{e}");
    }
}
