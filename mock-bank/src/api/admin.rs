//! The bank's admin API, for tests, scenarios and QA (its own HTTPS listener, no client certificate): read any
//! customer, account and transaction directly; move the simulated clock; inject transactions or raise suspected
//! fraud; set faults; reset to the seed; register OAuth clients of the bank's login; list and revoke consents;
//! publish notifications and watch the notification outbox.
//!
//! Notifications (`events`): injecting a transaction or raising fraud runs the detectors on it, moving the clock
//! runs them over the new transactions of every account a subscription watches, revoking a consent sends
//! CONSENT_REVOKED to its subscriptions (which then end), and fault rules with a maintenance window announce a
//! PLANNED_OUTAGE. `POST /admin/notifications` publishes one directly (QA, benchmarks); `GET
//! /admin/notifications/outbox` shows the delivery counters.
//!
//! Every request needs `Authorization: Bearer <admin token>` (compared in constant time). Errors are RFC 9457
//! `application/problem+json` (`type` `about:blank`, so `title` is the status phrase, §4.2.1); bodies are limited
//! to 64 KiB; malformed JSON is a 4xx problem, never a 500. Admin JSON uses camelCase and money in cents
//! (`...Cents`). This API must never be mounted on the FDX listener and never echoes the admin token.

use super::wire::fdx_date;
use crate::books::{BooksError, Injection, Window, page_transactions};
use crate::faults::FaultRule;
use crate::ledger::ids::parse_customer_id;
use crate::ledger::model::{AccountLedger, Channel, Customer, Direction, Merchant, Settlement, Transaction, TxState};
use crate::ledger::users;
use crate::login::OAuthClient;
use crate::state::BankState;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, OffsetDateTime};

/// Largest admin request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The admin router, for the bank's admin listener.
pub fn router() -> Router<Arc<BankState>> {
    Router::new()
        .route("/admin/bank", get(bank))
        .route("/admin/customers", get(customers))
        .route("/admin/customers/{customer}", get(customer))
        .route("/admin/customers/{customer}/accounts", get(customer_accounts))
        .route("/admin/accounts/{accountId}", get(account))
        .route("/admin/accounts/{accountId}/transactions", get(transactions).post(inject))
        .route("/admin/accounts/{accountId}/fraud", post(raise_fraud))
        .route("/admin/clock", get(clock).post(move_clock))
        .route("/admin/faults", get(faults).put(set_faults).delete(clear_faults))
        .route("/admin/reset", post(reset))
        .route("/admin/oauth-clients", post(register_client))
        .route("/admin/consents", get(consents))
        .route("/admin/consents/{consentId}/revoke", post(revoke_consent))
        .route("/admin/notifications", post(publish_notification))
        .route("/admin/notifications/outbox", get(outbox))
        .route("/admin/notifications/subscriptions", get(subscriptions))
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "no admin endpoint at this path") })
        .method_not_allowed_fallback(|| async {
            Problem::new(StatusCode::METHOD_NOT_ALLOWED, "this admin endpoint does not take that method")
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// An RFC 9457 problem.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub detail: String,
    pub challenge: bool,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self { status, detail: detail.into(), challenge: false }
    }
    fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }
    fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }
    fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, detail)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        // RFC 9457 §3.1 members; with `about:blank` the title is the status phrase (§4.2.1).
        let body = json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.challenge {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Bearer realm="bank-admin""#));
        }
        response
    }
}

impl From<BooksError> for Problem {
    fn from(e: BooksError) -> Self {
        match e {
            BooksError::UnknownAccount => Problem::not_found("no such account"),
            BooksError::Invalid(m) => Problem::new(StatusCode::UNPROCESSABLE_ENTITY, m),
            BooksError::Clock(c) => Problem::new(StatusCode::CONFLICT, c.to_string()),
            BooksError::Store(s) => {
                tracing::error!(error = %format!("{s:#}"), "bank store failed");
                Problem::internal("the bank store failed")
            }
        }
    }
}

/// The admin bearer token (RFC 6750 §2.1), compared in constant time.
#[derive(Debug)]
pub struct AdminAuth;

