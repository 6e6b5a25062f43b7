//! A saved layer reads back as the same layer; a damaged, truncated or forged file is refused
//! with its field named, never served and never a panic.

use super::*;
use crate::index::incident_layer::tests::{assert_same, incidents};

fn at() -> SavedAt {
    SavedAt {
        seq: 41,
        segment_cursor: 7,
        fingerprint: IncidentsFingerprint {
            table_rows: 3,
            table_max_id: 9,
            segments: 2,
            segment_rows: 4_000,
            segment_id_sum: 12_345,
        },
    }
}

/// A base of 3,000 incidents with two runs (1,000 and 500), and one index of all of them.
fn layer() -> (IncidentLayer, IncidentIndex) {
    let all = incidents(1, 4_500, 11);
    let base = IncidentIndex::build(&all[..3_000]);
    let layer = IncidentLayer::from(base)
        .with_run(IncidentIndex::build(&all[3_000..4_000]))
        .with_run(IncidentIndex::build(&all[4_000..]));
    (layer, IncidentIndex::build(&all))
}

fn saved(dir: &Path, layer: &IncidentLayer) -> PathBuf {
    let path = dir.join(FILE_NAME);
    save(&path, at(), layer).expect("save");
    path
}

#[test]
fn a_saved_layer_reads_back_as_the_same_layer_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let (layer, whole) = layer();
    let path = saved(dir.path(), &layer);
    let (read_at, read) = load(&path).expect("load").expect("present");
    assert_eq!(read_at, at());
    assert_eq!(read.runs(), 2, "the runs stay runs");
    assert_same(&read, &whole);
    assert!(!path.with_extension("index.partial").exists());
}

#[test]
fn wide_ids_and_an_empty_layer_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut wide = incidents(1, 800, 5);
    for (k, i) in wide.iter_mut().enumerate() {
        i.id = crate::domain::IncidentId::new((1 << 40) + k as u64);
    }
    let whole = IncidentIndex::build(&wide);
    let path = saved(
        dir.path(),
        &IncidentLayer::from(IncidentIndex::build(&wide)),
    );
    assert_same(&load(&path).unwrap().unwrap().1, &whole);
    let path = saved(dir.path(), &IncidentLayer::from(IncidentIndex::build(&[])));
    let (_, empty) = load(&path).unwrap().unwrap();
    assert!(empty.is_empty() && empty.day_range().is_none());
}

#[test]
fn no_file_is_no_saved_layer() {
    let dir = tempfile::tempdir().unwrap();
    assert!(load(&dir.path().join(FILE_NAME)).unwrap().is_none());
}

#[test]
fn every_flipped_byte_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (layer, _) = layer();
    let path = saved(dir.path(), &layer);
    let good = std::fs::read(&path).unwrap();
    // The header, each column of the first index, the last runs' bytes and the checksum.
    let mut offsets: Vec<usize> = (0..80).collect();
    offsets.extend((80..good.len()).step_by(997));
    offsets.extend(good.len() - 40..good.len());
    for at in offsets {
        let mut bad = good.clone();
        bad[at] ^= 0x10;
        std::fs::write(&path, &bad).unwrap();
        let err = load(&path).expect_err(&format!("byte {at} flipped"));
        assert!(
            matches!(err, PersistError::Format { .. }),
            "byte {at}: {err}"
        );
    }
}

#[test]
fn a_truncated_or_extended_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (layer, _) = layer();
    let path = saved(dir.path(), &layer);
    let good = std::fs::read(&path).unwrap();
    for len in [0, 7, 8, 60, good.len() / 2, good.len() - 1] {
        std::fs::write(&path, &good[..len]).unwrap();
        let err = load(&path).expect_err(&format!("{len} bytes"));
        assert!(err.to_string().contains(FILE_NAME), "{err}");
    }
    let mut longer = good.clone();
    longer.push(0);
    std::fs::write(&path, &longer).unwrap();
    assert!(
        load(&path)
            .unwrap_err()
            .to_string()
            .contains("after the checksum")
    );
}

#[test]
fn a_huge_count_is_refused_before_anything_is_allocated_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let (layer, _) = layer();
    let path = saved(dir.path(), &layer);
    let mut bad = std::fs::read(&path).unwrap();
    // The first index's count follows the 8-byte magic, the version, 7 header figures and the
    // two piece counts.
    let count_at = 8 + 4 + 7 * 8 + 2 * 4;
    bad[count_at..count_at + 8].copy_from_slice(&u64::from(u32::MAX).to_le_bytes());
    std::fs::write(&path, &bad).unwrap();
    let err = load(&path).unwrap_err().to_string();
    assert!(
        err.contains("incidents") && err.contains("byte file"),
        "{err}"
    );
}

#[test]
fn columns_out_of_order_are_refused_even_with_a_valid_checksum() {
    // A file written by something other than `save` (its checksum recomputed) must not make a
    // query read out of bounds: the columns are checked before the index is built.
    let index = IncidentIndex::build(&incidents(1, 200, 3));
    let positions: Vec<_> = index.positions().collect();
    let (lon, lat, flags, _) = index.point_columns();
    let columns = |swap: bool, cell: Option<u64>| {
        let mut cells10: Vec<u64> = positions.iter().map(|p| p.cell10).collect();
        let mut ids: Vec<u32> = positions.iter().map(|p| p.id as u32).collect();
        if swap {
            ids.swap(0, 1);
            cells10.swap(0, 150);
        }
        if let Some(c) = cell {
            cells10[3] = c;
        }
        Columns {
            ids: IdColumn::Narrow(ids),
            lon: lon.to_vec(),
            lat: lat.to_vec(),
            cat_flags: flags.to_vec(),
            cells10,
            catday: positions.iter().map(|p| p.catday).collect(),
        }
    };
    let range = index
        .day_range()
        .map(|(a, b)| (a.days_since_epoch(), b.days_since_epoch()));
    let rebuilt = IncidentIndex::from_saved(columns(false, None), index.unlocated(), range)
        .expect("the index's own columns");
    assert_same(&IncidentLayer::from(rebuilt), &index);
    for (cols, what) in [
        (columns(true, None), "out of order"),
        (
            columns(false, Some(0x8a19_0000_0000_0000 | 0x7)),
            "not a res-10 cell",
        ),
    ] {
        let err = IncidentIndex::from_saved(cols, index.unlocated(), range).unwrap_err();
        assert!(err.contains(what), "{err}");
    }
    let mut short = columns(false, None);
    short.lat.pop();
    assert!(IncidentIndex::from_saved(short, 0, range).is_err());
}
