//! Durations as scenario files write them: a number and a unit, combined (`500ms`, `5s`, `90m`, `12h`, `366d`,
//! `1d12h`). Simulated-time durations (clock moves, outages) and wall-time bounds (`within`, retry intervals) use
//! the same notation.

use std::time::Duration;

/// Parses `text`; `None` when it is not a positive duration in the notation above.
pub fn parse(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (Duration::from_millis(1), 2)
        } else {
            match rest.chars().next()? {
                's' => (Duration::from_secs(1), 1),
                'm' => (Duration::from_secs(60), 1),
                'h' => (Duration::from_secs(3600), 1),
                'd' => (Duration::from_secs(86_400), 1),
                'w' => (Duration::from_secs(7 * 86_400), 1),
                _ => return None,
            }
        };
        rest = &rest[len..];
        total = total.checked_add(unit.checked_mul(u32::try_from(number).ok()?)?)?;
    }
    (!total.is_zero()).then_some(total)
}

/// The hint every duration error gives.
pub const HINT: &str = "write a number and a unit: 500ms, 5s, 90m, 12h, 30d (combinations such as 1d12h too)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_combinations() {
        assert_eq!(parse("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse("1d12h"), Some(Duration::from_secs(36 * 3600)));
        assert_eq!(parse("366d"), Some(Duration::from_secs(366 * 86_400)));
        for bad in ["", "5", "s", "0s", "5x", "-1d", "1.5s"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
