//! The `saferplaces` binary: parse the command line and run it ([`saferplaces::cli`]); an
//! error is printed with its causes and exits 1.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use saferplaces::cli::{Cli, run};

/// Attributes each allocation of a running computation to it, so that the admission layer's
/// memory budgets are enforced on measured figures (`analysis::budget`, issue 14 point 1).
#[global_allocator]
static ALLOCATOR: saferplaces::analysis::budget::Allocator =
    saferplaces::analysis::budget::allocator();

fn main() -> ExitCode {
    saferplaces::analysis::budget::install();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
