//! Removing groups: the engine reads each row and the members, asks
//! [`crate::domain::removal`], and writes what it decided.

use super::events::record;
use super::groups::group_in;
use super::*;
use crate::domain::event::{self, Audit};
use crate::domain::removal::{GroupRemoval, Member, RemovalRow};

fn removal_row(
    conn: &Connection,
    ws: WorkspaceId,
    id: GroupId,
) -> Result<Option<RemovalRow>, StoreError> {
    Ok(group_builtin(conn, ws, id)?.map(|kind| RemovalRow {
        builtin: kind.is_some(),
    }))
}

/// Removes `ids` inside the writer's transaction (all or none), their members
/// handed to `successor`.
pub(super) fn delete_groups_in(
    conn: &Connection,
    ws: WorkspaceId,
    ids: &[GroupId],
    successor: Option<GroupId>,
    audit: &Audit,
) -> Result<(), StoreError> {
    let mut removal = GroupRemoval::start(ids, successor)?;
    if let Some(alt) = removal.successor() {
        removal.successor_found(removal_row(conn, ws, alt)?)?;
    }
    for id in ids {
        removal.admit(*id, removal_row(conn, ws, *id)?)?;
        if let Some(alt) = removal.successor() {
            let members: Vec<Member> = conn
                .prepare_cached(
                    "SELECT m.user_id, EXISTS (SELECT 1 FROM memberships s \
                     WHERE s.group_id = ?2 AND s.user_id = m.user_id) \
                     FROM memberships m WHERE m.group_id = ?1 ORDER BY m.user_id",
                )
                .and_then(|mut st| {
                    st.query_map(params![id.0, alt.0], |r| {
                        Ok(Member {
                            user: UserId(r.get(0)?),
                            in_successor: r.get(1)?,
                        })
                    })?
                    .collect()
                })
                .map_err(map_err)?;
            let movers = removal.movers(members);
            add_members_in(
                conn,
                ws,
                alt,
                movers,
                None,
                OnExisting::Keep,
                crate_now(),
                audit,
            )?;
        }
        if let Some(before) = group_in(conn, ws, *id)? {
            record(conn, ws, audit, &[event::group_deleted(&before)])?;
        }
        conn.exec_cached(
            "DELETE FROM groups WHERE workspace_id = ?1 AND id = ?2",
            params![ws.0, id.0],
        )
        .map_err(map_err)?;
    }
    Ok(())
}
