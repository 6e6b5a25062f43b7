//! ONS-style boundary GeoJSON (formats.md §5): any vintage, property names found by pattern.
//!
//! The code property is the one whose name matches `<letters><2 digits>CD` case-insensitively
//! (`LSOA11CD`, `wd13cd`, `LAD24CD`), else `CODE`; the name property likewise `..NM` (not the
//! Welsh `..NMW`), else `NAME`. Callers may name the fields explicitly instead.

use std::path::Path;

use crate::domain::{Boundary, BoundaryCode, SchemeName};

use super::report::{Parsed, Rejection};
use super::{IngestError, IngestResult};

/// How to read a boundary file.
#[derive(Debug, Clone)]
pub struct BoundaryFileOptions {
    /// Scheme the boundaries belong to.
    pub scheme: SchemeName,
    /// Property holding the code; found by pattern when `None`.
    pub code_field: Option<String>,
    /// Property holding the name; found by pattern when `None`.
    pub name_field: Option<String>,
}

impl BoundaryFileOptions {
    /// Options that find the code and name fields by pattern.
    pub fn for_scheme(scheme: SchemeName) -> Self {
        Self {
            scheme,
            code_field: None,
            name_field: None,
        }
    }
}

/// Reads a boundary GeoJSON file.
pub fn read_boundary_file(path: &Path, opts: &BoundaryFileOptions) -> IngestResult<Vec<Boundary>> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| IngestError::Io {
        file: file.clone(),
        source,
    })?;
    parse_boundaries(&text, &file, opts)
}

fn is_code_key(k: &str, suffix: &str) -> bool {
    // Compared as bytes: a key ending in a multi-byte character has no `str` slice there.
    let b = k.as_bytes();
    let n = b.len();
    if n < 5 || !b[n - 2..].eq_ignore_ascii_case(suffix.as_bytes()) {
        return false;
    }
    let (stem, digits) = (&b[..n - 4], &b[n - 4..n - 2]);
    !stem.is_empty()
        && stem.iter().all(u8::is_ascii_alphabetic)
        && digits.iter().all(u8::is_ascii_digit)
}

fn find_key<'a>(
    props: &'a serde_json::Map<String, serde_json::Value>,
    explicit: Option<&str>,
    suffix: &str,
    fallback: &str,
) -> Option<&'a str> {
    if let Some(want) = explicit {
        return props
            .keys()
            .find(|k| k.eq_ignore_ascii_case(want))
            .map(String::as_str);
    }
    props
        .keys()
        .find(|k| is_code_key(k, suffix))
        .or_else(|| props.keys().find(|k| k.eq_ignore_ascii_case(fallback)))
        .map(String::as_str)
}

/// Parses a GeoJSON `FeatureCollection` of `(Multi)Polygon`s into boundaries of `opts.scheme`,
/// stopping at the first bad feature. `file` is used in error messages only.
pub fn parse_boundaries(
    text: &str,
    file: &str,
    opts: &BoundaryFileOptions,
) -> IngestResult<Vec<Boundary>> {
    let parsed = parse_boundaries_all(text, file, opts);
    match parsed.rejections.into_iter().next() {
        None => Ok(parsed.records),
        Some(r) if r.field == FILE_FIELD => Err(IngestError::Format {
            file: r.file,
            reason: r.reason,
        }),
        Some(r) => Err(IngestError::Field {
            file: r.file,
            record: usize::try_from(r.line).unwrap_or(usize::MAX),
            field: r.field,
            reason: r.reason,
        }),
    }
}

/// The `field` of a rejection about the file as a whole (not GeoJSON, not a collection); such
/// a file counts as one record read and rejected.
pub const FILE_FIELD: &str = "(file)";

