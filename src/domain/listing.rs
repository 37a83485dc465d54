//! Pages of groups: which groups a list shows and in what order (pinned first,
//! then by id), and where the next page starts. Dialects build a [`GroupQuery`];
//! the engines read it.

use super::group::GroupId;
use super::user::UserId;

/// Where a page of groups starts: after this (pinned, id) in list order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCursor {
    pub pinned: bool,
    pub id: GroupId,
}

/// A page of groups in list order: pinned first, then by id.
#[derive(Debug, Clone, Default)]
pub struct GroupQuery {
    pub category: Option<i64>,
    /// Lower-case name prefix.
    pub name_prefix: Option<String>,
    pub secret: Option<bool>,
    /// Leave out secret groups this user is not a member of.
    pub visible_to: Option<UserId>,
    pub after: Option<GroupCursor>,
    pub limit: u32,
}

impl GroupQuery {
    /// The parts a page is read in, in order, each `(pinned, after id)`: pinned
    /// groups first, then the rest, starting where the cursor left off. Each part
    /// is one range of one index in both engines.
    pub fn parts(&self) -> Vec<(bool, i64)> {
        match self.after {
            Some(GroupCursor { pinned: true, id }) => vec![(true, id.0), (false, 0)],
            Some(GroupCursor { pinned: false, id }) => vec![(false, id.0)],
            None => vec![(true, 0), (false, 0)],
        }
    }
}
