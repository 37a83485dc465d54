//! Group commands: create, update, remove, read.

use super::{Caller, Service, ServiceError, now, passwords};
use crate::domain::ValidationErrors;
use crate::domain::group::{
    self, DraftMode, Group, GroupDraft, GroupId, GroupPlan, GroupRef, IconPlan, PasswordPlan,
};
use crate::domain::policy::GroupPolicy;
use crate::store::{GroupUpdate, IconImage, NameHolder, NewGroup, StoreError};

/// Store errors that mean "the request named something that is not there" become
/// validation errors on the field that named it (a category or custom field removed
/// between the check and the write).
fn reference_error(e: StoreError) -> ServiceError {
    match e {
        StoreError::UnknownCategory(id) => ServiceError::Invalid(ValidationErrors::single(
            "category_id",
            format!("category {id} does not exist"),
        )),
        StoreError::UnknownField(id) => ServiceError::Invalid(ValidationErrors::single(
            format!("custom_field_{id}"),
            format!("no group custom field has the identifier {id}"),
        )),
        other => other.into(),
    }
}

/// Counts an icon's fetch or upload by source and outcome (`ok`, or the kind
/// of failure), for `groupd_icon_fetches_total`.
fn icon_outcome(source: &'static str, e: Option<&crate::service::icons::IconError>) {
    use crate::service::icons::IconError as E;
    let outcome = match e {
        None => "ok",
        Some(E::Blocked { .. }) => "blocked",
        Some(E::Fetch(_)) => "unreachable",
        Some(E::Status(_)) => "bad_status",
        Some(E::TooLarge(_)) => "too_large",
        Some(E::Busy) => "busy",
        Some(E::NotAnImage(_)) => "not_an_image",
        Some(E::TooManyPixels { .. }) => "too_many_pixels",
    };
    metrics::counter!("groupd_icon_fetches_total", "source" => source, "outcome" => outcome)
        .increment(1);
}

impl Service {
    async fn check_plan(
        &self,
        caller: Caller,
        draft: GroupDraft,
        mode: DraftMode,
    ) -> Result<GroupPlan, ServiceError> {
        let fields = if draft.custom_fields.is_empty() {
            Vec::new()
        } else {
            self.store.list_fields(caller.workspace).await?
        };
        let categories = if draft.category_id.is_some() {
            self.store.list_categories(caller.workspace).await?
        } else {
            Vec::new()
        };
        Ok(group::plan(draft, mode, &fields, |id| {
            categories.iter().any(|c| c.id == id)
        })?)
    }

    /// The icon a plan asks for: `None` to keep the current one, `Some(None)` for
    /// none. A URL that cannot be fetched gives the default icon (as the dialects'
    /// documents say); an uploaded file that is not an image is refused.
    async fn fetch_icon(&self, plan: &IconPlan) -> Result<Option<Option<IconImage>>, ServiceError> {
        Ok(match plan {
            IconPlan::Keep => None,
            IconPlan::Clear => Some(None),
            IconPlan::Upload(bytes) => match self.icons.decode(bytes.clone()).await {
                Ok(icon) => {
                    icon_outcome("upload", None);
                    Some(Some(icon))
                }
                Err(e) => {
                    icon_outcome("upload", Some(&e));
                    return Err(ServiceError::Invalid(ValidationErrors::single(
                        "icon_file",
                        e.to_string(),
                    )));
                }
            },
            IconPlan::Fetch(url) => match self.icons.fetch(url.clone()).await {
                Ok(icon) => {
                    icon_outcome("url", None);
                    Some(Some(icon))
                }
                Err(e) => {
                    icon_outcome("url", Some(&e));
                    tracing::info!(host = url.host_str().unwrap_or(""), reason = %e,
                        "group icon not fetched; the group gets the default icon");
                    Some(None)
                }
            },
        })
    }

