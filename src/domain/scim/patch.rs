//! SCIM PATCH (RFC 7644 section 3.5.2) applied to a resource in its SCIM JSON
//! form, as identity providers really send it: operation names in any case
//! (Entra's `Replace`), `replace` without a path carrying an object (Okta's
//! `{"id", "displayName"}`, Entra's dotted and URN-qualified keys), value
//! filters in paths (`members[value eq "..."]`, `emails[type eq "work"].value`),
//! and Entra's member removal by a list of values.
//!
//! The door turns the patched JSON back into groupd's changes; which attributes
//! may change (mutability) is its business too.

use super::filter::{AttrPath, Filter, FilterError, get_ci};
use serde_json::{Map, Value};

/// Why a PATCH cannot be applied; each maps to SCIM's `scimType`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// `invalidSyntax`: the request is not a PatchOp.
    #[error("{0}")]
    Syntax(String),
    /// `invalidPath`.
    #[error("{0}")]
    Path(String),
    /// `noTarget`: the path's filter matched nothing.
    #[error("{0}")]
    NoTarget(String),
    /// `invalidValue`.
    #[error("{0}")]
    Value(String),
    /// `tooMany`: more values in one request than groupd takes.
    #[error("{0}")]
    TooMany(String),
}

impl From<FilterError> for PatchError {
    fn from(e: FilterError) -> PatchError {
        PatchError::Path(e.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Remove,
    Replace,
}

/// Where an operation points: an attribute, or the elements of a multi-valued
/// one that a filter selects (and, optionally, one sub-attribute of them).
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Attr(AttrPath),
    Selected {
        attr: AttrPath,
        filter: Filter,
        sub: Option<String>,
    },
}

impl Target {
    pub fn parse(raw: &str) -> Result<Target, PatchError> {
        let raw = raw.trim();
        let Some(open) = raw.find('[') else {
            return Ok(Target::Attr(AttrPath::parse(raw)?));
        };
        let close = raw
            .rfind(']')
            .ok_or_else(|| PatchError::Path(format!("'{raw}': '[' is not closed")))?;
        if close < open {
            return Err(PatchError::Path(format!("'{raw}' is not a path")));
        }
        let attr = AttrPath::parse(&raw[..open])?;
        if attr.sub.is_some() {
            return Err(PatchError::Path(format!(
                "'{raw}': a value filter follows an attribute, not a sub-attribute"
            )));
        }
        let filter = Filter::parse(&raw[open + 1..close])?;
        let rest = &raw[close + 1..];
        let sub = match rest.strip_prefix('.') {
            Some(s) if !s.is_empty() => Some(s.to_string()),
            None if rest.is_empty() => None,
            _ => return Err(PatchError::Path(format!("'{raw}' is not a path"))),
        };
        Ok(Target::Selected { attr, filter, sub })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub op: Op,
    pub target: Option<Target>,
    pub value: Option<Value>,
}

/// Most operations in one PATCH.
pub const MAX_OPERATIONS: usize = 1000;
/// Most list elements in all of a PATCH's values together: a replace of a big
/// group's member list fits; what may change is bounded apart (1,000 members
/// added and 1,000 removed), and the work is linear in this.
pub const MAX_VALUES: usize = 20_000;

/// How many list elements a value holds, at any depth, counting no further
/// than `limit`.
fn list_elements(v: &Value, limit: usize) -> usize {
    let mut n = 0;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(items) => {
                n += items.len();
                if n > limit {
                    return n;
                }
                stack.extend(items);
            }
            Value::Object(o) => stack.extend(o.values()),
            _ => {}
        }
    }
    n
}

