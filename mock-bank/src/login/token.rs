//! The token and revocation endpoints on the bank's API listener (HTTPS with a required client certificate).
//!
//! Client authentication is RFC 8705 §2.1 `tls_client_auth`: the TLS layer has verified that the certificate chains
//! to the bankgate CA; here its subject CN must equal the `client_id` parameter of a registered client. Thin
//! handlers: the rules are in `service`. Errors are RFC 6749 §5.2 JSON with `Cache-Control: no-store`; nothing here
//! logs a token, code, verifier or password.
//!
//! Grants: `authorization_code` (RFC 6749 §4.1.3 with RFC 7636), `refresh_token` (§6), and the sandbox-only
//! extension grant (§4.5) [`SANDBOX_LOGIN_GRANT`]: `username`, `password`, `mfa_code` (MFA users), `scope`,
//! `purpose`, `platform`, `recipient`, `duration_days`, `account_ids` (space separated; default all the customer's
//! accounts) in, the same token response as a code exchange out (rules in `service::sandbox_login`). Every mock bank
//! offers it: a mock bank is a sandbox, and its test users' passwords are public. A real bank never would.
//!
//! Every grant's response carries the pairwise `sub` (OpenID Connect Core 1.0 §8.1, `subject`), computed from the
//! bank's seed and id on each request (one SHA-256 and one HMAC). A code from a sign-in only (`scope=openid`), and
//! the sandbox grant with `scope=openid`, answer `sub` and `scope=openid` without a consent or refresh token.

use super::{
    AuthError, TokenResponse,
    params::Params,
    service::{self, SandboxLogin},
    subject::PairwiseSubjects,
};
use crate::state::BankState;
use axum::{
    Extension, Form, Json, Router,
    extract::{DefaultBodyLimit, State, rejection::FormRejection},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
    routing::post,
};
use certs::serve::PeerCertificates;
use std::sync::Arc;

/// Largest token or revocation request body.
const BODY_LIMIT: usize = 16 * 1024;
/// The RFC 6749 §4.5 extension grant type of the sandbox shortcut (an absolute URI, as §4.5 requires).
pub const SANDBOX_LOGIN_GRANT: &str = "urn:bankgate:params:oauth:grant-type:sandbox-login";

pub(super) fn router() -> Router<Arc<BankState>> {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/oauth/revoke", post(revoke))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

type FormPairs = Result<Form<Vec<(String, String)>>, FormRejection>;

fn params(form: FormPairs) -> Result<Params, AuthError> {
    match form {
        Ok(Form(pairs)) => Ok(Params::new(pairs)),
        Err(rejection) => Err(AuthError::InvalidRequest(format!(
            "the body must be application/x-www-form-urlencoded and at most {BODY_LIMIT} bytes ({rejection})"
        ))),
    }
}

fn single<'a>(params: &'a Params, name: &str) -> Result<Option<&'a str>, AuthError> {
    params.get(name).map_err(|r| AuthError::InvalidRequest(format!("parameter `{}` appears more than once", r.0)))
}

fn required<'a>(params: &'a Params, name: &str) -> Result<&'a str, AuthError> {
    single(params, name)?.ok_or_else(|| AuthError::InvalidRequest(format!("parameter `{name}` is required")))
}

/// RFC 8705 §2.1 tls_client_auth: the client named by `client_id` presented a certificate with that subject CN.
fn authenticate_client(
    state: &BankState,
    headers: &HeaderMap,
    peer: Option<&PeerCertificates>,
    params: &Params,
) -> Result<String, AuthError> {
    // RFC 6749 §2.3: a client must not use more than one authentication method in a request.
    if headers.contains_key(header::AUTHORIZATION)
        || single(params, "client_secret")?.is_some()
        || single(params, "client_assertion")?.is_some()
    {
        return Err(AuthError::InvalidRequest(
            "this bank authenticates clients by TLS client certificate only (tls_client_auth)".into(),
        ));
    }
    // RFC 8705 §2: the client_id parameter identifies the client whose certificate must be presented.
    let client_id = single(params, "client_id")?
        .ok_or_else(|| AuthError::InvalidClient("client_id is required with tls_client_auth".into()))?;
    let common_name = peer
        .and_then(|p| p.leaf_common_name())
        .ok_or_else(|| AuthError::InvalidClient("a client certificate is required".into()))?;
    if common_name != client_id {
        return Err(AuthError::InvalidClient("the client certificate does not belong to this client_id".into()));
    }
    if state.auth.client(client_id).is_none() {
        return Err(AuthError::InvalidClient("unknown client".into()));
    }
    Ok(client_id.to_owned())
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// RFC 6749 §3.2 token endpoint: `authorization_code` (§4.1.3, with RFC 7636 `code_verifier`), `refresh_token`
/// (§6) and the sandbox-login extension (§4.5) grants.
async fn token(
    State(state): State<Arc<BankState>>,
    headers: HeaderMap,
    peer: Option<Extension<PeerCertificates>>,
    form: FormPairs,
) -> Result<Response, AuthError> {
    let params = params(form)?;
    let client_id = authenticate_client(&state, &headers, peer.as_ref().map(|p| &p.0), &params)?;
    let subjects = PairwiseSubjects::of(&state.ledger);
    let response: TokenResponse = match required(&params, "grant_type")? {
        "authorization_code" => {
            let code = required(&params, "code")?;
            let redirect_uri = required(&params, "redirect_uri")?;
            let verifier = single(&params, "code_verifier")?
                .ok_or_else(|| AuthError::InvalidRequest("code_verifier is required (PKCE, RFC 7636)".into()))?;
            state.auth.exchange_code(&subjects, &client_id, code, redirect_uri, verifier).await?
        }
        "refresh_token" => {
            let refresh_token = required(&params, "refresh_token")?;
            state.auth.refresh(&subjects, &client_id, refresh_token, single(&params, "scope")?).await?
        }
        SANDBOX_LOGIN_GRANT => {
            let request = SandboxLogin {
                username: required(&params, "username")?,
                password: required(&params, "password")?,
                mfa_code: single(&params, "mfa_code")?,
                scope: single(&params, "scope")?,
                purpose: single(&params, "purpose")?,
                platform: single(&params, "platform")?,
                recipient: single(&params, "recipient")?,
                duration_days: single(&params, "duration_days")?,
                account_ids: single(&params, "account_ids")?,
            };
            service::sandbox_login(&state, &subjects, &client_id, &request).await?
        }
        _ => {
            return Err(AuthError::UnsupportedGrantType(format!(
                "this bank supports authorization_code, refresh_token and {SANDBOX_LOGIN_GRANT}"
            )));
        }
    };
    Ok(no_store(Json(response).into_response()))
}

/// RFC 7009 §2.1 revocation endpoint: 200 for any token the client may revoke or that is unknown (§2.2).
async fn revoke(
    State(state): State<Arc<BankState>>,
    headers: HeaderMap,
    peer: Option<Extension<PeerCertificates>>,
    form: FormPairs,
) -> Result<Response, AuthError> {
    let params = params(form)?;
    let client_id = authenticate_client(&state, &headers, peer.as_ref().map(|p| &p.0), &params)?;
    let token = required(&params, "token")?;
    // RFC 7009 §2.1: token_type_hint is only a hint; the bank searches all its token types either way.
    let _hint = single(&params, "token_type_hint")?;
    state.auth.revoke_token(&client_id, token).await?;
    Ok(no_store(axum::http::StatusCode::OK.into_response()))
}
