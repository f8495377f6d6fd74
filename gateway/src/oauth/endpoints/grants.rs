//! The client's management view of its consents: OpenID Grant Management (`GET`/`DELETE /grants/{grant_id}`,
//! grant_id = consent id) and the FDX 6.2 consent API (`GET /consents/{consentId}`, `PUT` and
//! `GET /consents/{consentId}/revocation`).
//!
//! Callers present a `client_credentials` access token of their own (RFC 9068 JWT, still active in the store,
//! carrying no consent) with scope `grant_management_query` / `grant_management_revoke` (Grant Management §6) or
//! `consent_management` (FDX), sender-constrained as issued: `Authorization: DPoP` plus a proof with `ath` for the
//! request (RFC 9449 §7), or `Bearer` over the certificate the token is bound to (RFC 8705 §3). A consent of
//! another client is answered exactly like an unknown one (404), so its existence never leaks. Revocation goes
//! through [`Store::revoke_consent`](crate::store::Store::revoke_consent), which revokes every token of the consent
//! in the same transaction, and is recorded with initiator `app`.
//!
//! Errors: RFC 6750 §3.1 (`invalid_token`, `insufficient_scope`) on `/grants`; FDX `{code, message, debugMessage}`
//! on `/consents` (FDX 6.2 error codes 401 Invalid Input, 603 Authentication failed, 403 Forbidden, 1107 Data not
//! found, 409 Conflict). This module must never log or echo a presented token.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use certs::serve::PeerCertificates;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::token::granted_authorization_details;
use crate::app::AppState;
use crate::consent::{Consent, ConsentStatus, DataCluster, Initiator, RevocationReason};
use crate::error::OAuthFailure;
use crate::store::ConsentRevocationOutcome;

/// OpenID Grant Management §6.3 query scope.
pub const GRANT_QUERY_SCOPE: &str = "grant_management_query";
/// OpenID Grant Management §6.4 revoke scope.
pub const GRANT_REVOKE_SCOPE: &str = "grant_management_revoke";
/// The scope of the FDX consent API.
pub const CONSENT_MANAGEMENT_SCOPE: &str = "consent_management";

/// The routes of this module (merged into [`crate::app::router`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/grants/{grant_id}", get(query_grant).delete(revoke_grant))
        .route("/consents/{consent_id}", get(get_consent))
        .route("/consents/{consent_id}/revocation", get(get_revocations).put(put_revocation))
}

