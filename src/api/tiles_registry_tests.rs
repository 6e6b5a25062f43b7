//! The tile registry against what is generated from it (issue 15, point 4): every registered
//! source has its two routes in the access table with the class the source declares, its
//! TileJSON and tile paths in the OpenAPI document, and no tile route exists without a source.
//! The checks are written as a function over any access table, so a table that misses a
//! source or gives it another class is shown to be caught.

use std::collections::BTreeSet;

use serde_json::json;

use super::super::auth::{ENDPOINTS, class_of};
use super::super::openapi::document;
use crate::domain::Role;
use crate::safeguards::policy::{DataClass, role_may_read};
use crate::tiles::registry::{REGISTRY, tile_routes};

/// What is wrong between the registry and the access table `endpoints`: a source's route
/// missing, listed twice or with another class than the source declares, or a `/tiles/` row
/// that no registered source serves.
fn registry_problems(endpoints: &[(&str, Option<DataClass>)]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut served = BTreeSet::new();
    for r in tile_routes() {
        for route in [r.tilejson.as_str(), r.tiles.as_str()] {
            served.insert(route);
            let rows: Vec<_> = endpoints.iter().filter(|(p, _)| *p == route).collect();
            match rows.as_slice() {
                [] => problems.push(format!("{route}: no row (refused to everyone)")),
                [(_, class)] if *class == Some(r.source.class()) => {}
                [(_, class)] => problems.push(format!(
                    "{route}: row says {class:?}, the source declares {:?}",
                    r.source.class()
                )),
                _ => problems.push(format!("{route}: {} rows", rows.len())),
            }
        }
    }
    for (p, _) in endpoints {
        if p.starts_with("/tiles/") && !served.contains(p) {
            problems.push(format!("{p}: a tile row without a registered source"));
        }
    }
    problems
}

#[test]
fn the_access_table_gives_every_source_route_the_class_the_source_declares() {
    assert_eq!(registry_problems(&ENDPOINTS), Vec::<String>::new());
    for r in tile_routes() {
        let class = Some(Some(r.source.class()));
        assert_eq!(class_of(&r.tilejson), class, "{}", r.tilejson);
        assert_eq!(class_of(&r.tiles), class, "{}", r.tiles);
    }
}

#[test]
fn a_table_that_misses_a_source_or_gives_it_another_class_is_caught() {
    let live: Vec<(&str, Option<DataClass>)> = ENDPOINTS.to_vec();
    let risk_tiles = "/tiles/risk/{z}/{x}/{y}";
    // A source added without its rows (as with the table written by hand).
    let missing: Vec<_> = live
        .iter()
        .copied()
        .filter(|(p, _)| *p != risk_tiles)
        .collect();
    assert_eq!(
        registry_problems(&missing),
        [format!("{risk_tiles}: no row (refused to everyone)")]
    );
    // A row with a class other than the source's.
    let widened: Vec<_> = live
        .iter()
        .map(|&(p, c)| match p {
            "/tiles/incidents.json" => (p, Some(DataClass::Reference)),
            _ => (p, c),
        })
        .collect();
    assert_eq!(registry_problems(&widened).len(), 1);
    // A row left behind for a layer that is no longer registered.
    let mut stale = live.clone();
    stale.push(("/tiles/people/{z}/{x}/{y}", Some(DataClass::Reference)));
    assert_eq!(registry_problems(&stale).len(), 1);
}

#[test]
fn the_tile_rows_keep_the_classes_of_the_table_written_by_hand() {
    // The classes `auth::ENDPOINTS` gave each tile route before the registry generated them.
    for (name, class) in [
        ("hotspots", DataClass::Aggregate),
        ("emerging", DataClass::Aggregate),
        ("risk", DataClass::Aggregate),
        ("hexagons", DataClass::Aggregate),
        ("crossborder", DataClass::Aggregate),
        ("incidents", DataClass::PlaceLevel),
        ("places", DataClass::PlaceLevel),
        ("schools", DataClass::Reference),
        ("routes", DataClass::Reference),
        ("stops", DataClass::Reference),
        ("services", DataClass::Reference),
        ("boundaries", DataClass::Reference),
    ] {
        assert_eq!(class_of(&format!("/tiles/{name}.json")), Some(Some(class)));
        assert_eq!(
            class_of(&format!("/tiles/{name}/{{z}}/{{x}}/{{y}}")),
            Some(Some(class))
        );
    }
    let tile_rows = ENDPOINTS.iter().filter(|(p, _)| p.starts_with("/tiles/"));
    assert_eq!(tile_rows.count(), 24);
}

#[test]
fn every_source_has_openapi_paths_with_its_class_token_and_admission() {
    let doc = document();
    for r in tile_routes() {
        let (spec, class) = (r.source.spec(), r.source.class());
        for route in [&r.tilejson, &r.tiles] {
            let op = &doc["paths"][route.as_str()]["get"];
            assert!(op.is_object(), "{route} is not documented");
            assert_eq!(op["x-data-class"], format!("{class:?}"), "{route}");
        }
        let tile = &doc["paths"][r.tiles.as_str()]["get"];
        let needs_token = !role_may_read(Role::Public, class);
        assert_eq!(
            tile["security"] == json!([{"bearer": []}]),
            needs_token,
            "{}",
            r.tiles
        );
        assert_eq!(
            !tile["responses"]["422"].is_null(),
            spec.analysis.is_some(),
            "{}: admission statuses",
            r.tiles
        );
        let scheme = tile["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == "scheme");
        assert_eq!(scheme, r.source.params().contains(&"scheme"), "{}", r.tiles);
    }
    let documented = doc["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(p, _)| p.starts_with("/tiles/"))
        .count();
    assert_eq!(documented, 2 * REGISTRY.len());
}
