//! The bank's FDX v6 API as the gateway sees it: shapes and field names from the FDX 6.2 document, paging through
//! opaque cursors, the consent's limits (accounts, clusters), the sharing policy, and FDX errors for bad input.

use crate::support::*;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

const DEPOSIT_TYPES: [&str; 14] = [
    "ADJUSTMENT",
    "ATMDEPOSIT",
    "ATMWITHDRAWAL",
    "BILLPAYMENT",
    "CHECK",
    "DEPOSIT",
    "DIRECTDEPOSIT",
    "DIVIDEND",
    "FEE",
    "INTEREST",
    "POSCREDIT",
    "POSDEBIT",
    "TRANSFER",
    "WITHDRAWAL",
];
const LOC_TYPES: [&str; 7] = ["ADJUSTMENT", "CHECK", "FEE", "INTEREST", "PAYMENT", "PURCHASE", "WITHDRAWAL"];

#[tokio::test]
async fn accounts_list_and_details_use_fdx_names() {
    let bank = bank("continental").await;
    let consent = good_consent(&bank).await;
    let reply = fdx_get(&bank, "/fdx/v6/accounts", &consent.access_token).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.header("x-fapi-interaction-id"), Some("c770aef3-6784-41f7-8e0e-ff5f97bddb3a"));
    let json = reply.json();
    let accounts = json["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), consent.account_ids.len());
    assert_eq!(json["page"]["totalElements"], consent.account_ids.len());
    for a in accounts {
        assert!(["DEPOSIT_ACCOUNT", "LOC_ACCOUNT", "LOAN_ACCOUNT"].contains(&a["accountCategory"].as_str().unwrap()));
        assert!(a["accountId"].is_string() && a["nickname"].is_string() && a["productName"].is_string());
        assert_eq!(a["status"], "OPEN");
        assert_eq!(a["currency"]["currencyCode"], "USD");
        assert!(a["accountNumberDisplay"].as_str().unwrap().starts_with("..."));
        assert!(a.get("currentBalance").is_none(), "lightweight by default (FDX resultType)");
    }
    let details = fdx_get(&bank, "/fdx/v6/accounts?resultType=details", &consent.access_token).await.json();
    for a in details["accounts"].as_array().unwrap() {
        let id = a["accountId"].as_str().unwrap();
        let admin_view = admin_get(&bank, &format!("/admin/accounts/{id}")).await.json();
        let current = admin_view["balances"]["currentCents"].as_i64().unwrap() as f64 / 100.0;
        match a["accountCategory"].as_str().unwrap() {
            "DEPOSIT_ACCOUNT" => {
                assert_eq!(a["balanceType"], "ASSET");
                assert_eq!(a["currentBalance"].as_f64().unwrap(), current);
                assert!(a["availableBalance"].is_number() && a["openingDayBalance"].is_number());
            }
            "LOC_ACCOUNT" => {
                assert_eq!(a["balanceType"], "LIABILITY");
                assert_eq!(a["currentBalance"].as_f64().unwrap(), current);
                let line = a["creditLine"].as_f64().unwrap();
                let available = a["availableCredit"].as_f64().unwrap();
                assert!(available <= line - current + 0.001, "available {available} line {line} owed {current}");
            }
            "LOAN_ACCOUNT" => {
                assert_eq!(a["principalBalance"].as_f64().unwrap(), current);
                assert_eq!(a["paymentFrequency"], "MONTHLY");
                assert!(a["originalPrincipal"].is_number() && a["nextPaymentAmount"].is_number());
            }
            other => panic!("unexpected category {other}"),
        }
        let single = fdx_get(&bank, &format!("/fdx/v6/accounts/{id}"), &consent.access_token).await;
        assert_eq!(single.status, StatusCode::OK);
        assert_eq!(single.json()["accountCategory"], a["accountCategory"]);
        assert_eq!(single.json()["routingTransitNumber"], bank.state.profile.routing_number.as_str());
    }
}