/// Reads a PatchOp request body.
pub fn parse(body: &Value) -> Result<Vec<Operation>, PatchError> {
    let schemas = get_ci(body, "schemas").and_then(Value::as_array);
    let is_patch = schemas.is_some_and(|s| {
        s.iter().any(|v| {
            v.as_str()
                .is_some_and(|u| u.eq_ignore_ascii_case(super::PATCH_OP))
        })
    });
    if !is_patch {
        return Err(PatchError::Syntax(format!(
            "a PATCH body names the schema {}",
            super::PATCH_OP
        )));
    }
    let ops = get_ci(body, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| PatchError::Syntax("a PATCH body has an 'Operations' list".into()))?;
    if ops.len() > MAX_OPERATIONS {
        return Err(PatchError::TooMany(format!(
            "at most {MAX_OPERATIONS} operations in one PATCH"
        )));
    }
    let values: usize = ops
        .iter()
        .map(|o| get_ci(o, "value").map_or(0, |v| list_elements(v, MAX_VALUES)))
        .sum();
    if values > MAX_VALUES {
        return Err(PatchError::TooMany(format!(
            "at most {MAX_VALUES} values in one PATCH's operations"
        )));
    }
    ops.iter()
        .enumerate()
        .map(|(i, o)| {
            let op = match get_ci(o, "op")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
            {
                Some(s) if s == "add" => Op::Add,
                Some(s) if s == "remove" => Op::Remove,
                Some(s) if s == "replace" => Op::Replace,
                other => {
                    return Err(PatchError::Syntax(format!(
                        "Operations[{i}].op is {}: it must be add, remove or replace",
                        other.map_or("missing".to_string(), |s| format!("'{s}'"))
                    )));
                }
            };
            let target = match get_ci(o, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) => Some(Target::parse(p)?),
                Some(_) => {
                    return Err(PatchError::Path(format!(
                        "Operations[{i}].path is not a string"
                    )));
                }
            };
            let value = get_ci(o, "value").filter(|v| !v.is_null()).cloned();
            match (op, &target, &value) {
                (Op::Remove, None, _) => Err(PatchError::NoTarget(format!(
                    "Operations[{i}]: a remove needs a path"
                ))),
                (Op::Add | Op::Replace, None, Some(v)) if !v.is_object() => {
                    Err(PatchError::Value(format!(
                        "Operations[{i}]: without a path, the value is an object of attributes"
                    )))
                }
                (Op::Add | Op::Replace, _, None) => Err(PatchError::Value(format!(
                    "Operations[{i}]: {} needs a value",
                    if op == Op::Add { "add" } else { "replace" }
                ))),
                _ => Ok(Operation { op, target, value }),
            }
        })
        .collect()
}

/// Applies `ops` in order to `resource`. `multi(name)` says whether the
/// top-level attribute `name` is multi-valued (`emails`, `members`).
pub fn apply(
    resource: &mut Value,
    ops: &[Operation],
    multi: &dyn Fn(&str) -> bool,
) -> Result<(), PatchError> {
    for o in ops {
        match &o.target {
            None => {
                let Some(Value::Object(fields)) = &o.value else {
                    return Err(PatchError::Value("the value is not an object".into()));
                };
                for (key, v) in fields {
                    let target = Target::parse(key)?;
                    let Target::Attr(path) = target else {
                        return Err(PatchError::Path(format!("'{key}' is not an attribute")));
                    };
                    if let Some(ext) = extension_named(resource, &path).filter(|_| v.is_object()) {
                        // `"urn:...:User": {...}`: the extension's attributes.
                        let ext = object_at(resource, &ext);
                        merge(ext, v, o.op == Op::Replace);
                        continue;
                    }
                    set(resource, &path, v.clone(), o.op, multi)?;
                }
            }
            Some(Target::Attr(path)) => match o.op {
                Op::Remove => match extension_named(resource, path) {
                    // The whole extension: every attribute of it.
                    Some(ext) => {
                        if let Some(obj) = resource.as_object_mut() {
                            obj.retain(|k, _| !k.eq_ignore_ascii_case(&ext));
                        }
                    }
                    None => remove(resource, path, o.value.as_ref(), multi)?,
                },
                _ => {
                    let v = o.value.clone().unwrap_or(Value::Null);
                    if let Some(ext) = extension_named(resource, path) {
                        let ext = object_at(resource, &ext);
                        merge(ext, &v, o.op == Op::Replace);
                    } else {
                        set(resource, path, v, o.op, multi)?;
                    }
                }
            },
            Some(Target::Selected { attr, filter, sub }) => {
                selected(resource, attr, filter, sub.as_deref(), o, multi)?;
            }
        }
    }
    Ok(())
}

