//! `add=groups`: create a group. Answers `{"success":true,"group_id":N}`.

use super::fields::decode_group;
use super::reply::Reply;
use crate::service::{Caller, Service};
use crate::wire::form::FormFields;

pub async fn run(service: &Service, caller: Caller, params: &FormFields) -> Result<Reply, Reply> {
    let draft = decode_group(params);
    let id = service.create_group(caller, draft).await?.id;
    Ok(Reply::created(id.0))
}
