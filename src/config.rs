//! Settings, layered: built-in defaults, then an optional TOML file (`--config` or
//! `GROUPD_CONFIG`), then `GROUPD_*` environment variables, then command-line flags.
//! clap reads flags and environment together (a flag wins over its variable); the
//! file fills what neither gave.

use crate::service::IconPolicy;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DATABASE_FILE: &str = "groupd.db";

/// The TOML file. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub database_pool_size: Option<usize>,
    pub idempotency_claim_secs: Option<u64>,
    /// Icons and webhooks may reach loopback and private addresses.
    pub allow_private_targets: Option<bool>,
    #[serde(default)]
    pub icons: FileIcons,
    #[serde(default)]
    pub webhooks: FileWebhooks,
    #[serde(default)]
    pub events: FileEvents,
    #[serde(default)]
    pub console: FileConsole,
    #[serde(default)]
    pub limits: FileLimits,
    #[serde(default)]
    pub http: FileHttp,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLimits {
    pub key_per_sec: Option<u32>,
    pub key_burst: Option<u32>,
    pub address_per_sec: Option<u32>,
    pub address_burst: Option<u32>,
    pub trusted_proxies: Option<Vec<String>>,
    pub request_deadline_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConsole {
    pub idle_minutes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileHttp {
    pub header_timeout_secs: Option<u64>,
    pub body_timeout_secs: Option<u64>,
    pub idle_timeout_secs: Option<u64>,
    pub max_connections: Option<usize>,
    pub body_memory_bytes: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileWebhooks {
    pub timeout_secs: Option<u64>,
    pub retry_schedule_secs: Option<Vec<u64>>,
    pub disable_after_hours: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEvents {
    pub retention_days: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileIcons {
    pub allow_private: Option<bool>,
    pub timeout_secs: Option<u64>,
    pub max_bytes: Option<usize>,
}

/// What flags and environment gave (clap fills it); `None` means "not given".
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub database_pool_size: Option<usize>,
    pub allow_private_targets: Option<bool>,
    /// The older name of `allow_private_targets`, for icons; still honoured.
    pub icon_allow_private: Option<bool>,
    pub webhook_timeout_secs: Option<u64>,
    pub webhook_retry_schedule: Option<Vec<u64>>,
    pub webhook_disable_after_hours: Option<u64>,
    pub event_retention_days: Option<u64>,
    pub console_idle_minutes: Option<u64>,
    pub icon_timeout_secs: Option<u64>,
    pub icon_max_bytes: Option<usize>,
    pub http_header_timeout_secs: Option<u64>,
    pub http_body_timeout_secs: Option<u64>,
    pub http_idle_timeout_secs: Option<u64>,
    pub http_max_connections: Option<usize>,
    pub http_body_memory_bytes: Option<usize>,
    pub idempotency_claim_secs: Option<u64>,
    pub rate_limit_key_per_sec: Option<u32>,
    pub rate_limit_key_burst: Option<u32>,
    pub rate_limit_address_per_sec: Option<u32>,
    pub rate_limit_address_burst: Option<u32>,
    pub trusted_proxies: Option<Vec<String>>,
    pub request_deadline_secs: Option<u64>,
}

/// Limits against abusive clients: request rates and the per-request deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Per API key; `None`: no limit.
    pub per_key: Option<crate::service::limits::Rate>,
    /// Per client address; `None`: no limit.
    pub per_address: Option<crate::service::limits::Rate>,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// A request running longer than this is stopped.
    pub request_deadline: Duration,
}

/// The default rate: far above what one site's backend sends, far below a flood.
pub const DEFAULT_RATE: crate::service::limits::Rate = crate::service::limits::Rate {
    per_sec: 1000,
    burst: 2000,
};

fn resolve_limits(o: &Overrides, f: &FileLimits) -> Result<Limits, ConfigError> {
    let rate = |name: &str, per_sec: Option<u32>, burst: Option<u32>| {
        let per_sec = per_sec.unwrap_or(DEFAULT_RATE.per_sec);
        if per_sec == 0 {
            return Ok(None);
        }
        let burst = burst.unwrap_or(per_sec.saturating_mul(2));
        if burst < per_sec {
            return Err(ConfigError::Invalid(format!(
                "limits.{name}_burst ({burst}) must be at least limits.{name}_per_sec ({per_sec})"
            )));
        }
        Ok(Some(crate::service::limits::Rate { per_sec, burst }))
    };
    let per_key = rate(
        "key",
        o.rate_limit_key_per_sec.or(f.key_per_sec),
        o.rate_limit_key_burst.or(f.key_burst),
    )?;
    let per_address = rate(
        "address",
        o.rate_limit_address_per_sec.or(f.address_per_sec),
        o.rate_limit_address_burst.or(f.address_burst),
    )?;
    let mut trusted_proxies = Vec::new();
    for raw in o
        .trusted_proxies
        .clone()
        .or_else(|| f.trusted_proxies.clone())
        .unwrap_or_default()
    {
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let net = raw
            .parse::<ipnet::IpNet>()
            .or_else(|_| raw.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map_err(|_| {
                ConfigError::Invalid(format!(
                    "limits.trusted_proxies: '{raw}' is not an address or CIDR network (10.0.0.1, 10.0.0.0/8, fd00::/8)"
                ))
            })?;
        trusted_proxies.push(net);
    }
    let deadline = o
        .request_deadline_secs
        .or(f.request_deadline_secs)
        .unwrap_or(60);
    if !(1..=3600).contains(&deadline) {
        return Err(ConfigError::Invalid(
            "limits.request_deadline_secs must be between 1 and 3600".into(),
        ));
    }
    Ok(Limits {
        per_key,
        per_address,
        trusted_proxies,
        request_deadline: Duration::from_secs(deadline),
    })
}

/// What one HTTP client may hold of the server: time, connections and memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// A request's head must arrive within this, from its first byte.
    pub header_timeout: Duration,
    /// A request's body must arrive within this, from the end of its head.
    pub body_timeout: Duration,
    /// A connection with no request running or arriving is closed after this.
    pub idle_timeout: Duration,
    /// Most open connections; `None`: derived from the file descriptor limit.
    pub max_connections: Option<usize>,
    /// Most bytes all request bodies being received may hold together.
    pub body_memory_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(30),
            max_connections: None,
            body_memory_bytes: 64 * 1024 * 1024,
        }
    }
}

/// The resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `postgres://...`: run on PostgreSQL instead of the SQLite file.
    pub database_url: Option<String>,
    /// Most connections to PostgreSQL this instance opens.
    pub database_pool_size: usize,
    pub icons: IconPolicy,
    pub http: HttpLimits,
    /// How long an idempotency claim lasts unless its request renews it.
    pub idempotency_claim: Duration,
    /// How webhook deliveries are sent and retried.
    pub webhooks: crate::service::delivery::DeliverySettings,
    /// How long events are kept.
    pub event_retention: Duration,
    /// How long an unused console session lasts.
    pub console_idle: Duration,
    /// Rate limits and the request deadline.
    pub limits: Limits,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error(
        "'{0}' is not an address to listen on; write it as IP:PORT, e.g. 127.0.0.1:8080 or 0.0.0.0:80"
    )]
    Listen(String),
    #[error("{0}")]
    Invalid(String),
}

