//! SCIM filters (RFC 7644 section 3.4.2.2): parsed into a [`Filter`] and tested
//! against a resource in its SCIM JSON form.
//!
//! Grammar, with `not` binding tighter than `and`, and `and` than `or`:
//!
//! ```text
//! filter    = or
//! or        = and *("or" and)
//! and       = unary *("and" unary)
//! unary     = "not" "(" filter ")" / "(" filter ")" / attrExp / valuePath
//! attrExp   = attrPath "pr" / attrPath compareOp compValue
//! valuePath = attrPath "[" filter "]"
//! attrPath  = [URI ":"] name ["." subName]
//! ```
//!
//! Operators and attribute names are case-insensitive. Whether a string
//! comparison minds case is the attribute's business: the caller says, through
//! the `case_exact` function given to [`Filter::matches`].

use serde_json::Value;
use std::cmp::Ordering;

/// Why a filter could not be read (SCIM's `invalidFilter`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

/// An attribute named in a filter or a PATCH path: `emails.value`,
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN before the name, when one was given.
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// Reads `[urn:]name[.sub]`; names are kept as written (compared without case).
    pub fn parse(raw: &str) -> Result<AttrPath, FilterError> {
        let raw = raw.trim();
        let (urn, rest) = if is_urn(raw) {
            match raw.rfind(':') {
                Some(i) if i + 1 < raw.len() => (Some(raw[..i].to_string()), &raw[i + 1..]),
                _ => return Err(FilterError(format!("'{raw}' names no attribute"))),
            }
        } else {
            (None, raw)
        };
        let (name, sub) = match rest.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        let valid = |s: &str| {
            s.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        };
        if !valid(name) || sub.is_some_and(|s| !valid(s)) {
            return Err(FilterError(format!("'{raw}' is not an attribute name")));
        }
        Ok(AttrPath {
            urn,
            name: name.to_string(),
            sub: sub.map(str::to_string),
        })
    }

    /// The path as SCIM writes it, for messages and for `case_exact`:
    /// `name` or `name.sub` (the URN left out).
    pub fn dotted(&self) -> String {
        match &self.sub {
            Some(s) => format!("{}.{}", self.name, s),
            None => self.name.clone(),
        }
    }

    /// The values this path reaches in `resource`: one per element of a
    /// multi-valued attribute (and, for a complex one named without a
    /// sub-attribute, its `value`). Missing and null reach nothing.
    pub fn values<'a>(&self, resource: &'a Value) -> Vec<&'a Value> {
        let base = match &self.urn {
            Some(urn) => match get_ci(resource, urn) {
                // An extension attribute lives in its schema's object; a core
                // schema URN names the resource itself.
                Some(ext @ Value::Object(_)) => ext,
                _ => resource,
            },
            None => resource,
        };
        let Some(top) = get_ci(base, &self.name) else {
            return Vec::new();
        };
        let items: Vec<&Value> = match top {
            Value::Array(a) => a.iter().collect(),
            Value::Null => Vec::new(),
            v => vec![v],
        };
        items
            .into_iter()
            .filter_map(|v| match (&self.sub, v) {
                (Some(s), Value::Object(_)) => get_ci(v, s),
                (Some(_), _) => None,
                (None, Value::Object(_)) => get_ci(v, "value"),
                (None, v) => Some(v),
            })
            .filter(|v| !v.is_null())
            .collect()
    }
}

