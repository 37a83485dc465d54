//! Console sign-in: sessions kept in the store (so every instance behind a load
//! balancer knows them), their CSRF tokens, the slowing down of repeated failed
//! sign-ins, and the workspace-scoped key commands the console offers.
//!
//! A session's cookie carries a random token; the store keeps only its SHA-256.
//! The CSRF token is derived from the session token (a keyed hash), so it needs no
//! storage and cannot be made without the cookie, which scripts cannot read.

use super::{Caller, Service, ServiceError, now, passwords};
use crate::domain::event::{Actor, Door, KeyPrefix};
use crate::domain::group::{Builtin, GroupRef};
use crate::domain::key::{ApiKey, prefix_of};
use crate::domain::session::{self, Session, SessionActor};
use crate::domain::user::{GroupRole, UserId, UserRef};
use crate::domain::workspace::{DEFAULT_WORKSPACE, WorkspaceId};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// How a person signs in to the console.
pub enum SignIn {
    /// An API key of the workspace.
    Key(String),
    /// A user of the workspace holding the admin role in its built-in Admin group.
    Password {
        workspace: String,
        username: String,
        password: String,
    },
}

/// A request's signed-in console session.
#[derive(Debug, Clone)]
pub struct ConsoleUser {
    pub caller: Caller,
    /// Who, for the page header: `key AbCd1234 (label)` or the username.
    pub who: String,
    pub workspace_name: String,
    /// The token every form of this session must carry.
    pub csrf: String,
}

/// Failed sign-ins remembered per client address and per account, bounded.
pub(crate) struct Throttle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

/// The most addresses and accounts remembered at once; past it, the forgotten
/// (older than [`session::FAILURE_MEMORY_SECS`]) go first, then everything.
const THROTTLE_CAPACITY: usize = 10_000;

