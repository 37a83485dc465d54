//! The REST API's JSON shapes (and their OpenAPI schemas), and their mapping to
//! the domain.

use super::error::ApiError;
use crate::domain::ValidationErrors;
use crate::domain::category::Category;
use crate::domain::field::FieldDef;
use crate::domain::group::{Group, GroupDraft};
use crate::domain::policy::{Limit, LimitKind, Period};
use crate::domain::user::{GroupRole, Membership, User, UserDraft};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn double<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct LimitJson {
    /// The most allowed (0 or more).
    #[schema(example = 12, minimum = 0)]
    pub amount: i64,
    /// For `campaign` and `mail` limits: day, week, month, month1st, monthcdate,
    /// year or ever (default month).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "month")]
    pub period: Option<String>,
}

/// A group as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 4, "name": "Night Owls", "slug": "night-owls", "description": "", "category_id": 1,
    "secret": false, "unleavable": false, "pinned": true, "password_protected": false, "has_icon": false,
    "icon_url": "/icons/default.svg", "custom_fields": {"10": "Backend"}, "member_count": 3, "builtin": null,
    "permissions": ["list_add"], "limits": {"user": {"amount": 12}}, "unsubscribe_link": false,
    "abuse_ratio": 4, "lists": [1], "send_methods": [], "created_at": 1795465401, "updated_at": 1795465401}))]
pub struct GroupOut {
    pub id: i64,
    pub name: String,
    pub slug: Option<String>,
    pub description: String,
    pub category_id: i64,
    pub secret: bool,
    pub unleavable: bool,
    pub pinned: bool,
    pub password_protected: bool,
    pub has_icon: bool,
    /// Where the icon is served, with no key needed: `/icons/{token}.png`, a token
    /// that cannot be guessed and changes whenever the icon does, or
    /// `/icons/default.svg` for a group without one.
    pub icon_url: String,
    /// Custom field values by field id.
    pub custom_fields: BTreeMap<String, String>,
    pub member_count: i64,
    /// `visitor`, `user` or `admin` for the built-in groups.
    pub builtin: Option<String>,
    pub permissions: Vec<String>,
    pub limits: BTreeMap<String, LimitJson>,
    pub unsubscribe_link: bool,
    pub abuse_ratio: i64,
    pub lists: Vec<i64>,
    pub send_methods: Vec<i64>,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&Group> for GroupOut {
    fn from(g: &Group) -> GroupOut {
        GroupOut {
            id: g.id.0,
            name: g.name.clone(),
            slug: g.slug.clone(),
            description: g.description.clone(),
            category_id: g.category_id,
            secret: g.secret,
            unleavable: g.unleavable,
            pinned: g.pinned,
            password_protected: g.password_protected(),
            has_icon: g.has_icon(),
            icon_url: g.icon_path(),
            custom_fields: g
                .custom_fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            member_count: g.member_count,
            builtin: g.builtin.map(|b| b.as_str().to_string()),
            permissions: g.policy.permissions.iter().cloned().collect(),
            limits: g
                .policy
                .limits
                .iter()
                .map(|(k, l)| {
                    (
                        k.as_str().to_string(),
                        LimitJson {
                            amount: l.amount,
                            period: l.period.map(|p| p.as_str().to_string()),
                        },
                    )
                })
                .collect(),
            unsubscribe_link: g.policy.unsubscribe_link,
            abuse_ratio: i64::from(g.policy.abuse_ratio),
            lists: g.policy.lists.clone(),
            send_methods: g.policy.send_methods.clone(),
            created_at: g.created_at,
            updated_at: g.updated_at,
        }
    }
}

/// Fields to create or change a group. On create `name` is required; on update
/// every field is optional and only those sent change (`null` clears `slug`,
/// `password`, `icon_url`, a custom field or a limit).
#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Night Owls", "slug": "night-owls", "pinned": true,
    "custom_fields": {"10": "Backend"}, "permissions": {"list_add": true}, "limits": {"user": {"amount": 12}}}))]