/// Why a management request was refused before looking at the consent.
#[derive(Debug)]
enum CallerError {
    /// RFC 6750 §3.1 `invalid_token` (also: a failed DPoP proof or certificate binding).
    InvalidToken(String),
    /// RFC 6750 §3.1 `insufficient_scope`.
    InsufficientScope(&'static str),
    Internal(String),
}

impl From<crate::store::StoreError> for CallerError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

/// Checks the management access token of a request to `method path`; returns the calling client's id.
async fn authorize_caller(
    state: &AppState,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    peer: Option<&PeerCertificates>,
    required_scope: &'static str,
) -> Result<String, CallerError> {
    let presented = super::presented::check(state, method, path, headers, peer).await.map_err(|e| match e {
        super::presented::PresentedTokenError::Invalid(d) | super::presented::PresentedTokenError::InvalidDpop(d) => {
            CallerError::InvalidToken(d)
        }
        super::presented::PresentedTokenError::Internal(e) => CallerError::Internal(e.to_string()),
    })?;
    let record = presented.record;
    if record.consent_id.is_some() {
        return Err(CallerError::InvalidToken("a client_credentials access token is required".into()));
    }
    if !record.scope.split(' ').any(|s| s == required_scope) {
        return Err(CallerError::InsufficientScope(required_scope));
    }
    Ok(record.client_id)
}

/// The consent `id` when it belongs to `client_id` (anything else looks the same as an unknown consent).
async fn own_consent(state: &AppState, id: &str, client_id: &str) -> Result<Option<Consent>, CallerError> {
    Ok(state.store.consent(id).await?.filter(|c| c.client_id == client_id && c.status != ConsentStatus::Pending))
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

// -------------------------------------------------------------------------------------------------------------
// OpenID Grant Management

fn grant_failure(e: CallerError) -> OAuthFailure {
    match e {
        CallerError::InvalidToken(d) => OAuthFailure::invalid_token(d),
        CallerError::InsufficientScope(scope) => OAuthFailure::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            format!("the access token lacks the {scope} scope"),
        ),
        CallerError::Internal(cause) => OAuthFailure::internal(&cause),
    }
}

fn grant_not_found() -> OAuthFailure {
    OAuthFailure::new(StatusCode::NOT_FOUND, "invalid_grant", "no such grant for this client")
}

/// `GET /grants/{grant_id}` (Grant Management §6.3): the scopes and authorization details of an active grant.
pub async fn query_grant(
    State(state): State<AppState>,
    Path(grant_id): Path<String>,
    headers: HeaderMap,
    peer: Option<axum::Extension<PeerCertificates>>,
) -> Result<Response, OAuthFailure> {
    let peer = peer.map(|axum::Extension(p)| p);
    let path = format!("/grants/{grant_id}");
    let client_id = authorize_caller(&state, "GET", &path, &headers, peer.as_ref(), GRANT_QUERY_SCOPE)
        .await
        .map_err(grant_failure)?;
    let consent = own_consent(&state, &grant_id, &client_id).await.map_err(grant_failure)?;
    // A grant that ended (revoked or expired) no longer exists for Grant Management.
    let consent = consent.filter(|c| c.is_active(state.now())).ok_or_else(grant_not_found)?;
    let body = json!({
        "scopes": [{"scope": consent.request.scope()}],
        "authorization_details": granted_authorization_details(&consent),
        "status": consent.status.fdx_status(),
        "expires_at": consent.expires_at.map(|t| t.unix_timestamp()),
    });
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `DELETE /grants/{grant_id}` (Grant Management §6.4): revokes the grant and every token issued under it; 204.
pub async fn revoke_grant(
    State(state): State<AppState>,
    Path(grant_id): Path<String>,
    headers: HeaderMap,
    peer: Option<axum::Extension<PeerCertificates>>,
) -> Result<Response, OAuthFailure> {
    let peer = peer.map(|axum::Extension(p)| p);
    let path = format!("/grants/{grant_id}");
    let client_id = authorize_caller(&state, "DELETE", &path, &headers, peer.as_ref(), GRANT_REVOKE_SCOPE)
        .await
        .map_err(grant_failure)?;
    if own_consent(&state, &grant_id, &client_id).await.map_err(grant_failure)?.is_none() {
        return Err(grant_not_found());
    }
    let outcome =
        crate::revocation::revoke(&state, &grant_id, RevocationReason::UserAction, Initiator::App, state.now()).await?;
    match outcome {
        ConsentRevocationOutcome::Revoked { .. } => Ok(StatusCode::NO_CONTENT.into_response()),
        ConsentRevocationOutcome::NotFound | ConsentRevocationOutcome::Refused(_) => Err(grant_not_found()),
    }
}

// -------------------------------------------------------------------------------------------------------------
// FDX consent API

/// An FDX error response (`Error` entity: `code`, `message`, `debugMessage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdxError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: &'static str,
    pub debug_message: String,
}

impl FdxError {
    fn new(status: StatusCode, code: &'static str, message: &'static str, debug: impl Into<String>) -> Self {
        Self { status, code, message, debug_message: debug.into() }
    }

    fn invalid_input(debug: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "401", "Invalid Input", debug)
    }

    fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "1107", "Data not found for request parameters", "no such consent")
    }
}

impl From<CallerError> for FdxError {
    fn from(e: CallerError) -> Self {
        match e {
            CallerError::InvalidToken(d) => Self::new(StatusCode::UNAUTHORIZED, "603", "Authentication failed", d),
            CallerError::InsufficientScope(scope) => {
                Self::new(StatusCode::FORBIDDEN, "403", "Forbidden", format!("the access token lacks {scope}"))
            }
            CallerError::Internal(cause) => {
                tracing::error!(%cause, "internal failure on the FDX consent API");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "500", "Internal server error", "try again later")
            }
        }
    }
}

impl From<crate::store::StoreError> for FdxError {
    fn from(e: crate::store::StoreError) -> Self {
        CallerError::from(e).into()
    }
}

impl IntoResponse for FdxError {
    fn into_response(self) -> Response {
        let body = json!({"code": self.code, "message": self.message, "debugMessage": self.debug_message});
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("DPoP, Bearer"));
        }
        response
    }
}

/// FDX 6.2 `ConsentGrant` of `consent` as of `now`.
pub fn fdx_consent_grant(consent: &Consent, client_name: &str, now: OffsetDateTime) -> Value {
    let request = &consent.request;
    let (customer, account): (Vec<DataCluster>, Vec<DataCluster>) = request
        .clusters
        .iter()
        .partition(|c| matches!(c, DataCluster::CustomerContact | DataCluster::CustomerPersonal));
    let mut resources: Vec<Value> = Vec::new();
    if !account.is_empty() {
        for id in &consent.accounts {
            resources.push(json!({"resourceType": "ACCOUNT", "resourceId": id, "dataClusters": account}));
        }
    }
    if let (false, Some(subject)) = (customer.is_empty(), &consent.subject) {
        resources.push(json!({"resourceType": "CUSTOMER", "resourceId": subject.person, "dataClusters": customer}));
    }
    let mut parties = vec![json!({"name": client_name, "type": Initiator::App.fdx_party_type()})];
    if let Some(subject) = &consent.subject {
        parties.push(json!({"name": subject.bank, "type": Initiator::Bank.fdx_party_type()}));
    }
    let mut body = json!({
        "id": consent.id,
        "status": consent.status_at(now).fdx_status(),
        "parties": parties,
        "createdTime": rfc3339(consent.created_at),
        "updatedTime": rfc3339(consent.updated_at),
        "durationType": request.duration.kind(),
        "lookbackPeriod": request.lookback.days(),
        "resources": resources,
    });
    if let Some(end) = consent.expires_at {
        body["expirationTime"] = json!(rfc3339(end));
    }
    if let Some(days) = request.duration.period_days() {
        body["durationPeriod"] = json!(days);
    }
    body
}