/// Parses every feature, collecting one rejection per bad feature (its `line` is the
/// 1-based feature number) instead of stopping at the first.
pub fn parse_boundaries_all(
    text: &str,
    file: &str,
    opts: &BoundaryFileOptions,
) -> Parsed<Boundary> {
    let whole_file = |reason: String| Parsed {
        records: Vec::new(),
        lines: Vec::new(),
        read: 1,
        rejections: vec![Rejection {
            file: file.to_owned(),
            line: 1,
            field: FILE_FIELD.to_owned(),
            reason,
        }],
    };
    let gj: geojson::GeoJson = match text.parse() {
        Ok(g) => g,
        Err(e) => return whole_file(format!("not GeoJSON: {e}")),
    };
    let geojson::GeoJson::FeatureCollection(fc) = gj else {
        return whole_file("expected a FeatureCollection".to_owned());
    };
    let mut out = Parsed::default();
    for (i, feature) in fc.features.iter().enumerate() {
        let record = i as u64 + 1;
        out.read += 1;
        match parse_feature(feature, opts) {
            Ok(b) => {
                out.records.push(b);
                out.lines.push(record);
            }
            Err((field, reason)) => {
                out.rejections.push(Rejection {
                    file: file.to_owned(),
                    line: record,
                    field,
                    reason,
                });
            }
        }
    }
    out
}

