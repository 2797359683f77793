//! `dtg session`: the sessions of the local store, where `dtg validate` and
//! `dtg plan` keep their results for the stages after them.

use std::io::Write;

use anyhow::Result;
use clap::{Subcommand, ValueEnum};
use dtg_app::repo::{AuditEntry, FileRecord, Session, Task};
use serde::Serialize;

use crate::exit;
use crate::local::{LocalStore, OWNER, format_time, new_id, now};

/// Output formats of `dtg session`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Human,
    /// For scripts.
    Json,
}

/// `dtg session` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a session; prints its id.
    New {
        /// A name to recognise it by.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List the sessions, oldest first.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Show a session: where it is, its files, plan, tasks and audit log.
    Show {
        /// Session id (or a unique start of it).
        id: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Delete a session and everything in it.
    Delete {
        /// Session id (or a unique start of it).
        id: String,
    },
}

/// Everything `dtg session show --format json` prints.
#[derive(Debug, Serialize)]
struct Shown {
    session: Session,
    version: u64,
    files: Vec<FileRecord>,
    tasks: Vec<Task>,
    audit: Vec<AuditEntry>,
}

/// Runs the command and returns its exit code.
///
/// # Errors
/// The store cannot be opened; no such session.
pub fn run(command: &Command) -> Result<u8> {
    let store = LocalStore::open()?;
    let repos = store.repos();
    let mut out = anstream::stdout().lock();
    match command {
        Command::New { name } => {
            let id = new_id();
            let created = store.block_on(repos.create_session(&id, OWNER, name, now()))?;
            writeln!(out, "{}", created.value.id)?;
            eprintln!(
                "Session {id} started in {}; expires {}.",
                store.home.display(),
                format_time(created.value.expires_at)
            );
        }
        Command::List { format } => {
            let sessions = store.block_on(repos.sessions_of(OWNER, now()))?;
            match format {
                Format::Json => {
                    let list: Vec<_> = sessions.iter().map(|s| &s.value).collect();
                    serde_json::to_writer_pretty(&mut out, &list).map_err(std::io::Error::from)?;
                    writeln!(out)?;
                }
                Format::Human if sessions.is_empty() => {
                    writeln!(out, "No sessions yet; `dtg session new` starts one.")?;
                }
                Format::Human => {
                    writeln!(
                        out,
                        "{:<32}  {:<20}  {:<22}  {:>5}  {:>7}  CREATED",
                        "ID", "NAME", "STAGE", "FILES", "TICKETS"
                    )?;
                    for s in &sessions {
                        let s = &s.value;
                        writeln!(
                            out,
                            "{:<32}  {:<20}  {:<22}  {:>5}  {:>7}  {}",
                            s.id,
                            truncate(&s.name, 20),
                            s.position.to_string(),
                            s.summary.files,
                            s.summary.tickets,
                            format_time(s.created_at)
                        )?;
                    }
                }
            }
        }
        Command::Show { id, format } => {
            let session = store.find(id)?;
            let id = session.value.id.clone();
            let now = now();
            let shown = Shown {
                files: store
                    .block_on(repos.files(&id, now))?
                    .into_iter()
                    .map(|f| f.value)
                    .collect(),
                tasks: store
                    .block_on(repos.tasks(&id, now))?
                    .into_iter()
                    .map(|t| t.value)
                    .collect(),
                audit: store.block_on(repos.audit_log(&id, now))?,
                version: session.version,
                session: session.value,
            };
            match format {
                Format::Json => {
                    serde_json::to_writer_pretty(&mut out, &shown).map_err(std::io::Error::from)?;
                    writeln!(out)?;
                }
                Format::Human => human(&mut out, &shown)?,
            }
        }
        Command::Delete { id } => {
            let session = store.find(id)?;
            let id = session.value.id;
            let blobs = store.block_on(repos.delete_session(&id, now()))?;
            for key in &blobs {
                store.block_on(dtg_app::store::Blobs::delete(&store.blobs, key))?;
            }
            eprintln!("Session {id} deleted, with its {} files.", blobs.len());
        }
    }
    Ok(exit::OK)
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(width - 1).collect();
    cut.push('…');
    cut
}

fn human(out: &mut impl Write, shown: &Shown) -> Result<()> {
    let s = &shown.session;
    writeln!(
        out,
        "Session {}{}",
        s.id,
        if s.name.is_empty() {
            String::new()
        } else {
            format!(" ({})", s.name)
        }
    )?;
    writeln!(out, "  Stage:    {}", s.position)?;
    writeln!(out, "  Created:  {}", format_time(s.created_at))?;
    writeln!(out, "  Updated:  {}", format_time(s.updated_at))?;
    writeln!(out, "  Expires:  {}", format_time(s.expires_at))?;
    let m = &s.summary;
    writeln!(
        out,
        "  Holds:    {} files, {} items ({} errors, {} warnings, {} notes), {} tickets in {} epics, {} dependencies, {} story points",
        m.files,
        m.items,
        m.errors,
        m.warnings,
        m.notes,
        m.tickets,
        m.epics,
        m.dependencies,
        m.story_points
    )?;
    if !shown.files.is_empty() {
        writeln!(out, "\nFiles:")?;
        for f in &shown.files {
            let kind = f
                .report
                .as_ref()
                .and_then(|r| r.csv_type.clone())
                .unwrap_or_else(|| "?".to_owned());
            let rows = f.report.as_ref().map_or(0, |r| r.rows);
            writeln!(
                out,
                "  {:<32} {:<16} {:>6} rows  {:?}, {} findings",
                f.name,
                kind,
                rows,
                f.status,
                f.findings.len()
            )?;
        }
    }
    if !shown.tasks.is_empty() {
        writeln!(out, "\nTasks:")?;
        for t in &shown.tasks {
            let error = t
                .error
                .as_ref()
                .map(|e| format!(": {} ({})", e.message, e.category))
                .unwrap_or_default();
            writeln!(
                out,
                "  {}  {:<12} {:?}{error}",
                format_time(t.created_at),
                t.kind.as_str(),
                t.status
            )?;
        }
    }
    if !shown.audit.is_empty() {
        writeln!(out, "\nAudit log:")?;
        for e in &shown.audit {
            writeln!(
                out,
                "  {}  {:<8} {}  {}",
                format_time(e.at),
                e.actor,
                e.action,
                e.detail
            )?;
        }
    }
    Ok(())
}
