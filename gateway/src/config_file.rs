//! The gateway's configuration file (TOML), read by `bankgate gateway --config FILE`: what [`GatewayConfig`],
//! [`GatewayTls`] and [`BankAccess`] need, for a gateway running apart from the banks it fronts.
//!
//! Two steps, as in a compiler: [`GatewayConfigFile::parse`] reads the text only (no I/O; strict: an unknown or
//! misspelled key is an error naming it), then [`GatewayConfigFile::resolve`] reads the files it names
//! (certificates, keys, secret files, the initial access token's environment variable) and checks every value
//! against the standards' limits. Every error names the key it is about (`tls.server_key`, `clients[1].metadata`,
//! ...). Relative paths are resolved against the directory of the configuration file, not the working directory.
//!
//! Secrets never appear in the file itself: the RFC 7591 §3.1 initial access token comes from a file or an
//! environment variable named in the file, and a sandbox client's secret from a file, of which only the SHA-256
//! hash is kept (the internal `client_secret_hash` metadata member). This module must never print a secret (not in
//! errors, not in `Debug`), and never accept a configuration [`GatewayConfig::validate`] refuses.
//! `gateway.example.toml` at the repository root documents every key. Operating limits have sections of their
//! own, each optional with the built-in defaults: `[delivery]` (webhook retries to apps, [`DeliverySection`]),
//! `[upstream]` (timeouts and circuit breaker towards banks, overridable per bank in `[[banks]]`,
//! [`UpstreamSection`]) and `[rate_limit]` (each app's request rate on the FDX resource API, [`RateLimitSection`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use serde::Deserialize;
use serde_json::Value;
use time::Duration;

use crate::banks::{BankEntry, BankTimeouts, BreakerSettings};
use crate::config::{
    DeclaredClient, DeliveryPolicy, GatewayConfig, RegistrationPolicy, Secret, SigningKeySource, StoreLocation,
    UpstreamPolicy,
};
use crate::fdx::rate_limit::RateLimit;
use crate::oauth::endpoints::register::ClientMetadata;
use crate::server::{BankAccess, GatewayTls};
use crate::store::TokenHash;

/// Shortest sandbox client secret accepted from `client_secret_file` (128 bits as hex, or 16 random characters).
pub const MIN_CLIENT_SECRET_LEN: usize = 16;
/// Shortest initial access token accepted.
pub const MIN_INITIAL_ACCESS_TOKEN_LEN: usize = 16;

/// What is wrong with a configuration file, naming the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigFileError {
    /// Not valid TOML, an unknown key, or a value of the wrong type (the TOML error names key and position).
    #[error("{0}")]
    Syntax(String),
    #[error("`{key}`: {message}")]
    Key { key: String, message: String },
}

fn key_error(key: impl Into<String>, message: impl Into<String>) -> ConfigFileError {
    ConfigFileError::Key { key: key.into(), message: message.into() }
}

/// The file as written (see `gateway.example.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfigFile {
    /// Socket address of the HTTPS listener (`127.0.0.1:8443`; port 0 lets the OS choose).
    pub listen: SocketAddr,
    /// RFC 8414 issuer; default `https://<public_host>:<bound port>`.
    pub issuer: Option<String>,
    #[serde(default = "default_public_host")]
    pub public_host: String,
    /// Store (`gateway.sqlite`), signing key (`signing-key.pem`) and seal key live here (created if missing).
    pub data_dir: PathBuf,
    /// The `sandbox` client profile switch (DESIGN.md "Two client profiles"); off unless set.
    #[serde(default)]
    pub sandbox_profile: bool,
    #[serde(default)]
    pub lifetimes: LifetimesSection,
    #[serde(default)]
    pub registration: RegistrationSection,
    #[serde(default)]
    pub delivery: DeliverySection,
    #[serde(default)]
    pub upstream: UpstreamSection,
    #[serde(default)]
    pub rate_limit: RateLimitSection,
    pub tls: TlsSection,
    #[serde(default)]
    pub banks: Vec<BankSection>,
    #[serde(default)]
    pub clients: Vec<ClientSection>,
}

fn default_public_host() -> String {
    "localhost".into()
}

/// `[lifetimes]`, in seconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifetimesSection {
    #[serde(default = "default_par")]
    pub par: i64,
    #[serde(default = "default_code")]
    pub code: i64,
    #[serde(default = "default_access_token")]
    pub access_token: i64,
}

