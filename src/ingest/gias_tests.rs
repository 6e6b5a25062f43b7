//! Tests for the GIAS parser: the synthetic fixtures in `tests/fixtures/gias/` (see their
//! README) and a fixed-seed property test on arbitrary bytes.

use super::*;
use crate::domain::Agency;
use crate::ingest::test_support::{accounted, on_arbitrary_csv};

const CP1252: &[u8] = include_bytes!("../../tests/fixtures/gias/gias_cp1252.csv");
const UTF8_BOM_FILE: &[u8] = include_bytes!("../../tests/fixtures/gias/gias_utf8_bom.csv");
const REORDERED: &[u8] = include_bytes!("../../tests/fixtures/gias/gias_reordered.csv");
const MISSING_NAME: &[u8] = include_bytes!("../../tests/fixtures/gias/gias_missing_name.csv");

fn source(name: &str) -> SourceFile {
    SourceFile {
        name: name.to_owned(),
        sha256: "0".repeat(64),
        agency: Agency::new("dfe-gias").unwrap(),
        isa_ref: None,
        progress: crate::ingest::report::Progress::default(),
    }
}

fn gias(name: &str, bytes: &[u8]) -> Parsed<GiasRow> {
    parse_gias(bytes, &source(name))
}

fn by_urn(p: &Parsed<GiasRow>, urn: u32) -> &GiasRow {
    p.records
        .iter()
        .find(|r| r.school.urn.get() == urn)
        .unwrap_or_else(|| panic!("URN {urn} not parsed: {:?}", p.rejections))
}

fn day(s: &str) -> Day {
    s.parse().unwrap()
}

#[test]
fn the_fixture_reads_six_rows_keeps_four_and_rejects_two() {
    let p = gias("gias_cp1252.csv", CP1252);
    assert_eq!(p.read, 6);
    assert_eq!(p.records.len(), 4, "{:?}", p.rejections);
    assert_eq!(p.lines, vec![2, 3, 6, 7]);
    assert_eq!(p.rejections.len(), 2);
}

#[test]
fn the_windows_1252_curly_apostrophe_decodes_to_u2019() {
    assert!(
        CP1252.contains(&0x92),
        "the fixture must hold the raw cp1252 byte"
    );
    let p = gias("gias_cp1252.csv", CP1252);
    let school = &by_urn(&p, 900_001).school;
    assert_eq!(
        school.name,
        "St Mary\u{2019}s Church of England Primary School"
    );
}

#[test]
fn utf8_input_with_a_bom_parses_identically() {
    let a = gias("g.csv", CP1252);
    let b = gias("g.csv", UTF8_BOM_FILE);
    assert_eq!(a, b);
}

#[test]
fn reordered_columns_parse_identically() {
    let a = gias("g.csv", CP1252);
    let b = gias("g.csv", REORDERED);
    assert_eq!(a, b);
}

#[test]
fn lf_line_endings_parse_identically_to_crlf() {
    let lf: Vec<u8> = CP1252.iter().copied().filter(|&b| b != b'\r').collect();
    assert_eq!(gias("g.csv", CP1252), gias("g.csv", &lf));
}

#[test]
fn an_open_school_is_open_and_keeps_its_quoted_la_name_and_codes() {
    let p = gias("gias_cp1252.csv", CP1252);
    let r = by_urn(&p, 900_001);
    assert!(r.school.open);
    assert_eq!(r.status, "Open");
    assert_eq!(r.school.phase, Phase::Primary);
    assert_eq!(r.school.la_code.as_str(), "E06000023");
    assert_eq!(r.la_name.as_deref(), Some("Bristol, City of"));
    assert_eq!(r.type_name.as_deref(), Some("Voluntary aided school"));
    let bng = r.bng.unwrap();
    assert_eq!((bng.easting_m(), bng.northing_m()), (358_900.0, 172_900.0));
}

#[test]
fn a_closed_school_is_not_open() {
    let p = gias("gias_cp1252.csv", CP1252);
    let r = by_urn(&p, 900_002);
    assert!(!r.school.open);
    assert_eq!(r.status, "Closed");
    assert_eq!(r.school.phase, Phase::Secondary);
}

#[test]
fn open_but_proposed_to_close_counts_as_open() {
    let p = gias("gias_cp1252.csv", CP1252);
    let r = by_urn(&p, 900_005);
    assert!(r.school.open);
    assert_eq!(r.status, "Open, but proposed to close");
}

#[test]
fn the_row_with_an_empty_easting_is_rejected_naming_file_line_and_easting() {
    let p = gias("gias_cp1252.csv", CP1252);
    let r = p
        .rejections
        .iter()
        .find(|r| r.field == "Easting")
        .unwrap_or_else(|| panic!("{:?}", p.rejections));
    assert_eq!((r.file.as_str(), r.line), ("gias_cp1252.csv", 4));
    assert!(r.reason.contains("location"), "{r}");
}

#[test]
fn dates_parse_and_a_bad_date_rejects_its_row_naming_the_column() {
    let p = gias("gias_cp1252.csv", CP1252);
    let r = by_urn(&p, 900_001);
    assert_eq!(r.open_date, Some(day("1992-09-01")));
    assert_eq!(r.close_date, None);
    let closed = by_urn(&p, 900_002);
    assert_eq!(closed.close_date, Some(day("2015-08-31")));
    assert_eq!(
        closed.open_date, None,
        "01-01-1900 is well-formed but before 1970"
    );
    assert_eq!(by_urn(&p, 900_006).open_date, Some(day("2016-02-29")));
    let bad = p.rejections.iter().find(|r| r.field == "OpenDate").unwrap();
    assert_eq!(bad.line, 5);
    assert!(bad.reason.contains("2015-09-01"), "{bad}");
}

