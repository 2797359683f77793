//! Long work as tasks of the same process: validation, planning and
//! wording, export. Each runs the app layer's use case and publishes its
//! progress to the hub; a failure is recorded where the client polls it (the
//! task and the session), never lost in a log.

use std::collections::BTreeMap;
use std::sync::Arc;

use dtg_app::export::{SystemClock, run_export};
use dtg_app::jira::JiraAccess;
use dtg_app::jobs::{Job, JobError, Jobs, WordingChoice};
use dtg_app::progress::{
    ProcessingComplete, ProcessingFailed, ProcessingProgress, ProgressMessage, ProtocolVersion,
    Publish,
};
use dtg_app::repo::{DEFAULT_TTL_SECONDS, Repos};
use dtg_app::store::{Blobs, Table};
use dtg_app::workflow::{
    Run, plan_session, plan_session_with, save_wording, validate_session_with,
};
use dtg_core::csv::Limits;
use dtg_core::plan::PlanSettings;
use dtg_embedded::Hub;
use dtg_jira::SiteAccess;
use dtg_llm::{LlmConfig, Progress};

use crate::system_now;

/// Runs jobs as tokio tasks.
pub struct LocalJobs<T: Table, B: Blobs> {
    inner: Arc<Inner<T, B>>,
}

impl<T: Table, B: Blobs> Clone for LocalJobs<T, B> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<T: Table, B: Blobs> {
    table: Arc<T>,
    blobs: Arc<B>,
    jira: Arc<SiteAccess<T>>,
    hub: Arc<Hub>,
    llm: BTreeMap<String, LlmConfig>,
}

impl<T: Table, B: Blobs> std::fmt::Debug for LocalJobs<T, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalJobs")
            .field("providers", &self.inner.llm.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl<T: Table, B: Blobs> LocalJobs<T, B> {
    /// Jobs over these ports; `llm` maps each offered provider to its configuration.
    #[must_use]
    pub fn new(
        table: Arc<T>,
        blobs: Arc<B>,
        jira: Arc<SiteAccess<T>>,
        hub: Arc<Hub>,
        llm: BTreeMap<String, LlmConfig>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                table,
                blobs,
                jira,
                hub,
                llm,
            }),
        }
    }
}

fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

impl<T: Table, B: Blobs> Jobs for LocalJobs<T, B> {
    async fn start(&self, job: Job) -> Result<(), JobError> {
        if let Job::Process {
            wording: Some(choice),
            ..
        } = &job
            && !self.inner.llm.contains_key(&choice.provider)
        {
            return Err(JobError::Refused(format!(
                "this server does not offer {}",
                choice.provider
            )));
        }
        let inner = Arc::clone(&self.inner);
        tokio::spawn(async move {
            let session = job.session().to_owned();
            if let Err(e) = inner.run(job).await {
                tracing::error!(session = %session, error = %e, "a job failed");
            }
        });
        Ok(())
    }
}

