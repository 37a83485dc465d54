//! Storage: one [`Store`] trait and the engines behind it.
//!
//! The store holds no business rules beyond what the database itself guarantees
//! (uniqueness, foreign keys, atomic writes); the service decides what to write.
//! Every method takes the workspace it acts in, except the few that are global by
//! nature (workspaces themselves, key look-up by prefix, the public icon route).

pub mod audit;
pub mod conformance;
pub mod dump;
pub mod postgres;
pub mod rekey;
pub mod sqlite;
pub mod token_cache;

use crate::domain::category::Category;
use crate::domain::event::Event;
use crate::domain::field::{FieldDef, NewFieldDef};
use crate::domain::group::{Group, GroupId, GroupRef};
use crate::domain::key::ApiKey;
use crate::domain::listing::GroupQuery;
use crate::domain::membership::OnExisting;
use crate::domain::policy::{GroupPolicy, PolicyPatch};
use crate::domain::session::Session;
use crate::domain::slug::Slug;
use crate::domain::user::{GroupRole, Membership, User, UserId, UserRef};
use crate::domain::webhook::{Attempt, Delivery, Webhook};
use crate::domain::workspace::{Workspace, WorkspaceId};
use async_trait::async_trait;

mod error;
pub use crate::domain::event::EventQuery;
pub use crate::domain::workspace::WorkspaceCounts;
pub use error::{ConnectFailure, Entity, StoreError};

/// An icon image as stored: already cropped and encoded, with the unguessable token
/// it is served under (made anew for every new icon, unique across workspaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IconImage {
    pub content_type: String,
    pub data: Vec<u8>,
    pub token: String,
}

/// A key row, as the authenticator needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub workspace: WorkspaceId,
    pub hash: Vec<u8>,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub prefix: String,
    pub hash: Vec<u8>,
    pub label: String,
    pub now: i64,
}

/// A group to insert; every value already checked.
#[derive(Debug, Clone)]
pub struct NewGroup {
    pub name: String,
    pub slug: Option<Slug>,
    pub description: String,
    pub category_id: i64,
    pub secret: bool,
    pub unleavable: bool,
    pub pinned: bool,
    pub password_hash: Option<String>,
    pub icon: Option<IconImage>,
    pub custom_fields: Vec<(i64, String)>,
    pub policy: GroupPolicy,
    pub external_id: Option<String>,
    pub now: i64,
}

impl NewGroup {
    /// The group this will be once stored, but for its id (0 until then).
    pub fn as_group(&self, ws: WorkspaceId) -> Group {
        Group {
            id: GroupId(0),
            workspace: ws,
            name: self.name.clone(),
            slug: self.slug.as_ref().map(|s| s.as_str().to_string()),
            description: self.description.clone(),
            category_id: self.category_id,
            secret: self.secret,
            unleavable: self.unleavable,
            pinned: self.pinned,
            password_hash: self.password_hash.clone(),
            icon_token: self.icon.as_ref().map(|i| i.token.clone()),
            custom_fields: self.custom_fields.iter().cloned().collect(),
            policy: self.policy.clone(),
            builtin: None,
            member_count: 0,
            external_id: self.external_id.clone(),
            created_at: self.now,
            updated_at: self.now,
        }
    }
}

/// Changes to a group; `None` leaves a column as it is.
#[derive(Debug, Clone, Default)]
pub struct GroupUpdate {
    pub name: Option<String>,
    pub slug: Option<Option<Slug>>,
    pub description: Option<String>,
    pub category_id: Option<i64>,
    pub secret: Option<bool>,
    pub unleavable: Option<bool>,
    pub pinned: Option<bool>,
    pub password_hash: Option<Option<String>>,
    pub icon: Option<Option<IconImage>>,
    pub custom_fields: Vec<(i64, Option<String>)>,
    /// Applied to the stored policy inside the write transaction.
    pub policy: PolicyPatch,
    /// `Some(None)` clears it.
    pub external_id: Option<Option<String>>,
    pub now: i64,
}

