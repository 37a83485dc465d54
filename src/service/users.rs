//! Site users: create, read, change, remove. Passwords are argon2id hashes.

use super::{Caller, Service, ServiceError, now, passwords};
use crate::domain::ValidationErrors;
use crate::domain::user::{
    IdpUserDraft, IdpUserName, User, UserDraft, UserId, UserRef, check_idp_user_name,
    derive_username, plan_idp_user, plan_user, username_key,
};
use crate::store::{NameHolder, NewUser, StoreError, UserUpdate};

/// How many usernames are tried for an identity provider's user before giving up.
const DERIVE_ATTEMPTS: u32 = 100;

impl Service {
    /// Finds a user by id, username or email address.
    pub async fn get_user(&self, caller: Caller, reference: &str) -> Result<User, ServiceError> {
        let by = UserRef::parse(reference).ok_or_else(|| {
            ServiceError::Invalid(ValidationErrors::single("user", "is required"))
        })?;
        self.store
            .find_user(caller.workspace, &by)
            .await?
            .ok_or(ServiceError::AccountNotFound)
    }

    /// Refuses early (before the slow hash) a username held by another user or a
    /// group slug, or an email already in use by another user; the store's unique
    /// keys remain the authority.
    async fn precheck_user(
        &self,
        caller: Caller,
        username: Option<&str>,
        email: Option<&str>,
        except: Option<UserId>,
    ) -> Result<(), ServiceError> {
        if let Some(key) = username {
            let holder = except.map(NameHolder::User);
            if self.store.name_taken(caller.workspace, key, holder).await? {
                return Err(ServiceError::UsernameTaken);
            }
            // An identity provider's name for another user is theirs too:
            // a second user with it would answer to the same SCIM userName.
            let known_as = self
                .store
                .find_user(caller.workspace, &UserRef::IdpName(key.to_string()))
                .await?;
            if known_as.is_some_and(|u| Some(u.id) != except) {
                return Err(ServiceError::UsernameTaken);
            }
        }
        if let Some(key) = email {
            let found = self
                .store
                .find_user(caller.workspace, &UserRef::Email(key.to_string()))
                .await?;
            if found.is_some_and(|u| Some(u.id) != except) {
                return Err(ServiceError::EmailTaken);
            }
        }
        Ok(())
    }

    pub async fn create_user(
        &self,
        caller: Caller,
        draft: UserDraft,
    ) -> Result<User, ServiceError> {
        self.audited(caller, async move {
            let plan = plan_user(draft, true)?;
            let (Some(full_name), Some(username), Some(email), Some(password)) =
                (plan.full_name, plan.username, plan.email, plan.password)
            else {
                return Err(ServiceError::Internal(
                    "a checked user lacks a field".into(),
                ));
            };
            self.precheck_user(caller, Some(&username.1), Some(&email.1), None)
                .await?;
            let password_hash = passwords::hash(password).await?;
            let id = self
                .store
                .insert_user(
                    caller.workspace,
                    NewUser {
                        full_name,
                        username,
                        email,
                        password_hash,
                        external_id: None,
                        idp_user_name: None,
                        active: true,
                        now: now(),
                    },
                )
                .await?;
            self.get_user(caller, &id.0.to_string()).await
        })
        .await
    }

    /// Changes only the fields sent.
    pub async fn update_user(
        &self,
        caller: Caller,
        reference: &str,
        draft: UserDraft,
    ) -> Result<User, ServiceError> {
        self.audited(caller, async move {
            let current = self.get_user(caller, reference).await?;
            let plan = plan_user(draft, false)?;
            self.precheck_user(
                caller,
                plan.username.as_ref().map(|u| u.1.as_str()),
                plan.email.as_ref().map(|e| e.1.as_str()),
                Some(current.id),
            )
            .await?;
            let password_hash = match plan.password {
                Some(p) => Some(passwords::hash(p).await?),
                None => None,
            };
            self.store
                .update_user(
                    caller.workspace,
                    current.id,
                    UserUpdate {
                        full_name: plan.full_name,
                        username: plan.username,
                        email: plan.email,
                        idp_user_name: None,
                        password_hash,
                        external_id: None,
                        active: None,
                        now: now(),
                    },
                )
                .await?;
            self.get_user(caller, &current.id.0.to_string()).await
        })
        .await
    }

    /// Removes a user and all their memberships.
    pub async fn delete_user(&self, caller: Caller, reference: &str) -> Result<(), ServiceError> {
        self.audited(caller, async move {
            let user = self.get_user(caller, reference).await?;
            Ok(self.store.delete_user(caller.workspace, user.id).await?)
        })
        .await
    }

