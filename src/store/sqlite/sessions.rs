//! Console sign-in sessions.

use super::*;
use crate::domain::session::{Session, SessionActor};

#[async_trait]
impl SessionStore for SqliteStore {
    async fn insert_session(&self, token_hash: Vec<u8>, s: Session) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| {
                conn.exec_cached(
                    "INSERT INTO console_sessions (token_hash, workspace_id, actor, created_at, \
                     seen_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        token_hash,
                        s.workspace.0,
                        s.actor.to_text(),
                        s.created_at,
                        s.seen_at
                    ],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }

    async fn find_session(&self, token_hash: &[u8]) -> Result<Option<Session>, StoreError> {
        let token_hash = token_hash.to_vec();
        let row: Option<(i64, String, i64, i64)> = self
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT workspace_id, actor, created_at, seen_at FROM console_sessions \
                     WHERE token_hash = ?1",
                )?
                .query_row([token_hash], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()
            })
            .await?;
        row.map(|(ws, actor, created_at, seen_at)| {
            Ok(Session {
                workspace: WorkspaceId(ws),
                actor: SessionActor::parse(&actor).ok_or_else(|| {
                    StoreError::Backend(format!("unreadable session actor '{actor}'"))
                })?,
                created_at,
                seen_at,
            })
        })
        .transpose()
    }

    async fn touch_session(&self, token_hash: &[u8], now: i64) -> Result<(), StoreError> {
        let token_hash = token_hash.to_vec();
        self.writer
            .write(move |conn| {
                conn.exec_cached(
                    "UPDATE console_sessions SET seen_at = max(seen_at, ?2) WHERE token_hash = ?1",
                    params![token_hash, now],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }

    async fn delete_session(&self, token_hash: &[u8]) -> Result<(), StoreError> {
        let token_hash = token_hash.to_vec();
        self.writer
            .write(move |conn| {
                conn.exec_cached(
                    "DELETE FROM console_sessions WHERE token_hash = ?1",
                    params![token_hash],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }

    async fn prune_sessions(
        &self,
        seen_before: i64,
        created_before: i64,
    ) -> Result<u64, StoreError> {
        self.writer
            .write(move |conn| {
                let n = conn
                    .exec_cached(
                        "DELETE FROM console_sessions WHERE seen_at < ?1 OR created_at < ?2",
                        params![seen_before, created_before],
                    )
                    .map_err(map_err)?;
                Ok(n as u64)
            })
            .await
    }
}
