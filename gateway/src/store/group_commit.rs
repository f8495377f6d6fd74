//! Group commit for the SQLite store's hot writes: replay-cache entries (RFC 7523 client assertion and RFC 9449 DPoP
//! `jti`s), issued tokens, the access log's moves from its journal ([`super::journal`]), accepted bank notifications
//! and webhook attempt outcomes.
//!
//! With `synchronous=FULL` every committed transaction costs one `fsync` of the WAL, and SQLite has one writer at a
//! time: a token request writing two `jti`s and a token as three transactions pays three disk flushes, in series with
//! every other request. Here one task owns a dedicated connection; a write is queued with a reply channel, the task
//! takes everything queued at that moment (up to [`MAX_BATCH`]), runs it in ONE `BEGIN IMMEDIATE` transaction, commits
//! (one flush), and only then answers each caller. Nobody waits for a batch to fill: under no load a batch is one
//! write, under load the flush is shared by everything that queued meanwhile.
//!
//! Two durability classes share this one writer ([`Durability`]): a batch holding at least one durable write commits
//! with `synchronous=FULL` (the WAL is flushed before the commit returns), a batch of relaxed writes only with
//! `synchronous=NORMAL` (committed to the WAL in the OS's hands: survives a crash of the process, not a power cut).
//! Decision: one writer rather than one per class, because SQLite allows one writing connection at a time, and two
//! writers fight for its lock through the busy handler, which sleeps in steps of milliseconds; the pragma is switched
//! between transactions, only when the class changes.
//!
//! Rows that many requests append (plain tokens, replay-cache `jti`s) go through an [`Appender`]:
//! the first row queues one job, the rows arriving before it runs join it, and it writes them all in multi-row
//! `INSERT`s; each waiting caller is answered only after the commit (`jti`s, decided in memory, are written behind:
//! their callers do not wait): one statement per batch instead of one per row. An appender's job alone in its batch
//! runs without the batch's `BEGIN` and
//! `COMMIT`: its one multi-row `INSERT` is a transaction by itself (SQLite's autocommit), and when its rows need
//! several statements it opens a transaction of its own.
//!
//! The writer is a plain thread that owns its connection (rusqlite) and runs every statement itself, synchronously:
//! callers queue jobs on a Tokio channel and await their answer, the thread blocks on the channel between batches.
//! Decision, measured: the writer used to be a Tokio task on a runtime of its own driving an sqlx connection, whose
//! statements each went to sqlx's own SQLite thread and back (a channel send, a wake-up, two context switches per
//! statement, about 25 statements per consent flow); on a shared runtime they had also waited behind request tasks.
//! With the statements run in place, context switches per consent flow fell by half (300,000 to 141,000 in 5 s of
//! `bench/consent-flows.sh` at about 400 flows/s; the writer's thread 82,000 -> 26,000, sqlx's threads 158,000 ->
//! 63,000), the machine's idle share under that load rose from 5-8% to 11-12%, and flows/s did not move (390-466
//! against 379-466, alternating runs; the flows are bound elsewhere). The pool's reads still go through sqlx.
//! Checkpoints are moved off the commit path: the writer's connection does not checkpoint (`wal_autocheckpoint=0`);
//! a checkpointer thread beside it, on a connection of its own, runs a passive checkpoint after commits, at most ten
//! times a second. Before, every thousandth page made
//! one commit copy the log into the database file and sync it while every caller waited.
//!
//! The log restarts from its start only when a write begins with every frame already copied back, which under steady
//! load never happens: passive checkpoints run beside the writer and never reach the log's end. When the log outgrew
//! [`WAL_RESTART_FRAMES`], the checkpointer asks the writer to catch up: after its current batch is answered, the
//! writer runs one passive checkpoint on its own connection (nothing can be appended meanwhile, so it copies the
//! frames written since the checkpointer's last pass and reaches the end), and its next batch writes the log from the
//! start. Decision, measured: the checkpointer used to run a `RESTART` checkpoint instead, which holds the write lock
//! while it waits, in SQLite's busy handler (sleeps of milliseconds), for the readers to leave the log: under 20,000
//! `client_credentials` tokens/s those took 3 ms to 1.3 s each (30 in 16 s), every write queued behind them, and the
//! token endpoint's p99 was 14-98 ms; the writer's catch-up takes 2-11 ms (p99 9-12 ms at the same rate). A bound
//! of 256 MiB instead of 64 (four times fewer catch-ups) was measured too: the resource API's p99 at 10,000 req/s
//! did not move (1.90-2.13 ms against 2.02-2.32, alternating runs).
//!
//! Measured under the resource API's load (certificate-bound tokens, `GET /fdx/v6/accounts`, 32 connections, 2 cores;
//! `bench/resource-load.sh` setup), before the access log moved to its journal ([`super::journal`], which now takes
//! the records and hands them here a thousand at a time), for the record: the access log was most of the
//! store's work there. A build without it served 11,500-16,450 req/s (three runs of four above 15,000) against
//! 9,900-12,150, with a p99 at 6,000 req/s of 2.3-3.3 ms against 4.4-8.0 ms; a build without checkpoints 2.9-3.4 ms.
//! Batches are small (a few rows), each commit rewrote three pages (the table's and both indexes' last leaves), so the
//! log grew by 64 MiB in about 1.5 s and was restarted that often. Since migration 0007 the log has one index (the
//! person's; a consent's history reads through it): 27-29% fewer `pwrite`s per request (2.16-2.43 -> 1.58-1.73),
//! +3 to +9% requests/s and a p99 0.2-0.9 ms lower, measured in one running gateway with the index dropped and
//! created again between alternating runs. Tried and dropped, no gain outside the noise:
//! answering durable writes after an `fdatasync` by a syncer thread while the writer commits with `synchronous=NORMAL`
//! (private_key_jwt tokens at 16 connections, interleaved runs: 6,139 -> 5,774/s on average); a pause of 200 or 500
//! microseconds before a batch of relaxed writes only (half as many restarts, p99 unchanged, p50 0.1-0.5 ms higher);
//! checkpoints at most once a second instead of ten times.
//!
//! Guarantees kept: a write is acknowledged only after its COMMIT returned (durable with `synchronous=FULL`); each
//! operation runs the same statements as the unbatched path ([`super::sqlite`]) inside the batch transaction, so its
//! checks (consent still active, code not replayed, `jti` not live) see every earlier write of the same batch; an
//! operation refused by its checks changes nothing and does not affect the others; an SQL error rolls the whole batch
//! back and every caller of that batch gets the error (nothing is half-written). This module must never acknowledge
//! a write before its commit and never log stored values.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::{Placement, StoreError};