impl Settings {
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join(DATABASE_FILE)
    }

    pub fn resolve(o: Overrides) -> Result<Settings, ConfigError> {
        let file = match &o.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let allow_private = o
            .allow_private_targets
            .or(o.icon_allow_private)
            .or(file.allow_private_targets)
            .or(file.icons.allow_private)
            .unwrap_or(false);
        let webhooks = resolve_webhooks(&o, &file.webhooks, allow_private)?;
        let retention_days = o
            .event_retention_days
            .or(file.events.retention_days)
            .unwrap_or(crate::service::events::DEFAULT_RETENTION.as_secs() / 86_400);
        if !(1..=36_500).contains(&retention_days) {
            return Err(ConfigError::Invalid(
                "events.retention_days must be between 1 and 36500".into(),
            ));
        }
        let idle_minutes = o
            .console_idle_minutes
            .or(file.console.idle_minutes)
            .unwrap_or(crate::domain::session::DEFAULT_IDLE_SECS as u64 / 60);
        if !(1..=1440).contains(&idle_minutes) {
            return Err(ConfigError::Invalid(
                "console.idle_minutes must be between 1 and 1440".into(),
            ));
        }
        let limits = resolve_limits(&o, &file.limits)?;
        let http = resolve_http(&o, &file.http)?;
        let listen_raw = o
            .listen
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen = listen_raw
            .parse::<SocketAddr>()
            .map_err(|_| ConfigError::Listen(listen_raw.clone()))?;
        let data_dir = o
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("."));
        let defaults = IconPolicy::default();
        let timeout_secs = o
            .icon_timeout_secs
            .or(file.icons.timeout_secs)
            .unwrap_or(defaults.timeout.as_secs());
        if timeout_secs == 0 || timeout_secs > 120 {
            return Err(ConfigError::Invalid(
                "icons.timeout_secs must be between 1 and 120".into(),
            ));
        }
        let max_bytes = o
            .icon_max_bytes
            .or(file.icons.max_bytes)
            .unwrap_or(defaults.max_bytes);
        if max_bytes == 0 || max_bytes > 50 * 1024 * 1024 {
            return Err(ConfigError::Invalid(
                "icons.max_bytes must be between 1 and 52428800".into(),
            ));
        }
        let database_url = o
            .database_url
            .or(file.database_url)
            .filter(|u| !u.trim().is_empty());
        if let Some(url) = &database_url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(ConfigError::Invalid(
                    "the database URL must start with postgres:// or postgresql:// \
                     (leave it unset to use the SQLite file in the data directory)"
                        .into(),
                ));
            }
        }
        let database_pool_size = o
            .database_pool_size
            .or(file.database_pool_size)
            .unwrap_or(16);
        if !(1..=1000).contains(&database_pool_size) {
            return Err(ConfigError::Invalid(
                "database_pool_size must be between 1 and 1000".into(),
            ));
        }
        let claim_secs = o
            .idempotency_claim_secs
            .or(file.idempotency_claim_secs)
            .unwrap_or(crate::service::idempotency::DEFAULT_CLAIM_LEASE.as_secs());
        if !(1..=3600).contains(&claim_secs) {
            return Err(ConfigError::Invalid(
                "idempotency_claim_secs must be between 1 and 3600".into(),
            ));
        }
        Ok(Settings {
            webhooks,
            event_retention: Duration::from_secs(retention_days * 86_400),
            console_idle: Duration::from_secs(idle_minutes * 60),
            limits,
            http,
            idempotency_claim: Duration::from_secs(claim_secs),
            listen,
            data_dir,
            database_url,
            database_pool_size,
            icons: IconPolicy {
                allow_private,
                timeout: Duration::from_secs(timeout_secs),
                max_bytes,
            },
        })
    }
}

