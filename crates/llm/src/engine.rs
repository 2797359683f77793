//! Chunked generation: the plan's tickets grouped into chunks under a token
//! budget, chunks asked concurrently, every answer checked, and the prose
//! merged into the plan without touching what the planner decided.
//!
//! For each chunk: ask; if the answer is refused by the checks (not JSON,
//! off-schema, an empty field), ask once more with the reason in the prompt;
//! if that fails too, or the provider gives no answer at all, the chunk's
//! tickets keep the planner's text and a finding says why. A ticket is never
//! left empty. Ids, items, dependencies, order and epics come from the plan,
//! whatever the model says; dependencies it suggests are reported for review.
//!
//! Each chunk's answer format names the ids the model may use: the chunk's
//! tickets to answer for, the plan's to suggest ([`chunk_schema`]). The
//! checks after the answer stay, for a model that ignores its format.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dtg_core::csv::CsvType;
use dtg_core::item::ConfigItem;
use dtg_core::plan::prose::{TicketProse, merge};
use dtg_core::plan::{Plan, Ticket};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::answer::{CheckedAnswer, SuggestedDependency, check, chunk_schema};
use crate::cost::{Cost, Price, PriceTable};
use crate::error::LlmError;
use crate::port::{ChunkRequest, Llm, Usage};
use crate::prompt::{PROMPT_VERSION, SYSTEM, SiteContext, estimate_tokens, planner_prose};

/// How a generation runs.
#[derive(Debug, Clone)]
pub struct GenerationSettings {
    /// Estimated prompt tokens per chunk, at most (a single larger ticket gets a chunk of its own).
    pub token_budget: usize,
    /// Tickets per chunk, at most.
    pub max_tickets_per_chunk: usize,
    /// Chunks asked at once, at most.
    pub concurrency: usize,
    /// Answer tokens allowed per ticket of a chunk.
    pub output_tokens_per_ticket: u32,
    /// Prices, for the cost report.
    pub prices: PriceTable,
}

impl Default for GenerationSettings {
    fn default() -> Self {
        Self {
            token_budget: 12_000,
            max_tickets_per_chunk: 12,
            concurrency: 8,
            output_tokens_per_ticket: 900,
            prices: PriceTable::default(),
        }
    }
}

/// How a chunk ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChunkOutcome {
    /// The first answer passed.
    Written,
    /// The first answer was refused, the second passed.
    Repaired,
    /// No usable answer: the tickets keep the planner's text.
    Fallback,
    /// The deterministic writer: nothing was asked.
    Deterministic,
}

/// Stable codes of generation findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingCode {
    /// The first answer was refused and the retry passed.
    AnswerRepaired,
    /// Both answers were refused: the planner's text is kept.
    AnswerRejected,
    /// The provider gave no answer: the planner's text is kept.
    ProviderFailed,
    /// The answer covered a ticket that was not asked for (ignored).
    UnknownTicket,
    /// The answer left out a ticket: it keeps the planner's text.
    MissingTicket,
    /// A suggested dependency names no ticket of the plan, or the ticket itself (dropped).
    SuggestionDropped,
}

/// Something a reviewer should know about the generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationFinding {
    /// What happened.
    pub code: FindingCode,
    /// The chunk.
    pub chunk: usize,
    /// The ticket, when it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// In words.
    pub message: String,
}

/// One chunk's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkReport {
    /// Index, in plan order.
    pub index: usize,
    /// Its tickets.
    pub tickets: Vec<String>,
    /// The CSV type whose prompt it used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csv_type: Option<CsvType>,
    /// Estimated prompt tokens.
    pub estimated_input_tokens: usize,
    /// Answers asked for (1, or 2 after a refused answer).
    pub answers: u32,
    /// HTTP attempts retried (429, 5xx, timeouts).
    pub http_retries: u32,
    /// Tokens used, refused answers included.
    pub usage: Usage,
    /// Their cost, when the model has a price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<Cost>,
    /// How it ended.
    pub outcome: ChunkOutcome,
    /// Wall time, in milliseconds.
    pub elapsed_ms: u64,
}

