-- The gateway's own FDX notification subscriptions at banks (issue 5, `banks::notifications`), per gateway consent:
-- what it must delete at the bank when the consent is revoked, kept across restarts. Instants in Unix seconds.

-- Where subscribing at the consent's bank stands. `ended`: the subscriptions were deleted at a revocation (or the
-- bank ended them itself); a consent whose subscribing ended never subscribes again.
CREATE TABLE bank_subscribing (
    consent_id TEXT PRIMARY KEY NOT NULL REFERENCES consents (id) ON DELETE CASCADE,
    state      TEXT NOT NULL CHECK (state IN ('pending', 'subscribed', 'failed', 'ended')),
    error      TEXT,
    updated_at INTEGER NOT NULL
);

-- One subscription the bank created (its `subscriptionId`), recorded as soon as the bank answered.
CREATE TABLE bank_subscriptions (
    consent_id      TEXT NOT NULL REFERENCES bank_subscribing (consent_id) ON DELETE CASCADE,
    subscription_id TEXT NOT NULL,
    type            TEXT NOT NULL,
    category        TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (consent_id, subscription_id)
);
