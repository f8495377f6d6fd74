//! The gateway's storage: one [`Store`] trait, the records the authorization server and the consent flow keep, and
//! the SQLite implementation ([`SqliteStore`], embedded, the default).
//!
//! Design (DESIGN.md "Storage"): callers hold an `Arc<dyn Store>` ([`DynStore`]); the trait is object-safe through
//! `async-trait`, so a PostgreSQL implementation can follow without touching callers. SQL uses `$1` placeholders and
//! portable types (TEXT, BIGINT Unix seconds, BLOB/BYTEA, JSON as TEXT) so it carries over; migrations live per
//! dialect (`gateway/migrations/sqlite/`). The operations the protocol needs to be atomic are single trait methods:
//! [`Store::use_par_request`] (RFC 9126 single use), [`Store::redeem_code`] (RFC 6749 §4.1.2 single use, reuse
//! revokes the tokens issued from the code), [`Store::revoke_consent`] (its tokens are revoked in the same
//! transaction) and [`Store::remember_jti`] (insert-if-absent replay cache for client assertions and DPoP proofs).
//! [`Store::insert_token`] refuses a token for a consent that is no longer active or for a replayed code, so a token
//! issued while a revocation races it can never outlive that revocation. Bank notifications (issue 5): an app's
//! subscriptions, the events accepted per consent (idempotent by `notificationId`) and one delivery per event and
//! subscription, numbered per subscription; [`Store::enqueue_event`] stores an event and its deliveries in one
//! durable transaction, and [`Store::revoke_consent`] cancels the consent's pending deliveries in its own. The
//! gateway's own subscriptions at banks are kept per consent too ([`BankSubscriptions`]), so a restarted gateway
//! still deletes them at the bank when the consent is revoked.
//!
//! Instants are stored as whole Unix seconds (fractions are dropped). Access tokens, refresh tokens, authorization
//! codes and registration access tokens are stored only as SHA-256 hashes ([`TokenHash`]); bank tokens only sealed
//! with AES-256-GCM ([`SealKey`]). This module must never log a secret or a token, and never read the wall clock:
//! every `now` is passed in.

pub mod group_commit;
pub mod journal;
pub mod seal;
pub mod sqlite;

pub use seal::SealKey;
pub use sqlite::SqliteStore;

use crate::consent::{Consent, ConsentSubject, Initiator, LifecycleError, RevocationReason};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::sync::Arc;
use subtle::ConstantTimeEq as _;
use time::OffsetDateTime;

/// How callers hold the store.
pub type DynStore = Arc<dyn Store>;

/// A storage failure, or a refusal the protocol needs to tell apart.
/// Anything a caller keeps until its write has its place in the commit order ([`Store::enqueue_event`]).
pub type Placement = Option<Box<dyn std::any::Any + Send>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a record with this key already exists")]
    Duplicate,
    #[error("the referenced {0} does not exist")]
    Missing(&'static str),
    #[error("consent {0} is not active: no token may be issued for it")]
    ConsentNotActive(String),
    #[error("the authorization code was replayed: no token may be issued from it")]
    CodeReplayed,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("sealed bank tokens cannot be opened (wrong key, tampered, or moved to another consent)")]
    Unseal,
    #[error("store key: {0}")]
    Key(String),
    #[error("database: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The store's writer has stopped (the store is shutting down).
    #[error("the store is closed")]
    Closed,
    /// A group-committed write was rolled back because its batch failed ([`group_commit`]).
    #[error("write rolled back: {0}")]
    Batch(String),
    /// The access log's journal file could not be written or read ([`journal`]).
    #[error("access-log journal: {0}")]
    Journal(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e.as_database_error() {
            Some(db) if db.is_unique_violation() => StoreError::Duplicate,
            Some(db) if db.is_foreign_key_violation() => StoreError::Missing("record"),
            _ => StoreError::Database(Box::new(e)),
        }
    }
}

