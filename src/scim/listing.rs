//! What a list request asks for (RFC 7644 section 3.4.2): the filter, the page
//! (`startIndex`, 1-based, and `count`), and which attributes come back
//! (`attributes`, `excludedAttributes`); and the ListResponse that answers it.

use super::discovery::{LIST_RESPONSE, MAX_RESULTS};
use super::error::ScimError;
use crate::domain::scim::filter::Filter;
use serde_json::{Map, Value, json};

/// A list request's query, read from its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    /// 1-based; values below 1 are read as 1 (RFC 7644 3.4.2.4).
    pub start_index: u64,
    /// At most [`MAX_RESULTS`]; negative is read as 0.
    pub count: u32,
    pub projection: Projection,
}

/// `attributes` and `excludedAttributes` (only one may be given).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Projection {
    #[default]
    All,
    Only(Vec<String>),
    Except(Vec<String>),
}

/// Attributes every resource keeps whatever is asked (`returned: always`).
const ALWAYS: [&str; 2] = ["id", "schemas"];

impl Projection {
    pub fn parse(
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<Projection, ScimError> {
        let split = |s: &str| -> Vec<String> {
            s.split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect()
        };
        match (attributes, excluded) {
            (Some(_), Some(_)) => Err(ScimError::invalid_value(
                "send either attributes or excludedAttributes, not both",
            )),
            (Some(a), None) => Ok(Projection::Only(split(a))),
            (None, Some(e)) => Ok(Projection::Except(split(e))),
            (None, None) => Ok(Projection::All),
        }
    }

    /// Whether the answer keeps the top-level attribute `name` (or some of it).
    pub fn wants(&self, name: &str) -> bool {
        match self {
            Projection::All => true,
            Projection::Only(list) => list.iter().any(|a| names_key(a, name).is_some()),
            Projection::Except(list) => !list.iter().any(|a| names_key(a, name) == Some(None)),
        }
    }

    /// `resource` with only the attributes asked for. Names compare without
    /// case; a dotted name (`name.givenName`) keeps or drops that
    /// sub-attribute; `meta` goes only when left out of `attributes`.
    pub fn apply(&self, resource: Value) -> Value {
        let Value::Object(obj) = resource else {
            return resource;
        };
        let named = |list: &[String], key: &str| -> Option<Vec<String>> {
            let mut subs = Vec::new();
            let mut whole = false;
            for a in list {
                match names_key(a, key) {
                    Some(None) => whole = true,
                    Some(Some(sub)) => subs.push(sub.to_string()),
                    None => {}
                }
            }
            if whole {
                Some(Vec::new())
            } else if subs.is_empty() {
                None
            } else {
                Some(subs)
            }
        };
        let mut out = Map::new();
        for (key, value) in obj {
            if ALWAYS.iter().any(|a| a.eq_ignore_ascii_case(&key)) {
                out.insert(key, value);
                continue;
            }
            match self {
                Projection::All => {
                    out.insert(key, value);
                }
                Projection::Only(list) => match named(list, &key) {
                    Some(subs) if subs.is_empty() => {
                        out.insert(key, value);
                    }
                    Some(subs) => {
                        out.insert(key, keep_subs(value, &subs, true));
                    }
                    None => {}
                },
                Projection::Except(list) => match named(list, &key) {
                    Some(subs) if subs.is_empty() => {}
                    Some(subs) => {
                        out.insert(key, keep_subs(value, &subs, false));
                    }
                    None => {
                        out.insert(key, value);
                    }
                },
            }
        }
        Value::Object(out)
    }
}

/// How an `attributes` entry names a resource's top-level member `key`: not
/// at all (`None`), whole (`Some(None)`), or one sub-attribute of it. A key that
/// is an extension's URN is named by that URN, or by the URN and `:sub`; a core
/// attribute with or without its schema's URN (`name.givenName`,
/// `urn:...:core:2.0:User:userName`).
fn names_key<'a>(entry: &'a str, key: &str) -> Option<Option<&'a str>> {
    if key.contains(':') {
        if entry.eq_ignore_ascii_case(key) {
            return Some(None);
        }
        let head = entry.get(..key.len())?;
        let rest = entry.get(key.len()..)?;
        return (head.eq_ignore_ascii_case(key) && rest.len() > 1)
            .then(|| rest.strip_prefix(':'))
            .flatten()
            .map(Some);
    }
    let a = if crate::domain::scim::filter::is_urn(entry) {
        entry.rsplit_once(':').map_or(entry, |(_, n)| n)
    } else {
        entry
    };
    match a.split_once('.') {
        Some((top, sub)) if top.eq_ignore_ascii_case(key) => Some(Some(sub)),
        None if a.eq_ignore_ascii_case(key) => Some(None),
        _ => None,
    }
}

