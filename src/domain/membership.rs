//! Who may join a group, whose role changes, who may leave: the membership rules,
//! stated once. The engines read the rows inside their transaction (the group's
//! policy and member count, which of the users asked exist and their current
//! roles), ask these functions, and write what they decide.

use super::policy::GroupPolicy;
use super::user::{GroupRole, UserId};
use std::collections::{BTreeMap, BTreeSet};

/// What adding an existing member does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnExisting {
    /// Leave them (their role changes when a role is given).
    Keep,
    /// Refuse with [`MembershipError::AlreadyMember`].
    Fail,
}

/// Why a membership change is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MembershipError {
    #[error("user {} does not exist", .0.0)]
    UnknownUser(UserId),
    #[error("the group has room for {room} more member(s) (limit_user {limit})")]
    GroupFull { limit: i64, room: i64 },
    #[error("user {} is already a member", .0.0)]
    AlreadyMember(UserId),
    #[error("user {} is not a member", .0.0)]
    NotAMember(UserId),
}

/// The users asked for, as the engine found them in the workspace: each one that
/// exists, with their current role in the group when they are a member.
pub type KnownUsers = BTreeMap<UserId, Option<GroupRole>>;

/// What an add writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberAddPlan {
    /// Users who become members with [`role`](Self::role): once each, in the order asked.
    pub joining: Vec<UserId>,
    /// Members whose role becomes [`role`](Self::role) (only those it changes).
    pub role_changes: Vec<UserId>,
    /// The role the joining users get, and the members in `role_changes`.
    pub role: GroupRole,
    /// The group's member count afterwards.
    pub member_count: i64,
}

/// Whether an add to a group with `policy` depends on how many members it has:
/// only under a member limit. Where it does not, an engine may plan an add
/// without reading the count (and without holding the row that keeps it).
pub fn adds_need_count(policy: &GroupPolicy) -> bool {
    policy.member_limit().is_some()
}

/// Decides an add of `asked` to a group with `policy` and `member_count` members.
///
/// Users are taken in the order asked: the first one not in `known` is an
/// [`UnknownUser`](MembershipError::UnknownUser); a member under [`OnExisting::Fail`]
/// is [`AlreadyMember`](MembershipError::AlreadyMember), under [`OnExisting::Keep`]
/// keeps their place and takes `role` when one is given. A user named twice joins
/// once. The members with those joining must fit under `limit_user`
/// ([`GroupFull`](MembershipError::GroupFull); checked even when nobody joins, so a
/// group over a lowered limit takes no change); they join as `role`, by default
/// [`GroupRole::Member`].
pub fn plan_member_adds(
    policy: &GroupPolicy,
    member_count: i64,
    asked: &[UserId],
    known: &KnownUsers,
    role: Option<GroupRole>,
    on_existing: OnExisting,
) -> Result<MemberAddPlan, MembershipError> {
    let mut joining = Vec::new();
    let mut role_changes = Vec::new();
    let mut seen = BTreeSet::new();
    for &user in asked {
        let Some(current) = known.get(&user) else {
            return Err(MembershipError::UnknownUser(user));
        };
        match (current, on_existing) {
            (Some(_), OnExisting::Fail) => return Err(MembershipError::AlreadyMember(user)),
            (Some(current), OnExisting::Keep) => {
                if role.is_some_and(|r| r != *current) && seen.insert(user) {
                    role_changes.push(user);
                }
            }
            (None, _) => {
                if seen.insert(user) {
                    joining.push(user);
                }
            }
        }
    }
    policy
        .room_for(member_count, joining.len())
        .map_err(|(limit, room)| MembershipError::GroupFull { limit, room })?;
    Ok(MemberAddPlan {
        member_count: member_count + joining.len() as i64,
        joining,
        role_changes,
        role: role.unwrap_or(GroupRole::Member),
    })
}

