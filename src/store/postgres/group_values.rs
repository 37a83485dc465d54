//! What a group write puts beside the group's row: its name in the namespace
//! groups share with usernames, its custom field values, its icon; and the
//! built-in groups every workspace has (the domain's [`Builtin::ALL`]).

use super::*;
use crate::store::policy_json;

pub(super) async fn insert_builtins<C: GenericClient>(
    c: &C,
    ws: i64,
    now: i64,
) -> Result<(), StoreError> {
    for b in Builtin::ALL {
        let policy = policy_json(&b.policy())?;
        c.execute(
            &c.cached("INSERT INTO groups (workspace_id, name, name_key, description, category_id, secret, \
             policy, builtin, created_at, updated_at) VALUES ($1, $2, lower($2), $3, $4, TRUE, $5, $6, $7, $7) \
             ON CONFLICT (workspace_id, builtin) DO NOTHING").await?,
            &[&ws, &b.name(), &b.description(), &DEFAULT_CATEGORY_ID, &policy, &b.as_str(), &now],
        )
        .await
        .map_err(pg_err)?;
    }
    Ok(())
}

/// Writes the `names` row of a group (its slug key) or a user (their username
/// key), or removes a group's when `key` is `None`. A name another holder has is
/// refused with `taken` (see [`super::NameHolder`]).
pub(super) async fn put_name<C: GenericClient>(
    c: &C,
    ws: WorkspaceId,
    holder: NameHolder,
    key: Option<&str>,
) -> Result<(), StoreError> {
    let (id, taken, upsert, delete) = match holder {
        NameHolder::Group(g) => (
            g.0,
            StoreError::SlugTaken,
            "INSERT INTO names (workspace_id, name_key, group_id) VALUES ($1, $2, $3) \
             ON CONFLICT (group_id) DO UPDATE SET name_key = excluded.name_key",
            "DELETE FROM names WHERE group_id = $1",
        ),
        NameHolder::User(u) => (
            u.0,
            StoreError::UsernameTaken,
            "INSERT INTO names (workspace_id, name_key, user_id) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET name_key = excluded.name_key",
            "DELETE FROM names WHERE user_id = $1",
        ),
    };
    let done = match key {
        Some(key) => {
            c.execute(&c.cached(upsert).await?, &[&ws.0, &key, &id])
                .await
        }
        None => c.execute(&c.cached(delete).await?, &[&id]).await,
    };
    done.map(|_| ()).map_err(|e| {
        if constraint(&e, &SqlState::UNIQUE_VIOLATION).as_deref() == Some("names_pkey") {
            taken
        } else {
            write_err(e)
        }
    })
}

pub(super) async fn put_field_value<C: GenericClient>(
    c: &C,
    ws: WorkspaceId,
    group: i64,
    field: i64,
    value: &Option<String>,
) -> Result<(), StoreError> {
    match value {
        Some(v) => c
            .execute(
                &c.cached("INSERT INTO group_field_values (group_id, workspace_id, field_id, value) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (group_id, field_id) DO UPDATE SET value = EXCLUDED.value").await?,
                &[&group, &ws.0, &field, v],
            )
            .await
            .map_err(write_err)?,
        None => c
            .execute(&c.cached("DELETE FROM group_field_values WHERE group_id = $1 AND field_id = $2").await?, &[&group, &field])
            .await
            .map_err(pg_err)?,
    };
    Ok(())
}

pub(super) async fn put_icon<C: GenericClient>(
    c: &C,
    id: i64,
    icon: &Option<IconImage>,
) -> Result<(), StoreError> {
    match icon {
        Some(i) => c
            .execute(
                &c.cached("INSERT INTO group_icons (group_id, content_type, data, token) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (group_id) DO UPDATE SET content_type = EXCLUDED.content_type, data = EXCLUDED.data, \
                 token = EXCLUDED.token").await?,
                &[&id, &i.content_type, &i.data, &i.token],
            )
            .await
            .map_err(pg_err)?,
        None => c
            .execute(&c.cached("DELETE FROM group_icons WHERE group_id = $1").await?, &[&id])
            .await
            .map_err(pg_err)?,
    };
    Ok(())
}
