//! The bank's FDX v6 resource API (`/fdx/v6/...`), as an aggregator reaches it over mutual TLS with the bank's
//! access token.
//!
//! Every request goes through, in order: the `x-fapi-interaction-id` echo (FAPI / FDX: echoed when the client sent a
//! sane one, generated otherwise) and the body-size guard ([`guard`]); the bank's simulated infrastructure
//! ([`faulted`]: the profile's weekly maintenance window and latency, then the admin fault rules); the bearer token
//! ([`Authorized`]: RFC 6750, certificate-bound to the client per RFC 8705 §3, plus the data-error test users);
//! then the handler, which checks the endpoint's data cluster (403), that the account is in the consent (404 FDX 701
//! for an account outside the consent exactly as for one that does not exist), and the bank's sharing policy.
//!
//! Sharing policy `refuse_offplatform_transactions` (the summit bank): card purchases (transactions with a
//! merchant) are withheld from the transactions endpoint unless they were made through the platform the consent was
//! granted to (`BankGrant::platform`); a consent without a platform sees no card purchases at all. Everything else
//! (payroll, transfers, fees, balances) is shared as consented.
//!
//! The fault layer wraps each route's handler ([`faulted`]) rather than the router, because the router is built
//! before the state exists (`fdx_router() -> Router<Arc<BankState>>`); each route names itself (`accounts`,
//! `account`, `transactions`, `statements`, `payment_networks`, `contact`, `customer`; [`token_faults`] does the
//! same for the token endpoint).
//!
//! FDX Event Notifications (`/notification-subscriptions`, POST and `/{subscriptionId}` GET/DELETE; route name
//! `subscriptions` for faults): a subscription belongs to the consent of the token that created it, and only that
//! consent's token sees or deletes it (404 FDX 1107 otherwise, as for an unknown id). The body is an FDX
//! `NotificationSubscriptionentity`; the (type, category) pair must be one of `events::NotificationType`'s and the
//! callback URL https (400 FDX 401 otherwise). The rules and delivery live in `events`.
//!
//! Handlers never panic on input, never answer 500 for bad input, and never log tokens.

use super::error::FdxError;
use super::wire;
use crate::books::{AccountRef, TxKey, Window, page_transactions, statements_in};
use crate::faults::FaultOutcome;
use crate::ledger::model::Transaction;
use crate::ledger::users::ChosenError;
use crate::login::{BankGrant, DataCluster};
use crate::state::BankState;
use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use bytes::Bytes;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;
use time::{Date, OffsetDateTime, UtcOffset};

/// FAPI 2.0 / FDX interaction id header.
pub static INTERACTION_ID: HeaderName = HeaderName::from_static("x-fapi-interaction-id");
/// Largest request body (only subscriptions have one); anything larger is refused outright.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The FDX router (paths under `/fdx/v6`), for the bank's mTLS API listener.
pub fn router() -> Router<Arc<BankState>> {
    Router::new()
        .route("/fdx/v6/accounts", faulted("accounts", list_accounts))
        .route("/fdx/v6/accounts/{accountId}", faulted("account", get_account))
        .route("/fdx/v6/accounts/{accountId}/transactions", faulted("transactions", list_transactions))
        .route("/fdx/v6/accounts/{accountId}/statements", faulted("statements", list_statements))
        .route("/fdx/v6/accounts/{accountId}/payment-networks", faulted("payment_networks", payment_networks))
        .route("/fdx/v6/accounts/{accountId}/contact", faulted("contact", account_contact))
        .route("/fdx/v6/customers/current", faulted("customer", current_customer))
        .route(
            "/fdx/v6/notification-subscriptions",
            faulted_on(MethodFilter::POST, "subscriptions", create_subscription),
        )
        .route(
            "/fdx/v6/notification-subscriptions/{subscriptionId}",
            faulted("subscriptions", get_subscription).merge(faulted_on(
                MethodFilter::DELETE,
                "subscriptions",
                delete_subscription,
            )),
        )
        .fallback(|request: Request| async move { FdxError::no_such_path(request.uri().path()) })
        .method_not_allowed_fallback(|| async { FdxError::method_not_allowed() })
        .layer(axum::middleware::from_fn(guard))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// Interaction id and body-size guard, around everything (errors and fallbacks included).
pub async fn guard(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&INTERACTION_ID)
        .filter(|v| {
            let b = v.as_bytes();
            !b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(c))
        })
        .cloned()
        .unwrap_or_else(new_interaction_id);
    request.headers_mut().insert(INTERACTION_ID.clone(), id.clone());
    let declared =
        request.headers().get(header::CONTENT_LENGTH).map(|v| v.to_str().ok().and_then(|s| s.parse::<u64>().ok()));
    let mut response = match declared {
        Some(None) => FdxError::invalid_input("Content-Length is not a number").into_response(),
        Some(Some(n)) if n > MAX_BODY_BYTES as u64 => FdxError::payload_too_large(MAX_BODY_BYTES).into_response(),
        _ => next.run(request).await,
    };
    tracing::debug!(
        interaction_id = id.to_str().unwrap_or_default(),
        status = response.status().as_u16(),
        "fdx request answered"
    );
    response.headers_mut().insert(INTERACTION_ID.clone(), id);
    response
}

