//! PHP `serialize()` output for [`Value`].
//!
//! Written by hand: no maintained crate writes PHP arrays that mix integer and string
//! keys in a given order. The format is small: `i:5;`, `s:<bytes>:"<raw bytes>";`,
//! `a:<count>:{<key><value>...}`. String lengths are UTF-8 byte counts, as PHP counts
//! them; string contents are not escaped (the length delimits them).

use super::value::{Key, Value};

pub fn serialize(value: &Value) -> String {
    let mut out = String::with_capacity(1024);
    write_value(&mut out, value);
    out
}

// Plain pushes and itoa rather than `write!`: the group_view profile had
// `core::fmt` at about 7% of the server's time, most of it here.
fn write_int(out: &mut String, tag: &str, n: impl itoa::Integer) {
    out.push_str(tag);
    out.push_str(itoa::Buffer::new().format(n));
}

fn write_i64(out: &mut String, n: i64) {
    write_int(out, "i:", n);
    out.push(';');
}

fn write_str(out: &mut String, s: &str) {
    write_int(out, "s:", s.len());
    out.push_str(":\"");
    out.push_str(s);
    out.push_str("\";");
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Int(n) => write_i64(out, *n),
        Value::Str(s) => write_str(out, s),
        Value::Map(entries) => {
            write_int(out, "a:", entries.len());
            out.push_str(":{");
            for (k, v) in entries {
                match k {
                    Key::Int(n) => write_i64(out, *n),
                    Key::Str(s) => write_str(out, s),
                }
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_php_byte_for_byte() {
        // php -r 'echo serialize(["result_code"=>0,"result_message"=>"You are not authorized to access this file","result_output"=>"serialize"]);'
        let v = Value::Map(vec![
            ("result_code".into(), Value::Int(0)),
            (
                "result_message".into(),
                "You are not authorized to access this file".into(),
            ),
            ("result_output".into(), "serialize".into()),
        ]);
        assert_eq!(
            serialize(&v),
            r#"a:3:{s:11:"result_code";i:0;s:14:"result_message";s:42:"You are not authorized to access this file";s:13:"result_output";s:9:"serialize";}"#
        );
    }

    #[test]
    fn counts_utf8_bytes_and_mixes_keys() {
        // php -r 'echo serialize([0=>["title"=>"Grün \"q\";"], "n"=>-3]);'
        let v = Value::Map(vec![
            (
                Key::Int(0),
                Value::Map(vec![("title".into(), "Grün \"q\";".into())]),
            ),
            ("n".into(), Value::Int(-3)),
        ]);
        assert_eq!(
            serialize(&v),
            r#"a:2:{i:0;a:1:{s:5:"title";s:10:"Grün "q";";}s:1:"n";i:-3;}"#
        );
    }
}
