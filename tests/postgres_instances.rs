//! groupd on PostgreSQL: several instances on one database behave as one service,
//! and a server survives its database going away and coming back.

mod common;

use common::{CONFIG, PgCluster, TestApp, fresh_pg_database, race_username_against_slug, start};
use serde_json::{Value, json};
use std::sync::Arc;

/// Two groupd processes on one database; the second uses the first's key.
async fn two_instances() -> (Arc<TestApp>, Arc<TestApp>, Vec<tempfile::TempDir>) {
    let url = fresh_pg_database().await;
    let dirs = vec![tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    for d in &dirs {
        std::fs::write(d.path().join(CONFIG), format!("database_url = \"{url}\"\n")).unwrap();
    }
    let a = start(dirs[0].path(), &[], None);
    let b = start(dirs[1].path(), &[], Some(a.key.clone()));
    (Arc::new(a), Arc::new(b), dirs)
}

/// Sends `n` requests at once, alternately through `a` and `b`; `request(i)` gives
/// the i-th path and body. Every answer must be 201, or 409 with the error key
/// `conflict`. Returns how many were 201.
async fn race(
    a: &Arc<TestApp>,
    b: &Arc<TestApp>,
    n: usize,
    conflict: &str,
    request: impl Fn(usize) -> (String, Value),
) -> usize {
    let mut tasks = Vec::new();
    for i in 0..n {
        let app = if i % 2 == 0 { a.clone() } else { b.clone() };
        let (path, body) = request(i);
        tasks.push(tokio::spawn(async move {
            app.rest("POST", &path, Some(body)).await
        }));
    }
    let mut made = 0;
    for t in tasks {
        let (s, v) = t.await.unwrap();
        match s {
            201 => made += 1,
            409 => assert_eq!(v["error"]["key"], conflict),
            other => panic!("{other}: {v}"),
        }
    }
    made
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_are_one_service() {
    let (a, b, _dirs) = two_instances().await;
    assert_ne!(a.address, b.address);
    // Made through one, seen at once through the other.
    let (s, g) = a
        .rest(
            "POST",
            "/api/v1/groups",
            Some(json!({"name": "Shared", "slug": "shared"})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, seen) = b.rest("GET", "/api/v1/groups/shared", None).await;
    assert_eq!((s, seen["id"].clone()), (200, g["id"].clone()));

    // The same slug raced through both: exactly one wins.
    let won = race(&a, &b, 30, "slug_already_exists", |i| {
        let body = json!({"name": format!("R{i}"), "slug": "race"});
        ("/api/v1/groups".to_string(), body)
    })
    .await;
    assert_eq!(won, 1);

    // The same username raced through both.
    let made = race(&a, &b, 20, "username_exists", |i| {
        let body = json!({"full_name": "R", "username": "racer", "email": format!("r{i}@x.org"), "password": "secret-pw"});
        ("/api/v1/users".to_string(), body)
    })
    .await;
    assert_eq!(made, 1);

    // A username and a slug with one name raced through both, many times.
    race_username_against_slug(&a, &b, 300).await;

    // The last places of limited groups raced through both, round after round.
    for i in 0..24 {
        let (s, _) = a
            .rest(
                "POST",
                "/api/v1/users",
                Some(json!({"full_name": "J", "username": format!("joiner{i}"), "email": format!("j{i}@x.org"), "password": "secret-pw"})),
            )
            .await;
        assert_eq!(s, 201);
    }
    for round in 0..6 {
        let (slug, limit) = (format!("limited{round}"), 3 + round);
        let (s, _) = a
            .rest(
                "POST",
                "/api/v1/groups",
                Some(
                    json!({"name": "Limited", "slug": slug, "limits": {"user": {"amount": limit}}}),
                ),
            )
            .await;
        assert_eq!(s, 201);
        // Joins on the users' behalf and administrative adds, mixed.
        let joined = race(&a, &b, 24, "group_full", |i| {
            if i % 3 == 0 {
                let body = json!({"user": format!("joiner{i}")});
                (format!("/api/v1/groups/{slug}/members"), body)
            } else {
                let body = json!({"group": slug});
                (format!("/api/v1/users/joiner{i}/groups"), body)
            }
        })
        .await;
        assert_eq!(joined, limit, "round {round}");
        assert_member_count(&b, &slug, limit).await;
    }

    // A limit set through one instance binds adds through the other at once,
    // though that one last saw the group without a limit.
    let (s, _) = a
        .rest(
            "POST",
            "/api/v1/groups",
            Some(json!({"name": "Open", "slug": "later"})),
        )
        .await;
    assert_eq!(s, 201);
    for (app, who) in [(&a, "joiner0"), (&b, "joiner23")] {
        let (s, _) = app
            .rest(
                "POST",
                "/api/v1/groups/later/members",
                Some(json!({"user": who})),
            )
            .await;
        assert_eq!(s, 201);
    }
    let (s, _) = b
        .rest(
            "PATCH",
            "/api/v1/groups/later",
            Some(json!({"limits": {"user": {"amount": 3}}})),
        )
        .await;
    assert_eq!(s, 200);
    let joined = race(&a, &b, 22, "group_full", |i| {
        let body = json!({"user": format!("joiner{}", i + 1)});
        ("/api/v1/groups/later/members".to_string(), body)
    })
    .await;
    assert_eq!(joined, 1);
    assert_member_count(&a, "later", 3).await;
}

/// The group's member count, as shown, and its member list agree with `n`.
async fn assert_member_count(app: &TestApp, slug: &str, n: usize) {
    let (_, v) = app
        .rest(
            "GET",
            &format!("/api/v1/groups/{slug}/members?limit=100"),
            None,
        )
        .await;
    assert_eq!(v["items"].as_array().unwrap().len(), n, "{slug}");
    let (_, g) = app
        .rest("GET", &format!("/api/v1/groups/{slug}"), None)
        .await;
    assert_eq!(g["member_count"], n, "{slug}");
}

fn data_dir_with(url: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join(CONFIG), format!("database_url = \"{url}\"\n")).unwrap();
    d
}

#[tokio::test]
async fn the_server_reports_a_lost_database_and_recovers() {
    let cluster = PgCluster::new();
    let dir = data_dir_with(&cluster.url());
    let app = start(dir.path(), &[], None);
    let (s, _) = app
        .rest(
            "POST",
            "/api/v1/groups",
            Some(json!({"name": "Before", "slug": "before"})),
        )
        .await;
    assert_eq!(s, 201);

    cluster.stop();
    // Every dialect answers a clear error in its own format: no hang, no panic.
    let (s, v) = app.rest("GET", "/api/v1/groups/before", None).await;
    assert_eq!(
        (s, v["error"]["key"].as_str()),
        (503, Some("something_went_wrong")),
        "{v}"
    );
    let (s, body) = app
        .post_form(&[
            ("api_secret_key", &app.key),
            ("add", "groups"),
            ("group_name", "x"),
        ])
        .await;
    assert_eq!(s, 503);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error_key"], "something_went_wrong");

    cluster.start();
    // Recovery: within a bounded number of tries the same server works again.
    let mut ok = false;
    for _ in 0..50 {
        let (s, _) = app.rest("GET", "/api/v1/groups/before", None).await;
        if s == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        ok,
        "the server did not recover after the database came back"
    );
    let (s, _) = app
        .rest("POST", "/api/v1/groups", Some(json!({"name": "After"})))
        .await;
    assert_eq!(s, 201);
}

/// A key revoked through one instance's command line stops working on the other
/// instance, which had it cached, as soon as the NOTIFY arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_reaches_the_other_instance() {
    let (a, b, _dirs) = two_instances().await;
    let second = common::groupd_ok(&a.dir, &["key", "create", "--label", "shared"])
        .trim()
        .to_string();
    let with_second = [
        ("api_secret_key", second.as_str()),
        ("add", "groups"),
        ("group_name", "Through B"),
    ];
    // Used twice through B: the second time from B's cache.
    for _ in 0..2 {
        let (_, body) = b.post_form(&with_second).await;
        assert!(body.contains(r#""success":true"#), "{body}");
    }
    common::groupd_ok(&a.dir, &["key", "revoke", &second[3..11]]);
    let mut body = b.post_form(&with_second).await.1;
    for _ in 0..40 {
        if body.contains("invalid_api_secret_key") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        body = b.post_form(&with_second).await.1;
    }
    assert!(body.contains("invalid_api_secret_key"), "{body}");
    // B's own key (the first one) still works.
    let (s, _) = b.rest("GET", "/api/v1/groups?limit=1", None).await;
    assert_eq!(s, 200);
}
