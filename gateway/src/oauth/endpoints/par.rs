//! RFC 9126 pushed authorization requests (`POST /par`): the only way a request reaches the authorization
//! endpoint (FAPI 2.0 §5.3.2.2 item 2; announced as `require_pushed_authorization_requests`).
//!
//! Checks, in order: client authentication (RFC 9126 §2.1, same methods as the token endpoint); no `request_uri`
//! (§2.1) and no JAR `request` object (not supported here); `client_id`, when sent, names the authenticated client;
//! `response_type` is exactly `code` (FAPI 2.0 §5.3.2.2 item 1: `token`, `code id_token` refused with
//! `unsupported_response_type`); `redirect_uri` present and one of the registered ones, compared as exact strings
//! (RFC 9700 §4.1.3); PKCE with S256 (RFC 7636, FAPI 2.0 §5.3.2.2 item 3); `state` at most 512 characters; the
//! consent request, either RFC 9396 `authorization_details` (type `fdx_consent`) or an FDX 6.2 ConsentRequest in
//! the `fdx_consent_request` parameter (exactly one of them), whose purposes the client must have declared; and
//! `dpop_jkt` (RFC 9449 §10), checked against a DPoP proof when one is sent too.
//!
//! The validated request is stored and answered 201 with `request_uri` and `expires_in` (§2.2). This module must
//! never accept a request it has not fully checked, and never log the request's secrets (there are none in it:
//! the verifier stays with the client).

use axum::Json;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use certs::serve::PeerCertificates;
use serde_json::json;

use super::form::OAuthParams;
use super::token::dpop_headers;
use super::{authn, random_token};
use crate::app::AppState;
use crate::consent::ConsentRequest;
use crate::error::OAuthFailure;
use crate::oauth::dpop::DpopRequest;
use crate::oauth::pkce::CodeChallenge;
use crate::store::ParRecord;

/// RFC 9126 §2.2: the URN prefix of a `request_uri`.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
const MAX_STATE_LEN: usize = 512;

fn unsupported_response_type(description: String) -> OAuthFailure {
    OAuthFailure::new(StatusCode::BAD_REQUEST, "unsupported_response_type", description)
}

/// `POST /par`.
pub async fn push(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Option<axum::Extension<PeerCertificates>>,
    form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> Result<Response, OAuthFailure> {
    let params = OAuthParams::from_form(form)?;
    let peer = peer.map(|axum::Extension(p)| p);
    let client = authn::authenticate(&state, &headers, peer.as_ref(), &params).await?;
    let client_id = client.record.client_id.as_str();

    if params.contains("request_uri") {
        return Err(OAuthFailure::invalid_request("request_uri must not be pushed (RFC 9126 §2.1)"));
    }
    if params.contains("request") {
        return Err(OAuthFailure::new(
            StatusCode::BAD_REQUEST,
            "request_not_supported",
            "request objects are not supported; push the parameters themselves",
        ));
    }
    if params.get("client_id").is_some_and(|id| id != client_id) {
        return Err(OAuthFailure::invalid_request("client_id must be the authenticated client"));
    }
    match params.require("response_type")? {
        "code" => {}
        other => {
            return Err(unsupported_response_type(format!(
                "response_type {:?} is not allowed: only \"code\" (FAPI 2.0 §5.3.2.2)",
                other.chars().take(64).collect::<String>()
            )));
        }
    }
    if !client.metadata.grant_types.iter().any(|g| g == "authorization_code") {
        return Err(OAuthFailure::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "the client is not registered for authorization_code",
        ));
    }
    let redirect_uri = params.require("redirect_uri")?;
    if !client.metadata.redirect_uris.iter().any(|r| r == redirect_uri) {
        return Err(OAuthFailure::invalid_request("redirect_uri is not one of the client's registered redirect_uris"));
    }
    let challenge = CodeChallenge::from_request(params.get("code_challenge"), params.get("code_challenge_method"))
        .map_err(|e| OAuthFailure::from(e.oauth_error()))?;
    let state_param = params.get("state");
    if state_param.is_some_and(|s| s.len() > MAX_STATE_LEN) {
        return Err(OAuthFailure::invalid_request("state is longer than 512 characters"));
    }

    let request = match (params.get("authorization_details"), params.get("fdx_consent_request")) {
        (Some(details), None) => ConsentRequest::from_authorization_details(details),
        (None, Some(fdx)) => ConsentRequest::from_fdx_json(fdx),
        (Some(_), Some(_)) => {
            return Err(OAuthFailure::invalid_request(
                "send either authorization_details or fdx_consent_request, not both",
            ));
        }
        (None, None) => {
            return Err(OAuthFailure::invalid_request(
                "the consent request is missing: send authorization_details (type fdx_consent) or fdx_consent_request",
            ));
        }
    }
    .map_err(|e| OAuthFailure::new(StatusCode::BAD_REQUEST, e.oauth_error(), e.description()))?;
    if let Some(undeclared) = request.purposes.iter().find(|p| !client.metadata.purposes.contains(p)) {
        return Err(OAuthFailure::invalid_request(format!(
            "purpose {:?} was not declared in the client's registration",
            undeclared.as_str()
        )));
    }
    if let Some(scope) = params.get("scope") {
        // RFC 9396 §3.1: scope and authorization_details may be combined; every requested scope must be one the
        // consent request grants (so the two cannot disagree).
        let granted = request.scope();
        if let Some(extra) = scope.split(' ').find(|s| !s.is_empty() && !granted.split(' ').any(|g| g == *s)) {
            return Err(OAuthFailure::new(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                format!("scope {:?} is not covered by the consent request", extra.chars().take(64).collect::<String>()),
            ));
        }
    }

    // RFC 9449 §10: dpop_jkt binds the code to a key; a DPoP proof sent with PAR must be made with that key.
    let mut dpop_jkt = params.get("dpop_jkt").map(str::to_owned);
    if let Some(jkt) = &dpop_jkt {
        let is_thumbprint = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(jkt).is_ok_and(|d| d.len() == 32);
        if !is_thumbprint {
            return Err(OAuthFailure::invalid_request("dpop_jkt must be a base64url SHA-256 JWK thumbprint"));
        }
    }
    let proofs = dpop_headers(&headers);
    if !proofs.is_empty() {
        let url = state.url(super::PAR_PATH);
        let dpop_request = DpopRequest {
            method: "POST",
            uri: &url,
            proofs: &proofs,
            access_token: None,
            expected_jkt: dpop_jkt.as_deref(),
        };
        let proof = state
            .dpop
            .validate(&dpop_request, state.now(), state.dpop_replay.as_ref())
            .await
            .map_err(|e| OAuthFailure::from(e.oauth_error()).with_dpop_nonce(e.fresh_nonce()))?;
        dpop_jkt = Some(proof.jkt);
    }

    let now = state.now();
    let lifetime = state.config.par_lifetime;
    let record = ParRecord {
        request_uri: format!("{REQUEST_URI_PREFIX}{}", random_token(32)?),
        client_id: client_id.to_owned(),
        params: json!({
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "state": state_param,
            "code_challenge": challenge.as_str(),
            "code_challenge_method": "S256",
            "scope": request.scope(),
            "authorization_details": request.to_authorization_details(),
            "dpop_jkt": dpop_jkt,
        }),
        expires_at: now + lifetime,
        used_at: None,
    };
    state.store.insert_par_request(&record).await?;
    let body = json!({"request_uri": record.request_uri, "expires_in": lifetime.whole_seconds()});
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
