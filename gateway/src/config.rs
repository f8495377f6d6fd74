//! The gateway's configuration ([`GatewayConfig`]) and the time source every expiry is computed from ([`Clock`]).
//!
//! Configuration is plain data built by the CLI (or a test): where to listen, which issuer identifier to announce,
//! where the store lives, where the signing key comes from, whether the `sandbox` client profile exists at all in
//! this deployment, the lifetimes of PAR requests, codes and access tokens, how registration is gated, and the
//! clients declared up front. This module must never read the environment or the wall clock for a business
//! decision (only [`SystemClock`] and [`OffsetClock`] read it, and tests use [`ManualClock`]), and never
//! `Debug`-print a secret.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Mutex;

use serde_json::Value;
use subtle::ConstantTimeEq as _;
use time::{Duration, OffsetDateTime};

/// RFC 9126 §2.2: `expires_in` of a pushed request; DESIGN/issue 3: default 90 s, always under 600 s.
pub const DEFAULT_PAR_LIFETIME: Duration = Duration::seconds(90);
/// Upper bound (exclusive) for the PAR lifetime (issue 3: "expires in under 600 s").
pub const MAX_PAR_LIFETIME: Duration = Duration::seconds(600);
/// RFC 6749 §4.1.2 ("a maximum authorization code lifetime of 10 minutes is RECOMMENDED"); issue 3: at most 60 s.
pub const DEFAULT_CODE_LIFETIME: Duration = Duration::seconds(60);
/// Short-lived access tokens (FAPI 2.0 leaves the value open).
pub const DEFAULT_ACCESS_TOKEN_LIFETIME: Duration = Duration::seconds(300);

/// A configured secret: compared in constant time, never printed.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself (only for the one place that must use it).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with a presented value.
    pub fn matches(&self, presented: &str) -> bool {
        bool::from(self.0.as_bytes().ct_eq(presented.as_bytes()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<hidden>")
    }
}

/// Where the store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// An in-memory SQLite database (tests; everything is lost on exit).
    InMemory,
    /// `gateway.sqlite` (and the seal key, unless configured) in this data directory.
    DataDir(PathBuf),
}

/// Where the authorization server's ES256 signing key comes from.
#[derive(Debug, Clone)]
pub enum SigningKeySource {
    /// A fresh key per process (tests; tokens do not survive a restart).
    Generate,
    /// An unencrypted PKCS#8 PEM (kept hidden from `Debug`).
    Pem(Secret),
    /// `signing-key.pem` in the data directory, generated on first start.
    DataDir,
}

/// Who may call RFC 7591 `POST /register`.
///
/// Decision (RFC 7591 §3 allows both): registration is **not** protected by a `client_credentials` token, which a
/// client cannot have before it is registered. A deployment either leaves it open (the sandbox default: anyone on
/// the network may register, which is fine for a local sandbox) or demands an RFC 7591 §3.1 initial access token
/// given out of band, presented as `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub enum RegistrationPolicy {
    Open,
    InitialAccessToken(Secret),
}

/// A client declared in configuration: its RFC 7591 metadata, validated like a registration at start-up.
#[derive(Debug, Clone)]
pub struct DeclaredClient {
    pub client_id: String,
    pub metadata: Value,
}

/// Everything the gateway needs to run.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// RFC 8414 `issuer`; `None`: `https://<public_host>:<bound port>` (what tests on port 0 want).
    pub issuer: Option<String>,
    /// Host name used to build the issuer when `issuer` is `None`.
    pub public_host: String,
    pub bind: SocketAddr,
    pub store: StoreLocation,
    /// AEAD key for bank tokens at rest (`SealKey::parse` format); `None`: generated into the data directory (or
    /// a fresh one in memory).
    pub seal_key: Option<Secret>,
    pub signing_key: SigningKeySource,
    /// Deployment switch for the `sandbox` client profile (DESIGN.md "Two client profiles"): when false, no
    /// sandbox client can register, `client_secret_basic` is not offered, and plain bearer tokens are never issued.
    pub allow_sandbox_profile: bool,
    pub par_lifetime: Duration,
    pub code_lifetime: Duration,
    pub access_token_lifetime: Duration,
    pub registration: RegistrationPolicy,
    pub clients: Vec<DeclaredClient>,
    /// How the resource API calls banks: timeouts (per bank where named) and the circuit breaker.
    pub upstream: UpstreamPolicy,
    /// Per-client request rate on the FDX resource API; `None`: unlimited.
    pub rate_limit: Option<crate::fdx::rate_limit::RateLimit>,
    /// How webhooks are delivered to apps ([`crate::events::delivery`]).
    pub delivery: DeliveryPolicy,
}

