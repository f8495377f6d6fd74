//! The gateway's FDX resource API against the published FDX 6.2 OpenAPI document: every body the gateway answers,
//! for consents with different cluster sets and for people holding deposit accounts, credit cards and loans, is held
//! to the schema the document gives for that path and status, with the mock bank's strict validator (the same file,
//! `mock-bank/tests/it/fdx_validator.rs`). The gateway cuts bank answers to the consent (fields, accounts, lookback,
//! links), so a body that was valid at the bank can stop being valid on its way through; this is what catches it.
//!
//! Statuses the document does not give for a path (401 and 403 on every data path, and the gateway's own 502 and
//! 504 for a failing or silent bank) are held to `Error1`, the error entity every documented FDX error uses.
//! A failure here is a wire shape of the gateway that an FDX client would not expect: fix the gateway, never the
//! validator.

#[path = "../../mock-bank/tests/it/fdx_validator.rs"]
mod fdx_validator;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bankgate::Sandbox;
use gateway::consent::DataCluster;
use gateway::fdx::table::{Endpoint, opens};
use mock_bank::ledger::model::AccountKind;
use serde_json::{Value, json};

use crate::resource_api::{self, Answer, App, consent_request, set_faults};
use fdx_validator::{FdxDocument, Validator};

const FDX_PREFIX: &str = "/fdx/v6";
/// Every cluster the sandbox banks serve.
const ALL_CLUSTERS: [&str; 7] = [
    "ACCOUNT_BASIC",
    "ACCOUNT_DETAILED",
    "TRANSACTIONS",
    "STATEMENTS",
    "PAYMENT_SUPPORT",
    "CUSTOMER_CONTACT",
    "CUSTOMER_PERSONAL",
];

/// No rate limit: one run makes hundreds of reads in a few seconds.
fn no_rate_limit(config: &mut gateway::config::GatewayConfig) {
    config.rate_limit = None;
}

/// No rate limit, a bank timeout short enough for a 504 in a test, and a breaker that stays closed.
fn quick_bank_timeout(config: &mut gateway::config::GatewayConfig) {
    config.rate_limit = None;
    config.upstream.timeouts.request = Duration::from_millis(1500);
    config.upstream.breaker =
        gateway::banks::BreakerSettings { failure_threshold: 1000, cooldown: Duration::from_millis(100) };
}

fn clusters_of(names: &[&str]) -> Vec<DataCluster> {
    names.iter().map(|n| DataCluster::ALL.into_iter().find(|c| c.as_fdx() == *n).expect("an FDX cluster")).collect()
}

/// A person of a sandbox bank: bank position in `sandbox.banks`, customer index, login name.
#[derive(Debug, Clone)]
struct Person {
    bank: usize,
    index: u32,
}

impl Person {
    fn bank_id(&self, sandbox: &Sandbox) -> String {
        sandbox.banks[self.bank].state.profile.id.clone()
    }

    /// A consent request for this person (all their accounts), through the sandbox shortcut.
    fn consent_request(&self, sandbox: &Sandbox, clusters: &[&str], lookback: u32) -> Value {
        let mut request = consent_request(clusters, None, lookback);
        request["bank"] = json!(self.bank_id(sandbox));
        request["username"] = json!(mock_bank::ledger::users::username_of(self.index));
        if self.index == 1 {
            request["mfa_code"] = json!(mock_bank::ledger::users::MFA_CODE);
        }
        request
    }

    fn account_ids(&self, sandbox: &Sandbox) -> Vec<String> {
        sandbox.banks[self.bank].state.ledger.accounts(self.index).into_iter().map(|a| a.account_id).collect()
    }
}

/// At each bank: `user_good`, `user_many_accounts` (every kind of account) and the first generated customer with
/// a loan; together they hold deposit accounts, credit cards and loans.
fn people(sandbox: &Sandbox) -> Vec<Person> {
    let mut out = Vec::new();
    for (bank, running) in sandbox.banks.iter().enumerate() {
        out.push(Person { bank, index: 0 });
        out.push(Person { bank, index: 5 });
        let ledger = &running.state.ledger;
        let borrower = (mock_bank::ledger::users::MIN_CUSTOMERS..ledger.customers()).find(|i| {
            ledger.accounts(*i).iter().any(|a| matches!(a.kind, AccountKind::Mortgage | AccountKind::AutoLoan))
        });
        out.extend(borrower.map(|index| Person { bank, index }));
    }
    let kinds: BTreeSet<&str> = out
        .iter()
        .flat_map(|p| sandbox.banks[p.bank].state.ledger.accounts(p.index))
        .map(|a| a.kind.fdx_category())
        .collect();
    assert_eq!(kinds, BTreeSet::from(["DEPOSIT_ACCOUNT", "LOAN_ACCOUNT", "LOC_ACCOUNT"]), "every kind of account");
    out
}

