//! Group and user passwords: argon2id (the argon2 crate's defaults: m=19456 KiB,
//! t=2, p=1), run on the blocking pool so hashing never stalls the async threads
//! that serve other requests.
//!
//! At most one hash per core runs at a time, and each reuses a 19 MiB work area
//! from a small pool instead of allocating a fresh one: allocating it per hash left
//! the memory in malloc's per-thread arenas, and groupd's peak RSS reached
//! gigabytes under a password-create load.

use super::ServiceError;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use std::sync::{Mutex, OnceLock};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

fn hashing_slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS
        .get_or_init(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())))
}

/// Reusable work areas, one per hashing slot at most.
fn work_areas() -> &'static Mutex<Vec<Vec<Block>>> {
    static AREAS: OnceLock<Mutex<Vec<Vec<Block>>>> = OnceLock::new();
    AREAS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Runs `f` on the blocking pool with a work area of `blocks` blocks.
async fn with_work_area<T: Send + 'static>(
    blocks: usize,
    f: impl FnOnce(&mut [Block]) -> Result<T, ServiceError> + Send + 'static,
) -> Result<T, ServiceError> {
    metrics::gauge!("groupd_argon2_waiting").increment(1.0);
    let waited = std::time::Instant::now();
    let slot = hashing_slots().acquire().await;
    metrics::gauge!("groupd_argon2_waiting").decrement(1.0);
    metrics::histogram!("groupd_argon2_wait_seconds").record(waited.elapsed().as_secs_f64());
    let _slot = slot.map_err(|e| ServiceError::Internal(format!("hashing slots closed: {e}")))?;
    let mut area = work_areas()
        .lock()
        .ok()
        .and_then(|mut a| a.pop())
        .filter(|a| a.len() == blocks)
        .unwrap_or_else(|| vec![Block::default(); blocks]);
    let (out, area) = tokio::task::spawn_blocking(move || {
        let out = f(&mut area);
        (out, area)
    })
    .await
    .map_err(|e| ServiceError::Internal(format!("password hashing task failed: {e}")))?;
    if let Ok(mut areas) = work_areas().lock() {
        if areas.len() < 64 {
            areas.push(area);
        }
    }
    out
}

fn internal(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Internal(format!("password hashing failed: {e}"))
}

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
pub async fn hash(password: String) -> Result<String, ServiceError> {
    let params = Params::default();
    with_work_area(params.block_count(), move |area| {
        let salt = SaltString::generate(&mut OsRng);
        let mut salt_buf = [0u8; 64];
        let salt_raw = salt.decode_b64(&mut salt_buf).map_err(internal)?;
        let mut out = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
            .hash_password_into_with_memory(password.as_bytes(), salt_raw, &mut out, area)
            .map_err(internal)?;
        Ok(format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            params.m_cost(),
            params.t_cost(),
            params.p_cost(),
            salt.as_str(),
            STANDARD_NO_PAD.encode(out)
        ))
    })
    .await
}

/// Checks a password against a stored PHC string, in constant time.
pub async fn verify(password: String, phc: String) -> Result<bool, ServiceError> {
    let parsed = PasswordHash::new(&phc)
        .map_err(|e| ServiceError::Internal(format!("stored password hash is unreadable: {e}")))?;
    let params = Params::try_from(&parsed).map_err(internal)?;
    let expected = parsed
        .hash
        .ok_or_else(|| internal("the stored hash has no output"))?
        .as_bytes()
        .to_vec();
    let salt = parsed
        .salt
        .ok_or_else(|| internal("the stored hash has no salt"))?;
    let mut salt_buf = [0u8; 64];
    let salt_raw = salt.decode_b64(&mut salt_buf).map_err(internal)?.to_vec();
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(internal)?
        .unwrap_or(Version::V0x13);
    with_work_area(params.block_count(), move |area| {
        let mut out = vec![0u8; expected.len()];
        Argon2::new(Algorithm::Argon2id, version, params)
            .hash_password_into_with_memory(password.as_bytes(), &salt_raw, &mut out, area)
            .map_err(internal)?;
        Ok(bool::from(out.ct_eq(&expected)))
    })
    .await
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher, SaltString};

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let h = super::hash("s3cret".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(!h.contains("s3cret"));
        assert!(super::verify("s3cret".into(), h.clone()).await.unwrap());
        assert!(!super::verify("wrong".into(), h).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_from_the_argon2_crate_verify_too() {
        // What earlier versions of groupd stored (argon2's own PHC writer).
        let salt = SaltString::from_b64("c29tZXNhbHRzb21lc2FsdA").unwrap();
        let phc = argon2::Argon2::default()
            .hash_password(b"hunter2", &salt)
            .unwrap()
            .to_string();
        assert!(super::verify("hunter2".into(), phc.clone()).await.unwrap());
        assert!(!super::verify("hunter3".into(), phc).await.unwrap());
    }
}
