//! Group passwords: argon2id, run on the blocking pool so hashing never stalls the
//! async threads that serve other requests.

use super::ServiceError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, password_hash::rand_core::OsRng};
use std::sync::OnceLock;
use tokio::sync::Semaphore;

/// At most one hash per core at a time. Each argon2id run takes 19 MiB and a core
/// for tens of milliseconds; more at once only queues them on the blocking pool,
/// where each thread keeps its 19 MiB arena (peak memory grew to gigabytes under a
/// password-create load before this limit).
fn hashing_slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS
        .get_or_init(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())))
}

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
pub async fn hash(password: String) -> Result<String, ServiceError> {
    let _slot = hashing_slots()
        .acquire()
        .await
        .map_err(|e| ServiceError::Internal(format!("hashing slots closed: {e}")))?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ServiceError::Internal(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| ServiceError::Internal(format!("password hashing task failed: {e}")))?
}

/// Checks a password against a stored PHC string, in constant time.
pub async fn verify(password: String, phc: String) -> Result<bool, ServiceError> {
    let _slot = hashing_slots()
        .acquire()
        .await
        .map_err(|e| ServiceError::Internal(format!("hashing slots closed: {e}")))?;
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&phc).map_err(|e| {
            ServiceError::Internal(format!("stored password hash is unreadable: {e}"))
        })?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|e| ServiceError::Internal(format!("password check task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let h = super::hash("s3cret".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(!h.contains("s3cret"));
        assert!(super::verify("s3cret".into(), h.clone()).await.unwrap());
        assert!(!super::verify("wrong".into(), h).await.unwrap());
    }
}
