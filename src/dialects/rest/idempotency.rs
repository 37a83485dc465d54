//! `Idempotency-Key` on POST: the first answer is kept for 24 hours and given
//! again for the same key and request; the same key with another request is 422.
//! See [`crate::service::idempotency`] for how a claim on a key is held and ended.

use super::bearer;
use super::error::ApiError;
use crate::domain::event::Door;
use crate::service::Service;
use crate::service::idempotency::{ClaimHold, Idempotent, request_hash};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn layer(State(service): State<Service>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(key) = req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_string))
    else {
        return next.run(req).await;
    };
    let Ok(key) = key else {
        return ApiError::field("Idempotency-Key", "must be visible ASCII").into_response();
    };
    // Without a valid key the handler answers 401 itself.
    let Ok(caller) = service
        .authenticate(bearer(req.headers().get(header::AUTHORIZATION)), Door::Rest)
        .await
    else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let bytes = match crate::wire::form::read_body(body, super::MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(e) => return ApiError::body(e).into_response(),
    };
    let target = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("");
    let hash = request_hash(parts.method.as_str(), target, &bytes);
    match service.claim_idempotent(caller, &key, hash).await {
        Err(e) => ApiError::from(e).into_response(),
        Ok(Idempotent::Replay { status, body }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut r =
                (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
            r.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            r
        }
        Ok(Idempotent::Proceed(claim)) => {
            // Carried out in a task of its own, so a client that hangs up does not
            // cancel it halfway (hyper drops a request's future when its connection
            // closes): a create that has started finishes and its answer is kept,
            // and a retry gets that answer instead of a second group.
            let hold = service.hold_idempotent(claim);
            let req = Request::from_parts(parts, Body::from(bytes));
            match tokio::spawn(carry_out(hold, next, req)).await {
                Ok(response) => response,
                Err(e) => {
                    // The task panicked; dropping the hold released the key.
                    tracing::error!(error = %e, "a request with an Idempotency-Key failed");
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
            }
        }
    }
}

/// Runs the request under its claim and ends the claim with it: the answer is
/// kept, or, for a server error, the key is released so it can be retried.
async fn carry_out(hold: ClaimHold, next: Next, req: Request) -> Response {
    let response = next.run(req).await;
    let (rparts, rbody) = response.into_parts();
    let Ok(rbytes) = axum::body::to_bytes(rbody, 16 * 1024 * 1024).await else {
        if let Err(e) = hold.release().await {
            tracing::warn!(error = %e, "idempotency claim not released");
        }
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let ended = if rparts.status.is_server_error() {
        hold.release().await
    } else {
        let text = String::from_utf8_lossy(&rbytes).into_owned();
        hold.finish(rparts.status.as_u16(), text).await
    };
    if let Err(e) = ended {
        tracing::warn!(error = %e, "idempotency claim not ended; it lapses with its lease");
    }
    Response::from_parts(rparts, Body::from(rbytes))
}
