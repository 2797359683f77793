//! The processing machine's tasks: `plan` (the planner, and the chunks a
//! model will write), `generate-chunk` (one chunk), `assemble` (the
//! chunks into the session's tickets, or the record of a failure).
//!
//! Between the tasks, each chunk's request waits in the blob store and each
//! result in the table ([`dtg_app::repo::GenerationManifest`]), so the
//! machine's state only carries ids and chunk indexes.

use std::time::Duration;

use dtg_app::export::ErrorCategory;
use dtg_app::jira::JiraAccess;
use dtg_app::progress::{
    ProcessingComplete, ProcessingFailed, ProcessingProgress, ProgressMessage, ProtocolVersion,
    Publish,
};
use dtg_app::repo::{ChunksDone, GenerationManifest, Progress, Task, TaskKind, TaskStatus};
use dtg_app::store::{Blobs, Table};
use dtg_app::workflow::{
    PLANNER_MODEL, PLANNER_PROVIDER, Run, plan_session, plan_session_with, save_wording,
};
use dtg_core::plan::PlanSettings;
use dtg_llm::engine::{
    Chunk, ChunkResult, Model, Prepared, assemble as assemble_chunks, deterministic_chunk,
    kept_chunk, prepare, write_chunk,
};
use dtg_llm::{ChunkOutcome, ChunkRequest, LlmError, Usage};
use serde::{Deserialize, Serialize};

use crate::context::{now, now_ms};
use crate::{StateError, TaskContext, TaskError};

/// What the processing machine starts with.
pub use dtg_app::jobs::ProcessingRun as ProcessingInput;

/// What `plan` answers: the chunks to write (none without a model).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planned {
    /// Chunk indexes.
    pub chunks: Vec<usize>,
}

/// One chunk to write, or to keep as the planner wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkInput {
    /// Session id.
    pub session_id: String,
    /// The processing run.
    pub task_id: String,
    /// The chunk's index.
    pub chunk: usize,
    /// Set when the model could not write it: the chunk keeps the
    /// planner's text and this becomes its finding.
    #[serde(default)]
    pub fallback: Option<StateError>,
}

/// How a chunk ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkWritten {
    /// The outcome.
    pub outcome: ChunkOutcome,
    /// Chunks done so far.
    pub chunks_done: usize,
}

/// The end of a processing run, or its failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssembleInput {
    /// Session id.
    pub session_id: String,
    /// The processing run.
    pub task_id: String,
    /// Set when an earlier state failed.
    #[serde(default)]
    pub failure: Option<StateError>,
}

/// What `assemble` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assembled {
    /// `completed`, `failed`, or `planned` (the planner's text, nothing to assemble).
    pub status: String,
    /// Tickets whose prose came from the model.
    pub tickets_written: usize,
}

/// Where chunk `index`'s request waits.
fn request_key(session: &str, run: &str, index: usize) -> String {
    format!("work/{session}/{run}/chunk-{index:06}.json")
}

