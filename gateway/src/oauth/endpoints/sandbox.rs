//! The sandbox-only consent shortcut (`POST /sandbox/consents`, issue 3): creates an authorized consent for a bank's
//! test user without a browser and answers the token endpoint's tokens for it, so a developer reaches data with
//! `curl` in three commands.
//!
//! Routed only while the deployment allows the sandbox profile ([`routes`]; otherwise the path is the fallback
//! 404), usable only by `sandbox` clients (others: 403 `unauthorized_client`), and announced in the RFC 8414
//! metadata as `bankgate_sandbox_consents_endpoint` only then. In the browser flow the gateway never sees a bank
//! password; here the developer hands the bank's *public sandbox test credentials* to the gateway, which forwards
//! them to the bank's sandbox-login extension grant (RFC 6749 §4.5) over mutual TLS. That is acceptable only
//! because the banks are mock banks with published test passwords; a production deployment switches the sandbox
//! profile off, and with it this endpoint.
//!
//! Request: `application/json` (at most 16 KiB), client authentication exactly as at the token endpoint
//! ([`super::authn`]: `Authorization: Basic`, or the members `client_id` (+ client certificate) or
//! `client_assertion_type`/`client_assertion` in the JSON body), and the members `bank`, `username`, `password`,
//! `mfa_code` (MFA users), `authorization_details` (validated as at PAR; default [`default_request`]),
//! `account_ids` (default: the accounts `authorization_details` names, else every account of the customer) and
//! `secondary_use_opt_in` (default false). Unknown members are refused.
//!
//! Decisions: a secondary-use purpose without `"secondary_use_opt_in": true` is refused before the bank is called
//! with 400 `invalid_request` (the request lacks the opt-in; nobody denied anything, so not `access_denied`). The
//! consent is created as the browser flow creates it (PENDING record, bank tokens sealed, authorized with the
//! subject {bank's consent id, bank}, stored AUTHORIZED), then tokens come from the token endpoint's own code
//! ([`super::token::issue_for_consent`]), bound as there: `DPoP` header, else client certificate, else Bearer.
//! The bank is asked as the consent pages ask it: `recipient` = the client id and `platform` = the client's
//! registered platform, so the bank's sharing policy judges the app, not the gateway.
//! Once the tokens are issued, the gateway subscribes at the bank to the consent's notifications as after the
//! browser flow's confirmation ([`crate::banks::notifications::spawn_subscribe`], off the request path).
//! The 200 body is the token endpoint's RFC 6749 §5.1 body plus `consent_id`. Bank refusals become OAuth errors:
//! `invalid_grant` (400, the bank's description) for credentials, `access_denied` (403) for policy refusals,
//! `invalid_request`/`invalid_scope` (400) for what the bank found wrong in the request, `temporarily_unavailable`
//! (503) when the bank is unreachable or failing, `server_error` (502) for anything else from the bank. If a step
//! fails after the bank consented, the bank consent is revoked again (best effort).
//!
//! This module must never log or echo the password, the one-time code or a token, never answer bad input with a
//! 500, and never exist on a deployment without the sandbox profile.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use certs::serve::PeerCertificates;
use serde_json::{Map, Value, json};

use super::authn::{self, AuthenticatedClient};
use super::form::OAuthParams;
use super::token::{ConsentGrant, binding_for, issue_for_consent, token_response};
use crate::app::AppState;
use crate::banks::{BankClient, BankOAuthError, BankTokenKind, BankTokenSet, SandboxLogin};
use crate::consent::request::MAX_ACCOUNT_ID_LEN;
use crate::consent::{
    AUTHORIZATION_DETAILS_TYPE, Authorization, Consent, ConsentRequest, ConsentStatus, ConsentSubject, DataCluster,
    Purpose,
};
use crate::error::OAuthFailure;
use crate::store::ClientProfile;

