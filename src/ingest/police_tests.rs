//! Tests for the data.police.uk parsers: the real January 2023 Avon and Somerset files (when
//! `../shared/realdata` is present), the fixtures in `tests/fixtures/police/` (see their
//! README), and a fixed-seed property test on arbitrary bytes.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::*;
use crate::domain::{Agency, IsaRef};
use crate::ingest::test_support::{accounted, on_arbitrary_csv};

const STREET_SLICE_LF: &[u8] = include_bytes!("../../tests/fixtures/police/street_slice_lf.csv");
const STREET_SLICE_CRLF: &[u8] =
    include_bytes!("../../tests/fixtures/police/street_slice_crlf.csv");
const STREET_SLICE_BOM: &[u8] = include_bytes!("../../tests/fixtures/police/street_slice_bom.csv");
const STREET_REORDERED: &[u8] = include_bytes!("../../tests/fixtures/police/street_reordered.csv");
const STREET_MISSING_CRIME_TYPE: &[u8] =
    include_bytes!("../../tests/fixtures/police/street_missing_crime_type.csv");
const STREET_BAD_ROWS: &[u8] = include_bytes!("../../tests/fixtures/police/street_bad_rows.csv");
const STOP_SLICE: &[u8] = include_bytes!("../../tests/fixtures/police/stop_search_slice.csv");
const STOP_HANDMADE: &[u8] = include_bytes!("../../tests/fixtures/police/stop_search_handmade.csv");

const REAL_STREET: &str = "police_street_avon-and-somerset_2023-01.csv";
const REAL_STOP: &str = "police_stop-and-search_avon-and-somerset_2023-01.csv";

fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn source(name: &str, bytes: &[u8]) -> SourceFile {
    SourceFile {
        name: name.to_owned(),
        sha256: sha256_hex(bytes),
        agency: Agency::new("avon-and-somerset-police").unwrap(),
        isa_ref: Some(IsaRef::new("ISA-2024-007").unwrap()),
        progress: crate::ingest::report::Progress::default(),
    }
}

fn street(name: &str, bytes: &[u8]) -> Parsed<StreetRow> {
    parse_street(bytes, &source(name, bytes))
}

fn stops(name: &str, bytes: &[u8]) -> Parsed<StopSearch> {
    parse_stop_search(bytes, &source(name, bytes))
}

/// The real sample, or `None` (with the reason printed) when `../shared/realdata` is absent.
fn real_file(name: &str) -> Option<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/realdata")
        .join(name);
    match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            eprintln!("skipped: cannot read {}: {e}", path.display());
            None
        }
    }
}

fn day(s: &str) -> Day {
    s.parse().unwrap()
}

fn ids<T>(records: &[T], id: impl Fn(&T) -> u64) -> Vec<u64> {
    records.iter().map(id).collect()
}

fn street_ids(p: &Parsed<StreetRow>) -> Vec<u64> {
    ids(&p.records, |r| r.incident.id.get())
}

fn rejections(p: &Parsed<impl Sized>) -> Vec<(u64, &str)> {
    p.rejections
        .iter()
        .map(|r| (r.line, r.field.as_str()))
        .collect()
}

// ---------------------------------------------------------------- real files

