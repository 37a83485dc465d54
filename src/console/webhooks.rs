//! Webhook endpoints (add, edit, secret shown once, rotate, delete), their
//! deliveries with every attempt (send one again), and the audit log with its
//! filters.

use super::page::{self, Kind, OrPage, Problems, Section};
use super::{Console, Posted};
use super::{Path, Query};
use crate::domain::event::EventQuery;
use crate::domain::event::{Event, EventPattern, EventType};
use crate::domain::webhook::{Delivery, Webhook};
use crate::service::console::ConsoleUser;
use crate::service::webhooks::{WebhookRequest, WithSecret};
use crate::service::{Service, ServiceError};
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

const EVENT_PAGE: u32 = 50;
const DELIVERY_PAGE: u32 = 50;

fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "—".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A table of events, newest first as given.
pub fn event_table(events: &[Event]) -> Markup {
    html! {
        @if events.is_empty() {
            p { "No events." }
        } @else {
            div.table-wrap {
                table {
                    thead { tr { th { "Id" } th { "When" } th { "Type" } th { "By" } th { "Subject" } th { "Changes" } } }
                    tbody {
                        @for e in events {
                            tr {
                                td { (e.id) }
                                td { (page::when_ms(e.at_ms)) }
                                td { code { (e.kind.as_str()) } }
                                td {
                                    (e.actor)
                                    @if let Some(l) = &e.actor_label { " (" (l) ")" }
                                    @if let Some(d) = &e.door { br; span.muted { "via " (d) } }
                                }
                                td {
                                    @if let Some(g) = e.group { a href={"/console/groups/" (g)} { "group " (g) } " " }
                                    @if let Some(u) = e.user { a href={"/console/users/" (u)} { "user " (u) } }
                                }
                                td {
                                    @for c in &e.changes {
                                        div { code { (c.field) } ": " (value_text(&c.before)) " → " (value_text(&c.after)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct EventFilters {
    #[serde(rename = "type")]
    kind: Option<String>,
    group: Option<String>,
    user: Option<String>,
    actor: Option<String>,
    before: Option<String>,
}

/// `GET /console/events`: the audit log, newest first, with filters.
pub async fn events(
    State(service): State<Service>,
    Console(user): Console,
    Query(f): Query<EventFilters>,
) -> Response {
    let mut problems = Problems::none();
    let mut errors = crate::domain::ValidationErrors::new();
    let kind_text = f.kind.clone().unwrap_or_default();
    let kind = match kind_text.trim() {
        "" => None,
        raw => match EventPattern::parse(raw) {
            Ok(p) => Some(p),
            Err(e) => {
                errors.push("type", e.to_string());
                None
            }
        },
    };
    let mut number = |name: &str, raw: &Option<String>| -> Option<i64> {
        match raw.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(r) => match r.parse::<i64>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    errors.push(name, "must be a positive whole number");
                    None
                }
            },
        }
    };
    let group = number("group", &f.group);
    let user_id = number("user", &f.user);
    let before = number("before", &f.before);
    problems.add_validation(&errors);
    let actor = f.actor.clone().unwrap_or_default();
    let query = EventQuery {
        limit: EVENT_PAGE,
        kind,
        group,
        user: user_id,
        actor: Some(actor.trim().to_string()).filter(|a| !a.is_empty()),
        before,
        newest_first: true,
        ..Default::default()
    };
    let events = if errors.is_empty() {
        match service.list_events(user.caller, query).await {
            Ok(e) => e,
            Err(e) => return page::service_failure(&user, &e),
        }
    } else {
        Vec::new()
    };
    let next = (events.len() == EVENT_PAGE as usize)
        .then(|| events.last())
        .flatten()
        .map(|e| {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            q.append_pair("type", &kind_text);
            q.append_pair("group", f.group.as_deref().unwrap_or(""));
            q.append_pair("user", f.user.as_deref().unwrap_or(""));
            q.append_pair("actor", &actor);
            q.append_pair("before", &e.id.to_string());
            format!("/console/events?{}", q.finish())
        });
    let mut types = vec![
        (String::new(), "Any type".to_string()),
        ("group.*".to_string(), "group.*".to_string()),
        ("member.*".to_string(), "member.*".to_string()),
        ("user.*".to_string(), "user.*".to_string()),
    ];
    types.extend(
        EventType::ALL
            .iter()
            .map(|t| (t.as_str().to_string(), t.as_str().to_string())),
    );
    let markup = html! {
        h1 { "Audit log" }
        p.hint { "Every change, newest first, with who made it and through which door. The same events are sent to webhooks." }
        form.card.filters method="get" action="/console/events" role="search" {
            div { (page::select("type", "Type", &types, &kind_text, &problems)) }
            div { (page::input("group", "Group id", Kind::Number, f.group.as_deref().unwrap_or(""), &problems, None)) }
            div { (page::input("user", "User id", Kind::Number, f.user.as_deref().unwrap_or(""), &problems, None)) }
            div { (page::input("actor", "Actor (key:…, user:…, cli)", Kind::Text, &actor, &problems, None)) }
            div { button type="submit" { "Filter" } }
        }
        (event_table(&events))
        (page::pager("Pages", before.is_some().then_some("/console/events"), next.as_deref(), true))
    };
    if errors.is_empty() {
        page::ok(&user, Section::Events, "Audit log", markup)
    } else {
        page::invalid(&user, Section::Events, "Audit log", markup)
    }
}

#[derive(Deserialize, Default)]
pub struct Done {
    done: Option<String>,
    before: Option<i64>,
}

/// `GET /console/webhooks`.
pub async fn list(
    State(service): State<Service>,
    Console(user): Console,
    Query(q): Query<Done>,
) -> Result<Response, Response> {
    let hooks = service.list_webhooks(user.caller).await.or_page(&user)?;
    Ok(page::ok(
        &user,
        Section::Webhooks,
        "Webhooks",
        html! {
            h1 { "Webhooks" }
            (page::done_notice(q.done.as_deref()))
            p.hint { "Each change is sent, signed per Standard Webhooks, to every enabled endpoint subscribed to its type. See the audit log for what was sent." }
            div.actions { a.button href="/console/webhooks/new" { "Add an endpoint" } }
            @if hooks.is_empty() {
                p { "No endpoints yet." }
            } @else {
                div.table-wrap {
                    table {
                        thead { tr { th { "Id" } th { "URL" } th { "Events" } th { "State" } } }
                        tbody {
                            @for h in &hooks {
                                tr {
                                    td { (h.id) }
                                    td { a href={"/console/webhooks/" (h.id)} { (h.url) } br; span.muted { (h.description) } }
                                    td { @for e in &h.events { span.pill { (e) } } }
                                    td { (state(h)) }
                                }
                            }
                        }
                    }
                }
            }
        },
    ))
}

fn state(h: &Webhook) -> Markup {
    html! {
        @if h.enabled { span.pill { "enabled" } }
        @else {
            span.pill.warn { "disabled" }
            @if let Some(r) = &h.disabled_reason { br; span.muted { (r) } }
        }
    }
}

struct Values {
    url: String,
    events: String,
    description: String,
    enabled: bool,
}

fn webhook_form(
    user: &ConsoleUser,
    action: &str,
    v: &Values,
    problems: &Problems,
    creating: bool,
) -> Markup {
    html! {
        (problems.summary(&["url", "events", "description"]))
        form.card method="post" action=(action) novalidate {
            (page::csrf(user))
            (page::input("url", "Endpoint URL", Kind::Url, &v.url, problems, Some("Where deliveries are POSTed (https:// recommended).")))
            (page::textarea("events", "Events (one per line: a type, noun.* or *)", &v.events, problems))
            (page::input("description", "Description", Kind::Text, &v.description, problems, None))
            (page::checkbox("enabled", "Enabled", v.enabled, problems))
            div.actions {
                button type="submit" { @if creating { "Add the endpoint" } @else { "Save" } }
                a.button.secondary href="/console/webhooks" { "Cancel" }
            }
        }
    }
}

fn request_of(form: &Posted) -> WebhookRequest {
    WebhookRequest {
        url: Some(form.text("url")),
        events: Some(
            form.text("events")
                .split([',', '\n', '\r', ' '])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        ),
        description: Some(form.text("description")),
        enabled: Some(form.ticked("enabled")),
    }
}

fn values_of(form: &Posted) -> Values {
    Values {
        url: form.text("url"),
        events: form.text("events"),
        description: form.text("description"),
        enabled: form.ticked("enabled"),
    }
}

/// `GET /console/webhooks/new`.
pub async fn new_form(Console(user): Console) -> Response {
    let v = Values {
        url: String::new(),
        events: "*".into(),
        description: String::new(),
        enabled: true,
    };
    let body = webhook_form(&user, "/console/webhooks", &v, &Problems::none(), true);
    page::titled(&user, Section::Webhooks, "New endpoint", false, body)
}

/// `POST /console/webhooks`: the answer is the endpoint's page with its secret,
/// shown this once.
pub async fn create(
    State(service): State<Service>,
    Console(user): Console,
    form: Posted,
) -> Response {
    match service.create_webhook(user.caller, request_of(&form)).await {
        Ok(made) => secret_shown(&service, &user, made.webhook.id, &made).await,
        Err(e) => match Problems::of(&e) {
            Some(p) => {
                let body = webhook_form(&user, "/console/webhooks", &values_of(&form), &p, true);
                page::titled(&user, Section::Webhooks, "New endpoint", true, body)
            }
            None => page::service_failure(&user, &e),
        },
    }
}

fn delivery_table(user: &ConsoleUser, hook: i64, deliveries: &[Delivery]) -> Markup {
    html! {
        @if deliveries.is_empty() {
            p { "Nothing delivered yet." }
        } @else {
            div.table-wrap {
                table {
                    thead { tr { th { "Delivery" } th { "Event" } th { "State" } th { "Attempts" } th { "Send again" } } }
                    tbody {
                        @for d in deliveries {
                            tr {
                                td { (d.id) br; span.muted { (page::when_ms(d.created_ms)) } }
                                td { code { (d.event_type) } " #" (d.event_id) }
                                td { (d.state.as_str())
                                    @if d.state == crate::domain::webhook::DeliveryState::Pending {
                                        br; span.muted { "next " (page::when_ms(d.next_at_ms)) } } }
                                td {
                                    @for a in &d.tries {
                                        div {
                                            (page::when_ms(a.at_ms)) ": "
                                            @if let Some(s) = a.status { "HTTP " (s) } @else { "no answer" }
                                            " in " (a.latency_ms) " ms"
                                            @if let Some(err) = &a.error { " — " span.muted { (err) } }
                                        }
                                    }
                                }
                                td {
                                    form.inline method="post" action={"/console/webhooks/" (hook) "/deliveries/" (d.id) "/retry"} {
                                        (page::csrf(user))
                                        button.secondary type="submit" aria-label={"Send delivery " (d.id) " again"} { "Send again" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// An endpoint's page showing its new secret, the one time it is shown.
async fn secret_shown(
    service: &Service,
    user: &ConsoleUser,
    id: i64,
    made: &WithSecret,
) -> Response {
    webhook_page(
        service,
        user,
        id,
        None,
        Some(made),
        &Problems::none(),
        None,
        None,
    )
    .await
    .into_response()
}

#[allow(clippy::too_many_arguments)]
async fn webhook_page(
    service: &Service,
    user: &ConsoleUser,
    id: i64,
    done: Option<&str>,
    secret: Option<&WithSecret>,
    problems: &Problems,
    posted: Option<&Posted>,
    before: Option<i64>,
) -> Result<Response, Response> {
    let hook = service.get_webhook(user.caller, id).await.or_page(user)?;
    let deliveries = service
        .list_deliveries(user.caller, id, before, DELIVERY_PAGE)
        .await
        .or_page(user)?;
    let v = posted.map(values_of).unwrap_or(Values {
        url: hook.url.clone(),
        events: hook.events.join("\n"),
        description: hook.description.clone(),
        enabled: hook.enabled,
    });
    let base = format!("/console/webhooks/{id}");
    let older = (deliveries.len() == DELIVERY_PAGE as usize)
        .then(|| deliveries.last())
        .flatten()
        .map(|d| format!("{base}?before={}#deliveries", d.id));
    let markup = html! {
        (page::done_notice(done))
        @if let Some(s) = secret {
            div.secret role="status" {
                p { strong { "The signing secret: copy it now, it is shown only this once." } }
                p { code id="new-secret" { (s.secret) } " " button.secondary type="button" data-copy="new-secret" hidden { "Copy" } }
            }
        }
        p { (state(&hook)) " created " (page::when(hook.created_at)) }
        (webhook_form(user, &base, &v, problems, false))
        div.actions {
            form.inline method="post" action={(base) "/rotate-secret"}
                data-confirm="Make a new signing secret? The old one keeps signing for 24 hours." {
                (page::csrf(user))
                button.secondary type="submit" { "Rotate the secret" }
            }
            form.inline method="post" action={(base) "/delete"} data-confirm="Delete this endpoint and its deliveries?" {
                (page::csrf(user))
                button.danger type="submit" { "Delete the endpoint" }
            }
        }
        h2 id="deliveries" { "Deliveries" }
        (delivery_table(user, id, &deliveries))
        (page::pager("Delivery pages", before.is_some().then_some(format!("{base}#deliveries")).as_deref(), older.as_deref(), true))
    };
    let title = format!("Endpoint {}", hook.id);
    Ok(page::titled(
        user,
        Section::Webhooks,
        &title,
        posted.is_some(),
        markup,
    ))
}

fn number(raw: &str) -> Option<i64> {
    raw.parse().ok().filter(|n: &i64| *n > 0)
}

/// `GET /console/webhooks/{id}`.
pub async fn show(
    State(service): State<Service>,
    Console(user): Console,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Response {
    let Some(id) = number(&id) else {
        return page::service_failure(&user, &ServiceError::WebhookNotFound);
    };
    webhook_page(
        &service,
        &user,
        id,
        q.done.as_deref(),
        None,
        &Problems::none(),
        None,
        q.before,
    )
    .await
    .into_response()
}

/// `POST /console/webhooks/{id}`.
pub async fn update(
    State(service): State<Service>,
    Console(user): Console,
    Path(id): Path<String>,
    form: Posted,
) -> Response {
    let Some(id) = number(&id) else {
        return page::service_failure(&user, &ServiceError::WebhookNotFound);
    };
    match service
        .update_webhook(user.caller, id, request_of(&form))
        .await
    {
        Ok(_) => {
            Redirect::to(&format!("/console/webhooks/{id}?done=webhook-saved")).into_response()
        }
        Err(e @ ServiceError::WebhookNotFound) => page::service_failure(&user, &e),
        Err(e) => match Problems::of(&e) {
            Some(p) => webhook_page(&service, &user, id, None, None, &p, Some(&form), None)
                .await
                .into_response(),
            None => page::service_failure(&user, &e),
        },
    }
}

/// `POST /console/webhooks/{id}/rotate-secret`.
pub async fn rotate(
    State(service): State<Service>,
    Console(user): Console,
    Path(id): Path<String>,
    _form: Posted,
) -> Response {
    let Some(id) = number(&id) else {
        return page::service_failure(&user, &ServiceError::WebhookNotFound);
    };
    match service.rotate_webhook_secret(user.caller, id).await {
        Ok(made) => secret_shown(&service, &user, id, &made).await,
        Err(e) => page::service_failure(&user, &e),
    }
}

/// `POST /console/webhooks/{id}/delete`.
pub async fn delete(
    State(service): State<Service>,
    Console(user): Console,
    Path(id): Path<String>,
    _form: Posted,
) -> Response {
    let Some(id) = number(&id) else {
        return page::service_failure(&user, &ServiceError::WebhookNotFound);
    };
    match service.delete_webhook(user.caller, id).await {
        Ok(()) => Redirect::to("/console/webhooks?done=webhook-deleted").into_response(),
        Err(e) => page::service_failure(&user, &e),
    }
}

/// `POST /console/webhooks/{id}/deliveries/{delivery}/retry`.
pub async fn retry(
    State(service): State<Service>,
    Console(user): Console,
    Path((id, delivery)): Path<(String, String)>,
    _form: Posted,
) -> Response {
    let (Some(id), Some(delivery)) = (number(&id), number(&delivery)) else {
        return page::service_failure(&user, &ServiceError::DeliveryNotFound);
    };
    match service.retry_delivery(user.caller, id, delivery).await {
        Ok(()) => Redirect::to(&format!(
            "/console/webhooks/{id}?done=delivery-retried#deliveries"
        ))
        .into_response(),
        Err(e) => page::service_failure(&user, &e),
    }
}
