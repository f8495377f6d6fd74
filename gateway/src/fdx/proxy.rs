//! The resource API's request pipeline (order in [`super`]'s module docs): one function, [`serve`], for every
//! endpoint; the handlers only name their endpoint.
//!
//! Decisions: a `client_credentials` token (no consent) is refused with 403; a revoked or expired consent, like a
//! revoked token, with 401 FDX 603; rate-limited requests (429) are not audited (they are about the client, not
//! the person's data); every other outcome after the consent is known is audited, refusals included. Query
//! parameters are an allow-list per endpoint (others are ignored, a repeated one is refused), re-encoded before
//! they reach the bank: `accountIds` is cut to the consent's accounts; `startTime` is moved into the lookback window
//! (a range that ends before the window answers an empty page without asking the bank). A bank answering 401 gets
//! one forced refresh of the consent's bank token and one retry; a refresh refused with `invalid_grant` means the
//! bank ended the grant (the person revoked there), so the consent is revoked with initiator `bank`.

use std::time::Instant;

use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use certs::serve::PeerCertificates;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, UtcOffset};

use super::InteractionId;
use super::access::{self, challenge_scheme};
use super::error::FdxError;
use super::filter::{Allowed, FilterError, filter};
use super::table::{Endpoint, opens};
use crate::app::AppState;
use crate::banks::{BankCallError, BankClient, BankOAuthError, BankSecret};
use crate::consent::{Consent, DataCluster, Initiator, RevocationReason};
use crate::oauth::endpoints::presented::PresentedToken;
use crate::store::{AuditOutcome, AuditRecord, BankTokens};

/// Refresh a bank token this long before the bank said it expires.
const REFRESH_MARGIN: time::Duration = time::Duration::seconds(10);
/// Longest query string accepted.
const MAX_QUERY: usize = 2048;

/// What a handler hands to [`serve`]: the parts of the request the pipeline reads.
#[derive(Debug)]
pub struct FdxRequest {
    headers: HeaderMap,
    peer: Option<PeerCertificates>,
    interaction_id: HeaderValue,
    /// The path as the client addressed it (the DPoP `htu`).
    path: String,
    query: Option<String>,
    account: Option<String>,
}

/// By value (the handlers' last extractor): the request's headers move into the pipeline instead of being copied.
impl<S: Send + Sync> FromRequest<S> for FdxRequest {
    type Rejection = FdxError;

    async fn from_request(request: Request, state: &S) -> Result<Self, FdxError> {
        let (mut parts, _body) = request.into_parts();
        let params =
            RawPathParams::from_request_parts(&mut parts, state).await.map_err(|_| FdxError::account_not_found())?;
        let account = params.iter().find(|(name, _)| *name == "accountId").map(|(_, value)| value.to_owned());
        let interaction_id =
            parts.extensions.remove::<InteractionId>().map_or_else(|| HeaderValue::from_static("unknown"), |id| id.0);
        Ok(Self {
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            peer: parts.extensions.remove::<PeerCertificates>(),
            headers: parts.headers,
            interaction_id,
            account,
        })
    }
}

pub async fn accounts(State(state): State<AppState>, request: FdxRequest) -> Response {
    serve(&state, Endpoint::Accounts, request).await
}

pub async fn account(State(state): State<AppState>, request: FdxRequest) -> Response {
    serve(&state, Endpoint::Account, request).await
}

pub async fn transactions(State(state): State<AppState>, request: FdxRequest) -> Response {
    serve(&state, Endpoint::Transactions, request).await
}

pub async fn statements(State(state): State<AppState>, request: FdxRequest) -> Response {
    serve(&state, Endpoint::Statements, request).await
}

pub async fn payment_networks(State(state): State<AppState>, request: FdxRequest) -> Response {
    serve(&state, Endpoint::PaymentNetworks, request).await
}

pub async fn contact(State(state): State<AppState>, request: FdxRequest) -> Response {
    serve(&state, Endpoint::AccountContact, request).await
}

pub async fn current_customer(State(state): State<AppState>, request: FdxRequest) -> Response {
    serve(&state, Endpoint::CurrentCustomer, request).await
}

