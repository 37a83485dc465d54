//! Events: what changed, who changed it and through which door, as plain values.
//!
//! Every change becomes one event (the audit log, and what webhooks deliver). This
//! module names the event types (`<noun>.<past verb>`, dotted), the actors
//! (`key:<prefix>`, `user:<id>`, `cli`, `scim:key:<prefix>`) and the doors
//! (`grupo`, `activecampaign`, `rest`, `scim`, `console`, `cli`), matches webhook
//! subscriptions (`group.*`) against types, and works out what changed field by
//! field. Secrets never appear in a change: a password reads `"changed"`.

use super::group::Group;
use serde_json::{Value, json};

/// What happened. The wire names are in [`EventType::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventType {
    GroupCreated,
    GroupUpdated,
    GroupDeleted,
    MemberAdded,
    MemberRemoved,
    MemberRoleChanged,
    UserCreated,
    UserUpdated,
    UserDeleted,
    CategoryCreated,
    CategoryRenamed,
    CategoryDeleted,
    FieldCreated,
    FieldDeleted,
    KeyCreated,
    KeyRevoked,
    WebhookCreated,
    WebhookUpdated,
    WebhookDeleted,
    WebhookSecretRotated,
}

impl EventType {
    pub const ALL: [EventType; 20] = [
        EventType::GroupCreated,
        EventType::GroupUpdated,
        EventType::GroupDeleted,
        EventType::MemberAdded,
        EventType::MemberRemoved,
        EventType::MemberRoleChanged,
        EventType::UserCreated,
        EventType::UserUpdated,
        EventType::UserDeleted,
        EventType::CategoryCreated,
        EventType::CategoryRenamed,
        EventType::CategoryDeleted,
        EventType::FieldCreated,
        EventType::FieldDeleted,
        EventType::KeyCreated,
        EventType::KeyRevoked,
        EventType::WebhookCreated,
        EventType::WebhookUpdated,
        EventType::WebhookDeleted,
        EventType::WebhookSecretRotated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::GroupCreated => "group.created",
            EventType::GroupUpdated => "group.updated",
            EventType::GroupDeleted => "group.deleted",
            EventType::MemberAdded => "member.added",
            EventType::MemberRemoved => "member.removed",
            EventType::MemberRoleChanged => "member.role_changed",
            EventType::UserCreated => "user.created",
            EventType::UserUpdated => "user.updated",
            EventType::UserDeleted => "user.deleted",
            EventType::CategoryCreated => "category.created",
            EventType::CategoryRenamed => "category.renamed",
            EventType::CategoryDeleted => "category.deleted",
            EventType::FieldCreated => "field.created",
            EventType::FieldDeleted => "field.deleted",
            EventType::KeyCreated => "key.created",
            EventType::KeyRevoked => "key.revoked",
            EventType::WebhookCreated => "webhook.created",
            EventType::WebhookUpdated => "webhook.updated",
            EventType::WebhookDeleted => "webhook.deleted",
            EventType::WebhookSecretRotated => "webhook.secret_rotated",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The noun before the dot (`group`, `member`, ...).
    pub fn noun(self) -> &'static str {
        let s = self.as_str();
        s.split_once('.').map_or(s, |(noun, _)| noun)
    }
}

/// A webhook's subscription: one type (`member.added`), every type of a noun
/// (`group.*`), or everything (`*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventPattern {
    All,
    Noun(&'static str),
    One(EventType),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not an event type or pattern: write one type (member.added), every type of a \
     kind (group.*), or *"
)]
pub struct UnknownEventPattern(pub String);

impl EventPattern {
    pub fn parse(raw: &str) -> Result<EventPattern, UnknownEventPattern> {
        let s = raw.trim();
        if s == "*" {
            return Ok(EventPattern::All);
        }
        if let Some(noun) = s.strip_suffix(".*") {
            return EventType::ALL
                .into_iter()
                .map(EventType::noun)
                .find(|n| *n == noun)
                .map(EventPattern::Noun)
                .ok_or_else(|| UnknownEventPattern(raw.to_string()));
        }
        EventType::parse(s)
            .map(EventPattern::One)
            .ok_or_else(|| UnknownEventPattern(raw.to_string()))
    }

