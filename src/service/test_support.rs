//! A small synthetic snapshot for the services' unit tests: 4,000 incidents over two years on
//! the real boundary files, generated once per test binary.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::domain::{Dataset, TimeWindow};
use crate::index::Snapshot;
use crate::ingest::west_of_england::load_area_set;
use crate::synthetic::{SyntheticParams, generate};

fn dataset() -> &'static Dataset {
    static DS: OnceLock<Dataset> = OnceLock::new();
    DS.get_or_init(|| {
        let areas = load_area_set(&Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata"))
            .expect("the boundary files load");
        let params = SyntheticParams {
            incidents: 4_000,
            people: 50,
            years: 2,
            ..SyntheticParams::default()
        };
        generate(&params, &areas).expect("the synthetic data generate")
    })
}

/// The small snapshot as data version `version` (the same data under every version).
pub(crate) fn snapshot(version: u64) -> Arc<Snapshot> {
    Arc::new(Snapshot::build(dataset().clone(), Vec::new(), version))
}

/// The last `months` whole months of the data (the first day of the first to the last day of
/// the last).
pub(crate) fn last_months(snap: &Snapshot, months: u16) -> TimeWindow {
    let span = super::data_span(snap).expect("the data span days");
    let last_whole = span.to().month_start().minus_days(1);
    let mut from = last_whole.month_start();
    for _ in 1..months {
        from = from.minus_days(1).month_start();
    }
    TimeWindow::new(from, last_whole).expect("ordered")
}