/// Most operations committed together.
pub const MAX_BATCH: usize = 256;
/// Queued operations before callers wait for room (back-pressure, bounded memory).
const QUEUE: usize = 4096;
/// Log size (in pages of 4 KiB: 64 MiB) past which the writer catches up with the checkpoints (module docs).
const WAL_RESTART_FRAMES: i64 = 16_384;
/// Least time between two checkpoints (each one syncs the database file).
const CHECKPOINT_SPACING: std::time::Duration = std::time::Duration::from_millis(100);

/// How a write must reach the disk before it is acknowledged (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Committed with `synchronous=FULL`: survives a power cut of the host.
    Durable,
    /// Committed with `synchronous=NORMAL`: survives a crash of the process; a power cut may lose the last moments.
    Relaxed,
}

/// Most rows an [`Appender`]'s write function puts in one statement (SQLite's limit on bound values is 32,766).
pub const ROWS_PER_STATEMENT: usize = 200;

/// One queued write: runs on the writer's connection inside the batch transaction, or, for a [`Job::self_contained`]
/// job alone in its batch, on its own (the flag it is given says which: `true` inside the batch transaction).
type Work = Box<dyn FnOnce(&Connection, bool) -> Outcome + Send>;

struct Job {
    durability: Durability,
    work: Work,
    /// The job is all-or-nothing by itself (an appender's rows: one statement, or a transaction of its own when
    /// they need several), so alone in a batch it runs without the batch's `BEGIN` and `COMMIT`.
    self_contained: bool,
}

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
    /// Starts the writer on `conn` (a connection of its own, to the same database, with `synchronous=FULL` and
    /// `wal_autocheckpoint=0`) and, for a database file, the checkpointer on `checkpoints` (another connection to
    /// the file), each on a thread of its own (module docs). They stop once every handle is dropped.
    pub fn start(conn: Connection, checkpoints: Option<Connection>) -> Result<Self, StoreError> {
        Self::spawn(conn, checkpoints, Arc::new(AtomicBool::new(false)))
    }

    /// [`Self::start`] with the catch-up request shared with the caller; without a checkpointer (tests, a database
    /// in memory) only the caller asks the writer to catch up.
    fn spawn(conn: Connection, checkpoints: Option<Connection>, catch_up: Arc<AtomicBool>) -> Result<Self, StoreError> {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let thread_error = |e: std::io::Error| StoreError::Batch(format!("the store writer's thread: {e}"));
        let (written, signals) = std::sync::mpsc::sync_channel(1);
        if let Some(checkpoints) = checkpoints {
            let catch_up = catch_up.clone();
            std::thread::Builder::new()
                .name("store-checkpoint".into())
                .spawn(move || checkpointer(checkpoints, signals, catch_up))
                .map_err(thread_error)?;
        }
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer(conn, jobs, written, catch_up))
            .map_err(thread_error)?;
        Ok(Self { queue })
    }

    /// Runs `op` in the next batch and returns its result once the batch is committed. `op` must only read and
    /// write through the connection it is given, and must refuse (its own checks) before writing anything. A
    /// [`StoreError::Database`] from it is an SQL failure and rolls the whole batch back; any other error is a
    /// refusal of this operation alone (a unique violation is undone by SQLite at statement level).
    pub async fn run<T, F>(&self, durability: Durability, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.run_placed(durability, None, op).await
    }

    /// [`Self::run`], dropping `placed` as soon as the write is queued (its place in the commit order is fixed).
    pub async fn run_placed<T, F>(&self, durability: Durability, placed: Placement, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.queue_op(durability, placed, op, |_| {}).await
    }

    /// [`Self::run`], and `committed` with the operation's answer once its batch is committed, on the writer's
    /// thread, before any later batch begins and before the caller is answered. Read caches are refreshed there: a
    /// value put in a cache at that point is the committed row, and every later write of the same row commits (and
    /// drops it from the cache) after it, so no reader is left with a row older than an acknowledged write. Not
    /// called when the operation or its batch failed.
    pub async fn run_committed<T, F, C>(&self, durability: Durability, op: F, committed: C) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        C: FnOnce(&T) + Send + 'static,
    {
        self.queue_op(durability, None, op, committed).await
    }

    /// Queues `op` (after which `placed` is dropped) and answers its result once its batch committed, calling
    /// `committed` first on the writer's thread.
    async fn queue_op<T, F, C>(
        &self,
        durability: Durability,
        placed: Placement,
        op: F,
        committed: C,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        C: FnOnce(&T) + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T, StoreError>>();
        let work: Work = Box::new(move |conn, _| {
            let result = op(conn);
            let failed = matches!(result, Err(StoreError::Database(_)));
            let deliver: Box<dyn FnOnce(Result<(), StoreError>) + Send> = Box::new(move |batch| {
                let result = batch.and(result);
                if let Ok(value) = &result {
                    committed(value);
                }
                let _ = reply.send(result);
            });
            Outcome { deliver, failed }
        });
        self.queue.send(Job { durability, work, self_contained: false }).await.map_err(|_| StoreError::Closed)?;
        drop(placed);
        // A dropped reply: the batch failed before this operation ran (it was rolled back, nothing written).
        answer.await.map_err(|_| StoreError::Batch("an earlier write of the same batch failed".into()))?
    }
}

