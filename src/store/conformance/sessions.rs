//! Conformance: console sessions.

use super::*;
use crate::domain::event::KeyPrefix;
use crate::domain::session::{Session, SessionActor};
use crate::domain::user::UserId;

pub async fn sessions_are_found_touched_ended_and_pruned(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let other = store.create_workspace("other", 1).await.unwrap();
    let key = SessionActor::Key(KeyPrefix::parse("AbCd1234").unwrap());
    let session = |ws: &Workspace, actor, at| Session {
        workspace: ws.id,
        actor,
        created_at: at,
        seen_at: at,
    };
    let a = session(&ws, key, 100);
    let b = session(&other, SessionActor::User(UserId(7)), 200);
    store.insert_session(vec![1; 32], a.clone()).await.unwrap();
    store.insert_session(vec![2; 32], b.clone()).await.unwrap();
    assert_eq!(store.find_session(&[1; 32]).await.unwrap(), Some(a.clone()));
    assert_eq!(store.find_session(&[2; 32]).await.unwrap(), Some(b.clone()));
    assert_eq!(store.find_session(&[3; 32]).await.unwrap(), None);
    // A touch only moves the last use forward.
    store.touch_session(&[1; 32], 400).await.unwrap();
    store.touch_session(&[1; 32], 300).await.unwrap();
    let seen = store.find_session(&[1; 32]).await.unwrap().unwrap();
    assert_eq!((seen.created_at, seen.seen_at), (100, 400));
    // Signing out ends one session; ending it twice is no error.
    store.delete_session(&[2; 32]).await.unwrap();
    store.delete_session(&[2; 32]).await.unwrap();
    assert_eq!(store.find_session(&[2; 32]).await.unwrap(), None);
    // Pruning takes the idle and the too old, and nothing else.
    store
        .insert_session(vec![4; 32], session(&ws, key, 1000))
        .await
        .unwrap();
    store
        .insert_session(vec![5; 32], session(&ws, key, 2000))
        .await
        .unwrap();
    assert_eq!(
        store.prune_sessions(1001, 0).await.unwrap(),
        2,
        "seen at 400 and 1000"
    );
    assert_eq!(store.prune_sessions(0, 2000).await.unwrap(), 0);
    assert_eq!(store.prune_sessions(0, 2001).await.unwrap(), 1);
    assert_eq!(store.find_session(&[5; 32]).await.unwrap(), None);
}
