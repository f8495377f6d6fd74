//! The embedded SQLite implementation of [`Store`]: reads through an sqlx 0.9 pool, every write through the one
//! group-commit writer, which runs its statements with rusqlite on a thread of its own ([`super::group_commit`]);
//! both link the same SQLite (libsqlite3-sys 0.37). Each record is decoded by one function from either library's
//! rows ([`Columns`]); the writer's statements use `?n` placeholders.
//!
//! Opened from a file (WAL journal, `synchronous=FULL` so an acknowledged write survives a power cut: each durable
//! commit ends in one `fdatasync` of the log, see `.cargo/config.toml`; foreign keys on,
//! a busy timeout so concurrent writers queue instead of failing) or in memory (SQLite's `memdb` VFS under a name of
//! the store's own, shared by the pool and the writer, so an in-memory store runs exactly the file's write path).
//! Multi-statement operations run in `BEGIN IMMEDIATE` transactions: the write lock is taken before the first read, so
//! two racing redemptions of one code serialize and exactly one wins. Every write is
//! group-committed ([`super::group_commit`]): one commit for everything queued at once, acknowledged only after the
//! commit; the pool's connections only read. A write on a pooled connection would take SQLite's write lock beside the
//! writer, which then waits in SQLite's busy handler (sleeps of 1 ms and more) while every queued caller waits
//! behind it: the bank subscription's three transactions did that once per consent flow and halved the flows per
//! second (176 -> 329/s with them moved to the writer); a revocation, a client's registration or an acknowledgement
//! of events under load did the same to the token endpoint and the resource API (moved too). A step of the flow that changes
//! several things does it in ONE write, all or nothing, so the person waits for one commit and nothing is left
//! half-written: the callback stores the PENDING consent with its bank tokens ([`Store::insert_pending_consent`]),
//! the confirmation consumes the request_uri, authorizes the consent, stores the code and begins the consent's
//! subscribing at its bank ([`Store::approve_consent`]), the code exchange stores the access token with its refresh token
//! ([`Store::insert_tokens`]); each checks before it writes, so a refusal changes nothing. Issued
//! tokens and accepted bank notifications (an event with its deliveries) are committed with `synchronous=FULL`;
//! replay-cache `jti`s, the access log (acknowledged by its journal, [`super::journal`], and moved here a thousand
//! records at a time) and webhook attempt outcomes (a lost one means one more delivery, which
//! at-least-once allows) with `synchronous=NORMAL` when no durable write shares their batch, through the same single
//! writer connection ([`super::group_commit::Durability`]). Relaxed durability, decided for the hot paths: such writes
//! survive a crash of the gateway process (a committed WAL frame is in the OS's hands), but a power cut of the host can
//! lose the last moments of them (an access record could be missing). Replay-cache entries are moreover decided in
//! memory (an exact map: the store file has one owner process) and written behind, not waited for, to an append-only
//! log without a unique key (`jti_log`: its rows land at the end of the table instead of on random pages of a B-tree,
//! which the write-ahead log would copy whole at every commit); the map is loaded from the log at open, so a restarted
//! gateway still refuses every `jti` whose write reached the database. The in-memory store keeps them in the map only
//! (nothing of it outlives the process). Decided for the token endpoint's and the resource API's hot paths: a `jti`
//! accepted in the last milliseconds before the process dies may be accepted once more after the restart, within what
//! is left of its 60 s window. Client, token, consent, bank-token and pushed-request reads go through exact read
//! caches ([`ReadCache`]) that every write of those tables invalidates before it returns (a client's deletion, which
//! cascades, clears them all). The consent flow's own writes (the pushed request, the pending consent with its bank
//! tokens, the approval) put the rows they committed in those caches instead, read back inside their transaction, so
//! a flow reads nothing through the pool: measured with `bench/consent-flows.sh`, the pool's reads (about seven
//! statements per flow, each in a read transaction that starts with an empty page cache, because the writer changed
//! the file since: 28 `pread`s per flow) were 5.4% of all samples. This module must never log stored values and never hold a raw token: only hashes, and bank tokens sealed by
//! [`SealKey`].

use super::group_commit::{Appender, Durability, GroupCommit, ROWS_PER_STATEMENT, multi_row_insert};
use super::journal::{self, AuditJournal, MOVE_AFTER, MOVE_RETRY_LIMIT, MoveDue};
use super::{
    Approval, AttemptOutcome, AuditOutcome, AuditRecord, BankSubscribingState, BankSubscriptionRecord,
    BankSubscriptions, BankTokens, ClientProfile, ClientRecord, CodeRecord, CodeRedemption, ConsentApproval,
    ConsentRevocationOutcome, DeliveryJob, DeliveryRecord, DeliveryState, EnqueueOutcome, EventRecord, JtiKind,
    ParRecord, ParUse, Placement, SealKey, Store, StoreError, SubscriptionRecord, TokenBinding, TokenHash, TokenKind,
    TokenRecord,
};
use crate::consent::{
    Consent, ConsentDuration, ConsentRequest, ConsentStatus, ConsentSubject, DataCluster, DurationType, Initiator,
    LookbackPeriod, Purpose, Revocation, RevocationReason,
};
use crate::oauth::replay::ReplayCache as _;
use rusqlite::Connection;
use sqlx::Row as _;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// Named columns of a row, as both SQLite libraries give them: the pool's reads go through sqlx, the writer's
/// statements through rusqlite ([`super::group_commit`]); each record is decoded by one function either way.
trait Columns {
    fn col<T: Column>(&self, name: &str) -> Result<T, StoreError>;
}

/// A column type both libraries decode.
trait Column: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite> + rusqlite::types::FromSql {}

impl<T> Column for T where
    T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite> + rusqlite::types::FromSql
{
}

impl Columns for SqliteRow {
    fn col<T: Column>(&self, name: &str) -> Result<T, StoreError> {
        Ok(self.try_get(name)?)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn col<T: Column>(&self, name: &str) -> Result<T, StoreError> {
        Ok(self.get(name)?)
    }
}

/// One statement on the writer's connection (prepared once per connection and cached); answers the rows it changed.
fn exec(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<u64, StoreError> {
    Ok(conn.prepare_cached(sql)?.execute(params)? as u64)
}

/// The first row of a query on the writer's connection, decoded.
fn fetch_one<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    decode: impl FnOnce(&rusqlite::Row<'_>) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    rows.next()?.map(decode).transpose()
}

/// Every row of a query on the writer's connection, decoded.
fn fetch_all<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    mut decode: impl FnMut(&rusqlite::Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode(row)?);
    }
    Ok(out)
}

/// A connection for the writer or the checkpointer (rusqlite, on their own threads): foreign keys on,
/// `synchronous=FULL` (the writer lowers it for batches of relaxed writes), no automatic checkpoints (the
/// checkpointer's job), the same busy timeout as the pool's. `vfs`: `memdb` for an in-memory store.
fn open_writer(path: &Path, vfs: Option<&str>) -> Result<Connection, StoreError> {
    use rusqlite::OpenFlags;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = match vfs {
        Some(vfs) => Connection::open_with_flags_and_vfs(path, flags, vfs)?,
        None => Connection::open_with_flags(path, flags)?,
    };
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 0;")?;
    // Every statement the writer runs stays prepared: rusqlite keeps 16 by default, fewer than the writer's
    // statements (its multi-row `INSERT`s alone come in one text per row count), and an evicted statement is parsed
    // and planned again on its next use (1.8% of all samples of `bench/consent-flows.sh` went to that).
    conn.set_prepared_statement_cache_capacity(WRITER_STATEMENTS);
    Ok(conn)
}

/// Prepared statements the writer's connection keeps (see [`open_writer`]).
const WRITER_STATEMENTS: usize = 512;

/// How long used or expired codes are kept after expiry (so a late replay is still recognised and revokes).
const CODE_RETENTION_SECS: i64 = 24 * 3600;

/// Most records kept in each read cache (a full cache is cleared).
const CACHE_LIMIT: usize = 100_000;
/// Most pushed authorization requests kept in their cache: each holds a whole request (up to a few KiB), and one is
/// read at most twice, within [`crate::oauth::par`]'s lifetime of its `request_uri`.
const PAR_CACHE_LIMIT: usize = 10_000;

/// The SQLite store. Cheap to clone (a pool, the group-commit writer, the read caches and a shared key inside).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Every write goes through the one writer ([`GroupCommit`], durable or relaxed, see the module docs); the pool
    /// only reads.
    writer: GroupCommit,
    /// A file-backed store logs its replay-cache entries (module docs); an in-memory one keeps them in the map only.
    log_jtis: bool,
    /// Client records by id (read by every authenticated request).
    clients: Arc<ReadCache<ClientRecord>>,
    /// Token records by hash (read by every introspection and resource request).
    tokens: Arc<ReadCache<TokenRecord>>,
    /// Consents by id, with their revocation history (read twice by every resource request).
    consents: Arc<ReadCache<Consent>>,
    /// Opened bank tokens by consent id (read by every resource request; sealed on disk, plain only in memory).
    bank_tokens: Arc<ReadCache<BankTokens>>,
    /// Pushed authorization requests by `request_uri` (read by the authorization and the confirmation pages).
    pars: Arc<ReadCache<ParRecord>>,
    /// A file-backed store's replay-cache entries, decided here (exact: one owner process) and written behind
    /// (module docs); loaded from the table at open.
    jtis: Arc<crate::oauth::replay::InMemoryReplayCache>,
    /// Replay-cache entries decided and written behind (one multi-row `INSERT` per batch, not waited for).
    jtis_behind: Appender<JtiRow>,
    /// The access log's journal: records are acknowledged there and moved into the table in large batches
    /// ([`super::journal`]).
    journal: Arc<AuditJournal>,
    /// Tokens without a consent or a parent code (nothing to check first): appended many per statement, each caller
    /// answered after the commit, durable.
    plain_tokens: Appender<TokenRecord>,
    seal: Arc<SealKey>,
}