/// The document, the app, and what was checked so far.
struct Conformance<'a> {
    app: &'a App,
    doc: FdxDocument,
    failures: Vec<String>,
    /// `(template, status, schema)` -> bodies checked, where `schema` says whether the document gave the path's
    /// schema for that status or the body was held to `Error1`.
    checked: BTreeMap<(String, u16, &'static str), usize>,
}

impl<'a> Conformance<'a> {
    fn new(app: &'a App) -> Self {
        Self { app, doc: FdxDocument::load(), failures: Vec::new(), checked: BTreeMap::new() }
    }

    /// `GET path` (a path of the document's `template`, or an absolute link) with `token`, expect `status`, and hold
    /// the body to the document. Returns the body.
    async fn check(&mut self, template: &str, path: &str, token: &str, status: u16) -> Value {
        let answer = self.app.get(path, token).await;
        assert_eq!(answer.status, status, "GET {path}: {}", answer.body);
        self.hold(Some(template), path, &answer);
        answer.body
    }

    /// Hold one answer to the schema of `template` at its status, `Error1` for an error status the document does
    /// not give there (or for a path outside the document, `template` `None`).
    fn hold(&mut self, template: Option<&str>, path: &str, answer: &Answer) {
        let content_type = answer.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(content_type.starts_with("application/json"), "GET {path}: content type `{content_type}`");
        let documented = template.and_then(|t| self.doc.documented_response(t, answer.status));
        let (schema, source) = match documented {
            Some(schema) => (schema, "path"),
            None if answer.status >= 400 => {
                (self.doc.schema_named("Error1").expect("FDX 6.2 defines Error1"), "Error1")
            }
            None => panic!("the FDX document gives GET {template:?} no schema for status {}", answer.status),
        };
        let errors = Validator::new(&self.doc).errors(schema, &answer.body, "$");
        let shown = template.unwrap_or("(no FDX path)").to_owned();
        *self.checked.entry((shown, answer.status, source)).or_default() += 1;
        self.failures.extend(errors.into_iter().map(|e| format!("GET {path} ({}): {e}", answer.status)));
    }

    /// `first` and the pages its `links.next` lead to, at most `pages` in all; the items of `list` seen.
    async fn pages(&mut self, template: &str, first: String, token: &str, list: &str, pages: usize) -> Vec<Value> {
        let mut items = Vec::new();
        let mut next = Some(first);
        for _ in 0..pages {
            let Some(path) = next.take() else { break };
            let body = self.check(template, &path, token, 200).await;
            items.extend(body[list].as_array().cloned().unwrap_or_default());
            next = body["links"]["next"]["href"].as_str().map(str::to_owned);
        }
        items
    }

    fn total(&self) -> usize {
        self.checked.values().sum()
    }

    fn finish(self, what: &str) {
        assert!(self.total() > 0, "{what}: nothing was checked");
        assert!(
            self.failures.is_empty(),
            "{what}: {} violations of the FDX 6.2 document in {} gateway responses:\n{}",
            self.failures.len(),
            self.total(),
            self.failures.join("\n")
        );
    }
}

fn account_path(id: &str, tail: &str) -> String {
    format!("{FDX_PREFIX}/accounts/{id}{tail}")
}

/// The status the gateway answers `endpoint` with under a consent of `granted` (for an account inside it).
fn status_for(endpoint: Endpoint, granted: &[DataCluster]) -> u16 {
    if opens(endpoint, granted) { 200 } else { 403 }
}

