//! The token endpoint (RFC 6749 §3.2, `POST /token`): client authentication ([`super::authn`]), grant dispatch,
//! and sender-constrained RFC 9068 JWT access tokens.
//!
//! Implemented grants: `client_credentials` (RFC 6749 §4.4) for the client's own management APIs, with the scopes
//! in [`CLIENT_CREDENTIALS_SCOPES`] (all of them when `scope` is absent); `authorization_code` (RFC 6749 §4.1.3:
//! single-use code of the same client, same `redirect_uri`, RFC 7636 S256 PKCE, RFC 9449 §10 `dpop_jkt`) and
//! `refresh_token` (RFC 6749 §6: same client, consent still active, same sender constraint; FAPI 2.0 §5.3.2.1:
//! no rotation, the refresh token stays valid until the consent ends). `password` (FAPI 2.0 §5.3.2.1: never) and
//! any unknown grant are answered `unsupported_grant_type`.
//!
//! Consent-bound answers (RFC 9396 §7, OpenID Grant Management §5) carry `authorization_details` and `grant_id`
//! (the consent id); `expires_in` never reaches beyond the consent's expiry, a refresh token (opaque, stored as a
//! hash) expires with the consent and is issued only to clients registered for `refresh_token` and never for a
//! ONE_TIME consent.
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
use time::OffsetDateTime;

use super::authn::{self, AuthenticatedClient};
use super::form::OAuthParams;
use crate::app::AppState;
use crate::consent::Consent;
use crate::error::OAuthFailure;
use crate::oauth::access_token::{self, AccessTokenClaims, Confirmation};
use crate::oauth::client_auth::peer_thumbprint_s256;
use crate::oauth::dpop::DpopRequest;
use crate::oauth::pkce::CodeChallenge;
use crate::store::{ClientProfile, CodeRedemption, StoreError, TokenBinding, TokenHash, TokenKind, TokenRecord};

/// Scopes a `client_credentials` token can carry: OpenID Grant Management (query, revoke) and the FDX consent API.
pub const CLIENT_CREDENTIALS_SCOPES: [&str; 3] =
    ["grant_management_query", "grant_management_revoke", "consent_management"];
/// Grants this token endpoint implements today (announced as `grant_types_supported`).
pub const GRANT_TYPES_IMPLEMENTED: [&str; 3] = ["authorization_code", "refresh_token", "client_credentials"];

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
    if let Some(x5t_s256) = peer.and_then(peer_thumbprint_s256) {
        return Ok(TokenBinding::Mtls { x5t_s256 });
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
        "authorization_code" => authorization_code(&state, &headers, peer.as_ref(), &client, &params).await,
        "refresh_token" => refresh_token(&state, &headers, peer.as_ref(), &client, &params).await,
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
    // RFC 9068 §2.2: for client_credentials the subject is the client itself; no consent is involved.
    let subject = client.record.client_id.clone();
    let minted = AccessToken { client, subject, scope: &scope, consent_id: None, binding: &binding, parent_code: None };
    let (token, record) = sign_access_token(state, minted, now, now + lifetime)?;
    state.store.insert_token(&record).await.map_err(issuing_failure)?;
    Ok(token_response(json!({
        "access_token": token,
        "token_type": token_type(&binding),
        "expires_in": lifetime.whole_seconds(),
        "scope": scope,
    })))
}

/// What an access token is issued for (RFC 9068 §2.2 claims, and the stored record's columns).
struct AccessToken<'a> {
    client: &'a AuthenticatedClient,
    /// RFC 9068 `sub`: the client itself (client_credentials) or the person behind the consent.
    subject: String,
    scope: &'a str,
    /// Empty `consent_id` claim and no stored consent when `None`.
    consent_id: Option<&'a str>,
    binding: &'a TokenBinding,
    parent_code: Option<TokenHash>,
}

/// Signs an RFC 9068 access token living from `now` to `expires_at` with its sender constraint (`cnf`); returns
/// the token and the record to store (hash only). Storing it is the caller's: the store refuses a token of an
/// inactive consent or a replayed code ([`issuing_failure`]).
fn sign_access_token(
    state: &AppState,
    token: AccessToken<'_>,
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Result<(String, TokenRecord), OAuthFailure> {
    let cnf = match token.binding {
        TokenBinding::Bearer => None,
        TokenBinding::Dpop { jkt } => Some(Confirmation::Jkt(jkt.clone())),
        TokenBinding::Mtls { x5t_s256 } => Some(Confirmation::X5tS256(x5t_s256.clone())),
    };
    let client_id = &token.client.record.client_id;
    let claims = AccessTokenClaims {
        iss: state.issuer.to_string(),
        sub: token.subject,
        aud: state.issuer.to_string(),
        exp: expires_at.unix_timestamp(),
        iat: now.unix_timestamp(),
        jti: access_token::new_jti().map_err(|e| OAuthFailure::internal(&e))?,
        client_id: client_id.clone(),
        scope: token.scope.to_owned(),
        consent_id: token.consent_id.unwrap_or_default().to_owned(),
        cnf,
    };
    let signed = access_token::issue(&state.keys, &claims).map_err(|e| OAuthFailure::internal(&e))?;
    let record = TokenRecord {
        token_hash: TokenHash::of(&signed),
        kind: TokenKind::Access,
        client_id: client_id.clone(),
        consent_id: token.consent_id.map(str::to_owned),
        scope: token.scope.to_owned(),
        binding: token.binding.clone(),
        issued_at: now,
        expires_at,
        revoked_at: None,
        parent_code: token.parent_code,
    };
    Ok((signed, record))
}

/// RFC 6749 §5.1 `token_type`: `DPoP` for a DPoP-bound token (RFC 9449 §5), else `Bearer`.
fn token_type(binding: &TokenBinding) -> &'static str {
    if matches!(binding, TokenBinding::Dpop { .. }) { "DPoP" } else { "Bearer" }
}

