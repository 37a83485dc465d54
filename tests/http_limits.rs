//! What a hostile client can make groupd hold: connections (header, body and idle
//! timeouts, the connection cap) and memory (the body budget, keys checked before
//! bodies). Plus framing errors that are the client's fault, not a size problem.

mod common;

use common::{TestApp, spawn_app_with};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn host(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_string()
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(host(app)).await.expect("connect")
}

/// Reads until the server closes the connection, for at most `wait`. `None` when
/// it is still open then.
async fn read_until_closed(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut all = Vec::new();
    let read = tokio::time::timeout(wait, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|_| String::from_utf8_lossy(&all).into_owned())
}

/// Sends a raw request and reads the whole answer (the request asks to close).
async fn raw(app: &TestApp, request: &[u8]) -> String {
    let mut s = connect(app).await;
    s.write_all(request).await.expect("write");
    read_until_closed(&mut s, Duration::from_secs(20))
        .await
        .expect("the server did not answer")
}

#[tokio::test]
async fn silent_slow_and_idle_connections_are_closed() {
    let app = spawn_app_with(&[
        "--http-header-timeout-secs",
        "1",
        "--http-idle-timeout-secs",
        "2",
    ])
    .await;
    let wait = Duration::from_secs(15);
    // Silent from the start.
    let mut silent = connect(&app).await;
    // Slowloris: a head that never ends, a byte at a time.
    let mut slow = connect(&app).await;
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let dripping = tokio::spawn(async move {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if slow.write_all(b"X").await.is_err() {
                return true;
            }
        }
        false
    });
    // Keep-alive, idle after one answer.
    let mut kept = connect(&app).await;
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    assert!(
        read_until_closed(&mut silent, wait).await.is_some(),
        "a silent connection was held"
    );
    assert!(
        read_until_closed(&mut kept, wait).await.is_some(),
        "an idle keep-alive connection was held"
    );
    assert!(
        dripping.await.unwrap(),
        "a head sent a byte at a time was read for 10 s"
    );
}

#[tokio::test]
async fn a_stalled_body_gets_a_timeout_answer() {
    let app = spawn_app_with(&["--http-body-timeout-secs", "1"]).await;
    let mut s = connect(&app).await;
    let head = "POST /api_request/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nadd=groups&group_name=";
    s.write_all(head.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut s, Duration::from_secs(15))
        .await
        .expect("a stalled body was held");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("\"error_key\":\"request_timeout\""),
        "{answer}"
    );
}

#[tokio::test]
async fn past_the_connection_cap_idle_connections_make_room() {
    let app = spawn_app_with(&["--http-max-connections", "20"]).await;
    let mut silent = Vec::new();
    for _ in 0..60 {
        silent.push(connect(&app).await);
    }
    // Past the cap, while every connection is new (its request may be on its
    // way), the newcomer is refused in the dialects' error shape.
    let refused = raw(
        &app,
        b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("\"key\":\"server_busy\""), "{refused}");
    // Once they have been idle a while, the newcomer closes the oldest.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for _ in 0..5 {
        let answer = raw(
            &app,
            b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    // The oldest silent connections were closed to make room.
    let mut closed = 0;
    for s in silent.iter_mut().take(20) {
        if read_until_closed(s, Duration::from_millis(200))
            .await
            .is_some()
        {
            closed += 1;
        }
    }
    assert!(closed > 0, "no silent connection was closed at the cap");
}

#[tokio::test]
async fn a_low_descriptor_limit_still_answers() {
    // The server's file descriptor limit is 256; 400 silent connections must not
    // stop it from answering.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    if common::on_postgres() {
        let url = common::fresh_pg_database().await;
        std::fs::write(
            dir.join(common::CONFIG),
            format!("database_url = \"{url}\"\n"),
        )
        .unwrap();
    }
    common::raise_own_fd_limit();
    let app = common::start_with_fd_limit(&dir, 256);
    let mut silent = Vec::new();
    for _ in 0..400 {
        match tokio::time::timeout(Duration::from_secs(2), connect(&app)).await {
            Ok(s) => silent.push(s),
            Err(_) => break,
        }
    }
    // Connections become evictable once idle for a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let answer = tokio::time::timeout(
        Duration::from_secs(10),
        raw(
            &app,
            b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ),
    )
    .await
    .expect("/health did not answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let (status, body) = app
        .post_form(&[
            ("api_secret_key", &app.key),
            ("add", "groups"),
            ("group_name", "Still here"),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"success\":true"), "{body}");
}

#[tokio::test]
async fn a_broken_chunk_size_is_a_bad_request_not_too_large() {
    let app = spawn_app_with(&[]).await;
    let grupo = raw(
        &app,
        b"POST /api_request/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
          Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n\
          ZZ\r\nadd=groups\r\n0\r\n\r\n",
    )
    .await;
    assert!(grupo.starts_with("HTTP/1.1 400"), "{grupo}");
    assert!(grupo.contains("\"error_key\":\"invalid_value\""), "{grupo}");
    assert!(!grupo.contains("larger than"), "{grupo}");
    let rest = raw(
        &app,
        format!(
            "POST /api/v1/groups HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Authorization: Bearer {}\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\n\r\nZZ\r\n{{}}\r\n0\r\n\r\n",
            app.key
        )
        .as_bytes(),
    )
    .await;
    assert!(rest.starts_with("HTTP/1.1 400"), "{rest}");
    assert!(rest.contains("\"key\":\"bad_request\""), "{rest}");
}

