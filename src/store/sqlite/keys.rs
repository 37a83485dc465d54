//! API keys: stored hashes, look-up by prefix, revocation.

use super::events::record;
use super::*;
use crate::domain::event;

#[async_trait]
impl KeyStore for SqliteStore {
    async fn insert_api_key(&self, ws: WorkspaceId, key: NewApiKey) -> Result<(), StoreError> {
        self.write_audited(move |conn, audit| {
            conn.exec_cached(
                "INSERT INTO api_keys (prefix, workspace_id, hash, label, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                params![key.prefix, ws.0, key.hash, key.label, key.now],
            )
            .map_err(|e| {
                if is_unique_violation(&e, "api_keys.prefix") {
                    StoreError::AlreadyExists("key prefix".into())
                } else {
                    map_err(e)
                }
            })?;
            record(
                conn,
                ws,
                audit,
                &[event::key_created(&key.prefix, &key.label)],
            )
        })
        .await
    }

    async fn find_api_key(&self, prefix: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let prefix = prefix.to_string();
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT workspace_id, hash, revoked_at IS NOT NULL FROM api_keys WHERE prefix = ?1",
            )?
            .query_row([&prefix], |r| {
                Ok(ApiKeyRecord {
                    workspace: WorkspaceId(r.get(0)?),
                    hash: r.get(1)?,
                    revoked: r.get(2)?,
                })
            })
            .optional()
        })
        .await
    }

    async fn list_api_keys(&self, ws: Option<WorkspaceId>) -> Result<Vec<ApiKey>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT k.prefix, w.name, k.label, k.created_at, k.revoked_at, k.last_used_at \
                 FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id \
                 WHERE ?1 IS NULL OR k.workspace_id = ?1 ORDER BY k.created_at, k.prefix",
            )?;
            let rows = stmt.query_map([ws.map(|w| w.0)], |r| {
                Ok(ApiKey {
                    prefix: r.get(0)?,
                    workspace: r.get(1)?,
                    label: r.get(2)?,
                    created_at: r.get(3)?,
                    revoked_at: r.get(4)?,
                    last_used_at: r.get(5)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn revoke_api_key(&self, prefix: &str, now: i64) -> Result<(), StoreError> {
        let prefix = prefix.to_string();
        self.write_audited(move |conn, audit| {
            let row: Option<(i64, bool)> = conn
                .row_cached(
                    "SELECT workspace_id, revoked_at IS NOT NULL FROM api_keys WHERE prefix = ?1",
                    params![prefix],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(map_err)?;
            let Some((ws, revoked)) = row else {
                return Err(StoreError::NotFound(Entity::Key));
            };
            if revoked {
                return Ok(());
            }
            conn.exec_cached(
                "UPDATE api_keys SET revoked_at = ?2 WHERE prefix = ?1",
                params![prefix, now],
            )
            .map_err(map_err)?;
            record(conn, WorkspaceId(ws), audit, &[event::key_revoked(&prefix)])?;
            Ok(())
        })
        .await?;
        // Committed; now tell every process's key cache (see `changes`).
        self.changes.mark_revocation().map_err(|e| {
            StoreError::Unavailable(format!(
                "the key is revoked, but running servers may accept it for a few seconds: \
                 cannot write {}: {e}",
                self.changes.path().display()
            ))
        })
    }

    async fn touch_api_key(&self, prefix: &str, now: i64) -> Result<(), StoreError> {
        let prefix = prefix.to_string();
        self.writer
            .write(move |conn| {
                conn.exec_cached(
                    "UPDATE api_keys SET last_used_at = ?2 WHERE prefix = ?1 \
                     AND (last_used_at IS NULL OR last_used_at < ?2)",
                    params![prefix, now],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }

    fn key_revocations(&self) -> Option<u64> {
        self.changes.revocation_token()
    }
}
