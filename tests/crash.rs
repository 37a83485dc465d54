//! Durability: a server killed with SIGKILL in the middle of a create load keeps
//! every group it acknowledged, and no group it did not finish is half there.
//! (This checks data, never time.)

mod common;

use common::{add_field, spawn_app_with, start};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_groups_survive_sigkill() {
    let mut app = spawn_app_with(&[]).await;
    add_field(&app.dir, "1", "Check", "short_text");
    let acked: Arc<Mutex<HashMap<i64, String>>> = Arc::default();
    let address = app.address.clone();
    let key = app.key.clone();
    let mut tasks = Vec::new();
    for t in 0..8 {
        let acked = acked.clone();
        let url = format!("{address}/api_request/");
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in 0..5000 {
                let name = format!("crash-{t}-{i}");
                let sent = client
                    .post(&url)
                    .form(&[
                        ("api_secret_key", key.as_str()),
                        ("add", "groups"),
                        ("group_name", name.as_str()),
                        ("description", "written in one transaction"),
                        ("custom_field_1", name.as_str()),
                    ])
                    .send()
                    .await;
                let Ok(r) = sent else { break };
                let Ok(body) = r.text().await else { break };
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) else {
                    break;
                };
                match v["group_id"].as_i64() {
                    Some(id) => {
                        acked.lock().unwrap().insert(id, name);
                    }
                    None => break,
                }
            }
        }));
    }
    // Kill once a fair number of writes have been acknowledged, with more in flight.
    for _ in 0..400 {
        if acked.lock().unwrap().len() >= 300 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    app.kill();
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 300,
        "the load did not get going: {} acknowledged",
        acked.len()
    );

    let dir = app.dir.clone();
    let app = start(&dir, &[], Some(key));
    let stored: HashMap<i64, serde_json::Value> = app
        .all_groups()
        .into_iter()
        .map(|g| (g["id"].as_i64().unwrap(), g))
        .collect();
    for (id, name) in &acked {
        let g = stored
            .get(id)
            .unwrap_or_else(|| panic!("acknowledged group {id} ({name}) was lost"));
        assert_eq!(g["name"], name.as_str());
    }
    // Nothing half there: every stored group has all it was created with.
    for g in stored.values() {
        assert_eq!(
            g["custom_fields"]["1"], g["name"],
            "half-written group: {g}"
        );
        assert_eq!(g["description"], "written in one transaction");
    }
    eprintln!(
        "{} acknowledged, {} stored after SIGKILL",
        acked.len(),
        stored.len()
    );
}
