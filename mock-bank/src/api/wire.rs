//! FDX v6.2 wire shapes of the bank API, built from the ledger model. Field names, enums and nesting follow the
//! FDX 6.2 OpenAPI document (`components/schemas`): `AccountDescriptorentity` and its concrete subtypes
//! `DepositAccountentity`, `LineofCreditAccountentity` (accountCategory `LOC_ACCOUNT`) and `LoanAccountentity`,
//! discriminated by `accountCategory` (FDX 6 uses that discriminator, not wrapper objects); the transaction
//! subtypes `DepositTransactionentity`, `LineofCreditTransactionentity`, `LoanTransactionentity`; `Statemententity`,
//! `PaymentNetworkSupportedbyAccount`, `AccountContactentity`, `Customerentity`, `PageMetadata`,
//! `PageMetadataLinks`/`HATEOASLink`.
//!
//! Money leaves the bank here and only here as an FDX `number` of dollars (the core keeps i64 cents; every cent
//! value below 2^53 converts exactly). This module is pure formatting: no I/O, no policy.

use crate::ledger::model::{
    Account, AccountKind, AccountLedger, Cents, Channel, Customer, Direction, Statement, Transaction, TxKind, TxState,
};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, UtcOffset};

/// Cents as an FDX amount in dollars.
pub fn dollars(cents: Cents) -> f64 {
    cents as f64 / 100.0
}

/// An FDX `date` (`YYYY-MM-DD`).
pub fn fdx_date(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// An FDX `date-time` (RFC 3339, UTC).
pub fn fdx_timestamp(at: OffsetDateTime) -> String {
    at.to_offset(UtcOffset::UTC).format(&Rfc3339).unwrap_or_default()
}

#[derive(Debug, Serialize)]
pub struct HateoasLink {
    pub href: String,
}

/// `PageMetadata`.
#[derive(Debug, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PageMetadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_elements: Option<usize>,
}

/// `PageMetadataLinks`.
#[derive(Debug, Serialize, Default)]
pub struct PageLinks {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<HateoasLink>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Currency {
    pub currency_code: String,
}

/// An account: the `AccountDescriptorentity` fields always, the concrete subtype's fields when detailed.
#[derive(Debug, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct FdxAccount {
    pub account_category: &'static str,
    pub account_id: String,
    pub account_type: &'static str,
    pub account_number_display: String,
    pub product_name: String,
    pub nickname: String,
    pub status: &'static str,
    pub account_open_date: String,
    pub currency: Option<Currency>,
    // Accountentity
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing_transit_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interest_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interest_rate_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_activity_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_in: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_out: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance_as_of: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_balance: Option<f64>,
    // DepositAccountentity
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opening_day_balance: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_balance: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annual_percentage_yield: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub term: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maturity_date: Option<String>,
    // LineofCreditAccountentity
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credit_line: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_credit: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purchases_apr: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_stmt_balance: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_stmt_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_payment_amount: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_network: Option<&'static str>,
    // LoanAccountentity (+ nextPayment* shared with LOC)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_balance: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_principal: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub originating_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loan_term: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_frequency: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_payment_amount: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_payment_date: Option<String>,
}

fn last4(number: &str) -> &str {
    number.get(number.len().saturating_sub(4)..).unwrap_or(number)
}

fn months_between(from: Date, to: Date) -> i32 {
    (to.year() - from.year()) * 12 + i32::from(u8::from(to.month())) - i32::from(u8::from(from.month()))
}

/// The lightweight descriptor (`AccountDescriptorentity`): what the ACCOUNT_BASIC cluster covers.
pub fn account_descriptor(account: &Account) -> FdxAccount {
    FdxAccount {
        account_category: account.kind.fdx_category(),
        account_id: account.account_id.clone(),
        account_type: account.kind.fdx_type(),
        account_number_display: format!("...{}", last4(&account.account_number)),
        product_name: account.product_name.clone(),
        nickname: account.nickname.clone(),
        status: "OPEN",
        account_open_date: fdx_date(account.opened),
        currency: Some(Currency { currency_code: account.currency.clone() }),
        ..FdxAccount::default()
    }
}