pub struct GroupIn {
    pub name: Option<String>,
    pub description: Option<String>,
    pub category_id: Option<i64>,
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub slug: Option<Option<String>>,
    pub secret: Option<bool>,
    pub unleavable: Option<bool>,
    pub pinned: Option<bool>,
    /// Setting a password protects the group; `null` removes the protection.
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub password: Option<Option<String>>,
    /// An http(s) image URL to fetch; `null` removes the icon.
    #[serde(default, deserialize_with = "double")]
    #[schema(value_type = Option<String>)]
    pub icon_url: Option<Option<String>>,
    /// Values by custom field id; `null` removes a value.
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub custom_fields: Option<BTreeMap<String, Option<String>>>,
    /// Permissions to switch on (true) or off (false).
    pub permissions: Option<BTreeMap<String, bool>>,
    /// Limits by kind (attachment, campaign, list, mail, subscriber, user); `null`
    /// removes one.
    #[schema(value_type = Option<BTreeMap<String, LimitJson>>)]
    pub limits: Option<BTreeMap<String, Option<LimitJson>>>,
    pub unsubscribe_link: Option<bool>,
    pub abuse_ratio: Option<i64>,
    pub lists: Option<Vec<i64>>,
    pub send_methods: Option<Vec<i64>>,
}

impl GroupIn {
    pub fn into_draft(self) -> GroupDraft {
        let mut errors = ValidationErrors::new();
        let mut draft = GroupDraft {
            name: self.name,
            description: self.description,
            category_id: self.category_id,
            slug: self.slug.map(|s| s.unwrap_or_default()),
            secret: self.secret,
            unleavable: self.unleavable,
            pinned: self.pinned,
            icon_url: self.icon_url.map(|u| u.unwrap_or_default()),
            ..Default::default()
        };
        match self.password {
            None => {}
            Some(None) => draft.password_protect = Some(false),
            Some(Some(p)) => {
                draft.password_protect = Some(true);
                draft.password = Some(p);
            }
        }
        for (k, v) in self.custom_fields.unwrap_or_default() {
            match k.parse::<i64>() {
                Ok(id) if id > 0 => draft.custom_fields.push((id, v.unwrap_or_default())),
                _ => errors.push(format!("custom_fields.{k}"), "keys are custom field ids"),
            }
        }
        for (name, on) in self.permissions.unwrap_or_default() {
            draft.policy.permissions.push((name, on));
        }
        for (kind, limit) in self.limits.unwrap_or_default() {
            let Some(k) = LimitKind::ALL.into_iter().find(|k| k.as_str() == kind) else {
                errors.push(
                    format!("limits.{kind}"),
                    "is not a limit: attachment, campaign, list, mail, subscriber or user",
                );
                continue;
            };
            match limit {
                None => draft.policy.limits.push((k, None)),
                Some(l) => {
                    let period = match (k.has_period(), l.period.as_deref()) {
                        (true, None) => Some(Period::Month),
                        (true, Some(p)) => match p.parse::<Period>() {
                            Ok(p) => Some(p),
                            Err(m) => {
                                errors.push(format!("limit_{kind}_type"), m);
                                continue;
                            }
                        },
                        (false, None) => None,
                        (false, Some(_)) => {
                            errors.push(format!("limit_{kind}_type"), "this limit has no period");
                            continue;
                        }
                    };
                    draft.policy.limits.push((
                        k,
                        Some(Limit {
                            amount: l.amount,
                            period,
                        }),
                    ));
                }
            }
        }
        draft.policy.unsubscribe_link = self.unsubscribe_link;
        draft.policy.abuse_ratio = self.abuse_ratio;
        draft.policy.lists = self.lists;
        draft.policy.send_methods = self.send_methods;
        draft.errors = errors;
        draft
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupPage {
    pub items: Vec<GroupOut>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A user as the API shows it (never the password).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 1, "full_name": "Ada Lovelace", "username": "ada", "email": "ada@example.org",
    "active": true, "external_id": null, "created_at": 1795465401, "updated_at": 1795465401}))]
