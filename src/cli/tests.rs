//! The parsed command line and its dispatch, without starting the binary.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use super::import::RunTotals;
use super::{Cli, Command, run};
use crate::import::{FileSummary, ImportKind, ImportOutcome};

/// Arguments and what their parsed command must match.
type Case = (&'static [&'static str], fn(&Command) -> bool);

fn parse(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("saferplaces").chain(args.iter().copied())).unwrap()
}

#[test]
fn the_clap_definitions_are_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn every_subcommand_parses_to_its_own_variant() {
    let cases: [Case; 7] = [
        (
            &["serve", "--addr", "127.0.0.1:0"],
            |c| matches!(c, Command::Serve(a) if a.addr.as_deref() == Some("127.0.0.1:0")),
        ),
        (
            &["demo", "--no-serve", "--incidents", "7"],
            |c| matches!(c, Command::Demo(a) if a.no_serve && a.incidents == 7),
        ),
        (
            &["stats", "--json", "--data-dir", "/nonexistent"],
            |c| matches!(c, Command::Stats(a) if a.json && a.dir.data_dir.is_some()),
        ),
        (
            &["check", "--full"],
            |c| matches!(c, Command::Check(a) if a.full),
        ),
        (
            &["sar", "--person", "P0a1b2c3d", "--json"],
            |c| matches!(c, Command::Sar(a) if a.person == "P0a1b2c3d" && a.json && a.html.is_none()),
        ),
        (&["openapi"], |c| matches!(c, Command::Openapi)),
        (&["migrate"], |c| matches!(c, Command::Migrate)),
    ];
    for (args, expected) in cases {
        assert!(expected(&parse(args).command), "{args:?}");
    }
}

#[test]
fn import_options_parse_with_their_defaults() {
    let Command::Import(a) = parse(&["import", "people", "p.csv", "--links", "l.csv"]).command
    else {
        panic!("not an import");
    };
    assert_eq!(a.kind, ImportKind::People);
    assert_eq!(a.paths, [std::path::PathBuf::from("p.csv")]);
    assert_eq!(a.links.as_deref(), Some(std::path::Path::new("l.csv")));
    assert_eq!(a.agency, "data-police-uk");
    assert!(!a.json && !a.dry_run && !a.allow_partial);
    assert!(
        Cli::try_parse_from(["saferplaces", "import", "people"]).is_err(),
        "files are required"
    );
}

#[test]
fn check_refuses_a_missing_store_without_creating_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cli = parse(&["check", "--data-dir", data.to_str().unwrap()]);
    let err = run(cli).unwrap_err().to_string();
    assert!(err.starts_with("no store to check:"), "{err}");
    assert!(!data.exists(), "nothing created");
}

#[test]
fn check_of_a_sound_store_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    drop(crate::store::SqliteStore::open(dir.path()).unwrap());
    let cli = parse(&["check", "--data-dir", dir.path().to_str().unwrap()]);
    assert_eq!(run(cli).unwrap(), ExitCode::SUCCESS);
}

#[test]
fn an_import_run_fails_when_any_file_was_refused_and_counts_every_file() {
    let stored = FileSummary {
        read: 3,
        stored: 3,
        ..FileSummary::default()
    };
    let refused = FileSummary {
        read: 2,
        rejected: 2,
        invalid: 1,
        outcome: ImportOutcome::Refused,
        ..FileSummary::default()
    };
    let mut run = RunTotals::default();
    run.add(&stored);
    assert_eq!(run.exit_code(), ExitCode::SUCCESS);
    run.add(&refused);
    assert_eq!(run.exit_code(), ExitCode::FAILURE);
    let json = run.json(2, false);
    assert_eq!(
        (json["read"].as_u64(), json["stored"].as_u64()),
        (Some(5), Some(3))
    );
    assert_eq!(json["ok"], serde_json::json!(false));
}

#[test]
fn incident_options_parse_repeated_ids_and_negative_longitudes() {
    use super::incident::IncidentCommand;
    let Command::Incident {
        command: IncidentCommand::Withdraw {
            ids, reason, by, ..
        },
    } = parse(&[
        "incident",
        "withdraw",
        "--id",
        "7",
        "--id",
        "9",
        "--reason",
        "recorded in error",
    ])
    .command
    else {
        panic!("not a withdrawal");
    };
    assert_eq!(
        (ids, reason.as_str(), by),
        (vec![7, 9], "recorded in error", None)
    );
    let Command::Incident {
        command: IncidentCommand::Amend { id, lon, lat, .. },
    } = parse(&[
        "incident", "amend", "--id", "7", "--lon", "-2.59", "--lat", "51.45", "--reason", "moved",
    ])
    .command
    else {
        panic!("not an amendment");
    };
    assert_eq!((id, lon, lat), (7, Some(-2.59), Some(51.45)));
    for missing in [
        &["incident", "withdraw", "--reason", "no ids given here"][..],
        &[
            "incident",
            "amend",
            "--id",
            "7",
            "--lat",
            "51.45",
            "--reason",
            "no longitude",
        ],
    ] {
        assert!(
            Cli::try_parse_from(std::iter::once("saferplaces").chain(missing.iter().copied()))
                .is_err(),
            "{missing:?}"
        );
    }
}
