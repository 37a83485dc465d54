//! `remove=group_members`: an administrative removal of `user` from `group`;
//! unleavable groups do not stop it. `not_a_member` when they were not in it.

use super::reply::Reply;
use crate::service::{Caller, Service};
use crate::wire::form::FormFields;

pub async fn run(service: &Service, caller: Caller, params: &FormFields) -> Result<Reply, Reply> {
    let group = params.get("group").unwrap_or_default();
    let user = params.get("user").unwrap_or_default();
    service.remove_member(caller, group, user).await?;
    Ok(Reply::ok())
}
