//! The SQLite engine: one file, WAL mode, `synchronous=FULL` (a write is on disk
//! before it is acknowledged), one writer thread with group commit (see
//! [`writer`]) and a small pool of read-only connections.

mod changes;
mod migrations;
mod writer;

use super::{
    ApiKeyRecord, GroupQuery, GroupUpdate, IconImage, IdempotencyClaim, NameHolder, NewApiKey,
    NewClaim, NewGroup, NewUser, OnExisting, Store, StoreError, UserUpdate,
};
use crate::domain::category::{Category, DEFAULT_CATEGORY_ID, DEFAULT_CATEGORY_NAME};
use crate::domain::field::{FieldDef, FieldKind, NewFieldDef};
use crate::domain::group::{Builtin, Group, GroupId, GroupRef};
use crate::domain::key::ApiKey;
use crate::domain::policy::GroupPolicy;
use crate::domain::user::{GroupRole, Membership, User, UserId, UserRef};
use crate::domain::workspace::{DEFAULT_WORKSPACE, Workspace, WorkspaceId};
use crate::store::rekey::Scope;
use crate::store::token_cache::TokenCache;
use async_trait::async_trait;
use changes::ChangeMarker;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use writer::Writer;

const MAX_IDLE_READERS: usize = 16;
const MAX_BATCH: usize = 64;
/// Groups kept by `find_group` before its cache starts again from empty.
const GROUP_CACHE_CAPACITY: usize = 4096;
/// A backstop: however the write token behaves, no group is served from memory
/// for longer.
const GROUP_CACHE_MAX_AGE: Duration = Duration::from_secs(5);
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub struct SqliteStore {
    writer: Writer,
    readers: Arc<ReadPool>,
    changes: Arc<ChangeMarker>,
    /// Groups read by id, valid while the write token is unchanged.
    groups: TokenCache<(WorkspaceId, GroupId), Group>,
}

struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

pub(crate) fn map_err(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                StoreError::Unavailable(format!("the database is busy: {e}"))
            }
            ErrorCode::CannotOpen
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure
            | ErrorCode::ReadOnly
            | ErrorCode::PermissionDenied => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Backend(e.to_string()),
        },
        _ => StoreError::Backend(e.to_string()),
    }
}

fn is_unique_violation(e: &rusqlite::Error, needle: &str) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, Some(msg))
        if f.code == rusqlite::ErrorCode::ConstraintViolation
            && msg.contains("UNIQUE") && msg.contains(needle))
}

/// Statements through the connection's prepared-statement cache, so each is
/// parsed once per connection rather than on every call.
pub(crate) trait CachedExt {
    fn exec_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    fn row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;
}

