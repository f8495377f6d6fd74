//! The bank's notification outbox: one lane per callback URL, delivered in order, retried with backoff, and for a
//! file-backed bank persisted until each notification leaves it.
//!
//! [`Outbox::enqueue`] serializes the notification and appends it to the lane of its callback URL (no I/O, no
//! signing; a file-backed bank hands it to the persister task first, see below), and starts that lane's worker task
//! when none runs. The worker sends the lane's notifications in queueing order, up to [`LANE_WINDOW`] of them in
//! flight at once (a strictly serial lane tops out at one request round trip per notification, under 1,000/s on the
//! 2-core reference machine); each signed ([`super::sign`]) and `POST`ed over mutual TLS with the bank's client
//! certificate: `content-type: application/jose`, a fresh `x-fapi-interaction-id`, and its place in the lane:
//! `x-bankgate-lane` (a random id of this run of the lane's worker) and `x-bankgate-sequence` (1, 2, 3, ... in
//! queueing order), so a receiver can keep the bank's order although requests overlap (the gateway does:
//! `gateway::events::sequence`). A worker ends only when its lane is empty and nothing of it is in flight, so a new
//! lane id never overlaps an old one. Answers:
//! - 2xx: delivered;
//! - 408, 429, 5xx, connection failures and timeouts: retried, at most [`RetryPolicy::max_attempts`] attempts in
//!   all, waiting `base * 2^(n-1)` plus up to half of that again as random jitter before attempt `n + 1`; then the
//!   notification is dropped with a warning;
//! - any other 4xx: the receiver refused it; not retried (rejected, with a warning).
//!
//! At most [`MAX_CONCURRENT_DELIVERIES`] requests are in flight across lanes. When the bank has no client certificate
//! every notification is dropped at once with a warning.
//!
//! Durability ([`Outbox::open`], file-backed banks only; an in-memory bank keeps its outbox in memory): one persister
//! task writes what is queued to the bank's store (`notification_outbox`, migration 0004), everything waiting in one
//! transaction, before it enters its lane (so the order per URL is the queueing order); a row is deleted when its
//! notification leaves the outbox (delivered, refused, given up). A bank that stops keeps what is queued or between
//! attempts, and a restarted bank delivers it first, in order, with a fresh attempt budget: at least once (the
//! gateway de-duplicates by `notificationId`). A notification queued in the very last instant before the process
//! exits may be lost.
//!
//! [`Outbox::counts`] and [`Outbox::wait_idle`] let tests and QA see and wait for the queue. Nothing here logs a
//! notification body or a key.

use super::Notification;
use super::sign::JwsSigner;
use crate::store::BankStore;
use sqlx::Row as _;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore, mpsc};

/// Requests in flight at once, all callback URLs together.
pub const MAX_CONCURRENT_DELIVERIES: usize = 64;
/// Notifications of one lane (callback URL) in flight at once, retries included.
pub const LANE_WINDOW: usize = 16;
/// Header naming the run of a lane's worker (module docs).
pub const LANE_HEADER: &str = "x-bankgate-lane";
/// Header with a notification's 1-based place in its lane (module docs).
pub const SEQUENCE_HEADER: &str = "x-bankgate-sequence";

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

/// One notification waiting in a lane: its id and the JSON that will be signed.
#[derive(Debug, Clone)]
struct Queued {
    notification_id: String,
    payload: Vec<u8>,
}

/// Most rows the persister writes in one transaction.
const PERSIST_BATCH: usize = 512;

/// Work for the persister task, in the order it must happen.
#[derive(Debug)]
enum Persist {
    /// Keep a newly queued notification, then let it into the lane of its callback URL.
    Save(String, Queued),
    /// The notification left the outbox (delivered, refused, given up): forget its row.
    Forget(String),
}

/// One callback URL's waiting notifications, and the bell its worker listens to.
#[derive(Debug, Default)]
struct Lane {
    waiting: VecDeque<Queued>,
    pushed: Arc<Notify>,
}

/// A notification's place in its lane, sent as [`LANE_HEADER`] and [`SEQUENCE_HEADER`].
#[derive(Debug, Clone)]
struct Place {
    lane: Arc<str>,
    sequence: u64,
}

