//! The native REST API under `/api/v1`: JSON in and out, `Authorization: Bearer
//! <key>`, conventional status codes, errors as `{"error":{"key","message","fields"}}`
//! with the keys the other dialects use, keyset-paged lists with opaque cursors,
//! `Idempotency-Key` on POST, and an OpenAPI 3.1 document generated from this code
//! at `/api/v1/openapi.json`. docs/rest.md has the whole contract.

mod categories;
pub mod dto;
pub mod error;
pub mod events;
mod groups;
mod idempotency;
mod members;
pub mod openapi;
mod users;

use crate::domain::event::Door;
use crate::service::{Caller, Service};
use crate::wire::form::{self, FormFields};
use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use error::ApiError;
use serde::de::DeserializeOwned;

pub const MAX_BODY_BYTES: usize = 1024 * 1024;
pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 1000;

pub fn routes(service: Service) -> Router<Service> {
    Router::new()
        .route("/api/v1/groups", post(groups::create).get(groups::list))
        .route(
            "/api/v1/groups/{group}",
            get(groups::get_one)
                .patch(groups::update)
                .delete(groups::remove),
        )
        .route(
            "/api/v1/groups/{group}/members",
            get(members::list).post(members::add),
        )
        .route(
            "/api/v1/groups/{group}/members/bulk-add",
            post(members::bulk_add),
        )
        .route(
            "/api/v1/groups/{group}/members/bulk-remove",
            post(members::bulk_remove),
        )
        .route(
            "/api/v1/groups/{group}/members/{user}",
            axum::routing::delete(members::remove),
        )
        .route("/api/v1/users", post(users::create).get(users::list))
        .route(
            "/api/v1/users/{user}",
            get(users::get_one)
                .patch(users::update)
                .delete(users::remove),
        )
        .route(
            "/api/v1/users/{user}/groups",
            get(users::groups).post(users::join),
        )
        .route(
            "/api/v1/users/{user}/groups/{group}",
            axum::routing::delete(users::leave),
        )
        .route(
            "/api/v1/categories",
            get(categories::list).post(categories::create),
        )
        .route(
            "/api/v1/categories/{id}",
            axum::routing::patch(categories::rename).delete(categories::remove),
        )
        .route(
            "/api/v1/fields",
            get(categories::list_fields).post(categories::create_field),
        )
        .route(
            "/api/v1/fields/{id}",
            axum::routing::delete(categories::remove_field),
        )
        .route("/api/v1/events", get(events::list_events))
        .route(
            "/api/v1/webhooks",
            get(events::list_webhooks).post(events::create_webhook),
        )
        .route(
            "/api/v1/webhooks/{id}",
            get(events::get_webhook)
                .patch(events::update_webhook)
                .delete(events::delete_webhook),
        )
        .route(
            "/api/v1/webhooks/{id}/rotate-secret",
            post(events::rotate_secret),
        )
        .route(
            "/api/v1/webhooks/{id}/deliveries",
            get(events::list_deliveries),
        )
        .route(
            "/api/v1/webhooks/{id}/deliveries/{delivery}/retry",
            post(events::retry_delivery),
        )
        .route("/api/v1/openapi.json", get(openapi::serve))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such route") })
        .layer(axum::middleware::from_fn_with_state(
            service,
            idempotency::layer,
        ))
}

/// The caller, from `Authorization: Bearer <key>`.
pub struct Auth(pub Caller);

impl FromRequestParts<Service> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, service: &Service) -> Result<Self, ApiError> {
        let key = bearer(parts.headers.get(header::AUTHORIZATION));
        Ok(Auth(service.authenticate(key, Door::Rest).await?))
    }
}

pub fn bearer(value: Option<&header::HeaderValue>) -> Option<&str> {
    let v = value?.to_str().ok()?.trim();
    let (scheme, rest) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// A JSON body with our own errors: bad JSON is 400, wrong shapes 422.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> axum::extract::FromRequest<Service> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &Service) -> Result<Self, ApiError> {
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or("");
            if !is_json(ct) {
                return Err(ApiError::bad_request(format!(
                    "send the body as application/json, not {ct}"
                )));
            }
        }
        let bytes = form::read_body(req.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(ApiError::body)?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            use serde_json::error::Category;
            match e.classify() {
                Category::Data => ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_value",
                    format!("the body does not fit: {e}"),
                ),
                _ => ApiError::bad_request(format!("the body is not valid JSON: {e}")),
            }
        })
    }
}

/// Whether a `Content-Type` names JSON: the media type `application/json`
/// (parameters such as `charset=utf-8` allowed), parsed, not matched as a prefix.
pub fn is_json(content_type: &str) -> bool {
    content_type
        .parse::<mime::Mime>()
        .is_ok_and(|m| m.essence_str() == "application/json")
}

/// Query parameters, read strictly.
pub struct QueryParams(pub FormFields);

impl FromRequestParts<Service> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &Service) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or("");
        form::parse_urlencoded(q.as_bytes())
            .map(QueryParams)
            .map_err(|e| ApiError::bad_request(format!("the query string cannot be read: {e}")))
    }
}

impl QueryParams {
    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name)
    }

    /// `limit`: 1 to 1000, default 50.
    pub fn limit(&self) -> Result<u32, ApiError> {
        match self.str("limit") {
            None => Ok(DEFAULT_PAGE),
            Some(raw) => match raw.trim().parse::<u32>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
                _ => Err(ApiError::field(
                    "limit",
                    format!("must be a whole number from 1 to {MAX_PAGE}"),
                )),
            },
        }
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.str(name) {
            None => Ok(None),
            Some(raw) => raw
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiError::field(name, "must be a whole number")),
        }
    }
}

/// Opaque cursors: base64url of a short tagged string.
pub fn encode_cursor(raw: &str) -> String {
    URL_SAFE_NO_PAD.encode(raw)
}

pub fn decode_cursor(cursor: &str, tag: &str) -> Result<Vec<i64>, ApiError> {
    let bad = || ApiError::field("cursor", "is not a cursor this list gave out");
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = text.split(':');
    if parts.next() != Some(tag) {
        return Err(bad());
    }
    parts.map(|p| p.parse::<i64>().map_err(|_| bad())).collect()
}

/// The `cursor` of a list in user id order (users, members).
pub fn user_cursor(q: &QueryParams) -> Result<Option<crate::domain::user::UserId>, ApiError> {
    match q.str("cursor") {
        None => Ok(None),
        Some(c) => match decode_cursor(c, "u")?.as_slice() {
            [id] => Ok(Some(crate::domain::user::UserId(*id))),
            _ => Err(ApiError::field(
                "cursor",
                "is not a cursor this list gave out",
            )),
        },
    }
}

/// The next page's cursor after a full page in user id order; `None` after the last.
pub fn next_user_cursor(
    len: usize,
    limit: u32,
    last: Option<crate::domain::user::UserId>,
) -> Option<String> {
    if len < limit as usize {
        return None;
    }
    last.map(|id| encode_cursor(&format!("u:{}", id.0)))
}

/// A path segment that must be a whole number; anything else is "not found".
pub fn path_id(raw: &str, key: &'static str, what: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, key, format!("{what} not found")))
}