/// `GET /consents/{consentId}` (FDX 6.2 getConsentGrant).
pub async fn get_consent(
    State(state): State<AppState>,
    Path(consent_id): Path<String>,
    headers: HeaderMap,
    peer: Option<axum::Extension<PeerCertificates>>,
) -> Result<Response, FdxError> {
    let peer = peer.map(|axum::Extension(p)| p);
    let path = format!("/consents/{consent_id}");
    let client_id = authorize_caller(&state, "GET", &path, &headers, peer.as_ref(), CONSENT_MANAGEMENT_SCOPE).await?;
    let consent = own_consent(&state, &consent_id, &client_id).await?.ok_or_else(FdxError::not_found)?;
    let client_name = match state.store.client(&client_id).await? {
        Some(c) => c.metadata.get("client_name").and_then(Value::as_str).unwrap_or(&client_id).to_owned(),
        None => client_id.clone(),
    };
    Ok(Json(fdx_consent_grant(&consent, &client_name, state.now())).into_response())
}

/// `GET /consents/{consentId}/revocation` (FDX 6.2 getConsentRevocation): the revocation history.
pub async fn get_revocations(
    State(state): State<AppState>,
    Path(consent_id): Path<String>,
    headers: HeaderMap,
    peer: Option<axum::Extension<PeerCertificates>>,
) -> Result<Response, FdxError> {
    let peer = peer.map(|axum::Extension(p)| p);
    let path = format!("/consents/{consent_id}/revocation");
    let client_id = authorize_caller(&state, "GET", &path, &headers, peer.as_ref(), CONSENT_MANAGEMENT_SCOPE).await?;
    let consent = own_consent(&state, &consent_id, &client_id).await?.ok_or_else(FdxError::not_found)?;
    let revocations: Vec<Value> = consent
        .revocations
        .iter()
        .map(|r| {
            json!({
                "status": ConsentStatus::Revoked.fdx_status(),
                "reason": r.reason.as_fdx(),
                "initiator": r.initiator.fdx_party_type(),
                "updatedTime": rfc3339(r.at),
            })
        })
        .collect();
    Ok(Json(json!({"revocations": revocations})).into_response())
}

/// `PUT /consents/{consentId}/revocation` (FDX 6.2 revokeConsentGrant): body `ConsentRevocationRequest`
/// (`reason`: ConsentUpdateReason, default USER_ACTION; `initiator`: PartyType, only DATA_RECIPIENT, the caller).
/// 204 on success, 409 when the consent had already ended.
pub async fn put_revocation(
    State(state): State<AppState>,
    Path(consent_id): Path<String>,
    headers: HeaderMap,
    peer: Option<axum::Extension<PeerCertificates>>,
    body: Bytes,
) -> Result<Response, FdxError> {
    let peer = peer.map(|axum::Extension(p)| p);
    let path = format!("/consents/{consent_id}/revocation");
    let client_id = authorize_caller(&state, "PUT", &path, &headers, peer.as_ref(), CONSENT_MANAGEMENT_SCOPE).await?;
    let request: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body).map_err(|_| FdxError::invalid_input("the body is not JSON"))?
    };
    if !request.is_object() {
        return Err(FdxError::invalid_input("the body must be a ConsentRevocationRequest object"));
    }
    let reason = match request.get("reason") {
        None | Some(Value::Null) => RevocationReason::UserAction,
        Some(v) => v
            .as_str()
            .and_then(RevocationReason::from_fdx)
            .ok_or_else(|| FdxError::invalid_input("reason must be BUSINESS_RULE or USER_ACTION"))?,
    };
    match request.get("initiator") {
        None | Some(Value::Null) => {}
        Some(v) if v.as_str() == Some(Initiator::App.fdx_party_type()) => {}
        Some(_) => return Err(FdxError::invalid_input("the caller can only revoke as DATA_RECIPIENT")),
    }
    if own_consent(&state, &consent_id, &client_id).await?.is_none() {
        return Err(FdxError::not_found());
    }
    match crate::revocation::revoke(&state, &consent_id, reason, Initiator::App, state.now()).await? {
        ConsentRevocationOutcome::Revoked { .. } => Ok(StatusCode::NO_CONTENT.into_response()),
        ConsentRevocationOutcome::NotFound => Err(FdxError::not_found()),
        ConsentRevocationOutcome::Refused(e) => Err(FdxError::new(
            StatusCode::CONFLICT,
            "409",
            "Conflict with current state of target resource",
            e.to_string(),
        )),
    }
}