/// A row in an [`Appender`], and where its answer goes (none for a row written behind).
type Pending<R> = (R, Option<oneshot::Sender<Result<(), StoreError>>>);

/// Writes the rows an [`Appender`] collected, on the batch's connection (multi-row statements).
pub type WriteRows<R> = fn(&Connection, Vec<R>) -> Result<(), StoreError>;

/// Rows of one kind appended by many callers, written by ONE job of the next batch in multi-row statements; every
/// waiting caller is answered after that batch's commit, a row written behind is not waited for (module docs). Cheap
/// to share (`Arc` inside).
pub struct Appender<R> {
    pending: Arc<Mutex<Vec<Pending<R>>>>,
}

impl<R> Default for Appender<R> {
    fn default() -> Self {
        Self { pending: Arc::default() }
    }
}

impl<R> Clone for Appender<R> {
    fn clone(&self) -> Self {
        Self { pending: Arc::clone(&self.pending) }
    }
}

impl<R> std::fmt::Debug for Appender<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Appender").field("pending", &lock(&self.pending).len()).finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The job of an [`Appender`]'s rows. Dropped without running (its batch failed before it): the rows that joined
/// it are dropped too, which answers their callers with an error instead of leaving them waiting.
struct Flush<R> {
    pending: Arc<Mutex<Vec<Pending<R>>>>,
    ran: bool,
}

