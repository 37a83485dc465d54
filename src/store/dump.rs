//! Export and import: every row of a workspace (or of all) as JSON Lines, the same
//! for both engines, so a database moves SQLite -> PostgreSQL -> SQLite unchanged.
//!
//! The format: a first line `{"groupd_export":1}`, then one line per row,
//! `{"table":"groups","row":{"id":4,...}}`, tables in an order that satisfies
//! foreign keys. Bytes (key hashes, icons) are base64. Idempotency keys are not
//! exported (they expire within a day anyway).

use super::StoreError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value as Json};

pub const FORMAT_VERSION: i64 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Int,
    Text,
    Bool,
    /// A yes/no that exports made before it existed lack: missing is true.
    BoolOrTrue,
    Bytes,
    OptInt,
    OptText,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Text(String),
    Bool(bool),
    Bytes(Vec<u8>),
}

pub struct TableSpec {
    pub name: &'static str,
    pub columns: &'static [(&'static str, ColType)],
    /// SQL condition selecting one workspace's rows, with `{ws}` for the id.
    pub workspace_filter: &'static str,
    pub order_by: &'static str,
}

use ColType::*;

pub const TABLES: &[TableSpec] = &[
    TableSpec {
        name: "workspaces",
        columns: &[
            ("id", Int),
            ("name", Text),
            ("created_at", Int),
            ("next_category_id", Int),
            ("next_field_id", Int),
        ],
        workspace_filter: "id = {ws}",
        order_by: "id",
    },
    TableSpec {
        name: "api_keys",
        columns: &[
            ("prefix", Text),
            ("workspace_id", Int),
            ("hash", Bytes),
            ("label", Text),
            ("created_at", Int),
            ("revoked_at", OptInt),
        ],
        workspace_filter: "workspace_id = {ws}",
        order_by: "prefix",
    },
    TableSpec {
        name: "categories",
        columns: &[
            ("workspace_id", Int),
            ("id", Int),
            ("name", Text),
            ("created_at", Int),
        ],
        workspace_filter: "workspace_id = {ws}",
        order_by: "workspace_id, id",
    },
    TableSpec {
        name: "field_defs",
        columns: &[
            ("workspace_id", Int),
            ("id", Int),
            ("name", Text),
            ("kind", Text),
            ("options", Text),
            ("created_at", Int),
        ],
        workspace_filter: "workspace_id = {ws}",
        order_by: "workspace_id, id",
    },
    TableSpec {
        name: "groups",
        columns: &[
            ("id", Int),
            ("workspace_id", Int),
            ("name", Text),
            ("name_key", Text),
            ("slug", OptText),
            ("slug_key", OptText),
            ("description", Text),
            ("category_id", Int),
            ("secret", Bool),
            ("unleavable", Bool),
            ("pinned", Bool),
            ("password_hash", OptText),
            ("policy", Text),
            ("builtin", OptText),
            ("member_count", Int),
            ("created_at", Int),
            ("updated_at", Int),
            ("external_id", OptText),
        ],
        workspace_filter: "workspace_id = {ws}",
        order_by: "id",
    },
    TableSpec {
        name: "group_field_values",
        columns: &[
            ("group_id", Int),
            ("workspace_id", Int),
            ("field_id", Int),
            ("value", Text),
        ],
        workspace_filter: "workspace_id = {ws}",
        order_by: "group_id, field_id",
    },
    TableSpec {
        name: "group_icons",
        // `token` may be missing from exports made before icons had one; the
        // import then makes one.
        columns: &[
            ("group_id", Int),
            ("content_type", Text),
            ("data", Bytes),
            ("token", OptText),
        ],
        workspace_filter: "group_id IN (SELECT id FROM groups WHERE workspace_id = {ws})",
        order_by: "group_id",
    },
    TableSpec {
        name: "users",
        columns: &[
            ("id", Int),
            ("workspace_id", Int),
            ("full_name", Text),
            ("username", Text),
            ("username_key", Text),
            ("email", Text),
            ("email_key", Text),
            ("password_hash", Text),
            ("created_at", Int),
            ("updated_at", Int),
            ("external_id", OptText),
            ("active", BoolOrTrue),
            ("idp_user_name", OptText),
            ("idp_user_name_key", OptText),
        ],
        workspace_filter: "workspace_id = {ws}",
        order_by: "id",
    },
    TableSpec {
        name: "memberships",
        columns: &[
            ("group_id", Int),
            ("user_id", Int),
            ("role", Text),
            ("joined_at", Int),
        ],
        workspace_filter: "group_id IN (SELECT id FROM groups WHERE workspace_id = {ws})",
        order_by: "group_id, user_id",
    },
];

