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
    assert!(matches!(
        store.delete_groups(ws.id, &[a, b], Some(b)).await,
        Err(StoreError::Refused(_))
    ));
    assert_eq!(
        own_groups(&store, &ws).await.len(),
        3,
        "a refused removal removed something"
    );
    store.delete_groups(ws.id, &[a, b], Some(c)).await.unwrap();
    let left: Vec<GroupId> = own_groups(&store, &ws).await.iter().map(|g| g.id).collect();
    assert_eq!(left, [c]);
}
