//! Group custom fields: definitions an administrator makes, and the rules each
//! field type applies to the values groups carry.

use super::error::ValidationErrors;
use super::text;
use std::fmt;
use std::str::FromStr;

pub const FIELD_NAME_MAX: usize = 100;
pub const SHORT_TEXT_MAX: usize = 255;
pub const LONG_TEXT_MAX: usize = 10_000;
pub const LINK_MAX: usize = 2048;
pub const OPTION_MAX: usize = 100;
pub const OPTIONS_MAX_COUNT: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    ShortText,
    LongText,
    Date,
    Number,
    Dropdown,
    Link,
}

impl FieldKind {
    pub const ALL: [FieldKind; 6] = [
        FieldKind::ShortText,
        FieldKind::LongText,
        FieldKind::Date,
        FieldKind::Number,
        FieldKind::Dropdown,
        FieldKind::Link,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            FieldKind::ShortText => "short_text",
            FieldKind::LongText => "long_text",
            FieldKind::Date => "date",
            FieldKind::Number => "number",
            FieldKind::Dropdown => "dropdown",
            FieldKind::Link => "link",
        }
    }
}

impl fmt::Display for FieldKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FieldKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FieldKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = FieldKind::ALL.iter().map(|k| k.as_str()).collect();
                format!(
                    "unknown field type '{s}'; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// A group custom field definition. `id` is the field's "identifier": clients send
/// values as `custom_field_<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDef {
    pub id: i64,
    pub name: String,
    pub kind: FieldKind,
    /// The allowed values of a dropdown; empty for other kinds.
    pub options: Vec<String>,
}

/// A definition as an administrator asks for it, before it has been checked.
#[derive(Debug, Clone)]
pub struct NewFieldDef {
    pub id: Option<i64>,
    pub name: String,
    pub kind: FieldKind,
    pub options: Vec<String>,
}

/// Checks a definition; returns it cleaned.
pub fn validate_definition(def: NewFieldDef) -> Result<NewFieldDef, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    if let Some(id) = def.id {
        if id < 1 {
            errors.push("id", "must be a positive whole number");
        }
    }
    let name = match text::clean_required(&def.name, FIELD_NAME_MAX) {
        Ok(n) => n,
        Err(e) => {
            errors.push("name", e.message());
            String::new()
        }
    };
    let mut options = Vec::new();
    if def.kind == FieldKind::Dropdown {
        for raw in &def.options {
            match text::clean_required(raw, OPTION_MAX) {
                Ok(o) if options.contains(&o) => {
                    errors.push("options", format!("option '{o}' is listed twice"))
                }
                Ok(o) => options.push(o),
                Err(e) => errors.push("options", format!("each option {}", e.message())),
            }
        }
        if options.is_empty() {
            errors.push("options", "a dropdown needs at least one option");
        }
        if options.len() > OPTIONS_MAX_COUNT {
            errors.push(
                "options",
                format!("a dropdown has at most {OPTIONS_MAX_COUNT} options"),
            );
        }
    } else if !def.options.is_empty() {
        errors.push("options", "only dropdown fields have options");
    }
    errors.into_result(NewFieldDef {
        id: def.id,
        name,
        kind: def.kind,
        options,
    })
}

/// The identifier a new definition takes: the one asked for, else the
/// workspace's next. Chosen before the engine looks whether it is free; the
/// engine then moves the workspace's next identifier past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldIdChoice {
    pub id: i64,
}

/// An identifier already held by another definition of the workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("custom field {0} already exists")]
pub struct FieldIdTaken(pub i64);

/// Chooses the identifier of a new definition, given the workspace's next one.
pub fn choose_id(requested: Option<i64>, next: i64) -> FieldIdChoice {
    FieldIdChoice {
        id: requested.unwrap_or(next),
    }
}

impl FieldIdChoice {
    /// Claims the identifier, given whether a definition of the workspace has it.
    pub fn claim(self, taken: bool) -> Result<i64, FieldIdTaken> {
        if taken {
            Err(FieldIdTaken(self.id))
        } else {
            Ok(self.id)
        }
    }
}

impl FieldDef {
    /// Checks a value sent for this field and returns the form to store. An empty
    /// (or all-blank) value returns `Ok(None)`: "no value".
    pub fn validate_value(&self, raw: &str) -> Result<Option<String>, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        let value = match self.kind {
            FieldKind::ShortText => {
                text::clean(trimmed, SHORT_TEXT_MAX, false).map_err(|e| e.message())?
            }
            FieldKind::LongText => {
                text::clean(trimmed, LONG_TEXT_MAX, true).map_err(|e| e.message())?
            }
            FieldKind::Date => validate_date(trimmed)?,
            FieldKind::Number => validate_number(trimmed)?,
            FieldKind::Dropdown => self
                .options
                .iter()
                .find(|o| o.eq_ignore_ascii_case(trimmed) || o.as_str() == trimmed)
                .cloned()
                .ok_or_else(|| format!("must be one of: {}", self.options.join(", ")))?,
            FieldKind::Link => validate_link(trimmed)?,
        };
        Ok(if value.is_empty() { None } else { Some(value) })
    }
}

