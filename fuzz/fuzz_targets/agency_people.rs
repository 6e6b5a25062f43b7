//! Fuzzes `agency::parse_people`: the first byte picks the format (even: CSV, odd: GeoJSON), the rest is the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

use saferplaces::ingest::agency::parse_people;
use saferplaces_fuzz::{agency_input, check, source};

fuzz_target!(|data: &[u8]| {
    let Some((format, bytes)) = agency_input(data) else {
        return;
    };
    let parsed = parse_people(bytes, &source("people"), format);
    check(&parsed);
});
