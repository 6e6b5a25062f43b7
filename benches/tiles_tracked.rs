//! The tile benches of `benches/tiles.rs` with the tracking global allocator of the server
//! (`analysis::budget`, issue 14 point 1) installed and tracking, to measure what attributing
//! allocations costs the code outside any computation's account (the common path of the server:
//! tiles, hexagons, health): run `cargo bench --bench tiles` and `cargo bench --bench
//! tiles_tracked` with the same arguments and compare (docs/BENCHMARKS.md).

#[path = "tiles.rs"]
mod tiles;

#[global_allocator]
static ALLOCATOR: saferplaces::analysis::budget::Allocator =
    saferplaces::analysis::budget::allocator();

fn main() {
    saferplaces::analysis::budget::install();
    tiles::benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