impl FromRequestParts<Arc<BankState>> for AdminAuth {
    type Rejection = Problem;
    async fn from_request_parts(parts: &mut Parts, state: &Arc<BankState>) -> Result<Self, Problem> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        match presented {
            Some(token) if state.admin_token.matches(token) => Ok(AdminAuth),
            _ => Err(Problem {
                status: StatusCode::UNAUTHORIZED,
                detail: "the admin API needs `Authorization: Bearer <admin token>`".into(),
                challenge: true,
            }),
        }
    }
}

/// JSON body with rejections as problems (400 bad JSON, 413 too large, 415 wrong content type, 422 wrong shape).
#[derive(Debug)]
pub struct AdminJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AdminJson<T> {
    type Rejection = Problem;
    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|axum::Json(v)| AdminJson(v))
            .map_err(|e: JsonRejection| Problem::new(e.status(), e.body_text()))
    }
}

/// Query string with rejections as problems.
#[derive(Debug)]
pub struct AdminQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for AdminQuery<T> {
    type Rejection = Problem;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| AdminQuery(v))
            .map_err(|e| Problem::bad_request(e.body_text()))
    }
}

/// One path segment with rejections as problems.
#[derive(Debug)]
pub struct Segment(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Segment {
    type Rejection = Problem;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| Segment(v))
            .map_err(|e| Problem::bad_request(e.body_text()))
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// A customer by FDX customer id, login name, or index.
fn resolve_customer(state: &BankState, key: &str) -> Option<u32> {
    let count = state.ledger.customers();
    parse_customer_id(key)
        .filter(|i| *i < count)
        .or_else(|| users::lookup(key, count).map(|u| u.customer_index))
        .or_else(|| key.parse::<u32>().ok().filter(|i| *i < count))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CustomerSummary {
    index: u32,
    customer_id: String,
    username: String,
    persona: crate::ledger::model::Persona,
    first_name: String,
    last_name: String,
    email: String,
}

fn summary(c: &Customer) -> CustomerSummary {
    CustomerSummary {
        index: c.index,
        customer_id: c.customer_id.clone(),
        username: users::username_of(c.index),
        persona: c.persona,
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        email: c.email.clone(),
    }
}

fn account_json(ledger: &AccountLedger, now: OffsetDateTime) -> serde_json::Value {
    let a = &ledger.account;
    let b = ledger.balances_at(now);
    let today = now.to_offset(time::UtcOffset::UTC).date();
    let statements: Vec<_> = ledger
        .statements
        .iter()
        .filter(|s| s.period_end < today)
        .map(|s| {
            json!({
                "statementId": s.statement_id,
                "periodStart": fdx_date(s.period_start),
                "periodEnd": fdx_date(s.period_end),
                "openingBalanceCents": s.opening_balance,
                "closingBalanceCents": s.closing_balance,
                "minimumDueCents": s.minimum_due,
                "dueDate": s.due_date.map(fdx_date),
            })
        })
        .collect();
    json!({
        "accountId": a.account_id,
        "customerIndex": a.customer_index,
        "kind": a.kind,
        "accountCategory": a.kind.fdx_category(),
        "accountType": a.kind.fdx_type(),
        "productName": a.product_name,
        "nickname": a.nickname,
        "accountNumber": a.account_number,
        "routingNumber": a.routing_number,
        "opened": fdx_date(a.opened),
        "currency": a.currency,
        "interestRateBp": a.interest_rate_bp,
        "creditLimitCents": a.credit_limit,
        "originalPrincipalCents": a.original_principal,
        "maturity": a.maturity.map(fdx_date),
        "monthlyPaymentCents": a.monthly_payment,
        "openingBalanceCents": ledger.opening_balance,
        "balances": {
            "asOf": rfc3339(now),
            "currentCents": b.current,
            "availableCents": b.available,
            "pendingDebitsCents": b.pending_debits,
        },
        "statements": statements,
    })
}

/// The admin view of a transaction at `now`.
pub fn transaction_json(tx: &Transaction, state: Option<TxState>) -> serde_json::Value {
    let (status, amount, posted_at) = match state {
        Some(TxState::Pending { amount }) => ("PENDING", Some(amount), None),
        Some(TxState::Posted { amount, at }) => ("POSTED", Some(amount), Some(rfc3339(at))),
        None => ("NOT_VISIBLE", None, None),
    };
    let (outcome, settles_at, settled_amount) = match tx.settlement {
        Settlement::Posts { at, amount } => ("posts", rfc3339(at), Some(amount)),
        Settlement::Drops { at } => ("drops", rfc3339(at), None),
    };
    json!({
        "transactionId": tx.transaction_id,
        "accountId": tx.account_id,
        "kind": tx.kind,
        "direction": tx.direction,
        "status": status,
        "amountCents": amount,
        "authorizedAmountCents": tx.authorized_amount,
        "description": tx.description,
        "merchant": tx.merchant.as_ref().map(|m| json!({"name": m.name, "mcc": m.mcc, "city": m.city, "region": m.region})),
        "channel": tx.channel,
        "category": tx.category,
        "platform": tx.platform,
        "checkNumber": tx.check_number,
        "suspectedFraud": tx.suspected_fraud,
        "authorizedAt": rfc3339(tx.authorized_at),
        "postedAt": posted_at,
        "settlement": {"outcome": outcome, "at": settles_at, "amountCents": settled_amount},
    })
}

fn clock_json(state: &BankState) -> serde_json::Value {
    json!({
        "now": rfc3339(state.clock.now()),
        "ticking": state.clock.is_ticking(),
        "pinnedStart": rfc3339(state.books.pinned_start()),
        "historyStart": fdx_date(state.ledger.history_start()),
    })
}

/// `GET /admin/bank`: profile, clock and counts.
async fn bank(_: AdminAuth, State(state): State<Arc<BankState>>) -> Response {
    axum::Json(json!({
        "id": state.profile.id,
        "displayName": state.profile.display_name,
        "routingNumber": state.profile.routing_number,
        "seed": state.ledger.seed(),
        "customers": state.ledger.customers(),
        "profile": &*state.profile,
        "clock": clock_json(&state),
        "injectedTransactions": state.books.injected_count(),
        "cachedCustomers": state.books.cached_customers(),
        "faultRules": state.faults.rules().len(),
        "urls": state.urls,
    }))
    .into_response()
}

#[derive(Debug, Deserialize)]
struct CustomersQuery {
    offset: Option<u32>,
    limit: Option<u32>,
}

/// `GET /admin/customers?offset&limit`.
async fn customers(
    _: AdminAuth,
    State(state): State<Arc<BankState>>,
    AdminQuery(q): AdminQuery<CustomersQuery>,
) -> Result<Response, Problem> {
    let offset = q.offset.unwrap_or(0);
    let limit = q.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::bad_request("limit must be from 1 to 1000"));
    }
    let total = state.ledger.customers();
    let end = offset.saturating_add(limit).min(total);
    let list: Vec<_> = (offset.min(end)..end).filter_map(|i| state.ledger.customer(i)).map(|c| summary(&c)).collect();
    Ok(axum::Json(json!({
        "customers": list,
        "total": total,
        "offset": offset,
        "limit": limit,
        "nextOffset": (end < total).then_some(end),
    }))
    .into_response())
}

