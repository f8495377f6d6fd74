//! The sandbox-only consent shortcut over real HTTPS (issue 3): the sandbox client `bankgate up` declares calls
//! `POST /sandbox/consents` with a test user's public credentials and gets tokens without a browser; the consent is
//! the same AUTHORIZED consent the browser flow creates, with the accounts chosen, at the gateway and at the bank.

use crate::support::{gateway_sandbox, https_client};
use bankgate::{Sandbox, sandbox::SANDBOX_APP_CLIENT};
use serde_json::{Value, json};

struct Tour {
    http: reqwest::Client,
    issuer: String,
    id: String,
    secret: String,
}

impl Tour {
    fn of(sandbox: &Sandbox) -> Tour {
        let gateway = sandbox.endpoints.gateway.as_ref().expect("gateway runs");
        let client = sandbox.sandbox_client.as_ref().expect("the sandbox client is declared");
        assert_eq!(gateway.sandbox_client_id.as_deref(), Some(SANDBOX_APP_CLIENT));
        assert_eq!(gateway.sandbox_client_secret.as_deref(), Some(client.client_secret.as_str()));
        assert!(!format!("{client:?}").contains(&client.client_secret), "Debug hides the secret");
        Tour {
            http: https_client(sandbox.pki.ca_pem(), None),
            issuer: gateway.issuer.clone(),
            id: client.client_id.clone(),
            secret: client.client_secret.clone(),
        }
    }

