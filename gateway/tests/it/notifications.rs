//! Bank notifications delivered to apps (issue 5): the app-facing FDX notification API driven through the router
//! with `oneshot` (DPoP-bound tokens of a stored consent), the bank side by calling
//! `events::accept_bank_notification` directly, and the app's webhook receiver played by `wiremock` on 127.0.0.1.
//! The delivery worker runs for real with a small retry policy (10 ms backoff, 300 ms attempt timeout); tests wait
//! on conditions with bounded deadlines, never on fixed sleeps.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use crate::support::Key;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use gateway::app::{AppState, router};
use gateway::config::{DeliveryPolicy, GatewayConfig, ManualClock, SigningKeySource, StoreLocation};
use gateway::consent::RevocationReason;
use gateway::consent::{Authorization, Consent, ConsentRequest, ConsentStatus, ConsentSubject, Initiator};
use gateway::events::delivery::{DeliveryWorker, WebhookClient};
use gateway::events::sequence::Turn;
use gateway::events::set::{EVENT_TYPE, SET_CONTENT_TYPE, SET_TYPE};
use gateway::events::{Accepted, Notification, accept_bank_notification};
use gateway::oauth::access_token::{self, AccessTokenClaims, Confirmation};
use gateway::oauth::dpop::access_token_hash;
use gateway::oauth::jws::{CompactJws, PublicJwk, SigningAlg};
use gateway::server::build_state;
use gateway::store::{ClientProfile, ClientRecord, TokenBinding, TokenHash, TokenKind, TokenRecord};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use tower::ServiceExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ISSUER: &str = "https://gateway.bankgate.test";
const BANK: &str = "first-national";
const BANK_API: &str = "https://first-national.bank.test:8443";
const SUBSCRIPTIONS: &str = "/fdx/v6/notification-subscriptions";
/// Longest a condition is waited for.
const DEADLINE: StdDuration = StdDuration::from_secs(15);

fn random() -> String {
    access_token::new_jti().expect("rng")
}

/// The retry policy of most tests: fast, three attempts.
fn policy() -> DeliveryPolicy {
    DeliveryPolicy {
        max_attempts: 3,
        base_backoff: StdDuration::from_millis(10),
        max_backoff: StdDuration::from_millis(40),
        attempt_timeout: StdDuration::from_millis(300),
    }
}

/// A policy whose retries stay queued for a while (tests that act while a delivery waits for its retry).
fn patient() -> DeliveryPolicy {
    DeliveryPolicy {
        max_attempts: 8,
        base_backoff: StdDuration::from_millis(100),
        max_backoff: StdDuration::from_millis(200),
        attempt_timeout: StdDuration::from_millis(300),
    }
}

/// A gateway on a data directory (so a second one can take over the same store), with its delivery worker.
struct Gw {
    state: AppState,
    worker: Option<DeliveryWorker>,
}

impl Gw {
    async fn start(dir: &std::path::Path) -> Self {
        Self::start_with(dir, policy()).await
    }

    async fn start_with(dir: &std::path::Path, policy: DeliveryPolicy) -> Self {
        let clock = Arc::new(ManualClock::new(OffsetDateTime::from_unix_timestamp(1_780_272_000).expect("instant")));
        let mut config = GatewayConfig::sandbox(([127, 0, 0, 1], 0).into());
        config.store = StoreLocation::DataDir(dir.to_owned());
        config.signing_key = SigningKeySource::DataDir;
        config.delivery = policy;
        config.rate_limit = None;
        let state = build_state(config, ISSUER.into(), clock).await.expect("state");
        let client = WebhookClient::new(None, policy.attempt_timeout).expect("webhook client");
        let worker = DeliveryWorker::start(state.clone(), client);
        Self { state, worker: Some(worker) }
    }

    async fn stop(mut self) {
        if let Some(worker) = self.worker.take() {
            worker.stop().await;
        }
    }

    fn now(&self) -> OffsetDateTime {
        self.state.now()
    }

    async fn bank_sends(&self, consent: &str, n: Value) -> Accepted {
        let n: Notification = serde_json::from_value(n).expect("an FDX Notificationentity");
        accept_bank_notification(&self.state, consent, BANK, n, Turn::unordered()).await.expect("accepted")
    }
}

