//! FDX data clusters and the OAuth scope strings that ask for them (`fdx:<cluster>:read`).
//!
//! The one place where scope strings are parsed and formatted: [`parse_scopes`] and [`format_scopes`]. Cluster names
//! follow the FDX 6.2 `DataCluster` enum (`components.schemas.DataCluster`); the bank supports the seven clusters its
//! API serves. This module does no I/O and must never accept a scope it cannot honour: an unknown scope is an
//! `invalid_scope` error (RFC 6749 §4.1.2.1), never silently dropped.

use serde::{Deserialize, Serialize};

/// An FDX data cluster the bank can share. Serialized with its FDX name (`ACCOUNT_BASIC`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DataCluster {
    /// Account descriptor: id, type, nickname, masked number.
    AccountBasic,
    /// Balances, rates, limits and other account details.
    AccountDetailed,
    Transactions,
    Statements,
    /// Full account and routing numbers (FDX 6.1 replaced `ACCOUNT_PAYMENTS` with `PAYMENT_SUPPORT`).
    PaymentSupport,
    /// Name, email, phone, address.
    CustomerContact,
    /// Personal details such as date of birth.
    CustomerPersonal,
}

impl DataCluster {
    /// Every cluster, in a fixed order.
    pub const ALL: [DataCluster; 7] = [
        Self::AccountBasic,
        Self::AccountDetailed,
        Self::Transactions,
        Self::Statements,
        Self::PaymentSupport,
        Self::CustomerContact,
        Self::CustomerPersonal,
    ];

    /// The OAuth scope asking for this cluster.
    pub fn scope(self) -> &'static str {
        match self {
            Self::AccountBasic => "fdx:accountbasic:read",
            Self::AccountDetailed => "fdx:accountdetailed:read",
            Self::Transactions => "fdx:transactions:read",
            Self::Statements => "fdx:statements:read",
            Self::PaymentSupport => "fdx:paymentsupport:read",
            Self::CustomerContact => "fdx:customercontact:read",
            Self::CustomerPersonal => "fdx:customerpersonal:read",
        }
    }

    /// The FDX `DataCluster` enum value.
    pub fn fdx_name(self) -> &'static str {
        match self {
            Self::AccountBasic => "ACCOUNT_BASIC",
            Self::AccountDetailed => "ACCOUNT_DETAILED",
            Self::Transactions => "TRANSACTIONS",
            Self::Statements => "STATEMENTS",
            Self::PaymentSupport => "PAYMENT_SUPPORT",
            Self::CustomerContact => "CUSTOMER_CONTACT",
            Self::CustomerPersonal => "CUSTOMER_PERSONAL",
        }
    }

    /// What the cluster means, in words a person understands (the account-selection page shows it).
    pub fn plain_words(self) -> &'static str {
        match self {
            Self::AccountBasic => "Basic account information: account name, type and the last digits of its number",
            Self::AccountDetailed => "Balances and account details such as interest rates and credit limits",
            Self::Transactions => "Your transactions: amounts, dates, merchants and descriptions",
            Self::Statements => "Your monthly account statements",
            Self::PaymentSupport => "Full account and routing numbers, so payments can be made from the account",
            Self::CustomerContact => "Your contact information: name, email, phone number and address",
            Self::CustomerPersonal => "Personal information such as your date of birth",
        }
    }
}

/// Why a scope string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("no scope requested")]
    Empty,
    #[error("unknown scope `{0}`")]
    Unknown(String),
}

/// Longest scope parameter accepted (seven clusters fit many times over).
const MAX_SCOPE_LEN: usize = 1024;

/// Parse a space-separated scope parameter (RFC 6749 §3.3) into clusters, sorted and without duplicates.
pub fn parse_scopes(scope: &str) -> Result<Vec<DataCluster>, ScopeError> {
    if scope.len() > MAX_SCOPE_LEN {
        return Err(ScopeError::Unknown("(scope parameter too long)".into()));
    }
    let mut clusters = Vec::new();
    for token in scope.split(' ').filter(|t| !t.is_empty()) {
        let cluster = DataCluster::ALL
            .into_iter()
            .find(|c| c.scope() == token)
            .ok_or_else(|| ScopeError::Unknown(token.chars().take(64).collect()))?;
        clusters.push(cluster);
    }
    clusters.sort_unstable();
    clusters.dedup();
    if clusters.is_empty() {
        return Err(ScopeError::Empty);
    }
    Ok(clusters)
}

/// Format clusters as a space-separated scope parameter (the inverse of [`parse_scopes`]).
pub fn format_scopes(clusters: &[DataCluster]) -> String {
    let mut sorted = clusters.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    sorted.iter().map(|c| c.scope()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip() {
        let all = format_scopes(&DataCluster::ALL);
        assert_eq!(parse_scopes(&all).unwrap(), DataCluster::ALL.to_vec());
        assert_eq!(
            parse_scopes("fdx:transactions:read  fdx:accountbasic:read fdx:transactions:read").unwrap(),
            vec![DataCluster::AccountBasic, DataCluster::Transactions]
        );
    }

    #[test]
    fn unknown_or_empty_scopes_are_refused() {
        assert_eq!(parse_scopes(""), Err(ScopeError::Empty));
        assert_eq!(parse_scopes("   "), Err(ScopeError::Empty));
        assert_eq!(
            parse_scopes("fdx:accountbasic:read fdx:investments:read"),
            Err(ScopeError::Unknown("fdx:investments:read".into()))
        );
        assert!(parse_scopes(&"a".repeat(2000)).is_err());
    }

    #[test]
    fn clusters_serialize_with_fdx_names() {
        for cluster in DataCluster::ALL {
            assert_eq!(serde_json::to_value(cluster).unwrap(), serde_json::json!(cluster.fdx_name()));
        }
    }
}
