//! Progress over a WebSocket, with the protocol API Gateway's WebSocket
//! has in production:
//!
//! 1. `POST /api/v1/ws/ticket` (signed in) hands out a ticket good once for
//!    60 seconds (browsers cannot set headers on a WebSocket).
//! 2. The client connects to `/api/v1/ws?ticket=...` (under `dtg serve`) or
//!    to the API Gateway URL with the same query.
//! 3. It sends `{"action": "subscribe", "session_id": "..."}` for each session
//!    it follows; the answer is `{"type": "subscribed", ...}`, or
//!    `{"type": "error", "code": "session_not_found", ...}` for a session that
//!    is not the user's (as every route answers 404 for it).
//! 4. The session's `*_progress`, `*_complete` and `*_failed` messages follow.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use dtg_app::repo::{WS_TICKET_TTL_SECONDS, WsTicket};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc;
use utoipa::ToSchema;

use crate::auth::{Caller, random_token};
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use crate::{Api, Backend};

/// A ticket to open a WebSocket.
#[derive(Debug, Serialize, ToSchema)]
pub struct WsTicketView {
    /// The ticket: pass it as `?ticket=` when connecting.
    pub ticket: String,
    /// Seconds it is good for.
    pub expires_in: i64,
    /// Where to connect.
    pub url: String,
}

/// Hands out a single-use ticket to open the progress WebSocket.
#[utoipa::path(post, path = "/api/v1/ws/ticket", tag = "progress",
    responses((status = 200, description = "A ticket", body = WsTicketView)))]
pub async fn ticket<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<WsTicketView>> {
    let ticket = random_token(24);
    let now = api.backend.now();
    api.repos()
        .save_ws_ticket(
            &ticket,
            &WsTicket {
                user: caller.user.clone(),
                expires_at: now + WS_TICKET_TTL_SECONDS,
            },
            now,
        )
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(WsTicketView {
        ticket,
        expires_in: WS_TICKET_TTL_SECONDS,
        url: api
            .config
            .websocket_url
            .clone()
            .unwrap_or_else(|| "/api/v1/ws".to_owned()),
    }))
}

/// The query of a WebSocket connection.
#[derive(Debug, Deserialize)]
pub struct Connect {
    /// The ticket from `POST /api/v1/ws/ticket`.
    #[serde(default)]
    pub ticket: String,
}

/// What a client sends.
#[derive(Debug, Deserialize)]
struct ClientMessage {
    action: String,
    #[serde(default)]
    session_id: String,
}

/// Opens the progress WebSocket (under `dtg serve`).
pub async fn connect<B: Backend>(
    State(api): State<Arc<Api<B>>>,
    QueryParams(query): QueryParams<Connect>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if api.backend.listen("").is_none() {
        return ApiError::not_found(
            "websocket_elsewhere",
            "Progress is served by the WebSocket endpoint of the deployment, not here.",
        )
        .into_response();
    }
    let user = match api
        .repos()
        .take_ws_ticket(&query.ticket, api.backend.now())
        .await
    {
        Ok(Some(t)) => t.user,
        Ok(None) => {
            return ApiError::unauthenticated()
                .action("Ask POST /api/v1/ws/ticket for a new ticket and connect within a minute")
                .into_response();
        }
        Err(e) => return ApiError::internal(e).into_response(),
    };
    upgrade
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| follow(api, user, socket))
}

async fn follow<B: Backend>(api: Arc<Api<B>>, user: String, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::channel::<String>(256);
    // One writer: subscriptions forward into `tx`.
    let writer = tokio::spawn(async move {
        use futures_util::SinkExt as _;
        while let Some(text) = rx.recv().await {
            if sink.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
    });
    let mut followed = BTreeSet::new();
    let mut forwarders = Vec::new();
    while let Some(Ok(message)) = stream.next().await {
        let text = match message {
            Message::Text(t) => t.to_string(),
            Message::Close(_) => break,
            _ => continue,
        };
        let reply = match serde_json::from_str::<ClientMessage>(&text) {
            Ok(m) if m.action == "subscribe" => {
                let owned = api
                    .repos()
                    .session(&m.session_id, api.backend.now())
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|s| s.value.owner == user);
                match (owned, api.backend.listen(&m.session_id)) {
                    (true, Some(mut receiver)) => {
                        if followed.insert(m.session_id.clone()) {
                            let tx = tx.clone();
                            forwarders.push(tokio::spawn(async move {
                                loop {
                                    match receiver.recv().await {
                                        Ok(message) => {
                                            if tx.send(message.to_string()).await.is_err() {
                                                break;
                                            }
                                        }
                                        Err(tokio::sync::broadcast::error::RecvError::Lagged(
                                            _,
                                        )) => {}
                                        Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                                            break;
                                        }
                                    }
                                }
                            }));
                        }
                        json!({"type": "subscribed", "v": 1, "session_id": m.session_id})
                    }
                    _ => json!({
                        "type": "error", "v": 1, "code": "session_not_found",
                        "session_id": m.session_id,
                        "user_message": format!("There is no session {}.", m.session_id),
                    }),
                }
            }
            Ok(m) if m.action == "ping" => json!({"type": "pong", "v": 1}),
            _ => json!({
                "type": "error", "v": 1, "code": "unknown_action",
                "user_message": "Send {\"action\": \"subscribe\", \"session_id\": \"...\"}.",
            }),
        };
        if tx.send(reply.to_string()).await.is_err() {
            break;
        }
    }
    for f in forwarders {
        f.abort();
    }
    drop(tx);
    let _ = writer.await;
}