/// Whether `name` starts with a schema URN (`urn:`, any case). Byte-safe: a
/// name that starts with a multi-byte character is simply not one.
pub fn is_urn(name: &str) -> bool {
    name.len() > 4
        && name
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

/// A member of an object by name, ignoring case.
pub fn get_ci<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    fn parse(s: &str) -> Option<CompareOp> {
        Some(match s.to_ascii_lowercase().as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare(AttrPath, CompareOp, Value),
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `emails[type eq "work" and primary eq true]`: some element of the
    /// multi-valued attribute matches the inner filter (whose paths name its
    /// sub-attributes).
    ValuePath(AttrPath, Box<Filter>),
}

/// Longest filter read, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest nesting of parentheses, `not` and value paths.
const MAX_DEPTH: usize = 32;

impl Filter {
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        if text.len() > MAX_FILTER_LEN {
            return Err(FilterError(format!(
                "the filter is longer than {MAX_FILTER_LEN} bytes"
            )));
        }
        let tokens = tokenize(text)?;
        if tokens.is_empty() {
            return Err(FilterError("the filter is empty".into()));
        }
        let mut p = Parser {
            tokens,
            at: 0,
            depth: 0,
        };
        let f = p.or()?;
        match p.peek() {
            None => Ok(f),
            Some(t) => Err(FilterError(format!(
                "unexpected {} after the filter",
                t.show()
            ))),
        }
    }

    /// Whether `resource` (a SCIM resource as JSON) matches. `case_exact(path)`
    /// says whether strings of that attribute (`userName`, `emails.value`, ...)
    /// compare with their case.
    pub fn matches(&self, resource: &Value, case_exact: &dyn Fn(&str) -> bool) -> bool {
        match self {
            Filter::And(a, b) => a.matches(resource, case_exact) && b.matches(resource, case_exact),
            Filter::Or(a, b) => a.matches(resource, case_exact) || b.matches(resource, case_exact),
            Filter::Not(f) => !f.matches(resource, case_exact),
            Filter::Present(path) => path.values(resource).iter().any(|v| match v {
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
                _ => true,
            }),
            Filter::Compare(path, op, want) => {
                let exact = case_exact(&path.dotted());
                let found = path.values(resource);
                if *op == CompareOp::Ne {
                    return !found.iter().any(|v| compare(v, CompareOp::Eq, want, exact));
                }
                found.iter().any(|v| compare(v, *op, want, exact))
            }
            Filter::ValuePath(path, inner) => {
                let Some(top) = get_ci(resource, &path.name) else {
                    return false;
                };
                let parent = path.name.clone();
                let within = |sub: &str| case_exact(&format!("{parent}.{sub}"));
                let items: Vec<&Value> = match top {
                    Value::Array(a) => a.iter().collect(),
                    v => vec![v],
                };
                items.iter().any(|item| inner.matches(item, &within))
            }
        }
    }

    /// The value of an `attr eq "value"` test the whole filter requires: the
    /// filter itself, or one of a chain of `and`s (`id eq "7" and members eq
    /// "3"`), so a door may look that one up and test the rest on it.
    /// An unquoted whole number (`id eq 7`) counts as its text.
    pub fn required_equality(&self, attr: &str) -> Option<String> {
        match self {
            Filter::And(a, b) => a
                .required_equality(attr)
                .or_else(|| b.required_equality(attr)),
            Filter::Compare(p, CompareOp::Eq, Value::Number(n))
                if p.sub.is_none() && p.name.eq_ignore_ascii_case(attr) =>
            {
                n.as_i64().map(|n| n.to_string())
            }
            f => f.equality_on(attr).map(str::to_string),
        }
    }

    /// Whether the filter tests the top-level attribute `name` (named without case).
    pub fn mentions(&self, name: &str) -> bool {
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => a.mentions(name) || b.mentions(name),
            Filter::Not(f) => f.mentions(name),
            Filter::Compare(p, _, _) | Filter::Present(p) | Filter::ValuePath(p, _) => {
                p.name.eq_ignore_ascii_case(name)
            }
        }
    }

    /// The value of `attr eq "value"` when the whole filter is that one test on
    /// `attr` (named without case), for engines that can look it up directly.
    pub fn equality_on(&self, attr: &str) -> Option<&str> {
        match self {
            Filter::Compare(p, CompareOp::Eq, Value::String(s))
                if p.sub.is_none() && p.name.eq_ignore_ascii_case(attr) =>
            {
                Some(s)
            }
            _ => None,
        }
    }
}

