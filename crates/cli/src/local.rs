//! The local session store of `dtg`: SQLite and a blob folder under
//! `$DTG_HOME` (default `$XDG_DATA_HOME/dtg`, else `~/.local/share/dtg`),
//! with the same repositories and stages the serverless deployment runs.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use dtg_app::repo::{DEFAULT_TTL_SECONDS, Repos, Session, Versioned};
use dtg_app::store::Timestamp;
use dtg_app::workflow::{Run, WorkflowError, plan_session, upload_files, validate_session};
use dtg_core::csv::{Limits, Report};
use dtg_core::plan::{Plan, PlanSettings};
use dtg_embedded::{FolderBlobs, SqliteTable};

/// The owner of every session in a local store.
pub const OWNER: &str = "local";

/// The local store, opened.
#[derive(Debug)]
pub struct LocalStore {
    /// Where it lives.
    pub home: PathBuf,
    runtime: tokio::runtime::Runtime,
    /// The table.
    pub table: SqliteTable,
    /// The blob folder.
    pub blobs: FolderBlobs,
}

/// Where the local store lives.
///
/// # Errors
/// No `$DTG_HOME` and no home folder to put it in.
pub fn home() -> Result<PathBuf> {
    let from = |var: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(home) = from("DTG_HOME") {
        return Ok(home);
    }
    if let Some(data) = from("XDG_DATA_HOME") {
        return Ok(data.join("dtg"));
    }
    match from("HOME") {
        Some(home) => Ok(home.join(".local/share/dtg")),
        None => bail!("set DTG_HOME to the folder where dtg keeps its sessions"),
    }
}

/// Seconds since the Unix epoch.
#[must_use]
pub fn now() -> Timestamp {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A new time-ordered id.
#[must_use]
pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

impl LocalStore {
    /// Opens (creating if needed) the store at [`home`].
    ///
    /// # Errors
    /// The folder or database cannot be created or opened.
    pub fn open() -> Result<Self> {
        let home = home()?;
        std::fs::create_dir_all(&home)
            .with_context(|| format!("cannot create the session store {}", home.display()))?;
        let table = SqliteTable::open(home.join("store.sqlite"))
            .with_context(|| format!("cannot open the session store in {}", home.display()))?;
        // Presigned URLs are only served by `dtg serve`; the secret guards them there.
        let secret = Self::secret(&home)?;
        let blobs = FolderBlobs::new(home.join("blobs"), "http://127.0.0.1:8080", secret)
            .with_context(|| format!("cannot open the blob folder in {}", home.display()))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        Ok(Self {
            home,
            runtime,
            table,
            blobs,
        })
    }

    /// The store's signing secret, made on first use and kept private to the user.
    fn secret(home: &std::path::Path) -> Result<Vec<u8>> {
        let path = home.join("blob.secret");
        if let Ok(secret) = std::fs::read(&path)
            && !secret.is_empty()
        {
            return Ok(secret);
        }
        let secret = format!("{}{}", new_id(), new_id()).into_bytes();
        let tmp = home.join(format!(".blob.secret.{}.tmp", std::process::id()));
        std::fs::write(&tmp, &secret).with_context(|| format!("cannot write {}", tmp.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        }
        std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(secret)
    }

    /// The repositories.
    #[must_use]
    pub fn repos(&self) -> Repos<'_, SqliteTable> {
        Repos::new(&self.table, ttl_seconds())
    }

    /// Runs a future to completion.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// A run by the local user, now.
    #[must_use]
    pub fn run(id: &str) -> Run<'_> {
        Run {
            actor: OWNER,
            id,
            now: now(),
        }
    }

    /// The session whose id is `id` or starts with it.
    ///
    /// # Errors
    /// No session matches, or several do.
    pub fn find(&self, id: &str) -> Result<Versioned<Session>> {
        let now = now();
        let repos = self.repos();
        if let Some(session) = self.block_on(repos.session(id, now))? {
            return Ok(session);
        }
        let mut matching: Vec<_> = self
            .block_on(repos.sessions_of(OWNER, now))?
            .into_iter()
            .filter(|s| !id.is_empty() && s.value.id.starts_with(id))
            .collect();
        match matching.len() {
            1 => Ok(matching.remove(0)),
            0 => bail!(
                "there is no session {id} in {}; `dtg session list` shows the sessions there are",
                self.home.display()
            ),
            n => bail!("{n} sessions start with {id}; give more of the id"),
        }
    }
}

