//! How long a consent lasts (FDX 6.2 `ConsentDurationType` + `durationPeriod`) and how far back it reaches
//! (`lookbackPeriod`, and the [`LookbackWindow`] that cuts requests to it).
//!
//! CFPB 1033 principles (DESIGN.md "Standards"): an authorization lasts at most one year, so `durationPeriod` is
//! never above 365 days and PERSISTENT consents are capped at 365 days too; at most 24 months (730 days) of history.
//! Pure rules: every instant is passed in, this module must never read the wall clock.

use serde::{Deserialize, Serialize};
use std::fmt;
use time::{Date, Duration, OffsetDateTime};

/// Longest authorization, in days (CFPB 1033: at most one year). Applies to TIME_BOUND and PERSISTENT.
pub const MAX_DURATION_DAYS: u32 = 365;
/// Longest lookback, in days (CFPB 1033: 24 months of transaction history).
pub const MAX_LOOKBACK_DAYS: u32 = 730;
/// Lookback granted when a request names none: the whole history CFPB 1033 covers.
pub const DEFAULT_LOOKBACK_DAYS: u32 = MAX_LOOKBACK_DAYS;
/// How long a ONE_TIME consent stays usable after the person authorizes it: long enough for the app to exchange
/// its code and fetch the data once, short enough that it is not a standing authorization.
pub const ONE_TIME_WINDOW: Duration = Duration::hours(1);

/// FDX 6.2 `ConsentDurationType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DurationType {
    OneTime,
    Persistent,
    TimeBound,
}

impl DurationType {
    /// The FDX enum value.
    pub fn as_fdx(self) -> &'static str {
        match self {
            Self::OneTime => "ONE_TIME",
            Self::Persistent => "PERSISTENT",
            Self::TimeBound => "TIME_BOUND",
        }
    }

    /// Parses the FDX enum value (case-sensitive).
    pub fn from_fdx(s: &str) -> Option<DurationType> {
        [Self::OneTime, Self::Persistent, Self::TimeBound].into_iter().find(|d| d.as_fdx() == s)
    }
}

impl fmt::Display for DurationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_fdx())
    }
}

/// Why a duration or lookback was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("durationPeriod is required when durationType is TIME_BOUND")]
    PeriodRequired,
    #[error("durationPeriod applies only to TIME_BOUND consents, not to {0}")]
    PeriodNotApplicable(DurationType),
    #[error("durationPeriod must be at least 1 day, got {0}")]
    PeriodNotPositive(i64),
    #[error(
        "durationPeriod must be at most {MAX_DURATION_DAYS} days (an authorization lasts at most one year), got {0}"
    )]
    PeriodTooLong(i64),
    #[error("lookbackPeriod must not be negative, got {0}")]
    LookbackNegative(i64),
    #[error("lookbackPeriod must be at most {MAX_LOOKBACK_DAYS} days (24 months), got {0}")]
    LookbackTooLong(i64),
}

/// A validated consent duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsentDuration {
    /// One use, within [`ONE_TIME_WINDOW`] of authorization.
    OneTime,
    /// Until revoked, but never longer than [`MAX_DURATION_DAYS`].
    Persistent,
    /// `days` (1..=365) from authorization.
    TimeBound { days: u32 },
}

impl ConsentDuration {
    /// Validates an FDX `durationType` with its optional `durationPeriod` (days).
    pub fn new(kind: DurationType, period: Option<i64>) -> Result<ConsentDuration, DurationError> {
        match (kind, period) {
            (DurationType::TimeBound, None) => Err(DurationError::PeriodRequired),
            (DurationType::TimeBound, Some(days)) if days < 1 => Err(DurationError::PeriodNotPositive(days)),
            (DurationType::TimeBound, Some(days)) => match u32::try_from(days) {
                Ok(d) if d <= MAX_DURATION_DAYS => Ok(ConsentDuration::TimeBound { days: d }),
                _ => Err(DurationError::PeriodTooLong(days)),
            },
            (other, Some(_)) => Err(DurationError::PeriodNotApplicable(other)),
            (DurationType::OneTime, None) => Ok(ConsentDuration::OneTime),
            (DurationType::Persistent, None) => Ok(ConsentDuration::Persistent),
        }
    }

    /// The FDX `durationType`.
    pub fn kind(self) -> DurationType {
        match self {
            Self::OneTime => DurationType::OneTime,
            Self::Persistent => DurationType::Persistent,
            Self::TimeBound { .. } => DurationType::TimeBound,
        }
    }

    /// The FDX `durationPeriod` (only TIME_BOUND carries one).
    pub fn period_days(self) -> Option<u32> {
        match self {
            Self::TimeBound { days } => Some(days),
            _ => None,
        }
    }

    /// How long the consent lasts after authorization (PERSISTENT: the one-year cap).
    pub fn lifetime(self) -> Duration {
        match self {
            Self::OneTime => ONE_TIME_WINDOW,
            Self::Persistent => Duration::days(i64::from(MAX_DURATION_DAYS)),
            Self::TimeBound { days } => Duration::days(i64::from(days)),
        }
    }

    /// When a consent authorized at `authorized_at` expires.
    pub fn expires_at(self, authorized_at: OffsetDateTime) -> OffsetDateTime {
        authorized_at + self.lifetime()
    }

    /// Plain words for a consent page.
    pub fn describe(self) -> String {
        match self {
            Self::OneTime => "once, within the next hour".to_owned(),
            Self::Persistent => format!("until you stop it, for at most {MAX_DURATION_DAYS} days"),
            Self::TimeBound { days: 1 } => "for 1 day".to_owned(),
            Self::TimeBound { days } => format!("for {days} days"),
        }
    }
}

