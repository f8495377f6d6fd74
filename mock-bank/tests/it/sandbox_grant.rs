//! The sandbox-login extension grant (RFC 6749 §4.5, `urn:bankgate:params:oauth:grant-type:sandbox-login`) at the
//! bank's token endpoint: a certificate-authenticated client hands over a test user's public credentials and gets
//! the same consent and tokens as the login pages plus the code exchange; the test users keep their outcomes.

use crate::support::{self, TestBank};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use mock_bank::login::DataCluster;

const GRANT: &str = "urn:bankgate:params:oauth:grant-type:sandbox-login";
const SCOPE: &str = "fdx:accountbasic:read fdx:transactions:read";

fn form(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", support::encode(k), support::encode(v))).collect::<Vec<_>>().join("&")
}

/// A sandbox-login token request as the gateway sends it (its certificate on the connection when `with_cert`).
async fn grant(bank: &TestBank, extra: &[(&str, &str)], with_cert: bool) -> support::Reply {
    let mut pairs = vec![("grant_type", GRANT), ("client_id", support::GATEWAY), ("scope", SCOPE)];
    pairs.extend_from_slice(extra);
    let mut request = Request::post("/oauth/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form(&pairs)))
        .unwrap();
    if with_cert {
        request.extensions_mut().insert(bank.gateway_cert.clone());
    }
    support::send(&bank.token, request).await
}

async fn login(bank: &TestBank, username: &str, extra: &[(&str, &str)]) -> support::Reply {
    let mut pairs = vec![("username", username), ("password", "pass_good"), ("purpose", "budgeting")];
    pairs.extend_from_slice(extra);
    grant(bank, &pairs, true).await
}

fn error_of(reply: &support::Reply) -> (StatusCode, String, String) {
    let json = reply.json();
    (
        reply.status,
        json["error"].as_str().unwrap_or("").to_owned(),
        json["error_description"].as_str().unwrap_or("").to_owned(),
    )
}

#[tokio::test]
async fn good_user_gets_a_consent_on_every_account_and_working_tokens() {
    let bank = support::bank("continental").await;
    let reply = login(&bank, "user_good", &[("duration_days", "30"), ("platform", "plat_1")]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let json = reply.json();
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["scope"], SCOPE);
    let consent_id = json["consent_id"].as_str().unwrap();
    let accounts: Vec<String> = bank.state.ledger.accounts(0).iter().map(|a| a.account_id.clone()).collect();
    let granted: Vec<&str> = json["account_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(!accounts.is_empty());
    assert_eq!(granted, accounts, "no account_ids: every account of the customer");

    // The same bank-side consent record the browser flow creates.
    let consent = bank.state.auth.consent(consent_id).expect("consent stored");
    assert_eq!(consent.client_id, support::GATEWAY);
    assert_eq!(consent.customer_index, 0);
    assert_eq!(consent.purposes, vec!["budgeting".to_owned()]);
    assert_eq!(consent.platform.as_deref(), Some("plat_1"));
    assert_eq!(consent.clusters, vec![DataCluster::AccountBasic, DataCluster::Transactions]);
    assert_eq!(consent.expires_at - consent.created_at, time::Duration::days(30));

    // The access token reads data; the refresh token refreshes.
    let access = json["access_token"].as_str().unwrap();
    let list = support::fdx_get(&bank, "/fdx/v6/accounts", access).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text());
    assert_eq!(list.json()["accounts"].as_array().unwrap().len(), accounts.len());
    let refresh = json["refresh_token"].as_str().unwrap();
    let mut request = Request::post("/oauth/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", support::GATEWAY),
        ])))
        .unwrap();
    request.extensions_mut().insert(bank.gateway_cert.clone());
    let refreshed = support::send(&bank.token, request).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text());
    assert_eq!(refreshed.json()["consent_id"], consent_id);
}

#[tokio::test]
async fn chosen_accounts_only_and_unknown_accounts_refused() {
    let bank = support::bank("continental").await;
    let accounts: Vec<String> = bank.state.ledger.accounts(0).iter().map(|a| a.account_id.clone()).collect();
    let first = accounts[0].as_str();
    let reply = login(&bank, "user_good", &[("account_ids", first)]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["account_ids"], serde_json::json!([first]));

    // Another customer's account cannot be slipped in.
    let foreign = bank.state.ledger.accounts(5)[0].account_id.clone();
    let both = format!("{first} {foreign}");
    let (status, error, description) = error_of(&login(&bank, "user_good", &[("account_ids", &both)]).await);
    assert_eq!((status, error.as_str()), (StatusCode::BAD_REQUEST, "invalid_request"));
    assert!(description.contains("not one of the customer's accounts"), "{description}");
    let (_, error, _) = error_of(&login(&bank, "user_good", &[("account_ids", "acct-does-not-exist")]).await);
    assert_eq!(error, "invalid_request");
    assert!(bank.state.auth.consents_of(0).len() == 1, "a refused request creates no consent");
}

