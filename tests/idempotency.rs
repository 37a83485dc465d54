//! An `Idempotency-Key` claim ends with its request: a client that hangs up, or a
//! server killed mid-request, does not leave the key blocked, and the retry is
//! carried out exactly once. The create is held up deterministically by an icon
//! URL whose server never answers (a fetch that ends only at the icon timeout).

mod common;

use common::{TestApp, spawn_app_with, start};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// An icon server: the first fetch is held open and never answered (reported on
/// the channel when it arrives); later fetches get a 404 at once.
async fn stalling_icon_server() -> (String, mpsc::UnboundedReceiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/icon.png", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            if held.is_empty() {
                let _ = tx.send(());
                held.push(socket);
            } else {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    let _ = socket
                        .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                        .await;
                });
            }
        }
    });
    (url, rx)
}

/// Sends a whole REST POST over a plain connection and returns the connection
/// without reading the answer (so the caller can hang up).
async fn send_raw(app: &TestApp, path: &str, key: &str, body: &Value) -> TcpStream {
    let host = app.address.trim_start_matches("http://");
    let body = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {}\r\n\
         idempotency-key: {key}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        app.key,
        body.len()
    );
    let mut stream = TcpStream::connect(host).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

/// POSTs with the key until the answer is not 409 `idempotency_key_in_use` (the
/// first request may still be running); gives up after about 20 s. Returns the
/// status, whether the answer was a replay, and the body.
async fn retry(app: &TestApp, path: &str, key: &str, body: &Value) -> (u16, bool, Value) {
    for _ in 0..200 {
        let r = app
            .client
            .post(app.url(path))
            .bearer_auth(&app.key)
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let replayed = r.headers().get("idempotent-replayed").is_some();
        let v: Value = r.json().await.unwrap();
        if status == 409 && v["error"]["key"] == "idempotency_key_in_use" {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        }
        return (status, replayed, v);
    }
    panic!("the key stayed claimed: every retry was 409 idempotency_key_in_use");
}

fn groups_named(app: &TestApp, name: &str) -> usize {
    app.all_groups()
        .iter()
        .filter(|g| g["name"] == name)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_leaves_one_group_and_its_answer() {
    let (icon_url, mut fetching) = stalling_icon_server().await;
    // The create outlasts the claim's lease three times over: the running request
    // renews it, so no retry takes the key over meanwhile.
    let app = spawn_app_with(&[
        "--icon-allow-private",
        "--icon-timeout-secs",
        "3",
        "--idempotency-claim-secs",
        "1",
    ])
    .await;
    let body = json!({"name": "Hung up", "icon_url": icon_url});
    let conn = send_raw(&app, "/api/v1/groups", "hang-up", &body).await;
    // The key is claimed and the create is fetching the icon: hang up.
    fetching.recv().await.unwrap();
    drop(conn);
    // Give the server time to see the hang-up before the create could go on (an
    // older groupd then dropped the request halfway, leaving the key claimed).
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (status, replayed, v) = retry(&app, "/api/v1/groups", "hang-up", &body).await;
    assert_eq!((status, replayed), (201, true), "{v}");
    assert_eq!(v["name"], "Hung up");
    assert_eq!(groups_named(&app, "Hung up"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_left_by_a_killed_server_lapses_and_the_retry_runs_once() {
    let (icon_url, mut fetching) = stalling_icon_server().await;
    let flags = [
        "--icon-allow-private",
        "--icon-timeout-secs",
        "60",
        "--idempotency-claim-secs",
        "1",
    ];
    let mut app = spawn_app_with(&flags).await;
    let body = json!({"name": "Killed", "icon_url": icon_url});
    let _conn = send_raw(&app, "/api/v1/groups", "killed", &body).await;
    // Claimed and under way (the create waits for the icon): kill the server.
    fetching.recv().await.unwrap();
    app.kill();
    let again = start(&app.dir, &flags, Some(app.key.clone()));
    // Once the dead claim's lease has run out the retry is carried out (the icon
    // server answers 404 at once now: the group is made without an icon) ...
    let (status, replayed, made) = retry(&again, "/api/v1/groups", "killed", &body).await;
    assert_eq!((status, replayed), (201, false), "{made}");
    // ... once: later retries get its answer.
    let (status, replayed, v) = retry(&again, "/api/v1/groups", "killed", &body).await;
    assert_eq!((status, replayed), (201, true));
    assert_eq!(v["id"], made["id"]);
    assert_eq!(groups_named(&again, "Killed"), 1);
}
