//! The sandbox-only consent shortcut (`POST /sandbox/consents`) as far as it can be driven without a bank (the
//! gateway never depends on `mock_bank`; the root e2e tests run it against real banks): it exists only with the
//! sandbox profile, serves sandbox clients only, and answers every bad request with an OAuth error JSON, never a
//! 500. Driven through `app::router` with `oneshot`, on an in-memory store and a manual clock.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use certs::serve::PeerCertificates;
use gateway::app::{AppState, router};
use gateway::banks::{BankClient, BankClientSettings, BankEntry, BankTimeouts};
use gateway::config::{GatewayConfig, ManualClock};
use gateway::pages::{BankRegistry, bank_redirect_uri};
use gateway::server::build_state;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tower::ServiceExt;

const ISSUER: &str = "https://gateway.bankgate.test";
const PATH: &str = "/sandbox/consents";
const REDIRECT: &str = "https://budget.example/callback";

struct Gateway {
    state: AppState,
    pki: certs::Pki,
}

impl Gateway {
    /// A gateway whose one bank, `deadbank`, listens nowhere (127.0.0.1 port 1 refuses connections).
    async fn new(sandbox_on: bool) -> Self {
        let clock = Arc::new(ManualClock::new(OffsetDateTime::from_unix_timestamp(1_780_272_000).expect("instant")));
        let mut config = GatewayConfig::sandbox(([127, 0, 0, 1], 0).into());
        config.allow_sandbox_profile = sandbox_on;
        let state = build_state(config, ISSUER.into(), clock).await.expect("state");
        let pki = certs::Pki::generate().expect("pki");
        let identity = pki.issue_client("gateway-client").expect("identity");
        let settings = BankClientSettings {
            client_id: "gateway-client".into(),
            redirect_uri: bank_redirect_uri(ISSUER, "deadbank"),
            timeouts: BankTimeouts::default(),
            breaker: Default::default(),
        };
        let entry =
            BankEntry::new("deadbank", "Dead Bank", "https://127.0.0.1:1", "https://127.0.0.1:1").expect("bank");
        let bank = BankClient::new(entry, &pki.ca_der(), &identity, &settings).expect("bank client");
        Self { state: state.with_banks(BankRegistry::new().with(bank)), pki }
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, Option<String>, Value) {
        let response = router(self.state.clone()).oneshot(request).await.expect("infallible");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (parts.status, content_type, value)
    }

    async fn register(&self, metadata: Value) -> Value {
        let request = Request::post("/register")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(metadata.to_string()))
            .expect("request");
        let (status, _, body) = self.send(request).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// A sandbox client_secret_basic client; returns its id and its `Authorization: Basic` value.
    async fn sandbox_client(&self) -> (String, String) {
        let info = self
            .register(json!({"redirect_uris": [REDIRECT], "profile": "sandbox",
                "token_endpoint_auth_method": "client_secret_basic",
                "purposes": ["personal_finance_management", "targeted_advertising"]}))
            .await;
        let (id, secret) = (info["client_id"].as_str().expect("id"), info["client_secret"].as_str().expect("secret"));
        (id.to_owned(), format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))))
    }

    async fn shortcut(&self, authorization: Option<&str>, content_type: &str, body: String) -> (StatusCode, Value) {
        let mut request = Request::post(PATH).header(header::CONTENT_TYPE, content_type);
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        let (status, _, body) = self.send(request.body(Body::from(body)).expect("request")).await;
        (status, body)
    }

    async fn json(&self, authorization: &str, body: Value) -> (StatusCode, Value) {
        self.shortcut(Some(authorization), "application/json", body.to_string()).await
    }
}

fn login(bank: &str) -> Value {
    json!({"bank": bank, "username": "user_good", "password": "pass_good"})
}

fn error(reply: &(StatusCode, Value)) -> (StatusCode, &str) {
    (reply.0, reply.1["error"].as_str().unwrap_or("<no OAuth error>"))
}

#[tokio::test]
async fn the_shortcut_exists_only_with_the_sandbox_profile() {
    let off = Gateway::new(false).await;
    let (status, content_type, body) = off
        .send(Request::post(PATH).header(header::CONTENT_TYPE, "application/json").body(Body::from("{}")).unwrap())
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type.as_deref(), Some("application/problem+json"), "the fallback 404: {body}");
    let (_, _, metadata) =
        off.send(Request::get("/.well-known/oauth-authorization-server").body(Body::empty()).unwrap()).await;
    assert!(metadata.get("bankgate_sandbox_consents_endpoint").is_none(), "{metadata}");

    let on = Gateway::new(true).await;
    let (_, _, metadata) =
        on.send(Request::get("/.well-known/oauth-authorization-server").body(Body::empty()).unwrap()).await;
    assert_eq!(metadata["bankgate_sandbox_consents_endpoint"], format!("{ISSUER}{PATH}"));
}

