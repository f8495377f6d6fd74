//! A sandbox: the four banks and the consent gateway, started from [`SandboxOptions`].
//!
//! With a data directory, everything lasts: the development PKI (`DIR/certs/`), each bank's store
//! (`DIR/banks/<id>.sqlite`), the gateway's store and signing key (`DIR/gateway/`), the admin token (`DIR/admin-token`) and `DIR/endpoints.json`. Without one
//! (tests, scenarios), certificates and stores live in memory and vanish with the process.
//!
//! The gateway knows one client up front, [`SANDBOX_APP_CLIENT`] (`sandbox` profile, `client_secret_basic`), for
//! the README tour and the consent shortcut (`POST /sandbox/consents`). Its secret is generated once into
//! `DIR/gateway/sandbox-app-secret` (mode 0600) and reused, or fresh in memory without a data directory; the
//! gateway keeps only its hash. It must never be printed by `Debug` ([`SandboxClient`] hides it).
//!
//! Time: each bank has its simulated clock; the gateway runs on an [`gateway::config::OffsetClock`] (wall time
//! plus an offset). [`Sandbox::advance_clocks`] moves them all forward together. A frozen sandbox (`ticking:
//! false`: tests, `--frozen-clock`) without an explicit start never starts inside a bank's weekly maintenance
//! window: it starts when the last such window ends ([`outside_maintenance`]). Decision: its clock only moves when
//! asked, so starting inside a window would keep that bank answering 503 for the whole run, and whether it did
//! would depend on the hour the run began (the end-to-end suite failed on Tuesdays 03:00-04:00 UTC, summit's
//! window). After the window rather than before it, so that moving the clock forward leaves the window behind.
//! A ticking sandbox starts at the wall clock's now, maintenance included: that is the simulation.

use crate::endpoints::{BankEndpoints, Endpoints, GatewayEndpoints, write_private};
use anyhow::Context;
use mock_bank::{
    login::OAuthClient,
    profile::{BankProfile, MaintenanceWindow, load_profiles},
    server::{BankConfig, RunningBank},
    state::Secret,
};
use std::{
    net::{Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    sync::Arc,
};
use time::OffsetDateTime;

/// The client certificate name the gateway (and tools acting as it) present to banks.
pub const GATEWAY_CLIENT: &str = "gateway-client";
/// The client certificate name of bank `id` (CN `bank-{id}`): it presents it when delivering notifications to the
/// gateway and signs them with its key.
pub fn bank_client_name(id: &str) -> String {
    format!("bank-{id}")
}
/// Sample third-party app certificates `certs init` issues.
pub const SAMPLE_APP_CLIENTS: [&str; 2] = ["sample-app", "sample-app-2"];
/// Where the sample app's bank logins send the person back (nothing listens there: README's tour copies the code
/// from the browser's address bar, as OAuth tutorials do).
pub const SAMPLE_APP_REDIRECT: &str = "https://localhost/callback";
/// The sandbox client `bankgate up` declares at the gateway (secret in [`Sandbox::sandbox_client`]).
pub const SANDBOX_APP_CLIENT: &str = "sandbox-app";
/// Where the sandbox client's secret lasts, under the data directory.
const SANDBOX_APP_SECRET_FILE: &str = "gateway/sandbox-app-secret";
/// The gateway's port in the fixed layout.
pub const GATEWAY_PORT: u16 = 8443;
/// First port of the fixed layout: bank `i` listens on `BASE_PORT + 10*i + {1 API, 2 login, 3 admin}`.
pub const BASE_PORT: u16 = 9100;

#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Where state lasts; `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    pub seed: u64,
    /// Customers per bank; `None` uses each profile's default.
    pub customers: Option<u32>,
    /// Listen on port 0 (the OS picks) instead of the fixed layout.
    pub ephemeral_ports: bool,
    /// Only these banks (ids); `None` means all.
    pub banks: Option<Vec<String>>,
    /// Simulated instant of the first start; `None` means now (UTC, whole seconds).
    pub start: Option<OffsetDateTime>,
    /// Simulated time follows wall time (true for `bankgate up`) or waits to be moved (tests).
    pub ticking: bool,
    /// Bank profiles file replacing the shipped one.
    pub profiles: Option<PathBuf>,
    /// Extra OAuth clients registered at every bank's login.
    pub oauth_clients: Vec<OAuthClient>,
    /// Start the consent gateway too (`bankgate bank` runs banks alone).
    pub gateway: bool,
    /// Adjusts the gateway's configuration before it starts (tests: short bank timeouts, a small rate limit).
    pub tune_gateway: Option<fn(&mut gateway::config::GatewayConfig)>,
    /// Each app's request rate on the gateway's FDX API; `None`: unlimited (load runs).
    pub rate_limit: Option<gateway::fdx::rate_limit::RateLimit>,
    /// Put the gateway's clock at `start` before the gateway starts (scenarios: bank and gateway agree on the
    /// simulated now from the first request; proofs signed at that now are not "before the gateway started").
    /// `false` (the default): the gateway follows wall time, as `bankgate up` and most tests want.
    pub gateway_clock_at_start: bool,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            data_dir: None,
            seed: 42,
            customers: None,
            ephemeral_ports: true,
            banks: None,
            start: None,
            ticking: false,
            profiles: None,
            oauth_clients: Vec::new(),
            gateway: true,
            tune_gateway: None,
            rate_limit: Some(gateway::config::DEFAULT_RATE_LIMIT),
            gateway_clock_at_start: false,
        }
    }
}