    pub fn matches(&self, t: EventType) -> bool {
        match self {
            EventPattern::All => true,
            EventPattern::Noun(noun) => t.noun() == *noun,
            EventPattern::One(one) => *one == t,
        }
    }

    pub fn as_string(&self) -> String {
        match self {
            EventPattern::All => "*".into(),
            EventPattern::Noun(noun) => format!("{noun}.*"),
            EventPattern::One(t) => t.as_str().into(),
        }
    }
}

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An API key, by its public prefix.
    Key { prefix: String },
    /// A person signed in to the console.
    User(i64),
    /// An identity provider through SCIM, by its key's prefix.
    ScimKey { prefix: String },
    /// The command line on the server.
    Cli,
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Key { prefix } => write!(f, "key:{prefix}"),
            Actor::User(id) => write!(f, "user:{id}"),
            Actor::ScimKey { prefix } => write!(f, "scim:key:{prefix}"),
            Actor::Cli => f.write_str("cli"),
        }
    }
}

/// Which door a change came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    Grupo,
    ActiveCampaign,
    Rest,
    Scim,
    Console,
    Cli,
}

impl Door {
    pub fn as_str(self) -> &'static str {
        match self {
            Door::Grupo => "grupo",
            Door::ActiveCampaign => "activecampaign",
            Door::Rest => "rest",
            Door::Scim => "scim",
            Door::Console => "console",
            Door::Cli => "cli",
        }
    }
}

/// One field's change: its value before and after (`null` where it had none).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub field: String,
    pub before: Value,
    pub after: Value,
}

impl Change {
    pub fn to_json(&self) -> Value {
        json!({ "field": self.field, "before": self.before, "after": self.after })
    }
}

/// What a secret reads as in a change: never the secret, never its hash.
pub const SECRET_CHANGED: &str = "changed";

/// A group as an event shows it, field by field, in a fixed order. The password
/// is only whether there is one; the icon only whether there is one (its URL
/// carries a token that stands for the image).
pub fn group_fields(g: &Group) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = vec![
        ("name".into(), json!(g.name)),
        ("slug".into(), json!(g.slug)),
        ("description".into(), json!(g.description)),
        ("category_id".into(), json!(g.category_id)),
        ("secret".into(), json!(g.secret)),
        ("unleavable".into(), json!(g.unleavable)),
        ("pinned".into(), json!(g.pinned)),
        ("password_protected".into(), json!(g.password_protected())),
        ("has_icon".into(), json!(g.icon_token.is_some())),
    ];
    for (id, value) in &g.custom_fields {
        out.push((format!("custom_field_{id}"), json!(value)));
    }
    out.push((
        "policy".into(),
        serde_json::to_value(&g.policy).unwrap_or(Value::Null),
    ));
    out
}

/// The fields whose value differs between `before` and `after` (a field missing
/// on one side is `null` there), in `after`'s order then `before`'s leftovers.
pub fn diff(before: &[(String, Value)], after: &[(String, Value)]) -> Vec<Change> {
    let find = |side: &[(String, Value)], field: &str| {
        side.iter()
            .find(|(f, _)| f == field)
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Null)
    };
    let mut out = Vec::new();
    for (field, now) in after {
        let was = find(before, field);
        if was != *now {
            out.push(Change {
                field: field.clone(),
                before: was,
                after: now.clone(),
            });
        }
    }
    for (field, was) in before {
        if !after.iter().any(|(f, _)| f == field) && !was.is_null() {
            out.push(Change {
                field: field.clone(),
                before: was.clone(),
                after: Value::Null,
            });
        }
    }
    out
}

