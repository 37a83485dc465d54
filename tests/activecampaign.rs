//! The ActiveCampaign v1 dialect against the real binary: every call, every output
//! format, byte for byte where the answer is fixed.

mod common;

use common::{TestApp, spawn_app};
use serde_json::{Value, json};

const UNAUTHORIZED_XML: &str = "<?xml version='1.0' encoding='utf-8'?>\n<adesk_group_insert_post><result_code>0</result_code><result_message>You are not authorized to access this file</result_message><result_output>xml</result_output></adesk_group_insert_post>";
const UNAUTHORIZED_JSON: &str = r#"{"result_code":0,"result_message":"You are not authorized to access this file","result_output":"json"}"#;
const UNAUTHORIZED_SERIALIZE: &str = r#"a:3:{s:11:"result_code";i:0;s:14:"result_message";s:42:"You are not authorized to access this file";s:13:"result_output";s:9:"serialize";}"#;

/// Calls /admin/api.php with the key in the API-TOKEN header.
async fn ac(app: &TestApp, query: &str, body: &str) -> (u16, String, String) {
    let r = app
        .client
        .post(format!("{}/admin/api.php?{query}", app.address))
        .header("API-TOKEN", &app.key)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    (status, ct, r.text().await.unwrap())
}

async fn ac_json(app: &TestApp, query: &str, body: &str) -> Value {
    let (status, _, text) = ac(app, &format!("{query}&api_output=json"), body).await;
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

const EVERY_FIELD: &str = "title=Sales+%26+Co+%3C3+%3E%3E+Gr%C3%BCn&descript=Regional+sales+team\
&lists%5B1%5D=1&lists%5B22%5D=22&sendmethods%5B%5D=1%2C2\
&pg_automation_manage=1&pg_form_edit=1&pg_list_add=1&pg_list_bounce=1&pg_list_delete=0\
&pg_list_edit=on&pg_list_emailaccount=yes&pg_list_headers=1&pg_message_add=1&pg_message_delete=1\
&pg_message_edit=1&pg_message_send=1&pg_reports_campaign=1&pg_reports_list=1&pg_reports_user=1\
&pg_reports_trend=1&pg_reports_deal=1&pg_subscriber_add=1&pg_subscriber_approve=1\
&pg_subscriber_delete=1&pg_subscriber_edit=1&pg_subscriber_export=1&pg_subscriber_fields=1\
&pg_subscriber_filters=1&pg_subscriber_import=1&pg_subscriber_sync=1&pg_template_add=1\
&pg_template_delete=1&pg_template_edit=1&pg_user_add=1&pg_user_delete=1&pg_user_edit=off\
&group_limit_attachment_checkbox=on&limit_attachment=23\
&group_limit_campaign_checkbox=on&limit_campaign=34&limit_campaign_type=month1st\
&group_limit_list_checkbox=on&limit_list=45\
&group_limit_mail_checkbox=on&limit_mail=67&limit_mail_type=week\
&group_limit_subscriber_checkbox=on&limit_subscriber=56\
&group_limit_user_checkbox=on&limit_user=12\
&unsubscribelink=on&abuseratio=9";

#[tokio::test]
async fn group_add_takes_every_field_and_view_shows_it() {
    let app = spawn_app().await;
    let (status, ct, body) = ac(&app, "api_action=group_add&api_output=json", EVERY_FIELD).await;
    assert_eq!(status, 200);
    assert_eq!(ct, "application/json; charset=utf-8");
    assert_eq!(
        body,
        r#"{"group_id":4,"result_code":1,"result_message":"Group added","result_output":"json"}"#
    );
    let v = ac_json(&app, "api_action=group_view&id=4", "").await;
    let expect = |k: &str, val: &str| assert_eq!(v[k], val, "{k}");
    expect("title", "Sales & Co <3 >> Grün");
    expect("descript", "Regional sales team");
    expect("lists", "1,22");
    expect("sendmethods", "1,2");
    for (k, val) in [
        ("limit_attachment", "23"),
        ("limit_campaign", "34"),
        ("limit_campaign_type", "month1st"),
        ("limit_list", "45"),
        ("limit_mail", "67"),
        ("limit_mail_type", "week"),
        ("limit_subscriber", "56"),
        ("limit_user", "12"),
        ("unsubscribelink", "1"),
        ("abuseratio", "9"),
        ("p_admin", "0"),
        ("pg_list_delete", "0"),
        ("pg_user_edit", "0"),
        ("pg_list_edit", "1"),
        ("pg_list_emailaccount", "1"),
        ("pg_automation_manage", "1"),
        ("id", "4"),
        ("result_message", "Success: Something is returned"),
    ] {
        expect(k, val);
    }
    assert_eq!(v["result_code"], 1);
    let on = v
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, val)| k.starts_with("pg_") && *val == "1")
        .count();
    assert_eq!(on, 30, "32 permissions, 2 sent off");
    // The same group through the command line: one group, whatever the dialect.
    let g = app.show_group("4");
    assert_eq!(g["name"], "Sales & Co <3 >> Grün");
    assert_eq!(g["policy"]["limits"]["user"]["amount"], 12);
}

