//! Conformance of the bank's FDX API to the published FDX 6.2 OpenAPI document: every response body a real bank
//! serves to a user with every kind of account is checked against the schema the document gives for that path and
//! status, with the strict validator of [`crate::fdx_validator`] (shared with the end-to-end tests of the gateway);
//! and the validator's own tests, on real bodies with one mistake each and on a toy document.
//!
//! A failure here means the bank's wire shapes are wrong: the validator must never be loosened to make it pass.

use crate::fdx_validator::{FdxDocument, Pattern, Validator};
use crate::support::*;
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The bank serves the document's paths under this prefix.
const FDX_PREFIX: &str = "/fdx/v6";

// ---- the bank, checked --------------------------------------------------------------------------------------------

/// One bank, a consent of the user with every kind of account, and the document to hold its answers to.
struct Conformance {
    doc: FdxDocument,
    bank: TestBank,
    consent: Consent,
    failures: Vec<String>,
    checked: usize,
}

impl Conformance {
    async fn new(bank_id: &str) -> Self {
        let doc = FdxDocument::load();
        let bank = bank(bank_id).await;
        let consent = consent(&bank, "user_many_accounts", ALL_SCOPES, &[]).await;
        Self { doc, bank, consent, failures: Vec::new(), checked: 0 }
    }

    /// Go on with another shipped bank (each has its own products, quirks and sharing policy).
    async fn switch_to(&mut self, bank_id: &str) {
        self.bank = bank(bank_id).await;
        self.consent = consent(&self.bank, "user_many_accounts", ALL_SCOPES, &[]).await;
    }

    /// `GET` the bank's `uri` (the document's `template` with its parameters filled in), expect `status`, and hold
    /// the body to the document's schema for that path and status. Returns the body.
    async fn check(&mut self, template: &str, uri: &str, status: StatusCode) -> Value {
        assert!(uri.starts_with(&format!("{FDX_PREFIX}/")), "{uri} is not an FDX path");
        let reply = fdx_get(&self.bank, uri, &self.consent.access_token).await;
        assert_eq!(reply.status, status, "GET {uri}: {}", reply.text());
        let content_type = reply.header("content-type").unwrap_or_default().to_owned();
        assert!(content_type.starts_with("application/json"), "GET {uri}: content type `{content_type}`");
        let body = reply.json();
        let schema = self.doc.response_schema(template, status.as_u16());
        let validator = Validator::new(&self.doc);
        let errors = validator.errors(schema, &body, "$");
        self.checked += 1;
        self.failures.extend(errors.into_iter().map(|e| format!("GET {uri} ({status}): {e}")));
        body
    }

    /// Every transaction page from `first`, at most `pages` of them.
    async fn transaction_pages(&mut self, first: String, pages: usize) -> usize {
        let template = "/accounts/{accountId}/transactions";
        let mut uri = first;
        let mut seen = 0;
        for _ in 0..pages {
            let body = self.check(template, &uri, StatusCode::OK).await;
            seen += body["transactions"].as_array().map_or(0, Vec::len);
            match body["links"]["next"]["href"].as_str() {
                Some(next) => uri = next.to_owned(),
                None => break,
            }
        }
        seen
    }

    fn finish(self, what: &str) {
        assert!(self.checked > 0, "{what}: nothing was checked");
        assert!(
            self.failures.is_empty(),
            "{what}: {} violations of the FDX 6.2 document in {} responses:\n{}",
            self.failures.len(),
            self.checked,
            self.failures.join("\n")
        );
    }
}

fn account_path(id: &str, tail: &str) -> String {
    format!("{FDX_PREFIX}/accounts/{id}{tail}")
}

/// Every shipped bank's id.
fn bank_ids() -> Vec<String> {
    mock_bank::profile::load_profiles(None).expect("shipped profiles").into_iter().map(|b| b.id).collect()
}