#[tokio::test]
async fn mfa_user_needs_the_one_time_code() {
    let bank = support::bank("continental").await;
    let (status, error, description) = error_of(&login(&bank, "user_mfa", &[]).await);
    assert_eq!((status, error.as_str()), (StatusCode::BAD_REQUEST, "invalid_grant"));
    assert!(description.contains("mfa_code"), "{description}");
    let (_, error, description) = error_of(&login(&bank, "user_mfa", &[("mfa_code", "000000")]).await);
    assert_eq!(error, "invalid_grant");
    assert!(description.contains("one-time code is not right"), "{description}");
    let reply = login(&bank, "user_mfa", &[("mfa_code", "123456")]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let consent = bank.state.auth.consent(reply.json()["consent_id"].as_str().unwrap()).unwrap();
    assert_eq!(consent.customer_index, 1, "user_mfa is customer 1");
}

#[tokio::test]
async fn locked_wrong_password_and_login_error_users_keep_their_outcomes() {
    let bank = support::bank("continental").await;
    let (status, error, description) = error_of(&login(&bank, "user_locked", &[]).await);
    assert_eq!(
        (status, error.as_str(), description.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant", "account locked")
    );

    let wrong = grant(&bank, &[("username", "user_good"), ("password", "pass_bad")], true).await;
    let (status, error, description) = error_of(&wrong);
    assert_eq!((status, error.as_str()), (StatusCode::BAD_REQUEST, "invalid_grant"));
    // The same words whether the user or the password was wrong.
    let unknown = grant(&bank, &[("username", "nobody"), ("password", "pass_good")], true).await;
    assert_eq!(error_of(&unknown).2, description);
    assert!(!wrong.text().contains("pass_bad"), "the password is never echoed");

    let (status, error, _) = error_of(&login(&bank, "login_error_temporarily_unavailable", &[]).await);
    assert_eq!((status, error.as_str()), (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"));
    let (_, error, _) = error_of(&login(&bank, "login_error_access_denied", &[]).await);
    assert_eq!(error, "access_denied");
    assert!(bank.state.auth.consents_of(0).is_empty() && bank.state.auth.consents_of(2).is_empty());
}

#[tokio::test]
async fn the_client_must_present_its_certificate() {
    let bank = support::bank("continental").await;
    let reply = grant(&bank, &[("username", "user_good"), ("password", "pass_good")], false).await;
    let (status, error, _) = error_of(&reply);
    assert_eq!((status, error.as_str()), (StatusCode::UNAUTHORIZED, "invalid_client"));
    assert!(bank.state.auth.consents_of(0).is_empty());
}

#[tokio::test]
async fn request_checks_and_the_sharing_policy_apply_as_on_authorize() {
    let bank = support::bank("harbor").await;
    // Harbor refuses targeted advertising to social apps: judged for the recipient when one is named.
    let social = [("purpose", "targeted_advertising"), ("recipient", "acme-social-app")];
    let mut pairs = vec![("username", "user_good"), ("password", "pass_good")];
    pairs.extend_from_slice(&social);
    let (status, error, description) = error_of(&grant(&bank, &pairs, true).await);
    assert_eq!((status, error.as_str()), (StatusCode::FORBIDDEN, "access_denied"));
    assert!(description.contains("acme-social-app"), "{description}");
    let ok = grant(
        &bank,
        &[("username", "user_good"), ("password", "pass_good"), ("purpose", "targeted_advertising")],
        true,
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "the gateway itself is not a social app: {}", ok.text());

    let (_, error, _) = error_of(&login(&bank, "user_good", &[("duration_days", "400")]).await);
    assert_eq!(error, "invalid_request");
    let mut no_scope = Request::post("/oauth/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form(&[
            ("grant_type", GRANT),
            ("client_id", support::GATEWAY),
            ("username", "user_good"),
            ("password", "pass_good"),
        ])))
        .unwrap();
    no_scope.extensions_mut().insert(bank.gateway_cert.clone());
    let (_, error, _) = error_of(&support::send(&bank.token, no_scope).await);
    assert_eq!(error, "invalid_scope");
}
