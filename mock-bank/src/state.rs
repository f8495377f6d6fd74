//! The state one running bank shares between its three listeners (API, login, admin).
//!
//! Built once by `server::start`; handlers receive it as `State<Arc<BankState>>`. Nothing here is global: two banks
//! in one process have two states.

use crate::{
    books::Books, clock::SimClock, events::Notifier, faults::FaultBook, ledger::LedgerGenerator, login::AuthServer,
    profile::BankProfile, store::BankStore,
};
use std::sync::Arc;

/// A secret compared in constant time and never printed.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret itself, for the few places that must hand it out (endpoints.json, the CLI banner).
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Constant-time comparison with a presented value.
    pub fn matches(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.0.len() == presented.len() && bool::from(self.0.as_bytes().ct_eq(presented.as_bytes()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<hidden>")
    }
}

/// Public base URLs of one bank's listeners (no trailing slash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BankUrls {
    /// FDX API and OAuth token endpoint (mutual TLS).
    pub api: String,
    /// The bank's login pages and OAuth authorize endpoint; also the bank's OAuth issuer.
    pub login: String,
    /// Admin API (admin token).
    pub admin: String,
}

#[derive(Debug)]
pub struct BankState {
    pub profile: Arc<BankProfile>,
    pub clock: Arc<SimClock>,
    /// The pure generator (customers, accounts, histories); `books` adds caching and persisted overlays on top.
    pub ledger: LedgerGenerator,
    pub store: BankStore,
    pub books: Books,
    pub auth: AuthServer,
    pub faults: FaultBook,
    pub admin_token: Secret,
    pub urls: BankUrls,
    /// Notification subscriptions and the outbox delivering to them.
    pub notifier: Notifier,
}
