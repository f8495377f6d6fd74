//! Bank notifications (FDX v6.2 Event Notifications): who subscribed, what the bank raises, and delivery to them.
//!
//! The gateway subscribes per bank consent (`POST /fdx/v6/notification-subscriptions` with the consent's token;
//! handlers in `api::fdx`). A [`Subscription`] belongs to the bank consent of that token and is persisted in the
//! bank's store (migration 0003), one per (consent, type). The bank raises FDX `Notificationentity` events of four
//! fixed (type, category) pairs ([`NotificationType`]; the wire contract of issue 5):
//!
//! | type | category | payload idType | raised by |
//! |---|---|---|---|
//! | RISK | FRAUD | ACCOUNT | [`detect::risk_alerts`] on injected/raised transactions and on clock moves |
//! | BALANCE | NEW_DATA | ACCOUNT | [`detect::balance_alerts`] (low balance, large deposit), same sources |
//! | CONSENT_REVOKED | CONSENT | CONSENT | the admin API's revocation (the person revoking at the bank) |
//! | PLANNED_OUTAGE | MAINTENANCE | MAINTENANCE | a fault rule's maintenance window; the profile's weekly window |
//!
//! A fault rule with a maintenance window (`PUT /admin/faults`) is announced when it is set; the profile's weekly
//! maintenance window is announced [`OUTAGE_LEAD`] before it starts, when an admin clock move passes that instant
//! ([`weekly_window_due`]; once per window, and only if a PLANNED_OUTAGE subscription exists).
//!
//! Events about an account reach only subscriptions whose consent is active and covers that account; PLANNED_OUTAGE
//! reaches every PLANNED_OUTAGE subscription of the bank; CONSENT_REVOKED only that consent's, after which its
//! subscriptions end. Clock moves examine only accounts some subscription watches, so their cost is bounded by
//! subscriptions, not by customers. Delivery ([`outbox`]) is asynchronous, sent in order per callback URL (several
//! at once, each numbered with its place), persisted for a file-backed bank (a restarted bank delivers what was
//! queued), signed ([`sign`]) with the bank's client certificate key and sent over mutual TLS with that certificate.
//!
//! This module never blocks a handler on delivery, never sends an event about an account outside the
//! subscription's consent, and reads time only from the bank's simulated clock (`sentOn`).

pub mod detect;
pub mod outbox;
pub mod sign;

use crate::faults::FaultRule;
use crate::ledger::model::Transaction;
use crate::login::{AuthServer, BankGrant};
use crate::state::BankState;
use crate::store::BankStore;
use anyhow::Context as _;
use detect::{Alert, Reason, Span};
use outbox::{Outbox, OutboxCounts};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

/// How long before the profile's weekly maintenance window starts the bank announces it (simulated time).
pub const OUTAGE_LEAD: time::Duration = time::Duration::hours(24);

/// The (type, category) pairs bankgate uses (FDX `NotificationType` / `NotificationCategory1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationType {
    Risk,
    Balance,
    ConsentRevoked,
    PlannedOutage,
}

impl NotificationType {
    pub const ALL: [NotificationType; 4] = [Self::Risk, Self::Balance, Self::ConsentRevoked, Self::PlannedOutage];

    /// FDX `NotificationType`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Risk => "RISK",
            Self::Balance => "BALANCE",
            Self::ConsentRevoked => "CONSENT_REVOKED",
            Self::PlannedOutage => "PLANNED_OUTAGE",
        }
    }

    /// FDX `NotificationCategory1` paired with this type.
    pub fn category(self) -> &'static str {
        match self {
            Self::Risk => "FRAUD",
            Self::Balance => "NEW_DATA",
            Self::ConsentRevoked => "CONSENT",
            Self::PlannedOutage => "MAINTENANCE",
        }
    }

    /// The type named `kind`, if `category` is its pair (a human-readable refusal otherwise).
    pub fn from_pair(kind: &str, category: &str) -> Result<Self, String> {
        let pairs = Self::ALL.iter().map(|t| format!("{}/{}", t.name(), t.category())).collect::<Vec<_>>().join(", ");
        let found = Self::ALL.into_iter().find(|t| t.name() == kind).ok_or_else(|| {
            let shown: String = kind.chars().take(40).collect();
            format!("type `{shown}` is not offered by this bank (type/category pairs: {pairs})")
        })?;
        if found.category() != category {
            let shown: String = category.chars().take(40).collect();
            return Err(format!("type {kind} goes with category {}, not `{shown}`", found.category()));
        }
        Ok(found)
    }

    /// Events of this type are about one account (and reach only consents covering it).
    pub fn about_accounts(self) -> bool {
        matches!(self, Self::Risk | Self::Balance)
    }
}