impl<R> Drop for Flush<R> {
    fn drop(&mut self) {
        if !self.ran {
            lock(&self.pending).clear();
        }
    }
}

impl GroupCommit {
    /// Appends `row` through `appender` and returns once it is committed. The first row of an empty appender queues
    /// the job; rows arriving before that job runs join it; it takes them all and writes them with `write`. An error
    /// of the statement answers every row of the job (a statement is atomic: none of them was written).
    pub async fn append<R: Send + 'static>(
        &self,
        durability: Durability,
        appender: &Appender<R>,
        row: R,
        write: WriteRows<R>,
    ) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.push(durability, appender, (row, Some(reply)), write).await?;
        // A dropped reply: the job's batch failed before it ran, or the writer stopped.
        answer.await.map_err(|_| StoreError::Batch("an earlier write of the same batch failed".into()))?
    }

    /// Appends `row` as [`Self::append`] does, returning once it is queued (write-behind: the caller has decided
    /// already, e.g. from an exact in-memory copy; a failure is only logged by the writer).
    pub async fn append_behind<R: Send + 'static>(
        &self,
        durability: Durability,
        appender: &Appender<R>,
        row: R,
        write: WriteRows<R>,
    ) -> Result<(), StoreError> {
        self.push(durability, appender, (row, None), write).await
    }

    /// Adds `pending` to `appender`, queuing the job that will write it when it is the first row waiting.
    async fn push<R: Send + 'static>(
        &self,
        durability: Durability,
        appender: &Appender<R>,
        pending: Pending<R>,
        write: WriteRows<R>,
    ) -> Result<(), StoreError> {
        let first = {
            let mut rows = lock(&appender.pending);
            rows.push(pending);
            rows.len() == 1
        };
        if !first {
            return Ok(());
        }
        let flush = Flush { pending: Arc::clone(&appender.pending), ran: false };
        let work: Work = Box::new(move |conn, in_batch| {
            let mut flush = flush;
            flush.ran = true;
            let (rows, replies): (Vec<R>, Vec<_>) = std::mem::take(&mut *lock(&flush.pending)).into_iter().unzip();
            let result = if in_batch || rows.len() <= ROWS_PER_STATEMENT {
                write(conn, rows)
            } else {
                // Alone but several statements: a transaction of its own keeps the rows all-or-nothing.
                write_in_transaction(conn, rows, write)
            };
            let failed = matches!(result, Err(StoreError::Database(_)));
            let deliver: Box<dyn FnOnce(Result<(), StoreError>) + Send> =
                Box::new(move |batch| answer_all(replies.into_iter().flatten().collect(), batch.and(result)));
            Outcome { deliver, failed }
        });
        // Not queued: the job was dropped, and its Flush answered every row that joined it.
        self.queue.send(Job { durability, work, self_contained: true }).await.map_err(|_| StoreError::Closed)
    }
}

