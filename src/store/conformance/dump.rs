//! Conformance: dump.

use super::*;

/// An export of one store loads into another, empty one (`fresh`), and gives the
/// same export back; a store that is not empty refuses an import.
pub async fn exports_load_into_an_empty_store(store: Arc<dyn Store>, fresh: Arc<dyn Store>) {
    use crate::domain::user::UserRef;
    let ws = default_ws(&store).await.id;
    let mut g = group("Pictured", Some("pictured"));
    g.icon = Some(icon_image(7, vec![1, 2, 3]));
    g.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
    let gid = store.insert_group(ws, g).await.expect("group");
    let ada = store.insert_user(ws, user("ada")).await.expect("user");
    store
        .add_members(ws, gid, vec![ada], None, crate::store::OnExisting::Fail, 3)
        .await
        .expect("member");
    let lines = store.export(None).await.expect("export");
    assert!(lines.len() > 5, "{lines:?}");
    let text = lines.join("\n") + "\n";
    assert_eq!(
        store.import(text.clone()).await,
        Err(StoreError::ImportNotEmpty)
    );
    let rows = fresh.import(text).await.expect("import");
    assert_eq!(
        rows as usize,
        lines.len() - 1,
        "one row per line after the header"
    );
    assert_eq!(fresh.export(None).await.expect("export"), lines);
    let copied = fresh
        .find_group(ws, &GroupRef::Id(gid))
        .await
        .expect("find")
        .expect("group");
    assert_eq!(
        (copied.slug.as_deref(), copied.member_count),
        (Some("pictured"), 1)
    );
    assert!(
        fresh
            .find_user(ws, &UserRef::Username("ada".into()))
            .await
            .expect("find")
            .is_some()
    );
    // New ids go on after the imported ones.
    let next = fresh
        .insert_group(ws, group("Next", None))
        .await
        .expect("group");
    assert!(next.0 > gid.0);
}

/// A backup is a whole, consistent database another store opens (SQLite), or a
/// refusal that names the engine's own tool (PostgreSQL).
pub async fn backups_copy_the_database_or_say_how(store: Arc<dyn Store>) {
    let ws = default_ws(&store).await;
    let id = store
        .insert_group(ws.id, group("Backed up", Some("backed-up")))
        .await
        .expect("group");
    let dir = std::env::temp_dir().join(format!(
        "groupd-backup-{}-{}",
        std::process::id(),
        crate::store::now_ms()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let dest = dir.join("copy.db");
    match store.backup(&dest).await {
        Err(StoreError::Refused(why)) => {
            assert!(why.contains("pg_dump"), "{why}");
            assert!(!dest.exists());
        }
        Ok(()) => {
            let copy: Arc<dyn Store> =
                Arc::new(crate::store::sqlite::SqliteStore::open(&dest).expect("the copy opens"));
            let found = copy
                .find_group(ws.id, &GroupRef::Id(id))
                .await
                .expect("read")
                .expect("the group is in the copy");
            assert_eq!(found.name, "Backed up");
            assert!(!dir.join("copy.partial").exists());
            assert!(matches!(
                store.backup(&dest).await,
                Err(StoreError::Refused(m)) if m.contains("already exists")
            ));
        }
        Err(e) => panic!("backup failed: {e}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