/// A random RFC 4122 version-4 UUID.
fn new_interaction_id() -> HeaderValue {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    let text = format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]);
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("00000000-0000-4000-8000-000000000000"))
}

/// `GET` route whose handler runs inside the bank's simulated infrastructure for route `route`: maintenance window
/// and latency from the profile, then the admin fault rules (`faults::FaultBook`).
pub fn faulted<H, T>(route: &'static str, handler: H) -> MethodRouter<Arc<BankState>>
where
    H: Handler<T, Arc<BankState>>,
    T: 'static,
{
    faulted_on(MethodFilter::GET, route, handler)
}

/// [`faulted`] for another method.
pub fn faulted_on<H, T>(method: MethodFilter, route: &'static str, handler: H) -> MethodRouter<Arc<BankState>>
where
    H: Handler<T, Arc<BankState>>,
    T: 'static,
{
    axum::routing::on(method, move |State(state): State<Arc<BankState>>, request: Request| {
        let handler = handler.clone();
        async move { with_faults(route, state.clone(), request, |request| handler.call(request, state)).await }
    })
}

/// Middleware putting the bank's OAuth token endpoint (route name `token`) under the same faults, for the API
/// listener: `login::token_router().layer(axum::middleware::from_fn_with_state(state, api::fdx::token_faults))`.
pub async fn token_faults(State(state): State<Arc<BankState>>, request: Request, next: Next) -> Response {
    with_faults("token", state, request, |request| next.run(request)).await
}

/// Run `inner` for `request` under the simulated infrastructure of route `route`: the profile's weekly maintenance
/// window and latency, then the admin fault rules.
pub async fn with_faults<F, Fut>(route: &'static str, state: Arc<BankState>, request: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let now = state.clock.now();
    if let Some(end) = state.profile.quirks.maintenance.end_of_window_holding(now) {
        let secs = (end - now).whole_seconds().unsigned_abs();
        return FdxError::maintenance(secs, "the bank's weekly maintenance window").into_response();
    }
    let plan = state.faults.plan(route, now);
    let latency = state.profile.quirks.latency_ms;
    let profile_delay = state.faults.profile_latency(latency.median, latency.p99);
    let delay = plan.latency.unwrap_or_default() + profile_delay.unwrap_or_default();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match plan.outcome {
        FaultOutcome::Maintenance { retry_after_secs } => {
            return FdxError::maintenance(retry_after_secs, "maintenance set through the admin API").into_response();
        }
        FaultOutcome::Error { status, code, message } => {
            return FdxError::chosen(status, code, message, "error injected through the admin API").into_response();
        }
        FaultOutcome::ConnectionReset => return connection_reset(),
        FaultOutcome::Pass | FaultOutcome::MalformedBody | FaultOutcome::SlowBody { .. } => {}
    }
    let response = inner(request).await;
    match plan.outcome {
        FaultOutcome::MalformedBody => malformed(response).await,
        FaultOutcome::SlowBody { chunk_bytes, chunk_delay } => slow(response, chunk_bytes, chunk_delay).await,
        _ => response,
    }
}

/// A response whose body fails at once: hyper then aborts the connection (HTTP/1.1: closed without a complete
/// response; HTTP/2: the stream is reset).
fn connection_reset() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "simulated reset"))
    });
    let mut response = Response::new(axum::body::Body::from_stream(failing));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

async fn body_bytes(response: Response) -> (axum::http::response::Parts, Bytes) {
    use http_body_util::BodyExt as _;
    let (mut parts, body) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    (parts, bytes)
}