impl Throttle {
    pub(crate) fn new() -> Throttle {
        Throttle {
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds to wait before `subject` may try again (0: now).
    fn wait(&self, subject: &str) -> u64 {
        let Ok(map) = self.failures.lock() else {
            return 0;
        };
        let Some((count, last)) = map.get(subject) else {
            return 0;
        };
        let wait = session::wait_after_failures(*count);
        wait.saturating_sub(last.elapsed().as_secs())
    }

    fn fail(&self, subject: &str) {
        let Ok(mut map) = self.failures.lock() else {
            return;
        };
        let memory = Duration::from_secs(session::FAILURE_MEMORY_SECS);
        if map.len() >= THROTTLE_CAPACITY {
            map.retain(|_, (_, last)| last.elapsed() < memory);
            if map.len() >= THROTTLE_CAPACITY {
                map.clear();
            }
        }
        let entry = map
            .entry(subject.to_string())
            .or_insert((0, Instant::now()));
        if entry.1.elapsed() >= memory {
            entry.0 = 0;
        }
        entry.0 += 1;
        entry.1 = Instant::now();
    }

    fn succeed(&self, subject: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(subject);
        }
    }
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The CSRF token of a session: a hash of its token under a fixed label.
pub fn csrf_token(session_token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"groupd console csrf\0");
    h.update(session_token.as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// Whether `presented` is the CSRF token of the session, compared in constant time.
pub fn csrf_matches(session_token: &str, presented: &str) -> bool {
    csrf_token(session_token)
        .as_bytes()
        .ct_eq(presented.as_bytes())
        .into()
}

/// A valid argon2id hash of nothing anybody knows, checked when a username is
/// unknown so that the answer takes as long as for a known one.
async fn decoy_hash() -> Result<&'static str, ServiceError> {
    static DECOY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DECOY
        .get_or_try_init(|| passwords::hash(new_token()))
        .await
        .map(String::as_str)
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Service {
    /// Signs in to the console; returns the new session's token (for the cookie).
    /// `client` is the address the attempt came from: it and the account named are
    /// each slowed down after repeated failures.
    pub async fn console_sign_in(&self, how: SignIn, client: &str) -> Result<String, ServiceError> {
        let account = match &how {
            SignIn::Key(key) => format!("key:{}", prefix_of(key.trim()).unwrap_or("?")),
            SignIn::Password {
                workspace,
                username,
                ..
            } => format!(
                "user:{}/{}",
                workspace.trim(),
                username.trim().to_lowercase()
            ),
        };
        let client = format!("addr:{client}");
        let wait = self
            .sign_ins
            .wait(&client)
            .max(self.sign_ins.wait(&account));
        if wait > 0 {
            return Err(ServiceError::TooManySignIns { wait_secs: wait });
        }
        let outcome = self.check_sign_in(how).await;
        match &outcome {
            Ok(_) => {
                self.sign_ins.succeed(&client);
                self.sign_ins.succeed(&account);
            }
            Err(ServiceError::SignInRefused | ServiceError::NotConsoleAdmin) => {
                self.sign_ins.fail(&client);
                self.sign_ins.fail(&account);
            }
            Err(_) => {}
        }
        let (workspace, actor) = outcome?;
        let token = new_token();
        let at = now();
        self.store
            .insert_session(
                token_hash(&token),
                Session {
                    workspace,
                    actor,
                    created_at: at,
                    seen_at: at,
                },
            )
            .await?;
        Ok(token)
    }

    async fn check_sign_in(
        &self,
        how: SignIn,
    ) -> Result<(WorkspaceId, SessionActor), ServiceError> {
        match how {
            SignIn::Key(key) => {
                let caller =
                    self.authenticate(Some(&key), Door::Console)
                        .await
                        .map_err(|e| match e {
                            ServiceError::Unauthorized => ServiceError::SignInRefused,
                            other => other,
                        })?;
                match caller.actor {
                    Actor::Key(prefix) => Ok((caller.workspace, SessionActor::Key(prefix))),
                    _ => Err(ServiceError::SignInRefused),
                }
            }
            SignIn::Password {
                workspace,
                username,
                password,
            } => {
                let name = match workspace.trim() {
                    "" => DEFAULT_WORKSPACE,
                    name => name,
                };
                let ws = self.store.find_workspace(name).await?;
                let user = match (&ws, UserRef::parse(&username)) {
                    (Some(ws), Some(by @ (UserRef::Username(_) | UserRef::Email(_)))) => {
                        self.store.find_user(ws.id, &by).await?
                    }
                    _ => None,
                };
                // A deactivated user, or one without a password (made by an
                // identity provider), is refused like an unknown one.
                let user = user.filter(|u| u.may_sign_in_with_password());
                let (Some(ws), Some(user)) = (ws, user) else {
                    // As slow as a real check, so that timing tells nothing.
                    let _ = passwords::verify(password, decoy_hash().await?.to_string()).await;
                    return Err(ServiceError::SignInRefused);
                };
                if !passwords::verify(password, user.password_hash.clone()).await? {
                    return Err(ServiceError::SignInRefused);
                }
                if !self.is_workspace_admin(ws.id, user.id).await? {
                    return Err(ServiceError::NotConsoleAdmin);
                }
                Ok((ws.id, SessionActor::User(user.id)))
            }
        }
    }

    /// Whether the user holds the admin role in the workspace's built-in Admin group.
    async fn is_workspace_admin(
        &self,
        ws: WorkspaceId,
        user: UserId,
    ) -> Result<bool, ServiceError> {
        let Some(admin) = self
            .store
            .find_group(ws, &GroupRef::Builtin(Builtin::Admin))
            .await?
        else {
            return Ok(false);
        };
        let roles = self.store.member_roles(ws, user, &[admin.id]).await?;
        Ok(roles.get(&admin.id) == Some(&GroupRole::Admin))
    }

    /// The session a console request carries, if it still stands: not idle past
    /// the console's idle time, its key not revoked, its user still an admin. A session that no
    /// longer stands is removed.
    pub async fn console_session(&self, token: &str) -> Result<ConsoleUser, ServiceError> {
        let idle = self.console_idle;
        let hash = token_hash(token);
        let s = self
            .store
            .find_session(&hash)
            .await?
            .ok_or(ServiceError::SessionEnded)?;
        let at = now();
        let idle = i64::try_from(idle.as_secs()).unwrap_or(i64::MAX);
        let who = if s.is_live(at, idle) {
            self.session_holder(&s).await?
        } else {
            None
        };
        let Some(who) = who else {
            self.store.delete_session(&hash).await?;
            return Err(ServiceError::SessionEnded);
        };
        if s.needs_touch(at) {
            self.store.touch_session(&hash, at).await?;
        }
        let workspace_name = self.workspace_by_id(s.workspace).await?.name;
        Ok(ConsoleUser {
            caller: Caller {
                workspace: s.workspace,
                actor: s.actor.actor(),
                door: Door::Console,
            },
            who,
            workspace_name,
            csrf: csrf_token(token),
        })
    }

    /// Who holds the session, or `None` when its key or admin role is gone.
    async fn session_holder(&self, s: &Session) -> Result<Option<String>, ServiceError> {
        match s.actor {
            SessionActor::Key(prefix) => {
                let record = self.store.find_api_key(prefix.as_str()).await?;
                let live = record.is_some_and(|r| !r.revoked && r.workspace == s.workspace);
                Ok(live.then(|| format!("key {}", prefix.as_str())))
            }
            SessionActor::User(id) => {
                let user = self.store.find_user(s.workspace, &UserRef::Id(id)).await?;
                match user {
                    // A user deactivated since signing in is signed out.
                    Some(u) if u.active && self.is_workspace_admin(s.workspace, id).await? => {
                        Ok(Some(u.username))
                    }
                    _ => Ok(None),
                }
            }
        }
    }

    /// A workspace by id (a session's or a caller's: it exists unless removed
    /// since). Workspaces are few; the list is one short read.
    async fn workspace_by_id(
        &self,
        id: WorkspaceId,
    ) -> Result<crate::domain::workspace::Workspace, ServiceError> {
        self.store
            .list_workspaces()
            .await?
            .into_iter()
            .find(|w| w.id == id)
            .ok_or_else(|| ServiceError::Refused("workspace not found".into()))
    }

    /// Ends a console session (signing out).
    pub async fn console_sign_out(&self, token: &str) -> Result<(), ServiceError> {
        Ok(self.store.delete_session(&token_hash(token)).await?)
    }

    /// Removes sessions idle past the console's idle time or older than a day.
    pub async fn prune_sessions(&self) -> Result<u64, ServiceError> {
        let idle = self.console_idle;
        let at = now();
        let idle = i64::try_from(idle.as_secs()).unwrap_or(i64::MAX);
        Ok(self
            .store
            .prune_sessions(at.saturating_sub(idle), at - session::MAX_AGE_SECS)
            .await?)
    }

    /// The caller's workspace's keys.
    pub async fn workspace_keys(&self, caller: Caller) -> Result<Vec<ApiKey>, ServiceError> {
        Ok(self.store.list_api_keys(Some(caller.workspace)).await?)
    }

    /// Makes a key in the caller's workspace (a `key.created` event by the caller).
    pub async fn create_workspace_key(
        &self,
        caller: Caller,
        label: &str,
    ) -> Result<super::NewKey, ServiceError> {
        self.audited(caller, async move {
            let ws = self.workspace_by_id(caller.workspace).await?;
            self.create_key_in(&ws, label).await
        })
        .await
    }

    /// Revokes a key of the caller's workspace; a key of another workspace is
    /// not found.
    pub async fn revoke_workspace_key(
        &self,
        caller: Caller,
        prefix: &str,
    ) -> Result<(), ServiceError> {
        self.audited(caller, async move {
            let not_found = || ServiceError::KeyNotFound(prefix.to_string());
            let p = KeyPrefix::parse(prefix).ok_or_else(not_found)?;
            match self.store.find_api_key(p.as_str()).await? {
                Some(k) if k.workspace == caller.workspace => self.revoke_key(p.as_str()).await,
                _ => Err(not_found()),
            }
        })
        .await
    }

    /// Notes a key's use, writing it at most once a minute per key per process.
    pub(crate) fn note_key_use(&self, prefix: &str) {
        let at = now();
        {
            let Ok(mut seen) = self.key_uses.lock() else {
                return;
            };
            if seen
                .get(prefix)
                .is_some_and(|&t| at - t < session::TOUCH_EVERY_SECS)
            {
                return;
            }
            if seen.len() >= 4096 {
                seen.clear();
            }
            seen.insert(prefix.to_string(), at);
        }
        let store = self.store.clone();
        let prefix = prefix.to_string();
        tokio::spawn(async move {
            if let Err(e) = store.touch_api_key(&prefix, at).await {
                tracing::debug!(error = %e, "could not record a key's last use");
            }
        });
    }
}

/// Per-process memory of when each key's use was last written.
pub(crate) type KeyUses = Arc<Mutex<HashMap<String, i64>>>;

impl Service {
    /// The caller's workspace's totals (the console's overview).
    pub async fn workspace_counts(
        &self,
        caller: Caller,
    ) -> Result<crate::domain::workspace::WorkspaceCounts, ServiceError> {
        Ok(self.store.workspace_counts(caller.workspace).await?)
    }
}
