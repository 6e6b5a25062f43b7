//! Fuzzes `agency::parse_links`: the first byte picks the format (even: CSV, odd: GeoJSON), the rest is the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

use saferplaces::ingest::agency::parse_links;
use saferplaces_fuzz::{agency_input, check, source};

fuzz_target!(|data: &[u8]| {
    let Some((format, bytes)) = agency_input(data) else {
        return;
    };
    let parsed = parse_links(bytes, &source("links"), format);
    check(&parsed);
});
