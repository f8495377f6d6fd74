//! The person-facing pages of the authorization server: `GET /authorize` (RFC 6749 §4.1.1 with FAPI 2.0's
//! mandatory PAR, RFC 9126 §4), the consent page, the separate secondary-use opt-in screen (issue "Purpose limits"),
//! the round trip to the chosen bank (`GET /banks/{bank_id}/callback`) and the final confirmation that issues the
//! authorization code (RFC 6749 §4.1.2, with RFC 9207 `iss`); and the person's dashboard ([`dashboard`]), whose
//! bank sign-in returns through the same bank callback (dispatched by the `state` of the dashboard session).
//!
//! Server-rendered HTML without JavaScript; every form carries a CSRF token bound to the server-side session named
//! by the `__Host-gw_session` cookie; every page is sent with a CSP (`frame-ancestors 'none'`), `X-Frame-Options:
//! DENY` and `Cache-Control: no-store`, and no CORS headers. Rules decided here:
//! - Before the client's `redirect_uri` is trusted (unknown, expired, used or foreign `request_uri`, missing
//!   parameters, no session) the person gets an HTML error page, never a redirect (RFC 6749 §4.1.2.1).
//! - A secondary-use purpose (targeted advertising, cross-selling, sale of data) needs an explicit opt-in on its
//!   own screen; declining it refuses the whole consent with `access_denied` (the request is never silently
//!   narrowed, so the client cannot mistake a smaller grant for what it asked).
//! - Denial anywhere (consent page, opt-in screen, at the bank, confirmation) sends `error=access_denied` with
//!   `state` and `iss` to the client's redirect URI (303), and consumes the request_uri.
//! - The bank is asked with `recipient` = the app's client id and `platform` = its registered platform, so the
//!   bank's data-sharing policy judges the app, not the gateway. When the bank refuses by policy (its redirect
//!   carries the extension parameter `refusal=data_sharing_policy`, RFC 6749 §8.2), the person sees a refusal page
//!   naming the bank and its words (escaped, capped at [`MAX_BANK_DESCRIPTION`] characters) with one button back
//!   to the app, which then gets `access_denied` (RFC 6749 §4.1.2.1: the resource owner's side refused) with an
//!   `error_description` saying the bank's data-sharing policy refused. Any other `access_denied` from the bank is
//!   the person declining there.
//! - When the authorization ends without a code after the bank issued tokens (the person denies at the final
//!   confirmation, or the confirmation fails), the bank tokens are revoked at the bank (RFC 7009, refresh token
//!   first: §2.1 lets that end the whole grant), the PENDING consent is revoked (USER_ACTION by the person, or
//!   BUSINESS_RULE by the gateway when the confirmation failed) and its sealed bank tokens are deleted. A failed
//!   bank revocation is logged and does not hold up the redirect (bounded by [`BANK_REVOCATION_BOUND`]).
//! - Once the code is issued, the gateway subscribes at the bank to the consent's notifications (issue 5,
//!   [`crate::banks::notifications::spawn_subscribe`]): in a task of its own, so the person's redirect never waits
//!   for it and a failure never undoes the consent. The bank is never asked for the NOTIFICATIONS cluster's scope.
//! - The request_uri is consumed when the authorization completes (approve or deny), atomically through
//!   [`Store::use_par_request`](crate::store::Store::use_par_request): a second completion gets an error page.
//!
//! This module must never redirect to a URI that is not the pushed (registered) redirect URI or the chosen bank's
//! authorization endpoint, never log a session id, CSRF token, code or bank token, and never read the wall clock.

pub mod dashboard;
pub mod registry;
pub mod session;

pub use registry::BankRegistry;
pub use session::ConsentSessions;

use askama::Template;
use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::Value;
use time::OffsetDateTime;

use crate::app::AppState;
use crate::banks::{BankTokenSet, CallbackError};
use crate::consent::{Authorization, Consent, ConsentRequest, ConsentSubject, Initiator, RevocationReason};
use crate::oauth::endpoints::AUTHORIZE_PATH;
use crate::store::{
    Approval, BankTokens, CodeRecord, ConsentApproval, ConsentRevocationOutcome, ParUse, StoreError, TokenHash,
};
use session::{PageSession, SESSION_LIFETIME, Stage};

