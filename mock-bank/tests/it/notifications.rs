//! FDX Event Notifications at the bank: subscriptions over the FDX API, the events the bank raises (fraud, balance,
//! consent revoked, planned outage) and their delivery to a real mutual-TLS receiver standing in for the gateway:
//! signed (JWS ES256) with the key of the client certificate the bank presents, shaped as the FDX 6.2
//! `Notificationentity`, in order, retried on 5xx, not retried on 4xx.

use crate::fdx_validator::{FdxDocument, Validator};
use crate::support::{self, Consent, Reply, TestBank};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::{Extension, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mock_bank::events::detect::{self, Span};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const BANK: &str = "continental";
const SUBSCRIBER: &str = r#"{"name": "bankgate", "type": "DATA_ACCESS_PLATFORM"}"#;
/// Longest wait for the bank's outbox to empty.
const IDLE: Duration = Duration::from_secs(15);

// ---- a receiver standing in for the gateway ----------------------------------------------------------------------

/// One POST the receiver got.
#[derive(Debug, Clone)]
struct Received {
    /// The last path segment (`/cb/{name}`).
    name: String,
    peer_cn: Option<String>,
    peer_der: Vec<u8>,
    headers: HeaderMap,
    body: String,
}

#[derive(Default)]
struct Shared {
    got: Mutex<Vec<Received>>,
    /// Statuses to answer, in order; 202 once empty.
    script: Mutex<VecDeque<u16>>,
}

struct Receiver {
    base: String,
    shared: Arc<Shared>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn record(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    Extension(peer): Extension<certs::serve::PeerCertificates>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let received = Received {
        name,
        peer_cn: peer.leaf_common_name().map(str::to_owned),
        peer_der: peer.leaf().map(|d| d.to_vec()).unwrap_or_default(),
        headers,
        body,
    };
    shared.got.lock().unwrap().push(received);
    let status = shared.script.lock().unwrap().pop_front().unwrap_or(202);
    StatusCode::from_u16(status).unwrap()
}

impl Receiver {
    /// An HTTPS server on 127.0.0.1 requiring a client certificate of `pki`'s CA, recording every POST.
    async fn start(pki: &certs::Pki) -> Receiver {
        let identity = pki.issue_server("receiver").unwrap();
        let tls = certs::server_config(&identity, &pki.ca_der(), certs::ClientAuth::Required).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("https://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let shared = Arc::new(Shared::default());
        let router = Router::new().route("/cb/{name}", axum::routing::post(record)).with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(certs::serve::serve_tls(listener, tls, router, async move {
            let _ = stopped.await;
        }));
        Receiver { base, shared, _stop: stop }
    }

    fn url(&self, name: &str) -> String {
        format!("{}/cb/{name}", self.base)
    }

    fn answer_with(&self, statuses: &[u16]) {
        self.shared.script.lock().unwrap().extend(statuses);
    }

    fn got(&self) -> Vec<Received> {
        self.shared.got.lock().unwrap().clone()
    }

    /// What arrived, each lane (`x-bankgate-lane`) in its `x-bankgate-sequence` order (a lane's requests overlap, so
    /// arrival order may differ): lanes in the order they first arrived, a retry after its first attempt.
    fn in_lane_order(&self) -> Vec<Received> {
        let got = self.got();
        let mut lanes: Vec<String> = Vec::new();
        let mut keyed: Vec<(usize, u64, usize, Received)> = Vec::new();
        for (arrival, r) in got.into_iter().enumerate() {
            let lane = r.headers.get("x-bankgate-lane").expect("a lane header").to_str().unwrap().to_owned();
            let seq: u64 =
                r.headers.get("x-bankgate-sequence").expect("a sequence header").to_str().unwrap().parse().unwrap();
            let index = lanes.iter().position(|l| *l == lane).unwrap_or_else(|| {
                lanes.push(lane);
                lanes.len() - 1
            });
            keyed.push((index, seq, arrival, r));
        }
        keyed.sort_by_key(|(lane, seq, arrival, _)| (*lane, *seq, *arrival));
        keyed.into_iter().map(|(_, _, _, r)| r).collect()
    }
}

// ---- the bank ----------------------------------------------------------------------------------------------------

struct Setup {
    bank: TestBank,
    receiver: Receiver,
    identity: Arc<certs::Identity>,
}

async fn setup() -> Setup {
    certs::install_crypto_provider();
    let pki = certs::Pki::generate().unwrap();
    let identity = Arc::new(pki.issue_client(&format!("bank-{BANK}")).unwrap());
    let bank = support::bank_with(BANK, None, Some((identity.clone(), pki.ca_der()))).await;
    let receiver = Receiver::start(&pki).await;
    Setup { bank, receiver, identity }
}

impl Setup {
    async fn idle(&self) {
        assert!(self.bank.state.notifier.wait_idle(IDLE).await, "the outbox empties: {:?}", self.counts());
    }

    fn counts(&self) -> mock_bank::events::outbox::OutboxCounts {
        self.bank.state.notifier.counts()
    }

    /// Subscribe `consent` to `kind` at the receiver's `/cb/{name}`; returns the created entity.
    async fn subscribe(&self, consent: &Consent, kind: &str, category: &str, name: &str) -> Value {
        let body = format!(
            r#"{{"type": "{kind}", "category": "{category}", "callbackUrl": "{}", "subscriber": {SUBSCRIBER}}}"#,
            self.receiver.url(name)
        );
        let reply =
            fdx(&self.bank, Method::POST, "/fdx/v6/notification-subscriptions", &consent.access_token, Some(body))
                .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        reply.json()
    }
}

/// An FDX request with the consent's token, over the gateway's certificate.
async fn fdx(bank: &TestBank, method: Method, uri: &str, token: &str, body: Option<String>) -> Reply {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header("x-fapi-interaction-id", "c770aef3-6784-41f7-8e0e-ff5f97bddb3a");
    let mut request = match body {
        Some(body) => request.header(header::CONTENT_TYPE, "application/json").body(Body::from(body)),
        None => request.body(Body::empty()),
    }
    .unwrap();
    request.extensions_mut().insert(bank.gateway_cert.clone());
    support::send(&bank.fdx, request).await
}

async fn admin(bank: &TestBank, method: Method, uri: &str, body: Option<Value>) -> Reply {
    support::admin(bank, method, uri, body).await
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap()
}

/// The JWS of a received POST, checked: compact serialization, ES256 header naming the presented certificate, and
/// a signature that verifies with that certificate's public key. Returns the payload.
fn verified_payload(received: &Received) -> Value {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
    let parts: Vec<&str> = received.body.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS: {}", received.body);
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "JOSE");
    let thumbprint = {
        use sha2::Digest as _;
        URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&received.peer_der))
    };
    assert_eq!(header["x5t#S256"], thumbprint.as_str(), "the header names the certificate the connection presented");
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    let signed = format!("{}.{}", parts[0], parts[1]);
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public_point(&received.peer_der))
        .verify(signed.as_bytes(), &signature)
        .expect("the signature verifies with the presented certificate's key");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
}

