//! The HTTP server: mounts the dialects and the shared routes, and runs until a
//! shutdown signal. `conn` accepts and keeps connections within the HTTP limits
//! (timeouts, connection cap); every request body is wrapped with the body limits
//! (`wire::body`) before a dialect reads it.

mod conn;
pub mod guard;
pub mod metrics;
pub mod observe;

use crate::config::Settings;
use crate::dialects;
use crate::dialects::rest::bearer;
use crate::domain::group::{DEFAULT_ICON_PATH, icon_token_of_file};
use crate::service::icons::DEFAULT_ICON_SVG;
use crate::service::{IconFetcher, Service, ServiceError};
use crate::store::StoreError;
use crate::store::sqlite::SqliteStore;
use crate::wire::body::BodyLimits;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use std::io::Write;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error(
        "cannot open the database: {0}\nCheck that --data-dir (GROUPD_DATA_DIR) names a directory groupd can write to."
    )]
    Store(StoreError),
    #[error(
        "cannot use the PostgreSQL database: {0}\nCheck --database-url (GROUPD_DATABASE_URL): is the server running, does the database exist, may this user connect?"
    )]
    Postgres(StoreError),
    #[error("cannot connect to PostgreSQL: {0}")]
    PostgresConnect(crate::store::ConnectFailure),
    #[error(
        "cannot listen on {addr}: {source}\nPick another address with --listen (or GROUPD_LISTEN)."
    )]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Service(#[from] ServiceError),
    /// Standard output was closed (`groupd group list | head -1`): end quietly.
    #[error("standard output is closed")]
    OutputClosed,
    #[error("{0}")]
    Other(String),
}

impl StartupError {
    /// A failed write to standard output: closed (quiet end) or another fault.
    pub fn output(e: std::io::Error) -> StartupError {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            StartupError::OutputClosed
        } else {
            StartupError::Other(format!("cannot write to standard output: {e}"))
        }
    }
}

/// Opens the store (PostgreSQL when a database URL is set, else the SQLite file)
/// and builds the service for these settings.
pub async fn build_service(settings: &Settings) -> Result<Service, StartupError> {
    let store: Arc<dyn crate::store::Store> = match &settings.database_url {
        Some(url) => Arc::new(
            crate::store::postgres::PostgresStore::connect(url, settings.database_pool_size)
                .await
                .map_err(|e| match e {
                    StoreError::Connect(why) => StartupError::PostgresConnect(why),
                    other => StartupError::Postgres(other),
                })?,
        ),
        None => {
            Arc::new(SqliteStore::open(&settings.database_path()).map_err(StartupError::Store)?)
        }
    };
    let icons = IconFetcher::new(settings.icons.clone()).map_err(StartupError::Other)?;
    let rates = crate::service::limits::RateLimits::new(
        settings.limits.per_key,
        settings.limits.per_address,
    );
    Ok(Service::new(store, icons)
        .with_claim_lease(settings.idempotency_claim)
        .with_console_idle(settings.console_idle)
        .with_rate_limits(rates))
}

/// The address a request's connection came from (set by the accept loop).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub std::net::SocketAddr);

/// Every route groupd serves, behind one front middleware: the request observer
/// (ids, logs, metrics), the guard (rate limits and deadline of `limits`) and the
/// body limits.
pub fn router(service: Service, limits: &crate::config::Limits, bodies: BodyLimits) -> Router {
    let front = observe::Front {
        guard: guard::Guard::new(limits, service.rate_limits()),
        bodies,
    };
    base_routes(&service)
        .layer(middleware::from_fn_with_state(front, observe::observe))
        .with_state(service)
}

fn base_routes(service: &Service) -> Router<Service> {
    Router::new()
        .merge(dialects::grupo::routes())
        .merge(dialects::activecampaign::routes())
        .merge(dialects::rest::routes(service.clone()))
        .merge(crate::console::routes())
        .nest(crate::scim::BASE, crate::scim::routes())
        .route(DEFAULT_ICON_PATH, get(default_icon))
        .route("/icons/{file}", get(icon))
        .route("/groups/{id}/icon", get(group_icon))
        .route("/health", get(|| async { "ok" }))
        .route("/health/live", get(|| async { "live" }))
        .route("/health/ready", get(ready))
        .route("/metrics", get(metrics::serve))
        .fallback(not_found)
}

