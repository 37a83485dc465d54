//! Memberships.

use super::*;

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
        self.writer
            .write(move |conn| add_members_in(conn, ws, group, users, role, on_existing, now))
            .await
    }

    async fn remove_members(
        &self,
        ws: WorkspaceId,
        group: GroupId,
        users: Vec<UserId>,
        require_member: bool,
    ) -> Result<u64, StoreError> {
        self.writer
            .write(move |conn| {
                if group_builtin(conn, ws, group)?.is_none() {
                    return Err(StoreError::NotFound(Entity::Group));
                }
                let mut removed = 0u64;
                for user in users {
                    let n = conn
                        .exec_cached(
                            "DELETE FROM memberships WHERE group_id = ?1 AND user_id = ?2",
                            params![group.0, user.0],
                        )
                        .map_err(map_err)?;
                    if n == 0 && require_member {
                        return Err(StoreError::NotAMember(user.0));
                    }
                    removed += n as u64;
                }
                if removed > 0 {
                    conn.exec_cached(
                        "UPDATE groups SET member_count = member_count - ?2 WHERE id = ?1",
                        params![group.0, removed as i64],
                    )
                    .map_err(map_err)?;
                }
                Ok(removed)
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
                        role: parse_role(&r.get::<_, String>(8)?),
                        joined_at: r.get(9)?,
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
