//! Workspaces (tenants).

use super::*;
use crate::store::WorkspaceCounts;

#[async_trait]
impl WorkspaceStore for PostgresStore {
    async fn bootstrap(&self, now: i64) -> Result<Option<Workspace>, StoreError> {
        let mut c = self.client_for(op!()).await?;
        let any = c
            .query_opt(&c.cached("SELECT id FROM workspaces LIMIT 1").await?, &[])
            .await
            .map_err(pg_err)?;
        if any.is_some() {
            return Ok(None);
        }
        let tx = c.transaction().await.map_err(pg_err)?;
        // ON CONFLICT makes instances starting together create it once.
        let ws = insert_workspace(&tx, DEFAULT_WORKSPACE, now).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(ws)
    }

    async fn create_workspace(&self, name: &str, now: i64) -> Result<Workspace, StoreError> {
        let mut c = self.client_for(op!()).await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let ws = insert_workspace(&tx, name, now)
            .await?
            .ok_or_else(|| StoreError::AlreadyExists(format!("workspace '{name}'")))?;
        tx.commit().await.map_err(pg_err)?;
        Ok(ws)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let c = self.client_for(op!()).await?;
        c.simple_query("SELECT 1").await.map_err(pg_err)?;
        Ok(())
    }

    async fn workspace_counts(&self, ws: WorkspaceId) -> Result<WorkspaceCounts, StoreError> {
        let c = self.client_for(op!()).await?;
        let r = c
            .query_one(
                &c.cached(
                    "SELECT (SELECT count(*) FROM groups WHERE workspace_id = $1), \
                 (SELECT count(*) FROM users WHERE workspace_id = $1), \
                 (SELECT count(*) FROM api_keys WHERE workspace_id = $1 AND revoked_at IS NULL), \
                 (SELECT count(*) FROM webhooks WHERE workspace_id = $1)",
                )
                .await?,
                &[&ws.0],
            )
            .await
            .map_err(pg_err)?;
        Ok(WorkspaceCounts {
            groups: r.get(0),
            users: r.get(1),
            active_keys: r.get(2),
            webhooks: r.get(3),
        })
    }

    async fn list_workspaces(&self) -> Result<Vec<Workspace>, StoreError> {
        let c = self.client_for(op!()).await?;
        let rows = c
            .query(
                &c.cached("SELECT id, name FROM workspaces ORDER BY id")
                    .await?,
                &[],
            )
            .await
            .map_err(pg_err)?;
        Ok(rows
            .iter()
            .map(|r| Workspace {
                id: WorkspaceId(r.get(0)),
                name: r.get(1),
            })
            .collect())
    }

    async fn find_workspace(&self, name: &str) -> Result<Option<Workspace>, StoreError> {
        let c = self.client_for(op!()).await?;
        let row = c
            .query_opt(
                &c.cached("SELECT id, name FROM workspaces WHERE name = $1")
                    .await?,
                &[&name],
            )
            .await
            .map_err(pg_err)?;
        Ok(row.map(|r| Workspace {
            id: WorkspaceId(r.get(0)),
            name: r.get(1),
        }))
    }
}
