//! Logging to standard error, as text or JSON lines (`--log-format`), filtered by
//! `GROUPD_LOG` (default `info`), with one
//! rule no filter can lift: libraries that would print SQL statement parameters
//! (argon2 hashes, emails, names) are never heard below `info`.
//!
//! tokio-postgres logs every statement with its parameters at `debug`; its events
//! reach us through the `log` bridge with their own target, so a target rule stops
//! them whatever `GROUPD_LOG` asks for.

use tracing::{Level, Metadata};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, FilterExt, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Targets that may carry statement parameters in their `debug` and `trace` events.
const PARAMETER_TARGETS: &[&str] = &["tokio_postgres", "postgres_protocol", "postgres"];

/// Whether an event may be logged at all, whatever the filter says.
pub fn may_log(meta: &Metadata<'_>) -> bool {
    *meta.level() <= Level::INFO || !names_parameter_target(meta.target())
}

fn names_parameter_target(target: &str) -> bool {
    PARAMETER_TARGETS.iter().any(|t| {
        target
            .strip_prefix(t)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines; colour codes only when standard error is a terminal.
    Text,
    /// One JSON object a line, with the request span's fields (for log shippers).
    Json,
}

/// Installs the logger. Call once, at start.
pub fn init(format: LogFormat) {
    let env = EnvFilter::try_from_env("GROUPD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let filter = env.and(filter_fn(may_log));
    use std::io::IsTerminal;
    let _ = match format {
        LogFormat::Text => tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_filter(filter),
            )
            .try_init(),
        LogFormat::Json => tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr)
                    .with_filter(filter),
            )
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_targets_are_matched_by_path() {
        assert!(names_parameter_target("tokio_postgres"));
        assert!(names_parameter_target("tokio_postgres::query"));
        assert!(names_parameter_target("postgres_protocol::message"));
        assert!(!names_parameter_target("tokio_postgresql"));
        assert!(!names_parameter_target("groupd::store::postgres"));
    }
}
