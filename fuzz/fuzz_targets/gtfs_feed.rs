//! Fuzzes `gtfs::parse_gtfs` through a well-formed container built from the input, so the
//! fuzzer spends its time on the CSV contents rather than on zip framing.
//!
//! Input layout: byte 0 is a flag byte, the rest is split on NUL bytes into up to five file
//! bodies, in order `stops.txt`, `routes.txt`, `trips.txt`, `shapes.txt`, `stop_times.txt`.
//! A file is written when its segment exists and its presence bit is clear (so the fuzzer can
//! drop any file, including the required ones).
//!
//! Flags: bit 0 set = a folder of `.txt` files, clear = a `.zip`; bit 1 set = deflate
//! (zip only), clear = stored; bits 2..=6 = drop `stops`, `routes`, `trips`, `shapes`,
//! `stop_times` respectively.
#![no_main]

use std::io::{Cursor, Write};

use libfuzzer_sys::fuzz_target;
use saferplaces::ingest::gtfs::parse_gtfs;
use saferplaces_fuzz::{check, scratch_dir, source};
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

const FILES: [&str; 5] = [
    "stops.txt",
    "routes.txt",
    "trips.txt",
    "shapes.txt",
    "stop_times.txt",
];

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut files: Vec<(&str, &[u8])> = Vec::new();
    for (i, body) in rest.splitn(FILES.len(), |&b| b == 0).enumerate() {
        if flags & (1 << (2 + i)) == 0 {
            files.push((FILES[i], body));
        }
    }

    let dir = scratch_dir();
    let path = if flags & 1 == 1 {
        let feed = dir.join("feed");
        std::fs::create_dir_all(&feed).expect("create feed dir");
        for name in FILES {
            match std::fs::remove_file(feed.join(name)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => panic!("cannot clear scratch file: {e}"),
            }
        }
        for (name, body) in &files {
            std::fs::write(feed.join(name), body).expect("write feed file");
        }
        feed
    } else {
        let method = if flags & 2 == 2 {
            CompressionMethod::Deflated
        } else {
            CompressionMethod::Stored
        };
        let options = SimpleFileOptions::default().compression_method(method);
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, body) in &files {
            zip.start_file(*name, options).expect("start zip entry");
            zip.write_all(body).expect("write zip entry");
        }
        let bytes = zip.finish().expect("finish zip").into_inner();
        let path = dir.join("feed.zip");
        std::fs::write(&path, bytes).expect("write feed.zip");
        path
    };

    if let Ok(feed) = parse_gtfs(&path, &source("feed")) {
        check(&feed.stops);
        check(&feed.routes);
    }
});
