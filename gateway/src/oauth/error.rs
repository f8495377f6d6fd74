//! The one wire shape of errors on OAuth endpoints: RFC 6749 §5.2 `{"error", "error_description"}`, with the
//! `error` codes of RFC 6749, RFC 9449 (`invalid_dpop_proof`, `use_dpop_nonce`) and RFC 6750 (`invalid_token`).
//!
//! The protocol modules keep their own detailed error enums (so tests and logs can tell exactly which check
//! failed) and convert into [`OAuthError`] at the boundary. A description must never contain a secret (no
//! assertion, token, key material or verifier), only which rule was broken.

use std::fmt;

use serde::Serialize;

/// An RFC 6749 `error` code (plus the extension codes of RFC 9449 and RFC 6750 that our checks produce).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuthErrorCode {
    /// RFC 6749 §5.2: the request is missing a parameter or is otherwise malformed.
    InvalidRequest,
    /// RFC 6749 §5.2: client authentication failed (HTTP 401 at the token endpoint).
    InvalidClient,
    /// RFC 6749 §5.2: the grant (code, refresh token, PKCE verifier) is invalid.
    InvalidGrant,
    /// RFC 9449 §5 / §7.1: the DPoP proof is invalid.
    InvalidDpopProof,
    /// RFC 9449 §8 / §9: the server requires a (fresh) DPoP nonce; the response carries `DPoP-Nonce`.
    UseDpopNonce,
    /// RFC 6750 §3.1: the access token is expired, revoked, malformed or otherwise invalid.
    InvalidToken,
    /// RFC 6749 §4.1.2.1: an internal failure (never caused by input).
    ServerError,
}

impl OAuthErrorCode {
    /// The registered `error` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::InvalidToken => "invalid_token",
            Self::ServerError => "server_error",
        }
    }

    /// The HTTP status an endpoint answers with for this code (RFC 6749 §5.2, RFC 9449 §7.1, RFC 6750 §3.1).
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::ServerError => 500,
            _ => 400,
        }
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error response body: serializes to `{"error": "...", "error_description": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{error}: {error_description}")]
pub struct OAuthError {
    /// The RFC 6749 `error` code.
    pub error: OAuthErrorCode,
    /// Human-readable text saying which rule was broken (never a secret).
    pub error_description: String,
}

impl OAuthError {
    /// An error with the given code and description.
    pub fn new(error: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self { error, error_description: description.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_rfc6749_error_body() {
        let e = OAuthError::new(OAuthErrorCode::UseDpopNonce, "nonce required");
        let json = serde_json::to_value(&e).expect("serializes");
        assert_eq!(json, serde_json::json!({"error": "use_dpop_nonce", "error_description": "nonce required"}));
        assert_eq!(OAuthErrorCode::InvalidClient.http_status(), 401);
        assert_eq!(OAuthErrorCode::InvalidDpopProof.http_status(), 400);
    }
}