/// Where the shortcut lives.
pub const SANDBOX_CONSENTS_PATH: &str = "/sandbox/consents";
/// Largest request body.
const BODY_LIMIT: usize = 16 * 1024;
/// The members a request may carry.
const MEMBERS: [&str; 11] = [
    "bank",
    "username",
    "password",
    "mfa_code",
    "authorization_details",
    "account_ids",
    "secondary_use_opt_in",
    "client_id",
    "client_assertion_type",
    "client_assertion",
    "client_secret",
];
/// Most accounts one request may name (the banks' limit).
const MAX_ACCOUNTS: usize = 64;
/// Default consent: TIME_BOUND for 90 days, 365 days of history.
const DEFAULT_DURATION_DAYS: u32 = 90;
const DEFAULT_LOOKBACK_DAYS: u32 = 365;
/// The clusters the sandbox banks serve (the default request asks for all of them).
const BANK_CLUSTERS: [DataCluster; 7] = [
    DataCluster::AccountBasic,
    DataCluster::AccountDetailed,
    DataCluster::Transactions,
    DataCluster::Statements,
    DataCluster::PaymentSupport,
    DataCluster::CustomerContact,
    DataCluster::CustomerPersonal,
];

/// The shortcut's route when `sandbox_on` (the deployment's `allow_sandbox_profile`); no route otherwise.
pub fn routes(sandbox_on: bool) -> Router<AppState> {
    if !sandbox_on {
        return Router::new();
    }
    Router::new().route(SANDBOX_CONSENTS_PATH, post(create)).layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// The documented default request when `authorization_details` is absent: every cluster the sandbox banks serve,
/// TIME_BOUND for 90 days, 365 days of history, and the client's first declared purpose that is not a secondary
/// use (else its first declared purpose).
pub fn default_request(declared: &[Purpose]) -> Result<ConsentRequest, OAuthFailure> {
    let purpose = declared
        .iter()
        .find(|p| !p.is_secondary_use())
        .or_else(|| declared.first())
        .copied()
        .unwrap_or(Purpose::PersonalFinanceManagement);
    let details = json!([{
        "type": AUTHORIZATION_DETAILS_TYPE,
        "dataClusters": BANK_CLUSTERS,
        "durationType": "TIME_BOUND",
        "durationPeriod": DEFAULT_DURATION_DAYS,
        "lookbackPeriod": DEFAULT_LOOKBACK_DAYS,
        "purposes": [purpose],
    }]);
    ConsentRequest::from_authorization_details_value(&details).map_err(|e| OAuthFailure::internal(&e))
}

fn bad_request(description: impl Into<String>) -> OAuthFailure {
    OAuthFailure::invalid_request(description)
}

/// A string member (`None` when absent or null); the message names the member, never its value.
fn text<'a>(body: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, OAuthFailure> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad_request(format!("`{name}` must be a string"))),
    }
}

fn required<'a>(body: &'a Map<String, Value>, name: &str) -> Result<&'a str, OAuthFailure> {
    text(body, name)?.ok_or_else(|| bad_request(format!("`{name}` is required")))
}

/// `account_ids`: 1-64 ids of 1-[`MAX_ACCOUNT_ID_LEN`] printable characters without spaces (the bank takes them
/// space separated).
fn account_ids(body: &Map<String, Value>) -> Result<Option<Vec<String>>, OAuthFailure> {
    let problem = || bad_request(format!("`account_ids` must be an array of 1-{MAX_ACCOUNTS} account ids"));
    let items = match body.get("account_ids") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(problem()),
    };
    let mut ids = Vec::with_capacity(items.len());
    for item in items {
        let id = item
            .as_str()
            .filter(|id| (1..=MAX_ACCOUNT_ID_LEN).contains(&id.len()) && id.chars().all(|c| c.is_ascii_graphic()));
        ids.push(id.ok_or_else(problem)?.to_owned());
    }
    ids.sort();
    ids.dedup();
    if ids.is_empty() || ids.len() > MAX_ACCOUNTS {
        return Err(problem());
    }
    Ok(Some(ids))
}

/// The client-authentication members of the JSON body, as the form parameters [`authn::authenticate`] reads.
fn auth_params(body: &Map<String, Value>) -> Result<OAuthParams, OAuthFailure> {
    let mut pairs = Vec::new();
    for name in ["client_id", "client_assertion_type", "client_assertion"] {
        if let Some(value) = text(body, name)? {
            pairs.push((name.to_owned(), value.to_owned()));
        }
    }
    OAuthParams::from_pairs(pairs)
}

