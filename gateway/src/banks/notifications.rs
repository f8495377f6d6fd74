//! The gateway's FDX notification subscriptions at a bank (issue 5, contract "Subscribing at the bank"): once a
//! consent is authorized and its bank tokens are stored, the gateway subscribes at the consent's bank, with that
//! consent's bank access token over mutual TLS, to the notifications the bank then pushes to
//! `{issuer}/bank-notifications/{bankId}/{consentId}` (FDX 6.2 `POST /notification-subscriptions`,
//! `NotificationSubscriptionentity`).
//!
//! Which topics (the contract's fixed type/category pairs): CONSENT_REVOKED/CONSENT always (the gateway must learn
//! of a revocation at the bank at once, whatever the app asked for); RISK/FRAUD, BALANCE/NEW_DATA and
//! PLANNED_OUTAGE/MAINTENANCE only when the consent includes the NOTIFICATIONS cluster (nothing the app may not
//! receive is asked for). NOTIFICATIONS is the gateway's own cluster: it is never asked of the bank as a scope
//! ([`bank_scopes`]); the bank ties a subscription to the bank consent of the token that created it.
//!
//! Subscribing is best effort and off the person's request path ([`spawn_subscribe`]: a task bounded by
//! [`SUBSCRIBE_BOUND`]); a failure is logged at warn and never fails the consent (the gateway still learns of a
//! bank-side revocation when the bank refuses the consent's refresh token). What happened is kept per consent in the
//! bank client's [`SubscriptionBook`] (in memory), which tests and the revocation path read: at a revocation the
//! gateway initiates, [`unsubscribe`] deletes the bank subscriptions (FDX 6.2 `DELETE
//! /notification-subscriptions/{subscriptionId}`) before the bank tokens are revoked.
//!
//! This module must never log a bank token, never subscribe with a callback URL outside the gateway's own issuer,
//! and never let a bank failure reach the person's consent.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

use super::{BankCallError, BankClient, BankSecret};
use crate::app::AppState;
use crate::consent::{ConsentRequest, DataCluster};
use crate::store::StoreError;

/// FDX 6.2 path of the subscription collection.
pub const SUBSCRIPTIONS_PATH: &str = "/fdx/v6/notification-subscriptions";
/// Where banks deliver: `{issuer}{BANK_NOTIFICATIONS_PATH}/{bankId}/{consentId}`.
pub const BANK_NOTIFICATIONS_PATH: &str = "/bank-notifications";
/// The subscriber party the gateway names itself as (FDX 6.2 `Partyentity`).
pub const SUBSCRIBER_NAME: &str = "bankgate";
/// How long subscribing at the bank for one consent may take, every topic included.
pub const SUBSCRIBE_BOUND: Duration = Duration::from_secs(15);
/// How long deleting a consent's subscriptions may take.
pub const UNSUBSCRIBE_BOUND: Duration = Duration::from_secs(2);

/// One FDX notification type with its category (the contract's fixed pairs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Topic {
    /// FDX 6.2 `NotificationType`.
    pub notification_type: &'static str,
    /// FDX 6.2 `NotificationCategory1`.
    pub category: &'static str,
}

/// The person or admin revoked the consent at the bank.
pub const CONSENT_REVOKED: Topic = Topic { notification_type: "CONSENT_REVOKED", category: "CONSENT" };
/// A suspicious card transaction.
pub const RISK: Topic = Topic { notification_type: "RISK", category: "FRAUD" };
/// Low balance or a large deposit.
pub const BALANCE: Topic = Topic { notification_type: "BALANCE", category: "NEW_DATA" };
/// A maintenance window was scheduled.
pub const PLANNED_OUTAGE: Topic = Topic { notification_type: "PLANNED_OUTAGE", category: "MAINTENANCE" };

/// The topics the gateway subscribes to for a consent of `request` (rule in the module docs).
pub fn topics_for(request: &ConsentRequest) -> Vec<Topic> {
    let mut topics = vec![CONSENT_REVOKED];
    if request.clusters.contains(&DataCluster::Notifications) {
        topics.extend([RISK, BALANCE, PLANNED_OUTAGE]);
    }
    topics
}

