//! What the Lambdas of the stack share (`functions/*` are thin `main`s over
//! it): configuration read from the environment once, failing fast with the
//! name of what is missing; the secrets from Secrets Manager; the clients
//! built once per container; and one handler per kind of event.
//!
//! | variable | meaning |
//! |---|---|
//! | `DTG_TABLE`, `DTG_BUCKET` | the DynamoDB table and the S3 bucket (required) |
//! | `DTG_WS_ENDPOINT` | the WebSocket API's management endpoint; unset: no push |
//! | `DTG_SECRETS_ARN` | the secret with `token_key`, `oauth_client_secret`, `llm_api_key` |
//! | `DTG_QUEUE_URL`, `DTG_PROCESSING_MACHINE_ARN`, `DTG_EXPORT_MACHINE_ARN` | where the API starts long work |
//! | `DTG_WEB_ORIGIN`, `DTG_WEBSOCKET_URL`, `DTG_OAUTH_CLIENT_ID`, `DTG_OAUTH_REDIRECT_URI` | the API's sign-in and browser settings |
//! | `DTG_LLM_*` | the model offered (see `dtg_llm::config`); its key comes from the secret |
//! | `DTG_LOG` | the log filter (`info`) |

mod deployment;
pub mod handlers;

pub use deployment::{ConfigError, Deployment, Progress, Secrets, Settings};

/// Logs plain lines to CloudWatch, filtered by `DTG_LOG` (`info`, or
/// targets and levels such as `info,dtg_jira=debug`). A filter that cannot
/// be read leaves `info` and says why in the log.
pub fn init_tracing() {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;

    let info = || Targets::new().with_default(tracing::Level::INFO);
    let (filter, unreadable) = match std::env::var("DTG_LOG") {
        Ok(value) => match value.parse::<Targets>() {
            Ok(filter) => (filter, None),
            Err(e) => (
                info(),
                Some(format!("DTG_LOG is {value:?}: {e}; logging at info")),
            ),
        },
        Err(_) => (info(), None),
    };
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .without_time()
                .with_target(false),
        )
        .with(filter)
        .init();
    if let Some(problem) = unreadable {
        tracing::warn!("{problem}");
    }
}
