//! A person and an app at a real bank over real HTTPS: the bank's login pages driven by form posts (plain and MFA
//! user, locked user), the code exchanged with mutual TLS, and FDX data read with the bank token.

use crate::support::https_client;
use bankgate::{
    Sandbox, SandboxOptions,
    person::{LoginOutcome, LoginPlan, Person, Pkce},
    sandbox::{SAMPLE_APP_CLIENTS, SAMPLE_APP_REDIRECT},
};
use serde_json::Value;
use time::macros::datetime;

const SCOPES: &str = "fdx:accountbasic:read fdx:accountdetailed:read fdx:transactions:read";

async fn sandbox() -> Sandbox {
    certs::install_crypto_provider();
    let options = SandboxOptions {
        customers: Some(50),
        banks: Some(vec!["continental".into()]),
        start: Some(datetime!(2026-03-04 15:00 UTC)),
        ..SandboxOptions::default()
    };
    Sandbox::start(options).await.expect("sandbox starts")
}

fn authorize_url(sandbox: &Sandbox, pkce: &Pkce, state: &str) -> String {
    let mut url = reqwest::Url::parse(&format!("{}/oauth/authorize", sandbox.endpoints.banks[0].login)).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", SAMPLE_APP_CLIENTS[0])
        .append_pair("redirect_uri", SAMPLE_APP_REDIRECT)
        .append_pair("state", state)
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("scope", SCOPES);
    url.to_string()
}

/// The sample app: mutual TLS with its own certificate.
fn app_client(sandbox: &Sandbox) -> reqwest::Client {
    let identity = sandbox.pki.issue_client(SAMPLE_APP_CLIENTS[0]).unwrap();
    https_client(sandbox.pki.ca_pem(), Some(format!("{}{}", identity.cert_pem, identity.key_pem)))
}

async fn exchange(sandbox: &Sandbox, app: &reqwest::Client, code: &str, pkce: &Pkce) -> Value {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", SAMPLE_APP_REDIRECT),
        ("code_verifier", pkce.verifier.as_str()),
        ("client_id", SAMPLE_APP_CLIENTS[0]),
    ];
    let response =
        app.post(format!("{}/oauth/token", sandbox.endpoints.banks[0].api)).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn good_user_logs_in_and_the_app_reads_accounts_and_pages_transactions() {
    let sandbox = sandbox().await;
    let pkce = Pkce::new().unwrap();
    let mut person = Person::new(sandbox.pki.ca_pem()).unwrap();
    let plan = LoginPlan {
        username: "user_good",
        password: "pass_good",
        mfa_code: None,
        accounts: None,
        ..LoginPlan::user("")
    };
    let outcome = person.log_in(&authorize_url(&sandbox, &pkce, "s1"), &plan).await.unwrap();
    assert_eq!(outcome.param("state"), Some("s1"), "{outcome:?}");
    assert_eq!(outcome.param("iss"), Some(sandbox.endpoints.banks[0].login.as_str()), "RFC 9207 iss");
    let code = outcome.param("code").expect("a code").to_owned();

    let app = app_client(&sandbox);
    let tokens = exchange(&sandbox, &app, &code, &pkce).await;
    let token = tokens["access_token"].as_str().unwrap();
    let api = &sandbox.endpoints.banks[0].api;
    let accounts: Value =
        app.get(format!("{api}/fdx/v6/accounts")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    let listed = accounts["accounts"].as_array().expect("FDX accounts array");
    assert!(listed.len() >= 2, "user_good shares every account by default: {accounts}");

    // Page through a checking account's transactions with the opaque cursor until the end.
    let checking = listed.iter().find(|a| a["accountType"] == "CHECKING").expect("a checking account");
    let id = checking["accountId"].as_str().unwrap();
    let mut url = format!("{api}/fdx/v6/accounts/{id}/transactions?startTime=2025-01-01&endTime=2026-03-04&limit=50");
    let (mut pages, mut seen) = (0, 0);
    while pages < 200 {
        let response = app.get(&url).bearer_auth(token).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().contains_key("x-fapi-interaction-id"));
        let page: Value = response.json().await.unwrap();
        seen += page["transactions"].as_array().unwrap().len();
        pages += 1;
        match page["page"]["nextOffset"].as_str() {
            Some(next) => {
                url = format!(
                    "{api}/fdx/v6/accounts/{id}/transactions?startTime=2025-01-01&endTime=2026-03-04&limit=50&offset={next}"
                )
            }
            None => break,
        }
    }
    assert!(pages > 3 && seen > 150, "14 months of a household's checking: {pages} pages, {seen} transactions");
    sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn mfa_user_needs_the_code_and_locked_user_is_stopped() {
    let sandbox = sandbox().await;
    let pkce = Pkce::new().unwrap();
    let mut person = Person::new(sandbox.pki.ca_pem()).unwrap();
    let plan = LoginPlan {
        username: "user_mfa",
        password: "pass_good",
        mfa_code: Some("123456"),
        accounts: None,
        ..LoginPlan::user("")
    };
    let outcome = person.log_in(&authorize_url(&sandbox, &pkce, "m"), &plan).await.unwrap();
    assert!(outcome.param("code").is_some(), "MFA user with the right code gets a code: {outcome:?}");

    // A wrong one-time code leaves the person on the bank's page with an alert, and no code reaches the app.
    let mut person = Person::new(sandbox.pki.ca_pem()).unwrap();
    let wrong = LoginPlan { mfa_code: Some("000000"), ..LoginPlan::user("user_mfa") };
    match person.log_in(&authorize_url(&sandbox, &pkce, "w"), &wrong).await.unwrap() {
        LoginOutcome::Page { html, .. } => assert!(html.contains("role=\"alert\""), "{html}"),
        other => panic!("a wrong one-time code must not reach the app, got {other:?}"),
    }

    let mut person = Person::new(sandbox.pki.ca_pem()).unwrap();
    let plan = LoginPlan {
        username: "user_locked",
        password: "pass_good",
        mfa_code: None,
        accounts: None,
        ..LoginPlan::user("")
    };
    match person.log_in(&authorize_url(&sandbox, &pkce, "l"), &plan).await.unwrap() {
        LoginOutcome::Page { html, .. } => assert!(html.to_lowercase().contains("locked"), "{html}"),
        other => panic!("a locked user must stay on the bank's page, got {other:?}"),
    }
    sandbox.shutdown().await.unwrap();
}