/// FDX `Partyentity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Party {
    pub name: String,
    /// FDX `PartyType`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// FDX `Registry`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_entity_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_entity_id: Option<String>,
}

impl Party {
    /// A party of type `DATA_PROVIDER` (a bank) with only its name.
    pub fn data_provider(name: impl Into<String>) -> Party {
        Party {
            name: name.into(),
            kind: "DATA_PROVIDER".into(),
            home_uri: None,
            logo_uri: None,
            registry: None,
            registered_entity_name: None,
            registered_entity_id: None,
        }
    }
}

/// FDX `PartyType` values.
pub const PARTY_TYPES: [&str; 6] =
    ["DATA_ACCESS_PLATFORM", "DATA_PROVIDER", "DATA_RECIPIENT", "INDIVIDUAL", "MERCHANT", "VENDOR"];
/// FDX `Registry` values.
pub const REGISTRIES: [&str; 4] = ["FDX", "GLEIF", "ICANN", "PRIVATE"];

impl Party {
    /// What is wrong with a subscriber party, if anything.
    pub fn problem(&self) -> Option<String> {
        let text_ok = |s: &str| !s.trim().is_empty() && s.len() <= 256 && !s.chars().any(char::is_control);
        if !text_ok(&self.name) {
            return Some("subscriber.name must be 1-256 printable characters".into());
        }
        if !PARTY_TYPES.contains(&self.kind.as_str()) {
            return Some(format!("subscriber.type must be one of {}", PARTY_TYPES.join(", ")));
        }
        if self.registry.as_deref().is_some_and(|r| !REGISTRIES.contains(&r)) {
            return Some(format!("subscriber.registry must be one of {}", REGISTRIES.join(", ")));
        }
        let optional = [&self.home_uri, &self.logo_uri, &self.registered_entity_name, &self.registered_entity_id];
        if optional.iter().any(|v| v.as_deref().is_some_and(|s| !text_ok(s))) {
            return Some("subscriber members are limited to 256 printable characters".into());
        }
        None
    }
}

/// FDX `FIAttributeentity` (`customFields` is one of them in 6.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomField {
    pub name: String,
    pub value: String,
}

/// FDX `NotificationPayloadentity2`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationPayload {
    pub id: String,
    /// FDX `NotificationPayloadIdType2`: `ACCOUNT`, `CONSENT` or `MAINTENANCE` here.
    pub id_type: &'static str,
    pub custom_fields: CustomField,
}

/// FDX `HATEOASLink` to the data an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotificationLink {
    pub href: String,
    pub action: &'static str,
    pub rel: &'static str,
    pub types: [&'static str; 1],
}

/// FDX `Notificationentity`: the JWS payload the bank delivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub notification_id: String,
    #[serde(rename = "type")]
    pub kind: NotificationType,
    /// RFC 3339 UTC, the bank's simulated clock.
    pub sent_on: String,
    pub category: &'static str,
    /// FDX `NotificationSeverity2`.
    pub severity: &'static str,
    /// FDX `NotificationPriority2`.
    pub priority: &'static str,
    pub publisher: Party,
    pub subscriber: Party,
    pub notification_payload: NotificationPayload,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<NotificationLink>,
}

/// One subscription of one bank consent to one notification type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub subscription_id: String,
    pub consent_id: String,
    pub client_id: String,
    pub customer_index: u32,
    /// The consent's accounts (fixed when the person consented).
    pub account_ids: Vec<String>,
    pub kind: NotificationType,
    pub callback_url: String,
    pub subscriber: Party,
    /// FDX date (`YYYY-MM-DD`, simulated) the subscription took effect.
    pub effective_date: String,
}

