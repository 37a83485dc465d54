//! The REST API's error format and status codes:
//! `{"error":{"key":...,"message":...,"fields":[{"name":...,"message":...}]}}`,
//! with the same keys the other dialects use.

use crate::domain::ValidationErrors;
use crate::domain::error::Problem;
use crate::service::ServiceError;
use crate::wire::body::BodyError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldProblem {
    /// The field, as this API names it.
    #[schema(example = "name")]
    pub name: String,
    #[schema(example = "is required")]
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable key for programs (e.g. `invalid_value`, `group_not_found`).
    #[schema(example = "invalid_value")]
    pub key: String,
    /// For people.
    #[schema(example = "name: is required")]
    pub message: String,
    /// The fields that were refused, when the error is about fields.
    pub fields: Vec<FieldProblem>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": {"key": "group_not_found", "message": "Group not found", "fields": []}}))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub key: &'static str,
    pub message: String,
    pub fields: Vec<FieldProblem>,
}

impl ApiError {
    pub fn new(status: StatusCode, key: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            key,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// A body that could not be read: too large (413), stalled (408), the server out
    /// of room for bodies (503), or broken (400).
    pub fn body(e: BodyError) -> ApiError {
        let (status, key) = match &e {
            BodyError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            BodyError::TimedOut(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            BodyError::Busy => (StatusCode::SERVICE_UNAVAILABLE, "server_busy"),
            BodyError::Unreadable(_) => (StatusCode::BAD_REQUEST, "bad_request"),
        };
        ApiError::new(status, key, e.to_string())
    }

    pub fn invalid(errors: &ValidationErrors) -> ApiError {
        let fields: Vec<FieldProblem> = errors
            .fields()
            .iter()
            .map(|e| FieldProblem {
                name: e.field.clone(),
                message: e.message.clone(),
            })
            .collect();
        let only_email = errors.is_only(Problem::InvalidEmail);
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            key: if only_email {
                "invalid_email_address"
            } else {
                "invalid_value"
            },
            message: errors.to_string(),
            fields,
        }
    }

    pub fn field(name: &str, message: impl Into<String>) -> ApiError {
        ApiError::invalid(&ValidationErrors::single(name, message))
    }
}

impl ApiError {
    /// The answer, for callers outside axum's extractors.
    pub fn into_response_now(self) -> Response {
        IntoResponse::into_response(self)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                key: self.key.to_string(),
                message: self.message,
                fields: self.fields,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> ApiError {
        use StatusCode as S;
        let msg = e.to_string();
        let (status, key) = match &e {
            ServiceError::Invalid(errors) => return ApiError::invalid(errors),
            ServiceError::Unauthorized => (S::UNAUTHORIZED, "invalid_api_secret_key"),
            // The console's sign-in errors (REST never signs in; kept exact anyway).
            ServiceError::SignInRefused | ServiceError::SessionEnded => {
                (S::UNAUTHORIZED, "invalid_api_secret_key")
            }
            ServiceError::NotConsoleAdmin => (S::FORBIDDEN, "permission_denied"),
            ServiceError::TooManySignIns { .. } | ServiceError::RateLimited { .. } => {
                (S::TOO_MANY_REQUESTS, "too_many_requests")
            }
            ServiceError::SlugTaken => (S::CONFLICT, "slug_already_exists"),
            ServiceError::UsernameTaken => (S::CONFLICT, "username_exists"),
            ServiceError::EmailTaken => (S::CONFLICT, "email_exists"),
            ServiceError::GroupNotFound | ServiceError::SuccessorNotFound(_) => {
                (S::NOT_FOUND, "group_not_found")
            }
            ServiceError::AccountNotFound => (S::NOT_FOUND, "account_not_found"),
            ServiceError::CategoryNotFound(_) => (S::NOT_FOUND, "category_not_found"),
            ServiceError::FieldNotFound(_) => (S::NOT_FOUND, "field_not_found"),
            ServiceError::WebhookNotFound => (S::NOT_FOUND, "webhook_not_found"),
            ServiceError::DeliveryNotFound => (S::NOT_FOUND, "delivery_not_found"),
            ServiceError::WorkspaceNotFound(_) | ServiceError::KeyNotFound(_) => {
                (S::NOT_FOUND, "not_found")
            }
            ServiceError::BuiltinGroup(_)
            | ServiceError::SuccessorAmongRemoved(_)
            | ServiceError::DefaultCategory
            | ServiceError::Refused(_) => (S::FORBIDDEN, "permission_denied"),
            ServiceError::Conflict(_) => (S::CONFLICT, "already_exists"),
            ServiceError::TooMany(_) => (S::BAD_REQUEST, "too_many"),
            ServiceError::GroupFull { .. } => (S::CONFLICT, "group_full"),
            ServiceError::AlreadyMember => (S::CONFLICT, "already_a_member"),
            ServiceError::UserInactive(_) => (S::CONFLICT, "user_inactive"),
            ServiceError::NotAMember => (S::NOT_FOUND, "not_a_member"),
            ServiceError::InvalidGroupPassword => (S::FORBIDDEN, "invalid_group_password"),
            ServiceError::GroupUnleavable => (S::FORBIDDEN, "group_unleavable"),
            ServiceError::IdempotencyKeyReused => {
                (S::UNPROCESSABLE_ENTITY, "idempotency_key_reused")
            }
            ServiceError::IdempotencyKeyInUse => (S::CONFLICT, "idempotency_key_in_use"),
            ServiceError::Unavailable(m) => {
                tracing::warn!(error = %m, "rest request failed: store unavailable");
                return ApiError::new(
                    S::SERVICE_UNAVAILABLE,
                    "something_went_wrong",
                    "The database is unavailable; try again",
                );
            }
            ServiceError::Internal(m) => {
                tracing::error!(error = %m, "rest request failed");
                return ApiError::new(
                    S::INTERNAL_SERVER_ERROR,
                    "something_went_wrong",
                    "Something went wrong",
                );
            }
        };
        ApiError::new(status, key, capitalise(&msg))
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(e: ServiceError) -> (u16, String) {
        let response = ApiError::from(e).into_response();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    /// The typed refusals answer exactly what their text did when the store
    /// sent them as `Refused(String)`.
    #[tokio::test]
    async fn typed_refusals_answer_as_their_text_did() {
        assert_eq!(
            body_of(ServiceError::DefaultCategory).await,
            (
                403,
                r#"{"error":{"key":"permission_denied","message":"Category 1 (Uncategorized) always exists","fields":[]}}"#
                    .to_string()
            )
        );
        for e in [
            ServiceError::SuccessorAmongRemoved(4),
            ServiceError::DefaultCategory,
        ] {
            let before = ServiceError::Refused(e.to_string());
            assert_eq!(body_of(e).await, body_of(before).await);
        }
    }
}
