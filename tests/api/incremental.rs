//! Issue 15, point 1: a running server applies a change by reloading only its kind, and adds
//! an import's rows as a run beside the base index instead of rebuilding everything.
//!
//! Before: every change (an import, a user, a review) reloaded the whole store and rebuilt
//! every index, moving the data version; at 10M incidents a new user waited 605 s and an
//! import 19.5 s. These tests check the structure (what is rebuilt), not the time.

use std::path::Path;

use serde_json::Value;

use crate::support::{TestApp, cli_ok, private_demo, spawn_serve, wait_until};

fn serve(dir: &Path) -> TestApp {
    spawn_serve(dir, |_| {})
}

fn add_user(dir: &Path, name: &str) -> Vec<(String, String)> {
    let out = cli_ok(
        dir,
        &["user", "add", "--name", name, "--role", "vru_analyst"],
    );
    let token = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned();
    vec![("Authorization".to_owned(), format!("Bearer {token}"))]
}

fn health(app: &TestApp) -> Value {
    app.get("/health").json()
}

#[test]
fn a_user_added_while_serving_signs_in_without_any_served_data_being_rebuilt() {
    let dir = private_demo();
    let app = serve(dir.path());
    let before = health(&app);
    let headers = add_user(dir.path(), "late-analyst");
    wait_until("the new user's sign-in", || {
        app.get_headers("/api/v1/meta", &headers).status == 200
    });
    let after = health(&app);
    // The incidents and reference layers were not reloaded: the version tiles and analyses
    // are cached by did not move.
    assert_eq!(after["data_version"], before["data_version"]);
    assert_eq!(after["incident_runs"], 0);
}

#[test]
fn an_import_into_a_running_server_is_served_as_a_run_beside_the_unchanged_base() {
    let dir = private_demo();
    let headers = add_user(dir.path(), "importer");
    let app = serve(dir.path());
    let meta = |app: &TestApp| app.get_headers("/api/v1/meta", &headers).json();
    let indexed = |app: &TestApp| meta(app)["counts"]["incidents_indexed"].as_u64().unwrap();
    let hexagon_total = |app: &TestApp| -> u64 {
        app.get_headers(
            "/api/v1/hexagons?res=5&bbox=-180,-90,180,90&from=2023-01-01&to=2023-01-31",
            &headers,
        )
        .json()["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["properties"]["count"].as_u64().unwrap())
            .sum()
    };
    let (v0, n0, h0) = (
        health(&app)["data_version"].clone(),
        indexed(&app),
        hexagon_total(&app),
    );
    assert_eq!(health(&app)["incident_runs"], 0);

    let file = dir.path().join("street.csv");
    let header = "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context";
    let rows: Vec<String> = [(-2.589, 51.454), (-2.5901, 51.4542), (-2.6, 51.46)]
        .iter()
        .map(|(lon, lat)| {
            format!(
                ",2023-01,A,A,{lon},{lat},On or near Broad Street,E01014540,Bristol 032B,Drugs,,"
            )
        })
        .collect();
    std::fs::write(&file, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    cli_ok(
        dir.path(),
        &["import", "police-street", file.to_str().unwrap()],
    );

    wait_until("the import on the map", || indexed(&app) == n0 + 3);
    assert_eq!(hexagon_total(&app), h0 + 3);
    let h = health(&app);
    assert_eq!(
        h["incident_runs"], 1,
        "the import is a run beside the base: {h}"
    );
    assert_eq!(h["data_version"], v0.as_u64().unwrap() + 1);
}
