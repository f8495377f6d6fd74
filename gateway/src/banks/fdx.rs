//! Calls to a bank's FDX API and what can go wrong with them.
//!
//! [`BankCallError`] is always an upstream (bank-side) failure and knows whether a retry may help: timeouts,
//! connection failures and resets, 500/502/503/504 and malformed JSON may pass; a TLS failure, an oversized body or
//! a request the gateway should never have built will not. It must never carry a bank token or the Authorization
//! header, and never read an unbounded body.

use std::time::Duration;

use reqwest::header;
use serde_json::Value;

/// Largest FDX response body the gateway reads (a full page of transactions is well under this).
pub(crate) const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// A failed call to a bank: the bank or the network between us, never the gateway's client.
#[derive(Debug, thiserror::Error)]
pub enum BankCallError {
    #[error("the bank did not answer in time: {0}")]
    Timeout(String),
    #[error("could not connect to the bank: {0}")]
    Connect(String),
    /// The TLS handshake failed: the bank's certificate is not trusted, or it refused ours.
    #[error("TLS with the bank failed: {0}")]
    Tls(String),
    #[error("the connection to the bank broke: {0}")]
    Reset(String),
    /// A 5xx answer. `retry_after` from RFC 9110 §10.2.3 (delta-seconds form).
    #[error("the bank answered {status}")]
    ServerError { status: u16, retry_after: Option<Duration>, body: Option<Value> },
    #[error("the bank's response is not valid JSON: {0}")]
    MalformedBody(String),
    #[error("the bank's response is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    /// The gateway built a request it must not send (not an FDX path, bad header value).
    #[error("refused to send: {0}")]
    InvalidRequest(String),
}

impl BankCallError {
    /// Whether the same request may succeed if sent again (pingora's `retry` flag; the circuit breaker counts these).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout(_) | Self::Connect(_) | Self::Reset(_) | Self::MalformedBody(_) => true,
            Self::ServerError { status, .. } => matches!(status, 500 | 502 | 503 | 504),
            Self::Tls(_) | Self::TooLarge | Self::InvalidRequest(_) => false,
        }
    }

    /// The status the gateway answers its own client with (RFC 9110 §15.6): 504 for a timeout, 503 when the bank
    /// said it is unavailable, 502 for every other upstream failure, 500 for a request the gateway got wrong.
    pub fn gateway_status(&self) -> u16 {
        match self {
            Self::Timeout(_) => 504,
            Self::ServerError { status: 503, .. } => 503,
            Self::InvalidRequest(_) => 500,
            _ => 502,
        }
    }

    /// Classify a reqwest failure. The message never includes request headers.
    pub(crate) fn from_reqwest(error: &reqwest::Error) -> Self {
        let detail = describe(error);
        if tls_failure(error) {
            Self::Tls(detail)
        } else if error.is_timeout() {
            Self::Timeout(detail)
        } else if error.is_connect() {
            Self::Connect(detail)
        } else if error.is_builder() {
            Self::InvalidRequest(detail)
        } else {
            Self::Reset(detail)
        }
    }
}

