//! The person's side of an authorization: `GET /authorize` with a pushed request, the consent page, the separate
//! secondary-use opt-in, denial, the redirect to the chosen bank and the bank's callback (its error paths: the full
//! round trip with a real bank is the end-to-end test's job), the bank's data-sharing policy refusal page, and the
//! revocation at the bank of the tokens of a consent the person denies at the final confirmation. Driven through
//! `app::router` with `oneshot`, an in-memory store and a manual clock; the bank is a `BankClient` pointed at an
//! https URL nobody serves, or at [`FakeBank`], a small HTTPS token/revocation endpoint that records revocations.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use gateway::app::{AppState, router};
use gateway::banks::{BankClient, BankClientSettings, BankEntry, BankTimeouts};
use gateway::config::{GatewayConfig, ManualClock};
use gateway::consent::{Consent, ConsentStatus, Initiator};
use gateway::pages::session::{PageSession, Stage};
use gateway::pages::{BankRegistry, SESSION_COOKIE, bank_redirect_uri};
use gateway::server::build_state;
use gateway::store::{ClientProfile, ClientRecord, CodeRedemption, ParRecord, TokenHash};
use http_body_util::BodyExt;
use serde_json::json;
use time::{Duration, OffsetDateTime};
use tower::ServiceExt;

const ISSUER: &str = "https://gateway.bankgate.test";
const REDIRECT: &str = "https://budget.example/callback";
const CLIENT: &str = "budget-app";
const OTHER_CLIENT: &str = "other-app";
/// The fake bank: nothing listens on port 1, so a code exchange fails like an unreachable bank.
const BANK_ISSUER: &str = "https://127.0.0.1:1";

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> Option<reqwest::Url> {
        let location = self.headers.get(header::LOCATION)?.to_str().ok()?;
        reqwest::Url::parse(location).ok()
    }

    fn param(&self, name: &str) -> Option<String> {
        self.location()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }

    fn csrf(&self) -> String {
        let start = self.body.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
        self.body[start..].split('"').next().expect("value").to_owned()
    }

    fn cookie(&self) -> String {
        let set = self.headers.get(header::SET_COOKIE).expect("a session cookie").to_str().expect("ascii");
        set.split(';').next().expect("pair").to_owned()
    }
}

struct Gateway {
    state: AppState,
    clock: Arc<ManualClock>,
    pushed: AtomicUsize,
}

impl Gateway {
    async fn new() -> Self {
        Self::with_bank_at(&certs::Pki::generate().expect("pki"), BANK_ISSUER).await
    }

    /// A gateway whose Harbor bank is a [`FakeBank`] that answers code exchanges and records revocations.
    async fn with_fake_bank() -> (Self, FakeBank) {
        let pki = certs::Pki::generate().expect("pki");
        let bank = FakeBank::start(&pki).await;
        (Self::with_bank_at(&pki, &bank.issuer).await, bank)
    }

    async fn with_bank_at(pki: &certs::Pki, bank_issuer: &str) -> Self {
        let clock = Arc::new(ManualClock::new(OffsetDateTime::from_unix_timestamp(1_780_272_000).expect("instant")));
        let config = GatewayConfig::sandbox(([127, 0, 0, 1], 0).into());
        let state = build_state(config, ISSUER.into(), clock.clone()).await.expect("state");
        let identity = pki.issue_client("gateway-client").expect("identity");
        let settings = BankClientSettings {
            client_id: "gateway-client".into(),
            redirect_uri: bank_redirect_uri(ISSUER, "harbor"),
            timeouts: BankTimeouts::default(),
            breaker: Default::default(),
        };
        let entry = BankEntry::new("harbor", "Harbor Trust", bank_issuer, bank_issuer).expect("bank");
        let bank = BankClient::new(entry, &pki.ca_der(), &identity, &settings).expect("bank client");
        let state = state.with_banks(BankRegistry::new().with(bank));
        let now = state.now();
        for id in [CLIENT, OTHER_CLIENT] {
            let metadata = json!({
                "client_name": if id == CLIENT { "Budget App" } else { "Other App" },
                "redirect_uris": [REDIRECT],
                "token_endpoint_auth_method": "tls_client_auth",
                "tls_client_auth_san_uri": certs::client_uri(id),
                "purposes": ["fraud_alerts", "targeted_advertising"],
                "platform": "budgetco",
            });
            let record = ClientRecord {
                client_id: id.into(),
                metadata,
                registration_token_hash: None,
                profile: ClientProfile::Fapi2,
                created_at: now,
                updated_at: now,
            };
            state.store.insert_client(&record).await.expect("client");
        }
        Self { state, clock, pushed: AtomicUsize::new(0) }
    }