/// The extension schema a path names as a whole (`urn:...:2.0:User`, read by
/// the parser as attribute `User` of `urn:...:2.0`): one the resource lists in
/// its `schemas`, other than its core schema.
fn extension_named(resource: &Value, path: &AttrPath) -> Option<String> {
    let full = match (&path.urn, &path.sub) {
        (Some(urn), None) => format!("{urn}:{}", path.name),
        _ => return None,
    };
    let listed = get_ci(resource, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.iter()
                .filter_map(Value::as_str)
                .any(|x| x.eq_ignore_ascii_case(&full))
        });
    (listed && !is_core(resource, &full)).then_some(full)
}

/// The object that holds `path`'s attribute: the resource, or its extension's
/// object (made when missing).
fn holder<'a>(resource: &'a mut Value, path: &AttrPath) -> &'a mut Value {
    match &path.urn {
        Some(urn) if !is_core(resource, urn) => object_at(resource, urn),
        _ => resource,
    }
}

/// Whether `urn` is one of the resource's own (core) schemas.
fn is_core(resource: &Value, urn: &str) -> bool {
    get_ci(resource, "schemas")
        .and_then(Value::as_array)
        .and_then(|s| s.first())
        .and_then(Value::as_str)
        .is_some_and(|core| core.eq_ignore_ascii_case(urn))
}

/// The object member `key` (matched without case), made when missing or not an object.
fn object_at<'a>(v: &'a mut Value, key: &str) -> &'a mut Value {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    let Value::Object(obj) = v else {
        unreachable!("made an object above")
    };
    let name = obj
        .keys()
        .find(|k| k.eq_ignore_ascii_case(key))
        .cloned()
        .unwrap_or_else(|| key.to_string());
    let slot = obj.entry(name).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot
}

/// The member slot for `key` in object `v` (matched without case), made null when missing.
fn slot<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    let obj = v.as_object_mut()?;
    let name = obj
        .keys()
        .find(|k| k.eq_ignore_ascii_case(key))
        .cloned()
        .unwrap_or_else(|| key.to_string());
    Some(obj.entry(name).or_insert(Value::Null))
}

fn merge(into: &mut Value, from: &Value, replace: bool) {
    let (Value::Object(dst), Value::Object(src)) = (into, from) else {
        return;
    };
    for (k, v) in src {
        let name = dst
            .keys()
            .find(|x| x.eq_ignore_ascii_case(k))
            .cloned()
            .unwrap_or_else(|| k.clone());
        match dst.get_mut(&name) {
            Some(existing) if !replace && existing.is_object() && v.is_object() => {
                merge(existing, v, false)
            }
            _ => {
                dst.insert(name, v.clone());
            }
        }
    }
}

fn set(
    resource: &mut Value,
    path: &AttrPath,
    value: Value,
    op: Op,
    multi: &dyn Fn(&str) -> bool,
) -> Result<(), PatchError> {
    let is_multi = multi(&path.name);
    let holder = holder(resource, path);
    let Some(top) = slot(holder, &path.name) else {
        return Err(PatchError::Path(format!(
            "'{}' cannot be set",
            path.dotted()
        )));
    };
    match &path.sub {
        Some(sub) => {
            if is_multi {
                // `emails.value` without a filter: every element.
                let Value::Array(items) = top else {
                    return Err(PatchError::NoTarget(format!(
                        "'{}' has no elements",
                        path.dotted()
                    )));
                };
                for item in items.iter_mut() {
                    if let Some(s) = slot(item, sub) {
                        *s = value.clone();
                    }
                }
            } else {
                if !top.is_object() {
                    *top = Value::Object(Map::new());
                }
                if let Some(s) = slot(top, sub) {
                    *s = value;
                }
            }
        }
        None if is_multi => {
            let new: Vec<Value> = match value {
                Value::Array(a) => a,
                v => vec![v],
            };
            match (op, &mut *top) {
                (Op::Add, Value::Array(items)) => {
                    let mut have: std::collections::HashSet<String> =
                        items.iter().map(element_key).collect();
                    for v in new {
                        if have.insert(element_key(&v)) {
                            items.push(v);
                        }
                    }
                }
                _ => *top = Value::Array(new),
            }
        }
        None => match (op, &mut *top, value) {
            (Op::Add, existing @ Value::Object(_), v @ Value::Object(_)) => {
                merge(existing, &v, false)
            }
            (_, top, v) => *top = v,
        },
    }
    Ok(())
}