#[test]
fn the_real_street_file_parses_with_the_counts_in_formats_md() {
    let Some(bytes) = real_file(REAL_STREET) else {
        return;
    };
    let started = Instant::now();
    let p = street(REAL_STREET, &bytes);
    let elapsed = started.elapsed();
    eprintln!(
        "parsed {} street rows in {elapsed:?} ({:.0} rows/s, unoptimised test build)",
        p.read,
        p.read as f64 / elapsed.as_secs_f64()
    );

    assert_eq!(p.read, 12_566);
    assert!(p.rejections.is_empty(), "{:?}", p.rejections.first());
    assert_eq!(p.records.len(), 12_566);
    assert_eq!(
        p.lines,
        (2..=12_567).collect::<Vec<u64>>(),
        "CRLF lines are physical lines"
    );

    let unlocated: Vec<_> = p
        .records
        .iter()
        .filter(|r| r.incident.location.is_none())
        .collect();
    assert_eq!(unlocated.len(), 758);
    assert!(unlocated.iter().all(|r| r.lsoa_code.is_none()));
    assert_eq!(
        p.records.iter().filter(|r| r.lsoa_code.is_none()).count(),
        758
    );

    let asb: Vec<_> = p
        .records
        .iter()
        .filter(|r| r.incident.category == Category::AntiSocialBehaviour)
        .collect();
    assert_eq!(asb.len(), 1_511);
    assert!(
        asb.iter()
            .all(|r| r.crime_id.is_none() && r.last_outcome.is_none())
    );
    assert_eq!(
        p.records.iter().filter(|r| r.crime_id.is_none()).count(),
        1_511
    );

    let mut by_label: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &p.records {
        *by_label.entry(r.incident.category.label()).or_default() += 1;
        assert_eq!(r.incident.category.label(), &*r.crime_type_raw);
    }
    let expected: BTreeMap<&str, usize> = [
        ("Anti-social behaviour", 1_511),
        ("Bicycle theft", 149),
        ("Burglary", 603),
        ("Criminal damage and arson", 1_047),
        ("Drugs", 211),
        ("Other theft", 875),
        ("Possession of weapons", 60),
        ("Public order", 1_239),
        ("Robbery", 124),
        ("Shoplifting", 992),
        ("Theft from the person", 70),
        ("Vehicle crime", 710),
        ("Violence and sexual offences", 4_737),
        ("Other crime", 238),
    ]
    .into_iter()
    .collect();
    assert_eq!(by_label, expected);

    let no_text = p
        .records
        .iter()
        .filter(|r| r.location_text.is_none())
        .count();
    assert_eq!(no_text, 758 + 2_053);
    assert_eq!(p.records.len() - no_text, 9_755);

    let january = day("2023-01-01");
    for r in &p.records {
        assert_eq!(&*r.month, "2023-01");
        assert_eq!(r.incident.time.day, january);
        assert_eq!(r.incident.time.precision, TimePrecision::Month);
        assert_eq!(r.incident.time.minute_of_day, None);
        assert!(!r.incident.involves_child);
        assert_eq!(r.incident.provenance.grade, None);
        if let Some(loc) = r.incident.location {
            assert_eq!(loc.precision, LocationPrecision::SnapPoint);
        }
    }

    let first = street_ids(&p);
    let distinct: HashSet<u64> = first.iter().copied().collect();
    assert_eq!(distinct.len(), first.len(), "every id is distinct");
    assert_eq!(
        street_ids(&street(REAL_STREET, &bytes)),
        first,
        "re-import gives the same ids"
    );
}

#[test]
fn the_real_stop_search_file_parses_with_the_counts_in_formats_md() {
    let Some(bytes) = real_file(REAL_STOP) else {
        return;
    };
    let p = stops(REAL_STOP, &bytes);
    assert_eq!(p.read, 507);
    assert!(p.rejections.is_empty(), "{:?}", p.rejections.first());
    assert_eq!(p.records.len(), 507);
    assert_eq!(p.lines, (2..=508).collect::<Vec<u64>>());

    let count = |f: &dyn Fn(&StopSearch) -> bool| p.records.iter().filter(|r| f(r)).count();
    assert_eq!(count(&|r| r.search_type == SearchType::PersonSearch), 392);
    assert_eq!(
        count(&|r| r.search_type == SearchType::PersonAndVehicleSearch),
        104
    );
    assert_eq!(count(&|r| r.search_type == SearchType::VehicleSearch), 11);

    for (outcome, n) in [
        (StopOutcome::Nfa, 311),
        (StopOutcome::Arrest, 124),
        (StopOutcome::CannabisKhatWarning, 28),
        (StopOutcome::CommunityResolution, 25),
        (StopOutcome::Summons, 3),
        (StopOutcome::Caution, 1),
        (StopOutcome::Unknown, 15),
        (StopOutcome::PenaltyNotice, 0),
        (StopOutcome::Other, 0),
    ] {
        assert_eq!(count(&|r| r.outcome == outcome), n, "{outcome:?}");
    }
    assert_eq!(count(&|r| r.outcome_raw.is_none()), 15);

    assert_eq!(count(&|r| r.location.is_none()), 53);
    assert_eq!(count(&|r| r.is_child), 105);
    assert_eq!(count(&|r| r.age_range.as_deref() == Some("10-17")), 105);
    assert_eq!(count(&|r| r.gender.as_deref() == Some("Male")), 424);
    assert_eq!(count(&|r| r.gender.as_deref() == Some("Female")), 66);
    assert_eq!(count(&|r| r.outcome_linked_to_object == Some(true)), 144);
    assert_eq!(count(&|r| r.outcome_linked_to_object == Some(false)), 36);
    assert_eq!(
        count(&|r| r.removal_of_more_than_outer_clothing == Some(true)),
        21
    );
    assert_eq!(
        count(&|r| r.removal_of_more_than_outer_clothing == Some(false)),
        466
    );
    assert_eq!(count(&|r| r.part_of_operation.is_some()), 0);

    // All 11 vehicle searches are date-only, and only they are.
    assert_eq!(count(&|r| r.minute_of_day.is_none()), 11);
    assert!(
        p.records
            .iter()
            .filter(|r| r.search_type == SearchType::VehicleSearch)
            .all(|r| r.minute_of_day.is_none())
    );
    assert!(
        p.records
            .iter()
            .all(|r| (day("2023-01-01")..=day("2023-01-31")).contains(&r.day))
    );

    let first = ids(&p.records, |r| r.id);
    assert_eq!(first.iter().copied().collect::<HashSet<_>>().len(), 507);
    assert_eq!(ids(&stops(REAL_STOP, &bytes).records, |r| r.id), first);
}

