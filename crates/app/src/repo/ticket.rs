//! Tickets, epics and dependencies of a session, and the plan that orders
//! them.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use dtg_core::plan::edit::description_text;
use dtg_core::plan::{Area, Dependency, Epic, Granularity, IssueType, Plan, Priority, Ticket};

use super::{RepoError, Repos, Result, Session, Versioned, item};
use crate::store::{Condition, Item, Table, Timestamp, TransactOp, keys, query_all};

/// The most bytes of a ticket's search text kept in its row; a longer one
/// is cut (and [`TicketSummary::text_cut`] says so).
pub const SEARCH_TEXT_LIMIT: usize = 4096;

/// What a ticket list needs of a ticket, kept beside it (`TROW#<id>`) and
/// written in the same transaction as every write of the ticket, so a page
/// is read without reading the tickets' descriptions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketSummary {
    /// Id.
    pub id: String,
    /// Summary.
    pub title: String,
    /// Issue type.
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
    /// Assignee.
    pub assignee: Option<String>,
    /// Sprint.
    pub sprint: Option<String>,
    /// How many config items it covers.
    pub item_count: usize,
    /// The ticket's version.
    pub version: u64,
    /// Title, items, config names and the description's text, each in lower
    /// case, separated by NUL, cut at [`SEARCH_TEXT_LIMIT`] bytes.
    pub text: String,
    /// Whether `text` was cut.
    pub text_cut: bool,
}

impl TicketSummary {
    /// The row of `ticket` stored at `version`.
    #[must_use]
    pub fn of(ticket: &Ticket, version: u64) -> Self {
        let mut text = String::new();
        let pieces = std::iter::once(ticket.title.to_lowercase())
            .chain(ticket.items.iter().map(|i| i.to_lowercase()))
            .chain(ticket.config_names.iter().map(|c| c.to_lowercase()))
            .chain(std::iter::once(description_text(ticket).to_lowercase()));
        for (n, piece) in pieces.enumerate() {
            if n > 0 {
                text.push('\0');
            }
            text.push_str(&piece);
            if text.len() > SEARCH_TEXT_LIMIT {
                break;
            }
        }
        let text_cut = text.len() > SEARCH_TEXT_LIMIT;
        if text_cut {
            let mut end = SEARCH_TEXT_LIMIT;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        Self {
            id: ticket.id.clone(),
            title: ticket.title.clone(),
            issue_type: ticket.issue_type,
            epic: ticket.epic.clone(),
            area: ticket.area,
            priority: ticket.priority,
            estimate: ticket.estimate,
            labels: ticket.labels.clone(),
            assignee: ticket.assignee.clone(),
            sprint: ticket.sprint.clone(),
            item_count: ticket.items.len(),
            version,
            text,
            text_cut,
        }
    }
}

/// The write of `ticket`'s row at `version`, unconditional: it goes in the
/// same transaction as the ticket's own (conditional) write.
///
/// # Errors
/// [`RepoError::Corrupt`] when the row does not serialize.
pub(crate) fn row_put(
    pk: &str,
    ticket: &Ticket,
    version: u64,
    expires_at: Option<Timestamp>,
) -> Result<TransactOp> {
    let sk = keys::ticket_row(&ticket.id);
    let body = serde_json::to_value(TicketSummary::of(ticket, version)).map_err(|source| {
        RepoError::Corrupt {
            what: format!("{pk} {sk}"),
            source,
        }
    })?;
    Ok(TransactOp::Put(
        Item {
            pk: pk.to_owned(),
            sk,
            body,
            version,
            expires_at,
        },
        Condition::None,
    ))
}

/// The delete of a ticket's row, unconditional: it goes in the same
/// transaction as the ticket's own (conditional) delete.
pub(crate) fn row_delete(pk: &str, id: &str) -> TransactOp {
    TransactOp::Delete {
        pk: pk.to_owned(),
        sk: keys::ticket_row(id),
        condition: Condition::None,
    }
}

/// The part of a plan kept in its own item: how it was made and the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPlan {
    /// Granularity it was made with.
    pub granularity: Granularity,
    /// Ticket ids in build order.
    pub order: Vec<String>,
    /// Epic ids in area order.
    pub epics: Vec<String>,
    /// When it was saved.
    pub planned_at: Timestamp,
}

