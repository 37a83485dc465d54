//! Groups: what a group is, and how a request to create or change one is checked
//! into a plan the service can carry out.

use super::category::DEFAULT_CATEGORY_ID;
use super::error::ValidationErrors;
use super::field::FieldDef;
use super::policy::{GroupPolicy, PolicyPatch};
use super::slug::{Slug, clean_slug};
use super::text;
use super::workspace::WorkspaceId;
use std::collections::BTreeMap;

pub const NAME_MAX: usize = 100;
pub const DESCRIPTION_MAX: usize = 5000;
pub const PASSWORD_MAX_BYTES: usize = 1024;
pub const ICON_URL_MAX: usize = 2048;
/// Where the default icon is served, for groups without one. The same for every
/// group, so it tells nobody anything.
pub const DEFAULT_ICON_PATH: &str = "/icons/default.svg";
/// Hex digits in an icon token (128 random bits).
pub const ICON_TOKEN_LEN: usize = 32;

/// Whether `s` has the shape of an icon token: 32 lowercase hex digits.
pub fn is_icon_token(s: &str) -> bool {
    s.len() == ICON_TOKEN_LEN && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The token in the file name of an icon URL (`<token>.png`), if it is one.
pub fn icon_token_of_file(file: &str) -> Option<&str> {
    file.strip_suffix(".png").filter(|t| is_icon_token(t))
}

/// Where the icon with this token is served. Icons are served by an unguessable
/// token, never by group id, so nobody can count or fetch other workspaces' icons;
/// the token changes whenever the icon does, so the URL can be cached for good.
pub fn icon_path(token: &str) -> String {
    format!("/icons/{token}.png")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub i64);

/// A stored group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    pub workspace: WorkspaceId,
    pub name: String,
    pub slug: Option<String>,
    pub description: String,
    pub category_id: i64,
    pub secret: bool,
    pub unleavable: bool,
    pub pinned: bool,
    /// The argon2id PHC string of the group password, when the group has one.
    pub password_hash: Option<String>,
    /// The token the group's icon is served under; `None` when it has no icon.
    pub icon_token: Option<String>,
    pub custom_fields: BTreeMap<i64, String>,
    /// Permissions and limits.
    pub policy: GroupPolicy,
    /// Set for the groups every workspace starts with; those cannot be removed.
    pub builtin: Option<Builtin>,
    pub member_count: i64,
    /// The identity provider's id for the group, kept as it was sent (SCIM).
    pub external_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Group {
    pub fn password_protected(&self) -> bool {
        self.password_hash.is_some()
    }

    pub fn has_icon(&self) -> bool {
        self.icon_token.is_some()
    }

    /// Where the group's icon (or the default icon) is served; needs no key.
    pub fn icon_path(&self) -> String {
        match &self.icon_token {
            Some(token) => icon_path(token),
            None => DEFAULT_ICON_PATH.to_string(),
        }
    }

    /// The administrators' group: members manage the workspace's content.
    pub fn is_admin_group(&self) -> bool {
        self.builtin == Some(Builtin::Admin)
    }
}

/// The groups every workspace is created with, as in ActiveCampaign, where groups
/// 1 to 3 are these and are locked: every person belongs to at least one group, and
/// these are the ones people fall back to (visitors who are not logged in, logged-in
/// users, administrators). They can be renamed and their permissions changed, but
/// not removed. They are secret, so member-facing lists do not show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Builtin {
    Visitor,
    User,
    Admin,
}

impl Builtin {
    pub const ALL: [Builtin; 3] = [Builtin::Visitor, Builtin::User, Builtin::Admin];

