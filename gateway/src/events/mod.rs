//! Bank notifications delivered to apps (issue 5, DESIGN.md flow 5): how a fraud alert from the person's bank
//! reaches the app the person allowed to see it, and no other.
//!
//! The parts: the FDX 6.2 shapes ([`model`]); intake ([`accept_bank_notification`], called by the bank-facing
//! endpoint once it verified the bank's mTLS certificate and JWS); the app's FDX subscriptions and its dead-letter
//! list ([`subscriptions`]); polling with acknowledgement ([`poll`]); webhooks as RFC 8417 SETs ([`set`]) pushed by
//! one worker ([`delivery`]) with per-subscription order, retries and durable state.
//!
//! What an app receives (decided here, at intake, once; the stored JSON is what the app sees):
//! - RISK and BALANCE events only when the consent holds `NOTIFICATIONS` and the payload's account (`idType:
//!   ACCOUNT`) is one of the consent's accounts; otherwise the event is dropped ([`Accepted::Filtered`], the bank
//!   still gets 202: it cannot know the gateway's consent). CONSENT_REVOKED and PLANNED_OUTAGE name no account.
//! - `url.href` (a link to the bank's FDX data) is rewritten to the same path at the gateway, and removed when the
//!   consent's data clusters do not open that endpoint ([`crate::fdx::table`]) or the account is outside it.
//! - `subscriber` becomes the app's party (`{name: client_name, type: DATA_RECIPIENT}`); `publisher` stays the
//!   bank; `notificationId` stays the bank's (idempotency key per consent: the same notification twice is stored
//!   and delivered once).
//! - An event for a consent that is no longer active is dropped, except CONSENT_REVOKED: it is the news of the
//!   revocation itself (the bank tells the app the person ended the consent there), so it is stored and delivered
//!   even though the consent is revoked, and revocation does not cancel its queued delivery. Every other delivery
//!   stops with the consent: nothing else goes out after a revocation or expiry, retries included.
//!
//! This module must never store or deliver an event about an account outside the consent, and never log a
//! notification's body (it describes the person's money).

pub mod delivery;
pub mod ingress;
pub mod model;
pub mod poll;
pub mod sequence;
pub mod set;
pub mod subscriptions;

pub use model::Notification;

use crate::app::AppState;
use crate::consent::{Consent, ConsentStatus, DataCluster};
use crate::fdx::table::{ENDPOINTS, Endpoint, opens};
use crate::store::{EnqueueOutcome, EventRecord, StoreError};
use model::{NotificationPayloadIdType, NotificationType};

/// Longest `notificationId` accepted.
const MAX_ID_LEN: usize = 128;

/// What [`accept_bank_notification`] did with a notification (the bank gets 202 in every case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Stored and queued for the consent's subscriptions.
    New,
    /// The same `notificationId` was already accepted for this consent: nothing new was stored.
    Duplicate,
    /// Outside what the consent covers (or about a consent no longer active): dropped.
    Filtered,
}

/// Why a bank notification could not be accepted.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The consent does not exist at this gateway or is not one of this bank's.
    #[error("no consent {0} of this bank")]
    UnknownConsent(String),
    /// The notification breaks a rule of the issue 5 contract (a type/category pair bankgate does not use, an
    /// unusable `notificationId`, ...): the bank gets 400 and must not retry.
    #[error("invalid notification: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Accept a verified bank notification for one gateway consent: coverage filter, durable enqueue, wake the worker.
/// `turn` is the notification's place in its bank lane ([`sequence`]), let go once the enqueue is placed.
/// Errors: consent unknown / not of this bank -> [`EventError::UnknownConsent`]; store -> [`EventError::Store`].
pub async fn accept_bank_notification(
    state: &AppState,
    consent_id: &str,
    bank: &str,
    n: Notification,
    turn: sequence::Turn,
) -> Result<Accepted, EventError> {
    let consent = match state.store.consent(consent_id).await? {
        Some(c) if c.subject.as_ref().is_some_and(|s| s.bank == bank) => c,
        _ => return Err(EventError::UnknownConsent(consent_id.to_owned())),
    };
    check_shape(&n)?;
    let now = state.now();
    let Some(n) = visible_to_app(state, &consent, n, now).await? else {
        tracing::debug!(consent = %consent_id, "bank notification outside the consent: dropped");
        return Ok(Accepted::Filtered);
    };
    let category = n.category.as_fdx();
    let event = EventRecord {
        seq: 0,
        consent_id: consent.id.clone(),
        notification_id: n.notification_id.clone(),
        notification_type: n.notification_type.as_fdx().to_owned(),
        body: serde_json::to_value(&n).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        received_at: now,
        acked_at: None,
    };
    match state.store.enqueue_event(&event, category, now, Some(Box::new(turn))).await? {
        EnqueueOutcome::Duplicate => Ok(Accepted::Duplicate),
        EnqueueOutcome::New { deliveries } => {
            if deliveries > 0 {
                state.deliveries.wake();
            }
            Ok(Accepted::New)
        }
    }
}

