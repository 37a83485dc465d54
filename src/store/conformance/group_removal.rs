//! Conformance: Removing groups, and the built-in ones that cannot be.

use super::*;

pub async fn removing_a_group_removes_its_icon_and_values(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    short_text_field(&store, &ws, 1).await;
    let mut g = group("Gone", Some("gone"));
    g.custom_fields = vec![(1, "v".into())];
    g.icon = Some(icon_image(1, vec![1]));
    let id = store.insert_group(ws.id, g).await.unwrap();
    store.delete_groups(ws.id, &[id], None).await.unwrap();
    assert_eq!(
        store.icon_by_token(&icon_image(1, vec![]).token).await,
        Ok(None)
    );
    assert_eq!(
        store.find_group(ws.id, &GroupRef::Id(id)).await.unwrap(),
        None
    );
    assert_eq!(
        store.delete_groups(ws.id, &[id], None).await,
        Err(StoreError::NotFound(Entity::Group))
    );
    // The field can be removed: no values of the removed group hold it.
    store.delete_field(ws.id, 1).await.unwrap();
}

pub async fn every_workspace_has_locked_builtin_groups(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let other = store.create_workspace("other", 1).await.unwrap();
    for w in [&ws, &other] {
        let builtins: Vec<_> = store
            .list_groups(w.id, None, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|g| g.builtin.is_some())
            .collect();
        let kinds: Vec<Option<Builtin>> = builtins.iter().map(|g| g.builtin).collect();
        assert_eq!(
            kinds,
            [
                Some(Builtin::Visitor),
                Some(Builtin::User),
                Some(Builtin::Admin)
            ]
        );
        assert_eq!(builtins[2].name, "Admin");
        // Each is found by its kind, in its own workspace only.
        for b in &builtins {
            let kind = GroupRef::Builtin(b.builtin.unwrap());
            assert_eq!(
                store.find_group(w.id, &kind).await.unwrap().as_ref(),
                Some(b)
            );
        }
        assert!(builtins[2].policy.has("user_delete"));
        assert!(!builtins[0].policy.has("user_delete"));
        for b in &builtins {
            assert!(b.secret);
            assert_eq!(
                store.delete_groups(w.id, &[b.id], None).await,
                Err(StoreError::BuiltinGroup(b.id.0))
            );
        }
    }
    // The default workspace's built-ins are its first three groups, as in ActiveCampaign.
    let first: Vec<i64> = store
        .list_groups(ws.id, None, 3)
        .await
        .unwrap()
        .iter()
        .map(|g| g.id.0)
        .collect();
    assert_eq!(first, [1, 2, 3]);
}

pub async fn removing_several_groups_is_all_or_nothing(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let a = store.insert_group(ws.id, group("A", None)).await.unwrap();
    let b = store.insert_group(ws.id, group("B", None)).await.unwrap();
    let c = store.insert_group(ws.id, group("C", None)).await.unwrap();
    let admin = store
        .list_groups(ws.id, None, 10)
        .await
        .unwrap()
        .into_iter()
        .find(|g| g.builtin == Some(Builtin::Admin))
        .unwrap()
        .id;
    assert_eq!(
        store.delete_groups(ws.id, &[a, GroupId(9_999)], None).await,
        Err(StoreError::NotFound(Entity::Group))
    );
    assert_eq!(
        store.delete_groups(ws.id, &[a, admin], None).await,
        Err(StoreError::BuiltinGroup(admin.0))
    );
    assert_eq!(
        store.delete_groups(ws.id, &[a], Some(GroupId(9_999))).await,
        Err(StoreError::NotFound(Entity::Group))
    );
    assert_eq!(
        store.delete_groups(ws.id, &[a, b], Some(b)).await,
        Err(StoreError::SuccessorAmongRemoved(b.0))
    );
    // A group named twice is gone by its second mention.
    assert_eq!(
        store.delete_groups(ws.id, &[a, a], None).await,
        Err(StoreError::NotFound(Entity::Group))
    );
    assert_eq!(
        own_groups(&store, &ws).await.len(),
        3,
        "a refused removal removed something"
    );
    store.delete_groups(ws.id, &[a, b], Some(c)).await.unwrap();
    let left: Vec<GroupId> = own_groups(&store, &ws).await.iter().map(|g| g.id).collect();
    assert_eq!(left, [c]);
}