/// What a generation did and cost (stored with the session).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationReport {
    /// Provider name.
    pub provider: String,
    /// Model.
    pub model: String,
    /// Prompt template version.
    pub prompt_version: String,
    /// The model's price, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<Price>,
    /// Tickets whose prose came from the model.
    pub tickets_written: usize,
    /// Tickets that kept the planner's text.
    pub tickets_kept: usize,
    /// Chunks, in plan order.
    pub chunks: Vec<ChunkReport>,
    /// Tokens of the whole generation.
    pub usage: Usage,
    /// Cost of the whole generation, when the model has a price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<Cost>,
    /// Findings, by chunk.
    pub findings: Vec<GenerationFinding>,
    /// Dependencies the model suggested, for review (never applied).
    pub suggestions: Vec<SuggestedDependency>,
    /// Wall time, in milliseconds.
    pub elapsed_ms: u64,
}

/// A plan with its prose, and the report.
#[derive(Debug, Clone)]
pub struct Generation {
    /// The plan, prose merged.
    pub plan: Plan,
    /// What happened.
    pub report: GenerationReport,
}

/// Progress of a generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Chunks planned.
    Started {
        /// How many.
        chunks: usize,
    },
    /// One more chunk done.
    ChunkDone {
        /// Chunks done so far.
        done: usize,
        /// Chunks in all.
        total: usize,
        /// How it ended.
        outcome: ChunkOutcome,
        /// What the chunks done so far cost, when the model has a price.
        cost_so_far: Option<crate::cost::Cost>,
    },
}

/// One chunk: its tickets (indexes into the plan) and prompt type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// Indexes of its tickets in `plan.tickets`.
    pub tickets: Vec<usize>,
    /// The CSV type of its tickets.
    pub csv_type: Option<CsvType>,
    /// Estimated prompt tokens.
    pub estimated_tokens: usize,
}

/// Groups the plan's tickets into chunks: tickets of one CSV type together (so
/// one prompt template fits), in plan order, each chunk under the token
/// budget and the ticket cap.
#[must_use]
pub fn chunks(plan: &Plan, context: &SiteContext<'_>, settings: &GenerationSettings) -> Vec<Chunk> {
    // The answer format is sent with every chunk: it names the plan's ticket
    // ids (where they fit the strict-schema limits) and the chunk's own.
    // (What `chunk_schema` adds for the plan's ids: nothing when they do not fit.)
    let plan_ids: Vec<String> = plan.tickets.iter().map(|t| t.id.clone()).collect();
    let plain = crate::answer::answer_schema().to_string().len();
    let named = chunk_schema(&[], &plan_ids).to_string().len();
    let plan_enum = named.saturating_sub(plain).div_ceil(4);
    let base = estimate_tokens(SYSTEM) + 400 + plan_enum;
    // (CSV type, [(ticket index, estimated tokens)]), types in order of first appearance.
    type Group = (Option<CsvType>, Vec<(usize, usize)>);
    let mut by_type: Vec<Group> = Vec::new();
    for (i, t) in plan.tickets.iter().enumerate() {
        let ty = context.csv_type(t);
        let tokens = estimate_tokens(&context.ticket_brief(t).to_string()) + estimate_tokens(&t.id);
        match by_type.iter_mut().find(|(k, _)| *k == ty) {
            Some((_, v)) => v.push((i, tokens)),
            None => by_type.push((ty, vec![(i, tokens)])),
        }
    }
    let mut out = Vec::new();
    for (ty, tickets) in by_type {
        let mut current = Chunk {
            tickets: Vec::new(),
            csv_type: ty,
            estimated_tokens: base,
        };
        for (i, tokens) in tickets {
            let full = current.tickets.len() >= settings.max_tickets_per_chunk.max(1)
                || current.estimated_tokens + tokens > settings.token_budget;
            if full && !current.tickets.is_empty() {
                out.push(std::mem::replace(
                    &mut current,
                    Chunk {
                        tickets: Vec::new(),
                        csv_type: ty,
                        estimated_tokens: base,
                    },
                ));
            }
            current.tickets.push(i);
            current.estimated_tokens += tokens;
        }
        if !current.tickets.is_empty() {
            out.push(current);
        }
    }
    out
}

