//! `dtg`: the Drupal Ticket Generator on the command line.

mod export;
mod input;
mod llm;
mod local;
mod plan;
mod serve;
mod session;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc: validation allocates many small strings; it halves the time of a 20,000-row file.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turn Drupal site-configuration spreadsheets into a dependency-ordered Jira backlog.
#[derive(Debug, Parser)]
#[command(name = "dtg", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check CSV files: what each one is, and everything wrong with them.
    Validate(validate::Args),
    /// Plan the backlog: tickets, dependencies, epics, in build order.
    Plan(plan::Args),
    /// Keep work in sessions: start, list, show and delete them.
    #[command(subcommand)]
    Session(session::Command),
    /// Create a session's tickets in Jira: in dependency order, resumable, never twice.
    Export(export::Args),
    /// Show what an export created: keys, links, manual fixes.
    Results(export::ResultsArgs),
    /// Serve the HTTP API and the web client on this machine.
    Serve(serve::Args),
}

/// Exit codes shared by every subcommand.
pub mod exit {
    /// Work done, nothing blocking.
    pub const OK: u8 = 0;
    /// The input has errors (findings of severity error).
    pub const INVALID: u8 = 1;
    /// Usage problem: missing path, nothing to read.
    pub const USAGE: u8 = 2;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Plan(args) => plan::run(&args),
        Command::Session(command) => session::run(&command),
        Command::Export(args) => export::run(&args),
        Command::Results(args) => export::run_results(&args),
        Command::Serve(args) => serve::run(&args),
    };
    match code {
        Ok(code) => ExitCode::from(code),
        // A reader that stops early (`dtg ... | head`) is not an error.
        Err(err)
            if err
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("dtg: {err:#}");
            ExitCode::from(exit::USAGE)
        }
    }
}
