//! PostgreSQL schema migrations, applied in order at start under a transaction-scoped
//! advisory lock, so instances starting together migrate once. Never edit a
//! released migration: add a new one. The migration SQL itself keeps to what
//! PostgreSQL-compatible distributed engines also accept (no LOCK TABLE, no
//! triggers).

/// Fills `names` from the users and groups stored (at migration 2, and after an
/// import, which loads groups and users but not this derived table).
macro_rules! names_backfill {
    () => {
        r#"
INSERT INTO names (workspace_id, name_key, user_id)
    SELECT workspace_id, username_key, id FROM users ON CONFLICT DO NOTHING;
INSERT INTO names (workspace_id, name_key, group_id)
    SELECT workspace_id, slug_key, id FROM groups WHERE slug_key IS NOT NULL
    ON CONFLICT DO NOTHING;
"#
    };
}

use crate::store::rekey::{Candidate, Holder, KeyKind, Outcome, Scope};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Error, Transaction};

pub const MIGRATIONS: &[&str] = &[
    // 1: everything up to users, memberships and idempotency keys (the SQLite
    // engine's migrations 1 to 3).
    r#"
CREATE TABLE workspaces (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    next_category_id BIGINT NOT NULL DEFAULT 2,
    next_field_id BIGINT NOT NULL DEFAULT 1
);
CREATE TABLE api_keys (
    prefix TEXT PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    hash BYTEA NOT NULL,
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX api_keys_workspace ON api_keys(workspace_id);
CREATE TABLE categories (
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    id BIGINT NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE TABLE field_defs (
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    id BIGINT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE TABLE groups (
    id BIGSERIAL PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    slug TEXT,
    slug_key TEXT,
    description TEXT NOT NULL DEFAULT '',
    category_id BIGINT NOT NULL,
    secret BOOLEAN NOT NULL DEFAULT FALSE,
    unleavable BOOLEAN NOT NULL DEFAULT FALSE,
    pinned BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash TEXT,
    policy TEXT NOT NULL DEFAULT '{}',
    builtin TEXT,
    member_count BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    FOREIGN KEY (workspace_id, category_id) REFERENCES categories(workspace_id, id)
);
CREATE UNIQUE INDEX groups_slug_key ON groups(workspace_id, slug_key);
CREATE UNIQUE INDEX groups_builtin ON groups(workspace_id, builtin);
CREATE INDEX groups_list ON groups(workspace_id, pinned, id);
CREATE INDEX groups_list_category ON groups(workspace_id, category_id, pinned, id);
CREATE INDEX groups_list_secret ON groups(workspace_id, secret, pinned, id);
CREATE TABLE group_field_values (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    workspace_id BIGINT NOT NULL,
    field_id BIGINT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (group_id, field_id),
    FOREIGN KEY (workspace_id, field_id) REFERENCES field_defs(workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX group_field_values_field ON group_field_values(workspace_id, field_id);
CREATE TABLE group_icons (
    group_id BIGINT PRIMARY KEY REFERENCES groups(id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    data BYTEA NOT NULL
);
CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    full_name TEXT NOT NULL,
    username TEXT NOT NULL,
    username_key TEXT NOT NULL,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_username ON users(workspace_id, username_key);
CREATE UNIQUE INDEX users_email ON users(workspace_id, email_key);
CREATE TABLE memberships (
    group_id BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX memberships_user ON memberships(user_id, group_id);
CREATE TABLE idempotency_keys (
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    request_hash BYTEA NOT NULL,
    status INTEGER,
    body TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, key)
);
"#,
    // 2: group slugs and usernames share one namespace per workspace; one row per
    // held name, so the primary key refuses a second holder (see `NameHolder`).
    // Names already held twice (possible before this table) stay with the user.
    concat!(
        r#"
CREATE TABLE names (
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name_key TEXT NOT NULL,
    group_id BIGINT UNIQUE REFERENCES groups(id) ON DELETE CASCADE,
    user_id BIGINT UNIQUE REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (workspace_id, name_key),
    CHECK ((group_id IS NULL) <> (user_id IS NULL))
);
"#,
        names_backfill!()
    ),
    // 3: a claim on an idempotency key is held under a lease its request renews;
    // a claim whose holder is gone (killed) lapses and may be taken over. Claims
    // from before have no lease, so they lapse at once.
    r#"
ALTER TABLE idempotency_keys ADD COLUMN claim_token BIGINT NOT NULL DEFAULT 0;
ALTER TABLE idempotency_keys ADD COLUMN lease_until_ms BIGINT NOT NULL DEFAULT 0;
"#,
    // 4: icons are served under an unguessable token, not the group id. Every write
    // sets one; existing icons get one here (gen_random_uuid draws from the strong
    // random source).
    r#"
ALTER TABLE group_icons ADD COLUMN token TEXT;
UPDATE group_icons SET token = replace(gen_random_uuid()::text, '-', '');
CREATE UNIQUE INDEX group_icons_token ON group_icons(token);
"#,
    // 5: identifier keys (groups.slug_key, users.username_key, users.email_key,
    // names.name_key) become the domain's (NFKC with full case folding) for rows
    // stored when they were the plain lower case. The work is [`rekey`], run in this
    // migration's transaction (see `REKEY_VERSION`); the SQL part is only a marker.
    "-- identifier keys recomputed by store::rekey",
    // 6: events (the audit log and the webhook outbox), webhook endpoints, and
    // their deliveries. A write inserts its events with no position (`id` NULL);
    // the sequencer (`events::sequence`) numbers them per workspace afterwards,
    // in transaction order, once every older transaction has ended, so positions
    // grow in commit order without writes waiting on one another.
    r#"
ALTER TABLE workspaces ADD COLUMN last_event_id BIGINT NOT NULL DEFAULT 0;
CREATE TABLE events (
    seq BIGSERIAL PRIMARY KEY,
    txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    id BIGINT,
    type TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    actor_label TEXT,
    door TEXT,
    group_id BIGINT,
    user_id BIGINT,
    subject TEXT,
    changes TEXT NOT NULL
);
CREATE UNIQUE INDEX events_position ON events(workspace_id, id);
CREATE INDEX events_unsequenced ON events(txid, seq) WHERE id IS NULL;
CREATE INDEX events_at ON events(at_ms);
CREATE INDEX events_group ON events(workspace_id, group_id, id) WHERE group_id IS NOT NULL;
CREATE INDEX events_user ON events(workspace_id, user_id, id) WHERE user_id IS NOT NULL;
CREATE TABLE webhooks (
    id BIGSERIAL PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    events JSONB NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    disabled_reason TEXT,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_until_ms BIGINT,
    failing_since_ms BIGINT,
    -- The last event (position in the workspace) handed to `deliveries`: events
    -- after it are queued for this endpoint when a sender next leases.
    cursor BIGINT NOT NULL DEFAULT 0,
    -- Events inserted before the endpoint was made (seq at most this) are not
    -- its to deliver, even if they get their position after it (the sequencer
    -- may not have reached them when it was made).
    start_seq BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhooks_workspace ON webhooks(workspace_id, id);
CREATE TABLE deliveries (
    id BIGSERIAL PRIMARY KEY,
    workspace_id BIGINT NOT NULL,
    webhook_id BIGINT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_seq BIGINT NOT NULL REFERENCES events(seq) ON DELETE CASCADE,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at_ms BIGINT NOT NULL,
    lease_until_ms BIGINT,
    lease_token BIGINT,
    created_ms BIGINT NOT NULL,
    -- Every attempt, oldest first: [[at_ms, status or null, latency_ms, error or null], ...]
    -- (kept in the row: recording a batch of attempts is then one UPDATE).
    tries JSONB NOT NULL DEFAULT '[]'
);
CREATE INDEX deliveries_due ON deliveries(next_at_ms) WHERE state = 'pending';
CREATE INDEX deliveries_webhook ON deliveries(webhook_id, id);
CREATE INDEX deliveries_event ON deliveries(event_seq);
"#,
    // 7: console sign-in sessions (only the SHA-256 of the cookie's token is
    // stored), and when each key was last used.
    r#"
CREATE TABLE console_sessions (
    token_hash BYTEA PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    actor TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    seen_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_seen ON console_sessions(seen_at);
ALTER TABLE api_keys ADD COLUMN last_used_at BIGINT;
"#,
    // 8: no hot rows. A group's member count is `groups.member_count` plus the
    // deltas in `member_counts`, one row per (group, slot); a write adds its delta
    // to the slot of its connection, so adds to one group from many connections
    // do not wait on one row. A transaction writes its slots last, in group
    // order, after every other row lock it takes, so that two writes sharing a
    // slot never wait on each other in a cycle. The last event position moves
    // from the workspace row to `event_heads`: every write's foreign keys lock
    // the workspace row for key share, and the sequencer updating that row made
    // each of those locks follow and join its update (0.44 ms a check, 2 per create). One-statement writes check what they assumed and,
    // when it does not hold, call `groupd_assumption_failed()`, which aborts the
    // statement (nothing written) so the engine can take the careful path. An
    // event is written with only the indexes its numbering needs; the indexes for
    // reading numbered events take their entries when the sequencer numbers it.
    r#"
-- No foreign key: its check would lock the group row, and a count write would
-- then wait on (or deadlock with) a write holding that row. A group's slots are
-- deleted with it (`group_removal.rs`).
CREATE TABLE event_heads (
    workspace_id BIGINT PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    last_event_id BIGINT NOT NULL
);
INSERT INTO event_heads SELECT id, last_event_id FROM workspaces;
ALTER TABLE workspaces DROP COLUMN last_event_id;
-- Workspaces are never deleted, a group's workspace is already checked by its
-- category's key (categories belong to workspaces), and an event's workspace is
-- the caller's. Each of these checks locked the one workspace row every write
-- shares, and cost a create more than the rest of its event.
ALTER TABLE groups DROP CONSTRAINT groups_workspace_id_fkey;
ALTER TABLE events DROP CONSTRAINT events_workspace_id_fkey;
CREATE TABLE member_counts (
    group_id BIGINT NOT NULL,
    slot SMALLINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (group_id, slot)
);
CREATE FUNCTION groupd_assumption_failed() RETURNS BIGINT LANGUAGE plpgsql VOLATILE AS $f$
BEGIN
    RAISE EXCEPTION 'a one-statement write found the rows other than it assumed'
        USING ERRCODE = 'GD001';
END
$f$;
DROP INDEX events_position;
CREATE UNIQUE INDEX events_position ON events(workspace_id, id) WHERE id IS NOT NULL;
DROP INDEX events_at;
CREATE INDEX events_at ON events(at_ms) WHERE id IS NOT NULL;
DROP INDEX events_group;
CREATE INDEX events_group ON events(workspace_id, group_id, id) WHERE group_id IS NOT NULL AND id IS NOT NULL;
DROP INDEX events_user;
CREATE INDEX events_user ON events(workspace_id, user_id, id) WHERE user_id IS NOT NULL AND id IS NOT NULL;
"#,
    // 9: what identity providers send over SCIM: their id for a user or group
    // (`external_id`), and whether a user is active.
    r#"
ALTER TABLE users ADD COLUMN external_id TEXT;
ALTER TABLE users ADD COLUMN active BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE groups ADD COLUMN external_id TEXT;
"#,
    // 10: an identity provider's user name when it is not a valid username
    // (an email address, a UUID), unique per workspace by its key; and users
    // without an email address (empty), which the email key's uniqueness skips.
    r#"
ALTER TABLE users ADD COLUMN idp_user_name TEXT;
ALTER TABLE users ADD COLUMN idp_user_name_key TEXT;
CREATE UNIQUE INDEX users_idp_user_name ON users(workspace_id, idp_user_name_key)
    WHERE idp_user_name_key IS NOT NULL;
DROP INDEX users_email;
CREATE UNIQUE INDEX users_email ON users(workspace_id, email_key) WHERE email_key <> '';
"#,
];

/// The version whose migration runs [`rekey`] over rows with non-ASCII values.
pub const REKEY_VERSION: usize = 5;

/// Gives rows the domain's key for their slug, username and email address (see
/// [`crate::store::rekey`]). A row whose new key another row holds keeps its old
/// key and is logged. Each update runs under a savepoint, so a row another
/// instance writes meanwhile (one still on the old version, which takes no part in
/// the migration lock) is a logged collision, not a failed start.
pub async fn rekey(tx: &mut Transaction<'_>, scope: Scope) -> Result<Outcome, Error> {
    let mut out = Outcome::default();
    for kind in KeyKind::ALL {
        let rows: Vec<Candidate> = tx
            .query(&kind.candidates_sql(scope), &[])
            .await?
            .iter()
            .map(|r| Candidate {
                id: r.get(0),
                workspace: r.get(1),
                value: r.get(2),
                key: r.get(3),
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        let (table, key_column) = (kind.table(), kind.key_column());
        let held_in_table = tx
            .prepare(&format!(
                "SELECT id FROM {table} WHERE workspace_id = $1 AND {key_column} = $2 \
                 AND id <> $3 LIMIT 1"
            ))
            .await?;
        let held_in_names = match kind.names_column() {
            Some(column) => Some((
                column,
                tx.prepare(&format!(
                    "SELECT group_id, user_id FROM names WHERE workspace_id = $1 \
                     AND name_key = $2 AND {column} IS DISTINCT FROM $3 LIMIT 1"
                ))
                .await?,
            )),
            None => None,
        };
        let update = tx
            .prepare(&format!(
                "UPDATE {table} SET {key_column} = $1 WHERE id = $2"
            ))
            .await?;
        for row in rows {
            let Some(key) = row.new_key(kind) else {
                continue;
            };
            let mut holder = tx
                .query_opt(&held_in_table, &[&row.workspace, &key, &row.id])
                .await?
                .map(|r| kind.holder(r.get(0)));
            if let (None, Some((_, names))) = (holder, &held_in_names) {
                holder = tx
                    .query_opt(names, &[&row.workspace, &key, &row.id])
                    .await?
                    .map(|r| Holder::of_names_row(r.get(0), r.get(1)));
            }
            if holder.is_none() {
                let sp = tx.savepoint("rekey").await?;
                let written = async {
                    sp.execute(&update, &[&key, &row.id]).await?;
                    if let Some((column, _)) = held_in_names {
                        sp.execute(
                            &format!("UPDATE names SET name_key = $1 WHERE {column} = $2"),
                            &[&key, &row.id],
                        )
                        .await?;
                    }
                    Ok::<(), Error>(())
                }
                .await;
                match written {
                    Ok(()) => sp.commit().await?,
                    Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                        sp.rollback().await?;
                        holder = Some(Holder::Unknown);
                    }
                    Err(e) => return Err(e),
                }
            }
            match holder {
                Some(holder) => {
                    out.collide(kind, &row, holder);
                }
                None => out.rekeyed += 1,
            }
        }
    }
    Ok(out)
}

pub const NAMES_BACKFILL: &str = names_backfill!();

/// Gives every icon without a token one (for imports of exports made before icons
/// had tokens).
pub const FILL_ICON_TOKENS: &str =
    "UPDATE group_icons SET token = replace(gen_random_uuid()::text, '-', '') WHERE token IS NULL;";