    pub async fn list_users(
        &self,
        caller: Caller,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>, ServiceError> {
        Ok(self
            .store
            .list_users(caller.workspace, after, limit.clamp(1, 1000))
            .await?)
    }

    /// A user by the name an identity provider knows them by (SCIM `userName`):
    /// a user holding it as the provider's name, else a user whose username it
    /// is and who has no provider's name (one whose username was derived from
    /// another name is known by that one).
    pub async fn find_user_by_idp_name(
        &self,
        caller: Caller,
        name: &str,
    ) -> Result<Option<User>, ServiceError> {
        let Ok(name) = check_idp_user_name(name) else {
            return Ok(None);
        };
        self.user_known_as(caller, &name).await
    }

    async fn user_known_as(
        &self,
        caller: Caller,
        name: &IdpUserName,
    ) -> Result<Option<User>, ServiceError> {
        // Both kinds of name are keyed by `identifier::fold`.
        let (_, key) = name.parts();
        let by_idp = UserRef::IdpName(key.to_string());
        if let Some(u) = self.store.find_user(caller.workspace, &by_idp).await? {
            return Ok(Some(u));
        }
        if let IdpUserName::Username(_, k) = name {
            let found = self
                .store
                .find_user(caller.workspace, &UserRef::Username(k.clone()))
                .await?;
            return Ok(found.filter(|u| u.idp_user_name.is_none()));
        }
        Ok(None)
    }

    /// Creates a user as an identity provider states it: no password. A user
    /// name that is a free, valid username is the username; anything else (an
    /// address, a UUID, a name another user or a group slug holds) is kept as
    /// the provider's, and a username is derived from it (the first free of a
    /// few tries).
    pub async fn create_idp_user(
        &self,
        caller: Caller,
        draft: IdpUserDraft,
    ) -> Result<User, ServiceError> {
        self.audited(caller, async move {
            let plan = plan_idp_user(draft)?;
            if self.user_known_as(caller, &plan.user_name).await?.is_some() {
                return Err(ServiceError::UsernameTaken);
            }
            if let Some((_, key)) = &plan.email {
                self.precheck_user(caller, None, Some(key), None).await?;
            }
            let (name, key) = plan.user_name.parts();
            let as_username = match &plan.user_name {
                IdpUserName::Username(n, k)
                    if !self.store.name_taken(caller.workspace, k, None).await? =>
                {
                    Some((n.clone(), k.clone()))
                }
                _ => None,
            };
            let idp = match as_username {
                Some(_) => None,
                None => Some((name.to_string(), key.to_string())),
            };
            for attempt in 0..DERIVE_ATTEMPTS {
                let username = match &as_username {
                    Some(u) => u.clone(),
                    None => {
                        let u = derive_username(name, derive_attempt(attempt));
                        let k = username_key(&u);
                        if self.store.name_taken(caller.workspace, &k, None).await? {
                            continue;
                        }
                        (u, k)
                    }
                };
                let new = NewUser {
                    full_name: plan.full_name.clone(),
                    username,
                    email: plan.email.clone().unwrap_or_default(),
                    idp_user_name: idp.clone(),
                    password_hash: String::new(),
                    external_id: plan.external_id.clone(),
                    active: plan.active,
                    now: now(),
                };
                match self.store.insert_user(caller.workspace, new).await {
                    Ok(id) => return self.get_user(caller, &id.0.to_string()).await,
                    // A name taken since the check: try the next derived one,
                    // unless it was the provider's own name that was taken.
                    Err(StoreError::UsernameTaken | StoreError::SlugTaken)
                        if as_username.is_none()
                            && self.user_known_as(caller, &plan.user_name).await?.is_none() => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Err(ServiceError::Conflict(format!(
                "no free username could be derived from '{name}'"
            )))
        })
        .await
    }

    /// Makes a user what an identity provider states: for a PUT, all of
    /// `draft`; for a PATCH, `base` is the user the operations were applied to,
    /// and only what differs from it is written (so two PATCHes at once each
    /// change only their own attributes). A derived username stays as it is.
    pub async fn replace_idp_user(
        &self,
        caller: Caller,
        id: UserId,
        base: Option<IdpUserDraft>,
        draft: IdpUserDraft,
    ) -> Result<User, ServiceError> {
        self.audited(caller, async move {
            let current = self.get_user(caller, &id.0.to_string()).await?;
            let plan = plan_idp_user(draft)?;
            let base = base.and_then(|b| plan_idp_user(b).ok());
            let changed = |same: bool| base.is_none() || !same;
            let b = base.as_ref();
            let mut update = UserUpdate {
                now: now(),
                ..UserUpdate::default()
            };
            if changed(b.is_some_and(|b| b.user_name == plan.user_name)) {
                if let Some(other) = self.user_known_as(caller, &plan.user_name).await?
                    && other.id != current.id
                {
                    return Err(ServiceError::UsernameTaken);
                }
                match &plan.user_name {
                    IdpUserName::Username(n, _)
                        if current.idp_user_name.is_none() && *n == current.username => {}
                    IdpUserName::Username(n, k)
                        if !self
                            .store
                            .name_taken(caller.workspace, k, Some(NameHolder::User(current.id)))
                            .await? =>
                    {
                        update.username = Some((n.clone(), k.clone()));
                        update.idp_user_name = Some(None);
                    }
                    other => {
                        let (n, k) = other.parts();
                        if current.idp_user_name.as_deref() != Some(n) {
                            update.idp_user_name = Some(Some((n.to_string(), k.to_string())));
                        }
                    }
                }
            }
            if changed(b.is_some_and(|b| b.email == plan.email)) {
                let email = plan.email.clone().unwrap_or_default();
                if current.email != email.0 {
                    if !email.1.is_empty() {
                        self.precheck_user(caller, None, Some(&email.1), Some(current.id))
                            .await?;
                    }
                    update.email = Some(email);
                }
            }
            if changed(b.is_some_and(|b| b.full_name == plan.full_name)) {
                update.full_name = Some(plan.full_name);
            }
            if changed(b.is_some_and(|b| b.external_id == plan.external_id)) {
                update.external_id = Some(plan.external_id);
            }
            if changed(b.is_some_and(|b| b.active == plan.active)) {
                update.active = Some(plan.active);
            }
            self.store
                .update_user(caller.workspace, current.id, update)
                .await?;
            self.get_user(caller, &current.id.0.to_string()).await
        })
        .await
    }
}

/// The `attempt` passed to [`derive_username`]: the first tries count up
/// (`ada-2`, `ada-3`), later ones are random, so that many names sharing one
/// base (local parts with no ASCII letters all start from `user`) still find a
/// free one.
fn derive_attempt(attempt: u32) -> u32 {
    if attempt < 10 {
        attempt
    } else {
        rand::random_range(10..1_000_000)
    }
}
