//! Shared helpers of the mock bank's integration tests: a whole `BankState` assembled the way `server.rs` assembles
//! it (in-memory or on a SQLite file), its routers for `tower::ServiceExt::oneshot`, a tiny browser that walks the
//! bank's login to get a real access token, and request helpers for the FDX and admin APIs.

#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use mock_bank::books::Books;
use mock_bank::clock::SimClock;
use mock_bank::faults::FaultBook;
use mock_bank::ledger::LedgerGenerator;
use mock_bank::login::{self, AuthServer, OAuthClient};
use mock_bank::profile::load_profiles;
use mock_bank::state::{BankState, BankUrls, Secret};
use mock_bank::store::BankStore;
use std::path::Path;
use std::sync::Arc;
use time::OffsetDateTime;
use time::macros::datetime;
use tower::ServiceExt as _;

pub const ADMIN_TOKEN: &str = "test-admin-token";
pub const GATEWAY: &str = "bankgate-gateway";
pub const REDIRECT: &str = "https://127.0.0.1:9443/banks/callback";
/// RFC 7636 Appendix B verifier and its S256 challenge.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub const CUSTOMERS: u32 = 40;
pub const SEED: u64 = 11;
/// A Wednesday noon: outside every shipped bank's maintenance window.
pub const START: OffsetDateTime = datetime!(2026-11-18 12:00 UTC);
pub const ALL_SCOPES: &str = "fdx:accountbasic:read fdx:accountdetailed:read fdx:transactions:read \
    fdx:statements:read fdx:paymentsupport:read fdx:customercontact:read fdx:customerpersonal:read";

pub struct TestBank {
    pub state: Arc<BankState>,
    pub fdx: Router,
    pub admin: Router,
    pub login: Router,
    pub token: Router,
    /// The gateway's client certificate as the API listener's TLS layer hands it to handlers.
    pub gateway_cert: certs::serve::PeerCertificates,
    pub other_cert: certs::serve::PeerCertificates,
}

pub async fn bank(id: &str) -> TestBank {
    bank_with_store(id, None).await
}

/// A bank whose store is the SQLite file `path` (in memory for `None`), built as the lead's `server.rs` builds it:
/// pinned start from the store, history 24 months before it, clock restored by `Books::open`.
pub async fn bank_with_store(id: &str, path: Option<&Path>) -> TestBank {
    bank_with(id, path, None).await
}