    /// Creates a group. Validation happens before any slow work (hashing, fetching).
    pub async fn create_group(
        &self,
        caller: Caller,
        draft: GroupDraft,
    ) -> Result<Group, ServiceError> {
        self.audited(caller, async move {
            let plan = self.check_plan(caller, draft, DraftMode::Create).await?;
            let slug = plan.slug.clone().flatten();
            if let Some(s) = &slug {
                if self
                    .store
                    .name_taken(caller.workspace, s.key(), None)
                    .await?
                {
                    return Err(ServiceError::SlugTaken);
                }
            }
            let password_hash = match plan.password {
                PasswordPlan::Set(p) => Some(passwords::hash(p).await?),
                PasswordPlan::Keep | PasswordPlan::Clear => None,
            };
            let icon = self.fetch_icon(&plan.icon).await?.flatten();
            let new = NewGroup {
                name: plan.name.unwrap_or_default(),
                slug,
                description: plan.description.unwrap_or_default(),
                category_id: plan.category_id.unwrap_or_else(group::default_category),
                secret: plan.secret.unwrap_or(false),
                unleavable: plan.unleavable.unwrap_or(false),
                pinned: plan.pinned.unwrap_or(false),
                password_hash,
                icon,
                custom_fields: plan
                    .custom_fields
                    .into_iter()
                    .filter_map(|(id, v)| v.map(|v| (id, v)))
                    .collect(),
                policy: {
                    let mut policy = GroupPolicy::default();
                    policy.apply(&plan.policy);
                    policy
                },
                external_id: plan.external_id.flatten(),
                now: now(),
            };
            // What is stored is exactly `new`, so the answer is made from it rather
            // than read back (one read fewer per create).
            let made = new.as_group(caller.workspace);
            let id = self
                .store
                .insert_group(caller.workspace, new)
                .await
                .map_err(reference_error)?;
            Ok(Group { id, ..made })
        })
        .await
    }

    /// Finds a group by id or slug in the caller's workspace.
    pub async fn get_group(&self, caller: Caller, reference: &str) -> Result<Group, ServiceError> {
        let by = GroupRef::parse(reference).ok_or_else(|| {
            ServiceError::Invalid(ValidationErrors::single("group", "is required"))
        })?;
        self.store
            .find_group(caller.workspace, &by)
            .await?
            .ok_or(ServiceError::GroupNotFound)
    }

    /// Changes only the fields the draft carries.
    pub async fn update_group(
        &self,
        caller: Caller,
        reference: &str,
        draft: GroupDraft,
    ) -> Result<GroupId, ServiceError> {
        self.audited(caller, async move {
            let mut draft = draft;
            let current = match self.get_group(caller, reference).await {
                Ok(g) => g,
                // Report the reference problem together with any field problems.
                Err(ServiceError::Invalid(e)) => {
                    draft.errors.extend(e);
                    return Err(ServiceError::Invalid(draft.errors));
                }
                Err(e) => return Err(e),
            };
            let mode = DraftMode::Update {
                currently_protected: current.password_protected(),
            };
            let plan = self.check_plan(caller, draft, mode).await?;
            if let Some(Some(s)) = &plan.slug {
                if self
                    .store
                    .name_taken(
                        caller.workspace,
                        s.key(),
                        Some(NameHolder::Group(current.id)),
                    )
                    .await?
                {
                    return Err(ServiceError::SlugTaken);
                }
            }
            let password_hash = match plan.password {
                PasswordPlan::Set(p) => Some(Some(passwords::hash(p).await?)),
                PasswordPlan::Clear => Some(None),
                PasswordPlan::Keep => None,
            };
            let icon = self.fetch_icon(&plan.icon).await?;
            let update = GroupUpdate {
                name: plan.name,
                slug: plan.slug,
                description: plan.description,
                category_id: plan.category_id,
                secret: plan.secret,
                unleavable: plan.unleavable,
                pinned: plan.pinned,
                password_hash,
                icon,
                custom_fields: plan.custom_fields,
                policy: plan.policy,
                external_id: plan.external_id,
                now: now(),
            };
            self.store
                .update_group(caller.workspace, current.id, update)
                .await
                .map_err(reference_error)?;
            Ok(current.id)
        })
        .await
    }

