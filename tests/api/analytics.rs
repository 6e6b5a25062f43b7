//! Emerging hot spots and near-repeat risk windows over HTTP (issue 6, points 4 and 6).

use std::fmt::Write as _;
use std::process::Command;

use crate::support::{TestApp, spawn_app, spawn_command};

const WINDOW: &str = "from=2024-01-01&to=2025-12-31";

fn get_tile(app: &TestApp, user: Option<&str>, path: &str) -> (u16, Vec<u8>) {
    let (status, _, body) = crate::tiles::get_bytes(app, user, path, &[]);
    (status, body)
}

/// The tile at zoom `z` holding a cell's centre.
fn tile_of(h3: &str, zoom: u32) -> (u32, u32) {
    let cell: h3o::CellIndex = h3.parse().unwrap();
    let centre = h3o::LatLng::from(cell);
    let tiles = f64::from(1u32 << zoom);
    let column = ((centre.lng() + 180.0) / 360.0 * tiles).floor() as u32;
    let lat = centre.lat().to_radians();
    let row = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * tiles)
        .floor() as u32;
    (column, row)
}

#[test]
fn emerging_hot_spots_come_as_json_and_tiles_with_disclosure_for_the_public() {
    let app = spawn_app();
    let q = format!("/api/v1/emerging?res=8&{WINDOW}");
    let exact = app.get_as("vru_analyst", &q, &[]).json();
    assert_eq!(exact["settings"]["method"], "emerging_hot_spot_analysis");
    assert_eq!(exact["settings"]["res"], 8);
    assert_eq!(
        exact["steps"].as_array().unwrap().len(),
        24,
        "24 monthly steps"
    );
    assert_eq!(exact["disclosure"]["controlled"], false);
    let cells = exact["cells"].as_array().unwrap();
    assert!(!cells.is_empty());
    for c in cells {
        let code = c["code"].as_i64().unwrap();
        assert!((-8..=8).contains(&code) && code != 0, "{c}");
        assert!(c["label"].as_str().unwrap().ends_with("spot"), "{c}");
        assert!(c["trend"]["p"].is_number(), "{c}");
    }
    // The summary counts every cell of the universe, the listed ones included.
    let listed: u64 = exact["summary"]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r[0] != 0)
        .map(|r| r[2].as_u64().unwrap())
        .sum();
    assert_eq!(listed, cells.len() as u64);
    // The demo has an area that heats up in its last year: some cell is new, consecutive or
    // intensifying.
    assert!(
        cells
            .iter()
            .any(|c| (1..=3).contains(&c["code"].as_i64().unwrap())),
        "an emerging pattern in the demo data"
    );
    // Weekly steps for analysts; aggregate roles are refused them.
    let weekly = app
        .get_as(
            "vru_analyst",
            "/api/v1/emerging?res=7&from=2025-01-01&to=2025-06-30&step=week",
            &[],
        )
        .json();
    assert_eq!(weekly["settings"]["cube"]["step"], "week");
    assert_eq!(
        app.get("/api/v1/emerging?res=7&step=week").status,
        400,
        "no weekly steps for the public"
    );
    assert_eq!(app.get("/api/v1/emerging?res=12").status, 400);

    let public = app.get(&q).json();
    assert_eq!(public["disclosure"]["controlled"], true);
    for c in public["cells"].as_array().unwrap() {
        assert!(
            c.get("trend").is_none() && c.get("final_z").is_none(),
            "{c}"
        );
        match c["count"].as_u64() {
            Some(n) => assert!(n % 5 == 0, "{c}"),
            None => assert_eq!(c["suppressed"], true),
        }
    }
    // The same codes in the tile layer (z 10 → res 8).
    let (status, body) = get_tile(
        &app,
        Some("vru_analyst"),
        &format!("/tiles/emerging/10/504/340?{WINDOW}"),
    );
    assert_eq!(status, 200);
    let Some(tile) = crate::tiles::decode(&body) else {
        return;
    };
    let codes: std::collections::BTreeMap<&str, i64> = cells
        .iter()
        .map(|c| (c["h3"].as_str().unwrap(), c["code"].as_i64().unwrap()))
        .collect();
    let feats = tile["layers"]["emerging"]["features"].as_array().unwrap();
    assert!(!feats.is_empty());
    for f in feats {
        let p = &f["properties"];
        assert_eq!(
            Some(&p["code"].as_i64().unwrap()),
            codes.get(p["h3"].as_str().unwrap()),
            "{p}"
        );
    }
}

