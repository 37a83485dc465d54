//! Users, memberships and the group rules, through Grupo and REST.

mod common;

use common::{TestApp, groupd_ok, spawn_app};
use serde_json::{Value, json};
use std::sync::Arc;

async fn user(app: &TestApp, name: &str) -> i64 {
    let (s, v) = app
        .rest(
            "POST",
            "/api/v1/users",
            Some(json!({"full_name": name, "username": name, "email": format!("{name}@example.org"), "password": "secret-pw"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_i64().unwrap()
}

async fn group(app: &TestApp, body: Value) -> i64 {
    let (s, v) = app.rest("POST", "/api/v1/groups", Some(body)).await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_i64().unwrap()
}

#[tokio::test]
async fn grupo_site_users() {
    let app = spawn_app().await;
    let (_, b) = app
        .post_form(&[
            ("api_secret_key", &app.key),
            ("add", "site_users"),
            ("full_name", "Ada Lovelace"),
            ("username", "Ada"),
            ("email_address", "Ada@Example.org"),
            ("password", "analytical"),
        ])
        .await;
    assert_eq!(b, r#"{"success":true,"user_id":1}"#);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("username", "ADA"), ("email_address", "other@example.org")],
            r#"{"success":false,"error_message":"Username Already Exists","error_key":"username_exists","error_variables":["username"]}"#,
        ),
        (
            vec![("username", "other"), ("email_address", "ada@EXAMPLE.org")],
            r#"{"success":false,"error_message":"Email Already Exists","error_key":"email_exists","error_variables":["email_address"]}"#,
        ),
        (
            vec![("username", "other"), ("email_address", "not-an-email")],
            r#"{"success":false,"error_message":"Invalid Email Address","error_key":"invalid_email_address","error_variables":["email_address"]}"#,
        ),
    ];
    for (fields, expected) in cases {
        let mut all = vec![
            ("api_secret_key", app.key.as_str()),
            ("add", "site_users"),
            ("full_name", "X"),
            ("password", "secret-pw"),
        ];
        all.extend(fields);
        let (_, b) = app.post_form(&all).await;
        assert_eq!(b, expected);
    }
    // Missing fields are named.
    let v = app
        .grupo(&[("add", "site_users"), ("username", "xavier")])
        .await;
    assert_eq!(v["error_key"], "invalid_value");
    assert_eq!(
        v["error_variables"],
        json!(["full_name", "email_address", "password"])
    );
    // Update by email, only what is sent.
    let v = app
        .grupo(&[
            ("update", "site_users"),
            ("user", "ada@example.org"),
            ("full_name", "Countess"),
        ])
        .await;
    assert_eq!(v, json!({"success": true}));
    let (_, u) = app.rest("GET", "/api/v1/users/ada", None).await;
    assert_eq!(
        (u["full_name"].as_str(), u["email"].as_str()),
        (Some("Countess"), Some("Ada@Example.org"))
    );
    let v = app
        .grupo(&[
            ("update", "site_users"),
            ("user", "nobody"),
            ("full_name", "x"),
        ])
        .await;
    assert_eq!(
        (v["error_key"].as_str(), v["error_message"].as_str()),
        (Some("account_not_found"), Some("Account Does Not Exist"))
    );
    // A slug and a username cannot be the same name.
    let v = app
        .grupo(&[("add", "groups"), ("group_name", "G"), ("slug", "ADA")])
        .await;
    assert_eq!(v["error_key"], "slug_already_exists");
    app.create_group(&[("group_name", "G"), ("slug", "taken-slug")])
        .await;
    let v = app
        .grupo(&[
            ("add", "site_users"),
            ("full_name", "T"),
            ("username", "taken-slug"),
            ("email_address", "t@x.org"),
            ("password", "secret-pw"),
        ])
        .await;
    assert_eq!(v["error_key"], "username_exists");
    // Remove.
    assert_eq!(
        app.grupo(&[("remove", "site_users"), ("user", "ada")])
            .await,
        json!({"success": true})
    );
    assert_eq!(
        app.grupo(&[("remove", "site_users"), ("user", "ada")])
            .await["error_key"],
        "account_not_found"
    );
    // Passwords are stored as argon2id only.
    let stored = app.stored_bytes();
    assert!(!stored.windows(10).any(|w| w == b"analytical"));
}

#[tokio::test]
async fn grupo_group_members_are_administrative() {
    let app = spawn_app().await;
    user(&app, "ada").await;
    user(&app, "bob").await;
    user(&app, "cyd").await;
    // Secret, password-protected, unleavable, one place only.
    app.create_group(&[
        ("group_name", "Vault"),
        ("slug", "vault"),
        ("secret_group", "yes"),
        ("unleavable", "yes"),
        ("password_protect", "yes"),
        ("password", "pw"),
    ])
    .await;
    let (s, _) = app
        .rest(
            "PATCH",
            "/api/v1/groups/vault",
            Some(json!({"limits": {"user": {"amount": 2}}})),
        )
        .await;
    assert_eq!(s, 200);
    let v = app
        .grupo(&[
            ("add", "group_members"),
            ("group", "vault"),
            ("user", "ada"),
            ("group_role", "moderator"),
        ])
        .await;
    assert_eq!(v, json!({"success": true}));
    let v = app
        .grupo(&[
            ("add", "group_members"),
            ("group", "vault"),
            ("user", "bob@example.org"),
        ])
        .await;
    assert_eq!(v, json!({"success": true}));
    // Adding again is fine and counts once.
    assert_eq!(
        app.grupo(&[
            ("add", "group_members"),
            ("group", "vault"),
            ("user", "bob")
        ])
        .await["success"],
        true
    );
    let v = app
        .grupo(&[
            ("add", "group_members"),
            ("group", "vault"),
            ("user", "cyd"),
        ])
        .await;
    assert_eq!(v["error_key"], "group_full");
    let (_, members) = app.rest("GET", "/api/v1/groups/vault/members", None).await;
    let roles: Vec<(&str, &str)> = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["user"]["username"].as_str().unwrap(),
                m["role"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(roles, [("ada", "moderator"), ("bob", "member")]);
    // Errors.
    let v = app
        .grupo(&[
            ("add", "group_members"),
            ("group", "vault"),
            ("user", "zed"),
        ])
        .await;
    assert_eq!(v["error_key"], "account_not_found");
    let v = app
        .grupo(&[("add", "group_members"), ("group", "nope"), ("user", "ada")])
        .await;
    assert_eq!(v["error_key"], "group_not_found");
    let v = app
        .grupo(&[
            ("add", "group_members"),
            ("group", "vault"),
            ("user", "cyd"),
            ("group_role", "owner"),
        ])
        .await;
    assert_eq!(v["error_variables"], json!(["group_role"]));
    // Administrative removal ignores unleavable.
    assert_eq!(
        app.grupo(&[
            ("remove", "group_members"),
            ("group", "vault"),
            ("user", "bob")
        ])
        .await["success"],
        true
    );
    let (_, b) = app
        .post_form(&[
            ("api_secret_key", &app.key),
            ("remove", "group_members"),
            ("group", "vault"),
            ("user", "bob"),
        ])
        .await;
    assert_eq!(
        b,
        r#"{"success":false,"error_message":"Not A Member","error_key":"not_a_member","error_variables":["user"]}"#
    );
    assert_eq!(app.show_group("vault")["member_count"], 1);
}

#[tokio::test]
async fn joining_and_leaving_on_a_users_behalf_follows_every_rule() {
    let app = spawn_app().await;
    user(&app, "ada").await;
    group(&app, json!({"name": "Open", "slug": "open"})).await;
    group(
        &app,
        json!({"name": "Locked", "slug": "locked", "password": "sesame"}),
    )
    .await;
    group(
        &app,
        json!({"name": "Hidden", "slug": "hidden", "secret": true}),
    )
    .await;
    group(
        &app,
        json!({"name": "Forever", "slug": "forever", "unleavable": true}),
    )
    .await;
    let join = |g: &str, pw: Option<&str>| {
        let mut body = json!({"group": g});
        if let Some(p) = pw {
            body["password"] = json!(p);
        }
        app.rest("POST", "/api/v1/users/ada/groups", Some(body))
    };
    let (s, v) = join("open", None).await;
    assert_eq!(
        (s, v["role"].as_str(), v["group"]["member_count"].as_i64()),
        (201, Some("member"), Some(1))
    );
    let (s, v) = join("open", None).await;
    assert_eq!(
        (s, v["error"]["key"].as_str()),
        (409, Some("already_a_member"))
    );
    for pw in [None, Some("wrong")] {
        let (s, v) = join("locked", pw).await;
        assert_eq!(
            (s, v["error"]["key"].as_str()),
            (403, Some("invalid_group_password"))
        );
    }
    assert_eq!(join("locked", Some("sesame")).await.0, 201);
    // A secret group is not even found by a non-member.
    let (s, v) = join("hidden", None).await;
    assert_eq!(
        (s, v["error"]["key"].as_str()),
        (404, Some("group_not_found"))
    );
    assert_eq!(join("forever", None).await.0, 201);
    let (s, v) = app
        .rest("DELETE", "/api/v1/users/ada/groups/forever", None)
        .await;
    assert_eq!(
        (s, v["error"]["key"].as_str()),
        (403, Some("group_unleavable"))
    );
    assert_eq!(
        app.rest("DELETE", "/api/v1/users/ada/groups/open", None)
            .await
            .0,
        204
    );
    let (s, v) = app
        .rest("DELETE", "/api/v1/users/ada/groups/open", None)
        .await;
    assert_eq!((s, v["error"]["key"].as_str()), (404, Some("not_a_member")));
    let (s, v) = app
        .rest(
            "POST",
            "/api/v1/users/nobody/groups",
            Some(json!({"group": "open"})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["key"].as_str()),
        (404, Some("account_not_found"))
    );
    // The administrator can still put ada in the secret group; then she sees it.
    let (s, _) = app
        .rest(
            "POST",
            "/api/v1/groups/hidden/members",
            Some(json!({"user": "ada"})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, v) = app
        .rest(
            "POST",
            "/api/v1/groups/hidden/members",
            Some(json!({"user": "ada", "role": "admin"})),
        )
        .await;
    assert_eq!((s, v["added"].as_bool()), (200, Some(false)));
}

#[tokio::test]
async fn what_a_user_sees_and_what_the_administrator_sees() {
    let app = spawn_app().await;
    user(&app, "ada").await;
    user(&app, "bob").await;
    let a = group(&app, json!({"name": "Alpha"})).await;
    let secret = group(&app, json!({"name": "Secret", "secret": true})).await;
    let pinned = group(&app, json!({"name": "Pinned", "pinned": true})).await;
    let secret_pinned = group(
        &app,
        json!({"name": "Secret pinned", "secret": true, "pinned": true}),
    )
    .await;
    app.rest(
        "POST",
        &format!("/api/v1/groups/{secret}/members"),
        Some(json!({"user": "ada"})),
    )
    .await;
    let ids = |v: &Value, path: &str| -> Vec<i64> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.pointer(path).unwrap().as_i64().unwrap())
            .collect()
    };
    // The administrator sees all, pinned first (built-ins 1-3 are secret, unpinned).
    let (_, v) = app.rest("GET", "/api/v1/groups", None).await;
    assert_eq!(ids(&v, "/id"), [pinned, secret_pinned, 1, 2, 3, a, secret]);
    // Ada sees the public ones and the secret one she is in; Bob only the public ones.
    let (_, v) = app.rest("GET", "/api/v1/users/ada/groups", None).await;
    assert_eq!(ids(&v, "/group/id"), [pinned, a, secret]);
    let roles: Vec<Value> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["role"].clone())
        .collect();
    assert_eq!(roles, [Value::Null, Value::Null, json!("member")]);
    let (_, v) = app.rest("GET", "/api/v1/users/bob/groups", None).await;
    assert_eq!(ids(&v, "/group/id"), [pinned, a]);
    // Filters.
    let (_, v) = app
        .rest("GET", "/api/v1/groups?visibility=public", None)
        .await;
    assert_eq!(ids(&v, "/id"), [pinned, a]);
    let (_, v) = app
        .rest("GET", "/api/v1/groups?name_prefix=SEC", None)
        .await;
    assert_eq!(ids(&v, "/id"), [secret_pinned, secret]);
    let (_, c) = app
        .rest("POST", "/api/v1/categories", Some(json!({"name": "Sport"})))
        .await;
    app.rest(
        "PATCH",
        &format!("/api/v1/groups/{a}"),
        Some(json!({"category_id": c["id"]})),
    )
    .await;
    let (_, v) = app
        .rest(
            "GET",
            &format!("/api/v1/groups?category_id={}", c["id"]),
            None,
        )
        .await;
    assert_eq!(ids(&v, "/id"), [a]);
    for (visibility, expected) in [("public", vec![a]), ("secret", vec![])] {
        let (_, v) = app
            .rest(
                "GET",
                &format!(
                    "/api/v1/groups?category_id={}&visibility={visibility}",
                    c["id"]
                ),
                None,
            )
            .await;
        assert_eq!(ids(&v, "/id"), expected, "{visibility}");
    }
    let (s, v) = app
        .rest("GET", "/api/v1/groups?visibility=hidden", None)
        .await;
    assert_eq!(
        (s, v["error"]["fields"][0]["name"].as_str()),
        (422, Some("visibility"))
    );
}

#[tokio::test]
async fn lists_page_with_opaque_cursors() {
    let app = spawn_app().await;
    let mut made = vec![1, 2, 3];
    for i in 0..8 {
        made.push(group(&app, json!({"name": format!("G{i}"), "pinned": i % 3 == 0})).await);
    }
    let mut expected: Vec<i64> = made
        .iter()
        .copied()
        .filter(|id| *id > 3 && (id - 4) % 3 == 0)
        .collect();
    expected.extend(
        made.iter()
            .copied()
            .filter(|id| *id <= 3 || (id - 4) % 3 != 0),
    );
    let mut seen = Vec::new();
    let mut path = "/api/v1/groups?limit=3".to_string();
    loop {
        let (s, v) = app.rest("GET", &path, None).await;
        assert_eq!(s, 200);
        seen.extend(
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["id"].as_i64().unwrap()),
        );
        match v["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/groups?limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, expected);
    for bad in [
        "cursor=nonsense",
        "cursor=dTo1",
        "limit=0",
        "limit=5000",
        "limit=x",
    ] {
        let (s, v) = app
            .rest("GET", &format!("/api/v1/groups?{bad}"), None)
            .await;
        assert_eq!(
            (s, v["error"]["key"].as_str()),
            (422, Some("invalid_value")),
            "{bad}"
        );
    }
    // Members page by user id.
    for n in ["usr1", "usr2", "usr3", "usr4", "usr5"] {
        user(&app, n).await;
    }
    let users: Vec<String> = (1..=5).map(|i| format!("usr{i}")).collect();
    let (s, v) = app
        .rest(
            "POST",
            "/api/v1/groups/4/members/bulk-add",
            Some(json!({"users": users})),
        )
        .await;
    assert_eq!((s, v["changed"].as_u64()), (200, Some(5)));
    let (_, p1) = app
        .rest("GET", "/api/v1/groups/4/members?limit=2", None)
        .await;
    let c = p1["next_cursor"].as_str().unwrap();
    let (_, p2) = app
        .rest(
            "GET",
            &format!("/api/v1/groups/4/members?limit=2&cursor={c}"),
            None,
        )
        .await;
    assert_eq!(p2["items"][0]["user"]["username"], "usr3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_joins_never_pass_limit_user() {
    let app = Arc::new(spawn_app().await);
    let g = group(
        &app,
        json!({"name": "Five places", "slug": "five", "limits": {"user": {"amount": 5}}}),
    )
    .await;
    for i in 0..40 {
        user(&app, &format!("racer{i}")).await;
    }
    let mut tasks = Vec::new();
    for i in 0..40 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            app.rest(
                "POST",
                &format!("/api/v1/users/racer{i}/groups"),
                Some(json!({"group": "five"})),
            )
            .await
        }));
    }
    let mut joined = 0;
    for t in tasks {
        let (s, v) = t.await.unwrap();
        match s {
            201 => joined += 1,
            409 => assert_eq!(v["error"]["key"], "group_full"),
            other => panic!("unexpected {other}: {v}"),
        }
    }
    assert_eq!(joined, 5);
    let (_, v) = app
        .rest(
            "GET",
            &format!("/api/v1/groups/{g}/members?limit=100"),
            None,
        )
        .await;
    assert_eq!(v["items"].as_array().unwrap().len(), 5);
    assert_eq!(app.show_group("five")["member_count"], 5);
}

