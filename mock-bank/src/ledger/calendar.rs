//! US banking calendar: business days (Monday-Friday except Federal Reserve holidays), month arithmetic.
//!
//! Pure date arithmetic, public so tests and the bank API can reason about posting dates the same way the generator
//! does. Never reads a clock.

use time::{Date, Duration, Month, Weekday};

/// The `n`-th `weekday` of a month (n from 1).
fn nth_weekday(year: i32, month: Month, weekday: Weekday, n: u8) -> Option<Date> {
    let first = Date::from_calendar_date(year, month, 1).ok()?;
    let offset =
        (weekday.number_days_from_monday() as i64 - first.weekday().number_days_from_monday() as i64).rem_euclid(7);
    first.checked_add(Duration::days(offset + 7 * (i64::from(n) - 1)))
}

fn last_weekday(year: i32, month: Month, weekday: Weekday) -> Option<Date> {
    let last = last_day_of_month(year, month)?;
    let back =
        (last.weekday().number_days_from_monday() as i64 - weekday.number_days_from_monday() as i64).rem_euclid(7);
    last.checked_sub(Duration::days(back))
}

/// Observed date of a fixed-date holiday: Saturday moves to Friday, Sunday to Monday.
fn observed(date: Date) -> Date {
    match date.weekday() {
        Weekday::Saturday => date.previous_day().unwrap_or(date),
        Weekday::Sunday => date.next_day().unwrap_or(date),
        _ => date,
    }
}

/// Whether `date` is a Federal Reserve holiday (as observed).
pub fn is_holiday(date: Date) -> bool {
    let year = date.year();
    let fixed = |m: Month, d: u8| Date::from_calendar_date(year, m, d).ok().map(observed) == Some(date);
    let month = date.month();
    match month {
        Month::January => {
            fixed(Month::January, 1) || nth_weekday(year, Month::January, Weekday::Monday, 3) == Some(date)
        }
        Month::February => nth_weekday(year, Month::February, Weekday::Monday, 3) == Some(date),
        Month::May => last_weekday(year, Month::May, Weekday::Monday) == Some(date),
        Month::June => fixed(Month::June, 19),
        Month::July => fixed(Month::July, 4),
        Month::September => nth_weekday(year, Month::September, Weekday::Monday, 1) == Some(date),
        Month::October => nth_weekday(year, Month::October, Weekday::Monday, 2) == Some(date),
        Month::November => {
            fixed(Month::November, 11) || nth_weekday(year, Month::November, Weekday::Thursday, 4) == Some(date)
        }
        Month::December => {
            fixed(Month::December, 25)
                // New Year's Day falling on a Saturday is observed on Friday Dec 31.
                || (date.day() == 31 && date.weekday() == Weekday::Friday)
        }
        _ => false,
    }
}

pub fn is_weekend(date: Date) -> bool {
    matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// Monday-Friday and not a Federal Reserve holiday.
pub fn is_business_day(date: Date) -> bool {
    !is_weekend(date) && !is_holiday(date)
}

/// `date` itself when it is a business day, else the next one.
pub fn business_day_on_or_after(mut date: Date) -> Date {
    for _ in 0..10 {
        if is_business_day(date) {
            return date;
        }
        date = date.next_day().unwrap_or(date);
    }
    date
}

/// `date` itself when it is a business day, else the previous one.
pub fn business_day_on_or_before(mut date: Date) -> Date {
    for _ in 0..10 {
        if is_business_day(date) {
            return date;
        }
        date = date.previous_day().unwrap_or(date);
    }
    date
}

/// The `n`-th business day after `date` (`n = 0`: `date` itself).
pub fn add_business_days(mut date: Date, n: u32) -> Date {
    for _ in 0..n {
        date = business_day_on_or_after(date.next_day().unwrap_or(date));
    }
    date
}

/// The `n`-th business day before `date`.
pub fn sub_business_days(mut date: Date, n: u32) -> Date {
    for _ in 0..n {
        date = business_day_on_or_before(date.previous_day().unwrap_or(date));
    }
    date
}

pub fn last_day_of_month(year: i32, month: Month) -> Option<Date> {
    Date::from_calendar_date(year, month, time::util::days_in_month(month, year)).ok()
}

/// First day of the month `months` after the month of `date` (negative: before).
pub fn month_start(date: Date, months: i32) -> Option<Date> {
    let total = date.year() * 12 + i32::from(u8::from(date.month())) - 1 + months;
    let year = total.div_euclid(12);
    let month = Month::try_from(u8::try_from(total.rem_euclid(12) + 1).ok()?).ok()?;
    Date::from_calendar_date(year, month, 1).ok()
}

/// `date` moved by `months` calendar months, the day clamped to the target month's length.
pub fn add_months(date: Date, months: i32) -> Option<Date> {
    let start = month_start(date, months)?;
    let day = date.day().min(time::util::days_in_month(start.month(), start.year()));
    start.replace_day(day).ok()
}

/// Day `day` of the month of `month_first`, clamped to the month's length.
pub fn day_in_month(month_first: Date, day: u8) -> Date {
    let day = day.clamp(1, time::util::days_in_month(month_first.month(), month_first.year()));
    month_first.replace_day(day).unwrap_or(month_first)
}

/// Whole calendar months from the month of `from` to the month of `to`.
pub fn months_between(from: Date, to: Date) -> i32 {
    (to.year() - from.year()) * 12 + i32::from(u8::from(to.month())) - i32::from(u8::from(from.month()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn holidays_and_business_days() {
        assert!(is_holiday(date!(2026 - 11 - 26)), "Thanksgiving 2026");
        assert!(is_holiday(date!(2026 - 07 - 03)), "July 4th 2026 is a Saturday, observed Friday");
        assert!(is_holiday(date!(2026 - 01 - 19)), "MLK day");
        assert!(!is_business_day(date!(2026 - 05 - 25)), "Memorial Day");
        assert_eq!(add_business_days(date!(2026 - 11 - 27), 1), date!(2026 - 11 - 30), "Friday -> Monday");
        assert_eq!(add_business_days(date!(2026 - 11 - 28), 1), date!(2026 - 11 - 30), "Saturday -> Monday");
        assert_eq!(business_day_on_or_before(date!(2026 - 02 - 15)), date!(2026 - 02 - 13));
        assert_eq!(sub_business_days(date!(2026 - 02 - 13), 2), date!(2026 - 02 - 11));
    }

    #[test]
    fn month_arithmetic() {
        assert_eq!(add_months(date!(2026 - 01 - 31), 1), Some(date!(2026 - 02 - 28)));
        assert_eq!(month_start(date!(2026 - 01 - 15), -1), Some(date!(2025 - 12 - 01)));
        assert_eq!(months_between(date!(2024 - 11 - 30), date!(2026 - 11 - 01)), 24);
        assert_eq!(day_in_month(date!(2026 - 02 - 01), 31), date!(2026 - 02 - 28));
    }
}
