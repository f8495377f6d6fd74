//! The gateway as a bank's OAuth client over real HTTPS and mutual TLS: authorize URL, the person logs in at the
//! bank, the redirect is checked (state, RFC 9207 iss), the code is exchanged with the gateway-client certificate,
//! FDX data is read with the bank token, refreshed and revoked; mix-ups and untrusted banks are refused cleanly.

use bankgate::{
    Sandbox, SandboxOptions,
    person::{LoginOutcome, LoginPlan, Person},
    sandbox::GATEWAY_CLIENT,
};
use gateway::banks::{
    BankCallError, BankClient, BankClientSettings, BankDirectory, BankOAuthError, BankSecret, BankTimeouts,
    BankTokenKind, CallbackError, PkceVerifier,
};
use mock_bank::login::OAuthClient;
use std::time::Duration;
use time::{OffsetDateTime, macros::datetime};

const REDIRECT: &str = "https://gateway.test/banks/callback";
const START: OffsetDateTime = datetime!(2026-03-04 15:00 UTC);

async fn sandbox(banks: &[&str]) -> Sandbox {
    certs::install_crypto_provider();
    let options = SandboxOptions {
        customers: Some(50),
        banks: Some(banks.iter().map(|b| (*b).to_owned()).collect()),
        start: Some(START),
        oauth_clients: vec![OAuthClient { client_id: GATEWAY_CLIENT.into(), redirect_uris: vec![REDIRECT.into()] }],
        ..SandboxOptions::default()
    };
    Sandbox::start(options).await.expect("sandbox starts")
}

/// The directory the way a deployed gateway gets it: from the endpoints.json shape.
fn directory(sandbox: &Sandbox) -> BankDirectory {
    let json = serde_json::to_vec(&sandbox.endpoints).unwrap();
    gateway::banks::SandboxEndpoints::parse(&json).expect("endpoints.json shape").banks
}

fn settings() -> BankClientSettings {
    BankClientSettings {
        client_id: GATEWAY_CLIENT.into(),
        redirect_uri: REDIRECT.into(),
        timeouts: BankTimeouts {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(20),
            ..Default::default()
        },
        breaker: Default::default(),
    }
}

fn bank_client(sandbox: &Sandbox, bank_id: &str) -> BankClient {
    let bank = directory(sandbox).get(bank_id).expect("bank in the directory").clone();
    BankClient::new(bank, &sandbox.pki.ca_der(), &sandbox.gateway_identity, &settings()).expect("bank client")
}

fn scopes() -> Vec<String> {
    ["fdx:accountbasic:read", "fdx:accountdetailed:read", "fdx:transactions:read"].map(str::to_owned).to_vec()
}

/// The person logs in at the bank from the gateway's authorize URL; returns the redirect's query parameters.
async fn log_in(
    sandbox: &Sandbox,
    client: &BankClient,
    state: &str,
    plan: &LoginPlan<'_>,
) -> (Vec<(String, String)>, PkceVerifier) {
    let (url, verifier) = client.authorize_url(state, &scopes(), &["budgeting".into()], None, None, Some(90));
    let mut person = Person::new(sandbox.pki.ca_pem()).unwrap();
    match person.log_in(url.as_str(), plan).await.unwrap() {
        LoginOutcome::Redirected { location, params } => {
            assert!(location.starts_with(REDIRECT), "back to the gateway's redirect URI: {location}");
            (params, verifier)
        }
        other => panic!("the login should end at the gateway's redirect URI, got {other:?}"),
    }
}

const GOOD: LoginPlan<'static> = LoginPlan {
    username: "user_good",
    password: "pass_good",
    mfa_code: None,
    accounts: None,
    bank: None,
    opt_in: false,
    approve: true,
};