/// How long `/health/ready` waits for the database.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// `GET /health/ready`: 200 when the database answers within two seconds, 503
/// otherwise (a load balancer then sends requests elsewhere).
async fn ready(State(service): State<Service>) -> Response {
    let why = match tokio::time::timeout(READY_WITHIN, service.ping()).await {
        Ok(Ok(())) => return (StatusCode::OK, "ready").into_response(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!(
            "the database did not answer within {} s",
            READY_WITHIN.as_secs()
        ),
    };
    tracing::warn!(reason = %why, "not ready");
    (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}")).into_response()
}

fn json_error(status: StatusCode, key: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "key": key, "message": message } });
    (status, axum::Json(body)).into_response()
}

async fn not_found() -> Response {
    json_error(StatusCode::NOT_FOUND, "not_found", "No such route")
}

fn unavailable(e: ServiceError) -> Response {
    tracing::warn!(error = %e, "icon request failed");
    json_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "something_went_wrong",
        "Something Went Wrong",
    )
}

/// `GET /icons/default.svg`: the icon of groups without one.
async fn default_icon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        DEFAULT_ICON_SVG,
    )
        .into_response()
}

/// `GET /icons/{token}.png`: a group's 200x200 PNG, by the unguessable token the
/// group's `icon_url` carries. No key, so pages can use it in `<img>`; the token
/// changes whenever the icon does, so it may be cached for good.
async fn icon(State(service): State<Service>, Path(file): Path<String>) -> Response {
    let no_icon = || json_error(StatusCode::NOT_FOUND, "not_found", "No such icon");
    let Some(token) = icon_token_of_file(&file) else {
        return no_icon();
    };
    match service.icon_by_token(token).await {
        Ok(Some(icon)) => (
            [
                (header::CONTENT_TYPE, icon.content_type),
                (
                    header::CACHE_CONTROL,
                    "public, max-age=31536000, immutable".to_string(),
                ),
            ],
            icon.data,
        )
            .into_response(),
        Ok(None) => no_icon(),
        Err(e) => unavailable(e),
    }
}

/// `GET /groups/{id}/icon` with `Authorization: Bearer <key>`: a redirect to where
/// the group's icon is served. Group ids are sequential across workspaces, so this
/// route needs a key of the group's own workspace; without one every id gets the
/// same 401, and nothing says which groups exist.
async fn group_icon(
    State(service): State<Service>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let caller = match service
        .authenticate(
            bearer(headers.get(header::AUTHORIZATION)),
            crate::domain::event::Door::Grupo,
        )
        .await
    {
        Ok(caller) => caller,
        Err(ServiceError::Unauthorized) => {
            return json_error(
                StatusCode::UNAUTHORIZED,
                "invalid_api_secret_key",
                "Invalid API Secret Key",
            );
        }
        Err(e) => return unavailable(e),
    };
    match service.get_group(caller, &id).await {
        Ok(group) => Redirect::temporary(&group.icon_path()).into_response(),
        Err(ServiceError::GroupNotFound | ServiceError::Invalid(_)) => {
            json_error(StatusCode::NOT_FOUND, "group_not_found", "Group Not Found")
        }
        Err(e) => unavailable(e),
    }
}

