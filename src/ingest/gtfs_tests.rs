//! Tests for the GTFS parser: the synthetic feed in `tests/fixtures/gtfs/` (see its README),
//! variants of it written to temporary folders, and fixed-seed property tests on zip bytes.

use std::io::Write;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use super::*;
use crate::domain::Agency;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gtfs");
const FEED_ZIP: &[u8] = include_bytes!("../../tests/fixtures/gtfs/feed.zip");

fn source(name: &str) -> SourceFile {
    SourceFile {
        name: name.to_owned(),
        sha256: "0".repeat(64),
        agency: Agency::new("bods").unwrap(),
        isa_ref: None,
        progress: crate::ingest::report::Progress::default(),
    }
}

fn fixture_folder() -> PathBuf {
    Path::new(FIXTURES).join("feed")
}

fn fixture_file(name: &str) -> String {
    std::fs::read_to_string(fixture_folder().join(name)).unwrap()
}

/// A copy of the fixture folder with `changes` applied: `Some(text)` replaces a file, `None`
/// removes it.
fn variant(changes: &[(&str, Option<&str>)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture_folder()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    for (name, change) in changes {
        let path = dir.path().join(name);
        match change {
            Some(text) => std::fs::write(path, text).unwrap(),
            None => std::fs::remove_file(path).unwrap(),
        }
    }
    dir
}

fn parse(path: &Path) -> GtfsFeed {
    parse_gtfs(path, &source("feed")).unwrap()
}

fn route<'f>(feed: &'f GtfsFeed, short: &str, long: &str) -> &'f Route {
    feed.routes
        .records
        .iter()
        .find(|r| r.short_name == short && r.long_name == long)
        .unwrap()
}

fn atco(codes: &[&str]) -> Vec<AtcoCode> {
    codes.iter().map(|c| AtcoCode::new(*c).unwrap()).collect()
}

fn point(lon: f64, lat: f64) -> LonLat {
    LonLat::new(lon, lat).unwrap()
}

fn stop_location(feed: &GtfsFeed, id: &str) -> LonLat {
    feed.stops
        .records
        .iter()
        .find(|s| s.id.as_str() == id)
        .unwrap()
        .location
}

#[test]
fn the_fixture_feed_parses_without_rejections() {
    let feed = parse(&fixture_folder());
    assert!(
        feed.stops.rejections.is_empty(),
        "{:?}",
        feed.stops.rejections
    );
    assert!(
        feed.routes.rejections.is_empty(),
        "{:?}",
        feed.routes.rejections
    );
    assert!(
        feed.support_rejections.is_empty(),
        "{:?}",
        feed.support_rejections
    );
    assert_eq!(feed.stops.read, 3);
    assert_eq!(feed.stops.lines, vec![2, 3, 4]);
    assert_eq!(feed.stops.records[0].name, "Synthetic Stop, North");
    assert!(feed.stops.records.iter().all(|s| s.active));
    assert_eq!(feed.routes.read, 2);
    assert_eq!(feed.routes.lines, vec![2, 3], "CRLF lines are counted");
}

#[test]
fn folder_and_zip_give_identical_results() {
    let folder = parse(&fixture_folder());
    let zip = parse(&Path::new(FIXTURES).join("feed.zip"));
    assert_eq!(folder, zip);

    // Also with rejections present and the feed's own names in them.
    let dir = variant(&[(
        "stops.txt",
        Some(
            "stop_id,stop_name,stop_lat,stop_lon\nBAD-ID,X,51.4,-2.5\n0100SYN00001,N,51.46,-2.59\n0100SYN00002,S,51.45,-2.58\n0100SYN00003,E,51.455,-2.57\n",
        ),
    )]);
    let zipped = dir.path().join("variant.zip");
    {
        let mut w = zip::ZipWriter::new(File::create(&zipped).unwrap());
        for name in [
            "stops.txt",
            "routes.txt",
            "trips.txt",
            "stop_times.txt",
            "shapes.txt",
        ] {
            w.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(&std::fs::read(dir.path().join(name)).unwrap())
                .unwrap();
        }
        w.finish().unwrap();
    }
    let a = parse_gtfs(dir.path(), &source("feed")).unwrap();
    let b = parse_gtfs(&zipped, &source("feed")).unwrap();
    assert_eq!(a.stops.rejections.len(), 1);
    assert_eq!(a, b);
}

#[test]
fn rejections_name_the_feed_and_file() {
    let dir = variant(&[(
        "stops.txt",
        Some(
            "stop_id,stop_name,stop_lat,stop_lon\nBAD-ID,X,51.4,-2.5\n0100SYN00001,N,51.46,-2.59\n0100SYN00002,S,51.45,-2.58\n0100SYN00003,E,51.455,-2.57\n",
        ),
    )]);
    let feed = parse_gtfs(dir.path(), &source("feed.zip")).unwrap();
    assert_eq!(feed.stops.rejections[0].file, "feed.zip/stops.txt");
}

