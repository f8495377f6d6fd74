//! The authorization server's protocol checks (FAPI 2.0 Security Profile): the server's own signing keys and JWKS
//! ([`keys`]), client authentication ([`client_auth`]: RFC 7523 `private_key_jwt`, RFC 8705 `tls_client_auth`),
//! DPoP proofs ([`dpop`], RFC 9449), PKCE ([`pkce`], RFC 7636) and RFC 9068 JWT access tokens ([`access_token`]).
//!
//! Everything here is pure: no I/O, no wall clock (every check takes `now`), no global state. The only outside
//! dependency is the `jti` replay cache, a trait ([`replay::ReplayCache`]) the store implements; an in-memory
//! implementation lives in [`replay`] for tests and single-process use. The HTTP endpoints (token, PAR, resource
//! guard) call these functions and turn their errors into RFC 6749 `error`/`error_description` bodies via
//! [`error::OAuthError`]. The one exception to "no I/O" is [`jwks_fetch`], which fetches the key sets of clients
//! registered with a `jwks_uri` (bounded, cached, behind the endpoints). Nothing in here may ever log or `Debug`-print a private key, a client assertion or an
//! access token.

pub mod access_token;
pub mod client_auth;
pub mod dpop;
pub mod endpoints;
pub mod error;
pub mod jwks_fetch;
pub mod jws;
pub mod keys;
pub mod pkce;
pub mod replay;

pub use error::{OAuthError, OAuthErrorCode};
