//! Group categories. Category 1, "Uncategorized", exists in every workspace and
//! cannot be removed; groups of a removed category move to it.

use super::error::ValidationErrors;
use super::text;

pub const DEFAULT_CATEGORY_ID: i64 = 1;
pub const DEFAULT_CATEGORY_NAME: &str = "Uncategorized";
pub const CATEGORY_NAME_MAX: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub id: i64,
    pub name: String,
}

pub fn validate_name(raw: &str) -> Result<String, ValidationErrors> {
    text::clean_required(raw, CATEGORY_NAME_MAX)
        .map_err(|e| ValidationErrors::single("name", e.message()))
}
