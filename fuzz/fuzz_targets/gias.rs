//! Fuzzes `gias::parse_gias` (GIAS edubase CSV, Windows-1252) with raw bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

use saferplaces::ingest::gias::parse_gias;
use saferplaces_fuzz::{check, source};

fuzz_target!(|data: &[u8]| {
    let parsed = parse_gias(data, &source("edubase.csv"));
    check(&parsed);
});