#[tokio::test]
async fn bulk_changes_are_all_or_nothing() {
    let app = spawn_app().await;
    for i in 0..10 {
        user(&app, &format!("bk{i}")).await;
    }
    group(
        &app,
        json!({"name": "Bulk", "slug": "bulk", "limits": {"user": {"amount": 8}}}),
    )
    .await;
    let names: Vec<String> = (0..10).map(|i| format!("bk{i}")).collect();
    // Too many for the limit: nothing added.
    let (s, v) = app
        .rest(
            "POST",
            "/api/v1/groups/bulk/members/bulk-add",
            Some(json!({"users": names})),
        )
        .await;
    assert_eq!((s, v["error"]["key"].as_str()), (409, Some("group_full")));
    // One unknown user: nothing added, the bad one named.
    let (s, v) = app
        .rest(
            "POST",
            "/api/v1/groups/bulk/members/bulk-add",
            Some(json!({"users": ["bk0", "ghost", "bk1"]})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["fields"][0]["name"].as_str()),
        (422, Some("users[1]"))
    );
    assert_eq!(app.show_group("bulk")["member_count"], 0);
    let (s, v) = app
        .rest(
            "POST",
            "/api/v1/groups/bulk/members/bulk-add",
            Some(json!({"users": &names[..8], "role": "moderator"})),
        )
        .await;
    assert_eq!((s, v["changed"].as_u64()), (200, Some(8)));
    let (s, v) = app
        .rest(
            "POST",
            "/api/v1/groups/bulk/members/bulk-remove",
            Some(json!({"users": ["bk0", "bk1", "bk9"]})),
        )
        .await;
    assert_eq!((s, v["changed"].as_u64()), (200, Some(2)));
    assert_eq!(app.show_group("bulk")["member_count"], 6);
    let many: Vec<String> = (0..1001).map(|i| format!("x{i}")).collect();
    let (s, _) = app
        .rest(
            "POST",
            "/api/v1/groups/bulk/members/bulk-add",
            Some(json!({"users": many})),
        )
        .await;
    assert_eq!(s, 422);
    // Removing a user removes their memberships.
    assert_eq!(app.rest("DELETE", "/api/v1/users/bk2", None).await.0, 204);
    assert_eq!(app.show_group("bulk")["member_count"], 5);
}

