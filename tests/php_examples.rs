//! The specification's PHP examples, run unchanged (but for URL and key) with real
//! php-cli and php-curl against the real server. `scripts/test` installs PHP.

mod common;

use common::{add_field, spawn_app_with};
use std::process::Command;

/// Runs a PHP file; fails the test with install advice when PHP is missing.
pub fn run_php(script: &std::path::Path) -> String {
    let out = Command::new("php")
        .arg(script)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run php ({e}): install php-cli and php-curl, or run scripts/test which does"
            )
        });
    assert!(
        out.status.success(),
        "php failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The example with its placeholders swapped for this server's URL and key.
fn prepared(
    example: &str,
    replacements: &[(&str, &str)],
    dir: &std::path::Path,
) -> std::path::PathBuf {
    let mut src = example.to_string();
    for (from, to) in replacements {
        assert_eq!(
            src.matches(from).count(),
            1,
            "placeholder {from} not found once"
        );
        src = src.replace(from, to);
    }
    let path = dir.join("example.php");
    std::fs::write(&path, src).unwrap();
    path
}

#[tokio::test]
async fn grupo_create_group_example_prints_success() {
    // Default settings: private icon targets refused. The example's icon URL names
    // a host that does not resolve; creation must succeed anyway.
    let app = spawn_app_with(&[]).await;
    add_field(&app.dir, "10", "Example", "short_text");
    let example = include_str!("php/grupo_create_group.php");
    let script = prepared(
        example,
        &[
            ("https://yourgrupowebsiteaddress", &app.address),
            ("Your_Grupo_API_Secret_Key", &app.key),
        ],
        &app.dir,
    );
    assert_eq!(run_php(&script), "Group Created Successfully.");
    let g = app.show_group("group_slug");
    assert_eq!(g["name"], "Group Name");
    assert_eq!(g["description"], "Group Description");
    assert_eq!(g["category_id"], 1);
    assert_eq!(g["secret"], false);
    assert_eq!(g["unleavable"], false);
    assert_eq!(g["pinned"], false);
    assert_eq!(g["password_protected"], false);
    assert_eq!(g["has_icon"], false);
    assert_eq!(g["custom_fields"]["10"], "Custom Field Value");
    // The same script again: the example prints the error message.
    assert_eq!(run_php(&script), "Slug Already Exists");
}

const AC_EXAMPLE: &str = include_str!("php/activecampaign_group_add.php");

/// The ActiveCampaign example pointed at this server, with `edits` applied.
fn ac_example(app: &common::TestApp, edits: &[(&str, &str)]) -> std::path::PathBuf {
    let mut replacements = vec![
        (
            "'https://account.api-us1.com'",
            format!("'{}'", app.address),
        ),
        ("'YOUR_API_KEY'", format!("'{}'", app.key)),
    ];
    for (from, to) in edits {
        replacements.push((from, to.to_string()));
    }
    let borrowed: Vec<(&str, &str)> = replacements.iter().map(|(a, b)| (*a, b.as_str())).collect();
    prepared(AC_EXAMPLE, &borrowed, &app.dir)
}

#[tokio::test]
async fn activecampaign_group_add_example_prints_success() {
    let app = spawn_app_with(&[]).await;
    let out = run_php(&ac_example(&app, &[]));
    assert!(
        out.starts_with("Result: SUCCESS<br />Message: Group added<br />"),
        "{out}"
    );
    assert!(out.contains("[group_id] => 4"), "{out}");
    let g = app.show_group("4");
    assert_eq!(g["name"], "Group Title");
    assert_eq!(g["description"], "Group Description");
    assert_eq!(g["policy"]["lists"], serde_json::json!([1]));
    assert_eq!(g["policy"]["send_methods"], serde_json::json!([1, 2]));
    assert_eq!(g["policy"]["abuse_ratio"], 4);
}

#[tokio::test]
async fn activecampaign_example_reads_json_and_xml_answers() {
    let app = spawn_app_with(&[]).await;
    // The example's own alternatives: JSON through json_decode (as an array, since
    // the example indexes $result like one), XML through simplexml_load_string.
    let json = ac_example(
        &app,
        &[
            (
                "'api_output'   => 'serialize',",
                "'api_output'   => 'json',",
            ),
            (
                "$result = unserialize($response);",
                "$result = json_decode($response, true);",
            ),
        ],
    );
    let out = run_php(&json);
    assert!(
        out.starts_with("Result: SUCCESS<br />Message: Group added<br />"),
        "{out}"
    );
    assert!(out.contains("[group_id] => 4"), "{out}");
    let xml = ac_example(
        &app,
        &[
            ("'api_output'   => 'serialize',", "'api_output'   => 'xml',"),
            (
                "$result = unserialize($response);",
                "$result = json_decode(json_encode(simplexml_load_string($response)), true);",
            ),
        ],
    );
    let out = run_php(&xml);
    assert!(
        out.starts_with("Result: SUCCESS<br />Message: Group added<br />"),
        "{out}"
    );
    assert!(out.contains("[group_id] => 5"), "{out}");
    // A failure read through XML: result_code "0" is falsy in PHP.
    let bad_key = ac_example(
        &app,
        &[
            ("'api_output'   => 'serialize',", "'api_output'   => 'xml',"),
            (
                "$result = unserialize($response);",
                "$result = json_decode(json_encode(simplexml_load_string($response)), true);",
            ),
            ("'API-TOKEN: ' . $api_key", "'API-TOKEN: wrong'"),
        ],
    );
    let out = run_php(&bad_key);
    assert!(
        out.starts_with(
            "Result: FAILED<br />Message: You are not authorized to access this file<br />"
        ),
        "{out}"
    );
}

/// Every serialize answer, errors included, read back by PHP's unserialize().
#[tokio::test]
async fn unserialize_reads_every_activecampaign_answer() {
    let app = spawn_app_with(&[]).await;
    let client = &app.client;
    let call = |query: String, body: &'static str, key: bool| {
        let mut req = client
            .post(format!("{}/admin/api.php?{query}", app.address))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if key {
            req = req.header("API-TOKEN", app.key.as_str());
        }
        async move { req.send().await.unwrap().text().await.unwrap() }
    };
    // Set up: two groups with awkward text.
    call(
        "api_action=group_add&api_output=json".into(),
        "title=Gr%C3%BCn+%26+%3C3+%22q%22%3B&descript=a%0Ab",
        true,
    )
    .await;
    call(
        "api_action=group_add&api_output=json".into(),
        "title=Two",
        true,
    )
    .await;

    // Reads and errors: the serialize answer must equal the JSON one.
    let reads: Vec<(&str, &'static str, bool)> = vec![
        ("api_action=group_view&id=4", "", true),
        ("api_action=group_view&id=3", "", true),
        ("api_action=group_view&id=404", "", true),
        ("api_action=group_list&ids=4,5,1", "", true),
        ("api_action=group_list&ids=404", "", true),
        ("api_action=group_view&id=4", "", false),
        ("api_action=group_add", "descript=no+title", true),
        (
            "api_action=group_add",
            "title=x&pg_list_add=7&abuseratio=-1",
            true,
        ),
        ("api_action=nope", "", true),
        ("api_action=group_delete&id=2", "", true),
        ("api_action=group_list&ids=x", "", true),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut expected = Vec::new();
    for (i, (q, body, key)) in reads.iter().enumerate() {
        let ser = call(format!("{q}&api_output=serialize"), body, *key).await;
        let json = call(format!("{q}&api_output=json"), body, *key).await;
        let mut meant: serde_json::Value = serde_json::from_str(&json).unwrap();
        meant["result_output"] = "serialize".into();
        std::fs::write(dir.path().join(format!("{i:02}.txt")), ser).unwrap();
        expected.push(meant);
    }
    // Writes: what each should answer.
    let writes: Vec<(&str, &'static str, serde_json::Value)> = vec![
        (
            "api_action=group_add",
            "title=Three",
            serde_json::json!({"group_id": 6, "result_code": 1, "result_message": "Group added", "result_output": "serialize"}),
        ),
        (
            "api_action=group_edit&id=6",
            "title=Drei",
            serde_json::json!({"result_code": 1, "result_message": "Group updated", "result_output": "serialize"}),
        ),
        (
            "api_action=group_delete&id=6",
            "",
            serde_json::json!({"result_code": 1, "result_message": "Group deleted", "result_output": "serialize"}),
        ),
        (
            "api_action=group_delete_list&ids=4,5",
            "",
            serde_json::json!({"result_code": 1, "result_message": "Groups deleted", "result_output": "serialize"}),
        ),
    ];
    for (q, body, meant) in writes {
        let i = expected.len();
        let ser = call(format!("{q}&api_output=serialize"), body, true).await;
        std::fs::write(dir.path().join(format!("{i:02}.txt")), ser).unwrap();
        expected.push(meant);
    }
    let script = dir.path().join("read.php");
    std::fs::write(
        &script,
        format!(
            r#"<?php
$files = glob('{}/*.txt'); sort($files);
foreach ($files as $f) {{
    $v = unserialize(file_get_contents($f));
    echo json_encode($v, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES), "\n";
}}"#,
            dir.path().display()
        ),
    )
    .unwrap();
    let out = run_php(&script);
    let got: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(got.len(), expected.len());
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "answer {i}");
    }
}

