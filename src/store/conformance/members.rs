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

pub async fn members_are_listed_in_pages_and_removed(store: Arc<dyn Store>) {
    use crate::store::OnExisting;
    let ws = default_ws(&store).await.id;
    let g = store
        .insert_group(ws, group("Team", None))
        .await
        .expect("group");
    let mut ids = Vec::new();
    for name in ["ada", "bob", "cy", "dee"] {
        ids.push(store.insert_user(ws, user(name)).await.expect("user"));
    }
    store
        .add_members(
            ws,
            g,
            ids[..3].to_vec(),
            Some(GroupRole::Moderator),
            OnExisting::Fail,
            7,
        )
        .await
        .expect("add");
    let page = store.list_members(ws, g, None, 2).await.expect("page");
    assert_eq!(page.iter().map(|m| m.user.id).collect::<Vec<_>>(), ids[..2]);
    assert!(
        page.iter()
            .all(|m| m.role == GroupRole::Moderator && m.joined_at == 7)
    );
    let rest = store
        .list_members(ws, g, Some(ids[1]), 2)
        .await
        .expect("page");
    assert_eq!(
        rest.iter().map(|m| m.user.id).collect::<Vec<_>>(),
        ids[2..3]
    );
    // Removing someone who is not a member: refused when membership is required,
    // skipped otherwise; nothing is half done.
    assert_eq!(
        store
            .remove_members(ws, g, vec![ids[0], ids[3]], true)
            .await,
        Err(StoreError::NotAMember(ids[3].0))
    );
    assert_eq!(
        store
            .list_members(ws, g, None, 10)
            .await
            .expect("page")
            .len(),
        3
    );
    assert_eq!(
        store
            .remove_members(ws, g, vec![ids[0], ids[3]], false)
            .await,
        Ok(1)
    );
    let left = store.list_members(ws, g, None, 10).await.expect("page");
    assert_eq!(
        left.iter().map(|m| m.user.id).collect::<Vec<_>>(),
        ids[1..3]
    );
    let team = store
        .find_group(ws, &GroupRef::Id(g))
        .await
        .expect("find")
        .expect("team");
    assert_eq!(team.member_count, 2);
    assert_eq!(
        store
            .list_members(ws, GroupId(999_999), None, 10)
            .await
            .map(|p| p.len()),
        Ok(0)
    );
}
