//! Opaque identifiers of generated objects: customers, accounts, transactions and statements.
//!
//! Every id encodes the customer index (and account slot) it belongs to, so the bank resolves an id in O(1) without
//! any index, and a check character makes typos and tampering fail to parse instead of landing on another customer.
//! Parsers never panic: anything malformed yields `None`.
//!
//! Formats (all lowercase hex, fixed width):
//! - customer: `cus` + 8 hex (index) + 1 check char
//! - account: `acc` + 8 hex (customer index) + 2 hex (slot) + 1 check char
//! - transaction: `t` + 8 hex (customer) + 2 hex (slot) + 4 hex (day of history) + 3 hex (sequence in that day)
//! - statement: `s` + 8 hex (customer) + 2 hex (slot) + `yyyymmdd` (last day of the period)

use std::fmt::Write as _;

const CHECK_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A check character over the id's body (a position-weighted sum, enough to catch typos and casual edits).
fn check_char(body: &str) -> char {
    let mut acc: u32 = 7;
    for (i, b) in body.bytes().enumerate() {
        acc = (acc.wrapping_mul(31)).wrapping_add(u32::from(b) * (i as u32 + 1));
    }
    CHECK_ALPHABET[(acc % 32) as usize] as char
}

fn parse_hex_u32(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// The FDX `customerId` of customer `customer_index`.
pub fn customer_id(customer_index: u32) -> String {
    let mut id = String::with_capacity(12);
    let _ = write!(id, "cus{customer_index:08x}");
    let check = check_char(&id);
    id.push(check);
    id
}

/// The customer index of a `customerId`, `None` for anything malformed.
pub fn parse_customer_id(id: &str) -> Option<u32> {
    if id.len() != 12 || !id.is_ascii() {
        return None;
    }
    let (body, check) = id.split_at(11);
    let index = parse_hex_u32(body.strip_prefix("cus")?)?;
    check.starts_with(check_char(body)).then_some(index)
}

/// The FDX `accountId` of account `slot` of customer `customer_index`.
pub fn account_id(customer_index: u32, slot: u8) -> String {
    let mut id = String::with_capacity(14);
    let _ = write!(id, "acc{customer_index:08x}{slot:02x}");
    let check = check_char(&id);
    id.push(check);
    id
}

/// `(customer index, slot)` of an `accountId`, `None` for anything malformed.
pub fn parse_account_id(id: &str) -> Option<(u32, u8)> {
    if id.len() != 14 || !id.is_ascii() {
        return None;
    }
    let (body, check) = id.split_at(13);
    let rest = body.strip_prefix("acc")?;
    let index = parse_hex_u32(&rest[..8])?;
    let slot = u8::try_from(parse_hex_u32(&rest[8..])?).ok()?;
    check.starts_with(check_char(body)).then_some((index, slot))
}

/// The `transactionId` of the `seq`-th transaction generated for an account on day `day` of the history.
pub fn transaction_id(customer_index: u32, slot: u8, day: u16, seq: u16) -> String {
    // Hand-rolled hex: this runs once per generated transaction.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut bytes = [0u8; 18];
    bytes[0] = b't';
    let mut put = |from: usize, value: u64, width: usize| {
        for i in 0..width {
            bytes[from + i] = HEX[((value >> (4 * (width - 1 - i))) & 0xf) as usize];
        }
    };
    put(1, u64::from(customer_index), 8);
    put(9, u64::from(slot), 2);
    put(11, u64::from(day), 4);
    put(15, u64::from(seq & 0xfff), 3);
    bytes.iter().map(|b| *b as char).collect()
}

/// `(customer index, slot)` of a generated `transactionId`, `None` for anything else (e.g. injected ids).
pub fn parse_transaction_id(id: &str) -> Option<(u32, u8)> {
    if id.len() != 18 || !id.is_ascii() {
        return None;
    }
    let rest = id.strip_prefix('t')?;
    if !rest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    let index = parse_hex_u32(&rest[..8])?;
    let slot = u8::try_from(parse_hex_u32(&rest[8..10])?).ok()?;
    Some((index, slot))
}

/// The `statementId` of the statement of an account whose period ends on `period_end`.
pub fn statement_id(customer_index: u32, slot: u8, period_end: time::Date) -> String {
    let mut id = String::with_capacity(19);
    let _ = write!(
        id,
        "s{customer_index:08x}{slot:02x}{:04}{:02}{:02}",
        period_end.year(),
        u8::from(period_end.month()),
        period_end.day()
    );
    id
}

/// `(customer index, slot, period end)` of a `statementId`, `None` for anything malformed.
pub fn parse_statement_id(id: &str) -> Option<(u32, u8, time::Date)> {
    if id.len() != 19 || !id.is_ascii() {
        return None;
    }
    let rest = id.strip_prefix('s')?;
    let index = parse_hex_u32(&rest[..8])?;
    let slot = u8::try_from(parse_hex_u32(&rest[8..10])?).ok()?;
    let digits = &rest[10..];
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i32 = digits[..4].parse().ok()?;
    let month: u8 = digits[4..6].parse().ok()?;
    let day: u8 = digits[6..].parse().ok()?;
    let date = time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    Some((index, slot, date))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_round_trip() {
        for (index, slot) in [(0, 0), (7, 11), (999_999, 3), (u32::MAX, u8::MAX)] {
            assert_eq!(parse_account_id(&account_id(index, slot)), Some((index, slot)));
            assert_eq!(parse_customer_id(&customer_id(index)), Some(index));
            assert_eq!(parse_transaction_id(&transaction_id(index, slot, 700, 3)), Some((index, slot)));
            let end = time::macros::date!(2026 - 02 - 28);
            assert_eq!(parse_statement_id(&statement_id(index, slot, end)), Some((index, slot, end)));
        }
        assert_ne!(account_id(1, 0), account_id(0, 1));
    }

    #[test]
    fn edited_ids_are_refused() {
        let id = account_id(42, 1);
        let edited = id.replacen("2a", "2b", 1);
        assert_ne!(id, edited);
        assert_eq!(parse_account_id(&edited), None, "a changed digit must fail the check character");
        assert_eq!(parse_account_id(&id.to_uppercase()), None);
        assert_eq!(parse_customer_id(&account_id(1, 1)), None);
        assert_eq!(parse_account_id(""), None);
        assert_eq!(parse_statement_id("s0000000100202602310"), None);
    }

    proptest! {
        #[test]
        fn parsers_never_panic_on_junk(junk in ".{0,40}") {
            let _ = parse_account_id(&junk);
            let _ = parse_customer_id(&junk);
            let _ = parse_transaction_id(&junk);
            let _ = parse_statement_id(&junk);
        }

        #[test]
        fn account_ids_round_trip(index in any::<u32>(), slot in any::<u8>()) {
            prop_assert_eq!(parse_account_id(&account_id(index, slot)), Some((index, slot)));
            prop_assert_eq!(parse_customer_id(&customer_id(index)), Some(index));
        }
    }
}
