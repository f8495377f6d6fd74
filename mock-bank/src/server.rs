//! Starting one bank: bind its three listeners, assemble its [`BankState`], serve until told to stop.
//!
//! | listener | TLS | who calls it |
//! |---|---|---|
//! | API (`/fdx/v6/...`, `/oauth/token`, `/oauth/revoke`, `/health`) | mutual TLS: a client certificate chaining to the bankgate CA is required | the gateway (or a test acting as it) |
//! | login (`/oauth/authorize`, login pages) | server TLS only | a person's browser |
//! | admin (`/admin/...`; `/openapi.json`, `/docs` need no token) | server TLS only, admin bearer token | QA, tests, scenarios |
//!
//! The clock's first start is pinned in the bank's store: the generated history always covers the 24 months before
//! that first start, so a restarted bank shows the same ledger. This module never generates data itself.

use crate::{
    api,
    books::Books,
    clock::SimClock,
    faults::FaultBook,
    ledger::{LedgerGenerator, users::MIN_CUSTOMERS},
    login::{self, AuthServer, OAuthClient},
    profile::BankProfile,
    state::{BankState, BankUrls, Secret},
    store::{BankStore, META_CLOCK_NOW as META_NOW, META_PINNED_START as META_START},
};
use anyhow::Context;
use std::{net::SocketAddr, path::PathBuf, sync::Arc};
use time::{Date, Month, OffsetDateTime, format_description::well_known::Rfc3339};
use tokio::{net::TcpListener, sync::watch, task::JoinSet};

/// Everything needed to run one bank.
#[derive(Debug, Clone)]
pub struct BankConfig {
    pub profile: BankProfile,
    pub seed: u64,
    pub customers: u32,
    /// SQLite file of what changes the generated base; `None` keeps it in memory (tests).
    pub store_path: Option<PathBuf>,
    /// Simulated instant of the bank's first start (later starts reuse the pinned one).
    pub start: OffsetDateTime,
    /// Whether simulated time follows wall time (interactive sandbox) or stands still until moved (tests).
    pub ticking: bool,
    pub server_identity: Arc<certs::Identity>,
    pub ca: rustls_pki_types::CertificateDer<'static>,
    pub api_addr: SocketAddr,
    pub login_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    /// Host name used in the URLs the bank announces.
    pub public_host: String,
    pub admin_token: Secret,
    /// OAuth clients allowed at the bank's login (more can be registered through the admin API).
    pub oauth_clients: Vec<OAuthClient>,
    /// The bank's TLS client certificate (`bank-{id}`, from the dev CA): it presents it to the callback URLs of
    /// notification subscriptions and signs the notifications with its key. `None`: subscriptions are accepted but
    /// nothing can be delivered (events are dropped with a warning).
    pub client_identity: Option<Arc<certs::Identity>>,
}

/// A bank that is serving. Dropping it without [`RunningBank::shutdown`] aborts its listeners.
#[derive(Debug)]
pub struct RunningBank {
    pub state: Arc<BankState>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<std::io::Result<()>>,
}

impl RunningBank {
    pub fn urls(&self) -> &BankUrls {
        &self.state.urls
    }

    /// Ask every listener to stop accepting (returns at once; [`RunningBank::shutdown`] waits).
    pub fn request_stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Stop accepting, let in-flight requests finish (bounded by `certs::serve::SHUTDOWN_GRACE`), persist the clock.
    /// Notifications still queued stay in a file-backed bank's store and are sent first after a restart (an
    /// in-memory bank drops them).
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.request_stop();
        self.state.notifier.close();
        while let Some(joined) = self.tasks.join_next().await {
            joined.context("a listener task panicked")?.context("a listener failed")?;
        }
        persist_clock(&self.state).await
    }
}

/// The first day of the generated history: the first of the month 24 months before `start`'s month.
pub fn history_start_for(start: OffsetDateTime) -> Date {
    let month = start.month() as i32 - 1 + start.year() * 12 - 24;
    let (year, month0) = (month.div_euclid(12), month.rem_euclid(12));
    let month = Month::try_from(month0 as u8 + 1).unwrap_or(Month::January);
    Date::from_calendar_date(year, month, 1).unwrap_or(start.date())
}

