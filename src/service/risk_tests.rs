use super::*;
use crate::analysis::risk::calibrate;
use crate::domain::DayEvent;
use crate::service::test_support::snapshot;

/// The near-repeat events a calibration for `as_of` reads, as a vector: its `study_days` up to
/// `as_of`.
fn study_events(snap: &Snapshot, as_of: Day, settings: &RiskSettings) -> Vec<DayEvent> {
    snap.incidents.day_events(
        as_of.minus_days(settings.study_days.saturating_sub(1)),
        as_of,
    )
}

/// The layer calibrated and projected directly, without the service.
fn direct(snap: &Snapshot, category: Option<Category>, as_of: Day) -> RiskLayer {
    let settings = RiskSettings::default();
    let calibration = calibrate(
        &study_events(snap, as_of, &settings),
        category,
        as_of,
        &settings,
    )
    .expect("calibrated");
    let recent = snap.incidents.day_events(
        as_of.minus_days(settings.recent_days.saturating_sub(1)),
        as_of,
    );
    project(&recent, as_of, &settings, &calibration).expect("projected")
}

#[test]
fn the_layer_is_the_projection_of_the_current_calibration_and_is_cached() {
    let cache = Arc::new(RiskCache::default());
    let snap = snapshot(1);
    let as_of = default_as_of(&snap).expect("days known");
    let (layer, current) = risk_result(&cache, &snap, None, as_of).expect("computed");
    assert!(
        current,
        "no older calibration to stand in: the current one is computed"
    );
    assert_eq!(*layer, direct(&snap, None, as_of));
    assert_eq!(calibration_version(&cache, &snap, None, as_of), 1);
    let (again, _) = risk_result(&cache, &snap, None, as_of).expect("computed");
    assert!(Arc::ptr_eq(&layer, &again), "a cache hit");
}

#[test]
fn a_new_data_version_is_projected_at_once_from_the_previous_calibration() {
    let cache = Arc::new(RiskCache::default());
    let first = snapshot(1);
    let as_of = default_as_of(&first).expect("days known");
    let (layer, _) = risk_result(&cache, &first, None, as_of).expect("computed");
    let next = snapshot(2);
    // The calibration of version 1 stands in until version 2's is in (the background thread
    // may already have finished it: then the current one is used).
    let (fresh, current) = risk_result(&cache, &next, None, as_of).expect("computed");
    assert!(!Arc::ptr_eq(&layer, &fresh), "a new data version misses");
    assert_eq!(
        current,
        calibration_version(&cache, &next, None, as_of) == 2 && fresh.calibrated_as_of == as_of
    );
    assert_eq!(fresh.windows, layer.windows, "the same data and bands");
    // Another category has no usable calibration: it is computed on the spot.
    let (drugs, current) =
        risk_result(&cache, &next, Some(Category::Drugs), as_of).expect("computed");
    assert!(current);
    assert_eq!(*drugs, direct(&next, Some(Category::Drugs), as_of));
}

#[test]
fn a_calibration_older_than_the_stale_limit_is_not_used() {
    let cache = Arc::new(RiskCache::default());
    let snap = snapshot(1);
    let as_of = default_as_of(&snap).expect("days known");
    let old = as_of.minus_days(STALE_DAYS + 1);
    risk_result(&cache, &snap, None, old).expect("computed");
    assert!(usable((1, None, as_of.minus_days(STALE_DAYS)), None, as_of));
    assert!(!usable((1, None, old), None, as_of));
    assert!(!usable((1, Some(Category::Drugs), as_of), None, as_of));
    let (_, current) = risk_result(&cache, &snap, None, as_of).expect("computed");
    assert!(
        current,
        "computed on the spot, not projected from the stale one"
    );
}

#[test]
fn aggregate_roles_get_coarse_cells_and_a_month_start() {
    let cache = Arc::new(RiskCache::default());
    let snap = snapshot(1);
    let as_of = served_as_of(
        default_as_of(&snap).expect("days known"),
        DisclosureClass::Controlled,
    );
    assert_eq!(as_of, releases::snap_as_of(as_of));
    let (layer, _) = risk_result(&cache, &snap, None, as_of).expect("computed");
    let coarse = coarse_windows(&layer, &snap, &DisclosurePolicy::default()).expect("coarsened");
    for w in &coarse {
        assert_eq!(w.h3.resolution(), COARSE_RES);
    }
    let tiles = tile_layer(&layer, Some(&coarse));
    assert_eq!(tiles.res, COARSE_RES);
    assert!(
        tiles
            .cells
            .values()
            .all(|v| v.count == HexCount::Suppressed)
    );
}

#[test]
fn a_queued_calibration_waits_with_the_newest_snapshot_and_lets_the_replaced_one_go() {
    // A merge step replaces the served snapshot without a new data version; a calibration
    // queued behind a running one must not keep the replaced snapshot (and the chunks it holds)
    // alive while it waits.
    let mut queue = CalibrationQueue::default();
    let day = Day::from_days_since_epoch(20_000);
    let running = snapshot(2);
    assert!(
        queue.enqueue((2, None, day), &running),
        "idle: the thread starts"
    );
    queue.pending.pop_front(); // the thread took it and runs it
    let (before_step, after_step) = (snapshot(3), snapshot(3));
    let key = (3, None, day);
    assert!(
        !queue.enqueue(key, &before_step),
        "waits behind the running one"
    );
    assert_eq!(Arc::strong_count(&before_step), 2);
    assert!(!queue.enqueue(key, &after_step));
    assert_eq!(
        Arc::strong_count(&before_step),
        1,
        "the replaced snapshot is let go"
    );
    assert_eq!(queue.pending.len(), 1);
    assert!(Arc::ptr_eq(&queue.pending[0].1, &after_step));
    // The running key is not queued twice.
    assert!(!queue.enqueue((2, None, day), &after_step));
    assert_eq!(queue.pending.len(), 1);
}