// ---------------------------------------------------------------- street fixtures

#[test]
fn crlf_lf_and_bom_copies_of_a_street_slice_parse_identically() {
    let lf = street("slice.csv", STREET_SLICE_LF);
    assert_eq!(lf.read, 10);
    assert!(lf.rejections.is_empty(), "{:?}", lf.rejections);
    for bytes in [STREET_SLICE_CRLF, STREET_SLICE_BOM] {
        // Same file name, so only the bytes differ; provenance carries no hash.
        let other = street("slice.csv", bytes);
        assert_eq!(other, lf);
    }
}

#[test]
fn reordered_and_quoted_columns_with_an_extra_column_parse_identically() {
    let lf = street("slice.csv", STREET_SLICE_LF);
    let reordered = street("slice.csv", STREET_REORDERED);
    assert_eq!(reordered, lf);
}

#[test]
fn line_numbers_are_physical_lines_in_crlf_and_lf_files_alike() {
    let lf = street("bad.csv", STREET_BAD_ROWS);
    let crlf_bytes = String::from_utf8(STREET_BAD_ROWS.to_vec())
        .unwrap()
        .replace('\n', "\r\n");
    let crlf = street("bad.csv", crlf_bytes.as_bytes());
    assert_eq!(rejections(&crlf), rejections(&lf));
    assert_eq!(crlf.lines, lf.lines);
    assert_eq!(
        street("s.csv", STREET_SLICE_CRLF).lines,
        (2..=11).collect::<Vec<u64>>()
    );
    // Blank lines are skipped but still counted.
    let blank =
        b"Month,Longitude,Latitude,Crime type\r\n\r\n\r\n2023-13,,,Drugs\r\n\n2023-01,,,Nope\n";
    assert_eq!(
        rejections(&street("b.csv", blank)),
        vec![(4, "Month"), (6, "Crime type")]
    );
}

#[test]
fn a_missing_required_column_rejects_every_row_naming_it() {
    let p = street("no_type.csv", STREET_MISSING_CRIME_TYPE);
    assert_eq!(p.read, 4);
    assert!(p.records.is_empty());
    assert_eq!(
        rejections(&p),
        vec![
            (2, "Crime type"),
            (3, "Crime type"),
            (4, "Crime type"),
            (5, "Crime type")
        ]
    );
    assert!(
        p.rejections
            .iter()
            .all(|r| r.file == "no_type.csv" && r.reason == "column missing from the header")
    );
}

