//! The day-by-day simulation that turns a household plan into transaction lifecycles and statements.
//!
//! Two kinds of activity: *exogenous* activity (purchases, payroll, bills, transfers, ATM, checks, fraud) is drawn
//! per account and month from that month's stream, independent of balances; *balance-driven* activity (overdraft
//! fees, card interest and payments, loan amortization, savings interest, sweeps, monthly fees) is decided while the
//! days are walked in order, from the posted balances of that day and earlier only. Nothing decided on day `d`
//! looks past `d`, which is what makes the generator extension-stable. Never reads a clock, never does I/O.

use super::calendar::{self, add_business_days, business_day_on_or_after, business_day_on_or_before};
use super::household::{
    AccountPlan, CREDIT_RATES, DEBIT_RATES, Household, Housing, PayFrequency, Payroll, Resilience, expected_purchase,
    monthly_interest,
};
use super::ids;
use super::merchants::{Class, MERCHANTS, MerchantSpec, Pattern, SUBSCRIPTIONS};
use super::model::{
    AccountKind, AccountLedger, Cents, Channel, Direction, Merchant, Settlement, Statement, Transaction, TxKind,
};
use super::places::{self, City};
use super::seed::{self, Stream, StreamKey, between, chance, lognormal_cents, pick, poisson, uniform};
use crate::profile::BankProfile;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write as _;
use time::{Date, Duration, Month, OffsetDateTime, Time};

/// Stream tags below `Stream::Month` (per account and month).
const PAYROLL_TAG: u64 = 0x5041_5952;
const RENT_TAG: u64 = 0x5245_4e54;

/// Minimum payment of a card statement: 1 % of principal plus the period's interest and fees, at least the floor,
/// never more than the balance.
pub fn card_minimum_due(closing: Cents, interest_and_fees: Cents, floor: Cents) -> Cents {
    if closing <= 0 {
        return 0;
    }
    let principal = (closing - interest_and_fees).max(0);
    let computed = (principal + 50) / 100 + interest_and_fees;
    computed.max(floor).min(closing)
}

/// Days after a card's closing date that its payment is due.
pub const CARD_DUE_DAYS: i64 = 25;

/// How an item settles.
#[derive(Debug, Clone, Copy)]
enum How {
    /// Posts at authorization (ACH, transfers, ATM, fees, interest).
    Now,
    /// Posts on the `n`-th business day after the authorization day, for `amount`.
    Later { business_days: u32, amount: Cents },
    /// The hold drops after `days` calendar days.
    Drop { days: i64 },
    /// A loan payment from checking: amounts decided from the loan's balance at emission.
    LoanPayment,
    /// A matured CD pays its whole balance out.
    CdMaturity,
}

/// The other side of a transfer between two of the customer's accounts.
#[derive(Debug, Clone)]
struct Mirror {
    slot: u8,
    kind: TxKind,
    description: String,
    category: &'static str,
}

#[derive(Debug, Clone)]
struct Item {
    day: Date,
    secs: u32,
    /// Generation order: stable tie-break.
    order: u32,
    slot: u8,
    kind: TxKind,
    direction: Direction,
    description: String,
    merchant: Option<Merchant>,
    channel: Channel,
    amount: Cents,
    how: How,
    /// Seconds after midnight at which a later posting happens.
    post_secs: u32,
    category: &'static str,
    platform: Option<&'static str>,
    fraud: bool,
    mirror: Option<Mirror>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Settle {
    at: OffsetDateTime,
    seq: u64,
    slot: u8,
    /// Effect on the posted balance (bank's sign convention for the account).
    delta: Cents,
    /// Pending hold released.
    release: Cents,
    /// A debit to a deposit account (counts for overdrafts).
    overdraft_item: bool,
}

#[derive(Debug, Clone, Copy)]
struct CardCycle {
    closing: Cents,
    paid: Cents,
}

struct AccountSim {
    liability: bool,
    txs: Vec<Transaction>,
    posted: Cents,
    pending: Cents,
    id_day: u16,
    id_seq: u16,
    next_check: u32,
    // Cards.
    last_cycle: Option<CardCycle>,
    cycle_interest: Cents,
    // Checking.
    overdraft_items: u32,
    direct_deposit_month: bool,
}

pub(crate) struct Simulation<'a> {
    hh: &'a Household,
    profile: &'a BankProfile,
    key: StreamKey,
    history_start: Date,
    until: Date,
    accounts: Vec<AccountSim>,
    heap: BinaryHeap<Reverse<Settle>>,
    seq: u64,
    scheduled: Vec<Item>,
    order: u32,
}

fn at(day: Date, secs: u32) -> OffsetDateTime {
    let secs = secs.min(86_399);
    let time =
        Time::from_hms((secs / 3600) as u8, ((secs / 60) % 60) as u8, (secs % 60) as u8).unwrap_or(Time::MIDNIGHT);
    day.with_time(time).assume_utc()
}

fn day_index(history_start: Date, day: Date) -> u16 {
    (day - history_start).whole_days().clamp(0, i64::from(u16::MAX)) as u16
}

/// Calendar months of spending: December +15 % over November, a quieter January.
fn seasonal(month: Month) -> f64 {
    match month {
        Month::December => 1.15,
        Month::January => 0.93,
        Month::February => 0.95,
        _ => 1.0,
    }
}

/// Weights of the days of a month for card purchases: weekends are busier.
fn day_weights(first: Date) -> Vec<f64> {
    let days = time::util::days_in_month(first.month(), first.year());
    (0..days)
        .map(|d| match first.weekday().nth_next(d) {
            time::Weekday::Saturday => 1.5,
            time::Weekday::Sunday => 1.3,
            time::Weekday::Friday => 1.15,
            _ => 0.85,
        })
        .collect()
}

/// Card posting delay in business days: mostly 1-3, up to 5.
fn posting_delay(rng: &mut ChaCha8Rng) -> u32 {
    1 + seed::weighted(rng, &[0.6, 0.27, 0.08, 0.035, 0.015]) as u32
}

fn title_case(upper: &str) -> String {
    let mut out = String::with_capacity(upper.len());
    let mut start = true;
    for c in upper.chars() {
        if start {
            out.push(c);
        } else {
            out.push(c.to_ascii_lowercase());
        }
        start = c == ' ';
    }
    out
}

