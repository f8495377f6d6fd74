//! The one error type of the bank's authorization server, carrying the OAuth error codes of RFC 6749 §4.1.2.1 and
//! §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1 and RFC 7591 §3.2.2.
//!
//! On the token and revocation endpoints it renders as the RFC 6749 §5.2 JSON body `{error, error_description}` with
//! `Cache-Control: no-store`. Descriptions are meant for developers; they never contain a secret (no token, code,
//! password or verifier is ever echoed back).

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// RFC 6749 §5.2 `invalid_request`: a parameter is missing, repeated, malformed or unsupported.
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// RFC 6749 §5.2 `invalid_client`: client authentication failed (RFC 8705 tls_client_auth here).
    #[error("invalid_client: {0}")]
    InvalidClient(String),
    /// RFC 6749 §5.2 `invalid_grant`: the code or refresh token is invalid, expired, revoked, reused or foreign.
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    /// RFC 6749 §5.2 `unauthorized_client`.
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    /// RFC 6749 §5.2 `unsupported_grant_type`.
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    /// RFC 6749 §4.1.2.1 `unsupported_response_type`.
    #[error("unsupported_response_type: {0}")]
    UnsupportedResponseType(String),
    /// RFC 6749 §5.2 / §4.1.2.1 `invalid_scope`.
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    /// RFC 6749 §4.1.2.1 `access_denied`: the person or the bank's sharing policy said no.
    #[error("access_denied: {0}")]
    AccessDenied(String),
    /// RFC 6750 §3.1 `invalid_token`: the bearer token is unknown, expired, revoked or its consent has ended.
    #[error("invalid_token: {0}")]
    InvalidToken(String),
    /// RFC 7009 §2.2.1 `unsupported_token_type`.
    #[error("unsupported_token_type: {0}")]
    UnsupportedTokenType(String),
    /// RFC 7591 §3.2.2 `invalid_redirect_uri` (client registration).
    #[error("invalid_redirect_uri: {0}")]
    InvalidRedirectUri(String),
    /// RFC 7591 §3.2.2 `invalid_client_metadata` (client registration).
    #[error("invalid_client_metadata: {0}")]
    InvalidClientMetadata(String),
    /// RFC 6749 §4.1.2.1 `temporarily_unavailable`.
    #[error("temporarily_unavailable: {0}")]
    TemporarilyUnavailable(String),
    /// RFC 6749 §4.1.2.1 `server_error`: the bank's own fault (its store failed); never caused by input.
    #[error("server_error: {0}")]
    ServerError(String),
}

impl AuthError {
    /// The OAuth `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient(_) => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::UnsupportedResponseType(_) => "unsupported_response_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::AccessDenied(_) => "access_denied",
            Self::InvalidToken(_) => "invalid_token",
            Self::UnsupportedTokenType(_) => "unsupported_token_type",
            Self::InvalidRedirectUri(_) => "invalid_redirect_uri",
            Self::InvalidClientMetadata(_) => "invalid_client_metadata",
            Self::TemporarilyUnavailable(_) => "temporarily_unavailable",
            Self::ServerError(_) => "server_error",
        }
    }

    /// The human-readable `error_description`.
    pub fn description(&self) -> &str {
        match self {
            Self::InvalidRequest(d)
            | Self::InvalidClient(d)
            | Self::InvalidGrant(d)
            | Self::UnauthorizedClient(d)
            | Self::UnsupportedGrantType(d)
            | Self::UnsupportedResponseType(d)
            | Self::InvalidScope(d)
            | Self::AccessDenied(d)
            | Self::InvalidToken(d)
            | Self::UnsupportedTokenType(d)
            | Self::InvalidRedirectUri(d)
            | Self::InvalidClientMetadata(d)
            | Self::TemporarilyUnavailable(d)
            | Self::ServerError(d) => d,
        }
    }

    /// HTTP status on the token, revocation and registration endpoints (RFC 6749 §5.2: 400, or 401 for
    /// `invalid_client`; RFC 6750 §3.1: 401 for `invalid_token`).
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidClient(_) | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::AccessDenied(_) => StatusCode::FORBIDDEN,
            Self::TemporarilyUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::ServerError(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    pub(crate) fn storage(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "bank auth store failed");
        Self::ServerError("the bank could not record the authorization; try again".into())
    }
}

/// RFC 6749 §5.2 error response.
#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: self.code(), error_description: self.description() };
        let mut response = (self.status(), Json(body)).into_response();
        let headers = response.headers_mut();
        // RFC 6749 §5.1/§5.2: token endpoint responses must not be cached.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Self::InvalidToken(_) = self {
            // RFC 6750 §3: tell the client which scheme and error applies.
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
        }
        response
    }
}
