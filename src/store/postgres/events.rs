//! Events: written by every other write inside its own transaction ([`record`]),
//! read back as the audit log, and pruned.

use super::*;
use crate::domain::event::{Audit, Event, EventDraft, EventPattern, EventType};
use crate::store::{EventQuery, EventStore};

/// The `INSERT INTO events` of [`EventRows`], from `SELECT` on: `$1` is the
/// workspace and `$2`..`$10` [`EventRows::params`]; `$group` is what fills
/// `group_id` (`x.g`, or the id a statement has just made) and `$from` what else
/// the rows are selected from. One-statement writes put it in a `WITH` clause.
macro_rules! insert_events {
    ($group:literal, $from:literal) => {
        concat!(
            "INSERT INTO events (workspace_id, type, at_ms, actor, actor_label, door, \
                 group_id, user_id, subject, changes) \
             SELECT $1, x.t, $2, $3, (SELECT label FROM api_keys WHERE prefix = $4), $5, ",
            $group,
            ", x.u, x.s, x.c FROM ",
            $from,
            "unnest($6::text[], $7::bigint[], $8::bigint[], $9::text[], $10::text[]) \
               WITH ORDINALITY AS x(t, g, u, s, c, ord) ORDER BY x.ord"
        )
    };
}
pub(super) use insert_events;

/// Event drafts and their audit as the parameters of [`insert_events!`].
pub(super) struct EventRows<'a> {
    at_ms: i64,
    actor: String,
    key_prefix: Option<&'a str>,
    door: Option<&'static str>,
    types: Vec<&'static str>,
    groups: Vec<Option<i64>>,
    users: Vec<Option<i64>>,
    subjects: Vec<Option<&'a str>>,
    changes: Vec<&'a str>,
}

impl<'a> EventRows<'a> {
    pub(super) fn new(audit: &'a Audit, drafts: &'a [EventDraft]) -> EventRows<'a> {
        EventRows {
            at_ms: now_ms(),
            actor: audit.actor.to_string(),
            key_prefix: audit.actor.key_prefix(),
            door: audit.door.map(|d| d.as_str()),
            types: drafts.iter().map(|d| d.kind.as_str()).collect(),
            groups: drafts.iter().map(|d| d.group).collect(),
            users: drafts.iter().map(|d| d.user).collect(),
            subjects: drafts.iter().map(|d| d.subject.as_deref()).collect(),
            changes: drafts.iter().map(EventDraft::changes_json).collect(),
        }
    }

    /// `$2` to `$10` of [`insert_events!`].
    pub(super) fn params(&self) -> [&(dyn ToSql + Sync); 9] {
        [
            &self.at_ms,
            &self.actor,
            &self.key_prefix,
            &self.door,
            &self.types,
            &self.groups,
            &self.users,
            &self.subjects,
            &self.changes,
        ]
    }
}

/// Writes `drafts` as events of `ws`, stamped with `audit`: one statement,
/// inside the caller's transaction, so the events commit with the change or not
/// at all. Webhook deliveries are queued from the events later, in batches (see
/// `webhooks::queue_new_events`): a change pays for its event only.
///
/// The events get their position (`id`) later, from [`sequence`]: taking it here,
/// from a counter row, would hold that row's lock through the commit and make
/// every write of the workspace wait for the one before it to reach the disk.
pub(super) async fn record<C: GenericClient>(
    c: &C,
    ws: WorkspaceId,
    audit: &Audit,
    drafts: &[EventDraft],
) -> Result<(), StoreError> {
    if drafts.is_empty() {
        return Ok(());
    }
    let rows = EventRows::new(audit, drafts);
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&ws.0];
    params.extend(rows.params());
    c.execute(&c.cached(insert_events!("x.g", "")).await?, &params)
        .await
        .map_err(pg_err)?;
    Ok(())
}

/// How long a reader waits for events that committed before it asked to get
/// their position.
pub(super) const PATIENCE: std::time::Duration = std::time::Duration::from_secs(1);

