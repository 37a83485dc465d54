//! Events: written by every other write inside its own transaction ([`record`]),
//! read back as the audit log, and pruned.

use super::*;
use crate::domain::event::{Audit, Event, EventDraft, EventPattern, EventType};
use crate::store::{EventQuery, EventStore};

pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Writes `drafts` as events of `ws`, stamped with `audit`, and queues a delivery
/// of each to every enabled endpoint of the workspace subscribed to its type: one
/// statement, inside the caller's transaction, so the events commit with the
/// change or not at all.
///
/// Ids come from `workspaces.last_event_id`. Its row lock is held to the commit,
/// so a second writer in the workspace takes the next id only after the first
/// committed: ids grow in commit order and a reader paging with `after` never
/// passes an event that is still to commit. Call it as the write's last statement,
/// so the lock is held for the commit alone.
pub(super) async fn record<C: GenericClient>(
    c: &C,
    ws: WorkspaceId,
    audit: &Audit,
    drafts: &[EventDraft],
) -> Result<(), StoreError> {
    if drafts.is_empty() {
        return Ok(());
    }
    let types: Vec<&str> = drafts.iter().map(|d| d.kind.as_str()).collect();
    let groups: Vec<Option<i64>> = drafts.iter().map(|d| d.group).collect();
    let users: Vec<Option<i64>> = drafts.iter().map(|d| d.user).collect();
    let subjects: Vec<Option<&str>> = drafts.iter().map(|d| d.subject.as_deref()).collect();
    let changes: Vec<String> = drafts.iter().map(EventDraft::changes_json).collect();
    let actor = audit.actor.to_string();
    let door = audit.door.map(|d| d.as_str());
    c.execute(
        &c.cached(
            "WITH n AS (UPDATE workspaces SET last_event_id = last_event_id + cardinality($2::text[]) \
               WHERE id = $1 RETURNING last_event_id), \
             ev AS (INSERT INTO events (workspace_id, id, type, at_ms, actor, actor_label, door, \
                 group_id, user_id, subject, changes) \
               SELECT $1, n.last_event_id - cardinality($2::text[]) + x.ord, x.t, $3, $4, \
                 (SELECT label FROM api_keys WHERE prefix = $5), $6, x.g, x.u, x.s, x.c \
               FROM n, unnest($2::text[], $7::bigint[], $8::bigint[], $9::text[], $10::text[]) \
                 WITH ORDINALITY AS x(t, g, u, s, c, ord) \
               RETURNING id, type) \
             INSERT INTO deliveries (workspace_id, webhook_id, event_id, next_at_ms, created_ms) \
             SELECT $1, w.id, ev.id, $3, $3 FROM ev JOIN webhooks w \
               ON w.workspace_id = $1 AND w.enabled \
               AND (w.events ? ev.type OR w.events ? (split_part(ev.type, '.', 1) || '.*') \
                    OR w.events ? '*')",
        )
        .await?,
        &[
            &ws.0,
            &types,
            &now_ms(),
            &actor,
            &audit.actor.key_prefix(),
            &door,
            &groups,
            &users,
            &subjects,
            &changes,
        ],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

macro_rules! event_columns {
    () => {
        "e.id, e.type, e.at_ms, e.actor, e.actor_label, e.door, e.group_id, e.user_id, \
         e.subject, e.changes"
    };
}
pub(super) use event_columns;

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
        let c = self.client().await?;
        let rows = c
            .query(
                &c.cached(concat!(
                    "SELECT ",
                    event_columns!(),
                    " FROM events e WHERE e.workspace_id = $1 AND e.id > $2 \
                       AND ($3::text IS NULL OR e.type = $3) AND ($4::text IS NULL OR e.type LIKE $4) \
                       AND ($5::bigint IS NULL OR e.group_id = $5) \
                       AND ($6::bigint IS NULL OR e.user_id = $6) \
                       AND ($7::text IS NULL OR e.actor = $7) \
                     ORDER BY e.id LIMIT $8"
                ))
                .await?,
                &[
                    &ws.0,
                    &q.after,
                    &exact,
                    &like,
                    &q.group,
                    &q.user,
                    &q.actor,
                    &i64::from(q.limit),
                ],
            )
            .await
            .map_err(pg_err)?;
        rows.iter().map(|r| event_from_row(r, 0)).collect()
    }

    async fn prune_events(&self, before_ms: i64, batch: u32) -> Result<u64, StoreError> {
        let c = self.client().await?;
        c.execute(
            &c.cached(
                "DELETE FROM events WHERE (workspace_id, id) IN ( \
                   SELECT e.workspace_id, e.id FROM events e WHERE e.at_ms < $1 \
                   AND NOT EXISTS (SELECT 1 FROM deliveries d \
                     WHERE d.workspace_id = e.workspace_id AND d.event_id = e.id \
                       AND d.state = 'pending') \
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
    /// A write transaction that records events, stamped with the command's audit.
    pub(super) fn audit() -> Audit {
        crate::store::audit::current()
    }
}
