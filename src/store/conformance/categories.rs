//! Conformance: Categories.

use super::*;

pub async fn categories_count_per_workspace_and_removal_moves_groups(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let other = store.create_workspace("other", 1).await.unwrap();
    assert_eq!(store.create_category(ws.id, "A", 1).await.unwrap().id, 2);
    assert_eq!(store.create_category(ws.id, "B", 1).await.unwrap().id, 3);
    assert_eq!(store.create_category(other.id, "C", 1).await.unwrap().id, 2);
    store.rename_category(ws.id, 3, "Bee").await.unwrap();
    assert_eq!(store.list_categories(ws.id).await.unwrap()[2].name, "Bee");
    let mut g = group("In B", None);
    g.category_id = 3;
    let id = store.insert_group(ws.id, g).await.unwrap();
    assert_eq!(store.delete_category(ws.id, 3).await.unwrap(), 1);
    let moved = store
        .find_group(ws.id, &GroupRef::Id(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.category_id, 1);
    assert!(matches!(
        store.delete_category(ws.id, 3).await,
        Err(StoreError::UnknownCategory(3))
    ));
    // Category 1 always exists; its groups stay.
    assert_eq!(
        store.delete_category(ws.id, 1).await,
        Err(StoreError::DefaultCategory)
    );
    assert_eq!(store.list_categories(ws.id).await.unwrap()[0].id, 1);
    assert_eq!(
        store.delete_category(ws.id, 99).await,
        Err(StoreError::UnknownCategory(99))
    );
    // Ids are not reused after removal.
    assert_eq!(store.create_category(ws.id, "D", 1).await.unwrap().id, 4);
}
