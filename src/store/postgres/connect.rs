//! Why a first connection to PostgreSQL failed, told apart from tokio-postgres's
//! error by its SQLSTATE or its I/O cause (never by its text), so that start-up can
//! say what to fix.

use crate::store::ConnectFailure;
use tokio_postgres::Config;
use tokio_postgres::config::Host;
use tokio_postgres::error::SqlState;

/// The user, database and address a configuration names, for messages.
fn names(config: &Config) -> (String, String, String) {
    let user = config.get_user().unwrap_or("(none)").to_string();
    let database = config
        .get_dbname()
        .map(str::to_string)
        .unwrap_or_else(|| user.clone());
    (user, database, target(config))
}

/// The first address a configuration names, for messages.
pub fn target(config: &Config) -> String {
    let port = config.get_ports().first().copied().unwrap_or(5432);
    match (config.get_hosts().first(), config.get_hostaddrs().first()) {
        (Some(Host::Tcp(h)), _) => format!("{h}:{port}"),
        #[cfg(unix)]
        (Some(Host::Unix(p)), _) => format!("{}/.s.PGSQL.{port}", p.display()),
        (None, Some(addr)) => format!("{addr}:{port}"),
        (None, None) => format!("(no host):{port}"),
    }
}

/// Classifies the error of a first connection made with `config`.
pub fn classify(config: &Config, e: &tokio_postgres::Error) -> ConnectFailure {
    let (user, database, target) = names(config);
    if let Some(db) = e.as_db_error() {
        let reason = db.message().to_string();
        let code = db.code();
        return if *code == SqlState::INVALID_PASSWORD {
            ConnectFailure::WrongPassword { user }
        } else if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
            ConnectFailure::AuthRefused { user, reason }
        } else if *code == SqlState::INVALID_CATALOG_NAME {
            ConnectFailure::NoDatabase { database, user }
        } else if *code == SqlState::TOO_MANY_CONNECTIONS {
            ConnectFailure::TooManyConnections { target }
        } else if *code == SqlState::CANNOT_CONNECT_NOW {
            ConnectFailure::Starting { target }
        } else {
            ConnectFailure::Other(format!("{reason} (SQLSTATE {})", code.code()))
        };
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(c) = cause {
        let tls = c.downcast_ref::<rustls::Error>().or_else(|| {
            c.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(t) = tls {
            return ConnectFailure::Tls {
                target,
                reason: t.to_string(),
            };
        }
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::TimedOut => ConnectFailure::Timeout { target },
                _ => ConnectFailure::ServerDown {
                    target,
                    reason: io.to_string(),
                },
            };
        }
        cause = c.source();
    }
    // What the configuration itself rules out, before guessing at the server.
    if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require
        || config.get_channel_binding() == tokio_postgres::config::ChannelBinding::Require
    {
        return ConnectFailure::TlsRequired { target };
    }
    if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
        return ConnectFailure::NoHost;
    }
    // tokio-postgres has no typed kind for a password the server asked for and
    // the configuration lacks; with no server error, no I/O cause, an open
    // connection and nothing above, that is the one failure left before the
    // connection is made. Its own words come along in case it was something else.
    if config.get_password().is_none() && !e.is_closed() {
        return ConnectFailure::PasswordMissing {
            user,
            detail: e.to_string(),
        };
    }
    ConnectFailure::Other(e.to_string())
}