/// What one chunk's call came to: stored between the calls of a
/// generation that runs as separate tasks, then [`assemble`]d.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkResult {
    /// The chunk's index.
    pub index: usize,
    /// The checked answer; `None` keeps the planner's text.
    pub answer: Option<CheckedAnswer>,
    /// Answers asked for.
    pub report_answers: u32,
    /// HTTP attempts retried.
    pub http_retries: u32,
    /// Tokens used.
    pub usage: Usage,
    /// How it ended.
    pub outcome: ChunkOutcome,
    /// What a reviewer should know.
    pub findings: Vec<GenerationFinding>,
    /// Wall time, in milliseconds.
    pub elapsed_ms: u64,
}

/// A generation ready to run: its chunks and the call each one makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prepared {
    /// The chunks, in plan order.
    pub chunks: Vec<Chunk>,
    /// One request per chunk, same order.
    pub requests: Vec<ChunkRequest>,
}

/// Groups the plan's tickets into chunks and writes each chunk's request.
#[must_use]
pub fn prepare(plan: &Plan, items: &[ConfigItem], settings: &GenerationSettings) -> Prepared {
    let context = SiteContext::new(plan, items);
    let chunks = chunks(plan, &context, settings);
    let plan_ids: Vec<String> = plan.tickets.iter().map(|t| t.id.clone()).collect();
    let requests = chunks
        .iter()
        .enumerate()
        .map(|(index, chunk)| {
            let tickets: Vec<&Ticket> = chunk.tickets.iter().map(|&i| &plan.tickets[i]).collect();
            let ticket_ids: Vec<String> = tickets.iter().map(|t| t.id.clone()).collect();
            ChunkRequest {
                chunk: index,
                answer_schema: Arc::new(chunk_schema(&ticket_ids, &plan_ids)),
                ticket_ids,
                system: SYSTEM.to_owned(),
                user: context.user_prompt(chunk.csv_type, &tickets),
                max_output_tokens: settings
                    .output_tokens_per_ticket
                    .saturating_mul(u32::try_from(tickets.len()).unwrap_or(u32::MAX))
                    .saturating_add(200),
                planner_prose: tickets
                    .iter()
                    .map(|t| (t.id.clone(), planner_prose(t)))
                    .collect(),
            }
        })
        .collect();
    Prepared { chunks, requests }
}

/// A chunk that keeps the planner's text because its call failed: `reason`
/// becomes its finding.
#[must_use]
pub fn kept_chunk(index: usize, reason: &str) -> ChunkResult {
    ChunkResult {
        index,
        answer: None,
        report_answers: 1,
        http_retries: 0,
        usage: Usage::default(),
        outcome: ChunkOutcome::Fallback,
        findings: vec![GenerationFinding {
            code: FindingCode::ProviderFailed,
            chunk: index,
            ticket: None,
            message: format!("{reason}; the planner's text is kept for this chunk's tickets"),
        }],
        elapsed_ms: 0,
    }
}

