//! The SQLite engine: one file, WAL mode, `synchronous=FULL` (a write is on disk
//! before it is acknowledged), one writer thread with group commit (see
//! [`writer`]) and a small pool of read-only connections.

mod changes;
mod migrations;
mod writer;

use super::{
    ApiKeyRecord, CategoryStore, DumpStore, Entity, FieldStore, GroupQuery, GroupStore,
    GroupUpdate, IconImage, IdempotencyClaim, IdempotencyStore, KeyStore, MemberStore, NameHolder,
    NewApiKey, NewClaim, NewGroup, NewUser, SessionStore, StoreError, UserStore, UserUpdate,
    WorkspaceCounts, WorkspaceStore,
};
use crate::domain::category::{Category, DEFAULT_CATEGORY_ID, DEFAULT_CATEGORY_NAME};
use crate::domain::field::{FieldDef, FieldKind, NewFieldDef};
use crate::domain::group::{Builtin, Group, GroupId, GroupRef};
use crate::domain::key::ApiKey;
use crate::domain::membership::OnExisting;
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
// Group row helpers other aggregates' files use too (names for users, the row
// read for members, the built-ins for a new workspace).
use group_values::{ensure_builtins, insert_builtins, put_name};
use groups::group_builtin;

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
    /// What the identifier re-key did when this open migrated (empty otherwise).
    rekey_report: crate::store::rekey::Outcome,
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
        let rekey_report = migrate(&conn)?;
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
            rekey_report,
            writer,
            changes,
            groups: TokenCache::new(GROUP_CACHE_CAPACITY, GROUP_CACHE_MAX_AGE),
            readers: Arc::new(ReadPool {
                path: path.to_path_buf(),
                idle: Mutex::new(Vec::new()),
            }),
        })
    }

    /// What the identifier re-key did at this open (nothing unless it migrated).
    pub fn rekey_report(&self) -> &crate::store::rekey::Outcome {
        &self.rekey_report
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
        let start = std::time::Instant::now();
        let out = f(&conn).map_err(map_err);
        super::record_op("sqlite", super::op_name(std::any::type_name::<F>()), start);
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

fn migrate(conn: &Connection) -> Result<crate::store::rekey::Outcome, StoreError> {
    let mut report = crate::store::rekey::Outcome::default();
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
            report = migrations::rekey(&tx, Scope::NonAscii).map_err(map_err)?;
            report.log(Scope::NonAscii);
        }
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
            .map_err(map_err)?;
        tx.commit().map_err(map_err)?;
    }
    Ok(report)
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
        external_id: r.get(8)?,
        active: r.get(9)?,
        idp_user_name: r.get(10)?,
    })
}

/// How many columns [`user_columns`] selects (what a query adds comes after).
const USER_COLUMN_COUNT: usize = 11;

macro_rules! user_columns {
    () => {
        "u.id, u.workspace_id, u.full_name, u.username, u.email, \
     u.password_hash, u.created_at, u.updated_at, u.external_id, u.active, u.idp_user_name"
    };
}
const USER_COLUMNS: &str = user_columns!();

fn user_error(e: rusqlite::Error) -> StoreError {
    if is_unique_violation(&e, "username_key") {
        StoreError::UsernameTaken
    } else if is_unique_violation(&e, "email_key") {
        StoreError::EmailTaken
    } else if is_unique_violation(&e, "idp_user_name_key") {
        StoreError::UsernameTaken
    } else {
        map_err(e)
    }
}

// The store operations, one file per aggregate (declared last: they use the
// row macros above).
mod categories;
mod dump;
mod events;
mod fields;
mod group_removal;
mod group_values;
mod groups;
mod idempotency;
mod keys;
mod members;
mod sessions;
use members::add_members_in;
mod users;
mod webhooks;
mod workspaces;