/// The uncompressed P-256 point of a certificate: the BIT STRING after the curve OID in its SubjectPublicKeyInfo.
fn public_point(der: &[u8]) -> Vec<u8> {
    let oid = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let at = der.windows(oid.len()).position(|w| w == oid).expect("a P-256 key") + oid.len();
    assert_eq!(&der[at..at + 4], &[0x03, 0x42, 0x00, 0x04]);
    der[at + 3..at + 3 + 65].to_vec()
}

/// Errors of `value` against the FDX 6.2 schema `name`.
fn schema_errors(doc: &FdxDocument, name: &str, value: &Value) -> Vec<String> {
    let schema = doc.schema_named(name).unwrap_or_else(|| panic!("{name} in the FDX document"));
    Validator::new(doc).errors(schema, value, "$")
}

async fn account_id(bank: &TestBank, consent: &Consent, account_type: &str) -> String {
    support::account_of(bank, consent, account_type).await.unwrap_or_else(|| panic!("a {account_type} account"))
}

// ---- tests -------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn raised_fraud_reaches_the_subscriber_signed_with_the_bank_certificate() {
    let s = setup().await;
    let doc = FdxDocument::load();
    let consent = support::good_consent(&s.bank).await;
    let created = s.subscribe(&consent, "RISK", "FRAUD", "good").await;
    assert!(schema_errors(&doc, "NotificationSubscriptionentity", &created).is_empty(), "{created}");
    assert_eq!(created["type"], "RISK");
    assert_eq!(created["category"], "FRAUD");
    assert_eq!(created["callbackUrl"], s.receiver.url("good"));
    assert_eq!(created["subscriber"], serde_json::from_str::<Value>(SUBSCRIBER).unwrap());
    assert_eq!(created["effectiveDate"], "2026-11-18", "the simulated date");
    let subscription_id = created["subscriptionId"].as_str().unwrap();
    assert_eq!(subscription_id.len(), 36);

    let account = account_id(&s.bank, &consent, "CHECKING").await;
    let raised = admin(&s.bank, Method::POST, &format!("/admin/accounts/{account}/fraud"), None).await;
    assert_eq!(raised.status, StatusCode::CREATED, "{}", raised.text());
    s.idle().await;

    let got = s.receiver.got();
    assert_eq!(got.len(), 1, "one notification: {got:?}");
    let received = &got[0];
    assert_eq!(received.name, "good");
    assert_eq!(received.peer_cn.as_deref(), Some("bank-continental"));
    assert_eq!(received.peer_der, s.identity.cert_der().to_vec());
    assert_eq!(received.headers.get(header::CONTENT_TYPE).unwrap(), "application/jose");
    let interaction = received.headers.get("x-fapi-interaction-id").unwrap().to_str().unwrap();
    assert_eq!(interaction.len(), 36, "a UUID: {interaction}");
    let payload = verified_payload(received);
    let errors = schema_errors(&doc, "Notificationentity", &payload);
    assert!(errors.is_empty(), "{errors:?}\n{payload:#}");
    assert_eq!(payload["type"], "RISK");
    assert_eq!(payload["category"], "FRAUD");
    assert_eq!(payload["severity"], "ALERT");
    assert_eq!(payload["priority"], "HIGH");
    assert_eq!(payload["sentOn"], "2026-11-18T12:00:00Z");
    assert_eq!(payload["notificationId"].as_str().unwrap().len(), 36);
    assert_eq!(payload["publisher"], json!({"name": s.bank.state.profile.display_name, "type": "DATA_PROVIDER"}));
    assert_eq!(payload["subscriber"], serde_json::from_str::<Value>(SUBSCRIBER).unwrap());
    let body = &payload["notificationPayload"];
    assert_eq!(body["id"], account.as_str());
    assert_eq!(body["idType"], "ACCOUNT");
    assert_eq!(body["customFields"]["name"], "CARD_NOT_PRESENT_FAR_FROM_HOME", "{body}");
    assert!(body["customFields"]["value"].as_str().unwrap().contains("$899.99"), "{body}");
    assert_eq!(
        payload["url"],
        json!({
            "href": format!("https://127.0.0.1:7444/fdx/v6/accounts/{account}/transactions?startTime=2026-11-18&endTime=2026-11-18"),
            "action": "GET",
            "rel": "transactions",
            "types": ["application/json"],
        })
    );
    let counts = s.counts();
    assert_eq!((counts.delivered, counts.attempts, counts.dropped, counts.rejected), (1, 1, 0, 0));
}

