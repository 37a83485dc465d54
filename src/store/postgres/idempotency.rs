//! Idempotency keys (REST POST).

use super::*;

#[async_trait]
impl IdempotencyStore for PostgresStore {
    async fn claim_idempotency_key(
        &self,
        ws: WorkspaceId,
        key: &str,
        claim: NewClaim,
    ) -> Result<IdempotencyClaim, StoreError> {
        let c = self.client_for(op!()).await?;
        c.execute(
            &c.cached("DELETE FROM idempotency_keys WHERE workspace_id = $1 AND key = $2 AND created_at < $3").await?,
            &[&ws.0, &key, &claim.since],
        )
        .await
        .map_err(pg_err)?;
        // A free key is inserted; a lapsed claim is taken over. ON CONFLICT locks
        // the existing row and tests the condition on its latest version, so of
        // claims racing for one lapsed key exactly one changes it.
        let upsert = c
            .cached(
                "INSERT INTO idempotency_keys (workspace_id, key, request_hash, created_at, claim_token, \
                 lease_until_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, key) DO UPDATE \
                 SET request_hash = excluded.request_hash, created_at = excluded.created_at, \
                 claim_token = excluded.claim_token, lease_until_ms = excluded.lease_until_ms \
                 WHERE idempotency_keys.status IS NULL AND idempotency_keys.lease_until_ms < $7",
            )
            .await?;
        let select = c
            .cached("SELECT request_hash, status, body FROM idempotency_keys WHERE workspace_id = $1 AND key = $2")
            .await?;
        // A claim released between the two statements leaves no row: claim again.
        for _ in 0..3 {
            let taken = c
                .execute(
                    &upsert,
                    &[
                        &ws.0,
                        &key,
                        &claim.request_hash,
                        &claim.now,
                        &claim.token,
                        &claim.lease_until_ms,
                        &claim.now_ms,
                    ],
                )
                .await
                .map_err(pg_err)?;
            if taken == 1 {
                return Ok(IdempotencyClaim::Claimed);
            }
            let Some(r) = c.query_opt(&select, &[&ws.0, &key]).await.map_err(pg_err)? else {
                continue;
            };
            let status: Option<i32> = r.get(1);
            let status = status.and_then(|s| u16::try_from(s).ok());
            return Ok(IdempotencyClaim::of_row(r.get(0), status, r.get(2)));
        }
        Err(StoreError::Unavailable(
            "the idempotency key keeps changing hands; try again".into(),
        ))
    }

    async fn renew_idempotency_key(
        &self,
        ws: WorkspaceId,
        key: &str,
        token: i64,
        lease_until_ms: i64,
    ) -> Result<bool, StoreError> {
        let c = self.client_for(op!()).await?;
        let n = c
            .execute(
                &c.cached("UPDATE idempotency_keys SET lease_until_ms = $4 WHERE workspace_id = $1 AND key = $2 \
                 AND claim_token = $3 AND status IS NULL").await?,
                &[&ws.0, &key, &token, &lease_until_ms],
            )
            .await
            .map_err(pg_err)?;
        Ok(n == 1)
    }

    async fn finish_idempotency_key(
        &self,
        ws: WorkspaceId,
        key: &str,
        token: i64,
        status: u16,
        body: String,
    ) -> Result<bool, StoreError> {
        let c = self.client_for(op!()).await?;
        let n = c
            .execute(
                &c.cached("UPDATE idempotency_keys SET status = $4, body = $5 WHERE workspace_id = $1 AND key = $2 \
                 AND claim_token = $3 AND status IS NULL").await?,
                &[&ws.0, &key, &token, &i32::from(status), &body],
            )
            .await
            .map_err(pg_err)?;
        Ok(n == 1)
    }

    async fn abort_idempotency_key(
        &self,
        ws: WorkspaceId,
        key: &str,
        token: i64,
    ) -> Result<(), StoreError> {
        let c = self.client_for(op!()).await?;
        c.execute(
            &c.cached("DELETE FROM idempotency_keys WHERE workspace_id = $1 AND key = $2 AND claim_token = $3 \
             AND status IS NULL").await?,
            &[&ws.0, &key, &token],
        )
        .await
        .map_err(pg_err)?;
        Ok(())
    }
}