impl CachedExt for Connection {
    fn exec_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Every statement goes through the prepared-statement cache; the default 16
    // entries is fewer than the statements the writer alone cycles through.
    conn.set_prepared_statement_cache_capacity(128);
    // Query planner stability: a plan must not depend on bound values. Without it
    // SQLite marks a statement whose plan could change with a value (`LIMIT ?`, and
    // with STAT4 any indexed comparison) and compiles it again each time that value
    // is bound, so the cached list-page statement was re-parsed on every request.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let conn = Connection::open(path)
            .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(map_err)?;
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .map_err(map_err)?;
        configure(&conn).map_err(map_err)?;
        migrate(&conn)?;
        ensure_builtins(&conn)?;
        let changes = Arc::new(ChangeMarker::open(path).map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot open {}: {e}",
                changes::marker_path(path).display()
            ))
        })?);
        let writer = Writer::start(conn, MAX_BATCH, Arc::clone(&changes))
            .map_err(|e| StoreError::Backend(format!("cannot start the writer: {e}")))?;
        Ok(SqliteStore {
            writer,
            changes,
            groups: TokenCache::new(GROUP_CACHE_CAPACITY, GROUP_CACHE_MAX_AGE),
            readers: Arc::new(ReadPool {
                path: path.to_path_buf(),
                idle: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Runs a read on the calling thread with a pooled read-only connection.
    ///
    /// Reads are short index look-ups (a key, a group, a page of 50). Handing each
    /// to the blocking pool cost more than the query itself: a profile of the
    /// create load showed thread wake-ups as the largest cost. So reads run inline;
    /// WAL mode means they never wait for the writer.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let pool = &self.readers;
        let reused = pool.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match reused {
            Some(c) => c,
            None => open_reader(&pool.path)?,
        };
        let out = f(&conn).map_err(map_err);
        if let Ok(mut idle) = pool.idle.lock() {
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
        }
        out
    }
}

/// Runs several reads in one read transaction: one snapshot, one set of locks.
fn in_snapshot<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached("BEGIN")?.execute([])?;
    let out = f(conn);
    let end = if out.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let ended = conn.exec_cached(end, []);
    let out = out?;
    ended?;
    Ok(out)
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
    configure(&conn).map_err(map_err)?;
    Ok(conn)
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(map_err)?;
    let supported = migrations::MIGRATIONS.len() as i64;
    if version > supported {
        return Err(StoreError::SchemaTooNew {
            found: version,
            supported,
        });
    }
    for (i, sql) in migrations::MIGRATIONS
        .iter()
        .enumerate()
        .skip(version as usize)
    {
        // The write lock from the start: the re-key reads before it writes, and
        // another process (a second server, a command) may be opening the file too.
        let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let now: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(map_err)?;
        if now > i as i64 {
            // That process migrated this far while we waited for the lock.
            continue;
        }
        tx.execute_batch(sql).map_err(map_err)?;
        if i + 1 == migrations::REKEY_VERSION {
            migrations::rekey(&tx, Scope::NonAscii)
                .map_err(map_err)?
                .log(Scope::NonAscii);
        }
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
            .map_err(map_err)?;
        tx.commit().map_err(map_err)?;
    }
    Ok(())
}

fn policy_json(policy: &GroupPolicy) -> Result<String, StoreError> {
    serde_json::to_string(policy).map_err(|e| StoreError::Backend(e.to_string()))
}

fn insert_builtins(conn: &Connection, ws: i64, now: i64) -> Result<(), StoreError> {
    for b in Builtin::ALL {
        let policy = policy_json(&b.policy())?;
        conn.exec_cached(
            "INSERT INTO groups (workspace_id, name, name_key, description, \
                 category_id, secret, policy, builtin, created_at, updated_at) VALUES \
                 (?1, ?2, lower(?2), ?3, ?4, 1, ?5, ?6, ?7, ?7) ON CONFLICT \
                 (workspace_id, builtin) WHERE builtin IS NOT NULL DO NOTHING",
            params![
                ws,
                b.name(),
                b.description(),
                DEFAULT_CATEGORY_ID,
                policy,
                b.as_str(),
                now
            ],
        )
        .map_err(map_err)?;
    }
    Ok(())
}

/// Gives every workspace its built-in groups (workspaces made before they existed).
fn ensure_builtins(conn: &Connection) -> Result<(), StoreError> {
    let missing: Vec<i64> = conn
        .prepare_cached(
            "SELECT id FROM workspaces w WHERE \
             (SELECT COUNT(*) FROM groups g WHERE g.workspace_id = w.id AND g.builtin IS NOT NULL) < 3",
        )
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(map_err)?;
    for ws in missing {
        let tx = conn.unchecked_transaction().map_err(map_err)?;
        insert_builtins(&tx, ws, crate_now())?;
        tx.commit().map_err(map_err)?;
    }
    Ok(())
}

fn crate_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn insert_workspace(conn: &Connection, name: &str, now: i64) -> Result<Workspace, StoreError> {
    conn.exec_cached(
        "INSERT INTO workspaces (name, created_at) VALUES (?1, ?2)",
        params![name, now],
    )
    .map_err(|e| {
        if is_unique_violation(&e, "workspaces.name") {
            StoreError::AlreadyExists(format!("workspace '{name}'"))
        } else {
            map_err(e)
        }
    })?;
    let id = conn.last_insert_rowid();
    conn.exec_cached(
        "INSERT INTO categories (workspace_id, id, name, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, DEFAULT_CATEGORY_ID, DEFAULT_CATEGORY_NAME, now],
    )
    .map_err(map_err)?;
    insert_builtins(conn, id, now)?;
    Ok(Workspace {
        id: WorkspaceId(id),
        name: name.to_string(),
    })
}

fn category_exists(conn: &Connection, ws: WorkspaceId, id: i64) -> rusqlite::Result<bool> {
    conn.row_cached(
        "SELECT 1 FROM categories WHERE workspace_id = ?1 AND id = ?2",
        params![ws.0, id],
        |_| Ok(()),
    )
    .optional()
    .map(|r| r.is_some())
}

fn field_exists(conn: &Connection, ws: WorkspaceId, id: i64) -> rusqlite::Result<bool> {
    conn.row_cached(
        "SELECT 1 FROM field_defs WHERE workspace_id = ?1 AND id = ?2",
        params![ws.0, id],
        |_| Ok(()),
    )
    .optional()
    .map(|r| r.is_some())
}

fn check_references(
    conn: &Connection,
    ws: WorkspaceId,
    category: Option<i64>,
    fields: impl Iterator<Item = i64>,
) -> Result<(), StoreError> {
    if let Some(c) = category {
        if !category_exists(conn, ws, c).map_err(map_err)? {
            return Err(StoreError::UnknownCategory(c));
        }
    }
    for f in fields {
        if !field_exists(conn, ws, f).map_err(map_err)? {
            return Err(StoreError::UnknownField(f));
        }
    }
    Ok(())
}

/// `None` when the group is not in the workspace; else its built-in kind, if any.
fn group_builtin(
    conn: &Connection,
    ws: WorkspaceId,
    id: GroupId,
) -> Result<Option<Option<String>>, StoreError> {
    conn.row_cached(
        "SELECT builtin FROM groups WHERE workspace_id = ?1 AND id = ?2",
        params![ws.0, id.0],
        |r| r.get(0),
    )
    .optional()
    .map_err(map_err)
}

/// Writes the `names` row of a group (its slug key) or a user (their username
/// key), or removes a group's when `key` is `None`. A name another holder has is
/// refused with `taken` (see [`super::NameHolder`]).
fn put_name(
    conn: &Connection,
    ws: WorkspaceId,
    holder: NameHolder,
    key: Option<&str>,
) -> Result<(), StoreError> {
    let (column, id, taken) = match holder {
        NameHolder::Group(g) => ("group_id", g.0, StoreError::SlugTaken),
        NameHolder::User(u) => ("user_id", u.0, StoreError::UsernameTaken),
    };
    let done = match key {
        Some(key) => conn.exec_cached(
            &format!(
                "INSERT INTO names (workspace_id, name_key, {column}) VALUES (?1, ?2, ?3) \
                 ON CONFLICT ({column}) DO UPDATE SET name_key = excluded.name_key"
            ),
            params![ws.0, key, id],
        ),
        None => conn.exec_cached(&format!("DELETE FROM names WHERE {column} = ?1"), [id]),
    };
    done.map(|_| ()).map_err(|e| {
        if is_unique_violation(&e, "names.name_key") {
            taken
        } else {
            map_err(e)
        }
    })
}

fn user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: UserId(r.get(0)?),
        workspace: WorkspaceId(r.get(1)?),
        full_name: r.get(2)?,
        username: r.get(3)?,
        email: r.get(4)?,
        password_hash: r.get(5)?,
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
    })
}

macro_rules! user_columns {
    () => {
        "u.id, u.workspace_id, u.full_name, u.username, u.email, \
     u.password_hash, u.created_at, u.updated_at"
    };
}
const USER_COLUMNS: &str = user_columns!();

fn user_error(e: rusqlite::Error) -> StoreError {
    if is_unique_violation(&e, "username_key") {
        StoreError::UsernameTaken
    } else if is_unique_violation(&e, "email_key") {
        StoreError::EmailTaken
    } else {
        map_err(e)
    }
}

fn parse_role(s: &str) -> GroupRole {
    GroupRole::parse(s).unwrap_or(GroupRole::Member)
}

