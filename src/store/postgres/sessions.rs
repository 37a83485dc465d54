//! Console sign-in sessions.

use super::*;
use crate::domain::session::{Session, SessionActor};

#[async_trait]
impl SessionStore for PostgresStore {
    async fn insert_session(&self, token_hash: Vec<u8>, s: Session) -> Result<(), StoreError> {
        let c = self.client_for(op!()).await?;
        c.execute(
            &c.cached(
                "INSERT INTO console_sessions (token_hash, workspace_id, actor, created_at, seen_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .await?,
            &[&token_hash, &s.workspace.0, &s.actor.to_text(), &s.created_at, &s.seen_at],
        )
        .await
        .map_err(write_err)?;
        Ok(())
    }

    async fn find_session(&self, token_hash: &[u8]) -> Result<Option<Session>, StoreError> {
        let c = self.client_for(op!()).await?;
        let row = c
            .query_opt(
                &c.cached(
                    "SELECT workspace_id, actor, created_at, seen_at FROM console_sessions \
                     WHERE token_hash = $1",
                )
                .await?,
                &[&token_hash],
            )
            .await
            .map_err(pg_err)?;
        row.map(|r| {
            let actor: String = r.get(1);
            Ok(Session {
                workspace: WorkspaceId(r.get(0)),
                actor: SessionActor::parse(&actor).ok_or_else(|| {
                    StoreError::Backend(format!("unreadable session actor '{actor}'"))
                })?,
                created_at: r.get(2),
                seen_at: r.get(3),
            })
        })
        .transpose()
    }

    async fn touch_session(&self, token_hash: &[u8], now: i64) -> Result<(), StoreError> {
        let c = self.client_for(op!()).await?;
        c.execute(
            &c.cached(
                "UPDATE console_sessions SET seen_at = GREATEST(seen_at, $2) WHERE token_hash = $1",
            )
            .await?,
            &[&token_hash, &now],
        )
        .await
        .map_err(pg_err)?;
        Ok(())
    }

    async fn delete_session(&self, token_hash: &[u8]) -> Result<(), StoreError> {
        let c = self.client_for(op!()).await?;
        c.execute(
            &c.cached("DELETE FROM console_sessions WHERE token_hash = $1")
                .await?,
            &[&token_hash],
        )
        .await
        .map_err(pg_err)?;
        Ok(())
    }

    async fn prune_sessions(
        &self,
        seen_before: i64,
        created_before: i64,
    ) -> Result<u64, StoreError> {
        let c = self.client_for(op!()).await?;
        c.execute(
            &c.cached("DELETE FROM console_sessions WHERE seen_at < $1 OR created_at < $2")
                .await?,
            &[&seen_before, &created_before],
        )
        .await
        .map_err(pg_err)
    }
}
