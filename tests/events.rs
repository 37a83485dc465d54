//! The audit log through every door: each change is an event naming the key (by
//! prefix and label) or the command line, and the door it came through; read back
//! with `GET /api/v1/events` and `groupd events`.

mod common;

use common::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::time::Duration;

async fn events(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, page) = app
        .rest("GET", &format!("/api/v1/events{query}"), None)
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().expect("items").clone()
}

#[tokio::test]
async fn every_door_stamps_its_events() {
    let app = spawn_app().await;
    let prefix = format!("key:{}", &app.key[3..11]);
    let grupo = app.create_group(&[("group_name", "From Grupo")]).await;
    let ac = app
        .client
        .post(app.url(&format!(
            "/admin/api.php?api_action=group_add&api_output=json&api_key={}",
            app.key
        )))
        .form(&[("title", "From AC"), ("pg_list_add", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(ac.status(), 200);
    let (status, rest) = app
        .rest("POST", "/api/v1/groups", Some(json!({"name": "From REST"})))
        .await;
    assert_eq!(status, 201, "{rest}");
    groupd_ok(&app.dir, &["category", "add", "From CLI"]);

    let log = events(&app, "").await;
    let doors: Vec<(&str, &str, &str)> = log
        .iter()
        .skip(1) // the first key, made at the first start by groupd itself
        .map(|e| {
            (
                e["type"].as_str().unwrap(),
                e["actor"].as_str().unwrap(),
                e["door"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        doors,
        [
            ("group.created", prefix.as_str(), "grupo"),
            ("group.created", prefix.as_str(), "activecampaign"),
            ("group.created", prefix.as_str(), "rest"),
            ("category.created", "cli", "cli"),
        ]
    );
    assert_eq!(log[0]["type"], "key.created");
    assert_eq!(
        (log[0]["actor"].as_str(), log[0]["door"].as_str()),
        (Some("system"), None)
    );
    assert_eq!(log[1]["group_id"], grupo);
    assert_eq!(log[3]["group_id"], rest["id"]);
    let name = log[1]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == "name")
        .unwrap()
        .clone();
    assert_eq!(
        name,
        json!({"field": "name", "before": null, "after": "From Grupo"})
    );
    assert!(log[1]["timestamp"].as_str().unwrap().ends_with('Z'));

    // Filters and paging.
    let groups = events(&app, "?type=group.*").await;
    assert_eq!(groups.len(), 3);
    let by_cli = events(&app, "?actor=cli").await;
    assert_eq!(by_cli.len(), 1);
    let about = events(&app, &format!("?group={grupo}")).await;
    assert_eq!(about.len(), 1);
    let (_, first) = app.rest("GET", "/api/v1/events?limit=2", None).await;
    assert_eq!(first["next_after"], 2);
    let rest_of = events(&app, "?after=2").await;
    assert_eq!(rest_of[0]["id"], 3);
    let (_, empty) = app.rest("GET", "/api/v1/events?after=99", None).await;
    assert_eq!(
        (empty["items"].clone(), empty["next_after"].clone()),
        (json!([]), Value::Null)
    );
    for bad in ["?after=-1", "?after=x", "?limit=0", "?type=nope.*"] {
        let (status, body) = app.rest("GET", &format!("/api/v1/events{bad}"), None).await;
        assert_eq!(status, 422, "{bad}: {body}");
    }
    // Another workspace sees only its own events.
    let made = groupd_ok(&app.dir, &["workspace", "create", "other"]);
    let other_key = made.trim().to_string();
    let r = app
        .client
        .get(app.url("/api/v1/events"))
        .bearer_auth(&other_key)
        .send()
        .await
        .unwrap();
    let theirs: Value = r.json().await.unwrap();
    let kinds: Vec<&str> = theirs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["key.created"]);
}

#[tokio::test]
async fn groupd_events_prints_and_follows_the_log() {
    let app = spawn_app().await;
    app.create_group(&[("group_name", "Owls")]).await;
    let (status, _) = app
        .rest("POST", "/api/v1/groups", Some(json!({"name": "Larks"})))
        .await;
    assert_eq!(status, 201);
    let table = groupd_ok(&app.dir, &["events", "--type", "group.*"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    let cols: Vec<&str> = lines[0].split('\t').collect();
    assert_eq!(cols[0], "2");
    assert_eq!(cols[2], "group.created");
    assert!(cols[3].starts_with("key:"), "{table}");
    assert_eq!(cols[4], "grupo");
    assert!(lines[0].contains("name: null -> \"Owls\""), "{table}");
    let json_lines = groupd_ok(&app.dir, &["events", "--json", "--after", "2"]);
    let parsed: Vec<Value> = json_lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0]["door"], "rest");
    assert_eq!(parsed[0]["id"], 3);

    // --follow prints what happens after it started.
    let mut follow = std::process::Command::new(BIN)
        .arg("--data-dir")
        .arg(&app.dir)
        .args(config_args(&app.dir))
        .args(["events", "--follow", "--after", "3"])
        .env("GROUPD_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("groupd events --follow");
    let stdout = follow.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.try_recv().is_err(), "nothing new yet");
    app.create_group(&[("group_name", "Swifts")]).await;
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("--follow printed the new event");
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(line.starts_with("4\t"), "{line}");
    assert!(line.contains("Swifts"), "{line}");
}
