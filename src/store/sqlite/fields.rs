//! Group custom field definitions.

use super::events::record;
use super::*;
use crate::domain::{event, field};

pub(super) fn field_exists(conn: &Connection, ws: WorkspaceId, id: i64) -> rusqlite::Result<bool> {
    conn.row_cached(
        "SELECT 1 FROM field_defs WHERE workspace_id = ?1 AND id = ?2",
        params![ws.0, id],
        |_| Ok(()),
    )
    .optional()
    .map(|r| r.is_some())
}

fn field_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FieldDef> {
    let kind: String = r.get(2)?;
    let options: String = r.get(3)?;
    let bad = |msg: String| {
        rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, msg.into())
    };
    Ok(FieldDef {
        id: r.get(0)?,
        name: r.get(1)?,
        kind: kind.parse::<FieldKind>().map_err(bad)?,
        options: serde_json::from_str(&options).map_err(|e| bad(e.to_string()))?,
    })
}

#[async_trait]
impl FieldStore for SqliteStore {
    async fn create_field(
        &self,
        ws: WorkspaceId,
        def: NewFieldDef,
        now: i64,
    ) -> Result<FieldDef, StoreError> {
        self.write_audited(move |conn, audit| {
            let next: i64 = conn
                .row_cached(
                    "SELECT next_field_id FROM workspaces WHERE id = ?1",
                    [ws.0],
                    |r| r.get(0),
                )
                .optional()
                .map_err(map_err)?
                .ok_or(StoreError::NotFound(Entity::Workspace))?;
            let choice = field::choose_id(def.id, next);
            let id = choice.claim(field_exists(conn, ws, choice.id).map_err(map_err)?)?;
            conn.exec_cached(
                "UPDATE workspaces SET next_field_id = MAX(next_field_id, ?2 + 1) WHERE \
                         id = ?1",
                params![ws.0, id],
            )
            .map_err(map_err)?;
            let options = serde_json::to_string(&def.options)
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            conn.exec_cached(
                "INSERT INTO field_defs (workspace_id, id, name, kind, options, \
                         created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![ws.0, id, def.name, def.kind.as_str(), options, now],
            )
            .map_err(map_err)?;
            let made = FieldDef {
                id,
                name: def.name,
                kind: def.kind,
                options: def.options,
            };
            record(conn, ws, audit, &[event::field_created(&made)])?;
            Ok(made)
        })
        .await
    }

    async fn list_fields(&self, ws: WorkspaceId) -> Result<Vec<FieldDef>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, name, kind, options FROM field_defs WHERE workspace_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([ws.0], field_from_row)?;
            rows.collect()
        })
        .await
    }

    async fn delete_field(&self, ws: WorkspaceId, id: i64) -> Result<(), StoreError> {
        self.write_audited(move |conn, audit| {
            let def = conn
                .row_cached(
                    "DELETE FROM field_defs WHERE workspace_id = ?1 AND id = ?2 \
                         RETURNING id, name, kind, options",
                    params![ws.0, id],
                    field_from_row,
                )
                .optional()
                .map_err(map_err)?
                .ok_or(StoreError::UnknownField(id))?;
            record(conn, ws, audit, &[event::field_deleted(&def)])
        })
        .await
    }
}