#[test]
fn each_bad_street_row_gives_one_rejection_naming_file_line_and_field() {
    let p = street("bad.csv", STREET_BAD_ROWS);
    assert_eq!(p.read, 10);
    assert_eq!(
        rejections(&p),
        vec![
            (3, "Month"),
            (4, "Longitude"),
            (5, "Longitude"),
            (6, "Crime type"),
            (7, "LSOA code"),
            (10, "Latitude"),
        ]
    );
    assert!(p.rejections.iter().all(|r| r.file == "bad.csv"));
    let reasons: Vec<&str> = p.rejections.iter().map(|r| r.reason.as_str()).collect();
    assert!(reasons[0].contains("2023-13"), "{}", reasons[0]);
    assert!(reasons[1].contains("-2.49x616"), "{}", reasons[1]);
    assert!(reasons[2].contains("empty"), "{}", reasons[2]);
    assert!(reasons[3].contains("Cyber crime"), "{}", reasons[3]);
    assert!(reasons[4].contains("7 fields"), "{}", reasons[4]);
    let shown = p.rejections[0].to_string();
    assert!(shown.contains("bad.csv") && shown.contains("line 3") && shown.contains("Month"));

    // The good rows, including one whose quoted fields hold a comma and a line break.
    assert_eq!(p.records.len(), 4);
    assert_eq!(p.lines, vec![2, 8, 11, 12]);
    let quoted = &p.records[1];
    assert_eq!(
        quoted.location_text.as_deref(),
        Some("Queen's Road, Clifton")
    );
    assert_eq!(
        quoted.context.as_deref(),
        Some("a context note\nover two lines")
    );
    // Legacy crime types map as documented.
    assert_eq!(p.records[2].incident.category, Category::ViolentCrime);
    assert_eq!(&*p.records[2].crime_type_raw, "Violent crime");
    assert_eq!(p.records[2].incident.time.day, day("2013-04-01"));
    assert_eq!(p.records[3].incident.category, Category::PublicOrder);
}

#[test]
fn the_street_slice_keeps_every_quirk_of_formats_md_section_7() {
    let p = street("slice.csv", STREET_SLICE_LF);
    let r = &p.records;
    // ASB: no Crime ID, no outcome.
    assert_eq!(r[0].incident.category, Category::AntiSocialBehaviour);
    assert_eq!(
        (r[0].crime_id.as_deref(), r[0].last_outcome.as_deref()),
        (None, None)
    );
    assert_eq!(r[0].location_text.as_deref(), Some("Julius Place"));
    // A Crime ID duplicated with different content: both kept, different ids.
    assert_eq!(r[2].crime_id, r[3].crime_id);
    assert_ne!(r[2].incident.id, r[3].incident.id);
    assert_eq!(r[3].last_outcome.as_deref(), Some("Awaiting court outcome"));
    // Four identical ASB rows with `On or near ` and no street: located, no text, four ids.
    let identical = &r[4..8];
    assert!(identical.iter().all(|x| x.location_text.is_none()
        && x.incident.location.is_some()
        && x.lsoa_code.as_deref() == Some("E01014371")));
    let distinct: HashSet<_> = identical.iter().map(|x| x.incident.id).collect();
    assert_eq!(distinct.len(), 4);
    // A row far outside the force area is kept (clipping is not the parser's job).
    assert_eq!(r[8].lsoa_name.as_deref(), Some("Leeds 004D"));
    let leeds = r[8].incident.location.unwrap().point;
    assert!((leeds.lon() - -1.718_753).abs() < 1e-9 && (leeds.lat() - 53.897_476).abs() < 1e-9);
    // `No Location`: no point, no text, no LSOA.
    assert!(r[9].incident.location.is_none() && r[9].location_text.is_none());
    assert_eq!(r[9].lsoa_code, None);
    // Provenance comes from the source file.
    assert_eq!(
        r[0].incident.provenance.agency.as_str(),
        "avon-and-somerset-police"
    );
    assert_eq!(
        r[0].incident
            .provenance
            .isa_ref
            .as_ref()
            .map(IsaRef::as_str),
        Some("ISA-2024-007")
    );
}

