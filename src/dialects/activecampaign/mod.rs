//! The ActiveCampaign v1 dialect: `/admin/api.php?api_action=group_*`.
//!
//! `api_action` and `api_output` travel in the query string, the group's fields in
//! a form body (PHP bracket names decoded as PHP does). The key comes in the
//! `API-TOKEN` header or the `api_key` parameter. Every answer is an ordered map
//! ending in `result_code`, `result_message` and `result_output`, written as XML (the
//! default), JSON or PHP serialize. Errors answer HTTP 200 with `result_code` 0, like
//! the original. docs/activecampaign.md has the whole contract.

mod answer;
mod fields;
mod group_add;
mod group_delete;
mod group_delete_list;
mod group_edit;
mod group_list;
mod group_view;

use crate::domain::event::Door;
use crate::service::{Caller, Service};
use crate::wire::form;
use crate::wire::php_form::PhpVars;
use answer::{Failure, Output, Reply};
use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::get;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Every `api_action` this dialect carries out (also the operation label of its
/// requests' logs and metrics).
pub const ACTIONS: [&str; 6] = [
    "group_add",
    "group_edit",
    "group_view",
    "group_list",
    "group_delete",
    "group_delete_list",
];

/// A refusal of the server's (rate limit, deadline) as an ActiveCampaign answer
/// in the output the query asked for.
pub fn refused(query: Option<&str>, status: axum::http::StatusCode, message: String) -> Response {
    let vars = query
        .and_then(|q| form::parse_urlencoded(q.as_bytes()).ok())
        .map(|f| PhpVars::from_fields(&f))
        .unwrap_or_default();
    let output = Output::from_param(vars.str("api_output"));
    let action = vars.str("api_action").unwrap_or_default().to_string();
    Failure::with_status(message, status).into_response(output, &action)
}

pub fn routes() -> Router<Service> {
    Router::new().route("/admin/api.php", get(api).post(api))
}

/// One decoded request: the action, the output format and every parameter.
pub struct Request {
    pub action: String,
    pub output: Output,
    pub vars: PhpVars,
}

impl Request {
    /// A plain parameter, trimmed; `None` when absent or empty.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.vars.str(name).map(str::trim).filter(|s| !s.is_empty())
    }
}

async fn api(
    State(service): State<Service>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // The query alone tells the output format and action, even when the body is bad.
    let query_fields = query
        .as_deref()
        .map(|q| form::parse_urlencoded(q.as_bytes()))
        .transpose();
    let query_vars = match &query_fields {
        Ok(Some(f)) => PhpVars::from_fields(f),
        _ => PhpVars::default(),
    };
    let output = Output::from_param(query_vars.str("api_output"));
    let action = query_vars.str("api_action").unwrap_or_default().to_string();
    let fail = |message: String| Failure::new(message).into_response(output, &action);

    let query_fields = match query_fields {
        Ok(f) => f.unwrap_or_default(),
        Err(e) => return fail(format!("The query string cannot be read: {e}")),
    };
    // A key in the header or the query is checked before the body is read, so a
    // stranger's body is never received.
    let outside_key = headers
        .get("api-token")
        .and_then(|v| v.to_str().ok())
        .or_else(|| query_vars.str("api_key"));
    let outside_caller = match outside_key {
        Some(_) => match service
            .authenticate(outside_key, Door::ActiveCampaign)
            .await
        {
            Ok(c) => Some((outside_key.map(str::to_string), c)),
            Err(e) => return Failure::from(e).into_response(output, &action),
        },
        None => None,
    };
    let mut fields = query_fields;
    let bytes = match form::read_body(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(e) => {
            let message = e.to_string();
            let mut chars = message.chars();
            let first = chars.next().map(|c| c.to_uppercase().collect::<String>());
            return fail(format!("{}{}", first.unwrap_or_default(), chars.as_str()));
        }
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    match form::parse_body(content_type, bytes).await {
        Ok(body_fields) => {
            if let Err(e) = fields.extend(body_fields) {
                return fail(format!("The request cannot be read: {e}"));
            }
        }
        Err(form::FormError::UnsupportedType(t)) => {
            return fail(format!(
                "Request bodies of type {t} are not accepted: send the fields as \
                 application/x-www-form-urlencoded"
            ));
        }
        Err(e) => return fail(format!("The request body cannot be read: {e}")),
    }
    let request = Request {
        action: action.clone(),
        output,
        vars: PhpVars::from_fields(&fields),
    };

    let key = headers
        .get("api-token")
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.vars.str("api_key"));
    // The key checked before the body is reused unless the body named another.
    let caller = match outside_caller {
        Some((checked, c)) if checked.as_deref() == key => c,
        _ => match service.authenticate(key, Door::ActiveCampaign).await {
            Ok(c) => c,
            Err(e) => return Failure::from(e).into_response(output, &action),
        },
    };
    match dispatch(&service, caller, &request).await {
        Ok(reply) => reply.into_response(output, &action),
        Err(failure) => failure.into_response(output, &action),
    }
}

async fn dispatch(service: &Service, caller: Caller, request: &Request) -> Result<Reply, Failure> {
    match request.action.as_str() {
        "group_add" => group_add::run(service, caller, request).await,
        "group_edit" => group_edit::run(service, caller, request).await,
        "group_view" => group_view::run(service, caller, request).await,
        "group_list" => group_list::run(service, caller, request).await,
        "group_delete" => group_delete::run(service, caller, request).await,
        "group_delete_list" => group_delete_list::run(service, caller, request).await,
        "" => Err(Failure::new(
            "api_action is required, e.g. api_action=group_add".to_string(),
        )),
        other => Err(Failure::new(format!(
            "Invalid function: {other} is not supported here; the group calls are {} and {}",
            ACTIONS[..ACTIONS.len() - 1].join(", "),
            ACTIONS[ACTIONS.len() - 1]
        ))),
    }
}
