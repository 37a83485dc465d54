//! Export and import (see [`dump`]).

use super::*;

#[async_trait]
impl DumpStore for SqliteStore {
    async fn backup(&self, dest: &Path) -> Result<(), StoreError> {
        if dest.exists() {
            return Err(StoreError::Refused(format!(
                "{} already exists; name a new file (a backup never overwrites)",
                dest.display()
            )));
        }
        let source = self.readers.path.clone();
        let dest = dest.to_path_buf();
        // Written beside the target and renamed into place, so a failed or
        // interrupted backup never leaves a file that looks whole.
        let partial = dest.with_extension("partial");
        tokio::task::spawn_blocking(move || {
            let fail = |e: rusqlite::Error| StoreError::Refused(format!("backup failed: {e}"));
            let src = Connection::open_with_flags(&source, OpenFlags::SQLITE_OPEN_READ_ONLY)
                .map_err(fail)?;
            src.busy_timeout(Duration::from_secs(10)).map_err(fail)?;
            let _ = std::fs::remove_file(&partial);
            let mut out = Connection::open(&partial).map_err(fail)?;
            {
                let backup = rusqlite::backup::Backup::new(&src, &mut out).map_err(fail)?;
                // Every page in one step: one read transaction, so the copy is one
                // moment's database; in WAL mode writers go on meanwhile.
                use rusqlite::backup::StepResult;
                let mut tries = 0;
                loop {
                    match backup.step(-1).map_err(fail)? {
                        StepResult::Done => break,
                        StepResult::More => {}
                        _ if tries < 100 => {
                            tries += 1;
                            std::thread::sleep(Duration::from_millis(50));
                        }
                        _ => {
                            return Err(StoreError::Refused(
                                "backup failed: the database stayed locked for 5 s".into(),
                            ));
                        }
                    }
                }
            }
            out.execute_batch("PRAGMA journal_mode = DELETE")
                .map_err(fail)?;
            drop(out);
            std::fs::rename(&partial, &dest).map_err(|e| {
                StoreError::Refused(format!(
                    "backup failed: cannot write {}: {e}",
                    dest.display()
                ))
            })
        })
        .await
        .map_err(|e| StoreError::Backend(format!("backup task failed: {e}")))?
    }

    async fn export(&self, ws: Option<WorkspaceId>) -> Result<Vec<String>, StoreError> {
        use crate::store::dump::{Cell, ColType, TABLES, header_line, row_line};
        self.read(move |conn| {
            let mut out = vec![header_line()];
            for table in TABLES {
                let mut stmt = conn.prepare_cached(&table.select_sql(ws.map(|w| w.0)))?;
                let mut rows = stmt.query([])?;
                while let Some(r) = rows.next()? {
                    let mut cells = Vec::with_capacity(table.columns.len());
                    for (i, (_, ty)) in table.columns.iter().enumerate() {
                        cells.push(match ty {
                            ColType::Int => Cell::Int(r.get(i)?),
                            ColType::Text => Cell::Text(r.get(i)?),
                            ColType::Bool | ColType::BoolOrTrue => Cell::Bool(r.get(i)?),
                            ColType::Bytes => Cell::Bytes(r.get(i)?),
                            ColType::OptInt => {
                                r.get::<_, Option<i64>>(i)?.map_or(Cell::Null, Cell::Int)
                            }
                            ColType::OptText => r
                                .get::<_, Option<String>>(i)?
                                .map_or(Cell::Null, Cell::Text),
                        });
                    }
                    out.push(row_line(table, &cells));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn import(&self, text: String) -> Result<u64, StoreError> {
        use crate::store::dump::{Cell, parse};
        let batches = parse(&text)?;
        self.writer
            .write(move |conn| {
                let existing: i64 = conn
                    .row_cached("SELECT COUNT(*) FROM workspaces", [], |r| r.get(0))
                    .map_err(map_err)?;
                crate::store::dump::refuse_unless_empty(existing)?;
                let mut n = 0u64;
                for (table, rows) in &batches {
                    let sql = crate::store::dump::insert_sql(table, '?');
                    let mut stmt = conn.prepare_cached(&sql).map_err(map_err)?;
                    for cells in rows {
                        let values: Vec<rusqlite::types::Value> = cells
                            .iter()
                            .map(|c| match c {
                                Cell::Null => rusqlite::types::Value::Null,
                                Cell::Int(v) => rusqlite::types::Value::Integer(*v),
                                Cell::Text(v) => rusqlite::types::Value::Text(v.clone()),
                                Cell::Bool(v) => rusqlite::types::Value::Integer(i64::from(*v)),
                                Cell::Bytes(v) => rusqlite::types::Value::Blob(v.clone()),
                            })
                            .collect();
                        stmt.execute(rusqlite::params_from_iter(values))
                            .map_err(|e| {
                                StoreError::Refused(format!(
                                    "a {} row cannot be loaded: {e}",
                                    table.name
                                ))
                            })?;
                        n += 1;
                    }
                }
                // The names slugs and usernames hold are derived, not exported.
                conn.execute_batch(migrations::NAMES_BACKFILL)
                    .map_err(map_err)?;
                // Exports made before icons had tokens carry none.
                conn.execute_batch(migrations::FILL_ICON_TOKENS)
                    .map_err(map_err)?;
                // Keys come from the file, perhaps from before they were normalised.
                migrations::rekey(conn, Scope::All)
                    .map_err(map_err)?
                    .log(Scope::All);
                Ok(n)
            })
            .await
    }
}
