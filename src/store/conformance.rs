//! The behaviour every [`Store`] engine must show, written once. An engine's test
//! file names a function that makes a fresh, empty store and invokes
//! [`store_conformance_tests!`](crate::store_conformance_tests), which expands to
//! one `#[tokio::test]` per case below.

use super::{
    Entity, GroupQuery, GroupUpdate, IconImage, IdempotencyClaim, NameHolder, NewApiKey, NewClaim,
    NewGroup, Store, StoreError,
};
use crate::domain::field::{FieldKind, NewFieldDef};
use crate::domain::group::{Builtin, GroupId, GroupRef};
use crate::domain::policy::{GroupPolicy, Limit, LimitKind, Period, PolicyPatch};
use crate::domain::slug::clean_slug;
use crate::domain::user::GroupRole;
use crate::domain::workspace::Workspace;
use std::sync::Arc;

/// Expands to one test per conformance case, each on a fresh store from `$make`
/// (an async fn returning `Arc<dyn Store>`, or a guard that derefs to one).
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:path) => {
        $crate::store_conformance_tests!(@cases $make;
            bootstrap_creates_the_default_workspace_once,
            workspaces_have_unique_names_and_category_one,
            api_keys_are_found_listed_and_revoked,
            categories_count_per_workspace_and_removal_moves_groups,
            custom_fields_take_ids_and_removal_drops_values,
            groups_round_trip_every_column,
            slugs_are_unique_per_workspace,
            updates_change_only_what_they_carry,
            removing_a_group_removes_its_icon_and_values,
            icons_are_found_by_token_only,
            unknown_references_write_nothing,
            workspaces_are_isolated,
            group_ids_are_never_reused,
            concurrent_inserts_keep_slugs_unique,
            groups_list_in_pages,
            every_workspace_has_locked_builtin_groups,
            removing_several_groups_is_all_or_nothing,
            policy_patches_apply_inside_the_write,
            member_roles_come_for_a_whole_page,
            slugs_and_usernames_share_one_namespace,
            a_username_and_a_slug_raced_share_one_namespace,
            idempotency_claims_end_or_lapse,
            a_lapsed_claim_is_taken_over_once,
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store = $make().await;
                $crate::store::conformance::$case(store.clone()).await;
            }
        )*
    };
}

/// An icon with a token made from `n` (32 hex digits, as the service makes them).
pub fn icon_image(n: u128, data: Vec<u8>) -> IconImage {
    IconImage {
        content_type: "image/png".into(),
        data,
        token: format!("{n:032x}"),
    }
}

/// A plain group to insert: category 1, no flags, no custom fields.
pub fn group(name: &str, slug: Option<&str>) -> NewGroup {
    NewGroup {
        name: name.to_string(),
        slug: slug.map(|s| clean_slug(s).expect("valid slug")),
        description: String::new(),
        category_id: 1,
        secret: false,
        unleavable: false,
        pinned: false,
        password_hash: None,
        icon: None,
        custom_fields: Vec::new(),
        policy: GroupPolicy::default(),
        now: 1_700_000_000,
    }
}

/// The workspace's groups other than the built-in ones.
async fn own_groups(store: &Arc<dyn Store>, ws: &Workspace) -> Vec<crate::domain::group::Group> {
    store
        .list_groups(ws.id, None, 1000)
        .await
        .expect("list")
        .into_iter()
        .filter(|g| g.builtin.is_none())
        .collect()
}

/// Bootstraps the store and returns its default workspace.
pub async fn default_ws(store: &Arc<dyn Store>) -> Workspace {
    store.bootstrap(1).await.expect("bootstrap");
    store
        .find_workspace("default")
        .await
        .expect("find")
        .expect("default workspace")
}

async fn short_text_field(store: &Arc<dyn Store>, ws: &Workspace, id: i64) {
    let def = NewFieldDef {
        id: Some(id),
        name: "F".into(),
        kind: FieldKind::ShortText,
        options: vec![],
    };
    store
        .create_field(ws.id, def, 1)
        .await
        .expect("create field");
}

/// A user to insert, named `username` (its key is the lower-case form).
pub fn user(username: &str) -> super::NewUser {
    super::NewUser {
        full_name: username.to_string(),
        username: (username.to_string(), username.to_lowercase()),
        email: (
            format!("{username}@example.org"),
            format!("{}@example.org", username.to_lowercase()),
        ),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        now: 1,
    }
}

