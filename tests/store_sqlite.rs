//! The store conformance suite on the SQLite engine, each case on a fresh file.

use groupd::store::Store;
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
