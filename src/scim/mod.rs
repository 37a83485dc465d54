//! The SCIM 2.0 door (RFC 7643, RFC 7644) at `/scim/v2`: identity providers
//! (Okta, Microsoft Entra ID) provision the users and groups of the workspace
//! whose API key they hold as a bearer token. A door like the dialects: it
//! decodes, calls the service and encodes in SCIM's own format; it never
//! imports the store. Filters and PATCH are `domain::scim`.
//!
//! - `discovery`: ServiceProviderConfig, ResourceTypes, Schemas.
//! - `users`, `groups`: the resources, mapped onto groupd's users and groups.
//! - `listing`: list queries (filter, paging, attributes) and ListResponse.
//! - `error`: SCIM's error messages, and how service errors map to them.

pub mod discovery;
pub mod error;
pub mod groups;
pub mod listing;
pub mod users;

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
        .merge(users::routes())
        .merge(groups::routes())
        .route(
            "/.search",
            axum::routing::post(|| async {
                ScimError::new(
                    axum::http::StatusCode::NOT_IMPLEMENTED,
                    None,
                    "searching every resource type at once is not supported: \
                     POST /Users/.search or /Groups/.search",
                )
                .into_response()
            }),
        )
        .method_not_allowed_fallback(|method: axum::http::Method| async move {
            ScimError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                None,
                format!("{method} is not allowed here"),
            )
            .into_response()
        })
        .fallback(|| async { ScimError::not_found("no such SCIM endpoint").into_response() })
}

/// The largest request body read: a PUT of a group with 10,000 members sent
/// with their `$ref` and `display` fits (a PATCH adding 1,000 is about 40 KB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A request body as a JSON object, read within the server's body deadline and
/// memory budget; every refusal is a SCIM error.
pub struct ScimBody(pub serde_json::Value);

impl axum::extract::FromRequest<Service> for ScimBody {
    type Rejection = ScimError;

    async fn from_request(req: axum::extract::Request, _: &Service) -> Result<Self, ScimError> {
        use crate::wire::body::BodyError;
        use axum::http::StatusCode as S;
        let bytes = crate::wire::body::read_body(req.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|e| {
                let (status, scim_type) = match &e {
                    BodyError::TooLarge(_) => (S::PAYLOAD_TOO_LARGE, None),
                    BodyError::TimedOut(_) => (S::REQUEST_TIMEOUT, None),
                    BodyError::Busy => (S::SERVICE_UNAVAILABLE, None),
                    BodyError::Unreadable(_) => (S::BAD_REQUEST, Some("invalidSyntax")),
                };
                ScimError::new(status, scim_type, e.to_string())
            })?;
        json_body(&bytes).map(ScimBody)
    }
}

/// A string attribute of a request; `null` is absent, anything else not a
/// string is recorded as a problem of `name`.
pub fn string_attr(
    v: Option<&serde_json::Value>,
    name: &str,
    errors: &mut crate::domain::ValidationErrors,
) -> Option<String> {
    match v {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.push(name, "must be a string");
            None
        }
    }
}

/// A boolean attribute of a request (`true`, or Entra's `"True"`); `null` is
/// absent, anything else is recorded as a problem of `name`.
pub fn bool_attr(
    v: Option<&serde_json::Value>,
    name: &str,
    errors: &mut crate::domain::ValidationErrors,
) -> Option<bool> {
    match v {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => crate::domain::scim::filter::as_bool(v).or_else(|| {
            errors.push(name, "must be true or false");
            None
        }),
    }
}

/// A find's "not found" as nothing found (a list's direct look-up), any
/// other error as it is.
pub fn absent_if_not_found<T>(found: Result<T, ScimError>) -> Result<Option<T>, ScimError> {
    match found {
        Ok(x) => Ok(Some(x)),
        Err(e) if e.status == axum::http::StatusCode::NOT_FOUND => Ok(None),
        Err(e) => Err(e),
    }
}

/// A request body as JSON (SCIM clients send `application/scim+json` or
/// `application/json`; the type is not insisted on).
fn json_body(body: &[u8]) -> Result<serde_json::Value, ScimError> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v @ serde_json::Value::Object(_)) => Ok(v),
        Ok(_) => Err(ScimError::new(
            axum::http::StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            "the body is not a JSON object",
        )),
        Err(e) => Err(ScimError::new(
            axum::http::StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            format!("the body is not JSON: {e}"),
        )),
    }
}

/// A resource id from a path: groupd's ids are positive whole numbers; anything
/// else names nothing.
pub fn resource_id(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|id| *id > 0)
}

/// A resource's `meta`: created and lastModified in RFC 3339, its location, and
/// a weak version that changes whenever the resource does (a hash of it).
pub fn meta(
    resource_type: &str,
    location: String,
    created: i64,
    modified: i64,
    body: &serde_json::Value,
) -> serde_json::Value {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(body.to_string().as_bytes());
    let version: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    serde_json::json!({
        "resourceType": resource_type,
        "created": crate::domain::event::rfc3339_ms(created.saturating_mul(1000)),
        "lastModified": crate::domain::event::rfc3339_ms(modified.saturating_mul(1000)),
        "location": location,
        "version": format!("W/\"{version}\""),
    })
}

/// The query parameters of a request, as pairs (read leniently: a pair that
/// is not well encoded is read as best it can be, never refused outside
/// SCIM's error format).
pub struct Params(pub Vec<(String, String)>);

impl FromRequestParts<Service> for Params {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &Service) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        Ok(Params(
            url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

/// A created resource's answer: 201 with its location.
pub fn created(location: &str, body: serde_json::Value) -> Response {
    let mut r = Scim(axum::http::StatusCode::CREATED, body).into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
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
