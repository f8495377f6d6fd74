//! [`BankRegistry`]: the banks a person can choose on the consent page, each with the [`BankClient`] the gateway
//! uses as that bank's OAuth client. Empty by default (then the consent page says no bank is available).
//!
//! This module must never hold anything but shared, immutable clients: no per-request state.

use std::collections::BTreeMap;

use crate::banks::BankClient;

/// Bank clients by bank id, in id order (the order of the radio list).
#[derive(Debug, Default, Clone)]
pub struct BankRegistry {
    clients: BTreeMap<String, BankClient>,
}

impl BankRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the client of `client.bank().id()`.
    pub fn with(mut self, client: BankClient) -> Self {
        self.clients.insert(client.bank().id().to_owned(), client);
        self
    }

    pub fn get(&self, bank_id: &str) -> Option<&BankClient> {
        self.clients.get(bank_id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &BankClient> {
        self.clients.values()
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }
}