/// 200 with the real body cut short: invalid JSON.
async fn malformed(response: Response) -> Response {
    let (mut parts, bytes) = body_bytes(response).await;
    parts.status = axum::http::StatusCode::OK;
    let cut = bytes.slice(..(bytes.len() / 2).max(1).min(bytes.len()));
    let body = if serde_json::from_slice::<serde_json::Value>(&cut).is_ok() { Bytes::from_static(b"{\"") } else { cut };
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// The real body, streamed `chunk_bytes` at a time with `delay` between chunks.
async fn slow(response: Response, chunk_bytes: usize, delay: Duration) -> Response {
    let (parts, bytes) = body_bytes(response).await;
    let chunk = chunk_bytes.max(1);
    let stream = futures_util::stream::unfold((bytes, true), move |(rest, first)| async move {
        if rest.is_empty() {
            return None;
        }
        if !first {
            tokio::time::sleep(delay).await;
        }
        let mut rest = rest;
        let piece = rest.split_to(chunk.min(rest.len()));
        Some((Ok::<Bytes, std::io::Error>(piece), (rest, false)))
    });
    Response::from_parts(parts, axum::body::Body::from_stream(stream))
}

/// Query parameters with rejections as FDX errors (400, FDX 401 "Invalid Input").
#[derive(Debug)]
pub struct FdxQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for FdxQuery<T> {
    type Rejection = FdxError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, FdxError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| FdxQuery(v))
            .map_err(|e| FdxError::invalid_input(e.body_text()))
    }
}

/// The `{accountId}` path segment, with rejections as FDX errors.
#[derive(Debug)]
pub struct AccountIdPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for AccountIdPath {
    type Rejection = FdxError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, FdxError> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(id)) if id.len() <= 256 => Ok(AccountIdPath(id)),
            Ok(_) => Err(FdxError::account_not_found()),
            Err(e) => Err(FdxError::invalid_input(e.body_text())),
        }
    }
}

/// A request carrying a valid bank access token (RFC 6750 §2.1 `Authorization: Bearer`).
#[derive(Debug)]
pub struct Authorized(pub BankGrant);

impl FromRequestParts<Arc<BankState>> for Authorized {
    type Rejection = FdxError;
    async fn from_request_parts(parts: &mut Parts, state: &Arc<BankState>) -> Result<Self, FdxError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(FdxError::unauthenticated(false, "no Authorization header"));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|t| !t.is_empty() && t.len() <= 512)
            .ok_or_else(|| FdxError::unauthenticated(true, "expected `Authorization: Bearer <token>`"))?;
        let grant = state
            .auth
            .authenticate_bearer(token)
            .map_err(|_| FdxError::unauthenticated(true, "the access token is unknown, expired or revoked"))?;
        // RFC 8705 §3: the token is bound to the client certificate it was issued to (tls_client_auth, subject CN =
        // client_id). The TLS layer always inserts the peer chain; a missing leaf or another client's is refused.
        if let Some(peer) = parts.extensions.get::<certs::serve::PeerCertificates>()
            && peer.leaf_common_name() != Some(grant.client_id.as_str())
        {
            return Err(FdxError::unauthenticated(true, "the token is bound to another client certificate"));
        }
        if let Some(ChosenError::Data { status, fdx_code }) = &grant.chosen_error {
            let code = fdx_code.to_string();
            let message = FdxError::message_for_code(&code);
            return Err(FdxError::chosen(*status, code, message, "error chosen by the data-error test user"));
        }
        Ok(Authorized(grant))
    }
}

fn has(grant: &BankGrant, wanted: impl Fn(&DataCluster) -> bool) -> bool {
    grant.clusters.iter().any(wanted)
}

fn require(grant: &BankGrant, wanted: impl Fn(&DataCluster) -> bool, name: &str) -> Result<(), FdxError> {
    if has(grant, wanted) { Ok(()) } else { Err(FdxError::forbidden(format!("the consent does not cover {name}"))) }
}

/// The account `account_id` if the consent covers it (404 FDX 701 otherwise, whether or not it exists).
fn consented_account(state: &BankState, grant: &BankGrant, account_id: &str) -> Result<AccountRef, FdxError> {
    if !grant.account_ids.iter().any(|a| a == account_id) {
        return Err(FdxError::account_not_found());
    }
    let account = state.books.account(account_id).ok_or_else(FdxError::account_not_found)?;
    if account.ledger().account.customer_index != grant.customer_index {
        return Err(FdxError::account_not_found());
    }
    Ok(account)
}

