//! Tests for the National Grid conversion against Ordnance Survey's published values.
//!
//! Reference values:
//!
//! - OS guide (*A guide to coordinate systems in Great Britain*), Annex C worked example:
//!   E 651 409.903 m, N 313 177.270 m ↔ OSGB36 φ 52°39′27.2531″N, λ 1°43′4.5177″E.
//! - OS OSTN02 worked example (the OS transformations user guide, as reproduced in the test
//!   suite of Toby Thurston's `Geo::Coordinates::OSTN02`, "tests from the OS paper"): ETRS89
//!   φ 52.658007833°, λ 1.716073973° ↔ OSGB36 E 651 409.792 m, N 313 177.448 m.
//! - OSTN02 example in the same module's documentation: grid reference TR 143 599 (E 614 300 m,
//!   N 159 900 m) ↔ ETRS89 φ 51.297880°, λ 1.072628°.
//!
//! ETRS89 and WGS84 differ by well under a metre in Britain for this purpose, so the ETRS89
//! positions serve as WGS84 truth for the 5 m Helmert budget.

use proptest::prelude::*;

use super::*;

/// Great-circle distance in metres (haversine, mean Earth radius 6 371 008.8 m).
fn distance_m(a_lat: f64, a_lon: f64, b_lat: f64, b_lon: f64) -> f64 {
    let (p1, p2) = (a_lat.to_radians(), b_lat.to_radians());
    let dp = p2 - p1;
    let dl = (b_lon - a_lon).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * h.sqrt().asin()
}

fn dms(deg: f64, min: f64, sec: f64) -> f64 {
    deg + min / 60.0 + sec / 3600.0
}

#[test]
fn the_os_guide_worked_example_projects_back_to_its_osgb36_latitude_and_longitude() {
    let p = BngPoint::new(651_409.903, 313_177.270).unwrap();
    let (lat, lon) = p.to_osgb36_lat_lon_deg();
    let (want_lat, want_lon) = (dms(52.0, 39.0, 27.2531), dms(1.0, 43.0, 4.5177));
    assert!((lat - want_lat).abs() < 1e-6, "lat {lat} vs {want_lat}");
    assert!((lon - want_lon).abs() < 1e-6, "lon {lon} vs {want_lon}");
    let error_m = distance_m(lat, lon, want_lat, want_lon);
    println!("OS guide Annex C example, transverse Mercator step: {error_m:.6} m");
    assert!(error_m < 0.001);
}

#[test]
fn the_os_guide_worked_example_projects_forward_to_its_easting_and_northing() {
    let (e, n) = transverse_mercator(
        dms(52.0, 39.0, 27.2531).to_radians(),
        dms(1.0, 43.0, 4.5177).to_radians(),
    );
    assert!((e - 651_409.903).abs() < 0.001, "easting {e}");
    assert!((n - 313_177.270).abs() < 0.001, "northing {n}");
}

#[test]
fn published_ostn_control_points_convert_to_within_five_metres_of_their_wgs84_positions() {
    // (name, easting m, northing m, ETRS89 latitude °, ETRS89 longitude °)
    let points = [
        (
            "OS OSTN02 worked example",
            651_409.792,
            313_177.448,
            52.658_007_833,
            1.716_073_973,
        ),
        ("TR 143 599", 614_300.0, 159_900.0, 51.297_880, 1.072_628),
    ];
    for (name, e, n, want_lat, want_lon) in points {
        let got = BngPoint::new(e, n).unwrap().to_lonlat().unwrap();
        let error_m = distance_m(got.lat(), got.lon(), want_lat, want_lon);
        println!(
            "{name}: got {:.7}, {:.7}; published {want_lat}, {want_lon}; error {error_m:.2} m",
            got.lat(),
            got.lon()
        );
        assert!(error_m <= 5.0, "{name}: {error_m} m");
    }
}

#[test]
fn a_bristol_grid_reference_lands_in_bristol() {
    let p = BngPoint::new(358_900.0, 172_900.0)
        .unwrap()
        .to_lonlat()
        .unwrap();
    assert!((-2.7..-2.5).contains(&p.lon()), "{p:?}");
    assert!((51.4..51.5).contains(&p.lat()), "{p:?}");
}

#[test]
fn positions_off_the_grid_or_not_finite_are_refused() {
    assert_eq!(BngPoint::new(-1.0, 100.0).unwrap_err().field(), "easting");
    assert_eq!(
        BngPoint::new(700_000.5, 100.0).unwrap_err().field(),
        "easting"
    );
    assert_eq!(
        BngPoint::new(100.0, 1_300_001.0).unwrap_err().field(),
        "northing"
    );
    assert_eq!(
        BngPoint::new(f64::NAN, 100.0).unwrap_err().field(),
        "easting"
    );
    assert_eq!(
        BngPoint::new(100.0, f64::INFINITY).unwrap_err().field(),
        "northing"
    );
    assert!(BngPoint::new(0.0, 0.0).is_ok());
    assert!(BngPoint::new(700_000.0, 1_300_000.0).is_ok());
}

#[test]
fn a_round_trip_through_wgs84_returns_within_a_centimetre() {
    let mut worst_m: f64 = 0.0;
    for (e, n) in [
        (358_900.0, 172_900.0),
        (651_409.903, 313_177.270),
        (100_000.0, 20_000.0),
        (530_000.0, 180_000.0),
        (200_000.0, 900_000.0),
        (450_000.0, 1_200_000.0),
    ] {
        let back =
            BngPoint::from_lonlat(BngPoint::new(e, n).unwrap().to_lonlat().unwrap()).unwrap();
        let error_m = (back.easting_m() - e).hypot(back.northing_m() - n);
        worst_m = worst_m.max(error_m);
        assert!(error_m < 0.01, "({e}, {n}) came back as {back:?}");
    }
    println!("worst round-trip error {worst_m:.6} m");
}

proptest! {
    #[test]
    fn every_grid_point_in_great_britain_round_trips_within_a_centimetre(
        e in 50_000.0..650_000.0_f64,
        n in 10_000.0..1_200_000.0_f64,
    ) {
        let p = BngPoint::new(e, n).unwrap();
        let back = BngPoint::from_lonlat(p.to_lonlat().unwrap()).unwrap();
        prop_assert!((back.easting_m() - e).hypot(back.northing_m() - n) < 0.01);
    }
}
