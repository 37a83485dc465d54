//! Webhook endpoints and the delivery queue. Leasing and finishing run on the one
//! writer, so two senders never hold the same delivery.

use super::events::{event_columns, event_from_row, record};
use super::*;
use crate::domain::event;
use crate::domain::webhook::{Attempt, Delivery, DeliveryState, Webhook};
use crate::store::{AttemptRecord, DueDelivery, NewWebhook, WebhookStore, WebhookUpdate};

// Joins from the delivery rows by key: CROSS JOIN keeps SQLite to that order.
// Left to choose, a planner that had seen the events table empty (ANALYZE before
// any event) scanned every event instead, once per lease.

/// The deliveries just leased (`?1`: their ids as a JSON array; `?2`: now).
const LEASED_READ: &str = concat!(
    "SELECT d.id, d.workspace_id, d.webhook_id, w.url, w.secret, \
       CASE WHEN w.previous_secret_until_ms > ?2 THEN w.previous_secret END, \
       d.attempts, w.failing_since_ms, ",
    event_columns!(),
    " FROM deliveries d CROSS JOIN webhooks w CROSS JOIN events e \
      WHERE d.id IN (SELECT value FROM json_each(?1)) AND w.id = d.webhook_id \
        AND e.workspace_id = d.workspace_id AND e.id = d.event_id \
      ORDER BY d.next_at_ms"
);

/// A page of an endpoint's deliveries, newest first.
const DELIVERIES_PAGE: &str = "SELECT d.id, d.webhook_id, d.event_id, e.type, d.state, \
       d.attempts, d.next_at_ms, d.created_ms, d.tries \
     FROM deliveries d CROSS JOIN webhooks w CROSS JOIN events e \
     WHERE w.id = d.webhook_id \
       AND e.workspace_id = d.workspace_id AND e.id = d.event_id \
       AND w.workspace_id = ?1 AND d.webhook_id = ?2 AND d.id < ?3 \
     ORDER BY d.id DESC LIMIT ?4";

const WEBHOOK_COLUMNS: &str = "id, url, events, description, enabled, disabled_reason, \
     created_at, updated_at";

fn webhook_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Webhook> {
    let events: String = r.get(2)?;
    Ok(Webhook {
        id: r.get(0)?,
        url: r.get(1)?,
        events: serde_json::from_str(&events).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, e.into())
        })?,
        description: r.get(3)?,
        enabled: r.get(4)?,
        disabled_reason: r.get(5)?,
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
    })
}

fn find_in(conn: &Connection, ws: WorkspaceId, id: i64) -> Result<Option<Webhook>, StoreError> {
    conn.row_cached(
        &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE workspace_id = ?1 AND id = ?2"),
        params![ws.0, id],
        webhook_from_row,
    )
    .optional()
    .map_err(map_err)
}

