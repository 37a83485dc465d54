//! The specification's PHP examples, run unchanged (but for URL and key) with real
//! php-cli and php-curl against the real server. `scripts/test` installs PHP.

mod common;

use common::{groupd_ok, spawn_app_with};
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
    groupd_ok(
        &app.dir,
        &[
            "field",
            "add",
            "--id",
            "10",
            "--name",
            "Example",
            "--type",
            "short_text",
        ],
    );
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