fn resolve_webhooks(
    o: &Overrides,
    file: &FileWebhooks,
    allow_private: bool,
) -> Result<crate::service::delivery::DeliverySettings, ConfigError> {
    let mut d = crate::service::delivery::DeliverySettings {
        allow_private,
        ..Default::default()
    };
    let timeout = o
        .webhook_timeout_secs
        .or(file.timeout_secs)
        .unwrap_or(d.timeout.as_secs());
    if !(1..=60).contains(&timeout) {
        return Err(ConfigError::Invalid(
            "webhooks.timeout_secs must be between 1 and 60".into(),
        ));
    }
    d.timeout = Duration::from_secs(timeout);
    if let Some(schedule) = o
        .webhook_retry_schedule
        .clone()
        .or(file.retry_schedule_secs.clone())
    {
        if schedule.len() > 50 || schedule.iter().any(|s| *s > 7 * 86_400) {
            return Err(ConfigError::Invalid(
                "webhooks.retry_schedule_secs takes at most 50 waits of at most 604800 seconds \
                 each (an empty list: no retries)"
                    .into(),
            ));
        }
        d.retry.schedule = schedule;
    }
    if let Some(hours) = o.webhook_disable_after_hours.or(file.disable_after_hours) {
        if !(1..=24 * 365).contains(&hours) {
            return Err(ConfigError::Invalid(
                "webhooks.disable_after_hours must be between 1 and 8760".into(),
            ));
        }
        d.retry.disable_after_secs = hours * 3600;
    }
    Ok(d)
}

