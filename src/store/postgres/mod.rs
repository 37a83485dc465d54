//! The PostgreSQL engine: a bounded connection pool (deadpool), one transaction
//! per write, row locks (`SELECT ... FOR UPDATE`) where a check and a write must
//! not be split (member limits, policy patches, removals). Several groupd instances
//! can share one database. A lost connection is reported as `Unavailable` and
//! replaced on the next use, so the server recovers when the database is back.

mod connect;
mod events;
mod migrations;
mod revocations;
mod tls;

use super::{
    ApiKeyRecord, CategoryStore, ConnectFailure, DumpStore, Entity, FieldStore, GroupQuery,
    GroupStore, GroupUpdate, IconImage, IdempotencyClaim, IdempotencyStore, KeyStore, MemberStore,
    NameHolder, NewApiKey, NewClaim, NewGroup, NewUser, SessionStore, StoreError, UserStore,
    UserUpdate, WorkspaceStore,
};
use crate::domain::category::{Category, DEFAULT_CATEGORY_ID, DEFAULT_CATEGORY_NAME};
use crate::domain::field::{FieldDef, FieldKind, NewFieldDef};
use crate::domain::group::{Builtin, Group, GroupId, GroupRef};
use crate::domain::key::ApiKey;
use crate::domain::membership::OnExisting;
use crate::domain::user::{GroupRole, Membership, User, UserId, UserRef};
use crate::domain::workspace::{DEFAULT_WORKSPACE, Workspace, WorkspaceId};
use crate::store::rekey::Scope;
use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::time::Duration;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
// Group row helpers other aggregates' files use too (names for users, the row
// lock for members, the built-ins for a new workspace).
use group_values::{insert_builtins, put_name};
use groups::lock_group;

pub struct PostgresStore {
    pool: Pool,
    revocations: revocations::Revocations,
    /// What the identifier re-key did when this connect migrated (empty otherwise).
    rekey_report: crate::store::rekey::Outcome,
    /// Connections handed out, for sampling the pool's state (see `client_for`).
    checkouts: std::sync::atomic::AtomicU64,
    /// Groups' policies as this instance last read them (see [`members`]).
    policies: PolicyCache,
}

/// Group policies as last read under a row lock, for one-statement member adds:
/// the statement compares the row's policy with the one planned on, so a policy
/// changed since (here or on another instance) only sends the add the careful
/// way. Bounded: emptied when it reaches [`PolicyCache::MAX`] groups.
#[derive(Default)]
struct PolicyCache(std::sync::Mutex<std::collections::HashMap<i64, std::sync::Arc<CachedPolicy>>>);

struct CachedPolicy {
    /// The `groups.policy` text, as stored.
    text: String,
    policy: crate::domain::policy::GroupPolicy,
}

impl PolicyCache {
    const MAX: usize = 100_000;

    fn get(&self, group: GroupId) -> Option<std::sync::Arc<CachedPolicy>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&group.0)
            .cloned()
    }

    fn put(&self, group: GroupId, text: String, policy: crate::domain::policy::GroupPolicy) {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= Self::MAX {
            map.clear();
        }
        map.insert(group.0, std::sync::Arc::new(CachedPolicy { text, policy }));
    }
}

/// A group's member count, for `FROM groups g`: the row's count plus the
/// deltas of its slots in `member_counts` (migration 8).
macro_rules! member_count_of_g {
    () => {
        "(g.member_count + COALESCE((SELECT sum(mc.n) FROM member_counts mc \
          WHERE mc.group_id = g.id), 0))::bigint"
    };
}

/// Adds `$2` to the member count of group `$1` in the slot of this connection
/// (one of 16, from its server process id: the pool's connections mostly get
/// slots of their own, so adds to one group do not queue on one row).
const COUNT_DELTA: &str = "INSERT INTO member_counts (group_id, slot, n) \
     VALUES ($1, (pg_backend_pid() % 16)::smallint, $2) \
     ON CONFLICT (group_id, slot) DO UPDATE SET n = member_counts.n + excluded.n";

/// Whether a one-statement write stopped because what it assumed did not hold
/// (`groupd_assumption_failed()`, migration 8): nothing was written.
fn assumption_failed(e: &tokio_postgres::Error) -> bool {
    e.as_db_error()
        .is_some_and(|db| db.code().code() == "GD001")
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
        // Writes take their row locks in one order, so these should not happen;
        // if one does, nothing was written and the same request can be sent again.
        if code == &SqlState::T_R_DEADLOCK_DETECTED || code == &SqlState::T_R_SERIALIZATION_FAILURE
        {
            return StoreError::Unavailable(format!(
                "the database stopped a write that waited on another ({}); nothing was written, \
                 send it again",
                code.code()
            ));
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
            "users_idp_user_name" => StoreError::UsernameTaken,
            "workspaces_name_key" => StoreError::AlreadyExists("workspace".into()),
            "api_keys_pkey" => StoreError::AlreadyExists("key prefix".into()),
            "field_defs_pkey" => StoreError::AlreadyExists("custom field".into()),
            other => StoreError::AlreadyExists(other.to_string()),
        };
    }
    pg_err(e)
}

/// How many columns [`user_columns`] selects (what a query adds comes after).
const USER_COLUMN_COUNT: usize = 11;

