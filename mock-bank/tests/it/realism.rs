//! Statistical realism of the generated ledgers: every REALISM.md range the generator claims, measured over
//! thousands of customers of all four shipped banks and three seeds, plus reconciliation properties.
//!
//! The sample is generated once (a pure function of fixed seeds) and shared by the tests of this module.

use mock_bank::ledger::calendar::{add_business_days, business_day_on_or_before, is_business_day, sub_business_days};
use mock_bank::ledger::model::{
    AccountKind, AccountLedger, Channel, CustomerLedger, Direction, Settlement, Transaction, TxKind,
};
use mock_bank::ledger::{LedgerGenerator, PLATFORMS, card_minimum_due};
use mock_bank::profile::{BankProfile, load_profiles};
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};
use time::macros::date;
use time::{Date, Duration, Month, Weekday};

const HISTORY_START: Date = date!(2024 - 11 - 01);
const TODAY: Date = date!(2026 - 11 - 01);
const CUSTOMERS: u32 = 260;
const SEEDS: [u64; 3] = [11, 2024, 987_654_321];

struct Bank {
    profile: BankProfile,
    ledgers: Vec<CustomerLedger>,
}

static SAMPLE: LazyLock<Vec<Bank>> = LazyLock::new(|| {
    let mut banks = Vec::new();
    for profile in load_profiles(None).expect("shipped profiles") {
        for seed in SEEDS {
            let generator = LedgerGenerator::new(seed, Arc::new(profile.clone()), CUSTOMERS, HISTORY_START);
            let ledgers = (7..CUSTOMERS).filter_map(|i| generator.generate(i, TODAY)).collect();
            banks.push(Bank { profile: profile.clone(), ledgers });
        }
    }
    banks
});

fn accounts(kind: AccountKind) -> impl Iterator<Item = (&'static Bank, &'static AccountLedger)> {
    SAMPLE
        .iter()
        .flat_map(|b| b.ledgers.iter().map(move |l| (b, l)))
        .flat_map(|(b, l)| l.accounts.iter().map(move |a| (b, a)))
        .filter(move |(_, a)| a.account.kind == kind)
}

fn all_txs(kind: AccountKind) -> impl Iterator<Item = &'static Transaction> {
    accounts(kind).flat_map(|(_, a)| a.transactions.iter())
}

/// Full months of the history (the first and the current month excluded).
fn in_full_months(t: &Transaction) -> bool {
    let d = t.authorized_at.date();
    d >= date!(2024 - 12 - 01) && d < date!(2026 - 11 - 01)
}
const FULL_MONTHS: f64 = 23.0;

fn posted(t: &Transaction) -> Option<(Date, i64)> {
    match t.settlement {
        Settlement::Posts { at, amount } => Some((at.date(), amount)),
        Settlement::Drops { .. } => None,
    }
}

