//! The SCIM door: discovery, authentication and errors, scim2-tester's checks,
//! and the request sequences Okta and Entra send, replayed.

mod common;

use common::spawn_app;
use serde_json::Value;

async fn scim(
    app: &common::TestApp,
    method: &str,
    path: &str,
    key: Option<&str>,
) -> (u16, String, Value) {
    let mut req = app
        .client
        .request(method.parse().unwrap(), app.url(&format!("/scim/v2{path}")));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, ct, body)
}

#[tokio::test]
async fn discovery_says_what_is_implemented_and_errors_are_scim_errors() {
    let app = spawn_app().await;
    let key = Some(app.key.as_str());
    let (s, ct, spc) = scim(&app, "GET", "/ServiceProviderConfig", key).await;
    assert_eq!((s, ct.as_str()), (200, "application/scim+json"));
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["bulk"]["supported"], false);
    assert_eq!(spc["filter"]["maxResults"], 200);
    let (s, _, types) = scim(&app, "GET", "/ResourceTypes", key).await;
    assert_eq!(s, 200);
    assert_eq!(types["totalResults"], 2);
    let (_, _, schemas) = scim(&app, "GET", "/Schemas", key).await;
    for rt in types["Resources"].as_array().unwrap() {
        let id = rt["schema"].as_str().unwrap();
        assert!(
            schemas["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["id"] == id),
            "{id} is published"
        );
        let (s, _, one) = scim(&app, "GET", &format!("/Schemas/{id}"), key).await;
        assert_eq!((s, one["id"].as_str()), (200, Some(id)));
    }
    let (s, _, user) = scim(&app, "GET", "/ResourceTypes/User", key).await;
    assert_eq!((s, user["endpoint"].as_str()), (200, Some("/Users")));
    // Errors: SCIM's own shape and media type, status as a string.
    for (method, path, want) in [
        ("GET", "/ResourceTypes/Nope", 404),
        ("GET", "/Schemas/urn:nope", 404),
        ("GET", "/0f8fad5b-d9cb-469f-a165-70867728950e", 404),
        ("POST", "/ServiceProviderConfig", 405),
        ("PUT", "/ResourceTypes", 405),
        ("DELETE", "/Schemas", 405),
    ] {
        let (s, ct, body) = scim(&app, method, path, key).await;
        assert_eq!(s, want, "{method} {path}");
        assert_eq!(ct, "application/scim+json", "{method} {path}");
        assert_eq!(
            body["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
        assert_eq!(body["status"], want.to_string());
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    // No key, a wrong key: 401 in SCIM's format.
    for key in [None, Some("gk_not_a_key")] {
        let (s, ct, body) = scim(&app, "GET", "/ServiceProviderConfig", key).await;
        assert_eq!((s, ct.as_str()), (401, "application/scim+json"));
        assert_eq!(body["status"], "401");
    }
}

/// scim2-tester (PyPI), run by `scripts/scim2-tester` against this groupd:
/// every User and Group check passes (it prints each, and what it skipped).
#[tokio::test]
async fn scim2_tester_passes_every_user_and_group_check() {
    let app = spawn_app().await;
    let out = std::process::Command::new("scripts/scim2-tester")
        .arg(app.url("/scim/v2"))
        .arg(&app.key)
        .output()
        .expect("run scripts/scim2-tester");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "scim2-tester found problems:\n{stdout}");
    assert!(stdout.contains("[User] object_creation") && stdout.contains("[Group] object_creation"));
}
