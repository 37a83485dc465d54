//! Conformance: users.

use super::*;
use crate::domain::user::{UserId, UserRef};
use crate::store::UserUpdate;

pub async fn users_round_trip_update_delete_and_list_in_pages(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let other = store.create_workspace("other", 1).await.expect("workspace");
    let mut ids = Vec::new();
    for name in ["ada", "bob", "cy"] {
        ids.push(store.insert_user(ws.id, user(name)).await.expect("insert"));
    }
    // Found by id, username key and email key; not from another workspace.
    for by in [
        UserRef::Id(ids[0]),
        UserRef::Username("ada".into()),
        UserRef::Email("ada@example.org".into()),
    ] {
        let u = store.find_user(ws.id, &by).await.expect("find");
        assert_eq!(
            u.map(|u| (u.id, u.username, u.email)),
            Some((ids[0], "ada".into(), "ada@example.org".into())),
            "{by:?}"
        );
    }
    assert_eq!(
        store
            .find_user(other.id, &UserRef::Id(ids[0]))
            .await
            .expect("find"),
        None
    );
    // Taken usernames and emails are refused, and write nothing.
    let mut twin = user("ada");
    twin.email = ("other@example.org".into(), "other@example.org".into());
    assert_eq!(
        store.insert_user(ws.id, twin).await,
        Err(StoreError::UsernameTaken)
    );
    let mut twin = user("ada2");
    twin.email = user("ada").email;
    assert_eq!(
        store.insert_user(ws.id, twin).await,
        Err(StoreError::EmailTaken)
    );
    // An update changes only what it carries.
    let update = UserUpdate {
        full_name: Some("Bobby".into()),
        now: 5,
        ..Default::default()
    };
    store
        .update_user(ws.id, ids[1], update)
        .await
        .expect("update");
    let bob = store
        .find_user(ws.id, &UserRef::Id(ids[1]))
        .await
        .expect("find")
        .expect("bob");
    assert_eq!(
        (
            bob.full_name.as_str(),
            bob.username.as_str(),
            bob.updated_at
        ),
        ("Bobby", "bob", 5)
    );
    assert_eq!((bob.external_id.as_deref(), bob.active), (None, true));
    // An identity provider's id and the active flag are kept, set and cleared.
    let mut eve = user("eve");
    eve.external_id = Some("00u-Eve".into());
    eve.password_hash = String::new();
    let eve_id = store.insert_user(ws.id, eve).await.expect("insert eve");
    let found = |id| {
        let store = store.clone();
        async move {
            let u = store
                .find_user(ws.id, &UserRef::Id(id))
                .await
                .expect("find")
                .expect("user");
            (u.external_id, u.active, u.password_hash)
        }
    };
    assert_eq!(
        found(eve_id).await,
        (Some("00u-Eve".into()), true, String::new())
    );
    let off = UserUpdate {
        active: Some(false),
        now: 6,
        ..Default::default()
    };
    store
        .update_user(ws.id, eve_id, off)
        .await
        .expect("deactivate");
    assert_eq!(
        found(eve_id).await,
        (Some("00u-Eve".into()), false, String::new())
    );
    let clear = UserUpdate {
        external_id: Some(None),
        now: 7,
        ..Default::default()
    };
    store
        .update_user(ws.id, eve_id, clear)
        .await
        .expect("clear");
    assert_eq!(found(eve_id).await, (None, false, String::new()));
    store.delete_user(ws.id, eve_id).await.expect("delete eve");
    assert_eq!(
        store
            .update_user(other.id, ids[1], UserUpdate::default())
            .await,
        Err(StoreError::NotFound(Entity::User))
    );
    // Pages in id order.
    let first = store.list_users(ws.id, None, 2).await.expect("page");
    assert_eq!(first.iter().map(|u| u.id).collect::<Vec<_>>(), ids[..2]);
    let rest = store
        .list_users(ws.id, Some(ids[1]), 2)
        .await
        .expect("page");
    assert_eq!(rest.iter().map(|u| u.id).collect::<Vec<_>>(), ids[2..]);
    assert!(
        store
            .list_users(other.id, None, 10)
            .await
            .expect("page")
            .is_empty()
    );
    // Removing a user leaves their groups with one member fewer.
    let g = store
        .insert_group(ws.id, group("Team", None))
        .await
        .expect("group");
    store
        .add_members(
            ws.id,
            g,
            ids.clone(),
            None,
            crate::store::OnExisting::Fail,
            1,
        )
        .await
        .expect("members");
    store.delete_user(ws.id, ids[0]).await.expect("delete");
    assert_eq!(
        store
            .find_user(ws.id, &UserRef::Id(ids[0]))
            .await
            .expect("find"),
        None
    );
    assert_eq!(
        store.delete_user(ws.id, ids[0]).await,
        Err(StoreError::NotFound(Entity::User))
    );
    let team = store
        .find_group(ws.id, &GroupRef::Id(g))
        .await
        .expect("find")
        .expect("team");
    assert_eq!(team.member_count, 2);
}

