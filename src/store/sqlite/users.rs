//! Users.

use super::events::record;
use super::*;
use crate::domain::event;

fn user_in(conn: &Connection, ws: WorkspaceId, id: UserId) -> Result<Option<User>, StoreError> {
    conn.row_cached(
        concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u WHERE u.workspace_id = ?1 AND u.id = ?2"
        ),
        params![ws.0, id.0],
        user_from_row,
    )
    .optional()
    .map_err(map_err)
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn insert_user(&self, ws: WorkspaceId, u: NewUser) -> Result<UserId, StoreError> {
        self.write_audited(move |conn, audit| {
            conn.exec_cached(
                "INSERT INTO users (workspace_id, full_name, username, username_key, email, \
                     email_key, password_hash, created_at, updated_at, external_id, active, \
                     idp_user_name, idp_user_name_key) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, ?12)",
                params![
                    ws.0,
                    u.full_name,
                    u.username.0,
                    u.username.1,
                    u.email.0,
                    u.email.1,
                    u.password_hash,
                    u.now,
                    u.external_id,
                    u.active,
                    u.idp_user_name.as_ref().map(|x| &x.0),
                    u.idp_user_name.as_ref().map(|x| &x.1)
                ],
            )
            .map_err(user_error)?;
            let id = UserId(conn.last_insert_rowid());
            put_name(conn, ws, NameHolder::User(id), Some(&u.username.1))?;
            let made = User {
                id,
                workspace: ws,
                full_name: u.full_name,
                username: u.username.0,
                email: u.email.0,
                password_hash: u.password_hash,
                external_id: u.external_id,
                active: u.active,
                idp_user_name: u.idp_user_name.map(|x| x.0),
                created_at: u.now,
                updated_at: u.now,
            };
            record(conn, ws, audit, &[event::user_created(&made)])?;
            Ok(id)
        })
        .await
    }

    async fn update_user(
        &self,
        ws: WorkspaceId,
        id: UserId,
        u: UserUpdate,
    ) -> Result<(), StoreError> {
        self.write_audited(move |conn, audit| {
            let Some(before) = user_in(conn, ws, id)? else {
                return Err(StoreError::NotFound(Entity::User));
            };
            conn.exec_cached(
                "UPDATE users SET full_name = COALESCE(?3, full_name), \
                         username = COALESCE(?4, username), \
                         username_key = COALESCE(?5, username_key), \
                         email = COALESCE(?6, email), email_key = COALESCE(?7, email_key), \
                         password_hash = COALESCE(?8, password_hash), updated_at = ?9, \
                         external_id = CASE WHEN ?10 THEN ?11 ELSE external_id END, \
                         active = COALESCE(?12, active), \
                         idp_user_name = CASE WHEN ?13 THEN ?14 ELSE idp_user_name END, \
                         idp_user_name_key = CASE WHEN ?13 THEN ?15 ELSE idp_user_name_key END \
                         WHERE workspace_id = ?1 AND id = ?2",
                params![
                    ws.0,
                    id.0,
                    u.full_name,
                    u.username.as_ref().map(|x| &x.0),
                    u.username.as_ref().map(|x| &x.1),
                    u.email.as_ref().map(|x| &x.0),
                    u.email.as_ref().map(|x| &x.1),
                    u.password_hash,
                    u.now,
                    u.external_id.is_some(),
                    u.external_id.clone().flatten(),
                    u.active,
                    u.idp_user_name.is_some(),
                    u.idp_user_name
                        .as_ref()
                        .and_then(|x| x.as_ref().map(|x| &x.0)),
                    u.idp_user_name
                        .as_ref()
                        .and_then(|x| x.as_ref().map(|x| &x.1))
                ],
            )
            .map_err(user_error)?;
            if let Some((_, key)) = &u.username {
                put_name(conn, ws, NameHolder::User(id), Some(key))?;
            }
            let after = user_in(conn, ws, id)?.ok_or(StoreError::NotFound(Entity::User))?;
            record(
                conn,
                ws,
                audit,
                event::user_updated(&before, &after).as_slice(),
            )
        })
        .await
    }

    async fn delete_user(&self, ws: WorkspaceId, id: UserId) -> Result<(), StoreError> {
        self.write_audited(move |conn, audit| {
            let Some(before) = user_in(conn, ws, id)? else {
                return Err(StoreError::NotFound(Entity::User));
            };
            conn.exec_cached(
                "UPDATE groups SET member_count = member_count - 1 WHERE id IN \
                         (SELECT m.group_id FROM memberships m JOIN users u ON u.id = m.user_id \
                          WHERE m.user_id = ?2 AND u.workspace_id = ?1)",
                params![ws.0, id.0],
            )
            .map_err(map_err)?;
            conn.exec_cached(
                "DELETE FROM users WHERE workspace_id = ?1 AND id = ?2",
                params![ws.0, id.0],
            )
            .map_err(map_err)?;
            record(conn, ws, audit, &[event::user_deleted(&before)])
        })
        .await
    }

    async fn find_user(&self, ws: WorkspaceId, by: &UserRef) -> Result<Option<User>, StoreError> {
        if matches!(by, UserRef::Email(k) if k.is_empty()) {
            // Users without an address have an empty one; it names nobody.
            return Ok(None);
        }
        let by = by.clone();
        self.read(move |conn| {
            let (column, value): (&str, rusqlite::types::Value) = match &by {
                UserRef::Id(id) => ("id", id.0.into()),
                UserRef::Username(k) => ("username_key", k.clone().into()),
                UserRef::Email(k) => ("email_key", k.clone().into()),
                UserRef::IdpName(k) => ("idp_user_name_key", k.clone().into()),
            };
            conn.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users u WHERE u.workspace_id = ?1 AND u.{column} = ?2"
            ))?
            .query_row(params![ws.0, value], user_from_row)
            .optional()
        })
        .await
    }

    async fn find_users(&self, ws: WorkspaceId, by: &[UserRef]) -> Result<Vec<User>, StoreError> {
        let refs = crate::store::split_user_refs(by);
        let encode = |v: serde_json::Value| v.to_string();
        let (ids, names, emails, idp_names) = (
            encode(serde_json::json!(refs.ids)),
            encode(serde_json::json!(refs.names)),
            encode(serde_json::json!(refs.emails)),
            encode(serde_json::json!(refs.idp_names)),
        );
        self.read(move |conn| {
            conn.prepare_cached(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users u WHERE u.workspace_id = ?1 AND (\
                   u.id IN (SELECT value FROM json_each(?2)) \
                   OR u.username_key IN (SELECT value FROM json_each(?3)) \
                   OR u.email_key IN (SELECT value FROM json_each(?4)) \
                   OR u.idp_user_name_key IN (SELECT value FROM json_each(?5)))"
            ))?
            .query_map(params![ws.0, ids, names, emails, idp_names], user_from_row)?
            .collect()
        })
        .await
    }

    async fn list_users(
        &self,
        ws: WorkspaceId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError> {
        self.read(move |conn| {
            conn.prepare_cached(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users u WHERE u.workspace_id = ?1 AND u.id > ?2 \
                 ORDER BY u.id LIMIT ?3"
            ))?
            .query_map(
                params![ws.0, after.map_or(0, |u| u.0), limit],
                user_from_row,
            )?
            .collect()
        })
        .await
    }
}