/// A successful token response (RFC 6749 §5.1: `Cache-Control: no-store`, `Pragma: no-cache`).
pub(crate) fn token_response(body: serde_json::Value) -> Response {
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// RFC 6749 §5.2 `invalid_grant` (400).
fn invalid_grant(description: impl Into<String>) -> OAuthFailure {
    OAuthFailure::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

fn unauthorized_client(grant: &str) -> OAuthFailure {
    OAuthFailure::new(
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
        format!("the client is not registered for {grant}"),
    )
}

fn registered_for(client: &AuthenticatedClient, grant: &str) -> bool {
    client.metadata.grant_types.iter().any(|g| g == grant)
}

/// A store refusal while issuing: the consent ended or the code was replayed meanwhile (both `invalid_grant`).
fn issuing_failure(e: StoreError) -> OAuthFailure {
    match e {
        StoreError::ConsentNotActive(_) => invalid_grant("the consent is no longer active"),
        StoreError::CodeReplayed => invalid_grant("the authorization code was already used"),
        other => OAuthFailure::internal(&other),
    }
}

/// The consent `id` if it belongs to `client_id` and is active at `now`; `invalid_grant` otherwise.
async fn active_consent(state: &AppState, id: &str, client_id: &str) -> Result<Consent, OAuthFailure> {
    match state.store.consent(id).await? {
        Some(c) if c.client_id == client_id && c.is_active(state.now()) => Ok(c),
        _ => Err(invalid_grant("the consent behind this grant is no longer active")),
    }
}

/// RFC 9396 §7: the granted authorization details, with the accounts the person actually chose.
pub fn granted_authorization_details(consent: &Consent) -> serde_json::Value {
    let mut details = consent.request.to_authorization_details();
    if !consent.accounts.is_empty()
        && let Some(first) = details.get_mut(0)
    {
        first["accounts"] = json!(consent.accounts);
    }
    details
}

/// What a consent-bound token response is made of.
pub(crate) struct ConsentGrant<'a> {
    pub(crate) consent: &'a Consent,
    pub(crate) binding: TokenBinding,
    pub(crate) scope: String,
    pub(crate) parent_code: Option<TokenHash>,
    /// Issue a refresh token along with the access token.
    pub(crate) with_refresh: bool,
}

/// Issues (and stores) an access token, and optionally a refresh token, for `grant`; answers the RFC 6749 §5.1
/// body with `authorization_details` and `grant_id` (callers wrap it with [`token_response`]).
pub(crate) async fn issue_for_consent(
    state: &AppState,
    client: &AuthenticatedClient,
    grant: ConsentGrant<'_>,
) -> Result<serde_json::Value, OAuthFailure> {
    let now = crate::consent::whole_seconds(state.now());
    let consent = grant.consent;
    let consent_end = consent.expires_at.unwrap_or(now);
    let expires_at = std::cmp::min(now + state.config.access_token_lifetime, consent_end);
    if expires_at <= now {
        return Err(invalid_grant("the consent has expired"));
    }
    let minted = AccessToken {
        client,
        subject: consent.subject.as_ref().map(|s| s.person.clone()).unwrap_or_default(),
        scope: &grant.scope,
        consent_id: Some(&consent.id),
        binding: &grant.binding,
        parent_code: grant.parent_code,
    };
    let (token, record) = sign_access_token(state, minted, now, expires_at)?;
    let mut body = json!({
        "access_token": token,
        "token_type": token_type(&grant.binding),
        "expires_in": (expires_at - now).whole_seconds(),
        "scope": grant.scope,
        "authorization_details": granted_authorization_details(consent),
        "grant_id": consent.id,
    });
    if grant.with_refresh {
        let refresh = super::random_token(32)?;
        let refresh_record = TokenRecord {
            token_hash: TokenHash::of(&refresh),
            kind: TokenKind::Refresh,
            expires_at: consent_end,
            ..record.clone()
        };
        // Both or neither (one transaction, one commit).
        state.store.insert_tokens(&[record, refresh_record]).await.map_err(issuing_failure)?;
        body["refresh_token"] = json!(refresh);
    } else {
        state.store.insert_token(&record).await.map_err(issuing_failure)?;
    }
    Ok(body)
}

/// RFC 6749 §4.1.3 with RFC 7636 §4.6 and RFC 9449 §10.
async fn authorization_code(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<&PeerCertificates>,
    client: &AuthenticatedClient,
    params: &OAuthParams,
) -> Result<Response, OAuthFailure> {
    if !registered_for(client, "authorization_code") {
        return Err(unauthorized_client("authorization_code"));
    }
    let presented = params.require("code")?;
    let code_hash = TokenHash::of(presented);
    let code = match state.store.redeem_code(&code_hash, &client.record.client_id, state.now()).await? {
        CodeRedemption::Redeemed(code) => code,
        CodeRedemption::Replayed { tokens_revoked, .. } => {
            tracing::warn!(client_id = %client.record.client_id, tokens_revoked, "authorization code replayed");
            return Err(invalid_grant("the authorization code was already used; its tokens are revoked"));
        }
        CodeRedemption::Expired(_) => return Err(invalid_grant("the authorization code has expired")),
        CodeRedemption::WrongClient | CodeRedemption::NotFound => {
            return Err(invalid_grant("the authorization code is not valid for this client"));
        }
    };
    // RFC 6749 §4.1.3: the redirect_uri must be identical to the one of the authorization request.
    if params.get("redirect_uri") != Some(code.redirect_uri.as_str()) {
        return Err(invalid_grant("redirect_uri does not match the authorization request"));
    }
    let challenge = CodeChallenge::from_stored(&code.pkce_challenge).map_err(|e| OAuthFailure::internal(&e))?;
    challenge.verify(params.get("code_verifier")).map_err(|e| OAuthFailure::from(e.oauth_error()))?;
    let binding = binding_for(state, headers, peer, client, super::TOKEN_PATH, code.dpop_jkt.as_deref()).await?;
    // RFC 9449 §10: a code bound to a DPoP key at PAR can only be redeemed with a proof of that key.
    if code.dpop_jkt.is_some() && !matches!(binding, TokenBinding::Dpop { .. }) {
        return Err(OAuthFailure::new(
            StatusCode::BAD_REQUEST,
            "invalid_dpop_proof",
            "this code was bound to a DPoP key (dpop_jkt): a proof of that key is required",
        ));
    }
    let consent = active_consent(state, &code.consent_id, &client.record.client_id).await?;
    let with_refresh = consent.allows_refresh() && registered_for(client, "refresh_token");
    let scope = consent.request.scope();
    let grant = ConsentGrant { consent: &consent, binding, scope, parent_code: Some(code_hash), with_refresh };
    Ok(token_response(issue_for_consent(state, client, grant).await?))
}

/// RFC 6749 §6 (FAPI 2.0 §5.3.2.1: no refresh token rotation; RFC 9449 §5 / RFC 8705 §3: same sender constraint).
async fn refresh_token(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<&PeerCertificates>,
    client: &AuthenticatedClient,
    params: &OAuthParams,
) -> Result<Response, OAuthFailure> {
    if !registered_for(client, "refresh_token") {
        return Err(unauthorized_client("refresh_token"));
    }
    let presented = params.require("refresh_token")?;
    let record = match state.store.token(&TokenHash::of(presented)).await? {
        Some(r)
            if r.kind == TokenKind::Refresh && r.client_id == client.record.client_id && r.is_active(state.now()) =>
        {
            r
        }
        _ => return Err(invalid_grant("the refresh token is not valid for this client")),
    };
    let consent_id = record.consent_id.as_deref().ok_or_else(|| invalid_grant("the refresh token has no consent"))?;
    let consent = active_consent(state, consent_id, &client.record.client_id).await?;
    let expected_jkt = match &record.binding {
        TokenBinding::Dpop { jkt } => Some(jkt.as_str()),
        _ => None,
    };
    let binding = binding_for(state, headers, peer, client, super::TOKEN_PATH, expected_jkt).await?;
    if binding != record.binding {
        return Err(invalid_grant("the refresh token is bound to another key or certificate"));
    }
    // RFC 6749 §6: a narrower scope may be asked for, never a wider one.
    let granted = record.scope.split(' ').filter(|s| !s.is_empty()).collect::<Vec<_>>();
    let scope = match params.get("scope") {
        None => record.scope.clone(),
        Some(requested) => {
            let asked: Vec<&str> = requested.split(' ').filter(|s| !s.is_empty()).collect();
            if asked.is_empty() || asked.iter().any(|s| !granted.contains(s)) {
                return Err(OAuthFailure::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    "the requested scope exceeds the scope granted with the refresh token",
                ));
            }
            granted.iter().filter(|g| asked.contains(g)).copied().collect::<Vec<_>>().join(" ")
        }
    };
    let grant =
        ConsentGrant { consent: &consent, binding, scope, parent_code: record.parent_code, with_refresh: false };
    Ok(token_response(issue_for_consent(state, client, grant).await?))
}
