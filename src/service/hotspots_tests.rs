use super::*;
use crate::service::test_support::{last_months, snapshot};

#[test]
fn the_layer_is_gi_star_of_the_window_cached_until_the_data_version_changes() {
    let cache = HotspotCache::default();
    let snap = snapshot(1);
    let window = last_months(&snap, 6);
    let res = Resolution::Seven;
    let layer = hotspot_layer(&cache, &snap, res, window, None, None).expect("computed");
    let direct = HotspotLayer::compute(
        &snap,
        &study_area(&snap),
        res,
        window,
        None,
        HOTSPOT_K,
        None,
    )
    .expect("computed");
    assert!(!layer.cells.is_empty());
    assert_eq!(layer.cells, direct.cells);
    // A second call is a cache hit.
    let again = hotspot_layer(&cache, &snap, res, window, None, None).expect("computed");
    assert!(Arc::ptr_eq(&layer, &again));
    // Another category is another layer.
    let drugs =
        hotspot_layer(&cache, &snap, res, window, Some(Category::Drugs), None).expect("computed");
    assert!(!Arc::ptr_eq(&layer, &drugs));
    // A new data version misses.
    let next = snapshot(2);
    let fresh = hotspot_layer(&cache, &next, res, window, None, None).expect("computed");
    assert!(!Arc::ptr_eq(&layer, &fresh));
    assert_eq!(fresh.cells, layer.cells, "the same data");
}

#[test]
fn published_counts_feed_the_layer_of_aggregate_roles() {
    let cache = HotspotCache::default();
    let snap = snapshot(1);
    let window = last_months(&snap, 6);
    let res = Resolution::Seven;
    // Counts published as 0 everywhere: Gi* sees nothing, unlike the exact layer.
    let nothing = Protected::default();
    let exact = hotspot_layer(&cache, &snap, res, window, None, None).expect("computed");
    let controlled =
        hotspot_layer(&cache, &snap, res, window, None, Some(&nothing)).expect("computed");
    assert!(!Arc::ptr_eq(&exact, &controlled), "cached apart by class");
    assert!(controlled.cells.values().all(|&(bin, _, _)| bin == 0) || controlled.cells.is_empty());
    assert!(exact.cells.values().any(|&(bin, _, _)| bin != 0));
}

#[test]
fn cells_in_a_box_are_those_whose_centre_it_holds_in_cell_order() {
    let cache = HotspotCache::default();
    let snap = snapshot(1);
    let window = last_months(&snap, 6);
    let layer =
        hotspot_layer(&cache, &snap, Resolution::Seven, window, None, None).expect("computed");
    let all = cells_in(&layer, None);
    assert_eq!(all.len(), layer.cells.len());
    let bbox = Bbox::from_coords(-2.70, 51.40, -2.50, 51.50).expect("valid");
    let inside = cells_in(&layer, Some(bbox));
    assert!(!inside.is_empty() && inside.len() < all.len());
    for pair in inside.windows(2) {
        assert!(pair[0].h3 < pair[1].h3);
    }
    for c in &all {
        let centre = h3o::LatLng::from(c.h3);
        let held = bbox.contains_raw(centre.lng(), centre.lat());
        assert_eq!(held, inside.iter().any(|i| i.h3 == c.h3));
        assert_eq!(layer.cells.get(&c.h3), Some(&(c.bin, c.z, c.count)));
    }
}
