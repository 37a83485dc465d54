//! Groups, their icons, and the slug/username namespace: the trait's operations
//! and the row mapping. Removal is in `group_removal.rs`, what a write puts
//! beside the row (names, values, icons, built-ins) in `group_values.rs`.

use super::events::{EventRows, insert_events, record};
use super::group_values::{put_field_value, put_icon};
use super::*;
use crate::domain::event;
use crate::domain::references::References;
use crate::store::{parse_policy, policy_json};

macro_rules! group_columns {
    () => {
        concat!(
            "g.id, g.workspace_id, g.name, g.slug, g.description, g.category_id, \
             g.secret, g.unleavable, g.pinned, g.password_hash, g.created_at, g.updated_at, \
             (SELECT i.token FROM group_icons i WHERE i.group_id = g.id), g.policy, g.builtin, ",
            member_count_of_g!(),
            ", (SELECT json_object_agg(v.field_id, v.value)::text FROM group_field_values v \
               WHERE v.group_id = g.id), g.external_id"
        )
    };
}
const GROUP_COLUMNS: &str = group_columns!();

pub(super) fn group_from_row(r: &Row) -> Result<Group, StoreError> {
    let policy: String = r.get(13);
    let builtin: Option<String> = r.get(14);
    Ok(Group {
        id: GroupId(r.get(0)),
        workspace: WorkspaceId(r.get(1)),
        name: r.get(2),
        slug: r.get(3),
        description: r.get(4),
        category_id: r.get(5),
        secret: r.get(6),
        unleavable: r.get(7),
        pinned: r.get(8),
        password_hash: r.get(9),
        created_at: r.get(10),
        updated_at: r.get(11),
        icon_token: r.get(12),
        policy: parse_policy(&policy)?,
        builtin: builtin.as_deref().and_then(Builtin::parse),
        member_count: r.get(15),
        custom_fields: crate::store::custom_fields_from_json(r.get::<_, Option<&str>>(16))
            .map_err(StoreError::Backend)?,
        external_id: r.get(17),
    })
}

/// A group's whole row, read inside a write; `lock` takes its row lock.
pub(super) async fn group_in<C: GenericClient>(
    c: &C,
    ws: WorkspaceId,
    id: GroupId,
    lock: bool,
) -> Result<Option<Group>, StoreError> {
    let sql = if lock {
        concat!(
            "SELECT ",
            group_columns!(),
            " FROM groups g WHERE g.id = $2 AND (g.workspace_id = $1) IS TRUE FOR UPDATE OF g"
        )
    } else {
        concat!(
            "SELECT ",
            group_columns!(),
            " FROM groups g WHERE g.id = $2 AND (g.workspace_id = $1) IS TRUE"
        )
    };
    c.query_opt(&c.cached(sql).await?, &[&ws.0, &id.0])
        .await
        .map_err(pg_err)?
        .map(|r| group_from_row(&r))
        .transpose()
}

/// `None` when the group is not in the workspace; else its built-in kind. Locks the row.
pub(super) async fn lock_group<C: GenericClient>(
    c: &C,
    ws: WorkspaceId,
    id: GroupId,
) -> Result<Option<Option<String>>, StoreError> {
    let row = c
        .query_opt(
            &c.cached("SELECT builtin FROM groups WHERE id = $2 AND (workspace_id = $1) IS TRUE FOR UPDATE")
                .await?,
            &[&ws.0, &id.0],
        )
        .await
        .map_err(pg_err)?;
    Ok(row.map(|r| r.get(0)))
}

/// Reads in one statement whether what a group write names exists, and asks the
/// domain whether the write may go on. Nothing named, nothing read.
async fn check_references<C: GenericClient>(
    c: &C,
    ws: WorkspaceId,
    refs: &References,
) -> Result<(), StoreError> {
    if refs.is_empty() {
        return Ok(());
    }
    let row = c
        .query_one(
            &c.cached(
                "SELECT EXISTS (SELECT 1 FROM categories WHERE workspace_id = $1 AND id = $2), \
                 ARRAY(SELECT id FROM field_defs WHERE workspace_id = $1 AND id = ANY($3))",
            )
            .await?,
            &[&ws.0, &refs.category, &refs.fields],
        )
        .await
        .map_err(pg_err)?;
    let fields_found: Vec<i64> = row.get(1);
    Ok(refs.check(row.get(0), &fields_found)?)
}

