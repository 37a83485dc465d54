//! Memberships, and the group rules that only mean something once people belong
//! to groups.
//!
//! Two kinds of change:
//! - administrative (the workspace adds or removes people): skips the password and
//!   unleavable rules, but never exceeds `limit_user`;
//! - on a user's behalf (the user joins or leaves): a secret group cannot be joined
//!   by a non-member (it is not even found), a password-protected group needs its
//!   password, an unleavable group cannot be left, and `limit_user` holds.

use super::{Caller, Service, ServiceError, now, passwords};
use crate::domain::ValidationErrors;
use crate::domain::group::{Group, GroupId, GroupRef};
use crate::domain::listing::GroupQuery;
use crate::domain::membership::OnExisting;
use crate::domain::user::{GroupRole, Membership, User, UserId, UserRef};

/// The most users one bulk call may name.
pub const BULK_MAX: usize = 1000;

impl Service {
    /// The users named, all or an error naming each that is missing (and, when
    /// `for_adding`, each that is deactivated).
    async fn resolve_users(
        &self,
        caller: Caller,
        references: &[String],
        for_adding: bool,
    ) -> Result<Vec<UserId>, ServiceError> {
        if references.len() > BULK_MAX {
            return Err(ServiceError::Invalid(ValidationErrors::single(
                "users",
                format!("at most {BULK_MAX} users in one call"),
            )));
        }
        let refs: Vec<Option<UserRef>> = references.iter().map(|r| UserRef::parse(r)).collect();
        let named: Vec<UserRef> = refs.iter().flatten().cloned().collect();
        // One read for all of them.
        let users = self.store.find_users(caller.workspace, &named).await?;
        let mut ids = Vec::with_capacity(references.len());
        let mut errors = ValidationErrors::new();
        for (i, (r, by)) in references.iter().zip(&refs).enumerate() {
            let found = by
                .as_ref()
                .and_then(|by| users.iter().find(|u| by.names(u)));
            match found {
                Some(u) if !u.may_join() && for_adding => {
                    errors.push(format!("users[{i}]"), format!("user '{r}' is deactivated"))
                }
                Some(u) => ids.push(u.id),
                None => errors.push(format!("users[{i}]"), format!("no user '{r}'")),
            }
        }
        errors.into_result(ids).map_err(ServiceError::Invalid)
    }

    /// Administrative add: no password or visibility rule, but `limit_user` holds.
    /// Adding an existing member changes their role when one is given.
    pub async fn add_member(
        &self,
        caller: Caller,
        group: &str,
        user: &str,
        role: Option<GroupRole>,
    ) -> Result<(GroupId, User, bool), ServiceError> {
        self.audited(caller, async move {
            let (g, u) = self.group_and_user(caller, group, user).await?;
            // A deactivated member's role may still change; joining is refused.
            if !u.may_join()
                && !self
                    .store
                    .member_roles(caller.workspace, u.id, &[g])
                    .await?
                    .contains_key(&g)
            {
                return Err(ServiceError::UserInactive(u.username));
            }
            let added = self
                .store
                .add_members(
                    caller.workspace,
                    g,
                    vec![u.id],
                    role,
                    OnExisting::Keep,
                    now(),
                )
                .await?;
            Ok((g, u, added > 0))
        })
        .await
    }

    /// The group and user a membership write names, the group's problem first
    /// when both have one. A group named by number is not read: the store's
    /// write finds out, in its own statement, whether the group is in the
    /// workspace (only when the user is not found is the group looked up, to
    /// report it first). A slug is looked up.
    async fn group_and_user(
        &self,
        caller: Caller,
        group: &str,
        user: &str,
    ) -> Result<(GroupId, User), ServiceError> {
        let Some(GroupRef::Id(id)) = GroupRef::parse(group) else {
            let g = self.get_group(caller, group).await?;
            return Ok((g.id, self.get_user(caller, user).await?));
        };
        match self.get_user(caller, user).await {
            Ok(u) => Ok((id, u)),
            Err(e) => {
                self.get_group(caller, group).await?;
                Err(e)
            }
        }
    }

