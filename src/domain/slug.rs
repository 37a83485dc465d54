//! Group slugs: the URL-friendly name of a group.
//!
//! Cleaning follows the original Grupo: tags, quotes, slashes and the characters
//! `@$;#~():[]<>{}?&!` are dropped and runs of whitespace become `-`. groupd also drops
//! anything else that is not a letter, digit, `-`, `_` or `.`, folds runs of `-`, and
//! refuses slugs that are all digits (a group reference that is all digits is an id).
//! Case is kept as sent; uniqueness ignores case (the [`Slug::key`]).

use super::text::strip_tags;

pub const SLUG_MAX_CHARS: usize = 100;

/// Words no group may take as its slug: they name routes and roles.
pub const RESERVED: &[&str] = &[
    "admin",
    "administrator",
    "all",
    "api",
    "api_request",
    "create",
    "delete",
    "edit",
    "everyone",
    "group",
    "groups",
    "icon",
    "join",
    "leave",
    "login",
    "logout",
    "me",
    "member",
    "members",
    "new",
    "null",
    "register",
    "search",
    "settings",
    "signup",
    "undefined",
    "user",
    "users",
];

/// A cleaned, valid slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug {
    value: String,
    key: String,
}

impl Slug {
    /// The slug as it is shown.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The form compared for uniqueness: lower case.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Rebuilds a slug that was validated before (read back from a store).
    pub fn from_stored(value: String) -> Self {
        let key = slug_key(&value);
        Slug { value, key }
    }
}

/// The uniqueness key of a slug-like string.
pub fn slug_key(value: &str) -> String {
    value.to_lowercase()
}

/// Cleans `raw` into a slug, or says why it cannot be one.
pub fn clean_slug(raw: &str) -> Result<Slug, String> {
    let stripped = strip_tags(raw);
    let mut out = String::with_capacity(stripped.len());
    let mut pending_dash = false;
    for c in stripped.trim().chars() {
        if c.is_whitespace() || c == '-' {
            pending_dash = true;
            continue;
        }
        if c.is_alphanumeric() || c == '_' || c == '.' {
            if pending_dash && !out.is_empty() {
                out.push('-');
            }
            pending_dash = false;
            out.push(c);
        }
        // Anything else (quotes, slashes, @$;#~():[]<>{}?&! and the like) is dropped.
    }
    if out.is_empty() {
        return Err("must contain letters or digits".to_string());
    }
    if out.chars().count() > SLUG_MAX_CHARS {
        return Err(format!("must be at most {SLUG_MAX_CHARS} characters"));
    }
    if out.chars().all(|c| c.is_ascii_digit()) {
        return Err("must not be only digits (those name groups by id)".to_string());
    }
    let key = slug_key(&out);
    if RESERVED.contains(&key.as_str()) {
        return Err(format!("'{out}' is a reserved word"));
    }
    Ok(Slug { value: out, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_like_grupo() {
        assert_eq!(clean_slug("group_slug").unwrap().as_str(), "group_slug");
        assert_eq!(clean_slug("  My  Group ").unwrap().as_str(), "My-Group");
        assert_eq!(clean_slug("a/b\\c'd\"e").unwrap().as_str(), "abcde");
        assert_eq!(
            clean_slug("we@$;#~():[]<>{}?&!rd").unwrap().as_str(),
            "werd"
        );
        assert_eq!(
            clean_slug("<b>bold</b> move").unwrap().as_str(),
            "bold-move"
        );
        assert_eq!(clean_slug("--a---b--").unwrap().as_str(), "a-b");
        assert_eq!(clean_slug("Café.Crème").unwrap().key(), "café.crème");
    }

    #[test]
    fn refuses_bad_slugs() {
        assert!(clean_slug("!!!").is_err());
        assert!(clean_slug("   ").is_err());
        assert!(clean_slug("12345").is_err());
        assert!(clean_slug("Everyone").is_err());
        assert!(clean_slug("GROUP").is_err());
        assert!(clean_slug(&"a".repeat(101)).is_err());
        assert!(clean_slug(&"a".repeat(100)).is_ok());
        assert!(clean_slug("2024-team").is_ok());
    }
}