/// An exact read-through cache, not a TTL cache: every write of the cached table goes through this store, which
/// drops the affected entries *after* its commit and *before* it returns, bumping `generation`; a read that raced
/// such a write (the generation changed between its cache miss and its insert) is not cached. So once a write is
/// acknowledged no reader sees the old row. Valid because a SQLite store file has one owner process (several
/// replicas use the PostgreSQL store, which must not copy this cache).
///
/// A write may also put its own result in the cache ([`ReadCache::refresh`]), from the writer's thread right after
/// its commit ([`GroupCommit::run_committed`]): the value is read back on the writer's connection inside the write's
/// transaction, so it is the committed row exactly as a later read would decode it.
#[derive(Debug)]
struct ReadCache<V> {
    inner: std::sync::Mutex<(u64, HashMap<String, V>)>,
    limit: usize,
}

impl<V> Default for ReadCache<V> {
    fn default() -> Self {
        Self::with_limit(CACHE_LIMIT)
    }
}

impl<V> ReadCache<V> {
    fn with_limit(limit: usize) -> Self {
        Self { inner: std::sync::Mutex::new((0, HashMap::new())), limit }
    }
}

impl<V: Clone> ReadCache<V> {
    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, HashMap<String, V>)> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The current generation and the cached value.
    fn get(&self, key: &str) -> (u64, Option<V>) {
        let guard = self.lock();
        (guard.0, guard.1.get(key).cloned())
    }

    /// What `read` takes from the cached value, without a copy of it (`None` when it is not cached).
    fn peek<R>(&self, key: &str, read: impl FnOnce(&V) -> R) -> Option<R> {
        self.lock().1.get(key).map(read)
    }

    /// Caches `value` read from the database, unless a write happened since `generation` was read.
    fn put(&self, generation: u64, key: String, value: &V) {
        let mut guard = self.lock();
        if guard.0 != generation {
            return;
        }
        if guard.1.len() >= self.limit {
            guard.1.clear();
        }
        guard.1.insert(key, value.clone());
    }

    /// Caches `value` as just committed by a write (on the writer's thread, after its commit: see the type's docs),
    /// bumping the generation as [`Self::invalidate`] does, so a read that raced the write does not cache the row
    /// it read before.
    fn refresh(&self, key: String, value: V) {
        let mut guard = self.lock();
        guard.0 += 1;
        if guard.1.len() >= self.limit {
            guard.1.clear();
        }
        guard.1.insert(key, value);
    }

    fn invalidate(&self, key: &str) {
        let mut guard = self.lock();
        guard.0 += 1;
        guard.1.remove(key);
    }

    /// After a write that may change many entries (all tokens of a consent or of a code).
    fn clear(&self) {
        let mut guard = self.lock();
        guard.0 += 1;
        guard.1.clear();
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the database file at `path` and runs the migrations in
    /// `gateway/migrations/sqlite`.
    pub async fn open(path: &Path, seal: SealKey) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Key(format!("{}: {e}", dir.display())))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options.clone()).await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        // The writer does not checkpoint: the group commit's checkpointer does, off the commit path.
        let writer = GroupCommit::start(open_writer(path, None)?, Some(open_writer(path, None)?))?;
        let journal = recover_audits(&pool, &writer, path).await?;
        let store = Self::assemble(pool, writer, true, journal, seal);
        store.load_jtis().await?;
        Ok(store)
    }

    /// Fills the in-memory replay cache with the stored entries (expired ones are skipped when they are checked;
    /// of a `jti` logged twice, the latest expiry is kept: rows come newest first).
    async fn load_jtis(&self) -> Result<(), StoreError> {
        let rows = sqlx::query("SELECT kind, issuer, jti, expires_at FROM jti_log ORDER BY expires_at DESC")
            .fetch_all(&self.pool)
            .await?;
        for row in rows {
            let (kind, issuer, jti): (String, String, String) = (row.col("kind")?, row.col("issuer")?, row.col("jti")?);
            let key = jti_key(&kind, &issuer, &jti);
            let expires_at = from_ts(row.col("expires_at")?)?;
            let _ = self.jtis.insert_if_absent(&key, expires_at, OffsetDateTime::UNIX_EPOCH).await;
        }
        Ok(())
    }

    /// A private in-memory database (for tests and throw-away runs): it lives as long as the store. SQLite's `memdb`
    /// VFS under a name of this store's own, so the pool and the writer share it; its journal is in memory (no
    /// write-ahead log there: readers and the writer take turns through the busy handler).
    pub async fn in_memory(seal: SealKey) -> Result<SqliteStore, StoreError> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("/bankgate-{}-{n}", std::process::id());
        let options = SqliteConnectOptions::new()
            .filename(&name)
            .vfs("memdb")
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Memory)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        let writer = GroupCommit::start(open_writer(Path::new(&name), Some("memdb"))?, None)?;
        let journal = AuditJournal::open(None, 0, 0)?;
        Ok(Self::assemble(pool, writer, false, journal, seal))
    }

    fn assemble(
        pool: SqlitePool,
        writer: GroupCommit,
        log_jtis: bool,
        journal: AuditJournal,
        seal: SealKey,
    ) -> SqliteStore {
        SqliteStore {
            pool,
            writer,
            log_jtis,
            clients: Arc::default(),
            tokens: Arc::default(),
            consents: Arc::default(),
            bank_tokens: Arc::default(),
            pars: Arc::new(ReadCache::with_limit(PAR_CACHE_LIMIT)),
            jtis: Arc::default(),
            jtis_behind: Appender::default(),
            journal: Arc::new(journal),
            plain_tokens: Appender::default(),
            seal: Arc::new(seal),
        }
    }

    /// Runs `op` as one durable write in the writer's next batch (one writer for every write: a second writing
    /// connection would fight it for SQLite's lock through the busy handler). `op` follows [`GroupCommit::run`]'s
    /// rule: it refuses before it writes.
    async fn write<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.writer.run(Durability::Durable, op).await
    }

    /// One statement with one text parameter, as one write ([`Self::write`]); answers the rows it changed.
    async fn execute(&self, sql: &'static str, param: String) -> Result<u64, StoreError> {
        self.write(move |conn| exec(conn, sql, rusqlite::params![param])).await
    }

    /// A consent's bank tokens sealed for storage, with the consent id as associated data, and the tokens as a read
    /// of that row will open them (decoded from the same bytes).
    fn sealed_bank_tokens(&self, consent_id: &str, tokens: &BankTokens) -> Result<(Vec<u8>, BankTokens), StoreError> {
        let plain = serde_json::to_vec(tokens).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok((self.seal.seal(&plain, consent_id)?, decode_bank_tokens(&plain)?))
    }

    /// [`Store::add_bank_subscription`], and with `settles` [`Store::settle_bank_subscribing`] as `Subscribed` in the
    /// same write ([`Store::add_last_bank_subscription`]).
    async fn record_bank_subscription(
        &self,
        consent_id: &str,
        sub: &BankSubscriptionRecord,
        now: OffsetDateTime,
        settles: bool,
    ) -> Result<bool, StoreError> {
        let (consent_id, sub) = (consent_id.to_owned(), sub.clone());
        self.write(move |conn| {
            Ok(add_bank_subscription_on(conn, &consent_id, &sub, now)?
                && (!settles || settle_bank_subscribing_on(conn, &consent_id, None, now)?))
        })
        .await
    }

    /// Moves the access log's journal into the table, then closes the pool, waiting for connections to finish (a
    /// clean shutdown checkpoints the WAL).
    pub async fn close(&self) {
        if let Err(error) = move_audits(&self.journal, &self.writer).await {
            tracing::warn!(%error, "the access-log journal was not moved at shutdown (it is recovered at the next start)");
        }
        self.pool.close().await;
    }

    /// Moves the journal's records into the table, from a task of its own, after `after` ([`MoveDue`]). After a
    /// failed move, one task (the first to fail) tries again, waiting [`MOVE_AFTER`] and then twice as long each
    /// time up to [`MOVE_RETRY_LIMIT`], while the store is open; the records wait in the journal meanwhile.
    fn schedule_move(&self, after: Option<Duration>) {
        let journal = Arc::downgrade(&self.journal);
        let writer = self.writer.clone();
        tokio::spawn(async move {
            if let Some(after) = after {
                tokio::time::sleep(after).await;
            }
            let mut wait = MOVE_AFTER;
            let mut retrying = false;
            loop {
                let Some(journal) = journal.upgrade() else { return };
                match move_audits(&journal, &writer).await {
                    Ok(()) | Err(StoreError::Closed) => {
                        if retrying {
                            journal.end_retrying();
                        }
                        return;
                    }
                    Err(error) => tracing::warn!(%error, "moving the access-log journal into the table failed"),
                }
                if !retrying && !journal.begin_retrying() {
                    return;
                }
                retrying = true;
                drop(journal);
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(MOVE_RETRY_LIMIT);
            }
        });
    }
}

/// Moves every record waiting in `journal` into the table, in one write (relaxed: the journal's files are deleted
/// only after its commit, and are what a crash recovers from).
async fn move_audits(journal: &AuditJournal, writer: &GroupCommit) -> Result<(), StoreError> {
    journal.move_with(|rows| writer.run(Durability::Relaxed, move |conn| insert_audits_on(conn, &rows))).await
}

/// Inserts what the access log's journal files left (a process that stopped before moving them), deletes the files,
/// and opens the journal numbering after the largest `seq` there is ([`super::journal`]).
async fn recover_audits(pool: &SqlitePool, writer: &GroupCommit, path: &Path) -> Result<AuditJournal, StoreError> {
    let (records, files, generation) = journal::recover(path)?;
    let in_table: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_log").fetch_one(pool).await?;
    let last = records.last().map_or(in_table, |r| r.seq.max(in_table));
    if !records.is_empty() {
        let count = records.len();
        writer.run(Durability::Durable, move |conn| insert_audits_on(conn, &records)).await?;
        tracing::info!(records = count, "access records recovered from the journal");
    }
    for file in files {
        std::fs::remove_file(&file).map_err(|e| StoreError::Journal(format!("{}: {e}", file.display())))?;
    }
    AuditJournal::open(Some(path), last, generation)
}

