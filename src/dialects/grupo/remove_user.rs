//! `remove=site_users`: remove the user named in `user`, with their memberships.
//! Answers `{"success":true}`.

use super::reply::Reply;
use crate::service::{Caller, Service};
use crate::wire::form::FormFields;

pub async fn run(service: &Service, caller: Caller, params: &FormFields) -> Result<Reply, Reply> {
    let reference = params.get("user").unwrap_or_default();
    service.delete_user(caller, reference).await?;
    Ok(Reply::ok())
}
