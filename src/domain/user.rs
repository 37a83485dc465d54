//! Site users (people who belong to groups) and memberships.

use super::error::{Problem, ValidationErrors};
use super::identifier;
use super::slug::check_reserved;
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
    /// Empty for a user without an email address (an identity provider may
    /// provision one with a user name alone).
    pub email: String,
    /// The identity provider's user name (SCIM `userName`) when it is not a
    /// valid groupd username (an email address, a UPN, a UUID); groupd then
    /// derived `username` from it. See [`scim_user_name`].
    pub idp_user_name: Option<String>,
    /// argon2id PHC string; empty for a user who has no password (one made by
    /// an identity provider over SCIM, who signs in there).
    pub password_hash: String,
    /// The identity provider's id for the user, kept as it was sent.
    pub external_id: Option<String>,
    /// A deactivated user keeps their memberships but cannot join groups or sign in.
    pub active: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl User {
    /// Whether the user may become a member of a group, on their own behalf or
    /// an administrator's: a deactivated user keeps the memberships they have
    /// but gains none.
    pub fn may_join(&self) -> bool {
        self.active
    }

    /// Whether the user may sign in with a password: active, and holding one (a
    /// user an identity provider made has none; they sign in there).
    pub fn may_sign_in_with_password(&self) -> bool {
        self.active && !self.password_hash.is_empty()
    }
}

/// How a request names a user: all digits is an id, with `@` an email address,
/// anything else a username. Username and email compare by their [`identifier::fold`]
/// key (NFKC and full case folding), as they are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    Id(UserId),
    Username(String),
    Email(String),
    /// An identity provider's user name, by its [`identifier::fold`] key (see
    /// [`User::idp_user_name`]).
    IdpName(String),
}

impl UserRef {
    /// Whether this reference names `u` (by id, or by the key of their
    /// username or email address).
    pub fn names(&self, u: &User) -> bool {
        match self {
            UserRef::Id(id) => *id == u.id,
            UserRef::Username(k) => username_key(&u.username) == *k,
            UserRef::Email(k) => !u.email.is_empty() && email_key(&u.email) == *k,
            UserRef::IdpName(k) => u
                .idp_user_name
                .as_deref()
                .is_some_and(|n| identifier::fold(n) == *k),
        }
    }