#[tokio::test]
async fn gateway_gets_bank_tokens_reads_accounts_refreshes_and_revokes() {
    let sandbox = sandbox(&["continental"]).await;
    let client = bank_client(&sandbox, "continental");
    let (params, verifier) = log_in(&sandbox, &client, "st-good", &GOOD).await;
    let code = client.verify_callback(params.iter().map(|(k, v)| (k, v)), "st-good").expect("state and iss match");

    let tokens = client.exchange_code(&code, &verifier, START).await.expect("code exchanged over mTLS");
    assert!(tokens.consent_id.starts_with("bc_"), "{tokens:?}");
    assert!(tokens.account_ids.len() >= 2, "user_good shares every account: {tokens:?}");
    assert!(tokens.expires_at.is_some_and(|at| at > START));
    let granted = tokens.scope.clone().expect("scope in the response");
    assert!(granted.contains(&"fdx:transactions:read".to_owned()), "{granted:?}");
    assert!(!format!("{tokens:?}").contains(tokens.access_token.expose()), "tokens print as <hidden>");

    let accounts = client.get_json("/fdx/v6/accounts", &tokens.access_token, "ia-1").await.expect("FDX accounts");
    assert_eq!(accounts.status, 200, "{accounts:?}");
    assert_eq!(accounts.interaction_id.as_deref(), Some("ia-1"), "the bank echoes x-fapi-interaction-id");
    let listed = accounts.body["accounts"].as_array().expect("FDX accounts array");
    assert_eq!(listed.len(), tokens.account_ids.len());

    let refresh_token = tokens.refresh_token.clone().expect("a refresh token");
    let refreshed = client.refresh(&refresh_token, START).await.expect("refresh");
    assert_ne!(refreshed.access_token, tokens.access_token, "a new access token");
    assert_eq!(refreshed.consent_id, tokens.consent_id);
    let again = client.get_json("/fdx/v6/accounts", &refreshed.access_token, "ia-2").await.unwrap();
    assert_eq!(again.status, 200);

    // RFC 7009: the revoked access token stops working at once; its consent lives on until the refresh token goes.
    client.revoke(&refreshed.access_token, BankTokenKind::Access).await.expect("revoke access token");
    let revoked = client.get_json("/fdx/v6/accounts", &refreshed.access_token, "ia-3").await.unwrap();
    assert_eq!(revoked.status, 401, "{revoked:?}");
    assert_eq!(revoked.body["code"], "603", "FDX error body for an unusable token: {:?}", revoked.body);
    client.revoke(&refresh_token, BankTokenKind::Refresh).await.expect("revoke refresh token");
    let after = client.refresh(&refresh_token, START).await.unwrap_err();
    assert!(matches!(&after, BankOAuthError::Refused { error, .. } if error == "invalid_grant"), "{after:?}");
    assert!(!after.is_retryable());
    let first = client.get_json("/fdx/v6/accounts", &tokens.access_token, "ia-4").await.unwrap();
    assert_eq!(first.status, 401, "revoking the refresh token ends the whole consent");
    // RFC 6749 §4.1.2: the code is single-use (a second redemption is refused).
    let again = client.exchange_code(&code, &verifier, START).await.unwrap_err();
    assert!(matches!(&again, BankOAuthError::Refused { error, .. } if error == "invalid_grant"), "{again:?}");
    sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn mfa_user_completes_the_flow_and_the_gateway_reads_accounts() {
    let sandbox = sandbox(&["continental"]).await;
    let client = bank_client(&sandbox, "continental");
    let plan = LoginPlan {
        username: "user_mfa",
        password: "pass_good",
        mfa_code: Some("123456"),
        accounts: None,
        ..LoginPlan::user("")
    };
    let (params, verifier) = log_in(&sandbox, &client, "st-mfa", &plan).await;
    let code = client.verify_callback(params.iter().map(|(k, v)| (k, v)), "st-mfa").unwrap();
    let tokens = client.exchange_code(&code, &verifier, START).await.unwrap();
    let accounts = client.get_json("/fdx/v6/accounts", &tokens.access_token, "ia-mfa").await.unwrap();
    assert_eq!(accounts.status, 200);
    assert!(!accounts.body["accounts"].as_array().unwrap().is_empty());
    // A wrong verifier never redeems a code (RFC 7636 §4.6).
    let (params, _verifier) = log_in(&sandbox, &client, "st-mfa-2", &plan).await;
    let code = client.verify_callback(params.iter().map(|(k, v)| (k, v)), "st-mfa-2").unwrap();
    let wrong = client.exchange_code(&code, &PkceVerifier::new("x".repeat(43)), START).await.unwrap_err();
    assert!(matches!(&wrong, BankOAuthError::Refused { error, .. } if error == "invalid_grant"), "{wrong:?}");
    sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_redirect_with_another_banks_iss_or_a_foreign_state_is_refused() {
    let sandbox = sandbox(&["continental", "harbor"]).await;
    let continental = bank_client(&sandbox, "continental");
    let harbor = bank_client(&sandbox, "harbor");
    let (params, _verifier) = log_in(&sandbox, &continental, "st-mix", &GOOD).await;
    let pairs = || params.iter().map(|(k, v)| (k.as_str(), v.as_str()));

    // Mix-up (RFC 9207): Continental's response presented as if it came back from Harbor.
    let mixed = harbor.verify_callback(pairs(), "st-mix").unwrap_err();
    assert!(
        matches!(&mixed, CallbackError::IssuerMismatch { received } if received == continental.bank().issuer()),
        "{mixed:?}"
    );
    // CSRF (RFC 6749 §10.12): the response belongs to another authorization request.
    assert_eq!(continental.verify_callback(pairs(), "st-other").unwrap_err(), CallbackError::StateMismatch);
    // A forged iss for the right bank.
    let forged = pairs().map(|(k, v)| if k == "iss" { (k, "https://127.0.0.1:1") } else { (k, v) });
    assert!(matches!(continental.verify_callback(forged, "st-mix"), Err(CallbackError::IssuerMismatch { .. })));
    let without_iss = pairs().filter(|(k, _)| *k != "iss");
    assert_eq!(continental.verify_callback(without_iss, "st-mix").unwrap_err(), CallbackError::MissingIssuer);
    sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_bank_whose_ca_the_gateway_does_not_trust_fails_cleanly() {
    let sandbox = sandbox(&["continental"]).await;
    let stranger = certs::Pki::generate().unwrap();
    let identity = stranger.issue_client(GATEWAY_CLIENT).unwrap();
    let bank = directory(&sandbox).get("continental").unwrap().clone();
    let client = BankClient::new(bank, &stranger.ca_der(), &identity, &settings()).unwrap();

    let error = client.get_json("/fdx/v6/accounts", &BankSecret::new("t"), "ia-x").await.unwrap_err();
    assert!(matches!(error, BankCallError::Tls(_)), "{error:?}");
    assert!(!error.is_retryable(), "a certificate problem does not heal by retrying");
    assert_eq!(error.gateway_status(), 502);
    let exchange = client.exchange_code(&BankSecret::new("c"), &PkceVerifier::new("v"), START).await.unwrap_err();
    assert!(matches!(exchange, BankOAuthError::Call(BankCallError::Tls(_))), "{exchange:?}");
    sandbox.shutdown().await.unwrap();
}
