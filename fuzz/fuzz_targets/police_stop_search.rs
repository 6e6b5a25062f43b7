//! Fuzzes `police::parse_stop_search` (data.police.uk stop-and-search CSV) with raw bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

use saferplaces::ingest::police::parse_stop_search;
use saferplaces_fuzz::{check, source};

fuzz_target!(|data: &[u8]| {
    let parsed = parse_stop_search(data, &source("stop-and-search.csv"));
    check(&parsed);
});
