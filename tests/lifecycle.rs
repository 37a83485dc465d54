//! Keys, workspaces, restarts and the command line.

mod common;

use common::{add_field, groupd, groupd_ok, spawn_app, start};
use serde_json::json;

#[tokio::test]
async fn data_survives_a_restart() {
    let app = spawn_app().await;
    add_field(&app.dir, "10", "Team", "short_text");
    let id = app
        .create_group(&[
            ("group_name", "Persistent"),
            ("slug", "persistent"),
            ("password_protect", "yes"),
            ("password", "pw"),
            ("custom_field_10", "kept"),
        ])
        .await;
    let before = app.show_group("persistent");
    let key = app.key.clone();
    let dir = app.dir.clone();
    let tmp = app.stop();
    let app = start(&dir, &[], Some(key));
    assert_eq!(app.show_group("persistent"), before);
    assert_eq!(before["custom_fields"], json!({"10": "kept"}));
    // The old key still works, the slug is still taken, and ids keep counting.
    let v = app
        .grupo(&[
            ("add", "groups"),
            ("group_name", "Dup"),
            ("slug", "persistent"),
        ])
        .await;
    assert_eq!(v["error_key"], "slug_already_exists");
    assert_eq!(app.create_group(&[("group_name", "Next")]).await, id + 1);
    drop(app);
    drop(tmp);
}

#[tokio::test]
async fn restart_does_not_make_a_new_key_and_ids_are_not_reused() {
    let app = spawn_app().await;
    let id = app.create_group(&[("group_name", "Gone")]).await;
    app.grupo(&[("remove", "groups"), ("group", &id.to_string())])
        .await;
    let (key, dir) = (app.key.clone(), app.dir.clone());
    let tmp = app.stop();
    let app = start(&dir, &[], Some(key));
    assert_eq!(app.create_group(&[("group_name", "New")]).await, id + 1);
    let keys = groupd_ok(&dir, &["key", "list"]);
    assert_eq!(keys.lines().count(), 2, "header and one key: {keys}");
    drop(app);
    drop(tmp);
}