#[tokio::test]
async fn account_list_and_every_account_conform() {
    let banks = bank_ids();
    let mut run = Conformance::new(&banks[0]).await;
    for bank_id in &banks {
        run.switch_to(bank_id).await;
        let mut categories = BTreeSet::new();
        for query in ["", "?resultType=details"] {
            let body = run.check("/accounts", &format!("{FDX_PREFIX}/accounts{query}"), StatusCode::OK).await;
            for account in body["accounts"].as_array().into_iter().flatten() {
                categories.insert(account["accountCategory"].as_str().unwrap_or_default().to_owned());
            }
        }
        let first = run.check("/accounts", &format!("{FDX_PREFIX}/accounts?limit=2"), StatusCode::OK).await;
        let href = first["links"]["next"]["href"].as_str().expect("the many-accounts user has more than two accounts");
        run.check("/accounts", href, StatusCode::OK).await;
        for id in run.consent.account_ids.clone() {
            run.check("/accounts/{accountId}", &account_path(&id, ""), StatusCode::OK).await;
        }
        let expected = BTreeSet::from(["DEPOSIT_ACCOUNT", "LOAN_ACCOUNT", "LOC_ACCOUNT"].map(str::to_owned));
        assert_eq!(categories, expected, "{bank_id}: the many-accounts user holds every kind of account");
    }
    run.finish("accounts");
}

#[tokio::test]
async fn transactions_of_every_account_conform() {
    let banks = bank_ids();
    let mut run = Conformance::new(&banks[0]).await;
    for bank_id in &banks {
        run.switch_to(bank_id).await;
        let mut total = 0;
        for id in run.consent.account_ids.clone() {
            total += run.transaction_pages(account_path(&id, "/transactions?limit=40"), 3).await;
            // A window with both pending and posted entries, and a window wholly in the past.
            let recent = account_path(&id, "/transactions?startTime=2026-11-01&endTime=2026-11-18");
            total += run.transaction_pages(recent, 2).await;
            let past = account_path(&id, "/transactions?startTime=2025-12-01&endTime=2025-12-31&limit=25");
            total += run.transaction_pages(past, 2).await;
        }
        assert!(total > 300, "{bank_id}: only {total} transactions were checked");
    }
    run.finish("transactions");
}

#[tokio::test]
async fn statements_networks_contact_and_customer_conform() {
    let banks = bank_ids();
    let mut run = Conformance::new(&banks[0]).await;
    for bank_id in &banks {
        run.switch_to(bank_id).await;
        let mut statements = 0;
        for id in run.consent.account_ids.clone() {
            let all = account_path(&id, "/statements");
            let body = run.check("/accounts/{accountId}/statements", &all, StatusCode::OK).await;
            statements += body["statements"].as_array().map_or(0, Vec::len);
            let paged = account_path(&id, "/statements?limit=3");
            let body = run.check("/accounts/{accountId}/statements", &paged, StatusCode::OK).await;
            if let Some(next) = body["links"]["next"]["href"].as_str() {
                run.check("/accounts/{accountId}/statements", next, StatusCode::OK).await;
            }
            let networks = account_path(&id, "/payment-networks");
            run.check("/accounts/{accountId}/payment-networks", &networks, StatusCode::OK).await;
            run.check("/accounts/{accountId}/contact", &account_path(&id, "/contact"), StatusCode::OK).await;
        }
        assert!(statements > 0, "{bank_id}: 24 months of history produce statements");
        run.check("/customers/current", &format!("{FDX_PREFIX}/customers/current"), StatusCode::OK).await;
    }
    run.finish("statements, payment networks, contact, customer");
}

#[tokio::test]
async fn error_bodies_conform_to_the_documented_error_schema() {
    let mut run = Conformance::new("continental").await;
    let unknown = "acct-does-not-exist";
    let mut bodies = Vec::new();
    bodies.push(run.check("/accounts/{accountId}", &account_path(unknown, ""), StatusCode::NOT_FOUND).await);
    let uri = account_path(unknown, "/transactions");
    bodies.push(run.check("/accounts/{accountId}/transactions", &uri, StatusCode::NOT_FOUND).await);
    let id = run.consent.account_ids[0].clone();
    for (template, uri) in [
        ("/accounts/{accountId}/transactions", account_path(&id, "/transactions?startTime=2026-02-30")),
        ("/accounts/{accountId}/transactions", account_path(&id, "/transactions?endTime=yesterday")),
        ("/accounts/{accountId}/statements", account_path(&id, "/statements?startTime=2026-13-01")),
        ("/accounts", format!("{FDX_PREFIX}/accounts?resultType=everything")),
    ] {
        bodies.push(run.check(template, &uri, StatusCode::BAD_REQUEST).await);
    }
    // FDX §6.2: an error carries its code and a message, both non-empty strings.
    for body in &bodies {
        for field in ["code", "message"] {
            assert!(body[field].as_str().is_some_and(|s| !s.is_empty()), "error without `{field}`: {body}");
        }
    }
    assert_eq!(bodies[0]["code"], "701");
    assert_eq!(bodies[2]["code"], "702");
    run.finish("error bodies");
}

