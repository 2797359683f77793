//! A generation that runs as separate tasks (the processing state machine):
//! what it is (the model, its chunks), each chunk's result as its task
//! stores it, and a counter of chunks done with the tokens they used, so
//! every chunk can report progress and cost so far without reading the
//! others. All under the session, keyed by the processing run, and gone
//! with the session's TTL.
//!
//! The results are kept as JSON the caller defines (the LLM crate's chunk
//! results); this layer only stores them.

use serde::{Deserialize, Serialize};

use super::{RepoError, Repos, Result, Versioned};
use crate::store::{Table, Timestamp};

/// Tries of the counter's compare-and-set before giving up.
const COUNTER_TRIES: usize = 20;

/// What a generation is: written by the task that plans it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationManifest {
    /// Who asked.
    pub actor: String,
    /// Provider name.
    pub provider: String,
    /// Model name.
    pub model: String,
    /// Chunks in all.
    pub chunks_total: usize,
    /// Tickets in the plan.
    pub tickets: usize,
    /// When it started (Unix milliseconds).
    pub started_at_ms: u64,
    /// The chunks (the LLM crate's), to assemble the report with.
    pub chunks: serde_json::Value,
}

/// Chunks done so far, and the tokens they used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunksDone {
    /// Chunks done.
    pub done: usize,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Answer tokens.
    pub output_tokens: u64,
    /// Cached prompt tokens.
    pub cached_tokens: u64,
}

fn manifest_key(run: &str) -> String {
    format!("GEN#{run}#META")
}

fn done_key(run: &str) -> String {
    format!("GEN#{run}#DONE")
}

fn chunk_key(run: &str, index: usize) -> String {
    format!("GEN#{run}#CHUNK#{index:06}")
}

fn chunks_prefix(run: &str) -> String {
    format!("GEN#{run}#CHUNK#")
}

impl<T: Table> Repos<'_, T> {
    /// Records what the generation `run` of `session` is.
    ///
    /// # Errors
    /// Store failures.
    pub async fn save_generation(
        &self,
        session: &str,
        run: &str,
        manifest: &GenerationManifest,
        now: Timestamp,
    ) -> Result<()> {
        let pk = crate::store::keys::session(session);
        let expires = Some(now + super::DEFAULT_TTL_SECONDS);
        self.store(&pk, &manifest_key(run), manifest, None, expires, now)
            .await?;
        Ok(())
    }

    /// What the generation `run` is, if it was planned.
    ///
    /// # Errors
    /// Store failures.
    pub async fn generation(
        &self,
        session: &str,
        run: &str,
        now: Timestamp,
    ) -> Result<Option<GenerationManifest>> {
        let pk = crate::store::keys::session(session);
        Ok(self
            .load::<GenerationManifest>(&pk, &manifest_key(run), now)
            .await?
            .map(|v| v.value))
    }

    /// Stores chunk `index`'s `result` and counts it done with the tokens
    /// it used; returns the count after it. A chunk stored again (a task
    /// retried after it stored) replaces its result and is not counted
    /// twice.
    ///
    /// # Errors
    /// Store failures; a counter that stays contended.
    pub async fn record_chunk(
        &self,
        session: &str,
        run: &str,
        index: usize,
        result: &serde_json::Value,
        used: ChunksDone,
        now: Timestamp,
    ) -> Result<ChunksDone> {
        let pk = crate::store::keys::session(session);
        let expires = Some(now + super::DEFAULT_TTL_SECONDS);
        let sk = chunk_key(run, index);
        let before = self.load::<serde_json::Value>(&pk, &sk, now).await?;
        let first = before.is_none();
        self.store(&pk, &sk, result, before.map(|b| b.version), expires, now)
            .await?;
        for _ in 0..COUNTER_TRIES {
            let current: Option<Versioned<ChunksDone>> =
                self.load(&pk, &done_key(run), now).await?;
            let (mut count, version) = current.map_or((ChunksDone::default(), None), |c| {
                (c.value, Some(c.version))
            });
            if !first {
                return Ok(count);
            }
            count.done += 1;
            count.input_tokens += used.input_tokens;
            count.output_tokens += used.output_tokens;
            count.cached_tokens += used.cached_tokens;
            match self
                .store(&pk, &done_key(run), &count, version, expires, now)
                .await
            {
                Ok(_) => return Ok(count),
                Err(RepoError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Err(RepoError::Conflict(format!(
            "the chunk counter of generation {run}"
        )))
    }

    /// Every stored chunk result of the generation `run`, by index.
    ///
    /// # Errors
    /// Store failures; a result stored in a shape this version cannot read.
    pub async fn chunk_results(
        &self,
        session: &str,
        run: &str,
        now: Timestamp,
    ) -> Result<Vec<(usize, serde_json::Value)>> {
        let pk = crate::store::keys::session(session);
        let prefix = chunks_prefix(run);
        let items = crate::store::query_all(self.table, &pk, &prefix, now).await?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let index = item
                .sk
                .strip_prefix(&prefix)
                .and_then(|i| i.parse::<usize>().ok())
                .ok_or_else(|| RepoError::NotFound(format!("chunk index in {}", item.sk)))?;
            let stored: Versioned<serde_json::Value> = super::decode(item)?;
            out.push((index, stored.value));
        }
        Ok(out)
    }

    /// Deletes what the generation `run` stored (once it is assembled).
    ///
    /// # Errors
    /// Store failures.
    pub async fn forget_generation(&self, session: &str, run: &str, now: Timestamp) -> Result<()> {
        let pk = crate::store::keys::session(session);
        let mut sks = vec![manifest_key(run), done_key(run)];
        for item in crate::store::query_all(self.table, &pk, &chunks_prefix(run), now).await? {
            sks.push(item.sk);
        }
        let ops = sks
            .into_iter()
            .map(|sk| crate::store::TransactOp::Delete {
                pk: pk.clone(),
                sk,
                condition: crate::store::Condition::None,
            })
            .collect();
        self.transact_in_batches(ops, now).await
    }
}