/// [`bank_with_store`] whose notifier delivers, presenting `client` (identity and the CA receivers chain to).
pub async fn bank_with(
    id: &str,
    path: Option<&Path>,
    client: Option<(Arc<certs::Identity>, rustls_pki_types::CertificateDer<'static>)>,
) -> TestBank {
    let profile = Arc::new(load_profiles(None).unwrap().into_iter().find(|b| b.id == id).expect("shipped bank"));
    let store = BankStore::open(path).await.unwrap();
    let pinned = store.load_or_pin_start(START).await.unwrap();
    let history_start = mock_bank::server::history_start_for(pinned);
    let clock = Arc::new(SimClock::frozen(pinned));
    let ledger = LedgerGenerator::new(SEED, profile.clone(), CUSTOMERS, history_start);
    let clients = vec![OAuthClient { client_id: GATEWAY.into(), redirect_uris: vec![REDIRECT.into()] }];
    let auth = AuthServer::open(store.clone(), clock.clone(), "https://127.0.0.1:7443".into(), clients).await.unwrap();
    let books = Books::open(ledger.clone(), store.clone(), clock.clone()).await.unwrap();
    let notifier =
        mock_bank::events::Notifier::open(store.clone(), notifier_config(&profile.display_name, client)).await.unwrap();
    let state = Arc::new(BankState {
        profile,
        clock,
        ledger,
        store,
        books,
        auth,
        faults: FaultBook::new(SEED),
        admin_token: Secret::new(ADMIN_TOKEN),
        urls: BankUrls {
            api: "https://127.0.0.1:7444".into(),
            login: "https://127.0.0.1:7443".into(),
            admin: "https://127.0.0.1:7445".into(),
        },
        notifier,
    });
    let pki = certs::Pki::generate().unwrap();
    let peer = |name: &str| certs::serve::PeerCertificates::new(vec![pki.issue_client(name).unwrap().cert_der()]);
    TestBank {
        fdx: mock_bank::api::fdx_router().with_state(state.clone()),
        admin: mock_bank::api::admin_router().with_state(state.clone()),
        login: login::router().with_state(state.clone()),
        token: login::token_router().with_state(state.clone()),
        gateway_cert: peer(GATEWAY),
        other_cert: peer("someone-else"),
        state,
    }
}

/// The notifier settings of a test bank: links to the placeholder API URL, delivering only with `client`.
pub fn notifier_config(
    bank_name: &str,
    client: Option<(Arc<certs::Identity>, rustls_pki_types::CertificateDer<'static>)>,
) -> mock_bank::events::NotifierConfig {
    mock_bank::events::NotifierConfig {
        bank_name: bank_name.to_owned(),
        api_base: "https://127.0.0.1:7444".into(),
        client_identity: client.as_ref().map(|(identity, _)| identity.clone()),
        ca: client.map(|(_, ca)| ca),
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The FDX error code of an error body.
    pub fn fdx_code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_else(|| panic!("no FDX code in {}", self.text())).to_owned()
    }
}

pub async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.expect("body").to_bytes();
    Reply { status, headers, body }
}

/// `GET` on the FDX API with a bearer token and the gateway's client certificate.
pub async fn fdx_get(bank: &TestBank, uri: &str, token: &str) -> Reply {
    let mut request = Request::get(uri).header(header::AUTHORIZATION, format!("Bearer {token}"));
    request = request.header("x-fapi-interaction-id", "c770aef3-6784-41f7-8e0e-ff5f97bddb3a");
    let mut request = request.body(Body::empty()).unwrap();
    request.extensions_mut().insert(bank.gateway_cert.clone());
    send(&bank.fdx, request).await
}

/// An admin request with the admin token (`body` as JSON when given).
pub async fn admin(bank: &TestBank, method: Method, uri: &str, body: Option<serde_json::Value>) -> Reply {
    let request =
        Request::builder().method(method).uri(uri).header(header::AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}"));
    let request = match body {
        Some(json) => request.header(header::CONTENT_TYPE, "application/json").body(Body::from(json.to_string())),
        None => request.body(Body::empty()),
    };
    send(&bank.admin, request.unwrap()).await
}

pub async fn admin_get(bank: &TestBank, uri: &str) -> Reply {
    admin(bank, Method::GET, uri, None).await
}

// ---- the bank's login, walked like a browser -------------------------------------------------------------------

pub fn encode(value: &str) -> String {
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

fn form(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} field in {html}")) + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| decode(v))
    })
}

fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&value[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

struct Browser {
    cookie: Option<String>,
}

impl Browser {
    async fn go(&mut self, router: &Router, mut request: Request<Body>) -> Reply {
        if let Some(cookie) = &self.cookie {
            request.headers_mut().insert(header::COOKIE, cookie.parse().unwrap());
        }
        let reply = send(router, request).await;
        if let Some(set) = reply.header("set-cookie") {
            let pair = set.split(';').next().unwrap_or("");
            self.cookie = pair.split_once('=').filter(|(_, v)| !v.is_empty()).map(|_| pair.to_owned());
        }
        reply
    }
    async fn get(&mut self, router: &Router, uri: &str) -> Reply {
        self.go(router, Request::get(uri).body(Body::empty()).unwrap()).await
    }
    async fn post(&mut self, router: &Router, uri: &str, pairs: &[(&str, &str)]) -> Reply {
        let request = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form(pairs)))
            .unwrap();
        self.go(router, request).await
    }
}

/// A consent the test got through the bank's login, and its access token.
#[derive(Debug, Clone)]
pub struct Consent {
    pub access_token: String,
    pub consent_id: String,
    pub account_ids: Vec<String>,
}

