//! Re-keying identifiers stored before keys were normalised.
//!
//! Group slugs, usernames and email addresses are unique, and looked up, by a key
//! the domain computes ([`slug_key`], [`username_key`], [`email_key`]: NFKC with
//! full case folding). groupd before that stored the plain lower case of what was
//! sent. For ASCII the two agree; for anything else (fullwidth letters, `ß`,
//! ligatures, decomposed accents) the old key is one the domain never computes, so
//! the row is not found by its typed form and a look-alike is not caught as a
//! duplicate.
//!
//! Each engine runs the re-key once, as a data migration (a schema version whose
//! SQL part is empty, so the version records that it ran), and after every import
//! (exports carry keys as stored, possibly old ones). The engine reads the rows,
//! asks the domain for each key here, and writes the result; the rule itself stays
//! in the domain.
//!
//! A row whose new key another row already holds (`ａｄｍｉｎ` and `admin`, a
//! fullwidth email address and its ASCII twin, a slug and a username sharing the
//! `names` namespace) keeps its old key: the holder keeps the key, and among rows
//! that all need the same new key the oldest (lowest id) gets it. One `warn` line
//! per collision names the workspace, the tables and the row ids, never the values.

use crate::domain::slug::slug_key;
use crate::domain::user::{email_key, username_key};

/// Which rows a re-key looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Rows whose stored value has a character outside ASCII: the only ones whose
    /// old key (lower case) can differ from the new one. A migration at start.
    NonAscii,
    /// Every row: after an import, whose keys come from a file.
    All,
}

/// One kind of key: the column holding the value, the one holding its key, and
/// the `names` column that mirrors the key (slugs and usernames share a namespace).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Slug,
    Username,
    Email,
}

impl KeyKind {
    pub const ALL: [KeyKind; 3] = [KeyKind::Slug, KeyKind::Username, KeyKind::Email];

    pub fn table(self) -> &'static str {
        match self {
            KeyKind::Slug => "groups",
            KeyKind::Username | KeyKind::Email => "users",
        }
    }

    pub fn value_column(self) -> &'static str {
        match self {
            KeyKind::Slug => "slug",
            KeyKind::Username => "username",
            KeyKind::Email => "email",
        }
    }

    pub fn key_column(self) -> &'static str {
        match self {
            KeyKind::Slug => "slug_key",
            KeyKind::Username => "username_key",
            KeyKind::Email => "email_key",
        }
    }

    /// The `names` column that refers to this kind's row, when its key is a name.
    pub fn names_column(self) -> Option<&'static str> {
        match self {
            KeyKind::Slug => Some("group_id"),
            KeyKind::Username => Some("user_id"),
            KeyKind::Email => None,
        }
    }

    /// A row of this kind's table, as the holder of a key.
    pub fn holder(self, id: i64) -> Holder {
        match self {
            KeyKind::Slug => Holder::Group(id),
            KeyKind::Username | KeyKind::Email => Holder::User(id),
        }
    }

    /// The key the domain gives a stored value.
    pub fn key(self, value: &str) -> String {
        match self {
            KeyKind::Slug => slug_key(value),
            KeyKind::Username => username_key(value),
            KeyKind::Email => email_key(value),
        }
    }

    /// `SELECT id, workspace_id, value, key` of the rows `scope` looks at, oldest
    /// first (the oldest wins when several need the same new key). Plain SQL both
    /// engines accept: a value with a character outside ASCII has more bytes than
    /// characters.
    pub fn candidates_sql(self, scope: Scope) -> String {
        let (table, value, key) = (self.table(), self.value_column(), self.key_column());
        let filter = match scope {
            Scope::NonAscii => {
                format!(" AND octet_length({value}) <> length({value})")
            }
            Scope::All => String::new(),
        };
        format!(
            "SELECT id, workspace_id, {value}, {key} FROM {table} \
             WHERE {value} IS NOT NULL{filter} ORDER BY id"
        )
    }
}

/// A row to re-key, as read.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: i64,
    pub workspace: i64,
    pub value: String,
    pub key: Option<String>,
}

impl Candidate {
    /// The domain's key for this row when it differs from the stored one.
    pub fn new_key(&self, kind: KeyKind) -> Option<String> {
        let key = kind.key(&self.value);
        (self.key.as_deref() != Some(key.as_str())).then_some(key)
    }
}

/// The row that holds the key a candidate needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Group(i64),
    User(i64),
    /// The database refused the update (a row written by another instance during
    /// the migration); which row is not known.
    Unknown,
}

impl Holder {
    /// The holder a `names` row names (its group, else its user).
    pub fn of_names_row(group: Option<i64>, user: Option<i64>) -> Holder {
        match (group, user) {
            (Some(id), _) => Holder::Group(id),
            (None, Some(id)) => Holder::User(id),
            (None, None) => Holder::Unknown,
        }
    }
}

/// Logs one collision: workspace, tables and ids only (the values are names and
/// email addresses, personal data).
fn warn_collision(kind: KeyKind, candidate: &Candidate, holder: Holder) {
    let (held_by_table, held_by_id) = match holder {
        Holder::Group(id) => ("groups", Some(id)),
        Holder::User(id) => ("users", Some(id)),
        Holder::Unknown => ("unknown", None),
    };
    tracing::warn!(
        workspace = candidate.workspace,
        table = kind.table(),
        column = kind.key_column(),
        id = candidate.id,
        held_by_table,
        held_by_id,
        "identifier re-key: this row's normalised key is held by another row, so it \
         keeps its old key and is not found by its typed form; rename one of the two \
         (see docs/deploy.md, upgrade notes)"
    );
}

/// One row that kept its old key because another holds the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Collision {
    pub workspace: i64,
    pub kind: KeyKind,
    pub id: i64,
    pub holder: Holder,
}

/// What a re-key did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub rekeyed: u64,
    pub collisions: Vec<Collision>,
}

impl Outcome {
    /// Records (and logs) a row that keeps its old key.
    pub fn collide(&mut self, kind: KeyKind, row: &Candidate, holder: Holder) {
        warn_collision(kind, row, holder);
        self.collisions.push(Collision {
            workspace: row.workspace,
            kind,
            id: row.id,
            holder,
        });
    }

    pub fn log(&self, scope: Scope) {
        if self.rekeyed > 0 || !self.collisions.is_empty() {
            tracing::info!(
                rekeyed = self.rekeyed,
                collisions = self.collisions.len(),
                after_import = scope == Scope::All,
                "identifier keys recomputed (NFKC with case folding)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changed_keys_are_rewritten() {
        let row = |value: &str, key: &str| Candidate {
            id: 1,
            workspace: 1,
            value: value.into(),
            key: Some(key.into()),
        };
        // The old key was the plain lower case.
        let cafe = row("ｃａｆé", &"ｃａｆé".to_lowercase());
        assert_eq!(cafe.new_key(KeyKind::Slug).as_deref(), Some("café"));
        let strasse = row("Straße@Example.de", "straße@example.de");
        assert_eq!(
            strasse.new_key(KeyKind::Email).as_deref(),
            Some("strasse@example.de")
        );
        assert_eq!(row("Ada", "ada").new_key(KeyKind::Username), None);
        assert_eq!(row("Café", "café").new_key(KeyKind::Slug), None);
    }
}
