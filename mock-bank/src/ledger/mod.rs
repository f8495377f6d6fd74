//! Deterministic, lazy generation of a bank's customers, accounts and 24 months of transaction history.
//!
//! [`LedgerGenerator`] is a pure function of `(seed, bank profile, customer count, history start)`: no I/O, no async,
//! no wall clock, no global state. A customer costs nothing until asked for; `customer()` and `accounts()` are
//! microseconds, `generate()` walks the customer's whole history (well under a millisecond in release builds).
//! This module must never read the clock, touch storage, or use a randomness source other than the named streams
//! below.
//!
//! # Streams
//! Every random decision comes from a `ChaCha8Rng` seeded by splitmix64 over (seed, bank id, customer index,
//! account slot, stream name, month or day) — see `seed.rs`:
//! - `identity` (names, address, phone, birth date; `fake` 5.1 en fakers for first/last/street names and email
//!   providers, an embedded gazetteer for city, state, ZIP prefix and area code so they agree with each other);
//! - `plan` (products by the profile's product mix, account terms, income, housing, bills, subscriptions, habits);
//! - `month` per account and month (exogenous activity: purchases, payroll, bills, transfers, ATM, checks), with
//!   payroll and rent keyed by their own pay/due date so that an early deposit or an early rent payment that falls
//!   in the previous month is drawn identically;
//! - `fraud` per card account and month; `decision` per account and day (card payment amounts and dates,
//!   overdraft-protection transfers, help from family).
//!
//! # Extension stability
//! Exogenous activity never depends on balances; balance-driven activity (overdraft fees, interest, card payments,
//! loan amortization, sweeps, fees) is decided while walking the days in order, from postings on or before that day.
//! Transaction ids are (customer, slot, day, sequence within that day) and the sequence is assigned in processing
//! order. So `generate(i, d2)` restricted to authorizations on or before `d1` equals `generate(i, d1)`.
//!
//! # Calibration (REALISM.md)
//! - Pay frequency biweekly/weekly/semimonthly/monthly = 40/31/19/10 %, stratified over customer indexes
//!   (golden-ratio sequence) so shares hold even in small banks; weekly/biweekly paydays Friday 72 %;
//!   semimonthly on the 15th and the last day, monthly on the last day, moved to the previous business day;
//!   posting `early_direct_deposit_days` business days early.
//! - Income is sized from the household's expected monthly outflow times (1 + saving rate): comfortable households
//!   (80 %) save 3-10 % (automatic transfers to savings, month-end sweeps both ways, overdraft-protection transfers),
//!   stretched ones (12 %) spend about what they earn with a small cushion, fragile ones (8 %) spend 5-10 % more and
//!   are rescued by a relative's Zelle when deep in the red. Overdraft fees follow from posted balances.
//! - Debit and credit purchase rates and log-normal amounts per merchant class (`household::DEBIT_RATES`,
//!   `CREDIT_RATES`, `merchants::Class::amount`); weekend days weigh 1.3-1.5 against 0.85 on Monday-Thursday;
//!   December +15 %, January -7 %.
//! - Cards: APR 20.24-24.99 %, closing day 1-28, due 25 days later, minimum 1 % of principal + interest + fees with
//!   a $25/30/35 floor (per bank), revolvers 48.5 % (stratified) steering towards a target utilisation, transactors
//!   paying the statement balance; interest on revolving balance at APR/12.
//! - Fraud about 10 bp of card value: 65 % card-not-present single purchases, 20 % card-testing bursts, 15 %
//!   counterfeit card-present; each is credited back 5-12 days later.
//!
//! # Simplifications
//! - Times are UTC wall-clock values that stand for the customer's local time of day.
//! - Mortgages have no escrow; loan interest accrues once a month on the payment day.
//! - CDs are opened inside the history and pay out to savings (or checking) at maturity; no renewals.
//! - Card interest uses the carried balance rather than an average daily balance; no late fees.
//! - Balance-driven decisions see the posted balance at the end of the previous step of the same day.
//! - A horizon beyond 50 years after the history start is clamped (the generator stays bounded).
//! - Floating point (`ln`, `exp`, `cos`) comes from the platform's libm; identical on every mainstream target but
//!   not formally guaranteed bit-for-bit everywhere.