fn today(now: OffsetDateTime) -> Date {
    now.to_offset(UtcOffset::UTC).date()
}

/// An FDX date parameter: `YYYY-MM-DD` (the spec's `date`), or an RFC 3339 date-time whose UTC date is taken.
fn parse_date(name: &str, text: &str) -> Result<Date, FdxError> {
    let bad = || {
        let shown: String = text.chars().take(40).collect();
        FdxError::invalid_date(format!("{name} `{shown}` is not an ISO 8601 date (YYYY-MM-DD)"))
    };
    if text.len() > 64 {
        return Err(bad());
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    // `checked_to_offset`: a date-time late on 9999-12-31 west of UTC has no UTC date `time` can hold (bad input).
    Date::parse(text, &format)
        .ok()
        .or_else(|| {
            OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .ok()
                .and_then(|t| t.checked_to_offset(UtcOffset::UTC))
                .map(|t| t.date())
        })
        .ok_or_else(bad)
}

fn parse_limit(text: Option<&str>, default: u32, max: u32) -> Result<usize, FdxError> {
    let Some(text) = text else { return Ok(default as usize) };
    match text.parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n as usize),
        _ => {
            let shown: String = text.chars().take(20).collect();
            Err(FdxError::invalid_input(format!("limit `{shown}` must be an integer from 1 to {max}")))
        }
    }
}

fn bad_cursor() -> FdxError {
    FdxError::invalid_input("offset is not a cursor this bank issued for this query")
}