fn ts(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

fn from_ts(secs: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp(secs).map_err(|e| StoreError::Corrupt(format!("timestamp {secs}: {e}")))
}

fn opt_ts(secs: Option<i64>) -> Result<Option<OffsetDateTime>, StoreError> {
    secs.map(from_ts).transpose()
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn hash_col(text: &str) -> Result<TokenHash, StoreError> {
    TokenHash::from_hex(text).ok_or_else(|| StoreError::Corrupt("a stored hash is not 32 bytes of hex".into()))
}

fn client_from_row(row: &impl Columns) -> Result<ClientRecord, StoreError> {
    let profile: String = row.col("profile")?;
    Ok(ClientRecord {
        client_id: row.col("client_id")?,
        metadata: from_json(&row.col::<String>("metadata")?, "client metadata")?,
        registration_token_hash: row
            .col::<Option<String>>("registration_token_hash")?
            .map(|h| hash_col(&h))
            .transpose()?,
        profile: ClientProfile::parse(&profile).ok_or_else(|| StoreError::Corrupt(format!("profile {profile:?}")))?,
        created_at: from_ts(row.col("created_at")?)?,
        updated_at: from_ts(row.col("updated_at")?)?,
    })
}

fn par_from_row(row: &impl Columns) -> Result<ParRecord, StoreError> {
    Ok(ParRecord {
        request_uri: row.col("request_uri")?,
        client_id: row.col("client_id")?,
        params: from_json(&row.col::<String>("params")?, "PAR params")?,
        expires_at: from_ts(row.col("expires_at")?)?,
        used_at: opt_ts(row.col("used_at")?)?,
    })
}

fn code_from_row(row: &impl Columns) -> Result<CodeRecord, StoreError> {
    Ok(CodeRecord {
        code_hash: hash_col(&row.col::<String>("code_hash")?)?,
        client_id: row.col("client_id")?,
        consent_id: row.col("consent_id")?,
        pkce_challenge: row.col("pkce_challenge")?,
        redirect_uri: row.col("redirect_uri")?,
        dpop_jkt: row.col("dpop_jkt")?,
        expires_at: from_ts(row.col("expires_at")?)?,
        used_at: opt_ts(row.col("used_at")?)?,
    })
}

fn token_from_row(row: &impl Columns) -> Result<TokenRecord, StoreError> {
    let kind: String = row.col("kind")?;
    let cnf_kind: Option<String> = row.col("cnf_kind")?;
    let cnf_value: Option<String> = row.col("cnf_value")?;
    let binding = match (cnf_kind.as_deref(), cnf_value) {
        (None, None) => TokenBinding::Bearer,
        (Some("jkt"), Some(jkt)) => TokenBinding::Dpop { jkt },
        (Some("x5t#S256"), Some(x5t_s256)) => TokenBinding::Mtls { x5t_s256 },
        _ => return Err(StoreError::Corrupt("token binding".into())),
    };
    Ok(TokenRecord {
        token_hash: hash_col(&row.col::<String>("token_hash")?)?,
        kind: TokenKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("token kind {kind:?}")))?,
        client_id: row.col("client_id")?,
        consent_id: row.col("consent_id")?,
        scope: row.col("scope")?,
        binding,
        issued_at: from_ts(row.col("issued_at")?)?,
        expires_at: from_ts(row.col("expires_at")?)?,
        revoked_at: opt_ts(row.col("revoked_at")?)?,
        parent_code: row.col::<Option<String>>("parent_code")?.map(|h| hash_col(&h)).transpose()?,
    })
}

/// A consent's columns, as a literal so the statements below are built at compile time.
macro_rules! consent_columns {
    () => {
        "id, client_id, person, bank, clusters, requested_accounts, accounts, purposes, duration_type, \
         duration_period, lookback_period, secondary_use_opt_in, status, created_at, updated_at, authorized_at, \
         expires_at"
    };
}
const CONSENT_COLUMNS: &str = consent_columns!();
/// One consent by id (read by the pool and on the writer's connection).
const CONSENT_BY_ID: &str = concat!("SELECT ", consent_columns!(), " FROM consents WHERE id = ?1");

fn consent_from_row(row: &impl Columns) -> Result<Consent, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("consent {what}"));
    let kind: String = row.col("duration_type")?;
    let kind = DurationType::from_fdx(&kind).ok_or_else(|| corrupt("duration type"))?;
    let duration = ConsentDuration::new(kind, row.col("duration_period")?).map_err(|_| corrupt("duration period"))?;
    let lookback = LookbackPeriod::new(Some(row.col("lookback_period")?)).map_err(|_| corrupt("lookback"))?;
    let clusters: Vec<DataCluster> = from_json(&row.col::<String>("clusters")?, "consent clusters")?;
    let purposes: Vec<Purpose> = from_json(&row.col::<String>("purposes")?, "consent purposes")?;
    let requested_accounts: Option<Vec<String>> =
        row.col::<Option<String>>("requested_accounts")?.map(|t| from_json(&t, "requested accounts")).transpose()?;
    let status: String = row.col("status")?;
    let subject = match (row.col::<Option<String>>("person")?, row.col::<Option<String>>("bank")?) {
        (Some(person), Some(bank)) => Some(ConsentSubject { person, bank }),
        (None, None) => None,
        _ => return Err(corrupt("subject")),
    };
    Ok(Consent {
        id: row.col("id")?,
        client_id: row.col("client_id")?,
        request: ConsentRequest { clusters, duration, lookback, purposes, accounts: requested_accounts },
        subject,
        accounts: from_json(&row.col::<String>("accounts")?, "consent accounts")?,
        secondary_use_opt_in: row.col("secondary_use_opt_in")?,
        status: ConsentStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
        created_at: from_ts(row.col("created_at")?)?,
        updated_at: from_ts(row.col("updated_at")?)?,
        authorized_at: opt_ts(row.col("authorized_at")?)?,
        expires_at: opt_ts(row.col("expires_at")?)?,
        revocations: Vec::new(),
    })
}

/// A consent's revocations in order (read by the pool and on the writer's connection).
const REVOCATIONS_OF_CONSENT: &str =
    "SELECT reason, initiator, revoked_at FROM consent_revocations WHERE consent_id = ?1 ORDER BY seq";

fn revocation_from_row(row: &impl Columns) -> Result<Revocation, StoreError> {
    let reason: String = row.col("reason")?;
    let initiator: String = row.col("initiator")?;
    Ok(Revocation {
        reason: RevocationReason::from_fdx(&reason)
            .ok_or_else(|| StoreError::Corrupt(format!("revocation reason {reason:?}")))?,
        initiator: Initiator::parse(&initiator)
            .ok_or_else(|| StoreError::Corrupt(format!("revocation initiator {initiator:?}")))?,
        at: from_ts(row.col("revoked_at")?)?,
    })
}

async fn load_revocations(conn: &mut SqliteConnection, consent: &mut Consent) -> Result<(), StoreError> {
    let rows = sqlx::query(REVOCATIONS_OF_CONSENT).bind(&consent.id).fetch_all(&mut *conn).await?;
    for row in rows {
        consent.revocations.push(revocation_from_row(&row)?);
    }
    Ok(())
}

async fn load_consent(conn: &mut SqliteConnection, id: &str) -> Result<Option<Consent>, StoreError> {
    let Some(row) = sqlx::query(CONSENT_BY_ID).bind(id).fetch_optional(&mut *conn).await? else {
        return Ok(None);
    };
    let mut consent = consent_from_row(&row)?;
    load_revocations(conn, &mut consent).await?;
    Ok(Some(consent))
}

/// [`load_consent`] on the writer's connection.
fn load_consent_on(conn: &Connection, id: &str) -> Result<Option<Consent>, StoreError> {
    let Some(mut consent) = fetch_one(conn, CONSENT_BY_ID, [id], |row| consent_from_row(row))? else {
        return Ok(None);
    };
    consent.revocations = fetch_all(conn, REVOCATIONS_OF_CONSENT, [id], |row| revocation_from_row(row))?;
    Ok(Some(consent))
}

