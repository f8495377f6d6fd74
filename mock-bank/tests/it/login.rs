//! The bank's own OAuth server and login pages, driven the way a browser and the gateway drive them: real form posts
//! through `login::router()` and token requests through `login::token_router()` with the client certificate the
//! TLS layer would have verified (`certs::serve::PeerCertificates` in the request extensions).

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Request, StatusCode, header},
};
use http_body_util::BodyExt as _;
use mock_bank::{
    books::Books,
    clock::SimClock,
    faults::FaultBook,
    ledger::LedgerGenerator,
    login::{self, AuthServer, DataCluster, OAuthClient},
    profile::load_profiles,
    state::{BankState, BankUrls, Secret},
    store::BankStore,
};
use std::{path::Path, sync::Arc};
use time::{Duration, macros::datetime};
use tower::ServiceExt as _;

const ISSUER: &str = "https://127.0.0.1:7443";
const GATEWAY: &str = "bankgate-gateway";
const REDIRECT: &str = "https://127.0.0.1:9443/banks/callback";
/// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const SCOPE: &str = "fdx:accountbasic:read fdx:accountdetailed:read fdx:transactions:read";

struct Bank {
    state: Arc<BankState>,
    login: Router,
    api: Router,
    /// The gateway's client certificate as the API listener's TLS layer would hand it over.
    gateway_cert: certs::serve::PeerCertificates,
    other_cert: certs::serve::PeerCertificates,
}

fn peer(pki: &certs::Pki, name: &str) -> certs::serve::PeerCertificates {
    let identity = pki.issue_client(name).expect("client certificate");
    certs::serve::PeerCertificates::new(vec![identity.cert_der()])
}

async fn bank_named(id: &str, store_path: Option<&Path>) -> Bank {
    let profile = Arc::new(load_profiles(None).unwrap().into_iter().find(|b| b.id == id).expect("shipped bank"));
    let clock = Arc::new(SimClock::frozen(datetime!(2026-11-30 15:00 UTC)));
    let ledger = LedgerGenerator::new(7, profile.clone(), 50, time::macros::date!(2024 - 11 - 01));
    let store = BankStore::open(store_path).await.unwrap();
    let clients = vec![OAuthClient { client_id: GATEWAY.into(), redirect_uris: vec![REDIRECT.into()] }];
    let auth = AuthServer::open(store.clone(), clock.clone(), ISSUER.into(), clients).await.unwrap();
    auth.register_client(OAuthClient {
        client_id: "acme-social-app".into(),
        redirect_uris: vec!["https://acme.example/cb".into()],
    })
    .await
    .unwrap();
    let books = Books::open(ledger.clone(), store.clone(), clock.clone()).await.unwrap();
    let notifier =
        mock_bank::events::Notifier::open(store.clone(), crate::support::notifier_config(&profile.display_name, None))
            .await
            .unwrap();
    let state = Arc::new(BankState {
        profile,
        clock,
        ledger,
        store,
        books,
        auth,
        faults: FaultBook::new(7),
        admin_token: Secret::new("admin"),
        urls: BankUrls {
            api: "https://127.0.0.1:7444".into(),
            login: ISSUER.into(),
            admin: "https://127.0.0.1:7445".into(),
        },
        notifier,
    });
    let pki = certs::Pki::generate().unwrap();
    Bank {
        login: login::router().with_state(state.clone()),
        api: login::token_router().with_state(state.clone()),
        gateway_cert: peer(&pki, GATEWAY),
        other_cert: peer(&pki, "someone-else"),
        state,
    }
}

async fn bank() -> Bank {
    bank_named("continental", None).await
}

// -------------------------------------------------------------------------------------------------------------
// A tiny browser: one cookie jar entry, form posts, redirects read from `Location`.

fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&value[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

/// Query parameters of a URL, decoded.
fn query_of(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
    fn csrf(&self) -> String {
        hidden_value(&self.body, "csrf").expect("page has a CSRF field")
    }
}

fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

fn account_checkboxes(html: &str) -> Vec<String> {
    html.split("name=\"account_id\" value=\"").skip(1).map(|rest| rest[..rest.find('"').unwrap()].to_owned()).collect()
}

#[derive(Default)]
struct Browser {
    cookie: Option<String>,
}

impl Browser {
    async fn send(&mut self, router: &Router, request: Request<Body>) -> Page {
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        for set in headers.get_all(header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            assert_eq!(name, "__Host-bank_session");
            self.cookie = (!value.is_empty()).then(|| pair.to_owned());
        }
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Page { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
    }

    async fn get(&mut self, router: &Router, uri: &str) -> Page {
        let mut request = Request::get(uri);
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(router, request.body(Body::empty()).unwrap()).await
    }

    async fn post(&mut self, router: &Router, uri: &str, pairs: &[(&str, &str)]) -> Page {
        let mut request = Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(router, request.body(Body::from(form(pairs))).unwrap()).await
    }
}

fn authorize_uri(extra: &[(&str, &str)]) -> String {
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", GATEWAY),
        ("redirect_uri", REDIRECT),
        ("state", "st-123"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("scope", SCOPE),
    ];
    for (k, v) in extra {
        pairs.retain(|(name, _)| name != k);
        if !v.is_empty() {
            pairs.push((k, v));
        }
    }
    format!("/oauth/authorize?{}", form(&pairs))
}

/// Authorize + sign in; returns the browser on the page after the password.
async fn sign_in(bank: &Bank, username: &str) -> (Browser, Page) {
    let mut browser = Browser::default();
    let page = browser.get(&bank.login, &authorize_uri(&[])).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = page.csrf();
    let after = browser
        .post(&bank.login, "/login", &[("username", username), ("password", "pass_good"), ("csrf", &csrf)])
        .await;
    (browser, after)
}

/// Full browser flow for a user without MFA, sharing `choose` (all accounts when `None`); returns the code.
async fn authorize_code(bank: &Bank, username: &str, choose: Option<usize>) -> String {
    let (mut browser, after) = sign_in(bank, username).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER, "{}", after.body);
    assert_eq!(after.location(), "/login/accounts");
    let accounts = browser.get(&bank.login, "/login/accounts").await;
    let ids = account_checkboxes(&accounts.body);
    let chosen: Vec<&String> = ids.iter().take(choose.unwrap_or(ids.len())).collect();
    let csrf = accounts.csrf();
    let mut pairs = vec![("csrf", csrf.as_str()), ("action", "share")];
    pairs.extend(chosen.iter().map(|id| ("account_id", id.as_str())));
    let done = browser.post(&bank.login, "/login/consent", &pairs).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let location = done.location().to_owned();
    assert!(location.starts_with(&format!("{REDIRECT}?")), "{location}");
    let params = query_of(&location);
    assert_eq!(param(&params, "state"), Some("st-123"));
    assert_eq!(param(&params, "iss"), Some(ISSUER));
    param(&params, "code").expect("code in the redirect").to_owned()
}

async fn token_call(
    bank: &Bank,
    path: &str,
    cert: Option<&certs::serve::PeerCertificates>,
    pairs: &[(&str, &str)],
) -> (StatusCode, HeaderMap, serde_json::Value) {
    let mut request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form(pairs)))
        .unwrap();
    if let Some(cert) = cert {
        request.extensions_mut().insert(cert.clone());
    }
    let response = bank.api.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json = if body.is_empty() { serde_json::Value::Null } else { serde_json::from_slice(&body).unwrap() };
    (status, headers, json)
}