fn query_pair(name: &str, value: &str) -> String {
    let mut out = String::with_capacity(name.len() + value.len() + 1);
    out.push_str(name);
    out.push('=');
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn page(next_offset: Option<String>, total: usize, next_href: Option<String>) -> (wire::PageMetadata, wire::PageLinks) {
    (
        wire::PageMetadata { next_offset, total_elements: Some(total) },
        wire::PageLinks { next: next_href.map(|href| wire::HateoasLink { href }) },
    )
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccountsQuery {
    account_ids: Option<String>,
    result_type: Option<String>,
    offset: Option<String>,
    limit: Option<String>,
    // Accepted for conformance (the spec lists them); transactions are served by their own endpoint.
    #[allow(dead_code)]
    start_time: Option<String>,
    #[allow(dead_code)]
    end_time: Option<String>,
}

#[derive(serde::Serialize)]
struct AccountsBody {
    page: wire::PageMetadata,
    links: wire::PageLinks,
    accounts: Vec<wire::FdxAccount>,
}

/// `GET /accounts` (FDX `searchForAccounts`): the consent's accounts, lightweight by default.
async fn list_accounts(
    State(state): State<Arc<BankState>>,
    Authorized(grant): Authorized,
    FdxQuery(q): FdxQuery<AccountsQuery>,
) -> Result<Response, FdxError> {
    require(&grant, |c| matches!(c, DataCluster::AccountBasic | DataCluster::AccountDetailed), "ACCOUNT_BASIC")?;
    let details = match q.result_type.as_deref() {
        None | Some("lightweight") => false,
        Some("details") => has(&grant, |c| matches!(c, DataCluster::AccountDetailed)),
        Some(_) => return Err(FdxError::invalid_input("resultType must be `lightweight` or `details`")),
    };
    let quirks = &state.profile.quirks;
    let limit = parse_limit(q.limit.as_deref(), quirks.default_page_size, quirks.max_page_size)?;
    let filter: Option<Vec<&str>> = q.account_ids.as_deref().map(|ids| ids.split(',').map(str::trim).collect());
    let ids: Vec<&String> = grant
        .account_ids
        .iter()
        .filter(|id| filter.as_ref().is_none_or(|wanted| wanted.contains(&id.as_str())))
        .collect();
    let scope = format!("a|{}|{}|{}", grant.consent_id, q.account_ids.as_deref().unwrap_or(""), details);
    let start = match &q.offset {
        None => 0,
        Some(token) => {
            let message = state.books.cursor_key().open(token).ok_or_else(bad_cursor)?;
            let (cursor_scope, position) = message.rsplit_once('|').ok_or_else(bad_cursor)?;
            if cursor_scope != scope {
                return Err(bad_cursor());
            }
            position.parse::<usize>().map_err(|_| bad_cursor())?
        }
    };
    let books = state.books.customer(grant.customer_index).ok_or_else(FdxError::customer_not_found)?;
    let now = state.clock.now();
    let accounts: Vec<wire::FdxAccount> = ids
        .iter()
        .skip(start)
        .take(limit)
        .filter_map(|id| books.account(id))
        .map(
            |ledger| {
                if details { wire::account_details(ledger, now) } else { wire::account_descriptor(&ledger.account) }
            },
        )
        .collect();
    let end = start.saturating_add(limit);
    let next = (end < ids.len()).then(|| state.books.cursor_key().seal(&format!("{scope}|{end}")));
    let href = next.as_ref().map(|token| {
        let mut query = vec![query_pair("limit", &limit.to_string()), query_pair("offset", token)];
        if let Some(ids) = &q.account_ids {
            query.push(query_pair("accountIds", ids));
        }
        if details {
            query.push(query_pair("resultType", "details"));
        }
        format!("/fdx/v6/accounts?{}", query.join("&"))
    });
    let (page, links) = page(next, ids.len(), href);
    Ok(axum::Json(AccountsBody { page, links, accounts }).into_response())
}

/// `GET /accounts/{accountId}` (FDX `getAccount`): full details with ACCOUNT_DETAILED, the descriptor with
/// ACCOUNT_BASIC alone.
async fn get_account(
    State(state): State<Arc<BankState>>,
    Authorized(grant): Authorized,
    AccountIdPath(account_id): AccountIdPath,
) -> Result<Response, FdxError> {
    require(&grant, |c| matches!(c, DataCluster::AccountBasic | DataCluster::AccountDetailed), "ACCOUNT_BASIC")?;
    let account = consented_account(&state, &grant, &account_id)?;
    let body = if has(&grant, |c| matches!(c, DataCluster::AccountDetailed)) {
        wire::account_details(account.ledger(), state.clock.now())
    } else {
        wire::account_descriptor(&account.ledger().account)
    };
    Ok(axum::Json(body).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RangeQuery {
    start_time: Option<String>,
    end_time: Option<String>,
    offset: Option<String>,
    limit: Option<String>,
}

/// A resolved date range plus where the previous page ended (the cursor's payload after the scope).
struct Range {
    start: Date,
    end: Date,
    after: Option<String>,
}

/// Dates and cursor of a ranged endpoint. Cursor payload: `{kind}|{accountId}|{start}|{end}|{position}`; when the
/// request omits the dates they come from the cursor, when it gives them they must match it.
fn resolve_range(state: &BankState, kind: &str, account_id: &str, q: &RangeQuery) -> Result<Range, FdxError> {
    let now = state.clock.now();
    let given_start = q.start_time.as_deref().map(|s| parse_date("startTime", s)).transpose()?;
    let given_end = q.end_time.as_deref().map(|s| parse_date("endTime", s)).transpose()?;
    let (mut start, mut end) =
        (given_start.unwrap_or(state.ledger.history_start()), given_end.unwrap_or_else(|| today(now)));
    let mut after = None;
    if let Some(token) = &q.offset {
        let message = state.books.cursor_key().open(token).ok_or_else(bad_cursor)?;
        let mut parts = message.splitn(5, '|');
        let (Some(k), Some(acct), Some(s), Some(e), Some(position)) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad_cursor());
        };
        let s = parse_date("startTime", s).map_err(|_| bad_cursor())?;
        let e = parse_date("endTime", e).map_err(|_| bad_cursor())?;
        if k != kind || acct != account_id || given_start.is_some_and(|g| g != s) || given_end.is_some_and(|g| g != e) {
            return Err(bad_cursor());
        }
        (start, end) = (s, e);
        after = Some(position.to_owned());
    }
    if start > end {
        return Err(FdxError::invalid_range(format!(
            "startTime {} is after endTime {}",
            wire::fdx_date(start),
            wire::fdx_date(end)
        )));
    }
    Ok(Range { start, end, after })
}

fn ranged_href(path: &str, range: &Range, limit: usize, token: &str) -> String {
    format!(
        "{path}?{}&{}&{}&{}",
        query_pair("startTime", &wire::fdx_date(range.start)),
        query_pair("endTime", &wire::fdx_date(range.end)),
        query_pair("limit", &limit.to_string()),
        query_pair("offset", token)
    )
}

#[derive(serde::Serialize)]
struct TransactionsBody<'a> {
    page: wire::PageMetadata,
    links: wire::PageLinks,
    transactions: Vec<wire::FdxTransaction<'a>>,
}

/// Whether the bank's sharing policy lets this grant see `tx` (see the module docs).
fn shareable(refuse_offplatform: bool, grant_platform: Option<&str>, tx: &Transaction) -> bool {
    !refuse_offplatform
        || tx.merchant.is_none()
        || (grant_platform.is_some() && tx.platform.as_deref() == grant_platform)
}

/// `GET /accounts/{accountId}/transactions` (FDX `searchForAccountTransactions`).
async fn list_transactions(
    State(state): State<Arc<BankState>>,
    Authorized(grant): Authorized,
    AccountIdPath(account_id): AccountIdPath,
    FdxQuery(q): FdxQuery<RangeQuery>,
) -> Result<Response, FdxError> {
    require(&grant, |c| matches!(c, DataCluster::Transactions), "TRANSACTIONS")?;
    let quirks = &state.profile.quirks;
    let limit = parse_limit(q.limit.as_deref(), quirks.default_page_size, quirks.max_page_size)?;
    let range = resolve_range(&state, "t", &account_id, &q)?;
    let account = consented_account(&state, &grant, &account_id)?;
    let after: Option<(OffsetDateTime, &str)> = match range.after.as_deref() {
        None => None,
        Some(position) => {
            let (nanos, id) = position.split_once('|').ok_or_else(bad_cursor)?;
            let nanos: i128 = nanos.parse().map_err(|_| bad_cursor())?;
            let at = OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| bad_cursor())?;
            Some((at, id))
        }
    };
    let now = state.clock.now();
    let ledger = account.ledger();
    let refuse = state.profile.sharing.refuse_offplatform_transactions;
    let platform = grant.platform.as_deref();
    let key: Option<TxKey<'_>> = after;
    let page_of = page_transactions(ledger, now, Window::days(range.start, range.end), key, limit, |tx| {
        shareable(refuse, platform, tx)
    });
    let next = match (page_of.more, page_of.items.last()) {
        (true, Some((last, _))) => Some(state.books.cursor_key().seal(&format!(
            "t|{account_id}|{}|{}|{}|{}",
            wire::fdx_date(range.start),
            wire::fdx_date(range.end),
            last.authorized_at.unix_timestamp_nanos(),
            last.transaction_id
        ))),
        _ => None,
    };
    let path = format!("/fdx/v6/accounts/{account_id}/transactions");
    let href = next.as_ref().map(|token| ranged_href(&path, &range, limit, token));
    let kind = ledger.account.kind;
    let transactions = page_of.items.iter().map(|(tx, st)| wire::transaction(kind, tx, *st)).collect();
    let (page, links) = page(next, page_of.total, href);
    // A transaction serializes to about 480 bytes: size the buffer once instead of growing it page by page.
    let capacity = 512 + page_of.items.len() * 512;
    Ok(json_response(&TransactionsBody { page, links, transactions }, capacity))
}