    pub fn as_str(&self) -> &'static str {
        match self {
            Builtin::Visitor => "visitor",
            Builtin::User => "user",
            Builtin::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.as_str() == s)
    }

    pub fn name(&self) -> &'static str {
        match self {
            Builtin::Visitor => "Visitor",
            Builtin::User => "User",
            Builtin::Admin => "Admin",
        }
    }

    pub fn description(&self) -> &'static str {
        match self {
            Builtin::Visitor => "This is a group for site visitors (people that are not logged in)",
            Builtin::User => "This is a default user group (people that are logged in)",
            Builtin::Admin => "This is a group for admin users (people that can manage content)",
        }
    }

    pub fn policy(&self) -> GroupPolicy {
        match self {
            Builtin::Admin => GroupPolicy::all_permissions(),
            Builtin::Visitor | Builtin::User => GroupPolicy::default(),
        }
    }
}

/// How a request names a group: all digits is an id, anything else a slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRef {
    Id(GroupId),
    Slug(String),
    /// One of the groups every workspace has (never read from a request).
    Builtin(Builtin),
}

impl GroupRef {
    /// Reads a reference; `None` for an empty one.
    pub fn parse(raw: &str) -> Option<GroupRef> {
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        if raw.bytes().all(|b| b.is_ascii_digit()) {
            // Too many digits for an i64 cannot name any group: treat as unknown id 0.
            return Some(GroupRef::Id(GroupId(raw.parse().unwrap_or(0))));
        }
        Some(GroupRef::Slug(super::slug::slug_key(raw)))
    }
}

/// A create or update request as a dialect decoded it: every field optional, values
/// already turned into Rust types where the dialect has its own syntax (yes/no, 1/0),
/// raw text otherwise. `errors` carries what the dialect itself could not decode, so
/// one answer can name every bad field.
#[derive(Debug, Clone, Default)]
pub struct GroupDraft {
    pub name: Option<String>,
    pub description: Option<String>,
    pub category_id: Option<i64>,
    pub slug: Option<String>,
    pub secret: Option<bool>,
    pub unleavable: Option<bool>,
    pub pinned: Option<bool>,
    pub password_protect: Option<bool>,
    pub password: Option<String>,
    pub icon_url: Option<String>,
    /// An uploaded icon file's bytes (the console's file input).
    pub icon_upload: Option<Vec<u8>>,
    pub custom_fields: Vec<(i64, String)>,
    /// Permission and limit changes (ActiveCampaign's fields).
    pub policy: PolicyPatch,
    /// An identity provider's id for the group (SCIM `externalId`); empty clears it.
    pub external_id: Option<String>,
    pub errors: ValidationErrors,
}