async fn load_consents(
    conn: &mut SqliteConnection,
    where_clause: &'static str,
    binds: &[&str],
) -> Result<Vec<Consent>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {CONSENT_COLUMNS} FROM consents WHERE {where_clause} ORDER BY created_at DESC, id"
    ));
    let mut query = sqlx::query(sql);
    for value in binds {
        query = query.bind(*value);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut consent = consent_from_row(&row)?;
        load_revocations(conn, &mut consent).await?;
        out.push(consent);
    }
    Ok(out)
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn insert_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        let (c, metadata) = (client.clone(), to_json(&client.metadata)?);
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO clients (client_id, metadata, registration_token_hash, profile, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                rusqlite::params![
                    &c.client_id,
                    metadata,
                    c.registration_token_hash.map(|h| h.to_hex()),
                    c.profile.as_str(),
                    ts(c.created_at),
                    ts(c.updated_at)
                ],
            )?;
            Ok(())
        })
        .await?;
        self.clients.invalidate(&client.client_id);
        Ok(())
    }

    async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let (generation, cached) = self.clients.get(client_id);
        if cached.is_some() {
            return Ok(cached);
        }
        let row = sqlx::query("SELECT * FROM clients WHERE client_id = $1")
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?;
        let record = row.as_ref().map(client_from_row).transpose()?;
        if let Some(record) = &record {
            self.clients.put(generation, record.client_id.clone(), record);
        }
        Ok(record)
    }

    async fn update_client(&self, client: &ClientRecord) -> Result<bool, StoreError> {
        let (c, metadata) = (client.clone(), to_json(&client.metadata)?);
        let updated = self
            .write(move |conn| {
                let done = exec(
                    conn,
                    "UPDATE clients SET metadata = ?1, registration_token_hash = ?2, profile = ?3, updated_at = ?4
                         WHERE client_id = ?5",
                    rusqlite::params![
                        metadata,
                        c.registration_token_hash.map(|h| h.to_hex()),
                        c.profile.as_str(),
                        ts(c.updated_at),
                        &c.client_id
                    ],
                )?;
                Ok(done == 1)
            })
            .await?;
        self.clients.invalidate(&client.client_id);
        Ok(updated)
    }

    async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError> {
        let done = self.execute("DELETE FROM clients WHERE client_id = ?1", client_id.to_owned()).await?;
        self.clients.invalidate(client_id);
        // The cascade removed its consents, their tokens and bank tokens.
        self.consents.clear();
        self.tokens.clear();
        self.bank_tokens.clear();
        self.pars.clear();
        Ok(done == 1)
    }

    async fn list_clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM clients ORDER BY client_id").fetch_all(&self.pool).await?;
        rows.iter().map(client_from_row).collect()
    }

    async fn insert_par_request(&self, par: &ParRecord) -> Result<(), StoreError> {
        let par = par.clone();
        let params = to_json(&par.params)?;
        let pars = self.pars.clone();
        self.writer
            .run_committed(
                Durability::Durable,
                move |conn| {
                    exec(
                        conn,
                        "INSERT INTO par_requests (request_uri, client_id, params, expires_at, used_at)
                             VALUES (?1, ?2, ?3, ?4, ?5)",
                        rusqlite::params![
                            &par.request_uri,
                            &par.client_id,
                            params,
                            ts(par.expires_at),
                            par.used_at.map(ts)
                        ],
                    )?;
                    // Read back as stored (instants in whole seconds), for the cache.
                    fetch_one(conn, PAR_BY_URI, [&par.request_uri], |row| par_from_row(row))
                },
                move |stored| {
                    if let Some(par) = stored {
                        pars.refresh(par.request_uri.clone(), par.clone());
                    }
                },
            )
            .await
            .map(drop)
    }

    async fn par_request(&self, request_uri: &str) -> Result<Option<ParRecord>, StoreError> {
        let (generation, cached) = self.pars.get(request_uri);
        if cached.is_some() {
            return Ok(cached);
        }
        let row = sqlx::query(PAR_BY_URI).bind(request_uri).fetch_optional(&self.pool).await?;
        let par = row.as_ref().map(par_from_row).transpose()?;
        if let Some(par) = &par {
            self.pars.put(generation, request_uri.to_owned(), par);
        }
        Ok(par)
    }

    async fn use_par_request(
        &self,
        request_uri: &str,
        client_id: &str,
        now: OffsetDateTime,
    ) -> Result<ParUse, StoreError> {
        let (uri, client_id) = (request_uri.to_owned(), client_id.to_owned());
        let outcome = self.write(move |conn| use_par_request_on(conn, &uri, &client_id, now)).await?;
        self.pars.invalidate(request_uri);
        Ok(outcome)
    }

    async fn insert_consent(&self, c: &Consent) -> Result<(), StoreError> {
        let consent = c.clone();
        self.write(move |conn| insert_consent_on(conn, &consent)).await?;
        self.consents.invalidate(&c.id);
        Ok(())
    }

    async fn consent(&self, id: &str) -> Result<Option<Consent>, StoreError> {
        let (generation, cached) = self.consents.get(id);
        if cached.is_some() {
            return Ok(cached);
        }
        let mut conn = self.pool.acquire().await?;
        let consent = load_consent(&mut conn, id).await?;
        if let Some(consent) = &consent {
            self.consents.put(generation, id.to_owned(), consent);
        }
        Ok(consent)
    }

    async fn update_consent(&self, c: &Consent, expected: ConsentStatus) -> Result<bool, StoreError> {
        let consent = c.clone();
        let updated = self.write(move |conn| update_consent_on(conn, &consent, expected)).await?;
        self.consents.invalidate(&c.id);
        Ok(updated)
    }

    async fn insert_pending_consent(
        &self,
        c: &Consent,
        bank_tokens: &BankTokens,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (sealed, opened) = self.sealed_bank_tokens(&c.id, bank_tokens)?;
        let consent = c.clone();
        let (consents, cached_tokens) = (self.consents.clone(), self.bank_tokens.clone());
        self.writer
            .run_committed(
                Durability::Durable,
                move |conn| {
                    insert_consent_on(conn, &consent)?;
                    put_bank_tokens_on(conn, &consent.id, sealed, now)?;
                    load_consent_on(conn, &consent.id)
                },
                move |stored| {
                    if let Some(consent) = stored {
                        consents.refresh(consent.id.clone(), consent.clone());
                        cached_tokens.refresh(consent.id.clone(), opened);
                    }
                },
            )
            .await
            .map(drop)
    }

    async fn approve_consent(&self, approval: ConsentApproval<'_>) -> Result<Approval, StoreError> {
        let (request_uri, client_id) = (approval.request_uri.to_owned(), approval.client_id.to_owned());
        let (consent, code, now) = (approval.consent.clone(), approval.code.clone(), approval.now);
        let (consents, pars) = (self.consents.clone(), self.pars.clone());
        let (outcome, _) = self
            .writer
            .run_committed(
                Durability::Durable,
                move |conn| {
                    let outcome = approve_consent_on(conn, &request_uri, &client_id, &consent, &code, now)?;
                    // A refusal wrote nothing: the caches stay as they are. An approval: the consent as stored.
                    let approved = match outcome {
                        Approval::Approved => load_consent_on(conn, &consent.id)?,
                        _ => None,
                    };
                    Ok((outcome, (approved, request_uri)))
                },
                move |(_, (approved, request_uri))| {
                    if let Some(consent) = approved {
                        pars.invalidate(request_uri);
                        consents.refresh(consent.id.clone(), consent.clone());
                    }
                },
            )
            .await?;
        Ok(outcome)
    }

    async fn consents_for_person(&self, bank: &str, person: &str) -> Result<Vec<Consent>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load_consents(&mut conn, "bank = $1 AND person = $2", &[bank, person]).await
    }

    async fn consents_for_client(&self, client_id: &str) -> Result<Vec<Consent>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load_consents(&mut conn, "client_id = $1", &[client_id]).await
    }

    async fn revoke_consent(
        &self,
        id: &str,
        reason: RevocationReason,
        initiator: Initiator,
        now: OffsetDateTime,
    ) -> Result<ConsentRevocationOutcome, StoreError> {
        let consent_id = id.to_owned();
        let outcome = self.write(move |conn| revoke_consent_on(conn, &consent_id, reason, initiator, now)).await?;
        if matches!(outcome, ConsentRevocationOutcome::Revoked { .. }) {
            self.tokens.clear();
            self.consents.invalidate(id);
        }
        Ok(outcome)
    }

    async fn insert_code(&self, code: &CodeRecord) -> Result<(), StoreError> {
        let code = code.clone();
        self.write(move |conn| insert_code_on(conn, &code)).await
    }

    async fn redeem_code(
        &self,
        code_hash: &TokenHash,
        client_id: &str,
        now: OffsetDateTime,
    ) -> Result<CodeRedemption, StoreError> {
        let hash = code_hash.to_hex();
        let client_id = client_id.to_owned();
        let redemption = self.write(move |conn| redeem_code_on(conn, &hash, &client_id, now)).await?;
        if matches!(redemption, CodeRedemption::Replayed { .. }) {
            self.tokens.clear();
        }
        Ok(redemption)
    }

    async fn insert_token(&self, t: &TokenRecord) -> Result<(), StoreError> {
        if t.consent_id.is_none() && t.parent_code.is_none() {
            return self
                .writer
                .append(Durability::Durable, &self.plain_tokens, t.clone(), insert_plain_tokens_on)
                .await;
        }
        let t = t.clone();
        self.write(move |conn| insert_token_on(conn, &t)).await
    }

    async fn insert_tokens(&self, tokens: &[TokenRecord]) -> Result<(), StoreError> {
        let tokens = tokens.to_vec();
        self.write(move |conn| {
            // Every check before any row: a refusal must leave nothing behind (GroupCommit::run's rule).
            for t in &tokens {
                check_token_on(conn, t)?;
            }
            for t in &tokens {
                insert_token_row_on(conn, t)?;
            }
            Ok(())
        })
        .await
    }

    async fn token(&self, token_hash: &TokenHash) -> Result<Option<TokenRecord>, StoreError> {
        let key = token_hash.to_hex();
        let (generation, cached) = self.tokens.get(&key);
        if cached.is_some() {
            return Ok(cached);
        }
        let row =
            sqlx::query("SELECT * FROM tokens WHERE token_hash = $1").bind(&key).fetch_optional(&self.pool).await?;
        let record = row.as_ref().map(token_from_row).transpose()?;
        if let Some(record) = &record {
            self.tokens.put(generation, key, record);
        }
        Ok(record)
    }

    async fn token_and_consent_active(
        &self,
        token_hash: &TokenHash,
        consent_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let token = self.tokens.peek(&token_hash.to_hex(), |t| t.is_active(now));
        let consent = self.consents.peek(consent_id, |c| c.is_active(now));
        if let (Some(token), Some(consent)) = (token, consent) {
            return Ok(token && consent);
        }
        super::token_and_consent_read_active(self, token_hash, consent_id, now).await
    }

    async fn revoke_token(&self, token_hash: &TokenHash, now: OffsetDateTime) -> Result<bool, StoreError> {
        let key = token_hash.to_hex();
        let hash = key.clone();
        let revoked = self
            .write(move |conn| {
                let done = exec(
                    conn,
                    "UPDATE tokens SET revoked_at = ?1
                         WHERE token_hash = ?2 AND revoked_at IS NULL AND expires_at > ?1",
                    rusqlite::params![ts(now), hash],
                )?;
                Ok(done == 1)
            })
            .await?;
        self.tokens.invalidate(&key);
        Ok(revoked)
    }

    async fn put_bank_tokens(
        &self,
        consent_id: &str,
        tokens: &BankTokens,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (sealed, _) = self.sealed_bank_tokens(consent_id, tokens)?;
        let id = consent_id.to_owned();
        self.write(move |conn| put_bank_tokens_on(conn, &id, sealed, now)).await?;
        self.bank_tokens.invalidate(consent_id);
        Ok(())
    }

    async fn bank_tokens(&self, consent_id: &str) -> Result<Option<BankTokens>, StoreError> {
        let (generation, cached) = self.bank_tokens.get(consent_id);
        if cached.is_some() {
            return Ok(cached);
        }
        let sealed: Option<Vec<u8>> = sqlx::query_scalar("SELECT sealed FROM bank_tokens WHERE consent_id = $1")
            .bind(consent_id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(sealed) = sealed else { return Ok(None) };
        let tokens = decode_bank_tokens(&self.seal.open(&sealed, consent_id)?)?;
        self.bank_tokens.put(generation, consent_id.to_owned(), &tokens);
        Ok(Some(tokens))
    }

    async fn delete_bank_tokens(&self, consent_id: &str) -> Result<bool, StoreError> {
        let deleted = self.execute("DELETE FROM bank_tokens WHERE consent_id = ?1", consent_id.to_owned()).await?;
        self.bank_tokens.invalidate(consent_id);
        Ok(deleted > 0)
    }

    async fn remember_jti(
        &self,
        kind: JtiKind,
        issuer: &str,
        jti: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let key = jti_key(kind.as_str(), issuer, jti);
        let fresh = self.jtis.insert_if_absent(&key, expires_at, now).await.map_err(|e| StoreError::Batch(e.0))?;
        // An in-memory store ends with its process: the map is all it needs.
        if fresh && self.log_jtis {
            let row = JtiRow { kind, issuer: issuer.to_owned(), jti: jti.to_owned(), expires_at };
            self.writer.append_behind(Durability::Relaxed, &self.jtis_behind, row, log_jtis_on).await?;
        }
        Ok(fresh)
    }

    async fn append_audit(&self, record: AuditRecord) -> Result<(), StoreError> {
        match self.journal.append(record)? {
            MoveDue::No => {}
            MoveDue::Later => self.schedule_move(Some(MOVE_AFTER)),
            MoveDue::Now => self.schedule_move(None),
        }
        Ok(())
    }

    async fn audit_of_consent(
        &self,
        subject: &ConsentSubject,
        consent_id: &str,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        move_audits(&self.journal, &self.writer).await?;
        let rows = sqlx::query(AUDIT_OF_CONSENT)
            .bind(&subject.bank)
            .bind(&subject.person)
            .bind(consent_id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(audit_from_row).collect()
    }

    async fn audit_of_person(&self, bank: &str, person: &str, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        move_audits(&self.journal, &self.writer).await?;
        let rows = sqlx::query("SELECT * FROM audit_log WHERE bank = $1 AND person = $2 ORDER BY seq DESC LIMIT $3")
            .bind(bank)
            .bind(person)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(audit_from_row).collect()
    }

    async fn insert_subscription(&self, sub: &SubscriptionRecord) -> Result<(), StoreError> {
        let sub = sub.clone();
        self.write(move |conn| {
            if !consent_exists(conn, &sub.consent_id)? {
                return Err(StoreError::Missing("consent"));
            }
            exec(
                conn,
                "INSERT INTO notification_subscriptions
                        (id, consent_id, client_id, type, category, callback_url, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                rusqlite::params![
                    &sub.id,
                    &sub.consent_id,
                    &sub.client_id,
                    &sub.notification_type,
                    &sub.category,
                    &sub.callback_url,
                    ts(sub.created_at)
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn subscription(&self, id: &str) -> Result<Option<SubscriptionRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM notification_subscriptions WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(subscription_from_row).transpose()
    }

    async fn delete_subscription(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.execute("DELETE FROM notification_subscriptions WHERE id = ?1", id.to_owned()).await? == 1)
    }

    async fn enqueue_event(
        &self,
        event: &EventRecord,
        category: &str,
        now: OffsetDateTime,
        placed: Placement,
    ) -> Result<EnqueueOutcome, StoreError> {
        let (event, category) = (event.clone(), category.to_owned());
        self.writer
            .run_placed(Durability::Durable, placed, move |conn| enqueue_event_on(conn, &event, &category, now))
            .await
    }

    async fn unacked_events(&self, consent_id: &str, after: i64, limit: u32) -> Result<Vec<EventRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM notification_events WHERE consent_id = $1 AND acked_at IS NULL AND seq > $2
             ORDER BY seq LIMIT $3",
        )
        .bind(consent_id)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn count_unacked_events(&self, consent_id: &str) -> Result<u64, StoreError> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM notification_events WHERE consent_id = $1 AND acked_at IS NULL")
                .bind(consent_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn ack_events(&self, consent_id: &str, ids: &[String], now: OffsetDateTime) -> Result<u64, StoreError> {
        let (consent_id, ids) = (consent_id.to_owned(), ids.to_vec());
        self.write(move |conn| {
            let mut changed = 0;
            for id in ids {
                let done = exec(
                    conn,
                    "UPDATE notification_events SET acked_at = ?1
                         WHERE consent_id = ?2 AND notification_id = ?3 AND acked_at IS NULL",
                    rusqlite::params![ts(now), &consent_id, id],
                )?;
                changed += done;
            }
            Ok(changed)
        })
        .await
    }

    async fn pending_deliveries_after(&self, after: i64, limit: u32) -> Result<Vec<DeliveryJob>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.id, d.subscription_id, d.consent_id, d.notification_id, d.seq, d.attempts, d.next_attempt_at,
                    s.client_id, s.callback_url, e.type, e.body
             FROM notification_deliveries d
             JOIN notification_subscriptions s ON s.id = d.subscription_id
             JOIN notification_events e ON e.consent_id = d.consent_id AND e.notification_id = d.notification_id
             WHERE d.state = 'pending' AND d.id > $1
             ORDER BY d.id LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DeliveryJob {
                    id: row.col("id")?,
                    subscription_id: row.col("subscription_id")?,
                    consent_id: row.col("consent_id")?,
                    client_id: row.col("client_id")?,
                    callback_url: row.col("callback_url")?,
                    notification_id: row.col("notification_id")?,
                    notification_type: row.col("type")?,
                    seq: row.col("seq")?,
                    attempts: attempts_col(row.col("attempts")?)?,
                    next_attempt_at: from_ms(row.col("next_attempt_at")?)?,
                    body: from_json(&row.col::<String>("body")?, "notification")?,
                })
            })
            .collect()
    }

    async fn record_attempt(&self, id: i64, outcome: &AttemptOutcome, now: OffsetDateTime) -> Result<(), StoreError> {
        let outcome = outcome.clone();
        self.writer.run(Durability::Relaxed, move |conn| record_attempt_on(conn, id, &outcome, now)).await
    }

    async fn dead_deliveries(&self, subscription_id: &str, limit: u32) -> Result<Vec<DeliveryRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.subscription_id, d.notification_id, d.seq, d.attempts, d.state, d.last_error, d.updated_at,
                    e.body
             FROM notification_deliveries d
             JOIN notification_events e ON e.consent_id = d.consent_id AND e.notification_id = d.notification_id
             WHERE d.subscription_id = $1 AND d.state = 'dead'
             ORDER BY d.seq LIMIT $2",
        )
        .bind(subscription_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let state: String = row.col("state")?;
                Ok(DeliveryRecord {
                    subscription_id: row.col("subscription_id")?,
                    notification_id: row.col("notification_id")?,
                    seq: row.col("seq")?,
                    attempts: attempts_col(row.col("attempts")?)?,
                    state: DeliveryState::parse(&state)
                        .ok_or_else(|| StoreError::Corrupt(format!("delivery state {state:?}")))?,
                    last_error: row.col("last_error")?,
                    updated_at: from_ms(row.col("updated_at")?)?,
                    body: from_json(&row.col::<String>("body")?, "notification")?,
                })
            })
            .collect()
    }

    async fn cancel_deliveries(&self, consent_id: &str, now: OffsetDateTime) -> Result<u64, StoreError> {
        let consent_id = consent_id.to_owned();
        self.write(move |conn| cancel_deliveries_on(conn, &consent_id, now)).await
    }

    async fn begin_bank_subscribing(&self, consent_id: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
        let consent_id = consent_id.to_owned();
        self.write(move |conn| begin_bank_subscribing_on(conn, &consent_id, now)).await
    }

    async fn add_bank_subscription(
        &self,
        consent_id: &str,
        sub: &BankSubscriptionRecord,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.record_bank_subscription(consent_id, sub, now, false).await
    }

    async fn add_last_bank_subscription(
        &self,
        consent_id: &str,
        sub: &BankSubscriptionRecord,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.record_bank_subscription(consent_id, sub, now, true).await
    }

    async fn settle_bank_subscribing(
        &self,
        consent_id: &str,
        error: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (consent_id, error) = (consent_id.to_owned(), error.map(str::to_owned));
        self.write(move |conn| settle_bank_subscribing_on(conn, &consent_id, error.as_deref(), now)).await
    }

    async fn bank_subscriptions(&self, consent_id: &str) -> Result<Option<BankSubscriptions>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let Some(row) = sqlx::query("SELECT state, error, updated_at FROM bank_subscribing WHERE consent_id = $1")
            .bind(consent_id)
            .fetch_optional(&mut *conn)
            .await?
        else {
            return Ok(None);
        };
        let state: String = row.col("state")?;
        let rows = sqlx::query(BANK_SUBSCRIPTIONS_OF_CONSENT).bind(consent_id).fetch_all(&mut *conn).await?;
        let subscriptions = rows.iter().map(bank_subscription_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Some(BankSubscriptions {
            consent_id: consent_id.to_owned(),
            state: BankSubscribingState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("bank subscribing state {state:?}")))?,
            error: row.col("error")?,
            subscriptions,
            updated_at: from_ts(row.col("updated_at")?)?,
        }))
    }

    async fn end_bank_subscriptions(
        &self,
        consent_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<BankSubscriptionRecord>, StoreError> {
        let consent_id = consent_id.to_owned();
        self.write(move |conn| end_bank_subscriptions_on(conn, &consent_id, now)).await
    }

    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        // The replay decisions live in the map (module docs): its purge is the count; the log follows it (a row
        // still being written behind is purged next time).
        let jtis = self.jtis.purge(now) as u64;
        let purged = self
            .write(move |tx| {
                exec(tx, "DELETE FROM jti_log WHERE expires_at <= ?1", rusqlite::params![ts(now)])?;
                let par = exec(tx, "DELETE FROM par_requests WHERE expires_at <= ?1", rusqlite::params![ts(now)])?;
                let codes = exec(
                    tx,
                    "DELETE FROM authorization_codes WHERE expires_at <= ?1",
                    rusqlite::params![ts(now) - CODE_RETENTION_SECS],
                )?;
                Ok((par, codes))
            })
            .await?;
        if purged.0 > 0 {
            self.pars.clear();
        }
        Ok(jtis + purged.0 + purged.1)
    }
}