/// The session cookie. `__Host-` (RFC 6265bis §4.1.3.2): Secure, Path=/, no Domain.
pub const SESSION_COOKIE: &str = "__Host-gw_session";
/// Where the consent page posts.
pub const CONSENT_PATH: &str = "/authorize/consent";
/// Where the secondary-use opt-in screen posts.
pub const OPT_IN_PATH: &str = "/authorize/secondary-use";
/// Where the final confirmation posts.
pub const CONFIRM_PATH: &str = "/authorize/confirm";
/// Where the bank-refusal page's button posts.
pub const REFUSED_PATH: &str = "/authorize/refused";
/// The `refusal` value a bank's redirect carries when its data-sharing policy refused (RFC 6749 §8.2 extension).
pub const POLICY_REFUSAL: &str = "data_sharing_policy";
/// The bank's `error_description` is shown to the person cut to this many characters.
pub const MAX_BANK_DESCRIPTION: usize = 300;
/// The longest the bank-token revocation may hold up the person's redirect.
pub use crate::revocation::BANK_REVOCATION_BOUND;
/// Largest form body the pages accept.
const BODY_LIMIT: usize = 16 * 1024;
const BASE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

/// The pages' routes (merged into [`crate::app::router`]).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(AUTHORIZE_PATH, get(authorize))
        .route(CONSENT_PATH, post(consent_submit))
        .route(OPT_IN_PATH, post(opt_in_submit))
        .route(CONFIRM_PATH, post(confirm_submit))
        .route(REFUSED_PATH, post(refused_submit))
        .route("/banks/{bank_id}/callback", get(bank_callback))
        .route(dashboard::DASHBOARD_PATH, get(dashboard::home))
        .route(dashboard::SIGNIN_PATH, post(dashboard::signin))
        .route(dashboard::REVOKE_PATH, post(dashboard::revoke))
        .route(dashboard::SIGNOUT_PATH, post(dashboard::signout))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::map_response(security_headers))
}

/// Headers every page response carries.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(BASE_CSP));
    }
    response
}

// ---------------------------------------------------------------------------------------------------------------
// Templates

#[derive(Template)]
#[template(path = "consent/consent.html")]
struct ConsentTemplate {
    csrf: String,
    client_name: String,
    data: Vec<&'static str>,
    lookback_days: u32,
    duration: String,
    purposes: Vec<&'static str>,
    banks: Vec<BankChoice>,
}

struct BankChoice {
    id: String,
    name: String,
}

#[derive(Template)]
#[template(path = "consent/opt_in.html")]
struct OptInTemplate {
    csrf: String,
    client_name: String,
    secondary: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "consent/confirm.html")]
struct ConfirmTemplate {
    csrf: String,
    client_name: String,
    bank_name: String,
    accounts: Vec<String>,
    data: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "consent/refused.html")]
struct RefusedTemplate {
    csrf: String,
    client_name: String,
    bank_name: String,
    description: String,
}

#[derive(Template)]
#[template(path = "consent/message.html")]
struct MessageTemplate {
    heading: String,
    message: String,
}

/// A rendered page with `csp`.
fn page(status: StatusCode, template: &impl Template, csp: Option<String>) -> Response {
    match template.render() {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            if let Some(value) = csp.and_then(|c| HeaderValue::from_str(&c).ok()) {
                response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
            }
            response
        }
        Err(err) => {
            tracing::error!(error = %err, "consent page template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "the gateway could not show this page").into_response()
        }
    }
}

fn message(status: StatusCode, heading: &str, text: &str) -> Response {
    page(status, &MessageTemplate { heading: heading.to_owned(), message: text.to_owned() }, None)
}

fn invalid_request_page(text: &str) -> Response {
    message(StatusCode::BAD_REQUEST, "The app's request cannot be used", text)
}

fn session_missing() -> Response {
    message(
        StatusCode::BAD_REQUEST,
        "Your session has ended",
        "This authorization session is unknown or has expired. Go back to the app you came from and start again.",
    )
}

fn csrf_failed() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "This form could not be accepted",
        "The form's security token is missing or wrong. Go back, reload the page and try again.",
    )
}

fn out_of_step() -> Response {
    message(
        StatusCode::CONFLICT,
        "This step is out of order",
        "This page does not belong to where your authorization is. Go back to the app and start again.",
    )
}

/// The origin (`scheme://host[:port]`) of an absolute URL.
fn origin(url: &str) -> Option<String> {
    reqwest::Url::parse(url).ok().map(|u| u.origin().ascii_serialization()).filter(|o| o != "null")
}

/// CSP whose `form-action` also allows where the form's 303 goes (CSP 3 applies form-action to redirects).
fn csp_for(state: &AppState, redirect_uri: &str, with_banks: bool) -> String {
    let mut targets = vec!["'self'".to_owned()];
    targets.extend(origin(redirect_uri));
    if with_banks {
        targets.extend(state.banks.iter().filter_map(|b| origin(b.bank().issuer())));
    }
    targets.dedup();
    format!("default-src 'none'; style-src 'unsafe-inline'; form-action {}; frame-ancestors 'none'", targets.join(" "))
}

