//! Conformance: Custom field definitions.

use super::*;

pub async fn custom_fields_take_ids_and_removal_drops_values(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let def = |id: Option<i64>, kind: FieldKind, options: &[&str]| NewFieldDef {
        id,
        name: "F".into(),
        kind,
        options: options.iter().map(|s| s.to_string()).collect(),
    };
    assert_eq!(
        store
            .create_field(ws.id, def(None, FieldKind::ShortText, &[]), 1)
            .await
            .unwrap()
            .id,
        1
    );
    assert_eq!(
        store
            .create_field(ws.id, def(Some(10), FieldKind::Number, &[]), 1)
            .await
            .unwrap()
            .id,
        10
    );
    let dd = store
        .create_field(ws.id, def(None, FieldKind::Dropdown, &["a", "b"]), 1)
        .await
        .unwrap();
    assert_eq!(
        (dd.id, dd.options.clone()),
        (11, vec!["a".to_string(), "b".to_string()])
    );
    assert!(matches!(
        store
            .create_field(ws.id, def(Some(10), FieldKind::Date, &[]), 1)
            .await,
        Err(StoreError::AlreadyExists(_))
    ));
    let listed = store.list_fields(ws.id).await.unwrap();
    assert_eq!(listed.iter().map(|f| f.id).collect::<Vec<_>>(), [1, 10, 11]);
    assert_eq!(listed[2].kind, FieldKind::Dropdown);
    let mut g = group("Valued", None);
    g.custom_fields = vec![(1, "x".into()), (10, "5".into())];
    let id = store.insert_group(ws.id, g).await.unwrap();
    store.delete_field(ws.id, 10).await.unwrap();
    let found = store
        .find_group(ws.id, &GroupRef::Id(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        found.custom_fields.into_iter().collect::<Vec<_>>(),
        [(1, "x".to_string())]
    );
    assert!(matches!(
        store.delete_field(ws.id, 10).await,
        Err(StoreError::UnknownField(10))
    ));
}
