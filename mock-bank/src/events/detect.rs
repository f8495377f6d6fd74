//! Detectors: which new transactions of an account deserve a notification (pure functions, no I/O, no clock).
//!
//! Each detector looks at one account's merged, sorted history ([`AccountLedger`]) and a [`Span`] of simulated time
//! `(after, until]`: the transactions *authorized* in the span are the new ones; everything before is history.
//! The thresholds below were calibrated against the ledger generator (test
//! `generated_months_are_not_flooded_with_alerts`: a few hundred generated accounts, three ordinary months each).
//!
//! RISK (category FRAUD), on card charges (debits with a merchant, card present or not):
//! - `CARD_NOT_PRESENT_FAR_FROM_HOME`: card not present, merchant state known and different from the customer's
//!   home state, local hour [`NIGHT_HOURS`] (00:00-05:59). The ledger's times stand for the customer's local time.
//! - `SMALL_CHARGE_BURST`: the [`BURST_CHARGES`]th charge under [`BURST_SMALL_CENTS`] within [`BURST_WINDOW`]
//!   (card testing); one alert per burst.
//! - `NEW_MERCHANT_CATEGORY`: a merchant category code the account never used before, for at least
//!   [`NEW_MCC_MIN_CENTS`], once the account has [`NEW_MCC_MIN_HISTORY`] of history (a new customer tries
//!   everything for the first time).
//! - `SUSPECTED_FRAUD`: the bank's own fraud model flagged the charge (`suspected_fraud`: generated fraud, or
//!   fraud raised through the admin API) and none of the rules above applies; a flagged card-not-present charge far
//!   from home is reported as `CARD_NOT_PRESENT_FAR_FROM_HOME` at any hour. A flagged charge within
//!   [`BURST_WINDOW`] after another RISK alert of the same span is folded into it.
//!
//! BALANCE (category NEW_DATA), on deposit accounts only:
//! - `LOW_BALANCE`: the available balance goes from at least [`LOW_BALANCE_CENTS`] to below it inside the span
//!   (authorizations, postings and dropped holds replayed in order); at most one per span.
//! - `LARGE_DEPOSIT`: a credit of at least [`LARGE_DEPOSIT_CENTS`] authorized in the span.
//!
//! Payroll above $5,000 counts as a large deposit; that is what a person who asks for the alert expects.

use crate::ledger::model::{AccountLedger, Cents, Channel, Direction, Settlement, Transaction, TxState};
use std::collections::HashSet;
use std::ops::RangeInclusive;
use time::{Duration, OffsetDateTime};

/// Local hours that count as night for card-not-present charges far from home.
pub const NIGHT_HOURS: RangeInclusive<u8> = 0..=5;
/// Small charges in a burst (the alert fires on this one).
pub const BURST_CHARGES: usize = 4;
/// A "small" card charge is below this ($10).
pub const BURST_SMALL_CENTS: Cents = 1_000;
/// How close together the charges of a burst are.
pub const BURST_WINDOW: Duration = Duration::minutes(60);
/// A first charge in a merchant category must be at least this ($250) to be reported.
pub const NEW_MCC_MIN_CENTS: Cents = 25_000;
/// The new-category rule applies once an account has this much history.
pub const NEW_MCC_MIN_HISTORY: Duration = Duration::days(90);
/// Available balance of a deposit account below which `LOW_BALANCE` fires ($100).
pub const LOW_BALANCE_CENTS: Cents = 10_000;
/// A single credit of at least this ($5,000) is a `LARGE_DEPOSIT`.
pub const LARGE_DEPOSIT_CENTS: Cents = 500_000;

/// Why a notification is raised: the `customFields.name` of its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    CardNotPresentFarFromHome,
    SmallChargeBurst,
    NewMerchantCategory,
    SuspectedFraud,
    LowBalance,
    LargeDeposit,
}

