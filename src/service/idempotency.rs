//! `Idempotency-Key` for POST requests: the same key and request within 24 hours
//! answers the first result again and does nothing new; the same key with another
//! request is refused.
//!
//! A request claims its key before it is carried out and holds the claim under a
//! short lease ([`DEFAULT_CLAIM_LEASE`]) that it renews while it runs (see
//! [`ClaimHold`]). The claim ends with the request: its answer is kept, or the claim
//! is released (a server error, a panic). Only a holder that is gone altogether (a
//! killed process) leaves a claim behind, and then only until its lease runs out:
//! the next request with the key takes it over.

use super::{Caller, Service, ServiceError, now, now_ms};
use crate::domain::ValidationErrors;
use crate::store::{IdempotencyClaim, NewClaim};
use sha2::{Digest, Sha256};
use std::time::Duration;

pub const RETENTION_SECS: i64 = 24 * 3600;
pub const KEY_MAX: usize = 255;
/// How long a claim lasts without renewal: how soon a retry may take over the key
/// of a request whose server died. A running request renews it every third of
/// that, so no request is too slow for it.
pub const DEFAULT_CLAIM_LEASE: Duration = Duration::from_secs(30);

/// What to do with a request that carries a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idempotent {
    /// First time (or the last holder is gone): carry it out under this claim,
    /// held with [`Service::hold_idempotent`].
    Proceed(Claim),
    /// Seen before: answer this again.
    Replay { status: u16, body: String },
}

/// A claim on a key, held by one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    caller: Caller,
    key: String,
    token: i64,
}

/// The fingerprint of a request: method, path and body.
pub fn request_hash(method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update([0]);
    h.update(path.as_bytes());
    h.update([0]);
    h.update(body);
    h.finalize().to_vec()
}

impl Service {
    pub async fn claim_idempotent(
        &self,
        caller: Caller,
        key: &str,
        hash: Vec<u8>,
    ) -> Result<Idempotent, ServiceError> {
        if key.is_empty() || key.len() > KEY_MAX || !key.bytes().all(|b| (0x21..0x7f).contains(&b))
        {
            return Err(ServiceError::Invalid(ValidationErrors::single(
                "Idempotency-Key",
                format!("must be 1 to {KEY_MAX} visible ASCII characters"),
            )));
        }
        let (t, t_ms) = (now(), now_ms());
        let claim = Claim {
            caller,
            key: key.to_string(),
            token: rand::random(),
        };
        let new = NewClaim {
            request_hash: hash.clone(),
            token: claim.token,
            now: t,
            since: t - RETENTION_SECS,
            now_ms: t_ms,
            lease_until_ms: t_ms + self.claim_lease_ms(),
        };
        match self
            .store
            .claim_idempotency_key(caller.workspace, key, new)
            .await?
        {
            IdempotencyClaim::Claimed => Ok(Idempotent::Proceed(claim)),
            IdempotencyClaim::Done {
                request_hash,
                status,
                body,
            } => {
                if request_hash == hash {
                    Ok(Idempotent::Replay { status, body })
                } else {
                    Err(ServiceError::IdempotencyKeyReused)
                }
            }
            IdempotencyClaim::InProgress { request_hash } => {
                if request_hash == hash {
                    Err(ServiceError::IdempotencyKeyInUse)
                } else {
                    Err(ServiceError::IdempotencyKeyReused)
                }
            }
        }
    }

    fn claim_lease_ms(&self) -> i64 {
        i64::try_from(self.claim_lease.as_millis()).unwrap_or(i64::MAX / 2)
    }

    /// Holds `claim` while its request runs: renews its lease in the background
    /// until [`ClaimHold::finish`] or [`ClaimHold::release`], and releases it when
    /// dropped before either (the request's task panicked or was cancelled).
    pub fn hold_idempotent(&self, claim: Claim) -> ClaimHold {
        let renewing = {
            let service = self.clone();
            let claim = claim.clone();
            let every = self.claim_lease / 3;
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let until = now_ms() + service.claim_lease_ms();
                    match service
                        .store
                        .renew_idempotency_key(
                            claim.caller.workspace,
                            &claim.key,
                            claim.token,
                            until,
                        )
                        .await
                    {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!("an idempotency claim lapsed while its request ran");
                            return;
                        }
                        Err(e) => tracing::warn!(error = %e, "idempotency claim not renewed"),
                    }
                }
            })
        };
        ClaimHold {
            service: self.clone(),
            claim: Some(claim),
            renewing,
        }
    }
}

/// A claim held by a running request (see [`Service::hold_idempotent`]).
pub struct ClaimHold {
    service: Service,
    /// `None` once the claim has ended.
    claim: Option<Claim>,
    renewing: tokio::task::JoinHandle<()>,
}

impl ClaimHold {
    /// Keeps the request's answer for the key; the claim ends.
    pub async fn finish(mut self, status: u16, body: String) -> Result<(), ServiceError> {
        self.renewing.abort();
        let Some(c) = self.claim.take() else {
            return Ok(());
        };
        let kept = self
            .service
            .store
            .finish_idempotency_key(c.caller.workspace, &c.key, c.token, status, body)
            .await?;
        if !kept {
            tracing::warn!("an idempotency answer was not kept: the claim had lapsed");
        }
        Ok(())
    }

    /// Frees the key (the request failed on the server's side), so it can be retried.
    pub async fn release(mut self) -> Result<(), ServiceError> {
        self.renewing.abort();
        match self.claim.take() {
            Some(c) => release(&self.service, c).await,
            None => Ok(()),
        }
    }
}

async fn release(service: &Service, c: Claim) -> Result<(), ServiceError> {
    Ok(service
        .store
        .abort_idempotency_key(c.caller.workspace, &c.key, c.token)
        .await?)
}

impl Drop for ClaimHold {
    fn drop(&mut self) {
        self.renewing.abort();
        let Some(claim) = self.claim.take() else {
            return;
        };
        // Dropped before the request ended: free the key at once rather than at
        // the end of the lease. Outside a runtime (shutting down) the lease does it.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let service = self.service.clone();
            rt.spawn(async move {
                if let Err(e) = release(&service, claim).await {
                    tracing::warn!(error = %e, "idempotency claim not released");
                }
            });
        }
    }
}
