//! `dtg plan`: validated CSV files to a dependency-ordered backlog.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::ValueEnum;
use dtg_core::csv::{Limits, validate};
use dtg_core::plan::{Granularity, Plan, PlanSettings, plan, render};
use serde::Serialize;

use crate::exit;

/// Output formats of `dtg plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The stable exchange format (tickets, dependencies, order, epics).
    Json,
    /// A readable backlog.
    Markdown,
    /// A file for Jira's CSV importer (hierarchy and links included).
    JiraCsv,
}

/// Granularity on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GranularityArg {
    /// One ticket per bundle-like item, one "Add fields" ticket per bundle.
    PerBundle,
    /// One ticket per field.
    PerField,
}

/// Arguments of `dtg plan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// CSV files, or folders holding them.
    #[arg(required_unless_present = "session", value_name = "DIR or FILES")]
    paths: Vec<PathBuf>,
    /// How finely items are split into tickets.
    #[arg(long, value_enum, default_value_t = GranularityArg::PerBundle)]
    granularity: GranularityArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// Write to this file instead of standard output (replaced atomically).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    session: crate::local::SessionArg,
    #[command(flatten)]
    llm: crate::llm::LlmArgs,
}

/// The JSON document of `dtg plan --format json`.
#[derive(Debug, Serialize)]
struct JsonPlan<'a> {
    #[serde(flatten)]
    plan: &'a Plan,
    summary: Summary,
    /// What the model did and cost, when one wrote the tickets.
    #[serde(skip_serializing_if = "Option::is_none")]
    generation: Option<&'a dtg_llm::GenerationReport>,
}

#[derive(Debug, Serialize)]
struct Summary {
    items: usize,
    tickets: usize,
    epics: usize,
    dependencies: usize,
    story_points: u32,
    warnings: usize,
}

/// Writes `bytes` to `path` through a temporary file in the same folder, so a
/// reader never sees half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Explains why files with errors are not planned.
fn refuse(report: &dtg_core::csv::Report) -> Result<u8> {
    let mut err = anstream::stderr().lock();
    writeln!(err, "The files have errors; fix them before planning:\n")?;
    crate::validate::human(&mut err, report)?;
    Ok(exit::INVALID)
}

/// Runs the command and returns its exit code.
///
/// # Errors
/// Usage problems: a missing path, no CSV file, an unwritable output.
pub fn run(args: &Args) -> Result<u8> {
    let granularity = match args.granularity {
        GranularityArg::PerBundle => Granularity::PerBundle,
        GranularityArg::PerField => Granularity::PerField,
    };
    let settings = PlanSettings { granularity };
    let (report, plan) = match &args.session.session {
        Some(id) => match crate::local::plan_in_session(id, &args.paths, &settings)? {
            (id, crate::local::Planned::Saved(done)) => {
                eprintln!("Plan saved in session {id}, ready for review.");
                *done
            }
            (_, crate::local::Planned::Invalid(report)) => return refuse(&report),
        },
        None => {
            let files = crate::input::collect(&args.paths)?;
            let report = validate(&files, &Limits::default());
            if report.has_errors() {
                return refuse(&report);
            }
            match plan(&report.items, &settings) {
                Ok(plan) => (report, plan),
                Err(err) => {
                    eprintln!("dtg: cannot plan: {err}");
                    return Ok(exit::INVALID);
                }
            }
        }
    };
    // The planner decided the tickets; a model, when asked, only words them.
    let generation = crate::llm::write(&args.llm, &plan, &report.items)?;
    if let (Some(id), Some(g)) = (&args.session.session, &generation) {
        crate::llm::save_in_session(id, g)?;
    }
    let plan = generation.as_ref().map_or(plan, |g| g.plan.clone());
    let plan_file = args.out.as_ref().and_then(|p| p.file_name()).map_or_else(
        || "the plan JSON".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    let bytes = match args.format {
        Format::Json => {
            let doc = JsonPlan {
                plan: &plan,
                summary: Summary {
                    items: report.items.len(),
                    tickets: plan.tickets.len(),
                    epics: plan.epics.len(),
                    dependencies: plan.dependencies.len(),
                    story_points: plan.tickets.iter().map(|t| t.estimate).sum(),
                    warnings: report.findings.len(),
                },
                generation: generation.as_ref().map(|g| &g.report),
            };
            let mut v = serde_json::to_vec_pretty(&doc)?;
            v.push(b'\n');
            v
        }
        Format::Markdown => render::markdown(&plan).into_bytes(),
        Format::JiraCsv => {
            let csv = render::jira_csv(&plan, &plan_file)?;
            for id in &csv.shortened {
                eprintln!(
                    "dtg: the description of {id} is over Jira's limit; the CSV says where the rest is"
                );
            }
            csv.text.into_bytes()
        }
    };
    match &args.out {
        Some(path) => {
            write_atomically(path, &bytes)?;
            eprintln!(
                "{} tickets in {} epics written to {}",
                plan.tickets.len(),
                plan.epics.len(),
                path.display()
            );
        }
        None => std::io::stdout().lock().write_all(&bytes)?,
    }
    Ok(exit::OK)
}
