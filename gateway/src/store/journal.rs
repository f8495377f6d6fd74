//! The access log's journal: where an access record is acknowledged, before it reaches the SQLite table.
//!
//! Every resource request appends one record ([`super::Store::append_audit`]) and its response waits for it. The
//! record is written here, by the request's own task, as one line at the end of a plain append-only file (one
//! `write` system call, under a lock held only for it), and is acknowledged when that call returns: the line is then
//! in the operating system's hands, so it survives a crash of the gateway process (the relaxed durability the store
//! promises for access records; a power cut of the host may lose the last moments, as it may for a relaxed SQLite
//! commit). The records are kept in memory too, and moved into the `audit_log` table in large batches
//! ([`AuditJournal::move_with`], through the store's one writer; [`MOVE_AT`] records or [`MOVE_AFTER`] after the first
//! record, whichever comes first, and before every read of the log, so a reader sees every acknowledged record).
//! Each move starts a new journal file (its `generation` in the name), and a file is deleted only once the records
//! it holds are committed in the table. At open, the files left by a process that stopped without moving them are
//! read back ([`recover`]) and their records inserted, idempotently: a record's `seq` is given here, at append, and
//! is the table's primary key.
//!
//! Decision, measured (`bench/resource-load.sh` setup, certificate-bound tokens, `GET /fdx/v6/accounts`, 32
//! connections, 2 cores): the access log was written by the group-commit writer, each record queued to its thread
//! and each caller woken after a commit of a few rows (every commit rewrote the table's and the index's last
//! pages); a build without any access log served 0.69-0.75 of nginx's requests/s against 0.54-0.57 with it. The
//! journal's cost per record is one small `write` and a share of a 1,000-row insert.
//!
//! A line is the record as JSON (no secret is in an access record: ids, names, status). A line cut short by a crash
//! in the middle of its `write` was never acknowledged: at recovery, a last line without its newline is dropped; any
//! other line that does not parse is corruption, and the store refuses to open. A failed `write` is undone (the
//! file cut back to its length before it), so a refused record leaves no partial line behind; when even that fails,
//! the next record starts the next generation's file (the broken line stays the last of its file).

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{AuditOutcome, AuditRecord, StoreError};
use crate::consent::DataCluster;

/// Records in memory that start a move at once.
pub const MOVE_AT: usize = 1024;
/// Longest a record waits for its move when fewer than [`MOVE_AT`] arrive.
pub const MOVE_AFTER: Duration = Duration::from_millis(200);
/// Longest wait between two tries of a move that failed.
pub const MOVE_RETRY_LIMIT: Duration = Duration::from_secs(30);

/// The journal of one store (module docs). In memory only for an in-memory store (nothing of it outlives the
/// process there anyway).
#[derive(Debug)]
pub struct AuditJournal {
    /// `<store file>.audit-journal` (`gateway.sqlite.audit-journal`); a generation's file is this with
    /// `.<generation>` appended.
    base: Option<PathBuf>,
    inner: Mutex<Inner>,
    /// One move at a time, so records reach the table in `seq` order and files are deleted in order.
    moving: tokio::sync::Mutex<()>,
    /// A task is trying a failed move again (one at a time).
    retrying: std::sync::atomic::AtomicBool,
}

#[derive(Debug)]
struct Inner {
    /// The current generation's file and its length (what a failed `write` is cut back to).
    file: Option<(File, u64)>,
    generation: u64,
    next_seq: i64,
    /// Acknowledged records not yet taken by a move, in `seq` order.
    records: Vec<AuditRecord>,
    /// Files whose records were taken but not yet committed to the table (deleted after the commit).
    taken_files: Vec<PathBuf>,
    /// A line being encoded (kept to save an allocation per record).
    line: Vec<u8>,
}

