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
    /// Only pinned groups (`Some(true)`) or only the others (`Some(false)`).
    pub pinned: Option<bool>,
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
        let all = match self.after {
            Some(GroupCursor { pinned: true, id }) => vec![(true, id.0), (false, 0)],
            Some(GroupCursor { pinned: false, id }) => vec![(false, id.0)],
            None => vec![(true, 0), (false, 0)],
        };
        all.into_iter()
            .filter(|(pinned, _)| self.pinned.is_none_or(|want| want == *pinned))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pinned: Option<bool>, after: Option<GroupCursor>) -> GroupQuery {
        GroupQuery {
            category: None,
            name_prefix: None,
            secret: None,
            pinned,
            visible_to: None,
            after,
            limit: 10,
        }
    }

    #[test]
    fn pages_read_pinned_groups_first_and_filter_by_pinned() {
        let at = |pinned, id| {
            Some(GroupCursor {
                pinned,
                id: GroupId(id),
            })
        };
        assert_eq!(query(None, None).parts(), [(true, 0), (false, 0)]);
        assert_eq!(query(None, at(true, 7)).parts(), [(true, 7), (false, 0)]);
        assert_eq!(query(None, at(false, 7)).parts(), [(false, 7)]);
        assert_eq!(query(Some(true), None).parts(), [(true, 0)]);
        assert_eq!(query(Some(false), None).parts(), [(false, 0)]);
        assert_eq!(query(Some(true), at(false, 7)).parts(), []);
    }
}