/// `write(rows)` in a transaction of its own, rolled back when it fails (the transaction's drop).
fn write_in_transaction<R>(conn: &Connection, rows: Vec<R>, write: WriteRows<R>) -> Result<(), StoreError> {
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    write(&tx, rows)?;
    Ok(tx.commit()?)
}

/// Sends `outcome` to every waiting caller of one appender job (the error as text when there are several).
fn answer_all(mut replies: Vec<oneshot::Sender<Result<(), StoreError>>>, outcome: Result<(), StoreError>) {
    if replies.len() == 1
        && let Some(reply) = replies.pop()
    {
        let _ = reply.send(outcome);
        return;
    }
    let outcome = outcome.map_err(|e| e.to_string());
    for reply in replies {
        let _ = reply.send(outcome.clone().map_err(StoreError::Batch));
    }
}

/// `INSERT INTO table (columns) VALUES (?, ..), (..), ..` for `rows` rows of `width` placeholders each, bound in
/// order. Anonymous `?` on purpose: SQLite looks a numbered parameter's name up in a list for each bind, so binding
/// a statement of 200 rows by `$n` names took quadratic time (`sqlite3VListNumToName` led the writer thread's
/// profile).
pub fn multi_row_insert(head: &str, width: usize, rows: usize) -> String {
    let row = format!("({})", vec!["?"; width].join(", "));
    let mut sql = String::with_capacity(head.len() + 8 + rows * (row.len() + 2));
    sql.push_str(head);
    sql.push_str(" VALUES ");
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&row);
    }
    sql
}

/// The writer loop, on its own thread; after each commit it tells the checkpointer there are new frames in the log
/// (`written`). It waits for the first job of a batch, then takes what else is queued at that moment.
fn writer(
    conn: Connection,
    mut jobs: mpsc::Receiver<Job>,
    written: std::sync::mpsc::SyncSender<()>,
    catch_up: Arc<AtomicBool>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut current = Durability::Durable;
    while let Some(first) = jobs.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut outcomes = Vec::with_capacity(batch.len());
        let wanted = if batch.iter().any(|job| job.durability == Durability::Durable) {
            Durability::Durable
        } else {
            Durability::Relaxed
        };
        let result = match set_synchronous(&conn, current, wanted) {
            Ok(()) => {
                current = wanted;
                let result = run_batch(&conn, &mut batch, &mut outcomes);
                // Jobs a failed BEGIN left unrun are dropped, which answers their callers with an error.
                batch.clear();
                result
            }
            Err(err) => {
                // Nothing ran: every caller of the batch gets the error.
                let text = err.to_string();
                batch.drain(..).for_each(drop);
                Err(StoreError::Batch(text))
            }
        };
        match result {
            Ok(()) => {
                outcomes.into_iter().for_each(|o| (o.deliver)(Ok(())));
                if catch_up.swap(false, Ordering::Relaxed)
                    && let Err(error) = checkpoint(&conn)
                {
                    tracing::warn!(%error, "gateway store: the writer's checkpoint failed (asked again later)");
                }
                // A full channel means a checkpoint is already due: the signals coalesce.
                let _ = written.try_send(());
            }
            Err(err) => {
                tracing::error!(error = %err, writes = outcomes.len(), "gateway store: batch rolled back");
                let text = err.to_string();
                outcomes.into_iter().for_each(|o| (o.deliver)(Err(StoreError::Batch(text.clone()))));
            }
        }
    }
}

