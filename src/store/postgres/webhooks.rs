//! Webhook endpoints and the delivery queue. Leases are taken with
//! `FOR UPDATE SKIP LOCKED`, so instances sharing the database never hold the same
//! delivery, and a lease that ran out (its instance died) is taken over.

use super::events::{event_columns, event_from_row, record};
use super::*;
use crate::domain::event::{self, Audit};
use crate::domain::webhook::{Attempt, Delivery, DeliveryState, Webhook};
use crate::store::{AttemptRecord, DueDelivery, NewWebhook, WebhookStore, WebhookUpdate};

const WEBHOOK_COLUMNS: &str = "id, url, events::text, description, enabled, disabled_reason, \
     created_at, updated_at";

fn webhook_from_row(r: &Row) -> Result<Webhook, StoreError> {
    let events: String = r.get(2);
    Ok(Webhook {
        id: r.get(0),
        url: r.get(1),
        events: serde_json::from_str(&events)
            .map_err(|e| StoreError::Backend(format!("stored webhook events unreadable: {e}")))?,
        description: r.get(3),
        enabled: r.get(4),
        disabled_reason: r.get(5),
        created_at: r.get(6),
        updated_at: r.get(7),
    })
}

async fn find_in<C: GenericClient>(
    c: &C,
    ws: WorkspaceId,
    id: i64,
    lock: bool,
) -> Result<Option<Webhook>, StoreError> {
    let sql = format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE workspace_id = $1 AND id = $2{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    c.query_opt(&c.cached(&sql).await?, &[&ws.0, &id])
        .await
        .map_err(pg_err)?
        .map(|r| webhook_from_row(&r))
        .transpose()
}

fn json_list(list: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(list).map_err(|e| StoreError::Backend(e.to_string()))
}

#[async_trait]
impl WebhookStore for PostgresStore {
    async fn create_webhook(&self, ws: WorkspaceId, w: NewWebhook) -> Result<Webhook, StoreError> {
        let audit = Self::audit();
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let row = tx
            .query_one(
                &tx.cached(&format!(
                    "INSERT INTO webhooks (workspace_id, url, events, description, secret, \
                       created_at, updated_at) VALUES ($1, $2, $3::text::jsonb, $4, $5, $6, $6) \
                     RETURNING {WEBHOOK_COLUMNS}"
                ))
                .await?,
                &[
                    &ws.0,
                    &w.url,
                    &json_list(&w.events)?,
                    &w.description,
                    &w.secret,
                    &w.now,
                ],
            )
            .await
            .map_err(write_err)?;
        let made = webhook_from_row(&row)?;
        record(&tx, ws, &audit, &[event::webhook_created(&made)]).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(made)
    }

    async fn list_webhooks(&self, ws: WorkspaceId) -> Result<Vec<Webhook>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .query(
                &c.cached(&format!(
                    "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE workspace_id = $1 ORDER BY id"
                ))
                .await?,
                &[&ws.0],
            )
            .await
            .map_err(pg_err)?;
        rows.iter().map(webhook_from_row).collect()
    }

    async fn find_webhook(&self, ws: WorkspaceId, id: i64) -> Result<Option<Webhook>, StoreError> {
        let c = self.client().await?;
        find_in(&c, ws, id, false).await
    }

    async fn update_webhook(
        &self,
        ws: WorkspaceId,
        id: i64,
        u: WebhookUpdate,
    ) -> Result<Webhook, StoreError> {
        let audit = Self::audit();
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let before = find_in(&tx, ws, id, true)
            .await?
            .ok_or(StoreError::NotFound(Entity::Webhook))?;
        let events = u.events.as_deref().map(json_list).transpose()?;
        let row = tx
            .query_one(
                &tx.cached(&format!(
                    "UPDATE webhooks SET url = COALESCE($3, url), \
                       events = COALESCE($4::text::jsonb, events), \
                       description = COALESCE($5, description), enabled = COALESCE($6, enabled), \
                       disabled_reason = CASE WHEN $6 THEN NULL ELSE disabled_reason END, \
                       failing_since_ms = CASE WHEN $6 THEN NULL ELSE failing_since_ms END, \
                       updated_at = $7 \
                     WHERE workspace_id = $1 AND id = $2 RETURNING {WEBHOOK_COLUMNS}"
                ))
                .await?,
                &[
                    &ws.0,
                    &id,
                    &u.url,
                    &events,
                    &u.description,
                    &u.enabled,
                    &u.now,
                ],
            )
            .await
            .map_err(pg_err)?;
        let after = webhook_from_row(&row)?;
        if let Some(draft) = event::webhook_updated(&before, &after) {
            record(&tx, ws, &audit, &[draft]).await?;
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(after)
    }

    async fn delete_webhook(&self, ws: WorkspaceId, id: i64) -> Result<(), StoreError> {
        let audit = Self::audit();
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let before = find_in(&tx, ws, id, true)
            .await?
            .ok_or(StoreError::NotFound(Entity::Webhook))?;
        tx.execute(
            &tx.cached("DELETE FROM webhooks WHERE workspace_id = $1 AND id = $2")
                .await?,
            &[&ws.0, &id],
        )
        .await
        .map_err(pg_err)?;
        record(&tx, ws, &audit, &[event::webhook_deleted(&before)]).await?;
        tx.commit().await.map_err(pg_err)
    }

    async fn rotate_webhook_secret(
        &self,
        ws: WorkspaceId,
        id: i64,
        secret: String,
        previous_until_ms: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let audit = Self::audit();
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let n = tx
            .execute(
                &tx.cached(
                    "UPDATE webhooks SET previous_secret = secret, previous_secret_until_ms = $4, \
                       secret = $3, updated_at = $5 WHERE workspace_id = $1 AND id = $2",
                )
                .await?,
                &[&ws.0, &id, &secret, &previous_until_ms, &now],
            )
            .await
            .map_err(pg_err)?;
        if n == 0 {
            return Err(StoreError::NotFound(Entity::Webhook));
        }
        record(&tx, ws, &audit, &[event::webhook_secret_rotated(id)]).await?;
        tx.commit().await.map_err(pg_err)
    }

    async fn list_deliveries(
        &self,
        ws: WorkspaceId,
        webhook: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .query(
                &c.cached(
                    "SELECT d.id, d.webhook_id, d.event_id, e.type, d.state, d.attempts, \
                       d.next_at_ms, d.created_ms, \
                       COALESCE((SELECT json_agg(json_build_array(a.at_ms, a.status, \
                           a.latency_ms, a.error) ORDER BY a.at_ms) \
                         FROM delivery_attempts a WHERE a.delivery_id = d.id)::text, '[]') \
                     FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id \
                     JOIN events e ON e.workspace_id = d.workspace_id AND e.id = d.event_id \
                     WHERE w.workspace_id = $1 AND d.webhook_id = $2 AND d.id < $3 \
                     ORDER BY d.id DESC LIMIT $4",
                )
                .await?,
                &[
                    &ws.0,
                    &webhook,
                    &before.unwrap_or(i64::MAX),
                    &i64::from(limit),
                ],
            )
            .await
            .map_err(pg_err)?;
        rows.iter()
            .map(|r| {
                let state: String = r.get(4);
                let tries: String = r.get(8);
                let tries: Vec<(i64, Option<u16>, i64, Option<String>)> =
                    serde_json::from_str(&tries).map_err(|e| {
                        StoreError::Backend(format!("stored attempts unreadable: {e}"))
                    })?;
                Ok(Delivery {
                    id: r.get(0),
                    webhook: r.get(1),
                    event_id: r.get(2),
                    event_type: r.get(3),
                    state: DeliveryState::parse(&state).unwrap_or(DeliveryState::Pending),
                    attempts: i64::from(r.get::<_, i32>(5)),
                    next_at_ms: r.get(6),
                    created_ms: r.get(7),
                    tries: tries
                        .into_iter()
                        .map(|(at_ms, status, latency_ms, error)| Attempt {
                            at_ms,
                            status,
                            latency_ms,
                            error,
                        })
                        .collect(),
                })
            })
            .collect()
    }

    async fn retry_delivery(
        &self,
        ws: WorkspaceId,
        webhook: i64,
        delivery: i64,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let c = self.client().await?;
        let n = c
            .execute(
                &c.cached(
                    "UPDATE deliveries SET state = 'pending', next_at_ms = $4, \
                       lease_until_ms = NULL, lease_token = NULL \
                     WHERE workspace_id = $1 AND webhook_id = $2 AND id = $3",
                )
                .await?,
                &[&ws.0, &webhook, &delivery, &now_ms],
            )
            .await
            .map_err(pg_err)?;
        if n == 0 {
            return Err(StoreError::NotFound(Entity::Delivery));
        }
        Ok(())
    }

    async fn lease_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        token: i64,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .query(
                &c.cached(concat!(
                    "WITH due AS (SELECT d.id FROM deliveries d \
                       JOIN webhooks w ON w.id = d.webhook_id \
                       WHERE d.state = 'pending' AND d.next_at_ms <= $1 AND w.enabled \
                         AND (d.lease_until_ms IS NULL OR d.lease_until_ms < $1) \
                       ORDER BY d.next_at_ms LIMIT $4 FOR UPDATE OF d SKIP LOCKED), \
                     leased AS (UPDATE deliveries d SET lease_until_ms = $2, lease_token = $3 \
                       FROM due WHERE d.id = due.id \
                       RETURNING d.id, d.workspace_id, d.webhook_id, d.event_id, d.attempts) \
                     SELECT l.id, l.workspace_id, l.webhook_id, w.url, w.secret, \
                       CASE WHEN w.previous_secret_until_ms > $1 THEN w.previous_secret END, \
                       l.attempts, w.failing_since_ms, ",
                    event_columns!(),
                    " FROM leased l JOIN webhooks w ON w.id = l.webhook_id \
                      JOIN events e ON e.workspace_id = l.workspace_id AND e.id = l.event_id"
                ))
                .await?,
                &[&now_ms, &lease_until_ms, &token, &i64::from(limit)],
            )
            .await
            .map_err(pg_err)?;
        rows.iter()
            .map(|r| {
                let previous: Option<String> = r.get(5);
                Ok(DueDelivery {
                    id: r.get(0),
                    workspace: WorkspaceId(r.get(1)),
                    webhook: r.get(2),
                    url: r.get(3),
                    secrets: std::iter::once(r.get(4)).chain(previous).collect(),
                    attempts: i64::from(r.get::<_, i32>(6)),
                    failing_since_ms: r.get(7),
                    event: event_from_row(r, 8)?,
                })
            })
            .collect()
    }

    async fn finish_attempt(&self, r: AttemptRecord) -> Result<bool, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let held = tx
            .query_opt(
                &tx.cached(
                    "SELECT workspace_id, webhook_id FROM deliveries \
                     WHERE id = $1 AND lease_token = $2 FOR UPDATE",
                )
                .await?,
                &[&r.delivery, &r.token],
            )
            .await
            .map_err(pg_err)?;
        let Some(held) = held else {
            return Ok(false);
        };
        let (ws, webhook): (i64, i64) = (held.get(0), held.get(1));
        let a = &r.attempt;
        let status = a.status.map(i32::from);
        tx.execute(
            &tx.cached(
                "INSERT INTO delivery_attempts (delivery_id, at_ms, status, latency_ms, error) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .await?,
            &[&r.delivery, &a.at_ms, &status, &a.latency_ms, &a.error],
        )
        .await
        .map_err(pg_err)?;
        tx.execute(
            &tx.cached(
                "UPDATE deliveries SET state = $2, next_at_ms = $3, attempts = attempts + 1, \
                   lease_until_ms = NULL, lease_token = NULL WHERE id = $1",
            )
            .await?,
            &[&r.delivery, &r.after.state.as_str(), &r.after.next_at_ms],
        )
        .await
        .map_err(pg_err)?;
        let health = if r.after.healthy {
            "UPDATE webhooks SET failing_since_ms = NULL \
             WHERE id = $1 AND failing_since_ms IS NOT NULL AND $2::bigint IS NOT NULL"
        } else {
            "UPDATE webhooks SET failing_since_ms = COALESCE(failing_since_ms, $2) \
             WHERE id = $1 AND failing_since_ms IS NULL"
        };
        tx.execute(&tx.cached(health).await?, &[&webhook, &a.at_ms])
            .await
            .map_err(pg_err)?;
        if let Some(reason) = &r.after.disable {
            let ws = WorkspaceId(ws);
            let before = find_in(&tx, ws, webhook, true).await?;
            tx.execute(
                &tx.cached(
                    "UPDATE webhooks SET enabled = FALSE, disabled_reason = $2, updated_at = $3 \
                     WHERE id = $1 AND enabled",
                )
                .await?,
                &[&webhook, reason, &(a.at_ms / 1000)],
            )
            .await
            .map_err(pg_err)?;
            let after = find_in(&tx, ws, webhook, false).await?;
            if let Some(draft) = before
                .zip(after)
                .and_then(|(b, a)| event::webhook_updated(&b, &a))
            {
                record(&tx, ws, &Audit::SYSTEM, &[draft]).await?;
            }
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(true)
    }

    async fn pending_deliveries(&self) -> Result<u64, StoreError> {
        let c = self.client().await?;
        let row = c
            .query_one(
                &c.cached("SELECT count(*) FROM deliveries WHERE state = 'pending'")
                    .await?,
                &[],
            )
            .await
            .map_err(pg_err)?;
        Ok(row.get::<_, i64>(0) as u64)
    }
}