#[test]
fn the_shaped_route_line_follows_the_shape_order_even_when_shapes_rows_are_shuffled() {
    let expected = vec![
        point(-2.59, 51.46),
        point(-2.585, 51.459),
        point(-2.578, 51.457),
        point(-2.57, 51.455),
    ];
    let feed = parse(&fixture_folder());
    let r1 = route(&feed, "1", "North - East");
    assert_eq!(r1.line, expected);
    assert_eq!(r1.mode, RouteMode::Bus);
    // The shaped trip is T1B (T1A has no shape_id); its stops are in stop_sequence order.
    assert_eq!(r1.stops, atco(&["0100SYN00001", "0100SYN00003"]));

    let shuffled = "shape_id,shape_pt_sequence,shape_pt_lon,shape_pt_lat\r\n\
                    SH1,3,-2.5780,51.4570\r\n\
                    SH9,2,-2.6010,51.4010\r\n\
                    SH1,1,-2.5900,51.4600\r\n\
                    SH1,4,-2.5700,51.4550\r\n\
                    SH9,1,-2.6000,51.4000\r\n\
                    SH1,2,-2.5850,51.4590\r\n";
    let dir = variant(&[("shapes.txt", Some(shuffled))]);
    let feed = parse(dir.path());
    assert_eq!(route(&feed, "1", "North - East").line, expected);
}

#[test]
fn the_unshaped_route_line_follows_stop_sequence() {
    let feed = parse(&fixture_folder());
    let r2 = route(&feed, "", "Synthetic Coach Link, South");
    // stop_times.txt lists T2A as sequences 7, 12, 3.
    let order = ["0100SYN00001", "0100SYN00003", "0100SYN00002"];
    assert_eq!(r2.stops, atco(&order));
    let line: Vec<LonLat> = order.iter().map(|id| stop_location(&feed, id)).collect();
    assert_eq!(r2.line, line);
}

#[test]
fn without_shapes_every_route_line_follows_stop_sequence() {
    let dir = variant(&[("shapes.txt", None)]);
    let feed = parse(dir.path());
    assert!(
        feed.routes.rejections.is_empty(),
        "{:?}",
        feed.routes.rejections
    );
    // R1's first trip by trip_id is T1A.
    let r1 = route(&feed, "1", "North - East");
    assert_eq!(r1.stops, atco(&["0100SYN00001", "0100SYN00003"]));
    assert_eq!(
        r1.line,
        vec![
            stop_location(&feed, "0100SYN00001"),
            stop_location(&feed, "0100SYN00003")
        ]
    );
}

#[test]
fn route_types_map_to_modes() {
    for (t, mode) in [
        (3, RouteMode::Bus),
        (200, RouteMode::Bus),
        (299, RouteMode::Bus),
        (700, RouteMode::Bus),
        (799, RouteMode::Bus),
        (2, RouteMode::Rail),
        (100, RouteMode::Rail),
        (199, RouteMode::Rail),
        (4, RouteMode::Ferry),
        (1000, RouteMode::Ferry),
        (1099, RouteMode::Ferry),
        (0, RouteMode::Other),
        (1, RouteMode::Other),
        (11, RouteMode::Other),
        (800, RouteMode::Other),
        (-3, RouteMode::Other),
    ] {
        assert_eq!(route_mode(t), mode, "route_type {t}");
    }
    let feed = parse(&fixture_folder());
    assert_eq!(
        route(&feed, "", "Synthetic Coach Link, South").mode,
        RouteMode::Bus,
        "200 is coach"
    );
}

#[test]
fn route_ids_are_stable_and_depend_on_agency_and_route() {
    assert_eq!(route_id("SYN", "R1"), route_id("SYN", "R1"));
    assert_ne!(route_id("SYN", "R1"), route_id("SYN", "R2"));
    assert_ne!(route_id("SYN", "R1"), route_id("OTH", "R1"));
    assert!(route_id("SYN", "R1").get() < 1 << 31);
    let feed = parse(&fixture_folder());
    assert_eq!(feed.routes.records[0].id, route_id("SYN", "R1"));
}

#[test]
fn a_missing_stops_file_is_a_gtfs_error_naming_it() {
    let dir = variant(&[("stops.txt", None)]);
    let err = parse_gtfs(dir.path(), &source("feed")).unwrap_err();
    assert!(
        matches!(&err, GtfsError::MissingFile { file, .. } if file == "feed/stops.txt"),
        "{err:?}"
    );
    assert!(err.to_string().contains("stops.txt"), "{err}");
}

