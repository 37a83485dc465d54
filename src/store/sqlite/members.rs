//! Memberships: the engine reads the rows, [`crate::domain::membership`] decides,
//! and the engine writes what it decided.

use super::events::record;
use super::*;
use crate::domain::event::{self, Audit};
use crate::domain::membership::{
    KnownUsers, MemberAddPlan, plan_member_adds, plan_member_removals,
};
use std::collections::BTreeSet;

#[async_trait]
impl MemberStore for SqliteStore {
    async fn add_members(
        &self,
        ws: WorkspaceId,
        group: GroupId,
        users: Vec<UserId>,
        role: Option<GroupRole>,
        on_existing: OnExisting,
        now: i64,
    ) -> Result<u64, StoreError> {
        self.write_audited(move |conn, audit| {
            add_members_in(conn, ws, group, users, role, on_existing, now, audit)
        })
        .await
    }

    async fn remove_members(
        &self,
        ws: WorkspaceId,
        group: GroupId,
        users: Vec<UserId>,
        require_member: bool,
    ) -> Result<u64, StoreError> {
        self.write_audited(move |conn, audit| {
            remove_members_in(conn, ws, group, users, require_member, audit)
        })
        .await
    }

    async fn change_members(
        &self,
        ws: WorkspaceId,
        group: GroupId,
        remove: Vec<UserId>,
        add: Vec<UserId>,
        now: i64,
    ) -> Result<(u64, u64), StoreError> {
        self.write_audited(move |conn, audit| {
            let left = remove_members_in(conn, ws, group, remove, false, audit)?;
            // Nobody joining checks no room (a group above a lowered limit
            // may still lose members).
            let joined = if add.is_empty() {
                0
            } else {
                add_members_in(conn, ws, group, add, None, OnExisting::Keep, now, audit)?
            };
            Ok((left, joined))
        })
        .await
    }

    async fn list_members(
        &self,
        ws: WorkspaceId,
        group: GroupId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<Membership>, StoreError> {
        self.read(move |conn| {
            conn.prepare_cached(concat!(
                "SELECT ",
                user_columns!(),
                ", m.role, m.joined_at FROM memberships m \
                 JOIN users u ON u.id = m.user_id \
                 WHERE m.group_id = ?1 AND u.workspace_id = ?2 AND m.user_id > ?3 \
                 ORDER BY m.user_id LIMIT ?4"
            ))?
            .query_map(
                params![group.0, ws.0, after.map_or(0, |u| u.0), limit],
                |r| {
                    Ok(Membership {
                        user: user_from_row(r)?,
                        role: parse_role(&r.get::<_, String>(USER_COLUMN_COUNT)?),
                        joined_at: r.get(USER_COLUMN_COUNT + 1)?,
                    })
                },
            )?
            .collect()
        })
        .await
    }

    async fn member_roles(
        &self,
        ws: WorkspaceId,
        user: UserId,
        groups: &[GroupId],
    ) -> Result<BTreeMap<GroupId, GroupRole>, StoreError> {
        // The ids go in as one JSON array so the statement is the same for any count.
        let ids = serde_json::to_string(&groups.iter().map(|g| g.0).collect::<Vec<_>>())
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT m.group_id, m.role FROM memberships m JOIN groups g ON g.id = m.group_id \
                 WHERE m.user_id = ?1 AND g.workspace_id = ?2 \
                 AND m.group_id IN (SELECT value FROM json_each(?3))",
            )?
            .query_map(params![user.0, ws.0, ids], |r| {
                Ok((GroupId(r.get(0)?), parse_role(&r.get::<_, String>(1)?)))
            })?
            .collect()
        })
        .await
    }
}

pub(super) fn parse_role(s: &str) -> GroupRole {
    GroupRole::parse(s).unwrap_or(GroupRole::Member)
}

/// User ids as one JSON array, read by `json_each`: one statement for any count.
fn id_array(users: &[UserId]) -> Result<String, StoreError> {
    serde_json::to_string(&users.iter().map(|u| u.0).collect::<Vec<_>>())
        .map_err(|e| StoreError::Backend(e.to_string()))
}

