//! Webhook endpoints and the delivery queue. Leases are taken with
//! `FOR UPDATE SKIP LOCKED`, so instances sharing the database never hold the same
//! delivery, and a lease that ran out (its instance died) is taken over.

use super::events::{
    PATIENCE, current_snapshot, event_columns, event_from_row, record, sequence_until_seen,
};
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
        let mut c = self.client_for(op!()).await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let row = tx
            .query_one(
                &tx.cached(&format!(
                    "INSERT INTO webhooks (workspace_id, url, events, description, secret, \
                       created_at, updated_at, cursor, start_seq) VALUES ($1, $2, \
                       $3::text::jsonb, $4, $5, $6, $6, \
                       COALESCE((SELECT last_event_id FROM event_heads WHERE workspace_id = $1), 0), \
                       (SELECT COALESCE(max(seq), 0) FROM events)) \
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
        let c = self.client_for(op!()).await?;
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
        let c = self.client_for(op!()).await?;
        find_in(&*c, ws, id, false).await
    }

    async fn update_webhook(
        &self,
        ws: WorkspaceId,
        id: i64,
        u: WebhookUpdate,
    ) -> Result<Webhook, StoreError> {
        let audit = Self::audit();
        let mut c = self.client_for(op!()).await?;
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
        let mut c = self.client_for(op!()).await?;
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
        let mut c = self.client_for(op!()).await?;
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
        let mut c = self.client_for(op!()).await?;
        // A delivery is listed once its event has its position.
        let snapshot = current_snapshot(&*c).await?;
        sequence_until_seen(&mut c, Some(ws), &snapshot, PATIENCE).await?;
        let rows = c
            .query(
                &c.cached(
                    "SELECT d.id, d.webhook_id, e.id, e.type, d.state, d.attempts, \
                       d.next_at_ms, d.created_ms, d.tries::text \
                     FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id \
                     JOIN events e ON e.seq = d.event_seq \
                     WHERE w.workspace_id = $1 AND d.webhook_id = $2 AND d.id < $3 \
                       AND e.id IS NOT NULL \
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
        let c = self.client_for(op!()).await?;
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
        let mut c = self.client_for(op!()).await?;
        // Only events with a position are sent (their id is in the payload):
        // number what had committed before this call first.
        let snapshot = current_snapshot(&*c).await?;
        sequence_until_seen(&mut c, None, &snapshot, PATIENCE).await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let mut ids = queue_new_events(&tx, now_ms, lease_until_ms, token, limit).await?;
        let room = i64::from(limit) - ids.len() as i64;
        let retries = tx
            .query(
                &tx.cached(
                    "WITH due AS (SELECT d.id FROM deliveries d \
                       JOIN webhooks w ON w.id = d.webhook_id \
                       WHERE d.state = 'pending' AND d.next_at_ms <= $1 AND w.enabled \
                         AND (d.lease_until_ms IS NULL OR d.lease_until_ms < $1) \
                       ORDER BY d.next_at_ms LIMIT $4 FOR UPDATE OF d SKIP LOCKED) \
                     UPDATE deliveries d SET lease_until_ms = $2, lease_token = $3 \
                     FROM due WHERE d.id = due.id RETURNING d.id",
                )
                .await?,
                &[&now_ms, &lease_until_ms, &token, &room.max(0)],
            )
            .await
            .map_err(pg_err)?;
        ids.extend(retries.iter().map(|r| r.get::<_, i64>(0)));
        let rows = if ids.is_empty() {
            Vec::new()
        } else {
            tx.query(
                &tx.cached(concat!(
                    "SELECT d.id, d.workspace_id, d.webhook_id, w.url, w.secret, \
                       CASE WHEN w.previous_secret_until_ms > $2 THEN w.previous_secret END, \
                       d.attempts, w.failing_since_ms, ",
                    event_columns!(),
                    " FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id \
                      JOIN events e ON e.seq = d.event_seq \
                      WHERE d.id = ANY($1) ORDER BY d.next_at_ms"
                ))
                .await?,
                &[&ids, &now_ms],
            )
            .await
            .map_err(pg_err)?
        };
        tx.commit().await.map_err(pg_err)?;
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

    async fn finish_attempts(&self, records: Vec<AttemptRecord>) -> Result<Vec<bool>, StoreError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let mut c = self.client_for(op!()).await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        // Every attempt of the batch in one statement; the rows it returns are
        // those whose lease was still held.
        let col = |f: fn(&AttemptRecord) -> i64| records.iter().map(f).collect::<Vec<i64>>();
        let states: Vec<&str> = records.iter().map(|r| r.after.state.as_str()).collect();
        let statuses: Vec<Option<i32>> = records
            .iter()
            .map(|r| r.attempt.status.map(i32::from))
            .collect();
        let errors: Vec<Option<&str>> =
            records.iter().map(|r| r.attempt.error.as_deref()).collect();
        let held = tx
            .query(
                &tx.cached(
                    "UPDATE deliveries d SET state = x.state, next_at_ms = x.next_at, \
                       attempts = d.attempts + 1, lease_until_ms = NULL, lease_token = NULL, \
                       tries = d.tries || jsonb_build_array(jsonb_build_array(x.at_ms, x.status, \
                         x.latency_ms, x.error)) \
                     FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], \
                       $5::bigint[], $6::int[], $7::bigint[], $8::text[]) \
                       AS x(id, token, state, next_at, at_ms, status, latency_ms, error) \
                     WHERE d.id = x.id AND d.lease_token = x.token \
                     RETURNING d.id, d.workspace_id, d.webhook_id",
                )
                .await?,
                &[
                    &col(|r| r.delivery),
                    &col(|r| r.token),
                    &states,
                    &col(|r| r.after.next_at_ms),
                    &col(|r| r.attempt.at_ms),
                    &statuses,
                    &col(|r| r.attempt.latency_ms),
                    &errors,
                ],
            )
            .await
            .map_err(pg_err)?;
        let held: std::collections::BTreeMap<i64, (i64, i64)> = held
            .iter()
            .map(|row| (row.get(0), (row.get(1), row.get(2))))
            .collect();
        // Endpoint rows in id order, so two instances' batches cannot deadlock.
        let mut by_webhook: Vec<&AttemptRecord> = records.iter().collect();
        by_webhook.sort_by_key(|r| held.get(&r.delivery).map(|h| h.1));
        for r in by_webhook {
            let Some(&(ws, webhook)) = held.get(&r.delivery) else {
                continue;
            };
            let at = r.attempt.at_ms;
            if r.after.healthy && r.was_failing {
                tx.execute(
                    &tx.cached("UPDATE webhooks SET failing_since_ms = NULL WHERE id = $1")
                        .await?,
                    &[&webhook],
                )
                .await
                .map_err(pg_err)?;
            } else if !r.after.healthy {
                tx.execute(
                    &tx.cached(
                        "UPDATE webhooks SET failing_since_ms = $2 \
                         WHERE id = $1 AND failing_since_ms IS NULL",
                    )
                    .await?,
                    &[&webhook, &at],
                )
                .await
                .map_err(pg_err)?;
            }
            if let Some(reason) = &r.after.disable {
                let ws = WorkspaceId(ws);
                let before = find_in(&tx, ws, webhook, true).await?;
                tx.execute(
                    &tx.cached(
                        "UPDATE webhooks SET enabled = FALSE, disabled_reason = $2, \
                           updated_at = $3 WHERE id = $1 AND enabled",
                    )
                    .await?,
                    &[&webhook, reason, &(at / 1000)],
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
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(records
            .iter()
            .map(|r| held.contains_key(&r.delivery))
            .collect())
    }

    async fn pending_deliveries(&self) -> Result<u64, StoreError> {
        let mut c = self.client_for(op!()).await?;
        let snapshot = current_snapshot(&*c).await?;
        sequence_until_seen(&mut c, None, &snapshot, PATIENCE).await?;
        let row = c
            .query_one(
                &c.cached(
                    "SELECT (SELECT count(*) FROM deliveries WHERE state = 'pending') + \
                       (SELECT count(*) FROM webhooks w JOIN events e \
                        ON e.workspace_id = w.workspace_id AND e.id > w.cursor \
                          AND e.seq > w.start_seq \
                        WHERE w.enabled)",
                )
                .await?,
                &[],
            )
            .await
            .map_err(pg_err)?;
        Ok(row.get::<_, i64>(0) as u64)
    }
}

/// Events scanned per step when queuing an endpoint's new events.
const QUEUE_WINDOW: i64 = 10_000;
/// Most steps per endpoint in one lease (an endpoint far behind, or subscribed
/// to little, catches up over several leases).
const QUEUE_STEPS: usize = 8;

/// Hands the numbered events each enabled endpoint has not had yet to
/// `deliveries`, as rows leased at once to `token` (at most `limit` in all), and
/// moves each endpoint's cursor past what it scanned. A change thus pays only for
/// its event; its deliveries are written here, many in one statement. The
/// endpoint's row lock (SKIP LOCKED: another instance at it is left to it) makes
/// this exclusive across instances. Returns the new deliveries' ids.
async fn queue_new_events(
    tx: &deadpool_postgres::Transaction<'_>,
    now_ms: i64,
    lease_until_ms: i64,
    token: i64,
    limit: u32,
) -> Result<Vec<i64>, StoreError> {
    let behind = tx
        .query(
            &tx.cached(
                "SELECT w.id, w.workspace_id, w.cursor, w.events::text, head.last_event_id, \
                   w.start_seq \
                 FROM webhooks w JOIN event_heads head ON head.workspace_id = w.workspace_id \
                 WHERE w.enabled AND w.cursor < head.last_event_id ORDER BY w.id \
                 FOR UPDATE OF w SKIP LOCKED",
            )
            .await?,
            &[],
        )
        .await
        .map_err(pg_err)?;
    let mut ids: Vec<i64> = Vec::new();
    for row in behind {
        let (webhook, ws, mut cursor, events, last, start): (i64, i64, i64, String, i64, i64) = (
            row.get(0),
            row.get(1),
            row.get(2),
            row.get(3),
            row.get(4),
            row.get(5),
        );
        for _ in 0..QUEUE_STEPS {
            let room = i64::from(limit) - ids.len() as i64;
            if room <= 0 || cursor >= last {
                break;
            }
            // Positions are gapless per workspace (pruning only removes the
            // oldest): the window is the next ids after the cursor.
            let upto = last.min(cursor + QUEUE_WINDOW);
            let found = tx
                .query(
                    &tx.cached(
                        "SELECT e.seq, e.id FROM events e \
                         WHERE e.workspace_id = $1 AND e.id > $2 AND e.id <= $3 AND e.seq > $4 \
                           AND ($5::text::jsonb ? e.type \
                             OR $5::text::jsonb ? (split_part(e.type, '.', 1) || '.*') \
                             OR $5::text::jsonb ? '*') \
                         ORDER BY e.id LIMIT $6",
                    )
                    .await?,
                    &[&ws, &cursor, &upto, &start, &events, &room],
                )
                .await
                .map_err(pg_err)?;
            let seqs: Vec<i64> = found.iter().map(|r| r.get(0)).collect();
            // A full batch stops at its last event; otherwise the whole window
            // was looked at.
            cursor = if found.len() as i64 == room {
                found.last().map_or(upto, |r| r.get(1))
            } else {
                upto
            };
            if !seqs.is_empty() {
                let queued = tx
                    .query(
                        &tx.cached(
                            "INSERT INTO deliveries (workspace_id, webhook_id, event_seq, \
                               next_at_ms, created_ms, lease_until_ms, lease_token) \
                             SELECT $1, $2, s, $3, $3, $4, $5 FROM unnest($6::bigint[]) AS s \
                             RETURNING id",
                        )
                        .await?,
                        &[&ws, &webhook, &now_ms, &lease_until_ms, &token, &seqs],
                    )
                    .await
                    .map_err(pg_err)?;
                ids.extend(queued.iter().map(|r| r.get::<_, i64>(0)));
            }
        }
        tx.execute(
            &tx.cached("UPDATE webhooks SET cursor = $2 WHERE id = $1")
                .await?,
            &[&webhook, &cursor],
        )
        .await
        .map_err(pg_err)?;
    }
    Ok(ids)
}
