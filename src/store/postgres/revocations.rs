//! The revocation signal on PostgreSQL: LISTEN/NOTIFY.
//!
//! The service keeps checked keys in memory while `Store::key_revocations` stays
//! the same (see `service::keys`); on PostgreSQL that saves one round trip on
//! every request. Several groupd instances (and `groupd key revoke`) share the
//! database, so a revocation made anywhere must reach every instance:
//!
//! - revoking sends `NOTIFY groupd_key_revoked` in the revoking transaction, which
//!   PostgreSQL delivers to every listener once that transaction commits;
//! - each store that checks keys keeps one connection of its own that LISTENs
//!   and moves the token on every notification (and on every reconnect, since
//!   notifications sent while it was away are lost);
//! - every second that connection notifies itself on a second channel, and the
//!   token is trusted only while those heartbeats come back (within 3 seconds).
//!   This checks the whole way a notification travels, not just that a query
//!   answers: behind a pooler that breaks LISTEN (transaction pooling) the
//!   heartbeats never arrive, so nothing is cached and every request reads its
//!   key. A connection that dies silently can delay a revocation by at most those
//!   3 seconds; otherwise a revocation reaches other instances as fast as
//!   PostgreSQL delivers the notification (well under a millisecond on one
//!   machine).

use super::tls::Connector;
use futures_util::future::poll_fn;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_postgres::AsyncMessage;

pub(crate) const CHANNEL: &str = "groupd_key_revoked";
const HEARTBEAT_CHANNEL: &str = "groupd_key_heartbeat";
const HEARTBEAT: Duration = Duration::from_secs(1);
const TRUSTED_FOR: Duration = Duration::from_secs(3);
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

pub(crate) struct Revocations {
    state: Arc<State>,
    config: tokio_postgres::Config,
    tls: Connector,
    /// Started by the first `token()`: only a process that checks keys (a
    /// server) needs it, not a command that revokes one and exits.
    listener: OnceLock<JoinHandle<()>>,
}

struct State {
    token: AtomicU64,
    started: Instant,
    /// Milliseconds after `started` when the newest heartbeat that came back was
    /// sent, plus one; 0 while the connection is down.
    heard_at: AtomicU64,
}

impl State {
    fn new() -> State {
        State {
            token: AtomicU64::new(0),
            started: Instant::now(),
            heard_at: AtomicU64::new(0),
        }
    }

    fn bump(&self) {
        self.token.fetch_add(1, Ordering::SeqCst);
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// The statement that sends a heartbeat stamped with the time it is sent.
    fn heartbeat(&self) -> String {
        format!("NOTIFY {HEARTBEAT_CHANNEL}, '{}'", self.now_ms())
    }

    /// A heartbeat sent at `sent_ms` came back. Trust is counted from when it was
    /// sent, so a slow delivery cannot stretch the window.
    fn heard(&self, sent_ms: u64) {
        self.heard_at.fetch_max(sent_ms + 1, Ordering::SeqCst);
    }

    fn lost(&self) {
        self.heard_at.store(0, Ordering::SeqCst);
    }

    fn token(&self) -> Option<u64> {
        let heard = self.heard_at.load(Ordering::SeqCst);
        if heard == 0 {
            return None;
        }
        let now = self.now_ms() + 1;
        if now.saturating_sub(heard) > TRUSTED_FOR.as_millis() as u64 {
            return None;
        }
        Some(self.token.load(Ordering::SeqCst))
    }
}

impl Revocations {
    /// Will listen on a connection of its own made from `config`.
    pub(crate) fn new(config: tokio_postgres::Config, tls: Connector) -> Revocations {
        Revocations {
            state: Arc::new(State::new()),
            config,
            tls,
            listener: OnceLock::new(),
        }
    }

    /// The token; `None` while the listening connection cannot be trusted (and
    /// until it has first been heard, the first call starting it).
    pub(crate) fn token(&self) -> Option<u64> {
        if self.listener.get().is_none() {
            let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                return None;
            };
            self.listener.get_or_init(|| {
                runtime.spawn(listen(
                    self.config.clone(),
                    self.tls.clone(),
                    Arc::clone(&self.state),
                ))
            });
        }
        self.state.token()
    }

    /// For the revoking process itself: its own cache learns at once.
    pub(crate) fn bump(&self) {
        self.state.bump();
    }
}

impl Drop for Revocations {
    fn drop(&mut self) {
        if let Some(listener) = self.listener.get() {
            listener.abort();
        }
    }
}

async fn listen(config: tokio_postgres::Config, tls: Connector, state: Arc<State>) {
    loop {
        match session(&config, tls.clone(), &state).await {
            // Said once when a working connection goes; while the database stays
            // away the attempts to reconnect (one a second) go to the debug log.
            Err(Lost::After(e)) => {
                tracing::warn!(error = %e, "the key revocation listener lost its connection; keys are read on every request until it is back")
            }
            Err(Lost::Before(e)) => {
                tracing::debug!(error = %e, "the key revocation listener cannot connect")
            }
            Ok(never) => match never {},
        }
        state.lost();
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

enum Lost {
    Before(String),
    After(String),
}

/// One listening connection, until it fails (it never ends otherwise).
async fn session(
    config: &tokio_postgres::Config,
    tls: Connector,
    state: &State,
) -> Result<std::convert::Infallible, Lost> {
    let before = |e: tokio_postgres::Error| Lost::Before(e.to_string());
    let (client, mut connection) = config.connect(tls).await.map_err(before)?;
    // `Some(sent at)` for a heartbeat, `None` for a revocation.
    let (tx, mut notified) = tokio::sync::mpsc::unbounded_channel::<Option<u64>>();
    let driver = tokio::spawn(async move {
        while let Some(message) = poll_fn(|cx| connection.poll_message(cx)).await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    let heartbeat = (n.channel() == HEARTBEAT_CHANNEL)
                        .then(|| n.payload().parse::<u64>().unwrap_or(0));
                    if tx.send(heartbeat).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    let _driver = AbortOnDrop(driver);
    client
        .batch_execute(&format!(
            "LISTEN {CHANNEL}; LISTEN {HEARTBEAT_CHANNEL}; {}",
            state.heartbeat()
        ))
        .await
        .map_err(before)?;
    // Whatever was revoked before this point may have gone unheard.
    state.bump();
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.tick().await;
    loop {
        tokio::select! {
            n = notified.recv() => match n {
                Some(Some(sent_ms)) => state.heard(sent_ms),
                Some(None) => state.bump(),
                None => return Err(Lost::After("the connection closed".into())),
            },
            _ = tick.tick() => {
                let beat = state.heartbeat();
                match tokio::time::timeout(HEARTBEAT, client.simple_query(&beat)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Err(Lost::After(e.to_string())),
                    Err(_) => return Err(Lost::After("no answer within a second".into())),
                }
            }
        }
    }
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_token_until_heard_and_after_lost() {
        let state = State::new();
        assert_eq!(state.token(), None, "nothing heard yet");
        state.heard(state.now_ms());
        assert_eq!(state.token(), Some(0));
        state.bump();
        assert_eq!(state.token(), Some(1));
        state.lost();
        assert_eq!(state.token(), None);
        // A heartbeat sent long ago, however late it arrives, is not trusted.
        state.heard(0);
        let state = State {
            started: Instant::now() - TRUSTED_FOR - Duration::from_millis(10),
            ..state
        };
        assert_eq!(state.token(), None);
    }
}
