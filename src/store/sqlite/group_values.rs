//! What a group write puts beside the group's row: its name in the namespace
//! groups share with usernames, its custom field values, its icon; and the
//! built-in groups every workspace has (the domain's [`Builtin::ALL`]).

use super::*;
use crate::store::policy_json;

pub(super) fn insert_builtins(conn: &Connection, ws: i64, now: i64) -> Result<(), StoreError> {
    for b in Builtin::ALL {
        let policy = policy_json(&b.policy())?;
        conn.exec_cached(
            "INSERT INTO groups (workspace_id, name, name_key, description, \
                 category_id, secret, policy, builtin, created_at, updated_at) VALUES \
                 (?1, ?2, lower(?2), ?3, ?4, 1, ?5, ?6, ?7, ?7) ON CONFLICT \
                 (workspace_id, builtin) WHERE builtin IS NOT NULL DO NOTHING",
            params![
                ws,
                b.name(),
                b.description(),
                DEFAULT_CATEGORY_ID,
                policy,
                b.as_str(),
                now
            ],
        )
        .map_err(map_err)?;
    }
    Ok(())
}

/// Gives every workspace its built-in groups (workspaces made before they existed).
pub(super) fn ensure_builtins(conn: &Connection) -> Result<(), StoreError> {
    let missing: Vec<i64> = conn
        .prepare_cached(
            "SELECT id FROM workspaces w WHERE \
             (SELECT COUNT(*) FROM groups g WHERE g.workspace_id = w.id AND g.builtin IS NOT NULL) < ?1",
        )
        .and_then(|mut s| s.query_map([Builtin::ALL.len() as i64], |r| r.get(0))?.collect())
        .map_err(map_err)?;
    for ws in missing {
        let tx = conn.unchecked_transaction().map_err(map_err)?;
        insert_builtins(&tx, ws, crate_now())?;
        tx.commit().map_err(map_err)?;
    }
    Ok(())
}

/// Writes the `names` row of a group (its slug key) or a user (their username
/// key), or removes a group's when `key` is `None`. A name another holder has is
/// refused with `taken` (see [`super::NameHolder`]).
pub(super) fn put_name(
    conn: &Connection,
    ws: WorkspaceId,
    holder: NameHolder,
    key: Option<&str>,
) -> Result<(), StoreError> {
    let (column, id, taken) = match holder {
        NameHolder::Group(g) => ("group_id", g.0, StoreError::SlugTaken),
        NameHolder::User(u) => ("user_id", u.0, StoreError::UsernameTaken),
    };
    let done = match key {
        Some(key) => conn.exec_cached(
            &format!(
                "INSERT INTO names (workspace_id, name_key, {column}) VALUES (?1, ?2, ?3) \
                 ON CONFLICT ({column}) DO UPDATE SET name_key = excluded.name_key"
            ),
            params![ws.0, key, id],
        ),
        None => conn.exec_cached(&format!("DELETE FROM names WHERE {column} = ?1"), [id]),
    };
    done.map(|_| ()).map_err(|e| {
        if is_unique_violation(&e, "names.name_key") {
            taken
        } else {
            map_err(e)
        }
    })
}

pub(super) fn put_icon(
    conn: &Connection,
    id: i64,
    icon: &Option<IconImage>,
) -> rusqlite::Result<()> {
    match icon {
        Some(icon) => conn.exec_cached(
            "INSERT INTO group_icons (group_id, content_type, data, token) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (group_id) DO UPDATE SET content_type = excluded.content_type, \
             data = excluded.data, token = excluded.token",
            params![id, icon.content_type, icon.data, icon.token],
        )?,
        None => conn.exec_cached("DELETE FROM group_icons WHERE group_id = ?1", [id])?,
    };
    Ok(())
}

pub(super) fn put_field_value(
    conn: &Connection,
    ws: WorkspaceId,
    group: i64,
    field: i64,
    value: &Option<String>,
) -> rusqlite::Result<()> {
    match value {
        Some(v) => conn.exec_cached(
            "INSERT INTO group_field_values (group_id, workspace_id, field_id, value) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (group_id, field_id) \
             DO UPDATE SET value = excluded.value",
            params![group, ws.0, field, v],
        )?,
        None => conn.exec_cached(
            "DELETE FROM group_field_values WHERE group_id = ?1 AND field_id = ?2",
            params![group, field],
        )?,
    };
    Ok(())
}