/// `GET /admin/customers/{customerId|username|index}`.
async fn customer(
    _: AdminAuth,
    State(state): State<Arc<BankState>>,
    Segment(key): Segment,
) -> Result<Response, Problem> {
    let index = resolve_customer(&state, &key).ok_or_else(|| Problem::not_found("no such customer"))?;
    let c = state.ledger.customer(index).ok_or_else(|| Problem::not_found("no such customer"))?;
    let accounts: Vec<_> = state
        .ledger
        .accounts(index)
        .iter()
        .map(|a| json!({"accountId": a.account_id, "kind": a.kind, "nickname": a.nickname, "productName": a.product_name}))
        .collect();
    let a = &c.address;
    Ok(axum::Json(json!({
        "index": c.index,
        "customerId": c.customer_id,
        "username": users::username_of(c.index),
        "persona": c.persona,
        "firstName": c.first_name,
        "lastName": c.last_name,
        "email": c.email,
        "phone": c.phone,
        "address": {"line1": a.line1, "city": a.city, "region": a.region, "postalCode": a.postal_code, "country": a.country},
        "dateOfBirth": fdx_date(c.date_of_birth),
        "accounts": accounts,
    }))
    .into_response())
}

/// `GET /admin/customers/{customer}/accounts`: every account with balances at the simulated now.
async fn customer_accounts(
    _: AdminAuth,
    State(state): State<Arc<BankState>>,
    Segment(key): Segment,
) -> Result<Response, Problem> {
    let index = resolve_customer(&state, &key).ok_or_else(|| Problem::not_found("no such customer"))?;
    let books = state.books.customer(index).ok_or_else(|| Problem::not_found("no such customer"))?;
    let now = state.clock.now();
    let accounts: Vec<_> = books.accounts.iter().map(|a| account_json(a, now)).collect();
    Ok(axum::Json(json!({ "customerId": books.customer.customer_id, "accounts": accounts })).into_response())
}

