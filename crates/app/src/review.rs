//! The review stage's use cases: list and read tickets, edit one, delete or
//! merge tickets, add or remove dependencies, attach files, and download the
//! plan. The HTTP API and the command line call these and decide nothing
//! themselves.
//!
//! Edits happen only while the session is in `review/active`. A ticket edit
//! is conditional on the version the editor read: a stale one is refused with
//! the current version, so nothing is lost. A plan-level edit (dependencies,
//! delete, merge, a move to another epic) reads the whole plan, applies the
//! pure edit of `dtg_core::plan::edit`, and writes only what changed: the
//! tickets, dependency and epic items that differ, and the plan item, whose
//! write is conditional on the version the plan was read at. All of it goes
//! in one transaction when it fits in [`MAX_TRANSACTION_OPS`]; a larger edit
//! writes the plan item, the session and the tickets in its first
//! transaction, so a second editor of a plan read before it is refused
//! ([`ReviewError::PlanChanged`]) and never lands on a stale plan. Every
//! write keeps the session's counts right and adds an audit entry in the
//! same transaction.
//!
//! Every write of a ticket writes its list row (`TROW#<id>`, a
//! [`TicketSummary`]) in the same transaction, so a page of tickets and a
//! ticket's neighbours are read from the rows, not from every ticket with
//! its description; a session stored before rows existed is read whole.

pub mod attachments;
#[cfg(feature = "contract-tests")]
pub mod contract;

use std::collections::{BTreeMap, HashMap};

use serde::de::Error as _;
use serde::{Deserialize, Serialize};

use dtg_core::plan::edit::{self, EditError, EditLimits, TicketEdit};
use dtg_core::plan::render::{self, JiraCsv};
use dtg_core::plan::{Area, Dependency, IssueType, Plan, Priority, Ticket};
use dtg_core::session::{Position, Stage, Status};

use crate::repo::{
    AuditEntry, RepoError, Repos, Session, StoredPlan, TicketSummary, Versioned, row_delete,
    row_put,
};
use crate::store::{
    Blobs, Condition, Item, MAX_TRANSACTION_OPS, StoreError, Table, Timestamp, TransactOp, keys,
};
use crate::workflow::Run;

pub use attachments::{
    ATTACHMENT_URL_SECONDS, AttachmentRecord, AttachmentStatus, MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS_PER_TICKET, attachment_blob_key, attachments, confirm_attachment,
    delete_attachment, request_attachment_upload,
};

/// Where a session must be for its tickets to change.
pub const REVIEW: Position = Position::new(Stage::Review, Status::Active);

/// The most tickets a page lists.
pub const MAX_PER_PAGE: usize = 200;

/// Tickets a page lists unless asked otherwise.
pub const DEFAULT_PER_PAGE: usize = 50;

/// How often a write that lost a race with an unrelated change (the
/// session's counts, another ticket) is tried again before giving up.
const ATTEMPTS: usize = 8;

/// What a review use case can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// No such session (or it expired).
    #[error("there is no session {0}; list your sessions to find the one you mean")]
    NoSession(String),
    /// The session has no plan yet.
    #[error("session {0} has no plan yet; process its files to make one")]
    NoPlan(String),
    /// No such ticket in the session.
    #[error("there is no ticket {id} in this session; reload the ticket list")]
    NoTicket {
        /// The id asked for.
        id: String,
    },
    /// The session is not in review.
    #[error(
        "session {session} is at {position}, where tickets cannot be changed ({action}); tickets change only in review/active"
    )]
    WrongStage {
        /// Session id.
        session: String,
        /// Where it is.
        position: Position,
        /// What was asked.
        action: &'static str,
    },
    /// The ticket changed since the editor read it; here is the current version.
    #[error(
        "ticket {} was changed by someone else (it is at version {} now); apply your change to the current version and save again",
        .current.value.id,
        .current.version
    )]
    Stale {
        /// The ticket as stored now, with its version.
        current: Box<Versioned<Ticket>>,
    },
    /// The edit itself is refused.
    #[error(transparent)]
    Edit(#[from] EditError),
    /// Another plan-level edit landed first.
    #[error("the plan was changed by another edit meanwhile; reload it and make your change again")]
    PlanChanged,
    /// No such attachment on the ticket.
    #[error("ticket {ticket} has no attachment {id}; reload its attachments")]
    NoAttachment {
        /// The ticket.
        ticket: String,
        /// The attachment id asked for.
        id: String,
    },
    /// A file over the attachment size limit.
    #[error(
        "{file_name} is {size} bytes, over the limit of {limit} bytes per attachment; attach a smaller file"
    )]
    AttachmentTooLarge {
        /// The file's name.
        file_name: String,
        /// Its size in bytes.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The ticket has as many attachments as it may.
    #[error("ticket {ticket} already has {limit} attachments; delete one before attaching another")]
    TooManyAttachments {
        /// The ticket.
        ticket: String,
        /// The limit.
        limit: usize,
    },
    /// A file name that cannot be used.
    #[error(
        "{file_name:?} is not a usable file name; give a name of 1 to 255 characters without control characters, like notes.pdf"
    )]
    BadFileName {
        /// The name given.
        file_name: String,
    },
    /// A content type that cannot be used.
    #[error("{content_type:?} is not a content type; send one like application/pdf")]
    BadContentType {
        /// The content type given.
        content_type: String,
    },
    /// Confirmed before the bytes arrived.
    #[error("{file_name} has not been uploaded yet; send it to its upload URL, then confirm")]
    NotUploaded {
        /// The file's name.
        file_name: String,
    },
    /// The plan could not be rendered for download.
    #[error("the plan could not be written as {format}")]
    Render {
        /// Which format.
        format: &'static str,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A repository call failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// The blob store failed.
    #[error(transparent)]
    Blobs(#[from] StoreError),
}

impl ReviewError {
    /// A stable name for the case, for programs and the HTTP API.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoSession(_) => "no_session",
            Self::NoPlan(_) => "no_plan",
            Self::NoTicket { .. } => "no_ticket",
            Self::WrongStage { .. } => "wrong_stage",
            Self::Stale { .. } => "stale_ticket",
            Self::Edit(e) => e.code(),
            Self::PlanChanged => "plan_changed",
            Self::NoAttachment { .. } => "no_attachment",
            Self::AttachmentTooLarge { .. } => "attachment_too_large",
            Self::TooManyAttachments { .. } => "too_many_attachments",
            Self::BadFileName { .. } => "bad_file_name",
            Self::BadContentType { .. } => "bad_content_type",
            Self::NotUploaded { .. } => "not_uploaded",
            Self::Render { .. } => "render_failed",
            Self::Repo(RepoError::Conflict(_)) => "conflict",
            Self::Repo(_) | Self::Blobs(_) => "store_failed",
        }
    }
}

