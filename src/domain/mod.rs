//! The domain model: plain values and the rules they obey. No I/O lives here.

pub mod category;
pub mod error;
pub mod event;
pub mod field;
pub mod group;
pub mod identifier;
pub mod key;
pub mod listing;
pub mod membership;
pub mod policy;
pub mod references;
pub mod removal;
pub mod scim;
pub mod session;
pub mod slug;
pub mod text;
pub mod user;
pub mod webhook;
pub mod workspace;

pub use error::{DomainError, FieldError, ValidationErrors};
