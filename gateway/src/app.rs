//! The gateway's application state ([`AppState`]) and its router ([`router`]): a plain function from state to
//! `axum::Router`, so tests drive it with `tower::ServiceExt::oneshot` without sockets and [`crate::server`] serves
//! the same router over HTTPS.
//!
//! State is passed, never global: configuration, the store, the signing keys, the `jti` replay cache (backed by
//! [`Store::remember_jti`](crate::store::Store::remember_jti) through [`StoreReplayCache`], so every replica sees
//! every `jti`), and the [`Clock`] every expiry is computed from. This module must never hold a secret in a
//! `Debug`-printable field and never read the wall clock itself.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::routing::{get, post};
use time::OffsetDateTime;

use crate::config::{Clock, GatewayConfig};
use crate::error::Problem;
use crate::oauth::client_auth::ClientAssertionValidator;
use crate::oauth::dpop::DpopValidator;
use crate::oauth::endpoints;
use crate::oauth::jwks_fetch::JwksFetcher;
use crate::oauth::keys::KeySet;
use crate::oauth::replay::{ReplayCache, ReplayCacheError};
use crate::pages::{self, BankRegistry, ConsentSessions};
use crate::store::{DynStore, JtiKind};

/// Everything a handler needs, behind one `Arc`: axum clones the state for every request (each extractor and
/// middleware that takes `State`), and a clone of the twenty shared parts one by one cost twenty atomic increments
/// and as many decrements per clone (1.5% of the CPU under resource-API load, by the profile).
#[derive(Debug, Clone)]
pub struct AppState(Arc<SharedState>);

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

/// The parts of [`AppState`]; cheap to clone (shared parts behind `Arc`).
#[derive(Debug, Clone)]
pub struct SharedState {
    pub config: Arc<GatewayConfig>,
    /// The RFC 8414 issuer identifier actually in use (configured, or derived from the bound port).
    pub issuer: Arc<str>,
    pub store: DynStore,
    pub keys: Arc<KeySet>,
    pub clock: Arc<dyn Clock>,
    pub assertion_replay: Arc<StoreReplayCache>,
    pub dpop_replay: Arc<StoreReplayCache>,
    pub assertions: Arc<ClientAssertionValidator>,
    pub dpop: Arc<DpopValidator>,
    /// The banks a person can choose on the consent page (empty unless set with [`AppState::with_banks`]).
    pub banks: Arc<BankRegistry>,
    /// The consent pages' server-side sessions ([`crate::pages::session`]).
    pub sessions: Arc<ConsentSessions>,
    /// Key sets of clients registered with `jwks_uri` (refuses every fetch unless set with
    /// [`AppState::with_jwks_fetcher`]; [`crate::server`] sets one trusting the configured CA).
    pub jwks_fetcher: Arc<JwksFetcher>,
    /// Parsed registrations, so client authentication does not re-validate metadata and re-parse keys per request.
    pub parsed_clients: Arc<crate::oauth::endpoints::authn::ParsedClients>,
    /// DPoP proofs presented to protected endpoints (not the token endpoint), in memory
    /// ([`crate::oauth::endpoints::presented`]).
    pub resource_dpop_replay: Arc<crate::oauth::replay::InMemoryReplayCache>,
    /// The gateway clock when this state was built: proofs signed earlier are refused at protected endpoints.
    pub started_at: OffsetDateTime,
    /// Access tokens whose JWS was verified ([`crate::oauth::endpoints::presented`]).
    pub verified_tokens: Arc<crate::oauth::endpoints::presented::VerifiedTokens>,
    /// The person's dashboard sessions ([`crate::pages::dashboard`]).
    pub dashboard: Arc<crate::pages::dashboard::DashboardSessions>,
    /// Orders data responses against revocations ([`crate::revocation`]).
    pub revocations: Arc<crate::revocation::RevocationGate>,
    /// The resource API's per-client limit (from the configuration; `None`: unlimited).
    pub rate_limiter: Option<Arc<crate::fdx::rate_limit::RateLimiter>>,
    /// Wakes the webhook delivery worker after an enqueue ([`crate::events::delivery`]).
    pub deliveries: Arc<crate::events::delivery::DeliveryWake>,
    /// Keeps each bank lane's order across overlapping notification deliveries ([`crate::events::sequence`]).
    pub bank_lanes: Arc<crate::events::sequence::IngressSequencer>,
}

