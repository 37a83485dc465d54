//! What an operator runs groupd with: request ids through every log line, JSON
//! logs, `/metrics`, and the health routes, against the real binary (on SQLite, and
//! on PostgreSQL when GROUPD_TEST_ENGINE=postgres).

mod common;

use common::{PgCluster, TestApp, on_postgres, spawn_app, spawn_app_logged, spawn_app_logged_with};
use serde_json::{Value, json};

async fn grupo_with_id(
    app: &TestApp,
    id: Option<&str>,
    fields: &[(&str, &str)],
) -> (String, Value) {
    let mut req = app.client.post(app.url("/api_request/")).form(fields);
    if let Some(id) = id {
        req = req.header("x-request-id", id);
    }
    let r = req.send().await.unwrap();
    let echoed = r.headers()["x-request-id"].to_str().unwrap().to_string();
    (echoed, r.json().await.unwrap())
}

/// A closed port on loopback: the icon fetch fails and says so in the log.
const DEAD_ICON: &str = "http://127.0.0.1:9/icon.png";

#[tokio::test]
async fn a_request_id_is_kept_or_made_echoed_and_on_every_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("groupd.log");
    let app = spawn_app_logged("info", &log).await;
    let key = app.key.clone();
    let fields = [
        ("api_secret_key", key.as_str()),
        ("add", "groups"),
        ("group_name", "Traced"),
        ("group_icon_url", DEAD_ICON),
    ];
    let (echoed, body) = grupo_with_id(&app, Some("trace-me-123"), &fields).await;
    assert_eq!(echoed, "trace-me-123");
    assert_eq!(body["success"], true, "{body}");
    // One that could break a log line is replaced with a fresh id.
    let (made, _) = grupo_with_id(&app, Some("bad id;drop"), &[("add", "groups")]).await;
    assert_eq!(made.len(), 32, "{made}");
    assert!(made.bytes().all(|b| b.is_ascii_hexdigit()));
    let (other, _) = grupo_with_id(&app, None, &[("add", "groups")]).await;
    assert_ne!(made, other, "ids are made fresh");
    let text = std::fs::read_to_string(&log).unwrap();
    // Both the icon's log line (inside the request) and the request's own line
    // carry the id, with the dialect, operation and workspace.
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("trace-me-123"))
        .collect();
    assert!(
        lines.iter().any(|l| l.contains("group icon not fetched")),
        "the icon line carries the id:\n{text}"
    );
    let finished = lines
        .iter()
        .find(|l| l.contains("request finished"))
        .expect("the request's line");
    for part in [
        "dialect=grupo",
        "operation=add_groups",
        "workspace=1",
        "status=200",
        "micros=",
    ] {
        assert!(finished.contains(part), "{part} in {finished}");
    }
    assert!(!text.contains('\u{1b}'), "no colour codes in a file");
    assert!(!text.contains(&key), "no key in the log");
}

#[tokio::test]
async fn json_logs_carry_the_request_span() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("groupd.log");
    let app = spawn_app_logged_with("info", &log, &[("GROUPD_LOG_FORMAT", "json")]).await;
    let r = app
        .client
        .get(app.url("/api/v1/groups"))
        .bearer_auth(&app.key)
        .header("x-request-id", "json-req-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = std::fs::read_to_string(&log).unwrap();
    let mut found = None;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if v["span"]["id"] == "json-req-1" && v["fields"]["message"] == "request finished" {
            found = Some(v);
        }
    }
    let v = found.expect("the request's JSON line");
    assert_eq!(v["span"]["dialect"], "rest");
    assert_eq!(v["span"]["operation"], "GET /api/v1/groups");
    assert_eq!(v["span"]["workspace"], 1);
    assert_eq!(v["fields"]["status"], 200);
    assert_eq!(v["level"], "INFO");
}

