//! Fault injection for the bank's API: what QA and scenarios set through `PUT /admin/faults` to see how the gateway
//! copes with a misbehaving bank.
//!
//! A [`FaultRule`] names an endpoint by route name ([`ROUTE_NAMES`], or `*` for all) and any of: latency (fixed or
//! uniform-random), an error rate with a chosen HTTP status and FDX code, a maintenance window until a simulated
//! instant (503 + `Retry-After`; it starts at once, or at `maintenanceFrom` when the rule schedules it for later:
//! setting such a rule also announces a PLANNED_OUTAGE notification, see `events`), a connection-reset rate, a malformed-body rate (200 with truncated JSON) and a slow
//! body (streamed in small chunks with a delay between them). [`FaultBook::plan`] turns the rules into what to do
//! with one request; the API layer (`api::fdx`) carries the plan out.
//!
//! Random draws come from one `ChaCha8Rng` seeded by [`FaultBook::new`], so a scenario replays the same faults in
//! the same order. This module decides; it never sleeps, never touches sockets, and never reads the wall clock.

use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::sync::{Mutex, RwLock};
use std::time::Duration;
use time::OffsetDateTime;

/// Route names a rule may target (besides `*`).
pub const ROUTE_NAMES: [&str; 9] = [
    "accounts",
    "account",
    "transactions",
    "statements",
    "payment_networks",
    "contact",
    "customer",
    "token",
    "subscriptions",
];

/// Longest latency or chunk delay a rule may ask for.
pub const MAX_DELAY_MS: u64 = 60_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FaultRule {
    /// A route name from [`ROUTE_NAMES`] or `*`.
    pub endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyFault>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorFault>,
    /// The endpoint answers 503 until this simulated instant (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub maintenance_until: Option<OffsetDateTime>,
    /// The maintenance window starts at this simulated instant (RFC 3339; needs `maintenanceUntil`, before it).
    /// Without it the window starts at once.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub maintenance_from: Option<OffsetDateTime>,
    /// Share of requests (0..=1) whose connection is aborted instead of answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_reset_rate: Option<f64>,
    /// Share of requests (0..=1) answered 200 with a truncated, invalid JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub malformed_body_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_body: Option<SlowBodyFault>,
}

/// Added latency before the endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LatencyFault {
    Fixed {
        ms: u64,
    },
    #[serde(rename_all = "camelCase")]
    Uniform {
        min_ms: u64,
        max_ms: u64,
    },
}

