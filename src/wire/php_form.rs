//! PHP's reading of form field names with brackets (`lists[1]=1`, `lists[]=3`,
//! `a[x][]=2`), as `$_POST` shows them.
//!
//! Written by hand, following PHP's `php_register_variable_ex`, because no crate
//! reproduces its quirks: names are percent-decoded first (so `lists%5B1%5D` is
//! `lists[1]`); in the part before the first `[`, spaces and dots become `_`; a `[`
//! with no `]` at the first level becomes `_` and the name is plain; trailing text
//! after the last `]` is ignored; `[]` appends at the next integer index (and is
//! dropped when that would pass `i64::MAX`, as PHP drops it); keys that are
//! canonical decimal integers within the 64-bit range are integer keys, longer ones
//! string keys; a later field replaces an earlier one of the same name, in place.

use super::form::FormFields;
use super::value::Key;

const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhpVar {
    Str(String),
    Array(Vec<(Key, PhpVar)>),
}

impl PhpVar {
    /// Every string inside, depth first, in order.
    pub fn strings(&self) -> Vec<&str> {
        match self {
            PhpVar::Str(s) => vec![s.as_str()],
            PhpVar::Array(items) => items.iter().flat_map(|(_, v)| v.strings()).collect(),
        }
    }
}

/// The variables of one request, in first-seen order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhpVars(Vec<(String, PhpVar)>);

fn php_key(index: &str) -> Key {
    let canonical = !index.is_empty()
        && (index == "0"
            || (index.starts_with(|c: char| c.is_ascii_digit() && c != '0')
                && index.bytes().all(|b| b.is_ascii_digit()))
            || (index.starts_with("-")
                && index.len() > 1
                && !index[1..].starts_with('0')
                && index[1..].bytes().all(|b| b.is_ascii_digit())));
    match index.parse::<i64>() {
        Ok(n) if canonical => Key::Int(n),
        _ => Key::Str(index.to_string().into()),
    }
}

/// The index `[]` appends at; `None` when the largest integer key is already
/// `i64::MAX`, where PHP cannot append and drops the field.
fn next_index(items: &[(Key, PhpVar)]) -> Option<i64> {
    let largest = items
        .iter()
        .filter_map(|(k, _)| match k {
            Key::Int(n) => Some(*n),
            Key::Str(_) => None,
        })
        .max();
    match largest {
        None => Some(0),
        Some(n) => n.checked_add(1).map(|next| next.max(0)),
    }
}

/// Sets `path` under `slot` to `value`, turning strings into arrays on the way.
fn assign(slot: &mut PhpVar, path: &[Option<String>], value: String) {
    let Some((first, rest)) = path.split_first() else {
        *slot = PhpVar::Str(value);
        return;
    };
    if !matches!(slot, PhpVar::Array(_)) {
        *slot = PhpVar::Array(Vec::new());
    }
    let PhpVar::Array(items) = slot else {
        return;
    };
    let key = match first {
        None => match next_index(items) {
            Some(n) => Key::Int(n),
            None => return,
        },
        Some(idx) => php_key(idx),
    };
    let pos = match items.iter().position(|(k, _)| *k == key) {
        Some(p) => p,
        None => {
            items.push((key, PhpVar::Array(Vec::new())));
            items.len() - 1
        }
    };
    assign(&mut items[pos].1, rest, value);
}

/// Splits a field name into PHP's variable name and bracket path.
fn parse_name(raw: &str) -> Option<(String, Vec<Option<String>>)> {
    let name = raw.trim_start_matches(' ');
    let Some(open) = name.find('[') else {
        let base: String = name
            .chars()
            .map(|c| if c == ' ' || c == '.' { '_' } else { c })
            .collect();
        return (!base.is_empty()).then_some((base, Vec::new()));
    };
    let base: String = name[..open]
        .chars()
        .map(|c| if c == ' ' || c == '.' { '_' } else { c })
        .collect();
    if base.is_empty() {
        return None;
    }
    let mut path = Vec::new();
    let mut rest = &name[open..];
    while let Some(after) = rest.strip_prefix('[') {
        let Some(close) = after.find(']') else {
            if path.is_empty() {
                // An unclosed first bracket: the name is plain, with '[' as '_'.
                return Some((format!("{base}_{after}"), Vec::new()));
            }
            break;
        };
        let index = &after[..close];
        path.push(if index.is_empty() {
            None
        } else {
            Some(index.to_string())
        });
        if path.len() > MAX_DEPTH {
            return None;
        }
        rest = &after[close + 1..];
    }
    Some((base, path))
}

