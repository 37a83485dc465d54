//! `group_list`: the groups named in `ids` (comma-separated), under keys 0, 1, ...
//! in the order asked, or with `ids=all` the workspace's groups in id order (at
//! most [`MAX_IDS`], as for named ids), as ActiveCampaign's other list calls take
//! it. Ids that name no group are left out; when none is found the call fails with
//! "Failed: Nothing is returned", as the original does.

use super::Request;
use super::answer::{Failure, Reply};
use super::fields::{MAX_IDS, group_row, required_ids};
use crate::service::{Caller, Service};
use crate::wire::value::{Key, Value};

pub async fn run(service: &Service, caller: Caller, req: &Request) -> Result<Reply, Failure> {
    let groups = if req
        .param("ids")
        .is_some_and(|v| v.eq_ignore_ascii_case("all"))
    {
        service.list_groups(caller, None, MAX_IDS as u32).await?
    } else {
        let ids = required_ids(req)?;
        service.get_groups(caller, &ids).await?
    };
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
