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
                external_id: None,
                idp_user_name: None,
                active: true,
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
                crate::domain::membership::OnExisting::Fail,
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

/// A group whose `limit_user` is `amount`.
fn limited_group(name: &str, amount: i64) -> NewGroup {
    let mut g = group(name, None);
    g.policy.limits.insert(
        LimitKind::User,
        Limit {
            amount,
            period: None,
        },
    );
    g
}

async fn member_count(store: &Arc<dyn Store>, ws: &Workspace, g: GroupId) -> i64 {
    store
        .find_group(ws.id, &GroupRef::Id(g))
        .await
        .unwrap()
        .expect("group")
        .member_count
}

/// The members of `g` with their roles, in the order listed.
async fn members_of(
    store: &Arc<dyn Store>,
    ws: &Workspace,
    g: GroupId,
) -> Vec<(crate::domain::user::UserId, GroupRole)> {
    store
        .list_members(ws.id, g, None, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.user.id, m.role))
        .collect()
}

pub async fn adding_members_is_all_or_nothing_under_every_rule(store: Arc<dyn Store>) {
    use crate::domain::membership::OnExisting::{Fail, Keep};
    use crate::domain::user::UserId;
    let ws = default_ws(&store).await;
    let mut u = Vec::new();
    for name in ["Ada", "Bob", "Cy", "Dee"] {
        u.push(store.insert_user(ws.id, user(name)).await.unwrap());
    }
    let g = store
        .insert_group(ws.id, limited_group("L", 3))
        .await
        .unwrap();
    let missing = GroupId(g.0 + 1000);
    assert_eq!(
        store
            .add_members(ws.id, missing, vec![u[0]], None, Keep, 2)
            .await,
        Err(StoreError::NotFound(Entity::Group))
    );
    // A user named twice joins once; the default role is member.
    assert_eq!(
        store
            .add_members(ws.id, g, vec![u[1], u[0], u[1]], None, Keep, 2)
            .await,
        Ok(2)
    );
    assert_eq!(
        members_of(&store, &ws, g).await,
        [(u[0], GroupRole::Member), (u[1], GroupRole::Member)]
    );
    assert_eq!(member_count(&store, &ws, g).await, 2);
    // Refusals write nothing, not even the role change or the users before them.
    let unknown = UserId(u[3].0 + 1000);
    for (users, on_existing, refusal) in [
        (
            vec![u[2], unknown],
            Keep,
            StoreError::UnknownUser(unknown.0),
        ),
        (vec![u[2], u[0]], Fail, StoreError::AlreadyMember(u[0].0)),
        (
            vec![u[2], u[3], u[2]],
            Keep,
            StoreError::GroupFull { limit: 3, room: 1 },
        ),
    ] {
        assert_eq!(
            store
                .add_members(ws.id, g, users, Some(GroupRole::Admin), on_existing, 3)
                .await,
            Err(refusal)
        );
        assert_eq!(
            members_of(&store, &ws, g).await,
            [(u[0], GroupRole::Member), (u[1], GroupRole::Member)]
        );
        assert_eq!(member_count(&store, &ws, g).await, 2);
    }
    // A user of another workspace is unknown here.
    let other = store.create_workspace("other", 1).await.unwrap();
    let stranger = store.insert_user(other.id, user("Eve")).await.unwrap();
    assert_eq!(
        store
            .add_members(ws.id, g, vec![stranger], None, Keep, 3)
            .await,
        Err(StoreError::UnknownUser(stranger.0))
    );
    // Exactly full is fine; members named with a role take it.
    assert_eq!(
        store
            .add_members(
                ws.id,
                g,
                vec![u[2], u[1], u[2]],
                Some(GroupRole::Moderator),
                Keep,
                4
            )
            .await,
        Ok(1)
    );
    assert_eq!(
        members_of(&store, &ws, g).await,
        [
            (u[0], GroupRole::Member),
            (u[1], GroupRole::Moderator),
            (u[2], GroupRole::Moderator)
        ]
    );
    assert_eq!(member_count(&store, &ws, g).await, 3);
    // A full group still changes roles, and refuses one more.
    assert_eq!(
        store
            .add_members(ws.id, g, vec![u[0]], Some(GroupRole::Admin), Keep, 5)
            .await,
        Ok(0)
    );
    assert_eq!(
        store.add_members(ws.id, g, vec![u[3]], None, Keep, 5).await,
        Err(StoreError::GroupFull { limit: 3, room: 0 })
    );
    assert_eq!(
        members_of(&store, &ws, g).await,
        [
            (u[0], GroupRole::Admin),
            (u[1], GroupRole::Moderator),
            (u[2], GroupRole::Moderator)
        ]
    );
    let joined: Vec<i64> = store
        .list_members(ws.id, g, None, 10)
        .await
        .unwrap()
        .iter()
        .map(|m| m.joined_at)
        .collect();
    assert_eq!(joined, [2, 2, 4], "a role change keeps the joining time");
    // Nobody asked: nothing happens.
    assert_eq!(
        store.add_members(ws.id, g, vec![], None, Fail, 6).await,
        Ok(0)
    );
    assert_eq!(member_count(&store, &ws, g).await, 3);
}

