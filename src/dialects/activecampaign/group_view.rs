//! `group_view`: one group's settings, by `id`.

use super::Request;
use super::answer::{Failure, Reply};
use super::fields::{group_row, required_id};
use crate::service::{Caller, Service};

pub async fn run(service: &Service, caller: Caller, req: &Request) -> Result<Reply, Failure> {
    let id = required_id(req)?;
    let group = service.get_group(caller, &id.0.to_string()).await?;
    Ok(Reply {
        entries: group_row(&group),
        message: "Success: Something is returned".into(),
    })
}