/// A JSON response serialized into a buffer of `capacity` bytes (axum's `Json` starts at 128 and grows).
fn json_response(body: &impl serde::Serialize, capacity: usize) -> Response {
    let mut buffer = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut buffer, body) {
        Ok(()) => ([(header::CONTENT_TYPE, "application/json")], buffer).into_response(),
        Err(error) => FdxError::internal(format!("serializing a response: {error}")).into_response(),
    }
}

#[derive(serde::Serialize)]
struct StatementsBody {
    page: wire::PageMetadata,
    links: wire::PageLinks,
    statements: Vec<wire::FdxStatement>,
}

/// `GET /accounts/{accountId}/statements` (FDX `searchForAccountStatements`): statements whose closing date falls
/// in the range, oldest first.
async fn list_statements(
    State(state): State<Arc<BankState>>,
    Authorized(grant): Authorized,
    AccountIdPath(account_id): AccountIdPath,
    FdxQuery(q): FdxQuery<RangeQuery>,
) -> Result<Response, FdxError> {
    require(&grant, |c| matches!(c, DataCluster::Statements), "STATEMENTS")?;
    let quirks = &state.profile.quirks;
    let limit = parse_limit(q.limit.as_deref(), quirks.default_page_size, quirks.max_page_size)?;
    let range = resolve_range(&state, "s", &account_id, &q)?;
    let account = consented_account(&state, &grant, &account_id)?;
    let start = match range.after.as_deref() {
        None => 0,
        Some(position) => position.parse::<usize>().map_err(|_| bad_cursor())?,
    };
    let all = statements_in(account.ledger(), state.clock.now(), range.start, range.end);
    let end = start.saturating_add(limit);
    let statements = all.iter().skip(start).take(limit).map(|s| wire::statement(s)).collect();
    let next = (end < all.len()).then(|| {
        state.books.cursor_key().seal(&format!(
            "s|{account_id}|{}|{}|{end}",
            wire::fdx_date(range.start),
            wire::fdx_date(range.end)
        ))
    });
    let path = format!("/fdx/v6/accounts/{account_id}/statements");
    let href = next.as_ref().map(|token| ranged_href(&path, &range, limit, token));
    let (page, links) = page(next, all.len(), href);
    Ok(axum::Json(StatementsBody { page, links, statements }).into_response())
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct NetworksBody {
    page: wire::PageMetadata,
    payment_networks: Vec<wire::PaymentNetwork>,
}

/// `GET /accounts/{accountId}/payment-networks` (FDX `getAccountPaymentNetworks`): PAYMENT_SUPPORT.
async fn payment_networks(
    State(state): State<Arc<BankState>>,
    Authorized(grant): Authorized,
    AccountIdPath(account_id): AccountIdPath,
) -> Result<Response, FdxError> {
    require(&grant, |c| matches!(c, DataCluster::PaymentSupport), "PAYMENT_SUPPORT")?;
    let account = consented_account(&state, &grant, &account_id)?;
    let payment_networks = wire::payment_networks(&account.ledger().account);
    let page = wire::PageMetadata { next_offset: None, total_elements: Some(payment_networks.len()) };
    Ok(axum::Json(NetworksBody { page, payment_networks }).into_response())
}

/// `GET /accounts/{accountId}/contact` (FDX `getAccountContact`): CUSTOMER_CONTACT.
async fn account_contact(
    State(state): State<Arc<BankState>>,
    Authorized(grant): Authorized,
    AccountIdPath(account_id): AccountIdPath,
) -> Result<Response, FdxError> {
    require(&grant, |c| matches!(c, DataCluster::CustomerContact), "CUSTOMER_CONTACT")?;
    let account = consented_account(&state, &grant, &account_id)?;
    Ok(axum::Json(wire::account_contact(&account.books.customer, &account.ledger().account)).into_response())
}

/// `GET /customers/current` (FDX `getCustomerInfo`): name and date of birth with CUSTOMER_PERSONAL, emails,
/// addresses and telephones with CUSTOMER_CONTACT (either cluster opens the endpoint).
async fn current_customer(
    State(state): State<Arc<BankState>>,
    Authorized(grant): Authorized,
) -> Result<Response, FdxError> {
    let personal = has(&grant, |c| matches!(c, DataCluster::CustomerPersonal));
    let contact = has(&grant, |c| matches!(c, DataCluster::CustomerContact));
    if !personal && !contact {
        return Err(FdxError::forbidden("the consent covers neither CUSTOMER_PERSONAL nor CUSTOMER_CONTACT"));
    }
    let books = state.books.customer(grant.customer_index).ok_or_else(FdxError::customer_not_found)?;
    let c = &books.customer;
    let accounts = grant
        .account_ids
        .iter()
        .filter(|id| books.account(id).is_some())
        .map(|id| wire::CustomerAccount {
            account_id: id.clone(),
            relationship: "PRIMARY",
            links: vec![wire::HateoasLink { href: format!("/fdx/v6/accounts/{id}") }],
        })
        .collect();
    let body = wire::FdxCustomer {
        customer_id: c.customer_id.clone(),
        kind: "CONSUMER",
        name: personal.then(|| wire::CustomerName { first: c.first_name.clone(), last: c.last_name.clone() }),
        date_of_birth: personal.then(|| wire::fdx_date(c.date_of_birth)),
        customer_start_date: books.accounts.iter().map(|a| a.account.opened).min().map(wire::fdx_date),
        emails: contact.then(|| vec![c.email.clone()]),
        addresses: contact.then(|| vec![wire::address(c)]),
        telephones: contact.then(|| vec![wire::telephone(c)]),
        accounts,
    };
    Ok(axum::Json(body).into_response())
}

// ---- FDX Event Notifications: subscriptions ----------------------------------------------------------------------

/// FDX `NotificationSubscriptionentity` as a client sends it. `effectiveDate` and `subscriptionId` are the bank's to
/// set; when a client sends them they are ignored, as are members FDX does not define.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscriptionRequest {
    #[serde(rename = "type")]
    kind: String,
    category: String,
    callback_url: String,
    subscriber: crate::events::Party,
}