async fn exchange(bank: &Bank, code: &str, verifier: &str) -> (StatusCode, HeaderMap, serde_json::Value) {
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
        ("client_id", GATEWAY),
    ];
    token_call(bank, "/oauth/token", Some(&bank.gateway_cert), &pairs).await
}

async fn refresh(bank: &Bank, refresh_token: &str) -> (StatusCode, HeaderMap, serde_json::Value) {
    let pairs = [("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", GATEWAY)];
    token_call(bank, "/oauth/token", Some(&bank.gateway_cert), &pairs).await
}

fn s<'a>(json: &'a serde_json::Value, field: &str) -> &'a str {
    json[field].as_str().unwrap_or_else(|| panic!("{field} missing in {json}"))
}

// -------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn good_user_full_flow_authorize_login_select_token_refresh() {
    let bank = bank().await;
    let mut browser = Browser::default();
    let page = browser.get(&bank.login, &authorize_uri(&[("purpose", "personal_finance")])).await;
    assert_eq!(page.status, StatusCode::OK);
    // Branded, protected login page.
    assert!(page.body.contains("<title>Sign in | First Continental Bank</title>"), "{}", page.body);
    assert!(page.body.contains("FIRST CONTINENTAL") && page.body.contains("Banking since 1871"));
    assert!(page.body.contains("#0b3d91"));
    assert!(page.body.contains(GATEWAY));
    assert_eq!(page.headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");
    let csp = page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("form-action 'self'"), "{csp}");
    let cookie = page.headers[header::SET_COOKIE].to_str().unwrap();
    for flag in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }

    let csrf = page.csrf();
    let after = browser
        .post(&bank.login, "/login", &[("username", "user_good"), ("password", "pass_good"), ("csrf", &csrf)])
        .await;
    assert_eq!((after.status, after.location()), (StatusCode::SEE_OTHER, "/login/accounts"));

    let accounts = browser.get(&bank.login, "/login/accounts").await;
    assert_eq!(accounts.status, StatusCode::OK);
    let expected = bank.state.ledger.accounts(0);
    let ids = account_checkboxes(&accounts.body);
    assert_eq!(ids, expected.iter().map(|a| a.account_id.clone()).collect::<Vec<_>>());
    assert_eq!(accounts.body.matches(" checked>").count(), ids.len(), "all accounts checked by default");
    let number = &expected[0].account_number;
    assert!(accounts.body.contains(&format!("ending in {}", &number[number.len() - 4..])));
    assert!(accounts.body.contains("Your transactions") && accounts.body.contains("personal finance"));
    // The final post redirects to the client: its origin is allowed as a form target.
    let csp = accounts.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("form-action 'self' https://127.0.0.1:9443;"), "{csp}");

    let csrf = accounts.csrf();
    let mut pairs = vec![("csrf", csrf.as_str())];
    pairs.extend(ids.iter().map(|id| ("account_id", id.as_str())));
    let done = browser.post(&bank.login, "/login/consent", &pairs).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let params = query_of(done.location());
    assert_eq!(param(&params, "state"), Some("st-123"));
    assert_eq!(param(&params, "iss"), Some(ISSUER));
    let code = param(&params, "code").unwrap();

    let (status, headers, json) = exchange(&bank, code, VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(s(&json, "token_type"), "Bearer");
    assert_eq!(json["expires_in"], 1800);
    assert_eq!(s(&json, "scope"), SCOPE);
    assert_eq!(json["account_ids"], serde_json::json!(ids));
    let access = s(&json, "access_token");
    assert_eq!(access.len(), 43, "256-bit base64url token");
    let consent_id = s(&json, "consent_id");

    let grant = bank.state.auth.authenticate_bearer(access).unwrap();
    assert_eq!(grant.customer_index, 0);
    assert_eq!(grant.account_ids, ids);
    assert_eq!(grant.consent_id, consent_id);
    assert_eq!(grant.client_id, GATEWAY);
    assert_eq!(grant.purposes, vec!["personal_finance".to_owned()]);
    assert_eq!(
        grant.clusters,
        vec![DataCluster::AccountBasic, DataCluster::AccountDetailed, DataCluster::Transactions]
    );
    assert_eq!(grant.expires_at, datetime!(2026-11-30 15:00 UTC) + Duration::days(365));

    // Refresh: a new access token that works; the old one keeps working until it expires.
    let (status, _, refreshed) = refresh(&bank, s(&json, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let new_access = s(&refreshed, "access_token");
    assert_ne!(new_access, access);
    assert_eq!(bank.state.auth.authenticate_bearer(new_access).unwrap().consent_id, consent_id);
    assert_eq!(s(&refreshed, "consent_id"), consent_id);

    let consents = bank.state.auth.consents_of(0);
    assert_eq!(consents.len(), 1);
    assert_eq!(consents[0].consent_id, consent_id);
    assert!(consents[0].is_active(bank.state.clock.now()));
    assert_eq!(bank.state.auth.consent(consent_id).unwrap().account_ids, ids);
}

#[tokio::test]
async fn tokens_are_bound_to_the_chosen_accounts_only() {
    let bank = bank().await;
    let all = bank.state.ledger.accounts(0);
    assert!(all.len() >= 2, "the good user has several accounts");
    let code = authorize_code(&bank, "user_good", Some(1)).await;
    let (status, _, json) = exchange(&bank, &code, VERIFIER).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["account_ids"], serde_json::json!([all[0].account_id]));
    let grant = bank.state.auth.authenticate_bearer(s(&json, "access_token")).unwrap();
    assert_eq!(grant.account_ids, vec![all[0].account_id.clone()]);
    assert!(!grant.account_ids.contains(&all[1].account_id));
}

#[tokio::test]
async fn accounts_of_another_customer_cannot_be_slipped_into_the_form() {
    let bank = bank().await;
    let (mut browser, _) = sign_in(&bank, "user_good").await;
    let page = browser.get(&bank.login, "/login/accounts").await;
    let foreign = bank.state.ledger.accounts(9)[0].account_id.clone();
    let csrf = page.csrf();
    let again = browser.post(&bank.login, "/login/consent", &[("csrf", &csrf), ("account_id", &foreign)]).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.body.contains("Choose the accounts to share from the list"));
    assert!(again.location().is_empty());
}

