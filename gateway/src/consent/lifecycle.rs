//! A consent's life: PENDING (requested) -> AUTHORIZED (the person said yes at the gateway and their bank) ->
//! REVOKED (by the person, the app or the bank) or EXPIRED (its duration ran out).
//!
//! Rules kept here, each testable directly: a secondary-use purpose needs the person's separate opt-in (CFPB 1033);
//! the person can only narrow the accounts an app asked for; expiry follows from the duration (ONE_TIME: one hour
//! after authorization, see [`ONE_TIME_WINDOW`](super::duration::ONE_TIME_WINDOW)); revocation is terminal and
//! recorded with its FDX reason and initiator (`ConsentRevocation`). Every instant is passed in (`now`: the gateway's
//! clock) and kept to whole seconds, as the store keeps them. This module must never read the wall clock or do I/O.

use super::cluster::DataCluster;
use super::duration::LookbackWindow;
use super::purpose::Purpose;
use super::request::ConsentRequest;
use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;

/// Where a consent is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsentStatus {
    Pending,
    Authorized,
    Revoked,
    Expired,
}

impl ConsentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Authorized => "AUTHORIZED",
            Self::Revoked => "REVOKED",
            Self::Expired => "EXPIRED",
        }
    }

    pub fn parse(s: &str) -> Option<ConsentStatus> {
        [Self::Pending, Self::Authorized, Self::Revoked, Self::Expired].into_iter().find(|v| v.as_str() == s)
    }

    /// FDX 6.2 `ConsentGrantStatus` (ACTIVE | EXPIRED | REVOKED); a pending request is no FDX consent grant yet.
    pub fn fdx_status(self) -> Option<&'static str> {
        match self {
            Self::Pending => None,
            Self::Authorized => Some("ACTIVE"),
            Self::Revoked => Some("REVOKED"),
            Self::Expired => Some("EXPIRED"),
        }
    }

    /// REVOKED and EXPIRED are final.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Revoked | Self::Expired)
    }
}

impl fmt::Display for ConsentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// FDX 6.2 `ConsentUpdateReason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RevocationReason {
    BusinessRule,
    UserAction,
}

impl RevocationReason {
    pub fn as_fdx(self) -> &'static str {
        match self {
            Self::BusinessRule => "BUSINESS_RULE",
            Self::UserAction => "USER_ACTION",
        }
    }

    pub fn from_fdx(s: &str) -> Option<RevocationReason> {
        [Self::BusinessRule, Self::UserAction].into_iter().find(|v| v.as_fdx() == s)
    }
}

/// Who revoked: the person, the app, the bank, or the gateway itself (a business rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Initiator {
    Person,
    App,
    Bank,
    Gateway,
}

impl Initiator {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Person => "person",
            Self::App => "app",
            Self::Bank => "bank",
            Self::Gateway => "gateway",
        }
    }

    pub fn parse(s: &str) -> Option<Initiator> {
        [Self::Person, Self::App, Self::Bank, Self::Gateway].into_iter().find(|v| v.as_str() == s)
    }

    /// FDX 6.2 `PartyType` of the initiator.
    pub fn fdx_party_type(self) -> &'static str {
        match self {
            Self::Person => "INDIVIDUAL",
            Self::App => "DATA_RECIPIENT",
            Self::Bank => "DATA_PROVIDER",
            Self::Gateway => "DATA_ACCESS_PLATFORM",
        }
    }

    /// The initiator named by an FDX `PartyType` (MERCHANT and VENDOR cannot revoke here).
    pub fn from_fdx_party_type(s: &str) -> Option<Initiator> {
        [Self::Person, Self::App, Self::Bank, Self::Gateway].into_iter().find(|v| v.fdx_party_type() == s)
    }
}

/// One revocation record (FDX 6.2 `ConsentRevocation`: reason, initiator, updatedTime).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub reason: RevocationReason,
    pub initiator: Initiator,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// Whose data a consent shares: the person as their bank knows them, and that bank.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConsentSubject {
    /// The person's subject at the bank (from the bank's token/userinfo).
    pub person: String,
    /// The bank's id in the gateway's configuration.
    pub bank: String,
}

