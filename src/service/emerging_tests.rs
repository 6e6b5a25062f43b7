use super::*;
use crate::service::test_support::{last_months, snapshot};

#[test]
fn the_result_is_the_analysis_of_the_window_cached_until_the_data_version_changes() {
    let cache = EmergingCache::default();
    let snap = snapshot(1);
    let window = last_months(&snap, 12);
    let res = Resolution::Seven;
    let result =
        emerging_result(&cache, &snap, res, window, None, StepUnit::Month, None).expect("computed");
    let direct = compute(&snap, res, window, None, StepUnit::Month, None).expect("computed");
    assert!(!result.cells.is_empty());
    assert_eq!(*result, direct);
    // A second call is a cache hit; another step is another result.
    let again =
        emerging_result(&cache, &snap, res, window, None, StepUnit::Month, None).expect("computed");
    assert!(Arc::ptr_eq(&result, &again));
    let weekly =
        emerging_result(&cache, &snap, res, window, None, StepUnit::Week, None).expect("computed");
    assert!(!Arc::ptr_eq(&result, &weekly));
    // A new data version misses.
    let next = snapshot(2);
    let fresh =
        emerging_result(&cache, &next, res, window, None, StepUnit::Month, None).expect("computed");
    assert!(!Arc::ptr_eq(&result, &fresh));
    assert_eq!(*fresh, *result, "the same data");
}

#[test]
fn aggregate_roles_get_the_analysis_of_the_published_counts() {
    let cache = EmergingCache::default();
    let snap = snapshot(1);
    let window = last_months(&snap, 12);
    let res = Resolution::Seven;
    // Every step published as nothing: no cell has a pattern or a count.
    let nothing = Arc::new(crate::service::hexagons::Protected::default());
    let release = |_: TimeWindow| Arc::clone(&nothing);
    let controlled = emerging_result(
        &cache,
        &snap,
        res,
        window,
        None,
        StepUnit::Month,
        Some(&release),
    )
    .expect("computed");
    let exact =
        emerging_result(&cache, &snap, res, window, None, StepUnit::Month, None).expect("computed");
    assert!(!Arc::ptr_eq(&controlled, &exact), "cached apart by class");
    assert!(controlled.cells.iter().all(|c| c.total == 0.0));
    assert!(exact.cells.iter().any(|c| c.total > 0.0));
}

#[test]
fn the_tile_layer_keeps_the_cells_with_a_pattern_and_the_count_the_caller_may_see() {
    let cache = EmergingCache::default();
    let snap = snapshot(1);
    let window = last_months(&snap, 12);
    let res = Resolution::Seven;
    let result =
        emerging_result(&cache, &snap, res, window, None, StepUnit::Month, None).expect("computed");
    let patterned: Vec<_> = result.cells.iter().filter(|c| c.category != 0).collect();
    let layer = tile_layer(&result, res, None, None);
    assert_eq!(layer.cells.len(), patterned.len());
    for c in patterned {
        let v = layer.cells.get(&c.h3).expect("drawn");
        assert_eq!(v.code, c.category);
        assert_eq!(v.count, HexCount::Value(c.total.round() as u32));
    }
    let nothing = crate::service::hexagons::Protected::default();
    let controlled = tile_layer(
        &result,
        res,
        Some(&nothing),
        Some(Category::ChildExploitationConcern),
    );
    assert!(
        controlled
            .cells
            .values()
            .all(|v| v.count == HexCount::Suppressed),
        "a child category's zero is shown as suppressed"
    );
}

#[test]
fn estimates_grow_with_cells_and_steps() {
    let window = last_months(&snapshot(1), 12);
    assert!(step_count(window, StepUnit::Week) > step_count(window, StepUnit::Month));
    assert_eq!(
        estimate_bytes(1_000, 10),
        1_000 * (10 * EMERGING_BYTES_PER_CELL_STEP + 256)
    );
    assert_eq!(estimate_bytes(u64::MAX, 10), u64::MAX, "saturates");
}
