//! The store conformance suite on the PostgreSQL engine, each case on a fresh
//! database of the server named by GROUPD_TEST_PG_URL (scripts/test starts one).

mod common;

use groupd::store::Store;
use groupd::store::postgres::PostgresStore;
use std::sync::Arc;

async fn fresh_postgres() -> Arc<dyn Store> {
    let url = common::fresh_pg_database().await;
    Arc::new(PostgresStore::connect(&url, 8).await.expect("connect"))
}

groupd::store_conformance_tests!(fresh_postgres);

#[tokio::test]
async fn a_newer_schema_is_refused_with_advice() {
    let url = common::fresh_pg_database().await;
    drop(PostgresStore::connect(&url, 2).await.unwrap());
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .execute("UPDATE groupd_schema SET version = 999", &[])
        .await
        .unwrap();
    let err = PostgresStore::connect(&url, 2)
        .await
        .err()
        .expect("must refuse");
    assert!(err.to_string().contains("newer than this groupd"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_migrating_together_migrate_once() {
    let url = common::fresh_pg_database().await;
    let a = PostgresStore::connect(&url, 2);
    let b = PostgresStore::connect(&url, 2);
    let (a, b) = tokio::join!(a, b);
    let (a, b) = (a.unwrap(), b.unwrap());
    let (x, y) = tokio::join!(a.bootstrap(1), b.bootstrap(1));
    let made = [x.unwrap(), y.unwrap()]
        .iter()
        .filter(|w| w.is_some())
        .count();
    assert_eq!(made, 1);
    assert_eq!(a.list_workspaces().await.unwrap().len(), 1);
}
