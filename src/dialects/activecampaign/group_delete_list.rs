//! `group_delete_list`: remove every group in `ids`, all or none; `alt` takes over
//! their members. Answers "Groups deleted".

use super::Request;
use super::answer::{Failure, Reply};
use super::fields::{optional_alt, required_ids};
use crate::service::{Caller, Service};

pub async fn run(service: &Service, caller: Caller, req: &Request) -> Result<Reply, Failure> {
    let ids = required_ids(req)?;
    let alt = optional_alt(req)?;
    service.delete_groups(caller, &ids, alt).await?;
    Ok(Reply::new("Groups deleted"))
}
