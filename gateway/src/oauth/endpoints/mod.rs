//! The authorization server's HTTP endpoints: metadata and JWKS ([`metadata`], RFC 8414 / RFC 7517), dynamic
//! client registration and management ([`register`], RFC 7591 / RFC 7592), the token endpoint ([`token`]),
//! pushed authorization requests ([`par`], RFC 9126), introspection ([`introspect`], RFC 7662) and revocation
//! ([`revoke`], RFC 7009), the check of an access token presented to a protected endpoint ([`presented`]), the sandbox-only consent shortcut ([`sandbox`]); plus the shared pieces: strict form parsing ([`form`]) and client authentication
//! dispatch ([`authn`]).
//!
//! Handlers are thin: they parse, call the pure checks in [`crate::oauth`] and [`crate::consent`], and use the
//! store. They must never answer bad input with a 500, never echo a secret in an error, and never read the wall
//! clock (time comes from the state's [`Clock`](crate::config::Clock)).

pub mod authn;
pub mod form;
pub mod grants;
pub mod introspect;
pub mod metadata;
pub mod par;
pub mod presented;
pub mod register;
pub mod revoke;
pub mod sandbox;
pub mod token;

pub const JWKS_PATH: &str = "/jwks";
pub const REGISTER_PATH: &str = "/register";
pub const TOKEN_PATH: &str = "/token";
pub const PAR_PATH: &str = "/par";
pub const INTROSPECT_PATH: &str = "/introspect";
pub const REVOKE_PATH: &str = "/revoke";
/// Where the (next slice's) authorization endpoint lives; announced so PAR clients know where to send the person.
pub const AUTHORIZE_PATH: &str = "/authorize";

/// Random URL-safe text of `bytes` random bytes (client ids, secrets, registration tokens, request_uris).
pub fn random_token(bytes: usize) -> Result<String, crate::error::OAuthFailure> {
    use base64::Engine as _;
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| crate::error::OAuthFailure::internal(&e))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}
