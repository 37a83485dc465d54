//! Concurrent writers cannot break slug uniqueness, nor the namespace group slugs
//! and usernames share.

mod common;

use common::{race_username_against_slug, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_creates_with_one_slug_make_one_group() {
    let app = std::sync::Arc::new(spawn_app().await);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let name = format!("Racer {i}");
            // Spell the slug in different cases: uniqueness ignores case.
            let slug = if i % 2 == 0 { "The-Race" } else { "the-race" };
            let fields = [
                ("api_secret_key", app.key.as_str()),
                ("add", "groups"),
                ("group_name", name.as_str()),
                ("slug", slug),
            ];
            app.post_form(&fields).await
        }));
    }
    let mut won = 0;
    let mut lost = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200);
        if body.starts_with(r#"{"success":true,"group_id":"#) {
            won += 1;
        } else {
            assert_eq!(
                body,
                r#"{"success":false,"error_message":"Slug Already Exists","error_key":"slug_already_exists","error_variables":["slug"]}"#
            );
            lost += 1;
        }
    }
    assert_eq!((won, lost), (1, 49));
    assert_eq!(app.all_groups().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_with_distinct_slugs_all_succeed() {
    let app = std::sync::Arc::new(spawn_app().await);
    let mut tasks = Vec::new();
    for i in 0..100 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let slug = format!("g-{i}");
            let fields = [
                ("api_secret_key", app.key.as_str()),
                ("add", "groups"),
                ("group_name", "Same Name"),
                ("slug", slug.as_str()),
            ];
            app.post_form(&fields).await
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        let (_, body) = t.await.unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        ids.push(v["group_id"].as_i64().expect("created"));
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 100);
    assert_eq!(app.all_groups().len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_user_and_a_group_raced_for_one_name_never_both_get_it() {
    let app = std::sync::Arc::new(spawn_app().await);
    race_username_against_slug(&app, &app, 300).await;
    let (_, users) = app.rest("GET", "/api/v1/users?limit=1000", None).await;
    let users = users["items"].as_array().map_or(0, Vec::len);
    assert_eq!(users + app.all_groups().len(), 300);
}