#[tokio::test]
async fn answers_are_exact_in_every_output() {
    let app = spawn_app().await;
    let cases = [
        (
            "xml",
            "text/xml; charset=utf-8",
            "<?xml version='1.0' encoding='utf-8'?>\n<adesk_group_insert_post><group_id>4</group_id><result_code>1</result_code><result_message>Group added</result_message><result_output>xml</result_output></adesk_group_insert_post>",
        ),
        (
            "json",
            "application/json; charset=utf-8",
            r#"{"group_id":5,"result_code":1,"result_message":"Group added","result_output":"json"}"#,
        ),
        (
            "serialize",
            "text/plain; charset=utf-8",
            r#"a:4:{s:8:"group_id";i:6;s:11:"result_code";i:1;s:14:"result_message";s:11:"Group added";s:13:"result_output";s:9:"serialize";}"#,
        ),
        // Unknown outputs answer XML.
        (
            "yaml",
            "text/xml; charset=utf-8",
            "<?xml version='1.0' encoding='utf-8'?>\n<adesk_group_insert_post><group_id>7</group_id><result_code>1</result_code><result_message>Group added</result_message><result_output>xml</result_output></adesk_group_insert_post>",
        ),
    ];
    for (output, ct, expected) in cases {
        let got = ac(
            &app,
            &format!("api_action=group_add&api_output={output}"),
            "title=T",
        )
        .await;
        assert_eq!(got, (200, ct.to_string(), expected.to_string()), "{output}");
    }
    // Default output (none given) is XML.
    let (_, _, body) = ac(&app, "api_action=group_delete&id=4", "").await;
    assert_eq!(
        body,
        "<?xml version='1.0' encoding='utf-8'?>\n<adesk_group_delete><result_code>1</result_code><result_message>Group deleted</result_message><result_output>xml</result_output></adesk_group_delete>"
    );
    let (_, _, body) = ac(
        &app,
        "api_action=group_edit&api_output=serialize&id=5",
        "descript=x",
    )
    .await;
    assert_eq!(
        body,
        r#"a:3:{s:11:"result_code";i:1;s:14:"result_message";s:13:"Group updated";s:13:"result_output";s:9:"serialize";}"#
    );
    let (_, _, body) = ac(
        &app,
        "api_action=group_delete_list&api_output=json&ids=5,6",
        "",
    )
    .await;
    assert_eq!(
        body,
        r#"{"result_code":1,"result_message":"Groups deleted","result_output":"json"}"#
    );
    // Errors, in each format.
    let (_, _, body) = ac(
        &app,
        "api_action=group_view&api_output=serialize&id=999",
        "",
    )
    .await;
    assert_eq!(
        body,
        r#"a:3:{s:11:"result_code";i:0;s:14:"result_message";s:15:"Group not found";s:13:"result_output";s:9:"serialize";}"#
    );
    let (_, _, body) = ac(&app, "api_action=group_add&api_output=xml", "descript=%26").await;
    assert_eq!(
        body,
        "<?xml version='1.0' encoding='utf-8'?>\n<adesk_group_insert_post><result_code>0</result_code><result_message>Invalid input: title: is required</result_message><result_output>xml</result_output></adesk_group_insert_post>"
    );
}

