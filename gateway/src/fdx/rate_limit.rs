//! Per-client request rate limits of the resource API (429, FDX 1207, `Retry-After`), keyed on the client_id the
//! access token was issued to, never on the IP (many apps share egress addresses; one app has many).
//!
//! The generic cell rate algorithm (GCRA, the leaky bucket as a virtual scheduler): each client has a theoretical
//! arrival time `tat`; a request at `now` passes when `tat - now <= (burst - 1) * interval`, and moves `tat` one
//! interval on. One instant per client, no background task. Time is passed in, so the rule is tested directly.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A sustained rate and the burst allowed on top of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

/// Limits every client to the same [`RateLimit`].
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    tolerance: Duration,
    tat: Mutex<HashMap<String, Instant>>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        let interval = Duration::from_secs(1) / limit.per_second.max(1);
        let tolerance = interval * limit.burst.max(1).saturating_sub(1);
        Self { interval, tolerance, tat: Mutex::new(HashMap::new()) }
    }

    /// `Ok` when `client` may make a request at `now`; `Err(wait)` until it may.
    pub fn check(&self, client: &str, now: Instant) -> Result<(), Duration> {
        let mut tat = self.tat.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = tat.get(client).copied().unwrap_or(now).max(now);
        let ahead = current - now;
        if ahead > self.tolerance {
            return Err(ahead - self.tolerance);
        }
        match tat.get_mut(client) {
            Some(slot) => *slot = current + self.interval,
            None => {
                tat.insert(client.to_owned(), current + self.interval);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_holds_per_client() {
        let limiter = RateLimiter::new(RateLimit { per_second: 10, burst: 3 });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check("app", t0).is_ok());
        }
        let wait = limiter.check("app", t0).expect_err("the burst is spent");
        assert_eq!(wait, Duration::from_millis(100));
        assert!(limiter.check("other-app", t0).is_ok(), "limits are per client");
        assert!(limiter.check("app", t0 + Duration::from_millis(100)).is_ok());
        assert!(limiter.check("app", t0 + Duration::from_millis(100)).is_err());
        assert!(limiter.check("app", t0 + Duration::from_secs(5)).is_ok(), "an idle client gets its burst back");
    }
}