impl PhpVars {
    pub fn from_fields(fields: &FormFields) -> PhpVars {
        let mut vars = PhpVars::default();
        for (name, value) in fields.pairs() {
            let Some((base, path)) = parse_name(name) else {
                continue;
            };
            let pos = match vars.0.iter().position(|(k, _)| *k == base) {
                Some(p) => p,
                None => {
                    vars.0.push((base, PhpVar::Str(String::new())));
                    vars.0.len() - 1
                }
            };
            assign(&mut vars.0[pos].1, &path, value.clone());
        }
        vars
    }

    pub fn get(&self, name: &str) -> Option<&PhpVar> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// The value of a plain (non-array) variable.
    pub fn str(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some(PhpVar::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::form::parse_urlencoded;

    fn vars(body: &str) -> PhpVars {
        PhpVars::from_fields(&parse_urlencoded(body.as_bytes()).unwrap())
    }

    fn arr(items: Vec<(Key, PhpVar)>) -> PhpVar {
        PhpVar::Array(items)
    }

    fn s(v: &str) -> PhpVar {
        PhpVar::Str(v.to_string())
    }

    #[test]
    fn brackets_like_php() {
        let v = vars("lists%5B1%5D=1&lists[]=3&lists%5B%5D=4&sendmethods[]=1,2");
        assert_eq!(
            v.get("lists"),
            Some(&arr(vec![
                (Key::Int(1), s("1")),
                (Key::Int(2), s("3")),
                (Key::Int(3), s("4"))
            ]))
        );
        assert_eq!(
            v.get("sendmethods"),
            Some(&arr(vec![(Key::Int(0), s("1,2"))]))
        );
        let v = vars("sendmethods%5B0%5D=1&a[x][]=1&a[x][]=2&a[01]=z&a[-1]=m");
        assert_eq!(
            v.get("sendmethods"),
            Some(&arr(vec![(Key::Int(0), s("1"))]))
        );
        assert_eq!(
            v.get("a"),
            Some(&arr(vec![
                (
                    "x".into(),
                    arr(vec![(Key::Int(0), s("1")), (Key::Int(1), s("2"))])
                ),
                ("01".into(), s("z")),
                (Key::Int(-1), s("m")),
            ]))
        );
    }

    #[test]
    fn php_name_quirks() {
        let v = vars("a.b=1&c d=2&e[f=3&g[h]tail=4&[x]=5&i=1&i[]=2&j[]=1&j=2&k[2]=a&k[]=b");
        assert_eq!(v.str("a_b"), Some("1"));
        assert_eq!(v.str("c_d"), Some("2"));
        assert_eq!(v.str("e_f"), Some("3"));
        assert_eq!(v.get("g"), Some(&arr(vec![("h".into(), s("4"))])));
        assert!(!v.names().any(|n| n.contains('x')));
        assert_eq!(v.get("i"), Some(&arr(vec![(Key::Int(0), s("2"))])));
        assert_eq!(v.str("j"), Some("2"));
        assert_eq!(
            v.get("k"),
            Some(&arr(vec![(Key::Int(2), s("a")), (Key::Int(3), s("b"))]))
        );
    }

    #[test]
    fn integer_keys_at_the_end_of_the_range() {
        // PHP cannot append past PHP_INT_MAX: the `[]` field is dropped, the
        // first one kept.
        let v = vars("lists[9223372036854775807]=1&lists[]=2");
        assert_eq!(
            v.get("lists"),
            Some(&arr(vec![(Key::Int(i64::MAX), s("1"))]))
        );
        let v = vars("a[9223372036854775807][]=1&a[]=2&a[x]=3");
        assert_eq!(
            v.get("a"),
            Some(&arr(vec![
                (Key::Int(i64::MAX), arr(vec![(Key::Int(0), s("1"))])),
                ("x".into(), s("3")),
            ]))
        );
        // Past the range a numeric key is a string key, and appending starts at 0.
        let v = vars("lists[9223372036854775808]=1&lists[]=2&lists[-9223372036854775809]=3");
        assert_eq!(
            v.get("lists"),
            Some(&arr(vec![
                ("9223372036854775808".into(), s("1")),
                (Key::Int(0), s("2")),
                ("-9223372036854775809".into(), s("3")),
            ]))
        );
    }
}
