//! Users.

use super::events::record;
use super::*;
use crate::domain::event;

async fn user_in<C: GenericClient>(
    c: &C,
    ws: WorkspaceId,
    id: UserId,
) -> Result<Option<User>, StoreError> {
    Ok(c.query_opt(
        &c.cached(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u WHERE u.workspace_id = $1 AND u.id = $2 FOR UPDATE"
        ))
        .await?,
        &[&ws.0, &id.0],
    )
    .await
    .map_err(pg_err)?
    .map(|r| user_from_row(&r)))
}

#[async_trait]
impl UserStore for PostgresStore {
    async fn insert_user(&self, ws: WorkspaceId, u: NewUser) -> Result<UserId, StoreError> {
        let mut c = self.client_for(op!()).await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let row = tx
            .query_one(
                &tx.cached("INSERT INTO users (workspace_id, full_name, username, username_key, email, email_key, \
                 password_hash, created_at, updated_at, external_id, active, idp_user_name, idp_user_name_key) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11, $12) RETURNING id").await?,
                &[&ws.0, &u.full_name, &u.username.0, &u.username.1, &u.email.0, &u.email.1, &u.password_hash, &u.now,
                  &u.external_id, &u.active, &u.idp_user_name.as_ref().map(|x| &x.0),
                  &u.idp_user_name.as_ref().map(|x| &x.1)],
            )
            .await
            .map_err(write_err)?;
        let id = UserId(row.get(0));
        put_name(&tx, ws, NameHolder::User(id), Some(&u.username.1)).await?;
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
        record(&tx, ws, &Self::audit(), &[event::user_created(&made)]).await?;
        tx.commit().await.map_err(write_err)?;
        Ok(id)
    }

    async fn update_user(
        &self,
        ws: WorkspaceId,
        id: UserId,
        u: UserUpdate,
    ) -> Result<(), StoreError> {
        let mut c = self.client_for(op!()).await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let Some(before) = user_in(&tx, ws, id).await? else {
            return Err(StoreError::NotFound(Entity::User));
        };
        tx.execute(
                &tx.cached("UPDATE users SET full_name = COALESCE($3, full_name), username = COALESCE($4, username), \
                 username_key = COALESCE($5, username_key), email = COALESCE($6, email), \
                 email_key = COALESCE($7, email_key), password_hash = COALESCE($8, password_hash), updated_at = $9, \
                 external_id = CASE WHEN $10 THEN $11 ELSE external_id END, active = COALESCE($12, active), \
                 idp_user_name = CASE WHEN $13 THEN $14 ELSE idp_user_name END, \
                 idp_user_name_key = CASE WHEN $13 THEN $15 ELSE idp_user_name_key END \
                 WHERE workspace_id = $1 AND id = $2").await?,
                &[
                    &ws.0,
                    &id.0,
                    &u.full_name,
                    &u.username.as_ref().map(|x| x.0.clone()),
                    &u.username.as_ref().map(|x| x.1.clone()),
                    &u.email.as_ref().map(|x| x.0.clone()),
                    &u.email.as_ref().map(|x| x.1.clone()),
                    &u.password_hash,
                    &u.now,
                    &u.external_id.is_some(),
                    &u.external_id.clone().flatten(),
                    &u.active,
                    &u.idp_user_name.is_some(),
                    &u.idp_user_name.as_ref().and_then(|x| x.as_ref().map(|x| x.0.clone())),
                    &u.idp_user_name.as_ref().and_then(|x| x.as_ref().map(|x| x.1.clone())),
                ],
            )
            .await
            .map_err(write_err)?;
        if let Some((_, key)) = &u.username {
            put_name(&tx, ws, NameHolder::User(id), Some(key)).await?;
        }
        let after = user_in(&tx, ws, id)
            .await?
            .ok_or(StoreError::NotFound(Entity::User))?;
        let draft = event::user_updated(&before, &after);
        record(&tx, ws, &Self::audit(), draft.as_slice()).await?;
        tx.commit().await.map_err(write_err)
    }