/// `GET /admin/accounts/{accountId}`: the account with balances and issued statements.
async fn account(
    _: AdminAuth,
    State(state): State<Arc<BankState>>,
    Segment(account_id): Segment,
) -> Result<Response, Problem> {
    let account = state.books.account(&account_id).ok_or_else(|| Problem::not_found("no such account"))?;
    Ok(axum::Json(account_json(account.ledger(), state.clock.now())).into_response())
}

#[derive(Debug, Deserialize)]
struct RangeQuery {
    start: Option<String>,
    end: Option<String>,
}

fn parse_day(name: &str, text: &str) -> Result<Date, Problem> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    // `checked_to_offset`: a date-time late on 9999-12-31 west of UTC has no UTC date `time` can hold (bad input).
    Date::parse(text, &format)
        .ok()
        .or_else(|| {
            let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
            at.checked_to_offset(time::UtcOffset::UTC).map(|t| t.date())
        })
        .ok_or_else(|| Problem::bad_request(format!("{name} must be a date (YYYY-MM-DD) or an RFC 3339 date-time")))
}

/// `GET /admin/accounts/{accountId}/transactions?start&end`: every transaction that exists at the simulated now
/// (pending and posted, including any a sharing policy withholds from the FDX API), oldest first.
async fn transactions(
    _: AdminAuth,
    State(state): State<Arc<BankState>>,
    Segment(account_id): Segment,
    AdminQuery(q): AdminQuery<RangeQuery>,
) -> Result<Response, Problem> {
    let account = state.books.account(&account_id).ok_or_else(|| Problem::not_found("no such account"))?;
    let now = state.clock.now();
    let start = q.start.as_deref().map(|s| parse_day("start", s)).transpose()?.unwrap_or(Date::MIN);
    let end = q.end.as_deref().map(|s| parse_day("end", s)).transpose()?.unwrap_or(Date::MAX);
    if start > end {
        return Err(Problem::bad_request("start is after end"));
    }
    let page = page_transactions(account.ledger(), now, Window::days(start, end), None, usize::MAX, |_| true);
    let list: Vec<_> = page.items.iter().map(|(tx, st)| transaction_json(tx, Some(*st))).collect();
    Ok(axum::Json(json!({ "accountId": account_id, "asOf": rfc3339(now), "total": page.total, "transactions": list }))
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct MerchantBody {
    name: String,
    mcc: u16,
    #[serde(default)]
    city: Option<String>,
    #[serde(default)]
    region: Option<String>,
}

/// `debit`/`credit`; FDX's `DEBIT`/`CREDIT` spelling (as in `debitCreditMemo`) is accepted too.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum DirectionBody {
    #[serde(alias = "DEBIT")]
    Debit,
    #[serde(alias = "CREDIT")]
    Credit,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
enum OutcomeBody {
    #[default]
    Posts,
    Drops,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct InjectBody {
    amount_cents: i64,
    direction: DirectionBody,
    description: String,
    #[serde(default)]
    merchant: Option<MerchantBody>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    platform: Option<String>,
    #[serde(default)]
    pending_days: u32,
    #[serde(default)]
    outcome: OutcomeBody,
}

/// Largest amount an injection may carry ($100 million).
const MAX_INJECTED_CENTS: i64 = 10_000_000_000;

fn merchant(body: Option<MerchantBody>, state: &BankState) -> Result<Option<Merchant>, Problem> {
    let Some(m) = body else { return Ok(None) };
    let field_ok = |s: &str| !s.trim().is_empty() && s.len() <= 100;
    if !field_ok(&m.name) || m.mcc > 9999 {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "merchant needs a name (1-100 bytes) and a 4-digit mcc",
        ));
    }
    let city = m.city.filter(|c| field_ok(c)).unwrap_or_else(|| "ONLINE".into());
    let region = m.region.filter(|r| field_ok(r)).unwrap_or_else(|| state.profile.home_region.clone());
    Ok(Some(Merchant { name: m.name, mcc: m.mcc, city, region }))
}

/// `POST /admin/accounts/{accountId}/transactions`: inject a transaction authorized at the simulated now; 201.
async fn inject(
    _: AdminAuth,
    State(state): State<Arc<BankState>>,
    Segment(account_id): Segment,
    AdminJson(body): AdminJson<InjectBody>,
) -> Result<Response, Problem> {
    let unprocessable = |m: &str| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, m.to_owned());
    if !(1..=MAX_INJECTED_CENTS).contains(&body.amount_cents) {
        return Err(unprocessable("amountCents must be from 1 to 10000000000"));
    }
    if body.description.trim().is_empty() || body.description.len() > 200 {
        return Err(unprocessable("description must be 1-200 bytes"));
    }
    if body.platform.as_ref().is_some_and(|p| p.is_empty() || p.len() > 64) {
        return Err(unprocessable("platform must be 1-64 bytes"));
    }
    if body.category.as_ref().is_some_and(|c| c.len() > 64) {
        return Err(unprocessable("category is limited to 64 bytes"));
    }
    let merchant = merchant(body.merchant, &state)?;
    let channel = match (&merchant, &body.platform) {
        (Some(_), Some(_)) => Channel::CardNotPresent,
        (Some(_), None) => Channel::CardPresent,
        (None, _) => Channel::Ach,
    };
    let injection = Injection {
        amount: body.amount_cents,
        direction: match body.direction {
            DirectionBody::Debit => Direction::Debit,
            DirectionBody::Credit => Direction::Credit,
        },
        description: body.description,
        category: body.category.unwrap_or_else(|| if merchant.is_some() { "Shopping" } else { "Other" }.into()),
        merchant,
        channel,
        platform: body.platform,
        pending_days: body.pending_days,
        drops: matches!(body.outcome, OutcomeBody::Drops),
        suspected_fraud: false,
    };
    let tx = state.books.inject(&account_id, injection).await?;
    crate::events::on_injected(&state, &tx);
    let visible = tx.state_at(state.clock.now());
    Ok((StatusCode::CREATED, axum::Json(transaction_json(&tx, visible))).into_response())
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FraudBody {
    #[serde(default)]
    amount_cents: Option<i64>,
    #[serde(default)]
    merchant: Option<MerchantBody>,
}

/// `POST /admin/accounts/{accountId}/fraud`: raise a suspected-fraud card-not-present purchase on a credit card or
/// a checking account's debit card (pending, posts in 2 days); 201 with the transaction.
async fn raise_fraud(
    _: AdminAuth,
    State(state): State<Arc<BankState>>,
    Segment(account_id): Segment,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, Problem> {
    use crate::ledger::model::AccountKind;
    // An oversized body (413) is a problem like every other admin error, not axum's plain-text rejection.
    let body = body.map_err(|e| Problem::new(e.status(), e.body_text()))?;
    // The body is optional: empty means every default.
    let body: FraudBody = if body.iter().all(u8::is_ascii_whitespace) {
        FraudBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?
    };
    let account = state.books.account(&account_id).ok_or_else(|| Problem::not_found("no such account"))?;
    if !matches!(account.ledger().account.kind, AccountKind::CreditCard | AccountKind::Checking) {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "fraud can be raised on credit cards and checking accounts only",
        ));
    }
    let amount = body.amount_cents.unwrap_or(89_999);
    if !(1..=MAX_INJECTED_CENTS).contains(&amount) {
        return Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "amountCents must be from 1 to 10000000000"));
    }
    // The default is far from home: Miami, or Las Vegas for a customer who lives in Florida.
    let home = account.books.customer.address.region.clone();
    let (city, region) = if home.eq_ignore_ascii_case("FL") { ("LAS VEGAS", "NV") } else { ("MIAMI", "FL") };
    let merchant = merchant(body.merchant, &state)?.unwrap_or_else(|| Merchant {
        name: "GLOBALTECH ELECTRONICS".into(),
        mcc: 5732,
        city: city.into(),
        region: region.into(),
    });
    let description = format!("{} ONLINE {} {}", merchant.name, merchant.city, merchant.region);
    let injection = Injection {
        amount,
        direction: Direction::Debit,
        description,
        merchant: Some(merchant),
        channel: Channel::CardNotPresent,
        category: "Electronics".into(),
        platform: None,
        pending_days: 2,
        drops: false,
        suspected_fraud: true,
    };
    let tx = state.books.inject(&account_id, injection).await?;
    // A flagged charge always raises RISK for the subscriptions watching the account (`events::detect`).
    crate::events::on_injected(&state, &tx);
    let visible = tx.state_at(state.clock.now());
    Ok((StatusCode::CREATED, axum::Json(transaction_json(&tx, visible))).into_response())
}