/// A layer of `n` located incidents known to the day, spread over the year up to `as_of` and
/// about 2,000 km² (few close pairs, so the Knox run is quick): a base, two runs and a few
/// hundred pending tombstones, as a server holds it between merges.
fn year_layer(n: usize, as_of: Day, seed: u64) -> IncidentLayer {
    year_layer_with(n, as_of, seed, false)
}

/// [`year_layer`], with near repeats when `repeats`: every fourth incident at the place of the
/// one before it, a day later.
fn year_layer_with(n: usize, as_of: Day, seed: u64, repeats: bool) -> IncidentLayer {
    use crate::domain::{CATEGORY_COUNT, IncidentId, LonLat};
    use crate::index::{IncidentIndex, IncidentInput};
    let mut state = seed;
    let mut next = move || crate::synthetic::rng::splitmix64(&mut state);
    let unit = |x: u64| (x >> 11) as f64 / (1u64 << 53) as f64;
    let mut rows: Vec<IncidentInput> = Vec::with_capacity(n);
    for i in 0..n {
        let row = match rows.last() {
            Some(prev) if repeats && i % 4 == 3 && prev.day < as_of => IncidentInput {
                id: IncidentId::new(1 + i as u64),
                day: prev.day.plus_days(1),
                ..*prev
            },
            _ => IncidentInput {
                id: IncidentId::new(1 + i as u64),
                location: LonLat::new(-3.0 + unit(next()) * 0.7, 51.3 + unit(next()) * 0.35).ok(),
                day: as_of.minus_days((next() % 365) as u16),
                category: Category::ALL[(next() % CATEGORY_COUNT as u64) as usize],
                involves_child: next().is_multiple_of(5),
                day_known: true,
            },
        };
        rows.push(row);
    }
    let (base, runs) = rows.split_at(n * 4 / 5);
    let (first, second) = runs.split_at(runs.len() / 2);
    let dead: Vec<IncidentInput> = rows.iter().step_by(997).copied().collect();
    IncidentLayer::build(base)
        .with_run(IncidentIndex::build(first))
        .with_run(IncidentIndex::build(second))
        .with_tombstones(&dead)
}

/// The most heap a calibration of the default settings held on `layer`, measured with the
/// tracking allocator on this thread only (other tests allocate in other accounts).
fn calibration_peak(layer: &IncidentLayer, as_of: Day) -> u64 {
    crate::analysis::budget::install();
    let settings = RiskSettings::default();
    let (calibrated, account) = crate::analysis::budget::measure(|_| {
        calibration_of(layer, None, as_of, &settings).expect("calibrated")
    });
    assert!(
        calibrated.study_incidents > 2 * crate::analysis::risk::MAX_STUDY_SAMPLE,
        "sampled: {}",
        calibrated.study_incidents
    );
    account.peak()
}

#[test]
fn a_calibration_holds_the_same_memory_whatever_the_number_of_study_events() {
    // Issue 15, point 2: the calibration streams the study period into its sample instead of
    // reading the period's events into a vector (24 bytes each: 7.2 MB and 14.4 MB here, 72 MB
    // at 10M incidents), so its peak does not grow with the incidents.
    let as_of = Day::from_days_since_epoch(20_000);
    let small = calibration_peak(&year_layer(300_000, as_of, 5), as_of);
    let large = calibration_peak(&year_layer(600_000, as_of, 6), as_of);
    let bound = calibration_bound_bytes(&RiskSettings::default()) as u64;
    eprintln!(
        "calibration peak: {small} bytes at 300,000 events, {large} at 600,000; bound {bound}"
    );
    assert!(
        large <= small + (512 << 10),
        "the peak grows with the study events: {small} bytes at 300,000, {large} at 600,000"
    );
    assert!(
        small <= bound && large <= bound,
        "above the stated bound {bound}: {small}, {large}"
    );
}

#[test]
fn the_admission_estimate_covers_a_risk_layer_calibrated_and_projected_on_the_spot() {
    // The estimate is the calibration's stated bound plus the projection's bytes per recent
    // incident; measured with the tracking allocator on a year with near repeats (so bands
    // are projected), what the layer held must be within it.
    let as_of = Day::from_days_since_epoch(20_000);
    let mut snap = (*snapshot(1)).clone();
    snap.incidents = year_layer_with(300_000, as_of, 9, true);
    let snap = Arc::new(snap);
    let cache = Arc::new(RiskCache::default());
    crate::analysis::budget::install();
    let ((layer, current), account) = crate::analysis::budget::measure(|_| {
        risk_result(&cache, &snap, None, as_of).expect("computed")
    });
    assert!(current);
    assert!(!layer.bands.is_empty(), "{:?}", layer.warnings);
    assert!(!layer.windows.is_empty());
    let estimate = estimate_bytes(&snap, as_of);
    eprintln!(
        "risk layer peak {} bytes, estimate {estimate} ({} windows)",
        account.peak(),
        layer.windows.len()
    );
    assert!(
        account.peak() <= estimate,
        "peak {} above the estimate {estimate}",
        account.peak()
    );
}