/// A bank refusal or failure as this endpoint's OAuth error (mapping in the module docs).
fn bank_failure(bank: &str, err: &BankOAuthError) -> OAuthFailure {
    match err {
        BankOAuthError::Refused { error, description } => {
            let said = description.clone().unwrap_or_else(|| format!("the bank answered {error}"));
            match error.as_str() {
                "invalid_grant" => OAuthFailure::new(StatusCode::BAD_REQUEST, "invalid_grant", said),
                "access_denied" => OAuthFailure::new(StatusCode::FORBIDDEN, "access_denied", said),
                "invalid_request" => OAuthFailure::invalid_request(format!("the bank refused the request: {said}")),
                "invalid_scope" => OAuthFailure::new(StatusCode::BAD_REQUEST, "invalid_scope", said),
                "temporarily_unavailable" => {
                    OAuthFailure::new(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", said)
                }
                _ => {
                    tracing::warn!(%bank, %error, "bank refused the sandbox login");
                    let code: String = error.chars().take(64).collect();
                    OAuthFailure::new(
                        StatusCode::BAD_GATEWAY,
                        "server_error",
                        format!("the bank answered {code}: {said}"),
                    )
                }
            }
        }
        BankOAuthError::Call(call) if call.is_retryable() => {
            tracing::warn!(%bank, error = %call, "bank unavailable for the sandbox login");
            OAuthFailure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                format!("the bank `{bank}` is unreachable or failing; try again"),
            )
        }
        other => {
            tracing::warn!(%bank, error = %other, "sandbox login at the bank failed");
            OAuthFailure::new(StatusCode::BAD_GATEWAY, "server_error", format!("the bank `{bank}` could not be used"))
        }
    }
}

/// `POST /sandbox/consents` (rules in the module docs).
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Option<axum::Extension<PeerCertificates>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OAuthFailure> {
    let peer = peer.map(|axum::Extension(p)| p);
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(bad_request("the body must be application/json"));
    }
    let bytes = body.map_err(|_| {
        OAuthFailure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            format!("the body could not be read or is larger than {BODY_LIMIT} bytes"),
        )
    })?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| bad_request(format!("the body is not JSON (line {}, column {})", e.line(), e.column())))?;
    let Value::Object(body) = value else {
        return Err(bad_request("the body must be a JSON object"));
    };
    if let Some(unknown) = body.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
        return Err(bad_request(format!("unknown member {:?}", unknown.chars().take(64).collect::<String>())));
    }
    if body.contains_key("client_secret") {
        return Err(bad_request("send the client secret with HTTP Basic authentication (RFC 6749 §2.3.1)"));
    }

    let client = authn::authenticate(&state, &headers, peer.as_ref(), &auth_params(&body)?).await?;
    if client.record.profile != ClientProfile::Sandbox {
        return Err(OAuthFailure::new(
            StatusCode::FORBIDDEN,
            "unauthorized_client",
            "the sandbox consent shortcut is for sandbox clients only",
        ));
    }
    if !client.metadata.grant_types.iter().any(|g| g == "authorization_code") {
        return Err(OAuthFailure::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "the client is not registered for authorization_code, which this shortcut stands in for",
        ));
    }

    let bank_id = required(&body, "bank")?;
    let Some(bank) = state.banks.get(bank_id) else {
        let known: Vec<&str> = state.banks.iter().map(|c| c.bank().id()).collect();
        return Err(bad_request(format!(
            "unknown bank {:?}; the banks are: {}",
            bank_id.chars().take(64).collect::<String>(),
            known.join(", ")
        )));
    };
    let username = required(&body, "username")?;
    let password = required(&body, "password")?;
    let mfa_code = text(&body, "mfa_code")?;
    let request = match body.get("authorization_details") {
        None | Some(Value::Null) => default_request(&client.metadata.purposes)?,
        // RFC 9396 §5: the same validation as at PAR.
        Some(details) => ConsentRequest::from_authorization_details_value(details)
            .map_err(|e| OAuthFailure::new(StatusCode::BAD_REQUEST, e.oauth_error(), e.description()))?,
    };
    if let Some(undeclared) = request.purposes.iter().find(|p| !client.metadata.purposes.contains(p)) {
        return Err(bad_request(format!(
            "purpose {:?} was not declared in the client's registration",
            undeclared.as_str()
        )));
    }
    let opt_in = match body.get("secondary_use_opt_in") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad_request("`secondary_use_opt_in` must be true or false")),
    };
    if request.has_secondary_use() && !opt_in {
        let secondary: Vec<&str> =
            request.purposes.iter().filter(|p| p.is_secondary_use()).map(|p| p.as_str()).collect();
        return Err(bad_request(format!(
            "the purposes {} are secondary uses (CFPB 1033): they need the person's separate opt-in; send \
             \"secondary_use_opt_in\": true to record it",
            secondary.join(", ")
        )));
    }
    let chosen = account_ids(&body)?.or_else(|| request.accounts.clone());
    if let (Some(chosen), Some(asked)) = (&chosen, &request.accounts)
        && let Some(extra) = chosen.iter().find(|a| !asked.contains(a))
    {
        return Err(bad_request(format!(
            "account {:?} is not among the accounts authorization_details asks for",
            extra.chars().take(64).collect::<String>()
        )));
    }
    // Sender constraint first: a bad DPoP proof must not leave a consent behind at the bank.
    let binding = binding_for(&state, &headers, peer.as_ref(), &client, SANDBOX_CONSENTS_PATH, None).await?;

    // NOTIFICATIONS is the gateway's own cluster, never a scope at the bank (crate::banks::notifications).
    let scopes = crate::banks::notifications::bank_scopes(&request);
    let purposes: Vec<String> = request.purposes.iter().map(|p| p.as_str().to_owned()).collect();
    let login = SandboxLogin {
        username,
        password,
        mfa_code,
        scopes: &scopes,
        purposes: &purposes,
        // As in the browser flow: the bank's sharing policy judges the app (`recipient`) and its platform.
        platform: client.metadata.platform.as_deref(),
        recipient: Some(client.record.client_id.as_str()),
        duration_days: request.duration.period_days(),
        account_ids: chosen.as_deref(),
    };
    let now = state.now();
    let tokens = bank.sandbox_login(&login, now).await.map_err(|e| bank_failure(bank_id, &e))?;
    match consent_and_tokens(&state, &client, bank, request, tokens.clone(), opt_in, binding).await {
        Ok(response) => Ok(response),
        Err(failure) => {
            // The bank consented but the gateway could not finish: take the bank's consent back (best effort).
            if let Some(refresh) = &tokens.refresh_token
                && let Err(err) = bank.revoke(refresh, BankTokenKind::Refresh).await
            {
                tracing::warn!(bank = %bank_id, error = %err, "could not revoke an unfinished sandbox consent");
            }
            Err(failure)
        }
    }
}

