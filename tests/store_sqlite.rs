//! The store conformance suite on the SQLite engine, each case on a fresh file.

use groupd::store::conformance::{UNDO_EVENTS_MIGRATION, UNDO_SCIM_COLUMNS_MIGRATION};
use groupd::store::prelude::*;
use groupd::store::sqlite::SqliteStore;
use std::sync::Arc;

/// A fresh SQLite store; its directory lives as long as the store.
struct Fresh {
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Fresh {
    type Target = Arc<dyn Store>;
    fn deref(&self) -> &Self::Target {
        &self.store
    }
}

async fn fresh_sqlite() -> Fresh {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("groupd.db")).expect("open");
    Fresh {
        store: Arc::new(store),
        _dir: dir,
    }
}

groupd::store_conformance_tests!(fresh_sqlite);

#[tokio::test]
async fn a_newer_schema_is_refused_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("groupd.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA user_version = 999").unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).err().expect("must refuse");
    assert!(err.to_string().contains("newer than this groupd"), "{err}");
}

/// Two stores on one file, as a server and a command line are: what one caches,
/// a commit through the other replaces at the next read. (Each store marks a
/// write when it opens, so both are opened before the group is first read.)
#[tokio::test]
async fn a_commit_in_another_process_reaches_the_group_cache() {
    use groupd::domain::group::GroupRef;
    use groupd::store::conformance::{default_ws, group};
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("groupd.db");
    let server: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).expect("open"));
    let cli = SqliteStore::open(&path).expect("open again");
    let ws = default_ws(&server).await.id;
    let id = server
        .insert_group(ws, group("Cached", None))
        .await
        .expect("insert");
    for _ in 0..2 {
        let g = server
            .find_group(ws, &GroupRef::Id(id))
            .await
            .expect("find");
        assert_eq!(g.map(|g| g.name), Some("Cached".to_string()));
    }
    cli.delete_groups(ws, &[id], None).await.expect("delete");
    assert_eq!(
        server
            .find_group(ws, &GroupRef::Id(id))
            .await
            .expect("find"),
        None,
        "the server's cache must not outlive the other store's commit"
    );
}

/// A database from before the `names` table gets it filled at start from its
/// users and slugs; a name held twice then (possible before) does not stop the
/// start, and stays with the user. (The schema is taken back to before the table:
/// later migrations are undone too.)
#[tokio::test]
async fn the_names_table_is_filled_from_older_databases() {
    use groupd::domain::user::UserId;
    use groupd::store::NameHolder;
    use groupd::store::conformance::{default_ws, group, user};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("groupd.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let ws = default_ws(&store).await.id;
    let ada = store.insert_user(ws, user("Ada")).await.unwrap();
    let team = store
        .insert_group(ws, group("Team", Some("Team")))
        .await
        .unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!(
        "{UNDO_SCIM_COLUMNS_MIGRATION} {UNDO_EVENTS_MIGRATION} DROP TABLE names; PRAGMA user_version = 5;
         ALTER TABLE idempotency_keys DROP COLUMN claim_token;
         ALTER TABLE idempotency_keys DROP COLUMN lease_until_ms;
         DROP INDEX group_icons_token; ALTER TABLE group_icons DROP COLUMN token;
         INSERT INTO users (workspace_id, full_name, username, username_key, email, email_key,
             password_hash, created_at, updated_at)
             VALUES (1, 'Twice', 'twice', 'twice', 't@x.org', 't@x.org', 'h', 1, 1);
         INSERT INTO groups (workspace_id, name, name_key, slug, slug_key, category_id,
             created_at, updated_at) VALUES (1, 'Twice', 'twice', 'twice', 'twice', 1, 1, 1);"
    ))
    .unwrap();
    let twice = conn
        .query_row(
            "SELECT id FROM users WHERE username_key = 'twice'",
            [],
            |r| r.get(0),
        )
        .map(UserId)
        .unwrap();
    drop(conn);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let taken = |key: &'static str, except| {
        let store = store.clone();
        async move { store.name_taken(ws, key, except).await.unwrap() }
    };
    assert!(taken("ada", None).await);
    assert!(!taken("ada", Some(NameHolder::User(ada))).await);
    assert!(taken("team", None).await);
    assert!(!taken("team", Some(NameHolder::Group(team))).await);
    assert!(!taken("twice", Some(NameHolder::User(twice))).await);
    assert_eq!(
        store.insert_group(ws, group("G", Some("ada"))).await,
        Err(groupd::store::StoreError::SlugTaken)
    );
}

/// Keys stored before identifiers were normalised (the plain lower case) become the
/// domain's at the next start, once; rows that then collide keep their old key, are
/// logged by id, and do not stop the start.
#[tokio::test]
async fn keys_stored_before_normalisation_are_rekeyed_once() {
    use groupd::store::conformance::{
        old_key_holders, old_key_rows, old_keys_are_rekeyed, rekey_collisions_reported,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("groupd.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let holders = old_key_holders(&store).await;
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&old_key_rows()).unwrap();
    conn.execute_batch(&format!(
        "{UNDO_SCIM_COLUMNS_MIGRATION} {UNDO_EVENTS_MIGRATION} PRAGMA user_version = 8"
    ))
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).expect("the start must not fail over collisions");
    rekey_collisions_reported(store.rekey_report(), holders);
    let store: Arc<dyn Store> = Arc::new(store);
    old_keys_are_rekeyed(&store, holders).await;
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 13);
    drop(conn);
    let again = SqliteStore::open(&path).unwrap();
    assert_eq!(again.rekey_report(), &Default::default(), "ran twice");
}

/// An export carries keys as they were stored; an import gives rows the domain's.
#[tokio::test]
async fn imported_keys_are_recomputed() {
    use groupd::store::conformance::{old_key_holders, old_key_rows, old_keys_are_rekeyed};
    let old = fresh_sqlite().await;
    let holders = old_key_holders(&old).await;
    let conn = rusqlite::Connection::open(old._dir.path().join("groupd.db")).unwrap();
    conn.execute_batch(&old_key_rows()).unwrap();
    drop(conn);
    let text = old.export(None).await.unwrap().join("\n");
    assert!(
        text.contains("\u{ff42}\u{ff4f}\u{ff42}"),
        "old keys are exported"
    );
    let new = fresh_sqlite().await;
    new.import(text).await.expect("import despite collisions");
    old_keys_are_rekeyed(&new, holders).await;
}