#[tokio::test]
async fn zero_accounts_shows_an_error_and_cancel_denies() {
    let bank = bank().await;
    let (mut browser, _) = sign_in(&bank, "user_good").await;
    let page = browser.get(&bank.login, "/login/accounts").await;
    let csrf = page.csrf();
    let none = browser.post(&bank.login, "/login/consent", &[("csrf", &csrf), ("action", "share")]).await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST);
    assert!(none.body.contains("Choose at least one account"));
    assert_eq!(none.body.matches(" checked>").count(), 0);

    let cancel = browser.post(&bank.login, "/login/consent", &[("csrf", &csrf), ("action", "cancel")]).await;
    assert_eq!(cancel.status, StatusCode::SEE_OTHER);
    let params = query_of(cancel.location());
    assert!(cancel.location().starts_with(REDIRECT));
    assert_eq!(param(&params, "error"), Some("access_denied"));
    assert_eq!(param(&params, "state"), Some("st-123"));
    assert_eq!(param(&params, "iss"), Some(ISSUER));
    assert!(bank.state.auth.consents_of(0).is_empty());
}

#[tokio::test]
async fn mfa_user_needs_the_one_time_code() {
    let bank = bank().await;
    let (mut browser, after) = sign_in(&bank, "user_mfa").await;
    assert_eq!((after.status, after.location()), (StatusCode::SEE_OTHER, "/login/mfa"));
    // The accounts page is not reachable before the code.
    let skip = browser.get(&bank.login, "/login/accounts").await;
    assert_eq!((skip.status, skip.location()), (StatusCode::SEE_OTHER, "/login/mfa"));

    let mfa = browser.get(&bank.login, "/login/mfa").await;
    assert_eq!(mfa.status, StatusCode::OK);
    assert!(mfa.body.contains("One-time code"));
    let csrf = mfa.csrf();
    let wrong = browser.post(&bank.login, "/login/mfa", &[("csrf", &csrf), ("code", "000000")]).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.body.contains("That code is not right. You have 2 tries left."), "{}", wrong.body);
    let right =
        browser.post(&bank.login, "/login/mfa", &[("csrf", &csrf), ("code", mock_bank::ledger::users::MFA_CODE)]).await;
    assert_eq!((right.status, right.location()), (StatusCode::SEE_OTHER, "/login/accounts"));
    let accounts = browser.get(&bank.login, "/login/accounts").await;
    assert_eq!(account_checkboxes(&accounts.body).len(), bank.state.ledger.accounts(1).len());
}

#[tokio::test]
async fn three_wrong_codes_end_the_session() {
    let bank = bank().await;
    let (mut browser, _) = sign_in(&bank, "user_mfa").await;
    let csrf = browser.get(&bank.login, "/login/mfa").await.csrf();
    for left in ["2 tries", "1 try"] {
        let wrong = browser.post(&bank.login, "/login/mfa", &[("csrf", &csrf), ("code", "999999")]).await;
        assert!(wrong.body.contains(&format!("You have {left} left")), "{}", wrong.body);
    }
    let ended = browser.post(&bank.login, "/login/mfa", &[("csrf", &csrf), ("code", "999999")]).await;
    assert_eq!(ended.status, StatusCode::FORBIDDEN);
    assert!(ended.body.contains("Too many wrong codes"));
    assert!(ended.body.contains("error=access_denied"), "a way back to the app: {}", ended.body);
    // The right code no longer helps: the session is gone.
    let late =
        browser.post(&bank.login, "/login/mfa", &[("csrf", &csrf), ("code", mock_bank::ledger::users::MFA_CODE)]).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert!(late.body.contains("sign-in session is unknown or has expired"));
}