/// FDX `NotificationSubscriptionentity` as the bank answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionEntity<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub category: &'static str,
    pub callback_url: &'a str,
    pub subscriber: &'a Party,
    pub effective_date: &'a str,
    pub subscription_id: &'a str,
}

impl Subscription {
    pub fn entity(&self) -> SubscriptionEntity<'_> {
        SubscriptionEntity {
            kind: self.kind.name(),
            category: self.kind.category(),
            callback_url: &self.callback_url,
            subscriber: &self.subscriber,
            effective_date: &self.effective_date,
            subscription_id: &self.subscription_id,
        }
    }
}

/// What the event is about (the payload's `id` and `idType`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Account(String),
    Consent(String),
    Maintenance(String),
}

/// An event before it is addressed to subscribers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: NotificationType,
    pub subject: Subject,
    /// `customFields.name`.
    pub reason: String,
    /// `customFields.value`.
    pub detail: String,
    pub severity: &'static str,
    pub priority: &'static str,
    pub url: Option<NotificationLink>,
}

/// Everything the notifier needs to know about its bank.
#[derive(Debug, Clone)]
pub struct NotifierConfig {
    pub bank_name: String,
    /// Base URL of the bank's FDX API (links in notifications).
    pub api_base: String,
    /// The bank's TLS client certificate (`bank-{id}`): presented to callback URLs and signing the bodies. `None`:
    /// the bank accepts subscriptions but cannot deliver (events are dropped with a warning).
    pub client_identity: Option<Arc<certs::Identity>>,
    /// The CA callback servers must chain to.
    pub ca: Option<rustls_pki_types::CertificateDer<'static>>,
}

#[derive(Debug, Default)]
struct SubscriptionBook {
    by_id: HashMap<String, Arc<Subscription>>,
    /// Account id -> ids of the RISK/BALANCE subscriptions whose consent covers it.
    by_account: HashMap<String, Vec<String>>,
    /// Consent id -> its subscriptions (at most one per type): a consent's lookups never scan the whole book, which
    /// grows by one subscription per consent flow (a scan per subscribe made consent flows slow down as they ran).
    by_consent: HashMap<String, Vec<Arc<Subscription>>>,
}

impl SubscriptionBook {
    fn insert(&mut self, sub: Arc<Subscription>) {
        self.remove(&sub.subscription_id);
        if sub.kind.about_accounts() {
            for account in &sub.account_ids {
                self.by_account.entry(account.clone()).or_default().push(sub.subscription_id.clone());
            }
        }
        self.by_consent.entry(sub.consent_id.clone()).or_default().push(sub.clone());
        self.by_id.insert(sub.subscription_id.clone(), sub);
    }

    fn remove(&mut self, id: &str) -> Option<Arc<Subscription>> {
        let sub = self.by_id.remove(id)?;
        for account in &sub.account_ids {
            if let Some(ids) = self.by_account.get_mut(account) {
                ids.retain(|i| i != id);
                if ids.is_empty() {
                    self.by_account.remove(account);
                }
            }
        }
        if let Some(subs) = self.by_consent.get_mut(&sub.consent_id) {
            subs.retain(|s| s.subscription_id != id);
            if subs.is_empty() {
                self.by_consent.remove(&sub.consent_id);
            }
        }
        Some(sub)
    }

    /// The subscriptions of consent `consent_id`.
    fn of_consent(&self, consent_id: &str) -> &[Arc<Subscription>] {
        self.by_consent.get(consent_id).map_or(&[], Vec::as_slice)
    }
}

/// Locks over the subscription writes, each for the consents whose id hashes to it ([`Notifier::subscribe`]).
const WRITE_SHARDS: usize = 64;

/// The bank's subscriptions and outbox.
#[derive(Debug)]
pub struct Notifier {
    publisher: Party,
    api_base: String,
    store: BankStore,
    book: RwLock<SubscriptionBook>,
    /// Serializes the subscription writes of one consent (one subscription per consent and type, checked then
    /// written), in [`WRITE_SHARDS`] locks by consent: writes of different consents run side by side, so their
    /// commits share the store's group commit instead of waiting for each other's flush.
    writes: Vec<tokio::sync::Mutex<()>>,
    /// Maintenance windows already announced (`from/until`), so re-sending the same rules announces nothing new.
    announced: Mutex<HashSet<String>>,
    outbox: Arc<Outbox>,
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // Only whole inserts and removals happen under these locks: a poisoned one still holds consistent data.
    lock.read().unwrap_or_else(|p| p.into_inner())
}
fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