#[tokio::test]
async fn fraud_raised_twice_at_the_same_instant_alerts_twice_not_three_times() {
    let s = setup().await;
    let consent = support::good_consent(&s.bank).await;
    s.subscribe(&consent, "RISK", "FRAUD", "good").await;
    let account = account_id(&s.bank, &consent, "CHECKING").await;
    for cents in [1_500, 2_500] {
        let body = json!({"amountCents": cents});
        let raised = admin(&s.bank, Method::POST, &format!("/admin/accounts/{account}/fraud"), Some(body)).await;
        assert_eq!(raised.status, StatusCode::CREATED, "{}", raised.text());
    }
    s.idle().await;
    let values: Vec<String> = s
        .receiver
        .got()
        .iter()
        .map(|r| verified_payload(r)["notificationPayload"]["customFields"]["value"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(values.len(), 2, "{values:?}");
    assert!(values[0].contains("$15.00") && values[1].contains("$25.00"), "{values:?}");
}

#[tokio::test]
async fn moving_the_clock_over_a_suspicious_generated_charge_raises_risk() {
    let s = setup().await;
    let start = support::START;
    let horizon = start + time::Duration::days(60);
    // The first regular customer whose accounts hold a suspicious charge in the next 60 simulated days.
    let (index, first) = (7..support::CUSTOMERS)
        .find_map(|index| {
            let ledger = s.bank.state.ledger.generate(index, horizon.date() + time::Duration::days(1))?;
            let home = ledger.customer.address.region.clone();
            let span = Span { after: start, until: horizon };
            ledger
                .accounts
                .iter()
                .flat_map(|a| detect::risk_alerts(a, &home, span))
                .min_by_key(|a| a.at)
                .map(|alert| (index, alert))
        })
        .expect("a generated suspicious charge within 60 days among the test bank's customers");
    let consent = support::consent(&s.bank, &format!("customer{index}"), support::ALL_SCOPES, &[]).await;
    s.subscribe(&consent, "RISK", "FRAUD", "risk").await;
    s.subscribe(&consent, "BALANCE", "NEW_DATA", "balance").await;
    // Just before the charge: nothing yet.
    let before = first.at - time::Duration::seconds(1);
    let moved = admin(&s.bank, Method::POST, "/admin/clock", Some(json!({"set": rfc3339(before)}))).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text());
    s.idle().await;
    assert!(s.receiver.got().iter().all(|r| r.name == "balance"), "no RISK before the charge");
    let moved = admin(&s.bank, Method::POST, "/admin/clock", Some(json!({"advance": "1s"}))).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text());
    s.idle().await;
    let risks: Vec<Value> = s.receiver.got().iter().filter(|r| r.name == "risk").map(verified_payload).collect();
    assert!(!risks.is_empty(), "the clock move raised RISK");
    assert_eq!(risks[0]["type"], "RISK");
    assert_eq!(risks[0]["notificationPayload"]["id"], first.account_id.as_str());
    assert_eq!(risks[0]["notificationPayload"]["customFields"]["name"], first.reason.code());
    assert_eq!(risks[0]["sentOn"], rfc3339(first.at));
}

