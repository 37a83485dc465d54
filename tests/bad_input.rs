//! Bad input never crashes, never answers 500 and never writes: it gets Grupo's own
//! error format.

mod common;

use common::{TestApp, spawn_app};
use serde_json::Value;

async fn assert_refused(app: &TestApp, status: u16, body: &str) -> Value {
    assert!(status == 200 || status == 413, "status {status}: {body}");
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    assert_eq!(v["success"], false, "{body}");
    assert!(v["error_key"].is_string());
    assert!(app.all_groups().is_empty(), "refused input wrote a group");
    v
}

#[tokio::test]
async fn malformed_bodies_get_clear_errors() {
    let app = spawn_app().await;
    let key = format!("api_secret_key={}&add=groups&group_name=", app.key);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "application/x-www-form-urlencoded",
            format!("{key}%FF%FE").into_bytes(),
        ),
        (
            "application/x-www-form-urlencoded",
            [key.as_bytes(), &[0xff, 0xfe]].concat(),
        ),
        (
            "application/x-www-form-urlencoded",
            format!("{key}a%00b").into_bytes(),
        ),
        (
            "multipart/form-data; boundary=zzz",
            b"--zzz\r\nnot a part".to_vec(),
        ),
        ("multipart/form-data", b"--x\r\n".to_vec()),
        (
            "application/json",
            format!(
                r#"{{"api_secret_key":"{}","add":"groups","group_name":"J"}}"#,
                app.key
            )
            .into_bytes(),
        ),
        ("text/plain", b"hello".to_vec()),
    ];
    for (ct, body) in cases {
        let (status, text) = app.post_raw(ct, body).await;
        let v = assert_refused(&app, status, &text).await;
        assert_eq!(v["error_key"], "invalid_value", "{ct}: {text}");
    }
    let (_, text) = app.post_raw("application/json", b"{}".to_vec()).await;
    assert!(
        text.contains("application/x-www-form-urlencoded or multipart/form-data"),
        "{text}"
    );
}

#[tokio::test]
async fn oversized_and_overfull_requests_are_refused() {
    let app = spawn_app().await;
    let big = format!(
        "api_secret_key={}&add=groups&group_name={}",
        app.key,
        "x".repeat(2 * 1024 * 1024)
    );
    let (status, text) = app
        .post_raw("application/x-www-form-urlencoded", big.into_bytes())
        .await;
    assert_eq!(status, 413);
    assert_refused(&app, status, &text).await;
    let mut many = format!("api_secret_key={}&add=groups&group_name=x", app.key);
    for i in 0..1200 {
        many.push_str(&format!("&f{i}=1"));
    }
    let (status, text) = app
        .post_raw("application/x-www-form-urlencoded", many.into_bytes())
        .await;
    let v = assert_refused(&app, status, &text).await;
    assert!(
        v["error_message"]
            .as_str()
            .unwrap()
            .contains("more than 1000 fields")
    );
}

#[tokio::test]
async fn absurd_values_are_validation_errors() {
    let app = spawn_app().await;
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![
            ("add", "groups"),
            ("group_name", "x"),
            ("group_category_id", "99999999999999999999999"),
        ],
        vec![
            ("add", "groups"),
            ("group_name", "x"),
            ("group_category_id", "-1"),
        ],
        vec![
            ("add", "groups"),
            ("group_name", "x"),
            ("custom_field_99999999999999999999", "v"),
        ],
        vec![
            ("add", "groups"),
            ("group_name", "x"),
            ("custom_field_", "v"),
        ],
        vec![("add", "groups"), ("group_name", "tab\there")],
        vec![("add", "groups"), ("group_name", "   ")],
        vec![("add", "groups"), ("group_name", "<b></b>")],
        vec![
            ("add", "groups"),
            ("group_name", "x"),
            ("password_protect", "yes"),
            ("password", ""),
        ],
        vec![
            ("add", "groups"),
            ("group_name", "x"),
            ("group_icon_url", "not a url"),
        ],
        vec![
            ("update", "groups"),
            ("group", "99999999999999999999999"),
            ("group_name", "x"),
        ],
        vec![("remove", "groups"), ("group", "")],
    ];
    for fields in cases {
        let mut all = vec![("api_secret_key", app.key.as_str())];
        all.extend(fields.iter().copied());
        let (status, text) = app.post_form(&all).await;
        assert_refused(&app, status, &text).await;
    }
    let long_pw = "p".repeat(1025);
    let v = app
        .grupo(&[
            ("add", "groups"),
            ("group_name", "x"),
            ("password_protect", "yes"),
            ("password", &long_pw),
        ])
        .await;
    assert_eq!(v["error_variables"], serde_json::json!(["password"]));
}

#[tokio::test]
async fn random_bytes_never_cause_a_500() {
    let app = spawn_app().await;
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let types = [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=b",
        "application/json",
        "",
    ];
    let prefix = format!("api_secret_key={}&add=groups&", app.key);
    for i in 0..300 {
        let len = (next() % 300) as usize;
        let mut body: Vec<u8> = (0..len).map(|_| (next() % 256) as u8).collect();
        if i % 2 == 0 {
            // Half the cases carry a valid key and operation, so validation is reached.
            body = [prefix.as_bytes(), &body].concat();
        }
        let ct = types[(next() % types.len() as u64) as usize];
        let (status, text) = app.post_raw(ct, body).await;
        assert_ne!(status, 500, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
        if v["success"] == true {
            // Random bytes can make a valid create (a random name); that is fine.
            continue;
        }
        assert!(v["error_key"].is_string());
    }
}

#[tokio::test]
async fn other_methods_and_routes_get_answers_not_errors() {
    let app = spawn_app().await;
    let r = app
        .client
        .put(app.url("/api_request/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let r = app.client.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"error":{"key":"not_found","message":"No such route"}}"#
    );
    let r = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "ok");
}
