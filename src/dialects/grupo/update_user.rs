//! `update=site_users`: change the user named in `user` (username or email
//! address); only the fields sent change. Answers `{"success":true}`.

use super::fields::decode_user;
use super::reply::Reply;
use crate::service::{Caller, Service};
use crate::wire::form::FormFields;

pub async fn run(service: &Service, caller: Caller, params: &FormFields) -> Result<Reply, Reply> {
    let reference = params.get("user").unwrap_or_default();
    service
        .update_user(caller, reference, decode_user(params))
        .await?;
    Ok(Reply::ok())
}