    /// Whether `draft` would be accepted as a new group (`group` `None`) or a
    /// change of `group` (its rules, the workspace's categories and fields, a
    /// free slug), without writing: for a door that makes other changes in the
    /// same request first.
    pub async fn check_group_draft(
        &self,
        caller: Caller,
        group: Option<&Group>,
        draft: GroupDraft,
    ) -> Result<(), ServiceError> {
        let mode = match group {
            None => DraftMode::Create,
            Some(g) => DraftMode::Update {
                currently_protected: g.password_protected(),
            },
        };
        let plan = self.check_plan(caller, draft, mode).await?;
        if let Some(Some(s)) = &plan.slug
            && self
                .store
                .name_taken(
                    caller.workspace,
                    s.key(),
                    group.map(|g| NameHolder::Group(g.id)),
                )
                .await?
        {
            return Err(ServiceError::SlugTaken);
        }
        Ok(())
    }

    /// Removes a group with its custom field values and icon.
    pub async fn delete_group(&self, caller: Caller, reference: &str) -> Result<(), ServiceError> {
        self.audited(caller, async move {
            let group = self.get_group(caller, reference).await?;
            self.delete_groups(caller, &[group.id], None).await
        })
        .await
    }

    /// Removes groups, all or none. `successor` takes over their members; it must
    /// exist, must not be among them, and must not be the administrators' group
    /// (moving people there would make them administrators).
    pub async fn delete_groups(
        &self,
        caller: Caller,
        ids: &[GroupId],
        successor: Option<GroupId>,
    ) -> Result<(), ServiceError> {
        self.audited(caller, async move {
            if let Some(alt) = successor {
                let target = self
                    .store
                    .find_group(caller.workspace, &GroupRef::Id(alt))
                    .await?
                    .ok_or(ServiceError::SuccessorNotFound(alt.0))?;
                if target.is_admin_group() {
                    return Err(ServiceError::Refused(format!(
                        "members cannot be moved to the administrators' group {}",
                        alt.0
                    )));
                }
            }
            self.store
                .delete_groups(caller.workspace, ids, successor)
                .await
                .map_err(|e| match e {
                    StoreError::NotFound(_) => ServiceError::GroupNotFound,
                    other => other.into(),
                })
        })
        .await
    }

    /// Several groups by id, in the order asked, leaving out ids that name none.
    pub async fn get_groups(
        &self,
        caller: Caller,
        ids: &[GroupId],
    ) -> Result<Vec<Group>, ServiceError> {
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(g) = self
                .store
                .find_group(caller.workspace, &GroupRef::Id(*id))
                .await?
            {
                found.push(g);
            }
        }
        Ok(found)
    }

    pub async fn list_groups(
        &self,
        caller: Caller,
        after: Option<GroupId>,
        limit: u32,
    ) -> Result<Vec<Group>, ServiceError> {
        Ok(self
            .store
            .list_groups(caller.workspace, after, limit.clamp(1, 1000))
            .await?)
    }

    /// A workspace's caller for administrative use (the command line).
    pub async fn admin_caller(&self, workspace: &str) -> Result<Caller, ServiceError> {
        Ok(Caller {
            workspace: self.workspace(workspace).await?.id,
            actor: crate::domain::event::Actor::Cli,
            door: crate::domain::event::Door::Cli,
        })
    }

    /// The icon served under `token` (the public icon route: no key, any workspace);
    /// `None` when no icon has it. Anything not shaped like a token is not looked up.
    pub async fn icon_by_token(&self, token: &str) -> Result<Option<IconImage>, ServiceError> {
        if !group::is_icon_token(token) {
            return Ok(None);
        }
        Ok(self.store.icon_by_token(token).await?)
    }
}