macro_rules! user_columns {
    () => {
        "u.id, u.workspace_id, u.full_name, u.username, u.email, \
     u.password_hash, u.created_at, u.updated_at, u.external_id, u.active, u.idp_user_name"
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
        external_id: r.get(8),
        active: r.get(9),
        idp_user_name: r.get(10),
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
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

impl PostgresStore {
    /// Connects (with a pool of at most `pool_size` connections) and migrates.
    pub async fn connect(url: &str, pool_size: usize) -> Result<PostgresStore, StoreError> {
        let tls = tls::split_url(url)?;
        let config: tokio_postgres::Config = tls.url.parse().map_err(|e| {
            StoreError::Unavailable(format!("the database URL cannot be read: {e}"))
        })?;
        let mut config = config;
        config.connect_timeout(Duration::from_secs(5));
        // As libpq: no TLS over a Unix socket (it would be refused by name).
        let only_sockets = !config.get_hosts().is_empty()
            && config
                .get_hosts()
                .iter()
                .all(|h| !matches!(h, tokio_postgres::config::Host::Tcp(_)));
        config.ssl_mode(if only_sockets && tls.mode == tls::Mode::Prefer {
            tokio_postgres::config::SslMode::Disable
        } else {
            tls.ssl_mode()
        });
        let connector = tls.connector()?;
        let manager = Manager::from_config(
            config.clone(),
            connector.clone(),
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
        // The first connection tells a wrong password, a missing database or a
        // server that is down apart, so that start-up can say what to fix.
        match pool.get().await {
            Ok(first) => drop(first),
            Err(deadpool_postgres::PoolError::Backend(e)) => {
                return Err(StoreError::Connect(connect::classify(&config, &e)));
            }
            Err(deadpool_postgres::PoolError::Timeout(_)) => {
                return Err(StoreError::Connect(ConnectFailure::Timeout {
                    target: connect::target(&config),
                }));
            }
            Err(e) => {
                return Err(StoreError::Unavailable(format!(
                    "no database connection: {e}"
                )));
            }
        }
        let mut store = PostgresStore {
            pool,
            revocations: revocations::Revocations::new(config, connector),
            rekey_report: Default::default(),
            checkouts: Default::default(),
            policies: Default::default(),
        };
        store.rekey_report = store.migrate().await?;
        Ok(store)
    }

    /// A pooled connection for the operation `op` (see [`op!`]). The wait for it
    /// and the pool's state are measured here; the operation's whole time when the
    /// connection goes back.
    async fn client_for(&self, op: &'static str) -> Result<Timed, StoreError> {
        let start = std::time::Instant::now();
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| StoreError::Unavailable(format!("no database connection: {e}")))?;
        pool_metrics().wait.record(start.elapsed().as_secs_f64());
        // The pool's state takes its lock: read it on one checkout in 32 (the
        // gauges are for dashboards, not for each request).
        if self
            .checkouts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % 32
            == 0
        {
            let status = self.pool.status();
            let m = pool_metrics();
            m.size.set(status.size as f64);
            m.max.set(status.max_size as f64);
            m.in_use
                .set(status.size.saturating_sub(status.available) as f64);
        }
        Ok(Timed { client, op, start })
    }

    /// What the identifier re-key did at this connect (nothing unless it migrated).
    pub fn rekey_report(&self) -> &crate::store::rekey::Outcome {
        &self.rekey_report
    }

    async fn migrate(&self) -> Result<crate::store::rekey::Outcome, StoreError> {
        let mut report = crate::store::rekey::Outcome::default();
        let mut c = self.client_for(op!()).await?;
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
                report = migrations::rekey(&mut tx, Scope::NonAscii)
                    .await
                    .map_err(pg_err)?;
                report.log(Scope::NonAscii);
            }
        }
        tx.execute(
            &tx.cached("UPDATE groupd_schema SET version = $1 WHERE id = 1")
                .await?,
            &[&supported],
        )
        .await
        .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)?;
        Ok(report)
    }
}

// The store operations, one file per aggregate (declared last: they use the
// row macros above).
mod categories;
mod dump;
mod fields;
mod group_removal;
mod group_values;
mod groups;
mod idempotency;
mod keys;
mod members;
mod sessions;
use members::{Counting, add_members_in};

/// The name of the store method this is written in, for metrics.
macro_rules! op {
    () => {{
        fn f() {}
        let name = std::any::type_name_of_val(&f);
        crate::store::op_name(name.strip_suffix("::f").unwrap_or(name))
    }};
}
use op;

/// The pool's metric handles, looked up once.
struct PoolMetrics {
    wait: metrics::Histogram,
    size: metrics::Gauge,
    max: metrics::Gauge,
    in_use: metrics::Gauge,
}

fn pool_metrics() -> &'static PoolMetrics {
    static M: std::sync::OnceLock<PoolMetrics> = std::sync::OnceLock::new();
    M.get_or_init(|| PoolMetrics {
        wait: metrics::histogram!("groupd_postgres_pool_wait_seconds"),
        size: metrics::gauge!("groupd_postgres_pool_size"),
        max: metrics::gauge!("groupd_postgres_pool_max"),
        in_use: metrics::gauge!("groupd_postgres_pool_in_use"),
    })
}

/// A pooled connection that records its operation's time when it goes back.
pub(crate) struct Timed {
    client: deadpool_postgres::Client,
    op: &'static str,
    start: std::time::Instant,
}

impl std::ops::Deref for Timed {
    type Target = deadpool_postgres::Client;
    fn deref(&self) -> &Self::Target {
        &self.client
    }
}

impl std::ops::DerefMut for Timed {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.client
    }
}

impl Drop for Timed {
    fn drop(&mut self) {
        crate::store::record_op("postgres", self.op, self.start);
    }
}
mod users;
mod webhooks;
mod workspaces;
