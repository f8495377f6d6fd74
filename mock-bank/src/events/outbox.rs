//! The bank's notification outbox: in memory, one lane per callback URL, delivered in order, retried with backoff.
//!
//! [`Outbox::enqueue`] only appends to the lane of the callback URL (a lock and a push: no I/O, no signing), and
//! starts that lane's worker task when none runs. The worker takes one notification at a time (so delivery is
//! ordered per callback URL, one in flight per URL), serializes it, signs it ([`super::sign`]) and `POST`s it over
//! mutual TLS with the bank's client certificate: `content-type: application/jose`, a fresh
//! `x-fapi-interaction-id`. Answers:
//! - 2xx: delivered;
//! - 408, 429, 5xx, connection failures and timeouts: retried, at most [`RetryPolicy::max_attempts`] attempts in
//!   all, waiting `base * 2^(n-1)` plus up to half of that again as random jitter before attempt `n + 1`; then the
//!   notification is dropped with a warning;
//! - any other 4xx: the receiver refused it; not retried (rejected, with a warning).
//!
//! At most [`MAX_CONCURRENT_DELIVERIES`] requests are in flight across lanes. When the bank has no client certificate
//! every notification is dropped at once with a warning.
//!
//! The outbox is not persisted: a bank that stops loses what was queued (the gateway's side is the durable one).
//! [`Outbox::counts`] and [`Outbox::wait_idle`] let tests and QA see and wait for the queue. Nothing here logs a
//! notification body or a key.

use super::Notification;
use super::sign::JwsSigner;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

/// Requests in flight at once, all callback URLs together.
pub const MAX_CONCURRENT_DELIVERIES: usize = 64;

/// How deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Wait before the second attempt (doubled for each later one, plus jitter).
    pub base_delay: Duration,
    /// One attempt's whole request, connection included.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(200),
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based): `base * 2^(attempt-1)` plus `jitter` (0..=1) of half that.
    pub fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let step = self.base_delay.saturating_mul(1 << attempt.saturating_sub(1).min(16));
        step + step.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
    }
}

/// The HTTPS client presenting the bank's certificate, and the signer of its key.
#[derive(Debug)]
pub struct Transport {
    http: reqwest::Client,
    signer: JwsSigner,
}

impl Transport {
    /// A client trusting only `ca` and presenting `identity`, and a signer with `identity`'s key.
    pub fn new(identity: &certs::Identity, ca: &rustls_pki_types::CertificateDer<'static>) -> anyhow::Result<Self> {
        let policy = RetryPolicy::default();
        let tls = certs::client_config(ca, Some(identity))?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured((*tls).clone())
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(policy.connect_timeout)
            .timeout(policy.request_timeout)
            .build()?;
        Ok(Self { http, signer: JwsSigner::new(identity)? })
    }
}

/// Delivery counters (`GET /admin/notifications/outbox`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxCounts {
    /// Waiting in a lane.
    pub queued: u64,
    /// Being delivered (including waits between attempts).
    pub in_flight: u64,
    /// Answered 2xx.
    pub delivered: u64,
    /// Refused with a 4xx (not retried).
    pub rejected: u64,
    /// Given up after the last attempt, or never sendable (no client certificate, bank stopping).
    pub dropped: u64,
    /// HTTP attempts made, retries included.
    pub attempts: u64,
}

#[derive(Debug, Default)]
struct Counters {
    queued: AtomicU64,
    in_flight: AtomicU64,
    delivered: AtomicU64,
    rejected: AtomicU64,
    dropped: AtomicU64,
    attempts: AtomicU64,
}

/// The queue of notifications waiting for delivery.
#[derive(Debug)]
pub struct Outbox {
    /// Callback URL -> waiting notifications. A URL is present exactly while its worker runs.
    lanes: Mutex<HashMap<String, VecDeque<Notification>>>,
    counters: Counters,
    /// Signalled whenever a notification leaves the outbox.
    changed: Notify,
    transport: Option<Transport>,
    policy: RetryPolicy,
    permits: Semaphore,
    closed: AtomicBool,
    stop: Notify,
}

enum Outcome {
    Delivered,
    Rejected(u16),
    Retry(String),
}

