//! The consent-enforced FDX resource API over real HTTPS (issue 4): an app reads through the gateway from a real
//! mock bank, and sees only what its consent allows; bank failures become FDX errors with the right status; the
//! circuit breaker opens and recovers by itself; rate limits answer 429; a revocation at the bank reaches the
//! gateway; once a revocation is acknowledged no data response follows. Tokens come from the sandbox shortcut
//! (plain bearer tokens of the sandbox client); the DPoP and mTLS bindings are exercised in `consent_flow`.

use std::time::Duration;

use bankgate::{Sandbox, SandboxOptions};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::support::{eventually, https_client};

/// The sandbox client of a running sandbox, as an app would use it.
pub struct App {
    pub http: reqwest::Client,
    pub issuer: String,
    id: String,
    secret: String,
}

/// An answer: status, headers and JSON body (`Null` when the body is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl App {
    pub fn of(sandbox: &Sandbox) -> App {
        let gateway = sandbox.endpoints.gateway.as_ref().expect("gateway runs");
        let client = sandbox.sandbox_client.as_ref().expect("the sandbox client is declared");
        App {
            http: https_client(sandbox.pki.ca_pem(), None),
            issuer: gateway.issuer.clone(),
            id: client.client_id.clone(),
            secret: client.client_secret.clone(),
        }
    }

    /// A consent through the sandbox shortcut: `(consent_id, access_token)`.
    pub async fn consent(&self, request: Value) -> (String, String) {
        let url = format!("{}/sandbox/consents", self.issuer);
        let response =
            self.http.post(url).basic_auth(&self.id, Some(&self.secret)).json(&request).send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{body}");
        (body["consent_id"].as_str().unwrap().to_owned(), body["access_token"].as_str().unwrap().to_owned())
    }

    /// `GET` a gateway path (or absolute URL) with `token`.
    pub async fn get(&self, path: &str, token: &str) -> Answer {
        let url = if path.starts_with("https://") { path.to_owned() } else { format!("{}{path}", self.issuer) };
        let response = self.http.get(url).bearer_auth(token).send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        Answer { status, headers, body }
    }

    /// A client_credentials token of the sandbox client for `scope`.
    pub async fn management_token(&self, scope: &str) -> String {
        let form = [("grant_type", "client_credentials"), ("scope", scope)];
        let url = format!("{}/token", self.issuer);
        let response = self.http.post(url).basic_auth(&self.id, Some(&self.secret)).form(&form).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }
}

/// Short bank timeouts and a quick breaker, no rate limit.
fn fragile_banks(config: &mut gateway::config::GatewayConfig) {
    config.upstream.timeouts.request = Duration::from_millis(1500);
    config.upstream.breaker =
        gateway::banks::BreakerSettings { failure_threshold: 3, cooldown: Duration::from_millis(400) };
    config.rate_limit = None;
}

/// One request per second after a burst of 40.
fn strict_rate(config: &mut gateway::config::GatewayConfig) {
    config.rate_limit = Some(gateway::fdx::rate_limit::RateLimit { per_second: 1, burst: 40 });
}

/// The gateway in front of two banks (20 customers each) whose frozen clocks start now (or, inside a bank's weekly
/// maintenance window, at its end: at most a few hours ahead), so the gateway's clock (wall time, which apps sign
/// their assertions with) and the banks' agree, as under `bankgate up`: the lookback window is measured on the
/// gateway's clock. `tune` adjusts the gateway's configuration.
pub(crate) async fn sandbox(tune: Option<fn(&mut gateway::config::GatewayConfig)>) -> Sandbox {
    certs::install_crypto_provider();
    let options = SandboxOptions {
        customers: Some(20),
        banks: Some(vec!["continental".into(), "summit".into()]),
        tune_gateway: tune,
        ..SandboxOptions::default()
    };
    Sandbox::start(options).await.expect("sandbox starts")
}

pub(crate) fn consent_request(clusters: &[&str], accounts: Option<Vec<String>>, lookback: u32) -> Value {
    let mut request = json!({
        "bank": "continental",
        "username": "user_good",
        "password": "pass_good",
        "authorization_details": [{
            "type": "fdx_consent",
            "dataClusters": clusters,
            "durationType": "TIME_BOUND",
            "durationPeriod": 90,
            "lookbackPeriod": lookback,
            "purposes": ["personal_finance_management"],
        }],
    });
    if let Some(accounts) = accounts {
        request["account_ids"] = json!(accounts);
    }
    request
}

fn ids(list: &Value, field: &str) -> Vec<String> {
    list.as_array().unwrap_or(&Vec::new()).iter().map(|item| item[field].as_str().unwrap().to_owned()).collect()
}

