//! `Sandbox::advance_clocks` moves the banks' simulated clocks and the gateway's clock together: an authorization
//! code obtained through the whole consent flow is refused once the clocks moved past its 60 s lifetime (RFC 6749
//! §4.1.2, issue 3), with no sleeping.

use crate::consent_flow::{REDIRECT, origins, push, register_app};
use crate::support::{START, gateway_sandbox};
use bankgate::person::{LoginPlan, Person, Pkce};
use gateway::config::Clock as _;
use serde_json::Value;
use time::Duration;

#[tokio::test]
async fn an_authorization_code_expires_when_the_sandbox_clocks_move_61_seconds() {
    let sandbox = gateway_sandbox().await;
    // A tls_client_auth app (no assertion whose wall-clock `exp` the moved clock would outrun).
    let (app, issuer, client_id) = register_app(&sandbox).await;
    let pkce = Pkce::new().unwrap();
    let request_uri = push(&app, &issuer, &client_id, &pkce, "clock-1").await;

    let mut person = Person::new(sandbox.pki.ca_pem()).unwrap();
    let authorize = reqwest::Url::parse_with_params(
        &format!("{issuer}/authorize"),
        [("client_id", client_id.as_str()), ("request_uri", request_uri.as_str())],
    )
    .unwrap();
    let plan = LoginPlan { bank: Some("continental"), ..LoginPlan::user("user_good") };
    let outcome = person.walk(authorize.as_str(), &plan, &origins(&sandbox, &issuer)).await.unwrap();
    let code = outcome.param("code").unwrap_or_else(|| panic!("an authorization code: {outcome:?}")).to_owned();

    let gateway_before = sandbox.gateway_clock.now();
    sandbox.advance_clocks(Duration::seconds(61)).await.expect("clocks move");
    for bank in &sandbox.banks {
        assert_eq!(bank.state.clock.now(), START + Duration::seconds(61), "the bank's clock moved");
    }
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