impl Inner {
    /// Starts the next generation's file; the current one waits in `taken_files` until its records are committed.
    fn rotate(&mut self, base: &Path) -> Result<(), StoreError> {
        let next = self.generation + 1;
        let file = create(&file_of(base, next))?;
        self.taken_files.push(file_of(base, self.generation));
        self.file = Some((file, 0));
        self.generation = next;
        Ok(())
    }
}

/// What [`AuditJournal::append`] asks of its caller: start a move now (every [`MOVE_AT`] waiting records), or after
/// [`MOVE_AFTER`] (the first record since the last move).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveDue {
    /// Nothing to do: a move is already due.
    No,
    /// The first record since the last move: schedule a move after [`MOVE_AFTER`].
    Later,
    /// A multiple of [`MOVE_AT`] records is waiting: move now.
    Now,
}

/// Records taken for a move, and the files that hold them.
#[derive(Debug)]
struct Taken {
    records: Vec<AuditRecord>,
    files: Vec<PathBuf>,
}

/// One journal line (module docs). Field names are short: the file is read only by [`recover`].
#[derive(Serialize, Deserialize)]
struct Line<'a> {
    seq: i64,
    at: i64,
    client: Cow<'a, str>,
    consent: Cow<'a, str>,
    bank: Cow<'a, str>,
    person: Cow<'a, str>,
    endpoint: Cow<'a, str>,
    account: Option<Cow<'a, str>>,
    clusters: Vec<Cow<'a, str>>,
    status: u16,
    outcome: Cow<'a, str>,
    interaction: Cow<'a, str>,
}

impl<'a> Line<'a> {
    fn of(r: &'a AuditRecord) -> Self {
        Line {
            seq: r.seq,
            at: r.at.unix_timestamp(),
            client: Cow::Borrowed(&r.client_id),
            consent: Cow::Borrowed(&r.consent_id),
            bank: Cow::Borrowed(&r.bank),
            person: Cow::Borrowed(&r.person),
            endpoint: Cow::Borrowed(&r.endpoint),
            account: r.account_id.as_deref().map(Cow::Borrowed),
            clusters: r.clusters.iter().map(|c| Cow::Borrowed(c.as_fdx())).collect(),
            status: r.status,
            outcome: Cow::Borrowed(r.outcome.as_str()),
            interaction: Cow::Borrowed(&r.interaction_id),
        }
    }

    fn record(self) -> Result<AuditRecord, String> {
        Ok(AuditRecord {
            seq: self.seq,
            at: OffsetDateTime::from_unix_timestamp(self.at).map_err(|e| e.to_string())?,
            client_id: self.client.into_owned(),
            consent_id: self.consent.into_owned(),
            bank: self.bank.into_owned(),
            person: self.person.into_owned(),
            endpoint: self.endpoint.into_owned(),
            account_id: self.account.map(Cow::into_owned),
            clusters: self
                .clusters
                .iter()
                .map(|c| c.parse::<DataCluster>().map_err(|e| e.to_string()))
                .collect::<Result<_, _>>()?,
            status: self.status,
            outcome: AuditOutcome::parse(&self.outcome).ok_or_else(|| format!("outcome `{}`", self.outcome))?,
            interaction_id: self.interaction.into_owned(),
        })
    }
}

