//! Groups, their icons, and the slug/username namespace: the trait's operations
//! and the row mapping. Removal is in `group_removal.rs`, what a write puts
//! beside the row (names, values, icons, built-ins) in `group_values.rs`.

use super::categories::category_exists;
use super::events::record;
use super::fields::field_exists;
use super::group_values::{put_field_value, put_icon};
use super::*;
use crate::domain::event;
use crate::domain::references::References;
use crate::store::policy_json;

fn slug_error(e: rusqlite::Error) -> StoreError {
    if is_unique_violation(&e, "slug_key") {
        StoreError::SlugTaken
    } else {
        map_err(e)
    }
}

macro_rules! group_columns {
    () => {
        "g.id, g.workspace_id, g.name, g.slug, g.description, g.category_id, \
     g.secret, g.unleavable, g.pinned, g.password_hash, g.created_at, g.updated_at, \
     (SELECT i.token FROM group_icons i WHERE i.group_id = g.id), g.policy, g.builtin, \
     g.member_count, \
     (SELECT json_group_object(v.field_id, v.value) FROM group_field_values v WHERE v.group_id = g.id), \
     g.external_id"
    };
}
const GROUP_COLUMNS: &str = group_columns!();

pub(super) fn group_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Group> {
    let policy: String = r.get(13)?;
    let builtin: Option<String> = r.get(14)?;
    let policy: GroupPolicy = serde_json::from_str(&policy).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(13, rusqlite::types::Type::Text, e.into())
    })?;
    Ok(Group {
        policy,
        builtin: builtin.as_deref().and_then(Builtin::parse),
        member_count: r.get(15)?,
        id: GroupId(r.get(0)?),
        workspace: WorkspaceId(r.get(1)?),
        name: r.get(2)?,
        slug: r.get(3)?,
        description: r.get(4)?,
        category_id: r.get(5)?,
        secret: r.get(6)?,
        unleavable: r.get(7)?,
        pinned: r.get(8)?,
        password_hash: r.get(9)?,
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
        icon_token: r.get(12)?,
        custom_fields: custom_fields_from(r, 16)?,
        external_id: r.get(17)?,
    })
}

fn custom_fields_from(
    r: &rusqlite::Row<'_>,
    col: usize,
) -> rusqlite::Result<BTreeMap<i64, String>> {
    let json: Option<String> = r.get(col)?;
    crate::store::custom_fields_from_json(json.as_deref()).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, e.into())
    })
}

/// A group's whole row, read inside a write.
pub(super) fn group_in(
    conn: &Connection,
    ws: WorkspaceId,
    id: GroupId,
) -> Result<Option<Group>, StoreError> {
    conn.row_cached(
        concat!(
            "SELECT ",
            group_columns!(),
            " FROM groups g WHERE g.workspace_id = ?1 AND g.id = ?2"
        ),
        params![ws.0, id.0],
        group_from_row,
    )
    .optional()
    .map_err(map_err)
}

/// `None` when the group is not in the workspace; else its built-in kind, if any.
pub(super) fn group_builtin(
    conn: &Connection,
    ws: WorkspaceId,
    id: GroupId,
) -> Result<Option<Option<String>>, StoreError> {
    conn.row_cached(
        "SELECT builtin FROM groups WHERE workspace_id = ?1 AND id = ?2",
        params![ws.0, id.0],
        |r| r.get(0),
    )
    .optional()
    .map_err(map_err)
}

/// Reads whether what a group write names exists, and asks the domain whether
/// the write may go on. Nothing named, nothing read.
fn check_references(
    conn: &Connection,
    ws: WorkspaceId,
    refs: &References,
) -> Result<(), StoreError> {
    if refs.is_empty() {
        return Ok(());
    }
    let category_found = match refs.category {
        Some(c) => category_exists(conn, ws, c).map_err(map_err)?,
        None => false,
    };
    let mut fields_found = Vec::with_capacity(refs.fields.len());
    for f in &refs.fields {
        if field_exists(conn, ws, *f).map_err(map_err)? {
            fields_found.push(*f);
        }
    }
    Ok(refs.check(category_found, &fields_found)?)
}