/// The same check, shown failing on real bodies with one realistic mistake each: a field of another account kind,
/// an invented field name, a wrong enum value, a date that does not exist, a number sent as a string.
#[tokio::test]
async fn real_bodies_with_one_mistake_each_are_caught() {
    let mut run = Conformance::new("continental").await;
    let details = run.check("/accounts", &format!("{FDX_PREFIX}/accounts?resultType=details"), StatusCode::OK).await;
    let accounts = details["accounts"].as_array().expect("accounts");
    let card = accounts.iter().find(|a| a["accountCategory"] == "LOC_ACCOUNT").expect("a card").clone();
    let card_id = card["accountId"].as_str().unwrap().to_owned();
    let uri = account_path(&card_id, "/transactions?limit=5");
    let page = run.check("/accounts/{accountId}/transactions", &uri, StatusCode::OK).await;
    let validator = Validator::new(&run.doc);
    let account_schema = run.doc.response_schema("/accounts/{accountId}", 200);
    assert_eq!(validator.errors(account_schema, &card, "$"), Vec::<String>::new());
    let mutate = |body: &Value, change: &dyn Fn(&mut Value)| {
        let mut body = body.clone();
        change(&mut body);
        body
    };
    let cases = [
        ("accountCategory", json!("DEPOSIT_ACCOUNT"), "property `creditLine` is not declared"),
        ("rewardsBalance", json!(12.5), "property `rewardsBalance` is not declared"),
        ("status", json!("ACTIVE"), "$.status: \"ACTIVE\" is not one of the enum values"),
        ("lastStmtDate", json!("2026-02-30"), "$.lastStmtDate: \"2026-02-30\" is not a valid `date`"),
    ];
    for (field, value, expected) in cases {
        let errors = validator.errors(account_schema, &mutate(&card, &|a| a[field] = value.clone()), "$");
        assert!(errors.iter().any(|e| e.contains(expected)), "expected `{expected}` in {errors:#?}");
    }
    let schema = run.doc.response_schema("/accounts/{accountId}/transactions", 200);
    let errors = validator.errors(schema, &mutate(&page, &|p| p["transactions"][0]["amount"] = json!("12.50")), "$");
    assert!(errors.iter().any(|e| e.starts_with("$.transactions[0].amount: \"12.50\" is not of type number")));
    // A card purchase labelled as a deposit-account transaction: PURCHASE is no DepositTransactionType.
    let relabelled = mutate(&page, &|p| {
        p["transactions"][0]["accountCategory"] = json!("DEPOSIT_ACCOUNT");
        p["transactions"][0]["transactionType"] = json!("PURCHASE");
    });
    let errors = validator.errors(schema, &relabelled, "$");
    assert!(errors.iter().any(|e| e.contains("transactionType: \"PURCHASE\" is not one of")), "{errors:#?}");
    let errors = validator.errors(schema, &mutate(&page, &|p| p["page"]["nextOffset"] = json!(40)), "$");
    assert!(errors.iter().any(|e| e.starts_with("$.page.nextOffset: 40 is not of type string")), "{errors:#?}");
    run.finish("real bodies");
}

// ---- the validator's own tests: it catches what it claims to ----------------------------------------------------

fn toy_document() -> FdxDocument {
    FdxDocument::from_value(json!({
        "openapi": "3.1.0",
        "paths": {},
        "components": { "schemas": {
            "Base": {
                "type": "object",
                "required": ["kind"],
                "properties": {
                    "kind": { "type": "string" },
                    "id": { "type": "string", "maxLength": 5 },
                    "opened": { "type": "string", "contentEncoding": "date" },
                    "at": { "type": "string", "format": "date-time" },
                    "count": { "type": "integer", "contentEncoding": "int32", "minimum": 0 },
                    "phone": { "type": "string", "pattern": "^\\d{3}-\\d+$" },
                    "tags": { "type": "array", "items": { "enum": ["A", "B"] } },
                    "maybe": { "type": ["string", "null"] }
                },
                "discriminator": { "propertyName": "kind", "mapping": { "CARD": "Card", "LOAN": "Loan" } }
            },
            "Card": { "allOf": [ { "$ref": "#/components/schemas/Base" },
                                 { "type": "object", "properties": { "limit": { "type": "number" } } } ] },
            "Loan": { "allOf": [ { "$ref": "#/components/schemas/Base" },
                                 { "type": "object", "properties": { "term": { "type": "integer" } } } ] },
            "List": { "type": "object", "properties": { "items": { "type": "array", "items": {
                "anyOf": [ { "$ref": "#/components/schemas/Card" }, { "$ref": "#/components/schemas/Loan" } ] } } } },
            "Closed": { "type": "object", "additionalProperties": false, "properties": { "a": { "type": "boolean" } } },
            "Odd": { "type": "string", "propertyNames": { "maxLength": 2 } }
        } }
    }))
}