/// The error and its causes, one line (the URL carries no secret: tokens travel in headers only).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A rustls error anywhere in the chain. `io::Error` hides its inner error from `source()` and hyper boxes the
/// connector's error, so look inside both.
fn tls_failure(error: &reqwest::Error) -> bool {
    fn visit(error: &(dyn std::error::Error + 'static), depth: usize) -> bool {
        if depth > 16 {
            return false;
        }
        if error.is::<rustls::Error>() {
            return true;
        }
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && visit(inner, depth + 1)
        {
            return true;
        }
        error.source().is_some_and(|source| visit(source, depth + 1))
    }
    visit(error, 0)
}

/// A bank's answer below 500: status, the echoed `x-fapi-interaction-id`, and the JSON body (`Null` when empty).
#[derive(Debug, Clone, PartialEq)]
pub struct BankResponse {
    pub status: u16,
    pub interaction_id: Option<String>,
    pub body: Value,
}

/// Read a body of at most [`MAX_BODY_BYTES`].
pub(crate) async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, BankCallError> {
    if response.content_length().is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(BankCallError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| BankCallError::from_reqwest(&e))? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(BankCallError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// RFC 9110 §10.2.3 `Retry-After` in its delta-seconds form (the HTTP-date form is not used by our banks).
pub(crate) fn retry_after(headers: &header::HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// A bank's answer below 500 with its body as the bank sent it (the resource API filters the bytes without
/// building a tree of them, [`crate::fdx::filter`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RawBankResponse {
    pub status: u16,
    pub interaction_id: Option<String>,
    pub body: Vec<u8>,
}

impl RawBankResponse {
    /// The body as JSON (`Null` when empty).
    pub fn json(&self) -> Result<Value, BankCallError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body).map_err(|e| BankCallError::MalformedBody(e.to_string()))
    }
}

/// Turn a response into a [`RawBankResponse`], or a [`BankCallError`] for 5xx (its body parsed when it is JSON).
pub(crate) async fn into_raw_response(response: reqwest::Response) -> Result<RawBankResponse, BankCallError> {
    let status = response.status().as_u16();
    let interaction_id =
        response.headers().get("x-fapi-interaction-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let retry_after = retry_after(response.headers());
    raw_answer(RawBankResponse { status, interaction_id, body: read_body(response).await? }, retry_after)
}

/// An answer read whole: itself below 500, a [`BankCallError::ServerError`] for 5xx (its body parsed when it is JSON,
/// `retry_after` from its header).
pub(crate) fn raw_answer(
    answer: RawBankResponse,
    retry_after: Option<Duration>,
) -> Result<RawBankResponse, BankCallError> {
    if answer.status >= 500 {
        return Err(BankCallError::ServerError { status: answer.status, retry_after, body: answer.json().ok() });
    }
    Ok(answer)
}

/// Turn a response into a [`BankResponse`], or a [`BankCallError`] for 5xx and malformed JSON.
pub(crate) async fn into_bank_response(response: reqwest::Response) -> Result<BankResponse, BankCallError> {
    let raw = into_raw_response(response).await?;
    let body = raw.json()?;
    Ok(BankResponse { status: raw.status, interaction_id: raw.interaction_id, body })
}

/// An FDX path the gateway may request: `/fdx/v6/...`, no dot segments, no scheme or authority smuggled in.
pub(crate) fn check_fdx_path(path: &str) -> Result<(), BankCallError> {
    if is_fdx_path(path) {
        Ok(())
    } else {
        Err(BankCallError::InvalidRequest(format!("`{path}` is not an FDX v6 path")))
    }
}

/// Whether `path` (with its query) is a plain FDX v6 path: the one rule for what the gateway sends to a bank and
/// what it passes on from a bank's links.
pub(crate) fn is_fdx_path(path: &str) -> bool {
    let (route, query) = path.split_once('?').unwrap_or((path, ""));
    route.starts_with("/fdx/v6/")
        && !route.contains("//")
        && !route.split('/').any(|segment| segment == "." || segment == ".." || segment.contains('%'))
        && !path.contains('#')
        && path.bytes().all(|b| b.is_ascii_graphic())
        && !query.contains('?')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryability_follows_the_failure() {
        assert!(BankCallError::Timeout("t".into()).is_retryable());
        assert!(BankCallError::Reset("r".into()).is_retryable());
        assert!(BankCallError::MalformedBody("m".into()).is_retryable());
        let unavailable = BankCallError::ServerError { status: 503, retry_after: None, body: None };
        assert!(unavailable.is_retryable());
        assert_eq!(unavailable.gateway_status(), 503);
        assert!(!BankCallError::ServerError { status: 501, retry_after: None, body: None }.is_retryable());
        assert!(!BankCallError::Tls("x".into()).is_retryable());
        assert_eq!(BankCallError::Timeout("t".into()).gateway_status(), 504);
        assert_eq!(BankCallError::Connect("c".into()).gateway_status(), 502);
    }

    #[test]
    fn only_fdx_paths_are_sent() {
        assert!(check_fdx_path("/fdx/v6/accounts").is_ok());
        assert!(check_fdx_path("/fdx/v6/accounts/a1/transactions?startTime=2026-01-01&limit=50").is_ok());
        for bad in ["/admin/bank", "/fdx/v6/../admin", "//evil/fdx/v6/x", "/fdx/v6/a b", "/fdx/v6/%2e%2e/x", "x"] {
            assert!(check_fdx_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn retry_after_reads_delta_seconds() {
        let mut headers = header::HeaderMap::new();
        headers.insert(header::RETRY_AFTER, header::HeaderValue::from_static("120"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(120)));
        headers.insert(header::RETRY_AFTER, header::HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }
}
