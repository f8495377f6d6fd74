//! The bankgate consent gateway: the FAPI 2.0 authorization server, the consent flow, the consent-enforced FDX
//! resource proxy, bank event intake and delivery, and the person's dashboard.
//!
//! Being built (issue "Consent gateway: FAPI 2.0 authorization server and the consent flow"): so far the pure
//! consent rules ([`consent`]), the store ([`store`]), the protocol checks of the authorization server
//! ([`oauth`]) and its first HTTP endpoints ([`oauth::endpoints`]: metadata, JWKS, registration, PAR, token with
//! `client_credentials`, introspection, revocation), served by [`app::router`] from [`config::GatewayConfig`] over
//! one HTTPS listener ([`server::start`]; [`config_file`] reads that configuration from TOML for `bankgate gateway`), with errors shaped per boundary ([`error`]). It must never depend on
//! `mock_bank`: the gateway talks to banks over HTTPS only, exactly as a real aggregator would.

pub mod app;
pub mod banks;
pub mod config;
pub mod config_file;
pub mod consent;
pub mod error;
pub mod oauth;
pub mod pages;
pub mod server;
pub mod store;
