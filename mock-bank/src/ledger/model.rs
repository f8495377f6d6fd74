//! The ledger's data model: customers, accounts, transactions and statements as the generator produces them.
//!
//! A generated [`Transaction`] is a *lifecycle*, not a snapshot: it is authorized at one instant and then either
//! posts (possibly with another amount: tips, fuel holds) or drops. [`Transaction::state_at`] turns it into what a
//! bank would show at a given simulated instant, so moving the clock posts pending transactions without mutating
//! anything. Money is always `i64` minor units (cents, USD); never floats.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

/// Money in minor units (US cents).
pub type Cents = i64;

/// Which of the sandbox's test users a customer is (README lists them). Regular generated customers are `Regular`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Persona {
    Regular,
    /// `user_good`: logs in with `pass_good`, a typical household.
    Good,
    /// `user_mfa`: needs the one-time code after the password.
    Mfa,
    /// `user_locked`: the login page says the account is locked.
    Locked,
    /// `user_login_error` (and `login_error_<oauth error>`): the login fails with the chosen OAuth error.
    LoginError,
    /// `user_data_error` (and `data_error_<fdx code>`): logs in, but every data call fails with the chosen FDX error.
    DataError,
    /// `user_many_accounts`: a dozen accounts of every kind.
    ManyAccounts,
    /// `user_thin`: a new customer with a few weeks of history.
    ThinHistory,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub line1: String,
    pub city: String,
    /// Two-letter US state code.
    pub region: String,
    pub postal_code: String,
    pub country: String,
}

/// A bank customer (an FDX `Customer`). Cheap to produce: no transactions involved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// Index of the customer inside its bank, `0..customers`.
    pub index: u32,
    /// Opaque FDX `customerId`.
    pub customer_id: String,
    /// Login name on the bank's login page.
    pub username: String,
    pub persona: Persona,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    /// E.164-ish US number, `+1NXXNXXXXXX`.
    pub phone: String,
    pub address: Address,
    pub date_of_birth: Date,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccountKind {
    Checking,
    Savings,
    Cd,
    CreditCard,
    Mortgage,
    AutoLoan,
}

impl AccountKind {
    /// FDX `accountCategory`.
    pub fn fdx_category(self) -> &'static str {
        match self {
            Self::Checking | Self::Savings | Self::Cd => "DEPOSIT_ACCOUNT",
            Self::CreditCard => "LOC_ACCOUNT",
            Self::Mortgage | Self::AutoLoan => "LOAN_ACCOUNT",
        }
    }
    /// FDX `accountType`.
    pub fn fdx_type(self) -> &'static str {
        match self {
            Self::Checking => "CHECKING",
            Self::Savings => "SAVINGS",
            Self::Cd => "CD",
            Self::CreditCard => "CREDITCARD",
            Self::Mortgage => "MORTGAGE",
            Self::AutoLoan => "AUTOLOAN",
        }
    }
    /// Whether a positive balance is money the customer owes (cards and loans) rather than money they hold.
    pub fn is_liability(self) -> bool {
        matches!(self, Self::CreditCard | Self::Mortgage | Self::AutoLoan)
    }
}

/// An account as the bank describes it (no balances: those depend on the clock, see `AccountLedger`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Opaque FDX `accountId`; `ledger::ids` encodes and decodes it.
    pub account_id: String,
    pub customer_index: u32,
    /// Position of the account among its customer's accounts.
    pub slot: u8,
    pub kind: AccountKind,
    /// Marketing name, e.g. "Everyday Checking".
    pub product_name: String,
    /// Customer-facing nickname, e.g. "Checking ...4821".
    pub nickname: String,
    /// Full account number (8-12 digits; a 16-digit Luhn-valid PAN for cards).
    pub account_number: String,
    pub routing_number: String,
    pub opened: Date,
    pub currency: String,
    /// APY for deposits, APR for cards and loans, in basis points.
    pub interest_rate_bp: u32,
    /// Credit limit (cards).
    pub credit_limit: Option<Cents>,
    /// Original principal (loans, CDs).
    pub original_principal: Option<Cents>,
    /// Maturity (CDs, loans).
    pub maturity: Option<Date>,
    /// Fixed monthly payment (loans).
    pub monthly_payment: Option<Cents>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Direction {
    /// Money out of a deposit account, or a charge that raises a card or loan balance.
    Debit,
    /// Money into a deposit account, or a payment/refund that lowers a card or loan balance.
    Credit,
}

/// What a transaction is, for tests, categories and FDX `transactionType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxKind {
    Payroll,
    Rent,
    MortgagePayment,
    LoanPayment,
    Utility,
    Grocery,
    Fuel,
    Restaurant,
    Subscription,
    Shopping,
    Zelle,
    Venmo,
    Atm,
    Check,
    Interest,
    Fee,
    /// Payment from checking to a card (on the checking side) or received by the card (on the card side).
    CardPayment,
    /// Transfer between a customer's own accounts (checking <-> savings).
    Transfer,
    Refund,
    /// Injected through the admin API.
    Injected,
}

