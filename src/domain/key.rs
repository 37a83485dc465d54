//! API secret keys: what a key looks like and how it is split for look-up.
//!
//! A key reads `gk_<prefix><secret>`: 8 characters of public prefix (shown by
//! `groupd key list`, used to find the key's row) and 40 of secret, all base62.
//! Only a SHA-256 hash of the whole key is stored; keys carry 286 bits of randomness,
//! so a fast hash is safe here where a password would need a slow one.

pub const KEY_TAG: &str = "gk_";
pub const PREFIX_LEN: usize = 8;
pub const SECRET_LEN: usize = 40;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub prefix: String,
    pub workspace: String,
    pub label: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// When a request last authenticated with it (to the minute).
    pub last_used_at: Option<i64>,
}

/// The public prefix of a presented key, when it has the right shape.
pub fn prefix_of(presented: &str) -> Option<&str> {
    let rest = presented.strip_prefix(KEY_TAG)?;
    if rest.len() != PREFIX_LEN + SECRET_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    Some(&rest[..PREFIX_LEN])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_needs_the_full_shape() {
        let key = format!("gk_ABCDEFGH{}", "x".repeat(SECRET_LEN));
        assert_eq!(prefix_of(&key), Some("ABCDEFGH"));
        assert_eq!(prefix_of("gk_short"), None);
        assert_eq!(prefix_of(&key.replace("gk_", "xx_")), None);
        assert_eq!(prefix_of(&format!("{key}!")), None);
    }
}