    pub fn parse(raw: &str) -> Option<UserRef> {
        let key = identifier::fold(raw.trim());
        let key = key.trim();
        if key.is_empty() {
            return None;
        }
        if key.bytes().all(|b| b.is_ascii_digit()) {
            return Some(UserRef::Id(UserId(key.parse().unwrap_or(0))));
        }
        if key.contains('@') {
            return Some(UserRef::Email(key.to_string()));
        }
        Some(UserRef::Username(key.to_string()))
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
    /// (as written, key: [`username_key`], [`email_key`])
    pub username: Option<(String, String)>,
    pub email: Option<(String, String)>,
    pub password: Option<String>,
}

/// Usernames: after NFKC (fullwidth `ａｄａ` is `ada`, the Kelvin sign is `K`), 3 to
/// 32 of ASCII letters, digits, `_`, `.` and `-`, starting with a letter or digit, not
/// all digits (those are ids), neither a reserved word nor a look-alike of one.
pub fn check_username(raw: &str) -> Result<(String, String), String> {
    let normal = identifier::nfkc(raw.trim());
    let u = normal.trim();
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
    let key = username_key(u);
    check_reserved(u, &key)?;
    Ok((u.to_string(), key))
}

/// A plain address check: one `@`, a local part, a dotted domain, no spaces.
///
/// The address is stored in NFKC (so `\u{212A}ate@example.org`, with a Kelvin sign,
/// is stored as `Kate@example.org`) and keyed by NFKC with full case folding; it
/// must not contain invisible or direction-changing characters, and neither the
/// local part nor a domain label may mix scripts (a Cyrillic `а` among Latin letters).
pub fn check_email(raw: &str) -> Result<(String, String), String> {
    const MSG: &str = "is not a valid email address";
    let normal = identifier::nfkc(raw.trim());
    let e = normal.trim();
    if e.len() > EMAIL_MAX || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(MSG.to_string());
    }
    if e.chars()
        .any(|c| identifier::is_default_ignorable(c) || identifier::is_bidi_control(c))
    {
        return Err(format!(
            "{MSG}: it contains invisible or direction-changing characters"
        ));
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
    for part in std::iter::once(local).chain(domain.split('.')) {
        if let Some(scripts) = identifier::mixes_scripts(part) {
            return Err(format!(
                "{MSG}: '{part}' {}",
                identifier::mixed_scripts_reason(&scripts)
            ));
        }
    }
    Ok((e.to_string(), email_key(e)))
}

/// The uniqueness and look-up key of a username: NFKC with full case folding
/// ([`identifier::fold`]); for the ASCII usernames [`check_username`] accepts, their
/// lower case.
pub fn username_key(username: &str) -> String {
    identifier::fold(username)
}

/// The uniqueness and look-up key of an email address: NFKC with full case folding
/// ([`identifier::fold`]), as [`UserRef::parse`] computes it for a look-up.
pub fn email_key(email: &str) -> String {
    identifier::fold(email)
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
    let email = draft.email.as_deref().and_then(|raw| {
        check_email(raw)
            .map_err(|m| errors.push_problem("email", Problem::InvalidEmail, m))
            .ok()
    });
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

/// Longest identity-provider user name and external id kept.
pub const IDP_NAME_MAX: usize = 256;

impl User {
    /// The name an identity provider knows the user by (SCIM `userName`): its
    /// own when groupd had to derive a username, else the username.
    pub fn idp_name(&self) -> &str {
        self.idp_user_name.as_deref().unwrap_or(&self.username)
    }
}

/// How an identity provider's user name maps onto groupd's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdpUserName {
    /// A valid groupd username: it is the username (as written, key).
    Username(String, String),
    /// Anything else (an email address, a UPN, a UUID): kept as it is, under
    /// its own unique key, and groupd derives a username ([`derive_username`]).
    Other(String, String),
}

impl IdpUserName {
    /// The name as written, and its key.
    pub fn parts(&self) -> (&str, &str) {
        match self {
            IdpUserName::Username(n, k) | IdpUserName::Other(n, k) => (n, k),
        }
    }
}

/// Reads an identity provider's user name: one line, 1 to [`IDP_NAME_MAX`]
/// characters, no control or invisible characters.
pub fn check_idp_user_name(raw: &str) -> Result<IdpUserName, String> {
    if let Ok((name, key)) = check_username(raw) {
        return Ok(IdpUserName::Username(name, key));
    }
    let name = identifier::nfkc(raw.trim()).trim().to_string();
    if name.is_empty() {
        return Err("is required".into());
    }
    if name.chars().count() > IDP_NAME_MAX {
        return Err(format!("must be at most {IDP_NAME_MAX} characters"));
    }
    if name.chars().any(|c| {
        c.is_control() || identifier::is_default_ignorable(c) || identifier::is_bidi_control(c)
    }) {
        return Err("must not hold control, invisible or direction-changing characters".into());
    }
    let key = identifier::fold(&name);
    Ok(IdpUserName::Other(name, key))
}

/// The groupd username to try for an identity provider's user name that is not
/// one, on the `attempt`-th try (0 first; the service tries again while the
/// name is taken): the part before any `@`, cut to what usernames allow, with
/// `-2`, `-3`, ... after the first try. Always a valid username.
pub fn derive_username(idp_name: &str, attempt: u32) -> String {
    let local = identifier::nfkc(idp_name.split('@').next().unwrap_or(""));
    let kept: String = local
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        .collect();
    let mut base = kept
        .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string();
    base.truncate(20);
    if base.is_empty() {
        base = "user".into();
    }
    let candidate = match attempt {
        0 => base,
        n => format!("{base}-{}", u64::from(n) + 1),
    };
    if check_username(&candidate).is_ok() {
        return candidate;
    }
    // Too short, all digits or reserved: prefixed, which makes it valid.
    let prefixed = format!("user-{candidate}");
    let prefixed = prefixed.trim_end_matches(['-', '.', '_']).to_string();
    if check_username(&prefixed).is_ok() {
        prefixed
    } else {
        format!("user-{}", u64::from(attempt) + 1)
    }
}

/// A user as an identity provider states it (SCIM), checked: the whole state,
/// for a create or a replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpUserPlan {
    pub user_name: IdpUserName,
    /// May be empty.
    pub full_name: String,
    /// `None`: no email address.
    pub email: Option<(String, String)>,
    pub external_id: Option<String>,
    pub active: bool,
}

