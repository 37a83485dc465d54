//! Grupo `api_request/` group operations against the real binary.

mod common;

use common::{add_field, groupd_ok, spawn_app};
use serde_json::json;

/// The first group a client makes: ids 1 to 3 are the built-in groups.
const CREATED_1: &str = r#"{"success":true,"group_id":4}"#;
const OK: &str = r#"{"success":true}"#;

fn all_fields<'a>(key: &'a str, slug: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("api_secret_key", key),
        ("add", "groups"),
        ("group_name", "  Night Owls  "),
        (
            "description",
            "People who code\nafter midnight & <b>love</b> it",
        ),
        ("group_category_id", "2"),
        ("slug", slug),
        ("secret_group", "YES"),
        ("unleavable", "yes"),
        ("pin_group", "No"),
        ("password_protect", "yes"),
        ("password", "hunter2"),
        ("group_icon_url", ""),
        ("custom_field_10", "Backend"),
        ("custom_field_11", "2024-02-29"),
    ]
}

fn setup_definitions(dir: &std::path::Path) {
    assert_eq!(
        groupd_ok(dir, &["category", "add", "Hobbies"]),
        "2\tHobbies\n"
    );
    add_field(dir, "10", "Team", "short_text");
    add_field(dir, "11", "Founded", "date");
}

fn assert_every_field_stored(g: &serde_json::Value) {
    assert_eq!(g["name"], "Night Owls");
    assert_eq!(
        g["description"],
        "People who code\nafter midnight & love it"
    );
    assert_eq!(g["category_id"], 2);
    assert_eq!(g["slug"], "night-owls");
    assert_eq!(g["secret"], true);
    assert_eq!(g["unleavable"], true);
    assert_eq!(g["pinned"], false);
    assert_eq!(g["password_protected"], true);
    assert_eq!(g["has_icon"], false);
    assert_eq!(
        g["custom_fields"],
        json!({"10": "Backend", "11": "2024-02-29"})
    );
}

#[tokio::test]
async fn creates_a_group_with_every_field_urlencoded() {
    let app = spawn_app().await;
    setup_definitions(&app.dir);
    let (status, body) = app.post_form(&all_fields(&app.key, "night-owls")).await;
    assert_eq!((status, body.as_str()), (200, CREATED_1));
    assert_every_field_stored(&app.show_group("4"));
    // The password is stored as an argon2id hash, never in clear.
    let stored = app.stored_bytes();
    assert!(!stored.windows(7).any(|w| w == b"hunter2"));
    assert!(stored.windows(10).any(|w| w == b"$argon2id$"));
}

#[tokio::test]
async fn creates_a_group_with_every_field_multipart() {
    let app = spawn_app().await;
    setup_definitions(&app.dir);
    let (status, body) = app
        .post_multipart(&all_fields(&app.key, "night-owls"))
        .await;
    assert_eq!((status, body.as_str()), (200, CREATED_1));
    assert_every_field_stored(&app.show_group("night-owls"));
}

#[tokio::test]
async fn minimal_group_gets_defaults_and_ids_count_up() {
    let app = spawn_app().await;
    assert_eq!(app.create_group(&[("group_name", "First")]).await, 4);
    assert_eq!(app.create_group(&[("group_name", "Second")]).await, 5);
    let g = app.show_group("5");
    assert_eq!(g["category_id"], 1);
    assert_eq!(g["slug"], serde_json::Value::Null);
    assert_eq!(g["description"], "");
    assert_eq!(g["secret"], false);
    assert_eq!(g["password_protected"], false);
    // password_protect=no ignores a password sent along (as the PHP example does).
    let id = app
        .create_group(&[
            ("group_name", "Open"),
            ("password_protect", "no"),
            ("password", "x"),
        ])
        .await;
    assert_eq!(app.show_group(&id.to_string())["password_protected"], false);
}