/// A random RFC 4122 version-4 UUID, `8-4-4-4-12` lowercase hex.
pub fn new_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC).format(&Rfc3339).unwrap_or_default()
}

fn fdx_date(date: Date) -> String {
    crate::api::wire::fdx_date(date)
}

impl Notifier {
    /// Load the persisted subscriptions and set up delivery.
    pub async fn open(store: BankStore, config: NotifierConfig) -> anyhow::Result<Notifier> {
        let mut book = SubscriptionBook::default();
        for body in store.subscriptions().await? {
            let sub: Subscription = serde_json::from_str(&body).context("a stored notification subscription")?;
            book.insert(Arc::new(sub));
        }
        let transport = match (&config.client_identity, &config.ca) {
            (Some(identity), Some(ca)) => Some(outbox::Transport::new(identity, ca)?),
            _ => None,
        };
        let outbox = Outbox::open(transport, outbox::RetryPolicy::default(), store.clone())
            .await
            .context("opening the notification outbox")?;
        Ok(Notifier {
            publisher: Party::data_provider(config.bank_name),
            api_base: config.api_base.trim_end_matches('/').to_owned(),
            store,
            book: RwLock::new(book),
            writes: (0..WRITE_SHARDS).map(|_| tokio::sync::Mutex::new(())).collect(),
            announced: Mutex::new(HashSet::new()),
            outbox,
        })
    }

    /// Subscribe the consent of `grant` to `kind` at `callback_url`, or (one per consent and type) update the
    /// existing subscription's callback URL and subscriber. Persisted before it answers.
    pub async fn subscribe(
        &self,
        grant: &BankGrant,
        kind: NotificationType,
        callback_url: String,
        subscriber: Party,
        today: Date,
    ) -> anyhow::Result<Arc<Subscription>> {
        let _guard = self.writes_of(&grant.consent_id).lock().await;
        let existing = read(&self.book).of_consent(&grant.consent_id).iter().find(|s| s.kind == kind).cloned();
        let sub = Subscription {
            subscription_id: existing.as_ref().map_or_else(new_uuid, |s| s.subscription_id.clone()),
            consent_id: grant.consent_id.clone(),
            client_id: grant.client_id.clone(),
            customer_index: grant.customer_index,
            account_ids: grant.account_ids.clone(),
            kind,
            callback_url,
            subscriber,
            effective_date: existing.as_ref().map_or_else(|| fdx_date(today), |s| s.effective_date.clone()),
        };
        let body = serde_json::to_string(&sub)?;
        self.store.upsert_subscription(&sub.subscription_id, &sub.consent_id, kind.name(), &body).await?;
        let sub = Arc::new(sub);
        write(&self.book).insert(sub.clone());
        Ok(sub)
    }

    /// A subscription by id.
    pub fn subscription(&self, id: &str) -> Option<Arc<Subscription>> {
        read(&self.book).by_id.get(id).cloned()
    }

    /// Every subscription (QA view), sorted by consent then type.
    pub fn subscriptions(&self) -> Vec<Arc<Subscription>> {
        let mut all: Vec<_> = read(&self.book).by_id.values().cloned().collect();
        all.sort_by(|a, b| (&a.consent_id, a.kind.name()).cmp(&(&b.consent_id, b.kind.name())));
        all
    }