#[tokio::test]
async fn low_balance_and_large_deposit_raise_balance_in_order() {
    let s = setup().await;
    let consent = support::good_consent(&s.bank).await;
    let account = account_id(&s.bank, &consent, "CHECKING").await;
    let inject = |cents: i64, direction: &str| json!({"amountCents": cents, "direction": direction, "description": "TEST TRANSFER"});
    let uri = format!("/admin/accounts/{account}/transactions");
    let available = admin(&s.bank, Method::GET, &format!("/admin/accounts/{account}"), None).await.json()["balances"]
        ["availableCents"]
        .as_i64()
        .unwrap();
    if available < 30_000 {
        let topped = admin(&s.bank, Method::POST, &uri, Some(inject(30_000 - available, "credit"))).await;
        assert_eq!(topped.status, StatusCode::CREATED, "{}", topped.text());
    }
    let available = available.max(30_000);
    s.subscribe(&consent, "BALANCE", "NEW_DATA", "balance").await;

    let spent = admin(&s.bank, Method::POST, &uri, Some(inject(available - 5_000, "debit"))).await;
    assert_eq!(spent.status, StatusCode::CREATED, "{}", spent.text());
    let paid = admin(&s.bank, Method::POST, &uri, Some(inject(600_000, "credit"))).await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.text());
    s.idle().await;

    let got: Vec<Value> = s.receiver.in_lane_order().iter().map(verified_payload).collect();
    let reasons: Vec<&str> =
        got.iter().map(|p| p["notificationPayload"]["customFields"]["name"].as_str().unwrap()).collect();
    assert_eq!(reasons, ["LOW_BALANCE", "LARGE_DEPOSIT"], "in order");
    assert!(got.iter().all(|p| p["type"] == "BALANCE" && p["category"] == "NEW_DATA" && p["priority"] == "MEDIUM"));
    assert_eq!((got[0]["severity"].as_str(), got[1]["severity"].as_str()), (Some("WARNING"), Some("NOTICE")));
    assert!(got[0]["notificationPayload"]["customFields"]["value"].as_str().unwrap().contains("$50.00"));
    assert_eq!(got[1]["url"]["href"], format!("https://127.0.0.1:7444/fdx/v6/accounts/{account}"));
    assert_eq!(got[1]["url"]["rel"], "account");
    let doc = FdxDocument::load();
    for payload in &got {
        assert!(schema_errors(&doc, "Notificationentity", payload).is_empty());
    }
}

