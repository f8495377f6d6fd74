-- The gateway's store, SQLite dialect (a PostgreSQL dialect follows in migrations/postgres/ with the same tables).
-- Instants are Unix seconds (UTC) of the gateway's clock. Tokens, codes and registration access tokens are stored
-- only as hex SHA-256 hashes; bank tokens only sealed (AES-256-GCM, consent id as associated data). JSON is TEXT.

-- RFC 7591 registered clients (and clients declared in configuration).
CREATE TABLE clients (
    client_id               TEXT PRIMARY KEY NOT NULL,
    metadata                TEXT NOT NULL,
    registration_token_hash TEXT,
    profile                 TEXT NOT NULL CHECK (profile IN ('fapi2', 'sandbox')),
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
);

-- RFC 9126 pushed authorization requests: single use, bound to their client.
CREATE TABLE par_requests (
    request_uri TEXT PRIMARY KEY NOT NULL,
    client_id   TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    params      TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX par_requests_by_expiry ON par_requests (expires_at);

-- Consents: the request (clusters, duration, lookback, purposes, requested accounts), what the person granted
-- (subject, accounts, secondary-use opt-in) and the lifecycle.
CREATE TABLE consents (
    id                   TEXT PRIMARY KEY NOT NULL,
    client_id            TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    person               TEXT,
    bank                 TEXT,
    clusters             TEXT NOT NULL,
    requested_accounts   TEXT,
    accounts             TEXT NOT NULL,
    purposes             TEXT NOT NULL,
    duration_type        TEXT NOT NULL CHECK (duration_type IN ('ONE_TIME', 'PERSISTENT', 'TIME_BOUND')),
    duration_period      INTEGER,
    lookback_period      INTEGER NOT NULL,
    secondary_use_opt_in BOOLEAN NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('PENDING', 'AUTHORIZED', 'REVOKED', 'EXPIRED')),
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    authorized_at        INTEGER,
    expires_at           INTEGER
);
CREATE INDEX consents_by_person ON consents (bank, person);
CREATE INDEX consents_by_client ON consents (client_id);

-- FDX ConsentRevocation history, oldest first per consent.
CREATE TABLE consent_revocations (
    consent_id TEXT NOT NULL REFERENCES consents (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    reason     TEXT NOT NULL,
    initiator  TEXT NOT NULL,
    revoked_at INTEGER NOT NULL,
    PRIMARY KEY (consent_id, seq)
);

-- Authorization codes (hashes): single use; `replayed_at` marks a code presented again (no token may follow).
CREATE TABLE authorization_codes (
    code_hash      TEXT PRIMARY KEY NOT NULL,
    client_id      TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    consent_id     TEXT NOT NULL REFERENCES consents (id) ON DELETE CASCADE,
    pkce_challenge TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    dpop_jkt       TEXT,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER,
    replayed_at    INTEGER
);
CREATE INDEX authorization_codes_by_consent ON authorization_codes (consent_id);

-- Access and refresh tokens (hashes) with their sender binding (cnf).
CREATE TABLE tokens (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    client_id   TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    consent_id  TEXT REFERENCES consents (id) ON DELETE CASCADE,
    scope       TEXT NOT NULL,
    cnf_kind    TEXT CHECK (cnf_kind IN ('jkt', 'x5t#S256')),
    cnf_value   TEXT,
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    parent_code TEXT
);
CREATE INDEX tokens_by_consent ON tokens (consent_id);
CREATE INDEX tokens_by_parent_code ON tokens (parent_code);

-- The bank's tokens per consent, sealed.
CREATE TABLE bank_tokens (
    consent_id TEXT PRIMARY KEY NOT NULL REFERENCES consents (id) ON DELETE CASCADE,
    sealed     BLOB NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Replay caches for client assertion and DPoP proof `jti`s.
CREATE TABLE jti_replay (
    kind       TEXT NOT NULL,
    issuer     TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (kind, issuer, jti)
);
CREATE INDEX jti_replay_by_expiry ON jti_replay (expires_at);