/// What changed in a group, including a password that was replaced by another
/// (same `password_protected`, different hash), which reads as `"changed"`.
pub fn group_changes(before: &Group, after: &Group) -> Vec<Change> {
    let mut changes = diff(&group_fields(before), &group_fields(after));
    if before.password_hash.is_some()
        && after.password_hash.is_some()
        && before.password_hash != after.password_hash
    {
        changes.push(Change {
            field: "password".into(),
            before: json!(SECRET_CHANGED),
            after: json!(SECRET_CHANGED),
        });
    }
    if before.icon_token.is_some()
        && after.icon_token.is_some()
        && before.icon_token != after.icon_token
    {
        changes.push(Change {
            field: "icon".into(),
            before: json!(SECRET_CHANGED),
            after: json!(SECRET_CHANGED),
        });
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::group::GroupId;
    use crate::domain::workspace::WorkspaceId;

    fn group() -> Group {
        Group {
            id: GroupId(4),
            workspace: WorkspaceId(1),
            name: "Night Owls".into(),
            slug: Some("night-owls".into()),
            description: String::new(),
            category_id: 1,
            secret: false,
            unleavable: false,
            pinned: false,
            password_hash: None,
            icon_token: None,
            custom_fields: Default::default(),
            policy: Default::default(),
            builtin: None,
            member_count: 0,
            created_at: 1,
            updated_at: 1,
        }
    }

    #[test]
    fn types_have_dotted_names_and_parse_back() {
        for t in EventType::ALL {
            let name = t.as_str();
            let (noun, verb) = name.split_once('.').expect("dotted");
            assert!(!noun.is_empty() && !verb.is_empty(), "{name}");
            assert_eq!(EventType::parse(name), Some(t));
            assert_eq!(t.noun(), noun);
        }
        assert_eq!(EventType::parse("group.exploded"), None);
    }

    #[test]
    fn patterns_match_one_type_a_noun_or_all() {
        let p = |s: &str| EventPattern::parse(s).expect(s);
        assert!(p("group.*").matches(EventType::GroupDeleted));
        assert!(!p("group.*").matches(EventType::MemberAdded));
        assert!(p("member.added").matches(EventType::MemberAdded));
        assert!(!p("member.added").matches(EventType::MemberRemoved));
        assert!(p("*").matches(EventType::KeyRevoked));
        assert_eq!(p(" group.* ").as_string(), "group.*");
        for bad in ["groups.*", "group.", "group", "", "**", "member.added.*"] {
            assert!(EventPattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn actors_and_doors_read_as_the_design_names_them() {
        let key = Actor::Key {
            prefix: "AbC12345".into(),
        };
        assert_eq!(key.to_string(), "key:AbC12345");
        assert_eq!(Actor::User(7).to_string(), "user:7");
        assert_eq!(
            Actor::ScimKey { prefix: "x".into() }.to_string(),
            "scim:key:x"
        );
        assert_eq!(Actor::Cli.to_string(), "cli");
        assert_eq!(Door::ActiveCampaign.as_str(), "activecampaign");
    }

    #[test]
    fn changes_name_only_what_differs_and_never_a_secret() {
        let before = group();
        let mut after = group();
        assert!(group_changes(&before, &after).is_empty());
        after.name = "Owls".into();
        after.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
        after.custom_fields.insert(10, "Backend".into());
        let changes = group_changes(&before, &after);
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["name", "password_protected", "custom_field_10"]);
        assert_eq!(changes[0].before, json!("Night Owls"));
        assert_eq!(changes[0].after, json!("Owls"));
        assert_eq!(changes[2].before, Value::Null);
        // A new password on a protected group reads "changed"; no hash anywhere.
        let mut again = after.clone();
        again.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$b3RoZXI$aGFzaDI".into());
        let changes = group_changes(&after, &again);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].field, "password");
        let text = serde_json::to_string(
            &group_changes(&before, &again)
                .iter()
                .map(Change::to_json)
                .collect::<Vec<_>>(),
        )
        .unwrap();
        assert!(!text.contains("argon2"), "{text}");
        // A removed custom field reads as going to null.
        let removed = diff(&group_fields(&after), &group_fields(&before));
        assert!(
            removed
                .iter()
                .any(|c| c.field == "custom_field_10" && c.after == Value::Null)
        );
    }
}