/// Adds members inside the caller's transaction; see [`MemberStore::add_members`].
#[allow(clippy::too_many_arguments)]
/// Reads the group's policy and count, then which of the users exist and their
/// roles (one statement); the domain decides; at most three statements write.
pub(super) fn add_members_in(
    conn: &Connection,
    ws: WorkspaceId,
    group: GroupId,
    users: Vec<UserId>,
    role: Option<GroupRole>,
    on_existing: OnExisting,
    now: i64,
    audit: &Audit,
) -> Result<u64, StoreError> {
    let row: Option<(String, i64)> = conn
        .row_cached(
            "SELECT policy, member_count FROM groups WHERE workspace_id = ?1 AND id = ?2",
            params![ws.0, group.0],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(map_err)?;
    let Some((policy, count)) = row else {
        return Err(StoreError::NotFound(Entity::Group));
    };
    let policy = crate::store::parse_policy(&policy)?;
    let known = known_users(conn, ws, group, &users)?;
    let plan = plan_member_adds(&policy, count, &users, &known, role, on_existing)?;
    write_adds(conn, group, &plan, now)?;
    record(
        conn,
        ws,
        audit,
        &event::member_add_events(group.0, &plan, &known),
    )?;
    Ok(plan.joining.len() as u64)
}

/// Those of `users` who exist in the workspace, each with their role in `group`.
fn known_users(
    conn: &Connection,
    ws: WorkspaceId,
    group: GroupId,
    users: &[UserId],
) -> Result<KnownUsers, StoreError> {
    if users.is_empty() {
        return Ok(KnownUsers::new());
    }
    let ids = id_array(users)?;
    conn.prepare_cached(
        "SELECT u.id, m.role FROM users u \
         LEFT JOIN memberships m ON m.group_id = ?2 AND m.user_id = u.id \
         WHERE u.workspace_id = ?1 AND u.id IN (SELECT value FROM json_each(?3))",
    )
    .and_then(|mut st| {
        st.query_map(params![ws.0, group.0, ids], |r| {
            Ok((
                UserId(r.get(0)?),
                r.get::<_, Option<String>>(1)?.as_deref().map(parse_role),
            ))
        })?
        .collect()
    })
    .map_err(map_err)
}

fn write_adds(
    conn: &Connection,
    group: GroupId,
    plan: &MemberAddPlan,
    now: i64,
) -> Result<(), StoreError> {
    let role = plan.role.as_str();
    if !plan.role_changes.is_empty() {
        conn.exec_cached(
            "UPDATE memberships SET role = ?3 \
             WHERE group_id = ?1 AND user_id IN (SELECT value FROM json_each(?2))",
            params![group.0, id_array(&plan.role_changes)?, role],
        )
        .map_err(map_err)?;
    }
    if !plan.joining.is_empty() {
        conn.exec_cached(
            "INSERT INTO memberships (group_id, user_id, role, joined_at) \
             SELECT ?1, value, ?3, ?4 FROM json_each(?2)",
            params![group.0, id_array(&plan.joining)?, role, now],
        )
        .map_err(map_err)?;
        conn.exec_cached(
            "UPDATE groups SET member_count = ?2 WHERE id = ?1",
            params![group.0, plan.member_count],
        )
        .map_err(map_err)?;
    }
    Ok(())
}

/// Removes members in the writer's transaction. The delete is the read: the rows it
/// returns are the users who were members, and when the domain refuses the
/// removal the transaction rolls it back.
fn remove_members_in(
    conn: &Connection,
    ws: WorkspaceId,
    group: GroupId,
    users: Vec<UserId>,
    require_member: bool,
    audit: &Audit,
) -> Result<u64, StoreError> {
    if group_builtin(conn, ws, group)?.is_none() {
        return Err(StoreError::NotFound(Entity::Group));
    }
    let were_members: BTreeSet<UserId> = if users.is_empty() {
        BTreeSet::new()
    } else {
        let ids = id_array(&users)?;
        conn.prepare_cached(
            "DELETE FROM memberships \
             WHERE group_id = ?1 AND user_id IN (SELECT value FROM json_each(?2)) \
             RETURNING user_id",
        )
        .and_then(|mut st| {
            st.query_map(params![group.0, ids], |r| Ok(UserId(r.get(0)?)))?
                .collect()
        })
        .map_err(map_err)?
    };
    let leaving = plan_member_removals(&users, &were_members, require_member)?;
    if !leaving.is_empty() {
        conn.exec_cached(
            "UPDATE groups SET member_count = member_count - ?2 WHERE id = ?1",
            params![group.0, leaving.len() as i64],
        )
        .map_err(map_err)?;
    }
    record(
        conn,
        ws,
        audit,
        &event::member_removed_events(group.0, &leaving),
    )?;
    Ok(leaving.len() as u64)
}
