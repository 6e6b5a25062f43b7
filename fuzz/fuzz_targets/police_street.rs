//! Fuzzes `police::parse_street` (data.police.uk street CSV) with raw bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

use saferplaces::ingest::police::parse_street;
use saferplaces_fuzz::{check, source};

fuzz_target!(|data: &[u8]| {
    let parsed = parse_street(data, &source("street.csv"));
    check(&parsed);
});
