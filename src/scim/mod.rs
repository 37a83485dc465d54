//! The SCIM 2.0 door (RFC 7643, RFC 7644) at `/scim/v2`: identity providers
//! (Okta, Microsoft Entra ID) provision the users and groups of the workspace
//! whose API key they hold as a bearer token. A door like the dialects: it
//! decodes, calls the service and encodes in SCIM's own format; it never
//! imports the store. Filters and PATCH are `domain::scim`.
//!
//! Work in progress (issue 18): discovery, errors and authentication are here;
//! Users and Groups come next.

pub mod discovery;
pub mod error;
pub mod listing;

use crate::domain::event::Door;
use crate::service::{Caller, Service};
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use error::ScimError;

/// Where the door is mounted.
pub const BASE: &str = "/scim/v2";

/// SCIM's media type; requests may also use `application/json`.
pub const MEDIA_TYPE: &str = "application/scim+json";

pub fn routes() -> Router<Service> {
    discovery::routes()
        .fallback(|| async { ScimError::not_found("no such SCIM endpoint").into_response() })
}

/// The caller, from the workspace's API key sent as a bearer token.
pub struct Auth(pub Caller);

impl FromRequestParts<Service> for Auth {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, service: &Service) -> Result<Self, ScimError> {
        let key = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .and_then(|(scheme, rest)| scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim()));
        Ok(Auth(service.authenticate(key, Door::Scim).await?))
    }
}

/// A SCIM JSON answer with its media type.
pub struct Scim<T>(pub axum::http::StatusCode, pub T);

impl<T: serde::Serialize> IntoResponse for Scim<T> {
    fn into_response(self) -> Response {
        let mut r = (self.0, axum::Json(self.1)).into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
        r
    }
}
