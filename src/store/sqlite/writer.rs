//! The single SQLite writer, with group commit.
//!
//! SQLite allows one writer at a time, and with `synchronous=FULL` every commit waits
//! for an fsync. Instead of one transaction per request, one thread owns the write
//! connection: it takes every write waiting in its queue (up to `max_batch`), runs
//! each inside its own SAVEPOINT in one transaction, commits once, and only then
//! answers each caller. A write that fails rolls back to its savepoint alone; a failed
//! COMMIT fails them all. No caller hears "done" before its write is on disk.

use super::changes::ChangeMarker;
use super::{CachedExt, map_err};
use crate::store::StoreError;
use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, mpsc};
use tokio::sync::oneshot;

trait WriteJob: Send {
    /// Runs the job; `true` when it succeeded and its changes should stay.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the transaction's fate is known.
    fn finish(self: Box<Self>, commit: Result<(), StoreError>);
}

struct TypedJob<T, F> {
    f: Option<F>,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> WriteJob for TypedJob<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(f) = self.f.take() else {
            return false;
        };
        let result = catch_unwind(AssertUnwindSafe(|| f(conn)))
            .unwrap_or_else(|_| Err(StoreError::Backend("a write panicked".into())));
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, commit: Result<(), StoreError>) {
        let out = match (self.result, commit) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(v)), Ok(())) => Ok(v),
            (_, Err(e)) => Err(e),
            (None, Ok(())) => Err(StoreError::Backend("write was not run".into())),
        };
        // The caller may have gone away (client disconnected); nothing to do then.
        let _ = self.reply.send(out);
    }
}

pub(crate) struct Writer {
    queue: mpsc::Sender<Box<dyn WriteJob>>,
}

impl Writer {
    /// Starts the writer thread. After every commit it marks a write in
    /// `changes`, before any caller hears of it, so that caches drop what the
    /// commit made stale.
    pub fn start(
        conn: Connection,
        max_batch: usize,
        changes: Arc<ChangeMarker>,
    ) -> std::io::Result<Writer> {
        let (queue, jobs) = mpsc::channel::<Box<dyn WriteJob>>();
        std::thread::Builder::new()
            .name("groupd-sqlite-writer".into())
            .spawn(move || run_writer(conn, jobs, max_batch.max(1), &changes))?;
        Ok(Writer { queue })
    }

    /// Runs `f` in the next write transaction and waits until it is committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let op = crate::store::op_name(std::any::type_name::<F>());
        self.write_named(op, f).await
    }

    /// [`Writer::write`], timed under the operation name `op` (queueing, the
    /// write and the group commit it waits for).
    pub async fn write_named<T, F>(&self, op: &'static str, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let start = std::time::Instant::now();
        let (reply, answer) = oneshot::channel();
        let job = TypedJob {
            f: Some(f),
            result: None,
            reply,
        };
        self.queue
            .send(Box::new(job))
            .map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))?;
        let out = answer
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))?;
        crate::store::record_op("sqlite", op, start);
        out
    }
}

fn run_writer(
    conn: Connection,
    jobs: mpsc::Receiver<Box<dyn WriteJob>>,
    max_batch: usize,
    changes: &ChangeMarker,
) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.exec_cached("BEGIN IMMEDIATE", []) {
            let err = map_err(e);
            for job in batch {
                job.finish(Err(err.clone()));
            }
            continue;
        }
        for job in batch.iter_mut() {
            let staged = conn.exec_cached("SAVEPOINT job", []).is_ok();
            let ok = staged && job.run(&conn);
            if staged {
                if !ok {
                    let _ = conn.exec_cached("ROLLBACK TO job", []);
                }
                let _ = conn.exec_cached("RELEASE job", []);
            }
        }
        let committing = std::time::Instant::now();
        let commit = conn.exec_cached("COMMIT", []).map(|_| ()).map_err(map_err);
        metrics::histogram!("groupd_sqlite_commit_seconds")
            .record(committing.elapsed().as_secs_f64());
        metrics::histogram!("groupd_sqlite_write_batch_size").record(batch.len() as f64);
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        // Even after a failed COMMIT: a needless mark costs one pwrite.
        changes.mark_write();
        for job in batch {
            job.finish(commit.clone());
        }
    }
}
