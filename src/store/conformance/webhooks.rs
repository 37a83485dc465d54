//! Conformance: webhook endpoints and the delivery queue.

use super::events::events;
use super::*;
use crate::domain::event::EventType;
use crate::domain::webhook::{AfterAttempt, Attempt, DeliveryState};
use crate::store::{AttemptRecord, NewWebhook, WebhookUpdate};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn hook(events: &[&str]) -> NewWebhook {
    NewWebhook {
        url: "https://example.com/hook".into(),
        events: events.iter().map(|e| e.to_string()).collect(),
        description: "crm".into(),
        secret: SECRET.into(),
        now: 10,
    }
}

fn attempt(at_ms: i64, status: Option<u16>) -> Attempt {
    Attempt {
        at_ms,
        status,
        latency_ms: 3,
        error: None,
    }
}

fn outcome(state: DeliveryState, next_at_ms: i64, healthy: bool) -> AfterAttempt {
    AfterAttempt {
        state,
        next_at_ms,
        disable: None,
        healthy,
        error: None,
    }
}

/// Endpoints are made, found, listed, changed, given a new secret and removed;
/// each of those is an event of its own, and no secret appears in one.
pub async fn webhooks_round_trip_and_record_events(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let other = store.create_workspace("other", 1).await.unwrap();
    let made = store
        .create_webhook(ws.id, hook(&["group.*", "member.added"]))
        .await
        .unwrap();
    assert_eq!(made.events, ["group.*", "member.added"]);
    assert!(made.enabled);
    assert_eq!(
        store.find_webhook(ws.id, made.id).await.unwrap(),
        Some(made.clone())
    );
    assert_eq!(store.find_webhook(other.id, made.id).await.unwrap(), None);
    assert_eq!(
        store.list_webhooks(ws.id).await.unwrap(),
        vec![made.clone()]
    );
    assert!(store.list_webhooks(other.id).await.unwrap().is_empty());
    let changed = store
        .update_webhook(
            ws.id,
            made.id,
            WebhookUpdate {
                events: Some(vec!["*".into()]),
                enabled: Some(false),
                now: 11,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (changed.events.clone(), changed.enabled),
        (vec!["*".to_string()], false)
    );
    assert_eq!(changed.url, made.url);
    assert!(matches!(
        store
            .update_webhook(other.id, made.id, WebhookUpdate::default())
            .await,
        Err(StoreError::NotFound(Entity::Webhook))
    ));
    store
        .rotate_webhook_secret(ws.id, made.id, "whsec_bmV3".into(), 99, 12)
        .await
        .unwrap();
    assert!(store.delete_webhook(other.id, made.id).await.is_err());
    store.delete_webhook(ws.id, made.id).await.unwrap();
    assert_eq!(store.find_webhook(ws.id, made.id).await.unwrap(), None);
    let log = events(&store, &ws).await;
    let kinds: Vec<EventType> = log.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventType::WebhookCreated,
            EventType::WebhookUpdated,
            EventType::WebhookSecretRotated,
            EventType::WebhookDeleted,
        ]
    );
    assert!(log.iter().all(|e| e.subject == Some(made.id.to_string())));
    let text = format!("{log:?}");
    assert!(!text.contains("whsec_"), "a secret leaked: {text}");
}