/// A running sandbox.
#[derive(Debug)]
pub struct Sandbox {
    pub banks: Vec<RunningBank>,
    pub gateway: Option<gateway::server::RunningGateway>,
    pub endpoints: Endpoints,
    /// The CA and the identities, for tests that talk to the listeners directly.
    pub pki: Arc<certs::Pki>,
    pub gateway_identity: Arc<certs::Identity>,
    /// The gateway's sandbox client and its secret (`None` when the gateway does not run).
    pub sandbox_client: Option<SandboxClient>,
    /// The gateway's clock: wall time plus an offset that [`Sandbox::advance_clocks`] moves with the banks'.
    pub gateway_clock: Arc<gateway::config::OffsetClock>,
}

impl Sandbox {
    pub async fn start(options: SandboxOptions) -> anyhow::Result<Sandbox> {
        let profiles = select_banks(load_profiles(options.profiles.as_deref())?, options.banks.as_deref())?;
        let ids: Vec<&str> = profiles.iter().map(|(_, p)| p.id.as_str()).collect();
        let (pki, servers, gateway_identity, cert_paths) = match &options.data_dir {
            Some(dir) => {
                let cert_dir = dir.join("certs");
                let pki = certs::Pki::load_or_create(&cert_dir)?;
                let mut servers = Vec::new();
                for id in &ids {
                    servers.push(pki.load_or_issue(&cert_dir, id, certs::CertKind::Server)?);
                }
                let gateway = pki.load_or_issue(&cert_dir, GATEWAY_CLIENT, certs::CertKind::Client)?;
                for app in SAMPLE_APP_CLIENTS {
                    pki.load_or_issue(&cert_dir, app, certs::CertKind::Client)?;
                }
                let paths = CertPaths {
                    ca: cert_dir.join("ca.pem"),
                    client_cert: cert_dir.join(format!("{GATEWAY_CLIENT}.pem")),
                    client_key: cert_dir.join(format!("{GATEWAY_CLIENT}-key.pem")),
                };
                (pki, servers, gateway, paths)
            }
            None => {
                let pki = certs::Pki::generate()?;
                let servers = ids.iter().map(|id| pki.issue_server(id)).collect::<Result<Vec<_>, _>>()?;
                let gateway = pki.issue_client(GATEWAY_CLIENT)?;
                (pki, servers, gateway, CertPaths::default())
            }
        };
        let gateway_server = match (&options.data_dir, options.gateway) {
            (_, false) => None,
            (Some(dir), true) => Some(pki.load_or_issue(&dir.join("certs"), "gateway", certs::CertKind::Server)?),
            (None, true) => Some(pki.issue_server("gateway")?),
        };
        let admin_token = match &options.data_dir {
            Some(dir) => load_or_create_admin_token(dir)?,
            None => random_token()?,
        };
        let mut oauth_clients = vec![OAuthClient {
            client_id: SAMPLE_APP_CLIENTS[0].to_owned(),
            redirect_uris: vec![SAMPLE_APP_REDIRECT.to_owned()],
        }];
        oauth_clients.extend(options.oauth_clients.iter().cloned());
        let start = options.start.unwrap_or_else(|| {
            let now = OffsetDateTime::now_utc();
            let now = now.replace_nanosecond(0).unwrap_or(now);
            if options.ticking {
                now
            } else {
                outside_maintenance(
                    now,
                    profiles.iter().map(|(_, p)| p.quirks.maintenance).collect::<Vec<_>>().as_slice(),
                )
            }
        });

        let mut banks = Vec::new();
        // `index` is the bank's place in the profiles file, so `bankgate bank --bank summit` keeps summit's ports.
        for ((index, profile), identity) in profiles.into_iter().zip(servers) {
            let port = |offset: u16| {
                let port = if options.ephemeral_ports { 0 } else { BASE_PORT + 10 * index as u16 + offset };
                SocketAddr::from((Ipv4Addr::LOCALHOST, port))
            };
            let store_path = match &options.data_dir {
                Some(dir) => {
                    let banks_dir = dir.join("banks");
                    std::fs::create_dir_all(&banks_dir)
                        .with_context(|| format!("cannot create {}", banks_dir.display()))?;
                    Some(banks_dir.join(format!("{}.sqlite", profile.id)))
                }
                None => None,
            };
            // The bank's own client certificate: presented to notification callback URLs, and its key signs them.
            let client_name = bank_client_name(&profile.id);
            let client_identity = match &options.data_dir {
                Some(dir) => pki.load_or_issue(&dir.join("certs"), &client_name, certs::CertKind::Client)?,
                None => pki.issue_client(&client_name)?,
            };
            let config = BankConfig {
                client_identity: Some(Arc::new(client_identity)),
                customers: options.customers.unwrap_or(profile.customers),
                profile,
                seed: options.seed,
                store_path,
                start,
                ticking: options.ticking,
                server_identity: Arc::new(identity),
                ca: pki.ca_der(),
                api_addr: port(1),
                login_addr: port(2),
                admin_addr: port(3),
                public_host: Ipv4Addr::LOCALHOST.to_string(),
                admin_token: Secret::new(admin_token.clone()),
                oauth_clients: oauth_clients.clone(),
            };
            let id = config.profile.id.clone();
            let bank = mock_bank::server::start(config).await.with_context(|| format!("starting bank `{id}`"))?;
            banks.push(bank);
        }

        let gateway_clock = Arc::new(gateway::config::OffsetClock::new());
        if options.gateway_clock_at_start {
            gateway_clock.set(start);
        }
        let sandbox_client = match &gateway_server {
            Some(_) => Some(SandboxClient::load_or_create(options.data_dir.as_deref())?),
            None => None,
        };
        let gateway = match gateway_server {
            None => None,
            Some(identity) => {
                let access = bank_access(&banks, &pki, &gateway_identity)?;
                let gateway =
                    start_gateway(&options, identity, &pki, access, gateway_clock.clone(), sandbox_client.as_ref())
                        .await
                        .context("starting the gateway")?;
                // Every bank knows the gateway as its OAuth client, sending the person back to the gateway's callback.
                for bank in &banks {
                    let redirect = gateway::pages::bank_redirect_uri(gateway.issuer(), &bank.state.profile.id);
                    // Keep redirect URIs a caller registered for the same client through `oauth_clients`.
                    let mut redirect_uris =
                        bank.state.auth.client(GATEWAY_CLIENT).map(|c| c.redirect_uris).unwrap_or_default();
                    redirect_uris.push(redirect);
                    let client = OAuthClient { client_id: GATEWAY_CLIENT.to_owned(), redirect_uris };
                    bank.state.auth.register_client(client).await.context("registering the gateway at a bank")?;
                }
                Some(gateway)
            }
        };

        let endpoints = Endpoints {
            version: 1,
            gateway: gateway.as_ref().map(|g| GatewayEndpoints {
                issuer: g.issuer().to_owned(),
                metadata: format!("{}/.well-known/oauth-authorization-server", g.issuer()),
                sandbox_client_id: sandbox_client.as_ref().map(|c| c.client_id.clone()),
                sandbox_client_secret: sandbox_client.as_ref().map(|c| c.client_secret.clone()),
            }),
            ca_cert: cert_paths.ca,
            admin_token,
            client_cert: cert_paths.client_cert,
            client_key: cert_paths.client_key,
            banks: banks
                .iter()
                .map(|bank| BankEndpoints {
                    id: bank.state.profile.id.clone(),
                    display_name: bank.state.profile.display_name.clone(),
                    api: bank.urls().api.clone(),
                    login: bank.urls().login.clone(),
                    admin: bank.urls().admin.clone(),
                })
                .collect(),
        };
        if let Some(dir) = &options.data_dir {
            endpoints.write(dir).context("writing endpoints.json")?;
        }
        Ok(Sandbox {
            banks,
            gateway,
            endpoints,
            pki: Arc::new(pki),
            gateway_identity: Arc::new(gateway_identity),
            sandbox_client,
            gateway_clock,
        })
    }

