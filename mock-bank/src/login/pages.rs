//! The authorization endpoint and the bank-branded login pages a person's browser goes through: sign in, the
//! one-time code for MFA users, and the choice of accounts to share.
//!
//! Server-rendered HTML (askama, escaped by default) that works without JavaScript. Every form carries the session's
//! CSRF token; every page is sent with a strict CSP, `X-Frame-Options: DENY` and `Cache-Control: no-store`. Errors
//! found before the client and its exact redirect URI are known are shown as a page, never redirected (no open
//! redirect, RFC 6749 §4.1.2.1); later errors go back to the client with `error`, `state` and `iss` (RFC 9207).
//! Handlers are thin: rules live in `service`; nothing here logs a password, code or session id.
//!
//! Extension parameters of the authorization request (RFC 6749 §3.1 lets servers define them): `purpose`
//! (space-separated `[a-z0-9_-]` identifiers), `platform` (`[a-z0-9_-]{1,64}`: the platform the client acts for),
//! `recipient` (`[A-Za-z0-9_-]{1,64}`: the downstream third party an aggregator asks for, its client id there) and
//! `duration_days`. The bank's data-sharing policy ([`SharingPolicy`](crate::profile::SharingPolicy)) is checked
//! against `recipient` (else the caller's client id) and `platform`; a refusal goes back as `error=access_denied`
//! with an `error_description` in plain words (which bank refuses what to whom) and the extension response
//! parameter `refusal=data_sharing_policy` (RFC 6749 §8.2), so the client can tell the bank's policy from the
//! person's choice. The recipient is used for this check only: it is not stored with the bank's consent (that
//! would need a migration of `auth_consents`, and nothing reads it afterwards).
//!
//! Sign-in only: `scope=openid` alone (OpenID Connect Core 1.0 §3.1.2.1; `scopes::RequestedScope::SignIn`) asks the
//! bank to sign the person in and share nothing. The password page says so; the person signs in with the same rules
//! (wrong passwords counted, MFA users enter their code, locked and `login_error_<code>` users fail exactly as in a
//! data request), and then, with no account page and no consent, the bank redirects back at once with a code,
//! `state` and `iss` (RFC 9207); the code is redeemed with the same PKCE S256 check. The extension parameters
//! (`purpose`, `platform`, `recipient`, `duration_days`) belong to data sharing and are refused with
//! `invalid_request` next to `openid`; `openid` together with `fdx:*` scopes is refused with `invalid_scope`.

use super::{
    AuthError, DataCluster, MAX_CONSENT_DAYS,
    params::Params,
    scopes,
    scopes::RequestedScope,
    secrets,
    service::{ApprovedGrant, SharingTerms},
    sessions::{AuthorizeRequest, LoginSession, MAX_MFA_TRIES, MAX_PASSWORD_TRIES, SharingRequest, Stage},
    uri,
};
use crate::{
    ledger::{
        model::{Account, AccountKind, Persona},
        users::{self, ChosenError},
    },
    profile::SharingParties,
    state::BankState,
};
use askama::Template;
use axum::{
    Form, Router,
    extract::{DefaultBodyLimit, Query, State, rejection::FormRejection, rejection::QueryRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::{get, post},
};
use std::sync::Arc;

/// The CSP of pages that post only to the bank itself.
macro_rules! csp_base {
    () => {
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    };
}

/// Largest form body the login pages accept.
const BODY_LIMIT: usize = 16 * 1024;
/// The session cookie. `__Host-` (RFC 6265bis §4.1.3.2): Secure, Path=/, no Domain, so no other host can set it.
const SESSION_COOKIE: &str = "__Host-bank_session";
const MAX_USERNAME: usize = 64;
const MAX_PASSWORD: usize = 128;
const MAX_CODE: usize = 16;
const MAX_STATE: usize = 512;
const MAX_PURPOSES: usize = 10;
const MAX_ACCOUNTS_CHOSEN: usize = 64;

pub(super) fn router() -> Router<Arc<BankState>> {
    Router::new()
        .route("/oauth/authorize", get(authorize))
        .route("/login", get(login_page).post(login_submit))
        .route("/login/mfa", get(mfa_page).post(mfa_submit))
        .route("/login/accounts", get(accounts_page))
        .route("/login/consent", post(consent_submit))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::map_response(security_headers))
}

/// Headers every response of the login listener carries.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp_base!()));
    }
    response
}

