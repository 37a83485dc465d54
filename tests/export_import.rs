//! `groupd export` / `groupd import`: a round trip SQLite -> PostgreSQL -> SQLite
//! loses nothing.

mod common;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use common::{fresh_pg_database, start};
use serde_json::json;
use std::io::Cursor;
use std::path::Path;
use std::process::Command;

fn cli(args: &[&str]) -> String {
    let out = Command::new(common::BIN)
        .args(args)
        .env("GROUPD_LOG", "warn")
        .env_remove("GROUPD_CONFIG")
        .output()
        .expect("run groupd");
    assert!(
        out.status.success(),
        "groupd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres_to_sqlite_loses_nothing() {
    // An icon to fetch.
    let png = {
        let img = image::RgbImage::from_pixel(300, 300, image::Rgb([10, 200, 30]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let icon_url = format!("http://{}/i.png", listener.local_addr().unwrap());
    let app_routes = Router::new().route(
        "/i.png",
        get(move || async move { ([(header::CONTENT_TYPE, "image/png")], png.clone()) }),
    );
    tokio::spawn(async move { axum::serve(listener, app_routes).await });

    let first = tempfile::tempdir().unwrap();
    let app = start(first.path(), &["--icon-allow-private"], None);
    let key = app.key.clone();
    common::add_field(first.path(), "10", "Team", "short_text");
    common::groupd_ok(first.path(), &["category", "add", "Sport"]);
    common::groupd_ok(first.path(), &["workspace", "create", "second"]);
    let (s, g) = app
        .rest(
            "POST",
            "/api/v1/groups",
            Some(json!({"name": "Grün & <3", "slug": "gruen", "category_id": 2, "password": "sesame",
                "icon_url": icon_url, "custom_fields": {"10": "Backend"}, "pinned": true,
                "permissions": {"list_add": true}, "limits": {"user": {"amount": 5}, "mail": {"amount": 9, "period": "week"}}})),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    assert_eq!(g["has_icon"], true);
    let icon_path = g["icon_url"].as_str().unwrap().to_string();
    assert!(icon_path.starts_with("/icons/"), "{icon_path}");
    for name in ["ada", "bob"] {
        let (s, _) = app
            .rest("POST", "/api/v1/users", Some(json!({"full_name": name, "username": name, "email": format!("{name}@x.org"), "password": "secret-pw"})))
            .await;
        assert_eq!(s, 201);
    }
    let (s, _) = app
        .rest(
            "POST",
            "/api/v1/users/ada/groups",
            Some(json!({"group": "gruen", "password": "sesame"})),
        )
        .await;
    assert_eq!(s, 201);
    let icon = app
        .client
        .get(app.url(&icon_path))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    drop(app);

    let work = tempfile::tempdir().unwrap();
    let a = work.path().join("a.jsonl");
    let b = work.path().join("b.jsonl");
    let c = work.path().join("c.jsonl");
    cli(&["--data-dir", p(first.path()), "export", "-o", p(&a)]);
    let url = fresh_pg_database().await;
    assert!(cli(&["--database-url", &url, "import", p(&a)]).starts_with("imported "));
    cli(&["--database-url", &url, "export", "-o", p(&b)]);
    {
        // The names users and slugs hold are rebuilt on import (not exported).
        use groupd::store::{postgres::PostgresStore, prelude::*};
        let pg = PostgresStore::connect(&url, 1).await.unwrap();
        let ws = pg.find_workspace("default").await.unwrap().unwrap().id;
        for name in ["ada", "gruen"] {
            assert!(pg.name_taken(ws, name, None).await.unwrap(), "{name}");
        }
    }
    let third = tempfile::tempdir().unwrap();
    cli(&["--data-dir", p(third.path()), "import", p(&b)]);
    cli(&["--data-dir", p(third.path()), "export", "-o", p(&c)]);
    let (ta, tb, tc) = (
        std::fs::read_to_string(&a).unwrap(),
        std::fs::read_to_string(&b).unwrap(),
        std::fs::read_to_string(&c).unwrap(),
    );
    assert_eq!(ta, tb, "SQLite -> PostgreSQL changed the data");
    assert_eq!(ta, tc, "PostgreSQL -> SQLite changed the data");
    for needle in [
        "\"table\":\"group_icons\"",
        "\"table\":\"memberships\"",
        "$argon2id$",
        "\"table\":\"group_field_values\"",
        "\"name\":\"second\"",
    ] {
        assert!(ta.contains(needle), "{needle} missing from the export");
    }

    // The copy works: the old key, the icon, the group password, new ids go on.
    let app = start(third.path(), &[], Some(key));
    let (s, v) = app
        .rest(
            "POST",
            "/api/v1/users",
            Some(json!({"full_name": "G", "username": "Gruen", "email": "g@x.org", "password": "secret-pw"})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["key"].as_str()),
        (409, Some("username_exists"))
    );
    let (s, g) = app.rest("GET", "/api/v1/groups/gruen", None).await;
    assert_eq!(
        (
            s,
            g["custom_fields"]["10"].as_str(),
            g["member_count"].as_i64()
        ),
        (200, Some("Backend"), Some(1))
    );
    // The icon keeps its URL.
    assert_eq!(g["icon_url"], icon_path.as_str());
    let copied = app
        .client
        .get(app.url(&icon_path))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(copied, icon);
    let (s, _) = app
        .rest(
            "POST",
            "/api/v1/users/bob/groups",
            Some(json!({"group": "gruen", "password": "wrong"})),
        )
        .await;
    assert_eq!(s, 403);
    let (s, _) = app
        .rest(
            "POST",
            "/api/v1/users/bob/groups",
            Some(json!({"group": "gruen", "password": "sesame"})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, g) = app
        .rest("POST", "/api/v1/groups", Some(json!({"name": "New"})))
        .await;
    assert_eq!(s, 201);
    assert!(g["id"].as_i64().unwrap() > 7, "{g}");
    // Importing into a database that has data is refused.
    let out = Command::new(common::BIN)
        .args(["--data-dir", p(third.path()), "import", p(&a)])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty database"));
    drop(app);

    // An export made before icons had tokens: the import gives the icon one.
    let token = icon_path
        .strip_prefix("/icons/")
        .and_then(|f| f.strip_suffix(".png"))
        .unwrap();
    let old = ta.replace(&format!(",\"token\":\"{token}\""), "");
    assert_ne!(old, ta, "the export carries the icon token");
    // A token of another shape (it would become part of a public URL) is replaced.
    let forged = ta.replace(token, "../../admin?x=");
    let e = work.path().join("forged.jsonl");
    std::fs::write(&e, forged).unwrap();
    let fifth = tempfile::tempdir().unwrap();
    cli(&["--data-dir", p(fifth.path()), "import", p(&e)]);
    let out = cli(&["--data-dir", p(fifth.path()), "export"]);
    let line = out
        .lines()
        .find(|l| l.contains("\"table\":\"group_icons\""))
        .unwrap();
    let row: serde_json::Value = serde_json::from_str(line).unwrap();
    let replaced = row["row"]["token"].as_str().unwrap();
    assert!(
        replaced.len() == 32 && replaced.bytes().all(|b| b.is_ascii_hexdigit()),
        "{line}"
    );
    let d = work.path().join("old.jsonl");
    std::fs::write(&d, old).unwrap();
    let url = fresh_pg_database().await;
    cli(&["--database-url", &url, "import", p(&d)]);
    let fourth = tempfile::tempdir().unwrap();
    cli(&["--data-dir", p(fourth.path()), "import", p(&d)]);
    for args in [
        vec!["--database-url", url.as_str()],
        vec!["--data-dir", p(fourth.path())],
    ] {
        let mut all = args.clone();
        all.extend(["export"]);
        let out = cli(&all);
        let line = out
            .lines()
            .find(|l| l.contains("\"table\":\"group_icons\""))
            .unwrap();
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let new_token = row["row"]["token"].as_str().unwrap();
        assert_eq!(new_token.len(), 32, "{line}");
        assert_ne!(new_token, token);
    }
}