#[test]
fn risk_windows_are_served_to_analysts_and_coarsened_for_the_public() {
    let app = spawn_app();
    let exact = app
        .get_as("vru_analyst", "/api/v1/risk-windows", &[])
        .json();
    let as_of = exact["as_of"].as_str().unwrap().to_owned();
    assert!(
        !exact["bands"].as_array().unwrap().is_empty(),
        "the demo's near-repeat chains are significant: {}",
        exact["warnings"]
    );
    let windows = exact["windows"].as_array().unwrap();
    assert!(!windows.is_empty());
    for w in windows {
        assert_eq!(w["h3"].as_str().unwrap().len(), 15);
        assert!(w["to"].as_str().unwrap() >= as_of.as_str(), "{w}");
        assert!(w["from"].as_str().unwrap() <= w["to"].as_str().unwrap());
        assert!(w["knox_ratio"].as_f64().unwrap() > 1.0);
        assert!(w["incidents"].as_u64().unwrap() >= 1);
    }
    let public = app.get("/api/v1/risk-windows").json();
    assert_eq!(public["disclosure"]["controlled"], true);
    let coarse = public["windows"].as_array().unwrap();
    assert!(
        !coarse.is_empty(),
        "the demo's busiest areas pass the threshold"
    );
    assert!(coarse.len() < windows.len());
    for w in coarse {
        assert!(
            w.get("incidents").is_none(),
            "no counts for the public: {w}"
        );
        // Whole calendar months (issue 13, point 2; was whole weeks): from the 1st to the
        // last day of a month.
        let from: saferplaces::domain::Day = w["from"].as_str().unwrap().parse().unwrap();
        let to: saferplaces::domain::Day = w["to"].as_str().unwrap().parse().unwrap();
        assert_eq!(from, from.month_start(), "{w}");
        assert_eq!(to.plus_days(1), to.plus_days(1).month_start(), "{w}");
        let r = w["knox_ratio"].as_f64().unwrap();
        assert!((r * 10.0 - (r * 10.0).round()).abs() < 1e-9, "{w}");
    }
    assert_eq!(app.get("/api/v1/risk-windows?as_of=nope").status, 400);
    // The tile layer: the analyst sees res-9 cells with counts, the public res-7 cells
    // without; each draws the window of the cell listed by the endpoint.
    for (user, listed, res) in [(Some("vru_analyst"), windows, 9u8), (None, coarse, 7)] {
        let first = listed[0]["h3"].as_str().unwrap();
        let (x, y) = tile_of(first, 12);
        let (status, body) = get_tile(&app, user, &format!("/tiles/risk/12/{x}/{y}"));
        assert_eq!(status, 200, "the tile holding {first}");
        let Some(tile) = crate::tiles::decode(&body) else {
            return;
        };
        let feats = tile["layers"]["risk"]["features"].as_array().unwrap();
        let f = feats
            .iter()
            .find(|f| f["properties"]["h3"] == first)
            .unwrap_or_else(|| panic!("{first} drawn"));
        let cell: h3o::CellIndex = first.parse().unwrap();
        assert_eq!(u8::from(cell.resolution()), res);
        let p = &f["properties"];
        assert!(p["to"].as_str().unwrap() >= as_of.as_str(), "{p}");
        if user.is_some() {
            assert!(p["count"].as_u64().unwrap() >= 1, "{p}");
        } else {
            assert!(p.get("count").is_none() && p["suppressed"] == true, "{p}");
        }
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A year of incidents over south Bristol with near-repeat chains, as an agency CSV.
fn history_csv() -> String {
    let mut s = String::from("ref,category,date,lon,lat,involves_child\n");
    let mut state = 11u64;
    let mut next =
        || (saferplaces::synthetic::rng::splitmix64(&mut state) >> 11) as f64 / (1u64 << 53) as f64;
    let start = days_from_civil(2024, 1, 1);
    let date = history_date;
    for i in 0..400 {
        let d = start + (next() * 330.0) as i64;
        let _ = writeln!(
            s,
            "H{i},burglary,{},{:.6},{:.6},false",
            date(d),
            -2.66 + next() * 0.14,
            51.41 + next() * 0.06
        );
    }
    for i in 0..80 {
        let d = start + (next() * 320.0) as i64;
        let (lon, lat) = (-2.66 + next() * 0.14, 51.41 + next() * 0.06);
        for k in 0..3 {
            let _ = writeln!(
                s,
                "C{i}-{k},burglary,{},{:.6},{:.6},false",
                date(d + k),
                lon + (next() - 0.5) * 0.0006,
                lat + (next() - 0.5) * 0.0004
            );
        }
    }
    s
}

fn import(data: &std::path::Path, name: &str, csv: &str) {
    let file = data.join(name);
    std::fs::write(&file, csv).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_saferplaces"))
        .args([
            "import",
            "incidents",
            "--agency",
            "test-police",
            "--data-dir",
        ])
        .arg(data)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Adds an analyst to the store in `data` and returns the token.
fn add_analyst(data: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_saferplaces"))
        .args([
            "user",
            "add",
            "--name",
            "risk-test",
            "--role",
            "vru_analyst",
            "--data-dir",
        ])
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn a_new_incident_gets_its_risk_window_as_soon_as_the_server_reloads() {
    let data = tempfile::tempdir().unwrap();
    // The demo users exist only in the demo store: add an analyst to this one.
    let app = spawn_command({
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_saferplaces"));
        cmd.args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data.path());
        cmd
    });
    let token = add_analyst(data.path());
    let auth = format!("Bearer {token}");
    let risk = || app.get_with("/api/v1/risk-windows", &[("Authorization", auth.as_str())]);
    import(data.path(), "history.csv", &history_csv());
    // Wait for the reload that brings the history in.
    let started = std::time::Instant::now();
    let before = loop {
        let r = risk();
        if r.status == 200 {
            let v = r.json();
            if v["as_of"].is_string() && v["calibration"]["current"] == true {
                break v;
            }
        }
        assert!(started.elapsed().as_secs() < 60, "the history never loaded");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(
        !before["bands"].as_array().unwrap().is_empty(),
        "the chains are significant: {}",
        before["warnings"]
    );
    let as_of = before["as_of"].as_str().unwrap().to_owned();
    // One new incident the day after, far from every earlier one (north of the history box).
    let new_day = {
        let d: Vec<i64> = as_of.split('-').map(|p| p.parse().unwrap()).collect();
        days_from_civil(d[0], d[1], d[2]) + 1
    };
    let (lon, lat) = (-2.5400, 51.5000);
    let expected_cell = h3o::LatLng::new(lat, lon)
        .unwrap()
        .to_cell(h3o::Resolution::Nine)
        .to_string();
    let mut csv = String::from("ref,category,date,lon,lat,involves_child\n");
    let _ = writeln!(
        csv,
        "NEW-1,burglary,{},{lon},{lat},false",
        history_date(new_day)
    );
    assert!(
        !before["windows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["h3"] == expected_cell.as_str())
    );
    import(data.path(), "new.csv", &csv);
    let imported = std::time::Instant::now();
    let after = loop {
        let v = risk().json();
        if v["windows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["h3"] == expected_cell.as_str())
        {
            break v;
        }
        assert!(
            imported.elapsed().as_secs() < 30,
            "the new incident's window never appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    eprintln!(
        "risk window of the new incident served {:.3} s after its import finished (calibration current: {})",
        imported.elapsed().as_secs_f64(),
        after["calibration"]["current"]
    );
    assert_eq!(after["as_of"], history_date(new_day).as_str());
    let w = after["windows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["h3"] == expected_cell.as_str())
        .unwrap();
    assert_eq!(w["from"], history_date(new_day).as_str());
    assert_eq!(w["incidents"], 1);
    // The calibration of the new data follows.
    let settled = std::time::Instant::now();
    loop {
        let v = risk().json();
        if v["calibration"]["current"] == true {
            break;
        }
        assert!(
            settled.elapsed().as_secs() < 60,
            "the calibration never caught up"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn history_date(d: i64) -> String {
    let z = d + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
