//! The rules of the bank's authorization server: clients, authorization codes, consents and tokens.
//!
//! Handlers (`pages`, `token`) are thin and call into [`AuthServer`]. Everything time-related reads the bank's
//! simulated clock. Tokens, codes and session ids are random 256-bit values kept only as SHA-256 hashes, in memory
//! for the hot path ([`AuthServer::authenticate_bearer`] is a hash-map lookup) and in SQLite for restarts. A write is
//! persisted before the bank acknowledges it; a revocation takes effect in memory first, so no token of a revoked
//! consent reads another byte even while the write is in flight. Never logs or prints a secret.
//!
//! Every token response names the person with a pairwise `sub` (OpenID Connect Core 1.0 §8.1, derivation in
//! `subject`): the same for one customer and one client across all consents, refreshes and sign-ins.
//!
//! A sign-in only (`scope=openid`, OIDC Core §3.1.2.1) ends in [`AuthServer::sign_in_tokens`]: a token response with
//! `sub`, `scope=openid`, no refresh token, `consent_id: ""` and `account_ids: []` (empty rather than absent, so
//! clients that read those members of a data consent parse it unchanged). No consent is recorded, and the access
//! token is never entered into the bearer index nor stored: RFC 6749 §5.1 requires one in the response, but it
//! opens nothing at this bank (every FDX call with it answers 401), and revoking it is revoking an unknown token.
//!
//! [`sandbox_login`] is the rule behind the sandbox-only extension grant (RFC 6749 §4.5)
//! `urn:bankgate:params:oauth:grant-type:sandbox-login`: the certificate-authenticated client hands over a test
//! user's public sandbox credentials and gets the same consent and tokens the login pages plus the code exchange
//! would have produced. It exists only because this bank is a sandbox whose test passwords are published; it has no
//! attempt counter (the login pages' limits protect a person's browser session, and there is no session here).

use super::{
    BankConsent, BankGrant, DataCluster, OAuthClient,
    error::AuthError,
    persist::{self, StoredConsent, StoredToken, TokenKind},
    scopes::{self, RequestedScope},
    secrets,
    sessions::SessionBook,
    subject::PairwiseSubjects,
    uri,
};
use crate::{
    clock::SimClock,
    ledger::{
        model::Persona,
        users::{self, ChosenError},
    },
    profile::SharingParties,
    state::BankState,
    store::BankStore,
};
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use time::{Duration, OffsetDateTime};

/// Access tokens live 30 minutes of simulated time (capped by the consent's end).
pub const ACCESS_TOKEN_TTL: Duration = Duration::seconds(1800);
/// Authorization codes live 60 seconds of simulated time (RFC 6749 §4.1.2 recommends at most 10 minutes).
pub const CODE_TTL: Duration = Duration::seconds(60);
/// Used and expired codes are remembered this long (simulated) to detect reuse (RFC 6749 §4.1.2).
const CODE_MEMORY: Duration = Duration::minutes(10);
/// Consent duration when the request names none, and the most allowed (CFPB 1033: at most one year).
pub const MAX_CONSENT_DAYS: u16 = 365;
/// Most authorization codes remembered at once (outstanding, or used or expired within [`CODE_MEMORY`]). A used
/// code keeps only what reuse detection needs (its client, the consent issued from it: estimated at about 150 bytes
/// with the map's share, not measured), so the bound is about 150 MB of memory and lets a bank complete 1,000 authorizations a second for
/// the whole memory window. It was 10,000 codes: with the clock ticking, a bank refused new authorizations
/// (`temporarily_unavailable`) past 15 a second sustained, and under a frozen clock after 10,000 in all.
const MAX_CODES: usize = 1_000_000;
/// How often (in issued codes) codes past [`CODE_MEMORY`] are swept from memory, besides when the map is full.
const CODE_SWEEP_EVERY: u64 = 1024;
/// Most clients one bank keeps, and redirect URIs per client.
const MAX_CLIENTS: usize = 1_000;
const MAX_REDIRECT_URIS: usize = 10;
/// How often (in issued tokens) expired access tokens are swept from memory.
const SWEEP_EVERY: u64 = 1024;

/// What the person approved at the bank (signed in, and for a data consent chose accounts), waiting for the client
/// to redeem the code.
#[derive(Debug, Clone)]
pub(crate) struct ApprovedGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub customer_index: u32,
    /// What the person agreed to share; `None` for a sign-in only (`scope=openid`): no consent, no data.
    pub sharing: Option<SharingTerms>,
}

/// The terms of a data-sharing consent the person approved.
#[derive(Debug, Clone)]
pub(crate) struct SharingTerms {
    pub account_ids: Vec<String>,
    pub clusters: Vec<DataCluster>,
    pub purposes: Vec<String>,
    pub platform: Option<String>,
    pub chosen_error: Option<ChosenError>,
    pub duration_days: u16,
}

