//! `update=groups`: change a group named by `group` (id or slug). Only the fields
//! sent change. Answers `{"success":true}`.

use super::fields::decode_group;
use super::reply::Reply;
use crate::service::{Caller, Service};
use crate::wire::form::FormFields;

pub async fn run(service: &Service, caller: Caller, params: &FormFields) -> Result<Reply, Reply> {
    let draft = decode_group(params);
    let reference = params.get("group").unwrap_or_default();
    service.update_group(caller, reference, draft).await?;
    Ok(Reply::ok())
}
