//! What the export keeps between steps: the cursor and its counters (one
//! `EXPORT` item per session), one `ISSUE#<id>` record per epic or ticket
//! Jira created, written the moment Jira answers, and the ADF check.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::repo::{RepoError, Repos, Result, Session, Versioned};
use crate::store::{Condition, Item, Table, Timestamp, TransactOp, keys, query_all};

/// Sort key of the export cursor.
pub const EXPORT: &str = "EXPORT";
/// Sort key of the last ADF check.
pub const ADF_CHECK: &str = "ADFCHECK";
/// Prefix of the records of created issues.
pub const ISSUES: &str = "ISSUE#";
/// Sort key of the record of a create call in flight.
pub const IN_FLIGHT: &str = "INFLIGHT";
/// Sort key of the lease of the driver running the export.
pub const EXPORT_LEASE: &str = "EXPORTLEASE";
/// How long, by default, a create whose answer was lost may still be
/// running in Jira: Jira finishes a request its client gave up on.
pub const DEFAULT_SETTLE_SECS: u64 = 60;

/// How dependency links reach Jira.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LinkMode {
    /// Inside the create call of the ticket that needs them
    /// (`update.issuelinks`), where the create screen offers `issuelinks`;
    /// links between tickets of one bulk create, and those Jira refuses
    /// there, go as separate requests afterwards.
    #[default]
    AtCreate,
    /// One `issueLink` request per dependency, after every issue exists.
    Separate,
}

/// A create call sent and not yet answered, recorded before it goes out:
/// if its answer is lost (or the process dies), the next start or retry
/// knows to look for what it made before sending anything again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InFlight {
    /// Our epic or ticket ids in the call, in order.
    pub ids: Vec<String>,
    /// The highest issue number known in the project when it was sent:
    /// whatever the call made has a higher one.
    pub key_floor: u64,
    /// When it was sent.
    pub sent_at: Timestamp,
}

/// Where an export is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Checking the project and finding issues an earlier run created.
    Prepare,
    /// Creating epics.
    Epics,
    /// Creating tickets, in build order.
    Tickets,
    /// Uploading attachments.
    Attachments,
    /// Linking dependencies.
    Links,
    /// Finished.
    Done,
}

/// The error categories of seed `004_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCategory {
    /// The user can fix it (sign in again, fix a ticket, make a field optional).
    UserFixable,
    /// A Jira administrator must act (permissions, project, issue types).
    AdminRequired,
    /// Passing trouble (network, Jira unavailable); retrying is likely to work.
    Temporary,
}

/// Why an export stopped, and how to recover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportFailure {
    /// Category.
    pub error_category: ErrorCategory,
    /// Stable code (`jira_unauthorized`, `project_not_found`, ...).
    pub code: String,
    /// What happened, for the user.
    pub user_message: String,
    /// What to do about it.
    pub recovery_actions: Vec<String>,
    /// Build-order position (1-based) of the ticket being created, if any.
    pub failed_at_ticket_order: Option<usize>,
    /// Id of that ticket.
    pub ticket_id: Option<String>,
    /// Whether `dtg export --retry` may resume.
    pub retry_available: bool,
    /// When it stopped.
    pub at: Timestamp,
}

/// A field Jira refused for one ticket, dropped or replaced so the export
/// goes on; the user finishes it by hand in Jira.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// The assignee cannot be assigned: left unassigned.
    AssigneeInvalid,
    /// The sprint does not exist or is closed: no sprint.
    SprintNotFound,
    /// The priority is not available: the project's default.
    PriorityUnavailable,
    /// The issue type is not available: created as a Task.
    IssueTypeUnavailable,
    /// The estimate field is not on the create screen: left empty.
    EstimateFieldUnavailable,
}

impl Fallback {
    /// What the user should do in Jira afterwards.
    #[must_use]
    pub fn recommended_action(self) -> &'static str {
        match self {
            Self::AssigneeInvalid => {
                "Assign the issue by hand, or give the intended assignee access to the project."
            }
            Self::SprintNotFound => "Move the issue into the intended sprint by hand.",
            Self::PriorityUnavailable => {
                "Set the priority by hand, or add the priority to the project's priority scheme."
            }
            Self::IssueTypeUnavailable => {
                "Change the issue type by hand, or add the type to the project's issue type scheme."
            }
            Self::EstimateFieldUnavailable => {
                "Enter the story points by hand, or add the estimate field to the create screen."
            }
        }
    }
}

