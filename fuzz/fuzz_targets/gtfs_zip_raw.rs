//! Fuzzes `gtfs::parse_gtfs` with the raw input written as a `.zip` file: the zip reader's
//! handling of damaged or hostile archives (truncation, bad offsets, lying sizes, bombs).
#![no_main]

use libfuzzer_sys::fuzz_target;
use saferplaces::ingest::gtfs::parse_gtfs;
use saferplaces_fuzz::{check, scratch_dir, source};

fuzz_target!(|data: &[u8]| {
    let path = scratch_dir().join("raw.zip");
    std::fs::write(&path, data).expect("write raw.zip");
    if let Ok(feed) = parse_gtfs(&path, &source("raw.zip")) {
        check(&feed.stops);
        check(&feed.routes);
    }
});
