//! Revoking a consent, from wherever the revocation comes (the app through grant or consent management, the person
//! on the dashboard, the bank), with the guarantee of DESIGN.md flow 6: once a revocation is acknowledged, no data
//! response of that consent follows.
//!
//! How: [`RevocationGate`] is a set of striped read-write locks keyed by consent id. A data response holds the read
//! side of its consent's stripe while it checks, one last time after the bank answered, that the consent and token
//! are still active, and writes its audit record; [`revoke`] holds the write side while it commits the revocation.
//! So a data response either finished its final check before the revocation committed (and was decided before the
//! acknowledgement), or it sees the revocation and is refused. The store's `revoke_consent` revokes every token of
//! the consent in the same transaction, and its read caches are invalidated before it returns. One process owns a
//! SQLite store, so the gate covers every reader; several replicas (the PostgreSQL store, a later issue) need the
//! same final check against the shared database, which this order already does.
//!
//! The same commit cancels the consent's queued webhook deliveries ([`crate::store::Store::revoke_consent`]), and the
//! delivery worker sends each webhook under the read side of this gate after checking the consent
//! ([`crate::events::delivery`]): no notification goes out after a revocation is acknowledged, retries included
//! (the bank's CONSENT_REVOKED news aside, [`crate::events`]).
//!
//! After the commit, the bank tokens are revoked at the bank (RFC 7009, bounded in time, best effort: the consent
//! is already dead at the gateway) and deleted. This module must never log a token.

use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard};

use crate::app::AppState;
use crate::banks::{BankSecret, BankTokenKind};
use crate::consent::{Initiator, RevocationReason};
use crate::store::{ConsentRevocationOutcome, StoreError};

/// Stripes of the gate (a revocation blocks data responses of 1/STRIPES of the consents for the length of a commit).
const STRIPES: usize = 64;
/// How long revocation at the bank may take before the gateway stops waiting.
pub const BANK_REVOCATION_BOUND: Duration = Duration::from_secs(5);

/// The striped locks (see the module docs).
#[derive(Debug)]
pub struct RevocationGate {
    stripes: Vec<RwLock<()>>,
    /// Also here: one bank-token refresh per consent at a time (same striping).
    refreshes: Vec<Mutex<()>>,
}

impl Default for RevocationGate {
    fn default() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| RwLock::new(())).collect(),
            refreshes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }
}

impl RevocationGate {
    fn index(consent_id: &str) -> usize {
        // FNV-1a: cheap, stable, and the ids are random already.
        let hash =
            consent_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        (hash % STRIPES as u64) as usize
    }

    fn stripe(&self, consent_id: &str) -> &RwLock<()> {
        &self.stripes[Self::index(consent_id)]
    }

    /// Held while a consent's bank token is refreshed.
    pub async fn refresh_lock(&self, consent_id: &str) -> MutexGuard<'_, ()> {
        self.refreshes[Self::index(consent_id)].lock().await
    }

    /// Held by a data response from its final check to its answer.
    pub async fn read(&self, consent_id: &str) -> RwLockReadGuard<'_, ()> {
        self.stripe(consent_id).read().await
    }
}

/// Revokes consent `consent_id` (see the module docs); the outcome is the store's.
pub async fn revoke(
    state: &AppState,
    consent_id: &str,
    reason: RevocationReason,
    initiator: Initiator,
    now: OffsetDateTime,
) -> Result<ConsentRevocationOutcome, StoreError> {
    let outcome = {
        let _exclusive = state.revocations.stripe(consent_id).write().await;
        state.store.revoke_consent(consent_id, reason, initiator, now).await?
    };
    if let ConsentRevocationOutcome::Revoked { consent, .. } = &outcome {
        // The bank learns of it unless the bank itself revoked.
        let bank = consent.subject.as_ref().map(|s| s.bank.clone());
        if initiator != Initiator::Bank
            && let Some(bank) = bank
        {
            revoke_at_bank(state, &bank, consent_id).await;
        }
        if let Err(err) = state.store.delete_bank_tokens(consent_id).await {
            tracing::warn!(error = %err, "revoked consent: bank tokens not deleted");
        }
    }
    Ok(outcome)
}

/// RFC 7009 revocation of a consent's bank tokens (refresh first: it ends the bank's grant), bounded in time.
pub async fn revoke_at_bank(state: &AppState, bank: &str, consent_id: &str) {
    let tokens = match state.store.bank_tokens(consent_id).await {
        Ok(Some(tokens)) => tokens,
        Ok(None) => return,
        Err(err) => {
            tracing::warn!(error = %err, "bank tokens unreadable; not revoked at the bank");
            return;
        }
    };
    let Some(client) = state.banks.get(bank) else {
        tracing::warn!(bank = %bank, "bank tokens of a revoked consent: the bank is not configured");
        return;
    };
    let revocations = async {
        // Issue 5: the bank's notification subscriptions of the consent go first, while its access token still works.
        let access = BankSecret::new(tokens.access_token.clone());
        crate::banks::notifications::unsubscribe(state, client, consent_id, &access).await;
        let mut secrets = Vec::new();
        if let Some(refresh) = &tokens.refresh_token {
            secrets.push((BankSecret::new(refresh.clone()), BankTokenKind::Refresh));
        }
        secrets.push((BankSecret::new(tokens.access_token.clone()), BankTokenKind::Access));
        for (secret, kind) in &secrets {
            if let Err(err) = client.revoke(secret, *kind).await {
                tracing::warn!(error = %err, kind = ?kind, "bank token revocation failed");
            }
        }
    };
    if tokio::time::timeout(BANK_REVOCATION_BOUND, revocations).await.is_err() {
        tracing::warn!(bank = %bank, "bank token revocation timed out");
    }
}
