//! Memberships.

use super::*;

#[async_trait]
impl MemberStore for PostgresStore {
    async fn add_members(
        &self,
        ws: WorkspaceId,
        group: GroupId,
        users: Vec<UserId>,
        role: Option<GroupRole>,
        on_existing: OnExisting,
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let n = add_members_in(&tx, ws, group, users, role, on_existing, now).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(n)
    }

    async fn remove_members(
        &self,
        ws: WorkspaceId,
        group: GroupId,
        users: Vec<UserId>,
        require_member: bool,
    ) -> Result<u64, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        if lock_group(&tx, ws, group).await?.is_none() {
            return Err(StoreError::NotFound(Entity::Group));
        }
        let mut removed = 0u64;
        for user in users {
            let n = tx
                .execute(
                    &tx.cached("DELETE FROM memberships WHERE group_id = $1 AND user_id = $2")
                        .await?,
                    &[&group.0, &user.0],
                )
                .await
                .map_err(pg_err)?;
            if n == 0 && require_member {
                return Err(StoreError::NotAMember(user.0));
            }
            removed += n;
        }
        if removed > 0 {
            tx.execute(
                &tx.cached("UPDATE groups SET member_count = member_count - $2 WHERE id = $1")
                    .await?,
                &[&group.0, &(removed as i64)],
            )
            .await
            .map_err(pg_err)?;
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(removed)
    }

    async fn list_members(
        &self,
        ws: WorkspaceId,
        group: GroupId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<Membership>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .query(
                &c.cached(concat!("SELECT ", user_columns!(), ", m.role, m.joined_at FROM memberships m JOIN users u ON u.id = m.user_id \
                     WHERE m.group_id = $1 AND u.workspace_id = $2 AND m.user_id > $3 ORDER BY m.user_id LIMIT $4")).await?,
                &[&group.0, &ws.0, &after.map_or(0, |u| u.0), &i64::from(limit)],
            )
            .await
            .map_err(pg_err)?;
        Ok(rows
            .iter()
            .map(|r| Membership {
                user: user_from_row(r),
                role: GroupRole::parse(&r.get::<_, String>(8)).unwrap_or(GroupRole::Member),
                joined_at: r.get(9),
            })
            .collect())
    }

    async fn member_roles(
        &self,
        ws: WorkspaceId,
        user: UserId,
        groups: &[GroupId],
    ) -> Result<std::collections::BTreeMap<GroupId, GroupRole>, StoreError> {
        let ids: Vec<i64> = groups.iter().map(|g| g.0).collect();
        let c = self.client().await?;
        let rows = c
            .query(
                &c.cached(
                    "SELECT m.group_id, m.role FROM memberships m JOIN groups g ON g.id = m.group_id \
                     WHERE m.user_id = $1 AND g.workspace_id = $2 AND m.group_id = ANY($3)",
                )
                .await?,
                &[&user.0, &ws.0, &ids],
            )
            .await
            .map_err(pg_err)?;
        Ok(rows
            .iter()
            .map(|r| {
                let role = GroupRole::parse(&r.get::<_, String>(1)).unwrap_or(GroupRole::Member);
                (GroupId(r.get(0)), role)
            })
            .collect())
    }
}
