//! Removing groups and categories: what may go, who inherits what it held.
//!
//! Pure decisions fed with the rows an engine read inside its write transaction.
//! The engine reads, asks, and writes what was decided; it decides nothing itself.
//!
//! Groups go one after the other in the order asked, inside one transaction (all
//! or none). The engine asks [`GroupRemoval::start`] before reading anything, then
//! reads (and on PostgreSQL locks) the successor and asks
//! [`GroupRemoval::successor_found`], then for each group reads its row and asks
//! [`GroupRemoval::admit`], reads its members and asks [`GroupRemoval::movers`]
//! who joins the successor, adds them (membership rules apply: the successor's
//! `limit_user`), and deletes the group. Asking group by group keeps the first
//! refusal the one an earlier answer gave, a full successor included.

use super::category::{DEFAULT_CATEGORY_ID, DEFAULT_CATEGORY_NAME};
use super::group::GroupId;
use super::user::UserId;

/// Why a removal is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RemovalError {
    /// A group asked for is not in the workspace (or was named twice: by its
    /// second mention it is gone).
    #[error("group {} not found", .0.0)]
    UnknownGroup(GroupId),
    /// The successor named to take over the members is not in the workspace.
    #[error("group {}, named to take over the members, does not exist", .0.0)]
    UnknownSuccessor(GroupId),
    /// Built-in groups (visitors, users, administrators) always exist.
    #[error("group {} is built in and cannot be removed", .0.0)]
    BuiltinGroup(GroupId),
    /// The successor is one of the groups removed.
    #[error("group {} cannot take over from itself", .0.0)]
    SuccessorAmongRemoved(GroupId),
    /// Category 1 always exists: groups of removed categories go there.
    #[error("category {DEFAULT_CATEGORY_ID} ({DEFAULT_CATEGORY_NAME}) always exists")]
    DefaultCategory,
    /// The category asked for is not in the workspace.
    #[error("category {0} does not exist")]
    UnknownCategory(i64),
}

/// A group's row as a removal needs it (`None` where the workspace has no such group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemovalRow {
    /// Whether it is one of the built-in groups (any built-in kind, known or not).
    pub builtin: bool,
}

/// One member of a group being removed, as read: whether they already belong to
/// the successor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub user: UserId,
    pub in_successor: bool,
}

/// The removal of several groups, decided group by group (see the module notes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRemoval {
    successor: Option<GroupId>,
    removed: Vec<GroupId>,
}

impl GroupRemoval {
    /// Before any row is read: a successor cannot be one of the groups it takes
    /// over from.
    pub fn start(ids: &[GroupId], successor: Option<GroupId>) -> Result<Self, RemovalError> {
        if let Some(alt) = successor {
            if ids.contains(&alt) {
                return Err(RemovalError::SuccessorAmongRemoved(alt));
            }
        }
        Ok(GroupRemoval {
            successor,
            removed: Vec::with_capacity(ids.len()),
        })
    }

    /// The group that takes over the members, if any: the engine reads its row.
    pub fn successor(&self) -> Option<GroupId> {
        self.successor
    }

    /// The successor's row, read before any group: it must exist. Any group may
    /// take over, a built-in one included (the service keeps members out of the
    /// administrators' group before the store is asked).
    pub fn successor_found(&self, row: Option<RemovalRow>) -> Result<(), RemovalError> {
        match (self.successor, row) {
            (Some(alt), None) => Err(RemovalError::UnknownSuccessor(alt)),
            _ => Ok(()),
        }
    }

    /// The next group to remove, with its row: it must exist, must not be built
    /// in, and must not have been removed already by this removal.
    pub fn admit(&mut self, id: GroupId, row: Option<RemovalRow>) -> Result<(), RemovalError> {
        match row {
            _ if self.removed.contains(&id) => Err(RemovalError::UnknownGroup(id)),
            None => Err(RemovalError::UnknownGroup(id)),
            Some(RemovalRow { builtin: true }) => Err(RemovalError::BuiltinGroup(id)),
            Some(RemovalRow { builtin: false }) => {
                self.removed.push(id);
                Ok(())
            }
        }
    }

    /// Who of an admitted group's members joins the successor: everyone not
    /// already in it, once each, in the order read. They join as plain members;
    /// those already there keep their membership and role. Nobody moves without
    /// a successor.
    pub fn movers(&self, members: impl IntoIterator<Item = Member>) -> Vec<UserId> {
        if self.successor.is_none() {
            return Vec::new();
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut out: Vec<UserId> = Vec::new();
        for m in members {
            if !m.in_successor && seen.insert(m.user) {
                out.push(m.user);
            }
        }
        out
    }

    /// The groups admitted so far, in order.
    #[cfg(test)]
    pub fn removed(&self) -> &[GroupId] {
        &self.removed
    }
}

/// What removing a category does: its groups move to `heir`, then it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CategoryRemoval {
    pub category: i64,
    pub heir: i64,
}

/// Before any row is read: category 1 cannot be removed.
pub fn may_remove_category(id: i64) -> Result<(), RemovalError> {
    if id == DEFAULT_CATEGORY_ID {
        Err(RemovalError::DefaultCategory)
    } else {
        Ok(())
    }
}

