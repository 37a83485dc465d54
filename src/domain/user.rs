//! Site users (people who belong to groups) and memberships.

use super::error::ValidationErrors;
use super::slug::RESERVED;
use super::text;
use super::workspace::WorkspaceId;

pub const FULL_NAME_MAX: usize = 100;
pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 32;
pub const EMAIL_MAX: usize = 254;
pub const USER_PASSWORD_MIN: usize = 6;
pub const USER_PASSWORD_MAX_BYTES: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub i64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub workspace: WorkspaceId,
    pub full_name: String,
    pub username: String,
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// How a request names a user: all digits is an id, with `@` an email address,
/// anything else a username. Username and email compare without regard to case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    Id(UserId),
    Username(String),
    Email(String),
}

impl UserRef {
    pub fn parse(raw: &str) -> Option<UserRef> {
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        if raw.bytes().all(|b| b.is_ascii_digit()) {
            return Some(UserRef::Id(UserId(raw.parse().unwrap_or(0))));
        }
        if raw.contains('@') {
            return Some(UserRef::Email(raw.to_lowercase()));
        }
        Some(UserRef::Username(raw.to_lowercase()))
    }
}

/// A member's role in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupRole {
    Member,
    Moderator,
    Admin,
}

impl GroupRole {
    pub fn as_str(&self) -> &'static str {
        match self {
            GroupRole::Member => "member",
            GroupRole::Moderator => "moderator",
            GroupRole::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Result<GroupRole, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "member" => Ok(GroupRole::Member),
            "moderator" => Ok(GroupRole::Moderator),
            "admin" | "administrator" => Ok(GroupRole::Admin),
            _ => Err("must be member, moderator or admin".to_string()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub user: User,
    pub role: GroupRole,
    pub joined_at: i64,
}

/// A create or update request for a user, as a dialect decoded it.
#[derive(Debug, Clone, Default)]
pub struct UserDraft {
    pub full_name: Option<String>,
    pub username: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
    pub errors: ValidationErrors,
}

/// A checked user request; `None` leaves a value as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPlan {
    pub full_name: Option<String>,
    /// (as written, lower-case key)
    pub username: Option<(String, String)>,
    pub email: Option<(String, String)>,
    pub password: Option<String>,
}

/// Usernames: 3 to 32 of letters, digits, `_`, `.` and `-`, starting with a letter
/// or digit, not all digits (those are ids), not a reserved word.
pub fn check_username(raw: &str) -> Result<(String, String), String> {
    let u = raw.trim();
    let len = u.chars().count();
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&len) {
        return Err(format!(
            "must be {USERNAME_MIN} to {USERNAME_MAX} characters"
        ));
    }
    if !u
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err("may hold only letters, digits, '_', '.' and '-'".to_string());
    }
    if !u.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("must start with a letter or digit".to_string());
    }
    if u.bytes().all(|b| b.is_ascii_digit()) {
        return Err("must not be only digits".to_string());
    }
    let key = u.to_ascii_lowercase();
    if RESERVED.contains(&key.as_str()) {
        return Err(format!("'{u}' is a reserved word"));
    }
    Ok((u.to_string(), key))
}

/// A plain address check: one `@`, a local part, a dotted domain, no spaces.
pub fn check_email(raw: &str) -> Result<(String, String), String> {
    const MSG: &str = "is not a valid email address";
    let e = raw.trim();
    if e.len() > EMAIL_MAX || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(MSG.to_string());
    }
    let Some((local, domain)) = e.split_once('@') else {
        return Err(MSG.to_string());
    };
    let domain_ok = !domain.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.chars().any(|c| {
            matches!(
                c,
                '<' | '>' | '"' | '(' | ')' | ',' | ';' | ':' | '\\' | '[' | ']'
            )
        });
    if !(domain_ok && local_ok) {
        return Err(MSG.to_string());
    }
    Ok((e.to_string(), e.to_lowercase()))
}

/// Checks a user draft. On create every field is required.
pub fn plan_user(draft: UserDraft, create: bool) -> Result<UserPlan, ValidationErrors> {
    let mut errors = draft.errors;
    let required = |v: &Option<String>, field: &str, errors: &mut ValidationErrors| {
        if create && v.is_none() {
            errors.push(field, "is required");
        }
    };
    required(&draft.full_name, "full_name", &mut errors);
    required(&draft.username, "username", &mut errors);
    required(&draft.email, "email", &mut errors);
    required(&draft.password, "password", &mut errors);
    let full_name = draft.full_name.as_deref().and_then(|raw| {
        text::clean_required(raw, FULL_NAME_MAX)
            .map_err(|e| errors.push("full_name", e.message()))
            .ok()
    });
    let username = draft.username.as_deref().and_then(|raw| {
        check_username(raw)
            .map_err(|m| errors.push("username", m))
            .ok()
    });
    let email = draft
        .email
        .as_deref()
        .and_then(|raw| check_email(raw).map_err(|m| errors.push("email", m)).ok());
    let password = draft.password.and_then(|p| {
        if p.chars().count() < USER_PASSWORD_MIN {
            errors.push(
                "password",
                format!("must be at least {USER_PASSWORD_MIN} characters"),
            );
            None
        } else if p.len() > USER_PASSWORD_MAX_BYTES || p.contains('\0') {
            errors.push(
                "password",
                format!("must be at most {USER_PASSWORD_MAX_BYTES} bytes, without NUL"),
            );
            None
        } else {
            Some(p)
        }
    });
    errors.into_result(UserPlan {
        full_name,
        username,
        email,
        password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_and_emails() {
        assert_eq!(check_username("Ada_L").unwrap().1, "ada_l");
        for bad in ["ab", "has space", "_lead", "1234", "admin", &"x".repeat(33)] {
            assert!(check_username(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check_email(" Ada@Example.ORG ").unwrap(),
            ("Ada@Example.ORG".into(), "ada@example.org".into())
        );
        for bad in [
            "ada",
            "ada@",
            "@x.org",
            "a@b",
            "a b@c.org",
            "a@@b.org",
            "a@b..org",
            "<a>@b.org",
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refs_and_plans() {
        assert_eq!(UserRef::parse("42"), Some(UserRef::Id(UserId(42))));
        assert_eq!(
            UserRef::parse("Ada@X.org"),
            Some(UserRef::Email("ada@x.org".into()))
        );
        assert_eq!(UserRef::parse("Ada"), Some(UserRef::Username("ada".into())));
        let errs = plan_user(
            UserDraft {
                password: Some("123".into()),
                ..Default::default()
            },
            true,
        )
        .unwrap_err();
        let names: Vec<&str> = errs.fields().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(names, ["full_name", "username", "email", "password"]);
        assert!(plan_user(UserDraft::default(), false).is_ok());
        assert_eq!(GroupRole::parse("Moderator"), Ok(GroupRole::Moderator));
        assert!(GroupRole::parse("owner").is_err());
    }
}
