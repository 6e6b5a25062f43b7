//! The registry's own invariants: each layer once, with routes, a valid TileJSON, the query
//! and cache-key parts its data depends on. The access table and the OpenAPI document are
//! checked against the registry in `api::tiles` (`registry_tests.rs` there).

use std::collections::BTreeSet;

use super::*;

#[test]
fn every_source_is_registered_once_and_found_by_its_name() {
    let mut names = BTreeSet::new();
    for s in REGISTRY {
        assert!(names.insert(s.name()), "{} registered twice", s.name());
        assert_eq!(source(s.name()).map(TileSource::name), Some(s.name()));
        assert_eq!(layer(s.name()), Some(s.spec()));
    }
    assert_eq!(LAYERS.len(), REGISTRY.len());
    assert!(source("people").is_none(), "no person layer exists");
}

#[test]
fn every_source_has_its_two_routes_and_no_route_is_shared() {
    let routes = tile_routes();
    assert_eq!(routes.len(), REGISTRY.len());
    let mut seen = BTreeSet::new();
    for (r, s) in routes.iter().zip(REGISTRY) {
        assert_eq!(r.source.name(), s.name());
        assert_eq!(r.tilejson, format!("/tiles/{}.json", s.name()));
        assert_eq!(r.tiles, format!("/tiles/{}/{{z}}/{{x}}/{{y}}", s.name()));
        assert!(seen.insert(r.tilejson.as_str()) && seen.insert(r.tiles.as_str()));
    }
}

#[test]
fn every_source_has_a_valid_tilejson_naming_its_fields() {
    let bounds = Bbox::from_coords(-3.12, 51.27, -2.25, 51.69).unwrap();
    for s in REGISTRY {
        let url = format!("http://h{}?v=1", s.tile_route());
        let doc = s
            .tilejson(url.clone(), bounds)
            .unwrap_or_else(|e| panic!("{}: {e}", s.name()));
        assert_eq!(doc.tiles, [url]);
        assert_eq!(doc.vector_layers.len(), 1, "{}", s.name());
        let layer = &doc.vector_layers[0];
        assert_eq!(layer.id, s.name());
        let fields: BTreeSet<&str> = layer.fields.keys().map(String::as_str).collect();
        let declared: BTreeSet<&str> = s.spec().fields.iter().map(|(n, _)| *n).collect();
        assert_eq!(fields, declared, "{}", s.name());
        assert_eq!(doc.attribution.as_deref(), Some(TILE_ATTRIBUTION));
    }
}

#[test]
fn the_query_decides_the_parameters_and_the_key_parts() {
    for s in REGISTRY {
        let (spec, parts, params) = (s.spec(), s.key_parts(), s.params());
        assert!(
            params.contains(&"v"),
            "{}: v is every tile's cache buster",
            s.name()
        );
        assert_eq!(parts.window_and_category, spec.temporal(), "{}", s.name());
        for p in ["from", "to", "category"] {
            assert_eq!(params.contains(&p), spec.temporal(), "{}: {p}", s.name());
        }
        assert_eq!(params.contains(&"scheme"), parts.scheme, "{}", s.name());
        assert_eq!(
            parts.calibration,
            spec.analysis == Some(TileAnalysis::Risk),
            "{}",
            s.name()
        );
    }
    let boundaries = source("boundaries").unwrap();
    assert_eq!(boundaries.params(), ["scheme", "v"]);
    assert!(source("risk").unwrap().key_parts().calibration);
}

#[test]
fn analysis_layers_are_aggregates_over_a_window() {
    // The HTTP edge computes an analysis for the window and category and releases it under
    // disclosure control for aggregate roles: both assume a temporal aggregate layer.
    for s in REGISTRY.iter().filter(|s| s.spec().analysis.is_some()) {
        assert_eq!(s.class(), DataClass::Aggregate, "{}", s.name());
        assert!(s.spec().temporal(), "{}", s.name());
    }
}

#[test]
fn the_meta_positions_are_distinct() {
    let mut ranks: Vec<u8> = REGISTRY
        .iter()
        .filter_map(|s| s.spec().meta_order)
        .collect();
    let n = ranks.len();
    ranks.sort_unstable();
    ranks.dedup();
    assert_eq!(ranks.len(), n);
}

/// Every source's tiles carry one MVT layer named as the source (the name its routes and
/// TileJSON use): rendered on a tile of central Bristol from a synthetic snapshot, the
/// analysis layers both without their analysis and, for hot spots, with it.
#[test]
fn every_rendered_tile_names_its_mvt_layer_as_its_source() {
    use crate::service::test_support::{last_months, snapshot};
    use crate::tiles::decode_test_support::decode;

    let snap = snapshot(1);
    let window = last_months(&snap, 6);
    let tile = TileCoord::new(10, 504, 340).unwrap();
    let shapes = SharedShapes::default();
    let hot = crate::service::hotspots::hotspot_layer(
        &crate::service::hotspots::HotspotCache::default(),
        &snap,
        h3o::Resolution::Seven,
        window,
        None,
        None,
    )
    .unwrap();
    let query = |hotspots| RenderQuery {
        window,
        category: None,
        scheme: "lad",
        protected: None,
        policy: crate::safeguards::disclosure::DisclosurePolicy::default(),
        hotspots,
        emerging: None,
        risk: None,
        max_res: None,
        zero_hidden_in: None,
    };
    let mut drawn = 0;
    for s in REGISTRY {
        for q in [query(None), query(Some(hot.as_ref()))] {
            let layer = s
                .render(&snap, tile, &q, &shapes)
                .unwrap_or_else(|e| panic!("{}: {e}", s.name()));
            drawn += usize::from(!layer.is_empty());
            let names: Vec<String> = decode(&layer.bytes).into_iter().map(|l| l.name).collect();
            assert_eq!(names, [s.name()], "{}", s.name());
        }
    }
    assert!(
        drawn > REGISTRY.len(),
        "most layers draw features on this tile"
    );
}
