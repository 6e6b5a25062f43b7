//! The memory of one Knox run is bounded by its pair budget and the number of events, not by
//! the number of close pairs (issue 15, point 2; `src/analysis/knox.rs`, "Memory").
//!
//! A test binary of its own: the counting global allocator (`cap`) sees every allocation of
//! the process, so nothing else may run beside the measured call.

use std::alloc::System;

use cap::Cap;
use saferplaces::analysis::knox::{
    KnoxMode, KnoxSettings, PAIR_BYTES, SpaceTimePoint, knox_with_pair_budget,
};
use saferplaces::domain::Day;

#[global_allocator]
static ALLOC: Cap<System> = Cap::new(System, usize::MAX);

/// `n` events in a 400 m square over 90 days, from a fixed `SplitMix64` stream: with 200 m
/// × 3 bands nearly every pair is close.
fn crowded(n: usize) -> Vec<SpaceTimePoint> {
    let mut state = 0x4B4E_4F58_u64;
    let mut unit = move || saferplaces::synthetic::rng::splitmix64(&mut state) >> 11;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let x = (unit() % 400_000) as f64 / 1000.0;
        let y = (unit() % 400_000) as f64 / 1000.0;
        let day = Day::from_days_since_epoch(19_000 + (unit() % 90) as u16);
        out.push(SpaceTimePoint {
            x_m: x,
            y_m: y,
            day,
        });
    }
    out
}

#[test]
fn a_knox_run_with_far_more_close_pairs_than_its_budget_stays_within_the_stated_bound() {
    let n = 6_000;
    let points = crowded(n);
    let settings = KnoxSettings {
        permutations: 9,
        mode: KnoxMode::Correct,
        ..KnoxSettings::default()
    };
    let budget = 256 << 10;
    let before = ALLOC.allocated();
    let result = knox_with_pair_budget(&points, &settings, budget).expect("runs");
    let peak = ALLOC.max_allocated().saturating_sub(before);
    // The bound stated in the module docs: the budget, 40 bytes per event, the permuted
    // tables and the gap lookup; plus 16 KiB for the result itself (labels, tables).
    let (rows, cols) = (
        settings.space_bands as usize + 2,
        settings.time_bands as usize + 1,
    );
    let tables = settings.permutations as usize * rows * cols * 8;
    let bound = budget + 40 * n + tables + (64 << 10) + (16 << 10);
    let pair_bytes = result.close_pairs as usize * PAIR_BYTES;
    assert!(
        pair_bytes > 20 * bound,
        "the input must have far more close pairs than the bound: {pair_bytes} bytes of pairs, bound {bound}"
    );
    assert!(
        peak <= bound,
        "peak {peak} bytes above the bound {bound} ({} close pairs, {pair_bytes} bytes of them)",
        result.close_pairs
    );
    assert!(result.pair_passes > 1, "{}", result.pair_passes);
}