/// The scopes asked of the bank for `request`: every cluster's `fdx:<cluster>:read` scope except NOTIFICATIONS, the
/// gateway's own cluster (the bank serves notifications to the holder of any token of the consent).
pub fn bank_scopes(request: &ConsentRequest) -> Vec<String> {
    request.clusters.iter().filter(|c| **c != DataCluster::Notifications).map(|c| c.scope().to_owned()).collect()
}

/// The callback URL the bank delivers a consent's notifications to.
pub fn callback_url(gateway_issuer: &str, bank_id: &str, consent_id: &str) -> String {
    format!("{}{BANK_NOTIFICATIONS_PATH}/{bank_id}/{consent_id}", gateway_issuer.trim_end_matches('/'))
}

/// One subscription the bank created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankSubscription {
    pub subscription_id: String,
    pub topic: Topic,
}

/// Where subscribing for one consent stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionState {
    /// Under way.
    Pending,
    /// Every topic is subscribed.
    Subscribed(Vec<BankSubscription>),
    /// Some or all topics could not be subscribed (`subscribed` holds the ones that were); `error` says why.
    Failed { subscribed: Vec<BankSubscription>, error: String },
    /// The consent's subscriptions were deleted at a revocation.
    Ended,
}

impl SubscriptionState {
    /// The subscriptions the bank holds for the consent.
    pub fn subscriptions(&self) -> &[BankSubscription] {
        match self {
            Self::Subscribed(subscribed) | Self::Failed { subscribed, .. } => subscribed,
            Self::Pending | Self::Ended => &[],
        }
    }

    /// Whether subscribing has finished (well or not).
    pub fn is_settled(&self) -> bool {
        !matches!(self, Self::Pending)
    }
}

/// The gateway's subscriptions at one bank, by gateway consent id (in memory; one per [`BankClient`]).
#[derive(Debug, Default)]
pub struct SubscriptionBook {
    entries: Mutex<HashMap<String, SubscriptionState>>,
}

impl SubscriptionBook {
    /// Where subscribing for `consent_id` stands, if it was ever attempted.
    pub fn of(&self, consent_id: &str) -> Option<SubscriptionState> {
        self.lock().get(consent_id).cloned()
    }

    fn set(&self, consent_id: &str, state: SubscriptionState) {
        self.lock().insert(consent_id.to_owned(), state);
    }

    /// The consent's subscriptions, marking it [`SubscriptionState::Ended`].
    fn end(&self, consent_id: &str) -> Vec<BankSubscription> {
        let mut entries = self.lock();
        match entries.get_mut(consent_id) {
            Some(state) => std::mem::replace(state, SubscriptionState::Ended).subscriptions().to_vec(),
            None => Vec::new(),
        }
    }

