//! `groupd events` (the audit log, `--follow` to keep watching) and
//! `groupd webhook ...` (endpoints, secrets, deliveries).

use super::{WorkspaceArg, show_secret};
use crate::domain::event::{Event, EventPattern, rfc3339_ms};
use crate::server::StartupError;
use crate::service::webhooks::WebhookRequest;
use crate::service::{Service, ServiceError};
use crate::store::EventQuery;
use clap::{Args, Subcommand};
use std::time::Duration;

#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub ws: WorkspaceArg,
    /// Only events after this id.
    #[arg(long, default_value_t = 0)]
    pub after: i64,
    /// Most events to print (without --follow); default all.
    #[arg(long)]
    pub limit: Option<u64>,
    /// One type (member.added), a kind (group.*) or *.
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Only events about this group id.
    #[arg(long)]
    pub group: Option<i64>,
    /// Only events about this user id.
    #[arg(long)]
    pub user: Option<i64>,
    /// Only events by this actor (key:<prefix>, cli, system).
    #[arg(long)]
    pub actor: Option<String>,
    /// Keep printing new events as they happen (Ctrl-C ends).
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// One JSON object per line instead of columns.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Add an endpoint; prints its id and, only this once, its signing secret.
    Add {
        #[arg(long)]
        url: String,
        /// An event type, a kind (group.*) or * (repeat for each).
        #[arg(long = "event", required = true)]
        events: Vec<String>,
        #[arg(long, default_value = "")]
        description: String,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// List endpoints: id, state, url, events, description.
    List {
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Remove an endpoint and its deliveries.
    Remove {
        id: i64,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Start delivering to an endpoint again (also one groupd disabled).
    Enable {
        id: i64,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Stop delivering to an endpoint; its deliveries wait.
    Disable {
        id: i64,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// Give an endpoint a new signing secret (the old one also signs for 24 hours).
    RotateSecret {
        id: i64,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// An endpoint's deliveries, newest first, with each attempt.
    Deliveries {
        id: i64,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
    /// How many deliveries are waiting to be sent, over every workspace.
    Queue,
    /// Send a delivery again now.
    Retry {
        id: i64,
        delivery: i64,
        #[command(flatten)]
        ws: WorkspaceArg,
    },
}

fn event_line(e: &Event) -> String {
    let about = match (e.group, e.user, &e.subject) {
        (Some(g), Some(u), _) => format!("group {g} user {u}"),
        (Some(g), None, _) => format!("group {g}"),
        (None, Some(u), _) => format!("user {u}"),
        (None, None, Some(s)) => format!("{} {s}", e.kind.noun()),
        (None, None, None) => String::new(),
    };
    let actor = match &e.actor_label {
        Some(label) if !label.is_empty() => format!("{} ({label})", e.actor),
        _ => e.actor.clone(),
    };
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}",
        e.id,
        rfc3339_ms(e.at_ms),
        e.kind.as_str(),
        actor,
        e.door.as_deref().unwrap_or("-"),
        about,
        e.changes_line()
    )
}

pub async fn events(service: &Service, a: EventsArgs) -> Result<(), StartupError> {
    let caller = service.admin_caller(&a.ws.workspace).await?;
    let kind = a
        .kind
        .as_deref()
        .map(EventPattern::parse)
        .transpose()
        .map_err(|e| {
            ServiceError::Invalid(crate::domain::ValidationErrors::single(
                "type",
                e.to_string(),
            ))
        })?;
    let mut after = a.after.max(0);
    let mut left = a.limit.unwrap_or(u64::MAX);
    if left == 0 && !a.follow {
        return Ok(());
    }
    loop {
        let q = EventQuery {
            after,
            limit: left.min(500) as u32,
            kind: kind.clone(),
            group: a.group,
            user: a.user,
            actor: a.actor.clone(),
            ..Default::default()
        };
        let page = service.list_events(caller, q).await?;
        for e in &page {
            if a.json {
                out!("{}", e.to_json());
            } else {
                out!("{}", event_line(e));
            }
        }
        if let Some(last) = page.last() {
            after = last.id;
        }
        left = left.saturating_sub(page.len() as u64);
        if left == 0 && !a.follow {
            return Ok(());
        }
        if page.len() < 500 {
            if !a.follow {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

pub async fn webhook(service: &Service, c: WebhookCommand) -> Result<(), StartupError> {
    let enabling = matches!(c, WebhookCommand::Enable { .. });
    match c {
        WebhookCommand::Add {
            url,
            events,
            description,
            ws,
        } => {
            let caller = service.admin_caller(&ws.workspace).await?;
            let req = WebhookRequest {
                url: Some(url),
                events: Some(events),
                description: Some(description),
                enabled: None,
            };
            let made = service.create_webhook(caller, req).await?;
            out!("{}", made.webhook.id);
            let id = made.webhook.id;
            show_secret(
                &made.secret,
                &format!("webhook {id}'s secret"),
                &format!("give it a new one with `groupd webhook rotate-secret {id}`"),
            )?;
            eprintln!(
                "Webhook {} added. Its signing secret is shown only this once.",
                made.webhook.id
            );
        }
        WebhookCommand::List { ws } => {
            let caller = service.admin_caller(&ws.workspace).await?;
            for w in service.list_webhooks(caller).await? {
                let state = match (&w.enabled, &w.disabled_reason) {
                    (true, _) => "enabled".to_string(),
                    (false, Some(why)) => format!("disabled ({why})"),
                    (false, None) => "disabled".to_string(),
                };
                out!(
                    "{}\t{}\t{}\t{}\t{}",
                    w.id,
                    state,
                    w.url,
                    w.events.join(","),
                    w.description
                );
            }
        }
        WebhookCommand::Remove { id, ws } => {
            let caller = service.admin_caller(&ws.workspace).await?;
            service.delete_webhook(caller, id).await?;
            out!("removed");
        }
        WebhookCommand::Enable { id, ws } | WebhookCommand::Disable { id, ws } => {
            let enabled = enabling;
            let caller = service.admin_caller(&ws.workspace).await?;
            let req = WebhookRequest {
                enabled: Some(enabled),
                ..Default::default()
            };
            service.update_webhook(caller, id, req).await?;
            out!("{}", if enabled { "enabled" } else { "disabled" });
        }
        WebhookCommand::RotateSecret { id, ws } => {
            let caller = service.admin_caller(&ws.workspace).await?;
            let made = service.rotate_webhook_secret(caller, id).await?;
            show_secret(
                &made.secret,
                &format!("webhook {id}'s new secret"),
                &format!("rotate it again with `groupd webhook rotate-secret {id}`"),
            )?;
            eprintln!(
                "New secret for webhook {id}, shown only this once; the old one also signs for 24 hours."
            );
        }
        WebhookCommand::Deliveries { id, limit, ws } => {
            let caller = service.admin_caller(&ws.workspace).await?;
            for d in service.list_deliveries(caller, id, None, limit).await? {
                let last = d.tries.last().map_or(String::new(), |a| {
                    let status = a.status.map_or("-".to_string(), |s| s.to_string());
                    format!("{status} {}", a.error.as_deref().unwrap_or(""))
                        .trim()
                        .to_string()
                });
                out!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    d.id,
                    d.event_id,
                    d.event_type,
                    d.state.as_str(),
                    d.attempts,
                    last
                );
            }
        }
        WebhookCommand::Queue => {
            out!("{}", service.pending_deliveries().await?);
        }
        WebhookCommand::Retry { id, delivery, ws } => {
            let caller = service.admin_caller(&ws.workspace).await?;
            service.retry_delivery(caller, id, delivery).await?;
            out!("queued");
        }
    }
    Ok(())
}