/// The removal of category `id`, given whether the workspace has it: its groups
/// go to category 1.
pub fn plan_category_removal(id: i64, exists: bool) -> Result<CategoryRemoval, RemovalError> {
    may_remove_category(id)?;
    if !exists {
        return Err(RemovalError::UnknownCategory(id));
    }
    Ok(CategoryRemoval {
        category: id,
        heir: DEFAULT_CATEGORY_ID,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Option<RemovalRow> = Some(RemovalRow { builtin: false });
    const BUILTIN: Option<RemovalRow> = Some(RemovalRow { builtin: true });

    fn g(id: i64) -> GroupId {
        GroupId(id)
    }

    fn member(user: i64, in_successor: bool) -> Member {
        Member {
            user: UserId(user),
            in_successor,
        }
    }

    #[test]
    fn a_successor_among_the_removed_is_refused_before_reading() {
        assert_eq!(
            GroupRemoval::start(&[g(4), g(5)], Some(g(5))),
            Err(RemovalError::SuccessorAmongRemoved(g(5)))
        );
        assert!(GroupRemoval::start(&[g(4), g(5)], Some(g(6))).is_ok());
        assert!(GroupRemoval::start(&[g(4)], None).is_ok());
        assert!(GroupRemoval::start(&[], Some(g(4))).is_ok());
    }

    #[test]
    fn the_successor_must_exist_and_may_be_built_in() {
        let r = GroupRemoval::start(&[g(4)], Some(g(9))).unwrap();
        assert_eq!(r.successor(), Some(g(9)));
        assert_eq!(
            r.successor_found(None),
            Err(RemovalError::UnknownSuccessor(g(9)))
        );
        assert_eq!(r.successor_found(PLAIN), Ok(()));
        assert_eq!(r.successor_found(BUILTIN), Ok(()));
        let none = GroupRemoval::start(&[g(4)], None).unwrap();
        assert_eq!(none.successor(), None);
        assert_eq!(none.successor_found(None), Ok(()));
    }

    #[test]
    fn groups_are_admitted_in_order_until_one_is_refused() {
        let mut r = GroupRemoval::start(&[g(4), g(5), g(6)], None).unwrap();
        assert_eq!(r.admit(g(4), PLAIN), Ok(()));
        assert_eq!(r.admit(g(5), None), Err(RemovalError::UnknownGroup(g(5))));
        assert_eq!(
            r.admit(g(2), BUILTIN),
            Err(RemovalError::BuiltinGroup(g(2)))
        );
        assert_eq!(r.admit(g(6), PLAIN), Ok(()));
        assert_eq!(r.removed(), [g(4), g(6)]);
    }

    #[test]
    fn a_group_named_twice_is_gone_by_its_second_mention() {
        let mut r = GroupRemoval::start(&[g(4), g(4)], None).unwrap();
        assert_eq!(r.admit(g(4), PLAIN), Ok(()));
        assert_eq!(r.admit(g(4), PLAIN), Err(RemovalError::UnknownGroup(g(4))));
    }

    #[test]
    fn members_not_in_the_successor_move_once_each() {
        let r = GroupRemoval::start(&[g(4)], Some(g(5))).unwrap();
        let moved = r.movers([
            member(1, false),
            member(2, true),
            member(3, false),
            member(1, false),
        ]);
        assert_eq!(moved, [UserId(1), UserId(3)]);
        assert_eq!(r.movers([member(2, true)]), []);
        assert_eq!(r.movers([]), []);
    }

    #[test]
    fn without_a_successor_nobody_moves() {
        let r = GroupRemoval::start(&[g(4)], None).unwrap();
        assert_eq!(r.movers([member(1, false)]), []);
    }

    #[test]
    fn category_one_always_exists() {
        assert_eq!(
            may_remove_category(DEFAULT_CATEGORY_ID),
            Err(RemovalError::DefaultCategory)
        );
        assert_eq!(
            plan_category_removal(DEFAULT_CATEGORY_ID, true),
            Err(RemovalError::DefaultCategory)
        );
        assert_eq!(may_remove_category(2), Ok(()));
    }

    #[test]
    fn a_removed_category_hands_its_groups_to_category_one() {
        assert_eq!(
            plan_category_removal(3, true),
            Ok(CategoryRemoval {
                category: 3,
                heir: DEFAULT_CATEGORY_ID
            })
        );
        assert_eq!(
            plan_category_removal(3, false),
            Err(RemovalError::UnknownCategory(3))
        );
    }

    #[test]
    fn refusals_read_as_before() {
        assert_eq!(
            RemovalError::SuccessorAmongRemoved(g(4)).to_string(),
            "group 4 cannot take over from itself"
        );
        assert_eq!(
            RemovalError::DefaultCategory.to_string(),
            "category 1 (Uncategorized) always exists"
        );
        assert_eq!(
            RemovalError::BuiltinGroup(g(2)).to_string(),
            "group 2 is built in and cannot be removed"
        );
    }
}
