//! API keys: stored hashes, look-up by prefix, revocation.

use super::events::record;
use super::*;
use crate::domain::event;

#[async_trait]
impl KeyStore for PostgresStore {
    async fn insert_api_key(&self, ws: WorkspaceId, key: NewApiKey) -> Result<(), StoreError> {
        let mut c = self.client_for(op!()).await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        tx.execute(
            &tx.cached("INSERT INTO api_keys (prefix, workspace_id, hash, label, created_at) VALUES ($1, $2, $3, $4, $5)").await?,
            &[&key.prefix, &ws.0, &key.hash, &key.label, &key.now],
        )
        .await
        .map_err(write_err)?;
        let draft = event::key_created(&key.prefix, &key.label);
        record(&tx, ws, &Self::audit(), &[draft]).await?;
        tx.commit().await.map_err(write_err)
    }

    async fn find_api_key(&self, prefix: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let c = self.client_for(op!()).await?;
        let stmt = c
            .cached(
                "SELECT workspace_id, hash, revoked_at IS NOT NULL FROM api_keys WHERE prefix = $1",
            )
            .await?;
        let row = c.query_opt(&stmt, &[&prefix]).await.map_err(pg_err)?;
        Ok(row.map(|r| ApiKeyRecord {
            workspace: WorkspaceId(r.get(0)),
            hash: r.get(1),
            revoked: r.get(2),
        }))
    }

    async fn list_api_keys(&self, ws: Option<WorkspaceId>) -> Result<Vec<ApiKey>, StoreError> {
        let c = self.client_for(op!()).await?;
        let rows = c
            .query(
                &c.cached(
                    "SELECT k.prefix, w.name, k.label, k.created_at, k.revoked_at, k.last_used_at FROM api_keys k \
                 JOIN workspaces w ON w.id = k.workspace_id \
                 WHERE $1::BIGINT IS NULL OR k.workspace_id = $1 ORDER BY k.created_at, k.prefix",
                )
                .await?,
                &[&ws.map(|w| w.0)],
            )
            .await
            .map_err(pg_err)?;
        Ok(rows
            .iter()
            .map(|r| ApiKey {
                prefix: r.get(0),
                workspace: r.get(1),
                label: r.get(2),
                created_at: r.get(3),
                revoked_at: r.get(4),
                last_used_at: r.get(5),
            })
            .collect())
    }

    async fn revoke_api_key(&self, prefix: &str, now: i64) -> Result<(), StoreError> {
        let mut c = self.client_for(op!()).await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let row = tx
            .query_opt(
                &tx.cached(
                    "SELECT workspace_id, revoked_at IS NOT NULL FROM api_keys WHERE prefix = $1 \
                     FOR UPDATE",
                )
                .await?,
                &[&prefix],
            )
            .await
            .map_err(pg_err)?
            .ok_or(StoreError::NotFound(Entity::Key))?;
        let (ws, revoked): (i64, bool) = (row.get(0), row.get(1));
        if !revoked {
            tx.execute(
                &tx.cached("UPDATE api_keys SET revoked_at = $2 WHERE prefix = $1")
                    .await?,
                &[&prefix, &now],
            )
            .await
            .map_err(pg_err)?;
            let draft = event::key_revoked(prefix);
            record(&tx, WorkspaceId(ws), &Self::audit(), &[draft]).await?;
        }
        // Delivered to every instance's listener when this transaction commits.
        tx.execute(
            &tx.cached(&format!("NOTIFY {}", revocations::CHANNEL))
                .await?,
            &[],
        )
        .await
        .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)?;
        self.revocations.bump();
        Ok(())
    }

    async fn touch_api_key(&self, prefix: &str, now: i64) -> Result<(), StoreError> {
        let c = self.client_for(op!()).await?;
        c.execute(
            &c.cached(
                "UPDATE api_keys SET last_used_at = $2 WHERE prefix = $1 \
                 AND (last_used_at IS NULL OR last_used_at < $2)",
            )
            .await?,
            &[&prefix, &now],
        )
        .await
        .map_err(pg_err)?;
        Ok(())
    }

    /// Moved by LISTEN/NOTIFY; see [`revocations`].
    fn key_revocations(&self) -> Option<u64> {
        self.revocations.token()
    }
}
