//! `dtg export` and `dtg results`: a reviewed session's plan becomes Jira
//! issues, in dependency order, resumable, never twice.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use dtg_app::export::{
    Begun, DEFAULT_SETTLE_SECS, ErrorCategory, ExportError, ExportRequest, ExportResults,
    LEASE_SECS, LinkMode, StepReport, SystemClock, begin_export, results, retry_failed, run_export,
};
use dtg_app::jira::Jira;
use dtg_app::progress::{NoPublish, ProgressMessage, Publish};
use dtg_app::repo::{DEFAULT_TTL_SECONDS, Repos};
use dtg_core::session::{Position, Stage, Status};
use dtg_embedded::SqliteTable;
use dtg_jira::{Auth, JiraClient, JiraConfig, Secret};

use crate::exit;
use crate::local::{LocalStore, OWNER, new_id, now};

/// Arguments of `dtg export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The session to export (`dtg session list` shows them).
    #[arg(long, value_name = "ID")]
    session: String,
    /// Jira site (`https://example.atlassian.net`); default `$DTG_JIRA_SITE`.
    #[arg(long, value_name = "URL", env = "DTG_JIRA_SITE")]
    site: Option<String>,
    /// Jira project key; default `$DTG_JIRA_PROJECT`.
    #[arg(long, value_name = "KEY", env = "DTG_JIRA_PROJECT")]
    project: Option<String>,
    /// Assign every ticket to this user (account id, email or display name).
    #[arg(long, value_name = "USER")]
    assignee: Option<String>,
    /// Put every ticket in this sprint (id or name).
    #[arg(long, value_name = "SPRINT")]
    sprint: Option<String>,
    /// Issues per bulk create (at most 50).
    #[arg(long, default_value_t = 50, value_name = "N")]
    batch_size: usize,
    /// How dependency links are sent: inside the create call of the ticket
    /// that needs them, where the project's create screen offers "Linked
    /// Issues" (fewer requests), or one request per link after every issue
    /// exists.
    #[arg(long, value_enum, default_value_t = Links::AtCreate)]
    links: Links,
    /// Seconds a create whose answer was lost may still be running in Jira:
    /// a retry waits until then before it looks for what the create made.
    #[arg(long, value_name = "SECONDS", env = "DTG_JIRA_SETTLE_SECS", default_value_t = DEFAULT_SETTLE_SECS)]
    settle_secs: u64,
    /// Resume a failed export from where it stopped, in the project it
    /// started with (3 retries at most).
    #[arg(long)]
    retry: bool,
    /// Print the exact requests the export would send, and send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Output format of the final results.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

/// Arguments of `dtg results`.
#[derive(Debug, clap::Args)]
pub struct ResultsArgs {
    /// The session whose export to show.
    #[arg(long, value_name = "ID")]
    session: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

/// How dependency links are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Links {
    /// Inside each ticket's create call where Jira allows it; the rest separately.
    AtCreate,
    /// One link request per dependency, after every issue exists.
    Separate,
}

impl From<Links> for LinkMode {
    fn from(links: Links) -> Self {
        match links {
            Links::AtCreate => Self::AtCreate,
            Links::Separate => Self::Separate,
        }
    }
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for people.
    Human,
    /// The results document of the API.
    Json,
}

/// Runs `dtg results`.
///
/// # Errors
/// No such session, or it was never exported.
pub fn run_results(args: &ResultsArgs) -> Result<u8> {
    let store = LocalStore::open()?;
    let session = store.find(&args.session)?.value.id;
    let repos = store.repos();
    let found = store.block_on(results(&repos, &session, now()))?;
    print_results(&found, args.format)?;
    Ok(if found.failure.is_some() {
        exit::INVALID
    } else {
        exit::OK
    })
}