/// Result of a review use case.
pub type Result<T, E = ReviewError> = std::result::Result<T, E>;

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// Which tickets to list, and which page of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketQuery {
    /// Only the tickets of this epic (id).
    pub epic: Option<String>,
    /// Only the tickets of this area.
    pub area: Option<Area>,
    /// Only tickets of this type.
    #[serde(rename = "type", alias = "issue_type")]
    pub issue_type: Option<IssueType>,
    /// Only tickets with this text (any case) in the title, items, config
    /// names or description.
    pub text: Option<String>,
    /// The page, from 1.
    pub page: usize,
    /// Tickets a page (1 to [`MAX_PER_PAGE`]).
    pub per_page: usize,
}

impl Default for TicketQuery {
    fn default() -> Self {
        Self {
            epic: None,
            area: None,
            issue_type: None,
            text: None,
            page: 1,
            per_page: DEFAULT_PER_PAGE,
        }
    }
}

/// One ticket in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketRow {
    /// Its position in the build order, from 1.
    pub order: usize,
    /// Id.
    pub id: String,
    /// Summary.
    pub title: String,
    /// Issue type.
    #[serde(rename = "type")]
    pub issue_type: IssueType,
    /// The epic's id.
    pub epic: String,
    /// The area.
    pub area: Area,
    /// Priority.
    pub priority: Priority,
    /// Story points.
    pub estimate: u32,
    /// Labels.
    pub labels: Vec<String>,
    /// Assignee, when set.
    pub assignee: Option<String>,
    /// Sprint, when set.
    pub sprint: Option<String>,
    /// How many config items it covers.
    pub item_count: usize,
    /// Its version; send it back to edit.
    pub version: u64,
    /// Ids of the tickets it needs, in build order.
    pub needs: Vec<String>,
    /// Ids of the tickets that need it, in build order.
    pub needed_by: Vec<String>,
}

/// One page of tickets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketPage {
    /// The page's tickets, in build order.
    pub tickets: Vec<TicketRow>,
    /// How many tickets match in all.
    pub total: usize,
    /// The page, from 1.
    pub page: usize,
    /// Tickets a page.
    pub per_page: usize,
}

/// A ticket another one needs or is needed by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DependencyRef {
    /// Its id.
    pub id: String,
    /// Its summary.
    pub title: String,
    /// Why the one needs the other.
    pub because: Vec<String>,
}

/// One ticket with everything around it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketDetail {
    /// The ticket.
    pub ticket: Ticket,
    /// Its version; send it back to edit.
    pub version: u64,
    /// Its position in the build order, from 1.
    pub order: usize,
    /// What it needs, in build order.
    pub needs: Vec<DependencyRef>,
    /// What needs it, in build order.
    pub needed_by: Vec<DependencyRef>,
    /// Files attached to it in review.
    pub attachments: Vec<AttachmentRecord>,
}

/// A session's plan as stored, with the versions its parts were read at.
#[derive(Debug)]
struct Loaded {
    session: Versioned<Session>,
    plan: Plan,
    plan_version: u64,
    tickets: HashMap<String, u64>,
    dependencies: HashMap<(String, String), u64>,
    epics: HashMap<String, u64>,
}

impl Loaded {
    fn position(&self, id: &str) -> Option<usize> {
        self.plan.order.iter().position(|t| t == id)
    }
}

async fn load_session<T: Table>(
    repos: &Repos<'_, T>,
    session: &str,
    now: Timestamp,
) -> Result<Versioned<Session>> {
    repos
        .session(session, now)
        .await?
        .ok_or_else(|| ReviewError::NoSession(session.to_owned()))
}

fn check_stage(session: &Session, action: &'static str) -> Result<()> {
    if session.position == REVIEW {
        Ok(())
    } else {
        Err(ReviewError::WrongStage {
            session: session.id.clone(),
            position: session.position,
            action,
        })
    }
}

fn corrupt(what: String, why: String) -> ReviewError {
    ReviewError::Repo(RepoError::Corrupt {
        what,
        source: serde_json::Error::custom(why),
    })
}