#[test]
fn impossible_calendar_dates_are_refused_even_before_1970() {
    let header = "URN,EstablishmentName,OpenDate,DistrictAdministrative (code),Easting,Northing\n";
    for (date, ok) in [
        ("29-02-1900", false),
        ("31-04-2001", false),
        ("00-01-2001", false),
        ("01-13-2001", false),
        ("1-1-2001", false),
        ("29-02-2000", true),
        ("31-12-1899", true),
    ] {
        let file = format!("{header}900001,A,{date},E06000023,358900,172900\n");
        let p = gias("d.csv", file.as_bytes());
        assert_eq!(p.records.len() == 1, ok, "{date}: {:?}", p.rejections);
    }
}

#[test]
fn the_la_code_falls_back_to_gsslacode_and_both_missing_is_rejected() {
    let p = gias("gias_cp1252.csv", CP1252);
    assert_eq!(by_urn(&p, 900_005).school.la_code.as_str(), "E06000023");
    let file =
        b"URN,EstablishmentName,DistrictAdministrative (code),GSSLACode (name),Easting,Northing\n\
                 900001,A,,,358900,172900\n";
    let p = gias("la.csv", file);
    assert_eq!(p.rejections.len(), 1);
    assert_eq!(p.rejections[0].field, "DistrictAdministrative (code)");
}

#[test]
fn phases_map_from_their_gias_names() {
    let header = "URN,EstablishmentName,PhaseOfEducation (name),DistrictAdministrative (code),Easting,Northing\n";
    for (label, phase) in [
        ("Nursery", Phase::Nursery),
        ("Primary", Phase::Primary),
        ("Middle deemed primary", Phase::Primary),
        ("Secondary", Phase::Secondary),
        ("Middle deemed secondary", Phase::Secondary),
        ("16 plus", Phase::SixteenPlus),
        ("All-through", Phase::AllThrough),
        ("Not applicable", Phase::NotApplicable),
        ("", Phase::NotApplicable),
    ] {
        let file = format!("{header}900001,A,{label},E06000023,358900,172900\n");
        let p = gias("p.csv", file.as_bytes());
        assert_eq!(p.records[0].school.phase, phase, "{label}");
    }
    let file = format!("{header}900001,A,Tertiary,E06000023,358900,172900\n");
    let p = gias("p.csv", file.as_bytes());
    assert_eq!(p.rejections[0].field, "PhaseOfEducation (name)");
}

#[test]
fn a_missing_required_column_rejects_every_row_naming_it() {
    let p = gias("gias_missing_name.csv", MISSING_NAME);
    assert_eq!(p.read, 3);
    assert!(p.records.is_empty());
    assert_eq!(p.rejections.len(), 3);
    for (r, line) in p.rejections.iter().zip(2..) {
        assert_eq!(r.field, "EstablishmentName");
        assert_eq!(r.line, line);
        assert_eq!(r.file, "gias_missing_name.csv");
    }
}

#[test]
fn the_urn_column_gives_the_urn_and_an_invalid_urn_is_rejected() {
    let p = gias("gias_cp1252.csv", CP1252);
    let urns: Vec<u32> = p.records.iter().map(|r| r.school.urn.get()).collect();
    assert_eq!(urns, vec![900_001, 900_002, 900_005, 900_006]);
    let header = "URN,EstablishmentName,DistrictAdministrative (code),Easting,Northing\n";
    for urn in ["12345", "1234567", "+900001", "URN1", ""] {
        let file = format!("{header}{urn},A,E06000023,358900,172900\n");
        let p = gias("u.csv", file.as_bytes());
        assert_eq!(p.rejections.len(), 1, "{urn}");
        assert_eq!(p.rejections[0].field, "URN", "{urn}");
    }
}

#[test]
fn coordinates_are_converted_into_bristol() {
    let p = gias("gias_cp1252.csv", CP1252);
    for r in &p.records {
        let (lon, lat) = (r.school.location.lon(), r.school.location.lat());
        assert!((-2.7..-2.5).contains(&lon), "{lon}");
        assert!((51.4..51.5).contains(&lat), "{lat}");
    }
}

#[test]
fn off_grid_or_non_numeric_coordinates_are_rejected_naming_the_column() {
    let header = "URN,EstablishmentName,DistrictAdministrative (code),Easting,Northing\n";
    for (e, n, field) in [
        ("abc", "172900", "Easting"),
        ("358900", "x", "Northing"),
        ("-5", "172900", "Easting"),
        ("358900", "2000000", "Northing"),
        ("358900", "", "Northing"),
    ] {
        let file = format!("{header}900001,A,E06000023,{e},{n}\n");
        let p = gias("c.csv", file.as_bytes());
        assert_eq!(p.rejections[0].field, field, "{e},{n}");
    }
}

#[test]
fn empty_and_header_only_files_give_nothing() {
    for bytes in [&b""[..], b"\xEF\xBB\xBF", b"URN,EstablishmentName\r\n"] {
        let p = gias("e.csv", bytes);
        assert_eq!((p.read, p.records.len(), p.rejections.len()), (0, 0, 0));
    }
}

#[test]
fn arbitrary_bytes_never_panic_and_every_row_is_accounted_for() {
    let alphabet = b",,,\"\r\n\n0123456789.-E 9000010Open\x92\xEF\xBB\xBF\xFF";
    on_arbitrary_csv(&[GIAS_COLUMNS.join(",") + "\r\n"], alphabet, 9, |bytes| {
        accounted(&gias("fuzz.csv", bytes), "fuzz.csv")
    });
}