/// The writer's statements run through rusqlite ([`group_commit`]): the same refusals as sqlx's (a primary key or
/// unique violation, a missing foreign row), any other failure rolls its batch back.
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi;
        match &e {
            rusqlite::Error::SqliteFailure(ffi::Error { extended_code, .. }, _)
                if matches!(*extended_code, ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY) =>
            {
                StoreError::Duplicate
            }
            rusqlite::Error::SqliteFailure(ffi::Error { extended_code: ffi::SQLITE_CONSTRAINT_FOREIGNKEY, .. }, _) => {
                StoreError::Missing("record")
            }
            _ => StoreError::Database(Box::new(e)),
        }
    }
}

/// SHA-256 of a token, code or registration access token: the only form in which those are stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// The hash of `secret` (its UTF-8 bytes).
    pub fn of(secret: &str) -> TokenHash {
        TokenHash(Sha256::digest(secret.as_bytes()).into())
    }

    /// Whether `secret` hashes to this value, compared in constant time.
    pub fn matches(&self, secret: &str) -> bool {
        bool::from(Self::of(secret).0.ct_eq(&self.0))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Option<TokenHash> {
        let bytes = hex::decode(text).ok()?;
        Some(TokenHash(bytes.try_into().ok()?))
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A hash is no secret, but a short prefix is enough to tell records apart in logs.
        write!(f, "TokenHash({}…)", &self.to_hex()[..8])
    }
}

/// A registered client's profile (DESIGN.md "Two client profiles").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientProfile {
    Fapi2,
    Sandbox,
}

impl ClientProfile {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fapi2 => "fapi2",
            Self::Sandbox => "sandbox",
        }
    }

    pub fn parse(s: &str) -> Option<ClientProfile> {
        match s {
            "fapi2" => Some(Self::Fapi2),
            "sandbox" => Some(Self::Sandbox),
            _ => None,
        }
    }
}

/// A registered client (RFC 7591 metadata as registered; RFC 7592 registration access token as a hash).
#[derive(Debug, Clone, PartialEq)]
pub struct ClientRecord {
    pub client_id: String,
    /// The RFC 7591 client metadata JSON object.
    pub metadata: serde_json::Value,
    /// RFC 7592 registration access token (hash); `None` for clients declared in configuration.
    pub registration_token_hash: Option<TokenHash>,
    pub profile: ClientProfile,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A pushed authorization request (RFC 9126).
#[derive(Debug, Clone, PartialEq)]
pub struct ParRecord {
    /// `urn:ietf:params:oauth:request_uri:<random>`.
    pub request_uri: String,
    pub client_id: String,
    /// The pushed parameters as a JSON object.
    pub params: serde_json::Value,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
}

/// Result of [`Store::use_par_request`].
#[derive(Debug, Clone, PartialEq)]
pub enum ParUse {
    /// First use by its own client before expiry: the request (now marked used).
    Used(ParRecord),
    NotFound,
    /// Another client's request_uri (RFC 9126 §4: bound to its client); not consumed.
    WrongClient,
    Expired,
    AlreadyUsed,
}

/// Result of [`Store::approve_consent`].
#[derive(Debug, Clone, PartialEq)]
pub enum Approval {
    /// The request_uri is consumed, the consent saved AUTHORIZED and the code stored, together.
    Approved,
    /// The request_uri could not be used (never [`ParUse::Used`]): nothing changed.
    Refused(ParUse),
    /// The consent was no longer PENDING: nothing changed.
    ConsentChanged,
}

/// What [`Store::approve_consent`] commits as one transaction: the end of a confirmed authorization.
#[derive(Debug, Clone, Copy)]
pub struct ConsentApproval<'a> {
    /// The request_uri to consume, for `client_id` (as [`Store::use_par_request`]).
    pub request_uri: &'a str,
    pub client_id: &'a str,
    /// The consent as authorized (saved as [`Store::update_consent`] does, expected PENDING).
    pub consent: &'a Consent,
    /// The code issued for it.
    pub code: &'a CodeRecord,
    pub now: OffsetDateTime,
}