fn compare(found: &Value, op: CompareOp, want: &Value, exact: bool) -> bool {
    match (found, want) {
        (Value::String(a), Value::String(b)) => {
            // Without case means as groupd keys names: NFKC and full case
            // folding (`STRASSE` is `straße`), the rule its look-ups use.
            let (a, b) = if exact {
                (a.clone(), b.clone())
            } else {
                (
                    super::super::identifier::fold(a),
                    super::super::identifier::fold(b),
                )
            };
            match op {
                CompareOp::Eq => a == b,
                CompareOp::Ne => a != b,
                CompareOp::Co => a.contains(&b),
                CompareOp::Sw => a.starts_with(&b),
                CompareOp::Ew => a.ends_with(&b),
                CompareOp::Gt => a > b,
                CompareOp::Ge => a >= b,
                CompareOp::Lt => a < b,
                CompareOp::Le => a <= b,
            }
        }
        (Value::Number(a), Value::Number(b)) => {
            let (Some(a), Some(b)) = (a.as_f64(), b.as_f64()) else {
                return false;
            };
            let ord = a.partial_cmp(&b);
            match op {
                CompareOp::Eq => ord == Some(Ordering::Equal),
                CompareOp::Ne => ord != Some(Ordering::Equal),
                CompareOp::Gt => ord == Some(Ordering::Greater),
                CompareOp::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
                CompareOp::Lt => ord == Some(Ordering::Less),
                CompareOp::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
                _ => false,
            }
        }
        // Booleans sent as strings ("True") compare as booleans.
        (Value::Bool(a), b) => match (op, as_bool(b)) {
            (CompareOp::Eq, Some(b)) => *a == b,
            (CompareOp::Ne, Some(b)) => *a != b,
            _ => false,
        },
        (_, Value::Null) => matches!(op, CompareOp::Ne),
        // An unquoted number or boolean against a string (`id eq 7`,
        // `externalId eq 12345`, as Entra sometimes sends): compared as text.
        (Value::String(_), w @ (Value::Number(_) | Value::Bool(_))) => {
            compare(found, op, &Value::String(w.to_string()), exact)
        }
        _ => false,
    }
}

/// A boolean as SCIM clients send it: `true`, or Entra's `"True"`.
pub fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Open,
    Close,
    OpenBracket,
    CloseBracket,
}

