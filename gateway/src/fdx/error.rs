//! FDX errors of the gateway's resource API: FDX 6.2 `Error1` bodies `{code, message, debugMessage}` with
//! `Cache-Control: no-store`, plus the header a status calls for: `WWW-Authenticate` on 401 (RFC 6750 §3 /
//! RFC 9449 §7.1), `Retry-After` on 429 and 503 (RFC 9110 §10.2.3).
//!
//! Codes are FDX 6.2's where it defines one (401 Invalid Input, 403 Forbidden, 500 Internal server error, 503
//! Scheduled Maintenance, 603 Authentication failed, 701 Account not found, 1107 Data not found, 1206 Method Not
//! Allowed, 1207 Too Many Requests). FDX defines no code for a failed or silent upstream, so the gateway uses the
//! HTTP status as a provider-defined code (`502` Bad Gateway, `504` Gateway Timeout, and `503` Service Unavailable
//! while a bank's circuit is open) — `Error1.code` is "defined by FDX API Specification or Data Provider". The
//! `debugMessage` says what happened in words a developer can act on; it never carries a token or a bank's body.

use std::borrow::Cow;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A refusal or failure on an FDX path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdxError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub message: Cow<'static, str>,
    pub debug_message: String,
    /// Seconds for `Retry-After`.
    pub retry_after: Option<u64>,
    /// The 401 challenge scheme (`Bearer` or `DPoP`).
    pub challenge: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
    debug_message: &'a str,
}

impl FdxError {
    /// An FDX error with `code` and `message` from the FDX 6.2 error table.
    pub fn new(status: StatusCode, code: &'static str, message: &'static str, debug: impl Into<String>) -> Self {
        Self {
            status,
            code: Cow::Borrowed(code),
            message: Cow::Borrowed(message),
            debug_message: debug.into(),
            retry_after: None,
            challenge: None,
        }
    }

    /// A bank's own FDX refusal (400, 403, 404), passed on when its code and message are short plain text;
    /// `None` otherwise (the caller answers with its own error).
    pub fn from_bank(status: StatusCode, body: &serde_json::Value) -> Option<Self> {
        let code = body.get("code")?.as_str()?;
        let message = body.get("message")?.as_str()?;
        let plain = |s: &str, max: usize| s.len() <= max && s.chars().all(|c| c.is_ascii_graphic() || c == ' ');
        if code.is_empty() || !plain(code, 8) || !plain(message, 120) {
            return None;
        }
        let debug = body.get("debugMessage").and_then(|d| d.as_str()).filter(|d| plain(d, 300)).unwrap_or("");
        Some(Self {
            status,
            code: Cow::Owned(code.to_owned()),
            message: Cow::Owned(message.to_owned()),
            debug_message: format!("the bank answered: {debug}"),
            retry_after: None,
            challenge: None,
        })
    }

    /// 400, FDX 702: a date parameter that is not a date.
    pub fn invalid_date(debug: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "702", "Invalid start or end date", debug)
    }

    /// 400, FDX 401 Invalid Input.
    pub fn invalid_input(debug: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "401", "Invalid Input", debug)
    }

    /// 401, FDX 603 Authentication failed: no valid, sender-constrained access token of an active consent.
    pub fn unauthenticated(scheme: &'static str, debug: impl Into<String>) -> Self {
        Self { challenge: Some(scheme), ..Self::new(StatusCode::UNAUTHORIZED, "603", "Authentication failed", debug) }
    }

    /// 403, FDX 403 Forbidden: the consent does not cover the data.
    pub fn forbidden(debug: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "403", "Forbidden", debug)
    }

    /// 404, FDX 701: the same answer for an account outside the consent and one that does not exist.
    pub fn account_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "701", "Account not found", "no such account in this consent")
    }

    /// 404, FDX 1107, for a path the API does not have.
    pub fn no_such_path(path: &str) -> Self {
        let shown: String = path.chars().take(80).collect();
        Self::new(
            StatusCode::NOT_FOUND,
            "1107",
            "Data not found for request parameters",
            format!("no resource at {shown}"),
        )
    }

    /// 405, FDX 1206.
    pub fn method_not_allowed() -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "1206", "Method Not Allowed", "the FDX resource API is read-only")
    }

    /// 429, FDX 1207, with `Retry-After`.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "1207",
                "Too Many Requests",
                "this client's request rate is above its limit",
            )
        }
    }

    /// 503, FDX 503: the bank is in maintenance (its own `Retry-After` passed on).
    pub fn maintenance(retry_after_secs: Option<u64>, debug: impl Into<String>) -> Self {
        Self {
            retry_after: retry_after_secs,
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "503", "Scheduled Maintenance", debug)
        }
    }

    /// 503 while the bank's circuit is open.
    pub fn bank_unavailable(retry_after_secs: u64, debug: impl Into<String>) -> Self {
        Self {
            retry_after: Some(retry_after_secs.max(1)),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "503", "Service Unavailable", debug)
        }
    }

    /// 502: the bank failed or its answer could not be used.
    pub fn bad_gateway(debug: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "502", "Bad Gateway", debug)
    }

    /// 504: the bank did not answer in time.
    pub fn gateway_timeout(debug: impl Into<String>) -> Self {
        Self::new(StatusCode::GATEWAY_TIMEOUT, "504", "Gateway Timeout", debug)
    }

    /// 500 for a failure of the gateway itself; the cause is logged, not sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal failure on the FDX resource API");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "500", "Internal server error", "internal error; try again later")
    }
}

impl IntoResponse for FdxError {
    fn into_response(self) -> Response {
        let body = Body { code: &self.code, message: &self.message, debug_message: &self.debug_message };
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(scheme) = self.challenge {
            let value = if scheme == "DPoP" {
                // RFC 9449 §7.1: the DPoP challenge names the algorithms proofs may use.
                "DPoP error=\"invalid_token\", algs=\"ES256 PS256 EdDSA\""
            } else {
                "Bearer error=\"invalid_token\""
            };
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
        }
        response
    }
}
