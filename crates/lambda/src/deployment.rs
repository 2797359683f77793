//! The deployment's configuration and clients.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_config::SdkConfig;
use dtg_api::{ApiConfig, AuthMode, WordingOption};
use dtg_app::progress::{NoPublish, ProgressMessage, Publish};
use dtg_app::repo::TokenCipher;
use dtg_aws::{AwsJobs, ConnectionsPublish, DynamoTable, S3Blobs};
use dtg_core::csv::Limits;
use dtg_jira::{JiraConfig, OAuthApp, OAuthSetup, Secret, SiteAccess};
use dtg_llm::{LlmConfig, Offer};
use dtg_tasks::TaskContext;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// A configuration that cannot work: the function stops at its start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("{0} is not set: the stack sets it (infra/template.yaml)")]
    Missing(&'static str),
    /// The secret cannot be read.
    #[error("the secret {arn} cannot be read: {reason}")]
    Secret {
        /// Its ARN.
        arn: String,
        /// Why.
        reason: String,
    },
    /// A value is wrong.
    #[error("{0}")]
    Invalid(String),
}

/// The environment the stack gives a function.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The table's name.
    pub table: String,
    /// The bucket's name.
    pub bucket: String,
    /// The WebSocket API's management endpoint.
    pub ws_endpoint: Option<String>,
    /// The secret's ARN.
    pub secrets_arn: Option<String>,
    /// The upload queue's URL.
    pub queue_url: Option<String>,
    /// The processing machine's ARN.
    pub processing_machine: Option<String>,
    /// The export machine's ARN.
    pub export_machine: Option<String>,
    /// The web client's origin.
    pub web_origin: Option<String>,
    /// The WebSocket URL browsers connect to.
    pub websocket_url: Option<String>,
    /// The Atlassian OAuth app's client id.
    pub oauth_client_id: Option<String>,
    /// The OAuth callback URL.
    pub oauth_redirect_uri: Option<String>,
    /// Every variable, for the `DTG_LLM_*` settings.
    pub vars: BTreeMap<String, String>,
}

impl Settings {
    /// Reads the settings through `lookup`.
    ///
    /// # Errors
    /// [`ConfigError::Missing`] for `DTG_TABLE` or `DTG_BUCKET`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut vars = BTreeMap::new();
        for name in [
            "DTG_LLM_PROVIDER",
            "DTG_LLM_MODEL",
            "DTG_LLM_MODELS",
            "DTG_LLM_BASE_URL",
            "DTG_LLM_CONCURRENCY",
            "DTG_LLM_TIMEOUT_SECS",
            "DTG_LLM_MAX_ATTEMPTS",
            "DTG_LLM_TEMPERATURE",
            "DTG_LLM_PRICES",
            "DTG_JIRA_SETTLE_SECS",
            "DTG_JIRA_TIMEOUT_SECS",
            "DTG_S3_PATH_STYLE",
        ] {
            if let Some(v) = get(name) {
                vars.insert(name.to_owned(), v);
            }
        }
        if let Some(v) = vars.get("DTG_JIRA_SETTLE_SECS")
            && v.parse::<u64>().is_err()
        {
            return Err(ConfigError::Invalid(format!(
                "DTG_JIRA_SETTLE_SECS is {v:?}: give whole seconds (60 by default)"
            )));
        }
        Ok(Self {
            table: get("DTG_TABLE").ok_or(ConfigError::Missing("DTG_TABLE"))?,
            bucket: get("DTG_BUCKET").ok_or(ConfigError::Missing("DTG_BUCKET"))?,
            ws_endpoint: get("DTG_WS_ENDPOINT"),
            secrets_arn: get("DTG_SECRETS_ARN"),
            queue_url: get("DTG_QUEUE_URL"),
            processing_machine: get("DTG_PROCESSING_MACHINE_ARN"),
            export_machine: get("DTG_EXPORT_MACHINE_ARN"),
            web_origin: get("DTG_WEB_ORIGIN"),
            websocket_url: get("DTG_WEBSOCKET_URL"),
            oauth_client_id: get("DTG_OAUTH_CLIENT_ID"),
            oauth_redirect_uri: get("DTG_OAUTH_REDIRECT_URI"),
            vars,
        })
    }

    /// Reads the settings from the process environment.
    ///
    /// # Errors
    /// As [`Settings::from_lookup`].
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// The secret's fields.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Secrets {
    /// Seals users' Jira tokens.
    #[serde(default)]
    pub token_key: String,
    /// The Atlassian OAuth app's secret.
    #[serde(default)]
    pub oauth_client_secret: String,
    /// The model provider's key.
    #[serde(default)]
    pub llm_api_key: String,
}

