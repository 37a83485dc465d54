//! Conformance: events, written by every write in its own transaction.

use super::*;
use crate::domain::event::{Actor, Audit, Door, Event, EventPattern, KeyPrefix};
use crate::domain::user::UserId;
use crate::store::{EventQuery, UserUpdate, audit};

fn all(after: i64) -> EventQuery {
    EventQuery {
        after,
        limit: 1000,
        ..Default::default()
    }
}

/// Every event of the workspace (up to 1000), oldest first.
pub(super) async fn events(store: &Arc<dyn Store>, ws: &Workspace) -> Vec<Event> {
    store.list_events(ws.id, &all(0)).await.expect("events")
}

fn types(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

/// Every kind of write, under a key's audit through the REST door: each records
/// its events, numbered from 1 without gaps, with the actor, the key's label, the
/// door, the subject and what changed, and never a secret.
pub async fn every_write_records_its_events(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let prefix = "EvKey123";
    store
        .insert_api_key(
            ws.id,
            NewApiKey {
                prefix: prefix.into(),
                hash: vec![1; 32],
                label: "billing sync".into(),
                now: 1,
            },
        )
        .await
        .unwrap();
    let by_key = Audit {
        actor: Actor::Key(KeyPrefix::parse(prefix).unwrap()),
        door: Some(Door::Rest),
    };
    let s = store.clone();
    let ws_id = ws.id;
    audit::scope(by_key, async move {
        let cat = s.create_category(ws_id, "Teams", 1).await.unwrap();
        s.rename_category(ws_id, cat.id, "Squads").await.unwrap();
        let def = NewFieldDef {
            id: None,
            name: "Region".into(),
            kind: FieldKind::ShortText,
            options: vec![],
        };
        let field = s.create_field(ws_id, def, 1).await.unwrap();
        let mut g = group("Owls", Some("owls"));
        g.category_id = cat.id;
        g.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
        let gid = s.insert_group(ws_id, g).await.unwrap();
        let update = GroupUpdate {
            name: Some("Night Owls".into()),
            password_hash: Some(Some(
                "$argon2id$v=19$m=19456,t=2,p=1$b3RoZXI$b3RoZXI".into(),
            )),
            now: 2,
            ..Default::default()
        };
        s.update_group(ws_id, gid, update).await.unwrap();
        // An update that changes nothing records nothing.
        s.update_group(
            ws_id,
            gid,
            GroupUpdate {
                now: 3,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let ada = s.insert_user(ws_id, user("ada")).await.unwrap();
        let bob = s.insert_user(ws_id, user("bob")).await.unwrap();
        s.update_user(
            ws_id,
            ada,
            UserUpdate {
                full_name: Some("Ada L".into()),
                password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$bmV3$bmV3".into()),
                now: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        s.add_members(ws_id, gid, vec![ada, bob], None, OnExisting::Fail, 1)
            .await
            .unwrap();
        s.add_members(
            ws_id,
            gid,
            vec![ada],
            Some(GroupRole::Admin),
            OnExisting::Keep,
            1,
        )
        .await
        .unwrap();
        s.remove_members(ws_id, gid, vec![bob], true).await.unwrap();
        s.delete_user(ws_id, bob).await.unwrap();
        s.delete_field(ws_id, field.id).await.unwrap();
        s.delete_category(ws_id, cat.id).await.unwrap();
        s.delete_groups(ws_id, &[gid], None).await.unwrap();
        s.revoke_api_key(prefix, 4).await.unwrap();
    })
    .await;
    let log = events(&store, &ws).await;
    assert_eq!(
        types(&log),
        [
            "key.created",
            "category.created",
            "category.renamed",
            "field.created",
            "group.created",
            "group.updated",
            "user.created",
            "user.created",
            "user.updated",
            "member.added",
            "member.added",
            "member.role_changed",
            "member.removed",
            "user.deleted",
            "field.deleted",
            "category.deleted",
            "group.updated",
            "group.deleted",
            "key.revoked",
        ]
    );
    let ids: Vec<i64> = log.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=log.len() as i64).collect::<Vec<_>>());
    // The key was made outside any command: groupd itself, through no door.
    assert_eq!(
        (log[0].actor.as_str(), log[0].door.as_deref()),
        ("system", None)
    );
    for e in &log[1..] {
        assert_eq!(e.actor, "key:EvKey123");
        assert_eq!(e.actor_label.as_deref(), Some("billing sync"));
        assert_eq!(e.door.as_deref(), Some("rest"));
        assert!(e.at_ms > 1_600_000_000_000, "{e:?}");
    }
    let text = format!("{log:?}");
    assert!(!text.contains("argon2"), "a hash leaked: {text}");
    let renamed = &log[2];
    assert_eq!(renamed.subject.as_deref(), Some("2"));
    assert_eq!(
        (&renamed.changes[0].before, &renamed.changes[0].after),
        (&serde_json::json!("Teams"), &serde_json::json!("Squads"))
    );
    let updated = &log[5];
    let fields: Vec<&str> = updated.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["name", "password"]);
    assert_eq!(updated.changes[1].after, serde_json::json!("changed"));
    let user_updated = &log[8];
    assert!(
        user_updated
            .changes
            .iter()
            .any(|c| c.field == "password" && c.after == serde_json::json!("changed"))
    );
    let role = &log[11];
    assert_eq!(role.changes[0].before, serde_json::json!("member"));
    assert_eq!(role.changes[0].after, serde_json::json!("admin"));
    // The category's removal moved the group back to category 1.
    assert_eq!(log[16].changes[0].after, serde_json::json!(1));
    assert_eq!(log[16].group, log[4].group);
    assert_eq!(log[12].user, Some(log[7].user.unwrap()));
}

/// A write that fails records nothing: not its event, not part of its events.
pub async fn a_failed_write_records_no_event(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let gid = store
        .insert_group(ws.id, group("A", Some("taken")))
        .await
        .unwrap();
    let before = events(&store, &ws).await.len();
    assert!(
        store
            .insert_group(ws.id, group("B", Some("taken")))
            .await
            .is_err()
    );
    let ada = store.insert_user(ws.id, user("ada")).await.unwrap();
    let after_user = events(&store, &ws).await.len();
    assert_eq!(after_user, before + 1);
    // Ada and someone who does not exist: all or nothing, so no member.added.
    assert!(
        store
            .add_members(
                ws.id,
                gid,
                vec![ada, UserId(999_999)],
                None,
                OnExisting::Fail,
                1
            )
            .await
            .is_err()
    );
    assert!(
        store
            .delete_groups(ws.id, &[GroupId(999_999)], None)
            .await
            .is_err()
    );
    let log = events(&store, &ws).await;
    assert_eq!(log.len(), after_user, "{:?}", types(&log));
    // Numbering carries on without a gap after the failures.
    store.delete_user(ws.id, ada).await.unwrap();
    let log = events(&store, &ws).await;
    assert_eq!(log.last().unwrap().id, log.len() as i64);
}

/// The log pages by id and filters by type, noun, group, user and actor; each
/// workspace numbers its own events.
pub async fn events_page_and_filter_per_workspace(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let other = store.create_workspace("other", 1).await.unwrap();
    let g1 = store.insert_group(ws.id, group("One", None)).await.unwrap();
    let g2 = store.insert_group(ws.id, group("Two", None)).await.unwrap();
    let ada = store.insert_user(ws.id, user("ada")).await.unwrap();
    let cli = Audit {
        actor: Actor::Cli,
        door: Some(Door::Cli),
    };
    let s = store.clone();
    let ws_id = ws.id;
    audit::scope(cli, async move {
        s.add_members(ws_id, g2, vec![ada], None, OnExisting::Fail, 1)
            .await
            .unwrap();
    })
    .await;
    store
        .insert_group(other.id, group("Elsewhere", None))
        .await
        .unwrap();
    let theirs = events(&store, &other).await;
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].id, 1);
    let q = |f: fn(&mut EventQuery)| {
        let mut q = all(0);
        f(&mut q);
        q
    };
    let list = |q: EventQuery| {
        let store = store.clone();
        async move { store.list_events(ws.id, &q).await.unwrap() }
    };
    let by_group = list(EventQuery {
        group: Some(g2.0),
        ..all(0)
    })
    .await;
    assert_eq!(types(&by_group), ["group.created", "member.added"]);
    let by_user = list(EventQuery {
        user: Some(ada.0),
        ..all(0)
    })
    .await;
    assert_eq!(types(&by_user), ["user.created", "member.added"]);
    let groups = list(EventQuery {
        kind: Some(EventPattern::parse("group.*").unwrap()),
        ..all(0)
    })
    .await;
    assert_eq!(groups.len(), 2);
    assert!(
        groups
            .iter()
            .all(|e| e.group == Some(g1.0) || e.group == Some(g2.0))
    );
    let one = list(EventQuery {
        kind: Some(EventPattern::parse("member.added").unwrap()),
        ..all(0)
    })
    .await;
    assert_eq!(one.len(), 1);
    let by_cli = list(q(|q| q.actor = Some("cli".into()))).await;
    assert_eq!(types(&by_cli), ["member.added"]);
    let page = list(EventQuery { limit: 2, ..all(0) }).await;
    assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), [1, 2]);
    let next = list(EventQuery { limit: 2, ..all(2) }).await;
    assert_eq!(next.iter().map(|e| e.id).collect::<Vec<_>>(), [3, 4]);
    // Newest first, paged back with `before`, filters still applying.
    let newest = list(EventQuery {
        limit: 2,
        newest_first: true,
        ..all(0)
    })
    .await;
    let last = events(&store, &ws).await.last().map(|e| e.id).unwrap();
    assert_eq!(
        newest.iter().map(|e| e.id).collect::<Vec<_>>(),
        [last, last - 1]
    );
    let back = list(EventQuery {
        limit: 2,
        newest_first: true,
        before: Some(3),
        ..all(0)
    })
    .await;
    assert_eq!(back.iter().map(|e| e.id).collect::<Vec<_>>(), [2, 1]);
    let cli_newest = list(EventQuery {
        newest_first: true,
        actor: Some("cli".into()),
        ..all(0)
    })
    .await;
    assert_eq!(types(&cli_newest), ["member.added"]);
}