#[derive(Debug)]
enum Redemption {
    /// Not redeemed yet: what the person approved.
    Unused(Box<ApprovedGrant>),
    /// Redeemed once; `consent_id` once the consent exists; `reused` when a second redemption came meanwhile. The
    /// grant is dropped at the first redemption (only reuse detection needs the code after it).
    Used { consent_id: Option<String>, reused: bool },
}

/// Outcome of [`AuthServer::redeem_code`].
enum Redeem {
    Grant(ApprovedGrant),
    Refused(AuthError),
    /// The code had been redeemed before; the consent issued from it, if any yet.
    Reused(Option<String>),
}

#[derive(Debug)]
struct CodeRecord {
    /// The client the code was issued to.
    client_id: String,
    expires_at: OffsetDateTime,
    redemption: Redemption,
}

#[derive(Debug, Clone)]
struct TokenRecord {
    kind: TokenKind,
    consent_id: String,
    client_id: String,
    clusters: Vec<DataCluster>,
    expires_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
struct ConsentEntry {
    consent: BankConsent,
    chosen_error: Option<ChosenError>,
}

/// RFC 6749 §5.1 successful token response, plus the pairwise `sub` (OIDC Core §8.1) and the bank's `consent_id`
/// and `account_ids`.
#[derive(Clone, serde::Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    /// Absent for a sign-in only (there is no consent to keep reading).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
    /// Who the person is, for this client (module docs of `subject`).
    pub sub: String,
    /// Empty for a sign-in only.
    pub consent_id: String,
    /// Empty for a sign-in only.
    pub account_ids: Vec<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"<hidden>")
            .field("refresh_token", &"<hidden>")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("sub", &self.sub)
            .field("consent_id", &self.consent_id)
            .finish()
    }
}

/// The bank's OAuth 2.0 authorization server (for the gateway as its client).
pub struct AuthServer {
    store: BankStore,
    clock: Arc<SimClock>,
    issuer: String,
    clients: RwLock<HashMap<String, OAuthClient>>,
    consents: RwLock<HashMap<String, ConsentEntry>>,
    /// Keyed by SHA-256 of the token.
    tokens: RwLock<HashMap<[u8; 32], TokenRecord>>,
    /// Keyed by SHA-256 of the code.
    codes: Mutex<HashMap<[u8; 32], CodeRecord>>,
    /// Codes issued since start (drives the sweep of forgotten codes).
    codes_issued: AtomicU64,
    /// Tokens issued since start (drives the sweep of expired access tokens).
    issued: AtomicU64,
    pub(crate) sessions: SessionBook,
}

impl std::fmt::Debug for AuthServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthServer")
            .field("issuer", &self.issuer)
            .field("clients", &read(&self.clients).len())
            .field("consents", &read(&self.consents).len())
            .field("tokens", &format_args!("<{} hidden>", read(&self.tokens).len()))
            .field("sessions", &self.sessions)
            .finish()
    }
}

// The maps below are only changed by single inserts, removals or field assignments, so a lock poisoned by a panic
// elsewhere still guards consistent data: recover it rather than propagate the panic.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}
fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}
fn lock<T>(lock: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whole seconds: what the store keeps, so a reloaded consent equals the one handed out.
fn whole_seconds(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(0).unwrap_or(at)
}

/// Valid client ids double as certificate common names (RFC 8705 §2.1.2): printable, no spaces, 1-128 characters.
fn client_id_problem(client_id: &str) -> Option<&'static str> {
    let ok = (1..=128).contains(&client_id.len())
        && client_id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    (!ok).then_some("client_id must be 1-128 characters of letters, digits, '-', '_', '.', ':'")
}

impl AuthServer {
    /// Loads persisted clients, consents and (hashed) tokens into memory, then registers `clients` (replacing the
    /// redirect URIs of a client already known).
    pub async fn open(
        store: BankStore,
        clock: Arc<SimClock>,
        issuer: String,
        clients: Vec<OAuthClient>,
    ) -> anyhow::Result<Self> {
        let pool = store.pool();
        let known = persist::load_clients(pool).await?;
        let consents = persist::load_consents(pool).await?;
        let tokens = persist::load_live_tokens(pool).await?;
        let now = clock.now();
        let consents: HashMap<String, ConsentEntry> = consents
            .into_iter()
            .map(|c| (c.consent.consent_id.clone(), ConsentEntry { consent: c.consent, chosen_error: c.chosen_error }))
            .collect();
        let tokens = tokens
            .into_iter()
            .filter(|t| t.kind == TokenKind::Refresh || t.expires_at > now)
            .filter(|t| consents.get(&t.consent_id).is_some_and(|c| c.consent.revoked_at.is_none()))
            .map(|t| {
                let record = TokenRecord {
                    kind: t.kind,
                    consent_id: t.consent_id,
                    client_id: t.client_id,
                    clusters: t.clusters,
                    expires_at: t.expires_at,
                };
                (t.hash, record)
            })
            .collect();
        let server = Self {
            store,
            clock,
            issuer,
            clients: RwLock::new(known.into_iter().map(|c| (c.client_id.clone(), c)).collect()),
            consents: RwLock::new(consents),
            tokens: RwLock::new(tokens),
            codes: Mutex::new(HashMap::new()),
            codes_issued: AtomicU64::new(0),
            issued: AtomicU64::new(0),
            sessions: SessionBook::default(),
        };
        for client in clients {
            server.register_client(client).await.map_err(|e| anyhow::anyhow!("cannot register OAuth client: {e}"))?;
        }
        Ok(server)
    }

