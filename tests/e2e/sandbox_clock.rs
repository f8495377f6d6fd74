//! `Sandbox::advance_clocks` moves the banks' simulated clocks and the gateway's clock together: an authorization
//! code obtained through the whole consent flow is refused once the clocks moved past its 60 s lifetime (RFC 6749
//! §4.1.2, issue 3), with no sleeping.

use crate::support::https_client;
use bankgate::{
    Sandbox, SandboxOptions,
    person::{LoginPlan, Person, Pkce},
    sandbox::SAMPLE_APP_CLIENTS,
};
use gateway::config::Clock as _;
use serde_json::{Value, json};
use time::{Duration, macros::datetime};

const REDIRECT: &str = "https://clock.example/callback";

#[tokio::test]
async fn an_authorization_code_expires_when_the_sandbox_clocks_move_61_seconds() {
    certs::install_crypto_provider();
    let start = datetime!(2026-03-04 15:00 UTC);
    let options = SandboxOptions {
        customers: Some(20),
        banks: Some(vec!["continental".into()]),
        start: Some(start),
        ..SandboxOptions::default()
    };
    let sandbox = Sandbox::start(options).await.expect("sandbox starts");
    let issuer = sandbox.endpoints.gateway.as_ref().expect("gateway runs").issuer.clone();

    // A tls_client_auth app (no assertion whose wall-clock `exp` the moved clock would outrun).
    let identity = sandbox.pki.issue_client(SAMPLE_APP_CLIENTS[0]).unwrap();
    let app = https_client(sandbox.pki.ca_pem(), Some(format!("{}{}", identity.cert_pem, identity.key_pem)));
    let registration = json!({
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "tls_client_auth",
        "tls_client_auth_san_uri": certs::client_uri(SAMPLE_APP_CLIENTS[0]),
        "grant_types": ["authorization_code"],
        "purposes": ["personal_finance_management"],
    });
    let registered: Value =
        app.post(format!("{issuer}/register")).json(&registration).send().await.unwrap().json().await.unwrap();
    let client_id = registered["client_id"].as_str().unwrap_or_else(|| panic!("registered: {registered}")).to_owned();

    let pkce = Pkce::new().unwrap();
    let details = json!([{"type": "fdx_consent", "dataClusters": ["ACCOUNT_BASIC"], "durationType": "TIME_BOUND",
        "durationPeriod": 30, "lookbackPeriod": 90, "purposes": ["personal_finance_management"]}]);
    let push = [
        ("client_id", client_id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("state", "clock-1"),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("authorization_details", &details.to_string()),
    ];
    let pushed: Value = app.post(format!("{issuer}/par")).form(&push).send().await.unwrap().json().await.unwrap();
    let request_uri = pushed["request_uri"].as_str().unwrap_or_else(|| panic!("PAR: {pushed}")).to_owned();

    let mut person = Person::new(sandbox.pki.ca_pem()).unwrap();
    let authorize = reqwest::Url::parse_with_params(
        &format!("{issuer}/authorize"),
        [("client_id", client_id.as_str()), ("request_uri", request_uri.as_str())],
    )
    .unwrap();
    let origins = vec![issuer.clone(), sandbox.endpoints.banks[0].login.clone()];
    let plan = LoginPlan { bank: Some("continental"), ..LoginPlan::user("user_good") };
    let outcome = person.walk(authorize.as_str(), &plan, &origins).await.unwrap();
    let code = outcome.param("code").unwrap_or_else(|| panic!("an authorization code: {outcome:?}")).to_owned();

    let gateway_before = sandbox.gateway_clock.now();
    sandbox.advance_clocks(Duration::seconds(61)).await.expect("clocks move");
    assert_eq!(sandbox.banks[0].state.clock.now(), start + Duration::seconds(61), "the bank's clock moved");
    assert!(sandbox.gateway_clock.now() >= gateway_before + Duration::seconds(61), "the gateway's clock moved");
    assert!(sandbox.advance_clocks(Duration::seconds(-1)).await.is_err(), "clocks never move back");

    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", pkce.verifier.as_str()),
        ("client_id", client_id.as_str()),
    ];
    let response = app.post(format!("{issuer}/token")).form(&exchange).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant", "an expired code: {body}");
    sandbox.shutdown().await.unwrap();
}
