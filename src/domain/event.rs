//! Events: what changed, who changed it and through which door, as plain values.
//!
//! Every change becomes one event (the audit log, and what webhooks deliver). This
//! module names the event types (`<noun>.<past verb>`, dotted), the actors
//! (`key:<prefix>`, `user:<id>`, `cli`, `scim:key:<prefix>`) and the doors
//! (`grupo`, `activecampaign`, `rest`, `scim`, `console`, `cli`), matches webhook
//! subscriptions (`group.*`) against types, and works out what changed field by
//! field. Secrets never appear in a change: a password reads `"changed"`.

use super::group::Group;
use super::key::PREFIX_LEN;
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

/// An API key's public prefix, held inline so that callers stay `Copy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyPrefix([u8; PREFIX_LEN]);

impl KeyPrefix {
    /// A prefix of the right length, in ASCII letters and digits.
    pub fn parse(s: &str) -> Option<KeyPrefix> {
        let bytes: [u8; PREFIX_LEN] = s.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(u8::is_ascii_alphanumeric)
            .then_some(KeyPrefix(bytes))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters and digits get in (see `parse`).
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

/// Who made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// An API key, by its public prefix.
    Key(KeyPrefix),
    /// A person signed in to the console.
    User(i64),
    /// An identity provider through SCIM, by its key's prefix.
    ScimKey(KeyPrefix),
    /// The command line on the server.
    Cli,
    /// groupd itself: a webhook it disabled, a write with no caller (an import).
    System,
}

impl Actor {
    /// The key behind the change, if a key made it.
    pub fn key_prefix(&self) -> Option<&str> {
        match self {
            Actor::Key(p) | Actor::ScimKey(p) => Some(p.as_str()),
            _ => None,
        }
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Key(prefix) => write!(f, "key:{}", prefix.as_str()),
            Actor::User(id) => write!(f, "user:{id}"),
            Actor::ScimKey(prefix) => write!(f, "scim:key:{}", prefix.as_str()),
            Actor::Cli => f.write_str("cli"),
            Actor::System => f.write_str("system"),
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

/// Who is changing things and through which door: what every event written in
/// a command's transaction is stamped with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Audit {
    pub actor: Actor,
    /// `None` for groupd's own changes (no door).
    pub door: Option<Door>,
}

impl Audit {
    /// groupd itself, through no door.
    pub const SYSTEM: Audit = Audit {
        actor: Actor::System,
        door: None,
    };
}

/// What a subject of an event is, besides a group or a user.
pub type SubjectId = String;

/// An event as a write decides it, before it is stored (the store gives it its
/// id, time, actor and door).
#[derive(Debug, Clone, PartialEq)]
pub struct EventDraft {
    pub kind: EventType,
    pub group: Option<i64>,
    pub user: Option<i64>,
    /// The category, field, key prefix or webhook the event is about.
    pub subject: Option<SubjectId>,
    /// What changed, already in its stored form (see [`EventDraft::changes_json`]):
    /// made where the draft is made, so an engine's writer only copies it.
    changes: String,
}

impl EventDraft {
    pub fn new(kind: EventType) -> EventDraft {
        EventDraft {
            kind,
            group: None,
            user: None,
            subject: None,
            changes: "[]".to_string(),
        }
    }

    pub fn group(mut self, id: i64) -> Self {
        self.group = Some(id);
        self
    }

    pub fn user(mut self, id: i64) -> Self {
        self.user = Some(id);
        self
    }

    pub fn subject(mut self, id: impl ToString) -> Self {
        self.subject = Some(id.to_string());
        self
    }

    pub fn changes(mut self, changes: Vec<Change>) -> Self {
        self.changes = Value::Array(
            changes
                .into_iter()
                .map(|c| json!([c.field, c.before, c.after]))
                .collect(),
        )
        .to_string();
        self
    }

