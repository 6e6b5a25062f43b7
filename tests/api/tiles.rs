//! Vector tiles over HTTP: status codes, caching headers, roles, and the tiles' content decoded
//! by the reference decoder (Python mapbox-vector-tile, maps.md §7) and compared with
//! `/api/v1/hexagons` for the same area.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::support::{Reply, TestApp, spawn_app};

/// The interpreter with mapbox-vector-tile (`make test` creates `.venv`).
fn python() -> Option<PathBuf> {
    let p = std::env::var_os("SAFERPLACES_PYTHON").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"),
        PathBuf::from,
    );
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "skipping the reference-decoder comparison: no Python at {} (run `make test`, which creates .venv)",
            p.display()
        );
        None
    }
}

/// Decodes MVT tiles with the reference decoder (one Python run); `None` (with the reason
/// printed) when it is unavailable.
fn decode_all(tiles: &[Vec<u8>]) -> Option<Vec<Value>> {
    let py = python()?;
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = tiles
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            let file = dir.path().join(format!("{i}.mvt"));
            std::fs::write(&file, bytes).unwrap();
            file
        })
        .collect();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference/decode_mvt.py");
    let out = Command::new(py).arg(&script).args(&files).output().unwrap();
    if out.status.code() == Some(2) {
        eprintln!(
            "skipping the reference-decoder comparison: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    Some(
        files
            .iter()
            .map(|f| v[f.to_str().unwrap()].clone())
            .collect(),
    )
}

pub(crate) fn decode(bytes: &[u8]) -> Option<Value> {
    decode_all(&[bytes.to_vec()]).map(|mut v| v.remove(0))
}

/// Raw bytes of a GET (the support client reads bodies as text).
pub(crate) fn get_bytes(
    app: &TestApp,
    user: Option<&str>,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, BTreeMap<String, String>, Vec<u8>) {
    let mut req = ureq::get(&format!("{}{path}", app.base));
    if let Some(u) = user {
        req = req.header(
            "authorization",
            &format!("Bearer {}", crate::support::tokens()[u]),
        );
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap();
    let status = res.status().as_u16();
    // Repeated headers (Vary) are joined as one list.
    let mut hs: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in res.headers() {
        let v = v.to_str().unwrap_or_default();
        hs.entry(k.as_str().to_owned())
            .and_modify(|e| {
                e.push_str(", ");
                e.push_str(v);
            })
            .or_insert_with(|| v.to_owned());
    }
    let body = res.into_body().read_to_vec().unwrap();
    (status, hs, body)
}

fn lon_of(x: f64, z: u32) -> f64 {
    x / f64::from(1u32 << z) * 360.0 - 180.0
}

fn lat_of(y: f64, z: u32) -> f64 {
    let n = std::f64::consts::PI - 2.0 * std::f64::consts::PI * y / f64::from(1u32 << z);
    n.sinh().atan().to_degrees()
}

/// `h3 -> (count or None when suppressed)` of a decoded hexagon layer.
fn cells(tile: &Value, layer: &str) -> BTreeMap<String, Option<u64>> {
    tile["layers"][layer]["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = &f["properties"];
            (p["h3"].as_str().unwrap().to_owned(), p["count"].as_u64())
        })
        .collect()
}

fn hexagons(reply: &Reply) -> BTreeMap<String, Option<u64>> {
    reply.json()["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = &f["properties"];
            (p["h3"].as_str().unwrap().to_owned(), p["count"].as_u64())
        })
        .collect()
}

const WINDOW: &str = "from=2025-01-01&to=2025-06-30";