#[test]
fn street_ids_follow_the_documented_recipe() {
    let p = street("slice.csv", STREET_SLICE_LF);
    let drugs = stable_id(
        "police-street",
        &[
            b"2023-01",
            b"cdb81077299dc67d8fc95c0fe6392d7c9e1135a64ed13dc666ac613615c70707",
            b"-2.491616",
            b"51.424619",
            b"On or near Julius Place",
            b"E01014399",
            b"Drugs",
            b"Unable to prosecute suspect",
            b"0",
        ],
    );
    assert_eq!(p.records[1].incident.id.get(), drugs);
    let asb = |occurrence: &[u8]| {
        stable_id(
            "police-street",
            &[
                b"2023-01",
                b"",
                b"-2.357229",
                b"51.378898",
                b"On or near",
                b"E01014371",
                b"Anti-social behaviour",
                b"",
                occurrence,
            ],
        )
    };
    let got: Vec<u64> = p.records[4..8]
        .iter()
        .map(|r| r.incident.id.get())
        .collect();
    assert_eq!(got, vec![asb(b"0"), asb(b"1"), asb(b"2"), asb(b"3")]);
}

#[test]
fn location_text_keeps_only_the_street_name() {
    assert_eq!(street_name("On or near Julius Place"), Some("Julius Place"));
    assert_eq!(
        street_name("on or near  St Anne'S Avenue "),
        Some("St Anne'S Avenue")
    );
    assert_eq!(street_name("On or near"), None);
    assert_eq!(street_name("No Location"), None);
    assert_eq!(street_name("No location"), None);
    assert_eq!(
        street_name("Bristol Temple Meads"),
        Some("Bristol Temple Meads")
    );
    assert_eq!(
        street_name("Écoles"),
        Some("Écoles"),
        "non-ASCII is sliced safely"
    );
}

#[test]
fn months_parse_only_as_yyyy_mm_in_range() {
    assert_eq!(parse_month("2023-01"), Some(day("2023-01-01")));
    assert_eq!(parse_month("2024-02"), Some(day("2024-02-01")));
    for bad in [
        "2023-13",
        "2023-00",
        "2023-1",
        "2023/01",
        "1969-12",
        "2023-01-01",
        "",
        "+023-01",
    ] {
        assert_eq!(parse_month(bad), None, "{bad}");
    }
}

#[test]
fn the_crime_type_accepts_police_labels_and_slugs_but_not_partner_categories() {
    assert_eq!(
        street_category("Violence and sexual offences"),
        Some(Category::ViolentCrime)
    );
    assert_eq!(
        street_category("violent-crime"),
        Some(Category::ViolentCrime)
    );
    assert_eq!(
        street_category("public-disorder-weapons"),
        Some(Category::PublicOrder)
    );
    assert_eq!(street_category("Knife crime"), None);
    assert_eq!(street_category("child-exploitation-concern"), None);
    assert_eq!(street_category("all-crime"), None);
}

// ---------------------------------------------------------------- stop-and-search fixtures

#[test]
fn a_legacy_stop_search_outcome_maps_to_nfa_and_keeps_the_raw_label() {
    let p = stops("handmade.csv", STOP_HANDMADE);
    let legacy = &p.records[0];
    assert_eq!(legacy.outcome, StopOutcome::Nfa);
    assert_eq!(
        legacy.outcome_raw.as_deref(),
        Some("Nothing found - no further action")
    );
    assert_eq!(
        legacy.self_defined_ethnicity.as_deref(),
        Some("White - White British (W1)")
    );
    assert_eq!(legacy.part_of_operation, Some(false));
    // The two undecided legacy labels follow the documented choices.
    assert_eq!(p.records[1].outcome, StopOutcome::Other);
    assert_eq!(p.records[2].outcome, StopOutcome::Nfa);
}

#[test]
fn a_plus_one_hour_date_is_converted_to_utc() {
    let p = stops("handmade.csv", STOP_HANDMADE);
    // 2018-06-01T14:20:00+01:00 is 13:20 UTC.
    assert_eq!(p.records[0].day, day("2018-06-01"));
    assert_eq!(p.records[0].minute_of_day, Some(13 * 60 + 20));
    // 2023-06-01T00:30:00+01:00 is 23:30 UTC on the previous day.
    assert_eq!(p.records[1].day, day("2023-05-31"));
    assert_eq!(p.records[1].minute_of_day, Some(23 * 60 + 30));
    assert!(p.records[1].is_child, "under 10 is a child");
    assert_eq!(p.records[1].operation.as_deref(), Some("Operation Example"));
    // A date-only vehicle search keeps its written day and has no minute.
    assert_eq!(p.records[2].search_type, SearchType::VehicleSearch);
    assert_eq!(p.records[2].day, day("2023-06-02"));
    assert_eq!(p.records[2].minute_of_day, None);
}

