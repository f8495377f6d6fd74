//! The gateway as each bank's OAuth 2.0 client and FDX caller, over mutual TLS (DESIGN.md flow 2).
//!
//! [`BankDirectory`] lists the banks the gateway knows; [`BankClient`] (one per bank, shared) sends the person to the
//! bank's authorization endpoint with PKCE S256 (RFC 7636), checks the redirect back (state, RFC 9207 `iss`),
//! exchanges, refreshes and revokes bank tokens authenticating with the gateway's client certificate (RFC 8705
//! §2.1 `tls_client_auth`), and reads FDX resources with [`BankClient::get_json`], behind a per-bank [`CircuitBreaker`].
//! [`notifications`] subscribes at the bank, per consent, to the FDX notifications the bank then pushes to the
//! gateway (issue 5).
//!
//! This module must never trust a CA other than the one it is given, follow a redirect from a bank, log or print a
//! bank token, code or PKCE verifier (their `Debug` prints `<hidden>`), or depend on `mock_bank`.

mod breaker;
mod client;
mod directory;
mod fdx;
pub mod notifications;
mod reads;
mod secret;
mod transport;

pub use breaker::{BreakerSettings, CircuitBreaker};
pub use client::{
    BankClient, BankClientSettings, BankOAuthError, BankTimeouts, BankTokenKind, BankTokenSet, CallbackError,
    SANDBOX_LOGIN_GRANT, SandboxLogin,
};
pub use directory::{BankDirectory, BankEntry, DirectoryError, SandboxEndpoints};
pub(crate) use fdx::is_fdx_path;
pub use fdx::{BankCallError, BankResponse, RawBankResponse};
pub use secret::{BankSecret, PkceVerifier};
