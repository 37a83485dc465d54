//! Answers in ActiveCampaign's three output formats, and the error messages.

use crate::domain::ValidationErrors;
use crate::service::ServiceError;
use crate::wire::value::{Key, Value};
use crate::wire::{php_serialize, xml};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Xml,
    Json,
    Serialize,
}

impl Output {
    /// `api_output`: xml is the default, also for unknown values.
    pub fn from_param(value: Option<&str>) -> Output {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            Some("json") => Output::Json,
            Some("serialize") => Output::Serialize,
            _ => Output::Xml,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Output::Xml => "xml",
            Output::Json => "json",
            Output::Serialize => "serialize",
        }
    }
}

/// The XML root element of each call, as ActiveCampaign's own server names them
/// (after the internal function behind each call).
fn xml_root(action: &str) -> &'static str {
    match action {
        "group_add" => "adesk_group_insert_post",
        "group_edit" => "adesk_group_update_post",
        "group_view" => "adesk_group_select_row",
        "group_list" => "adesk_group_select_array",
        "group_delete" => "adesk_group_delete",
        "group_delete_list" => "adesk_group_delete_multi",
        _ => "root",
    }
}

fn encode(
    mut entries: Vec<(Key, Value)>,
    code: i64,
    message: String,
    output: Output,
    action: &str,
    status: StatusCode,
) -> Response {
    entries.push(("result_code".into(), Value::Int(code)));
    entries.push(("result_message".into(), message.into()));
    entries.push(("result_output".into(), output.as_str().into()));
    let (content_type, body) = match output {
        Output::Json => (
            "application/json; charset=utf-8",
            serde_json::to_string(&Value::Map(entries)).ok(),
        ),
        Output::Serialize => (
            "text/plain; charset=utf-8",
            Some(php_serialize::serialize(&Value::Map(entries))),
        ),
        Output::Xml => (
            "text/xml; charset=utf-8",
            xml::to_xml(xml_root(action), &entries).ok(),
        ),
    };
    match body {
        Some(body) => (status, [(header::CONTENT_TYPE, content_type)], body).into_response(),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A successful answer: its own entries, then the `result_*` ones.
pub struct Reply {
    pub entries: Vec<(Key, Value)>,
    pub message: String,
}

impl Reply {
    pub fn new(message: &str) -> Reply {
        Reply {
            entries: Vec::new(),
            message: message.to_string(),
        }
    }

    pub fn with(mut self, key: &'static str, value: Value) -> Reply {
        self.entries.push((key.into(), value));
        self
    }

    pub fn into_response(self, output: Output, action: &str) -> Response {
        encode(
            self.entries,
            1,
            self.message,
            output,
            action,
            StatusCode::OK,
        )
    }
}

/// A failed call: `result_code` 0 and a message saying why.
#[derive(Debug)]
pub struct Failure {
    message: String,
    status: StatusCode,
}

/// ActiveCampaign's names for the domain's canonical field names.
pub fn wire_name(canonical: &str) -> String {
    if let Some(p) = canonical.strip_prefix("permissions.") {
        return format!("pg_{p}");
    }
    match canonical {
        "name" => "title",
        "description" => "descript",
        "abuse_ratio" => "abuseratio",
        "send_methods" => "sendmethods",
        "unsubscribe_link" => "unsubscribelink",
        other => other,
    }
    .to_string()
}

impl Failure {
    /// A failure with its own HTTP status (the server's refusals).
    pub fn with_status(message: String, status: StatusCode) -> Failure {
        Failure { message, status }
    }

    pub fn new(message: String) -> Failure {
        Failure {
            message,
            status: StatusCode::OK,
        }
    }

    pub fn invalid(errors: &ValidationErrors) -> Failure {
        let parts: Vec<String> = errors
            .fields()
            .iter()
            .map(|e| format!("{}: {}", wire_name(&e.field), e.message))
            .collect();
        Failure::new(format!("Invalid input: {}", parts.join("; ")))
    }

    pub fn into_response(self, output: Output, action: &str) -> Response {
        encode(Vec::new(), 0, self.message, output, action, self.status)
    }
}

impl From<ServiceError> for Failure {
    fn from(e: ServiceError) -> Failure {
        match e {
            ServiceError::Unauthorized => {
                Failure::new("You are not authorized to access this file".into())
            }
            ServiceError::Invalid(errors) => Failure::invalid(&errors),
            ServiceError::GroupNotFound => Failure::new("Group not found".into()),
            ServiceError::BuiltinGroup(id) => Failure::new(format!(
                "Group {id} is a built-in group and cannot be deleted"
            )),
            ServiceError::SuccessorNotFound(id) => Failure::new(format!(
                "Group {id}, named in alt to take over the members, does not exist"
            )),
            ServiceError::SlugTaken => Failure::new("Slug Already Exists".into()),
            ServiceError::Unavailable(msg) => {
                tracing::warn!(error = %msg, "activecampaign request failed: store unavailable");
                Failure {
                    message: "Something went wrong: the database is unavailable; try again".into(),
                    status: StatusCode::SERVICE_UNAVAILABLE,
                }
            }
            e @ ServiceError::RateLimited { .. } => {
                let text = e.to_string();
                let mut c = text.chars();
                Failure {
                    message: c
                        .next()
                        .map(|f| f.to_uppercase().chain(c).collect())
                        .unwrap_or(text),
                    status: StatusCode::TOO_MANY_REQUESTS,
                }
            }
            ServiceError::Internal(msg) => {
                tracing::error!(error = %msg, "activecampaign request failed");
                Failure {
                    message: "Something went wrong".into(),
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                }
            }
            other => {
                let text = other.to_string();
                let mut c = text.chars();
                Failure::new(match c.next() {
                    Some(f) => f.to_uppercase().chain(c).collect(),
                    None => text,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed refusals answer exactly what their text did when the store
    /// sent them as `Refused(String)`.
    #[tokio::test]
    async fn typed_refusals_answer_as_their_text_did() {
        async fn body_of(e: ServiceError, output: Output) -> (u16, Vec<u8>) {
            let response = Failure::from(e).into_response(output, "group_delete");
            let status = response.status().as_u16();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            (status, bytes.to_vec())
        }
        for output in [Output::Xml, Output::Json, Output::Serialize] {
            for e in [
                ServiceError::SuccessorAmongRemoved(4),
                ServiceError::DefaultCategory,
            ] {
                let before = ServiceError::Refused(e.to_string());
                assert_eq!(body_of(e, output).await, body_of(before, output).await);
            }
        }
    }
}