/// The full account (its concrete FDX subtype) with balances at `now`: what ACCOUNT_DETAILED covers.
pub fn account_details(ledger: &AccountLedger, now: OffsetDateTime) -> FdxAccount {
    let account = &ledger.account;
    let today = now.to_offset(UtcOffset::UTC).date();
    let balances = ledger.balances_at(now);
    let rate = f64::from(account.interest_rate_bp) / 100.0;
    let last_issued = ledger.statements.iter().rev().find(|s| s.period_end < today);
    let last_activity = ledger
        .transactions
        .iter()
        .rev()
        .find(|t| t.state_at(now).is_some())
        .map(|t| fdx_date(t.authorized_at.to_offset(UtcOffset::UTC).date()));
    let mut out = account_descriptor(account);
    out.routing_transit_number = Some(account.routing_number.clone());
    out.interest_rate = Some(rate);
    out.interest_rate_type = Some("FIXED");
    out.last_activity_date = last_activity;
    out.balance_as_of = Some(fdx_timestamp(now));
    match account.kind {
        AccountKind::Checking | AccountKind::Savings | AccountKind::Cd => {
            let day_start = today.midnight().assume_utc();
            out.balance_type = Some("ASSET");
            out.current_balance = Some(dollars(balances.current));
            out.available_balance = Some(dollars(balances.available));
            out.opening_day_balance = Some(dollars(ledger.balances_at(day_start).current));
            out.annual_percentage_yield = Some(rate);
            out.transfer_in = Some(true);
            out.transfer_out = Some(account.kind != AccountKind::Cd);
            if account.kind == AccountKind::Cd {
                out.maturity_date = account.maturity.map(fdx_date);
                out.term = account.maturity.map(|m| months_between(account.opened, m));
            }
        }
        AccountKind::CreditCard => {
            out.balance_type = Some("LIABILITY");
            out.current_balance = Some(dollars(balances.current));
            out.credit_line = account.credit_limit.map(dollars);
            out.available_credit = Some(dollars(balances.available));
            out.purchases_apr = Some(rate);
            out.last_stmt_balance = last_issued.map(|s| dollars(s.closing_balance));
            out.last_stmt_date = last_issued.map(|s| fdx_date(s.period_end));
            out.minimum_payment_amount = last_issued.and_then(|s| s.minimum_due).map(dollars);
            out.next_payment_amount = out.minimum_payment_amount;
            out.next_payment_date = last_issued.and_then(|s| s.due_date).map(fdx_date);
            out.card_network = Some(match account.account_number.as_bytes().first() {
                Some(b'4') => "VISA",
                Some(b'5' | b'2') => "MASTERCARD",
                Some(b'3') => "AMERICAN_EXPRESS",
                _ => "DISCOVER",
            });
            out.transfer_in = Some(true);
            out.transfer_out = Some(false);
        }
        AccountKind::Mortgage | AccountKind::AutoLoan => {
            out.balance_type = Some("LIABILITY");
            out.principal_balance = Some(dollars(balances.current));
            out.original_principal = account.original_principal.map(dollars);
            out.originating_date = Some(fdx_date(account.opened));
            out.loan_term = account.maturity.map(|m| months_between(account.opened, m));
            out.maturity_date = account.maturity.map(fdx_date);
            out.payment_frequency = Some("MONTHLY");
            out.next_payment_amount = account.monthly_payment.map(dollars);
            out.next_payment_date = Some(fdx_date(next_monthly(today, account.opened.day())));
            out.transfer_in = Some(true);
            out.transfer_out = Some(false);
        }
    }
    out
}

/// The first date on or after `from` whose day of month is `day` (clamped to 28 so every month has it).
fn next_monthly(from: Date, day: u8) -> Date {
    let day = day.clamp(1, 28);
    let this_month = from.replace_day(day).unwrap_or(from);
    if this_month >= from {
        return this_month;
    }
    let (year, month) = match from.month() {
        time::Month::December => (from.year() + 1, time::Month::January),
        m => (from.year(), m.next()),
    };
    Date::from_calendar_date(year, month, day).unwrap_or(from)
}

#[derive(Debug, Serialize)]
pub struct FiAttribute<'a> {
    pub name: &'static str,
    pub value: &'a str,
}

/// A transaction (`DepositTransactionentity`, `LineofCreditTransactionentity` or `LoanTransactionentity`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FdxTransaction<'a> {
    pub account_category: &'static str,
    pub account_id: &'a str,
    pub transaction_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub posted_timestamp: Option<String>,
    pub transaction_timestamp: String,
    pub description: &'a str,
    pub debit_credit_memo: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_category: Option<&'static str>,
    pub status: &'static str,
    pub amount: f64,
    pub transaction_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payee: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_number: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fi_attributes: Vec<FiAttribute<'a>>,
}