impl GroupUpdate {
    /// The slug as update columns: (whether it changes, the slug, its key).
    pub fn slug_columns(&self) -> (bool, Option<String>, Option<String>) {
        match &self.slug {
            None => (false, None, None),
            Some(s) => (
                true,
                s.as_ref().map(|s| s.as_str().to_string()),
                s.as_ref().map(|s| s.key().to_string()),
            ),
        }
    }

    /// The password hash as update columns: (whether it changes, the hash).
    pub fn password_columns(&self) -> (bool, Option<String>) {
        match &self.password_hash {
            None => (false, None),
            Some(p) => (true, p.clone()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub full_name: String,
    /// (as written, lower-case key)
    pub username: (String, String),
    /// `("", "")` for a user without an email address.
    pub email: (String, String),
    /// An identity provider's user name that is not a username (as written, key).
    pub idp_user_name: Option<(String, String)>,
    /// Empty for a user without a password.
    pub password_hash: String,
    pub external_id: Option<String>,
    pub active: bool,
    pub now: i64,
}

#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub full_name: Option<String>,
    pub username: Option<(String, String)>,
    /// `Some(("", ""))` removes the address.
    pub email: Option<(String, String)>,
    /// `Some(None)` clears it.
    pub idp_user_name: Option<Option<(String, String)>>,
    pub password_hash: Option<String>,
    /// `Some(None)` clears it.
    pub external_id: Option<Option<String>>,
    pub active: Option<bool>,
    pub now: i64,
}

/// What holds a name of a workspace. Group slugs and usernames share one
/// namespace (both name a page); each engine keeps one row per held name in a
/// `names` table whose key is (workspace, name key), written in the same
/// transaction as the group or user, so the database itself refuses a second
/// holder however the writes interleave. A refused group write is `SlugTaken`, a
/// refused user write `UsernameTaken`. The name key is the one the domain gives
/// ([`Slug::key`], the username key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameHolder {
    Group(GroupId),
    User(UserId),
}

impl NameHolder {
    /// `(group id, user id)` of an optional holder, as the `names` columns hold them.
    pub fn ids(holder: Option<NameHolder>) -> (Option<i64>, Option<i64>) {
        match holder {
            Some(NameHolder::Group(g)) => (Some(g.0), None),
            Some(NameHolder::User(u)) => (None, Some(u.0)),
            None => (None, None),
        }
    }
}

/// The state of an idempotency key when a request claims it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// Claimed now: carry out the request, then finish or abort.
    Claimed,
    /// Another request with this key is being carried out.
    InProgress { request_hash: Vec<u8> },
    /// Done before, within the retention window: its answer.
    Done {
        request_hash: Vec<u8>,
        status: u16,
        body: String,
    },
}

impl IdempotencyClaim {
    /// The state of a key that could not be claimed, from its row: answered when
    /// it has a status and a body, else still being carried out.
    pub fn of_row(request_hash: Vec<u8>, status: Option<u16>, body: Option<String>) -> Self {
        match (status, body) {
            (Some(status), Some(body)) => IdempotencyClaim::Done {
                request_hash,
                status,
                body,
            },
            _ => IdempotencyClaim::InProgress { request_hash },
        }
    }
}

/// A request's claim on an idempotency key.
#[derive(Debug, Clone)]
pub struct NewClaim {
    pub request_hash: Vec<u8>,
    /// Names this claim's holder; renewals, answers and releases must carry it.
    pub token: i64,
    /// Seconds since the epoch; with `since`, for the retention of answers: keys
    /// made before `since` count as absent.
    pub now: i64,
    pub since: i64,
    /// Milliseconds since the epoch: now, and when this claim's lease runs out. An
    /// unfinished claim whose lease ran out before `now_ms` may be taken over.
    pub now_ms: i64,
    pub lease_until_ms: i64,
}

/// Workspaces (tenants).
#[async_trait]
pub trait WorkspaceStore: Send + Sync {
    /// Creates the default workspace when the store has none; returns it if created.
    async fn bootstrap(&self, now: i64) -> Result<Option<Workspace>, StoreError>;
    async fn create_workspace(&self, name: &str, now: i64) -> Result<Workspace, StoreError>;
    async fn list_workspaces(&self) -> Result<Vec<Workspace>, StoreError>;
    async fn find_workspace(&self, name: &str) -> Result<Option<Workspace>, StoreError>;
    /// Whether the database answers (a trivial query): readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;
    /// How many of each thing the workspace holds (the console's overview).
    async fn workspace_counts(&self, ws: WorkspaceId) -> Result<WorkspaceCounts, StoreError>;
}