fn by_slug(s: &str) -> GroupRef {
    GroupRef::Slug(s.to_lowercase())
}

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
    assert!(matches!(
        store.delete_category(ws.id, 1).await,
        Err(StoreError::Refused(_))
    ));
}

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
    assert!(matches!(
        store.revoke_api_key("ZZZZZZZZ", 9).await,
        Err(StoreError::NotFound(_))
    ));
}

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
    // Ids are not reused after removal.
    assert_eq!(store.create_category(ws.id, "D", 1).await.unwrap().id, 4);
}

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

pub async fn groups_round_trip_every_column(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    store.create_category(ws.id, "Two", 1).await.unwrap();
    store
        .create_field(
            ws.id,
            NewFieldDef {
                id: Some(4),
                name: "F".into(),
                kind: FieldKind::LongText,
                options: vec![],
            },
            1,
        )
        .await
        .unwrap();
    store
        .create_field(
            ws.id,
            NewFieldDef {
                id: Some(12),
                name: "G".into(),
                kind: FieldKind::ShortText,
                options: vec![],
            },
            1,
        )
        .await
        .unwrap();
    let icon = icon_image(0x5eed, vec![0, 1, 2, 255]);
    let new = NewGroup {
        name: "Ünïcode & <friends>".into(),
        slug: Some(clean_slug("Mixed-Case").unwrap()),
        description: "line\nbreak".into(),
        category_id: 2,
        secret: true,
        unleavable: true,
        pinned: true,
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        icon: Some(icon.clone()),
        custom_fields: vec![
            (4, "value\nwith lines".into()),
            (12, "\"quoted\" \\ back\\slash, \u{1F600} and tab\t".into()),
        ],
        policy: {
            let mut p = GroupPolicy::default();
            p.apply(&PolicyPatch {
                permissions: vec![("list_add".into(), true), ("user_edit".into(), true)],
                limits: vec![(
                    LimitKind::Mail,
                    Some(Limit {
                        amount: 67,
                        period: Some(Period::Month1st),
                    }),
                )],
                unsubscribe_link: Some(true),
                abuse_ratio: Some(9),
                lists: Some(vec![1, 22]),
                send_methods: Some(vec![2]),
            });
            p
        },
        now: 1_700_000_123,
    };
    let id = store.insert_group(ws.id, new).await.unwrap();
    let g = store
        .find_group(ws.id, &by_slug("MIXED-case"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g.id, id);
    assert_eq!(g.workspace, ws.id);
    assert_eq!(g.name, "Ünïcode & <friends>");
    assert_eq!(g.slug.as_deref(), Some("Mixed-Case"));
    assert_eq!(g.description, "line\nbreak");
    assert_eq!(g.category_id, 2);
    assert!(g.secret && g.unleavable && g.pinned && g.has_icon());
    assert_eq!(
        g.password_hash.as_deref(),
        Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
    );
    assert_eq!(
        g.custom_fields.get(&4).map(String::as_str),
        Some("value\nwith lines")
    );
    assert_eq!((g.created_at, g.updated_at), (1_700_000_123, 1_700_000_123));
    assert!(g.policy.has("list_add") && g.policy.has("user_edit") && !g.policy.has("user_add"));
    assert_eq!(
        g.policy
            .limits
            .get(&LimitKind::Mail)
            .map(|l| (l.amount, l.period)),
        Some((67, Some(Period::Month1st)))
    );
    assert!(g.policy.unsubscribe_link);
    assert_eq!(
        (
            g.policy.abuse_ratio,
            g.policy.lists.clone(),
            g.policy.send_methods.clone()
        ),
        (9, vec![1, 22], vec![2])
    );
    assert_eq!(g.builtin, None);
    // List pages carry the same group, custom field values included, byte for byte.
    let page = store
        .query_groups(
            ws.id,
            &GroupQuery {
                category: None,
                name_prefix: None,
                secret: None,
                visible_to: None,
                after: None,
                limit: 50,
            },
        )
        .await
        .unwrap();
    assert_eq!(page.iter().find(|p| p.id == id), Some(&g));
    let listed = store.list_groups(ws.id, None, 50).await.unwrap();
    assert_eq!(listed.iter().find(|p| p.id == id), Some(&g));
    assert_eq!(g.icon_token.as_deref(), Some(icon.token.as_str()));
    assert_eq!(store.icon_by_token(&icon.token).await.unwrap(), Some(icon));
    let plain = store
        .insert_group(ws.id, group("Plain", None))
        .await
        .unwrap();
    let plain = store
        .find_group(ws.id, &GroupRef::Id(plain))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(plain.icon_token, None);
}

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

pub async fn updates_change_only_what_they_carry(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    short_text_field(&store, &ws, 1).await;
    let mut g = group("Name", Some("slug"));
    g.password_hash = Some("hash".into());
    g.custom_fields = vec![(1, "v".into())];
    g.icon = Some(icon_image(1, vec![1]));
    let id = store.insert_group(ws.id, g).await.unwrap();
    let before = store
        .find_group(ws.id, &GroupRef::Id(id))
        .await
        .unwrap()
        .unwrap();
    store
        .update_group(
            ws.id,
            id,
            GroupUpdate {
                pinned: Some(true),
                now: 1_800_000_000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let after = store
        .find_group(ws.id, &GroupRef::Id(id))
        .await
        .unwrap()
        .unwrap();
    assert!(after.pinned);
    assert_eq!(after.updated_at, 1_800_000_000);
    let mut expected = before.clone();
    expected.pinned = true;
    expected.updated_at = 1_800_000_000;
    assert_eq!(after, expected);
    store
        .update_group(
            ws.id,
            id,
            GroupUpdate {
                password_hash: Some(None),
                icon: Some(None),
                custom_fields: vec![(1, None)],
                description: Some("d".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let after = store
        .find_group(ws.id, &GroupRef::Id(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.password_hash, None);
    assert!(!after.has_icon());
    assert!(after.custom_fields.is_empty());
    assert_eq!(after.description, "d");
    assert_eq!(after.name, "Name");
    assert_eq!(after.slug.as_deref(), Some("slug"));
}

pub async fn removing_a_group_removes_its_icon_and_values(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    short_text_field(&store, &ws, 1).await;
    let mut g = group("Gone", Some("gone"));
    g.custom_fields = vec![(1, "v".into())];
    g.icon = Some(icon_image(1, vec![1]));
    let id = store.insert_group(ws.id, g).await.unwrap();
    store.delete_groups(ws.id, &[id], None).await.unwrap();
    assert_eq!(
        store.icon_by_token(&icon_image(1, vec![]).token).await,
        Ok(None)
    );
    assert_eq!(
        store.find_group(ws.id, &GroupRef::Id(id)).await.unwrap(),
        None
    );
    assert_eq!(
        store.delete_groups(ws.id, &[id], None).await,
        Err(StoreError::NotFound(Entity::Group))
    );
    // The field can be removed: no values of the removed group hold it.
    store.delete_field(ws.id, 1).await.unwrap();
}

pub async fn unknown_references_write_nothing(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let mut g = group("Bad category", Some("bad"));
    g.category_id = 42;
    assert_eq!(
        store.insert_group(ws.id, g).await,
        Err(StoreError::UnknownCategory(42))
    );
    let mut g = group("Bad field", Some("bad"));
    g.custom_fields = vec![(5, "x".into())];
    assert_eq!(
        store.insert_group(ws.id, g).await,
        Err(StoreError::UnknownField(5))
    );
    assert!(own_groups(&store, &ws).await.is_empty());
    let id = store.insert_group(ws.id, group("Ok", None)).await.unwrap();
    let bad = GroupUpdate {
        name: Some("Changed".into()),
        category_id: Some(42),
        ..Default::default()
    };
    assert_eq!(
        store.update_group(ws.id, id, bad).await,
        Err(StoreError::UnknownCategory(42))
    );
    let g = store
        .find_group(ws.id, &GroupRef::Id(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g.name, "Ok");
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

pub async fn group_ids_are_never_reused(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let a = store.insert_group(ws.id, group("A", None)).await.unwrap();
    let b = store.insert_group(ws.id, group("B", None)).await.unwrap();
    store.delete_groups(ws.id, &[b], None).await.unwrap();
    let c = store.insert_group(ws.id, group("C", None)).await.unwrap();
    assert!(a < b && b < c, "{a:?} {b:?} {c:?}");
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

pub async fn groups_list_in_pages(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let mut ids: Vec<GroupId> = store
        .list_groups(ws.id, None, 100)
        .await
        .unwrap()
        .iter()
        .map(|g| g.id)
        .collect();
    for i in 0..7 {
        ids.push(
            store
                .insert_group(ws.id, group(&format!("G{i}"), None))
                .await
                .unwrap(),
        );
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_groups(ws.id, after, 3).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|g| g.id);
        seen.extend(page.into_iter().map(|g| g.id));
    }
    assert_eq!(seen, ids);
}

pub async fn every_workspace_has_locked_builtin_groups(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let other = store.create_workspace("other", 1).await.unwrap();
    for w in [&ws, &other] {
        let builtins: Vec<_> = store
            .list_groups(w.id, None, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|g| g.builtin.is_some())
            .collect();
        let kinds: Vec<Option<Builtin>> = builtins.iter().map(|g| g.builtin).collect();
        assert_eq!(
            kinds,
            [
                Some(Builtin::Visitor),
                Some(Builtin::User),
                Some(Builtin::Admin)
            ]
        );
        assert_eq!(builtins[2].name, "Admin");
        assert!(builtins[2].policy.has("user_delete"));
        assert!(!builtins[0].policy.has("user_delete"));
        for b in &builtins {
            assert!(b.secret);
            assert_eq!(
                store.delete_groups(w.id, &[b.id], None).await,
                Err(StoreError::BuiltinGroup(b.id.0))
            );
        }
    }
    // The default workspace's built-ins are its first three groups, as in ActiveCampaign.
    let first: Vec<i64> = store
        .list_groups(ws.id, None, 3)
        .await
        .unwrap()
        .iter()
        .map(|g| g.id.0)
        .collect();
    assert_eq!(first, [1, 2, 3]);
}

pub async fn removing_several_groups_is_all_or_nothing(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let a = store.insert_group(ws.id, group("A", None)).await.unwrap();
    let b = store.insert_group(ws.id, group("B", None)).await.unwrap();
    let c = store.insert_group(ws.id, group("C", None)).await.unwrap();
    let admin = store
        .list_groups(ws.id, None, 10)
        .await
        .unwrap()
        .into_iter()
        .find(|g| g.builtin == Some(Builtin::Admin))
        .unwrap()
        .id;
    assert_eq!(
        store.delete_groups(ws.id, &[a, GroupId(9_999)], None).await,
        Err(StoreError::NotFound(Entity::Group))
    );
    assert_eq!(
        store.delete_groups(ws.id, &[a, admin], None).await,
        Err(StoreError::BuiltinGroup(admin.0))
    );
    assert_eq!(
        store.delete_groups(ws.id, &[a], Some(GroupId(9_999))).await,
        Err(StoreError::NotFound(Entity::Group))
    );
    assert!(matches!(
        store.delete_groups(ws.id, &[a, b], Some(b)).await,
        Err(StoreError::Refused(_))
    ));
    assert_eq!(
        own_groups(&store, &ws).await.len(),
        3,
        "a refused removal removed something"
    );
    store.delete_groups(ws.id, &[a, b], Some(c)).await.unwrap();
    let left: Vec<GroupId> = own_groups(&store, &ws).await.iter().map(|g| g.id).collect();
    assert_eq!(left, [c]);
}

pub async fn policy_patches_apply_inside_the_write(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let id = store.insert_group(ws.id, group("P", None)).await.unwrap();
    // Concurrent patches of different permissions must all land.
    let mut tasks = Vec::new();
    for name in [
        "list_add",
        "list_edit",
        "list_delete",
        "message_send",
        "user_add",
    ] {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let patch = GroupUpdate {
                policy: PolicyPatch {
                    permissions: vec![(name.to_string(), true)],
                    ..Default::default()
                },
                ..Default::default()
            };
            store.update_group(ws.id, id, patch).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let g = store
        .find_group(ws.id, &GroupRef::Id(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g.policy.permissions.len(), 5);
    let limit = GroupUpdate {
        policy: PolicyPatch {
            limits: vec![(
                LimitKind::User,
                Some(Limit {
                    amount: 12,
                    period: None,
                }),
            )],
            ..Default::default()
        },
        ..Default::default()
    };
    store.update_group(ws.id, id, limit).await.unwrap();
    let g = store
        .find_group(ws.id, &GroupRef::Id(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g.policy.member_limit(), Some(12));
    assert_eq!(g.policy.permissions.len(), 5);
}

pub async fn member_roles_come_for_a_whole_page(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let user = store
        .insert_user(
            ws.id,
            super::NewUser {
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
            .add_members(ws.id, g, vec![user], Some(role), super::OnExisting::Fail, 2)
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

pub async fn slugs_and_usernames_share_one_namespace(store: Arc<dyn Store>) {
    use super::UserUpdate;
    use crate::domain::user::UserRef;
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
    let bob = super::NewUser {
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
    let cy = super::NewUser {
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

/// A claim on an idempotency key made at `now_ms` with a lease of `lease_ms`.
fn claim(token: i64, hash: &[u8], now_ms: i64, lease_ms: i64) -> NewClaim {
    NewClaim {
        request_hash: hash.to_vec(),
        token,
        now: now_ms / 1000,
        since: now_ms / 1000 - 86_400,
        now_ms,
        lease_until_ms: now_ms + lease_ms,
    }
}

pub async fn idempotency_claims_end_or_lapse(store: Arc<dyn Store>) {
    use IdempotencyClaim::*;
    let ws = default_ws(&store).await.id;
    let t = 1_700_000_000_000;
    let in_progress = InProgress {
        request_hash: b"h".to_vec(),
    };
    assert_eq!(
        store
            .claim_idempotency_key(ws, "k", claim(1, b"h", t, 1000))
            .await,
        Ok(Claimed)
    );
    // Held: another claim within the lease is told so, whatever its request.
    for (at, hash) in [(t + 1, b"h"), (t + 1000, b"h"), (t + 500, b"x")] {
        let r = store
            .claim_idempotency_key(ws, "k", claim(2, hash, at, 1000))
            .await;
        let hash_held = if hash == b"x" { b"h" } else { hash };
        assert_eq!(
            r,
            Ok(InProgress {
                request_hash: hash_held.to_vec()
            })
        );
    }
    // Only the holder renews: the lease moves on.
    assert_eq!(
        store.renew_idempotency_key(ws, "k", 2, t + 5000).await,
        Ok(false)
    );
    assert_eq!(
        store.renew_idempotency_key(ws, "k", 1, t + 5000).await,
        Ok(true)
    );
    assert_eq!(
        store
            .claim_idempotency_key(ws, "k", claim(3, b"h", t + 4000, 1000))
            .await,
        Ok(in_progress.clone())
    );
    // Past the lease, the next claim takes the key over, and the old holder can
    // neither renew, answer nor release it any more.
    assert_eq!(
        store
            .claim_idempotency_key(ws, "k", claim(4, b"h2", t + 5001, 1000))
            .await,
        Ok(Claimed)
    );
    assert_eq!(
        store.renew_idempotency_key(ws, "k", 1, t + 9000).await,
        Ok(false)
    );
    assert_eq!(
        store
            .finish_idempotency_key(ws, "k", 1, 201, "old".into())
            .await,
        Ok(false)
    );
    store.abort_idempotency_key(ws, "k", 1).await.unwrap();
    assert_eq!(
        store
            .claim_idempotency_key(ws, "k", claim(5, b"h2", t + 5002, 1000))
            .await,
        Ok(InProgress {
            request_hash: b"h2".to_vec()
        })
    );
    // The holder's answer is kept, and given to every later claim, lease or not.
    assert_eq!(
        store
            .finish_idempotency_key(ws, "k", 4, 201, "{}".into())
            .await,
        Ok(true)
    );
    let done = Done {
        request_hash: b"h2".to_vec(),
        status: 201,
        body: "{}".into(),
    };
    for at in [t + 5003, t + 60_000_000] {
        assert_eq!(
            store
                .claim_idempotency_key(ws, "k", claim(6, b"h2", at, 1000))
                .await,
            Ok(done.clone())
        );
    }
    assert_eq!(store.abort_idempotency_key(ws, "k", 4).await, Ok(()));
    assert_eq!(
        store
            .finish_idempotency_key(ws, "k", 4, 500, "again".into())
            .await,
        Ok(false)
    );
    assert_eq!(
        store
            .claim_idempotency_key(ws, "k", claim(6, b"h2", t + 6000, 1000))
            .await,
        Ok(done)
    );
    // A released claim frees the key at once.
    assert_eq!(
        store
            .claim_idempotency_key(ws, "r", claim(7, b"h", t, 1000))
            .await,
        Ok(Claimed)
    );
    store.abort_idempotency_key(ws, "r", 7).await.unwrap();
    assert_eq!(
        store
            .claim_idempotency_key(ws, "r", claim(8, b"h", t + 1, 1000))
            .await,
        Ok(Claimed)
    );
    // Answers older than the retention count as absent.
    let late = claim(9, b"h", t + 2 * 86_400_000, 1000);
    assert_eq!(
        store.claim_idempotency_key(ws, "k", late).await,
        Ok(Claimed)
    );
}

/// Retries racing for a lapsed claim: exactly one takes it over, every round.
pub async fn a_lapsed_claim_is_taken_over_once(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await.id;
    let t = 1_700_000_000_000;
    for round in 0..20 {
        let key = format!("k{round}");
        assert_eq!(
            store
                .claim_idempotency_key(ws, &key, claim(1, b"h", t, 1000))
                .await,
            Ok(IdempotencyClaim::Claimed)
        );
        let mut tasks = Vec::new();
        for token in 2..12 {
            let (store, key) = (store.clone(), key.clone());
            tasks.push(tokio::spawn(async move {
                let c = claim(token, b"h", t + 2000, 1000);
                store.claim_idempotency_key(ws, &key, c).await
            }));
        }
        let mut won = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(IdempotencyClaim::Claimed) => won += 1,
                Ok(IdempotencyClaim::InProgress { .. }) => {}
                other => panic!("round {round}: {other:?}"),
            }
        }
        assert_eq!(won, 1, "round {round}");
    }
}

pub async fn icons_are_found_by_token_only(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let other = store.create_workspace("other", 1).await.unwrap();
    let first = icon_image(0xa1, vec![1, 1]);
    let mut g = group("Pictured", None);
    g.icon = Some(first.clone());
    let id = store.insert_group(ws.id, g).await.unwrap();
    // Another workspace's icon is found by its token as well: the route is global.
    let theirs = icon_image(0xb2, vec![2, 2]);
    let mut g = group("Theirs", None);
    g.icon = Some(theirs.clone());
    store.insert_group(other.id, g).await.unwrap();
    assert_eq!(
        store.icon_by_token(&first.token).await,
        Ok(Some(first.clone()))
    );
    assert_eq!(store.icon_by_token(&theirs.token).await, Ok(Some(theirs)));
    assert_eq!(
        store.icon_by_token(&format!("{:032x}", 0xc3)).await,
        Ok(None)
    );
    assert_eq!(store.icon_by_token("").await, Ok(None));
    // A new icon comes with a new token; the old one finds nothing any more.
    let second = icon_image(0xd4, vec![3, 3]);
    store
        .update_group(
            ws.id,
            id,
            GroupUpdate {
                icon: Some(Some(second.clone())),
                now: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(store.icon_by_token(&first.token).await, Ok(None));
    assert_eq!(
        store.icon_by_token(&second.token).await,
        Ok(Some(second.clone()))
    );
    let found = store
        .find_group(ws.id, &GroupRef::Id(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.icon_token, Some(second.token.clone()));
    // Cleared: no token, nothing served.
    store
        .update_group(
            ws.id,
            id,
            GroupUpdate {
                icon: Some(None),
                now: 3,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(store.icon_by_token(&second.token).await, Ok(None));
}

// Re-keying rows stored before identifier keys were normalised (see
// `store::rekey`). Engines build the old state with SQL of their own (an older
// schema version), so these are helpers for their test files, not macro cases.

/// Rows as a groupd before normalised keys stored them: each key is the plain lower
/// case of its value. Plain SQL both engines accept. Needs the default workspace
/// (id 1) with the rows [`old_key_holders`] makes.
pub fn old_key_rows() -> String {
    let policy = serde_json::to_string(&GroupPolicy::default()).expect("policy");
    format!(
        "INSERT INTO groups (id, workspace_id, name, name_key, slug, slug_key, category_id,
    created_at, updated_at, policy) VALUES
    (901, 1, 'Cafe', 'cafe', '\u{ff43}\u{ff41}\u{ff46}\u{e9}', '\u{ff43}\u{ff41}\u{ff46}\u{e9}', 1, 1, 1, '{policy}'),
    (902, 1, 'Cafe 2', 'cafe 2', 'cafe\u{301}', 'cafe\u{301}', 1, 1, 1, '{policy}'),
    (903, 1, 'Ada', 'ada', '\u{ff41}\u{ff44}\u{ff41}', '\u{ff41}\u{ff44}\u{ff41}', 1, 1, 1, '{policy}'),
    (904, 1, 'Team 2', 'team 2', '\u{ff34}\u{ff45}\u{ff41}\u{ff4d}', '\u{ff54}\u{ff45}\u{ff41}\u{ff4d}', 1, 1, 1, '{policy}');
{OLD_KEY_USERS}"
    )
}

const OLD_KEY_USERS: &str = "
INSERT INTO names (workspace_id, name_key, group_id) VALUES
    (1, '\u{ff43}\u{ff41}\u{ff46}\u{e9}', 901), (1, 'cafe\u{301}', 902),
    (1, '\u{ff41}\u{ff44}\u{ff41}', 903), (1, '\u{ff54}\u{ff45}\u{ff41}\u{ff4d}', 904);
INSERT INTO users (id, workspace_id, full_name, username, username_key, email, email_key,
    password_hash, created_at, updated_at) VALUES
    (901, 1, 'Bob', '\u{ff22}\u{ff2f}\u{ff22}', '\u{ff42}\u{ff4f}\u{ff42}',
        '\u{ff4b}\u{ff41}\u{ff54}\u{ff45}@example.org', '\u{ff4b}\u{ff41}\u{ff54}\u{ff45}@example.org', 'h', 1, 1),
    (902, 1, 'Strasse', 'strasse', 'strasse', 'Stra\u{df}e@Example.de', 'stra\u{df}e@example.de', 'h', 1, 1),
    (903, 1, 'Kim 2', 'kim2', 'kim2', '\u{ff2b}\u{ff29}\u{ff2d}@example.org', '\u{ff4b}\u{ff49}\u{ff4d}@example.org', 'h', 1, 1);
INSERT INTO names (workspace_id, name_key, user_id) VALUES
    (1, '\u{ff42}\u{ff4f}\u{ff42}', 901), (1, 'strasse', 902), (1, 'kim2', 903);
";

/// The rows stored with normalised keys that some of [`old_key_rows`] fold onto:
/// the user `ada`, the user `kim` (`kim@example.org`) and the group `team`. Returns
/// their ids (ada, kim, team).
pub async fn old_key_holders(
    store: &Arc<dyn Store>,
) -> (
    crate::domain::user::UserId,
    crate::domain::user::UserId,
    GroupId,
) {
    let ws = default_ws(store).await.id;
    let ada = store.insert_user(ws, user("ada")).await.expect("ada");
    let kim = store.insert_user(ws, user("kim")).await.expect("kim");
    let team = store
        .insert_group(ws, group("Team", Some("team")))
        .await
        .expect("team");
    (ada, kim, team)
}

/// After a re-key of [`old_key_rows`]: keys are the domain's, look-ups by the
/// folded ASCII form find the rows, and each collision left both rows, the holder
/// (or the older row) on the key and the other on its old key.
pub async fn old_keys_are_rekeyed(
    store: &Arc<dyn Store>,
    holders: (
        crate::domain::user::UserId,
        crate::domain::user::UserId,
        GroupId,
    ),
) {
    use crate::domain::user::{UserId, UserRef};
    let (ada, kim, team) = holders;
    let ws = default_ws(store).await.id;
    let group_by = |raw: &'static str| {
        let store = store.clone();
        async move {
            let by = GroupRef::parse(raw).expect("reference");
            store.find_group(ws, &by).await.expect("find").map(|g| g.id)
        }
    };
    let user_by = |raw: &'static str| {
        let store = store.clone();
        async move {
            let by = UserRef::parse(raw).expect("reference");
            store.find_user(ws, &by).await.expect("find").map(|u| u.id)
        }
    };
    // Re-keyed, found by the typed form and by its folded ASCII form.
    assert_eq!(group_by("CAF\u{c9}").await, Some(GroupId(901)));
    assert_eq!(
        group_by("\u{ff43}\u{ff41}\u{ff46}\u{e9}").await,
        Some(GroupId(901))
    );
    assert_eq!(user_by("bob").await, Some(UserId(901)));
    assert_eq!(user_by("\u{ff22}\u{ff2f}\u{ff22}").await, Some(UserId(901)));
    assert_eq!(user_by("KATE@example.org").await, Some(UserId(901)));
    assert_eq!(user_by("strasse@example.de").await, Some(UserId(902)));
    // The namespace moved with them.
    let taken = |key: &'static str, except| {
        let store = store.clone();
        async move { store.name_taken(ws, key, except).await.expect("name") }
    };
    assert!(taken("caf\u{e9}", None).await);
    assert!(!taken("caf\u{e9}", Some(NameHolder::Group(GroupId(901)))).await);
    assert!(taken("bob", None).await);
    assert!(!taken("bob", Some(NameHolder::User(UserId(901)))).await);
    assert!(!taken("\u{ff42}\u{ff4f}\u{ff42}", None).await);
    // Collisions: the holder keeps the key, the other row stays, on its old key.
    // 902 (`cafe` + U+0301) folds to `café` like the older 901.
    assert_eq!(group_by("cafe\u{301}").await, Some(GroupId(901)));
    assert!(taken("cafe\u{301}", None).await);
    // 903 (fullwidth `ada`) folds to the username `ada`.
    assert_eq!(group_by("ada").await, None);
    assert!(!taken("ada", Some(NameHolder::User(ada))).await);
    // 904 (fullwidth `Team`) folds to the slug of `team`.
    assert_eq!(group_by("team").await, Some(team));
    assert!(!taken("team", Some(NameHolder::Group(team))).await);
    // User 903's fullwidth email folds to kim's.
    assert_eq!(user_by("kim@example.org").await, Some(kim));
    for id in [902, 903, 904] {
        assert_eq!(
            store
                .find_group(ws, &GroupRef::Id(GroupId(id)))
                .await
                .expect("find")
                .map(|g| g.id),
            Some(GroupId(id))
        );
    }
    assert_eq!(
        user_by("903").await,
        Some(UserId(903)),
        "the colliding user is kept"
    );
}

/// What is logged through a [`tracing::Dispatch`], as text, for checking log lines.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<std::sync::Mutex<Vec<u8>>>);

impl LogCapture {
    /// A subscriber writing here, without colour codes, every level.
    pub fn dispatch(&self) -> tracing::Dispatch {
        let sink = self.clone();
        let dispatch = tracing::Dispatch::new(
            tracing_subscriber::fmt()
                .with_writer(move || sink.clone())
                .with_ansi(false)
                .with_max_level(tracing::Level::TRACE)
                .finish(),
        );
        // Tests run side by side, each with its own scoped subscriber; a callsite
        // first hit on a thread without one may have cached "not interested".
        // Ask every callsite again now that this subscriber exists.
        tracing::callsite::rebuild_interest_cache();
        dispatch
    }

    pub fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Checks the collision lines a re-key of [`old_key_rows`] logs: one `warn` per
/// collision, naming the workspace, tables and ids, and no value.
pub fn rekey_collisions_logged(log: &str, team: GroupId, ada: crate::domain::user::UserId) {
    let warns: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("re-key"))
        .collect();
    assert_eq!(warns.len(), 4, "{log}");
    let has = |parts: &[String]| {
        assert!(
            warns.iter().any(|l| parts.iter().all(|p| l.contains(p))),
            "no line with {parts:?} in {log}"
        );
    };
    let s = |v: &str| v.to_string();
    has(&[
        s("workspace=1"),
        s("table=\"groups\""),
        s("id=902"),
        s("held_by_table=\"groups\""),
        s("held_by_id=901"),
    ]);
    has(&[
        s("id=903"),
        s("table=\"groups\""),
        s("held_by_table=\"users\""),
        format!("held_by_id={}", ada.0),
    ]);
    has(&[
        s("id=904"),
        s("table=\"groups\""),
        format!("held_by_id={}", team.0),
    ]);
    has(&[s("id=903"), s("table=\"users\""), s("column=\"email_key\"")]);
    for private in [
        "example.org",
        "\u{ff2b}\u{ff29}\u{ff2d}",
        "kim",
        "\u{ff41}\u{ff44}\u{ff41}",
    ] {
        assert!(!log.contains(private), "{private} logged: {log}");
    }
}
