//! Memberships: the engine reads the rows, [`crate::domain::membership`] decides,
//! and the engine writes what it decided.

use super::events::{EventRows, insert_events, record};
use super::*;
use crate::domain::event::{self, Audit};
use crate::domain::membership::{
    KnownUsers, MemberAddPlan, adds_need_count, plan_member_adds, plan_member_removals,
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
        let audit = Self::audit();
        if role.is_none()
            && let Some(n) = self
                .add_members_at_once(ws, group, &users, on_existing, now, &audit)
                .await?
        {
            return Ok(n);
        }
        let mut c = self.client_for(op!()).await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let (n, policy) = add_members_in(
            &tx,
            ws,
            group,
            users,
            role,
            on_existing,
            now,
            &audit,
            Counting::Now,
        )
        .await?;
        tx.commit().await.map_err(pg_err)?;
        self.policies.put(group, policy.text, policy.policy);
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

    async fn change_members(
        &self,
        ws: WorkspaceId,
        group: GroupId,
        remove: Vec<UserId>,
        add: Vec<UserId>,
        now: i64,
    ) -> Result<(u64, u64), StoreError> {
        let mut c = self.client_for(op!()).await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let audit = Self::audit();
        // The add's lock first, so that the removal's weaker one is not
        // upgraded while another change holds it too.
        tx.execute(
            &tx.cached(
                "SELECT 1 FROM groups WHERE id = $2 AND (workspace_id = $1) IS TRUE FOR UPDATE",
            )
            .await?,
            &[&ws.0, &group.0],
        )
        .await
        .map_err(pg_err)?;
        let left = remove_members_in(&tx, ws, group, remove, false, &audit).await?;
        if add.is_empty() {
            // Nobody joining checks no room (a group above a lowered limit
            // may still lose members).
            tx.commit().await.map_err(pg_err)?;
            return Ok((left, 0));
        }
        let (joined, policy) = add_members_in(
            &tx,
            ws,
            group,
            add,
            None,
            OnExisting::Keep,
            now,
            &audit,
            Counting::Now,
        )
        .await?;
        tx.commit().await.map_err(pg_err)?;
        self.policies.put(group, policy.text, policy.policy);
        Ok((left, joined))
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
                role: parse_role(&r.get::<_, String>(USER_COLUMN_COUNT)),
                joined_at: r.get(USER_COLUMN_COUNT + 1),
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

impl PostgresStore {
    /// The common add, in one statement and one round trip: no role asked, to a
    /// group whose adds do not depend on its member count (no member limit), as
    /// this instance last read its policy. The domain plans on what the statement
    /// assumes (every user asked exists in the workspace and none is a member
    /// yet), and the statement checks it: it locks the group row for key share
    /// (never waiting on another add) only if its policy is still the one planned
    /// on, locks the users for key share in id order (before the count slot, so
    /// it never holds a slot while waiting for a user), inserts the memberships,
    /// and adds to the count in its connection's slot; when fewer rows went in
    /// than planned it aborts, writing nothing.
    /// `None` then, or when there is no policy to plan on: the caller takes the
    /// careful path ([`add_members_in`]), which reads the rows as they are.
    async fn add_members_at_once(
        &self,
        ws: WorkspaceId,
        group: GroupId,
        users: &[UserId],
        on_existing: OnExisting,
        now: i64,
        audit: &Audit,
    ) -> Result<Option<u64>, StoreError> {
        let Some(cached) = self.policies.get(group) else {
            return Ok(None);
        };
        if adds_need_count(&cached.policy) || users.is_empty() {
            return Ok(None);
        }
        let assumed: KnownUsers = users.iter().map(|u| (*u, None)).collect();
        let Ok(plan) = plan_member_adds(&cached.policy, 0, users, &assumed, None, on_existing)
        else {
            return Ok(None);
        };
        let drafts = event::member_add_events(group.0, &plan, &assumed);
        let events = EventRows::new(audit, &drafts);
        let joining = ids(&plan.joining);
        let role = plan.role.as_str();
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&ws.0];
        params.extend(events.params());
        params.extend::<[&(dyn ToSql + Sync); 5]>([&group.0, &cached.text, &joining, &role, &now]);
        let c = self.client_for(op!()).await?;
        let sql = concat!(
            "WITH g AS (SELECT id FROM groups WHERE id = $11 AND workspace_id = $1 \
               AND policy = $12 FOR KEY SHARE), \
             us AS (SELECT id FROM users WHERE workspace_id = $1 AND id = ANY($13::bigint[]) \
               ORDER BY id FOR KEY SHARE), \
             ins AS (INSERT INTO memberships (group_id, user_id, role, joined_at) \
               SELECT g.id, us.id, $14, $15 FROM g, us ORDER BY us.id \
               ON CONFLICT DO NOTHING RETURNING user_id), \
             n AS (SELECT count(*) AS n FROM ins), \
             counted AS (INSERT INTO member_counts (group_id, slot, n) \
               SELECT $11, (pg_backend_pid() % 16)::smallint, n.n FROM n WHERE n.n > 0 \
               ON CONFLICT (group_id, slot) DO UPDATE SET n = member_counts.n + excluded.n), \
             recorded AS (",
            insert_events!("x.g", ""),
            ") SELECT CASE WHEN n.n = cardinality($13::bigint[]) THEN n.n \
               ELSE groupd_assumption_failed() END FROM n"
        );
        match c.query_one(&c.cached(sql).await?, &params).await {
            Ok(_) => Ok(Some(plan.joining.len() as u64)),
            Err(e) if assumption_failed(&e) => Ok(None),
            Err(e) => Err(membership_err(e)),
        }
    }
}

/// Whether [`add_members_in`] writes the count slot itself (`Now`), or leaves
/// it to a caller that writes its slots last, in group order (`Later`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Counting {
    Now,
    Later,
}

