//! A PostgreSQL URL that cannot be used gets, at start, a message naming the cause
//! and the fix: a wrong or missing password, peer authentication refused, a
//! database that does not exist, a server that is down. Runs against a private
//! cluster with password and peer authentication.

mod common;

use common::{BIN, PgCluster};
use std::process::Command;

/// Runs `groupd serve` on `url`; it must fail at start. Returns its stderr.
fn start_fails(url: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["--data-dir"])
        .arg(dir.path())
        .args(["--database-url", url, "serve", "--listen", "127.0.0.1:0"])
        .env("GROUPD_LOG", "error")
        .env_remove("GROUPD_CONFIG")
        .output()
        .expect("run groupd");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{url} started: {stderr}");
    assert!(
        stderr.starts_with("groupd: cannot connect to PostgreSQL: "),
        "{url}: {stderr}"
    );
    stderr
}

#[test]
fn each_connection_failure_says_its_cause_and_fix() {
    let cluster = PgCluster::with_password("right-pass");
    let port = cluster.port;
    let tcp = |auth: &str, db: &str| format!("postgres://{auth}@127.0.0.1:{port}/{db}");

    let wrong = start_fails(&tcp("postgres:wrong-pass", "postgres"));
    assert!(
        wrong.contains("refused the password of user 'postgres'"),
        "{wrong}"
    );
    assert!(
        wrong.contains("28P01") && wrong.contains("ALTER ROLE"),
        "{wrong}"
    );
    assert!(
        !wrong.contains("wrong-pass"),
        "the password is echoed: {wrong}"
    );

    let missing = start_fails(&tcp("postgres", "postgres"));
    assert!(
        missing.contains("asks user 'postgres' for a password and the database URL has none"),
        "{missing}"
    );

    let no_db = start_fails(&tcp("postgres:right-pass", "nowhere"));
    assert!(
        no_db.contains("database 'nowhere' does not exist") && no_db.contains("createdb"),
        "{no_db}"
    );

    // Over the socket, peer authentication admits only the operating-system user
    // of the same name; these tests do not run as a user named `nobody_here`.
    let socket = format!(
        "postgres://nobody_here@/postgres?host={}&port={port}",
        cluster.dir.display()
    );
    let peer = start_fails(&socket);
    assert!(
        peer.contains("refused user 'nobody_here'") && peer.contains("pg_hba.conf"),
        "{peer}"
    );

    // What the URL itself rules out is said as such, not guessed as a password.
    let tls = start_fails(&format!("{}?sslmode=require", tcp("postgres", "postgres")));
    assert!(
        tls.contains("does not offer it") && tls.contains("ssl"),
        "{tls}"
    );
    let no_host = start_fails(&format!("postgres://postgres@/postgres?port={port}"));
    assert!(no_host.contains("names no host"), "{no_host}");

    // The right password works (so the failures above were the URL's fault).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(common::CONFIG),
        format!(
            "database_url = \"{}\"\n",
            tcp("postgres:right-pass", "postgres")
        ),
    )
    .unwrap();
    let app = common::start(dir.path(), &[], None);
    assert!(!app.key.is_empty());
    drop(app);

    cluster.stop();
    let down = start_fails(&tcp("postgres:right-pass", "postgres"));
    assert!(
        down.contains(&format!("nothing answers at 127.0.0.1:{port}"))
            && down.contains("pg_isready"),
        "{down}"
    );
}
