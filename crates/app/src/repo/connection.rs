//! WebSocket connections listening to a session's progress. Each is stored
//! twice in one transaction: under its own key (to find its session when it
//! disconnects) and under the session (to find every listener when progress
//! is published). The session-side copy is read consistently, which a
//! secondary index would not be, so a client that just connected hears the
//! next message.

use serde::{Deserialize, Serialize};

use super::{Repos, Result, item};
use crate::store::{Condition, Table, Timestamp, TransactOp, keys};

/// A connection lives at most this long (API Gateway closes WebSockets after two hours).
pub const CONNECTION_TTL_SECONDS: i64 = 2 * 60 * 60;

/// A WebSocket connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// API Gateway's connection id.
    pub id: String,
    /// The session it listens to.
    pub session: String,
    /// The user who opened it.
    pub user: String,
    /// When it connected.
    pub connected_at: Timestamp,
}

impl<T: Table> Repos<'_, T> {
    /// Records a connection listening to a session.
    ///
    /// # Errors
    /// Store failures.
    pub async fn connect(&self, connection: &Connection, now: Timestamp) -> Result<()> {
        let expires = Some(connection.connected_at + CONNECTION_TTL_SECONDS);
        let (own, _) = item(
            &keys::connection(&connection.id),
            keys::META,
            connection,
            None,
            expires,
        )?;
        let (listener, _) = item(
            &keys::session(&connection.session),
            &keys::connection(&connection.id),
            connection,
            None,
            expires,
        )?;
        self.table
            .transact(
                vec![
                    TransactOp::Put(own, Condition::None),
                    TransactOp::Put(listener, Condition::None),
                ],
                now,
            )
            .await?;
        Ok(())
    }

    /// Forgets a connection (absent is fine: API Gateway may report a disconnect twice).
    ///
    /// # Errors
    /// Store failures.
    pub async fn disconnect(&self, id: &str, now: Timestamp) -> Result<()> {
        let Some(connection) = self
            .load::<Connection>(&keys::connection(id), keys::META, now)
            .await?
        else {
            return Ok(());
        };
        self.table
            .transact(
                vec![
                    TransactOp::Delete {
                        pk: keys::session(&connection.value.session),
                        sk: keys::connection(id),
                        condition: Condition::None,
                    },
                    TransactOp::Delete {
                        pk: keys::connection(id),
                        sk: keys::META.to_owned(),
                        condition: Condition::None,
                    },
                ],
                now,
            )
            .await?;
        Ok(())
    }

    /// Records a connection that signed in but follows no session yet
    /// (API Gateway's `$connect`).
    ///
    /// # Errors
    /// Store failures.
    pub async fn open_connection(&self, id: &str, user: &str, now: Timestamp) -> Result<()> {
        let connection = Connection {
            id: id.to_owned(),
            session: String::new(),
            user: user.to_owned(),
            connected_at: now,
        };
        let (own, _) = item(
            &keys::connection(id),
            keys::META,
            &connection,
            None,
            Some(now + CONNECTION_TTL_SECONDS),
        )?;
        self.table.put(own, Condition::None, now).await?;
        Ok(())
    }

    /// A connection, if it is open.
    ///
    /// # Errors
    /// Store failures.
    pub async fn connection(&self, id: &str, now: Timestamp) -> Result<Option<Connection>> {
        Ok(self
            .load::<Connection>(&keys::connection(id), keys::META, now)
            .await?
            .map(|c| c.value))
    }

    /// Makes an open connection follow `session` (instead of the one it
    /// followed, if any).
    ///
    /// # Errors
    /// Store failures.
    pub async fn follow(
        &self,
        connection: &Connection,
        session: &str,
        now: Timestamp,
    ) -> Result<()> {
        if !connection.session.is_empty() && connection.session != session {
            self.table
                .delete(
                    &keys::session(&connection.session),
                    &keys::connection(&connection.id),
                    Condition::None,
                    now,
                )
                .await?;
        }
        let following = Connection {
            session: session.to_owned(),
            ..connection.clone()
        };
        self.connect(&following, now).await
    }

    /// The live connections listening to a session.
    ///
    /// # Errors
    /// Store failures.
    pub async fn connections(&self, session: &str, now: Timestamp) -> Result<Vec<Connection>> {
        Ok(self
            .load_all(&keys::session(session), keys::prefix::CONNECTIONS, now)
            .await?
            .into_iter()
            .map(|c| c.value)
            .collect())
    }
}
