//! The whole consent flow over real HTTPS, as DESIGN.md flows 1-3 describe it: an app registers at the gateway
//! (RFC 7591, tls_client_auth), pushes its authorization request (PAR) carrying an `fdx_consent`
//! authorization_details; a person chooses a bank on the gateway's consent page, logs in at that bank's own pages,
//! shares accounts, approves at the gateway; the app exchanges the code with PKCE over mutual TLS and gets
//! certificate-bound tokens naming the consent.

use crate::support::https_client;
use bankgate::{
    Sandbox, SandboxOptions,
    person::{LoginOutcome, LoginPlan, Person, Pkce},
    sandbox::SAMPLE_APP_CLIENTS,
};
use serde_json::{Value, json};
use time::macros::datetime;

const REDIRECT: &str = "https://app.example/callback";

async fn sandbox() -> Sandbox {
    certs::install_crypto_provider();
    let options = SandboxOptions {
        customers: Some(20),
        banks: Some(vec!["continental".into(), "summit".into()]),
        start: Some(datetime!(2026-03-04 15:00 UTC)),
        ..SandboxOptions::default()
    };
    Sandbox::start(options).await.expect("sandbox starts")
}

/// The sample app over mutual TLS, registered at the gateway as a `fapi2` tls_client_auth client.
async fn register_app(sandbox: &Sandbox) -> (reqwest::Client, String, String) {
    let identity = sandbox.pki.issue_client(SAMPLE_APP_CLIENTS[0]).unwrap();
    let app = https_client(sandbox.pki.ca_pem(), Some(format!("{}{}", identity.cert_pem, identity.key_pem)));
    let issuer = sandbox.endpoints.gateway.as_ref().expect("gateway runs").issuer.clone();
    let registration = json!({
        "client_name": "Budget Buddy",
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "tls_client_auth",
        "tls_client_auth_san_uri": certs::client_uri(SAMPLE_APP_CLIENTS[0]),
        "grant_types": ["authorization_code", "refresh_token"],
        "purposes": ["personal_finance_management"],
    });
    let response = app.post(format!("{issuer}/register")).json(&registration).send().await.unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap_or_default());
    let body: Value = response.json().await.unwrap();
    (app, issuer, body["client_id"].as_str().unwrap().to_owned())
}

async fn push(app: &reqwest::Client, issuer: &str, client_id: &str, pkce: &Pkce, state: &str) -> String {
    let details = json!([{
        "type": "fdx_consent",
        "dataClusters": ["ACCOUNT_BASIC", "ACCOUNT_DETAILED", "TRANSACTIONS"],
        "durationType": "TIME_BOUND",
        "durationPeriod": 90,
        "lookbackPeriod": 365,
        "purposes": ["personal_finance_management"],
    }]);
    let form = [
        ("client_id", client_id),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("state", state),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("authorization_details", &details.to_string()),
    ];
    let response = app.post(format!("{issuer}/par")).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap_or_default());
    let body: Value = response.json().await.unwrap();
    body["request_uri"].as_str().unwrap().to_owned()
}

fn origins(sandbox: &Sandbox, issuer: &str) -> Vec<String> {
    let mut origins = vec![issuer.to_owned()];
    origins.extend(sandbox.endpoints.banks.iter().map(|b| b.login.clone()));
    origins
}

#[tokio::test]
async fn a_person_consents_through_the_gateway_and_the_app_gets_bound_tokens() {
    let sandbox = sandbox().await;
    let (app, issuer, client_id) = register_app(&sandbox).await;
    let pkce = Pkce::new().unwrap();
    let request_uri = push(&app, &issuer, &client_id, &pkce, "st-1").await;

    let mut person = Person::new(sandbox.pki.ca_pem()).unwrap();
    let authorize = reqwest::Url::parse_with_params(
        &format!("{issuer}/authorize"),
        [("client_id", client_id.as_str()), ("request_uri", request_uri.as_str())],
    )
    .unwrap();
    let plan = LoginPlan { bank: Some("continental"), ..LoginPlan::user("user_mfa") };
    let outcome = person.walk(authorize.as_str(), &plan, &origins(&sandbox, &issuer)).await.unwrap();
    assert_eq!(outcome.param("state"), Some("st-1"), "{outcome:?}");
    assert_eq!(outcome.param("iss"), Some(issuer.as_str()), "RFC 9207: the gateway names itself");
    let code = outcome.param("code").unwrap_or_else(|| panic!("an authorization code: {outcome:?}")).to_owned();

    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", pkce.verifier.as_str()),
        ("client_id", client_id.as_str()),
    ];
    let response = app.post(format!("{issuer}/token")).form(&exchange).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());
    let tokens: Value = response.json().await.unwrap();
    assert!(tokens["access_token"].is_string() && tokens["refresh_token"].is_string(), "{tokens}");
    assert!(tokens["grant_id"].is_string());
    assert!(tokens["authorization_details"].to_string().contains("TRANSACTIONS"));

    let introspection = [("token", tokens["access_token"].as_str().unwrap()), ("client_id", client_id.as_str())];
    let active: Value =
        app.post(format!("{issuer}/introspect")).form(&introspection).send().await.unwrap().json().await.unwrap();
    assert_eq!(active["active"], true, "{active}");
    assert!(active["cnf"]["x5t#S256"].is_string(), "certificate-bound (RFC 8705): {active}");

    // The code is single use: a second exchange fails and revokes what the first one issued.
    let again = app.post(format!("{issuer}/token")).form(&exchange).send().await.unwrap();
    assert_eq!(again.status(), 400);
    let after: Value =
        app.post(format!("{issuer}/introspect")).form(&introspection).send().await.unwrap().json().await.unwrap();
    assert_eq!(after["active"], false, "a replayed code revokes the tokens issued from it");
    sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_person_who_denies_sends_the_app_access_denied() {
    let sandbox = sandbox().await;
    let (app, issuer, client_id) = register_app(&sandbox).await;
    let pkce = Pkce::new().unwrap();
    let request_uri = push(&app, &issuer, &client_id, &pkce, "st-2").await;
    let mut person = Person::new(sandbox.pki.ca_pem()).unwrap();
    let authorize = format!("{issuer}/authorize?client_id={client_id}&request_uri={request_uri}");
    let plan = LoginPlan { bank: Some("summit"), approve: false, ..LoginPlan::user("user_good") };
    match person.walk(&authorize, &plan, &origins(&sandbox, &issuer)).await.unwrap() {
        outcome @ LoginOutcome::Redirected { .. } => {
            assert_eq!(outcome.param("error"), Some("access_denied"));
            // Denied at the gateway's final confirmation, after the bank round trip (not a refusal by the bank).
            assert_eq!(outcome.param("error_description"), Some("the person declined the consent"));
            assert_eq!(outcome.param("state"), Some("st-2"));
            assert!(outcome.param("code").is_none());
        }
        page => panic!("denial must go back to the app, got {page:?}"),
    }
    sandbox.shutdown().await.unwrap();
}