#[tokio::test]
async fn rest_parses_the_media_type() {
    let app = spawn_app_with(&[]).await;
    for (ct, status) in [
        ("application/jsonx", 400),
        ("application/json-seq", 400),
        ("text/json", 400),
        ("application/json; charset=utf-8", 201),
        ("Application/JSON", 201),
    ] {
        let r = app
            .client
            .post(app.url("/api/v1/groups"))
            .bearer_auth(&app.key)
            .header("content-type", ct)
            .body(format!(r#"{{"name":"Media {status} {}"}}"#, ct.len()))
            .send()
            .await
            .unwrap();
        let got = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert_eq!(got, status, "{ct}: {text}");
        if status == 400 {
            assert!(text.contains("\"key\":\"bad_request\""), "{text}");
        }
    }
}

/// Opens `n` connections that each send the head and all but one byte of a
/// `len`-byte body, then stall.
async fn stalled_uploads(app: &TestApp, n: usize, len: usize, head: &str) -> Vec<TcpStream> {
    let mut held = Vec::new();
    let filler = vec![b'a'; 64 * 1024];
    for _ in 0..n {
        let mut s = connect(app).await;
        let head = head.replace("{len}", &len.to_string());
        s.write_all(head.as_bytes()).await.unwrap();
        held.push(s);
    }
    // Write the bodies side by side; a write the server does not take stops there.
    let mut writers = Vec::new();
    for mut s in held {
        let filler = filler.clone();
        writers.push(tokio::spawn(async move {
            let mut left = len - 1;
            while left > 0 {
                let part = left.min(filler.len());
                match tokio::time::timeout(Duration::from_secs(3), s.write_all(&filler[..part]))
                    .await
                {
                    Ok(Ok(())) => left -= part,
                    _ => break,
                }
            }
            s
        }));
    }
    let mut out = Vec::new();
    for w in writers {
        out.push(w.await.unwrap());
    }
    out
}

#[tokio::test]
async fn stalled_bodies_of_strangers_hold_bounded_memory() {
    common::raise_own_fd_limit();
    let app = spawn_app_with(&["--http-body-memory-bytes", "33554432"]).await;
    let idle = app.memory_kib("VmRSS");
    // 300 strangers upload 1 MiB bodies (Grupo: the key would be in the body) and stall.
    let held = stalled_uploads(
        &app,
        300,
        1024 * 1024,
        "POST /api_request/ HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len}\r\n\r\n",
    )
    .await;
    let peak = app.memory_kib("VmHWM");
    eprintln!("idle {idle} KiB, peak with 300 stalled 1 MiB bodies {peak} KiB");
    assert!(
        peak < idle + 120 * 1024,
        "300 stalled bodies took RSS from {idle} KiB to {peak} KiB"
    );
    // The server still answers someone with a small request.
    let (status, body) = app
        .post_form(&[
            ("api_secret_key", &app.key),
            ("add", "groups"),
            ("group_name", "Small"),
        ])
        .await;
    assert!(status == 200 || status == 503, "{status} {body}");
    drop(held);
}

#[tokio::test]
async fn keys_outside_the_body_are_checked_before_it_is_read() {
    let app = spawn_app_with(&[]).await;
    // Announce a 1 MiB body but send none of it: the answer must come anyway.
    for head in [
        "POST /admin/api.php?api_action=group_add&api_output=json HTTP/1.1\r\nHost: x\r\n\
         API-TOKEN: gk_wrong\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: 1048576\r\n\r\n",
        "POST /admin/api.php?api_action=group_add&api_output=json&api_key=gk_wrong HTTP/1.1\r\n\
         Host: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: 1048576\r\n\r\n",
        "POST /api_request/?api_secret_key=gk_wrong HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1048576\r\n\r\n",
    ] {
        let mut s = connect(&app).await;
        s.write_all(head.as_bytes()).await.unwrap();
        let answer = read_until_closed(&mut s, Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("no answer before the body: {head}"));
        assert!(answer.contains("HTTP/1.1 "), "{answer}");
        assert!(
            answer.contains("invalid_api_secret_key") || answer.contains("result_code\":0"),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn bodies_sent_a_byte_at_a_time_hold_only_their_bytes() {
    // Each byte arrives as its own chunk of the connection's read buffer; a body
    // must not keep those buffers alive (8 KiB each) beyond the bytes it counts.
    let app = spawn_app_with(&[]).await;
    let before = app.memory_kib("VmRSS");
    let mut held = Vec::new();
    let mut writers = Vec::new();
    for _ in 0..20 {
        let mut s = connect(&app).await;
        s.set_nodelay(true).unwrap();
        s.write_all(
            b"POST /api_request/ HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4001\r\n\r\n",
        )
        .await
        .unwrap();
        writers.push(tokio::spawn(async move {
            for _ in 0..4000 {
                s.write_all(b"a").await.unwrap();
                s.flush().await.unwrap();
                tokio::task::yield_now().await;
            }
            s
        }));
    }
    for w in writers {
        held.push(w.await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let during = app.memory_kib("VmRSS");
    eprintln!("RSS {before} KiB before, {during} KiB with 20 bodies of 4000 one-byte writes");
    assert!(
        during < before + 48 * 1024,
        "80 KB of bodies sent a byte at a time took RSS from {before} to {during} KiB"
    );
    drop(held);
}