impl Secrets {
    /// The token cipher: its key is the SHA-256 of `token_key` (any string
    /// Secrets Manager generates makes a 256-bit key).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] when `token_key` is empty.
    pub fn cipher(&self) -> Result<TokenCipher, ConfigError> {
        if self.token_key.trim().is_empty() {
            return Err(ConfigError::Invalid(
                "the secret has no token_key: it seals users' Jira tokens".to_owned(),
            ));
        }
        let key = hex::encode(Sha256::digest(self.token_key.as_bytes()));
        TokenCipher::from_hex(&key).map_err(|e| ConfigError::Invalid(e.to_string()))
    }

    /// Reads the secret `arn`.
    ///
    /// # Errors
    /// [`ConfigError::Secret`] when it cannot be read or is not JSON.
    pub async fn fetch(sdk: &SdkConfig, arn: &str) -> Result<Self, ConfigError> {
        let failed = |reason: String| ConfigError::Secret {
            arn: arn.to_owned(),
            reason,
        };
        let answer = aws_sdk_secretsmanager::Client::new(sdk)
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|e| {
                failed(aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string())
            })?;
        let text = answer
            .secret_string()
            .ok_or_else(|| failed("it holds no string".to_owned()))?;
        serde_json::from_str(text).map_err(|e| failed(format!("it is not the expected JSON: {e}")))
    }
}

/// Where progress goes: the WebSocket connections, or nowhere when the
/// function has no WebSocket endpoint.
#[derive(Debug)]
pub enum Progress {
    /// Through API Gateway's Management API.
    Connections(ConnectionsPublish<DynamoTable>),
    /// Nowhere (clients poll).
    Off(NoPublish),
}

impl Publish for Progress {
    async fn publish(&self, session: &str, message: &ProgressMessage) {
        match self {
            Self::Connections(p) => p.publish(session, message).await,
            Self::Off(p) => p.publish(session, message).await,
        }
    }
}

/// The clients of one function, built once.
#[derive(Debug)]
pub struct Deployment {
    /// The settings.
    pub settings: Settings,
    /// The SDK configuration.
    pub sdk: SdkConfig,
    /// What the tasks work with.
    pub tasks: TaskContext<DynamoTable, S3Blobs, Progress, SiteAccess<DynamoTable>>,
    /// The token cipher.
    pub cipher: TokenCipher,
    /// The Atlassian OAuth app, when set up.
    pub oauth: Option<OAuthSetup>,
    /// The models offered.
    pub offers: Vec<Offer>,
}

impl Deployment {
    /// Builds the clients from `settings` and the secret it names.
    ///
    /// # Errors
    /// The secret cannot be read; a setting is wrong.
    pub async fn new(settings: Settings, sdk: SdkConfig) -> Result<Self, ConfigError> {
        let secrets = match &settings.secrets_arn {
            Some(arn) => Secrets::fetch(&sdk, arn).await?,
            None => Secrets::default(),
        };
        Self::with_secrets(settings, sdk, &secrets)
    }