fn default_par() -> i64 {
    crate::config::DEFAULT_PAR_LIFETIME.whole_seconds()
}
fn default_code() -> i64 {
    crate::config::DEFAULT_CODE_LIFETIME.whole_seconds()
}
fn default_access_token() -> i64 {
    crate::config::DEFAULT_ACCESS_TOKEN_LIFETIME.whole_seconds()
}

impl Default for LifetimesSection {
    fn default() -> Self {
        Self { par: default_par(), code: default_code(), access_token: default_access_token() }
    }
}

/// `[delivery]`: webhook delivery to apps ([`DeliveryPolicy`], `crate::events::delivery`): at most `max_attempts`
/// attempts, each bounded by `attempt_timeout_secs`, with full-jitter exponential backoff from `base_backoff_ms` up to
/// `max_backoff_secs` between them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverySection {
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u64,
    #[serde(default = "default_base_backoff_ms")]
    pub base_backoff_ms: u64,
    #[serde(default = "default_max_backoff_secs")]
    pub max_backoff_secs: u64,
    #[serde(default = "default_attempt_timeout_secs")]
    pub attempt_timeout_secs: u64,
}

/// Most delivery attempts accepted (with the longest backoff, about three months of retries).
pub const MAX_DELIVERY_ATTEMPTS: u64 = 100;
/// Longest wait between two delivery attempts accepted.
pub const MAX_BACKOFF_SECS: u64 = 24 * 3600;

fn default_max_attempts() -> u64 {
    u64::from(DeliveryPolicy::default().max_attempts)
}
fn default_base_backoff_ms() -> u64 {
    u64::try_from(DeliveryPolicy::default().base_backoff.as_millis()).unwrap_or(u64::MAX)
}
fn default_max_backoff_secs() -> u64 {
    DeliveryPolicy::default().max_backoff.as_secs()
}
fn default_attempt_timeout_secs() -> u64 {
    DeliveryPolicy::default().attempt_timeout.as_secs()
}

impl Default for DeliverySection {
    fn default() -> Self {
        Self {
            max_attempts: default_max_attempts(),
            base_backoff_ms: default_base_backoff_ms(),
            max_backoff_secs: default_max_backoff_secs(),
            attempt_timeout_secs: default_attempt_timeout_secs(),
        }
    }
}

/// `[upstream]`: how the gateway calls banks ([`UpstreamPolicy`]): timeouts for every bank (a `[[banks]]` entry may
/// override them for its bank) and the per-bank circuit breaker.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSection {
    #[serde(default = "default_connect_timeout_secs")]
    pub connect_timeout_secs: u64,
    #[serde(default = "default_request_timeout_secs")]
    pub request_timeout_secs: u64,
    #[serde(default = "default_pool_idle_secs")]
    pub pool_idle_secs: u64,
    #[serde(default = "default_breaker_failure_threshold")]
    pub breaker_failure_threshold: u64,
    #[serde(default = "default_breaker_cooldown_secs")]
    pub breaker_cooldown_secs: u64,
}

fn default_connect_timeout_secs() -> u64 {
    BankTimeouts::default().connect.as_secs()
}
fn default_request_timeout_secs() -> u64 {
    BankTimeouts::default().request.as_secs()
}
fn default_pool_idle_secs() -> u64 {
    BankTimeouts::default().pool_idle.as_secs()
}
fn default_breaker_failure_threshold() -> u64 {
    u64::from(BreakerSettings::default().failure_threshold)
}
fn default_breaker_cooldown_secs() -> u64 {
    BreakerSettings::default().cooldown.as_secs()
}

impl Default for UpstreamSection {
    fn default() -> Self {
        Self {
            connect_timeout_secs: default_connect_timeout_secs(),
            request_timeout_secs: default_request_timeout_secs(),
            pool_idle_secs: default_pool_idle_secs(),
            breaker_failure_threshold: default_breaker_failure_threshold(),
            breaker_cooldown_secs: default_breaker_cooldown_secs(),
        }
    }
}

/// `[rate_limit]`: each app's request rate on the FDX resource API (a sustained `per_second` with a `burst` on
/// top; 429 beyond it), or `enabled = false` for none.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSection {
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default = "default_per_second")]
    pub per_second: u64,
    #[serde(default = "default_burst")]
    pub burst: u64,
}

