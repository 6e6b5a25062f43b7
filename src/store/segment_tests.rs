use proptest::prelude::*;

use super::*;
use crate::domain::{Agency, Grade, IsaRef};

fn row(id: u64, line: u64, located: bool, n: u64) -> ImportedIncident {
    ImportedIncident {
        incident: Incident {
            id: IncidentId::new(id),
            category: if n.is_multiple_of(2) {
                Category::Drugs
            } else {
                Category::AntiSocialBehaviour
            },
            time: IncidentTime {
                day: Day::from_days_since_epoch(19_000 + (n % 400) as u16),
                minute_of_day: n.is_multiple_of(3).then_some((n % 1440) as u16),
                precision: if n.is_multiple_of(3) {
                    TimePrecision::Exact
                } else {
                    TimePrecision::Month
                },
            },
            location: located.then(|| IncidentLocation {
                point: LonLat::new(-2.6 + n as f64 * 1e-7, 51.45 - n as f64 * 1e-7).unwrap(),
                precision: LocationPrecision::SnapPoint,
            }),
            involves_child: n.is_multiple_of(5),
            provenance: Provenance {
                agency: Agency::new("avon-and-somerset-police").unwrap(),
                isa_ref: n
                    .is_multiple_of(4)
                    .then(|| IsaRef::new("ISA-2024-007").unwrap()),
                grade: n.is_multiple_of(7).then(|| "1AP".parse::<Grade>().unwrap()),
            },
        },
        line,
        attributes: SourceAttributes {
            source_ref: n.is_multiple_of(2).then(|| format!("{n:064x}").into()),
            area_code: Some(format!("E0101{:04}", n % 300).into()),
            location: located.then(|| "On or near Julius Place".into()),
            category_raw: Some("Drugs".into()),
            outcome_raw: (!n.is_multiple_of(3)).then(|| "Under investigation".into()),
            area_vintage: Some(
                if n.is_multiple_of(2) {
                    "2011"
                } else {
                    "unknown"
                }
                .into(),
            ),
        },
        outside_area: n.is_multiple_of(11),
    }
}

fn rows(n: u64) -> Vec<ImportedIncident> {
    (0..n)
        .map(|i| row(1000 + i * 7, i + 2, !i.is_multiple_of(9), i))
        .collect()
}

#[test]
fn a_segment_round_trips_every_column() {
    let input = rows(1000);
    let refs: Vec<&ImportedIncident> = input.iter().collect();
    let seg = encode(&refs).unwrap();
    assert_eq!(seg.rows, 1000);
    let back = decode_rows(1, &seg.ids, &seg.data).unwrap();
    assert_eq!(back.len(), input.len());
    for (a, b) in input.iter().zip(&back) {
        assert_eq!(a.incident, b.incident);
        assert_eq!(a.line, b.line);
        assert_eq!(a.attributes, b.attributes);
        assert_eq!(a.outside_area, b.outside_area);
    }
    let incidents = decode_incidents(1, &seg.ids, &seg.data).unwrap();
    assert!(input.iter().zip(&incidents).all(|(a, b)| a.incident == *b));
    assert_eq!(
        decode_ids(1, &seg.ids).unwrap(),
        input
            .iter()
            .map(|r| r.incident.id.get())
            .collect::<Vec<_>>()
    );
}

#[test]
fn wide_dictionaries_use_wider_indexes() {
    // 70,000 distinct source refs need 4-byte indexes; 300 area codes 2-byte ones.
    let input: Vec<ImportedIncident> = (0..SEGMENT_ROWS as u64)
        .map(|i| row(i + 1, i + 2, true, i * 2))
        .collect();
    let refs: Vec<&ImportedIncident> = input.iter().collect();
    let seg = encode(&refs).unwrap();
    let back = decode_rows(9, &seg.ids, &seg.data).unwrap();
    assert_eq!(back.len(), SEGMENT_ROWS);
    assert_eq!(
        back[SEGMENT_ROWS - 1].attributes,
        input[SEGMENT_ROWS - 1].attributes
    );
}