/// A chunk of the deterministic writer: nothing asked, the planner's text kept.
#[must_use]
pub fn deterministic_chunk(index: usize) -> ChunkResult {
    ChunkResult {
        index,
        answer: None,
        report_answers: 0,
        http_retries: 0,
        usage: Usage::default(),
        outcome: ChunkOutcome::Deterministic,
        findings: Vec::new(),
        elapsed_ms: 0,
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Asks for one chunk, asking once more with the reason when the answer is
/// refused; two refused answers keep the planner's text, with a finding.
///
/// # Errors
/// The provider's failure to answer at all ([`LlmError::is_fatal`] for a
/// refused key or an unknown model; otherwise the caller may try again or
/// keep the planner's text with [`kept_chunk`]).
pub async fn write_chunk(
    llm: Arc<dyn Llm>,
    request: ChunkRequest,
) -> Result<ChunkResult, LlmError> {
    let started = Instant::now();
    let index = request.chunk;
    let mut usage = Usage::default();
    let mut http_retries = 0;
    let mut findings = Vec::new();
    let mut request = request;
    for answer_no in 1..=2u32 {
        let refused = match llm.write(&request).await {
            Ok(raw) => {
                usage += raw.usage;
                http_retries += raw.retries;
                match check(&raw.text, &request.ticket_ids) {
                    Ok(answer) => {
                        let outcome = if answer_no == 1 {
                            ChunkOutcome::Written
                        } else {
                            ChunkOutcome::Repaired
                        };
                        return Ok(ChunkResult {
                            index,
                            answer: Some(answer),
                            report_answers: answer_no,
                            http_retries,
                            usage,
                            outcome,
                            findings,
                            elapsed_ms: millis(started.elapsed()),
                        });
                    }
                    Err(e) => e.0,
                }
            }
            Err(e) if e.is_fatal() => return Err(e),
            Err(e) if e.is_bad_answer() => e.to_string(),
            Err(e) => return Err(e),
        };
        if answer_no == 1 {
            findings.push(GenerationFinding {
                code: FindingCode::AnswerRepaired,
                chunk: index,
                ticket: None,
                message: format!("the first answer was refused ({refused}); asked again"),
            });
            request.user = format!(
                "{}\n\nYour previous answer was refused: {refused}\nAnswer again for the same tickets, with JSON that matches the format exactly.",
                request.user
            );
        } else {
            findings.push(GenerationFinding {
                code: FindingCode::AnswerRejected,
                chunk: index,
                ticket: None,
                message: format!(
                    "the answer was refused twice ({refused}); the planner's text is kept for this chunk's tickets"
                ),
            });
        }
    }
    Ok(ChunkResult {
        index,
        answer: None,
        report_answers: 2,
        http_retries,
        usage,
        outcome: ChunkOutcome::Fallback,
        findings,
        elapsed_ms: millis(started.elapsed()),
    })
}

/// Writes the prose of every ticket of `plan` with `llm`.
///
/// The returned plan has the plan's ids, items, dependencies, order and
/// epics, whatever the model answered. `progress` is called as chunks finish.
///
/// # Errors
/// [`LlmError`] only when going on is pointless: the key is refused, the
/// model does not exist, or the configuration is wrong. Every other failure
/// falls back to the planner's text with a finding.
pub async fn generate(
    plan: &Plan,
    items: &[ConfigItem],
    llm: Arc<dyn Llm>,
    settings: &GenerationSettings,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Generation, LlmError> {
    let started = Instant::now();
    let Prepared { chunks, requests } = prepare(plan, items, settings);
    let price = settings.prices.price(llm.model());
    let total = chunks.len();
    progress(Progress::Started { chunks: total });

    let mut results: Vec<Option<ChunkResult>> = (0..total).map(|_| None).collect();
    if llm.is_deterministic() {
        for (index, slot) in results.iter_mut().enumerate() {
            *slot = Some(deterministic_chunk(index));
            progress(Progress::ChunkDone {
                done: index + 1,
                total,
                outcome: ChunkOutcome::Deterministic,
                cost_so_far: None,
            });
        }
    } else {
        let limit = Arc::new(Semaphore::new(settings.concurrency.max(1)));
        let mut set = JoinSet::new();
        let mut spent = Usage::default();
        for request in requests {
            let llm = llm.clone();
            let limit = limit.clone();
            set.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let index = request.chunk;
                match write_chunk(llm, request).await {
                    Err(e) if !e.is_fatal() => Ok(kept_chunk(index, &e.to_string())),
                    other => other,
                }
            });
        }
        let mut done = 0;
        while let Some(joined) = set.join_next().await {
            let result = match joined {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => {
                    set.abort_all();
                    return Err(e);
                }
                Err(e) => {
                    set.abort_all();
                    return Err(LlmError::Config(format!("a chunk's task failed: {e}")));
                }
            };
            done += 1;
            spent += result.usage;
            progress(Progress::ChunkDone {
                done,
                total,
                outcome: result.outcome,
                cost_so_far: price.map(|p| p.cost(&spent)),
            });
            let index = result.index;
            if let Some(slot) = results.get_mut(index) {
                *slot = Some(result);
            }
        }
    }
    Ok(assemble(
        plan,
        &chunks,
        results,
        Model {
            provider: llm.name(),
            model: llm.model(),
            price,
        },
        started.elapsed(),
    ))
}

/// Who wrote a generation, for its report.
#[derive(Debug, Clone, Copy)]
pub struct Model<'a> {
    /// Provider name.
    pub provider: &'a str,
    /// Model name.
    pub model: &'a str,
    /// Its price, when known.
    pub price: Option<Price>,
}