#[tokio::test]
async fn update_changes_only_the_fields_sent() {
    let app = spawn_app().await;
    setup_definitions(&app.dir);
    app.post_form(&all_fields(&app.key, "night-owls")).await;
    let before = app.show_group("4");
    let (status, body) = app
        .post_form(&[
            ("api_secret_key", &app.key),
            ("update", "groups"),
            ("group", "NIGHT-OWLS"),
            ("pin_group", "yes"),
            ("custom_field_10", "Frontend"),
        ])
        .await;
    assert_eq!((status, body.as_str()), (200, OK));
    let after = app.show_group("4");
    assert_eq!(after["pinned"], true);
    assert_eq!(after["custom_fields"]["10"], "Frontend");
    for same in [
        "name",
        "description",
        "slug",
        "secret",
        "unleavable",
        "category_id",
        "password_protected",
    ] {
        assert_eq!(after[same], before[same], "{same} changed");
    }
    assert_eq!(after["custom_fields"]["11"], "2024-02-29");

    // By id: rename, new slug, clear a custom field, drop the password.
    let v = app
        .grupo(&[
            ("update", "groups"),
            ("group", "4"),
            ("group_name", "Early Birds"),
            ("slug", "early-birds"),
            ("custom_field_11", ""),
            ("password_protect", "no"),
        ])
        .await;
    assert_eq!(v, json!({"success": true}));
    let g = app.show_group("early-birds");
    assert_eq!(g["name"], "Early Birds");
    assert_eq!(g["custom_fields"], json!({"10": "Frontend"}));
    assert_eq!(g["password_protected"], false);
    assert!(!app.group_exists("night-owls"));
}

#[tokio::test]
async fn update_password_rules() {
    let app = spawn_app().await;
    let id = app.create_group(&[("group_name", "G")]).await.to_string();
    // protecting needs a password
    let v = app
        .grupo(&[
            ("update", "groups"),
            ("group", &id),
            ("password_protect", "yes"),
        ])
        .await;
    assert_eq!(v["error_key"], "invalid_value");
    assert_eq!(v["error_variables"], json!(["password"]));
    let v = app
        .grupo(&[
            ("update", "groups"),
            ("group", &id),
            ("password_protect", "yes"),
            ("password", "pw"),
        ])
        .await;
    assert_eq!(v["success"], true);
    assert_eq!(app.show_group(&id)["password_protected"], true);
    // already protected: yes without a password keeps it
    let v = app
        .grupo(&[
            ("update", "groups"),
            ("group", &id),
            ("password_protect", "yes"),
        ])
        .await;
    assert_eq!(v["success"], true);
    assert_eq!(app.show_group(&id)["password_protected"], true);
}

#[tokio::test]
async fn remove_deletes_the_group() {
    let app = spawn_app().await;
    app.create_group(&[("group_name", "Doomed"), ("slug", "doomed")])
        .await;
    let (status, body) = app
        .post_form(&[
            ("api_secret_key", &app.key),
            ("remove", "groups"),
            ("group", "doomed"),
        ])
        .await;
    assert_eq!((status, body.as_str()), (200, OK));
    assert!(!app.group_exists("4"));
    // The slug is free again.
    assert_eq!(
        app.create_group(&[("group_name", "Again"), ("slug", "doomed")])
            .await,
        5
    );
    // Removing it again: not found.
    let (_, body) = app
        .post_form(&[
            ("api_secret_key", &app.key),
            ("remove", "groups"),
            ("group", "4"),
        ])
        .await;
    assert_eq!(
        body,
        r#"{"success":false,"error_message":"Group Not Found","error_key":"group_not_found","error_variables":["group"]}"#
    );
}

#[tokio::test]
async fn builtin_groups_cannot_be_removed() {
    let app = spawn_app().await;
    for id in ["1", "2", "3"] {
        let (_, body) = app
            .post_form(&[
                ("api_secret_key", &app.key),
                ("remove", "groups"),
                ("group", id),
            ])
            .await;
        assert_eq!(
            body,
            format!(
                r#"{{"success":false,"error_message":"Group {id} is built in and cannot be removed","error_key":"permission_denied","error_variables":["group"]}}"#
            )
        );
        assert!(app.group_exists(id));
    }
    // They can be renamed, like any group.
    let v = app
        .grupo(&[
            ("update", "groups"),
            ("group", "3"),
            ("group_name", "Administrators"),
        ])
        .await;
    assert_eq!(v["success"], true);
    let admin = app.show_group("3");
    assert_eq!(
        (admin["name"].as_str(), admin["builtin"].as_str()),
        (Some("Administrators"), Some("admin"))
    );
}

