//! Administration: workspaces, first start, categories and custom field
//! definitions. The command line uses these.

use super::{NewKey, Service, ServiceError, now};
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

    pub async fn list_workspaces(&self) -> Result<Vec<Workspace>, ServiceError> {
        Ok(self.store.list_workspaces().await?)
    }

    pub async fn create_category(&self, ws: &str, name: &str) -> Result<Category, ServiceError> {
        let name = category::validate_name(name)?;
        let ws = self.workspace(ws).await?;
        Ok(self.store.create_category(ws.id, &name, now()).await?)
    }

    pub async fn list_categories(&self, ws: &str) -> Result<Vec<Category>, ServiceError> {
        let ws = self.workspace(ws).await?;
        Ok(self.store.list_categories(ws.id).await?)
    }

    pub async fn rename_category(&self, ws: &str, id: i64, name: &str) -> Result<(), ServiceError> {
        let name = category::validate_name(name)?;
        let ws = self.workspace(ws).await?;
        Ok(self.store.rename_category(ws.id, id, &name).await?)
    }

    /// Removes a category; its groups move to category 1. Returns how many moved.
    pub async fn delete_category(&self, ws: &str, id: i64) -> Result<u64, ServiceError> {
        let ws = self.workspace(ws).await?;
        Ok(self.store.delete_category(ws.id, id).await?)
    }

    pub async fn create_field(&self, ws: &str, def: NewFieldDef) -> Result<FieldDef, ServiceError> {
        let def = field::validate_definition(def)?;
        let ws = self.workspace(ws).await?;
        Ok(self.store.create_field(ws.id, def, now()).await?)
    }

    pub async fn list_fields(&self, ws: &str) -> Result<Vec<FieldDef>, ServiceError> {
        let ws = self.workspace(ws).await?;
        Ok(self.store.list_fields(ws.id).await?)
    }

    pub async fn delete_field(&self, ws: &str, id: i64) -> Result<(), ServiceError> {
        let ws = self.workspace(ws).await?;
        Ok(self.store.delete_field(ws.id, id).await?)
    }
}