#[async_trait]
impl GroupStore for SqliteStore {
    async fn insert_group(&self, ws: WorkspaceId, g: NewGroup) -> Result<GroupId, StoreError> {
        // The event is made here, not on the one writer thread, which only
        // copies it in (its group id is known once the row is).
        let mut created = event::group_created(&g.as_group(ws));
        self.write_audited(move |conn, audit| {
            let refs =
                References::new(Some(g.category_id), g.custom_fields.iter().map(|(f, _)| *f));
            check_references(conn, ws, &refs)?;
            let policy = policy_json(&g.policy)?;
            conn.exec_cached(
                "INSERT INTO groups (workspace_id, name, slug, slug_key, description, \
                         category_id, secret, unleavable, pinned, password_hash, created_at, \
                         updated_at, policy, name_key, external_id) VALUES (?1, ?2, ?3, ?4, ?5, \
                         ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12, ?13, ?14)",
                params![
                    ws.0,
                    g.name,
                    g.slug.as_ref().map(|s| s.as_str()),
                    g.slug.as_ref().map(|s| s.key()),
                    g.description,
                    g.category_id,
                    g.secret,
                    g.unleavable,
                    g.pinned,
                    g.password_hash,
                    g.now,
                    policy,
                    g.name.to_lowercase(),
                    g.external_id,
                ],
            )
            .map_err(slug_error)?;
            let id = conn.last_insert_rowid();
            if let Some(slug) = &g.slug {
                put_name(conn, ws, NameHolder::Group(GroupId(id)), Some(slug.key()))?;
            }
            for (field, value) in &g.custom_fields {
                put_field_value(conn, ws, id, *field, &Some(value.clone())).map_err(map_err)?;
            }
            if g.icon.is_some() {
                put_icon(conn, id, &g.icon).map_err(map_err)?;
            }
            created.group = Some(id);
            record(conn, ws, audit, &[created])?;
            Ok(GroupId(id))
        })
        .await
    }

    async fn update_group(
        &self,
        ws: WorkspaceId,
        id: GroupId,
        u: GroupUpdate,
    ) -> Result<(), StoreError> {
        self.write_audited(move |conn, audit| {
            let Some(before) = group_in(conn, ws, id)? else {
                return Err(StoreError::NotFound(Entity::Group));
            };
            let refs = References::new(u.category_id, u.custom_fields.iter().map(|(f, _)| *f));
            check_references(conn, ws, &refs)?;
            let policy = if u.policy.is_empty() {
                None
            } else {
                let mut policy = before.policy.clone();
                policy.apply(&u.policy);
                Some(crate::store::policy_json(&policy)?)
            };
            let (slug_set, slug, slug_key) = u.slug_columns();
            if let Some(slug) = &u.slug {
                let key = slug.as_ref().map(|s| s.key());
                put_name(conn, ws, NameHolder::Group(id), key)?;
            }
            let (pw_set, pw) = u.password_columns();
            conn.exec_cached(
                "UPDATE groups SET \
                       name = COALESCE(?3, name), \
                       name_key = COALESCE(?16, name_key), \
                       slug = CASE WHEN ?4 THEN ?5 ELSE slug END, \
                       slug_key = CASE WHEN ?4 THEN ?6 ELSE slug_key END, \
                       description = COALESCE(?7, description), \
                       category_id = COALESCE(?8, category_id), \
                       secret = COALESCE(?9, secret), \
                       unleavable = COALESCE(?10, unleavable), \
                       pinned = COALESCE(?11, pinned), \
                       password_hash = CASE WHEN ?12 THEN ?13 ELSE password_hash END, \
                       updated_at = ?14, \
                       policy = COALESCE(?15, policy), \
                       external_id = CASE WHEN ?17 THEN ?18 ELSE external_id END \
                     WHERE workspace_id = ?1 AND id = ?2",
                params![
                    ws.0,
                    id.0,
                    u.name,
                    slug_set,
                    slug,
                    slug_key,
                    u.description,
                    u.category_id,
                    u.secret,
                    u.unleavable,
                    u.pinned,
                    pw_set,
                    pw,
                    u.now,
                    policy,
                    u.name.as_ref().map(|n| n.to_lowercase()),
                    u.external_id.is_some(),
                    u.external_id.clone().flatten(),
                ],
            )
            .map_err(slug_error)?;
            for (field, value) in &u.custom_fields {
                put_field_value(conn, ws, id.0, *field, value).map_err(map_err)?;
            }
            if let Some(icon) = &u.icon {
                put_icon(conn, id.0, icon).map_err(map_err)?;
            }
            let after = group_in(conn, ws, id)?.ok_or(StoreError::NotFound(Entity::Group))?;
            let draft = event::group_updated(&before, &after);
            record(conn, ws, audit, draft.as_slice())
        })
        .await
    }

