//! The service: the one place where a domain command is carried out against the
//! store. Dialects and the command line call it; nothing else writes.

mod admin;
mod groups;
pub mod icons;
mod keys;
pub mod passwords;

use crate::domain::ValidationErrors;
use crate::domain::workspace::WorkspaceId;
use crate::store::{Store, StoreError};
use std::sync::Arc;

pub use icons::{IconFetcher, IconPolicy};
pub use keys::NewKey;

/// Who is calling: the workspace an API key opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub workspace: WorkspaceId,
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
    #[error("workspace '{0}' not found")]
    WorkspaceNotFound(String),
    #[error("category {0} not found")]
    CategoryNotFound(i64),
    #[error("custom field {0} not found")]
    FieldNotFound(i64),
    #[error("API key '{0}' not found")]
    KeyNotFound(String),
    #[error("{0}")]
    Conflict(String),
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
            StoreError::NotFound("group") => ServiceError::GroupNotFound,
            StoreError::NotFound(what) => ServiceError::Refused(format!("{what} not found")),
            StoreError::AlreadyExists(what) => {
                ServiceError::Conflict(format!("{what} already exists"))
            }
            StoreError::UnknownCategory(id) => ServiceError::CategoryNotFound(id),
            StoreError::UnknownField(id) => ServiceError::FieldNotFound(id),
            StoreError::Refused(msg) => ServiceError::Refused(msg),
            StoreError::BuiltinGroup(id) => ServiceError::BuiltinGroup(id),
            StoreError::Unavailable(msg) => ServiceError::Unavailable(msg),
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
}

impl Service {
    pub fn new(store: Arc<dyn Store>, icons: IconFetcher) -> Service {
        Service { store, icons }
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