// ---------------------------------------------------------------------------------------------------------------
// Cookies, randomness, redirects

fn random_text(bytes: usize) -> Option<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).ok()?;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

fn with_cookie(mut response: Response, value: String) -> Response {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

fn session_cookie(id: &str) -> String {
    format!("{SESSION_COOKIE}={id}; Path=/; Secure; HttpOnly; SameSite=Lax")
}

fn cleared_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// The consent-page session id from the request's cookies.
fn session_id(headers: &HeaderMap) -> Option<String> {
    session::session_cookie_id(headers, SESSION_COOKIE)
}

fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            response.headers_mut().insert(header::LOCATION, value);
            response
        }
        Err(_) => message(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "The redirect is not valid."),
    }
}

/// `redirect_uri` with `params`, `state` and RFC 9207 `iss` appended (RFC 6749 §4.1.2 / §4.1.2.1).
fn client_redirect(state: &AppState, session: &PageSession, params: &[(&str, &str)]) -> Response {
    let Ok(mut url) = reqwest::Url::parse(&session.redirect_uri) else {
        return message(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "The app's address is not valid.");
    };
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            query.append_pair(k, v);
        }
        if let Some(s) = &session.oauth_state {
            query.append_pair("state", s);
        }
        query.append_pair("iss", &state.issuer);
    }
    see_other(url.as_str())
}

/// Ends the authorization with `error` (RFC 6749 §4.1.2.1): consumes the request_uri, ends the session, and sends
/// the person back to the client. A request_uri already consumed means this is a second completion: error page.
async fn finish_with_error(state: &AppState, id: &str, session: &PageSession, error: &str, text: &str) -> Response {
    state.sessions.remove(id);
    match state.store.use_par_request(&session.request_uri, &session.client_id, state.now()).await {
        Ok(ParUse::Used(_)) => with_cookie(
            client_redirect(state, session, &[("error", error), ("error_description", text)]),
            cleared_cookie(),
        ),
        Ok(_) => with_cookie(already_finished(), cleared_cookie()),
        Err(err) => store_failed(&err),
    }
}

fn already_finished() -> Response {
    message(
        StatusCode::BAD_REQUEST,
        "This authorization is already finished or has expired",
        "The app's request can be used only once and only for a few minutes. Go back to the app and start again.",
    )
}

fn store_failed(err: &crate::store::StoreError) -> Response {
    tracing::error!(error = %err, "consent pages: store failed");
    message(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "The gateway could not save your choice.")
}

async fn access_denied(state: &AppState, id: &str, session: &PageSession, text: &str) -> Response {
    finish_with_error(state, id, session, "access_denied", text).await
}

// ---------------------------------------------------------------------------------------------------------------
// Parameters

/// A parameter that must appear at most once (RFC 6749 §3.1); `Err` when repeated.
fn single<'a>(pairs: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, ()> {
    let mut found = pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let first = found.next();
    if found.next().is_some() { Err(()) } else { Ok(first) }
}

type FormPairs = Result<Form<Vec<(String, String)>>, FormRejection>;
/// A checked form post: the session id, its session and the form's parameters.
type Checked = (String, PageSession, Vec<(String, String)>);

/// The request's live session and its CSRF-checked form (RFC 6749 §10.12).
fn checked(state: &AppState, headers: &HeaderMap, form: FormPairs) -> Result<Checked, Box<Response>> {
    let id = session_id(headers).ok_or_else(|| Box::new(session_missing()))?;
    let session = state.sessions.get(&id, state.now()).ok_or_else(|| Box::new(session_missing()))?;
    let Ok(Form(pairs)) = form else {
        return Err(Box::new(invalid_request_page("The form was not sent as a web form, or it was too large.")));
    };
    let csrf = single(&pairs, "csrf").ok().flatten();
    if !session.csrf_matches(csrf) {
        return Err(Box::new(csrf_failed()));
    }
    Ok((id, session, pairs))
}

fn cluster_words(request: &ConsentRequest) -> Vec<&'static str> {
    request.clusters.iter().map(|c| c.description()).collect()
}

// ---------------------------------------------------------------------------------------------------------------
// GET /authorize