/// Reads a session and its plan: the session and plan items, then its
/// epics, tickets and dependencies, one query each.
async fn load_plan<T: Table>(
    repos: &Repos<'_, T>,
    session: &str,
    now: Timestamp,
) -> Result<Option<Loaded>> {
    let current = load_session(repos, session, now).await?;
    let pk = keys::session(session);
    let Some(stored) = repos.load::<StoredPlan>(&pk, keys::PLAN, now).await? else {
        return Ok(None);
    };
    let mut epics: BTreeMap<String, Versioned<dtg_core::plan::Epic>> = repos
        .load_all(&pk, keys::prefix::EPICS, now)
        .await?
        .into_iter()
        .map(|e: Versioned<dtg_core::plan::Epic>| (e.value.id.clone(), e))
        .collect();
    let mut tickets: BTreeMap<String, Versioned<Ticket>> = repos
        .load_all(&pk, keys::prefix::TICKETS, now)
        .await?
        .into_iter()
        .map(|t: Versioned<Ticket>| (t.value.id.clone(), t))
        .collect();
    let deps: Vec<Versioned<Dependency>> =
        repos.load_all(&pk, keys::prefix::DEPENDENCIES, now).await?;
    let missing = |what: &str, id: &str| {
        corrupt(
            format!("{pk} {}", keys::PLAN),
            format!("the plan names {what} {id}, not stored"),
        )
    };
    let mut plan_tickets = Vec::with_capacity(stored.value.order.len());
    let mut ticket_versions = HashMap::with_capacity(stored.value.order.len());
    for id in &stored.value.order {
        let t = tickets.remove(id).ok_or_else(|| missing("ticket", id))?;
        ticket_versions.insert(id.clone(), t.version);
        plan_tickets.push(t.value);
    }
    let mut plan_epics = Vec::with_capacity(stored.value.epics.len());
    let mut epic_versions = HashMap::with_capacity(stored.value.epics.len());
    for id in &stored.value.epics {
        let e = epics.remove(id).ok_or_else(|| missing("epic", id))?;
        epic_versions.insert(id.clone(), e.version);
        plan_epics.push(e.value);
    }
    // Edges of a save cut short, between tickets of another plan, are left out.
    let mut dependencies = Vec::with_capacity(deps.len());
    let mut dep_versions = HashMap::with_capacity(deps.len());
    for d in deps {
        if ticket_versions.contains_key(&d.value.from) && ticket_versions.contains_key(&d.value.to)
        {
            dep_versions.insert((d.value.from.clone(), d.value.to.clone()), d.version);
            dependencies.push(d.value);
        }
    }
    dependencies.sort();
    Ok(Some(Loaded {
        session: current,
        plan: Plan {
            granularity: stored.value.granularity,
            epics: plan_epics,
            tickets: plan_tickets,
            dependencies,
            order: stored.value.order,
        },
        plan_version: stored.version,
        tickets: ticket_versions,
        dependencies: dep_versions,
        epics: epic_versions,
    }))
}

async fn require_plan<T: Table>(
    repos: &Repos<'_, T>,
    session: &str,
    now: Timestamp,
) -> Result<Loaded> {
    load_plan(repos, session, now)
        .await?
        .ok_or_else(|| ReviewError::NoPlan(session.to_owned()))
}

/// Dependencies by ticket id.
type ByTicket<'p> = HashMap<&'p str, Vec<&'p Dependency>>;

/// Needs and needed-by of every ticket, in build order.
fn neighbours<'p>(
    order: &'p [String],
    dependencies: &'p [Dependency],
) -> (ByTicket<'p>, ByTicket<'p>) {
    let position: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut needs = ByTicket::new();
    let mut needed_by = ByTicket::new();
    for d in dependencies {
        needs.entry(d.from.as_str()).or_default().push(d);
        needed_by.entry(d.to.as_str()).or_default().push(d);
    }
    let at = |id: &str| position.get(id).copied().unwrap_or(usize::MAX);
    for list in needs.values_mut() {
        list.sort_by_key(|d| at(&d.to));
    }
    for list in needed_by.values_mut() {
        list.sort_by_key(|d| at(&d.from));
    }
    (needs, needed_by)
}

fn matches(ticket: &Ticket, query: &TicketQuery, needle: Option<&str>) -> bool {
    if query.epic.as_ref().is_some_and(|e| *e != ticket.epic)
        || query.area.is_some_and(|a| a != ticket.area)
        || query.issue_type.is_some_and(|t| t != ticket.issue_type)
    {
        return false;
    }
    let Some(needle) = needle else {
        return true;
    };
    let has = |text: &str| text.to_lowercase().contains(needle);
    has(&ticket.title)
        || ticket.items.iter().any(|i| has(i))
        || ticket.config_names.iter().any(|c| has(c))
        || has(&edit::description_text(ticket))
}

/// The plan's order, its tickets' list rows and its dependencies: what a
/// page needs, without the tickets themselves.
struct Rows {
    order: Vec<String>,
    rows: HashMap<String, TicketSummary>,
    dependencies: Vec<Dependency>,
}

/// What [`load_rows`] found.
enum RowsRead {
    /// No plan yet.
    NoPlan,
    /// A ticket of the plan has no row (a session stored before rows
    /// existed): read the whole plan instead.
    Missing,
    /// Every ticket's row.
    Rows(Rows),
}

/// Reads a session's plan item, ticket rows and dependencies.
async fn load_rows<T: Table>(
    repos: &Repos<'_, T>,
    session: &str,
    now: Timestamp,
) -> Result<RowsRead> {
    load_session(repos, session, now).await?;
    let pk = keys::session(session);
    let Some(stored) = repos.load::<StoredPlan>(&pk, keys::PLAN, now).await? else {
        return Ok(RowsRead::NoPlan);
    };
    let mut rows: HashMap<String, TicketSummary> = repos
        .ticket_rows(session, now)
        .await?
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect();
    if stored.value.order.iter().any(|id| !rows.contains_key(id)) {
        return Ok(RowsRead::Missing);
    }
    let planned: std::collections::HashSet<&str> =
        stored.value.order.iter().map(String::as_str).collect();
    rows.retain(|id, _| planned.contains(id.as_str()));
    let deps: Vec<Versioned<Dependency>> =
        repos.load_all(&pk, keys::prefix::DEPENDENCIES, now).await?;
    // Edges of a save cut short, between tickets of another plan, are left out.
    let mut dependencies: Vec<Dependency> = deps
        .into_iter()
        .map(|d| d.value)
        .filter(|d| planned.contains(d.from.as_str()) && planned.contains(d.to.as_str()))
        .collect();
    dependencies.sort();
    Ok(RowsRead::Rows(Rows {
        order: stored.value.order,
        rows,
        dependencies,
    }))
}

/// The query's text, trimmed and in lower case; `None` when there is none.
fn needle_of(query: &TicketQuery) -> Option<String> {
    query
        .text
        .as_deref()
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
}

fn empty_page(page: usize, per_page: usize) -> TicketPage {
    TicketPage {
        tickets: Vec::new(),
        total: 0,
        page,
        per_page,
    }
}