    /// The shortcut, authenticated with HTTP Basic as the README's curl does.
    async fn shortcut(&self, body: Value) -> (u16, Value) {
        let url = format!("{}/sandbox/consents", self.issuer);
        let response = self.http.post(url).basic_auth(&self.id, Some(&self.secret)).json(&body).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    async fn introspect(&self, token: &str) -> Value {
        let url = format!("{}/introspect", self.issuer);
        let response = self
            .http
            .post(url)
            .basic_auth(&self.id, Some(&self.secret))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// `GET /consents/{id}` with a client_credentials token of the sandbox client.
    async fn consent(&self, consent_id: &str) -> Value {
        let form = [("grant_type", "client_credentials"), ("scope", "consent_management")];
        let token = format!("{}/token", self.issuer);
        let response = self.http.post(token).basic_auth(&self.id, Some(&self.secret)).form(&form).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let management: Value = response.json().await.unwrap();
        let access = management["access_token"].as_str().unwrap();
        let url = format!("{}/consents/{consent_id}", self.issuer);
        let response = self.http.get(url).bearer_auth(access).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

fn shared_accounts(consent: &Value) -> Vec<String> {
    let resources = consent["resources"].as_array().expect("resources");
    let mut ids: Vec<String> = resources
        .iter()
        .filter(|r| r["resourceType"] == "ACCOUNT")
        .map(|r| r["resourceId"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn the_shortcut_gives_tokens_for_an_authorized_consent_without_a_browser() {
    let sandbox = gateway_sandbox().await;
    let tour = Tour::of(&sandbox);
    let metadata: Value = tour
        .http
        .get(format!("{}/.well-known/oauth-authorization-server", tour.issuer))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["bankgate_sandbox_consents_endpoint"], format!("{}/sandbox/consents", tour.issuer));

    // user_good, the documented default request: every account of the customer.
    let (status, body) =
        tour.shortcut(json!({"bank": "continental", "username": "user_good", "password": "pass_good"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer", "the sandbox client gets bearer tokens");
    assert!(body["refresh_token"].as_str().is_some_and(|t| !t.is_empty()));
    let consent_id = body["consent_id"].as_str().expect("consent_id").to_owned();
    assert_eq!(body["grant_id"], consent_id.as_str());
    assert_eq!(body["authorization_details"][0]["durationType"], "TIME_BOUND");
    assert_eq!(body["authorization_details"][0]["durationPeriod"], 90);
    let access = body["access_token"].as_str().unwrap();
    let introspection = tour.introspect(access).await;
    assert_eq!(introspection["active"], true);
    assert_eq!(introspection["consent_id"], consent_id.as_str());
    let consent = tour.consent(&consent_id).await;
    assert_eq!(consent["status"], "ACTIVE", "FDX 6.2 names an AUTHORIZED consent ACTIVE");
    let bank = &sandbox.banks[0];
    let mut every: Vec<String> = bank.state.ledger.accounts(0).iter().map(|a| a.account_id.clone()).collect();
    every.sort();
    assert!(!every.is_empty());
    assert_eq!(shared_accounts(&consent), every);
    // The bank holds the matching consent for the gateway's client.
    let at_bank = bank.state.auth.consents_of(0);
    assert_eq!(at_bank.len(), 1);
    assert_eq!(at_bank[0].client_id, bankgate::sandbox::GATEWAY_CLIENT);

    // user_mfa with the one-time code, one chosen account, a narrower request.
    let mfa_account = bank.state.ledger.accounts(1)[0].account_id.clone();
    let request = json!({
        "bank": "continental",
        "username": "user_mfa",
        "password": "pass_good",
        "mfa_code": "123456",
        "account_ids": [mfa_account],
        "authorization_details": [{
            "type": "fdx_consent",
            "dataClusters": ["ACCOUNT_BASIC", "TRANSACTIONS"],
            "durationType": "ONE_TIME",
            "lookbackPeriod": 30,
            "purposes": ["account_verification"],
        }],
    });
    let (status, body) = tour.shortcut(request).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("refresh_token").is_none(), "no refresh token for a ONE_TIME consent");
    let consent_id = body["consent_id"].as_str().unwrap();
    let introspection = tour.introspect(body["access_token"].as_str().unwrap()).await;
    assert_eq!(introspection["active"], true);
    assert_eq!(introspection["consent_id"], consent_id);
    let consent = tour.consent(consent_id).await;
    assert_eq!(consent["status"], "ACTIVE", "FDX 6.2 names an AUTHORIZED consent ACTIVE");
    assert_eq!(shared_accounts(&consent), vec![mfa_account]);

    // Without the code, the MFA user is refused by the bank, and no consent is made.
    let (status, body) =
        tour.shortcut(json!({"bank": "continental", "username": "user_mfa", "password": "pass_good"})).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert_eq!(bank.state.auth.consents_of(1).len(), 1);

    sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn refused_logins_and_requests_are_oauth_errors() {
    let sandbox = gateway_sandbox().await;
    let tour = Tour::of(&sandbox);
    let (status, body) =
        tour.shortcut(json!({"bank": "summit", "username": "user_locked", "password": "pass_good"})).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert_eq!(body["error_description"], "account locked");
    let (status, body) = tour.shortcut(json!({"bank": "summit", "username": "user_good", "password": "wrong"})).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert!(!body.to_string().contains("wrong\""), "the password is not echoed");

    // A secondary use needs the explicit opt-in, checked before the bank is asked.
    let advertising = json!([{
        "type": "fdx_consent",
        "dataClusters": ["TRANSACTIONS"],
        "durationType": "TIME_BOUND",
        "durationPeriod": 30,
        "lookbackPeriod": 90,
        "purposes": ["targeted_advertising"],
    }]);
    let request = json!({"bank": "summit", "username": "user_good", "password": "pass_good",
        "authorization_details": advertising});
    let (status, body) = tour.shortcut(request.clone()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("secondary_use_opt_in"));
    let mut opted_in = request;
    opted_in["secondary_use_opt_in"] = json!(true);
    let (status, body) = tour.shortcut(opted_in).await;
    assert_eq!(status, 200, "{body}");

    // Wrong secret: invalid_client, nothing created.
    let response = tour
        .http
        .post(format!("{}/sandbox/consents", tour.issuer))
        .basic_auth(&tour.id, Some("not-the-secret"))
        .json(&json!({"bank": "summit", "username": "user_good", "password": "pass_good"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let summit = &sandbox.banks[1];
    assert_eq!(summit.state.auth.consents_of(0).len(), 1, "only the opted-in request made a consent");
    sandbox.shutdown().await.unwrap();
}

/// Established TCP connections (IPv4 and IPv6, this machine's network namespace) whose remote port is `port`.
fn established_to(port: u16) -> usize {
    let remote_port = |line: &str| -> Option<(u16, bool)> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let remote = fields.get(2)?;
        let port = u16::from_str_radix(remote.rsplit(':').next()?, 16).ok()?;
        Some((port, fields.get(3) == Some(&"01")))
    };
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .flat_map(|table| table.lines().skip(1).filter_map(remote_port).collect::<Vec<_>>())
        .filter(|&(remote, established)| established && remote == port)
        .count()
}

/// The gateway's OAuth calls and notification subscriptions share one HTTP/2 connection to the bank (transport
/// docs): on the HTTP/1.1 pool, concurrent consents opened a connection per call that found none idle, and those
/// the pool did not keep stayed open (they grew without bound under load). 16 shortcuts at once (each a token
/// request at the bank, then the subscriptions) leave the gateway with one connection to the bank's API.
#[tokio::test]
async fn concurrent_consents_share_one_connection_to_the_bank() {
    let sandbox = gateway_sandbox().await;
    let tour = std::sync::Arc::new(Tour::of(&sandbox));
    let api: reqwest::Url = sandbox.endpoints.banks[0].api.parse().unwrap();
    let port = api.port().expect("the bank's API has an explicit port");
    let before = established_to(port);
    let shortcuts: Vec<_> = (0..16)
        .map(|_| {
            let tour = tour.clone();
            tokio::spawn(async move {
                tour.shortcut(json!({"bank": "continental", "username": "user_good", "password": "pass_good"})).await
            })
        })
        .collect();
    for shortcut in shortcuts {
        let (status, body) = shortcut.await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    let after = established_to(port);
    assert!(after >= 1, "the gateway keeps its connection to the bank");
    assert!(after.saturating_sub(before) <= 1, "{before} connections to the bank before, {after} after 16 consents");
}