#[tokio::test]
async fn keys_can_be_created_listed_and_revoked_at_once() {
    let app = spawn_app().await;
    let second = groupd_ok(&app.dir, &["key", "create", "--label", "ci"])
        .trim()
        .to_string();
    assert!(second.starts_with("gk_") && second != app.key);
    let list = groupd_ok(&app.dir, &["key", "list"]);
    assert!(list.contains("\tci"), "{list}");
    assert!(!list.contains(&second), "key list must not show whole keys");
    let v = app
        .grupo(&[("add", "groups"), ("group_name", "With first")])
        .await;
    assert_eq!(v["success"], true);
    let with_second = [
        ("api_secret_key", second.as_str()),
        ("add", "groups"),
        ("group_name", "With second"),
    ];
    let (_, body) = app.post_form(&with_second).await;
    assert!(body.contains(r#""success":true"#), "{body}");
    // Revoke the second key by its prefix; the running server refuses it at once.
    // (On PostgreSQL, once the NOTIFY has reached the server: allow it 2 s.)
    let prefix = &second[3..11];
    groupd_ok(&app.dir, &["key", "revoke", prefix]);
    let mut body = app.post_form(&with_second).await.1;
    for _ in 0..40 {
        if !common::on_postgres() || body.contains("invalid_api_secret_key") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        body = app.post_form(&with_second).await.1;
    }
    assert_eq!(
        body,
        r#"{"success":false,"error_message":"Invalid API Secret Key","error_key":"invalid_api_secret_key"}"#
    );
    assert!(groupd_ok(&app.dir, &["key", "list"]).contains("revoked"));
    // The first key is untouched.
    assert_eq!(
        app.grupo(&[("add", "groups"), ("group_name", "Still")])
            .await["success"],
        true
    );
    // Revoking an unknown key is a clear error.
    let out = groupd(&app.dir, &["key", "revoke", "nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
    // Keys are stored as hashes only.
    let stored = app.stored_bytes();
    for k in [&app.key, &second] {
        assert!(!stored.windows(k.len()).any(|w| w == k.as_bytes()));
    }
}

#[tokio::test]
async fn a_key_only_reaches_its_own_workspace() {
    let app = spawn_app().await;
    let other_key = groupd_ok(&app.dir, &["workspace", "create", "acme"])
        .trim()
        .to_string();
    let mine = app
        .create_group(&[("group_name", "Mine"), ("slug", "shared-slug")])
        .await;

    let as_other = |fields: Vec<(&'static str, String)>| {
        let mut all = vec![("api_secret_key", other_key.clone())];
        all.extend(fields);
        all
    };
    let send = |fields: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let borrowed: Vec<(&str, &str)> =
                fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (_, body) = app.post_form(&borrowed).await;
            serde_json::from_str::<serde_json::Value>(&body).unwrap()
        }
    };
    // The same slug is free in another workspace.
    let v = send(as_other(vec![
        ("add", "groups".into()),
        ("group_name", "Theirs".into()),
        ("slug", "shared-slug".into()),
    ]))
    .await;
    assert_eq!(v["success"], true);
    let theirs = v["group_id"].as_i64().unwrap();
    // The other workspace cannot see, change or remove my group, by id or slug.
    let v = send(as_other(vec![
        ("update", "groups".into()),
        ("group", mine.to_string()),
        ("group_name", "Hijacked".into()),
    ]))
    .await;
    assert_eq!(v["error_key"], "group_not_found");
    let v = send(as_other(vec![
        ("remove", "groups".into()),
        ("group", mine.to_string()),
    ]))
    .await;
    assert_eq!(v["error_key"], "group_not_found");
    assert_eq!(app.show_group(&mine.to_string())["name"], "Mine");
    // Updating "shared-slug" from the other workspace changes their group, not mine.
    let v = send(as_other(vec![
        ("update", "groups".into()),
        ("group", "shared-slug".into()),
        ("group_name", "Theirs renamed".into()),
    ]))
    .await;
    assert_eq!(v["success"], true);
    assert_eq!(app.show_group("shared-slug")["name"], "Mine");
    assert_eq!(
        app.show_group_in(&theirs.to_string(), "acme")["name"],
        "Theirs renamed"
    );
    // Categories and custom fields are per workspace too.
    groupd_ok(&app.dir, &["category", "add", "Only in default"]);
    let v = send(as_other(vec![
        ("add", "groups".into()),
        ("group_name", "x".into()),
        ("group_category_id", "2".into()),
    ]))
    .await;
    assert_eq!(v["error_variables"], json!(["group_category_id"]));
}

#[tokio::test]
async fn categories_and_fields_from_the_command_line() {
    let app = spawn_app().await;
    let dir = &app.dir;
    assert_eq!(groupd_ok(dir, &["category", "list"]), "1\tUncategorized\n");
    assert_eq!(
        groupd_ok(dir, &["category", "add", "Sports"]),
        "2\tSports\n"
    );
    groupd_ok(dir, &["category", "rename", "2", "Sport"]);
    let id = app
        .create_group(&[("group_name", "Runners"), ("group_category_id", "2")])
        .await;
    assert!(groupd_ok(dir, &["category", "delete", "2"]).contains("1 group(s) moved"));
    assert_eq!(app.show_group(&id.to_string())["category_id"], 1);
    assert!(!groupd(dir, &["category", "delete", "1"]).status.success());

    assert_eq!(
        groupd_ok(
            dir,
            &[
                "field", "add", "--name", "Colour", "--type", "dropdown", "--option", "Red",
                "--option", "Blue"
            ]
        ),
        "1\tColour\tdropdown\tRed|Blue\n"
    );
    assert_eq!(
        groupd_ok(dir, &["field", "add", "--name", "Size", "--type", "number"]),
        "2\tSize\tnumber\t\n"
    );
    let out = groupd(dir, &["field", "add", "--name", "Bad", "--type", "blob"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("short_text"));
    let out = groupd(
        dir,
        &[
            "field", "add", "--id", "1", "--name", "Dup", "--type", "number",
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    let id = app
        .create_group(&[("group_name", "Painted"), ("custom_field_1", "Red")])
        .await;
    groupd_ok(dir, &["field", "delete", "1"]);
    assert_eq!(app.show_group(&id.to_string())["custom_fields"], json!({}));
    let v = app
        .grupo(&[
            ("add", "groups"),
            ("group_name", "x"),
            ("custom_field_1", "Red"),
        ])
        .await;
    assert_eq!(v["error_variables"], json!(["custom_field_1"]));
}

#[tokio::test]
async fn startup_errors_say_how_to_fix_them() {
    let app = spawn_app().await;
    let port = app.address.rsplit(':').next().unwrap().to_string();
    let out = std::process::Command::new(common::BIN)
        .arg("--data-dir")
        .arg(&app.dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--listen"), "{err}");
    let out = groupd(&app.dir, &["serve", "--listen", "localhost"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("IP:PORT"));
}

/// A running server keeps groups it has read, but a change made by another
/// process (here `groupd field delete`, which drops the field's values) shows in
/// the very next read.
#[tokio::test]
async fn a_change_from_the_command_line_shows_at_once() {
    let app = spawn_app().await;
    add_field(&app.dir, "7", "Motto", "short_text");
    let (s, g) = app
        .rest(
            "POST",
            "/api/v1/groups",
            Some(json!({"name": "Cached", "custom_fields": {"7": "Carpe diem"}})),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    let path = format!("/api/v1/groups/{}", g["id"]);
    for _ in 0..2 {
        let (_, seen) = app.rest("GET", &path, None).await;
        assert_eq!(seen["custom_fields"], json!({"7": "Carpe diem"}));
    }
    groupd_ok(&app.dir, &["field", "delete", "7"]);
    let (_, seen) = app.rest("GET", &path, None).await;
    assert_eq!(seen["custom_fields"], json!({}), "{seen}");
}

/// A command whose output pipe is closed (`groupd group list | head -1`) ends
/// quietly: no panic, no error, success.
#[tokio::test]
async fn commands_end_quietly_when_their_output_closes() {
    use std::os::fd::{FromRawFd, OwnedFd};
    let app = spawn_app().await;
    for name in ["One", "Two", "Three"] {
        app.create_group(&[("group_name", name)]).await;
    }
    for args in [
        vec!["group", "list"],
        vec!["export"],
        vec!["key", "list"],
        vec!["category", "list"],
        vec!["key", "create"],
    ] {
        // A pipe whose reading end is closed before the command starts, so its
        // first write fails with EPIPE whatever the timing.
        let mut fds = [0; 2];
        // SAFETY: pipe writes two new descriptors into the array we pass.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: both descriptors are new and owned here alone.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        drop(read);
        let out = std::process::Command::new(common::BIN)
            .arg("--data-dir")
            .arg(&app.dir)
            .args(common::config_args(&app.dir))
            .args(&args)
            .env("GROUPD_LOG", "warn")
            .env_remove("GROUPD_CONFIG")
            .stdout(std::process::Stdio::from(write))
            .stderr(std::process::Stdio::piped())
            .output()
            .expect("run groupd");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if args == ["key", "create"] {
            // A new key nobody saw: an error that says how to clean up.
            assert!(!out.status.success(), "{args:?}: {stderr}");
            assert!(stderr.contains("groupd key revoke "), "{stderr}");
        } else {
            assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
            assert!(stderr.is_empty(), "{args:?} wrote to stderr: {stderr}");
        }
    }
}