#[tokio::test]
async fn error_keys_are_exact() {
    let app = spawn_app().await;
    let bad_key = r#"{"success":false,"error_message":"Invalid API Secret Key","error_key":"invalid_api_secret_key"}"#;
    // missing key
    let (s, b) = app
        .post_form(&[("add", "groups"), ("group_name", "x")])
        .await;
    assert_eq!((s, b.as_str()), (200, bad_key));
    // wrong key of the right shape, and garbage
    let last = if app.key.ends_with('X') { "Y" } else { "X" };
    let wrong = format!("{}{last}", &app.key[..app.key.len() - 1]);
    for k in [wrong.as_str(), "nonsense", ""] {
        let (_, b) = app
            .post_form(&[
                ("api_secret_key", k),
                ("add", "groups"),
                ("group_name", "x"),
            ])
            .await;
        assert_eq!(b, bad_key, "key {k:?}");
    }
    // missing group name
    let (_, b) = app
        .post_form(&[("api_secret_key", &app.key), ("add", "groups")])
        .await;
    assert_eq!(
        b,
        r#"{"success":false,"error_message":"Invalid Input or Field Empty: group_name: is required","error_key":"invalid_value","error_variables":["group_name"]}"#
    );
    // slug taken, without regard to case
    app.create_group(&[("group_name", "A"), ("slug", "Chess-Club")])
        .await;
    let (_, b) = app
        .post_form(&[
            ("api_secret_key", &app.key),
            ("add", "groups"),
            ("group_name", "B"),
            ("slug", "chess club"),
        ])
        .await;
    assert_eq!(
        b,
        r#"{"success":false,"error_message":"Slug Already Exists","error_key":"slug_already_exists","error_variables":["slug"]}"#
    );
    // update to a taken slug
    app.create_group(&[("group_name", "C"), ("slug", "c")])
        .await;
    let v = app
        .grupo(&[("update", "groups"), ("group", "c"), ("slug", "CHESS-club")])
        .await;
    assert_eq!(v["error_key"], "slug_already_exists");
    // unknown group
    let v = app
        .grupo(&[("update", "groups"), ("group", "999"), ("group_name", "x")])
        .await;
    assert_eq!(v["error_key"], "group_not_found");
    let v = app
        .grupo(&[("update", "groups"), ("group", "no-such-slug")])
        .await;
    assert_eq!(v["error_key"], "group_not_found");
    // no group named at all
    let v = app
        .grupo(&[("update", "groups"), ("group_name", "x")])
        .await;
    assert_eq!(v["error_key"], "invalid_value");
    assert_eq!(v["error_variables"], json!(["group"]));
    // unknown targets and operations
    let (_, b) = app
        .post_form(&[("api_secret_key", &app.key), ("add", "planets")])
        .await;
    assert_eq!(
        b,
        r#"{"success":false,"error_message":"Invalid Input or Field Empty: Unknown object 'planets' for add; this server supports: groups, site_users, group_members","error_key":"invalid_value","error_variables":["add"]}"#
    );
    let v = app.grupo(&[("group_name", "x")]).await;
    assert_eq!(v["error_key"], "invalid_value");
    assert_eq!(v["error_variables"], json!(["add", "update", "remove"]));
    let v = app.grupo(&[("add", "groups"), ("remove", "groups")]).await;
    assert_eq!(v["error_variables"], json!(["add", "remove"]));
}

