//! The token and consent checks every FDX path of the gateway makes first (the resource API, [`super::proxy`], and
//! the notification API, [`crate::events::subscriptions`]): the presented access token with its sender constraint
//! ([`crate::oauth::endpoints::presented`]), answered as FDX errors with the RFC 6750 / RFC 9449 challenge scheme,
//! then the token's consent: it exists, belongs to the token's client and is active at the gateway's time.

use axum::http::{HeaderMap, header};
use certs::serve::PeerCertificates;

use super::error::FdxError;
use crate::app::AppState;
use crate::consent::{Consent, ConsentStatus};
use crate::oauth::endpoints::presented::{self, PresentedToken, PresentedTokenError};
use crate::store::{TokenBinding, TokenRecord};

/// The scheme a 401 challenges with (RFC 9449 §7.1: `DPoP` for a DPoP-bound token).
pub fn challenge_scheme(binding: &TokenBinding) -> &'static str {
    if matches!(binding, TokenBinding::Dpop { .. }) { "DPoP" } else { "Bearer" }
}

/// The access token of a request to `method path`, every check passed; refusals as FDX 401/500 errors whose
/// challenge names the scheme the client presented (a DPoP proof failure always challenges `DPoP`).
pub async fn presented_token(
    state: &AppState,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    peer: Option<&PeerCertificates>,
) -> Result<PresentedToken, FdxError> {
    let presented_scheme = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(presented::authorization_parts)
        .map(|(scheme, _)| if scheme.eq_ignore_ascii_case("DPoP") { "DPoP" } else { "Bearer" })
        .unwrap_or("Bearer");
    presented::check(state, method, path, headers, peer).await.map_err(|e| match e {
        PresentedTokenError::Invalid(d) => FdxError::unauthenticated(presented_scheme, d),
        PresentedTokenError::InvalidDpop(d) => FdxError::unauthenticated("DPoP", d),
        PresentedTokenError::Internal(e) => FdxError::internal(&e),
    })
}

/// The consent `consent_id` of `token`, active now; otherwise 401 (it does not exist, is another client's, expired,
/// revoked or not yet authorized) or 500 (the store failed).
pub async fn active_consent(state: &AppState, token: &TokenRecord, consent_id: &str) -> Result<Consent, FdxError> {
    let scheme = challenge_scheme(&token.binding);
    let consent = match state.store.consent(consent_id).await.map_err(|e| FdxError::internal(&e))? {
        Some(c) if c.client_id == token.client_id => c,
        _ => return Err(FdxError::unauthenticated(scheme, "the consent of this token does not exist")),
    };
    let word = match consent.status_at(state.now()) {
        ConsentStatus::Authorized => return Ok(consent),
        ConsentStatus::Expired => "expired",
        ConsentStatus::Revoked => "revoked",
        _ => "not active",
    };
    Err(FdxError::unauthenticated(scheme, format!("the consent of this token is {word}")))
}