/// What an identity provider sent for a user, before checking.
#[derive(Debug, Clone, Default)]
pub struct IdpUserDraft {
    pub user_name: Option<String>,
    pub full_name: Option<String>,
    pub email: Option<String>,
    pub external_id: Option<String>,
    pub active: Option<bool>,
    pub errors: ValidationErrors,
}

/// Checks an identity provider's user. Only the user name is required: the
/// provider signs people in, so there is no password, and a missing email
/// address or name is kept as none.
pub fn plan_idp_user(draft: IdpUserDraft) -> Result<IdpUserPlan, ValidationErrors> {
    let mut errors = draft.errors;
    let user_name = match draft.user_name.as_deref().map(check_idp_user_name) {
        None => {
            errors.push("userName", "is required");
            None
        }
        Some(Err(m)) => {
            errors.push("userName", m);
            None
        }
        Some(Ok(n)) => Some(n),
    };
    let full_name = match draft
        .full_name
        .as_deref()
        .map(|n| text::clean(n, FULL_NAME_MAX, false))
    {
        None => String::new(),
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            errors.push("displayName", e.message());
            String::new()
        }
    };
    let email = match draft.email.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => check_email(raw)
            .map_err(|m| errors.push_problem("emails", Problem::InvalidEmail, m))
            .ok(),
    };
    let external_id = check_external_id(draft.external_id.as_deref())
        .map_err(|m| errors.push("externalId", m))
        .ok()
        .flatten();
    let plan = user_name.map(|user_name| IdpUserPlan {
        user_name,
        full_name,
        email,
        external_id,
        active: draft.active.unwrap_or(true),
    });
    match plan {
        Some(p) => errors.into_result(p),
        None => Err(errors),
    }
}

