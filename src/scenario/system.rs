//! The system a scenario plays against: an isolated in-process sandbox started for it (ephemeral ports, nothing
//! on disk, clocks frozen at the scenario's start), or a running deployment named by its `endpoints.json`
//! (`--target`). Steps reach either over HTTPS only; the in-process one additionally lets the runner move the
//! gateway's clock together with the banks'.

use crate::endpoints::Endpoints;
use crate::sandbox::{SAMPLE_APP_CLIENTS, Sandbox, SandboxOptions};
use anyhow::Context;
use std::time::Duration;
use time::OffsetDateTime;

/// Where the simulated clocks start when the scenario's setup names no instant: a Wednesday afternoon, outside
/// every bank's weekly maintenance window. The in-process gateway's clock starts there too (FORMAT.md "System").
pub const DEFAULT_START: &str = "2026-03-04T15:00:00Z";
/// Customers per bank when the setup names no number: the seven test users and one more.
pub const DEFAULT_CUSTOMERS: u32 = 8;
/// How long the in-process gateway waits for a bank before answering 504 (FORMAT.md "System").
pub const BANK_TIMEOUT: Duration = Duration::from_millis(1000);

/// The scenario runner's gateway: a short bank timeout so a slow bank shows as 504 quickly, a breaker that opens
/// after 3 failures and tries again after 300 ms, no rate limit (paging loops read quickly).
fn scenario_gateway(config: &mut gateway::config::GatewayConfig) {
    config.upstream.timeouts.request = BANK_TIMEOUT;
    config.upstream.breaker =
        gateway::banks::BreakerSettings { failure_threshold: 3, cooldown: Duration::from_millis(300) };
    config.rate_limit = None;
}

#[derive(Debug)]
pub struct System {
    pub endpoints: Endpoints,
    pub ca_pem: String,
    /// The sandbox client's secret (in-process, or from endpoints.json).
    pub sandbox_secret: Option<(String, String)>,
    /// Two app certificates (certificate + key PEM): the app's own and a thief's.
    pub app_identities: Option<[String; 2]>,
    sandbox: Option<Sandbox>,
}

impl System {
    /// Start a sandbox for one scenario.
    pub async fn start(seed: u64, banks: Vec<String>, customers: u32, start: OffsetDateTime) -> anyhow::Result<Self> {
        certs::install_crypto_provider();
        let options = SandboxOptions {
            seed,
            customers: Some(customers),
            banks: Some(banks),
            start: Some(start),
            tune_gateway: Some(scenario_gateway),
            rate_limit: None,
            // The gateway starts at the scenario's start, with the banks, and follows real time from there.
            gateway_clock_at_start: true,
            ..SandboxOptions::default()
        };
        let sandbox = Sandbox::start(options).await.context("starting the in-process sandbox")?;
        let mut identities = Vec::new();
        for name in SAMPLE_APP_CLIENTS {
            let identity = sandbox.pki.issue_client(name).context("issuing an app certificate")?;
            identities.push(format!("{}{}", identity.cert_pem, identity.key_pem));
        }
        let app_identities = <[String; 2]>::try_from(identities).ok();
        Ok(Self {
            endpoints: sandbox.endpoints.clone(),
            ca_pem: sandbox.pki.ca_pem().to_owned(),
            sandbox_secret: sandbox.sandbox_client.as_ref().map(|c| (c.client_id.clone(), c.client_secret.clone())),
            app_identities,
            sandbox: Some(sandbox),
        })
    }

    /// A running deployment: its endpoints.json, CA and (when present beside the CA) the sample apps' certificates.
    pub fn target(path: &std::path::Path) -> anyhow::Result<Self> {
        let endpoints = Endpoints::read(path).with_context(|| format!("reading {}", path.display()))?;
        anyhow::ensure!(endpoints.gateway.is_some(), "{} names no gateway", path.display());
        let ca_pem = std::fs::read_to_string(&endpoints.ca_cert)
            .with_context(|| format!("reading the CA {}", endpoints.ca_cert.display()))?;
        let cert_dir = endpoints.ca_cert.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
        let read_identity = |name: &str| -> Option<String> {
            let cert = std::fs::read_to_string(cert_dir.join(format!("{name}.pem"))).ok()?;
            let key = std::fs::read_to_string(cert_dir.join(format!("{name}-key.pem"))).ok()?;
            Some(format!("{cert}{key}"))
        };
        let app_identities = match (read_identity(SAMPLE_APP_CLIENTS[0]), read_identity(SAMPLE_APP_CLIENTS[1])) {
            (Some(a), Some(b)) => Some([a, b]),
            _ => None,
        };
        let gateway = endpoints.gateway.as_ref();
        let sandbox_secret =
            gateway.and_then(|g| Some((g.sandbox_client_id.clone()?, g.sandbox_client_secret.clone()?)));
        Ok(Self { endpoints, ca_pem, sandbox_secret, app_identities, sandbox: None })
    }

    pub fn issuer(&self) -> &str {
        self.endpoints.gateway.as_ref().map_or("", |g| g.issuer.as_str())
    }

    /// The gateway's now: what client assertions and DPoP proofs must carry as `iat`.
    pub fn gateway_now(&self) -> OffsetDateTime {
        use gateway::config::Clock;
        match &self.sandbox {
            Some(sandbox) => sandbox.gateway_clock.now(),
            None => OffsetDateTime::now_utc(),
        }
    }

    /// Move every clock forward: each bank through its admin API, so the bank runs its notification detectors over
    /// the new transactions and announces the maintenance windows the move brings near (the admin API's
    /// `POST /admin/clock` does; moving a bank's books directly would not); in-process also the gateway's clock (a
    /// running gateway's clock cannot be moved from outside; FORMAT.md says so).
    pub async fn advance_clocks(&self, http: &reqwest::Client, by: time::Duration) -> anyhow::Result<()> {
        anyhow::ensure!(by.is_positive(), "clocks only move forward (asked {by})");
        for bank in &self.endpoints.banks {
            let body = serde_json::json!({"advance": format!("{}s", by.whole_seconds())});
            let response = http
                .post(format!("{}/admin/clock", bank.admin))
                .bearer_auth(&self.endpoints.admin_token)
                .json(&body)
                .send()
                .await?;
            anyhow::ensure!(
                response.status().is_success(),
                "bank `{}` refused the clock move: {}",
                bank.id,
                response.status()
            );
        }
        if let Some(sandbox) = &self.sandbox {
            sandbox.gateway_clock.advance(by)?;
        }
        Ok(())
    }

    /// The first bank's simulated now, from its admin API (a target's banks share one clock when started together).
    pub async fn bank_clock(&self) -> anyhow::Result<OffsetDateTime> {
        let bank = self.endpoints.banks.first().context("the system runs no bank")?;
        let ca = reqwest::Certificate::from_pem(self.ca_pem.as_bytes())?;
        let http = reqwest::Client::builder().tls_certs_only([ca]).timeout(Duration::from_secs(10)).build()?;
        let clock: serde_json::Value = http
            .get(format!("{}/admin/clock", bank.admin))
            .bearer_auth(&self.endpoints.admin_token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let now = clock["now"].as_str().context("the admin clock names no `now`")?;
        Ok(OffsetDateTime::parse(now, &time::format_description::well_known::Rfc3339)?)
    }

    pub async fn shutdown(self) -> anyhow::Result<()> {
        match self.sandbox {
            Some(sandbox) => sandbox.shutdown().await,
            None => Ok(()),
        }
    }
}