/// `value` (an object, or a list of objects) with the named sub-attributes
/// kept (`keep`) or dropped.
fn keep_subs(value: Value, subs: &[String], keep: bool) -> Value {
    let filter = |v: Value| match v {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .filter(|(k, _)| subs.iter().any(|s| s.eq_ignore_ascii_case(k)) == keep)
                .collect(),
        ),
        other => other,
    };
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(filter).collect()),
        v => filter(v),
    }
}

impl ListQuery {
    /// Reads `filter`, `startIndex`, `count`, `attributes` and
    /// `excludedAttributes` (names without case, as Entra and Okta vary).
    pub fn parse(params: &[(String, String)]) -> Result<ListQuery, ScimError> {
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let number = |name: &str| -> Result<Option<i64>, ScimError> {
            get(name)
                .map(|v| {
                    v.trim().parse::<i64>().map_err(|_| {
                        ScimError::invalid_value(format!(
                            "{name} must be a whole number, not '{v}'"
                        ))
                    })
                })
                .transpose()
        };
        let filter = get("filter")
            .filter(|f| !f.trim().is_empty())
            .map(Filter::parse)
            .transpose()?;
        let start_index = number("startIndex")?.unwrap_or(1).max(1) as u64;
        let count = number("count")?
            .unwrap_or(i64::from(MAX_RESULTS))
            .clamp(0, i64::from(MAX_RESULTS)) as u32;
        Ok(ListQuery {
            filter,
            start_index,
            count,
            projection: Projection::parse(get("attributes"), get("excludedAttributes"))?,
        })
    }
}

impl ListQuery {
    /// Reads a `POST .../.search` body (RFC 7644 section 3.4.3): the same
    /// parameters as a query, as JSON members.
    pub fn from_search(body: &Value) -> Result<ListQuery, ScimError> {
        let Value::Object(members) = body else {
            return Err(ScimError::invalid_value("a search body is a JSON object"));
        };
        let mut params = Vec::new();
        for (k, v) in members {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Array(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                _ => continue,
            };
            params.push((k.clone(), text));
        }
        ListQuery::parse(&params)
    }
}

/// Where a list's matches fall, taken in order: it counts them all and says
/// which are on the page asked for, so a list holds one page, whatever the
/// workspace's size.
pub struct Window {
    start: u64,
    count: u32,
    seen: u64,
    kept: u32,
}

impl Window {
    pub fn new(q: &ListQuery) -> Window {
        Window {
            start: q.start_index,
            count: q.count,
            seen: 0,
            kept: 0,
        }
    }

    /// Counts the next match; whether it is on the page (so the caller builds
    /// only what is kept).
    pub fn admit(&mut self) -> bool {
        self.seen += 1;
        let on_page = self.seen >= self.start && self.kept < self.count;
        if on_page {
            self.kept += 1;
        }
        on_page
    }

    /// The ListResponse, with the page's resources as the caller built them.
    pub fn into_response(self, resources: Vec<Value>) -> Value {
        list_response(self.seen, self.start, resources)
    }
}