    /// Moves every bank's simulated clock and the gateway's clock forward by `by` together (scenarios: code,
    /// token and consent expiry). Negative durations are refused before anything moves.
    pub async fn advance_clocks(&self, by: time::Duration) -> anyhow::Result<()> {
        anyhow::ensure!(!by.is_negative(), "clocks only move forward (asked {by})");
        for bank in &self.banks {
            let id = &bank.state.profile.id;
            let before = bank.state.clock.now();
            let after =
                bank.state.books.advance_clock(by).await.with_context(|| format!("moving the clock of bank `{id}`"))?;
            // As the admin API's clock move does: the new transactions of watched accounts are judged, and a weekly
            // maintenance window falling due is announced.
            mock_bank::events::on_clock_moved(&bank.state, before, after);
        }
        self.gateway_clock.advance(by)?;
        Ok(())
    }

    /// Stop every listener and persist what must last.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        // Every bank stops accepting at once, so the grace periods run side by side, not one after another.
        for bank in &self.banks {
            bank.request_stop();
        }
        if let Some(gateway) = self.gateway {
            gateway.shutdown().await?;
        }
        for bank in self.banks {
            bank.shutdown().await?;
        }
        Ok(())
    }
}

/// The gateway on the sandbox's defaults: sandbox profile on, open registration; store and signing key in
/// `DIR/gateway/` when there is a data directory, in memory otherwise; time from `clock` (wall time + offset).
async fn start_gateway(
    options: &SandboxOptions,
    identity: certs::Identity,
    pki: &certs::Pki,
    banks: gateway::server::BankAccess,
    clock: Arc<gateway::config::OffsetClock>,
    sandbox_client: Option<&SandboxClient>,
) -> anyhow::Result<gateway::server::RunningGateway> {
    let port = if options.ephemeral_ports { 0 } else { GATEWAY_PORT };
    let mut config = gateway::config::GatewayConfig::sandbox(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    config.public_host = Ipv4Addr::LOCALHOST.to_string();
    config.clients.extend(sandbox_client.map(SandboxClient::declared));
    if let Some(dir) = &options.data_dir {
        let gateway_dir = dir.join("gateway");
        std::fs::create_dir_all(&gateway_dir).with_context(|| format!("cannot create {}", gateway_dir.display()))?;
        config.store = gateway::config::StoreLocation::DataDir(gateway_dir);
        config.signing_key = gateway::config::SigningKeySource::DataDir;
    }
    config.rate_limit = options.rate_limit;
    if let Some(tune) = options.tune_gateway {
        tune(&mut config);
    }
    let tls = gateway::server::GatewayTls { server_identity: Arc::new(identity), ca: pki.ca_der() };
    gateway::server::start_with_banks(config, tls, clock, Some(banks)).await
}

/// The gateway's sandbox client ([`SANDBOX_APP_CLIENT`]): a `sandbox`-profile app authenticating with
/// `client_secret_basic`, for the README tour and the consent shortcut. `Debug` hides the secret.
#[derive(Clone)]
pub struct SandboxClient {
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for SandboxClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxClient").field("client_id", &self.client_id).field("client_secret", &"<hidden>").finish()
    }
}