/// An authorization code (stored as a hash).
#[derive(Debug, Clone, PartialEq)]
pub struct CodeRecord {
    pub code_hash: TokenHash,
    pub client_id: String,
    pub consent_id: String,
    /// RFC 7636 S256 `code_challenge`.
    pub pkce_challenge: String,
    pub redirect_uri: String,
    /// RFC 9449 §10 `dpop_jkt` from the PAR request, when given.
    pub dpop_jkt: Option<String>,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
}

/// Result of [`Store::redeem_code`].
#[derive(Debug, Clone, PartialEq)]
pub enum CodeRedemption {
    /// First redemption before expiry: the code (now marked used).
    Redeemed(CodeRecord),
    /// The code had been redeemed before (RFC 6749 §4.1.2): refused, and every token issued from it was revoked in
    /// the same transaction (`tokens_revoked` of them); tokens can no longer be issued from it.
    Replayed {
        code: CodeRecord,
        tokens_revoked: u64,
    },
    /// Presented after its expiry (now marked used).
    Expired(CodeRecord),
    /// Issued to another client (RFC 6749 §4.1.3); not consumed.
    WrongClient,
    NotFound,
}

/// Access or refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
        }
    }

    pub fn parse(s: &str) -> Option<TokenKind> {
        match s {
            "access" => Some(Self::Access),
            "refresh" => Some(Self::Refresh),
            _ => None,
        }
    }
}

/// What a token is bound to (its `cnf` claim).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TokenBinding {
    /// Plain bearer token (sandbox profile only).
    Bearer,
    /// RFC 9449 DPoP: `cnf.jkt`.
    Dpop { jkt: String },
    /// RFC 8705 certificate-bound: `cnf.x5t#S256`.
    Mtls { x5t_s256: String },
}

/// An issued token (stored as a hash).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    pub token_hash: TokenHash,
    pub kind: TokenKind,
    pub client_id: String,
    /// `None` for `client_credentials` tokens, which carry no consent.
    pub consent_id: Option<String>,
    pub scope: String,
    pub binding: TokenBinding,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    /// The authorization code it was issued from (for revocation on code reuse).
    pub parent_code: Option<TokenHash>,
}

impl TokenRecord {
    /// Not revoked and not expired at `now` (the consent's own state is checked separately).
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// The bank's tokens for one consent (the gateway is the bank's OAuth client). Sealed at rest.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankTokens {
    pub bank: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    #[serde(with = "time::serde::timestamp::option")]
    pub expires_at: Option<OffsetDateTime>,
    pub scope: String,
}

impl fmt::Debug for BankTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BankTokens")
            .field("bank", &self.bank)
            .field("access_token", &"<hidden>")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "<hidden>"))
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .finish()
    }
}

/// Which replay cache a `jti` belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JtiKind {
    /// RFC 7523 client assertion `jti` (issuer: the client_id).
    ClientAssertion,
    /// RFC 9449 DPoP proof `jti` (issuer: the key's `jkt`).
    DpopProof,
}

impl JtiKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientAssertion => "client_assertion",
            Self::DpopProof => "dpop",
        }
    }
}

/// Result of [`Store::revoke_consent`].
#[derive(Debug, Clone, PartialEq)]
pub enum ConsentRevocationOutcome {
    /// Revoked now; `tokens_revoked` tokens stopped working in the same transaction.
    Revoked {
        consent: Consent,
        tokens_revoked: u64,
    },
    NotFound,
    /// The lifecycle refused (already revoked or expired).
    Refused(LifecycleError),
}