/// Bank tokens from their opened (plain JSON) form.
fn decode_bank_tokens(plain: &[u8]) -> Result<BankTokens, StoreError> {
    serde_json::from_slice(plain).map_err(|e| StoreError::Corrupt(format!("bank tokens: {e}")))
}

/// A pushed authorization request by its `request_uri` (the writer and the pool both bind `?1` by position).
const PAR_BY_URI: &str = "SELECT * FROM par_requests WHERE request_uri = ?1";

/// A consent's access records, through the person's index (migration 0007: a consent's records are a subset of
/// its person's); the plan is checked by a test.
const AUDIT_OF_CONSENT: &str =
    "SELECT * FROM audit_log WHERE bank = $1 AND person = $2 AND consent_id = $3 ORDER BY seq DESC LIMIT $4";
/// Revokes a consent's live tokens (through the partial `tokens_by_consent`).
const REVOKE_TOKENS_OF_CONSENT: &str = "UPDATE tokens SET revoked_at = ?1 WHERE consent_id = ?2 AND revoked_at IS NULL";
/// Revokes the tokens issued from a replayed code (RFC 6749 §4.1.2), through its consent's index (migration 0008:
/// a consent's tokens are few; there is no parent-code index).
const REVOKE_TOKENS_OF_CODE: &str =
    "UPDATE tokens SET revoked_at = ?1 WHERE consent_id = ?2 AND parent_code = ?3 AND revoked_at IS NULL";