#[test]
fn bad_stop_search_rows_are_rejected_naming_the_field() {
    let p = stops("handmade.csv", STOP_HANDMADE);
    assert_eq!(p.read, 6);
    assert_eq!(p.records.len(), 3);
    assert_eq!(
        rejections(&p),
        vec![
            (5, "Type"),
            (6, "Date"),
            (7, "Part of a policing operation")
        ]
    );
    assert!(p.rejections[0].reason.contains("Boat search"));
}

#[test]
fn a_group_search_gives_distinct_ids_and_sparse_rows_are_accepted() {
    let p = stops("slice.csv", STOP_SLICE);
    assert_eq!(p.read, 15);
    assert!(p.rejections.is_empty(), "{:?}", p.rejections);
    assert_eq!(p.lines, (2..=16).collect::<Vec<u64>>());
    let group = &p.records[7..15];
    assert!(group.iter().all(|r| r.day == day("2023-01-25")
        && r.minute_of_day == Some(13 * 60 + 45)
        && r.location.is_none()
        && r.gender.is_some()
        && r.age_range.is_none()
        && r.self_defined_ethnicity.is_none()
        && r.officer_defined_ethnicity.is_none()
        && r.legislation.is_none()
        && r.outcome == StopOutcome::Unknown
        && r.outcome_raw.is_none()
        && !r.is_child));
    let distinct: HashSet<u64> = group.iter().map(|r| r.id).collect();
    assert_eq!(distinct.len(), 8);
    // The date-only vehicle search.
    assert_eq!(p.records[6].search_type, SearchType::VehicleSearch);
    assert_eq!(p.records[6].minute_of_day, None);
    assert_eq!(p.records[6].removal_of_more_than_outer_clothing, None);
}

#[test]
fn stop_search_ids_follow_the_documented_recipe() {
    let src = source("slice.csv", STOP_SLICE);
    let p = parse_stop_search(STOP_SLICE, &src);
    assert_eq!(
        p.records[0].id,
        stable_id("police-stop-search", &[src.sha256.as_bytes(), b"2"])
    );
    assert_eq!(
        p.records[14].id,
        stable_id("police-stop-search", &[src.sha256.as_bytes(), b"16"])
    );
    assert_eq!(
        ids(&parse_stop_search(STOP_SLICE, &src).records, |r| r.id),
        ids(&p.records, |r| r.id)
    );
}

#[test]
fn a_file_with_only_type_date_and_gender_columns_is_accepted() {
    let bytes = b"Gender,Date,Type\r\nFemale,2023-01-25T13:45:32+00:00,Person search\r\n";
    let p = stops("three.csv", bytes);
    assert!(p.rejections.is_empty(), "{:?}", p.rejections);
    let r = &p.records[0];
    assert_eq!(r.gender.as_deref(), Some("Female"));
    assert_eq!((r.location, r.outcome), (None, StopOutcome::Unknown));
}

#[test]
fn a_stop_search_file_without_a_date_column_rejects_every_row() {
    let p = stops(
        "nodate.csv",
        b"Type,Gender\nPerson search,Male\nVehicle search,\n",
    );
    assert_eq!(p.read, 2);
    assert_eq!(rejections(&p), vec![(2, "Date"), (3, "Date")]);
}

#[test]
fn timestamps_accept_iso_8601_offsets_and_refuse_anything_else() {
    let at = |d: &str, m: u16| Some((day(d), Some(m)));
    assert_eq!(
        parse_timestamp("2023-01-01T00:05:22+00:00"),
        at("2023-01-01", 5)
    );
    assert_eq!(parse_timestamp("2023-01-01T00:05:22Z"), at("2023-01-01", 5));
    assert_eq!(
        parse_timestamp("2023-07-01T09:59:59.999+0100"),
        at("2023-07-01", 8 * 60 + 59)
    );
    assert_eq!(
        parse_timestamp("2023-12-31T23:30:00-01:00"),
        at("2024-01-01", 30)
    );
    assert_eq!(
        parse_timestamp("2023-01-05T00:00:00+00:00"),
        Some((day("2023-01-05"), None))
    );
    assert_eq!(
        parse_timestamp("2023-01-05T00:00:00.000Z"),
        Some((day("2023-01-05"), None))
    );
    assert_eq!(
        parse_timestamp("2023-01-05T00:00:00.5Z"),
        at("2023-01-05", 0)
    );
    for bad in [
        "2023-01-01T00:05:22",
        "2023-01-01",
        "2023-01-01T24:00:00+00:00",
        "2023-02-29T10:00:00+00:00",
        "2023-01-01T10:00:00+25:00",
        "2023-01-01T10:00:00+01",
        "2023-01-01T10:00:00.+01:00",
        "1970-01-01T00:30:00+01:00",
        "2023-01-01T10:00:00+01:00 ",
        "",
    ] {
        assert_eq!(parse_timestamp(bad), None, "{bad}");
    }
}