/// A fallback applied to one ticket, for the results page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ManualFix {
    /// Our ticket (or epic) id.
    pub ticket_id: String,
    /// Its title.
    pub title: String,
    /// What was dropped or replaced.
    pub issue_type: Fallback,
    /// Jira's words, when Jira refused the field.
    pub detail: String,
}

/// What the prepare phase found out about the project, used by every later step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Resolved {
    /// Issue type ids by our type name (`Epic`, `Story`, `Task`).
    pub issue_types: BTreeMap<String, String>,
    /// Priority ids by name.
    pub priorities: BTreeMap<String, String>,
    /// The story-points field, when the create screens have one.
    pub estimate_field: Option<String>,
    /// The sprint field, when the create screens have one.
    pub sprint_field: Option<String>,
    /// The name of the link type that means "blocks".
    pub blocks_link: String,
    /// Account id of the assignee, when one was asked for and is assignable.
    pub assignee: Option<String>,
    /// Id of the sprint, when one was asked for and is open.
    pub sprint: Option<u64>,
    /// Account ids of the assignees set on single tickets in review, by the
    /// name the ticket gives (those Jira cannot assign are absent).
    #[serde(default)]
    pub assignees: BTreeMap<String, String>,
    /// Ids of the open sprints set on single tickets in review, by the name
    /// or id the ticket gives (those not found or closed are absent).
    #[serde(default)]
    pub sprints: BTreeMap<String, u64>,
    /// Issue type ids whose create screen offers `issuelinks`.
    #[serde(default)]
    pub links_at_create: std::collections::BTreeSet<String>,
    /// The highest issue number the project had when prepare looked (by a
    /// search, which may lag: a floor, never above the truth).
    #[serde(default)]
    pub key_floor: u64,
}

/// Counts of what the export did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Counters {
    /// Epics created.
    pub epics_created: usize,
    /// Tickets created.
    pub tickets_created: usize,
    /// Issues found already created by an earlier run (not created again).
    pub reconciled: usize,
    /// Attachments uploaded.
    pub attachments_uploaded: usize,
    /// Dependency links created (at creation and separately).
    pub links_created: usize,
    /// Of those, links made inside create calls.
    #[serde(default)]
    pub links_at_create: usize,
}

/// What the user asked for when starting the export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportSettings {
    /// Jira project key.
    pub project_key: String,
    /// Assign every ticket to this user (account id, email or display name).
    pub assignee: Option<String>,
    /// Put every ticket in this sprint (id or name).
    pub sprint: Option<String>,
    /// Issues per bulk create (at most 50).
    pub batch_size: usize,
    /// How dependency links are sent.
    #[serde(default)]
    pub link_mode: LinkMode,
    /// How long a create whose answer was lost may still be running in Jira
    /// (seconds): a retry waits that long after it was sent before it
    /// decides what the create made.
    #[serde(default = "default_settle_secs")]
    pub settle_secs: u64,
}

fn default_settle_secs() -> u64 {
    DEFAULT_SETTLE_SECS
}

impl Default for ExportSettings {
    fn default() -> Self {
        Self {
            project_key: String::new(),
            assignee: None,
            sprint: None,
            batch_size: super::BULK_LIMIT,
            link_mode: LinkMode::default(),
            settle_secs: DEFAULT_SETTLE_SECS,
        }
    }
}

