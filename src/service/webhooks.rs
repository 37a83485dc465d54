//! Webhook endpoints: made, listed, changed, removed, given a new secret; their
//! deliveries listed and sent again. Delivery itself is in [`super::delivery`].

use super::webhook_signing::new_secret;
use super::{Caller, Service, ServiceError, now, now_ms};
use crate::domain::webhook::{Delivery, Webhook, check_draft};
use crate::store::{NewWebhook, WebhookUpdate};
use std::time::Duration;

/// How long the secret before a rotation keeps signing deliveries beside the new
/// one, so receivers can switch over without dropping any.
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 3600);

/// An endpoint just made or given a new secret: the secret is shown this once.
#[derive(Debug, Clone)]
pub struct WithSecret {
    pub webhook: Webhook,
    pub secret: String,
}

/// What a caller asks to change in an endpoint (or to make one with).
#[derive(Debug, Clone, Default)]
pub struct WebhookRequest {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

impl Service {
    /// Makes an endpoint; its signing secret is in the answer and nowhere else.
    pub async fn create_webhook(
        &self,
        caller: Caller,
        req: WebhookRequest,
    ) -> Result<WithSecret, ServiceError> {
        let draft = check_draft(
            req.url.as_deref(),
            req.events.as_deref(),
            req.description.as_deref(),
            req.enabled,
            true,
        )?;
        let secret = new_secret();
        let new = NewWebhook {
            url: draft.url.map(String::from).unwrap_or_default(),
            events: draft.events.unwrap_or_default(),
            description: draft.description.unwrap_or_default(),
            secret: secret.clone(),
            now: now(),
        };
        self.audited(caller, async move {
            let mut webhook = self.store.create_webhook(caller.workspace, new).await?;
            if req.enabled == Some(false) {
                let off = WebhookUpdate {
                    enabled: Some(false),
                    now: now(),
                    ..Default::default()
                };
                webhook = self
                    .store
                    .update_webhook(caller.workspace, webhook.id, off)
                    .await?;
            }
            Ok(WithSecret { webhook, secret })
        })
        .await
    }

    pub async fn list_webhooks(&self, caller: Caller) -> Result<Vec<Webhook>, ServiceError> {
        Ok(self.store.list_webhooks(caller.workspace).await?)
    }

    pub async fn get_webhook(&self, caller: Caller, id: i64) -> Result<Webhook, ServiceError> {
        self.store
            .find_webhook(caller.workspace, id)
            .await?
            .ok_or(ServiceError::WebhookNotFound)
    }

    /// Changes what the request carries; enabling an endpoint groupd disabled
    /// clears its reason and its run of failures.
    pub async fn update_webhook(
        &self,
        caller: Caller,
        id: i64,
        req: WebhookRequest,
    ) -> Result<Webhook, ServiceError> {
        let draft = check_draft(
            req.url.as_deref(),
            req.events.as_deref(),
            req.description.as_deref(),
            req.enabled,
            false,
        )?;
        let update = WebhookUpdate {
            url: draft.url.map(String::from),
            events: draft.events,
            description: draft.description,
            enabled: draft.enabled,
            now: now(),
        };
        self.audited(caller, async move {
            Ok(self
                .store
                .update_webhook(caller.workspace, id, update)
                .await?)
        })
        .await
    }

    pub async fn delete_webhook(&self, caller: Caller, id: i64) -> Result<(), ServiceError> {
        self.audited(caller, async move {
            Ok(self.store.delete_webhook(caller.workspace, id).await?)
        })
        .await
    }

    /// Gives an endpoint a new secret; the old one signs too for a day.
    pub async fn rotate_webhook_secret(
        &self,
        caller: Caller,
        id: i64,
    ) -> Result<WithSecret, ServiceError> {
        let secret = new_secret();
        let until = now_ms() + ROTATION_OVERLAP.as_millis() as i64;
        self.audited(caller, async move {
            self.store
                .rotate_webhook_secret(caller.workspace, id, secret.clone(), until, now())
                .await?;
            let webhook = self.get_webhook(caller, id).await?;
            Ok(WithSecret { webhook, secret })
        })
        .await
    }

    /// An endpoint's deliveries, newest first, each with its attempts.
    pub async fn list_deliveries(
        &self,
        caller: Caller,
        id: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Delivery>, ServiceError> {
        self.get_webhook(caller, id).await?;
        Ok(self
            .store
            .list_deliveries(caller.workspace, id, before, limit.clamp(1, 1000))
            .await?)
    }

    /// How many deliveries wait to be sent, over every workspace (administration).
    pub async fn pending_deliveries(&self) -> Result<u64, ServiceError> {
        Ok(self.store.pending_deliveries().await?)
    }

    /// Sends a delivery again now, whatever became of it.
    pub async fn retry_delivery(
        &self,
        caller: Caller,
        id: i64,
        delivery: i64,
    ) -> Result<(), ServiceError> {
        self.get_webhook(caller, id).await?;
        self.store
            .retry_delivery(caller.workspace, id, delivery, now_ms())
            .await?;
        self.deliveries.wake();
        Ok(())
    }
}