#[tokio::test]
async fn accounts_page_with_limit_and_cursor() {
    let bank = bank("continental").await;
    let consent = consent(&bank, "user_many_accounts", "fdx:accountbasic:read", &[]).await;
    assert!(consent.account_ids.len() > 3, "the many-accounts user shares {:?}", consent.account_ids);
    let mut uri = "/fdx/v6/accounts?limit=2".to_owned();
    let mut seen = Vec::new();
    for _ in 0..20 {
        let json = fdx_get(&bank, &uri, &consent.access_token).await.json();
        seen.extend(json["accounts"].as_array().unwrap().iter().map(|a| a["accountId"].as_str().unwrap().to_owned()));
        match json["links"]["next"]["href"].as_str() {
            Some(next) => uri = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, consent.account_ids);
}

#[tokio::test]
async fn paging_all_transactions_equals_the_admin_listing() {
    let bank = bank("continental").await;
    let (username, checking) = customer_with_pending(&bank).await;
    let consent = consent(&bank, &username, ALL_SCOPES, &[]).await;
    let start = "2025-06-01";
    let end = "2026-11-18";
    let first = format!("/fdx/v6/accounts/{checking}/transactions?startTime={start}&endTime={end}&limit=37");
    let pages = all_pages(&bank, &first, &consent.access_token).await;
    let admin_list =
        admin_get(&bank, &format!("/admin/accounts/{checking}/transactions?start={start}&end={end}")).await;
    let admin_json = admin_list.json();
    let admin_ids: Vec<String> = admin_json["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["transactionId"].as_str().unwrap().to_owned())
        .collect();
    let fdx_ids: Vec<String> = pages.iter().map(|t| t["transactionId"].as_str().unwrap().to_owned()).collect();
    assert!(fdx_ids.len() > 200, "18 months of a household's checking has hundreds of transactions");
    assert_eq!(fdx_ids, admin_ids);
    assert_eq!(admin_json["total"], fdx_ids.len());
    let mut pending = 0;
    for t in &pages {
        assert_eq!(t["accountCategory"], "DEPOSIT_ACCOUNT");
        assert_eq!(t["accountId"], checking.as_str());
        assert!(t["amount"].as_f64().unwrap() > 0.0);
        assert!(["DEBIT", "CREDIT"].contains(&t["debitCreditMemo"].as_str().unwrap()));
        assert!(DEPOSIT_TYPES.contains(&t["transactionType"].as_str().unwrap()), "{t}");
        match t["status"].as_str().unwrap() {
            "POSTED" => assert!(t["postedTimestamp"].is_string()),
            "PENDING" => {
                pending += 1;
                assert!(t.get("postedTimestamp").is_none());
            }
            other => panic!("status {other}"),
        }
        let day = &t["transactionTimestamp"].as_str().unwrap()[..10];
        assert!((start..=end).contains(&day), "{day} outside the window");
    }
    assert!(pending > 0, "a live checking account has pending card authorizations");
    let first_page = fdx_get(&bank, &first, &consent.access_token).await.json();
    assert_eq!(first_page["page"]["totalElements"], fdx_ids.len());
    assert_eq!(first_page["transactions"].as_array().unwrap().len(), 37);
}

#[tokio::test]
async fn card_transactions_use_the_line_of_credit_shapes() {
    let bank = bank("continental").await;
    let consent = good_consent(&bank).await;
    let Some(card) = account_of(&bank, &consent, "CREDITCARD").await else { panic!("the good user has a card") };
    let txs = all_pages(&bank, &format!("/fdx/v6/accounts/{card}/transactions?limit=500"), &consent.access_token).await;
    assert!(!txs.is_empty());
    for t in &txs {
        assert_eq!(t["accountCategory"], "LOC_ACCOUNT");
        assert!(LOC_TYPES.contains(&t["transactionType"].as_str().unwrap()), "{t}");
        if t["subCategory"] == "MCC" {
            assert_eq!(t["category"].as_str().unwrap().len(), 4, "category carries the 4-digit MCC");
        }
    }
    assert!(txs.iter().any(|t| t["transactionType"] == "PURCHASE"));
}

#[tokio::test]
async fn tampered_and_foreign_cursors_are_refused() {
    let bank = bank("continental").await;
    let consent = good_consent(&bank).await;
    let checking = account_of(&bank, &consent, "CHECKING").await.unwrap();
    let other = consent.account_ids.iter().find(|id| **id != checking).expect("a second account").clone();
    let first = fdx_get(&bank, &format!("/fdx/v6/accounts/{checking}/transactions?limit=5"), &consent.access_token)
        .await
        .json();
    let cursor = first["page"]["nextOffset"].as_str().unwrap().to_owned();
    let next = fdx_get(&bank, first["links"]["next"]["href"].as_str().unwrap(), &consent.access_token).await;
    assert_eq!(next.status, StatusCode::OK);

    let mut tampered = cursor.clone().into_bytes();
    tampered[3] = if tampered[3] == b'x' { b'y' } else { b'x' };
    let tampered = String::from_utf8(tampered).unwrap();
    for bad in [tampered.as_str(), "not-a-cursor", "", "AAAA.BBBB"] {
        let uri = format!("/fdx/v6/accounts/{checking}/transactions?offset={}", encode(bad));
        let reply = fdx_get(&bank, &uri, &consent.access_token).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}: {}", reply.text());
        assert_eq!(reply.fdx_code(), "401");
    }
    // Another account's cursor, or the same cursor with other dates.
    let foreign =
        fdx_get(&bank, &format!("/fdx/v6/accounts/{other}/transactions?offset={cursor}"), &consent.access_token).await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST);
    let redated = format!("/fdx/v6/accounts/{checking}/transactions?startTime=2026-01-01&offset={cursor}");
    assert_eq!(fdx_get(&bank, &redated, &consent.access_token).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn limits_out_of_range_are_fdx_errors() {
    let bank = bank("liberty").await;
    let consent = good_consent(&bank).await;
    let checking = account_of(&bank, &consent, "CHECKING").await.unwrap();
    let max = bank.state.profile.quirks.max_page_size;
    for limit in ["0".to_owned(), (max + 1).to_string(), "-1".into(), "ten".into(), "99999999999".into()] {
        let reply =
            fdx_get(&bank, &format!("/fdx/v6/accounts/{checking}/transactions?limit={limit}"), &consent.access_token)
                .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "limit {limit}");
        assert_eq!(reply.fdx_code(), "401");
        assert!(reply.json()["debugMessage"].as_str().unwrap().contains("limit"));
    }
    let ok =
        fdx_get(&bank, &format!("/fdx/v6/accounts/{checking}/transactions?limit={max}"), &consent.access_token).await;
    assert_eq!(ok.status, StatusCode::OK);
    let default = fdx_get(&bank, &format!("/fdx/v6/accounts/{checking}/transactions"), &consent.access_token).await;
    let n = default.json()["transactions"].as_array().unwrap().len();
    assert_eq!(n, bank.state.profile.quirks.default_page_size as usize, "the profile's default page size");
}

#[tokio::test]
async fn bad_dates_are_702_and_reversed_ranges_703() {
    let bank = bank("continental").await;
    let consent = good_consent(&bank).await;
    let checking = account_of(&bank, &consent, "CHECKING").await.unwrap();
    let base = format!("/fdx/v6/accounts/{checking}/transactions");
    for bad in ["2026-02-30", "2026-13-01", "yesterday", "2026/01/01", "20260101", "%00"] {
        let reply = fdx_get(&bank, &format!("{base}?startTime={bad}"), &consent.access_token).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(reply.fdx_code(), "702", "{bad}");
    }
    let reversed =
        fdx_get(&bank, &format!("{base}?startTime=2026-05-01&endTime=2026-04-01"), &consent.access_token).await;
    assert_eq!(reversed.status, StatusCode::BAD_REQUEST);
    assert_eq!(reversed.fdx_code(), "703");
    let datetime =
        fdx_get(&bank, &format!("{base}?startTime=2026-05-01T00:00:00Z&endTime=2026-05-31"), &consent.access_token)
            .await;
    assert_eq!(datetime.status, StatusCode::OK, "RFC 3339 date-times are accepted too");
    for t in datetime.json()["transactions"].as_array().unwrap() {
        assert!(t["transactionTimestamp"].as_str().unwrap().starts_with("2026-05"));
    }
    let stmts =
        fdx_get(&bank, &format!("/fdx/v6/accounts/{checking}/statements?endTime=nope"), &consent.access_token).await;
    assert_eq!(stmts.fdx_code(), "702");
}

#[tokio::test]
async fn unknown_and_unconsented_accounts_look_the_same() {
    let bank = bank("continental").await;
    let good = good_consent(&bank).await;
    let thin = consent(&bank, "user_thin", ALL_SCOPES, &[]).await;
    let foreign = &thin.account_ids[0];
    let token = &good.access_token;
    let a = fdx_get(&bank, &format!("/fdx/v6/accounts/{foreign}"), token).await;
    let b = fdx_get(&bank, "/fdx/v6/accounts/acct-does-not-exist", token).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!((a.status, a.body.clone()), (b.status, b.body.clone()), "no way to tell them apart");
    assert_eq!(a.fdx_code(), "701");
    for suffix in ["transactions", "statements", "payment-networks", "contact"] {
        let reply = fdx_get(&bank, &format!("/fdx/v6/accounts/{foreign}/{suffix}"), token).await;
        assert_eq!((reply.status, reply.fdx_code()), (StatusCode::NOT_FOUND, "701".to_owned()), "{suffix}");
    }
    let long = "x".repeat(5000);
    assert_eq!(fdx_get(&bank, &format!("/fdx/v6/accounts/{long}"), token).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn clusters_outside_the_consent_are_403() {
    let bank = bank("continental").await;
    let basic = consent(&bank, "user_good", "fdx:accountbasic:read", &[]).await;
    let account = &basic.account_ids[0];
    let ok = fdx_get(&bank, &format!("/fdx/v6/accounts/{account}"), &basic.access_token).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.json().get("currentBalance").is_none() && ok.json().get("principalBalance").is_none(), "no balances");
    for uri in [
        format!("/fdx/v6/accounts/{account}/transactions"),
        format!("/fdx/v6/accounts/{account}/statements"),
        format!("/fdx/v6/accounts/{account}/payment-networks"),
        format!("/fdx/v6/accounts/{account}/contact"),
        "/fdx/v6/customers/current".to_owned(),
    ] {
        let reply = fdx_get(&bank, &uri, &basic.access_token).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{uri}");
        assert_eq!(reply.fdx_code(), "403");
    }
}

#[tokio::test]
async fn statements_networks_contact_and_customer() {
    let bank = bank("continental").await;
    let consent = good_consent(&bank).await;
    let checking = account_of(&bank, &consent, "CHECKING").await.unwrap();
    let token = &consent.access_token;
    let stmts = fdx_get(&bank, &format!("/fdx/v6/accounts/{checking}/statements?limit=5"), token).await.json();
    let list = stmts["statements"].as_array().unwrap();
    assert_eq!(list.len(), 5);
    assert!(stmts["page"]["totalElements"].as_u64().unwrap() >= 20, "about 24 monthly statements");
    for s in list {
        assert_eq!(s["accountId"], checking.as_str());
        assert!(s["statementId"].is_string() && s["statementDate"].as_str().unwrap() < "2026-11-18");
        assert_eq!(s["status"], "AVAILABLE");
    }
    let rest = fdx_get(&bank, stmts["links"]["next"]["href"].as_str().unwrap(), token).await.json();
    assert_ne!(rest["statements"][0]["statementId"], list[0]["statementId"]);

    let networks = fdx_get(&bank, &format!("/fdx/v6/accounts/{checking}/payment-networks"), token).await.json();
    let first = &networks["paymentNetworks"][0];
    assert_eq!(first["bankId"], bank.state.profile.routing_number.as_str());
    assert_eq!(first["identifierType"], "ACCOUNT_NUMBER");
    assert_eq!(first["type"], "US_ACH");
    assert_eq!(first["transferIn"], true);

    let contact = fdx_get(&bank, &format!("/fdx/v6/accounts/{checking}/contact"), token).await.json();
    assert_eq!(contact["holders"][0]["relationship"], "PRIMARY");
    assert!(contact["emails"][0].as_str().unwrap().contains('@'));
    assert_eq!(contact["addresses"][0]["type"], "HOME");
    assert_eq!(contact["telephones"][0]["number"].as_str().unwrap().len(), 10);

    let me = fdx_get(&bank, "/fdx/v6/customers/current", token).await.json();
    let admin_me = admin_get(&bank, "/admin/customers/user_good").await.json();
    assert_eq!(me["customerId"], admin_me["customerId"]);
    assert_eq!(me["name"]["first"], admin_me["firstName"]);
    assert_eq!(me["type"], "CONSUMER");
    assert_eq!(me["accounts"].as_array().unwrap().len(), consent.account_ids.len());
}

#[tokio::test]
async fn data_error_users_get_their_chosen_error() {
    let bank = bank("continental").await;
    let consent = consent(&bank, "data_error_429_1207", ALL_SCOPES, &[]).await;
    let reply = fdx_get(&bank, "/fdx/v6/accounts", &consent.access_token).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.fdx_code(), "1207");
    assert_eq!(reply.json()["message"], "Too Many Requests");
    assert!(reply.header("retry-after").is_some());
}

#[tokio::test]
async fn summit_withholds_purchases_made_outside_the_platform() {
    let bank = bank("summit").await;
    assert!(bank.state.profile.sharing.refuse_offplatform_transactions);
    let consent = consent(&bank, "user_good", ALL_SCOPES, &[("platform", "chatly")]).await;
    let checking = account_of(&bank, &consent, "CHECKING").await.unwrap();
    let inject = |platform: &str, name: &str| {
        json!({"amountCents": 2599, "direction": "debit", "description": format!("{name} ONLINE"),
               "merchant": {"name": name, "mcc": 5399}, "platform": platform})
    };
    let uri = format!("/admin/accounts/{checking}/transactions");
    let on = admin(&bank, Method::POST, &uri, Some(inject("chatly", "CHATLY SHOP"))).await.json();
    let off = admin(&bank, Method::POST, &uri, Some(inject("shopstream", "SHOPSTREAM"))).await.json();
    let shared =
        all_pages(&bank, &format!("/fdx/v6/accounts/{checking}/transactions?limit=1000"), &consent.access_token).await;
    let ids: Vec<&str> = shared.iter().map(|t| t["transactionId"].as_str().unwrap()).collect();
    assert!(
        ids.contains(&on["transactionId"].as_str().unwrap()),
        "a purchase through the requesting platform is shared"
    );
    assert!(!ids.contains(&off["transactionId"].as_str().unwrap()), "a purchase through another platform is withheld");
    assert!(
        shared.iter().all(|t| t["subCategory"] != "MCC" || t["transactionId"] == on["transactionId"]),
        "no other purchases"
    );
    assert!(shared.iter().any(|t| t["transactionType"] == "DIRECTDEPOSIT"), "payroll is still shared");
    let everything = admin_get(&bank, &format!("/admin/accounts/{checking}/transactions")).await.json();
    assert!(everything["total"].as_u64().unwrap() as usize > shared.len(), "the admin view sees everything");

    // The same customer at a bank without the policy shares every purchase.
    let open_bank = crate::support::bank("continental").await;
    let open = crate::support::consent(&open_bank, "user_good", ALL_SCOPES, &[("platform", "chatly")]).await;
    let open_checking = account_of(&open_bank, &open, "CHECKING").await.unwrap();
    let all =
        all_pages(&open_bank, &format!("/fdx/v6/accounts/{open_checking}/transactions?limit=500"), &open.access_token)
            .await;
    assert!(all.iter().filter(|t| t["subCategory"] == "MCC").count() > 50);
}

#[tokio::test]
async fn tokens_must_be_valid_and_bound_to_the_client_certificate() {
    let bank = bank("continental").await;
    let consent = good_consent(&bank).await;
    let missing = send(&bank.fdx, Request::get("/fdx/v6/accounts").body(Body::empty()).unwrap()).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.fdx_code(), "603");
    assert!(missing.header("www-authenticate").unwrap().starts_with("Bearer"));
    let wrong = fdx_get(&bank, "/fdx/v6/accounts", "not-a-token").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.header("www-authenticate").unwrap().contains("error=\"invalid_token\""));
    let basic =
        Request::get("/fdx/v6/accounts").header(header::AUTHORIZATION, "Basic Zm9vOmJhcg==").body(Body::empty());
    assert_eq!(send(&bank.fdx, basic.unwrap()).await.status, StatusCode::UNAUTHORIZED);
    // The right token presented over another client's certificate (RFC 8705 §3).
    let mut stolen = Request::get("/fdx/v6/accounts")
        .header(header::AUTHORIZATION, format!("Bearer {}", consent.access_token))
        .body(Body::empty())
        .unwrap();
    stolen.extensions_mut().insert(bank.other_cert.clone());
    assert_eq!(send(&bank.fdx, stolen).await.status, StatusCode::UNAUTHORIZED);
    // Expired: access tokens live 30 simulated minutes.
    admin(&bank, Method::POST, "/admin/clock", Some(json!({"advance": "31m"}))).await;
    let expired = fdx_get(&bank, "/fdx/v6/accounts", &consent.access_token).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert!(expired.header("www-authenticate").unwrap().contains("invalid_token"));
    let consent = good_consent(&bank).await;
    // Revoked at the bank: the token stops at once.
    let revoked = admin(&bank, Method::POST, &format!("/admin/consents/{}/revoke", consent.consent_id), None).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text());
    let after = fdx_get(&bank, "/fdx/v6/accounts", &consent.access_token).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unknown_paths_methods_and_oversized_bodies_are_fdx_errors() {
    let bank = bank("continental").await;
    let consent = good_consent(&bank).await;
    let unknown = fdx_get(&bank, "/fdx/v6/nothing-here", &consent.access_token).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.fdx_code(), "1107");
    assert!(unknown.header("x-fapi-interaction-id").is_some());
    let post = Request::post("/fdx/v6/accounts")
        .header(header::AUTHORIZATION, format!("Bearer {}", consent.access_token))
        .body(Body::empty())
        .unwrap();
    let reply = send(&bank.fdx, post).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.fdx_code(), "1206");
    let big = Request::get("/fdx/v6/accounts")
        .header(header::AUTHORIZATION, format!("Bearer {}", consent.access_token))
        .header(header::CONTENT_LENGTH, "1048576")
        .body(Body::from(vec![b'x'; 1_048_576]))
        .unwrap();
    let reply = send(&bank.fdx, big).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    let _: Value = reply.json();
}

#[tokio::test]
async fn interaction_ids_are_echoed_or_generated() {
    let bank = bank("continental").await;
    let consent = good_consent(&bank).await;
    let plain = Request::get("/fdx/v6/accounts")
        .header(header::AUTHORIZATION, format!("Bearer {}", consent.access_token))
        .body(Body::empty())
        .unwrap();
    let reply = send(&bank.fdx, plain).await;
    let id = reply.header("x-fapi-interaction-id").unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(id.as_bytes()[14], b'4', "a version-4 UUID: {id}");
    let garbage = Request::get("/fdx/v6/accounts")
        .header(header::AUTHORIZATION, format!("Bearer {}", consent.access_token))
        .header("x-fapi-interaction-id", "<script>")
        .body(Body::empty())
        .unwrap();
    assert_ne!(send(&bank.fdx, garbage).await.header("x-fapi-interaction-id"), Some("<script>"));
}