    /// Administrative removal: unleavable groups do not stop it.
    pub async fn remove_member(
        &self,
        caller: Caller,
        group: &str,
        user: &str,
    ) -> Result<(), ServiceError> {
        self.audited(caller, async move {
            let (g, u) = self.group_and_user(caller, group, user).await?;
            self.store
                .remove_members(caller.workspace, g, vec![u.id], true)
                .await?;
            Ok(())
        })
        .await
    }

    /// Adds up to 1000 users at once, all or none. Returns how many became members.
    pub async fn bulk_add_members(
        &self,
        caller: Caller,
        group: &str,
        users: &[String],
        role: Option<GroupRole>,
    ) -> Result<u64, ServiceError> {
        self.audited(caller, async move {
            let g = self.get_group(caller, group).await?;
            let ids = self.resolve_users(caller, users, true).await?;
            Ok(self
                .store
                .add_members(caller.workspace, g.id, ids, role, OnExisting::Keep, now())
                .await?)
        })
        .await
    }

    /// Removes up to 1000 users at once, all or none; non-members are skipped.
    pub async fn bulk_remove_members(
        &self,
        caller: Caller,
        group: &str,
        users: &[String],
    ) -> Result<u64, ServiceError> {
        self.audited(caller, async move {
            let g = self.get_group(caller, group).await?;
            let ids = self.resolve_users(caller, users, false).await?;
            Ok(self
                .store
                .remove_members(caller.workspace, g.id, ids, false)
                .await?)
        })
        .await
    }

    /// Removes `remove` and then adds `add` as members, in one step, all or
    /// none (an identity provider's PATCH or replace of a group's members):
    /// each list at most [`BULK_MAX`] users, named by id; every user added
    /// must exist; `limit_user` counts the group after the removals. Returns
    /// (left, joined).
    ///
    /// The provider states the members of its own groups, deactivated users
    /// included (a disabled account stays in its groups there), and that is
    /// mirrored: refusing one deactivated member would fail the whole push.
    /// They still cannot sign in, nor join a group themselves, nor be added
    /// through groupd's own APIs.
    pub async fn change_members(
        &self,
        caller: Caller,
        group: GroupId,
        remove: Vec<UserId>,
        add: Vec<UserId>,
    ) -> Result<(u64, u64), ServiceError> {
        self.audited(caller, async move {
            self.check_member_change(caller, &remove, &add).await?;
            Ok(self
                .store
                .change_members(caller.workspace, group, remove, add, now())
                .await?)
        })
        .await
    }

    /// What [`Service::change_members`] checks before it writes: at most
    /// [`BULK_MAX`] users in each list, and every user added exists. A door
    /// that writes more than the members in one request checks this first.
    pub async fn check_member_change(
        &self,
        caller: Caller,
        remove: &[UserId],
        add: &[UserId],
    ) -> Result<(), ServiceError> {
        {
            for (what, list) in [("add", add), ("remove", remove)] {
                if list.len() > BULK_MAX {
                    return Err(ServiceError::TooMany(format!(
                        "at most {BULK_MAX} members to {what} in one request, not {}",
                        list.len()
                    )));
                }
            }
            if !add.is_empty() {
                let refs: Vec<UserRef> = add.iter().map(|id| UserRef::Id(*id)).collect();
                let users = self.store.find_users(caller.workspace, &refs).await?;
                let mut errors = ValidationErrors::new();
                for (i, id) in add.iter().enumerate() {
                    if !users.iter().any(|u| u.id == *id) {
                        errors.push(format!("members[{i}]"), format!("no user {}", id.0));
                    }
                }
                errors.into_result(()).map_err(ServiceError::Invalid)?;
            }
            Ok(())
        }
    }