/// The snapshot of the moment, as text (for [`sequence_until_seen`]).
pub(super) async fn current_snapshot<C: GenericClient>(c: &C) -> Result<String, StoreError> {
    Ok(
        c.query_one(&c.cached("SELECT pg_current_snapshot()::text").await?, &[])
            .await
            .map_err(pg_err)?
            .get(0),
    )
}

/// Most events numbered in one pass.
const SEQUENCE_BATCH: i64 = 10_000;
/// The advisory lock that lets one sequencer run at a time, across instances.
const SEQUENCER_LOCK: i64 = 7_468_351_233;

/// Numbers the events whose transactions have ended and that every older
/// transaction has also ended for, per workspace, in transaction order. Only
/// those can be numbered: a transaction still running may yet commit events,
/// and they must not come to stand behind a position already handed out. So a
/// position, once given, never has a smaller one appear after it, and a reader
/// paging with `after` never misses an event. One pass runs at a time, across
/// instances (an advisory lock); a second waits for the first.
async fn sequence(c: &mut deadpool_postgres::Client) -> Result<u64, StoreError> {
    let tx = c.transaction().await.map_err(pg_err)?;
    tx.execute(
        &tx.cached("SELECT pg_advisory_xact_lock($1)").await?,
        &[&SEQUENCER_LOCK],
    )
    .await
    .map_err(pg_err)?;
    let n = tx
        .execute(
            &tx.cached(
                "WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin), \
                 ready AS (SELECT e.seq, e.workspace_id, \
                     row_number() OVER (PARTITION BY e.workspace_id ORDER BY e.txid, e.seq) AS n \
                   FROM events e, h WHERE e.id IS NULL AND e.txid < h.xmin \
                   ORDER BY e.txid, e.seq LIMIT $1), \
                 c AS (SELECT workspace_id, count(*) AS n FROM ready GROUP BY workspace_id), \
                 bump AS (INSERT INTO event_heads AS head (workspace_id, last_event_id) \
                   SELECT workspace_id, n FROM c ORDER BY workspace_id \
                   ON CONFLICT (workspace_id) \
                   DO UPDATE SET last_event_id = head.last_event_id + excluded.last_event_id \
                   RETURNING head.workspace_id AS id, head.last_event_id AS last) \
                 UPDATE events e SET id = bump.last - c.n + ready.n \
                 FROM ready JOIN c ON c.workspace_id = ready.workspace_id \
                   JOIN bump ON bump.id = ready.workspace_id WHERE e.seq = ready.seq",
            )
            .await?,
            &[&SEQUENCE_BATCH],
        )
        .await
        .map_err(pg_err)?;
    tx.commit().await.map_err(pg_err)?;
    Ok(n)
}