#[tokio::test]
async fn locked_user_sees_the_locked_page() {
    let bank = bank().await;
    let (_, page) = sign_in(&bank, "user_locked").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.body.contains("Your account is locked"));
    assert!(page.location().is_empty(), "a page, not a redirect");
    assert!(page.body.contains("error=access_denied") && page.body.contains("state=st-123"));
}

#[tokio::test]
async fn login_error_users_get_the_chosen_oauth_error() {
    let bank = bank().await;
    let (_, page) = sign_in(&bank, "login_error_temporarily_unavailable").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(page.location().starts_with(REDIRECT));
    let params = query_of(page.location());
    assert_eq!(param(&params, "error"), Some("temporarily_unavailable"));
    assert_eq!(param(&params, "state"), Some("st-123"));
    assert_eq!(param(&params, "iss"), Some(ISSUER));
    assert!(param(&params, "code").is_none());
}

#[tokio::test]
async fn wrong_password_or_unknown_user_gets_the_same_generic_error() {
    let bank = bank().await;
    let mut browser = Browser::default();
    let csrf = browser.get(&bank.login, &authorize_uri(&[])).await.csrf();
    let wrong_password =
        browser.post(&bank.login, "/login", &[("username", "user_good"), ("password", "nope"), ("csrf", &csrf)]).await;
    let unknown_user = browser
        .post(&bank.login, "/login", &[("username", "nobody_here"), ("password", "pass_good"), ("csrf", &csrf)])
        .await;
    for page in [&wrong_password, &unknown_user] {
        assert_eq!(page.status, StatusCode::BAD_REQUEST);
        assert!(page.body.contains("The username or password you entered is not right."), "{}", page.body);
        assert!(page.location().is_empty());
    }
    let long = "x".repeat(10_000);
    let oversized =
        browser.post(&bank.login, "/login", &[("username", &long), ("password", "pass_good"), ("csrf", &csrf)]).await;
    assert_eq!(oversized.status, StatusCode::BAD_REQUEST);
    assert!(oversized.body.contains("not right"));
    // Two more wrong tries make five: the sign-in ends.
    let _ = browser.post(&bank.login, "/login", &[("username", "user_good"), ("password", "x"), ("csrf", &csrf)]).await;
    let fifth =
        browser.post(&bank.login, "/login", &[("username", "user_good"), ("password", "x"), ("csrf", &csrf)]).await;
    assert_eq!(fifth.status, StatusCode::FORBIDDEN);
    assert!(fifth.body.contains("Too many attempts"));
    let after = browser
        .post(&bank.login, "/login", &[("username", "user_good"), ("password", "pass_good"), ("csrf", &csrf)])
        .await;
    assert!(after.body.contains("sign-in session is unknown or has expired"));
}

#[tokio::test]
async fn form_posts_without_the_right_csrf_token_are_refused() {
    let bank = bank().await;
    let mut browser = Browser::default();
    let csrf = browser.get(&bank.login, &authorize_uri(&[])).await.csrf();
    let missing = browser.post(&bank.login, "/login", &[("username", "user_good"), ("password", "pass_good")]).await;
    let wrong = browser
        .post(&bank.login, "/login", &[("username", "user_good"), ("password", "pass_good"), ("csrf", "forged")])
        .await;
    for page in [&missing, &wrong] {
        assert_eq!(page.status, StatusCode::FORBIDDEN);
        assert!(page.body.contains("security token is missing or wrong"));
        assert!(page.location().is_empty());
    }
    // The real token still works: a forged post does not end the person's sign-in.
    let ok = browser
        .post(&bank.login, "/login", &[("username", "user_good"), ("password", "pass_good"), ("csrf", &csrf)])
        .await;
    assert_eq!((ok.status, ok.location()), (StatusCode::SEE_OTHER, "/login/accounts"));
}

#[tokio::test]
async fn unregistered_redirect_uri_or_client_is_a_page_never_a_redirect() {
    let bank = bank().await;
    let mut browser = Browser::default();
    for uri in [
        authorize_uri(&[("redirect_uri", "https://evil.example/steal")]),
        authorize_uri(&[("redirect_uri", "https://127.0.0.1:9443/banks/callback/extra")]),
        authorize_uri(&[("redirect_uri", "")]),
        authorize_uri(&[("client_id", "unknown-app")]),
        authorize_uri(&[("client_id", "")]),
        format!("{}&redirect_uri={}", authorize_uri(&[]), encode(REDIRECT)),
        "/oauth/authorize?client_id=%ZZ".to_owned(),
    ] {
        let page = browser.get(&bank.login, &uri).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(page.location().is_empty(), "no redirect for {uri}");
        assert!(page.body.contains("The app&#39;s request is not valid") || page.body.contains("request is not valid"));
        assert!(!page.body.contains("evil.example"));
    }
}

