//! `mock_bank`: simulated large US-style banks for the bankgate sandbox.
//!
//! Each bank is a [`profile::BankProfile`] plus a deterministic, lazily generated ledger
//! ([`ledger::LedgerGenerator`]), served over three listeners: the FDX v6 API (HTTPS with mutual TLS and the bank's
//! access token), the bank's own OAuth login (HTTPS, HTML pages for a person), and an admin API for tests and QA
//! (HTTPS, admin token; it also serves the OpenAPI 3.1 document of both APIs, [`openapi`]). Only what changes the
//! generated base (injected transactions, the clock, bank-side consents and tokens, notification subscriptions) is
//! persisted, in an embedded SQLite file. Banks publish FDX notifications (fraud alerts, balance alerts, consent
//! revocations, planned outages) to their subscribers over mutual TLS, signed ([`events`]).
//!
//! This crate never depends on the gateway: the two talk HTTPS only, as a real aggregator and bank would.

pub mod api;
pub mod books;
pub mod clock;
pub mod events;
pub mod faults;
pub mod ledger;
pub mod login;
pub mod openapi;
pub mod profile;
pub mod server;
pub mod state;
pub mod store;