/// A validated FDX `lookbackPeriod`: how many days of history a consent reaches, measured from request time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LookbackPeriod(u32);

impl LookbackPeriod {
    /// Validates `days` (0..=730); `None` is [`DEFAULT_LOOKBACK_DAYS`].
    pub fn new(days: Option<i64>) -> Result<LookbackPeriod, DurationError> {
        match days {
            None => Ok(LookbackPeriod(DEFAULT_LOOKBACK_DAYS)),
            Some(d) if d < 0 => Err(DurationError::LookbackNegative(d)),
            Some(d) => match u32::try_from(d) {
                Ok(d) if d <= MAX_LOOKBACK_DAYS => Ok(LookbackPeriod(d)),
                _ => Err(DurationError::LookbackTooLong(d)),
            },
        }
    }

    pub fn days(self) -> u32 {
        self.0
    }

    /// The window this lookback allows for a request made at `now`.
    pub fn window_at(self, now: OffsetDateTime) -> LookbackWindow {
        LookbackWindow { earliest: now - Duration::days(i64::from(self.0)) }
    }
}

/// The oldest instant a request made at a given time may see. FDX 6.2: lookback is "measured from request time, not
/// grant time".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookbackWindow {
    earliest: OffsetDateTime,
}

impl LookbackWindow {
    /// The oldest instant inside the window.
    pub fn earliest(self) -> OffsetDateTime {
        self.earliest
    }

    /// The start time to ask the bank for: the requested `start` moved forward into the window, or the window's
    /// start when none was requested. Never earlier than the window.
    pub fn clamp(self, start: Option<OffsetDateTime>) -> OffsetDateTime {
        match start {
            Some(s) if s > self.earliest => s,
            _ => self.earliest,
        }
    }

    /// [`clamp`](Self::clamp) for FDX `startTime` query parameters, which are dates (UTC).
    pub fn clamp_date(self, start: Option<Date>) -> Date {
        let earliest = self.earliest.date();
        match start {
            Some(s) if s > earliest => s,
            _ => earliest,
        }
    }

    /// Whether `t` is inside the window (transactions older than the window are cut from responses).
    pub fn contains(self, t: OffsetDateTime) -> bool {
        t >= self.earliest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn time_bound_needs_a_period_of_one_to_365_days() {
        assert_eq!(ConsentDuration::new(DurationType::TimeBound, None), Err(DurationError::PeriodRequired));
        assert_eq!(ConsentDuration::new(DurationType::TimeBound, Some(0)), Err(DurationError::PeriodNotPositive(0)));
        assert_eq!(
            ConsentDuration::new(DurationType::TimeBound, Some(365)),
            Ok(ConsentDuration::TimeBound { days: 365 })
        );
        assert_eq!(ConsentDuration::new(DurationType::TimeBound, Some(366)), Err(DurationError::PeriodTooLong(366)));
        assert_eq!(
            ConsentDuration::new(DurationType::TimeBound, Some(i64::MAX)),
            Err(DurationError::PeriodTooLong(i64::MAX))
        );
    }

    #[test]
    fn persistent_is_capped_at_one_year_and_one_time_at_an_hour() {
        let at = datetime!(2026-03-01 12:00 UTC);
        let persistent = ConsentDuration::new(DurationType::Persistent, None).unwrap();
        assert_eq!(persistent.expires_at(at), datetime!(2027-03-01 12:00 UTC));
        assert_eq!(
            ConsentDuration::new(DurationType::Persistent, Some(30)),
            Err(DurationError::PeriodNotApplicable(DurationType::Persistent))
        );
        let once = ConsentDuration::new(DurationType::OneTime, None).unwrap();
        assert_eq!(once.expires_at(at), datetime!(2026-03-01 13:00 UTC));
        assert_eq!(ConsentDuration::TimeBound { days: 90 }.expires_at(at), datetime!(2026-05-30 12:00 UTC));
    }

    #[test]
    fn lookback_is_at_most_24_months_and_clamps_requests() {
        assert_eq!(LookbackPeriod::new(None).unwrap().days(), 730);
        assert_eq!(LookbackPeriod::new(Some(731)), Err(DurationError::LookbackTooLong(731)));
        assert_eq!(LookbackPeriod::new(Some(-1)), Err(DurationError::LookbackNegative(-1)));
        let now = datetime!(2026-03-31 09:30 UTC);
        let window = LookbackPeriod::new(Some(90)).unwrap().window_at(now);
        assert_eq!(window.earliest(), datetime!(2025-12-31 09:30 UTC));
        // Too early: moved forward to the window's start; inside: kept; absent: the window's start.
        assert_eq!(window.clamp(Some(datetime!(2024-01-01 0:00 UTC))), window.earliest());
        assert_eq!(window.clamp(Some(datetime!(2026-02-01 0:00 UTC))), datetime!(2026-02-01 0:00 UTC));
        assert_eq!(window.clamp(None), window.earliest());
        assert_eq!(window.clamp_date(Some(date!(2020 - 01 - 01))), date!(2025 - 12 - 31));
        assert_eq!(window.clamp_date(Some(date!(2026 - 03 - 01))), date!(2026 - 03 - 01));
        assert!(!window.contains(datetime!(2025-12-31 09:29 UTC)));
        assert!(window.contains(datetime!(2026-01-15 0:00 UTC)));
    }
}
