//! RFC 7662 token introspection (`POST /introspect`) for authenticated clients.
//!
//! A client learns about its own tokens only: a token of another client, an unknown, expired or revoked token all
//! answer `{"active": false}` and nothing else (RFC 7662 §2.2, §4: the server must not reveal token details to a
//! party that is not authorized to see them). Tokens are looked up by hash, so any replica answers. This module
//! must never log the presented token.

use axum::Json;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use certs::serve::PeerCertificates;
use serde_json::{Value, json};

use super::authn;
use super::form::OAuthParams;
use crate::app::AppState;
use crate::error::OAuthFailure;
use crate::store::{TokenBinding, TokenHash, TokenKind};

fn no_store(body: Value) -> Response {
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /introspect`.
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Option<axum::Extension<PeerCertificates>>,
    form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> Result<Response, OAuthFailure> {
    let params = OAuthParams::from_form(form)?;
    let peer = peer.map(|axum::Extension(p)| p);
    let client = authn::authenticate(&state, &headers, peer.as_ref(), &params).await?;
    let token = params.require("token")?;
    let now = state.now();
    let record = match state.store.token(&TokenHash::of(token)).await? {
        Some(r) if r.client_id == client.record.client_id && r.is_active(now) => r,
        _ => return Ok(no_store(json!({"active": false}))),
    };
    // A consent-bound token is active only while its consent is (revocation already revoked its tokens).
    if let Some(consent_id) = &record.consent_id {
        let consent_active = state.store.consent(consent_id).await?.is_some_and(|c| c.is_active(now));
        if !consent_active {
            return Ok(no_store(json!({"active": false})));
        }
    }
    let mut body = json!({
        "active": true,
        "iss": &*state.issuer,
        "client_id": record.client_id,
        "scope": record.scope,
        "iat": record.issued_at.unix_timestamp(),
        "exp": record.expires_at.unix_timestamp(),
        "token_type": match (record.kind, &record.binding) {
            (TokenKind::Refresh, _) => "refresh_token",
            (TokenKind::Access, TokenBinding::Dpop { .. }) => "DPoP",
            (TokenKind::Access, _) => "Bearer",
        },
    });
    match &record.binding {
        TokenBinding::Dpop { jkt } => body["cnf"] = json!({"jkt": jkt}),
        TokenBinding::Mtls { x5t_s256 } => body["cnf"] = json!({"x5t#S256": x5t_s256}),
        TokenBinding::Bearer => {}
    }
    if let Some(consent_id) = record.consent_id {
        body["consent_id"] = json!(consent_id);
    }
    Ok(no_store(body))
}
