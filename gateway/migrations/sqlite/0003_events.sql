-- Bank notifications delivered to apps (issue 5). Instants of deliveries are Unix MILLISECONDS of the gateway clock
-- (backoff is counted in milliseconds); the others Unix seconds like the rest of the store.

-- An app's FDX notification subscription, under one consent.
CREATE TABLE notification_subscriptions (
    id           TEXT PRIMARY KEY NOT NULL,
    consent_id   TEXT NOT NULL REFERENCES consents (id) ON DELETE CASCADE,
    client_id    TEXT NOT NULL,
    type         TEXT NOT NULL,
    category     TEXT NOT NULL,
    callback_url TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX notification_subscriptions_by_consent ON notification_subscriptions (consent_id, type, category);

-- Notifications accepted for a consent, as the app sees them (FDX Notificationentity JSON). Idempotent by the
-- bank's notificationId per consent. `seq` orders them (and is the polling cursor).
CREATE TABLE notification_events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    consent_id      TEXT NOT NULL REFERENCES consents (id) ON DELETE CASCADE,
    notification_id TEXT NOT NULL,
    type            TEXT NOT NULL,
    body            TEXT NOT NULL,
    received_at     INTEGER NOT NULL,
    acked_at        INTEGER,
    UNIQUE (consent_id, notification_id)
);
CREATE INDEX notification_events_unacked ON notification_events (consent_id, acked_at, seq);

-- One webhook delivery of one event to one subscription. `id` is the global enqueue order (the worker's cursor);
-- `seq` the order within the subscription (strictly delivered in this order).
CREATE TABLE notification_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id TEXT NOT NULL REFERENCES notification_subscriptions (id) ON DELETE CASCADE,
    consent_id      TEXT NOT NULL,
    notification_id TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead', 'cancelled')),
    last_error      TEXT,
    updated_at      INTEGER NOT NULL,
    UNIQUE (subscription_id, notification_id),
    UNIQUE (subscription_id, seq),
    FOREIGN KEY (consent_id, notification_id) REFERENCES notification_events (consent_id, notification_id)
        ON DELETE CASCADE
);
CREATE INDEX notification_deliveries_pending ON notification_deliveries (state, id);
CREATE INDEX notification_deliveries_by_consent ON notification_deliveries (consent_id, state);