impl AuditJournal {
    /// A journal next to the database file `database` (`None`: in memory), numbering records after `last_seq`
    /// (the largest `seq` in the table and in the recovered files), writing generation `generation` (after every
    /// recovered file's).
    pub fn open(database: Option<&Path>, last_seq: i64, generation: u64) -> Result<Self, StoreError> {
        let base = database.map(base_of);
        let mut inner = Inner {
            file: None,
            generation,
            next_seq: last_seq + 1,
            records: Vec::new(),
            taken_files: Vec::new(),
            line: Vec::with_capacity(512),
        };
        if let Some(base) = &base {
            inner.file = Some((create(&file_of(base, generation))?, 0));
        }
        Ok(Self {
            base,
            inner: Mutex::new(inner),
            moving: tokio::sync::Mutex::new(()),
            retrying: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends `record` (its `seq` is given here) and acknowledges it once its line is written (module docs).
    pub fn append(&self, mut record: AuditRecord) -> Result<MoveDue, StoreError> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        record.seq = inner.next_seq;
        if let Some(base) = &self.base
            && inner.file.is_none()
        {
            // The file broke (a failed write that could not be undone): go on in the next generation's.
            inner.rotate(base)?;
        }
        if let Some((file, len)) = &mut inner.file {
            inner.line.clear();
            encode(&mut inner.line, &record)?;
            if let Err(error) = file.write_all(&inner.line) {
                // Undo a partial line; if even that fails, the next lines would follow a broken one: stop here.
                if file.set_len(*len).is_err() {
                    inner.file = None;
                }
                return Err(StoreError::Journal(format!("writing the access-log journal: {error}")));
            }
            *len += inner.line.len() as u64;
        }
        inner.next_seq += 1;
        inner.records.push(record);
        Ok(match inner.records.len() {
            1 => MoveDue::Later,
            n if n % MOVE_AT == 0 => MoveDue::Now,
            _ => MoveDue::No,
        })
    }

    /// Moves every waiting record with `insert` (which commits them to the table): one move at a time, so records
    /// reach the table in `seq` order. Their files are deleted once `insert` succeeded; when it fails, the records
    /// wait for the next move, ahead of any appended since, and their files stay.
    pub async fn move_with<F, Fut>(&self, insert: F) -> Result<(), StoreError>
    where
        F: FnOnce(Arc<Vec<AuditRecord>>) -> Fut,
        Fut: Future<Output = Result<(), StoreError>>,
    {
        let _one = self.moving.lock().await;
        let mut taken = self.take()?;
        if taken.records.is_empty() {
            self.moved(taken);
            return Ok(());
        }
        let records = Arc::new(std::mem::take(&mut taken.records));
        match insert(Arc::clone(&records)).await {
            Ok(()) => {
                self.moved(taken);
                Ok(())
            }
            Err(error) => {
                // `insert` dropped its copy when it finished.
                taken.records = Arc::try_unwrap(records).unwrap_or_else(|records| records.as_ref().clone());
                self.not_moved(taken);
                Err(error)
            }
        }
    }

    /// Takes every waiting record for a move, and starts the next generation's file.
    fn take(&self) -> Result<Taken, StoreError> {
        let mut inner = self.lock();
        if let Some(base) = &self.base
            && !inner.records.is_empty()
        {
            inner.rotate(base)?;
        }
        let records = std::mem::take(&mut inner.records);
        let files = std::mem::take(&mut inner.taken_files);
        Ok(Taken { records, files })
    }

    /// The taken records are committed in the table: their files go.
    fn moved(&self, taken: Taken) {
        for file in taken.files {
            if let Err(error) = std::fs::remove_file(&file) {
                // Harmless: recovery inserts its records again, idempotently (their `seq` is the key).
                tracing::warn!(file = %file.display(), %error, "could not delete a moved access-log journal file");
            }
        }
    }

    /// The move failed: the records wait for the next one, ahead of any appended since; their files stay.
    fn not_moved(&self, taken: Taken) {
        let mut inner = self.lock();
        let mut records = taken.records;
        records.append(&mut inner.records);
        inner.records = records;
        let mut files = taken.files;
        files.append(&mut inner.taken_files);
        inner.taken_files = files;
    }

    /// Whether the caller becomes the one task that tries a failed move again (`false`: another one is).
    pub fn begin_retrying(&self) -> bool {
        !self.retrying.swap(true, std::sync::atomic::Ordering::AcqRel)
    }

    /// The task trying again is done (its move went through).
    pub fn end_retrying(&self) {
        self.retrying.store(false, std::sync::atomic::Ordering::Release);
    }
}

/// The journal line of `record`, newline included: what [`AuditJournal::append`] writes (and tests write by hand to
/// play a stopped process's journal).
pub fn line(record: &AuditRecord) -> Result<Vec<u8>, StoreError> {
    let mut line = Vec::new();
    encode(&mut line, record)?;
    Ok(line)
}

/// Appends `record`'s line, newline included, to `out`.
fn encode(out: &mut Vec<u8>, record: &AuditRecord) -> Result<(), StoreError> {
    serde_json::to_writer(&mut *out, &Line::of(record)).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    out.push(b'\n');
    Ok(())
}

/// `<database>.audit-journal`.
fn base_of(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".audit-journal");
    PathBuf::from(name)
}

fn file_of(base: &Path, generation: u64) -> PathBuf {
    let mut name = base.as_os_str().to_owned();
    name.push(format!(".{generation}"));
    PathBuf::from(name)
}

fn create(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| StoreError::Journal(format!("{}: {e}", path.display())))
}