/// Records the consent as the browser flow does (bank callback + confirmation) and issues the gateway's tokens.
async fn consent_and_tokens(
    state: &AppState,
    client: &AuthenticatedClient,
    bank: &BankClient,
    request: ConsentRequest,
    tokens: BankTokenSet,
    opt_in: bool,
    binding: crate::store::TokenBinding,
) -> Result<Response, OAuthFailure> {
    let now = state.now();
    let bank_id = bank.bank().id().to_owned();
    let mut consent = Consent::new(super::random_token(32)?, client.record.client_id.clone(), request, now);
    crate::pages::record_pending_consent(state, &consent, &bank_id, &tokens, now).await?;
    // The person is the bank's pairwise subject, as in the browser flow.
    let person = tokens.subject.clone().unwrap_or_else(|| tokens.consent_id.clone());
    let decision = Authorization {
        subject: ConsentSubject { person, bank: bank_id },
        accounts: tokens.account_ids,
        secondary_use_opt_in: opt_in,
    };
    consent
        .authorize(decision, now)
        .map_err(|e| OAuthFailure::new(StatusCode::FORBIDDEN, "access_denied", e.to_string()))?;
    if !state.store.update_consent(&consent, ConsentStatus::Pending).await? {
        return Err(OAuthFailure::internal(&"a new sandbox consent changed while it was being authorized"));
    }
    tracing::info!(client_id = %client.record.client_id, consent_id = %consent.id, "sandbox consent created");
    let with_refresh = consent.allows_refresh() && client.metadata.grant_types.iter().any(|g| g == "refresh_token");
    let scope = consent.request.scope();
    let grant = ConsentGrant { consent: &consent, binding, scope, parent_code: None, with_refresh };
    let mut body = issue_for_consent(state, client, grant).await?;
    // Issue 5: subscribe at the bank as the confirmation page does (best effort, off the request path).
    crate::banks::notifications::spawn_subscribe(state, &consent.id, crate::banks::notifications::Begun::No);
    body["consent_id"] = json!(consent.id);
    Ok(token_response(body))
}