/// Plans the session's tickets; with a model, stores each chunk's request
/// and names the chunks.
///
/// # Errors
/// [`TaskError::LlmFatal`] for a model not offered; the planner's and the
/// store's failures.
pub async fn plan<T: Table, B: Blobs, P: Publish, A: JiraAccess>(
    ctx: &TaskContext<T, B, P, A>,
    input: ProcessingInput,
) -> Result<Planned, TaskError> {
    let repos = ctx.repos();
    let settings = PlanSettings {
        granularity: input.granularity,
    };
    let run = Run {
        actor: &input.actor,
        id: &input.task_id,
        now: now(),
    };
    let Some(choice) = &input.wording else {
        plan_session_with(
            &repos,
            ctx.blobs.as_ref(),
            ctx.publish.as_ref(),
            &input.session_id,
            &settings,
            &ctx.limits,
            run,
        )
        .await?;
        return Ok(Planned { chunks: Vec::new() });
    };
    let config = ctx.model(&choice.provider, &choice.model)?;
    let (report, plan) = plan_session(
        &repos,
        ctx.blobs.as_ref(),
        &input.session_id,
        &settings,
        &ctx.limits,
        run,
    )
    .await?;
    let Prepared { chunks, requests } = prepare(&plan, &report.items, &config.generation);
    for request in &requests {
        let bytes = serde_json::to_vec(request).map_err(|e| TaskError::Input(e.to_string()))?;
        ctx.blobs
            .put(
                &request_key(&input.session_id, &input.task_id, request.chunk),
                bytes,
                "application/json",
            )
            .await?;
    }
    let manifest = GenerationManifest {
        actor: input.actor.clone(),
        provider: choice.provider.clone(),
        model: choice.model.clone(),
        chunks_total: chunks.len(),
        tickets: plan.tickets.len(),
        started_at_ms: now_ms(),
        chunks: serde_json::to_value(&chunks).map_err(|e| TaskError::Input(e.to_string()))?,
    };
    repos
        .save_generation(&input.session_id, &input.task_id, &manifest, now())
        .await?;
    ctx.publish
        .publish(
            &input.session_id,
            &progress_message(&input.session_id, &manifest, ChunksDone::default(), None),
        )
        .await;
    Ok(Planned {
        chunks: (0..chunks.len()).collect(),
    })
}

/// Writes one chunk with the session's model (or keeps the planner's text
/// when `fallback` says the model could not), stores the result, and
/// publishes `processing_progress`.
///
/// # Errors
/// [`TaskError::LlmThrottled`] when the provider asks to slow down (the
/// machine retries), [`TaskError::LlmUnavailable`] when it does not answer
/// (the machine keeps the planner's text), [`TaskError::LlmFatal`] for a
/// refused key or model; store failures.
pub async fn generate_chunk<T: Table, B: Blobs, P: Publish, A: JiraAccess>(
    ctx: &TaskContext<T, B, P, A>,
    input: ChunkInput,
) -> Result<ChunkWritten, TaskError> {
    let repos = ctx.repos();
    let manifest = repos
        .generation(&input.session_id, &input.task_id, now())
        .await?
        .ok_or_else(|| {
            TaskError::Input(format!(
                "processing run {} of session {} planned no chunks",
                input.task_id, input.session_id
            ))
        })?;
    let config = ctx.model(&manifest.provider, &manifest.model)?;
    let result = match &input.fallback {
        Some(failed) => kept_chunk(
            input.chunk,
            &format!(
                "the model could not write it ({}: {})",
                failed.error,
                failed.message()
            ),
        ),
        None => {
            let key = request_key(&input.session_id, &input.task_id, input.chunk);
            let bytes = ctx.blobs.get(&key).await?.ok_or_else(|| {
                TaskError::Input(format!("chunk {} has no request ({key})", input.chunk))
            })?;
            let request: ChunkRequest =
                serde_json::from_slice(&bytes).map_err(|e| TaskError::Input(e.to_string()))?;
            let llm = config
                .build()
                .map_err(|e| TaskError::LlmFatal(e.to_string()))?;
            if llm.is_deterministic() {
                deterministic_chunk(input.chunk)
            } else {
                write_chunk(llm, request).await.map_err(llm_error)?
            }
        }
    };
    let outcome = result.outcome;
    let stored = serde_json::to_value(&result).map_err(|e| TaskError::Input(e.to_string()))?;
    let used = ChunksDone {
        done: 1,
        input_tokens: result.usage.input_tokens,
        output_tokens: result.usage.output_tokens,
        cached_tokens: result.usage.cached_tokens,
    };
    let done = repos
        .record_chunk(
            &input.session_id,
            &input.task_id,
            input.chunk,
            &stored,
            used,
            now(),
        )
        .await?;
    let price = config.generation.prices.price(&manifest.model);
    ctx.publish
        .publish(
            &input.session_id,
            &progress_message(&input.session_id, &manifest, done, price),
        )
        .await;
    Ok(ChunkWritten {
        outcome,
        chunks_done: done.done,
    })
}

