//! `saferplaces analyse` as analysts and pipelines call it (issue 6, point 5): the real binary,
//! the flags as the issue writes them, JSON on stdout.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn analyse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_saferplaces"))
        .arg("analyse")
        .args(args)
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

#[test]
fn knox_on_the_chicago_arson_example_gives_the_near_repeat_calculator_table() {
    let file =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/realdata/chicago_arson.csv");
    if !file.exists() {
        eprintln!("skip: {} not found (../shared is absent)", file.display());
        return;
    }
    let args = [
        "knox",
        "--input",
        file.to_str().unwrap(),
        "--no-header",
        "--columns",
        "x,y,date",
        "--planar",
        "--metric",
        "manhattan",
        "--nrc",
        "--space-band",
        "200",
        "--space-bands",
        "3",
        "--time-band",
        "1",
        "--time-bands",
        "3",
        "--permutations",
        "99",
        "--seed",
        "1",
        "--json",
    ];
    let out = analyse(&args);
    let v = json(&out);
    // The Near Repeat Calculator 1.3's published observed table for this file (rows: same
    // location, three 200 m bands, beyond; columns: three 1-day bands, beyond).
    let want = serde_json::json!([
        [0, 2, 0, 8],
        [9, 1, 1, 45],
        [4, 0, 0, 140],
        [6, 0, 0, 234],
        [393, 710, 770, 133_658]
    ]);
    assert_eq!(v["observed"], want);
    let expected = v["expected"].as_array().unwrap();
    let p = v["p"].as_array().unwrap();
    assert_eq!((expected.len(), p.len()), (5, 5));
    for (e_row, p_row) in expected.iter().zip(p) {
        assert_eq!(e_row.as_array().unwrap().len(), 4);
        for pv in p_row.as_array().unwrap() {
            let pv = pv.as_f64().unwrap();
            assert!((0.01..=1.0).contains(&pv), "p = (k + 1) / 100: {pv}");
        }
    }
    assert_eq!(v["settings"]["metric"], "manhattan");
    assert_eq!(v["settings"]["permutations"], 99);
    assert_eq!(v["settings"]["seed"], 1);
    // The same seed gives the same answer.
    assert_eq!(json(&analyse(&args))["p"], v["p"]);
}

#[test]
fn gistar_reads_lon_lat_csv_and_echoes_its_settings_and_a_bad_row_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.csv");
    // A cluster of 40 events on one spot in central Bristol and a sparse scatter around it.
    let mut csv = String::from("lon,lat\n");
    for _ in 0..40 {
        csv.push_str("-2.5937,51.4545\n");
    }
    for i in 0..60 {
        let _ = writeln!(
            csv,
            "{:.5},{:.5}",
            -2.64 + f64::from(i % 10) * 0.01,
            51.42 + f64::from(i / 10) * 0.01
        );
    }
    std::fs::write(&file, &csv).unwrap();
    let path = file.to_str().unwrap();
    let v = json(&analyse(&[
        "gistar", "--input", path, "--res", "8", "--k", "1", "--json",
    ]));
    assert_eq!(v["settings"]["res"], 8);
    assert_eq!(v["settings"]["k"], 1);
    let cells = v["cells"].as_array().unwrap();
    assert!(!cells.is_empty());
    for c in cells {
        assert_eq!(c["h3"].as_str().unwrap().len(), 15, "{c}");
        assert!(c["count"].is_number() && c["bin"].is_i64(), "{c}");
    }
    let cluster = h3o::LatLng::new(51.4545, -2.5937)
        .unwrap()
        .to_cell(h3o::Resolution::Eight)
        .to_string();
    let hot = cells.iter().find(|c| c["h3"] == cluster.as_str()).unwrap();
    assert!(hot["count"].as_f64().unwrap() >= 40.0, "{hot}");
    // Significant after the FDR correction (which raises the bar for the 99 % bin).
    assert!(hot["bin"].as_i64().unwrap() >= 2, "{hot}");
    assert!(hot["z"].as_f64().unwrap() > 2.58 && hot["p"].as_f64().unwrap() < 0.01);

    // A bad latitude on line 5: refused, naming the file and the line.
    let csv = "lon,lat\n-2.59,51.45\n-2.59,51.45\n-2.59,51.45\n-2.59,north\n-2.59,51.45\n";
    std::fs::write(&file, csv).unwrap();
    let out = analyse(&["gistar", "--input", path, "--res", "8", "--json"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("events.csv line 5: lat"), "{err}");
}