fn default_true() -> bool {
    true
}
fn default_per_second() -> u64 {
    u64::from(crate::config::DEFAULT_RATE_LIMIT.per_second)
}
fn default_burst() -> u64 {
    u64::from(crate::config::DEFAULT_RATE_LIMIT.burst)
}

impl Default for RateLimitSection {
    fn default() -> Self {
        Self { enabled: true, per_second: default_per_second(), burst: default_burst() }
    }
}

/// `value` of `key` if it lies in `range`; otherwise an error naming the key and the range.
fn within(key: &str, value: u64, range: std::ops::RangeInclusive<u64>) -> Result<u64, ConfigFileError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(key_error(key, format!("must be between {} and {}", range.start(), range.end())))
    }
}

fn secs(key: &str, value: u64, range: std::ops::RangeInclusive<u64>) -> Result<std::time::Duration, ConfigFileError> {
    within(key, value, range).map(std::time::Duration::from_secs)
}

fn small(key: &str, value: u64, range: std::ops::RangeInclusive<u64>) -> Result<u32, ConfigFileError> {
    // The ranges below all fit in u32; the conversion cannot fail once the range holds.
    within(key, value, range).and_then(|v| u32::try_from(v).map_err(|_| key_error(key, "is too large")))
}

impl DeliverySection {
    fn policy(&self) -> Result<DeliveryPolicy, ConfigFileError> {
        let policy = DeliveryPolicy {
            max_attempts: small("delivery.max_attempts", self.max_attempts, 1..=MAX_DELIVERY_ATTEMPTS)?,
            base_backoff: std::time::Duration::from_millis(within(
                "delivery.base_backoff_ms",
                self.base_backoff_ms,
                1..=MAX_BACKOFF_SECS * 1000,
            )?),
            max_backoff: secs("delivery.max_backoff_secs", self.max_backoff_secs, 1..=MAX_BACKOFF_SECS)?,
            attempt_timeout: secs("delivery.attempt_timeout_secs", self.attempt_timeout_secs, 1..=60)?,
        };
        if policy.base_backoff > policy.max_backoff {
            return Err(key_error("delivery.base_backoff_ms", "must not be longer than delivery.max_backoff_secs"));
        }
        Ok(policy)
    }
}

/// Timeouts of `[upstream]`, or of one bank (`prefix` names where they were read).
fn timeouts(prefix: &str, connect: u64, request: u64, pool_idle: u64) -> Result<BankTimeouts, ConfigFileError> {
    Ok(BankTimeouts {
        connect: secs(&format!("{prefix}.connect_timeout_secs"), connect, 1..=60)?,
        request: secs(&format!("{prefix}.request_timeout_secs"), request, 1..=300)?,
        pool_idle: secs(&format!("{prefix}.pool_idle_secs"), pool_idle, 1..=3600)?,
    })
}

impl UpstreamSection {
    fn policy(&self, banks: &[BankSection]) -> Result<UpstreamPolicy, ConfigFileError> {
        let defaults = timeouts("upstream", self.connect_timeout_secs, self.request_timeout_secs, self.pool_idle_secs)?;
        let mut per_bank = std::collections::BTreeMap::new();
        for (i, bank) in banks.iter().enumerate() {
            if bank.connect_timeout_secs.is_none()
                && bank.request_timeout_secs.is_none()
                && bank.pool_idle_secs.is_none()
            {
                continue;
            }
            let own = timeouts(
                &format!("banks[{i}]"),
                bank.connect_timeout_secs.unwrap_or(self.connect_timeout_secs),
                bank.request_timeout_secs.unwrap_or(self.request_timeout_secs),
                bank.pool_idle_secs.unwrap_or(self.pool_idle_secs),
            )?;
            per_bank.insert(bank.id.clone(), own);
        }
        let breaker = BreakerSettings {
            failure_threshold: small("upstream.breaker_failure_threshold", self.breaker_failure_threshold, 1..=1000)?,
            cooldown: secs("upstream.breaker_cooldown_secs", self.breaker_cooldown_secs, 1..=3600)?,
        };
        Ok(UpstreamPolicy { timeouts: defaults, per_bank, breaker })
    }
}

impl RateLimitSection {
    fn limit(&self) -> Result<Option<RateLimit>, ConfigFileError> {
        if !self.enabled {
            return Ok(None);
        }
        Ok(Some(RateLimit {
            per_second: small("rate_limit.per_second", self.per_second, 1..=100_000)?,
            burst: small("rate_limit.burst", self.burst, 1..=1_000_000)?,
        }))
    }
}