#[tokio::test]
async fn pkce_is_required_s256_only_and_checked() {
    let bank = bank().await;
    let mut browser = Browser::default();
    for (extra, error) in [
        (vec![("code_challenge", ""), ("code_challenge_method", "")], "invalid_request"),
        (vec![("code_challenge_method", "")], "invalid_request"),
        (vec![("code_challenge_method", "plain"), ("code_challenge", VERIFIER)], "invalid_request"),
        (vec![("code_challenge", "too-short")], "invalid_request"),
        (vec![("scope", "fdx:investments:read")], "invalid_scope"),
        (vec![("response_type", "token")], "unsupported_response_type"),
        (vec![("duration_days", "366")], "invalid_request"),
    ] {
        let page = browser.get(&bank.login, &authorize_uri(&extra)).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{extra:?}");
        assert!(page.location().starts_with(REDIRECT));
        let params = query_of(page.location());
        assert_eq!(param(&params, "error"), Some(error), "{extra:?}");
        assert_eq!(param(&params, "state"), Some("st-123"));
        assert_eq!(param(&params, "iss"), Some(ISSUER));
    }

    // A wrong verifier at the token endpoint.
    let code = authorize_code(&bank, "user_good", None).await;
    let (status, _, json) = exchange(&bank, &code, &"x".repeat(43)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["error"], "invalid_grant");
    // The code is used up by the failed attempt.
    let (status, _, json) = exchange(&bank, &code, VERIFIER).await;
    assert_eq!((status, s(&json, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
    // No verifier at all.
    let code = authorize_code(&bank, "user_good", None).await;
    let pairs =
        [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("client_id", GATEWAY)];
    let (status, _, json) = token_call(&bank, "/oauth/token", Some(&bank.gateway_cert), &pairs).await;
    assert_eq!((status, s(&json, "error")), (StatusCode::BAD_REQUEST, "invalid_request"));
}

/// `GET /oauth/authorize` at `bank` as `client_id` with extra parameters; the response's redirect parameters.
async fn authorize_as(bank: &Bank, client_id: &str, redirect: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect),
        ("state", "s1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    pairs.extend_from_slice(extra);
    let page = Browser::default().get(&bank.login, &format!("/oauth/authorize?{}", form(&pairs))).await;
    match page.status {
        StatusCode::SEE_OTHER => query_of(page.location()),
        // The sign-in page: no refusal.
        StatusCode::OK => Vec::new(),
        other => panic!("unexpected {other}: {}", page.body),
    }
}

#[tokio::test]
async fn sharing_policy_refusal_is_access_denied_with_the_refusal_extension_parameter() {
    let bank = bank_named("harbor", None).await;
    let extra = [("scope", "fdx:transactions:read"), ("purpose", "fraud_alerts targeted_advertising")];
    let params = authorize_as(&bank, "acme-social-app", "https://acme.example/cb", &extra).await;
    assert_eq!(param(&params, "error"), Some("access_denied"));
    assert_eq!(param(&params, "refusal"), Some("data_sharing_policy"), "RFC 6749 §8.2 extension parameter");
    assert_eq!(
        param(&params, "error_description"),
        Some(
            "Harbor Trust's data-sharing policy does not allow sharing data for targeted advertising with the client \
             acme-social-app"
        )
    );
    assert_eq!(param(&params, "state"), Some("s1"));
    assert_eq!(param(&params, "iss"), Some(ISSUER));
}

#[tokio::test]
async fn the_policy_matches_the_recipient_or_platform_an_aggregator_names_not_the_aggregator() {
    let bank = bank_named("harbor", None).await;
    let ads = [("scope", "fdx:transactions:read"), ("purpose", "targeted_advertising")];
    // The gateway itself is no social app: without a recipient the request goes on to the sign-in page.
    assert!(authorize_as(&bank, GATEWAY, REDIRECT, &ads).await.is_empty());
    let for_social = [ads[0], ads[1], ("recipient", "Acme-social_App7")];
    let params = authorize_as(&bank, GATEWAY, REDIRECT, &for_social).await;
    assert_eq!(param(&params, "refusal"), Some("data_sharing_policy"));
    assert!(param(&params, "error_description").unwrap().ends_with("with the app Acme-social_App7"), "{params:?}");
    let on_platform = [ads[0], ads[1], ("recipient", "Xb9budget"), ("platform", "chirp-social")];
    let params = authorize_as(&bank, GATEWAY, REDIRECT, &on_platform).await;
    assert!(param(&params, "error_description").unwrap().ends_with("with apps of the platform chirp-social"));
    let harmless = [ads[0], ("purpose", "personal_finance"), ("recipient", "Acme-social_App7")];
    assert!(authorize_as(&bank, GATEWAY, REDIRECT, &harmless).await.is_empty());
    // A malformed recipient is a malformed request, not a refusal.
    let bad = [ads[0], ads[1], ("recipient", "no spaces")];
    let params = authorize_as(&bank, GATEWAY, REDIRECT, &bad).await;
    assert_eq!(param(&params, "error"), Some("invalid_request"));
    assert_eq!(param(&params, "refusal"), None);
}

#[tokio::test]
async fn a_refused_data_cluster_refuses_the_whole_request() {
    let bank = bank_named("harbor", None).await;
    let contact = [("scope", "fdx:accountbasic:read fdx:customercontact:read"), ("recipient", "acme-social")];
    let params = authorize_as(&bank, GATEWAY, REDIRECT, &contact).await;
    assert_eq!(param(&params, "error"), Some("access_denied"));
    assert_eq!(param(&params, "refusal"), Some("data_sharing_policy"));
    assert!(param(&params, "error_description").unwrap().contains("sharing your contact information with the app"));
    // Without the refused cluster the same recipient may go on; another bank has no such policy.
    let basic = [("scope", "fdx:accountbasic:read"), ("recipient", "acme-social")];
    assert!(authorize_as(&bank, GATEWAY, REDIRECT, &basic).await.is_empty());
    assert!(authorize_as(&self::bank().await, GATEWAY, REDIRECT, &contact).await.is_empty());
}

#[tokio::test]
async fn reusing_a_code_revokes_the_consent_issued_from_it() {
    let bank = bank().await;
    let code = authorize_code(&bank, "user_good", None).await;
    let (status, _, json) = exchange(&bank, &code, VERIFIER).await;
    assert_eq!(status, StatusCode::OK);
    let access = s(&json, "access_token").to_owned();
    assert!(bank.state.auth.authenticate_bearer(&access).is_ok());

    let (status, _, again) = exchange(&bank, &code, VERIFIER).await;
    assert_eq!((status, s(&again, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
    let err = bank.state.auth.authenticate_bearer(&access).unwrap_err();
    assert_eq!(err.code(), "invalid_token");
    let (status, _, refreshed) = refresh(&bank, s(&json, "refresh_token")).await;
    assert_eq!((status, s(&refreshed, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
    assert!(bank.state.auth.consent(s(&json, "consent_id")).unwrap().revoked_at.is_some());
}

#[tokio::test]
async fn codes_expire_after_sixty_simulated_seconds() {
    let bank = bank().await;
    let code = authorize_code(&bank, "user_good", None).await;
    bank.state.clock.advance(Duration::seconds(61)).unwrap();
    let (status, headers, json) = exchange(&bank, &code, VERIFIER).await;
    assert_eq!((status, s(&json, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
    assert!(s(&json, "error_description").contains("expired"));
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn access_tokens_expire_in_simulated_time_and_refresh_stops_after_revocation() {
    let bank = bank().await;
    let code = authorize_code(&bank, "user_good", None).await;
    let (_, _, json) = exchange(&bank, &code, VERIFIER).await;
    let access = s(&json, "access_token");
    bank.state.clock.advance(Duration::seconds(1799)).unwrap();
    assert!(bank.state.auth.authenticate_bearer(access).is_ok());
    bank.state.clock.advance(Duration::seconds(2)).unwrap();
    assert_eq!(bank.state.auth.authenticate_bearer(access).unwrap_err().code(), "invalid_token");

    let (status, _, refreshed) = refresh(&bank, s(&json, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK);
    let fresh = s(&refreshed, "access_token");
    assert!(bank.state.auth.authenticate_bearer(fresh).is_ok());

    // The person revokes at the bank: every token stops at once, and refresh fails.
    assert!(bank.state.auth.revoke_consent(s(&json, "consent_id")).await.unwrap());
    assert_eq!(bank.state.auth.authenticate_bearer(fresh).unwrap_err().code(), "invalid_token");
    let (status, _, denied) = refresh(&bank, s(&json, "refresh_token")).await;
    assert_eq!((status, s(&denied, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
    assert!(!bank.state.auth.revoke_consent("bc_unknown").await.unwrap());
}

#[tokio::test]
async fn refresh_tokens_end_with_the_consent_duration() {
    let bank = bank().await;
    let mut browser = Browser::default();
    let csrf = browser.get(&bank.login, &authorize_uri(&[("duration_days", "30")])).await.csrf();
    browser.post(&bank.login, "/login", &[("username", "user_good"), ("password", "pass_good"), ("csrf", &csrf)]).await;
    let page = browser.get(&bank.login, "/login/accounts").await;
    assert!(page.body.contains("Access lasts until December 30, 2026"), "{}", page.body);
    let id = account_checkboxes(&page.body)[0].clone();
    let done = browser.post(&bank.login, "/login/consent", &[("csrf", &page.csrf()), ("account_id", &id)]).await;
    let code = param(&query_of(done.location()), "code").unwrap().to_owned();
    let (_, _, json) = exchange(&bank, &code, VERIFIER).await;
    bank.state.clock.advance(Duration::days(29)).unwrap();
    assert_eq!(refresh(&bank, s(&json, "refresh_token")).await.0, StatusCode::OK);
    bank.state.clock.advance(Duration::days(1)).unwrap();
    let (status, _, denied) = refresh(&bank, s(&json, "refresh_token")).await;
    assert_eq!((status, s(&denied, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
}

#[tokio::test]
async fn client_certificate_must_match_the_client_id() {
    let bank = bank().await;
    let code = authorize_code(&bank, "user_good", None).await;
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", GATEWAY),
    ];
    let (status, _, json) = token_call(&bank, "/oauth/token", Some(&bank.other_cert), &pairs).await;
    assert_eq!((status, s(&json, "error")), (StatusCode::UNAUTHORIZED, "invalid_client"));
    let (status, _, json) = token_call(&bank, "/oauth/token", None, &pairs).await;
    assert_eq!((status, s(&json, "error")), (StatusCode::UNAUTHORIZED, "invalid_client"));
    let empty = certs::serve::PeerCertificates::new(vec![]);
    let (status, _, _) = token_call(&bank, "/oauth/token", Some(&empty), &pairs).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Failed client authentication does not burn the code: the real client still gets its tokens.
    let (status, _, json) = exchange(&bank, &code, VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{json}");
}

#[tokio::test]
async fn token_endpoint_rejects_bad_requests_with_oauth_errors() {
    let bank = bank().await;
    let cert = Some(&bank.gateway_cert);
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[("grant_type", "password"), ("client_id", GATEWAY)], "unsupported_grant_type"),
        (&[("client_id", GATEWAY)], "invalid_request"),
        (
            &[("grant_type", "authorization_code"), ("grant_type", "refresh_token"), ("client_id", GATEWAY)],
            "invalid_request",
        ),
        (&[("grant_type", "refresh_token"), ("refresh_token", "forged"), ("client_id", GATEWAY)], "invalid_grant"),
    ];
    for (pairs, error) in cases {
        let (status, headers, json) = token_call(&bank, "/oauth/token", cert, pairs).await;
        assert_eq!((status, s(&json, "error")), (StatusCode::BAD_REQUEST, error), "{pairs:?}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    }
    // Oversized body: refused, not a crash.
    let huge = "a".repeat(64 * 1024);
    let (status, _, json) =
        token_call(&bank, "/oauth/token", cert, &[("grant_type", "refresh_token"), ("pad", &huge)]).await;
    assert_eq!((status, s(&json, "error")), (StatusCode::BAD_REQUEST, "invalid_request"));
}

#[tokio::test]
async fn revocation_endpoint_follows_rfc7009() {
    let bank = bank().await;
    let code = authorize_code(&bank, "user_good", None).await;
    let (_, _, json) = exchange(&bank, &code, VERIFIER).await;
    let cert = Some(&bank.gateway_cert);
    // Unknown tokens: 200.
    let (status, _, _) =
        token_call(&bank, "/oauth/revoke", cert, &[("token", "unknown"), ("client_id", GATEWAY)]).await;
    assert_eq!(status, StatusCode::OK);
    // Revoking the access token stops only that token.
    let access = s(&json, "access_token");
    let (status, _, _) = token_call(&bank, "/oauth/revoke", cert, &[("token", access), ("client_id", GATEWAY)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(bank.state.auth.authenticate_bearer(access).is_err());
    let (status, _, refreshed) = refresh(&bank, s(&json, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK);
    // Revoking the refresh token ends the whole grant.
    let pairs = [("token", s(&json, "refresh_token")), ("token_type_hint", "refresh_token"), ("client_id", GATEWAY)];
    let (status, _, _) = token_call(&bank, "/oauth/revoke", cert, &pairs).await;
    assert_eq!(status, StatusCode::OK);
    assert!(bank.state.auth.authenticate_bearer(s(&refreshed, "access_token")).is_err());
    assert!(bank.state.auth.consent(s(&json, "consent_id")).unwrap().revoked_at.is_some());
}

#[tokio::test]
async fn tokens_survive_a_restart_on_the_same_store_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bank.sqlite");
    let (access, refresh_token, revoked_access, consent_id) = {
        let bank = bank_named("continental", Some(&path)).await;
        let code = authorize_code(&bank, "user_good", Some(1)).await;
        let (_, _, kept) = exchange(&bank, &code, VERIFIER).await;
        let code = authorize_code(&bank, "user_good", None).await;
        let (_, _, revoked) = exchange(&bank, &code, VERIFIER).await;
        assert!(bank.state.auth.revoke_consent(s(&revoked, "consent_id")).await.unwrap());
        (
            s(&kept, "access_token").to_owned(),
            s(&kept, "refresh_token").to_owned(),
            s(&revoked, "access_token").to_owned(),
            s(&kept, "consent_id").to_owned(),
        )
    };
    // The store file holds hashes only.
    let raw = std::fs::read(&path).unwrap();
    let wal = std::fs::read(path.with_extension("sqlite-wal")).unwrap_or_default();
    for haystack in [&raw, &wal] {
        assert!(!haystack.windows(access.len()).any(|w| w == access.as_bytes()), "raw token stored");
    }

    let store = BankStore::open(Some(&path)).await.unwrap();
    let clock = Arc::new(SimClock::frozen(datetime!(2026-11-30 15:10 UTC)));
    let auth = AuthServer::open(store, clock, ISSUER.into(), vec![]).await.unwrap();
    let grant = auth.authenticate_bearer(&access).unwrap();
    assert_eq!(grant.consent_id, consent_id);
    assert_eq!(grant.account_ids.len(), 1);
    assert!(auth.client(GATEWAY).is_some(), "registered clients persist");
    assert_eq!(auth.authenticate_bearer(&revoked_access).unwrap_err().code(), "invalid_token");
    let consents = auth.consents_of(0);
    assert_eq!(consents.len(), 2);
    assert_eq!(consents.iter().filter(|c| c.revoked_at.is_some()).count(), 1);
    assert_eq!(auth.consent(&consent_id).unwrap().expires_at, datetime!(2026-11-30 15:00 UTC) + Duration::days(365));

    // A refresh token issued before the restart still works through the restarted bank's token endpoint.
    let bank = bank_named("continental", Some(&path)).await;
    let (status, _, json) = refresh(&bank, &refresh_token).await;
    assert_eq!(status, StatusCode::OK, "{json}");
}

#[tokio::test]
async fn unknown_or_expired_sessions_get_a_clear_page() {
    let bank = bank().await;
    let mut stranger = Browser { cookie: Some(format!("__Host-bank_session={}", "A".repeat(43))) };
    for page in [
        stranger.get(&bank.login, "/login").await,
        stranger.get(&bank.login, "/login/accounts").await,
        stranger.post(&bank.login, "/login/consent", &[("csrf", "x")]).await,
        Browser::default().post(&bank.login, "/login/mfa", &[("code", "123456")]).await,
    ] {
        assert_eq!(page.status, StatusCode::BAD_REQUEST);
        assert!(page.body.contains("sign-in session is unknown or has expired"));
    }

    // A session ends after 10 simulated minutes.
    let mut browser = Browser::default();
    let csrf = browser.get(&bank.login, &authorize_uri(&[])).await.csrf();
    bank.state.clock.advance(Duration::minutes(10)).unwrap();
    let late = browser
        .post(&bank.login, "/login", &[("username", "user_good"), ("password", "pass_good"), ("csrf", &csrf)])
        .await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert!(late.body.contains("sign-in session is unknown or has expired"));

    // A body over the limit is refused with a page.
    let mut browser = Browser::default();
    browser.get(&bank.login, &authorize_uri(&[])).await;
    let huge = "p".repeat(32 * 1024);
    let big = browser.post(&bank.login, "/login", &[("username", "user_good"), ("password", &huge)]).await;
    assert_eq!(big.status, StatusCode::BAD_REQUEST);
    assert!(big.body.contains("too large"));
}

#[tokio::test]
async fn data_error_users_carry_their_chosen_error_into_the_grant() {
    let bank = bank().await;
    let code = authorize_code(&bank, "data_error_429_1207", None).await;
    let (_, _, json) = exchange(&bank, &code, VERIFIER).await;
    let grant = bank.state.auth.authenticate_bearer(s(&json, "access_token")).unwrap();
    assert_eq!(grant.chosen_error, Some(mock_bank::ledger::users::ChosenError::Data { status: 429, fdx_code: 1207 }));
}

#[tokio::test]
async fn client_registration_validates_redirect_uris() {
    let bank = bank().await;
    let bad = OAuthClient { client_id: "app".into(), redirect_uris: vec!["http://evil.example/cb".into()] };
    assert_eq!(bank.state.auth.register_client(bad).await.unwrap_err().code(), "invalid_redirect_uri");
    let none = OAuthClient { client_id: "app".into(), redirect_uris: vec![] };
    assert_eq!(bank.state.auth.register_client(none).await.unwrap_err().code(), "invalid_redirect_uri");
    let bad_id = OAuthClient { client_id: "a b".into(), redirect_uris: vec![REDIRECT.into()] };
    assert_eq!(bank.state.auth.register_client(bad_id).await.unwrap_err().code(), "invalid_client_metadata");
    let good = OAuthClient { client_id: "budget-app".into(), redirect_uris: vec!["https://budget.example/cb".into()] };
    bank.state.auth.register_client(good.clone()).await.unwrap();
    assert_eq!(bank.state.auth.client("budget-app"), Some(good));
}

/// One real-socket run: the browser over HTTPS on the login listener, the gateway over mutual TLS on the API
/// listener, through `server::start` exactly as `bankgate bank` serves it.
#[tokio::test]
async fn real_https_flow_with_mutual_tls_token_endpoint() {
    certs::install_crypto_provider();
    let pki = certs::Pki::generate().unwrap();
    let profile = load_profiles(None).unwrap().into_iter().find(|b| b.id == "liberty").unwrap();
    let any_port: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let config = mock_bank::server::BankConfig {
        profile,
        seed: 11,
        customers: 20,
        store_path: None,
        start: datetime!(2026-11-30 15:00 UTC),
        ticking: false,
        server_identity: Arc::new(pki.issue_server("liberty").unwrap()),
        ca: pki.ca_der(),
        api_addr: any_port,
        login_addr: any_port,
        admin_addr: any_port,
        public_host: "127.0.0.1".into(),
        admin_token: Secret::new("admin-token"),
        oauth_clients: vec![OAuthClient { client_id: GATEWAY.into(), redirect_uris: vec![REDIRECT.into()] }],
        client_identity: None,
    };
    let running = mock_bank::server::start(config).await.unwrap();
    let urls = running.urls().clone();
    let ca = reqwest::Certificate::from_pem(pki.ca_pem().as_bytes()).unwrap();
    let browser = reqwest::Client::builder()
        .tls_certs_only([ca.clone()])
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let page = browser.get(format!("{}{}", urls.login, authorize_uri(&[]))).send().await.unwrap();
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    let cookie = page.headers()[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
    let html = page.text().await.unwrap();
    assert!(html.contains("Liberty National Bank"));
    let signed_in = browser
        .post(format!("{}/login", urls.login))
        .header(header::COOKIE, &cookie)
        .form(&[("username", "user_good"), ("password", "pass_good"), ("csrf", &hidden_value(&html, "csrf").unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), reqwest::StatusCode::SEE_OTHER);
    let cookie = signed_in.headers()[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
    let html = browser
        .get(format!("{}/login/accounts", urls.login))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ids = account_checkboxes(&html);
    let csrf = hidden_value(&html, "csrf").unwrap();
    let mut pairs = vec![("csrf", csrf.as_str())];
    pairs.extend(ids.iter().map(|id| ("account_id", id.as_str())));
    let done = browser
        .post(format!("{}/login/consent", urls.login))
        .header(header::COOKIE, &cookie)
        .form(&pairs)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), reqwest::StatusCode::SEE_OTHER);
    let location = done.headers()[header::LOCATION].to_str().unwrap().to_owned();
    let params = query_of(&location);
    assert_eq!(param(&params, "iss"), Some(urls.login.as_str()), "the issuer is the login listener");
    let code = param(&params, "code").unwrap();

    let gateway = pki.issue_client(GATEWAY).unwrap();
    let identity = reqwest::Identity::from_pem(format!("{}{}", gateway.cert_pem, gateway.key_pem).as_bytes()).unwrap();
    let client = reqwest::Client::builder().tls_certs_only([ca]).identity(identity).build().unwrap();
    let token = client
        .post(format!("{}/oauth/token", urls.api))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", GATEWAY),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), reqwest::StatusCode::OK);
    let json: serde_json::Value = token.json().await.unwrap();
    assert_eq!(json["account_ids"], serde_json::json!(ids));
    let grant = running.state.auth.authenticate_bearer(s(&json, "access_token")).unwrap();
    assert_eq!(grant.customer_index, 0);
    running.shutdown().await.unwrap();
}