pub mod calendar;
mod household;
pub mod ids;
mod merchants;
pub mod model;
mod places;
mod seed;
mod sim;
pub mod users;

pub use merchants::PLATFORMS;
pub use sim::{CARD_DUE_DAYS, card_minimum_due};

use crate::profile::BankProfile;
use model::{Account, Customer, CustomerLedger};
use seed::StreamKey;
use std::sync::Arc;
use time::Date;

#[derive(Debug)]
struct Inner {
    seed: u64,
    profile: Arc<BankProfile>,
    customers: u32,
    history_start: Date,
    bank_key: StreamKey,
}

/// The bank's generated world. Cheap to clone (an `Arc` inside); `Send + Sync`.
#[derive(Debug, Clone)]
pub struct LedgerGenerator {
    inner: Arc<Inner>,
}

impl LedgerGenerator {
    /// `history_start`: first day of generated history (the bank pins it to its first start date - 24 months).
    pub fn new(seed: u64, profile: Arc<BankProfile>, customers: u32, history_start: Date) -> Self {
        let bank_key = StreamKey::root(seed, &profile.id);
        Self { inner: Arc::new(Inner { seed, profile, customers, history_start, bank_key }) }
    }

    pub fn seed(&self) -> u64 {
        self.inner.seed
    }

    pub fn customers(&self) -> u32 {
        self.inner.customers
    }

    pub fn history_start(&self) -> Date {
        self.inner.history_start
    }

    pub fn profile(&self) -> &BankProfile {
        &self.inner.profile
    }

    fn customer_key(&self, index: u32) -> StreamKey {
        self.inner.bank_key.with(u64::from(index))
    }

    fn household(&self, index: u32) -> Option<household::Household> {
        (index < self.inner.customers).then(|| {
            household::household(
                self.customer_key(index),
                self.inner.bank_key,
                index,
                users::persona_of(index),
                &self.inner.profile,
                self.inner.history_start,
            )
        })
    }

    /// Cheap (microseconds, no transactions): `None` when `index >= customers`.
    pub fn customer(&self, index: u32) -> Option<Customer> {
        if index >= self.inner.customers {
            return None;
        }
        let identity = household::identity(self.customer_key(index), &self.inner.profile, self.inner.history_start);
        Some(household::customer(index, &identity, users::persona_of(index)))
    }

    /// Cheap: the customer's accounts without history; empty when `index >= customers`.
    pub fn accounts(&self, index: u32) -> Vec<Account> {
        self.household(index).map(|h| h.accounts.into_iter().map(|a| a.account).collect()).unwrap_or_default()
    }

