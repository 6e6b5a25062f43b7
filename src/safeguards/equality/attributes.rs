//! `saferplaces equality import-attributes FILE`: the equality attributes of stored people from
//! a CSV file (docs/formats.md "Equality attributes"), the real-data counterpart of the
//! synthetic demo's [`crate::synthetic::equality::people_equality`].
//!
//! The file is CSV with exactly this header and one row per person:
//!
//! ```text
//! person_id,ethnicity,sex,deprivation_decile,authority,msoa
//! P00000001,black,female,2,E06000023,E02003012
//! P00000002,not_stated,male,,E06000024,
//! ```
//!
//! The codes are those of [`Ethnicity`] and [`Sex`]; the decile, authority and MSOA may be
//! empty. The whole file is one transaction: a bad row, a person given twice or a person who
//! is not stored is refused naming the file, line and field, and nothing from the file is
//! stored. Each import is audited as a `collection` (a refusal as a `deny`) with counts only:
//! no attribute value is written to the log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use super::{Ethnicity, PersonEquality, Sex};
use crate::domain::{PersonRef, PurposeCode, Role};
use crate::safeguards::audit::{AuditError, AuditEvent, AuditEventType, AuditLog, Decision};
use crate::safeguards::policy::POLICY_VERSION;
use crate::store::{SqliteStore, StoreError};

/// The header line an attributes file must start with.
pub const HEADER: &str = "person_id,ethnicity,sex,deprivation_decile,authority,msoa";

/// Errors of the attributes import.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttributesError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A line is not valid, or names a person who is not stored.
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
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit log failed.
    #[error(transparent)]
    Audit(#[from] AuditError),
}

impl AttributesError {
    /// The audit deny reason of a refusal: which check failed, never the value.
    fn deny_reason(&self) -> String {
        match self {
            Self::Io { .. } => "UNREADABLE_FILE".to_owned(),
            Self::Field { line, field, .. } => format!("INVALID_FIELD {field} at line {line}"),
            Self::Store(_) | Self::Audit(_) => "STORE_FAILURE".to_owned(),
        }
    }
}

/// One parsed row and the line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeRow {
    /// Line number, from 1.
    pub line: usize,
    /// The attributes.
    pub attributes: PersonEquality,
}

/// True for an ONS area code of the shape `E06000023`: one capital letter and eight digits.
fn ons_code(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && s.len() == 9
        && chars.all(|c| c.is_ascii_digit())
}

/// Parses attributes CSV `text`; `file` names it in errors.
///
/// # Errors
///
/// [`AttributesError::Field`] naming the file, line and field of the first bad line: a wrong
/// header, a wrong number of fields, a person id that is not one, an unknown ethnicity or sex
/// code, a decile outside 1–10, an authority or MSOA that is not an ONS code, or a person
/// given twice.
pub fn parse(text: &str, file: &str) -> Result<Vec<AttributeRow>, AttributesError> {
    let err = |line: usize, field: &'static str, reason: String| AttributesError::Field {
        file: file.to_owned(),
        line,
        field,
        reason,
    };
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    match lines.next() {
        Some((_, h)) if h.trim_start_matches('\u{feff}').trim() == HEADER => {}
        _ => {
            return Err(err(
                1,
                "header",
                format!("the first line must be {HEADER:?}"),
            ));
        }
    }
    let mut rows = Vec::new();
    let mut seen: BTreeMap<PersonRef, usize> = BTreeMap::new();
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let [person, ethnicity, sex, decile, authority, msoa] = fields[..] else {
            return Err(err(
                n,
                "line",
                format!("{} fields; expected 6 ({HEADER})", fields.len()),
            ));
        };
        let person: PersonRef = person
            .parse()
            .map_err(|e| err(n, "person_id", format!("{e}")))?;
        let ethnicity: Ethnicity = ethnicity
            .parse()
            .map_err(|e: super::EqualityError| err(n, "ethnicity", e.to_string()))?;
        let sex: Sex = sex
            .parse()
            .map_err(|e: super::EqualityError| err(n, "sex", e.to_string()))?;
        let deprivation_decile = if decile.is_empty() {
            None
        } else {
            Some(
                decile
                    .parse::<u8>()
                    .ok()
                    .filter(|d| (1..=10).contains(d))
                    .ok_or_else(|| {
                        err(
                            n,
                            "deprivation_decile",
                            format!("{decile:?} is not a decile 1 to 10, or empty"),
                        )
                    })?,
            )
        };
        let area = |value: &str, field: &'static str| {
            if value.is_empty() {
                Ok(None)
            } else if ons_code(value) {
                Ok(Some(value.to_owned()))
            } else {
                Err(err(
                    n,
                    field,
                    format!("{value:?} is not an ONS code like E06000023, or empty"),
                ))
            }
        };
        let authority = area(authority, "authority")?;
        let msoa = area(msoa, "msoa")?;
        if let Some(first) = seen.insert(person.clone(), n) {
            return Err(err(
                n,
                "person_id",
                format!("this person was given before, on line {first}"),
            ));
        }
        rows.push(AttributeRow {
            line: n,
            attributes: PersonEquality {
                person,
                ethnicity,
                sex,
                deprivation_decile,
                authority,
                msoa,
            },
        });
    }
    Ok(rows)
}

