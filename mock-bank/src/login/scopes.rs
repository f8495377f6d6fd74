//! FDX data clusters and the OAuth scope strings that ask for them (`fdx:<cluster>:read`).
//!
//! The one place where scope strings are parsed and formatted: [`parse_scopes`], [`parse_requested`] and
//! [`format_scopes`]. Cluster names follow the FDX 6.2 `DataCluster` enum (`components.schemas.DataCluster`); the
//! bank supports the seven clusters its API serves.
//!
//! One more scope is understood on the authorization request and the sandbox-login grant: [`OPENID`] alone
//! ([`RequestedScope::SignIn`]) asks the bank only to sign the person in and name them to the client with a pairwise
//! `sub` (OpenID Connect Core 1.0 §8.1), sharing no data. It cannot be combined with `fdx:*` scopes: a request that
//! mixes them is refused with `invalid_scope` ([`ScopeError::OpenidWithData`]) rather than having one part ignored,
//! so a client always gets exactly the kind of authorization it asked for.
//!
//! This module does no I/O and must never accept a scope it cannot honour: an unknown scope is an `invalid_scope`
//! error (RFC 6749 §4.1.2.1), never silently dropped.

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
    /// `openid` (sign in only) together with data scopes.
    #[error("`openid` signs the person in without sharing data and cannot be combined with fdx scopes")]
    OpenidWithData,
}

/// The scope of a sign-in that shares no data.
pub const OPENID: &str = "openid";

/// What an authorization request (or the sandbox-login grant) asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestedScope {
    /// `scope=openid`: sign the person in; no data, no consent.
    SignIn,
    /// `fdx:<cluster>:read` scopes: a data-sharing consent on these clusters (sorted, no duplicates).
    Data(Vec<DataCluster>),
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

/// Parse the scope parameter of an authorization request (RFC 6749 §3.3): `openid` alone is a sign-in, anything
/// else must be data scopes ([`parse_scopes`]). `openid` next to data scopes is [`ScopeError::OpenidWithData`].
pub fn parse_requested(scope: &str) -> Result<RequestedScope, ScopeError> {
    if scope.len() > MAX_SCOPE_LEN || !scope.split(' ').any(|t| t == OPENID) {
        return parse_scopes(scope).map(RequestedScope::Data);
    }
    let others: Vec<&str> = scope.split(' ').filter(|t| !t.is_empty() && *t != OPENID).collect();
    if others.is_empty() {
        return Ok(RequestedScope::SignIn);
    }
    // An unknown scope is reported as such; known data scopes next to `openid` are the mix this bank refuses.
    match others.iter().find(|t| !DataCluster::ALL.iter().any(|c| c.scope() == **t)) {
        Some(unknown) => Err(ScopeError::Unknown(unknown.chars().take(64).collect())),
        None => Err(ScopeError::OpenidWithData),
    }
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
    fn openid_alone_is_a_sign_in_and_never_mixes_with_data_scopes() {
        assert_eq!(parse_requested("openid"), Ok(RequestedScope::SignIn));
        assert_eq!(parse_requested(" openid  openid "), Ok(RequestedScope::SignIn));
        assert_eq!(parse_requested("fdx:transactions:read"), Ok(RequestedScope::Data(vec![DataCluster::Transactions])));
        assert_eq!(parse_requested("openid fdx:accountbasic:read"), Err(ScopeError::OpenidWithData));
        assert_eq!(parse_requested("fdx:accountbasic:read openid"), Err(ScopeError::OpenidWithData));
        assert_eq!(parse_requested("openid profile"), Err(ScopeError::Unknown("profile".into())));
        assert_eq!(parse_requested(""), Err(ScopeError::Empty));
        assert!(parse_requested(&format!("openid {}", "a".repeat(2000))).is_err());
        // The data-only parser (refresh requests) knows no `openid`.
        assert_eq!(parse_scopes("openid"), Err(ScopeError::Unknown("openid".into())));
    }

    #[test]
    fn clusters_serialize_with_fdx_names() {
        for cluster in DataCluster::ALL {
            assert_eq!(serde_json::to_value(cluster).unwrap(), serde_json::json!(cluster.fdx_name()));
        }
    }
}