/// The page CSP; `form-action` also allows the origin the final form post redirects to.
fn csp(redirect_uri: Option<&str>) -> HeaderValue {
    let origin = redirect_uri.and_then(uri::origin);
    match origin {
        Some(origin) => HeaderValue::from_str(&format!(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' {origin}; frame-ancestors 'none'"
        ))
        .unwrap_or_else(|_| HeaderValue::from_static(csp_base!())),
        None => HeaderValue::from_static(csp_base!()),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Templates

/// The bank's look, from its profile. Colors are used inside CSS, so only `#rgb`/`#rrggbb` values pass.
struct Brand {
    bank_name: String,
    logo_text: String,
    tagline: String,
    primary_color: String,
    accent_color: String,
}

fn css_color(value: &str, fallback: &str) -> String {
    let hex = value.strip_prefix('#').unwrap_or("");
    if matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        value.to_owned()
    } else {
        fallback.to_owned()
    }
}

fn brand(state: &BankState) -> Brand {
    let b = &state.profile.branding;
    Brand {
        bank_name: state.profile.display_name.clone(),
        logo_text: b.logo_text.clone(),
        tagline: b.tagline.clone(),
        primary_color: css_color(&b.primary_color, "#1f3a5f"),
        accent_color: css_color(&b.accent_color, "#c9a227"),
    }
}

#[derive(Template)]
#[template(path = "login/login.html")]
struct LoginTemplate {
    brand: Brand,
    csrf: String,
    client_id: String,
    /// `scope=openid`: the app only wants to know it is this person; no account data.
    sign_in_only: bool,
    username: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "login/mfa.html")]
struct MfaTemplate {
    brand: Brand,
    csrf: String,
    error: Option<String>,
}

struct AccountRow {
    account_id: String,
    nickname: String,
    kind: &'static str,
    last4: String,
    checked: bool,
}

#[derive(Template)]
#[template(path = "login/accounts.html")]
struct AccountsTemplate {
    brand: Brand,
    csrf: String,
    client_id: String,
    data_asked: Vec<&'static str>,
    purposes: Vec<String>,
    expires_on: String,
    accounts: Vec<AccountRow>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "login/message.html")]
struct MessageTemplate {
    brand: Brand,
    heading: String,
    message: String,
    return_link: Option<String>,
    return_to: String,
}

/// Render a template into a page response with the given status and CSP.
fn page(status: StatusCode, template: &impl Template, redirect_uri: Option<&str>) -> Response {
    match template.render() {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, csp(redirect_uri));
            response
        }
        Err(err) => {
            tracing::error!(error = %err, "login page template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "the bank could not show this page").into_response()
        }
    }
}

/// A page that only says something (errors, locked account, ended session), optionally with a way back to the app.
fn message(
    state: &BankState,
    status: StatusCode,
    heading: &str,
    text: &str,
    back: Option<(&AuthorizeRequest, &AuthError)>,
) -> Response {
    let return_link = back.map(|(request, err)| error_location(state, request, err));
    let template = MessageTemplate {
        brand: brand(state),
        heading: heading.to_owned(),
        message: text.to_owned(),
        return_link,
        return_to: back.map(|(r, _)| r.client_id.clone()).unwrap_or_default(),
    };
    page(status, &template, None)
}

fn session_missing(state: &BankState) -> Response {
    message(
        state,
        StatusCode::BAD_REQUEST,
        "Your sign-in session has ended",
        "This sign-in session is unknown or has expired. Go back to the app you came from and start again.",
        None,
    )
}

fn csrf_failed(state: &BankState) -> Response {
    message(
        state,
        StatusCode::FORBIDDEN,
        "This form could not be accepted",
        "The form's security token is missing or wrong. Go back, reload the page and try again.",
        None,
    )
}

// ---------------------------------------------------------------------------------------------------------------
// Redirects back to the client

fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            response.headers_mut().insert(header::LOCATION, value);
            response
        }
        Err(_) => (StatusCode::BAD_REQUEST, "the redirect target is not a valid URL").into_response(),
    }
}

/// RFC 6749 §4.1.2.1 error response URL, with RFC 9207 `iss`.
fn error_location(state: &BankState, request: &AuthorizeRequest, err: &AuthError) -> String {
    let mut params = vec![("error", err.code()), ("error_description", err.description())];
    if let Some(s) = request.state.as_deref() {
        params.push(("state", s));
    }
    params.push(("iss", state.auth.issuer()));
    uri::with_query(&request.redirect_uri, &params)
}