/// One page of a session's tickets in build order, filtered by `query`. A
/// session with no plan yet has no tickets. Reads the tickets' list rows,
/// not the tickets (but for a text search the row's cut search text may
/// miss, where the ticket itself is read).
///
/// # Errors
/// [`ReviewError::NoSession`]; store failures.
pub async fn list_tickets<T: Table>(
    repos: &Repos<'_, T>,
    session: &str,
    query: &TicketQuery,
    now: Timestamp,
) -> Result<TicketPage> {
    let page = query.page.max(1);
    let per_page = query.per_page.clamp(1, MAX_PER_PAGE);
    let needle = needle_of(query);
    let view = match load_rows(repos, session, now).await? {
        RowsRead::NoPlan => return Ok(empty_page(page, per_page)),
        // A NUL in the text would match across the row's separators.
        RowsRead::Rows(view) if !needle.as_deref().is_some_and(|n| n.contains('\0')) => view,
        _ => return list_tickets_full(repos, session, query, now).await,
    };
    let (needs, needed_by) = neighbours(&view.order, &view.dependencies);
    let ids = |list: Option<&Vec<&Dependency>>, far: fn(&Dependency) -> &String| {
        list.map(|l| l.iter().map(|d| far(d).clone()).collect())
            .unwrap_or_default()
    };
    let mut found: Vec<(usize, &TicketSummary)> = Vec::new();
    for (i, id) in view.order.iter().enumerate() {
        let Some(row) = view.rows.get(id) else {
            continue;
        };
        if query.epic.as_ref().is_some_and(|e| *e != row.epic)
            || query.area.is_some_and(|a| a != row.area)
            || query.issue_type.is_some_and(|t| t != row.issue_type)
        {
            continue;
        }
        if let Some(needle) = needle.as_deref()
            && !row.text.contains(needle)
        {
            if !row.text_cut {
                continue;
            }
            // The row holds only the start of the text: ask the ticket.
            let Some(ticket) = repos.ticket(session, id, now).await? else {
                continue;
            };
            if !matches(&ticket.value, query, Some(needle)) {
                continue;
            }
        }
        found.push((i, row));
    }
    let total = found.len();
    let tickets = found
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .map(|(i, r)| TicketRow {
            order: i + 1,
            id: r.id.clone(),
            title: r.title.clone(),
            issue_type: r.issue_type,
            epic: r.epic.clone(),
            area: r.area,
            priority: r.priority,
            estimate: r.estimate,
            labels: r.labels.clone(),
            assignee: r.assignee.clone(),
            sprint: r.sprint.clone(),
            item_count: r.item_count,
            version: r.version,
            needs: ids(needs.get(r.id.as_str()), |d| &d.to),
            needed_by: ids(needed_by.get(r.id.as_str()), |d| &d.from),
        })
        .collect();
    Ok(TicketPage {
        tickets,
        total,
        page,
        per_page,
    })
}

/// [`list_tickets`] from the whole plan, tickets and all: for sessions
/// stored before tickets had list rows, and to check the rows against.
///
/// # Errors
/// [`ReviewError::NoSession`]; store failures.
pub async fn list_tickets_full<T: Table>(
    repos: &Repos<'_, T>,
    session: &str,
    query: &TicketQuery,
    now: Timestamp,
) -> Result<TicketPage> {
    let page = query.page.max(1);
    let per_page = query.per_page.clamp(1, MAX_PER_PAGE);
    let Some(loaded) = load_plan(repos, session, now).await? else {
        return Ok(empty_page(page, per_page));
    };
    let needle = needle_of(query);
    let (needs, needed_by) = neighbours(&loaded.plan.order, &loaded.plan.dependencies);
    let ids = |list: Option<&Vec<&Dependency>>, far: fn(&Dependency) -> &String| {
        list.map(|l| l.iter().map(|d| far(d).clone()).collect())
            .unwrap_or_default()
    };
    let found: Vec<(usize, &Ticket)> = loaded
        .plan
        .tickets
        .iter()
        .enumerate()
        .filter(|(_, t)| matches(t, query, needle.as_deref()))
        .collect();
    let total = found.len();
    let tickets = found
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .map(|(i, t)| TicketRow {
            order: i + 1,
            id: t.id.clone(),
            title: t.title.clone(),
            issue_type: t.issue_type,
            epic: t.epic.clone(),
            area: t.area,
            priority: t.priority,
            estimate: t.estimate,
            labels: t.labels.clone(),
            assignee: t.assignee.clone(),
            sprint: t.sprint.clone(),
            item_count: t.items.len(),
            version: loaded.tickets.get(&t.id).copied().unwrap_or_default(),
            needs: ids(needs.get(t.id.as_str()), |d| &d.to),
            needed_by: ids(needed_by.get(t.id.as_str()), |d| &d.from),
        })
        .collect();
    Ok(TicketPage {
        tickets,
        total,
        page,
        per_page,
    })
}

/// Needs or needed-by of a ticket as references, titles from `title`.
fn refs(
    list: Option<&Vec<&Dependency>>,
    far: fn(&Dependency) -> &String,
    title: &dyn Fn(&str) -> String,
) -> Vec<DependencyRef> {
    list.map(|l| {
        l.iter()
            .map(|d| DependencyRef {
                id: far(d).clone(),
                title: title(far(d)),
                because: d.because.clone(),
            })
            .collect()
    })
    .unwrap_or_default()
}

/// One ticket with its version, place in the build order, neighbours and
/// attachments. Reads the one ticket and the list rows, not every ticket.
///
/// # Errors
/// [`ReviewError::NoSession`], [`ReviewError::NoTicket`]; store failures.
pub async fn ticket_detail<T: Table>(
    repos: &Repos<'_, T>,
    session: &str,
    id: &str,
    now: Timestamp,
) -> Result<TicketDetail> {
    let no_ticket = || ReviewError::NoTicket { id: id.to_owned() };
    let view = match load_rows(repos, session, now).await? {
        RowsRead::NoPlan => return Err(no_ticket()),
        RowsRead::Missing => return ticket_detail_full(repos, session, id, now).await,
        RowsRead::Rows(view) => view,
    };
    let order = view
        .order
        .iter()
        .position(|t| t == id)
        .ok_or_else(no_ticket)?;
    let ticket = repos.ticket(session, id, now).await?.ok_or_else(|| {
        corrupt(
            format!("{} {}", keys::session(session), keys::PLAN),
            format!("the plan names ticket {id}, not stored"),
        )
    })?;
    let (needs, needed_by) = neighbours(&view.order, &view.dependencies);
    let title = |id: &str| {
        view.rows
            .get(id)
            .map(|r| r.title.clone())
            .unwrap_or_default()
    };
    Ok(TicketDetail {
        version: ticket.version,
        order: order + 1,
        needs: refs(needs.get(id), |d| &d.to, &title),
        needed_by: refs(needed_by.get(id), |d| &d.from, &title),
        attachments: attachments::load(repos, session, id, now)
            .await?
            .into_iter()
            .map(|a| a.value)
            .collect(),
        ticket: ticket.value,
    })
}

