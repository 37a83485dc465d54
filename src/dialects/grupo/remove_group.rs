//! `remove=groups`: remove the group named by `group` (id or slug), with its custom
//! field values and icon. Answers `{"success":true}`.

use super::reply::Reply;
use crate::service::{Caller, Service};
use crate::wire::form::FormFields;

pub async fn run(service: &Service, caller: Caller, params: &FormFields) -> Result<Reply, Reply> {
    let reference = params.get("group").unwrap_or_default();
    service.delete_group(caller, reference).await?;
    Ok(Reply::ok())
}
