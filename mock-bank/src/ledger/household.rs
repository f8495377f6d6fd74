//! Who a customer is and how their household runs: identity (names, address, phone, birth date), products and
//! account terms, income, housing, bills, subscriptions, spending habits and financial resilience.
//!
//! Everything here is cheap (no transactions) and drawn from the customer's `Identity` and `Plan` streams, so
//! `customer()` and `accounts()` cost microseconds. It must never look at a clock or at other customers.

use super::calendar;
use super::ids;
use super::merchants::{self, Class, MERCHANTS, SUBSCRIPTIONS, Utility};
use super::model::{Account, AccountKind, Address, Cents, Customer, Persona};
use super::places::{self, City};
use super::seed::{self, Stream, StreamKey, between, chance, lognormal_cents, pick, uniform, unit};
use crate::profile::BankProfile;
use fake::Fake;
use fake::faker::address::en::StreetName;
use fake::faker::internet::en::FreeEmailProvider;
use fake::faker::name::en::{FirstName, LastName};
use rand_chacha::ChaCha8Rng;
use std::fmt::Write as _;
use time::{Date, Duration, Weekday};

/// Monthly card purchases on a checking account's debit card, by class (before the customer's intensity).
pub(crate) const DEBIT_RATES: &[(Class, f64)] = &[
    (Class::Grocery, 3.4),
    (Class::Convenience, 1.5),
    (Class::FuelPump, 1.6),
    (Class::FuelStation, 0.8),
    (Class::FullService, 1.1),
    (Class::FastFood, 3.8),
    (Class::Coffee, 3.2),
    (Class::Shopping, 3.0),
    (Class::Online, 1.6),
    (Class::Electronics, 0.45),
    (Class::Rideshare, 0.5),
    (Class::Delivery, 0.5),
];

/// Monthly purchases on an active credit card, by class.
pub(crate) const CREDIT_RATES: &[(Class, f64)] = &[
    (Class::Grocery, 2.0),
    (Class::FuelPump, 0.7),
    (Class::FuelStation, 0.2),
    (Class::FullService, 2.0),
    (Class::FastFood, 0.3),
    (Class::Shopping, 2.0),
    (Class::Online, 1.6),
    (Class::Electronics, 2.0),
    (Class::Rideshare, 0.35),
    (Class::Delivery, 0.5),
    (Class::Airline, 0.3),
    (Class::Hotel, 0.3),
    (Class::CarRental, 0.08),
];

/// Share of customers paid biweekly / weekly / semimonthly / monthly (BLS: 36-43 / 27-34 / 18-20 / 5-11 %).
const PAY_FREQUENCY_SHARES: [f64; 4] = [0.40, 0.31, 0.19, 0.10];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PayFrequency {
    Biweekly,
    Weekly,
    Semimonthly,
    Monthly,
}