#[test]
#[expect(
    clippy::many_single_char_names,
    reason = "z/x/y and w/s/e/n are the conventional names"
)]
fn hexagon_tiles_hold_the_same_cells_and_counts_as_the_hexagons_endpoint() {
    let app = spawn_app();
    // z 10 → res 8 (maps.md §2.1); a tile over central Bristol.
    let (z, x, y) = (10u32, 504u32, 340u32);
    let path = format!("/tiles/hexagons/{z}/{x}/{y}?{WINDOW}");
    let (w, s, e, n) = (
        lon_of(f64::from(x), z),
        lat_of(f64::from(y + 1), z),
        lon_of(f64::from(x + 1), z),
        lat_of(f64::from(y), z),
    );
    for user in [Some("vru_analyst"), None] {
        let (status, headers, body) = get_bytes(&app, user, &path, &[]);
        assert_eq!(status, 200, "{user:?}");
        assert_eq!(
            headers["content-type"],
            "application/vnd.mapbox-vector-tile"
        );
        let Some(tile) = decode(&body) else { return };
        let layer = &tile["layers"]["hexagons"];
        assert_eq!(layer["extent"], 4096);
        let in_tile = cells(&tile, "hexagons");
        assert!(in_tile.len() > 20, "{user:?}: {} cells", in_tile.len());
        for f in layer["features"].as_array().unwrap() {
            assert_eq!(f["type"], 3, "polygons");
            assert_eq!(f["has_id"], false, "no MVT id for H3 cells (maps.md §2)");
            assert_eq!(f["properties"]["h3"].as_str().unwrap().len(), 15);
        }
        // Every cell of the GeoJSON endpoint whose centre is in the tile, with its count; and
        // every tile cell (which may reach in from outside) found in a wider query, equal.
        let inner = format!("/api/v1/hexagons?res=8&bbox={w},{s},{e},{n}&{WINDOW}");
        let outer = format!(
            "/api/v1/hexagons?res=8&bbox={},{},{},{}&{WINDOW}",
            w - 0.05,
            s - 0.03,
            e + 0.05,
            n + 0.03
        );
        let (inner, outer) = match user {
            Some(u) => (
                hexagons(&app.get_as(u, &inner, &[])),
                hexagons(&app.get_as(u, &outer, &[])),
            ),
            None => (hexagons(&app.get(&inner)), hexagons(&app.get(&outer))),
        };
        assert!(!inner.is_empty());
        for (h3, count) in &inner {
            assert_eq!(in_tile.get(h3), Some(count), "{user:?} {h3}");
        }
        for (h3, count) in &in_tile {
            assert_eq!(outer.get(h3), Some(count), "{user:?} {h3}");
        }
        if user.is_none() {
            assert!(
                in_tile.values().flatten().all(|c| c % 5 == 0),
                "public counts are rounded to 5"
            );
        }
    }
}