/// API keys: stored hashes, look-up by prefix, revocation.
#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn insert_api_key(&self, ws: WorkspaceId, key: NewApiKey) -> Result<(), StoreError>;
    async fn find_api_key(&self, prefix: &str) -> Result<Option<ApiKeyRecord>, StoreError>;
    async fn list_api_keys(&self, ws: Option<WorkspaceId>) -> Result<Vec<ApiKey>, StoreError>;
    async fn revoke_api_key(&self, prefix: &str, now: i64) -> Result<(), StoreError>;
    /// Records that a key was used at `now` (never moving the time back).
    async fn touch_api_key(&self, prefix: &str, now: i64) -> Result<(), StoreError>;
    /// A token that changes whenever any process revokes a key in this store, read
    /// without a database round trip. The service caches checked keys only while it
    /// stays the same. `None`: this engine cannot tell, so keys are not cached.
    fn key_revocations(&self) -> Option<u64>;
}

/// Console sign-in sessions, by the SHA-256 of their cookie's token.
#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn insert_session(&self, token_hash: Vec<u8>, session: Session)
    -> Result<(), StoreError>;
    async fn find_session(&self, token_hash: &[u8]) -> Result<Option<Session>, StoreError>;
    /// Records a use of the session at `now`.
    async fn touch_session(&self, token_hash: &[u8], now: i64) -> Result<(), StoreError>;
    /// Ends a session (signing out); ending one that is gone is not an error.
    async fn delete_session(&self, token_hash: &[u8]) -> Result<(), StoreError>;
    /// Removes sessions last used before `seen_before` or made before
    /// `created_before`; returns how many went.
    async fn prune_sessions(
        &self,
        seen_before: i64,
        created_before: i64,
    ) -> Result<u64, StoreError>;
}

/// Group categories.
#[async_trait]
pub trait CategoryStore: Send + Sync {
    async fn create_category(
        &self,
        ws: WorkspaceId,
        name: &str,
        now: i64,
    ) -> Result<Category, StoreError>;
    async fn list_categories(&self, ws: WorkspaceId) -> Result<Vec<Category>, StoreError>;
    async fn rename_category(&self, ws: WorkspaceId, id: i64, name: &str)
    -> Result<(), StoreError>;
    /// Removes a category; its groups move to category 1, which cannot be removed
    /// (`DefaultCategory`). Returns how many moved.
    async fn delete_category(&self, ws: WorkspaceId, id: i64) -> Result<u64, StoreError>;
}

/// Group custom field definitions.
#[async_trait]
pub trait FieldStore: Send + Sync {
    async fn create_field(
        &self,
        ws: WorkspaceId,
        def: NewFieldDef,
        now: i64,
    ) -> Result<FieldDef, StoreError>;
    async fn list_fields(&self, ws: WorkspaceId) -> Result<Vec<FieldDef>, StoreError>;
    /// Removes a definition and every value groups had for it.
    async fn delete_field(&self, ws: WorkspaceId, id: i64) -> Result<(), StoreError>;
}

