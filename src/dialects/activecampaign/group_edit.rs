//! `group_edit`: change the group `id`; only the fields sent change. Answers
//! "Group updated".

use super::Request;
use super::answer::{Failure, Reply};
use super::fields::{decode_group, required_id};
use crate::service::{Caller, Service};

pub async fn run(service: &Service, caller: Caller, req: &Request) -> Result<Reply, Failure> {
    let id = required_id(req)?;
    service
        .update_group(caller, &id.0.to_string(), decode_group(req))
        .await?;
    Ok(Reply::new("Group updated"))
}
