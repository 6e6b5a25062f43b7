//! Fuzzes `agency::parse_services`: the first byte picks the format (even: CSV, odd: GeoJSON), the rest is the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

use saferplaces::ingest::agency::parse_services;
use saferplaces_fuzz::{agency_input, check, source};

fuzz_target!(|data: &[u8]| {
    let Some((format, bytes)) = agency_input(data) else {
        return;
    };
    let parsed = parse_services(bytes, &source("services"), format);
    check(&parsed);
});