/// Retries of webhook deliveries to apps: exponential backoff with full jitter (the wait before attempt n+1 is
/// uniform in `[0, min(max_backoff, base_backoff * 2^(n-1))]`), at most `max_attempts` attempts, each bounded by
/// `attempt_timeout`; then the delivery is dead (on the subscription's dead-letter list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPolicy {
    pub max_attempts: u32,
    pub base_backoff: std::time::Duration,
    pub max_backoff: std::time::Duration,
    pub attempt_timeout: std::time::Duration,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_backoff: std::time::Duration::from_secs(1),
            max_backoff: std::time::Duration::from_secs(300),
            attempt_timeout: std::time::Duration::from_secs(5),
        }
    }
}

/// Timeouts and circuit breaking towards banks.
#[derive(Debug, Clone, Default)]
pub struct UpstreamPolicy {
    /// For every bank not named in `per_bank`.
    pub timeouts: crate::banks::BankTimeouts,
    /// Bank id -> its own timeouts.
    pub per_bank: std::collections::BTreeMap<String, crate::banks::BankTimeouts>,
    pub breaker: crate::banks::BreakerSettings,
}

impl UpstreamPolicy {
    /// The timeouts for bank `id`.
    pub fn timeouts_for(&self, id: &str) -> crate::banks::BankTimeouts {
        self.per_bank.get(id).copied().unwrap_or(self.timeouts)
    }
}

/// The sandbox's default per-client rate on the resource API: generous for a developer, still a limit.
pub const DEFAULT_RATE_LIMIT: crate::fdx::rate_limit::RateLimit =
    crate::fdx::rate_limit::RateLimit { per_second: 50, burst: 100 };

impl GatewayConfig {
    /// Defaults for a local sandbox: in-memory store, generated key, sandbox profile on, open registration.
    pub fn sandbox(bind: SocketAddr) -> Self {
        Self {
            issuer: None,
            public_host: "localhost".into(),
            bind,
            store: StoreLocation::InMemory,
            seal_key: None,
            signing_key: SigningKeySource::Generate,
            allow_sandbox_profile: true,
            par_lifetime: DEFAULT_PAR_LIFETIME,
            code_lifetime: DEFAULT_CODE_LIFETIME,
            access_token_lifetime: DEFAULT_ACCESS_TOKEN_LIFETIME,
            registration: RegistrationPolicy::Open,
            clients: Vec::new(),
            upstream: UpstreamPolicy::default(),
            rate_limit: Some(DEFAULT_RATE_LIMIT),
            delivery: DeliveryPolicy::default(),
        }
    }

    /// Checks the limits the standards set on the configured lifetimes.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.par_lifetime <= Duration::ZERO || self.par_lifetime >= MAX_PAR_LIFETIME {
            return Err(ConfigError("par_lifetime must be between 1 and 599 seconds".into()));
        }
        if self.code_lifetime <= Duration::ZERO || self.code_lifetime > DEFAULT_CODE_LIFETIME {
            return Err(ConfigError("code_lifetime must be between 1 and 60 seconds".into()));
        }
        if self.access_token_lifetime <= Duration::ZERO || self.access_token_lifetime > Duration::hours(1) {
            return Err(ConfigError("access_token_lifetime must be between 1 second and 1 hour".into()));
        }
        let d = &self.delivery;
        if d.max_attempts == 0 || d.base_backoff.is_zero() || d.base_backoff > d.max_backoff {
            return Err(ConfigError("delivery: max_attempts >= 1 and 0 < base_backoff <= max_backoff".into()));
        }
        if d.attempt_timeout.is_zero() || d.attempt_timeout > std::time::Duration::from_secs(60) {
            return Err(ConfigError("delivery: attempt_timeout must be between 1 ms and 60 s".into()));
        }
        if let Some(issuer) = &self.issuer {
            // RFC 8414 §2: https, no query, no fragment.
            if !issuer.starts_with("https://") || issuer.contains(['?', '#']) || issuer.ends_with('/') {
                return Err(ConfigError("issuer must be an https URL without query, fragment or trailing /".into()));
            }
        }
        Ok(())
    }
}

/// A configuration value outside what the standards allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gateway configuration: {0}")]
pub struct ConfigError(pub String);

/// The gateway's time source: every expiry (PAR, code, token, assertion, DPoP proof) is computed from it.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> OffsetDateTime;
}