#[tokio::test]
async fn revoking_at_the_bank_sends_consent_revoked_then_nothing_more() {
    let s = setup().await;
    let consent = support::good_consent(&s.bank).await;
    s.subscribe(&consent, "CONSENT_REVOKED", "CONSENT", "consent").await;
    let risk = s.subscribe(&consent, "RISK", "FRAUD", "risk").await;
    let revoked = admin(&s.bank, Method::POST, &format!("/admin/consents/{}/revoke", consent.consent_id), None).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text());
    s.idle().await;
    let got = s.receiver.got();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].name, "consent");
    let payload = verified_payload(&got[0]);
    assert_eq!(payload["type"], "CONSENT_REVOKED");
    assert_eq!(payload["category"], "CONSENT");
    assert_eq!((payload["severity"].as_str(), payload["priority"].as_str()), (Some("WARNING"), Some("HIGH")));
    assert_eq!(payload["notificationPayload"]["id"], consent.consent_id.as_str());
    assert_eq!(payload["notificationPayload"]["idType"], "CONSENT");
    assert!(payload.get("url").is_none());

    // The consent's subscriptions ended; no more events about its accounts.
    let listed = admin(&s.bank, Method::GET, "/admin/notifications/subscriptions", None).await.json();
    assert_eq!(listed["subscriptions"], json!([]));
    let account = &consent.account_ids[0];
    let raised = admin(&s.bank, Method::POST, &format!("/admin/accounts/{account}/fraud"), None).await;
    assert!(raised.status.is_success() || raised.status == StatusCode::CONFLICT, "{}", raised.text());
    let published =
        admin(&s.bank, Method::POST, "/admin/notifications", Some(json!({"type": "RISK", "accountId": account}))).await;
    assert_eq!(published.status, StatusCode::ACCEPTED);
    assert_eq!(published.json()["queued"], 0);
    s.idle().await;
    assert_eq!(s.receiver.got().len(), 1);
    let id = risk["subscriptionId"].as_str().unwrap();
    let gone =
        fdx(&s.bank, Method::GET, &format!("/fdx/v6/notification-subscriptions/{id}"), &consent.access_token, None)
            .await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_scheduled_maintenance_window_is_announced_once_to_every_outage_subscriber() {
    let s = setup().await;
    let good = support::good_consent(&s.bank).await;
    let other = support::consent(&s.bank, "customer9", support::ALL_SCOPES, &[]).await;
    s.subscribe(&good, "PLANNED_OUTAGE", "MAINTENANCE", "good").await;
    s.subscribe(&other, "PLANNED_OUTAGE", "MAINTENANCE", "other").await;
    s.subscribe(&other, "RISK", "FRAUD", "other-risk").await;
    let rules = json!({"faults": [{
        "endpoint": "*",
        "maintenanceFrom": "2026-11-19T02:00:00Z",
        "maintenanceUntil": "2026-11-19T04:00:00Z",
    }]});
    let set = admin(&s.bank, Method::PUT, "/admin/faults", Some(rules.clone())).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    assert_eq!(set.json()["faults"][0]["maintenanceFrom"], "2026-11-19T02:00:00Z");
    s.idle().await;
    let mut got = s.receiver.got();
    got.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(got.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["good", "other"]);
    for received in &got {
        let payload = verified_payload(received);
        assert_eq!(payload["type"], "PLANNED_OUTAGE");
        assert_eq!(payload["category"], "MAINTENANCE");
        assert_eq!((payload["severity"].as_str(), payload["priority"].as_str()), (Some("INFO"), Some("LOW")));
        let body = &payload["notificationPayload"];
        assert_eq!(body["idType"], "MAINTENANCE");
        assert!(body["id"].as_str().unwrap().starts_with("mw-"));
        assert_eq!(
            body["customFields"],
            json!({"name": "MAINTENANCE_WINDOW", "value": "2026-11-19T02:00:00Z/2026-11-19T04:00:00Z"})
        );
    }
    // The window is in the future: the API still answers; the same rules again announce nothing new.
    let accounts = support::fdx_get(&s.bank, "/fdx/v6/accounts", &good.access_token).await;
    assert_eq!(accounts.status, StatusCode::OK);
    assert_eq!(admin(&s.bank, Method::PUT, "/admin/faults", Some(rules)).await.status, StatusCode::OK);
    s.idle().await;
    assert_eq!(s.receiver.got().len(), 2);
    // Inside the window, the API is in maintenance.
    admin(&s.bank, Method::POST, "/admin/clock", Some(json!({"set": "2026-11-19T03:00:00Z"}))).await;
    let during = support::fdx_get(&s.bank, "/fdx/v6/accounts", &good.access_token).await;
    assert_eq!(during.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn the_weekly_maintenance_window_is_announced_the_day_before_once() {
    let s = setup().await;
    let window = s.bank.state.profile.quirks.maintenance;
    let good = support::good_consent(&s.bank).await;
    let other = support::consent(&s.bank, "customer9", support::ALL_SCOPES, &[]).await;
    s.subscribe(&good, "PLANNED_OUTAGE", "MAINTENANCE", "outage").await;
    s.subscribe(&other, "RISK", "FRAUD", "other-risk").await;
    let set_clock =
        |at: OffsetDateTime| admin(&s.bank, Method::POST, "/admin/clock", Some(json!({"set": rfc3339(at)})));
    let outages = || s.receiver.got().iter().filter(|r| r.name == "outage").map(verified_payload).collect::<Vec<_>>();
    // The next window whose announcement (24 h of simulated time before it starts) still lies ahead.
    let now = s.bank.state.clock.now();
    let mut start = window.latest_start_at_or_before(now + time::Duration::days(1));
    while start - time::Duration::days(1) <= now {
        start += time::Duration::weeks(1);
    }
    let end = start + window.length();

    // Up to a minute before the announcement is due: nothing.
    assert_eq!(set_clock(start - time::Duration::hours(24) - time::Duration::minutes(1)).await.status, StatusCode::OK);
    s.idle().await;
    assert!(outages().is_empty(), "not announced yet");
    // The day before the window: announced, to the PLANNED_OUTAGE subscriber only.
    assert_eq!(set_clock(start - time::Duration::hours(23)).await.status, StatusCode::OK);
    s.idle().await;
    let got = outages();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0]["type"].as_str(), got[0]["category"].as_str()), (Some("PLANNED_OUTAGE"), Some("MAINTENANCE")));
    assert_eq!((got[0]["severity"].as_str(), got[0]["priority"].as_str()), (Some("INFO"), Some("LOW")));
    assert_eq!(got[0]["sentOn"], rfc3339(start - time::Duration::hours(23)), "the simulated now");
    let payload = &got[0]["notificationPayload"];
    assert_eq!(payload["idType"], "MAINTENANCE");
    assert!(payload["id"].as_str().unwrap().starts_with("mw-"), "{payload}");
    let value = format!("{}/{}", rfc3339(start), rfc3339(end));
    assert_eq!(payload["customFields"], json!({"name": "MAINTENANCE_WINDOW", "value": value}));
    let others = s.receiver.got().into_iter().filter(|r| r.name != "outage").map(|r| verified_payload(&r));
    assert!(others.into_iter().all(|n| n["type"] == "RISK"), "no outage news to the RISK-only consent");
    // Into the window and past it: no second announcement of the same window.
    assert_eq!(set_clock(start + time::Duration::minutes(30)).await.status, StatusCode::OK);
    assert_eq!(set_clock(end + time::Duration::hours(1)).await.status, StatusCode::OK);
    s.idle().await;
    assert_eq!(outages().len(), 1);
    // A week on, the next window is announced the day before it.
    assert_eq!(set_clock(start + time::Duration::weeks(1) - time::Duration::hours(12)).await.status, StatusCode::OK);
    s.idle().await;
    let got = outages();
    assert_eq!(got.len(), 2, "{got:?}");
    let next = start + time::Duration::weeks(1);
    let value = format!("{}/{}", rfc3339(next), rfc3339(next + window.length()));
    assert_eq!(got[1]["notificationPayload"]["customFields"]["value"], value.as_str());
}