/// The queue of notifications waiting for delivery.
#[derive(Debug)]
pub struct Outbox {
    /// Callback URL -> its lane. A URL is present exactly while its worker runs.
    lanes: Mutex<HashMap<String, Lane>>,
    /// A file-backed bank's store, where queued notifications are kept until they leave the outbox.
    store: Option<BankStore>,
    /// To the persister task (file-backed banks only).
    persist: Option<mpsc::UnboundedSender<Persist>>,
    /// Persister work sent and not yet written (part of being idle: the store is up to date).
    unwritten: AtomicU64,
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
    /// Given up after the last attempt, or never sendable.
    Dropped,
    /// The bank is stopping: the notification stays in the store for the next start.
    Stopped,
}

/// Whether `store` is a file (not a private in-memory database).
async fn is_file_backed(store: &BankStore) -> anyhow::Result<bool> {
    let file: Option<String> = sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
        .fetch_optional(store.pool())
        .await?;
    Ok(file.is_some_and(|f| !f.is_empty()))
}

impl Outbox {
    /// An outbox kept in memory only.
    pub fn new(transport: Option<Transport>, policy: RetryPolicy) -> Self {
        Self::with_store(transport, policy, None, None)
    }

    fn with_store(
        transport: Option<Transport>,
        policy: RetryPolicy,
        store: Option<BankStore>,
        persist: Option<mpsc::UnboundedSender<Persist>>,
    ) -> Self {
        Self {
            lanes: Mutex::new(HashMap::new()),
            store,
            persist,
            unwritten: AtomicU64::new(0),
            counters: Counters::default(),
            changed: Notify::new(),
            transport,
            policy,
            permits: Semaphore::new(MAX_CONCURRENT_DELIVERIES),
            closed: AtomicBool::new(false),
            stop: Notify::new(),
        }
    }

    /// The outbox of a bank on `store`: persisted when the store is a file (module docs), and then first delivering
    /// what a previous run left queued, in its order. Must run inside a tokio runtime (it starts tasks).
    pub async fn open(
        transport: Option<Transport>,
        policy: RetryPolicy,
        store: BankStore,
    ) -> anyhow::Result<Arc<Outbox>> {
        if !is_file_backed(&store).await? {
            return Ok(Arc::new(Self::new(transport, policy)));
        }
        let left = sqlx::query("SELECT notification_id, callback_url, payload FROM notification_outbox ORDER BY seq")
            .fetch_all(store.pool())
            .await?;
        let (sender, receiver) = mpsc::unbounded_channel();
        let outbox = Arc::new(Self::with_store(transport, policy, Some(store.clone()), Some(sender)));
        if !left.is_empty() {
            if outbox.transport.is_none() {
                tracing::warn!(queued = left.len(), "queued notifications kept: the bank has no client certificate");
            } else {
                tracing::info!(queued = left.len(), "delivering the notifications queued before the restart");
                for row in &left {
                    let url: String = row.try_get("callback_url")?;
                    let queued =
                        Queued { notification_id: row.try_get("notification_id")?, payload: row.try_get("payload")? };
                    outbox.counters.queued.fetch_add(1, Ordering::AcqRel);
                    outbox.push(url, queued);
                }
            }
        }
        tokio::spawn(Self::run_persister(store, Arc::downgrade(&outbox), receiver));
        Ok(outbox)
    }

    /// The persister task: writes what was queued and forgets what left, a batch per transaction (one commit for
    /// everything waiting, so a busy outbox does not wait on one disk flush per notification), then lets the saved
    /// notifications into their lanes. Ends when the outbox is gone and everything sent to it is written.
    async fn run_persister(
        store: BankStore,
        outbox: std::sync::Weak<Outbox>,
        mut receiver: mpsc::UnboundedReceiver<Persist>,
    ) {
        let mut batch = Vec::new();
        while receiver.recv_many(&mut batch, PERSIST_BATCH).await > 0 {
            if let Err(error) = write_batch(&store, &batch).await {
                tracing::warn!(%error, count = batch.len(), "the stored outbox was not updated (delivery goes on)");
            }
            let outbox = outbox.upgrade();
            if let Some(outbox) = &outbox {
                outbox.unwritten.fetch_sub(batch.len() as u64, Ordering::AcqRel);
                outbox.changed.notify_waiters();
            }
            for work in batch.drain(..) {
                let (Persist::Save(url, queued), Some(outbox)) = (work, outbox.as_ref()) else { continue };
                if outbox.closed.load(Ordering::Acquire) {
                    // Kept in the store for the next start.
                    outbox.counters.queued.fetch_sub(1, Ordering::AcqRel);
                    outbox.changed.notify_waiters();
                } else {
                    outbox.push(url, queued);
                }
            }
        }
    }