/// FDX `transactionType` for a transaction on an account of `kind`.
pub fn transaction_type(kind: AccountKind, tx: &Transaction) -> &'static str {
    let debit = tx.direction == Direction::Debit;
    match kind {
        AccountKind::Checking | AccountKind::Savings | AccountKind::Cd => match tx.kind {
            TxKind::Payroll => "DIRECTDEPOSIT",
            TxKind::Check => "CHECK",
            _ if tx.check_number.is_some() => "CHECK",
            TxKind::Rent | TxKind::MortgagePayment | TxKind::LoanPayment | TxKind::Utility | TxKind::CardPayment => {
                "BILLPAYMENT"
            }
            TxKind::Atm => {
                if debit {
                    "ATMWITHDRAWAL"
                } else {
                    "ATMDEPOSIT"
                }
            }
            TxKind::Zelle | TxKind::Venmo | TxKind::Transfer => "TRANSFER",
            TxKind::Interest => "INTEREST",
            TxKind::Fee => "FEE",
            TxKind::Refund => "POSCREDIT",
            _ if tx.merchant.is_some() => {
                if debit {
                    "POSDEBIT"
                } else {
                    "POSCREDIT"
                }
            }
            _ => {
                if debit {
                    "WITHDRAWAL"
                } else {
                    "DEPOSIT"
                }
            }
        },
        AccountKind::CreditCard => match tx.kind {
            TxKind::CardPayment => "PAYMENT",
            TxKind::Interest => "INTEREST",
            TxKind::Fee => "FEE",
            TxKind::Atm => "WITHDRAWAL",
            TxKind::Check => "CHECK",
            _ if debit => "PURCHASE",
            _ => "ADJUSTMENT",
        },
        AccountKind::Mortgage | AccountKind::AutoLoan => match tx.kind {
            TxKind::Interest => "INTEREST",
            TxKind::Fee => "FEE",
            _ if !debit => "PAYMENT",
            _ => "ADJUSTMENT",
        },
    }
}

fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::CardPresent => "CARD_PRESENT",
        Channel::CardNotPresent => "CARD_NOT_PRESENT",
        Channel::Ach => "ACH",
        Channel::Atm => "ATM",
        Channel::Transfer => "TRANSFER",
        Channel::Internal => "INTERNAL",
        Channel::Check => "CHECK",
    }
}

/// One transaction as FDX shows it in state `state`.
pub fn transaction<'a>(kind: AccountKind, tx: &'a Transaction, state: TxState) -> FdxTransaction<'a> {
    let (status, amount, posted) = match state {
        TxState::Pending { amount } => ("PENDING", amount, None),
        TxState::Posted { amount, at } => ("POSTED", amount, Some(fdx_timestamp(at))),
    };
    let is_deposit = matches!(kind, AccountKind::Checking | AccountKind::Savings | AccountKind::Cd);
    let mut fi_attributes = Vec::with_capacity(3);
    fi_attributes.push(FiAttribute { name: "categoryName", value: &tx.category });
    fi_attributes.push(FiAttribute { name: "channel", value: channel_name(tx.channel) });
    if tx.suspected_fraud {
        fi_attributes.push(FiAttribute { name: "suspectedFraud", value: "true" });
    }
    FdxTransaction {
        account_category: kind.fdx_category(),
        account_id: &tx.account_id,
        transaction_id: &tx.transaction_id,
        posted_timestamp: posted,
        transaction_timestamp: fdx_timestamp(tx.authorized_at),
        description: &tx.description,
        debit_credit_memo: match tx.direction {
            Direction::Debit => "DEBIT",
            Direction::Credit => "CREDIT",
        },
        // FDX: "Transaction category, preferably MCC or SIC"; subCategory names the standard.
        category: Some(match &tx.merchant {
            Some(m) => format!("{:04}", m.mcc),
            None => tx.category.clone(),
        }),
        sub_category: tx.merchant.as_ref().map(|_| "MCC"),
        status,
        amount: dollars(amount),
        transaction_type: transaction_type(kind, tx),
        payee: if is_deposit { tx.merchant.as_ref().map(|m| m.name.as_str()) } else { None },
        check_number: tx.check_number.filter(|_| kind != AccountKind::Mortgage && kind != AccountKind::AutoLoan),
        fi_attributes,
    }
}