/// A ListResponse: `total` matches, this page's `resources` from `start_index`.
pub fn list_response(total: u64, start_index: u64, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "itemsPerPage": resources.len(),
        "startIndex": start_index,
        "Resources": resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn paging_defaults_and_bounds() {
        let q = ListQuery::parse(&[]).unwrap();
        assert_eq!((q.start_index, q.count, q.filter), (1, MAX_RESULTS, None));
        let q = ListQuery::parse(&params(&[("startIndex", "0"), ("count", "-5")])).unwrap();
        assert_eq!((q.start_index, q.count), (1, 0));
        let q = ListQuery::parse(&params(&[("STARTINDEX", "101"), ("count", "100000")])).unwrap();
        assert_eq!((q.start_index, q.count), (101, MAX_RESULTS));
        let e = ListQuery::parse(&params(&[("count", "ten")])).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidValue"));
        let e = ListQuery::parse(&params(&[("filter", "userName eqq \"x\"")])).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidFilter"));
        let q = ListQuery::parse(&params(&[("filter", "userName eq \"x\"")])).unwrap();
        assert_eq!(q.filter.unwrap().equality_on("userName"), Some("x"));
    }

    #[test]
    fn a_window_counts_every_match_and_keeps_one_page() {
        let q = ListQuery::parse(&params(&[("startIndex", "3"), ("count", "2")])).unwrap();
        let mut w = Window::new(&q);
        let page: Vec<Value> = (1..=6)
            .filter(|_| w.admit())
            .map(|i| json!({"id": i.to_string()}))
            .collect();
        let r = w.into_response(page);
        assert_eq!(
            (r["totalResults"].as_u64(), r["itemsPerPage"].as_u64()),
            (Some(6), Some(2))
        );
        assert_eq!(r["Resources"], json!([{"id": "3"}, {"id": "4"}]));
        let q = ListQuery::from_search(&json!({"filter": "userName eq \"a\"", "count": 1,
            "attributes": ["userName", "emails"]}))
        .unwrap();
        assert_eq!(q.count, 1);
        assert_eq!(
            q.projection,
            Projection::Only(vec!["userName".into(), "emails".into()])
        );
    }

    #[test]
    fn attributes_and_excluded_attributes() {
        let group = json!({"schemas": ["s"], "id": "7", "displayName": "Team",
                           "members": [{"value": "1", "display": "Ada"}], "meta": {"version": "W/\"1\""}});
        let only = Projection::parse(Some("displayName"), None)
            .unwrap()
            .apply(group.clone());
        assert_eq!(
            only,
            json!({"schemas": ["s"], "id": "7", "displayName": "Team"})
        );
        let without = Projection::parse(None, Some("members"))
            .unwrap()
            .apply(group.clone());
        assert!(without.get("members").is_none() && without["displayName"] == "Team");
        let subs = Projection::parse(Some("members.value"), None)
            .unwrap()
            .apply(group.clone());
        assert_eq!(subs["members"], json!([{"value": "1"}]));
        let urn = Projection::parse(
            Some("urn:ietf:params:scim:schemas:core:2.0:Group:displayName"),
            None,
        )
        .unwrap()
        .apply(group.clone());
        assert_eq!(urn["displayName"], "Team");
        let ext = "urn:groupd:params:scim:schemas:extension:2.0:Group";
        let with_ext = json!({"schemas": ["s"], "id": "7", "displayName": "T", (ext): {"slug": "t", "pinned": true}});
        let only_ext = Projection::parse(Some(ext), None)
            .unwrap()
            .apply(with_ext.clone());
        assert_eq!(only_ext[ext], json!({"slug": "t", "pinned": true}));
        assert!(only_ext.get("displayName").is_none());
        let slug = Projection::parse(Some(&format!("{ext}:slug")), None)
            .unwrap()
            .apply(with_ext.clone());
        assert_eq!(slug[ext], json!({"slug": "t"}));
        let no_ext = Projection::parse(None, Some(ext)).unwrap();
        assert!(no_ext.apply(with_ext.clone()).get(ext).is_none());
        assert!(!no_ext.wants(ext) && no_ext.wants("members"));
        let e = Projection::parse(Some("a"), Some("b")).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidValue"));
        assert_eq!(Projection::All.apply(group.clone()), group);
    }
}