/// What an import stored: counts only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// The file.
    pub file: String,
    /// People whose attributes were stored (new or replaced).
    pub people: u64,
    /// Of them, with a deprivation decile.
    pub with_decile: u64,
    /// With an authority.
    pub with_authority: u64,
    /// With an MSOA.
    pub with_msoa: u64,
}

fn event(decision: Decision, actor: &str, file: &str) -> AuditEvent {
    let mut e = AuditEvent::new(
        AuditEventType::Collection,
        Role::EqualityMonitor.code(),
        decision,
    );
    e.actor_user_id = Some(actor.to_owned());
    e.client = Some("cli".to_owned());
    e.purpose_code = Some(PurposeCode::EqualityMonitoring.code().to_owned());
    POLICY_VERSION.clone_into(&mut e.policy_version);
    e.query = json!({"command": "equality import-attributes", "file": file});
    e
}

/// Parses and stores `text` (read from `file`).
fn store_rows(
    store: &mut SqliteStore,
    text: &str,
    file: &str,
) -> Result<ImportReport, AttributesError> {
    let rows = parse(text, file)?;
    let attributes: Vec<PersonEquality> = rows.iter().map(|r| r.attributes.clone()).collect();
    match store.write_person_equality(&attributes) {
        Ok(_) => {}
        Err(StoreError::NotFound {
            what: "person",
            key,
        }) => {
            let line = rows
                .iter()
                .find(|r| r.attributes.person.as_str() == key)
                .map_or(0, |r| r.line);
            return Err(AttributesError::Field {
                file: file.to_owned(),
                line,
                field: "person_id",
                reason: format!("no person {key} is stored"),
            });
        }
        Err(e) => return Err(e.into()),
    }
    let count = |f: fn(&PersonEquality) -> bool| attributes.iter().filter(|a| f(a)).count() as u64;
    Ok(ImportReport {
        file: file.to_owned(),
        people: attributes.len() as u64,
        with_decile: count(|a| a.deprivation_decile.is_some()),
        with_authority: count(|a| a.authority.is_some()),
        with_msoa: count(|a| a.msoa.is_some()),
    })
}