/// How an access to the resource API ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditOutcome {
    /// Data was returned.
    Served,
    /// The gateway refused (account or cluster outside the consent, bad input, rate limit, revoked meanwhile).
    Denied,
    /// The bank failed or could not be reached.
    Failed,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Served => "served",
            Self::Denied => "denied",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<AuditOutcome> {
        [Self::Served, Self::Denied, Self::Failed].into_iter().find(|o| o.as_str() == s)
    }
}

/// One access to the resource API by an app, under a consent (DESIGN.md flow 4: "each access is appended to the
/// audit log"; the person's dashboard shows who read what, when).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// Assigned by the store (append order); ignored on append.
    pub seq: i64,
    pub at: OffsetDateTime,
    pub client_id: String,
    pub consent_id: String,
    pub bank: String,
    pub person: String,
    /// The endpoint's short name (`accounts`, `transactions`, ...; `fdx::table::ENDPOINTS`).
    pub endpoint: String,
    pub account_id: Option<String>,
    /// The consent's clusters the endpoint drew on.
    pub clusters: Vec<crate::consent::DataCluster>,
    /// The HTTP status the app got.
    pub status: u16,
    pub outcome: AuditOutcome,
    pub interaction_id: String,
}

/// An app's FDX notification subscription under one consent (issue 5; FDX 6.2 `NotificationSubscriptionentity`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    pub id: String,
    pub consent_id: String,
    pub client_id: String,
    /// FDX `NotificationType` (e.g. `RISK`).
    pub notification_type: String,
    /// FDX `NotificationCategory1` (e.g. `FRAUD`).
    pub category: String,
    pub callback_url: String,
    pub created_at: OffsetDateTime,
}

/// A notification accepted for a consent, as the app sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// Assigned by the store (acceptance order, the polling cursor); ignored by [`Store::enqueue_event`].
    pub seq: i64,
    pub consent_id: String,
    /// The bank's `notificationId` (idempotency key per consent).
    pub notification_id: String,
    /// FDX `NotificationType`.
    pub notification_type: String,
    /// The FDX `Notificationentity` JSON the app receives.
    pub body: serde_json::Value,
    pub received_at: OffsetDateTime,
    pub acked_at: Option<OffsetDateTime>,
}

/// What [`Store::enqueue_event`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnqueueOutcome {
    /// Stored, with one pending delivery per matching subscription.
    New { deliveries: u64 },
    /// The consent already has an event with this `notificationId`: nothing changed.
    Duplicate,
}

/// Where a webhook delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    Pending,
    Delivered,
    /// Attempts exhausted or refused for good: on the subscription's dead-letter list.
    Dead,
    /// The consent was revoked or expired before it went out.
    Cancelled,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryState> {
        [Self::Pending, Self::Delivered, Self::Dead, Self::Cancelled].into_iter().find(|d| d.as_str() == s)
    }
}

/// A pending delivery with everything the delivery worker needs to send it (one batch read, no further lookups).
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryJob {
    /// Global enqueue order (the worker's cursor).
    pub id: i64,
    pub subscription_id: String,
    pub consent_id: String,
    pub client_id: String,
    pub callback_url: String,
    pub notification_id: String,
    pub notification_type: String,
    /// Order within the subscription.
    pub seq: i64,
    pub attempts: u32,
    /// Gateway clock, millisecond precision.
    pub next_attempt_at: OffsetDateTime,
    /// The event as the app sees it.
    pub body: serde_json::Value,
}

/// One delivery as the dead-letter list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    pub subscription_id: String,
    pub notification_id: String,
    pub seq: i64,
    pub attempts: u32,
    pub state: DeliveryState,
    pub last_error: Option<String>,
    /// When the state last changed (gateway clock, millisecond precision).
    pub updated_at: OffsetDateTime,
    pub body: serde_json::Value,
}

/// The result of one delivery attempt, as [`Store::record_attempt`] saves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// Failed; try again at `next_attempt_at`.
    Retry {
        next_attempt_at: OffsetDateTime,
        error: String,
    },
    /// Failed for good.
    Dead {
        error: String,
    },
    /// Not sent: the consent is no longer active.
    Cancelled,
}

