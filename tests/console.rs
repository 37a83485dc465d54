//! The admin console over HTTP: every page and form, signed in with a key or an
//! admin's password, against the real binary (on SQLite, and on PostgreSQL when
//! GROUPD_TEST_ENGINE=postgres). The browser tests are in `console_browser.rs`.

mod common;

use common::{TestApp, groupd_ok, spawn_app};
use serde_json::{Value, json};

/// A console visitor: a client that does not follow redirects, with the session
/// cookie kept by hand.
struct Visitor<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    cookie: Option<String>,
}

struct Answer {
    status: u16,
    location: String,
    set_cookie: String,
    body: String,
}

impl<'a> Visitor<'a> {
    fn new(app: &'a TestApp) -> Visitor<'a> {
        Visitor {
            app,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
        }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Answer {
        let req = match &self.cookie {
            Some(c) => req.header("cookie", format!("groupd_console={c}")),
            None => req,
        };
        let r = req.send().await.expect("request");
        let header = |name: &str| {
            r.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let (status, location, set_cookie) = (
            r.status().as_u16(),
            header("location"),
            header("set-cookie"),
        );
        if let Some(v) = set_cookie
            .strip_prefix("groupd_console=")
            .and_then(|v| v.split(';').next())
        {
            self.cookie = (!v.is_empty()).then(|| v.to_string());
        }
        Answer {
            status,
            location,
            set_cookie,
            body: r.text().await.expect("body"),
        }
    }

    async fn get(&mut self, path: &str) -> Answer {
        let req = self.client.get(self.app.url(path));
        self.send(req).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let req = self.client.post(self.app.url(path)).form(fields);
        self.send(req).await
    }

    /// A form with this page's CSRF token added.
    async fn submit(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let token = self.csrf().await;
        let mut all = vec![("_csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all).await
    }

    async fn submit_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, Vec<u8>)>,
    ) -> Answer {
        let mut form = reqwest::multipart::Form::new().text("_csrf", self.csrf().await);
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        if let Some((name, bytes)) = file {
            form = form.part(
                name.to_string(),
                reqwest::multipart::Part::bytes(bytes)
                    .file_name("icon.png")
                    .mime_str("image/png")
                    .unwrap(),
            );
        }
        let req = self.client.post(self.app.url(path)).multipart(form);
        self.send(req).await
    }

    async fn csrf(&mut self) -> String {
        let page = self.get("/console/").await;
        assert_eq!(page.status, 200, "signed in: {}", page.body);
        attr_after(&page.body, "name=\"_csrf\" value=\"").expect("a CSRF token")
    }

    async fn sign_in_key(&mut self, key: &str) -> Answer {
        self.post(
            "/console/sign-in",
            &[("method", "key"), ("key", key), ("next", "/console/groups")],
        )
        .await
    }

    async fn sign_in_password(&mut self, username: &str, password: &str) -> Answer {
        self.post(
            "/console/sign-in",
            &[
                ("method", "password"),
                ("workspace", "default"),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }
}

fn attr_after(body: &str, marker: &str) -> Option<String> {
    let start = body.find(marker)? + marker.len();
    let end = body[start..].find('"')? + start;
    Some(body[start..end].to_string())
}

async fn signed_in(app: &TestApp) -> Visitor<'_> {
    let mut v = Visitor::new(app);
    let a = v.sign_in_key(&app.key).await;
    assert_eq!((a.status, a.location.as_str()), (303, "/console/groups"));
    v
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 7) as u8, (y * 5) as u8, 200])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn events(app: &TestApp, query: &str) -> Vec<Value> {
    let (s, page) = app
        .rest("GET", &format!("/api/v1/events?limit=1000{query}"), None)
        .await;
    assert_eq!(s, 200);
    page["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn every_page_needs_a_session_and_answers_with_one() {
    let app = spawn_app().await;
    let (_, g) = app
        .rest(
            "POST",
            "/api/v1/groups",
            Some(json!({"name": "Page Group"})),
        )
        .await;
    let (_, u) = app
        .rest(
            "POST",
            "/api/v1/users",
            Some(json!({"full_name": "Pat", "username": "pat", "email": "pat@example.com", "password": "pw-123456"})),
        )
        .await;
    let (_, w) = app
        .rest(
            "POST",
            "/api/v1/webhooks",
            Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["*"]})),
        )
        .await;
    let pages = [
        ("/console/".to_string(), "Connecting clients"),
        ("/console/groups".to_string(), "Page Group"),
        ("/console/groups/new".to_string(), "New group"),
        (format!("/console/groups/{}", g["id"]), "Recent events"),
        (
            format!("/console/groups/{}/edit", g["id"]),
            "Edit Page Group",
        ),
        ("/console/users".to_string(), "pat"),
        ("/console/users/new".to_string(), "New user"),
        (format!("/console/users/{}", u["id"]), "pat@example.com"),
        ("/console/schema".to_string(), "Custom fields"),
        ("/console/keys".to_string(), "API keys"),
        ("/console/webhooks".to_string(), "http://127.0.0.1:9/hook"),
        ("/console/webhooks/new".to_string(), "New endpoint"),
        (format!("/console/webhooks/{}", w["id"]), "Deliveries"),
        ("/console/events".to_string(), "group.created"),
    ];
    let mut anonymous = Visitor::new(&app);
    for (path, _) in &pages {
        let a = anonymous.get(path).await;
        assert_eq!(a.status, 303, "{path} without a session");
        assert!(
            a.location.starts_with("/console/sign-in?next="),
            "{path}: {}",
            a.location
        );
    }
    let mut v = signed_in(&app).await;
    for (path, text) in &pages {
        let a = v.get(path).await;
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        assert!(a.body.contains(text), "{path} shows {text}");
        assert!(a.body.contains("/console/assets/console.css"));
    }
    let css = v.get("/console/assets/console.css").await;
    assert_eq!(css.status, 200);
    assert!(css.body.contains("--accent"));
    let js = v.get("/console/assets/console.js").await;
    assert!(js.body.contains("data-copy"));
    assert_eq!(v.get("/console/nowhere").await.status, 404);
    assert_eq!(v.get("/console/groups/999999").await.status, 404);
    assert_eq!(v.get("/console/webhooks/x").await.status, 404);
    // A query or path the console cannot read gets a console page, not axum's text.
    for bad in [
        "/console/users?after=abc",
        "/console/groups/1?after=x",
        "/console/webhooks/1?before=%ff",
    ] {
        let a = v.get(bad).await;
        assert_eq!(a.status, 400, "{bad}");
        assert!(
            a.body.starts_with("<!DOCTYPE html>") && a.body.contains("cannot be read"),
            "{bad}: {}",
            a.body
        );
    }
    // The overview's snippets carry this server's address.
    let overview = v.get("/console/").await;
    assert!(
        overview
            .body
            .contains(&format!("{}/api_request/", app.address))
    );
    assert!(overview.body.contains("api_action=group_add"));
}