fn consent_exists(conn: &Connection, consent_id: &str) -> Result<bool, StoreError> {
    Ok(fetch_one(conn, "SELECT 1 FROM consents WHERE id = ?1", [consent_id], |_| Ok(()))?.is_some())
}

/// The consent's recorded bank subscriptions, oldest first.
fn bank_subscriptions_on(conn: &Connection, consent_id: &str) -> Result<Vec<BankSubscriptionRecord>, StoreError> {
    fetch_all(conn, BANK_SUBSCRIPTIONS_OF_CONSENT, [consent_id], |row| bank_subscription_from_row(row))
}

/// A consent's bank subscriptions, oldest first (read by the pool and on the writer's connection).
const BANK_SUBSCRIPTIONS_OF_CONSENT: &str = "SELECT subscription_id, type, category, created_at FROM bank_subscriptions
     WHERE consent_id = ?1 ORDER BY created_at, subscription_id";

fn bank_subscription_from_row(row: &impl Columns) -> Result<BankSubscriptionRecord, StoreError> {
    Ok(BankSubscriptionRecord {
        subscription_id: row.col("subscription_id")?,
        notification_type: row.col("type")?,
        category: row.col("category")?,
        created_at: from_ts(row.col("created_at")?)?,
    })
}

/// Milliseconds of the gateway clock (delivery schedules).
fn ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn from_ms(millis: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .map_err(|e| StoreError::Corrupt(format!("timestamp {millis} ms: {e}")))
}

fn attempts_col(n: i64) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("delivery attempts {n}")))
}

fn subscription_from_row(row: &impl Columns) -> Result<SubscriptionRecord, StoreError> {
    Ok(SubscriptionRecord {
        id: row.col("id")?,
        consent_id: row.col("consent_id")?,
        client_id: row.col("client_id")?,
        notification_type: row.col("type")?,
        category: row.col("category")?,
        callback_url: row.col("callback_url")?,
        created_at: from_ts(row.col("created_at")?)?,
    })
}

fn event_from_row(row: &impl Columns) -> Result<EventRecord, StoreError> {
    Ok(EventRecord {
        seq: row.col("seq")?,
        consent_id: row.col("consent_id")?,
        notification_id: row.col("notification_id")?,
        notification_type: row.col("type")?,
        body: from_json(&row.col::<String>("body")?, "notification")?,
        received_at: from_ts(row.col("received_at")?)?,
        acked_at: opt_ts(row.col("acked_at")?)?,
    })
}

/// [`Store::enqueue_event`]'s statements: the event (or nothing, for a duplicate), then one delivery per matching
/// subscription, numbered after that subscription's last one.
fn enqueue_event_on(
    conn: &Connection,
    e: &EventRecord,
    category: &str,
    now: OffsetDateTime,
) -> Result<EnqueueOutcome, StoreError> {
    let inserted = exec(
        conn,
        "INSERT INTO notification_events (consent_id, notification_id, type, body, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (consent_id, notification_id) DO NOTHING",
        rusqlite::params![
            &e.consent_id,
            &e.notification_id,
            &e.notification_type,
            to_json(&e.body)?,
            ts(e.received_at)
        ],
    )?;
    if inserted == 0 {
        return Ok(EnqueueOutcome::Duplicate);
    }
    let deliveries = exec(
        conn,
        "INSERT INTO notification_deliveries
            (subscription_id, consent_id, notification_id, seq, attempts, next_attempt_at, state, updated_at)
         SELECT s.id, s.consent_id, ?1,
                COALESCE((SELECT MAX(d.seq) FROM notification_deliveries d WHERE d.subscription_id = s.id), 0) + 1,
                0, ?2, 'pending', ?2
         FROM notification_subscriptions s
         WHERE s.consent_id = ?3 AND s.type = ?4 AND s.category = ?5
         ORDER BY s.id",
        rusqlite::params![&e.notification_id, ms(now), &e.consent_id, &e.notification_type, category],
    )?;
    Ok(EnqueueOutcome::New { deliveries })
}

fn record_attempt_on(
    conn: &Connection,
    id: i64,
    outcome: &AttemptOutcome,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let (state, counted, next, error) = match outcome {
        AttemptOutcome::Delivered => (DeliveryState::Delivered, 1, now, None),
        AttemptOutcome::Retry { next_attempt_at, error } => (DeliveryState::Pending, 1, *next_attempt_at, Some(error)),
        AttemptOutcome::Dead { error } => (DeliveryState::Dead, 1, now, Some(error)),
        AttemptOutcome::Cancelled => (DeliveryState::Cancelled, 0, now, None),
    };
    exec(
        conn,
        "UPDATE notification_deliveries
         SET state = ?1, attempts = attempts + ?2, next_attempt_at = ?3, last_error = COALESCE(?4, last_error),
             updated_at = ?5
         WHERE id = ?6 AND state = 'pending'",
        rusqlite::params![state.as_str(), counted, ms(next), error, ms(now), id],
    )?;
    Ok(())
}

/// [`Store::cancel_deliveries`]'s statement (also run inside [`Store::revoke_consent`]'s transaction).
fn cancel_deliveries_on(conn: &Connection, consent_id: &str, now: OffsetDateTime) -> Result<u64, StoreError> {
    let done = exec(
        conn,
        "UPDATE notification_deliveries SET state = 'cancelled', updated_at = ?1
         WHERE consent_id = ?2 AND state = 'pending'
           AND notification_id NOT IN (SELECT notification_id FROM notification_events
                                       WHERE consent_id = ?2 AND type = 'CONSENT_REVOKED')",
        rusqlite::params![ms(now), consent_id],
    )?;
    Ok(done)
}

/// Inserts access-log records with the `seq` the journal gave them, many per statement; a record already in the table
/// (recovered twice) is skipped.
fn insert_audits_on(conn: &Connection, records: &[AuditRecord]) -> Result<(), StoreError> {
    const HEAD: &str = "INSERT OR IGNORE INTO audit_log (seq, at, client_id, consent_id, bank, person, endpoint, \
                        account_id, clusters, status, outcome, interaction_id)";
    for chunk in records.chunks(ROWS_PER_STATEMENT) {
        let mut values: Vec<rusqlite::types::Value> = Vec::with_capacity(chunk.len() * 12);
        for r in chunk {
            let clusters: Vec<&str> = r.clusters.iter().map(|c| c.as_fdx()).collect();
            values.extend([
                r.seq.into(),
                ts(r.at).into(),
                r.client_id.clone().into(),
                r.consent_id.clone().into(),
                r.bank.clone().into(),
                r.person.clone().into(),
                r.endpoint.clone().into(),
                r.account_id.clone().into(),
                clusters.join(" ").into(),
                i64::from(r.status).into(),
                r.outcome.as_str().to_owned().into(),
                r.interaction_id.clone().into(),
            ]);
        }
        // Built from placeholders only: every value is bound.
        exec(conn, &multi_row_insert(HEAD, 12, chunk.len()), rusqlite::params_from_iter(values))?;
    }
    Ok(())
}

