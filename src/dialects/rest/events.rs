//! `/api/v1/events` (the audit log) and `/api/v1/webhooks` (endpoints, their
//! secrets and deliveries), with their JSON shapes.

use super::error::{ApiError, ErrorBody};
use super::{Auth, JsonBody, QueryParams, decode_cursor, encode_cursor, path_id};
use crate::domain::event::EventQuery;
use crate::domain::event::{Event, EventPattern, rfc3339_ms};
use crate::domain::webhook::{Delivery, Webhook};
use crate::service::Service;
use crate::service::webhooks::{WebhookRequest, WithSecret};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One field's change: its value before and after (`null` where there was none).
/// Secrets read `"changed"`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeOut {
    pub field: String,
    /// Any JSON value: a string, number, boolean, list, object or null.
    pub before: serde_json::Value,
    /// Any JSON value, as `before`.
    pub after: serde_json::Value,
}

/// An event of the audit log.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 42, "type": "group.updated", "timestamp": "2026-12-01T13:51:40.123Z",
    "actor": "key:AbC12345", "actor_label": "billing sync", "door": "rest", "group_id": 7,
    "user_id": null, "subject": null,
    "changes": [{"field": "name", "before": "Owls", "after": "Night Owls"}]}))]
pub struct EventOut {
    /// Grows with every event of the workspace, in commit order.
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    /// RFC 3339, UTC, to the millisecond.
    pub timestamp: String,
    /// `key:<prefix>`, `cli` or `system`.
    pub actor: String,
    pub actor_label: Option<String>,
    /// `rest`, `grupo`, `activecampaign`, `cli`; `null` for groupd's own changes.
    pub door: Option<String>,
    pub group_id: Option<i64>,
    pub user_id: Option<i64>,
    /// The category, custom field, key prefix or webhook the event is about.
    pub subject: Option<String>,
    pub changes: Vec<ChangeOut>,
}

impl From<&Event> for EventOut {
    fn from(e: &Event) -> EventOut {
        EventOut {
            id: e.id,
            kind: e.kind.as_str().to_string(),
            timestamp: rfc3339_ms(e.at_ms),
            actor: e.actor.clone(),
            actor_label: e.actor_label.clone(),
            door: e.door.clone(),
            group_id: e.group,
            user_id: e.user,
            subject: e.subject.clone(),
            changes: e
                .changes
                .iter()
                .map(|c| ChangeOut {
                    field: c.field.clone(),
                    before: c.before.clone(),
                    after: c.after.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub items: Vec<EventOut>,
    /// The last id on this page: pass it as `after` for what follows (also after
    /// the last page, to wait for new events). `null` when the page is empty.
    pub next_after: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    params(
        ("after" = Option<i64>, Query, description = "Only events after this id (default 0: from the oldest kept)"),
        ("limit" = Option<u32>, Query, description = "1 to 1000, default 50"),
        ("type" = Option<String>, Query, description = "One type (member.added), a kind (group.*) or *"),
        ("group" = Option<i64>, Query, description = "Only events about this group id"),
        ("user" = Option<i64>, Query, description = "Only events about this user id"),
        ("actor" = Option<String>, Query, description = "Only events by this actor (key:<prefix>, cli, system)")),
    responses((status = 200, description = "A page of events, oldest first", body = EventPage),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 422, description = "invalid_value", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_events(
    State(service): State<Service>,
    Auth(caller): Auth,
    q: QueryParams,
) -> Result<Json<EventPage>, ApiError> {
    let after = q.int("after")?.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::field("after", "must be 0 or more"));
    }
    let kind = match q.str("type") {
        None => None,
        Some(raw) => {
            Some(EventPattern::parse(raw).map_err(|e| ApiError::field("type", e.to_string()))?)
        }
    };
    let query = EventQuery {
        after,
        limit: q.limit()?,
        kind,
        group: q.int("group")?,
        user: q.int("user")?,
        actor: q.str("actor").map(|a| a.trim().to_string()),
        ..Default::default()
    };
    let events = service.list_events(caller, query).await?;
    Ok(Json(EventPage {
        next_after: events.last().map(|e| e.id),
        items: events.iter().map(EventOut::from).collect(),
    }))
}

/// A webhook endpoint (never its secret).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 3, "url": "https://crm.example.com/hooks/groupd",
    "events": ["group.*", "member.added"], "description": "CRM sync", "enabled": true,
    "disabled_reason": null, "created_at": 1764597100, "updated_at": 1764597100}))]