/// `GET /admin/clock`.
async fn clock(_: AdminAuth, State(state): State<Arc<BankState>>) -> Response {
    axum::Json(clock_json(&state)).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    #[serde(default)]
    advance: Option<String>,
    #[serde(default)]
    set: Option<String>,
}

/// A positive duration: `3d`, `12h`, `90m`, `45s`, combinations such as `1d12h`, or ISO 8601 (`PT36H`, `P1DT2H`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() || text.len() > 32 {
        return None;
    }
    let (iso, body) = match text.strip_prefix(['P', 'p']) {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let mut total = Duration::ZERO;
    let mut number = String::new();
    let mut in_time = false;
    let mut any = false;
    for c in body.chars() {
        match c {
            '0'..='9' => number.push(c),
            'T' | 't' if iso && number.is_empty() && !in_time => in_time = true,
            _ => {
                let n: i64 = number.parse().ok()?;
                number.clear();
                let unit = match c.to_ascii_lowercase() {
                    'w' if !in_time => Duration::weeks(1),
                    'd' if !in_time => Duration::DAY,
                    'h' if in_time || !iso => Duration::HOUR,
                    'm' if in_time || !iso => Duration::MINUTE,
                    's' if in_time || !iso => Duration::SECOND,
                    _ => return None,
                };
                total = total.checked_add(unit.checked_mul(i32::try_from(n).ok()?)?)?;
                any = true;
            }
        }
    }
    (any && number.is_empty() && total.is_positive() && total <= Duration::days(3660)).then_some(total)
}