/// Copies committed log frames back into the database file (`PRAGMA wal_checkpoint(PASSIVE)`: it never blocks the
/// writer nor readers, and copies what no reader still needs) after commits, at most once per
/// [`CHECKPOINT_SPACING`]; a last one when the writer stops.
fn checkpointer(conn: Connection, written: std::sync::mpsc::Receiver<()>, catch_up: Arc<AtomicBool>) {
    while written.recv().is_ok() {
        match checkpoint(&conn) {
            // Under steady writes a passive checkpoint never catches up with the log's end, so the log is never
            // restarted and would grow for as long as the load lasts: past a bound, the writer catches up (module
            // docs).
            Ok(frames) if frames >= WAL_RESTART_FRAMES => catch_up.store(true, Ordering::Relaxed),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "gateway store: checkpoint failed (retried after the next commit)"),
        }
        // Pacing, not waiting for anything: commits meanwhile leave one signal, served by the next round.
        std::thread::sleep(CHECKPOINT_SPACING);
    }
    let _ = checkpoint(&conn);
}

/// One passive checkpoint; answers how many frames the log holds.
fn checkpoint(conn: &Connection) -> Result<i64, StoreError> {
    // The pragma answers (busy, frames in the log, frames checkpointed).
    Ok(conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))?)
}

/// Switches the connection's `synchronous` pragma when the batch needs another class than the last one.
fn set_synchronous(conn: &Connection, current: Durability, wanted: Durability) -> Result<(), StoreError> {
    if current == wanted {
        return Ok(());
    }
    let pragma = match wanted {
        Durability::Durable => "PRAGMA synchronous = FULL",
        Durability::Relaxed => "PRAGMA synchronous = NORMAL",
    };
    Ok(conn.execute_batch(pragma)?)
}

