//! The access token a request presents to one of the gateway's protected endpoints (the FDX resource API, grant
//! and consent management), checked in one place: RFC 6750 §2.1 `Authorization` header, RFC 9068 §4 JWT
//! validation (signature, `typ`, `iss`, `aud`, `exp`), the token still active in the store (not revoked, same
//! client), and its sender constraint: RFC 9449 §7.1 (`Authorization: DPoP` plus a proof for this method and URL
//! carrying `ath`, `jti` single use) or RFC 8705 §3 (the connection's client certificate has the token's
//! `x5t#S256`); plain bearer tokens only where the token was issued as one (sandbox clients).
//!
//! A token's JWS is verified once: [`VerifiedTokens`] keeps the claims of tokens whose signature, `typ`, `iss` and
//! `aud` passed, by SHA-256 of the token, so later requests only check the times and the store (revocation is the
//! store's exact, invalidated cache). A verified token stays verified until it expires (minutes), even if its
//! signing key is retired meanwhile.
//!
//! DPoP proofs sent to these endpoints are remembered in this process's memory ([`AppState::resource_dpop_replay`]),
//! not in the store: one write fewer per data request. Sound because a SQLite store has one owner process; a proof
//! signed before this process started (`iat` earlier than [`AppState::started_at`]) is refused, so a restart cannot
//! reopen a replay window (a client whose clock runs behind is refused for that many seconds after a restart).
//! Several replicas (the PostgreSQL store, later) need a shared cache here. The token endpoint's proofs stay in the
//! store.
//!
//! What the token is for (consent or client_credentials, scope) is the caller's question. This module must never
//! log or echo the presented token.

use axum::http::{HeaderMap, header};
use certs::serve::PeerCertificates;

use super::token::dpop_headers;
use crate::app::AppState;
use crate::oauth::access_token::{self, AccessTokenClaims};
use crate::oauth::client_auth::peer_thumbprint_s256;
use crate::oauth::dpop::DpopRequest;
use crate::store::{StoreError, TokenBinding, TokenHash, TokenKind, TokenRecord};

/// Most verified tokens remembered (a full cache is cleared).
const VERIFIED_LIMIT: usize = 100_000;

/// Claims of access tokens whose JWS was verified, by token hash (see the module docs).
#[derive(Debug, Default)]
pub struct VerifiedTokens {
    inner: std::sync::Mutex<std::collections::HashMap<TokenHash, AccessTokenClaims>>,
}

impl VerifiedTokens {
    fn get(&self, hash: &TokenHash) -> Option<AccessTokenClaims> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).get(hash).cloned()
    }

    fn put(&self, hash: TokenHash, claims: &AccessTokenClaims) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= VERIFIED_LIMIT {
            map.clear();
        }
        map.insert(hash, claims.clone());
    }
}

/// A presented access token that passed every check.
#[derive(Debug, Clone)]
pub struct PresentedToken {
    pub claims: AccessTokenClaims,
    pub record: TokenRecord,
}

/// Why the presented token was refused.
#[derive(Debug, thiserror::Error)]
pub enum PresentedTokenError {
    /// RFC 6750 §3.1 `invalid_token` (also: no token, the wrong certificate).
    #[error("{0}")]
    Invalid(String),
    /// A valid DPoP-bound token presented without a valid proof or with the Bearer scheme (RFC 9449 §7.1: the
    /// challenge names the DPoP scheme).
    #[error("{0}")]
    InvalidDpop(String),
    /// The store failed: not the client's fault.
    #[error("store: {0}")]
    Internal(#[from] StoreError),
}

/// The scheme and the credentials of an `Authorization` header value (RFC 9110 §11.4: `scheme SP credentials`).
pub fn authorization_parts(value: &str) -> Option<(&str, &str)> {
    value.split_once(' ')
}

/// Checks the access token of a request to `method path` (`path` as the client addressed it, without the query:
/// the DPoP `htu` is compared without query, RFC 9449 §4.3 check 9).
pub async fn check(
    state: &AppState,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    peer: Option<&PeerCertificates>,
) -> Result<PresentedToken, PresentedTokenError> {
    let invalid = |d: &str| PresentedTokenError::Invalid(d.to_owned());
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| invalid("an access token is required"))?;
    let (scheme, token) =
        authorization_parts(authorization).ok_or_else(|| invalid("malformed Authorization header"))?;
    let token = token.trim();
    if token.is_empty() || token.len() > 4096 {
        return Err(invalid("malformed access token"));
    }
    let now = state.now();
    let hash = TokenHash::of(token);
    let claims = match state.verified_tokens.get(&hash) {
        Some(claims) => {
            access_token::check_times(&claims, now).map_err(|e| PresentedTokenError::Invalid(e.to_string()))?;
            claims
        }
        None => {
            let claims = access_token::verify(&state.keys, token, &state.issuer, &state.issuer, now)
                .map_err(|e| PresentedTokenError::Invalid(e.to_string()))?;
            state.verified_tokens.put(hash, &claims);
            claims
        }
    };
    let record = state.store.token(&hash).await?;
    let record = match record {
        Some(r) if r.kind == TokenKind::Access && r.is_active(now) && r.client_id == claims.client_id => r,
        _ => return Err(invalid("the access token is not active")),
    };
    match &record.binding {
        TokenBinding::Dpop { jkt } => {
            // RFC 9449 §7.1: a DPoP-bound token travels with the DPoP scheme and a proof bound to it (`ath`).
            if !scheme.eq_ignore_ascii_case("DPoP") {
                let reason = "a DPoP-bound token needs the DPoP authorization scheme";
                return Err(PresentedTokenError::InvalidDpop(reason.into()));
            }
            let proofs = dpop_headers(headers);
            let url = state.url(path);
            let request =
                DpopRequest { method, uri: &url, proofs: &proofs, access_token: Some(token), expected_jkt: Some(jkt) };
            let proof = state
                .dpop
                .validate(&request, now, state.resource_dpop_replay.as_ref())
                .await
                .map_err(|e| PresentedTokenError::InvalidDpop(e.to_string()))?;
            if proof.issued_at < state.started_at {
                let reason = "the DPoP proof was signed before the gateway started; sign a fresh one";
                return Err(PresentedTokenError::InvalidDpop(reason.into()));
            }
        }
        TokenBinding::Mtls { x5t_s256 } => {
            // RFC 8705 §3: the certificate of the connection must be the one the token is bound to.
            let presented = peer.and_then(peer_thumbprint_s256);
            if !scheme.eq_ignore_ascii_case("Bearer") || presented.as_deref() != Some(x5t_s256.as_str()) {
                return Err(invalid("the access token is bound to another client certificate"));
            }
        }
        TokenBinding::Bearer => {
            if !scheme.eq_ignore_ascii_case("Bearer") {
                return Err(invalid("unsupported authorization scheme"));
            }
        }
    }
    Ok(PresentedToken { claims, record })
}