impl<T: Table> Repos<'_, T> {
    /// Stores a new ticket of a session.
    ///
    /// # Errors
    /// [`RepoError::Conflict`] when a ticket with that id exists.
    pub async fn insert_ticket(
        &self,
        session: &Session,
        ticket: &Ticket,
        now: Timestamp,
    ) -> Result<Versioned<Ticket>> {
        let version = self.write_ticket(session, ticket, None, now).await?;
        Ok(Versioned {
            value: ticket.clone(),
            version,
        })
    }

    /// Reads a ticket.
    ///
    /// # Errors
    /// Store failures.
    pub async fn ticket(
        &self,
        session: &str,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<Versioned<Ticket>>> {
        self.load(&keys::session(session), &keys::ticket(id), now)
            .await
    }

    /// Replaces a ticket read at `version`.
    ///
    /// # Errors
    /// [`RepoError::Conflict`] when it changed since it was read.
    pub async fn update_ticket(
        &self,
        session: &Session,
        current: &Versioned<Ticket>,
        ticket: Ticket,
        now: Timestamp,
    ) -> Result<Versioned<Ticket>> {
        let version = self
            .write_ticket(session, &ticket, Some(current.version), now)
            .await?;
        Ok(Versioned {
            value: ticket,
            version,
        })
    }

    /// Writes a ticket and its row in one transaction, conditional on the
    /// ticket being at `expected` (`None`: absent); returns the new version.
    async fn write_ticket(
        &self,
        session: &Session,
        ticket: &Ticket,
        expected: Option<u64>,
        now: Timestamp,
    ) -> Result<u64> {
        let pk = keys::session(&session.id);
        let expires = Some(session.expires_at);
        let (put, condition) = item(&pk, &keys::ticket(&ticket.id), ticket, expected, expires)?;
        let version = put.version;
        let ops = vec![
            TransactOp::Put(put, condition),
            row_put(&pk, ticket, version, expires)?,
        ];
        self.table.transact(ops, now).await?;
        Ok(version)
    }

    /// The list rows of a session's tickets, in id order.
    ///
    /// # Errors
    /// Store failures; a stored row of another shape.
    pub async fn ticket_rows(&self, session: &str, now: Timestamp) -> Result<Vec<TicketSummary>> {
        let rows: Vec<Versioned<TicketSummary>> = self
            .load_all(&keys::session(session), keys::prefix::TICKET_ROWS, now)
            .await?;
        Ok(rows.into_iter().map(|r| r.value).collect())
    }

    /// Every ticket of a session, in id order.
    ///
    /// # Errors
    /// Store failures; a stored ticket of another shape.
    pub async fn tickets(&self, session: &str, now: Timestamp) -> Result<Vec<Versioned<Ticket>>> {
        self.load_all(&keys::session(session), keys::prefix::TICKETS, now)
            .await
    }

    /// Every dependency of a session, in (from, to) order.
    ///
    /// # Errors
    /// Store failures; a stored dependency of another shape.
    pub async fn dependencies(&self, session: &str, now: Timestamp) -> Result<Vec<Dependency>> {
        let stored: Vec<Versioned<Dependency>> = self
            .load_all(&keys::session(session), keys::prefix::DEPENDENCIES, now)
            .await?;
        let mut deps: Vec<_> = stored.into_iter().map(|d| d.value).collect();
        deps.sort();
        Ok(deps)
    }

    /// Saves a plan into a session, replacing the one before: epics, tickets
    /// and dependencies first, then the plan item that orders them, then what
    /// the new plan no longer has. Each write is conditional on the version
    /// read just before, so an edit made meanwhile is a conflict, not lost.
    ///
    /// # Errors
    /// [`RepoError::Conflict`] when a ticket changed while saving.
    pub async fn save_plan(&self, session: &Session, plan: &Plan, now: Timestamp) -> Result<()> {
        let epics = plan
            .epics
            .iter()
            .map(|e| Ok((keys::epic(&e.id), to_value(e)?)));
        let deps = plan
            .dependencies
            .iter()
            .map(|d| Ok((keys::dependency(&d.from, &d.to), to_value(d)?)));
        let mut stale: Vec<Vec<TransactOp>> = Vec::new();
        let single = |ops: Vec<TransactOp>| ops.into_iter().map(|op| vec![op]);
        let wanted = epics.collect::<Result<Vec<_>>>()?;
        stale.extend(single(
            self.replace_under(session, keys::prefix::EPICS, wanted, now)
                .await?,
        ));
        stale.extend(self.replace_tickets(session, &plan.tickets, now).await?);
        let wanted = deps.collect::<Result<Vec<_>>>()?;
        stale.extend(single(
            self.replace_under(session, keys::prefix::DEPENDENCIES, wanted, now)
                .await?,
        ));
        let stored = StoredPlan {
            granularity: plan.granularity,
            order: plan.order.clone(),
            epics: plan.epics.iter().map(|e| e.id.clone()).collect(),
            planned_at: now,
        };
        let pk = keys::session(&session.id);
        let before = self.table.get(&pk, keys::PLAN, now).await?;
        self.store(
            &pk,
            keys::PLAN,
            &stored,
            before.map(|b| b.version),
            Some(session.expires_at),
            now,
        )
        .await?;
        self.transact_units(stale, now).await
    }

    /// Writes `tickets`, each with its row in the same transaction and
    /// conditional on the version stored now; returns the deletes (a ticket
    /// with its row) of what is no longer wanted.
    async fn replace_tickets(
        &self,
        session: &Session,
        tickets: &[Ticket],
        now: Timestamp,
    ) -> Result<Vec<Vec<TransactOp>>> {
        let pk = keys::session(&session.id);
        let expires = Some(session.expires_at);
        let mut existing: BTreeMap<String, u64> =
            query_all(self.table, &pk, keys::prefix::TICKETS, now)
                .await?
                .into_iter()
                .map(|i| (i.sk, i.version))
                .collect();
        let mut rows: BTreeSet<String> = query_all(self.table, &pk, keys::prefix::TICKET_ROWS, now)
            .await?
            .into_iter()
            .map(|i| i.sk)
            .collect();
        let mut units = Vec::with_capacity(tickets.len());
        for t in tickets {
            let sk = keys::ticket(&t.id);
            let expected = existing.remove(&sk);
            rows.remove(&keys::ticket_row(&t.id));
            let (put, condition) = item(&pk, &sk, &to_value(t)?, expected, expires)?;
            let version = put.version;
            units.push(vec![
                TransactOp::Put(put, condition),
                row_put(&pk, t, version, expires)?,
            ]);
        }
        self.transact_units(units, now).await?;
        let mut stale: Vec<Vec<TransactOp>> = existing
            .into_iter()
            .map(|(sk, version)| {
                let id = sk.strip_prefix(keys::prefix::TICKETS).unwrap_or(&sk);
                rows.remove(&keys::ticket_row(id));
                vec![
                    row_delete(&pk, id),
                    TransactOp::Delete {
                        pk: pk.clone(),
                        sk: sk.clone(),
                        condition: Condition::VersionIs(version),
                    },
                ]
            })
            .collect();
        // Rows whose ticket is gone already.
        stale.extend(rows.into_iter().map(|sk| {
            vec![TransactOp::Delete {
                pk: pk.clone(),
                sk,
                condition: Condition::None,
            }]
        }));
        Ok(stale)
    }

    /// Writes `wanted` (sort key, body) under `prefix`, each conditional on
    /// the version stored now; returns the deletes of what is no longer wanted.
    async fn replace_under(
        &self,
        session: &Session,
        prefix: &str,
        wanted: Vec<(String, serde_json::Value)>,
        now: Timestamp,
    ) -> Result<Vec<TransactOp>> {
        let pk = keys::session(&session.id);
        let mut existing: BTreeMap<String, u64> = query_all(self.table, &pk, prefix, now)
            .await?
            .into_iter()
            .map(|i| (i.sk, i.version))
            .collect();
        let mut ops = Vec::with_capacity(wanted.len());
        for (sk, body) in wanted {
            let expected = existing.remove(&sk);
            let (put, condition) = item(&pk, &sk, &body, expected, Some(session.expires_at))?;
            ops.push(TransactOp::Put(put, condition));
        }
        self.transact_in_batches(ops, now).await?;
        Ok(existing
            .into_iter()
            .map(|(sk, version)| TransactOp::Delete {
                pk: pk.clone(),
                sk,
                condition: Condition::VersionIs(version),
            })
            .collect())
    }

    /// The plan saved in a session, whole; `None` before one is saved.
    ///
    /// # Errors
    /// [`RepoError::Corrupt`] when the plan names a ticket or epic that is
    /// not stored; store failures.
    pub async fn plan(&self, session: &str, now: Timestamp) -> Result<Option<Plan>> {
        let pk = keys::session(session);
        let Some(stored) = self.load::<StoredPlan>(&pk, keys::PLAN, now).await? else {
            return Ok(None);
        };
        let stored = stored.value;
        let mut tickets: BTreeMap<String, Ticket> = self
            .tickets(session, now)
            .await?
            .into_iter()
            .map(|t| (t.value.id.clone(), t.value))
            .collect();
        let mut epics: BTreeMap<String, Epic> = self
            .load_all::<Epic>(&pk, keys::prefix::EPICS, now)
            .await?
            .into_iter()
            .map(|e| (e.value.id.clone(), e.value))
            .collect();
        let missing = |what: &str, id: &str| RepoError::Corrupt {
            what: format!("{pk} {}", keys::PLAN),
            source: serde::de::Error::custom(format!("the plan names {what} {id}, not stored")),
        };
        let tickets = stored
            .order
            .iter()
            .map(|id| tickets.remove(id).ok_or_else(|| missing("ticket", id)))
            .collect::<Result<Vec<_>>>()?;
        let epics = stored
            .epics
            .iter()
            .map(|id| epics.remove(id).ok_or_else(|| missing("epic", id)))
            .collect::<Result<Vec<_>>>()?;
        // Edges written by a save cut short, between tickets of another plan, are left out.
        let planned: std::collections::BTreeSet<&str> =
            stored.order.iter().map(String::as_str).collect();
        let dependencies = self
            .dependencies(session, now)
            .await?
            .into_iter()
            .filter(|d| planned.contains(d.from.as_str()) && planned.contains(d.to.as_str()))
            .collect();
        Ok(Some(Plan {
            granularity: stored.granularity,
            epics,
            tickets,
            dependencies,
            order: stored.order,
        }))
    }
}

fn to_value(value: &impl Serialize) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|source| RepoError::Corrupt {
        what: "a plan part".to_owned(),
        source,
    })
}
