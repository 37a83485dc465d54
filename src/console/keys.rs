//! API keys of the workspace: create with a label (the secret shown once, with a
//! copy button), list (prefix, label, created, last used), revoke.

use super::page::{self, Kind, OrPage, Problems, Section};
use super::{Console, Posted};
use super::{Path, Query};
use crate::service::console::ConsoleUser;
use crate::service::{NewKey, Service, ServiceError};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    done: Option<String>,
}

async fn keys_page(
    service: &Service,
    user: &ConsoleUser,
    done: Option<&str>,
    made: Option<&NewKey>,
    problems: &Problems,
    label: &str,
) -> Result<Response, Response> {
    let keys = service.workspace_keys(user.caller).await.or_page(user)?;
    let own = user.caller.actor.key_prefix();
    let markup = html! {
        h1 { "API keys" }
        (page::done_notice(done))
        @if let Some(k) = made {
            div.secret role="status" {
                p { strong { "Key " (k.prefix) " was created. Copy it now: it is shown only this once." } }
                p { code id="new-key" { (k.secret) } " " button.secondary type="button" data-copy="new-key" hidden { "Copy" } }
            }
        }
        form.card method="post" action="/console/keys" novalidate {
            (page::csrf(user))
            (problems.summary(&["label"]))
            (page::input("label", "Label", Kind::Text, label, problems, Some("What the key is for, say the site that uses it.")))
            div.actions { button type="submit" { "Create a key" } }
        }
        div.table-wrap {
            table {
                thead { tr { th { "Prefix" } th { "Label" } th { "Created" } th { "Last used" } th { "State" } } }
                tbody {
                    @for k in &keys {
                        tr {
                            td { code { (k.prefix) } @if own == Some(k.prefix.as_str()) { " " span.pill { "this session" } } }
                            td { (k.label) }
                            td { (page::when(k.created_at)) }
                            td { @if let Some(t) = k.last_used_at { (page::when(t)) } @else { span.muted { "never" } } }
                            td {
                                @if let Some(t) = k.revoked_at {
                                    span.pill.warn { "revoked " (page::when(t)) }
                                } @else {
                                    form.inline method="post" action={"/console/keys/" (k.prefix) "/revoke"}
                                        data-confirm={"Revoke key " (k.prefix) "? Requests with it are refused at once."} {
                                        (page::csrf(user))
                                        button.danger type="submit" aria-label={"Revoke key " (k.prefix)} { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let status = if problems.field("label").is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(page::respond(
        status,
        page::layout(Some(user), Section::Keys, "API keys", markup),
    ))
}

/// `GET /console/keys`.
pub async fn list(
    State(service): State<Service>,
    Console(user): Console,
    Query(q): Query<ListQuery>,
) -> Response {
    keys_page(
        &service,
        &user,
        q.done.as_deref(),
        None,
        &Problems::none(),
        "",
    )
    .await
    .into_response()
}

/// `POST /console/keys`: the answer shows the new key once (never a redirect, so
/// the secret is in no address or history).
pub async fn create(
    State(service): State<Service>,
    Console(user): Console,
    form: Posted,
) -> Response {
    let label = form.text("label");
    match service.create_workspace_key(user.caller, &label).await {
        Ok(k) => keys_page(&service, &user, None, Some(&k), &Problems::none(), "")
            .await
            .into_response(),
        Err(e) => match Problems::of(&e) {
            Some(p) => keys_page(&service, &user, None, None, &p, &label)
                .await
                .into_response(),
            None => page::service_failure(&user, &e),
        },
    }
}

/// `POST /console/keys/{prefix}/revoke`. Revoking the key this session signed in
/// with ends the session too.
pub async fn revoke(
    State(service): State<Service>,
    Console(user): Console,
    Path(prefix): Path<String>,
    _form: Posted,
) -> Response {
    match service.revoke_workspace_key(user.caller, &prefix).await {
        Ok(()) => Redirect::to("/console/keys?done=key-revoked").into_response(),
        Err(e @ ServiceError::KeyNotFound(_)) => page::service_failure(&user, &e),
        Err(e) => page::service_failure(&user, &e),
    }
}
