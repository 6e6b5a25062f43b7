//! The study set of the risk layer's Knox calibration (issue 15, point 2), written out so the
//! calibration can be timed and its peak memory measured with the `saferplaces analyse knox`
//! CLI in a process of its own.
//!
//! It loads the store, takes the located incidents known to the day (as the server's
//! snapshot does), selects the default calibration's study period (all categories, the
//! `study_days` up to the last day with an incident, `RiskSettings::default()`) and writes
//! them as `x,y,date` in British National Grid metres — the points `risk::calibrate` passes
//! to `knox`, so `analyse knox --planar` with the same settings gives the same table.
//!
//! Usage: `cargo bench --bench knox_calibration -- DATA_DIR OUT_CSV`; it prints the
//! `analyse knox` command line with the risk layer's settings. docs/BENCHMARKS.md keeps the
//! figures.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a measurement tool: its output is what it prints"
)]

use std::io::Write as _;
use std::path::Path;

use saferplaces::analysis::kde::to_bng;
use saferplaces::analysis::risk::RiskSettings;
use saferplaces::domain::DayEvent;
use saferplaces::store::{SqliteStore, Store};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let (Some(dir), Some(out)) = (args.first(), args.get(1)) else {
        eprintln!(
            "knox_calibration: usage: cargo bench --bench knox_calibration -- DATA_DIR OUT_CSV"
        );
        return;
    };
    let data = match SqliteStore::open_read_only(Path::new(dir)).and_then(|s| s.load()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("knox_calibration: cannot read the store {dir}: {e}");
            return;
        }
    };
    let mut events: Vec<DayEvent> = data.incidents.iter().filter_map(DayEvent::of).collect();
    drop(data);
    events.sort_by_key(|e| e.day);
    let settings = RiskSettings::default();
    let Some(as_of) = events.last().map(|e| e.day) else {
        eprintln!("knox_calibration: the store holds no incident known to the day");
        return;
    };
    let from = as_of.minus_days(settings.study_days - 1);
    let study: Vec<&DayEvent> = events
        .iter()
        .filter(|e| e.day >= from && e.day <= as_of)
        .collect();
    let xy = match to_bng(study.iter().map(|e| e.at)) {
        Ok(xy) => xy,
        Err(e) => {
            eprintln!("knox_calibration: {e}");
            return;
        }
    };
    let written = std::fs::File::create(out).and_then(|f| {
        let mut w = std::io::BufWriter::new(f);
        writeln!(w, "x,y,date")?;
        for (p, e) in xy.iter().zip(&study) {
            writeln!(w, "{},{},{}", p[0], p[1], e.day)?;
        }
        w.flush()
    });
    if let Err(e) = written {
        eprintln!("knox_calibration: writing {out}: {e}");
        return;
    }
    let k = settings.knox;
    println!(
        "{} incidents known to the day; {} in the study period {from}..={as_of} written to {out}",
        events.len(),
        study.len()
    );
    println!(
        "saferplaces analyse knox --planar --json --space-band {} --space-bands {} --time-band {} --time-bands {} --permutations {} --seed {} --input {out}",
        k.space_band_m, k.space_bands, k.time_band_days, k.time_bands, k.permutations, k.seed
    );
}