pub struct UserOut {
    pub id: i64,
    pub full_name: String,
    pub username: String,
    /// Empty for a user without an email address (an identity provider may
    /// provision one with a user name alone).
    pub email: String,
    /// A deactivated user keeps their groups but joins no more and cannot sign in.
    pub active: bool,
    /// The identity provider's id for the user (SCIM `externalId`).
    pub external_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&User> for UserOut {
    fn from(u: &User) -> UserOut {
        UserOut {
            id: u.id.0,
            full_name: u.full_name.clone(),
            username: u.username.clone(),
            email: u.email.clone(),
            active: u.active,
            external_id: u.external_id.clone(),
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// A user to create (all required) or change (only what is sent).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"full_name": "Ada Lovelace", "username": "ada", "email": "ada@example.org", "password": "s3cret-pass"}))]
pub struct UserIn {
    pub full_name: Option<String>,
    pub username: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
}

impl UserIn {
    pub fn into_draft(self) -> UserDraft {
        UserDraft {
            full_name: self.full_name,
            username: self.username,
            email: self.email,
            password: self.password,
            ..Default::default()
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserOut>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberOut {
    pub user: UserOut,
    /// member, moderator or admin.
    #[schema(example = "member")]
    pub role: String,
    pub joined_at: i64,
}

impl From<&Membership> for MemberOut {
    fn from(m: &Membership) -> MemberOut {
        MemberOut {
            user: UserOut::from(&m.user),
            role: m.role.as_str().to_string(),
            joined_at: m.joined_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberPage {
    pub items: Vec<MemberOut>,
    pub next_cursor: Option<String>,
}

/// An administrative add: `user` by id, username or email.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"user": "ada", "role": "moderator"}))]
pub struct MemberIn {
    pub user: String,
    /// member (default), moderator or admin.
    pub role: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberAdded {
    pub group_id: i64,
    pub user: UserOut,
    /// Whether the user was not a member before.
    pub added: bool,
}

/// Up to 1000 users (id, username or email) to add or remove, all or none.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"users": ["ada", "grace@example.org", "7"], "role": "member"}))]
pub struct BulkIn {
    pub users: Vec<String>,
    /// For bulk-add: member (default), moderator or admin.
    pub role: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkOut {
    /// How many memberships were made or removed.
    pub changed: u64,
}

/// A group as one user sees it, with their role when they are a member.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserGroupOut {
    pub group: GroupOut,
    pub role: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserGroupPage {
    pub items: Vec<UserGroupOut>,
    pub next_cursor: Option<String>,
}

/// A join on the user's behalf; `password` for password-protected groups.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"group": "night-owls", "password": "hunter2"}))]
pub struct JoinIn {
    pub group: String,
    pub password: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": 2, "name": "Sports"}))]
pub struct CategoryOut {
    pub id: i64,
    pub name: String,
}

impl From<&Category> for CategoryOut {
    fn from(c: &Category) -> CategoryOut {
        CategoryOut {
            id: c.id,
            name: c.name.clone(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Sports"}))]
pub struct CategoryIn {
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryList {
    pub items: Vec<CategoryOut>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 10, "name": "Team", "type": "dropdown", "options": ["Red", "Blue"]}))]
pub struct FieldOut {
    pub id: i64,
    pub name: String,
    /// short_text, long_text, date, number, dropdown or link.
    #[serde(rename = "type")]
    pub kind: String,
    pub options: Vec<String>,
}

impl From<&FieldDef> for FieldOut {
    fn from(f: &FieldDef) -> FieldOut {
        FieldOut {
            id: f.id,
            name: f.name.clone(),
            kind: f.kind.as_str().to_string(),
            options: f.options.clone(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"id": 10, "name": "Team", "type": "dropdown", "options": ["Red", "Blue"]}))]
pub struct FieldIn {
    /// The identifier to use; default the next free one.
    pub id: Option<i64>,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub options: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldList {
    pub items: Vec<FieldOut>,
}

pub fn parse_role(raw: Option<&str>) -> Result<Option<GroupRole>, ApiError> {
    match raw {
        None => Ok(None),
        Some(r) => GroupRole::parse(r)
            .map(Some)
            .map_err(|m| ApiError::field("role", m)),
    }
}