    pub async fn list_members(
        &self,
        caller: Caller,
        group: &str,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<Membership>, ServiceError> {
        let g = self.get_group(caller, group).await?;
        Ok(self
            .store
            .list_members(caller.workspace, g.id, after, limit.clamp(1, 1000))
            .await?)
    }

    /// The administrator's view of groups: all of them, pinned first.
    pub async fn query_groups(
        &self,
        caller: Caller,
        mut q: GroupQuery,
    ) -> Result<Vec<Group>, ServiceError> {
        q.limit = q.limit.clamp(1, 1000);
        q.visible_to = None;
        Ok(self.store.query_groups(caller.workspace, &q).await?)
    }

    /// What a user sees: every group but the secret ones they are not in, pinned
    /// first, each with the user's role where they are a member.
    pub async fn user_groups(
        &self,
        caller: Caller,
        user: &str,
        mut q: GroupQuery,
    ) -> Result<(User, Vec<(Group, Option<GroupRole>)>), ServiceError> {
        let u = self.get_user(caller, user).await?;
        q.limit = q.limit.clamp(1, 1000);
        q.visible_to = Some(u.id);
        let groups = self.store.query_groups(caller.workspace, &q).await?;
        let ids: Vec<GroupId> = groups.iter().map(|g| g.id).collect();
        let roles = self
            .store
            .member_roles(caller.workspace, u.id, &ids)
            .await?;
        let out = groups
            .into_iter()
            .map(|g| {
                let role = roles.get(&g.id).copied();
                (g, role)
            })
            .collect();
        Ok((u, out))
    }

    /// A group as a user may see it: secret groups they are not in are not found.
    async fn group_for_user(
        &self,
        caller: Caller,
        group: &str,
        user: &User,
    ) -> Result<(Group, Option<GroupRole>), ServiceError> {
        let by = GroupRef::parse(group).ok_or_else(|| {
            ServiceError::Invalid(ValidationErrors::single("group", "is required"))
        })?;
        let g = self
            .store
            .find_group(caller.workspace, &by)
            .await?
            .ok_or(ServiceError::GroupNotFound)?;
        let role = self
            .store
            .member_roles(caller.workspace, user.id, &[g.id])
            .await?
            .remove(&g.id);
        if g.secret && role.is_none() {
            return Err(ServiceError::GroupNotFound);
        }
        Ok((g, role))
    }

    /// A user joins a group on their own behalf.
    pub async fn join_group(
        &self,
        caller: Caller,
        user: &str,
        group: &str,
        password: Option<String>,
    ) -> Result<(Group, User), ServiceError> {
        self.audited(caller, async move {
            let u = self.get_user(caller, user).await?;
            let (g, role) = self.group_for_user(caller, group, &u).await?;
            if role.is_some() {
                return Err(ServiceError::AlreadyMember);
            }
            if !u.may_join() {
                return Err(ServiceError::UserInactive(u.username));
            }
            if let Some(hash) = &g.password_hash {
                let ok = match password {
                    Some(p) if !p.is_empty() => passwords::verify(p, hash.clone()).await?,
                    _ => false,
                };
                if !ok {
                    return Err(ServiceError::InvalidGroupPassword);
                }
            }
            self.store
                .add_members(
                    caller.workspace,
                    g.id,
                    vec![u.id],
                    None,
                    OnExisting::Fail,
                    now(),
                )
                .await?;
            Ok((g, u))
        })
        .await
    }

    /// A user leaves a group on their own behalf.
    pub async fn leave_group(
        &self,
        caller: Caller,
        user: &str,
        group: &str,
    ) -> Result<(), ServiceError> {
        self.audited(caller, async move {
            let u = self.get_user(caller, user).await?;
            let (g, role) = self.group_for_user(caller, group, &u).await?;
            if role.is_none() {
                return Err(ServiceError::NotAMember);
            }
            if g.unleavable {
                return Err(ServiceError::GroupUnleavable);
            }
            self.store
                .remove_members(caller.workspace, g.id, vec![u.id], true)
                .await?;
            Ok(())
        })
        .await
    }
}
