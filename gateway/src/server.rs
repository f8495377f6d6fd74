//! Starting the gateway: open the store, load or generate the signing key, declare the configured clients, bind
//! ONE HTTPS listener and serve [`crate::app::router`] on it until [`RunningGateway::shutdown`].
//!
//! The listener asks for a client certificate but does not require one (`certs::ClientAuth::Optional`): browsers
//! reach the consent pages without one, while `tls_client_auth` clients and certificate-bound tokens (RFC 8705)
//! get the verified certificate through `certs::serve::PeerCertificates`. Client `jwks_uri` key sets are fetched
//! trusting the same CA ([`crate::oauth::jwks_fetch`]), and so are app webhooks, pushed by the delivery worker
//! that starts and stops with the listener ([`crate::events::delivery`]). [`crate::config_file`] builds the arguments of
//! [`start_with_banks`] from a TOML file (`bankgate gateway --config`). This module must never start serving
//! with a configuration outside the standards' limits ([`GatewayConfig::validate`]) and never log key material.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use rustls_pki_types::CertificateDer;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::{AppState, router};
use crate::banks::{BankClient, BankClientSettings, BankEntry};
use crate::config::{Clock, GatewayConfig, SigningKeySource, StoreLocation, SystemClock, UpstreamPolicy};
use crate::events::delivery::{DeliveryWorker, WebhookClient};
use crate::oauth::endpoints::register::declare_configured_clients;
use crate::oauth::jwks_fetch::JwksFetcher;
use crate::oauth::keys::{KeySet, SigningKey};
use crate::pages::{BankRegistry, bank_redirect_uri};
use crate::store::{DynStore, SealKey, SqliteStore};

/// The TLS material the listener serves with.
#[derive(Debug, Clone)]
pub struct GatewayTls {
    pub server_identity: Arc<certs::Identity>,
    /// The CA client certificates must chain to.
    pub ca: CertificateDer<'static>,
}

/// A gateway that is serving.
#[derive(Debug)]
pub struct RunningGateway {
    pub state: AppState,
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
    /// The webhook delivery worker ([`crate::events::delivery`]).
    deliveries: DeliveryWorker,
}

impl RunningGateway {
    /// The issuer identifier (also the base URL of every endpoint).
    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// Stop accepting, let in-flight requests finish (bounded by `certs::serve::SHUTDOWN_GRACE`), then stop the
    /// delivery worker (its attempts in flight finish and are recorded; pending deliveries stay in the store).
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let served = self.task.await.context("the listener task panicked")?.context("the listener failed");
        self.deliveries.stop().await;
        served
    }
}

/// Opens the configured store.
pub async fn open_store(config: &GatewayConfig) -> anyhow::Result<DynStore> {
    let configured_seal = config.seal_key.as_ref().map(|s| s.expose());
    Ok(match &config.store {
        StoreLocation::InMemory => {
            let seal = match configured_seal {
                Some(text) => SealKey::parse(text)?,
                None => SealKey::generate()?.0,
            };
            Arc::new(SqliteStore::in_memory(seal).await?)
        }
        StoreLocation::DataDir(dir) => {
            let seal = SealKey::from_config_or_data_dir(configured_seal, dir)?;
            Arc::new(SqliteStore::open(&dir.join("gateway.sqlite"), seal).await.context("opening the gateway store")?)
        }
    })
}

/// Loads the signing key from where the configuration says.
pub fn load_signing_key(config: &GatewayConfig) -> anyhow::Result<SigningKey> {
    Ok(match (&config.signing_key, &config.store) {
        (SigningKeySource::Generate, _) => SigningKey::generate_es256()?,
        (SigningKeySource::Pem(pem), _) => SigningKey::from_pkcs8_pem(pem.expose()).context("the signing key PEM")?,
        (SigningKeySource::DataDir, StoreLocation::DataDir(dir)) => load_or_create_key(&dir.join("signing-key.pem"))?,
        (SigningKeySource::DataDir, StoreLocation::InMemory) => {
            anyhow::bail!("signing_key = DataDir needs a data directory store")
        }
    })
}