#[test]
fn tiles_answer_204_304_400_and_refuse_layers_the_role_may_not_see() {
    let app = spawn_app();
    // Far outside the data: empty, 204, still with an ETag.
    let (status, headers, body) = get_bytes(&app, None, "/tiles/hexagons/10/0/0", &[]);
    assert_eq!(status, 204);
    assert!(body.is_empty());
    assert!(headers.contains_key("etag"));

    let path = format!("/tiles/hexagons/11/1009/681?{WINDOW}");
    let (status, headers, gz) = get_bytes(&app, None, &path, &[("accept-encoding", "gzip")]);
    assert_eq!(status, 200);
    assert_eq!(headers["content-encoding"], "gzip");
    assert_eq!(headers["cache-control"], "private, no-cache");
    assert!(headers["vary"].to_lowercase().contains("accept-encoding"));
    let etag = headers["etag"].clone();
    assert!(etag.ends_with("-gz\""), "{etag}");
    let (_, plain_headers, plain) = get_bytes(&app, None, &path, &[]);
    assert_ne!(
        plain_headers["etag"], etag,
        "each representation has its own tag"
    );
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(gz.as_slice()),
        &mut unzipped,
    )
    .unwrap();
    assert_eq!(unzipped, plain, "gzip holds the same tile");
    // Same key, same bytes (deterministic encoding), and a revalidation is a 304.
    assert_eq!(get_bytes(&app, None, &path, &[]).2, plain);
    let (status, h304, body) = get_bytes(
        &app,
        None,
        &path,
        &[("accept-encoding", "gzip"), ("if-none-match", &etag)],
    );
    assert_eq!((status, body.len()), (304, 0));
    assert_eq!(h304["etag"], etag);
    // Analysts and the public get different tiles for the same place.
    let (_, analyst_headers, _) = get_bytes(
        &app,
        Some("vru_analyst"),
        &path,
        &[("accept-encoding", "gzip")],
    );
    assert_ne!(analyst_headers["etag"], etag);

    for bad in [
        "/tiles/hexagons/23/0/0",
        "/tiles/hexagons/3/8/0",
        "/tiles/hexagons/3/0/x",
        "/tiles/hexagons/3/0/0?res=9",
    ] {
        let r = app.get(bad);
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert!(r.json()["field"].is_string());
    }
    // Incident points are place-level: refused to the public, served to analysts.
    assert_eq!(app.get("/tiles/incidents/14/8117/5451").status, 401);
    assert_eq!(app.get("/tiles/incidents.json").status, 401);
    let (status, _, body) = get_bytes(
        &app,
        Some("police_analyst"),
        &format!("/tiles/incidents/13/4058/2725?{WINDOW}"),
        &[],
    );
    assert!(status == 200 || status == 204, "{status}");
    if status == 200
        && let Some(tile) = decode(&body)
    {
        let feats = tile["layers"]["incidents"]["features"].as_array().unwrap();
        assert!(
            feats
                .iter()
                .all(|f| f["type"] == 1 && f["properties"]["ts"].is_number())
        );
    }
    // The layer list follows the role.
    let public: Vec<String> = app.get("/api/v1/layers").json()["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(public.contains(&"hexagons".to_owned()) && !public.contains(&"incidents".to_owned()));
    let analyst = app.get_as("police_analyst", "/api/v1/layers", &[]).json();
    assert!(
        analyst["layers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["id"] == "incidents")
    );
}

#[test]
fn every_layer_has_valid_tilejson_and_draws_features_over_bristol() {
    let app = spawn_app();
    let layers = app.get_as("police_analyst", "/api/v1/layers", &[]).json();
    let ids: Vec<String> = layers["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    for id in [
        "hexagons",
        "incidents",
        "places",
        "schools",
        "routes",
        "stops",
        "services",
        "boundaries",
        "crossborder",
    ] {
        assert!(ids.contains(&id.to_owned()), "{id} listed");
        let doc = app
            .get_as("police_analyst", &format!("/tiles/{id}.json"), &[])
            .json();
        assert_eq!(doc["tilejson"], "3.0.0");
        assert_eq!(doc["vector_layers"][0]["id"], id);
        let url = doc["tiles"][0].as_str().unwrap();
        assert!(
            url.contains(&format!("/tiles/{id}/{{z}}/{{x}}/{{y}}")),
            "{url}"
        );
        // The tiles around central Bristol at zoom 12 (or the layer's nearest zoom) draw
        // features.
        let z = doc["maxzoom"]
            .as_u64()
            .unwrap()
            .min(12)
            .max(doc["minzoom"].as_u64().unwrap()) as u32;
        let temporal = ["hexagons", "incidents", "crossborder"].contains(&id);
        let query = if temporal {
            format!("?{WINDOW}")
        } else {
            String::new()
        };
        let scale = 1u32 << (z - 10);
        let mut bodies = Vec::new();
        for dx in 0..scale + 2 {
            for dy in 0..scale + 2 {
                let (x, y) = (504 * scale - 1 + dx, 340 * scale - 1 + dy);
                let path = format!("/tiles/{id}/{z}/{x}/{y}{query}");
                let (status, _, body) = get_bytes(&app, Some("police_analyst"), &path, &[]);
                assert!(status == 200 || status == 204, "{path}: {status}");
                if status == 200 {
                    bodies.push(body);
                }
            }
        }
        let Some(decoded) = decode_all(&bodies) else {
            return;
        };
        let features: usize = decoded
            .iter()
            .map(|t| t["layers"][id]["features"].as_array().unwrap().len())
            .sum();
        assert!(
            features > 0,
            "{id}: no feature around central Bristol at z {z}"
        );
    }
}

#[test]
fn hotspots_are_gi_star_bins_served_as_json_and_tiles_with_disclosure_for_the_public() {
    let app = spawn_app();
    let q = format!("/api/v1/hotspots?res=8&{WINDOW}");
    let exact = app.get_as("vru_analyst", &q, &[]).json();
    assert_eq!(exact["settings"]["k"], 1);
    assert_eq!(exact["disclosure"]["controlled"], false);
    let cells = exact["cells"].as_array().unwrap();
    assert!(
        cells.iter().any(|c| c["bin"] == 3),
        "the demo's clusters give 99 % hot spots"
    );
    for c in cells {
        let bin = c["bin"].as_i64().unwrap();
        assert!((-3..=3).contains(&bin) && bin != 0, "{c}");
        let z = c["z"].as_f64().unwrap();
        assert_eq!(bin > 0, z > 0.0, "{c}");
        assert!(c["p"].as_f64().unwrap() < 0.1, "{c}");
    }
    let public = app.get(&q).json();
    assert_eq!(public["disclosure"]["controlled"], true);
    assert_eq!(public["settings"]["from"], "2025-01-01");
    for c in public["cells"].as_array().unwrap() {
        assert!(c.get("z").is_none() && c.get("p").is_none(), "{c}");
        match c["count"].as_u64() {
            Some(n) => assert!(n % 5 == 0, "{c}"),
            None => assert_eq!(c["suppressed"], true),
        }
    }
    assert_eq!(app.get("/api/v1/hotspots?res=12").status, 400);

    // The tile layer carries the same bins for its cells (z 10 → res 8).
    let (status, _, body) = get_bytes(
        &app,
        Some("vru_analyst"),
        &format!("/tiles/hotspots/10/504/340?{WINDOW}"),
        &[],
    );
    assert_eq!(status, 200);
    let Some(tile) = decode(&body) else { return };
    let bins: BTreeMap<&str, i64> = cells
        .iter()
        .map(|c| (c["h3"].as_str().unwrap(), c["bin"].as_i64().unwrap()))
        .collect();
    let feats = tile["layers"]["hotspots"]["features"].as_array().unwrap();
    assert!(!feats.is_empty());
    for f in feats {
        let p = &f["properties"];
        assert_eq!(
            Some(&p["bin"].as_i64().unwrap()),
            bins.get(p["h3"].as_str().unwrap()),
            "{p}"
        );
    }
}

#[test]
fn a_tile_changes_within_seconds_of_an_import() {
    let data = tempfile::tempdir().unwrap();
    let app = crate::support::spawn_command({
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_saferplaces"));
        cmd.args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data.path());
        cmd
    });
    let path = "/tiles/hexagons/14/8073/5451?from=2023-01-01&to=2023-01-31";
    let (status, _, _) = get_bytes(&app, None, path, &[]);
    assert_eq!(status, 204, "an empty store draws nothing");
    // Twelve incidents on one snap point in central Bristol, then poll the tile.
    let file = data.path().join("street.csv");
    let mut csv = String::from(
        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context\n",
    );
    for i in 0..12 {
        let _ = writeln!(
            csv,
            "id{i},2023-01,Avon and Somerset Constabulary,Avon and Somerset Constabulary,-2.5937,51.4545,On or near Broad Street,E01014540,Bristol 032B,Robbery,Under investigation,"
        );
    }
    std::fs::write(&file, csv).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_saferplaces"))
        .args(["import", "police-street", "--data-dir"])
        .arg(data.path())
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let started = std::time::Instant::now();
    loop {
        let (status, _, body) = get_bytes(&app, None, path, &[]);
        if status == 200 {
            if let Some(tile) = decode(&body) {
                let counts: Vec<Option<u64>> = cells(&tile, "hexagons").into_values().collect();
                assert_eq!(
                    counts,
                    vec![Some(10)],
                    "12 incidents in one cell, rounded to 5"
                );
            }
            eprintln!(
                "tile changed {:.2} s after the import finished",
                started.elapsed().as_secs_f64()
            );
            break;
        }
        assert!(
            started.elapsed().as_secs() < 10,
            "the tile did not change within 10 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
