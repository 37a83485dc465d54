//! An ordered, PHP-array-like answer value, encoded by the JSON, PHP serialize and
//! XML writers. PHP arrays mix integer and string keys and keep insertion order;
//! answers built from this type keep exactly the order they were built in.

use serde::ser::{Serialize, SerializeMap, Serializer};
use std::borrow::Cow;

/// Keys and strings borrow when they are fixed text (`"result_code"`, `"1"`), so an
/// answer of 50 entries is not 100 small allocations.
pub type Text = Cow<'static, str>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Int(i64),
    Str(Text),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Str(Text),
    Map(Vec<(Key, Value)>),
}

impl From<&'static str> for Key {
    fn from(s: &'static str) -> Key {
        Key::Str(Cow::Borrowed(s))
    }
}

impl From<String> for Key {
    fn from(s: String) -> Key {
        Key::Str(Cow::Owned(s))
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Int(n)
    }
}

impl From<&'static str> for Value {
    fn from(s: &'static str) -> Value {
        Value::Str(Cow::Borrowed(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(Cow::Owned(s))
    }
}

/// JSON: maps are objects in insertion order (integer keys become "0", "1", ...).
impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Int(n) => s.serialize_i64(*n),
            Value::Str(v) => s.serialize_str(v),
            Value::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    match k {
                        Key::Int(n) => map.serialize_entry(itoa::Buffer::new().format(*n), v)?,
                        Key::Str(k) => map.serialize_entry(k.as_ref(), v)?,
                    }
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keeps_order_and_numeric_keys() {
        let v = Value::Map(vec![
            (Key::Int(0), Value::Map(vec![("id".into(), "4".into())])),
            ("result_code".into(), Value::Int(1)),
            ("result_message".into(), "Gr\u{fc}n & <ok>".into()),
        ]);
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"0":{"id":"4"},"result_code":1,"result_message":"Grün & <ok>"}"#
        );
    }
}
