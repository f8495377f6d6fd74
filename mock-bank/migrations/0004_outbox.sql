-- The notification outbox of a file-backed bank (mock_bank::events::outbox): each notification waiting for delivery,
-- from the moment it is queued until it leaves the outbox (delivered, refused or given up), so a restarted bank still
-- delivers what was queued. `seq` is the queueing order (per callback URL the delivery order); `payload` is the FDX
-- Notificationentity JSON exactly as it will be signed.
CREATE TABLE notification_outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id TEXT NOT NULL UNIQUE,
    callback_url    TEXT NOT NULL,
    payload         BLOB NOT NULL
);
