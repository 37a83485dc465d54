//! How identifiers (slugs, usernames, email addresses) are made comparable, and the
//! Unicode rules that keep look-alikes and invisible text out of names.
//!
//! Identity systems compare names after Unicode normalisation, not byte for byte:
//!
//! - [`nfkc`]: compatibility normalisation (NFKC). Fullwidth `ａｄｍｉｎ` becomes
//!   `admin`, the Kelvin sign `K` (U+212A) becomes `K`, `cafe` + U+0301 becomes `café`.
//!   Identifiers are stored in this form.
//! - [`fold`]: NFKC plus full Unicode case folding: the key identifiers are compared
//!   and stored unique by (`Straße` and `STRASSE` share `strasse`).
//! - [`mixes_scripts`]: UTS #39 mixed-script detection at the "highly restrictive"
//!   level: one script, or Latin with Chinese, Japanese or Korean. `аdmin` with a
//!   Cyrillic `а` mixes Cyrillic and Latin.
//! - [`ReservedWords`]: UTS #39 confusable skeletons, so `ɑdmin` or `a11`
//!   cannot stand in for a reserved word.
//! - [`is_invisible`] and [`is_bidi_control`]: what a display name must not consist
//!   of, and what it must not contain.
//!
//! The Unicode data comes from ICU4X (normalisation, case folding, character
//! properties) and `unicode-security` (UTS #39 skeletons and script sets).

use icu_casemap::CaseMapper;
use icu_normalizer::ComposingNormalizerBorrowed;
use icu_properties::props::{
    BidiControl, DefaultIgnorableCodePoint, GeneralCategory, GeneralCategoryGroup, WhiteSpace,
};
use icu_properties::{CodePointMapData, CodePointSetData};
use unicode_script::{Script, ScriptExtension};
use unicode_security::mixed_script::AugmentedScriptSet;

/// Unicode compatibility composition (NFKC).
pub fn nfkc(s: &str) -> String {
    ComposingNormalizerBorrowed::new_nfkc()
        .normalize(s)
        .into_owned()
}

/// Unicode canonical composition (NFC): the same text, one encoding of it.
pub fn nfc(s: &str) -> String {
    ComposingNormalizerBorrowed::new_nfc()
        .normalize(s)
        .into_owned()
}

/// The comparison key of an identifier: NFKC, full case folding, NFKC again (folding
/// can undo a composition). Idempotent: `fold(fold(x)) == fold(x)`.
pub fn fold(s: &str) -> String {
    let normal = ComposingNormalizerBorrowed::new_nfkc();
    let composed = normal.normalize(s);
    let folded = CaseMapper::new().fold_string(&composed);
    normal.normalize(&folded).into_owned()
}

/// A character that shows nothing: white space or a default-ignorable code point
/// (zero-width space and joiners, the byte order mark U+FEFF, soft hyphen, Hangul
/// fillers, variation selectors, ...).
pub fn is_invisible(c: char) -> bool {
    is_default_ignorable(c) || CodePointSetData::new::<WhiteSpace>().contains(c)
}

/// A default-ignorable code point (invisible, and not white space).
pub fn is_default_ignorable(c: char) -> bool {
    CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
}

/// A combining mark (General_Category M: the acute accent U+0301, Devanagari vowel
/// signs and virama, ...): it belongs to the character before it.
pub fn is_combining_mark(c: char) -> bool {
    GeneralCategoryGroup::Mark.contains(CodePointMapData::<GeneralCategory>::new().get(c))
}

/// A bidirectional formatting character (Bidi_Control): U+061C, U+200E, U+200F,
/// U+202A to U+202E and U+2066 to U+2069. They reorder what follows them, so
/// `abc` + U+202E + `gpj.exe` shows as `abcexe.jpg`.
pub fn is_bidi_control(c: char) -> bool {
    CodePointSetData::new::<BidiControl>().contains(c)
}

