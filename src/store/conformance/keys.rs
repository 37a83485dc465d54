//! Conformance: API keys.

use super::*;

pub async fn api_keys_are_found_listed_and_revoked(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let key = |prefix: &str| NewApiKey {
        prefix: prefix.to_string(),
        hash: vec![7; 32],
        label: "l".into(),
        now: 5,
    };
    store.insert_api_key(ws.id, key("AAAAAAAA")).await.unwrap();
    assert!(matches!(
        store.insert_api_key(ws.id, key("AAAAAAAA")).await,
        Err(StoreError::AlreadyExists(_))
    ));
    let found = store.find_api_key("AAAAAAAA").await.unwrap().unwrap();
    assert_eq!(
        (found.workspace, found.hash.clone(), found.revoked),
        (ws.id, vec![7; 32], false)
    );
    assert_eq!(store.find_api_key("BBBBBBBB").await.unwrap(), None);
    // The revocation token must move on every revocation, or the service's key
    // cache would keep a revoked key. (PostgreSQL offers one once its listening
    // connection is up.)
    let mut token = store.key_revocations();
    for _ in 0..100 {
        if token.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        token = store.key_revocations();
    }
    let before = token.expect("the engine offers a revocation token");
    store.insert_api_key(ws.id, key("CCCCCCCC")).await.unwrap();
    store.revoke_api_key("AAAAAAAA", 9).await.unwrap();
    // `None` would also be safe (nothing cached); a token equal to before is not.
    let after = store.key_revocations();
    assert_ne!(after, Some(before), "a revocation moves the token");
    store.revoke_api_key("CCCCCCCC", 9).await.unwrap();
    if let Some(after) = after {
        assert_ne!(store.key_revocations(), Some(after));
    }
    assert!(
        store
            .find_api_key("AAAAAAAA")
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
    let listed = store.list_api_keys(Some(ws.id)).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].revoked_at, Some(9));
    assert_eq!(listed[1].last_used_at, None);
    // Last use only moves forward, and only for the key named.
    store.touch_api_key("CCCCCCCC", 60).await.unwrap();
    store.touch_api_key("CCCCCCCC", 30).await.unwrap();
    store.touch_api_key("ZZZZZZZZ", 90).await.unwrap();
    let listed = store.list_api_keys(Some(ws.id)).await.unwrap();
    let used: Vec<Option<i64>> = listed.iter().map(|k| k.last_used_at).collect();
    assert_eq!(used, [None, Some(60)]);
    assert!(matches!(
        store.revoke_api_key("ZZZZZZZZ", 9).await,
        Err(StoreError::NotFound(_))
    ));
}
