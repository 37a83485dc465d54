//! The systemd unit in deploy/: systemd itself checks it (`systemd-analyze
//! verify`, with ExecStart pointed at the built binary) and scores its hardening
//! (`systemd-analyze security --offline`); scripts/test installs systemd's tools.

mod common;

use std::process::Command;

fn unit_with_this_binary(dir: &std::path::Path) -> std::path::PathBuf {
    let unit =
        include_str!("../deploy/groupd.service").replace("/usr/local/bin/groupd", common::BIN);
    let path = dir.join("groupd.service");
    std::fs::write(&path, unit).unwrap();
    path
}

fn analyze(args: &[&str], unit: &std::path::Path) -> (bool, String) {
    let out = Command::new("systemd-analyze")
        .args(args)
        .arg(unit)
        .output()
        .expect("systemd-analyze (scripts/test installs systemd)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_unit_verifies_and_is_hardened() {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_with_this_binary(dir.path());
    let (ok, text) = analyze(&["verify"], &unit);
    assert!(
        ok && text.trim().is_empty(),
        "systemd-analyze verify: {text}"
    );
    let (_, score) = analyze(&["security", "--offline=yes"], &unit);
    let exposure: f64 = score
        .lines()
        .find_map(|l| l.split("Overall exposure level for groupd.service:").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure score in:\n{score}"));
    // systemd rates 0-10; under 2 is its best band ("OK").
    assert!(exposure < 2.0, "exposure {exposure}:\n{score}");
    let text = include_str!("../deploy/groupd.service");
    for needed in [
        "User=groupd",
        "StateDirectory=groupd",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "ExecStart=/usr/local/bin/groupd serve",
    ] {
        assert!(text.contains(needed), "{needed}");
    }
}