    /// Builds the clients from `settings` and `secrets`.
    ///
    /// # Errors
    /// A setting is wrong.
    pub fn with_secrets(
        settings: Settings,
        sdk: SdkConfig,
        secrets: &Secrets,
    ) -> Result<Self, ConfigError> {
        let table = Arc::new(DynamoTable::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            &settings.table,
        ));
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(settings.vars.contains_key("DTG_S3_PATH_STYLE"))
                .build(),
        );
        let blobs = Arc::new(S3Blobs::new(s3, &settings.bucket));
        let publish = Arc::new(match &settings.ws_endpoint {
            Some(endpoint) => {
                let config = aws_sdk_apigatewaymanagement::config::Builder::from(&sdk)
                    .endpoint_url(endpoint)
                    .build();
                Progress::Connections(ConnectionsPublish::new(
                    aws_sdk_apigatewaymanagement::Client::from_conf(config),
                    Arc::clone(&table),
                ))
            }
            None => Progress::Off(NoPublish),
        });
        // A function without the secret (ws-*, upload-validate) never opens tokens.
        let cipher = if secrets.token_key.is_empty() {
            Secrets {
                token_key: "unused: this function reads no Jira tokens".to_owned(),
                ..Secrets::default()
            }
            .cipher()?
        } else {
            secrets.cipher()?
        };
        let oauth = match (
            &settings.oauth_client_id,
            secrets.oauth_client_secret.trim(),
        ) {
            (Some(id), secret) if !secret.is_empty() => Some(OAuthSetup {
                app: OAuthApp {
                    client_id: id.clone(),
                    client_secret: Secret::new(secret),
                },
                redirect_uri: settings.oauth_redirect_uri.clone().unwrap_or_default(),
            }),
            _ => None,
        };
        let timeout = match settings.vars.get("DTG_JIRA_TIMEOUT_SECS") {
            Some(v) => Some(
                v.parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0 && *s <= 600.0)
                    .map(std::time::Duration::from_secs_f64)
                    .ok_or_else(|| {
                        ConfigError::Invalid(format!(
                            "DTG_JIRA_TIMEOUT_SECS is {v:?}: give the seconds a Jira request may take (more than 0, at most 600)"
                        ))
                    })?,
            ),
            None => None,
        };
        let jira = Arc::new(
            SiteAccess::new(
                Arc::clone(&table),
                cipher.clone(),
                move |site: &str| {
                    let mut config = JiraConfig::new(site);
                    if let Some(t) = timeout {
                        config.request_timeout = t;
                    }
                    config
                },
                oauth.clone(),
            )
            .map_err(|e| ConfigError::Invalid(e.to_string()))?,
        );
        let vars = settings.vars.clone();
        let key = secrets.llm_api_key.clone();
        let lookup = move |name: &str| match name {
            "DTG_LLM_API_KEY" => Some(key.clone()).filter(|k| !k.is_empty()),
            other => vars.get(other).cloned(),
        };
        let offers: Vec<Offer> = dtg_llm::offer_from_lookup(lookup)
            .map_err(|e| ConfigError::Invalid(e.to_string()))?
            .into_iter()
            .collect();
        let llm: BTreeMap<String, LlmConfig> = offers
            .iter()
            .map(|o| (o.provider.clone(), o.config.clone()))
            .collect();
        Ok(Self {
            tasks: TaskContext {
                table,
                blobs,
                publish,
                jira,
                llm,
                limits: Limits::default(),
                plans: dtg_app::export::PlanCache::default(),
            },
            settings,
            sdk,
            cipher,
            oauth,
            offers,
        })
    }

    /// Builds the clients from the process environment.
    ///
    /// # Errors
    /// As [`Deployment::new`] and [`Settings::from_env`].
    pub async fn from_env() -> Result<Self, ConfigError> {
        let settings = Settings::from_env()?;
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(dtg_aws::https_client())
            .load()
            .await;
        Self::new(settings, sdk).await
    }

    /// The jobs the API starts: validation on the queue, processing and
    /// export on their machines.
    ///
    /// # Errors
    /// [`ConfigError::Missing`] for the queue or a machine.
    pub fn jobs(&self) -> Result<AwsJobs, ConfigError> {
        let s = &self.settings;
        Ok(AwsJobs::new(
            aws_sdk_sqs::Client::new(&self.sdk),
            s.queue_url
                .clone()
                .ok_or(ConfigError::Missing("DTG_QUEUE_URL"))?,
            aws_sdk_sfn::Client::new(&self.sdk),
            s.processing_machine
                .clone()
                .ok_or(ConfigError::Missing("DTG_PROCESSING_MACHINE_ARN"))?,
            s.export_machine
                .clone()
                .ok_or(ConfigError::Missing("DTG_EXPORT_MACHINE_ARN"))?,
            self.offers
                .iter()
                .map(|o| o.provider.clone())
                .collect::<BTreeSet<_>>(),
        ))
    }

    /// The HTTP API's settings: Atlassian sign-in (and the API-token form),
    /// secure cookies, the web origin, the WebSocket URL, the models offered.
    #[must_use]
    pub fn api_config(&self) -> ApiConfig {
        let mut config = ApiConfig::new(AuthMode::Accounts { token_form: true });
        config.secure_cookies = true;
        if let Some(secs) = self
            .settings
            .vars
            .get("DTG_JIRA_SETTLE_SECS")
            .and_then(|v| v.parse().ok())
        {
            config.settle_secs = secs;
        }
        config.web_origin.clone_from(&self.settings.web_origin);
        config
            .websocket_url
            .clone_from(&self.settings.websocket_url);
        config.wording = self
            .offers
            .iter()
            .map(|o| WordingOption {
                provider: o.provider.clone(),
                models: o.models.clone(),
                default_model: o.default_model.clone(),
            })
            .collect();
        config
    }
}
