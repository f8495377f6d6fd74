//! The webhook delivery worker: one tokio task pushing each pending delivery to its subscription's `callbackUrl`
//! as an RFC 8417 SET ([`super::set`]) by RFC 8935 push (`POST`, `Content-Type: application/secevent+jwt`).
//!
//! Rules:
//! - Order: per subscription strictly in `seq` order: the head must be delivered, dead or cancelled before the
//!   next one is tried. Different subscriptions run concurrently, at most [`MAX_IN_FLIGHT`] attempts at once.
//! - Outcome of an attempt (RFC 8935 §2.2-2.4): any 2xx is delivered. 408, 429, 5xx, a timeout
//!   ([`DeliveryPolicy::attempt_timeout`]) or a connection failure is retried. Decision: any other status (3xx,
//!   other 4xx) is dead at once: RFC 8935 §2.3 says a receiver answers 400 when it refuses the SET itself, which
//!   sending the same SET again cannot change, and redirects are not followed (the registered URL is the
//!   contract). After [`DeliveryPolicy::max_attempts`] attempts the delivery is dead: the app reads it on the
//!   subscription's dead-letter list.
//! - Backoff: exponential with full jitter: before attempt n+1 the worker waits a uniform random time in
//!   `[0, min(max_backoff, base_backoff * 2^(n-1))]`.
//! - Consent: before EVERY attempt, under the consent's [`crate::revocation::RevocationGate`] read side (held
//!   until the attempt ends, so a revocation acknowledged before the attempt began is always seen, and one racing
//!   it waits for at most one attempt timeout), the consent must be active; otherwise the delivery is cancelled.
//!   The one exception is a CONSENT_REVOKED event of a revoked consent (module docs of [`super`]). A revocation
//!   also cancels the consent's pending deliveries in its own store transaction.
//! - Durability: every delivery and its attempts live in the store; at start the worker loads every pending
//!   delivery (in enqueue order) and resumes, honouring the stored `next_attempt_at`. A delivery in flight when
//!   the gateway stops is recorded when its attempt ends ([`DeliveryWorker::stop`] waits for it); if the process
//!   dies first, it is sent again after the restart (at least once: receivers de-duplicate by `jti` =
//!   `notificationId`). Decision: a finished delivery (delivered, dead, cancelled) lets its subscription's next
//!   one go at once and its outcome is written meanwhile (the lane does not wait for a commit, which with a file
//!   store shares the disk flush of the durable writes); a retry's outcome is written before the attempt ends.
//!   So a process that dies may, after its restart, send again a few deliveries that had gone out, in their
//!   order, behind ones recorded after them: the at-least-once rule above, never a loss.
//! - New deliveries: [`DeliveryWake::wake`] after an enqueue; the worker then reads the deliveries enqueued after
//!   the last one it read (a cursor on the store's enqueue order; one batch read, no scan of old rows).
//!
//! Plain `http` reaches only loopback callbacks (the subscription endpoint refuses others); `https` callbacks must
//! present a certificate chaining to the gateway's configured CA ([`WebhookClient::new`]). This module must never
//! send a notification of a consent that is not active (the exception above aside), never follow a redirect, and
//! never log a notification body or a callback's answer body.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::app::AppState;
use crate::config::DeliveryPolicy;
use crate::consent::ConsentStatus;
use crate::store::{AttemptOutcome, DeliveryJob};

use super::set::{SET_CONTENT_TYPE, sign_notification};

/// Most attempts in flight at once (over all subscriptions).
pub const MAX_IN_FLIGHT: usize = 64;
/// Pending deliveries read from the store per batch.
const LOAD_BATCH: u32 = 1000;
/// Wait before reading the store again after it failed.
const RELOAD_AFTER_ERROR: Duration = Duration::from_secs(1);

/// Wakes the worker when deliveries were enqueued (held in [`AppState::deliveries`]).
#[derive(Debug, Default)]
pub struct DeliveryWake {
    notify: Notify,
}

impl DeliveryWake {
    /// Tells the worker new deliveries are in the store (a wake-up while it is busy is kept, never lost).
    pub fn wake(&self) {
        self.notify.notify_one();
    }
}

/// The HTTP client webhooks are sent with.
#[derive(Debug, Clone)]
pub struct WebhookClient {
    http: reqwest::Client,
}

