//! The token endpoint (RFC 6749 §3.2, `POST /token`): client authentication ([`super::authn`]), grant dispatch,
//! and sender-constrained RFC 9068 JWT access tokens.
//!
//! Implemented grants: `client_credentials` (RFC 6749 §4.4) for the client's own management APIs, with the scopes
//! in [`CLIENT_CREDENTIALS_SCOPES`] (all of them when `scope` is absent). `authorization_code` and `refresh_token`
//! arrive with the authorization endpoint (next slice) and until then are answered `unsupported_grant_type`, as is
//! `password` (FAPI 2.0 §5.3.2.1: never) and any unknown grant.
//!
//! Binding (FAPI 2.0 §5.3.2.1 item 1): a `DPoP` header makes a DPoP-bound token (RFC 9449 §5, `token_type: DPoP`,
//! `cnf.jkt`); otherwise a client certificate on the connection makes a certificate-bound token (RFC 8705 §3,
//! `cnf.x5t#S256`); a plain bearer token only for `sandbox` clients. Tokens are stored as hashes so introspection
//! and revocation work on any replica. This module must never log a token or an assertion.

use axum::Json;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use certs::serve::PeerCertificates;
use serde_json::json;

use super::authn::{self, AuthenticatedClient};
use super::form::OAuthParams;
use crate::app::AppState;
use crate::error::OAuthFailure;
use crate::oauth::access_token::{self, AccessTokenClaims, Confirmation};
use crate::oauth::client_auth::certificate_thumbprint_s256;
use crate::oauth::dpop::DpopRequest;
use crate::store::{ClientProfile, TokenBinding, TokenHash, TokenKind, TokenRecord};

/// Scopes a `client_credentials` token can carry: OpenID Grant Management (query, revoke) and the FDX consent API.
pub const CLIENT_CREDENTIALS_SCOPES: [&str; 3] =
    ["grant_management_query", "grant_management_revoke", "consent_management"];
/// Grants this token endpoint implements today (announced as `grant_types_supported`).
pub const GRANT_TYPES_IMPLEMENTED: [&str; 1] = ["client_credentials"];

/// The `DPoP` header values (RFC 9449 §4.3 check 1 counts them).
pub fn dpop_headers(headers: &HeaderMap) -> Vec<&str> {
    headers.get_all("dpop").iter().map(|v| v.to_str().unwrap_or("")).collect()
}

/// How a newly issued token is bound.
pub async fn binding_for(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<&PeerCertificates>,
    client: &AuthenticatedClient,
    endpoint: &str,
    expected_jkt: Option<&str>,
) -> Result<TokenBinding, OAuthFailure> {
    let proofs = dpop_headers(headers);
    if !proofs.is_empty() {
        let url = state.url(endpoint);
        let request = DpopRequest { method: "POST", uri: &url, proofs: &proofs, access_token: None, expected_jkt };
        let proof = state
            .dpop
            .validate(&request, state.now(), state.dpop_replay.as_ref())
            .await
            .map_err(|e| OAuthFailure::from(e.oauth_error()).with_dpop_nonce(e.fresh_nonce()))?;
        return Ok(TokenBinding::Dpop { jkt: proof.jkt });
    }
    if let Some(leaf) = peer.and_then(PeerCertificates::leaf) {
        return Ok(TokenBinding::Mtls { x5t_s256: certificate_thumbprint_s256(leaf) });
    }
    if client.record.profile == ClientProfile::Sandbox {
        return Ok(TokenBinding::Bearer);
    }
    Err(OAuthFailure::invalid_request(
        "a sender-constrained token needs a DPoP proof or a client certificate (FAPI 2.0 §5.3.2.1)",
    ))
}

/// `POST /token`.
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Option<axum::Extension<PeerCertificates>>,
    form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> Result<Response, OAuthFailure> {
    let params = OAuthParams::from_form(form)?;
    let peer = peer.map(|axum::Extension(p)| p);
    let client = authn::authenticate(&state, &headers, peer.as_ref(), &params).await?;
    let grant_type = params.require("grant_type")?;
    match grant_type {
        "client_credentials" => client_credentials(&state, &headers, peer.as_ref(), &client, &params).await,
        other => Err(OAuthFailure::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!(
                "grant_type {:?} is not supported by this token endpoint",
                other.chars().take(64).collect::<String>()
            ),
        )),
    }
}

/// RFC 6749 §4.4.
async fn client_credentials(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<&PeerCertificates>,
    client: &AuthenticatedClient,
    params: &OAuthParams,
) -> Result<Response, OAuthFailure> {
    if !client.metadata.grant_types.iter().any(|g| g == "client_credentials") {
        return Err(OAuthFailure::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "the client is not registered for client_credentials",
        ));
    }
    let scope = match params.get("scope") {
        None => CLIENT_CREDENTIALS_SCOPES.join(" "),
        Some(requested) => {
            let mut scopes: Vec<&str> = requested.split(' ').filter(|s| !s.is_empty()).collect();
            if let Some(bad) = scopes.iter().find(|s| !CLIENT_CREDENTIALS_SCOPES.contains(s)) {
                return Err(OAuthFailure::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    format!(
                        "scope {:?} is not available with client_credentials",
                        bad.chars().take(64).collect::<String>()
                    ),
                ));
            }
            scopes.sort_unstable();
            scopes.dedup();
            scopes.join(" ")
        }
    };
    let binding = binding_for(state, headers, peer, client, super::TOKEN_PATH, None).await?;
    let now = state.now();
    let lifetime = state.config.access_token_lifetime;
    let cnf = match &binding {
        TokenBinding::Bearer => None,
        TokenBinding::Dpop { jkt } => Some(Confirmation::Jkt(jkt.clone())),
        TokenBinding::Mtls { x5t_s256 } => Some(Confirmation::X5tS256(x5t_s256.clone())),
    };
    let claims = AccessTokenClaims {
        iss: state.issuer.to_string(),
        // RFC 9068 §2.2: for client_credentials the subject is the client itself; no consent is involved (the
        // claim is present but empty, as the format requires a string).
        sub: client.record.client_id.clone(),
        aud: state.issuer.to_string(),
        exp: (now + lifetime).unix_timestamp(),
        iat: now.unix_timestamp(),
        jti: access_token::new_jti().map_err(|e| OAuthFailure::internal(&e))?,
        client_id: client.record.client_id.clone(),
        scope: scope.clone(),
        consent_id: String::new(),
        cnf,
    };
    let token = access_token::issue(&state.keys, &claims).map_err(|e| OAuthFailure::internal(&e))?;
    let record = TokenRecord {
        token_hash: TokenHash::of(&token),
        kind: TokenKind::Access,
        client_id: client.record.client_id.clone(),
        consent_id: None,
        scope: scope.clone(),
        binding: binding.clone(),
        issued_at: now,
        expires_at: now + lifetime,
        revoked_at: None,
        parent_code: None,
    };
    state.store.insert_token(&record).await?;
    let token_type = if matches!(binding, TokenBinding::Dpop { .. }) { "DPoP" } else { "Bearer" };
    let body = json!({
        "access_token": token,
        "token_type": token_type,
        "expires_in": lifetime.whole_seconds(),
        "scope": scope,
    });
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}