/// Adds members inside the caller's transaction; see [`Store::add_members`].
fn add_members_in(
    conn: &Connection,
    ws: WorkspaceId,
    group: GroupId,
    users: Vec<UserId>,
    role: Option<GroupRole>,
    on_existing: OnExisting,
    now: i64,
) -> Result<u64, StoreError> {
    let row: Option<(String, i64)> = conn
        .row_cached(
            "SELECT policy, member_count FROM groups WHERE workspace_id = ?1 AND id = ?2",
            params![ws.0, group.0],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(map_err)?;
    let Some((policy, count)) = row else {
        return Err(StoreError::NotFound("group"));
    };
    let policy: GroupPolicy = serde_json::from_str(&policy)
        .map_err(|e| StoreError::Backend(format!("stored policy unreadable: {e}")))?;
    let mut fresh = Vec::new();
    for user in users {
        let exists = conn
            .row_cached(
                "SELECT 1 FROM users WHERE workspace_id = ?1 AND id = ?2",
                params![ws.0, user.0],
                |_| Ok(()),
            )
            .optional()
            .map_err(map_err)?;
        if exists.is_none() {
            return Err(StoreError::UnknownUser(user.0));
        }
        let current: Option<String> = conn
            .row_cached(
                "SELECT role FROM memberships WHERE group_id = ?1 AND user_id = ?2",
                params![group.0, user.0],
                |r| r.get(0),
            )
            .optional()
            .map_err(map_err)?;
        match (current, on_existing) {
            (Some(_), OnExisting::Fail) => return Err(StoreError::AlreadyMember(user.0)),
            (Some(_), OnExisting::Keep) => {
                if let Some(role) = role {
                    conn.exec_cached(
                        "UPDATE memberships SET role = ?3 WHERE group_id = ?1 AND user_id = ?2",
                        params![group.0, user.0, role.as_str()],
                    )
                    .map_err(map_err)?;
                }
            }
            (None, _) => {
                if !fresh.contains(&user) {
                    fresh.push(user);
                }
            }
        }
    }
    if let Err((limit, room)) = policy.room_for(count, fresh.len()) {
        return Err(StoreError::GroupFull { limit, room });
    }
    let role = role.unwrap_or(GroupRole::Member);
    for user in &fresh {
        conn.exec_cached(
            "INSERT INTO memberships (group_id, user_id, role, joined_at) VALUES (?1, ?2, ?3, ?4)",
            params![group.0, user.0, role.as_str(), now],
        )
        .map_err(map_err)?;
    }
    if !fresh.is_empty() {
        conn.exec_cached(
            "UPDATE groups SET member_count = member_count + ?2 WHERE id = ?1",
            params![group.0, fresh.len() as i64],
        )
        .map_err(map_err)?;
    }
    Ok(fresh.len() as u64)
}

fn slug_error(e: rusqlite::Error) -> StoreError {
    if is_unique_violation(&e, "slug_key") {
        StoreError::SlugTaken
    } else {
        map_err(e)
    }
}

macro_rules! group_columns {
    () => {
        "g.id, g.workspace_id, g.name, g.slug, g.description, g.category_id, \
     g.secret, g.unleavable, g.pinned, g.password_hash, g.created_at, g.updated_at, \
     (SELECT i.token FROM group_icons i WHERE i.group_id = g.id), g.policy, g.builtin, \
     g.member_count, \
     (SELECT json_group_object(v.field_id, v.value) FROM group_field_values v WHERE v.group_id = g.id)"
    };
}
const GROUP_COLUMNS: &str = group_columns!();

fn group_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Group> {
    let policy: String = r.get(13)?;
    let builtin: Option<String> = r.get(14)?;
    let policy: GroupPolicy = serde_json::from_str(&policy).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(13, rusqlite::types::Type::Text, e.into())
    })?;
    Ok(Group {
        policy,
        builtin: builtin.as_deref().and_then(Builtin::parse),
        member_count: r.get(15)?,
        id: GroupId(r.get(0)?),
        workspace: WorkspaceId(r.get(1)?),
        name: r.get(2)?,
        slug: r.get(3)?,
        description: r.get(4)?,
        category_id: r.get(5)?,
        secret: r.get(6)?,
        unleavable: r.get(7)?,
        pinned: r.get(8)?,
        password_hash: r.get(9)?,
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
        icon_token: r.get(12)?,
        custom_fields: custom_fields_from(r, 16)?,
    })
}

fn custom_fields_from(
    r: &rusqlite::Row<'_>,
    col: usize,
) -> rusqlite::Result<BTreeMap<i64, String>> {
    let json: Option<String> = r.get(col)?;
    super::custom_fields_from_json(json.as_deref()).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, e.into())
    })
}

fn field_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FieldDef> {
    let kind: String = r.get(2)?;
    let options: String = r.get(3)?;
    let bad = |msg: String| {
        rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, msg.into())
    };
    Ok(FieldDef {
        id: r.get(0)?,
        name: r.get(1)?,
        kind: kind.parse::<FieldKind>().map_err(bad)?,
        options: serde_json::from_str(&options).map_err(|e| bad(e.to_string()))?,
    })
}

fn put_icon(conn: &Connection, id: i64, icon: &Option<IconImage>) -> rusqlite::Result<()> {
    match icon {
        Some(icon) => conn.exec_cached(
            "INSERT INTO group_icons (group_id, content_type, data, token) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (group_id) DO UPDATE SET content_type = excluded.content_type, \
             data = excluded.data, token = excluded.token",
            params![id, icon.content_type, icon.data, icon.token],
        )?,
        None => conn.exec_cached("DELETE FROM group_icons WHERE group_id = ?1", [id])?,
    };
    Ok(())
}