/// Everything known once the consent is: who reads what (the audit record's fields).
struct Access {
    token: PresentedToken,
    consent: Consent,
    bank: String,
    person: String,
    endpoint: Endpoint,
    clusters: Vec<DataCluster>,
    account: Option<String>,
    interaction_id: String,
}

/// The pipeline of every resource request.
pub async fn serve(state: &AppState, endpoint: Endpoint, request: FdxRequest) -> Response {
    let access = match authorize(state, endpoint, &request).await {
        Ok(access) => access,
        Err(refusal) => return refusal.into_response(),
    };
    let (response, outcome) = match answer(state, &access, &request).await {
        Ok(body) => match finish(state, &access, body).await {
            Ok(response) => return response,
            Err(refusal) => (refusal, AuditOutcome::Denied),
        },
        // A bank failure after the consent was revoked meanwhile (its bank tokens are gone or refused) is the
        // revocation's answer, not the bank's.
        Err((refusal, AuditOutcome::Failed)) if !still_active(state, &access).await => {
            let gone = FdxError::unauthenticated(access.scheme(), "the consent of this token was revoked");
            drop(refusal);
            (gone, AuditOutcome::Denied)
        }
        Err((refusal, outcome)) => (refusal, outcome),
    };
    match audit(state, &access, response.status.as_u16(), outcome).await {
        Ok(()) => response.into_response(),
        Err(failure) => failure.into_response(),
    }
}

/// Token, rate limit, consent: the checks before anything is audited.
async fn authorize(state: &AppState, endpoint: Endpoint, request: &FdxRequest) -> Result<Access, FdxError> {
    let token = access::presented_token(state, "GET", &request.path, &request.headers, request.peer.as_ref()).await?;
    let scheme = challenge_scheme(&token.record.binding);
    let Some(consent_id) = token.record.consent_id.clone() else {
        return Err(FdxError::forbidden("a client_credentials token reads no data: use a token of a consent"));
    };
    if let Some(limiter) = &state.rate_limiter
        && let Err(wait) = limiter.check(&token.record.client_id, Instant::now())
    {
        return Err(FdxError::too_many_requests(wait.as_secs_f64().ceil() as u64));
    }
    let consent = access::active_consent(state, &token.record, &consent_id).await?;
    let Some(subject) = consent.subject.clone() else {
        return Err(FdxError::unauthenticated(scheme, "the consent of this token is not authorized"));
    };
    let clusters = endpoint.rule().opens.iter().copied().filter(|c| consent.covers_cluster(*c)).collect();
    let interaction_id = request.interaction_id.to_str().unwrap_or("unknown").to_owned();
    let account = request.account.as_ref().map(|a| a.chars().take(128).collect());
    Ok(Access {
        token,
        consent,
        bank: subject.bank,
        person: subject.person,
        endpoint,
        clusters,
        account,
        interaction_id,
    })
}

/// Account, clusters, query, the bank call and the filter: the filtered body, or the refusal and its outcome.
async fn answer(state: &AppState, access: &Access, request: &FdxRequest) -> Result<Vec<u8>, (FdxError, AuditOutcome)> {
    let denied = |e: FdxError| (e, AuditOutcome::Denied);
    let consent = &access.consent;
    if let Some(account) = &access.account
        && !consent.covers_account(account)
    {
        return Err(denied(FdxError::account_not_found()));
    }
    if !opens(access.endpoint, &consent.request.clusters) {
        let needed: Vec<&str> = access.endpoint.rule().opens.iter().map(|c| c.as_fdx()).collect();
        return Err(denied(FdxError::forbidden(format!("the consent does not cover {}", needed.join(" or ")))));
    }
    let now = state.now();
    let earliest = consent.lookback_window(now).earliest().to_offset(UtcOffset::UTC).date();
    let query = match bank_query(access.endpoint, request.query.as_deref(), consent, earliest) {
        Ok(BankQuery::Ask(query)) => query,
        Ok(BankQuery::Empty) => return Ok(empty_page(access.endpoint)),
        Err(refusal) => return Err(denied(refusal)),
    };
    let path = access.endpoint.path_for(access.account.as_deref());
    let bank_path = if query.is_empty() { path } else { format!("{path}?{query}") };
    let allowed = Allowed {
        granted: &consent.request.clusters,
        accounts: &consent.accounts,
        account: access.account.as_deref(),
        earliest,
        base: &state.issuer,
    };
    call_bank(state, access, &bank_path, &allowed).await
}