/// Groups, their icons, and the slug/username namespace.
#[async_trait]
pub trait GroupStore: Send + Sync {
    async fn insert_group(&self, ws: WorkspaceId, group: NewGroup) -> Result<GroupId, StoreError>;
    async fn update_group(
        &self,
        ws: WorkspaceId,
        id: GroupId,
        update: GroupUpdate,
    ) -> Result<(), StoreError>;
    /// Removes groups in one transaction: all or none. Built-in groups are refused
    /// (`BuiltinGroup`), as are a missing group or `successor` (`NotFound`) and a
    /// `successor` among `ids` (`SuccessorAmongRemoved`). The successor takes over
    /// the removed groups' members (see [`crate::domain::removal`]).
    async fn delete_groups(
        &self,
        ws: WorkspaceId,
        ids: &[GroupId],
        successor: Option<GroupId>,
    ) -> Result<(), StoreError>;
    async fn find_group(&self, ws: WorkspaceId, by: &GroupRef)
    -> Result<Option<Group>, StoreError>;
    /// Whether a group slug or a username other than `except`'s holds this name
    /// key (see [`NameHolder`]).
    async fn name_taken(
        &self,
        ws: WorkspaceId,
        key: &str,
        except: Option<NameHolder>,
    ) -> Result<bool, StoreError>;
    /// Groups in id order, after `after`, at most `limit`.
    async fn list_groups(
        &self,
        ws: WorkspaceId,
        after: Option<GroupId>,
        limit: u32,
    ) -> Result<Vec<Group>, StoreError>;
    /// The icon served under `token`, whatever its workspace (the public icon route);
    /// `Ok(None)` when no icon has this token. An indexed look-up.
    async fn icon_by_token(&self, token: &str) -> Result<Option<IconImage>, StoreError>;
    /// A page of groups (see [`GroupQuery`]).
    async fn query_groups(&self, ws: WorkspaceId, q: &GroupQuery)
    -> Result<Vec<Group>, StoreError>;
}

/// Users.
#[async_trait]
pub trait UserStore: Send + Sync {
    async fn insert_user(&self, ws: WorkspaceId, user: NewUser) -> Result<UserId, StoreError>;
    async fn update_user(
        &self,
        ws: WorkspaceId,
        id: UserId,
        u: UserUpdate,
    ) -> Result<(), StoreError>;
    /// Removes a user and their memberships.
    async fn delete_user(&self, ws: WorkspaceId, id: UserId) -> Result<(), StoreError>;
    async fn find_user(&self, ws: WorkspaceId, by: &UserRef) -> Result<Option<User>, StoreError>;
    /// The users of `ws` that any of `by` names, in one read (a bulk add of
    /// 1,000 names is one round trip), each once, in no promised order.
    async fn find_users(&self, ws: WorkspaceId, by: &[UserRef]) -> Result<Vec<User>, StoreError>;
    async fn list_users(
        &self,
        ws: WorkspaceId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError>;
}

/// Memberships.
#[async_trait]
pub trait MemberStore: Send + Sync {
    /// Adds users to a group in one transaction, all or none. The group's
    /// `limit_user` is never exceeded (`GroupFull`); unknown users are refused.
    /// Returns how many became members.
    async fn add_members(
        &self,
        ws: WorkspaceId,
        group: GroupId,
        users: Vec<UserId>,
        role: Option<GroupRole>,
        on_existing: OnExisting,
        now: i64,
    ) -> Result<u64, StoreError>;
    /// Removes users from a group, all or none; with `require_member`, a user who is
    /// not a member fails the call (`NotAMember`). Returns how many left.
    async fn remove_members(
        &self,
        ws: WorkspaceId,
        group: GroupId,
        users: Vec<UserId>,
        require_member: bool,
    ) -> Result<u64, StoreError>;
    /// Removes `remove` from a group and then adds `add` (as members, leaving
    /// those who already are), in one transaction: all or none, with the
    /// group's limits checked on the count after the removals. Users named in
    /// `remove` who are not members are passed over. Returns (left, joined).
    async fn change_members(
        &self,
        ws: WorkspaceId,
        group: GroupId,
        remove: Vec<UserId>,
        add: Vec<UserId>,
        now: i64,
    ) -> Result<(u64, u64), StoreError>;
    /// Members in user id order, after `after`.
    async fn list_members(
        &self,
        ws: WorkspaceId,
        group: GroupId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<Membership>, StoreError>;
    /// The user's role in each of `groups` they belong to (one query for a page).
    async fn member_roles(
        &self,
        ws: WorkspaceId,
        user: UserId,
        groups: &[GroupId],
    ) -> Result<std::collections::BTreeMap<GroupId, GroupRole>, StoreError>;
}

/// Idempotency keys (REST POST).
/// A key is claimed by one request at a time, under a lease its holder renews;
/// a claim whose lease ran out (its holder is gone) is taken over by the next
/// claim. Only the holder (`token`) renews, finishes or releases it.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key`, or says why not, in one atomic step: of claims racing for a
    /// free or lapsed key exactly one gets `Claimed`.
    async fn claim_idempotency_key(
        &self,
        ws: WorkspaceId,
        key: &str,
        claim: NewClaim,
    ) -> Result<IdempotencyClaim, StoreError>;
    /// Moves the holder's lease on to `lease_until_ms`; false when it is no
    /// longer the holder (the claim lapsed and was taken over, or ended).
    async fn renew_idempotency_key(
        &self,
        ws: WorkspaceId,
        key: &str,
        token: i64,
        lease_until_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Keeps the answer; false when `token` no longer holds the claim (nothing kept).
    async fn finish_idempotency_key(
        &self,
        ws: WorkspaceId,
        key: &str,
        token: i64,
        status: u16,
        body: String,
    ) -> Result<bool, StoreError>;
    /// Releases an unfinished claim of the holder, so the key is free again.
    async fn abort_idempotency_key(
        &self,
        ws: WorkspaceId,
        key: &str,
        token: i64,
    ) -> Result<(), StoreError>;
}

/// The audit log: events written by every other write, in its transaction.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// A page of a workspace's events in id order.
    async fn list_events(&self, ws: WorkspaceId, q: &EventQuery) -> Result<Vec<Event>, StoreError>;
    /// Removes at most `batch` events (of any workspace) older than `before_ms`
    /// that no pending delivery still needs and every enabled endpoint has had
    /// queued, with their finished deliveries.
    /// Returns how many went; call again until it is less than `batch`.
    async fn prune_events(&self, before_ms: i64, batch: u32) -> Result<u64, StoreError>;
}

/// A webhook endpoint to make; `secret` is its signing secret.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
    pub secret: String,
    pub now: i64,
}