    /// Stores a pushed request as `POST /par` does (RFC 9126 §2.2) and returns its request_uri.
    async fn push(&self, purposes: &[&str]) -> String {
        let details = json!([{"type": "fdx_consent", "dataClusters": ["ACCOUNT_BASIC", "TRANSACTIONS"],
            "durationType": "TIME_BOUND", "durationPeriod": 90, "lookbackPeriod": 365, "purposes": purposes}]);
        let n = self.pushed.fetch_add(1, Ordering::Relaxed);
        let request_uri = format!("urn:ietf:params:oauth:request_uri:test-{n}");
        let record = ParRecord {
            request_uri: request_uri.clone(),
            client_id: CLIENT.into(),
            params: json!({
                "response_type": "code", "redirect_uri": REDIRECT, "state": "app-state-1",
                "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256",
                "scope": "fdx:accountbasic:read fdx:transactions:read", "authorization_details": details,
                "dpop_jkt": null,
            }),
            expires_at: self.state.now() + self.state.config.par_lifetime,
            used_at: None,
        };
        self.state.store.insert_par_request(&record).await.expect("par");
        request_uri
    }

    async fn send(&self, request: Request<Body>) -> Page {
        let response = router(self.state.clone()).oneshot(request).await.expect("infallible");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        Page { status: parts.status, headers: parts.headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    async fn authorize(&self, client_id: &str, request_uri: &str) -> Page {
        let query = format!("client_id={}&request_uri={}", enc(client_id), enc(request_uri));
        self.send(Request::get(format!("/authorize?{query}")).body(Body::empty()).expect("request")).await
    }

    async fn post(&self, path: &str, cookie: Option<&str>, params: &[(&str, &str)]) -> Page {
        let body = params.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&");
        let mut request = Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::from(body)).expect("request")).await
    }

    async fn callback(&self, cookie: &str, query: &[(&str, &str)]) -> Page {
        let query = query.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&");
        let request = Request::get(format!("/banks/harbor/callback?{query}")).header(header::COOKIE, cookie);
        self.send(request.body(Body::empty()).expect("request")).await
    }

    /// Authorize, then continue at the consent page with the Harbor bank: the redirect to the bank.
    async fn to_bank(&self) -> (String, Page) {
        let request_uri = self.push(&["fraud_alerts"]).await;
        let consent = self.authorize(CLIENT, &request_uri).await;
        let cookie = consent.cookie();
        let csrf = consent.csrf();
        let at_bank = self
            .post("/authorize/consent", Some(&cookie), &[("csrf", &csrf), ("action", "continue"), ("bank", "harbor")])
            .await;
        (cookie, at_bank)
    }
}