impl TableSpec {
    /// `SELECT ... FROM table [WHERE filter] ORDER BY ...` for one workspace or all.
    pub fn select_sql(&self, ws: Option<i64>) -> String {
        self.select_sql_with(ws, |_| None)
    }

    /// [`select_sql`](Self::select_sql), with `expr(column)` in place of the
    /// columns an engine stores otherwise (each still read as `column`).
    pub fn select_sql_with(
        &self,
        ws: Option<i64>,
        expr: impl Fn(&str) -> Option<&'static str>,
    ) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|(c, _)| match expr(c) {
                Some(e) => format!("{e} AS {c}"),
                None => (*c).to_string(),
            })
            .collect();
        let filter = match ws {
            Some(id) => format!(
                " WHERE {}",
                self.workspace_filter.replace("{ws}", &id.to_string())
            ),
            None => String::new(),
        };
        format!(
            "SELECT {} FROM {}{} ORDER BY {}",
            cols.join(", "),
            self.name,
            filter,
            self.order_by
        )
    }

    pub fn column_names(&self) -> Vec<&'static str> {
        self.columns.iter().map(|(c, _)| *c).collect()
    }
}

pub fn find_table(name: &str) -> Option<&'static TableSpec> {
    TABLES.iter().find(|t| t.name == name)
}

/// One row as a JSON Lines record.
pub fn row_line(table: &TableSpec, cells: &[Cell]) -> String {
    let mut row = Map::new();
    for ((col, _), cell) in table.columns.iter().zip(cells) {
        let v = match cell {
            Cell::Null => Json::Null,
            Cell::Int(n) => Json::from(*n),
            Cell::Text(s) => Json::from(s.clone()),
            Cell::Bool(b) => Json::from(*b),
            Cell::Bytes(b) => Json::from(STANDARD.encode(b)),
        };
        row.insert(col.to_string(), v);
    }
    let mut line = Map::new();
    line.insert("table".into(), Json::from(table.name));
    line.insert("row".into(), Json::Object(row));
    Json::Object(line).to_string()
}

pub fn header_line() -> String {
    format!("{{\"groupd_export\":{FORMAT_VERSION}}}")
}