/// Writes racing in one workspace get distinct ids, with no gap, each with its
/// own event.
pub async fn racing_writes_number_events_without_gaps(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .insert_group(ws.id, group(&format!("G{i}"), None))
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let log = events(&store, &ws).await;
    assert_eq!(log.len(), 24);
    let ids: Vec<i64> = log.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=24).collect::<Vec<_>>());
    let mut groups: Vec<i64> = log.iter().filter_map(|e| e.group).collect();
    groups.sort();
    groups.dedup();
    assert_eq!(groups.len(), 24);
}

/// Pruning removes old events in batches, but keeps those a pending delivery
/// still needs.
pub async fn old_events_are_pruned_in_batches(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    for i in 0..5 {
        store
            .insert_group(ws.id, group(&format!("G{i}"), None))
            .await
            .unwrap();
    }
    let hook = crate::store::NewWebhook {
        url: "https://example.com/hook".into(),
        events: vec!["user.*".into()],
        description: String::new(),
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        now: 1,
    };
    store.create_webhook(ws.id, hook).await.unwrap();
    store.insert_user(ws.id, user("ada")).await.unwrap();
    assert_eq!(store.prune_events(0, 100).await.unwrap(), 0, "none is old");
    let later = i64::MAX / 2;
    assert_eq!(store.prune_events(later, 2).await.unwrap(), 2);
    assert_eq!(store.prune_events(later, 100).await.unwrap(), 3);
    assert_eq!(store.prune_events(later, 100).await.unwrap(), 0);
    // What the enabled endpoint has not had queued yet stays.
    assert_eq!(
        types(&events(&store, &ws).await),
        ["webhook.created", "user.created"]
    );
    assert_eq!(store.pending_deliveries().await.unwrap(), 2);
    // Queued and sent, the user's event still waits while its delivery is
    // pending; the endpoint's own event (not subscribed) goes.
    let now = crate::store::conformance::now_ms();
    let due = store
        .lease_deliveries(now, now + 60_000, 9, 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(store.prune_events(later, 100).await.unwrap(), 1);
    assert_eq!(types(&events(&store, &ws).await), ["user.created"]);
    assert_eq!(store.pending_deliveries().await.unwrap(), 1);
}