    /// The changes as stored: `[[field, before, after], ...]`, compact because
    /// every write stores one (the `{field, before, after}` objects the APIs show
    /// took twice the bytes, and on SQLite bytes written are most of an event's
    /// cost).
    pub fn changes_json(&self) -> &str {
        &self.changes
    }
}

/// A stored event, as the audit log and webhooks show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Grows with every event of its workspace, in commit order.
    pub id: i64,
    pub kind: EventType,
    /// Milliseconds since the epoch.
    pub at_ms: i64,
    /// `key:<prefix>`, `cli`, ... (see [`Actor`]).
    pub actor: String,
    /// The key's label when a key made the change.
    pub actor_label: Option<String>,
    /// `rest`, `grupo`, ... (see [`Door`]); `None` for groupd's own changes.
    pub door: Option<String>,
    pub group: Option<i64>,
    pub user: Option<i64>,
    pub subject: Option<SubjectId>,
    pub changes: Vec<Change>,
}

impl Event {
    /// Reads stored changes back (see [`EventDraft::changes_json`]).
    pub fn parse_changes(json: &str) -> Result<Vec<Change>, String> {
        let items: Vec<(String, Value, Value)> =
            serde_json::from_str(json).map_err(|e| format!("stored changes unreadable: {e}"))?;
        Ok(items
            .into_iter()
            .map(|(field, before, after)| Change {
                field,
                before,
                after,
            })
            .collect())
    }