    async fn delete_user(&self, ws: WorkspaceId, id: UserId) -> Result<(), StoreError> {
        let mut c = self.client_for(op!()).await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let Some(before) = user_in(&tx, ws, id).await? else {
            return Err(StoreError::NotFound(Entity::User));
        };
        // `user_in` took the user's row lock: adds of the user in flight ended
        // before it (their memberships' key-share locks), later ones wait and then
        // find no user; so the delete below takes every membership the user has.
        let mut groups: Vec<i64> = tx
            .query(
                &tx.cached("DELETE FROM memberships WHERE user_id = $1 RETURNING group_id")
                    .await?,
                &[&id.0],
            )
            .await
            .map_err(pg_err)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        // The counts last, in group order (see migration 8).
        groups.sort_unstable();
        tx.execute(
            &tx.cached(
                "INSERT INTO member_counts (group_id, slot, n) \
                 SELECT g, (pg_backend_pid() % 16)::smallint, -1 FROM unnest($1::bigint[]) AS g \
                 ORDER BY g \
                 ON CONFLICT (group_id, slot) DO UPDATE SET n = member_counts.n + excluded.n",
            )
            .await?,
            &[&groups],
        )
        .await
        .map_err(pg_err)?;
        tx.execute(
            &tx.cached("DELETE FROM users WHERE workspace_id = $1 AND id = $2")
                .await?,
            &[&ws.0, &id.0],
        )
        .await
        .map_err(pg_err)?;
        record(&tx, ws, &Self::audit(), &[event::user_deleted(&before)]).await?;
        tx.commit().await.map_err(pg_err)
    }

    async fn find_user(&self, ws: WorkspaceId, by: &UserRef) -> Result<Option<User>, StoreError> {
        if matches!(by, UserRef::Email(k) if k.is_empty()) {
            // Users without an address have an empty one; it names nobody.
            return Ok(None);
        }
        macro_rules! by_column {
            ($column:literal) => {
                concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users u WHERE u.workspace_id = $1 AND u.",
                    $column,
                    " = $2"
                )
            };
        }
        let (sql, key): (&str, &(dyn tokio_postgres::types::ToSql + Sync)) = match by {
            UserRef::Id(id) => (by_column!("id"), &id.0),
            UserRef::Username(k) => (by_column!("username_key"), k),
            UserRef::Email(k) => (by_column!("email_key"), k),
            UserRef::IdpName(k) => (by_column!("idp_user_name_key"), k),
        };
        let c = self.client_for(op!()).await?;
        let row = c
            .query_opt(&c.cached(sql).await?, &[&ws.0, key])
            .await
            .map_err(pg_err)?;
        Ok(row.as_ref().map(user_from_row))
    }

    async fn find_users(&self, ws: WorkspaceId, by: &[UserRef]) -> Result<Vec<User>, StoreError> {
        let refs = crate::store::split_user_refs(by);
        let c = self.client_for(op!()).await?;
        let rows = c
            .query(
                &c.cached(concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users u WHERE u.workspace_id = $1 AND (u.id = ANY($2) \
                     OR u.username_key = ANY($3) OR u.email_key = ANY($4) \
                     OR u.idp_user_name_key = ANY($5))"
                ))
                .await?,
                &[&ws.0, &refs.ids, &refs.names, &refs.emails, &refs.idp_names],
            )
            .await
            .map_err(pg_err)?;
        Ok(rows.iter().map(user_from_row).collect())
    }

    async fn list_users(
        &self,
        ws: WorkspaceId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError> {
        let c = self.client_for(op!()).await?;
        let rows = c
            .query(
                &c.cached(concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users u WHERE u.workspace_id = $1 AND u.id > $2 ORDER BY u.id LIMIT $3"
                ))
                .await?,
                &[&ws.0, &after.map_or(0, |u| u.0), &i64::from(limit)],
            )
            .await
            .map_err(pg_err)?;
        Ok(rows.iter().map(user_from_row).collect())
    }
}