/// Decides a removal of `asked` from a group, given `were_members`: those of them
/// who were members when the engine removed them. Users are taken in the order
/// asked; with `require_member`, the first who is not a member, or is named a
/// second time (by then no longer one), is [`NotAMember`](MembershipError::NotAMember).
/// Returns the users who left, once each, in the order asked.
pub fn plan_member_removals(
    asked: &[UserId],
    were_members: &BTreeSet<UserId>,
    require_member: bool,
) -> Result<Vec<UserId>, MembershipError> {
    let mut leaving = Vec::new();
    let mut left = BTreeSet::new();
    for &user in asked {
        if were_members.contains(&user) && left.insert(user) {
            leaving.push(user);
        } else if require_member {
            return Err(MembershipError::NotAMember(user));
        }
    }
    Ok(leaving)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::policy::{Limit, LimitKind};

    const ADA: UserId = UserId(1);
    const BOB: UserId = UserId(2);
    const CY: UserId = UserId(3);

    fn limited(amount: i64) -> GroupPolicy {
        let mut p = GroupPolicy::default();
        p.limits.insert(
            LimitKind::User,
            Limit {
                amount,
                period: None,
            },
        );
        p
    }

    fn known(users: &[(UserId, Option<GroupRole>)]) -> KnownUsers {
        users.iter().copied().collect()
    }

    fn add(
        policy: &GroupPolicy,
        count: i64,
        asked: &[UserId],
        known: &KnownUsers,
        role: Option<GroupRole>,
        on_existing: OnExisting,
    ) -> Result<MemberAddPlan, MembershipError> {
        plan_member_adds(policy, count, asked, known, role, on_existing)
    }

    #[test]
    fn new_users_join_once_each_in_the_order_asked() {
        let k = known(&[(ADA, None), (BOB, None), (CY, None)]);
        let plan = add(
            &GroupPolicy::default(),
            5,
            &[CY, ADA, CY, BOB, ADA],
            &k,
            None,
            OnExisting::Keep,
        )
        .unwrap();
        assert_eq!(plan.joining, [CY, ADA, BOB]);
        assert_eq!(plan.role, GroupRole::Member, "the default role");
        assert!(plan.role_changes.is_empty());
        assert_eq!(plan.member_count, 8);
        // A user named twice is no member the second time, even under Fail.
        let plan = add(
            &GroupPolicy::default(),
            0,
            &[ADA, ADA],
            &k,
            Some(GroupRole::Admin),
            OnExisting::Fail,
        )
        .unwrap();
        assert_eq!((plan.joining, plan.role), (vec![ADA], GroupRole::Admin));
        // Nobody asked: nothing to write.
        let plan = add(&limited(3), 3, &[], &k, None, OnExisting::Fail).unwrap();
        assert_eq!(
            plan,
            MemberAddPlan {
                joining: vec![],
                role_changes: vec![],
                role: GroupRole::Member,
                member_count: 3
            }
        );
    }

    #[test]
    fn the_first_unknown_user_in_order_is_refused() {
        let k = known(&[(ADA, Some(GroupRole::Member)), (BOB, None)]);
        assert_eq!(
            add(
                &GroupPolicy::default(),
                1,
                &[BOB, CY],
                &k,
                None,
                OnExisting::Keep
            ),
            Err(MembershipError::UnknownUser(CY))
        );
        // Checked user by user: a member before the unknown user is refused first.
        assert_eq!(
            add(
                &GroupPolicy::default(),
                1,
                &[ADA, CY],
                &k,
                None,
                OnExisting::Fail
            ),
            Err(MembershipError::AlreadyMember(ADA))
        );
        assert_eq!(
            add(
                &GroupPolicy::default(),
                1,
                &[CY, ADA],
                &k,
                None,
                OnExisting::Fail
            ),
            Err(MembershipError::UnknownUser(CY))
        );
        // An unknown user is refused before the limit is looked at.
        assert_eq!(
            add(&limited(0), 1, &[BOB, CY], &k, None, OnExisting::Keep),
            Err(MembershipError::UnknownUser(CY))
        );
    }

    #[test]
    fn existing_members_keep_their_place_or_are_refused() {
        let k = known(&[
            (ADA, Some(GroupRole::Member)),
            (BOB, Some(GroupRole::Admin)),
            (CY, None),
        ]);
        // Keep without a role: nothing changes for them.
        let plan = add(&limited(3), 2, &[ADA, BOB, CY], &k, None, OnExisting::Keep).unwrap();
        assert_eq!(plan.joining, [CY]);
        assert!(plan.role_changes.is_empty());
        assert_eq!(plan.member_count, 3);
        // Keep with a role: members whose role it changes take it, once each.
        let plan = add(
            &limited(3),
            2,
            &[BOB, ADA, CY, ADA],
            &k,
            Some(GroupRole::Moderator),
            OnExisting::Keep,
        )
        .unwrap();
        assert_eq!(plan.role_changes, [BOB, ADA]);
        assert_eq!(plan.joining, [CY]);
        assert_eq!(plan.role, GroupRole::Moderator);
        // ... and only those: Bob is an admin already.
        let plan = add(
            &limited(3),
            2,
            &[ADA, BOB],
            &k,
            Some(GroupRole::Admin),
            OnExisting::Keep,
        )
        .unwrap();
        assert_eq!(plan.role_changes, [ADA]);
        assert!(plan.joining.is_empty());
        assert_eq!(plan.member_count, 2);
        // Fail: the first member asked is refused.
        assert_eq!(
            add(
                &GroupPolicy::default(),
                2,
                &[CY, BOB, ADA],
                &k,
                Some(GroupRole::Admin),
                OnExisting::Fail
            ),
            Err(MembershipError::AlreadyMember(BOB))
        );
    }

    #[test]
    fn limit_user_is_never_exceeded() {
        let k = known(&[(ADA, None), (BOB, None), (CY, Some(GroupRole::Member))]);
        // Exactly full is fine.
        let plan = add(&limited(3), 1, &[ADA, BOB], &k, None, OnExisting::Keep).unwrap();
        assert_eq!(plan.member_count, 3);
        // One over is refused, with the room left.
        assert_eq!(
            add(&limited(2), 1, &[ADA, BOB], &k, None, OnExisting::Keep),
            Err(MembershipError::GroupFull { limit: 2, room: 1 })
        );
        // Repeats and existing members take no room.
        let plan = add(
            &limited(2),
            1,
            &[ADA, ADA, CY],
            &k,
            Some(GroupRole::Admin),
            OnExisting::Keep,
        )
        .unwrap();
        assert_eq!((plan.joining, plan.role_changes), (vec![ADA], vec![CY]));
        // A group already over its limit (lowered later) has no room, not less than none.
        assert_eq!(
            add(&limited(1), 4, &[ADA], &k, None, OnExisting::Keep),
            Err(MembershipError::GroupFull { limit: 1, room: 0 })
        );
        // Such a group refuses any add, even one that only changes a role (as the
        // engines always did: the count is checked whatever joins).
        assert_eq!(
            add(
                &limited(1),
                4,
                &[CY],
                &k,
                Some(GroupRole::Admin),
                OnExisting::Keep
            ),
            Err(MembershipError::GroupFull { limit: 1, room: 0 })
        );
        // A full one (not over) still takes role changes.
        let plan = add(
            &limited(4),
            4,
            &[CY],
            &k,
            Some(GroupRole::Admin),
            OnExisting::Keep,
        )
        .unwrap();
        assert_eq!((plan.role_changes, plan.member_count), (vec![CY], 4));
        // Unlimited.
        let plan = add(
            &GroupPolicy::default(),
            1_000_000,
            &[ADA, BOB],
            &k,
            None,
            OnExisting::Keep,
        )
        .unwrap();
        assert_eq!(plan.member_count, 1_000_002);
    }

    #[test]
    fn removals_take_members_once_and_refuse_others_when_asked() {
        let were: BTreeSet<UserId> = [ADA, BOB].into();
        assert_eq!(
            plan_member_removals(&[BOB, CY, ADA, BOB], &were, false),
            Ok(vec![BOB, ADA])
        );
        assert_eq!(
            plan_member_removals(&[BOB, ADA], &were, true),
            Ok(vec![BOB, ADA])
        );
        assert_eq!(
            plan_member_removals(&[ADA, CY, BOB], &were, true),
            Err(MembershipError::NotAMember(CY))
        );
        // Named twice: no longer a member the second time.
        assert_eq!(
            plan_member_removals(&[ADA, ADA], &were, true),
            Err(MembershipError::NotAMember(ADA))
        );
        assert_eq!(plan_member_removals(&[], &were, true), Ok(vec![]));
        assert_eq!(
            plan_member_removals(&[CY], &BTreeSet::new(), false),
            Ok(vec![])
        );
    }

    #[test]
    fn errors_read_as_the_store_wrote_them() {
        assert_eq!(
            MembershipError::GroupFull { limit: 2, room: 0 }.to_string(),
            "the group has room for 0 more member(s) (limit_user 2)"
        );
        assert_eq!(
            MembershipError::UnknownUser(CY).to_string(),
            "user 3 does not exist"
        );
    }
}