impl<T: Table, B: Blobs> Inner<T, B> {
    fn repos(&self) -> Repos<'_, T> {
        Repos::new(self.table.as_ref(), DEFAULT_TTL_SECONDS)
    }

    async fn run(&self, job: Job) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let repos = self.repos();
        let run_id = new_id();
        match job {
            Job::Validate { session, actor } => {
                let run = Run {
                    actor: &actor,
                    id: &run_id,
                    now: system_now(),
                };
                send(validate_session_with(
                    &repos,
                    self.blobs.as_ref(),
                    &self.hub,
                    &session,
                    &Limits::default(),
                    run,
                ))
                .await?;
            }
            Job::Process {
                session,
                actor,
                granularity,
                wording,
            } => {
                let settings = PlanSettings { granularity };
                let run = Run {
                    actor: &actor,
                    id: &run_id,
                    now: system_now(),
                };
                match wording {
                    None => {
                        send(plan_session_with(
                            &repos,
                            self.blobs.as_ref(),
                            &self.hub,
                            &session,
                            &settings,
                            &Limits::default(),
                            run,
                        ))
                        .await?;
                    }
                    Some(choice) => {
                        self.plan_and_word(&repos, &session, &actor, &run_id, &settings, &choice)
                            .await?;
                    }
                }
            }
            Job::Export {
                session,
                actor,
                run,
            } => {
                let site = repos
                    .session(&session, system_now())
                    .await?
                    .and_then(|s| s.value.jira)
                    .map(|j| j.site)
                    .ok_or("the session names no Jira site")?;
                let client = self.jira.client(&actor, &site).await?;
                send(run_export(
                    &repos,
                    &client,
                    &self.hub,
                    &SystemClock,
                    &session,
                    &actor,
                    &run,
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn plan_and_word(
        &self,
        repos: &Repos<'_, T>,
        session: &str,
        actor: &str,
        run_id: &str,
        settings: &PlanSettings,
        choice: &WordingChoice,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let (report, plan) = send(plan_session(
            repos,
            self.blobs.as_ref(),
            session,
            settings,
            &Limits::default(),
            Run {
                actor,
                id: run_id,
                now: system_now(),
            },
        ))
        .await?;
        let mut config = self
            .llm
            .get(&choice.provider)
            .cloned()
            .ok_or("provider not offered")?;
        config.model = Some(choice.model.clone());
        let llm = match config.build() {
            Ok(llm) => llm,
            Err(e) => {
                self.hub
                    .publish(
                        session,
                        &failed(session, choice, plan.tickets.len(), e.to_string()),
                    )
                    .await;
                return Err(e.into());
            }
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<ProgressMessage>();
        let hub = Arc::clone(&self.hub);
        let forward = tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                hub.publish(m.session_id().to_owned().as_str(), &m).await;
            }
        });
        let tickets = plan.tickets.len();
        let progress = |p: Progress| {
            if let Progress::ChunkDone {
                done,
                total,
                cost_so_far,
                ..
            } = p
            {
                let _ = tx.send(ProgressMessage::ProcessingProgress(ProcessingProgress {
                    v: ProtocolVersion,
                    session_id: session.to_owned(),
                    chunks_done: done,
                    chunks_total: total,
                    tickets: tickets * done / total.max(1),
                    cost_usd: cost_so_far.map(usd),
                    provider: choice.provider.clone(),
                    model: choice.model.clone(),
                }));
            }
        };
        let generated = send(dtg_llm::generate(
            &plan,
            &report.items,
            llm,
            &config.generation,
            &progress,
        ))
        .await;
        drop(tx);
        let _ = forward.await;
        let generation = match generated {
            Ok(g) => g,
            Err(e) => {
                self.hub
                    .publish(
                        session,
                        &failed(session, choice, plan.tickets.len(), e.to_string()),
                    )
                    .await;
                return Err(e.into());
            }
        };
        let cost = generation.report.cost.map(usd);
        let mut result = serde_json::to_value(&generation.report)?;
        if let Some(object) = result.as_object_mut() {
            object.insert("cost_usd".to_owned(), serde_json::json!(cost));
        }
        send(save_wording(
            repos,
            session,
            &generation.plan,
            result,
            &generation.report.provider,
            &generation.report.model,
            Run {
                actor,
                id: run_id,
                now: system_now(),
            },
        ))
        .await?;
        let chunks = generation.report.chunks.len();
        self.hub
            .publish(
                session,
                &ProgressMessage::ProcessingComplete(ProcessingComplete {
                    v: ProtocolVersion,
                    session_id: session.to_owned(),
                    status: "completed".to_owned(),
                    chunks_done: chunks,
                    chunks_total: chunks,
                    tickets: generation.plan.tickets.len(),
                    epics: generation.plan.epics.len(),
                    dependencies: generation.plan.dependencies.len(),
                    cost_usd: cost,
                    provider: choice.provider.clone(),
                    model: choice.model.clone(),
                }),
            )
            .await;
        Ok(())
    }
}

#[allow(clippy::cast_precision_loss)]
fn usd(cost: dtg_llm::cost::Cost) -> f64 {
    cost.pico_usd as f64 / 1e12
}

fn failed(
    session: &str,
    choice: &WordingChoice,
    tickets: usize,
    message: String,
) -> ProgressMessage {
    ProgressMessage::ProcessingFailed(ProcessingFailed {
        v: ProtocolVersion,
        session_id: session.to_owned(),
        status: "failed".to_owned(),
        chunks_done: 0,
        chunks_total: 0,
        tickets,
        cost_usd: None,
        provider: choice.provider.clone(),
        model: choice.model.clone(),
        error_category: dtg_app::export::ErrorCategory::Temporary,
        error_message: message,
    })
}

/// Boxes a future as `Send`, where the compiler cannot prove it through
/// the ports' generic futures on its own.
fn send<'a, T>(
    future: impl std::future::Future<Output = T> + Send + 'a,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>> {
    Box::pin(future)
}