impl WebhookClient {
    /// A client trusting exactly `ca` for `https` callbacks (none: every `https` callback fails as untrusted; plain
    /// `http` to loopback works either way). Redirects are not followed; each attempt is bounded by `timeout`.
    pub fn new(ca: Option<&CertificateDer<'static>>, timeout: Duration) -> anyhow::Result<Self> {
        let tls = match ca {
            Some(ca) => {
                let trusted = certs::client_config(ca, None)?;
                rustls::ClientConfig::clone(&trusted)
            }
            None => {
                let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
                rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()?
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth()
            }
        };
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()?;
        Ok(Self { http })
    }
}

/// The running worker.
#[derive(Debug)]
pub struct DeliveryWorker {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl DeliveryWorker {
    /// Starts the worker for `state` (it loads the store's pending deliveries first).
    pub fn start(state: AppState, client: WebhookClient) -> Self {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(state, client, stopped));
        Self { stop, task }
    }

    /// Stops taking new attempts, waits for the ones in flight (each bounded by its timeout) and records them.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(err) = self.task.await {
            tracing::error!(error = %err, "the delivery worker panicked");
        }
    }
}

/// Where a subscription's queue stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// In the ready list.
    Ready,
    InFlight,
    /// Waiting for its head's next attempt time.
    Waiting,
}

#[derive(Debug)]
struct Queue {
    jobs: VecDeque<DeliveryJob>,
    phase: Phase,
}

/// An attempt's outcome still to be written to the store (a finished delivery's, written off the lane).
type Unrecorded = Option<(i64, AttemptOutcome)>;

/// What an attempt means for its subscription's queue.
#[derive(Debug)]
enum Step {
    /// The head is finished (delivered, dead or cancelled).
    Done,
    /// The head failed and is tried again at this gateway time.
    Retry(OffsetDateTime),
}

/// The worker's in-memory schedule (the store holds the truth; this is rebuilt from it at start).
struct Scheduler {
    state: AppState,
    queues: HashMap<String, Queue>,
    ready: VecDeque<String>,
    timers: BinaryHeap<Reverse<(Instant, u64, String)>>,
    timer_seq: u64,
    cursor: i64,
}

impl Scheduler {
    /// Reads deliveries enqueued after the cursor; `false` when the store failed.
    async fn load(&mut self) -> bool {
        loop {
            let batch = match self.state.store.pending_deliveries_after(self.cursor, LOAD_BATCH).await {
                Ok(batch) => batch,
                Err(err) => {
                    tracing::warn!(error = %err, "delivery worker: pending deliveries unreadable; retrying");
                    return false;
                }
            };
            let full = batch.len() == LOAD_BATCH as usize;
            for job in batch {
                self.cursor = self.cursor.max(job.id);
                self.push(job);
            }
            if !full {
                return true;
            }
        }
    }

    fn push(&mut self, job: DeliveryJob) {
        let sub = job.subscription_id.clone();
        match self.queues.get_mut(&sub) {
            Some(queue) => queue.jobs.push_back(job),
            None => {
                self.queues.insert(sub.clone(), Queue { jobs: VecDeque::from([job]), phase: Phase::Ready });
                self.schedule(sub);
            }
        }
    }

    /// Puts an idle queue's head in the ready list, or on a timer when it is not due yet.
    fn schedule(&mut self, sub: String) {
        let Some(queue) = self.queues.get_mut(&sub) else { return };
        let Some(head) = queue.jobs.front() else {
            self.queues.remove(&sub);
            return;
        };
        let wait = head.next_attempt_at - self.state.now();
        if wait.is_positive() {
            let max = self.state.config.delivery.max_backoff;
            let wait = Duration::try_from(wait).unwrap_or(max).min(max);
            queue.phase = Phase::Waiting;
            self.timer_seq += 1;
            self.timers.push(Reverse((Instant::now() + wait, self.timer_seq, sub)));
        } else {
            queue.phase = Phase::Ready;
            self.ready.push_back(sub);
        }
    }

    fn finished(&mut self, sub: String, step: Step) {
        let Some(queue) = self.queues.get_mut(&sub) else { return };
        match step {
            Step::Done => {
                queue.jobs.pop_front();
            }
            Step::Retry(at) => {
                if let Some(head) = queue.jobs.front_mut() {
                    head.attempts += 1;
                    head.next_attempt_at = at;
                }
            }
        }
        self.schedule(sub);
    }