/// Longest callback URL accepted.
const MAX_CALLBACK_URL: usize = 2048;

/// An absolute `https` URL with a host, no credentials and no fragment.
fn callback_url(text: &str) -> Result<String, FdxError> {
    let bad = |why: &str| FdxError::invalid_input(format!("callbackUrl {why}"));
    if text.len() > MAX_CALLBACK_URL {
        return Err(bad("is limited to 2048 bytes"));
    }
    let url = reqwest::Url::parse(text).map_err(|_| bad("is not an absolute URL"))?;
    if url.scheme() != "https" {
        return Err(bad("must be an https URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("needs a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not carry credentials"));
    }
    if url.fragment().is_some() {
        return Err(bad("must not have a fragment"));
    }
    Ok(text.to_owned())
}

/// `POST /notification-subscriptions` (FDX `createNotificationSubscription`): 201 with the entity, its
/// `subscriptionId` and `effectiveDate`. Subscribing the same consent to the same type again replaces the callback
/// URL and subscriber of the existing subscription (same id).
async fn create_subscription(
    State(state): State<Arc<BankState>>,
    Authorized(grant): Authorized,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, FdxError> {
    let body = body.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            FdxError::payload_too_large(MAX_BODY_BYTES)
        } else {
            FdxError::invalid_input(e.body_text())
        }
    })?;
    let request: SubscriptionRequest = serde_json::from_slice(&body)
        .map_err(|e| FdxError::invalid_input(format!("the body is not a NotificationSubscriptionentity: {e}")))?;
    let kind = crate::events::NotificationType::from_pair(&request.kind, &request.category)
        .map_err(FdxError::invalid_input)?;
    let url = callback_url(&request.callback_url)?;
    if let Some(problem) = request.subscriber.problem() {
        return Err(FdxError::invalid_input(problem));
    }
    let today = today(state.clock.now());
    let subscription = state.notifier.subscribe(&grant, kind, url, request.subscriber, today).await.map_err(|e| {
        tracing::error!(error = %format!("{e:#}"), "storing a notification subscription failed");
        FdxError::internal("storing the subscription failed")
    })?;
    Ok((axum::http::StatusCode::CREATED, axum::Json(subscription.entity())).into_response())
}

