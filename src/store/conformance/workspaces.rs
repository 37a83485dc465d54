//! Conformance: Workspaces.

use super::*;

pub async fn bootstrap_creates_the_default_workspace_once(store: Arc<dyn Store>) {
    let first = store.bootstrap(1).await.unwrap();
    assert_eq!(first.as_ref().map(|w| w.name.as_str()), Some("default"));
    assert_eq!(store.bootstrap(2).await.unwrap(), None);
    assert_eq!(store.list_workspaces().await.unwrap().len(), 1);
}

pub async fn workspaces_have_unique_names_and_category_one(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let acme = store.create_workspace("acme", 1).await.unwrap();
    assert_ne!(acme.id, ws.id);
    assert!(matches!(
        store.create_workspace("acme", 1).await,
        Err(StoreError::AlreadyExists(_))
    ));
    for w in [ws.id, acme.id] {
        let cats = store.list_categories(w).await.unwrap();
        assert_eq!(cats.len(), 1);
        assert_eq!((cats[0].id, cats[0].name.as_str()), (1, "Uncategorized"));
    }
    assert_eq!(
        store.delete_category(ws.id, 1).await,
        Err(StoreError::DefaultCategory)
    );
}

pub async fn workspaces_are_isolated(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let other = store.create_workspace("other", 1).await.unwrap();
    let id = store
        .insert_group(ws.id, group("Mine", Some("mine")))
        .await
        .unwrap();
    assert_eq!(
        store.find_group(other.id, &GroupRef::Id(id)).await.unwrap(),
        None
    );
    assert_eq!(
        store.find_group(other.id, &by_slug("mine")).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .update_group(
                other.id,
                id,
                GroupUpdate {
                    name: Some("x".into()),
                    ..Default::default()
                }
            )
            .await,
        Err(StoreError::NotFound(Entity::Group))
    );
    assert_eq!(
        store.delete_groups(other.id, &[id], None).await,
        Err(StoreError::NotFound(Entity::Group))
    );
    assert!(own_groups(&store, &other).await.is_empty());
    assert_eq!(own_groups(&store, &ws).await.len(), 1);
    assert!(
        store
            .find_group(ws.id, &GroupRef::Id(id))
            .await
            .unwrap()
            .is_some()
    );
}

pub async fn workspaces_are_found_by_name_and_listed(store: Arc<dyn Store>) {
    store.ping().await.expect("a fresh store answers");
    store.bootstrap(1).await.expect("bootstrap");
    let other = store.create_workspace("other", 2).await.expect("create");
    let found = store.find_workspace("other").await.expect("find");
    assert_eq!(found.map(|w| w.id), Some(other.id));
    assert_eq!(store.find_workspace("nowhere").await.expect("find"), None);
    let names: Vec<String> = store
        .list_workspaces()
        .await
        .expect("list")
        .into_iter()
        .map(|w| w.name)
        .collect();
    assert_eq!(names, ["default", "other"]);
    // Counts are per workspace: a new one has its three built-in groups only.
    let counts = store.workspace_counts(other.id).await.expect("counts");
    assert_eq!(
        counts,
        crate::store::WorkspaceCounts {
            groups: 3,
            ..Default::default()
        }
    );
    let ws = default_ws(&store).await;
    store
        .insert_api_key(
            other.id,
            NewApiKey {
                prefix: "CoUnTkEy".into(),
                hash: vec![1; 32],
                label: "l".into(),
                now: 3,
            },
        )
        .await
        .expect("key");
    let g = store
        .insert_group(other.id, group("Counted", None))
        .await
        .expect("group");
    let u = store
        .insert_user(other.id, user("counted"))
        .await
        .expect("user");
    store
        .add_members(other.id, g, vec![u], None, OnExisting::Keep, 4)
        .await
        .expect("member");
    let counts = store.workspace_counts(other.id).await.expect("counts");
    assert_eq!((counts.groups, counts.users, counts.active_keys), (4, 1, 1));
    store.revoke_api_key("CoUnTkEy", 5).await.expect("revoke");
    assert_eq!(
        store
            .workspace_counts(other.id)
            .await
            .expect("counts")
            .active_keys,
        0
    );
    assert_eq!(
        store.workspace_counts(ws.id).await.expect("counts").users,
        0
    );
}