impl Outbox {
    pub fn new(transport: Option<Transport>, policy: RetryPolicy) -> Self {
        Self {
            lanes: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            changed: Notify::new(),
            transport,
            policy,
            permits: Semaphore::new(MAX_CONCURRENT_DELIVERIES),
            closed: AtomicBool::new(false),
            stop: Notify::new(),
        }
    }

    /// Whether the bank can deliver at all (it has a client certificate).
    pub fn can_deliver(&self) -> bool {
        self.transport.is_some()
    }

    pub fn counts(&self) -> OutboxCounts {
        let c = &self.counters;
        OutboxCounts {
            queued: c.queued.load(Ordering::Acquire),
            in_flight: c.in_flight.load(Ordering::Acquire),
            delivered: c.delivered.load(Ordering::Acquire),
            rejected: c.rejected.load(Ordering::Acquire),
            dropped: c.dropped.load(Ordering::Acquire),
            attempts: c.attempts.load(Ordering::Acquire),
        }
    }

    fn is_idle(&self) -> bool {
        let c = self.counts();
        c.queued == 0 && c.in_flight == 0
    }

    /// Wait until nothing is queued or in flight, at most `timeout`. Returns whether the outbox is idle.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.is_idle() {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return self.is_idle();
            }
        }
    }

    /// Stop: workers end after their current attempt, and everything still queued is dropped.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.stop.notify_waiters();
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        let waiting: u64 = lanes.values().map(|q| q.len() as u64).sum();
        for queue in lanes.values_mut() {
            queue.clear();
        }
        drop(lanes);
        if waiting > 0 {
            tracing::warn!(dropped = waiting, "bank stopping: queued notifications dropped");
            self.counters.dropped.fetch_add(waiting, Ordering::AcqRel);
            self.counters.queued.fetch_sub(waiting, Ordering::AcqRel);
        }
        self.changed.notify_waiters();
    }

    /// Queue `notification` for `callback_url` (returns at once; delivery happens on a worker task).
    pub fn enqueue(self: &Arc<Self>, callback_url: String, notification: Notification) {
        if self.transport.is_none() || self.closed.load(Ordering::Acquire) {
            tracing::warn!(
                notification_id = %notification.notification_id,
                kind = notification.kind.name(),
                "the bank has no client certificate (or is stopping): notification dropped"
            );
            self.counters.dropped.fetch_add(1, Ordering::AcqRel);
            self.changed.notify_waiters();
            return;
        }
        self.counters.queued.fetch_add(1, Ordering::AcqRel);
        let start = {
            let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
            match lanes.get_mut(&callback_url) {
                Some(queue) => {
                    queue.push_back(notification);
                    false
                }
                None => {
                    lanes.insert(callback_url.clone(), VecDeque::from([notification]));
                    true
                }
            }
        };
        if start {
            let outbox = self.clone();
            tokio::spawn(async move { outbox.run_lane(callback_url).await });
        }
    }

    /// One lane's worker: deliver its notifications in order until it is empty.
    async fn run_lane(self: Arc<Self>, url: String) {
        loop {
            let next = {
                let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
                match lanes.get_mut(&url).and_then(VecDeque::pop_front) {
                    Some(notification) => {
                        self.counters.in_flight.fetch_add(1, Ordering::AcqRel);
                        self.counters.queued.fetch_sub(1, Ordering::AcqRel);
                        notification
                    }
                    None => {
                        lanes.remove(&url);
                        drop(lanes);
                        self.changed.notify_waiters();
                        return;
                    }
                }
            };
            let counter = match self.deliver(&url, &next).await {
                Some(Outcome::Delivered) => &self.counters.delivered,
                Some(Outcome::Rejected(_)) => &self.counters.rejected,
                _ => &self.counters.dropped,
            };
            counter.fetch_add(1, Ordering::AcqRel);
            self.counters.in_flight.fetch_sub(1, Ordering::AcqRel);
            self.changed.notify_waiters();
        }
    }

    /// Deliver one notification with retries; `None` when it could not even be sent (dropped).
    async fn deliver(&self, url: &str, notification: &Notification) -> Option<Outcome> {
        let transport = self.transport.as_ref()?;
        let id = &notification.notification_id;
        let jws = match serde_json::to_vec(notification)
            .map_err(|e| e.to_string())
            .and_then(|payload| transport.signer.sign(&payload).map_err(|e| e.to_string()))
        {
            Ok(jws) => jws,
            Err(error) => {
                tracing::warn!(notification_id = %id, %error, "cannot sign a notification: dropped");
                return None;
            }
        };
        for attempt in 1..=self.policy.max_attempts {
            if self.closed.load(Ordering::Acquire) {
                return None;
            }
            self.counters.attempts.fetch_add(1, Ordering::AcqRel);
            let outcome = {
                let _permit = self.permits.acquire().await.ok()?;
                self.attempt(transport, url, &jws).await
            };
            let why = match outcome {
                Outcome::Delivered => {
                    tracing::debug!(notification_id = %id, attempt, "notification delivered");
                    return Some(Outcome::Delivered);
                }
                Outcome::Rejected(status) => {
                    tracing::warn!(notification_id = %id, status, attempt, "the receiver refused a notification (not retried)");
                    return Some(Outcome::Rejected(status));
                }
                Outcome::Retry(why) => why,
            };
            if attempt == self.policy.max_attempts {
                tracing::warn!(notification_id = %id, attempts = attempt, last = %why, "notification dropped after the last attempt");
                return None;
            }
            let wait = self.policy.backoff(attempt, rand::random::<f64>());
            tracing::debug!(notification_id = %id, attempt, last = %why, wait_ms = wait.as_millis() as u64, "notification will be retried");
            let stop = self.stop.notified();
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = stop => return None,
            }
        }
        None
    }

    async fn attempt(&self, transport: &Transport, url: &str, jws: &str) -> Outcome {
        let sent = transport
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/jose")
            .header("x-fapi-interaction-id", super::new_uuid())
            .body(jws.to_owned())
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status();
                // Read the (small) answer so the connection can be reused.
                let _ = response.bytes().await;
                if status.is_success() {
                    Outcome::Delivered
                } else if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
                    Outcome::Retry(format!("HTTP {}", status.as_u16()))
                } else {
                    Outcome::Rejected(status.as_u16())
                }
            }
            Err(error) if error.is_timeout() => Outcome::Retry("timed out".into()),
            Err(error) => Outcome::Retry(format!("{error}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_bounded_jitter() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(1, 0.0), Duration::from_millis(200));
        assert_eq!(policy.backoff(2, 0.0), Duration::from_millis(400));
        assert_eq!(policy.backoff(4, 0.0), Duration::from_millis(1600));
        assert_eq!(policy.backoff(1, 1.0), Duration::from_millis(300));
        assert_eq!(policy.backoff(3, 7.0), Duration::from_millis(1200), "jitter is clamped");
    }

    #[tokio::test]
    async fn without_a_certificate_everything_is_dropped_and_the_outbox_is_idle() {
        let outbox = Arc::new(Outbox::new(None, RetryPolicy::default()));
        assert!(!outbox.can_deliver());
        let notification = super::super::Notification {
            notification_id: super::super::new_uuid(),
            kind: super::super::NotificationType::Risk,
            sent_on: "2026-11-18T12:00:00Z".into(),
            category: "FRAUD",
            severity: "ALERT",
            priority: "HIGH",
            publisher: party(),
            subscriber: party(),
            notification_payload: super::super::NotificationPayload {
                id: "A1".into(),
                id_type: "ACCOUNT",
                custom_fields: super::super::CustomField { name: "SUSPECTED_FRAUD".into(), value: "x".into() },
            },
            url: None,
        };
        outbox.enqueue("https://127.0.0.1:1/x".into(), notification);
        assert!(outbox.wait_idle(Duration::from_secs(1)).await);
        assert_eq!(outbox.counts(), OutboxCounts { dropped: 1, ..Default::default() });
    }

    fn party() -> super::super::Party {
        super::super::Party {
            name: "x".into(),
            kind: "DATA_PROVIDER".into(),
            home_uri: None,
            logo_uri: None,
            registry: None,
            registered_entity_name: None,
            registered_entity_id: None,
        }
    }
}
