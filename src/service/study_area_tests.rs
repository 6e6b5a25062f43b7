use std::sync::Arc;

use super::*;
use crate::service::test_support::snapshot;

/// The study area is built once per boundary index: every computation on a snapshot (and on
/// any later snapshot sharing its boundaries) gets the same polygon, equal to a fresh build.
#[test]
fn the_study_area_is_built_once_per_boundary_index_and_equals_a_fresh_build() {
    let snap = snapshot(1);
    let first = study_area(&snap);
    let again = study_area(&snap);
    assert!(
        Arc::ptr_eq(&first, &again),
        "built again for the same boundaries"
    );
    assert!(!first.0.is_empty());
    assert_eq!(*first, build_study_area(&snap.boundaries));
    // A later version that shares the boundaries (an import of incidents) shares the area.
    let mut later = (*snap).clone();
    later.data_version += 1;
    assert!(Arc::ptr_eq(&first, &study_area(&later)));
}

/// A snapshot with other boundaries gets its own area, never the one cached for another index.
#[test]
fn a_new_boundary_index_gets_its_own_study_area() {
    let snap = snapshot(1);
    let area = study_area(&snap);
    let mut other = (*snap).clone();
    let mut kept: Vec<crate::domain::Boundary> =
        snap.boundaries.of_scheme("lad").cloned().collect();
    kept.truncate(1);
    other.boundaries = Arc::new(BoundaryIndex::new(kept));
    let narrower = study_area(&other);
    assert_eq!(*narrower, build_study_area(&other.boundaries));
    assert!(narrower.0.len() < area.0.len());
    // And the first index, asked again, still gets its own area.
    assert_eq!(*study_area(&snap), build_study_area(&snap.boundaries));
}
