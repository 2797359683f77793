//! Tickets, epics and dependencies of a session, and the plan that orders
//! them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use dtg_core::plan::{Dependency, Epic, Granularity, Plan, Ticket};

use super::{RepoError, Repos, Result, Session, Versioned, item};
use crate::store::{Condition, Table, Timestamp, TransactOp, keys, query_all};

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
        let version = self
            .store(
                &keys::session(&session.id),
                &keys::ticket(&ticket.id),
                ticket,
                None,
                Some(session.expires_at),
                now,
            )
            .await?;
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
            .store(
                &keys::session(&session.id),
                &keys::ticket(&ticket.id),
                &ticket,
                Some(current.version),
                Some(session.expires_at),
                now,
            )
            .await?;
        Ok(Versioned {
            value: ticket,
            version,
        })
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
        let tickets = plan
            .tickets
            .iter()
            .map(|t| Ok((keys::ticket(&t.id), to_value(t)?)));
        let deps = plan
            .dependencies
            .iter()
            .map(|d| Ok((keys::dependency(&d.from, &d.to), to_value(d)?)));
        let mut stale = Vec::new();
        for (prefix, wanted) in [
            (keys::prefix::EPICS, epics.collect::<Result<Vec<_>>>()?),
            (keys::prefix::TICKETS, tickets.collect::<Result<Vec<_>>>()?),
            (
                keys::prefix::DEPENDENCIES,
                deps.collect::<Result<Vec<_>>>()?,
            ),
        ] {
            stale.extend(self.replace_under(session, prefix, wanted, now).await?);
        }
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
        self.transact_in_batches(stale, now).await
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
