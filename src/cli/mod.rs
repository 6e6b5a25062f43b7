//! The `saferplaces` command line: the clap definitions and one module per subcommand.
//!
//! `src/main.rs` only parses [`Cli`] and calls [`run`]; each subcommand's options and body
//! live in the module of its name (`cli/import.rs` for `saferplaces import`, ...), and what
//! several share (settings, stdout, the audit log) in `cli/common.rs`. Subcommands print
//! their results on stdout and progress on stderr; `run` returns the exit status, and an
//! error becomes `error: ...` with its causes and status 1 in `main`.

pub mod analyse;
pub mod audit;
pub mod case;
pub mod check;
mod common;
pub mod demo;
pub mod equality;
pub mod import;
pub mod incident;
pub mod migrate;
pub mod openapi;
pub mod reconcile;
pub mod report;
pub mod retention;
pub mod review;
pub mod sar;
pub mod serve;
pub mod stats;
pub mod user;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use common::DataDirArg;
pub use serve::ServeArgs;

/// The command line.
#[derive(Parser)]
#[command(
    name = "saferplaces",
    version,
    about = "Contextual-safeguarding spatial intelligence: places, not children"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands (their doc comments are the `--help` texts).
#[derive(Subcommand)]
pub enum Command {
    /// Serve the API and the web app from the store in the data directory.
    Serve(ServeArgs),
    /// Generate the synthetic West of England demo data if the store is empty, issue one demo
    /// token per role, then serve.
    Demo(demo::DemoArgs),
    /// Import files of one kind. Every row is stored, a duplicate or rejected (file, line and
    /// field named); a file with a rejected row stores nothing unless --allow-partial.
    Import(import::ImportArgs),
    /// Withdraw or amend incidents: the stored records are kept, a withdrawal beside them
    /// stops them being served. Audited.
    Incident {
        #[command(subcommand)]
        command: incident::IncidentCommand,
    },
    /// Link likely duplicate incidents across sources (same category, different agencies,
    /// close in space and time) and report them; nothing is deleted.
    Reconcile(reconcile::ReconcileArgs),
    /// Aggregate reports.
    Report {
        #[command(subcommand)]
        command: report::ReportCommand,
    },
    /// Apply the PostgreSQL migrations (migrations/postgres/) to the database named by
    /// `SAFERPLACES_DATABASE_URL` and print what was applied. This release has PostgreSQL's
    /// schema only: no command serves or stores data there yet, and the embedded SQLite store
    /// migrates itself when opened.
    Migrate,
    /// Print the OpenAPI 3.1 document of the HTTP API, as a server serves it at
    /// /api/v1/openapi.json, naming the default address 127.0.0.1:8080 and the demo's
    /// boundary schemes.
    Openapi,
    /// Print the number of stored records per kind.
    Stats(stats::StatsArgs),
    /// Check the store for damage: SQLite's structure check, every segment's checksum and
    /// every record; prints what it checked and OK, or every problem (exit status 2).
    Check(check::CheckArgs),
    /// Manage users.
    User {
        #[command(subcommand)]
        command: user::UserCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Reviews of person-level entries.
    Review {
        #[command(subcommand)]
        command: review::ReviewCommand,
    },
    /// Retention of person-level entries.
    Retention {
        #[command(subcommand)]
        command: retention::RetentionCommand,
    },
    /// Cases: assign users (only assigned users read a case's subjects).
    Case {
        #[command(subcommand)]
        command: case::CaseCommand,
    },
    /// Subject access (safeguards.md S26): everything held about one person, who accessed it
    /// and who received it, as JSON or a standalone HTML page. Run by an operator after the
    /// requester's identity has been checked outside the system; audited as a disclosure.
    Sar(sar::SarArgs),
    /// The S22 disproportionality monitor (run by the equality monitoring function only).
    Equality {
        #[command(subcommand)]
        command: equality::EqualityCommand,
    },
    /// Hot spot analytics on a CSV of events (places and days only, never people).
    Analyse {
        #[command(subcommand)]
        command: analyse::AnalyseCommand,
    },
}

/// Runs one parsed command line; the exit status is the command's (0, 1 for a failed
/// import or subject access request, 2 for a damaged store or audit log).
///
/// # Errors
///
/// Whatever stopped the command, with its causes (the binary prints it and exits 1).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Import(args) => import::run(&args),
        Command::Incident { command } => incident::run(command),
        Command::Reconcile(args) => reconcile::run(args),
        Command::Report { command } => report::run(command),
        Command::Migrate => migrate::run(),
        Command::Openapi => openapi::run(),
        Command::Stats(args) => stats::run(args),
        Command::Check(args) => check::run(args),
        Command::User { command } => user::run(command),
        Command::Audit { command } => audit::run(command),
        Command::Review { command } => review::run(command),
        Command::Retention { command } => retention::run(command),
        Command::Case { command } => case::run(command),
        Command::Sar(args) => sar::run(args),
        Command::Equality { command } => equality::run(command),
        Command::Analyse { command } => analyse::run_command(&command),
    }
}

#[cfg(test)]
mod tests;
