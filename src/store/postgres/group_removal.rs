//! Removing groups: the engine reads (and locks) each row and reads the members,
//! asks [`crate::domain::removal`], and writes what it decided.

use super::events::record;
use super::groups::group_in;
use super::*;
use crate::domain::event::{self, Audit};
use crate::domain::removal::{GroupRemoval, Member, RemovalRow};

async fn removal_row<C: GenericClient>(
    c: &C,
    ws: WorkspaceId,
    id: GroupId,
) -> Result<Option<RemovalRow>, StoreError> {
    Ok(lock_group(c, ws, id).await?.map(|kind| RemovalRow {
        builtin: kind.is_some(),
    }))
}

/// Removes `ids` inside the caller's transaction (all or none), their members
/// handed to `successor`. Rows are locked successor first, then in the order asked.
pub(super) async fn delete_groups_in<C: GenericClient>(
    c: &C,
    ws: WorkspaceId,
    ids: &[GroupId],
    successor: Option<GroupId>,
    audit: &Audit,
) -> Result<(), StoreError> {
    let mut removal = GroupRemoval::start(ids, successor)?;
    if let Some(alt) = removal.successor() {
        removal.successor_found(removal_row(c, ws, alt).await?)?;
    }
    for id in ids {
        removal.admit(*id, removal_row(c, ws, *id).await?)?;
        if let Some(alt) = removal.successor() {
            let members: Vec<Member> = c
                .query(
                    &c.cached(
                        "SELECT m.user_id, EXISTS (SELECT 1 FROM memberships s \
                         WHERE s.group_id = $2 AND s.user_id = m.user_id) \
                         FROM memberships m WHERE m.group_id = $1 ORDER BY m.user_id",
                    )
                    .await?,
                    &[&id.0, &alt.0],
                )
                .await
                .map_err(pg_err)?
                .iter()
                .map(|r| Member {
                    user: UserId(r.get(0)),
                    in_successor: r.get(1),
                })
                .collect();
            let movers = removal.movers(members);
            let now = now_secs();
            add_members_in(c, ws, alt, movers, None, OnExisting::Keep, now, audit).await?;
        }
        if let Some(before) = group_in(c, ws, *id, false).await? {
            record(c, ws, audit, &[event::group_deleted(&before)]).await?;
        }
        c.execute(
            &c.cached("DELETE FROM member_counts WHERE group_id = $1")
                .await?,
            &[&id.0],
        )
        .await
        .map_err(pg_err)?;
        c.execute(
            &c.cached("DELETE FROM groups WHERE id = $2 AND (workspace_id = $1) IS TRUE")
                .await?,
            &[&ws.0, &id.0],
        )
        .await
        .map_err(pg_err)?;
    }
    Ok(())
}
