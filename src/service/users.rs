//! Site users: create, read, change, remove. Passwords are argon2id hashes.

use super::{Caller, Service, ServiceError, now, passwords};
use crate::domain::ValidationErrors;
use crate::domain::user::{User, UserDraft, UserId, UserRef, plan_user};
use crate::store::{NameHolder, NewUser, UserUpdate};

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
}
