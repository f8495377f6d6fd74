//! The bank's embedded store (SQLite through sqlx): only what changes the generated base.
//!
//! The generated ledger is a pure function of (seed, bank, customer) and is never written here. What *is* kept:
//! small facts in `bank_meta` (the pinned start instant, the simulated clock, the key that signs paging cursors) and
//! the transactions injected through the admin API (`injected_transactions`, including raised suspected fraud). The
//! login engineer's tables (clients, consents, token hashes) live in the same file (migration 0002), and so do the
//! FDX notification subscriptions (`notification_subscriptions`, migration 0003) and the notifications still to
//! deliver (the outbox, migration 0004), both owned by `events`.
//!
//! Every write here is durable once acknowledged: the file is opened in WAL mode with `synchronous=FULL`. Writes go
//! through [`BankStore::writer`], a pool of ONE connection, reads through [`BankStore::pool`] (four): SQLite has one
//! writer at a time, and two pooled connections writing at once meet in SQLite's busy handler, which sleeps (1 ms,
//! 2 ms, 5 ms, ...) instead of queueing; the one-connection pool queues writers in order, without sleeping. A write
//! must never wait for another write while it holds the writer (the in-memory store is one connection for both).
//!
//! The writes of every consent flow (the new consent with its tokens, the gateway's notification subscription) are
//! group-committed ([`BankStore::commit`]): each commit with `synchronous=FULL` flushes the log to disk, and one flush
//! per write, one after the other on the one writer, was the bank's limit on consent flows per second. The first
//! write queued on an empty queue starts one task; the task waits for the writer connection, takes every write queued
//! by then (those that arrived meanwhile joined it) and runs them in ONE transaction: one flush for all. Each caller
//! is answered only after that commit, so an acknowledged write is durable as before. When that transaction fails
//! (rolled back: nothing of it is written), each write runs again in a transaction of its own, so a bad one fails
//! alone. The task is spawned, so a caller that stops waiting (its request dropped) cannot strand the others.
//!
//! This module must never hold anything a restart could regenerate, and never log stored values (the meta table
//! holds the cursor-signing key).

use crate::ledger::model::Transaction;
use anyhow::Context as _;
use futures_util::future::BoxFuture;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Acquire as _, Row as _, SqliteConnection};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// Meta key: the instant the bank first started (its generated history ends there; RFC 3339). Same key as
/// `server.rs` pins.
pub const META_PINNED_START: &str = "clock.start";
/// Meta key: the simulated clock as last moved (admin API, reset, shutdown; RFC 3339). Same key as `server.rs` saves.
pub const META_CLOCK_NOW: &str = "clock.now";
/// Meta key: hex of the 256-bit key that signs FDX paging cursors.
pub const META_CURSOR_KEY: &str = "cursor.key";

/// Handle to the bank's SQLite database (cheap to clone: pools inside).
#[derive(Debug, Clone)]
pub struct BankStore {
    pool: SqlitePool,
    /// The one connection every write goes through (module docs); the same pool as `pool` in memory.
    writer: SqlitePool,
    /// Writes waiting for the group commit's next transaction ([`BankStore::commit`]).
    queued: Arc<Queued>,
}

/// One caller's statements for the group commit ([`BankStore::commit`]), run on the writer connection inside the
/// batch's transaction, or (after that transaction failed) again in one of its own: it may run twice, so it owns
/// what it writes and clones it into each run.
pub type GroupWrite = Box<dyn for<'c> Fn(&'c mut SqliteConnection) -> BoxFuture<'c, anyhow::Result<()>> + Send + Sync>;

/// A queued write and where its answer goes.
type QueuedWrite = (GroupWrite, oneshot::Sender<Result<(), String>>);

#[derive(Default)]
struct Queued(Mutex<Vec<QueuedWrite>>);

impl std::fmt::Debug for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queued").field("writes", &self.lock().len()).finish()
    }
}