/// Fill `{name}`, `{ref}`, `{date}`, `{city}`, `{region}` in a bank wording template.
fn fill_template(template: &str, name: &str, reference: &str, day: Date, city: &City) -> String {
    let mut out = String::with_capacity(template.len() + 24);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        match &rest[open + 1..open + close] {
            "name" => out.push_str(name),
            "ref" => out.push_str(reference),
            "date" => {
                let _ = write!(out, "{:02}/{:02}", u8::from(day.month()), day.day());
            }
            "city" => out.push_str(city.descriptor),
            "region" => out.push_str(city.region),
            other => {
                out.push('{');
                out.push_str(other);
                out.push('}');
            }
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

impl<'a> Simulation<'a> {
    pub(crate) fn new(
        hh: &'a Household,
        profile: &'a BankProfile,
        key: StreamKey,
        history_start: Date,
        until: Date,
    ) -> Self {
        let accounts = hh
            .accounts
            .iter()
            .map(|plan| AccountSim {
                liability: plan.account.kind.is_liability(),
                txs: Vec::with_capacity(match plan.account.kind {
                    AccountKind::Checking => 1200,
                    AccountKind::CreditCard => 400,
                    _ => 60,
                }),
                posted: plan.opening_balance,
                pending: 0,
                id_day: 0,
                id_seq: 0,
                next_check: 1001 + (key.value() % 3000) as u32,
                last_cycle: None,
                cycle_interest: 0,
                overdraft_items: 0,
                direct_deposit_month: false,
            })
            .collect();
        Self {
            hh,
            profile,
            key,
            history_start,
            until,
            accounts,
            heap: BinaryHeap::with_capacity(64),
            seq: 0,
            scheduled: Vec::new(),
            order: 0,
        }
    }

    fn plan(&self, slot: u8) -> &'a AccountPlan {
        &self.hh.accounts[usize::from(slot)]
    }

    fn city(&self) -> &'static City {
        self.hh.identity.city
    }

    fn item(&mut self, day: Date, secs: u32, slot: u8, kind: TxKind, direction: Direction, amount: Cents) -> Item {
        self.order += 1;
        Item {
            day,
            secs,
            order: self.order,
            slot,
            kind,
            direction,
            description: String::new(),
            merchant: None,
            channel: Channel::Ach,
            amount,
            how: How::Now,
            post_secs: 0,
            category: "",
            platform: None,
            fraud: false,
            mirror: None,
        }
    }

    /// Walk every day from the start of history through `until`.
    pub(crate) fn run(mut self) -> Vec<AccountLedger> {
        let start_month = self.history_start;
        let months = calendar::months_between(start_month, self.until);
        // Card balances carried into the history are treated as a statement that closed just before it.
        for slot in 0..self.accounts.len() as u8 {
            let plan = self.plan(slot);
            if plan.card.is_some() && plan.active_from == self.history_start && plan.opening_balance > 0 {
                let closing = plan.opening_balance;
                self.accounts[usize::from(slot)].last_cycle = Some(CardCycle { closing, paid: 0 });
                let floor = plan.card.as_ref().map_or(2500, |c| c.floor);
                let min = card_minimum_due(closing, 0, floor);
                let yesterday = self.history_start.previous_day().unwrap_or(self.history_start);
                let closing_day = plan.card.as_ref().map_or(28, |c| c.closing_day);
                let mut first_close = calendar::day_in_month(self.history_start, closing_day);
                if first_close < self.history_start {
                    first_close = calendar::add_months(first_close, 1).unwrap_or(first_close);
                }
                self.schedule_card_payment(slot, yesterday, closing, min);
                // The carried statement is paid inside the first cycle.
                if let Some(item) = self.scheduled.last_mut()
                    && item.day >= first_close
                {
                    item.day = first_close.previous_day().unwrap_or(first_close).max(self.history_start);
                }
            }
        }
        for m in 0..=months {
            let Some(first) = calendar::month_start(start_month, m) else { break };
            let Some(last) = calendar::last_day_of_month(first.year(), first.month()) else { break };
            let items = self.month_items(m as u32, first, last);
            // Sort small keys rather than moving the (large) items around.
            let mut keys: Vec<(Date, u32, u32, usize)> =
                items.iter().enumerate().map(|(n, i)| (i.day, i.secs, i.order, n)).collect();
            keys.sort_unstable();
            let mut slots: Vec<Option<Item>> = items.into_iter().map(Some).collect();
            let mut pending_items = keys.into_iter().filter_map(|k| slots[k.3].take()).peekable();
            let mut today: Vec<Item> = Vec::with_capacity(16);
            let mut day = first.max(self.history_start);
            while day <= last && day <= self.until {
                self.start_of_day(day);
                today.clear();
                while let Some(item) = pending_items.next_if(|i| i.day <= day) {
                    if item.day == day {
                        today.push(item);
                    }
                }
                if !self.scheduled.is_empty() {
                    let mut i = 0;
                    while i < self.scheduled.len() {
                        if self.scheduled[i].day == day {
                            today.push(self.scheduled.swap_remove(i));
                        } else if self.scheduled[i].day < day {
                            self.scheduled.swap_remove(i);
                        } else {
                            i += 1;
                        }
                    }
                }
                today.sort_by_key(|i| (i.secs, i.order));
                for item in today.drain(..) {
                    self.emit(item);
                }
                self.settle_through(day);
                self.overdraft_fees(day);
                self.card_closings(day);
                if day == last {
                    self.month_end(day);
                }
                self.settle_through(day);
                let Some(next) = day.next_day() else { break };
                day = next;
            }
        }
        self.finish()
    }

    fn active(&self, slot: u8, day: Date) -> bool {
        self.hh.accounts.get(usize::from(slot)).is_some_and(|p| day >= p.active_from)
    }

    fn next_id(&mut self, slot: u8, day: Date) -> String {
        let d = day_index(self.history_start, day);
        let acc = &mut self.accounts[usize::from(slot)];
        if acc.id_day != d {
            acc.id_day = d;
            acc.id_seq = 0;
        }
        acc.id_seq += 1;
        ids::transaction_id(self.hh.index, slot, d, acc.id_seq)
    }

    fn push_settle(&mut self, slot: u8, at: OffsetDateTime, delta: Cents, release: Cents, overdraft_item: bool) {
        self.seq += 1;
        self.heap.push(Reverse(Settle { at, seq: self.seq, slot, delta, release, overdraft_item }));
    }

    /// Record one authorization and queue its settlement. Declined or inactive items are skipped.
    fn emit(&mut self, mut item: Item) {
        let slot = item.slot;
        if !self.active(slot, item.day) || item.day < self.history_start {
            return;
        }
        match item.how {
            How::LoanPayment => return self.emit_loan_payment(item),
            How::CdMaturity => {
                let balance = self.accounts[usize::from(slot)].posted;
                if balance <= 0 {
                    return;
                }
                item.amount = balance;
                item.how = How::Now;
            }
            _ => {}
        }
        if item.amount <= 0 {
            return;
        }
        let liability = self.accounts[usize::from(slot)].liability;
        if liability && item.direction == Direction::Debit && item.merchant.is_some() {
            let acc = &self.accounts[usize::from(slot)];
            let limit = self.plan(slot).account.credit_limit.unwrap_or(0);
            if acc.posted + acc.pending + item.amount > limit {
                return; // declined: over the credit limit
            }
        }
        if let Some(mirror) = &item.mirror
            && !self.active(mirror.slot, item.day)
        {
            return;
        }
        let authorized_at = at(item.day, item.secs);
        let (settlement, posts_at, posted_amount) = match item.how {
            How::Later { business_days, amount } => {
                let post_day = add_business_days(item.day, business_days);
                let post_at = at(post_day, item.post_secs).max(authorized_at);
                (Settlement::Posts { at: post_at, amount }, Some(post_at), amount)
            }
            How::Drop { days } => {
                let drop_at = at(item.day + Duration::days(days), item.post_secs).max(authorized_at);
                (Settlement::Drops { at: drop_at }, None, 0)
            }
            _ => (Settlement::Posts { at: authorized_at, amount: item.amount }, Some(authorized_at), item.amount),
        };
        let check_number = (item.channel == Channel::Check && item.direction == Direction::Debit).then(|| {
            let acc = &mut self.accounts[usize::from(slot)];
            acc.next_check += 1;
            acc.next_check - 1
        });
        if let Some(n) = check_number
            && item.description.is_empty()
        {
            item.description = format!("CHECK #{n}");
        }
        let transaction_id = self.next_id(slot, item.day);
        let debit = item.direction == Direction::Debit;
        let sign = |amount: Cents| match (debit, liability) {
            (false, false) | (true, true) => amount,
            _ => -amount,
        };
        let release = if debit { item.amount } else { 0 };
        if debit {
            self.accounts[usize::from(slot)].pending += item.amount;
        }
        let drop_at = match settlement {
            Settlement::Drops { at } => Some(at),
            _ => None,
        };
        let overdraft_item = debit && !liability && item.kind != TxKind::Fee;
        match (posts_at, drop_at) {
            (Some(post_at), _) => self.push_settle(slot, post_at, sign(posted_amount), release, overdraft_item),
            (None, Some(drop_at)) => self.push_settle(slot, drop_at, 0, release, false),
            _ => {}
        }
        if let Some(mirror) = item.mirror.take() {
            let mirror_liability = self.accounts[usize::from(mirror.slot)].liability;
            let direction = if debit { Direction::Credit } else { Direction::Debit };
            let mirror_debit = direction == Direction::Debit;
            let delta = match (mirror_debit, mirror_liability) {
                (false, false) | (true, true) => item.amount,
                _ => -item.amount,
            };
            let mirror_id = self.next_id(mirror.slot, item.day);
            if mirror.kind == TxKind::CardPayment
                && mirror_liability
                && let Some(cycle) = self.accounts[usize::from(mirror.slot)].last_cycle.as_mut()
            {
                cycle.paid += item.amount;
            }
            if mirror_debit {
                self.accounts[usize::from(mirror.slot)].pending += item.amount;
            }
            let release = if mirror_debit { item.amount } else { 0 };
            self.push_settle(mirror.slot, authorized_at, delta, release, mirror_debit && !mirror_liability);
            let account_id = self.plan(mirror.slot).account.account_id.clone();
            self.accounts[usize::from(mirror.slot)].txs.push(Transaction {
                transaction_id: mirror_id,
                account_id,
                kind: mirror.kind,
                direction,
                description: mirror.description,
                merchant: None,
                channel: Channel::Internal,
                authorized_at,
                authorized_amount: item.amount,
                settlement: Settlement::Posts { at: authorized_at, amount: item.amount },
                category: mirror.category.to_owned(),
                platform: None,
                check_number: None,
                suspected_fraud: false,
            });
        }
        let account_id = self.plan(slot).account.account_id.clone();
        let acc = &mut self.accounts[usize::from(slot)];
        if item.kind == TxKind::Payroll && item.channel == Channel::Ach {
            acc.direct_deposit_month = true;
        }
        if item.kind == TxKind::CardPayment
            && liability
            && let Some(cycle) = acc.last_cycle.as_mut()
        {
            cycle.paid += item.amount;
        }
        acc.txs.push(Transaction {
            transaction_id,
            account_id,
            kind: item.kind,
            direction: item.direction,
            description: item.description,
            merchant: item.merchant,
            channel: item.channel,
            authorized_at,
            authorized_amount: item.amount,
            settlement,
            category: item.category.to_owned(),
            platform: item.platform.map(str::to_owned),
            check_number,
            suspected_fraud: item.fraud,
        });
    }

    fn emit_loan_payment(&mut self, item: Item) {
        let Some(mirror) = item.mirror.as_ref() else { return };
        let loan_slot = mirror.slot;
        if !self.active(loan_slot, item.day) {
            return;
        }
        let loan = self.plan(loan_slot);
        let balance = self.accounts[usize::from(loan_slot)].posted;
        if balance <= 0 {
            return;
        }
        let interest = monthly_interest(balance, loan.account.interest_rate_bp);
        let payment = loan.account.monthly_payment.unwrap_or(0).min(balance + interest);
        if payment <= 0 {
            return;
        }
        let principal = payment - interest;
        let mut accrual =
            self.item(item.day, item.secs.saturating_sub(60), loan_slot, TxKind::Interest, Direction::Debit, interest);
        accrual.description = "INTEREST CHARGED".to_owned();
        accrual.channel = Channel::Internal;
        accrual.category = "Interest";
        self.emit(accrual);
        let mut payment_item = item;
        payment_item.amount = payment;
        payment_item.how = How::Now;
        if let Some(m) = payment_item.mirror.as_mut() {
            m.description = format!(
                "PAYMENT RECEIVED - PRINCIPAL {}.{:02} INTEREST {}.{:02}",
                principal / 100,
                principal % 100,
                interest / 100,
                interest % 100
            );
        }
        self.emit(payment_item);
    }

    /// Apply every settlement due on or before the end of `day`.
    fn settle_through(&mut self, day: Date) {
        while let Some(Reverse(next)) = self.heap.peek() {
            if next.at.date() > day {
                break;
            }
            let Some(Reverse(s)) = self.heap.pop() else { break };
            let acc = &mut self.accounts[usize::from(s.slot)];
            acc.posted += s.delta;
            acc.pending -= s.release;
            if !acc.liability && s.overdraft_item && s.delta < 0 && acc.posted < 0 {
                acc.overdraft_items += 1;
            }
        }
    }

    fn decision_rng(&self, slot: u8, day: Date) -> ChaCha8Rng {
        self.key.with(u64::from(slot)).stream(Stream::Decision).with(day.to_julian_day() as u64).rng()
    }

    fn checking_slots(&self) -> impl Iterator<Item = u8> + use<'a> {
        let hh: &'a Household = self.hh;
        hh.accounts.iter().filter(|a| a.account.kind == AccountKind::Checking).map(|a| a.account.slot)
    }

    fn first_savings(&self, day: Date) -> Option<u8> {
        self.hh
            .accounts
            .iter()
            .find(|a| a.account.kind == AccountKind::Savings && day >= a.active_from)
            .map(|a| a.account.slot)
    }

    /// Overdraft protection transfers from savings, and help from family when checking is deep in the red.
    fn start_of_day(&mut self, day: Date) {
        if !self.active(0, day) {
            return;
        }
        let posted = self.accounts[0].posted;
        let target = self.hh.checking_target.max(20_000);
        let floor = match self.hh.resilience {
            Resilience::Comfortable => 15_000,
            _ => -10_000,
        };
        if posted >= floor {
            return;
        }
        let mut rng = self.decision_rng(0, day);
        let savings = self.first_savings(day);
        let available = savings.map_or(0, |s| self.accounts[usize::from(s)].posted);
        let need = target - posted;
        if let Some(savings) = savings.filter(|_| available >= 5_000) {
            let amount = need.min(available) / 100 * 100;
            let mut item =
                self.item(day, 7 * 3600 + 1800, savings, TxKind::Transfer, Direction::Debit, amount.max(100));
            item.amount = item.amount.min(available);
            item.description = "OVERDRAFT PROTECTION TRANSFER TO CHECKING".to_owned();
            item.channel = Channel::Internal;
            item.category = "Transfer";
            item.mirror = Some(Mirror {
                slot: 0,
                kind: TxKind::Transfer,
                description: "OVERDRAFT PROTECTION TRANSFER FROM SAVINGS".to_owned(),
                category: "Transfer",
            });
            self.emit(item);
        } else if posted < -10_000 {
            let amount = (need.max(20_000) as f64 * uniform(&mut rng, 0.8, 1.5)) as Cents / 1000 * 1000;
            let mut item =
                self.item(day, between(&mut rng, 9, 20) as u32 * 3600, 0, TxKind::Zelle, Direction::Credit, amount);
            let mut reference = String::with_capacity(10);
            seed::push_reference(&mut rng, &mut reference, 10);
            item.description =
                fill_template(&self.profile.wording.zelle_in, &self.hh.relative, &reference, day, self.city());
            item.channel = Channel::Transfer;
            item.category = "Transfer";
            self.emit(item);
        }
    }

    fn overdraft_fees(&mut self, day: Date) {
        let fee = self.profile.wording.overdraft_fee_cents;
        for slot in self.checking_slots() {
            let items = std::mem::take(&mut self.accounts[usize::from(slot)].overdraft_items);
            if fee <= 0 || items == 0 {
                continue;
            }
            for k in 0..items.min(3) {
                let mut item = self.item(day, 23 * 3600 + 1800 + k * 60, slot, TxKind::Fee, Direction::Debit, fee);
                item.description = self.profile.wording.overdraft_fee.clone();
                item.channel = Channel::Internal;
                item.category = "Fees";
                self.emit(item);
            }
            self.settle_through(day);
            self.accounts[usize::from(slot)].overdraft_items = 0;
        }
    }

    fn card_closings(&mut self, day: Date) {
        for slot in 0..self.hh.accounts.len() as u8 {
            let plan = self.plan(slot);
            let Some(card) = plan.card.as_ref() else { continue };
            if day.day() != card.closing_day || !self.active(slot, day) {
                continue;
            }
            // Interest on the balance carried from a statement that was not paid in full.
            if card.revolver
                && let Some(cycle) = self.accounts[usize::from(slot)].last_cycle
                && cycle.paid < cycle.closing
            {
                let revolving = cycle.closing - cycle.paid;
                let interest = monthly_interest(revolving, plan.account.interest_rate_bp);
                let mut item = self.item(day, 23 * 3600 + 59 * 60, slot, TxKind::Interest, Direction::Debit, interest);
                item.description = "INTEREST CHARGE ON PURCHASES".to_owned();
                item.channel = Channel::Internal;
                item.category = "Interest";
                if interest > 0 {
                    self.accounts[usize::from(slot)].cycle_interest += interest;
                    self.emit(item);
                }
            }
            self.settle_through(day);
            let acc = &mut self.accounts[usize::from(slot)];
            let closing = acc.posted;
            let interest = std::mem::take(&mut acc.cycle_interest);
            let min = card_minimum_due(closing, interest, card.floor);
            acc.last_cycle = Some(CardCycle { closing, paid: 0 });
            if closing > 0 {
                self.schedule_card_payment(slot, day, closing, min);
            }
        }
    }

    /// Pay a card statement from checking before its due date: transactors pay the statement balance, revolvers
    /// something between the minimum and the balance that steers them towards their usual utilisation.
    fn schedule_card_payment(&mut self, slot: u8, closing_day: Date, closing: Cents, min: Cents) {
        let plan = self.plan(slot);
        let Some(card) = plan.card.as_ref() else { return };
        let mut rng = self.decision_rng(slot, closing_day);
        let amount = if card.revolver {
            let limit = plan.account.credit_limit.unwrap_or(0) as f64;
            let target = (card.target_utilisation * limit * uniform(&mut rng, 0.85, 1.15)) as Cents;
            (closing - target).clamp(min, closing)
        } else {
            closing
        };
        let due = closing_day + Duration::days(CARD_DUE_DAYS);
        let mut pay_day = business_day_on_or_before(closing_day + Duration::days(between(&mut rng, 6, 22)));
        if pay_day <= closing_day {
            pay_day = closing_day + Duration::days(1);
        }
        if pay_day >= due {
            pay_day = due - Duration::days(1);
        }
        pay_day = pay_day.max(self.history_start);
        let mut item = self.item(
            pay_day,
            between(&mut rng, 6, 22) as u32 * 3600,
            0,
            TxKind::CardPayment,
            Direction::Debit,
            amount,
        );
        item.description = self.profile.wording.card_payment.clone();
        item.channel = Channel::Internal;
        item.category = "Credit Card Payment";
        item.mirror = Some(Mirror {
            slot,
            kind: TxKind::CardPayment,
            description: "PAYMENT - THANK YOU".to_owned(),
            category: "Credit Card Payment",
        });
        self.scheduled.push(item);
    }

    fn month_end(&mut self, day: Date) {
        // Interest on savings and CDs, on the posted month-end balance.
        for slot in 0..self.hh.accounts.len() as u8 {
            let plan = self.plan(slot);
            if !matches!(plan.account.kind, AccountKind::Savings | AccountKind::Cd) || !self.active(slot, day) {
                continue;
            }
            if plan.account.kind == AccountKind::Cd && plan.account.maturity.is_some_and(|m| m <= day) {
                continue;
            }
            let interest = monthly_interest(self.accounts[usize::from(slot)].posted, plan.account.interest_rate_bp);
            let mut item = self.item(day, 22 * 3600, slot, TxKind::Interest, Direction::Credit, interest);
            item.description = self.profile.wording.interest.clone();
            item.channel = Channel::Internal;
            item.category = "Interest";
            self.emit(item);
        }
        self.settle_through(day);
        // Monthly service fee, waived with a direct deposit in the month or $1,500 at month end.
        let fee = self.profile.wording.monthly_fee_cents;
        for slot in self.checking_slots() {
            let opened_this_month = self.plan(slot).active_from > day - Duration::days(28);
            let acc = &mut self.accounts[usize::from(slot)];
            let had_dd = std::mem::take(&mut acc.direct_deposit_month);
            if fee > 0 && !had_dd && !opened_this_month && acc.posted < 150_000 && slot == 0 {
                let mut item = self.item(day, 23 * 3600, slot, TxKind::Fee, Direction::Debit, fee);
                item.description = self.profile.wording.monthly_fee.clone();
                item.channel = Channel::Internal;
                item.category = "Fees";
                self.emit(item);
            }
        }
        // Comfortable households keep checking near their target by sweeping to or from savings.
        if self.hh.resilience == Resilience::Comfortable
            && let Some(savings) = self.first_savings(day)
            && self.active(0, day)
        {
            let checking = self.accounts[0].posted - self.accounts[0].pending;
            let target = self.hh.checking_target;
            let saved = self.accounts[usize::from(savings)].posted;
            let (amount, to_savings) = if checking > 2 * target {
                ((checking - target) / 10_000 * 10_000, true)
            } else if checking < target / 3 && saved > 10_000 {
                (((target - checking) / 10_000 * 10_000).min(saved / 10_000 * 10_000), false)
            } else {
                (0, true)
            };
            if amount > 0 {
                let (from, to) = if to_savings { (0, savings) } else { (savings, 0) };
                let mut item = self.item(day, 21 * 3600, from, TxKind::Transfer, Direction::Debit, amount);
                item.description =
                    if to_savings { "ONLINE TRANSFER TO SAVINGS" } else { "ONLINE TRANSFER TO CHECKING" }.to_owned();
                item.channel = Channel::Internal;
                item.category = "Transfer";
                let description =
                    if to_savings { "ONLINE TRANSFER FROM CHECKING" } else { "ONLINE TRANSFER FROM SAVINGS" }
                        .to_owned();
                item.mirror = Some(Mirror { slot: to, kind: TxKind::Transfer, description, category: "Transfer" });
                self.emit(item);
            }
        }
    }

    // ----- exogenous activity -----

    fn month_rng(&self, slot: u8, stream: Stream, m: u32) -> ChaCha8Rng {
        self.key.with(u64::from(slot)).stream(stream).with(u64::from(m)).rng()
    }

    fn month_items(&mut self, m: u32, first: Date, last: Date) -> Vec<Item> {
        let mut items = Vec::with_capacity(64);
        let weights = day_weights(first);
        let season = seasonal(first.month());
        for slot in 0..self.hh.accounts.len() as u8 {
            let plan = self.plan(slot);
            if plan.active_from > last {
                continue;
            }
            let mut rng = self.month_rng(slot, Stream::Month, m);
            if plan.active_from >= first && plan.opening_deposit > 0 {
                let mut item = self.item(
                    plan.active_from,
                    10 * 3600,
                    slot,
                    TxKind::Transfer,
                    Direction::Credit,
                    plan.opening_deposit,
                );
                item.description = "OPENING DEPOSIT".to_owned();
                item.channel = Channel::Internal;
                item.category = "Transfer";
                items.push(item);
            }
            match plan.account.kind {
                AccountKind::Checking => {
                    if slot == 0 {
                        self.household_items(&mut items, &mut rng, m, first, last);
                    } else {
                        // A second checking account is funded monthly from the first.
                        let amount = between(&mut rng, 300, 800) * 100;
                        let mut item = self.item(
                            calendar::day_in_month(first, 3),
                            9 * 3600,
                            0,
                            TxKind::Transfer,
                            Direction::Debit,
                            amount,
                        );
                        item.description = "ONLINE TRANSFER TO CHECKING".to_owned();
                        item.channel = Channel::Internal;
                        item.category = "Transfer";
                        item.mirror = Some(Mirror {
                            slot,
                            kind: TxKind::Transfer,
                            description: "ONLINE TRANSFER FROM CHECKING".to_owned(),
                            category: "Transfer",
                        });
                        items.push(item);
                    }
                    let scale = self.hh.intensity * plan.debit_share * season;
                    self.purchases(&mut items, &mut rng, slot, DEBIT_RATES, scale, first, &weights);
                    self.fraud(&mut items, m, slot, first, last, &weights);
                }
                AccountKind::CreditCard => {
                    let share = plan.card.as_ref().map_or(1.0, |c| c.share);
                    let scale = self.hh.intensity * share * season;
                    self.purchases(&mut items, &mut rng, slot, CREDIT_RATES, scale, first, &weights);
                    self.fraud(&mut items, m, slot, first, last, &weights);
                }
                AccountKind::Mortgage | AccountKind::AutoLoan => {
                    let day = business_day_on_or_after(calendar::day_in_month(first, plan.payment_day));
                    let kind = if plan.account.kind == AccountKind::Mortgage {
                        TxKind::MortgagePayment
                    } else {
                        TxKind::LoanPayment
                    };
                    let mut item = self.item(day, 5 * 3600, 0, kind, Direction::Debit, 0);
                    let label = if kind == TxKind::MortgagePayment { "MORTGAGE PMT" } else { "AUTO LOAN PMT" };
                    let mut description = String::with_capacity(48);
                    let _ = write!(
                        description,
                        "{} {label} PPD ID: {:010}",
                        plan.lender,
                        self.key.with(u64::from(slot)).value() % 10_000_000_000
                    );
                    item.description = description;
                    item.category = if kind == TxKind::MortgagePayment { "Mortgage" } else { "Auto Loan" };
                    item.how = How::LoanPayment;
                    item.mirror = Some(Mirror { slot, kind, description: String::new(), category: item.category });
                    items.push(item);
                }
                AccountKind::Cd => {
                    if let Some(maturity) = plan.account.maturity
                        && maturity >= first
                        && maturity <= last
                    {
                        let to = self.first_savings(maturity).unwrap_or(0);
                        let mut item = self.item(maturity, 6 * 3600, slot, TxKind::Transfer, Direction::Debit, 1);
                        item.description = "CD MATURITY - TRANSFER OF PROCEEDS".to_owned();
                        item.channel = Channel::Internal;
                        item.category = "Transfer";
                        item.how = How::CdMaturity;
                        item.mirror = Some(Mirror {
                            slot: to,
                            kind: TxKind::Transfer,
                            description: "CD MATURITY PROCEEDS".to_owned(),
                            category: "Transfer",
                        });
                        items.push(item);
                    }
                }
                AccountKind::Savings => {}
            }
        }
        // Items that fall after this month (fraud refunds) wait in the schedule.
        let mut kept = Vec::with_capacity(items.len());
        for item in items {
            if item.day > last {
                self.scheduled.push(item);
            } else {
                kept.push(item);
            }
        }
        kept
    }

    /// Payroll, housing, bills, subscriptions, transfers, ATM and checks of the household (primary checking).
    fn household_items(&mut self, items: &mut Vec<Item>, rng: &mut ChaCha8Rng, m: u32, first: Date, last: Date) {
        let hh = self.hh;
        let city = self.city();
        // Payroll: pay dates of this month and the next whose (early) posting date falls in this month.
        for (p, payroll) in hh.payrolls.iter().enumerate() {
            for month in [0, 1] {
                let Some(month_first) = calendar::month_start(first, month) else { continue };
                for pay_date in pay_dates(payroll, month_first) {
                    let early =
                        if payroll.mobile_check { 0 } else { u32::from(self.profile.early_direct_deposit_days) };
                    let post = calendar::sub_business_days(pay_date, early);
                    if post < first || post > last {
                        continue;
                    }
                    let mut prng = self
                        .key
                        .with(PAYROLL_TAG + p as u64)
                        .stream(Stream::Month)
                        .with(pay_date.to_julian_day() as u64)
                        .rng();
                    let amount = (payroll.net as f64 * uniform(&mut prng, 0.98, 1.025)) as Cents;
                    let mut item = self.item(
                        post,
                        between(&mut prng, 3, 5) as u32 * 3600,
                        0,
                        TxKind::Payroll,
                        Direction::Credit,
                        amount,
                    );
                    if payroll.mobile_check {
                        item.description = "MOBILE CHECK DEPOSIT".to_owned();
                        item.channel = Channel::Check;
                        item.kind = TxKind::Check;
                        item.how = How::Later { business_days: 1, amount };
                        item.post_secs = 5 * 3600;
                        item.category = "Deposit";
                    } else {
                        let mut d = String::with_capacity(48);
                        let _ = write!(d, "{} PAYROLL PPD ID: {}", payroll.employer, payroll.ppd_id);
                        item.description = d;
                        item.category = "Paycheck";
                    }
                    items.push(item);
                }
            }
        }
        // Rent: due on the 1st; about 80 % paid by the 6th.
        if let Housing::Rent { amount, payee, by_check } = &hh.housing {
            for month in [0, 1] {
                let Some(due) = calendar::month_start(first, month) else { continue };
                let mut rrng = self.key.with(RENT_TAG).stream(Stream::Month).with(due.to_julian_day() as u64).rng();
                let offset = match seed::weighted(&mut rrng, &[0.3, 0.36, 0.14, 0.14, 0.06]) {
                    0 => between(&mut rrng, -4, 0),
                    1 => between(&mut rrng, 1, 3),
                    2 => between(&mut rrng, 4, 5),
                    3 => between(&mut rrng, 6, 10),
                    _ => between(&mut rrng, 11, 15),
                };
                let day = due + Duration::days(offset);
                if day < first || day > last {
                    continue;
                }
                let mut item =
                    self.item(day, between(&mut rrng, 7, 21) as u32 * 3600, 0, TxKind::Rent, Direction::Debit, *amount);
                item.category = "Rent";
                if *by_check {
                    item.channel = Channel::Check;
                } else {
                    let mut d = String::with_capacity(40);
                    let _ = write!(d, "{payee} WEB PMT PPD ID: {:010}", self.key.value() % 10_000_000_000);
                    item.description = d;
                }
                items.push(item);
            }
        }
        // Utilities and other ACH bills, around a fixed day, amounts varying month to month.
        for bill in &hh.bills {
            let jitter = between(rng, -1, 1);
            let day =
                business_day_on_or_after(calendar::day_in_month(first, bill.day) + Duration::days(jitter)).min(last);
            let factor = bill.utility.map_or(1.0, |u| u.seasonal(u8::from(first.month())));
            let amount = (bill.base as f64 * factor * (1.0 + bill.variation * seed::normal(rng)).max(0.3)) as Cents;
            let mut item =
                self.item(day, between(rng, 1, 6) as u32 * 3600, 0, TxKind::Utility, Direction::Debit, amount);
            item.description = bill.descriptor.clone();
            if bill.utility.is_some() {
                item.category = "Utilities";
                item.merchant = Some(Merchant {
                    name: title_case(bill.biller),
                    mcc: 4900,
                    city: city.name.to_owned(),
                    region: city.region.to_owned(),
                });
            } else {
                item.kind = if bill.biller == "DEPT EDUCATION" { TxKind::LoanPayment } else { TxKind::Shopping };
                item.category = if bill.biller == "DEPT EDUCATION" { "Student Loan" } else { "Insurance" };
            }
            items.push(item);
        }
        // Subscriptions: fixed day, fixed amount, billed card-not-present, on a card or the debit card.
        for sub in &hh.subscriptions {
            let spec = &SUBSCRIPTIONS[sub.spec];
            let day = calendar::day_in_month(first, sub.day);
            let mut item = self.item(
                day,
                between(rng, 1, 5) as u32 * 3600,
                sub.slot,
                TxKind::Subscription,
                Direction::Debit,
                spec.cents,
            );
            item.description = spec.descriptor.to_owned();
            item.channel = Channel::CardNotPresent;
            item.category = "Subscriptions";
            item.merchant = Some(Merchant {
                name: spec.name.to_owned(),
                mcc: spec.mcc,
                city: String::new(),
                region: String::new(),
            });
            item.how = How::Later { business_days: posting_delay(rng), amount: spec.cents };
            item.post_secs = between(rng, 3 * 3600, 7 * 3600 - 1) as u32;
            items.push(item);
        }
        // Automatic transfer to savings.
        if let Some((amount, day)) = hh.autosave
            && let Some(savings) = self.first_savings(last)
        {
            let mut item =
                self.item(calendar::day_in_month(first, day), 8 * 3600, 0, TxKind::Transfer, Direction::Debit, amount);
            item.description = "AUTOMATIC TRANSFER TO SAVINGS".to_owned();
            item.channel = Channel::Internal;
            item.category = "Transfer";
            item.mirror = Some(Mirror {
                slot: savings,
                kind: TxKind::Transfer,
                description: "AUTOMATIC TRANSFER FROM CHECKING".to_owned(),
                category: "Transfer",
            });
            items.push(item);
        }
        let days = i64::from(time::util::days_in_month(first.month(), first.year()));
        let random_day = |rng: &mut ChaCha8Rng| first + Duration::days(between(rng, 0, days - 1));
        // Zelle and Venmo, worded with the bank's templates.
        let profile: &'a BankProfile = self.profile;
        let wording = &profile.wording;
        let p2p: [(f64, TxKind, Direction, &'a str); 4] = [
            (hh.zelle.0, TxKind::Zelle, Direction::Debit, &wording.zelle_out),
            (hh.zelle.1, TxKind::Zelle, Direction::Credit, &wording.zelle_in),
            (hh.venmo.map_or(0.0, |v| v.0), TxKind::Venmo, Direction::Debit, &wording.venmo_out),
            (hh.venmo.map_or(0.0, |v| v.1), TxKind::Venmo, Direction::Credit, &wording.venmo_in),
        ];
        for (rate, kind, direction, template) in p2p {
            for _ in 0..poisson(rng, rate) {
                let day = random_day(rng);
                let mut amount = lognormal_cents(rng, 55.0, 0.85);
                if chance(rng, 0.6) {
                    amount = (amount / 500).max(1) * 500;
                }
                let name = pick(rng, &hh.friends).clone();
                let mut reference = String::with_capacity(12);
                if kind == TxKind::Zelle {
                    seed::push_reference(rng, &mut reference, 11);
                } else {
                    seed::push_digits(rng, &mut reference, 10);
                }
                let mut item = self.item(day, between(rng, 8 * 3600, 23 * 3600) as u32, 0, kind, direction, amount);
                item.description = fill_template(template, &name, &reference, day, city);
                item.channel = Channel::Transfer;
                item.category = "Transfer";
                items.push(item);
            }
        }
        // ATM withdrawals: $20 multiples.
        for _ in 0..poisson(rng, hh.atm_rate) {
            let day = random_day(rng);
            let amount = [2000, 4000, 6000, 8000, 10000, 12000, 14000, 16000, 20000, 30000, 40000]
                [seed::weighted(rng, &[3.0, 6.0, 8.0, 8.0, 14.0, 8.0, 5.0, 5.0, 14.0, 5.0, 3.0])];
            let mut reference = String::with_capacity(6);
            seed::push_digits(rng, &mut reference, 6);
            let mut item =
                self.item(day, between(rng, 7 * 3600, 23 * 3600) as u32, 0, TxKind::Atm, Direction::Debit, amount);
            item.description = fill_template(&self.profile.wording.atm, "", &reference, day, city);
            item.channel = Channel::Atm;
            item.category = "ATM";
            item.merchant = Some(Merchant {
                name: format!("{} ATM", self.profile.display_name),
                mcc: 6011,
                city: city.name.to_owned(),
                region: city.region.to_owned(),
            });
            items.push(item);
        }
        // Paper checks: presented 1-5 business days after they are written; the day shown is presentment.
        for _ in 0..poisson(rng, hh.check_rate) {
            let day = business_day_on_or_after(random_day(rng));
            let amount = lognormal_cents(rng, 110.0, 0.8) / 100 * 100;
            let mut item = self.item(day, 6 * 3600, 0, TxKind::Check, Direction::Debit, amount);
            item.channel = Channel::Check;
            item.category = "Check";
            items.push(item);
        }
        let _ = m;
    }

    /// Card purchases of one account in one month.
    #[allow(clippy::too_many_arguments)]
    fn purchases(
        &mut self,
        items: &mut Vec<Item>,
        rng: &mut ChaCha8Rng,
        slot: u8,
        rates: &[(Class, f64)],
        scale: f64,
        first: Date,
        weights: &[f64],
    ) {
        for (class, rate) in rates {
            if !self.hh.has_car && matches!(class, Class::FuelPump | Class::FuelStation) {
                continue;
            }
            let n = poisson(rng, rate * scale);
            for _ in 0..n {
                let day = first + Duration::days(seed::weighted(rng, weights) as i64);
                self.purchase(items, rng, slot, *class, day, false);
            }
        }
    }

    fn favorite(&self, rng: &mut ChaCha8Rng, class: Class) -> (usize, u32) {
        let mut candidates = [(0usize, 0u32); 16];
        let mut n = 0;
        for (i, number) in &self.hh.favorites {
            if MERCHANTS[*i].class == class && n < candidates.len() {
                candidates[n] = (*i, *number);
                n += 1;
            }
        }
        if n == 0 {
            let i = super::merchants::of_class(class).next().unwrap_or(0);
            return (i, 1234);
        }
        candidates[rng.random_range(0..n)]
    }

    /// One card purchase (or its fraudulent imitation), with descriptor, channel, timing and settlement.
    fn purchase(
        &mut self,
        items: &mut Vec<Item>,
        rng: &mut ChaCha8Rng,
        slot: u8,
        class: Class,
        day: Date,
        fraud: bool,
    ) {
        let (index, number) = self.favorite(rng, class);
        let spec: &MerchantSpec = &MERCHANTS[index];
        let travel = matches!(class, Class::Airline | Class::Hotel | Class::CarRental) || fraud;
        let city: &City = if travel && !matches!(class, Class::Airline) {
            places::any_city(rng.random_range(0..places::CITIES.len()))
        } else {
            self.city()
        };
        let (median, sigma) = class.amount();
        let bill = lognormal_cents(rng, median, sigma);
        let (hour_from, hour_to) = class.hours();
        let secs = between(rng, i64::from(hour_from) * 3600, i64::from(hour_to) * 3600 - 1) as u32;
        let cnp = class.card_not_present() || (class == Class::Electronics && chance(rng, 0.35));
        let channel = if cnp { Channel::CardNotPresent } else { Channel::CardPresent };
        let description = descriptor(spec, number, city, rng);
        let platform = match self.hh.platform {
            Some((platform, share)) if cnp && chance(rng, share) => Some(platform),
            _ => None,
        };
        let merchant = Merchant {
            name: spec.name.to_owned(),
            mcc: spec.mcc,
            city: city.name.to_owned(),
            region: city.region.to_owned(),
        };
        let delay = posting_delay(rng);
        let post_secs = between(rng, 3 * 3600, 7 * 3600 - 1) as u32;
        let mut item = self.item(day, secs, slot, class.tx_kind(), Direction::Debit, bill);
        item.description = description;
        item.merchant = Some(merchant);
        item.channel = channel;
        item.category = class.category();
        item.platform = platform;
        item.fraud = fraud;
        item.post_secs = post_secs;
        item.how = How::Later { business_days: delay, amount: bill };
        match class {
            Class::FullService => {
                let tip = uniform(rng, 0.17, 0.22);
                item.how = How::Later { business_days: delay, amount: bill + (bill as f64 * tip).round() as Cents };
            }
            Class::FastFood if chance(rng, 0.1) => {
                let tip = uniform(rng, 0.10, 0.16);
                item.how = How::Later { business_days: delay, amount: bill + (bill as f64 * tip).round() as Cents };
            }
            Class::FuelPump => {
                if chance(rng, 0.5) {
                    // $1 status check that drops, and the completion at the pump amount.
                    let mut check = item.clone();
                    check.amount = 100;
                    check.how = How::Drop { days: between(rng, 1, 3) };
                    check.category = class.category();
                    self.order += 1;
                    check.order = self.order;
                    items.push(check);
                    item.secs = (secs + between(rng, 120, 600) as u32).min(86_399);
                } else {
                    let hold = [10_000, 12_500, 15_000, 17_500][rng.random_range(0..4)];
                    item.amount = hold;
                    item.how = How::Later { business_days: delay, amount: bill.min(hold) };
                }
            }
            Class::Hotel => {
                if chance(rng, 0.15) {
                    item.how = How::Drop { days: between(rng, 1, 8) };
                    item.amount = bill / 2;
                } else {
                    item.amount = bill + bill / 5;
                    let checkout = (delay + between(rng, 1, 3) as u32).min(5);
                    item.how = How::Later { business_days: checkout, amount: bill };
                }
            }
            Class::CarRental => {
                // A deposit hold that drops, and the rental itself.
                let mut hold = item.clone();
                hold.amount = between(rng, 150, 300) * 100;
                hold.how = How::Drop { days: between(rng, 2, 8) };
                self.order += 1;
                hold.order = self.order;
                items.push(hold);
            }
            _ => {}
        }
        items.push(item);
    }

    /// Card fraud at the real-world rate: about 10 basis points of card value, mostly card-not-present, with
    /// occasional card-testing bursts of tiny charges before a large purchase. Disputed charges are credited back.
    fn fraud(&mut self, items: &mut Vec<Item>, m: u32, slot: u8, first: Date, last: Date, weights: &[f64]) {
        let plan = self.plan(slot);
        let monthly_value: f64 = match plan.account.kind {
            AccountKind::Checking => {
                DEBIT_RATES.iter().map(|(c, r)| r * expected_purchase(*c)).sum::<f64>() * plan.debit_share
            }
            _ => {
                CREDIT_RATES.iter().map(|(c, r)| r * expected_purchase(*c)).sum::<f64>()
                    * plan.card.as_ref().map_or(1.0, |c| c.share)
            }
        } * self.hh.intensity;
        const EVENT_VALUE: f64 = 400.0;
        let p = 0.0010 * monthly_value / EVENT_VALUE;
        let mut rng = self.month_rng(slot, Stream::Fraud, m);
        if !chance(&mut rng, p) {
            return;
        }
        let day = first + Duration::days(seed::weighted(&mut rng, weights) as i64);
        let start = items.len();
        let kind = seed::weighted(&mut rng, &[0.65, 0.2, 0.15]);
        if kind == 1 {
            // Card testing: a burst of tiny charges minutes apart, then a large purchase.
            let secs0 = between(&mut rng, 0, 20 * 3600) as u32;
            for k in 0..between(&mut rng, 3, 6) {
                let amount = between(&mut rng, 50, 500);
                let mut item = self.item(day, secs0 + k as u32 * 97, slot, TxKind::Shopping, Direction::Debit, amount);
                let mut description = String::with_capacity(24);
                description.push_str("SQ *");
                seed::push_reference(&mut rng, &mut description, 8);
                description.push_str(" GOSQ.COM");
                item.description = description;
                item.channel = Channel::CardNotPresent;
                item.category = "Shopping";
                item.fraud = true;
                item.merchant = Some(Merchant {
                    name: "Unknown online seller".to_owned(),
                    mcc: 5999,
                    city: String::new(),
                    region: String::new(),
                });
                item.how = How::Later { business_days: 1, amount };
                item.post_secs = 4 * 3600;
                items.push(item);
            }
        }
        let class = if kind == 2 { Class::Electronics } else { *pick(&mut rng, &[Class::Online, Class::Electronics]) };
        self.purchase(items, &mut rng, slot, class, day, true);
        let big = items.len() - 1;
        let amount = if kind == 2 { between(&mut rng, 150, 600) * 100 } else { lognormal_cents(&mut rng, 300.0, 0.5) };
        items[big].amount = amount;
        items[big].how = How::Later { business_days: 1, amount };
        items[big].platform = None;
        if kind == 2 {
            items[big].channel = Channel::CardPresent;
        } else {
            items[big].channel = Channel::CardNotPresent;
        }
        // Provisional credit after the customer disputes.
        let refund_day = day + Duration::days(between(&mut rng, 5, 12));
        let total: Cents = items[start..].iter().filter(|i| i.fraud).map(|i| i.amount).sum();
        let mut reference = String::with_capacity(8);
        seed::push_digits(&mut rng, &mut reference, 8);
        let mut refund = self.item(refund_day, 10 * 3600, slot, TxKind::Refund, Direction::Credit, total);
        refund.description = format!("PROVISIONAL CREDIT CLAIM {reference}");
        refund.channel = Channel::Internal;
        refund.category = "Refund";
        let _ = last;
        items.push(refund);
    }

    fn finish(self) -> Vec<AccountLedger> {
        let history_start = self.history_start;
        let until = self.until;
        let hh = self.hh;
        self.accounts
            .into_iter()
            .zip(&hh.accounts)
            .map(|(acc, plan)| {
                let mut transactions = acc.txs;
                transactions.sort_by(|a, b| {
                    a.authorized_at.cmp(&b.authorized_at).then_with(|| a.transaction_id.cmp(&b.transaction_id))
                });
                let statements = statements(hh.index, plan, &transactions, history_start, until);
                AccountLedger {
                    account: plan.account.clone(),
                    opening_balance: plan.opening_balance,
                    transactions,
                    statements,
                }
            })
            .collect()
    }
}

