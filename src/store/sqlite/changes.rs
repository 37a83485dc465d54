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
//! reader has not seen. The file is not synced: after a crash every cache is
//! gone anyway. If a mark cannot be written, this process stops offering the
//! write token (its group cache turns off) rather than risk a stale one.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

const REVOCATION_AT: u64 = 0;
const WRITE_AT: u64 = 8;

pub(crate) struct ChangeMarker {
    file: File,
    broken: AtomicBool,
}

/// Where the marker of the database at `db` lives.
pub(crate) fn marker_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-changes");
    PathBuf::from(name)
}

impl ChangeMarker {
    /// Opens the marker of the database at `db`, creating it if it is missing,
    /// and marks a write (this process may just have migrated the database).
    pub(crate) fn open(db: &Path) -> std::io::Result<ChangeMarker> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(marker_path(db))?;
        let marker = ChangeMarker {
            file,
            broken: AtomicBool::new(false),
        };
        if marker.revocation_token().is_none() {
            marker.mark_revocation()?;
        }
        marker.mark_at(WRITE_AT)?;
        Ok(marker)
    }

    fn token_at(&self, at: u64) -> Option<u64> {
        let mut buf = [0u8; 8];
        self.file.read_exact_at(&mut buf, at).ok()?;
        Some(u64::from_le_bytes(buf))
    }

    fn mark_at(&self, at: u64) -> std::io::Result<()> {
        let token: u64 = rand::random();
        self.file.write_all_at(&token.to_le_bytes(), at)
    }

    /// `None` if it cannot be read: then no key may be cached.
    pub(crate) fn revocation_token(&self) -> Option<u64> {
        self.token_at(REVOCATION_AT)
    }

    /// `None` if it cannot be read, or this process once failed to mark a write:
    /// then no group may be cached.
    pub(crate) fn write_token(&self) -> Option<u64> {
        if self.broken.load(Ordering::SeqCst) {
            return None;
        }
        self.token_at(WRITE_AT)
    }

    /// Leaves a new revocation token. Call after the revocation has committed.
    pub(crate) fn mark_revocation(&self) -> std::io::Result<()> {
        self.mark_at(REVOCATION_AT)
    }

    /// Leaves a new write token. Call after every commit, before answering.
    pub(crate) fn mark_write(&self) {
        if let Err(e) = self.mark_at(WRITE_AT) {
            self.broken.store(true, Ordering::SeqCst);
            tracing::error!(error = %e, "cannot write the change marker; groups are no longer cached by this process");
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
}