impl Reason {
    /// The reason code (`customFields.name`).
    pub fn code(self) -> &'static str {
        match self {
            Self::CardNotPresentFarFromHome => "CARD_NOT_PRESENT_FAR_FROM_HOME",
            Self::SmallChargeBurst => "SMALL_CHARGE_BURST",
            Self::NewMerchantCategory => "NEW_MERCHANT_CATEGORY",
            Self::SuspectedFraud => "SUSPECTED_FRAUD",
            Self::LowBalance => "LOW_BALANCE",
            Self::LargeDeposit => "LARGE_DEPOSIT",
        }
    }

    /// RISK (FRAUD) rather than BALANCE (NEW_DATA).
    pub fn is_risk(self) -> bool {
        !matches!(self, Self::LowBalance | Self::LargeDeposit)
    }
}

/// One detected reason to notify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub reason: Reason,
    pub account_id: String,
    /// When it happened: the transaction's authorization, or the instant the balance crossed the threshold.
    pub at: OffsetDateTime,
    pub transaction_id: Option<String>,
    /// Human text for `customFields.value`.
    pub detail: String,
}

/// Simulated time `(after, until]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub after: OffsetDateTime,
    pub until: OffsetDateTime,
}

impl Span {
    /// Exactly the instant `at` (the span of a transaction injected at `at`).
    pub fn at(at: OffsetDateTime) -> Self {
        Self { after: at - Duration::nanoseconds(1), until: at }
    }
}

fn dollars(cents: Cents) -> String {
    format!("${}.{:02}", cents / 100, (cents % 100).abs())
}

fn is_card_charge(tx: &Transaction) -> bool {
    tx.direction == Direction::Debit
        && tx.merchant.is_some()
        && matches!(tx.channel, Channel::CardPresent | Channel::CardNotPresent)
}

/// Indexes `[lo, hi)` of the transactions authorized in `span`.
fn new_range(ledger: &AccountLedger, span: Span) -> (usize, usize) {
    let txs = &ledger.transactions;
    let lo = txs.partition_point(|t| t.authorized_at <= span.after);
    let hi = txs.partition_point(|t| t.authorized_at <= span.until);
    (lo, hi.max(lo))
}

/// RISK alerts for the card charges authorized in `span` (see the module docs for the rules).
pub fn risk_alerts(ledger: &AccountLedger, home_region: &str, span: Span) -> Vec<Alert> {
    risk_alerts_folding(ledger, home_region, span, true)
}

/// [`risk_alerts`]; `fold` folds flagged charges into a RISK alert raised shortly before (off for one injection:
/// fraud raised through the admin API always gets its own alert).
fn risk_alerts_folding(ledger: &AccountLedger, home_region: &str, span: Span, fold: bool) -> Vec<Alert> {
    let txs = &ledger.transactions;
    let (lo, hi) = new_range(ledger, span);
    if lo == hi {
        return Vec::new();
    }
    let first_at = txs.first().map(|t| t.authorized_at);
    let mut seen: HashSet<u16> =
        txs[..lo].iter().filter(|t| is_card_charge(t)).filter_map(|t| t.merchant.as_ref().map(|m| m.mcc)).collect();
    let mut alerts: Vec<Alert> = Vec::new();
    for index in lo..hi {
        let tx = &txs[index];
        let Some(merchant) = tx.merchant.as_ref().filter(|_| is_card_charge(tx)) else { continue };
        let far = tx.channel == Channel::CardNotPresent
            && !merchant.region.trim().is_empty()
            && !merchant.region.trim().eq_ignore_ascii_case(home_region.trim());
        let night = NIGHT_HOURS.contains(&tx.authorized_at.hour());
        let small = |t: &Transaction| is_card_charge(t) && t.authorized_amount < BURST_SMALL_CENTS;
        let burst = small(tx)
            && txs[..=index]
                .iter()
                .rev()
                .take_while(|t| tx.authorized_at - t.authorized_at < BURST_WINDOW)
                .filter(|t| small(t))
                .count()
                == BURST_CHARGES;
        let new_category = !seen.contains(&merchant.mcc)
            && tx.authorized_amount >= NEW_MCC_MIN_CENTS
            && first_at.is_some_and(|first| tx.authorized_at - first >= NEW_MCC_MIN_HISTORY);
        seen.insert(merchant.mcc);
        let amount = dollars(tx.authorized_amount);
        let place = if merchant.region.trim().is_empty() {
            merchant.name.clone()
        } else {
            format!("{} ({}, {})", merchant.name, merchant.city, merchant.region)
        };
        let time = format!("{:02}:{:02}", tx.authorized_at.hour(), tx.authorized_at.minute());
        let (reason, detail) = if far && night {
            let text =
                format!("card-not-present charge of {amount} at {place} at {time}, far from home ({home_region})");
            (Reason::CardNotPresentFarFromHome, text)
        } else if burst {
            let text = format!(
                "{BURST_CHARGES} card charges under {} within an hour, the last {amount} at {place}",
                dollars(BURST_SMALL_CENTS)
            );
            (Reason::SmallChargeBurst, text)
        } else if new_category {
            let text = format!("first charge ever in merchant category {:04}: {amount} at {place}", merchant.mcc);
            (Reason::NewMerchantCategory, text)
        } else if tx.suspected_fraud {
            let recent = fold && alerts.last().is_some_and(|a| tx.authorized_at - a.at < BURST_WINDOW);
            if recent {
                continue;
            }
            if far {
                let text =
                    format!("card-not-present charge of {amount} at {place} at {time}, far from home ({home_region})");
                (Reason::CardNotPresentFarFromHome, text)
            } else {
                (
                    Reason::SuspectedFraud,
                    format!("charge of {amount} at {place} at {time} flagged by the bank's fraud model"),
                )
            }
        } else {
            continue;
        };
        alerts.push(Alert {
            reason,
            account_id: ledger.account.account_id.clone(),
            at: tx.authorized_at,
            transaction_id: Some(tx.transaction_id.clone()),
            detail,
        });
    }
    alerts
}