/// The `{subscriptionId}` path segment, with rejections as FDX errors.
#[derive(Debug)]
struct SubscriptionIdPath(String);

impl<S: Send + Sync> FromRequestParts<S> for SubscriptionIdPath {
    type Rejection = FdxError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, FdxError> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(id)) if id.len() <= 256 => Ok(SubscriptionIdPath(id)),
            Ok(_) => Err(FdxError::subscription_not_found()),
            Err(e) => Err(FdxError::invalid_input(e.body_text())),
        }
    }
}

/// The subscription `id` if it belongs to the token's consent.
fn owned_subscription(
    state: &BankState,
    grant: &BankGrant,
    id: &str,
) -> Result<Arc<crate::events::Subscription>, FdxError> {
    state
        .notifier
        .subscription(id)
        .filter(|s| s.consent_id == grant.consent_id)
        .ok_or_else(FdxError::subscription_not_found)
}

/// `GET /notification-subscriptions/{subscriptionId}` (FDX `getNotificationSubscription`).
async fn get_subscription(
    State(state): State<Arc<BankState>>,
    Authorized(grant): Authorized,
    SubscriptionIdPath(id): SubscriptionIdPath,
) -> Result<Response, FdxError> {
    let subscription = owned_subscription(&state, &grant, &id)?;
    Ok(axum::Json(subscription.entity()).into_response())
}

/// `DELETE /notification-subscriptions/{subscriptionId}` (FDX `deleteNotificationSubscription`): 204.
async fn delete_subscription(
    State(state): State<Arc<BankState>>,
    Authorized(grant): Authorized,
    SubscriptionIdPath(id): SubscriptionIdPath,
) -> Result<Response, FdxError> {
    owned_subscription(&state, &grant, &id)?;
    state.notifier.unsubscribe(&id).await.map_err(|e| {
        tracing::error!(error = %format!("{e:#}"), "deleting a notification subscription failed");
        FdxError::internal("deleting the subscription failed")
    })?;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}