/// `GET /authorize?client_id&request_uri`: checks the pushed request (RFC 9126 §4: exists, unexpired, unused, of
/// this client), starts a page session and shows the consent page.
async fn authorize(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let Ok(Query(pairs)) = query else {
        return invalid_request_page("The authorization request's parameters cannot be read.");
    };
    let (Ok(client_id), Ok(request_uri)) = (single(&pairs, "client_id"), single(&pairs, "request_uri")) else {
        return invalid_request_page("A parameter appears more than once.");
    };
    let (Some(client_id), Some(request_uri)) = (client_id, request_uri) else {
        return invalid_request_page(
            "The app must push its request first (FAPI 2.0 requires PAR) and send client_id and request_uri.",
        );
    };
    let now = state.now();
    let par = match state.store.par_request(request_uri).await {
        Ok(Some(par)) => par,
        Ok(None) => return invalid_request_page("The app's request_uri is unknown."),
        Err(err) => return store_failed(&err),
    };
    if par.client_id != client_id {
        return invalid_request_page("The request_uri was not issued to this app.");
    }
    if par.used_at.is_some() || now >= par.expires_at {
        return already_finished();
    }
    let client = match state.store.client(client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => return invalid_request_page("The app is not registered."),
        Err(err) => return store_failed(&err),
    };
    let text = |name: &str| par.params.get(name).and_then(Value::as_str).map(str::to_owned);
    let request = par
        .params
        .get("authorization_details")
        .map(ConsentRequest::from_authorization_details_value)
        .and_then(Result::ok);
    let (Some(redirect_uri), Some(request)) = (text("redirect_uri"), request) else {
        return message(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "The stored request is not valid.");
    };
    let (Some(id), Some(csrf)) = (random_text(32), random_text(32)) else {
        return message(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "No randomness available.");
    };
    let client_name =
        client.metadata.get("client_name").and_then(Value::as_str).unwrap_or(client_id).chars().take(100).collect();
    // Validated at registration (`ClientMetadata::validate`): `[a-z0-9_-]{1,64}`.
    let platform = client.metadata.get("platform").and_then(Value::as_str).map(str::to_owned);
    let session = PageSession {
        csrf,
        client_id: client_id.to_owned(),
        client_name,
        platform,
        request_uri: request_uri.to_owned(),
        redirect_uri,
        oauth_state: text("state"),
        request,
        stage: Stage::Consent,
        expires_at: now + SESSION_LIFETIME,
    };
    let response = consent_page(&state, &session);
    state.sessions.put(&id, session, now);
    with_cookie(response, session_cookie(&id))
}

fn consent_page(state: &AppState, session: &PageSession) -> Response {
    let template = ConsentTemplate {
        csrf: session.csrf.clone(),
        client_name: session.client_name.clone(),
        data: cluster_words(&session.request),
        lookback_days: session.request.lookback.days(),
        duration: session.request.duration.describe(),
        purposes: session.request.purposes.iter().map(|p| p.description()).collect(),
        banks: state
            .banks
            .iter()
            .map(|c| BankChoice { id: c.bank().id().to_owned(), name: c.bank().display_name().to_owned() })
            .collect(),
    };
    page(StatusCode::OK, &template, Some(csp_for(state, &session.redirect_uri, true)))
}

// ---------------------------------------------------------------------------------------------------------------
// POST /authorize/consent and /authorize/secondary-use

async fn consent_submit(State(state): State<AppState>, headers: HeaderMap, form: FormPairs) -> Response {
    let (id, mut session, pairs) = match checked(&state, &headers, form) {
        Ok(checked) => checked,
        Err(response) => return *response,
    };
    if !matches!(session.stage, Stage::Consent) {
        return out_of_step();
    }
    match single(&pairs, "action") {
        Ok(Some("deny")) => return access_denied(&state, &id, &session, "the person declined the consent").await,
        Ok(Some("continue")) => {}
        _ => return invalid_request_page("Choose Continue or Deny."),
    }
    let Some(bank) = single(&pairs, "bank").ok().flatten().filter(|b| state.banks.get(b).is_some()) else {
        return invalid_request_page("Choose one of the listed banks.");
    };
    let bank = bank.to_owned();
    if session.request.has_secondary_use() {
        session.stage = Stage::OptIn { bank };
        let secondary = session.request.purposes.iter().filter(|p| p.is_secondary_use()).map(|p| p.description());
        let template = OptInTemplate {
            csrf: session.csrf.clone(),
            client_name: session.client_name.clone(),
            secondary: secondary.collect(),
        };
        let response = page(StatusCode::OK, &template, Some(csp_for(&state, &session.redirect_uri, true)));
        state.sessions.put(&id, session, state.now());
        return response;
    }
    to_bank(&state, &id, session, &bank, false)
}