fn audit_from_row(row: &impl Columns) -> Result<AuditRecord, StoreError> {
    let clusters: String = row.col("clusters")?;
    let clusters = clusters
        .split(' ')
        .filter(|c| !c.is_empty())
        .map(|c| c.parse::<DataCluster>().map_err(|e| StoreError::Corrupt(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let outcome: String = row.col("outcome")?;
    let status: i64 = row.col("status")?;
    Ok(AuditRecord {
        seq: row.col("seq")?,
        at: from_ts(row.col("at")?)?,
        client_id: row.col("client_id")?,
        consent_id: row.col("consent_id")?,
        bank: row.col("bank")?,
        person: row.col("person")?,
        endpoint: row.col("endpoint")?,
        account_id: row.col("account_id")?,
        clusters,
        status: u16::try_from(status).map_err(|_| StoreError::Corrupt(format!("audit status {status}")))?,
        outcome: AuditOutcome::parse(&outcome)
            .ok_or_else(|| StoreError::Corrupt(format!("audit outcome {outcome}")))?,
        interaction_id: row.col("interaction_id")?,
    })
}

fn insert_revocation(conn: &Connection, consent_id: &str, seq: usize, r: &Revocation) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO consent_revocations (consent_id, seq, reason, initiator, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![
            consent_id,
            i64::try_from(seq).unwrap_or(i64::MAX),
            r.reason.as_fdx(),
            r.initiator.as_str(),
            ts(r.at)
        ],
    )?;
    Ok(())
}

/// [`Store::insert_token`]'s statements, inside the caller's `BEGIN IMMEDIATE` transaction: the checks refuse
/// before anything is written.
/// The `cnf_kind` and `cnf_value` columns of a binding.
fn cnf_columns(binding: &TokenBinding) -> (Option<&'static str>, Option<&str>) {
    match binding {
        TokenBinding::Bearer => (None, None),
        TokenBinding::Dpop { jkt } => (Some("jkt"), Some(jkt.as_str())),
        TokenBinding::Mtls { x5t_s256 } => (Some("x5t#S256"), Some(x5t_s256.as_str())),
    }
}

/// Inserts tokens that need no check first (no consent, no parent code), many per statement.
fn insert_plain_tokens_on(conn: &Connection, tokens: Vec<TokenRecord>) -> Result<(), StoreError> {
    const HEAD: &str = "INSERT INTO tokens (token_hash, kind, client_id, consent_id, scope, cnf_kind, cnf_value, \
                        issued_at, expires_at, revoked_at, parent_code)";
    for chunk in tokens.chunks(ROWS_PER_STATEMENT) {
        let mut values: Vec<rusqlite::types::Value> = Vec::with_capacity(chunk.len() * 11);
        for t in chunk {
            let (cnf_kind, cnf_value) = cnf_columns(&t.binding);
            values.extend([
                t.token_hash.to_hex().into(),
                t.kind.as_str().to_owned().into(),
                t.client_id.clone().into(),
                t.consent_id.clone().into(),
                t.scope.clone().into(),
                cnf_kind.map(str::to_owned).into(),
                cnf_value.map(str::to_owned).into(),
                ts(t.issued_at).into(),
                ts(t.expires_at).into(),
                t.revoked_at.map(ts).into(),
                t.parent_code.map(|h| h.to_hex()).into(),
            ]);
        }
        // Built from placeholders only: every value is bound.
        exec(conn, &multi_row_insert(HEAD, 11, chunk.len()), rusqlite::params_from_iter(values))?;
    }
    Ok(())
}

fn insert_token_on(conn: &Connection, t: &TokenRecord) -> Result<(), StoreError> {
    check_token_on(conn, t)?;
    insert_token_row_on(conn, t)
}

/// [`Store::insert_token`]'s refusals: the token's consent must be AUTHORIZED and unexpired at `issued_at`, its
/// parent code not replayed. Reads only.
fn check_token_on(conn: &Connection, t: &TokenRecord) -> Result<(), StoreError> {
    if let Some(consent_id) = &t.consent_id {
        let decode =
            |row: &rusqlite::Row<'_>| Ok((row.col::<String>("status")?, row.col::<Option<i64>>("expires_at")?));
        let (status, expires_at) =
            fetch_one(conn, "SELECT status, expires_at FROM consents WHERE id = ?1", [consent_id], decode)?
                .ok_or(StoreError::Missing("consent"))?;
        let active =
            status == ConsentStatus::Authorized.as_str() && expires_at.is_some_and(|end| ts(t.issued_at) < end);
        if !active {
            return Err(StoreError::ConsentNotActive(consent_id.clone()));
        }
    }
    if let Some(parent) = &t.parent_code {
        let sql = "SELECT replayed_at FROM authorization_codes WHERE code_hash = ?1";
        let replayed = fetch_one(conn, sql, [parent.to_hex()], |row| row.col::<Option<i64>>("replayed_at"))?;
        match replayed {
            None => return Err(StoreError::Missing("authorization code")),
            Some(Some(_)) => return Err(StoreError::CodeReplayed),
            Some(None) => {}
        }
    }
    Ok(())
}

/// The token's row, unchecked (see [`check_token_on`]).
fn insert_token_row_on(conn: &Connection, t: &TokenRecord) -> Result<(), StoreError> {
    let (cnf_kind, cnf_value) = cnf_columns(&t.binding);
    exec(
        conn,
        "INSERT INTO tokens (token_hash, kind, client_id, consent_id, scope, cnf_kind, cnf_value, issued_at,
            expires_at, revoked_at, parent_code)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        rusqlite::params![
            t.token_hash.to_hex(),
            t.kind.as_str(),
            &t.client_id,
            &t.consent_id,
            &t.scope,
            cnf_kind,
            cnf_value,
            ts(t.issued_at),
            ts(t.expires_at),
            t.revoked_at.map(ts),
            t.parent_code.map(|h| h.to_hex())
        ],
    )?;
    Ok(())
}

/// A replay-cache entry decided in memory, waiting to be logged.
#[derive(Debug)]
struct JtiRow {
    kind: JtiKind,
    issuer: String,
    jti: String,
    expires_at: OffsetDateTime,
}

/// Appends decided replay-cache entries to `jti_log`, many per statement.
fn log_jtis_on(conn: &Connection, rows: Vec<JtiRow>) -> Result<(), StoreError> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = multi_row_insert("INSERT INTO jti_log (kind, issuer, jti, expires_at)", 4, chunk.len());
        let mut values: Vec<rusqlite::types::Value> = Vec::with_capacity(chunk.len() * 4);
        for r in chunk {
            values.extend([
                r.kind.as_str().to_owned().into(),
                r.issuer.clone().into(),
                r.jti.clone().into(),
                ts(r.expires_at).into(),
            ]);
        }
        // Built from placeholders only: every value is bound.
        exec(conn, &sql, rusqlite::params_from_iter(values))?;
    }
    Ok(())
}

/// [`Store::use_par_request`] on the writer's connection.
fn use_par_request_on(
    tx: &Connection,
    request_uri: &str,
    client_id: &str,
    now: OffsetDateTime,
) -> Result<ParUse, StoreError> {
    match usable_par_on(tx, request_uri, client_id, now)? {
        Ok(par) => Ok(ParUse::Used(mark_par_used_on(tx, par, now)?)),
        Err(refusal) => Ok(refusal),
    }
}

/// The request_uri if `client_id` may consume it at `now`, else why not (never [`ParUse::Used`]). Reads only.
fn usable_par_on(
    tx: &Connection,
    request_uri: &str,
    client_id: &str,
    now: OffsetDateTime,
) -> Result<Result<ParRecord, ParUse>, StoreError> {
    let Some(par) = fetch_one(tx, PAR_BY_URI, [request_uri], |row| par_from_row(row))? else {
        return Ok(Err(ParUse::NotFound));
    };
    // RFC 9126 §4: the request_uri is bound to the client that pushed it; a foreign client does not consume it.
    if par.client_id != client_id {
        return Ok(Err(ParUse::WrongClient));
    }
    if par.used_at.is_some() {
        return Ok(Err(ParUse::AlreadyUsed));
    }
    if now >= par.expires_at {
        return Ok(Err(ParUse::Expired));
    }
    Ok(Ok(par))
}

/// Consumes a request_uri [`usable_par_on`] accepted.
fn mark_par_used_on(tx: &Connection, mut par: ParRecord, now: OffsetDateTime) -> Result<ParRecord, StoreError> {
    exec(
        tx,
        "UPDATE par_requests SET used_at = ?1 WHERE request_uri = ?2",
        rusqlite::params![ts(now), &par.request_uri],
    )?;
    par.used_at = Some(crate::consent::whole_seconds(now));
    Ok(par)
}

/// [`Store::approve_consent`] on the writer's connection: both checks before any write (a refusal changes nothing;
/// the consent's check is its compare-and-set update, the first write).
fn approve_consent_on(
    tx: &Connection,
    request_uri: &str,
    client_id: &str,
    consent: &Consent,
    code: &CodeRecord,
    now: OffsetDateTime,
) -> Result<Approval, StoreError> {
    let par = match usable_par_on(tx, request_uri, client_id, now)? {
        Ok(par) => par,
        Err(refusal) => return Ok(Approval::Refused(refusal)),
    };
    if !update_consent_on(tx, consent, ConsentStatus::Pending)? {
        return Ok(Approval::ConsentChanged);
    }
    mark_par_used_on(tx, par, now)?;
    insert_code_on(tx, code)?;
    begin_bank_subscribing_on(tx, &consent.id, now)?;
    Ok(Approval::Approved)
}

/// [`Store::revoke_consent`] on the writer's connection (the lifecycle's refusal before any write).
fn revoke_consent_on(
    tx: &Connection,
    id: &str,
    reason: RevocationReason,
    initiator: Initiator,
    now: OffsetDateTime,
) -> Result<ConsentRevocationOutcome, StoreError> {
    let Some(mut consent) = load_consent_on(tx, id)? else {
        return Ok(ConsentRevocationOutcome::NotFound);
    };
    let revocation = match consent.revoke(reason, initiator, now) {
        Ok(r) => r,
        Err(refusal) => return Ok(ConsentRevocationOutcome::Refused(refusal)),
    };
    exec(
        tx,
        "UPDATE consents SET status = ?1, updated_at = ?2 WHERE id = ?3",
        rusqlite::params![consent.status.as_str(), ts(consent.updated_at), id],
    )?;
    insert_revocation(tx, id, consent.revocations.len() - 1, &revocation)?;
    let tokens = exec(tx, REVOKE_TOKENS_OF_CONSENT, rusqlite::params![ts(now), id])?;
    exec(
        tx,
        "UPDATE authorization_codes SET used_at = ?1 WHERE consent_id = ?2 AND used_at IS NULL",
        rusqlite::params![ts(now), id],
    )?;
    cancel_deliveries_on(tx, id, now)?;
    Ok(ConsentRevocationOutcome::Revoked { consent, tokens_revoked: tokens })
}