/// Wall-clock time (production).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still until moved (tests: expiry is tested by moving it, never by sleeping).
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        Self(Mutex::new(start))
    }

    pub fn set(&self, now: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = now;
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Wall-clock time plus a movable offset: the sandbox's gateway clock, which scenarios move together with the
/// banks' simulated clocks (code and consent expiry) while it otherwise follows real time.
///
/// It reads the wall clock once, at construction, and follows a monotonic [`std::time::Instant`] from there, so
/// a system clock stepping back (NTP) never moves it backwards. Decision: [`OffsetClock::advance`] only moves
/// forward (a negative duration is refused, like the banks' `POST /admin/clock`); [`OffsetClock::set`] is the one
/// explicit way to put it anywhere, earlier included (a scenario resetting the world), and says so in its name.
#[derive(Debug)]
pub struct OffsetClock {
    wall_at_start: OffsetDateTime,
    started: std::time::Instant,
    offset: Mutex<Duration>,
}

/// [`OffsetClock::advance`] was asked to move backwards.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the gateway clock only moves forward with advance (asked {0}); use set to move it anywhere")]
pub struct ClockBackwards(pub Duration);

impl OffsetClock {
    /// Follows the wall clock, offset zero.
    pub fn new() -> Self {
        Self { wall_at_start: OffsetDateTime::now_utc(), started: std::time::Instant::now(), offset: Mutex::default() }
    }

    fn offset(&self) -> std::sync::MutexGuard<'_, Duration> {
        // A poisoned lock still holds a valid `Duration` (written in one assignment).
        self.offset.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn wall_now(&self) -> OffsetDateTime {
        self.wall_at_start + Duration::try_from(self.started.elapsed()).unwrap_or(Duration::ZERO)
    }

    /// How far ahead of (or, after a backwards [`set`](Self::set), behind) real time the clock is.
    pub fn current_offset(&self) -> Duration {
        *self.offset()
    }

    /// Moves forward by `by` (zero is allowed, negative is refused); returns the new now.
    pub fn advance(&self, by: Duration) -> Result<OffsetDateTime, ClockBackwards> {
        if by.is_negative() {
            return Err(ClockBackwards(by));
        }
        let mut offset = self.offset();
        *offset = offset.saturating_add(by);
        Ok(self.wall_now() + *offset)
    }

    /// Puts the clock at `at` from now on (it keeps following real time from there); may move it backwards.
    pub fn set(&self, at: OffsetDateTime) {
        let mut offset = self.offset();
        *offset = at - self.wall_now();
    }
}

impl Default for OffsetClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> OffsetDateTime {
        let offset = *self.offset();
        self.wall_now() + offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banks_named_in_the_policy_get_their_own_timeouts() {
        let slow = crate::banks::BankTimeouts { request: std::time::Duration::from_secs(60), ..Default::default() };
        let mut policy = UpstreamPolicy::default();
        policy.per_bank.insert("harbor".into(), slow);
        assert_eq!(policy.timeouts_for("harbor"), slow);
        assert_eq!(policy.timeouts_for("continental"), crate::banks::BankTimeouts::default());
    }

    #[test]
    fn lifetimes_outside_the_standard_limits_are_refused() {
        let mut config = GatewayConfig::sandbox(([127, 0, 0, 1], 0).into());
        assert_eq!(config.validate(), Ok(()));
        config.par_lifetime = Duration::seconds(600);
        assert!(config.validate().is_err());
        config.par_lifetime = DEFAULT_PAR_LIFETIME;
        config.code_lifetime = Duration::seconds(61);
        assert!(config.validate().is_err());
        config.code_lifetime = DEFAULT_CODE_LIFETIME;
        config.issuer = Some("http://gw.test".into());
        assert!(config.validate().is_err());
    }

    #[test]
    fn manual_clock_moves_only_when_told_and_secrets_never_print() {
        let start = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::seconds(91));
        assert_eq!(clock.now(), start + Duration::seconds(91));
        let secret = Secret::new("s3cr3t");
        assert_eq!(format!("{secret:?}"), "<hidden>");
        assert!(secret.matches("s3cr3t") && !secret.matches("s3cr3"));
    }

    #[test]
    fn offset_clock_follows_real_time_moves_forward_with_advance_and_anywhere_with_set() {
        let clock = OffsetClock::new();
        let before = clock.now();
        assert!((OffsetDateTime::now_utc() - before).abs() < Duration::seconds(5), "starts at real time");
        let moved = clock.advance(Duration::seconds(61)).expect("forward");
        assert!(moved >= before + Duration::seconds(61));
        assert!(clock.now() >= moved, "never behind what advance returned");
        assert_eq!(clock.advance(Duration::seconds(-1)), Err(ClockBackwards(Duration::seconds(-1))));
        assert!(clock.current_offset() >= Duration::seconds(61), "a refused advance changes nothing");
        let earlier = before - Duration::days(1);
        clock.set(earlier);
        let now = clock.now();
        assert!(now >= earlier && now < earlier + Duration::seconds(5), "set moves it back explicitly: {now}");
    }
}