pub async fn users_are_found_many_at_once(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let other = store.create_workspace("other", 1).await.expect("workspace");
    let ada = store.insert_user(ws.id, user("ada")).await.expect("ada");
    let bob = store.insert_user(ws.id, user("bob")).await.expect("bob");
    let cy = store.insert_user(ws.id, user("cy")).await.expect("cy");
    let elsewhere = store.insert_user(other.id, user("dee")).await.expect("dee");
    let by = [
        UserRef::Id(ada),
        UserRef::Username("bob".into()),
        // Named twice, by two keys: found once.
        UserRef::Email("cy@example.org".into()),
        UserRef::Id(cy),
        UserRef::Username("nobody".into()),
        UserRef::Id(elsewhere),
        UserRef::Email("dee@example.org".into()),
    ];
    let mut found: Vec<UserId> = store
        .find_users(ws.id, &by)
        .await
        .expect("find")
        .iter()
        .map(|u| u.id)
        .collect();
    found.sort();
    assert_eq!(
        found,
        [ada, bob, cy],
        "each once, none of another workspace"
    );
    assert_eq!(store.find_users(ws.id, &[]).await.expect("none"), []);
}

/// An identity provider's user name that is not a username is kept under its
/// own unique key, found by it, and cleared; users without an email address
/// (empty) do not collide with each other.
pub async fn identity_provider_names_and_users_without_email(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let no_email = |name: &str, idp: Option<&str>| crate::store::NewUser {
        email: (String::new(), String::new()),
        idp_user_name: idp.map(|n| (n.to_string(), crate::domain::identifier::fold(n))),
        password_hash: String::new(),
        ..user(name)
    };
    let kim = store
        .insert_user(ws.id, no_email("kim", Some("Kim@Example.org")))
        .await
        .expect("kim");
    let lee = store
        .insert_user(ws.id, no_email("lee", None))
        .await
        .expect("a second user without an email address");
    let by_idp = UserRef::IdpName("kim@example.org".into());
    let found = store.find_user(ws.id, &by_idp).await.expect("find");
    assert_eq!(
        found
            .as_ref()
            .map(|u| (u.id, u.idp_user_name.as_deref(), u.email.as_str())),
        Some((kim, Some("Kim@Example.org"), ""))
    );
    assert_eq!(
        store
            .find_user(ws.id, &UserRef::Email(String::new()))
            .await
            .expect("find"),
        None,
        "an empty address names nobody"
    );
    let many = store
        .find_users(ws.id, &[by_idp.clone(), UserRef::Id(lee)])
        .await
        .expect("find many");
    let mut ids: Vec<UserId> = many.iter().map(|u| u.id).collect();
    ids.sort();
    assert_eq!(ids, [kim, lee]);
    assert_eq!(
        store
            .insert_user(ws.id, no_email("kim2", Some("KIM@example.org")))
            .await,
        Err(StoreError::UsernameTaken)
    );
    // Cleared, the name is free; an address is set and removed.
    let clear = UserUpdate {
        idp_user_name: Some(None),
        email: Some(("kim@example.org".into(), "kim@example.org".into())),
        now: 9,
        ..Default::default()
    };
    store.update_user(ws.id, kim, clear).await.expect("clear");
    assert_eq!(store.find_user(ws.id, &by_idp).await.expect("find"), None);
    let taken = UserUpdate {
        idp_user_name: Some(Some(("kim@example.org".into(), "kim@example.org".into()))),
        now: 10,
        ..Default::default()
    };
    store
        .update_user(ws.id, lee, taken)
        .await
        .expect("lee takes it");
    let unset = UserUpdate {
        email: Some((String::new(), String::new())),
        now: 11,
        ..Default::default()
    };
    store
        .update_user(ws.id, kim, unset)
        .await
        .expect("no address");
    let kim_now = store
        .find_user(ws.id, &UserRef::Id(kim))
        .await
        .expect("find")
        .expect("kim");
    assert_eq!((kim_now.email.as_str(), kim_now.idp_user_name), ("", None));
    let lee_now = store.find_user(ws.id, &by_idp).await.expect("find");
    assert_eq!(lee_now.map(|u| u.id), Some(lee));
}
