//! `Idempotency-Key` for POST requests: the same key and request within 24 hours
//! answers the first result again and does nothing new; the same key with another
//! request is refused.

use super::{Caller, Service, ServiceError, now};
use crate::domain::ValidationErrors;
use crate::store::IdempotencyClaim;
use sha2::{Digest, Sha256};

pub const RETENTION_SECS: i64 = 24 * 3600;
pub const KEY_MAX: usize = 255;

/// What to do with a request that carries a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idempotent {
    /// First time: carry it out, then call `finish_idempotent` (or `abort_idempotent`).
    Proceed,
    /// Seen before: answer this again.
    Replay { status: u16, body: String },
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
        let t = now();
        match self
            .store
            .claim_idempotency_key(caller.workspace, key, hash.clone(), t, t - RETENTION_SECS)
            .await?
        {
            IdempotencyClaim::Claimed => Ok(Idempotent::Proceed),
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

    pub async fn finish_idempotent(
        &self,
        caller: Caller,
        key: &str,
        status: u16,
        body: String,
    ) -> Result<(), ServiceError> {
        Ok(self
            .store
            .finish_idempotency_key(caller.workspace, key, status, body)
            .await?)
    }

    /// Releases a key whose request failed on the server's side, so it can be retried.
    pub async fn abort_idempotent(&self, caller: Caller, key: &str) -> Result<(), ServiceError> {
        Ok(self
            .store
            .abort_idempotency_key(caller.workspace, key)
            .await?)
    }
}
