//! The bankgate consent gateway: the FAPI 2.0 authorization server, the consent flow, the consent-enforced FDX
//! resource proxy, bank event intake and delivery, and the person's dashboard.
//!
//! Being built (issue "Consent gateway: FAPI 2.0 authorization server and the consent flow"): so far the pure
//! consent rules ([`consent`]), the store ([`store`]) and the protocol checks of the authorization server
//! ([`oauth`]). It must never depend on `mock_bank`: the gateway talks to banks over HTTPS only, exactly as a real
//! aggregator would.

pub mod consent;
pub mod oauth;
pub mod store;
