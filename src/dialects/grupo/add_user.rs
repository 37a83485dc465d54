//! `add=site_users`: create a user from `full_name`, `username`, `email_address` and
//! `password` (all required). Answers `{"success":true,"user_id":N}`.

use super::fields::decode_user;
use super::reply::Reply;
use crate::service::{Caller, Service};
use crate::wire::form::FormFields;

pub async fn run(service: &Service, caller: Caller, params: &FormFields) -> Result<Reply, Reply> {
    let user = service.create_user(caller, decode_user(params)).await?;
    Ok(Reply::user_created(user.id.0))
}
