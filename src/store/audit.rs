//! Who a write is made for, carried with the task like a tracing span.
//!
//! Every store write records its events in its own transaction, stamped with the
//! [`Audit`] of the command it carries out. The service opens a scope around each
//! command ([`scope`]); the engines read it ([`current`]) as a write starts, in the
//! task that called them. A write outside any scope (an import, a test calling an
//! engine directly) is stamped [`Audit::SYSTEM`], so no change goes unrecorded.

use crate::domain::event::Audit;
use std::future::Future;

tokio::task_local! {
    static AUDIT: Audit;
}

/// Runs `f` with every store write in it stamped `audit`.
pub async fn scope<F: Future>(audit: Audit, f: F) -> F::Output {
    AUDIT.scope(audit, f).await
}

/// The audit of the command being carried out, or [`Audit::SYSTEM`].
pub fn current() -> Audit {
    AUDIT.try_with(|a| *a).unwrap_or(Audit::SYSTEM)
}