/// BALANCE alerts of a deposit account over `span` (see the module docs); none for cards and loans.
pub fn balance_alerts(ledger: &AccountLedger, span: Span) -> Vec<Alert> {
    if ledger.account.kind.is_liability() {
        return Vec::new();
    }
    let account_id = &ledger.account.account_id;
    let txs = &ledger.transactions;
    let (lo, hi) = new_range(ledger, span);
    let mut alerts: Vec<Alert> = txs[lo..hi]
        .iter()
        .filter(|t| t.direction == Direction::Credit && t.authorized_amount >= LARGE_DEPOSIT_CENTS)
        .map(|t| Alert {
            reason: Reason::LargeDeposit,
            account_id: account_id.clone(),
            at: t.authorized_at,
            transaction_id: Some(t.transaction_id.clone()),
            detail: format!("deposit of {}: {}", dollars(t.authorized_amount), t.description),
        })
        .collect();

    // Replay what moves the available balance inside the span: authorizations of debits (pending holds), postings
    // (the posted amount in, the hold out) and dropped holds (the hold out). See `AccountLedger::balances_at`.
    let in_span = |at: OffsetDateTime| at > span.after && at <= span.until;
    let mut moves: Vec<(OffsetDateTime, Cents)> = Vec::new();
    for tx in &txs[..hi] {
        let hold = if tx.direction == Direction::Debit { tx.authorized_amount } else { 0 };
        if in_span(tx.authorized_at) && hold != 0 {
            moves.push((tx.authorized_at, -hold));
        }
        match tx.settlement {
            Settlement::Posts { at, amount } => {
                let at = at.max(tx.authorized_at);
                if in_span(at) {
                    moves.push((at, tx.signed(amount, false) + hold));
                }
            }
            Settlement::Drops { at } => {
                let at = at.max(tx.authorized_at);
                if in_span(at) && hold != 0 {
                    moves.push((at, hold));
                }
            }
        }
    }
    if moves.is_empty() {
        return alerts;
    }
    moves.sort_by_key(|(at, _)| *at);
    let mut available = ledger.balances_at(span.after).available;
    let mut above = available >= LOW_BALANCE_CENTS;
    let mut i = 0;
    while i < moves.len() {
        let at = moves[i].0;
        while i < moves.len() && moves[i].0 == at {
            available += moves[i].1;
            i += 1;
        }
        if above && available < LOW_BALANCE_CENTS {
            alerts.push(Alert {
                reason: Reason::LowBalance,
                account_id: account_id.clone(),
                at,
                transaction_id: None,
                detail: format!("available balance {} is below {}", dollars(available), dollars(LOW_BALANCE_CENTS)),
            });
            break;
        }
        above = available >= LOW_BALANCE_CENTS;
    }
    alerts.sort_by_key(|a| a.at);
    alerts
}

