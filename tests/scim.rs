//! The SCIM door: discovery, authentication and errors, scim2-tester's checks,
//! and the request sequences Okta and Entra send, replayed.

mod common;

use common::{enc, spawn_app};
use serde_json::{Value, json};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const EXT: &str = "urn:groupd:params:scim:schemas:extension:2.0:Group";

/// A SCIM request with a JSON body, sent as the identity providers send it
/// (`application/scim+json`); status and parsed answer (Null when empty).
async fn send(
    app: &common::TestApp,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app
        .client
        .request(method.parse().unwrap(), app.url(&format!("/scim/v2{path}")))
        .bearer_auth(&app.key);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/scim+json; charset=utf-8")
            .body(b.to_string());
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    (status, value)
}

fn patch_op(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// A SCIM PATCH of `ops` to `path`.
async fn patch(app: &common::TestApp, path: &str, ops: Value) -> (u16, Value) {
    send(app, "PATCH", path, Some(patch_op(ops))).await
}

/// A list's query string, encoded.
fn query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The ids of a group's members, through the REST API.
async fn rest_members(app: &common::TestApp, group: &str) -> Vec<i64> {
    let (s, page) = app
        .rest(
            "GET",
            &format!("/api/v1/groups/{group}/members?limit=1000"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{page}");
    let mut ids: Vec<i64> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| m["user"]["id"].as_i64().or(m["id"].as_i64()).expect("id"))
        .collect();
    ids.sort();
    ids
}

fn id_of(resource: &Value) -> String {
    resource["id"].as_str().expect("id").to_string()
}

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
    assert!(
        out.status.success(),
        "scim2-tester found problems:\n{stdout}"
    );
    assert!(
        stdout.contains("[User] object_creation") && stdout.contains("[Group] object_creation")
    );
}

/// Okta's user provisioning: look up by userName (none), create, a second
/// create refused as not unique, look up without case, deactivate by a PATCH
/// without a path, and reactivate by a full PUT.
#[tokio::test]
async fn okta_provisions_deactivates_and_reactivates_a_user() {
    let app = spawn_app().await;
    let lookup = |name: &str| {
        format!(
            "/Users?{}",
            query(&[
                ("filter", &format!("userName eq \"{name}\"")),
                ("startIndex", "1"),
                ("count", "100")
            ])
        )
    };
    let (s, none) = send(&app, "GET", &lookup("ada.lovelace@example.com"), None).await;
    assert_eq!((s, &none["totalResults"]), (200, &json!(0)));
    let okta_user = json!({
        "schemas": [USER], "userName": "ada.lovelace@example.com",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"primary": true, "value": "ada.lovelace@example.com", "type": "work"}],
        "displayName": "Ada Lovelace", "locale": "en-US", "externalId": "00u1ab2cd3EF4gh5",
        "groups": [], "password": {"value": "not-kept-1"}, "active": true
    });
    let (s, made) = send(&app, "POST", "/Users", Some(okta_user.clone())).await;
    assert_eq!(s, 201, "{made}");
    assert_eq!(made["userName"], "ada.lovelace@example.com");
    assert_eq!(
        made["emails"],
        json!([{"value": "ada.lovelace@example.com"}])
    );
    assert_eq!(made["meta"]["resourceType"], "User");
    assert!(
        made["meta"]["location"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/scim/v2/Users/{}", id_of(&made)))
    );
    let id = id_of(&made);
    let (s, again) = send(&app, "POST", "/Users", Some(okta_user.clone())).await;
    assert_eq!(
        (s, again["scimType"].as_str()),
        (409, Some("uniqueness")),
        "{again}"
    );
    let (_, found) = send(&app, "GET", &lookup("ADA.Lovelace@example.com"), None).await;
    assert_eq!(found["totalResults"], 1);
    assert_eq!(id_of(&found["Resources"][0]), id);
    // groupd's own view: a derived username, the address, no password.
    let (s, rest) = app.rest("GET", &format!("/api/v1/users/{id}"), None).await;
    assert_eq!(s, 200);
    assert_eq!(
        (
            rest["username"].as_str(),
            rest["email"].as_str(),
            rest["full_name"].as_str()
        ),
        (
            Some("ada.lovelace"),
            Some("ada.lovelace@example.com"),
            Some("Ada Lovelace")
        )
    );
    assert_eq!(
        (rest["active"].as_bool(), rest["external_id"].as_str()),
        (Some(true), Some("00u1ab2cd3EF4gh5"))
    );
    let (s, off) = patch(
        &app,
        &format!("/Users/{id}"),
        json!([{"op": "replace", "value": {"active": false}}]),
    )
    .await;
    assert_eq!((s, &off["active"]), (200, &json!(false)), "{off}");
    let (_, rest) = app.rest("GET", &format!("/api/v1/users/{id}"), None).await;
    assert_eq!(rest["active"], false);
    let mut back = okta_user.clone();
    back["id"] = json!(id);
    back["active"] = json!(true);
    back["name"]["familyName"] = json!("King");
    back["displayName"] = json!("Ada King");
    let (s, on) = send(&app, "PUT", &format!("/Users/{id}"), Some(back)).await;
    assert_eq!(
        (s, &on["active"], &on["displayName"]),
        (200, &json!(true), &json!("Ada King")),
        "{on}"
    );
    let (_, rest) = app.rest("GET", &format!("/api/v1/users/{id}"), None).await;
    assert_eq!(
        (rest["active"].as_bool(), rest["full_name"].as_str()),
        (Some(true), Some("Ada King"))
    );
    // 401 is a SCIM error too.
    let r = app
        .client
        .get(app.url("/scim/v2/Users"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (body["status"].as_str(), body["schemas"][0].as_str()),
        (
            Some("401"),
            Some("urn:ietf:params:scim:api:messages:2.0:Error")
        )
    );
}

/// Makes `n` users over SCIM; their ids.
async fn users(app: &common::TestApp, names: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for n in names {
        let (s, u) = send(
            app,
            "POST",
            "/Users",
            Some(json!({"schemas": [USER], "userName": n, "active": true})),
        )
        .await;
        assert_eq!(s, 201, "{u}");
        ids.push(id_of(&u));
    }
    ids
}

/// Okta's Group Push: look up by displayName (none), create with no members,
/// rename by a replace without a path carrying id and displayName, swap a
/// member by a remove and an add in one request, empty by replacing members
/// with [], replace the whole group by PUT, and delete.
#[tokio::test]
async fn okta_pushes_a_group_and_its_members() {
    let app = spawn_app().await;
    let u = users(
        &app,
        &[
            "okta-one@example.com",
            "okta-two@example.com",
            "okta-three@example.com",
        ],
    )
    .await;
    let by_name = |n: &str| {
        format!(
            "/Groups?{}",
            query(&[("filter", &format!("displayName eq \"{n}\""))])
        )
    };
    let (s, none) = send(&app, "GET", &by_name("Night Owls"), None).await;
    assert_eq!((s, &none["totalResults"]), (200, &json!(0)));
    let (s, g) = send(
        &app,
        "POST",
        "/Groups",
        Some(json!({"schemas": [GROUP], "displayName": "Night Owls", "members": []})),
    )
    .await;
    assert_eq!(s, 201, "{g}");
    let gid = id_of(&g);
    assert_eq!(g["members"], json!([]));
    let (_, found) = send(&app, "GET", &by_name("night owls"), None).await;
    assert_eq!(
        (
            found["totalResults"].as_u64(),
            id_of(&found["Resources"][0])
        ),
        (Some(1), gid.clone())
    );
    let (s, renamed) = patch(
        &app,
        &format!("/Groups/{gid}"),
        json!([{"op": "replace", "value": {"id": gid, "displayName": "Night Owls Team"}}]),
    )
    .await;
    assert_eq!(
        (s, &renamed["displayName"]),
        (200, &json!("Night Owls Team")),
        "{renamed}"
    );
    let (_, rest) = app
        .rest("GET", &format!("/api/v1/groups/{gid}"), None)
        .await;
    assert_eq!(rest["name"], "Night Owls Team");
    let (s, _) = patch(&app, &format!("/Groups/{gid}"), json!([{"op": "add", "path": "members", "value": [{"value": u[0], "display": "one"}, {"value": u[1]}]}])).await;
    assert_eq!(s, 200);
    assert_eq!(rest_members(&app, &gid).await, ids(&u[..2]));
    let (s, swapped) = patch(
        &app,
        &format!("/Groups/{gid}"),
        json!([
            {"op": "remove", "path": format!("members[value eq \"{}\"]", u[0])},
            {"op": "add", "path": "members", "value": [{"value": u[2]}]}
        ]),
    )
    .await;
    assert_eq!(s, 200, "{swapped}");
    assert_eq!(rest_members(&app, &gid).await, ids(&u[1..]));
    let (s, _) = patch(
        &app,
        &format!("/Groups/{gid}"),
        json!([{"op": "replace", "path": "members", "value": []}]),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(rest_members(&app, &gid).await, Vec::<i64>::new());
    let (s, put) = send(&app, "PUT", &format!("/Groups/{gid}"),
        Some(json!({"schemas": [GROUP], "id": gid, "displayName": "Owls", "members": [{"value": u[0]}]}))).await;
    assert_eq!((s, &put["displayName"]), (200, &json!("Owls")), "{put}");
    assert_eq!(rest_members(&app, &gid).await, ids(&u[..1]));
    let (s, _) = send(&app, "DELETE", &format!("/Groups/{gid}"), None).await;
    assert_eq!(s, 204);
    let (s, _) = app
        .rest("GET", &format!("/api/v1/groups/{gid}"), None)
        .await;
    assert_eq!(s, 404);
    let (s, gone) = send(&app, "GET", &format!("/Groups/{gid}"), None).await;
    assert_eq!((s, gone["status"].as_str()), (404, Some("404")));
}

fn ids(list: &[String]) -> Vec<i64> {
    let mut v: Vec<i64> = list.iter().map(|s| s.parse().unwrap()).collect();
    v.sort();
    v
}

/// Microsoft Entra ID's sequence: users looked up by userName and externalId,
/// made with the enterprise extension, changed with capitalised ops and
/// "False" as a string; groups looked up with excludedAttributes=members,
/// made without members, membership checked by `id eq G and members eq U`,
/// members added and removed by value lists, renamed, deleted.
#[tokio::test]
async fn entra_provisions_users_and_groups() {
    let app = spawn_app().await;
    let (_, none) = send(
        &app,
        "GET",
        &format!(
            "/Users?{}",
            query(&[("filter", "userName eq \"Test_User_ab6490ee@contoso.com\"")])
        ),
        None,
    )
    .await;
    assert_eq!(none["totalResults"], 0);
    let (s, user) = send(&app, "POST", "/Users", Some(json!({
        "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee@contoso.com", "active": true, "displayName": "Test User",
        "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b@contoso.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [], "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales", "manager": null}
    }))).await;
    assert_eq!(s, 201, "{user}");
    let uid = id_of(&user);
    for filter in [
        "externalId eq \"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef\"",
        "userName eq Test_User_ab6490ee@contoso.com",
        "emails.value eq \"test_user_fd0ea19b@contoso.com\"",
        "emails[value co \"FD0EA19B\"]",
    ] {
        let (s, found) = send(
            &app,
            "GET",
            &format!("/Users?{}", query(&[("filter", filter)])),
            None,
        )
        .await;
        assert_eq!(
            (s, found["totalResults"].as_u64()),
            (200, Some(1)),
            "{filter}: {found}"
        );
    }
    // externalId minds case.
    let (_, other) = send(
        &app,
        "GET",
        &format!(
            "/Users?{}",
            query(&[(
                "filter",
                "externalId eq \"0A21F0F2-8D2A-4F8E-BF98-7363C4AED4EF\""
            )])
        ),
        None,
    )
    .await;
    assert_eq!(other["totalResults"], 0);
    let (s, changed) = patch(&app, &format!("/Users/{uid}"), json!([
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updated@contoso.com"},
        {"op": "Replace", "value": {"displayName": "Updated User", "name.givenName": "Updated"}}
    ])).await;
    assert_eq!(s, 200, "{changed}");
    let (_, rest) = app.rest("GET", &format!("/api/v1/users/{uid}"), None).await;
    assert_eq!(
        (
            rest["active"].as_bool(),
            rest["email"].as_str(),
            rest["full_name"].as_str()
        ),
        (
            Some(false),
            Some("updated@contoso.com"),
            Some("Updated User")
        )
    );
    let (s, _) = patch(
        &app,
        &format!("/Users/{uid}"),
        json!([{"op": "Replace", "path": "active", "value": "True"}]),
    )
    .await;
    assert_eq!(s, 200);

    let by_name = format!(
        "/Groups?{}",
        query(&[
            ("excludedAttributes", "members"),
            ("filter", "displayName eq \"Group1DisplayName\"")
        ])
    );
    let (_, none) = send(&app, "GET", &by_name, None).await;
    assert_eq!(none["totalResults"], 0);
    let (s, g) = send(&app, "POST", "/Groups", Some(json!({
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "Group1DisplayName",
        "meta": {"resourceType": "Group"}, "schemas": [GROUP]
    }))).await;
    assert_eq!(s, 201, "{g}");
    let gid = id_of(&g);
    let (_, found) = send(&app, "GET", &by_name, None).await;
    assert_eq!(found["totalResults"], 1);
    assert!(
        found["Resources"][0].get("members").is_none(),
        "excludedAttributes=members"
    );
    assert_eq!(
        found["Resources"][0]["externalId"],
        "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"
    );
    let member_check = format!(
        "/Groups?{}",
        query(&[
            (
                "filter",
                &format!("id eq \"{gid}\" and members eq \"{uid}\"")
            ),
            ("excludedAttributes", "members"),
        ])
    );
    let (_, check) = send(&app, "GET", &member_check, None).await;
    assert_eq!(check["totalResults"], 0);
    let (s, _) = patch(
        &app,
        &format!("/Groups/{gid}"),
        json!([{"op": "Add", "path": "members", "value": [{"value": uid}]}]),
    )
    .await;
    assert_eq!(s, 200);
    let (_, check) = send(&app, "GET", &member_check, None).await;
    assert_eq!(check["totalResults"], 1);
    assert_eq!(
        rest_members(&app, &gid).await,
        vec![uid.parse::<i64>().unwrap()]
    );
    let (s, _) = patch(
        &app,
        &format!("/Groups/{gid}"),
        json!([{"op": "Remove", "path": "members", "value": [{"value": uid}]}]),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(rest_members(&app, &gid).await, Vec::<i64>::new());
    let (s, renamed) = patch(&app, &format!("/Groups/{gid}"), json!([{"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}])).await;
    assert_eq!(
        (s, &renamed["displayName"]),
        (
            200,
            &json!("1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName")
        )
    );
    let (s, _) = send(&app, "DELETE", &format!("/Groups/{gid}"), None).await;
    assert_eq!(s, 204);
    let (s, _) = send(&app, "DELETE", &format!("/Users/{uid}"), None).await;
    assert_eq!(s, 204);
    let (s, _) = app.rest("GET", &format!("/api/v1/users/{uid}"), None).await;
    assert_eq!(s, 404);
}

/// Filters with every operator and each attribute's case rule, paging in one
/// order with totalResults on every page, attributes and excludedAttributes,
/// and POST .search.
#[tokio::test]
async fn lists_filter_page_and_project() {
    let app = spawn_app().await;
    let names = [
        "amy@example.org",
        "Ben@Example.org",
        "carl",
        "dora@example.net",
        "ed@example.org",
    ];
    let u = users(&app, &names).await;
    let (s, _) = patch(&app, &format!("/Users/{}", u[2]), json!([
        {"op": "add", "value": {"externalId": "EXT-3", "displayName": "Carl C", "active": false}}
    ])).await;
    assert_eq!(s, 200);
    let count = |filter: &str| {
        let app = &app;
        let filter = filter.to_string();
        async move {
            let (s, r) = send(
                app,
                "GET",
                &format!("/Users?{}", query(&[("filter", &filter)])),
                None,
            )
            .await;
            assert_eq!(s, 200, "{filter}: {r}");
            let mut got: Vec<String> = r["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(id_of)
                .collect();
            got.sort();
            assert_eq!(r["totalResults"].as_u64(), Some(got.len() as u64));
            got
        }
    };
    let of = |idx: &[usize]| {
        let mut v: Vec<String> = idx.iter().map(|i| u[*i].clone()).collect();
        v.sort();
        v
    };
    for (filter, want) in [
        ("userName eq \"BEN@example.ORG\"", of(&[1])),
        ("userName ne \"carl\"", of(&[0, 1, 3, 4])),
        ("userName co \"EXAMPLE.org\"", of(&[0, 1, 4])),
        ("userName sw \"d\"", of(&[3])),
        ("userName ew \".NET\"", of(&[3])),
        ("userName gt \"c\"", of(&[2, 3, 4])),
        ("userName ge \"carl\"", of(&[2, 3, 4])),
        ("userName lt \"b\"", of(&[0])),
        ("userName le \"ben@example.org\"", of(&[0, 1])),
        ("externalId pr", of(&[2])),
        ("externalId eq \"EXT-3\"", of(&[2])),
        ("externalId eq \"ext-3\"", of(&[])),
        ("active eq false", of(&[2])),
        ("displayName eq \"carl c\"", of(&[2])),
        ("not (userName co \"example\")", of(&[2])),
        (
            "(userName sw \"a\" or userName sw \"e\") and active eq true",
            of(&[0, 4]),
        ),
        (&format!("id eq \"{}\"", u[3]), of(&[3])),
        (
            "meta.lastModified gt \"2000-01-01T00:00:00Z\"",
            of(&[0, 1, 2, 3, 4]),
        ),
        ("meta.lastModified lt \"2000-01-01T00:00:00Z\"", of(&[])),
    ] {
        assert_eq!(count(filter).await, want, "{filter}");
    }
    for bad in [
        "userName eqq \"x\"",
        "userName eq",
        "(userName pr",
        "userName eq \"x\" and",
    ] {
        let (s, e) = send(
            &app,
            "GET",
            &format!("/Users?{}", query(&[("filter", bad)])),
            None,
        )
        .await;
        assert_eq!(
            (s, e["scimType"].as_str()),
            (400, Some("invalidFilter")),
            "{bad}: {e}"
        );
        assert!(e["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    // Pages: the same order on every page, and the total on each.
    let mut seen = Vec::new();
    for start in [1, 3, 5] {
        let (_, page) = send(
            &app,
            "GET",
            &format!("/Users?startIndex={start}&count=2"),
            None,
        )
        .await;
        assert_eq!(
            (page["totalResults"].as_u64(), page["startIndex"].as_u64()),
            (Some(5), Some(start))
        );
        seen.extend(page["Resources"].as_array().unwrap().iter().map(id_of));
    }
    assert_eq!(seen, u, "id order, each once");
    let (_, beyond) = send(&app, "GET", "/Users?startIndex=9&count=2", None).await;
    assert_eq!(
        (
            beyond["totalResults"].as_u64(),
            beyond["itemsPerPage"].as_u64()
        ),
        (Some(5), Some(0))
    );
    let (_, zero) = send(&app, "GET", "/Users?count=0", None).await;
    assert_eq!(
        (
            zero["totalResults"].as_u64(),
            zero["Resources"].as_array().map(Vec::len)
        ),
        (Some(5), Some(0))
    );
    // attributes and excludedAttributes; id and schemas always come.
    let (_, only) = send(
        &app,
        "GET",
        &format!("/Users/{}?attributes=userName", u[2]),
        None,
    )
    .await;
    let mut keys: Vec<&str> = only
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["id", "schemas", "userName"]);
    let (_, without) = send(
        &app,
        "GET",
        &format!("/Users/{}?excludedAttributes=meta,emails", u[0]),
        None,
    )
    .await;
    assert!(
        without.get("meta").is_none()
            && without.get("emails").is_none()
            && without["userName"] == "amy@example.org"
    );
    // POST .search takes the same parameters.
    let (s, found) = send(
        &app,
        "POST",
        "/Users/.search",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "userName sw \"b\"", "attributes": ["userName"], "startIndex": 1, "count": 10
        })),
    )
    .await;
    assert_eq!(
        (s, found["totalResults"].as_u64()),
        (200, Some(1)),
        "{found}"
    );
    assert!(found["Resources"][0].get("active").is_none());
}

/// A member PATCH is one step: a full group refuses it whole, with a SCIM
/// error that says so; a removal and an add swap places within the limit; an
/// unknown member undoes the removal beside it; more than 1,000 is tooMany;
/// a group created with members that cannot all join is not created.
#[tokio::test]
async fn member_changes_are_all_or_none_within_the_groups_rules() {
    let app = spawn_app().await;
    let u = users(&app, &["m1", "m2", "m3"]).await;
    let (s, g) = send(
        &app,
        "POST",
        "/Groups",
        Some(json!({"schemas": [GROUP], "displayName": "Limited",
        "members": [{"value": u[0]}]})),
    )
    .await;
    assert_eq!(s, 201, "{g}");
    let gid = id_of(&g);
    let (s, _) = app
        .rest(
            "PATCH",
            &format!("/api/v1/groups/{gid}"),
            Some(json!({"limits": {"user": {"amount": 2}}})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, full) = patch(
        &app,
        &format!("/Groups/{gid}"),
        json!([
            {"op": "add", "path": "members", "value": [{"value": u[1]}, {"value": u[2]}]}
        ]),
    )
    .await;
    assert_eq!(s, 400, "{full}");
    assert!(full["detail"].as_str().unwrap().contains("full"), "{full}");
    assert_eq!(rest_members(&app, &gid).await, ids(&u[..1]));
    let (s, _) = patch(
        &app,
        &format!("/Groups/{gid}"),
        json!([
            {"op": "add", "path": "members", "value": [{"value": u[1]}]}
        ]),
    )
    .await;
    assert_eq!(s, 200);
    // Full: a swap fits, since the limit counts after the removal.
    let (s, _) = patch(
        &app,
        &format!("/Groups/{gid}"),
        json!([
            {"op": "remove", "path": format!("members[value eq \"{}\"]", u[0])},
            {"op": "add", "path": "members", "value": [{"value": u[2]}]}
        ]),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(rest_members(&app, &gid).await, ids(&u[1..]));
    let (s, unknown) = patch(
        &app,
        &format!("/Groups/{gid}"),
        json!([
            {"op": "remove", "path": format!("members[value eq \"{}\"]", u[1])},
            {"op": "add", "path": "members", "value": [{"value": "999999"}]}
        ]),
    )
    .await;
    assert_eq!(
        (s, unknown["scimType"].as_str()),
        (400, Some("invalidValue")),
        "{unknown}"
    );
    assert_eq!(
        rest_members(&app, &gid).await,
        ids(&u[1..]),
        "nothing changed"
    );
    let many: Vec<Value> = (1..=1001)
        .map(|i| json!({"value": (1_000_000 + i).to_string()}))
        .collect();
    let (s, too) = patch(
        &app,
        &format!("/Groups/{gid}"),
        json!([
            {"op": "add", "path": "members", "value": many}
        ]),
    )
    .await;
    assert_eq!(
        (s, too["scimType"].as_str()),
        (400, Some("tooMany")),
        "{too}"
    );
    let (s, bad) = send(
        &app,
        "POST",
        "/Groups",
        Some(json!({"schemas": [GROUP], "displayName": "Never",
        "members": [{"value": u[0]}, {"value": "424242"}]})),
    )
    .await;
    assert_eq!(s, 400, "{bad}");
    let (_, none) = send(
        &app,
        "GET",
        &format!(
            "/Groups?{}",
            query(&[("filter", "displayName eq \"Never\"")])
        ),
        None,
    )
    .await;
    assert_eq!(none["totalResults"], 0, "not created");
}

/// groupd's own attributes in its extension (category by name, made when
/// missing), read back through REST; a PUT without the extension keeps them;
/// removing the extension puts them back to their defaults.
#[tokio::test]
async fn the_group_extension_carries_groupds_own_attributes() {
    let app = spawn_app().await;
    let (s, g) = send(
        &app,
        "POST",
        "/Groups",
        Some(json!({"schemas": [GROUP, EXT], "displayName": "Platform",
        (EXT): {"slug": "platform", "description": "Runs the platform", "category": "Engineering",
                "secret": true, "unleavable": "True", "pinned": false}})),
    )
    .await;
    assert_eq!(s, 201, "{g}");
    let gid = id_of(&g);
    assert_eq!(
        g[EXT],
        json!({"slug": "platform", "description": "Runs the platform", "category": "Engineering",
        "secret": true, "unleavable": true, "pinned": false})
    );
    let (_, rest) = app.rest("GET", "/api/v1/groups/platform", None).await;
    assert_eq!(
        (
            rest["secret"].as_bool(),
            rest["unleavable"].as_bool(),
            rest["description"].as_str()
        ),
        (Some(true), Some(true), Some("Runs the platform"))
    );
    let (_, cats) = app.rest("GET", "/api/v1/categories", None).await;
    let cat = cats
        .as_array()
        .or(cats["items"].as_array())
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Engineering")
        .expect("category made")["id"]
        .clone();
    assert_eq!(rest["category_id"], cat);
    let (s, put) = send(
        &app,
        "PUT",
        &format!("/Groups/{gid}"),
        Some(json!({"schemas": [GROUP], "displayName": "Platform Team"})),
    )
    .await;
    assert_eq!((s, &put[EXT]["slug"]), (200, &json!("platform")), "{put}");
    let (s, cleared) = patch(
        &app,
        &format!("/Groups/{gid}"),
        json!([{"op": "remove", "path": EXT}]),
    )
    .await;
    assert_eq!(s, 200, "{cleared}");
    assert!(cleared.get(EXT).is_none(), "{cleared}");
    let (_, rest) = app
        .rest("GET", &format!("/api/v1/groups/{gid}"), None)
        .await;
    assert_eq!(
        (
            rest["slug"].as_str(),
            rest["secret"].as_bool(),
            rest["category_id"].as_i64()
        ),
        (None, Some(false), Some(1))
    );
    let (s, dup) = send(
        &app,
        "POST",
        "/Groups",
        Some(json!({"schemas": [GROUP, EXT], "displayName": "Other",
        (EXT): {"slug": "PLATFORM-x", "secret": false, "unleavable": false, "pinned": false}})),
    )
    .await;
    assert_eq!(s, 201, "{dup}");
    let (s, taken) = patch(
        &app,
        &format!("/Groups/{}", id_of(&dup)),
        json!([
        {"op": "replace", "path": format!("{EXT}:slug"), "value": "platform-x"}]),
    )
    .await;
    assert_eq!(s, 200, "{taken}");
    let (s, clash) = patch(
        &app,
        &format!("/Groups/{gid}"),
        json!([
        {"op": "add", "path": format!("{EXT}:slug"), "value": "Platform-X"}]),
    )
    .await;
    assert_eq!(
        (s, clash["scimType"].as_str()),
        (409, Some("uniqueness")),
        "{clash}"
    );
    // A refused group leaves no category behind; a bad category says so.
    let (s, refused) = send(&app, "POST", "/Groups", Some(json!({"schemas": [GROUP, EXT], "displayName": "Refused",
        (EXT): {"slug": "platform-x", "category": "Never Made", "secret": false, "unleavable": false, "pinned": false}}))).await;
    assert_eq!(
        (s, refused["scimType"].as_str()),
        (409, Some("uniqueness")),
        "{refused}"
    );
    let (_, cats) = app.rest("GET", "/api/v1/categories", None).await;
    let names: Vec<&str> = cats
        .as_array()
        .or(cats["items"].as_array())
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(!names.contains(&"Never Made"), "{names:?}");
    let (s, long) = patch(
        &app,
        &format!("/Groups/{gid}"),
        json!([
        {"op": "replace", "path": format!("{EXT}:category"), "value": "c".repeat(101)}]),
    )
    .await;
    assert_eq!(s, 400, "{long}");
    assert!(
        long["detail"].as_str().unwrap().contains(":category"),
        "{long}"
    );
}

/// Bad requests get SCIM errors with a scimType and a detail, never a 500.
#[tokio::test]
async fn bad_requests_get_scim_errors() {
    let app = spawn_app().await;
    let u = users(&app, &["err-user"]).await;
    let uid = &u[0];
    for (method, path, body, status, scim_type) in [
        (
            "POST",
            "/Users".to_string(),
            Some("{not json"),
            400,
            Some("invalidSyntax"),
        ),
        (
            "POST",
            "/Users".to_string(),
            Some("[1]"),
            400,
            Some("invalidSyntax"),
        ),
        (
            "POST",
            "/Users".to_string(),
            Some("{\"schemas\":[]}"),
            400,
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Users".to_string(),
            Some("{\"userName\": 7}"),
            400,
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Users".to_string(),
            Some("{\"userName\": \"x@y.org\", \"emails\": [{\"value\": \"nope\"}]}"),
            400,
            Some("invalidValue"),
        ),
        (
            "PATCH",
            format!("/Users/{uid}"),
            Some("{\"Operations\": []}"),
            400,
            Some("invalidSyntax"),
        ),
        (
            "PATCH",
            format!("/Users/{uid}"),
            Some(
                r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"emails[value eq"}]}"#,
            ),
            400,
            Some("invalidPath"),
        ),
        (
            "PATCH",
            format!("/Users/{uid}"),
            Some(
                r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"move","path":"x"}]}"#,
            ),
            400,
            Some("invalidSyntax"),
        ),
        (
            "PATCH",
            format!("/Users/{uid}"),
            Some(
                r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"id","value":"77"}]}"#,
            ),
            400,
            Some("mutability"),
        ),
        (
            "PUT",
            format!("/Users/{uid}"),
            Some("{\"id\": \"5\", \"userName\": \"err-user\"}"),
            400,
            Some("mutability"),
        ),
        ("GET", "/Users/abc".to_string(), None, 404, None),
        ("GET", "/Users/99999".to_string(), None, 404, None),
        ("DELETE", "/Groups/0".to_string(), None, 404, None),
        (
            "GET",
            "/Users?count=many".to_string(),
            None,
            400,
            Some("invalidValue"),
        ),
        ("POST", "/.search".to_string(), Some("{}"), 501, None),
    ] {
        let mut req = app
            .client
            .request(method.parse().unwrap(), app.url(&format!("/scim/v2{path}")))
            .bearer_auth(&app.key);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        let r = req.send().await.unwrap();
        let st = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let e: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(
            (st, e["scimType"].as_str()),
            (status, scim_type),
            "{method} {path} {body:?}: {e}"
        );
        assert_eq!(ct, "application/scim+json");
        assert_eq!(e["status"], status.to_string());
        assert!(e["detail"].as_str().is_some_and(|d| d.len() > 5), "{e}");
    }
    // A body past the limit is refused in SCIM's format too.
    let big = format!("{{\"userName\": \"{}\"}}", "x".repeat(2 << 20));
    let r = app
        .client
        .post(app.url("/scim/v2/Users"))
        .bearer_auth(&app.key)
        .header("content-type", "application/scim+json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["status"], "413");
    // The built-in Admin group cannot be deleted.
    let (_, groups) = send(
        &app,
        "GET",
        &format!(
            "/Groups?{}",
            query(&[("filter", "displayName eq \"Admin\"")])
        ),
        None,
    )
    .await;
    if let Some(admin) = groups["Resources"].as_array().and_then(|r| r.first()) {
        let (s, e) = send(&app, "DELETE", &format!("/Groups/{}", id_of(admin)), None).await;
        assert_eq!(
            (s, e["scimType"].as_str()),
            (400, Some("mutability")),
            "{e}"
        );
    }
}

/// Every change made over SCIM is an event of the door `scim`, by the key's actor.
#[tokio::test]
async fn every_scim_change_is_an_event_of_the_scim_door() {
    let app = spawn_app().await;
    let u = users(&app, &["evt@example.org"]).await;
    let (_, g) = send(
        &app,
        "POST",
        "/Groups",
        Some(json!({"schemas": [GROUP], "displayName": "Evented",
        "members": [{"value": u[0]}]})),
    )
    .await;
    let gid = id_of(&g);
    patch(
        &app,
        &format!("/Groups/{gid}"),
        json!([{"op": "replace", "path": "displayName", "value": "Evented 2"}]),
    )
    .await;
    send(&app, "DELETE", &format!("/Groups/{gid}"), None).await;
    let (s, page) = app.rest("GET", "/api/v1/events?limit=100", None).await;
    assert_eq!(s, 200);
    let events: Vec<(String, String, String)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["door"].as_str().unwrap_or("").to_string(),
                e["actor"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let types: Vec<&str> = events.iter().map(|(t, _, _)| t.as_str()).collect();
    for want in [
        "user.created",
        "group.created",
        "member.added",
        "group.updated",
        "group.deleted",
    ] {
        assert!(types.contains(&want), "{want} in {types:?}");
    }
    // All but the first key's creation, made when the workspace was.
    for (t, door, actor) in events.iter().filter(|(t, _, _)| t != "key.created") {
        assert_eq!(door, "scim", "{t}");
        assert!(actor.starts_with("scim:key:"), "{t}: {actor}");
    }
}

/// Identity providers retry: the same user created by many requests at once is
/// made once, and the others are told it is not unique; the same for users
/// whose derived usernames collide.
#[tokio::test]
async fn concurrent_creates_keep_user_names_unique() {
    let app = spawn_app().await;
    let create = |name: String| {
        let app = &app;
        async move {
            send(
                app,
                "POST",
                "/Users",
                Some(json!({"schemas": [USER], "userName": name, "active": true})),
            )
            .await
            .0
        }
    };
    let same =
        futures_util::future::join_all((0..12).map(|_| create("race@example.org".to_string())))
            .await;
    let mut statuses = same.clone();
    statuses.sort();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{same:?}"
    );
    assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{same:?}");
    // Twelve names whose local parts are one username: twelve users, twelve usernames.
    let distinct =
        futures_util::future::join_all((0..12).map(|i| create(format!("sam@domain{i}.example"))))
            .await;
    assert!(distinct.iter().all(|s| *s == 201), "{distinct:?}");
    let (_, page) = app.rest("GET", "/api/v1/users?limit=100", None).await;
    let mut names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["username"].as_str())
        .filter(|n| n.starts_with("sam"))
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 12, "{names:?}");
}

