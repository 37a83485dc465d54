//! `group_list`: the groups named in `ids` (comma-separated), under keys 0, 1, ...
//! in the order asked. Ids that name no group are left out; when none is found the
//! call fails with "Failed: Nothing is returned", as the original does.

use super::Request;
use super::answer::{Failure, Reply};
use super::fields::{group_row, required_ids};
use crate::service::{Caller, Service};
use crate::wire::value::{Key, Value};

pub async fn run(service: &Service, caller: Caller, req: &Request) -> Result<Reply, Failure> {
    let ids = required_ids(req)?;
    let groups = service.get_groups(caller, &ids).await?;
    if groups.is_empty() {
        return Err(Failure::new("Failed: Nothing is returned".into()));
    }
    Ok(Reply {
        entries: groups
            .iter()
            .enumerate()
            .map(|(i, g)| (Key::Int(i as i64), Value::Map(group_row(g))))
            .collect(),
        message: "Success: Something is returned".into(),
    })
}