    /// The lock of consent `consent_id`'s subscription writes.
    fn writes_of(&self, consent_id: &str) -> &tokio::sync::Mutex<()> {
        let hash = consent_id.bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(usize::from(b)));
        &self.writes[hash % self.writes.len()]
    }

    /// End one subscription. `false` when there was none.
    pub async fn unsubscribe(&self, id: &str) -> anyhow::Result<bool> {
        let Some(sub) = self.subscription(id) else { return Ok(false) };
        let _guard = self.writes_of(&sub.consent_id).lock().await;
        // Another write of the same consent may have ended it while this one waited.
        if self.subscription(id).is_none() {
            return Ok(false);
        }
        self.store.delete_subscriptions(&[id.to_owned()]).await?;
        Ok(write(&self.book).remove(id).is_some())
    }

    /// End every subscription of a consent. Returns how many ended.
    pub async fn end_consent(&self, consent_id: &str) -> anyhow::Result<usize> {
        let _guard = self.writes_of(consent_id).lock().await;
        let ids: Vec<String> =
            read(&self.book).of_consent(consent_id).iter().map(|s| s.subscription_id.clone()).collect();
        if ids.is_empty() {
            return Ok(0);
        }
        self.store.delete_subscriptions(&ids).await?;
        let mut book = write(&self.book);
        Ok(ids.iter().filter(|id| book.remove(id).is_some()).count())
    }

    /// Accounts that some RISK or BALANCE subscription watches (whatever the state of its consent).
    pub fn watched_accounts(&self) -> Vec<String> {
        let mut accounts: Vec<String> = read(&self.book).by_account.keys().cloned().collect();
        accounts.sort();
        accounts
    }

    /// Whether any subscription of type `kind` exists (whatever the state of its consent).
    pub fn has_subscriptions(&self, kind: NotificationType) -> bool {
        read(&self.book).by_id.values().any(|s| s.kind == kind)
    }

    /// Whether any subscription watches `account_id`.
    pub fn watches(&self, account_id: &str) -> bool {
        read(&self.book).by_account.contains_key(account_id)
    }

    /// The delivery queue.
    pub fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }

    /// Delivery counters.
    pub fn counts(&self) -> OutboxCounts {
        self.outbox.counts()
    }

    /// Wait until nothing is queued or in flight, at most `timeout`. Returns whether the outbox is idle.
    pub async fn wait_idle(&self, timeout: std::time::Duration) -> bool {
        self.outbox.wait_idle(timeout).await
    }

    /// Stop delivering (bank shutdown): queued notifications are dropped.
    pub fn close(&self) {
        self.outbox.close();
    }

    /// Address `event` to the subscriptions it concerns and queue one notification per subscription. Returns the
    /// notification ids. `now` is the simulated instant (`sentOn`, consent activity).
    pub fn publish(&self, auth: &AuthServer, event: &Event, now: OffsetDateTime) -> Vec<String> {
        let targets: Vec<Arc<Subscription>> = {
            let book = read(&self.book);
            let active = |s: &Subscription| auth.consent(&s.consent_id).is_some_and(|c| c.is_active(now));
            match &event.subject {
                Subject::Account(account) => book
                    .by_account
                    .get(account)
                    .into_iter()
                    .flatten()
                    .filter_map(|id| book.by_id.get(id))
                    .filter(|s| s.kind == event.kind && active(s))
                    .cloned()
                    .collect(),
                // The consent is revoked by now: its own CONSENT_REVOKED subscriptions hear about it.
                Subject::Consent(consent) => {
                    book.of_consent(consent).iter().filter(|s| s.kind == event.kind).cloned().collect()
                }
                Subject::Maintenance(_) => {
                    book.by_id.values().filter(|s| s.kind == event.kind && active(s)).cloned().collect()
                }
            }
        };
        let sent_on = rfc3339(now);
        let (id, id_type) = match &event.subject {
            Subject::Account(id) => (id, "ACCOUNT"),
            Subject::Consent(id) => (id, "CONSENT"),
            Subject::Maintenance(id) => (id, "MAINTENANCE"),
        };
        let mut ids = Vec::with_capacity(targets.len());
        for sub in targets {
            let notification = Notification {
                notification_id: new_uuid(),
                kind: event.kind,
                sent_on: sent_on.clone(),
                category: event.kind.category(),
                severity: event.severity,
                priority: event.priority,
                publisher: self.publisher.clone(),
                subscriber: sub.subscriber.clone(),
                notification_payload: NotificationPayload {
                    id: id.clone(),
                    id_type,
                    custom_fields: CustomField { name: event.reason.clone(), value: event.detail.clone() },
                },
                url: event.url.clone(),
            };
            ids.push(notification.notification_id.clone());
            tracing::debug!(
                notification_id = %notification.notification_id,
                kind = event.kind.name(),
                reason = %event.reason,
                subscription = %sub.subscription_id,
                "notification queued"
            );
            self.outbox.enqueue(sub.callback_url.clone(), notification);
        }
        ids
    }

    /// The event for a detected alert (links point at the bank's FDX path of the data it is about).
    pub fn alert_event(&self, alert: &Alert) -> Event {
        let account = &alert.account_id;
        if alert.reason.is_risk() {
            let day = fdx_date(alert.at.to_offset(time::UtcOffset::UTC).date());
            Event {
                kind: NotificationType::Risk,
                subject: Subject::Account(account.clone()),
                reason: alert.reason.code().to_owned(),
                detail: alert.detail.clone(),
                severity: "ALERT",
                priority: "HIGH",
                url: Some(self.link(
                    format!("/fdx/v6/accounts/{account}/transactions?startTime={day}&endTime={day}"),
                    "transactions",
                )),
            }
        } else {
            let severity = if alert.reason == Reason::LowBalance { "WARNING" } else { "NOTICE" };
            Event {
                kind: NotificationType::Balance,
                subject: Subject::Account(account.clone()),
                reason: alert.reason.code().to_owned(),
                detail: alert.detail.clone(),
                severity,
                priority: "MEDIUM",
                url: Some(self.link(format!("/fdx/v6/accounts/{account}"), "account")),
            }
        }
    }

    fn link(&self, path: String, rel: &'static str) -> NotificationLink {
        NotificationLink { href: format!("{}{path}", self.api_base), action: "GET", rel, types: ["application/json"] }
    }

    /// The PLANNED_OUTAGE event of a maintenance window; with `once`, `None` if that window was announced already.
    fn maintenance_event(&self, from: OffsetDateTime, until: OffsetDateTime, once: bool) -> Option<Event> {
        let window = format!("{}/{}", rfc3339(from), rfc3339(until));
        let fresh = self.announced.lock().unwrap_or_else(|p| p.into_inner()).insert(window.clone());
        if once && !fresh {
            return None;
        }
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(window.as_bytes());
        Some(Event {
            kind: NotificationType::PlannedOutage,
            subject: Subject::Maintenance(format!("mw-{}", hex::encode(&digest[..8]))),
            reason: "MAINTENANCE_WINDOW".into(),
            detail: window,
            severity: "INFO",
            priority: "LOW",
            url: None,
        })
    }
}