/// The workspace's group custom fields travel in the extension as
/// `custom_field_<id>`, published in /Schemas with their kind and options.
#[tokio::test]
async fn custom_fields_travel_in_the_extension() {
    let app = spawn_app().await;
    common::add_field(&app.dir, "10", "Team", "short_text");
    common::add_field(&app.dir, "11", "Seats", "number");
    let (_, schema) = send(&app, "GET", &format!("/Schemas/{EXT}"), None).await;
    let attrs: Vec<&str> = schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(
        attrs.contains(&"custom_field_10") && attrs.contains(&"custom_field_11"),
        "{attrs:?}"
    );
    let (s, g) = send(&app, "POST", "/Groups", Some(json!({"schemas": [GROUP, EXT], "displayName": "Fielded",
        (EXT): {"custom_field_10": "Backend", "custom_field_11": 12, "secret": false, "unleavable": false, "pinned": false}}))).await;
    assert_eq!(s, 201, "{g}");
    assert_eq!(
        (
            g[EXT]["custom_field_10"].as_str(),
            g[EXT]["custom_field_11"].as_str()
        ),
        (Some("Backend"), Some("12"))
    );
    let gid = id_of(&g);
    let (_, rest) = app
        .rest("GET", &format!("/api/v1/groups/{gid}"), None)
        .await;
    assert_eq!(rest["custom_fields"], json!({"10": "Backend", "11": "12"}));
    let (s, e) = patch(
        &app,
        &format!("/Groups/{gid}"),
        json!([
        {"op": "replace", "path": format!("{EXT}:custom_field_11"), "value": "many"}]),
    )
    .await;
    assert_eq!(
        (s, e["scimType"].as_str()),
        (400, Some("invalidValue")),
        "{e}"
    );
    let (s, e) = patch(
        &app,
        &format!("/Groups/{gid}"),
        json!([
        {"op": "add", "path": format!("{EXT}:custom_field_99"), "value": "x"}]),
    )
    .await;
    assert_eq!(
        (s, e["scimType"].as_str()),
        (400, Some("invalidValue")),
        "{e}"
    );
    let (s, cleared) = patch(
        &app,
        &format!("/Groups/{gid}"),
        json!([
        {"op": "remove", "path": format!("{EXT}:custom_field_10")}]),
    )
    .await;
    assert_eq!(s, 200, "{cleared}");
    assert!(cleared[EXT].get("custom_field_10").is_none());
    let (_, rest) = app
        .rest("GET", &format!("/api/v1/groups/{gid}"), None)
        .await;
    assert_eq!(rest["custom_fields"], json!({"11": "12"}));
}

