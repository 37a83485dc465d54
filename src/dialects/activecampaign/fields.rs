//! ActiveCampaign's group fields: decoding requests into drafts, and groups into
//! the rows `group_view` and `group_list` answer.
//!
//! Mapping: title = name, descript = description, pg_<p> = permission <p>,
//! group_limit_<k>_checkbox + limit_<k> (+ limit_<k>_type) = limit <k>,
//! unsubscribelink, abuseratio, lists[] and sendmethods[] = the group's policy.

use super::Request;
use super::answer::Failure;
use crate::domain::ValidationErrors;
use crate::domain::group::{Group, GroupDraft, GroupId};
use crate::domain::policy::{Limit, LimitKind, PERMISSIONS, Period};
use crate::wire::php_form::PhpVar;
use crate::wire::value::{Key, Value};
use std::borrow::Cow;
use std::sync::LazyLock;

/// The most ids one call may name.
pub const MAX_IDS: usize = 1000;

/// 1/0, on/off, yes/no, in any case.
fn flag(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "on" | "yes" => Some(true),
        "0" | "off" | "no" => Some(false),
        _ => None,
    }
}

const FLAG_MESSAGE: &str = "must be 1 or 0 (also on/off, yes/no)";

/// A non-negative whole number.
fn amount(raw: &str) -> Option<i64> {
    let t = raw.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

/// Ids from `lists[...]` / `sendmethods[]` values, each possibly comma-separated.
fn ids_of(var: &PhpVar) -> Option<Vec<i64>> {
    let mut ids = Vec::new();
    for s in var.strings() {
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match amount(part) {
                Some(n) if n > 0 => ids.push(n),
                _ => return None,
            }
        }
    }
    Some(ids)
}

/// Decodes a group_add / group_edit request. `editing`: absent limit checkboxes
/// leave limits as they are (on add, an absent checkbox means no limit).
pub fn decode_group(req: &Request) -> GroupDraft {
    let vars = &req.vars;
    let mut draft = GroupDraft {
        name: vars.str("title").map(str::to_string),
        description: vars.str("descript").map(str::to_string),
        ..Default::default()
    };
    let errors = &mut draft.errors;
    let policy = &mut draft.policy;
    for p in PERMISSIONS {
        let field = format!("pg_{p}");
        if let Some(raw) = vars.str(&field) {
            match flag(raw) {
                Some(on) => policy.permissions.push((p.to_string(), on)),
                None => errors.push(field, FLAG_MESSAGE),
            }
        }
    }
    for kind in LimitKind::ALL {
        let k = kind.as_str();
        let checkbox = format!("group_limit_{k}_checkbox");
        let Some(raw) = vars.str(&checkbox) else {
            continue; // unchecked: no limit on add, unchanged on edit
        };
        match flag(raw) {
            None => errors.push(checkbox, "must be on or off"),
            Some(false) => policy.limits.push((kind, None)),
            Some(true) => {
                let number_field = format!("limit_{k}");
                let Some(n) = vars.str(&number_field).and_then(amount) else {
                    errors.push(
                        number_field,
                        "must be a non-negative whole number when the limit is checked",
                    );
                    continue;
                };
                let period = if kind.has_period() {
                    let type_field = format!("limit_{k}_type");
                    match vars.str(&type_field).map(str::trim) {
                        None | Some("") => Some(Period::Month),
                        Some(t) => match t.parse::<Period>() {
                            Ok(p) => Some(p),
                            Err(msg) => {
                                errors.push(type_field, msg);
                                continue;
                            }
                        },
                    }
                } else {
                    None
                };
                policy
                    .limits
                    .push((kind, Some(Limit { amount: n, period })));
            }
        }
    }
    if let Some(raw) = vars.str("unsubscribelink") {
        match flag(raw) {
            Some(on) => policy.unsubscribe_link = Some(on),
            None => errors.push("unsubscribe_link", "must be on or off (also 1/0, yes/no)"),
        }
    }
    if let Some(raw) = vars.str("abuseratio") {
        match raw.trim().parse::<i64>() {
            Ok(n) => policy.abuse_ratio = Some(n),
            Err(_) => errors.push("abuse_ratio", "must be a whole percentage from 0 to 100"),
        }
    }
    for (wire, canonical, slot) in [
        ("lists", "lists", &mut policy.lists),
        ("sendmethods", "send_methods", &mut policy.send_methods),
    ] {
        if let Some(var) = vars.get(wire) {
            match ids_of(var) {
                Some(ids) => *slot = Some(ids),
                None => errors.push(canonical, "must be positive whole-number ids"),
            }
        }
    }
    draft
}

