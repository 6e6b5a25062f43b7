//! MSOAs for the synthetic equality data of the demo (S22 baselines "by authority and MSOA").
//!
//! The codes and names are real: `geodata/msoa/msoa11.csv` lists the 140 Middle Layer Super
//! Output Areas (2011) of the four authorities with their authority (see `geodata/SOURCES.md`).
//! Everything attached to them here is **synthetic**: each MSOA's residents aged 10–24 (the
//! authority's synthetic youth population split over its MSOAs, so they sum to it exactly) and
//! its deprivation decile (not the Index of Multiple Deprivation). Both are drawn from stream
//! [`MSOA_STREAM`], and people's MSOAs from stream [`MSOA_PEOPLE_STREAM`], so adding them moves
//! no draw of the rest of the demo (the equality attributes keep stream 22's values).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::rng::{Rng, WeightedIndex};
use crate::safeguards::equality::PersonEquality;

/// The stream of the MSOAs' synthetic residents and deciles.
pub const MSOA_STREAM: u64 = 23;

/// The stream of people's MSOAs.
pub const MSOA_PEOPLE_STREAM: u64 = 24;

/// The code list inside the geodata directory.
pub const FILE: &str = "msoa/msoa11.csv";

/// The code list's header.
pub const HEADER: &str = "MSOA11CD,MSOA11NM,LAD11CD";

/// Errors of the MSOA code list.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MsoaError {
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

/// One MSOA of the code list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsoaCode {
    /// ONS code (`E02…`).
    pub code: String,
    /// ONS name, e.g. `Bristol 001`.
    pub name: String,
    /// The authority it lies in (ONS code).
    pub authority: String,
}

/// An MSOA of the demo with its synthetic figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticMsoa {
    /// ONS code.
    pub code: String,
    /// Authority (ONS code).
    pub authority: String,
    /// Synthetic residents aged 10–24.
    pub residents: u64,
    /// Synthetic deprivation decile (1 most deprived .. 10).
    pub decile: u8,
}

/// True for a nine-character ONS code with `prefix` (`E02`, or `E0` for an authority).
fn ons_code(code: &str, prefix: &str) -> bool {
    code.len() == 9 && code.starts_with(prefix) && code.bytes().skip(1).all(|b| b.is_ascii_digit())
}

/// Parses the code list `text`; `file` names it in errors.
///
/// # Errors
///
/// [`MsoaError::Field`] naming the line and field: a wrong header, a wrong number of fields,
/// a code that is not an MSOA code, an empty name, an authority that is not an ONS code, or an
/// MSOA listed twice.
pub fn parse(text: &str, file: &str) -> Result<Vec<MsoaCode>, MsoaError> {
    let err = |line: usize, field: &'static str, reason: String| MsoaError::Field {
        file: file.to_owned(),
        line,
        field,
        reason,
    };
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    if lines
        .next()
        .map(|(_, h)| h.trim_start_matches('\u{feff}').trim())
        != Some(HEADER)
    {
        return Err(err(
            1,
            "header",
            format!("the first line must be {HEADER:?}"),
        ));
    }
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let &[code, name, authority] = &fields[..] else {
            return Err(err(
                n,
                "line",
                format!("{} fields; expected 3 ({HEADER})", fields.len()),
            ));
        };
        if !ons_code(code, "E02") {
            return Err(err(n, "MSOA11CD", format!("{code:?} is not an MSOA code")));
        }
        if name.is_empty() {
            return Err(err(n, "MSOA11NM", "empty".to_owned()));
        }
        if !ons_code(authority, "E0") {
            return Err(err(
                n,
                "LAD11CD",
                format!("{authority:?} is not an authority code"),
            ));
        }
        if !seen.insert(code) {
            return Err(err(n, "MSOA11CD", format!("{code} is listed twice")));
        }
        out.push(MsoaCode {
            code: code.to_owned(),
            name: name.to_owned(),
            authority: authority.to_owned(),
        });
    }
    Ok(out)
}