/// The alerts one transaction raises when it is injected (at `now`, its authorization): the RISK rules applied to
/// it with everything before it as history (other transactions injected at the same instant included; a flagged
/// charge is never folded into another's alert, so raised fraud always alerts), a large
/// deposit, and a low balance when this transaction takes the available balance below the threshold.
pub fn injection_alerts(
    ledger: &AccountLedger,
    home_region: &str,
    transaction_id: &str,
    now: OffsetDateTime,
) -> Vec<Alert> {
    let Some(tx) = ledger.transactions.iter().find(|t| t.transaction_id == transaction_id) else { return Vec::new() };
    let mut alerts: Vec<Alert> = risk_alerts_folding(ledger, home_region, Span::at(tx.authorized_at), false)
        .into_iter()
        .filter(|a| a.transaction_id.as_deref() == Some(transaction_id))
        .collect();
    if ledger.account.kind.is_liability() {
        return alerts;
    }
    let account_id = &ledger.account.account_id;
    if tx.direction == Direction::Credit && tx.authorized_amount >= LARGE_DEPOSIT_CENTS {
        alerts.push(Alert {
            reason: Reason::LargeDeposit,
            account_id: account_id.clone(),
            at: tx.authorized_at,
            transaction_id: Some(tx.transaction_id.clone()),
            detail: format!("deposit of {}: {}", dollars(tx.authorized_amount), tx.description),
        });
    }
    let after = ledger.balances_at(now).available;
    let effect = match tx.state_at(now) {
        Some(TxState::Posted { amount, .. }) => tx.signed(amount, false),
        Some(TxState::Pending { amount }) if tx.direction == Direction::Debit => -amount,
        _ => 0,
    };
    if after - effect >= LOW_BALANCE_CENTS && after < LOW_BALANCE_CENTS {
        alerts.push(Alert {
            reason: Reason::LowBalance,
            account_id: account_id.clone(),
            at: now,
            transaction_id: Some(tx.transaction_id.clone()),
            detail: format!("available balance {} is below {}", dollars(after), dollars(LOW_BALANCE_CENTS)),
        });
    }
    alerts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::LedgerGenerator;
    use crate::ledger::model::{Account, AccountKind, Merchant, TxKind};
    use std::sync::Arc;
    use time::macros::{date, datetime};

    fn account(kind: AccountKind) -> Account {
        Account {
            account_id: "A1".into(),
            customer_index: 9,
            slot: 0,
            kind,
            product_name: "Everyday Checking".into(),
            nickname: "Checking ...0001".into(),
            account_number: "000000000001".into(),
            routing_number: "021000021".into(),
            opened: date!(2024 - 01 - 01),
            currency: "USD".into(),
            interest_rate_bp: 0,
            credit_limit: Some(500_000),
            original_principal: None,
            maturity: None,
            monthly_payment: None,
        }
    }

    fn charge(id: &str, at: OffsetDateTime, cents: Cents, mcc: u16, region: &str, channel: Channel) -> Transaction {
        Transaction {
            transaction_id: id.into(),
            account_id: "A1".into(),
            kind: TxKind::Shopping,
            direction: Direction::Debit,
            description: format!("CHARGE {id}"),
            merchant: Some(Merchant { name: "SHOP".into(), mcc, city: "TOWN".into(), region: region.into() }),
            channel,
            authorized_at: at,
            authorized_amount: cents,
            settlement: Settlement::Posts { at: at + Duration::days(2), amount: cents },
            category: "Shopping".into(),
            platform: None,
            check_number: None,
            suspected_fraud: false,
        }
    }

    fn credit(id: &str, at: OffsetDateTime, cents: Cents) -> Transaction {
        Transaction {
            direction: Direction::Credit,
            merchant: None,
            channel: Channel::Ach,
            kind: TxKind::Payroll,
            settlement: Settlement::Posts { at, amount: cents },
            ..charge(id, at, cents, 0, "", Channel::Ach)
        }
    }

    fn ledger(kind: AccountKind, opening: Cents, mut txs: Vec<Transaction>) -> AccountLedger {
        txs.sort_by(|a, b| (a.authorized_at, &a.transaction_id).cmp(&(b.authorized_at, &b.transaction_id)));
        AccountLedger { account: account(kind), opening_balance: opening, transactions: txs, statements: Vec::new() }
    }

    /// Six months of ordinary daytime grocery charges at home.
    fn history() -> Vec<Transaction> {
        (0..180)
            .map(|d| {
                let at = datetime!(2026-01-01 12:00 UTC) + Duration::days(d);
                charge(&format!("H{d:03}"), at, 4_500, 5411, "CA", Channel::CardPresent)
            })
            .collect()
    }

    const SPAN: Span = Span { after: datetime!(2026-07-01 00:00 UTC), until: datetime!(2026-07-08 00:00 UTC) };

    #[test]
    fn card_not_present_far_from_home_fires_only_at_night() {
        let mut txs = history();
        txs.push(charge("N1", datetime!(2026-07-02 03:10 UTC), 5_000, 5411, "FL", Channel::CardNotPresent));
        txs.push(charge("D1", datetime!(2026-07-02 14:10 UTC), 5_000, 5411, "FL", Channel::CardNotPresent));
        txs.push(charge("H1", datetime!(2026-07-03 03:10 UTC), 5_000, 5411, "CA", Channel::CardNotPresent));
        txs.push(charge("P1", datetime!(2026-07-04 03:10 UTC), 5_000, 5411, "FL", Channel::CardPresent));
        let alerts = risk_alerts(&ledger(AccountKind::CreditCard, 0, txs), "CA", SPAN);
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0].reason, Reason::CardNotPresentFarFromHome);
        assert_eq!(alerts[0].transaction_id.as_deref(), Some("N1"));
        assert!(alerts[0].detail.contains("$50.00"), "{}", alerts[0].detail);
    }

    #[test]
    fn a_burst_of_small_charges_fires_once_on_the_fourth() {
        let mut txs = history();
        let t0 = datetime!(2026-07-02 15:00 UTC);
        for k in 0..6 {
            txs.push(charge(&format!("B{k}"), t0 + Duration::minutes(5 * k), 300, 5411, "CA", Channel::CardNotPresent));
        }
        // Three small charges spread over a day are not a burst.
        for k in 0..3 {
            txs.push(charge(&format!("S{k}"), t0 + Duration::hours(3 * k + 3), 300, 5411, "CA", Channel::CardPresent));
        }
        let alerts = risk_alerts(&ledger(AccountKind::Checking, 100_000, txs), "CA", SPAN);
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0].reason, Reason::SmallChargeBurst);
        assert_eq!(alerts[0].transaction_id.as_deref(), Some("B3"));
    }

    #[test]
    fn a_new_merchant_category_needs_an_amount_and_a_history() {
        let mut txs = history();
        txs.push(charge("M1", datetime!(2026-07-02 12:00 UTC), 30_000, 7995, "CA", Channel::CardPresent));
        txs.push(charge("M2", datetime!(2026-07-03 12:00 UTC), 30_000, 7995, "CA", Channel::CardPresent));
        txs.push(charge("M3", datetime!(2026-07-03 13:00 UTC), 2_000, 5942, "CA", Channel::CardPresent));
        let alerts = risk_alerts(&ledger(AccountKind::CreditCard, 0, txs), "CA", SPAN);
        assert_eq!(
            alerts.iter().map(|a| (a.reason, a.transaction_id.clone().unwrap())).collect::<Vec<_>>(),
            vec![(Reason::NewMerchantCategory, "M1".to_owned())]
        );
        // A thin history: no alert.
        let thin = vec![
            charge("T0", datetime!(2026-06-20 12:00 UTC), 4_500, 5411, "CA", Channel::CardPresent),
            charge("M1", datetime!(2026-07-02 12:00 UTC), 30_000, 7995, "CA", Channel::CardPresent),
        ];
        assert!(risk_alerts(&ledger(AccountKind::CreditCard, 0, thin), "CA", SPAN).is_empty());
    }

    #[test]
    fn flagged_fraud_always_raises_risk_and_near_duplicates_fold() {
        let mut txs = history();
        let mut day = charge("F1", datetime!(2026-07-02 14:00 UTC), 89_999, 5411, "FL", Channel::CardNotPresent);
        day.suspected_fraud = true;
        let mut home = charge("F2", datetime!(2026-07-05 14:00 UTC), 8_000, 5411, "CA", Channel::CardPresent);
        home.suspected_fraud = true;
        let mut folded = charge("F3", datetime!(2026-07-05 14:20 UTC), 8_000, 5411, "CA", Channel::CardPresent);
        folded.suspected_fraud = true;
        txs.extend([day, home, folded]);
        let alerts = risk_alerts(&ledger(AccountKind::CreditCard, 0, txs), "CA", SPAN);
        let got: Vec<_> = alerts.iter().map(|a| (a.reason, a.transaction_id.clone().unwrap())).collect();
        assert_eq!(
            got,
            vec![(Reason::CardNotPresentFarFromHome, "F1".to_owned()), (Reason::SuspectedFraud, "F2".to_owned())]
        );
    }

    #[test]
    fn only_transactions_authorized_in_the_span_count() {
        let mut txs = history();
        txs.push(charge("N0", datetime!(2026-07-01 00:00 UTC), 5_000, 5411, "FL", Channel::CardNotPresent));
        txs.push(charge("N1", datetime!(2026-07-08 00:00 UTC), 5_000, 5411, "FL", Channel::CardNotPresent));
        let alerts = risk_alerts(&ledger(AccountKind::CreditCard, 0, txs), "CA", SPAN);
        assert_eq!(alerts.iter().map(|a| a.transaction_id.clone().unwrap()).collect::<Vec<_>>(), vec!["N1"]);
        let at = Span::at(datetime!(2026-07-01 00:00 UTC));
        let only = risk_alerts(&ledger(AccountKind::CreditCard, 0, history()), "CA", at);
        assert!(only.is_empty());
    }

    #[test]
    fn low_balance_fires_on_the_crossing_and_large_deposits_on_each_credit() {
        let txs = vec![
            // Posts in the span: 250 -> 150 (hold at authorization, posted two days later).
            charge("C1", datetime!(2026-07-01 10:00 UTC), 10_000, 5411, "CA", Channel::CardPresent),
            // 150 -> 70: crosses below $100.
            charge("C2", datetime!(2026-07-02 10:00 UTC), 8_000, 5411, "CA", Channel::CardPresent),
            credit("P1", datetime!(2026-07-03 10:00 UTC), 600_000),
            charge("C3", datetime!(2026-07-04 10:00 UTC), 605_000, 5411, "CA", Channel::CardPresent),
        ];
        let alerts = balance_alerts(&ledger(AccountKind::Checking, 25_000, txs), SPAN);
        let got: Vec<_> = alerts.iter().map(|a| (a.reason, a.at)).collect();
        assert_eq!(
            got,
            vec![
                (Reason::LowBalance, datetime!(2026-07-02 10:00 UTC)),
                (Reason::LargeDeposit, datetime!(2026-07-03 10:00 UTC)),
            ]
        );
        assert!(alerts[0].detail.contains("$70.00"), "{}", alerts[0].detail);
        // Already below at the start of the span: no crossing.
        let low = vec![charge("C1", datetime!(2026-07-02 10:00 UTC), 1_000, 5411, "CA", Channel::CardPresent)];
        assert!(balance_alerts(&ledger(AccountKind::Checking, 5_000, low), SPAN).is_empty());
        // Cards never get BALANCE alerts here.
        let card = vec![credit("P1", datetime!(2026-07-03 10:00 UTC), 600_000)];
        assert!(balance_alerts(&ledger(AccountKind::CreditCard, 0, card), SPAN).is_empty());
    }

    #[test]
    fn a_dropped_hold_gives_the_money_back() {
        let mut hold = charge("H1", datetime!(2026-07-02 10:00 UTC), 20_000, 5411, "CA", Channel::CardPresent);
        hold.settlement = Settlement::Drops { at: datetime!(2026-07-03 10:00 UTC) };
        let ledger = ledger(AccountKind::Checking, 25_000, vec![hold]);
        let alerts = balance_alerts(&ledger, SPAN);
        assert_eq!(alerts.len(), 1);
        assert_eq!(ledger.balances_at(SPAN.until).available, 25_000, "the hold is gone at the end");
        let later = Span { after: datetime!(2026-07-02 12:00 UTC), until: SPAN.until };
        assert!(balance_alerts(&ledger, later).is_empty(), "going back up is no alert");
    }

    /// Calibration: ordinary generated customers over three ordinary months are not flooded. Prints the rates.
    #[test]
    fn generated_months_are_not_flooded_with_alerts() {
        let profiles = crate::profile::load_profiles(None).unwrap();
        let months = [
            (datetime!(2026-08-01 00:00 UTC), datetime!(2026-09-01 00:00 UTC)),
            (datetime!(2026-09-01 00:00 UTC), datetime!(2026-10-01 00:00 UTC)),
            (datetime!(2026-10-01 00:00 UTC), datetime!(2026-11-01 00:00 UTC)),
        ];
        let (mut account_months, mut risk, mut low, mut large, mut card_months) = (0u32, 0u32, 0u32, 0u32, 0u32);
        let mut reasons: std::collections::BTreeMap<&str, u32> = Default::default();
        for profile in profiles.iter().take(2) {
            let generator = LedgerGenerator::new(5, Arc::new(profile.clone()), 200, date!(2024 - 11 - 01));
            for index in 20..150 {
                let Some(customer) = generator.generate(index, date!(2026 - 11 - 05)) else { continue };
                let home = customer.customer.address.region.clone();
                for account in &customer.accounts {
                    for (after, until) in months {
                        let span = Span { after, until };
                        account_months += 1;
                        if matches!(account.account.kind, AccountKind::Checking | AccountKind::CreditCard) {
                            card_months += 1;
                        }
                        for alert in risk_alerts(account, &home, span).into_iter().chain(balance_alerts(account, span))
                        {
                            *reasons.entry(alert.reason.code()).or_default() += 1;
                            match alert.reason {
                                Reason::LowBalance => low += 1,
                                Reason::LargeDeposit => large += 1,
                                _ => risk += 1,
                            }
                        }
                    }
                }
            }
        }
        let per = |n: u32| f64::from(n) / f64::from(account_months.max(1));
        println!(
            "{account_months} account-months ({card_months} with cards): RISK {:.3}, LOW_BALANCE {:.3}, \
             LARGE_DEPOSIT {:.3} per account-month; by reason {reasons:?}",
            per(risk),
            per(low),
            per(large)
        );
        assert!(account_months > 600, "a few hundred accounts over three months");
        assert!(f64::from(risk) / f64::from(card_months.max(1)) < 0.1, "RISK per card account-month");
        assert!(per(low) < 0.25, "LOW_BALANCE per account-month");
        assert!(per(large) < 0.5, "LARGE_DEPOSIT per account-month");
    }

    #[test]
    fn an_injection_is_judged_alone_even_beside_others_of_the_same_instant() {
        let now = datetime!(2026-07-02 03:00 UTC);
        let mut first = charge("I1", now, 5_000, 5411, "FL", Channel::CardNotPresent);
        first.suspected_fraud = true;
        let mut second = charge("I2", now, 6_000, 5411, "FL", Channel::CardNotPresent);
        second.suspected_fraud = true;
        let mut txs = history();
        txs.extend([first, second]);
        let ledger = ledger(AccountKind::Checking, 180 * 4_500 + 16_000, txs);
        let alerts = injection_alerts(&ledger, "CA", "I2", now);
        let got: Vec<_> = alerts.iter().map(|a| (a.reason, a.transaction_id.clone().unwrap())).collect();
        assert_eq!(
            got,
            vec![(Reason::CardNotPresentFarFromHome, "I2".to_owned()), (Reason::LowBalance, "I2".to_owned())]
        );
        assert!(injection_alerts(&ledger, "CA", "nope", now).is_empty());
    }
}
