//! Conformance: Groups: every column, updates, references, ids, pages, icons.

use super::*;

pub async fn groups_round_trip_every_column(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    store.create_category(ws.id, "Two", 1).await.unwrap();
    store
        .create_field(
            ws.id,
            NewFieldDef {
                id: Some(4),
                name: "F".into(),
                kind: FieldKind::LongText,
                options: vec![],
            },
            1,
        )
        .await
        .unwrap();
    store
        .create_field(
            ws.id,
            NewFieldDef {
                id: Some(12),
                name: "G".into(),
                kind: FieldKind::ShortText,
                options: vec![],
            },
            1,
        )
        .await
        .unwrap();
    let icon = icon_image(0x5eed, vec![0, 1, 2, 255]);
    let new = NewGroup {
        name: "Ünïcode & <friends>".into(),
        slug: Some(clean_slug("Mixed-Case").unwrap()),
        description: "line\nbreak".into(),
        category_id: 2,
        secret: true,
        unleavable: true,
        pinned: true,
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        icon: Some(icon.clone()),
        custom_fields: vec![
            (4, "value\nwith lines".into()),
            (12, "\"quoted\" \\ back\\slash, \u{1F600} and tab\t".into()),
        ],
        policy: {
            let mut p = GroupPolicy::default();
            p.apply(&PolicyPatch {
                permissions: vec![("list_add".into(), true), ("user_edit".into(), true)],
                limits: vec![(
                    LimitKind::Mail,
                    Some(Limit {
                        amount: 67,
                        period: Some(Period::Month1st),
                    }),
                )],
                unsubscribe_link: Some(true),
                abuse_ratio: Some(9),
                lists: Some(vec![1, 22]),
                send_methods: Some(vec![2]),
            });
            p
        },
        external_id: Some("8aa1a0c0-idp".into()),
        now: 1_700_000_123,
    };
    let id = store.insert_group(ws.id, new).await.unwrap();
    let g = store
        .find_group(ws.id, &by_slug("MIXED-case"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g.id, id);
    assert_eq!(g.workspace, ws.id);
    assert_eq!(g.name, "Ünïcode & <friends>");
    assert_eq!(g.slug.as_deref(), Some("Mixed-Case"));
    assert_eq!(g.description, "line\nbreak");
    assert_eq!(g.category_id, 2);
    assert!(g.secret && g.unleavable && g.pinned && g.has_icon());
    assert_eq!(
        g.password_hash.as_deref(),
        Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
    );
    assert_eq!(
        g.custom_fields.get(&4).map(String::as_str),
        Some("value\nwith lines")
    );
    assert_eq!((g.created_at, g.updated_at), (1_700_000_123, 1_700_000_123));
    assert!(g.policy.has("list_add") && g.policy.has("user_edit") && !g.policy.has("user_add"));
    assert_eq!(
        g.policy
            .limits
            .get(&LimitKind::Mail)
            .map(|l| (l.amount, l.period)),
        Some((67, Some(Period::Month1st)))
    );
    assert!(g.policy.unsubscribe_link);
    assert_eq!(
        (
            g.policy.abuse_ratio,
            g.policy.lists.clone(),
            g.policy.send_methods.clone()
        ),
        (9, vec![1, 22], vec![2])
    );
    assert_eq!(g.builtin, None);
    assert_eq!(g.external_id.as_deref(), Some("8aa1a0c0-idp"));
    // A plain group (one statement on PostgreSQL) keeps it too; an update sets
    // and clears it.
    let mut plain = group("Plain", None);
    plain.external_id = Some("plain-idp".into());
    let plain = store.insert_group(ws.id, plain).await.unwrap();
    let external = |id| {
        let store = store.clone();
        async move {
            store
                .find_group(ws.id, &GroupRef::Id(id))
                .await
                .unwrap()
                .unwrap()
                .external_id
        }
    };
    assert_eq!(external(plain).await.as_deref(), Some("plain-idp"));
    for (set, want) in [(Some("again".to_string()), Some("again")), (None, None)] {
        let update = GroupUpdate {
            external_id: Some(set),
            now: 1_700_000_124,
            ..Default::default()
        };
        store.update_group(ws.id, plain, update).await.unwrap();
        assert_eq!(external(plain).await.as_deref(), want);
    }
    store.delete_groups(ws.id, &[plain], None).await.unwrap();
    // List pages carry the same group, custom field values included, byte for byte.
    let page = store
        .query_groups(
            ws.id,
            &GroupQuery {
                category: None,
                name_prefix: None,
                secret: None,
                pinned: None,
                visible_to: None,
                after: None,
                limit: 50,
            },
        )
        .await
        .unwrap();
    assert_eq!(page.iter().find(|p| p.id == id), Some(&g));
    let listed = store.list_groups(ws.id, None, 50).await.unwrap();
    assert_eq!(listed.iter().find(|p| p.id == id), Some(&g));
    assert_eq!(g.icon_token.as_deref(), Some(icon.token.as_str()));
    assert_eq!(store.icon_by_token(&icon.token).await.unwrap(), Some(icon));
    let plain = store
        .insert_group(ws.id, group("Plain", None))
        .await
        .unwrap();
    let plain = store
        .find_group(ws.id, &GroupRef::Id(plain))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(plain.icon_token, None);
}

pub async fn updates_change_only_what_they_carry(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    short_text_field(&store, &ws, 1).await;
    let mut g = group("Name", Some("slug"));
    g.password_hash = Some("hash".into());
    g.custom_fields = vec![(1, "v".into())];
    g.icon = Some(icon_image(1, vec![1]));
    let id = store.insert_group(ws.id, g).await.unwrap();
    let before = store
        .find_group(ws.id, &GroupRef::Id(id))
        .await
        .unwrap()
        .unwrap();
    store
        .update_group(
            ws.id,
            id,
            GroupUpdate {
                pinned: Some(true),
                now: 1_800_000_000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let after = store
        .find_group(ws.id, &GroupRef::Id(id))
        .await
        .unwrap()
        .unwrap();
    assert!(after.pinned);
    assert_eq!(after.updated_at, 1_800_000_000);
    let mut expected = before.clone();
    expected.pinned = true;
    expected.updated_at = 1_800_000_000;
    assert_eq!(after, expected);
    store
        .update_group(
            ws.id,
            id,
            GroupUpdate {
                password_hash: Some(None),
                icon: Some(None),
                custom_fields: vec![(1, None)],
                description: Some("d".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let after = store
        .find_group(ws.id, &GroupRef::Id(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.password_hash, None);
    assert!(!after.has_icon());
    assert!(after.custom_fields.is_empty());
    assert_eq!(after.description, "d");
    assert_eq!(after.name, "Name");
    assert_eq!(after.slug.as_deref(), Some("slug"));
}

pub async fn unknown_references_write_nothing(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let mut g = group("Bad category", Some("bad"));
    g.category_id = 42;
    assert_eq!(
        store.insert_group(ws.id, g).await,
        Err(StoreError::UnknownCategory(42))
    );
    let mut g = group("Bad field", Some("bad"));
    g.custom_fields = vec![(5, "x".into())];
    assert_eq!(
        store.insert_group(ws.id, g).await,
        Err(StoreError::UnknownField(5))
    );
    assert!(own_groups(&store, &ws).await.is_empty());
    let id = store.insert_group(ws.id, group("Ok", None)).await.unwrap();
    let bad = GroupUpdate {
        name: Some("Changed".into()),
        category_id: Some(42),
        ..Default::default()
    };
    assert_eq!(
        store.update_group(ws.id, id, bad).await,
        Err(StoreError::UnknownCategory(42))
    );
    // The category is named before any field; the first missing field in the
    // order given is named.
    short_text_field(&store, &ws, 3).await;
    let bad = GroupUpdate {
        name: Some("Changed".into()),
        category_id: Some(42),
        custom_fields: vec![(7, Some("x".into()))],
        ..Default::default()
    };
    assert_eq!(
        store.update_group(ws.id, id, bad).await,
        Err(StoreError::UnknownCategory(42))
    );
    let bad = GroupUpdate {
        name: Some("Changed".into()),
        custom_fields: vec![(3, Some("x".into())), (8, None), (7, Some("y".into()))],
        ..Default::default()
    };
    assert_eq!(
        store.update_group(ws.id, id, bad).await,
        Err(StoreError::UnknownField(8))
    );
    let mut g = group("Bad fields", None);
    g.custom_fields = vec![(3, "x".into()), (9, "y".into())];
    assert_eq!(
        store.insert_group(ws.id, g).await,
        Err(StoreError::UnknownField(9))
    );
    let g = store
        .find_group(ws.id, &GroupRef::Id(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g.name, "Ok");
    assert!(g.custom_fields.is_empty());
    assert_eq!(own_groups(&store, &ws).await.len(), 1);
}

pub async fn group_ids_are_never_reused(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let a = store.insert_group(ws.id, group("A", None)).await.unwrap();
    let b = store.insert_group(ws.id, group("B", None)).await.unwrap();
    store.delete_groups(ws.id, &[b], None).await.unwrap();
    let c = store.insert_group(ws.id, group("C", None)).await.unwrap();
    assert!(a < b && b < c, "{a:?} {b:?} {c:?}");
}

pub async fn groups_list_in_pages(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let mut ids: Vec<GroupId> = store
        .list_groups(ws.id, None, 100)
        .await
        .unwrap()
        .iter()
        .map(|g| g.id)
        .collect();
    for i in 0..7 {
        ids.push(
            store
                .insert_group(ws.id, group(&format!("G{i}"), None))
                .await
                .unwrap(),
        );
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_groups(ws.id, after, 3).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|g| g.id);
        seen.extend(page.into_iter().map(|g| g.id));
    }
    assert_eq!(seen, ids);
}

pub async fn policy_patches_apply_inside_the_write(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let id = store.insert_group(ws.id, group("P", None)).await.unwrap();
    // Concurrent patches of different permissions must all land.
    let mut tasks = Vec::new();
    for name in [
        "list_add",
        "list_edit",
        "list_delete",
        "message_send",
        "user_add",
    ] {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let patch = GroupUpdate {
                policy: PolicyPatch {
                    permissions: vec![(name.to_string(), true)],
                    ..Default::default()
                },
                ..Default::default()
            };
            store.update_group(ws.id, id, patch).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let g = store
        .find_group(ws.id, &GroupRef::Id(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g.policy.permissions.len(), 5);
    let limit = GroupUpdate {
        policy: PolicyPatch {
            limits: vec![(
                LimitKind::User,
                Some(Limit {
                    amount: 12,
                    period: None,
                }),
            )],
            ..Default::default()
        },
        ..Default::default()
    };
    store.update_group(ws.id, id, limit).await.unwrap();
    let g = store
        .find_group(ws.id, &GroupRef::Id(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g.policy.member_limit(), Some(12));
    assert_eq!(g.policy.permissions.len(), 5);
}

pub async fn icons_are_found_by_token_only(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let other = store.create_workspace("other", 1).await.unwrap();
    let first = icon_image(0xa1, vec![1, 1]);
    let mut g = group("Pictured", None);
    g.icon = Some(first.clone());
    let id = store.insert_group(ws.id, g).await.unwrap();
    // Another workspace's icon is found by its token as well: the route is global.
    let theirs = icon_image(0xb2, vec![2, 2]);
    let mut g = group("Theirs", None);
    g.icon = Some(theirs.clone());
    store.insert_group(other.id, g).await.unwrap();
    assert_eq!(
        store.icon_by_token(&first.token).await,
        Ok(Some(first.clone()))
    );
    assert_eq!(store.icon_by_token(&theirs.token).await, Ok(Some(theirs)));
    assert_eq!(
        store.icon_by_token(&format!("{:032x}", 0xc3)).await,
        Ok(None)
    );
    assert_eq!(store.icon_by_token("").await, Ok(None));
    // A new icon comes with a new token; the old one finds nothing any more.
    let second = icon_image(0xd4, vec![3, 3]);
    store
        .update_group(
            ws.id,
            id,
            GroupUpdate {
                icon: Some(Some(second.clone())),
                now: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(store.icon_by_token(&first.token).await, Ok(None));
    assert_eq!(
        store.icon_by_token(&second.token).await,
        Ok(Some(second.clone()))
    );
    let found = store
        .find_group(ws.id, &GroupRef::Id(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.icon_token, Some(second.token.clone()));
    // Cleared: no token, nothing served.
    store
        .update_group(
            ws.id,
            id,
            GroupUpdate {
                icon: Some(None),
                now: 3,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(store.icon_by_token(&second.token).await, Ok(None));
}