/// A group's policy as [`add_members_in`] read it, under the row lock.
pub(super) struct ReadPolicy {
    text: String,
    policy: crate::domain::policy::GroupPolicy,
}

/// Adds members inside the caller's transaction; see [`MemberStore::add_members`].
/// Locks the group row (which serialises the group's membership changes that
/// take this path, on every instance, and waits for one-statement adds in
/// flight) reading its policy and count, reads which of the users exist and
/// their roles in one query; the domain decides; at most three statements
/// write, and one records the events. Returns the number who joined and the
/// policy it read.
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
    counting: Counting,
) -> Result<(u64, ReadPolicy), StoreError> {
    let row = c
        .query_opt(
            &c.cached(
                "SELECT policy FROM groups WHERE id = $2 AND (workspace_id = $1) IS TRUE FOR UPDATE",
            )
            .await?,
            &[&ws.0, &group.0],
        )
        .await
        .map_err(pg_err)?;
    let Some(row) = row else {
        return Err(StoreError::NotFound(Entity::Group));
    };
    let text: String = row.get(0);
    let policy = parse_policy(&text)?;
    // Read after the lock, in a statement of its own: a statement's snapshot is
    // taken before it waits for a lock, so the count read with the lock would
    // miss the deltas of the adds it waited for.
    let count: i64 = c
        .query_one(
            &c.cached(concat!(
                "SELECT ",
                member_count_of_g!(),
                " FROM groups g WHERE g.id = $1"
            ))
            .await?,
            &[&group.0],
        )
        .await
        .map_err(pg_err)?
        .get(0);
    let known = known_users(c, ws, group, &users).await?;
    let plan = plan_member_adds(&policy, count, &users, &known, role, on_existing)?;
    write_adds(c, group, &plan, now).await?;
    if counting == Counting::Now && !plan.joining.is_empty() {
        c.execute(
            &c.cached(COUNT_DELTA).await?,
            &[&group.0, &(plan.joining.len() as i64)],
        )
        .await
        .map_err(pg_err)?;
    }
    record(
        c,
        ws,
        audit,
        &event::member_add_events(group.0, &plan, &known),
    )
    .await?;
    Ok((plan.joining.len() as u64, ReadPolicy { text, policy }))
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
                 SELECT $1::BIGINT, u, $3::TEXT, $4::BIGINT FROM unnest($2::BIGINT[]) AS u \
                 ORDER BY u",
            )
            .await?,
            &[&group.0, &ids(&plan.joining), &role, &now],
        )
        .await
        .map_err(membership_err)?;
    }
    Ok(())
}

/// Removes members in the caller's transaction, with the group row locked for
/// key share (so that it stays, without waiting on adds). The delete is the read: the rows it returns are the users who were members, and
/// when the domain refuses the removal the transaction rolls it back.
async fn remove_members_in<C: GenericClient>(
    c: &C,
    ws: WorkspaceId,
    group: GroupId,
    users: Vec<UserId>,
    require_member: bool,
    audit: &Audit,
) -> Result<u64, StoreError> {
    let found = c
        .query_opt(
            &c.cached(
                "SELECT 1 FROM groups WHERE id = $2 AND (workspace_id = $1) IS TRUE FOR KEY SHARE",
            )
            .await?,
            &[&ws.0, &group.0],
        )
        .await
        .map_err(pg_err)?;
    if found.is_none() {
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
    record(
        c,
        ws,
        audit,
        &event::member_removed_events(group.0, &leaving),
    )
    .await?;
    if !leaving.is_empty() {
        c.execute(
            &c.cached(COUNT_DELTA).await?,
            &[&group.0, &-(leaving.len() as i64)],
        )
        .await
        .map_err(pg_err)?;
    }
    Ok(leaving.len() as u64)
}

/// A membership write's error: a user deleted while being added (the
/// memberships' foreign key) is a user not found.
fn membership_err(e: tokio_postgres::Error) -> StoreError {
    match constraint(&e, &SqlState::FOREIGN_KEY_VIOLATION).as_deref() {
        Some("memberships_user_id_fkey") => StoreError::NotFound(Entity::User),
        Some("memberships_group_id_fkey") => StoreError::NotFound(Entity::Group),
        _ => pg_err(e),
    }
}
