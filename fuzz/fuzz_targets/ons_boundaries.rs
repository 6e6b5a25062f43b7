//! Fuzzes `ons::parse_boundaries_all` (ONS-style boundary GeoJSON).
//!
//! Byte 0 picks the options: bit 0 clear = code and name properties found by pattern
//! (`BoundaryFileOptions::for_scheme`), set = named explicitly (`LSOA11CD` / `LSOA11NM`).
//! The rest is the file text (invalid UTF-8 replaced, as the entry point takes `&str`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use saferplaces::domain::SchemeName;
use saferplaces::ingest::ons::{BoundaryFileOptions, parse_boundaries_all};
use saferplaces_fuzz::check;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut opts = BoundaryFileOptions::for_scheme(SchemeName::new("lsoa").expect("valid scheme"));
    if flags & 1 == 1 {
        opts.code_field = Some("LSOA11CD".to_owned());
        opts.name_field = Some("LSOA11NM".to_owned());
    }
    let text = String::from_utf8_lossy(rest);
    let parsed = parse_boundaries_all(&text, "boundaries.geojson", &opts);
    check(&parsed);
});