#[test]
fn a_file_wide_encoder_writes_the_bytes_of_each_segment_encoded_alone() {
    // Rows held in a scrambled order (as an import holds them: file order, ids are hashes),
    // with text shared across segments at different addresses and a value first seen in a
    // later segment, cut into three segments by ascending id.
    let mut held: Vec<ImportedIncident> = (0..3000u64)
        .map(|i| row(10 + i * 3, i + 2, !i.is_multiple_of(9), i))
        .collect();
    for (k, r) in held.iter_mut().enumerate() {
        if k % 5 == 0 {
            // Equal text, its own allocation.
            r.attributes.category_raw = Some("Drugs".to_owned().into());
        }
        if k > 2500 {
            r.attributes.outcome_raw = Some(format!("late outcome {}", k % 3).into());
        }
    }
    let mut state = 0x5EEDu64;
    for i in (1..held.len()).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        held.swap(i, (state >> 33) as usize % (i + 1));
    }
    let mut order: Vec<usize> = (0..held.len()).collect();
    order.sort_by_key(|&at| held[at].incident.id.get());
    let encoder = SegmentEncoder::new(&held).unwrap();
    let mut rows_seen = 0;
    for positions in order.chunks(1100) {
        let together = encoder.encode(positions).unwrap();
        let alone: Vec<&ImportedIncident> = positions.iter().map(|&at| &held[at]).collect();
        let expected = encode(&alone).unwrap();
        assert_eq!(together, expected);
        assert_eq!(together.min_id, alone[0].incident.id.get());
        assert_eq!(
            together.unlocated,
            alone
                .iter()
                .filter(|r| r.incident.location.is_none())
                .count() as u64
        );
        assert_eq!(
            together.outside_area,
            alone.iter().filter(|r| r.outside_area).count() as u64
        );
        rows_seen += together.rows;
    }
    assert_eq!(rows_seen, held.len());
    // Positions out of range or out of id order are refused.
    assert!(encoder.encode(&[held.len()]).is_err());
    assert!(encoder.encode(&[order[1], order[0]]).is_err());
}

/// Police.uk-shaped rows: six-decimal coordinates, 64-hex Crime IDs, some blank (ASB).
fn police_rows(n: u64) -> Vec<ImportedIncident> {
    (0..n)
        .map(|i| {
            let mut r = row(1000 + i * 7, i + 2, !i.is_multiple_of(9), i);
            if let Some(l) = r.incident.location.as_mut() {
                let lon: f64 = format!("{:.6}", -2.75 + (i * 7919 % 50_000) as f64 * 1e-5)
                    .parse()
                    .unwrap();
                let lat: f64 = format!("{:.6}", 51.35 + (i * 104_729 % 30_000) as f64 * 1e-6)
                    .parse()
                    .unwrap();
                l.point = LonLat::new(lon, lat).unwrap();
            }
            r
        })
        .collect()
}

fn encode_all(input: &[ImportedIncident]) -> EncodedSegment {
    let refs: Vec<&ImportedIncident> = input.iter().collect();
    encode(&refs).unwrap()
}

fn assert_round_trip(input: &[ImportedIncident], seg: &EncodedSegment) {
    let back = decode_rows(1, &seg.ids, &seg.data).unwrap();
    assert_eq!(back.len(), input.len());
    for (a, b) in input.iter().zip(&back) {
        assert_eq!(a.incident, b.incident);
        let (pa, pb) = (a.incident.location.as_ref(), b.incident.location.as_ref());
        assert_eq!(
            pa.map(|l| (l.point.lon().to_bits(), l.point.lat().to_bits())),
            pb.map(|l| (l.point.lon().to_bits(), l.point.lat().to_bits())),
            "coordinates come back bit for bit"
        );
        assert_eq!(a.attributes, b.attributes);
        assert_eq!((a.line, a.outside_area), (b.line, b.outside_area));
    }
}

