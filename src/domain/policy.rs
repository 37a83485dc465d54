//! Per-group permissions and limits (what ActiveCampaign calls a user group's
//! settings): named permissions, usage limits, forced unsubscribe links, the abuse
//! ratio threshold, and the mailing lists and sending methods the group may use.

use super::error::ValidationErrors;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// Every permission a group can hold. ActiveCampaign names them `pg_<name>`.
pub const PERMISSIONS: [&str; 32] = [
    "automation_manage",
    "form_edit",
    "list_add",
    "list_bounce",
    "list_delete",
    "list_edit",
    "list_emailaccount",
    "list_headers",
    "message_add",
    "message_delete",
    "message_edit",
    "message_send",
    "reports_campaign",
    "reports_list",
    "reports_user",
    "reports_trend",
    "reports_deal",
    "subscriber_add",
    "subscriber_approve",
    "subscriber_delete",
    "subscriber_edit",
    "subscriber_export",
    "subscriber_fields",
    "subscriber_filters",
    "subscriber_import",
    "subscriber_sync",
    "template_add",
    "template_delete",
    "template_edit",
    "user_add",
    "user_delete",
    "user_edit",
];

pub const DEFAULT_ABUSE_RATIO: u8 = 4;
/// The largest amount a limit may have.
pub const LIMIT_MAX: i64 = 1_000_000_000_000;
/// The most list or sending-method ids one group may carry.
pub const IDS_MAX: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    Attachment,
    Campaign,
    List,
    Mail,
    Subscriber,
    User,
}

impl LimitKind {
    pub const ALL: [LimitKind; 6] = [
        LimitKind::Attachment,
        LimitKind::Campaign,
        LimitKind::List,
        LimitKind::Mail,
        LimitKind::Subscriber,
        LimitKind::User,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            LimitKind::Attachment => "attachment",
            LimitKind::Campaign => "campaign",
            LimitKind::List => "list",
            LimitKind::Mail => "mail",
            LimitKind::Subscriber => "subscriber",
            LimitKind::User => "user",
        }
    }

    /// Campaign and mail limits count per period.
    pub fn has_period(&self) -> bool {
        matches!(self, LimitKind::Campaign | LimitKind::Mail)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Day,
    Week,
    Month,
    Month1st,
    MonthCdate,
    Year,
    Ever,
}

impl Period {
    pub const ALL: [Period; 7] = [
        Period::Day,
        Period::Week,
        Period::Month,
        Period::Month1st,
        Period::MonthCdate,
        Period::Year,
        Period::Ever,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::Month1st => "month1st",
            Period::MonthCdate => "monthcdate",
            Period::Year => "year",
            Period::Ever => "ever",
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Period {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Period::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                "must be one of day, week, month, month1st, monthcdate, year, ever".to_string()
            })
    }
}

/// One limit: at most `amount`, per `period` for campaign and mail limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    pub amount: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
}

/// A group's permissions and limits. A limit that is absent means "no limit".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupPolicy {
    pub permissions: BTreeSet<String>,
    pub limits: BTreeMap<LimitKind, Limit>,
    pub unsubscribe_link: bool,
    pub abuse_ratio: u8,
    pub lists: Vec<i64>,
    pub send_methods: Vec<i64>,
}

impl Default for GroupPolicy {
    fn default() -> Self {
        GroupPolicy {
            permissions: BTreeSet::new(),
            limits: BTreeMap::new(),
            unsubscribe_link: false,
            abuse_ratio: DEFAULT_ABUSE_RATIO,
            lists: Vec::new(),
            send_methods: Vec::new(),
        }
    }
}

/// Changes to a policy; what is absent stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyPatch {
    pub permissions: Vec<(String, bool)>,
    /// `None` removes the limit.
    pub limits: Vec<(LimitKind, Option<Limit>)>,
    pub unsubscribe_link: Option<bool>,
    pub abuse_ratio: Option<i64>,
    pub lists: Option<Vec<i64>>,
    pub send_methods: Option<Vec<i64>>,
}

impl PolicyPatch {
    pub fn is_empty(&self) -> bool {
        *self == PolicyPatch::default()
    }

