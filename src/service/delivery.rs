//! The webhook sender: leases due deliveries from the store, POSTs each signed
//! (Standard Webhooks), and records what happened. Any number of instances may
//! run it against one database: a lease is held by one sender at a time, runs out
//! if its instance dies, and is then taken over. Nothing is lost: a delivery stays
//! pending in the store until an endpoint answered 2xx or its retries ran out.

use super::icons::{GuardedResolver, check_literal_host};
use super::webhook_signing::signature_header;
use super::{Service, now_ms};
use crate::domain::event::rfc3339_ms;
use crate::domain::webhook::{Attempt, Outcome, RetryPolicy, parse_retry_after};
use crate::store::{AttemptRecord, DueDelivery, Store};
use rand::Rng;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};

/// A lease lasts this many attempt timeouts (and 5 s): long enough for the
/// attempts leased together to wait their turn (see [`Sender::room`]).
const LEASE_ROUNDS: u32 = 4;

/// Most deliveries leased at once. A lease, and a batch of answers recorded, are
/// one database write however many they hold, and under load the sender is one
/// writer among many (every connection creating groups is another): the more
/// each of its writes carries, the better it keeps up.
const MAX_LEASE: usize = 1024;

/// How long the sender waits after a wake-up before it leases.
const GATHER: Duration = Duration::from_millis(10);

/// Most of an endpoint's answer read (and thrown away).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// How deliveries are sent.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Allow loopback, private and link-local targets (tests, closed networks).
    pub allow_private: bool,
    /// Whole-attempt time limit: connect, send, answer.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// How often to look for due deliveries when nothing woke the sender (other
    /// instances' changes, retries coming due).
    pub poll: Duration,
    /// Most attempts in flight at once.
    pub concurrency: usize,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            allow_private: false,
            timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            poll: Duration::from_secs(1),
            concurrency: 16,
        }
    }
}

impl DeliverySettings {
    /// A lease outlasts the attempts made under it (at most `LEASE_ROUNDS` in a
    /// row per slot, each cut off at `timeout`), so an instance that stays up
    /// never sends a delivery twice; a dead instance's leases are taken over this
    /// long after it leased them (45 s by default).
    pub fn lease(&self) -> Duration {
        self.timeout * LEASE_ROUNDS + Duration::from_secs(5)
    }
}

/// Wakes the sender when a change may have queued deliveries. Cheap to clone.
#[derive(Clone, Default)]
pub struct Deliveries {
    wake: Arc<Notify>,
}

impl Deliveries {
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

impl Service {
    /// Starts the sender; it runs for as long as the runtime does.
    pub fn spawn_deliverer(
        &self,
        settings: DeliverySettings,
    ) -> Result<tokio::task::JoinHandle<()>, String> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: settings.allow_private,
            }))
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            .timeout(settings.timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("groupd/", env!("CARGO_PKG_VERSION"), " (webhooks)"))
            .build()
            .map_err(|e| format!("cannot build the webhook HTTP client: {e}"))?;
        let slots = settings.concurrency.max(1);
        let (done, finished) = tokio::sync::mpsc::channel(MAX_LEASE);
        tokio::spawn(record_attempts(self.store.clone(), finished));
        let sender = Sender {
            store: self.store.clone(),
            client,
            slots: Arc::new(Semaphore::new(slots)),
            pace_us: Arc::new(AtomicU64::new(
                u64::try_from(settings.timeout.as_micros()).unwrap_or(u64::MAX),
            )),
            settings: Arc::new(settings),
            done,
        };
        let wake = self.deliveries.wake.clone();
        Ok(tokio::spawn(async move { sender.run(&wake).await }))
    }
}

#[derive(Clone)]
struct Sender {
    store: Arc<dyn Store>,
    client: reqwest::Client,
    slots: Arc<Semaphore>,
    settings: Arc<DeliverySettings>,
    /// Finished attempts, to [`record_attempts`].
    done: tokio::sync::mpsc::Sender<AttemptRecord>,
    /// How long an attempt has recently taken, in microseconds (moving average;
    /// it starts at the timeout, so a first lease is one round).
    pace_us: Arc<AtomicU64>,
}

/// Most attempts recorded in one store call.
const RECORD_BATCH: usize = MAX_LEASE;

/// Records finished attempts in batches: whatever finished while the last batch
/// was being written goes in the next, so under load one transaction records
/// many attempts. A batch that cannot be written is logged; its leases run out
/// and those deliveries are sent again (at least once).
async fn record_attempts(
    store: Arc<dyn Store>,
    mut finished: tokio::sync::mpsc::Receiver<AttemptRecord>,
) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while finished.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        let records = std::mem::take(&mut batch);
        let n = records.len();
        match store.finish_attempts(records).await {
            Ok(held) => {
                let lost = held.iter().filter(|h| !**h).count();
                if lost > 0 {
                    tracing::warn!(
                        lost,
                        "webhook deliveries' leases ran out before their attempts were \
                         recorded; they will be sent again"
                    );
                }
            }
            Err(e) => tracing::warn!(attempts = n, error = %e,
                "webhook attempts could not be recorded; they will be sent again"),
        }
    }
}