/// Reads a JSON Lines export into (table, rows) batches in file order.
/// Rows of one table, in file order.
pub type Batch = (&'static TableSpec, Vec<Vec<Cell>>);

pub fn parse(text: &str) -> Result<Vec<Batch>, StoreError> {
    let bad = |n: usize, why: String| StoreError::Refused(format!("line {n} of the export: {why}"));
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    match lines.next() {
        Some((_, l))
            if serde_json::from_str::<Json>(l)
                .ok()
                .and_then(|v| v.get("groupd_export").and_then(Json::as_i64))
                == Some(FORMAT_VERSION) => {}
        _ => {
            return Err(StoreError::Refused(
                "not a groupd export (its first line must be {\"groupd_export\":1})".into(),
            ));
        }
    }
    let mut out: Vec<Batch> = Vec::new();
    for (i, line) in lines {
        let n = i + 1;
        let v: Json = serde_json::from_str(line).map_err(|e| bad(n, e.to_string()))?;
        let name = v
            .get("table")
            .and_then(Json::as_str)
            .ok_or_else(|| bad(n, "no table".into()))?;
        let table = find_table(name).ok_or_else(|| bad(n, format!("unknown table {name}")))?;
        let row = v
            .get("row")
            .and_then(Json::as_object)
            .ok_or_else(|| bad(n, "no row".into()))?;
        let mut cells = Vec::with_capacity(table.columns.len());
        for (col, ty) in table.columns {
            let val = row.get(*col).unwrap_or(&Json::Null);
            let cell = match (ty, val) {
                (OptInt | OptText, Json::Null) => Cell::Null,
                (BoolOrTrue, Json::Null) => Cell::Bool(true),
                (Int | OptInt, v) => Cell::Int(
                    v.as_i64()
                        .ok_or_else(|| bad(n, format!("{col} is not a number")))?,
                ),
                (Text | OptText, v) => Cell::Text(
                    v.as_str()
                        .ok_or_else(|| bad(n, format!("{col} is not text")))?
                        .to_string(),
                ),
                (Bool | BoolOrTrue, v) => Cell::Bool(
                    v.as_bool()
                        .ok_or_else(|| bad(n, format!("{col} is not true/false")))?,
                ),
                (Bytes, v) => Cell::Bytes(
                    STANDARD
                        .decode(
                            v.as_str()
                                .ok_or_else(|| bad(n, format!("{col} is not base64")))?,
                        )
                        .map_err(|e| bad(n, format!("{col}: {e}")))?,
                ),
            };
            // A group's policy must read back, or every look-up of that group
            // would fail later.
            if let Cell::Text(t) = &cell {
                if table.name == "groups" && *col == "policy" {
                    serde_json::from_str::<crate::domain::policy::GroupPolicy>(t)
                        .map_err(|e| bad(n, format!("the group's policy cannot be read: {e}")))?;
                }
            }
            // A membership role is stored as its canonical name; an export edited
            // by hand gets it back in that form, or is refused.
            let cell = match cell {
                Cell::Text(t) if table.name == "memberships" && *col == "role" => {
                    let role = crate::domain::user::GroupRole::parse(&t)
                        .map_err(|why| bad(n, format!("role '{t}' {why}")))?;
                    Cell::Text(role.as_str().to_string())
                }
                other => other,
            };
            // An icon token becomes part of a public URL: one of any other shape
            // is dropped, and the import makes a new one.
            let cell = match cell {
                Cell::Text(t)
                    if table.name == "group_icons"
                        && *col == "token"
                        && !crate::domain::group::is_icon_token(&t) =>
                {
                    Cell::Null
                }
                other => other,
            };
            cells.push(cell);
        }
        match out.last_mut() {
            Some((t, rows)) if t.name == table.name => rows.push(cells),
            _ => out.push((table, vec![cells])),
        }
    }
    Ok(out)
}

/// An import loads only into a database without workspaces.
pub fn refuse_unless_empty(workspaces: i64) -> Result<(), StoreError> {
    if workspaces > 0 {
        Err(StoreError::ImportNotEmpty)
    } else {
        Ok(())
    }
}

/// The INSERT of one table's rows, with the engine's placeholders (`?1` / `$1`).
pub fn insert_sql(table: &TableSpec, placeholder: char) -> String {
    let cols = table.column_names();
    let marks: Vec<String> = (1..=cols.len())
        .map(|i| format!("{placeholder}{i}"))
        .collect();
    format!(
        "INSERT INTO {} ({}) VALUES ({})",
        table.name,
        cols.join(", "),
        marks.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn membership(role: &str) -> String {
        format!(
            "{}\n{{\"table\":\"memberships\",\"row\":{{\"group_id\":4,\"user_id\":1,\"role\":\"{role}\",\"joined_at\":1}}}}\n",
            header_line()
        )
    }

    #[test]
    fn membership_roles_are_read_in_their_canonical_form_or_refused() {
        let batches = parse(&membership(" Administrator ")).expect("parse");
        let (table, rows) = &batches[0];
        assert_eq!(table.name, "memberships");
        assert_eq!(rows[0][2], Cell::Text("admin".into()));
        let Err(err) = parse(&membership("owner")) else {
            panic!("an unknown role was accepted");
        };
        assert!(matches!(err, StoreError::Refused(_)), "{err:?}");
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn a_group_policy_that_does_not_read_back_is_refused() {
        let line = "{\"table\":\"groups\",\"row\":{\"id\":4,\"workspace_id\":1,\"name\":\"A\",\
            \"name_key\":\"a\",\"description\":\"\",\"category_id\":1,\"secret\":false,\
            \"unleavable\":false,\"pinned\":false,\"policy\":\"{not json\",\"member_count\":0,\
            \"created_at\":1,\"updated_at\":1}}";
        let Err(err) = parse(&format!("{}\n{line}\n", header_line())) else {
            panic!("a broken policy was accepted");
        };
        assert!(
            err.to_string()
                .contains("line 2 of the export: the group's policy cannot be read"),
            "{err}"
        );
    }
}
