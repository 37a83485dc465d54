//! SQLite schema migrations, applied in order at start. `PRAGMA user_version` holds
//! how many have run. Never edit a released migration: add a new one.

/// Fills `names` from the users and groups stored (at migration 6, and after an
/// import, which loads groups and users but not this derived table).
macro_rules! names_backfill {
    () => {
        r#"
INSERT INTO names (workspace_id, name_key, user_id)
    SELECT workspace_id, username_key, id FROM users WHERE true ON CONFLICT DO NOTHING;
INSERT INTO names (workspace_id, name_key, group_id)
    SELECT workspace_id, slug_key, id FROM groups WHERE slug_key IS NOT NULL
    ON CONFLICT DO NOTHING;
"#
    };
}

use crate::store::rekey::{Candidate, Holder, KeyKind, Outcome, Scope};
use rusqlite::{Connection, OptionalExtension, params};

pub const MIGRATIONS: &[&str] = &[
    // 1: workspaces, keys, categories, custom fields, groups, icons.
    r#"
CREATE TABLE workspaces (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    next_category_id INTEGER NOT NULL DEFAULT 2,
    next_field_id INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE api_keys (
    prefix TEXT PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    hash BLOB NOT NULL,
    label TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX api_keys_workspace ON api_keys(workspace_id);
CREATE TABLE categories (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    id INTEGER NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE TABLE field_defs (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    id INTEGER NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE TABLE groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    slug TEXT,
    slug_key TEXT,
    description TEXT NOT NULL DEFAULT '',
    category_id INTEGER NOT NULL,
    secret INTEGER NOT NULL DEFAULT 0,
    unleavable INTEGER NOT NULL DEFAULT 0,
    pinned INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    FOREIGN KEY (workspace_id, category_id) REFERENCES categories(workspace_id, id)
);
CREATE UNIQUE INDEX groups_slug_key ON groups(workspace_id, slug_key);
CREATE INDEX groups_workspace ON groups(workspace_id, id);
CREATE INDEX groups_category ON groups(workspace_id, category_id);
CREATE TABLE group_field_values (
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    workspace_id INTEGER NOT NULL,
    field_id INTEGER NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (group_id, field_id),
    FOREIGN KEY (workspace_id, field_id) REFERENCES field_defs(workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX group_field_values_field ON group_field_values(workspace_id, field_id);
CREATE TABLE group_icons (
    group_id INTEGER PRIMARY KEY REFERENCES groups(id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    data BLOB NOT NULL
);
"#,
    // 2: per-group permissions and limits (a JSON policy) and built-in groups.
    r#"
ALTER TABLE groups ADD COLUMN policy TEXT NOT NULL DEFAULT '{}';
ALTER TABLE groups ADD COLUMN builtin TEXT;
CREATE UNIQUE INDEX groups_builtin ON groups(workspace_id, builtin);
"#,
    // 3: users, memberships, idempotency keys, and list indexes.
    r#"
ALTER TABLE groups ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
ALTER TABLE groups ADD COLUMN member_count INTEGER NOT NULL DEFAULT 0;
UPDATE groups SET name_key = lower(name);
CREATE INDEX groups_list ON groups(workspace_id, pinned, id);
CREATE INDEX groups_list_category ON groups(workspace_id, category_id, pinned, id);
CREATE INDEX groups_list_secret ON groups(workspace_id, secret, pinned, id);
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    full_name TEXT NOT NULL,
    username TEXT NOT NULL,
    username_key TEXT NOT NULL,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_username ON users(workspace_id, username_key);
CREATE UNIQUE INDEX users_email ON users(workspace_id, email_key);
CREATE TABLE memberships (
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX memberships_user ON memberships(user_id, group_id);
CREATE TABLE idempotency_keys (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    status INTEGER,
    body TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, key)
);
"#,
    // 4: two indexes that others cover (each costs a page write per commit).
    r#"
DROP INDEX groups_workspace;
DROP INDEX groups_category;
"#,
    // 5: most groups have no slug and are not built in; partial unique indexes
    // leave those groups out, so a plain create writes two index pages fewer.
    r#"
DROP INDEX groups_slug_key;
CREATE UNIQUE INDEX groups_slug_key ON groups(workspace_id, slug_key) WHERE slug_key IS NOT NULL;
DROP INDEX groups_builtin;
CREATE UNIQUE INDEX groups_builtin ON groups(workspace_id, builtin) WHERE builtin IS NOT NULL;
"#,
    // 6: group slugs and usernames share one namespace per workspace; one row per
    // held name, so the primary key refuses a second holder (see `NameHolder`).
    // Names already held twice (possible before this table) stay with the user.
    concat!(
        r#"
CREATE TABLE names (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name_key TEXT NOT NULL,
    group_id INTEGER UNIQUE REFERENCES groups(id) ON DELETE CASCADE,
    user_id INTEGER UNIQUE REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (workspace_id, name_key),
    CHECK ((group_id IS NULL) <> (user_id IS NULL))
);
"#,
        names_backfill!()
    ),
    // 7: a claim on an idempotency key is held under a lease its request renews;
    // a claim whose holder is gone (killed) lapses and may be taken over. Claims
    // from before have no lease, so they lapse at once.
    r#"
ALTER TABLE idempotency_keys ADD COLUMN claim_token INTEGER NOT NULL DEFAULT 0;
ALTER TABLE idempotency_keys ADD COLUMN lease_until_ms INTEGER NOT NULL DEFAULT 0;
"#,
    // 8: icons are served under an unguessable token, not the group id. Every write
    // sets one; existing icons get one here (randomblob is SQLite's CSPRNG).
    r#"
ALTER TABLE group_icons ADD COLUMN token TEXT;
UPDATE group_icons SET token = lower(hex(randomblob(16)));
CREATE UNIQUE INDEX group_icons_token ON group_icons(token);
"#,
    // 9: identifier keys (groups.slug_key, users.username_key, users.email_key,
    // names.name_key) become the domain's (NFKC with full case folding) for rows
    // stored when they were the plain lower case. The work is [`rekey`], run in this
    // migration's transaction (see `REKEY_VERSION`); the SQL part is only a marker.
    "-- identifier keys recomputed by store::rekey",
    // 10: events (the audit log and the webhook outbox), webhook endpoints, and
    // their deliveries. An event's id is per workspace, taken from
    // workspaces.last_event_id in the writing transaction.
    r#"
ALTER TABLE workspaces ADD COLUMN last_event_id INTEGER NOT NULL DEFAULT 0;
CREATE TABLE events (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    id INTEGER NOT NULL,
    type TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    actor_label TEXT,
    door TEXT,
    group_id INTEGER,
    user_id INTEGER,
    subject TEXT,
    changes TEXT NOT NULL,
    PRIMARY KEY (workspace_id, id)
) WITHOUT ROWID;
-- No index on at_ms: pruning bisects the ids (each index costs every write).
CREATE INDEX events_group ON events(workspace_id, group_id, id) WHERE group_id IS NOT NULL;
CREATE INDEX events_user ON events(workspace_id, user_id, id) WHERE user_id IS NOT NULL;
CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_until_ms INTEGER,
    failing_since_ms INTEGER,
    -- The last event (position in the workspace) handed to `deliveries`: events
    -- after it are queued for this endpoint when the sender next leases.
    cursor INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX webhooks_workspace ON webhooks(workspace_id, id);
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL,
    webhook_id INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at_ms INTEGER NOT NULL,
    lease_until_ms INTEGER,
    lease_token INTEGER,
    created_ms INTEGER NOT NULL,
    -- Every attempt, oldest first: [[at_ms, status or null, latency_ms, error or null], ...]
    -- (kept in the row: recording an attempt is then one UPDATE).
    tries TEXT NOT NULL DEFAULT '[]',
    FOREIGN KEY (workspace_id, event_id) REFERENCES events(workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX deliveries_due ON deliveries(next_at_ms) WHERE state = 'pending';
CREATE INDEX deliveries_webhook ON deliveries(webhook_id, id);
CREATE INDEX deliveries_event ON deliveries(workspace_id, event_id);
"#,
    // 11: console sign-in sessions (kept here so every instance knows them; only
    // the SHA-256 of the cookie's token is stored), and when each key was last used.
    r#"
CREATE TABLE console_sessions (
    token_hash BLOB PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    actor TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    seen_at INTEGER NOT NULL
);
CREATE INDEX console_sessions_seen ON console_sessions(seen_at);
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;
"#,
    // 12: what identity providers send over SCIM: their id for a user or group
    // (`external_id`), and whether a user is active.
    r#"
ALTER TABLE users ADD COLUMN external_id TEXT;
ALTER TABLE users ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
ALTER TABLE groups ADD COLUMN external_id TEXT;
"#,
    // 13: an identity provider's user name when it is not a valid username
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
pub const REKEY_VERSION: usize = 9;

pub const NAMES_BACKFILL: &str = names_backfill!();

/// Gives every icon without a token one (for imports of exports made before icons
/// had tokens).
pub const FILL_ICON_TOKENS: &str =
    "UPDATE group_icons SET token = lower(hex(randomblob(16))) WHERE token IS NULL;";

/// Gives rows the domain's key for their slug, username and email address (see
/// [`crate::store::rekey`]). A row whose new key another row holds keeps its old
/// key and is logged. Run inside a write transaction.
pub fn rekey(conn: &Connection, scope: Scope) -> rusqlite::Result<Outcome> {
    let mut out = Outcome::default();
    for kind in KeyKind::ALL {
        let rows: Vec<Candidate> = conn
            .prepare(&kind.candidates_sql(scope))?
            .query_map([], |r| {
                Ok(Candidate {
                    id: r.get(0)?,
                    workspace: r.get(1)?,
                    value: r.get(2)?,
                    key: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let (table, key_column) = (kind.table(), kind.key_column());
        let mut held_in_table = conn.prepare(&format!(
            "SELECT id FROM {table} WHERE workspace_id = ?1 AND {key_column} = ?2 AND id <> ?3"
        ))?;
        let mut update = conn.prepare(&format!(
            "UPDATE {table} SET {key_column} = ?1 WHERE id = ?2"
        ))?;
        for row in rows {
            let Some(key) = row.new_key(kind) else {
                continue;
            };
            let mut holder = held_in_table
                .query_row(params![row.workspace, key, row.id], |r| r.get(0))
                .optional()?
                .map(|id| kind.holder(id));
            if let (None, Some(column)) = (holder, kind.names_column()) {
                holder = conn
                    .query_row(
                        &format!(
                            "SELECT group_id, user_id FROM names \
                             WHERE workspace_id = ?1 AND name_key = ?2 AND {column} IS NOT ?3"
                        ),
                        params![row.workspace, key, row.id],
                        |r| Ok(Holder::of_names_row(r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
            }
            if let Some(holder) = holder {
                out.collide(kind, &row, holder);
                continue;
            }
            update.execute(params![key, row.id])?;
            if let Some(column) = kind.names_column() {
                conn.execute(
                    &format!("UPDATE names SET name_key = ?1 WHERE {column} = ?2"),
                    params![key, row.id],
                )?;
            }
            out.rekeyed += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;

    #[test]
    fn icons_stored_before_tokens_get_distinct_ones() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..7] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO workspaces (id, name, created_at) VALUES (1, 'default', 0);
             INSERT INTO categories (workspace_id, id, name, created_at) VALUES (1, 1, 'U', 0);
             INSERT INTO groups (id, workspace_id, name, category_id, created_at, updated_at)
                 VALUES (4, 1, 'a', 1, 0, 0), (5, 1, 'b', 1, 0, 0);
             INSERT INTO group_icons (group_id, content_type, data)
                 VALUES (4, 'image/png', x'00'), (5, 'image/png', x'01');",
        )
        .unwrap();
        conn.execute_batch(MIGRATIONS[7]).unwrap();
        let tokens: Vec<String> = conn
            .prepare("SELECT token FROM group_icons ORDER BY group_id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(tokens.len(), 2);
        for t in &tokens {
            assert!(crate::domain::group::is_icon_token(t), "{t}");
        }
        assert_ne!(tokens[0], tokens[1]);
    }
}