/// Answer a share of requests with an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ErrorFault {
    /// 0..=1
    pub rate: f64,
    /// HTTP status, 400..=599.
    pub status: u16,
    /// FDX error code for the body, e.g. "1207" or "500".
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Stream the body in `chunkBytes` pieces with `chunkDelayMs` between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SlowBodyFault {
    pub chunk_bytes: usize,
    pub chunk_delay_ms: u64,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FaultError {
    #[error("rule {index}: {problem}")]
    Invalid { index: usize, problem: String },
}

/// What to do with one request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultPlan {
    /// Wait this long before answering.
    pub latency: Option<Duration>,
    pub outcome: FaultOutcome,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub enum FaultOutcome {
    /// Answer normally.
    #[default]
    Pass,
    /// Answer with this status and FDX error.
    Error { status: u16, code: String, message: String },
    /// 503 with `Retry-After` (seconds of simulated time until the window ends).
    Maintenance { retry_after_secs: u64 },
    /// Abort the connection instead of answering.
    ConnectionReset,
    /// Answer 200 with the real body cut short (invalid JSON).
    MalformedBody,
    /// Stream the real body slowly.
    SlowBody { chunk_bytes: usize, chunk_delay: Duration },
}

/// The bank's current fault rules and the seeded generator that decides which requests they hit.
#[derive(Debug)]
pub struct FaultBook {
    seed: u64,
    rules: RwLock<Vec<FaultRule>>,
    rng: Mutex<ChaCha8Rng>,
}

impl Default for FaultBook {
    fn default() -> Self {
        Self::new(0)
    }
}

impl FaultBook {
    pub fn new(seed: u64) -> Self {
        Self { seed, rules: RwLock::new(Vec::new()), rng: Mutex::new(Self::rng_for(seed)) }
    }

    fn rng_for(seed: u64) -> ChaCha8Rng {
        // A stream of its own, so fault draws never correlate with the ledger's.
        ChaCha8Rng::seed_from_u64(seed ^ 0x6661_756c_7473_0001)
    }

    fn read_rules(&self) -> std::sync::RwLockReadGuard<'_, Vec<FaultRule>> {
        // Rules are replaced wholesale, so a poisoned lock still holds a consistent list.
        self.rules.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The rules in force.
    pub fn rules(&self) -> Vec<FaultRule> {
        self.read_rules().clone()
    }

    /// Whether any rule is set (lets the hot path skip planning).
    pub fn is_empty(&self) -> bool {
        self.read_rules().is_empty()
    }

    /// Replace every rule (after validating them all: nothing changes on error).
    pub fn set(&self, rules: Vec<FaultRule>) -> Result<(), FaultError> {
        for (index, rule) in rules.iter().enumerate() {
            validate(rule).map_err(|problem| FaultError::Invalid { index, problem })?;
        }
        *self.rules.write().unwrap_or_else(|p| p.into_inner()) = rules;
        Ok(())
    }

    /// Remove every rule.
    pub fn clear(&self) {
        self.rules.write().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Back to a fresh bank: no rules, generator re-seeded.
    pub fn reset(&self) {
        self.clear();
        *self.rng.lock().unwrap_or_else(|p| p.into_inner()) = Self::rng_for(self.seed);
    }

    /// A latency drawn from the bank profile's distribution: log-normal with the given median and 99th percentile
    /// (σ = ln(p99/median) / 2.326, the standard normal's 99th percentile), capped at 3 × p99. `None` for 0/0.
    pub fn profile_latency(&self, median_ms: u32, p99_ms: u32) -> Option<Duration> {
        if p99_ms == 0 {
            return None;
        }
        let median = f64::from(median_ms.max(1));
        let p99 = f64::from(p99_ms).max(median);
        let sigma = (p99 / median).ln() / 2.326;
        let (u1, u2): (f64, f64) = {
            let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
            (rng.random::<f64>().max(f64::MIN_POSITIVE), rng.random::<f64>())
        };
        // Box–Muller transform: a standard normal draw from two uniforms.
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        let ms = (median.ln() + sigma * z).exp().min(3.0 * p99);
        Some(Duration::from_micros((ms * 1000.0) as u64))
    }

    /// Decide what happens to one request to `route` at simulated `now`. Rules naming the route come before `*`
    /// rules; the first latency found applies; outcomes are tried in the order maintenance, error, connection
    /// reset, malformed body, slow body, and the first that fires wins.
    pub fn plan(&self, route: &str, now: OffsetDateTime) -> FaultPlan {
        let rules = self.read_rules();
        if rules.is_empty() {
            return FaultPlan::default();
        }
        let matching: Vec<&FaultRule> =
            rules.iter().filter(|r| r.endpoint == route).chain(rules.iter().filter(|r| r.endpoint == "*")).collect();
        if matching.is_empty() {
            return FaultPlan::default();
        }
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        let latency = matching.iter().find_map(|r| r.latency).map(|l| match l {
            LatencyFault::Fixed { ms } => Duration::from_millis(ms),
            LatencyFault::Uniform { min_ms, max_ms } => Duration::from_millis(rng.random_range(min_ms..=max_ms)),
        });
        let mut hit = |rate: f64| rate >= 1.0 || (rate > 0.0 && rng.random_bool(rate));

        let outcome = 'outcome: {
            for rule in &matching {
                if let Some(until) = rule
                    .maintenance_until
                    .filter(|until| *until > now && rule.maintenance_from.is_none_or(|from| from <= now))
                {
                    let secs = (until - now).whole_seconds().max(1);
                    break 'outcome FaultOutcome::Maintenance { retry_after_secs: secs.unsigned_abs() };
                }
            }
            for rule in &matching {
                if let Some(e) = rule.error.as_ref().filter(|e| hit(e.rate)) {
                    let message = e.message.clone().unwrap_or_else(|| default_message(e.status).to_owned());
                    break 'outcome FaultOutcome::Error { status: e.status, code: e.code.clone(), message };
                }
            }
            for rule in &matching {
                if rule.connection_reset_rate.is_some_and(&mut hit) {
                    break 'outcome FaultOutcome::ConnectionReset;
                }
            }
            for rule in &matching {
                if rule.malformed_body_rate.is_some_and(&mut hit) {
                    break 'outcome FaultOutcome::MalformedBody;
                }
            }
            match matching.iter().find_map(|r| r.slow_body) {
                Some(s) => FaultOutcome::SlowBody {
                    chunk_bytes: s.chunk_bytes,
                    chunk_delay: Duration::from_millis(s.chunk_delay_ms),
                },
                None => FaultOutcome::Pass,
            }
        };
        FaultPlan { latency, outcome }
    }
}

fn default_message(status: u16) -> &'static str {
    match status {
        429 => "Too Many Requests",
        500 => "Internal server error",
        502 => "Bad gateway",
        503 => "Scheduled Maintenance",
        504 => "Gateway timeout",
        _ => "Simulated error",
    }
}