/// A group with nothing beside its row (no slug, custom field or icon), with
/// its event, in one statement and one round trip: the insert selects from its
/// category, so it happens only if the category is there. `None` when it is
/// not: the caller takes the careful path, which names what is missing.
async fn insert_plain_group<C: GenericClient>(
    c: &C,
    ws: WorkspaceId,
    g: &NewGroup,
) -> Result<Option<GroupId>, StoreError> {
    let policy = policy_json(&g.policy)?;
    // The event is drafted before the id exists; the statement writes the id.
    let draft = [event::group_created(&g.as_group(ws))];
    let audit = PostgresStore::audit();
    let events = EventRows::new(&audit, &draft);
    let name_key = g.name.to_lowercase();
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&ws.0];
    params.extend(events.params());
    params.extend::<[&(dyn ToSql + Sync); 11]>([
        &g.name,
        &name_key,
        &g.description,
        &g.category_id,
        &g.secret,
        &g.unleavable,
        &g.pinned,
        &g.password_hash,
        &policy,
        &g.now,
        &g.external_id,
    ]);
    let sql = concat!(
        "WITH made AS (INSERT INTO groups (workspace_id, name, name_key, description, \
           category_id, secret, unleavable, pinned, password_hash, policy, created_at, updated_at, \
           external_id) \
           SELECT $1, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $20, $21 \
           WHERE EXISTS (SELECT 1 FROM categories WHERE workspace_id = $1 AND id = $14) \
           RETURNING id), \
         recorded AS (",
        insert_events!("made.id", "made, "),
        ") SELECT id FROM made"
    );
    let row = c
        .query_opt(&c.cached(sql).await?, &params)
        .await
        .map_err(write_err)?;
    Ok(row.map(|r| GroupId(r.get(0))))
}

#[async_trait]
impl GroupStore for PostgresStore {
    async fn insert_group(&self, ws: WorkspaceId, g: NewGroup) -> Result<GroupId, StoreError> {
        if g.slug.is_none() && g.custom_fields.is_empty() && g.icon.is_none() {
            let c = self.client_for(op!()).await?;
            if let Some(id) = insert_plain_group(&*c, ws, &g).await? {
                return Ok(id);
            }
        }
        let mut c = self.client_for(op!()).await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let refs = References::new(Some(g.category_id), g.custom_fields.iter().map(|(f, _)| *f));
        check_references(&tx, ws, &refs).await?;
        let policy = policy_json(&g.policy)?;
        let row = tx
            .query_one(
                &tx.cached("INSERT INTO groups (workspace_id, name, name_key, slug, slug_key, description, category_id, \
                 secret, unleavable, pinned, password_hash, policy, created_at, updated_at, external_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14) RETURNING id").await?,
                &[
                    &ws.0,
                    &g.name,
                    &g.name.to_lowercase(),
                    &g.slug.as_ref().map(|s| s.as_str()),
                    &g.slug.as_ref().map(|s| s.key()),
                    &g.description,
                    &g.category_id,
                    &g.secret,
                    &g.unleavable,
                    &g.pinned,
                    &g.password_hash,
                    &policy,
                    &g.now,
                    &g.external_id,
                ],
            )
            .await
            .map_err(write_err)?;
        let id: i64 = row.get(0);
        if let Some(slug) = &g.slug {
            put_name(&tx, ws, NameHolder::Group(GroupId(id)), Some(slug.key())).await?;
        }
        for (field, value) in &g.custom_fields {
            put_field_value(&tx, ws, id, *field, &Some(value.clone())).await?;
        }
        if g.icon.is_some() {
            put_icon(&tx, id, &g.icon).await?;
        }
        let made = Group {
            id: GroupId(id),
            ..g.as_group(ws)
        };
        record(&tx, ws, &Self::audit(), &[event::group_created(&made)]).await?;
        tx.commit().await.map_err(write_err)?;
        Ok(GroupId(id))
    }