#[tokio::test]
async fn removed_groups_hand_their_members_to_the_successor() {
    let app = spawn_app().await;
    for n in ["mem1", "mem2", "mem3"] {
        user(&app, n).await;
    }
    let old = group(&app, json!({"name": "Old"})).await;
    let new = group(
        &app,
        json!({"name": "New", "limits": {"user": {"amount": 2}}}),
    )
    .await;
    app.rest(
        "POST",
        &format!("/api/v1/groups/{old}/members/bulk-add"),
        Some(json!({"users": ["mem1", "mem2", "mem3"]})),
    )
    .await;
    app.rest(
        "POST",
        &format!("/api/v1/groups/{new}/members"),
        Some(json!({"user": "mem1"})),
    )
    .await;
    // m2 and m3 would make three: refused, nothing changes.
    let (s, v) = app
        .rest(
            "DELETE",
            &format!("/api/v1/groups/{old}?successor={new}"),
            None,
        )
        .await;
    assert_eq!((s, v["error"]["key"].as_str()), (409, Some("group_full")));
    app.rest(
        "PATCH",
        &format!("/api/v1/groups/{new}"),
        Some(json!({"limits": {"user": null}})),
    )
    .await;
    // Through ActiveCampaign's group_delete with alt.
    let r = app
        .client
        .get(format!("{}/admin/api.php?api_action=group_delete&api_output=json&id={old}&alt={new}&api_key={}", app.address, app.key))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(r.contains("Group deleted"), "{r}");
    let (_, v) = app
        .rest("GET", &format!("/api/v1/groups/{new}/members"), None)
        .await;
    let names: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"]["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["mem1", "mem2", "mem3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_users_with_one_username_make_one_user() {
    let app = Arc::new(spawn_app().await);
    let mut tasks = Vec::new();
    for i in 0..30 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let name = if i % 2 == 0 { "Same" } else { "same" };
            app.rest(
                "POST",
                "/api/v1/users",
                Some(json!({"full_name": "S", "username": name, "email": format!("s{i}@x.org"), "password": "secret-pw"})),
            )
            .await
        }));
    }
    let mut created = 0;
    for t in tasks {
        let (s, v) = t.await.unwrap();
        if s == 201 {
            created += 1;
        } else {
            assert_eq!(
                (s, v["error"]["key"].as_str()),
                (409, Some("username_exists"))
            );
        }
    }
    assert_eq!(created, 1);
}

