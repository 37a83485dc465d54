//! Storage: one [`Store`] trait and the engines behind it.
//!
//! The store holds no business rules beyond what the database itself guarantees
//! (uniqueness, foreign keys, atomic writes); the service decides what to write.
//! Every method takes the workspace it acts in, except the few that are global by
//! nature (workspaces themselves, key look-up by prefix, the public icon route).

pub mod conformance;
pub mod sqlite;

use crate::domain::category::Category;
use crate::domain::field::{FieldDef, NewFieldDef};
use crate::domain::group::{Group, GroupId, GroupRef};
use crate::domain::key::ApiKey;
use crate::domain::policy::{GroupPolicy, PolicyPatch};
use crate::domain::slug::Slug;
use crate::domain::workspace::{Workspace, WorkspaceId};
use async_trait::async_trait;

/// The store layer's error. Engines map their own errors into it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("a group with this slug already exists in the workspace")]
    SlugTaken,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("category {0} does not exist")]
    UnknownCategory(i64),
    #[error("custom field {0} does not exist")]
    UnknownField(i64),
    #[error("{0}")]
    Refused(String),
    #[error("group {0} is built in and cannot be removed")]
    BuiltinGroup(i64),
    #[error(
        "the database schema is at version {found}, newer than this groupd understands \
         ({supported}); run a groupd at least as new as the one that last used this database"
    )]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Backend(String),
}

/// An icon image as stored: already cropped and encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IconImage {
    pub content_type: String,
    pub data: Vec<u8>,
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
    pub now: i64,
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
    pub now: i64,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    // Workspaces.
    /// Creates the default workspace when the store has none; returns it if created.
    async fn bootstrap(&self, now: i64) -> Result<Option<Workspace>, StoreError>;
    async fn create_workspace(&self, name: &str, now: i64) -> Result<Workspace, StoreError>;
    async fn list_workspaces(&self) -> Result<Vec<Workspace>, StoreError>;
    async fn find_workspace(&self, name: &str) -> Result<Option<Workspace>, StoreError>;

    // API keys.
    async fn insert_api_key(&self, ws: WorkspaceId, key: NewApiKey) -> Result<(), StoreError>;
    async fn find_api_key(&self, prefix: &str) -> Result<Option<ApiKeyRecord>, StoreError>;
    async fn list_api_keys(&self, ws: Option<WorkspaceId>) -> Result<Vec<ApiKey>, StoreError>;
    async fn revoke_api_key(&self, prefix: &str, now: i64) -> Result<(), StoreError>;

    // Categories.
    async fn create_category(
        &self,
        ws: WorkspaceId,
        name: &str,
        now: i64,
    ) -> Result<Category, StoreError>;
    async fn list_categories(&self, ws: WorkspaceId) -> Result<Vec<Category>, StoreError>;
    async fn rename_category(&self, ws: WorkspaceId, id: i64, name: &str)
    -> Result<(), StoreError>;
    /// Removes a category; its groups move to category 1. Returns how many moved.
    async fn delete_category(&self, ws: WorkspaceId, id: i64) -> Result<u64, StoreError>;

    // Group custom field definitions.
    async fn create_field(
        &self,
        ws: WorkspaceId,
        def: NewFieldDef,
        now: i64,
    ) -> Result<FieldDef, StoreError>;
    async fn list_fields(&self, ws: WorkspaceId) -> Result<Vec<FieldDef>, StoreError>;
    /// Removes a definition and every value groups had for it.
    async fn delete_field(&self, ws: WorkspaceId, id: i64) -> Result<(), StoreError>;

    // Groups.
    async fn insert_group(&self, ws: WorkspaceId, group: NewGroup) -> Result<GroupId, StoreError>;
    async fn update_group(
        &self,
        ws: WorkspaceId,
        id: GroupId,
        update: GroupUpdate,
    ) -> Result<(), StoreError>;
    /// Removes groups in one transaction: all or none. Built-in groups are refused
    /// (`Refused`), as is a `successor` that is missing or among `ids`. The
    /// successor is the group that takes over the removed groups' members.
    async fn delete_groups(
        &self,
        ws: WorkspaceId,
        ids: &[GroupId],
        successor: Option<GroupId>,
    ) -> Result<(), StoreError>;
    async fn find_group(&self, ws: WorkspaceId, by: &GroupRef)
    -> Result<Option<Group>, StoreError>;
    /// Whether another group than `except` holds this slug key.
    async fn slug_taken(
        &self,
        ws: WorkspaceId,
        slug_key: &str,
        except: Option<GroupId>,
    ) -> Result<bool, StoreError>;
    /// Groups in id order, after `after`, at most `limit`.
    async fn list_groups(
        &self,
        ws: WorkspaceId,
        after: Option<GroupId>,
        limit: u32,
    ) -> Result<Vec<Group>, StoreError>;
    /// The icon of a group by its global id, whatever its workspace (the public icon
    /// route); `Ok(None)` when the group has none, `NotFound` when there is no group.
    async fn group_icon(&self, id: GroupId) -> Result<Option<IconImage>, StoreError>;
}