/// `POST /admin/clock` with `{"advance": "3d"}` or `{"set": "<RFC 3339>"}`: moving backwards is 409. The new
/// transactions of watched accounts are run through the notification detectors.
async fn move_clock(
    _: AdminAuth,
    State(state): State<Arc<BankState>>,
    AdminJson(body): AdminJson<ClockBody>,
) -> Result<Response, Problem> {
    let before = state.clock.now();
    let after = match (body.advance, body.set) {
        (Some(by), None) => {
            let by = parse_duration(&by).ok_or_else(|| {
                Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "advance must be a positive duration such as 3d, 12h, 90m or PT36H (at most 10 years)",
                )
            })?;
            state.books.advance_clock(by).await?
        }
        (None, Some(at)) => {
            let at = OffsetDateTime::parse(&at, &Rfc3339)
                .map_err(|_| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "set must be an RFC 3339 date-time"))?;
            state.books.set_clock(at).await?
        }
        _ => return Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "give exactly one of `advance` or `set`")),
    };
    crate::events::on_clock_moved(&state, before, after);
    Ok(axum::Json(clock_json(&state)).into_response())
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsBody {
    faults: Vec<FaultRule>,
}

/// `GET /admin/faults`.
async fn faults(_: AdminAuth, State(state): State<Arc<BankState>>) -> Response {
    axum::Json(FaultsBody { faults: state.faults.rules() }).into_response()
}

