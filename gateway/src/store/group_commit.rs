//! Group commit for the SQLite store's hot writes: replay-cache entries (RFC 7523 client assertion and RFC 9449 DPoP
//! `jti`s) and issued tokens.
//!
//! With `synchronous=FULL` every committed transaction costs one `fsync` of the WAL, and SQLite has one writer at a
//! time: a token request writing two `jti`s and a token as three transactions pays three disk flushes, in series with
//! every other request. Here one task owns a dedicated connection; a write is queued with a reply channel, the task
//! takes everything queued at that moment (up to [`MAX_BATCH`]), runs it in ONE `BEGIN IMMEDIATE` transaction, commits
//! (one flush), and only then answers each caller. Nobody waits for a batch to fill: under no load a batch is one
//! write, under load the flush is shared by everything that queued meanwhile.
//!
//! The store runs two writers ([`super::sqlite`]): issued tokens with `synchronous=FULL`, replay-cache entries and
//! the access log with `synchronous=NORMAL`. Guarantees kept: a write is acknowledged only after its COMMIT returned
//! (durable with `synchronous=FULL`); each
//! operation runs the same statements as the unbatched path ([`super::sqlite`]) inside the batch transaction, so its
//! checks (consent still active, code not replayed, `jti` not live) see every earlier write of the same batch; an
//! operation refused by its checks changes nothing and does not affect the others; an SQL error rolls the whole batch
//! back and every caller of that batch gets the error (nothing is half-written). This module must never acknowledge
//! a write before its commit and never log stored values.

use std::future::Future;
use std::pin::Pin;

use sqlx::{Connection as _, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use super::StoreError;

/// Most operations committed together.
pub const MAX_BATCH: usize = 256;
/// Queued operations before callers wait for room (back-pressure, bounded memory).
const QUEUE: usize = 4096;

/// One queued write: runs on the writer's connection inside the batch transaction.
type Job =
    Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> Pin<Box<dyn Future<Output = Outcome> + Send + 'c>> + Send>;

/// What an operation did: its answer is delivered after the commit (or replaced by the commit's error).
struct Outcome {
    /// Sends the operation's result (Ok) or the batch failure (Err) to its caller.
    deliver: Box<dyn FnOnce(Result<(), StoreError>) + Send>,
    /// The operation hit an SQL error: the batch must roll back.
    failed: bool,
}

/// The handle callers queue writes on (cheap to clone).
#[derive(Debug, Clone)]
pub struct GroupCommit {
    queue: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the writer task on `conn` (a connection of its own, to the same database file).
    pub fn start(conn: SqliteConnection) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE);
        tokio::spawn(writer(conn, jobs));
        Self { queue }
    }

    /// Runs `op` in the next batch and returns its result once the batch is committed. `op` must only read and
    /// write through the connection it is given, and must refuse (its own checks) before writing anything. A
    /// [`StoreError::Database`] from it is an SQL failure and rolls the whole batch back; any other error is a
    /// refusal of this operation alone (a unique violation is undone by SQLite at statement level).
    pub async fn run<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>
            + Send
            + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T, StoreError>>();
        let job: Job = Box::new(move |conn| {
            Box::pin(async move {
                let result = op(conn).await;
                let failed = matches!(result, Err(StoreError::Database(_)));
                let deliver: Box<dyn FnOnce(Result<(), StoreError>) + Send> = Box::new(move |batch| {
                    let _ = reply.send(batch.and(result));
                });
                Outcome { deliver, failed }
            })
        });
        self.queue.send(job).await.map_err(|_| StoreError::Closed)?;
        // A dropped reply: the batch failed before this operation ran (it was rolled back, nothing written).
        answer.await.map_err(|_| StoreError::Batch("an earlier write of the same batch failed".into()))?
    }
}

async fn writer(mut conn: SqliteConnection, mut jobs: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let mut outcomes = Vec::with_capacity(batch.len());
        let result = run_batch(&mut conn, batch.drain(..), &mut outcomes).await;
        match result {
            Ok(()) => outcomes.into_iter().for_each(|o| (o.deliver)(Ok(()))),
            Err(err) => {
                tracing::error!(error = %err, writes = outcomes.len(), "gateway store: batch rolled back");
                let text = err.to_string();
                outcomes.into_iter().for_each(|o| (o.deliver)(Err(StoreError::Batch(text.clone()))));
            }
        }
    }
    let _ = conn.close().await;
}

/// One transaction for `jobs`; `Err` when it could not be committed (then it was rolled back).
async fn run_batch(
    conn: &mut SqliteConnection,
    jobs: impl Iterator<Item = Job>,
    outcomes: &mut Vec<Outcome>,
) -> Result<(), StoreError> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let mut failed = false;
    for job in jobs {
        if failed {
            // The batch is lost anyway: later jobs are not run; dropping them answers their callers with an error.
            drop(job);
            continue;
        }
        let outcome = job(&mut tx).await;
        failed = outcome.failed;
        outcomes.push(outcome);
    }
    if failed {
        tx.rollback().await?;
        return Err(StoreError::Batch("an operation of the batch failed".into()));
    }
    tx.commit().await?;
    Ok(())
}