/// `Statemententity`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FdxStatement {
    pub account_id: String,
    pub statement_id: String,
    pub statement_date: String,
    pub description: String,
    pub status: &'static str,
}

pub fn statement(s: &Statement) -> FdxStatement {
    FdxStatement {
        account_id: s.account_id.clone(),
        statement_id: s.statement_id.clone(),
        statement_date: fdx_date(s.period_end),
        description: format!("Statement for {} to {}", fdx_date(s.period_start), fdx_date(s.period_end)),
        status: "AVAILABLE",
    }
}

/// `PaymentNetworkSupportedbyAccount`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentNetwork {
    pub bank_id: String,
    pub identifier: String,
    pub identifier_type: &'static str,
    #[serde(rename = "type")]
    pub network: &'static str,
    pub transfer_in: bool,
    pub transfer_out: bool,
}

/// The networks an account can be paid into or from: deposits take ACH (checking also RTP) both ways; cards and
/// loans only receive payments by ACH; CDs take no transfers.
pub fn payment_networks(account: &Account) -> Vec<PaymentNetwork> {
    let network = |network, transfer_in, transfer_out| PaymentNetwork {
        bank_id: account.routing_number.clone(),
        identifier: account.account_number.clone(),
        identifier_type: "ACCOUNT_NUMBER",
        network,
        transfer_in,
        transfer_out,
    };
    match account.kind {
        AccountKind::Checking => vec![network("US_ACH", true, true), network("US_RTP", true, true)],
        AccountKind::Savings => vec![network("US_ACH", true, true)],
        AccountKind::CreditCard | AccountKind::Mortgage | AccountKind::AutoLoan => vec![network("US_ACH", true, false)],
        AccountKind::Cd => vec![],
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAddress {
    pub line1: String,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub country: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Debug, Serialize)]
pub struct TelephoneNumber {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub country: String,
    pub number: String,
}

#[derive(Debug, Serialize)]
pub struct CustomerName {
    pub first: String,
    pub last: String,
}

pub fn address(customer: &Customer) -> DeliveryAddress {
    let a = &customer.address;
    DeliveryAddress {
        line1: a.line1.clone(),
        city: a.city.clone(),
        region: a.region.clone(),
        postal_code: a.postal_code.clone(),
        country: a.country.clone(),
        kind: "HOME",
    }
}

/// E.164 `+1NXXNXXXXXX` split into FDX `country` and subscriber `number` (digits only).
pub fn telephone(customer: &Customer) -> TelephoneNumber {
    let digits: String = customer.phone.chars().filter(char::is_ascii_digit).collect();
    let (country, number) = match digits.strip_prefix('1') {
        Some(rest) if rest.len() == 10 => ("1".to_owned(), rest.to_owned()),
        _ => ("1".to_owned(), digits),
    };
    TelephoneNumber { kind: "CELL", country, number }
}

/// `AccountHolderentity` (the fields we fill).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountHolder {
    pub customer_id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub name: CustomerName,
    pub relationship: &'static str,
}

/// `AccountContactentity`.
#[derive(Debug, Serialize)]
pub struct AccountContact {
    pub holders: Vec<AccountHolder>,
    pub emails: Vec<String>,
    pub addresses: Vec<DeliveryAddress>,
    pub telephones: Vec<TelephoneNumber>,
}

pub fn account_contact(customer: &Customer, account: &Account) -> AccountContact {
    AccountContact {
        holders: vec![AccountHolder {
            customer_id: customer.customer_id.clone(),
            kind: "CONSUMER",
            name: CustomerName { first: customer.first_name.clone(), last: customer.last_name.clone() },
            relationship: if account.kind.is_liability() && account.kind != AccountKind::CreditCard {
                "PRIMARY_BORROWER"
            } else {
                "PRIMARY"
            },
        }],
        emails: vec![customer.email.clone()],
        addresses: vec![address(customer)],
        telephones: vec![telephone(customer)],
    }
}

/// `CustomertoAccountRelationshipentity`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerAccount {
    pub account_id: String,
    pub relationship: &'static str,
    pub links: Vec<HateoasLink>,
}

/// `Customerentity`: personal fields (name, date of birth) with CUSTOMER_PERSONAL, contact fields (emails,
/// addresses, telephones) with CUSTOMER_CONTACT.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FdxCustomer {
    pub customer_id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<CustomerName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_start_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emails: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<DeliveryAddress>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telephones: Option<Vec<TelephoneNumber>>,
    pub accounts: Vec<CustomerAccount>,
}