/// An app with an AUTHORIZED consent (account `acc-1`) and a DPoP-bound access token of it.
struct App {
    client_id: String,
    consent_id: String,
    key: Key,
    token: String,
}

impl App {
    async fn new(gw: &Gw, consent_id: &str, clusters: &[&str]) -> App {
        let now = gw.now();
        let client_id = format!("app-{consent_id}");
        let client = ClientRecord {
            client_id: client_id.clone(),
            metadata: json!({"client_name": "Budget App"}),
            registration_token_hash: None,
            profile: ClientProfile::Fapi2,
            created_at: now,
            updated_at: now,
        };
        gw.state.store.insert_client(&client).await.expect("client");
        let details = json!([{"type": "fdx_consent", "dataClusters": clusters, "durationType": "TIME_BOUND",
            "durationPeriod": 90, "lookbackPeriod": 365, "purposes": ["fraud_alerts"]}]);
        let request = ConsentRequest::from_authorization_details(&details.to_string()).expect("consent request");
        let mut consent = Consent::new(consent_id.into(), client_id.clone(), request, now);
        gw.state.store.insert_consent(&consent).await.expect("insert consent");
        let decision = Authorization {
            subject: ConsentSubject { person: "user_good".into(), bank: BANK.into() },
            accounts: vec!["acc-1".into()],
            secondary_use_opt_in: false,
        };
        consent.authorize(decision, now).expect("authorize");
        assert!(gw.state.store.update_consent(&consent, ConsentStatus::Pending).await.expect("update"));
        let key = Key::new();
        let claims = AccessTokenClaims {
            iss: ISSUER.into(),
            sub: "user_good".into(),
            aud: ISSUER.into(),
            exp: (now + Duration::minutes(30)).unix_timestamp(),
            iat: now.unix_timestamp(),
            jti: random(),
            client_id: client_id.clone(),
            scope: consent.request.scope(),
            consent_id: consent_id.into(),
            cnf: Some(Confirmation::Jkt(key.thumbprint())),
        };
        let token = access_token::issue(&gw.state.keys, &claims).expect("token");
        let record = TokenRecord {
            token_hash: TokenHash::of(&token),
            kind: TokenKind::Access,
            client_id: client_id.clone(),
            consent_id: Some(consent_id.into()),
            scope: claims.scope.clone(),
            binding: TokenBinding::Dpop { jkt: key.thumbprint() },
            issued_at: now,
            expires_at: now + Duration::minutes(30),
            revoked_at: None,
            parent_code: None,
        };
        gw.state.store.insert_token(&record).await.expect("token record");
        App { client_id, consent_id: consent_id.into(), key, token }
    }

    /// A request to the gateway with the token and a fresh DPoP proof (RFC 9449 §7.1).
    async fn call(&self, gw: &Gw, method_name: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (status, _, body) = self.call_full(gw, method_name, uri, body).await;
        (status, body)
    }

    async fn call_full(
        &self,
        gw: &Gw,
        method_name: &str,
        uri: &str,
        body: Option<Value>,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let htu_path = uri.split('?').next().unwrap_or(uri);
        let claims = json!({"jti": random(), "htm": method_name, "htu": format!("{ISSUER}{htu_path}"),
            "iat": gw.now().unix_timestamp(), "ath": access_token_hash(&self.token)});
        let proof = self.key.sign(&json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.key.public_jwk()}), &claims);
        let mut request = Request::builder()
            .method(method_name)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("DPoP {}", self.token))
            .header("dpop", proof)
            .header("x-fapi-interaction-id", "7a1c0e4e-2f43-4f3a-9a55-0c0e1b6f0d11");
        let body = match body {
            Some(v) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let response =
            router(gw.state.clone()).oneshot(request.body(body).expect("request")).await.expect("infallible");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        let value = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("JSON body") };
        (parts.status, parts.headers, value)
    }

    /// Subscribes `type`/`category` to `callback`; returns the subscription id.
    async fn subscribe(&self, gw: &Gw, kind: &str, category: &str, callback: &str) -> String {
        let body = json!({"type": kind, "category": category, "callbackUrl": callback,
            "subscriber": {"name": "Budget App", "type": "DATA_RECIPIENT"}});
        let (status, body) = self.call(gw, "POST", SUBSCRIPTIONS, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["subscriptionId"].as_str().expect("subscriptionId").to_owned()
    }
}