fn json_list(list: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(list).map_err(|e| StoreError::Backend(e.to_string()))
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn create_webhook(&self, ws: WorkspaceId, w: NewWebhook) -> Result<Webhook, StoreError> {
        self.write_audited(move |conn, audit| {
            conn.exec_cached(
                "INSERT INTO webhooks (workspace_id, url, events, description, secret, \
                     created_at, updated_at, cursor) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, \
                     (SELECT last_event_id FROM workspaces WHERE id = ?1))",
                params![
                    ws.0,
                    w.url,
                    json_list(&w.events)?,
                    w.description,
                    w.secret,
                    w.now
                ],
            )
            .map_err(map_err)?;
            let id = conn.last_insert_rowid();
            let made = find_in(conn, ws, id)?.ok_or(StoreError::NotFound(Entity::Webhook))?;
            record(conn, ws, audit, &[event::webhook_created(&made)])?;
            Ok(made)
        })
        .await
    }

    async fn list_webhooks(&self, ws: WorkspaceId) -> Result<Vec<Webhook>, StoreError> {
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE workspace_id = ?1 ORDER BY id"
            ))?
            .query_map(params![ws.0], webhook_from_row)?
            .collect()
        })
        .await
    }

    async fn find_webhook(&self, ws: WorkspaceId, id: i64) -> Result<Option<Webhook>, StoreError> {
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE workspace_id = ?1 AND id = ?2"
            ))?
            .query_row(params![ws.0, id], webhook_from_row)
            .optional()
        })
        .await
    }

    async fn update_webhook(
        &self,
        ws: WorkspaceId,
        id: i64,
        u: WebhookUpdate,
    ) -> Result<Webhook, StoreError> {
        self.write_audited(move |conn, audit| {
            let before = find_in(conn, ws, id)?.ok_or(StoreError::NotFound(Entity::Webhook))?;
            let events = u.events.as_deref().map(json_list).transpose()?;
            conn.exec_cached(
                "UPDATE webhooks SET url = COALESCE(?3, url), events = COALESCE(?4, events), \
                   description = COALESCE(?5, description), enabled = COALESCE(?6, enabled), \
                   disabled_reason = CASE WHEN ?6 THEN NULL ELSE disabled_reason END, \
                   failing_since_ms = CASE WHEN ?6 THEN NULL ELSE failing_since_ms END, \
                   updated_at = ?7 \
                 WHERE workspace_id = ?1 AND id = ?2",
                params![ws.0, id, u.url, events, u.description, u.enabled, u.now],
            )
            .map_err(map_err)?;
            let after = find_in(conn, ws, id)?.ok_or(StoreError::NotFound(Entity::Webhook))?;
            if let Some(draft) = event::webhook_updated(&before, &after) {
                record(conn, ws, audit, &[draft])?;
            }
            Ok(after)
        })
        .await
    }

    async fn delete_webhook(&self, ws: WorkspaceId, id: i64) -> Result<(), StoreError> {
        self.write_audited(move |conn, audit| {
            let before = find_in(conn, ws, id)?.ok_or(StoreError::NotFound(Entity::Webhook))?;
            conn.exec_cached(
                "DELETE FROM webhooks WHERE workspace_id = ?1 AND id = ?2",
                params![ws.0, id],
            )
            .map_err(map_err)?;
            record(conn, ws, audit, &[event::webhook_deleted(&before)])
        })
        .await
    }

    async fn rotate_webhook_secret(
        &self,
        ws: WorkspaceId,
        id: i64,
        secret: String,
        previous_until_ms: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        self.write_audited(move |conn, audit| {
            let n = conn
                .exec_cached(
                    "UPDATE webhooks SET previous_secret = secret, \
                       previous_secret_until_ms = ?4, secret = ?3, updated_at = ?5 \
                     WHERE workspace_id = ?1 AND id = ?2",
                    params![ws.0, id, secret, previous_until_ms, now],
                )
                .map_err(map_err)?;
            if n == 0 {
                return Err(StoreError::NotFound(Entity::Webhook));
            }
            record(conn, ws, audit, &[event::webhook_secret_rotated(id)])
        })
        .await
    }

    async fn list_deliveries(
        &self,
        ws: WorkspaceId,
        webhook: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.read(move |conn| {
            conn.prepare_cached(DELIVERIES_PAGE)?
                .query_map(
                    params![ws.0, webhook, before.unwrap_or(i64::MAX), limit],
                    |r| {
                        let state: String = r.get(4)?;
                        let tries: String = r.get(8)?;
                        Ok(Delivery {
                            id: r.get(0)?,
                            webhook: r.get(1)?,
                            event_id: r.get(2)?,
                            event_type: r.get(3)?,
                            state: DeliveryState::parse(&state).unwrap_or(DeliveryState::Pending),
                            attempts: r.get(5)?,
                            next_at_ms: r.get(6)?,
                            created_ms: r.get(7)?,
                            tries: parse_tries(&tries).map_err(|e| {
                                rusqlite::Error::FromSqlConversionFailure(
                                    8,
                                    rusqlite::types::Type::Text,
                                    e.into(),
                                )
                            })?,
                        })
                    },
                )?
                .collect()
        })
        .await
    }

    async fn retry_delivery(
        &self,
        ws: WorkspaceId,
        webhook: i64,
        delivery: i64,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| {
                let n = conn
                    .exec_cached(
                        "UPDATE deliveries SET state = 'pending', next_at_ms = ?4, \
                           lease_until_ms = NULL, lease_token = NULL \
                         WHERE workspace_id = ?1 AND webhook_id = ?2 AND id = ?3",
                        params![ws.0, webhook, delivery, now_ms],
                    )
                    .map_err(map_err)?;
                if n == 0 {
                    return Err(StoreError::NotFound(Entity::Delivery));
                }
                Ok(())
            })
            .await
    }

    async fn lease_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        token: i64,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        // Most calls find nothing due: find that out on a reader, without taking
        // a turn on the one writer.
        let any_due = self
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM deliveries \
                       WHERE state = 'pending' AND next_at_ms <= ?1 \
                         AND (lease_until_ms IS NULL OR lease_until_ms < ?1)) \
                     OR EXISTS (SELECT 1 FROM webhooks w JOIN workspaces ws \
                       ON ws.id = w.workspace_id WHERE w.enabled AND w.cursor < ws.last_event_id)",
                )?
                .query_row(params![now_ms], |r| r.get::<_, bool>(0))
            })
            .await?;
        if !any_due {
            return Ok(Vec::new());
        }
        self.writer
            .write(move |conn| {
                let mut ids = queue_new_events(conn, now_ms, lease_until_ms, token, limit)?;
                let room = limit.saturating_sub(ids.len() as u32);
                let retries: Vec<i64> = conn
                    .prepare_cached(
                        "UPDATE deliveries SET lease_until_ms = ?2, lease_token = ?3 \
                         WHERE id IN (SELECT d.id FROM deliveries d \
                           JOIN webhooks w ON w.id = d.webhook_id \
                           WHERE d.state = 'pending' AND d.next_at_ms <= ?1 AND w.enabled \
                             AND (d.lease_until_ms IS NULL OR d.lease_until_ms < ?1) \
                           ORDER BY d.next_at_ms LIMIT ?4) \
                         RETURNING id",
                    )
                    .and_then(|mut s| {
                        s.query_map(params![now_ms, lease_until_ms, token, room], |r| r.get(0))?
                            .collect()
                    })
                    .map_err(map_err)?;
                ids.extend(retries);
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let ids =
                    serde_json::to_string(&ids).map_err(|e| StoreError::Backend(e.to_string()))?;
                conn.prepare_cached(LEASED_READ)
                    .and_then(|mut read| {
                        read.query_map(params![ids, now_ms], |r| {
                            let previous: Option<String> = r.get(5)?;
                            Ok(DueDelivery {
                                id: r.get(0)?,
                                workspace: WorkspaceId(r.get(1)?),
                                webhook: r.get(2)?,
                                url: r.get(3)?,
                                secrets: std::iter::once(r.get(4)?).chain(previous).collect(),
                                attempts: r.get(6)?,
                                failing_since_ms: r.get(7)?,
                                event: event_from_row(r, 8)?,
                            })
                        })?
                        .collect()
                    })
                    .map_err(map_err)
            })
            .await
    }

    async fn finish_attempts(&self, records: Vec<AttemptRecord>) -> Result<Vec<bool>, StoreError> {
        self.writer
            .write(move |conn| {
                records
                    .iter()
                    .map(|r| finish_in(conn, r))
                    .collect::<Result<Vec<bool>, StoreError>>()
            })
            .await
    }

    async fn pending_deliveries(&self) -> Result<u64, StoreError> {
        self.read(|conn| {
            conn.row_cached(
                "SELECT (SELECT count(*) FROM deliveries WHERE state = 'pending') + \
                   (SELECT COALESCE(sum(ws.last_event_id - w.cursor), 0) FROM webhooks w \
                    JOIN workspaces ws ON ws.id = w.workspace_id WHERE w.enabled)",
                [],
                |r| r.get::<_, i64>(0),
            )
        })
        .await
        .map(|n| n as u64)
    }
}