/// The required `id` parameter.
pub fn required_id(req: &Request) -> Result<GroupId, Failure> {
    match req.param("id").and_then(amount) {
        Some(n) if n > 0 => Ok(GroupId(n)),
        _ => Err(Failure::invalid(&ValidationErrors::single(
            "id",
            "is required: the id of a group",
        ))),
    }
}

/// The optional `alt` parameter.
pub fn optional_alt(req: &Request) -> Result<Option<GroupId>, Failure> {
    match req.param("alt") {
        None | Some("0") => Ok(None),
        Some(raw) => match amount(raw) {
            Some(n) if n > 0 => Ok(Some(GroupId(n))),
            _ => Err(Failure::invalid(&ValidationErrors::single(
                "alt",
                "must be the id of the group that takes over the members",
            ))),
        },
    }
}

/// The required `ids` parameter: comma-separated group ids, duplicates dropped.
pub fn required_ids(req: &Request) -> Result<Vec<GroupId>, Failure> {
    let bad = |why: &str| Failure::invalid(&ValidationErrors::single("ids", why));
    let raw = req
        .param("ids")
        .ok_or_else(|| bad("is required: comma-separated group ids, e.g. ids=4,5"))?;
    let mut ids = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match amount(part) {
            Some(n) if n > 0 => {
                if !ids.contains(&GroupId(n)) {
                    ids.push(GroupId(n));
                }
            }
            _ => return Err(bad("must be comma-separated group ids, e.g. ids=4,5")),
        }
    }
    if ids.is_empty() {
        return Err(bad("is required: comma-separated group ids, e.g. ids=4,5"));
    }
    if ids.len() > MAX_IDS {
        return Err(bad(&format!("names more than {MAX_IDS} groups")));
    }
    Ok(ids)
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) from Unix seconds.
pub fn datetime(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

fn join(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// `pg_<permission>`, the wire names of the 32 permissions, made once.
static PG_KEYS: LazyLock<Vec<String>> =
    LazyLock::new(|| PERMISSIONS.iter().map(|p| format!("pg_{p}")).collect());

/// A group as ActiveCampaign's `group_view` shows it: values as strings, as they
/// come from its database. Limits not set show ActiveCampaign's "none": 0, or -1
/// for attachments; their periods show `month`.
pub fn group_row(g: &Group) -> Vec<(Key, Value)> {
    let p = &g.policy;
    let limit = |k: LimitKind, none: &'static str| -> Value {
        p.limits
            .get(&k)
            .map_or_else(|| none.into(), |l| l.amount.to_string().into())
    };
    let period = |k: LimitKind| -> Value {
        p.limits
            .get(&k)
            .and_then(|l| l.period)
            .unwrap_or(Period::Month)
            .as_str()
            .into()
    };
    let bit = |b: bool| -> Value { if b { "1" } else { "0" }.into() };
    let mut row: Vec<(Key, Value)> = vec![
        ("limit_mail".into(), limit(LimitKind::Mail, "0")),
        ("limit_mail_type".into(), period(LimitKind::Mail)),
        ("limit_subscriber".into(), limit(LimitKind::Subscriber, "0")),
        ("limit_list".into(), limit(LimitKind::List, "0")),
        ("limit_campaign".into(), limit(LimitKind::Campaign, "0")),
        ("limit_campaign_type".into(), period(LimitKind::Campaign)),
        (
            "limit_attachment".into(),
            limit(LimitKind::Attachment, "-1"),
        ),
        ("limit_user".into(), limit(LimitKind::User, "0")),
        ("abuseratio".into(), p.abuse_ratio.to_string().into()),
        ("forcesenderinfo".into(), "0".into()),
        ("id".into(), g.id.0.to_string().into()),
        ("title".into(), g.name.clone().into()),
        ("descript".into(), g.description.clone().into()),
        ("unsubscribelink".into(), bit(p.unsubscribe_link)),
        ("optinconfirm".into(), "0".into()),
        ("p_admin".into(), bit(g.is_admin_group())),
    ];
    for (perm, key) in PERMISSIONS.iter().zip(PG_KEYS.iter()) {
        row.push((Key::Str(Cow::Borrowed(key.as_str())), bit(p.has(perm))));
    }
    row.push(("sdate".into(), datetime(g.created_at).into()));
    row.push(("lists".into(), join(&p.lists).into()));
    row.push(("sendmethods".into(), join(&p.send_methods).into()));
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_are_utc() {
        assert_eq!(datetime(0), "1970-01-01 00:00:00");
        assert_eq!(datetime(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(datetime(1_795_465_401), "2026-11-23 20:23:21");
    }
}
