//! The revocation marker: a tiny file beside the database that every process
//! rewrites after it revokes an API key.
//!
//! The service keeps checked keys in memory (see `service::keys`), because reading
//! the key in its own SQLite read transaction cost about a fifth of the server's
//! CPU per request. A cache is only safe if a revocation reaches it at once, and
//! revocations also come from other processes (`groupd key revoke` beside a
//! running server). SQLite offers no cheap way to learn that another process wrote
//! (every way to ask starts a read transaction, the very cost being avoided), so
//! the revoking process leaves a mark: after its revocation has committed it
//! writes a fresh random 8-byte token into `<database>-revocations`. A reader
//! compares the token with the one its cache was filled under, one `pread` per
//! request, and drops the cache when it differs.
//!
//! The token is random rather than a counter so that two processes revoking at
//! the same moment need no read-modify-write lock: each write leaves a value the
//! reader has not seen. The file is not synced: after a crash every cache is gone.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub(crate) struct RevocationMarker {
    file: File,
}

/// Where the marker of the database at `db` lives.
pub(crate) fn marker_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-revocations");
    PathBuf::from(name)
}

impl RevocationMarker {
    /// Opens the marker of the database at `db`, creating it if it is missing.
    pub(crate) fn open(db: &Path) -> std::io::Result<RevocationMarker> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(marker_path(db))?;
        let marker = RevocationMarker { file };
        if marker.token().is_none() {
            marker.mark()?;
        }
        Ok(marker)
    }

    /// The current token. `None` if it cannot be read: then nothing may be cached.
    pub(crate) fn token(&self) -> Option<u64> {
        let mut buf = [0u8; 8];
        self.file.read_exact_at(&mut buf, 0).ok()?;
        Some(u64::from_le_bytes(buf))
    }

    /// Leaves a new token. Call after the revocation has committed.
    pub(crate) fn mark(&self) -> std::io::Result<()> {
        let token: u64 = rand::random();
        self.file.write_all_at(&token.to_le_bytes(), 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_from_another_handle_changes_the_token() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("groupd.db");
        let server = RevocationMarker::open(&db).expect("open");
        let cli = RevocationMarker::open(&db).expect("open again");
        let before = server.token().expect("token");
        assert_eq!(cli.token(), Some(before), "opening again keeps the token");
        cli.mark().expect("mark");
        assert_ne!(server.token(), Some(before));
        assert_eq!(server.token(), cli.token());
        assert!(marker_path(&db).ends_with("groupd.db-revocations"));
    }
}