    async fn delete_groups(
        &self,
        ws: WorkspaceId,
        ids: &[GroupId],
        successor: Option<GroupId>,
    ) -> Result<(), StoreError> {
        let ids = ids.to_vec();
        self.write_audited(move |conn, audit| {
            group_removal::delete_groups_in(conn, ws, &ids, successor, audit)
        })
        .await
    }

    async fn find_group(
        &self,
        ws: WorkspaceId,
        by: &GroupRef,
    ) -> Result<Option<Group>, StoreError> {
        // A group read by id is kept until the next write from any process (see
        // `changes`): a GET then skips SQLite's read lock, which cost as much as
        // the look-up itself. Slugs go to the database every time.
        let cached = match by {
            GroupRef::Id(id) => self.changes.write_token().map(|t| (t, (ws, *id))),
            GroupRef::Slug(_) | GroupRef::Builtin(_) => None,
        };
        if let Some((t, key)) = &cached {
            if let Some(g) = self.groups.get(key, *t) {
                return Ok(Some(Group::clone(&g)));
            }
        }
        let (sql, value): (&str, rusqlite::types::Value) = match by {
            GroupRef::Id(id) => (
                concat!(
                    "SELECT ",
                    group_columns!(),
                    " FROM groups g WHERE g.workspace_id = ?1 AND g.id = ?2"
                ),
                id.0.into(),
            ),
            GroupRef::Slug(key) => (
                concat!(
                    "SELECT ",
                    group_columns!(),
                    " FROM groups g WHERE g.workspace_id = ?1 AND g.slug_key = ?2"
                ),
                key.clone().into(),
            ),
            GroupRef::Builtin(b) => (
                concat!(
                    "SELECT ",
                    group_columns!(),
                    " FROM groups g WHERE g.workspace_id = ?1 AND g.builtin = ?2"
                ),
                b.as_str().to_string().into(),
            ),
        };
        let found = self
            .read(move |conn| {
                conn.prepare_cached(sql)?
                    .query_row(params![ws.0, value], group_from_row)
                    .optional()
            })
            .await?;
        if let (Some((t, key)), Some(g)) = (cached, &found) {
            self.groups.put(key, &Arc::new(g.clone()), t);
        }
        Ok(found)
    }