    fn due_timers(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((at, _, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            if let Some(Reverse((_, _, sub))) = self.timers.pop()
                && let Some(queue) = self.queues.get_mut(&sub)
                && queue.phase == Phase::Waiting
            {
                queue.phase = Phase::Ready;
                self.ready.push_back(sub);
            }
        }
    }

    fn next_timer(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _, _))| *at)
    }
}

async fn run(state: AppState, client: WebhookClient, mut stopped: watch::Receiver<bool>) {
    let mut s = Scheduler {
        state: state.clone(),
        queues: HashMap::new(),
        ready: VecDeque::new(),
        timers: BinaryHeap::new(),
        timer_seq: 0,
        cursor: 0,
    };
    let mut tasks: JoinSet<(String, Step, Unrecorded)> = JoinSet::new();
    let mut records: JoinSet<()> = JoinSet::new();
    let mut reload_at = (!s.load().await).then(|| Instant::now() + RELOAD_AFTER_ERROR);
    loop {
        while tasks.len() < MAX_IN_FLIGHT
            && let Some(sub) = s.ready.pop_front()
        {
            let Some(queue) = s.queues.get_mut(&sub) else { continue };
            let Some(job) = queue.jobs.front().cloned() else { continue };
            queue.phase = Phase::InFlight;
            let (state, http) = (state.clone(), client.http.clone());
            tasks.spawn(async move {
                let (step, unrecorded) = attempt(&state, &http, job).await;
                (sub, step, unrecorded)
            });
        }
        let timer = s.next_timer();
        tokio::select! {
            changed = stopped.changed() => if changed.is_err() || *stopped.borrow() { break },
            () = state.deliveries.notify.notified() => {
                reload_at = (!s.load().await).then(|| Instant::now() + RELOAD_AFTER_ERROR);
            }
            () = sleep_until(reload_at), if reload_at.is_some() => {
                reload_at = (!s.load().await).then(|| Instant::now() + RELOAD_AFTER_ERROR);
            }
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => match joined {
                Ok((sub, step, unrecorded)) => {
                    s.finished(sub, step);
                    if let Some((id, outcome)) = unrecorded {
                        let state = state.clone();
                        records.spawn(async move { record(&state, id, &outcome).await });
                    }
                    while records.try_join_next().is_some() {}
                }
                Err(err) => tracing::error!(error = %err, "a delivery attempt panicked"),
            },
            () = sleep_until(timer), if timer.is_some() => s.due_timers(),
        }
    }
    // Attempts in flight finish (each bounded by its timeout) and are recorded.
    while let Some(joined) = tasks.join_next().await {
        if let Ok((_, _, Some((id, outcome)))) = joined {
            record(&state, id, &outcome).await;
        }
    }
    while records.join_next().await.is_some() {}
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// One attempt of `job` (module docs). A retry's outcome is recorded in the store here; a finished delivery's is
/// returned for the caller to record.
async fn attempt(state: &AppState, http: &reqwest::Client, job: DeliveryJob) -> (Step, Unrecorded) {
    let policy = state.config.delivery;
    let (outcome, step) = match try_once(state, http, &job, &policy).await {
        Sent::Delivered => (AttemptOutcome::Delivered, Step::Done),
        Sent::Cancelled => (AttemptOutcome::Cancelled, Step::Done),
        Sent::Refused(error) => (AttemptOutcome::Dead { error }, Step::Done),
        Sent::Failed(error) if job.attempts + 1 >= policy.max_attempts => (AttemptOutcome::Dead { error }, Step::Done),
        Sent::Failed(error) => {
            let at = state.now() + backoff(&policy, job.attempts + 1);
            (AttemptOutcome::Retry { next_attempt_at: at, error }, Step::Retry(at))
        }
    };
    if let AttemptOutcome::Dead { error } = &outcome {
        tracing::warn!(subscription = %job.subscription_id, attempts = job.attempts + 1, %error, "webhook dead");
    }
    match step {
        Step::Done => (step, Some((job.id, outcome))),
        Step::Retry(_) => {
            record(state, job.id, &outcome).await;
            (step, None)
        }
    }
}

/// Writes an attempt's outcome.
async fn record(state: &AppState, id: i64, outcome: &AttemptOutcome) {
    if let Err(err) = state.store.record_attempt(id, outcome, state.now()).await {
        // The in-memory schedule goes on; after a restart the stored state decides (at least once).
        tracing::warn!(error = %err, "delivery outcome not recorded");
    }
}

enum Sent {
    Delivered,
    Cancelled,
    /// Failed for good.
    Refused(String),
    /// Failed; may be retried.
    Failed(String),
}

async fn try_once(state: &AppState, http: &reqwest::Client, job: &DeliveryJob, policy: &DeliveryPolicy) -> Sent {
    let set = match sign_notification(
        &state.keys,
        &state.issuer,
        &job.client_id,
        &job.notification_id,
        &job.body,
        state.now(),
    ) {
        Ok(set) => set,
        Err(err) => return Sent::Failed(format!("the gateway could not sign the event: {err}")),
    };
    let _gate = state.revocations.read(&job.consent_id).await;
    match may_send(state, job).await {
        Ok(true) => {}
        Ok(false) => return Sent::Cancelled,
        Err(err) => return Sent::Failed(format!("the gateway could not check the consent: {err}")),
    }
    let request = http
        .post(&job.callback_url)
        .header(reqwest::header::CONTENT_TYPE, SET_CONTENT_TYPE)
        .header(reqwest::header::ACCEPT, "application/json")
        .body(set)
        .send();
    match tokio::time::timeout(policy.attempt_timeout, request).await {
        Err(_) => Sent::Failed(format!("no answer within {} ms", policy.attempt_timeout.as_millis())),
        Ok(Err(err)) if err.is_timeout() => {
            Sent::Failed(format!("no answer within {} ms", policy.attempt_timeout.as_millis()))
        }
        Ok(Err(err)) => Sent::Failed(format!("the callback could not be reached: {}", short(&err))),
        Ok(Ok(response)) => {
            let status = response.status();
            if status.is_success() {
                Sent::Delivered
            } else if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
                Sent::Failed(format!("the callback answered HTTP {}", status.as_u16()))
            } else {
                Sent::Refused(format!("the callback answered HTTP {} (not retried)", status.as_u16()))
            }
        }
    }
}

