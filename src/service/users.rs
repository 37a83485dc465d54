//! Site users: create, read, change, remove. Passwords are argon2id hashes.

use super::{Caller, Service, ServiceError, now, passwords};
use crate::domain::ValidationErrors;
use crate::domain::user::{
    IdpUserDraft, IdpUserName, User, UserDraft, UserId, UserRef, derive_username, plan_idp_user,
    plan_user, username_key,
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
            let except = except.map(NameHolder::User);
            if self.store.name_taken(caller.workspace, key, except).await? {
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

    /// A user by the name an identity provider knows them by (SCIM `userName`).
    pub async fn find_user_by_idp_name(
        &self,
        caller: Caller,
        name: &str,
    ) -> Result<Option<User>, ServiceError> {
        let Ok(name) = crate::domain::user::check_idp_user_name(name) else {
            return Ok(None);
        };
        Ok(self
            .store
            .find_user(caller.workspace, &name.as_ref())
            .await?)
    }

    /// Creates a user as an identity provider states it: no password; a user
    /// name that is not a valid username is kept as the provider's, and a
    /// username is derived from it (the first free of a few tries).
    pub async fn create_idp_user(
        &self,
        caller: Caller,
        draft: IdpUserDraft,
    ) -> Result<User, ServiceError> {
        self.audited(caller, async move {
            let plan = plan_idp_user(draft)?;
            if self
                .store
                .find_user(caller.workspace, &plan.user_name.as_ref())
                .await?
                .is_some()
            {
                return Err(ServiceError::UsernameTaken);
            }
            if let Some((_, key)) = &plan.email {
                self.precheck_user(caller, None, Some(key), None).await?;
            }
            let (fixed, idp) = match &plan.user_name {
                IdpUserName::Username(n, k) => (Some((n.clone(), k.clone())), None),
                IdpUserName::Other(n, k) => (None, Some((n.clone(), k.clone()))),
            };
            for attempt in 0..DERIVE_ATTEMPTS {
                let username = match (&fixed, &idp) {
                    (Some(u), _) => u.clone(),
                    (None, Some((n, _))) => {
                        let u = derive_username(n, attempt);
                        let k = username_key(&u);
                        if self.store.name_taken(caller.workspace, &k, None).await? {
                            continue;
                        }
                        (u, k)
                    }
                    (None, None) => break,
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
                    // A derived name taken since the check: try the next one,
                    // unless it was the provider's own name that was taken.
                    Err(StoreError::UsernameTaken | StoreError::SlugTaken)
                        if fixed.is_none()
                            && self
                                .store
                                .find_user(caller.workspace, &plan.user_name.as_ref())
                                .await?
                                .is_none() => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Err(ServiceError::Conflict(format!(
                "no free username could be derived from '{}'",
                plan.user_name.name()
            )))
        })
        .await
    }

    /// Makes a user exactly what an identity provider states (SCIM's PUT, and
    /// PATCH once applied): name, email address, external id and whether they
    /// are active. A derived username stays as it is.
    pub async fn replace_idp_user(
        &self,
        caller: Caller,
        id: UserId,
        draft: IdpUserDraft,
    ) -> Result<User, ServiceError> {
        self.audited(caller, async move {
            let current = self.get_user(caller, &id.0.to_string()).await?;
            let plan = plan_idp_user(draft)?;
            let (username, idp_user_name) = match &plan.user_name {
                IdpUserName::Username(n, _)
                    if current.idp_user_name.is_none() && *n == current.username =>
                {
                    (None, None)
                }
                IdpUserName::Username(n, k) => (Some((n.clone(), k.clone())), Some(None)),
                IdpUserName::Other(n, _)
                    if current.idp_user_name.as_deref() == Some(n.as_str()) =>
                {
                    (None, None)
                }
                IdpUserName::Other(n, k) => (None, Some(Some((n.clone(), k.clone())))),
            };
            let email = plan.email.clone().unwrap_or_default();
            self.precheck_user(
                caller,
                username.as_ref().map(|u| u.1.as_str()),
                Some(email.1.as_str()).filter(|k| !k.is_empty()),
                Some(current.id),
            )
            .await?;
            if let Some(Some((_, key))) = &idp_user_name
                && let Some(other) = self
                    .store
                    .find_user(caller.workspace, &UserRef::IdpName(key.clone()))
                    .await?
                && other.id != current.id
            {
                return Err(ServiceError::UsernameTaken);
            }
            let update = UserUpdate {
                full_name: Some(plan.full_name),
                username,
                email: (current.email != email.0).then_some(email),
                idp_user_name,
                password_hash: None,
                external_id: Some(plan.external_id),
                active: Some(plan.active),
                now: now(),
            };
            self.store
                .update_user(caller.workspace, current.id, update)
                .await?;
            self.get_user(caller, &current.id.0.to_string()).await
        })
        .await
    }
}