impl AppState {
    /// State for `config` served as `issuer`. DPoP server nonces are not required yet (RFC 9449 §8 makes them
    /// optional); `iat` must be within ±60 s of the clock and `jti`s are single use.
    pub fn new(
        config: GatewayConfig,
        issuer: impl Into<String>,
        store: DynStore,
        keys: KeySet,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let issuer: String = issuer.into();
        // Whole seconds: proofs carry `iat` in whole seconds.
        let started_at = clock.now().replace_nanosecond(0).unwrap_or_else(|_| clock.now());
        let rate_limiter = config.rate_limit.map(|limit| Arc::new(crate::fdx::rate_limit::RateLimiter::new(limit)));
        Self(Arc::new(SharedState {
            config: Arc::new(config),
            assertions: Arc::new(ClientAssertionValidator::new(issuer.clone())),
            issuer: issuer.into(),
            assertion_replay: Arc::new(StoreReplayCache::new(store.clone(), JtiKind::ClientAssertion)),
            dpop_replay: Arc::new(StoreReplayCache::new(store.clone(), JtiKind::DpopProof)),
            store,
            keys: Arc::new(keys),
            clock,
            dpop: Arc::new(DpopValidator::new()),
            banks: Arc::new(BankRegistry::new()),
            sessions: Arc::new(ConsentSessions::default()),
            jwks_fetcher: Arc::new(JwksFetcher::without_trust()),
            parsed_clients: Arc::default(),
            dashboard: Arc::default(),
            verified_tokens: Arc::default(),
            resource_dpop_replay: Arc::default(),
            started_at,
            revocations: Arc::default(),
            rate_limiter,
            deliveries: Arc::default(),
            bank_lanes: Arc::default(),
        }))
    }

    /// The same state with `change` made to its parts (for building it; the parts are copied when already shared).
    pub fn changed(self, change: impl FnOnce(&mut SharedState)) -> Self {
        let mut parts = Arc::unwrap_or_clone(self.0);
        change(&mut parts);
        Self(Arc::new(parts))
    }

    /// The same state fetching `jwks_uri` key sets with `fetcher`.
    pub fn with_jwks_fetcher(self, fetcher: JwksFetcher) -> Self {
        self.changed(|parts| parts.jwks_fetcher = Arc::new(fetcher))
    }

    /// The same state offering `banks` on the consent page.
    pub fn with_banks(self, banks: BankRegistry) -> Self {
        self.changed(|parts| parts.banks = Arc::new(banks))
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// An endpoint's absolute URL (`<issuer><path>`), as announced in metadata and checked as DPoP `htu`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }
}

/// The [`ReplayCache`] seam implemented on the store's shared `jti` table: one instance per [`JtiKind`]. The
/// protocol modules already put the issuer (client_id or key thumbprint) into the key, so the whole key is stored
/// as the `jti` under that kind.
#[derive(Debug)]
pub struct StoreReplayCache {
    store: DynStore,
    kind: JtiKind,
}

impl StoreReplayCache {
    pub fn new(store: DynStore, kind: JtiKind) -> Self {
        Self { store, kind }
    }
}

#[async_trait]
impl ReplayCache for StoreReplayCache {
    async fn insert_if_absent(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, ReplayCacheError> {
        self.store
            .remember_jti(self.kind, self.kind.as_str(), key, expires_at, now)
            .await
            .map_err(|e| ReplayCacheError(e.to_string()))
    }
}

/// The gateway's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/.well-known/oauth-authorization-server", get(endpoints::metadata::authorization_server))
        .route("/.well-known/openid-configuration", get(endpoints::metadata::openid_configuration))
        .route(endpoints::JWKS_PATH, get(endpoints::metadata::jwks))
        .route(endpoints::REGISTER_PATH, post(endpoints::register::register))
        .route(
            "/register/{client_id}",
            get(endpoints::register::read).put(endpoints::register::update).delete(endpoints::register::delete),
        )
        .route(endpoints::TOKEN_PATH, post(endpoints::token::token))
        .route(endpoints::PAR_PATH, post(endpoints::par::push))
        .route(endpoints::INTROSPECT_PATH, post(endpoints::introspect::introspect))
        .route(endpoints::REVOKE_PATH, post(endpoints::revoke::revoke))
        .merge(endpoints::grants::routes())
        .merge(crate::events::subscriptions::routes())
        .merge(crate::fdx::routes())
        .merge(crate::events::ingress::routes())
        .merge(crate::openapi::routes())
        .merge(pages::router())
        .merge(endpoints::sandbox::routes(state.config.allow_sandbox_profile))
        .fallback(|| async { Problem::not_found("no such resource on this gateway") })
        .with_state(state)
}
