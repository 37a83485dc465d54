//! XML output for [`Value`], with quick-xml.
//!
//! `<?xml version='1.0' encoding='utf-8'?>` then one root element; each string key
//! becomes an element, integer keys become `<row>` elements. Text is escaped (`&`,
//! `<`, `>`), so any value stays well-formed; characters XML 1.0 cannot carry at all
//! (most C0 controls, U+FFFE, U+FFFF) are replaced with U+FFFD.

use super::value::{Key, Value};
use quick_xml::Writer;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};

pub const DECLARATION: &str = "<?xml version='1.0' encoding='utf-8'?>\n";

fn xml_safe(s: &str) -> std::borrow::Cow<'_, str> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r')
            || ('\u{20}'..='\u{D7FF}').contains(&c)
            || ('\u{E000}'..='\u{FFFD}').contains(&c)
            || c >= '\u{10000}'
    };
    if s.chars().all(allowed) {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(
            s.chars()
                .map(|c| if allowed(c) { c } else { '\u{FFFD}' })
                .collect(),
        )
    }
}

/// An element name for a key: string keys are used as they are when they are valid
/// XML names (ours always are), integer keys become `row`.
fn element_name(key: &Key) -> &str {
    match key {
        Key::Int(_) => "row",
        Key::Str(s) => {
            let valid = s
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if valid { s } else { "item" }
        }
    }
}

fn write_entries(
    w: &mut Writer<Vec<u8>>,
    entries: &[(Key, Value)],
) -> Result<(), quick_xml::Error> {
    for (k, v) in entries {
        let name = element_name(k);
        w.write_event(Event::Start(BytesStart::new(name)))?;
        match v {
            Value::Int(n) => {
                w.write_event(Event::Text(BytesText::new(&n.to_string())))?;
            }
            Value::Str(s) => {
                w.write_event(Event::Text(BytesText::new(&xml_safe(s))))?;
            }
            Value::Map(inner) => write_entries(w, inner)?,
        }
        w.write_event(Event::End(BytesEnd::new(name)))?;
    }
    Ok(())
}

/// The whole document for a map of answers under `root`.
pub fn to_xml(root: &str, entries: &[(Key, Value)]) -> Result<String, quick_xml::Error> {
    let mut w = Writer::new(Vec::new());
    w.write_event(Event::Start(BytesStart::new(root)))?;
    write_entries(&mut w, entries)?;
    w.write_event(Event::End(BytesEnd::new(root)))?;
    let body = String::from_utf8(w.into_inner()).map_err(|e| {
        quick_xml::Error::Io(std::sync::Arc::new(std::io::Error::other(e.to_string())))
    })?;
    Ok(format!("{DECLARATION}{body}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_rows() {
        let entries = vec![
            (
                Key::Int(0),
                Value::Map(vec![("title".into(), "A & B <c> \"d\" Grün".into())]),
            ),
            ("result_code".into(), Value::Int(1)),
            ("bad".into(), "x\u{1}y".into()),
        ];
        assert_eq!(
            to_xml("group_list", &entries).unwrap(),
            "<?xml version='1.0' encoding='utf-8'?>\n<group_list><row><title>A &amp; B &lt;c&gt; &quot;d&quot; Grün</title></row><result_code>1</result_code><bad>x\u{FFFD}y</bad></group_list>"
        );
    }
}