/// Two elements of a multi-valued attribute are the same when their `value`s
/// are (or, without one, when they are equal).
/// What makes an element of a multi-valued attribute the same as another: its
/// `value` when it has one, else all of it. Kept in sets, so that adding or
/// removing many elements is not a comparison of each against each.
fn element_key(v: &Value) -> String {
    match get_ci(v, "value") {
        Some(x) => format!("v{x}"),
        None => format!("e{v}"),
    }
}

fn remove(
    resource: &mut Value,
    path: &AttrPath,
    value: Option<&Value>,
    multi: &dyn Fn(&str) -> bool,
) -> Result<(), PatchError> {
    let is_multi = multi(&path.name);
    let holder = holder(resource, path);
    let Some(obj) = holder.as_object_mut() else {
        return Ok(());
    };
    let Some(name) = obj
        .keys()
        .find(|k| k.eq_ignore_ascii_case(&path.name))
        .cloned()
    else {
        return Ok(());
    };
    match (&path.sub, value) {
        // Entra: remove the elements whose values are listed.
        (None, Some(v)) if is_multi => {
            let gone: Vec<Value> = match v {
                Value::Array(a) => a.clone(),
                v => vec![v.clone()],
            };
            let gone: std::collections::HashSet<String> = gone.iter().map(element_key).collect();
            if let Some(Value::Array(items)) = obj.get_mut(&name) {
                items.retain(|x| !gone.contains(&element_key(x)));
            }
        }
        (None, _) => {
            obj.remove(&name);
        }
        (Some(sub), _) => match obj.get_mut(&name) {
            Some(Value::Array(items)) => {
                for item in items.iter_mut() {
                    if let Some(o) = item.as_object_mut() {
                        o.retain(|k, _| !k.eq_ignore_ascii_case(sub));
                    }
                }
            }
            Some(Value::Object(o)) => o.retain(|k, _| !k.eq_ignore_ascii_case(sub)),
            _ => {}
        },
    }
    Ok(())
}

