//! The PostgreSQL engine: a bounded connection pool (deadpool), one transaction
//! per write, row locks (`SELECT ... FOR UPDATE`) where a check and a write must
//! not be split (member limits, policy patches, removals). Several groupd instances
//! can share one database. A lost connection is reported as `Unavailable` and
//! replaced on the next use, so the server recovers when the database is back.

mod migrations;
mod revocations;

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
use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};

pub struct PostgresStore {
    pool: Pool,
    revocations: revocations::Revocations,
}

fn pg_err(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        // The server is going away or cannot take us now: worth a retry later.
        if code == &SqlState::ADMIN_SHUTDOWN
            || code == &SqlState::CRASH_SHUTDOWN
            || code == &SqlState::CANNOT_CONNECT_NOW
            || code == &SqlState::TOO_MANY_CONNECTIONS
        {
            return StoreError::Unavailable(db.message().to_string());
        }
        return StoreError::Backend(format!("{}: {}", code.code(), db.message()));
    }
    let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
    if e.is_closed() || io {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Backend(e.to_string())
    }
}

fn constraint(e: &tokio_postgres::Error, code: &SqlState) -> Option<String> {
    let db = e.as_db_error()?;
    (db.code() == code).then(|| db.constraint().unwrap_or("").to_string())
}

fn write_err(e: tokio_postgres::Error) -> StoreError {
    if let Some(c) = constraint(&e, &SqlState::UNIQUE_VIOLATION) {
        return match c.as_str() {
            "groups_slug_key" => StoreError::SlugTaken,
            "users_username" => StoreError::UsernameTaken,
            "users_email" => StoreError::EmailTaken,
            "workspaces_name_key" => StoreError::AlreadyExists("workspace".into()),
            "api_keys_pkey" => StoreError::AlreadyExists("key prefix".into()),
            "field_defs_pkey" => StoreError::AlreadyExists("custom field".into()),
            other => StoreError::AlreadyExists(other.to_string()),
        };
    }
    pg_err(e)
}

fn policy_json(policy: &GroupPolicy) -> Result<String, StoreError> {
    serde_json::to_string(policy).map_err(|e| StoreError::Backend(e.to_string()))
}

fn parse_policy(s: &str) -> Result<GroupPolicy, StoreError> {
    serde_json::from_str(s)
        .map_err(|e| StoreError::Backend(format!("stored policy unreadable: {e}")))
}

macro_rules! group_columns {
    () => {
        "g.id, g.workspace_id, g.name, g.slug, g.description, g.category_id, \
     g.secret, g.unleavable, g.pinned, g.password_hash, g.created_at, g.updated_at, \
     (SELECT i.token FROM group_icons i WHERE i.group_id = g.id), g.policy, g.builtin, \
     g.member_count, \
     (SELECT json_object_agg(v.field_id, v.value)::text FROM group_field_values v WHERE v.group_id = g.id)"
    };
}
const GROUP_COLUMNS: &str = group_columns!();

fn group_from_row(r: &Row) -> Result<Group, StoreError> {
    let policy: String = r.get(13);
    let builtin: Option<String> = r.get(14);
    Ok(Group {
        id: GroupId(r.get(0)),
        workspace: WorkspaceId(r.get(1)),
        name: r.get(2),
        slug: r.get(3),
        description: r.get(4),
        category_id: r.get(5),
        secret: r.get(6),
        unleavable: r.get(7),
        pinned: r.get(8),
        password_hash: r.get(9),
        created_at: r.get(10),
        updated_at: r.get(11),
        icon_token: r.get(12),
        policy: parse_policy(&policy)?,
        builtin: builtin.as_deref().and_then(Builtin::parse),
        member_count: r.get(15),
        custom_fields: super::custom_fields_from_json(r.get::<_, Option<&str>>(16))
            .map_err(StoreError::Backend)?,
    })
}

macro_rules! user_columns {
    () => {
        "u.id, u.workspace_id, u.full_name, u.username, u.email, \
     u.password_hash, u.created_at, u.updated_at"
    };
}

fn user_from_row(r: &Row) -> User {
    User {
        id: UserId(r.get(0)),
        workspace: WorkspaceId(r.get(1)),
        full_name: r.get(2),
        username: r.get(3),
        email: r.get(4),
        password_hash: r.get(5),
        created_at: r.get(6),
        updated_at: r.get(7),
    }
}

fn field_from_row(r: &Row) -> Result<FieldDef, StoreError> {
    let kind: String = r.get(2);
    let options: String = r.get(3);
    Ok(FieldDef {
        id: r.get(0),
        name: r.get(1),
        kind: kind.parse::<FieldKind>().map_err(StoreError::Backend)?,
        options: serde_json::from_str(&options).map_err(|e| StoreError::Backend(e.to_string()))?,
    })
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

async fn insert_builtins<C: GenericClient>(c: &C, ws: i64, now: i64) -> Result<(), StoreError> {
    for b in Builtin::ALL {
        let policy = policy_json(&b.policy())?;
        c.execute(
            &c.cached("INSERT INTO groups (workspace_id, name, name_key, description, category_id, secret, \
             policy, builtin, created_at, updated_at) VALUES ($1, $2, lower($2), $3, $4, TRUE, $5, $6, $7, $7) \
             ON CONFLICT (workspace_id, builtin) DO NOTHING").await?,
            &[&ws, &b.name(), &b.description(), &DEFAULT_CATEGORY_ID, &policy, &b.as_str(), &now],
        )
        .await
        .map_err(pg_err)?;
    }
    Ok(())
}

async fn insert_workspace<C: GenericClient>(
    c: &C,
    name: &str,
    now: i64,
) -> Result<Option<Workspace>, StoreError> {
    let row = c
        .query_opt(
            &c.cached("INSERT INTO workspaces (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING id").await?,
            &[&name, &now],
        )
        .await
        .map_err(pg_err)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let id: i64 = row.get(0);
    c.execute(
        &c.cached(
            "INSERT INTO categories (workspace_id, id, name, created_at) VALUES ($1, $2, $3, $4)",
        )
        .await?,
        &[&id, &DEFAULT_CATEGORY_ID, &DEFAULT_CATEGORY_NAME, &now],
    )
    .await
    .map_err(pg_err)?;
    insert_builtins(c, id, now).await?;
    Ok(Some(Workspace {
        id: WorkspaceId(id),
        name: name.to_string(),
    }))
}

async fn check_references<C: GenericClient>(
    c: &C,
    ws: WorkspaceId,
    category: Option<i64>,
    fields: impl Iterator<Item = i64>,
) -> Result<(), StoreError> {
    if let Some(cat) = category {
        let found = c
            .query_opt(
                &c.cached("SELECT 1 FROM categories WHERE workspace_id = $1 AND id = $2")
                    .await?,
                &[&ws.0, &cat],
            )
            .await
            .map_err(pg_err)?;
        if found.is_none() {
            return Err(StoreError::UnknownCategory(cat));
        }
    }
    for f in fields {
        let found = c
            .query_opt(
                &c.cached("SELECT 1 FROM field_defs WHERE workspace_id = $1 AND id = $2")
                    .await?,
                &[&ws.0, &f],
            )
            .await
            .map_err(pg_err)?;
        if found.is_none() {
            return Err(StoreError::UnknownField(f));
        }
    }
    Ok(())
}

/// Every statement runs prepared, from the connection's statement cache: given as
/// text, tokio-postgres would Parse and Describe it again (a round trip) each run.
trait Cached {
    fn cached<'a>(
        &'a self,
        sql: &'a str,
    ) -> impl std::future::Future<Output = Result<tokio_postgres::Statement, StoreError>> + Send + 'a;
}