#[tokio::test]
async fn keys_come_in_the_header_or_the_query_and_bad_ones_are_refused() {
    let app = spawn_app().await;
    let url = |q: &str| format!("{}/admin/api.php?api_action=group_add&{q}", app.address);
    for (output, expected) in [
        ("xml", UNAUTHORIZED_XML),
        ("json", UNAUTHORIZED_JSON),
        ("serialize", UNAUTHORIZED_SERIALIZE),
    ] {
        // No key at all.
        let r = app
            .client
            .post(url(&format!("api_output={output}")))
            .form(&[("title", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), expected);
        // A wrong key in the header, and in the query.
        let r = app
            .client
            .post(url(&format!("api_output={output}")))
            .header("API-TOKEN", "gk_wrong")
            .form(&[("title", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.text().await.unwrap(), expected);
        let r = app
            .client
            .post(url(&format!("api_output={output}&api_key=nope")))
            .form(&[("title", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.text().await.unwrap(), expected);
    }
    // The api_key query parameter, as the official clients send it; GET with a body,
    // as one Python client does, works too.
    let r = app
        .client
        .get(url(&format!("api_output=json&api_key={}", app.key)))
        .form(&[("title", "By query key")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"group_id":4,"result_code":1,"result_message":"Group added","result_output":"json"}"#
    );
    assert!(app.all_groups().len() == 1);
}

#[tokio::test]
async fn group_edit_changes_only_what_is_sent() {
    let app = spawn_app().await;
    ac(&app, "api_action=group_add&api_output=json", EVERY_FIELD).await;
    let before = ac_json(&app, "api_action=group_view&id=4", "").await;
    let v = ac_json(
        &app,
        "api_action=group_edit&id=4",
        "pg_list_add=0&title=Renamed",
    )
    .await;
    assert_eq!(v["result_message"], "Group updated");
    let after = ac_json(&app, "api_action=group_view&id=4", "").await;
    let mut expected = before.clone();
    expected["pg_list_add"] = json!("0");
    expected["title"] = json!("Renamed");
    assert_eq!(after, expected);
    // A checkbox sent off removes that limit; the others stay.
    ac_json(
        &app,
        "api_action=group_edit&id=4",
        "group_limit_user_checkbox=off&limit_user=99",
    )
    .await;
    let after = ac_json(&app, "api_action=group_view&id=4", "").await;
    assert_eq!(after["limit_user"], "0");
    assert_eq!(after["limit_mail"], "67");
    assert_eq!(app.show_group("4")["policy"]["limits"].get("user"), None);
    // A limit number without its checkbox changes nothing.
    ac_json(&app, "api_action=group_edit&id=4", "limit_mail=1").await;
    assert_eq!(
        ac_json(&app, "api_action=group_view&id=4", "").await["limit_mail"],
        "67"
    );
    // Unknown group.
    let v = ac_json(&app, "api_action=group_edit&id=999", "title=x").await;
    assert_eq!(
        (v["result_code"].as_i64(), v["result_message"].as_str()),
        (Some(0), Some("Group not found"))
    );
}

#[tokio::test]
async fn php_brackets_decode_like_php() {
    let app = spawn_app().await;
    let v = ac_json(
        &app,
        "api_action=group_add",
        "title=B&lists%5B1%5D=1&lists[]=3&lists%5B%5D=4%2C5&sendmethods%5B0%5D=1&sendmethods[]=2",
    )
    .await;
    assert_eq!(v["result_code"], 1);
    let view = ac_json(&app, "api_action=group_view&id=4", "").await;
    assert_eq!(
        (view["lists"].as_str(), view["sendmethods"].as_str()),
        (Some("1,3,4,5"), Some("1,2"))
    );
    // PHP cannot append past PHP_INT_MAX (`php -r 'parse_str(...)'` keeps only the
    // first): the `[]` field is dropped, not written over the first.
    let v = ac_json(
        &app,
        "api_action=group_add",
        "title=C&lists[9223372036854775807]=1&lists[]=2",
    )
    .await;
    assert_eq!(v["result_code"], 1, "{v}");
    let id = v["group_id"].as_i64().unwrap();
    let view = ac_json(&app, &format!("api_action=group_view&id={id}"), "").await;
    assert_eq!(view["lists"].as_str(), Some("1"), "{view}");
    // Not ids: refused, naming the field.
    let v = ac_json(&app, "api_action=group_add", "title=B&lists[]=x").await;
    assert_eq!(
        v["result_message"],
        "Invalid input: lists: must be positive whole-number ids"
    );
}

#[tokio::test]
async fn bad_values_are_named_and_write_nothing() {
    let app = spawn_app().await;
    let v = ac_json(
        &app,
        "api_action=group_add",
        "title=X&pg_list_add=2&pg_user_add=&group_limit_user_checkbox=on&limit_user=-1\
         &group_limit_mail_checkbox=on&limit_mail=5&limit_mail_type=fortnight\
         &group_limit_list_checkbox=maybe&abuseratio=101&unsubscribelink=sure&sendmethods[]=0",
    )
    .await;
    assert_eq!(v["result_code"], 0);
    let msg = v["result_message"].as_str().unwrap();
    for field in [
        "pg_list_add:",
        "pg_user_add:",
        "limit_user:",
        "limit_mail_type:",
        "group_limit_list_checkbox:",
        "abuseratio:",
        "unsubscribelink:",
        "sendmethods:",
    ] {
        assert!(msg.contains(field), "{field} missing from {msg}");
    }
    assert!(app.all_groups().is_empty());
    let v = ac_json(&app, "api_action=group_add", "title=X&limit_user=abc").await;
    assert_eq!(v["result_code"], 1, "an unchecked limit is ignored");
    let v = ac_json(&app, "api_action=group_add", "title=X&abuseratio=4.5").await;
    assert_eq!(
        v["result_message"],
        "Invalid input: abuseratio: must be a whole percentage from 0 to 100"
    );
}

#[tokio::test]
async fn json_bodies_and_unknown_actions_get_clear_errors() {
    let app = spawn_app().await;
    let r = app
        .client
        .post(format!(
            "{}/admin/api.php?api_action=group_add&api_output=json",
            app.address
        ))
        .header("API-TOKEN", &app.key)
        .json(&json!({"title": "From JSON"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"result_code":0,"result_message":"Request bodies of type application/json are not accepted: send the fields as application/x-www-form-urlencoded","result_output":"json"}"#
    );
    assert!(app.all_groups().is_empty());
    let v = ac_json(&app, "api_action=contact_add", "").await;
    assert_eq!(v["result_code"], 0);
    assert!(
        v["result_message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid function: contact_add")
    );
    let v = ac_json(&app, "x=1", "").await;
    assert_eq!(
        v["result_message"],
        "api_action is required, e.g. api_action=group_add"
    );
    for q in [
        "api_action=group_view",
        "api_action=group_view&id=abc",
        "api_action=group_list&ids=1,x",
        "api_action=group_delete_list",
    ] {
        let v = ac_json(&app, q, "").await;
        assert_eq!(v["result_code"], 0, "{q}");
        assert!(
            v["result_message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid input: "),
            "{q}: {v}"
        );
    }
}

#[tokio::test]
async fn group_list_answers_numeric_keys_in_the_order_asked() {
    let app = spawn_app().await;
    for t in ["A", "B"] {
        ac_json(&app, "api_action=group_add", &format!("title={t}")).await;
    }
    let (_, _, text) = ac(
        &app,
        "api_action=group_list&api_output=json&ids=5,99,3,5",
        "",
    )
    .await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(text.starts_with(r#"{"0":{"limit_mail":"0""#), "{text}");
    assert_eq!(v["0"]["title"], "B");
    assert_eq!(
        (v["1"]["title"].as_str(), v["1"]["p_admin"].as_str()),
        (Some("Admin"), Some("1"))
    );
    assert!(v.get("2").is_none());
    assert_eq!(v["result_message"], "Success: Something is returned");
    let (_, _, xml) = ac(&app, "api_action=group_list&api_output=xml&ids=4", "").await;
    assert!(xml.starts_with("<?xml version='1.0' encoding='utf-8'?>\n<adesk_group_select_array><row><limit_mail>0</limit_mail>"), "{xml}");
    let v = ac_json(&app, "api_action=group_list&ids=98,99", "").await;
    assert_eq!(
        (v["result_code"].as_i64(), v["result_message"].as_str()),
        (Some(0), Some("Failed: Nothing is returned"))
    );
    // ids=all: every group of the workspace, in id order (3 built-in, A, B).
    let v = ac_json(&app, "api_action=group_list&ids=all", "").await;
    let titles: Vec<&str> = (0..5)
        .map(|i| v[i.to_string()]["title"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(titles, ["Visitor", "User", "Admin", "A", "B"], "{v}");
    assert!(v.get("5").is_none(), "{v}");
    assert_eq!(v["result_code"], 1);
}

#[tokio::test]
async fn deletes_respect_builtins_and_alt_and_are_atomic() {
    let app = spawn_app().await;
    for t in ["A", "B", "C"] {
        ac_json(&app, "api_action=group_add", &format!("title={t}")).await;
    }
    for id in 1..=3 {
        let v = ac_json(&app, &format!("api_action=group_delete&id={id}&alt=4"), "").await;
        assert_eq!(
            v["result_message"],
            format!("Group {id} is a built-in group and cannot be deleted")
        );
    }
    let v = ac_json(&app, "api_action=group_delete&id=4&alt=99", "").await;
    assert_eq!(
        v["result_message"],
        "Group 99, named in alt to take over the members, does not exist"
    );
    let v = ac_json(&app, "api_action=group_delete&id=4&alt=4", "").await;
    assert_eq!(v["result_message"], "Group 4 cannot take over from itself");
    let v = ac_json(&app, "api_action=group_delete&id=4&alt=3", "").await;
    assert_eq!(
        v["result_message"],
        "Members cannot be moved to the administrators' group 3"
    );
    // One bad id in a list: nothing is removed.
    let v = ac_json(&app, "api_action=group_delete_list&ids=4,5,2", "").await;
    assert_eq!(
        v["result_message"],
        "Group 2 is a built-in group and cannot be deleted"
    );
    let v = ac_json(&app, "api_action=group_delete_list&ids=4,999", "").await;
    assert_eq!(v["result_message"], "Group not found");
    assert_eq!(app.all_groups().len(), 3);
    let v = ac_json(&app, "api_action=group_delete_list&ids=4,5&alt=6", "").await;
    assert_eq!(v["result_message"], "Groups deleted");
    let left: Vec<i64> = app
        .all_groups()
        .iter()
        .map(|g| g["id"].as_i64().unwrap())
        .collect();
    assert_eq!(left, [6]);
    let v = ac_json(&app, "api_action=group_delete&id=6&alt=2", "").await;
    assert_eq!(v["result_message"], "Group deleted");
}

#[tokio::test]
async fn groups_are_one_thing_across_dialects() {
    let app = spawn_app().await;
    // Made through Grupo, seen and changed through ActiveCampaign.
    let id = app
        .create_group(&[
            ("group_name", "From Grupo"),
            ("description", "hello"),
            ("slug", "from-grupo"),
        ])
        .await;
    let v = ac_json(&app, &format!("api_action=group_view&id={id}"), "").await;
    assert_eq!(
        (v["title"].as_str(), v["descript"].as_str()),
        (Some("From Grupo"), Some("hello"))
    );
    ac_json(
        &app,
        &format!("api_action=group_edit&id={id}"),
        "title=Renamed+by+AC&pg_message_send=1",
    )
    .await;
    let g = app.show_group("from-grupo");
    assert_eq!(g["name"], "Renamed by AC");
    assert_eq!(g["slug"], "from-grupo");
    // Made through ActiveCampaign, changed and removed through Grupo.
    let v = ac_json(&app, "api_action=group_add", "title=From+AC&pg_list_add=1").await;
    let ac_id = v["group_id"].as_i64().unwrap().to_string();
    let r = app
        .grupo(&[
            ("update", "groups"),
            ("group", &ac_id),
            ("slug", "from-ac"),
            ("pin_group", "yes"),
        ])
        .await;
    assert_eq!(r["success"], true);
    let v = ac_json(&app, &format!("api_action=group_view&id={ac_id}"), "").await;
    assert_eq!(
        (v["title"].as_str(), v["pg_list_add"].as_str()),
        (Some("From AC"), Some("1"))
    );
    assert_eq!(
        app.grupo(&[("remove", "groups"), ("group", "from-ac")])
            .await["success"],
        true
    );
    let v = ac_json(&app, &format!("api_action=group_view&id={ac_id}"), "").await;
    assert_eq!(v["result_message"], "Group not found");
    // A key of another workspace sees none of it.
    let other = common::groupd_ok(&app.dir, &["workspace", "create", "other"])
        .trim()
        .to_string();
    let r = app
        .client
        .get(format!(
            "{}/admin/api.php?api_action=group_view&api_output=json&id={id}&api_key={other}",
            app.address
        ))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["result_message"], "Group not found");
}
