//! Wire dialects. Each decodes its own requests into service calls and encodes the
//! answers and errors in its own format. Dialects never call each other or the store.

pub mod activecampaign;
pub mod grupo;
pub mod rest;

/// Why the server refused a request before (or instead of) a dialect answering it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The client's address is over its rate limit.
    TooManyRequests { retry_after_secs: u64 },
    /// The request ran past the per-request deadline.
    DeadlineExceeded { secs: u64 },
}

/// A refusal in the format of the door `path` belongs to: Grupo's JSON, an
/// ActiveCampaign answer in the requested `api_output`, REST's error object, a
/// console page, or plain JSON elsewhere.
pub fn refusal(path: &str, query: Option<&str>, r: Refusal) -> axum::response::Response {
    use axum::http::StatusCode;
    let (status, key, message) = match r {
        Refusal::TooManyRequests { retry_after_secs } => (
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            format!("Too many requests from this address: try again in {retry_after_secs} s"),
        ),
        Refusal::DeadlineExceeded { secs } => (
            StatusCode::SERVICE_UNAVAILABLE,
            "request_timeout",
            format!("The request took longer than {secs} s and was stopped; try again"),
        ),
    };
    match crate::server::observe::dialect_of(path) {
        "grupo" => grupo::reply::Reply::refused(status, key, message).into_response(),
        "activecampaign" => activecampaign::refused(query, status, message),
        "console" => crate::console::refused(status, &message),
        "scim" => {
            let mut e = crate::scim::error::ScimError::new(status, None, message);
            if let Refusal::TooManyRequests { retry_after_secs } = r {
                e.retry_after = Some(retry_after_secs);
            }
            axum::response::IntoResponse::into_response(e)
        }
        _ => rest::error::ApiError::new(status, key, message).into_response_now(),
    }
}
