//! The change marker: a 16-byte file beside the database, `<database>-changes`,
//! holding two random tokens that every groupd process rewrites:
//!
//! - bytes 0..8, the revocation token: rewritten after a key is revoked. The
//!   service's key cache (`service::keys`) is valid while it stays the same.
//! - bytes 8..16, the write token: rewritten after every commit. The groups read
//!   by id (`SqliteStore::find_group`) are cached while it stays the same.
//!
//! Why a file: reading the key or the group in a SQLite read transaction of its
//! own cost a large share of the server's CPU per request (the WAL read lock is
//! an fcntl and a contended mutex), and SQLite offers no cheaper way to learn that
//! another process wrote (`groupd key revoke`, `groupd field delete` beside a
//! running server): every way to ask starts a read transaction. So every writer
//! leaves a mark after its commit, and a reader compares tokens with one `pread`.
//!
//! Tokens are random rather than counters so that two processes marking at the
//! same moment need no read-modify-write lock: each write leaves a value the
//! reader has not seen. The file is not synced: it only has to outlive the
//! processes that read it.
//!
//! Failing closed: if a mark cannot be written, the marker is cut to nothing, so
//! that no process can read a token and every cache turns off; if this process's
//! file has been deleted or replaced (checked every 100 ms), it offers no token
//! either. The caches also empty themselves every few seconds whatever the
//! tokens say (`TokenCache`), which bounds what a missed mark can cost.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

const REVOCATION_AT: u64 = 0;
const WRITE_AT: u64 = 8;
/// How often a reader checks that its file is still the one at the path.
const CHECK_EVERY_MS: u64 = 100;

pub(crate) struct ChangeMarker {
    file: File,
    path: PathBuf,
    broken: AtomicBool,
    started: Instant,
    checked_ms: AtomicU64,
}

/// Where the marker of the database at `db` lives. The database's real path is
/// used, so that a server and a command reaching the same file through different
/// names (a symbolic link) share one marker.
pub(crate) fn marker_path(db: &Path) -> PathBuf {
    let real = std::fs::canonicalize(db).unwrap_or_else(|_| db.to_path_buf());
    let mut name = real.into_os_string();
    name.push("-changes");
    PathBuf::from(name)
}

impl ChangeMarker {
    /// Opens the marker of the database at `db`, creating it if it is missing,
    /// and marks a write (this process may just have migrated the database).
    pub(crate) fn open(db: &Path) -> std::io::Result<ChangeMarker> {
        let path = marker_path(db);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let marker = ChangeMarker {
            file,
            path,
            broken: AtomicBool::new(false),
            started: Instant::now(),
            checked_ms: AtomicU64::new(0),
        };
        if marker.revocation_token().is_none() {
            marker.mark_revocation()?;
        }
        marker.mark_at(WRITE_AT)?;
        Ok(marker)
    }

    /// The marker's path, for messages.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn token_at(&self, at: u64) -> Option<u64> {
        if self.broken.load(Ordering::SeqCst) || !self.still_linked() {
            return None;
        }
        let mut buf = [0u8; 8];
        self.file.read_exact_at(&mut buf, at).ok()?;
        Some(u64::from_le_bytes(buf))
    }

    /// False once the open file has been deleted or replaced: other processes now
    /// mark a file this one cannot see. Checked at most every 100 ms.
    fn still_linked(&self) -> bool {
        let now = self.started.elapsed().as_millis() as u64;
        let last = self.checked_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) < CHECK_EVERY_MS {
            return true;
        }
        self.checked_ms.store(now, Ordering::Relaxed);
        let linked = self.file.metadata().is_ok_and(|m| m.nlink() > 0);
        if !linked {
            self.broken.store(true, Ordering::SeqCst);
            tracing::error!(path = %self.path.display(), "the change marker was deleted or replaced; keys and groups are no longer cached until groupd restarts");
        }
        linked
    }

    fn mark_at(&self, at: u64) -> std::io::Result<()> {
        let token: u64 = rand::random();
        let marked = self.file.write_all_at(&token.to_le_bytes(), at);
        if marked.is_err() {
            // Fail closed for every process: with the file cut short, nobody can
            // read a token, so nobody caches.
            self.broken.store(true, Ordering::SeqCst);
            let _ = self.file.set_len(0);
        }
        marked
    }

    /// `None` if it cannot be read: then no key may be cached.
    pub(crate) fn revocation_token(&self) -> Option<u64> {
        self.token_at(REVOCATION_AT)
    }

    /// `None` if it cannot be read: then no group may be cached.
    pub(crate) fn write_token(&self) -> Option<u64> {
        self.token_at(WRITE_AT)
    }

    /// Leaves a new revocation token. Call after the revocation has committed.
    pub(crate) fn mark_revocation(&self) -> std::io::Result<()> {
        self.mark_at(REVOCATION_AT)
    }

    /// Leaves a new write token. Call after every commit, before answering.
    pub(crate) fn mark_write(&self) {
        if let Err(e) = self.mark_at(WRITE_AT) {
            tracing::error!(error = %e, path = %self.path.display(), "cannot write the change marker; keys and groups are no longer cached");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_from_another_handle_change_the_tokens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("groupd.db");
        let server = ChangeMarker::open(&db).expect("open");
        let revocation = server.revocation_token().expect("token");
        let write = server.write_token().expect("token");
        let cli = ChangeMarker::open(&db).expect("open again");
        assert_eq!(cli.revocation_token(), Some(revocation), "kept on open");
        assert_ne!(server.write_token(), Some(write), "opening marks a write");
        let write = server.write_token().expect("token");
        cli.mark_write();
        assert_ne!(server.write_token(), Some(write));
        assert_eq!(server.revocation_token(), Some(revocation));
        cli.mark_revocation().expect("mark");
        assert_ne!(server.revocation_token(), Some(revocation));
        assert!(marker_path(&db).ends_with("groupd.db-changes"));
    }

    #[test]
    fn a_deleted_marker_offers_no_token() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("groupd.db");
        let server = ChangeMarker::open(&db).expect("open");
        assert!(server.write_token().is_some());
        std::fs::remove_file(marker_path(&db)).expect("delete");
        // A command run now makes a new file the server cannot see.
        let cli = ChangeMarker::open(&db).expect("open");
        cli.mark_revocation().expect("mark");
        std::thread::sleep(std::time::Duration::from_millis(CHECK_EVERY_MS + 10));
        assert_eq!(server.revocation_token(), None);
        assert_eq!(server.write_token(), None);
        assert!(cli.write_token().is_some());
    }

    #[test]
    fn a_symlinked_database_shares_the_marker() {
        let dir = tempfile::tempdir().expect("tempdir");
        let real = dir.path().join("v3.db");
        std::fs::write(&real, b"").expect("db file");
        let link = dir.path().join("groupd.db");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        assert_eq!(marker_path(&link), marker_path(&real));
    }
}