/// [`ticket_detail`] from the whole plan: for sessions stored before
/// tickets had list rows, and to check the rows against.
///
/// # Errors
/// [`ReviewError::NoSession`], [`ReviewError::NoTicket`]; store failures.
pub async fn ticket_detail_full<T: Table>(
    repos: &Repos<'_, T>,
    session: &str,
    id: &str,
    now: Timestamp,
) -> Result<TicketDetail> {
    let no_ticket = || ReviewError::NoTicket { id: id.to_owned() };
    let loaded = load_plan(repos, session, now)
        .await?
        .ok_or_else(no_ticket)?;
    let order = loaded.position(id).ok_or_else(no_ticket)?;
    let ticket = loaded.plan.tickets[order].clone();
    let (needs, needed_by) = neighbours(&loaded.plan.order, &loaded.plan.dependencies);
    let title = |id: &str| {
        loaded
            .plan
            .ticket(id)
            .map(|t| t.title.clone())
            .unwrap_or_default()
    };
    Ok(TicketDetail {
        version: loaded.tickets.get(id).copied().unwrap_or_default(),
        order: order + 1,
        needs: refs(needs.get(id), |d| &d.to, &title),
        needed_by: refs(needed_by.get(id), |d| &d.from, &title),
        attachments: attachments::load(repos, session, id, now)
            .await?
            .into_iter()
            .map(|a| a.value)
            .collect(),
        ticket,
    })
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// An item holding `value` at `version`, expiring with the session.
fn put<V: Serialize>(
    session: &Session,
    sk: String,
    value: &V,
    version: u64,
    condition: Condition,
) -> Result<TransactOp> {
    let pk = keys::session(&session.id);
    let body = serde_json::to_value(value).map_err(|source| RepoError::Corrupt {
        what: format!("{pk} {sk}"),
        source,
    })?;
    Ok(TransactOp::Put(
        Item {
            pk,
            sk,
            body,
            version,
            expires_at: Some(session.expires_at),
        },
        condition,
    ))
}

fn delete(session: &Session, sk: String, version: u64) -> TransactOp {
    TransactOp::Delete {
        pk: keys::session(&session.id),
        sk,
        condition: Condition::VersionIs(version),
    }
}

/// The audit entry of `action` in this run, as a write.
fn audit(
    session: &Session,
    run: Run<'_>,
    action: &str,
    detail: serde_json::Value,
) -> Result<TransactOp> {
    let entry = AuditEntry {
        id: format!("{}-{action}", run.id),
        at: run.now,
        actor: run.actor.to_owned(),
        action: action.to_owned(),
        detail,
    };
    put(
        session,
        keys::audit(entry.at, &entry.id),
        &entry,
        1,
        Condition::Absent,
    )
}

/// The session's item with `summary`'s plan counts, as a write conditional
/// on the version read; a bare version check when nothing changes.
fn session_write(current: &Versioned<Session>, plan: &Plan, now: Timestamp) -> Result<TransactOp> {
    let mut summary = current.value.summary.clone();
    summary.tickets = plan.tickets.len();
    summary.epics = plan.epics.len();
    summary.dependencies = plan.dependencies.len();
    summary.story_points = plan.tickets.iter().map(|t| t.estimate).sum();
    if summary == current.value.summary {
        return Ok(TransactOp::Check {
            pk: keys::session(&current.value.id),
            sk: keys::META.to_owned(),
            condition: Condition::VersionIs(current.version),
        });
    }
    let session = Session {
        summary,
        updated_at: now,
        ..current.value.clone()
    };
    put(
        &current.value,
        keys::META.to_owned(),
        &session,
        current.version + 1,
        Condition::VersionIs(current.version),
    )
}

/// What a plan-level edit changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlanChange {
    /// Ticket ids in the new build order.
    pub order: Vec<String>,
    /// Tickets written, with their new versions.
    pub tickets: Vec<TicketVersion>,
    /// Tickets deleted.
    pub deleted: Vec<String>,
    /// Dependencies added.
    pub added: Vec<Dependency>,
    /// Dependencies removed.
    pub removed: Vec<Dependency>,
}

/// A ticket's id and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketVersion {
    /// Id.
    pub id: String,
    /// Version.
    pub version: u64,
}

/// How a write ended.
enum Committed<T> {
    /// It landed.
    Done(T),
    /// A condition failed: something changed since the read.
    Lost,
}