fn validate_date(s: &str) -> Result<String, String> {
    const MSG: &str = "must be a date written YYYY-MM-DD";
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(MSG.to_string());
    }
    let num = |r: std::ops::Range<usize>| -> Result<u32, String> {
        let part = &s[r];
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(MSG.to_string());
        }
        part.parse::<u32>().map_err(|_| MSG.to_string())
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err("must be a date with a month from 01 to 12".to_string()),
    };
    if y == 0 || d == 0 || d > days {
        return Err("must be a real calendar date".to_string());
    }
    Ok(s.to_string())
}

fn validate_number(s: &str) -> Result<String, String> {
    const MSG: &str = "must be a number such as 42, -7 or 3.25";
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return Err(MSG.to_string());
    }
    if int.len() > 18 || frac.is_some_and(|f| f.len() > 9) {
        return Err("must have at most 18 digits before the point and 9 after".to_string());
    }
    Ok(s.to_string())
}

fn validate_link(s: &str) -> Result<String, String> {
    if s.chars().count() > LINK_MAX {
        return Err(format!("must be at most {LINK_MAX} characters"));
    }
    match url::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(s.to_string()),
        _ => Err("must be an http:// or https:// address".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(kind: FieldKind, options: &[&str]) -> FieldDef {
        FieldDef {
            id: 1,
            name: "f".into(),
            kind,
            options: options.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn values_fit_their_kind() {
        let date = def(FieldKind::Date, &[]);
        assert_eq!(
            date.validate_value("2024-02-29"),
            Ok(Some("2024-02-29".into()))
        );
        assert!(date.validate_value("2023-02-29").is_err());
        assert!(date.validate_value("2023-13-01").is_err());
        assert!(date.validate_value("23-1-1").is_err());
        let num = def(FieldKind::Number, &[]);
        assert_eq!(num.validate_value("-3.25"), Ok(Some("-3.25".into())));
        assert!(num.validate_value("1e5").is_err());
        assert!(num.validate_value("abc").is_err());
        assert!(num.validate_value("1.").is_err());
        let dd = def(FieldKind::Dropdown, &["Red", "Blue"]);
        assert_eq!(dd.validate_value("red"), Ok(Some("Red".into())));
        assert!(dd.validate_value("Green").is_err());
        let link = def(FieldKind::Link, &[]);
        assert!(link.validate_value("https://example.com/x").is_ok());
        assert!(link.validate_value("javascript:alert(1)").is_err());
        let short = def(FieldKind::ShortText, &[]);
        assert_eq!(short.validate_value("  "), Ok(None));
        assert!(short.validate_value(&"x".repeat(256)).is_err());
    }

    #[test]
    fn definitions_are_checked() {
        let ok = validate_definition(NewFieldDef {
            id: Some(10),
            name: " Team ".into(),
            kind: FieldKind::Dropdown,
            options: vec!["a".into(), "b".into()],
        })
        .unwrap();
        assert_eq!(ok.name, "Team");
        assert!(
            validate_definition(NewFieldDef {
                id: None,
                name: "x".into(),
                kind: FieldKind::Dropdown,
                options: vec![],
            })
            .is_err()
        );
        assert!("short_text".parse::<FieldKind>().is_ok());
        assert!("blob".parse::<FieldKind>().is_err());
    }

    #[test]
    fn a_new_field_takes_the_next_id_or_the_one_asked() {
        assert_eq!(choose_id(None, 4), FieldIdChoice { id: 4 });
        assert_eq!(choose_id(None, 4).claim(false), Ok(4));
        assert_eq!(choose_id(Some(10), 4).claim(false), Ok(10));
        assert_eq!(choose_id(Some(2), 4).claim(false), Ok(2));
    }

    #[test]
    fn a_taken_id_is_refused() {
        assert_eq!(choose_id(Some(10), 11).claim(true), Err(FieldIdTaken(10)));
        assert_eq!(choose_id(None, 3).claim(true), Err(FieldIdTaken(3)));
        assert_eq!(
            FieldIdTaken(10).to_string(),
            "custom field 10 already exists"
        );
    }
}
