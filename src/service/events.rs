//! The audit log: reading events, and pruning old ones.

use super::{Caller, Service, ServiceError};
use crate::domain::event::Event;
use crate::store::EventQuery;
use std::time::Duration;

/// How long events are kept unless configured.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);
/// Events removed per statement: small, so a prune never holds the writer long.
const PRUNE_BATCH: u32 = 500;
/// How often the pruner looks for old events.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

impl Service {
    /// A page of the caller's workspace's events (at most 1000).
    pub async fn list_events(
        &self,
        caller: Caller,
        mut q: EventQuery,
    ) -> Result<Vec<Event>, ServiceError> {
        q.limit = q.limit.clamp(1, 1000);
        q.after = q.after.max(0);
        Ok(self.store.list_events(caller.workspace, &q).await?)
    }

    /// Removes events older than `retention`, batch by batch, pausing between
    /// batches so writes keep their turn. Returns how many went.
    pub async fn prune_events(&self, retention: Duration) -> Result<u64, ServiceError> {
        let cutoff = super::now_ms() - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        let mut total = 0;
        loop {
            let n = self.store.prune_events(cutoff, PRUNE_BATCH).await?;
            total += n;
            if n < u64::from(PRUNE_BATCH) {
                return Ok(total);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Prunes old events (and ended console sessions) now and every ten minutes, for as long as the server runs.
    pub fn spawn_pruner(&self, retention: Duration) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            loop {
                match service.prune_events(retention).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "old events pruned"),
                    Err(e) => tracing::warn!(error = %e, "pruning old events failed"),
                }
                if let Err(e) = service.prune_sessions().await {
                    tracing::warn!(error = %e, "pruning ended console sessions failed");
                }
                tokio::time::sleep(PRUNE_EVERY).await;
            }
        })
    }
}
