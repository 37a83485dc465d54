//! Grupo's answers and error format, and the mapping of service errors to its keys.

use crate::domain::ValidationErrors;
use crate::domain::error::Problem;
use crate::service::ServiceError;
use crate::wire::body::BodyError;
use crate::wire::form::FormError;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Serialize)]
struct Success {
    success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<i64>,
}

#[derive(Serialize)]
struct Failure<'a> {
    success: bool,
    error_message: &'a str,
    error_key: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    error_variables: &'a [String],
}

/// One answer, success or failure, ready to encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Ok {
        group_id: Option<i64>,
        user_id: Option<i64>,
    },
    Error {
        status: StatusCode,
        key: &'static str,
        message: String,
        variables: Vec<String>,
    },
}

/// Grupo's names for the domain's canonical field names.
pub fn wire_name(canonical: &str) -> String {
    match canonical {
        "name" => "group_name",
        "category_id" => "group_category_id",
        "secret" => "secret_group",
        "pinned" => "pin_group",
        "icon_url" => "group_icon_url",
        "email" => "email_address",
        other => other,
    }
    .to_string()
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Ok {
            group_id: None,
            user_id: None,
        }
    }

    pub fn created(group_id: i64) -> Reply {
        Reply::Ok {
            group_id: Some(group_id),
            user_id: None,
        }
    }

    pub fn user_created(user_id: i64) -> Reply {
        Reply::Ok {
            group_id: None,
            user_id: Some(user_id),
        }
    }

    fn error(key: &'static str, message: String, variables: Vec<String>) -> Reply {
        Reply::Error {
            status: StatusCode::OK,
            key,
            message,
            variables,
        }
    }

    pub fn invalid(variables: Vec<String>, detail: &str) -> Reply {
        Reply::error(
            "invalid_value",
            format!("Invalid Input or Field Empty: {detail}"),
            variables,
        )
    }

    pub fn validation(errors: &ValidationErrors) -> Reply {
        let variables: Vec<String> = errors
            .fields()
            .iter()
            .map(|e| wire_name(&e.field))
            .collect();
        let detail: Vec<String> = errors
            .fields()
            .iter()
            .map(|e| format!("{}: {}", wire_name(&e.field), e.message))
            .collect();
        Reply::invalid(variables, &detail.join("; "))
    }

    pub fn bad_request(e: FormError) -> Reply {
        Reply::invalid(Vec::new(), &e.to_string())
    }

    /// A body that could not be read: too large (413), stalled (408), the server
    /// out of room for bodies (503), or broken (400).
    pub fn body(e: BodyError) -> Reply {
        let (status, key) = match &e {
            BodyError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "invalid_value"),
            BodyError::TimedOut(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            BodyError::Busy => (StatusCode::SERVICE_UNAVAILABLE, "server_busy"),
            BodyError::Unreadable(_) => (StatusCode::BAD_REQUEST, "invalid_value"),
        };
        let message = match key {
            "invalid_value" => format!("Invalid Input or Field Empty: {e}"),
            _ => capitalise(&e.to_string()),
        };
        Reply::Error {
            status,
            key,
            message,
            variables: Vec::new(),
        }
    }

    /// A refusal of the server's (rate limit, deadline) in Grupo's format.
    pub fn refused(status: StatusCode, key: &'static str, message: String) -> Reply {
        Reply::Error {
            status,
            key,
            message,
            variables: Vec::new(),
        }
    }

    /// A fault of the server itself, not of the request.
    fn fault(status: StatusCode) -> Reply {
        Reply::Error {
            status,
            key: "something_went_wrong",
            message: "Something Went Wrong".into(),
            variables: vec![],
        }
    }

    pub fn into_response(self) -> Response {
        let (status, body) = match &self {
            Reply::Ok { group_id, user_id } => (
                StatusCode::OK,
                serde_json::to_vec(&Success {
                    success: true,
                    group_id: *group_id,
                    user_id: *user_id,
                }),
            ),
            Reply::Error {
                status,
                key,
                message,
                variables,
            } => (
                *status,
                serde_json::to_vec(&Failure {
                    success: false,
                    error_message: message,
                    error_key: key,
                    error_variables: variables,
                }),
            ),
        };
        match body {
            Ok(bytes) => {
                (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
            }
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

impl From<ServiceError> for Reply {
    fn from(e: ServiceError) -> Reply {
        match e {
            ServiceError::Unauthorized => Reply::error(
                "invalid_api_secret_key",
                "Invalid API Secret Key".into(),
                vec![],
            ),
            ServiceError::Invalid(errors) if errors.is_only(Problem::InvalidEmail) => Reply::error(
                "invalid_email_address",
                "Invalid Email Address".into(),
                vec!["email_address".into()],
            ),
            ServiceError::Invalid(errors) => Reply::validation(&errors),
            ServiceError::UsernameTaken => Reply::error(
                "username_exists",
                "Username Already Exists".into(),
                vec!["username".into()],
            ),
            ServiceError::EmailTaken => Reply::error(
                "email_exists",
                "Email Already Exists".into(),
                vec!["email_address".into()],
            ),
            ServiceError::AccountNotFound => Reply::error(
                "account_not_found",
                "Account Does Not Exist".into(),
                vec!["user".into()],
            ),
            ServiceError::NotAMember => {
                Reply::error("not_a_member", "Not A Member".into(), vec!["user".into()])
            }
            e @ ServiceError::UserInactive(_) => Reply::error(
                "user_inactive",
                capitalise(&e.to_string()),
                vec!["user".into()],
            ),
            ServiceError::AlreadyMember => Reply::error(
                "already_a_member",
                "Already A Member".into(),
                vec!["user".into()],
            ),
            e @ ServiceError::GroupFull { .. } => Reply::error(
                "group_full",
                capitalise(&e.to_string()),
                vec!["group".into()],
            ),
            ServiceError::InvalidGroupPassword => Reply::error(
                "invalid_group_password",
                "Invalid Group Password".into(),
                vec!["password".into()],
            ),
            e @ ServiceError::GroupUnleavable => Reply::error(
                "permission_denied",
                capitalise(&e.to_string()),
                vec!["group".into()],
            ),
            e @ (ServiceError::IdempotencyKeyReused | ServiceError::IdempotencyKeyInUse) => {
                Reply::invalid(vec![], &e.to_string())
            }
            ServiceError::SlugTaken => Reply::error(
                "slug_already_exists",
                "Slug Already Exists".into(),
                vec!["slug".into()],
            ),
            ServiceError::GroupNotFound => Reply::error(
                "group_not_found",
                "Group Not Found".into(),
                vec!["group".into()],
            ),
            ServiceError::CategoryNotFound(id) => Reply::invalid(
                vec!["group_category_id".into()],
                &format!("category {id} does not exist"),
            ),
            ServiceError::FieldNotFound(id) => Reply::invalid(
                vec![format!("custom_field_{id}")],
                &format!("no group custom field has the identifier {id}"),
            ),
            e @ (ServiceError::BuiltinGroup(_) | ServiceError::SuccessorNotFound(_)) => {
                Reply::error(
                    "permission_denied",
                    capitalise(&e.to_string()),
                    vec!["group".into()],
                )
            }
            e @ (ServiceError::SuccessorAmongRemoved(_) | ServiceError::DefaultCategory) => {
                Reply::error("permission_denied", e.to_string(), vec![])
            }
            ServiceError::Conflict(msg) | ServiceError::Refused(msg) => {
                Reply::error("permission_denied", msg, vec![])
            }
            // Only the SCIM door changes members in lists this long.
            ServiceError::TooMany(msg) => Reply::error("permission_denied", msg, vec![]),
            // Grupo has no webhook actions; these cannot arise from its requests.
            e @ (ServiceError::WebhookNotFound | ServiceError::DeliveryNotFound) => {
                Reply::error("permission_denied", capitalise(&e.to_string()), vec![])
            }
            e @ ServiceError::RateLimited { .. } => Reply::refused(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                capitalise(&e.to_string()),
            ),
            // Console sign-in errors cannot arise from Grupo's requests either.
            ServiceError::WorkspaceNotFound(_)
            | ServiceError::KeyNotFound(_)
            | ServiceError::SignInRefused
            | ServiceError::NotConsoleAdmin
            | ServiceError::TooManySignIns { .. }
            | ServiceError::SessionEnded => Reply::error(
                "invalid_api_secret_key",
                "Invalid API Secret Key".into(),
                vec![],
            ),
            ServiceError::Unavailable(msg) => {
                tracing::warn!(error = %msg, "grupo request failed: store unavailable");
                Reply::fault(StatusCode::SERVICE_UNAVAILABLE)
            }
            ServiceError::Internal(msg) => {
                tracing::error!(error = %msg, "grupo request failed");
                Reply::fault(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(reply: Reply) -> (u16, String) {
        let response = reply.into_response();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn server_faults_answer_something_went_wrong() {
        let expected = r#"{"success":false,"error_message":"Something Went Wrong","error_key":"something_went_wrong"}"#;
        let unavailable = Reply::from(ServiceError::Unavailable("disk gone".into()));
        assert_eq!(body_of(unavailable).await, (503, expected.to_string()));
        let internal = Reply::from(ServiceError::Internal("bug".into()));
        assert_eq!(body_of(internal).await, (500, expected.to_string()));
    }

    /// The typed refusals answer exactly what their text did when the store
    /// sent them as `Refused(String)`.
    #[tokio::test]
    async fn typed_refusals_answer_as_their_text_did() {
        for e in [
            ServiceError::SuccessorAmongRemoved(4),
            ServiceError::DefaultCategory,
        ] {
            let before = Reply::from(ServiceError::Refused(e.to_string()));
            assert_eq!(body_of(Reply::from(e)).await, body_of(before).await);
        }
    }
}
