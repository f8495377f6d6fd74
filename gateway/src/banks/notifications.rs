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
//! gateway's store ([`crate::store::Store::bank_subscriptions`]; each subscription recorded as soon as the bank
//! created it; for the browser flow the subscribing begins in the confirmation's own commit ([`Begun::Already`]) and
//! the last topic's record settles it in the same write, so a consent's subscribing costs the gateway one commit,
//! not three), so a restarted gateway still knows what it holds at each bank: at a revocation the gateway initiates,
//! [`unsubscribe`] deletes the bank subscriptions (FDX 6.2 `DELETE /notification-subscriptions/{subscriptionId}`)
//! before the bank tokens are revoked; when the bank revoked, [`forget`] only marks them ended (the bank ended
//! them). The store's record is ended once, atomically, so each subscription is deleted at the bank at most once,
//! and a subscribing that races a revocation deletes what it created after the record ended.
//!
//! This module must never log a bank token, never subscribe with a callback URL outside the gateway's own issuer,
//! and never let a bank failure reach the person's consent.

use std::time::Duration;

use serde_json::{Value, json};

use super::{BankCallError, BankClient, BankSecret};
use crate::app::AppState;
use crate::consent::{ConsentRequest, DataCluster};
use crate::store::{BankSubscribingState, BankSubscriptionRecord, BankSubscriptions, StoreError};

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

impl Topic {
    /// Every topic the gateway subscribes to.
    pub const ALL: [Topic; 4] = [CONSENT_REVOKED, RISK, BALANCE, PLANNED_OUTAGE];

    /// The topic of this type/category pair, if it is one of the contract's.
    pub fn from_pair(notification_type: &str, category: &str) -> Option<Topic> {
        Self::ALL.into_iter().find(|t| t.notification_type == notification_type && t.category == category)
    }
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

/// Where subscribing for one consent stands (the store's [`BankSubscriptions`] with its topics typed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionState {
    /// Under way (or interrupted by a stop of the gateway; what was subscribed is kept and still deleted at a
    /// revocation).
    Pending(Vec<BankSubscription>),
    /// Every topic is subscribed.
    Subscribed(Vec<BankSubscription>),
    /// Some or all topics could not be subscribed (`subscribed` holds the ones that were); `error` says why.
    Failed { subscribed: Vec<BankSubscription>, error: String },
    /// The consent's subscriptions were deleted at a revocation, or the bank ended them.
    Ended,
}

impl SubscriptionState {
    /// The subscriptions the bank holds for the consent.
    pub fn subscriptions(&self) -> &[BankSubscription] {
        match self {
            Self::Pending(subscribed) | Self::Subscribed(subscribed) | Self::Failed { subscribed, .. } => subscribed,
            Self::Ended => &[],
        }
    }

    /// Whether subscribing has finished (well or not).
    pub fn is_settled(&self) -> bool {
        !matches!(self, Self::Pending(_))
    }