/// Every endpoint of the gateway, for every account of several people, under a consent of `clusters`: the 200 and
/// 403 bodies conform. Returns what was seen: account categories, transactions, statements.
async fn every_endpoint_conforms(clusters: &[&str]) -> (BTreeSet<String>, usize, usize) {
    let sandbox = resource_api::sandbox(Some(no_rate_limit)).await;
    let app = App::of(&sandbox);
    let granted = clusters_of(clusters);
    let mut run = Conformance::new(&app);
    let (mut categories, mut transactions, mut statements) = (BTreeSet::new(), 0, 0);
    for person in people(&sandbox) {
        let (_, token) = app.consent(person.consent_request(&sandbox, clusters, 365)).await;
        let accounts = person.account_ids(&sandbox);
        let listing = status_for(Endpoint::Accounts, &granted);
        for query in ["", "?resultType=lightweight", "?resultType=details"] {
            let body = run.check("/accounts", &format!("{FDX_PREFIX}/accounts{query}"), &token, listing).await;
            for account in body["accounts"].as_array().into_iter().flatten() {
                categories.extend(account["accountCategory"].as_str().map(str::to_owned));
            }
        }
        if listing == 200 {
            let first = format!("{FDX_PREFIX}/accounts?resultType=details&limit=2");
            let seen = run.pages("/accounts", first, &token, "accounts", 10).await;
            assert_eq!(seen.len(), accounts.len(), "paging the accounts list shows each account once");
        }
        for id in &accounts {
            let status = status_for(Endpoint::Account, &granted);
            run.check("/accounts/{accountId}", &account_path(id, ""), &token, status).await;
            let template = "/accounts/{accountId}/transactions";
            if opens(Endpoint::Transactions, &granted) {
                let first = account_path(id, "/transactions?limit=40");
                transactions += run.pages(template, first, &token, "transactions", 3).await.len();
            } else {
                run.check(template, &account_path(id, "/transactions"), &token, 403).await;
            }
            let template = "/accounts/{accountId}/statements";
            if opens(Endpoint::Statements, &granted) {
                statements +=
                    run.pages(template, account_path(id, "/statements?limit=3"), &token, "statements", 2).await.len();
            } else {
                run.check(template, &account_path(id, "/statements"), &token, 403).await;
            }
            let status = status_for(Endpoint::PaymentNetworks, &granted);
            let networks = account_path(id, "/payment-networks");
            run.check("/accounts/{accountId}/payment-networks", &networks, &token, status).await;
            let status = status_for(Endpoint::AccountContact, &granted);
            run.check("/accounts/{accountId}/contact", &account_path(id, "/contact"), &token, status).await;
        }
        let status = status_for(Endpoint::CurrentCustomer, &granted);
        run.check("/customers/current", &format!("{FDX_PREFIX}/customers/current"), &token, status).await;
    }
    run.finish(&format!("consents of {}", clusters.join(" ")));
    sandbox.shutdown().await.unwrap();
    (categories, transactions, statements)
}

#[tokio::test]
async fn account_basic_answers_conform_to_fdx_6_2() {
    let (categories, transactions, _) = every_endpoint_conforms(&["ACCOUNT_BASIC"]).await;
    assert_eq!(categories.len(), 3, "deposit, card and loan accounts were listed: {categories:?}");
    assert_eq!(transactions, 0, "no TRANSACTIONS cluster, no transactions");
}

#[tokio::test]
async fn account_basic_and_detailed_answers_conform_to_fdx_6_2() {
    let (categories, _, statements) = every_endpoint_conforms(&["ACCOUNT_BASIC", "ACCOUNT_DETAILED"]).await;
    assert_eq!(categories.len(), 3, "deposit, card and loan accounts were listed: {categories:?}");
    assert_eq!(statements, 0, "no STATEMENTS cluster, no statements");
}

#[tokio::test]
async fn answers_under_every_cluster_the_banks_serve_conform_to_fdx_6_2() {
    let (categories, transactions, statements) = every_endpoint_conforms(&ALL_CLUSTERS).await;
    assert_eq!(categories.len(), 3, "deposit, card and loan accounts were listed: {categories:?}");
    assert!(transactions > 300, "only {transactions} transactions were checked");
    assert!(statements > 10, "only {statements} statements were checked");
}

