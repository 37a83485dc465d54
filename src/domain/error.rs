//! Validation errors shared by every domain rule.

use std::fmt;

/// One rejected input field: its canonical domain name and why it was refused.
///
/// Canonical names are the ones the native API uses (`name`, `description`,
/// `category_id`, `slug`, `secret`, `unleavable`, `pinned`, `password_protect`,
/// `password`, `icon_url`, `custom_field_<id>`); each dialect maps them to its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    /// What kind of problem, for dialects that name some with their own key.
    pub problem: Problem,
}

/// The kind of a field's problem. Dialects map it, never the message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// Breaks a rule (the message says which).
    Invalid,
    /// Not an email address groupd accepts.
    InvalidEmail,
}

/// Every field a request got wrong, in the order they were found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a bad field. A field is named once: its first error is kept.
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.push_problem(field, Problem::Invalid, message);
    }

    /// Records a bad field with the kind of its problem.
    pub fn push_problem(
        &mut self,
        field: impl Into<String>,
        problem: Problem,
        message: impl Into<String>,
    ) {
        let field = field.into();
        if !self.0.iter().any(|e| e.field == field) {
            self.0.push(FieldError {
                field,
                message: message.into(),
                problem,
            });
        }
    }

    /// Whether the only problem is this one (dialects answer some with a key of
    /// their own, e.g. `invalid_email_address`).
    pub fn is_only(&self, problem: Problem) -> bool {
        matches!(self.0.as_slice(), [only] if only.problem == problem)
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.push(field, message);
        errors
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn fields(&self) -> &[FieldError] {
        &self.0
    }

    pub fn extend(&mut self, other: ValidationErrors) {
        for e in other.0 {
            self.push_problem(e.field, e.problem, e.message);
        }
    }

    /// `Ok(value)` when nothing was recorded, the errors otherwise.
    pub fn into_result<T>(self, value: T) -> Result<T, ValidationErrors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

/// The domain layer's error: input that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("invalid input: {0}")]
    Invalid(ValidationErrors),
}

impl From<ValidationErrors> for DomainError {
    fn from(e: ValidationErrors) -> Self {
        DomainError::Invalid(e)
    }
}