    async fn update_group(
        &self,
        ws: WorkspaceId,
        id: GroupId,
        u: GroupUpdate,
    ) -> Result<(), StoreError> {
        let mut c = self.client_for(op!()).await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let before = group_in(&tx, ws, id, true)
            .await?
            .ok_or(StoreError::NotFound(Entity::Group))?;
        let refs = References::new(u.category_id, u.custom_fields.iter().map(|(f, _)| *f));
        check_references(&tx, ws, &refs).await?;
        let policy = if u.policy.is_empty() {
            None
        } else {
            let mut p = before.policy.clone();
            p.apply(&u.policy);
            Some(policy_json(&p)?)
        };
        let (slug_set, slug, slug_key) = u.slug_columns();
        let (pw_set, pw) = u.password_columns();
        tx.execute(
            &tx.cached("UPDATE groups SET name = COALESCE($3, name), name_key = COALESCE($4, name_key), \
             slug = CASE WHEN $5 THEN $6 ELSE slug END, slug_key = CASE WHEN $5 THEN $7 ELSE slug_key END, \
             description = COALESCE($8, description), category_id = COALESCE($9, category_id), \
             secret = COALESCE($10, secret), unleavable = COALESCE($11, unleavable), pinned = COALESCE($12, pinned), \
             password_hash = CASE WHEN $13 THEN $14 ELSE password_hash END, policy = COALESCE($15, policy), \
             updated_at = $16, external_id = CASE WHEN $17 THEN $18 ELSE external_id END \
             WHERE id = $2 AND (workspace_id = $1) IS TRUE").await?,
            &[
                &ws.0,
                &id.0,
                &u.name,
                &u.name.as_ref().map(|n| n.to_lowercase()),
                &slug_set,
                &slug,
                &slug_key,
                &u.description,
                &u.category_id,
                &u.secret,
                &u.unleavable,
                &u.pinned,
                &pw_set,
                &pw,
                &policy,
                &u.now,
                &u.external_id.is_some(),
                &u.external_id.clone().flatten(),
            ],
        )
        .await
        .map_err(write_err)?;
        if let Some(slug) = &u.slug {
            let key = slug.as_ref().map(|s| s.key());
            put_name(&tx, ws, NameHolder::Group(id), key).await?;
        }
        for (field, value) in &u.custom_fields {
            put_field_value(&tx, ws, id.0, *field, value).await?;
        }
        if let Some(icon) = &u.icon {
            put_icon(&tx, id.0, icon).await?;
        }
        let after = group_in(&tx, ws, id, false)
            .await?
            .ok_or(StoreError::NotFound(Entity::Group))?;
        let draft = event::group_updated(&before, &after);
        record(&tx, ws, &Self::audit(), draft.as_slice()).await?;
        tx.commit().await.map_err(write_err)
    }

    async fn delete_groups(
        &self,
        ws: WorkspaceId,
        ids: &[GroupId],
        successor: Option<GroupId>,
    ) -> Result<(), StoreError> {
        let mut c = self.client_for(op!()).await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        group_removal::delete_groups_in(&tx, ws, ids, successor, &Self::audit()).await?;
        tx.commit().await.map_err(pg_err)
    }