/// The gateway's access log of an authorized consent, newest first.
async fn access_log(gateway: &gateway::server::RunningGateway, consent_id: &str) -> Vec<gateway::store::AuditRecord> {
    let consent = gateway.state.store.consent(consent_id).await.unwrap().expect("the consent");
    let subject = consent.subject.expect("an authorized consent");
    gateway.state.store.audit_of_consent(&subject, consent_id, 1000).await.unwrap()
}

/// Set the fault rules of bank 0 through its admin API.
pub(crate) async fn set_faults(sandbox: &Sandbox, faults: Value) {
    let url = format!("{}/admin/faults", sandbox.endpoints.banks[0].admin);
    let client = https_client(sandbox.pki.ca_pem(), None);
    let response = client
        .put(url)
        .bearer_auth(&sandbox.endpoints.admin_token)
        .json(&json!({ "faults": faults }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());
}

#[tokio::test]
async fn an_app_reads_only_the_accounts_fields_and_history_its_consent_allows() {
    let sandbox = sandbox(None).await;
    let app = App::of(&sandbox);
    let bank = &sandbox.banks[0];
    let every: Vec<String> = bank.state.ledger.accounts(0).iter().map(|a| a.account_id.clone()).collect();
    assert!(every.len() >= 2, "user_good has several accounts");
    let chosen = vec![every[0].clone()];
    let (consent_id, token) =
        app.consent(consent_request(&["ACCOUNT_BASIC", "TRANSACTIONS"], Some(chosen.clone()), 30)).await;

    // Accounts: only the chosen one, descriptor fields only (ACCOUNT_BASIC without ACCOUNT_DETAILED).
    let response = app
        .http
        .get(format!("{}/fdx/v6/accounts", app.issuer))
        .bearer_auth(&token)
        .header("x-fapi-interaction-id", "e2e-interaction-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-fapi-interaction-id"], "e2e-interaction-1", "FAPI: echoed");
    let body: Value = response.json().await.unwrap();
    assert_eq!(ids(&body["accounts"], "accountId"), chosen, "{body}");
    let account = &body["accounts"][0];
    assert!(account["accountNumberDisplay"].as_str().unwrap().starts_with("..."), "masked: {account}");
    for hidden in ["currentBalance", "availableBalance", "routingTransitNumber", "interestRate"] {
        assert!(account.get(hidden).is_none(), "{hidden} needs ACCOUNT_DETAILED: {account}");
    }
    let details = app.get("/fdx/v6/accounts?resultType=details", &token).await;
    assert_eq!(details.status, 200);
    assert!(details.body["accounts"][0].get("currentBalance").is_none(), "{}", details.body);
    let one = app.get(&format!("/fdx/v6/accounts/{}", chosen[0]), &token).await;
    assert_eq!((one.status, one.body["accountId"].as_str()), (200, Some(chosen[0].as_str())), "{:?}", one);
    assert!(one.body.get("currentBalance").is_none());
    assert!(one.headers.get("x-fapi-interaction-id").is_some(), "a fresh interaction id when none was sent");

    // Transactions: cut to the 30-day lookback even when the app asks for more; pages link back to the gateway.
    let earliest = (sandbox.banks[0].state.clock.now() - time::Duration::days(30)).date();
    let first = format!("{}/fdx/v6/accounts/{}/transactions?startTime=2020-01-01&limit=5", app.issuer, chosen[0]);
    let mut seen = Vec::new();
    let mut href = Some(first);
    let mut pages = 0;
    while let Some(url) = href.take() {
        let page = app.get(&url, &token).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        let transactions = page.body["transactions"].as_array().unwrap();
        assert!(transactions.len() <= 5, "the app's page size is kept");
        seen.extend(ids(&page.body["transactions"], "transactionId"));
        for t in transactions {
            let day = &t["transactionTimestamp"].as_str().unwrap()[..10];
            assert!(day >= earliest.to_string().as_str(), "{day} is before the lookback window");
        }
        href = page.body["links"]["next"]["href"].as_str().map(str::to_owned);
        if let Some(next) = &href {
            let prefix = format!("{}/fdx/v6/accounts/{}/transactions?", app.issuer, chosen[0]);
            assert!(next.starts_with(&prefix), "links point at the gateway: {next}");
        }
        pages += 1;
        assert!(pages < 100, "bounded paging");
    }
    let unique: std::collections::BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "pages do not repeat transactions");
    assert!(seen.len() > 5, "30 days of a household's account hold more than one page");

    // Outside the consent: another account of the same person, another person's account, an id that does not
    // exist: the same 404 (FDX 701), so nothing leaks.
    let other_person = bank.state.ledger.accounts(1)[0].account_id.clone();
    let mut refusals = Vec::new();
    for account in [every[1].as_str(), other_person.as_str(), "acct-does-not-exist"] {
        let answer = app.get(&format!("/fdx/v6/accounts/{account}/transactions"), &token).await;
        refusals.push((answer.status, answer.body["code"].clone(), answer.body["message"].clone()));
    }
    assert!(refusals.iter().all(|r| *r == (404, json!("701"), json!("Account not found"))), "{refusals:?}");
    // Clusters outside the consent: 403.
    for path in [format!("/fdx/v6/accounts/{}/payment-networks", chosen[0]), "/fdx/v6/customers/current".to_owned()] {
        let answer = app.get(&path, &token).await;
        assert_eq!((answer.status, answer.body["code"].as_str()), (403, Some("403")), "{path}: {:?}", answer.body);
    }
    // FDX errors everywhere on /fdx/v6, with the interaction id.
    let unknown = app.get("/fdx/v6/nothing-here", &token).await;
    assert_eq!((unknown.status, unknown.body["code"].as_str()), (404, Some("1107")));
    assert!(unknown.headers.get("x-fapi-interaction-id").is_some());
    let post = app.http.post(format!("{}/fdx/v6/accounts", app.issuer)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(post.json::<Value>().await.unwrap()["code"], "1206");
    let anonymous = app.http.get(format!("{}/fdx/v6/accounts", app.issuer)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers().get("www-authenticate").is_some());
    assert_eq!(anonymous.json::<Value>().await.unwrap()["code"], "603");
    let management = app.management_token("consent_management").await;
    let refused = app.get("/fdx/v6/accounts", &management).await;
    assert_eq!(refused.status, 403, "a client_credentials token reads no data");

    // The audit log holds every access under the consent: reads served, refusals denied.
    let gateway = sandbox.gateway.as_ref().unwrap();
    let log = access_log(gateway, &consent_id).await;
    let served: Vec<&str> =
        log.iter().filter(|r| r.outcome == gateway::store::AuditOutcome::Served).map(|r| r.endpoint.as_str()).collect();
    assert!(
        served.contains(&"accounts") && served.contains(&"account") && served.contains(&"transactions"),
        "{served:?}"
    );
    assert_eq!(served.len(), 3 + pages, "every served read is recorded once");
    assert!(pages > 1, "the history took several pages");
    let denied = log.iter().filter(|r| r.outcome == gateway::store::AuditOutcome::Denied).count();
    assert_eq!(denied, 5, "three 404s and two 403s");
    let first_record = log.last().unwrap();
    assert_eq!(first_record.interaction_id, "e2e-interaction-1");
    assert_eq!(first_record.client_id, bankgate::sandbox::SANDBOX_APP_CLIENT);
    assert_eq!(first_record.bank, "continental");
    assert!(log.iter().all(|r| r.person == first_record.person && !r.person.is_empty()));
    sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn bank_failures_become_fdx_errors_and_the_breaker_recovers_by_itself() {
    let sandbox = sandbox(Some(fragile_banks)).await;
    let app = App::of(&sandbox);
    let (_, token) = app.consent(consent_request(&["ACCOUNT_BASIC", "ACCOUNT_DETAILED"], None, 30)).await;
    assert_eq!(app.get("/fdx/v6/accounts", &token).await.status, 200);

    // Announced maintenance: 503 with the bank's Retry-After; the breaker does not count it.
    let until = (sandbox.banks[0].state.clock.now() + time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    set_faults(&sandbox, json!([{"endpoint": "accounts", "maintenanceUntil": until}])).await;
    for _ in 0..4 {
        let answer = app.get("/fdx/v6/accounts", &token).await;
        assert_eq!((answer.status, answer.body["code"].as_str()), (503, Some("503")), "{:?}", answer.body);
        let retry: u64 = answer.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((3000..=3600).contains(&retry), "{retry}");
    }
    // A 5xx, a malformed body (a 200 whose JSON is cut off), a reset: 502; a bank slower than the timeout: 504. Each
    // counts towards the breaker (threshold 3: three in a row), which then answers 503 at once without calling the
    // bank. The malformed 200 must not count as an answer that resets the streak.
    set_faults(&sandbox, json!([{"endpoint": "accounts", "error": {"rate": 1.0, "status": 500, "code": "500"}}])).await;
    let answer = app.get("/fdx/v6/accounts", &token).await;
    assert_eq!((answer.status, answer.body["code"].as_str()), (502, Some("502")), "{:?}", answer.body);
    set_faults(&sandbox, json!([{"endpoint": "accounts", "malformedBodyRate": 1.0}])).await;
    let answer = app.get("/fdx/v6/accounts", &token).await;
    assert_eq!((answer.status, answer.body["code"].as_str()), (502, Some("502")), "{:?}", answer.body);
    set_faults(&sandbox, json!([{"endpoint": "accounts", "latency": {"kind": "fixed", "ms": 5000}}])).await;
    let started = std::time::Instant::now();
    let answer = app.get("/fdx/v6/accounts", &token).await;
    assert_eq!((answer.status, answer.body["code"].as_str()), (504, Some("504")), "{:?}", answer.body);
    assert!(started.elapsed() < Duration::from_secs(4), "the per-bank timeout bounds the wait");
    let open = app.get("/fdx/v6/accounts", &token).await;
    assert_eq!(open.status, 503, "{:?}", open.body);
    assert!(open.headers.get("retry-after").is_some());
    assert!(open.body["debugMessage"].as_str().unwrap().contains("stopped calling"), "{:?}", open.body);

    // The bank heals; after the cooldown one probe passes and the circuit closes.
    set_faults(&sandbox, json!([])).await;
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let status = app.get("/fdx/v6/accounts", &token).await.status;
        statuses.push(status);
        if status == 200 {
            break;
        }
        // Bounded polling for the cooldown (400 ms) to run out.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(statuses.last(), Some(&200), "the breaker closes after its cooldown: {statuses:?}");
    assert!(statuses.iter().all(|s| *s == 503 || *s == 200), "{statuses:?}");
    set_faults(&sandbox, json!([{"endpoint": "accounts", "connectionResetRate": 1.0}])).await;
    assert_eq!(app.get("/fdx/v6/accounts", &token).await.status, 502);
    set_faults(&sandbox, json!([])).await;
    sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_client_over_its_rate_gets_429_with_fdx_1207() {
    let sandbox = sandbox(Some(strict_rate)).await;
    let app = App::of(&sandbox);
    let (_, token) = app.consent(consent_request(&["ACCOUNT_BASIC"], None, 30)).await;
    // Burst 40 at 1/s: the 41st request in a quick row is refused (a few seconds of refill at most).
    let mut statuses = Vec::new();
    for _ in 0..48 {
        let answer = app.get("/fdx/v6/accounts", &token).await;
        if answer.status == 429 {
            assert_eq!(answer.body["code"], "1207", "{:?}", answer.body);
            let retry: u64 = answer.headers["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=2).contains(&retry), "{retry}");
        }
        statuses.push(answer.status);
    }
    assert!(statuses[..40].iter().all(|s| *s == 200), "{statuses:?}");
    assert!(statuses[40..].contains(&429), "{statuses:?}");
    sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_expired_bank_token_is_refreshed_before_the_bank_is_called() {
    let sandbox = sandbox(None).await;
    let app = App::of(&sandbox);
    let request = consent_request(&["ACCOUNT_BASIC"], None, 30);
    let url = format!("{}/sandbox/consents", app.issuer);
    let tokens: Value = app
        .http
        .post(url)
        .basic_auth(&app.id, Some(&app.secret))
        .json(&request)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let consent_id = tokens["consent_id"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/fdx/v6/accounts", tokens["access_token"].as_str().unwrap()).await.status, 200);
    let gateway = sandbox.gateway.as_ref().unwrap();
    let before = gateway.state.store.bank_tokens(&consent_id).await.unwrap().unwrap();

    // An hour later the bank's access token (30 minutes) and the app's (5 minutes) have expired; the app refreshes
    // its own, and the gateway must refresh the bank's before calling the bank.
    sandbox.advance_clocks(time::Duration::hours(1)).await.unwrap();
    let form = [("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"].as_str().unwrap())];
    let url = format!("{}/token", app.issuer);
    let refreshed: Value = app
        .http
        .post(url)
        .basic_auth(&app.id, Some(&app.secret))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = refreshed["access_token"].as_str().unwrap_or_else(|| panic!("{refreshed}"));
    let answer = app.get("/fdx/v6/accounts", access).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let after = gateway.state.store.bank_tokens(&consent_id).await.unwrap().unwrap();
    assert_ne!(after.access_token, before.access_token, "a new bank access token was obtained and stored");
    assert!(after.expires_at > before.expires_at);
    sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_revocation_at_the_bank_reaches_the_gateway() {
    let sandbox = sandbox(None).await;
    let app = App::of(&sandbox);
    let (consent_id, token) = app.consent(consent_request(&["ACCOUNT_BASIC"], None, 30)).await;
    assert_eq!(app.get("/fdx/v6/accounts", &token).await.status, 200);
    // The person revokes at their bank (the bank's admin API stands in for the bank's own pages).
    let bank = &sandbox.banks[0];
    let at_bank = bank.state.auth.consents_of(0);
    assert_eq!(at_bank.len(), 1);
    let url = format!("{}/admin/consents/{}/revoke", sandbox.endpoints.banks[0].admin, at_bank[0].consent_id);
    let admin = https_client(sandbox.pki.ca_pem(), None);
    let response = admin.post(url).bearer_auth(&sandbox.endpoints.admin_token).send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());

    let answer = app.get("/fdx/v6/accounts", &token).await;
    assert_eq!((answer.status, answer.body["code"].as_str()), (401, Some("603")), "{:?}", answer.body);
    let gateway = sandbox.gateway.as_ref().unwrap();
    let consent = gateway.state.store.consent(&consent_id).await.unwrap().unwrap();
    assert_eq!(consent.status, gateway::consent::ConsentStatus::Revoked);
    assert_eq!(consent.revocations[0].initiator, gateway::consent::Initiator::Bank);
    // The app sees it on the FDX consent API too.
    let management = app.management_token("consent_management").await;
    let view = app.get(&format!("/consents/{consent_id}"), &management).await;
    assert_eq!(view.body["status"], "REVOKED", "{:?}", view.body);
    sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn once_a_revocation_is_acknowledged_no_data_response_follows() {
    let sandbox = sandbox(None).await;
    let app = std::sync::Arc::new(App::of(&sandbox));
    let (consent_id, token) = app.consent(consent_request(&["ACCOUNT_BASIC"], None, 30)).await;
    // A slow bank keeps requests in flight while the revocation lands.
    set_faults(&sandbox, json!([{"endpoint": "accounts", "latency": {"kind": "uniform", "minMs": 0, "maxMs": 300}}]))
        .await;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let served = std::sync::Arc::new(AtomicUsize::new(0));
    let revoked = std::sync::Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (app, token, served, revoked) = (app.clone(), token.clone(), served.clone(), revoked.clone());
        readers.push(tokio::spawn(async move {
            // (sent at, status); a reader stops at its first refusal sent after the acknowledgement.
            let mut seen = Vec::new();
            for _ in 0..300 {
                let after_ack = revoked.load(Ordering::SeqCst);
                let sent = std::time::Instant::now();
                let status = app.get("/fdx/v6/accounts", &token).await.status;
                seen.push((sent, status));
                if status == 200 {
                    served.fetch_add(1, Ordering::SeqCst);
                } else if after_ack {
                    break;
                }
            }
            seen
        }));
    }
    // Revoke once data is flowing on every reader.
    let flowing = eventually(Duration::from_secs(20), || (served.load(Ordering::SeqCst) >= 8).then_some(())).await;
    assert!(flowing.is_some(), "the readers got data before the revocation");
    let management = app.management_token("grant_management_revoke").await;
    let response =
        app.http.delete(format!("{}/grants/{consent_id}", app.issuer)).bearer_auth(&management).send().await.unwrap();
    let acknowledged = std::time::Instant::now();
    revoked.store(true, Ordering::SeqCst);
    assert_eq!(response.status(), 204);
    let mut after = 0;
    for reader in readers {
        let seen = reader.await.unwrap();
        assert_eq!(seen.last().map(|(_, status)| *status), Some(401), "every reader ends refused");
        for (sent, status) in seen {
            assert!(status == 200 || status == 401, "{status}");
            if sent >= acknowledged {
                after += 1;
                assert_eq!(status, 401, "a request sent after the acknowledgement got data");
            }
        }
    }
    assert!(after > 0, "requests raced past the acknowledgement");
    // Nothing was served after the revocation's commit: every served audit record precedes it.
    let gateway = sandbox.gateway.as_ref().unwrap();
    let consent = gateway.state.store.consent(&consent_id).await.unwrap().unwrap();
    let revoked_at: OffsetDateTime = consent.revocations[0].at;
    let log = access_log(gateway, &consent_id).await;
    assert!(log.iter().any(|r| r.outcome == gateway::store::AuditOutcome::Served));
    assert!(
        log.iter().filter(|r| r.outcome == gateway::store::AuditOutcome::Served).all(|r| r.at <= revoked_at),
        "a data response was recorded after the revocation"
    );
    sandbox.shutdown().await.unwrap();
}