/// How a card transaction was made (for fraud rules and the sharing policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    CardPresent,
    CardNotPresent,
    Ach,
    Atm,
    Transfer,
    Internal,
    Check,
}

/// Where a card purchase happened; `code` is the 4-digit ISO 18245 merchant category code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merchant {
    pub name: String,
    pub mcc: u16,
    pub city: String,
    pub region: String,
}

/// What happens to an authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Settlement {
    /// Posts at `at` for `amount` (which may differ from the authorized amount: tips, fuel).
    Posts { at: OffsetDateTime, amount: Cents },
    /// The hold is released at `at` without posting.
    Drops { at: OffsetDateTime },
}

/// One generated transaction lifecycle. Amounts are positive; `direction` gives the sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// Opaque FDX `transactionId`, unique within the bank.
    pub transaction_id: String,
    pub account_id: String,
    pub kind: TxKind,
    pub direction: Direction,
    /// The descriptor as the bank prints it ("SQ *BLUE BOTTLE COF SAN FRANCISCO CA").
    pub description: String,
    pub merchant: Option<Merchant>,
    pub channel: Channel,
    /// When the transaction happened (FDX `transactionTimestamp`).
    pub authorized_at: OffsetDateTime,
    pub authorized_amount: Cents,
    pub settlement: Settlement,
    /// FDX `category` text, e.g. "Groceries".
    pub category: String,
    /// The platform a purchase was made through, when it was (e.g. "chatapp"): the sharing policy of one bank refuses
    /// transactions made outside the requesting platform.
    pub platform: Option<String>,
    /// Check number for checks.
    pub check_number: Option<u32>,
    /// Marked as suspected fraud (generated at the real-world rate or raised through the admin API).
    pub suspected_fraud: bool,
}

/// A transaction as the bank shows it at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxState {
    Pending { amount: Cents },
    Posted { amount: Cents, at: OffsetDateTime },
}

impl Transaction {
    /// The transaction as seen at `now`: `None` before it happened or after its hold dropped.
    pub fn state_at(&self, now: OffsetDateTime) -> Option<TxState> {
        if self.authorized_at > now {
            return None;
        }
        match self.settlement {
            Settlement::Posts { at, amount } if at <= now => Some(TxState::Posted { amount, at }),
            Settlement::Drops { at } if at <= now => None,
            _ => Some(TxState::Pending { amount: self.authorized_amount }),
        }
    }

    /// Signed effect on the account's balance as the bank keeps it: for deposit accounts positive means more money;
    /// for liabilities positive means more owed.
    pub fn signed(&self, amount: Cents, liability: bool) -> Cents {
        match (self.direction, liability) {
            (Direction::Credit, false) | (Direction::Debit, true) => amount,
            (Direction::Debit, false) | (Direction::Credit, true) => -amount,
        }
    }
}

/// A monthly statement (deposit accounts: calendar month; cards: the card's billing cycle).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    pub statement_id: String,
    pub account_id: String,
    /// First day of the period.
    pub period_start: Date,
    /// Last day of the period (the closing date); the statement exists from the day after.
    pub period_end: Date,
    /// Balance at the start of `period_start` (posted transactions only).
    pub opening_balance: Cents,
    /// Balance at the end of `period_end`: `opening_balance` plus every transaction posted inside the period.
    pub closing_balance: Cents,
    /// Cards: the minimum payment due and its due date.
    pub minimum_due: Option<Cents>,
    pub due_date: Option<Date>,
}

/// Balances at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balances {
    /// Posted balance (for liabilities: the amount owed).
    pub current: Cents,
    /// Deposits: current minus pending debits. Cards: credit limit minus balance minus pending charges.
    pub available: Cents,
    /// Sum of pending debit holds.
    pub pending_debits: Cents,
}

/// One account with its whole generated history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountLedger {
    pub account: Account,
    /// Balance at the start of the generated history (before the first transaction).
    pub opening_balance: Cents,
    /// Every lifecycle, sorted by `authorized_at` then `transaction_id`.
    pub transactions: Vec<Transaction>,
    pub statements: Vec<Statement>,
}

impl AccountLedger {
    /// Balances at `now`: current = opening + every posted amount; available = current - pending holds
    /// (cards: limit - current - pending).
    pub fn balances_at(&self, now: OffsetDateTime) -> Balances {
        let liability = self.account.kind.is_liability();
        let mut current = self.opening_balance;
        let mut pending_debits = 0;
        for tx in &self.transactions {
            match tx.state_at(now) {
                Some(TxState::Posted { amount, .. }) => current += tx.signed(amount, liability),
                Some(TxState::Pending { amount }) if tx.direction == Direction::Debit => pending_debits += amount,
                _ => {}
            }
        }
        let available = match (self.account.kind, self.account.credit_limit) {
            (AccountKind::CreditCard, Some(limit)) => limit - current - pending_debits,
            (kind, _) if kind.is_liability() => 0,
            _ => current - pending_debits,
        };
        Balances { current, available, pending_debits }
    }
}

/// A customer with all of their accounts generated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerLedger {
    pub customer: Customer,
    pub accounts: Vec<AccountLedger>,
}