/// The members of `group`, by user id, with their roles.
async fn roles_in(
    store: &Arc<dyn Store>,
    ws: &Workspace,
    group: GroupId,
) -> Vec<(crate::domain::user::UserId, GroupRole)> {
    store
        .list_members(ws.id, group, None, 100)
        .await
        .expect("members")
        .into_iter()
        .map(|m| (m.user.id, m.role))
        .collect()
}

pub async fn removed_groups_hand_their_members_to_the_successor(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let mut users = Vec::new();
    for name in ["u1", "u2", "u3", "u4"] {
        users.push(store.insert_user(ws.id, user(name)).await.unwrap());
    }
    let (u1, u2, u3, u4) = (users[0], users[1], users[2], users[3]);
    let a = store.insert_group(ws.id, group("A", None)).await.unwrap();
    let b = store.insert_group(ws.id, group("B", None)).await.unwrap();
    let heir = store
        .insert_group(ws.id, group("Heir", None))
        .await
        .unwrap();
    let add = |g: GroupId, who: Vec<crate::domain::user::UserId>, role: GroupRole| {
        let store = store.clone();
        async move {
            store
                .add_members(ws.id, g, who, Some(role), OnExisting::Fail, 2)
                .await
                .unwrap();
        }
    };
    add(a, vec![u1], GroupRole::Member).await;
    add(a, vec![u2], GroupRole::Admin).await;
    add(b, vec![u2, u3], GroupRole::Member).await;
    add(heir, vec![u1], GroupRole::Admin).await;
    // u4 is in no removed group: untouched.
    store
        .delete_groups(ws.id, &[a, b], Some(heir))
        .await
        .unwrap();
    // u1 was there already and keeps their role; u2 (in both) joins once, as a
    // plain member whatever their role was; u3 joins too.
    assert_eq!(
        roles_in(&store, &ws, heir).await,
        [
            (u1, GroupRole::Admin),
            (u2, GroupRole::Member),
            (u3, GroupRole::Member)
        ]
    );
    let heir_row = store
        .find_group(ws.id, &GroupRef::Id(heir))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(heir_row.member_count, 3);
    assert_eq!(
        own_groups(&store, &ws)
            .await
            .iter()
            .map(|g| g.id)
            .collect::<Vec<_>>(),
        [heir]
    );
    // A built-in group may take over (the service keeps members out of the
    // administrators' group; the store does not decide that).
    let users_group = store
        .list_groups(ws.id, None, 10)
        .await
        .unwrap()
        .into_iter()
        .find(|g| g.builtin == Some(Builtin::User))
        .unwrap()
        .id;
    let c = store.insert_group(ws.id, group("C", None)).await.unwrap();
    add(c, vec![u4], GroupRole::Member).await;
    store
        .delete_groups(ws.id, &[c], Some(users_group))
        .await
        .unwrap();
    assert_eq!(
        roles_in(&store, &ws, users_group).await,
        [(u4, GroupRole::Member)]
    );
}

pub async fn a_full_successor_refuses_the_removal(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let u1 = store.insert_user(ws.id, user("u1")).await.unwrap();
    let u2 = store.insert_user(ws.id, user("u2")).await.unwrap();
    let old = store.insert_group(ws.id, group("Old", None)).await.unwrap();
    let mut small = group("Small", None);
    small.policy.limits.insert(
        LimitKind::User,
        Limit {
            amount: 1,
            period: None,
        },
    );
    let heir = store.insert_group(ws.id, small).await.unwrap();
    store
        .add_members(ws.id, old, vec![u1, u2], None, OnExisting::Fail, 2)
        .await
        .unwrap();
    store
        .add_members(ws.id, heir, vec![u1], None, OnExisting::Fail, 2)
        .await
        .unwrap();
    // u1 is already there: only u2 would join, and there is no room for them.
    assert_eq!(
        store.delete_groups(ws.id, &[old], Some(heir)).await,
        Err(StoreError::GroupFull { limit: 1, room: 0 })
    );
    assert_eq!(
        own_groups(&store, &ws).await.len(),
        2,
        "a refused removal removed something"
    );
    assert_eq!(roles_in(&store, &ws, heir).await, [(u1, GroupRole::Member)]);
    assert_eq!(roles_in(&store, &ws, old).await.len(), 2);
    // Without a successor the members simply go with the group.
    store.delete_groups(ws.id, &[old], None).await.unwrap();
    assert_eq!(roles_in(&store, &ws, heir).await, [(u1, GroupRole::Member)]);
}
