//! Workspaces (tenants).

use super::*;

#[async_trait]
impl WorkspaceStore for SqliteStore {
    async fn bootstrap(&self, now: i64) -> Result<Option<Workspace>, StoreError> {
        self.writer
            .write(move |conn| {
                let any: Option<i64> = conn
                    .row_cached("SELECT id FROM workspaces LIMIT 1", [], |r| r.get(0))
                    .optional()
                    .map_err(map_err)?;
                match any {
                    Some(_) => Ok(None),
                    None => insert_workspace(conn, DEFAULT_WORKSPACE, now).map(Some),
                }
            })
            .await
    }

    async fn create_workspace(&self, name: &str, now: i64) -> Result<Workspace, StoreError> {
        let name = name.to_string();
        self.writer
            .write(move |conn| insert_workspace(conn, &name, now))
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| conn.query_row("SELECT 1", [], |_| Ok(())))
            .await
    }

    async fn workspace_counts(&self, ws: WorkspaceId) -> Result<WorkspaceCounts, StoreError> {
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT (SELECT count(*) FROM groups WHERE workspace_id = ?1), \
                 (SELECT count(*) FROM users WHERE workspace_id = ?1), \
                 (SELECT count(*) FROM api_keys WHERE workspace_id = ?1 AND revoked_at IS NULL), \
                 (SELECT count(*) FROM webhooks WHERE workspace_id = ?1)",
            )?
            .query_row([ws.0], |r| {
                Ok(WorkspaceCounts {
                    groups: r.get(0)?,
                    users: r.get(1)?,
                    active_keys: r.get(2)?,
                    webhooks: r.get(3)?,
                })
            })
        })
        .await
    }

    async fn list_workspaces(&self) -> Result<Vec<Workspace>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached("SELECT id, name FROM workspaces ORDER BY id")?;
            let rows = stmt.query_map([], |r| {
                Ok(Workspace {
                    id: WorkspaceId(r.get(0)?),
                    name: r.get(1)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn find_workspace(&self, name: &str) -> Result<Option<Workspace>, StoreError> {
        let name = name.to_string();
        self.read(move |conn| {
            conn.row_cached(
                "SELECT id, name FROM workspaces WHERE name = ?1",
                [&name],
                |r| {
                    Ok(Workspace {
                        id: WorkspaceId(r.get(0)?),
                        name: r.get(1)?,
                    })
                },
            )
            .optional()
        })
        .await
    }
}