#[test]
fn police_rows_are_stored_compactly_and_come_back_exactly() {
    let input = police_rows(2000);
    let seg = encode_all(&input);
    assert_round_trip(&input, &seg);
    // Coordinates as millionths (kind 1) right after line, day and minute.
    assert_eq!(seg.data[9 + 2000 * 8], COORDS_MICRO);
    // The same rows with one coordinate off the six-decimal grid fall back to f64 (kind 0),
    // and one reference that is not a Crime ID sends the references back to text; both
    // still round-trip.
    let mut odd = input.clone();
    odd[1999].incident.location.as_mut().unwrap().point = LonLat::new(-2.6, 51.4 + 1e-9).unwrap();
    odd[1500].attributes.source_ref = Some("ASB-2023-0001".into());
    let wide = encode_all(&odd);
    assert_eq!(wide.data[9 + 2000 * 8], COORDS_F64);
    assert_round_trip(&odd, &wide);
    // Compact: 24 bytes per row less for coordinates and Crime IDs (half the rows have one).
    assert!(
        wide.data.len() - seg.data.len() >= 2000 * 8 + 1000 * 36,
        "{} vs {}",
        seg.data.len(),
        wide.data.len()
    );
    // Uppercase hex is not a Crime ID as police.uk writes them: kept as text, exactly.
    let mut upper = input.clone();
    upper[0].attributes.source_ref = Some(format!("{:064X}", 0xABCDu32).into());
    assert_round_trip(&upper, &encode_all(&upper));
}

#[test]
fn version_1_segments_still_decode() {
    // Two rows written in the version 1 layout, by hand: no coordinate or reference kinds.
    let mut d = Vec::new();
    d.extend_from_slice(b"SPIS");
    d.push(1);
    d.extend_from_slice(&2u32.to_le_bytes());
    for line in [7u32, 9] {
        d.extend_from_slice(&line.to_le_bytes());
    }
    for day in [19_500u16, 19_501] {
        d.extend_from_slice(&day.to_le_bytes());
    }
    for minute in [NO_MINUTE, 600] {
        d.extend_from_slice(&minute.to_le_bytes());
    }
    for lon in [-2.59_f64, f64::NAN] {
        d.extend_from_slice(&lon.to_le_bytes());
    }
    for lat in [51.45_f64, f64::NAN] {
        d.extend_from_slice(&lat.to_le_bytes());
    }
    d.extend_from_slice(&[0, 1]);
    let dict = |d: &mut Vec<u8>, values: &[&str], indexes: [u8; 2]| {
        d.extend_from_slice(&(values.len() as u32).to_le_bytes());
        for v in values {
            d.extend_from_slice(&(v.len() as u32).to_le_bytes());
            d.extend_from_slice(v.as_bytes());
        }
        d.push(1);
        d.extend_from_slice(&indexes);
    };
    dict(&mut d, &["drugs"], [1, 1]);
    dict(&mut d, &["month", "exact"], [1, 2]);
    dict(&mut d, &["snap_point"], [1, 0]);
    dict(&mut d, &["avon-and-somerset-police"], [1, 1]);
    dict(&mut d, &[], [0, 0]);
    dict(&mut d, &[], [0, 0]);
    // source_ref: plain, one entry per row.
    d.extend_from_slice(&2u32.to_le_bytes());
    for v in ["abc", ""] {
        d.extend_from_slice(&(v.len() as u32).to_le_bytes());
        d.extend_from_slice(v.as_bytes());
    }
    d.push(0);
    for _ in 0..5 {
        dict(&mut d, &["x"], [1, 0]);
    }
    let ids: Vec<u8> = [5u64, 6].iter().flat_map(|i| i.to_le_bytes()).collect();
    let back = decode_rows(3, &ids, &d).unwrap();
    assert_eq!(back.len(), 2);
    assert_eq!(back[0].incident.id.get(), 5);
    assert_eq!(back[0].line, 7);
    let p = back[0].incident.location.as_ref().unwrap().point;
    assert_eq!((p.lon(), p.lat()), (-2.59, 51.45));
    assert!(back[1].incident.location.is_none());
    assert_eq!(back[1].incident.time.minute_of_day, Some(600));
    assert!(back[1].incident.involves_child);
    assert_eq!(back[0].attributes.source_ref.as_deref(), Some("abc"));
    assert_eq!(back[1].attributes.source_ref, None);
    assert_eq!(back[0].attributes.area_vintage.as_deref(), Some("x"));
}

