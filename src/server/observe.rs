//! What an operator sees of each request: its id (`X-Request-Id`, kept when the
//! client sent a valid one, made otherwise, echoed in the answer), the span that
//! every log line of the request carries (id, dialect, operation, workspace,
//! status, latency), one log line when it ends, and its metrics.

use axum::extract::{MatchedPath, Request, State};
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

/// A fresh id: 32 hex digits of 128 random bits, as a header value (made on the
/// stack: no allocation but the header's own).
fn new_request_id() -> HeaderValue {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let mut hex = [0u8; 32];
    for (i, b) in bytes.iter().enumerate() {
        hex[2 * i] = b"0123456789abcdef"[usize::from(b >> 4)];
        hex[2 * i + 1] = b"0123456789abcdef"[usize::from(b & 15)];
    }
    HeaderValue::from_bytes(&hex).unwrap_or(HeaderValue::from_static("0"))
}

/// Which door a path belongs to.
pub fn dialect_of(path: &str) -> &'static str {
    if path == "/api_request" || path.starts_with("/api_request/") {
        "grupo"
    } else if path.starts_with("/admin/api.php") {
        "activecampaign"
    } else if path == "/api/v1" || path.starts_with("/api/v1/") {
        "rest"
    } else if path == "/scim/v2" || path.starts_with("/scim/v2/") {
        "scim"
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

/// The in-flight gauge's handle, looked up once (after the recorder is in).
fn in_flight() -> &'static metrics::Gauge {
    static GAUGE: std::sync::OnceLock<metrics::Gauge> = std::sync::OnceLock::new();
    GAUGE.get_or_init(|| metrics::gauge!("groupd_http_requests_in_flight"))
}

/// Counts the request as in flight until dropped (also when the client leaves).
struct InFlight;

impl InFlight {
    fn start() -> InFlight {
        in_flight().increment(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        in_flight().decrement(1.0);
    }
}

/// A request's metric handles, by "dialect|operation|status".
type Handles = (metrics::Counter, metrics::Histogram);

thread_local! {
    /// Each thread's handles for the label sets it has seen, and a buffer to build
    /// the look-up key in: a request's metrics cost two hash look-ups and no
    /// allocation once its labels have been seen (the recorder's own registry
    /// would hash and allocate its label set on every call).
    static HANDLES: std::cell::RefCell<(std::collections::HashMap<String, Handles>, String)> =
        Default::default();
}

/// Most label sets a thread caches (operations are few; this only bounds memory).
const MAX_HANDLES: usize = 4096;

fn record(dialect: &'static str, operation: &str, status: u16, secs: f64) {
    HANDLES.with(|cell| {
        let mut guard = cell.borrow_mut();
        let (map, key) = &mut *guard;
        key.clear();
        key.push_str(dialect);
        key.push('|');
        key.push_str(operation);
        key.push('|');
        key.push_str(itoa::Buffer::new().format(status));
        if let Some((counter, histogram)) = map.get(key.as_str()) {
            counter.increment(1);
            histogram.record(secs);
            return;
        }
        let labels = [
            ("dialect", dialect.to_string()),
            ("operation", operation.to_string()),
            ("status", status.to_string()),
        ];
        let counter = metrics::counter!("groupd_http_requests_total", &labels);
        let histogram = metrics::histogram!("groupd_http_request_duration_seconds", &labels[..2]);
        counter.increment(1);
        histogram.record(secs);
        if map.len() >= MAX_HANDLES {
            map.clear();
        }
        map.insert(key.clone(), (counter, histogram));
    });
}

/// What the front middleware needs: the guard, and the body limits every request
/// body is wrapped in.
#[derive(Clone)]
pub struct Front {
    pub guard: super::guard::Guard,
    pub bodies: crate::wire::body::BodyLimits,
}

/// The one middleware in front of every route: the request's id, span, log line
/// and metrics around the guard (rate limit, deadline) and the body limits. One
/// layer rather than three: each `from_fn` layer costs a boxed future and a
/// service clone per request, which the `GET /health` ceiling showed.
pub async fn observe(State(front): State<Front>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = req
        .headers()
        .get(REQUEST_ID)
        .filter(|v| v.to_str().is_ok_and(valid_request_id))
        .cloned()
        .unwrap_or_else(new_request_id);
    let path = req.uri().path();
    let dialect = dialect_of(path);
    // The operation as the route tells it (Grupo's comes with its answer).
    let route = match dialect {
        "activecampaign" => Route::Action(activecampaign_action(req.uri().query())),
        "grupo" => Route::FromAnswer,
        _ => Route::Path(
            method_name(req.method()),
            req.extensions().get::<MatchedPath>().cloned(),
        ),
    };
    let span = tracing::info_span!(
        "request",
        id = %id.to_str().unwrap_or(""),
        dialect = %dialect,
        method = %req.method(),
        path = %path,
        operation = Empty,
        workspace = Empty,
    );
    let in_flight = InFlight::start();
    let (parts, body) = req.into_parts();
    let req = Request::from_parts(parts, crate::wire::body::limit(body, &front.bodies));
    let mut response = super::guard::guard(&front.guard, req, next)
        .instrument(span.clone())
        .await;
    drop(in_flight);
    let mut operation = String::with_capacity(48);
    match (response.extensions().get::<Operation>(), &route) {
        (Some(op), _) => operation.push_str(op.0),
        (None, Route::Action(action)) => operation.push_str(action),
        (None, Route::Path(method, m)) => {
            operation.push_str(method);
            operation.push(' ');
            operation.push_str(m.as_ref().map_or("unmatched", |m| m.as_str()));
        }
        (None, Route::FromAnswer) => operation.push_str("unknown"),
    }
    let status = response.status().as_u16();
    let elapsed = start.elapsed();
    if !span.is_disabled() {
        span.record("operation", tracing::field::display(&operation));
        span.in_scope(|| {
            tracing::info!(
                status,
                micros = elapsed.as_micros() as u64,
                "request finished"
            );
        });
    }
    record(dialect, &operation, status, elapsed.as_secs_f64());
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

/// Where a request's operation label comes from.
enum Route {
    /// ActiveCampaign's known `api_action`.
    Action(&'static str),
    /// The method and the matched route template.
    Path(&'static str, Option<MatchedPath>),
    /// The dialect says, on its answer (Grupo).
    FromAnswer,
}

fn method_name(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
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
        assert!(valid_request_id(made.to_str().unwrap()));
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