async fn opt_in_submit(State(state): State<AppState>, headers: HeaderMap, form: FormPairs) -> Response {
    let (id, session, pairs) = match checked(&state, &headers, form) {
        Ok(checked) => checked,
        Err(response) => return *response,
    };
    let Stage::OptIn { bank } = &session.stage else {
        return out_of_step();
    };
    let bank = bank.clone();
    match single(&pairs, "action") {
        Ok(Some("opt_in")) => to_bank(&state, &id, session, &bank, true),
        Ok(Some("decline")) => {
            access_denied(&state, &id, &session, "the person did not opt in to the secondary-use purposes").await
        }
        _ => invalid_request_page("Choose whether to allow these uses."),
    }
}

/// RFC 6749 §4.1.1 at the bank, with PKCE (RFC 7636) and a fresh `state`; 303 to the bank's login.
fn to_bank(state: &AppState, id: &str, mut session: PageSession, bank: &str, opted_in: bool) -> Response {
    let Some(client) = state.banks.get(bank) else {
        return invalid_request_page("Choose one of the listed banks.");
    };
    let Some(bank_state) = random_text(32) else {
        return message(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "No randomness available.");
    };
    let request = &session.request;
    // NOTIFICATIONS is the gateway's own cluster, never a scope at the bank (crate::banks::notifications).
    let scopes = crate::banks::notifications::bank_scopes(request);
    let purposes: Vec<String> = request.purposes.iter().map(|p| p.as_str().to_owned()).collect();
    // The bank's sharing policy judges the app the data is for (`recipient`) and its platform, not the gateway.
    let (url, verifier) = client.authorize_url(
        &bank_state,
        &scopes,
        &purposes,
        session.platform.as_deref(),
        Some(&session.client_id),
        request.duration.period_days(),
    );
    session.stage = Stage::AtBank { bank: bank.to_owned(), bank_state, verifier, opted_in };
    state.sessions.put(id, session, state.now());
    see_other(url.as_str())
}

// ---------------------------------------------------------------------------------------------------------------
// GET /banks/{bank_id}/callback

async fn bank_callback(
    State(state): State<AppState>,
    Path(bank_id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    if let Ok(Query(pairs)) = &query
        && let Some(response) = dashboard::callback(&state, &bank_id, &headers, pairs).await
    {
        return response;
    }
    let Some(id) = session_id(&headers) else { return session_missing() };
    let Some(mut session) = state.sessions.get(&id, state.now()) else { return session_missing() };
    let Stage::AtBank { bank, bank_state, verifier, opted_in } = session.stage.clone() else {
        return out_of_step();
    };
    let Some(client) = state.banks.get(&bank).filter(|_| bank == bank_id) else {
        return invalid_request_page("This answer comes from another bank than the one you chose.");
    };
    let Ok(Query(pairs)) = query else {
        return invalid_request_page("The bank's answer cannot be read.");
    };
    let code = match client.verify_callback(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())), &bank_state) {
        Ok(code) => code,
        Err(CallbackError::Denied { error, description }) if error == "access_denied" => {
            // `iss` and `state` were checked above, so the `refusal` marker is the bank's own.
            if single(&pairs, "refusal") == Ok(Some(POLICY_REFUSAL)) {
                let bank_name = client.bank().display_name().to_owned();
                return refusal_page(&state, &id, session, bank, bank_name, description.as_deref());
            }
            return access_denied(&state, &id, &session, "the person declined at their bank").await;
        }
        Err(CallbackError::Denied { error, .. }) => {
            // Any other bank error (RFC 6749 §4.1.2.1) is the bank's or the gateway's fault, not the person's choice.
            tracing::warn!(bank = %bank, error = %error, "bank refused the authorization request");
            let code = if error == "temporarily_unavailable" { "temporarily_unavailable" } else { "server_error" };
            return finish_with_error(&state, &id, &session, code, "the bank refused the authorization request").await;
        }
        Err(err) => {
            tracing::warn!(bank = %bank, error = %err, "bank callback refused");
            return invalid_request_page("The bank's answer does not belong to this authorization.");
        }
    };
    let now = state.now();
    let tokens = match client.exchange_code(&code, &verifier, now).await {
        Ok(tokens) => tokens,
        Err(err) => {
            tracing::warn!(bank = %bank, error = %err, "bank code exchange failed");
            let error = if err.is_retryable() { "temporarily_unavailable" } else { "server_error" };
            return finish_with_error(&state, &id, &session, error, "the bank did not complete the authorization")
                .await;
        }
    };
    if tokens.account_ids.is_empty() {
        return access_denied(&state, &id, &session, "no account was shared at the bank").await;
    }
    let Some(consent_id) = random_text(32) else {
        return message(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "No randomness available.");
    };
    let pending = Consent::new(consent_id.clone(), session.client_id.clone(), session.request.clone(), now);
    if let Err(err) = record_pending_consent(&state, &pending, &bank, &tokens, now).await {
        return store_failed(&err);
    }
    let accounts = tokens.account_ids.clone();
    let template = ConfirmTemplate {
        csrf: session.csrf.clone(),
        client_name: session.client_name.clone(),
        bank_name: client.bank().display_name().to_owned(),
        accounts: accounts.clone(),
        data: cluster_words(&session.request),
    };
    let response = page(StatusCode::OK, &template, Some(csp_for(&state, &session.redirect_uri, false)));
    // The person is the bank's pairwise subject (`sub`); a bank that names none leaves its consent id as the handle.
    let person = tokens.subject.clone().unwrap_or_else(|| tokens.consent_id.clone());
    session.stage = Stage::Confirm { bank, consent_id, person, accounts, opted_in };
    state.sessions.put(&id, session, now);
    response
}