/// Numbers events until those (of `ws`, or of every workspace) that had
/// committed when `snapshot` was taken all have their position, or `patience`
/// has passed (a transaction that began before them is still running: they come
/// later, never out of order).
pub(super) async fn sequence_until_seen(
    c: &mut deadpool_postgres::Client,
    ws: Option<WorkspaceId>,
    snapshot: &str,
    patience: std::time::Duration,
) -> Result<(), StoreError> {
    let deadline = std::time::Instant::now() + patience;
    loop {
        sequence(c).await?;
        let waiting: bool = c
            .query_one(
                &c.cached(
                    "SELECT EXISTS (SELECT 1 FROM events WHERE id IS NULL \
                     AND ($1::bigint IS NULL OR workspace_id = $1) \
                     AND pg_visible_in_snapshot(txid, $2::text::pg_snapshot))",
                )
                .await?,
                &[&ws.map(|w| w.0), &snapshot],
            )
            .await
            .map_err(pg_err)?
            .get(0);
        if !waiting || std::time::Instant::now() >= deadline {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

pub(super) use crate::store::{event_columns, now_ms};

/// An event row, from `event_columns!()` starting at column `at`.
pub(super) fn event_from_row(r: &Row, at: usize) -> Result<Event, StoreError> {
    let kind: String = r.get(at + 1);
    let changes: String = r.get(at + 9);
    Ok(Event {
        id: r.get(at),
        kind: EventType::parse(&kind)
            .ok_or_else(|| StoreError::Backend(format!("unknown event type {kind:?}")))?,
        at_ms: r.get(at + 2),
        actor: r.get(at + 3),
        actor_label: r.get(at + 4),
        door: r.get(at + 5),
        group: r.get(at + 6),
        user: r.get(at + 7),
        subject: r.get(at + 8),
        changes: Event::parse_changes(&changes).map_err(StoreError::Backend)?,
    })
}

#[async_trait]
impl EventStore for PostgresStore {
    async fn list_events(&self, ws: WorkspaceId, q: &EventQuery) -> Result<Vec<Event>, StoreError> {
        let (exact, like): (Option<String>, Option<String>) = match &q.kind {
            None | Some(EventPattern::All) => (None, None),
            Some(EventPattern::One(t)) => (Some(t.as_str().to_string()), None),
            Some(EventPattern::Noun(n)) => (None, Some(format!("{n}.%"))),
        };
        let mut c = self.client_for(op!()).await?;
        // What had committed when the call began is in the answer (once every
        // transaction older than it has ended, within a second).
        let snapshot = current_snapshot(&*c).await?;
        sequence_until_seen(&mut c, Some(ws), &snapshot, PATIENCE).await?;
        macro_rules! page {
            ($order:literal) => {
                concat!(
                    "SELECT ",
                    event_columns!(),
                    " FROM events e WHERE e.workspace_id = $1 AND e.id > $2 AND e.id < $9 \
                       AND ($3::text IS NULL OR e.type = $3) AND ($4::text IS NULL OR e.type LIKE $4) \
                       AND ($5::bigint IS NULL OR e.group_id = $5) \
                       AND ($6::bigint IS NULL OR e.user_id = $6) \
                       AND ($7::text IS NULL OR e.actor = $7) \
                     ORDER BY e.id ",
                    $order,
                    " LIMIT $8"
                )
            };
        }
        let sql = if q.newest_first {
            page!("DESC")
        } else {
            page!("ASC")
        };
        let rows = c
            .query(
                &c.cached(sql).await?,
                &[
                    &ws.0,
                    &q.after,
                    &exact,
                    &like,
                    &q.group,
                    &q.user,
                    &q.actor,
                    &i64::from(q.limit),
                    &q.before.unwrap_or(i64::MAX),
                ],
            )
            .await
            .map_err(pg_err)?;
        rows.iter().map(|r| event_from_row(r, 0)).collect()
    }

    async fn prune_events(&self, before_ms: i64, batch: u32) -> Result<u64, StoreError> {
        let mut c = self.client_for(op!()).await?;
        let snapshot = current_snapshot(&*c).await?;
        sequence_until_seen(&mut c, None, &snapshot, PATIENCE).await?;
        c.execute(
            &c.cached(
                "DELETE FROM events WHERE seq IN ( \
                   SELECT e.seq FROM events e WHERE e.at_ms < $1 AND e.id IS NOT NULL \
                   AND NOT EXISTS (SELECT 1 FROM webhooks w \
                     WHERE w.workspace_id = e.workspace_id AND w.enabled \
                       AND e.id > w.cursor AND e.seq > w.start_seq) \
                   AND NOT EXISTS (SELECT 1 FROM deliveries d \
                     WHERE d.event_seq = e.seq AND d.state = 'pending') \
                   LIMIT $2 FOR UPDATE SKIP LOCKED)",
            )
            .await?,
            &[&before_ms, &i64::from(batch)],
        )
        .await
        .map_err(pg_err)
    }
}

impl PostgresStore {
    /// The audit of the command being carried out, for the events a write records.
    pub(super) fn audit() -> Audit {
        crate::store::audit::current()
    }
}
