//! SCIM errors (RFC 7644 section 3.12): `status` as a string, a `scimType` where
//! the RFC names one, and a `detail` a person can act on.

use super::{MEDIA_TYPE, Scim};
use crate::domain::scim::filter::FilterError;
use crate::domain::scim::patch::PatchError;
use crate::service::ServiceError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The error message schema.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    pub status: StatusCode,
    /// `uniqueness`, `invalidFilter`, `invalidPath`, `noTarget`, `invalidValue`,
    /// `mutability`, `tooMany`, `invalidSyntax`.
    pub scim_type: Option<&'static str>,
    pub detail: String,
    /// Seconds to wait, for 429.
    pub retry_after: Option<u64>,
}

impl ScimError {
    pub fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> ScimError {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
            retry_after: None,
        }
    }

    pub fn not_found(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::NOT_FOUND, None, detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::BAD_REQUEST, Some("invalidValue"), detail)
    }

    pub fn method_not_allowed(what: &str) -> ScimError {
        ScimError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            None,
            format!("{what} is read-only: only GET is allowed"),
        )
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t);
        }
        let mut r = Scim(self.status, body).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        debug_assert_eq!(
            r.headers().get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
            Some(MEDIA_TYPE.as_bytes())
        );
        r
    }
}

impl From<FilterError> for ScimError {
    fn from(e: FilterError) -> ScimError {
        ScimError::new(StatusCode::BAD_REQUEST, Some("invalidFilter"), e.0)
    }
}

impl From<PatchError> for ScimError {
    fn from(e: PatchError) -> ScimError {
        let scim_type = match e {
            PatchError::Syntax(_) => "invalidSyntax",
            PatchError::Path(_) => "invalidPath",
            PatchError::NoTarget(_) => "noTarget",
            PatchError::Value(_) => "invalidValue",
            PatchError::TooMany(_) => "tooMany",
        };
        ScimError::new(StatusCode::BAD_REQUEST, Some(scim_type), e.to_string())
    }
}

/// Validation errors under the names SCIM gives the fields.
fn scim_names(errors: &crate::domain::ValidationErrors) -> String {
    errors
        .fields()
        .iter()
        .map(|e| {
            let field = match e.field.as_str() {
                "name" | "full_name" => "displayName",
                "username" => "userName",
                "email" => "emails",
                "external_id" => "externalId",
                "category_id" => "categoryId",
                other => other,
            };
            format!("{field}: {}", e.message)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<ServiceError> for ScimError {
    fn from(e: ServiceError) -> ScimError {
        use StatusCode as S;
        let (status, scim_type) = match &e {
            ServiceError::Unauthorized => (S::UNAUTHORIZED, None),
            ServiceError::Invalid(_) => (S::BAD_REQUEST, Some("invalidValue")),
            ServiceError::SlugTaken
            | ServiceError::UsernameTaken
            | ServiceError::EmailTaken
            | ServiceError::Conflict(_) => (S::CONFLICT, Some("uniqueness")),
            ServiceError::TooMany(_) => (S::BAD_REQUEST, Some("tooMany")),
            ServiceError::BuiltinGroup(_) => (S::BAD_REQUEST, Some("mutability")),
            ServiceError::CategoryNotFound(_) => (S::BAD_REQUEST, Some("invalidValue")),
            ServiceError::GroupNotFound | ServiceError::AccountNotFound => (S::NOT_FOUND, None),
            ServiceError::GroupFull { .. } => (S::BAD_REQUEST, Some("invalidValue")),
            ServiceError::UserInactive(_) => (S::BAD_REQUEST, Some("invalidValue")),
            ServiceError::RateLimited { retry_after_secs } => {
                let mut err = ScimError::new(S::TOO_MANY_REQUESTS, None, e.to_string());
                err.retry_after = Some(*retry_after_secs);
                return err;
            }
            // What went wrong inside is logged here and not told.
            ServiceError::Unavailable(m) => {
                tracing::warn!(error = %m, "scim request failed: store unavailable");
                return ScimError::new(
                    S::SERVICE_UNAVAILABLE,
                    None,
                    "the database is unavailable; try again",
                );
            }
            ServiceError::Internal(m) => {
                tracing::error!(error = %m, "scim request failed");
                return ScimError::new(S::INTERNAL_SERVER_ERROR, None, "something went wrong");
            }
            _ => (S::BAD_REQUEST, None),
        };
        let detail = match &e {
            ServiceError::Invalid(errors) => scim_names(errors),
            ServiceError::UsernameTaken => {
                "another user already has this userName (or it is a group's slug)".into()
            }
            other => other.to_string(),
        };
        ScimError::new(status, scim_type, detail)
    }
}