#[tokio::test]
async fn a_key_signs_in_with_a_strict_cookie_and_signing_out_ends_the_session() {
    let app = spawn_app().await;
    let mut v = Visitor::new(&app);
    let a = v.sign_in_key(&app.key).await;
    assert_eq!(a.status, 303);
    for part in ["Path=/console", "HttpOnly", "SameSite=Strict"] {
        assert!(a.set_cookie.contains(part), "{part} in {}", a.set_cookie);
    }
    assert!(!a.set_cookie.contains("Secure"), "plain http: no Secure");
    let page = v.get("/console/").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.body.matches("Cache-Control").count(),
        0,
        "headers are not in the body"
    );
    let stolen = v.cookie.clone();
    let out = v.submit("/console/sign-out", &[]).await;
    assert_eq!(
        (out.status, out.location.as_str()),
        (303, "/console/sign-in?signed_out=1")
    );
    assert!(out.set_cookie.contains("Max-Age=0"));
    // The old cookie, replayed, no longer opens anything.
    v.cookie = stolen;
    let a = v.get("/console/groups").await;
    assert_eq!(a.status, 303);
    assert!(a.location.contains("ended=1"), "{}", a.location);
    // A wrong key is refused beside the field.
    let mut w = Visitor::new(&app);
    let bad = w.sign_in_key("gk_notakeyatall").await;
    assert_eq!(bad.status, 401);
    assert!(bad.body.contains("This key is not valid"));
    assert!(w.cookie.is_none());
    // Behind an https proxy the cookie is Secure.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url("/console/sign-in"))
        .header("x-forwarded-proto", "https")
        .form(&[("method", "key"), ("key", app.key.as_str())])
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("; Secure"), "{cookie}");
    // Pages are never cached and never framed.
    let r = reqwest::Client::new()
        .get(app.url("/console/sign-in"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
}

#[tokio::test]
async fn a_refused_csrf_token_changes_nothing() {
    let app = spawn_app().await;
    let mut v = signed_in(&app).await;
    for token in [None, Some("forged"), Some("")] {
        let mut fields = vec![("name", "Sneaky")];
        if let Some(t) = token {
            fields.push(("_csrf", t));
        }
        let a = v.post("/console/categories", &fields).await;
        assert_eq!(a.status, 403, "token {token:?}");
        assert!(a.body.contains("CSRF"));
    }
    // Another session's token does not fit this one.
    let mut other = signed_in(&app).await;
    let theirs = other.csrf().await;
    let a = v
        .post(
            "/console/categories",
            &[("name", "Sneaky"), ("_csrf", &theirs)],
        )
        .await;
    assert_eq!(a.status, 403);
    let (_, cats) = app.rest("GET", "/api/v1/categories", None).await;
    assert!(!cats.to_string().contains("Sneaky"), "{cats}");
    // The right token works.
    let a = v.submit("/console/categories", &[("name", "Fine")]).await;
    assert_eq!(a.status, 303);
    let (_, cats) = app.rest("GET", "/api/v1/categories", None).await;
    assert!(cats.to_string().contains("Fine"));
}

#[tokio::test]
async fn an_expired_session_is_refused_and_removed() {
    let app = spawn_app().await;
    let mut v = signed_in(&app).await;
    assert_eq!(v.get("/console/").await.status, 200);
    // Thirty-one minutes without use (the default idle time is thirty).
    app.sql("UPDATE console_sessions SET seen_at = seen_at - 1860, created_at = created_at - 1860")
        .await;
    let a = v.get("/console/groups").await;
    assert_eq!(a.status, 303);
    assert_eq!(
        a.location,
        "/console/sign-in?next=%2Fconsole%2Fgroups&ended=1"
    );
    assert!(a.set_cookie.contains("Max-Age=0"));
    let notice = v.get(&a.location).await;
    assert!(notice.body.contains("Your session has ended"));
    // A form posted with the ended session is not carried out.
    let mut again = signed_in(&app).await;
    let token = again.csrf().await;
    app.sql("UPDATE console_sessions SET seen_at = seen_at - 1860")
        .await;
    let a = again
        .post(
            "/console/categories",
            &[("name", "Late"), ("_csrf", &token)],
        )
        .await;
    assert_eq!(a.status, 303);
    assert!(a.location.starts_with("/console/sign-in"));
    let (_, cats) = app.rest("GET", "/api/v1/categories", None).await;
    assert!(!cats.to_string().contains("Late"));
}

#[tokio::test]
async fn only_admins_of_the_admin_group_sign_in_with_a_password() {
    let app = spawn_app().await;
    let (s, u) = app
        .rest(
            "POST",
            "/api/v1/users",
            Some(json!({"full_name": "Ada", "username": "ada", "email": "ada@example.com", "password": "correct-horse"})),
        )
        .await;
    assert_eq!(s, 201);
    let mut v = Visitor::new(&app);
    let a = v.sign_in_password("ada", "correct-horse").await;
    assert_eq!(a.status, 403, "not in the Admin group");
    assert!(a.body.contains("does not hold the admin role"));
    assert!(v.cookie.is_none());
    // The Admin group's id, from the group list (built in, secret).
    let admin = app.admin_group_id().await;
    let path = format!("/api/v1/groups/{admin}/members");
    let (s, _) = app
        .rest(
            "POST",
            &path,
            Some(json!({"user": "ada", "role": "member"})),
        )
        .await;
    assert!(s == 200 || s == 201, "{s}");
    assert_eq!(v.sign_in_password("ada", "correct-horse").await.status, 403);
    let (s, _) = app
        .rest("POST", &path, Some(json!({"user": "ada", "role": "admin"})))
        .await;
    assert!(s == 200 || s == 201, "{s}");
    let wrong = v.sign_in_password("ada", "wrong-horse").await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("username or password is wrong"));
    assert_eq!(
        v.sign_in_password("nobody", "correct-horse").await.status,
        401
    );
    let a = v.sign_in_password("ADA@example.com", "correct-horse").await;
    assert_eq!(a.status, 303, "by email, any case: {}", a.body);
    let page = v.get("/console/").await;
    assert!(page.body.contains("ada"));
    // What a signed-in user changes is an event by user:<id> through the console.
    let a = v.submit("/console/categories", &[("name", "By Ada")]).await;
    assert_eq!(a.status, 303);
    let made = events(&app, "&type=category.created").await;
    let last = made.last().unwrap();
    assert_eq!(last["actor"], format!("user:{}", u["id"]));
    assert_eq!(last["door"], "console");
    // Losing the admin role ends the session at its next request.
    let (s, _) = app
        .rest(
            "POST",
            &path,
            Some(json!({"user": "ada", "role": "member"})),
        )
        .await;
    assert!(s == 200 || s == 201);
    let a = v.get("/console/").await;
    assert_eq!(a.status, 303);
    assert!(a.location.contains("ended=1"));
    // A deactivated admin (as an identity provider leaves them) cannot sign in,
    // and a session opened before ends; so does a user without a password.
    let (s, _) = app
        .rest("POST", &path, Some(json!({"user": "ada", "role": "admin"})))
        .await;
    assert!(s == 200 || s == 201);
    let mut w = Visitor::new(&app);
    assert_eq!(w.sign_in_password("ada", "correct-horse").await.status, 303);
    app.sql(&format!(
        "UPDATE users SET active = FALSE WHERE id = {}",
        u["id"]
    ))
    .await;
    let a = w.get("/console/").await;
    assert!(a.location.contains("ended=1"), "{}", a.status);
    let refused = Visitor::new(&app)
        .sign_in_password("ada", "correct-horse")
        .await;
    assert_eq!(refused.status, 401, "refused like a wrong password");
    app.sql(&format!(
        "UPDATE users SET active = TRUE, password_hash = '' WHERE id = {}",
        u["id"]
    ))
    .await;
    for password in ["correct-horse", ""] {
        let refused = Visitor::new(&app).sign_in_password("ada", password).await;
        assert_eq!(refused.status, 401, "no password: {password:?}");
    }
}