/// When `s` mixes scripts beyond UTS #39's "highly restrictive" level, the names of
/// the scripts it uses (e.g. `["Latin", "Cyrillic"]`). Characters common to every
/// script (digits, punctuation) do not count. Latin together with Han, Hiragana,
/// Katakana, Bopomofo or Hangul (the Chinese, Japanese and Korean writing systems) is
/// allowed.
pub fn mixes_scripts(s: &str) -> Option<Vec<&'static str>> {
    if !AugmentedScriptSet::for_str(s).is_empty() {
        return None;
    }
    let mut without_latin = AugmentedScriptSet::default();
    for c in s.chars() {
        let set = AugmentedScriptSet::for_char(c);
        if !set.base.contains_script(Script::Latin) {
            without_latin.intersect_with(set);
        }
    }
    if without_latin.hanb || without_latin.jpan || without_latin.kore {
        return None;
    }
    let mut names: Vec<&'static str> = Vec::new();
    for c in s.chars() {
        let ext = ScriptExtension::from(c);
        if ext.is_common() || ext.is_inherited() {
            continue;
        }
        if let Some(script) = ext.iter().next() {
            let name = script.full_name();
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    Some(names)
}

/// Why a string that [`mixes_scripts`] is refused, e.g. "mixes Latin and Cyrillic
/// letters, which can look alike".
pub fn mixed_scripts_reason(scripts: &[&str]) -> String {
    let list = match scripts {
        [] => "letters of several scripts".to_string(),
        [one] => format!("{one} letters"),
        [init @ .., last] => format!("{} and {last} letters", init.join(", ")),
    };
    format!("mixes {list}, which can look alike")
}

/// The UTS #39 skeleton of a folded key, folded again: two keys with the same
/// skeleton look alike (`a11` and `all`, `ɑdmin` and `admin`, `adrnin` and `admin`).
fn look_alike_key(key: &str) -> String {
    let skeleton: String = unicode_security::skeleton(key).collect();
    fold(&skeleton)
}

/// A list of reserved words with their look-alike keys worked out once.
pub struct ReservedWords {
    words: &'static [&'static str],
    look_alike_keys: Vec<String>,
}

impl ReservedWords {
    /// `words` must be [`fold`]ed already (lower-case ASCII words are).
    pub fn new(words: &'static [&'static str]) -> Self {
        let look_alike_keys = words.iter().map(|w| look_alike_key(w)).collect();
        ReservedWords {
            words,
            look_alike_keys,
        }
    }

    /// The reserved word that `key` (a [`fold`]ed identifier) is or looks like.
    pub fn find(&self, key: &str) -> Option<&'static str> {
        if let Some(word) = self.words.iter().find(|w| **w == key) {
            return Some(word);
        }
        let skeleton = look_alike_key(key);
        self.look_alike_keys
            .iter()
            .position(|k| *k == skeleton)
            .map(|i| self.words[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_folds() {
        assert_eq!(nfkc("\u{212A}ate"), "Kate");
        assert_eq!(nfkc("ａｄｍｉｎ"), "admin");
        assert_eq!(nfkc("cafe\u{301}"), "café");
        assert_eq!(fold("\u{212A}ATE@Example.ORG"), "kate@example.org");
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("ＳＴＲＡＳＳＥ"), "strasse");
        assert_eq!(fold("CAFE\u{301}"), "café");
        for s in ["\u{212A}ate", "Straße", "ﬁ", "Ω", "ǅ", "ᏸ"] {
            assert_eq!(fold(&fold(s)), fold(s), "{s}");
        }
    }

    #[test]
    fn invisible_and_bidi() {
        for c in [
            '\u{200B}', '\u{200D}', '\u{FEFF}', '\u{00AD}', '\u{3164}', ' ', '\u{3000}',
        ] {
            assert!(is_invisible(c), "{:04X}", c as u32);
        }
        assert!(!is_invisible('a') && !is_invisible('.'));
        for c in [
            '\u{061C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}',
        ] {
            assert!(is_bidi_control(c), "{:04X}", c as u32);
        }
        assert!(!is_bidi_control('a') && !is_bidi_control('\u{200B}'));
    }

    #[test]
    fn mixed_scripts() {
        assert_eq!(mixes_scripts("admin"), None);
        assert_eq!(mixes_scripts("café-2024"), None);
        assert_eq!(mixes_scripts("админ"), None);
        assert_eq!(mixes_scripts("tokyo-東京-とうきょう"), None);
        assert_eq!(mixes_scripts("seoul-서울"), None);
        assert_eq!(
            mixes_scripts("\u{430}dmin"),
            Some(vec!["Cyrillic", "Latin"])
        );
        assert_eq!(mixes_scripts("pαypal"), Some(vec!["Latin", "Greek"]));
        assert_eq!(
            mixed_scripts_reason(&["Latin", "Greek"]),
            "mixes Latin and Greek letters, which can look alike"
        );
    }

    #[test]
    fn reserved_look_alikes() {
        let reserved = ReservedWords::new(&["admin", "all", "login"]);
        assert_eq!(reserved.find("admin"), Some("admin"));
        assert_eq!(reserved.find("ɑdmin"), Some("admin"));
        assert_eq!(reserved.find("аdmin"), Some("admin"));
        assert_eq!(reserved.find("adrnin"), Some("admin"));
        assert_eq!(reserved.find("a11"), Some("all"));
        assert_eq!(reserved.find("l0gin"), Some("login"));
        assert_eq!(reserved.find("administration"), None);
        assert_eq!(reserved.find("café"), None);
    }
}
