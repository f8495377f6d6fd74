//! RFC 7009 token revocation (`POST /revoke`) for authenticated clients.
//!
//! RFC 7009 §2.2: an unknown, expired or already revoked token is answered 200 like a successful revocation (the
//! client cannot do anything about it); §2.1: a token issued to another client is refused and stays valid. The
//! `token_type_hint` is accepted and not needed (tokens are looked up by hash). This module must never log the
//! presented token.

use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use certs::serve::PeerCertificates;

use super::authn;
use super::form::OAuthParams;
use crate::app::AppState;
use crate::error::OAuthFailure;
use crate::store::TokenHash;

/// `POST /revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Option<axum::Extension<PeerCertificates>>,
    form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> Result<Response, OAuthFailure> {
    let params = OAuthParams::from_form(form)?;
    let peer = peer.map(|axum::Extension(p)| p);
    let client = authn::authenticate(&state, &headers, peer.as_ref(), &params).await?;
    let token = params.require("token")?;
    if let Some(hint) = params.get("token_type_hint")
        && !matches!(hint, "access_token" | "refresh_token")
    {
        // RFC 7009 §2.2.1.
        return Err(OAuthFailure::new(
            StatusCode::BAD_REQUEST,
            "unsupported_token_type",
            "token_type_hint must be access_token or refresh_token",
        ));
    }
    let hash = TokenHash::of(token);
    if let Some(record) = state.store.token(&hash).await? {
        if record.client_id != client.record.client_id {
            return Err(OAuthFailure::new(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                "the token was not issued to this client",
            ));
        }
        if state.store.revoke_token(&hash, state.now()).await? {
            tracing::info!(client_id = %record.client_id, kind = record.kind.as_str(), "token revoked");
        }
    }
    let mut response = StatusCode::OK.into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
