//! The person's dashboard in a real browser (issue 4): headless Chromium signs in through the bank's own login
//! page, sees the connected app with what it may see and why and the access log, revokes with one click, and the
//! app's next call fails. Plus the dashboard's refusals without a browser: no CSRF token, another person's consent.

use serde_json::Value;

use crate::resource_api::{App, consent_request, sandbox};
use crate::support::https_client;
use crate::webdriver::Browser;

#[tokio::test]
async fn a_person_signs_in_at_the_bank_sees_the_app_and_revokes_it_in_a_real_browser() {
    let sandbox = sandbox(None).await;
    let app = App::of(&sandbox);
    let (consent_id, token) = app.consent(consent_request(&["ACCOUNT_BASIC", "TRANSACTIONS"], None, 90)).await;
    assert_eq!(app.get("/fdx/v6/accounts", &token).await.status, 200);

    let browser = Browser::start().await;
    browser.goto(&format!("{}/dashboard", app.issuer)).await;
    browser.wait_for_text("Sign in with your bank").await;
    browser.click("input[value=continental]").await;
    browser.click("#signin").await;
    // The bank's own login page (sign-in only: it shares no data).
    browser.wait_for_text("no account data is shared").await;
    browser.type_into("#username", "user_good").await;
    browser.type_into("#password", "pass_good").await;
    browser.click("button[type=submit]").await;
    let page = browser.wait_for_text("Apps reading your data at").await;
    assert!(browser.url().await.starts_with(&format!("{}/dashboard", app.issuer)));
    assert!(page.contains(&format!("app-{consent_id}")), "the consent is listed: {page}");
    assert!(page.contains("Sharing"), "{page}");
    assert!(page.contains("Transactions: amounts, dates, merchants and descriptions"), "what it may see: {page}");
    assert!(page.contains("show you budgeting and spending insights"), "why: {page}");
    assert!(page.contains("history: 90 days"), "{page}");
    assert!(page.contains("id=\"access-log\""), "the access log: {page}");
    assert!(page.contains("<td>accounts</td>"), "the app's read is in the log: {page}");

    browser.click("button.revoke").await;
    let page = browser.wait_for_text("Stopped by you").await;
    assert!(!page.contains("button class=\"primary revoke\""), "no revoke button once stopped");
    browser.quit().await;

    let answer = app.get("/fdx/v6/accounts", &token).await;
    assert_eq!((answer.status, answer.body["code"].as_str()), (401, Some("603")), "{:?}", answer.body);
    let gateway = sandbox.gateway.as_ref().unwrap();
    let consent = gateway.state.store.consent(&consent_id).await.unwrap().unwrap();
    assert_eq!(consent.revocations[0].initiator, gateway::consent::Initiator::Person);
    sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn dashboard_forms_need_the_session_and_its_csrf_token() {
    let sandbox = sandbox(None).await;
    let app = App::of(&sandbox);
    let (consent_id, token) = app.consent(consent_request(&["ACCOUNT_BASIC"], None, 30)).await;
    let browser = https_client(sandbox.pki.ca_pem(), None);
    let dashboard = format!("{}/dashboard", app.issuer);
    // Without a session: refused, nothing revoked.
    let response =
        browser.post(format!("{dashboard}/revoke")).form(&[("consent_id", consent_id.as_str())]).send().await.unwrap();
    assert_eq!(response.status(), 400);
    // With a session (the sign-in page sets it) but a wrong CSRF token: 403.
    let page = browser.get(&dashboard).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert!(headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert!(headers.get("access-control-allow-origin").is_none());
    let cookie = headers["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let html = page.text().await.unwrap();
    assert!(html.contains("name=\"csrf\""));
    let response = browser
        .post(format!("{dashboard}/revoke"))
        .header("cookie", &cookie)
        .form(&[("csrf", "forged"), ("consent_id", consent_id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // A signed-out session with the right token still cannot revoke anything.
    let start = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = html[start..].split('"').next().unwrap();
    let response = browser
        .post(format!("{dashboard}/revoke"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf), ("consent_id", consent_id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(app.get("/fdx/v6/accounts", &token).await.status, 200, "nothing was revoked");
    let body: Value = app.get("/fdx/v6/accounts", &token).await.body;
    assert!(body["accounts"].as_array().is_some_and(|a| !a.is_empty()));
    sandbox.shutdown().await.unwrap();
}