fn toy_errors(doc: &FdxDocument, schema: &str, instance: Value) -> Vec<String> {
    let schema = doc.schema_named(schema).expect("a toy schema");
    Validator::new(doc).errors(schema, &instance, "$")
}

#[test]
fn validator_accepts_a_conforming_instance() {
    let doc = toy_document();
    let good = json!({ "items": [
        { "kind": "CARD", "id": "c1", "limit": 500.5, "opened": "2024-02-29", "at": "2026-11-18T12:00:00Z",
          "count": 3, "phone": "555-0100", "tags": ["A"], "maybe": null },
        { "kind": "LOAN", "term": 360 }
    ] });
    assert_eq!(toy_errors(&doc, "List", good), Vec::<String>::new());
}

#[test]
fn validator_reports_undeclared_and_misplaced_fields() {
    let doc = toy_document();
    // `term` is a Loan field: on a CARD (chosen by the discriminator) it is undeclared, as is a made-up name.
    let errors = toy_errors(&doc, "List", json!({ "items": [ { "kind": "CARD", "term": 12, "colour": "red" } ] }));
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors.iter().all(|e| e.contains("is not declared")), "{errors:#?}");
    assert!(errors[0].contains("$.items[0]") && errors.iter().any(|e| e.contains("`colour`")), "{errors:#?}");
    let errors = toy_errors(&doc, "List", json!({ "items": [ { "kind": "SHARE", "id": "s1" } ] }));
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].contains("selects none"), "{errors:#?}");
    let errors = toy_errors(&doc, "Closed", json!({ "a": true, "b": 1 }));
    assert!(errors.len() == 1 && errors[0].contains("additionalProperties: false"), "{errors:#?}");
}

#[test]
fn validator_reports_bad_values() {
    let doc = toy_document();
    let bad = json!({ "kind": "CARD", "id": "toolong", "opened": "2026-02-30", "at": "2026-11-18 12:00",
        "count": 2_147_483_648_i64, "phone": "555-01x", "tags": ["C"], "maybe": 3, "limit": "500" });
    let errors = toy_errors(&doc, "Card", bad);
    for needle in [
        "$.id: 7 characters",
        "$.opened: \"2026-02-30\" is not a valid `date`",
        "$.at: \"2026-11-18 12:00\" is not a valid `date-time`",
        "$.count: 2147483648 is not a valid `int32`",
        "$.phone: \"555-01x\" does not match",
        "$.tags[0]: \"C\" is not one of the enum values",
        "$.maybe: 3 is not of type string | null",
        "$.limit: \"500\" is not of type number",
    ] {
        assert!(errors.iter().any(|e| e.starts_with(needle)), "missing `{needle}` in {errors:#?}");
    }
    assert_eq!(errors.len(), 8, "{errors:#?}");
    let errors = toy_errors(&doc, "Card", json!({ "count": -1 }));
    assert!(errors.iter().any(|e| e.contains("required property `kind`")), "{errors:#?}");
    assert!(errors.iter().any(|e| e.contains("below the schema's minimum")), "{errors:#?}");
}

#[test]
fn validator_refuses_keywords_it_does_not_understand() {
    let doc = toy_document();
    let errors = toy_errors(&doc, "Odd", json!("x"));
    assert!(errors.len() == 1 && errors[0].contains("`propertyNames`"), "{errors:#?}");
    assert!(Pattern::parse("(a|b)").is_err() && Pattern::parse("a+?").is_err());
    let p = Pattern::parse("\\d+").unwrap();
    assert!(p.is_found_in("x12") && !p.is_found_in("abc"));
    let p = Pattern::parse("^[A-Z]{2,3}$").unwrap();
    assert!(p.is_found_in("USD") && !p.is_found_in("USDX") && !p.is_found_in("U"));
}
