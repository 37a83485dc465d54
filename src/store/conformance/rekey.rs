//! Conformance: Re-keying identifiers stored before normalisation (fixtures the engine tests use).

use super::*;

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

/// Checks the collisions a re-key of [`old_key_rows`] reports (each also logged at
/// `warn` with ids only): the rows that keep their old key, and who holds the new one.
pub fn rekey_collisions_reported(
    report: &crate::store::rekey::Outcome,
    (ada, kim, team): (
        crate::domain::user::UserId,
        crate::domain::user::UserId,
        GroupId,
    ),
) {
    use crate::store::rekey::{Collision, Holder, KeyKind};
    let mut got = report.collisions.clone();
    got.sort_by_key(|c| (c.id, c.kind as u8));
    let c = |kind, id, holder| Collision {
        workspace: 1,
        kind,
        id,
        holder,
    };
    assert_eq!(
        got,
        vec![
            c(KeyKind::Slug, 902, Holder::Group(901)),
            c(KeyKind::Slug, 903, Holder::User(ada.0)),
            c(KeyKind::Email, 903, Holder::User(kim.0)),
            c(KeyKind::Slug, 904, Holder::Group(team.0)),
        ],
        "{report:?}"
    );
}