/// Where the gateway's subscribing at a consent's bank stands (issue 5, [`crate::banks::notifications`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BankSubscribingState {
    /// Under way (or interrupted by a stop of the gateway: the subscriptions recorded so far are kept).
    Pending,
    /// Every topic was subscribed.
    Subscribed,
    /// Some or all topics could not be subscribed.
    Failed,
    /// The subscriptions were deleted at a revocation, or the bank ended them; never subscribed again.
    Ended,
}

impl BankSubscribingState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Subscribed => "subscribed",
            Self::Failed => "failed",
            Self::Ended => "ended",
        }
    }

    pub fn parse(s: &str) -> Option<BankSubscribingState> {
        [Self::Pending, Self::Subscribed, Self::Failed, Self::Ended].into_iter().find(|v| v.as_str() == s)
    }
}

/// One FDX notification subscription the gateway holds at a bank for a consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankSubscriptionRecord {
    /// The bank's `subscriptionId`.
    pub subscription_id: String,
    /// FDX `NotificationType`.
    pub notification_type: String,
    /// FDX `NotificationCategory1`.
    pub category: String,
    pub created_at: OffsetDateTime,
}

/// The gateway's subscriptions at a consent's bank, and where subscribing stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankSubscriptions {
    pub consent_id: String,
    pub state: BankSubscribingState,
    /// Why subscribing failed (state `Failed`). Never holds a token.
    pub error: Option<String>,
    /// The subscriptions the bank holds, oldest first (none once `Ended`).
    pub subscriptions: Vec<BankSubscriptionRecord>,
    pub updated_at: OffsetDateTime,
}

/// Everything the gateway persists. Implementations must make each method atomic and durable once it returns `Ok`
/// (except where a method says its durability is relaxed).
/// [`Store::token_and_consent_active`] through [`Store::token`] and [`Store::consent`].
pub async fn token_and_consent_read_active<S: Store + ?Sized>(
    store: &S,
    token_hash: &TokenHash,
    consent_id: &str,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let token = store.token(token_hash).await?;
    let consent = store.consent(consent_id).await?;
    Ok(token.is_some_and(|t| t.is_active(now)) && consent.is_some_and(|c| c.is_active(now)))
}