/// Stores `consent` (PENDING) with the tokens `bank` issued for it, sealed. The browser flow's bank callback and the
/// sandbox shortcut ([`crate::oauth::endpoints::sandbox`]) both record what a bank returned this way; the bank's
/// granted scope is kept (RFC 6749 §5.1: when the bank omits it, it granted what was asked).
pub(crate) async fn record_pending_consent(
    state: &AppState,
    consent: &Consent,
    bank: &str,
    tokens: &BankTokenSet,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let sealed = BankTokens {
        bank: bank.to_owned(),
        access_token: tokens.access_token.expose().to_owned(),
        refresh_token: tokens.refresh_token.as_ref().map(|t| t.expose().to_owned()),
        expires_at: tokens.expires_at,
        scope: tokens.scope.as_ref().map(|s| s.join(" ")).unwrap_or_else(|| consent.request.scope()),
    };
    state.store.insert_pending_consent(consent, &sealed, now).await
}

// ---------------------------------------------------------------------------------------------------------------
// The bank's data-sharing policy refused: GET /banks/{bank_id}/callback shows it, POST /authorize/refused ends it

/// `text` as a bank description safe to show and to pass on: printable ASCII without `"` and `\` (the
/// `error_description` charset of RFC 6749 §4.1.2.1), whitespace runs collapsed, at most [`MAX_BANK_DESCRIPTION`]
/// characters.
fn clean_description(text: &str) -> String {
    let kept: String = text
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| matches!(c, ' '..='~') && !matches!(c, '"' | '\\'))
        .collect();
    kept.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(MAX_BANK_DESCRIPTION).collect()
}

/// Shows the refusal page (an alert, with one button back to the app) and moves the session to `Stage::Refused`.
fn refusal_page(
    state: &AppState,
    id: &str,
    mut session: PageSession,
    bank: String,
    bank_name: String,
    description: Option<&str>,
) -> Response {
    let mut description = clean_description(description.unwrap_or(""));
    if description.is_empty() {
        description = format!("{bank_name} does not share this data with this app.");
    }
    tracing::info!(bank = %bank, client_id = %session.client_id, "bank refused by its data-sharing policy");
    let template = RefusedTemplate {
        csrf: session.csrf.clone(),
        client_name: session.client_name.clone(),
        bank_name,
        description: description.clone(),
    };
    let response = page(StatusCode::OK, &template, Some(csp_for(state, &session.redirect_uri, false)));
    session.stage = Stage::Refused { bank, description };
    state.sessions.put(id, session, state.now());
    response
}

/// `POST /authorize/refused`: the person goes back to the app, which gets `access_denied` (RFC 6749 §4.1.2.1).
async fn refused_submit(State(state): State<AppState>, headers: HeaderMap, form: FormPairs) -> Response {
    let (id, session, pairs) = match checked(&state, &headers, form) {
        Ok(checked) => checked,
        Err(response) => return *response,
    };
    let Stage::Refused { bank, description } = &session.stage else {
        return out_of_step();
    };
    if single(&pairs, "action") != Ok(Some("return")) {
        return invalid_request_page("Use the button to return to the app.");
    }
    let bank_name = state.banks.get(bank).map(|c| c.bank().display_name().to_owned()).unwrap_or_else(|| bank.clone());
    let text = clean_description(&format!("the data-sharing policy of {bank_name} refused the request: {description}"));
    access_denied(&state, &id, &session, &text).await
}

