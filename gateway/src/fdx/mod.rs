//! The consent-enforced FDX v6 resource API (DESIGN.md flow 4): `/fdx/v6/accounts`, `/accounts/{accountId}`,
//! `/transactions`, `/statements`, `/payment-networks`, `/contact` and `/customers/current`, answered from the
//! person's bank through the consent's bank token, and only as far as the consent reaches.
//!
//! Every request, in this order ([`proxy`]): the access token valid and its sender constraint proven (DPoP proof or
//! client certificate, [`crate::oauth::endpoints::presented`]); the client's rate limit ([`rate_limit`], 429 FDX
//! 1207); the consent active and not expired; the account inside the consent (404 FDX 701 otherwise, exactly as for
//! an account that does not exist); the data clusters cover the endpoint ([`table`], 403); then the bank is called
//! over mTLS with the consent's bank token (refreshed when needed) behind the bank's circuit breaker; the answer is
//! filtered ([`filter`], over the validating reader [`json`]: fields outside the granted clusters removed, lookback
//! enforced, links rewritten); a last check under the [`crate::revocation::RevocationGate`]; an audit record
//! appended; `x-fapi-interaction-id` echoed on every answer, errors included. Errors are FDX bodies ([`error`]).
//!
//! This module must never pass a bank field the table does not list, never answer from a bank without a consent
//! check before and after the call, and never log a token.

pub mod access;
pub mod error;
pub mod filter;
pub mod json;
pub mod proxy;
pub mod rate_limit;
pub mod table;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, get};

use crate::app::AppState;
pub use error::FdxError;
use table::Endpoint;

/// FAPI 2.0 / FDX interaction id header.
pub static INTERACTION_ID: HeaderName = HeaderName::from_static("x-fapi-interaction-id");

/// The interaction id of a request (in its extensions, set by [`interaction_id`]).
#[derive(Debug, Clone)]
pub struct InteractionId(pub HeaderValue);

/// The routes of the resource API (merged into [`crate::app::router`]).
pub fn routes() -> Router<AppState> {
    let read_only = |route: MethodRouter<AppState>| route.fallback(|| async { FdxError::method_not_allowed() });
    Router::new()
        .route("/fdx/v6/accounts", read_only(get(proxy::accounts)))
        .route("/fdx/v6/accounts/{accountId}", read_only(get(proxy::account)))
        .route("/fdx/v6/accounts/{accountId}/transactions", read_only(get(proxy::transactions)))
        .route("/fdx/v6/accounts/{accountId}/statements", read_only(get(proxy::statements)))
        .route("/fdx/v6/accounts/{accountId}/payment-networks", read_only(get(proxy::payment_networks)))
        .route("/fdx/v6/accounts/{accountId}/contact", read_only(get(proxy::contact)))
        .route("/fdx/v6/customers/current", read_only(get(proxy::current_customer)))
        .route("/fdx/v6/{*rest}", any(|request: Request| async move { FdxError::no_such_path(request.uri().path()) }))
        .layer(axum::middleware::from_fn(interaction_id))
}

/// Echo a sane `x-fapi-interaction-id` (FAPI 2.0 / FDX), or give the request a fresh one, on every answer.
pub(crate) async fn interaction_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&INTERACTION_ID)
        .filter(|v| {
            let b = v.as_bytes();
            !b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(c))
        })
        .cloned()
        .map_or_else(new_interaction_id, Ok);
    let id = match id {
        Ok(id) => id,
        Err(failure) => return failure.into_response(),
    };
    request.extensions_mut().insert(InteractionId(id.clone()));
    // Logs of this request carry its interaction id (FAPI: the id ties the app's, the gateway's and the bank's logs).
    // Recorded with `Display` (`%`): the id is checked to be plain ASCII above, and the log formatter's `Debug` of a
    // string escapes it character by character (callgrind: 3,000 instructions per request, 1% of the gateway's).
    let span = tracing::info_span!("fdx", interaction_id = %id.to_str().unwrap_or_default());
    let mut response = tracing::Instrument::instrument(next.run(request), span).await;
    response.headers_mut().insert(INTERACTION_ID.clone(), id);
    response
}

/// A random RFC 4122 version-4 UUID. The random bytes come from the operating system 4 KiB at a time (a buffer per
/// thread), not one `getrandom` call per request.
fn new_interaction_id() -> Result<HeaderValue, FdxError> {
    let mut b = random_16().map_err(|e| FdxError::internal(&e))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut text = [0u8; 36];
    let mut at = 0;
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text[at] = b'-';
            at += 1;
        }
        text[at] = HEX[usize::from(byte >> 4)];
        text[at + 1] = HEX[usize::from(byte & 0x0f)];
        at += 2;
    }
    HeaderValue::from_bytes(&text).map_err(|e| FdxError::internal(&e))
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// 16 bytes from this thread's buffer of operating-system randomness (each byte handed out once).
fn random_16() -> Result<[u8; 16], getrandom::Error> {
    const SIZE: usize = 4096;
    thread_local! {
        static POOL: std::cell::RefCell<([u8; SIZE], usize)> = const { std::cell::RefCell::new(([0; SIZE], SIZE)) };
    }
    POOL.with_borrow_mut(|(bytes, used)| {
        if *used + 16 > SIZE {
            getrandom::fill(bytes)?;
            *used = 0;
        }
        let mut out = [0u8; 16];
        out.copy_from_slice(&bytes[*used..*used + 16]);
        *used += 16;
        Ok(out)
    })
}

impl Endpoint {
    /// The path of this endpoint for `account` (the same at the gateway and at the bank).
    pub fn path_for(self, account: Option<&str>) -> String {
        match account {
            Some(id) => self.rule().path.replace("{accountId}", id),
            None => self.rule().path.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interaction_ids_are_distinct_version_4_uuids_across_refills_of_the_random_buffer() {
        // 600 ids take 9,600 random bytes: the thread's 4 KiB buffer is refilled twice on the way.
        let ids: Vec<String> = (0..600).map(|_| new_interaction_id().unwrap().to_str().unwrap().to_owned()).collect();
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        for id in &ids {
            let parts: Vec<&str> = id.split('-').collect();
            assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12], "{id}");
            assert!(id.bytes().all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{id}");
            assert!(parts[2].starts_with('4'), "version 4: {id}");
            assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'), "RFC 4122 variant: {id}");
        }
    }
}