fn load_or_create_key(path: &Path) -> anyhow::Result<SigningKey> {
    match std::fs::read_to_string(path) {
        Ok(pem) => SigningKey::from_pkcs8_pem(&pem).with_context(|| format!("{}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SigningKey::generate_es256()?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                options.mode(0o600);
            }
            let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
            std::io::Write::write_all(&mut file, key.to_pkcs8_pem()?.as_bytes())?;
            file.sync_all()?;
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Builds the state for `config` served as `issuer` (store opened, key loaded, configured clients declared).
pub async fn build_state(config: GatewayConfig, issuer: String, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    config.validate()?;
    let store = open_store(&config).await?;
    let keys = KeySet::new(load_signing_key(&config)?);
    let state = AppState::new(config, issuer, store, keys, clock);
    declare_configured_clients(&state).await?;
    Ok(state)
}

/// How the gateway reaches banks: their addresses, the CA their servers chain to, and the client certificate the
/// gateway presents (its CN is the gateway's `client_id` at every bank, RFC 8705).
#[derive(Debug, Clone)]
pub struct BankAccess {
    pub banks: Vec<BankEntry>,
    pub ca: CertificateDer<'static>,
    pub client_identity: Arc<certs::Identity>,
    pub client_id: String,
}

impl BankAccess {
    /// One pooled mTLS client per bank; each bank sends the person back to `pages::bank_redirect_uri(issuer, id)`.
    fn registry(&self, issuer: &str, upstream: &UpstreamPolicy) -> anyhow::Result<BankRegistry> {
        let mut registry = BankRegistry::new();
        for bank in &self.banks {
            let settings = BankClientSettings {
                client_id: self.client_id.clone(),
                redirect_uri: bank_redirect_uri(issuer, bank.id()),
                timeouts: upstream.timeouts_for(bank.id()),
                breaker: upstream.breaker,
            };
            let client = BankClient::new(bank.clone(), &self.ca, &self.client_identity, &settings)
                .with_context(|| format!("a client for bank `{}`", bank.id()))?;
            registry = registry.with(client);
        }
        Ok(registry)
    }
}

/// Binds and serves with the wall clock and no banks.
pub async fn start(config: GatewayConfig, tls: GatewayTls) -> anyhow::Result<RunningGateway> {
    start_with_clock(config, tls, Arc::new(SystemClock)).await
}

/// Binds and serves with `clock` (tests and scenarios move it) and no banks.
pub async fn start_with_clock(
    config: GatewayConfig,
    tls: GatewayTls,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<RunningGateway> {
    start_with_banks(config, tls, clock, None).await
}

/// Binds and serves with `clock`, reaching the banks of `banks`.
pub async fn start_with_banks(
    config: GatewayConfig,
    tls: GatewayTls,
    clock: Arc<dyn Clock>,
    banks: Option<BankAccess>,
) -> anyhow::Result<RunningGateway> {
    let listener = TcpListener::bind(config.bind).await.with_context(|| format!("cannot listen on {}", config.bind))?;
    let addr = listener.local_addr()?;
    let issuer = config.issuer.clone().unwrap_or_else(|| format!("https://{}:{}", config.public_host, addr.port()));
    let mut state = build_state(config, issuer, clock).await?;
    // Client `jwks_uri` key sets are fetched trusting the configured CA only (see `oauth::jwks_fetch`).
    state = state.with_jwks_fetcher(JwksFetcher::new(&tls.ca).context("the jwks_uri client")?);
    if let Some(banks) = &banks {
        let registry = banks.registry(&state.issuer, &state.config.upstream)?;
        state = state.with_banks(registry);
    }
    let server_tls = certs::server_config(&tls.server_identity, &tls.ca, certs::ClientAuth::Optional)?;
    let (stop, mut stopped) = watch::channel(false);
    let shutdown = async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    // Webhooks: https callbacks must chain to the configured CA (like jwks_uri fetches); resumes stored deliveries.
    let webhooks =
        WebhookClient::new(Some(&tls.ca), state.config.delivery.attempt_timeout).context("the webhook client")?;
    let deliveries = DeliveryWorker::start(state.clone(), webhooks);
    let task = tokio::spawn(certs::serve::serve_tls(listener, server_tls, router(state.clone()), shutdown));
    tracing::info!(issuer = %state.issuer, sandbox = state.config.allow_sandbox_profile, "gateway serving");
    Ok(RunningGateway { state, addr, stop, task, deliveries })
}