/// Loads [`FILE`] from `geodata_dir`.
///
/// # Errors
///
/// [`MsoaError::Io`] when it cannot be read, [`MsoaError::Field`] for a bad line.
pub fn load(geodata_dir: &Path) -> Result<Vec<MsoaCode>, MsoaError> {
    let path = geodata_dir.join(FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| MsoaError::Io {
        path: path.clone(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

/// Splits `total` in proportion to `weights` by largest remainder, so the parts sum to
/// `total` exactly (all zero when no weight is positive).
fn apportion(total: u64, weights: &[f64]) -> Vec<u64> {
    let sum: f64 = weights.iter().filter(|w| w.is_finite() && **w > 0.0).sum();
    if sum <= 0.0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<f64> = weights
        .iter()
        .map(|w| {
            if w.is_finite() && *w > 0.0 {
                total as f64 * w / sum
            } else {
                0.0
            }
        })
        .collect();
    let mut parts: Vec<u64> = exact.iter().map(|x| x.floor() as u64).collect();
    let given: u64 = parts.iter().sum();
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by(|&a, &b| {
        let fa = exact[a] - parts[a] as f64;
        let fb = exact[b] - parts[b] as f64;
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    for &i in order
        .iter()
        .cycle()
        .take(usize::try_from(total.saturating_sub(given)).unwrap_or(0))
    {
        parts[i] += 1;
    }
    parts
}

/// The demo's MSOAs with synthetic figures, for the `authorities` (code, residents 10–24) that
/// have MSOAs in `codes`; in the order of `authorities`, then of `codes`.
///
/// Within an authority the MSOAs are shuffled and given deciles 1 to 10 in equal runs (so an
/// authority of ten or more MSOAs has every decile), and its residents are split over them by
/// a random weight (0.7–1.3) that is larger in more deprived MSOAs (young people are more
/// numerous there), summing exactly to the authority's.
pub fn synthetic_msoas(
    seed: u64,
    authorities: &[(String, u32)],
    codes: &[MsoaCode],
) -> Vec<SyntheticMsoa> {
    let mut rng = Rng::stream(seed, MSOA_STREAM);
    let mut out = Vec::new();
    for (authority, youth) in authorities {
        let mine: Vec<&MsoaCode> = codes.iter().filter(|m| &m.authority == authority).collect();
        if mine.is_empty() {
            continue;
        }
        let n = mine.len();
        let mut order: Vec<usize> = (0..n).collect();
        rng.shuffle(&mut order);
        let mut deciles = vec![10u8; n];
        for (rank, &i) in order.iter().enumerate() {
            deciles[i] = u8::try_from(rank * 10 / n + 1).unwrap_or(10);
        }
        let weights: Vec<f64> = deciles
            .iter()
            .map(|d| rng.range_f64(0.7, 1.3) * (1.25 - 0.05 * f64::from(*d)))
            .collect();
        let residents = apportion(u64::from(*youth), &weights);
        for ((m, decile), residents) in mine.iter().zip(deciles).zip(residents) {
            out.push(SyntheticMsoa {
                code: m.code.clone(),
                authority: authority.clone(),
                residents,
                decile,
            });
        }
    }
    out
}

/// Gives every person with an authority an MSOA of that authority, drawn from stream
/// [`MSOA_PEOPLE_STREAM`] of `seed` in proportion to residents among the authority's MSOAs of
/// the person's deprivation decile (among all its MSOAs when none has it), so a person's MSOA
/// agrees with their authority and decile. People with no authority, or an authority with no
/// MSOA, keep none.
pub fn assign_msoas(seed: u64, people: &mut [PersonEquality], msoas: &[SyntheticMsoa]) {
    let mut rng = Rng::stream(seed, MSOA_PEOPLE_STREAM);
    for p in people {
        let Some(authority) = p.authority.as_deref() else {
            continue;
        };
        let in_authority: Vec<&SyntheticMsoa> =
            msoas.iter().filter(|m| m.authority == authority).collect();
        let same_decile: Vec<&SyntheticMsoa> = in_authority
            .iter()
            .copied()
            .filter(|m| Some(m.decile) == p.deprivation_decile)
            .collect();
        let candidates = if same_decile.is_empty() {
            in_authority
        } else {
            same_decile
        };
        let weights = WeightedIndex::new(candidates.iter().map(|m| m.residents as f64));
        if let Some(w) = weights {
            p.msoa = candidates.get(w.sample(&mut rng)).map(|m| m.code.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safeguards::equality::{Ethnicity, Sex};

    fn geodata() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata")
    }

    #[test]
    fn the_repository_lists_every_msoa_of_the_four_authorities() {
        let codes = load(&geodata()).unwrap();
        let count = |a: &str| codes.iter().filter(|m| m.authority == a).count();
        assert_eq!(
            [
                count("E06000022"),
                count("E06000023"),
                count("E06000024"),
                count("E06000025")
            ],
            [27, 55, 26, 32]
        );
        assert!(
            codes
                .iter()
                .any(|m| m.code == "E02003012" && m.name == "Bristol 001")
        );
    }

    #[test]
    fn bad_lines_name_file_line_and_field() {
        let h = "MSOA11CD,MSOA11NM,LAD11CD\n";
        let cases = [
            ("MSOA,NAME,LAD\n".to_owned(), 1, "header"),
            (format!("{h}E02003012,Bristol 001\n"), 2, "line"),
            (
                format!("{h}E01003012,Bristol 001,E06000023\n"),
                2,
                "MSOA11CD",
            ),
            (format!("{h}E02003012,,E06000023\n"), 2, "MSOA11NM"),
            (format!("{h}E02003012,Bristol 001,Bristol\n"), 2, "LAD11CD"),
            (
                format!("{h}E02003012,Bristol 001,E06000023\n\nE02003012,Bristol 001,E06000023\n"),
                4,
                "MSOA11CD",
            ),
        ];
        for (text, want_line, want_field) in cases {
            match parse(&text, "m.csv") {
                Err(MsoaError::Field {
                    file, line, field, ..
                }) => assert_eq!(
                    (file.as_str(), line, field),
                    ("m.csv", want_line, want_field),
                    "{text}"
                ),
                other => panic!("{text}: {other:?}"),
            }
        }
        let e = load(Path::new("/nonexistent")).unwrap_err();
        assert!(
            e.to_string().contains("/nonexistent/msoa/msoa11.csv"),
            "{e}"
        );
    }

    #[test]
    fn residents_sum_to_the_authority_and_every_decile_is_used() {
        let codes = load(&geodata()).unwrap();
        let auths = vec![
            ("E06000023".to_owned(), 81_234),
            ("E06000024".to_owned(), 30_001),
            ("E09000001".to_owned(), 500),
        ];
        let m = synthetic_msoas(5, &auths, &codes);
        assert_eq!(m, synthetic_msoas(5, &auths, &codes));
        assert_ne!(m, synthetic_msoas(6, &auths, &codes));
        assert_eq!(m.len(), 55 + 26, "no MSOA for an authority not listed");
        for (a, youth) in &auths[..2] {
            let mine: Vec<&SyntheticMsoa> = m.iter().filter(|x| &x.authority == a).collect();
            assert_eq!(
                mine.iter().map(|x| x.residents).sum::<u64>(),
                u64::from(*youth)
            );
            assert!(mine.iter().all(|x| x.residents > 300), "{mine:?}");
            let deciles: BTreeSet<u8> = mine.iter().map(|x| x.decile).collect();
            assert_eq!(deciles, (1..=10).collect());
        }
        assert_eq!(apportion(10, &[1.0, 1.0, 1.0]), vec![4, 3, 3]);
        assert_eq!(apportion(7, &[0.0, f64::NAN]), vec![0, 0]);
    }

    #[test]
    fn people_get_an_msoa_of_their_authority_and_decile() {
        let codes = load(&geodata()).unwrap();
        let auths = vec![("E06000023".to_owned(), 80_000)];
        let msoas = synthetic_msoas(5, &auths, &codes);
        let person = |i: u32, authority: Option<&str>, decile: Option<u8>| PersonEquality {
            person: format!("P{i:08}").parse().unwrap(),
            ethnicity: Ethnicity::White,
            sex: Sex::Male,
            deprivation_decile: decile,
            authority: authority.map(str::to_owned),
            msoa: None,
        };
        let mut people: Vec<PersonEquality> = (1..=300)
            .map(|i| person(i, Some("E06000023"), u8::try_from(i % 10 + 1).ok()))
            .collect();
        people.push(person(301, None, Some(3)));
        people.push(person(302, Some("E06000024"), Some(3)));
        people.push(person(303, Some("E06000023"), None));
        let before = people.clone();
        let mut again = people.clone();
        assign_msoas(5, &mut people, &msoas);
        assign_msoas(5, &mut again, &msoas);
        assert_eq!(people, again);
        // Only the MSOA is drawn: every other attribute keeps its value.
        let without_msoa: Vec<PersonEquality> = people
            .iter()
            .cloned()
            .map(|p| PersonEquality { msoa: None, ..p })
            .collect();
        assert_eq!(without_msoa, before);
        for p in &people[..300] {
            let m = msoas
                .iter()
                .find(|m| Some(&m.code) == p.msoa.as_ref())
                .unwrap();
            assert_eq!(
                (m.authority.as_str(), Some(m.decile)),
                ("E06000023", p.deprivation_decile)
            );
        }
        assert_eq!(
            (people[300].msoa.as_ref(), people[301].msoa.as_ref()),
            (None, None)
        );
        assert!(
            people[302].msoa.is_some(),
            "no decile: any MSOA of the authority"
        );
        let distinct: BTreeSet<&String> = people.iter().filter_map(|p| p.msoa.as_ref()).collect();
        assert!(distinct.len() > 30, "{}", distinct.len());
    }
}