impl Token {
    fn show(&self) -> String {
        match self {
            Token::Word(w) => format!("'{w}'"),
            Token::Str(s) => format!("\"{s}\""),
            Token::Open => "'('".into(),
            Token::Close => "')'".into(),
            Token::OpenBracket => "'['".into(),
            Token::CloseBracket => "']'".into(),
        }
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self, Token::Word(x) if x.eq_ignore_ascii_case(w))
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, FilterError> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(_, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                out.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '[' => Token::OpenBracket,
                    _ => Token::CloseBracket,
                });
            }
            '"' => {
                // A JSON string: escapes as JSON has them.
                chars.next();
                let mut raw = String::from("\"");
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    raw.push(c);
                    if c == '\\' {
                        if let Some((_, e)) = chars.next() {
                            raw.push(e);
                        }
                    } else if c == '"' {
                        closed = true;
                        break;
                    }
                }
                if !closed {
                    return Err(FilterError("a string is not closed".into()));
                }
                let s: String = serde_json::from_str(&raw)
                    .map_err(|_| FilterError(format!("{raw} is not a valid string")))?;
                out.push(Token::Str(s));
            }
            _ => {
                let mut w = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"') {
                        break;
                    }
                    w.push(c);
                    chars.next();
                }
                // `members[value eq "x"].display` style: a sub-attribute after
                // a value filter is kept on the word that follows the bracket.
                out.push(Token::Word(w));
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn deeper(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FilterError(format!(
                "the filter nests deeper than {MAX_DEPTH} levels"
            )));
        }
        Ok(())
    }

    /// `operand *(word operand)`, joined from the left.
    fn chain(
        &mut self,
        word: &str,
        operand: fn(&mut Parser) -> Result<Filter, FilterError>,
        join: fn(Box<Filter>, Box<Filter>) -> Filter,
    ) -> Result<Filter, FilterError> {
        let mut left = operand(self)?;
        while self.peek().is_some_and(|t| t.is_word(word)) {
            self.next();
            let right = operand(self)?;
            left = join(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn or(&mut self) -> Result<Filter, FilterError> {
        self.chain("or", Parser::and, Filter::Or)
    }

    fn and(&mut self) -> Result<Filter, FilterError> {
        self.chain("and", Parser::unary, Filter::And)
    }

    fn group(&mut self) -> Result<Filter, FilterError> {
        self.deeper()?;
        let inner = self.or()?;
        self.depth -= 1;
        match self.next() {
            Some(Token::Close) => Ok(inner),
            Some(t) => Err(FilterError(format!("expected ')' but found {}", t.show()))),
            None => Err(FilterError("a '(' is not closed".into())),
        }
    }

    fn unary(&mut self) -> Result<Filter, FilterError> {
        match self.next() {
            Some(t) if t.is_word("not") => match self.next() {
                Some(Token::Open) => Ok(Filter::Not(Box::new(self.group()?))),
                _ => Err(FilterError("'not' must be followed by '('".into())),
            },
            Some(Token::Open) => self.group(),
            Some(Token::Word(w)) => {
                let path = AttrPath::parse(&w)?;
                if matches!(self.peek(), Some(Token::OpenBracket)) {
                    self.next();
                    self.deeper()?;
                    let inner = self.or()?;
                    self.depth -= 1;
                    match self.next() {
                        Some(Token::CloseBracket) => {}
                        _ => return Err(FilterError(format!("'{w}[' is not closed by ']'"))),
                    }
                    return Ok(Filter::ValuePath(path, Box::new(inner)));
                }
                let op = match self.next() {
                    Some(Token::Word(op)) if op.eq_ignore_ascii_case("pr") => {
                        return Ok(Filter::Present(path));
                    }
                    Some(Token::Word(op)) => CompareOp::parse(&op).ok_or_else(|| {
                        FilterError(format!(
                            "'{op}' is not an operator (eq ne co sw ew gt ge lt le pr)"
                        ))
                    })?,
                    Some(t) => {
                        return Err(FilterError(format!(
                            "expected an operator after '{w}' but found {}",
                            t.show()
                        )));
                    }
                    None => return Err(FilterError(format!("'{w}' has no operator"))),
                };
                let value = match self.next() {
                    Some(Token::Str(s)) => Value::String(s),
                    Some(Token::Word(v)) => match v.to_ascii_lowercase().as_str() {
                        "true" => Value::Bool(true),
                        "false" => Value::Bool(false),
                        "null" => Value::Null,
                        _ => serde_json::from_str::<serde_json::Number>(&v)
                            .map(Value::Number)
                            // Entra writes some values without quotes.
                            .unwrap_or(Value::String(v)),
                    },
                    Some(t) => {
                        return Err(FilterError(format!(
                            "expected a value after '{w}' but found {}",
                            t.show()
                        )));
                    }
                    None => return Err(FilterError(format!("'{w}' has no value to compare"))),
                };
                Ok(Filter::Compare(path, op, value))
            }
            Some(t) => Err(FilterError(format!(
                "expected an attribute but found {}",
                t.show()
            ))),
            None => Err(FilterError("the filter ends too early".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquoted_numbers_and_folded_case() {
        let r = serde_json::json!({"id": "7", "userName": "straße@x.org"});
        let exact = |p: &str| p == "id";
        assert!(Filter::parse("id eq 7").unwrap().matches(&r, &exact));
        assert!(!Filter::parse("id eq 8").unwrap().matches(&r, &exact));
        assert!(
            Filter::parse(r#"userName eq "STRASSE@X.ORG""#)
                .unwrap()
                .matches(&r, &exact)
        );
    }

    #[test]
    fn required_equalities_and_mentions() {
        let f = Filter::parse(r#"id eq "7" and (members eq "3" or not (displayName pr))"#).unwrap();
        assert_eq!(f.required_equality("id").as_deref(), Some("7"));
        let bare = Filter::parse("id eq 7 and active eq true").unwrap();
        assert_eq!(bare.required_equality("id").as_deref(), Some("7"));
        assert_eq!(f.equality_on("id"), None);
        assert!(f.mentions("members") && f.mentions("DISPLAYNAME") && !f.mentions("externalId"));
        let either = Filter::parse(r#"id eq "7" or id eq "8""#).unwrap();
        assert_eq!(either.required_equality("id"), None);
        let path = Filter::parse(r#"members[value eq "3"]"#).unwrap();
        assert!(path.mentions("members"));
    }
    use serde_json::json;

    fn user() -> Value {
        json!({
            "id": "2819c223", "externalId": "00uAbC", "userName": "Bjensen",
            "displayName": "Babs Jensen", "active": true,
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "meta": {"lastModified": "2026-11-30T10:00:00Z", "resourceType": "User"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984"}
        })
    }

    fn exact(path: &str) -> bool {
        matches!(path, "id" | "externalId")
    }

    fn m(filter: &str) -> bool {
        Filter::parse(filter).unwrap().matches(&user(), &exact)
    }

    #[test]
    fn every_operator_with_each_attributes_case_rule() {
        assert!(m(r#"userName eq "bjensen""#), "userName ignores case");
        assert!(m(r#"USERNAME Eq "BJENSEN""#), "names and operators too");
        assert!(!m(r#"externalId eq "00uabc""#), "externalId minds case");
        assert!(m(r#"externalId eq "00uAbC""#));
        assert!(m(r#"userName ne "other""#) && !m(r#"userName ne "bjensen""#));
        assert!(m(r#"displayName co "s jen""#));
        assert!(m(r#"displayName sw "babs""#) && !m(r#"displayName sw "jensen""#));
        assert!(m(r#"displayName ew "JENSEN""#));
        assert!(m(r#"meta.lastModified gt "2026-11-01T00:00:00Z""#));
        assert!(m(r#"meta.lastModified ge "2026-11-30T10:00:00Z""#));
        assert!(!m(r#"meta.lastModified lt "2026-11-30T10:00:00Z""#));
        assert!(m(r#"meta.lastModified le "2026-11-30T10:00:00Z""#));
        assert!(!m("title pr") && m("emails pr") && m("name.givenName pr"));
        assert!(m("active eq true") && m(r#"active eq "True""#) && !m("active eq false"));
    }

    #[test]
    fn multi_valued_attributes_match_on_any_element() {
        assert!(m(r#"emails.value eq "babs@jensen.org""#));
        assert!(
            m(r#"emails eq "BJENSEN@example.com""#),
            "a complex attribute compares its value"
        );
        assert!(m(r#"emails[type eq "work" and value co "@example.com"]"#));
        assert!(!m(r#"emails[type eq "home" and value co "@example.com"]"#));
        assert!(m(r#"emails[primary eq true]"#));
    }

    #[test]
    fn logic_binds_not_then_and_then_or() {
        assert!(m(
            r#"userName eq "x" or userName eq "bjensen" and active eq true"#
        ));
        assert!(!m(
            r#"(userName eq "x" or userName eq "bjensen") and active eq false"#
        ));
        assert!(m(r#"not (userName eq "x") and not(active eq false)"#));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#
        ));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen""#
        ));
    }

    #[test]
    fn bad_filters_say_what_is_wrong() {
        for (bad, says) in [
            ("", "empty"),
            ("userName", "no operator"),
            (r#"userName eqq "x""#, "not an operator"),
            (r#"userName eq"#, "no value"),
            (r#"(userName eq "x""#, "not closed"),
            (r#"userName eq "x" foo"#, "unexpected"),
            (r#"userName eq "x"#, "not closed"),
            (r#"emails[type eq "work""#, "not closed"),
            (r#"not userName eq "x""#, "followed by"),
            (r#"9name eq "x""#, "not an attribute"),
            // A name whose fifth byte falls inside a character.
            (r#"aéé eq "x""#, "not an attribute"),
        ] {
            let e = Filter::parse(bad).unwrap_err();
            assert!(e.0.contains(says), "{bad:?}: {e}");
        }
        let deep = format!("{}userName pr{}", "(".repeat(40), ")".repeat(40));
        assert!(Filter::parse(&deep).unwrap_err().0.contains("deeper"));
        assert!(Filter::parse(&"a".repeat(MAX_FILTER_LEN + 1)).is_err());
    }

    #[test]
    fn a_lone_equality_can_be_looked_up() {
        let f = Filter::parse(r#"userName eq "Ada""#).unwrap();
        assert_eq!(f.equality_on("username"), Some("Ada"));
        assert_eq!(f.equality_on("displayName"), None);
        let f = Filter::parse(r#"userName eq "Ada" and active eq true"#).unwrap();
        assert_eq!(f.equality_on("userName"), None);
        // Entra's unquoted values read as strings.
        let f = Filter::parse("externalId eq jyoung").unwrap();
        assert_eq!(f.equality_on("externalId"), Some("jyoung"));
    }
}