/// `PUT /admin/faults` with `{"faults": [...]}`: replaces every rule.
async fn set_faults(
    _: AdminAuth,
    State(state): State<Arc<BankState>>,
    AdminJson(body): AdminJson<FaultsBody>,
) -> Result<Response, Problem> {
    if body.faults.len() > 100 {
        return Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "at most 100 fault rules"));
    }
    state.faults.set(body.faults).map_err(|e| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    let rules = state.faults.rules();
    crate::events::on_faults_set(&state, &rules);
    Ok(axum::Json(FaultsBody { faults: rules }).into_response())
}

/// `DELETE /admin/faults`.
async fn clear_faults(_: AdminAuth, State(state): State<Arc<BankState>>) -> Response {
    state.faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /admin/reset`: back to the seed (injections and cached ledgers dropped, clock at the pinned start, faults
/// cleared and their generator re-seeded). Consents and clients of the bank's login are kept.
async fn reset(_: AdminAuth, State(state): State<Arc<BankState>>) -> Result<Response, Problem> {
    state.books.reset().await?;
    state.faults.reset();
    Ok(axum::Json(json!({ "reset": true, "clock": clock_json(&state) })).into_response())
}

/// `POST /admin/oauth-clients` with `{"client_id": ..., "redirect_uris": [...]}`: registers a client of the bank's
/// login; 201.
async fn register_client(
    _: AdminAuth,
    State(state): State<Arc<BankState>>,
    AdminJson(client): AdminJson<OAuthClient>,
) -> Result<Response, Problem> {
    let client_id = client.client_id.clone();
    state
        .auth
        .register_client(client)
        .await
        .map_err(|e| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, format!("cannot register client: {e}")))?;
    Ok((StatusCode::CREATED, axum::Json(json!({ "clientId": client_id, "registered": true }))).into_response())
}

#[derive(Debug, Deserialize)]
struct ConsentsQuery {
    customer: Option<String>,
}

/// `GET /admin/consents?customer=<customerId|username|index>`.
async fn consents(
    _: AdminAuth,
    State(state): State<Arc<BankState>>,
    AdminQuery(q): AdminQuery<ConsentsQuery>,
) -> Result<Response, Problem> {
    let key = q.customer.ok_or_else(|| Problem::bad_request("give ?customer=<customerId, username or index>"))?;
    let index = resolve_customer(&state, &key).ok_or_else(|| Problem::not_found("no such customer"))?;
    let list = state.auth.consents_of(index);
    Ok(axum::Json(json!({ "customerIndex": index, "consents": list })).into_response())
}

/// `POST /admin/consents/{consentId}/revoke`: the person revokes at the bank; every token of the consent stops, its
/// CONSENT_REVOKED subscriptions are notified and all its subscriptions end.
async fn revoke_consent(
    _: AdminAuth,
    State(state): State<Arc<BankState>>,
    Segment(consent_id): Segment,
) -> Result<Response, Problem> {
    match state.auth.revoke_consent(&consent_id).await {
        Ok(true) => {
            crate::events::on_consent_revoked(&state, &consent_id).await.map_err(|e| {
                tracing::error!(error = %format!("{e:#}"), "ending a revoked consent's subscriptions failed");
                Problem::internal("the consent is revoked, but ending its notification subscriptions failed")
            })?;
            Ok(axum::Json(json!({ "consentId": consent_id, "revoked": true })).into_response())
        }
        Ok(false) => Err(Problem::not_found("no such consent")),
        Err(e) => {
            tracing::error!(error = %e, "revoking a consent failed");
            Err(Problem::internal("revoking the consent failed"))
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PublishBody {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    account_id: Option<String>,
    /// `customFields.name`.
    #[serde(default)]
    reason: Option<String>,
    /// `customFields.value`.
    #[serde(default)]
    detail: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    maintenance_from: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    maintenance_until: Option<OffsetDateTime>,
}

/// `POST /admin/notifications` with `{"type": "RISK", "accountId": "...", "reason"?, "detail"?}` (or `BALANCE`, or
/// `PLANNED_OUTAGE` with an optional `maintenanceFrom`/`maintenanceUntil`): publish one notification through the
/// same addressing and outbox as detected events, without touching the ledger. 202 with the queued ids.
async fn publish_notification(
    _: AdminAuth,
    State(state): State<Arc<BankState>>,
    AdminJson(body): AdminJson<PublishBody>,
) -> Result<Response, Problem> {
    use crate::events::NotificationType;
    let unprocessable = |m: String| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, m);
    let kind = match body.category.as_deref() {
        Some(category) => NotificationType::from_pair(&body.kind, category).map_err(unprocessable)?,
        None => NotificationType::ALL
            .into_iter()
            .find(|t| t.name() == body.kind)
            .ok_or_else(|| unprocessable("type must be RISK, BALANCE, CONSENT_REVOKED or PLANNED_OUTAGE".into()))?,
    };
    let text_ok = |t: &Option<String>, max: usize| t.as_ref().is_none_or(|t| !t.trim().is_empty() && t.len() <= max);
    if !text_ok(&body.reason, 64) || !text_ok(&body.detail, 500) {
        return Err(unprocessable("reason is limited to 64 bytes and detail to 500".into()));
    }
    if let Some(account) = &body.account_id
        && state.books.account(account).is_none()
    {
        return Err(Problem::not_found("no such account"));
    }
    let window = match (body.maintenance_from, body.maintenance_until) {
        (None, None) => None,
        (from, Some(until)) => Some((from.unwrap_or_else(|| state.clock.now()), until)),
        (Some(_), None) => return Err(unprocessable("maintenanceFrom needs maintenanceUntil".into())),
    };
    let ids = crate::events::publish_manual(&state, kind, body.account_id.as_deref(), body.reason, body.detail, window)
        .map_err(unprocessable)?;
    Ok((StatusCode::ACCEPTED, axum::Json(json!({ "queued": ids.len(), "notificationIds": ids }))).into_response())
}

/// `GET /admin/notifications/outbox`: delivery counters (queued, in flight, delivered, rejected, dropped, attempts).
async fn outbox(_: AdminAuth, State(state): State<Arc<BankState>>) -> Response {
    let counts = state.notifier.counts();
    axum::Json(json!({
        "queued": counts.queued,
        "inFlight": counts.in_flight,
        "delivered": counts.delivered,
        "rejected": counts.rejected,
        "dropped": counts.dropped,
        "attempts": counts.attempts,
        "canDeliver": state.notifier.outbox().can_deliver(),
        "subscriptions": state.notifier.subscriptions().len(),
    }))
    .into_response()
}

/// `GET /admin/notifications/subscriptions`: every notification subscription at this bank.
async fn subscriptions(_: AdminAuth, State(state): State<Arc<BankState>>) -> Response {
    let list: Vec<_> = state
        .notifier
        .subscriptions()
        .iter()
        .map(|s| {
            json!({
                "subscriptionId": s.subscription_id,
                "consentId": s.consent_id,
                "clientId": s.client_id,
                "type": s.kind.name(),
                "category": s.kind.category(),
                "callbackUrl": s.callback_url,
                "effectiveDate": s.effective_date,
                "accountIds": s.account_ids,
            })
        })
        .collect();
    axum::Json(json!({ "subscriptions": list })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_both_notations() {
        assert_eq!(parse_duration("3d"), Some(Duration::days(3)));
        assert_eq!(parse_duration("12h"), Some(Duration::hours(12)));
        assert_eq!(parse_duration("90m"), Some(Duration::minutes(90)));
        assert_eq!(parse_duration("1d12h"), Some(Duration::hours(36)));
        assert_eq!(parse_duration("PT36H"), Some(Duration::hours(36)));
        assert_eq!(parse_duration("P1DT2H30M"), Some(Duration::minutes(26 * 60 + 30)));
        assert_eq!(parse_duration("P2W"), Some(Duration::days(14)));
        for bad in ["", "3", "d", "-3d", "0d", "3x", "PT", "P3H", "99999999999d", "P1D2H"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }
}