/// An FDX notification as a bank sends it (issue 5 contract).
fn risk(id: &str, account: &str) -> Value {
    json!({
        "notificationId": id,
        "type": "RISK",
        "category": "FRAUD",
        "sentOn": "2026-06-01T02:14:00Z",
        "severity": "ALERT",
        "priority": "HIGH",
        "publisher": {"name": "First National", "type": "DATA_PROVIDER"},
        "subscriber": {"name": "bankgate", "type": "DATA_ACCESS_PLATFORM"},
        "notificationPayload": {"id": account, "idType": "ACCOUNT",
            "customFields": {"name": "CARD_NOT_PRESENT_FAR_FROM_HOME", "value": "card used 4,000 km from home"}},
        "url": {"href": format!("{BANK_API}/fdx/v6/accounts/{account}/transactions?startTime=2026-06-01&endTime=2026-06-01"),
            "action": "GET", "rel": "transactions", "types": ["application/json"]}
    })
}

fn balance(id: &str, account: &str) -> Value {
    json!({
        "notificationId": id, "type": "BALANCE", "category": "NEW_DATA", "sentOn": "2026-06-01T02:15:00Z",
        "severity": "WARNING", "priority": "MEDIUM",
        "publisher": {"name": "First National", "type": "DATA_PROVIDER"},
        "notificationPayload": {"id": account, "idType": "ACCOUNT", "customFields": {"name": "LOW_BALANCE", "value": "12.30"}},
        "url": {"href": format!("{BANK_API}/fdx/v6/accounts/{account}"), "action": "GET", "rel": "account"}
    })
}

fn consent_revoked(id: &str) -> Value {
    json!({
        "notificationId": id, "type": "CONSENT_REVOKED", "category": "CONSENT", "sentOn": "2026-06-01T03:00:00Z",
        "severity": "WARNING", "priority": "HIGH",
        "publisher": {"name": "First National", "type": "DATA_PROVIDER"},
        "notificationPayload": {"id": "bank-consent-9", "idType": "CONSENT"}
    })
}

/// The `jti`s of the SETs `server` received at `route`, in arrival order.
async fn received(server: &MockServer, route: &str) -> Vec<String> {
    let requests = server.received_requests().await.unwrap_or_default();
    requests
        .iter()
        .filter(|r| r.url.path() == route)
        .map(|r| {
            let set = std::str::from_utf8(&r.body).expect("utf-8 SET");
            let jws = CompactJws::parse(set).expect("compact JWS");
            jws.claims["jti"].as_str().expect("jti").to_owned()
        })
        .collect()
}

/// Waits until `check` holds (bounded by [`DEADLINE`]).
async fn eventually<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
}

async fn receiver(route: &str, status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path(route)).respond_with(ResponseTemplate::new(status)).mount(&server).await;
    server
}