impl PayFrequency {
    fn from_quantile(q: f64) -> Self {
        let s = PAY_FREQUENCY_SHARES;
        if q < s[0] {
            Self::Biweekly
        } else if q < s[0] + s[1] {
            Self::Weekly
        } else if q < s[0] + s[1] + s[2] {
            Self::Semimonthly
        } else {
            Self::Monthly
        }
    }
    pub(crate) fn per_year(self) -> f64 {
        match self {
            Self::Biweekly => 26.0,
            Self::Weekly => 52.0,
            Self::Semimonthly => 24.0,
            Self::Monthly => 12.0,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Payroll {
    pub employer: String,
    pub ppd_id: String,
    pub frequency: PayFrequency,
    /// Weekly and biweekly: the payday weekday.
    pub weekday: Weekday,
    /// Biweekly: which weeks (parity of the week number since 1970-01-02).
    pub phase: i64,
    /// Net pay per period, cents.
    pub net: Cents,
    /// Paid by mobile check deposit instead of direct deposit (no ACH, no fee waiver).
    pub mobile_check: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum Housing {
    Rent {
        amount: Cents,
        payee: &'static str,
        by_check: bool,
    },
    /// Paid from checking to the mortgage account in `slot`.
    Mortgage {
        slot: u8,
    },
    Owned,
}

#[derive(Debug, Clone)]
pub(crate) struct Bill {
    pub utility: Option<Utility>,
    pub biller: &'static str,
    pub descriptor: String,
    pub day: u8,
    pub base: Cents,
    pub variation: f64,
}

#[derive(Debug, Clone)]
pub(crate) struct Subscription {
    pub spec: usize,
    pub day: u8,
    /// Account slot billed (a card or the checking account).
    pub slot: u8,
}

/// How close to zero the household lives: decides cushions and, through them, overdrafts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resilience {
    /// Keeps a cushion, moves money from savings before checking runs dry: practically never overdraws.
    Comfortable,
    /// Small cushion, spends about what it earns: overdraws now and then.
    Stretched,
    /// Spends a little more than it earns and borrows from family when deep in the red: overdraws often.
    Fragile,
}

#[derive(Debug, Clone)]
pub(crate) struct CardTerms {
    pub closing_day: u8,
    pub revolver: bool,
    /// Revolvers steer their balance towards this share of the limit.
    pub target_utilisation: f64,
    /// Minimum payment floor, cents.
    pub floor: Cents,
    /// Share of the household's card spending that goes on this card.
    pub share: f64,
}

#[derive(Debug, Clone)]
pub(crate) struct AccountPlan {
    pub account: Account,
    pub opening_balance: Cents,
    /// First day with activity (the opening day for accounts opened inside the history).
    pub active_from: Date,
    /// Opening deposit on `active_from` (accounts opened inside the history).
    pub opening_deposit: Cents,
    pub card: Option<CardTerms>,
    /// Debit-card activity scale of a checking account (second checking accounts are quieter).
    pub debit_share: f64,
    /// Loan payment day of month.
    pub payment_day: u8,
    pub lender: &'static str,
}

#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub first: &'static str,
    pub last: &'static str,
    pub city: &'static City,
    pub region: String,
    pub street: String,
    pub postal_code: String,
    pub phone: String,
    pub email: String,
    pub date_of_birth: Date,
}

#[derive(Debug, Clone)]
pub(crate) struct Household {
    pub index: u32,
    pub persona: Persona,
    pub identity: Identity,
    pub accounts: Vec<AccountPlan>,
    pub payrolls: Vec<Payroll>,
    pub housing: Housing,
    pub bills: Vec<Bill>,
    pub subscriptions: Vec<Subscription>,
    pub intensity: f64,
    pub has_car: bool,
    /// Indexes into `MERCHANTS` the household shops at, with its store numbers.
    pub favorites: Vec<(usize, u32)>,
    /// People the household sends money to and receives from (upper case).
    pub friends: Vec<String>,
    /// A relative who helps out when checking is deep in the red.
    pub relative: String,
    pub zelle: (f64, f64),
    pub venmo: Option<(f64, f64)>,
    pub atm_rate: f64,
    pub check_rate: f64,
    /// Chance that a card-not-present purchase goes through a platform, and which.
    pub platform: Option<(&'static str, f64)>,
    pub resilience: Resilience,
    /// Checking balance the household aims to keep.
    pub checking_target: Cents,
    /// Monthly transfer to savings and its day.
    pub autosave: Option<(Cents, u8)>,
}

fn cents(dollars: f64) -> Cents {
    (dollars * 100.0).round() as Cents
}

/// Mean of a log-normal given its median and shape.
fn lognormal_mean(median: f64, sigma: f64) -> f64 {
    median * (sigma * sigma / 2.0).exp()
}

/// Expected posted value of one purchase of `class` (tips included), dollars.
pub(crate) fn expected_purchase(class: Class) -> f64 {
    let (median, sigma) = class.amount();
    let mean = lognormal_mean(median, sigma);
    match class {
        Class::FullService => mean * 1.195,
        Class::FastFood => mean * 1.013,
        _ => mean,
    }
}

pub(crate) fn identity(key: StreamKey, profile: &BankProfile, history_start: Date) -> Identity {
    let mut rng = key.stream(Stream::Identity).rng();
    let first: &'static str = FirstName().fake_with_rng(&mut rng);
    let last: &'static str = LastName().fake_with_rng(&mut rng);
    let home: Vec<&'static City> = places::cities_in(&profile.home_region).collect();
    let city: &'static City = if !home.is_empty() && chance(&mut rng, 0.85) {
        home[between(&mut rng, 0, home.len() as i64 - 1) as usize]
    } else {
        pick(&mut rng, places::CITIES)
    };
    let street_name: String = StreetName().fake_with_rng(&mut rng);
    let street = format!("{} {street_name}", between(&mut rng, 1, 9899));
    let postal_code = format!("{:03}{:02}", city.zip3, between(&mut rng, 1, 99));
    let mut phone = String::with_capacity(12);
    let _ = write!(phone, "+1{}{}", city.area_code, between(&mut rng, 2, 9));
    seed::push_digits(&mut rng, &mut phone, 6);
    let provider: &'static str = FreeEmailProvider().fake_with_rng(&mut rng);
    let mut email = String::with_capacity(32);
    for c in first.chars().chain(std::iter::once('.')).chain(last.chars()) {
        if c.is_ascii_alphanumeric() || c == '.' {
            email.push(c.to_ascii_lowercase());
        }
    }
    let _ = write!(email, "{}@{provider}", between(&mut rng, 1, 99));
    // Adult ages, denser between 30 and 60.
    let age_years = 21.0 + (unit(&mut rng) + unit(&mut rng)) / 2.0 * 60.0;
    let date_of_birth =
        history_start.checked_add(Duration::days(730 - (age_years * 365.25) as i64)).unwrap_or(history_start);
    Identity { first, last, city, region: city.region.to_owned(), street, postal_code, phone, email, date_of_birth }
}

pub(crate) fn customer(index: u32, identity: &Identity, persona: Persona) -> Customer {
    Customer {
        index,
        customer_id: ids::customer_id(index),
        username: super::users::username_of(index),
        persona,
        first_name: identity.first.to_owned(),
        last_name: identity.last.to_owned(),
        email: identity.email.clone(),
        phone: identity.phone.clone(),
        address: Address {
            line1: identity.street.clone(),
            city: identity.city.name.to_owned(),
            region: identity.region.clone(),
            postal_code: identity.postal_code.clone(),
            country: "US".to_owned(),
        },
        date_of_birth: identity.date_of_birth,
    }
}

/// Bijective scramble of `x` inside `0..10^digits` (multiplication by a unit mod 10^digits plus an offset).
fn scramble(x: u64, digits: u32, offset: u64) -> u64 {
    let modulus = 10u64.pow(digits);
    (x.wrapping_mul(7_654_321).wrapping_add(offset)) % modulus
}

fn luhn_check_digit(digits: &str) -> u32 {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

/// Luhn-valid 16-digit card number: a bank BIN, a unique account part, the check digit.
fn card_number(bank: u64, serial: u64, mastercard: bool) -> String {
    let mut pan = String::with_capacity(16);
    let bin = if mastercard { 510_000 + bank % 50_000 } else { 400_000 + bank % 100_000 };
    let _ = write!(pan, "{bin:06}{:09}", scramble(serial, 9, bank));
    let check = luhn_check_digit(&pan);
    let _ = write!(pan, "{check}");
    pan
}

/// Remaining principal after `payments` level payments (same rounding as the generated loan ledger).
pub(crate) fn amortized_balance(principal: Cents, rate_bp: u32, payment: Cents, payments: u32) -> Cents {
    let mut balance = principal;
    for _ in 0..payments {
        let interest = monthly_interest(balance, rate_bp);
        balance = (balance + interest - payment).max(0);
        if balance == 0 {
            break;
        }
    }
    balance
}

/// One month of interest at `rate_bp` (basis points per year) on a positive balance, rounded half up to a cent.
pub(crate) fn monthly_interest(balance: Cents, rate_bp: u32) -> Cents {
    if balance <= 0 {
        return 0;
    }
    ((i128::from(balance) * i128::from(rate_bp) + 60_000) / 120_000) as Cents
}

fn level_payment(principal: Cents, rate_bp: u32, months: u32) -> Cents {
    let r = f64::from(rate_bp) / 10_000.0 / 12.0;
    let p = principal as f64;
    let payment = p * r / (1.0 - (1.0 + r).powi(-(months as i32)));
    payment.round() as Cents
}

struct AccountFactory<'a> {
    index: u32,
    bank: u64,
    profile: &'a BankProfile,
    accounts: Vec<AccountPlan>,
}

impl AccountFactory<'_> {
    fn push(&mut self, kind: AccountKind, product: &str, opened: Date, rate_bp: u32) -> &mut AccountPlan {
        let slot = self.accounts.len() as u8;
        let serial = u64::from(self.index) * 16 + u64::from(slot);
        let account_number = match kind {
            AccountKind::CreditCard => card_number(self.bank, serial, slot % 2 == 1),
            AccountKind::Mortgage | AccountKind::AutoLoan => format!("7{:011}", scramble(serial, 11, self.bank)),
            _ => format!("{:02}{:08}", 10 + self.bank % 80, scramble(serial, 8, self.bank)),
        };
        let last4 = &account_number[account_number.len() - 4..];
        let short = match kind {
            AccountKind::Checking => "Checking",
            AccountKind::Savings => "Savings",
            AccountKind::Cd => "CD",
            AccountKind::CreditCard => "Card",
            AccountKind::Mortgage => "Mortgage",
            AccountKind::AutoLoan => "Auto Loan",
        };
        let nickname = format!("{short} ...{last4}");
        let account = Account {
            account_id: ids::account_id(self.index, slot),
            customer_index: self.index,
            slot,
            kind,
            product_name: product.to_owned(),
            nickname,
            account_number,
            routing_number: self.profile.routing_number.clone(),
            opened,
            currency: "USD".to_owned(),
            interest_rate_bp: rate_bp,
            credit_limit: None,
            original_principal: None,
            maturity: None,
            monthly_payment: None,
        };
        self.accounts.push(AccountPlan {
            account,
            opening_balance: 0,
            active_from: opened,
            opening_deposit: 0,
            card: None,
            debit_share: 1.0,
            payment_day: 1,
            lender: "",
        });
        let last = self.accounts.len() - 1;
        &mut self.accounts[last]
    }
}

/// Which products a customer holds: (savings, cards, mortgages, auto loans, CDs, checking accounts).
fn products(persona: Persona, profile: &BankProfile, rng: &mut ChaCha8Rng) -> [u8; 6] {
    let mix = &profile.product_mix;
    let has = |rng: &mut ChaCha8Rng, pct: u8| u8::from(chance(rng, f64::from(pct) / 100.0));
    match persona {
        Persona::ManyAccounts => [3, 3, 1, 1, 2, 2],
        Persona::Good => [1, 1, u8::from(chance(rng, 0.5)), 0, 0, 1],
        Persona::ThinHistory => [1, 1, 0, 0, 0, 1],
        _ => {
            let savings = has(rng, mix.savings);
            let cards = has(rng, mix.credit_card);
            let mortgage = has(rng, mix.mortgage);
            let auto = has(rng, mix.auto_loan);
            let cd = has(rng, mix.cd);
            [savings, cards, mortgage, auto, cd, 1]
        }
    }
}

/// Build the whole household plan of customer `index`.
pub(crate) fn household(
    key: StreamKey,
    bank_key: StreamKey,
    index: u32,
    persona: Persona,
    profile: &BankProfile,
    history_start: Date,
) -> Household {
    let identity = identity(key, profile, history_start);
    let mut rng = key.stream(Stream::Plan).rng();
    let today = calendar::add_months(history_start, 24).unwrap_or(history_start);
    let thin = persona == Persona::ThinHistory;
    let thin_open = today - Duration::days(between(&mut rng, 19, 23));
    let age_days = (history_start - identity.date_of_birth).whole_days();
    let adult_days = (age_days - 18 * 365).max(120);
    let opened_before = |rng: &mut ChaCha8Rng, max_days: i64| -> Date {
        if thin {
            thin_open
        } else {
            history_start - Duration::days(between(rng, 90, max_days.min(adult_days).max(91)))
        }
    };

    let [n_savings, n_cards, n_mortgage, n_auto, n_cd, n_checking] = products(persona, profile, &mut rng);
    let bank = bank_key.value();
    let mut f = AccountFactory { index, bank, profile, accounts: Vec::with_capacity(12) };

    // Resilience: 80 % comfortable, 12 % stretched, 8 % fragile (CFPB: about 8 % of accounts overdraw more than
    // ten times a year; most never do).
    let resilience = match persona {
        Persona::Regular => {
            let u = unit(&mut rng);
            if u < 0.08 {
                Resilience::Fragile
            } else if u < 0.20 {
                Resilience::Stretched
            } else {
                Resilience::Comfortable
            }
        }
        _ => Resilience::Comfortable,
    };

    for i in 0..n_checking {
        let product = if i == 0 { "Everyday Checking" } else { "Secondary Checking" };
        let opened = opened_before(&mut rng, 7300);
        let plan = f.push(AccountKind::Checking, product, opened, 1);
        plan.debit_share = if i == 0 { 1.0 } else { 0.35 };
    }
    for i in 0..n_savings {
        let high_yield = chance(&mut rng, 0.3);
        let (product, rate) = if high_yield {
            ("High Yield Savings", between(&mut rng, 340, 450))
        } else {
            ("Way2Save Savings", between(&mut rng, 1, 45))
        };
        let opened = opened_before(&mut rng, 6000);
        let plan = f.push(AccountKind::Savings, product, opened, rate as u32);
        plan.opening_balance = if thin { 0 } else { lognormal_cents(&mut rng, 3000.0 / (1.0 + f64::from(i)), 1.1) };
    }
    let revolver_q = seed::stratified(index, bank_key.with(0xC0FFEE).value());
    for i in 0..n_cards {
        let product = ["Cash Rewards Visa Signature", "Platinum Mastercard", "Travel Rewards Visa"][usize::from(i) % 3];
        let opened = opened_before(&mut rng, 5000);
        let apr = between(&mut rng, 2024, 2499) as u32;
        let limit = (lognormal_cents(&mut rng, 7000.0, 0.55) / 10_000 * 10_000).clamp(50_000, 5_000_000);
        let revolver = if i == 0 { revolver_q < 0.485 } else { chance(&mut rng, 0.485) };
        let target = if revolver { uniform(&mut rng, 0.03, 0.40) } else { 0.0 };
        let closing_day = between(&mut rng, 1, 28) as u8;
        let floor = [2500, 3000, 3500][(bank % 3) as usize];
        let share = [1.0, 0.55, 0.35][usize::from(i) % 3];
        let plan = f.push(AccountKind::CreditCard, product, opened, apr);
        plan.account.credit_limit = Some(limit);
        let monthly_spend: f64 = CREDIT_RATES.iter().map(|(c, r)| r * expected_purchase(*c)).sum::<f64>() * share;
        plan.opening_balance = if thin {
            0
        } else if revolver {
            ((target * limit as f64) as Cents).min(limit * 9 / 10)
        } else {
            cents(monthly_spend * uniform(&mut rng, 0.5, 1.1))
        };
        plan.card = Some(CardTerms { closing_day, revolver, target_utilisation: target, floor, share });
    }
    for _ in 0..n_mortgage {
        let elapsed = between(&mut rng, 6, 180) as u32;
        let opened = calendar::add_months(history_start, -(elapsed as i32)).unwrap_or(history_start);
        let rate = between(&mut rng, 550, 750) as u32;
        let principal = (lognormal_cents(&mut rng, 290_000.0, 0.45) / 100_000 * 100_000).max(6_000_000);
        let payment = level_payment(principal, rate, 360);
        let plan = f.push(AccountKind::Mortgage, "30-Year Fixed Mortgage", opened, rate);
        plan.account.original_principal = Some(principal);
        plan.account.monthly_payment = Some(payment);
        plan.account.maturity = calendar::add_months(opened, 360);
        plan.opening_balance = amortized_balance(principal, rate, payment, elapsed);
        plan.payment_day = between(&mut rng, 1, 5) as u8;
        plan.lender = *pick(&mut rng, &["MR. COOPER", "ROCKET MORTGAGE", "PENNYMAC", "LOANCARE"]);
    }
    for _ in 0..n_auto {
        let term = if chance(&mut rng, 0.5) { 60 } else { 72 };
        let elapsed = between(&mut rng, 1, 40) as u32;
        let opened = calendar::add_months(history_start, -(elapsed as i32)).unwrap_or(history_start);
        let rate = between(&mut rng, 600, 900) as u32;
        let principal = (lognormal_cents(&mut rng, 27_000.0, 0.35) / 10_000 * 10_000).max(500_000);
        let payment = level_payment(principal, rate, term);
        let plan = f.push(AccountKind::AutoLoan, "Auto Loan", opened, rate);
        plan.account.original_principal = Some(principal);
        plan.account.monthly_payment = Some(payment);
        plan.account.maturity = calendar::add_months(opened, term as i32);
        plan.opening_balance = amortized_balance(principal, rate, payment, elapsed);
        plan.payment_day = between(&mut rng, 1, 28) as u8;
        plan.lender = *pick(&mut rng, &["TOYOTA MOTOR CR", "ALLY AUTO", "HONDA FINANCIAL", "FORD CREDIT"]);
    }
    for _ in 0..n_cd {
        let term = *pick(&mut rng, &[6, 12, 18, 24]);
        let opened = history_start + Duration::days(between(&mut rng, 10, 420));
        let rate = between(&mut rng, 350, 500) as u32;
        let principal = (lognormal_cents(&mut rng, 15_000.0, 0.7) / 50_000 * 50_000).max(100_000);
        let plan = f.push(AccountKind::Cd, &format!("{term}-Month CD"), opened, rate);
        plan.account.original_principal = Some(principal);
        plan.account.maturity = calendar::add_months(opened, term);
        plan.opening_deposit = principal;
    }
    let mut accounts = f.accounts;
    for plan in &mut accounts {
        if plan.account.opened >= history_start {
            plan.active_from = plan.account.opened;
            plan.opening_balance = 0;
            if plan.opening_deposit == 0 {
                plan.opening_deposit = match plan.account.kind {
                    AccountKind::Checking => cents(uniform(&mut rng, 400.0, 1800.0)),
                    AccountKind::Savings => cents(uniform(&mut rng, 100.0, 1500.0)),
                    _ => 0,
                };
            }
        } else {
            plan.active_from = history_start;
        }
    }

    // Housing, bills, subscriptions.
    let has_car = n_auto > 0 || chance(&mut rng, 0.86);
    let mortgage_slot = accounts.iter().find(|a| a.account.kind == AccountKind::Mortgage).map(|a| a.account.slot);
    let housing = match mortgage_slot {
        Some(slot) => Housing::Mortgage { slot },
        None if persona == Persona::Good || chance(&mut rng, 0.78) => {
            let pricey = matches!(identity.region.as_str(), "NY" | "CA" | "MA");
            let amount = (lognormal_cents(&mut rng, if pricey { 1900.0 } else { 1450.0 }, 0.3) / 500) * 500;
            let payee =
                pick(&mut rng, &["ZILLOW RENT", "RENTCAFE.COM", "AVAIL RENT PMT", "APPFOLIO RENT", "BILT RENT"]);
            Housing::Rent { amount, payee, by_check: chance(&mut rng, 0.25) }
        }
        None => Housing::Owned,
    };
    let owner = !matches!(housing, Housing::Rent { .. });
    let mut bills = Vec::with_capacity(8);
    for utility in Utility::ALL {
        let p = match utility {
            Utility::Electric => 1.0,
            Utility::Gas => 0.6,
            Utility::Water => {
                if owner {
                    0.9
                } else {
                    0.25
                }
            }
            Utility::Internet => 0.9,
            Utility::Phone => 0.93,
        };
        if chance(&mut rng, p) {
            let choice = between(&mut rng, 0, 11) as usize;
            let biller = utility.biller(&identity.region, choice);
            let (typical, variation) = utility.typical();
            let base = lognormal_cents(&mut rng, typical, 0.25);
            let mut descriptor = String::with_capacity(48);
            let _ = write!(descriptor, "{biller} {} PPD ID: ", utility.label());
            seed::push_digits(&mut rng, &mut descriptor, 10);
            let day = between(&mut rng, 2, 27) as u8;
            bills.push(Bill { utility: Some(utility), biller, descriptor, day, base, variation });
        }
    }
    if has_car && chance(&mut rng, 0.85) {
        let biller = pick(&mut rng, &["GEICO", "PROGRESSIVE", "STATE FARM", "ALLSTATE"]);
        let descriptor = format!("{biller} INS PREM PPD ID: {}", between(&mut rng, 1_000_000_000, 9_999_999_999));
        let base = lognormal_cents(&mut rng, 140.0, 0.3);
        bills.push(Bill {
            utility: None,
            biller,
            descriptor,
            day: between(&mut rng, 1, 28) as u8,
            base,
            variation: 0.0,
        });
    }
    if chance(&mut rng, 0.18) {
        let descriptor =
            format!("DEPT EDUCATION STUDENT LN PPD ID: {}", between(&mut rng, 1_000_000_000, 9_999_999_999));
        let base = lognormal_cents(&mut rng, 260.0, 0.35);
        let biller = "DEPT EDUCATION";
        bills.push(Bill {
            utility: None,
            biller,
            descriptor,
            day: between(&mut rng, 1, 28) as u8,
            base,
            variation: 0.0,
        });
    }
    let card_slots: Vec<u8> =
        accounts.iter().filter(|a| a.account.kind == AccountKind::CreditCard).map(|a| a.account.slot).collect();
    let n_subs = (1 + seed::poisson(&mut rng, 1.8)).min(6) as usize;
    let mut subscriptions: Vec<Subscription> = Vec::with_capacity(n_subs);
    for _ in 0..n_subs {
        let spec = between(&mut rng, 0, SUBSCRIPTIONS.len() as i64 - 1) as usize;
        if subscriptions.iter().any(|s| s.spec == spec) {
            continue;
        }
        let slot = if !card_slots.is_empty() && chance(&mut rng, 0.7) { *pick(&mut rng, &card_slots) } else { 0 };
        subscriptions.push(Subscription { spec, day: between(&mut rng, 1, 28) as u8, slot });
    }

    // Spending habits.
    let intensity = (0.22 * seed::normal(&mut rng)).exp().clamp(0.55, 1.7);
    let mut favorites = Vec::with_capacity(MERCHANTS.len());
    for (i, spec) in MERCHANTS.iter().enumerate() {
        // Shop at about half of the local chains; online merchants are available to all.
        let keep = spec.class.card_not_present() || matches!(spec.class, Class::CarRental) || chance(&mut rng, 0.55);
        if keep {
            let number = between(&mut rng, 1, 9_999_999) as u32;
            favorites.push((i, number));
        }
    }
    for class in [
        Class::Grocery,
        Class::FuelPump,
        Class::FuelStation,
        Class::FullService,
        Class::FastFood,
        Class::Coffee,
        Class::Shopping,
        Class::Convenience,
        Class::Electronics,
    ] {
        if !favorites.iter().any(|(i, _)| MERCHANTS[*i].class == class)
            && let Some(i) = merchants::of_class(class).next()
        {
            favorites.push((i, between(&mut rng, 1, 9_999_999) as u32));
        }
    }
    let friends: Vec<String> = (0..between(&mut rng, 3, 6))
        .map(|_| {
            let first: &str = FirstName().fake_with_rng(&mut rng);
            let last: &str = LastName().fake_with_rng(&mut rng);
            format!("{} {}", first.to_uppercase(), last.to_uppercase())
        })
        .collect();
    let relative = {
        let first: &str = FirstName().fake_with_rng(&mut rng);
        format!("{} {}", first.to_uppercase(), identity.last.to_uppercase())
    };
    let zelle = (uniform(&mut rng, 0.2, 2.4), uniform(&mut rng, 0.1, 1.2));
    let venmo = chance(&mut rng, 0.45).then(|| (uniform(&mut rng, 0.3, 2.0), uniform(&mut rng, 0.1, 0.8)));
    let atm_rate = if chance(&mut rng, 0.15) { 0.1 } else { uniform(&mut rng, 0.5, 2.0) };
    let check_rate = if chance(&mut rng, 0.5) { uniform(&mut rng, 0.0, 0.9) } else { 0.05 };
    let platform =
        chance(&mut rng, 0.3).then(|| (*pick(&mut rng, &merchants::PLATFORMS), uniform(&mut rng, 0.2, 0.42)));

    // Budget: what leaves checking in an average month; income is sized from it.
    let debit: f64 = DEBIT_RATES
        .iter()
        .filter(|(c, _)| has_car || !matches!(c, Class::FuelPump | Class::FuelStation))
        .map(|(c, r)| r * expected_purchase(*c))
        .sum::<f64>();
    let debit_total: f64 = accounts
        .iter()
        .filter(|a| a.account.kind == AccountKind::Checking)
        .map(|a| a.debit_share * debit * intensity)
        .sum();
    let credit: f64 = accounts
        .iter()
        .filter_map(|a| a.card.as_ref().map(|c| (c, a.account.interest_rate_bp, a.opening_balance)))
        .map(|(c, apr, balance)| {
            let spend: f64 = CREDIT_RATES.iter().map(|(k, r)| r * expected_purchase(*k)).sum::<f64>();
            let interest = if c.revolver { balance as f64 / 100.0 * f64::from(apr) / 120_000.0 } else { 0.0 };
            spend * c.share * intensity + interest
        })
        .sum();
    let subs: f64 = subscriptions.iter().map(|s| SUBSCRIPTIONS[s.spec].cents as f64 / 100.0).sum();
    let bills_total: f64 = bills.iter().map(|b| b.base as f64 / 100.0).sum();
    let housing_total = match &housing {
        Housing::Rent { amount, .. } => *amount as f64 / 100.0,
        Housing::Mortgage { slot } => accounts[usize::from(*slot)].account.monthly_payment.unwrap_or(0) as f64 / 100.0,
        Housing::Owned => 0.0,
    };
    let loans: f64 = accounts
        .iter()
        .filter(|a| a.account.kind == AccountKind::AutoLoan)
        .map(|a| a.account.monthly_payment.unwrap_or(0) as f64 / 100.0)
        .sum();
    let transfers = zelle.0 * 75.0 - zelle.1 * 75.0
        + venmo.map_or(0.0, |(o, i)| o * 75.0 - i * 75.0)
        + atm_rate * 140.0
        + check_rate * 150.0;
    let outflow = debit_total + credit + subs + bills_total + housing_total + loans + transfers;
    let saving_rate = match resilience {
        Resilience::Comfortable => uniform(&mut rng, 0.03, 0.10),
        Resilience::Stretched => uniform(&mut rng, -0.01, 0.015),
        Resilience::Fragile => uniform(&mut rng, -0.10, -0.05),
    };
    let monthly_net = outflow * (1.0 + saving_rate.max(0.0)) + outflow * saving_rate.min(0.0);
    let has_savings = n_savings > 0;
    let autosave = (has_savings && saving_rate > 0.0 && resilience == Resilience::Comfortable)
        .then(|| (cents(outflow * saving_rate).max(2_500) / 500 * 500, between(&mut rng, 2, 27) as u8));

    // Income: one or two earners.
    let mut payrolls = Vec::with_capacity(2);
    let earners = if chance(&mut rng, 0.3) { 2 } else { 1 };
    let mobile_check = persona == Persona::Regular && chance(&mut rng, 0.07);
    for e in 0..earners {
        let q = if e == 0 { seed::stratified(index, bank_key.with(0xFA7).value()) } else { unit(&mut rng) };
        let frequency = PayFrequency::from_quantile(q);
        let weekday = match seed::weighted(&mut rng, &[0.62, 0.2, 0.1, 0.04, 0.04]) {
            0 => Weekday::Friday,
            1 => Weekday::Thursday,
            2 => Weekday::Wednesday,
            3 => Weekday::Tuesday,
            _ => Weekday::Monday,
        };
        let share = if earners == 1 {
            1.0
        } else if e == 0 {
            0.6
        } else {
            0.4
        };
        let per_period = monthly_net * share * 12.0 / frequency.per_year() * uniform(&mut rng, 0.98, 1.02);
        let employer = if chance(&mut rng, 0.3) {
            let name = *pick(&mut rng, merchants::BIG_EMPLOYERS);
            if name == "STATE OF" { format!("STATE OF {}", identity.region) } else { name.to_owned() }
        } else {
            let surname: &str = LastName().fake_with_rng(&mut rng);
            format!("{} {}", surname.to_uppercase(), pick(&mut rng, merchants::EMPLOYER_SECTORS))
        };
        let mut ppd_id = String::with_capacity(10);
        seed::push_digits(&mut rng, &mut ppd_id, 10);
        payrolls.push(Payroll {
            employer,
            ppd_id,
            frequency,
            weekday,
            phase: between(&mut rng, 0, 1),
            net: cents(per_period),
            mobile_check,
        });
    }

    let checking_target = match resilience {
        Resilience::Comfortable => cents(monthly_net * uniform(&mut rng, 0.5, 1.2)),
        Resilience::Stretched => cents(uniform(&mut rng, 300.0, 900.0)),
        Resilience::Fragile => cents(uniform(&mut rng, 50.0, 300.0)),
    };
    for plan in &mut accounts {
        if plan.account.kind == AccountKind::Checking && plan.active_from == history_start {
            plan.opening_balance = (checking_target as f64 * plan.debit_share * uniform(&mut rng, 0.8, 1.2)) as Cents;
        }
    }

    Household {
        index,
        persona,
        identity,
        accounts,
        payrolls,
        housing,
        bills,
        subscriptions,
        intensity,
        has_car,
        favorites,
        friends,
        relative,
        zelle,
        venmo,
        atm_rate,
        check_rate,
        platform,
        resilience,
        checking_target,
        autosave,
    }
}