    /// Checks the values. Field names in errors: `permissions.<name>`,
    /// `limit_<kind>`, `abuse_ratio`, `lists`, `send_methods`.
    pub fn validate(&self, errors: &mut ValidationErrors) {
        for (name, _) in &self.permissions {
            if !PERMISSIONS.contains(&name.as_str()) {
                errors.push(format!("permissions.{name}"), "is not a known permission");
            }
        }
        for (kind, limit) in &self.limits {
            if let Some(l) = limit {
                if !(0..=LIMIT_MAX).contains(&l.amount) {
                    errors.push(
                        format!("limit_{}", kind.as_str()),
                        format!("must be a whole number from 0 to {LIMIT_MAX}"),
                    );
                }
                if kind.has_period() != l.period.is_some() {
                    errors.push(
                        format!("limit_{}_type", kind.as_str()),
                        if kind.has_period() {
                            "is required for this limit"
                        } else {
                            "this limit has no period"
                        },
                    );
                }
            }
        }
        if let Some(r) = self.abuse_ratio {
            if !(0..=100).contains(&r) {
                errors.push("abuse_ratio", "must be a whole percentage from 0 to 100");
            }
        }
        for (field, ids) in [("lists", &self.lists), ("send_methods", &self.send_methods)] {
            if let Some(ids) = ids {
                if ids.iter().any(|&id| id < 1) {
                    errors.push(field, "must be positive whole numbers");
                } else if ids.len() > IDS_MAX {
                    errors.push(field, format!("at most {IDS_MAX} ids"));
                }
            }
        }
    }
}

fn sorted_unique(ids: &[i64]) -> Vec<i64> {
    let set: BTreeSet<i64> = ids.iter().copied().collect();
    set.into_iter().collect()
}

impl GroupPolicy {
    /// Applies a validated patch.
    pub fn apply(&mut self, patch: &PolicyPatch) {
        for (name, on) in &patch.permissions {
            if *on {
                self.permissions.insert(name.clone());
            } else {
                self.permissions.remove(name);
            }
        }
        for (kind, limit) in &patch.limits {
            match limit {
                Some(l) => {
                    self.limits.insert(*kind, *l);
                }
                None => {
                    self.limits.remove(kind);
                }
            }
        }
        if let Some(u) = patch.unsubscribe_link {
            self.unsubscribe_link = u;
        }
        if let Some(r) = patch.abuse_ratio {
            self.abuse_ratio = r.clamp(0, 100) as u8;
        }
        if let Some(l) = &patch.lists {
            self.lists = sorted_unique(l);
        }
        if let Some(s) = &patch.send_methods {
            self.send_methods = sorted_unique(s);
        }
    }

    pub fn has(&self, permission: &str) -> bool {
        self.permissions.contains(permission)
    }

    /// The most members the group may have, when limited.
    pub fn member_limit(&self) -> Option<i64> {
        self.limits.get(&LimitKind::User).map(|l| l.amount)
    }

    /// Whether `adding` more members fit beside `count` under `limit_user`; when
    /// not, the limit and the room left.
    pub fn room_for(&self, count: i64, adding: usize) -> Result<(), (i64, i64)> {
        match self.member_limit() {
            Some(limit) if count + adding as i64 > limit => Err((limit, (limit - count).max(0))),
            _ => Ok(()),
        }
    }

    /// All permissions on (the administrators' group).
    pub fn all_permissions() -> GroupPolicy {
        GroupPolicy {
            permissions: PERMISSIONS.iter().map(|p| p.to_string()).collect(),
            ..GroupPolicy::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_apply_and_validate() {
        let mut p = GroupPolicy::default();
        let patch = PolicyPatch {
            permissions: vec![("list_add".into(), true), ("user_edit".into(), true)],
            limits: vec![(
                LimitKind::Mail,
                Some(Limit {
                    amount: 67,
                    period: Some(Period::Month),
                }),
            )],
            lists: Some(vec![3, 1, 3]),
            ..Default::default()
        };
        let mut e = ValidationErrors::new();
        patch.validate(&mut e);
        assert!(e.is_empty());
        p.apply(&patch);
        assert!(p.has("list_add"));
        assert_eq!(p.lists, vec![1, 3]);
        p.apply(&PolicyPatch {
            permissions: vec![("list_add".into(), false)],
            limits: vec![(LimitKind::Mail, None)],
            ..Default::default()
        });
        assert!(!p.has("list_add") && p.has("user_edit") && p.limits.is_empty());

        let bad = PolicyPatch {
            permissions: vec![("fly".into(), true)],
            limits: vec![
                (
                    LimitKind::User,
                    Some(Limit {
                        amount: -1,
                        period: None,
                    }),
                ),
                (
                    LimitKind::Campaign,
                    Some(Limit {
                        amount: 1,
                        period: None,
                    }),
                ),
            ],
            abuse_ratio: Some(101),
            send_methods: Some(vec![0]),
            ..Default::default()
        };
        let mut e = ValidationErrors::new();
        bad.validate(&mut e);
        let names: Vec<&str> = e.fields().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            names,
            [
                "permissions.fly",
                "limit_user",
                "limit_campaign_type",
                "abuse_ratio",
                "send_methods"
            ]
        );
    }

    #[test]
    fn policy_json_is_stable() {
        let mut p = GroupPolicy::all_permissions();
        p.limits.insert(
            LimitKind::User,
            Limit {
                amount: 12,
                period: None,
            },
        );
        let json = serde_json::to_string(&p).unwrap();
        let back: GroupPolicy = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        assert!(
            json.contains(r#""limits":{"user":{"amount":12}}"#),
            "{json}"
        );
    }
}
