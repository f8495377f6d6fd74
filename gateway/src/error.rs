//! The gateway's HTTP error types, one per boundary, each turned into a response in exactly one place:
//!
//! - [`OAuthFailure`] on OAuth endpoints (token, PAR, register, introspect, revoke): RFC 6749 §5.2
//!   `{"error", "error_description"}` JSON with `Cache-Control: no-store` (§5.1), HTTP 401 plus `WWW-Authenticate`
//!   for `invalid_client`/`invalid_token`, and `DPoP-Nonce` when RFC 9449 §8 asks for one;
//! - [`Problem`] everywhere else: RFC 9457 `application/problem+json`.
//!
//! (FDX `{code, message, debugMessage}` errors belong to the resource API, added with it.) A description must never
//! contain a secret (token, assertion, key, verifier); internal failures are logged here and answered with a fixed
//! text, so a store error's details never reach a client.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::oauth::OAuthError;
use crate::store::StoreError;

/// An OAuth endpoint's refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthFailure {
    pub status: StatusCode,
    /// The registered `error` code (RFC 6749 §5.2, RFC 7591 §3.2.2, RFC 9396 §5, RFC 9449 §7, RFC 6750 §3.1).
    pub error: &'static str,
    pub description: String,
    /// RFC 9449 §8: a fresh nonce for the `DPoP-Nonce` header.
    pub dpop_nonce: Option<String>,
    /// RFC 6749 §5.2: the client tried HTTP Basic, so the 401 names that scheme.
    pub basic_challenge: bool,
}

impl OAuthFailure {
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self { status, error, description: description.into(), dpop_nonce: None, basic_challenge: false }
    }

    /// RFC 6749 §5.2 `invalid_request` (400).
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// RFC 6749 §5.2 `invalid_client` (401).
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    /// RFC 6750 §3.1 `invalid_token` (401), e.g. a wrong RFC 7592 registration access token.
    pub fn invalid_token(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_token", description)
    }

    /// RFC 7591 §3.2.2 `invalid_client_metadata` (400).
    pub fn invalid_client_metadata(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_client_metadata", description)
    }

    /// RFC 7591 §3.2.2 `invalid_redirect_uri` (400).
    pub fn invalid_redirect_uri(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_redirect_uri", description)
    }

    /// RFC 6749 §4.1.2.1 `server_error` (500) for a failure that is not the client's; the cause is logged, not sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal failure on an OAuth endpoint");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal error; try again later")
    }

    pub fn with_dpop_nonce(mut self, nonce: Option<&str>) -> Self {
        self.dpop_nonce = nonce.map(str::to_owned);
        self
    }
}

impl From<OAuthError> for OAuthFailure {
    fn from(e: OAuthError) -> Self {
        let status = StatusCode::from_u16(e.error.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        Self::new(status, e.error.as_str(), e.error_description)
    }
}

impl From<StoreError> for OAuthFailure {
    fn from(e: StoreError) -> Self {
        Self::internal(&e)
    }
}

impl IntoResponse for OAuthFailure {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description});
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        // RFC 6749 §5.1/§5.2: responses carrying (or refusing) credentials are not cached.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = if self.basic_challenge {
                "Basic realm=\"bankgate\"".to_owned()
            } else {
                format!("Bearer error=\"{}\"", self.error)
            };
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                headers.insert(header::WWW_AUTHENTICATE, v);
            }
        }
        if let Some(nonce) = self.dpop_nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
            headers.insert("dpop-nonce", nonce);
        }
        response
    }
}

/// RFC 9457 problem details for non-OAuth, non-FDX paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: StatusCode,
    pub title: &'static str,
    pub detail: String,
}

impl Problem {
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self { status: StatusCode::NOT_FOUND, title: "Not Found", detail: detail.into() }
    }

    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal failure");
        Self { status: StatusCode::INTERNAL_SERVER_ERROR, title: "Internal Server Error", detail: "try again".into() }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        // RFC 9457 §3.1: "about:blank" type, title is the status phrase.
        let body =
            json!({"type": "about:blank", "title": self.title, "status": self.status.as_u16(), "detail": self.detail});
        let mut response = (self.status, Json(body)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        response
    }
}