fn error_redirect(state: &BankState, redirect_uri: &str, oauth_state: Option<&str>, err: &AuthError) -> Response {
    let mut params = vec![("error", err.code()), ("error_description", err.description())];
    if let Some(s) = oauth_state {
        params.push(("state", s));
    }
    params.push(("iss", state.auth.issuer()));
    see_other(&uri::with_query(redirect_uri, &params))
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
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

/// The session id from the request's cookies (well-formed values only).
fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
        .find(|id| id.len() == 43 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .map(str::to_owned)
}

/// The page of the step a session is at.
fn stage_path(stage: &Stage) -> &'static str {
    match stage {
        Stage::Password { .. } => "/login",
        Stage::Mfa { .. } => "/login/mfa",
        Stage::Accounts { .. } => "/login/accounts",
    }
}

/// The live session of the request, or the page saying there is none.
fn current_session(state: &BankState, headers: &HeaderMap) -> Result<(String, LoginSession), Box<Response>> {
    let missing = || Box::new(session_missing(state));
    let id = session_id(headers).ok_or_else(missing)?;
    let session = state.auth.sessions.get(&id, state.auth.now()).ok_or_else(missing)?;
    Ok((id, session))
}

type FormPairs = Result<Form<Vec<(String, String)>>, FormRejection>;

/// A form post's parameters after the CSRF check (RFC 6749 §10.12).
fn checked_form(state: &BankState, session: &LoginSession, form: FormPairs) -> Result<Params, Box<Response>> {
    let Ok(Form(pairs)) = form else {
        return Err(Box::new(message(
            state,
            StatusCode::BAD_REQUEST,
            "This form could not be accepted",
            "The form was not sent as a web form, or it was too large.",
            None,
        )));
    };
    let params = Params::new(pairs);
    if !session.csrf_matches(params.get("csrf").ok().flatten()) {
        return Err(Box::new(csrf_failed(state)));
    }
    Ok(params)
}

// ---------------------------------------------------------------------------------------------------------------
// GET /oauth/authorize

fn invalid_request_page(state: &BankState, text: &str) -> Response {
    message(state, StatusCode::BAD_REQUEST, "The app's request is not valid", text, None)
}

