//! No log level prints a secret or a person's data: a full run at `trace` (which
//! includes `debug`), on whichever engine the suite runs, is searched for the keys,
//! passwords, their hashes, the email addresses, webhook secrets and console
//! session and CSRF tokens it handled.

mod common;

use common::{groupd_ok, spawn_app_logged};
use serde_json::json;

#[tokio::test]
async fn a_trace_log_of_a_full_run_holds_no_secret() {
    let log_dir = tempfile::tempdir().unwrap();
    let log = log_dir.path().join("groupd.log");
    let app = spawn_app_logged("trace", &log).await;
    let email = "ada.secret-mail@example.org";
    let user_password = "user-pass-Zq81";
    let group_password = "group-pass-Wm27";

    let (status, user) = app
        .rest(
            "POST",
            "/api/v1/users",
            Some(
                json!({"full_name": "Ada L", "username": "ada", "email": email,
                        "password": user_password}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    let created = app
        .grupo(&[
            ("add", "groups"),
            ("group_name", "Hidden"),
            ("slug", "hidden"),
            ("password_protect", "yes"),
            ("password", group_password),
        ])
        .await;
    assert_eq!(created["success"], true, "{created}");
    let (status, joined) = app
        .rest(
            "POST",
            "/api/v1/users/ada/groups",
            Some(json!({"group": "hidden", "password": group_password})),
        )
        .await;
    assert_eq!(status, 201, "{joined}");
    let (status, _) = app.rest("GET", "/api/v1/users/ada", None).await;
    assert_eq!(status, 200);
    let ac = app
        .client
        .post(app.url(&format!(
            "/admin/api.php?api_action=group_add&api_output=json&api_key={}",
            app.key
        )))
        .form(&[("title", "Sales"), ("pg_list_add", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(ac.status(), 200);
    // A webhook, its secret rotated, with deliveries signed by both secrets.
    let rx = common::receiver::Receiver::start().await;
    let (status, hook) = app
        .rest(
            "POST",
            "/api/v1/webhooks",
            Some(json!({"url": rx.url(), "events": ["*"]})),
        )
        .await;
    assert_eq!(status, 201, "{hook}");
    let first_secret = hook["secret"].as_str().unwrap().to_string();
    let (status, rotated) = app
        .rest(
            "POST",
            &format!("/api/v1/webhooks/{}/rotate-secret", hook["id"]),
            None,
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    let second_secret = rotated["secret"].as_str().unwrap().to_string();
    app.grupo(&[("add", "groups"), ("group_name", "Signed")])
        .await;
    let got = rx
        .wait_for(std::time::Duration::from_secs(20), |g| {
            g.iter().any(|r| r.body.windows(6).any(|w| w == b"Signed"))
        })
        .await;
    let signed = got
        .iter()
        .find(|r| r.body.windows(6).any(|w| w == b"Signed"))
        .expect("a delivery");
    assert!(signed.verifies_with(&first_secret) && signed.verifies_with(&second_secret));
    // A second key, used once and revoked.
    let made = groupd_ok(&app.dir, &["key", "create"]);
    let second = made
        .split_whitespace()
        .find(|w| w.starts_with("gk_"))
        .expect("a key")
        .to_string();
    assert_eq!(app.status_with_key(&second).await, 200);
    groupd_ok(&app.dir, &["key", "revoke", &second]);
    // On PostgreSQL the revocation reaches the server as a notification: allow it
    // a moment to arrive.
    let mut status = 0;
    for _ in 0..50 {
        status = app.status_with_key(&second).await;
        if status == 401 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 401, "the revoked key still works");

    // The console: signed in with a key and with an admin's password; a form sent.
    let admin = app.admin_group_id().await;
    let (status, _) = app
        .rest(
            "POST",
            &format!("/api/v1/groups/{admin}/members"),
            Some(json!({"user": "ada", "role": "admin"})),
        )
        .await;
    assert_eq!(status, 201);
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut sessions = Vec::new();
    for form in [
        vec![("method", "key"), ("key", app.key.as_str())],
        vec![
            ("method", "password"),
            ("workspace", "default"),
            ("username", "ada"),
            ("password", user_password),
        ],
    ] {
        let r = browser
            .post(app.url("/console/sign-in"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let cookie = r.headers()["set-cookie"].to_str().unwrap();
        let token = cookie
            .strip_prefix("groupd_console=")
            .and_then(|c| c.split(';').next())
            .unwrap()
            .to_string();
        sessions.push(token);
    }
    let page = browser
        .get(app.url("/console/keys"))
        .header("cookie", format!("groupd_console={}", sessions[1]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"_csrf\" value=\"";
    let at = page.find(marker).expect("a csrf token") + marker.len();
    let csrf = page[at..].split('"').next().unwrap().to_string();
    let made = browser
        .post(app.url("/console/keys"))
        .header("cookie", format!("groupd_console={}", sessions[1]))
        .form(&[("_csrf", csrf.as_str()), ("label", "console key")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = made.find("<code id=\"new-key\">").expect("the new key") + 19;
    let console_key = made[at..].split('<').next().unwrap().to_string();

    let text = std::fs::read_to_string(&log).unwrap();
    // The run was logged at all (so an empty log cannot pass).
    assert!(
        text.contains("request"),
        "no request lines at trace:\n{text}"
    );
    let key_hash = {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(app.key.as_bytes());
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    for (what, needle) in [
        ("the first key", app.key.as_str()),
        ("the second key", second.as_str()),
        ("the first key's secret part", &app.key[8..]),
        ("an argon2 hash", "$argon2"),
        ("the key's hash", key_hash.as_str()),
        ("the user's password", user_password),
        ("the group's password", group_password),
        ("the email address", email),
        ("the email address", "secret-mail"),
        ("the webhook secret", first_secret.as_str()),
        ("a console session token", sessions[0].as_str()),
        ("a console session token", sessions[1].as_str()),
        ("a console CSRF token", csrf.as_str()),
        ("a key made in the console", console_key.as_str()),
        ("the webhook secret's key", &first_secret["whsec_".len()..]),
        (
            "the rotated webhook secret",
            &second_secret["whsec_".len()..],
        ),
    ] {
        assert!(
            !text.contains(needle),
            "{what} is in the trace log: {}",
            text.lines().find(|l| l.contains(needle)).unwrap_or("")
        );
    }
}
