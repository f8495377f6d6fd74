-- FDX notification subscriptions (mock_bank::events): who the bank notifies, kept so a restarted bank keeps them.
-- One subscription per (bank consent, notification type): subscribing again replaces its callback URL and
-- subscriber (FDX NotificationSubscriptionentity: "Previous callback URL will be updated with latest").
-- `body` is the JSON of `events::Subscription`. The outbox itself is not persisted.
CREATE TABLE notification_subscriptions (
    subscription_id TEXT PRIMARY KEY NOT NULL,
    consent_id      TEXT NOT NULL,
    type            TEXT NOT NULL,
    body            TEXT NOT NULL,
    UNIQUE (consent_id, type)
);
