//! API keys: creation, listing, revocation, and authentication of a presented key.

use super::{Caller, Service, ServiceError, now};
use crate::domain::event::{Actor, Door, KeyPrefix};
use crate::domain::key::{ApiKey, KEY_TAG, PREFIX_LEN, SECRET_LEN, prefix_of};
use crate::domain::workspace::Workspace;
use crate::store::token_cache::TokenCache;
use crate::store::{ApiKeyRecord, NewApiKey, StoreError};
use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// How many keys the cache holds before it starts again from empty.
const KEY_CACHE_CAPACITY: usize = 4096;
/// A backstop: however the token behaves, no key is trusted from memory for longer.
const CACHE_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(5);

/// Keys already read from the store, by prefix, valid while the store's revocation
/// token (`Store::key_revocations`) stays what it was when they were read.
///
/// Only keys that exist are kept, so a flood of made-up keys cannot fill it; a
/// revoked key may be kept, since revocation is final. The whole key is never
/// kept, only the stored record (its hash), and it is still compared in constant
/// time on every request.
pub(crate) type KeyCache = TokenCache<String, ApiKeyRecord>;

pub(crate) fn key_cache() -> KeyCache {
    TokenCache::new(KEY_CACHE_CAPACITY, CACHE_MAX_AGE)
}

/// A key just made. `secret` is the whole key; it is shown once and never stored.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub prefix: String,
    pub secret: String,
    pub workspace: String,
}

fn digest(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

fn random_chars(n: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

impl Service {
    /// Checks a presented key, for a request that came through `door`. Missing,
    /// malformed, unknown and revoked keys all get the same answer. The hash
    /// comparison is constant-time.
    pub async fn authenticate(
        &self,
        presented: Option<&str>,
        door: Door,
    ) -> Result<Caller, ServiceError> {
        let presented = presented.map(str::trim).unwrap_or_default();
        let Some(prefix) = prefix_of(presented) else {
            return Err(ServiceError::Unauthorized);
        };
        // Read the token before the key, so that a revocation landing between the
        // two leaves the entry filed under a token that is already stale.
        let token = self.store.key_revocations();
        let record = match token.and_then(|t| self.keys.get(prefix, t)) {
            Some(record) => record,
            None => {
                let record = Arc::new(
                    self.store
                        .find_api_key(prefix)
                        .await?
                        .ok_or(ServiceError::Unauthorized)?,
                );
                if let Some(t) = token {
                    self.keys.put(prefix.to_string(), &record, t);
                }
                record
            }
        };
        let matches: bool = digest(presented).ct_eq(&record.hash).into();
        if !matches || record.revoked {
            return Err(ServiceError::Unauthorized);
        }
        let key_prefix = KeyPrefix::parse(prefix).ok_or(ServiceError::Unauthorized)?;
        // An identity provider's changes say so in the events' actor.
        let actor = if door == Door::Scim {
            Actor::ScimKey(key_prefix)
        } else {
            Actor::Key(key_prefix)
        };
        // The request's span (see server::observe) names the workspace from here on.
        tracing::Span::current().record("workspace", record.workspace.0);
        if let (Actor::Key(p) | Actor::ScimKey(p), Some(limit)) = (actor, &self.limits.per_key) {
            if let Err(wait) = limit.check(&p) {
                super::limits::note_retry_after(wait);
                return Err(ServiceError::RateLimited {
                    retry_after_secs: wait,
                });
            }
        }
        self.note_key_use(prefix);
        Ok(Caller {
            workspace: record.workspace,
            actor,
            door,
        })
    }

    /// Makes a new key for a workspace.
    pub async fn create_key(&self, workspace: &str, label: &str) -> Result<NewKey, ServiceError> {
        let ws = self.workspace(workspace).await?;
        self.create_key_in(&ws, label).await
    }

    pub(crate) async fn create_key_in(
        &self,
        ws: &Workspace,
        label: &str,
    ) -> Result<NewKey, ServiceError> {
        let label = crate::domain::text::clean(label, 100, false).map_err(|e| {
            ServiceError::Invalid(crate::domain::ValidationErrors::single(
                "label",
                e.message(),
            ))
        })?;
        // A prefix collision is astronomically rare; try again a few times anyway.
        for _ in 0..5 {
            let body = random_chars(PREFIX_LEN + SECRET_LEN);
            let secret = format!("{KEY_TAG}{body}");
            let prefix = body[..PREFIX_LEN].to_string();
            let row = NewApiKey {
                prefix: prefix.clone(),
                hash: digest(&secret),
                label: label.clone(),
                now: now(),
            };
            match self.store.insert_api_key(ws.id, row).await {
                Ok(()) => {
                    return Ok(NewKey {
                        prefix,
                        secret,
                        workspace: ws.name.clone(),
                    });
                }
                Err(StoreError::AlreadyExists(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Internal(
            "could not find a free key prefix".into(),
        ))
    }

    pub async fn list_keys(&self, workspace: Option<&str>) -> Result<Vec<ApiKey>, ServiceError> {
        let ws = match workspace {
            Some(name) => Some(self.workspace(name).await?.id),
            None => None,
        };
        Ok(self.store.list_api_keys(ws).await?)
    }

    /// Revokes a key by its prefix (or the whole key). Takes effect at once: the
    /// store moves its revocation token, and every server's key cache follows it
    /// (see `Store::key_revocations`).
    pub async fn revoke_key(&self, prefix_or_key: &str) -> Result<(), ServiceError> {
        let prefix = prefix_of(prefix_or_key).unwrap_or(prefix_or_key.trim());
        match self.store.revoke_api_key(prefix, now()).await {
            Err(StoreError::NotFound(_)) => Err(ServiceError::KeyNotFound(prefix.to_string())),
            other => Ok(other?),
        }
    }
}