/// Publish each alert. Returns the notification ids.
fn publish_alerts(state: &BankState, alerts: &[Alert]) -> Vec<String> {
    let now = state.clock.now();
    alerts
        .iter()
        .flat_map(|alert| {
            let event = state.notifier.alert_event(alert);
            state.notifier.publish(&state.auth, &event, now)
        })
        .collect()
}

/// Run the detectors over `span` for one account and publish what they find. Returns the notification ids.
fn detect_and_publish(state: &BankState, account_id: &str, span: Span) -> Vec<String> {
    let Some(account) = state.books.account(account_id) else { return Vec::new() };
    let home = account.books.customer.address.region.clone();
    let ledger = account.ledger();
    let mut alerts = detect::risk_alerts(ledger, &home, span);
    alerts.extend(detect::balance_alerts(ledger, span));
    alerts.sort_by_key(|a| a.at);
    publish_alerts(state, &alerts)
}

/// A transaction was injected (or fraud raised) through the admin API: run the detectors on it alone.
pub fn on_injected(state: &BankState, transaction: &Transaction) -> Vec<String> {
    if !state.notifier.watches(&transaction.account_id) {
        return Vec::new();
    }
    let Some(account) = state.books.account(&transaction.account_id) else { return Vec::new() };
    let home = account.books.customer.address.region.clone();
    let alerts = detect::injection_alerts(account.ledger(), &home, &transaction.transaction_id, state.clock.now());
    publish_alerts(state, &alerts)
}

/// The clock moved from `before` to `after`: announce the profile's weekly maintenance window if its announcement
/// fell due ([`weekly_window_due`]; only when some PLANNED_OUTAGE subscription exists), then run the detectors over
/// the new transactions of every watched account.
pub fn on_clock_moved(state: &BankState, before: OffsetDateTime, after: OffsetDateTime) -> Vec<String> {
    if after <= before {
        return Vec::new();
    }
    let mut ids = Vec::new();
    if state.notifier.has_subscriptions(NotificationType::PlannedOutage)
        && let Some((from, until)) = weekly_window_due(&state.profile.quirks.maintenance, before, after)
        && let Some(event) = state.notifier.maintenance_event(from, until, true)
    {
        ids.extend(state.notifier.publish(&state.auth, &event, state.clock.now()));
    }
    let span = Span { after: before, until: after };
    ids.extend(state.notifier.watched_accounts().iter().flat_map(|account| detect_and_publish(state, account, span)));
    ids
}

