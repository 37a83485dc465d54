//! Memberships: the engine reads the rows, [`crate::domain::membership`] decides,
//! and the engine writes what it decided.

use super::events::record;
use super::*;
use crate::domain::event::{self, Audit};
use crate::domain::membership::{
    KnownUsers, MemberAddPlan, plan_member_adds, plan_member_removals,
};
use crate::store::parse_policy;
use std::collections::BTreeSet;

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
        let mut c = self.client_for(op!()).await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let audit = Self::audit();
        let n = add_members_in(&tx, ws, group, users, role, on_existing, now, &audit).await?;
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
        let mut c = self.client_for(op!()).await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let audit = Self::audit();
        let n = remove_members_in(&tx, ws, group, users, require_member, &audit).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(n)
    }

    async fn list_members(
        &self,
        ws: WorkspaceId,
        group: GroupId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<Membership>, StoreError> {
        let c = self.client_for(op!()).await?;
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
                role: parse_role(&r.get::<_, String>(8)),
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
        let c = self.client_for(op!()).await?;
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
                let role = parse_role(&r.get::<_, String>(1));
                (GroupId(r.get(0)), role)
            })
            .collect())
    }
}

fn parse_role(s: &str) -> GroupRole {
    GroupRole::parse(s).unwrap_or(GroupRole::Member)
}

fn ids(users: &[UserId]) -> Vec<i64> {
    users.iter().map(|u| u.0).collect()
}

/// Adds members inside the caller's transaction; see [`MemberStore::add_members`].
/// Locks the group row (which serialises every membership change of the group, on
/// every instance) reading its policy and count, reads which of the users exist and
/// their roles in one query; the domain decides; at most three statements write,
/// and one records the events.
#[allow(clippy::too_many_arguments)]
pub(super) async fn add_members_in<C: GenericClient>(
    c: &C,
    ws: WorkspaceId,
    group: GroupId,
    users: Vec<UserId>,
    role: Option<GroupRole>,
    on_existing: OnExisting,
    now: i64,
    audit: &Audit,
) -> Result<u64, StoreError> {
    let row = c
        .query_opt(
            &c.cached("SELECT policy, member_count FROM groups WHERE id = $2 AND (workspace_id = $1) IS TRUE FOR UPDATE").await?,
            &[&ws.0, &group.0],
        )
        .await
        .map_err(pg_err)?;
    let Some(row) = row else {
        return Err(StoreError::NotFound(Entity::Group));
    };
    let policy = parse_policy(&row.get::<_, String>(0))?;
    let count: i64 = row.get(1);
    let known = known_users(c, ws, group, &users).await?;
    let plan = plan_member_adds(&policy, count, &users, &known, role, on_existing)?;
    write_adds(c, group, &plan, now).await?;
    record(
        c,
        ws,
        audit,
        &event::member_add_events(group.0, &plan, &known),
    )
    .await?;
    Ok(plan.joining.len() as u64)
}

/// Those of `users` who exist in the workspace, each with their role in `group`.
async fn known_users<C: GenericClient>(
    c: &C,
    ws: WorkspaceId,
    group: GroupId,
    users: &[UserId],
) -> Result<KnownUsers, StoreError> {
    if users.is_empty() {
        return Ok(KnownUsers::new());
    }
    let rows = c
        .query(
            &c.cached(
                "SELECT u.id, m.role FROM users u \
                 LEFT JOIN memberships m ON m.group_id = $2 AND m.user_id = u.id \
                 WHERE u.workspace_id = $1 AND u.id = ANY($3)",
            )
            .await?,
            &[&ws.0, &group.0, &ids(users)],
        )
        .await
        .map_err(pg_err)?;
    Ok(rows
        .iter()
        .map(|r| {
            let role: Option<String> = r.get(1);
            (UserId(r.get(0)), role.as_deref().map(parse_role))
        })
        .collect())
}

async fn write_adds<C: GenericClient>(
    c: &C,
    group: GroupId,
    plan: &MemberAddPlan,
    now: i64,
) -> Result<(), StoreError> {
    let role = plan.role.as_str();
    if !plan.role_changes.is_empty() {
        c.execute(
            &c.cached("UPDATE memberships SET role = $3 WHERE group_id = $1 AND user_id = ANY($2)")
                .await?,
            &[&group.0, &ids(&plan.role_changes), &role],
        )
        .await
        .map_err(pg_err)?;
    }
    if !plan.joining.is_empty() {
        c.execute(
            &c.cached(
                "INSERT INTO memberships (group_id, user_id, role, joined_at) \
                 SELECT $1::BIGINT, u, $3::TEXT, $4::BIGINT FROM unnest($2::BIGINT[]) AS u",
            )
            .await?,
            &[&group.0, &ids(&plan.joining), &role, &now],
        )
        .await
        .map_err(pg_err)?;
        c.execute(
            &c.cached("UPDATE groups SET member_count = $2 WHERE id = $1")
                .await?,
            &[&group.0, &plan.member_count],
        )
        .await
        .map_err(pg_err)?;
    }
    Ok(())
}

/// Removes members in the caller's transaction, with the group row locked. The
/// delete is the read: the rows it returns are the users who were members, and
/// when the domain refuses the removal the transaction rolls it back.
async fn remove_members_in<C: GenericClient>(
    c: &C,
    ws: WorkspaceId,
    group: GroupId,
    users: Vec<UserId>,
    require_member: bool,
    audit: &Audit,
) -> Result<u64, StoreError> {
    if lock_group(c, ws, group).await?.is_none() {
        return Err(StoreError::NotFound(Entity::Group));
    }
    let were_members: BTreeSet<UserId> = if users.is_empty() {
        BTreeSet::new()
    } else {
        c.query(
            &c.cached(
                "DELETE FROM memberships WHERE group_id = $1 AND user_id = ANY($2) \
                 RETURNING user_id",
            )
            .await?,
            &[&group.0, &ids(&users)],
        )
        .await
        .map_err(pg_err)?
        .iter()
        .map(|r| UserId(r.get(0)))
        .collect()
    };
    let leaving = plan_member_removals(&users, &were_members, require_member)?;
    if !leaving.is_empty() {
        c.execute(
            &c.cached("UPDATE groups SET member_count = member_count - $2 WHERE id = $1")
                .await?,
            &[&group.0, &(leaving.len() as i64)],
        )
        .await
        .map_err(pg_err)?;
    }
    record(
        c,
        ws,
        audit,
        &event::member_removed_events(group.0, &leaving),
    )
    .await?;
    Ok(leaving.len() as u64)
}