/// What a stopped process left next to `database`: its journal files' records in `seq` order, the files, and the
/// generation a new journal starts at (after theirs). Read at open, before anything is appended.
pub fn recover(database: &Path) -> Result<(Vec<AuditRecord>, Vec<PathBuf>, u64), StoreError> {
    let base = base_of(database);
    let (Some(dir), Some(prefix)) = (base.parent(), base.file_name()) else {
        return Ok((Vec::new(), Vec::new(), 0));
    };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let prefix = format!("{}.", prefix.to_string_lossy());
    let mut files: Vec<(u64, PathBuf)> = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| StoreError::Journal(format!("{}: {e}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::Journal(e.to_string()))?;
        let name = entry.file_name();
        let Some(generation) = name.to_str().and_then(|n| n.strip_prefix(&prefix)).and_then(|g| g.parse().ok()) else {
            continue;
        };
        files.push((generation, entry.path()));
    }
    files.sort();
    let next = files.last().map_or(0, |(g, _)| g + 1);
    let mut records = Vec::new();
    for (_, path) in &files {
        let text = std::fs::read(path).map_err(|e| StoreError::Journal(format!("{}: {e}", path.display())))?;
        read_lines(&text, &mut records).map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))?;
    }
    records.sort_by_key(|r| r.seq);
    Ok((records, files.into_iter().map(|(_, p)| p).collect(), next))
}