#[tokio::test]
async fn a_webhook_is_a_set_signed_with_the_published_jwks_and_shows_only_what_the_consent_covers() {
    let dir = tempfile::tempdir().expect("dir");
    let gw = Gw::start(dir.path()).await;
    let app = App::new(&gw, "consent-set", &["ACCOUNT_BASIC", "TRANSACTIONS", "NOTIFICATIONS"]).await;
    let server = receiver("/hooks", 202).await;
    app.subscribe(&gw, "RISK", "FRAUD", &format!("{}/hooks", server.uri())).await;

    assert_eq!(gw.bank_sends(&app.consent_id, risk("n-1", "acc-1")).await, Accepted::New);
    eventually("the webhook", || async { received(&server, "/hooks").await.len() == 1 }).await;

    let requests = server.received_requests().await.expect("recorded");
    let request = &requests[0];
    assert_eq!(request.headers.get("content-type").and_then(|v| v.to_str().ok()), Some(SET_CONTENT_TYPE));
    let set = std::str::from_utf8(&request.body).expect("utf-8");
    let jws = CompactJws::parse(set).expect("JWS");
    assert_eq!(jws.header_str("typ"), Some(SET_TYPE));
    // Verified with the key published at /jwks, found by kid (what an app does).
    let response = router(gw.state.clone())
        .oneshot(Request::get("/jwks").body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let jwks: Value =
        serde_json::from_slice(&response.into_body().collect().await.expect("body").to_bytes()).expect("JWKS JSON");
    let kid = jws.header_str("kid").expect("kid");
    let jwk = jwks["keys"].as_array().expect("keys").iter().find(|k| k["kid"] == kid).expect("published key");
    let public = PublicJwk::from_json(&{
        let mut k = jwk.clone();
        if let Some(m) = k.as_object_mut() {
            m.remove("kid");
            m.remove("use");
            m.remove("alg");
        }
        k
    })
    .expect("public JWK");
    jws.verify(SigningAlg::ES256, &public).expect("the SET verifies with the published key");

    assert_eq!(jws.claims["iss"], ISSUER);
    assert_eq!(jws.claims["aud"], app.client_id.as_str());
    assert_eq!(jws.claims["jti"], "n-1");
    assert_eq!(jws.claims["toe"], 1_780_280_040);
    let n = &jws.claims["events"][EVENT_TYPE];
    assert_eq!(n["notificationId"], "n-1");
    assert_eq!(n["publisher"], json!({"name": "First National", "type": "DATA_PROVIDER"}));
    assert_eq!(n["subscriber"], json!({"name": "Budget App", "type": "DATA_RECIPIENT"}));
    assert_eq!(
        n["url"]["href"],
        format!("{ISSUER}/fdx/v6/accounts/acc-1/transactions?startTime=2026-06-01&endTime=2026-06-01")
    );
    assert_eq!(n["notificationPayload"]["customFields"]["name"], "CARD_NOT_PRESENT_FAR_FROM_HOME");
    gw.stop().await;
}

#[tokio::test]
async fn no_event_about_an_account_outside_the_consent_and_links_only_to_covered_data() {
    let dir = tempfile::tempdir().expect("dir");
    let gw = Gw::start(dir.path()).await;
    // No TRANSACTIONS: the RISK link to transactions is removed; the BALANCE link to the account stays.
    let app = App::new(&gw, "consent-cover", &["ACCOUNT_BASIC", "NOTIFICATIONS"]).await;
    assert_eq!(gw.bank_sends(&app.consent_id, risk("n-other", "acc-2")).await, Accepted::Filtered);
    assert_eq!(gw.bank_sends(&app.consent_id, balance("b-other", "acc-9")).await, Accepted::Filtered);
    assert_eq!(gw.bank_sends(&app.consent_id, risk("n-mine", "acc-1")).await, Accepted::New);
    assert_eq!(gw.bank_sends(&app.consent_id, balance("b-mine", "acc-1")).await, Accepted::New);

    let (status, page) = app.call(&gw, "GET", "/fdx/v6/notifications", None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let list = page["notifications"].as_array().expect("notifications");
    let ids: Vec<&str> = list.iter().filter_map(|n| n["notificationId"].as_str()).collect();
    assert_eq!(ids, ["n-mine", "b-mine"]);
    assert!(list[0].get("url").is_none(), "no TRANSACTIONS in the consent: no link to them: {}", list[0]);
    assert_eq!(list[1]["url"]["href"], format!("{ISSUER}/fdx/v6/accounts/acc-1"));

    // A consent without NOTIFICATIONS gets no RISK or BALANCE event at all.
    let other = App::new(&gw, "consent-no-notif", &["ACCOUNT_BASIC"]).await;
    assert_eq!(gw.bank_sends(&other.consent_id, risk("n-x", "acc-1")).await, Accepted::Filtered);
    // Another bank's consent is unknown to this bank.
    let n: Notification = serde_json::from_value(risk("n-y", "acc-1")).expect("notification");
    let refused = accept_bank_notification(&gw.state, &app.consent_id, "other-bank", n, Turn::unordered()).await;
    assert!(matches!(refused, Err(gateway::events::EventError::UnknownConsent(_))), "{refused:?}");
    gw.stop().await;
}

#[tokio::test]
async fn failures_are_retried_in_order_per_subscription_and_the_same_notification_is_delivered_once() {
    let dir = tempfile::tempdir().expect("dir");
    let gw = Gw::start(dir.path()).await;
    let app = App::new(&gw, "consent-order", &["ACCOUNT_BASIC", "NOTIFICATIONS"]).await;
    let server = MockServer::start().await;
    // The first two answers fail (500), then the receiver accepts.
    Mock::given(method("POST"))
        .and(path("/hooks"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST")).and(path("/hooks")).respond_with(ResponseTemplate::new(202)).mount(&server).await;
    app.subscribe(&gw, "RISK", "FRAUD", &format!("{}/hooks", server.uri())).await;

    assert_eq!(gw.bank_sends(&app.consent_id, risk("n-1", "acc-1")).await, Accepted::New);
    assert_eq!(gw.bank_sends(&app.consent_id, risk("n-1", "acc-1")).await, Accepted::Duplicate);
    assert_eq!(gw.bank_sends(&app.consent_id, risk("n-2", "acc-1")).await, Accepted::New);
    assert_eq!(gw.bank_sends(&app.consent_id, risk("n-3", "acc-1")).await, Accepted::New);
    eventually("three deliveries", || async { received(&server, "/hooks").await.len() >= 5 }).await;
    // n-1 is tried until it succeeds before n-2 is sent at all; the duplicate never goes out.
    assert_eq!(received(&server, "/hooks").await, ["n-1", "n-1", "n-1", "n-2", "n-3"]);
    gw.stop().await;
}

#[tokio::test]
async fn a_receiver_that_times_out_is_retried() {
    let dir = tempfile::tempdir().expect("dir");
    let gw = Gw::start(dir.path()).await;
    let app = App::new(&gw, "consent-timeout", &["ACCOUNT_BASIC", "NOTIFICATIONS"]).await;
    let server = MockServer::start().await;
    // First answer later than the 300 ms attempt timeout.
    Mock::given(method("POST"))
        .and(path("/slow"))
        .respond_with(ResponseTemplate::new(202).set_delay(StdDuration::from_secs(2)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST")).and(path("/slow")).respond_with(ResponseTemplate::new(202)).mount(&server).await;
    let sub = app.subscribe(&gw, "RISK", "FRAUD", &format!("{}/slow", server.uri())).await;
    assert_eq!(gw.bank_sends(&app.consent_id, risk("n-1", "acc-1")).await, Accepted::New);
    assert_eq!(gw.bank_sends(&app.consent_id, risk("n-2", "acc-1")).await, Accepted::New);
    eventually("the retry after the timeout", || async { received(&server, "/slow").await.len() >= 3 }).await;
    assert_eq!(received(&server, "/slow").await, ["n-1", "n-1", "n-2"]);
    let (status, dead) = app.call(&gw, "GET", &format!("{SUBSCRIPTIONS}/{sub}/dead-letters"), None).await;
    assert_eq!(status, StatusCode::OK, "{dead}");
    assert_eq!(dead["deadLetters"], json!([]));
    gw.stop().await;
}

#[tokio::test]
async fn after_the_last_attempt_a_delivery_is_dead_and_readable_and_a_4xx_is_dead_at_once() {
    let dir = tempfile::tempdir().expect("dir");
    let gw = Gw::start(dir.path()).await;
    let app = App::new(&gw, "consent-dead", &["ACCOUNT_BASIC", "NOTIFICATIONS"]).await;
    let server = receiver("/down", 503).await;
    Mock::given(method("POST")).and(path("/gone")).respond_with(ResponseTemplate::new(410)).mount(&server).await;
    let down = app.subscribe(&gw, "RISK", "FRAUD", &format!("{}/down", server.uri())).await;
    let gone = app.subscribe(&gw, "BALANCE", "NEW_DATA", &format!("{}/gone", server.uri())).await;
    gw.bank_sends(&app.consent_id, risk("n-1", "acc-1")).await;
    gw.bank_sends(&app.consent_id, balance("b-1", "acc-1")).await;

    let dead_of = |sub: String| {
        let (gw, app) = (&gw, &app);
        async move {
            let (status, body) = app.call(gw, "GET", &format!("{SUBSCRIPTIONS}/{sub}/dead-letters"), None).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["deadLetters"].as_array().cloned().unwrap_or_default()
        }
    };
    eventually("n-1 dead", || async { !dead_of(down.clone()).await.is_empty() }).await;
    let dead = dead_of(down.clone()).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["notificationId"], "n-1");
    assert_eq!(dead[0]["attempts"], 3, "max_attempts");
    assert_eq!(dead[0]["lastError"], "the callback answered HTTP 503");
    assert_eq!(dead[0]["notification"]["notificationId"], "n-1");
    assert_eq!(received(&server, "/down").await.len(), 3);

    eventually("b-1 dead", || async { !dead_of(gone.clone()).await.is_empty() }).await;
    let dead = dead_of(gone.clone()).await;
    assert_eq!(dead[0]["attempts"], 1, "a 410 is not retried");
    assert_eq!(received(&server, "/gone").await, ["b-1"]);
    gw.stop().await;
}

#[tokio::test]
async fn a_restarted_gateway_resumes_pending_deliveries_without_losing_any() {
    let dir = tempfile::tempdir().expect("dir");
    let gw = Gw::start_with(dir.path(), patient()).await;
    let app = App::new(&gw, "consent-restart", &["ACCOUNT_BASIC", "NOTIFICATIONS"]).await;
    let server = receiver("/hooks", 500).await;
    app.subscribe(&gw, "RISK", "FRAUD", &format!("{}/hooks", server.uri())).await;
    gw.bank_sends(&app.consent_id, risk("n-1", "acc-1")).await;
    gw.bank_sends(&app.consent_id, risk("n-2", "acc-1")).await;
    eventually("a failed attempt", || async { !received(&server, "/hooks").await.is_empty() }).await;
    gw.stop().await;
    let before = received(&server, "/hooks").await;
    assert!(before.iter().all(|id| id == "n-1"), "n-2 waits behind n-1: {before:?}");

    // The receiver recovers; a new gateway on the same store takes over.
    server.reset().await;
    Mock::given(method("POST")).and(path("/hooks")).respond_with(ResponseTemplate::new(202)).mount(&server).await;
    let gw = Gw::start(dir.path()).await;
    eventually("both delivered after the restart", || async { received(&server, "/hooks").await.len() >= 2 }).await;
    assert_eq!(received(&server, "/hooks").await, ["n-1", "n-2"]);
    gw.stop().await;
}

#[tokio::test]
async fn a_revoked_consent_gets_nothing_more_not_even_queued_retries_but_the_news_of_its_revocation() {
    let dir = tempfile::tempdir().expect("dir");
    let gw = Gw::start_with(dir.path(), patient()).await;
    let app = App::new(&gw, "consent-revoked", &["ACCOUNT_BASIC", "NOTIFICATIONS"]).await;
    let server = receiver("/risk", 500).await;
    Mock::given(method("POST")).and(path("/revoked")).respond_with(ResponseTemplate::new(202)).mount(&server).await;
    app.subscribe(&gw, "RISK", "FRAUD", &format!("{}/risk", server.uri())).await;
    app.subscribe(&gw, "CONSENT_REVOKED", "CONSENT", &format!("{}/revoked", server.uri())).await;
    gw.bank_sends(&app.consent_id, risk("n-1", "acc-1")).await;
    eventually("a failed attempt", || async { !received(&server, "/risk").await.is_empty() }).await;

    gateway::revocation::revoke(&gw.state, &app.consent_id, RevocationReason::UserAction, Initiator::Bank, gw.now())
        .await
        .expect("revoked");
    let at_revocation = received(&server, "/risk").await.len();
    assert_eq!(gw.bank_sends(&app.consent_id, risk("n-2", "acc-1")).await, Accepted::Filtered);
    assert_eq!(gw.bank_sends(&app.consent_id, consent_revoked("r-1")).await, Accepted::New);
    eventually("the revocation news", || async { received(&server, "/revoked").await == ["r-1"] }).await;
    // Several retry periods (max_backoff 200 ms) pass: the queued retry of n-1 never goes out.
    let window = tokio::time::Instant::now() + StdDuration::from_millis(700);
    while tokio::time::Instant::now() < window {
        assert_eq!(received(&server, "/risk").await.len(), at_revocation, "a retry went out after revocation");
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    // The app itself can no longer read anything.
    let (status, _) = app.call(&gw, "GET", "/fdx/v6/notifications", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    gw.stop().await;
}

#[tokio::test]
async fn subscriptions_need_notifications_in_the_consent_and_stay_with_their_consent() {
    let dir = tempfile::tempdir().expect("dir");
    let gw = Gw::start(dir.path()).await;
    let without = App::new(&gw, "consent-plain", &["ACCOUNT_BASIC"]).await;
    let body = json!({"type": "RISK", "category": "FRAUD", "callbackUrl": "https://app.example/hooks",
        "subscriber": {"name": "x", "type": "DATA_RECIPIENT"}});
    let (status, headers, error) = without.call_full(&gw, "POST", SUBSCRIPTIONS, Some(body.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{error}");
    assert_eq!(error["code"], "403");
    assert!(error["debugMessage"].as_str().unwrap_or_default().contains("fdx:notifications:subscribe"));
    assert_eq!(
        headers.get("x-fapi-interaction-id").and_then(|v| v.to_str().ok()),
        Some("7a1c0e4e-2f43-4f3a-9a55-0c0e1b6f0d11")
    );
    let (status, _) = without.call(&gw, "GET", "/fdx/v6/notifications", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let app = App::new(&gw, "consent-subs", &["ACCOUNT_BASIC", "NOTIFICATIONS"]).await;
    for (wrong, why) in [
        (json!({"type": "RISK", "category": "NEW_DATA", "callbackUrl": "https://a.example/h"}), "pair"),
        (json!({"type": "CUSTOM", "category": "SECURITY", "callbackUrl": "https://a.example/h"}), "pair"),
        (json!({"type": "RISK", "category": "FRAUD", "callbackUrl": "http://a.example/h"}), "plain http"),
        (json!({"type": "RISK", "category": "FRAUD", "callbackUrl": "not a url"}), "url"),
        (json!({"type": "RISK", "category": "FRAUD"}), "no callback"),
    ] {
        let (status, error) = app.call(&gw, "POST", SUBSCRIPTIONS, Some(wrong)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}: {error}");
        assert_eq!(error["code"], "401", "{why}");
    }
    let (status, created) = app.call(&gw, "POST", SUBSCRIPTIONS, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["subscriber"], json!({"name": "Budget App", "type": "DATA_RECIPIENT"}));
    assert_eq!(created["effectiveDate"], "2026-06-01");
    assert_eq!(created["type"], "RISK");
    let id = created["subscriptionId"].as_str().expect("id").to_owned();
    let (status, read) = app.call(&gw, "GET", &format!("{SUBSCRIPTIONS}/{id}"), None).await;
    assert_eq!((status, &read), (StatusCode::OK, &created));

    // Another consent of the same bank does not see it.
    let stranger = App::new(&gw, "consent-stranger", &["ACCOUNT_BASIC", "NOTIFICATIONS"]).await;
    let (status, error) = stranger.call(&gw, "GET", &format!("{SUBSCRIPTIONS}/{id}"), None).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::NOT_FOUND, Some("1107")));
    let (status, _) = stranger.call(&gw, "DELETE", &format!("{SUBSCRIPTIONS}/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _) = app.call(&gw, "DELETE", &format!("{SUBSCRIPTIONS}/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.call(&gw, "GET", &format!("{SUBSCRIPTIONS}/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    gw.stop().await;
}

#[tokio::test]
async fn polling_lists_unacknowledged_notifications_in_pages_until_acknowledged() {
    let dir = tempfile::tempdir().expect("dir");
    let gw = Gw::start(dir.path()).await;
    let app = App::new(&gw, "consent-poll", &["ACCOUNT_BASIC", "NOTIFICATIONS"]).await;
    for id in ["p-1", "p-2", "p-3"] {
        assert_eq!(gw.bank_sends(&app.consent_id, risk(id, "acc-1")).await, Accepted::New);
    }
    let (status, page) = app.call(&gw, "GET", "/fdx/v6/notifications?limit=2", None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["page"]["totalElements"], 3);
    let ids = |page: &Value| -> Vec<String> {
        page["notifications"]
            .as_array()
            .map(|l| l.iter().filter_map(|n| n["notificationId"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    assert_eq!(ids(&page), ["p-1", "p-2"]);
    let next = page["links"]["next"]["href"].as_str().expect("next link");
    let next_path = next.strip_prefix(ISSUER).expect("a gateway link");
    let (status, second) = app.call(&gw, "GET", next_path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&second), ["p-3"]);
    assert!(second["links"].get("next").is_none());

    let acks = json!({"notificationIds": ["p-1", "p-3", "unknown-id"]});
    let (status, body) = app.call(&gw, "POST", "/fdx/v6/notifications/acknowledgements", Some(acks)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, left) = app.call(&gw, "GET", "/fdx/v6/notifications", None).await;
    assert_eq!(ids(&left), ["p-2"]);
    assert_eq!(left["page"]["totalElements"], 1);
    let (status, _) = app.call(&gw, "GET", "/fdx/v6/notifications?limit=0", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    gw.stop().await;
}
