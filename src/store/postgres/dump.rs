//! Export and import (see [`dump`]).

use super::*;

#[async_trait]
impl DumpStore for PostgresStore {
    async fn backup(&self, _dest: &std::path::Path) -> Result<(), StoreError> {
        Err(StoreError::Refused(
            "groupd backup copies the SQLite database; on PostgreSQL use pg_dump \
             (or your provider's snapshots), see docs/operations.md"
                .into(),
        ))
    }

    async fn export(&self, ws: Option<WorkspaceId>) -> Result<Vec<String>, StoreError> {
        use crate::store::dump::{Cell, ColType, TABLES, header_line, row_line};
        let mut c = self.client_for(op!()).await?;
        // One snapshot for the whole export.
        let tx = c
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(pg_err)?;
        let mut out = vec![header_line()];
        for table in TABLES {
            for r in tx
                .query(
                    &table.select_sql_with(ws.map(|w| w.0), |column| {
                        // The count with its slots' deltas (see `member_count_of_g!`).
                        (table.name == "groups" && column == "member_count").then_some(
                            "(member_count + COALESCE((SELECT sum(mc.n) FROM member_counts mc \
                             WHERE mc.group_id = groups.id), 0))::bigint",
                        )
                    }),
                    &[],
                )
                .await
                .map_err(pg_err)?
            {
                let cells: Vec<Cell> = table
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, (_, ty))| match ty {
                        ColType::Int => Cell::Int(r.get(i)),
                        ColType::Text => Cell::Text(r.get(i)),
                        ColType::Bool | ColType::BoolOrTrue => Cell::Bool(r.get(i)),
                        ColType::Bytes => Cell::Bytes(r.get(i)),
                        ColType::OptInt => r.get::<_, Option<i64>>(i).map_or(Cell::Null, Cell::Int),
                        ColType::OptText => {
                            r.get::<_, Option<String>>(i).map_or(Cell::Null, Cell::Text)
                        }
                    })
                    .collect();
                out.push(row_line(table, &cells));
            }
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(out)
    }

    async fn import(&self, text: String) -> Result<u64, StoreError> {
        use crate::store::dump::{Cell, ColType, parse};
        use tokio_postgres::types::ToSql;
        let batches = parse(&text)?;
        let mut c = self.client_for(op!()).await?;
        let mut tx = c.transaction().await.map_err(pg_err)?;
        let existing: i64 = tx
            .query_one(&tx.cached("SELECT COUNT(*) FROM workspaces").await?, &[])
            .await
            .map_err(pg_err)?
            .get(0);
        crate::store::dump::refuse_unless_empty(existing)?;
        let mut n = 0u64;
        for (table, rows) in &batches {
            let sql = crate::store::dump::insert_sql(table, '$');
            let stmt = tx.prepare(&sql).await.map_err(pg_err)?;
            for cells in rows {
                let values: Vec<Box<dyn ToSql + Sync + Send>> = cells
                    .iter()
                    .zip(table.columns.iter())
                    .map(|(cell, (_, ty))| -> Box<dyn ToSql + Sync + Send> {
                        match (cell, ty) {
                            (Cell::Null, ColType::OptInt) => Box::new(None::<i64>),
                            (Cell::Null, _) => Box::new(None::<String>),
                            (Cell::Int(v), _) => Box::new(*v),
                            (Cell::Text(v), _) => Box::new(v.clone()),
                            (Cell::Bool(v), _) => Box::new(*v),
                            (Cell::Bytes(v), _) => Box::new(v.clone()),
                        }
                    })
                    .collect();
                let params: Vec<&(dyn ToSql + Sync)> = values
                    .iter()
                    .map(|v| v.as_ref() as &(dyn ToSql + Sync))
                    .collect();
                tx.execute(&stmt, &params).await.map_err(|e| {
                    StoreError::Refused(format!("a {} row cannot be loaded: {e}", table.name))
                })?;
                n += 1;
            }
        }
        // The names slugs and usernames hold are derived, not exported.
        tx.batch_execute(migrations::NAMES_BACKFILL)
            .await
            .map_err(pg_err)?;
        // Exports made before icons had tokens carry none.
        tx.batch_execute(migrations::FILL_ICON_TOKENS)
            .await
            .map_err(pg_err)?;
        // Keys come from the file, perhaps from before they were normalised.
        migrations::rekey(&mut tx, Scope::All)
            .await
            .map_err(pg_err)?
            .log(Scope::All);
        // Keep new ids above the imported ones.
        for t in ["workspaces", "groups", "users"] {
            tx.execute(
                &format!("SELECT setval(pg_get_serial_sequence('{t}', 'id'), COALESCE((SELECT MAX(id) FROM {t}), 0) + 1, false)"),
                &[],
            )
            .await
            .map_err(pg_err)?;
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(n)
    }
}