fn parse_feature(
    feature: &geojson::Feature,
    opts: &BoundaryFileOptions,
) -> Result<Boundary, (String, String)> {
    let err = |field: &str, reason: String| (field.to_owned(), reason);
    let empty = serde_json::Map::new();
    let props = feature.properties.as_ref().unwrap_or(&empty);
    let code_key = find_key(props, opts.code_field.as_deref(), "CD", "CODE").ok_or_else(|| {
        err(
            opts.code_field.as_deref().unwrap_or("..CD"),
            "no code property".to_owned(),
        )
    })?;
    let name_key = find_key(props, opts.name_field.as_deref(), "NM", "NAME").ok_or_else(|| {
        err(
            opts.name_field.as_deref().unwrap_or("..NM"),
            "no name property".to_owned(),
        )
    })?;
    let code_str = props
        .get(code_key)
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    let code = BoundaryCode::new(code_str.trim()).map_err(|e| err(code_key, e.to_string()))?;
    let name = props
        .get(name_key)
        .and_then(serde_json::Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| err(name_key, "empty name".to_owned()))?
        .to_owned();
    let geometry = feature
        .geometry
        .as_ref()
        .ok_or_else(|| err("geometry", "missing".to_owned()))?;
    // The geojson crate's conversion indexes positions as [x, y] and panics on a shorter one
    // (found by fuzzing): check every position first.
    let rings: Vec<&Vec<geojson::Position>> = match &geometry.value {
        geojson::GeometryValue::Polygon { coordinates } => coordinates.iter().collect(),
        geojson::GeometryValue::MultiPolygon { coordinates } => {
            coordinates.iter().flatten().collect()
        }
        _ => Vec::new(),
    };
    if let Some(bad) = rings.iter().flat_map(|r| r.iter()).find(|p| p.len() < 2) {
        return Err(err(
            "geometry",
            format!(
                "a position has {} number(s); longitude and latitude are needed",
                bad.len()
            ),
        ));
    }
    let mp = match &geometry.value {
        geojson::GeometryValue::Polygon { .. } => {
            let p: geo::Polygon<f64> = (&geometry.value)
                .try_into()
                .map_err(|e: geojson::Error| err("geometry", e.to_string()))?;
            geo::MultiPolygon(vec![p])
        }
        geojson::GeometryValue::MultiPolygon { .. } => (&geometry.value)
            .try_into()
            .map_err(|e: geojson::Error| err("geometry", e.to_string()))?,
        _ => {
            return Err(err(
                "geometry",
                "expected a Polygon or MultiPolygon".to_owned(),
            ));
        }
    };
    if let Some(bad) = geo::CoordsIter::coords_iter(&mp)
        .find(|c| !c.x.is_finite() || !c.y.is_finite() || c.x.abs() > 180.0 || c.y.abs() > 90.0)
    {
        return Err(err(
            "geometry",
            format!("coordinate ({}, {}) is not lon/lat", bad.x, bad.y),
        ));
    }
    Ok(Boundary {
        scheme: opts.scheme.clone(),
        code,
        name,
        geometry: mp,
        youth_population: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> BoundaryFileOptions {
        BoundaryFileOptions::for_scheme(SchemeName::new("lsoa").unwrap())
    }

    const SQUARE: &str = r#"{"type":"Polygon","coordinates":[[[-2.6,51.4],[-2.5,51.4],[-2.5,51.5],[-2.6,51.5],[-2.6,51.4]]]}"#;

    #[test]
    fn code_and_name_are_found_by_pattern_in_any_vintage_and_case() {
        for (cd, nm) in [
            ("LSOA11CD", "LSOA11NM"),
            ("lsoa21cd", "lsoa21nm"),
            ("WD24CD", "WD24NM"),
            ("CODE", "NAME"),
        ] {
            let text = format!(
                r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"{cd}":"E01014673","{nm}":"Bristol 027A","{nm}W":null,"BNG_E":1}},"geometry":{SQUARE}}}]}}"#
            );
            let b = parse_boundaries(&text, "t.geojson", &opts()).unwrap();
            assert_eq!(b[0].code.as_str(), "E01014673", "{cd}");
            assert_eq!(b[0].name, "Bristol 027A", "{nm}");
        }
    }

    /// The fuzzing reproducers (`fuzz/regressions/ons_boundaries/`) give rejections, never a
    /// panic: a one-number position, and a property name ending inside a multi-byte character.
    #[test]
    fn the_fuzzing_reproducers_are_rejected_not_panics() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions/ons_boundaries");
        let mut replayed = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            let parsed = parse_boundaries_all(&text, "fuzz.geojson", &opts());
            assert_eq!(
                parsed.records.len() + parsed.rejections.len(),
                parsed.read as usize
            );
            replayed += 1;
        }
        assert!(replayed >= 4, "{replayed} reproducers");
        let one_number = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"CODE":"E01","NAME":"x"},"geometry":{"type":"Polygon","coordinates":[[[1]]]}}]}"#;
        let parsed = parse_boundaries_all(one_number, "t.geojson", &opts());
        assert_eq!(parsed.rejections.len(), 1);
        assert_eq!(parsed.rejections[0].field, "geometry");
        for key in ["Name_€", "Cafés", "abc€"] {
            assert!(!is_code_key(key, "CD") && !is_code_key(key, "NM"), "{key}");
        }
    }

    #[test]
    fn a_missing_code_names_file_feature_and_field() {
        let text = format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"LSOA11CD":"E01014673","LSOA11NM":"A"}},"geometry":{SQUARE}}},{{"type":"Feature","properties":{{"LSOA11CD":"","LSOA11NM":"B"}},"geometry":{SQUARE}}}]}}"#
        );
        let err = parse_boundaries(&text, "bad.geojson", &opts())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("bad.geojson") && err.contains("record 2") && err.contains("LSOA11CD"),
            "{err}"
        );
    }

    #[test]
    fn every_bad_feature_is_reported_not_just_the_first() {
        let good = format!(
            r#"{{"type":"Feature","properties":{{"CODE":"A1","NAME":"a"}},"geometry":{SQUARE}}}"#
        );
        let no_name =
            format!(r#"{{"type":"Feature","properties":{{"CODE":"A2"}},"geometry":{SQUARE}}}"#);
        let bad_code = format!(
            r#"{{"type":"Feature","properties":{{"CODE":"","NAME":"c"}},"geometry":{SQUARE}}}"#
        );
        let text = format!(
            r#"{{"type":"FeatureCollection","features":[{good},{no_name},{bad_code},{good}]}}"#
        );
        let p = parse_boundaries_all(&text, "f.geojson", &opts());
        assert_eq!(p.read, 4);
        assert_eq!(p.records.len(), 2);
        assert_eq!(p.lines, vec![1, 4]);
        let lines: Vec<u64> = p.rejections.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 3]);
        assert_eq!(p.rejections[0].field, "..NM");
        let not_json = parse_boundaries_all("{", "x", &opts());
        assert_eq!(
            (not_json.read, not_json.rejections.len()),
            (1, 1),
            "a broken file is one rejected record"
        );
    }

    #[test]
    fn points_and_projected_coordinates_are_refused() {
        let pt = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"CODE":"X1","NAME":"x"},"geometry":{"type":"Point","coordinates":[0,0]}}]}"#;
        assert!(parse_boundaries(pt, "p", &opts()).is_err());
        let bng = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"CODE":"X1","NAME":"x"},"geometry":{"type":"Polygon","coordinates":[[[358000,172000],[359000,172000],[359000,173000],[358000,172000]]]}}]}"#;
        assert!(parse_boundaries(bng, "p", &opts()).is_err());
        assert!(parse_boundaries("not json", "p", &opts()).is_err());
    }
}
