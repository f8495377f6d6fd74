//! FDX data clusters (FDX 6.2 `DataCluster`): the unit a person consents to share, its OAuth scope string and the
//! plain words a consent page shows for it.
//!
//! This module only names clusters. It must never decide which fields of a bank response belong to a cluster (that
//! is the resource proxy's filter) and must never accept a cluster name FDX 6.2 does not define.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A named cluster of data elements, exactly as FDX 6.2 `components.schemas.DataCluster` enumerates them.
///
/// `ACCOUNT_PAYMENTS` is deprecated by FDX 6.1 in favour of `PAYMENT_SUPPORT` (removed in FDX 7); it is still
/// accepted because FDX 6.2 still lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DataCluster {
    AccountBasic,
    AccountDetailed,
    AccountPayments,
    Bills,
    CustomerContact,
    CustomerPersonal,
    Images,
    Investments,
    Notifications,
    PaymentSupport,
    Rewards,
    Statements,
    Tax,
    Transactions,
}

/// A string that names no FDX 6.2 data cluster (neither as `ACCOUNT_BASIC` nor as `fdx:accountbasic:read`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown FDX data cluster {0:?}")]
pub struct UnknownCluster(pub String);

impl DataCluster {
    /// Every cluster, in FDX 6.2 order.
    pub const ALL: [DataCluster; 14] = [
        Self::AccountBasic,
        Self::AccountDetailed,
        Self::AccountPayments,
        Self::Bills,
        Self::CustomerContact,
        Self::CustomerPersonal,
        Self::Images,
        Self::Investments,
        Self::Notifications,
        Self::PaymentSupport,
        Self::Rewards,
        Self::Statements,
        Self::Tax,
        Self::Transactions,
    ];

    /// The FDX enum value, e.g. `ACCOUNT_BASIC`.
    pub fn as_fdx(self) -> &'static str {
        match self {
            Self::AccountBasic => "ACCOUNT_BASIC",
            Self::AccountDetailed => "ACCOUNT_DETAILED",
            Self::AccountPayments => "ACCOUNT_PAYMENTS",
            Self::Bills => "BILLS",
            Self::CustomerContact => "CUSTOMER_CONTACT",
            Self::CustomerPersonal => "CUSTOMER_PERSONAL",
            Self::Images => "IMAGES",
            Self::Investments => "INVESTMENTS",
            Self::Notifications => "NOTIFICATIONS",
            Self::PaymentSupport => "PAYMENT_SUPPORT",
            Self::Rewards => "REWARDS",
            Self::Statements => "STATEMENTS",
            Self::Tax => "TAX",
            Self::Transactions => "TRANSACTIONS",
        }
    }

    /// The OAuth scope `fdx:<cluster, lowercase, no underscores>:read` (the strings the mock banks accept), except
    /// `NOTIFICATIONS`, whose scope is `fdx:notifications:subscribe` (issue 5: subscribing is what it allows).
    pub fn scope(self) -> &'static str {
        match self {
            Self::AccountBasic => "fdx:accountbasic:read",
            Self::AccountDetailed => "fdx:accountdetailed:read",
            Self::AccountPayments => "fdx:accountpayments:read",
            Self::Bills => "fdx:bills:read",
            Self::CustomerContact => "fdx:customercontact:read",
            Self::CustomerPersonal => "fdx:customerpersonal:read",
            Self::Images => "fdx:images:read",
            Self::Investments => "fdx:investments:read",
            Self::Notifications => "fdx:notifications:subscribe",
            Self::PaymentSupport => "fdx:paymentsupport:read",
            Self::Rewards => "fdx:rewards:read",
            Self::Statements => "fdx:statements:read",
            Self::Tax => "fdx:tax:read",
            Self::Transactions => "fdx:transactions:read",
        }
    }

    /// The cluster named by an OAuth scope string, if any. The earlier spelling `fdx:notifications:read` is still
    /// accepted for `NOTIFICATIONS`.
    pub fn from_scope(scope: &str) -> Option<DataCluster> {
        if scope == "fdx:notifications:read" {
            return Some(Self::Notifications);
        }
        Self::ALL.into_iter().find(|c| c.scope() == scope)
    }

    /// What sharing this cluster means, in plain words for a consent page ("… your bank will share …").
    pub fn description(self) -> &'static str {
        match self {
            Self::AccountBasic => "Basic account details: account type, nickname, masked number and status",
            Self::AccountDetailed => "Account balances and details such as interest rates and credit limits",
            Self::AccountPayments => "Full account and routing numbers so payments can be made (older FDX name)",
            Self::Bills => "Bills you owe and bill payments you have scheduled",
            Self::CustomerContact => "Your name, email address, phone number and mailing address",
            Self::CustomerPersonal => "Personal details such as your date of birth and tax identification number",
            Self::Images => "Images of checks and other documents attached to transactions",
            Self::Investments => "Investment holdings, positions and their values",
            Self::Notifications => "Notices your bank sends about your accounts, such as fraud or balance alerts",
            Self::PaymentSupport => "Full account and routing numbers so payments can be made",
            Self::Rewards => "Rewards programs, points and their balances",
            Self::Statements => "Your account statements (PDF documents)",
            Self::Tax => "Tax forms issued by your bank",
            Self::Transactions => "Transactions: amounts, dates, merchants and descriptions",
        }
    }
}

impl fmt::Display for DataCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_fdx())
    }
}

impl FromStr for DataCluster {
    type Err = UnknownCluster;

    /// Accepts the FDX enum value (`ACCOUNT_BASIC`); case-sensitive, as FDX enums are.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|c| c.as_fdx() == s).ok_or_else(|| UnknownCluster(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_match_the_mock_banks_spelling() {
        assert_eq!(DataCluster::AccountBasic.scope(), "fdx:accountbasic:read");
        assert_eq!(DataCluster::Transactions.scope(), "fdx:transactions:read");
        assert_eq!(DataCluster::PaymentSupport.scope(), "fdx:paymentsupport:read");
        assert_eq!(DataCluster::Notifications.scope(), "fdx:notifications:subscribe");
        assert_eq!(DataCluster::from_scope("fdx:notifications:read"), Some(DataCluster::Notifications));
        for c in DataCluster::ALL {
            let verb = if c == DataCluster::Notifications { "subscribe" } else { "read" };
            let expected = format!("fdx:{}:{verb}", c.as_fdx().to_lowercase().replace('_', ""));
            assert_eq!(c.scope(), expected);
            assert_eq!(DataCluster::from_scope(c.scope()), Some(c));
            assert_eq!(c.as_fdx().parse::<DataCluster>(), Ok(c));
            assert_eq!(serde_json::to_value(c).unwrap(), serde_json::Value::String(c.as_fdx().into()));
            assert!(!c.description().is_empty());
        }
    }

    #[test]
    fn unknown_names_are_refused() {
        assert!("account_basic".parse::<DataCluster>().is_err());
        assert!("BALANCES".parse::<DataCluster>().is_err());
        assert_eq!(DataCluster::from_scope("fdx:balances:read"), None);
    }
}