/// Merges the chunks' answers into the plan, in chunk order (so the report
/// does not depend on timing), and writes the report. A chunk without a
/// result keeps the planner's text.
#[must_use]
pub fn assemble(
    plan: &Plan,
    chunks: &[Chunk],
    results: Vec<Option<ChunkResult>>,
    by: Model<'_>,
    elapsed: Duration,
) -> Generation {
    let price = by.price;
    let known: BTreeSet<&str> = plan.tickets.iter().map(|t| t.id.as_str()).collect();
    let existing: BTreeSet<(&str, &str)> = plan
        .dependencies
        .iter()
        .map(|d| (d.from.as_str(), d.to.as_str()))
        .collect();
    let mut prose: BTreeMap<String, TicketProse> = BTreeMap::new();
    let mut findings = Vec::new();
    let mut suggestions = Vec::new();
    let mut reports = Vec::with_capacity(chunks.len());
    let mut usage = Usage::default();
    let mut cost = price.map(|_| Cost::default());
    for (chunk, result) in chunks.iter().zip(results) {
        let Some(result) = result else { continue };
        let index = result.index;
        findings.extend(result.findings);
        if let Some(answer) = result.answer {
            for id in answer.unknown_ids {
                findings.push(GenerationFinding {
                    code: FindingCode::UnknownTicket,
                    chunk: index,
                    message: format!("the answer wrote about ticket {id}, which this chunk did not ask for; ignored"),
                    ticket: Some(id),
                });
            }
            for id in answer.missing_ids {
                findings.push(GenerationFinding {
                    code: FindingCode::MissingTicket,
                    chunk: index,
                    message: format!(
                        "the answer left out ticket {id}; it keeps the planner's text"
                    ),
                    ticket: Some(id),
                });
            }
            for s in answer.suggestions {
                if s.to == s.from || !known.contains(s.to.as_str()) {
                    findings.push(GenerationFinding {
                        code: FindingCode::SuggestionDropped,
                        chunk: index,
                        message: format!(
                            "suggested dependency of {} on '{}' dropped: no such other ticket",
                            s.from, s.to
                        ),
                        ticket: Some(s.from),
                    });
                } else if !existing.contains(&(s.from.as_str(), s.to.as_str())) {
                    suggestions.push(s);
                }
            }
            prose.extend(answer.prose);
        }
        let chunk_cost = price.map(|p| p.cost(&result.usage));
        if let (Some(total), Some(c)) = (cost.as_mut(), chunk_cost) {
            *total += c;
        }
        usage += result.usage;
        reports.push(ChunkReport {
            index,
            tickets: chunk
                .tickets
                .iter()
                .map(|&i| plan.tickets[i].id.clone())
                .collect(),
            csv_type: chunk.csv_type,
            estimated_input_tokens: chunk.estimated_tokens,
            answers: result.report_answers,
            http_retries: result.http_retries,
            usage: result.usage,
            cost: chunk_cost,
            outcome: result.outcome,
            elapsed_ms: result.elapsed_ms,
        });
    }
    suggestions.sort();
    suggestions.dedup();
    let merged = merge(plan, &prose);
    let written = plan
        .tickets
        .iter()
        .filter(|t| prose.contains_key(&t.id))
        .count();
    Generation {
        plan: merged,
        report: GenerationReport {
            provider: by.provider.to_owned(),
            model: by.model.to_owned(),
            prompt_version: PROMPT_VERSION.to_owned(),
            price,
            tickets_written: written,
            tickets_kept: plan.tickets.len() - written,
            chunks: reports,
            usage,
            cost,
            findings,
            suggestions,
            elapsed_ms: millis(elapsed),
        },
    }
}