// ---------------------------------------------------------------------------------------------------------------
// POST /authorize/confirm

/// A PENDING consent that will never be confirmed: revoke its bank tokens at the bank (RFC 7009 §2.1; the refresh
/// token first, which ends the whole grant at banks that support it, then the access token), revoke the consent and
/// delete its sealed bank tokens. Failures are logged; none of them stops the person's redirect.
async fn abandon_pending_consent(state: &AppState, bank: &str, consent_id: &str, by_person: bool) {
    let now = state.now();
    crate::revocation::revoke_at_bank(state, bank, consent_id).await;
    let (reason, initiator) = if by_person {
        (RevocationReason::UserAction, Initiator::Person)
    } else {
        (RevocationReason::BusinessRule, Initiator::Gateway)
    };
    match state.store.revoke_consent(consent_id, reason, initiator, now).await {
        Ok(ConsentRevocationOutcome::Revoked { .. } | ConsentRevocationOutcome::Refused(_)) => {}
        Ok(ConsentRevocationOutcome::NotFound) => tracing::warn!("abandoned consent not found"),
        Err(err) => tracing::warn!(error = %err, "abandoned consent: revocation not stored"),
    }
    if let Err(err) = state.store.delete_bank_tokens(consent_id).await {
        tracing::warn!(error = %err, "abandoned consent: bank tokens not deleted");
    }
}

async fn confirm_submit(State(state): State<AppState>, headers: HeaderMap, form: FormPairs) -> Response {
    let (id, session, pairs) = match checked(&state, &headers, form) {
        Ok(checked) => checked,
        Err(response) => return *response,
    };
    let Stage::Confirm { bank, consent_id, person, accounts, opted_in } = session.stage.clone() else {
        return out_of_step();
    };
    match single(&pairs, "action") {
        Ok(Some("approve")) => {}
        Ok(Some("deny")) => {
            // Only the completion that consumed the request_uri cleans up: a racing approval keeps its consent.
            state.sessions.remove(&id);
            return match state.store.use_par_request(&session.request_uri, &session.client_id, state.now()).await {
                Ok(ParUse::Used(_)) => {
                    abandon_pending_consent(&state, &bank, &consent_id, true).await;
                    let params = [("error", "access_denied"), ("error_description", "the person declined the consent")];
                    with_cookie(client_redirect(&state, &session, &params), cleared_cookie())
                }
                Ok(_) => with_cookie(already_finished(), cleared_cookie()),
                Err(err) => store_failed(&err),
            };
        }
        _ => return invalid_request_page("Choose Approve or Deny."),
    }
    state.sessions.remove(&id);
    let subject = ConsentSubject { person, bank: bank.clone() };
    let decision = Authorization { subject, accounts, secondary_use_opt_in: opted_in };
    match approve(&state, &session, &consent_id, decision).await {
        Ok(response) => response,
        Err(Failed { response, abandon }) => {
            if abandon {
                abandon_pending_consent(&state, &bank, &consent_id, false).await;
            }
            *response
        }
    }
}

/// A confirmation that issued no code: what the person gets, and whether this completion must abandon the PENDING
/// consent (false when another completion consumed the request_uri: that one owns the consent).
struct Failed {
    response: Box<Response>,
    abandon: bool,
}

impl From<Response> for Failed {
    fn from(response: Response) -> Self {
        Self { response: Box::new(response), abandon: true }
    }
}