impl<T: GenericClient> Cached for T {
    async fn cached(&self, sql: &str) -> Result<tokio_postgres::Statement, StoreError> {
        self.prepare_cached(sql).await.map_err(pg_err)
    }
}

/// Writes the `names` row of a group (its slug key) or a user (their username
/// key), or removes a group's when `key` is `None`. A name another holder has is
/// refused with `taken` (see [`super::NameHolder`]).
async fn put_name<C: GenericClient>(
    c: &C,
    ws: WorkspaceId,
    holder: NameHolder,
    key: Option<&str>,
) -> Result<(), StoreError> {
    let (id, taken, upsert, delete) = match holder {
        NameHolder::Group(g) => (
            g.0,
            StoreError::SlugTaken,
            "INSERT INTO names (workspace_id, name_key, group_id) VALUES ($1, $2, $3) \
             ON CONFLICT (group_id) DO UPDATE SET name_key = excluded.name_key",
            "DELETE FROM names WHERE group_id = $1",
        ),
        NameHolder::User(u) => (
            u.0,
            StoreError::UsernameTaken,
            "INSERT INTO names (workspace_id, name_key, user_id) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET name_key = excluded.name_key",
            "DELETE FROM names WHERE user_id = $1",
        ),
    };
    let done = match key {
        Some(key) => {
            c.execute(&c.cached(upsert).await?, &[&ws.0, &key, &id])
                .await
        }
        None => c.execute(&c.cached(delete).await?, &[&id]).await,
    };
    done.map(|_| ()).map_err(|e| {
        if constraint(&e, &SqlState::UNIQUE_VIOLATION).as_deref() == Some("names_pkey") {
            taken
        } else {
            write_err(e)
        }
    })
}

async fn put_field_value<C: GenericClient>(
    c: &C,
    ws: WorkspaceId,
    group: i64,
    field: i64,
    value: &Option<String>,
) -> Result<(), StoreError> {
    match value {
        Some(v) => c
            .execute(
                &c.cached("INSERT INTO group_field_values (group_id, workspace_id, field_id, value) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (group_id, field_id) DO UPDATE SET value = EXCLUDED.value").await?,
                &[&group, &ws.0, &field, v],
            )
            .await
            .map_err(write_err)?,
        None => c
            .execute(&c.cached("DELETE FROM group_field_values WHERE group_id = $1 AND field_id = $2").await?, &[&group, &field])
            .await
            .map_err(pg_err)?,
    };
    Ok(())
}

async fn put_icon<C: GenericClient>(
    c: &C,
    id: i64,
    icon: &Option<IconImage>,
) -> Result<(), StoreError> {
    match icon {
        Some(i) => c
            .execute(
                &c.cached("INSERT INTO group_icons (group_id, content_type, data, token) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (group_id) DO UPDATE SET content_type = EXCLUDED.content_type, data = EXCLUDED.data, \
                 token = EXCLUDED.token").await?,
                &[&id, &i.content_type, &i.data, &i.token],
            )
            .await
            .map_err(pg_err)?,
        None => c
            .execute(&c.cached("DELETE FROM group_icons WHERE group_id = $1").await?, &[&id])
            .await
            .map_err(pg_err)?,
    };
    Ok(())
}

/// `None` when the group is not in the workspace; else its built-in kind. Locks the row.
async fn lock_group<C: GenericClient>(
    c: &C,
    ws: WorkspaceId,
    id: GroupId,
) -> Result<Option<Option<String>>, StoreError> {
    let row = c
        .query_opt(
            &c.cached("SELECT builtin FROM groups WHERE id = $2 AND (workspace_id = $1) IS TRUE FOR UPDATE")
                .await?,
            &[&ws.0, &id.0],
        )
        .await
        .map_err(pg_err)?;
    Ok(row.map(|r| r.get(0)))
}