fn validate(rule: &FaultRule) -> Result<(), String> {
    if rule.endpoint != "*" && !ROUTE_NAMES.contains(&rule.endpoint.as_str()) {
        return Err(format!(
            "unknown endpoint `{}` (expected `*` or one of {})",
            rule.endpoint,
            ROUTE_NAMES.join(", ")
        ));
    }
    match (rule.maintenance_from, rule.maintenance_until) {
        (Some(_), None) => return Err("maintenanceFrom needs maintenanceUntil".into()),
        (Some(from), Some(until)) if from >= until => {
            return Err("maintenanceFrom must be before maintenanceUntil".into());
        }
        _ => {}
    }
    let rate_ok = |r: f64| (0.0..=1.0).contains(&r);
    match rule.latency {
        Some(LatencyFault::Fixed { ms }) if ms > MAX_DELAY_MS => {
            return Err(format!("latency above {MAX_DELAY_MS} ms"));
        }
        Some(LatencyFault::Uniform { min_ms, max_ms }) if min_ms > max_ms || max_ms > MAX_DELAY_MS => {
            return Err(format!("uniform latency needs minMs <= maxMs <= {MAX_DELAY_MS}"));
        }
        _ => {}
    }
    if let Some(e) = &rule.error {
        if !rate_ok(e.rate) {
            return Err("error.rate must be between 0 and 1".into());
        }
        if !(400..=599).contains(&e.status) {
            return Err("error.status must be an HTTP error status (400-599)".into());
        }
        if e.code.is_empty() || e.code.len() > 16 || !e.code.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err("error.code must be 1-16 letters or digits (an FDX code such as \"1207\")".into());
        }
        if e.message.as_ref().is_some_and(|m| m.len() > 256) {
            return Err("error.message is limited to 256 bytes".into());
        }
    }
    for (name, rate) in
        [("connectionResetRate", rule.connection_reset_rate), ("malformedBodyRate", rule.malformed_body_rate)]
    {
        if rate.is_some_and(|r| !rate_ok(r)) {
            return Err(format!("{name} must be between 0 and 1"));
        }
    }
    if let Some(s) = rule.slow_body
        && (s.chunk_bytes == 0 || s.chunk_bytes > 65_536 || s.chunk_delay_ms > MAX_DELAY_MS)
    {
        return Err(format!("slowBody needs 1..=65536 chunkBytes and chunkDelayMs <= {MAX_DELAY_MS}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn rule(endpoint: &str) -> FaultRule {
        FaultRule {
            endpoint: endpoint.into(),
            latency: None,
            error: None,
            maintenance_until: None,
            maintenance_from: None,
            connection_reset_rate: None,
            malformed_body_rate: None,
            slow_body: None,
        }
    }

    #[test]
    fn specific_rules_win_over_wildcards_and_other_routes_pass() {
        let book = FaultBook::new(1);
        let mut specific = rule("transactions");
        specific.latency = Some(LatencyFault::Fixed { ms: 250 });
        let mut any = rule("*");
        any.latency = Some(LatencyFault::Fixed { ms: 10 });
        any.error = Some(ErrorFault { rate: 1.0, status: 503, code: "503".into(), message: None });
        book.set(vec![any, specific]).unwrap();
        let now = datetime!(2026-11-18 12:00 UTC);
        let plan = book.plan("transactions", now);
        assert_eq!(plan.latency, Some(Duration::from_millis(250)));
        assert!(matches!(plan.outcome, FaultOutcome::Error { status: 503, .. }));
        assert_eq!(book.plan("accounts", now).latency, Some(Duration::from_millis(10)));
    }

    #[test]
    fn same_seed_same_draws() {
        let draws = |seed| {
            let book = FaultBook::new(seed);
            let mut r = rule("*");
            r.latency = Some(LatencyFault::Uniform { min_ms: 0, max_ms: 1000 });
            r.connection_reset_rate = Some(0.5);
            book.set(vec![r]).unwrap();
            (0..32).map(|_| book.plan("account", datetime!(2026-01-01 00:00 UTC))).collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        assert_ne!(draws(7), draws(8));
        let resets = draws(7).iter().filter(|p| p.outcome == FaultOutcome::ConnectionReset).count();
        assert!((4..=28).contains(&resets), "a 0.5 rate fires about half the time, got {resets}/32");
    }

    #[test]
    fn maintenance_ends_at_its_simulated_instant() {
        let book = FaultBook::new(1);
        let mut r = rule("accounts");
        r.maintenance_until = Some(datetime!(2026-01-01 02:00 UTC));
        book.set(vec![r]).unwrap();
        let during = book.plan("accounts", datetime!(2026-01-01 01:00 UTC));
        assert_eq!(during.outcome, FaultOutcome::Maintenance { retry_after_secs: 3600 });
        assert_eq!(book.plan("accounts", datetime!(2026-01-01 02:00 UTC)).outcome, FaultOutcome::Pass);
    }

    #[test]
    fn a_scheduled_maintenance_window_starts_at_its_from() {
        let book = FaultBook::new(1);
        let mut r = rule("*");
        r.maintenance_from = Some(datetime!(2026-01-02 01:00 UTC));
        r.maintenance_until = Some(datetime!(2026-01-02 03:00 UTC));
        book.set(vec![r.clone()]).unwrap();
        assert_eq!(book.plan("accounts", datetime!(2026-01-02 00:59 UTC)).outcome, FaultOutcome::Pass);
        let during = book.plan("accounts", datetime!(2026-01-02 02:00 UTC));
        assert_eq!(during.outcome, FaultOutcome::Maintenance { retry_after_secs: 3600 });
        r.maintenance_until = None;
        assert!(book.set(vec![r.clone()]).is_err(), "from without until");
        r.maintenance_until = Some(datetime!(2026-01-02 01:00 UTC));
        assert!(book.set(vec![r]).is_err(), "from not before until");
    }

    #[test]
    fn profile_latency_follows_median_and_p99() {
        let book = FaultBook::new(3);
        assert_eq!(book.profile_latency(0, 0), None);
        let mut draws: Vec<Duration> = (0..2000).map(|_| book.profile_latency(3, 25).unwrap()).collect();
        draws.sort();
        let median = draws[1000].as_secs_f64() * 1000.0;
        let p99 = draws[1980].as_secs_f64() * 1000.0;
        assert!((2.0..4.5).contains(&median), "median {median} ms");
        assert!((15.0..40.0).contains(&p99), "p99 {p99} ms");
    }

    #[test]
    fn invalid_rules_are_refused_whole() {
        let book = FaultBook::new(1);
        let mut bad = rule("*");
        bad.error = Some(ErrorFault { rate: 2.0, status: 503, code: "503".into(), message: None });
        assert!(book.set(vec![rule("accounts"), bad]).is_err());
        assert!(book.set(vec![rule("nope")]).is_err());
        assert!(book.is_empty());
    }
}