/// What the person decided on the confirmation page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub subject: ConsentSubject,
    /// The accounts the person chose to share.
    pub accounts: Vec<String>,
    /// True only when the person opted into the secondary-use purposes on their separate screen.
    pub secondary_use_opt_in: bool,
}

/// A transition the lifecycle refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("the consent is {0}, not PENDING: it cannot be authorized again")]
    NotPending(ConsentStatus),
    #[error("the purposes {0:?} are secondary uses and need the person's separate opt-in")]
    SecondaryUseWithoutOptIn(Vec<Purpose>),
    #[error("the person chose no account to share")]
    NoAccounts,
    #[error("account {0:?} was not among the accounts the app asked for")]
    AccountNotRequested(String),
    #[error("the consent is already {0}")]
    AlreadyEnded(ConsentStatus),
}

/// A consent: the request, whose data it covers once authorized, where it is in its life, and its revocations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// The FDX consent id (at most 256 characters; chosen by the caller, unguessable).
    pub id: String,
    pub client_id: String,
    pub request: ConsentRequest,
    /// Set on authorization.
    pub subject: Option<ConsentSubject>,
    /// The accounts the person chose (empty until authorized).
    pub accounts: Vec<String>,
    pub secondary_use_opt_in: bool,
    /// The recorded status. An AUTHORIZED consent past `expires_at` is effectively EXPIRED: ask [`status_at`].
    ///
    /// [`status_at`]: Consent::status_at
    pub status: ConsentStatus,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub authorized_at: Option<OffsetDateTime>,
    pub expires_at: Option<OffsetDateTime>,
    /// Revocation history, oldest first.
    pub revocations: Vec<Revocation>,
}

/// `t` without its fraction of a second (the store keeps whole Unix seconds).
pub fn whole_seconds(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).unwrap_or(t)
}

impl Consent {
    /// A new PENDING consent for `request`, made at `now`.
    pub fn new(id: String, client_id: String, request: ConsentRequest, now: OffsetDateTime) -> Consent {
        let now = whole_seconds(now);
        Consent {
            id,
            client_id,
            request,
            subject: None,
            accounts: Vec::new(),
            secondary_use_opt_in: false,
            status: ConsentStatus::Pending,
            created_at: now,
            updated_at: now,
            authorized_at: None,
            expires_at: None,
            revocations: Vec::new(),
        }
    }

    /// PENDING -> AUTHORIZED with the person's choices. Refused when a secondary-use purpose lacks the separate
    /// opt-in, when no account was chosen, or when an account the app did not ask for was added.
    pub fn authorize(&mut self, decision: Authorization, now: OffsetDateTime) -> Result<(), LifecycleError> {
        if self.status != ConsentStatus::Pending {
            return Err(LifecycleError::NotPending(self.status));
        }
        let secondary: Vec<Purpose> = self.request.purposes.iter().copied().filter(|p| p.is_secondary_use()).collect();
        if !secondary.is_empty() && !decision.secondary_use_opt_in {
            return Err(LifecycleError::SecondaryUseWithoutOptIn(secondary));
        }
        let mut accounts = decision.accounts;
        accounts.sort();
        accounts.dedup();
        if accounts.is_empty() {
            return Err(LifecycleError::NoAccounts);
        }
        if let Some(requested) = &self.request.accounts
            && let Some(extra) = accounts.iter().find(|a| !requested.contains(a))
        {
            return Err(LifecycleError::AccountNotRequested(extra.clone()));
        }
        let now = whole_seconds(now);
        self.subject = Some(decision.subject);
        self.accounts = accounts;
        self.secondary_use_opt_in = decision.secondary_use_opt_in && !secondary.is_empty();
        self.status = ConsentStatus::Authorized;
        self.authorized_at = Some(now);
        self.expires_at = Some(self.request.duration.expires_at(now));
        self.updated_at = now;
        Ok(())
    }

    /// The status as of `now`: an AUTHORIZED consent at or past its expiry is EXPIRED.
    pub fn status_at(&self, now: OffsetDateTime) -> ConsentStatus {
        match (self.status, self.expires_at) {
            (ConsentStatus::Authorized, Some(end)) if now >= end => ConsentStatus::Expired,
            (status, _) => status,
        }
    }

