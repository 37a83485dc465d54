//! Group categories.

use super::events::record;
use super::*;
use crate::domain::{event, removal};

#[async_trait]
impl CategoryStore for PostgresStore {
    async fn create_category(
        &self,
        ws: WorkspaceId,
        name: &str,
        now: i64,
    ) -> Result<Category, StoreError> {
        let mut c = self.client_for(op!()).await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let id: i64 = tx
            .query_opt(
                &tx.cached(
                    "UPDATE workspaces SET next_category_id = next_category_id + 1 WHERE id = $1 \
                 RETURNING next_category_id - 1",
                )
                .await?,
                &[&ws.0],
            )
            .await
            .map_err(pg_err)?
            .ok_or(StoreError::NotFound(Entity::Workspace))?
            .get(0);
        tx.execute(
            &tx.cached("INSERT INTO categories (workspace_id, id, name, created_at) VALUES ($1, $2, $3, $4)").await?,
            &[&ws.0, &id, &name, &now],
        )
        .await
        .map_err(pg_err)?;
        let draft = event::category_created(id, name);
        record(&tx, ws, &Self::audit(), &[draft]).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(Category {
            id,
            name: name.to_string(),
        })
    }

    async fn list_categories(&self, ws: WorkspaceId) -> Result<Vec<Category>, StoreError> {
        let c = self.client_for(op!()).await?;
        let rows = c
            .query(
                &c.cached("SELECT id, name FROM categories WHERE workspace_id = $1 ORDER BY id")
                    .await?,
                &[&ws.0],
            )
            .await
            .map_err(pg_err)?;
        Ok(rows
            .iter()
            .map(|r| Category {
                id: r.get(0),
                name: r.get(1),
            })
            .collect())
    }

    async fn rename_category(
        &self,
        ws: WorkspaceId,
        id: i64,
        name: &str,
    ) -> Result<(), StoreError> {
        let mut c = self.client_for(op!()).await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let before: String = tx
            .query_opt(
                &tx.cached(
                    "SELECT name FROM categories WHERE workspace_id = $1 AND id = $2 FOR UPDATE",
                )
                .await?,
                &[&ws.0, &id],
            )
            .await
            .map_err(pg_err)?
            .ok_or(StoreError::UnknownCategory(id))?
            .get(0);
        tx.execute(
            &tx.cached("UPDATE categories SET name = $3 WHERE workspace_id = $1 AND id = $2")
                .await?,
            &[&ws.0, &id, &name],
        )
        .await
        .map_err(pg_err)?;
        let draft = event::category_renamed(id, &before, name);
        record(&tx, ws, &Self::audit(), draft.as_slice()).await?;
        tx.commit().await.map_err(pg_err)
    }

    async fn delete_category(&self, ws: WorkspaceId, id: i64) -> Result<u64, StoreError> {
        removal::may_remove_category(id)?;
        let mut c = self.client_for(op!()).await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let found = tx
            .query_opt(
                &tx.cached(
                    "SELECT name FROM categories WHERE workspace_id = $1 AND id = $2 FOR UPDATE",
                )
                .await?,
                &[&ws.0, &id],
            )
            .await
            .map_err(pg_err)?;
        let plan = removal::plan_category_removal(id, found.is_some())?;
        let moved: Vec<i64> = tx
            .query(
                &tx.cached("UPDATE groups SET category_id = $3 WHERE workspace_id = $1 AND category_id = $2 RETURNING id").await?,
                &[&ws.0, &plan.category, &plan.heir],
            )
            .await
            .map_err(pg_err)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        tx.execute(
            &tx.cached("DELETE FROM categories WHERE workspace_id = $1 AND id = $2")
                .await?,
            &[&ws.0, &plan.category],
        )
        .await
        .map_err(pg_err)?;
        let name: String = found.map(|r| r.get(0)).unwrap_or_default();
        let drafts = event::category_deleted(plan.category, &name, plan.heir, &moved);
        record(&tx, ws, &Self::audit(), &drafts).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(moved.len() as u64)
    }
}