    /// Marks the consent's subscriptions ended without calling the bank (the bank ended them: CONSENT_REVOKED).
    pub fn forget(&self, consent_id: &str) {
        if let Some(state) = self.lock().get_mut(consent_id) {
            *state = SubscriptionState::Ended;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SubscriptionState>> {
        // A panic while holding this lock cannot leave the map half-written (single inserts): keep using it.
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Why subscribing failed. Never carries a token.
#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    #[error("no consent {0} at the gateway")]
    UnknownConsent(String),
    #[error("the consent has no bank (it is not authorized)")]
    NoBank,
    #[error("the bank `{0}` is not configured at the gateway")]
    BankNotConfigured(String),
    #[error("the consent has no bank tokens")]
    NoBankTokens,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("subscribing to {topic}: {error}")]
    Call { topic: &'static str, error: BankCallError },
    /// FDX 6.2 error answer of the bank (its `code`, when it sent one).
    #[error("the bank refused {topic} with {status} (FDX code {code})")]
    Refused { topic: &'static str, status: u16, code: String },
    #[error("the bank's answer to {topic} has no subscriptionId")]
    InvalidResponse { topic: &'static str },
    #[error("subscribing did not finish within {} s", SUBSCRIBE_BOUND.as_secs())]
    TimedOut,
}

/// A fresh RFC 4122 version-4 UUID for `x-fapi-interaction-id`.
pub fn new_interaction_id() -> String {
    let mut b = [0u8; 16];
    // Without OS randomness the id is still unique enough to correlate logs: the time in nanoseconds.
    if getrandom::fill(&mut b).is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        b = nanos.to_be_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// FDX 6.2 `NotificationSubscriptionentity` the gateway posts for `topic`.
pub fn subscription_body(topic: Topic, callback_url: &str) -> Value {
    json!({
        "type": topic.notification_type,
        "category": topic.category,
        "callbackUrl": callback_url,
        "subscriber": {"name": SUBSCRIBER_NAME, "type": "DATA_ACCESS_PLATFORM"},
    })
}

/// Subscribes to one topic: 201 (or 200) with a `subscriptionId` is success, any other answer a refusal.
async fn subscribe_one(
    client: &BankClient,
    access_token: &BankSecret,
    callback_url: &str,
    topic: Topic,
) -> Result<BankSubscription, SubscribeError> {
    let what = topic.notification_type;
    let body = subscription_body(topic, callback_url);
    let response = client
        .post_json(SUBSCRIPTIONS_PATH, access_token, &new_interaction_id(), &body)
        .await
        .map_err(|error| SubscribeError::Call { topic: what, error })?;
    if !matches!(response.status, 200 | 201) {
        let code: String =
            response.body.get("code").and_then(Value::as_str).unwrap_or("none").chars().take(16).collect();
        return Err(SubscribeError::Refused { topic: what, status: response.status, code });
    }
    let id = response
        .body
        .get("subscriptionId")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty() && id.len() <= 256 && id.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or(SubscribeError::InvalidResponse { topic: what })?;
    Ok(BankSubscription { subscription_id: id.to_owned(), topic })
}

/// Subscribes consent `consent_id` at its bank (topics per [`topics_for`]), recording the outcome in the bank
/// client's [`SubscriptionBook`]. Every topic is tried; the first failure is returned after the others were tried.
pub async fn subscribe_consent(state: &AppState, consent_id: &str) -> Result<Vec<BankSubscription>, SubscribeError> {
    let consent =
        state.store.consent(consent_id).await?.ok_or_else(|| SubscribeError::UnknownConsent(consent_id.to_owned()))?;
    let bank = consent.subject.as_ref().map(|s| s.bank.clone()).ok_or(SubscribeError::NoBank)?;
    let client = state.banks.get(&bank).ok_or_else(|| SubscribeError::BankNotConfigured(bank.clone()))?;
    client.subscriptions().set(consent_id, SubscriptionState::Pending);
    let outcome = async {
        let tokens = state.store.bank_tokens(consent_id).await?.ok_or(SubscribeError::NoBankTokens)?;
        let access = BankSecret::new(tokens.access_token);
        let callback = callback_url(&state.issuer, &bank, consent_id);
        let mut subscribed = Vec::new();
        let mut first_error = None;
        for topic in topics_for(&consent.request) {
            match subscribe_one(client, &access, &callback, topic).await {
                Ok(subscription) => subscribed.push(subscription),
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        Ok::<_, SubscribeError>((subscribed, first_error))
    }
    .await;
    match outcome {
        Ok((subscribed, None)) => {
            client.subscriptions().set(consent_id, SubscriptionState::Subscribed(subscribed.clone()));
            Ok(subscribed)
        }
        Ok((subscribed, Some(err))) => {
            client.subscriptions().set(consent_id, SubscriptionState::Failed { subscribed, error: err.to_string() });
            Err(err)
        }
        Err(err) => {
            client
                .subscriptions()
                .set(consent_id, SubscriptionState::Failed { subscribed: vec![], error: err.to_string() });
            Err(err)
        }
    }
}

/// Subscribes consent `consent_id` at its bank in a task of its own, bounded by [`SUBSCRIBE_BOUND`]: the caller (the
/// person's confirmation, the sandbox shortcut) never waits for the bank, and a failure is only logged.
pub fn spawn_subscribe(state: &AppState, consent_id: &str) {
    let (state, consent_id) = (state.clone(), consent_id.to_owned());
    tokio::spawn(async move {
        let result = match tokio::time::timeout(SUBSCRIBE_BOUND, subscribe_consent(&state, &consent_id)).await {
            Ok(result) => result.map(|subscribed| subscribed.len()),
            Err(_) => {
                let bank =
                    state.store.consent(&consent_id).await.ok().flatten().and_then(|c| c.subject).map(|s| s.bank);
                if let Some(client) = bank.as_deref().and_then(|b| state.banks.get(b)) {
                    let subscribed = client.subscriptions().of(&consent_id).map(|s| s.subscriptions().to_vec());
                    let failed = SubscriptionState::Failed {
                        subscribed: subscribed.unwrap_or_default(),
                        error: SubscribeError::TimedOut.to_string(),
                    };
                    client.subscriptions().set(&consent_id, failed);
                }
                Err(SubscribeError::TimedOut)
            }
        };
        match result {
            Ok(count) => tracing::info!(consent_id = %consent_id, subscriptions = count, "subscribed at the bank"),
            Err(err) => {
                tracing::warn!(consent_id = %consent_id, error = %err, "subscribing at the bank failed (the consent stands)")
            }
        }
    });
}

/// Deletes consent `consent_id`'s subscriptions at `client`'s bank with its bank `access_token` (best effort, bounded
/// by [`UNSUBSCRIBE_BOUND`]; 204 and 404 both mean gone). Called before the bank tokens are revoked.
pub async fn unsubscribe(client: &BankClient, consent_id: &str, access_token: &BankSecret) {
    let subscriptions = client.subscriptions().end(consent_id);
    if subscriptions.is_empty() {
        return;
    }
    let deletions = async {
        for subscription in &subscriptions {
            let path = format!("{SUBSCRIPTIONS_PATH}/{}", subscription.subscription_id);
            match client.delete(&path, access_token, &new_interaction_id()).await {
                Ok(response) if matches!(response.status, 200 | 204 | 404) => {}
                Ok(response) => {
                    tracing::warn!(status = response.status, "the bank refused to delete a notification subscription")
                }
                Err(err) => tracing::warn!(error = %err, "deleting a notification subscription failed"),
            }
        }
    };
    if tokio::time::timeout(UNSUBSCRIBE_BOUND, deletions).await.is_err() {
        tracing::warn!(bank = %client.bank().id(), "deleting notification subscriptions timed out");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(clusters: &[&str]) -> ConsentRequest {
        let details = json!([{
            "type": "fdx_consent",
            "dataClusters": clusters,
            "durationType": "TIME_BOUND",
            "durationPeriod": 30,
            "lookbackPeriod": 30,
            "purposes": ["personal_finance_management"],
        }]);
        ConsentRequest::from_authorization_details_value(&details).unwrap()
    }

    #[test]
    fn consent_revoked_always_the_rest_only_with_notifications() {
        assert_eq!(topics_for(&request(&["ACCOUNT_BASIC"])), vec![CONSENT_REVOKED]);
        let with = topics_for(&request(&["ACCOUNT_BASIC", "NOTIFICATIONS"]));
        assert_eq!(with, vec![CONSENT_REVOKED, RISK, BALANCE, PLANNED_OUTAGE]);
    }

    #[test]
    fn notifications_is_never_asked_of_the_bank() {
        let scopes = bank_scopes(&request(&["ACCOUNT_BASIC", "NOTIFICATIONS", "TRANSACTIONS"]));
        assert_eq!(scopes, vec!["fdx:accountbasic:read", "fdx:transactions:read"]);
    }

    #[test]
    fn the_body_and_callback_follow_the_contract() {
        let url = callback_url("https://127.0.0.1:8443/", "summit", "c-1");
        assert_eq!(url, "https://127.0.0.1:8443/bank-notifications/summit/c-1");
        let body = subscription_body(RISK, &url);
        assert_eq!(
            body,
            json!({"type": "RISK", "category": "FRAUD", "callbackUrl": url,
                   "subscriber": {"name": "bankgate", "type": "DATA_ACCESS_PLATFORM"}})
        );
        let id = new_interaction_id();
        assert_eq!((id.len(), &id[14..15]), (36, "4"), "{id}");
    }

    #[test]
    fn the_book_ends_a_consents_subscriptions_once() {
        let book = SubscriptionBook::default();
        assert!(book.end("c").is_empty());
        let subscribed = vec![BankSubscription { subscription_id: "s1".into(), topic: CONSENT_REVOKED }];
        book.set("c", SubscriptionState::Subscribed(subscribed.clone()));
        assert!(book.of("c").is_some_and(|s| s.is_settled()));
        assert_eq!(book.end("c"), subscribed);
        assert_eq!(book.of("c"), Some(SubscriptionState::Ended));
        assert!(book.end("c").is_empty());
    }
}