/// Starts groupd: opens the store, makes the first key on a new database, listens,
/// and serves until Ctrl-C or SIGTERM.
pub async fn serve(settings: Settings) -> Result<(), StartupError> {
    metrics::install().map_err(StartupError::Other)?;
    let service = build_service(&settings).await?;
    if let Some(key) = service.bootstrap().await.map_err(StartupError::Service)? {
        // A closed standard output must not stop the server: these lines are a
        // courtesy, the key can be made again with `groupd key create`.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "Created workspace '{}' with its first API key:\n  {}\n\
             Keep it safe: it is shown only this once. Make more with `groupd key create`.",
            key.workspace, key.secret
        );
    }
    let max_connections = connection_cap(&settings)?;
    service
        .spawn_deliverer(settings.webhooks.clone())
        .map_err(StartupError::Other)?;
    service.spawn_pruner(settings.event_retention);
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|source| StartupError::Listen {
            addr: settings.listen,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartupError::Other(e.to_string()))?;
    let database = match &settings.database_url {
        Some(_) => "PostgreSQL".to_string(),
        None => settings.database_path().display().to_string(),
    };
    let _ = writeln!(
        std::io::stdout(),
        "groupd listening on http://{addr} (database {database})\n\
         Admin console: http://{addr}/console/ (sign in with an API key)"
    );
    let _ = std::io::stdout().flush();
    let http = settings.http;
    let bodies = BodyLimits::new(http.body_memory_bytes, http.body_timeout, LARGEST_BODY);
    tokio::spawn(give_memory_back(bodies.clone()));
    let app = router(service, &settings.limits, bodies);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let limits = conn::ConnLimits {
        header_timeout: http.header_timeout,
        idle_timeout: http.idle_timeout,
        max_connections,
    };
    conn::serve(listener, app, limits, stopped).await;
    Ok(())
}

/// The largest body any dialect keeps (each refuses more with its own error).
pub const LARGEST_BODY: usize = max_of(
    max_of(
        dialects::rest::MAX_BODY_BYTES,
        crate::console::MAX_BODY_BYTES,
    ),
    max_of(
        max_of(
            dialects::grupo::MAX_BODY_BYTES,
            dialects::activecampaign::MAX_BODY_BYTES,
        ),
        crate::scim::MAX_BODY_BYTES,
    ),
);

const fn max_of(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

/// The default connection cap where descriptors allow more: with a read buffer of
/// at most 16 KiB each, their heads can hold at most 160 MB.
const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// File descriptors kept free beside the connections: the database, icon fetches,
/// the log, and a connection accepted at the cap before an idle one is closed.
const SPARE_DESCRIPTORS: usize = 64;

/// The connection cap: the configured one, or what the file descriptor limit
/// leaves room for. The soft limit is raised to the hard one first.
fn connection_cap(settings: &Settings) -> Result<usize, StartupError> {
    let spare = SPARE_DESCRIPTORS
        + settings
            .database_url
            .as_ref()
            .map_or(0, |_| settings.database_pool_size + 1);
    let room = descriptor_limit().saturating_sub(spare);
    match settings.http.max_connections {
        Some(n) if n > room => Err(StartupError::Other(format!(
            "http.max_connections is {n}, but the file descriptor limit leaves room for {room} \
             connections ({spare} are kept for the database and icon fetches).\n\
             Raise the limit (ulimit -n, or LimitNOFILE= in a systemd unit) or lower \
             --http-max-connections (GROUPD_HTTP_MAX_CONNECTIONS)."
        ))),
        Some(n) => Ok(n),
        None if room < 16 => Err(StartupError::Other(format!(
            "the file descriptor limit leaves room for only {room} connections.\n\
             Raise it (ulimit -n, or LimitNOFILE= in a systemd unit)."
        ))),
        None => Ok(room.min(DEFAULT_MAX_CONNECTIONS)),
    }
}

/// The file descriptor limit, after raising the soft limit to the hard one.
#[cfg(unix)]
fn descriptor_limit() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
    }
    usize::try_from(lim.rlim_cur).unwrap_or(usize::MAX)
}

#[cfg(not(unix))]
fn descriptor_limit() -> usize {
    1024
}

/// Hands memory freed by request bodies back to the system: glibc keeps freed
/// heap in its arenas, so a burst of large bodies would otherwise stay in RSS.
async fn give_memory_back(bodies: BodyLimits) {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(2);
    const WORTH_IT: u64 = 4 * 1024 * 1024;
    let mut trimmed_at = bodies.received();
    loop {
        tokio::time::sleep(EVERY).await;
        let received = bodies.received();
        if received.saturating_sub(trimmed_at) >= WORTH_IT && bodies.in_use() < 1024 * 1024 {
            trimmed_at = received;
            let _ = tokio::task::spawn_blocking(trim_heap).await;
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_heap() {
    // SAFETY: malloc_trim only returns free heap pages to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_heap() {}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
