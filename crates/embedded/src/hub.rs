//! The in-process progress hub of `dtg serve`: the [`Publish`] port over
//! one tokio broadcast channel per session, which the WebSocket endpoint
//! subscribes to.
//!
//! - A message is serialised once and shared ([`Arc<str>`]) by every
//!   listener of its session.
//! - A session's channel exists only while someone listens: publishing to
//!   a session nobody listens to drops the message and forgets the channel,
//!   so memory does not grow with the number of sessions ever seen.
//! - Each channel keeps the last [`CAPACITY`] messages for its slowest
//!   listener. A listener that falls further behind loses the oldest ones
//!   (its next `recv` answers `RecvError::Lagged(n)` and then goes on with
//!   the oldest message still kept); publishing never waits for it. A
//!   client that lagged can poll the REST status, which gives the same facts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use dtg_app::progress::{ProgressMessage, Publish};
use tokio::sync::broadcast;

/// Messages a session's channel keeps for its slowest listener.
pub const CAPACITY: usize = 256;

/// Per-session broadcast channels of serialised progress messages.
#[derive(Debug, Default)]
pub struct Hub {
    channels: Mutex<HashMap<String, broadcast::Sender<Arc<str>>>>,
}

impl Hub {
    /// An empty hub.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn channels(&self) -> std::sync::MutexGuard<'_, HashMap<String, broadcast::Sender<Arc<str>>>> {
        // The map stays consistent whatever a panicking holder was doing:
        // every change is one insert or one remove.
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Listens to `session`'s messages from now on (JSON text, one message
    /// each). Dropping the receiver stops listening.
    #[must_use]
    pub fn subscribe(&self, session: &str) -> broadcast::Receiver<Arc<str>> {
        let mut channels = self.channels();
        if let Some(sender) = channels.get(session) {
            return sender.subscribe();
        }
        let (sender, receiver) = broadcast::channel(CAPACITY);
        channels.insert(session.to_owned(), sender);
        receiver
    }

    /// How many listen to `session` now.
    #[must_use]
    pub fn subscribers(&self, session: &str) -> usize {
        self.channels()
            .get(session)
            .map_or(0, broadcast::Sender::receiver_count)
    }

    /// Sessions with a channel (someone listened since the last message
    /// found nobody).
    #[must_use]
    pub fn sessions(&self) -> usize {
        self.channels().len()
    }

    /// Sends `json` to `session`'s listeners; returns how many got it. A
    /// channel nobody listens to any more is dropped.
    pub fn send(&self, session: &str, json: Arc<str>) -> usize {
        let Some(sender) = self.listened(session) else {
            return 0;
        };
        match sender.send(json) {
            Ok(listeners) => listeners,
            Err(_) => {
                self.forget_if_unheard(session);
                0
            }
        }
    }

    /// The sender of `session`'s channel while someone listens to it; a
    /// channel nobody listens to any more is dropped.
    fn listened(&self, session: &str) -> Option<broadcast::Sender<Arc<str>>> {
        let mut channels = self.channels();
        let sender = channels.get(session)?;
        if sender.receiver_count() == 0 {
            channels.remove(session);
            return None;
        }
        Some(sender.clone())
    }

    fn forget_if_unheard(&self, session: &str) {
        let mut channels = self.channels();
        if channels
            .get(session)
            .is_some_and(|s| s.receiver_count() == 0)
        {
            channels.remove(session);
        }
    }

    /// Drops the channels nobody listens to any more (those of sessions
    /// no message was sent to since their last listener left).
    pub fn prune(&self) {
        self.channels().retain(|_, s| s.receiver_count() > 0);
    }
}

impl Publish for Hub {
    async fn publish(&self, session: &str, message: &ProgressMessage) {
        // Serialised only when someone listens, once for all of them.
        if let Some(sender) = self.listened(session)
            && sender.send(Arc::from(message.to_json())).is_err()
        {
            self.forget_if_unheard(session);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use dtg_app::progress::{ExportFailed, ProtocolVersion};
    use tokio::sync::broadcast::error::{RecvError, TryRecvError};

    fn message(session: &str, n: usize) -> ProgressMessage {
        ProgressMessage::ExportFailed(ExportFailed {
            v: ProtocolVersion,
            session_id: session.to_owned(),
            status: "failed".to_owned(),
            failed_at_ticket: Some(n),
            error_category: dtg_app::export::ErrorCategory::Temporary,
            retry_available: true,
            error_message: format!("message {n}"),
        })
    }

    #[tokio::test]
    async fn every_listener_of_a_session_gets_its_messages_and_no_other() {
        let hub = Hub::new();
        let mut a = hub.subscribe("s1");
        let mut b = hub.subscribe("s1");
        let mut other = hub.subscribe("s2");
        assert_eq!(hub.subscribers("s1"), 2);
        assert_eq!(hub.subscribers("s2"), 1);
        assert_eq!(hub.subscribers("s3"), 0);

        hub.publish("s1", &message("s1", 1)).await;
        let got_a = a.recv().await.unwrap();
        let got_b = b.recv().await.unwrap();
        assert!(Arc::ptr_eq(&got_a, &got_b), "serialised once, shared");
        let back: ProgressMessage = serde_json::from_str(&got_a).unwrap();
        assert_eq!(back, message("s1", 1));
        assert!(matches!(other.try_recv(), Err(TryRecvError::Empty)));
    }

    #[tokio::test]
    async fn channels_nobody_listens_to_are_dropped() {
        let hub = Hub::new();
        hub.publish("nobody", &message("nobody", 1)).await;
        assert_eq!(
            hub.sessions(),
            0,
            "no channel for a session nobody listens to"
        );

        let listener = hub.subscribe("s1");
        assert_eq!(hub.sessions(), 1);
        drop(listener);
        assert_eq!(hub.subscribers("s1"), 0);
        hub.publish("s1", &message("s1", 1)).await;
        assert_eq!(
            hub.sessions(),
            0,
            "the last listener gone, the channel goes"
        );

        for n in 0..100 {
            drop(hub.subscribe(&format!("s{n}")));
        }
        assert_eq!(hub.sessions(), 100);
        hub.prune();
        assert_eq!(hub.sessions(), 0);
    }

    #[tokio::test]
    async fn a_slow_listener_loses_the_oldest_messages_and_goes_on() {
        let hub = Hub::new();
        let mut slow = hub.subscribe("s1");
        let extra = 10;
        for n in 0..CAPACITY + extra {
            hub.publish("s1", &message("s1", n)).await;
        }
        match slow.recv().await {
            Err(RecvError::Lagged(missed)) => assert_eq!(missed, extra as u64),
            other => panic!("expected a lag, got {other:?}"),
        }
        let next: ProgressMessage = serde_json::from_str(&slow.recv().await.unwrap()).unwrap();
        assert_eq!(next, message("s1", extra), "the oldest message kept");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn listeners_on_other_tasks_get_messages_in_order() {
        let hub = Arc::new(Hub::new());
        let mut listener = hub.subscribe("s1");
        let publisher = {
            let hub = Arc::clone(&hub);
            tokio::spawn(async move {
                for n in 0..50 {
                    hub.publish("s1", &message("s1", n)).await;
                }
            })
        };
        for n in 0..50 {
            let got: ProgressMessage =
                serde_json::from_str(&listener.recv().await.unwrap()).unwrap();
            assert_eq!(got, message("s1", n));
        }
        publisher.await.unwrap();
    }
}