#[test]
fn encoding_refuses_unsorted_empty_and_oversized_batches() {
    let input = rows(3);
    let unsorted = vec![&input[1], &input[0]];
    assert!(encode(&unsorted).is_err());
    let repeated = vec![&input[0], &input[0]];
    assert!(encode(&repeated).is_err());
    assert!(encode(&[]).is_err());
    let many: Vec<ImportedIncident> = (0..=SEGMENT_ROWS as u64)
        .map(|i| row(i + 1, 2, false, i))
        .collect();
    let refs: Vec<&ImportedIncident> = many.iter().collect();
    assert!(encode(&refs).is_err());
}

#[test]
fn damaged_segments_are_reported_as_corrupt_naming_the_segment() {
    let input = rows(50);
    let refs: Vec<&ImportedIncident> = input.iter().collect();
    let seg = encode(&refs).unwrap();
    // Truncation anywhere, a trailing byte, a bad magic, a wrong row count.
    for cut in [0, 3, 5, 9, seg.data.len() / 2, seg.data.len() - 1] {
        let err = decode_rows(42, &seg.ids, &seg.data[..cut]).unwrap_err();
        assert!(
            err.to_string().contains("incident_segments row 42"),
            "{err}"
        );
    }
    let mut longer = seg.data.clone();
    longer.push(0);
    assert!(decode_rows(42, &seg.ids, &longer).is_err());
    let mut magic = seg.data.clone();
    magic[0] = b'X';
    assert!(decode_rows(42, &seg.ids, &magic).is_err());
    assert!(decode_rows(42, &seg.ids[8..], &seg.data).is_err());
    assert!(decode_ids(42, &seg.ids[1..]).is_err());
    // Ids out of order.
    let mut swapped = seg.ids.clone();
    swapped[..16].rotate_left(8);
    assert!(decode_rows(42, &swapped, &seg.data).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// No byte string makes the decoder panic; whatever decodes has one row per id.
    #[test]
    fn decoding_arbitrary_bytes_never_panics(
        ids in proptest::collection::vec(any::<u8>(), 0..64),
        data in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        if let Ok(rows) = decode_rows(7, &ids, &data) {
            prop_assert_eq!(rows.len(), ids.len() / 8);
        }
    }

    /// Flipping any byte of a valid segment either decodes or is reported, never panics.
    #[test]
    fn flipped_bytes_never_panic(at in 0usize..4096, bit in 0u8..8) {
        let input = rows(40);
        let refs: Vec<&ImportedIncident> = input.iter().collect();
        let seg = encode(&refs).unwrap();
        let mut data = seg.data.clone();
        let i = at % data.len();
        data[i] ^= 1 << bit;
        let _ = decode_rows(7, &seg.ids, &data);
    }
}

#[test]
fn crime_ids_are_exactly_64_lowercase_hex_digits() {
    let id = "0123456789abcdef".repeat(4);
    let bytes = hex32(&id).unwrap();
    assert_eq!(bytes[0], 0x01);
    assert_eq!(bytes[7], 0xef);
    assert_eq!(hex64(&bytes), id);
    for bad in [
        id.to_uppercase(),
        format!("{}g", &id[..63]),
        format!("{}/", &id[..63]),
        format!("{}:", &id[..63]),
        format!("{}`", &id[..63]),
        id[..63].to_owned(),
        format!("{id}0"),
        format!("{}é", &id[..62]),
        String::new(),
    ] {
        assert_eq!(hex32(&bad), None, "{bad:?}");
    }
}

#[test]
fn millionths_are_used_only_when_they_give_back_the_same_double() {
    for text in [
        "-2.593101",
        "51.455",
        "0",
        "180",
        "-180",
        "-0.000001",
        "90.000000",
    ] {
        let x: f64 = text.parse().unwrap();
        let m = micro(x).unwrap();
        assert_eq!((f64::from(m) / 1e6).to_bits(), x.to_bits(), "{text}");
    }
    assert_eq!(micro(f64::NAN), Some(NO_MICRO));
    // Seven decimals, a value off the decimal grid, negative zero (its sign would be lost).
    for x in [-2.593_101_7, 0.1 + 0.2, -0.0, 1e12] {
        assert_eq!(micro(x), None, "{x}");
    }
}