/// Walk the login as `username` (password `pass_good`, no MFA), share every account, redeem the code as the
/// gateway; `extra` adds authorize parameters (e.g. `("platform", "chatly")`).
pub async fn consent(bank: &TestBank, username: &str, scope: &str, extra: &[(&str, &str)]) -> Consent {
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", GATEWAY),
        ("redirect_uri", REDIRECT),
        ("state", "s1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("scope", scope),
    ];
    pairs.extend_from_slice(extra);
    let mut browser = Browser { cookie: None };
    let page = browser.get(&bank.login, &format!("/oauth/authorize?{}", form(&pairs))).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let csrf = hidden(&page.text(), "csrf");
    let signed = browser
        .post(&bank.login, "/login", &[("username", username), ("password", "pass_good"), ("csrf", &csrf)])
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.text());
    let accounts = browser.get(&bank.login, "/login/accounts").await;
    let html = accounts.text();
    let ids: Vec<String> = html
        .split("name=\"account_id\" value=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect();
    let csrf = hidden(&html, "csrf");
    let mut share = vec![("csrf", csrf.as_str()), ("action", "share")];
    share.extend(ids.iter().map(|id| ("account_id", id.as_str())));
    let done = browser.post(&bank.login, "/login/consent", &share).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    let location = done.header("location").unwrap().to_owned();
    let code = query_param(&location, "code").expect("code");
    let token_form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", GATEWAY),
    ];
    let mut request = Request::post("/oauth/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form(&token_form)))
        .unwrap();
    request.extensions_mut().insert(bank.gateway_cert.clone());
    let reply = send(&bank.token, request).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let json = reply.json();
    Consent {
        access_token: json["access_token"].as_str().unwrap().to_owned(),
        consent_id: json["consent_id"].as_str().unwrap().to_owned(),
        account_ids: json["account_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
    }
}

/// The good user's consent to everything.
pub async fn good_consent(bank: &TestBank) -> Consent {
    consent(bank, "user_good", ALL_SCOPES, &[]).await
}

/// Account id of the first account of `category` (FDX accountCategory) in the consent.
pub async fn account_of(bank: &TestBank, consent: &Consent, account_type: &str) -> Option<String> {
    let reply = fdx_get(bank, "/fdx/v6/accounts", &consent.access_token).await;
    reply.json()["accounts"]
        .as_array()?
        .iter()
        .find(|a| a["accountType"] == account_type)
        .map(|a| a["accountId"].as_str().unwrap().to_owned())
}

/// Every FDX transaction of an account from `first_uri`, following `links.next.href` (bounded).
pub async fn all_pages(bank: &TestBank, first_uri: &str, token: &str) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut uri = first_uri.to_owned();
    for _ in 0..500 {
        let reply = fdx_get(bank, &uri, token).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text());
        let json = reply.json();
        out.extend(json["transactions"].as_array().unwrap().iter().cloned());
        match json["links"]["next"]["href"].as_str() {
            Some(next) => {
                assert!(json["page"]["nextOffset"].is_string(), "next link without nextOffset");
                uri = next.to_owned();
            }
            None => return out,
        }
    }
    panic!("paging did not end within 500 pages");
}

/// The first regular customer whose checking account has a pending transaction right now, and that account.
pub async fn customer_with_pending(bank: &TestBank) -> (String, String) {
    for index in 7..CUSTOMERS {
        let accounts = admin_get(bank, &format!("/admin/customers/{index}/accounts")).await.json();
        let Some(checking) = accounts["accounts"].as_array().unwrap().iter().find(|a| a["accountType"] == "CHECKING")
        else {
            continue;
        };
        let id = checking["accountId"].as_str().unwrap();
        let list = admin_get(bank, &format!("/admin/accounts/{id}/transactions")).await.json();
        if list["transactions"].as_array().unwrap().iter().any(|t| t["status"] == "PENDING") {
            return (format!("customer{index}"), id.to_owned());
        }
    }
    panic!("no customer of the test bank has a pending card authorization");
}