/// Pay dates of one payroll in the month starting at `first` (before any early-deposit shift).
pub(crate) fn pay_dates(payroll: &Payroll, first: Date) -> Vec<Date> {
    let Some(last) = calendar::last_day_of_month(first.year(), first.month()) else { return Vec::new() };
    let mut dates = Vec::with_capacity(5);
    match payroll.frequency {
        PayFrequency::Weekly | PayFrequency::Biweekly => {
            let mut day = first;
            while day <= last {
                if day.weekday() == payroll.weekday {
                    let week = day.to_julian_day().div_euclid(7) as i64;
                    if payroll.frequency == PayFrequency::Weekly || week.rem_euclid(2) == payroll.phase {
                        dates.push(business_day_on_or_before(day));
                    }
                }
                let Some(next) = day.next_day() else { break };
                day = next;
            }
        }
        PayFrequency::Semimonthly => {
            dates.push(business_day_on_or_before(calendar::day_in_month(first, 15)));
            dates.push(business_day_on_or_before(last));
        }
        PayFrequency::Monthly => dates.push(business_day_on_or_before(last)),
    }
    dates
}

/// The descriptor of a purchase as the bank prints it.
fn descriptor(spec: &MerchantSpec, number: u32, city: &City, rng: &mut ChaCha8Rng) -> String {
    let mut out = String::with_capacity(40);
    let with_city = |out: &mut String| {
        out.push(' ');
        out.push_str(city.descriptor);
        out.push(' ');
        out.push_str(city.region);
    };
    match spec.pattern {
        Pattern::Store { digits } => {
            let n = number % 10u32.pow(u32::from(digits));
            let _ = write!(out, "{} #{n:0width$}", spec.stem, width = usize::from(digits));
            with_city(&mut out);
        }
        Pattern::Glued { digits } => {
            let n = number % 10u32.pow(u32::from(digits));
            let _ = write!(out, "{}{n:0width$}", spec.stem, width = usize::from(digits));
            with_city(&mut out);
        }
        Pattern::Square => {
            out.push_str("SQ *");
            out.push_str(spec.stem);
            with_city(&mut out);
        }
        Pattern::Toast => {
            out.push_str("TST* ");
            out.push_str(spec.stem);
            with_city(&mut out);
        }
        Pattern::Local => {
            out.push_str(spec.stem);
            with_city(&mut out);
        }
        Pattern::Fixed => out.push_str(spec.stem),
        Pattern::Amazon => {
            out.push_str(spec.stem);
            seed::push_reference(rng, &mut out, 9);
        }
        Pattern::Ticket => {
            out.push_str(spec.stem);
            out.push(' ');
            seed::push_digits(rng, &mut out, 10);
        }
    }
    out
}