/// A derived username does not take a later identity provider's userName:
/// `ada.lovelace@x` gets the username `ada.lovelace`; a second user whose
/// userName is `ada.lovelace` is still made, found by that name, and each
/// look-up finds its own user.
#[tokio::test]
async fn a_derived_username_leaves_the_name_to_the_provider() {
    let app = spawn_app().await;
    let first = users(&app, &["ada.lovelace@example.com"]).await;
    let (s, second) = send(
        &app,
        "POST",
        "/Users",
        Some(json!({"schemas": [USER], "userName": "ada.lovelace", "active": true})),
    )
    .await;
    assert_eq!(s, 201, "{second}");
    assert_eq!(second["userName"], "ada.lovelace");
    for (name, id) in [
        ("ada.lovelace@example.com", &first[0]),
        ("Ada.Lovelace", &id_of(&second)),
    ] {
        let (_, found) = send(
            &app,
            "GET",
            &format!(
                "/Users?{}",
                query(&[("filter", &format!("userName eq \"{name}\""))])
            ),
            None,
        )
        .await;
        assert_eq!(
            (
                found["totalResults"].as_u64(),
                found["Resources"][0]["id"].as_str()
            ),
            (Some(1), Some(id.as_str())),
            "{name}"
        );
    }
    let (_, rest) = app
        .rest("GET", &format!("/api/v1/users/{}", id_of(&second)), None)
        .await;
    assert_eq!(rest["username"], "ada.lovelace-2");
    let (s, again) = send(
        &app,
        "POST",
        "/Users",
        Some(json!({"schemas": [USER], "userName": "ADA.LOVELACE", "active": true})),
    )
    .await;
    assert_eq!((s, again["scimType"].as_str()), (409, Some("uniqueness")));
    // Once the first user's username is freed, groupd's own APIs still do
    // not give it to a user the provider's name already stands for.
    let (s, r) = app
        .rest(
            "PATCH",
            &format!("/api/v1/users/{}", first[0]),
            Some(json!({"username": "ada-renamed"})),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let (s, taken) = app
        .rest(
            "POST",
            "/api/v1/users",
            Some(json!({"full_name": "Other Ada", "username": "Ada.Lovelace",
        "email": "other.ada@example.org", "password": "s3cret-pass"})),
        )
        .await;
    assert_eq!(
        (s, taken["error"]["key"].as_str()),
        (409, Some("username_exists")),
        "{taken}"
    );
}

/// What the review of the first version found: Entra's default mappings
/// (phone numbers, addresses by type) are read; a work address is removed by
/// its type; a group above a lowered limit still loses members; a PATCH whose
/// attribute change is refused adds no member; writes outside the routes'
/// methods are SCIM 405s; a create says where the resource is.
#[tokio::test]
async fn provider_shapes_found_in_review() {
    let app = spawn_app().await;
    let u = users(
        &app,
        &["rev1@example.org", "rev2@example.org", "rev3@example.org"],
    )
    .await;
    let (s, r) = patch(&app, &format!("/Users/{}", u[0]), json!([
        {"op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+1 555 0100"},
        {"op": "Replace", "path": "addresses[type eq \"work\"].formatted", "value": "1 Main St"},
        {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "rev1@example.org"}
    ])).await;
    assert_eq!(s, 200, "{r}");
    assert!(r.get("phoneNumbers").is_none(), "not kept: {r}");
    let (s, r) = patch(
        &app,
        &format!("/Users/{}", u[0]),
        json!([
        {"op": "Remove", "path": "emails[type eq \"work\"].value"}]),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let (_, rest) = app
        .rest("GET", &format!("/api/v1/users/{}", u[0]), None)
        .await;
    assert_eq!(rest["email"], "", "{rest}");
    let (s, r) = patch(&app, &format!("/Users/{}", u[1]), json!([
        {"op": "replace", "path": "emails", "value": [{"value": "rev2@example.org", "primary": true}]},
        {"op": "add", "path": "emails", "value": [{"value": "home2@example.org", "type": "home"}]}])).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        r["emails"],
        json!([{"value": "rev2@example.org"}]),
        "a second address does not take the primary's place"
    );
    let (s, r) = patch(&app, &format!("/Users/{}", u[1]), json!([
        {"op": "add", "path": "emails", "value": [{"value": "new2@example.org", "type": "work", "primary": true}]}])).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        r["emails"],
        json!([{"value": "new2@example.org"}]),
        "a new primary address does"
    );

    let (_, g) = send(
        &app,
        "POST",
        "/Groups",
        Some(json!({"schemas": [GROUP], "displayName": "Over",
        "members": [{"value": u[0]}, {"value": u[1]}, {"value": u[2]}]})),
    )
    .await;
    let gid = id_of(&g);
    let (s, _) = app
        .rest(
            "PATCH",
            &format!("/api/v1/groups/{gid}"),
            Some(json!({"limits": {"user": {"amount": 1}}})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, r) = patch(
        &app,
        &format!("/Groups/{gid}"),
        json!([
        {"op": "remove", "path": format!("members[value eq \"{}\"]", u[0])}]),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(rest_members(&app, &gid).await, ids(&u[1..]));
    let (s, _) = app
        .rest(
            "PATCH",
            &format!("/api/v1/groups/{gid}"),
            Some(json!({"limits": {"user": null}})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, r) = patch(
        &app,
        &format!("/Groups/{gid}"),
        json!([
        {"op": "add", "path": "members", "value": [{"value": u[0]}]},
        {"op": "replace", "path": "displayName", "value": "   "}]),
    )
    .await;
    assert_eq!(
        (s, r["scimType"].as_str()),
        (400, Some("invalidValue")),
        "{r}"
    );
    assert_eq!(
        rest_members(&app, &gid).await,
        ids(&u[1..]),
        "no member was added"
    );

    for (method, path) in [
        ("POST", format!("/Users/{}", u[0])),
        ("PATCH", "/Groups".to_string()),
    ] {
        let r = app
            .client
            .request(method.parse().unwrap(), app.url(&format!("/scim/v2{path}")))
            .bearer_auth(&app.key)
            .header("content-type", "application/scim+json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 405, "{method} {path}");
        assert_eq!(r.headers()["content-type"], "application/scim+json");
    }
    let r = app
        .client
        .post(app.url("/scim/v2/Users"))
        .bearer_auth(&app.key)
        .header("content-type", "application/scim+json")
        .body(json!({"schemas": [USER], "userName": "located"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let made: Value = r.json().await.unwrap();
    assert_eq!(location, format!("/scim/v2/Users/{}", id_of(&made)));
}
