//! Workspaces (tenants). Every row in the store belongs to one; an API key reaches
//! only its own workspace.

use super::error::ValidationErrors;

pub const DEFAULT_WORKSPACE: &str = "default";
pub const WORKSPACE_NAME_MAX: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkspaceId(pub i64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
}

/// Workspace names are short identifiers: lower-case letters, digits, `-` and `_`.
pub fn validate_name(raw: &str) -> Result<String, ValidationErrors> {
    let name = raw.trim();
    let ok = !name.is_empty()
        && name.len() <= WORKSPACE_NAME_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(name.to_string())
    } else {
        Err(ValidationErrors::single(
            "name",
            format!("must be 1 to {WORKSPACE_NAME_MAX} characters of a-z, 0-9, '-' and '_'"),
        ))
    }
}

/// A workspace's totals: groups (built-in ones included), users, API keys not
/// revoked, webhook endpoints. (No membership total: at a million groups it
/// would read every group row, where these read an index.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkspaceCounts {
    pub groups: i64,
    pub users: i64,
    pub active_keys: i64,
    pub webhooks: i64,
}