fn put_field_value(
    conn: &Connection,
    ws: WorkspaceId,
    group: i64,
    field: i64,
    value: &Option<String>,
) -> rusqlite::Result<()> {
    match value {
        Some(v) => conn.exec_cached(
            "INSERT INTO group_field_values (group_id, workspace_id, field_id, value) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (group_id, field_id) \
             DO UPDATE SET value = excluded.value",
            params![group, ws.0, field, v],
        )?,
        None => conn.exec_cached(
            "DELETE FROM group_field_values WHERE group_id = ?1 AND field_id = ?2",
            params![group, field],
        )?,
    };
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn bootstrap(&self, now: i64) -> Result<Option<Workspace>, StoreError> {
        self.writer
            .write(move |conn| {
                let any: Option<i64> = conn
                    .row_cached("SELECT id FROM workspaces LIMIT 1", [], |r| r.get(0))
                    .optional()
                    .map_err(map_err)?;
                match any {
                    Some(_) => Ok(None),
                    None => insert_workspace(conn, DEFAULT_WORKSPACE, now).map(Some),
                }
            })
            .await
    }

    async fn create_workspace(&self, name: &str, now: i64) -> Result<Workspace, StoreError> {
        let name = name.to_string();
        self.writer
            .write(move |conn| insert_workspace(conn, &name, now))
            .await
    }

    async fn list_workspaces(&self) -> Result<Vec<Workspace>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached("SELECT id, name FROM workspaces ORDER BY id")?;
            let rows = stmt.query_map([], |r| {
                Ok(Workspace {
                    id: WorkspaceId(r.get(0)?),
                    name: r.get(1)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn find_workspace(&self, name: &str) -> Result<Option<Workspace>, StoreError> {
        let name = name.to_string();
        self.read(move |conn| {
            conn.row_cached(
                "SELECT id, name FROM workspaces WHERE name = ?1",
                [&name],
                |r| {
                    Ok(Workspace {
                        id: WorkspaceId(r.get(0)?),
                        name: r.get(1)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    async fn insert_api_key(&self, ws: WorkspaceId, key: NewApiKey) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| {
                conn.exec_cached(
                    "INSERT INTO api_keys (prefix, workspace_id, hash, label, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![key.prefix, ws.0, key.hash, key.label, key.now],
                )
                .map_err(|e| {
                    if is_unique_violation(&e, "api_keys.prefix") {
                        StoreError::AlreadyExists("key prefix".into())
                    } else {
                        map_err(e)
                    }
                })?;
                Ok(())
            })
            .await
    }

    async fn find_api_key(&self, prefix: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let prefix = prefix.to_string();
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT workspace_id, hash, revoked_at IS NOT NULL FROM api_keys WHERE prefix = ?1",
            )?
            .query_row([&prefix], |r| {
                Ok(ApiKeyRecord {
                    workspace: WorkspaceId(r.get(0)?),
                    hash: r.get(1)?,
                    revoked: r.get(2)?,
                })
            })
            .optional()
        })
        .await
    }

    async fn list_api_keys(&self, ws: Option<WorkspaceId>) -> Result<Vec<ApiKey>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT k.prefix, w.name, k.label, k.created_at, k.revoked_at \
                 FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id \
                 WHERE ?1 IS NULL OR k.workspace_id = ?1 ORDER BY k.created_at, k.prefix",
            )?;
            let rows = stmt.query_map([ws.map(|w| w.0)], |r| {
                Ok(ApiKey {
                    prefix: r.get(0)?,
                    workspace: r.get(1)?,
                    label: r.get(2)?,
                    created_at: r.get(3)?,
                    revoked_at: r.get(4)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn revoke_api_key(&self, prefix: &str, now: i64) -> Result<(), StoreError> {
        let prefix = prefix.to_string();
        self.writer
            .write(move |conn| {
                let n = conn
                    .exec_cached(
                        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE prefix = \
                             ?1",
                        params![prefix, now],
                    )
                    .map_err(map_err)?;
                if n == 0 {
                    return Err(StoreError::NotFound("key"));
                }
                Ok(())
            })
            .await?;
        // Committed; now tell every process's key cache (see `changes`).
        self.changes.mark_revocation().map_err(|e| {
            StoreError::Unavailable(format!(
                "the key is revoked, but running servers may accept it for a few seconds: \
                 cannot write {}: {e}",
                self.changes.path().display()
            ))
        })
    }

    fn key_revocations(&self) -> Option<u64> {
        self.changes.revocation_token()
    }

    async fn create_category(
        &self,
        ws: WorkspaceId,
        name: &str,
        now: i64,
    ) -> Result<Category, StoreError> {
        let name = name.to_string();
        self.writer
            .write(move |conn| {
                let id: i64 = conn
                    .row_cached(
                        "UPDATE workspaces SET next_category_id = next_category_id + 1 \
                         WHERE id = ?1 RETURNING next_category_id - 1",
                        [ws.0],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(map_err)?
                    .ok_or(StoreError::NotFound("workspace"))?;
                conn.exec_cached(
                    "INSERT INTO categories (workspace_id, id, name, created_at) VALUES (?1, \
                         ?2, ?3, ?4)",
                    params![ws.0, id, name, now],
                )
                .map_err(map_err)?;
                Ok(Category { id, name })
            })
            .await
    }

    async fn list_categories(&self, ws: WorkspaceId) -> Result<Vec<Category>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, name FROM categories WHERE workspace_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([ws.0], |r| {
                Ok(Category {
                    id: r.get(0)?,
                    name: r.get(1)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn rename_category(
        &self,
        ws: WorkspaceId,
        id: i64,
        name: &str,
    ) -> Result<(), StoreError> {
        let name = name.to_string();
        self.writer
            .write(move |conn| {
                let n = conn
                    .exec_cached(
                        "UPDATE categories SET name = ?3 WHERE workspace_id = ?1 AND id = ?2",
                        params![ws.0, id, name],
                    )
                    .map_err(map_err)?;
                if n == 0 {
                    return Err(StoreError::UnknownCategory(id));
                }
                Ok(())
            })
            .await
    }

    async fn delete_category(&self, ws: WorkspaceId, id: i64) -> Result<u64, StoreError> {
        if id == DEFAULT_CATEGORY_ID {
            return Err(StoreError::Refused(format!(
                "category {DEFAULT_CATEGORY_ID} ({DEFAULT_CATEGORY_NAME}) always exists"
            )));
        }
        self.writer
            .write(move |conn| {
                if !category_exists(conn, ws, id).map_err(map_err)? {
                    return Err(StoreError::UnknownCategory(id));
                }
                let moved = conn
                    .exec_cached(
                        "UPDATE groups SET category_id = ?3 WHERE workspace_id = ?1 AND \
                             category_id = ?2",
                        params![ws.0, id, DEFAULT_CATEGORY_ID],
                    )
                    .map_err(map_err)?;
                conn.exec_cached(
                    "DELETE FROM categories WHERE workspace_id = ?1 AND id = ?2",
                    params![ws.0, id],
                )
                .map_err(map_err)?;
                Ok(moved as u64)
            })
            .await
    }

    async fn create_field(
        &self,
        ws: WorkspaceId,
        def: NewFieldDef,
        now: i64,
    ) -> Result<FieldDef, StoreError> {
        self.writer
            .write(move |conn| {
                let next: i64 = conn
                    .row_cached(
                        "SELECT next_field_id FROM workspaces WHERE id = ?1",
                        [ws.0],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(map_err)?
                    .ok_or(StoreError::NotFound("workspace"))?;
                let id = def.id.unwrap_or(next);
                if field_exists(conn, ws, id).map_err(map_err)? {
                    return Err(StoreError::AlreadyExists(format!("custom field {id}")));
                }
                conn.exec_cached(
                    "UPDATE workspaces SET next_field_id = MAX(next_field_id, ?2 + 1) WHERE \
                         id = ?1",
                    params![ws.0, id],
                )
                .map_err(map_err)?;
                let options = serde_json::to_string(&def.options)
                    .map_err(|e| StoreError::Backend(e.to_string()))?;
                conn.exec_cached(
                    "INSERT INTO field_defs (workspace_id, id, name, kind, options, \
                         created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![ws.0, id, def.name, def.kind.as_str(), options, now],
                )
                .map_err(map_err)?;
                Ok(FieldDef {
                    id,
                    name: def.name,
                    kind: def.kind,
                    options: def.options,
                })
            })
            .await
    }

    async fn list_fields(&self, ws: WorkspaceId) -> Result<Vec<FieldDef>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, name, kind, options FROM field_defs WHERE workspace_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([ws.0], field_from_row)?;
            rows.collect()
        })
        .await
    }

    async fn delete_field(&self, ws: WorkspaceId, id: i64) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| {
                let n = conn
                    .exec_cached(
                        "DELETE FROM field_defs WHERE workspace_id = ?1 AND id = ?2",
                        params![ws.0, id],
                    )
                    .map_err(map_err)?;
                if n == 0 {
                    return Err(StoreError::UnknownField(id));
                }
                Ok(())
            })
            .await
    }

    async fn insert_group(&self, ws: WorkspaceId, g: NewGroup) -> Result<GroupId, StoreError> {
        self.writer
            .write(move |conn| {
                check_references(
                    conn,
                    ws,
                    Some(g.category_id),
                    g.custom_fields.iter().map(|(f, _)| *f),
                )?;
                let policy = policy_json(&g.policy)?;
                conn.exec_cached(
                    "INSERT INTO groups (workspace_id, name, slug, slug_key, description, \
                         category_id, secret, unleavable, pinned, password_hash, created_at, \
                         updated_at, policy, name_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, \
                         ?9, ?10, ?11, ?11, ?12, ?13)",
                    params![
                        ws.0,
                        g.name,
                        g.slug.as_ref().map(|s| s.as_str()),
                        g.slug.as_ref().map(|s| s.key()),
                        g.description,
                        g.category_id,
                        g.secret,
                        g.unleavable,
                        g.pinned,
                        g.password_hash,
                        g.now,
                        policy,
                        g.name.to_lowercase(),
                    ],
                )
                .map_err(slug_error)?;
                let id = conn.last_insert_rowid();
                if let Some(slug) = &g.slug {
                    put_name(conn, ws, NameHolder::Group(GroupId(id)), Some(slug.key()))?;
                }
                for (field, value) in &g.custom_fields {
                    put_field_value(conn, ws, id, *field, &Some(value.clone())).map_err(map_err)?;
                }
                if g.icon.is_some() {
                    put_icon(conn, id, &g.icon).map_err(map_err)?;
                }
                Ok(GroupId(id))
            })
            .await
    }

    async fn update_group(
        &self,
        ws: WorkspaceId,
        id: GroupId,
        u: GroupUpdate,
    ) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| {
                let exists = conn
                    .row_cached(
                        "SELECT 1 FROM groups WHERE workspace_id = ?1 AND id = ?2",
                        params![ws.0, id.0],
                        |_| Ok(()),
                    )
                    .optional()
                    .map_err(map_err)?
                    .is_some();
                if !exists {
                    return Err(StoreError::NotFound("group"));
                }
                check_references(
                    conn,
                    ws,
                    u.category_id,
                    u.custom_fields.iter().map(|(f, _)| *f),
                )?;
                let policy = if u.policy.is_empty() {
                    None
                } else {
                    let current: String = conn
                        .row_cached("SELECT policy FROM groups WHERE id = ?1", [id.0], |r| {
                            r.get(0)
                        })
                        .map_err(map_err)?;
                    let mut policy: GroupPolicy = serde_json::from_str(&current).map_err(|e| {
                        StoreError::Backend(format!("stored policy unreadable: {e}"))
                    })?;
                    policy.apply(&u.policy);
                    Some(policy_json(&policy)?)
                };
                let (slug_set, slug, slug_key) = match &u.slug {
                    None => (false, None, None),
                    Some(s) => (
                        true,
                        s.as_ref().map(|s| s.as_str().to_string()),
                        s.as_ref().map(|s| s.key().to_string()),
                    ),
                };
                if let Some(slug) = &u.slug {
                    let key = slug.as_ref().map(|s| s.key());
                    put_name(conn, ws, NameHolder::Group(id), key)?;
                }
                let (pw_set, pw) = match &u.password_hash {
                    None => (false, None),
                    Some(p) => (true, p.clone()),
                };
                conn.exec_cached(
                    "UPDATE groups SET \
                       name = COALESCE(?3, name), \
                       name_key = COALESCE(?16, name_key), \
                       slug = CASE WHEN ?4 THEN ?5 ELSE slug END, \
                       slug_key = CASE WHEN ?4 THEN ?6 ELSE slug_key END, \
                       description = COALESCE(?7, description), \
                       category_id = COALESCE(?8, category_id), \
                       secret = COALESCE(?9, secret), \
                       unleavable = COALESCE(?10, unleavable), \
                       pinned = COALESCE(?11, pinned), \
                       password_hash = CASE WHEN ?12 THEN ?13 ELSE password_hash END, \
                       updated_at = ?14, \
                       policy = COALESCE(?15, policy) \
                     WHERE workspace_id = ?1 AND id = ?2",
                    params![
                        ws.0,
                        id.0,
                        u.name,
                        slug_set,
                        slug,
                        slug_key,
                        u.description,
                        u.category_id,
                        u.secret,
                        u.unleavable,
                        u.pinned,
                        pw_set,
                        pw,
                        u.now,
                        policy,
                        u.name.as_ref().map(|n| n.to_lowercase()),
                    ],
                )
                .map_err(slug_error)?;
                for (field, value) in &u.custom_fields {
                    put_field_value(conn, ws, id.0, *field, value).map_err(map_err)?;
                }
                if let Some(icon) = &u.icon {
                    put_icon(conn, id.0, icon).map_err(map_err)?;
                }
                Ok(())
            })
            .await
    }

    async fn delete_groups(
        &self,
        ws: WorkspaceId,
        ids: &[GroupId],
        successor: Option<GroupId>,
    ) -> Result<(), StoreError> {
        let ids = ids.to_vec();
        self.writer
            .write(move |conn| {
                if let Some(alt) = successor {
                    if ids.contains(&alt) {
                        return Err(StoreError::Refused(format!(
                            "group {} cannot take over from itself",
                            alt.0
                        )));
                    }
                    if group_builtin(conn, ws, alt)?.is_none() {
                        return Err(StoreError::NotFound("group"));
                    }
                }
                for id in &ids {
                    match group_builtin(conn, ws, *id)? {
                        None => return Err(StoreError::NotFound("group")),
                        Some(Some(_)) => return Err(StoreError::BuiltinGroup(id.0)),
                        Some(None) => {}
                    }
                    if let Some(alt) = successor {
                        let movers: Vec<i64> = conn
                            .prepare_cached(
                                "SELECT user_id FROM memberships WHERE group_id = ?1 AND user_id NOT IN \
                                 (SELECT user_id FROM memberships WHERE group_id = ?2) ORDER BY user_id",
                            )
                            .and_then(|mut st| {
                                st.query_map(params![id.0, alt.0], |r| r.get(0))?.collect()
                            })
                            .map_err(map_err)?;
                        let users = movers.into_iter().map(UserId).collect();
                        add_members_in(conn, ws, alt, users, None, OnExisting::Keep, crate_now())?;
                    }
                    conn.exec_cached(
                        "DELETE FROM groups WHERE workspace_id = ?1 AND id = ?2",
                        params![ws.0, id.0],
                    )
                    .map_err(map_err)?;
                }
                Ok(())
            })
            .await
    }

    async fn find_group(
        &self,
        ws: WorkspaceId,
        by: &GroupRef,
    ) -> Result<Option<Group>, StoreError> {
        // A group read by id is kept until the next write from any process (see
        // `changes`): a GET then skips SQLite's read lock, which cost as much as
        // the look-up itself. Slugs go to the database every time.
        let cached = match by {
            GroupRef::Id(id) => self.changes.write_token().map(|t| (t, (ws, *id))),
            GroupRef::Slug(_) => None,
        };
        if let Some((t, key)) = &cached {
            if let Some(g) = self.groups.get(key, *t) {
                return Ok(Some(Group::clone(&g)));
            }
        }
        let (sql, value): (&str, rusqlite::types::Value) = match by {
            GroupRef::Id(id) => (
                concat!(
                    "SELECT ",
                    group_columns!(),
                    " FROM groups g WHERE g.workspace_id = ?1 AND g.id = ?2"
                ),
                id.0.into(),
            ),
            GroupRef::Slug(key) => (
                concat!(
                    "SELECT ",
                    group_columns!(),
                    " FROM groups g WHERE g.workspace_id = ?1 AND g.slug_key = ?2"
                ),
                key.clone().into(),
            ),
        };
        let found = self
            .read(move |conn| {
                conn.prepare_cached(sql)?
                    .query_row(params![ws.0, value], group_from_row)
                    .optional()
            })
            .await?;
        if let (Some((t, key)), Some(g)) = (cached, &found) {
            self.groups.put(key, &Arc::new(g.clone()), t);
        }
        Ok(found)
    }

    async fn name_taken(
        &self,
        ws: WorkspaceId,
        key: &str,
        except: Option<NameHolder>,
    ) -> Result<bool, StoreError> {
        let key = key.to_string();
        let (group, user) = match except {
            Some(NameHolder::Group(g)) => (Some(g.0), None),
            Some(NameHolder::User(u)) => (None, Some(u.0)),
            None => (None, None),
        };
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT 1 FROM names WHERE workspace_id = ?1 AND name_key = ?2 \
                 AND (?3 IS NULL OR group_id IS NOT ?3) AND (?4 IS NULL OR user_id IS NOT ?4)",
            )?
            .query_row(params![ws.0, key, group, user], |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
        })
        .await
    }

    async fn list_groups(
        &self,
        ws: WorkspaceId,
        after: Option<GroupId>,
        limit: u32,
    ) -> Result<Vec<Group>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(concat!(
                "SELECT ",
                group_columns!(),
                " FROM groups g WHERE g.workspace_id = ?1 AND g.id > ?2 \
                 ORDER BY g.id LIMIT ?3"
            ))?;
            stmt.query_map(
                params![ws.0, after.map_or(0, |g| g.0), limit],
                group_from_row,
            )?
            .collect::<rusqlite::Result<Vec<Group>>>()
        })
        .await
    }

    async fn icon_by_token(&self, token: &str) -> Result<Option<IconImage>, StoreError> {
        let token = token.to_string();
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT content_type, data, token FROM group_icons WHERE token = ?1",
            )?
            .query_row([token], |r| {
                Ok(IconImage {
                    content_type: r.get(0)?,
                    data: r.get(1)?,
                    token: r.get(2)?,
                })
            })
            .optional()
        })
        .await
    }

    async fn query_groups(
        &self,
        ws: WorkspaceId,
        q: &GroupQuery,
    ) -> Result<Vec<Group>, StoreError> {
        let q = q.clone();
        // Pinned groups and the rest are two statements; one read transaction makes
        // them one snapshot (and takes SQLite's locks once, not twice).
        self.read(move |conn| {
            in_snapshot(conn, |conn| {
                let mut filters = String::new();
                if q.category.is_some() {
                    filters.push_str(" AND g.category_id = :category");
                }
                if q.name_prefix.is_some() {
                    filters.push_str(" AND g.name_key >= :prefix AND g.name_key < :prefix_end");
                }
                if q.secret.is_some() {
                    filters.push_str(" AND g.secret = :secret");
                }
                if q.visible_to.is_some() {
                    filters.push_str(
                        " AND (g.secret = 0 OR EXISTS (SELECT 1 FROM memberships m \
                     WHERE m.group_id = g.id AND m.user_id = :viewer))",
                    );
                }
                // Name the index: with ORDER BY id and a LIMIT, SQLite's planner may
                // walk the whole table in id order hoping to meet 50 matches soon,
                // and a part with no matches (no pinned groups) then reads all of
                // it: 1M groups made a page take 100 ms. Each index below is one
                // range in id order for its filter.
                let index = if q.category.is_some() {
                    "groups_list_category"
                } else if q.secret.is_some() {
                    "groups_list_secret"
                } else {
                    "groups_list"
                };
                let sql = format!(
                    "SELECT {GROUP_COLUMNS} FROM groups g INDEXED BY {index} WHERE g.workspace_id = :ws \
                 AND g.pinned = :pinned AND g.id > :after{filters} ORDER BY g.id LIMIT :limit"
                );
                let mut stmt = conn.prepare_cached(&sql)?;
                let prefix_end = q.name_prefix.as_ref().map(|p| format!("{p}\u{10FFFF}"));
                let mut out = Vec::new();
                for (pinned, after) in q.parts() {
                    let want = i64::from(q.limit) - out.len() as i64;
                    if want <= 0 {
                        break;
                    }
                    let mut named: Vec<(&str, &dyn rusqlite::ToSql)> = vec![
                        (":ws", &ws.0),
                        (":pinned", &pinned),
                        (":after", &after),
                        (":limit", &want),
                    ];
                    if let Some(c) = &q.category {
                        named.push((":category", c));
                    }
                    if let (Some(p), Some(e)) = (&q.name_prefix, &prefix_end) {
                        named.push((":prefix", p));
                        named.push((":prefix_end", e));
                    }
                    if let Some(sec) = &q.secret {
                        named.push((":secret", sec));
                    }
                    if let Some(v) = &q.visible_to {
                        named.push((":viewer", &v.0));
                    }
                    let rows = stmt.query_map(named.as_slice(), group_from_row)?;
                    for g in rows {
                        out.push(g?);
                    }
                }
                Ok(out)
            })
        })
        .await
    }

    async fn insert_user(&self, ws: WorkspaceId, u: NewUser) -> Result<UserId, StoreError> {
        self.writer
            .write(move |conn| {
                conn.exec_cached(
                    "INSERT INTO users (workspace_id, full_name, username, username_key, email, \
                     email_key, password_hash, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                    params![
                        ws.0,
                        u.full_name,
                        u.username.0,
                        u.username.1,
                        u.email.0,
                        u.email.1,
                        u.password_hash,
                        u.now
                    ],
                )
                .map_err(user_error)?;
                let id = UserId(conn.last_insert_rowid());
                put_name(conn, ws, NameHolder::User(id), Some(&u.username.1))?;
                Ok(id)
            })
            .await
    }

    async fn update_user(
        &self,
        ws: WorkspaceId,
        id: UserId,
        u: UserUpdate,
    ) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| {
                let n = conn
                    .exec_cached(
                        "UPDATE users SET full_name = COALESCE(?3, full_name), \
                         username = COALESCE(?4, username), \
                         username_key = COALESCE(?5, username_key), \
                         email = COALESCE(?6, email), email_key = COALESCE(?7, email_key), \
                         password_hash = COALESCE(?8, password_hash), updated_at = ?9 \
                         WHERE workspace_id = ?1 AND id = ?2",
                        params![
                            ws.0,
                            id.0,
                            u.full_name,
                            u.username.as_ref().map(|x| &x.0),
                            u.username.as_ref().map(|x| &x.1),
                            u.email.as_ref().map(|x| &x.0),
                            u.email.as_ref().map(|x| &x.1),
                            u.password_hash,
                            u.now
                        ],
                    )
                    .map_err(user_error)?;
                if n == 0 {
                    return Err(StoreError::NotFound("user"));
                }
                if let Some((_, key)) = &u.username {
                    put_name(conn, ws, NameHolder::User(id), Some(key))?;
                }
                Ok(())
            })
            .await
    }

    async fn delete_user(&self, ws: WorkspaceId, id: UserId) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| {
                conn.exec_cached(
                    "UPDATE groups SET member_count = member_count - 1 WHERE id IN \
                         (SELECT m.group_id FROM memberships m JOIN users u ON u.id = m.user_id \
                          WHERE m.user_id = ?2 AND u.workspace_id = ?1)",
                    params![ws.0, id.0],
                )
                .map_err(map_err)?;
                let n = conn
                    .exec_cached(
                        "DELETE FROM users WHERE workspace_id = ?1 AND id = ?2",
                        params![ws.0, id.0],
                    )
                    .map_err(map_err)?;
                if n == 0 {
                    return Err(StoreError::NotFound("user"));
                }
                Ok(())
            })
            .await
    }

    async fn find_user(&self, ws: WorkspaceId, by: &UserRef) -> Result<Option<User>, StoreError> {
        let by = by.clone();
        self.read(move |conn| {
            let (column, value): (&str, rusqlite::types::Value) = match &by {
                UserRef::Id(id) => ("id", id.0.into()),
                UserRef::Username(k) => ("username_key", k.clone().into()),
                UserRef::Email(k) => ("email_key", k.clone().into()),
            };
            conn.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users u WHERE u.workspace_id = ?1 AND u.{column} = ?2"
            ))?
            .query_row(params![ws.0, value], user_from_row)
            .optional()
        })
        .await
    }

    async fn list_users(
        &self,
        ws: WorkspaceId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError> {
        self.read(move |conn| {
            conn.prepare_cached(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users u WHERE u.workspace_id = ?1 AND u.id > ?2 \
                 ORDER BY u.id LIMIT ?3"
            ))?
            .query_map(
                params![ws.0, after.map_or(0, |u| u.0), limit],
                user_from_row,
            )?
            .collect()
        })
        .await
    }

    async fn add_members(
        &self,
        ws: WorkspaceId,
        group: GroupId,
        users: Vec<UserId>,
        role: Option<GroupRole>,
        on_existing: OnExisting,
        now: i64,
    ) -> Result<u64, StoreError> {
        self.writer
            .write(move |conn| add_members_in(conn, ws, group, users, role, on_existing, now))
            .await
    }

    async fn remove_members(
        &self,
        ws: WorkspaceId,
        group: GroupId,
        users: Vec<UserId>,
        require_member: bool,
    ) -> Result<u64, StoreError> {
        self.writer
            .write(move |conn| {
                if group_builtin(conn, ws, group)?.is_none() {
                    return Err(StoreError::NotFound("group"));
                }
                let mut removed = 0u64;
                for user in users {
                    let n = conn
                        .exec_cached(
                            "DELETE FROM memberships WHERE group_id = ?1 AND user_id = ?2",
                            params![group.0, user.0],
                        )
                        .map_err(map_err)?;
                    if n == 0 && require_member {
                        return Err(StoreError::NotAMember(user.0));
                    }
                    removed += n as u64;
                }
                if removed > 0 {
                    conn.exec_cached(
                        "UPDATE groups SET member_count = member_count - ?2 WHERE id = ?1",
                        params![group.0, removed as i64],
                    )
                    .map_err(map_err)?;
                }
                Ok(removed)
            })
            .await
    }

    async fn list_members(
        &self,
        ws: WorkspaceId,
        group: GroupId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<Membership>, StoreError> {
        self.read(move |conn| {
            conn.prepare_cached(concat!(
                "SELECT ",
                user_columns!(),
                ", m.role, m.joined_at FROM memberships m \
                 JOIN users u ON u.id = m.user_id \
                 WHERE m.group_id = ?1 AND u.workspace_id = ?2 AND m.user_id > ?3 \
                 ORDER BY m.user_id LIMIT ?4"
            ))?
            .query_map(
                params![group.0, ws.0, after.map_or(0, |u| u.0), limit],
                |r| {
                    Ok(Membership {
                        user: user_from_row(r)?,
                        role: parse_role(&r.get::<_, String>(8)?),
                        joined_at: r.get(9)?,
                    })
                },
            )?
            .collect()
        })
        .await
    }

    async fn member_roles(
        &self,
        ws: WorkspaceId,
        user: UserId,
        groups: &[GroupId],
    ) -> Result<BTreeMap<GroupId, GroupRole>, StoreError> {
        // The ids go in as one JSON array so the statement is the same for any count.
        let ids = serde_json::to_string(&groups.iter().map(|g| g.0).collect::<Vec<_>>())
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT m.group_id, m.role FROM memberships m JOIN groups g ON g.id = m.group_id \
                 WHERE m.user_id = ?1 AND g.workspace_id = ?2 \
                 AND m.group_id IN (SELECT value FROM json_each(?3))",
            )?
            .query_map(params![user.0, ws.0, ids], |r| {
                Ok((GroupId(r.get(0)?), parse_role(&r.get::<_, String>(1)?)))
            })?
            .collect()
        })
        .await
    }

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
                Ok(match (status, body) {
                    (Some(status), Some(body)) => IdempotencyClaim::Done {
                        request_hash,
                        status,
                        body,
                    },
                    _ => IdempotencyClaim::InProgress { request_hash },
                })
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

    async fn export(&self, ws: Option<WorkspaceId>) -> Result<Vec<String>, StoreError> {
        use super::dump::{Cell, ColType, TABLES, header_line, row_line};
        self.read(move |conn| {
            let mut out = vec![header_line()];
            for table in TABLES {
                let mut stmt = conn.prepare_cached(&table.select_sql(ws.map(|w| w.0)))?;
                let mut rows = stmt.query([])?;
                while let Some(r) = rows.next()? {
                    let mut cells = Vec::with_capacity(table.columns.len());
                    for (i, (_, ty)) in table.columns.iter().enumerate() {
                        cells.push(match ty {
                            ColType::Int => Cell::Int(r.get(i)?),
                            ColType::Text => Cell::Text(r.get(i)?),
                            ColType::Bool => Cell::Bool(r.get(i)?),
                            ColType::Bytes => Cell::Bytes(r.get(i)?),
                            ColType::OptInt => {
                                r.get::<_, Option<i64>>(i)?.map_or(Cell::Null, Cell::Int)
                            }
                            ColType::OptText => r
                                .get::<_, Option<String>>(i)?
                                .map_or(Cell::Null, Cell::Text),
                        });
                    }
                    out.push(row_line(table, &cells));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn import(&self, text: String) -> Result<u64, StoreError> {
        use super::dump::{Cell, parse};
        let batches = parse(&text)?;
        self.writer
            .write(move |conn| {
                let existing: i64 = conn
                    .row_cached("SELECT COUNT(*) FROM workspaces", [], |r| r.get(0))
                    .map_err(map_err)?;
                if existing > 0 {
                    return Err(StoreError::Refused(
                        "import needs an empty database: this one already has workspaces".into(),
                    ));
                }
                let mut n = 0u64;
                for (table, rows) in &batches {
                    let cols = table.column_names();
                    let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
                    let sql = format!(
                        "INSERT INTO {} ({}) VALUES ({})",
                        table.name,
                        cols.join(", "),
                        marks.join(", ")
                    );
                    let mut stmt = conn.prepare_cached(&sql).map_err(map_err)?;
                    for cells in rows {
                        let values: Vec<rusqlite::types::Value> = cells
                            .iter()
                            .map(|c| match c {
                                Cell::Null => rusqlite::types::Value::Null,
                                Cell::Int(v) => rusqlite::types::Value::Integer(*v),
                                Cell::Text(v) => rusqlite::types::Value::Text(v.clone()),
                                Cell::Bool(v) => rusqlite::types::Value::Integer(i64::from(*v)),
                                Cell::Bytes(v) => rusqlite::types::Value::Blob(v.clone()),
                            })
                            .collect();
                        stmt.execute(rusqlite::params_from_iter(values))
                            .map_err(|e| {
                                StoreError::Refused(format!(
                                    "a {} row cannot be loaded: {e}",
                                    table.name
                                ))
                            })?;
                        n += 1;
                    }
                }
                // The names slugs and usernames hold are derived, not exported.
                conn.execute_batch(migrations::NAMES_BACKFILL)
                    .map_err(map_err)?;
                // Exports made before icons had tokens carry none.
                conn.execute_batch(migrations::FILL_ICON_TOKENS)
                    .map_err(map_err)?;
                // Keys come from the file, perhaps from before they were normalised.
                migrations::rekey(conn, Scope::All)
                    .map_err(map_err)?
                    .log(Scope::All);
                Ok(n)
            })
            .await
    }
}
