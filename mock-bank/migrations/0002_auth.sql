-- The bank's own OAuth authorization server (mock_bank::login): registered clients, consents and tokens.
-- Tokens are stored as SHA-256 hashes only, never the raw value. Authorization codes live in memory only.
-- Instants are Unix seconds (UTC) of the bank's simulated clock.

CREATE TABLE auth_clients (
    client_id     TEXT PRIMARY KEY NOT NULL,
    -- JSON array of exact redirect URIs.
    redirect_uris TEXT NOT NULL
);

CREATE TABLE auth_consents (
    consent_id     TEXT PRIMARY KEY NOT NULL,
    client_id      TEXT NOT NULL,
    customer_index INTEGER NOT NULL,
    -- JSON arrays: account ids, FDX data cluster names, purposes.
    account_ids    TEXT NOT NULL,
    clusters       TEXT NOT NULL,
    purposes       TEXT NOT NULL,
    platform       TEXT,
    -- Data-error test users: "data:<http status>:<fdx code>"; NULL for everyone else.
    chosen_error   TEXT,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    revoked_at     INTEGER
);

CREATE INDEX auth_consents_by_customer ON auth_consents (customer_index);

CREATE TABLE auth_tokens (
    -- SHA-256 of the token (32 bytes).
    token_hash BLOB PRIMARY KEY NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    consent_id TEXT NOT NULL REFERENCES auth_consents (consent_id),
    client_id  TEXT NOT NULL,
    -- JSON array of FDX data cluster names this token may read (a subset of its consent's).
    clusters   TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE INDEX auth_tokens_by_consent ON auth_tokens (consent_id);
