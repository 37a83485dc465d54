//! Group categories.

use super::events::record;
use super::*;
use crate::domain::{event, removal};

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
        self.write_audited(move |conn, audit| {
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
            record(conn, ws, audit, &[event::category_created(id, &name)])?;
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
        self.write_audited(move |conn, audit| {
            let before: String = conn
                .row_cached(
                    "SELECT name FROM categories WHERE workspace_id = ?1 AND id = ?2",
                    params![ws.0, id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(map_err)?
                .ok_or(StoreError::UnknownCategory(id))?;
            conn.exec_cached(
                "UPDATE categories SET name = ?3 WHERE workspace_id = ?1 AND id = ?2",
                params![ws.0, id, name],
            )
            .map_err(map_err)?;
            let draft = event::category_renamed(id, &before, &name);
            record(conn, ws, audit, draft.as_slice())
        })
        .await
    }

    async fn delete_category(&self, ws: WorkspaceId, id: i64) -> Result<u64, StoreError> {
        removal::may_remove_category(id)?;
        self.write_audited(move |conn, audit| {
            let name: Option<String> = conn
                .row_cached(
                    "SELECT name FROM categories WHERE workspace_id = ?1 AND id = ?2",
                    params![ws.0, id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(map_err)?;
            let plan = removal::plan_category_removal(id, name.is_some())?;
            let moved: Vec<i64> = conn
                .prepare_cached(
                    "UPDATE groups SET category_id = ?3 WHERE workspace_id = ?1 AND \
                             category_id = ?2 RETURNING id",
                )
                .and_then(|mut s| {
                    s.query_map(params![ws.0, plan.category, plan.heir], |r| r.get(0))?
                        .collect()
                })
                .map_err(map_err)?;
            conn.exec_cached(
                "DELETE FROM categories WHERE workspace_id = ?1 AND id = ?2",
                params![ws.0, plan.category],
            )
            .map_err(map_err)?;
            let name = name.unwrap_or_default();
            let drafts = event::category_deleted(plan.category, &name, plan.heir, &moved);
            record(conn, ws, audit, &drafts)?;
            Ok(moved.len() as u64)
        })
        .await
    }
}