/// `[registration]`: `mode = "open"` (the default) or `"initial_access_token"` with exactly one of
/// `initial_access_token_file` / `initial_access_token_env`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationSection {
    #[serde(default)]
    pub mode: RegistrationMode,
    pub initial_access_token_file: Option<PathBuf>,
    pub initial_access_token_env: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationMode {
    #[default]
    Open,
    InitialAccessToken,
}

/// `[tls]`: the listener's certificate, the CA client certificates (and banks, and `jwks_uri` servers) chain to,
/// and the client certificate the gateway presents to banks with its client id there.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub bank_client_cert: Option<PathBuf>,
    pub bank_client_key: Option<PathBuf>,
    pub bank_client_id: Option<String>,
}

/// `[[banks]]`: one bank (see [`BankEntry`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankSection {
    pub id: String,
    pub display_name: String,
    /// The bank's OAuth issuer, which is its login origin (kept exactly as written, RFC 9207 §2.4).
    pub issuer: String,
    /// FDX API and token endpoint base (mutual TLS).
    pub api: String,
    /// This bank's own timeouts (seconds), each defaulting to `[upstream]`'s.
    pub connect_timeout_secs: Option<u64>,
    pub request_timeout_secs: Option<u64>,
    pub pool_idle_secs: Option<u64>,
}

/// `[[clients]]`: a declared client, its RFC 7591 metadata as an inline table, and for `client_secret_basic`
/// sandbox clients the file holding the secret.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSection {
    pub client_id: String,
    pub metadata: Value,
    pub client_secret_file: Option<PathBuf>,
}

/// Everything `gateway::server::start_with_banks` takes (besides the clock).
#[derive(Debug, Clone)]
pub struct LoadedGateway {
    pub config: GatewayConfig,
    pub tls: GatewayTls,
    /// `None` when the file lists no banks.
    pub banks: Option<BankAccess>,
}

/// Reads and resolves `path` (relative paths inside it against its directory), taking environment variables from
/// the process.
pub fn load(path: &Path) -> Result<LoadedGateway, ConfigFileError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigFileError::Syntax(format!("cannot read {}: {e}", path.display())))?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    GatewayConfigFile::parse(&text)?.resolve(&base, &|name| std::env::var(name).ok())
}

impl GatewayConfigFile {
    /// Parses the text (no I/O, no checks beyond shape).
    pub fn parse(text: &str) -> Result<Self, ConfigFileError> {
        toml::from_str(text).map_err(|e| ConfigFileError::Syntax(e.to_string().trim_end().to_owned()))
    }