/// The provider's failure as the error type the machine matches.
fn llm_error(e: LlmError) -> TaskError {
    if e.is_fatal() {
        TaskError::LlmFatal(e.to_string())
    } else if matches!(e, LlmError::Status { status: 429, .. }) {
        TaskError::LlmThrottled(e.to_string())
    } else {
        TaskError::LlmUnavailable(e.to_string())
    }
}

/// Assembles the chunks into the session's tickets, saves them with the
/// generation's report, and publishes `processing_complete`; or, with
/// `failure`, records the processing as failed and publishes
/// `processing_failed`. Without a model there is nothing to assemble (the
/// planner already saved its text and said so).
///
/// # Errors
/// A ticket edited meanwhile; store failures.
pub async fn assemble<T: Table, B: Blobs, P: Publish, A: JiraAccess>(
    ctx: &TaskContext<T, B, P, A>,
    input: AssembleInput,
) -> Result<Assembled, TaskError> {
    let repos = ctx.repos();
    let manifest = repos
        .generation(&input.session_id, &input.task_id, now())
        .await?;
    if let Some(failure) = &input.failure {
        record_failure(ctx, &input, manifest.as_ref(), failure).await?;
        return Ok(Assembled {
            status: "failed".to_owned(),
            tickets_written: 0,
        });
    }
    let Some(manifest) = manifest else {
        return Ok(Assembled {
            status: "planned".to_owned(),
            tickets_written: 0,
        });
    };
    let plan = repos
        .plan(&input.session_id, now())
        .await?
        .ok_or_else(|| TaskError::Input(format!("session {} has no plan", input.session_id)))?;
    let chunks: Vec<Chunk> = serde_json::from_value(manifest.chunks.clone())
        .map_err(|e| TaskError::Input(e.to_string()))?;
    let mut results: Vec<Option<ChunkResult>> = (0..chunks.len()).map(|_| None).collect();
    for (index, value) in repos
        .chunk_results(&input.session_id, &input.task_id, now())
        .await?
    {
        let result: ChunkResult =
            serde_json::from_value(value).map_err(|e| TaskError::Input(e.to_string()))?;
        if let Some(slot) = results.get_mut(index) {
            *slot = Some(result);
        }
    }
    let config = ctx.model(&manifest.provider, &manifest.model)?;
    let price = config.generation.prices.price(&manifest.model);
    let elapsed = Duration::from_millis(now_ms().saturating_sub(manifest.started_at_ms));
    let generation = assemble_chunks(
        &plan,
        &chunks,
        results,
        Model {
            provider: &manifest.provider,
            model: &manifest.model,
            price,
        },
        elapsed,
    );
    let cost = generation.report.cost.map(usd);
    let mut report =
        serde_json::to_value(&generation.report).map_err(|e| TaskError::Input(e.to_string()))?;
    if let Some(object) = report.as_object_mut() {
        object.insert("cost_usd".to_owned(), serde_json::json!(cost));
    }
    save_wording(
        &repos,
        &input.session_id,
        &generation.plan,
        report,
        &generation.report.provider,
        &generation.report.model,
        Run {
            actor: &manifest.actor,
            id: &input.task_id,
            now: now(),
        },
    )
    .await?;
    let chunks_total = generation.report.chunks.len();
    ctx.publish
        .publish(
            &input.session_id,
            &ProgressMessage::ProcessingComplete(ProcessingComplete {
                v: ProtocolVersion,
                session_id: input.session_id.clone(),
                status: "completed".to_owned(),
                chunks_done: chunks_total,
                chunks_total,
                tickets: generation.plan.tickets.len(),
                epics: generation.plan.epics.len(),
                dependencies: generation.plan.dependencies.len(),
                cost_usd: cost,
                provider: manifest.provider.clone(),
                model: manifest.model.clone(),
            }),
        )
        .await;
    forget(ctx, &input, chunks_total).await;
    Ok(Assembled {
        status: "completed".to_owned(),
        tickets_written: generation.report.tickets_written,
    })
}

