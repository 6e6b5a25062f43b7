//! Fuzzes `naptan::parse_naptan` (NaPTAN Stops.csv) with raw bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

use saferplaces::ingest::naptan::parse_naptan;
use saferplaces_fuzz::{check, source};

fuzz_target!(|data: &[u8]| {
    let parsed = parse_naptan(data, &source("Stops.csv"));
    check(&parsed);
});
