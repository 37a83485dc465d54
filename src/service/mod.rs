//! The service: the one place where a domain command is carried out against the
//! store. Dialects and the command line call it; nothing else writes.

mod admin;
pub mod console;
pub mod delivery;
pub mod events;
mod groups;
pub mod icons;
pub mod idempotency;
mod keys;
pub mod limits;
mod members;
pub mod passwords;
mod users;
pub mod webhook_signing;
pub mod webhooks;

use crate::domain::ValidationErrors;
use crate::domain::category::{DEFAULT_CATEGORY_ID, DEFAULT_CATEGORY_NAME};
use crate::domain::event::{Actor, Audit, Door};
use crate::domain::workspace::WorkspaceId;
use crate::store::{Entity, Store, StoreError};
use std::sync::Arc;

pub use icons::{IconFetcher, IconPolicy};
pub use keys::NewKey;
pub use members::BULK_MAX;

/// Who is calling: the workspace an API key opened, who holds it and through
/// which door they came (what the events of their changes say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub workspace: WorkspaceId,
    pub actor: Actor,
    pub door: Door,
}

impl Caller {
    /// What this caller's changes are stamped with.
    pub fn audit(&self) -> Audit {
        Audit {
            actor: self.actor,
            door: Some(self.door),
        }
    }
}

/// The service layer's error. Each dialect maps it to its own wire format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    #[error("invalid or missing API key")]
    Unauthorized,
    #[error("invalid input: {0}")]
    Invalid(ValidationErrors),
    #[error("a group with this slug already exists")]
    SlugTaken,
    #[error("group not found")]
    GroupNotFound,
    #[error("group {0} is built in and cannot be removed")]
    BuiltinGroup(i64),
    #[error("group {0}, named to take over the members, does not exist")]
    SuccessorNotFound(i64),
    #[error("group {0} cannot take over from itself")]
    SuccessorAmongRemoved(i64),
    #[error("category {DEFAULT_CATEGORY_ID} ({DEFAULT_CATEGORY_NAME}) always exists")]
    DefaultCategory,
    #[error("workspace '{0}' not found")]
    WorkspaceNotFound(String),
    #[error("category {0} not found")]
    CategoryNotFound(i64),
    #[error("custom field {0} not found")]
    FieldNotFound(i64),
    #[error("webhook not found")]
    WebhookNotFound,
    #[error("delivery not found")]
    DeliveryNotFound,
    #[error("API key '{0}' not found")]
    KeyNotFound(String),
    #[error("a user with this username already exists")]
    UsernameTaken,
    #[error("a user with this email address already exists")]
    EmailTaken,
    #[error("account not found")]
    AccountNotFound,
    #[error("the group is full: limit_user is {limit}, room for {room} more")]
    GroupFull { limit: i64, room: i64 },
    #[error("the user is already a member of the group")]
    AlreadyMember,
    #[error("user {0} is deactivated: they keep their groups but join no more")]
    UserInactive(String),
    #[error("the user is not a member of the group")]
    NotAMember,
    #[error("the group password is wrong")]
    InvalidGroupPassword,
    #[error("members cannot leave this group (it is unleavable)")]
    GroupUnleavable,
    #[error("this Idempotency-Key was used with another request body")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is still being carried out")]
    IdempotencyKeyInUse,
    #[error("the username or password is wrong, or the key is not valid")]
    SignInRefused,
    #[error("this user does not hold the admin role in the workspace's Admin group")]
    NotConsoleAdmin,
    #[error("too many failed sign-ins: try again in {wait_secs} s")]
    TooManySignIns { wait_secs: u64 },
    #[error("the console session has ended: sign in again")]
    SessionEnded,
    #[error("too many requests with this key: try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("{0}")]
    Conflict(String),
    /// One call names more than it may (SCIM's `tooMany`).
    #[error("{0}")]
    TooMany(String),
    #[error("{0}")]
    Refused(String),
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::SlugTaken => ServiceError::SlugTaken,
            StoreError::NotFound(Entity::Group) => ServiceError::GroupNotFound,
            StoreError::NotFound(Entity::User) => ServiceError::AccountNotFound,
            StoreError::NotFound(Entity::Webhook) => ServiceError::WebhookNotFound,
            StoreError::NotFound(Entity::Delivery) => ServiceError::DeliveryNotFound,
            StoreError::NotFound(what @ (Entity::Workspace | Entity::Key)) => {
                ServiceError::Refused(format!("{what} not found"))
            }
            StoreError::AlreadyExists(what) => {
                ServiceError::Conflict(format!("{what} already exists"))
            }
            StoreError::UnknownCategory(id) => ServiceError::CategoryNotFound(id),
            StoreError::UnknownField(id) => ServiceError::FieldNotFound(id),
            StoreError::Refused(msg) => ServiceError::Refused(msg),
            StoreError::BuiltinGroup(id) => ServiceError::BuiltinGroup(id),
            StoreError::SuccessorAmongRemoved(id) => ServiceError::SuccessorAmongRemoved(id),
            StoreError::DefaultCategory => ServiceError::DefaultCategory,
            StoreError::UsernameTaken => ServiceError::UsernameTaken,
            StoreError::EmailTaken => ServiceError::EmailTaken,
            StoreError::UnknownUser(_) => ServiceError::AccountNotFound,
            StoreError::GroupFull { limit, room } => ServiceError::GroupFull { limit, room },
            StoreError::AlreadyMember(_) => ServiceError::AlreadyMember,
            StoreError::NotAMember(_) => ServiceError::NotAMember,
            StoreError::Unavailable(msg) => ServiceError::Unavailable(msg),
            e @ StoreError::Connect(_) => ServiceError::Unavailable(e.to_string()),
            e @ StoreError::ImportNotEmpty => ServiceError::Refused(e.to_string()),
            e @ StoreError::SchemaTooNew { .. } => ServiceError::Unavailable(e.to_string()),
            StoreError::Backend(msg) => ServiceError::Internal(msg),
        }
    }
}

