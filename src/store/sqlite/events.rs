//! Events: written by every other write inside its own transaction ([`record`]),
//! read back as the audit log, and pruned.

use super::*;
use crate::domain::event::{Audit, Event, EventDraft, EventPattern, EventType};
use crate::store::{EventQuery, EventStore};

/// Writes `drafts` as events of `ws`, stamped with `audit`, inside the caller's
/// write transaction: the events commit with the change or not at all. Ids come
/// from the workspace row, so they grow in commit order. Webhook deliveries are
/// queued from the events later, in batches (see `webhooks::queue_new_events`):
/// a change pays for its event only.
pub(super) fn record(
    conn: &Connection,
    ws: WorkspaceId,
    audit: &Audit,
    drafts: &[EventDraft],
) -> Result<(), StoreError> {
    if drafts.is_empty() {
        return Ok(());
    }
    let last: i64 = conn
        .row_cached(
            "UPDATE workspaces SET last_event_id = last_event_id + ?2 WHERE id = ?1 \
             RETURNING last_event_id",
            params![ws.0, drafts.len() as i64],
            |r| r.get(0),
        )
        .optional()
        .map_err(map_err)?
        .ok_or(StoreError::NotFound(Entity::Workspace))?;
    let at = now_ms();
    let actor = audit.actor.to_string();
    let door = audit.door.map(|d| d.as_str());
    let first = last - drafts.len() as i64 + 1;
    for (i, d) in drafts.iter().enumerate() {
        let id = first + i as i64;
        conn.exec_cached(
            "INSERT INTO events (workspace_id, id, type, at_ms, actor, actor_label, door, \
                 group_id, user_id, subject, changes) \
             VALUES (?1, ?2, ?3, ?4, ?5, (SELECT label FROM api_keys WHERE prefix = ?6), \
                 ?7, ?8, ?9, ?10, ?11)",
            params![
                ws.0,
                id,
                d.kind.as_str(),
                at,
                actor,
                audit.actor.key_prefix(),
                door,
                d.group,
                d.user,
                d.subject,
                d.changes_json(),
            ],
        )
        .map_err(map_err)?;
    }
    Ok(())
}

/// Runs a write that records events: reads the command's audit here, in the
/// calling task, and hands it to `f` on the writer thread.
impl SqliteStore {
    pub(super) async fn write_audited<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &Audit) -> Result<T, StoreError> + Send + 'static,
    {
        let audit = crate::store::audit::current();
        let op = crate::store::op_name(std::any::type_name::<F>());
        self.writer
            .write_named(op, move |conn| f(conn, &audit))
            .await
    }
}

pub(super) use crate::store::{event_columns, now_ms};

/// An event row, from `event_columns!()` starting at column `at`.
pub(super) fn event_from_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Event> {
    let bad = |col: usize, msg: String| {
        rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, msg.into())
    };
    let kind: String = r.get(at + 1)?;
    let changes: String = r.get(at + 9)?;
    Ok(Event {
        id: r.get(at)?,
        kind: EventType::parse(&kind)
            .ok_or_else(|| bad(at + 1, format!("unknown event type {kind:?}")))?,
        at_ms: r.get(at + 2)?,
        actor: r.get(at + 3)?,
        actor_label: r.get(at + 4)?,
        door: r.get(at + 5)?,
        group: r.get(at + 6)?,
        user: r.get(at + 7)?,
        subject: r.get(at + 8)?,
        changes: Event::parse_changes(&changes).map_err(|e| bad(at + 9, e))?,
    })
}