fn is_card_purchase(t: &Transaction) -> bool {
    matches!(t.channel, Channel::CardPresent | Channel::CardNotPresent)
        && t.direction == Direction::Debit
        && posted(t).is_some()
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn within(name: &str, value: f64, lo: f64, hi: f64) {
    assert!((lo..=hi).contains(&value), "{name} = {value:.4}, expected {lo}..={hi}");
}

/// Payroll streams (one per employer and account) with their posting dates.
fn payroll_streams() -> Vec<(&'static Bank, Vec<Date>)> {
    let mut out = Vec::new();
    for (bank, account) in accounts(AccountKind::Checking) {
        let mut streams: BTreeMap<&str, Vec<Date>> = BTreeMap::new();
        for t in account.transactions.iter().filter(|t| t.kind == TxKind::Payroll) {
            streams.entry(t.description.as_str()).or_default().push(t.authorized_at.date());
        }
        out.extend(streams.into_values().filter(|d| d.len() >= 20).map(|d| (bank, d)));
    }
    out
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Freq {
    Weekly,
    Biweekly,
    Semimonthly,
    Monthly,
}

fn classify(dates: &[Date]) -> Freq {
    // Over the two years of history: ~104 weekly, ~52 biweekly, 48 semimonthly, 24 monthly paydays.
    match dates.len() {
        80.. => Freq::Weekly,
        50..80 => Freq::Biweekly,
        36..50 => Freq::Semimonthly,
        _ => Freq::Monthly,
    }
}

#[test]
fn payroll_is_ach_ppd_with_realistic_frequencies_and_paydays() {
    let streams = payroll_streams();
    assert!(streams.len() > 2000, "{} payroll streams", streams.len());
    for t in all_txs(AccountKind::Checking).filter(|t| t.kind == TxKind::Payroll) {
        assert!(t.description.contains(" PAYROLL PPD ID: "), "{}", t.description);
        assert_eq!(t.channel, Channel::Ach);
        assert_eq!(t.direction, Direction::Credit);
        assert_eq!(posted(t).map(|p| p.0), Some(t.authorized_at.date()), "ACH credits post the same day");
    }
    let mut counts = BTreeMap::new();
    for (_, dates) in &streams {
        *counts.entry(format!("{:?}", classify(dates))).or_insert(0usize) += 1;
    }
    let share = |f: &str| counts.get(f).copied().unwrap_or(0) as f64 / streams.len() as f64 * 100.0;
    within("biweekly %", share("Biweekly"), 36.0, 43.0);
    within("weekly %", share("Weekly"), 27.0, 34.0);
    within("semimonthly %", share("Semimonthly"), 18.0, 20.5);
    within("monthly %", share("Monthly"), 5.0, 11.0);

    // Paydays (undo the early deposit): weekly/biweekly mostly Friday; all paychecks about half on Friday.
    let mut friday = 0;
    let mut total = 0;
    let mut weekly_friday = 0;
    let mut weekly_total = 0;
    for (bank, dates) in &streams {
        let freq = classify(dates);
        let edd = u32::from(bank.profile.early_direct_deposit_days);
        for d in dates {
            let payday = add_business_days(*d, edd);
            total += 1;
            friday += usize::from(payday.weekday() == Weekday::Friday);
            if matches!(freq, Freq::Weekly | Freq::Biweekly) {
                weekly_total += 1;
                weekly_friday += usize::from(payday.weekday() == Weekday::Friday);
            }
            if freq == Freq::Semimonthly && edd > 0 {
                let last = time::util::days_in_month(payday.month(), payday.year());
                let on_schedule = [15, last].iter().any(|day| {
                    let target = business_day_on_or_before(payday.replace_day(*day).unwrap());
                    sub_business_days(target, edd) == *d
                });
                let next_month = time::Date::from_calendar_date(payday.year(), payday.month(), 1).unwrap();
                let spill = payday.month() != d.month() || next_month == payday;
                assert!(on_schedule || spill, "semimonthly payroll posted {d} in {}", bank.profile.id);
            }
        }
    }
    within("weekly/biweekly paid on Friday %", weekly_friday as f64 / weekly_total as f64 * 100.0, 60.0, 80.0);
    within("paychecks on Friday %", friday as f64 / total as f64 * 100.0, 45.0, 60.0);
}

#[test]
fn early_direct_deposit_follows_the_profile() {
    for bank in SAMPLE.iter() {
        let edd = u32::from(bank.profile.early_direct_deposit_days);
        let mut on_payday_weekday = 0;
        let mut n = 0;
        for l in &bank.ledgers {
            for t in l.accounts[0].transactions.iter().filter(|t| t.kind == TxKind::Payroll) {
                n += 1;
                let payday = add_business_days(t.authorized_at.date(), edd);
                on_payday_weekday += usize::from(payday.weekday() == Weekday::Friday);
                if edd > 0 {
                    assert_ne!(
                        t.authorized_at.date().weekday(),
                        Weekday::Saturday,
                        "early deposits land on business days"
                    );
                }
            }
        }
        within(
            &format!("{} Friday paydays after undoing EDD", bank.profile.id),
            on_payday_weekday as f64 / n as f64,
            0.4,
            0.65,
        );
    }
}

#[test]
fn rent_is_mostly_paid_by_the_sixth_and_mortgages_amortize() {
    let (mut early, mut n) = (0, 0);
    for t in all_txs(AccountKind::Checking).filter(|t| t.kind == TxKind::Rent && in_full_months(t)) {
        assert!(matches!(t.channel, Channel::Ach | Channel::Check));
        let d = t.authorized_at.date();
        // Payments in the last days of a month are for the next month's rent.
        n += 1;
        early += usize::from(d.day() <= 6 || d.day() >= 26);
    }
    within("rent paid by the 6th", early as f64 / n as f64, 0.75, 0.85);

    let (mut with_interest, mut loan_payments) = (0, 0);
    for (_, l) in SAMPLE.iter().flat_map(|b| b.ledgers.iter().map(move |l| (b, l))) {
        let checking = &l.accounts[0];
        for loan in
            l.accounts.iter().filter(|a| matches!(a.account.kind, AccountKind::Mortgage | AccountKind::AutoLoan))
        {
            let rate = loan.account.interest_rate_bp;
            let term = loan.account.maturity.map(|m| (m - loan.account.opened).whole_days() / 30).unwrap_or(0);
            if loan.account.kind == AccountKind::Mortgage {
                assert!((550..=750).contains(&rate) && (350..=370).contains(&term), "mortgage {rate} bp {term} months");
            } else {
                assert!((600..=900).contains(&rate) && (58..=74).contains(&term), "auto {rate} bp {term} months");
            }
            let payments: Vec<&Transaction> =
                loan.transactions.iter().filter(|t| t.direction == Direction::Credit).collect();
            assert!(!payments.is_empty() || loan.opening_balance == 0, "a loan shows its monthly payments");
            for p in payments {
                assert!(p.description.contains("PRINCIPAL") && p.description.contains("INTEREST"), "{}", p.description);
                let debit = checking.transactions.iter().find(|t| {
                    t.authorized_at == p.authorized_at
                        && t.authorized_amount == p.authorized_amount
                        && t.direction == Direction::Debit
                });
                assert!(debit.is_some(), "the loan payment leaves checking the same instant");
                let interest = loan
                    .transactions
                    .iter()
                    .find(|t| t.kind == TxKind::Interest && t.authorized_at.date() == p.authorized_at.date());
                assert!(interest.is_none_or(|i| i.authorized_amount < p.authorized_amount), "principal + interest");
                with_interest += usize::from(interest.is_some());
                loan_payments += 1;
            }
        }
    }
    assert!(with_interest * 100 > loan_payments * 95, "loan payments split into principal and interest");
}

#[test]
fn utilities_are_monthly_ach_with_mcc_4900_and_varying_amounts() {
    let mut per_month = Vec::new();
    for (_, a) in accounts(AccountKind::Checking).filter(|(_, a)| a.account.slot == 0) {
        let mut billers: BTreeMap<&str, Vec<&Transaction>> = BTreeMap::new();
        for t in a.transactions.iter().filter(|t| t.kind == TxKind::Utility && t.merchant.is_some()) {
            assert_eq!(t.merchant.as_ref().unwrap().mcc, 4900);
            assert_eq!(t.channel, Channel::Ach);
            billers.entry(t.merchant.as_ref().unwrap().name.as_str()).or_default().push(t);
        }
        for txs in billers.values().filter(|t| t.len() > 12) {
            let days: Vec<i32> = txs.iter().map(|t| i32::from(t.authorized_at.day())).collect();
            let spread = days.iter().max().unwrap() - days.iter().min().unwrap();
            assert!(spread <= 7, "a bill comes around a fixed day: {days:?}");
            let distinct: std::collections::BTreeSet<i64> = txs.iter().map(|t| t.authorized_amount).collect();
            assert!(distinct.len() > txs.len() / 2, "amounts vary month to month");
        }
        per_month.push(billers.values().map(|v| v.len()).sum::<usize>() as f64 / 24.0);
    }
    within("utility bills per month", mean(&per_month), 2.5, 5.0);
}

#[test]
fn groceries_fuel_restaurants_and_subscriptions_look_real() {
    let card = || all_txs(AccountKind::Checking).chain(all_txs(AccountKind::CreditCard));
    let grocery: Vec<f64> = card()
        .filter(|t| t.merchant.as_ref().is_some_and(|m| m.mcc == 5411) && !t.suspected_fraud)
        .filter_map(|t| posted(t).map(|p| p.1 as f64 / 100.0))
        .collect();
    within("grocery trip average $", mean(&grocery), 50.0, 65.0);
    let mut g = grocery.clone();
    assert!(mean(&grocery) > median(&mut g), "right-skewed");

    let (mut status, mut holds) = (0, 0);
    for t in card().filter(|t| t.merchant.as_ref().is_some_and(|m| m.mcc == 5542)) {
        match t.settlement {
            Settlement::Drops { at } => {
                assert_eq!(t.authorized_amount, 100, "status checks are $1");
                assert!((1..=3).contains(&(at.date() - t.authorized_at.date()).whole_days()));
                status += 1;
            }
            Settlement::Posts { amount, .. } if t.authorized_amount >= 10_000 => {
                assert!(t.authorized_amount <= 17_500 && amount <= t.authorized_amount, "pump hold settles lower");
                holds += 1;
            }
            _ => {}
        }
    }
    assert!(status > 500 && holds > 500, "status checks {status}, holds {holds}");

    let tips: Vec<f64> = card()
        .filter(|t| t.merchant.as_ref().is_some_and(|m| m.mcc == 5812) && t.kind == TxKind::Restaurant)
        .filter(|t| t.channel == Channel::CardPresent)
        .filter_map(|t| posted(t).map(|p| p.1 as f64 / t.authorized_amount as f64 - 1.0))
        .collect();
    assert!(tips.iter().all(|t| (0.165..=0.225).contains(t)), "full-service tips 17-22 %");
    within("mean tip", mean(&tips), 0.18, 0.21);
    let fast_tipped: Vec<bool> = card()
        .filter(|t| t.merchant.as_ref().is_some_and(|m| m.mcc == 5814))
        .filter_map(|t| posted(t).map(|p| p.1 != t.authorized_amount))
        .collect();
    within(
        "fast food tipped share",
        fast_tipped.iter().filter(|x| **x).count() as f64 / fast_tipped.len() as f64,
        0.0,
        0.15,
    );

    for (_, a) in accounts(AccountKind::Checking).chain(accounts(AccountKind::CreditCard)) {
        let mut subs: BTreeMap<&str, Vec<&Transaction>> = BTreeMap::new();
        for t in a.transactions.iter().filter(|t| t.kind == TxKind::Subscription) {
            assert_eq!(t.channel, Channel::CardNotPresent);
            subs.entry(t.description.as_str()).or_default().push(t);
        }
        for txs in subs.values() {
            let amounts: std::collections::BTreeSet<i64> = txs.iter().map(|t| t.authorized_amount).collect();
            let days: std::collections::BTreeSet<u8> = txs.iter().map(|t| t.authorized_at.day()).collect();
            assert!(amounts.len() <= 2 && days.len() <= 4, "fixed amount, fixed day: {amounts:?} {days:?}");
        }
    }
}

fn template_prefix(template: &str) -> &str {
    &template[..template.find('{').unwrap_or(template.len())]
}

#[test]
fn transfers_use_the_bank_wording_and_atm_withdrawals_are_realistic() {
    let mut atm_amounts = Vec::new();
    let mut atm_per_month = Vec::new();
    for bank in SAMPLE.iter() {
        let w = &bank.profile.wording;
        for l in &bank.ledgers {
            let checking = &l.accounts[0];
            let mut atm = 0;
            for t in &checking.transactions {
                let template = match (t.kind, t.direction) {
                    (TxKind::Zelle, Direction::Debit) => &w.zelle_out,
                    (TxKind::Zelle, Direction::Credit) => &w.zelle_in,
                    (TxKind::Venmo, Direction::Debit) => &w.venmo_out,
                    (TxKind::Venmo, Direction::Credit) => &w.venmo_in,
                    (TxKind::Atm, _) => {
                        assert_eq!(t.merchant.as_ref().map(|m| m.mcc), Some(6011));
                        assert_eq!(t.authorized_amount % 2000, 0, "$20 multiples");
                        atm_amounts.push(t.authorized_amount as f64 / 100.0);
                        atm += usize::from(in_full_months(t));
                        &w.atm
                    }
                    _ => continue,
                };
                assert!(t.description.starts_with(template_prefix(template)), "{} vs {template}", t.description);
                assert!(!t.description.contains('{'), "placeholders filled: {}", t.description);
            }
            atm_per_month.push(atm as f64 / FULL_MONTHS);
        }
    }
    within("ATM withdrawal average $", mean(&atm_amounts), 120.0, 200.0);
    within("ATM withdrawals per month", mean(&atm_per_month), 0.5, 2.0);
}

#[test]
fn interest_and_fees_follow_balances() {
    // Savings interest every month on a positive balance.
    for (_, a) in accounts(AccountKind::Savings).filter(|(_, a)| a.account.interest_rate_bp >= 300) {
        for s in a.statements.iter().filter(|s| s.opening_balance >= 100_000 && s.closing_balance >= 100_000) {
            let moved_out = a.transactions.iter().any(|t| {
                t.kind == TxKind::Transfer
                    && t.direction == Direction::Debit
                    && t.authorized_at.date() >= s.period_start
                    && t.authorized_at.date() <= s.period_end
            });
            if moved_out {
                continue; // drained by an overdraft-protection transfer, refilled by a sweep
            }
            let credited =
                a.transactions.iter().any(|t| t.kind == TxKind::Interest && t.authorized_at.date() == s.period_end);
            assert!(credited, "monthly savings interest in {}", s.statement_id);
        }
    }
    // Overdraft fees: most accounts never, about 8 % more than ten a year.
    for bank in SAMPLE.iter().filter(|b| b.profile.wording.overdraft_fee_cents > 0) {
        let mut heavy = 0;
        let mut never = 0;
        for l in &bank.ledgers {
            let fees = l.accounts[0]
                .transactions
                .iter()
                .filter(|t| {
                    t.description == bank.profile.wording.overdraft_fee
                        && t.authorized_at.date() >= date!(2025 - 11 - 01)
                })
                .inspect(|t| assert_eq!(t.authorized_amount, bank.profile.wording.overdraft_fee_cents))
                .count();
            heavy += usize::from(fees > 10);
            never += usize::from(fees == 0);
        }
        let n = bank.ledgers.len() as f64;
        within(&format!("{} share with >10 overdrafts a year", bank.profile.id), heavy as f64 / n, 0.04, 0.12);
        assert!(never as f64 / n > 0.6, "most accounts never overdraw ({never} of {n})");
    }
    // Monthly fee only in months without direct deposit.
    for bank in SAMPLE.iter() {
        for l in &bank.ledgers {
            let checking = &l.accounts[0];
            for fee in checking.transactions.iter().filter(|t| t.description == bank.profile.wording.monthly_fee) {
                let (y, m) = (fee.authorized_at.year(), fee.authorized_at.month());
                let dd = checking.transactions.iter().any(|t| {
                    t.kind == TxKind::Payroll
                        && t.channel == Channel::Ach
                        && t.authorized_at.year() == y
                        && t.authorized_at.month() == m
                });
                assert!(!dd, "monthly fee waived with direct deposit");
            }
        }
    }
}

#[test]
fn card_cycles_statements_and_payments() {
    let (mut revolvers, mut cards) = (0, 0);
    let mut apr = Vec::new();
    let mut utilisation = Vec::new();
    for l in SAMPLE.iter().flat_map(|b| b.ledgers.iter()) {
        let checking = &l.accounts[0];
        for card in l.accounts.iter().filter(|a| a.account.kind == AccountKind::CreditCard) {
            apr.push(f64::from(card.account.interest_rate_bp) / 100.0);
            let limit = card.account.credit_limit.expect("cards have a limit");
            let ends: std::collections::BTreeSet<u8> =
                card.statements.iter().skip(1).map(|s| s.period_end.day()).collect();
            assert!(ends.len() <= 1, "closing day fixed per card: {ends:?}");
            let mut revolved = false;
            for s in &card.statements {
                utilisation.push(s.closing_balance.max(0) as f64 / limit as f64);
                let due = s.due_date.expect("card statements have a due date");
                assert_eq!((due - s.period_end).whole_days(), 25);
                let min = s.minimum_due.expect("minimum due");
                assert!(min <= s.closing_balance.max(0));
                if s.closing_balance > 3500 {
                    assert!(min >= 2500, "floor");
                }
                if s.closing_balance <= 0 {
                    continue;
                }
                let payments: Vec<&Transaction> = card
                    .transactions
                    .iter()
                    .filter(|t| {
                        t.kind == TxKind::CardPayment
                            && t.authorized_at.date() > s.period_end
                            && t.authorized_at.date() < due
                    })
                    .collect();
                if due > TODAY {
                    continue;
                }
                assert_eq!(payments.len(), 1, "one payment per statement before the due date");
                let p = payments[0];
                assert!(p.authorized_amount >= min && p.authorized_amount <= s.closing_balance);
                revolved |= p.authorized_amount < s.closing_balance;
                let mirror = checking.transactions.iter().any(|t| {
                    t.kind == TxKind::CardPayment
                        && t.authorized_at == p.authorized_at
                        && t.authorized_amount == p.authorized_amount
                });
                assert!(mirror, "the payment leaves checking the same day");
            }
            if card.statements.len() >= 12 {
                cards += 1;
                revolvers += usize::from(revolved);
            }
        }
    }
    within("revolver share", revolvers as f64 / cards as f64, 0.45, 0.52);
    within("mean APR %", mean(&apr), 20.0, 25.0);
    assert!(apr.iter().all(|a| (20.0..=25.0).contains(a)));
    within("mean utilisation", mean(&utilisation), 0.25, 0.30);
}

#[test]
fn card_interest_is_apr_over_twelve_on_the_revolving_balance() {
    let mut checked = 0;
    for (_, card) in accounts(AccountKind::CreditCard) {
        for w in card.statements.windows(2) {
            let (prev, cur) = (&w[0], &w[1]);
            let paid: i64 = card
                .transactions
                .iter()
                .filter(|t| {
                    t.kind == TxKind::CardPayment
                        && t.authorized_at.date() >= cur.period_start
                        && t.authorized_at.date() <= cur.period_end
                })
                .map(|t| t.authorized_amount)
                .sum();
            let interest: i64 = card
                .transactions
                .iter()
                .filter(|t| t.kind == TxKind::Interest && t.authorized_at.date() == cur.period_end)
                .map(|t| t.authorized_amount)
                .sum();
            let revolving = prev.closing_balance - paid;
            if revolving > 0 {
                let expected = (revolving as f64 * f64::from(card.account.interest_rate_bp) / 120_000.0).round() as i64;
                assert!((interest - expected).abs() <= 1, "interest {interest}, expected {expected}");
                checked += 1;
            } else {
                assert_eq!(interest, 0, "no interest when the statement was paid in full");
            }
        }
    }
    assert!(checked > 1000);
}

#[test]
fn descriptors_are_true_to_life() {
    let (mut square, mut toast, mut amazon, mut store, mut suffix, mut cp) = (0, 0, 0, 0, 0, 0);
    for t in all_txs(AccountKind::Checking).chain(all_txs(AccountKind::CreditCard)).filter(|t| is_card_purchase(t)) {
        let d = &t.description;
        square += usize::from(d.starts_with("SQ *"));
        toast += usize::from(d.starts_with("TST* "));
        if d.starts_with("AMZN Mktp US*") {
            amazon += 1;
            assert_eq!(d.len(), "AMZN Mktp US*".len() + 9, "{d}");
        }
        store += usize::from(d.contains(" #"));
        if t.channel == Channel::CardPresent && !t.suspected_fraud {
            cp += 1;
            let m = t.merchant.as_ref().unwrap();
            suffix += usize::from(d.ends_with(&format!(" {}", m.region)));
            assert!(m.mcc >= 1000, "4-digit MCC");
        }
    }
    assert!(square > 1000 && toast > 500 && amazon > 1000 && store > 10_000, "{square} {toast} {amazon} {store}");
    assert!(suffix as f64 / cp as f64 > 0.95, "card-present descriptors end with the state");
    let subs: std::collections::BTreeSet<&str> = all_txs(AccountKind::Checking)
        .filter(|t| t.kind == TxKind::Subscription)
        .map(|t| t.description.as_str())
        .collect();
    assert!(subs.contains("NETFLIX.COM") && subs.contains("SPOTIFY USA"));
}

#[test]
fn pending_transactions_post_on_business_days_or_drop() {
    let mut delays = [0usize; 8];
    let mut weekend_monday = (0, 0);
    for t in all_txs(AccountKind::Checking).chain(all_txs(AccountKind::CreditCard)) {
        let auth = t.authorized_at.date();
        match t.settlement {
            Settlement::Posts { at, .. } => {
                assert!(at >= t.authorized_at);
                if matches!(t.channel, Channel::CardPresent | Channel::CardNotPresent) && t.kind != TxKind::Refund {
                    let mut n = 0;
                    let mut d = auth;
                    while d < at.date() {
                        d = add_business_days(d, 1);
                        n += 1;
                    }
                    assert!(is_business_day(at.date()), "posts on a business day");
                    assert!(at.hour() < 8, "posting early in the morning");
                    delays[n.min(7)] += 1;
                    if auth.weekday() == Weekday::Saturday || auth.weekday() == Weekday::Sunday {
                        weekend_monday.1 += 1;
                        weekend_monday.0 += usize::from(
                            at.date().weekday() == Weekday::Monday || !is_business_day(at.date() - Duration::days(1)),
                        );
                    }
                }
            }
            Settlement::Drops { at } => {
                let days = (at.date() - auth).whole_days();
                assert!((1..=8).contains(&days), "holds drop after 1-8 days");
            }
        }
    }
    let total: usize = delays.iter().sum();
    assert_eq!(delays[0], 0, "card authorizations post on a later business day");
    assert_eq!(delays[6] + delays[7], 0, "at most 5 business days");
    within("posted within 1-3 business days", (delays[1] + delays[2] + delays[3]) as f64 / total as f64, 0.9, 1.0);
    within("weekend activity first posts Monday", weekend_monday.0 as f64 / weekend_monday.1 as f64, 0.5, 1.0);
}

#[test]
fn channels_platforms_and_fraud() {
    let mut cnp = 0;
    let mut via_platform = 0;
    let (mut value, mut fraud_value, mut fraud_cnp) = (0i64, 0i64, 0i64);
    let mut bursts = 0;
    for (_, a) in accounts(AccountKind::Checking).chain(accounts(AccountKind::CreditCard)) {
        let mut small_fraud_run = 0;
        for t in a.transactions.iter().filter(|t| is_card_purchase(t)) {
            let amount = posted(t).unwrap().1;
            value += amount;
            if t.channel == Channel::CardNotPresent && !t.suspected_fraud {
                cnp += 1;
                if let Some(p) = &t.platform {
                    assert!(PLATFORMS.contains(&p.as_str()), "{p}");
                    via_platform += 1;
                }
            }
            if t.channel == Channel::CardPresent {
                assert!(t.platform.is_none(), "platforms are card-not-present");
            }
            if t.suspected_fraud {
                fraud_value += amount;
                if t.channel == Channel::CardNotPresent {
                    fraud_cnp += amount;
                }
                if amount <= 500 {
                    small_fraud_run += 1;
                } else {
                    bursts += usize::from(small_fraud_run >= 3);
                    small_fraud_run = 0;
                }
            }
        }
    }
    within("CNP purchases through a platform", via_platform as f64 / cnp as f64, 0.05, 0.10);
    within("fraud basis points of card value", fraud_value as f64 / value as f64 * 10_000.0, 7.0, 14.0);
    assert!(fraud_cnp * 2 > fraud_value, "card-not-present is the majority of fraud");
    assert!(bursts >= 5, "card-testing bursts then a large purchase: {bursts}");
}

#[test]
fn volumes_and_amounts_match_payment_studies() {
    let (mut debit_counts, mut debit_amounts, mut ach, mut checks) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (_, a) in accounts(AccountKind::Checking).filter(|(_, a)| a.account.slot == 0) {
        let full: Vec<&Transaction> = a.transactions.iter().filter(|t| in_full_months(t)).collect();
        let purchases: Vec<&Transaction> =
            full.iter().copied().filter(|t| is_card_purchase(t) && !t.suspected_fraud).collect();
        debit_counts.push(purchases.len() as f64 / FULL_MONTHS);
        debit_amounts.extend(purchases.iter().map(|t| posted(t).unwrap().1 as f64 / 100.0));
        ach.push(
            full.iter().filter(|t| t.channel == Channel::Ach && t.direction == Direction::Debit).count() as f64
                / FULL_MONTHS,
        );
        checks.push(
            full.iter().filter(|t| t.channel == Channel::Check && t.direction == Direction::Debit).count() as f64
                / FULL_MONTHS,
        );
    }
    within("debit card purchases per month", mean(&debit_counts), 15.0, 25.0);
    within("ACH bill debits per month", mean(&ach), 3.0, 9.0);
    within("checks per month", mean(&checks), 0.0, 3.0);
    let debit_mean = mean(&debit_amounts);
    within("average debit payment $", debit_mean, 35.0, 50.0);
    let under = debit_amounts.iter().filter(|a| **a < 25.0).count() as f64 / debit_amounts.len() as f64;
    within("debit payments under $25", under, 0.55, 0.65);
    let debit_median = median(&mut debit_amounts);
    assert!(debit_mean / debit_median > 1.5, "mean/median {debit_mean}/{debit_median}");

    let (mut credit_counts, mut credit_amounts) = (Vec::new(), Vec::new());
    for (_, a) in accounts(AccountKind::CreditCard).filter(|(_, a)| a.account.slot <= 3) {
        let purchases: Vec<&Transaction> =
            a.transactions.iter().filter(|t| in_full_months(t) && is_card_purchase(t) && !t.suspected_fraud).collect();
        if purchases.len() > 50 {
            credit_counts.push(purchases.len() as f64 / FULL_MONTHS);
            credit_amounts.extend(purchases.iter().map(|t| posted(t).unwrap().1 as f64 / 100.0));
        }
    }
    within("credit card transactions per active card per month", mean(&credit_counts), 10.0, 15.0);
    within("average credit payment $", mean(&credit_amounts), 75.0, 95.0);
}

#[test]
fn balances_seasons_and_weekends() {
    let now = TODAY.midnight().assume_utc();
    let mut liquid: Vec<f64> = SAMPLE
        .iter()
        .flat_map(|b| b.ledgers.iter())
        .map(|l| {
            l.accounts
                .iter()
                .filter(|a| matches!(a.account.kind, AccountKind::Checking | AccountKind::Savings))
                .map(|a| a.balances_at(now).current)
                .sum::<i64>() as f64
                / 100.0
        })
        .collect();
    within("median checking + savings $", median(&mut liquid), 5_000.0, 13_000.0);

    let mut by_month: BTreeMap<(i32, Month), i64> = BTreeMap::new();
    let mut weekday = [0usize; 7];
    for t in all_txs(AccountKind::Checking).chain(all_txs(AccountKind::CreditCard)).filter(|t| is_card_purchase(t)) {
        *by_month.entry((t.authorized_at.year(), t.authorized_at.month())).or_default() += posted(t).unwrap().1;
        if in_full_months(t) {
            weekday[t.authorized_at.weekday().number_days_from_monday() as usize] += 1;
        }
    }
    for year in [2024, 2025] {
        let nov = by_month[&(year + i32::from(year == 2024), Month::November)] as f64;
        let dec = by_month[&(year, Month::December)] as f64;
        if year == 2025 {
            within("December over November spending", dec / nov - 1.0, 0.10, 0.20);
        }
    }
    // Count per calendar day: the 23 full months have about as many of each weekday.
    let weekend = (weekday[5] + weekday[6]) as f64 / 2.0;
    let weekdays = weekday[..5].iter().sum::<usize>() as f64 / 5.0;
    assert!(weekend > weekdays, "weekend days carry more card transactions per day: {weekday:?}");
}

#[test]
fn statements_and_balances_reconcile() {
    let now = TODAY.midnight().assume_utc();
    for l in SAMPLE.iter().flat_map(|b| b.ledgers.iter()).take(1500) {
        for a in &l.accounts {
            let liability = a.account.kind.is_liability();
            let posted_by = |end: Date| -> i64 {
                a.transactions
                    .iter()
                    .filter_map(|t| match t.settlement {
                        Settlement::Posts { at, amount } if at.date() <= end => Some(t.signed(amount, liability)),
                        _ => None,
                    })
                    .sum()
            };
            for w in a.statements.windows(2) {
                assert_eq!(w[0].closing_balance, w[1].opening_balance, "statements chain");
                assert_eq!(w[0].period_end + Duration::days(1), w[1].period_start, "periods are contiguous");
            }
            for s in &a.statements {
                assert_eq!(s.closing_balance, a.opening_balance + posted_by(s.period_end), "{}", s.statement_id);
                assert!(s.period_end <= TODAY, "no statement for a period that has not ended");
                if let (Some(min), true) = (s.minimum_due, s.closing_balance > 0) {
                    let interest: i64 = a
                        .transactions
                        .iter()
                        .filter(|t| {
                            t.kind == TxKind::Interest
                                && t.authorized_at.date() >= s.period_start
                                && t.authorized_at.date() <= s.period_end
                        })
                        .map(|t| t.authorized_amount)
                        .sum();
                    let matches_a_floor =
                        [2500, 3000, 3500].iter().any(|f| card_minimum_due(s.closing_balance, interest, *f) == min);
                    assert!(matches_a_floor, "minimum due {min} of {}", s.closing_balance);
                }
            }
            let balances = a.balances_at(now);
            assert_eq!(
                balances.current,
                a.opening_balance
                    + posted_by(TODAY - Duration::days(1))
                    + a.transactions
                        .iter()
                        .filter_map(|t| match t.settlement {
                            Settlement::Posts { at, amount } if at.date() == TODAY && at <= now =>
                                Some(t.signed(amount, liability)),
                            _ => None,
                        })
                        .sum::<i64>()
            );
            if a.account.kind == AccountKind::CreditCard {
                assert_eq!(
                    balances.available,
                    a.account.credit_limit.unwrap() - balances.current - balances.pending_debits
                );
            }
            // Transactors pay exactly the statement balance: a card whose payments match most statements matches all.
            if a.account.kind == AccountKind::CreditCard && a.statements.len() > 6 {
                let pays: Vec<(i64, i64)> = a
                    .statements
                    .iter()
                    .filter(|s| s.closing_balance > 0)
                    .filter_map(|s| {
                        a.transactions
                            .iter()
                            .find(|t| t.kind == TxKind::CardPayment && t.authorized_at.date() > s.period_end)
                            .map(|t| (s.closing_balance, t.authorized_amount))
                    })
                    .collect();
                let exact = pays.iter().filter(|(c, p)| c == p).count();
                if exact * 4 > pays.len() * 3 {
                    assert!(
                        pays.iter().all(|(c, p)| c == p || *c <= 3500),
                        "a transactor pays every statement in full: {pays:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn cds_open_with_a_deposit_earn_monthly_and_mature() {
    let mut seen = 0;
    for (_, cd) in accounts(AccountKind::Cd) {
        seen += 1;
        let maturity = cd.account.maturity.expect("CDs mature");
        let first = cd.transactions.first().expect("opening deposit");
        assert_eq!(first.description, "OPENING DEPOSIT");
        assert_eq!(Some(first.authorized_amount), cd.account.original_principal);
        let interest = cd.transactions.iter().filter(|t| t.kind == TxKind::Interest).count();
        let months = (maturity.min(TODAY) - first.authorized_at.date()).whole_days() / 31;
        assert!(interest as i64 >= months - 1, "monthly interest: {interest} over {months} months");
        if maturity < TODAY {
            assert_eq!(cd.balances_at(TODAY.midnight().assume_utc()).current, 0, "a matured CD paid out");
        }
    }
    assert!(seen > 100);
}
