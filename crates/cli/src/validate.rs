//! `dtg validate`: what each file is, and everything wrong with it.

use std::io::Write;
use std::path::PathBuf;

use anstyle::{AnsiColor, Style};
use anyhow::Result;
use clap::ValueEnum;
use dtg_core::csv::{Limits, Report, validate};
use dtg_core::{Finding, Severity};

use crate::exit;

/// Output formats of `dtg validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Findings grouped by file, for people.
    Human,
    /// The stable JSON document described in the README.
    Json,
}

/// Arguments of `dtg validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// CSV files, or folders holding them.
    #[arg(required_unless_present = "session", value_name = "DIR or FILES")]
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    #[command(flatten)]
    session: crate::local::SessionArg,
}

/// Runs the command and returns its exit code.
///
/// # Errors
/// Usage problems: a missing path, no CSV file.
pub fn run(args: &Args) -> Result<u8> {
    let (session, report) = match &args.session.session {
        Some(id) => {
            let (id, report) = crate::local::validate_in_session(id, &args.paths)?;
            (Some(id), report)
        }
        None => {
            let files = crate::input::collect(&args.paths)?;
            (None, validate(&files, &Limits::default()))
        }
    };
    if let Some(id) = session {
        eprintln!("Files and findings saved in session {id}.");
    }
    let mut out = anstream::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report.document())
                .map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        Format::Human => human(&mut out, &report)?,
    }
    Ok(if report.has_errors() {
        exit::INVALID
    } else {
        exit::OK
    })
}

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const ERROR: Style = AnsiColor::Red.on_default().bold();
const WARNING: Style = AnsiColor::Yellow.on_default().bold();
const INFO: Style = AnsiColor::Cyan.on_default();
const OK: Style = AnsiColor::Green.on_default().bold();

/// The message without the `line N: ` prefix, which the output shows apart.
fn body(finding: &Finding) -> &str {
    match finding.line {
        Some(line) => finding
            .message
            .strip_prefix(&format!("line {line}: "))
            .unwrap_or(&finding.message),
        None => &finding.message,
    }
}

/// Findings grouped by file, for people.
///
/// # Errors
/// Only when writing fails.
pub fn human(out: &mut impl Write, report: &Report) -> Result<()> {
    for file in &report.files {
        let kind = match (&file.csv_type, file.dialect) {
            (Some(t), Some(d)) if d != dtg_core::csv::Dialect::Canonical => {
                format!("{t}, {} dialect", d.as_str())
            }
            (Some(t), _) => t.clone(),
            (None, _) => "not recognised".to_owned(),
        };
        writeln!(
            out,
            "{BOLD}{}{BOLD:#}  {DIM}{kind} · {} rows · {} items{DIM:#}",
            file.name, file.rows, file.items
        )?;
        for f in report.findings.iter().filter(|f| f.file == file.name) {
            let (style, label) = match f.severity {
                Severity::Error => (ERROR, "error"),
                Severity::Warning => (WARNING, "warning"),
                Severity::Info => (INFO, "info"),
            };
            let place = match (&f.line, &f.column) {
                (Some(l), Some(c)) if !c.is_empty() => format!("line {l}, {c}"),
                (Some(l), _) => format!("line {l}"),
                (None, Some(c)) => format!("column {c}"),
                (None, None) => "file".to_owned(),
            };
            writeln!(
                out,
                "  {style}{label:<7}{style:#} {place}: {} {DIM}[{}]{DIM:#}",
                body(f),
                f.code
            )?;
        }
        if !file.unknown_columns.is_empty() {
            writeln!(
                out,
                "  {DIM}kept as context: {}{DIM:#}",
                file.unknown_columns.join(", ")
            )?;
        }
    }
    let (errors, warnings) = report.counts();
    let items = report.items.len();
    let files = report.files.len();
    // Notes are only counted when there are some: most uploads have none.
    let notes = match report.infos() {
        0 => String::new(),
        n => format!(", {n} info"),
    };
    writeln!(out)?;
    if errors == 0 {
        writeln!(
            out,
            "{OK}✔ valid{OK:#}: {files} files, {items} items, {warnings} warnings{notes}"
        )?;
    } else {
        writeln!(
            out,
            "{ERROR}✖ {errors} errors{ERROR:#}, {warnings} warnings{notes} in {files} files ({items} items); fix the errors and run again"
        )?;
    }
    Ok(())
}