/// Bind, assemble and serve one bank.
pub async fn start(config: BankConfig) -> anyhow::Result<RunningBank> {
    anyhow::ensure!(
        config.customers >= MIN_CUSTOMERS,
        "a bank needs at least {MIN_CUSTOMERS} customers (the test users), got {}",
        config.customers
    );
    let profile = Arc::new(config.profile.clone());
    let store = BankStore::open(config.store_path.as_deref()).await.context("opening the bank's store")?;

    let start = match store.get_meta(META_START).await? {
        Some(text) => OffsetDateTime::parse(&text, &Rfc3339).context("pinned clock start in the store")?,
        None => {
            store.set_meta(META_START, &config.start.format(&Rfc3339)?).await?;
            config.start
        }
    };
    let now = match store.get_meta(META_NOW).await? {
        Some(text) => OffsetDateTime::parse(&text, &Rfc3339).context("saved clock in the store")?,
        None => start,
    };
    let clock = Arc::new(if config.ticking { SimClock::ticking(now) } else { SimClock::frozen(now) });
    let ledger = LedgerGenerator::new(config.seed, profile.clone(), config.customers, history_start_for(start));

    let api_listener = bind(config.api_addr, "API").await?;
    let login_listener = bind(config.login_addr, "login").await?;
    let admin_listener = bind(config.admin_addr, "admin").await?;
    let url = |listener: &TcpListener| -> anyhow::Result<String> {
        let port = listener.local_addr()?.port();
        Ok(format!("https://{}:{port}", config.public_host))
    };
    let urls = BankUrls { api: url(&api_listener)?, login: url(&login_listener)?, admin: url(&admin_listener)? };

    let auth = AuthServer::open(store.clone(), clock.clone(), urls.login.clone(), config.oauth_clients.clone()).await?;
    let books = Books::open(ledger.clone(), store.clone(), clock.clone()).await?;
    let notifier = crate::events::Notifier::open(
        store.clone(),
        crate::events::NotifierConfig {
            bank_name: profile.display_name.clone(),
            api_base: urls.api.clone(),
            client_identity: config.client_identity.clone(),
            ca: Some(config.ca.clone()),
        },
    )
    .await
    .context("opening the bank's notification subscriptions")?;
    if config.client_identity.is_none() {
        tracing::warn!(bank = %profile.id, "no client certificate: notifications cannot be delivered");
    }
    let state = Arc::new(BankState {
        profile,
        clock,
        ledger,
        store,
        books,
        auth,
        faults: FaultBook::new(config.seed),
        admin_token: config.admin_token.clone(),
        urls,
        notifier,
    });

    let identity = &config.server_identity;
    let mtls = certs::server_config(identity, &config.ca, certs::ClientAuth::Required)?;
    let plain = certs::server_config(identity, &config.ca, certs::ClientAuth::None)?;
    let api_router = api::fdx_router()
        .merge(login::token_router().layer(axum::middleware::from_fn_with_state(state.clone(), api::fdx::token_faults)))
        .route("/health", axum::routing::get(health))
        .with_state(state.clone());
    let login_router = login::router().with_state(state.clone());
    let admin_router = api::admin_router().merge(crate::openapi::routes()).with_state(state.clone());

    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    for (listener, tls, router) in [
        (api_listener, mtls, api_router),
        (login_listener, plain.clone(), login_router),
        (admin_listener, plain, admin_router),
    ] {
        let mut stopped = stopped.clone();
        let shutdown = async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        tasks.spawn(certs::serve::serve_tls(listener, tls, router, shutdown));
    }
    tracing::info!(bank = %state.profile.id, api = %state.urls.api, login = %state.urls.login, admin = %state.urls.admin, "bank serving");
    Ok(RunningBank { state, stop, tasks })
}

/// Liveness of the API listener: no token, no data (load runs use it as their transport baseline).
async fn health() -> &'static str {
    "ok"
}

async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} for the {what} listener"))
}

/// Save the simulated now, so a restart continues from it.
pub async fn persist_clock(state: &BankState) -> anyhow::Result<()> {
    state.store.set_meta(META_NOW, &state.clock.now().format(&Rfc3339)?).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn history_starts_24_months_before_the_first_start() {
        assert_eq!(history_start_for(datetime!(2026-11-29 10:00 UTC)), date!(2024 - 11 - 01));
        assert_eq!(history_start_for(datetime!(2026-01-01 00:00 UTC)), date!(2024 - 01 - 01));
        assert_eq!(history_start_for(datetime!(2026-12-31 23:59 UTC)), date!(2024 - 12 - 01));
    }
}