/// Whether a draft creates a group or changes an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DraftMode {
    Create,
    Update { currently_protected: bool },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordPlan {
    Keep,
    Clear,
    /// Hash this clear-text password and store the hash.
    Set(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IconPlan {
    Keep,
    Clear,
    Fetch(url::Url),
    /// Decode these uploaded bytes.
    Upload(Vec<u8>),
}

/// A checked request: every value is valid; `None` means "leave as it is" (on
/// create: the default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPlan {
    pub name: Option<String>,
    pub description: Option<String>,
    pub category_id: Option<i64>,
    /// `Some(None)` removes the slug.
    pub slug: Option<Option<Slug>>,
    pub secret: Option<bool>,
    pub unleavable: Option<bool>,
    pub pinned: Option<bool>,
    pub password: PasswordPlan,
    pub icon: IconPlan,
    /// `None` removes the field's value.
    pub custom_fields: Vec<(i64, Option<String>)>,
    pub policy: PolicyPatch,
    /// `Some(None)` clears it.
    pub external_id: Option<Option<String>>,
}

/// Checks a draft against the rules, the workspace's custom field definitions and
/// the categories it has. Every bad field is reported, not only the first.
pub fn plan(
    draft: GroupDraft,
    mode: DraftMode,
    fields: &[FieldDef],
    category_exists: impl Fn(i64) -> bool,
) -> Result<GroupPlan, ValidationErrors> {
    let mut errors = draft.errors;

    let name = match (&draft.name, mode) {
        (None, DraftMode::Create) => {
            errors.push("name", "is required");
            None
        }
        (None, _) => None,
        (Some(raw), _) => match text::clean_required(raw, NAME_MAX) {
            Ok(n) => Some(n),
            Err(e) => {
                errors.push("name", e.message());
                None
            }
        },
    };

    let description = draft.description.as_deref().and_then(|raw| {
        text::clean(raw, DESCRIPTION_MAX, true)
            .map_err(|e| errors.push("description", e.message()))
            .ok()
    });

    let category_id = draft.category_id.filter(|&id| {
        let ok = category_exists(id);
        if !ok {
            errors.push("category_id", format!("category {id} does not exist"));
        }
        ok
    });

    let slug = match draft.slug.as_deref() {
        None => None,
        Some(raw) if raw.trim().is_empty() => Some(None),
        Some(raw) => match clean_slug(raw) {
            Ok(s) => Some(Some(s)),
            Err(msg) => {
                errors.push("slug", msg);
                None
            }
        },
    };

    let password = plan_password(&draft.password_protect, &draft.password, mode, &mut errors);

    let icon = match draft.icon_url.as_deref().map(str::trim) {
        None => IconPlan::Keep,
        Some("") => IconPlan::Clear,
        Some(raw) if raw.chars().count() > ICON_URL_MAX => {
            errors.push(
                "icon_url",
                format!("must be at most {ICON_URL_MAX} characters"),
            );
            IconPlan::Keep
        }
        Some(raw) => match url::Url::parse(raw) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                IconPlan::Fetch(u)
            }
            _ => {
                errors.push("icon_url", "must be an http:// or https:// address");
                IconPlan::Keep
            }
        },
    };
    let icon = match (draft.icon_upload, icon) {
        (None, plan) => plan,
        (Some(_), IconPlan::Fetch(_) | IconPlan::Clear) => {
            errors.push("icon_url", "give an icon address or an icon file, not both");
            IconPlan::Keep
        }
        (Some(bytes), _) if bytes.is_empty() => {
            errors.push("icon_file", "the file is empty");
            IconPlan::Keep
        }
        (Some(bytes), _) => IconPlan::Upload(bytes),
    };

    let mut custom_fields = Vec::new();
    for (id, raw) in &draft.custom_fields {
        let key = format!("custom_field_{id}");
        match fields.iter().find(|f| f.id == *id) {
            None => errors.push(
                key,
                format!("no group custom field has the identifier {id}"),
            ),
            Some(def) => match def.validate_value(raw) {
                Ok(value) => {
                    if value.is_some() || mode != DraftMode::Create {
                        custom_fields.push((*id, value));
                    }
                }
                Err(msg) => errors.push(key, msg),
            },
        }
    }

    draft.policy.validate(&mut errors);

    let external_id = match &draft.external_id {
        None => None,
        Some(raw) => match crate::domain::user::check_external_id(Some(raw)) {
            Ok(id) => Some(id),
            Err(m) => {
                errors.push("external_id", m);
                None
            }
        },
    };

    errors.into_result(GroupPlan {
        name,
        description,
        category_id,
        slug,
        secret: draft.secret,
        unleavable: draft.unleavable,
        pinned: draft.pinned,
        password,
        icon,
        custom_fields,
        policy: draft.policy,
        external_id,
    })
}

fn plan_password(
    protect: &Option<bool>,
    password: &Option<String>,
    mode: DraftMode,
    errors: &mut ValidationErrors,
) -> PasswordPlan {
    let given = password.as_deref().filter(|p| !p.is_empty());
    if let Some(p) = given {
        if p.len() > PASSWORD_MAX_BYTES {
            errors.push(
                "password",
                format!("must be at most {PASSWORD_MAX_BYTES} bytes"),
            );
            return PasswordPlan::Keep;
        }
        if p.contains('\0') {
            errors.push("password", "must not contain NUL characters");
            return PasswordPlan::Keep;
        }
    }
    let currently = match mode {
        DraftMode::Create => false,
        DraftMode::Update {
            currently_protected,
        } => currently_protected,
    };
    match (protect, given) {
        (Some(true), Some(p)) => PasswordPlan::Set(p.to_string()),
        (Some(true), None) if currently => PasswordPlan::Keep,
        (Some(true), None) => {
            errors.push("password", "is required when password_protect is yes");
            PasswordPlan::Keep
        }
        // Not protected: a password sent along (as the Grupo example does) is ignored.
        (Some(false), _) => match mode {
            DraftMode::Create => PasswordPlan::Keep,
            DraftMode::Update { .. } => PasswordPlan::Clear,
        },
        (None, Some(p)) if currently => PasswordPlan::Set(p.to_string()),
        (None, Some(_)) if mode == DraftMode::Create => PasswordPlan::Keep,
        (None, Some(_)) => {
            errors.push(
                "password",
                "this group is not password protected; send password_protect=yes with it",
            );
            PasswordPlan::Keep
        }
        (None, None) => PasswordPlan::Keep,
    }
}