fn php_var_to_value(v: &groupd::wire::php_form::PhpVar) -> groupd::wire::value::Value {
    use groupd::wire::php_form::PhpVar;
    use groupd::wire::value::Value;
    match v {
        PhpVar::Str(s) => Value::from(s.clone()),
        PhpVar::Array(items) => Value::Map(
            items
                .iter()
                .map(|(k, v)| (k.clone(), php_var_to_value(v)))
                .collect(),
        ),
    }
}

/// groupd reads bracket names exactly as PHP's own parser does.
#[test]
fn php_bracket_names_match_parse_str() {
    use groupd::wire::form::parse_urlencoded;
    use groupd::wire::php_form::PhpVars;
    use groupd::wire::value::{Key, Value};
    let bodies = [
        "lists%5B1%5D=1&lists%5B2%5D=2&sendmethods%5B%5D=1%2C2",
        "lists[]=3&lists[]=4&sendmethods[0]=1&sendmethods[]=5",
        "a[x][]=1&a[x][]=2&a[01]=z&a[-1]=m&a[-0]=n&a[9223372036854775808]=big",
        "a.b=1&c d=2&e[f=3&g[h]tail=4&[x]=5&i=1&i[]=2&j[]=1&j=2&k[2]=a&k[]=b",
        "t=%C3%BC&t=second&u[a][b][c]=deep&u[a][b][]=x&v[]=&w",
        "k[5]=a&k[3]=b&k[]=c&k[x]=d&k[]=e",
        "  lead=1&.dot=2&x[ y ]=3&z[]]=4",
    ];
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("parse.php");
    std::fs::write(
        &script,
        "<?php foreach (array_slice($argv, 1) as $b) { parse_str($b, $o); echo serialize($o), \"\\n\"; }",
    )
    .unwrap();
    let out = Command::new("php")
        .arg(&script)
        .args(bodies)
        .output()
        .expect("php");
    let php_lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(php_lines.len(), bodies.len());
    for (body, php) in bodies.iter().zip(php_lines) {
        let vars = PhpVars::from_fields(&parse_urlencoded(body.as_bytes()).unwrap());
        let ours = Value::Map(
            vars.names()
                .map(|n| {
                    (
                        Key::from(n.to_string()),
                        php_var_to_value(vars.get(n).unwrap()),
                    )
                })
                .collect(),
        );
        assert_eq!(
            groupd::wire::php_serialize::serialize(&ours),
            php,
            "body {body}"
        );
    }
}

/// XML answers stay well-formed whatever the text: simplexml reads them back exactly.
#[tokio::test]
async fn simplexml_reads_awkward_text_back_exactly() {
    let app = spawn_app_with(&[]).await;
    let title = "Grün & <3 >> \"quoted\" 'single' ✓";
    let r = app
        .client
        .post(format!(
            "{}/admin/api.php?api_action=group_add&api_output=json",
            app.address
        ))
        .header("API-TOKEN", &app.key)
        .form(&[("title", title), ("descript", "line one\nline two & more")])
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains(r#""group_id":4"#));
    let script = app.dir.join("xml.php");
    std::fs::write(
        &script,
        format!(
            "<?php $x = simplexml_load_string(file_get_contents('{}/admin/api.php?api_action=group_view&id=4&api_key={}'));\n\
             if ($x === false) {{ echo 'NOT WELL-FORMED'; exit; }}\n\
             echo $x->getName(), '|', $x->title, '|', $x->descript, '|', $x->result_code;",
            app.address, app.key
        ),
    )
    .unwrap();
    assert_eq!(
        run_php(&script),
        format!("adesk_group_select_row|{title}|line one\nline two & more|1")
    );
}
