//! Idempotency keys (REST POST).

use super::*;

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn claim_idempotency_key(
        &self,
        ws: WorkspaceId,
        key: &str,
        claim: NewClaim,
    ) -> Result<IdempotencyClaim, StoreError> {
        let key = key.to_string();
        // One writer thread runs this whole closure: the steps cannot interleave
        // with another claim's.
        self.writer
            .write(move |conn| {
                conn.exec_cached(
                    "DELETE FROM idempotency_keys WHERE workspace_id = ?1 AND key = ?2 AND \
                         created_at < ?3",
                    params![ws.0, key, claim.since],
                )
                .map_err(map_err)?;
                let taken = conn
                    .exec_cached(
                        "INSERT INTO idempotency_keys (workspace_id, key, request_hash, \
                         created_at, claim_token, lease_until_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                         ON CONFLICT (workspace_id, key) DO UPDATE SET \
                         request_hash = excluded.request_hash, created_at = excluded.created_at, \
                         claim_token = excluded.claim_token, lease_until_ms = excluded.lease_until_ms \
                         WHERE idempotency_keys.status IS NULL \
                         AND idempotency_keys.lease_until_ms < ?7",
                        params![
                            ws.0,
                            key,
                            claim.request_hash,
                            claim.now,
                            claim.token,
                            claim.lease_until_ms,
                            claim.now_ms
                        ],
                    )
                    .map_err(map_err)?;
                if taken == 1 {
                    return Ok(IdempotencyClaim::Claimed);
                }
                type Row = (Vec<u8>, Option<u16>, Option<String>);
                let (request_hash, status, body): Row = conn
                    .row_cached(
                        "SELECT request_hash, status, body FROM idempotency_keys \
                         WHERE workspace_id = ?1 AND key = ?2",
                        params![ws.0, key],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .map_err(map_err)?;
                Ok(IdempotencyClaim::of_row(request_hash, status, body))

            })
            .await
    }

    async fn renew_idempotency_key(
        &self,
        ws: WorkspaceId,
        key: &str,
        token: i64,
        lease_until_ms: i64,
    ) -> Result<bool, StoreError> {
        let key = key.to_string();
        self.writer
            .write(move |conn| {
                let n = conn
                    .exec_cached(
                        "UPDATE idempotency_keys SET lease_until_ms = ?4 WHERE workspace_id = ?1 \
                         AND key = ?2 AND claim_token = ?3 AND status IS NULL",
                        params![ws.0, key, token, lease_until_ms],
                    )
                    .map_err(map_err)?;
                Ok(n == 1)
            })
            .await
    }

    async fn finish_idempotency_key(
        &self,
        ws: WorkspaceId,
        key: &str,
        token: i64,
        status: u16,
        body: String,
    ) -> Result<bool, StoreError> {
        let key = key.to_string();
        self.writer
            .write(move |conn| {
                let n = conn
                    .exec_cached(
                        "UPDATE idempotency_keys SET status = ?4, body = ?5 \
                         WHERE workspace_id = ?1 AND key = ?2 AND claim_token = ?3 \
                         AND status IS NULL",
                        params![ws.0, key, token, status, body],
                    )
                    .map_err(map_err)?;
                Ok(n == 1)
            })
            .await
    }

    async fn abort_idempotency_key(
        &self,
        ws: WorkspaceId,
        key: &str,
        token: i64,
    ) -> Result<(), StoreError> {
        let key = key.to_string();
        self.writer
            .write(move |conn| {
                conn.exec_cached(
                    "DELETE FROM idempotency_keys WHERE workspace_id = ?1 AND key = ?2 \
                     AND claim_token = ?3 AND status IS NULL",
                    params![ws.0, key, token],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }
}