#[tokio::test]
async fn every_bad_field_is_named_and_nothing_is_written() {
    let app = spawn_app().await;
    add_field(&app.dir, "3", "Size", "number");
    groupd_ok(
        &app.dir,
        &[
            "field", "add", "--id", "4", "--name", "Colour", "--type", "dropdown", "--option",
            "Red", "--option", "Blue",
        ],
    );
    add_field(&app.dir, "5", "Site", "link");
    add_field(&app.dir, "6", "Day", "date");
    let long_name = "n".repeat(101);
    let long_desc = "d".repeat(5001);
    let v = app
        .grupo(&[
            ("add", "groups"),
            ("group_name", &long_name),
            ("description", &long_desc),
            ("group_category_id", "42"),
            ("slug", "everyone"),
            ("secret_group", "true"),
            ("unleavable", "1"),
            ("pin_group", ""),
            ("password_protect", "yes"),
            ("group_icon_url", "ftp://example.com/x.png"),
            ("custom_field_3", "many"),
            ("custom_field_4", "Green"),
            ("custom_field_5", "javascript:alert(1)"),
            ("custom_field_6", "2023-02-30"),
            ("custom_field_99", "x"),
            ("custom_field_abc", "x"),
        ])
        .await;
    assert_eq!(v["success"], false);
    assert_eq!(v["error_key"], "invalid_value");
    let mut vars: Vec<String> = v["error_variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    vars.sort();
    let mut expected = vec![
        "group_name",
        "description",
        "group_category_id",
        "slug",
        "secret_group",
        "unleavable",
        "pin_group",
        "password",
        "group_icon_url",
        "custom_field_3",
        "custom_field_4",
        "custom_field_5",
        "custom_field_6",
        "custom_field_99",
        "custom_field_abc",
    ];
    expected.sort();
    assert_eq!(vars, expected);
    assert!(
        app.all_groups().is_empty(),
        "a refused create wrote something"
    );

    // A bad field in an update changes nothing either.
    let id = app
        .create_group(&[("group_name", "Keep"), ("custom_field_3", "7")])
        .await;
    let before = app.show_group(&id.to_string());
    let v = app
        .grupo(&[
            ("update", "groups"),
            ("group", &id.to_string()),
            ("group_name", "Changed"),
            ("custom_field_3", "seven"),
        ])
        .await;
    assert_eq!(v["error_variables"], json!(["custom_field_3"]));
    let mut after = app.show_group(&id.to_string());
    after["updated_at"] = before["updated_at"].clone();
    assert_eq!(after, before);
}

#[tokio::test]
async fn values_of_each_custom_field_type_are_accepted() {
    let app = spawn_app().await;
    for (id, kind) in [
        ("1", "short_text"),
        ("2", "long_text"),
        ("3", "date"),
        ("4", "number"),
        ("6", "link"),
    ] {
        groupd_ok(
            &app.dir,
            &["field", "add", "--id", id, "--name", kind, "--type", kind],
        );
    }
    groupd_ok(
        &app.dir,
        &[
            "field", "add", "--id", "5", "--name", "dd", "--type", "dropdown", "--option", "Red",
            "--option", "Blue",
        ],
    );
    let id = app
        .create_group(&[
            ("group_name", "Typed"),
            ("custom_field_1", "short"),
            ("custom_field_2", "line one\nline two"),
            ("custom_field_3", "2025-12-31"),
            ("custom_field_4", "-12.5"),
            ("custom_field_5", "blue"),
            ("custom_field_6", "https://example.com/page?q=1"),
        ])
        .await;
    assert_eq!(
        app.show_group(&id.to_string())["custom_fields"],
        json!({"1": "short", "2": "line one\nline two", "3": "2025-12-31", "4": "-12.5", "5": "Blue", "6": "https://example.com/page?q=1"})
    );
}

#[tokio::test]
async fn slugs_are_cleaned_and_text_cannot_open_tags() {
    let app = spawn_app().await;
    let id = app
        .create_group(&[
            ("group_name", "<script>alert(1)</script>Fish & Chips <3"),
            ("slug", "  Fish & Chips! (London) "),
        ])
        .await;
    let g = app.show_group(&id.to_string());
    assert_eq!(g["name"], "alert(1)Fish & Chips <3");
    assert_eq!(g["slug"], "Fish-Chips-London");
    for bad in ["12345", "!!!", "Groups", "api_request"] {
        let v = app
            .grupo(&[("add", "groups"), ("group_name", "x"), ("slug", bad)])
            .await;
        assert_eq!(v["error_variables"], json!(["slug"]), "slug {bad:?}");
    }
    // An empty slug means none.
    let id = app
        .create_group(&[("group_name", "No slug"), ("slug", "  ")])
        .await;
    assert_eq!(
        app.show_group(&id.to_string())["slug"],
        serde_json::Value::Null
    );
}

#[tokio::test]
async fn get_and_query_parameters_are_read_and_the_body_wins() {
    let app = spawn_app().await;
    let url = format!(
        "{}?api_secret_key={}&add=groups&group_name=FromQuery",
        app.url("/api_request/"),
        app.key
    );
    let body = app
        .client
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, CREATED_1);
    let body = app
        .client
        .post(&url)
        .form(&[("group_name", "FromBody")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, r#"{"success":true,"group_id":5}"#);
    assert_eq!(app.show_group("5")["name"], "FromBody");
    // Without the trailing slash too.
    let r = app
        .client
        .post(app.url("/api_request"))
        .form(&[
            ("api_secret_key", app.key.as_str()),
            ("add", "groups"),
            ("group_name", "NoSlash"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.text().await.unwrap(), r#"{"success":true,"group_id":6}"#);
}
