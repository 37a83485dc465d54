//! Group custom field definitions.

use super::events::record;
use super::*;
use crate::domain::{event, field};

fn field_from_row(r: &Row) -> Result<FieldDef, StoreError> {
    let kind: String = r.get(2);
    let options: String = r.get(3);
    Ok(FieldDef {
        id: r.get(0),
        name: r.get(1),
        kind: kind.parse::<FieldKind>().map_err(StoreError::Backend)?,
        options: serde_json::from_str(&options).map_err(|e| StoreError::Backend(e.to_string()))?,
    })
}

#[async_trait]
impl FieldStore for PostgresStore {
    async fn create_field(
        &self,
        ws: WorkspaceId,
        def: NewFieldDef,
        now: i64,
    ) -> Result<FieldDef, StoreError> {
        let mut c = self.client_for(op!()).await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let next: i64 = tx
            .query_opt(
                &tx.cached("SELECT next_field_id FROM workspaces WHERE id = $1 FOR UPDATE")
                    .await?,
                &[&ws.0],
            )
            .await
            .map_err(pg_err)?
            .ok_or(StoreError::NotFound(Entity::Workspace))?
            .get(0);
        let choice = field::choose_id(def.id, next);
        let taken = tx
            .query_opt(
                &tx.cached("SELECT 1 FROM field_defs WHERE workspace_id = $1 AND id = $2")
                    .await?,
                &[&ws.0, &choice.id],
            )
            .await
            .map_err(pg_err)?
            .is_some();
        let id = choice.claim(taken)?;
        tx.execute(
            &tx.cached("UPDATE workspaces SET next_field_id = GREATEST(next_field_id, $2::BIGINT + 1) WHERE id = $1").await?,
            &[&ws.0, &id],
        )
        .await
        .map_err(pg_err)?;
        let options =
            serde_json::to_string(&def.options).map_err(|e| StoreError::Backend(e.to_string()))?;
        tx.execute(
            &tx.cached("INSERT INTO field_defs (workspace_id, id, name, kind, options, created_at) VALUES ($1, $2, $3, $4, $5, $6)").await?,
            &[&ws.0, &id, &def.name, &def.kind.as_str(), &options, &now],
        )
        .await
        .map_err(write_err)?;
        let made = FieldDef {
            id,
            name: def.name,
            kind: def.kind,
            options: def.options,
        };
        record(&tx, ws, &Self::audit(), &[event::field_created(&made)]).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(made)
    }

    async fn list_fields(&self, ws: WorkspaceId) -> Result<Vec<FieldDef>, StoreError> {
        let c = self.client_for(op!()).await?;
        let rows = c
            .query(
                &c.cached("SELECT id, name, kind, options FROM field_defs WHERE workspace_id = $1 ORDER BY id").await?,
                &[&ws.0],
            )
            .await
            .map_err(pg_err)?;
        rows.iter().map(field_from_row).collect()
    }

    async fn delete_field(&self, ws: WorkspaceId, id: i64) -> Result<(), StoreError> {
        let mut c = self.client_for(op!()).await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let row = tx
            .query_opt(
                &tx.cached(
                    "DELETE FROM field_defs WHERE workspace_id = $1 AND id = $2 \
                     RETURNING id, name, kind, options",
                )
                .await?,
                &[&ws.0, &id],
            )
            .await
            .map_err(pg_err)?
            .ok_or(StoreError::UnknownField(id))?;
        let def = field_from_row(&row)?;
        record(&tx, ws, &Self::audit(), &[event::field_deleted(&def)]).await?;
        tx.commit().await.map_err(pg_err)
    }
}