/// The export cursor: everything a step needs to go on, and a retry needs
/// to resume from the failure point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportState {
    /// Settings.
    pub settings: ExportSettings,
    /// The task the client polls for this export.
    pub task_id: String,
    /// The label every issue of this session's export carries.
    pub run_label: String,
    /// Where it is.
    pub phase: Phase,
    /// Dependency links done, in plan order.
    pub links_done: usize,
    /// What prepare found.
    pub resolved: Resolved,
    /// Fallbacks to apply, per ticket id.
    pub fallbacks: BTreeMap<String, Vec<Fallback>>,
    /// Fallbacks applied, for the results.
    pub manual_fixes: Vec<ManualFix>,
    /// Tickets whose links go as separate requests, because Jira refused
    /// them inside the create call.
    #[serde(default)]
    pub separate_links: std::collections::BTreeSet<String>,
    /// Why it stopped, while it is stopped.
    pub failure: Option<ExportFailure>,
    /// The first failure of this export, kept for the record.
    pub first_failure_at: Option<Timestamp>,
    /// Retries used (at most [`super::MAX_RETRIES`]).
    pub retries_used: u32,
    /// Counters.
    pub counters: Counters,
    /// When it started.
    pub started_at: Timestamp,
    /// When it finished.
    pub finished_at: Option<Timestamp>,
}

/// Whether a created issue is an epic or a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExportedKind {
    /// An epic.
    Epic,
    /// A ticket.
    Ticket,
}

/// An issue Jira created for one of our epics or tickets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Exported {
    /// Our epic or ticket id.
    pub id: String,
    /// Epic or ticket.
    pub kind: ExportedKind,
    /// Jira's issue id.
    pub jira_id: String,
    /// Jira's issue key.
    pub key: String,
    /// Link for people.
    pub url: String,
    /// Whether its attachments are uploaded.
    pub attachments_done: bool,
    /// When Jira created it (or when a retry found it).
    pub at: Timestamp,
    /// The tickets it was linked to ("is blocked by") inside its create call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub linked_at_create: Vec<String>,
}

/// Who drives a session's export, and until when: the driver renews it
/// while it runs (a heartbeat) and before it waits; a driver that died
/// stops renewing it and it lapses. An export is *running* while its
/// session is `jira_export/exporting` and its lease has not lapsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportLease {
    /// The run that holds it.
    pub holder: String,
    /// When it lapses unless renewed.
    pub until: Timestamp,
}

/// The last ADF check of a session's tickets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdfCheck {
    /// When it ran.
    pub at: Timestamp,
    /// Fingerprint of the tickets it checked (ids and versions).
    pub fingerprint: String,
    /// Whether every ticket passed.
    pub all_passed: bool,
}