#[tokio::test]
async fn only_authenticated_sandbox_clients_may_use_it() {
    let gw = Gateway::new(true).await;
    // No credentials at all.
    let reply = gw.shortcut(None, "application/json", login("deadbank").to_string()).await;
    assert_eq!(error(&reply), (StatusCode::UNAUTHORIZED, "invalid_client"));
    // A wrong secret.
    let (id, _) = gw.sandbox_client().await;
    let wrong = format!("Basic {}", STANDARD.encode(format!("{id}:wrong")));
    assert_eq!(error(&gw.json(&wrong, login("deadbank")).await), (StatusCode::UNAUTHORIZED, "invalid_client"));

    // A fapi2 client, authenticated by its certificate (client_id in the JSON body): 403 unauthorized_client.
    let name = "fapi-app";
    let info = gw
        .register(json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "tls_client_auth",
            "tls_client_auth_san_uri": certs::client_uri(name), "purposes": ["personal_finance_management"]}))
        .await;
    let client_id = info["client_id"].as_str().expect("id");
    let identity = gw.pki.issue_client(name).expect("client cert");
    let mut body = login("deadbank");
    body["client_id"] = json!(client_id);
    let mut request = Request::post(PATH)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    request.extensions_mut().insert(PeerCertificates::new(vec![identity.cert_der()]));
    let (status, _, reply) = gw.send(request).await;
    assert_eq!((status, reply["error"].as_str()), (StatusCode::FORBIDDEN, Some("unauthorized_client")), "{reply}");
}

#[tokio::test]
async fn bad_requests_are_oauth_errors_never_500() {
    let gw = Gateway::new(true).await;
    let (client_id, auth) = gw.sandbox_client().await;
    let bad = |reply: (StatusCode, Value)| {
        assert_eq!(error(&reply), (StatusCode::BAD_REQUEST, "invalid_request"), "{}", reply.1);
        reply.1["error_description"].as_str().unwrap_or_default().to_owned()
    };
    bad(gw.shortcut(Some(&auth), "application/json", "{not json".into()).await);
    bad(gw.shortcut(Some(&auth), "application/json", "[1, 2]".into()).await);
    bad(gw.shortcut(Some(&auth), "application/x-www-form-urlencoded", "bank=deadbank".into()).await);
    let mut extra = login("deadbank");
    extra["color"] = json!("blue");
    assert!(bad(gw.json(&auth, extra).await).contains("color"));
    let mut mistyped = login("deadbank");
    mistyped["password"] = json!(12345);
    let description = bad(gw.json(&auth, mistyped).await);
    assert!(description.contains("password") && !description.contains("12345"), "{description}");
    assert!(bad(gw.json(&auth, json!({"bank": "deadbank", "username": "user_good"})).await).contains("password"));

    // An unknown bank names the known ones.
    let description = bad(gw.json(&auth, login("nowhere")).await);
    assert!(description.contains("deadbank"), "{description}");

    // authorization_details is validated as at PAR (RFC 9396 §5).
    let mut details = login("deadbank");
    details["authorization_details"] = json!([{"type": "fdx_consent", "dataClusters": ["NOPE"]}]);
    assert_eq!(error(&gw.json(&auth, details).await), (StatusCode::BAD_REQUEST, "invalid_authorization_details"));

    // A secondary use without the explicit opt-in is refused before any bank is asked.
    let mut advertising = login("deadbank");
    advertising["authorization_details"] = json!([{"type": "fdx_consent", "dataClusters": ["TRANSACTIONS"],
        "durationType": "TIME_BOUND", "durationPeriod": 30, "lookbackPeriod": 90, "purposes": ["targeted_advertising"]}]);
    assert!(bad(gw.json(&auth, advertising.clone()).await).contains("secondary_use_opt_in"));

    // Past every check, the bank is unreachable: 503 temporarily_unavailable, and no consent is left behind.
    advertising["secondary_use_opt_in"] = json!(true);
    let reply = gw.json(&auth, advertising).await;
    assert_eq!(error(&reply), (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"), "{}", reply.1);
    let reply = gw.json(&auth, login("deadbank")).await;
    assert_eq!(error(&reply), (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"));
    assert!(gw.state.store.consents_for_client(&client_id).await.expect("store").is_empty());
}
