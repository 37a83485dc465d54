//! The Grupo dialect: `POST /api_request/` (GET is read too, as the original does).
//!
//! One endpoint; the operation is named by one field, `add`, `update` or `remove`,
//! whose value names the object (`groups`). The key travels in `api_secret_key`.
//! Answers are JSON: `{"success":true,...}` or
//! `{"success":false,"error_message":...,"error_key":...,"error_variables":[...]}`.
//! Errors answer HTTP 200 like the original, except server-side faults (500/503) and
//! bodies over the size limit (413). docs/grupo.md has the whole contract.

mod add_group;
mod add_member;
mod add_user;
mod fields;
mod remove_group;
mod remove_member;
mod remove_user;
pub mod reply;
mod update_group;
mod update_user;

use crate::domain::event::Door;
use crate::service::{Caller, Service};
use crate::wire::form::{self, FormFields};
use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::get;
use reply::Reply;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub fn routes() -> Router<Service> {
    Router::new()
        .route("/api_request/", get(api_request).post(api_request))
        .route("/api_request", get(api_request).post(api_request))
}

/// Query parameters first, then the body's fields, which win (as `$_REQUEST` with
/// PHP's default order).
/// A key in the query is checked before the body is read, so a stranger's body is
/// never received.
async fn read_params(
    service: &Service,
    query: Option<String>,
    headers: &HeaderMap,
    body: Body,
) -> Result<(FormFields, Option<(String, Caller)>), Reply> {
    let mut params = match query {
        Some(q) => form::parse_urlencoded(q.as_bytes()).map_err(Reply::bad_request)?,
        None => FormFields::default(),
    };
    let checked = match params.get("api_secret_key") {
        Some(key) => {
            let caller = service
                .authenticate(Some(key), Door::Grupo)
                .await
                .map_err(Reply::from)?;
            Some((key.to_string(), caller))
        }
        None => None,
    };
    let bytes = form::read_body(body, MAX_BODY_BYTES)
        .await
        .map_err(Reply::body)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let body_fields = form::parse_body(content_type, bytes)
        .await
        .map_err(Reply::bad_request)?;
    params.extend(body_fields).map_err(Reply::bad_request)?;
    Ok((params, checked))
}

async fn api_request(
    State(service): State<Service>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut operation = None;
    let mut response = match handle(&service, query, &headers, body, &mut operation).await {
        Ok(reply) | Err(reply) => reply.into_response(),
    };
    response
        .extensions_mut()
        .insert(crate::server::observe::Operation(
            operation.unwrap_or("unknown"),
        ));
    response
}

/// Every (operation, object) Grupo carries out, with its log and metric name.
const OPERATIONS: [(&str, &str, &str); 8] = [
    ("add", "groups", "add_groups"),
    ("update", "groups", "update_groups"),
    ("remove", "groups", "remove_groups"),
    ("add", "site_users", "add_site_users"),
    ("update", "site_users", "update_site_users"),
    ("remove", "site_users", "remove_site_users"),
    ("add", "group_members", "add_group_members"),
    ("remove", "group_members", "remove_group_members"),
];

async fn handle(
    service: &Service,
    query: Option<String>,
    headers: &HeaderMap,
    body: Body,
    operation: &mut Option<&'static str>,
) -> Result<Reply, Reply> {
    let (params, checked) = read_params(service, query, headers, body).await?;
    // The key checked before the body is reused unless the body named another.
    let caller = match checked {
        Some((key, caller)) if params.get("api_secret_key") == Some(key.as_str()) => caller,
        _ => service
            .authenticate(params.get("api_secret_key"), Door::Grupo)
            .await
            .map_err(Reply::from)?,
    };
    let ops: Vec<(&str, &str)> = ["add", "update", "remove"]
        .into_iter()
        .filter_map(|op| params.get(op).map(|target| (op, target)))
        .collect();
    let (op, target) = match ops.as_slice() {
        [one] => *one,
        [] => {
            return Err(Reply::invalid(
                vec!["add".into(), "update".into(), "remove".into()],
                "Name an operation: add, update or remove",
            ));
        }
        many => {
            return Err(Reply::invalid(
                many.iter().map(|(op, _)| op.to_string()).collect(),
                "Send only one of add, update or remove",
            ));
        }
    };
    *operation = OPERATIONS
        .iter()
        .find(|(o, t, _)| *o == op && *t == target)
        .map(|(_, _, name)| *name);
    match (op, target) {
        ("add", "groups") => add_group::run(service, caller, &params).await,
        ("update", "groups") => update_group::run(service, caller, &params).await,
        ("remove", "groups") => remove_group::run(service, caller, &params).await,
        ("add", "site_users") => add_user::run(service, caller, &params).await,
        ("update", "site_users") => update_user::run(service, caller, &params).await,
        ("remove", "site_users") => remove_user::run(service, caller, &params).await,
        ("add", "group_members") => add_member::run(service, caller, &params).await,
        ("remove", "group_members") => remove_member::run(service, caller, &params).await,
        (op, target) => Err(Reply::invalid(
            vec![op.to_string()],
            &format!(
                "Unknown object '{target}' for {op}; this server supports: groups, site_users, group_members"
            ),
        )),
    }
}