#[async_trait::async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    // Clients (RFC 7591 / 7592).
    /// Fails with [`StoreError::Duplicate`] when the client_id exists.
    async fn insert_client(&self, client: &ClientRecord) -> Result<(), StoreError>;
    async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError>;
    /// Replaces metadata, registration token hash, profile and `updated_at`; false when there is no such client.
    async fn update_client(&self, client: &ClientRecord) -> Result<bool, StoreError>;
    /// Deletes the client and, by cascade, its PAR requests, consents, codes and tokens.
    async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError>;
    async fn list_clients(&self) -> Result<Vec<ClientRecord>, StoreError>;

    // PAR (RFC 9126).
    async fn insert_par_request(&self, par: &ParRecord) -> Result<(), StoreError>;
    /// Reads without consuming (e.g. to render the consent page).
    async fn par_request(&self, request_uri: &str) -> Result<Option<ParRecord>, StoreError>;
    /// Atomically consumes the request for `client_id` (single use, bound to its client, before expiry).
    async fn use_par_request(
        &self,
        request_uri: &str,
        client_id: &str,
        now: OffsetDateTime,
    ) -> Result<ParUse, StoreError>;

    // Consents.
    async fn insert_consent(&self, consent: &Consent) -> Result<(), StoreError>;
    /// Stores a PENDING `consent` and the tokens its bank issued for it (as [`put_bank_tokens`]
    /// (Store::put_bank_tokens) does) in one transaction: never a consent without its bank tokens.
    async fn insert_pending_consent(
        &self,
        consent: &Consent,
        bank_tokens: &BankTokens,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// The confirmed end of an authorization, all or nothing: consumes the request_uri (as
    /// [`use_par_request`](Store::use_par_request)), saves the consent as authorized if it is still PENDING (as
    /// [`update_consent`](Store::update_consent)), stores the code (as [`insert_code`](Store::insert_code)) and
    /// begins the consent's subscribing at its bank (as [`begin_bank_subscribing`](Store::begin_bank_subscribing):
    /// an authorized consent is subscribed next, and one commit does both). A refusal of either check changes
    /// nothing.
    async fn approve_consent(&self, approval: ConsentApproval<'_>) -> Result<Approval, StoreError>;
    /// The consent with its revocation history.
    async fn consent(&self, id: &str) -> Result<Option<Consent>, StoreError>;
    /// Saves `consent` (everything but its revocation history) if its stored status is still `expected`
    /// (compare-and-set); false otherwise. Revocation goes through [`revoke_consent`](Store::revoke_consent).
    async fn update_consent(
        &self,
        consent: &Consent,
        expected: crate::consent::ConsentStatus,
    ) -> Result<bool, StoreError>;
    /// A person's consents at a bank, newest first (the dashboard).
    async fn consents_for_person(&self, bank: &str, person: &str) -> Result<Vec<Consent>, StoreError>;
    async fn consents_for_client(&self, client_id: &str) -> Result<Vec<Consent>, StoreError>;
    /// Applies the lifecycle's revocation rule and, in the same transaction, revokes every token of the consent,
    /// consumes its unredeemed codes and cancels its pending webhook deliveries (as
    /// [`cancel_deliveries`](Store::cancel_deliveries) does).
    async fn revoke_consent(
        &self,
        id: &str,
        reason: RevocationReason,
        initiator: Initiator,
        now: OffsetDateTime,
    ) -> Result<ConsentRevocationOutcome, StoreError>;

    // Authorization codes.
    async fn insert_code(&self, code: &CodeRecord) -> Result<(), StoreError>;
    /// Atomically redeems a code for `client_id` (see [`CodeRedemption`]).
    async fn redeem_code(
        &self,
        code_hash: &TokenHash,
        client_id: &str,
        now: OffsetDateTime,
    ) -> Result<CodeRedemption, StoreError>;

    // Tokens.
    /// Stores a newly issued token. Refused with [`StoreError::ConsentNotActive`] when its consent is not
    /// AUTHORIZED or has expired at `issued_at`, and with [`StoreError::CodeReplayed`] when its parent code was
    /// replayed.
    async fn insert_token(&self, token: &TokenRecord) -> Result<(), StoreError>;
    /// Stores tokens issued together (an access token and its refresh token), all or none: each is checked as
    /// [`insert_token`](Store::insert_token) checks before any is written.
    async fn insert_tokens(&self, tokens: &[TokenRecord]) -> Result<(), StoreError>;
    async fn token(&self, token_hash: &TokenHash) -> Result<Option<TokenRecord>, StoreError>;
    /// Whether the token and the consent both exist and are active at `now`, as read after every acknowledged
    /// write (the resource API's last check, under the revocation gate). An implementation with exact read caches
    /// answers from them without copying the records.
    async fn token_and_consent_active(
        &self,
        token_hash: &TokenHash,
        consent_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        token_and_consent_read_active(self, token_hash, consent_id, now).await
    }
    /// RFC 7009: true when the token was active and is now revoked.
    async fn revoke_token(&self, token_hash: &TokenHash, now: OffsetDateTime) -> Result<bool, StoreError>;

    // Bank tokens (sealed at rest).
    /// Stores (or replaces) the bank tokens of a consent, sealed with the consent id as associated data.
    async fn put_bank_tokens(
        &self,
        consent_id: &str,
        tokens: &BankTokens,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    async fn bank_tokens(&self, consent_id: &str) -> Result<Option<BankTokens>, StoreError>;
    /// Deletes the bank tokens of a consent (once revoked at the bank); true when there were some.
    async fn delete_bank_tokens(&self, consent_id: &str) -> Result<bool, StoreError>;

    // The access log.
    /// Appends one record (its `seq` is given by the store). Relaxed durability (like
    /// [`remember_jti`](Store::remember_jti)): written once `Ok` and surviving a crash of the process; an
    /// implementation may skip the flush to stable storage. Every record acknowledged is in the reads that follow.
    async fn append_audit(&self, record: AuditRecord) -> Result<(), StoreError>;
    /// The newest `limit` records of a consent, newest first. The consent's `subject` (who authorized it) is
    /// given because the log is indexed by person only: a consent's records are a subset of its person's (one index
    /// less to write per record on the resource API's hot path, migration 0007).
    async fn audit_of_consent(
        &self,
        subject: &ConsentSubject,
        consent_id: &str,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError>;
    /// The newest `limit` records about a person at a bank (every app, every consent), newest first.
    async fn audit_of_person(&self, bank: &str, person: &str, limit: u32) -> Result<Vec<AuditRecord>, StoreError>;

    // Notifications (issue 5).
    /// Fails with [`StoreError::Missing`] when the consent does not exist.
    async fn insert_subscription(&self, subscription: &SubscriptionRecord) -> Result<(), StoreError>;
    async fn subscription(&self, id: &str) -> Result<Option<SubscriptionRecord>, StoreError>;
    /// Deletes the subscription and its deliveries (pending and dead); false when there was none.
    async fn delete_subscription(&self, id: &str) -> Result<bool, StoreError>;
    /// Stores `event` and, in the same transaction, one pending delivery (due at `now`) for every subscription of
    /// its consent to its type and `category`, numbered after the subscription's earlier deliveries. Idempotent by
    /// `(consent_id, notification_id)`. Durable once `Ok` (full durability: an acknowledged event is never lost).
    /// `placed` is dropped as soon as the write has its place in the commit order (queued behind every write
    /// before it, or committed), and on any error: callers use it to keep an order across concurrent enqueues
    /// ([`crate::events::sequence`]).
    async fn enqueue_event(
        &self,
        event: &EventRecord,
        category: &str,
        now: OffsetDateTime,
        placed: Placement,
    ) -> Result<EnqueueOutcome, StoreError>;
    /// The consent's unacknowledged events with `seq > after`, oldest first, at most `limit`.
    async fn unacked_events(&self, consent_id: &str, after: i64, limit: u32) -> Result<Vec<EventRecord>, StoreError>;
    async fn count_unacked_events(&self, consent_id: &str) -> Result<u64, StoreError>;
    /// Marks the consent's events with these `notificationId`s acknowledged; returns how many changed (unknown or
    /// already acknowledged ids are ignored).
    async fn ack_events(&self, consent_id: &str, ids: &[String], now: OffsetDateTime) -> Result<u64, StoreError>;
    /// Pending deliveries with `id > after`, in `id` order (so in `seq` order per subscription), at most `limit`.
    /// The delivery worker reads new deliveries with the largest `id` it has seen as `after`, so an implementation
    /// must never make a delivery visible after one with a larger `id` (SQLite: one writer, ids in commit order; a
    /// PostgreSQL implementation must keep that, e.g. by taking ids under a lock or in commit order).
    async fn pending_deliveries_after(&self, after: i64, limit: u32) -> Result<Vec<DeliveryJob>, StoreError>;
    /// Saves an attempt's outcome of the delivery `id` (counting it, except for `Cancelled`) if it is still pending
    /// (a revocation's cancellation wins). Relaxed durability like [`append_audit`](Store::append_audit): a lost
    /// update means one more delivery, which at-least-once allows.
    async fn record_attempt(&self, id: i64, outcome: &AttemptOutcome, now: OffsetDateTime) -> Result<(), StoreError>;
    /// The subscription's dead deliveries, oldest first, at most `limit`.
    async fn dead_deliveries(&self, subscription_id: &str, limit: u32) -> Result<Vec<DeliveryRecord>, StoreError>;
    /// Cancels the consent's pending deliveries, except those of `CONSENT_REVOKED` events (the news of the
    /// revocation itself); returns how many. [`revoke_consent`](Store::revoke_consent) does this in its own
    /// transaction; this is for expiry and clean-up.
    async fn cancel_deliveries(&self, consent_id: &str, now: OffsetDateTime) -> Result<u64, StoreError>;

    // The gateway's own subscriptions at banks (issue 5).
    /// Starts subscribing for a consent: state `Pending`, no error, subscriptions recorded earlier kept. Fails with
    /// [`StoreError::Missing`] when the consent does not exist; false (nothing changed) when the consent's
    /// subscriptions were ended: a revoked consent never subscribes again.
    async fn begin_bank_subscribing(&self, consent_id: &str, now: OffsetDateTime) -> Result<bool, StoreError>;
    /// Records one subscription the bank created, while subscribing is `Pending`; false (not recorded) otherwise, in
    /// particular when a revocation ended the consent's subscriptions meanwhile (the caller then deletes it at the
    /// bank itself).
    async fn add_bank_subscription(
        &self,
        consent_id: &str,
        subscription: &BankSubscriptionRecord,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// [`add_bank_subscription`](Store::add_bank_subscription) of the last topic with
    /// [`settle_bank_subscribing`](Store::settle_bank_subscribing) as `Subscribed`, in one transaction: nothing of it
    /// when subscribing is not pending.
    async fn add_last_bank_subscription(
        &self,
        consent_id: &str,
        subscription: &BankSubscriptionRecord,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Ends a `Pending` subscribing: `Subscribed` without `error`, `Failed` with it. False when it was not pending
    /// (an `Ended` record stays ended).
    async fn settle_bank_subscribing(
        &self,
        consent_id: &str,
        error: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// The consent's record, if subscribing was ever started or ended for it.
    async fn bank_subscriptions(&self, consent_id: &str) -> Result<Option<BankSubscriptions>, StoreError>;
    /// Marks the consent's subscribing `Ended` (creating the record if there was none, so a subscribing that starts
    /// later does nothing) and removes its subscriptions, returning them, in one transaction: of two racing callers
    /// exactly one gets them (each is deleted at the bank once). Empty when the consent does not exist.
    async fn end_bank_subscriptions(
        &self,
        consent_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<BankSubscriptionRecord>, StoreError>;

    // Replay caches.
    /// Remembers `(kind, issuer, jti)` until `expires_at`; true when it was new, false when it is a replay.
    /// Entries expired at `now` are purged first, so an expired entry does not block. Relaxed durability: committed
    /// once `Ok` (every later call sees it), but an implementation may skip the flush to stable storage, since an
    /// entry matters for at most its 60 s window.
    async fn remember_jti(
        &self,
        kind: JtiKind,
        issuer: &str,
        jti: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Drops expired jti entries and PAR requests, and codes expired more than a day ago; returns rows removed.
    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hashes_match_only_their_secret_and_round_trip_as_hex() {
        let h = TokenHash::of("secret-token");
        assert!(h.matches("secret-token"));
        assert!(!h.matches("secret-tokeN"));
        assert_eq!(TokenHash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(TokenHash::from_hex("abcd"), None);
        assert!(!format!("{h:?}").contains("secret"));
    }

    #[test]
    fn bank_tokens_never_print() {
        let t = BankTokens {
            bank: "b".into(),
            access_token: "AT-123".into(),
            refresh_token: Some("RT-456".into()),
            expires_at: None,
            scope: "fdx:accountbasic:read".into(),
        };
        let shown = format!("{t:?}");
        assert!(!shown.contains("AT-123") && !shown.contains("RT-456"), "{shown}");
        assert!(shown.contains("<hidden>"));
    }
}