fn print_results(found: &ExportResults, format: Format) -> Result<()> {
    let mut out = anstream::stdout().lock();
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut out, found).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(());
    }
    if !found.jira_tickets.is_empty() {
        let width = found
            .jira_tickets
            .iter()
            .map(|t| t.jira_key.len())
            .max()
            .unwrap_or(3);
        writeln!(out, "{:<width$}  {:<60}  URL", "KEY", "TITLE")?;
        for t in &found.jira_tickets {
            let title: String = t.title.chars().take(60).collect();
            writeln!(out, "{:<width$}  {title:<60}  {}", t.jira_key, t.jira_url)?;
        }
    }
    writeln!(
        out,
        "\n{} issues created, {} dependencies linked, status {}.",
        found.total_tickets_created, found.dependencies_created, found.status
    )?;
    if !found.manual_fixes.is_empty() {
        writeln!(
            out,
            "\nTo finish by hand in Jira ({}):",
            found.manual_fixes.len()
        )?;
        for m in &found.manual_fixes {
            writeln!(
                out,
                "  {}  {}: {}",
                m.jira_key, m.detail, m.recommended_action
            )?;
        }
    }
    if let Some(f) = &found.failure {
        writeln!(out, "\nThe export stopped: {}", f.user_message)?;
        if let Some(order) = f.failed_at_ticket_order {
            writeln!(out, "  at ticket {order} of the build order")?;
        }
        writeln!(out, "  category: {}", category(f.error_category))?;
        for action in &f.recovery_actions {
            writeln!(out, "  - {action}")?;
        }
        if f.retry_available {
            writeln!(
                out,
                "  `dtg export --session {} --retry` resumes where it stopped ({} of 3 retries used).",
                found.session_id, found.retry_attempts_used
            )?;
        }
    }
    Ok(())
}

/// The stable name of a failure's category (as in the JSON) and what it means.
fn category(category: ErrorCategory) -> &'static str {
    match category {
        ErrorCategory::UserFixable => "user_fixable (you can fix it)",
        ErrorCategory::AdminRequired => "admin_required (a Jira administrator must act)",
        ErrorCategory::Temporary => "temporary (retrying later is likely to work)",
    }
}

/// The export request the arguments describe.
fn request(args: &Args) -> ExportRequest {
    ExportRequest {
        project_key: args.project.clone(),
        assignee: args.assignee.clone(),
        sprint: args.sprint.clone(),
        batch_size: args.batch_size,
        link_mode: args.links.into(),
        settle_secs: args.settle_secs,
    }
}