/// The contract's rules on a notification's shape (issue 5 contract, "Types and categories").
fn check_shape(n: &Notification) -> Result<(), EventError> {
    let id = &n.notification_id;
    if id.is_empty() || id.len() > MAX_ID_LEN || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(EventError::Invalid(format!("notificationId must be 1 to {MAX_ID_LEN} printable characters")));
    }
    match n.notification_type.bankgate_category() {
        Some(category) if category == n.category => {}
        _ => {
            return Err(EventError::Invalid(format!(
                "type {} with category {} is not a pair bankgate uses",
                n.notification_type.as_fdx(),
                n.category.as_fdx()
            )));
        }
    }
    if n.notification_type.is_about_an_account()
        && (n.notification_payload.id_type != Some(NotificationPayloadIdType::Account)
            || n.notification_payload.id.as_deref().is_none_or(str::is_empty))
    {
        return Err(EventError::Invalid("a RISK or BALANCE payload must name an account (idType ACCOUNT)".into()));
    }
    Ok(())
}

/// The notification as the app may see it, or `None` when the consent does not cover it (module docs).
async fn visible_to_app(
    state: &AppState,
    consent: &Consent,
    mut n: Notification,
    now: time::OffsetDateTime,
) -> Result<Option<Notification>, EventError> {
    let active = consent.status_at(now) == ConsentStatus::Authorized;
    let revocation_news = n.notification_type == NotificationType::ConsentRevoked;
    if !active && !revocation_news {
        return Ok(None);
    }
    if n.notification_type.is_about_an_account() {
        let account = n.notification_payload.id.as_deref().unwrap_or_default();
        if !consent.covers_cluster(DataCluster::Notifications) || !consent.covers_account(account) {
            return Ok(None);
        }
    }
    n.url = n.url.take().and_then(|mut link| {
        link.href = gateway_link(&state.issuer, &link.href, consent)?;
        Some(link)
    });
    n.subscriber = Some(subscriptions::app_party(state, &consent.client_id).await?);
    Ok(Some(n))
}

/// A bank's link as the same FDX resource at the gateway, when the consent opens it (endpoint's clusters, account
/// inside the consent); `None` otherwise.
fn gateway_link(issuer: &str, href: &str, consent: &Consent) -> Option<String> {
    let rewritten = crate::fdx::filter::rewrite_href(href, issuer)?;
    let path = rewritten.strip_prefix(issuer)?;
    let (endpoint, account) = endpoint_of(path)?;
    if !opens(endpoint, &consent.request.clusters) {
        return None;
    }
    if let Some(account) = account
        && !consent.covers_account(account)
    {
        return None;
    }
    Some(rewritten)
}

/// The resource API endpoint a path (query allowed) addresses, with its account.
fn endpoint_of(path: &str) -> Option<(Endpoint, Option<&str>)> {
    let route = path.split_once('?').map_or(path, |(route, _)| route);
    let segments: Vec<&str> = route.split('/').collect();
    ENDPOINTS.iter().find_map(|rule| {
        let pattern: Vec<&str> = rule.path.split('/').collect();
        if pattern.len() != segments.len() {
            return None;
        }
        let mut account = None;
        for (p, s) in pattern.iter().zip(&segments) {
            if *p == "{accountId}" {
                if s.is_empty() {
                    return None;
                }
                account = Some(*s);
            } else if p != s {
                return None;
            }
        }
        Some((rule.endpoint, account))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_to_their_endpoint_and_account() {
        assert_eq!(
            endpoint_of("/fdx/v6/accounts/a1/transactions?startTime=2026-01-01"),
            Some((Endpoint::Transactions, Some("a1")))
        );
        assert_eq!(endpoint_of("/fdx/v6/accounts/a1"), Some((Endpoint::Account, Some("a1"))));
        assert_eq!(endpoint_of("/fdx/v6/accounts"), Some((Endpoint::Accounts, None)));
        assert_eq!(endpoint_of("/fdx/v6/accounts/a1/images"), None);
        assert_eq!(endpoint_of("/fdx/v6/accounts//transactions"), None);
    }
}