    async fn find_group(
        &self,
        ws: WorkspaceId,
        by: &GroupRef,
    ) -> Result<Option<Group>, StoreError> {
        let builtin: &'static str = match by {
            GroupRef::Builtin(b) => b.as_str(),
            _ => "",
        };
        let (sql, key): (&str, &(dyn tokio_postgres::types::ToSql + Sync)) = match by {
            GroupRef::Id(id) => (
                concat!(
                    "SELECT ",
                    group_columns!(),
                    " FROM groups g WHERE g.id = $2 AND (g.workspace_id = $1) IS TRUE"
                ),
                &id.0,
            ),
            GroupRef::Slug(key) => (
                concat!(
                    "SELECT ",
                    group_columns!(),
                    " FROM groups g WHERE g.workspace_id = $1 AND g.slug_key = $2"
                ),
                key,
            ),
            GroupRef::Builtin(_) => (
                concat!(
                    "SELECT ",
                    group_columns!(),
                    " FROM groups g WHERE g.workspace_id = $1 AND g.builtin = $2"
                ),
                &builtin,
            ),
        };
        let c = self.client_for(op!()).await?;
        let row = c
            .query_opt(&c.cached(sql).await?, &[&ws.0, key])
            .await
            .map_err(pg_err)?;
        row.map(|r| group_from_row(&r)).transpose()
    }

    async fn name_taken(
        &self,
        ws: WorkspaceId,
        key: &str,
        except: Option<NameHolder>,
    ) -> Result<bool, StoreError> {
        let (group, user) = NameHolder::ids(except);
        let c = self.client_for(op!()).await?;
        let row = c
            .query_opt(
                &c.cached(
                    "SELECT 1 FROM names WHERE workspace_id = $1 AND name_key = $2 \
                 AND ($3::BIGINT IS NULL OR group_id IS DISTINCT FROM $3) \
                 AND ($4::BIGINT IS NULL OR user_id IS DISTINCT FROM $4)",
                )
                .await?,
                &[&ws.0, &key, &group, &user],
            )
            .await
            .map_err(pg_err)?;
        Ok(row.is_some())
    }

    async fn list_groups(
        &self,
        ws: WorkspaceId,
        after: Option<GroupId>,
        limit: u32,
    ) -> Result<Vec<Group>, StoreError> {
        let c = self.client_for(op!()).await?;
        let stmt = c
            .cached(concat!(
                "SELECT ",
                group_columns!(),
                " FROM groups g WHERE g.workspace_id = $1 AND g.id > $2 ORDER BY g.id LIMIT $3"
            ))
            .await?;
        let rows = c
            .query(
                &stmt,
                &[&ws.0, &after.map_or(0, |g| g.0), &i64::from(limit)],
            )
            .await
            .map_err(pg_err)?;
        rows.iter().map(group_from_row).collect()
    }

    async fn icon_by_token(&self, token: &str) -> Result<Option<IconImage>, StoreError> {
        let c = self.client_for(op!()).await?;
        let row = c
            .query_opt(
                &c.cached("SELECT content_type, data, token FROM group_icons WHERE token = $1")
                    .await?,
                &[&token],
            )
            .await
            .map_err(pg_err)?;
        Ok(row.map(|r| IconImage {
            content_type: r.get(0),
            data: r.get(1),
            token: r.get(2),
        }))
    }

    async fn query_groups(
        &self,
        ws: WorkspaceId,
        q: &GroupQuery,
    ) -> Result<Vec<Group>, StoreError> {
        let c = self.client_for(op!()).await?;
        let mut filters = String::new();
        let mut next = 5;
        let mut extra: Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>> = Vec::new();
        // Each page part is one range of one index, written as a row comparison on
        // the index's columns, with ORDER BY the same columns. Written as
        // `workspace_id = $1 AND pinned = $2 ... ORDER BY id`, PostgreSQL's generic
        // plan walked the primary key hoping to meet enough matches soon, and a
        // part with none (no pinned groups) read every group: 300 ms a page at 1M.
        let (columns, fixed) = if let Some(cat) = q.category {
            extra.push(Box::new(cat));
            next += 1;
            (
                "g.workspace_id, g.category_id, g.pinned, g.id",
                "$1, $5, $2",
            )
        } else if let Some(sec) = q.secret {
            extra.push(Box::new(sec));
            next += 1;
            ("g.workspace_id, g.secret, g.pinned, g.id", "$1, $5, $2")
        } else {
            ("g.workspace_id, g.pinned, g.id", "$1, $2")
        };
        if let Some(p) = &q.name_prefix {
            filters.push_str(&format!(
                " AND g.name_key >= ${} AND g.name_key < ${}",
                next,
                next + 1
            ));
            next += 2;
            extra.push(Box::new(p.clone()));
            extra.push(Box::new(format!("{p}\u{10FFFF}")));
        }
        if let (Some(s), Some(_)) = (q.secret, q.category) {
            filters.push_str(&format!(" AND g.secret = ${next}"));
            next += 1;
            extra.push(Box::new(s));
        }
        if let Some(v) = q.visible_to {
            filters.push_str(&format!(
                " AND (g.secret = FALSE OR EXISTS (SELECT 1 FROM memberships m WHERE m.group_id = g.id AND m.user_id = ${next}))"
            ));
            extra.push(Box::new(v.0));
        }
        let sql = format!(
            "SELECT {GROUP_COLUMNS} FROM groups g \
             WHERE ({columns}) > ({fixed}, $3) AND ({columns}) <= ({fixed}, {max}){filters} \
             ORDER BY {columns} LIMIT $4",
            max = i64::MAX
        );
        let mut out = Vec::new();
        for (pinned, after) in q.parts() {
            let want = i64::from(q.limit) - out.len() as i64;
            if want <= 0 {
                break;
            }
            let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                vec![&ws.0, &pinned, &after, &want];
            for e in &extra {
                params.push(e.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync));
            }
            let stmt = c.cached(&sql).await?;
            for r in c.query(&stmt, &params).await.map_err(pg_err)? {
                out.push(group_from_row(&r)?);
            }
        }
        Ok(out)
    }
}