/// Writes what differs between the loaded plan and `plan`, conditional on
/// the versions read: the plan item, the session and the tickets first (in
/// the first transaction), then dependencies, epics and `extra`; the audit
/// entry goes with the first transaction.
async fn commit<T: Table>(
    repos: &Repos<'_, T>,
    loaded: &Loaded,
    plan: &Plan,
    extra: Vec<TransactOp>,
    audit_op: TransactOp,
    now: Timestamp,
) -> Result<Committed<PlanChange>> {
    let session = &loaded.session.value;
    let pk = keys::session(&session.id);
    let expires = Some(session.expires_at);
    // Units of writes that land together: a ticket with its list row.
    let mut first: Vec<Vec<TransactOp>> = Vec::new();
    let mut rest: Vec<TransactOp> = Vec::new();
    let stored = StoredPlan {
        granularity: plan.granularity,
        order: plan.order.clone(),
        epics: plan.epics.iter().map(|e| e.id.clone()).collect(),
        planned_at: now,
    };
    first.push(vec![put(
        session,
        keys::PLAN.to_owned(),
        &stored,
        loaded.plan_version + 1,
        Condition::VersionIs(loaded.plan_version),
    )?]);
    first.push(vec![session_write(&loaded.session, plan, now)?]);
    first.push(vec![audit_op]);

    let mut change = PlanChange {
        order: plan.order.clone(),
        tickets: Vec::new(),
        deleted: Vec::new(),
        added: Vec::new(),
        removed: Vec::new(),
    };
    let before: HashMap<&str, &Ticket> = loaded
        .plan
        .tickets
        .iter()
        .map(|t| (t.id.as_str(), t))
        .collect();
    for t in &plan.tickets {
        match (before.get(t.id.as_str()), loaded.tickets.get(&t.id)) {
            (Some(old), _) if *old == t => {}
            (Some(_), Some(&v)) => {
                first.push(vec![
                    put(
                        session,
                        keys::ticket(&t.id),
                        t,
                        v + 1,
                        Condition::VersionIs(v),
                    )?,
                    row_put(&pk, t, v + 1, expires)?,
                ]);
                change.tickets.push(TicketVersion {
                    id: t.id.clone(),
                    version: v + 1,
                });
            }
            _ => {
                first.push(vec![
                    put(session, keys::ticket(&t.id), t, 1, Condition::Absent)?,
                    row_put(&pk, t, 1, expires)?,
                ]);
                change.tickets.push(TicketVersion {
                    id: t.id.clone(),
                    version: 1,
                });
            }
        }
    }
    for t in &loaded.plan.tickets {
        if plan.ticket(&t.id).is_none() {
            let v = loaded.tickets.get(&t.id).copied().unwrap_or_default();
            first.push(vec![
                delete(session, keys::ticket(&t.id), v),
                row_delete(&pk, &t.id),
            ]);
            change.deleted.push(t.id.clone());
        }
    }

    let old_deps: HashMap<(&str, &str), &Dependency> = loaded
        .plan
        .dependencies
        .iter()
        .map(|d| ((d.from.as_str(), d.to.as_str()), d))
        .collect();
    let new_deps: HashMap<(&str, &str), &Dependency> = plan
        .dependencies
        .iter()
        .map(|d| ((d.from.as_str(), d.to.as_str()), d))
        .collect();
    for d in &plan.dependencies {
        let key = (d.from.clone(), d.to.clone());
        match old_deps.get(&(d.from.as_str(), d.to.as_str())) {
            Some(old) if *old == d => {}
            Some(_) => {
                let v = loaded.dependencies.get(&key).copied().unwrap_or_default();
                rest.push(put(
                    session,
                    keys::dependency(&d.from, &d.to),
                    d,
                    v + 1,
                    Condition::VersionIs(v),
                )?);
            }
            None => {
                rest.push(put(
                    session,
                    keys::dependency(&d.from, &d.to),
                    d,
                    1,
                    Condition::Absent,
                )?);
                change.added.push(d.clone());
            }
        }
    }
    for d in &loaded.plan.dependencies {
        if !new_deps.contains_key(&(d.from.as_str(), d.to.as_str())) {
            let v = loaded
                .dependencies
                .get(&(d.from.clone(), d.to.clone()))
                .copied()
                .unwrap_or_default();
            rest.push(delete(session, keys::dependency(&d.from, &d.to), v));
            change.removed.push(d.clone());
        }
    }

    for e in &plan.epics {
        let old = loaded.plan.epics.iter().find(|o| o.id == e.id);
        match (old, loaded.epics.get(&e.id)) {
            (Some(old), _) if old == e => {}
            (Some(_), Some(&v)) => {
                rest.push(put(
                    session,
                    keys::epic(&e.id),
                    e,
                    v + 1,
                    Condition::VersionIs(v),
                )?);
            }
            _ => rest.push(put(session, keys::epic(&e.id), e, 1, Condition::Absent)?),
        }
    }
    for e in &loaded.plan.epics {
        if !plan.epics.iter().any(|n| n.id == e.id) {
            let v = loaded.epics.get(&e.id).copied().unwrap_or_default();
            rest.push(delete(session, keys::epic(&e.id), v));
        }
    }
    rest.extend(extra);

    // One transaction when it fits; otherwise the first holds every
    // condition that guards the edit (the plan item above all), and the
    // rest, owned by this edit once the first landed, follow unconditionally.
    // A ticket and its row are never split.
    first.extend(rest.into_iter().map(|op| vec![op]));
    let mut units = first.into_iter().peekable();
    let mut head: Vec<TransactOp> = Vec::new();
    while let Some(unit) = units.next_if(|u| head.len() + u.len() <= MAX_TRANSACTION_OPS) {
        head.extend(unit);
    }
    match repos.table().transact(head, now).await {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => return Ok(Committed::Lost),
        Err(e) => return Err(RepoError::from(e).into()),
    }
    let tail: Vec<Vec<TransactOp>> = units
        .map(|u| u.into_iter().map(unconditional).collect())
        .collect();
    repos.transact_units(tail, now).await?;
    Ok(Committed::Done(change))
}

fn unconditional(op: TransactOp) -> TransactOp {
    match op {
        TransactOp::Put(item, _) => TransactOp::Put(item, Condition::None),
        TransactOp::Delete { pk, sk, .. } => TransactOp::Delete {
            pk,
            sk,
            condition: Condition::None,
        },
        check @ TransactOp::Check { .. } => check,
    }
}

/// The reads of a plan-level edit: a write lost to an unrelated change (the
/// session's counts, a ticket edited meanwhile) is tried again on a fresh
/// read; one lost to another plan-level edit (the plan item moved on) is
/// [`ReviewError::PlanChanged`].
struct Attempts {
    read_at: Option<u64>,
    left: usize,
}

impl Attempts {
    fn new() -> Self {
        Self {
            read_at: None,
            left: ATTEMPTS,
        }
    }

    /// The plan read again, in review, at the version first read.
    async fn read<T: Table>(
        &mut self,
        repos: &Repos<'_, T>,
        session: &str,
        action: &'static str,
        now: Timestamp,
    ) -> Result<Loaded> {
        if self.left == 0 {
            return Err(ReviewError::PlanChanged);
        }
        self.left -= 1;
        let loaded = require_plan(repos, session, now).await?;
        check_stage(&loaded.session.value, action)?;
        if self.read_at.is_some_and(|v| v != loaded.plan_version) {
            return Err(ReviewError::PlanChanged);
        }
        self.read_at = Some(loaded.plan_version);
        Ok(loaded)
    }
}