impl Queued {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<QueuedWrite>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Runs `batch` in one transaction and answers every caller; when that fails, each write alone (module docs).
async fn commit_batch(conn: &mut SqliteConnection, batch: Vec<QueuedWrite>) {
    let writes: Vec<&GroupWrite> = batch.iter().map(|(write, _)| write).collect();
    if writes.len() > 1 && run_in_transaction(conn, &writes).await.is_ok() {
        for (_, reply) in batch {
            let _ = reply.send(Ok(()));
        }
        return;
    }
    for (write, reply) in batch {
        let _ = reply.send(run_in_transaction(conn, &[&write]).await.map_err(|e| format!("{e:#}")));
    }
}

/// `writes` in one transaction, rolled back (its drop) when one fails.
async fn run_in_transaction(conn: &mut SqliteConnection, writes: &[&GroupWrite]) -> anyhow::Result<()> {
    let mut tx = conn.begin().await?;
    for write in writes {
        write(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// One persisted injected transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInjection {
    /// Insertion order (never reused).
    pub seq: i64,
    pub customer_index: u32,
    pub transaction: Transaction,
}

impl BankStore {
    /// Open (creating if missing) the database at `path`, or a private in-memory one for `None`, and run the
    /// migrations in `mock-bank/migrations`.
    pub async fn open(path: Option<&Path>) -> anyhow::Result<BankStore> {
        let (pool, writer) = match path {
            Some(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
                }
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // An acknowledged write survives a power cut. The one write per consent flow (the new
                    // consent and its tokens) is group-committed: login::persist::ConsentWrites.
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(5));
                let pool = SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(options.clone())
                    .await
                    .with_context(|| format!("cannot open the bank store {}", path.display()))?;
                sqlx::migrate!("./migrations").run(&pool).await.context("cannot migrate the bank store")?;
                let writer = SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await
                    .with_context(|| format!("cannot open the bank store {}", path.display()))?;
                (pool, writer)
            }
            None => {
                // An in-memory database lives as long as its one connection: keep exactly one, forever.
                let options = SqliteConnectOptions::new().in_memory(true).foreign_keys(true);
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_with(options)
                    .await
                    .context("cannot open an in-memory bank store")?;
                sqlx::migrate!("./migrations").run(&pool).await.context("cannot migrate the bank store")?;
                (pool.clone(), pool)
            }
        };
        Ok(BankStore { pool, writer, queued: Arc::default() })
    }

    /// Runs `write` in the group commit's next transaction and returns once that is committed (module docs).
    pub async fn commit(&self, write: GroupWrite) -> anyhow::Result<()> {
        let (reply, answer) = oneshot::channel();
        let first = {
            let mut queued = self.queued.lock();
            queued.push((write, reply));
            queued.len() == 1
        };
        if first {
            let (queued, writer) = (Arc::clone(&self.queued), self.writer.clone());
            tokio::spawn(async move {
                let conn = writer.acquire().await;
                let batch = std::mem::take(&mut *queued.lock());
                match conn {
                    Ok(mut conn) => commit_batch(&mut conn, batch).await,
                    Err(e) => {
                        let error = e.to_string();
                        for (_, reply) in batch {
                            let _ = reply.send(Err(error.clone()));
                        }
                    }
                }
            });
        }
        match answer.await {
            Ok(result) => result.map_err(anyhow::Error::msg),
            Err(_) => Err(anyhow::anyhow!("the bank store's write task stopped before answering")),
        }
    }

    /// Writes queued for the group commit's next transaction (tests hold the writer to gather a batch).
    #[cfg(test)]
    pub(crate) fn queued_writes(&self) -> usize {
        self.queued.lock().len()
    }

    /// The reading pool, for the other parts of the bank that keep tables in the same file (login, events).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The writing pool (one connection, module docs): every `INSERT`, `UPDATE`, `DELETE` and write transaction.
    pub fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    pub async fn get_meta(&self, key: &str) -> anyhow::Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM bank_meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .with_context(|| format!("cannot read meta `{key}`"))?;
        Ok(row.map(|r| r.get::<String, _>(0)))
    }

