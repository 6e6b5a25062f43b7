//! Test support shared by the parsers' tests: the seeded arbitrary-input property every CSV
//! parser must keep.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

use super::report::Parsed;

/// Runs `check` on 400 seeded inputs: no header or one of `headers`, then up to 600 bytes,
/// either any bytes or bytes drawn from `alphabet` (the format's own characters, so rows get
/// past the tokeniser). `seed` fixes the run.
pub(super) fn on_arbitrary_csv(
    headers: &[String],
    alphabet: &[u8],
    seed: u8,
    check: impl Fn(&[u8]) -> Result<(), TestCaseError>,
) {
    let header = prop_oneof![
        Just(String::new()),
        proptest::sample::select(headers.to_vec())
    ];
    let strategy = (
        header,
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..600),
            proptest::collection::vec(proptest::sample::select(alphabet.to_vec()), 0..600),
        ],
    );
    let config = Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
    );
    runner
        .run(&strategy, |(header, body)| {
            let mut bytes = header.into_bytes();
            bytes.extend_from_slice(&body);
            check(&bytes)
        })
        .unwrap();
}

/// What every parse of any input keeps: each row read is a record or a rejection, lines are
/// parallel to records, and lines and rejections point past the header, naming `file`.
pub(super) fn accounted<T>(p: &Parsed<T>, file: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(p.read, (p.records.len() + p.rejections.len()) as u64);
    prop_assert_eq!(p.lines.len(), p.records.len());
    prop_assert!(p.lines.iter().all(|&l| l >= 2));
    for r in &p.rejections {
        prop_assert!(r.line >= 2, "{r}");
        prop_assert_eq!(&r.file, file);
    }
    Ok(())
}
