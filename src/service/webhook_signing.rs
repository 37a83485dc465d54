//! Webhook signing secrets and signatures in the Standard Webhooks format, with
//! the `standardwebhooks` crate the specification's authors publish (so a
//! receiver's library verifies exactly what groupd signs).
//!
//! A secret is `whsec_` + base64 of 32 random bytes, shown once when made. A
//! delivery carries `webhook-id` (the same on every retry), `webhook-timestamp`
//! and `webhook-signature`: `v1,<base64 HMAC-SHA256 of id.timestamp.body>`, one
//! per secret in force, space-separated, so that both the old and the new secret
//! verify during a rotation.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

pub const SECRET_PREFIX: &str = "whsec_";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    #[error("the signing secret is not whsec_ followed by base64")]
    BadSecret,
    #[error("the body to sign is not UTF-8")]
    BadBody,
}

/// A new signing secret.
pub fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The `webhook-signature` header of a delivery: one `v1,...` entry per secret.
pub fn signature_header(
    secrets: &[&str],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, SigningError> {
    let mut entries = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let signer = standardwebhooks::Webhook::new(secret).map_err(|_| SigningError::BadSecret)?;
        entries.push(
            signer
                .sign(id, timestamp, body)
                .map_err(|_| SigningError::BadBody)?,
        );
    }
    Ok(entries.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specifications_test_vector_signs_exactly() {
        // The vector the Standard Webhooks reference libraries test against.
        let header = signature_header(
            &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn new_secrets_verify_and_a_rotation_signs_with_both() {
        let (old, new) = (new_secret(), new_secret());
        assert!(old.starts_with(SECRET_PREFIX) && old != new);
        assert_eq!(
            STANDARD.decode(&old[SECRET_PREFIX.len()..]).unwrap().len(),
            32
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let body = br#"{"type":"group.created"}"#;
        let header = signature_header(&[&new, &old], "evt_1", now, body).unwrap();
        assert_eq!(header.split(' ').count(), 2);
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("webhook-id", "evt_1".parse().unwrap());
        headers.insert("webhook-timestamp", now.to_string().parse().unwrap());
        headers.insert("webhook-signature", header.parse().unwrap());
        for secret in [&old, &new] {
            let receiver = standardwebhooks::Webhook::new(secret).unwrap();
            receiver
                .verify(body, &headers)
                .expect("each secret verifies");
        }
        let stranger = standardwebhooks::Webhook::new(&new_secret()).unwrap();
        assert!(stranger.verify(body, &headers).is_err());
        assert_eq!(
            signature_header(&["whsec_***"], "x", 1, b"{}"),
            Err(SigningError::BadSecret)
        );
    }
}