#[tokio::test]
async fn repeated_failed_sign_ins_are_slowed_down() {
    let app = spawn_app().await;
    let mut v = Visitor::new(&app);
    for _ in 0..5 {
        assert_eq!(v.sign_in_password("admin", "guess").await.status, 401);
    }
    let a = v.sign_in_password("admin", "guess").await;
    assert_eq!(a.status, 429);
    assert!(a.body.contains("Too many failed sign-ins"));
    // Even a right key waits now: the address is slowed down, not just the account.
    let a = v.sign_in_key(&app.key).await;
    assert_eq!(a.status, 429);
}

#[tokio::test]
async fn a_key_of_another_workspace_sees_and_touches_only_its_own() {
    let app = spawn_app().await;
    let out = groupd_ok(&app.dir, &["workspace", "create", "other"]);
    let other_key = out
        .split_whitespace()
        .find(|w| w.starts_with("gk_"))
        .expect("the new workspace's key")
        .to_string();
    let (_, g) = app
        .rest(
            "POST",
            "/api/v1/groups",
            Some(json!({"name": "Default Only"})),
        )
        .await;
    let mut v = Visitor::new(&app);
    assert_eq!(v.sign_in_key(&other_key).await.status, 303);
    let page = v.get("/console/").await;
    assert!(page.body.contains("Workspace <strong>other</strong>"));
    let list = v.get("/console/groups").await;
    assert!(!list.body.contains("Default Only"));
    assert_eq!(
        v.get(&format!("/console/groups/{}", g["id"])).await.status,
        404
    );
    // The default workspace's key cannot be revoked from here.
    let prefix = &app.key[3..11];
    let a = v
        .submit(&format!("/console/keys/{prefix}/revoke"), &[])
        .await;
    assert_eq!(a.status, 404);
    assert_eq!(app.rest("GET", "/api/v1/groups", None).await.0, 200);
    let keys = v.get("/console/keys").await;
    assert!(!keys.body.contains(prefix));
}