/// [`Store::insert_consent`] on the writer's connection.
fn insert_consent_on(tx: &Connection, c: &Consent) -> Result<(), StoreError> {
    exec(
        tx,
        "INSERT INTO consents (id, client_id, person, bank, clusters, requested_accounts, accounts, purposes,
            duration_type, duration_period, lookback_period, secondary_use_opt_in, status, created_at,
            updated_at, authorized_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        rusqlite::params![
            &c.id,
            &c.client_id,
            c.subject.as_ref().map(|s| s.person.as_str()),
            c.subject.as_ref().map(|s| s.bank.as_str()),
            to_json(&c.request.clusters)?,
            c.request.accounts.as_ref().map(to_json).transpose()?,
            to_json(&c.accounts)?,
            to_json(&c.request.purposes)?,
            c.request.duration.kind().as_fdx(),
            c.request.duration.period_days().map(i64::from),
            i64::from(c.request.lookback.days()),
            c.secondary_use_opt_in,
            c.status.as_str(),
            ts(c.created_at),
            ts(c.updated_at),
            c.authorized_at.map(ts),
            c.expires_at.map(ts)
        ],
    )?;
    for (seq, r) in c.revocations.iter().enumerate() {
        insert_revocation(tx, &c.id, seq, r)?;
    }
    Ok(())
}

/// [`Store::update_consent`] on the writer's connection: whether the consent still had the `expected` status.
fn update_consent_on(conn: &Connection, c: &Consent, expected: ConsentStatus) -> Result<bool, StoreError> {
    let done = exec(
        conn,
        "UPDATE consents SET person = ?1, bank = ?2, accounts = ?3, secondary_use_opt_in = ?4, status = ?5,
            updated_at = ?6, authorized_at = ?7, expires_at = ?8
         WHERE id = ?9 AND status = ?10",
        rusqlite::params![
            c.subject.as_ref().map(|s| s.person.as_str()),
            c.subject.as_ref().map(|s| s.bank.as_str()),
            to_json(&c.accounts)?,
            c.secondary_use_opt_in,
            c.status.as_str(),
            ts(c.updated_at),
            c.authorized_at.map(ts),
            c.expires_at.map(ts),
            &c.id,
            expected.as_str()
        ],
    )?;
    Ok(done == 1)
}

/// [`Store::insert_code`] on the writer's connection.
fn insert_code_on(conn: &Connection, code: &CodeRecord) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO authorization_codes (code_hash, client_id, consent_id, pkce_challenge, redirect_uri, dpop_jkt,
            expires_at, used_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        rusqlite::params![
            code.code_hash.to_hex(),
            &code.client_id,
            &code.consent_id,
            &code.pkce_challenge,
            &code.redirect_uri,
            &code.dpop_jkt,
            ts(code.expires_at),
            code.used_at.map(ts)
        ],
    )?;
    Ok(())
}

/// [`Store::put_bank_tokens`] on the writer's connection (`sealed`: [`SqliteStore::sealed_bank_tokens`]).
fn put_bank_tokens_on(
    conn: &Connection,
    consent_id: &str,
    sealed: Vec<u8>,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO bank_tokens (consent_id, sealed, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (consent_id) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at",
        rusqlite::params![consent_id, sealed, ts(now)],
    )?;
    Ok(())
}

/// [`Store::end_bank_subscriptions`] on the writer's connection.
fn end_bank_subscriptions_on(
    tx: &Connection,
    consent_id: &str,
    now: OffsetDateTime,
) -> Result<Vec<BankSubscriptionRecord>, StoreError> {
    if !consent_exists(tx, consent_id)? {
        return Ok(Vec::new());
    }
    let ended = bank_subscriptions_on(tx, consent_id)?;
    exec(tx, "DELETE FROM bank_subscriptions WHERE consent_id = ?1", rusqlite::params![consent_id])?;
    exec(
        tx,
        "INSERT INTO bank_subscribing (consent_id, state, error, updated_at) VALUES (?1, 'ended', NULL, ?2)
         ON CONFLICT (consent_id) DO UPDATE SET state = 'ended', error = NULL, updated_at = excluded.updated_at",
        rusqlite::params![consent_id, ts(now)],
    )?;
    Ok(ended)
}

/// [`Store::begin_bank_subscribing`] on the writer's connection.
fn begin_bank_subscribing_on(conn: &Connection, consent_id: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
    if !consent_exists(conn, consent_id)? {
        return Err(StoreError::Missing("consent"));
    }
    let done = exec(
        conn,
        "INSERT INTO bank_subscribing (consent_id, state, error, updated_at) VALUES (?1, 'pending', NULL, ?2)
         ON CONFLICT (consent_id) DO UPDATE SET state = 'pending', error = NULL, updated_at = excluded.updated_at
         WHERE bank_subscribing.state <> 'ended'",
        rusqlite::params![consent_id, ts(now)],
    )?;
    Ok(done == 1)
}

/// [`Store::add_bank_subscription`] on the writer's connection (nothing written unless subscribing is pending).
fn add_bank_subscription_on(
    conn: &Connection,
    consent_id: &str,
    sub: &BankSubscriptionRecord,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let touched = exec(
        conn,
        "UPDATE bank_subscribing SET updated_at = ?1 WHERE consent_id = ?2 AND state = 'pending'",
        rusqlite::params![ts(now), consent_id],
    )?;
    if touched == 0 {
        return Ok(false);
    }
    exec(
        conn,
        "INSERT INTO bank_subscriptions (consent_id, subscription_id, type, category, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (consent_id, subscription_id) DO UPDATE SET type = excluded.type, category = excluded.category",
        rusqlite::params![consent_id, &sub.subscription_id, &sub.notification_type, &sub.category, ts(sub.created_at)],
    )?;
    Ok(true)
}

/// [`Store::settle_bank_subscribing`] on the writer's connection.
fn settle_bank_subscribing_on(
    conn: &Connection,
    consent_id: &str,
    error: Option<&str>,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let state = if error.is_some() { BankSubscribingState::Failed } else { BankSubscribingState::Subscribed };
    let done = exec(
        conn,
        "UPDATE bank_subscribing SET state = ?1, error = ?2, updated_at = ?3
         WHERE consent_id = ?4 AND state = 'pending'",
        rusqlite::params![state.as_str(), error, ts(now), consent_id],
    )?;
    Ok(done == 1)
}

/// [`Store::redeem_code`] on the writer's connection (the caller clears the token cache after a replay).
fn redeem_code_on(
    tx: &Connection,
    hash: &str,
    client_id: &str,
    now: OffsetDateTime,
) -> Result<CodeRedemption, StoreError> {
    let sql = "SELECT * FROM authorization_codes WHERE code_hash = ?1";
    let Some(mut code) = fetch_one(tx, sql, [hash], |row| code_from_row(row))? else {
        return Ok(CodeRedemption::NotFound);
    };
    // RFC 6749 §4.1.3: the code must have been issued to the authenticated client.
    if code.client_id != client_id {
        return Ok(CodeRedemption::WrongClient);
    }
    if code.used_at.is_some() {
        // RFC 6749 §4.1.2: deny, and revoke the tokens previously issued from this code.
        exec(
            tx,
            "UPDATE authorization_codes SET replayed_at = ?1 WHERE code_hash = ?2 AND replayed_at IS NULL",
            rusqlite::params![ts(now), hash],
        )?;
        let revoked = exec(tx, REVOKE_TOKENS_OF_CODE, rusqlite::params![ts(now), &code.consent_id, hash])?;
        return Ok(CodeRedemption::Replayed { code, tokens_revoked: revoked });
    }
    exec(tx, "UPDATE authorization_codes SET used_at = ?1 WHERE code_hash = ?2", rusqlite::params![ts(now), hash])?;
    let expired = now >= code.expires_at;
    code.used_at = Some(crate::consent::whole_seconds(now));
    Ok(if expired { CodeRedemption::Expired(code) } else { CodeRedemption::Redeemed(code) })
}

/// The in-memory replay cache's key of a stored entry.
fn jti_key(kind: &str, issuer: &str, jti: &str) -> String {
    format!("{kind}\u{1f}{issuer}\u{1f}{jti}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statements that lost an index in migrations 0007 and 0008 still read through one: SQLite's plan for each
    /// (as the store sends it) names the index, and the consent's history needs no sort.
    #[tokio::test]
    async fn the_statements_that_lost_an_index_still_use_one() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            SqliteStore::open(&dir.path().join("plans.sqlite"), SealKey::from_bytes(&[7; 32]).unwrap()).await.unwrap();
        for (statement, index) in [
            (AUDIT_OF_CONSENT, "audit_log_by_person"),
            (REVOKE_TOKENS_OF_CONSENT, "tokens_by_consent"),
            (REVOKE_TOKENS_OF_CODE, "tokens_by_consent"),
        ] {
            let explain = sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {statement}"));
            let plan: Vec<String> = sqlx::query(explain)
                .fetch_all(&store.pool)
                .await
                .unwrap()
                .iter()
                .map(|step| step.get::<String, _>("detail"))
                .collect();
            assert!(plan.iter().any(|step| step.contains(&format!("USING INDEX {index}"))), "{statement}: {plan:?}");
            assert!(!plan.iter().any(|step| step.contains("TEMP B-TREE")), "{statement}: {plan:?}");
        }
    }
}