    pub async fn set_meta(&self, key: &str, value: &str) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO bank_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.writer)
        .await
        .with_context(|| format!("cannot write meta `{key}`"))?;
        Ok(())
    }

    /// The instant this bank first started, pinning it to `default` (and persisting that) on the very first start.
    /// The lead derives the generated history (24 months before it) and the initial clock from this.
    pub async fn load_or_pin_start(&self, default: time::OffsetDateTime) -> anyhow::Result<time::OffsetDateTime> {
        use time::format_description::well_known::Rfc3339;
        if let Some(text) = self.get_meta(META_PINNED_START).await? {
            return time::OffsetDateTime::parse(&text, &Rfc3339).context("stored pinned start is not RFC 3339");
        }
        self.set_meta(META_PINNED_START, &default.format(&Rfc3339)?).await?;
        Ok(default)
    }

    /// Persist an injected transaction. `build` receives the never-reused sequence number (to name the transaction)
    /// and returns it; the row and its name are written in one SQLite transaction.
    pub async fn insert_injection(
        &self,
        customer_index: u32,
        created_at: time::OffsetDateTime,
        build: impl FnOnce(i64) -> Transaction,
    ) -> anyhow::Result<Transaction> {
        let created = created_at.format(&time::format_description::well_known::Rfc3339)?;
        let mut tx = self.writer.begin().await.context("cannot begin an injection")?;
        let placeholder = format!("(being written {created})");
        let seq: i64 = sqlx::query(
            "INSERT INTO injected_transactions (transaction_id, account_id, customer_index, body, created_at) \
             VALUES ($1, '', $2, '{}', $3) RETURNING seq",
        )
        .bind(&placeholder)
        .bind(i64::from(customer_index))
        .bind(&created)
        .fetch_one(&mut *tx)
        .await
        .context("cannot insert an injection")?
        .get(0);
        let transaction = build(seq);
        let body = serde_json::to_string(&transaction)?;
        sqlx::query("UPDATE injected_transactions SET transaction_id = $1, account_id = $2, body = $3 WHERE seq = $4")
            .bind(&transaction.transaction_id)
            .bind(&transaction.account_id)
            .bind(&body)
            .bind(seq)
            .execute(&mut *tx)
            .await
            .context("cannot write an injection")?;
        tx.commit().await.context("cannot commit an injection")?;
        Ok(transaction)
    }

    /// Every injected transaction, in insertion order.
    pub async fn injections(&self) -> anyhow::Result<Vec<StoredInjection>> {
        let rows = sqlx::query("SELECT seq, customer_index, body FROM injected_transactions ORDER BY seq")
            .fetch_all(&self.pool)
            .await
            .context("cannot read injections")?;
        rows.into_iter()
            .map(|row| {
                let seq: i64 = row.get(0);
                let customer_index: i64 = row.get(1);
                let body: String = row.get(2);
                let transaction: Transaction = serde_json::from_str(&body)
                    .with_context(|| format!("injected transaction #{seq} is not valid JSON"))?;
                let customer_index = u32::try_from(customer_index).context("stored customer index out of range")?;
                Ok(StoredInjection { seq, customer_index, transaction })
            })
            .collect()
    }

    /// Drop every injected transaction (reset to the seed). Returns how many were removed.
    pub async fn delete_injections(&self) -> anyhow::Result<u64> {
        let done = sqlx::query("DELETE FROM injected_transactions")
            .execute(&self.writer)
            .await
            .context("cannot delete injections")?;
        Ok(done.rows_affected())
    }

    /// Insert or replace a notification subscription (`body` is its JSON; `events` owns the shape).
    pub async fn upsert_subscription(
        &self,
        subscription_id: &str,
        consent_id: &str,
        kind: &str,
        body: &str,
    ) -> anyhow::Result<()> {
        let row = Arc::new([subscription_id, consent_id, kind, body].map(str::to_owned));
        self.commit(Box::new(move |conn| {
            let row = Arc::clone(&row);
            Box::pin(async move {
                let [subscription_id, consent_id, kind, body] = &*row;
                sqlx::query(
                    "INSERT INTO notification_subscriptions (subscription_id, consent_id, type, body) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (subscription_id) DO UPDATE SET body = excluded.body",
                )
                .bind(subscription_id)
                .bind(consent_id)
                .bind(kind)
                .bind(body)
                .execute(conn)
                .await
                .context("cannot write a notification subscription")?;
                Ok(())
            })
        }))
        .await
    }

    /// Delete notification subscriptions by id. Returns how many were removed.
    pub async fn delete_subscriptions(&self, subscription_ids: &[String]) -> anyhow::Result<u64> {
        let mut tx = self.writer.begin().await.context("cannot begin deleting subscriptions")?;
        let mut removed = 0;
        for id in subscription_ids {
            removed += sqlx::query("DELETE FROM notification_subscriptions WHERE subscription_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .context("cannot delete a notification subscription")?
                .rows_affected();
        }
        tx.commit().await.context("cannot commit deleting subscriptions")?;
        Ok(removed)
    }

    /// Every notification subscription's JSON body.
    pub async fn subscriptions(&self) -> anyhow::Result<Vec<String>> {
        let rows = sqlx::query("SELECT body FROM notification_subscriptions ORDER BY subscription_id")
            .fetch_all(&self.pool)
            .await
            .context("cannot read notification subscriptions")?;
        Ok(rows.into_iter().map(|row| row.get::<String, _>(0)).collect())
    }
}
