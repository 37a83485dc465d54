//! Webhooks end to end: the real binary delivers to a real receiver on
//! 127.0.0.1, signed as Standard Webhooks says, at least once, across an endpoint
//! that is down and a server that is killed.

mod common;

use common::receiver::{Received, Receiver};
use common::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Fast retries, and leases a killed server's successor takes over within 7 s,
/// so tests need not wait minutes.
const FAST: &[&str] = &[
    "--allow-private-targets",
    "--webhook-timeout-secs",
    "2",
    "--webhook-retry-schedule",
    "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1",
];

async fn add_hook(app: &TestApp, url: &str, events: &[&str]) -> (i64, String) {
    let (status, body) = app
        .rest(
            "POST",
            "/api/v1/webhooks",
            Some(json!({"url": url, "events": events, "description": "test"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let secret = body["secret"].as_str().expect("secret").to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (body["id"].as_i64().expect("id"), secret)
}

fn types(got: &[Received]) -> BTreeSet<String> {
    got.iter()
        .map(|r| r.json()["type"].as_str().expect("type").to_string())
        .collect()
}

fn ids(got: &[Received]) -> Vec<String> {
    got.iter().map(|r| r.header("webhook-id")).collect()
}

fn unique(got: &[Received]) -> usize {
    ids(got).into_iter().collect::<BTreeSet<_>>().len()
}

async fn rest_ok(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> Value {
    let (status, value) = app.rest(method, path, body).await;
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {value}"
    );
    value
}

/// Every event type arrives, signed with the endpoint's secret, in the shape the
/// documentation gives; the audit log holds the same events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_type_arrives_signed() {
    let rx = Receiver::start().await;
    let app = spawn_app_with(FAST).await;
    let (_, secret) = add_hook(&app, &rx.url(), &["*"]).await;
    // Categories, fields, groups, users, members.
    let cat = rest_ok(
        &app,
        "POST",
        "/api/v1/categories",
        Some(json!({"name": "Teams"})),
    )
    .await;
    let cat_id = cat["id"].as_i64().unwrap();
    let path = format!("/api/v1/categories/{cat_id}");
    rest_ok(&app, "PATCH", &path, Some(json!({"name": "Squads"}))).await;
    let field = rest_ok(
        &app,
        "POST",
        "/api/v1/fields",
        Some(json!({"name": "Region", "type": "short_text"})),
    )
    .await;
    let g = rest_ok(
        &app,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Owls", "category_id": cat_id, "password": "hunter22"})),
    )
    .await;
    let gid = g["id"].as_i64().unwrap();
    rest_ok(
        &app,
        "PATCH",
        &format!("/api/v1/groups/{gid}"),
        Some(json!({"name": "Night Owls", "password": "another1"})),
    )
    .await;
    let u = rest_ok(
        &app,
        "POST",
        "/api/v1/users",
        Some(json!({"full_name": "Ada", "username": "ada", "email": "ada@example.org", "password": "s3cret-pw"})),
    )
    .await;
    let uid = u["id"].as_i64().unwrap();
    rest_ok(
        &app,
        "PATCH",
        &format!("/api/v1/users/{uid}"),
        Some(json!({"full_name": "Ada L."})),
    )
    .await;
    let members = format!("/api/v1/groups/{gid}/members");
    let user = uid.to_string();
    rest_ok(&app, "POST", &members, Some(json!({"user": user}))).await;
    rest_ok(
        &app,
        "POST",
        &members,
        Some(json!({"user": user, "role": "admin"})),
    )
    .await;
    rest_ok(&app, "DELETE", &format!("{members}/{uid}"), None).await;
    rest_ok(&app, "DELETE", &format!("/api/v1/users/{uid}"), None).await;
    rest_ok(
        &app,
        "DELETE",
        &format!("/api/v1/fields/{}", field["id"]),
        None,
    )
    .await;
    rest_ok(&app, "DELETE", &path, None).await;
    rest_ok(&app, "DELETE", &format!("/api/v1/groups/{gid}"), None).await;
    // Keys, from the command line.
    let made = groupd_ok(&app.dir, &["key", "create", "--label", "ci"]);
    let prefix = &made.trim()[3..11];
    groupd_ok(&app.dir, &["key", "revoke", prefix]);
    // Another endpoint, changed, given a new secret and removed.
    let (other, _) = add_hook(&app, "https://example.com/x", &["user.*"]).await;
    let hook = format!("/api/v1/webhooks/{other}");
    rest_ok(
        &app,
        "PATCH",
        &hook,
        Some(json!({"description": "changed"})),
    )
    .await;
    rest_ok(&app, "POST", &format!("{hook}/rotate-secret"), None).await;
    rest_ok(&app, "DELETE", &hook, None).await;

    let all: BTreeSet<String> = [
        "group.created",
        "group.updated",
        "group.deleted",
        "member.added",
        "member.removed",
        "member.role_changed",
        "user.created",
        "user.updated",
        "user.deleted",
        "category.created",
        "category.renamed",
        "category.deleted",
        "field.created",
        "field.deleted",
        "key.created",
        "key.revoked",
        "webhook.created",
        "webhook.updated",
        "webhook.deleted",
        "webhook.secret_rotated",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let got = rx
        .wait_for(Duration::from_secs(30), |got| types(got) == all)
        .await;
    assert_eq!(types(&got), all);
    for r in &got {
        assert!(r.verifies_with(&secret), "bad signature: {r:?}");
        assert_eq!(r.header("content-type"), "application/json");
        let id = r.header("webhook-id");
        assert!(id.starts_with("msg_"), "{id}");
        let body = r.json();
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'), "{body}");
        let data = &body["data"];
        assert!(data["event_id"].is_i64(), "{body}");
        assert!(data["changes"].is_array(), "{body}");
        let text = String::from_utf8_lossy(&r.body);
        assert!(
            !text.contains("argon2") && !text.contains("hunter22"),
            "{text}"
        );
        assert!(!text.contains("whsec_"), "{text}");
    }
    assert_eq!(unique(&got), got.len(), "a delivery arrived twice");
    // A password change reads "changed"; who and through which door are there.
    let updated = got
        .iter()
        .map(Received::json)
        .find(|b| b["type"] == "group.updated" && b["data"]["group_id"] == gid)
        .expect("group.updated");
    let changes = updated["data"]["changes"].as_array().unwrap();
    assert!(
        changes.contains(&json!({"field": "password", "before": "changed", "after": "changed"}))
    );
    assert_eq!(updated["data"]["door"], "rest");
    assert!(
        updated["data"]["actor"]
            .as_str()
            .unwrap()
            .starts_with("key:")
    );
    let revoked = got
        .iter()
        .map(Received::json)
        .find(|b| b["type"] == "key.revoked")
        .unwrap();
    assert_eq!(
        (
            revoked["data"]["actor"].as_str(),
            revoked["data"]["door"].as_str()
        ),
        (Some("cli"), Some("cli"))
    );
    // The audit log has them all too, in id order.
    let (status, page) = app.rest("GET", "/api/v1/events?limit=1000", None).await;
    assert_eq!(status, 200, "{page}");
    let logged: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(logged, (1..=logged.len() as i64).collect::<Vec<_>>());
    assert!(
        logged.len() >= got.len(),
        "{} logged, {} delivered",
        logged.len(),
        got.len()
    );
}

/// An endpoint that is down gets everything once it is up, each event once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_then_up_gets_everything_once() {
    let mut rx = Receiver::down().await;
    let app = spawn_app_with(FAST).await;
    let (hook, secret) = add_hook(&app, &rx.url(), &["group.*"]).await;
    for i in 0..30 {
        app.create_group(&[("group_name", &format!("G{i}"))]).await;
    }
    // Attempts fail while it is down, and say why.
    let deliveries = format!("/api/v1/webhooks/{hook}/deliveries?limit=100");
    let mut tried = false;
    for _ in 0..100 {
        let page = rest_ok(&app, "GET", &deliveries, None).await;
        let items = page["items"].as_array().unwrap().clone();
        if items.len() == 30 && items.iter().all(|d| d["attempts"].as_i64() >= Some(1)) {
            assert!(items.iter().all(|d| d["state"] == "pending"), "{page}");
            let err = items[0]["tries"][0]["error"].as_str().unwrap_or("");
            assert!(!err.is_empty(), "{page}");
            assert!(items[0]["tries"][0]["status"].is_null());
            tried = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(tried, "no attempt was made while the receiver was down");
    rx.up().await;
    let got = rx
        .wait_for(Duration::from_secs(30), |got| unique(got) >= 30)
        .await;
    assert_eq!(unique(&got), 30);
    assert_eq!(got.len(), 30, "an event arrived twice: {:?}", ids(&got));
    assert!(got.iter().all(|r| r.verifies_with(&secret)));
    // The receiver has them; groupd records each answer a moment later.
    let mut page = Value::Null;
    for _ in 0..100 {
        page = rest_ok(&app, "GET", &deliveries, None).await;
        let items = page["items"].as_array().unwrap();
        if items.iter().all(|d| d["state"] == "delivered") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for d in page["items"].as_array().unwrap() {
        assert_eq!(d["state"], "delivered", "{d}");
        let last = d["tries"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["status"], 204, "{d}");
    }
}

/// Deliveries pending when groupd is killed are delivered after it restarts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_deliveries_survive_a_kill() {
    let mut rx = Receiver::down().await;
    let mut app = spawn_app_with(FAST).await;
    add_hook(&app, &rx.url(), &["group.*"]).await;
    for i in 0..20 {
        app.create_group(&[("group_name", &format!("K{i}"))]).await;
    }
    app.kill();
    rx.up().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        rx.received().is_empty(),
        "nothing is sent while groupd is down"
    );
    let dir = app.dir.clone();
    let key = app.key.clone();
    let _again = start(&dir, FAST, Some(key));
    let got = rx
        .wait_for(Duration::from_secs(30), |got| unique(got) >= 20)
        .await;
    assert_eq!(unique(&got), 20);
    drop(app);
}

/// 410 disables the endpoint and says why; Retry-After on 429 or 503 delays the
/// next attempt; a disabled endpoint is sent nothing until enabled, then catches
/// up; a failed delivery can be sent again by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_disables_and_retry_after_is_honoured() {
    let rx = Receiver::start().await;
    let app = spawn_app_with(FAST).await;
    let (hook, _) = add_hook(&app, &rx.url(), &["group.*"]).await;
    rx.answer(503, Some(3));
    app.create_group(&[("group_name", "Busy")]).await;
    let got = rx.wait_for(Duration::from_secs(20), |g| g.len() >= 2).await;
    assert!(got.len() >= 2, "no second attempt");
    let gap = got[1].at - got[0].at;
    assert!(gap >= Duration::from_millis(2900), "retried after {gap:?}");
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
    rx.answer(410, None);
    let path = format!("/api/v1/webhooks/{hook}");
    let mut disabled = Value::Null;
    for _ in 0..100 {
        disabled = rest_ok(&app, "GET", &path, None).await;
        if disabled["enabled"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(disabled["enabled"], false, "{disabled}");
    assert!(
        disabled["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("410"),
        "{disabled}"
    );
    // groupd itself disabled it: the audit log says so.
    let log = rest_ok(&app, "GET", "/api/v1/events?type=webhook.updated", None).await;
    let last = log["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["actor"].as_str(), last["door"].as_str()),
        (Some("system"), None)
    );
    // A disabled endpoint is sent nothing; enabled again, it gets what happened
    // meanwhile, and what follows.
    let before = rx.received().len();
    rx.answer(204, None);
    app.create_group(&[("group_name", "Skipped")]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rx.received().len(), before);
    rest_ok(&app, "PATCH", &path, Some(json!({"enabled": true}))).await;
    app.create_group(&[("group_name", "After")]).await;
    let mentions =
        |r: &Received, name: &str| r.json()["data"]["changes"].to_string().contains(name);
    let got = rx
        .wait_for(Duration::from_secs(20), |g| {
            g.iter().any(|r| mentions(r, "After")) && g.iter().any(|r| mentions(r, "Skipped"))
        })
        .await;
    assert!(got.iter().any(|r| mentions(r, "After")));
    assert!(got.iter().any(|r| mentions(r, "Skipped")));
    // A failed delivery can be sent again by hand.
    let page = rest_ok(&app, "GET", &format!("{path}/deliveries"), None).await;
    let failed = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["state"] == "failed")
        .expect("the delivery that met 410")
        .clone();
    let n = rx.received().len();
    let retry = format!("{path}/deliveries/{}/retry", failed["id"]);
    let (status, _) = app.rest("POST", &retry, None).await;
    assert_eq!(status, 202);
    let got = rx.wait_for(Duration::from_secs(20), |g| g.len() > n).await;
    assert_eq!(got.len(), n + 1);
    let (status, body) = app
        .rest("POST", &format!("{path}/deliveries/999999/retry"), None)
        .await;
    assert_eq!(
        (status, body["error"]["key"].as_str()),
        (404, Some("delivery_not_found"))
    );
}

/// Without --allow-private-targets nothing is sent to loopback; the delivery
/// says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_targets_are_refused_unless_allowed() {
    let rx = Receiver::start().await;
    let app = spawn_app_with(&["--webhook-retry-schedule", "1"]).await;
    let (hook, _) = add_hook(&app, &rx.url(), &["group.*"]).await;
    app.create_group(&[("group_name", "Private")]).await;
    let path = format!("/api/v1/webhooks/{hook}/deliveries");
    let mut error = String::new();
    for _ in 0..100 {
        let page = rest_ok(&app, "GET", &path, None).await;
        if let Some(e) = page["items"][0]["tries"][0]["error"].as_str() {
            error = e.to_string();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(error.contains("not allowed"), "{error}");
    assert!(rx.received().is_empty());
}

/// Bad webhook requests get the REST API's errors, field by field.
#[tokio::test]
async fn webhook_requests_are_checked() {
    let app = spawn_app().await;
    let (status, body) = app
        .rest(
            "POST",
            "/api/v1/webhooks",
            Some(json!({"url": "ftp://x", "events": ["nope"]})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["url", "events"]);
    for path in ["/api/v1/webhooks/77", "/api/v1/webhooks/x/deliveries"] {
        let (status, body) = app.rest("GET", path, None).await;
        assert_eq!(
            (status, body["error"]["key"].as_str()),
            (404, Some("webhook_not_found"))
        );
    }
    let (status, body) = app
        .rest("GET", "/api/v1/events?type=group.exploded", None)
        .await;
    assert_eq!(status, 422, "{body}");
    let (_, list) = app.rest("GET", "/api/v1/webhooks", None).await;
    assert_eq!(list["items"], json!([]));
    // The secret is shown once: never in a list or a read.
    let (id, secret) = add_hook(&app, "https://example.com/h", &["*"]).await;
    for path in [
        "/api/v1/webhooks".to_string(),
        format!("/api/v1/webhooks/{id}"),
    ] {
        let (_, body) = app.rest("GET", &path, None).await;
        assert!(!body.to_string().contains(&secret), "{body}");
    }
}

/// Two instances on one PostgreSQL database share the queue: under a load of
/// 1,000 changes through both, each event is delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_deliver_each_event_once() {
    if !on_postgres() {
        eprintln!("skipped: needs GROUPD_TEST_ENGINE=postgres (scripts/test runs it)");
        return;
    }
    let rx = Receiver::start().await;
    let a = std::sync::Arc::new(spawn_app_with(FAST).await);
    let b = std::sync::Arc::new(start(&a.dir, FAST, Some(a.key.clone())));
    add_hook(&a, &rx.url(), &["group.*"]).await;
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let app = if worker % 2 == 0 {
            a.clone()
        } else {
            b.clone()
        };
        tasks.push(tokio::spawn(async move {
            for i in 0..125 {
                app.create_group(&[("group_name", &format!("W{worker}-{i}"))])
                    .await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let got = rx
        .wait_for(Duration::from_secs(120), |got| unique(got) >= 1000)
        .await;
    assert_eq!(unique(&got), 1000);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for id in ids(&got) {
        *seen.entry(id).or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
}

/// The code block under `### <heading>` in docs/events.md.
fn documented(heading: &str) -> String {
    let doc = include_str!("../docs/events.md");
    let start = doc
        .find(&format!("### {heading}\n"))
        .unwrap_or_else(|| panic!("no ### {heading} in docs/events.md"));
    let rest = &doc[start..];
    let open = rest.find("```").expect("a code block");
    let body = &rest[open..];
    let first_line = body.find('\n').expect("fence line");
    let close = body[first_line..].find("\n```").expect("closing fence");
    body[first_line + 1..first_line + close + 1].to_string()
}

/// Runs `program` on a script; its trimmed stdout.
fn run_script(
    program: &str,
    script: &std::path::Path,
    args: &[&std::path::Path],
    secret: &str,
) -> String {
    let out = std::process::Command::new(program)
        .arg(script)
        .args(args)
        .arg(secret)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): scripts/test installs php-cli and nodejs")
        });
    assert!(
        out.status.success(),
        "{program} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The verification code docs/events.md gives for PHP, Python and Node, run as
/// written with real php, python3 and node: each accepts a real delivery, and
/// refuses it with the body changed or under another secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_verifiers_accept_real_deliveries() {
    let rx = Receiver::start().await;
    let app = spawn_app_with(FAST).await;
    let (_, secret) = add_hook(&app, &rx.url(), &["group.*"]).await;
    app.create_group(&[("group_name", "Verified")]).await;
    let got = rx
        .wait_for(Duration::from_secs(20), |g| !g.is_empty())
        .await;
    let delivery = got.first().expect("a delivery");
    let dir = tempfile::tempdir().unwrap();
    let headers: BTreeMap<String, String> = delivery
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap().to_string()))
        .collect();
    let headers_file = dir.path().join("headers.json");
    std::fs::write(&headers_file, serde_json::to_vec(&headers).unwrap()).unwrap();
    let body_file = dir.path().join("body");
    std::fs::write(&body_file, &delivery.body).unwrap();
    let tampered_file = dir.path().join("tampered");
    let mut tampered = delivery.body.to_vec();
    tampered.extend_from_slice(b" ");
    std::fs::write(&tampered_file, &tampered).unwrap();
    let other_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let runners = [
        (
            "php",
            "verify.php",
            format!(
                "<?php\n{}\n$h = json_decode(file_get_contents($argv[1]), true);\n\
                 echo groupd_verify($argv[3], $h, file_get_contents($argv[2])) ? 'ok' : 'bad';\n",
                documented("PHP")
            ),
        ),
        (
            "python3",
            "verify.py",
            format!(
                "{}\nimport json, sys\nh = json.load(open(sys.argv[1]))\n\
                 print('ok' if groupd_verify(sys.argv[3], h, open(sys.argv[2], 'rb').read()) else 'bad')\n",
                documented("Python")
            ),
        ),
        (
            "node",
            "verify.js",
            format!(
                "{}\nconst fs = require('fs');\nconst h = JSON.parse(fs.readFileSync(process.argv[2]));\n\
                 console.log(groupdVerify(process.argv[4], h, fs.readFileSync(process.argv[3])) ? 'ok' : 'bad');\n",
                documented("Node")
            ),
        ),
    ];
    for (program, file, source) in runners {
        let script = dir.path().join(file);
        std::fs::write(&script, source).unwrap();
        let verdict = |body: &std::path::Path, secret: &str| {
            run_script(program, &script, &[headers_file.as_path(), body], secret)
        };
        assert_eq!(verdict(&body_file, &secret), "ok", "{program}");
        assert_eq!(verdict(&tampered_file, &secret), "bad", "{program}");
        assert_eq!(verdict(&body_file, other_secret), "bad", "{program}");
    }
}