/// Statement periods of an account: calendar months, or billing cycles for cards, ending on or before `until`.
fn statement_periods(plan: &AccountPlan, history_start: Date, until: Date) -> Vec<(Date, Date)> {
    let mut periods = Vec::with_capacity(26);
    let start = plan.active_from.max(history_start);
    let mut period_start = start;
    let closing_day = plan.card.as_ref().map(|c| c.closing_day);
    let mut m = 0;
    while period_start <= until && m < 1200 {
        let Some(month_first) = calendar::month_start(start, m) else { break };
        m += 1;
        let end = match closing_day {
            Some(day) => calendar::day_in_month(month_first, day),
            None => match calendar::last_day_of_month(month_first.year(), month_first.month()) {
                Some(d) => d,
                None => break,
            },
        };
        if end < period_start {
            continue;
        }
        if end > until {
            break;
        }
        periods.push((period_start, end));
        let Some(next) = end.next_day() else { break };
        period_start = next;
    }
    periods
}

/// Statements built from the posted transactions, so that they reconcile by construction.
fn statements(index: u32, plan: &AccountPlan, txs: &[Transaction], history_start: Date, until: Date) -> Vec<Statement> {
    let periods = statement_periods(plan, history_start, until);
    if periods.is_empty() {
        return Vec::new();
    }
    let liability = plan.account.kind.is_liability();
    // (posting day, signed amount, interest-or-fee)
    let mut postings: Vec<(Date, Cents, bool)> = txs
        .iter()
        .filter_map(|t| match t.settlement {
            Settlement::Posts { at, amount } => Some((
                at.date(),
                t.signed(amount, liability),
                matches!(t.kind, TxKind::Interest | TxKind::Fee) && t.direction == Direction::Debit,
            )),
            Settlement::Drops { .. } => None,
        })
        .collect();
    postings.sort_by_key(|p| p.0);
    let mut balance = plan.opening_balance;
    let mut i = 0;
    while i < postings.len() && postings[i].0 < periods[0].0 {
        balance += postings[i].1;
        i += 1;
    }
    let mut out = Vec::with_capacity(periods.len());
    for (start, end) in periods {
        let opening = balance;
        let mut interest_fees = 0;
        while i < postings.len() && postings[i].0 <= end {
            balance += postings[i].1;
            if postings[i].2 {
                interest_fees += postings[i].1;
            }
            i += 1;
        }
        let (minimum_due, due_date) = match &plan.card {
            Some(card) => {
                (Some(card_minimum_due(balance, interest_fees, card.floor)), Some(end + Duration::days(CARD_DUE_DAYS)))
            }
            None => (None, None),
        };
        out.push(Statement {
            statement_id: ids::statement_id(index, plan.account.slot, end),
            account_id: plan.account.account_id.clone(),
            period_start: start,
            period_end: end,
            opening_balance: opening,
            closing_balance: balance,
            minimum_due,
            due_date,
        });
    }
    out
}