impl Access {
    /// The 401 challenge scheme of this access's token.
    fn scheme(&self) -> &'static str {
        challenge_scheme(&self.token.record.binding)
    }
}

/// The RFC 6750 / RFC 9449 §7.1 challenge scheme for a token bound as `binding`.
/// Whether the token and its consent are still active (read after any revocation's commit).
async fn still_active(state: &AppState, access: &Access) -> bool {
    let (token, consent) = (&access.token.record.token_hash, &access.consent.id);
    state.store.token_and_consent_active(token, consent, state.now()).await.unwrap_or(false)
}

/// The final check under the revocation gate, the audit record, and the response.
async fn finish(state: &AppState, access: &Access, bytes: Vec<u8>) -> Result<Response, FdxError> {
    let _gate = state.revocations.read(&access.consent.id).await;
    if !still_active(state, access).await {
        return Err(FdxError::unauthenticated(access.scheme(), "the consent was revoked while the bank answered"));
    }
    audit(state, access, 200, AuditOutcome::Served).await?;
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

async fn audit(state: &AppState, access: &Access, status: u16, outcome: AuditOutcome) -> Result<(), FdxError> {
    let record = AuditRecord {
        seq: 0,
        at: state.now(),
        client_id: access.token.record.client_id.clone(),
        consent_id: access.consent.id.clone(),
        bank: access.bank.clone(),
        person: access.person.clone(),
        endpoint: access.endpoint.rule().name.to_owned(),
        account_id: access.account.clone(),
        clusters: access.clusters.clone(),
        status,
        outcome,
        interaction_id: access.interaction_id.clone(),
    };
    state.store.append_audit(record).await.map_err(|e| FdxError::internal(&e))
}

enum BankQuery {
    /// Ask the bank with this (encoded) query string.
    Ask(String),
    /// Nothing the consent allows can match: answer an empty page.
    Empty,
}

/// The query the bank gets (see the module docs).
fn bank_query(endpoint: Endpoint, raw: Option<&str>, consent: &Consent, earliest: Date) -> Result<BankQuery, FdxError> {
    let raw = raw.unwrap_or("");
    if raw.len() > MAX_QUERY {
        return Err(FdxError::invalid_input("the query string is too long"));
    }
    let allowed: &[&str] = match endpoint {
        Endpoint::Accounts => &["accountIds", "resultType", "offset", "limit"],
        Endpoint::Transactions | Endpoint::Statements => &["startTime", "endTime", "offset", "limit"],
        _ => &[],
    };
    let mut given: Vec<(String, String)> = Vec::new();
    for (name, value) in oauth2::url::form_urlencoded::parse(raw.as_bytes()) {
        if !allowed.contains(&name.as_ref()) {
            continue;
        }
        if given.iter().any(|(n, _)| *n == name) {
            return Err(FdxError::invalid_input(format!("parameter {name} is given more than once")));
        }
        given.push((name.into_owned(), value.into_owned()));
    }
    let value = |name: &str| given.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let mut out: Vec<(String, String)> = Vec::new();
    if let Some(limit) = value("limit") {
        if limit.is_empty() || limit.len() > 6 || !limit.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FdxError::invalid_input("limit must be a positive integer"));
        }
        out.push(("limit".into(), limit.into()));
    }
    if let Some(offset) = value("offset") {
        if offset.len() > 1024 {
            return Err(FdxError::invalid_input("offset is not a cursor this API issued"));
        }
        out.push(("offset".into(), offset.into()));
    }
    match endpoint {
        Endpoint::Accounts => {
            if let Some(ids) = value("accountIds") {
                let kept: Vec<&str> = ids.split(',').map(str::trim).filter(|id| consent.covers_account(id)).collect();
                if kept.is_empty() {
                    return Ok(BankQuery::Empty);
                }
                out.push(("accountIds".into(), kept.join(",")));
            }
            match value("resultType") {
                None => {}
                Some(kind @ ("lightweight" | "details")) => out.push(("resultType".into(), kind.into())),
                Some(_) => return Err(FdxError::invalid_input("resultType must be `lightweight` or `details`")),
            }
        }
        Endpoint::Transactions | Endpoint::Statements => {
            let start = value("startTime").map(|s| parse_date("startTime", s)).transpose()?;
            let end = value("endTime").map(|s| parse_date("endTime", s)).transpose()?;
            // The lookback window (CFPB 1033 / the consent's lookbackPeriod): never earlier than its first day.
            let start = match start {
                Some(s) if s > earliest => s,
                _ => earliest,
            };
            if end.is_some_and(|e| e < start) {
                return Ok(BankQuery::Empty);
            }
            out.push(("startTime".into(), fdx_date(start)));
            if let Some(end) = end {
                out.push(("endTime".into(), fdx_date(end)));
            }
        }
        _ => {}
    }
    let mut encoded = oauth2::url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in &out {
        encoded.append_pair(name, value);
    }
    Ok(BankQuery::Ask(encoded.finish()))
}