impl Sender {
    async fn run(self, wake: &Notify) {
        loop {
            // Lease when a slot is free, as many as can be sent in time.
            let Ok(first) = self.slots.clone().acquire_owned().await else {
                return;
            };
            let room = self.room();
            let now = now_ms();
            let lease = i64::try_from(self.settings.lease().as_millis()).unwrap_or(60_000);
            let token: i64 = rand::rng().random_range(1..i64::MAX);
            let due = match self
                .store
                .lease_deliveries(now, now + lease, token, room as u32)
                .await
            {
                Ok(due) => due,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook deliveries could not be leased");
                    drop(first);
                    tokio::time::sleep(self.settings.poll).await;
                    continue;
                }
            };
            if due.is_empty() {
                drop(first);
                tokio::select! {
                    _ = wake.notified() => {
                        // Every change wakes the sender. Let the changes of the
                        // next few milliseconds gather, so that under load one
                        // lease takes many deliveries rather than one each.
                        tokio::time::sleep(GATHER).await;
                    }
                    _ = tokio::time::sleep(self.settings.poll) => {}
                }
                continue;
            }
            let mut permit = Some(first);
            for d in due {
                let slot = match permit.take() {
                    Some(p) => p,
                    None => match self.slots.clone().acquire_owned().await {
                        Ok(p) => p,
                        Err(_) => return,
                    },
                };
                let sender = self.clone();
                tokio::spawn(async move {
                    let _slot = slot;
                    sender.deliver(d, token).await;
                });
            }
        }
    }

    /// How many deliveries to lease: as many as `concurrency` slots can send
    /// at the recent pace within `LEASE_ROUNDS - 1` attempt timeouts (the last
    /// is the margin for the ones in flight), at least one round, at most
    /// [`MAX_LEASE`]. An endpoint answering in 2 ms gets 1,024 at once; one
    /// timing out, one round.
    fn room(&self) -> usize {
        let slots = self.settings.concurrency.max(1);
        let budget_us = self.settings.timeout.as_micros() * u128::from(LEASE_ROUNDS - 1);
        let pace_us = u128::from(self.pace_us.load(Ordering::Relaxed).max(100));
        let rounds = usize::try_from(budget_us / pace_us).unwrap_or(usize::MAX);
        slots
            .saturating_mul(rounds.max(1))
            .min(MAX_LEASE.max(slots))
    }

    /// One attempt at one delivery, and its record.
    async fn deliver(&self, d: DueDelivery, token: i64) {
        let started = Instant::now();
        let at_ms = now_ms();
        let outcome = self.attempt(&d).await;
        let took = started.elapsed();
        // A moving average of how long attempts take (a new one weighs 1/8).
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let old = self.pace_us.load(Ordering::Relaxed);
        self.pace_us
            .store(old - old / 8 + us / 8, Ordering::Relaxed);
        let latency_ms = i64::try_from(took.as_millis()).unwrap_or(i64::MAX);
        let jitter: f64 = rand::rng().random();
        let after = self.settings.retry.after_attempt(
            d.attempts + 1,
            &outcome,
            now_ms(),
            jitter,
            d.failing_since_ms,
        );
        let status = match &outcome {
            Outcome::Answered { status, .. } => Some(*status),
            Outcome::NoAnswer(_) => None,
        };
        metrics::histogram!("groupd_webhook_attempt_seconds").record(took.as_secs_f64());
        metrics::counter!(
            "groupd_webhook_attempts_total",
            "outcome" => if after.error.is_some() { "failed" } else { "delivered" }
        )
        .increment(1);
        if after.disable.is_some() {
            metrics::counter!("groupd_webhook_endpoints_disabled_total").increment(1);
        }
        if let Some(error) = &after.error {
            tracing::info!(webhook = d.webhook, delivery = d.id, event = d.event.id,
                attempt = d.attempts + 1, error = %error, next = after.state.as_str(),
                "webhook delivery failed");
        }
        if let Some(reason) = &after.disable {
            tracing::warn!(webhook = d.webhook, reason = %reason, "webhook endpoint disabled");
        }
        let record = AttemptRecord {
            delivery: d.id,
            token,
            was_failing: d.failing_since_ms.is_some(),
            attempt: Attempt {
                at_ms,
                status,
                latency_ms,
                error: after.error.clone(),
            },
            after,
        };
        if self.done.send(record).await.is_err() {
            tracing::warn!(delivery = d.id, "the attempt recorder has stopped");
        }
    }

    async fn attempt(&self, d: &DueDelivery) -> Outcome {
        let url = match url::Url::parse(&d.url) {
            Ok(u) => u,
            Err(e) => return Outcome::NoAnswer(format!("the URL cannot be read: {e}")),
        };
        if let Err(e) = check_literal_host(&url, self.settings.allow_private) {
            return Outcome::NoAnswer(e.to_string());
        }
        let body = serde_json::json!({
            "type": d.event.kind.as_str(),
            "timestamp": rfc3339_ms(d.event.at_ms),
            "data": d.event.data(),
        })
        .to_string();
        let id = message_id(d);
        let timestamp = now_ms() / 1000;
        let secrets: Vec<&str> = d.secrets.iter().map(String::as_str).collect();
        let signature = match signature_header(&secrets, &id, timestamp, body.as_bytes()) {
            Ok(s) => s,
            Err(e) => return Outcome::NoAnswer(format!("cannot sign: {e}")),
        };
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        let mut response = match sent {
            Ok(r) => r,
            Err(e) => return Outcome::NoAnswer(crate::wire::error_chain(&e)),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, timestamp));
        // Read a little of the answer so the connection can be used again; an
        // endless or slow answer is cut off by the limit and the timeout.
        let mut read = 0;
        while let Ok(Some(chunk)) = response.chunk().await {
            read += chunk.len();
            if read > MAX_ANSWER_BYTES {
                break;
            }
        }
        Outcome::Answered {
            status,
            retry_after,
        }
    }
}

/// `webhook-id`: the same on every attempt of a delivery, so receivers can drop
/// repeats, and distinct per event (ids are per workspace).
pub fn message_id(d: &DueDelivery) -> String {
    format!("msg_{}_{}", d.workspace.0, d.event.id)
}
