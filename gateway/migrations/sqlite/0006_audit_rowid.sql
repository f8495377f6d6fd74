-- The access log's `seq` becomes a plain rowid alias, without AUTOINCREMENT (issue 4: pages written per commit). With
-- AUTOINCREMENT every commit of access records also rewrote SQLite's `sqlite_sequence` table: one more page of the
-- write-ahead log per commit (four instead of three: the table, its two indexes, the sequence), on the resource API's
-- hot path. AUTOINCREMENT only differs from a rowid alias when the row holding the largest `seq` is deleted (a new row
-- could then take that number again); the access log is append-only (nothing ever deletes from it), so `seq` stays
-- strictly increasing in commit order. A retention job, should one come, must keep the newest row.
CREATE TABLE audit_log_rowid (
    seq            INTEGER PRIMARY KEY,
    at             INTEGER NOT NULL,
    client_id      TEXT NOT NULL,
    consent_id     TEXT NOT NULL,
    bank           TEXT NOT NULL,
    person         TEXT NOT NULL,
    endpoint       TEXT NOT NULL,
    account_id     TEXT,
    clusters       TEXT NOT NULL,
    status         INTEGER NOT NULL,
    outcome        TEXT NOT NULL CHECK (outcome IN ('served', 'denied', 'failed')),
    interaction_id TEXT NOT NULL
);

INSERT INTO audit_log_rowid (seq, at, client_id, consent_id, bank, person, endpoint, account_id, clusters, status,
                             outcome, interaction_id)
SELECT seq, at, client_id, consent_id, bank, person, endpoint, account_id, clusters, status, outcome, interaction_id
FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_rowid RENAME TO audit_log;
CREATE INDEX audit_log_by_person ON audit_log (bank, person, seq);
CREATE INDEX audit_log_by_consent ON audit_log (consent_id, seq);
