//! The admin console in a real headless Chromium (Debian's chromium and
//! chromium-driver, which `scripts/test` installs), driven over WebDriver by
//! fantoccini: sign in, define a dropdown custom field, create a group that uses
//! it with an uploaded icon, add two members, revoke a key and see the API refuse
//! it. Screenshots of each step go to `target/console-screenshots/`.

mod common;

use common::{TestApp, spawn_app};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn browser() -> (Driver, Client) {
    for tool in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            std::path::Path::new(tool).exists(),
            "{tool} is missing: scripts/test installs Debian's chromium and chromium-driver"
        );
    }
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver {
        child,
        port,
        _profile: tempfile::tempdir().expect("profile dir"),
    };
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-dev-shm-usage", "--window-size=1280,1000",
                format!("--user-data-dir={}", driver._profile.path().display()),
            ]
        }),
    );
    let url = format!("http://127.0.0.1:{}", driver.port);
    let mut last = None;
    for _ in 0..100 {
        // chromedriver speaks plain http on loopback: no TLS needed.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return (driver, client),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start a session: {last:?}");
}

fn shots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(shots_dir().join(format!("{name}.png")), png).expect("save screenshot");
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .expect("text")
}

async fn fill(c: &Client, css: &str, value: &str) {
    let e = c
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    e.clear().await.expect("clear");
    e.send_keys(value).await.expect("type");
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// Clicks a submit button and waits for the page it leads to.
async fn submit(c: &Client, css: &str) {
    let before = c
        .execute("return window.__page = Math.random()", vec![])
        .await
        .expect("mark the page");
    click(c, css).await;
    for _ in 0..100 {
        let now = c.execute("return window.__page || null", vec![]).await;
        if matches!(&now, Ok(v) if *v != before) {
            let ready = c.execute("return document.readyState", vec![]).await;
            if matches!(ready, Ok(v) if v == json!("complete")) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no new page after clicking {css}");
}

async fn path_of(c: &Client) -> String {
    let url = c.current_url().await.expect("url");
    let mut p = url.path().to_string();
    if let Some(q) = url.query() {
        p.push('?');
        p.push_str(q);
    }
    p
}

async fn add_user(app: &TestApp, name: &str) {
    let (s, _) = app
        .rest(
            "POST",
            "/api/v1/users",
            Some(json!({"full_name": name.to_uppercase(), "username": name,
                "email": format!("{name}@example.com"), "password": "pw-123456"})),
        )
        .await;
    assert_eq!(s, 201);
}

fn icon_file(dir: &std::path::Path) -> PathBuf {
    let img = image::RgbImage::from_fn(120, 80, |x, y| {
        image::Rgb([(x * 2) as u8, (y * 3) as u8, 180])
    });
    let path = dir.join("team-icon.png");
    img.save(&path).expect("write icon");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_works_through_the_console_in_chromium() {
    let app = spawn_app().await;
    add_user(&app, "ann").await;
    add_user(&app, "ben").await;
    let (_driver, c) = browser().await;

    // Signing in: the console sends a stranger to the sign-in page first.
    c.goto(&app.url("/console/groups")).await.expect("goto");
    assert!(path_of(&c).await.starts_with("/console/sign-in?next="));
    // The first Tab reaches the skip link: keyboard users can jump to content.
    c.active_element()
        .await
        .expect("focus")
        .send_keys("\u{E004}")
        .await
        .expect("tab");
    let focused = c
        .execute("return document.activeElement.textContent", vec![])
        .await
        .expect("js");
    assert_eq!(focused, json!("Skip to content"));
    shot(&c, "01-sign-in").await;
    fill(&c, "#f-key", &app.key).await;
    submit(&c, "form:nth-of-type(2) button[type=submit]").await;
    assert_eq!(path_of(&c).await, "/console/groups");
    assert_eq!(text_of(&c, "h1").await, "Groups");

    // The overview, with this server's address in the snippets.
    c.goto(&app.url("/console/")).await.expect("goto");
    assert!(text_of(&c, "#curl-grupo").await.contains(&app.address));
    shot(&c, "02-overview").await;

    // A dropdown custom field.
    c.goto(&app.url("/console/schema")).await.expect("goto");
    let field_form = "form[action='/console/fields']";
    fill(&c, &format!("{field_form} #f-name"), "Team").await;
    c.find(Locator::Css(&format!("{field_form} #f-kind")))
        .await
        .expect("kind")
        .select_by_value("dropdown")
        .await
        .expect("choose dropdown");
    fill(&c, &format!("{field_form} #f-options"), "Backend\nFrontend").await;
    submit(&c, &format!("{field_form} button[type=submit]")).await;
    assert_eq!(path_of(&c).await, "/console/schema?done=field-created");
    assert_eq!(text_of(&c, "code.identifier").await, "custom_field_1");
    shot(&c, "03-custom-field").await;

    // A group using it, with an uploaded icon previewed before saving.
    c.goto(&app.url("/console/groups/new")).await.expect("goto");
    fill(&c, "#f-name", "Platform Team").await;
    fill(&c, "#f-description", "Keeps the lights on").await;
    c.find(Locator::Css("#f-custom_field_1"))
        .await
        .expect("dropdown input")
        .select_by_value("Backend")
        .await
        .expect("choose Backend");
    let tmp = tempfile::tempdir().expect("tmp");
    let icon = icon_file(tmp.path());
    c.find(Locator::Css("#f-icon_file"))
        .await
        .expect("file input")
        .send_keys(&icon.display().to_string())
        .await
        .expect("choose the file");
    let shown = c
        .execute(
            "const i = document.getElementById('icon-preview'); return !i.hidden && i.src.startsWith('blob:');",
            vec![],
        )
        .await
        .expect("js");
    assert_eq!(shown, json!(true), "the chosen icon is previewed");
    shot(&c, "04-new-group").await;
    submit(&c, "form.card button[type=submit]").await;
    let at = path_of(&c).await;
    assert!(at.ends_with("?done=group-created"), "{at}");
    let id: i64 = at
        .trim_start_matches("/console/groups/")
        .split('?')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("the new group's id");
    let (_, g) = app.rest("GET", &format!("/api/v1/groups/{id}"), None).await;
    assert_eq!(g["custom_fields"]["1"], "Backend");
    assert!(g["icon_url"].as_str().unwrap().starts_with("/icons/"));
    // The stored icon loads in the page, resized to 200x200.
    let mut width = json!(0);
    for _ in 0..50 {
        width = c
            .execute(
                "return document.querySelector('h1 img.icon').naturalWidth",
                vec![],
            )
            .await
            .expect("js");
        if width == json!(200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(width, json!(200));

    // Two members, pasted at once.
    fill(&c, "#f-users", "ann\nben@example.com").await;
    submit(&c, "form[action$='/members'] button[type=submit]").await;
    assert!(path_of(&c).await.contains("done=members-added"));
    let rows = c
        .find_all(Locator::Css("#member-table tbody tr"))
        .await
        .expect("member rows");
    assert_eq!(rows.len(), 2);
    let (_, members) = app
        .rest("GET", &format!("/api/v1/groups/{id}/members"), None)
        .await;
    assert_eq!(members["items"].as_array().unwrap().len(), 2);
    shot(&c, "05-group-with-members").await;

    // A key made here (shown once, with its copy button), then revoked.
    c.goto(&app.url("/console/keys")).await.expect("goto");
    fill(&c, "#f-label", "Marketing site").await;
    submit(&c, "form[action='/console/keys'] button[type=submit]").await;
    let secret = text_of(&c, "#new-key").await;
    assert!(secret.starts_with("gk_"));
    let copy_visible = c
        .execute(
            "return !document.querySelector('button[data-copy=new-key]').hidden",
            vec![],
        )
        .await
        .expect("js");
    assert_eq!(
        copy_visible,
        json!(true),
        "the script shows the copy button"
    );
    shot(&c, "06-new-key").await;
    assert_eq!(app.status_with_key(&secret).await, 200);
    let prefix = &secret[3..11];
    click(
        &c,
        &format!("form[action='/console/keys/{prefix}/revoke'] button"),
    )
    .await;
    // The confirmation dialog, accepted.
    c.accept_alert().await.expect("confirm the revocation");
    let mut at = String::new();
    for _ in 0..50 {
        at = path_of(&c).await;
        if at.contains("done=key-revoked") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(at.contains("done=key-revoked"), "{at}");
    assert_eq!(
        app.status_with_key(&secret).await,
        401,
        "the revoked key is refused"
    );
    shot(&c, "07-key-revoked").await;

    // The audit log shows what this session did; and the console at phone width.
    c.goto(&app.url("/console/events?type=key.*"))
        .await
        .expect("goto");
    assert!(text_of(&c, "tbody").await.contains("key.revoked"));
    shot(&c, "08-audit-log").await;
    c.set_window_size(390, 844).await.expect("phone width");
    c.goto(&app.url(&format!("/console/groups/{id}")))
        .await
        .expect("goto");
    let overflow = c
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1",
            vec![],
        )
        .await
        .expect("js");
    assert_eq!(
        overflow,
        json!(true),
        "no sideways scrolling at phone width"
    );
    shot(&c, "09-phone-group").await;
    c.close().await.expect("close the browser");
}