/// Imports the attributes file at `path` as `actor` (module docs), auditing the import or its
/// refusal with counts only.
///
/// # Errors
///
/// [`AttributesError::Io`] when the file cannot be read, [`AttributesError::Field`] for a bad
/// line or a person who is not stored (nothing is stored then), or a store or log failure.
pub fn import(
    store: &mut SqliteStore,
    audit: &AuditLog,
    path: &Path,
    actor: &str,
) -> Result<ImportReport, AttributesError> {
    let file = path.display().to_string();
    let result = std::fs::read_to_string(path)
        .map_err(|source| AttributesError::Io {
            path: path.to_path_buf(),
            source,
        })
        .and_then(|text| store_rows(store, &text, &file));
    match result {
        Ok(report) => {
            let mut e = event(Decision::Allow, actor, &file);
            e.query["people"] = json!(report.people);
            e.query["with_decile"] = json!(report.with_decile);
            e.query["with_authority"] = json!(report.with_authority);
            e.query["with_msoa"] = json!(report.with_msoa);
            e.record_count = report.people;
            audit.append(e)?;
            Ok(report)
        }
        Err(err) => {
            let mut e = event(Decision::Deny, actor, &file);
            e.deny_reason = Some(err.deny_reason());
            audit.append(e)?;
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "person_id,ethnicity,sex,deprivation_decile,authority,msoa\n\
        P00000001,black,female,2,E06000023,E02003012\n\
        \n\
        P00000002,not_stated,male,,E06000024,\n\
        P00000003,white,not_stated,10,,\n";

    #[test]
    fn rows_parse_with_their_lines_and_empty_optional_fields() {
        let rows = parse(GOOD, "a.csv").unwrap();
        assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 4, 5]);
        assert_eq!(
            rows[0].attributes,
            PersonEquality {
                person: "P00000001".parse().unwrap(),
                ethnicity: Ethnicity::Black,
                sex: Sex::Female,
                deprivation_decile: Some(2),
                authority: Some("E06000023".to_owned()),
                msoa: Some("E02003012".to_owned()),
            }
        );
        assert_eq!(rows[1].attributes.deprivation_decile, None);
        assert_eq!(rows[1].attributes.msoa, None);
        assert_eq!(rows[2].attributes.authority, None);
        assert_eq!(rows[2].attributes.sex, Sex::NotStated);
    }

    #[test]
    fn bad_lines_name_file_line_and_field() {
        let h = format!("{HEADER}\n");
        let cases = [
            (
                "person,ethnicity,sex,deprivation_decile,authority,msoa\n".to_owned(),
                1,
                "header",
            ),
            (String::new(), 1, "header"),
            (
                format!("{h}P00000001,black,female,2,E06000023\n"),
                2,
                "line",
            ),
            (
                format!("{h}someone,black,female,2,E06000023,\n"),
                2,
                "person_id",
            ),
            (
                format!("{h}P00000001,Black,female,2,E06000023,\n"),
                2,
                "ethnicity",
            ),
            (format!("{h}P00000001,black,woman,2,E06000023,\n"), 2, "sex"),
            (
                format!("{h}P00000001,black,female,0,E06000023,\n"),
                2,
                "deprivation_decile",
            ),
            (
                format!("{h}P00000001,black,female,11,,\n"),
                2,
                "deprivation_decile",
            ),
            (
                format!("{h}P00000001,black,female,x,,\n"),
                2,
                "deprivation_decile",
            ),
            (
                format!("{h}P00000001,black,female,,Bristol,\n"),
                2,
                "authority",
            ),
            (format!("{h}P00000001,black,female,,,E0200301\n"), 2, "msoa"),
            (
                format!("{h}P00000001,black,female,,,\n\nP00000001,white,male,,,\n"),
                4,
                "person_id",
            ),
        ];
        for (text, want_line, want_field) in cases {
            match parse(&text, "x.csv") {
                Err(AttributesError::Field {
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
    fn a_person_who_is_not_stored_is_named_by_line_and_nothing_is_stored() {
        use crate::domain::{Agency, Dataset, Day, Person, SubjectCategory};
        use crate::store::Store as _;
        let mut store = SqliteStore::open_in_memory().unwrap();
        let person = |id: &str| {
            Person::new(
                id.parse().unwrap(),
                2010,
                vec![SubjectCategory::Victim],
                "synthetic-police".parse::<Agency>().unwrap(),
                Day::from_ymd(2027, 1, 1).unwrap(),
            )
            .unwrap()
        };
        let data = Dataset {
            people: vec![person("P00000001"), person("P00000002")],
            ..Dataset::default()
        };
        store.write_unchecked(&data).unwrap();
        let text =
            format!("{HEADER}\nP00000001,black,female,2,E06000023,\nP00000009,white,male,,,\n");
        match store_rows(&mut store, &text, "y.csv") {
            Err(AttributesError::Field {
                line: 3,
                field: "person_id",
                reason,
                ..
            }) => assert!(reason.contains("P00000009"), "{reason}"),
            other => panic!("{other:?}"),
        }
        assert!(store.person_equality().unwrap().is_empty());
        let r = store_rows(&mut store, GOOD.split("P00000003").next().unwrap(), "z.csv").unwrap();
        assert_eq!(
            (r.people, r.with_decile, r.with_authority, r.with_msoa),
            (2, 1, 2, 1)
        );
        assert_eq!(store.person_equality().unwrap().len(), 2);
    }
}
