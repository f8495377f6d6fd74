//! The bankgate consent gateway: the FAPI 2.0 authorization server, the consent flow, the consent-enforced FDX
//! resource proxy, bank event intake and delivery, and the person's dashboard.
//!
//! The parts: the pure consent rules ([`consent`]); the store ([`store`]); the authorization server's protocol
//! checks ([`oauth`]) and HTTP endpoints ([`oauth::endpoints`]: metadata, JWKS, registration, PAR, token,
//! introspection, revocation, grant and consent management, the sandbox shortcut); the consent and confirmation
//! pages ([`pages`]); the gateway as each bank's OAuth client and FDX caller ([`banks`]); the consent-enforced FDX
//! resource API ([`fdx`]); bank notifications delivered to apps as signed webhooks or by polling ([`events`]);
//! revocation from every side with its ordering guarantee ([`revocation`]). [`app::router`]
//! serves them from [`config::GatewayConfig`] over one HTTPS listener ([`server::start`]; [`config_file`] reads that
//! configuration from TOML for `bankgate gateway`), with errors shaped per boundary ([`error`], [`fdx::error`]) and
//! described by an OpenAPI 3.1 document ([`openapi`], `/openapi.json` and `/docs`). It
//! must never depend on `mock_bank`: the gateway talks to banks over HTTPS only, exactly as a real aggregator would.

pub mod app;
pub mod banks;
pub mod config;
pub mod config_file;
pub mod consent;
pub mod error;
pub mod events;
pub mod fdx;
pub mod oauth;
pub mod openapi;
pub mod pages;
pub mod revocation;
pub mod server;
pub mod store;
