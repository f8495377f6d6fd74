-- The access log of the resource API (DESIGN.md flow 4: every access is appended; the person's dashboard shows it).
-- Append-only; no foreign keys, so the record of an access outlives the client or consent it names.
CREATE TABLE audit_log (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
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
CREATE INDEX audit_log_by_person ON audit_log (bank, person, seq);
CREATE INDEX audit_log_by_consent ON audit_log (consent_id, seq);
