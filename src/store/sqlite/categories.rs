//! Group categories.

use super::*;
use crate::domain::removal;

pub(super) fn category_exists(
    conn: &Connection,
    ws: WorkspaceId,
    id: i64,
) -> rusqlite::Result<bool> {
    conn.row_cached(
        "SELECT 1 FROM categories WHERE workspace_id = ?1 AND id = ?2",
        params![ws.0, id],
        |_| Ok(()),
    )
    .optional()
    .map(|r| r.is_some())
}

#[async_trait]
impl CategoryStore for SqliteStore {
    async fn create_category(
        &self,
        ws: WorkspaceId,
        name: &str,
        now: i64,
    ) -> Result<Category, StoreError> {
        let name = name.to_string();
        self.writer
            .write(move |conn| {
                let id: i64 = conn
                    .row_cached(
                        "UPDATE workspaces SET next_category_id = next_category_id + 1 \
                         WHERE id = ?1 RETURNING next_category_id - 1",
                        [ws.0],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(map_err)?
                    .ok_or(StoreError::NotFound(Entity::Workspace))?;
                conn.exec_cached(
                    "INSERT INTO categories (workspace_id, id, name, created_at) VALUES (?1, \
                         ?2, ?3, ?4)",
                    params![ws.0, id, name, now],
                )
                .map_err(map_err)?;
                Ok(Category { id, name })
            })
            .await
    }

    async fn list_categories(&self, ws: WorkspaceId) -> Result<Vec<Category>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, name FROM categories WHERE workspace_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([ws.0], |r| {
                Ok(Category {
                    id: r.get(0)?,
                    name: r.get(1)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn rename_category(
        &self,
        ws: WorkspaceId,
        id: i64,
        name: &str,
    ) -> Result<(), StoreError> {
        let name = name.to_string();
        self.writer
            .write(move |conn| {
                let n = conn
                    .exec_cached(
                        "UPDATE categories SET name = ?3 WHERE workspace_id = ?1 AND id = ?2",
                        params![ws.0, id, name],
                    )
                    .map_err(map_err)?;
                if n == 0 {
                    return Err(StoreError::UnknownCategory(id));
                }
                Ok(())
            })
            .await
    }

    async fn delete_category(&self, ws: WorkspaceId, id: i64) -> Result<u64, StoreError> {
        removal::may_remove_category(id)?;
        self.writer
            .write(move |conn| {
                let exists = category_exists(conn, ws, id).map_err(map_err)?;
                let plan = removal::plan_category_removal(id, exists)?;
                let moved = conn
                    .exec_cached(
                        "UPDATE groups SET category_id = ?3 WHERE workspace_id = ?1 AND \
                             category_id = ?2",
                        params![ws.0, plan.category, plan.heir],
                    )
                    .map_err(map_err)?;
                conn.exec_cached(
                    "DELETE FROM categories WHERE workspace_id = ?1 AND id = ?2",
                    params![ws.0, plan.category],
                )
                .map_err(map_err)?;
                Ok(moved as u64)
            })
            .await
    }
}
