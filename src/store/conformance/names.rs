//! Conformance: The slug/username namespace and slug uniqueness.

use super::*;

pub async fn slugs_are_unique_per_workspace(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let other = store.create_workspace("other", 1).await.unwrap();
    let a = store
        .insert_group(ws.id, group("A", Some("Same")))
        .await
        .unwrap();
    assert_eq!(
        store.insert_group(ws.id, group("B", Some("same"))).await,
        Err(StoreError::SlugTaken)
    );
    store
        .insert_group(other.id, group("C", Some("same")))
        .await
        .unwrap();
    // Groups without slugs never collide.
    store.insert_group(ws.id, group("D", None)).await.unwrap();
    let e = store.insert_group(ws.id, group("E", None)).await.unwrap();
    assert!(store.name_taken(ws.id, "same", None).await.unwrap());
    assert!(
        !store
            .name_taken(ws.id, "same", Some(NameHolder::Group(a)))
            .await
            .unwrap()
    );
    let to_same = GroupUpdate {
        slug: Some(Some(clean_slug("SAME").unwrap())),
        ..Default::default()
    };
    assert_eq!(
        store.update_group(ws.id, e, to_same.clone()).await,
        Err(StoreError::SlugTaken)
    );
    // Clearing the slug frees it.
    let clear = GroupUpdate {
        slug: Some(None),
        ..Default::default()
    };
    store.update_group(ws.id, a, clear).await.unwrap();
    store.update_group(ws.id, e, to_same).await.unwrap();
    let found = store
        .find_group(ws.id, &by_slug("same"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, e);
}

pub async fn concurrent_inserts_keep_slugs_unique(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .insert_group(
                    ws.id,
                    group(
                        &format!("G{i}"),
                        Some(if i % 2 == 0 { "race" } else { "RACE" }),
                    ),
                )
                .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert_eq!(e, StoreError::SlugTaken),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(own_groups(&store, &ws).await.len(), 1);
}

pub async fn slugs_and_usernames_share_one_namespace(store: Arc<dyn Store>) {
    use crate::domain::user::UserRef;
    use crate::store::UserUpdate;
    let ws = default_ws(&store).await;
    let ada = store.insert_user(ws.id, user("Ada")).await.unwrap();
    // A username blocks the slug, whatever its case, and the other way round.
    assert_eq!(
        store.insert_group(ws.id, group("G", Some("ADA"))).await,
        Err(StoreError::SlugTaken)
    );
    let team = store
        .insert_group(ws.id, group("Team", Some("Team")))
        .await
        .unwrap();
    assert_eq!(
        store.insert_user(ws.id, user("team")).await,
        Err(StoreError::UsernameTaken)
    );
    let to_team = UserUpdate {
        username: Some(("TEAM".into(), "team".into())),
        ..Default::default()
    };
    assert_eq!(
        store.update_user(ws.id, ada, to_team.clone()).await,
        Err(StoreError::UsernameTaken)
    );
    let slug_ada = GroupUpdate {
        slug: Some(Some(clean_slug("Ada").unwrap())),
        ..Default::default()
    };
    assert_eq!(
        store.update_group(ws.id, team, slug_ada.clone()).await,
        Err(StoreError::SlugTaken)
    );
    assert!(store.name_taken(ws.id, "ada", None).await.unwrap());
    assert!(store.name_taken(ws.id, "team", None).await.unwrap());
    assert!(
        !store
            .name_taken(ws.id, "ada", Some(NameHolder::User(ada)))
            .await
            .unwrap()
    );
    assert!(
        store
            .name_taken(ws.id, "ada", Some(NameHolder::Group(team)))
            .await
            .unwrap()
    );
    assert!(
        !store
            .name_taken(ws.id, "team", Some(NameHolder::Group(team)))
            .await
            .unwrap()
    );
    // Refused writes changed nothing.
    let found = store
        .find_user(ws.id, &UserRef::Username("ada".into()))
        .await
        .unwrap();
    assert_eq!(found.map(|u| u.id), Some(ada));
    // Another workspace has its own names.
    let other = store.create_workspace("other", 1).await.unwrap();
    store
        .insert_group(other.id, group("G", Some("ada")))
        .await
        .unwrap();
    store.insert_user(other.id, user("team")).await.unwrap();

    // A new username frees the old one; a user may keep their own name.
    let to_ada2 = UserUpdate {
        username: Some(("Ada2".into(), "ada2".into())),
        ..Default::default()
    };
    store.update_user(ws.id, ada, to_ada2).await.unwrap();
    let same = UserUpdate {
        username: Some(("ADA2".into(), "ada2".into())),
        ..Default::default()
    };
    store.update_user(ws.id, ada, same).await.unwrap();
    // A changed slug frees the old one, and a group may keep its own (new case).
    store.update_group(ws.id, team, slug_ada).await.unwrap();
    let recase = GroupUpdate {
        slug: Some(Some(clean_slug("ADA").unwrap())),
        ..Default::default()
    };
    store.update_group(ws.id, team, recase).await.unwrap();
    store.update_user(ws.id, ada, to_team).await.unwrap();
    assert!(
        store
            .insert_group(ws.id, group("H", Some("ada2")))
            .await
            .is_ok(),
        "the user's old name is free"
    );
    // Clearing a slug frees it.
    let clear = GroupUpdate {
        slug: Some(None),
        ..Default::default()
    };
    store.update_group(ws.id, team, clear).await.unwrap();
    let bob = crate::store::NewUser {
        email: ("bob@example.org".into(), "bob@example.org".into()),
        ..user("ada")
    };
    let bob = store.insert_user(ws.id, bob).await.unwrap();
    // Removing a user or a group frees its name.
    store.delete_user(ws.id, bob).await.unwrap();
    let g = store
        .insert_group(ws.id, group("I", Some("ada")))
        .await
        .unwrap();
    store.delete_groups(ws.id, &[g], None).await.unwrap();
    let cy = crate::store::NewUser {
        email: ("cy@example.org".into(), "cy@example.org".into()),
        ..user("Ada")
    };
    store.insert_user(ws.id, cy).await.unwrap();
    assert!(!store.name_taken(ws.id, "nobody", None).await.unwrap());
}

/// A user and a group given one name at the same moment: the database lets
/// exactly one of them have it, every time.
pub async fn a_username_and_a_slug_raced_share_one_namespace(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let rounds = 200;
    let mut users = 0;
    for i in 0..rounds {
        let name = format!("racer{i}");
        let (s1, s2) = (store.clone(), store.clone());
        let u = tokio::spawn({
            let name = name.clone();
            async move { s1.insert_user(ws.id, user(&name)).await }
        });
        let g = tokio::spawn(async move { s2.insert_group(ws.id, group("R", Some(&name))).await });
        let (u, g) = (u.await.unwrap(), g.await.unwrap());
        match (&u, &g) {
            (Ok(_), Err(StoreError::SlugTaken)) => users += 1,
            (Err(StoreError::UsernameTaken), Ok(_)) => {}
            _ => panic!("round {i}: user {u:?}, group {g:?}: exactly one must win"),
        }
    }
    assert_eq!(own_groups(&store, &ws).await.len(), rounds - users);
}
