//! Faults set through the admin API, as the gateway experiences them on the FDX API: latency (checked on tokio's
//! paused clock, not the wall clock), error rates, maintenance (admin-set and the profile's weekly window),
//! connection resets, malformed and slow bodies.

use crate::support::*;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::json;
use tower::ServiceExt as _;

async fn set_faults(bank: &TestBank, faults: serde_json::Value) {
    let reply = admin(bank, Method::PUT, "/admin/faults", Some(json!({ "faults": faults }))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

fn accounts_request(token: &str) -> Request<Body> {
    Request::get("/fdx/v6/accounts")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn fixed_latency_is_applied() {
    let bank = bank("continental").await;
    let consent = good_consent(&bank).await;
    set_faults(&bank, json!([{"endpoint": "accounts", "latency": {"kind": "fixed", "ms": 1500}}])).await;
    // Everything that touches the store is done; from here time only moves when the runtime sleeps.
    tokio::time::pause();
    let start = tokio::time::Instant::now();
    let reply = send(&bank.fdx, accounts_request(&consent.access_token)).await;
    let waited = start.elapsed();
    assert_eq!(reply.status, StatusCode::OK);
    assert!(waited >= std::time::Duration::from_millis(1500), "waited {waited:?}");
    assert!(waited < std::time::Duration::from_millis(1600), "waited {waited:?}");
    // Another route is not delayed.
    let start = tokio::time::Instant::now();
    send(
        &bank.fdx,
        Request::get("/fdx/v6/customers/current")
            .header(header::AUTHORIZATION, format!("Bearer {}", consent.access_token))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(start.elapsed() < std::time::Duration::from_millis(100));
    tokio::time::resume();
}

#[tokio::test]
async fn uniform_latency_stays_in_its_range() {
    let bank = bank("continental").await;
    let consent = good_consent(&bank).await;
    set_faults(&bank, json!([{"endpoint": "*", "latency": {"kind": "uniform", "minMs": 200, "maxMs": 400}}])).await;
    tokio::time::pause();
    for _ in 0..10 {
        let start = tokio::time::Instant::now();
        send(&bank.fdx, accounts_request(&consent.access_token)).await;
        let waited = start.elapsed().as_millis();
        assert!((200..=450).contains(&waited), "waited {waited} ms");
    }
    tokio::time::resume();
}

#[tokio::test]
async fn error_rate_one_always_fails_with_the_chosen_code() {
    let bank = bank("continental").await;
    let consent = good_consent(&bank).await;
    set_faults(&bank, json!([{"endpoint": "accounts", "error": {"rate": 1.0, "status": 429, "code": "1207"}}])).await;
    for _ in 0..5 {
        let reply = send(&bank.fdx, accounts_request(&consent.access_token)).await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(reply.fdx_code(), "1207");
        assert!(reply.header("x-fapi-interaction-id").is_some());
    }
    let other = fdx_get(&bank, "/fdx/v6/customers/current", &consent.access_token).await;
    assert_eq!(other.status, StatusCode::OK, "only the named endpoint fails");
    let zero = admin(
        &bank,
        Method::PUT,
        "/admin/faults",
        Some(json!({"faults": [{"endpoint": "*", "error": {"rate": 0.0, "status": 500, "code": "500"}}]})),
    )
    .await;
    assert_eq!(zero.status, StatusCode::OK);
    assert_eq!(send(&bank.fdx, accounts_request(&consent.access_token)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn maintenance_until_a_simulated_instant() {
    let bank = bank("continental").await;
    let consent = good_consent(&bank).await;
    set_faults(&bank, json!([{"endpoint": "*", "maintenanceUntil": "2026-11-18T14:00:00Z"}])).await;
    let reply = send(&bank.fdx, accounts_request(&consent.access_token)).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.fdx_code(), "503");
    assert_eq!(reply.header("retry-after"), Some("7200"));
    admin(&bank, Method::POST, "/admin/clock", Some(json!({"advance": "2h"}))).await;
    // Access tokens live 30 simulated minutes: a fresh consent after two hours.
    let consent = good_consent(&bank).await;
    assert_eq!(send(&bank.fdx, accounts_request(&consent.access_token)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_profiles_weekly_window_answers_503() {
    let bank = bank("continental").await; // Sundays 02:00-04:00 UTC
    admin(&bank, Method::POST, "/admin/clock", Some(json!({"set": "2026-11-22T02:30:00Z"}))).await;
    let consent = good_consent(&bank).await;
    let reply = send(&bank.fdx, accounts_request(&consent.access_token)).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.json()["message"], "Scheduled Maintenance");
    assert_eq!(reply.header("retry-after"), Some("5400"));
    admin(&bank, Method::POST, "/admin/clock", Some(json!({"set": "2026-11-22T04:00:00Z"}))).await;
    let consent = good_consent(&bank).await;
    assert_eq!(send(&bank.fdx, accounts_request(&consent.access_token)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn connection_reset_breaks_the_body() {
    let bank = bank("continental").await;
    let consent = good_consent(&bank).await;
    set_faults(&bank, json!([{"endpoint": "accounts", "connectionResetRate": 1.0}])).await;
    let response = bank.fdx.clone().oneshot(accounts_request(&consent.access_token)).await.unwrap();
    let body = response.into_body().collect().await;
    assert!(body.is_err(), "the body fails, so hyper aborts the connection");
}

#[tokio::test]
async fn malformed_body_is_200_with_invalid_json() {
    let bank = bank("continental").await;
    let consent = good_consent(&bank).await;
    let good = send(&bank.fdx, accounts_request(&consent.access_token)).await;
    set_faults(&bank, json!([{"endpoint": "accounts", "malformedBodyRate": 1.0}])).await;
    let reply = send(&bank.fdx, accounts_request(&consent.access_token)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(serde_json::from_slice::<serde_json::Value>(&reply.body).is_err(), "{}", reply.text());
    assert!(good.body.starts_with(&reply.body), "a truncated copy of the real body");
}

#[tokio::test]
async fn slow_body_streams_in_chunks() {
    let bank = bank("continental").await;
    let consent = good_consent(&bank).await;
    let good = send(&bank.fdx, accounts_request(&consent.access_token)).await;
    set_faults(&bank, json!([{"endpoint": "accounts", "slowBody": {"chunkBytes": 64, "chunkDelayMs": 100}}])).await;
    tokio::time::pause();
    let start = tokio::time::Instant::now();
    let response = bank.fdx.clone().oneshot(accounts_request(&consent.access_token)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let mut chunks = 0;
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let data = frame.unwrap().into_data().unwrap();
        assert!(data.len() <= 64);
        bytes.extend_from_slice(&data);
        chunks += 1;
    }
    let expected_chunks = good.body.len().div_ceil(64);
    assert_eq!(chunks, expected_chunks);
    assert_eq!(bytes, good.body.to_vec(), "the same body, only slower");
    let waited = start.elapsed();
    assert!(waited >= std::time::Duration::from_millis(100 * (expected_chunks as u64 - 1)), "waited {waited:?}");
    tokio::time::resume();
}

#[tokio::test]
async fn fault_rules_are_validated_listed_and_cleared() {
    let bank = bank("continental").await;
    for bad in [
        json!([{"endpoint": "nowhere"}]),
        json!([{"endpoint": "*", "error": {"rate": 1.5, "status": 500, "code": "500"}}]),
        json!([{"endpoint": "*", "error": {"rate": 1, "status": 200, "code": "500"}}]),
        json!([{"endpoint": "*", "latency": {"kind": "uniform", "minMs": 10, "maxMs": 5}}]),
        json!([{"endpoint": "*", "slowBody": {"chunkBytes": 0, "chunkDelayMs": 5}}]),
        json!([{"endpoint": "*", "surprise": 1}]),
    ] {
        let reply = admin(&bank, Method::PUT, "/admin/faults", Some(json!({ "faults": bad }))).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {}", reply.text());
    }
    let rules = json!([{"endpoint": "transactions", "latency": {"kind": "fixed", "ms": 5}}]);
    set_faults(&bank, rules.clone()).await;
    assert_eq!(admin_get(&bank, "/admin/faults").await.json()["faults"], rules);
    assert_eq!(admin(&bank, Method::DELETE, "/admin/faults", None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(admin_get(&bank, "/admin/faults").await.json()["faults"], json!([]));
}

#[tokio::test]
async fn the_token_endpoint_can_be_faulted_too() {
    let bank = bank("continental").await;
    let consent = good_consent(&bank).await;
    let token_router = mock_bank::login::token_router()
        .layer(axum::middleware::from_fn_with_state(bank.state.clone(), mock_bank::api::fdx::token_faults))
        .with_state(bank.state.clone());
    set_faults(&bank, json!([{"endpoint": "token", "error": {"rate": 1.0, "status": 503, "code": "503"}}])).await;
    let request = Request::post("/oauth/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("grant_type=refresh_token&refresh_token=abc&client_id=bankgate-gateway"))
        .unwrap();
    let reply = send(&token_router, request).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.fdx_code(), "503");
    assert!(reply.header("retry-after").is_some());
    assert_eq!(
        send(&bank.fdx, accounts_request(&consent.access_token)).await.status,
        StatusCode::OK,
        "FDX routes unaffected"
    );
}