/// The category a new group gets when the request names none.
pub fn default_category() -> i64 {
    DEFAULT_CATEGORY_ID
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::field::FieldKind;

    fn fields() -> Vec<FieldDef> {
        vec![FieldDef {
            id: 10,
            name: "Team".into(),
            kind: FieldKind::Number,
            options: vec![],
        }]
    }

    #[test]
    fn icon_tokens_have_one_shape() {
        let t = "0123456789abcdef0123456789abcdef";
        assert!(is_icon_token(t));
        assert_eq!(icon_token_of_file(&format!("{t}.png")), Some(t));
        assert_eq!(icon_path(t), format!("/icons/{t}.png"));
        for bad in [
            "0123456789ABCDEF0123456789ABCDEF.png",
            "0123456789abcdef0123456789abcde.png",
            "0123456789abcdef0123456789abcdef0.png",
            "0123456789abcdef0123456789abcdeg.png",
            "0123456789abcdef0123456789abcdef",
            "0123456789abcdef0123456789abcdef.svg",
            "default.svg",
            "4",
        ] {
            assert_eq!(icon_token_of_file(bad), None, "{bad}");
        }
    }

    #[test]
    fn create_needs_a_name_and_reports_every_bad_field() {
        let draft = GroupDraft {
            category_id: Some(7),
            slug: Some("everyone".into()),
            password_protect: Some(true),
            custom_fields: vec![(10, "ten".into()), (11, "x".into())],
            ..Default::default()
        };
        let errs = plan(draft, DraftMode::Create, &fields(), |id| id == 1).unwrap_err();
        let names: Vec<&str> = errs.fields().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            names,
            [
                "name",
                "category_id",
                "slug",
                "password",
                "custom_field_10",
                "custom_field_11"
            ]
        );
    }

    #[test]
    fn passwords_follow_protect() {
        let mut e = ValidationErrors::new();
        let pw = Some("pw".to_string());
        assert_eq!(
            plan_password(&Some(false), &pw, DraftMode::Create, &mut e),
            PasswordPlan::Keep
        );
        let upd = DraftMode::Update {
            currently_protected: true,
        };
        assert_eq!(
            plan_password(&Some(false), &None, upd, &mut e),
            PasswordPlan::Clear
        );
        assert_eq!(
            plan_password(&Some(true), &None, upd, &mut e),
            PasswordPlan::Keep
        );
        assert_eq!(
            plan_password(&None, &pw, upd, &mut e),
            PasswordPlan::Set("pw".into())
        );
        assert!(e.is_empty());
        let not_protected = DraftMode::Update {
            currently_protected: false,
        };
        plan_password(&None, &pw, not_protected, &mut e);
        assert_eq!(e.fields()[0].field, "password");
    }

    #[test]
    fn group_refs() {
        assert_eq!(GroupRef::parse("12"), Some(GroupRef::Id(GroupId(12))));
        assert_eq!(
            GroupRef::parse("My-Slug"),
            Some(GroupRef::Slug("my-slug".into()))
        );
        assert_eq!(GroupRef::parse(" "), None);
        assert_eq!(
            GroupRef::parse("99999999999999999999999"),
            Some(GroupRef::Id(GroupId(0)))
        );
    }
}