/// `[a-z0-9_-]{1,64}`: purposes and platform ids.
fn is_identifier(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// `[A-Za-z0-9_-]{1,64}`: the `recipient` (a client id at the aggregator: gateway-issued ids are base64url, so
/// upper case is allowed here, unlike in purposes and platforms).
fn is_recipient(value: &str) -> bool {
    (1..=64).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// RFC 6749 §4.1.1 authorization request with RFC 7636 §4.3 PKCE parameters.
async fn authorize(
    State(state): State<Arc<BankState>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let Ok(Query(pairs)) = query else {
        return invalid_request_page(&state, "The request's parameters could not be read.");
    };
    let params = Params::new(pairs);
    // Client and exact redirect URI first: until both are known good, errors are shown here, never redirected.
    let client = match params.get("client_id") {
        Ok(Some(id)) => match state.auth.client(id) {
            Some(client) => client,
            None => return invalid_request_page(&state, "The app asking to connect is not registered with this bank."),
        },
        Ok(None) => return invalid_request_page(&state, "The request does not say which app is asking (client_id)."),
        Err(_) => return invalid_request_page(&state, "The request names the app (client_id) more than once."),
    };
    let redirect_uri = match params.get("redirect_uri") {
        // RFC 9700 §2.1: exact string matching against the registered redirect URIs.
        Ok(Some(uri)) if client.redirect_uris.iter().any(|r| r == uri) => uri.to_owned(),
        Ok(Some(_)) => {
            return invalid_request_page(&state, "The redirect_uri is not one the app registered with this bank.");
        }
        Ok(None) => return invalid_request_page(&state, "The request does not include a redirect_uri."),
        Err(_) => return invalid_request_page(&state, "The request includes redirect_uri more than once."),
    };
    let oauth_state = match params.get("state") {
        Ok(s) if s.is_none_or(|s| s.len() <= MAX_STATE) => s.map(str::to_owned),
        Ok(_) => {
            let err = AuthError::InvalidRequest(format!("state is longer than {MAX_STATE} characters"));
            return error_redirect(&state, &redirect_uri, None, &err);
        }
        Err(_) => {
            let err = AuthError::InvalidRequest("state appears more than once".into());
            return error_redirect(&state, &redirect_uri, None, &err);
        }
    };
    match authorization_request(&state, &params, &client.client_id, &redirect_uri, oauth_state.clone()) {
        Ok(request) => match state.auth.sessions.start(request.clone(), state.auth.now()) {
            Ok(id) => {
                let Some(session) = state.auth.sessions.get(&id, state.auth.now()) else {
                    return session_missing(&state);
                };
                with_cookie(login_form(&state, &session, StatusCode::OK, String::new(), None), &session_cookie(&id))
            }
            Err(err) => error_redirect(&state, &redirect_uri, oauth_state.as_deref(), &err),
        },
        Err(refused) => refused_redirect(&state, &redirect_uri, oauth_state.as_deref(), refused),
    }
}

/// Why an authorization request is sent back to the client.
enum Refused {
    /// The request itself is wrong (RFC 6749 §4.1.2.1 codes).
    Request(AuthError),
    /// The bank's data-sharing policy refuses it: `access_denied` with this description and the extension
    /// parameter `refusal=data_sharing_policy` (RFC 6749 §8.2).
    Policy(String),
}

impl From<AuthError> for Refused {
    fn from(err: AuthError) -> Self {
        Self::Request(err)
    }
}

/// The `refusal` extension response parameter (RFC 6749 §8.2) marking a data-sharing policy refusal.
pub const POLICY_REFUSAL: &str = "data_sharing_policy";

/// The redirect for a refused request: the OAuth error, or the policy refusal with its extension parameter.
fn refused_redirect(state: &BankState, redirect_uri: &str, oauth_state: Option<&str>, refused: Refused) -> Response {
    match refused {
        Refused::Request(err) => error_redirect(state, redirect_uri, oauth_state, &err),
        Refused::Policy(description) => {
            let mut params = vec![
                ("error", "access_denied"),
                ("error_description", description.as_str()),
                ("refusal", POLICY_REFUSAL),
            ];
            if let Some(s) = oauth_state {
                params.push(("state", s));
            }
            params.push(("iss", state.auth.issuer()));
            see_other(&uri::with_query(redirect_uri, &params))
        }
    }
}

/// Validate everything after client and redirect URI, then apply the data-sharing policy; refusals here are
/// redirected to the client.
fn authorization_request(
    state: &BankState,
    params: &Params,
    client_id: &str,
    redirect_uri: &str,
    oauth_state: Option<String>,
) -> Result<AuthorizeRequest, Refused> {
    let (request, recipient) = parse_request(params, client_id, redirect_uri, oauth_state)?;
    // A sign-in only shares nothing: there is nothing for the data-sharing policy to judge.
    let Some(sharing) = &request.sharing else { return Ok(request) };
    // The bank's data-sharing policy applies whatever the person would agree to (checked once every parameter is
    // known good, so a malformed request is reported as such rather than as a refusal).
    let parties = SharingParties {
        recipient: recipient.as_deref().unwrap_or(client_id),
        is_third_party: recipient.is_some(),
        platform: sharing.platform.as_deref(),
    };
    match state.profile.sharing.refusal(parties, &sharing.purposes, &sharing.clusters) {
        Some(refusal) => Err(Refused::Policy(refusal.describe(&state.profile.display_name))),
        None => Ok(request),
    }
}

/// The request's parameters (RFC 6749 §4.1.1, RFC 7636 §4.3 and the extensions) and its `recipient`.
fn parse_request(
    params: &Params,
    client_id: &str,
    redirect_uri: &str,
    oauth_state: Option<String>,
) -> Result<(AuthorizeRequest, Option<String>), AuthError> {
    let single = |name: &str| {
        params.get(name).map_err(|r| AuthError::InvalidRequest(format!("parameter `{}` appears more than once", r.0)))
    };
    // RFC 6749 §4.1.1: response_type must be `code` (the only flow this bank offers).
    match single("response_type")? {
        Some("code") => {}
        Some(_) => return Err(AuthError::UnsupportedResponseType("only response_type=code is supported".into())),
        None => return Err(AuthError::InvalidRequest("response_type is required".into())),
    }
    // RFC 7636 §4.4.1: PKCE is required here, and only S256 (FAPI 2.0 §5.3.2.2 forbids `plain`).
    match single("code_challenge_method")? {
        Some("S256") => {}
        Some(_) => return Err(AuthError::InvalidRequest("code_challenge_method must be S256".into())),
        None => return Err(AuthError::InvalidRequest("PKCE is required: code_challenge_method=S256".into())),
    }
    let code_challenge = single("code_challenge")?
        .ok_or_else(|| AuthError::InvalidRequest("PKCE is required: code_challenge is missing".into()))?;
    // An S256 challenge is the base64url of a SHA-256: exactly 43 characters.
    if code_challenge.len() != 43 || !secrets::is_pkce_value(code_challenge) || code_challenge.contains(['.', '~']) {
        return Err(AuthError::InvalidRequest("code_challenge is not a base64url SHA-256 value".into()));
    }
    let scope = single("scope")?.ok_or_else(|| AuthError::InvalidScope("scope is required".into()))?;
    let clusters = match scopes::parse_requested(scope).map_err(|e| AuthError::InvalidScope(e.to_string()))? {
        RequestedScope::Data(clusters) => clusters,
        RequestedScope::SignIn => {
            // Sign-in only: the data-sharing extension parameters have no meaning, so they are refused, not ignored.
            for name in ["purpose", "platform", "recipient", "duration_days"] {
                if single(name)?.is_some() {
                    return Err(AuthError::InvalidRequest(format!(
                        "scope=openid signs the person in and shares no data: `{name}` does not apply"
                    )));
                }
            }
            let request = AuthorizeRequest {
                client_id: client_id.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
                state: oauth_state,
                code_challenge: code_challenge.to_owned(),
                sharing: None,
            };
            return Ok((request, None));
        }
    };
    let purposes: Vec<String> =
        single("purpose")?.unwrap_or("").split(' ').filter(|p| !p.is_empty()).map(str::to_owned).collect();
    if purposes.len() > MAX_PURPOSES || !purposes.iter().all(|p| is_identifier(p)) {
        return Err(AuthError::InvalidRequest(format!(
            "purpose must be up to {MAX_PURPOSES} space-separated identifiers of [a-z0-9_-]"
        )));
    }
    let platform = single("platform")?.map(str::to_owned);
    if platform.as_deref().is_some_and(|p| !is_identifier(p)) {
        return Err(AuthError::InvalidRequest("platform must be an identifier of [a-z0-9_-], 1-64 characters".into()));
    }
    let recipient = single("recipient")?.map(str::to_owned);
    if recipient.as_deref().is_some_and(|r| !is_recipient(r)) {
        return Err(AuthError::InvalidRequest(
            "recipient must be an identifier of [A-Za-z0-9_-], 1-64 characters".into(),
        ));
    }
    let duration_days = match single("duration_days")? {
        None => MAX_CONSENT_DAYS,
        Some(days) => days
            .parse::<u16>()
            .ok()
            .filter(|d| (1..=MAX_CONSENT_DAYS).contains(d))
            .ok_or_else(|| AuthError::InvalidRequest(format!("duration_days must be 1-{MAX_CONSENT_DAYS}")))?,
    };
    let request = AuthorizeRequest {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        state: oauth_state,
        code_challenge: code_challenge.to_owned(),
        sharing: Some(SharingRequest { clusters, purposes, platform, duration_days }),
    };
    Ok((request, recipient))
}

// ---------------------------------------------------------------------------------------------------------------
// Sign in

fn login_form(
    state: &BankState,
    session: &LoginSession,
    status: StatusCode,
    username: String,
    error: Option<String>,
) -> Response {
    let template = LoginTemplate {
        brand: brand(state),
        csrf: session.csrf.clone(),
        client_id: session.request.client_id.clone(),
        sign_in_only: session.request.sharing.is_none(),
        username,
        error,
    };
    // A sign-in can end in a redirect to the client (login-error test users): allow its origin as a form target.
    page(status, &template, Some(&session.request.redirect_uri))
}

async fn login_page(State(state): State<Arc<BankState>>, headers: HeaderMap) -> Response {
    let (_, session) = match current_session(&state, &headers) {
        Ok(found) => found,
        Err(page) => return *page,
    };
    match session.stage {
        Stage::Password { .. } => login_form(&state, &session, StatusCode::OK, String::new(), None),
        ref stage => see_other(stage_path(stage)),
    }
}

/// The generic message for any wrong username/password combination: it never says which part was wrong.
const WRONG_CREDENTIALS: &str = "The username or password you entered is not right. Please try again.";

async fn login_submit(State(state): State<Arc<BankState>>, headers: HeaderMap, form: FormPairs) -> Response {
    let (id, session) = match current_session(&state, &headers) {
        Ok(found) => found,
        Err(page) => return *page,
    };
    if !matches!(session.stage, Stage::Password { .. }) {
        return see_other(stage_path(&session.stage));
    }
    let params = match checked_form(&state, &session, form) {
        Ok(params) => params,
        Err(page) => return *page,
    };
    let username = params.get("username").ok().flatten().unwrap_or("");
    let password = params.get("password").ok().flatten().unwrap_or("");
    let well_formed = (1..=MAX_USERNAME).contains(&username.len()) && (1..=MAX_PASSWORD).contains(&password.len());
    let user = if well_formed { users::lookup(username, state.ledger.customers()) } else { None };
    // The password is checked in constant time whether or not the user exists.
    let password_ok = secrets::ct_eq_str(password, users::PASSWORD);
    let Some(user) = user.filter(|_| password_ok) else {
        return wrong_password(&state, &id, &session, username);
    };
    let request = &session.request;
    if user.persona == Persona::Locked {
        state.auth.sessions.end(&id);
        let err = AuthError::AccessDenied("the customer's online banking is locked".into());
        let page = message(
            &state,
            StatusCode::FORBIDDEN,
            "Your account is locked",
            "For your security, online access to this account is locked. Call us at the number on the back of your \
             card to unlock it.",
            Some((request, &err)),
        );
        return with_cookie(page, &cleared_cookie());
    }
    if let Some(ChosenError::Login { oauth_error }) = &user.chosen_error {
        state.auth.sessions.end(&id);
        let description = "sandbox test user: the login failed with the error its username chose";
        let location = {
            let mut p = vec![("error", oauth_error.as_str()), ("error_description", description)];
            if let Some(s) = request.state.as_deref() {
                p.push(("state", s));
            }
            p.push(("iss", state.auth.issuer()));
            uri::with_query(&request.redirect_uri, &p)
        };
        return with_cookie(see_other(&location), &cleared_cookie());
    }
    let stage = if user.persona == Persona::Mfa {
        Stage::Mfa { customer_index: user.customer_index, chosen_error: user.chosen_error, wrong_codes: 0 }
    } else if request.sharing.is_none() {
        return finish_sign_in(&state, &id, user.customer_index);
    } else {
        Stage::Accounts { customer_index: user.customer_index, chosen_error: user.chosen_error }
    };
    let path = stage_path(&stage);
    // A new session id once the person is known: an id planted before sign-in is worth nothing after it.
    let Some(new_id) = state.auth.sessions.rekey(&id, state.auth.now(), stage) else {
        return session_missing(&state);
    };
    with_cookie(see_other(path), &session_cookie(&new_id))
}

fn wrong_password(state: &BankState, id: &str, session: &LoginSession, username: &str) -> Response {
    let tries = state.auth.sessions.update(id, state.auth.now(), |s| match &mut s.stage {
        Stage::Password { wrong_passwords } => {
            *wrong_passwords = wrong_passwords.saturating_add(1);
            *wrong_passwords
        }
        _ => 0,
    });
    let Some(tries) = tries else { return session_missing(state) };
    if tries >= MAX_PASSWORD_TRIES {
        state.auth.sessions.end(id);
        let err = AuthError::AccessDenied("too many failed sign-in attempts".into());
        let page = message(
            state,
            StatusCode::FORBIDDEN,
            "Too many attempts",
            "You entered a wrong username or password too many times. This sign-in has ended.",
            Some((&session.request, &err)),
        );
        return with_cookie(page, &cleared_cookie());
    }
    let shown: String = username.chars().take(MAX_USERNAME).collect();
    login_form(state, session, StatusCode::BAD_REQUEST, shown, Some(WRONG_CREDENTIALS.into()))
}

// ---------------------------------------------------------------------------------------------------------------
// One-time code

fn mfa_form(state: &BankState, session: &LoginSession, status: StatusCode, error: Option<String>) -> Response {
    // A sign-in only ends with this form's post redirecting to the client: allow its origin as a form target.
    let redirect_uri = session.request.sharing.is_none().then_some(session.request.redirect_uri.as_str());
    page(status, &MfaTemplate { brand: brand(state), csrf: session.csrf.clone(), error }, redirect_uri)
}

async fn mfa_page(State(state): State<Arc<BankState>>, headers: HeaderMap) -> Response {
    let (_, session) = match current_session(&state, &headers) {
        Ok(found) => found,
        Err(page) => return *page,
    };
    match session.stage {
        Stage::Mfa { .. } => mfa_form(&state, &session, StatusCode::OK, None),
        ref stage => see_other(stage_path(stage)),
    }
}

async fn mfa_submit(State(state): State<Arc<BankState>>, headers: HeaderMap, form: FormPairs) -> Response {
    let (id, session) = match current_session(&state, &headers) {
        Ok(found) => found,
        Err(page) => return *page,
    };
    let Stage::Mfa { customer_index, chosen_error, .. } = session.stage.clone() else {
        return see_other(stage_path(&session.stage));
    };
    let params = match checked_form(&state, &session, form) {
        Ok(params) => params,
        Err(page) => return *page,
    };
    let code = params.get("code").ok().flatten().unwrap_or("");
    if code.len() <= MAX_CODE && secrets::ct_eq_str(code.trim(), users::MFA_CODE) {
        if session.request.sharing.is_none() {
            return finish_sign_in(&state, &id, customer_index);
        }
        let stage = Stage::Accounts { customer_index, chosen_error };
        if state.auth.sessions.update(&id, state.auth.now(), |s| s.stage = stage).is_none() {
            return session_missing(&state);
        }
        return see_other("/login/accounts");
    }
    let wrong = state.auth.sessions.update(&id, state.auth.now(), |s| match &mut s.stage {
        Stage::Mfa { wrong_codes, .. } => {
            *wrong_codes = wrong_codes.saturating_add(1);
            *wrong_codes
        }
        _ => 0,
    });
    let Some(wrong) = wrong else { return session_missing(&state) };
    if wrong >= MAX_MFA_TRIES {
        state.auth.sessions.end(&id);
        let err = AuthError::AccessDenied("too many wrong one-time codes".into());
        let page = message(
            &state,
            StatusCode::FORBIDDEN,
            "Too many wrong codes",
            "You entered a wrong one-time code too many times. This sign-in has ended.",
            Some((&session.request, &err)),
        );
        return with_cookie(page, &cleared_cookie());
    }
    let left = MAX_MFA_TRIES - wrong;
    let tries = if left == 1 { "1 try".to_owned() } else { format!("{left} tries") };
    mfa_form(&state, &session, StatusCode::BAD_REQUEST, Some(format!("That code is not right. You have {tries} left.")))
}

// ---------------------------------------------------------------------------------------------------------------
// Account selection

fn kind_label(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::Checking => "Checking",
        AccountKind::Savings => "Savings",
        AccountKind::Cd => "Certificate of deposit",
        AccountKind::CreditCard => "Credit card",
        AccountKind::Mortgage => "Mortgage",
        AccountKind::AutoLoan => "Auto loan",
    }
}

fn last4(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    digits[digits.len().saturating_sub(4)..].iter().collect()
}

/// The session's data request; a sign-in only never reaches the account page (it ends after the sign-in), so
/// arriving here without one is a session that cannot go on.
fn sharing_of(state: &BankState, session: &LoginSession) -> Result<SharingRequest, Box<Response>> {
    session.request.sharing.clone().ok_or_else(|| {
        Box::new(message(
            state,
            StatusCode::BAD_REQUEST,
            "There are no accounts to choose",
            "This sign-in does not share any account data. Go back to the app you came from.",
            None,
        ))
    })
}

fn accounts_form(
    state: &BankState,
    session: &LoginSession,
    sharing: &SharingRequest,
    accounts: &[Account],
    chosen: Option<&[&str]>,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let request = &session.request;
    let expires_on = (state.auth.now() + time::Duration::days(i64::from(sharing.duration_days)))
        .format(time::macros::format_description!("[month repr:long] [day padding:none], [year]"))
        .unwrap_or_default();
    let template = AccountsTemplate {
        brand: brand(state),
        csrf: session.csrf.clone(),
        client_id: request.client_id.clone(),
        data_asked: sharing.clusters.iter().map(|c: &DataCluster| c.plain_words()).collect(),
        purposes: sharing.purposes.iter().map(|p| p.replace(['_', '-'], " ")).collect(),
        expires_on,
        accounts: accounts
            .iter()
            .map(|a| AccountRow {
                account_id: a.account_id.clone(),
                nickname: a.nickname.clone(),
                kind: kind_label(a.kind),
                last4: last4(&a.account_number),
                checked: chosen.is_none_or(|c| c.contains(&a.account_id.as_str())),
            })
            .collect(),
        error,
    };
    page(status, &template, Some(&request.redirect_uri))
}

async fn accounts_page(State(state): State<Arc<BankState>>, headers: HeaderMap) -> Response {
    let (_, session) = match current_session(&state, &headers) {
        Ok(found) => found,
        Err(page) => return *page,
    };
    match session.stage {
        Stage::Accounts { customer_index, .. } => {
            let sharing = match sharing_of(&state, &session) {
                Ok(sharing) => sharing,
                Err(page) => return *page,
            };
            let accounts = state.ledger.accounts(customer_index);
            accounts_form(&state, &session, &sharing, &accounts, None, StatusCode::OK, None)
        }
        ref stage => see_other(stage_path(stage)),
    }
}

async fn consent_submit(State(state): State<Arc<BankState>>, headers: HeaderMap, form: FormPairs) -> Response {
    let (id, session) = match current_session(&state, &headers) {
        Ok(found) => found,
        Err(page) => return *page,
    };
    let Stage::Accounts { customer_index, chosen_error } = session.stage.clone() else {
        return see_other(stage_path(&session.stage));
    };
    let sharing = match sharing_of(&state, &session) {
        Ok(sharing) => sharing,
        Err(page) => return *page,
    };
    let params = match checked_form(&state, &session, form) {
        Ok(params) => params,
        Err(page) => return *page,
    };
    let request = &session.request;
    match params.get("action").ok().flatten().unwrap_or("share") {
        "share" => {}
        "cancel" => {
            state.auth.sessions.end(&id);
            let err = AuthError::AccessDenied("the customer cancelled".into());
            let location = error_location(&state, request, &err);
            return with_cookie(see_other(&location), &cleared_cookie());
        }
        _ => {
            return message(
                &state,
                StatusCode::BAD_REQUEST,
                "This form could not be accepted",
                "Unknown action.",
                None,
            );
        }
    }
    let accounts = state.ledger.accounts(customer_index);
    let mut chosen = params.all(&["account_id", "account_id[]"]);
    chosen.sort_unstable();
    chosen.dedup();
    if chosen.len() > MAX_ACCOUNTS_CHOSEN || !chosen.iter().all(|c| accounts.iter().any(|a| a.account_id == *c)) {
        let error = Some("Choose the accounts to share from the list below.".to_owned());
        return accounts_form(&state, &session, &sharing, &accounts, None, StatusCode::BAD_REQUEST, error);
    }
    if chosen.is_empty() {
        let error = Some("Choose at least one account to share, or cancel.".to_owned());
        return accounts_form(&state, &session, &sharing, &accounts, Some(&[]), StatusCode::BAD_REQUEST, error);
    }
    // The last step takes the session: a double submit cannot issue two codes.
    let Some(session) = state.auth.sessions.take(&id, state.auth.now()) else {
        return session_missing(&state);
    };
    let account_ids: Vec<String> =
        accounts.iter().filter(|a| chosen.contains(&a.account_id.as_str())).map(|a| a.account_id.clone()).collect();
    let terms = SharingTerms {
        account_ids,
        clusters: sharing.clusters,
        purposes: sharing.purposes,
        platform: sharing.platform,
        chosen_error,
        duration_days: sharing.duration_days,
    };
    code_redirect(&state, &session.request, customer_index, Some(terms))
}

/// Sign-in only (`scope=openid`): the person is signed in (and passed MFA) and shares nothing, so there is no account
/// page: the session ends here and the code goes back at once. Taking the session means a double submit cannot
/// issue two codes.
fn finish_sign_in(state: &BankState, id: &str, customer_index: u32) -> Response {
    let Some(session) = state.auth.sessions.take(id, state.auth.now()) else {
        return session_missing(state);
    };
    code_redirect(state, &session.request, customer_index, None)
}

/// The end of every successful authorization: a single-use code for what was approved, sent back to the client's
/// exact redirect URI with `state` and `iss`; the session cookie is cleared.
fn code_redirect(
    state: &BankState,
    request: &AuthorizeRequest,
    customer_index: u32,
    sharing: Option<SharingTerms>,
) -> Response {
    let grant = ApprovedGrant {
        client_id: request.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        customer_index,
        sharing,
    };
    let response = match state.auth.issue_code(grant) {
        Ok(code) => {
            // RFC 6749 §4.1.2 + RFC 9207 §2: code, state and iss.
            let mut p = vec![("code", code.as_str())];
            if let Some(s) = request.state.as_deref() {
                p.push(("state", s));
            }
            p.push(("iss", state.auth.issuer()));
            see_other(&uri::with_query(&request.redirect_uri, &p))
        }
        Err(err) => see_other(&error_location(state, request, &err)),
    };
    with_cookie(response, &cleared_cookie())
}
