//! Tests for the `NaPTAN` parser: the synthetic fixture in `tests/fixtures/naptan/` (see its
//! README) and a fixed-seed property test on arbitrary bytes.

use super::*;
use crate::domain::Agency;
use crate::ingest::test_support::{accounted, on_arbitrary_csv};

const STOPS: &[u8] = include_bytes!("../../tests/fixtures/naptan/stops.csv");

fn source(name: &str) -> SourceFile {
    SourceFile {
        name: name.to_owned(),
        sha256: "0".repeat(64),
        agency: Agency::new("dft-naptan").unwrap(),
        isa_ref: None,
        progress: crate::ingest::report::Progress::default(),
    }
}

fn naptan(name: &str, bytes: &[u8]) -> Parsed<NaptanRow> {
    parse_naptan(bytes, &source(name))
}

fn header() -> String {
    std::str::from_utf8(STOPS)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn the_fixture_parses_three_stops_with_their_lines() {
    let p = naptan("stops.csv", STOPS);
    assert_eq!(p.read, 3);
    assert!(p.rejections.is_empty(), "{:?}", p.rejections);
    assert_eq!(p.lines, vec![2, 3, 4]);
    let ids: Vec<&str> = p.records.iter().map(|r| r.stop.id.as_str()).collect();
    assert_eq!(ids, vec!["0100SYN00001", "0100SYN00002", "0100SYN00003"]);
}

#[test]
fn the_stop_name_appends_the_indicator_in_parentheses() {
    let p = naptan("stops.csv", STOPS);
    assert_eq!(p.records[0].stop.name, "Temple Meads (Stop T3)");
    assert_eq!(p.records[1].stop.name, "Cabot Example");
}

#[test]
fn active_stops_are_active_and_the_inactive_stop_is_not() {
    let p = naptan("stops.csv", STOPS);
    let active: Vec<bool> = p.records.iter().map(|r| r.active).collect();
    assert_eq!(active, vec![true, true, false]);
    assert_eq!(p.records[1].status.as_deref(), Some("Active"));
    assert_eq!(p.records[2].status.as_deref(), Some("inactive"));
}

#[test]
fn raw_columns_are_kept_with_leading_zeros() {
    let r = &naptan("stops.csv", STOPS).records[0];
    assert_eq!(r.stop_type.as_deref(), Some("BCT"));
    assert_eq!(r.admin_area.as_deref(), Some("009"));
    assert_eq!(r.locality.as_deref(), Some("Synthetic Locality, Bristol"));
}

#[test]
fn longitude_and_latitude_are_preferred_when_present() {
    let r = &naptan("stops.csv", STOPS).records[0];
    assert_eq!(
        (r.stop.location.lon(), r.stop.location.lat()),
        (-2.5836, 51.4497)
    );
}

#[test]
fn easting_northing_only_stops_are_converted_and_land_in_bristol() {
    let r = &naptan("stops.csv", STOPS).records[1];
    let (lon, lat) = (r.stop.location.lon(), r.stop.location.lat());
    assert!((-2.7..-2.5).contains(&lon), "{lon}");
    assert!((51.4..51.5).contains(&lat), "{lat}");
}

#[test]
fn unusable_longitude_falls_back_to_the_grid_and_no_location_is_rejected_naming_longitude() {
    let h = header();
    let width = h.split(',').count();
    let row = |atco: &str, e: &str, n: &str, lon: &str, lat: &str| {
        let mut fields = vec![String::new(); width];
        for (name, value) in [
            ("ATCOCode", atco),
            ("CommonName", "Example"),
            ("Easting", e),
            ("Northing", n),
            ("Longitude", lon),
            ("Latitude", lat),
            ("Status", "active"),
        ] {
            let i = h.split(',').position(|c| c == name).unwrap();
            fields[i] = value.to_owned();
        }
        fields.join(",")
    };
    let file = [
        h.clone(),
        row("0100SYN00010", "358900", "172900", "abc", "51.45"),
        row("0100SYN00011", "358900", "172900", "-200", "51.45"),
        row("0100SYN00012", "", "", "", ""),
        row("0100SYN00013", "", "", "-2.6", ""),
    ]
    .join("\n");
    let p = naptan("loc.csv", file.as_bytes());
    assert_eq!(p.records.len(), 2, "{:?}", p.rejections);
    for r in &p.records {
        assert!((-2.7..-2.5).contains(&r.stop.location.lon()));
    }
    let lines: Vec<(u64, &str)> = p
        .rejections
        .iter()
        .map(|r| (r.line, r.field.as_str()))
        .collect();
    assert_eq!(lines, vec![(4, "Longitude"), (5, "Longitude")]);
}

#[test]
fn the_atco_code_comes_from_atcocode_and_an_invalid_one_is_rejected() {
    let file = "ATCOCode,CommonName,Longitude,Latitude,Status\n\
                0100SYN00001,A,-2.6,51.45,active\n\
                01 00,B,-2.6,51.45,active\n\
                0100SYN0000100000,C,-2.6,51.45,active\n\
                ,D,-2.6,51.45,active\n";
    let p = naptan("atco.csv", file.as_bytes());
    assert_eq!(p.records.len(), 1);
    assert_eq!(p.records[0].stop.id.as_str(), "0100SYN00001");
    assert_eq!(p.rejections.len(), 3);
    for (r, line) in p.rejections.iter().zip(3..) {
        assert_eq!(
            (r.file.as_str(), r.line, r.field.as_str()),
            ("atco.csv", line, "ATCOCode")
        );
    }
}

#[test]
fn reordered_columns_with_a_bom_and_crlf_parse_identically() {
    let text = std::str::from_utf8(STOPS).unwrap();
    let rows: Vec<Vec<String>> = text
        .lines()
        .map(|l| {
            csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(l.as_bytes())
                .records()
                .next()
                .unwrap()
                .unwrap()
                .iter()
                .map(str::to_owned)
                .collect()
        })
        .collect();
    let width = rows[0].len();
    let order: Vec<usize> = (0..width).rev().collect();
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        for r in &rows {
            w.write_record(order.iter().map(|&i| &r[i])).unwrap();
        }
        w.flush().unwrap();
    }
    assert_eq!(naptan("stops.csv", STOPS), naptan("stops.csv", &out));
}

#[test]
fn a_missing_required_column_rejects_every_row_naming_it() {
    let file = "ATCOCode,Longitude,Latitude\n0100SYN00001,-2.6,51.45\n0100SYN00002,-2.6,51.45\n";
    let p = naptan("m.csv", file.as_bytes());
    assert_eq!(p.read, 2);
    assert!(p.records.is_empty());
    assert!(p.rejections.iter().all(|r| r.field == "CommonName"));
    assert_eq!(p.rejections.len(), 2);
}

#[test]
fn arbitrary_bytes_never_panic_and_every_row_is_accounted_for() {
    let alphabet = b",,,,,,\"\r\n\n0123456789.-SYN activeinactive\xEF\xBB\xBF\xFF";
    on_arbitrary_csv(&[header() + "\n"], alphabet, 11, |bytes| {
        accounted(&naptan("fuzz.csv", bytes), "fuzz.csv")
    });
}