/// A bank's API listener over HTTPS (certificate from the test PKI, client certificate optional): the code exchange
/// answers fixed tokens; `/oauth/revoke` records `(token, token_type_hint)`, or answers 503 when told to fail.
struct FakeBank {
    issuer: String,
    revoked: Arc<Mutex<Vec<(String, String)>>>,
    fail_revocations: Arc<AtomicBool>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl FakeBank {
    async fn start(pki: &certs::Pki) -> Self {
        use axum::routing::post;
        certs::install_crypto_provider();
        let revoked = Arc::new(Mutex::new(Vec::new()));
        let fail_revocations = Arc::new(AtomicBool::new(false));
        let token = || async {
            axum::Json(json!({
                "access_token": "BANK-AT-1", "token_type": "Bearer", "expires_in": 900, "refresh_token": "BANK-RT-1",
                "scope": "fdx:accountbasic:read fdx:transactions:read", "consent_id": "bank-consent-7",
                "account_ids": ["acc-1"],
            }))
        };
        let (record, fail) = (revoked.clone(), fail_revocations.clone());
        let revoke = move |axum::Form(form): axum::Form<Vec<(String, String)>>| {
            let (record, fail) = (record.clone(), fail.clone());
            async move {
                if fail.load(Ordering::SeqCst) {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                let get = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
                record.lock().expect("lock").push((get("token"), get("token_type_hint")));
                StatusCode::OK
            }
        };
        let app = axum::Router::new().route("/oauth/token", post(token)).route("/oauth/revoke", post(revoke));
        let identity = pki.issue_server("127.0.0.1").expect("server certificate");
        let tls = certs::server_config(&identity, &pki.ca_der(), certs::ClientAuth::Optional).expect("tls");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let issuer = format!("https://127.0.0.1:{}", listener.local_addr().expect("addr").port());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(certs::serve::serve_tls(listener, tls, app, async move {
            let _ = stopped.await;
        }));
        Self { issuer, revoked, fail_revocations, _stop: stop }
    }

    fn revoked(&self) -> Vec<(String, String)> {
        self.revoked.lock().expect("lock").clone()
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn assert_error_page(page: &Page) {
    assert!(page.status.is_client_error(), "{}: {}", page.status, page.body);
    assert!(
        page.headers.get(header::LOCATION).is_none(),
        "an error before the redirect_uri is trusted never redirects"
    );
    assert!(page.body.contains("<h1>"), "an HTML page: {}", page.body);
}

#[tokio::test]
async fn consent_page_names_the_app_its_data_purposes_and_banks_with_strict_headers() {
    let gw = Gateway::new().await;
    let request_uri = gw.push(&["fraud_alerts"]).await;
    let page = gw.authorize(CLIENT, &request_uri).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for words in [
        "Budget App",
        "Basic account details",
        "Transactions: amounts, dates, merchants and descriptions",
        "up to 365 days back",
        "for 90 days",
        "alert you to suspected fraud",
        "value=\"harbor\"",
        "Harbor Trust",
    ] {
        assert!(page.body.contains(words), "missing {words:?} in {}", page.body);
    }
    assert!(!page.body.contains("<script"), "no JavaScript");
    let header = |name: header::HeaderName| page.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(header(header::CONTENT_SECURITY_POLICY).contains("frame-ancestors 'none'"));
    assert_eq!(header(header::X_FRAME_OPTIONS), "DENY");
    assert_eq!(header(header::CACHE_CONTROL), "no-store");
    assert!(page.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    let cookie = header(header::SET_COOKIE);
    assert!(cookie.starts_with(&format!("{SESSION_COOKIE}=")), "{cookie}");
    assert!(cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("Path=/"), "{cookie}");
}

#[tokio::test]
async fn consent_form_without_or_with_a_wrong_csrf_token_or_session_is_refused() {
    let gw = Gateway::new().await;
    let request_uri = gw.push(&["fraud_alerts"]).await;
    let page = gw.authorize(CLIENT, &request_uri).await;
    let cookie = page.cookie();
    let missing = gw.post("/authorize/consent", Some(&cookie), &[("action", "continue"), ("bank", "harbor")]).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(missing.headers.get(header::LOCATION).is_none());
    let wrong = gw
        .post("/authorize/consent", Some(&cookie), &[("csrf", "x".repeat(43).as_str()), ("action", "continue")])
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert!(wrong.headers.get(header::LOCATION).is_none());
    // The right token without the session cookie (another browser) is no better.
    let csrf = page.csrf();
    let no_session = gw.post("/authorize/consent", None, &[("csrf", &csrf), ("action", "continue")]).await;
    assert_error_page(&no_session);
    // The page still works with the right token.
    let ok = gw.post("/authorize/consent", Some(&cookie), &[("csrf", &csrf), ("action", "deny")]).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn continuing_redirects_to_the_chosen_bank_with_pkce_scopes_and_purposes() {
    let gw = Gateway::new().await;
    let (_, at_bank) = gw.to_bank().await;
    assert_eq!(at_bank.status, StatusCode::SEE_OTHER, "{}", at_bank.body);
    let url = at_bank.location().expect("a Location");
    assert_eq!(url.origin().ascii_serialization(), BANK_ISSUER);
    assert_eq!(url.path(), "/oauth/authorize");
    assert_eq!(at_bank.param("scope").as_deref(), Some("fdx:accountbasic:read fdx:transactions:read"));
    assert_eq!(at_bank.param("purpose").as_deref(), Some("fraud_alerts"));
    assert_eq!(at_bank.param("platform").as_deref(), Some("budgetco"), "the app's registered platform");
    assert_eq!(at_bank.param("recipient").as_deref(), Some(CLIENT), "the bank's policy judges the app");
    assert_eq!(at_bank.param("duration_days").as_deref(), Some("90"));
    assert_eq!(at_bank.param("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(at_bank.param("redirect_uri"), Some(format!("{ISSUER}/banks/harbor/callback")));
    let bank_state = at_bank.param("state").expect("state");
    assert!(bank_state.len() >= 43 && bank_state != "app-state-1", "a fresh state of our own");
}

#[tokio::test]
async fn secondary_use_needs_the_separate_opt_in_and_declining_it_denies() {
    let gw = Gateway::new().await;
    for (choice, to_bank) in [("decline", false), ("opt_in", true)] {
        let request_uri = gw.push(&["fraud_alerts", "targeted_advertising"]).await;
        let consent = gw.authorize(CLIENT, &request_uri).await;
        let (cookie, csrf) = (consent.cookie(), consent.csrf());
        let screen = gw
            .post("/authorize/consent", Some(&cookie), &[("csrf", &csrf), ("action", "continue"), ("bank", "harbor")])
            .await;
        assert_eq!(screen.status, StatusCode::OK, "a screen of its own, not yet the bank");
        assert!(screen.body.contains("choose advertisements to show you"), "{}", screen.body);
        assert!(screen.body.contains("/authorize/secondary-use"));
        let bad = gw.post("/authorize/secondary-use", Some(&cookie), &[("action", "opt_in")]).await;
        assert_eq!(bad.status, StatusCode::FORBIDDEN, "the opt-in form needs the CSRF token too");
        let answer = gw.post("/authorize/secondary-use", Some(&cookie), &[("csrf", &csrf), ("action", choice)]).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER);
        let location = answer.location().expect("Location");
        if to_bank {
            assert_eq!(location.origin().ascii_serialization(), BANK_ISSUER);
            assert_eq!(answer.param("purpose").as_deref(), Some("fraud_alerts targeted_advertising"));
        } else {
            assert!(location.as_str().starts_with(REDIRECT));
            assert_eq!(answer.param("error").as_deref(), Some("access_denied"));
            assert_eq!(answer.param("iss").as_deref(), Some(ISSUER));
        }
    }
}

#[tokio::test]
async fn denying_sends_access_denied_with_state_and_iss_and_consumes_the_request() {
    let gw = Gateway::new().await;
    let request_uri = gw.push(&["fraud_alerts"]).await;
    let consent = gw.authorize(CLIENT, &request_uri).await;
    let (cookie, csrf) = (consent.cookie(), consent.csrf());
    let denied = gw.post("/authorize/consent", Some(&cookie), &[("csrf", &csrf), ("action", "deny")]).await;
    assert_eq!(denied.status, StatusCode::SEE_OTHER);
    assert!(denied.location().expect("Location").as_str().starts_with(REDIRECT));
    assert_eq!(denied.param("error").as_deref(), Some("access_denied"));
    assert_eq!(denied.param("state").as_deref(), Some("app-state-1"));
    assert_eq!(denied.param("iss").as_deref(), Some(ISSUER));
    assert_eq!(denied.param("code"), None);
    // Single use (RFC 9126 §4): the same request_uri cannot start or finish another authorization.
    assert_error_page(&gw.authorize(CLIENT, &request_uri).await);
    let again = gw.post("/authorize/consent", Some(&cookie), &[("csrf", &csrf), ("action", "deny")]).await;
    assert_error_page(&again);
}

#[tokio::test]
async fn unknown_foreign_expired_or_missing_request_uris_get_an_error_page_never_a_redirect() {
    let gw = Gateway::new().await;
    let request_uri = gw.push(&["fraud_alerts"]).await;
    let unknown = gw.authorize(CLIENT, "urn:ietf:params:oauth:request_uri:nope").await;
    assert_error_page(&unknown);
    assert!(unknown.body.contains("unknown"));
    let foreign = gw.authorize(OTHER_CLIENT, &request_uri).await;
    assert_error_page(&foreign);
    assert!(foreign.body.contains("not issued to this app"));
    let without_par = gw.send(Request::get("/authorize?client_id=budget-app").body(Body::empty()).expect("req")).await;
    assert_error_page(&without_par);
    // Another client's attempt did not consume it.
    assert_eq!(gw.authorize(CLIENT, &request_uri).await.status, StatusCode::OK);
    gw.clock.advance(gw.state.config.par_lifetime + Duration::seconds(1));
    let expired = gw.authorize(CLIENT, &request_uri).await;
    assert_error_page(&expired);
    assert!(expired.body.contains("expired"));
}

#[tokio::test]
async fn bank_callback_refuses_a_wrong_state_or_issuer_and_passes_on_a_denial() {
    let gw = Gateway::new().await;
    let (cookie, at_bank) = gw.to_bank().await;
    let bank_state = at_bank.param("state").expect("state");
    let wrong_state = gw.callback(&cookie, &[("code", "c1"), ("state", "forged"), ("iss", BANK_ISSUER)]).await;
    assert_error_page(&wrong_state);
    let wrong_iss = gw.callback(&cookie, &[("code", "c1"), ("state", &bank_state), ("iss", "https://evil.test")]).await;
    assert_error_page(&wrong_iss);
    let no_iss = gw.callback(&cookie, &[("code", "c1"), ("state", &bank_state)]).await;
    assert_error_page(&no_iss);
    let no_session = gw.callback("other=1", &[("code", "c1"), ("state", &bank_state), ("iss", BANK_ISSUER)]).await;
    assert_error_page(&no_session);
    // The forgeries did not end the session: the bank's real answer (the person declined) still arrives.
    let denied =
        gw.callback(&cookie, &[("error", "access_denied"), ("state", &bank_state), ("iss", BANK_ISSUER)]).await;
    assert_eq!(denied.status, StatusCode::SEE_OTHER, "{}", denied.body);
    assert_eq!(denied.param("error").as_deref(), Some("access_denied"));
    assert_eq!(denied.param("state").as_deref(), Some("app-state-1"));
    assert_eq!(denied.param("iss").as_deref(), Some(ISSUER));
}

#[tokio::test]
async fn an_unreachable_bank_ends_the_authorization_with_an_error_to_the_client() {
    let gw = Gateway::new().await;
    let (cookie, at_bank) = gw.to_bank().await;
    let bank_state = at_bank.param("state").expect("state");
    let page = gw.callback(&cookie, &[("code", "c1"), ("state", &bank_state), ("iss", BANK_ISSUER)]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let error = page.param("error").expect("error");
    assert!(error == "temporarily_unavailable" || error == "server_error", "{error}");
    assert_eq!(page.param("iss").as_deref(), Some(ISSUER));
    assert_eq!(page.param("code"), None);
    // The callback cannot be replayed into a second completion.
    let again = gw.callback(&cookie, &[("code", "c1"), ("state", &bank_state), ("iss", BANK_ISSUER)]).await;
    assert_error_page(&again);
}

#[tokio::test]
async fn approving_the_confirmation_issues_a_single_use_code_for_an_authorized_consent() {
    let gw = Gateway::new().await;
    let request_uri = gw.push(&["fraud_alerts"]).await;
    let page = gw.authorize(CLIENT, &request_uri).await;
    let (cookie, csrf) = (page.cookie(), page.csrf());
    let id = cookie.split_once('=').expect("cookie pair").1.to_owned();
    let now = gw.state.now();
    // Stand in for the bank round trip (the end-to-end test drives a real bank): a PENDING consent with the bank's
    // answer in the session, as the callback leaves them.
    let at_confirmation = |session: &mut PageSession| {
        session.stage = Stage::Confirm {
            bank: "harbor".into(),
            consent_id: "consent-1".into(),
            person: "bank-consent-9".into(),
            accounts: vec!["acc-1".into()],
            opted_in: false,
        };
    };
    let mut session = gw.state.sessions.get(&id, now).expect("session");
    let consent = Consent::new("consent-1".into(), CLIENT.into(), session.request.clone(), now);
    gw.state.store.insert_consent(&consent).await.expect("consent");
    at_confirmation(&mut session);
    gw.state.sessions.put(&id, session.clone(), now);

    let forged = gw.post("/authorize/confirm", Some(&cookie), &[("action", "approve")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let approved = gw.post("/authorize/confirm", Some(&cookie), &[("csrf", &csrf), ("action", "approve")]).await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.body);
    assert!(approved.location().expect("Location").as_str().starts_with(REDIRECT));
    assert_eq!(approved.param("state").as_deref(), Some("app-state-1"));
    assert_eq!(approved.param("iss").as_deref(), Some(ISSUER));
    assert_eq!(approved.param("error"), None);
    let code = approved.param("code").expect("code");

    let stored = gw.state.store.consent("consent-1").await.expect("store").expect("consent");
    assert_eq!(stored.status, ConsentStatus::Authorized);
    assert_eq!(stored.accounts, vec!["acc-1".to_owned()]);
    match gw.state.store.redeem_code(&TokenHash::of(&code), CLIENT, now).await.expect("store") {
        CodeRedemption::Redeemed(record) => {
            assert_eq!(record.consent_id, "consent-1");
            assert_eq!(record.redirect_uri, REDIRECT);
            assert_eq!(record.pkce_challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
            assert!(record.expires_at <= now + Duration::seconds(60));
        }
        other => panic!("the code must be redeemable once: {other:?}"),
    }

    // A second completion of the same request_uri fails (RFC 9126 §4), even with a live session and token.
    gw.state.sessions.put(&id, session, now);
    let again = gw.post("/authorize/confirm", Some(&cookie), &[("csrf", &csrf), ("action", "approve")]).await;
    assert_error_page(&again);
}

#[tokio::test]
async fn a_data_sharing_policy_refusal_is_shown_to_the_person_and_returns_access_denied_to_the_app() {
    let gw = Gateway::new().await;
    let (cookie, at_bank) = gw.to_bank().await;
    let bank_state = at_bank.param("state").expect("state");
    let words = format!(
        "Harbor Trust's data-sharing policy does not allow sharing data for targeted advertising with the app \
         budget-app <script>alert(1)</script> \"quoted\" {}",
        "x".repeat(2000)
    );
    let refused = gw
        .callback(
            &cookie,
            &[
                ("error", "access_denied"),
                ("error_description", &words),
                ("refusal", "data_sharing_policy"),
                ("state", &bank_state),
                ("iss", BANK_ISSUER),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::OK, "{}", refused.body);
    assert!(refused.headers.get(header::LOCATION).is_none(), "the person sees the refusal first");
    assert!(refused.body.contains("role=\"alert\""), "an alert page: {}", refused.body);
    assert!(refused.body.contains("Harbor Trust will not share this data with <strong>Budget App</strong>"));
    assert!(refused.body.contains("does not allow sharing data for targeted advertising with the app budget-app"));
    assert!(!refused.body.contains("<script>"), "the bank's words are escaped");
    assert!(!refused.body.contains(&"x".repeat(301)), "the bank's words are capped");
    assert!(refused.body.contains("Return to Budget App"));

    let forged = gw.post("/authorize/refused", Some(&cookie), &[("action", "return")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "the button is CSRF-checked");
    let csrf = refused.csrf();
    let back = gw.post("/authorize/refused", Some(&cookie), &[("csrf", &csrf), ("action", "return")]).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
    assert!(back.location().expect("Location").as_str().starts_with(REDIRECT));
    assert_eq!(back.param("error").as_deref(), Some("access_denied"), "RFC 6749 §4.1.2.1");
    let description = back.param("error_description").expect("error_description");
    assert!(description.starts_with("the data-sharing policy of Harbor Trust refused the request: "), "{description}");
    assert!(!description.contains(['"', '\\']) && description.len() <= 300, "RFC 6749 charset, capped");
    assert_eq!(back.param("state").as_deref(), Some("app-state-1"));
    assert_eq!(back.param("iss").as_deref(), Some(ISSUER));
    assert_eq!(back.param("refusal"), None, "the gateway's clients get the standard's answer");
    let again = gw.post("/authorize/refused", Some(&cookie), &[("csrf", &csrf), ("action", "return")]).await;
    assert_error_page(&again);
}

#[tokio::test]
async fn a_plain_access_denied_from_the_bank_is_the_person_declining_not_a_refusal_page() {
    let gw = Gateway::new().await;
    let (cookie, at_bank) = gw.to_bank().await;
    let bank_state = at_bank.param("state").expect("state");
    // A `refusal` marker with another value is not the policy refusal.
    let query = [("error", "access_denied"), ("refusal", "other"), ("state", &bank_state), ("iss", BANK_ISSUER)];
    let denied = gw.callback(&cookie, &query).await;
    assert_eq!(denied.status, StatusCode::SEE_OTHER);
    assert_eq!(denied.param("error_description").as_deref(), Some("the person declined at their bank"));
}

/// Through the fake bank to the final confirmation; returns the session cookie, the confirmation page and the
/// PENDING consent's id.
async fn at_confirmation(gw: &Gateway, bank: &FakeBank) -> (String, Page, String) {
    let (cookie, at_bank) = gw.to_bank().await;
    let bank_state = at_bank.param("state").expect("state");
    let confirm = gw.callback(&cookie, &[("code", "bank-code-1"), ("state", &bank_state), ("iss", &bank.issuer)]).await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
    assert!(confirm.body.contains("value=\"approve\""), "{}", confirm.body);
    let id = cookie.split_once('=').expect("cookie pair").1;
    let Some(Stage::Confirm { consent_id, .. }) = gw.state.sessions.get(id, gw.state.now()).map(|s| s.stage) else {
        panic!("the session waits for the confirmation");
    };
    assert!(gw.state.store.bank_tokens(&consent_id).await.expect("store").is_some(), "bank tokens are kept sealed");
    (cookie, confirm, consent_id)
}

#[tokio::test]
async fn denying_at_the_confirmation_revokes_the_bank_tokens_and_the_pending_consent() {
    let (gw, bank) = Gateway::with_fake_bank().await;
    let (cookie, confirm, consent_id) = at_confirmation(&gw, &bank).await;
    assert!(bank.revoked().is_empty());
    let denied = gw.post("/authorize/confirm", Some(&cookie), &[("csrf", &confirm.csrf()), ("action", "deny")]).await;
    assert_eq!(denied.status, StatusCode::SEE_OTHER, "{}", denied.body);
    assert_eq!(denied.param("error").as_deref(), Some("access_denied"));
    assert_eq!(denied.param("error_description").as_deref(), Some("the person declined the consent"));
    // RFC 7009 §2.1: the refresh token first (it ends the grant), then the access token.
    assert_eq!(
        bank.revoked(),
        vec![("BANK-RT-1".to_owned(), "refresh_token".to_owned()), ("BANK-AT-1".to_owned(), "access_token".to_owned())]
    );
    let consent = gw.state.store.consent(&consent_id).await.expect("store").expect("consent");
    assert_eq!(consent.status, ConsentStatus::Revoked);
    assert_eq!(consent.revocations.last().map(|r| r.initiator), Some(Initiator::Person));
    assert_eq!(gw.state.store.bank_tokens(&consent_id).await.expect("store"), None, "sealed tokens deleted");
}

#[tokio::test]
async fn a_failed_bank_revocation_or_confirmation_still_ends_the_pending_consent() {
    let (gw, bank) = Gateway::with_fake_bank().await;
    // The bank cannot revoke: the person still gets back to the app and the gateway forgets the tokens.
    bank.fail_revocations.store(true, Ordering::SeqCst);
    let (cookie, confirm, consent_id) = at_confirmation(&gw, &bank).await;
    let denied = gw.post("/authorize/confirm", Some(&cookie), &[("csrf", &confirm.csrf()), ("action", "deny")]).await;
    assert_eq!(denied.status, StatusCode::SEE_OTHER, "{}", denied.body);
    assert_eq!(denied.param("error").as_deref(), Some("access_denied"));
    assert!(bank.revoked().is_empty());
    assert_eq!(gw.state.store.bank_tokens(&consent_id).await.expect("store"), None);
    let consent = gw.state.store.consent(&consent_id).await.expect("store").expect("consent");
    assert_eq!(consent.status, ConsentStatus::Revoked);

    // An approval that comes too late (the pushed request expired) issues no code and revokes at the bank.
    bank.fail_revocations.store(false, Ordering::SeqCst);
    let (cookie, confirm, consent_id) = at_confirmation(&gw, &bank).await;
    gw.clock.advance(gw.state.config.par_lifetime + Duration::seconds(1));
    let late = gw.post("/authorize/confirm", Some(&cookie), &[("csrf", &confirm.csrf()), ("action", "approve")]).await;
    assert_error_page(&late);
    assert_eq!(bank.revoked().len(), 2, "{:?}", bank.revoked());
    let consent = gw.state.store.consent(&consent_id).await.expect("store").expect("consent");
    assert_eq!(consent.status, ConsentStatus::Revoked);
    assert_eq!(consent.revocations.last().map(|r| r.initiator), Some(Initiator::Gateway));
    assert_eq!(gw.state.store.bank_tokens(&consent_id).await.expect("store"), None);
}