impl From<ValidationErrors> for ServiceError {
    fn from(e: ValidationErrors) -> Self {
        ServiceError::Invalid(e)
    }
}

/// The service, shared by every request.
#[derive(Clone)]
pub struct Service {
    store: Arc<dyn Store>,
    icons: IconFetcher,
    keys: Arc<keys::KeyCache>,
    /// How long an idempotency claim lasts unrenewed (see [`idempotency`]).
    claim_lease: std::time::Duration,
    /// Wakes the webhook sender after a change (see [`delivery`]).
    deliveries: delivery::Deliveries,
    /// Failed console sign-ins, per address and account (see [`console`]).
    sign_ins: Arc<console::Throttle>,
    /// When each key's use was last written (see [`console`]).
    key_uses: console::KeyUses,
    /// How long an unused console session lasts.
    console_idle: std::time::Duration,
    /// Rate limits per key and per client address (see [`limits`]).
    limits: Arc<limits::RateLimits>,
}

impl Service {
    pub fn new(store: Arc<dyn Store>, icons: IconFetcher) -> Service {
        Service {
            store,
            icons,
            keys: Arc::new(keys::key_cache()),
            claim_lease: idempotency::DEFAULT_CLAIM_LEASE,
            deliveries: Default::default(),
            sign_ins: Arc::new(console::Throttle::new()),
            key_uses: Default::default(),
            console_idle: std::time::Duration::from_secs(
                crate::domain::session::DEFAULT_IDLE_SECS as u64,
            ),
            limits: Default::default(),
        }
    }

    /// Sets the rate limits (none by default).
    pub fn with_rate_limits(mut self, limits: limits::RateLimits) -> Service {
        self.limits = Arc::new(limits);
        self
    }

    /// The rate limits, for the server's per-address check.
    pub fn rate_limits(&self) -> Arc<limits::RateLimits> {
        self.limits.clone()
    }

    /// Sets how long an unused console session lasts (at least a minute).
    pub fn with_console_idle(mut self, idle: std::time::Duration) -> Service {
        self.console_idle = idle.max(std::time::Duration::from_secs(60));
        self
    }

    /// Sets how long an idempotency claim lasts unrenewed (at least a second).
    pub fn with_claim_lease(mut self, lease: std::time::Duration) -> Service {
        self.claim_lease = lease.max(std::time::Duration::from_secs(1));
        self
    }
}

impl Service {
    /// Carries out a command for `caller`: every store write in it records its
    /// events stamped with the caller's actor and door (see [`crate::store::audit`]).
    /// A command that changed something wakes the webhook sender.
    async fn audited<T>(
        &self,
        caller: Caller,
        command: impl std::future::Future<Output = Result<T, ServiceError>>,
    ) -> Result<T, ServiceError> {
        let out = crate::store::audit::scope(caller.audit(), command).await;
        if out.is_ok() {
            self.deliveries.wake();
        }
        out
    }
}

pub(crate) use crate::store::now_ms;

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