fn resolve_http(o: &Overrides, file: &FileHttp) -> Result<HttpLimits, ConfigError> {
    let d = HttpLimits::default();
    let secs = |name: &str, flag: Option<u64>, key: Option<u64>, default: Duration| {
        let v = flag.or(key).unwrap_or(default.as_secs());
        if (1..=3600).contains(&v) {
            Ok(Duration::from_secs(v))
        } else {
            Err(ConfigError::Invalid(format!(
                "http.{name} must be between 1 and 3600 seconds"
            )))
        }
    };
    let max_connections = o.http_max_connections.or(file.max_connections);
    if max_connections.is_some_and(|n| !(1..=1_000_000).contains(&n)) {
        return Err(ConfigError::Invalid(
            "http.max_connections must be between 1 and 1000000".into(),
        ));
    }
    let body_memory_bytes = o
        .http_body_memory_bytes
        .or(file.body_memory_bytes)
        .unwrap_or(d.body_memory_bytes);
    // Room for at least one body of the largest size a dialect accepts (1 MiB).
    if !(crate::server::LARGEST_BODY..=64 * 1024 * 1024 * 1024).contains(&body_memory_bytes) {
        return Err(ConfigError::Invalid(format!(
            "http.body_memory_bytes must be between {} (the largest body a door \
                 accepts) and 68719476736 (64 GiB)",
            crate::server::LARGEST_BODY
        )));
    }
    Ok(HttpLimits {
        header_timeout: secs(
            "header_timeout_secs",
            o.http_header_timeout_secs,
            file.header_timeout_secs,
            d.header_timeout,
        )?,
        body_timeout: secs(
            "body_timeout_secs",
            o.http_body_timeout_secs,
            file.body_timeout_secs,
            d.body_timeout,
        )?,
        idle_timeout: secs(
            "idle_timeout_secs",
            o.http_idle_timeout_secs,
            file.idle_timeout_secs,
            d.idle_timeout,
        )?,
        max_connections,
        body_memory_bytes,
    })
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("groupd.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/from/file\"\n[icons]\nallow_private = true\n",
        )
        .unwrap();
        let s = Settings::resolve(Overrides {
            config: Some(path.clone()),
            listen: Some("127.0.0.1:9100".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(s.listen.port(), 9100);
        assert_eq!(s.data_dir, PathBuf::from("/from/file"));
        assert!(s.icons.allow_private);
        let d = Settings::resolve(Overrides::default()).unwrap();
        assert_eq!(d.listen.to_string(), DEFAULT_LISTEN);
        assert!(!d.icons.allow_private);
        assert_eq!(d.http, HttpLimits::default());
        std::fs::write(&path, "lisen = 1\n").unwrap();
        let err = Settings::resolve(Overrides {
            config: Some(path),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("lisen"));
        assert!(
            Settings::resolve(Overrides {
                listen: Some("localhost".into()),
                ..Default::default()
            })
            .is_err()
        );
    }

    #[test]
    fn idempotency_claims_last_a_bounded_time() {
        let d = Settings::resolve(Overrides::default()).unwrap();
        assert_eq!(d.idempotency_claim, Duration::from_secs(30));
        for bad in [0, 3601] {
            let r = Settings::resolve(Overrides {
                idempotency_claim_secs: Some(bad),
                ..Default::default()
            });
            assert!(r.is_err(), "{bad}");
        }
    }
}