pub struct WebhookOut {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
    pub enabled: bool,
    /// Why groupd disabled the endpoint (410 Gone, days of failures).
    pub disabled_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&Webhook> for WebhookOut {
    fn from(w: &Webhook) -> WebhookOut {
        WebhookOut {
            id: w.id,
            url: w.url.clone(),
            events: w.events.clone(),
            description: w.description.clone(),
            enabled: w.enabled,
            disabled_reason: w.disabled_reason.clone(),
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// An endpoint with its signing secret: shown when made and when rotated, never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: WebhookOut,
    /// `whsec_` and base64: verify deliveries' `webhook-signature` with it.
    pub secret: String,
}

impl From<&WithSecret> for WebhookWithSecret {
    fn from(w: &WithSecret) -> WebhookWithSecret {
        WebhookWithSecret {
            webhook: WebhookOut::from(&w.webhook),
            secret: w.secret.clone(),
        }
    }
}

/// An endpoint to make (`url` and `events` required) or the changes to one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://crm.example.com/hooks/groupd",
    "events": ["group.*", "member.added"], "description": "CRM sync"}))]
pub struct WebhookIn {
    pub url: Option<String>,
    /// Event types (`member.added`), kinds (`group.*`) or `*`.
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

impl From<WebhookIn> for WebhookRequest {
    fn from(w: WebhookIn) -> WebhookRequest {
        WebhookRequest {
            url: w.url,
            events: w.events,
            description: w.description,
            enabled: w.enabled,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub items: Vec<WebhookOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptOut {
    pub timestamp: String,
    /// The endpoint's HTTP status; `null` when it did not answer.
    pub status: Option<u16>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryOut {
    pub id: i64,
    pub event_id: i64,
    pub event_type: String,
    /// pending, delivered or failed.
    pub state: String,
    pub attempts: i64,
    /// When it will be tried next, while pending.
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub tries: Vec<AttemptOut>,
}

impl From<&Delivery> for DeliveryOut {
    fn from(d: &Delivery) -> DeliveryOut {
        use crate::domain::webhook::DeliveryState;
        DeliveryOut {
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type.clone(),
            state: d.state.as_str().to_string(),
            attempts: d.attempts,
            next_attempt_at: (d.state == DeliveryState::Pending).then(|| rfc3339_ms(d.next_at_ms)),
            created_at: rfc3339_ms(d.created_ms),
            tries: d
                .tries
                .iter()
                .map(|a| AttemptOut {
                    timestamp: rfc3339_ms(a.at_ms),
                    status: a.status,
                    latency_ms: a.latency_ms,
                    error: a.error.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub items: Vec<DeliveryOut>,
    /// Pass as `cursor` for older deliveries; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn webhook_id(raw: &str) -> Result<i64, ApiError> {
    path_id(raw, "webhook_not_found", "Webhook")
}

#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = WebhookIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for 24 hours")),
    responses((status = 201, description = "Made; the secret is shown only now", body = WebhookWithSecret),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 422, description = "invalid_value", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_webhook(
    State(service): State<Service>,
    Auth(caller): Auth,
    JsonBody(body): JsonBody<WebhookIn>,
) -> Result<Response, ApiError> {
    let made = service.create_webhook(caller, body.into()).await?;
    Ok((StatusCode::CREATED, Json(WebhookWithSecret::from(&made))).into_response())
}

#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses((status = 200, description = "Every endpoint of the workspace", body = WebhookList),
        (status = 401, description = "Bad key", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_webhooks(
    State(service): State<Service>,
    Auth(caller): Auth,
) -> Result<Json<WebhookList>, ApiError> {
    let items = service.list_webhooks(caller).await?;
    Ok(Json(WebhookList {
        items: items.iter().map(WebhookOut::from).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id")),
    responses((status = 200, description = "The endpoint", body = WebhookOut),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 404, description = "webhook_not_found", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_webhook(
    State(service): State<Service>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> Result<Json<WebhookOut>, ApiError> {
    let w = service.get_webhook(caller, webhook_id(&id)?).await?;
    Ok(Json(WebhookOut::from(&w)))
}

#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", request_body = WebhookIn,
    params(("id" = i64, Path, description = "Webhook id")),
    responses((status = 200, description = "Changed", body = WebhookOut),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 404, description = "webhook_not_found", body = ErrorBody),
        (status = 422, description = "invalid_value", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_webhook(
    State(service): State<Service>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<WebhookIn>,
) -> Result<Json<WebhookOut>, ApiError> {
    let id = webhook_id(&id)?;
    let w = service.update_webhook(caller, id, body.into()).await?;
    Ok(Json(WebhookOut::from(&w)))
}

#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id")),
    responses((status = 204, description = "Removed, with its deliveries"),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 404, description = "webhook_not_found", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_webhook(
    State(service): State<Service>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    service.delete_webhook(caller, webhook_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for 24 hours")),
    responses((status = 200, description = "The new secret, shown only now; the old one also signs for 24 hours", body = WebhookWithSecret),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 404, description = "webhook_not_found", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn rotate_secret(
    State(service): State<Service>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> Result<Json<WebhookWithSecret>, ApiError> {
    let made = service
        .rotate_webhook_secret(caller, webhook_id(&id)?)
        .await?;
    Ok(Json(WebhookWithSecret::from(&made)))
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id"),
        ("cursor" = Option<String>, Query, description = "From a previous page's next_cursor"),
        ("limit" = Option<u32>, Query, description = "1 to 1000, default 50")),
    responses((status = 200, description = "Deliveries, newest first, with every attempt", body = DeliveryPage),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 404, description = "webhook_not_found", body = ErrorBody),
        (status = 422, description = "invalid_value", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_deliveries(
    State(service): State<Service>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    q: QueryParams,
) -> Result<Json<DeliveryPage>, ApiError> {
    let id = webhook_id(&id)?;
    let limit = q.limit()?;
    let before = match q.str("cursor") {
        None => None,
        Some(c) => match decode_cursor(c, "d")?.as_slice() {
            [id] => Some(*id),
            _ => {
                return Err(ApiError::field(
                    "cursor",
                    "is not a cursor this list gave out",
                ));
            }
        },
    };
    let items = service.list_deliveries(caller, id, before, limit).await?;
    let next_cursor = (items.len() == limit as usize)
        .then(|| items.last().map(|d| encode_cursor(&format!("d:{}", d.id))))
        .flatten();
    Ok(Json(DeliveryPage {
        items: items.iter().map(DeliveryOut::from).collect(),
        next_cursor,
    }))
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{delivery}/retry", tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id"),
        ("delivery" = i64, Path, description = "Delivery id")),
    responses((status = 202, description = "Queued to be sent again now"),
        (status = 401, description = "Bad key", body = ErrorBody),
        (status = 404, description = "webhook_not_found or delivery_not_found", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn retry_delivery(
    State(service): State<Service>,
    Auth(caller): Auth,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = webhook_id(&id)?;
    let delivery = path_id(&delivery, "delivery_not_found", "Delivery")?;
    service.retry_delivery(caller, id, delivery).await?;
    Ok(StatusCode::ACCEPTED)
}