/// The weekly maintenance window (`start`, `end`) whose announcement instant, [`OUTAGE_LEAD`] before its start, the
/// clock passed when it moved over `(before, after]`, unless that window has already ended at `after`. At most one
/// window qualifies (a window lasts at most a day, the lead is a day, windows are a week apart), so a clock moved
/// by years announces only what still lies ahead, once: the work is bounded whatever the move.
pub fn weekly_window_due(
    window: &crate::profile::MaintenanceWindow,
    before: OffsetDateTime,
    after: OffsetDateTime,
) -> Option<(OffsetDateTime, OffsetDateTime)> {
    let start = window.latest_start_at_or_before(after + OUTAGE_LEAD);
    let end = start + window.length();
    (start - OUTAGE_LEAD > before && end > after).then_some((start, end))
}

/// The person revoked `consent_id` at the bank: CONSENT_REVOKED to that consent's subscriptions, then they end.
pub async fn on_consent_revoked(state: &BankState, consent_id: &str) -> anyhow::Result<Vec<String>> {
    let event = Event {
        kind: NotificationType::ConsentRevoked,
        subject: Subject::Consent(consent_id.to_owned()),
        reason: "INITIATOR".into(),
        detail: "INDIVIDUAL".into(),
        severity: "WARNING",
        priority: "HIGH",
        url: None,
    };
    let ids = state.notifier.publish(&state.auth, &event, state.clock.now());
    state.notifier.end_consent(consent_id).await?;
    Ok(ids)
}

/// New fault rules: announce each maintenance window that has not ended yet (once per window).
pub fn on_faults_set(state: &BankState, rules: &[FaultRule]) -> Vec<String> {
    let now = state.clock.now();
    let mut ids = Vec::new();
    for rule in rules {
        let Some(until) = rule.maintenance_until.filter(|until| *until > now) else { continue };
        let from = rule.maintenance_from.unwrap_or(now).max(now);
        if let Some(event) = state.notifier.maintenance_event(from, until, true) {
            ids.extend(state.notifier.publish(&state.auth, &event, now));
        }
    }
    ids
}