    /// The typed view of a stored record; a type/category pair outside the contract means the row is corrupt.
    pub fn from_record(record: &BankSubscriptions) -> Result<SubscriptionState, StoreError> {
        let subscribed = record
            .subscriptions
            .iter()
            .map(|s| {
                let topic = Topic::from_pair(&s.notification_type, &s.category).ok_or_else(|| {
                    StoreError::Corrupt(format!("bank subscription topic {}/{}", s.notification_type, s.category))
                })?;
                Ok(BankSubscription { subscription_id: s.subscription_id.clone(), topic })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(match record.state {
            BankSubscribingState::Pending => Self::Pending(subscribed),
            BankSubscribingState::Subscribed => Self::Subscribed(subscribed),
            BankSubscribingState::Failed => {
                Self::Failed { subscribed, error: record.error.clone().unwrap_or_default() }
            }
            BankSubscribingState::Ended => Self::Ended,
        })
    }
}

/// Where subscribing for consent `consent_id` stands, if it was ever attempted.
pub async fn subscription_state(state: &AppState, consent_id: &str) -> Result<Option<SubscriptionState>, StoreError> {
    state.store.bank_subscriptions(consent_id).await?.as_ref().map(SubscriptionState::from_record).transpose()
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
    /// The consent is not active, or its subscriptions were ended by a revocation (before or while subscribing).
    #[error("the consent is no longer active: nothing to subscribe")]
    Ended,
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

/// Deletes one subscription at the bank (204 and 404 both mean gone); failures are logged, never returned.
async fn delete_one(client: &BankClient, access_token: &BankSecret, subscription_id: &str) {
    let path = format!("{SUBSCRIPTIONS_PATH}/{subscription_id}");
    match client.delete(&path, access_token, &new_interaction_id()).await {
        Ok(response) if matches!(response.status, 200 | 204 | 404) => {}
        Ok(response) => {
            tracing::warn!(status = response.status, "the bank refused to delete a notification subscription")
        }
        Err(err) => tracing::warn!(error = %err, "deleting a notification subscription failed"),
    }
}

/// Whether the consent's subscribing was begun already (state `Pending` in the store).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Begun {
    /// By the write that authorized the consent ([`crate::store::Store::approve_consent`]).
    Already,
    /// Not yet: [`subscribe_consent`] begins it ([`crate::store::Store::begin_bank_subscribing`]).
    No,
}

/// Subscribes consent `consent_id` at its bank (topics per [`topics_for`]), recording each subscription in the store
/// as soon as the bank created it, then the outcome (with the last topic's record when every topic succeeded: one
/// write for both). Every topic is tried; the first failure is returned after the others were tried. A revocation
/// that ends the consent's record meanwhile wins: what is created after it is deleted at the bank again at once, and
/// [`SubscribeError::Ended`] is returned.
pub async fn subscribe_consent(
    state: &AppState,
    consent_id: &str,
    begun: Begun,
) -> Result<Vec<BankSubscription>, SubscribeError> {
    let consent =
        state.store.consent(consent_id).await?.ok_or_else(|| SubscribeError::UnknownConsent(consent_id.to_owned()))?;
    let bank = consent.subject.as_ref().map(|s| s.bank.clone()).ok_or(SubscribeError::NoBank)?;
    let client = state.banks.get(&bank).ok_or_else(|| SubscribeError::BankNotConfigured(bank.clone()))?;
    if !consent.is_active(state.now())
        || (begun == Begun::No && !state.store.begin_bank_subscribing(consent_id, state.now()).await?)
    {
        return Err(SubscribeError::Ended);
    }
    let outcome = async {
        let tokens = state.store.bank_tokens(consent_id).await?.ok_or(SubscribeError::NoBankTokens)?;
        let access = BankSecret::new(tokens.access_token);
        let callback = callback_url(&state.issuer, &bank, consent_id);
        let mut subscribed = Vec::new();
        let mut first_error = None;
        let topics = topics_for(&consent.request);
        for (n, topic) in topics.iter().copied().enumerate() {
            match subscribe_one(client, &access, &callback, topic).await {
                Ok(subscription) => {
                    let record = BankSubscriptionRecord {
                        subscription_id: subscription.subscription_id.clone(),
                        notification_type: topic.notification_type.to_owned(),
                        category: topic.category.to_owned(),
                        created_at: state.now(),
                    };
                    let settles = n + 1 == topics.len() && first_error.is_none();
                    let recorded = if settles {
                        state.store.add_last_bank_subscription(consent_id, &record, state.now()).await?
                    } else {
                        state.store.add_bank_subscription(consent_id, &record, state.now()).await?
                    };
                    if !recorded {
                        // Revoked while subscribing: the revocation deleted what it knew of; this one is ours to
                        // delete (the bank token may already be revoked, in which case the bank ended it).
                        delete_one(client, &access, &subscription.subscription_id).await;
                        return Err(SubscribeError::Ended);
                    }
                    subscribed.push(subscription);
                }
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        Ok::<_, SubscribeError>((subscribed, first_error))
    }
    .await;
    match outcome {
        // Every topic succeeded: the last one's record settled the subscribing (`topics_for` is never empty).
        Ok((subscribed, None)) => Ok(subscribed),
        Err(SubscribeError::Ended) => Err(SubscribeError::Ended),
        Ok((_, Some(err))) | Err(err) => {
            state.store.settle_bank_subscribing(consent_id, Some(&err.to_string()), state.now()).await?;
            Err(err)
        }
    }
}

/// Subscribes consent `consent_id` at its bank in a task of its own, bounded by [`SUBSCRIBE_BOUND`]: the caller (the
/// person's confirmation, the sandbox shortcut) never waits for the bank, and a failure is only logged.
pub fn spawn_subscribe(state: &AppState, consent_id: &str, begun: Begun) {
    let (state, consent_id) = (state.clone(), consent_id.to_owned());
    tokio::spawn(async move {
        let result = match tokio::time::timeout(SUBSCRIBE_BOUND, subscribe_consent(&state, &consent_id, begun)).await {
            Ok(result) => result.map(|subscribed| subscribed.len()),
            Err(_) => {
                // Whatever was subscribed before the bound is recorded already; only the outcome is left to save.
                let error = SubscribeError::TimedOut.to_string();
                if let Err(err) = state.store.settle_bank_subscribing(&consent_id, Some(&error), state.now()).await {
                    tracing::warn!(consent_id = %consent_id, error = %err, "the subscribing outcome was not saved");
                }
                Err(SubscribeError::TimedOut)
            }
        };
        match result {
            Ok(count) => tracing::info!(consent_id = %consent_id, subscriptions = count, "subscribed at the bank"),
            Err(SubscribeError::Ended) => {
                tracing::info!(consent_id = %consent_id, "not subscribed at the bank: the consent ended")
            }
            Err(err) => {
                tracing::warn!(consent_id = %consent_id, error = %err, "subscribing at the bank failed (the consent stands)")
            }
        }
    });
}

/// Deletes consent `consent_id`'s subscriptions at `client`'s bank with its bank `access_token` (best effort, bounded
/// by [`UNSUBSCRIBE_BOUND`]; 204 and 404 both mean gone), ending the store's record first. Called before the bank
/// tokens are revoked; works the same after a restart of the gateway (the record is in the store).
pub async fn unsubscribe(state: &AppState, client: &BankClient, consent_id: &str, access_token: &BankSecret) {
    let subscriptions = match state.store.end_bank_subscriptions(consent_id, state.now()).await {
        Ok(subscriptions) => subscriptions,
        Err(err) => {
            tracing::warn!(error = %err, "the consent's bank subscriptions are unreadable; not deleted at the bank");
            return;
        }
    };
    if subscriptions.is_empty() {
        return;
    }
    let deletions = async {
        for subscription in &subscriptions {
            delete_one(client, access_token, &subscription.subscription_id).await;
        }
    };
    if tokio::time::timeout(UNSUBSCRIBE_BOUND, deletions).await.is_err() {
        tracing::warn!(bank = %client.bank().id(), "deleting notification subscriptions timed out");
    }
}

/// Marks consent `consent_id`'s bank subscriptions ended without calling the bank (the bank ended them itself:
/// CONSENT_REVOKED). Best effort: a failure is logged (the bank no longer delivers to them anyway).
pub async fn forget(state: &AppState, consent_id: &str) {
    if let Err(err) = state.store.end_bank_subscriptions(consent_id, state.now()).await {
        tracing::warn!(error = %err, "the consent's bank subscriptions were not marked ended");
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
    fn stored_records_read_back_as_typed_states() {
        let at = time::OffsetDateTime::UNIX_EPOCH;
        let sub = |id: &str, t: &str, c: &str| BankSubscriptionRecord {
            subscription_id: id.into(),
            notification_type: t.into(),
            category: c.into(),
            created_at: at,
        };
        let record = BankSubscriptions {
            consent_id: "c".into(),
            state: BankSubscribingState::Failed,
            error: Some("the bank refused RISK with 500 (FDX code 500)".into()),
            subscriptions: vec![sub("s1", "CONSENT_REVOKED", "CONSENT")],
            updated_at: at,
        };
        let state = SubscriptionState::from_record(&record).unwrap();
        assert!(state.is_settled());
        assert_eq!(state.subscriptions(), [BankSubscription { subscription_id: "s1".into(), topic: CONSENT_REVOKED }]);
        let pending = BankSubscriptions { state: BankSubscribingState::Pending, ..record.clone() };
        assert!(!SubscriptionState::from_record(&pending).unwrap().is_settled());
        let ended = BankSubscriptions { state: BankSubscribingState::Ended, subscriptions: vec![], ..record.clone() };
        assert_eq!(SubscriptionState::from_record(&ended).unwrap(), SubscriptionState::Ended);
        let odd = BankSubscriptions { subscriptions: vec![sub("s2", "RISK", "CONSENT")], ..record };
        assert!(matches!(SubscriptionState::from_record(&odd), Err(StoreError::Corrupt(_))));
        assert_eq!(Topic::from_pair("PLANNED_OUTAGE", "MAINTENANCE"), Some(PLANNED_OUTAGE));
    }
}
