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
//! must never wait for another write while it holds the writer (the in-memory store is one connection for both). New
//! consents, written once per completed authorization, are group-committed (`login::persist::ConsentWrites`): one
//! flush for every consent queued meanwhile. This module must never hold anything a restart could regenerate, and
//! never log stored values (the meta table holds the cursor-signing key).

use crate::ledger::model::Transaction;
use anyhow::Context as _;
use sqlx::Row as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::time::Duration;

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
        Ok(BankStore { pool, writer })
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
        sqlx::query(
            "INSERT INTO notification_subscriptions (subscription_id, consent_id, type, body) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (subscription_id) DO UPDATE SET body = excluded.body",
        )
        .bind(subscription_id)
        .bind(consent_id)
        .bind(kind)
        .bind(body)
        .execute(&self.writer)
        .await
        .context("cannot write a notification subscription")?;
        Ok(())
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