impl SandboxClient {
    /// The secret from `DIR/gateway/sandbox-app-secret` (created once, mode 0600), or a fresh one in memory.
    fn load_or_create(data_dir: Option<&Path>) -> anyhow::Result<Self> {
        let client_secret = match data_dir {
            None => random_token()?,
            Some(dir) => {
                let path = dir.join(SANDBOX_APP_SECRET_FILE);
                match std::fs::read_to_string(&path) {
                    Ok(text) if text.trim().len() >= 32 => text.trim().to_owned(),
                    _ => {
                        let parent = path.parent().unwrap_or(dir);
                        std::fs::create_dir_all(parent)
                            .with_context(|| format!("cannot create {}", parent.display()))?;
                        let secret = random_token()?;
                        write_private(&path, secret.as_bytes())
                            .with_context(|| format!("cannot write {}", path.display()))?;
                        secret
                    }
                }
            }
        };
        Ok(Self { client_id: SANDBOX_APP_CLIENT.to_owned(), client_secret })
    }

    /// Its RFC 7591 metadata as a configured client: every documented purpose (secondary uses still need the
    /// opt-in), the sample app's redirect URI, and the secret's hash in the gateway's internal `client_secret_hash`
    /// member (never the secret).
    fn declared(&self) -> gateway::config::DeclaredClient {
        let purposes: Vec<&str> = gateway::consent::Purpose::ALL.iter().map(|p| p.as_str()).collect();
        let metadata = serde_json::json!({
            "client_name": "Sandbox app",
            "profile": "sandbox",
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
            "redirect_uris": [SAMPLE_APP_REDIRECT],
            "purposes": purposes,
            "client_secret_hash": gateway::store::TokenHash::of(&self.client_secret).to_hex(),
        });
        gateway::config::DeclaredClient { client_id: self.client_id.clone(), metadata }
    }
}