    /// The customer with every account's history from `history_start` through `until` (inclusive, whole days).
    /// Extension-stable: `generate(i, d2)` restricted to days `<= d1` equals `generate(i, d1)` for `d1 <= d2`.
    pub fn generate(&self, index: u32, until: Date) -> Option<CustomerLedger> {
        let hh = self.household(index)?;
        let horizon = calendar::add_months(self.inner.history_start, 600).unwrap_or(until);
        let until = until.min(horizon);
        let accounts =
            sim::Simulation::new(&hh, &self.inner.profile, self.customer_key(index), self.inner.history_start, until)
                .run();
        let customer = household::customer(index, &hh.identity, hh.persona);
        Some(CustomerLedger { customer, accounts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::load_profiles;
    use time::macros::date;

    fn generator(seed: u64, bank: usize) -> LedgerGenerator {
        let profile = load_profiles(None).unwrap().swap_remove(bank);
        LedgerGenerator::new(seed, Arc::new(profile), 200, date!(2024 - 11 - 01))
    }

    const TODAY: Date = date!(2026 - 11 - 01);

    #[test]
    fn same_inputs_give_byte_identical_output_and_another_seed_differs() {
        let a = serde_json::to_string(&generator(7, 1).generate(9, TODAY)).unwrap();
        let b = serde_json::to_string(&generator(7, 1).generate(9, TODAY)).unwrap();
        let c = serde_json::to_string(&generator(8, 1).generate(9, TODAY)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(generator(7, 1).customer(9), generator(7, 1).customer(9));
        assert_eq!(
            generator(7, 1).accounts(9),
            generator(7, 1).generate(9, TODAY).unwrap().accounts.iter().map(|a| a.account.clone()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn out_of_range_customers_are_absent() {
        let g = generator(1, 0);
        assert!(g.customer(200).is_none());
        assert!(g.accounts(200).is_empty());
        assert!(g.generate(u32::MAX, TODAY).is_none());
        let before = g.generate(10, date!(2024 - 10 - 01)).unwrap();
        assert!(before.accounts.iter().all(|a| a.transactions.is_empty() && a.statements.is_empty()));
    }

    #[test]
    fn extending_the_horizon_only_adds() {
        let g = generator(3, 2);
        for index in [0, 5, 6, 17, 42] {
            for d1 in [date!(2025 - 03 - 14), date!(2026 - 01 - 31), date!(2026 - 10 - 20)] {
                let short = g.generate(index, d1).unwrap();
                let long = g.generate(index, TODAY).unwrap();
                for (s, l) in short.accounts.iter().zip(&long.accounts) {
                    let cut: Vec<_> = l.transactions.iter().filter(|t| t.authorized_at.date() <= d1).cloned().collect();
                    assert_eq!(s.transactions, cut, "customer {index} account {} at {d1}", s.account.slot);
                    let statements: Vec<_> = l.statements.iter().filter(|st| st.period_end <= d1).cloned().collect();
                    assert_eq!(s.statements, statements);
                    assert!(s.transactions.iter().all(|t| t.authorized_at.date() <= d1));
                }
            }
        }
    }

    #[test]
    fn personas_shape_the_accounts() {
        let g = generator(5, 0);
        let many = g.accounts(5);
        let count = |kind| many.iter().filter(|a| a.kind == kind).count();
        assert_eq!(many.len(), 12);
        assert_eq!(
            [
                count(model::AccountKind::Checking),
                count(model::AccountKind::Savings),
                count(model::AccountKind::CreditCard)
            ],
            [2, 3, 3]
        );
        assert_eq!(
            [count(model::AccountKind::Mortgage), count(model::AccountKind::AutoLoan), count(model::AccountKind::Cd)],
            [1, 1, 2]
        );

        let thin = g.generate(6, TODAY).unwrap();
        for a in &thin.accounts {
            assert!(a.account.opened >= TODAY - time::Duration::days(24), "opened about 3 weeks ago");
            assert_eq!(a.opening_balance, 0);
            assert!(a.transactions.iter().all(|t| t.authorized_at.date() >= a.account.opened));
        }
        let thin_count: usize = thin.accounts.iter().map(|a| a.transactions.len()).sum();
        assert!(thin_count > 3 && thin_count < 80, "a few transactions: {thin_count}");

        let good = g.generate(0, TODAY).unwrap();
        let kinds: Vec<_> = good.accounts.iter().map(|a| a.account.kind).collect();
        assert!(kinds.contains(&model::AccountKind::Checking) && kinds.contains(&model::AccountKind::Savings));
        assert!(kinds.contains(&model::AccountKind::CreditCard));
        let housing = good.accounts[0]
            .transactions
            .iter()
            .any(|t| matches!(t.kind, model::TxKind::Rent | model::TxKind::MortgagePayment));
        assert!(housing, "the good user pays rent or a mortgage");
        assert_eq!(good.customer.username, "user_good");
        assert_eq!(ids::parse_account_id(&good.accounts[1].account.account_id), Some((0, 1)));
    }

    #[test]
    fn card_numbers_are_luhn_valid_and_routing_is_the_banks() {
        let g = generator(9, 3);
        for i in 0..60 {
            for a in g.accounts(i) {
                assert_eq!(a.routing_number, g.profile().routing_number);
                if a.kind == model::AccountKind::CreditCard {
                    assert_eq!(a.account_number.len(), 16);
                    let sum: u32 = a
                        .account_number
                        .bytes()
                        .rev()
                        .enumerate()
                        .map(|(i, b)| {
                            let d = u32::from(b - b'0');
                            if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d }
                        })
                        .sum();
                    assert_eq!(sum % 10, 0, "{}", a.account_number);
                } else {
                    assert!((8..=12).contains(&a.account_number.len()));
                }
            }
        }
    }
}