    /// Reads the files the configuration names, relative to `base`, and checks every value; `env` looks up
    /// environment variables (only `registration.initial_access_token_env`).
    pub fn resolve(self, base: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<LoadedGateway, ConfigFileError> {
        let path = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
        let read = |key: &str, p: &Path| {
            std::fs::read_to_string(path(p))
                .map_err(|e| key_error(key, format!("cannot read {}: {e}", path(p).display())))
        };

        let mut config = GatewayConfig::sandbox(self.listen);
        config.issuer = self.issuer;
        config.public_host = self.public_host;
        config.allow_sandbox_profile = self.sandbox_profile;
        config.store = StoreLocation::DataDir(path(&self.data_dir));
        config.signing_key = SigningKeySource::DataDir;
        config.par_lifetime = Duration::seconds(self.lifetimes.par);
        config.code_lifetime = Duration::seconds(self.lifetimes.code);
        config.access_token_lifetime = Duration::seconds(self.lifetimes.access_token);
        config.delivery = self.delivery.policy()?;
        config.upstream = self.upstream.policy(&self.banks)?;
        config.rate_limit = self.rate_limit.limit()?;
        if let Err(e) = config.validate() {
            let key = match e.0.split_whitespace().next() {
                Some("par_lifetime") => "lifetimes.par",
                Some("code_lifetime") => "lifetimes.code",
                Some("access_token_lifetime") => "lifetimes.access_token",
                Some("delivery:") => "delivery",
                _ => "issuer",
            };
            return Err(key_error(key, e.to_string()));
        }

        config.registration = match (
            self.registration.mode,
            &self.registration.initial_access_token_file,
            &self.registration.initial_access_token_env,
        ) {
            (RegistrationMode::Open, None, None) => RegistrationPolicy::Open,
            (RegistrationMode::Open, _, _) => {
                return Err(key_error("registration.mode", "an initial access token is set but mode is \"open\""));
            }
            (RegistrationMode::InitialAccessToken, Some(file), None) => {
                let key = "registration.initial_access_token_file";
                RegistrationPolicy::InitialAccessToken(long_secret(
                    key,
                    &read(key, file)?,
                    MIN_INITIAL_ACCESS_TOKEN_LEN,
                )?)
            }
            (RegistrationMode::InitialAccessToken, None, Some(name)) => {
                let key = "registration.initial_access_token_env";
                let value =
                    env(name).ok_or_else(|| key_error(key, format!("environment variable {name} is not set")))?;
                RegistrationPolicy::InitialAccessToken(long_secret(key, &value, MIN_INITIAL_ACCESS_TOKEN_LEN)?)
            }
            (RegistrationMode::InitialAccessToken, _, _) => {
                return Err(key_error(
                    "registration",
                    "mode \"initial_access_token\" needs exactly one of initial_access_token_file or \
                     initial_access_token_env (the token itself never goes in this file)",
                ));
            }
        };

        let ca_pem = read("tls.ca_cert", &self.tls.ca_cert)?;
        let ca = CertificateDer::from_pem_slice(ca_pem.as_bytes())
            .map_err(|e| key_error("tls.ca_cert", format!("not a PEM certificate: {e}")))?;
        let server_identity = identity(
            ("tls.server_cert", read("tls.server_cert", &self.tls.server_cert)?),
            ("tls.server_key", read("tls.server_key", &self.tls.server_key)?),
        )?;
        let tls = GatewayTls { server_identity: Arc::new(server_identity), ca: ca.clone() };

        let banks = if self.banks.is_empty() { None } else { Some(bank_access(&self.tls, self.banks, ca, &read)?) };

        let mut clients: Vec<DeclaredClient> = Vec::new();
        for (i, client) in self.clients.into_iter().enumerate() {
            let key = format!("clients[{i}]");
            if client.client_id.trim().is_empty() || client.client_id.len() > 128 {
                return Err(key_error(format!("{key}.client_id"), "must be 1-128 characters"));
            }
            if clients.iter().any(|c| c.client_id == client.client_id) {
                return Err(key_error(format!("{key}.client_id"), format!("{:?} is declared twice", client.client_id)));
            }
            let mut metadata = client.metadata;
            let object = metadata
                .as_object_mut()
                .ok_or_else(|| key_error(format!("{key}.metadata"), "must be a table of RFC 7591 metadata"))?;
            for inline in ["client_id", "client_secret", "client_secret_hash"] {
                if object.contains_key(inline) {
                    return Err(key_error(
                        format!("{key}.metadata.{inline}"),
                        "is not allowed here (client_id is its own key; a secret comes from client_secret_file)",
                    ));
                }
            }
            if let Some(file) = &client.client_secret_file {
                let secret_key = format!("{key}.client_secret_file");
                let secret = long_secret(&secret_key, &read(&secret_key, file)?, MIN_CLIENT_SECRET_LEN)?;
                object.insert("client_secret_hash".into(), Value::String(TokenHash::of(secret.expose()).to_hex()));
            }
            let parsed = ClientMetadata::validate(&metadata, config.allow_sandbox_profile)
                .map_err(|e| key_error(format!("{key}.metadata"), format!("{}: {}", e.error, e.description)))?;
            let needs_secret = parsed.auth_method == crate::oauth::endpoints::register::AuthMethod::ClientSecretBasic;
            match (needs_secret, client.client_secret_file.is_some()) {
                (true, false) => {
                    return Err(key_error(
                        format!("{key}.client_secret_file"),
                        "is required for a client_secret_basic client",
                    ));
                }
                (false, true) => {
                    return Err(key_error(
                        format!("{key}.client_secret_file"),
                        "is only for client_secret_basic (sandbox) clients",
                    ));
                }
                _ => {}
            }
            clients.push(DeclaredClient { client_id: client.client_id, metadata });
        }
        config.clients = clients;
        Ok(LoadedGateway { config, tls, banks })
    }
}

/// A secret read from a file or variable: trimmed (a trailing newline is not part of it), at least `min` long.
fn long_secret(key: &str, text: &str, min: usize) -> Result<Secret, ConfigFileError> {
    let value = text.trim();
    if value.len() < min {
        return Err(key_error(key, format!("the secret must be at least {min} characters")));
    }
    Ok(Secret::new(value))
}

fn identity(cert: (&str, String), key: (&str, String)) -> Result<certs::Identity, ConfigFileError> {
    // The PEM parse error says which of the two is wrong; name both keys so the reader knows where to look.
    certs::Identity::from_pem(cert.1, key.1).map_err(|e| key_error(format!("{} / {}", cert.0, key.0), e.to_string()))
}

fn bank_access(
    tls: &TlsSection,
    sections: Vec<BankSection>,
    ca: CertificateDer<'static>,
    read: &dyn Fn(&str, &Path) -> Result<String, ConfigFileError>,
) -> Result<BankAccess, ConfigFileError> {
    let required = |key: &str, value: Option<&PathBuf>| {
        value.cloned().ok_or_else(|| key_error(key, "is required when [[banks]] are listed"))
    };
    let cert = required("tls.bank_client_cert", tls.bank_client_cert.as_ref())?;
    let key = required("tls.bank_client_key", tls.bank_client_key.as_ref())?;
    let client_id = tls
        .bank_client_id
        .clone()
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| key_error("tls.bank_client_id", "is required when [[banks]] are listed"))?;
    let client_identity = identity(
        ("tls.bank_client_cert", read("tls.bank_client_cert", &cert)?),
        ("tls.bank_client_key", read("tls.bank_client_key", &key)?),
    )?;
    let mut banks: Vec<BankEntry> = Vec::new();
    for (i, bank) in sections.into_iter().enumerate() {
        let entry = BankEntry::new(bank.id, bank.display_name, bank.issuer, bank.api)
            .map_err(|e| key_error(format!("banks[{i}]"), e.to_string()))?;
        if banks.iter().any(|b| b.id() == entry.id()) {
            return Err(key_error(format!("banks[{i}].id"), format!("bank `{}` is listed twice", entry.id())));
        }
        banks.push(entry);
    }
    Ok(BankAccess { banks, ca, client_identity: Arc::new(client_identity), client_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../gateway.example.toml");

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn the_shipped_example_parses_and_names_the_fixed_layout() {
        let file = GatewayConfigFile::parse(EXAMPLE).expect("gateway.example.toml parses");
        assert_eq!(file.listen, SocketAddr::from(([127, 0, 0, 1], 8443)));
        assert_eq!(file.tls.bank_client_id.as_deref(), Some("gateway-client"));
        let ids: Vec<&str> = file.banks.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(ids, ["continental", "liberty", "summit", "harbor"]);
        // `bankgate bank` ports: bank i at 9100 + 10*i + {1 api, 2 login}.
        assert_eq!(file.banks[2].api, "https://127.0.0.1:9121");
        assert_eq!(file.banks[2].issuer, "https://127.0.0.1:9122");
        for (i, bank) in file.banks.iter().enumerate() {
            BankEntry::new(&bank.id, &bank.display_name, &bank.issuer, &bank.api)
                .unwrap_or_else(|e| panic!("banks[{i}]: {e}"));
        }
        assert!(file.clients.iter().all(|c| c.metadata.is_object()));
    }

    #[test]
    fn unknown_and_misplaced_keys_are_refused_with_their_name() {
        let minimal = "listen = \"127.0.0.1:0\"\ndata_dir = \"d\"\n[tls]\nca_cert = \"ca.pem\"\nserver_cert = \"s.pem\"\n\
                       server_key = \"s-key.pem\"\n";
        GatewayConfigFile::parse(minimal).expect("minimal file parses");
        let typo = minimal.replace("data_dir", "datadir");
        let err = GatewayConfigFile::parse(&typo).unwrap_err().to_string();
        assert!(err.contains("datadir"), "{err}");
        let in_tls = format!("{minimal}cipher = \"rc4\"\n");
        let err = GatewayConfigFile::parse(&in_tls).unwrap_err().to_string();
        assert!(err.contains("cipher"), "{err}");
        let bad_type = minimal.replace("\"127.0.0.1:0\"", "8443");
        assert!(GatewayConfigFile::parse(&bad_type).unwrap_err().to_string().contains("listen"));
    }

    #[test]
    fn values_outside_the_limits_and_missing_files_name_their_key() {
        let dir = std::env::temp_dir();
        let file = |extra: &str| {
            GatewayConfigFile::parse(&format!(
                "listen = \"127.0.0.1:0\"\ndata_dir = \"d\"\n{extra}\n[tls]\nca_cert = \"/nonexistent/ca.pem\"\n\
                 server_cert = \"s.pem\"\nserver_key = \"k.pem\"\n"
            ))
            .expect("parses")
        };
        let err = |extra: &str| file(extra).resolve(&dir, &no_env).unwrap_err().to_string();
        assert!(err("[lifetimes]\ncode = 61").starts_with("`lifetimes.code`"), "{}", err("[lifetimes]\ncode = 61"));
        assert!(err("[lifetimes]\npar = 600").starts_with("`lifetimes.par`"));
        assert!(err("issuer = \"http://gw\"").starts_with("`issuer`"));
        let iat = "[registration]\nmode = \"initial_access_token\"\ninitial_access_token_env = \"NOPE_H3\"";
        assert!(err(iat).contains("`registration.initial_access_token_env`: environment variable NOPE_H3"));
        assert!(err("[registration]\nmode = \"initial_access_token\"").starts_with("`registration`"));
        assert!(err("").starts_with("`tls.ca_cert`: cannot read /nonexistent/ca.pem"), "{}", err(""));
    }

    #[test]
    fn operating_limits_default_to_the_built_in_policy_and_are_read_when_given() {
        let minimal = "listen = \"127.0.0.1:0\"\ndata_dir = \"d\"\n[tls]\nca_cert = \"ca.pem\"\nserver_cert = \"s.pem\"\n\
                       server_key = \"s-key.pem\"\n";
        let file = GatewayConfigFile::parse(minimal).expect("parses");
        assert_eq!(file.delivery.policy().unwrap(), DeliveryPolicy::default());
        let upstream = file.upstream.policy(&file.banks).unwrap();
        assert_eq!((upstream.timeouts, upstream.breaker), (BankTimeouts::default(), BreakerSettings::default()));
        assert_eq!(file.rate_limit.limit().unwrap(), Some(crate::config::DEFAULT_RATE_LIMIT));

        let shipped = GatewayConfigFile::parse(EXAMPLE).expect("parses");
        let delivery = shipped.delivery.policy().unwrap();
        assert_eq!(delivery.max_attempts, 8);
        assert_eq!(delivery.base_backoff, std::time::Duration::from_millis(1000));
        let upstream = shipped.upstream.policy(&shipped.banks).unwrap();
        let harbor = upstream.timeouts_for("harbor");
        assert_eq!(harbor.request, std::time::Duration::from_secs(30), "harbor's own request timeout");
        assert_eq!(harbor.connect, upstream.timeouts.connect, "the rest from [upstream]");
        assert_eq!(upstream.timeouts_for("summit"), upstream.timeouts);
        assert_eq!(shipped.rate_limit.limit().unwrap(), Some(RateLimit { per_second: 50, burst: 100 }));

        let off = GatewayConfigFile::parse(&format!("{minimal}[rate_limit]\nenabled = false\n")).unwrap();
        assert_eq!(off.rate_limit.limit().unwrap(), None);
        let tuned = GatewayConfigFile::parse(&format!(
            "{minimal}[delivery]\nmax_attempts = 3\nbase_backoff_ms = 200\nmax_backoff_secs = 2\n\
             attempt_timeout_secs = 1\n[upstream]\nrequest_timeout_secs = 3\nbreaker_cooldown_secs = 1\n"
        ))
        .unwrap();
        let policy = tuned.delivery.policy().unwrap();
        assert_eq!((policy.max_attempts, policy.max_backoff), (3, std::time::Duration::from_secs(2)));
        let upstream = tuned.upstream.policy(&tuned.banks).unwrap();
        assert_eq!(upstream.timeouts.request, std::time::Duration::from_secs(3));
        assert_eq!(upstream.breaker.cooldown, std::time::Duration::from_secs(1));
        let typo = GatewayConfigFile::parse(&format!("{minimal}[delivery]\nmax_attempt = 3\n"));
        assert!(typo.unwrap_err().to_string().contains("max_attempt"));
    }

    #[test]
    fn operating_limits_outside_their_range_name_their_key() {
        let dir = std::env::temp_dir();
        let err = |extra: &str| {
            GatewayConfigFile::parse(&format!(
                "listen = \"127.0.0.1:0\"\ndata_dir = \"d\"\n{extra}\n[tls]\nca_cert = \"/nonexistent/ca.pem\"\n\
                 server_cert = \"s.pem\"\nserver_key = \"k.pem\"\n"
            ))
            .expect("parses")
            .resolve(&dir, &no_env)
            .unwrap_err()
            .to_string()
        };
        let starts = |extra: &str, key: &str| {
            let e = err(extra);
            assert!(e.starts_with(&format!("`{key}`")), "{extra:?} -> {e}");
        };
        starts("[delivery]\nmax_attempts = 0", "delivery.max_attempts");
        starts("[delivery]\nmax_attempts = 101", "delivery.max_attempts");
        starts("[delivery]\nattempt_timeout_secs = 61", "delivery.attempt_timeout_secs");
        starts("[delivery]\nbase_backoff_ms = 0", "delivery.base_backoff_ms");
        starts("[delivery]\nbase_backoff_ms = 5000\nmax_backoff_secs = 4", "delivery.base_backoff_ms");
        starts("[upstream]\nrequest_timeout_secs = 0", "upstream.request_timeout_secs");
        starts("[upstream]\nbreaker_failure_threshold = 0", "upstream.breaker_failure_threshold");
        starts("[rate_limit]\nper_second = 0", "rate_limit.per_second");
        starts("[rate_limit]\nburst = 2000000", "rate_limit.burst");
        starts(
            "[[banks]]\nid = \"b\"\ndisplay_name = \"B\"\nissuer = \"https://127.0.0.1:1\"\n\
             api = \"https://127.0.0.1:2\"\nrequest_timeout_secs = 301",
            "banks[0].request_timeout_secs",
        );
        // In range, the next problem is the missing CA file: the limits were accepted.
        assert!(err("[rate_limit]\nenabled = false\nper_second = 0").starts_with("`tls.ca_cert`"));
    }

    #[test]
    fn declared_clients_are_checked_and_secrets_stay_out_of_errors() {
        let pki = certs::Pki::generate().expect("pki");
        let server = pki.issue_server("gateway").expect("server cert");
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("ca.pem"), pki.ca_pem()).expect("write");
        std::fs::write(dir.path().join("s.pem"), &server.cert_pem).expect("write");
        std::fs::write(dir.path().join("s-key.pem"), &server.key_pem).expect("write");
        std::fs::write(dir.path().join("secret"), "short-secret\n").expect("write");
        std::fs::write(dir.path().join("good-secret"), "0123456789abcdef0123\n").expect("write");
        let text = |client: &str| {
            format!(
                "listen = \"127.0.0.1:0\"\ndata_dir = \"d\"\nsandbox_profile = true\n[tls]\nca_cert = \"ca.pem\"\n\
                 server_cert = \"s.pem\"\nserver_key = \"s-key.pem\"\n[[clients]]\n{client}\n"
            )
        };
        let sandbox_meta = "metadata = { redirect_uris = [\"https://app.example/cb\"], profile = \"sandbox\", \
                            token_endpoint_auth_method = \"client_secret_basic\", purposes = [\"fraud_alerts\"] }";
        let resolve =
            |client: &str| GatewayConfigFile::parse(&text(client)).expect("parses").resolve(dir.path(), &no_env);

        let short = resolve(&format!("client_id = \"app\"\n{sandbox_meta}\nclient_secret_file = \"secret\""));
        let err = short.unwrap_err().to_string();
        assert!(err.starts_with("`clients[0].client_secret_file`") && !err.contains("short-secret"), "{err}");
        let missing = resolve(&format!("client_id = \"app\"\n{sandbox_meta}")).unwrap_err().to_string();
        assert!(missing.starts_with("`clients[0].client_secret_file`: is required"), "{missing}");
        let http = resolve("client_id = \"app\"\nmetadata = { redirect_uris = [\"http://x/cb\"], purposes = [] }");
        assert!(http.unwrap_err().to_string().starts_with("`clients[0].metadata`: invalid_redirect_uri"));

        let loaded = resolve(&format!("client_id = \"app\"\n{sandbox_meta}\nclient_secret_file = \"good-secret\""))
            .expect("resolves");
        let declared = &loaded.config.clients[0];
        let hash = declared.metadata["client_secret_hash"].as_str().expect("hash member");
        assert_eq!(hash, TokenHash::of("0123456789abcdef0123").to_hex(), "trimmed secret, hashed");
        assert!(!format!("{loaded:?}").contains("0123456789abcdef0123"), "the secret never prints");
        assert_eq!(loaded.config.store, StoreLocation::DataDir(dir.path().join("d")), "relative to the file");
        assert!(loaded.banks.is_none());
    }
}
