//! Long work in production: validation goes to the upload queue (SQS),
//! processing and export start executions of their state machines (Step
//! Functions). An export execution is named after its run, so asking twice
//! for the same run starts it once.

use std::collections::BTreeSet;

use aws_sdk_sfn::error::ProvideErrorMetadata;
use dtg_app::jobs::{Job, JobError, JobRun, Jobs};

/// Starts jobs on SQS and Step Functions.
#[derive(Debug, Clone)]
pub struct AwsJobs {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    sfn: aws_sdk_sfn::Client,
    processing_machine: String,
    export_machine: String,
    providers: BTreeSet<String>,
}

impl AwsJobs {
    /// Jobs on the queue at `queue_url` and the two machines (ARNs);
    /// `providers` are the model providers the deployment offers.
    #[must_use]
    pub fn new(
        sqs: aws_sdk_sqs::Client,
        queue_url: impl Into<String>,
        sfn: aws_sdk_sfn::Client,
        processing_machine: impl Into<String>,
        export_machine: impl Into<String>,
        providers: BTreeSet<String>,
    ) -> Self {
        Self {
            sqs,
            queue_url: queue_url.into(),
            sfn,
            processing_machine: processing_machine.into(),
            export_machine: export_machine.into(),
            providers,
        }
    }

    async fn start_execution(
        &self,
        machine: &str,
        name: &str,
        input: String,
    ) -> Result<(), JobError> {
        match self
            .sfn
            .start_execution()
            .state_machine_arn(machine)
            .name(name)
            .input(input)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // The same name with the same input: it runs already.
            Err(e) if e.code() == Some("ExecutionAlreadyExists") => Ok(()),
            Err(e) => Err(JobError::Unavailable(describe(&e))),
        }
    }
}

fn describe<E: ProvideErrorMetadata + std::fmt::Display>(e: &E) -> String {
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => e.to_string(),
    }
}

fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

fn json<V: serde::Serialize>(value: &V) -> Result<String, JobError> {
    serde_json::to_string(value).map_err(|e| JobError::Unavailable(e.to_string()))
}

impl Jobs for AwsJobs {
    async fn start(&self, job: Job) -> Result<(), JobError> {
        match job.into_run(|p| self.providers.contains(p), new_id())? {
            JobRun::Validate(run) => {
                self.sqs
                    .send_message()
                    .queue_url(&self.queue_url)
                    .message_body(json(&run)?)
                    .send()
                    .await
                    .map_err(|e| JobError::Unavailable(describe(&e)))?;
                Ok(())
            }
            JobRun::Process(run) => {
                self.start_execution(&self.processing_machine, &run.task_id, json(&run)?)
                    .await
            }
            JobRun::Export(run) => {
                self.start_execution(&self.export_machine, &run.run_id, json(&run)?)
                    .await
            }
        }
    }
}
