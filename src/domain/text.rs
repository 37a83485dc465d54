//! Cleaning of free text that people type: names, descriptions, custom field text.
//!
//! groupd never renders HTML itself, but sites show these values in pages. Following
//! the original systems, text is stored so that it cannot open an HTML tag: anything
//! that starts a tag (`<` followed by a letter, `/`, `!` or `?`) is removed up to and
//! including its closing `>` (or to the end when it never closes). A `<` that cannot
//! start a tag (`a < b`, `x<3`) and `&` are kept as typed.
//!
//! Names ([`clean_required`]) are also stored in Unicode NFC, must show something
//! (not only zero-width characters, a byte order mark or other invisible code
//! points) and must not contain bidirectional controls, which reorder the text
//! around them wherever the name is shown.

use super::identifier;

/// Why a piece of text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextError {
    Empty,
    TooLong(usize),
    ControlCharacter,
    /// Nothing but invisible characters (zero-width, BOM, other default-ignorables).
    Invisible,
    /// A bidirectional control (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069).
    BidiControl,
}

impl TextError {
    pub fn message(&self) -> String {
        match self {
            TextError::Empty => "must not be empty".to_string(),
            TextError::TooLong(max) => format!("must be at most {max} characters"),
            TextError::ControlCharacter => "must not contain control characters".to_string(),
            TextError::Invisible => {
                "must contain visible characters, not only invisible ones".to_string()
            }
            TextError::BidiControl => {
                "must not contain bidirectional control characters (U+061C, U+200E, U+200F, \
                 U+202A to U+202E, U+2066 to U+2069)"
                    .to_string()
            }
        }
    }
}

/// Removes anything that could open an HTML tag.
pub fn strip_tags(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '<' {
            if let Some(&next) = chars.peek() {
                if next.is_ascii_alphabetic() || matches!(next, '/' | '!' | '?') {
                    // Skip the whole tag, up to and including '>'.
                    for skipped in chars.by_ref() {
                        if skipped == '>' {
                            break;
                        }
                    }
                    continue;
                }
            }
        }
        out.push(c);
    }
    out
}

/// Trims, refuses control characters (tabs and line breaks only when `multiline`),
/// strips tags and bounds the length in characters. An empty result is allowed here;
/// callers that need a value check [`TextError::Empty`] themselves via
/// [`clean_required`].
pub fn clean(raw: &str, max_chars: usize, multiline: bool) -> Result<String, TextError> {
    if raw
        .chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
    {
        return Err(TextError::ControlCharacter);
    }
    let stripped = strip_tags(raw.trim());
    let cleaned = stripped.trim().to_string();
    if cleaned.chars().count() > max_chars {
        return Err(TextError::TooLong(max_chars));
    }
    Ok(cleaned)
}

/// A name: like [`clean`] on one line, in NFC, and it must show something and hold
/// no bidirectional control.
pub fn clean_required(raw: &str, max_chars: usize) -> Result<String, TextError> {
    let cleaned = clean(&identifier::nfc(raw), max_chars, false)?;
    if cleaned.is_empty() {
        return Err(TextError::Empty);
    }
    if cleaned.chars().any(identifier::is_bidi_control) {
        return Err(TextError::BidiControl);
    }
    if cleaned.chars().all(identifier::is_invisible) {
        return Err(TextError::Invisible);
    }
    Ok(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_tags_but_keeps_comparisons_and_ampersands() {
        assert_eq!(strip_tags("<b>Bold</b> & co"), "Bold & co");
        assert_eq!(strip_tags("a < b > c"), "a < b > c");
        assert_eq!(strip_tags("x<3"), "x<3");
        assert_eq!(strip_tags("hi <img src=x onerror=alert(1) "), "hi ");
        assert_eq!(strip_tags("<!-- c -->ok<?php x ?>"), "ok");
        assert_eq!(strip_tags("Ünïcödé ✓"), "Ünïcödé ✓");
    }

    #[test]
    fn clean_trims_and_bounds() {
        assert_eq!(clean("  Name  ", 10, false), Ok("Name".to_string()));
        assert_eq!(clean("ééééé", 5, false), Ok("ééééé".to_string()));
        assert_eq!(clean("éééééé", 5, false), Err(TextError::TooLong(5)));
        assert_eq!(clean("a\u{7}b", 5, false), Err(TextError::ControlCharacter));
        assert_eq!(clean("a\nb", 5, false), Err(TextError::ControlCharacter));
        assert_eq!(clean("a\nb", 5, true), Ok("a\nb".to_string()));
        assert_eq!(clean_required(" <b></b> ", 5), Err(TextError::Empty));
    }

    #[test]
    fn names_must_show_something_and_keep_their_direction() {
        for invisible in [
            "\u{200B}",
            "\u{200B}\u{200C}\u{200D}",
            "\u{FEFF}",
            " \u{FEFF} ",
            "\u{2060}\u{00AD}",
            "\u{3164}",
        ] {
            assert_eq!(
                clean_required(invisible, 100),
                Err(TextError::Invisible),
                "{invisible:?}"
            );
        }
        for bidi in [
            "abc\u{202E}gpj.exe",
            "\u{202D}Admin",
            "name\u{2066}",
            "\u{200F}name",
            "a\u{061C}b",
        ] {
            assert_eq!(
                clean_required(bidi, 100),
                Err(TextError::BidiControl),
                "{bidi:?}"
            );
        }
        // Joiners inside visible text are part of it (emoji sequences, Indic scripts).
        assert!(clean_required("👩\u{200D}💻 team", 100).is_ok());
        assert_eq!(
            clean_required("שלום עולם", 100),
            Ok("שלום עולם".to_string())
        );
        // Names are stored composed.
        assert_eq!(clean_required("Cafe\u{301}", 100), Ok("Café".to_string()));
    }
}
