-- The replay cache's `jti`s become an append-only log (issues 3 and 4: write amplification). Replay decisions are
-- made in the store's exact in-memory map (`store::sqlite`), which is filled from this table at open; the table only
-- has to survive restarts, so it needs no unique key. The old table's primary key on (kind, issuer, jti) placed every
-- insert on a random page of its B-tree: with the write-ahead log, each such page is written whole at each commit
-- (about 8 KiB of log per token request). Rows of the log are appended in arrival order; the expiry index grows at
-- its end too. A `jti` may appear twice (taken over after it expired): loading keeps the latest expiry.
CREATE TABLE jti_log (
    kind       TEXT NOT NULL,
    issuer     TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX jti_log_by_expiry ON jti_log (expires_at);

INSERT INTO jti_log (kind, issuer, jti, expires_at) SELECT kind, issuer, jti, expires_at FROM jti_replay;
DROP TABLE jti_replay;
