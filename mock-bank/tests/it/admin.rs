//! The bank's admin API as QA and scenarios use it: reading customers and accounts, moving the clock, injecting
//! transactions and fraud, reset, OAuth clients and consents, and persistence across a restart.

use crate::support::*;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

fn pending_and_posted(list: &Value) -> (Vec<String>, Vec<String>) {
    let mut pending = Vec::new();
    let mut posted = Vec::new();
    for t in list["transactions"].as_array().unwrap() {
        let id = t["transactionId"].as_str().unwrap().to_owned();
        match t["status"].as_str().unwrap() {
            "PENDING" => pending.push(id),
            "POSTED" => posted.push(id),
            other => panic!("status {other}"),
        }
    }
    (pending, posted)
}

async fn checking_of(bank: &TestBank, customer: &str) -> String {
    let accounts = admin_get(bank, &format!("/admin/customers/{customer}/accounts")).await.json();
    accounts["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["accountType"] == "CHECKING")
        .map(|a| a["accountId"].as_str().unwrap().to_owned())
        .expect("a checking account")
}

async fn balances(bank: &TestBank, account: &str) -> (i64, i64) {
    let json = admin_get(bank, &format!("/admin/accounts/{account}")).await.json();
    (json["balances"]["currentCents"].as_i64().unwrap(), json["balances"]["availableCents"].as_i64().unwrap())
}

#[tokio::test]
async fn admin_needs_its_token() {
    let bank = bank("continental").await;
    for auth in [None, Some("Bearer wrong"), Some("Bearer "), Some(&*format!("Basic {ADMIN_TOKEN}"))] {
        let mut request = Request::get("/admin/bank");
        if let Some(auth) = auth {
            request = request.header(header::AUTHORIZATION, auth);
        }
        let reply = send(&bank.admin, request.body(Body::empty()).unwrap()).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(reply.header("content-type"), Some("application/problem+json"));
        assert_eq!(reply.json()["status"], 401);
        assert!(!reply.text().contains(ADMIN_TOKEN));
    }
    let ok = admin_get(&bank, "/admin/bank").await;
    assert_eq!(ok.status, StatusCode::OK);
    let json = ok.json();
    assert_eq!(json["id"], "continental");
    assert_eq!(json["customers"], CUSTOMERS);
    assert_eq!(json["clock"]["now"], "2026-11-18T12:00:00Z");
    assert_eq!(json["profile"]["routing_number"], bank.state.profile.routing_number.as_str());
}

#[tokio::test]
async fn customers_by_page_id_name_and_index() {
    let bank = bank("continental").await;
    let page = admin_get(&bank, "/admin/customers?offset=5&limit=10").await.json();
    let list = page["customers"].as_array().unwrap();
    assert_eq!(list.len(), 10);
    assert_eq!(list[0]["index"], 5);
    assert_eq!(page["nextOffset"], 15);
    assert_eq!(list[1]["username"], "user_thin");
    let by_name = admin_get(&bank, "/admin/customers/user_good").await.json();
    let id = by_name["customerId"].as_str().unwrap();
    let by_id = admin_get(&bank, &format!("/admin/customers/{id}")).await.json();
    let by_index = admin_get(&bank, "/admin/customers/0").await.json();
    assert_eq!(by_name, by_id);
    assert_eq!(by_name, by_index);
    assert!(!by_name["accounts"].as_array().unwrap().is_empty());
    for missing in ["/admin/customers/nobody", "/admin/customers/99999", "/admin/accounts/nope"] {
        let reply = admin_get(&bank, missing).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{missing}");
        assert_eq!(reply.header("content-type"), Some("application/problem+json"));
    }
    assert_eq!(admin_get(&bank, "/admin/customers?limit=0").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(admin_get(&bank, "/admin/customers?offset=abc").await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn advancing_the_clock_posts_pending_and_reveals_new_transactions() {
    let bank = bank("continental").await;
    let (_, checking) = customer_with_pending(&bank).await;
    let uri = format!("/admin/accounts/{checking}/transactions");
    let (pending, posted) = pending_and_posted(&admin_get(&bank, &uri).await.json());
    assert!(!pending.is_empty());

    let moved = admin(&bank, Method::POST, "/admin/clock", Some(json!({"advance": "10d"}))).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text());
    assert_eq!(moved.json()["now"], "2026-11-28T12:00:00Z");
    let after = admin_get(&bank, &uri).await.json();
    let (pending_after, posted_after) = pending_and_posted(&after);
    for id in &pending {
        assert!(posted_after.contains(id) || !pending_after.contains(id), "{id} still pending after 10 days");
    }
    assert!(pending.iter().any(|id| posted_after.contains(id)), "pending authorizations posted");
    assert!(posted_after.len() + pending_after.len() > posted.len() + pending.len(), "new transactions appeared");

    let set = admin(&bank, Method::POST, "/admin/clock", Some(json!({"set": "2026-12-01T09:30:00Z"}))).await;
    assert_eq!(set.json()["now"], "2026-12-01T09:30:00Z");
    let back = admin(&bank, Method::POST, "/admin/clock", Some(json!({"set": "2026-11-01T00:00:00Z"}))).await;
    assert_eq!(back.status, StatusCode::CONFLICT);
    assert_eq!(back.header("content-type"), Some("application/problem+json"));
    for bad in [json!({"advance": "-3d"}), json!({"advance": "soon"}), json!({}), json!({"advance": "1d", "set": "x"})]
    {
        let reply = admin(&bank, Method::POST, "/admin/clock", Some(bad.clone())).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    assert_eq!(admin_get(&bank, "/admin/clock").await.json()["now"], "2026-12-01T09:30:00Z");
}

#[tokio::test]
async fn injected_transactions_reconcile() {
    let bank = bank("continental").await;
    let checking = checking_of(&bank, "user_good").await;
    let (current, available) = balances(&bank, &checking).await;
    let uri = format!("/admin/accounts/{checking}/transactions");
    let posted = admin(
        &bank,
        Method::POST,
        &uri,
        Some(json!({"amountCents": 12345, "direction": "debit", "description": "TEST CHARGE"})),
    )
    .await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.text());
    assert_eq!(posted.json()["status"], "POSTED");
    assert_eq!(balances(&bank, &checking).await, (current - 12345, available - 12345));

    let held = admin(
        &bank,
        Method::POST,
        &uri,
        Some(json!({"amountCents": 5000, "direction": "debit", "description": "HOTEL HOLD",
                    "merchant": {"name": "GRAND HOTEL", "mcc": 7011}, "pendingDays": 3})),
    )
    .await
    .json();
    assert_eq!(held["status"], "PENDING");
    assert_eq!(balances(&bank, &checking).await, (current - 12345, available - 17345), "a hold lowers available only");
    let credit = admin(
        &bank,
        Method::POST,
        &uri,
        Some(json!({"amountCents": 100000, "direction": "credit", "description": "BONUS"})),
    )
    .await;
    assert_eq!(credit.status, StatusCode::CREATED);
    admin(&bank, Method::POST, "/admin/clock", Some(json!({"advance": "PT1H"}))).await;
    let (c, _) = balances(&bank, &checking).await;
    let listing = admin_get(&bank, &uri).await.json();
    let ids: Vec<&str> =
        listing["transactions"].as_array().unwrap().iter().map(|t| t["transactionId"].as_str().unwrap()).collect();
    assert!(ids.contains(&held["transactionId"].as_str().unwrap()));
    // Reconciliation: current = opening + every posted amount, injections included.
    let account = admin_get(&bank, &format!("/admin/accounts/{checking}")).await.json();
    let full = admin_get(&bank, &format!("/admin/accounts/{checking}/transactions")).await.json();
    let posted_sum: i64 = full["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "POSTED")
        .map(|t| {
            let amount = t["amountCents"].as_i64().unwrap();
            if t["direction"] == "CREDIT" { amount } else { -amount }
        })
        .sum();
    assert_eq!(account["openingBalanceCents"].as_i64().unwrap() + posted_sum, c);

    // Advance past the hold: it posts, current catches up.
    admin(&bank, Method::POST, "/admin/clock", Some(json!({"advance": "3d"}))).await;
    let hold_now = admin_get(&bank, &uri).await.json()["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["transactionId"] == held["transactionId"])
        .cloned()
        .unwrap();
    assert_eq!(hold_now["status"], "POSTED");

    for bad in [
        json!({"amountCents": 0, "direction": "debit", "description": "x"}),
        json!({"amountCents": 10, "direction": "sideways", "description": "x"}),
        json!({"amountCents": 10, "direction": "debit", "description": ""}),
        json!({"amountCents": 10, "direction": "debit", "description": "x", "pendingDays": 400}),
        json!({"amountCents": 10, "direction": "debit", "description": "x", "outcome": "drops"}),
        json!({"amountCents": 10, "direction": "debit", "description": "x", "surprise": true}),
    ] {
        let reply = admin(&bank, Method::POST, &uri, Some(bad.clone())).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {}", reply.text());
    }
    let nowhere = admin(
        &bank,
        Method::POST,
        "/admin/accounts/nope/transactions",
        Some(json!({"amountCents": 10, "direction": "debit", "description": "x"})),
    )
    .await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn injections_show_in_the_fdx_api_and_statements_stay_balanced() {
    let bank = bank("continental").await;
    let consent = good_consent(&bank).await;
    let checking = account_of(&bank, &consent, "CHECKING").await.unwrap();
    let injected = admin(
        &bank,
        Method::POST,
        &format!("/admin/accounts/{checking}/transactions"),
        Some(json!({"amountCents": 4200, "direction": "credit", "description": "REFUND FROM TEST"})),
    )
    .await
    .json();
    let page = fdx_get(
        &bank,
        &format!("/fdx/v6/accounts/{checking}/transactions?startTime=2026-11-18"),
        &consent.access_token,
    )
    .await;
    let found = page.json()["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["transactionId"] == injected["transactionId"])
        .cloned()
        .expect("the injection is in the FDX listing");
    assert_eq!(found["amount"], 42.0);
    assert_eq!(found["debitCreditMemo"], "CREDIT");
    // Move past the month end: the November statement includes the injection and still chains.
    admin(&bank, Method::POST, "/admin/clock", Some(json!({"set": "2026-12-03T12:00:00Z"}))).await;
    let account = admin_get(&bank, &format!("/admin/accounts/{checking}")).await.json();
    let statements = account["statements"].as_array().unwrap();
    let november = statements.iter().find(|s| s["periodEnd"] == "2026-11-30").expect("November statement");
    let all = admin_get(&bank, &format!("/admin/accounts/{checking}/transactions?start=2026-10-01&end=2026-12-03"))
        .await
        .json();
    let in_november: i64 = all["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "POSTED" && t["postedAt"].as_str().unwrap().starts_with("2026-11"))
        .map(|t| {
            if t["direction"] == "CREDIT" {
                t["amountCents"].as_i64().unwrap()
            } else {
                -t["amountCents"].as_i64().unwrap()
            }
        })
        .sum();
    assert_eq!(
        november["openingBalanceCents"].as_i64().unwrap() + in_november,
        november["closingBalanceCents"].as_i64().unwrap(),
        "opening + posted in period = closing, injection included"
    );
}

#[tokio::test]
async fn fraud_is_raised_on_cards_and_checking_only() {
    let bank = bank("continental").await;
    let accounts = admin_get(&bank, "/admin/customers/user_many_accounts/accounts").await.json();
    let of = |kind: &str| {
        accounts["accounts"].as_array().unwrap().iter().find(|a| a["accountType"] == kind).unwrap()["accountId"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let card = of("CREDITCARD");
    let raised =
        admin(&bank, Method::POST, &format!("/admin/accounts/{card}/fraud"), Some(json!({"amountCents": 149999})))
            .await;
    assert_eq!(raised.status, StatusCode::CREATED, "{}", raised.text());
    let tx = raised.json();
    assert_eq!(tx["suspectedFraud"], true);
    assert_eq!(tx["channel"], "card_not_present");
    assert_eq!(tx["status"], "PENDING");
    let listing = admin_get(&bank, &format!("/admin/accounts/{card}/transactions")).await.json();
    assert!(listing["transactions"].as_array().unwrap().iter().any(|t| t["transactionId"] == tx["transactionId"]));
    let checking = of("CHECKING");
    let on_debit = admin(&bank, Method::POST, &format!("/admin/accounts/{checking}/fraud"), None).await;
    assert_eq!(on_debit.status, StatusCode::CREATED, "{}", on_debit.text());
    let mortgage = of("MORTGAGE");
    let refused = admin(&bank, Method::POST, &format!("/admin/accounts/{mortgage}/fraud"), None).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn reset_returns_to_the_seed() {
    let bank = bank("continental").await;
    let checking = checking_of(&bank, "user_good").await;
    let before = admin_get(&bank, &format!("/admin/accounts/{checking}")).await.json();
    admin(
        &bank,
        Method::POST,
        &format!("/admin/accounts/{checking}/transactions"),
        Some(json!({"amountCents": 999, "direction": "debit", "description": "GONE AFTER RESET"})),
    )
    .await;
    admin(&bank, Method::POST, "/admin/clock", Some(json!({"advance": "20d"}))).await;
    admin(
        &bank,
        Method::PUT,
        "/admin/faults",
        Some(json!({"faults": [{"endpoint": "*", "latency": {"kind": "fixed", "ms": 5}}]})),
    )
    .await;
    let reset = admin(&bank, Method::POST, "/admin/reset", None).await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.text());
    assert_eq!(reset.json()["clock"]["now"], "2026-11-18T12:00:00Z");
    let after = admin_get(&bank, &format!("/admin/accounts/{checking}")).await.json();
    assert_eq!(after, before, "same balances and statements as the seed gave");
    assert_eq!(admin_get(&bank, "/admin/bank").await.json()["injectedTransactions"], 0);
    assert_eq!(admin_get(&bank, "/admin/faults").await.json()["faults"], json!([]));
}

#[tokio::test]
async fn injections_and_clock_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bank.sqlite");
    let (checking, injected, balances_before) = {
        let bank = bank_with_store("harbor", Some(&path)).await;
        let checking = checking_of(&bank, "user_good").await;
        let injected = admin(
            &bank,
            Method::POST,
            &format!("/admin/accounts/{checking}/transactions"),
            Some(json!({"amountCents": 31415, "direction": "debit", "description": "PERSISTED"})),
        )
        .await
        .json();
        admin(&bank, Method::POST, "/admin/clock", Some(json!({"advance": "2d"}))).await;
        let b = balances(&bank, &checking).await;
        (checking, injected, b)
    };
    let bank = bank_with_store("harbor", Some(&path)).await;
    assert_eq!(admin_get(&bank, "/admin/clock").await.json()["now"], "2026-11-20T12:00:00Z");
    assert_eq!(admin_get(&bank, "/admin/clock").await.json()["pinnedStart"], "2026-11-18T12:00:00Z");
    let listing = admin_get(&bank, &format!("/admin/accounts/{checking}/transactions")).await.json();
    assert!(
        listing["transactions"].as_array().unwrap().iter().any(|t| t["transactionId"] == injected["transactionId"])
    );
    assert_eq!(balances(&bank, &checking).await, balances_before);
}

#[tokio::test]
async fn bad_json_is_a_problem_never_a_500() {
    let bank = bank("continental").await;
    let post = |body: Body, content_type: &str| {
        Request::post("/admin/clock")
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(body)
            .unwrap()
    };
    let broken = send(&bank.admin, post(Body::from("{\"advance\": "), "application/json")).await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST);
    assert_eq!(broken.header("content-type"), Some("application/problem+json"));
    let wrong_type = send(&bank.admin, post(Body::from("advance=1d"), "text/plain")).await;
    assert_eq!(wrong_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = format!("{{\"advance\": \"{}\"}}", "1".repeat(70 * 1024));
    let too_big = send(&bank.admin, post(Body::from(huge), "application/json")).await;
    assert_eq!(too_big.status, StatusCode::PAYLOAD_TOO_LARGE);
    let nowhere = admin_get(&bank, "/admin/nowhere").await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert_eq!(nowhere.json()["type"], "about:blank");
    assert_eq!(admin(&bank, Method::DELETE, "/admin/clock", None).await.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn oauth_clients_and_consents() {
    let bank = bank("continental").await;
    let registered = admin(
        &bank,
        Method::POST,
        "/admin/oauth-clients",
        Some(json!({"client_id": "budget-app", "redirect_uris": ["https://budget.example/cb"]})),
    )
    .await;
    assert_eq!(registered.status, StatusCode::CREATED, "{}", registered.text());
    let invalid =
        admin(&bank, Method::POST, "/admin/oauth-clients", Some(json!({"client_id": "x", "redirect_uris": []}))).await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);

    let consent = good_consent(&bank).await;
    let list = admin_get(&bank, "/admin/consents?customer=user_good").await.json();
    let consents = list["consents"].as_array().unwrap();
    assert_eq!(consents.len(), 1);
    assert_eq!(consents[0]["consent_id"], consent.consent_id.as_str());
    assert_eq!(admin_get(&bank, "/admin/consents").await.status, StatusCode::BAD_REQUEST);
    let revoke = admin(&bank, Method::POST, &format!("/admin/consents/{}/revoke", consent.consent_id), None).await;
    assert_eq!(revoke.json()["revoked"], true);
    let again = admin(&bank, Method::POST, "/admin/consents/no-such-consent/revoke", None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let list = admin_get(&bank, "/admin/consents?customer=0").await.json();
    assert!(list["consents"][0]["revoked_at"].is_string());
}