/// One transaction for `jobs` (taken out of the vector); `Err` when it could not be committed (then it was rolled
/// back). A self-contained job alone runs without it.
fn run_batch(conn: &Connection, jobs: &mut Vec<Job>, outcomes: &mut Vec<Outcome>) -> Result<(), StoreError> {
    if jobs.len() == 1
        && jobs[0].self_contained
        && let Some(job) = jobs.pop()
    {
        let outcome = (job.work)(conn, false);
        let failed = outcome.failed;
        outcomes.push(outcome);
        return if failed {
            Err(StoreError::Batch("the write failed; nothing of it was written".into()))
        } else {
            Ok(())
        };
    }
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let mut failed = false;
    for job in jobs.drain(..) {
        if failed {
            // The batch is lost anyway: later jobs are not run; dropping them answers their callers with an error.
            drop(job);
            continue;
        }
        let outcome = (job.work)(&tx, true);
        failed = outcome.failed;
        outcomes.push(outcome);
    }
    if failed {
        tx.rollback()?;
        return Err(StoreError::Batch("an operation of the batch failed".into()));
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multi_row_insert_has_one_anonymous_placeholder_per_value() {
        assert_eq!(multi_row_insert("INSERT INTO t (a, b)", 2, 1), "INSERT INTO t (a, b) VALUES (?, ?)");
        assert_eq!(multi_row_insert("INSERT INTO t (a)", 1, 3), "INSERT INTO t (a) VALUES (?), (?), (?)");
    }

    /// A connection to `path` in WAL mode that never checkpoints by itself, as the store's writer has.
    fn wal_connection(path: &std::path::Path) -> Connection {
        let conn = Connection::open(path).unwrap();
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)).unwrap();
        assert_eq!(mode, "wal");
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0").unwrap();
        conn
    }

    /// The checkpointer reads the size of the log from the pragma's answer (a decoding failure would leave the log
    /// growing silently), and after a passive checkpoint with no reader every frame is copied back.
    #[test]
    fn a_passive_checkpoint_reports_the_frames_of_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let conn = wal_connection(&dir.path().join("log.db"));
        conn.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2);").unwrap();
        let frames = checkpoint(&conn).unwrap();
        assert!(frames >= 2, "the table and its row are in the log: {frames} frames");
        let (busy, log, copied): (i64, i64, i64) = conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap();
        assert_eq!((busy, copied), (0, log), "everything was copied back");
    }

    /// Asked to catch up (by the checkpointer, when the log outgrew its bound), the writer copies the whole log back
    /// after a batch, and its next batch writes the log from the start: SQLite then writes the log's header again
    /// with new salts (bytes 16..24). Unasked, with nothing else checkpointing, the log goes on.
    #[tokio::test]
    async fn asked_to_catch_up_the_writer_checkpoints_and_its_next_batch_restarts_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.db");
        wal_connection(&path).execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        let catch_up = Arc::new(AtomicBool::new(false));
        let writer = GroupCommit::spawn(wal_connection(&path), None, catch_up.clone()).unwrap();
        let insert = || {
            writer.run(Durability::Durable, |conn| {
                conn.execute("INSERT INTO t VALUES (zeroblob(3000))", [])?;
                Ok(())
            })
        };
        let salts = || std::fs::read(dir.path().join("log.db-wal")).unwrap()[16..24].to_vec();
        insert().await.unwrap();
        let first = salts();
        insert().await.unwrap();
        insert().await.unwrap();
        assert_eq!(salts(), first, "unasked, the log goes on");

        // The writer looks at the request after answering a batch: after the third one (when it looks after this
        // store) or after the fourth; either way the batch after the catch-up writes the log from its start.
        catch_up.store(true, Ordering::Relaxed);
        insert().await.unwrap();
        insert().await.unwrap();
        assert_ne!(salts(), first, "a batch after the catch-up wrote the log from its start");
        assert!(!catch_up.load(Ordering::Relaxed), "the request was served once");
        let rows: i64 = Connection::open(&path).unwrap().query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 5, "nothing was lost across the restart");
    }

    /// A refused operation (its own check) leaves the batch's other writes committed; an SQL failure rolls the
    /// whole batch back and every caller of it hears so.
    #[tokio::test]
    async fn a_refusal_stays_alone_and_an_sql_failure_rolls_the_batch_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("batch.db");
        wal_connection(&path).execute_batch("CREATE TABLE t (x INTEGER PRIMARY KEY)").unwrap();
        let writer = GroupCommit::start(wal_connection(&path), None).unwrap();
        let insert = |x: i64| {
            writer.run(Durability::Durable, move |conn| {
                conn.execute("INSERT INTO t VALUES (?1)", [x])?;
                Ok(())
            })
        };
        insert(1).await.unwrap();
        assert!(matches!(insert(1).await, Err(StoreError::Duplicate)), "a unique violation is a refusal");
        let refused = writer.run(Durability::Durable, |_| Err::<(), _>(StoreError::Missing("consent")));
        let (refused, two) = tokio::join!(refused, insert(2));
        assert!(matches!(refused, Err(StoreError::Missing("consent"))));
        two.unwrap();
        let broken = writer.run(Durability::Durable, |conn| {
            conn.execute("INSERT INTO missing_table VALUES (1)", [])?;
            Ok(())
        });
        let (broken, three) = tokio::join!(broken, insert(3));
        assert!(broken.is_err());
        let count = |x: i64| -> i64 {
            Connection::open(&path)
                .unwrap()
                .query_row("SELECT count(*) FROM t WHERE x = ?1", [x], |r| r.get(0))
                .unwrap()
        };
        assert_eq!((count(1), count(2)), (1, 1));
        assert_eq!(count(3), i64::from(three.is_ok()), "a write is acknowledged exactly when it is committed");
    }
}
