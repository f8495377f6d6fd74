//! Issue 5 end to end: real banks and the real gateway over mutual TLS, the app's webhook receiver a `wiremock`
//! server. An app holding a certificate-bound (RFC 8705) consent with NOTIFICATIONS subscribes at the gateway; the
//! bank's admin raises fraud on an account of the consent, and the app receives one RFC 8417 Security Event Token
//! whose JWS verifies against the gateway's published JWKS and whose notification names that account. Fraud on an
//! account outside the consent reaches nobody; a scheduled maintenance window arrives as PLANNED_OUTAGE; a
//! revocation at the bank arrives as CONSENT_REVOKED and the app's next data call is refused. Also: a consent made
//! through the consent pages subscribes at the bank too, and a revocation at the gateway deletes the subscription
//! there first; a bank that refuses subscriptions never fails the person's consent.
//!
//! Waiting is bounded polling of what wiremock received (`received_requests`), never a fixed sleep. Fraud outside
//! the consent is raised BEFORE the fraud inside it: deliveries are ordered per subscription (at the bank per
//! callback URL, at the gateway per app subscription), so once the second alert has arrived, the first would have
//! arrived before it had it been delivered at all.

use std::time::{Duration, Instant};

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use bankgate::Sandbox;
use bankgate::sandbox::SAMPLE_APP_CLIENTS;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mock_bank::ledger::model::AccountKind;
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::resource_api::{consent_request, sandbox};
use crate::support::https_client;

/// The RFC 8417 `events` member the gateway names an FDX notification with.
const FDX_EVENT: &str = "https://bankgate.dev/secevent/fdx-notification";
/// How long one delivery may take to show up (bank outbox + gateway worker, both asynchronous).
const DELIVERY_LIMIT: Duration = Duration::from_secs(30);

/// The sandbox client as an app that presents a client certificate on every call, so the shortcut binds its tokens
/// to that certificate (RFC 8705 §3) instead of issuing bearer tokens.
struct MtlsApp {
    http: reqwest::Client,
    issuer: String,
    id: String,
    secret: String,
}

impl MtlsApp {
    fn of(sandbox: &Sandbox) -> MtlsApp {
        let identity = sandbox.pki.issue_client(SAMPLE_APP_CLIENTS[0]).unwrap();
        let client = sandbox.sandbox_client.as_ref().expect("the sandbox client is declared");
        MtlsApp {
            http: https_client(sandbox.pki.ca_pem(), Some(format!("{}{}", identity.cert_pem, identity.key_pem))),
            issuer: sandbox.endpoints.gateway.as_ref().expect("gateway runs").issuer.clone(),
            id: client.client_id.clone(),
            secret: client.client_secret.clone(),
        }
    }

    /// A consent through the sandbox shortcut: `(consent_id, access_token)`, the token certificate-bound.
    async fn consent(&self, request: Value) -> (String, String) {
        let url = format!("{}/sandbox/consents", self.issuer);
        let response =
            self.http.post(url).basic_auth(&self.id, Some(&self.secret)).json(&request).send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "Bearer", "RFC 8705 tokens are presented as Bearer: {body}");
        (body["consent_id"].as_str().unwrap().to_owned(), body["access_token"].as_str().unwrap().to_owned())
    }

    /// FDX `POST /notification-subscriptions` at the gateway: the new `subscriptionId`.
    async fn subscribe(&self, token: &str, kind: &str, category: &str, callback: &str) -> String {
        let body = json!({
            "type": kind,
            "category": category,
            "callbackUrl": callback,
            "subscriber": {"name": "Sandbox app", "type": "DATA_RECIPIENT"},
        });
        let url = format!("{}/fdx/v6/notification-subscriptions", self.issuer);
        let response = self.http.post(url).bearer_auth(token).json(&body).send().await.unwrap();
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 201, "subscribing to {kind}: {answer}");
        answer["subscriptionId"].as_str().unwrap_or_else(|| panic!("a subscriptionId: {answer}")).to_owned()
    }

    async fn status_of(&self, path: &str, token: &str) -> u16 {
        let url = format!("{}{path}", self.issuer);
        self.http.get(url).bearer_auth(token).send().await.unwrap().status().as_u16()
    }
}