/// What an edit that changed nothing reports.
fn unchanged(loaded: &Loaded) -> PlanChange {
    PlanChange {
        order: loaded.plan.order.clone(),
        tickets: Vec::new(),
        deleted: Vec::new(),
        added: Vec::new(),
        removed: Vec::new(),
    }
}

/// Edits one ticket read at `expected_version`. A move to another epic is a
/// plan-level edit (the epics' lists change with it); any other edit writes
/// the ticket alone, with the session's story points kept right.
///
/// # Errors
/// [`ReviewError::Stale`] with the current ticket when it is not at
/// `expected_version` (or another write lands first); [`ReviewError::Edit`]
/// for a refused field; [`ReviewError::WrongStage`] outside review;
/// [`ReviewError::NoTicket`].
pub async fn edit_ticket<T: Table>(
    repos: &Repos<'_, T>,
    session: &str,
    id: &str,
    expected_version: u64,
    edit: &TicketEdit,
    limits: &EditLimits,
    run: Run<'_>,
) -> Result<Versioned<Ticket>> {
    const ACTION: &str = "ticket.edited";
    for _ in 0..ATTEMPTS {
        let current_session = load_session(repos, session, run.now).await?;
        check_stage(&current_session.value, "edit a ticket")?;
        let current = repos
            .ticket(session, id, run.now)
            .await?
            .ok_or_else(|| ReviewError::NoTicket { id: id.to_owned() })?;
        if current.version != expected_version {
            return Err(ReviewError::Stale {
                current: Box::new(current),
            });
        }
        let moves = edit
            .epic
            .as_deref()
            .is_some_and(|e| e.trim() != current.value.epic);
        if moves {
            let loaded = require_plan(repos, session, run.now).await?;
            check_stage(&loaded.session.value, "edit a ticket")?;
            if loaded.tickets.get(id) != Some(&expected_version) {
                continue;
            }
            let edited = edit::apply_edit(&current.value, edit, &loaded.plan.epics, limits)?;
            let plan = edit::replace_ticket(&loaded.plan, edited.clone())?;
            let fields = edit::changed_fields(&current.value, &edited);
            let detail = serde_json::json!({ "ticket": id, "fields": fields, "version": expected_version + 1 });
            let audit_op = audit(&loaded.session.value, run, ACTION, detail)?;
            match commit(repos, &loaded, &plan, Vec::new(), audit_op, run.now).await? {
                Committed::Done(_) => {
                    return Ok(Versioned {
                        value: edited,
                        version: expected_version + 1,
                    });
                }
                Committed::Lost => continue,
            }
        }
        let edited = edit::apply_edit(&current.value, edit, &[], limits)?;
        if edited == current.value {
            return Ok(current);
        }
        let fields = edit::changed_fields(&current.value, &edited);
        let s = &current_session.value;
        let meta = if edited.estimate == current.value.estimate {
            TransactOp::Check {
                pk: keys::session(session),
                sk: keys::META.to_owned(),
                condition: Condition::VersionIs(current_session.version),
            }
        } else {
            let mut summary = s.summary.clone();
            summary.story_points = summary
                .story_points
                .saturating_sub(current.value.estimate)
                .saturating_add(edited.estimate);
            let updated = Session {
                summary,
                updated_at: run.now,
                ..s.clone()
            };
            put(
                s,
                keys::META.to_owned(),
                &updated,
                current_session.version + 1,
                Condition::VersionIs(current_session.version),
            )?
        };
        let ops = vec![
            put(
                s,
                keys::ticket(id),
                &edited,
                expected_version + 1,
                Condition::VersionIs(expected_version),
            )?,
            row_put(
                &keys::session(session),
                &edited,
                expected_version + 1,
                Some(s.expires_at),
            )?,
            meta,
            audit(
                s,
                run,
                ACTION,
                serde_json::json!({ "ticket": id, "fields": fields, "version": expected_version + 1 }),
            )?,
        ];
        match repos.table().transact(ops, run.now).await {
            Ok(()) => {
                return Ok(Versioned {
                    value: edited,
                    version: expected_version + 1,
                });
            }
            // Read again: a changed ticket is Stale, a changed session is tried again.
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(RepoError::from(e).into()),
        }
    }
    Err(RepoError::Conflict(format!("{} {}", keys::session(session), keys::ticket(id))).into())
}

/// Adds "`from` needs `to`". An edge already there changes nothing.
///
/// # Errors
/// [`ReviewError::Edit`] for an unknown ticket, a ticket needing itself, or
/// a cycle (named); [`ReviewError::PlanChanged`]; [`ReviewError::WrongStage`].
pub async fn add_dependency<T: Table>(
    repos: &Repos<'_, T>,
    session: &str,
    from: &str,
    to: &str,
    run: Run<'_>,
) -> Result<PlanChange> {
    const ACTION: &str = "dependency.added";
    let mut attempts = Attempts::new();
    loop {
        let loaded = attempts
            .read(repos, session, "add a dependency", run.now)
            .await?;
        let plan = edit::add_dependency(&loaded.plan, from, to)?;
        if plan.dependencies == loaded.plan.dependencies {
            return Ok(unchanged(&loaded));
        }
        let detail = serde_json::json!({ "from": from, "to": to });
        let audit_op = audit(&loaded.session.value, run, ACTION, detail)?;
        if let Committed::Done(change) =
            commit(repos, &loaded, &plan, Vec::new(), audit_op, run.now).await?
        {
            return Ok(change);
        }
    }
}