#[tokio::test]
async fn events_reach_only_the_consent_whose_accounts_they_are_about() {
    let s = setup().await;
    let good = support::good_consent(&s.bank).await;
    let other = support::consent(&s.bank, "customer9", support::ALL_SCOPES, &[]).await;
    s.subscribe(&good, "RISK", "FRAUD", "good").await;
    s.subscribe(&other, "RISK", "FRAUD", "other").await;
    s.subscribe(&other, "BALANCE", "NEW_DATA", "other-balance").await;
    let good_account = account_id(&s.bank, &good, "CHECKING").await;
    let raised = admin(&s.bank, Method::POST, &format!("/admin/accounts/{good_account}/fraud"), None).await;
    assert_eq!(raised.status, StatusCode::CREATED);
    // A third customer nobody subscribed for.
    let stranger = s.bank.state.ledger.accounts(12).into_iter().next().unwrap().account_id;
    let published =
        admin(&s.bank, Method::POST, "/admin/notifications", Some(json!({"type": "RISK", "accountId": stranger})))
            .await;
    assert_eq!(published.json()["queued"], 0);
    s.idle().await;
    let got = s.receiver.got();
    assert_eq!(got.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["good"]);
    assert_eq!(verified_payload(&got[0])["notificationPayload"]["id"], good_account.as_str());
}

#[tokio::test]
async fn a_failing_receiver_is_retried_until_it_accepts_once() {
    let s = setup().await;
    let consent = support::good_consent(&s.bank).await;
    s.subscribe(&consent, "RISK", "FRAUD", "flaky").await;
    s.receiver.answer_with(&[500, 503]);
    let account = &consent.account_ids[0];
    let published = admin(
        &s.bank,
        Method::POST,
        "/admin/notifications",
        Some(json!({"type": "RISK", "category": "FRAUD", "accountId": account, "reason": "SUSPECTED_FRAUD"})),
    )
    .await;
    assert_eq!(published.status, StatusCode::ACCEPTED, "{}", published.text());
    let ids = published.json()["notificationIds"].clone();
    assert_eq!(ids.as_array().unwrap().len(), 1);
    s.idle().await;
    let got = s.receiver.got();
    assert_eq!(got.len(), 3, "two failures, then accepted");
    let payloads: Vec<Value> = got.iter().map(verified_payload).collect();
    assert!(payloads.iter().all(|p| p["notificationId"] == ids[0]), "the same notification each time");
    let counts = s.counts();
    assert_eq!((counts.delivered, counts.attempts, counts.dropped, counts.rejected), (1, 3, 0, 0));
    let outbox = admin(&s.bank, Method::GET, "/admin/notifications/outbox", None).await.json();
    assert_eq!(outbox["delivered"], 1);
    assert_eq!(outbox["attempts"], 3);
    assert_eq!(outbox["queued"], 0);
    assert_eq!(outbox["inFlight"], 0);
}

#[tokio::test]
async fn a_refusing_receiver_is_not_retried() {
    let s = setup().await;
    let consent = support::good_consent(&s.bank).await;
    s.subscribe(&consent, "BALANCE", "NEW_DATA", "refusing").await;
    s.receiver.answer_with(&[400]);
    let account = &consent.account_ids[0];
    for reason in ["LOW_BALANCE", "LARGE_DEPOSIT"] {
        let body = json!({"type": "BALANCE", "accountId": account, "reason": reason});
        assert_eq!(admin(&s.bank, Method::POST, "/admin/notifications", Some(body)).await.status, StatusCode::ACCEPTED);
    }
    s.idle().await;
    let got: Vec<Value> = s.receiver.in_lane_order().iter().map(verified_payload).collect();
    let reasons: Vec<&str> =
        got.iter().map(|p| p["notificationPayload"]["customFields"]["name"].as_str().unwrap()).collect();
    assert_eq!(reasons, ["LOW_BALANCE", "LARGE_DEPOSIT"], "the refused one is not sent again; the next one goes");
    let counts = s.counts();
    assert_eq!((counts.delivered, counts.rejected, counts.attempts, counts.dropped), (1, 1, 2, 0));
}

