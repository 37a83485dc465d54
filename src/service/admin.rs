//! Administration: workspaces, first start, categories and custom field
//! definitions. The command line uses these.

use super::{Caller, NewKey, Service, ServiceError, now};
use crate::domain::category::{self, Category};
use crate::domain::field::{self, FieldDef, NewFieldDef};
use crate::domain::workspace::{self, Workspace};

impl Service {
    /// On a store with no workspace, creates the default workspace and its first key.
    /// Returns the key when it made one: the caller prints it, once.
    pub async fn bootstrap(&self) -> Result<Option<NewKey>, ServiceError> {
        match self.store.bootstrap(now()).await? {
            Some(ws) => Ok(Some(self.create_key_in(&ws, "first key").await?)),
            None => Ok(None),
        }
    }

    pub(crate) async fn workspace(&self, name: &str) -> Result<Workspace, ServiceError> {
        self.store
            .find_workspace(name)
            .await?
            .ok_or_else(|| ServiceError::WorkspaceNotFound(name.to_string()))
    }

    /// Creates a workspace (with its category 1) and a first key for it.
    pub async fn create_workspace(&self, name: &str) -> Result<(Workspace, NewKey), ServiceError> {
        let name = workspace::validate_name(name)?;
        let ws = self.store.create_workspace(&name, now()).await?;
        let key = self.create_key_in(&ws, "first key").await?;
        Ok((ws, key))
    }

    /// Copies the SQLite database to `dest` while the server runs.
    pub async fn backup(&self, dest: &std::path::Path) -> Result<(), ServiceError> {
        Ok(self.store.backup(dest).await?)
    }

    /// Whether the database answers (readiness).
    pub async fn ping(&self) -> Result<(), ServiceError> {
        Ok(self.store.ping().await?)
    }

    pub async fn list_workspaces(&self) -> Result<Vec<Workspace>, ServiceError> {
        Ok(self.store.list_workspaces().await?)
    }

    pub async fn create_category(
        &self,
        caller: Caller,
        name: &str,
    ) -> Result<Category, ServiceError> {
        self.audited(caller, async move {
            let name = category::validate_name(name)?;
            Ok(self
                .store
                .create_category(caller.workspace, &name, now())
                .await?)
        })
        .await
    }

    /// The category called `name` (the oldest, when several are), made when
    /// there is none: identity providers name categories rather than number
    /// them.
    pub async fn category_named(&self, caller: Caller, name: &str) -> Result<i64, ServiceError> {
        let name = category::validate_name(name)?;
        let found = self
            .store
            .list_categories(caller.workspace)
            .await?
            .into_iter()
            .filter(|c| c.name == name)
            .map(|c| c.id)
            .min();
        match found {
            Some(id) => Ok(id),
            None => Ok(self.create_category(caller, &name).await?.id),
        }
    }

    pub async fn list_categories(&self, caller: Caller) -> Result<Vec<Category>, ServiceError> {
        Ok(self.store.list_categories(caller.workspace).await?)
    }

    pub async fn rename_category(
        &self,
        caller: Caller,
        id: i64,
        name: &str,
    ) -> Result<Category, ServiceError> {
        self.audited(caller, async move {
            let name = category::validate_name(name)?;
            self.store
                .rename_category(caller.workspace, id, &name)
                .await?;
            Ok(Category { id, name })
        })
        .await
    }

    /// Removes a category; its groups move to category 1. Returns how many moved.
    pub async fn delete_category(&self, caller: Caller, id: i64) -> Result<u64, ServiceError> {
        self.audited(caller, async move {
            Ok(self.store.delete_category(caller.workspace, id).await?)
        })
        .await
    }

    pub async fn create_field(
        &self,
        caller: Caller,
        def: NewFieldDef,
    ) -> Result<FieldDef, ServiceError> {
        self.audited(caller, async move {
            let def = field::validate_definition(def)?;
            Ok(self
                .store
                .create_field(caller.workspace, def, now())
                .await?)
        })
        .await
    }

    pub async fn list_fields(&self, caller: Caller) -> Result<Vec<FieldDef>, ServiceError> {
        Ok(self.store.list_fields(caller.workspace).await?)
    }

    pub async fn delete_field(&self, caller: Caller, id: i64) -> Result<(), ServiceError> {
        self.audited(caller, async move {
            Ok(self.store.delete_field(caller.workspace, id).await?)
        })
        .await
    }
}

impl Service {
    /// Every row of one workspace (or all), as JSON Lines.
    pub async fn export(&self, workspace: Option<&str>) -> Result<Vec<String>, ServiceError> {
        let ws = match workspace {
            Some(name) => Some(self.workspace(name).await?.id),
            None => None,
        };
        Ok(self.store.export(ws).await?)
    }

    /// Loads an export into this (empty) database. Returns how many rows.
    pub async fn import(&self, text: String) -> Result<u64, ServiceError> {
        Ok(self.store.import(text).await?)
    }
}