#[tokio::test]
async fn groups_are_made_edited_filled_and_removed_from_the_console() {
    let app = spawn_app().await;
    let mut v = signed_in(&app).await;
    // A dropdown field and a category, defined here.
    let a = v
        .submit(
            "/console/fields",
            &[
                ("name", "Team"),
                ("kind", "dropdown"),
                ("options", "Backend\nFrontend"),
                ("id", "10"),
            ],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let schema = v.get("/console/schema").await;
    assert!(schema.body.contains("custom_field_10"));
    assert_eq!(
        v.submit("/console/categories", &[("name", "Teams")])
            .await
            .status,
        303
    );
    // Errors come back beside the field, in the API's words, and nothing is made.
    let bad = v
        .submit_multipart(
            "/console/groups",
            &[
                ("name", ""),
                ("custom_field_10", "Sales"),
                ("policy", "1"),
                ("limit_user", "x"),
            ],
            None,
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("id=\"f-name-error\""), "{}", bad.body);
    assert!(bad.body.contains("id=\"f-custom_field_10-error\""));
    assert!(bad.body.contains("id=\"f-limit_user-error\""));
    let (_, groups) = app.rest("GET", "/api/v1/groups", None).await;
    assert_eq!(
        groups["items"].as_array().unwrap().len(),
        3,
        "built-ins only"
    );
    // A group with every kind of field, an uploaded icon and a password.
    let made = v
        .submit_multipart(
            "/console/groups",
            &[
                ("name", "Engineers"),
                ("slug", "engineers"),
                ("description", "Builders"),
                ("category_id", "2"),
                ("secret", "1"),
                ("pinned", "1"),
                ("password_action", "set"),
                ("password", "s3cret-pass"),
                ("custom_field_10", "Backend"),
                ("policy", "1"),
                ("perm_message_send", "1"),
                ("limit_user", "5"),
                ("limit_mail", "100"),
                ("limit_mail_type", "month"),
                ("abuse_ratio", "7"),
                ("lists", "3, 1"),
            ],
            Some(("icon_file", png(64, 48))),
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let id = made
        .location
        .strip_prefix("/console/groups/")
        .and_then(|r| r.split('?').next())
        .unwrap()
        .to_string();
    let (_, g) = app.rest("GET", &format!("/api/v1/groups/{id}"), None).await;
    assert_eq!(g["name"], "Engineers");
    assert_eq!(g["slug"], "engineers");
    assert_eq!(g["category_id"], 2);
    assert_eq!(
        (g["secret"].clone(), g["pinned"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(g["password_protected"], true);
    assert_eq!(g["custom_fields"]["10"], "Backend");
    assert!(
        g["icon_url"].as_str().unwrap().starts_with("/icons/"),
        "{g}"
    );
    let icon = reqwest::get(app.url(g["icon_url"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(icon.status(), 200);
    let page = v.get(&format!("/console/groups/{id}")).await;
    assert!(page.body.contains("Builders"));
    assert!(page.body.contains("of at most 5"));
    // Edit: flags off, password cleared, another dropdown value.
    let edit = v.get(&format!("/console/groups/{id}/edit")).await;
    assert!(edit.body.contains("value=\"Frontend\""));
    assert!(edit.body.contains("Remove the password"));
    let saved = v
        .submit_multipart(
            &format!("/console/groups/{id}"),
            &[
                ("name", "Engineering"),
                ("slug", "engineering"),
                ("description", "Builders"),
                ("category_id", "1"),
                ("password_action", "clear"),
                ("custom_field_10", "Frontend"),
            ],
            None,
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let (_, g) = app.rest("GET", &format!("/api/v1/groups/{id}"), None).await;
    assert_eq!(
        (
            g["name"].clone(),
            g["secret"].clone(),
            g["password_protected"].clone()
        ),
        (json!("Engineering"), json!(false), json!(false))
    );
    assert_eq!(g["custom_fields"]["10"], "Frontend");
    // Members: pasted by username, email and id; an unknown one adds nobody.
    let mut users = Vec::new();
    for name in ["bob", "cyd", "dio"] {
        let (_, u) = app
            .rest(
                "POST",
                "/api/v1/users",
                Some(json!({"full_name": name, "username": name, "email": format!("{name}@example.com"), "password": "pw-123456"})),
            )
            .await;
        users.push(u["id"].as_i64().unwrap());
    }
    let refused = v
        .submit(
            &format!("/console/groups/{id}/members"),
            &[("users", "bob\nnobody-here"), ("role", "member")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("nobody-here"), "{}", refused.body);
    assert!(
        refused.body.contains("bob\nnobody-here"),
        "the paste is kept"
    );
    let added = v
        .submit(
            &format!("/console/groups/{id}/members"),
            &[
                ("users", &format!("bob, cyd@example.com\n{}", users[2])),
                ("role", "moderator"),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let (_, members) = app
        .rest("GET", &format!("/api/v1/groups/{id}/members"), None)
        .await;
    let roles: Vec<&str> = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["moderator", "moderator", "moderator"]);
    let a = v
        .submit(
            &format!("/console/groups/{id}/members/{}", users[0]),
            &[("action", "role"), ("role", "admin")],
        )
        .await;
    assert_eq!(a.status, 303);
    let a = v
        .submit(
            &format!("/console/groups/{id}/members/{}", users[1]),
            &[("action", "remove")],
        )
        .await;
    assert_eq!(a.status, 303);
    let (_, members) = app
        .rest("GET", &format!("/api/v1/groups/{id}/members"), None)
        .await;
    let now: Vec<(i64, String)> = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["user"]["id"].as_i64().unwrap(),
                m["role"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        now,
        [
            (users[0], "admin".to_string()),
            (users[2], "moderator".to_string())
        ]
    );
    // The group's page shows its events, newest first.
    let page = v.get(&format!("/console/groups/{id}")).await;
    let removed_at = page
        .body
        .find("member.removed")
        .expect("member.removed shown");
    let created_at = page
        .body
        .find("group.created")
        .expect("group.created shown");
    assert!(removed_at < created_at, "newest first");
    // Delete with a successor: the members move over.
    let (_, heir) = app
        .rest("POST", "/api/v1/groups", Some(json!({"name": "Heir"})))
        .await;
    let bad = v
        .submit(
            &format!("/console/groups/{id}/delete"),
            &[("successor", "no-such-group")],
        )
        .await;
    assert_eq!(bad.status, 422);
    let gone = v
        .submit(
            &format!("/console/groups/{id}/delete"),
            &[("successor", &heir["id"].to_string())],
        )
        .await;
    assert_eq!(gone.status, 303);
    assert_eq!(
        app.rest("GET", &format!("/api/v1/groups/{id}"), None)
            .await
            .0,
        404
    );
    let (_, heir) = app
        .rest("GET", &format!("/api/v1/groups/{}", heir["id"]), None)
        .await;
    assert_eq!(heir["member_count"], 2);
    // Every change above is an event by this key, through the console.
    let all = events(&app, "").await;
    let console: Vec<&Value> = all.iter().filter(|e| e["door"] == "console").collect();
    assert!(console.len() >= 8, "{all:?}");
    let prefix = format!("key:{}", &app.key[3..11]);
    assert!(console.iter().all(|e| e["actor"] == prefix.as_str()));
}

#[tokio::test]
async fn filters_and_pages_list_groups_pinned_first() {
    let app = spawn_app().await;
    for i in 0..55 {
        let pinned = i % 10 == 0;
        let secret = i % 2 == 1;
        let (s, _) = app
            .rest(
                "POST",
                "/api/v1/groups",
                Some(json!({"name": format!("Row {i:02}"), "pinned": pinned, "secret": secret})),
            )
            .await;
        assert_eq!(s, 201);
    }
    let mut v = signed_in(&app).await;
    let first = v.get("/console/groups?q=row").await;
    let names = |body: &str| -> Vec<String> {
        body.match_indices(">Row ")
            .map(|(i, _)| body[i + 1..i + 7].to_string())
            .collect()
    };
    let page1 = names(&first.body);
    assert_eq!(page1.len(), 50);
    assert_eq!(
        &page1[..6],
        ["Row 00", "Row 10", "Row 20", "Row 30", "Row 40", "Row 50"]
    );
    assert!(first.body.contains("rel=\"next\""));
    let href = first
        .body
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|h| h.contains("after="))
        .unwrap()
        .replace("&amp;", "&");
    let page2 = names(&v.get(&href).await.body);
    assert_eq!(page2.len(), 5);
    assert!(page2.iter().all(|n| !page1.contains(n)));
    let pinned = names(&v.get("/console/groups?pinned=pinned").await.body);
    assert_eq!(pinned.len(), 6);
    let secret = names(
        &v.get("/console/groups?q=row&visibility=secret&pinned=unpinned")
            .await
            .body,
    );
    assert_eq!(secret.len(), 27);
    assert!(
        secret
            .iter()
            .all(|n| n[4..].parse::<u32>().unwrap() % 2 == 1)
    );
    let prefix = names(&v.get("/console/groups?q=row+1").await.body);
    assert_eq!(prefix.len(), 10);
}

#[tokio::test]
async fn users_categories_fields_keys_and_webhooks_from_the_console() {
    let app = spawn_app().await;
    let mut v = signed_in(&app).await;
    // Users: a refused create keeps what was typed; then create, edit, remove.
    let bad = v
        .submit(
            "/console/users",
            &[
                ("full_name", "Eve"),
                ("username", "eve"),
                ("email", "not-an-email"),
                ("password", "pw-123456"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("id=\"f-email-error\""));
    assert!(bad.body.contains("value=\"eve\""));
    let made = v
        .submit(
            "/console/users",
            &[
                ("full_name", "Eve"),
                ("username", "eve"),
                ("email", "eve@example.com"),
                ("password", "pw-123456"),
            ],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let user_page = made.location.split('?').next().unwrap().to_string();
    let dup = v
        .submit(
            "/console/users",
            &[
                ("full_name", "Eve 2"),
                ("username", "eve"),
                ("email", "eve2@example.com"),
                ("password", "pw-123456"),
            ],
        )
        .await;
    assert_eq!(dup.status, 422);
    assert!(dup.body.contains("id=\"f-username-error\""));
    let edit = v
        .submit(
            &user_page,
            &[
                ("full_name", "Eve Adams"),
                ("username", "eve"),
                ("email", "eve@example.com"),
                ("password", ""),
            ],
        )
        .await;
    assert_eq!(edit.status, 303);
    assert!(v.get("/console/users").await.body.contains("Eve Adams"));
    let (_, g) = app
        .rest("POST", "/api/v1/groups", Some(json!({"name": "Readers"})))
        .await;
    app.rest(
        "POST",
        &format!("/api/v1/groups/{}/members", g["id"]),
        Some(json!({"user": "eve"})),
    )
    .await;
    assert!(v.get(&user_page).await.body.contains("Readers"));
    assert_eq!(
        v.submit(&format!("{user_page}/delete"), &[]).await.status,
        303
    );
    assert_eq!(v.get(&user_page).await.status, 404);
    // Categories: rename, a refused empty name, delete.
    v.submit("/console/categories", &[("name", "Old")]).await;
    let (_, cats) = app.rest("GET", "/api/v1/categories", None).await;
    let cat = cats["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Old")
        .unwrap()["id"]
        .clone();
    let a = v
        .submit(
            &format!("/console/categories/{cat}"),
            &[("action", "rename"), ("name", "New")],
        )
        .await;
    assert_eq!(a.status, 303);
    let a = v
        .submit(
            &format!("/console/categories/{cat}"),
            &[("action", "rename"), ("name", " ")],
        )
        .await;
    assert_eq!(a.status, 422);
    let a = v
        .submit(
            &format!("/console/categories/{cat}"),
            &[("action", "delete")],
        )
        .await;
    assert_eq!(a.status, 303);
    let a = v
        .submit("/console/categories/1", &[("action", "delete")])
        .await;
    assert_eq!(a.status, 409, "category 1 always exists");
    // Fields: a date field, deleted again.
    assert_eq!(
        v.submit(
            "/console/fields",
            &[("name", "Founded"), ("kind", "date"), ("id", "12")]
        )
        .await
        .status,
        303
    );
    let new_group = v.get("/console/groups/new").await;
    assert!(
        new_group
            .body
            .contains("type=\"date\" id=\"f-custom_field_12\"")
    );
    assert_eq!(v.submit("/console/fields/12/delete", &[]).await.status, 303);
    assert!(
        !v.get("/console/schema")
            .await
            .body
            .contains("custom_field_12")
    );
    // Keys: made with the secret shown once, used by the API, then revoked.
    let made = v.submit("/console/keys", &[("label", "site")]).await;
    assert_eq!(made.status, 200);
    let secret = attr_after(&made.body, "<code id=\"new-key\">")
        .map(|_| ())
        .and_then(|_| {
            let i = made.body.find("<code id=\"new-key\">").unwrap() + 19;
            made.body[i..].split('<').next().map(str::to_string)
        })
        .unwrap();
    assert!(secret.starts_with("gk_"));
    let listed = v.get("/console/keys").await;
    assert!(!listed.body.contains(&secret), "shown once only");
    assert!(listed.body.contains("site"));
    assert_eq!(app.status_with_key(&secret).await, 200);
    // Its last use shows (written in the background, within a moment).
    let mut used = false;
    for _ in 0..50 {
        let page = v.get("/console/keys").await;
        let row = page
            .body
            .split("<tr>")
            .find(|r| r.contains(&secret[3..11]))
            .unwrap()
            .to_string();
        if !row.contains("never") {
            used = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(used, "last used is shown");
    let a = v
        .submit(&format!("/console/keys/{}/revoke", &secret[3..11]), &[])
        .await;
    assert_eq!(a.status, 303);
    assert_eq!(app.status_with_key(&secret).await, 401);
    // Revoking the session's own key ends the session.
    let own = &app.key[3..11];
    assert_eq!(
        v.submit(&format!("/console/keys/{own}/revoke"), &[])
            .await
            .status,
        303
    );
    let a = v.get("/console/").await;
    assert_eq!(a.status, 303);
    assert!(a.location.contains("ended=1"));
}

#[tokio::test]
async fn webhooks_and_the_audit_log_from_the_console() {
    let app = spawn_app().await;
    let receiver = common::receiver::Receiver::start().await;
    let mut v = signed_in(&app).await;
    let bad = v
        .submit(
            "/console/webhooks",
            &[("url", "ftp://x"), ("events", "*"), ("enabled", "1")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("id=\"f-url-error\""));
    let made = v
        .submit(
            "/console/webhooks",
            &[
                ("url", &receiver.url()),
                ("events", "group.*\nmember.added"),
                ("description", "test"),
                ("enabled", "1"),
            ],
        )
        .await;
    assert_eq!(made.status, 200);
    assert!(made.body.contains("whsec_"), "the secret is shown once");
    let (_, hooks) = app.rest("GET", "/api/v1/webhooks", None).await;
    let id = hooks["items"][0]["id"].clone();
    assert_eq!(
        hooks["items"][0]["events"],
        json!(["group.*", "member.added"])
    );
    let page = v.get(&format!("/console/webhooks/{id}")).await;
    assert!(!page.body.contains("whsec_"));
    // A change is delivered and listed with its attempt; it can be sent again.
    app.rest("POST", "/api/v1/groups", Some(json!({"name": "Hooked"})))
        .await;
    let mut delivery = None;
    for _ in 0..100 {
        let page = v.get(&format!("/console/webhooks/{id}")).await;
        if page.body.contains("HTTP 204") {
            delivery = attr_after(&page.body, "/deliveries/")
                .map(|d| d.split('/').next().unwrap().to_string());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let delivery = delivery.expect("a delivered attempt shown");
    let a = v
        .submit(
            &format!("/console/webhooks/{id}/deliveries/{delivery}/retry"),
            &[],
        )
        .await;
    assert_eq!(a.status, 303);
    let mut twice = false;
    for _ in 0..100 {
        if receiver.received().len() >= 2 {
            twice = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(twice, "sent again");
    // Edit, rotate (new secret shown once), disable, delete.
    let a = v
        .submit(
            &format!("/console/webhooks/{id}"),
            &[
                ("url", &receiver.url()),
                ("events", "*"),
                ("description", "all"),
            ],
        )
        .await;
    assert_eq!(a.status, 303);
    let (_, hook) = app
        .rest("GET", &format!("/api/v1/webhooks/{id}"), None)
        .await;
    assert_eq!(
        (hook["enabled"].clone(), hook["events"].clone()),
        (json!(false), json!(["*"]))
    );
    let rotated = v
        .submit(&format!("/console/webhooks/{id}/rotate-secret"), &[])
        .await;
    assert_eq!(rotated.status, 200);
    assert!(rotated.body.contains("whsec_"));
    assert_eq!(
        v.submit(&format!("/console/webhooks/{id}/delete"), &[])
            .await
            .status,
        303
    );
    assert_eq!(
        app.rest("GET", &format!("/api/v1/webhooks/{id}"), None)
            .await
            .0,
        404
    );
    // The audit log, filtered and newest first.
    let log = v.get("/console/events?type=webhook.*").await;
    let table = &log.body[log.body.find("<tbody>").expect("a table of events")..];
    let deleted = table.find("webhook.deleted").unwrap();
    let created = table.find("webhook.created").unwrap();
    assert!(deleted < created, "newest first");
    assert!(!table.contains("group.created"));
    let bad = v.get("/console/events?type=nonsense&group=x").await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("id=\"f-group-error\""));
}

/// The text of `<pre id="{id}">`, unescaped.
fn pre_text(body: &str, id: &str) -> String {
    let start = body
        .find(&format!("<pre id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no {id}"))
        + id.len()
        + 11;
    let end = body[start..].find("</pre>").unwrap() + start;
    body[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn the_overview_snippets_run_as_shown() {
    let app = spawn_app().await;
    let mut v = signed_in(&app).await;
    let page = v.get("/console/").await;
    let dir = tempfile::tempdir().unwrap();
    let run = |program: &str, file: &std::path::Path| {
        let out = std::process::Command::new(program)
            .arg(file)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program} ({e}); scripts/test installs it"));
        assert!(
            out.status.success(),
            "{program}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    for (id, program, expect) in [
        ("php-grupo", "php", "Group Created Successfully."),
        ("php-activecampaign", "php", "Group added"),
        ("curl-grupo", "sh", "\"success\":true"),
        ("curl-activecampaign", "sh", "\"result_code\":1"),
        ("curl-rest", "sh", "\"name\":\"Group Name\""),
    ] {
        let code = pre_text(&page.body, id).replace("YOUR_API_KEY", &app.key);
        let file = dir.path().join(format!("{id}.txt"));
        std::fs::write(&file, code).unwrap();
        let out = run(program, &file);
        assert!(out.contains(expect), "{id} printed {out}");
    }
    let (_, groups) = app.rest("GET", "/api/v1/groups?limit=100", None).await;
    assert_eq!(groups["items"].as_array().unwrap().len(), 3 + 5);
}
