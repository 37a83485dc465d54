//! Look-alike identifiers: slugs, usernames and email addresses are compared after
//! Unicode normalisation and case folding, look-alikes of reserved words and mixed
//! scripts are refused, and names must be visible and free of bidi controls.

mod common;

use common::{TestApp, enc, spawn_app};
use serde_json::{Value, json};

async fn new_user(app: &TestApp, username: &str, email: &str) -> (u16, Value) {
    app.rest(
        "POST",
        "/api/v1/users",
        Some(json!({"full_name": "Kate", "username": username, "email": email, "password": "secret-pw"})),
    )
    .await
}

/// The fields a REST 422 names.
fn refused_fields(status: u16, v: &Value) -> Vec<String> {
    assert_eq!(status, 422, "{v}");
    v["error"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no fields: {v}"))
        .iter()
        .map(|f| f["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn a_kelvin_sign_email_is_the_ascii_address_not_a_shadow_of_it() {
    let app = spawn_app().await;
    // U+212A KELVIN SIGN looks like K and folds to k.
    let (s, kelvin) = new_user(&app, "kelvin", "\u{212A}ate@example.org").await;
    assert_eq!(s, 201, "{kelvin}");
    // Stored as the address it stands for: mail for this account goes to the real
    // mailbox, not to a look-alike that only resembles it.
    assert_eq!(kelvin["email"], "Kate@example.org");
    let (s, found) = app
        .rest("GET", "/api/v1/users/kate@example.org", None)
        .await;
    assert_eq!(s, 200, "{found}");
    assert_eq!(
        (found["id"].clone(), found["email"].as_str()),
        (kelvin["id"].clone(), Some("Kate@example.org"))
    );
    // Either spelling names the same identity: a second registration is a duplicate.
    let (s, v) = new_user(&app, "kate", "kate@example.org").await;
    assert_eq!((s, v["error"]["key"].as_str()), (409, Some("email_exists")));
    let (s, v) = new_user(&app, "kate2", "\u{212A}ATE@EXAMPLE.ORG").await;
    assert_eq!((s, v["error"]["key"].as_str()), (409, Some("email_exists")));
    // Full case folding, not only lower case: ß and ss are one address.
    let (s, _) = new_user(&app, "strasse", "strasse@example.de").await;
    assert_eq!(s, 201);
    let (s, v) = new_user(&app, "strasse2", "STRAẞE@example.de").await;
    assert_eq!((s, v["error"]["key"].as_str()), (409, Some("email_exists")));
    // A Cyrillic а among Latin letters is a different mailbox that looks the same.
    let (s, v) = new_user(&app, "kate3", "k\u{430}te@example.org").await;
    assert_eq!(
        (s, v["error"]["key"].as_str()),
        (422, Some("invalid_email_address")),
        "{v}"
    );
    // Usernames: the Kelvin sign and fullwidth letters are the ASCII ones.
    let (s, v) = new_user(&app, "\u{212A}ELVIN", "other@example.org").await;
    assert_eq!(
        (s, v["error"]["key"].as_str()),
        (409, Some("username_exists"))
    );
    let (s, v) = app.rest("GET", "/api/v1/users/ＫＥＬＶＩＮ", None).await;
    assert_eq!((s, v["id"].clone()), (200, kelvin["id"].clone()));
    // Grupo answers the same way.
    let v = app
        .grupo(&[
            ("add", "site_users"),
            ("full_name", "K"),
            ("username", "kate4"),
            ("email_address", "KATE@example.org"),
            ("password", "secret-pw"),
        ])
        .await;
    assert_eq!(v["error_key"], "email_exists");
}

#[tokio::test]
async fn look_alikes_of_reserved_slugs_and_usernames_are_refused() {
    let app = spawn_app().await;
    for slug in [
        "ａｄｍｉｎ",       // fullwidth
        "\u{430}dmin",      // Cyrillic а
        "ɑdmin",            // Latin alpha
        "ad\u{200B}min",    // zero-width space
        "ＳＥＴＴＩＮＧＳ", // fullwidth capitals
        "a11",              // digits for letters
    ] {
        let (s, v) = app
            .rest(
                "POST",
                "/api/v1/groups",
                Some(json!({"name": "G", "slug": slug})),
            )
            .await;
        assert_eq!(refused_fields(s, &v), ["slug"], "{slug}: {v}");
    }
    // Mixed scripts are refused even when no reserved word is near.
    let (s, v) = app
        .rest(
            "POST",
            "/api/v1/groups",
            Some(json!({"name": "G", "slug": "p\u{430}ypal"})),
        )
        .await;
    assert_eq!(refused_fields(s, &v), ["slug"]);
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Latin and Cyrillic")),
        "{v}"
    );
    // Grupo refuses them too.
    let v = app
        .grupo(&[
            ("add", "groups"),
            ("group_name", "G"),
            ("slug", "ａｄｍｉｎ"),
        ])
        .await;
    assert_eq!(
        (v["error_key"].as_str(), v["error_variables"].clone()),
        (Some("invalid_value"), json!(["slug"]))
    );
    assert!(
        app.all_groups().is_empty(),
        "a refused request wrote a group"
    );
    // A username may not look like a reserved word either.
    let (s, v) = new_user(&app, "ａｄｍｉｎ", "a@example.org").await;
    assert_eq!(refused_fields(s, &v), ["username"]);
}

#[tokio::test]
async fn a_decomposed_accent_is_the_same_slug_not_a_different_word() {
    let app = spawn_app().await;
    let (s, v) = app
        .rest(
            "POST",
            "/api/v1/groups",
            Some(json!({"name": "Café", "slug": "cafe\u{301}"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["slug"], "café");
    // `cafe` is another word, and free.
    let (s, _) = app
        .rest(
            "POST",
            "/api/v1/groups",
            Some(json!({"name": "Cafe", "slug": "cafe"})),
        )
        .await;
    assert_eq!(s, 201);
    // The composed spelling and the fullwidth capitals are the same slug.
    for same in ["café", "CAFÉ", "ＣＡＦＥ\u{301}"] {
        let (s, v) = app
            .rest(
                "POST",
                "/api/v1/groups",
                Some(json!({"name": "Again", "slug": same})),
            )
            .await;
        assert_eq!(
            (s, v["error"]["key"].as_str()),
            (409, Some("slug_already_exists")),
            "{same}: {v}"
        );
    }
    // And a look-up by either spelling finds it.
    let (s, found) = app.rest("GET", "/api/v1/groups/CAFE%CC%81", None).await;
    assert_eq!((s, found["name"].as_str()), (200, Some("Café")), "{found}");
}

#[tokio::test]
async fn names_must_be_visible_and_free_of_bidi_controls() {
    let app = spawn_app().await;
    for name in [
        "\u{FEFF}",                 // a lone byte order mark
        "\u{200B}\u{200C}\u{200D}", // zero-width space and joiners
        " \u{2060} ",               // word joiner between spaces
        "invoice\u{202E}fdp.exe",   // right-to-left override
        "\u{2067}Admin\u{2069}",    // right-to-left isolate
        "\u{200F}Team",             // right-to-left mark
    ] {
        let (s, v) = app
            .rest("POST", "/api/v1/groups", Some(json!({"name": name})))
            .await;
        assert_eq!(refused_fields(s, &v), ["name"], "{name:?}: {v}");
    }
    let (s, v) = app
        .rest(
            "POST",
            "/api/v1/users",
            Some(json!({"full_name": "\u{FEFF}", "username": "ada", "email": "ada@example.org", "password": "secret-pw"})),
        )
        .await;
    assert_eq!(refused_fields(s, &v), ["full_name"]);
    // Grupo and ActiveCampaign answer in their own formats.
    let v = app
        .grupo(&[("add", "groups"), ("group_name", "\u{200B}")])
        .await;
    assert_eq!(
        (v["error_key"].as_str(), v["error_variables"].clone()),
        (Some("invalid_value"), json!(["group_name"]))
    );
    let body = app
        .client
        .post(format!(
            "{}/admin/api.php?api_action=group_add&api_output=json",
            app.address
        ))
        .header("API-TOKEN", &app.key)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("title={}", enc("a\u{202E}b")))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("body");
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    assert_eq!(v["result_code"], 0, "{body}");
    assert!(
        app.all_groups().is_empty(),
        "a refused request wrote a group"
    );
    // Joiners inside visible text stay (emoji sequences, many scripts need them).
    let (s, v) = app
        .rest(
            "POST",
            "/api/v1/groups",
            Some(json!({"name": "👩\u{200D}💻 coders"})),
        )
        .await;
    assert_eq!((s, v["name"].as_str()), (201, Some("👩\u{200D}💻 coders")));
}