/// 404, 403, 400 and 401 bodies, and the gateway's own 502, 503 and 504 for a failing, closed or silent bank.
#[tokio::test]
async fn error_bodies_of_the_gateway_conform_to_fdx_6_2() {
    let sandbox = resource_api::sandbox(Some(quick_bank_timeout)).await;
    let app = App::of(&sandbox);
    let mut run = Conformance::new(&app);
    let own = sandbox.banks[0].state.ledger.accounts(0);
    let chosen = vec![own[0].account_id.clone()];
    let narrow = consent_request(&["ACCOUNT_BASIC", "TRANSACTIONS"], Some(chosen.clone()), 30);
    let (_, narrow) = app.consent(narrow).await;
    let (_, full) = app.consent(consent_request(&ALL_CLUSTERS, None, 365)).await;
    let id = chosen[0].as_str();
    let per_account = [
        "/accounts/{accountId}",
        "/accounts/{accountId}/transactions",
        "/accounts/{accountId}/statements",
        "/accounts/{accountId}/payment-networks",
        "/accounts/{accountId}/contact",
    ];
    let path_of = |template: &str, account: &str| format!("{FDX_PREFIX}{}", template.replace("{accountId}", account));

    // 404: an account that does not exist, one of the same person outside the consent, another person's. (Account
    // ids are unique per bank only: `accNNNNNNNNSS` is customer N's slot S at every bank.)
    let strangers = [
        "acct-does-not-exist".to_owned(),
        own[1].account_id.clone(),
        sandbox.banks[0].state.ledger.accounts(5)[0].account_id.clone(),
    ];
    for template in per_account {
        for stranger in &strangers {
            let body = run.check(template, &path_of(template, stranger), &narrow, 404).await;
            assert_eq!(body["code"], "701", "{body}");
        }
    }
    let unknown = app.get(&format!("{FDX_PREFIX}/nothing-here"), &narrow).await;
    assert_eq!(unknown.status, 404);
    run.hold(None, "/fdx/v6/nothing-here", &unknown);

    // 403: endpoints no granted cluster opens.
    for template in &per_account[2..] {
        run.check(template, &path_of(template, id), &narrow, 403).await;
    }
    run.check("/customers/current", &format!("{FDX_PREFIX}/customers/current"), &narrow, 403).await;

    // 400: parameters the gateway refuses.
    let transactions = "/accounts/{accountId}/transactions";
    let statements = "/accounts/{accountId}/statements";
    for (template, tail) in [
        (transactions, "/transactions?startTime=2026-02-30"),
        (transactions, "/transactions?endTime=yesterday"),
        (transactions, "/transactions?limit=ten"),
        (transactions, "/transactions?limit=5&limit=6"),
        (statements, "/statements?startTime=2026-13-01"),
    ] {
        run.check(template, &account_path(id, tail), &full, 400).await;
    }
    run.check("/accounts", &format!("{FDX_PREFIX}/accounts?resultType=everything"), &full, 400).await;

    // 401: a token the gateway never issued, and none at all.
    for template in per_account.iter().chain(&["/accounts", "/customers/current"]) {
        run.check(template, &path_of(template, id), "not-a-token-of-this-gateway", 401).await;
    }
    let anonymous = app.http.get(format!("{}{FDX_PREFIX}/accounts", app.issuer)).send().await.unwrap();
    let status = anonymous.status().as_u16();
    let headers = anonymous.headers().clone();
    let anonymous = Answer { status, headers, body: anonymous.json().await.unwrap_or(Value::Null) };
    assert_eq!(anonymous.status, 401);
    run.hold(Some("/accounts"), "/fdx/v6/accounts (no token)", &anonymous);

    // The bank fails (502), is in maintenance (503, documented), is silent (504).
    set_faults(&sandbox, json!([{"endpoint": "*", "error": {"rate": 1.0, "status": 500, "code": "500"}}])).await;
    for template in per_account {
        run.check(template, &path_of(template, id), &full, 502).await;
    }
    run.check("/accounts", &format!("{FDX_PREFIX}/accounts"), &full, 502).await;
    run.check("/customers/current", &format!("{FDX_PREFIX}/customers/current"), &full, 502).await;
    set_faults(&sandbox, json!([{"endpoint": "*", "malformedBodyRate": 1.0}])).await;
    run.check("/accounts", &format!("{FDX_PREFIX}/accounts"), &full, 502).await;
    let until = (sandbox.banks[0].state.clock.now() + time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    set_faults(&sandbox, json!([{"endpoint": "*", "maintenanceUntil": until}])).await;
    for template in per_account {
        run.check(template, &path_of(template, id), &full, 503).await;
    }
    set_faults(&sandbox, json!([{"endpoint": "transactions", "latency": {"kind": "fixed", "ms": 5000}}])).await;
    let body = run.check(transactions, &account_path(id, "/transactions"), &full, 504).await;
    assert_eq!(body["code"], "504", "{body}");
    set_faults(&sandbox, json!([])).await;

    let fell_back: usize =
        run.checked.iter().filter(|((_, _, source), _)| *source == "Error1").map(|(_, count)| *count).sum();
    let statuses: BTreeSet<u16> = run.checked.keys().map(|(_, status, _)| *status).collect();
    assert_eq!(statuses, BTreeSet::from([400, 401, 403, 404, 502, 503, 504]), "{:?}", run.checked);
    assert!(fell_back > 0 && fell_back < run.total(), "{:?}", run.checked);
    run.finish("error bodies");
    sandbox.shutdown().await.unwrap();
}
