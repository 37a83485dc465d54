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
/// The count slots are written last, in group order (see migration 8): the
/// successor's delta, and the removed groups' slots deleted after the groups
/// (whose cascades may wait on user deletes that write slots).
pub(super) async fn delete_groups_in<C: GenericClient>(
    c: &C,
    ws: WorkspaceId,
    ids: &[GroupId],
    successor: Option<GroupId>,
    audit: &Audit,
) -> Result<(), StoreError> {
    let mut removal = GroupRemoval::start(ids, successor)?;
    let mut moved: i64 = 0;
    if let Some(alt) = removal.successor() {
        removal.successor_found(removal_row(c, ws, alt).await?)?;
    }
    for id in ids {
        removal.admit(*id, removal_row(c, ws, *id).await?)?;
        if let Some(alt) = removal.successor() {
            let members: Vec<Member> = c
                .query(
                    &c.cached(
                        // The users locked for key share: one being deleted is
                        // waited for, and then is not among the members.
                        "SELECT m.user_id, EXISTS (SELECT 1 FROM memberships s \
                         WHERE s.group_id = $2 AND s.user_id = m.user_id) \
                         FROM memberships m JOIN users u ON u.id = m.user_id \
                         WHERE m.group_id = $1 ORDER BY m.user_id FOR KEY SHARE OF u",
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
            let (joined, _) = add_members_in(
                c,
                ws,
                alt,
                movers,
                None,
                OnExisting::Keep,
                now,
                audit,
                Counting::Later,
            )
            .await?;
            moved += joined as i64;
        }
        if let Some(before) = group_in(c, ws, *id, false).await? {
            record(c, ws, audit, &[event::group_deleted(&before)]).await?;
        }
        c.execute(
            &c.cached("DELETE FROM groups WHERE id = $2 AND (workspace_id = $1) IS TRUE")
                .await?,
            &[&ws.0, &id.0],
        )
        .await
        .map_err(pg_err)?;
    }
    let mut slots: Vec<i64> = ids.iter().map(|g| g.0).collect();
    slots.extend(successor.map(|s| s.0));
    slots.sort_unstable();
    slots.dedup();
    for group in slots {
        if Some(GroupId(group)) == successor {
            if moved > 0 {
                c.execute(&c.cached(COUNT_DELTA).await?, &[&group, &moved])
                    .await
                    .map_err(pg_err)?;
            }
        } else {
            c.execute(
                &c.cached("DELETE FROM member_counts WHERE group_id = $1")
                    .await?,
                &[&group],
            )
            .await
            .map_err(pg_err)?;
        }
    }
    Ok(())
}