/// A change is queued for every enabled endpoint of its workspace that
/// subscribes to its type, and for no other.
pub async fn events_fan_out_to_subscribed_endpoints(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let other = store.create_workspace("other", 1).await.unwrap();
    let groups = store
        .create_webhook(ws.id, hook(&["group.*"]))
        .await
        .unwrap();
    let members = store
        .create_webhook(ws.id, hook(&["member.added"]))
        .await
        .unwrap();
    let off = store.create_webhook(ws.id, hook(&["*"])).await.unwrap();
    store
        .update_webhook(
            ws.id,
            off.id,
            WebhookUpdate {
                enabled: Some(false),
                now: 11,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let elsewhere = store.create_webhook(other.id, hook(&["*"])).await.unwrap();
    // Each endpoint gets what follows its creation: `off` its own creation (it
    // was enabled and took everything then, but is disabled now, so it waits),
    // `elsewhere` its own; the rest take none of the endpoints' events.
    let gid = store.insert_group(ws.id, group("G", None)).await.unwrap();
    let ada = store.insert_user(ws.id, user("ada")).await.unwrap();
    store
        .add_members(ws.id, gid, vec![ada], None, OnExisting::Fail, 1)
        .await
        .unwrap();
    // Waiting: counted whatever their type, for the enabled endpoints.
    assert!(store.pending_deliveries().await.unwrap() >= 3);
    // The disabled endpoint's delivery waits.
    let due = store
        .lease_deliveries(i64::MAX / 4, i64::MAX / 2, 1, 100)
        .await
        .unwrap();
    let mut got: Vec<(i64, &str)> = due
        .iter()
        .map(|d| (d.webhook, d.event.kind.as_str()))
        .collect();
    got.sort();
    let mut want = vec![
        (groups.id, "group.created"),
        (members.id, "member.added"),
        (elsewhere.id, "webhook.created"),
    ];
    want.sort();
    assert_eq!(got, want);
    let d = due.iter().find(|d| d.webhook == groups.id).unwrap();
    assert_eq!(d.secrets, [SECRET]);
    assert_eq!(d.url, "https://example.com/hook");
    assert_eq!(d.workspace, ws.id);
    assert_eq!(d.attempts, 0);
    assert_eq!(d.event.group, Some(gid.0));
    // Enabled again, the endpoint gets what happened while it was disabled.
    store
        .update_webhook(
            ws.id,
            off.id,
            WebhookUpdate {
                enabled: Some(true),
                now: 12,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let caught_up = store
        .lease_deliveries(i64::MAX / 4, i64::MAX / 2, 2, 100)
        .await
        .unwrap();
    let kinds: Vec<&str> = caught_up
        .iter()
        .filter(|d| d.webhook == off.id)
        .map(|d| d.event.kind.as_str())
        .collect();
    for kind in [
        "group.created",
        "user.created",
        "member.added",
        "webhook.updated",
    ] {
        assert!(kinds.contains(&kind), "{kind} not in {kinds:?}");
    }
}

/// A lease is held by one caller until it runs out; a finished attempt moves the
/// delivery on only for the lease's holder; a delivery can be sent again by hand;
/// an endpoint groupd disables says why, in an event of its own.
pub async fn leases_are_exclusive_and_attempts_move_deliveries_on(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let h = store
        .create_webhook(ws.id, hook(&["group.*"]))
        .await
        .unwrap();
    store.insert_group(ws.id, group("G", None)).await.unwrap();
    let now = crate::store::conformance::now_ms();
    let first = store
        .lease_deliveries(now, now + 1000, 1, 10)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        store
            .lease_deliveries(now, now + 1000, 2, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The lease ran out: another sender takes it over.
    let taken = store
        .lease_deliveries(now + 1001, now + 5000, 2, 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    let id = taken[0].id;
    let late = AttemptRecord {
        delivery: id,
        token: 1,
        was_failing: false,
        attempt: attempt(now, Some(200)),
        after: outcome(DeliveryState::Delivered, now, true),
    };
    assert_eq!(
        store.finish_attempts(vec![late]).await.unwrap(),
        [false],
        "lease lost"
    );
    let failed = AttemptRecord {
        delivery: id,
        token: 2,
        was_failing: false,
        attempt: Attempt {
            error: Some("answered 500".into()),
            ..attempt(now + 1002, Some(500))
        },
        after: outcome(DeliveryState::Pending, now + 60_000, false),
    };
    assert_eq!(store.finish_attempts(vec![failed]).await.unwrap(), [true]);
    assert!(
        store
            .lease_deliveries(now + 2000, now + 9000, 3, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = store
        .lease_deliveries(now + 60_000, now + 70_000, 3, 10)
        .await
        .unwrap();
    assert_eq!(again[0].attempts, 1);
    assert!(again[0].failing_since_ms.is_some());
    let ok = AttemptRecord {
        delivery: id,
        token: 3,
        was_failing: true,
        attempt: attempt(now + 60_001, Some(204)),
        after: outcome(DeliveryState::Delivered, now + 60_001, true),
    };
    assert_eq!(store.finish_attempts(vec![ok]).await.unwrap(), [true]);
    let listed = store.list_deliveries(ws.id, h.id, None, 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, DeliveryState::Delivered);
    assert_eq!(listed[0].event_type, "group.created");
    let statuses: Vec<Option<u16>> = listed[0].tries.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(204)]);
    assert_eq!(listed[0].tries[0].error.as_deref(), Some("answered 500"));
    assert_eq!(store.pending_deliveries().await.unwrap(), 0);
    // Sent again by hand: pending at once.
    store.retry_delivery(ws.id, h.id, id, now).await.unwrap();
    assert!(matches!(
        store.retry_delivery(ws.id, h.id, id + 1000, now).await,
        Err(StoreError::NotFound(Entity::Delivery))
    ));
    let resent = store
        .lease_deliveries(now + 1, now + 9000, 4, 10)
        .await
        .unwrap();
    assert_eq!(resent.len(), 1);
    let gone = AttemptRecord {
        delivery: id,
        token: 4,
        was_failing: false,
        attempt: attempt(now + 2, Some(410)),
        after: AfterAttempt {
            disable: Some("the endpoint answered 410 Gone".into()),
            ..outcome(DeliveryState::Failed, now + 2, false)
        },
    };
    assert_eq!(store.finish_attempts(vec![gone]).await.unwrap(), [true]);
    let disabled = store.find_webhook(ws.id, h.id).await.unwrap().unwrap();
    assert!(!disabled.enabled);
    assert_eq!(
        disabled.disabled_reason.as_deref(),
        Some("the endpoint answered 410 Gone")
    );
    let log = events(&store, &ws).await;
    let last = log.last().unwrap();
    assert_eq!(
        (last.kind, last.actor.as_str()),
        (EventType::WebhookUpdated, "system")
    );
    // A disabled endpoint's deliveries wait; enabling it clears the reason.
    store.retry_delivery(ws.id, h.id, id, now).await.unwrap();
    assert!(
        store
            .lease_deliveries(now + 5, now + 9000, 5, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let enabled = store
        .update_webhook(
            ws.id,
            h.id,
            WebhookUpdate {
                enabled: Some(true),
                now: 20,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((enabled.enabled, enabled.disabled_reason), (true, None));
    assert_eq!(
        store
            .lease_deliveries(now + 5, now + 9000, 5, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Senders leasing at the same moment never share a delivery.
pub async fn racing_leases_never_share_a_delivery(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    store.create_webhook(ws.id, hook(&["*"])).await.unwrap();
    for i in 0..40 {
        store
            .insert_group(ws.id, group(&format!("G{i}"), None))
            .await
            .unwrap();
    }
    let now = crate::store::conformance::now_ms();
    let mut tasks = Vec::new();
    for token in 1..=4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store
                    .lease_deliveries(now, now + 60_000, token, 3)
                    .await
                    .unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|d| d.id));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n, "a delivery was leased twice");
    assert_eq!(
        n, 41,
        "every delivery leased once (40 groups and the webhook)"
    );
}

/// An endpoint gets the events from its creation on, never the ones before it,
/// however late the engine numbers them.
pub async fn endpoints_get_events_from_their_creation_on(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    for i in 0..3 {
        store
            .insert_group(ws.id, group(&format!("Before {i}"), None))
            .await
            .unwrap();
    }
    let h = store.create_webhook(ws.id, hook(&["*"])).await.unwrap();
    let after = store
        .insert_group(ws.id, group("After", None))
        .await
        .unwrap();
    let now = crate::store::conformance::now_ms();
    let due = store
        .lease_deliveries(now, now + 60_000, 1, 100)
        .await
        .unwrap();
    let got: Vec<(&str, Option<i64>)> = due
        .iter()
        .map(|d| (d.event.kind.as_str(), d.event.group))
        .collect();
    assert_eq!(
        got,
        [("webhook.created", None), ("group.created", Some(after.0))],
        "{due:?}"
    );
    assert!(due.iter().all(|d| d.webhook == h.id));
}