#[tokio::test]
async fn bad_subscription_bodies_are_fdx_400s() {
    let s = setup().await;
    let consent = support::good_consent(&s.bank).await;
    let url = s.receiver.url("x");
    let cases = [
        ("not JSON", "{".to_owned()),
        (
            "wrong pair",
            format!(r#"{{"type":"RISK","category":"CONSENT","callbackUrl":"{url}","subscriber":{SUBSCRIBER}}}"#),
        ),
        (
            "unknown type",
            format!(r#"{{"type":"CUSTOM","category":"SECURITY","callbackUrl":"{url}","subscriber":{SUBSCRIBER}}}"#),
        ),
        (
            "http",
            format!(
                r#"{{"type":"RISK","category":"FRAUD","callbackUrl":"http://127.0.0.1/cb","subscriber":{SUBSCRIBER}}}"#
            ),
        ),
        ("relative", format!(r#"{{"type":"RISK","category":"FRAUD","callbackUrl":"/cb","subscriber":{SUBSCRIBER}}}"#)),
        (
            "credentials",
            format!(
                r#"{{"type":"RISK","category":"FRAUD","callbackUrl":"https://a:b@127.0.0.1/cb","subscriber":{SUBSCRIBER}}}"#
            ),
        ),
        ("no subscriber", format!(r#"{{"type":"RISK","category":"FRAUD","callbackUrl":"{url}"}}"#)),
        (
            "bad party type",
            format!(
                r#"{{"type":"RISK","category":"FRAUD","callbackUrl":"{url}","subscriber":{{"name":"x","type":"BANK"}}}}"#
            ),
        ),
        (
            "blank name",
            format!(
                r#"{{"type":"RISK","category":"FRAUD","callbackUrl":"{url}","subscriber":{{"name":" ","type":"VENDOR"}}}}"#
            ),
        ),
        ("number type", format!(r#"{{"type":7,"category":"FRAUD","callbackUrl":"{url}","subscriber":{SUBSCRIBER}}}"#)),
    ];
    for (what, body) in cases {
        let reply =
            fdx(&s.bank, Method::POST, "/fdx/v6/notification-subscriptions", &consent.access_token, Some(body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{what}: {}", reply.text());
        let json = reply.json();
        assert_eq!(json["code"], "401", "{what}");
        assert_eq!(json["message"], "Invalid Input", "{what}");
        assert!(json["debugMessage"].as_str().is_some_and(|m| !m.is_empty()), "{what}");
    }
    let huge = format!(
        r#"{{"type":"RISK","category":"FRAUD","callbackUrl":"{url}","subscriber":{{"name":"{}","type":"VENDOR"}}}}"#,
        "x".repeat(20_000)
    );
    let reply =
        fdx(&s.bank, Method::POST, "/fdx/v6/notification-subscriptions", &consent.access_token, Some(huge)).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    let unauthenticated =
        fdx(&s.bank, Method::POST, "/fdx/v6/notification-subscriptions", "nope", Some("{}".into())).await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
    let wrong_method =
        fdx(&s.bank, Method::PUT, "/fdx/v6/notification-subscriptions", &consent.access_token, None).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.fdx_code(), "1206");
    let listed = admin(&s.bank, Method::GET, "/admin/notifications/subscriptions", None).await.json();
    assert_eq!(listed["subscriptions"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn a_subscription_is_seen_and_deleted_only_with_its_consent() {
    let s = setup().await;
    let doc = FdxDocument::load();
    let good = support::good_consent(&s.bank).await;
    let other = support::consent(&s.bank, "customer9", support::ALL_SCOPES, &[]).await;
    let created = s.subscribe(&good, "RISK", "FRAUD", "good").await;
    let id = created["subscriptionId"].as_str().unwrap();
    let uri = format!("/fdx/v6/notification-subscriptions/{id}");

    let theirs = fdx(&s.bank, Method::GET, &uri, &other.access_token, None).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!(theirs.fdx_code(), "1107");
    assert_eq!(fdx(&s.bank, Method::DELETE, &uri, &other.access_token, None).await.status, StatusCode::NOT_FOUND);
    let unknown = fdx(&s.bank, Method::GET, "/fdx/v6/notification-subscriptions/nope", &good.access_token, None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    let mine = fdx(&s.bank, Method::GET, &uri, &good.access_token, None).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert_eq!(mine.json(), created);
    assert!(schema_errors(&doc, "NotificationSubscriptionentity", &mine.json()).is_empty());

    // Subscribing again to the same type replaces the callback URL, same id.
    let again = s.subscribe(&good, "RISK", "FRAUD", "moved").await;
    assert_eq!(again["subscriptionId"], id);
    assert_eq!(again["callbackUrl"], s.receiver.url("moved"));

    let deleted = fdx(&s.bank, Method::DELETE, &uri, &good.access_token, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(fdx(&s.bank, Method::GET, &uri, &good.access_token, None).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn subscriptions_outlive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bank.sqlite");
    let (id, consent) = {
        let bank = support::bank_with_store(BANK, Some(&path)).await;
        let consent = support::good_consent(&bank).await;
        let body = format!(
            r#"{{"type":"CONSENT_REVOKED","category":"CONSENT","callbackUrl":"https://127.0.0.1:9/cb","subscriber":{SUBSCRIBER}}}"#
        );
        let reply =
            fdx(&bank, Method::POST, "/fdx/v6/notification-subscriptions", &consent.access_token, Some(body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        (reply.json()["subscriptionId"].as_str().unwrap().to_owned(), consent)
    };
    let bank = support::bank_with_store(BANK, Some(&path)).await;
    let kept = bank.state.notifier.subscription(&id).expect("the subscription is back");
    assert_eq!(kept.consent_id, consent.consent_id);
    assert_eq!(kept.callback_url, "https://127.0.0.1:9/cb");
    let reply =
        fdx(&bank, Method::GET, &format!("/fdx/v6/notification-subscriptions/{id}"), &consent.access_token, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

/// Publishes one RISK notification about `account` through the admin API; returns its `notificationId`.
async fn publish_risk(bank: &TestBank, account: &str) -> String {
    let body = json!({"type": "RISK", "category": "FRAUD", "accountId": account, "reason": "SUSPECTED_FRAUD"});
    let published = admin(bank, Method::POST, "/admin/notifications", Some(body)).await;
    assert_eq!(published.status, StatusCode::ACCEPTED, "{}", published.text());
    published.json()["notificationIds"][0].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_restarted_bank_delivers_what_was_queued_in_order() {
    certs::install_crypto_provider();
    let pki = certs::Pki::generate().unwrap();
    let identity = Arc::new(pki.issue_client(&format!("bank-{BANK}")).unwrap());
    let client = || Some((identity.clone(), pki.ca_der()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bank.sqlite");
    let receiver = Receiver::start(&pki).await;
    // The receiver is down for as long as the first bank runs.
    receiver.answer_with(&[503; 64]);
    let queued = {
        let s =
            Setup { bank: support::bank_with(BANK, Some(&path), client()).await, receiver, identity: identity.clone() };
        let consent = support::good_consent(&s.bank).await;
        s.subscribe(&consent, "RISK", "FRAUD", "risk").await;
        let first = publish_risk(&s.bank, &consent.account_ids[0]).await;
        let second = publish_risk(&s.bank, &consent.account_ids[0]).await;
        let deadline = std::time::Instant::now() + IDLE;
        while s.receiver.got().is_empty() {
            assert!(std::time::Instant::now() < deadline, "a first attempt reaches the receiver");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // The bank stops between attempts: nothing was delivered, and nothing counts as dropped.
        s.bank.state.notifier.close();
        s.idle().await;
        let counts = s.counts();
        assert_eq!((counts.delivered, counts.dropped, counts.rejected), (0, 0, 0), "{counts:?}");
        let Setup { receiver, .. } = s;
        (first, second, receiver)
    };
    let (first, second, receiver) = queued;
    let attempts_before = receiver.got().len();
    receiver.shared.script.lock().unwrap().clear();

    // A new bank on the same file delivers both, in the order they were queued, once the receiver is back.
    let s = Setup { bank: support::bank_with(BANK, Some(&path), client()).await, receiver, identity: identity.clone() };
    s.idle().await;
    let after: Vec<String> = s.receiver.in_lane_order()[attempts_before..]
        .iter()
        .map(|r| verified_payload(r)["notificationId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(after, [first, second], "delivered after the restart, in order");
    assert_eq!(s.counts().delivered, 2);
    // Delivered means gone from the store: a third start has nothing left to send.
    drop(s.bank);
    let bank = support::bank_with(BANK, Some(&path), client()).await;
    assert!(bank.state.notifier.wait_idle(IDLE).await);
    assert_eq!(bank.state.notifier.counts().attempts, 0);
}

#[tokio::test]
async fn the_admin_publish_path_checks_its_input() {
    let s = setup().await;
    let cases = [
        (json!({"type": "RISK"}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"type": "RISK", "category": "CONSENT", "accountId": "x"}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"type": "NOPE"}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"type": "CONSENT_REVOKED"}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"type": "RISK", "accountId": "no-such-account"}), StatusCode::NOT_FOUND),
        (json!({"type": "RISK", "extra": 1}), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({"type": "PLANNED_OUTAGE", "maintenanceFrom": "2026-11-19T02:00:00Z"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"type": "PLANNED_OUTAGE", "maintenanceFrom": "2026-11-19T02:00:00Z", "maintenanceUntil": "2026-11-19T01:00:00Z"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (body, status) in cases {
        let reply = admin(&s.bank, Method::POST, "/admin/notifications", Some(body.clone())).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text());
        assert_eq!(reply.header("content-type"), Some("application/problem+json"));
    }
    let no_token =
        support::send(&s.bank.admin, Request::get("/admin/notifications/outbox").body(Body::empty()).unwrap()).await;
    assert_eq!(no_token.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_events_reach_one_callback_in_the_order_they_were_published() {
    let s = setup().await;
    let consent = support::good_consent(&s.bank).await;
    s.subscribe(&consent, "RISK", "FRAUD", "ordered").await;
    let account = &consent.account_ids[0];
    let started = std::time::Instant::now();
    let mut published = Vec::new();
    for n in 0..300 {
        let body = json!({"type": "RISK", "accountId": account, "detail": format!("event {n}")});
        let reply = admin(&s.bank, Method::POST, "/admin/notifications", Some(body)).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
        published.push(reply.json()["notificationIds"][0].as_str().unwrap().to_owned());
    }
    s.idle().await;
    let elapsed = started.elapsed();
    let arrived = s.receiver.in_lane_order();
    // A lane's worker ends when it has nothing left, so the 300 may span several runs of the lane: each numbered
    // 1, 2, 3, ... without gaps.
    let mut runs: Vec<(String, Vec<u64>)> = Vec::new();
    for r in &arrived {
        let lane = r.headers["x-bankgate-lane"].to_str().unwrap().to_owned();
        let seq: u64 = r.headers["x-bankgate-sequence"].to_str().unwrap().parse().unwrap();
        match runs.last_mut() {
            Some((last, seqs)) if *last == lane => seqs.push(seq),
            _ => runs.push((lane, vec![seq])),
        }
    }
    for (_, seqs) in &runs {
        assert_eq!(*seqs, (1..=seqs.len() as u64).collect::<Vec<u64>>(), "numbered without gaps");
    }
    assert_eq!(runs.iter().map(|(_, seqs)| seqs.len()).sum::<usize>(), 300);
    let received: Vec<String> = arrived
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(r.body.split('.').nth(1).unwrap()).unwrap())
                .unwrap()
        })
        .map(|p| p["notificationId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(received, published, "one lane per callback URL, numbered in publication order");
    println!("300 notifications published and delivered in order in {elapsed:?}");
}