/// Whether the job may go out now: its subscription still exists and its consent is active (or it is the
/// CONSENT_REVOKED news of a revoked consent).
async fn may_send(state: &AppState, job: &DeliveryJob) -> Result<bool, crate::store::StoreError> {
    if state.store.subscription(&job.subscription_id).await?.is_none() {
        return Ok(false);
    }
    let Some(consent) = state.store.consent(&job.consent_id).await? else { return Ok(false) };
    Ok(match consent.status_at(state.now()) {
        ConsentStatus::Authorized => true,
        ConsentStatus::Revoked => job.notification_type == "CONSENT_REVOKED",
        _ => false,
    })
}

/// A transport error with its causes, bounded in length.
fn short(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(300).collect()
}

/// Full-jitter exponential backoff before attempt `made + 1` (`made` >= 1 attempts done).
fn backoff(policy: &DeliveryPolicy, made: u32) -> time::Duration {
    let exp = 2u32.saturating_pow(made.saturating_sub(1));
    let cap = policy.base_backoff.saturating_mul(exp).min(policy.max_backoff);
    let cap_ms = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
    let mut bytes = [0u8; 8];
    // Without randomness the wait is the cap (still bounded, only not jittered).
    let random = getrandom::fill(&mut bytes).map(|()| u64::from_le_bytes(bytes)).unwrap_or(u64::MAX);
    let wait = if cap_ms == u64::MAX { cap_ms } else { random % (cap_ms + 1) };
    time::Duration::milliseconds(i64::try_from(wait).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_jittered_under_a_doubling_cap() {
        let policy = DeliveryPolicy {
            max_attempts: 8,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            attempt_timeout: Duration::from_secs(1),
        };
        for made in 1..12 {
            let cap = (100u64 << (made - 1).min(20)).min(1000);
            for _ in 0..50 {
                let wait = backoff(&policy, made).whole_milliseconds();
                assert!((0..=i128::from(cap)).contains(&wait), "attempt {made}: {wait} ms over {cap}");
            }
        }
    }
}
