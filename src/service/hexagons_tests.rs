use super::*;
use crate::service::test_support::{last_months, snapshot};

fn study_area_box() -> Bbox {
    Bbox::from_coords(-3.12, 51.27, -2.25, 51.69).expect("valid")
}

/// The areas and every month of `window` for `category`, held as a request holds them.
fn months_for(
    cache: &Arc<ProtectedCache>,
    snap: &Arc<Snapshot>,
    window: TimeWindow,
    category: Option<Category>,
) -> Months {
    let policy = DisclosurePolicy::default();
    let areas = release_areas(cache, snap);
    let held = released_months(snap, window)
        .into_iter()
        .map(|m| (m, month_bundle(cache, &policy, snap, m, category, &areas)))
        .collect();
    Months::new(
        Arc::clone(cache),
        policy,
        Arc::clone(snap),
        category,
        areas,
        held,
    )
}

#[test]
fn exact_cells_are_the_index_counts() {
    let snap = snapshot(1);
    let q = HexagonQuery {
        bbox: study_area_box(),
        res: H3Res::new(8).expect("valid"),
        window: last_months(&snap, 6),
        category: None,
    };
    let cells = hexagon_cells(&snap, &q, None, study_area_box()).expect("computed");
    let direct: Vec<(CellIndex, HexFigure)> = snap
        .incidents
        .cell_counts(&CountQuery {
            bbox: q.bbox,
            res: q.res,
            window: q.window,
            category: None,
        })
        .iter()
        .map(|c| (c.cell, HexFigure::Exact(c.count)))
        .collect();
    assert!(!direct.is_empty());
    assert_eq!(cells, direct);
}

#[test]
fn a_protected_window_is_the_sum_of_its_monthly_releases_and_is_cached_per_version() {
    let cache = Arc::new(ProtectedCache::default());
    let snap = snapshot(1);
    let window = last_months(&snap, 3);
    let months = months_for(&cache, &snap, window, None);
    assert_eq!(months.len(), 3);
    let protected = protected_cells(&months, window);
    // The direct computation: each month released on its own, then summed.
    let policy = DisclosurePolicy::default();
    let schemes: Vec<String> = snap.boundaries.schemes().map(str::to_owned).collect();
    let areas = releases::area_cells(schemes.iter().flat_map(|s| snap.boundaries.of_scheme(s)));
    let bundles: Vec<MonthBundle> = released_months(&snap, window)
        .into_iter()
        .map(|month| {
            let counts_of = |c: Category, res: h3o::Resolution| -> Vec<(CellIndex, u32)> {
                snap.incidents
                    .cell_counts(&CountQuery {
                        bbox: world(),
                        res: H3Res::new(u8::from(res)).expect("valid"),
                        window: month,
                        category: Some(c),
                    })
                    .iter()
                    .map(|c| (c.cell, c.count))
                    .collect()
            };
            releases::general_month_releases(counts_of, &areas, &policy)
        })
        .collect();
    let parts: Vec<&MonthRelease> = bundles
        .iter()
        .filter_map(|b| b.iter().find(|(c, _)| c.is_none()))
        .map(|(_, l)| l.cells.as_slice())
        .collect();
    assert_eq!(*protected, releases::window_release(&parts, None));
    // A second call is a cache hit: the same value, not a recomputation.
    assert!(Arc::ptr_eq(&protected, &protected_cells(&months, window)));
    assert!(cache.cached_window(1, window, None).is_some());
    assert!(
        cache
            .cached_month(1, released_months(&snap, window)[0], None)
            .is_some()
    );
    // A new data version misses, and once computed the old version's entries are gone.
    let next = snapshot(2);
    assert!(cache.cached_window(2, window, None).is_none());
    let again = protected_cells(&months_for(&cache, &next, window, None), window);
    assert!(!Arc::ptr_eq(&protected, &again), "computed anew");
    assert_eq!(*again, *protected, "from the same data");
    assert!(cache.cached_window(1, window, None).is_none());
    assert!(cache.cached_areas(1).is_none() && cache.cached_areas(2).is_some());
}

#[test]
fn published_cells_are_the_release_values_and_never_show_zero() {
    let cache = Arc::new(ProtectedCache::default());
    let snap = snapshot(1);
    let window = last_months(&snap, 2);
    for category in [
        None,
        Some(Category::Drugs),
        Some(Category::ChildExploitationConcern),
    ] {
        let months = months_for(&cache, &snap, window, category);
        let protected = protected_cells(&months, window);
        let q = HexagonQuery {
            bbox: study_area_box(),
            res: H3Res::new(7).expect("valid"),
            window,
            category,
        };
        let cells = hexagon_cells(&snap, &q, Some(&protected), study_area_box()).expect("computed");
        assert!(!cells.is_empty(), "{category:?}");
        let mut previous = None;
        for (cell, figure) in &cells {
            let HexFigure::Published { published, partial } = *figure else {
                panic!("an exact count for an aggregate role");
            };
            let expected = releases::shown(
                protected.get(cell).copied().unwrap_or(Published::Value(0)),
                category,
            );
            assert_eq!(published, expected);
            assert_ne!(published.value(), Some(0));
            assert_eq!(partial, protected.is_partial(cell));
            assert!(previous < Some(*cell), "cell order");
            previous = Some(*cell);
        }
        if releases::hides_zero(category) {
            // Every cell of the study area at res 7 is listed (a zero shown as suppressed).
            let all = releases::cells_with_centre_in(study_area_box(), q.res.to_h3());
            let listed: BTreeSet<CellIndex> = cells.iter().map(|(c, _)| *c).collect();
            assert!(all.iter().all(|c| listed.contains(c)), "{category:?}");
        }
    }
}