    /// The whole event as one JSON object, in the shape the REST API lists it
    /// (what `groupd events --json` prints).
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "type": self.kind.as_str(),
            "timestamp": rfc3339_ms(self.at_ms),
            "actor": self.actor,
            "actor_label": self.actor_label,
            "door": self.door,
            "group_id": self.group,
            "user_id": self.user,
            "subject": self.subject,
            "changes": self.changes.iter().map(Change::to_json).collect::<Vec<_>>(),
        })
    }

    /// The changes in a line: `name: "Owls" -> "Night Owls"; password: changed`.
    pub fn changes_line(&self) -> String {
        self.changes
            .iter()
            .map(|c| {
                if c.before == json!(SECRET_CHANGED) && c.after == json!(SECRET_CHANGED) {
                    format!("{}: {SECRET_CHANGED}", c.field)
                } else {
                    format!("{}: {} -> {}", c.field, c.before, c.after)
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The event's `data` as webhooks deliver it: [`Event::to_json`] less the
    /// type and time (the delivery's own fields), the id as `event_id`.
    pub fn data(&self) -> Value {
        let mut v = self.to_json();
        if let Value::Object(map) = &mut v {
            map.remove("type");
            map.remove("timestamp");
            if let Some(id) = map.remove("id") {
                map.insert("event_id".into(), id);
            }
        }
        v
    }
}

/// A time in milliseconds since the epoch as RFC 3339 in UTC, to the
/// millisecond: `2026-12-01T13:51:40.123Z`.
pub fn rfc3339_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Every field of something new, as changes from nothing.
pub fn created(fields: Vec<(String, Value)>) -> Vec<Change> {
    diff(&[], &fields)
}

/// Every field of something gone, as changes to nothing.
pub fn deleted(fields: Vec<(String, Value)>) -> Vec<Change> {
    diff(&fields, &[])
}

/// A user as an event shows it; the password hash never appears.
pub fn user_fields(u: &super::user::User) -> Vec<(String, Value)> {
    vec![
        ("full_name".into(), json!(u.full_name)),
        ("username".into(), json!(u.username)),
        ("email".into(), json!(u.email)),
    ]
}

/// A webhook endpoint as an event shows it; its secret never appears.
pub fn webhook_fields(w: &super::webhook::Webhook) -> Vec<(String, Value)> {
    vec![
        ("url".into(), json!(w.url)),
        ("events".into(), json!(w.events)),
        ("description".into(), json!(w.description)),
        ("enabled".into(), json!(w.enabled)),
        ("disabled_reason".into(), json!(w.disabled_reason)),
    ]
}

/// What changed in a user, with a new password reading `"changed"`.
pub fn user_changes(before: &super::user::User, after: &super::user::User) -> Vec<Change> {
    let mut changes = diff(&user_fields(before), &user_fields(after));
    if before.password_hash != after.password_hash {
        changes.push(secret_change("password"));
    }
    changes
}

/// A secret that changed: the word, never the value.
pub fn secret_change(field: &str) -> Change {
    Change {
        field: field.into(),
        before: json!(SECRET_CHANGED),
        after: json!(SECRET_CHANGED),
    }
}

/// One field going from `before` to `after`.
pub fn change(field: &str, before: impl Into<Value>, after: impl Into<Value>) -> Change {
    Change {
        field: field.into(),
        before: before.into(),
        after: after.into(),
    }
}

/// `key.created`: a key's prefix and label (never the key).
pub fn key_created(prefix: &str, label: &str) -> EventDraft {
    EventDraft::new(EventType::KeyCreated)
        .subject(prefix)
        .changes(vec![change("label", Value::Null, label)])
}

/// `key.revoked`.
pub fn key_revoked(prefix: &str) -> EventDraft {
    EventDraft::new(EventType::KeyRevoked)
        .subject(prefix)
        .changes(vec![change("revoked", false, true)])
}

/// `category.created`.
pub fn category_created(id: i64, name: &str) -> EventDraft {
    EventDraft::new(EventType::CategoryCreated)
        .subject(id)
        .changes(vec![change("name", Value::Null, name)])
}

/// `category.renamed`, or nothing when the name stays.
pub fn category_renamed(id: i64, before: &str, after: &str) -> Option<EventDraft> {
    (before != after).then(|| {
        EventDraft::new(EventType::CategoryRenamed)
            .subject(id)
            .changes(vec![change("name", before, after)])
    })
}

/// `category.deleted`, and a `group.updated` for each group that moved to `heir`.
pub fn category_deleted(id: i64, name: &str, heir: i64, moved: &[i64]) -> Vec<EventDraft> {
    let deleted = EventDraft::new(EventType::CategoryDeleted)
        .subject(id)
        .changes(vec![change("name", name, Value::Null)]);
    std::iter::once(deleted)
        .chain(moved.iter().map(|g| {
            EventDraft::new(EventType::GroupUpdated)
                .group(*g)
                .changes(vec![change("category_id", id, heir)])
        }))
        .collect()
}

/// A custom field definition as an event shows it.
pub fn field_def_fields(f: &super::field::FieldDef) -> Vec<(String, Value)> {
    vec![
        ("name".into(), json!(f.name)),
        ("kind".into(), json!(f.kind.as_str())),
        ("options".into(), json!(f.options)),
    ]
}

/// `field.created`.
pub fn field_created(f: &super::field::FieldDef) -> EventDraft {
    EventDraft::new(EventType::FieldCreated)
        .subject(f.id)
        .changes(created(field_def_fields(f)))
}

/// `field.deleted` (groups' values for it go with it).
pub fn field_deleted(f: &super::field::FieldDef) -> EventDraft {
    EventDraft::new(EventType::FieldDeleted)
        .subject(f.id)
        .changes(deleted(field_def_fields(f)))
}

/// `group.created`, with every field.
pub fn group_created(g: &Group) -> EventDraft {
    EventDraft::new(EventType::GroupCreated)
        .group(g.id.0)
        .changes(created(group_fields(g)))
}

/// `group.updated`, or nothing when nothing changed.
pub fn group_updated(before: &Group, after: &Group) -> Option<EventDraft> {
    let changes = group_changes(before, after);
    (!changes.is_empty()).then(|| {
        EventDraft::new(EventType::GroupUpdated)
            .group(after.id.0)
            .changes(changes)
    })
}

/// `group.deleted`, with every field it had (its memberships end with it).
pub fn group_deleted(g: &Group) -> EventDraft {
    EventDraft::new(EventType::GroupDeleted)
        .group(g.id.0)
        .changes(deleted(group_fields(g)))
}

/// `user.created`.
pub fn user_created(u: &super::user::User) -> EventDraft {
    EventDraft::new(EventType::UserCreated)
        .user(u.id.0)
        .changes(created(user_fields(u)))
}

/// `user.updated`, or nothing when nothing changed.
pub fn user_updated(before: &super::user::User, after: &super::user::User) -> Option<EventDraft> {
    let changes = user_changes(before, after);
    (!changes.is_empty()).then(|| {
        EventDraft::new(EventType::UserUpdated)
            .user(after.id.0)
            .changes(changes)
    })
}

/// `user.deleted` (their memberships end with them).
pub fn user_deleted(u: &super::user::User) -> EventDraft {
    EventDraft::new(EventType::UserDeleted)
        .user(u.id.0)
        .changes(deleted(user_fields(u)))
}

/// `webhook.created`.
pub fn webhook_created(w: &super::webhook::Webhook) -> EventDraft {
    EventDraft::new(EventType::WebhookCreated)
        .subject(w.id)
        .changes(created(webhook_fields(w)))
}

/// `webhook.updated`, or nothing when nothing changed.
pub fn webhook_updated(
    before: &super::webhook::Webhook,
    after: &super::webhook::Webhook,
) -> Option<EventDraft> {
    let changes = diff(&webhook_fields(before), &webhook_fields(after));
    (!changes.is_empty()).then(|| {
        EventDraft::new(EventType::WebhookUpdated)
            .subject(after.id)
            .changes(changes)
    })
}

/// `webhook.deleted`.
pub fn webhook_deleted(w: &super::webhook::Webhook) -> EventDraft {
    EventDraft::new(EventType::WebhookDeleted)
        .subject(w.id)
        .changes(deleted(webhook_fields(w)))
}

/// `webhook.secret_rotated`: the secret reads "changed".
pub fn webhook_secret_rotated(id: i64) -> EventDraft {
    EventDraft::new(EventType::WebhookSecretRotated)
        .subject(id)
        .changes(vec![secret_change("secret")])
}

/// The events of an add of members (see [`super::membership::MemberAddPlan`]):
/// one `member.added` per user who joined, one `member.role_changed` per member
/// whose role changed from what `known` says it was.
pub fn member_add_events(
    group: i64,
    plan: &super::membership::MemberAddPlan,
    known: &super::membership::KnownUsers,
) -> Vec<EventDraft> {
    let role = plan.role.as_str();
    let added = plan.joining.iter().map(|u| {
        EventDraft::new(EventType::MemberAdded)
            .group(group)
            .user(u.0)
            .changes(vec![change("role", Value::Null, role)])
    });
    let changed = plan.role_changes.iter().map(|u| {
        let was = known.get(u).copied().flatten().map(|r| r.as_str());
        EventDraft::new(EventType::MemberRoleChanged)
            .group(group)
            .user(u.0)
            .changes(vec![change("role", json!(was), role)])
    });
    added.chain(changed).collect()
}

/// One `member.removed` per user who left.
pub fn member_removed_events(group: i64, left: &[super::user::UserId]) -> Vec<EventDraft> {
    left.iter()
        .map(|u| {
            EventDraft::new(EventType::MemberRemoved)
                .group(group)
                .user(u.0)
        })
        .collect()
}

/// Which events a page of the audit log holds.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only events after this id (keyset paging); 0 for the first page.
    pub after: i64,
    pub limit: u32,
    /// Only events of this type, noun (`group.*`) or any (`None`, `*`).
    pub kind: Option<EventPattern>,
    pub group: Option<i64>,
    pub user: Option<i64>,
    /// Only events by this actor (`key:<prefix>`, `cli`, ...).
    pub actor: Option<String>,
    /// Only events before this id (paging newest first); `None`: no bound.
    pub before: Option<i64>,
    /// Newest first (the console's view) instead of oldest first.
    pub newest_first: bool,
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
            external_id: None,
            created_at: 1,
            updated_at: 1,
        }
    }

    #[test]
    fn times_read_as_rfc3339() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_614_265_330_007), "2021-02-25T15:02:10.007Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_796_132_800_000), "2026-12-01T13:46:40.000Z");
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
        let prefix = KeyPrefix::parse("AbC12345").expect("a prefix");
        assert_eq!(Actor::Key(prefix).to_string(), "key:AbC12345");
        assert_eq!(Actor::User(7).to_string(), "user:7");
        assert_eq!(Actor::ScimKey(prefix).to_string(), "scim:key:AbC12345");
        assert!(KeyPrefix::parse("short").is_none());
        assert!(KeyPrefix::parse("AbC1234!").is_none());
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