fn fdx_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// An FDX date parameter: `YYYY-MM-DD`, or an RFC 3339 date-time whose UTC date is taken.
fn parse_date(name: &str, text: &str) -> Result<Date, FdxError> {
    let bad = || {
        let shown: String = text.chars().take(40).collect();
        FdxError::invalid_date(format!("{name} `{shown}` is not an ISO 8601 date (YYYY-MM-DD)"))
    };
    if text.len() > 64 {
        return Err(bad());
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, &format)
        .ok()
        .or_else(|| {
            OffsetDateTime::parse(text, &Rfc3339)
                .ok()
                .and_then(|t| t.checked_to_offset(UtcOffset::UTC))
                .map(|t| t.date())
        })
        .ok_or_else(bad)
}

fn empty_page(endpoint: Endpoint) -> Vec<u8> {
    let list = match endpoint {
        Endpoint::Accounts => "accounts",
        Endpoint::Transactions => "transactions",
        Endpoint::Statements => "statements",
        _ => "items",
    };
    json!({ "page": { "totalElements": 0 }, "links": {}, list: [] }).to_string().into_bytes()
}

/// The bank's answer to `path` (status 200), filtered to what `allowed` lets through, through the breaker, with one
/// forced token refresh on 401. The filter runs before the breaker hears of the answer: a 200 whose body is not JSON
/// is a failure of the bank (counted like a reset), not a success.
async fn call_bank(
    state: &AppState,
    access: &Access,
    path: &str,
    allowed: &Allowed<'_>,
) -> Result<Vec<u8>, (FdxError, AuditOutcome)> {
    let failed = |e: FdxError| (e, AuditOutcome::Failed);
    let Some(client) = state.banks.get(&access.bank) else {
        return Err(failed(FdxError::bad_gateway(format!("bank `{}` is not configured at this gateway", access.bank))));
    };
    let breaker = client.breaker();
    if let Err(wait) = breaker.admit(Instant::now()) {
        let secs = wait.as_secs_f64().ceil() as u64;
        return Err(failed(FdxError::bank_unavailable(
            secs,
            "the bank is failing; the gateway stopped calling it for now",
        )));
    }
    let mut forced = false;
    loop {
        let token = bank_token(state, client, access, forced).await?;
        let answer = client.get_raw(path, &token, &access.interaction_id).await;
        let response = match answer {
            Ok(response) => response,
            Err(error) => return Err(failed(upstream_failure(client, error))),
        };
        if response.status == 200 {
            let filtered = filter(access.endpoint, &response.body, allowed);
            if let Err(FilterError::Malformed(detail)) = filtered {
                return Err(failed(upstream_failure(client, BankCallError::MalformedBody(detail))));
            }
            breaker.record_success();
            return filtered.map_err(|shape| failed(FdxError::bad_gateway(shape.to_string())));
        }
        breaker.record_success();
        let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::BAD_GATEWAY);
        match response.status {
            401 if !forced => forced = true,
            400 | 403 | 404 => {
                let body = response.json().unwrap_or(Value::Null);
                let refusal = FdxError::from_bank(status, &body).unwrap_or_else(|| match response.status {
                    404 => FdxError::account_not_found(),
                    403 => FdxError::forbidden("the bank refused this request"),
                    _ => FdxError::invalid_input("the bank refused this request"),
                });
                return Err((refusal, AuditOutcome::Denied));
            }
            429 => return Err(failed(FdxError::bank_unavailable(5, "the bank is limiting the gateway's requests"))),
            other => return Err(failed(FdxError::bad_gateway(format!("the bank answered {other}")))),
        }
    }
}