fn selected(
    resource: &mut Value,
    attr: &AttrPath,
    filter: &Filter,
    sub: Option<&str>,
    o: &Operation,
    multi: &dyn Fn(&str) -> bool,
) -> Result<(), PatchError> {
    if !multi(&attr.name) {
        return Err(PatchError::Path(format!(
            "'{}' has one value: it takes no value filter",
            attr.name
        )));
    }
    let parent = attr.name.clone();
    // Inside a value filter, strings compare without case but for `value`
    // of references (ids), which the door compares exactly anyway.
    let exact = |p: &str| p.eq_ignore_ascii_case(&format!("{parent}.value"));
    let holder = holder(resource, attr);
    let Some(top) = slot(holder, &attr.name) else {
        return Err(PatchError::Path(format!(
            "'{}' cannot be changed",
            attr.name
        )));
    };
    if !top.is_array() {
        *top = Value::Array(Vec::new());
    }
    let Value::Array(items) = top else {
        unreachable!("made an array above")
    };
    let hits: Vec<usize> = (0..items.len())
        .filter(|&i| filter.matches(&items[i], &|p| exact(&format!("{parent}.{p}"))))
        .collect();
    match o.op {
        Op::Remove => {
            if hits.is_empty() {
                // Removing what is not there leaves the resource as it is
                // (an IdP retrying a removal must not fail).
                return Ok(());
            }
            match sub {
                None => {
                    let hits: std::collections::HashSet<usize> = hits.into_iter().collect();
                    let mut i = 0;
                    items.retain(|_| {
                        let keep = !hits.contains(&i);
                        i += 1;
                        keep
                    });
                }
                Some(s) => {
                    for &i in &hits {
                        if let Some(obj) = items[i].as_object_mut() {
                            obj.retain(|k, _| !k.eq_ignore_ascii_case(s));
                        }
                    }
                }
            }
        }
        Op::Add | Op::Replace => {
            let value = o.value.clone().unwrap_or(Value::Null);
            if hits.is_empty() {
                // `emails[type eq "work"].value` on a user without a work
                // address: the element is made, with the type the filter names.
                if let (Some(s), Filter::Compare(p, super::filter::CompareOp::Eq, want)) =
                    (sub, filter)
                {
                    let mut obj = Map::new();
                    obj.insert(p.name.clone(), want.clone());
                    obj.insert(s.to_string(), value);
                    items.push(Value::Object(obj));
                    return Ok(());
                }
                return Err(PatchError::NoTarget(format!(
                    "no element of '{}' matches the path's filter",
                    attr.name
                )));
            }
            for &i in &hits {
                match sub {
                    Some(s) => {
                        if let Some(slot) = slot(&mut items[i], s) {
                            *slot = value.clone();
                        }
                    }
                    None if o.op == Op::Replace => items[i] = value.clone(),
                    None => merge(&mut items[i], &value, false),
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn multi(name: &str) -> bool {
        ["emails", "members", "groups"]
            .iter()
            .any(|m| m.eq_ignore_ascii_case(name))
    }

    fn patch(resource: Value, ops: Value) -> Result<Value, PatchError> {
        let body = json!({"schemas": [super::super::PATCH_OP], "Operations": ops});
        let ops = parse(&body)?;
        let mut r = resource;
        apply(&mut r, &ops, &multi)?;
        Ok(r)
    }

    fn group() -> Value {
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "7",
               "displayName": "Team", "members": [{"value": "1"}, {"value": "2"}]})
    }

    fn values(r: &Value) -> Vec<&str> {
        r["members"]
            .as_array()
            .map(|a| a.iter().filter_map(|m| m["value"].as_str()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn okta_group_push() {
        // Rename without a path, carrying id and displayName.
        let r = patch(
            group(),
            json!([{"op": "replace", "value": {"id": "7", "displayName": "Team 2"}}]),
        )
        .unwrap();
        assert_eq!(
            (r["displayName"].as_str(), r["id"].as_str()),
            (Some("Team 2"), Some("7"))
        );
        assert_eq!(values(&r), ["1", "2"], "members untouched");
        // Remove one by filter and add one, in one request.
        let r = patch(
            group(),
            json!([{"op": "remove", "path": "members[value eq \"2\"]"},
                   {"op": "add", "path": "members", "value": [{"value": "3", "display": "c"}]}]),
        )
        .unwrap();
        assert_eq!(values(&r), ["1", "3"]);
        // Adding a member already there keeps one.
        let r = patch(
            group(),
            json!([{"op": "add", "path": "members", "value": [{"value": "1"}]}]),
        )
        .unwrap();
        assert_eq!(values(&r), ["1", "2"]);
        // A full push replaces the list; an empty one empties the group.
        let r = patch(
            group(),
            json!([{"op": "replace", "path": "members", "value": []}]),
        )
        .unwrap();
        assert!(values(&r).is_empty());
    }

    #[test]
    fn too_many_values_are_refused_before_any_work() {
        let many: Vec<Value> = (0..MAX_VALUES + 1)
            .map(|i| json!({"value": i.to_string()}))
            .collect();
        let body = json!({"schemas": [super::super::PATCH_OP],
            "Operations": [{"op": "add", "path": "members", "value": many}]});
        assert!(matches!(parse(&body), Err(PatchError::TooMany(_))));
        let nested: Vec<Value> = (0..MAX_VALUES)
            .map(|i| json!({"value": i.to_string()}))
            .collect();
        let body = json!({"schemas": [super::super::PATCH_OP],
            "Operations": [{"op": "replace", "value": {"members": nested}},
                           {"op": "add", "path": "members", "value": [{"value": "x"}]}]});
        assert!(matches!(parse(&body), Err(PatchError::TooMany(_))));
        // Many elements added to many: sets, not each against each.
        let ops = parse(&json!({"schemas": [super::super::PATCH_OP],
            "Operations": [{"op": "add", "path": "members",
                "value": (0..2000).map(|i| json!({"value": i.to_string()})).collect::<Vec<_>>()}]}))
        .unwrap();
        let mut g = json!({"schemas": ["s"], "members": (1000..50_000).map(|i| json!({"value": i.to_string()})).collect::<Vec<_>>()});
        apply(&mut g, &ops, &|n| n == "members").unwrap();
        assert_eq!(g["members"].as_array().unwrap().len(), 50_000);
    }

    #[test]
    fn a_whole_extension_is_added_replaced_and_removed() {
        let ext = "urn:groupd:params:scim:schemas:extension:2.0:Group";
        let resource = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", ext],
                              "displayName": "T", (ext): {"slug": "t", "pinned": true}});
        let r = patch(
            resource.clone(),
            json!([{"op": "add", "path": ext, "value": {"description": "d"}}]),
        )
        .unwrap();
        assert_eq!(
            r[ext],
            json!({"slug": "t", "pinned": true, "description": "d"})
        );
        let r = patch(
            resource.clone(),
            json!([{"op": "replace", "path": ext, "value": {"secret": true}}]),
        )
        .unwrap();
        assert_eq!(r[ext], json!({"slug": "t", "pinned": true, "secret": true}));
        let r = patch(
            resource.clone(),
            json!([{"op": "replace", "value": {(ext): {"slug": "u"}}}]),
        )
        .unwrap();
        assert_eq!(r[ext]["slug"], "u");
        let r = patch(resource, json!([{"op": "remove", "path": ext}])).unwrap();
        assert!(r.get(ext).is_none() && r["displayName"] == "T");
    }

    #[test]
    fn entra_group_and_user_changes() {
        // Capitalised op names; removal by a list of values.
        let r = patch(
            group(),
            json!([{"op": "Add", "path": "members", "value": [{"value": "9"}]},
                   {"op": "Remove", "path": "members", "value": [{"value": "1"}, {"value": "404"}]},
                   {"op": "Replace", "path": "displayName", "value": "Renamed"}]),
        )
        .unwrap();
        assert_eq!(values(&r), ["2", "9"]);
        assert_eq!(r["displayName"], "Renamed");
        // Removing a member that is not there changes nothing.
        let r = patch(
            group(),
            json!([{"op": "remove", "path": "members[value eq \"404\"]"}]),
        )
        .unwrap();
        assert_eq!(values(&r), ["1", "2"]);
        let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                          "userName": "a", "active": true,
                          "emails": [{"type": "home", "value": "a@home"}]});
        let r = patch(
            user,
            json!([{"op": "Replace", "path": "active", "value": "False"},
                   {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "a@work"},
                   {"op": "replace", "value": {"name.givenName": "Ada",
                       "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "7"}}]),
        )
        .unwrap();
        assert_eq!(
            r["active"], "False",
            "the door reads booleans as strings too"
        );
        assert_eq!(r["emails"][1], json!({"type": "work", "value": "a@work"}));
        assert_eq!(r["name"]["givenName"], "Ada");
        assert_eq!(
            r["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"],
            "7"
        );
        // Replacing a filtered sub-attribute that exists changes only it.
        let r = patch(
            r,
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "b@work"}]),
        )
        .unwrap();
        assert_eq!(r["emails"][1]["value"], "b@work");
        assert_eq!(r["emails"][0]["value"], "a@home");
    }

    #[test]
    fn bad_patches_say_which_scim_type() {
        let g = group;
        assert!(matches!(
            parse(&json!({"Operations": []})),
            Err(PatchError::Syntax(_))
        ));
        assert!(matches!(
            patch(g(), json!([{"op": "move", "path": "x"}])),
            Err(PatchError::Syntax(_))
        ));
        assert!(matches!(
            patch(g(), json!([{"op": "remove"}])),
            Err(PatchError::NoTarget(_))
        ));
        assert!(matches!(
            patch(
                g(),
                json!([{"op": "replace", "path": "members[value eq \"x\"]", "value": {"value": "y"}}])
            ),
            Err(PatchError::NoTarget(_))
        ));
        assert!(matches!(
            patch(g(), json!([{"op": "add", "path": "members[value eq"}])),
            Err(PatchError::Path(_))
        ));
        assert!(matches!(
            patch(g(), json!([{"op": "replace", "value": "not an object"}])),
            Err(PatchError::Value(_))
        ));
        assert!(matches!(
            patch(g(), json!([{"op": "add", "path": "displayName"}])),
            Err(PatchError::Value(_))
        ));
        assert!(matches!(
            patch(
                g(),
                json!([{"op": "replace", "path": "displayName[value eq \"x\"]", "value": "y"}])
            ),
            Err(PatchError::Path(_))
        ));
        let many: Vec<Value> = (0..=MAX_OPERATIONS)
            .map(|i| json!({"op": "add", "path": "members", "value": [{"value": i.to_string()}]}))
            .collect();
        assert!(matches!(
            patch(g(), Value::Array(many)),
            Err(PatchError::TooMany(_))
        ));
    }
}
