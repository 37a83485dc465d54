//! Conformance: Memberships.

use super::*;

pub async fn member_roles_come_for_a_whole_page(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let user = store
        .insert_user(
            ws.id,
            crate::store::NewUser {
                full_name: "Ada".into(),
                username: ("Ada".into(), "ada".into()),
                email: ("ada@example.org".into(), "ada@example.org".into()),
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
                now: 1,
            },
        )
        .await
        .unwrap();
    let mut ids = Vec::new();
    for name in ["A", "B", "C"] {
        ids.push(store.insert_group(ws.id, group(name, None)).await.unwrap());
    }
    for (g, role) in [(ids[0], GroupRole::Admin), (ids[2], GroupRole::Member)] {
        store
            .add_members(
                ws.id,
                g,
                vec![user],
                Some(role),
                crate::store::OnExisting::Fail,
                2,
            )
            .await
            .unwrap();
    }
    let roles = store.member_roles(ws.id, user, &ids).await.unwrap();
    assert_eq!(
        roles.into_iter().collect::<Vec<_>>(),
        [(ids[0], GroupRole::Admin), (ids[2], GroupRole::Member)]
    );
    // Only the groups asked for, only in the caller's workspace, none for none.
    let one = store.member_roles(ws.id, user, &[ids[2]]).await.unwrap();
    assert_eq!(
        one.into_iter().collect::<Vec<_>>(),
        [(ids[2], GroupRole::Member)]
    );
    assert!(
        store
            .member_roles(ws.id, user, &[])
            .await
            .unwrap()
            .is_empty()
    );
    let other = store.create_workspace("other", 1).await.unwrap();
    assert!(
        store
            .member_roles(other.id, user, &ids)
            .await
            .unwrap()
            .is_empty()
    );
}