pub async fn removing_members_is_all_or_nothing(store: Arc<dyn Store>) {
    use crate::domain::membership::OnExisting::Keep;
    let ws = default_ws(&store).await;
    let mut u = Vec::new();
    for name in ["Ada", "Bob", "Cy", "Dee"] {
        u.push(store.insert_user(ws.id, user(name)).await.unwrap());
    }
    let g = store.insert_group(ws.id, group("G", None)).await.unwrap();
    store
        .add_members(ws.id, g, vec![u[0], u[1], u[2]], None, Keep, 2)
        .await
        .unwrap();
    let missing = GroupId(g.0 + 1000);
    assert_eq!(
        store.remove_members(ws.id, missing, vec![u[0]], true).await,
        Err(StoreError::NotFound(Entity::Group))
    );
    // Requiring members: a non-member, or a member named twice, refuses it all.
    for users in [vec![u[0], u[3]], vec![u[1], u[1]]] {
        assert_eq!(
            store.remove_members(ws.id, g, users.clone(), true).await,
            Err(StoreError::NotAMember(users[1].0))
        );
        assert_eq!(member_count(&store, &ws, g).await, 3);
        assert_eq!(members_of(&store, &ws, g).await.len(), 3);
    }
    assert_eq!(
        store.remove_members(ws.id, g, vec![u[2]], true).await,
        Ok(1)
    );
    // Not requiring them: non-members and repeats are skipped.
    assert_eq!(
        store
            .remove_members(ws.id, g, vec![u[3], u[0], u[2], u[0]], false)
            .await,
        Ok(1)
    );
    assert_eq!(
        members_of(&store, &ws, g).await,
        [(u[1], GroupRole::Member)]
    );
    assert_eq!(member_count(&store, &ws, g).await, 1);
    assert_eq!(store.remove_members(ws.id, g, vec![], true).await, Ok(0));
    assert_eq!(member_count(&store, &ws, g).await, 1);
}

pub async fn members_list_in_user_id_order_in_pages(store: Arc<dyn Store>) {
    use crate::domain::membership::OnExisting::Keep;
    let ws = default_ws(&store).await;
    let mut u = Vec::new();
    for name in ["Ada", "Bob", "Cy", "Dee", "Eve"] {
        u.push(store.insert_user(ws.id, user(name)).await.unwrap());
    }
    let g = store.insert_group(ws.id, group("G", None)).await.unwrap();
    let h = store.insert_group(ws.id, group("H", None)).await.unwrap();
    // Asked out of order, listed by user id.
    store
        .add_members(ws.id, g, vec![u[4], u[1], u[3], u[0]], None, Keep, 2)
        .await
        .unwrap();
    store
        .add_members(ws.id, h, vec![u[2]], None, Keep, 2)
        .await
        .unwrap();
    let page = |after: Option<crate::domain::user::UserId>, limit: u32| {
        let store = store.clone();
        async move {
            store
                .list_members(ws.id, g, after, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|m| m.user.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(page(None, 2).await, [u[0], u[1]]);
    assert_eq!(page(Some(u[1]), 2).await, [u[3], u[4]]);
    assert_eq!(page(Some(u[4]), 2).await, []);
    assert_eq!(page(Some(u[2]), 10).await, [u[3], u[4]]);
    // The whole user comes with each membership; another workspace sees none.
    let first = &store.list_members(ws.id, g, None, 1).await.unwrap()[0];
    assert_eq!((first.user.username.as_str(), first.joined_at), ("Ada", 2));
    let other = store.create_workspace("other", 1).await.unwrap();
    assert!(
        store
            .list_members(other.id, g, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A removal and an add in one change: the limit counts the group after the
/// removals, and a refusal of the add undoes the removal.
pub async fn members_change_in_one_step_all_or_nothing(store: Arc<dyn Store>) {
    use crate::domain::user::UserId;
    let ws = default_ws(&store).await;
    let mut u = Vec::new();
    for name in ["Ada", "Bob", "Cy", "Dee"] {
        u.push(store.insert_user(ws.id, user(name)).await.unwrap());
    }
    let g = store
        .insert_group(ws.id, limited_group("L", 2))
        .await
        .unwrap();
    assert_eq!(
        store
            .change_members(ws.id, g, vec![u[3]], vec![u[0], u[1]], 2)
            .await,
        Ok((0, 2)),
        "removing a non-member passes it over"
    );
    // Full: swapping one member for another fits.
    assert_eq!(
        store
            .change_members(ws.id, g, vec![u[0]], vec![u[2], u[1]], 3)
            .await,
        Ok((1, 1))
    );
    assert_eq!(
        members_of(&store, &ws, g).await,
        [(u[1], GroupRole::Member), (u[2], GroupRole::Member)]
    );
    let unknown = UserId(u[3].0 + 1000);
    for (add, refusal) in [
        (
            vec![u[3], u[0]],
            StoreError::GroupFull { limit: 2, room: 1 },
        ),
        (vec![unknown], StoreError::UnknownUser(unknown.0)),
    ] {
        assert_eq!(
            store.change_members(ws.id, g, vec![u[1]], add, 4).await,
            Err(refusal)
        );
        assert_eq!(
            members_of(&store, &ws, g).await,
            [(u[1], GroupRole::Member), (u[2], GroupRole::Member)],
            "the removal was undone"
        );
        assert_eq!(member_count(&store, &ws, g).await, 2);
    }
    assert_eq!(
        store
            .change_members(ws.id, GroupId(g.0 + 1000), vec![], vec![u[0]], 5)
            .await,
        Err(StoreError::NotFound(Entity::Group))
    );
    assert_eq!(
        store
            .change_members(ws.id, g, vec![u[1], u[2]], vec![], 6)
            .await,
        Ok((2, 0))
    );
    assert_eq!(member_count(&store, &ws, g).await, 0);
}
