//! The FDX API's one error type: every failure of the bank's FDX endpoints becomes an FDX error body
//! `{code, message, debugMessage}` (FDX v6 `Error` entity, codes from FDX API spec §6.2 as used by the 6.2 OpenAPI
//! examples) with the status the spec pairs it with.
//!
//! It must never carry secrets (tokens, keys) in `debugMessage`, and never turn bad input into a 500.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::borrow::Cow;

/// An FDX error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdxError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub message: Cow<'static, str>,
    pub debug_message: String,
    /// `Retry-After` seconds (503 maintenance, 429).
    pub retry_after: Option<u64>,
    /// RFC 6750 §3 challenge to send in `WWW-Authenticate`.
    pub challenge: Option<&'static str>,
}

impl FdxError {
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

    /// 401, FDX 603. RFC 6750 §3.1: a request without credentials gets a bare challenge; a bad token gets
    /// `error="invalid_token"`.
    pub fn unauthenticated(token_presented: bool, debug: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, "603", "Authentication failed", debug);
        e.challenge = Some(if token_presented {
            r#"Bearer realm="fdx", error="invalid_token", error_description="The access token is invalid, expired or revoked""#
        } else {
            r#"Bearer realm="fdx""#
        });
        e
    }

    /// 403: the consent does not cover the data cluster this endpoint serves.
    pub fn forbidden(debug: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "403", "Forbidden", debug)
    }

    /// 404, FDX 701. Used alike for accounts that do not exist and accounts outside the consent, so a client cannot
    /// probe which account ids exist.
    pub fn account_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "701",
            "Account not found",
            "no account with this id is covered by the consent",
        )
    }

    /// 404, FDX 1107: no notification subscription with this id belongs to the token's consent (another consent's
    /// subscription gets the same answer as a missing one).
    pub fn subscription_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "1107",
            "Data not found for request parameters",
            "no notification subscription with this id for this consent",
        )
    }

    /// 404, FDX 601.
    pub fn customer_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "601", "Customer not found", "the consent's customer no longer exists")
    }

    /// 400, FDX 702: a date that is not an ISO 8601 date, or does not exist.
    pub fn invalid_date(debug: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "702", "Invalid start or end date", debug)
    }

    /// 400, FDX 703: start after end.
    pub fn invalid_range(debug: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "703", "Invalid date range", debug)
    }

    /// 400, FDX 401 "Invalid Input" (the spec's code for input that does not satisfy the API specification).
    pub fn invalid_input(debug: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "401", "Invalid Input", debug)
    }

    /// 404, FDX 1107: no resource at this path.
    pub fn no_such_path(path: &str) -> Self {
        let shown: String = path.chars().take(200).collect();
        Self::new(
            StatusCode::NOT_FOUND,
            "1107",
            "Data not found for request parameters",
            format!("no endpoint at {shown}"),
        )
    }

    /// 405, FDX 1206.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "1206",
            "Method Not Allowed",
            "this endpoint does not answer that method",
        )
    }

    /// 413 with FDX 401 "Invalid Input".
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "401",
            "Invalid Input",
            format!("request bodies are limited to {limit} bytes"),
        )
    }

    /// 503, FDX 503, with `Retry-After`.
    pub fn maintenance(retry_after_secs: u64, debug: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, "503", "Scheduled Maintenance", debug);
        e.retry_after = Some(retry_after_secs.max(1));
        e
    }

    /// 500, FDX 500. The debug message says what failed, never any data.
    pub fn internal(debug: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "500", "Internal server error", debug)
    }

    /// An error chosen by a test user or a fault rule: any status 400-599 with any FDX code.
    pub fn chosen(status: u16, code: impl Into<String>, message: impl Into<String>, debug: impl Into<String>) -> Self {
        let status = StatusCode::from_u16(status)
            .ok()
            .filter(|s| s.is_client_error() || s.is_server_error())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut e = Self {
            status,
            code: Cow::Owned(code.into()),
            message: Cow::Owned(message.into()),
            debug_message: debug.into(),
            retry_after: None,
            challenge: None,
        };
        if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
            e.retry_after = Some(30);
        }
        e
    }

    /// The message FDX gives a code, for errors chosen by code alone.
    pub fn message_for_code(code: &str) -> &'static str {
        match code {
            "401" => "Invalid Input",
            "403" => "Forbidden",
            "500" => "Internal server error",
            "503" => "Scheduled Maintenance",
            "601" => "Customer not found",
            "603" => "Authentication failed",
            "701" => "Account not found",
            "702" => "Invalid start or end date",
            "703" => "Invalid date range",
            "704" => "Account type not supported",
            "705" => "Account is Closed",
            "1107" => "Data not found for request parameters",
            "1207" => "Too Many Requests",
            _ => "Simulated error",
        }
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
    debug_message: &'a str,
}

impl IntoResponse for FdxError {
    fn into_response(self) -> Response {
        let body = Body { code: &self.code, message: &self.message, debug_message: &self.debug_message };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(challenge) = self.challenge {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}