/// Removes "`from` needs `to`". An edge not there changes nothing.
///
/// # Errors
/// [`ReviewError::Edit`] for an unknown ticket; [`ReviewError::PlanChanged`];
/// [`ReviewError::WrongStage`].
pub async fn remove_dependency<T: Table>(
    repos: &Repos<'_, T>,
    session: &str,
    from: &str,
    to: &str,
    run: Run<'_>,
) -> Result<PlanChange> {
    const ACTION: &str = "dependency.removed";
    let mut attempts = Attempts::new();
    loop {
        let loaded = attempts
            .read(repos, session, "remove a dependency", run.now)
            .await?;
        let plan = edit::remove_dependency(&loaded.plan, from, to)?;
        if plan.dependencies == loaded.plan.dependencies {
            return Ok(unchanged(&loaded));
        }
        let detail = serde_json::json!({ "from": from, "to": to });
        let audit_op = audit(&loaded.session.value, run, ACTION, detail)?;
        if let Committed::Done(change) =
            commit(repos, &loaded, &plan, Vec::new(), audit_op, run.now).await?
        {
            return Ok(change);
        }
    }
}

/// Deletes a ticket: what needed it now needs what it needed, and its
/// attachments go with it (their records in the same write, their files
/// after it).
///
/// # Errors
/// [`ReviewError::NoTicket`]; [`ReviewError::PlanChanged`];
/// [`ReviewError::WrongStage`]; blob store failures once the ticket is gone.
pub async fn delete_ticket<T: Table, B: Blobs>(
    repos: &Repos<'_, T>,
    blobs: &B,
    session: &str,
    id: &str,
    run: Run<'_>,
) -> Result<PlanChange> {
    const ACTION: &str = "ticket.deleted";
    let mut attempts = Attempts::new();
    loop {
        let loaded = attempts
            .read(repos, session, "delete a ticket", run.now)
            .await?;
        let Some(ticket) = loaded.plan.ticket(id) else {
            return Err(ReviewError::NoTicket { id: id.to_owned() });
        };
        let plan = edit::remove_ticket(&loaded.plan, id)?;
        let attached = attachments::load(repos, session, id, run.now).await?;
        let extra = attached
            .iter()
            .map(|a| {
                delete(
                    &loaded.session.value,
                    keys::attachment(id, &a.value.id),
                    a.version,
                )
            })
            .collect();
        let detail = serde_json::json!({
            "ticket": id, "title": ticket.title, "attachments": attached.len(),
        });
        let audit_op = audit(&loaded.session.value, run, ACTION, detail)?;
        if let Committed::Done(change) =
            commit(repos, &loaded, &plan, extra, audit_op, run.now).await?
        {
            for a in &attached {
                blobs.delete(&a.value.blob_key).await?;
            }
            return Ok(change);
        }
    }
}

/// Merges ticket `absorb` into `keep` (see `dtg_core::plan::edit::merge_tickets`);
/// `absorb`'s attachments move to `keep`.
///
/// # Errors
/// [`ReviewError::NoTicket`]; [`ReviewError::Edit`] for a merge into itself
/// or one that would close a cycle; [`ReviewError::PlanChanged`];
/// [`ReviewError::WrongStage`].
pub async fn merge_tickets<T: Table>(
    repos: &Repos<'_, T>,
    session: &str,
    keep: &str,
    absorb: &str,
    run: Run<'_>,
) -> Result<PlanChange> {
    const ACTION: &str = "tickets.merged";
    let mut attempts = Attempts::new();
    loop {
        let loaded = attempts
            .read(repos, session, "merge tickets", run.now)
            .await?;
        for id in [keep, absorb] {
            if loaded.plan.ticket(id).is_none() {
                return Err(ReviewError::NoTicket { id: id.to_owned() });
            }
        }
        let plan = edit::merge_tickets(&loaded.plan, keep, absorb)?;
        let s = &loaded.session.value;
        let moved = attachments::load(repos, session, absorb, run.now).await?;
        let mut extra = Vec::with_capacity(moved.len() * 2);
        for a in &moved {
            let record = AttachmentRecord {
                ticket_id: keep.to_owned(),
                ..a.value.clone()
            };
            extra.push(delete(s, keys::attachment(absorb, &a.value.id), a.version));
            extra.push(put(
                s,
                keys::attachment(keep, &a.value.id),
                &record,
                1,
                Condition::Absent,
            )?);
        }
        let title = loaded.plan.ticket(absorb).map(|t| t.title.clone());
        let detail = serde_json::json!({
            "keep": keep, "absorb": absorb, "absorbed_title": title,
            "attachments_moved": moved.len(),
        });
        let audit_op = audit(s, run, ACTION, detail)?;
        if let Committed::Done(change) =
            commit(repos, &loaded, &plan, extra, audit_op, run.now).await?
        {
            return Ok(change);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Downloads
// ---------------------------------------------------------------------------------------------

/// The name of a session's Markdown plan (the Jira CSV points to it for
/// descriptions too long for Jira).
#[must_use]
pub fn plan_file_name(session: &str) -> String {
    format!("{session}-plan.md")
}

async fn stored_plan<T: Table>(
    repos: &Repos<'_, T>,
    session: &str,
    now: Timestamp,
) -> Result<Plan> {
    load_session(repos, session, now).await?;
    repos
        .plan(session, now)
        .await?
        .ok_or_else(|| ReviewError::NoPlan(session.to_owned()))
}

/// The session's plan as a Markdown backlog.
///
/// # Errors
/// [`ReviewError::NoSession`], [`ReviewError::NoPlan`]; store failures.
pub async fn plan_markdown<T: Table>(
    repos: &Repos<'_, T>,
    session: &str,
    now: Timestamp,
) -> Result<String> {
    Ok(render::markdown(&stored_plan(repos, session, now).await?))
}

/// The session's plan as a file for Jira's CSV importer; descriptions too
/// long for Jira point to [`plan_file_name`].
///
/// # Errors
/// [`ReviewError::NoSession`], [`ReviewError::NoPlan`]; store failures.
pub async fn plan_jira_csv<T: Table>(
    repos: &Repos<'_, T>,
    session: &str,
    now: Timestamp,
) -> Result<JiraCsv> {
    let plan = stored_plan(repos, session, now).await?;
    render::jira_csv(&plan, &plan_file_name(session)).map_err(|e| ReviewError::Render {
        format: "Jira CSV",
        source: Box::new(e),
    })
}
