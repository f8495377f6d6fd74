//! A per-bank circuit breaker for the resource API's calls (issue: "a per-bank circuit breaker that recovers by
//! itself"). Closed: calls pass and consecutive upstream failures are counted; at `failure_threshold` it opens.
//! Open: calls are refused at once (the app gets 503 with `Retry-After`: the time left) until `cooldown` has passed.
//! Half-open: one probe call passes; its success closes the circuit, its failure opens it for another cooldown. A
//! probe that never reports back (its request was dropped) stops blocking after one more cooldown.
//!
//! Only failures that say the bank is unwell count ([`BankCallError::is_retryable`](super::BankCallError)): a bank
//! in its announced maintenance answers promptly with 503 and `Retry-After`, and is passed on as such, not counted.
//! Time is passed in (`now`), so the rules are tested without waiting; callers use the monotonic clock.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// When a circuit opens and how long it stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive failures that open the circuit.
    pub failure_threshold: u32,
    /// How long it stays open before a probe is let through.
    pub cooldown: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self { failure_threshold: 5, cooldown: Duration::from_secs(10) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probe_started: Instant },
}

/// One bank's breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    settings: BreakerSettings,
    state: Mutex<State>,
}

impl CircuitBreaker {
    pub fn new(settings: BreakerSettings) -> Self {
        Self { settings, state: Mutex::new(State::Closed { failures: 0 }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a call may go to the bank now; `Err(wait)` while the circuit is open (or its probe is out).
    pub fn admit(&self, now: Instant) -> Result<(), Duration> {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => Ok(()),
            State::Open { until } if now < until => Err(until - now),
            State::Open { .. } => {
                *state = State::HalfOpen { probe_started: now };
                Ok(())
            }
            State::HalfOpen { probe_started } => {
                let stale = probe_started + self.settings.cooldown;
                if now >= stale {
                    *state = State::HalfOpen { probe_started: now };
                    Ok(())
                } else {
                    Err(stale - now)
                }
            }
        }
    }

    /// The bank answered (any answer that is not an upstream failure).
    pub fn record_success(&self) {
        *self.lock() = State::Closed { failures: 0 };
    }

    /// The bank failed (timeout, reset, 5xx, malformed body).
    pub fn record_failure(&self, now: Instant) {
        let mut state = self.lock();
        let open = State::Open { until: now + self.settings.cooldown };
        *state = match *state {
            State::Closed { failures } if failures + 1 >= self.settings.failure_threshold => open,
            State::Closed { failures } => State::Closed { failures: failures + 1 },
            State::HalfOpen { .. } | State::Open { .. } => open,
        };
    }

    /// Whether calls are being refused at `now` (for metrics and the dashboard).
    pub fn is_open(&self, now: Instant) -> bool {
        matches!(*self.lock(), State::Open { until } if now < until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_recovers_through_a_probe() {
        let settings = BreakerSettings { failure_threshold: 3, cooldown: Duration::from_secs(10) };
        let breaker = CircuitBreaker::new(settings);
        let t0 = Instant::now();
        for _ in 0..2 {
            assert!(breaker.admit(t0).is_ok());
            breaker.record_failure(t0);
        }
        breaker.record_success();
        for _ in 0..2 {
            breaker.record_failure(t0);
        }
        assert!(breaker.admit(t0).is_ok(), "a success reset the count");
        breaker.record_failure(t0);
        assert!(breaker.is_open(t0));
        assert_eq!(breaker.admit(t0 + Duration::from_secs(4)), Err(Duration::from_secs(6)));
        // After the cooldown one probe passes; others wait for it.
        let t1 = t0 + Duration::from_secs(10);
        assert!(breaker.admit(t1).is_ok());
        assert!(breaker.admit(t1 + Duration::from_secs(1)).is_err());
        breaker.record_failure(t1 + Duration::from_secs(1));
        assert!(breaker.is_open(t1 + Duration::from_secs(2)), "a failed probe opens it again");
        let t2 = t1 + Duration::from_secs(12);
        assert!(breaker.admit(t2).is_ok());
        breaker.record_success();
        assert!(breaker.admit(t2).is_ok() && breaker.admit(t2).is_ok(), "a good probe closes it");
    }

    #[test]
    fn a_lost_probe_stops_blocking_after_a_cooldown() {
        let breaker = CircuitBreaker::new(BreakerSettings { failure_threshold: 1, cooldown: Duration::from_secs(5) });
        let t0 = Instant::now();
        breaker.record_failure(t0);
        let t1 = t0 + Duration::from_secs(5);
        assert!(breaker.admit(t1).is_ok());
        assert!(breaker.admit(t1 + Duration::from_secs(4)).is_err());
        assert!(breaker.admit(t1 + Duration::from_secs(5)).is_ok());
    }
}