fn sample(metrics: &str, name_and_labels: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(name_and_labels) && l[name_and_labels.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_by_dialect_operation_and_outcome() {
    let app = spawn_app().await;
    let key = app.key.clone();
    for _ in 0..3 {
        let v = app
            .grupo(&[("add", "groups"), ("group_name", "Counted")])
            .await;
        assert_eq!(v["success"], true);
    }
    let r = app
        .client
        .get(app.url(&format!(
            "/admin/api.php?api_action=group_list&api_output=json&api_key={key}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (s, _) = app.rest("GET", "/api/v1/groups", None).await;
    assert_eq!(s, 200);
    let r = app
        .client
        .get(app.url("/api/v1/groups"))
        .bearer_auth("gk_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (s, _) = app
        .rest(
            "POST",
            "/api/v1/users",
            Some(json!({"full_name": "P", "username": "pwd-user",
            "email": "p@example.com", "password": "pw-123456"})),
        )
        .await;
    assert_eq!(s, 201);
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let m = r.text().await.unwrap();
    let count = |labels: &str| sample(&m, &format!("groupd_http_requests_total{{{labels}}}"));
    assert_eq!(
        count(r#"dialect="grupo",operation="add_groups",status="200""#),
        Some(3.0),
        "{m}"
    );
    assert_eq!(
        count(r#"dialect="activecampaign",operation="group_list",status="200""#),
        Some(1.0)
    );
    assert_eq!(
        count(r#"dialect="rest",operation="GET /api/v1/groups",status="200""#),
        Some(1.0)
    );
    assert_eq!(
        count(r#"dialect="rest",operation="GET /api/v1/groups",status="401""#),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &m,
            r#"groupd_http_request_duration_seconds_count{dialect="grupo",operation="add_groups"}"#
        ),
        Some(3.0)
    );
    // This scrape is the one request in flight.
    assert_eq!(sample(&m, "groupd_http_requests_in_flight"), Some(1.0));
    let engine = if on_postgres() { "postgres" } else { "sqlite" };
    let inserts = sample(
        &m,
        &format!(
            r#"groupd_store_operation_duration_seconds_count{{engine="{engine}",operation="insert_group"}}"#
        ),
    );
    assert_eq!(inserts, Some(3.0), "{m}");
    if on_postgres() {
        assert!(sample(&m, "groupd_postgres_pool_size").is_some_and(|n| n >= 1.0));
        assert!(sample(&m, "groupd_postgres_pool_wait_seconds_count").is_some_and(|n| n >= 1.0));
    } else {
        assert!(sample(&m, "groupd_sqlite_write_batch_size_count").is_some_and(|n| n >= 3.0));
        assert!(sample(&m, "groupd_sqlite_commit_seconds_count").is_some_and(|n| n >= 3.0));
    }
    assert!(sample(&m, "groupd_argon2_wait_seconds_count").is_some_and(|n| n >= 1.0));
    assert_eq!(sample(&m, "groupd_webhook_queue_depth"), Some(0.0));
    assert!(m.contains(&format!(
        "groupd_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    )));
    assert!(!m.contains(&key));
}

#[tokio::test]
async fn icon_and_webhook_outcomes_are_counted() {
    let app = spawn_app().await;
    let v = app
        .grupo(&[
            ("add", "groups"),
            ("group_name", "No icon"),
            ("group_icon_url", DEAD_ICON),
        ])
        .await;
    assert_eq!(v["success"], true);
    let rx = common::receiver::Receiver::start().await;
    let (s, _) = app
        .rest(
            "POST",
            "/api/v1/webhooks",
            Some(json!({"url": rx.url(), "events": ["group.*"]})),
        )
        .await;
    assert_eq!(s, 201);
    app.grupo(&[("add", "groups"), ("group_name", "Hooked")])
        .await;
    rx.wait_for(std::time::Duration::from_secs(20), |got| !got.is_empty())
        .await;
    let mut m = String::new();
    for _ in 0..50 {
        m = metrics_text(&app).await;
        if sample(&m, r#"groupd_webhook_attempts_total{outcome="delivered"}"#).is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        sample(
            &m,
            r#"groupd_icon_fetches_total{source="url",outcome="unreachable"}"#
        ),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, r#"groupd_webhook_attempts_total{outcome="delivered"}"#),
        Some(1.0)
    );
}

#[tokio::test]
async fn health_routes_answer_for_the_process_and_the_database() {
    let app = spawn_app().await;
    for (path, body) in [
        ("/health", "ok"),
        ("/health/live", "live"),
        ("/health/ready", "ready"),
    ] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.text().await.unwrap(), body);
    }
}

/// On PostgreSQL, readiness follows the database: 503 while it is down (the
/// process stays live), 200 again once it is back.
#[tokio::test]
async fn readiness_follows_the_postgresql_server() {
    let cluster = PgCluster::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(common::CONFIG),
        format!("database_url = \"{}\"\n", cluster.url()),
    )
    .unwrap();
    let app = common::start(dir.path(), &[], None);
    let ready = |app: &TestApp| {
        let (client, url) = (app.client.clone(), app.url("/health/ready"));
        async move {
            let r = client.get(url).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(ready(&app).await.0, 200);
    cluster.stop();
    let started = std::time::Instant::now();
    let (status, why) = ready(&app).await;
    assert_eq!(status, 503, "{why}");
    assert!(why.starts_with("not ready"), "{why}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let live = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    cluster.start();
    let mut status = 0;
    for _ in 0..100 {
        status = ready(&app).await.0;
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "ready again");
}

/// `groupd backup FILE` while a client keeps creating groups: the copy is a whole
/// database (integrity check), holds every group made before it began, and a
/// server started on it serves them. On PostgreSQL the command says to use pg_dump.
#[tokio::test]
async fn a_backup_taken_under_writes_is_whole_and_serves() {
    let app = spawn_app().await;
    for i in 0..20 {
        let v = app
            .grupo(&[("add", "groups"), ("group_name", &format!("Before {i}"))])
            .await;
        assert_eq!(v["success"], true);
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (client, url, key, stop) = (
            app.client.clone(),
            app.url("/api_request/"),
            app.key.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let name = format!("During {n}");
                let r = client
                    .post(&url)
                    .form(&[
                        ("api_secret_key", key.as_str()),
                        ("add", "groups"),
                        ("group_name", &name),
                    ])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                n += 1;
            }
            n
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let out_dir = tempfile::tempdir().unwrap();
    let copy = out_dir.path().join("groupd.db");
    let run = common::groupd(&app.dir, &["backup", copy.to_str().unwrap()]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let during = writer.await.unwrap();
    if on_postgres() {
        assert!(!run.status.success());
        assert!(String::from_utf8_lossy(&run.stderr).contains("pg_dump"));
        return;
    }
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(during > 0, "writes went on during the backup");
    let conn = rusqlite::Connection::open(&copy).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let before: i64 = conn
        .query_row(
            "SELECT count(*) FROM groups WHERE name LIKE 'Before %'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(before, 20);
    drop(conn);
    // Restoring is starting groupd on the copy.
    let restored = common::start(out_dir.path(), &[], Some(app.key.clone()));
    let (s, page) = restored
        .rest("GET", "/api/v1/groups?limit=1000", None)
        .await;
    assert_eq!(s, 200);
    let names = page.to_string();
    assert!(names.contains("Before 19"));
    // A second backup to the same file is refused rather than overwriting it.
    let again = common::groupd(&app.dir, &["backup", copy.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

async fn status_and_retry(r: reqwest::Response) -> (u16, Option<String>, String) {
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, retry, r.text().await.unwrap())
}

#[tokio::test]
async fn an_address_over_its_limit_gets_429_in_each_doors_format() {
    let app = common::spawn_app_with(&[
        "--rate-limit-address-per-sec",
        "1",
        "--rate-limit-address-burst",
        "2",
    ])
    .await;
    let key = app.key.clone();
    let c = &app.client;
    // The burst passes.
    for _ in 0..2 {
        let r = c
            .get(app.url("/api/v1/groups"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let (s, retry, body) = status_and_retry(
        c.get(app.url("/api/v1/groups"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, retry.as_deref()), (429, Some("1")), "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["key"], "too_many_requests");
    let (s, retry, body) = status_and_retry(
        c.post(app.url("/api_request/"))
            .form(&[
                ("api_secret_key", key.as_str()),
                ("add", "groups"),
                ("group_name", "X"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, retry.is_some()), (429, true));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["success"].clone(), v["error_key"].clone()),
        (json!(false), json!("too_many_requests"))
    );
    let (s, _, body) = status_and_retry(
        c.get(app.url(&format!(
            "/admin/api.php?api_action=group_list&api_output=json&api_key={key}"
        )))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 429);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["result_code"], 0);
    assert!(
        v["result_message"]
            .as_str()
            .unwrap()
            .contains("Too many requests")
    );
    let (s, _, body) =
        status_and_retry(c.get(app.url("/console/sign-in")).send().await.unwrap()).await;
    assert_eq!(s, 429);
    assert!(body.contains("<!DOCTYPE html>") && body.contains("Too many requests"));
    // Nothing was written by the refused create.
    // Health and metrics stay reachable for load balancers and scrapers.
    for path in ["/health/ready", "/health/live", "/metrics"] {
        assert_eq!(
            c.get(app.url(path)).send().await.unwrap().status(),
            200,
            "{path}"
        );
    }
    let m = metrics_text(&app).await;
    assert!(
        sample(&m, r#"groupd_rate_limited_total{limit="address"}"#).is_some_and(|n| n >= 4.0),
        "{m}"
    );
    // The bucket refills.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = c
        .get(app.url("/api/v1/groups"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, page) = app.rest("GET", "/api/v1/groups?limit=100", None).await;
    assert!(!page.to_string().contains("\"name\":\"X\""));
}

#[tokio::test]
async fn a_key_over_its_limit_gets_429_and_other_keys_do_not() {
    let app = common::spawn_app_with(&[
        "--rate-limit-key-per-sec",
        "1",
        "--rate-limit-key-burst",
        "3",
    ])
    .await;
    let other = common::groupd_ok(&app.dir, &["key", "create"])
        .split_whitespace()
        .find(|w| w.starts_with("gk_"))
        .unwrap()
        .to_string();
    let get = |key: String| {
        let (c, url) = (app.client.clone(), app.url("/api/v1/groups"));
        async move { status_and_retry(c.get(url).bearer_auth(key).send().await.unwrap()).await }
    };
    for _ in 0..3 {
        assert_eq!(get(app.key.clone()).await.0, 200);
    }
    let (s, retry, body) = get(app.key.clone()).await;
    assert_eq!((s, retry.as_deref()), (429, Some("1")), "{body}");
    assert!(
        body.to_lowercase()
            .contains("too many requests with this key"),
        "{body}"
    );
    assert_eq!(
        get(other.clone()).await.0,
        200,
        "another key has its own bucket"
    );
    // The same key through Grupo is limited too, in Grupo's format.
    let r = app
        .client
        .post(app.url("/api_request/"))
        .form(&[
            ("api_secret_key", app.key.as_str()),
            ("add", "groups"),
            ("group_name", "Y"),
        ])
        .send()
        .await
        .unwrap();
    let (s, retry, body) = status_and_retry(r).await;
    assert_eq!((s, retry.is_some()), (429, true));
    assert!(
        body.contains("\"error_key\":\"too_many_requests\""),
        "{body}"
    );
    // A wrong key spends nothing of the real key's bucket (it is refused first).
    let (s, _, _) = get("gk_wrongwrongwrongwrongwrongwrongwrongwrongwrongwrong".into()).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_and_nobody_else_can() {
    const ONE_A_SECOND: [&str; 4] = [
        "--rate-limit-address-per-sec",
        "1",
        "--rate-limit-address-burst",
        "1",
    ];
    let mut trusting = ONE_A_SECOND.to_vec();
    trusting.extend(["--trusted-proxies", "127.0.0.1"]);
    let app = common::spawn_app_with(&trusting).await;
    assert_eq!(forwarded_for(&app, "198.51.100.1").await, 200);
    assert_eq!(forwarded_for(&app, "198.51.100.1").await, 429);
    assert_eq!(
        forwarded_for(&app, "198.51.100.2").await,
        200,
        "another client behind the proxy"
    );
    // Without the proxy trusted, the header is ignored: one address, one bucket.
    let plain = common::spawn_app_with(&ONE_A_SECOND).await;
    assert_eq!(forwarded_for(&plain, "198.51.100.1").await, 200);
    assert_eq!(
        forwarded_for(&plain, "198.51.100.2").await,
        429,
        "a forged header changes nothing"
    );
}

/// The status of a request from this test (127.0.0.1) saying it forwards `client`.
async fn forwarded_for(app: &TestApp, client: &str) -> u16 {
    app.client
        .get(app.url("/api/v1/openapi.json"))
        .header("x-forwarded-for", client)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_request_past_its_deadline_is_stopped_without_writing() {
    // A listener that accepts icon fetches and never answers them.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let app =
        common::spawn_app_with(&["--allow-private-targets", "--request-deadline-secs", "1"]).await;
    let started = std::time::Instant::now();
    let url = format!("http://{addr}/icon.png");
    let r = app
        .client
        .post(app.url("/api_request/"))
        .form(&[
            ("api_secret_key", app.key.as_str()),
            ("add", "groups"),
            ("group_name", "Too slow"),
            ("group_icon_url", url.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let (s, _, body) = status_and_retry(r).await;
    assert_eq!(s, 503, "{body}");
    assert!(body.contains("\"error_key\":\"request_timeout\""), "{body}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let (_, page) = app.rest("GET", "/api/v1/groups?limit=100", None).await;
    assert!(
        !page.to_string().contains("Too slow"),
        "nothing was written"
    );
}

/// The `/metrics` page as text.
async fn metrics_text(app: &TestApp) -> String {
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    r.text().await.unwrap()
}