/// The records of one file's text (module docs: a last line without its newline was never acknowledged).
fn read_lines(text: &[u8], out: &mut Vec<AuditRecord>) -> Result<(), String> {
    let mut rest = text;
    let mut number = 0;
    while let Some(end) = rest.iter().position(|b| *b == b'\n') {
        number += 1;
        let line: Line<'_> = serde_json::from_slice(&rest[..end]).map_err(|e| format!("line {number}: {e}"))?;
        out.push(line.record().map_err(|e| format!("line {number}: {e}"))?);
        rest = &rest[end + 1..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(consent: &str) -> AuditRecord {
        AuditRecord {
            seq: 0,
            at: OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap(),
            client_id: "app \"one\"".into(),
            consent_id: consent.into(),
            bank: "continental".into(),
            person: "user_good".into(),
            endpoint: "transactions".into(),
            account_id: Some("acc-1".into()),
            clusters: vec![DataCluster::Transactions, DataCluster::AccountBasic],
            status: 200,
            outcome: AuditOutcome::Served,
            interaction_id: "9d1f0c2e-6c1f-4a53-8a0e-3c1b5f8e2d11".into(),
        }
    }

    #[test]
    fn appended_records_are_numbered_and_read_back_from_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("gateway.db");
        let journal = AuditJournal::open(Some(&db), 41, 0).unwrap();
        assert_eq!(journal.append(record("c1")).unwrap(), MoveDue::Later);
        assert_eq!(journal.append(record("c2")).unwrap(), MoveDue::No);
        let taken = journal.take().unwrap();
        assert_eq!(taken.records.iter().map(|r| r.seq).collect::<Vec<_>>(), [42, 43]);
        journal.append(record("c3")).unwrap();
        // A crash before the move committed: both generations' files are still there.
        let (records, files, next) = recover(&db).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(next, 2);
        assert_eq!(
            records.iter().map(|r| (r.seq, r.consent_id.as_str())).collect::<Vec<_>>(),
            [(42, "c1"), (43, "c2"), (44, "c3")]
        );
        let mut expected = record("c1");
        expected.seq = 42;
        assert_eq!(records[0], expected, "every field survives the line");
        journal.moved(taken);
        let (records, files, _) = recover(&db).unwrap();
        assert_eq!((records.len(), files.len()), (1, 1), "a moved generation's file is deleted");
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_a_broken_line_refused() {
        let mut out = Vec::new();
        let mut one = record("c1");
        one.seq = 7;
        let mut text = line(&one).unwrap();
        let whole = text.clone();
        text.extend_from_slice(&whole[..whole.len() / 2]);
        read_lines(&text, &mut out).unwrap();
        assert_eq!(out, [one], "the half line (never acknowledged) is not a record");
        let mut broken = whole[..whole.len() / 2].to_vec();
        broken.push(b'\n');
        broken.extend_from_slice(&whole);
        assert!(read_lines(&broken, &mut Vec::new()).unwrap_err().starts_with("line 1:"));
    }

    #[test]
    fn a_failed_write_refuses_its_record_alone_and_the_journal_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("gateway.db");
        let journal = AuditJournal::open(Some(&db), 0, 0).unwrap();
        journal.append(record("kept")).unwrap();
        // A disk that refuses every write, and whose length cannot be set back either.
        journal.lock().file = Some((OpenOptions::new().write(true).open("/dev/full").unwrap(), 0));
        assert!(matches!(journal.append(record("refused")), Err(StoreError::Journal(_))));
        journal.append(record("after")).unwrap();
        let (records, files, _) = recover(&db).unwrap();
        let seen: Vec<(i64, &str)> = records.iter().map(|r| (r.seq, r.consent_id.as_str())).collect();
        assert_eq!(seen, [(1, "kept"), (2, "after")], "the refused record took no number and left no line");
        assert_eq!(files.len(), 2, "the record after the failure went to the next generation's file");
        assert_eq!(journal.take().unwrap().records.len(), 2);
    }

    #[tokio::test]
    async fn a_full_journal_asks_for_a_move_once_and_a_failed_move_keeps_the_order() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("gateway.db");
        let journal = AuditJournal::open(Some(&db), 0, 0).unwrap();
        let dues: Vec<MoveDue> = (0..MOVE_AT + 1).map(|_| journal.append(record("c")).unwrap()).collect();
        assert_eq!(dues.iter().filter(|d| **d == MoveDue::Now).count(), 1);
        assert_eq!(dues[MOVE_AT - 1], MoveDue::Now);
        let refused = journal
            .move_with(|rows| async move {
                assert_eq!(rows.len(), MOVE_AT + 1);
                Err(StoreError::Batch("the table is away".into()))
            })
            .await;
        assert!(matches!(refused, Err(StoreError::Batch(_))));
        journal.append(record("later")).unwrap();
        assert_eq!(recover(&db).unwrap().1.len(), 2, "a failed move deletes no file");
        let moved = std::sync::Mutex::new(Vec::new());
        journal
            .move_with(|rows| {
                moved.lock().unwrap().extend(rows.iter().map(|r| r.seq));
                async { Ok(()) }
            })
            .await
            .unwrap();
        assert_eq!(*moved.lock().unwrap(), (1..=MOVE_AT as i64 + 2).collect::<Vec<_>>(), "in order, none lost");
        assert_eq!(recover(&db).unwrap().0.len(), 0, "the moved records' files are deleted");
    }
}