    /// The notification left the outbox for good: forget its row (through the persister, in its order).
    fn forget(&self, notification_id: String) {
        if let Some(persist) = &self.persist {
            self.unwritten.fetch_add(1, Ordering::AcqRel);
            if persist.send(Persist::Forget(notification_id)).is_err() {
                self.unwritten.fetch_sub(1, Ordering::AcqRel);
                tracing::warn!("the outbox persister has stopped: a delivered notification stays in the store");
            }
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
        c.queued == 0 && c.in_flight == 0 && self.unwritten.load(Ordering::Acquire) == 0
    }

    /// Wait until nothing is queued or in flight (and a persisted outbox's store is up to date), at most `timeout`.
    /// Returns whether the outbox is idle.
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

    /// Stop: workers end after their current attempt, and everything still queued leaves the outbox: kept in the
    /// store for the next start when the outbox is persisted, dropped otherwise.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.stop.notify_waiters();
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        let waiting: u64 = lanes.values().map(|lane| lane.waiting.len() as u64).sum();
        for lane in lanes.values_mut() {
            lane.waiting.clear();
        }
        drop(lanes);
        if waiting > 0 {
            self.counters.queued.fetch_sub(waiting, Ordering::AcqRel);
            if self.store.is_some() {
                tracing::info!(kept = waiting, "bank stopping: queued notifications kept for the next start");
            } else {
                tracing::warn!(dropped = waiting, "bank stopping: queued notifications dropped");
                self.counters.dropped.fetch_add(waiting, Ordering::AcqRel);
            }
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
        let payload = match serde_json::to_vec(&notification) {
            Ok(payload) => payload,
            Err(error) => {
                tracing::warn!(notification_id = %notification.notification_id, %error, "cannot serialize a notification: dropped");
                self.counters.dropped.fetch_add(1, Ordering::AcqRel);
                self.changed.notify_waiters();
                return;
            }
        };
        let queued = Queued { notification_id: notification.notification_id, payload };
        self.counters.queued.fetch_add(1, Ordering::AcqRel);
        if let Some(persist) = &self.persist {
            self.unwritten.fetch_add(1, Ordering::AcqRel);
            match persist.send(Persist::Save(callback_url, queued)) {
                Ok(()) => return,
                // The persister ended (it only does when the outbox goes away): deliver from memory.
                Err(mpsc::error::SendError(work)) => {
                    self.unwritten.fetch_sub(1, Ordering::AcqRel);
                    if let Persist::Save(url, queued) = work {
                        self.push(url, queued);
                    }
                    return;
                }
            }
        }
        self.push(callback_url, queued);
    }

    /// Append to the lane of `callback_url`, starting its worker when none runs (`queued` is counted already).
    fn push(self: &Arc<Self>, callback_url: String, queued: Queued) {
        let start = {
            let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
            match lanes.get_mut(&callback_url) {
                Some(lane) => {
                    lane.waiting.push_back(queued);
                    lane.pushed.notify_one();
                    false
                }
                None => {
                    lanes.insert(callback_url.clone(), Lane { waiting: VecDeque::from([queued]), ..Lane::default() });
                    true
                }
            }
        };
        if start {
            let outbox = self.clone();
            tokio::spawn(async move { outbox.run_lane(callback_url).await });
        }
    }

    /// One lane's worker: sends its notifications in order, at most [`LANE_WINDOW`] in flight, until the lane is
    /// empty and nothing of it is in flight.
    async fn run_lane(self: Arc<Self>, url: String) {
        let lane_id: Arc<str> = super::new_uuid().into();
        let window = Arc::new(Semaphore::new(LANE_WINDOW));
        let mut flying = tokio::task::JoinSet::new();
        let mut sequence = 0u64;
        loop {
            while flying.try_join_next().is_some() {}
            // A window slot first: a notification stays queued (and counted so) until it can go.
            let Ok(slot) = window.clone().acquire_owned().await else { return };
            let (next, pushed) = {
                let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
                let Some(lane) = lanes.get_mut(&url) else { return };
                match lane.waiting.pop_front() {
                    Some(notification) => {
                        self.counters.in_flight.fetch_add(1, Ordering::AcqRel);
                        self.counters.queued.fetch_sub(1, Ordering::AcqRel);
                        (Some(notification), lane.pushed.clone())
                    }
                    None if flying.is_empty() => {
                        lanes.remove(&url);
                        drop(lanes);
                        self.changed.notify_waiters();
                        return;
                    }
                    None => (None, lane.pushed.clone()),
                }
            };
            let Some(next) = next else {
                // Empty, with notifications in flight: wait for a new one or for one in flight to end.
                drop(slot);
                tokio::select! {
                    () = pushed.notified() => {}
                    _ = flying.join_next() => {}
                }
                continue;
            };
            sequence += 1;
            let place = Place { lane: lane_id.clone(), sequence };
            let (outbox, url) = (self.clone(), url.clone());
            flying.spawn(async move {
                outbox.send_one(&url, next, &place).await;
                drop(slot);
            });
        }
    }

    /// Delivers one notification of a lane (with retries) and books the outcome.
    async fn send_one(&self, url: &str, next: Queued, place: &Place) {
        let outcome = self.deliver(url, &next, place).await;
        let counter = match outcome {
            Outcome::Delivered => Some(&self.counters.delivered),
            Outcome::Rejected(_) => Some(&self.counters.rejected),
            Outcome::Dropped | Outcome::Retry(_) => Some(&self.counters.dropped),
            // Stopping with a persisted outbox: it stays queued in the store for the next start.
            Outcome::Stopped if self.store.is_some() => None,
            Outcome::Stopped => Some(&self.counters.dropped),
        };
        if let Some(counter) = counter {
            self.forget(next.notification_id);
            counter.fetch_add(1, Ordering::AcqRel);
        }
        self.counters.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.changed.notify_waiters();
    }

    /// Deliver one notification with retries.
    async fn deliver(&self, url: &str, queued: &Queued, place: &Place) -> Outcome {
        let Some(transport) = self.transport.as_ref() else { return Outcome::Dropped };
        let id = &queued.notification_id;
        let jws = match transport.signer.sign(&queued.payload) {
            Ok(jws) => jws,
            Err(error) => {
                tracing::warn!(notification_id = %id, %error, "cannot sign a notification: dropped");
                return Outcome::Dropped;
            }
        };
        for attempt in 1..=self.policy.max_attempts {
            if self.closed.load(Ordering::Acquire) {
                return Outcome::Stopped;
            }
            self.counters.attempts.fetch_add(1, Ordering::AcqRel);
            let outcome = {
                let Ok(_permit) = self.permits.acquire().await else { return Outcome::Stopped };
                self.attempt(transport, url, &jws, place).await
            };
            let why = match outcome {
                Outcome::Delivered => {
                    tracing::debug!(notification_id = %id, attempt, "notification delivered");
                    return Outcome::Delivered;
                }
                Outcome::Rejected(status) => {
                    tracing::warn!(notification_id = %id, status, attempt, "the receiver refused a notification (not retried)");
                    return Outcome::Rejected(status);
                }
                Outcome::Retry(why) => why,
                Outcome::Dropped | Outcome::Stopped => return outcome,
            };
            if attempt == self.policy.max_attempts {
                tracing::warn!(notification_id = %id, attempts = attempt, last = %why, "notification dropped after the last attempt");
                return Outcome::Dropped;
            }
            let wait = self.policy.backoff(attempt, rand::random::<f64>());
            tracing::debug!(notification_id = %id, attempt, last = %why, wait_ms = wait.as_millis() as u64, "notification will be retried");
            let stop = self.stop.notified();
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = stop => return Outcome::Stopped,
            }
        }
        Outcome::Dropped
    }

    async fn attempt(&self, transport: &Transport, url: &str, jws: &str, place: &Place) -> Outcome {
        let sent = transport
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/jose")
            .header("x-fapi-interaction-id", super::new_uuid())
            .header(LANE_HEADER, &*place.lane)
            .header(SEQUENCE_HEADER, place.sequence)
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

/// Applies one batch of the persister's work in one transaction.
async fn write_batch(store: &BankStore, batch: &[Persist]) -> anyhow::Result<()> {
    let mut tx = store.writer().begin().await?;
    for work in batch {
        match work {
            Persist::Save(url, queued) => {
                sqlx::query(
                    "INSERT INTO notification_outbox (notification_id, callback_url, payload) VALUES ($1, $2, $3)
                     ON CONFLICT (notification_id) DO NOTHING",
                )
                .bind(&queued.notification_id)
                .bind(url)
                .bind(&queued.payload)
                .execute(&mut *tx)
                .await?;
            }
            Persist::Forget(id) => {
                sqlx::query("DELETE FROM notification_outbox WHERE notification_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
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
        super::super::Party::data_provider("x")
    }
}