/// The `type` filter as SQL values: an exact type, or a `noun.%` pattern.
fn kind_filter(kind: &Option<EventPattern>) -> (Option<String>, Option<String>) {
    match kind {
        None | Some(EventPattern::All) => (None, None),
        Some(EventPattern::One(t)) => (Some(t.as_str().to_string()), None),
        Some(EventPattern::Noun(n)) => (None, Some(format!("{n}.%"))),
    }
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn list_events(&self, ws: WorkspaceId, q: &EventQuery) -> Result<Vec<Event>, StoreError> {
        let (exact, like) = kind_filter(&q.kind);
        let q = q.clone();
        self.read(move |conn| {
            macro_rules! page {
                ($order:literal) => {
                    concat!(
                        "SELECT ",
                        event_columns!(),
                        " FROM events e WHERE e.workspace_id = ?1 AND e.id > ?2 AND e.id < ?9 \
                           AND (?3 IS NULL OR e.type = ?3) AND (?4 IS NULL OR e.type LIKE ?4) \
                           AND (?5 IS NULL OR e.group_id = ?5) AND (?6 IS NULL OR e.user_id = ?6) \
                           AND (?7 IS NULL OR e.actor = ?7) \
                         ORDER BY e.id ",
                        $order,
                        " LIMIT ?8"
                    )
                };
            }
            let sql = if q.newest_first {
                page!("DESC")
            } else {
                page!("ASC")
            };
            conn.prepare_cached(sql)?
                .query_map(
                    params![
                        ws.0,
                        q.after,
                        exact,
                        like,
                        q.group,
                        q.user,
                        q.actor,
                        q.limit,
                        q.before.unwrap_or(i64::MAX)
                    ],
                    |r| event_from_row(r, 0),
                )?
                .collect()
        })
        .await
    }

    async fn prune_events(&self, before_ms: i64, batch: u32) -> Result<u64, StoreError> {
        self.writer
            .write(move |conn| {
                let workspaces: Vec<i64> = conn
                    .prepare_cached("SELECT id FROM workspaces ORDER BY id")
                    .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
                    .map_err(map_err)?;
                let mut removed = 0u64;
                for ws in workspaces {
                    let room = u64::from(batch).saturating_sub(removed);
                    if room == 0 {
                        break;
                    }
                    // Old, and not still to be queued for an enabled endpoint.
                    let waiting: Option<i64> = conn
                        .row_cached(
                            "SELECT min(cursor) FROM webhooks WHERE workspace_id = ?1 AND enabled",
                            params![ws],
                            |r| r.get(0),
                        )
                        .map_err(map_err)?;
                    let old = first_at_or_after(conn, ws, before_ms).map_err(map_err)?;
                    let cutoff = waiting.map_or(old, |c| old.min(c + 1));
                    let n = conn
                        .exec_cached(
                            "DELETE FROM events WHERE workspace_id = ?1 AND id IN ( \
                               SELECT e.id FROM events e WHERE e.workspace_id = ?1 AND e.id < ?2 \
                               AND NOT EXISTS (SELECT 1 FROM deliveries d \
                                 WHERE d.workspace_id = ?1 AND d.event_id = e.id \
                                   AND d.state = 'pending') \
                               ORDER BY e.id LIMIT ?3)",
                            params![ws, cutoff, room as i64],
                        )
                        .map_err(map_err)?;
                    removed += n as u64;
                }
                Ok(removed)
            })
            .await
    }
}

/// The id of a workspace's first event at or after `at_ms`, found by bisecting
/// the ids (a workspace's events are numbered in the order they were written, so
/// their times grow with their ids): a few primary-key look-ups, where an index
/// on the time would cost every write an index entry. A clock that stepped back
/// at most makes an event go a little early or late.
fn first_at_or_after(conn: &Connection, ws: i64, at_ms: i64) -> rusqlite::Result<i64> {
    let (lo, hi): (Option<i64>, Option<i64>) = conn.row_cached(
        "SELECT min(id), max(id) FROM events WHERE workspace_id = ?1",
        params![ws],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (Some(mut lo), Some(hi)) = (lo, hi) else {
        return Ok(0);
    };
    let mut hi = hi + 1;
    // Invariant: every event below `lo` is older than `at_ms`; `hi` is past it.
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let at: Option<(i64, i64)> = conn
            .row_cached(
                "SELECT id, at_ms FROM events WHERE workspace_id = ?1 AND id >= ?2 \
                 ORDER BY id LIMIT 1",
                params![ws, mid],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match at {
            Some((id, t)) if t < at_ms => lo = id + 1,
            _ => hi = mid,
        }
    }
    Ok(lo)
}