    async fn name_taken(
        &self,
        ws: WorkspaceId,
        key: &str,
        except: Option<NameHolder>,
    ) -> Result<bool, StoreError> {
        let key = key.to_string();
        let (group, user) = NameHolder::ids(except);
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT 1 FROM names WHERE workspace_id = ?1 AND name_key = ?2 \
                 AND (?3 IS NULL OR group_id IS NOT ?3) AND (?4 IS NULL OR user_id IS NOT ?4)",
            )?
            .query_row(params![ws.0, key, group, user], |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
        })
        .await
    }

    async fn list_groups(
        &self,
        ws: WorkspaceId,
        after: Option<GroupId>,
        limit: u32,
    ) -> Result<Vec<Group>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(concat!(
                "SELECT ",
                group_columns!(),
                " FROM groups g WHERE g.workspace_id = ?1 AND g.id > ?2 \
                 ORDER BY g.id LIMIT ?3"
            ))?;
            stmt.query_map(
                params![ws.0, after.map_or(0, |g| g.0), limit],
                group_from_row,
            )?
            .collect::<rusqlite::Result<Vec<Group>>>()
        })
        .await
    }

    async fn icon_by_token(&self, token: &str) -> Result<Option<IconImage>, StoreError> {
        let token = token.to_string();
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT content_type, data, token FROM group_icons WHERE token = ?1",
            )?
            .query_row([token], |r| {
                Ok(IconImage {
                    content_type: r.get(0)?,
                    data: r.get(1)?,
                    token: r.get(2)?,
                })
            })
            .optional()
        })
        .await
    }

    async fn query_groups(
        &self,
        ws: WorkspaceId,
        q: &GroupQuery,
    ) -> Result<Vec<Group>, StoreError> {
        let q = q.clone();
        // Pinned groups and the rest are two statements; one read transaction makes
        // them one snapshot (and takes SQLite's locks once, not twice).
        self.read(move |conn| {
            in_snapshot(conn, |conn| {
                let mut filters = String::new();
                if q.category.is_some() {
                    filters.push_str(" AND g.category_id = :category");
                }
                if q.name_prefix.is_some() {
                    filters.push_str(" AND g.name_key >= :prefix AND g.name_key < :prefix_end");
                }
                if q.secret.is_some() {
                    filters.push_str(" AND g.secret = :secret");
                }
                if q.visible_to.is_some() {
                    filters.push_str(
                        " AND (g.secret = 0 OR EXISTS (SELECT 1 FROM memberships m \
                     WHERE m.group_id = g.id AND m.user_id = :viewer))",
                    );
                }
                // Name the index: with ORDER BY id and a LIMIT, SQLite's planner may
                // walk the whole table in id order hoping to meet 50 matches soon,
                // and a part with no matches (no pinned groups) then reads all of
                // it: 1M groups made a page take 100 ms. Each index below is one
                // range in id order for its filter.
                let index = if q.category.is_some() {
                    "groups_list_category"
                } else if q.secret.is_some() {
                    "groups_list_secret"
                } else {
                    "groups_list"
                };
                let sql = format!(
                    "SELECT {GROUP_COLUMNS} FROM groups g INDEXED BY {index} WHERE g.workspace_id = :ws \
                 AND g.pinned = :pinned AND g.id > :after{filters} ORDER BY g.id LIMIT :limit"
                );
                let mut stmt = conn.prepare_cached(&sql)?;
                let prefix_end = q.name_prefix.as_ref().map(|p| format!("{p}\u{10FFFF}"));
                let mut out = Vec::new();
                for (pinned, after) in q.parts() {
                    let want = i64::from(q.limit) - out.len() as i64;
                    if want <= 0 {
                        break;
                    }
                    let mut named: Vec<(&str, &dyn rusqlite::ToSql)> = vec![
                        (":ws", &ws.0),
                        (":pinned", &pinned),
                        (":after", &after),
                        (":limit", &want),
                    ];
                    if let Some(c) = &q.category {
                        named.push((":category", c));
                    }
                    if let (Some(p), Some(e)) = (&q.name_prefix, &prefix_end) {
                        named.push((":prefix", p));
                        named.push((":prefix_end", e));
                    }
                    if let Some(sec) = &q.secret {
                        named.push((":secret", sec));
                    }
                    if let Some(v) = &q.visible_to {
                        named.push((":viewer", &v.0));
                    }
                    let rows = stmt.query_map(named.as_slice(), group_from_row)?;
                    for g in rows {
                        out.push(g?);
                    }
                }
                Ok(out)
            })
        })
        .await
    }
}