/// The running banks as the gateway reaches them: over mutual TLS with the `gateway-client` certificate.
fn bank_access(
    banks: &[RunningBank],
    pki: &certs::Pki,
    client_identity: &certs::Identity,
) -> anyhow::Result<gateway::server::BankAccess> {
    let entries = banks
        .iter()
        .map(|bank| {
            let (profile, urls) = (&bank.state.profile, bank.urls());
            gateway::banks::BankEntry::new(&profile.id, &profile.display_name, &urls.login, &urls.api)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(gateway::server::BankAccess {
        banks: entries,
        ca: pki.ca_der(),
        client_identity: Arc::new(client_identity.clone()),
        client_id: GATEWAY_CLIENT.to_owned(),
    })
}

#[derive(Debug, Default)]
struct CertPaths {
    ca: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

/// The banks to run, each with its position in the profiles file (which fixes its ports).
fn select_banks(all: Vec<BankProfile>, only: Option<&[String]>) -> anyhow::Result<Vec<(usize, BankProfile)>> {
    let known: Vec<String> = all.iter().map(|b| b.id.clone()).collect();
    for id in only.unwrap_or_default() {
        anyhow::ensure!(known.contains(id), "unknown bank `{id}`; the banks are: {}", known.join(", "));
    }
    Ok(all.into_iter().enumerate().filter(|(_, b)| only.is_none_or(|only| only.contains(&b.id))).collect())
}

/// 256 random bits from the operating system, hex-encoded.
pub fn random_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    Ok(hex::encode(bytes))
}

fn load_or_create_admin_token(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join("admin-token");
    match std::fs::read_to_string(&path) {
        Ok(text) if text.trim().len() >= 32 => Ok(text.trim().to_owned()),
        _ => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            let token = random_token()?;
            write_private(&path, token.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
            Ok(token)
        }
    }
}

/// `at`, or when it falls inside one of `windows` (weekly, in simulated time), the instant that window ends; again
/// until no window holds it (windows may touch). See the module docs for why a frozen sandbox starts there.
pub fn outside_maintenance(at: OffsetDateTime, windows: &[MaintenanceWindow]) -> OffsetDateTime {
    let mut at = at;
    // Each round leaves one window for good (the next start of that window is a week away), so one round per
    // window, plus the last check, is enough.
    for _ in 0..=windows.len() {
        match windows.iter().find_map(|window| window.end_of_window_holding(at)) {
            Some(end) => at = end,
            None => return at,
        }
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use mock_bank::profile::WeekdayName;
    use time::macros::datetime;

    fn window(weekday: WeekdayName, start_hour: u8, hours: u8) -> MaintenanceWindow {
        MaintenanceWindow { weekday, start_hour, hours }
    }

    #[test]
    fn a_frozen_start_inside_a_maintenance_window_moves_to_its_end() {
        let summit = window(WeekdayName::Tuesday, 3, 1);
        let continental = window(WeekdayName::Sunday, 2, 2);
        // 2026-12-01 is a Tuesday.
        let inside = datetime!(2026-12-01 03:30:15 UTC);
        assert_eq!(outside_maintenance(inside, &[continental, summit]), datetime!(2026-12-01 04:00 UTC));
        let outside = datetime!(2026-12-01 04:00 UTC);
        assert_eq!(outside_maintenance(outside, &[continental, summit]), outside, "the end is outside");
        assert_eq!(
            outside_maintenance(datetime!(2026-12-01 02:59:59 UTC), &[summit]),
            datetime!(2026-12-01 02:59:59 UTC)
        );
        // Windows that touch: out of both.
        let later = window(WeekdayName::Tuesday, 4, 2);
        assert_eq!(outside_maintenance(inside, &[later, summit]), datetime!(2026-12-01 06:00 UTC));
        // A window over midnight (liberty: Saturday 23:00, three hours), entered on the Sunday.
        let liberty = window(WeekdayName::Saturday, 23, 3);
        assert_eq!(outside_maintenance(datetime!(2026-11-29 01:10 UTC), &[liberty]), datetime!(2026-11-29 02:00 UTC));
        assert_eq!(outside_maintenance(inside, &[]), inside);
    }

    /// Every minute of a week with the shipped banks' windows: the start is outside all of them, never earlier
    /// than asked, and later by no more than the windows last together (liberty's Saturday 23:00 window runs into
    /// continental's Sunday 02:00 one: a start at Saturday 23:00 moves to Sunday 04:00).
    #[test]
    fn every_minute_of_a_week_starts_outside_the_shipped_windows() {
        let windows: Vec<MaintenanceWindow> =
            load_profiles(None).unwrap().iter().map(|profile| profile.quirks.maintenance).collect();
        let together: time::Duration = windows.iter().map(MaintenanceWindow::length).sum();
        let monday = datetime!(2026-11-30 00:00 UTC);
        for minute in 0..7 * 24 * 60 {
            let at = monday + time::Duration::minutes(minute) + time::Duration::seconds(17);
            let start = outside_maintenance(at, &windows);
            assert!(windows.iter().all(|window| !window.contains(start)), "{at} -> {start}");
            assert!(start >= at && start - at <= together, "{at} -> {start}");
        }
    }
}