#[test]
fn missing_stop_times_is_an_error_only_when_shapes_is_missing_too() {
    let dir = variant(&[("stop_times.txt", None)]);
    let feed = parse(dir.path());
    let r1 = route(&feed, "1", "North - East");
    assert!(r1.stops.is_empty());
    assert_eq!(r1.line.len(), 4);
    assert_eq!(feed.routes.rejections.len(), 1, "R2 has no shape");
    assert_eq!(feed.routes.rejections[0].field, "stop_sequence");

    let dir = variant(&[("stop_times.txt", None), ("shapes.txt", None)]);
    let err = parse_gtfs(dir.path(), &source("feed")).unwrap_err();
    assert!(
        matches!(&err, GtfsError::MissingFile { file, .. } if file == "feed/stop_times.txt"),
        "{err:?}"
    );
}

#[test]
fn a_stop_with_a_non_atco_id_is_rejected_naming_file_line_and_stop_id() {
    let stops = format!(
        "{}BRISTOL-1,Not ATCO,51.45,-2.58,0,,,\n",
        fixture_file("stops.txt")
    );
    let dir = variant(&[("stops.txt", Some(&stops))]);
    let feed = parse_gtfs(dir.path(), &source("feed.zip")).unwrap();
    assert_eq!(feed.stops.records.len(), 3);
    assert_eq!(feed.stops.read, 4);
    let r = &feed.stops.rejections[0];
    assert_eq!(
        (r.file.as_str(), r.line, r.field.as_str()),
        ("feed.zip/stops.txt", 6, "stop_id"),
        "{r}"
    );
}

#[test]
fn the_station_is_not_a_stop() {
    let feed = parse(&fixture_folder());
    assert!(
        feed.stops
            .records
            .iter()
            .all(|s| s.id.as_str() != "0100SYN09999")
    );
    assert_eq!(feed.skipped_non_stops, 1);
    assert_eq!(
        feed.stops.read,
        (feed.stops.records.len() + feed.stops.rejections.len()) as u64
    );
}

#[test]
fn a_route_with_a_one_point_shape_is_rejected_naming_shape_id() {
    let shapes = "shape_id,shape_pt_lat,shape_pt_lon,shape_pt_sequence\nSH1,51.46,-2.59,1\n";
    let dir = variant(&[("shapes.txt", Some(shapes))]);
    let feed = parse_gtfs(dir.path(), &source("feed")).unwrap();
    let r = &feed.routes.rejections[0];
    assert_eq!(
        (r.file.as_str(), r.line, r.field.as_str()),
        ("feed/routes.txt", 2, "shape_id"),
        "{r}"
    );
    assert_eq!(
        feed.routes.read,
        (feed.routes.records.len() + feed.routes.rejections.len()) as u64
    );
}

#[test]
fn bad_rows_in_supporting_files_are_reported_there() {
    let stop_times = format!(
        "{}T2A,9:20:00,9:20:00,0100SYN09999,20,1\nT2A,9:20:00,9:20:00,0100SYN00002,x,1\n",
        fixture_file("stop_times.txt")
    );
    let dir = variant(&[("stop_times.txt", Some(&stop_times))]);
    let feed = parse(dir.path());
    let got: Vec<(&str, u64, &str)> = feed
        .support_rejections
        .iter()
        .map(|r| (r.file.as_str(), r.line, r.field.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("feed/stop_times.txt", 9, "stop_id"),
            ("feed/stop_times.txt", 10, "stop_sequence")
        ]
    );
}

#[test]
fn a_plain_file_that_is_not_a_zip_is_not_a_feed() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(b"stop_id\n").unwrap();
    let err = parse_gtfs(file.path(), &source("x")).unwrap_err();
    assert!(matches!(err, GtfsError::NotAFeed { .. }), "{err:?}");
    let err = parse_gtfs(Path::new("/nonexistent/feed.zip"), &source("x")).unwrap_err();
    assert!(matches!(err, GtfsError::Io { .. }), "{err:?}");
}

fn parse_zip_bytes(bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(bytes).unwrap();
    if let Ok(feed) = parse_gtfs(file.path(), &source("fuzz.zip")) {
        prop_assert_eq!(
            feed.stops.read,
            (feed.stops.records.len() + feed.stops.rejections.len()) as u64
        );
        prop_assert_eq!(
            feed.routes.read,
            (feed.routes.records.len() + feed.routes.rejections.len()) as u64
        );
    }
    Ok(())
}

#[test]
fn random_bytes_as_a_zip_never_panic() {
    let config = Config {
        cases: 200,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[13; 32]));
    runner
        .run(&proptest::collection::vec(any::<u8>(), 0..2000), |bytes| {
            parse_zip_bytes(&bytes)
        })
        .unwrap();

    // Corrupting bytes of the real fixture zip reaches past the archive header.
    let mutations = proptest::collection::vec((0..FEED_ZIP.len(), any::<u8>()), 1..8);
    let mut runner = TestRunner::new_with_rng(
        config_small(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[17; 32]),
    );
    runner
        .run(&mutations, |changes| {
            let mut bytes = FEED_ZIP.to_vec();
            for (at, b) in changes {
                bytes[at] = b;
            }
            parse_zip_bytes(&bytes)
        })
        .unwrap();
}

fn config_small() -> Config {
    Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    }
}