/// How long a session lives: `DTG_SESSION_TTL_DAYS` days, 30 by default.
fn ttl_seconds() -> i64 {
    std::env::var("DTG_SESSION_TTL_DAYS")
        .ok()
        .and_then(|d| d.trim().parse::<i64>().ok())
        .filter(|d| *d > 0)
        .map_or(DEFAULT_TTL_SECONDS, |d| d.saturating_mul(86_400))
}

/// `2026-11-22 07:30 UTC` for a timestamp.
#[must_use]
pub fn format_time(at: Timestamp) -> String {
    let c = dtg_app::time::civil(at);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        c.year, c.month, c.day, c.hour, c.minute
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc_dates() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(format_time(1_795_332_600), "2026-11-22 07:30 UTC");
    }
}

/// `--session ID` of `dtg validate` and `dtg plan`: the session to keep the result in.
#[derive(Debug, Clone, clap::Args)]
pub struct SessionArg {
    /// Keep the files and the result in this session of the local store
    /// (`dtg session new` starts one); without files, use the session's own.
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
}

/// Replaces the files of session `id` with the CSV files under `paths`
/// (when any are given) and validates them there.
///
/// # Errors
/// No such session; unreadable paths; the store failing.
pub fn validate_in_session(id: &str, paths: &[PathBuf]) -> Result<(String, Report)> {
    let store = LocalStore::open()?;
    let session = store.find(id)?.value.id;
    let repos = store.repos();
    let run_id = new_id();
    if !paths.is_empty() {
        let files = crate::input::collect(paths)?;
        store.block_on(upload_files(
            &repos,
            &store.blobs,
            &session,
            &files,
            LocalStore::run(&run_id),
        ))?;
    }
    let report = store.block_on(validate_session(
        &repos,
        &store.blobs,
        &session,
        &Limits::default(),
        LocalStore::run(&run_id),
    ))?;
    Ok((session, report))
}

/// What planning in a session gave.
#[derive(Debug)]
pub enum Planned {
    /// The plan, saved in the session.
    Saved(Box<(Report, Plan)>),
    /// The files have errors; nothing was planned.
    Invalid(Box<Report>),
}

/// Plans from the files of session `id` (replaced first by the CSV files
/// under `paths`, when any are given) and saves the plan into it.
///
/// # Errors
/// No such session, or one at a stage that cannot plan; the store failing.
pub fn plan_in_session(
    id: &str,
    paths: &[PathBuf],
    settings: &PlanSettings,
) -> Result<(String, Planned)> {
    let store = LocalStore::open()?;
    let session = store.find(id)?.value.id;
    let repos = store.repos();
    let run_id = new_id();
    if !paths.is_empty() {
        let files = crate::input::collect(paths)?;
        store.block_on(upload_files(
            &repos,
            &store.blobs,
            &session,
            &files,
            LocalStore::run(&run_id),
        ))?;
    }
    let planned = store.block_on(plan_session(
        &repos,
        &store.blobs,
        &session,
        settings,
        &Limits::default(),
        LocalStore::run(&run_id),
    ));
    match planned {
        Ok(done) => Ok((session, Planned::Saved(Box::new(done)))),
        Err(WorkflowError::Invalid { report, .. }) => Ok((session, Planned::Invalid(report))),
        Err(err) => Err(err.into()),
    }
}