/// A failed bank call as the app sees it; the breaker counts what says the bank is unwell.
fn upstream_failure(client: &BankClient, error: BankCallError) -> FdxError {
    let breaker = client.breaker();
    match &error {
        // Announced maintenance: the bank is answering, just not serving.
        BankCallError::ServerError { status: 503, retry_after: Some(after), .. } => {
            return FdxError::maintenance(Some(after.as_secs().max(1)), "the bank is in maintenance");
        }
        e if e.is_retryable() => breaker.record_failure(Instant::now()),
        _ => {}
    }
    match error.gateway_status() {
        504 => FdxError::gateway_timeout(error.to_string()),
        503 => FdxError::bank_unavailable(5, error.to_string()),
        _ => FdxError::bad_gateway(error.to_string()),
    }
}

/// The consent's bank access token: stored, or refreshed first when it is (nearly) expired or `force`d.
async fn bank_token(
    state: &AppState,
    client: &BankClient,
    access: &Access,
    force: bool,
) -> Result<BankSecret, (FdxError, AuditOutcome)> {
    let failed = |e: FdxError| (e, AuditOutcome::Failed);
    let consent_id = &access.consent.id;
    let load = || async {
        state.store.bank_tokens(consent_id).await.map_err(|e| failed(FdxError::internal(&e)))?.ok_or_else(|| {
            failed(FdxError::bad_gateway("the consent holds no bank authorization (was it revoked at the bank?)"))
        })
    };
    let due = |t: &BankTokens, now: OffsetDateTime| t.expires_at.is_some_and(|end| end - REFRESH_MARGIN <= now);
    let before = load().await?;
    if !force && !due(&before, state.now()) {
        return Ok(BankSecret::new(before.access_token));
    }
    // One refresh per consent at a time: a concurrent request may have refreshed already.
    let _one = state.revocations.refresh_lock(consent_id).await;
    let current = load().await?;
    let now = state.now();
    if current.access_token != before.access_token && !due(&current, now) {
        return Ok(BankSecret::new(current.access_token));
    }
    let Some(refresh) = current.refresh_token.clone() else {
        return Err(failed(FdxError::bad_gateway(
            "the bank's authorization of this consent expired (no refresh token)",
        )));
    };
    match client.refresh(&BankSecret::new(refresh), now).await {
        Ok(set) => {
            let renewed = BankTokens {
                bank: current.bank.clone(),
                access_token: set.access_token.expose().to_owned(),
                refresh_token: set.refresh_token.as_ref().map(|t| t.expose().to_owned()),
                expires_at: set.expires_at,
                scope: set.scope.map(|s| s.join(" ")).unwrap_or(current.scope),
            };
            state.store.put_bank_tokens(consent_id, &renewed, now).await.map_err(|e| failed(FdxError::internal(&e)))?;
            Ok(set.access_token)
        }
        Err(BankOAuthError::Refused { error, .. }) if error == "invalid_grant" => {
            // RFC 6749 §5.2: the grant is gone at the bank: the person revoked it there.
            let revoked =
                crate::revocation::revoke(state, consent_id, RevocationReason::UserAction, Initiator::Bank, now)
                    .await
                    .map_err(|e| failed(FdxError::internal(&e)))?;
            if matches!(revoked, crate::store::ConsentRevocationOutcome::Revoked { .. }) {
                tracing::info!(bank = %access.bank, "the bank ended a consent's grant: consent revoked");
            }
            Err((
                FdxError::unauthenticated(access.scheme(), "the person revoked this consent at their bank"),
                AuditOutcome::Denied,
            ))
        }
        Err(BankOAuthError::Call(error)) => Err(failed(upstream_failure(client, error))),
        Err(other) => Err(failed(FdxError::bad_gateway(format!("refreshing the bank token failed: {other}")))),
    }
}