/// Reads a delivery's stored attempts (see the `tries` column).
fn parse_tries(json: &str) -> Result<Vec<Attempt>, String> {
    let raw: Vec<(i64, Option<u16>, i64, Option<String>)> =
        serde_json::from_str(json).map_err(|e| format!("stored attempts unreadable: {e}"))?;
    Ok(raw
        .into_iter()
        .map(|(at_ms, status, latency_ms, error)| Attempt {
            at_ms,
            status,
            latency_ms,
            error,
        })
        .collect())
}

/// Records one attempt inside the writer's transaction: one UPDATE in the common
/// case (a healthy endpoint answering 2xx).
fn finish_in(conn: &Connection, r: &AttemptRecord) -> Result<bool, StoreError> {
    let a = &r.attempt;
    let held: Option<(i64, i64)> = conn
        .row_cached(
            "UPDATE deliveries SET state = ?3, next_at_ms = ?4, attempts = attempts + 1, \
               lease_until_ms = NULL, lease_token = NULL, \
               tries = json_insert(tries, '$[#]', json_array(?5, ?6, ?7, ?8)) \
             WHERE id = ?1 AND lease_token = ?2 RETURNING workspace_id, webhook_id",
            params![
                r.delivery,
                r.token,
                r.after.state.as_str(),
                r.after.next_at_ms,
                a.at_ms,
                a.status,
                a.latency_ms,
                a.error
            ],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(map_err)?;
    let Some((ws, webhook)) = held else {
        return Ok(false);
    };
    if r.after.healthy {
        if r.was_failing {
            conn.exec_cached(
                "UPDATE webhooks SET failing_since_ms = NULL WHERE id = ?1",
                params![webhook],
            )
            .map_err(map_err)?;
        }
    } else {
        conn.exec_cached(
            "UPDATE webhooks SET failing_since_ms = ?2 WHERE id = ?1 AND failing_since_ms IS NULL",
            params![webhook, a.at_ms],
        )
        .map_err(map_err)?;
    }
    if let Some(reason) = &r.after.disable {
        let ws = WorkspaceId(ws);
        let before = find_in(conn, ws, webhook)?;
        conn.exec_cached(
            "UPDATE webhooks SET enabled = 0, disabled_reason = ?2, updated_at = ?3 \
             WHERE id = ?1 AND enabled",
            params![webhook, reason, a.at_ms / 1000],
        )
        .map_err(map_err)?;
        let after = find_in(conn, ws, webhook)?;
        if let Some(draft) = before
            .zip(after)
            .and_then(|(b, a)| event::webhook_updated(&b, &a))
        {
            record(conn, ws, &event::Audit::SYSTEM, &[draft])?;
        }
    }
    Ok(true)
}

/// Events scanned per step when queuing an endpoint's new events.
const QUEUE_WINDOW: i64 = 10_000;
/// Most steps per endpoint in one lease (an endpoint far behind, or subscribed
/// to little, catches up over several leases).
const QUEUE_STEPS: usize = 8;

/// Hands the events each enabled endpoint has not had yet to `deliveries`, as
/// rows leased at once to `token` (at most `limit` in all), and moves each
/// endpoint's cursor past what it scanned. A change thus pays only for its event;
/// its deliveries are written here, many in one statement. The one writer makes
/// this exclusive. Returns the new deliveries' ids.
fn queue_new_events(
    conn: &Connection,
    now_ms: i64,
    lease_until_ms: i64,
    token: i64,
    limit: u32,
) -> Result<Vec<i64>, StoreError> {
    let behind: Vec<(i64, i64, i64, String, i64)> = conn
        .prepare_cached(
            "SELECT w.id, w.workspace_id, w.cursor, w.events, ws.last_event_id \
             FROM webhooks w JOIN workspaces ws ON ws.id = w.workspace_id \
             WHERE w.enabled AND w.cursor < ws.last_event_id ORDER BY w.id",
        )
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect()
        })
        .map_err(map_err)?;
    let mut ids = Vec::new();
    for (webhook, ws, mut cursor, events, last) in behind {
        for _ in 0..QUEUE_STEPS {
            let room = i64::from(limit) - ids.len() as i64;
            if room <= 0 || cursor >= last {
                break;
            }
            // Ids are gapless per workspace (pruning only removes the oldest):
            // the window is the next ids after the cursor.
            let upto = last.min(cursor + QUEUE_WINDOW);
            let queued: Vec<(i64, i64)> = conn
                .prepare_cached(
                    "INSERT INTO deliveries (workspace_id, webhook_id, event_id, next_at_ms, \
                       created_ms, lease_until_ms, lease_token) \
                     SELECT ?1, ?2, e.id, ?5, ?5, ?6, ?7 FROM events e \
                     WHERE e.workspace_id = ?1 AND e.id > ?3 AND e.id <= ?4 \
                       AND EXISTS (SELECT 1 FROM json_each(?8) j WHERE j.value = '*' \
                         OR j.value = e.type \
                         OR j.value = substr(e.type, 1, instr(e.type, '.')) || '*') \
                     ORDER BY e.id LIMIT ?9 RETURNING id, event_id",
                )
                .and_then(|mut s| {
                    s.query_map(
                        params![
                            ws,
                            webhook,
                            cursor,
                            upto,
                            now_ms,
                            lease_until_ms,
                            token,
                            events,
                            room
                        ],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )?
                    .collect::<rusqlite::Result<Vec<(i64, i64)>>>()
                })
                .map_err(map_err)?;
            // A full batch stops at its last event; otherwise the whole window
            // was looked at.
            cursor = if queued.len() as i64 == room {
                queued.iter().map(|q| q.1).max().unwrap_or(upto)
            } else {
                upto
            };
            ids.extend(queued.into_iter().map(|q| q.0));
        }
        conn.exec_cached(
            "UPDATE webhooks SET cursor = ?2 WHERE id = ?1",
            params![webhook, cursor],
        )
        .map_err(map_err)?;
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plans of the delivery reads, on a database analysed while it held
    /// one event and no delivery (as `scripts/bench` analyses after seeding):
    /// each table is reached by key, none is scanned whole.
    #[tokio::test]
    async fn delivery_reads_stay_key_lookups_after_analyze() {
        use crate::store::conformance::{default_ws, group};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("groupd.db");
        let store: std::sync::Arc<dyn crate::store::Store> =
            std::sync::Arc::new(SqliteStore::open(&path).unwrap());
        let ws = default_ws(&store).await;
        store.insert_group(ws.id, group("G", None)).await.unwrap();
        drop(store);
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("ANALYZE").unwrap();
        for (sql, args) in [
            (LEASED_READ, vec!["[1, 2]".to_string(), "0".into()]),
            (
                DELIVERIES_PAGE,
                vec!["1".into(), "1".into(), "9".into(), "50".into()],
            ),
        ] {
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map(rusqlite::params_from_iter(args), |r| r.get(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            for step in &plan {
                assert!(
                    !(step.starts_with("SCAN e") || step.starts_with("SCAN d")),
                    "a whole table is scanned: {plan:?}"
                );
            }
        }
    }
}
