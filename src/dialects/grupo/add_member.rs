//! `add=group_members`: an administrative add of `user` (username or email) to
//! `group` (id or slug), with an optional `group_role` (member, moderator, admin).
//! Skips the password and visibility rules; never exceeds `limit_user`. Adding an
//! existing member succeeds (and changes their role when one is sent).

use super::reply::Reply;
use crate::domain::ValidationErrors;
use crate::domain::user::GroupRole;
use crate::service::{Caller, Service, ServiceError};
use crate::wire::form::FormFields;

pub async fn run(service: &Service, caller: Caller, params: &FormFields) -> Result<Reply, Reply> {
    let role = match params
        .get("group_role")
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        None => None,
        Some(raw) => Some(GroupRole::parse(raw).map_err(|m| {
            Reply::from(ServiceError::Invalid(ValidationErrors::single(
                "group_role",
                m,
            )))
        })?),
    };
    let group = params.get("group").unwrap_or_default();
    let user = params.get("user").unwrap_or_default();
    service.add_member(caller, group, user, role).await?;
    Ok(Reply::ok())
}