    /// The issuer identifier (RFC 9207 `iss`): the login listener's base URL.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub(crate) fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Register a client, or replace the redirect URIs of a registered one. Persisted.
    pub async fn register_client(&self, client: OAuthClient) -> Result<(), AuthError> {
        if let Some(problem) = client_id_problem(&client.client_id) {
            return Err(AuthError::InvalidClientMetadata(problem.into()));
        }
        if client.redirect_uris.is_empty() || client.redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(AuthError::InvalidRedirectUri(format!("register 1-{MAX_REDIRECT_URIS} redirect URIs")));
        }
        if let Some(problem) = client.redirect_uris.iter().find_map(|u| uri::redirect_uri_problem(u)) {
            return Err(AuthError::InvalidRedirectUri(problem.into()));
        }
        {
            let clients = read(&self.clients);
            if clients.len() >= MAX_CLIENTS && !clients.contains_key(&client.client_id) {
                return Err(AuthError::InvalidClientMetadata(format!("the bank keeps at most {MAX_CLIENTS} clients")));
            }
        }
        persist::upsert_client(self.store.writer(), &client).await.map_err(AuthError::storage)?;
        write(&self.clients).insert(client.client_id.clone(), client);
        Ok(())
    }

    /// A registered client.
    pub fn client(&self, client_id: &str) -> Option<OAuthClient> {
        read(&self.clients).get(client_id).cloned()
    }

    /// Hot path of every FDX call: the grant behind a bearer access token (RFC 6750 §2.1).
    ///
    /// The token is looked up by its SHA-256 in memory: timing can only tell something about the hash, and a
    /// preimage of a 256-bit hash is out of reach, so the raw token's bytes are never compared with anything.
    pub fn authenticate_bearer(&self, access_token: &str) -> Result<BankGrant, AuthError> {
        let invalid = |why: &str| AuthError::InvalidToken(why.into());
        if access_token.is_empty() || access_token.len() > 256 {
            return Err(invalid("the access token is not valid"));
        }
        let record = read(&self.tokens).get(&secrets::sha256(access_token)).cloned();
        let Some(record) = record.filter(|r| r.kind == TokenKind::Access) else {
            return Err(invalid("the access token is not valid"));
        };
        let now = self.clock.now();
        if record.expires_at <= now {
            return Err(invalid("the access token has expired"));
        }
        let consents = read(&self.consents);
        let Some(entry) = consents.get(&record.consent_id) else {
            return Err(invalid("the access token is not valid"));
        };
        let consent = &entry.consent;
        if consent.revoked_at.is_some() {
            return Err(invalid("the consent behind this token has been revoked"));
        }
        if consent.expires_at <= now {
            return Err(invalid("the consent behind this token has expired"));
        }
        Ok(BankGrant {
            consent_id: consent.consent_id.clone(),
            client_id: consent.client_id.clone(),
            customer_index: consent.customer_index,
            account_ids: consent.account_ids.clone(),
            clusters: record.clusters,
            purposes: consent.purposes.clone(),
            platform: consent.platform.clone(),
            chosen_error: entry.chosen_error.clone(),
            expires_at: consent.expires_at,
        })
    }

    /// Every consent a customer has given at this bank (active, expired and revoked), newest first.
    pub fn consents_of(&self, customer_index: u32) -> Vec<BankConsent> {
        let mut found: Vec<BankConsent> = read(&self.consents)
            .values()
            .filter(|e| e.consent.customer_index == customer_index)
            .map(|e| e.consent.clone())
            .collect();
        found.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.consent_id.cmp(&b.consent_id)));
        found
    }

    pub fn consent(&self, consent_id: &str) -> Option<BankConsent> {
        read(&self.consents).get(consent_id).map(|e| e.consent.clone())
    }

    /// The person revokes at the bank: every token of the consent stops working at once. Persisted. `Ok(false)`
    /// when there is no such consent; revoking twice keeps the first revocation time.
    pub async fn revoke_consent(&self, consent_id: &str) -> Result<bool, AuthError> {
        let now = whole_seconds(self.clock.now());
        {
            let mut consents = write(&self.consents);
            let Some(entry) = consents.get_mut(consent_id) else { return Ok(false) };
            if entry.consent.revoked_at.is_none() {
                entry.consent.revoked_at = Some(now);
            }
        }
        write(&self.tokens).retain(|_, t| t.consent_id != consent_id);
        persist::revoke_consent(self.store.writer(), consent_id, now).await.map_err(AuthError::storage)?;
        Ok(true)
    }

    /// Issue a single-use authorization code for what the person approved (RFC 6749 §4.1.2).
    pub(crate) fn issue_code(&self, grant: ApprovedGrant) -> Result<String, AuthError> {
        let code = secrets::random_token()?;
        let now = self.clock.now();
        let issued = self.codes_issued.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let mut codes = lock(&self.codes);
        if codes.len() >= MAX_CODES || issued.is_multiple_of(CODE_SWEEP_EVERY) {
            codes.retain(|_, c| c.expires_at + CODE_MEMORY > now);
        }
        if codes.len() >= MAX_CODES {
            return Err(AuthError::TemporarilyUnavailable("too many authorizations in progress".into()));
        }
        let record = CodeRecord {
            client_id: grant.client_id.clone(),
            expires_at: now + CODE_TTL,
            redemption: Redemption::Unused(Box::new(grant)),
        };
        codes.insert(secrets::sha256(&code), record);
        Ok(code)
    }

    /// RFC 6749 §4.1.3 + RFC 7636 §4.6: redeem an authorization code for tokens (a new consent, or for a sign-in
    /// only the `sub` alone). The client is already authenticated (RFC 8705) as `client_id`.
    pub(crate) async fn exchange_code(
        &self,
        subjects: &PairwiseSubjects,
        client_id: &str,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> Result<TokenResponse, AuthError> {
        let invalid = |why: &str| AuthError::InvalidGrant(why.into());
        if code.len() > 256 {
            return Err(invalid("the authorization code is not valid"));
        }
        let now = self.clock.now();
        let grant = match self.redeem_code(client_id, code, redirect_uri, code_verifier, now) {
            Redeem::Grant(grant) => grant,
            Redeem::Refused(err) => return Err(err),
            Redeem::Reused(consent_id) => {
                // RFC 6749 §4.1.2: a code used twice is refused, and what was issued from it is revoked.
                let Some(consent_id) = consent_id else {
                    return Err(invalid("the authorization code was already used"));
                };
                self.revoke_consent(&consent_id).await?;
                return Err(invalid("the authorization code was already used; its consent is revoked"));
            }
        };
        let Some(terms) = grant.sharing else {
            // Sign-in only: nothing is recorded, so a racing second redemption has nothing to revoke; it is refused
            // by `redeem_code`, and this one is refused too if it came first (RFC 6749 §4.1.2).
            let response = self.sign_in_tokens(subjects, &grant.client_id, grant.customer_index)?;
            let reused = matches!(
                lock(&self.codes).get(&secrets::sha256(code)).map(|r| &r.redemption),
                Some(Redemption::Used { reused: true, .. })
            );
            return if reused { Err(invalid("the authorization code was used twice")) } else { Ok(response) };
        };
        let response = self.create_consent(subjects, &grant.client_id, grant.customer_index, terms, now).await?;
        let reused = {
            let mut codes = lock(&self.codes);
            match codes.get_mut(&secrets::sha256(code)).map(|r| &mut r.redemption) {
                Some(Redemption::Used { consent_id, reused }) => {
                    *consent_id = Some(response.consent_id.clone());
                    *reused
                }
                _ => false,
            }
        };
        if reused {
            // A second redemption raced this one: the consent must not survive (RFC 6749 §4.1.2).
            self.revoke_consent(&response.consent_id).await?;
            return Err(invalid("the authorization code was used twice; its consent is revoked"));
        }
        Ok(response)
    }

    /// The synchronous part of a code redemption: checks and marks the code used under the lock.
    fn redeem_code(
        &self,
        client_id: &str,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
        now: OffsetDateTime,
    ) -> Redeem {
        let invalid = |why: &str| Redeem::Refused(AuthError::InvalidGrant(why.into()));
        let mut codes = lock(&self.codes);
        let Some(record) = codes.get_mut(&secrets::sha256(code)) else {
            return invalid("the authorization code is not valid");
        };
        if record.client_id != client_id {
            return invalid("the authorization code was issued to another client");
        }
        // Any redemption attempt by its client uses the code up, so it cannot be tried again.
        let used = Redemption::Used { consent_id: None, reused: false };
        let grant = match std::mem::replace(&mut record.redemption, used) {
            Redemption::Unused(grant) => grant,
            Redemption::Used { consent_id, .. } => {
                record.redemption = Redemption::Used { consent_id: consent_id.clone(), reused: true };
                return Redeem::Reused(consent_id);
            }
        };
        if record.expires_at <= now {
            return invalid("the authorization code has expired");
        }
        // RFC 6749 §4.1.3: redirect_uri must be identical to the one of the authorization request.
        if !secrets::ct_eq_str(&grant.redirect_uri, redirect_uri) {
            return invalid("redirect_uri does not match the authorization request");
        }
        // RFC 7636 §4.6: S256(code_verifier) must equal the code_challenge.
        if !secrets::pkce_s256_matches(code_verifier, &grant.code_challenge) {
            return invalid("code_verifier does not match the code_challenge");
        }
        Redeem::Grant(*grant)
    }

    async fn create_consent(
        &self,
        subjects: &PairwiseSubjects,
        client_id: &str,
        customer_index: u32,
        terms: SharingTerms,
        now: OffsetDateTime,
    ) -> Result<TokenResponse, AuthError> {
        let now = whole_seconds(now);
        let days = terms.duration_days.clamp(1, MAX_CONSENT_DAYS);
        let consent = BankConsent {
            consent_id: format!("bc_{}", secrets::random_token()?),
            client_id: client_id.to_owned(),
            customer_index,
            account_ids: terms.account_ids,
            clusters: terms.clusters,
            purposes: terms.purposes,
            platform: terms.platform,
            created_at: now,
            expires_at: now + Duration::days(i64::from(days)),
            revoked_at: None,
        };
        let (access_token, access) = self.new_token(TokenKind::Access, &consent, consent.clusters.clone(), now)?;
        let (refresh_token, refresh) = self.new_token(TokenKind::Refresh, &consent, consent.clusters.clone(), now)?;
        let stored = StoredConsent { consent, chosen_error: terms.chosen_error };
        persist::insert_consent(&self.store, stored.clone(), vec![access.clone(), refresh.clone()])
            .await
            .map_err(AuthError::storage)?;
        let consent = stored.consent;
        let response = TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: (access.expires_at - now).whole_seconds(),
            refresh_token: Some(refresh_token),
            scope: scopes::format_scopes(&consent.clusters),
            sub: subjects.sub(&consent.client_id, consent.customer_index),
            consent_id: consent.consent_id.clone(),
            account_ids: consent.account_ids.clone(),
        };
        write(&self.consents)
            .insert(consent.consent_id.clone(), ConsentEntry { consent, chosen_error: stored.chosen_error });
        self.keep_tokens([access, refresh]);
        Ok(response)
    }

    /// The token response of a sign-in only (module docs): `sub` and `scope=openid`; no consent, no refresh token,
    /// and an access token that is neither stored nor indexed, so it opens nothing.
    pub(crate) fn sign_in_tokens(
        &self,
        subjects: &PairwiseSubjects,
        client_id: &str,
        customer_index: u32,
    ) -> Result<TokenResponse, AuthError> {
        Ok(TokenResponse {
            access_token: secrets::random_token()?,
            token_type: "Bearer",
            expires_in: ACCESS_TOKEN_TTL.whole_seconds(),
            refresh_token: None,
            scope: scopes::OPENID.to_owned(),
            sub: subjects.sub(client_id, customer_index),
            consent_id: String::new(),
            account_ids: Vec::new(),
        })
    }

    /// Put issued tokens into the in-memory index; every [`SWEEP_EVERY`] tokens, expired access tokens are dropped
    /// from memory (they stay in the store, refused by their expiry) so a long-running bank does not grow without end.
    fn keep_tokens(&self, issued: impl IntoIterator<Item = StoredToken>) {
        let now = self.clock.now();
        let mut tokens = write(&self.tokens);
        for token in issued {
            tokens.insert(token.hash, to_record(token));
            let count = self.issued.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if count.is_multiple_of(SWEEP_EVERY) {
                tokens.retain(|_, t| t.kind == TokenKind::Refresh || t.expires_at > now);
            }
        }
    }

    fn new_token(
        &self,
        kind: TokenKind,
        consent: &BankConsent,
        clusters: Vec<DataCluster>,
        now: OffsetDateTime,
    ) -> Result<(String, StoredToken), AuthError> {
        let token = secrets::random_token()?;
        let expires_at = match kind {
            TokenKind::Access => (now + ACCESS_TOKEN_TTL).min(consent.expires_at),
            // The refresh token lives exactly as long as the consent (CFPB 1033: no longer than the authorization).
            TokenKind::Refresh => consent.expires_at,
        };
        let stored = StoredToken {
            hash: secrets::sha256(&token),
            kind,
            consent_id: consent.consent_id.clone(),
            client_id: consent.client_id.clone(),
            clusters,
            expires_at,
        };
        Ok((token, stored))
    }

    /// RFC 6749 §6: a new access token from a refresh token of the same client. The refresh token is not rotated
    /// (it is bound to the client's certificate-authenticated identity, RFC 9700 §4.14.2) and stays valid until the
    /// consent ends. `scope`, when given, may only narrow the consent's clusters.
    pub(crate) async fn refresh(
        &self,
        subjects: &PairwiseSubjects,
        client_id: &str,
        refresh_token: &str,
        scope: Option<&str>,
    ) -> Result<TokenResponse, AuthError> {
        let invalid = |why: &str| AuthError::InvalidGrant(why.into());
        if refresh_token.is_empty() || refresh_token.len() > 256 {
            return Err(invalid("the refresh token is not valid"));
        }
        let now = whole_seconds(self.clock.now());
        let record = read(&self.tokens).get(&secrets::sha256(refresh_token)).cloned();
        let Some(record) = record.filter(|r| r.kind == TokenKind::Refresh) else {
            return Err(invalid("the refresh token is not valid"));
        };
        if record.client_id != client_id {
            return Err(invalid("the refresh token was issued to another client"));
        }
        let consent = {
            let consents = read(&self.consents);
            let Some(entry) = consents.get(&record.consent_id) else {
                return Err(invalid("the refresh token is not valid"));
            };
            entry.consent.clone()
        };
        if consent.revoked_at.is_some() {
            return Err(invalid("the consent has been revoked"));
        }
        if consent.expires_at <= now || record.expires_at <= now {
            return Err(invalid("the consent has expired"));
        }
        let clusters = match scope {
            None => consent.clusters.clone(),
            Some(scope) => {
                let asked = scopes::parse_scopes(scope).map_err(|e| AuthError::InvalidScope(e.to_string()))?;
                // RFC 6749 §6: the requested scope must not include any scope not originally granted.
                if !asked.iter().all(|c| consent.clusters.contains(c)) {
                    return Err(AuthError::InvalidScope("scope exceeds what the consent grants".into()));
                }
                asked
            }
        };
        let (access_token, access) = self.new_token(TokenKind::Access, &consent, clusters.clone(), now)?;
        persist::insert_token(self.store.writer(), &access).await.map_err(AuthError::storage)?;
        let expires_in = (access.expires_at - now).whole_seconds();
        {
            // The consent may have been revoked while the token was being written: never hand out a live token then.
            let consents = read(&self.consents);
            if consents.get(&consent.consent_id).is_none_or(|e| e.consent.revoked_at.is_some()) {
                return Err(invalid("the consent has been revoked"));
            }
            self.keep_tokens([access]);
        }
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in,
            refresh_token: Some(refresh_token.to_owned()),
            scope: scopes::format_scopes(&clusters),
            sub: subjects.sub(&consent.client_id, consent.customer_index),
            consent_id: consent.consent_id,
            account_ids: consent.account_ids,
        })
    }

    /// RFC 7009 §2.1: revoke a token of `client_id`. Revoking a refresh token revokes its whole consent (all access
    /// tokens of the grant, RFC 7009 §2.1 "SHOULD also invalidate all access tokens based on the same grant");
    /// revoking an access token revokes that token only. Unknown tokens are not an error (RFC 7009 §2.2).
    pub(crate) async fn revoke_token(&self, client_id: &str, token: &str) -> Result<(), AuthError> {
        if token.is_empty() || token.len() > 256 {
            return Ok(());
        }
        let hash = secrets::sha256(token);
        let record = read(&self.tokens).get(&hash).cloned();
        let Some(record) = record else { return Ok(()) };
        if record.client_id != client_id {
            return Err(AuthError::UnauthorizedClient("the token was issued to another client".into()));
        }
        match record.kind {
            TokenKind::Refresh => {
                self.revoke_consent(&record.consent_id).await?;
            }
            TokenKind::Access => {
                write(&self.tokens).remove(&hash);
                let now = whole_seconds(self.clock.now());
                persist::revoke_token(self.store.writer(), &hash, now).await.map_err(AuthError::storage)?;
            }
        }
        Ok(())
    }
}

