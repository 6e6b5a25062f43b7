//! End-to-end police street import on one core (issue 4 target: 300,000 rows/s): parse a
//! 1M-row file in the data.police.uk format, write it to a fresh embedded store through the
//! import path, and build the incident index from the stored rows.
//!
//! Run: `cargo bench --bench import_street` (`IMPORT_ROWS` overrides 1,000,000).

#![expect(
    clippy::print_stderr,
    reason = "the bench reports its input size on stderr"
)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group};
use saferplaces::domain::Agency;
use saferplaces::import::{ImportKind, ImportOptions, import_file};
use saferplaces::index::{IncidentIndex, IncidentInput};
use saferplaces::ingest::lsoa::LsoaCodeSets;
use saferplaces::ingest::report::Progress;
use saferplaces::store::{SqliteStore, Store};

const CATEGORIES: [&str; 14] = [
    "Anti-social behaviour",
    "Bicycle theft",
    "Burglary",
    "Criminal damage and arson",
    "Drugs",
    "Other theft",
    "Possession of weapons",
    "Public order",
    "Robbery",
    "Shoplifting",
    "Theft from the person",
    "Vehicle crime",
    "Violence and sexual offences",
    "Other crime",
];

/// `rows` street rows in the real header and column order, CRLF, deterministic (`SplitMix64`).
fn street_csv(rows: usize) -> String {
    let mut s = String::with_capacity(rows * 240);
    s.push_str("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context\r\n");
    let mut state = 0x5AFE_1D0Cu64;
    let mut next = || saferplaces::synthetic::rng::splitmix64(&mut state);
    for i in 0..rows {
        let r = next();
        let cat = CATEGORIES[(r % 14) as usize];
        let month = 1 + (r >> 8) % 12;
        let no_location = r % 17 == 0;
        let crime_id = if cat == "Anti-social behaviour" {
            String::new()
        } else {
            format!("{r:016x}{i:048x}")
        };
        let (lon, lat) = (
            -2.75 + ((r >> 16) % 50_000) as f64 * 1e-5,
            51.35 + ((r >> 32) % 30_000) as f64 * 1e-5,
        );
        if no_location {
            let _ = write!(
                s,
                "{crime_id},2023-{month:02},Avon and Somerset Constabulary,Avon and Somerset Constabulary,,,No Location,,,{cat},Under investigation,\r\n"
            );
        } else {
            let _ = write!(
                s,
                "{crime_id},2023-{month:02},Avon and Somerset Constabulary,Avon and Somerset Constabulary,{lon:.6},{lat:.6},On or near Example Street,E0101{:04},Bristol {:03}A,{cat},Under investigation,\r\n",
                r % 1000,
                r % 300
            );
        }
    }
    s
}

fn bench(c: &mut Criterion) {
    let rows: usize = std::env::var("IMPORT_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("street.csv");
    std::fs::write(&file, street_csv(rows)).expect("write the input");
    eprintln!(
        "input: {rows} rows, {} bytes",
        std::fs::metadata(&file).map_or(0, |m| m.len())
    );
    let opts = options();
    let mut g = c.benchmark_group("import_street");
    g.sample_size(10).measurement_time(Duration::from_mins(1));
    g.throughput(Throughput::Elements(rows as u64));
    g.bench_function("parse_store_index", |b| {
        b.iter(|| {
            let store_dir = tempfile::tempdir().expect("temp dir");
            let mut store = SqliteStore::open(store_dir.path()).expect("store");
            let summary =
                import_file(&mut store, ImportKind::PoliceStreet, &file, &opts).expect("import");
            assert_eq!(summary.stored as usize, rows, "every row stored");
            let data = store.load().expect("load");
            black_box(IncidentIndex::build(&inputs(&data)))
        });
    });
    g.finish();
}

/// The import options of the benchmark: the geodata LSOA lists, silent progress.
fn options() -> ImportOptions {
    ImportOptions {
        dry_run: false,
        allow_partial: false,
        agency: Agency::new("data-police-uk").expect("valid agency"),
        isa_ref: None,
        scheme: None,
        code_field: None,
        name_field: None,
        progress: Progress::silent(),
        lsoa_codes: Some(std::sync::Arc::new(
            LsoaCodeSets::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata"))
                .expect("LSOA code lists"),
        )),
        links: None,
        sharing: None,
        today: saferplaces::api::Clock::System.today(),
    }
}

/// Index inputs from loaded incidents (what the server's snapshot build does).
fn inputs(data: &saferplaces::domain::Dataset) -> Vec<IncidentInput> {
    saferplaces::index::incident_inputs(&data.incidents)
}

/// This process's CPU time (user + system), seconds, from `/proc/self/stat` (clock ticks of
/// 1/100 s); 0 where procfs is absent.
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the state field here.
    (ticks(11) + ticks(12)) / 100.0
}

/// One end-to-end run with wall and CPU time per phase (`IMPORT_ONCE=1 cargo bench --bench
/// import_street`). On a shared machine the CPU time is what one dedicated core would take.
fn once() {
    let rows: usize = std::env::var("IMPORT_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("street.csv");
    std::fs::write(&file, street_csv(rows)).expect("write the input");
    let opts = options();
    if std::env::var_os("IMPORT_PARSE_ONLY").is_some() {
        let bytes = std::fs::read(&file).expect("read");
        let src = saferplaces::ingest::report::SourceFile {
            name: "street.csv".into(),
            sha256: String::new(),
            agency: opts.agency.clone(),
            isa_ref: None,
            progress: Progress::silent(),
        };
        let c = cpu_s();
        let parsed = saferplaces::ingest::police::parse_street(&bytes, &src);
        eprintln!("parse only: cpu {:.2} s", cpu_s() - c);
        black_box(parsed);
    }
    let store_dir = tempfile::tempdir().expect("temp dir");
    let mut store = SqliteStore::open(store_dir.path()).expect("store");
    let (w0, c0) = (std::time::Instant::now(), cpu_s());
    let summary = import_file(&mut store, ImportKind::PoliceStreet, &file, &opts).expect("import");
    let (w1, c1) = (w0.elapsed().as_secs_f64(), cpu_s());
    let data = store.load().expect("load");
    let (w2, c2) = (w0.elapsed().as_secs_f64(), cpu_s());
    let index = IncidentIndex::build(&inputs(&data));
    let (w3, c3) = (w0.elapsed().as_secs_f64(), cpu_s());
    black_box(index);
    eprintln!(
        "rows {rows}, stored {}: import (read, hash, parse, store) wall {w1:.2} s cpu {:.2} s; load wall {:.2} s cpu {:.2} s; index wall {:.2} s cpu {:.2} s; total wall {w3:.2} s = {:.0} rows/s, cpu {:.2} s = {:.0} rows/s",
        summary.stored,
        c1 - c0,
        w2 - w1,
        c2 - c1,
        w3 - w2,
        c3 - c2,
        rows as f64 / w3,
        c3 - c0,
        rows as f64 / (c3 - c0).max(1e-9),
    );
}

criterion_group!(benches, bench);

fn main() {
    if std::env::var_os("IMPORT_ONCE").is_some() {
        once();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
