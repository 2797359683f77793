//! The progress WebSocket behind API Gateway: `$connect` takes the
//! single-use ticket the HTTP API handed out (`POST /api/v1/ws/ticket`),
//! `subscribe` makes the connection follow one of the user's sessions, and
//! `$disconnect` forgets it. The replies are the protocol `dtg serve`
//! speaks on its own WebSocket.

use dtg_app::repo::Repos;
use dtg_app::store::{Table, Timestamp};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::TaskError;

/// Opens a connection when its ticket is good; `false` refuses it.
///
/// # Errors
/// Store failures.
pub async fn connect<T: Table>(
    repos: &Repos<'_, T>,
    connection_id: &str,
    ticket: Option<&str>,
    now: Timestamp,
) -> Result<bool, TaskError> {
    let Some(ticket) = ticket.filter(|t| !t.is_empty()) else {
        return Ok(false);
    };
    let Some(ticket) = repos.take_ws_ticket(ticket, now).await? else {
        return Ok(false);
    };
    repos
        .open_connection(connection_id, &ticket.user, now)
        .await?;
    Ok(true)
}

#[derive(Deserialize)]
struct ClientMessage {
    action: String,
    #[serde(default)]
    session_id: String,
}

/// Answers a client's message: `subscribe` to one of the user's sessions,
/// or `ping`.
///
/// # Errors
/// Store failures.
pub async fn message<T: Table>(
    repos: &Repos<'_, T>,
    connection_id: &str,
    body: &str,
    now: Timestamp,
) -> Result<Value, TaskError> {
    let Some(connection) = repos.connection(connection_id, now).await? else {
        return Ok(json!({
            "type": "error", "v": 1, "code": "not_connected",
            "user_message": "This connection is not signed in: ask POST /api/v1/ws/ticket for a ticket and connect again.",
        }));
    };
    Ok(match serde_json::from_str::<ClientMessage>(body) {
        Ok(m) if m.action == "subscribe" => {
            let owned = repos
                .session(&m.session_id, now)
                .await?
                .is_some_and(|s| s.value.owner == connection.user);
            if owned {
                repos.follow(&connection, &m.session_id, now).await?;
                json!({"type": "subscribed", "v": 1, "session_id": m.session_id})
            } else {
                json!({
                    "type": "error", "v": 1, "code": "session_not_found",
                    "session_id": m.session_id,
                    "user_message": format!("There is no session {}.", m.session_id),
                })
            }
        }
        Ok(m) if m.action == "ping" => json!({"type": "pong", "v": 1}),
        _ => json!({
            "type": "error", "v": 1, "code": "unknown_action",
            "user_message": "Send {\"action\": \"subscribe\", \"session_id\": \"...\"}.",
        }),
    })
}

/// Forgets a connection.
///
/// # Errors
/// Store failures.
pub async fn disconnect<T: Table>(
    repos: &Repos<'_, T>,
    connection_id: &str,
    now: Timestamp,
) -> Result<(), TaskError> {
    repos.disconnect(connection_id, now).await?;
    Ok(())
}