/// The bank's admin API.
struct BankAdmin {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl BankAdmin {
    fn of(sandbox: &Sandbox) -> BankAdmin {
        BankAdmin {
            http: https_client(sandbox.pki.ca_pem(), None),
            base: sandbox.endpoints.banks[0].admin.clone(),
            token: sandbox.endpoints.admin_token.clone(),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Value {
        let response = request.bearer_auth(&self.token).send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{status}: {body}");
        body
    }

    async fn raise_fraud(&self, account: &str) {
        let url = format!("{}/admin/accounts/{account}/fraud", self.base);
        self.send(self.http.post(url).json(&json!({}))).await;
    }

    async fn schedule_maintenance(&self, from: &str, until: &str) {
        let url = format!("{}/admin/faults", self.base);
        let rule = json!({"endpoint": "accounts", "maintenanceFrom": from, "maintenanceUntil": until});
        self.send(self.http.put(url).json(&json!({ "faults": [rule] }))).await;
    }

    /// Waits (bounded) until the bank's notification outbox is idle; returns its counters.
    async fn idle_outbox(&self) -> Value {
        let url = format!("{}/admin/notifications/outbox", self.base);
        let deadline = Instant::now() + DELIVERY_LIMIT;
        loop {
            let counts = self.send(self.http.get(&url)).await;
            if counts["queued"] == 0 && counts["inFlight"] == 0 {
                return counts;
            }
            assert!(Instant::now() < deadline, "the bank's outbox empties: {counts}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn revoke(&self, bank_consent: &str) {
        let url = format!("{}/admin/consents/{bank_consent}/revoke", self.base);
        self.send(self.http.post(url)).await;
    }
}

/// The verified SET claims of every webhook `receiver` got on `path`, in arrival order.
async fn webhooks(receiver: &MockServer, path: &str, jwks: &Value) -> Vec<Value> {
    let requests = receiver.received_requests().await.unwrap_or_default();
    requests
        .iter()
        .filter(|r| r.url.path() == path)
        .map(|r| {
            let content_type = r.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
            assert_eq!(content_type, "application/secevent+jwt", "RFC 8935 §2");
            verified_set(std::str::from_utf8(&r.body).expect("a compact JWS"), jwks)
        })
        .collect()
}

/// Waits (bounded) until `receiver` got at least `count` webhooks on `path`; returns them.
async fn wait_for_webhooks(receiver: &MockServer, path: &str, count: usize, jwks: &Value) -> Vec<Value> {
    let deadline = Instant::now() + DELIVERY_LIMIT;
    loop {
        let got = webhooks(receiver, path, jwks).await;
        if got.len() >= count {
            return got;
        }
        assert!(Instant::now() < deadline, "{count} webhook(s) on {path} within {DELIVERY_LIMIT:?}; got {got:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// RFC 7515 §5.2 verification of a SET against the gateway's JWKS (RFC 7517): ES256 with the key its `kid` names.
/// Returns the claims.
fn verified_set(jws: &str, jwks: &Value) -> Value {
    let parts: Vec<&str> = jws.trim().split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS");
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256", "{header}");
    assert_eq!(header["typ"], "secevent+jwt", "RFC 8417 §2.3: {header}");
    let kid = header["kid"].as_str().expect("a kid");
    let key = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).expect("the kid is in the JWKS");
    assert_eq!((key["kty"].as_str(), key["crv"].as_str()), (Some("EC"), Some("P-256")), "{key}");
    let mut point = vec![0x04];
    point.extend(URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap());
    point.extend(URL_SAFE_NO_PAD.decode(key["y"].as_str().unwrap()).unwrap());
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    let input = format!("{}.{}", parts[0], parts[1]);
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
        .verify(input.as_bytes(), &signature)
        .expect("the SET's signature verifies with the gateway's published key");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
}

/// The FDX notification inside SET `claims`.
fn notification(claims: &Value) -> &Value {
    &claims["events"][FDX_EVENT]
}

/// Accounts of the bank's first customers on which fraud can be raised (checking and credit cards).
fn fraud_capable(sandbox: &Sandbox, customer: u32) -> Vec<String> {
    sandbox.banks[0]
        .state
        .ledger
        .accounts(customer)
        .into_iter()
        .filter(|a| matches!(a.kind, AccountKind::Checking | AccountKind::CreditCard))
        .map(|a| a.account_id)
        .collect()
}

#[tokio::test]
async fn bank_events_reach_the_app_as_signed_webhooks_only_within_its_consent() {
    let sandbox = sandbox(None).await;
    let gateway = sandbox.gateway.as_ref().unwrap();
    let app = MtlsApp::of(&sandbox);
    let admin = BankAdmin::of(&sandbox);
    let own = fraud_capable(&sandbox, 0);
    assert!(!own.is_empty(), "user_good has a checking account or a card");
    let inside = own[0].clone();
    let outside = own.get(1).cloned().unwrap_or_else(|| fraud_capable(&sandbox, 1)[0].clone());

    // A certificate-bound consent with NOTIFICATIONS covering one account.
    let request = consent_request(&["ACCOUNT_BASIC", "NOTIFICATIONS"], Some(vec![inside.clone()]), 30);
    let (consent_id, token) = app.consent(request).await;
    assert_eq!(app.status_of("/fdx/v6/accounts", &token).await, 200);
    let anonymous = https_client(sandbox.pki.ca_pem(), None);
    let stolen = anonymous.get(format!("{}/fdx/v6/accounts", app.issuer)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(stolen.status(), 401, "the token is bound to the app's certificate");

    // The gateway subscribed at the bank off the request path: wait (bounded) for it to settle.
    let subscribed = settled_subscriptions(gateway, &consent_id).await;
    let mut topics: Vec<&str> = subscribed.subscriptions().iter().map(|s| s.topic.notification_type).collect();
    topics.sort_unstable();
    assert_eq!(topics, ["BALANCE", "CONSENT_REVOKED", "PLANNED_OUTAGE", "RISK"], "{subscribed:?}");

    // The app's receiver, and its subscriptions at the gateway.
    let receiver = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(202)).mount(&receiver).await;
    let hook = |name: &str| format!("{}/hooks/{name}", receiver.uri());
    app.subscribe(&token, "RISK", "FRAUD", &hook("fraud")).await;
    app.subscribe(&token, "PLANNED_OUTAGE", "MAINTENANCE", &hook("outage")).await;
    app.subscribe(&token, "CONSENT_REVOKED", "CONSENT", &hook("consent")).await;
    let jwks: Value = anonymous.get(format!("{}/jwks", app.issuer)).send().await.unwrap().json().await.unwrap();

    // Fraud outside the consent first, then inside it: exactly one alert, about the consented account.
    admin.raise_fraud(&outside).await;
    admin.raise_fraud(&inside).await;
    let alerts = wait_for_webhooks(&receiver, "/hooks/fraud", 1, &jwks).await;
    assert_eq!(alerts.len(), 1, "only the consented account's alert: {alerts:?}");
    let claims = &alerts[0];
    assert_eq!(claims["iss"], app.issuer.as_str(), "{claims}");
    assert_eq!(claims["aud"], app.id.as_str(), "{claims}");
    let alert = notification(claims);
    assert_eq!((alert["type"].as_str(), alert["category"].as_str()), (Some("RISK"), Some("FRAUD")), "{alert}");
    assert_eq!(alert["notificationPayload"]["idType"], "ACCOUNT", "{alert}");
    assert_eq!(alert["notificationPayload"]["id"], inside.as_str(), "{alert}");
    assert_eq!(claims["jti"], alert["notificationId"], "idempotency key: {claims}");
    assert!(!serde_json::to_string(&alerts).unwrap().contains(&outside), "nothing about {outside}");

    // A maintenance window scheduled for tomorrow: PLANNED_OUTAGE.
    let now = sandbox.banks[0].state.clock.now();
    let rfc3339 = |t: time::OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap();
    let (from, until) = (rfc3339(now + time::Duration::days(1)), rfc3339(now + time::Duration::hours(26)));
    admin.schedule_maintenance(&from, &until).await;
    let outages = wait_for_webhooks(&receiver, "/hooks/outage", 1, &jwks).await;
    let outage = notification(&outages[0]);
    assert_eq!((outage["type"].as_str(), outage["category"].as_str()), (Some("PLANNED_OUTAGE"), Some("MAINTENANCE")));
    assert_eq!(outage["notificationPayload"]["idType"], "MAINTENANCE", "{outage}");

    // The person revokes at the bank: CONSENT_REVOKED reaches the app, and its next data call is refused.
    let at_bank = sandbox.banks[0].state.auth.consents_of(0);
    assert_eq!(at_bank.len(), 1);
    admin.revoke(&at_bank[0].consent_id).await;
    let revocations = wait_for_webhooks(&receiver, "/hooks/consent", 1, &jwks).await;
    let revoked = notification(&revocations[0]);
    assert_eq!((revoked["type"].as_str(), revoked["category"].as_str()), (Some("CONSENT_REVOKED"), Some("CONSENT")));
    assert_eq!(app.status_of("/fdx/v6/accounts", &token).await, 401);
    let consent = gateway.state.store.consent(&consent_id).await.unwrap().unwrap();
    assert_eq!(consent.status, gateway::consent::ConsentStatus::Revoked);
    assert_eq!(consent.revocations[0].initiator, gateway::consent::Initiator::Bank);

    // Nothing more after the revocation: the bank ended the consent's subscriptions, so fraud on the once-consented
    // account is not even sent to the gateway.
    let before = admin.idle_outbox().await;
    admin.raise_fraud(&inside).await;
    let after = admin.idle_outbox().await;
    assert_eq!(after["attempts"], before["attempts"], "no delivery attempt: {before} -> {after}");
    assert_eq!(webhooks(&receiver, "/hooks/fraud", &jwks).await.len(), 1);
    sandbox.shutdown().await.unwrap();
}

/// Where the gateway's subscribing at the bank for `consent_id` stands, once settled (bounded wait).
async fn settled_subscriptions(
    gateway: &gateway::server::RunningGateway,
    consent_id: &str,
) -> gateway::banks::notifications::SubscriptionState {
    let deadline = Instant::now() + DELIVERY_LIMIT;
    loop {
        match gateway::banks::notifications::subscription_state(&gateway.state, consent_id).await.unwrap() {
            Some(state) if state.is_settled() => return state,
            _ => assert!(Instant::now() < deadline, "the gateway's subscribing at the bank settles"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The bank's notification subscriptions whose callback is `callback`, as `(type, category)`.
async fn bank_subscriptions_to(admin: &BankAdmin, callback: &str) -> Vec<(String, String)> {
    let url = format!("{}/admin/notifications/subscriptions", admin.base);
    let list = admin.send(admin.http.get(url)).await;
    let items = list.as_array().or_else(|| list["subscriptions"].as_array()).cloned().unwrap_or_default();
    items
        .iter()
        .filter(|s| s["callbackUrl"] == callback)
        .map(|s| (s["type"].as_str().unwrap_or("").to_owned(), s["category"].as_str().unwrap_or("").to_owned()))
        .collect()
}

#[tokio::test]
async fn a_consent_through_the_pages_subscribes_at_the_bank_and_a_gateway_revocation_unsubscribes() {
    use crate::consent_flow::{REDIRECT, origins, push, register_app};
    use bankgate::person::{LoginPlan, Person, Pkce};

    let sandbox = crate::support::gateway_sandbox().await;
    let gateway = sandbox.gateway.as_ref().unwrap();
    let admin = BankAdmin::of(&sandbox);
    let (app, issuer, client_id) = register_app(&sandbox).await;
    let pkce = Pkce::new().unwrap();
    let request_uri = push(&app, &issuer, &client_id, &pkce, "st-events").await;
    let mut person = Person::new(sandbox.pki.ca_pem()).unwrap();
    let authorize = reqwest::Url::parse_with_params(
        &format!("{issuer}/authorize"),
        [("client_id", client_id.as_str()), ("request_uri", request_uri.as_str())],
    )
    .unwrap();
    let plan = LoginPlan { bank: Some("continental"), ..LoginPlan::user("user_good") };
    let outcome = person.walk(authorize.as_str(), &plan, &origins(&sandbox, &issuer)).await.unwrap();
    let code = outcome.param("code").unwrap_or_else(|| panic!("an authorization code: {outcome:?}")).to_owned();
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", pkce.verifier.as_str()),
        ("client_id", client_id.as_str()),
    ];
    let tokens: Value = app.post(format!("{issuer}/token")).form(&exchange).send().await.unwrap().json().await.unwrap();
    let consent_id = tokens["grant_id"].as_str().unwrap_or_else(|| panic!("{tokens}")).to_owned();

    // Without NOTIFICATIONS in the consent the gateway subscribes to CONSENT_REVOKED only, with its own callback.
    let callback = gateway::banks::notifications::callback_url(&issuer, "continental", &consent_id);
    let deadline = Instant::now() + DELIVERY_LIMIT;
    let subscribed = loop {
        let found = bank_subscriptions_to(&admin, &callback).await;
        if !found.is_empty() {
            break found;
        }
        assert!(Instant::now() < deadline, "the gateway subscribes at the bank after the confirmation");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(subscribed, [("CONSENT_REVOKED".to_owned(), "CONSENT".to_owned())]);

    // The person revokes at the gateway: the subscription is deleted at the bank before the bank tokens are
    // revoked, so the bank has no CONSENT_REVOKED to send back.
    person_revokes_and_the_bank_is_unsubscribed(gateway, &admin, &consent_id, &callback).await;
    sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_bank_that_refuses_subscriptions_never_fails_the_consent() {
    let sandbox = sandbox(None).await;
    let gateway = sandbox.gateway.as_ref().unwrap();
    let app = MtlsApp::of(&sandbox);
    crate::resource_api::set_faults(
        &sandbox,
        json!([{"endpoint": "subscriptions", "error": {"rate": 1.0, "status": 500, "code": "500"}}]),
    )
    .await;
    let (consent_id, token) = app.consent(consent_request(&["ACCOUNT_BASIC", "NOTIFICATIONS"], None, 30)).await;
    assert_eq!(app.status_of("/fdx/v6/accounts", &token).await, 200, "the consent stands");
    let settled = settled_subscriptions(gateway, &consent_id).await;
    match &settled {
        gateway::banks::notifications::SubscriptionState::Failed { subscribed, error } => {
            assert!(subscribed.is_empty(), "{settled:?}");
            assert!(error.contains("500"), "the failure says what the bank answered: {error}");
            let tokens = gateway.state.store.bank_tokens(&consent_id).await.unwrap().unwrap();
            assert!(!error.contains(&tokens.access_token), "no bank token in the recorded error");
        }
        other => panic!("a failed subscription, not {other:?}"),
    }
    sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_restarted_gateway_still_deletes_its_bank_subscriptions_at_a_revocation() {
    certs::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let options = bankgate::SandboxOptions {
        data_dir: Some(dir.path().to_owned()),
        customers: Some(20),
        banks: Some(vec!["continental".into()]),
        start: Some(crate::support::START),
        ..bankgate::SandboxOptions::default()
    };
    let sandbox = Sandbox::start(options.clone()).await.expect("sandbox starts");
    let app = crate::resource_api::App::of(&sandbox);
    let (consent_id, _) = app.consent(consent_request(&["ACCOUNT_BASIC", "NOTIFICATIONS"], None, 30)).await;
    let subscribed = settled_subscriptions(sandbox.gateway.as_ref().unwrap(), &consent_id).await;
    assert_eq!(subscribed.subscriptions().len(), 4, "{subscribed:?}");
    let callback = gateway::banks::notifications::callback_url(&app.issuer, "continental", &consent_id);
    assert_eq!(bank_subscriptions_to(&BankAdmin::of(&sandbox), &callback).await.len(), 4);
    sandbox.shutdown().await.unwrap();

    // A new gateway (and bank) on the same data directory: nothing of the first process's memory is left.
    let sandbox = Sandbox::start(options).await.expect("sandbox restarts");
    let gateway = sandbox.gateway.as_ref().unwrap();
    let admin = BankAdmin::of(&sandbox);
    assert_eq!(bank_subscriptions_to(&admin, &callback).await.len(), 4, "the bank kept them");
    person_revokes_and_the_bank_is_unsubscribed(gateway, &admin, &consent_id, &callback).await;
    sandbox.shutdown().await.unwrap();
}

/// The person revokes at the gateway: the consent is revoked, its subscriptions are deleted at the bank (before the
/// bank tokens are revoked there, so the bank has no CONSENT_REVOKED to send back) and recorded as ended.
async fn person_revokes_and_the_bank_is_unsubscribed(
    gateway: &gateway::server::RunningGateway,
    admin: &BankAdmin,
    consent_id: &str,
    callback: &str,
) {
    let before = admin.idle_outbox().await;
    let outcome = gateway::revocation::revoke(
        &gateway.state,
        consent_id,
        gateway::consent::RevocationReason::UserAction,
        gateway::consent::Initiator::Person,
        gateway.state.now(),
    )
    .await
    .unwrap();
    assert!(matches!(outcome, gateway::store::ConsentRevocationOutcome::Revoked { .. }));
    assert!(bank_subscriptions_to(admin, callback).await.is_empty(), "unsubscribed at the bank");
    let ended = gateway::banks::notifications::subscription_state(&gateway.state, consent_id).await.unwrap();
    assert_eq!(ended, Some(gateway::banks::notifications::SubscriptionState::Ended));
    let after = admin.idle_outbox().await;
    assert_eq!(after["attempts"], before["attempts"], "no CONSENT_REVOKED sent back: {before} -> {after}");
}