/// Changes to an endpoint; `None` leaves a field as it is. Enabling clears the
/// reason groupd gave for disabling it.
#[derive(Debug, Clone, Default)]
pub struct WebhookUpdate {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub now: i64,
}

/// A delivery leased for sending: what the sender needs, all in one read.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: i64,
    pub workspace: WorkspaceId,
    pub webhook: i64,
    pub url: String,
    /// The secrets in force, newest first (two while a rotation overlaps).
    pub secrets: Vec<String>,
    pub event: Event,
    /// Attempts made before this one.
    pub attempts: i64,
    pub failing_since_ms: Option<i64>,
}

/// The end of one attempt, as the sender reports it.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub delivery: i64,
    /// The lease the attempt was made under; a lease since lost records nothing.
    pub token: i64,
    /// Whether the endpoint was failing when the delivery was leased (a success
    /// then marks it healthy again).
    pub was_failing: bool,
    pub attempt: Attempt,
    pub after: crate::domain::webhook::AfterAttempt,
}

/// Webhook endpoints and the delivery queue.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn create_webhook(&self, ws: WorkspaceId, w: NewWebhook) -> Result<Webhook, StoreError>;
    async fn list_webhooks(&self, ws: WorkspaceId) -> Result<Vec<Webhook>, StoreError>;
    async fn find_webhook(&self, ws: WorkspaceId, id: i64) -> Result<Option<Webhook>, StoreError>;
    async fn update_webhook(
        &self,
        ws: WorkspaceId,
        id: i64,
        u: WebhookUpdate,
    ) -> Result<Webhook, StoreError>;
    /// Removes an endpoint and its deliveries.
    async fn delete_webhook(&self, ws: WorkspaceId, id: i64) -> Result<(), StoreError>;
    /// Makes `secret` the signing secret; the one before still signs until
    /// `previous_until_ms`.
    async fn rotate_webhook_secret(
        &self,
        ws: WorkspaceId,
        id: i64,
        secret: String,
        previous_until_ms: i64,
        now: i64,
    ) -> Result<(), StoreError>;
    /// An endpoint's deliveries, newest first, before `before` (keyset paging).
    async fn list_deliveries(
        &self,
        ws: WorkspaceId,
        webhook: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError>;
    /// Sends a delivery again at `now_ms`, whatever its state.
    async fn retry_delivery(
        &self,
        ws: WorkspaceId,
        webhook: i64,
        delivery: i64,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Leases at most `limit` deliveries that are due at `now_ms` to enabled
    /// endpoints, and not leased by anyone else, until `lease_until_ms`, under
    /// `token`: first the events each enabled endpoint has not had yet (each
    /// endpoint keeps a cursor; they become delivery rows here, in one batch),
    /// then retries that came due. Two callers never hold the same delivery; a
    /// lease that ran out (its holder died) is taken over.
    async fn lease_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        token: i64,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StoreError>;
    /// Records attempts (in one transaction), moves each delivery on and, when
    /// its decision says so, marks its endpoint healthy, failing or disabled (a
    /// `webhook.updated` event by groupd itself). For each record in order:
    /// whether it was recorded; false, and nothing written for it, when its
    /// `token` no longer holds the lease.
    async fn finish_attempts(&self, records: Vec<AttemptRecord>) -> Result<Vec<bool>, StoreError>;
    /// How many deliveries are pending, over all workspaces: retries waiting, and
    /// events enabled endpoints have still to be sent (counted whatever their
    /// type).
    async fn pending_deliveries(&self) -> Result<u64, StoreError>;
}

/// Export and import (see [`dump`]).
#[async_trait]
pub trait DumpStore: Send + Sync {
    /// Every row of one workspace (or all), as JSON Lines, header first.
    async fn export(&self, ws: Option<WorkspaceId>) -> Result<Vec<String>, StoreError>;
    /// Loads an export into an empty database in one transaction, keeping ids.
    async fn import(&self, text: String) -> Result<u64, StoreError>;
    /// Copies the whole database, consistent as of one moment, to a new file at
    /// `dest` while writes go on (SQLite's online backup). Engines that have their
    /// own tools for it (PostgreSQL: pg_dump) refuse, saying which.
    async fn backup(&self, dest: &std::path::Path) -> Result<(), StoreError>;
}

/// Every store trait, for code that calls engines directly (tests, tools):
/// `use groupd::store::prelude::*;`.
pub mod prelude {
    pub use super::{
        CategoryStore, DumpStore, EventStore, FieldStore, GroupStore, IdempotencyStore, KeyStore,
        MemberStore, Store, UserStore, WebhookStore, WorkspaceStore,
    };
}

/// Every store operation: what the service holds. A caller that needs less asks
/// for the smallest trait above.
pub trait Store:
    WorkspaceStore
    + KeyStore
    + SessionStore
    + CategoryStore
    + FieldStore
    + GroupStore
    + UserStore
    + MemberStore
    + IdempotencyStore
    + EventStore
    + WebhookStore
    + DumpStore
    + 'static
{
}

impl<T> Store for T where
    T: WorkspaceStore
        + KeyStore
        + SessionStore
        + CategoryStore
        + FieldStore
        + GroupStore
        + UserStore
        + MemberStore
        + IdempotencyStore
        + EventStore
        + WebhookStore
        + DumpStore
        + 'static
{
}

/// The method a closure (or function) was written in, from its type name: for
/// `...::<impl GroupStore for SqliteStore>::find_group::{{closure}}`, `find_group`.
/// A `&'static str`, so a metric label costs no allocation.
pub(crate) fn op_name(type_name: &'static str) -> &'static str {
    type_name
        .rsplit("::")
        .map(|s| s.split('<').next().unwrap_or(""))
        .find(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .unwrap_or("unknown")
}

/// Records how long a store operation took (the `groupd_store_operation_duration_seconds`
/// histogram, by engine and operation).
pub(crate) fn record_op(engine: &'static str, op: &'static str, since: std::time::Instant) {
    thread_local! {
        /// This thread's histogram handles, by engine and operation: one small
        /// map look-up per operation instead of the recorder's registry (which
        /// hashes the whole label set under a lock on every call).
        static HANDLES: std::cell::RefCell<
            std::collections::HashMap<(&'static str, &'static str), metrics::Histogram>,
        > = Default::default();
    }
    let secs = since.elapsed().as_secs_f64();
    HANDLES.with(|cell| {
        let mut map = cell.borrow_mut();
        map.entry((engine, op))
            .or_insert_with(|| {
                metrics::histogram!(
                    "groupd_store_operation_duration_seconds",
                    "engine" => engine,
                    "operation" => op
                )
            })
            .record(secs);
    });
}

/// Milliseconds since the Unix epoch: the clock every event, lease and claim is
/// stamped with (the engines', the service's and the tests').
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// An event row's columns, in the order both engines' `event_from_row` read them
/// (the table aliased `e`).
macro_rules! event_columns {
    () => {
        "e.id, e.type, e.at_ms, e.actor, e.actor_label, e.door, e.group_id, e.user_id, \
         e.subject, e.changes"
    };
}
pub(crate) use event_columns;

/// A group's policy as both engines store it: one JSON column.
pub(crate) fn policy_json(policy: &GroupPolicy) -> Result<String, StoreError> {
    serde_json::to_string(policy).map_err(|e| StoreError::Backend(e.to_string()))
}

/// Reads a stored policy column back.
pub(crate) fn parse_policy(s: &str) -> Result<GroupPolicy, StoreError> {
    serde_json::from_str(s)
        .map_err(|e| StoreError::Backend(format!("stored policy unreadable: {e}")))
}

/// Both engines return a group's custom field values inside the group's own row, as
/// one JSON object built by a subquery (`{"3": "value"}`, or NULL when there are
/// none), so a page of 50 groups is one statement and not 51. This reads it back.
pub(crate) fn custom_fields_from_json(
    json: Option<&str>,
) -> Result<std::collections::BTreeMap<i64, String>, String> {
    let Some(json) = json.filter(|j| *j != "{}") else {
        return Ok(Default::default());
    };
    let raw: std::collections::BTreeMap<String, String> =
        serde_json::from_str(json).map_err(|e| format!("stored custom fields unreadable: {e}"))?;
    raw.into_iter()
        .map(|(k, v)| {
            k.parse::<i64>()
                .map(|k| (k, v))
                .map_err(|e| format!("stored custom field id {k:?} unreadable: {e}"))
        })
        .collect()
}

/// `by` split into ids, username keys and email keys (for `find_users`).
pub fn split_user_refs(by: &[UserRef]) -> UserRefLists {
    let mut lists = UserRefLists::default();
    for r in by {
        match r {
            UserRef::Id(id) => lists.ids.push(id.0),
            UserRef::Username(k) => lists.names.push(k.clone()),
            // An empty address is a user without one: it names nobody.
            UserRef::Email(k) if k.is_empty() => {}
            UserRef::Email(k) => lists.emails.push(k.clone()),
            UserRef::IdpName(k) => lists.idp_names.push(k.clone()),
        }
    }
    lists
}

/// User references split by kind, for one query that finds them all.
#[derive(Debug, Default)]
pub struct UserRefLists {
    pub ids: Vec<i64>,
    pub names: Vec<String>,
    pub emails: Vec<String>,
    pub idp_names: Vec<String>,
}

#[cfg(test)]
mod op_name_tests {
    use super::op_name;

    #[test]
    fn the_method_is_read_from_a_closure_type_name() {
        assert_eq!(
            op_name(
                "groupd::store::sqlite::groups::<impl groupd::store::GroupStore for groupd::store::sqlite::SqliteStore>::find_group::{{closure}}::{{closure}}"
            ),
            "find_group"
        );
        assert_eq!(
            op_name("groupd::store::postgres::keys::insert_api_key::f"),
            "f"
        );
        assert_eq!(
            op_name(
                "groupd::store::sqlite::webhooks::<impl groupd::store::WebhookStore for groupd::store::sqlite::SqliteStore>::lease_deliveries<'_, '_>::{{closure}}::{{closure}}"
            ),
            "lease_deliveries"
        );
        fn probe() {}
        let name = op_name(std::any::type_name_of_val(&probe));
        assert_eq!(name, "probe");
        let closure = || ();
        assert_eq!(
            op_name(std::any::type_name_of_val(&closure)),
            "the_method_is_read_from_a_closure_type_name"
        );
    }
}
