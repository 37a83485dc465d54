//! `Idempotency-Key` on POST: the first answer is kept for 24 hours and given
//! again for the same key and request; the same key with another request is 422.

use super::bearer;
use super::error::ApiError;
use crate::service::Service;
use crate::service::idempotency::{Idempotent, request_hash};
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
        .authenticate(bearer(req.headers().get(header::AUTHORIZATION)))
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
        Ok(Idempotent::Proceed) => {
            let response = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            let (rparts, rbody) = response.into_parts();
            let Ok(rbytes) = axum::body::to_bytes(rbody, 16 * 1024 * 1024).await else {
                let _ = service.abort_idempotent(caller, &key).await;
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            };
            if rparts.status.is_server_error() {
                let _ = service.abort_idempotent(caller, &key).await;
            } else {
                let text = String::from_utf8_lossy(&rbytes).into_owned();
                if let Err(e) = service
                    .finish_idempotent(caller, &key, rparts.status.as_u16(), text)
                    .await
                {
                    tracing::warn!(error = %e, "idempotency answer not kept");
                }
            }
            Response::from_parts(rparts, Body::from(rbytes))
        }
    }
}
