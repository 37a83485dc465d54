//! What an operator sees of each request: its id (`X-Request-Id`, kept when the
//! client sent a valid one, made otherwise, echoed in the answer), the span that
//! every log line of the request carries (id, dialect, operation, workspace,
//! status, latency), one log line when it ends, and its metrics.

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;
use tracing::field::Empty;

pub const REQUEST_ID: &str = "x-request-id";

/// The operation a dialect carried out, set on its answer when the route does not
/// tell it (Grupo's `add=groups` is in the body).
#[derive(Debug, Clone, Copy)]
pub struct Operation(pub &'static str);

/// An incoming request id is kept if it is 1 to 128 characters of letters,
/// digits and `-_.:` (what log shippers and proxies use); anything else could
/// forge or break log lines, so a new one is made.
pub fn valid_request_id(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

fn new_request_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Which door a path belongs to.
pub fn dialect_of(path: &str) -> &'static str {
    if path == "/api_request" || path.starts_with("/api_request/") {
        "grupo"
    } else if path.starts_with("/admin/api.php") {
        "activecampaign"
    } else if path == "/api/v1" || path.starts_with("/api/v1/") {
        "rest"
    } else if path == "/console" || path.starts_with("/console/") {
        "console"
    } else if path == "/health" || path.starts_with("/health/") {
        "health"
    } else if path == "/metrics" {
        "metrics"
    } else if path.starts_with("/icons/") || path.starts_with("/groups/") {
        "icons"
    } else {
        "other"
    }
}

/// The ActiveCampaign operation a query names, from the known set only (labels
/// must stay few, whatever clients send).
fn activecampaign_action(query: Option<&str>) -> &'static str {
    let action = query
        .unwrap_or("")
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == "api_action")
        .map(|(_, v)| v);
    crate::dialects::activecampaign::ACTIONS
        .iter()
        .find(|a| Some(**a) == action)
        .copied()
        .unwrap_or("unknown")
}

/// Counts the request as in flight until dropped (also when the client leaves).
struct InFlight;

impl InFlight {
    fn start() -> InFlight {
        metrics::gauge!("groupd_http_requests_in_flight").increment(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!("groupd_http_requests_in_flight").decrement(1.0);
    }
}

/// The middleware: the request's id, span, log line and metrics.
pub async fn observe(mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|s| valid_request_id(s))
        .map(str::to_string)
        .unwrap_or_else(new_request_id);
    if let Ok(v) = HeaderValue::from_str(&id) {
        req.headers_mut().insert(REQUEST_ID, v);
    }
    let path = req.uri().path();
    let dialect = dialect_of(path);
    let route: Option<String> = match dialect {
        "activecampaign" => Some(activecampaign_action(req.uri().query()).to_string()),
        "grupo" => None,
        _ => Some(match req.extensions().get::<MatchedPath>() {
            Some(m) => format!("{} {}", req.method(), m.as_str()),
            None => "unmatched".to_string(),
        }),
    };
    let span = tracing::info_span!(
        "request",
        id = %id,
        dialect = %dialect,
        method = %req.method(),
        path = %path,
        operation = Empty,
        workspace = Empty,
    );
    let in_flight = InFlight::start();
    let mut response = next.run(req).instrument(span.clone()).await;
    drop(in_flight);
    let operation = response
        .extensions()
        .get::<Operation>()
        .map(|o| o.0.to_string())
        .or(route)
        .unwrap_or_else(|| "unknown".to_string());
    let status = response.status().as_u16();
    let elapsed = start.elapsed();
    span.record("operation", tracing::field::display(&operation));
    span.in_scope(|| {
        tracing::info!(
            status,
            micros = elapsed.as_micros() as u64,
            "request finished"
        );
    });
    let labels = [
        ("dialect", dialect.to_string()),
        ("operation", operation),
        ("status", status.to_string()),
    ];
    metrics::counter!("groupd_http_requests_total", &labels).increment(1);
    metrics::histogram!("groupd_http_request_duration_seconds", &labels[..2])
        .record(elapsed.as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_kept_only_when_harmless() {
        assert!(valid_request_id("a1b2-C3_d4.e5:f6"));
        assert!(valid_request_id(&"x".repeat(128)));
        for bad in [
            "",
            "has space",
            "line\nbreak",
            "quote\"",
            &"x".repeat(129),
            "é",
        ] {
            assert!(!valid_request_id(bad), "{bad:?}");
        }
        let made = new_request_id();
        assert_eq!(made.len(), 32);
        assert!(valid_request_id(&made));
    }

    #[test]
    fn paths_name_their_door() {
        assert_eq!(dialect_of("/api_request/"), "grupo");
        assert_eq!(dialect_of("/admin/api.php"), "activecampaign");
        assert_eq!(dialect_of("/api/v1/groups/3"), "rest");
        assert_eq!(dialect_of("/console/groups"), "console");
        assert_eq!(dialect_of("/health/ready"), "health");
        assert_eq!(dialect_of("/api/v10"), "other");
        assert_eq!(
            activecampaign_action(Some("api_action=group_add&x=1")),
            "group_add"
        );
        assert_eq!(activecampaign_action(Some("api_action=evil%0A")), "unknown");
        assert_eq!(activecampaign_action(None), "unknown");
    }
}