/// An identity provider's id for a user or group: kept as sent, trimmed; empty
/// is none.
pub fn check_external_id(raw: Option<&str>) -> Result<Option<String>, String> {
    let Some(id) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if id.chars().count() > IDP_NAME_MAX {
        return Err(format!("must be at most {IDP_NAME_MAX} characters"));
    }
    if id.chars().any(char::is_control) {
        return Err("must not hold control characters".into());
    }
    Ok(Some(id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_provider_user_names() {
        assert_eq!(
            check_idp_user_name("Ada_L").unwrap(),
            IdpUserName::Username("Ada_L".into(), "ada_l".into())
        );
        assert_eq!(
            check_idp_user_name(" Ada@Example.org ").unwrap(),
            IdpUserName::Other("Ada@Example.org".into(), "ada@example.org".into())
        );
        let uuid = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";
        assert!(matches!(
            check_idp_user_name(uuid),
            Ok(IdpUserName::Other(..))
        ));
        assert!(check_idp_user_name("  ").is_err());
        assert!(check_idp_user_name("a\u{200B}b@x.org").is_err());
        assert!(check_idp_user_name(&"x".repeat(IDP_NAME_MAX + 1)).is_err());
        assert_eq!(
            derive_username("ada.lovelace@example.org", 0),
            "ada.lovelace"
        );
        assert_eq!(
            derive_username("ada.lovelace@example.org", 1),
            "ada.lovelace-2"
        );
        assert_eq!(derive_username(uuid, 0), "0b1c2d3e-4f50-6172-8");
        assert_eq!(derive_username("x@y.org", 0), "user-x");
        assert_eq!(derive_username("1234@y.org", 0), "user-1234");
        assert_eq!(derive_username("admin@y.org", 0), "user-admin");
        assert_eq!(derive_username("@@@", 2), "user-3");
        assert_eq!(derive_username("__ädä__@y.org", 0), "d__");
        for (i, raw) in ["a@b.c", "é@x", "-", "ŉ", &"z".repeat(300)]
            .iter()
            .enumerate()
        {
            for attempt in [0, 1, 99, u32::MAX] {
                let name = derive_username(raw, attempt);
                assert!(check_username(&name).is_ok(), "{i} {attempt} {name}");
            }
        }
    }

    #[test]
    fn identity_provider_users_need_only_a_user_name() {
        let plan = plan_idp_user(IdpUserDraft {
            user_name: Some("kim@example.org".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            (plan.full_name.as_str(), plan.email, plan.active),
            ("", None, true)
        );
        let e = plan_idp_user(IdpUserDraft {
            email: Some("not an address".into()),
            external_id: Some("x\u{1}".into()),
            ..Default::default()
        })
        .unwrap_err();
        let fields: Vec<&str> = e.fields().iter().map(|x| x.field.as_str()).collect();
        assert_eq!(fields, ["userName", "emails", "externalId"]);
    }

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
    fn look_alike_usernames_and_emails() {
        // Compatibility forms are the plain letters they stand for.
        assert_eq!(
            check_username("\u{212A}ate").unwrap(),
            ("Kate".into(), "kate".into())
        );
        assert_eq!(
            check_username("ａｄａ_ｌ").unwrap(),
            ("ada_l".into(), "ada_l".into())
        );
        for (bad, why) in [
            ("ａｄｍｉｎ", "reserved word"),
            ("a11", "looks like the reserved word 'all'"),
            ("\u{430}dmin", "letters, digits"),
            ("adrnin", "looks like the reserved word 'admin'"),
            ("ad\u{200B}min", "letters, digits"),
        ] {
            let err = check_username(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        // The Kelvin sign is stored as the K it stands for, keyed like the ASCII address.
        assert_eq!(
            check_email("\u{212A}ate@Example.org").unwrap(),
            ("Kate@Example.org".into(), "kate@example.org".into())
        );
        assert_eq!(
            check_email("ｋａｔｅ＠ｅｘａｍｐｌｅ．ｏｒｇ").unwrap().1,
            "kate@example.org"
        );
        assert_eq!(
            check_email("Straße@Example.de").unwrap().1,
            "strasse@example.de"
        );
        // Whole-script addresses are fine; mixing scripts inside a part is not.
        assert!(check_email("иван@пример.рф").is_ok());
        assert!(check_email("ivan@пример.рф").is_ok());
        for (bad, why) in [
            ("k\u{430}te@example.org", "Latin and Cyrillic"),
            ("kate@ex\u{430}mple.org", "Latin and Cyrillic"),
            ("ka\u{200B}te@example.org", "invisible"),
            ("kate\u{FEFF}@example.org", "invisible"),
            ("kate@example.org\u{202E}", "direction-changing"),
        ] {
            let err = check_email(bad).unwrap_err();
            assert!(
                err.starts_with("is not a valid email address"),
                "{bad}: {err}"
            );
            assert!(err.contains(why), "{bad}: {err}");
        }
        // Look-ups use the same key.
        assert_eq!(
            UserRef::parse("\u{212A}ATE@example.org"),
            Some(UserRef::Email("kate@example.org".into()))
        );
        assert_eq!(
            UserRef::parse("ＫＡＴＥ"),
            Some(UserRef::Username("kate".into()))
        );
        assert_eq!(UserRef::parse("４２"), Some(UserRef::Id(UserId(42))));
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