#[test]
fn decimal_digits_are_written_without_allocation() {
    let mut buf = [0u8; 20];
    assert_eq!(decimal(0, &mut buf), b"0");
    assert_eq!(decimal(16, &mut buf), b"16");
    assert_eq!(decimal(u64::MAX, &mut buf), b"18446744073709551615");
}

// ---------------------------------------------------------------- robustness

#[test]
fn empty_and_header_only_files_give_nothing() {
    for bytes in [&b""[..], b"\xEF\xBB\xBF", b"Crime ID,Month\r\n"] {
        let p = street("e.csv", bytes);
        assert_eq!((p.read, p.records.len(), p.rejections.len()), (0, 0, 0));
        let p = stops("e.csv", bytes);
        assert_eq!((p.read, p.records.len(), p.rejections.len()), (0, 0, 0));
    }
}

#[test]
fn arbitrary_bytes_never_panic_and_rejections_point_past_the_header() {
    let headers = [
        STREET_COLUMNS.join(",") + "\n",
        STOP_COLUMNS.join(",") + "\r\n",
    ];
    let alphabet = b",,,\"\r\n\n0123456789.-+:TZ aOn or nearTrueFalse\xEF\xBB\xBF\xFF";
    on_arbitrary_csv(&headers, alphabet, 7, |bytes| {
        let src = source("fuzz.csv", bytes);
        accounted(&parse_street(bytes, &src), "fuzz.csv")?;
        accounted(&parse_stop_search(bytes, &src), "fuzz.csv")
    });
}

#[test]
fn repeats_are_numbered_in_file_order_after_a_bom_with_quotes_and_rejected_rows_between() {
    // Three identical rows with a quoted, comma-holding location, a rejected row between the
    // first two, and a different row at the end; BOM and CRLF.
    let header = "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context\r\n";
    let same = ",2023-01,Avon and Somerset Constabulary,Avon and Somerset Constabulary,-2.5937,51.4545,\"On or near Broad Street, Bristol\",E01014540,Bristol 032B,Anti-social behaviour,,\r\n";
    let bad = ",2023-13,Avon and Somerset Constabulary,Avon and Somerset Constabulary,-2.5937,51.4545,On or near Broad Street,E01014540,Bristol 032B,Anti-social behaviour,,\r\n";
    let other = ",2023-01,Avon and Somerset Constabulary,Avon and Somerset Constabulary,-2.5938,51.4545,On or near Broad Street,E01014540,Bristol 032B,Anti-social behaviour,,\r\n";
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    for part in [header, same, bad, same, same, other] {
        bytes.extend_from_slice(part.as_bytes());
    }
    let p = parse_street(&bytes, &source("repeats.csv", &bytes));
    assert_eq!(p.read, 5);
    assert_eq!(p.rejections.len(), 1);
    let id = |occurrence: &[u8]| {
        stable_id(
            "police-street",
            &[
                b"2023-01",
                b"",
                b"-2.5937",
                b"51.4545",
                b"On or near Broad Street, Bristol",
                b"E01014540",
                b"Anti-social behaviour",
                b"",
                occurrence,
            ],
        )
    };
    let got: Vec<u64> = p.records.iter().map(|r| r.incident.id.get()).collect();
    assert_eq!(got[..3], [id(b"0"), id(b"1"), id(b"2")]);
    assert!(
        !got[..3].contains(&got[3]),
        "a different row keeps its own id"
    );
    assert_eq!(p.lines, vec![2, 4, 5, 6]);
}