#[tokio::test]
async fn rest_status_codes_and_idempotency() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/api/v1/groups"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"error":{"key":"invalid_api_secret_key","message":"Invalid or missing API key","fields":[]}}"#
    );
    let r = app
        .client
        .post(app.url("/api/v1/groups"))
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let (s, v) = app
        .rest(
            "POST",
            "/api/v1/groups",
            Some(json!({"description": "no name"})),
        )
        .await;
    assert_eq!(
        (
            s,
            v["error"]["key"].as_str(),
            v["error"]["fields"][0]["name"].as_str()
        ),
        (422, Some("invalid_value"), Some("name"))
    );
    let (s, _) = app
        .rest(
            "POST",
            "/api/v1/groups",
            Some(json!({"name": "x", "colour": "red"})),
        )
        .await;
    assert_eq!(s, 422);
    let (s, v) = app.rest("GET", "/api/v1/groups/404", None).await;
    assert_eq!(
        (s, v["error"]["key"].as_str()),
        (404, Some("group_not_found"))
    );
    group(&app, json!({"name": "A", "slug": "a-slug"})).await;
    let (s, v) = app
        .rest(
            "POST",
            "/api/v1/groups",
            Some(json!({"name": "B", "slug": "A-SLUG"})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["key"].as_str()),
        (409, Some("slug_already_exists"))
    );
    let (s, v) = app.rest("DELETE", "/api/v1/groups/3", None).await;
    assert_eq!(
        (s, v["error"]["key"].as_str()),
        (403, Some("permission_denied"))
    );
    assert_eq!(
        app.rest("DELETE", "/api/v1/groups/a-slug", None).await.0,
        204
    );
    // Idempotency-Key: same key and body, one group, the same answer.
    let body = json!({"name": "Once"});
    let h = [("Idempotency-Key", "key-1")];
    let (s1, v1) = app
        .rest_with("POST", "/api/v1/groups", Some(body.clone()), &h)
        .await;
    let (s2, v2) = app
        .rest_with("POST", "/api/v1/groups", Some(body.clone()), &h)
        .await;
    assert_eq!((s1, s2), (201, 201));
    assert_eq!(v1, v2);
    assert_eq!(
        app.all_groups()
            .iter()
            .filter(|g| g["name"] == "Once")
            .count(),
        1
    );
    let (s, v) = app
        .rest_with("POST", "/api/v1/groups", Some(json!({"name": "Other"})), &h)
        .await;
    assert_eq!(
        (s, v["error"]["key"].as_str()),
        (422, Some("idempotency_key_reused"))
    );
    // Keys are per workspace.
    let other = groupd_ok(&app.dir, &["workspace", "create", "other"])
        .trim()
        .to_string();
    let r = app
        .client
        .post(app.url("/api/v1/groups"))
        .bearer_auth(&other)
        .header("Idempotency-Key", "key-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn the_openapi_document_covers_every_route() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/groups",
        "/api/v1/groups/{group}",
        "/api/v1/groups/{group}/members",
        "/api/v1/groups/{group}/members/{user}",
        "/api/v1/groups/{group}/members/bulk-add",
        "/api/v1/groups/{group}/members/bulk-remove",
        "/api/v1/users",
        "/api/v1/users/{user}",
        "/api/v1/users/{user}/groups",
        "/api/v1/users/{user}/groups/{group}",
        "/api/v1/categories",
        "/api/v1/categories/{id}",
        "/api/v1/fields",
        "/api/v1/fields/{id}",
    ] {
        assert!(paths.contains_key(p), "{p} missing");
    }
    assert!(doc["components"]["schemas"]["GroupOut"]["example"].is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

/// A REST create answers with the group as made, without reading it back; the
/// answer must be exactly what a later GET shows, for a group using every column.
#[tokio::test]
async fn rest_create_answers_what_get_shows() {
    let app = spawn_app().await;
    let (s, c) = app
        .rest("POST", "/api/v1/categories", Some(json!({"name": "Chess"})))
        .await;
    assert_eq!(s, 201, "{c}");
    let (s, f) = app
        .rest(
            "POST",
            "/api/v1/fields",
            Some(json!({"name": "Room", "type": "short_text"})),
        )
        .await;
    assert_eq!(s, 201, "{f}");
    let field = f["id"].to_string();
    let (s, made) = app
        .rest(
            "POST",
            "/api/v1/groups",
            Some(json!({
                "name": "  Chess <b>Club</b> ",
                "description": "Tuesdays & Thursdays",
                "category_id": c["id"],
                "slug": "Chess-Club",
                "secret": true,
                "unleavable": true,
                "pinned": true,
                "password": "sesame-pass",
                "custom_fields": {field: "Hall 2 \"B\""},
                "permissions": {"list_add": true},
                "limits": {"mail": {"amount": 5, "period": "week"}},
                "unsubscribe_link": true,
                "abuse_ratio": 7,
                "lists": [3, 1],
                "send_methods": [2],
            })),
        )
        .await;
    assert_eq!(s, 201, "{made}");
    let (s, shown) = app
        .rest("GET", &format!("/api/v1/groups/{}", made["id"]), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(made, shown);
    assert_eq!(made["name"], "Chess Club");
}

/// Member counts are kept apart from the rows they count (on PostgreSQL, in
/// slots that adds write without waiting on each other): after many changes of
/// every kind, run concurrently through REST and Grupo, every count groupd shows
/// (REST's group and list, the CLI) equals a count of the membership rows.
#[tokio::test]
async fn member_counts_match_the_rows_after_any_mix_of_changes() {
    let app = Arc::new(spawn_app().await);
    let groups = [
        group(&app, json!({"name": "Mix open", "slug": "mix-open"})).await,
        group(&app, json!({"name": "Mix other", "slug": "mix-other"})).await,
        group(
            &app,
            json!({"name": "Mix limited", "slug": "mix-limited", "limits": {"user": {"amount": 12}}}),
        )
        .await,
    ];
    let slugs = ["mix-open", "mix-other", "mix-limited"];
    for i in 0..48 {
        user(&app, &format!("mixer{i}")).await;
    }
    // A fixed pseudo-random plan (xorshift), so a failure can be replayed.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let mut tasks = Vec::new();
    for step in 0..640 {
        let app = app.clone();
        let slug = slugs[next(3) as usize];
        let who = format!("mixer{}", next(48));
        let others: Vec<String> = (0..1 + next(6))
            .map(|_| format!("mixer{}", next(48)))
            .collect();
        let kind = if step % 80 == 79 { 9 } else { next(8) };
        tasks.push(tokio::spawn(async move {
            let status = match kind {
                0 | 1 => {
                    app.rest(
                        "POST",
                        &format!("/api/v1/groups/{slug}/members"),
                        Some(json!({"user": who})),
                    )
                    .await
                    .0
                }
                2 => {
                    app.rest(
                        "POST",
                        &format!("/api/v1/groups/{slug}/members/bulk-add"),
                        Some(json!({"users": others})),
                    )
                    .await
                    .0
                }
                3 => {
                    app.rest(
                        "DELETE",
                        &format!("/api/v1/groups/{slug}/members/{who}"),
                        None,
                    )
                    .await
                    .0
                }
                4 => {
                    app.rest(
                        "POST",
                        &format!("/api/v1/groups/{slug}/members/bulk-remove"),
                        Some(json!({"users": others})),
                    )
                    .await
                    .0
                }
                5 => {
                    app.rest(
                        "POST",
                        &format!("/api/v1/users/{who}/groups"),
                        Some(json!({"group": slug})),
                    )
                    .await
                    .0
                }
                6 => {
                    let v = app
                        .grupo(&[("add", "group_members"), ("group", slug), ("user", &who)])
                        .await;
                    if v["error_key"].is_null() { 200 } else { 409 }
                }
                7 => {
                    let v = app
                        .grupo(&[("remove", "group_members"), ("group", slug), ("user", &who)])
                        .await;
                    if v["error_key"].is_null() { 200 } else { 404 }
                }
                // Now and then a user goes, with all their memberships.
                _ => {
                    app.rest("DELETE", &format!("/api/v1/users/{who}"), None)
                        .await
                        .0
                }
            };
            assert!(status < 500, "step {step} answered {status}");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (_, list) = app.rest("GET", "/api/v1/groups?limit=100", None).await;
    for (g, slug) in groups.iter().zip(slugs) {
        let rows = app
            .sql_count(&format!(
                "SELECT count(*) FROM memberships WHERE group_id = {g}"
            ))
            .await;
        let (_, shown) = app.rest("GET", &format!("/api/v1/groups/{g}"), None).await;
        assert_eq!(shown["member_count"], rows, "REST GET of {slug}");
        let listed = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == *g)
            .expect("the group in the list");
        assert_eq!(listed["member_count"], rows, "REST list of {slug}");
        assert_eq!(app.show_group(slug)["member_count"], rows, "CLI of {slug}");
        if slug == "mix-limited" {
            assert!(rows <= 12, "the limited group holds {rows}");
        }
    }
}

/// A deactivated user (SCIM's `active: false`) keeps their memberships but gains
/// none: joining, an administrative add and a bulk add are refused, through REST
/// and Grupo; their role in a group they are in may still change, and removals
/// work.
#[tokio::test]
async fn deactivated_users_keep_their_groups_but_join_no_more() {
    let app = spawn_app().await;
    let ada = user(&app, "ada").await;
    user(&app, "bob").await;
    group(&app, json!({"name": "Kept", "slug": "kept"})).await;
    group(&app, json!({"name": "Open", "slug": "open"})).await;
    let (s, _) = app
        .rest(
            "POST",
            "/api/v1/groups/kept/members",
            Some(json!({"user": "ada"})),
        )
        .await;
    assert_eq!(s, 201);
    app.sql(&format!("UPDATE users SET active = FALSE WHERE id = {ada}"))
        .await;
    let (s, v) = app
        .rest(
            "POST",
            "/api/v1/users/ada/groups",
            Some(json!({"group": "open"})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["key"].as_str()),
        (409, Some("user_inactive")),
        "{v}"
    );
    let (s, v) = app
        .rest(
            "POST",
            "/api/v1/groups/open/members",
            Some(json!({"user": "ada"})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["key"].as_str()),
        (409, Some("user_inactive")),
        "{v}"
    );
    let v = app
        .grupo(&[("add", "group_members"), ("group", "open"), ("user", "ada")])
        .await;
    assert_eq!(v["error_key"], "user_inactive");
    let (s, v) = app
        .rest(
            "POST",
            "/api/v1/groups/open/members/bulk-add",
            Some(json!({"users": ["bob", "ada"]})),
        )
        .await;
    assert_eq!(s, 422, "all or none: {v}");
    assert!(v.to_string().contains("deactivated"), "{v}");
    assert_eq!(app.show_group("open")["member_count"], 0);
    // Kept: the membership, and a role change in it.
    let (s, v) = app
        .rest(
            "POST",
            "/api/v1/groups/kept/members",
            Some(json!({"user": "ada", "role": "moderator"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(app.show_group("kept")["member_count"], 1);
    let (s, _) = app
        .rest("DELETE", "/api/v1/groups/kept/members/ada", None)
        .await;
    assert_eq!(s, 204);
    // Active again: joins again.
    app.sql(&format!("UPDATE users SET active = TRUE WHERE id = {ada}"))
        .await;
    let (s, _) = app
        .rest(
            "POST",
            "/api/v1/users/ada/groups",
            Some(json!({"group": "open"})),
        )
        .await;
    assert_eq!(s, 201);
}