/// A notification published on request through the admin API (QA, scenarios, benchmarks): no transaction, the
/// same addressing and delivery.
pub fn publish_manual(
    state: &BankState,
    kind: NotificationType,
    account_id: Option<&str>,
    reason: Option<String>,
    detail: Option<String>,
    window: Option<(OffsetDateTime, OffsetDateTime)>,
) -> Result<Vec<String>, String> {
    let now = state.clock.now();
    match kind {
        NotificationType::Risk | NotificationType::Balance => {
            let account = account_id.ok_or("accountId is required for RISK and BALANCE")?;
            let shape = match (kind, reason.as_deref()) {
                (NotificationType::Risk, _) => Reason::SuspectedFraud,
                (_, Some("LARGE_DEPOSIT")) => Reason::LargeDeposit,
                _ => Reason::LowBalance,
            };
            let reason_code = reason.unwrap_or_else(|| shape.code().to_owned());
            let alert = Alert {
                reason: shape,
                account_id: account.to_owned(),
                at: now,
                transaction_id: None,
                detail: String::new(),
            };
            let mut event = state.notifier.alert_event(&alert);
            event.reason = reason_code;
            event.detail = detail.unwrap_or_else(|| "published through the admin API".into());
            Ok(state.notifier.publish(&state.auth, &event, now))
        }
        NotificationType::PlannedOutage => {
            let (from, until) = window.unwrap_or((now, now + time::Duration::hours(1)));
            if until <= from {
                return Err("maintenanceUntil must be after maintenanceFrom".into());
            }
            let event = state.notifier.maintenance_event(from, until, false);
            Ok(event.map(|e| state.notifier.publish(&state.auth, &e, now)).unwrap_or_default())
        }
        NotificationType::ConsentRevoked => {
            Err("CONSENT_REVOKED is published by revoking: POST /admin/consents/{consentId}/revoke".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{MaintenanceWindow, WeekdayName};
    use time::macros::datetime;

    fn subscription(id: &str, consent: &str, kind: NotificationType, accounts: &[&str]) -> Arc<Subscription> {
        Arc::new(Subscription {
            subscription_id: id.into(),
            consent_id: consent.into(),
            client_id: "app".into(),
            customer_index: 7,
            account_ids: accounts.iter().map(|a| (*a).to_owned()).collect(),
            kind,
            callback_url: "https://gateway.example/cb".into(),
            subscriber: Party::data_provider("gateway"),
            effective_date: "2026-11-29".into(),
        })
    }

    #[test]
    fn the_book_finds_a_consents_subscriptions_by_its_index_through_replacements_and_removals() {
        let mut book = SubscriptionBook::default();
        book.insert(subscription("s1", "c1", NotificationType::ConsentRevoked, &[]));
        book.insert(subscription("s2", "c1", NotificationType::Risk, &["a1"]));
        book.insert(subscription("s3", "c2", NotificationType::ConsentRevoked, &[]));
        let ids = |book: &SubscriptionBook, consent| {
            let mut ids: Vec<_> = book.of_consent(consent).iter().map(|s| s.subscription_id.clone()).collect();
            ids.sort();
            ids
        };
        assert_eq!(ids(&book, "c1"), ["s1", "s2"]);
        assert_eq!(ids(&book, "c2"), ["s3"]);
        // Replacing a subscription (same id) keeps one entry; a removal leaves no trace of an emptied consent.
        book.insert(subscription("s2", "c1", NotificationType::Risk, &["a1", "a2"]));
        assert_eq!(ids(&book, "c1"), ["s1", "s2"]);
        assert_eq!(book.of_consent("c1").iter().find(|s| s.subscription_id == "s2").unwrap().account_ids.len(), 2);
        assert!(book.remove("s3").is_some());
        assert!(book.of_consent("c2").is_empty());
        assert!(!book.by_consent.contains_key("c2"));
        assert!(book.remove("s1").is_some() && book.remove("s2").is_some());
        assert!(book.by_consent.is_empty() && book.by_account.is_empty() && book.by_id.is_empty());
    }

    #[test]
    fn a_weekly_window_is_due_once_when_the_clock_passes_a_day_before_it() {
        // Sunday 02:00-04:00 UTC; 2026-11-29 is a Sunday.
        let w = MaintenanceWindow { weekday: WeekdayName::Sunday, start_hour: 2, hours: 2 };
        let (start, end) = (datetime!(2026-11-29 02:00 UTC), datetime!(2026-11-29 04:00 UTC));
        let due = |before, after| weekly_window_due(&w, before, after);
        assert_eq!(due(datetime!(2026-11-27 12:00 UTC), datetime!(2026-11-28 01:59 UTC)), None, "not yet");
        assert_eq!(due(datetime!(2026-11-28 01:59 UTC), datetime!(2026-11-28 02:00 UTC)), Some((start, end)));
        assert_eq!(due(datetime!(2026-11-28 02:00 UTC), datetime!(2026-11-29 03:00 UTC)), None, "announced before");
        // A move from before the announcement into the window still announces it; past its end, nothing.
        assert_eq!(due(datetime!(2026-11-27 00:00 UTC), datetime!(2026-11-29 03:59 UTC)), Some((start, end)));
        assert_eq!(due(datetime!(2026-11-27 00:00 UTC), datetime!(2026-11-29 04:00 UTC)), None);
        // Years at once: only the window still ahead, if its announcement fell in the move.
        let far = datetime!(2030-01-05 03:00 UTC); // a Saturday, 23 h before Sunday 02:00
        let next = (datetime!(2030-01-06 02:00 UTC), datetime!(2030-01-06 04:00 UTC));
        assert_eq!(due(datetime!(2026-11-27 00:00 UTC), far), Some(next));
        assert_eq!(due(datetime!(2026-11-27 00:00 UTC), datetime!(2030-01-04 03:00 UTC)), None);
    }
}