fn to_record(token: StoredToken) -> TokenRecord {
    TokenRecord {
        kind: token.kind,
        consent_id: token.consent_id,
        client_id: token.client_id,
        clusters: token.clusters,
        expires_at: token.expires_at,
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The sandbox-login extension grant

/// Longest username and password the login page accepts (the grant keeps the same limits).
const MAX_USERNAME: usize = 64;
const MAX_PASSWORD: usize = 128;
/// Longest one-time code looked at (as on the MFA page).
const MAX_CODE: usize = 16;
/// Most purposes and accounts one request may name (as on the authorize endpoint and the account page).
const MAX_PURPOSES: usize = 10;
const MAX_ACCOUNTS_CHOSEN: usize = 64;

/// The parameters of a `urn:bankgate:params:oauth:grant-type:sandbox-login` token request, as sent. No `Debug`: it
/// holds the test user's password and one-time code.
pub(crate) struct SandboxLogin<'a> {
    pub username: &'a str,
    pub password: &'a str,
    /// Needed for MFA users, ignored for the others.
    pub mfa_code: Option<&'a str>,
    /// `fdx:<cluster>:read` scopes, space separated, or `openid` alone for a sign-in only (required, as on the
    /// authorize endpoint).
    pub scope: Option<&'a str>,
    /// Space-separated purposes.
    pub purpose: Option<&'a str>,
    pub platform: Option<&'a str>,
    /// The third party the data is for (its client id at the gateway); the sharing policy judges it instead of the
    /// authenticated client when present.
    pub recipient: Option<&'a str>,
    pub duration_days: Option<&'a str>,
    /// Space-separated account ids; absent means every account of the customer.
    pub account_ids: Option<&'a str>,
}

/// `[a-z0-9_-]{1,64}`: purposes and platform ids (the authorize endpoint's rule).
fn is_identifier(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// `[A-Za-z0-9_-]{1,64}`: a `recipient` (the authorize endpoint's rule).
fn is_recipient(value: &str) -> bool {
    (1..=64).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The error a `login_error_<code>` test user chose, as the token endpoint's error. Codes this bank has no variant
/// for become `invalid_grant` naming the code (the description says it was chosen).
fn chosen_login_error(code: &str) -> AuthError {
    let description = format!("sandbox test user: the login failed with the error its username chose ({code})");
    match code {
        "invalid_request" => AuthError::InvalidRequest(description),
        "unauthorized_client" => AuthError::UnauthorizedClient(description),
        "access_denied" => AuthError::AccessDenied(description),
        "invalid_scope" => AuthError::InvalidScope(description),
        "server_error" => AuthError::ServerError(description),
        "temporarily_unavailable" => AuthError::TemporarilyUnavailable(description),
        _ => AuthError::InvalidGrant(description),
    }
}

/// The sandbox-login grant (module docs): the same checks as `/oauth/authorize` on the request (scope, purposes,
/// the bank's sharing policy, platform, duration), then the same outcomes as the login pages for the test user
/// (wrong credentials and locked users are `invalid_grant`, `login_error_<code>` users get that error, MFA users
/// need `mfa_code`), then the accounts (default: all of the customer's), and finally the same consent record and
/// token response as an authorization code exchange. `scope=openid` is a sign-in only, as on the pages: the data
/// parameters are refused, and the answer is the sign-in token response without a consent. `client_id` is already
/// authenticated (RFC 8705 §2.1).
pub(crate) async fn sandbox_login(
    state: &BankState,
    subjects: &PairwiseSubjects,
    client_id: &str,
    request: &SandboxLogin<'_>,
) -> Result<TokenResponse, AuthError> {
    let scope = request.scope.ok_or_else(|| AuthError::InvalidScope("scope is required".into()))?;
    let requested = scopes::parse_requested(scope).map_err(|e| AuthError::InvalidScope(e.to_string()))?;
    let RequestedScope::Data(clusters) = requested else {
        let data_parameters = [
            ("purpose", request.purpose),
            ("platform", request.platform),
            ("recipient", request.recipient),
            ("duration_days", request.duration_days),
            ("account_ids", request.account_ids),
        ];
        if let Some((name, _)) = data_parameters.iter().find(|(_, value)| value.is_some()) {
            return Err(AuthError::InvalidRequest(format!(
                "scope=openid signs the person in and shares no data: `{name}` does not apply"
            )));
        }
        let user = sandbox_user(state, request)?;
        return state.auth.sign_in_tokens(subjects, client_id, user.customer_index);
    };
    let purposes: Vec<String> =
        request.purpose.unwrap_or("").split(' ').filter(|p| !p.is_empty()).map(str::to_owned).collect();
    if purposes.len() > MAX_PURPOSES || !purposes.iter().all(|p| is_identifier(p)) {
        return Err(AuthError::InvalidRequest(format!(
            "purpose must be up to {MAX_PURPOSES} space-separated identifiers of [a-z0-9_-]"
        )));
    }
    let platform = request.platform.map(str::to_owned);
    if platform.as_deref().is_some_and(|p| !is_identifier(p)) {
        return Err(AuthError::InvalidRequest("platform must be an identifier of [a-z0-9_-], 1-64 characters".into()));
    }
    if request.recipient.is_some_and(|r| !is_recipient(r)) {
        return Err(AuthError::InvalidRequest(
            "recipient must be an identifier of [A-Za-z0-9_-], 1-64 characters".into(),
        ));
    }
    // The bank's data-sharing policy applies whatever the person would agree to (as on /oauth/authorize): judged
    // for `recipient` when present, else for the calling client.
    let parties = SharingParties {
        recipient: request.recipient.unwrap_or(client_id),
        is_third_party: request.recipient.is_some(),
        platform: platform.as_deref(),
    };
    if let Some(refusal) = state.profile.sharing.refusal(parties, &purposes, &clusters) {
        return Err(AuthError::AccessDenied(refusal.describe(&state.profile.display_name)));
    }
    let duration_days = match request.duration_days {
        None => MAX_CONSENT_DAYS,
        Some(days) => days
            .parse::<u16>()
            .ok()
            .filter(|d| (1..=MAX_CONSENT_DAYS).contains(d))
            .ok_or_else(|| AuthError::InvalidRequest(format!("duration_days must be 1-{MAX_CONSENT_DAYS}")))?,
    };

    let user = sandbox_user(state, request)?;
    let accounts = state.ledger.accounts(user.customer_index);
    let account_ids: Vec<String> = match request.account_ids {
        None => accounts.iter().map(|a| a.account_id.clone()).collect(),
        Some(list) => {
            let mut chosen: Vec<&str> = list.split(' ').filter(|a| !a.is_empty()).collect();
            chosen.sort_unstable();
            chosen.dedup();
            if chosen.is_empty() || chosen.len() > MAX_ACCOUNTS_CHOSEN {
                return Err(AuthError::InvalidRequest(format!(
                    "account_ids must name 1-{MAX_ACCOUNTS_CHOSEN} of the customer's accounts"
                )));
            }
            if let Some(unknown) = chosen.iter().find(|c| !accounts.iter().any(|a| a.account_id == **c)) {
                let shown: String = unknown.chars().take(64).collect();
                return Err(AuthError::InvalidRequest(format!(
                    "account {shown:?} is not one of the customer's accounts"
                )));
            }
            // The account page's order: the customer's accounts as listed.
            accounts.iter().filter(|a| chosen.contains(&a.account_id.as_str())).map(|a| a.account_id.clone()).collect()
        }
    };
    if account_ids.is_empty() {
        return Err(AuthError::AccessDenied("the customer has no account to share".into()));
    }
    // No redirect, no PKCE and no code: nothing is redeemed later, the consent is created at once.
    let terms =
        SharingTerms { account_ids, clusters, purposes, platform, chosen_error: user.chosen_error, duration_days };
    state.auth.create_consent(subjects, client_id, user.customer_index, terms, state.auth.now()).await
}

/// The login pages' rules for the grant's test user: one generic refusal for any wrong username/password (the
/// password compared in constant time whether or not the user exists), locked users and `login_error_<code>` users
/// refused, MFA users only with the right `mfa_code`.
fn sandbox_user(state: &BankState, request: &SandboxLogin<'_>) -> Result<users::UserLookup, AuthError> {
    let (username, password) = (request.username, request.password);
    let well_formed = (1..=MAX_USERNAME).contains(&username.len()) && (1..=MAX_PASSWORD).contains(&password.len());
    let user = if well_formed { users::lookup(username, state.ledger.customers()) } else { None };
    let password_ok = secrets::ct_eq_str(password, users::PASSWORD);
    let Some(user) = user.filter(|_| password_ok) else {
        return Err(AuthError::InvalidGrant("the username or password is not right".into()));
    };
    if user.persona == Persona::Locked {
        return Err(AuthError::InvalidGrant("account locked".into()));
    }
    if let Some(ChosenError::Login { oauth_error }) = &user.chosen_error {
        return Err(chosen_login_error(oauth_error));
    }
    if user.persona == Persona::Mfa {
        // The MFA page's rule: the code, trimmed, compared in constant time.
        match request.mfa_code {
            None => return Err(AuthError::InvalidGrant("this user needs the one-time code: send mfa_code".into())),
            Some(code) if code.len() <= MAX_CODE && secrets::ct_eq_str(code.trim(), users::MFA_CODE) => {}
            Some(_) => return Err(AuthError::InvalidGrant("the one-time code is not right".into())),
        }
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn grant() -> ApprovedGrant {
        ApprovedGrant {
            client_id: "gateway".into(),
            redirect_uri: "https://gateway.example/cb".into(),
            code_challenge: "challenge".into(),
            customer_index: 3,
            sharing: None,
        }
    }

    /// Far more authorizations than the old bound of 10,000 go through under a frozen clock; a used code is still
    /// recognised as used (reuse detection keeps its client and consent, not its grant), and codes past their memory
    /// window are swept as new ones are issued.
    #[tokio::test]
    async fn many_codes_are_issued_used_codes_stay_recognised_and_old_ones_are_forgotten() {
        let store = BankStore::open(None).await.unwrap();
        let clock = Arc::new(SimClock::frozen(datetime!(2026-03-04 15:00 UTC)));
        let auth = AuthServer::open(store, clock.clone(), "https://bank.example".into(), Vec::new()).await.unwrap();
        let first = auth.issue_code(grant()).unwrap();
        let now = clock.now();
        assert!(matches!(auth.redeem_code("gateway", &first, "x", "y", now), Redeem::Refused(_)), "bad redirect");
        assert!(matches!(auth.redeem_code("gateway", &first, "x", "y", now), Redeem::Reused(None)));
        assert!(matches!(auth.redeem_code("other", &first, "x", "y", now), Redeem::Refused(_)), "another client");
        for _ in 0..25_000 {
            auth.issue_code(grant()).unwrap();
        }
        assert_eq!(lock(&auth.codes).len(), 25_001, "nothing forgotten within the memory window");
        assert!(matches!(auth.redeem_code("gateway", &first, "x", "y", now), Redeem::Reused(None)));
        clock.advance(CODE_TTL + CODE_MEMORY).unwrap();
        let fresh = auth.issue_code(grant()).unwrap();
        for _ in 0..CODE_SWEEP_EVERY {
            auth.issue_code(grant()).unwrap();
        }
        let codes = lock(&auth.codes);
        assert!(codes.len() <= CODE_SWEEP_EVERY as usize + 1, "the old codes were swept: {}", codes.len());
        assert!(!codes.contains_key(&secrets::sha256(&first)));
        assert!(codes.contains_key(&secrets::sha256(&fresh)));
    }
}