async fn add_members_in<C: GenericClient>(
    c: &C,
    ws: WorkspaceId,
    group: GroupId,
    users: Vec<UserId>,
    role: Option<GroupRole>,
    on_existing: OnExisting,
    now: i64,
) -> Result<u64, StoreError> {
    // The row lock serialises every membership change of this group, on every instance.
    let row = c
        .query_opt(
            &c.cached("SELECT policy, member_count FROM groups WHERE id = $2 AND (workspace_id = $1) IS TRUE FOR UPDATE").await?,
            &[&ws.0, &group.0],
        )
        .await
        .map_err(pg_err)?;
    let Some(row) = row else {
        return Err(StoreError::NotFound("group"));
    };
    let policy = parse_policy(&row.get::<_, String>(0))?;
    let count: i64 = row.get(1);
    let mut fresh: Vec<UserId> = Vec::new();
    for user in users {
        let exists = c
            .query_opt(
                &c.cached("SELECT 1 FROM users WHERE workspace_id = $1 AND id = $2")
                    .await?,
                &[&ws.0, &user.0],
            )
            .await
            .map_err(pg_err)?;
        if exists.is_none() {
            return Err(StoreError::UnknownUser(user.0));
        }
        let current = c
            .query_opt(
                &c.cached("SELECT role FROM memberships WHERE group_id = $1 AND user_id = $2")
                    .await?,
                &[&group.0, &user.0],
            )
            .await
            .map_err(pg_err)?;
        match (current, on_existing) {
            (Some(_), OnExisting::Fail) => return Err(StoreError::AlreadyMember(user.0)),
            (Some(_), OnExisting::Keep) => {
                if let Some(role) = role {
                    c.execute(
                        &c.cached(
                            "UPDATE memberships SET role = $3 WHERE group_id = $1 AND user_id = $2",
                        )
                        .await?,
                        &[&group.0, &user.0, &role.as_str()],
                    )
                    .await
                    .map_err(pg_err)?;
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
        c.execute(
            &c.cached("INSERT INTO memberships (group_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4)").await?,
            &[&group.0, &user.0, &role.as_str(), &now],
        )
        .await
        .map_err(pg_err)?;
    }
    if !fresh.is_empty() {
        c.execute(
            &c.cached("UPDATE groups SET member_count = member_count + $2 WHERE id = $1")
                .await?,
            &[&group.0, &(fresh.len() as i64)],
        )
        .await
        .map_err(pg_err)?;
    }
    Ok(fresh.len() as u64)
}

impl PostgresStore {
    /// Connects (with a pool of at most `pool_size` connections) and migrates.
    pub async fn connect(url: &str, pool_size: usize) -> Result<PostgresStore, StoreError> {
        let config: tokio_postgres::Config = url.parse().map_err(|e| {
            StoreError::Unavailable(format!("the database URL cannot be read: {e}"))
        })?;
        let mut config = config;
        config.connect_timeout(Duration::from_secs(5));
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(5)))
            .create_timeout(Some(Duration::from_secs(5)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .post_create(deadpool_postgres::Hook::async_fn(|client, _| {
                Box::pin(async move {
                    // Every statement is prepared once per connection. PostgreSQL
                    // keeps planning a prepared statement afresh on each run while
                    // its generic plan looks costlier than the custom ones, and
                    // for the list page that planning (0.7 ms) was most of the
                    // work. groupd's statements are index look-ups whose plan does
                    // not depend on the values, so the generic plan is used at once.
                    // A PostgreSQL-compatible server without this setting keeps
                    // its default; that costs speed, not correctness.
                    //
                    // A generic plan is made from the statistics of the moment,
                    // and a fresh database has none: for `workspace_id = $1 AND
                    // id = $2` on groups the planner then picked a list index
                    // (workspace_id, ..., id), which walks every group of the
                    // workspace, and kept that plan until autovacuum next analysed
                    // the table (REST GET fell from 18k to 2k/s after a 50k-group
                    // load). Statements that find one group by id therefore say
                    // `id = $2 AND (workspace_id = $1) IS TRUE`: the same rows, but
                    // only the primary key can serve it.
                    if let Err(e) = client
                        .batch_execute("SET plan_cache_mode = force_generic_plan")
                        .await
                    {
                        tracing::debug!(error = %e, "plan_cache_mode not set");
                    }
                    Ok(())
                })
            }))
            .build()
            .map_err(|e| StoreError::Backend(format!("cannot build the pool: {e}")))?;
        let store = PostgresStore {
            pool,
            revocations: revocations::Revocations::new(config),
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::Unavailable(format!("no database connection: {e}")))
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let mut tx = c.transaction().await.map_err(pg_err)?;
        // Instances starting together queue on one advisory lock (held until this
        // transaction ends), so exactly one creates the version table and migrates.
        // `CREATE TABLE IF NOT EXISTS` alone is not safe against a concurrent
        // create: the loser failed with 23505 or 42P07.
        tx.batch_execute(
            "SELECT pg_advisory_xact_lock(7468351232); \
             CREATE TABLE IF NOT EXISTS groupd_schema (id INT PRIMARY KEY, version INT NOT NULL); \
             INSERT INTO groupd_schema (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;",
        )
        .await
        .map_err(pg_err)?;
        let version: i32 = tx
            .query_one(
                &tx.cached("SELECT version FROM groupd_schema WHERE id = 1 FOR UPDATE")
                    .await?,
                &[],
            )
            .await
            .map_err(pg_err)?
            .get(0);
        let supported = migrations::MIGRATIONS.len() as i32;
        if version > supported {
            return Err(StoreError::SchemaTooNew {
                found: i64::from(version),
                supported: i64::from(supported),
            });
        }
        for (i, sql) in migrations::MIGRATIONS
            .iter()
            .enumerate()
            .skip(version as usize)
        {
            tx.batch_execute(sql).await.map_err(pg_err)?;
            if i + 1 == migrations::REKEY_VERSION {
                migrations::rekey(&mut tx, Scope::NonAscii)
                    .await
                    .map_err(pg_err)?
                    .log(Scope::NonAscii);
            }
        }
        tx.execute(
            &tx.cached("UPDATE groupd_schema SET version = $1 WHERE id = 1")
                .await?,
            &[&supported],
        )
        .await
        .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn bootstrap(&self, now: i64) -> Result<Option<Workspace>, StoreError> {
        let mut c = self.client().await?;
        let any = c
            .query_opt(&c.cached("SELECT id FROM workspaces LIMIT 1").await?, &[])
            .await
            .map_err(pg_err)?;
        if any.is_some() {
            return Ok(None);
        }
        let tx = c.transaction().await.map_err(pg_err)?;
        // ON CONFLICT makes instances starting together create it once.
        let ws = insert_workspace(&tx, DEFAULT_WORKSPACE, now).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(ws)
    }

    async fn create_workspace(&self, name: &str, now: i64) -> Result<Workspace, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let ws = insert_workspace(&tx, name, now)
            .await?
            .ok_or_else(|| StoreError::AlreadyExists(format!("workspace '{name}'")))?;
        tx.commit().await.map_err(pg_err)?;
        Ok(ws)
    }

    async fn list_workspaces(&self) -> Result<Vec<Workspace>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .query(
                &c.cached("SELECT id, name FROM workspaces ORDER BY id")
                    .await?,
                &[],
            )
            .await
            .map_err(pg_err)?;
        Ok(rows
            .iter()
            .map(|r| Workspace {
                id: WorkspaceId(r.get(0)),
                name: r.get(1),
            })
            .collect())
    }

    async fn find_workspace(&self, name: &str) -> Result<Option<Workspace>, StoreError> {
        let c = self.client().await?;
        let row = c
            .query_opt(
                &c.cached("SELECT id, name FROM workspaces WHERE name = $1")
                    .await?,
                &[&name],
            )
            .await
            .map_err(pg_err)?;
        Ok(row.map(|r| Workspace {
            id: WorkspaceId(r.get(0)),
            name: r.get(1),
        }))
    }

    async fn insert_api_key(&self, ws: WorkspaceId, key: NewApiKey) -> Result<(), StoreError> {
        let c = self.client().await?;
        c.execute(
            &c.cached("INSERT INTO api_keys (prefix, workspace_id, hash, label, created_at) VALUES ($1, $2, $3, $4, $5)").await?,
            &[&key.prefix, &ws.0, &key.hash, &key.label, &key.now],
        )
        .await
        .map_err(write_err)?;
        Ok(())
    }

    async fn find_api_key(&self, prefix: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let c = self.client().await?;
        let stmt = c
            .cached(
                "SELECT workspace_id, hash, revoked_at IS NOT NULL FROM api_keys WHERE prefix = $1",
            )
            .await?;
        let row = c.query_opt(&stmt, &[&prefix]).await.map_err(pg_err)?;
        Ok(row.map(|r| ApiKeyRecord {
            workspace: WorkspaceId(r.get(0)),
            hash: r.get(1),
            revoked: r.get(2),
        }))
    }

    async fn list_api_keys(&self, ws: Option<WorkspaceId>) -> Result<Vec<ApiKey>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .query(
                &c.cached(
                    "SELECT k.prefix, w.name, k.label, k.created_at, k.revoked_at FROM api_keys k \
                 JOIN workspaces w ON w.id = k.workspace_id \
                 WHERE $1::BIGINT IS NULL OR k.workspace_id = $1 ORDER BY k.created_at, k.prefix",
                )
                .await?,
                &[&ws.map(|w| w.0)],
            )
            .await
            .map_err(pg_err)?;
        Ok(rows
            .iter()
            .map(|r| ApiKey {
                prefix: r.get(0),
                workspace: r.get(1),
                label: r.get(2),
                created_at: r.get(3),
                revoked_at: r.get(4),
            })
            .collect())
    }

    async fn revoke_api_key(&self, prefix: &str, now: i64) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let n = tx
            .execute(
                &tx.cached(
                    "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE prefix = $1",
                )
                .await?,
                &[&prefix, &now],
            )
            .await
            .map_err(pg_err)?;
        if n == 0 {
            return Err(StoreError::NotFound("key"));
        }
        // Delivered to every instance's listener when this transaction commits.
        tx.execute(
            &tx.cached(&format!("NOTIFY {}", revocations::CHANNEL))
                .await?,
            &[],
        )
        .await
        .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)?;
        self.revocations.bump();
        Ok(())
    }

    /// Moved by LISTEN/NOTIFY; see [`revocations`].
    fn key_revocations(&self) -> Option<u64> {
        self.revocations.token()
    }

    async fn create_category(
        &self,
        ws: WorkspaceId,
        name: &str,
        now: i64,
    ) -> Result<Category, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let id: i64 = tx
            .query_opt(
                &tx.cached(
                    "UPDATE workspaces SET next_category_id = next_category_id + 1 WHERE id = $1 \
                 RETURNING next_category_id - 1",
                )
                .await?,
                &[&ws.0],
            )
            .await
            .map_err(pg_err)?
            .ok_or(StoreError::NotFound("workspace"))?
            .get(0);
        tx.execute(
            &tx.cached("INSERT INTO categories (workspace_id, id, name, created_at) VALUES ($1, $2, $3, $4)").await?,
            &[&ws.0, &id, &name, &now],
        )
        .await
        .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)?;
        Ok(Category {
            id,
            name: name.to_string(),
        })
    }

    async fn list_categories(&self, ws: WorkspaceId) -> Result<Vec<Category>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .query(
                &c.cached("SELECT id, name FROM categories WHERE workspace_id = $1 ORDER BY id")
                    .await?,
                &[&ws.0],
            )
            .await
            .map_err(pg_err)?;
        Ok(rows
            .iter()
            .map(|r| Category {
                id: r.get(0),
                name: r.get(1),
            })
            .collect())
    }

    async fn rename_category(
        &self,
        ws: WorkspaceId,
        id: i64,
        name: &str,
    ) -> Result<(), StoreError> {
        let c = self.client().await?;
        let n = c
            .execute(
                &c.cached("UPDATE categories SET name = $3 WHERE workspace_id = $1 AND id = $2")
                    .await?,
                &[&ws.0, &id, &name],
            )
            .await
            .map_err(pg_err)?;
        if n == 0 {
            Err(StoreError::UnknownCategory(id))
        } else {
            Ok(())
        }
    }

    async fn delete_category(&self, ws: WorkspaceId, id: i64) -> Result<u64, StoreError> {
        if id == DEFAULT_CATEGORY_ID {
            return Err(StoreError::Refused(format!(
                "category {DEFAULT_CATEGORY_ID} ({DEFAULT_CATEGORY_NAME}) always exists"
            )));
        }
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let found = tx
            .query_opt(
                &tx.cached(
                    "SELECT 1 FROM categories WHERE workspace_id = $1 AND id = $2 FOR UPDATE",
                )
                .await?,
                &[&ws.0, &id],
            )
            .await
            .map_err(pg_err)?;
        if found.is_none() {
            return Err(StoreError::UnknownCategory(id));
        }
        let moved = tx
            .execute(
                &tx.cached("UPDATE groups SET category_id = $3 WHERE workspace_id = $1 AND category_id = $2").await?,
                &[&ws.0, &id, &DEFAULT_CATEGORY_ID],
            )
            .await
            .map_err(pg_err)?;
        tx.execute(
            &tx.cached("DELETE FROM categories WHERE workspace_id = $1 AND id = $2")
                .await?,
            &[&ws.0, &id],
        )
        .await
        .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)?;
        Ok(moved)
    }

    async fn create_field(
        &self,
        ws: WorkspaceId,
        def: NewFieldDef,
        now: i64,
    ) -> Result<FieldDef, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let next: i64 = tx
            .query_opt(
                &tx.cached("SELECT next_field_id FROM workspaces WHERE id = $1 FOR UPDATE")
                    .await?,
                &[&ws.0],
            )
            .await
            .map_err(pg_err)?
            .ok_or(StoreError::NotFound("workspace"))?
            .get(0);
        let id = def.id.unwrap_or(next);
        let exists = tx
            .query_opt(
                &tx.cached("SELECT 1 FROM field_defs WHERE workspace_id = $1 AND id = $2")
                    .await?,
                &[&ws.0, &id],
            )
            .await
            .map_err(pg_err)?;
        if exists.is_some() {
            return Err(StoreError::AlreadyExists(format!("custom field {id}")));
        }
        tx.execute(
            &tx.cached("UPDATE workspaces SET next_field_id = GREATEST(next_field_id, $2::BIGINT + 1) WHERE id = $1").await?,
            &[&ws.0, &id],
        )
        .await
        .map_err(pg_err)?;
        let options =
            serde_json::to_string(&def.options).map_err(|e| StoreError::Backend(e.to_string()))?;
        tx.execute(
            &tx.cached("INSERT INTO field_defs (workspace_id, id, name, kind, options, created_at) VALUES ($1, $2, $3, $4, $5, $6)").await?,
            &[&ws.0, &id, &def.name, &def.kind.as_str(), &options, &now],
        )
        .await
        .map_err(write_err)?;
        tx.commit().await.map_err(pg_err)?;
        Ok(FieldDef {
            id,
            name: def.name,
            kind: def.kind,
            options: def.options,
        })
    }

    async fn list_fields(&self, ws: WorkspaceId) -> Result<Vec<FieldDef>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .query(
                &c.cached("SELECT id, name, kind, options FROM field_defs WHERE workspace_id = $1 ORDER BY id").await?,
                &[&ws.0],
            )
            .await
            .map_err(pg_err)?;
        rows.iter().map(field_from_row).collect()
    }

    async fn delete_field(&self, ws: WorkspaceId, id: i64) -> Result<(), StoreError> {
        let c = self.client().await?;
        let n = c
            .execute(
                &c.cached("DELETE FROM field_defs WHERE workspace_id = $1 AND id = $2")
                    .await?,
                &[&ws.0, &id],
            )
            .await
            .map_err(pg_err)?;
        if n == 0 {
            Err(StoreError::UnknownField(id))
        } else {
            Ok(())
        }
    }

    async fn insert_group(&self, ws: WorkspaceId, g: NewGroup) -> Result<GroupId, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        check_references(
            &tx,
            ws,
            Some(g.category_id),
            g.custom_fields.iter().map(|(f, _)| *f),
        )
        .await?;
        let policy = policy_json(&g.policy)?;
        let row = tx
            .query_one(
                &tx.cached("INSERT INTO groups (workspace_id, name, name_key, slug, slug_key, description, category_id, \
                 secret, unleavable, pinned, password_hash, policy, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING id").await?,
                &[
                    &ws.0,
                    &g.name,
                    &g.name.to_lowercase(),
                    &g.slug.as_ref().map(|s| s.as_str()),
                    &g.slug.as_ref().map(|s| s.key()),
                    &g.description,
                    &g.category_id,
                    &g.secret,
                    &g.unleavable,
                    &g.pinned,
                    &g.password_hash,
                    &policy,
                    &g.now,
                ],
            )
            .await
            .map_err(write_err)?;
        let id: i64 = row.get(0);
        if let Some(slug) = &g.slug {
            put_name(&tx, ws, NameHolder::Group(GroupId(id)), Some(slug.key())).await?;
        }
        for (field, value) in &g.custom_fields {
            put_field_value(&tx, ws, id, *field, &Some(value.clone())).await?;
        }
        if g.icon.is_some() {
            put_icon(&tx, id, &g.icon).await?;
        }
        tx.commit().await.map_err(write_err)?;
        Ok(GroupId(id))
    }

    async fn update_group(
        &self,
        ws: WorkspaceId,
        id: GroupId,
        u: GroupUpdate,
    ) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let current = tx
            .query_opt(
                &tx.cached(
                    "SELECT policy FROM groups WHERE id = $2 AND (workspace_id = $1) IS TRUE FOR UPDATE",
                )
                .await?,
                &[&ws.0, &id.0],
            )
            .await
            .map_err(pg_err)?
            .ok_or(StoreError::NotFound("group"))?;
        check_references(
            &tx,
            ws,
            u.category_id,
            u.custom_fields.iter().map(|(f, _)| *f),
        )
        .await?;
        let policy = if u.policy.is_empty() {
            None
        } else {
            let mut p = parse_policy(&current.get::<_, String>(0))?;
            p.apply(&u.policy);
            Some(policy_json(&p)?)
        };
        let (slug_set, slug, slug_key) = match &u.slug {
            None => (false, None, None),
            Some(s) => (
                true,
                s.as_ref().map(|s| s.as_str().to_string()),
                s.as_ref().map(|s| s.key().to_string()),
            ),
        };
        let (pw_set, pw) = match &u.password_hash {
            None => (false, None),
            Some(p) => (true, p.clone()),
        };
        tx.execute(
            &tx.cached("UPDATE groups SET name = COALESCE($3, name), name_key = COALESCE($4, name_key), \
             slug = CASE WHEN $5 THEN $6 ELSE slug END, slug_key = CASE WHEN $5 THEN $7 ELSE slug_key END, \
             description = COALESCE($8, description), category_id = COALESCE($9, category_id), \
             secret = COALESCE($10, secret), unleavable = COALESCE($11, unleavable), pinned = COALESCE($12, pinned), \
             password_hash = CASE WHEN $13 THEN $14 ELSE password_hash END, policy = COALESCE($15, policy), \
             updated_at = $16 WHERE id = $2 AND (workspace_id = $1) IS TRUE").await?,
            &[
                &ws.0,
                &id.0,
                &u.name,
                &u.name.as_ref().map(|n| n.to_lowercase()),
                &slug_set,
                &slug,
                &slug_key,
                &u.description,
                &u.category_id,
                &u.secret,
                &u.unleavable,
                &u.pinned,
                &pw_set,
                &pw,
                &policy,
                &u.now,
            ],
        )
        .await
        .map_err(write_err)?;
        if let Some(slug) = &u.slug {
            let key = slug.as_ref().map(|s| s.key());
            put_name(&tx, ws, NameHolder::Group(id), key).await?;
        }
        for (field, value) in &u.custom_fields {
            put_field_value(&tx, ws, id.0, *field, value).await?;
        }
        if let Some(icon) = &u.icon {
            put_icon(&tx, id.0, icon).await?;
        }
        tx.commit().await.map_err(write_err)
    }

    async fn delete_groups(
        &self,
        ws: WorkspaceId,
        ids: &[GroupId],
        successor: Option<GroupId>,
    ) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        if let Some(alt) = successor {
            if ids.contains(&alt) {
                return Err(StoreError::Refused(format!(
                    "group {} cannot take over from itself",
                    alt.0
                )));
            }
            if lock_group(&tx, ws, alt).await?.is_none() {
                return Err(StoreError::NotFound("group"));
            }
        }
        for id in ids {
            match lock_group(&tx, ws, *id).await? {
                None => return Err(StoreError::NotFound("group")),
                Some(Some(_)) => return Err(StoreError::BuiltinGroup(id.0)),
                Some(None) => {}
            }
            if let Some(alt) = successor {
                let movers: Vec<UserId> = tx
                    .query(
                        &tx.cached("SELECT user_id FROM memberships WHERE group_id = $1 AND user_id NOT IN \
                         (SELECT user_id FROM memberships WHERE group_id = $2) ORDER BY user_id").await?,
                        &[&id.0, &alt.0],
                    )
                    .await
                    .map_err(pg_err)?
                    .iter()
                    .map(|r| UserId(r.get(0)))
                    .collect();
                add_members_in(&tx, ws, alt, movers, None, OnExisting::Keep, now_secs()).await?;
            }
            tx.execute(
                &tx.cached("DELETE FROM groups WHERE id = $2 AND (workspace_id = $1) IS TRUE")
                    .await?,
                &[&ws.0, &id.0],
            )
            .await
            .map_err(pg_err)?;
        }
        tx.commit().await.map_err(pg_err)
    }

    async fn find_group(
        &self,
        ws: WorkspaceId,
        by: &GroupRef,
    ) -> Result<Option<Group>, StoreError> {
        let (sql, key): (&str, &(dyn tokio_postgres::types::ToSql + Sync)) = match by {
            GroupRef::Id(id) => (
                concat!(
                    "SELECT ",
                    group_columns!(),
                    " FROM groups g WHERE g.id = $2 AND (g.workspace_id = $1) IS TRUE"
                ),
                &id.0,
            ),
            GroupRef::Slug(key) => (
                concat!(
                    "SELECT ",
                    group_columns!(),
                    " FROM groups g WHERE g.workspace_id = $1 AND g.slug_key = $2"
                ),
                key,
            ),
        };
        let c = self.client().await?;
        let row = c
            .query_opt(&c.cached(sql).await?, &[&ws.0, key])
            .await
            .map_err(pg_err)?;
        row.map(|r| group_from_row(&r)).transpose()
    }

    async fn name_taken(
        &self,
        ws: WorkspaceId,
        key: &str,
        except: Option<NameHolder>,
    ) -> Result<bool, StoreError> {
        let (group, user) = match except {
            Some(NameHolder::Group(g)) => (Some(g.0), None),
            Some(NameHolder::User(u)) => (None, Some(u.0)),
            None => (None, None),
        };
        let c = self.client().await?;
        let row = c
            .query_opt(
                &c.cached(
                    "SELECT 1 FROM names WHERE workspace_id = $1 AND name_key = $2 \
                 AND ($3::BIGINT IS NULL OR group_id IS DISTINCT FROM $3) \
                 AND ($4::BIGINT IS NULL OR user_id IS DISTINCT FROM $4)",
                )
                .await?,
                &[&ws.0, &key, &group, &user],
            )
            .await
            .map_err(pg_err)?;
        Ok(row.is_some())
    }

    async fn list_groups(
        &self,
        ws: WorkspaceId,
        after: Option<GroupId>,
        limit: u32,
    ) -> Result<Vec<Group>, StoreError> {
        let c = self.client().await?;
        let stmt = c
            .cached(concat!(
                "SELECT ",
                group_columns!(),
                " FROM groups g WHERE g.workspace_id = $1 AND g.id > $2 ORDER BY g.id LIMIT $3"
            ))
            .await?;
        let rows = c
            .query(
                &stmt,
                &[&ws.0, &after.map_or(0, |g| g.0), &i64::from(limit)],
            )
            .await
            .map_err(pg_err)?;
        rows.iter().map(group_from_row).collect()
    }

    async fn icon_by_token(&self, token: &str) -> Result<Option<IconImage>, StoreError> {
        let c = self.client().await?;
        let row = c
            .query_opt(
                &c.cached("SELECT content_type, data, token FROM group_icons WHERE token = $1")
                    .await?,
                &[&token],
            )
            .await
            .map_err(pg_err)?;
        Ok(row.map(|r| IconImage {
            content_type: r.get(0),
            data: r.get(1),
            token: r.get(2),
        }))
    }

    async fn query_groups(
        &self,
        ws: WorkspaceId,
        q: &GroupQuery,
    ) -> Result<Vec<Group>, StoreError> {
        let c = self.client().await?;
        let mut filters = String::new();
        let mut next = 5;
        let mut extra: Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>> = Vec::new();
        // Each page part is one range of one index, written as a row comparison on
        // the index's columns, with ORDER BY the same columns. Written as
        // `workspace_id = $1 AND pinned = $2 ... ORDER BY id`, PostgreSQL's generic
        // plan walked the primary key hoping to meet enough matches soon, and a
        // part with none (no pinned groups) read every group: 300 ms a page at 1M.
        let (columns, fixed) = if let Some(cat) = q.category {
            extra.push(Box::new(cat));
            next += 1;
            (
                "g.workspace_id, g.category_id, g.pinned, g.id",
                "$1, $5, $2",
            )
        } else if let Some(sec) = q.secret {
            extra.push(Box::new(sec));
            next += 1;
            ("g.workspace_id, g.secret, g.pinned, g.id", "$1, $5, $2")
        } else {
            ("g.workspace_id, g.pinned, g.id", "$1, $2")
        };
        if let Some(p) = &q.name_prefix {
            filters.push_str(&format!(
                " AND g.name_key >= ${} AND g.name_key < ${}",
                next,
                next + 1
            ));
            next += 2;
            extra.push(Box::new(p.clone()));
            extra.push(Box::new(format!("{p}\u{10FFFF}")));
        }
        if let (Some(s), Some(_)) = (q.secret, q.category) {
            filters.push_str(&format!(" AND g.secret = ${next}"));
            next += 1;
            extra.push(Box::new(s));
        }
        if let Some(v) = q.visible_to {
            filters.push_str(&format!(
                " AND (g.secret = FALSE OR EXISTS (SELECT 1 FROM memberships m WHERE m.group_id = g.id AND m.user_id = ${next}))"
            ));
            extra.push(Box::new(v.0));
        }
        let sql = format!(
            "SELECT {GROUP_COLUMNS} FROM groups g \
             WHERE ({columns}) > ({fixed}, $3) AND ({columns}) <= ({fixed}, {max}){filters} \
             ORDER BY {columns} LIMIT $4",
            max = i64::MAX
        );
        let mut out = Vec::new();
        for (pinned, after) in q.parts() {
            let want = i64::from(q.limit) - out.len() as i64;
            if want <= 0 {
                break;
            }
            let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                vec![&ws.0, &pinned, &after, &want];
            for e in &extra {
                params.push(e.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync));
            }
            let stmt = c.cached(&sql).await?;
            for r in c.query(&stmt, &params).await.map_err(pg_err)? {
                out.push(group_from_row(&r)?);
            }
        }
        Ok(out)
    }

    async fn insert_user(&self, ws: WorkspaceId, u: NewUser) -> Result<UserId, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let row = tx
            .query_one(
                &tx.cached("INSERT INTO users (workspace_id, full_name, username, username_key, email, email_key, \
                 password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id").await?,
                &[&ws.0, &u.full_name, &u.username.0, &u.username.1, &u.email.0, &u.email.1, &u.password_hash, &u.now],
            )
            .await
            .map_err(write_err)?;
        let id = UserId(row.get(0));
        put_name(&tx, ws, NameHolder::User(id), Some(&u.username.1)).await?;
        tx.commit().await.map_err(write_err)?;
        Ok(id)
    }

    async fn update_user(
        &self,
        ws: WorkspaceId,
        id: UserId,
        u: UserUpdate,
    ) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let n = tx
            .execute(
                &tx.cached("UPDATE users SET full_name = COALESCE($3, full_name), username = COALESCE($4, username), \
                 username_key = COALESCE($5, username_key), email = COALESCE($6, email), \
                 email_key = COALESCE($7, email_key), password_hash = COALESCE($8, password_hash), updated_at = $9 \
                 WHERE workspace_id = $1 AND id = $2").await?,
                &[
                    &ws.0,
                    &id.0,
                    &u.full_name,
                    &u.username.as_ref().map(|x| x.0.clone()),
                    &u.username.as_ref().map(|x| x.1.clone()),
                    &u.email.as_ref().map(|x| x.0.clone()),
                    &u.email.as_ref().map(|x| x.1.clone()),
                    &u.password_hash,
                    &u.now,
                ],
            )
            .await
            .map_err(write_err)?;
        if n == 0 {
            return Err(StoreError::NotFound("user"));
        }
        if let Some((_, key)) = &u.username {
            put_name(&tx, ws, NameHolder::User(id), Some(key)).await?;
        }
        tx.commit().await.map_err(write_err)
    }

    async fn delete_user(&self, ws: WorkspaceId, id: UserId) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        tx.execute(
            &tx.cached(
                "UPDATE groups SET member_count = member_count - 1 WHERE id IN \
             (SELECT m.group_id FROM memberships m JOIN users u ON u.id = m.user_id \
              WHERE m.user_id = $2 AND u.workspace_id = $1)",
            )
            .await?,
            &[&ws.0, &id.0],
        )
        .await
        .map_err(pg_err)?;
        let n = tx
            .execute(
                &tx.cached("DELETE FROM users WHERE workspace_id = $1 AND id = $2")
                    .await?,
                &[&ws.0, &id.0],
            )
            .await
            .map_err(pg_err)?;
        if n == 0 {
            return Err(StoreError::NotFound("user"));
        }
        tx.commit().await.map_err(pg_err)
    }

    async fn find_user(&self, ws: WorkspaceId, by: &UserRef) -> Result<Option<User>, StoreError> {
        macro_rules! by_column {
            ($column:literal) => {
                concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users u WHERE u.workspace_id = $1 AND u.",
                    $column,
                    " = $2"
                )
            };
        }
        let (sql, key): (&str, &(dyn tokio_postgres::types::ToSql + Sync)) = match by {
            UserRef::Id(id) => (by_column!("id"), &id.0),
            UserRef::Username(k) => (by_column!("username_key"), k),
            UserRef::Email(k) => (by_column!("email_key"), k),
        };
        let c = self.client().await?;
        let row = c
            .query_opt(&c.cached(sql).await?, &[&ws.0, key])
            .await
            .map_err(pg_err)?;
        Ok(row.as_ref().map(user_from_row))
    }

    async fn list_users(
        &self,
        ws: WorkspaceId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .query(
                &c.cached(concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users u WHERE u.workspace_id = $1 AND u.id > $2 ORDER BY u.id LIMIT $3"
                ))
                .await?,
                &[&ws.0, &after.map_or(0, |u| u.0), &i64::from(limit)],
            )
            .await
            .map_err(pg_err)?;
        Ok(rows.iter().map(user_from_row).collect())
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
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let n = add_members_in(&tx, ws, group, users, role, on_existing, now).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(n)
    }

    async fn remove_members(
        &self,
        ws: WorkspaceId,
        group: GroupId,
        users: Vec<UserId>,
        require_member: bool,
    ) -> Result<u64, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        if lock_group(&tx, ws, group).await?.is_none() {
            return Err(StoreError::NotFound("group"));
        }
        let mut removed = 0u64;
        for user in users {
            let n = tx
                .execute(
                    &tx.cached("DELETE FROM memberships WHERE group_id = $1 AND user_id = $2")
                        .await?,
                    &[&group.0, &user.0],
                )
                .await
                .map_err(pg_err)?;
            if n == 0 && require_member {
                return Err(StoreError::NotAMember(user.0));
            }
            removed += n;
        }
        if removed > 0 {
            tx.execute(
                &tx.cached("UPDATE groups SET member_count = member_count - $2 WHERE id = $1")
                    .await?,
                &[&group.0, &(removed as i64)],
            )
            .await
            .map_err(pg_err)?;
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(removed)
    }

    async fn list_members(
        &self,
        ws: WorkspaceId,
        group: GroupId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<Membership>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .query(
                &c.cached(concat!("SELECT ", user_columns!(), ", m.role, m.joined_at FROM memberships m JOIN users u ON u.id = m.user_id \
                     WHERE m.group_id = $1 AND u.workspace_id = $2 AND m.user_id > $3 ORDER BY m.user_id LIMIT $4")).await?,
                &[&group.0, &ws.0, &after.map_or(0, |u| u.0), &i64::from(limit)],
            )
            .await
            .map_err(pg_err)?;
        Ok(rows
            .iter()
            .map(|r| Membership {
                user: user_from_row(r),
                role: GroupRole::parse(&r.get::<_, String>(8)).unwrap_or(GroupRole::Member),
                joined_at: r.get(9),
            })
            .collect())
    }

    async fn member_roles(
        &self,
        ws: WorkspaceId,
        user: UserId,
        groups: &[GroupId],
    ) -> Result<std::collections::BTreeMap<GroupId, GroupRole>, StoreError> {
        let ids: Vec<i64> = groups.iter().map(|g| g.0).collect();
        let c = self.client().await?;
        let rows = c
            .query(
                &c.cached(
                    "SELECT m.group_id, m.role FROM memberships m JOIN groups g ON g.id = m.group_id \
                     WHERE m.user_id = $1 AND g.workspace_id = $2 AND m.group_id = ANY($3)",
                )
                .await?,
                &[&user.0, &ws.0, &ids],
            )
            .await
            .map_err(pg_err)?;
        Ok(rows
            .iter()
            .map(|r| {
                let role = GroupRole::parse(&r.get::<_, String>(1)).unwrap_or(GroupRole::Member);
                (GroupId(r.get(0)), role)
            })
            .collect())
    }

    async fn claim_idempotency_key(
        &self,
        ws: WorkspaceId,
        key: &str,
        claim: NewClaim,
    ) -> Result<IdempotencyClaim, StoreError> {
        let c = self.client().await?;
        c.execute(
            &c.cached("DELETE FROM idempotency_keys WHERE workspace_id = $1 AND key = $2 AND created_at < $3").await?,
            &[&ws.0, &key, &claim.since],
        )
        .await
        .map_err(pg_err)?;
        // A free key is inserted; a lapsed claim is taken over. ON CONFLICT locks
        // the existing row and tests the condition on its latest version, so of
        // claims racing for one lapsed key exactly one changes it.
        let upsert = c
            .cached(
                "INSERT INTO idempotency_keys (workspace_id, key, request_hash, created_at, claim_token, \
                 lease_until_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, key) DO UPDATE \
                 SET request_hash = excluded.request_hash, created_at = excluded.created_at, \
                 claim_token = excluded.claim_token, lease_until_ms = excluded.lease_until_ms \
                 WHERE idempotency_keys.status IS NULL AND idempotency_keys.lease_until_ms < $7",
            )
            .await?;
        let select = c
            .cached("SELECT request_hash, status, body FROM idempotency_keys WHERE workspace_id = $1 AND key = $2")
            .await?;
        // A claim released between the two statements leaves no row: claim again.
        for _ in 0..3 {
            let taken = c
                .execute(
                    &upsert,
                    &[
                        &ws.0,
                        &key,
                        &claim.request_hash,
                        &claim.now,
                        &claim.token,
                        &claim.lease_until_ms,
                        &claim.now_ms,
                    ],
                )
                .await
                .map_err(pg_err)?;
            if taken == 1 {
                return Ok(IdempotencyClaim::Claimed);
            }
            let Some(r) = c.query_opt(&select, &[&ws.0, &key]).await.map_err(pg_err)? else {
                continue;
            };
            let status: Option<i32> = r.get(1);
            let body: Option<String> = r.get(2);
            return Ok(match (status, body) {
                (Some(s), Some(b)) => IdempotencyClaim::Done {
                    request_hash: r.get(0),
                    status: s as u16,
                    body: b,
                },
                _ => IdempotencyClaim::InProgress {
                    request_hash: r.get(0),
                },
            });
        }
        Err(StoreError::Unavailable(
            "the idempotency key keeps changing hands; try again".into(),
        ))
    }

    async fn renew_idempotency_key(
        &self,
        ws: WorkspaceId,
        key: &str,
        token: i64,
        lease_until_ms: i64,
    ) -> Result<bool, StoreError> {
        let c = self.client().await?;
        let n = c
            .execute(
                &c.cached("UPDATE idempotency_keys SET lease_until_ms = $4 WHERE workspace_id = $1 AND key = $2 \
                 AND claim_token = $3 AND status IS NULL").await?,
                &[&ws.0, &key, &token, &lease_until_ms],
            )
            .await
            .map_err(pg_err)?;
        Ok(n == 1)
    }

    async fn finish_idempotency_key(
        &self,
        ws: WorkspaceId,
        key: &str,
        token: i64,
        status: u16,
        body: String,
    ) -> Result<bool, StoreError> {
        let c = self.client().await?;
        let n = c
            .execute(
                &c.cached("UPDATE idempotency_keys SET status = $4, body = $5 WHERE workspace_id = $1 AND key = $2 \
                 AND claim_token = $3 AND status IS NULL").await?,
                &[&ws.0, &key, &token, &i32::from(status), &body],
            )
            .await
            .map_err(pg_err)?;
        Ok(n == 1)
    }

    async fn abort_idempotency_key(
        &self,
        ws: WorkspaceId,
        key: &str,
        token: i64,
    ) -> Result<(), StoreError> {
        let c = self.client().await?;
        c.execute(
            &c.cached("DELETE FROM idempotency_keys WHERE workspace_id = $1 AND key = $2 AND claim_token = $3 \
             AND status IS NULL").await?,
            &[&ws.0, &key, &token],
        )
        .await
        .map_err(pg_err)?;
        Ok(())
    }

    async fn export(&self, ws: Option<WorkspaceId>) -> Result<Vec<String>, StoreError> {
        use super::dump::{Cell, ColType, TABLES, header_line, row_line};
        let mut c = self.client().await?;
        // One snapshot for the whole export.
        let tx = c
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(pg_err)?;
        let mut out = vec![header_line()];
        for table in TABLES {
            for r in tx
                .query(&table.select_sql(ws.map(|w| w.0)), &[])
                .await
                .map_err(pg_err)?
            {
                let cells: Vec<Cell> = table
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, (_, ty))| match ty {
                        ColType::Int => Cell::Int(r.get(i)),
                        ColType::Text => Cell::Text(r.get(i)),
                        ColType::Bool => Cell::Bool(r.get(i)),
                        ColType::Bytes => Cell::Bytes(r.get(i)),
                        ColType::OptInt => r.get::<_, Option<i64>>(i).map_or(Cell::Null, Cell::Int),
                        ColType::OptText => {
                            r.get::<_, Option<String>>(i).map_or(Cell::Null, Cell::Text)
                        }
                    })
                    .collect();
                out.push(row_line(table, &cells));
            }
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(out)
    }

    async fn import(&self, text: String) -> Result<u64, StoreError> {
        use super::dump::{Cell, ColType, parse};
        use tokio_postgres::types::ToSql;
        let batches = parse(&text)?;
        let mut c = self.client().await?;
        let mut tx = c.transaction().await.map_err(pg_err)?;
        let existing: i64 = tx
            .query_one(&tx.cached("SELECT COUNT(*) FROM workspaces").await?, &[])
            .await
            .map_err(pg_err)?
            .get(0);
        if existing > 0 {
            return Err(StoreError::Refused(
                "import needs an empty database: this one already has workspaces".into(),
            ));
        }
        let mut n = 0u64;
        for (table, rows) in &batches {
            let cols = table.column_names();
            let marks: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "INSERT INTO {} ({}) VALUES ({})",
                table.name,
                cols.join(", "),
                marks.join(", ")
            );
            let stmt = tx.prepare(&sql).await.map_err(pg_err)?;
            for cells in rows {
                let values: Vec<Box<dyn ToSql + Sync + Send>> = cells
                    .iter()
                    .zip(table.columns.iter())
                    .map(|(cell, (_, ty))| -> Box<dyn ToSql + Sync + Send> {
                        match (cell, ty) {
                            (Cell::Null, ColType::OptInt) => Box::new(None::<i64>),
                            (Cell::Null, _) => Box::new(None::<String>),
                            (Cell::Int(v), _) => Box::new(*v),
                            (Cell::Text(v), _) => Box::new(v.clone()),
                            (Cell::Bool(v), _) => Box::new(*v),
                            (Cell::Bytes(v), _) => Box::new(v.clone()),
                        }
                    })
                    .collect();
                let params: Vec<&(dyn ToSql + Sync)> = values
                    .iter()
                    .map(|v| v.as_ref() as &(dyn ToSql + Sync))
                    .collect();
                tx.execute(&stmt, &params).await.map_err(|e| {
                    StoreError::Refused(format!("a {} row cannot be loaded: {e}", table.name))
                })?;
                n += 1;
            }
        }
        // The names slugs and usernames hold are derived, not exported.
        tx.batch_execute(migrations::NAMES_BACKFILL)
            .await
            .map_err(pg_err)?;
        // Exports made before icons had tokens carry none.
        tx.batch_execute(migrations::FILL_ICON_TOKENS)
            .await
            .map_err(pg_err)?;
        // Keys come from the file, perhaps from before they were normalised.
        migrations::rekey(&mut tx, Scope::All)
            .await
            .map_err(pg_err)?
            .log(Scope::All);
        // Keep new ids above the imported ones.
        for t in ["workspaces", "groups", "users"] {
            tx.execute(
                &format!("SELECT setval(pg_get_serial_sequence('{t}', 'id'), COALESCE((SELECT MAX(id) FROM {t}), 0) + 1, false)"),
                &[],
            )
            .await
            .map_err(pg_err)?;
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(n)
    }
}
