//! `group_delete`: remove the group `id`; `alt` names the group that takes over its
//! members. Built-in groups are refused. Answers "Group deleted".

use super::Request;
use super::answer::{Failure, Reply};
use super::fields::{optional_alt, required_id};
use crate::service::{Caller, Service};

pub async fn run(service: &Service, caller: Caller, req: &Request) -> Result<Reply, Failure> {
    let id = required_id(req)?;
    let alt = optional_alt(req)?;
    service.delete_groups(caller, &[id], alt).await?;
    Ok(Reply::new("Group deleted"))
}
