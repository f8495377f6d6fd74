//! The bank's simulated clock. Everything time-dependent in a bank (which transactions exist yet, which pending ones
//! have posted, which statements are out, maintenance windows, token expiry) reads this clock, never the wall clock.
//!
//! The clock is either *frozen* (tests and scenarios: time moves only when told) or *ticking* (an interactive
//! sandbox: simulated time follows wall time from the last point it was set). Moving it backwards is refused: a bank's
//! history cannot un-happen.

use std::sync::Mutex;
use time::{Duration, OffsetDateTime};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClockError {
    #[error("the simulated clock cannot move backwards (now {now}, asked for {asked})")]
    Backwards { now: OffsetDateTime, asked: OffsetDateTime },
}

#[derive(Debug, Clone, Copy)]
struct ClockState {
    /// Simulated time at the moment `set_at` (wall time).
    sim_at_set: OffsetDateTime,
    set_at: std::time::Instant,
    ticking: bool,
}

/// A movable simulated clock, shared by every part of one bank.
#[derive(Debug)]
pub struct SimClock {
    state: Mutex<ClockState>,
}

impl SimClock {
    /// A clock that stands still at `at` until moved.
    pub fn frozen(at: OffsetDateTime) -> Self {
        Self::new(at, false)
    }

    /// A clock at `at` that follows wall time from now on.
    pub fn ticking(at: OffsetDateTime) -> Self {
        Self::new(at, true)
    }

    fn new(at: OffsetDateTime, ticking: bool) -> Self {
        let state = ClockState { sim_at_set: at, set_at: std::time::Instant::now(), ticking };
        Self { state: Mutex::new(state) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClockState> {
        // A poisoned lock still holds a consistent `ClockState` (plain data written in one assignment).
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The simulated now.
    pub fn now(&self) -> OffsetDateTime {
        let state = *self.lock();
        if state.ticking {
            let elapsed = Duration::try_from(state.set_at.elapsed()).unwrap_or(Duration::ZERO);
            state.sim_at_set + elapsed
        } else {
            state.sim_at_set
        }
    }

    pub fn is_ticking(&self) -> bool {
        self.lock().ticking
    }

    /// Move to `at`, which must not be earlier than now.
    pub fn set(&self, at: OffsetDateTime) -> Result<OffsetDateTime, ClockError> {
        let now = self.now();
        if at < now {
            return Err(ClockError::Backwards { now, asked: at });
        }
        let mut state = self.lock();
        state.sim_at_set = at;
        state.set_at = std::time::Instant::now();
        Ok(at)
    }

    /// Move forward by `by` (negative durations are refused).
    pub fn advance(&self, by: Duration) -> Result<OffsetDateTime, ClockError> {
        let now = self.now();
        self.set(now + by)
    }

    /// Stop or start following wall time, keeping the current simulated instant.
    pub fn set_ticking(&self, ticking: bool) {
        let now = self.now();
        let mut state = self.lock();
        *state = ClockState { sim_at_set: now, set_at: std::time::Instant::now(), ticking };
    }

    /// Put the clock at `at` even if that is earlier: only for the admin "reset to the seed" (`Books::reset`).
    pub fn reset(&self, at: OffsetDateTime) {
        let mut state = self.lock();
        (state.sim_at_set, state.set_at) = (at, std::time::Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn frozen_clock_moves_only_when_told() {
        let clock = SimClock::frozen(datetime!(2026-01-01 00:00 UTC));
        assert_eq!(clock.now(), datetime!(2026-01-01 00:00 UTC));
        clock.advance(Duration::days(3)).unwrap();
        assert_eq!(clock.now(), datetime!(2026-01-04 00:00 UTC));
        let err = clock.set(datetime!(2025-12-31 00:00 UTC)).unwrap_err();
        assert!(matches!(err, ClockError::Backwards { .. }));
        assert_eq!(clock.now(), datetime!(2026-01-04 00:00 UTC));
    }

    #[test]
    fn ticking_clock_never_goes_back() {
        let clock = SimClock::ticking(datetime!(2026-01-01 00:00 UTC));
        let a = clock.now();
        let b = clock.now();
        assert!(b >= a && a >= datetime!(2026-01-01 00:00 UTC));
        clock.set_ticking(false);
        assert_eq!(clock.now(), clock.now());
    }
}