/// Deletes the requests and results of an assembled generation. Best
/// effort: what stays behind expires with the session.
async fn forget<T: Table, B: Blobs, P: Publish, A: JiraAccess>(
    ctx: &TaskContext<T, B, P, A>,
    input: &AssembleInput,
    chunks: usize,
) {
    for index in 0..chunks {
        let key = request_key(&input.session_id, &input.task_id, index);
        if let Err(e) = ctx.blobs.delete(&key).await {
            tracing::warn!(key, error = %e, "a chunk request was not deleted");
        }
    }
    if let Err(e) = ctx
        .repos()
        .forget_generation(&input.session_id, &input.task_id, now())
        .await
    {
        tracing::warn!(session = %input.session_id, error = %e, "a generation's results were not deleted");
    }
}

async fn record_failure<T: Table, B: Blobs, P: Publish, A: JiraAccess>(
    ctx: &TaskContext<T, B, P, A>,
    input: &AssembleInput,
    manifest: Option<&GenerationManifest>,
    failure: &StateError,
) -> Result<(), TaskError> {
    let repos = ctx.repos();
    let (category, message) = match failure.error.as_str() {
        "Llm.Fatal" => (
            ErrorCategory::AdminRequired,
            format!(
                "The model provider refused the request ({}); the tickets keep the planner's text. Check the key and the model, then process again.",
                failure.message()
            ),
        ),
        "Session.Invalid" | "Session.WrongStage" | "Session.NotFound" => {
            (ErrorCategory::UserFixable, failure.message())
        }
        _ => (
            ErrorCategory::Temporary,
            format!(
                "Processing stopped ({}: {}); process the session again.",
                failure.error,
                failure.message()
            ),
        ),
    };
    if let Some(session) = repos.session(&input.session_id, now()).await? {
        let task = Task {
            id: format!("{}-failed", input.task_id),
            kind: TaskKind::Processing,
            status: TaskStatus::Failed,
            progress: Progress::default(),
            error: Some(dtg_app::repo::TaskError {
                category: failure.error.clone(),
                message: message.clone(),
            }),
            result: None,
            created_at: now(),
            updated_at: now(),
        };
        match repos.insert_task(&session.value, &task, now()).await {
            // Recorded already: the machine retried this state.
            Ok(_) | Err(dtg_app::repo::RepoError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let (provider, model, chunks_total, tickets) = manifest.map_or_else(
        || (PLANNER_PROVIDER.to_owned(), PLANNER_MODEL.to_owned(), 0, 0),
        |m| {
            (
                m.provider.clone(),
                m.model.clone(),
                m.chunks_total,
                m.tickets,
            )
        },
    );
    ctx.publish
        .publish(
            &input.session_id,
            &ProgressMessage::ProcessingFailed(ProcessingFailed {
                v: ProtocolVersion,
                session_id: input.session_id.clone(),
                status: "failed".to_owned(),
                chunks_done: 0,
                chunks_total,
                tickets,
                cost_usd: None,
                provider,
                model,
                error_category: category,
                error_message: message,
            }),
        )
        .await;
    Ok(())
}

fn progress_message(
    session: &str,
    manifest: &GenerationManifest,
    done: ChunksDone,
    price: Option<dtg_llm::Price>,
) -> ProgressMessage {
    let usage = Usage {
        input_tokens: done.input_tokens,
        output_tokens: done.output_tokens,
        cached_tokens: done.cached_tokens,
    };
    ProgressMessage::ProcessingProgress(ProcessingProgress {
        v: ProtocolVersion,
        session_id: session.to_owned(),
        chunks_done: done.done,
        chunks_total: manifest.chunks_total,
        tickets: manifest.tickets * done.done / manifest.chunks_total.max(1),
        cost_usd: price.map(|p| usd(p.cost(&usage))),
        provider: manifest.provider.clone(),
        model: manifest.model.clone(),
    })
}

#[allow(clippy::cast_precision_loss)]
fn usd(cost: dtg_llm::Cost) -> f64 {
    cost.pico_usd as f64 / 1e12
}
