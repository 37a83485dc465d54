//! TLS to PostgreSQL: a local cluster that accepts only TLS over TCP, with a
//! certificate for `localhost` signed by a throwaway CA, reached with each
//! `sslmode` (scripts/test provides the PostgreSQL binaries).

mod common;

use common::PgCluster;
use std::path::Path;

/// Runs `groupd group list` against `url`: Ok(stdout) or Err(stderr).
fn list_groups(url: &str) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::BIN)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--database-url", url, "group", "list"])
        .env("GROUPD_LOG", "warn")
        .env_remove("GROUPD_CONFIG")
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn url(cluster: &PgCluster, host: &str, query: &str) -> String {
    format!(
        "postgres://postgres@{host}:{}/postgres?{query}",
        cluster.port
    )
}

#[test]
fn every_sslmode_does_what_libpq_says() {
    let (cluster, ca) = PgCluster::with_tls();
    let ca = ca.display().to_string();
    // verify-full: the chain and the name (the certificate names localhost).
    let ok = list_groups(&url(
        &cluster,
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ));
    assert!(ok.as_ref().is_ok_and(|out| out.contains("Admin")), "{ok:?}");
    let wrong_name = list_groups(&url(
        &cluster,
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .expect_err("127.0.0.1 is not the certificate's name");
    assert!(
        wrong_name.to_lowercase().contains("certificate"),
        "{wrong_name}"
    );
    // verify-ca: the chain only.
    let ok = list_groups(&url(
        &cluster,
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={ca}"),
    ));
    assert!(ok.is_ok(), "{ok:?}");
    // Without the CA, the system's roots do not know this server.
    let unknown = list_groups(&url(&cluster, "localhost", "sslmode=verify-full"))
        .expect_err("an unknown issuer is refused");
    assert!(
        unknown.to_lowercase().contains("certificate") || unknown.contains("CA"),
        "{unknown}"
    );
    // require: encrypted, not checked (as libpq).
    let ok = list_groups(&url(&cluster, "127.0.0.1", "sslmode=require"));
    assert!(ok.is_ok(), "{ok:?}");
    // prefer (the default): encrypted when the server offers it.
    let ok = list_groups(&format!(
        "postgres://postgres@127.0.0.1:{}/postgres",
        cluster.port
    ));
    assert!(ok.is_ok(), "{ok:?}");
    // disable: this server refuses plain connections, and the error says so.
    let refused =
        list_groups(&url(&cluster, "127.0.0.1", "sslmode=disable")).expect_err("plain is refused");
    assert!(
        refused.contains("pg_hba.conf") || refused.contains("no encryption"),
        "{refused}"
    );
    // A bad mode is named.
    let bad =
        list_groups(&url(&cluster, "127.0.0.1", "sslmode=sometimes")).expect_err("unknown mode");
    assert!(bad.contains("sslmode 'sometimes'"), "{bad}");
    let missing = list_groups(&url(
        &cluster,
        "localhost",
        "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
    ))
    .expect_err("missing CA file");
    assert!(missing.contains("/nonexistent/ca.pem"), "{missing}");
    assert!(Path::new(&ca).exists());
}

#[tokio::test]
async fn a_server_over_tls_serves_and_its_connections_are_encrypted() {
    let (cluster, ca) = PgCluster::with_tls();
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "postgres://postgres@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}",
        cluster.port,
        ca.display()
    );
    std::fs::write(
        dir.path().join(common::CONFIG),
        format!("database_url = \"{url}\"\n"),
    )
    .unwrap();
    let app = common::start(dir.path(), &[], None);
    let (s, g) = app
        .rest(
            "POST",
            "/api/v1/groups",
            Some(serde_json::json!({"name": "Over TLS"})),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    let (s, back) = app
        .rest("GET", &format!("/api/v1/groups/{}", g["id"]), None)
        .await;
    assert_eq!((s, back["name"].as_str()), (200, Some("Over TLS")));
    // Every connection groupd holds (the pool and the revocation listener) is TLS.
    assert_eq!(cluster.tcp_connections_encrypted(), Some(true));
}