    /// Whether data may flow under this consent at `now`.
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.status_at(now) == ConsentStatus::Authorized
    }

    /// Records expiry if it is due; true when the status changed.
    pub fn expire_if_due(&mut self, now: OffsetDateTime) -> bool {
        if self.status == ConsentStatus::Authorized && self.status_at(now) == ConsentStatus::Expired {
            self.status = ConsentStatus::Expired;
            self.updated_at = whole_seconds(now);
            true
        } else {
            false
        }
    }

    /// Revokes a PENDING or AUTHORIZED consent (a pending one: the request is withdrawn). Revoking an ended consent
    /// is refused with the status it ended in; expiry that is due counts as ended.
    pub fn revoke(
        &mut self,
        reason: RevocationReason,
        initiator: Initiator,
        now: OffsetDateTime,
    ) -> Result<Revocation, LifecycleError> {
        let status = self.status_at(now);
        if status.is_terminal() {
            return Err(LifecycleError::AlreadyEnded(status));
        }
        let now = whole_seconds(now);
        let revocation = Revocation { reason, initiator, at: now };
        self.status = ConsentStatus::Revoked;
        self.updated_at = now;
        self.revocations.push(revocation);
        Ok(revocation)
    }

    /// Refresh tokens make no sense for a ONE_TIME consent.
    pub fn allows_refresh(&self) -> bool {
        self.request.duration.kind() != super::duration::DurationType::OneTime
    }

    /// The history window a request made at `now` may see.
    pub fn lookback_window(&self, now: OffsetDateTime) -> LookbackWindow {
        self.request.lookback.window_at(now)
    }

    /// Whether the consent was granted for `cluster`.
    pub fn covers_cluster(&self, cluster: DataCluster) -> bool {
        self.request.clusters.contains(&cluster)
    }

    /// Whether the person chose to share `account_id`.
    pub fn covers_account(&self, account_id: &str) -> bool {
        self.accounts.iter().any(|a| a == account_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::duration::{ConsentDuration, LookbackPeriod};
    use time::macros::datetime;

    fn request(duration: ConsentDuration, purposes: &[Purpose], accounts: Option<&[&str]>) -> ConsentRequest {
        ConsentRequest {
            clusters: vec![DataCluster::AccountBasic, DataCluster::Transactions],
            duration,
            lookback: LookbackPeriod::new(Some(90)).unwrap(),
            purposes: purposes.to_vec(),
            accounts: accounts.map(|a| a.iter().map(|s| (*s).to_owned()).collect()),
        }
    }

    fn decision(accounts: &[&str], opt_in: bool) -> Authorization {
        Authorization {
            subject: ConsentSubject { person: "user_good".into(), bank: "first-national".into() },
            accounts: accounts.iter().map(|s| (*s).to_owned()).collect(),
            secondary_use_opt_in: opt_in,
        }
    }

    #[test]
    fn authorized_time_bound_consent_expires_after_its_period() {
        let t0 = datetime!(2026-01-10 08:00:00.75 UTC);
        let r = request(ConsentDuration::TimeBound { days: 30 }, &[Purpose::FraudAlerts], None);
        let mut c = Consent::new("c1".into(), "app".into(), r, t0);
        assert_eq!(c.status, ConsentStatus::Pending);
        assert!(!c.is_active(t0));
        c.authorize(decision(&["a2", "a1"], false), t0).unwrap();
        assert_eq!(c.accounts, ["a1", "a2"]);
        assert_eq!(c.authorized_at, Some(datetime!(2026-01-10 08:00 UTC)));
        assert_eq!(c.expires_at, Some(datetime!(2026-02-09 08:00 UTC)));
        assert!(c.is_active(datetime!(2026-02-09 07:59:59 UTC)));
        assert_eq!(c.status_at(datetime!(2026-02-09 08:00 UTC)), ConsentStatus::Expired);
        assert_eq!(c.status.fdx_status(), Some("ACTIVE"));
        assert!(c.expire_if_due(datetime!(2026-02-10 0:00 UTC)));
        assert_eq!(c.status, ConsentStatus::Expired);
        assert_eq!(c.authorize(decision(&["a1"], false), t0), Err(LifecycleError::NotPending(ConsentStatus::Expired)));
    }

    #[test]
    fn one_time_consent_lasts_an_hour_and_allows_no_refresh() {
        let t0 = datetime!(2026-01-10 08:00 UTC);
        let mut c = Consent::new(
            "c1".into(),
            "app".into(),
            request(ConsentDuration::OneTime, &[Purpose::AccountVerification], None),
            t0,
        );
        c.authorize(decision(&["a1"], false), t0).unwrap();
        assert!(c.is_active(datetime!(2026-01-10 08:59 UTC)));
        assert!(!c.is_active(datetime!(2026-01-10 09:00 UTC)));
        assert!(!c.allows_refresh());
    }

    #[test]
    fn secondary_use_needs_the_separate_opt_in() {
        let t0 = datetime!(2026-01-10 08:00 UTC);
        let r = request(ConsentDuration::Persistent, &[Purpose::FraudAlerts, Purpose::TargetedAdvertising], None);
        let mut c = Consent::new("c1".into(), "social".into(), r, t0);
        assert_eq!(
            c.authorize(decision(&["a1"], false), t0),
            Err(LifecycleError::SecondaryUseWithoutOptIn(vec![Purpose::TargetedAdvertising]))
        );
        assert_eq!(c.status, ConsentStatus::Pending);
        c.authorize(decision(&["a1"], true), t0).unwrap();
        assert!(c.secondary_use_opt_in);
        assert_eq!(c.expires_at, Some(datetime!(2027-01-10 08:00 UTC)));
    }

    #[test]
    fn the_person_can_only_narrow_the_requested_accounts() {
        let t0 = datetime!(2026-01-10 08:00 UTC);
        let r = request(ConsentDuration::Persistent, &[Purpose::FraudAlerts], Some(&["a1", "a2"]));
        let mut c = Consent::new("c1".into(), "app".into(), r, t0);
        assert_eq!(c.authorize(decision(&[], false), t0), Err(LifecycleError::NoAccounts));
        assert_eq!(
            c.authorize(decision(&["a1", "a9"], false), t0),
            Err(LifecycleError::AccountNotRequested("a9".into()))
        );
        c.authorize(decision(&["a2"], false), t0).unwrap();
        assert!(c.covers_account("a2"));
        assert!(!c.covers_account("a1"));
        assert!(c.covers_cluster(DataCluster::Transactions));
        assert!(!c.covers_cluster(DataCluster::Statements));
    }

    #[test]
    fn revocation_is_terminal_and_kept_as_history() {
        let t0 = datetime!(2026-01-10 08:00 UTC);
        let mut c = Consent::new(
            "c1".into(),
            "app".into(),
            request(ConsentDuration::Persistent, &[Purpose::FraudAlerts], None),
            t0,
        );
        c.authorize(decision(&["a1"], false), t0).unwrap();
        let t1 = datetime!(2026-02-01 10:00 UTC);
        let rev = c.revoke(RevocationReason::UserAction, Initiator::Person, t1).unwrap();
        assert_eq!(rev.initiator.fdx_party_type(), "INDIVIDUAL");
        assert_eq!(c.status, ConsentStatus::Revoked);
        assert!(!c.is_active(t1));
        assert_eq!(c.revocations, [rev]);
        assert_eq!(
            c.revoke(RevocationReason::UserAction, Initiator::App, t1),
            Err(LifecycleError::AlreadyEnded(ConsentStatus::Revoked))
        );
        // An expired consent cannot be revoked any more.
        let mut old = Consent::new(
            "c2".into(),
            "app".into(),
            request(ConsentDuration::OneTime, &[Purpose::FraudAlerts], None),
            t0,
        );
        old.authorize(decision(&["a1"], false), t0).unwrap();
        assert_eq!(
            old.revoke(RevocationReason::BusinessRule, Initiator::Bank, t1),
            Err(LifecycleError::AlreadyEnded(ConsentStatus::Expired))
        );
    }

    #[test]
    fn lookback_is_measured_from_request_time() {
        let t0 = datetime!(2026-01-10 08:00 UTC);
        let mut c = Consent::new(
            "c1".into(),
            "app".into(),
            request(ConsentDuration::Persistent, &[Purpose::FraudAlerts], None),
            t0,
        );
        c.authorize(decision(&["a1"], false), t0).unwrap();
        let later = datetime!(2026-06-10 08:00 UTC);
        assert_eq!(c.lookback_window(later).clamp(None), datetime!(2026-03-12 08:00 UTC));
    }
}