/// Starts, resumes or retries the export of a session (as the app's use
/// cases decide) and drives it to the end.
pub fn drive<J: Jira>(store: &LocalStore, jira: &J, args: &Args) -> Result<u8> {
    let id = store.find(&args.session)?.value.id;
    let repos = store.repos();
    let run_id = new_id();
    let go_on = if args.retry {
        match store.block_on(retry_failed(
            &repos,
            &id,
            args.project.as_deref(),
            LocalStore::run(&run_id),
        )) {
            Ok(_) => true,
            Err(ExportError::MaxRetries { used, .. }) => {
                eprintln!(
                    "dtg: the export was retried {used} times; a Jira administrator must look at the project (the session needs manual cleanup)"
                );
                return Ok(exit::INVALID);
            }
            Err(ExportError::AlreadyExported(_)) => {
                eprintln!("Session {id} is already exported.");
                false
            }
            Err(e) => return Err(explain(e, &id, args.retry)),
        }
    } else {
        let mut told = false;
        loop {
            match store.block_on(begin_export(
                &repos,
                &id,
                request(args),
                LocalStore::run(&run_id),
            )) {
                Ok(Begun::Started(_)) => break true,
                // Another `dtg` drives it, or one was killed and its lease
                // has not lapsed yet: wait for either.
                Ok(Begun::AlreadyRunning(running)) => {
                    if !told {
                        eprintln!(
                            "The export of session {id} is running in another dtg ({:.0}% done); waiting until it ends or stops answering (up to {LEASE_SECS} s after it stops)...",
                            running.progress_percentage
                        );
                        told = true;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
                Err(ExportError::AlreadyExported(_)) => {
                    eprintln!("Session {id} is already exported.");
                    break false;
                }
                Err(ExportError::AdfFailed { failed, .. }) => {
                    let mut err = anstream::stderr().lock();
                    writeln!(
                        err,
                        "Some tickets would not be accepted by Jira; fix them first:"
                    )?;
                    for r in &failed {
                        writeln!(
                            err,
                            "  {}: {}",
                            r.ticket_id,
                            r.error_message.as_deref().unwrap_or("failed")
                        )?;
                    }
                    return Ok(exit::INVALID);
                }
                Err(e) => return Err(explain(e, &id, args.retry)),
            }
        }
    };
    let last = if go_on {
        Some(steps(store, jira, &id, &run_id)?)
    } else {
        None
    };
    let found = store.block_on(results(&repos, &id, now()))?;
    print_results(&found, args.format)?;
    Ok(match last {
        Some(r) if r.state.failure.is_some() => exit::INVALID,
        _ => exit::OK,
    })
}

/// What the command line says when an export cannot start or go on.
fn explain(err: ExportError, id: &str, retry: bool) -> anyhow::Error {
    match err {
        ExportError::NoProject(_) => {
            anyhow::anyhow!("name the Jira project with --project KEY or DTG_JIRA_PROJECT")
        }
        // Issues already made there stay there: another project is refused, not ignored.
        ExportError::ProjectMismatch { started, asked, .. } => anyhow::anyhow!(
            "the export of session {id} goes to project {started}, where it started; it cannot move to {asked}. Leave out --project (and DTG_JIRA_PROJECT) to go on, or export the files to {asked} from a new session"
        ),
        ExportError::Stopped {
            admin_required: true,
            ..
        } => anyhow::anyhow!(
            "the export of session {id} used its retries; a Jira administrator must look at the project (`dtg results --session {id}` shows why it stopped)"
        ),
        ExportError::Stopped { .. } => anyhow::anyhow!(
            "the export of session {id} stopped; `dtg export --session {id} --retry` resumes it"
        ),
        ExportError::Running { .. } => anyhow::anyhow!(
            "the export of session {id} is running in another dtg now; wait for it to end (`dtg results --session {id}` shows how far it is)"
        ),
        ExportError::WrongStage { position, .. } if retry => {
            anyhow::anyhow!("session {id} is at {position}; only a failed export can be retried")
        }
        ExportError::WrongStage { position, .. } => anyhow::anyhow!(
            "session {id} is at {position}; plan it (`dtg plan --session {id}`) before exporting"
        ),
        other => other.into(),
    }
}

/// The progress bar, fed by the export's progress messages.
struct Bar(indicatif::ProgressBar);

impl Publish for Bar {
    async fn publish(&self, _session: &str, message: &ProgressMessage) {
        if let ProgressMessage::ExportProgress(p) = message {
            self.0
                .set_length((p.total_tickets + p.total_dependencies) as u64);
            self.0
                .set_position((p.tickets_completed + p.dependencies_created) as u64);
            self.0.set_message(p.current_stage.clone());
        }
    }
}

fn steps<J: Jira>(store: &LocalStore, jira: &J, id: &str, run_id: &str) -> Result<StepReport> {
    let repos = store.repos();
    let bar = indicatif::ProgressBar::new(1);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {wide_msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let bar = Bar(bar);
    let report = store.block_on(run_export(
        &repos,
        jira,
        &bar,
        &SystemClock,
        id,
        OWNER,
        run_id,
    ));
    bar.0.finish_and_clear();
    Ok(report?)
}

/// The Jira credentials of the environment: `DTG_JIRA_EMAIL` and
/// `DTG_JIRA_API_TOKEN` (Jira Cloud), or `DTG_JIRA_PAT` (a Bearer personal access token).
fn credentials(required: bool) -> Result<Auth> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if let Some(pat) = var("DTG_JIRA_PAT") {
        return Ok(Auth::personal_access_token(&Secret::new(pat)));
    }
    match (var("DTG_JIRA_EMAIL"), var("DTG_JIRA_API_TOKEN")) {
        (Some(email), Some(token)) => Ok(Auth::api_token(email, &Secret::new(token))),
        _ if !required => Ok(Auth::None),
        _ => bail!(
            "set DTG_JIRA_EMAIL and DTG_JIRA_API_TOKEN (an Atlassian API token, for Jira Cloud) or DTG_JIRA_PAT (a personal access token, sent as a Bearer token)"
        ),
    }
}

/// Runs `dtg export`.
///
/// # Errors
/// Missing site, project or credentials; no such session; the store failing.
pub fn run(args: &Args) -> Result<u8> {
    let site = args
        .site
        .clone()
        .context("name the Jira site with --site URL or DTG_JIRA_SITE")?;
    let site = site.trim_end_matches('/').to_owned();
    let config = JiraConfig::new(site.clone());
    let store = LocalStore::open()?;
    if args.dry_run {
        return dry_run(&store, config, args);
    }
    let client = JiraClient::new(config, credentials(true)?)
        .map_err(|e| anyhow::anyhow!("cannot set up the Jira client: {e}"))?;
    let code = drive(&store, &client, args)?;
    let stats = client.stats();
    eprintln!(
        "{} requests to {site}, {} answered 429, {} retried.",
        stats.requests_sent, stats.rate_limited, stats.retries
    );
    Ok(code)
}

/// `--dry-run`: the whole export against a copy of the session in memory,
/// with a client that records every request and sends none; prints them.
fn dry_run(store: &LocalStore, config: JiraConfig, args: &Args) -> Result<u8> {
    let session = store.find(&args.session)?;
    let id = session.value.id.clone();
    let plan = store
        .block_on(store.repos().plan(&id, now()))?
        .with_context(|| {
            format!("session {id} has no plan; `dtg plan --session {id}` makes one")
        })?;
    let position = session.value.position;
    if position.stage != Stage::Review {
        // The copy starts from review: what this session's own export still
        // has to send is less than what is printed.
        eprintln!(
            "Session {id} is at {position}, past review: this shows a whole export of its plan to a project that holds none of its issues."
        );
    }
    let project = args
        .project
        .clone()
        .context("name the Jira project with --project KEY or DTG_JIRA_PROJECT")?;
    let copy = SqliteTable::open_in_memory()?;
    let repos = Repos::new(&copy, DEFAULT_TTL_SECONDS);
    let run_id = new_id();
    let run = || LocalStore::run(&run_id);
    let client = JiraClient::dry_run(config, credentials(false)?)
        .map_err(|e| anyhow::anyhow!("cannot set up the Jira client: {e}"))?;
    store.block_on(async {
        let mut s = repos.create_session(&id, OWNER, "dry run", now()).await?;
        for to in [
            Position::new(Stage::Upload, Status::Active),
            Position::new(Stage::Processing, Status::Processing),
        ] {
            s = repos.move_session(&s, to, now()).await?;
        }
        repos.save_plan(&s.value, &plan, now()).await?;
        repos
            .move_session(&s, Position::new(Stage::Review, Status::Active), now())
            .await?;
        anyhow::Ok(())
    })?;
    let mut copy_args = request(args);
    copy_args.project_key = Some(project);
    match store.block_on(begin_export(&repos, &id, copy_args, run())) {
        Ok(_) => {}
        Err(ExportError::AdfFailed { .. }) => bail!(
            "some tickets would not be accepted by Jira; `dtg export` without --dry-run lists them"
        ),
        Err(e) => return Err(e.into()),
    }
    store.block_on(run_export(
        &repos,
        &client,
        &NoPublish,
        &SystemClock,
        &id,
        OWNER,
        &run_id,
    ))?;
    let mut out = anstream::stdout().lock();
    for request in client.recorded() {
        serde_json::to_writer(&mut out, &request).map_err(std::io::Error::from)?;
        writeln!(out)?;
    }
    eprintln!(
        "{} requests would be sent; nothing was sent, and the session is unchanged.",
        client.recorded().len()
    );
    Ok(exit::OK)
}
