//! `group_add`: create a group. Answers `group_id` and "Group added".

use super::Request;
use super::answer::{Failure, Reply};
use super::fields::decode_group;
use crate::service::{Caller, Service};
use crate::wire::value::Value;

pub async fn run(service: &Service, caller: Caller, req: &Request) -> Result<Reply, Failure> {
    let id = service.create_group(caller, decode_group(req)).await?.id;
    Ok(Reply::new("Group added").with("group_id", Value::Int(id.0)))
}
