//! Group slugs: the URL-friendly name of a group.
//!
//! Cleaning follows the original Grupo: tags, quotes, slashes and the characters
//! `@$;#~():[]<>{}?&!` are dropped and runs of whitespace become `-`. groupd also drops
//! anything else that is not a letter, digit, `-`, `_` or `.`, folds runs of `-`, and
//! refuses slugs that are all digits (a group reference that is all digits is an id).
//! Case is kept as sent; uniqueness ignores case (the [`Slug::key`]).
//!
//! Look-alikes: the input is first brought to Unicode NFKC (fullwidth `ａｄｍｉｎ` is
//! `admin`, `cafe` + U+0301 is `café`), combining marks stay with the letter they
//! follow, the key is NFKC with full case folding ([`identifier::fold`]), a slug
//! must not mix scripts (Latin `a` with Cyrillic `а`), and it must neither be nor
//! look like a reserved word (compared by UTS #39 confusable skeleton).

use super::identifier;
use super::text::strip_tags;
use std::sync::LazyLock;

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

    /// The form compared for uniqueness: NFKC with full case folding.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Rebuilds a slug that was validated before (read back from a store).
    pub fn from_stored(value: String) -> Self {
        let key = slug_key(&value);
        Slug { value, key }
    }
}

/// The uniqueness key of a slug-like string: NFKC with full case folding.
pub fn slug_key(value: &str) -> String {
    identifier::fold(value)
}

/// Cleans `raw` into a slug, or says why it cannot be one.
pub fn clean_slug(raw: &str) -> Result<Slug, String> {
    let stripped = strip_tags(&identifier::nfkc(raw));
    let mut out = String::with_capacity(stripped.len());
    let mut pending_dash = false;
    // Whether the last character seen was kept: a combining mark stays with it.
    let mut after_kept = false;
    for c in stripped.trim().chars() {
        if c.is_whitespace() || c == '-' {
            pending_dash = true;
            after_kept = false;
            continue;
        }
        if c.is_alphanumeric() || c == '_' || c == '.' {
            if pending_dash && !out.is_empty() {
                out.push('-');
            }
            pending_dash = false;
            out.push(c);
            after_kept = true;
        } else if after_kept && identifier::is_combining_mark(c) {
            out.push(c);
        } else {
            // Anything else (quotes, slashes, @$;#~():[]<>{}?&!, invisible and
            // direction-changing characters, a mark on nothing) is dropped.
            after_kept = false;
        }
    }
    // Dropping characters can bring a letter and its mark together.
    let out = identifier::nfkc(&out);
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
    check_reserved(&out, &key)?;
    if let Some(scripts) = identifier::mixes_scripts(&out) {
        return Err(format!(
            "must be written in one script: '{out}' {}",
            identifier::mixed_scripts_reason(&scripts)
        ));
    }
    Ok(Slug { value: out, key })
}

/// Refuses an identifier whose key is, or looks like, a [`RESERVED`] word.
pub fn check_reserved(value: &str, key: &str) -> Result<(), String> {
    static WORDS: LazyLock<identifier::ReservedWords> =
        LazyLock::new(|| identifier::ReservedWords::new(RESERVED));
    match WORDS.find(key) {
        Some(word) if word == key => Err(format!("'{value}' is a reserved word")),
        Some(word) => Err(format!("'{value}' looks like the reserved word '{word}'")),
        None => Ok(()),
    }
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

    #[test]
    fn normalises_before_cleaning() {
        // A decomposed accent composes; it is not dropped into a different word.
        let decomposed = clean_slug("cafe\u{301}").unwrap();
        assert_eq!(decomposed.as_str(), "café");
        assert_eq!(decomposed, clean_slug("café").unwrap());
        // A mark that composes with nothing stays with its letter.
        assert_eq!(clean_slug("x\u{301}").unwrap().as_str(), "x\u{301}");
        assert_eq!(clean_slug("नमस्ते").unwrap().as_str(), "नमस्ते");
        // Fullwidth letters and digits are the ASCII ones.
        assert_eq!(clean_slug("Ｔｅａｍ１").unwrap().as_str(), "Team1");
        assert!(clean_slug("１２３").is_err());
        // Keys fold case fully.
        assert_eq!(clean_slug("STRASSE").unwrap().key(), "strasse");
        assert_eq!(clean_slug("Straße").unwrap().key(), "strasse");
        assert_eq!(clean_slug("\u{212A}elvin").unwrap().key(), "kelvin");
    }

    #[test]
    fn refuses_look_alikes_of_reserved_words() {
        for (raw, word) in [
            ("ａｄｍｉｎ", "reserved word"),          // fullwidth
            ("\u{430}dmin", "reserved word 'admin'"), // Cyrillic а
            ("ɑdmin", "reserved word 'admin'"),       // Latin alpha
            ("a11", "reserved word 'all'"),
            ("ad\u{200B}min", "reserved word"), // zero-width space
            ("ad\u{202E}min", "reserved word"), // right-to-left override
            ("\u{FF33}\u{0435}ttings", "reserved word 'settings'"),
        ] {
            let err = clean_slug(raw).unwrap_err();
            assert!(err.contains(word), "{raw}: {err}");
        }
    }

    #[test]
    fn refuses_mixed_scripts() {
        let err = clean_slug("p\u{430}ypal").unwrap_err();
        assert!(err.contains("mixes Latin and Cyrillic letters"), "{err}");
        assert!(clean_slug("Москва").is_ok());
        assert!(clean_slug("team-東京").is_ok());
    }
}