impl<T: Table> Repos<'_, T> {
    /// The export cursor of a session.
    ///
    /// # Errors
    /// Store failures.
    pub async fn export_state(
        &self,
        session: &str,
        now: Timestamp,
    ) -> Result<Option<Versioned<ExportState>>> {
        self.load(&keys::session(session), EXPORT, now).await
    }

    /// Saves the export cursor, conditional on the version read (`None`: new).
    ///
    /// # Errors
    /// [`RepoError::Conflict`] when another worker moved it.
    pub async fn save_export_state(
        &self,
        session: &Session,
        state: &ExportState,
        expected: Option<u64>,
        now: Timestamp,
    ) -> Result<Versioned<ExportState>> {
        let version = self
            .store(
                &keys::session(&session.id),
                EXPORT,
                state,
                expected,
                Some(session.expires_at),
                now,
            )
            .await?;
        Ok(Versioned {
            value: state.clone(),
            version,
        })
    }

    /// Records issues Jira created, in transactions; a record is never
    /// replaced by one with another key (that would be a duplicate).
    ///
    /// # Errors
    /// Store failures.
    pub async fn record_exported(
        &self,
        session: &Session,
        exported: &[Exported],
        now: Timestamp,
    ) -> Result<()> {
        let pk = keys::session(&session.id);
        let ops = exported
            .iter()
            .map(|e| {
                let body = serde_json::to_value(e).map_err(|source| RepoError::Corrupt {
                    what: format!("{pk} {ISSUES}{}", e.id),
                    source,
                })?;
                Ok(TransactOp::Put(
                    Item {
                        pk: pk.clone(),
                        sk: format!("{ISSUES}{}", e.id),
                        body,
                        version: 1,
                        expires_at: Some(session.expires_at),
                    },
                    Condition::None,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        self.transact_in_batches(ops, now).await
    }

    /// Every issue created for a session, by our id.
    ///
    /// # Errors
    /// Store failures.
    pub async fn exported(
        &self,
        session: &str,
        now: Timestamp,
    ) -> Result<BTreeMap<String, Exported>> {
        let pk = keys::session(session);
        query_all(self.table(), &pk, ISSUES, now)
            .await?
            .into_iter()
            .map(|item| {
                let e: Exported =
                    serde_json::from_value(item.body).map_err(|source| RepoError::Corrupt {
                        what: format!("{pk} {}", item.sk),
                        source,
                    })?;
                Ok((e.id.clone(), e))
            })
            .collect()
    }

    /// The create call in flight, if one was sent and not settled.
    ///
    /// # Errors
    /// Store failures.
    pub async fn in_flight(&self, session: &str, now: Timestamp) -> Result<Option<InFlight>> {
        Ok(self
            .load(&keys::session(session), IN_FLIGHT, now)
            .await?
            .map(|v| v.value))
    }

    /// Records a create call about to be sent (replacing any earlier record).
    ///
    /// # Errors
    /// Store failures.
    pub async fn begin_create(
        &self,
        session: &Session,
        call: &InFlight,
        now: Timestamp,
    ) -> Result<()> {
        let pk = keys::session(&session.id);
        let body = serde_json::to_value(call).map_err(|source| RepoError::Corrupt {
            what: format!("{pk} {IN_FLIGHT}"),
            source,
        })?;
        let item = Item {
            pk,
            sk: IN_FLIGHT.to_owned(),
            body,
            version: 1,
            expires_at: Some(session.expires_at),
        };
        self.table().put(item, Condition::None, now).await?;
        Ok(())
    }

    /// Forgets the create call in flight: its answer is recorded, or what it
    /// made was found.
    ///
    /// # Errors
    /// Store failures.
    pub async fn end_create(&self, session: &str, now: Timestamp) -> Result<()> {
        self.table()
            .delete(&keys::session(session), IN_FLIGHT, Condition::None, now)
            .await?;
        Ok(())
    }

    /// The lease of the driver running a session's export, if one was taken.
    ///
    /// # Errors
    /// Store failures.
    pub async fn export_lease(
        &self,
        session: &str,
        now: Timestamp,
    ) -> Result<Option<Versioned<ExportLease>>> {
        self.load(&keys::session(session), EXPORT_LEASE, now).await
    }

    /// Writes the lease, conditional on the version read (`None`: absent),
    /// and returns its new version.
    ///
    /// # Errors
    /// [`RepoError::Conflict`] when another driver wrote it since.
    pub async fn save_export_lease(
        &self,
        session: &Session,
        lease: &ExportLease,
        expected: Option<u64>,
        now: Timestamp,
    ) -> Result<u64> {
        self.store(
            &keys::session(&session.id),
            EXPORT_LEASE,
            lease,
            expected,
            Some(session.expires_at),
            now,
        )
        .await
    }

    /// Gives the lease up, if it is still at the version last written.
    ///
    /// # Errors
    /// [`RepoError::Conflict`] when another driver took it since.
    pub async fn release_export_lease(
        &self,
        session: &str,
        version: u64,
        now: Timestamp,
    ) -> Result<()> {
        self.table()
            .delete(
                &keys::session(session),
                EXPORT_LEASE,
                Condition::VersionIs(version),
                now,
            )
            .await?;
        Ok(())
    }

    /// The last ADF check.
    ///
    /// # Errors
    /// Store failures.
    pub async fn adf_check(&self, session: &str, now: Timestamp) -> Result<Option<AdfCheck>> {
        Ok(self
            .load(&keys::session(session), ADF_CHECK, now)
            .await?
            .map(|v| v.value))
    }

    /// Saves the result of an ADF check (the newest wins).
    ///
    /// # Errors
    /// Store failures.
    pub async fn save_adf_check(
        &self,
        session: &Session,
        check: &AdfCheck,
        now: Timestamp,
    ) -> Result<()> {
        let pk = keys::session(&session.id);
        let before = self.table().get(&pk, ADF_CHECK, now).await?;
        self.store(
            &pk,
            ADF_CHECK,
            check,
            before.map(|b| b.version),
            Some(session.expires_at),
            now,
        )
        .await?;
        Ok(())
    }
}
