//! The store conformance suite on the PostgreSQL engine, each case on a fresh
//! database of the server named by GROUPD_TEST_PG_URL (scripts/test starts one).

mod common;

use groupd::store::conformance::{
    UNDO_EVENTS_MIGRATION, UNDO_PG_COUNT_SLOTS_MIGRATION, UNDO_SCIM_COLUMNS_MIGRATION,
};
use groupd::store::postgres::PostgresStore;
use groupd::store::prelude::*;
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

/// A database from before the `names` table gets it filled at start from its
/// users and slugs; a name held twice then (possible before) does not stop the
/// start, and stays with the user. (The schema is taken back to before the table:
/// later migrations are undone too.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_names_table_is_filled_from_older_databases() {
    use groupd::domain::user::UserId;
    use groupd::store::NameHolder;
    use groupd::store::conformance::{default_ws, group, user};
    let url = common::fresh_pg_database().await;
    let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url, 2).await.unwrap());
    let ws = default_ws(&store).await.id;
    let ada = store.insert_user(ws, user("Ada")).await.unwrap();
    let team = store
        .insert_group(ws, group("Team", Some("Team")))
        .await
        .unwrap();
    drop(store);
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!(
            "{UNDO_SCIM_COLUMNS_MIGRATION} {UNDO_PG_COUNT_SLOTS_MIGRATION} {UNDO_EVENTS_MIGRATION} DROP TABLE names; UPDATE groupd_schema SET version = 1;
             ALTER TABLE idempotency_keys DROP COLUMN claim_token, DROP COLUMN lease_until_ms;
             DROP INDEX group_icons_token; ALTER TABLE group_icons DROP COLUMN token;
             INSERT INTO users (workspace_id, full_name, username, username_key, email, email_key,
                 password_hash, created_at, updated_at)
                 VALUES (1, 'Twice', 'twice', 'twice', 't@x.org', 't@x.org', 'h', 1, 1);
             INSERT INTO groups (workspace_id, name, name_key, slug, slug_key, category_id,
                 created_at, updated_at) VALUES (1, 'Twice', 'twice', 'twice', 'twice', 1, 1, 1);"
        ))
        .await
        .unwrap();
    let twice: i64 = client
        .query_one("SELECT id FROM users WHERE username_key = 'twice'", &[])
        .await
        .unwrap()
        .get(0);
    let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url, 2).await.unwrap());
    let taken = |key: &'static str, except| {
        let store = store.clone();
        async move { store.name_taken(ws, key, except).await.unwrap() }
    };
    assert!(taken("ada", None).await);
    assert!(!taken("ada", Some(NameHolder::User(ada))).await);
    assert!(taken("team", None).await);
    assert!(!taken("team", Some(NameHolder::Group(team))).await);
    assert!(!taken("twice", Some(NameHolder::User(UserId(twice)))).await);
    assert_eq!(
        store.insert_group(ws, group("G", Some("ada"))).await,
        Err(groupd::store::StoreError::SlugTaken)
    );
}

/// Keys stored before identifiers were normalised (the plain lower case) become the
/// domain's at the next start, once; rows that then collide keep their old key, are
/// logged by id, and do not stop the start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_stored_before_normalisation_are_rekeyed_once() {
    use groupd::store::conformance::{
        old_key_holders, old_key_rows, old_keys_are_rekeyed, rekey_collisions_reported,
    };
    let url = common::fresh_pg_database().await;
    let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url, 2).await.unwrap());
    let holders = old_key_holders(&store).await;
    drop(store);
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client.batch_execute(&old_key_rows()).await.unwrap();
    client
        .batch_execute(&format!(
            "{UNDO_SCIM_COLUMNS_MIGRATION} {UNDO_PG_COUNT_SLOTS_MIGRATION} {UNDO_EVENTS_MIGRATION} UPDATE groupd_schema SET version = 4"
        ))
        .await
        .unwrap();
    let store = PostgresStore::connect(&url, 2)
        .await
        .expect("the start must not fail over collisions");
    rekey_collisions_reported(store.rekey_report(), holders);
    let store: Arc<dyn Store> = Arc::new(store);
    old_keys_are_rekeyed(&store, holders).await;
    let version: i32 = client
        .query_one("SELECT version FROM groupd_schema", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, 10);
    let again = PostgresStore::connect(&url, 2).await.unwrap();
    assert_eq!(again.rekey_report(), &Default::default(), "ran twice");
}

/// An export carries keys as they were stored; an import gives rows the domain's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_keys_are_recomputed() {
    use groupd::store::conformance::{old_key_holders, old_key_rows, old_keys_are_rekeyed};
    let url = common::fresh_pg_database().await;
    let old: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url, 2).await.unwrap());
    let holders = old_key_holders(&old).await;
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client.batch_execute(&old_key_rows()).await.unwrap();
    let text = old.export(None).await.unwrap().join("\n");
    assert!(
        text.contains("\u{ff42}\u{ff4f}\u{ff42}"),
        "old keys are exported"
    );
    let new = fresh_postgres().await;
    new.import(text).await.expect("import despite collisions");
    old_keys_are_rekeyed(&new, holders).await;
}
