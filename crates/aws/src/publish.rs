//! Progress to the browsers: each message goes to every WebSocket
//! connection that follows the session, through API Gateway's Management
//! API (`PostToConnection`). A connection API Gateway says is gone is
//! forgotten. Best effort, as the port says: a failure is logged and the
//! clients catch up by polling the REST status.

use aws_sdk_apigatewaymanagement::error::ProvideErrorMetadata;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use dtg_app::progress::{ProgressMessage, Publish};
use dtg_app::repo::{DEFAULT_TTL_SECONDS, Repos};
use dtg_app::store::{Table, Timestamp};

/// Publishes to a session's WebSocket connections.
#[derive(Debug)]
pub struct ConnectionsPublish<T: Table> {
    client: aws_sdk_apigatewaymanagement::Client,
    table: std::sync::Arc<T>,
}

impl<T: Table> ConnectionsPublish<T> {
    /// Publishes through `client` (its endpoint is the WebSocket API's
    /// stage URL, `https://{api}.execute-api.{region}.amazonaws.com/{stage}`)
    /// to the connections recorded in `table`.
    #[must_use]
    pub fn new(client: aws_sdk_apigatewaymanagement::Client, table: std::sync::Arc<T>) -> Self {
        Self { client, table }
    }
}

fn now() -> Timestamp {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl<T: Table> Publish for ConnectionsPublish<T> {
    async fn publish(&self, session: &str, message: &ProgressMessage) {
        let repos = Repos::new(self.table.as_ref(), DEFAULT_TTL_SECONDS);
        let connections = match repos.connections(session, now()).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(session, error = %e, "the session's connections could not be read");
                return;
            }
        };
        if connections.is_empty() {
            return;
        }
        let body = message.to_json();
        for connection in connections {
            let sent = self
                .client
                .post_to_connection()
                .connection_id(&connection.id)
                .data(Blob::new(body.clone().into_bytes()))
                .send()
                .await;
            match sent {
                Ok(_) => {}
                Err(e) if e.code() == Some("GoneException") => {
                    if let Err(e) = repos.disconnect(&connection.id, now()).await {
                        tracing::warn!(connection = %connection.id, error = %e, "a gone connection was not forgotten");
                    }
                }
                Err(e) => {
                    tracing::warn!(
                        session,
                        connection = %connection.id,
                        error = %e.message().unwrap_or("unknown"),
                        "a progress message was not delivered"
                    );
                }
            }
        }
    }
}