/// The approved confirmation: consumes the request_uri, authorizes the consent and issues the code.
async fn approve(
    state: &AppState,
    session: &PageSession,
    consent_id: &str,
    decision: Authorization,
) -> Result<Response, Failed> {
    let now = state.now();
    let mut consent = match state.store.consent(consent_id).await {
        Ok(Some(consent)) => consent,
        Ok(None) => return Err(store_failed(&crate::store::StoreError::Missing("consent")).into()),
        Err(err) => return Err(store_failed(&err).into()),
    };
    if let Err(err) = consent.authorize(decision, now) {
        // A completion all the same: it consumes the request_uri before the app hears of the refusal.
        let par_use = state.store.use_par_request(&session.request_uri, &session.client_id, now).await;
        let text = err.to_string();
        let refusal = [("error", "access_denied"), ("error_description", text.as_str())];
        return Err(par_refusal(par_use.map(|used| match used {
            ParUse::Used(_) => Ok(client_redirect(state, session, &refusal)),
            other => Err(other),
        })));
    }
    // Read only: the code's PKCE challenge and DPoP key come from the pushed request; `approve_consent` below
    // consumes it, in the same transaction as the consent's authorization and the code.
    let par = match state.store.par_request(&session.request_uri).await {
        Ok(Some(par)) => par,
        Ok(None) => return Err(par_refusal(Ok(Err(ParUse::NotFound)))),
        Err(err) => return Err(Failed { response: Box::new(store_failed(&err)), abandon: false }),
    };
    let text = |name: &str| par.params.get(name).and_then(Value::as_str).map(str::to_owned);
    let (Some(code), Some(challenge)) = (random_text(32), text("code_challenge")) else {
        let text = "The code could not be issued.";
        return Err(message(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", text).into());
    };
    let record = CodeRecord {
        code_hash: TokenHash::of(&code),
        client_id: session.client_id.clone(),
        consent_id: consent_id.to_owned(),
        pkce_challenge: challenge,
        redirect_uri: session.redirect_uri.clone(),
        dpop_jkt: text("dpop_jkt"),
        expires_at: now + state.config.code_lifetime,
        used_at: None,
    };
    let approval = ConsentApproval {
        request_uri: &session.request_uri,
        client_id: &session.client_id,
        consent: &consent,
        code: &record,
        now,
    };
    match state.store.approve_consent(approval).await {
        Ok(Approval::Approved) => {}
        Ok(Approval::Refused(refusal)) => return Err(par_refusal(Ok(Err(refusal)))),
        Ok(Approval::ConsentChanged) => return Err(with_cookie(already_finished(), cleared_cookie()).into()),
        // Nothing was written; another completion of the same session may have won: it owns the consent.
        Err(err) => return Err(Failed { response: Box::new(store_failed(&err)), abandon: false }),
    }
    // Issue 5: subscribe at the bank to the consent's notifications, off the person's request path (best effort).
    crate::banks::notifications::spawn_subscribe(state, consent_id, crate::banks::notifications::Begun::Already);
    Ok(with_cookie(client_redirect(state, session, &[("code", &code)]), cleared_cookie()))
}

/// What a confirmation gets when consuming the request_uri answered `used` (`Ok(response)`: this completion consumed
/// it) or refused it (`Err`). Only the completion that consumed it, or an expired one that nobody can complete any
/// more, abandons the PENDING consent; another client's, an unknown or an already used request_uri belongs to
/// another completion.
fn par_refusal(used: Result<Result<Response, ParUse>, StoreError>) -> Failed {
    match used {
        Ok(Ok(response)) => with_cookie(response, cleared_cookie()).into(),
        Ok(Err(ParUse::Expired)) => with_cookie(already_finished(), cleared_cookie()).into(),
        Ok(Err(_)) => Failed { response: Box::new(with_cookie(already_finished(), cleared_cookie())), abandon: false },
        Err(err) => Failed { response: Box::new(store_failed(&err)), abandon: false },
    }
}

/// The redirect URI to register at bank `bank_id` (`{issuer}/banks/{bank_id}/callback`), for
/// [`BankClientSettings::redirect_uri`](crate::banks::BankClientSettings).
pub fn bank_redirect_uri(gateway_issuer: &str, bank_id: &str) -> String {
    format!("{}/banks/{bank_id}/callback", gateway_issuer.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule on who abandons the PENDING consent when the confirmation cannot use the request_uri: the completion
    /// that consumed it, or an expired one (nobody can complete it any more); never another completion's (unknown,
    /// another client's, already used) nor after a store failure (nothing was written, another may have won).
    #[test]
    fn only_the_completion_that_consumed_the_request_uri_or_an_expired_one_abandons_the_consent() {
        let cleared = |failed: &Failed| {
            failed
                .response
                .headers()
                .get_all(header::SET_COOKIE)
                .iter()
                .any(|c| c.to_str().is_ok_and(|c| c.contains("Max-Age=0")))
        };
        let consumed = par_refusal(Ok(Ok(StatusCode::SEE_OTHER.into_response())));
        assert!(consumed.abandon && cleared(&consumed));
        let expired = par_refusal(Ok(Err(ParUse::Expired)));
        assert!(expired.abandon && cleared(&expired));
        for other in [ParUse::NotFound, ParUse::WrongClient, ParUse::AlreadyUsed] {
            let failed = par_refusal(Ok(Err(other)));
            assert!(!failed.abandon, "another completion owns the consent");
            assert!(cleared(&failed), "this page's session ends all the same");
        }
        let store_down = par_refusal(Err(StoreError::Closed));
        assert!(!store_down.abandon);
        assert!(store_down.response.status().is_server_error(), "{}", store_down.response.status());
    }
}
