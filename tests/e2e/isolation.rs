//! Isolation as a property (DESIGN.md flow 4): whatever people, clusters, accounts and lookback an app's consents
//! hold, each consent reads exactly its own accounts, only the fields its clusters show, only endpoints its clusters
//! open, and only history inside its lookback window; an account outside the consent (another person's, at either
//! bank, or the same person's but not chosen) answers byte for byte what an account that does not exist answers.
//!
//! proptest draws the consents (simple strategies over lists, so a failure shrinks to a short, readable case: which
//! person, which accounts, which clusters, what lookback); every case makes real HTTPS calls to ONE sandbox (gateway
//! and two banks) started before the cases and driven from a tokio runtime built here, since proptest's test
//! closure is synchronous. The expectations come from the gateway's own table (`gateway::fdx::table`).

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use bankgate::Sandbox;
use gateway::config::Clock as _;
use gateway::consent::DataCluster;
use gateway::fdx::table::{Endpoint, FdxObject, opens, shows};
use proptest::prelude::*;
use proptest::sample::subsequence;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use time::Date;

use crate::resource_api::{self, App, consent_request};

/// Cases: each makes a few hundred HTTPS calls.
const CASES: u32 = 16;
/// The test users and one generated customer, at both banks: `user_good`, `user_mfa` (one-time code),
/// `user_many_accounts`, `user_thin` (weeks of history), `customer7`.
const PEOPLE: [u32; 5] = [0, 1, 5, 6, 7];
/// The clusters the sandbox banks serve.
const CLUSTERS: [DataCluster; 7] = [
    DataCluster::AccountBasic,
    DataCluster::AccountDetailed,
    DataCluster::Transactions,
    DataCluster::Statements,
    DataCluster::PaymentSupport,
    DataCluster::CustomerContact,
    DataCluster::CustomerPersonal,
];
/// The per-account endpoints, with the list each answer carries (`None`: the answer is the object itself).
const PER_ACCOUNT: [(Endpoint, FdxObject, Option<&str>); 5] = [
    (Endpoint::Account, FdxObject::Account, None),
    (Endpoint::Transactions, FdxObject::Transaction, Some("transactions")),
    (Endpoint::Statements, FdxObject::Statement, Some("statements")),
    (Endpoint::PaymentNetworks, FdxObject::PaymentNetwork, Some("paymentNetworks")),
    (Endpoint::AccountContact, FdxObject::AccountContact, None),
];
/// An account id no bank issues.
const NO_SUCH_ACCOUNT: &str = "acct-that-does-not-exist";

/// No rate limit: a case makes hundreds of reads in a few seconds.
fn no_rate_limit(config: &mut gateway::config::GatewayConfig) {
    config.rate_limit = None;
}

/// An account, shown as its kind and id.
#[derive(Clone, PartialEq, Eq)]
struct AccountRef {
    id: String,
    kind: &'static str,
}

impl fmt::Debug for AccountRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.id)
    }
}

/// A person at a bank, shown as `login@bank`.
#[derive(Clone)]
struct Person {
    bank: String,
    index: u32,
    accounts: Vec<AccountRef>,
}

impl fmt::Debug for Person {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", mock_bank::ledger::users::username_of(self.index), self.bank)
    }
}

impl PartialEq for Person {
    fn eq(&self, other: &Self) -> bool {
        (self.index, &self.bank) == (other.index, &other.bank)
    }
}

/// One consent of a case.
#[derive(Clone, Debug)]
struct Grant {
    person: Person,
    accounts: Vec<AccountRef>,
    clusters: Vec<DataCluster>,
    lookback_days: u32,
}

impl Grant {
    fn request(&self) -> Value {
        let clusters: Vec<&str> = self.clusters.iter().map(|c| c.as_fdx()).collect();
        let ids = self.accounts.iter().map(|a| a.id.clone()).collect();
        let mut request = consent_request(&clusters, Some(ids), self.lookback_days);
        request["bank"] = json!(self.person.bank);
        request["username"] = json!(mock_bank::ledger::users::username_of(self.person.index));
        if self.person.index == 1 {
            request["mfa_code"] = json!(mock_bank::ledger::users::MFA_CODE);
        }
        request
    }

    fn covers(&self, id: &str) -> bool {
        self.accounts.iter().any(|a| a.id == id)
    }
}

fn people(sandbox: &Sandbox) -> Vec<Person> {
    let mut out = Vec::new();
    for running in &sandbox.banks {
        for index in PEOPLE {
            let accounts = running
                .state
                .ledger
                .accounts(index)
                .into_iter()
                .map(|a| AccountRef { id: a.account_id, kind: a.kind.fdx_type() })
                .collect::<Vec<_>>();
            assert!(!accounts.is_empty(), "customer {index} has accounts");
            out.push(Person { bank: running.state.profile.id.clone(), index, accounts });
        }
    }
    out
}

/// A consent: a person, a non-empty subset of their accounts, a non-empty subset of the clusters, a lookback.
fn grant(people: Arc<Vec<Person>>) -> impl Strategy<Value = Grant> {
    (0..people.len()).prop_flat_map(move |p| {
        let person = people[p].clone();
        let count = person.accounts.len();
        (
            Just(person.clone()),
            subsequence(person.accounts, 1..=count),
            subsequence(CLUSTERS.to_vec(), 1..=CLUSTERS.len()),
            0u32..=730,
        )
            .prop_map(|(person, accounts, clusters, lookback_days)| Grant {
                person,
                accounts,
                clusters,
                lookback_days,
            })
    })
}

/// What a failed property says.
type Verdict = Result<(), String>;

fn ensure(holds: bool, what: impl FnOnce() -> String) -> Verdict {
    if holds { Ok(()) } else { Err(what()) }
}

/// `GET path` at the gateway: status and the exact body bytes.
async fn raw(app: &App, path: &str, token: &str) -> (u16, Vec<u8>) {
    let url = format!("{}{path}", app.issuer);
    let response = app.http.get(url).bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

/// Every field of `item` is one the table shows for `granted`.
fn only_shown_fields(object: FdxObject, item: &Value, granted: &[DataCluster], at: &str) -> Verdict {
    let Some(fields) = item.as_object() else { return Err(format!("{at}: not an object: {item}")) };
    let hidden: Vec<&String> = fields.keys().filter(|f| !shows(object, f, granted)).collect();
    ensure(hidden.is_empty(), || format!("{at}: fields {hidden:?} are not shown with {granted:?}"))
}

/// The date part of an FDX date or timestamp.
fn day_of(text: Option<&str>) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text?.get(..10)?, &format).ok()
}

/// Everything one consent lets its token see, checked against the grant.
async fn check_consent(
    sandbox: &Sandbox,
    app: &App,
    people: &[Person],
    grants: &[Grant],
    grant: &Grant,
    token: &str,
) -> Verdict {
    let granted = &grant.clusters;
    let who = format!("{:?}", grant.person);
    // Measured before the reads: the gateway's own window can only start later.
    let now = sandbox.gateway_clock.now();
    let earliest = (now - time::Duration::days(i64::from(grant.lookback_days))).date();

    // The account list holds exactly the consent's accounts, each cut to the shown fields.
    for query in ["", "?resultType=details"] {
        let answer = app.get(&format!("/fdx/v6/accounts{query}"), token).await;
        if !opens(Endpoint::Accounts, granted) {
            ensure(answer.status == 403, || format!("{who}: /accounts{query} answered {}, not 403", answer.status))?;
            continue;
        }
        ensure(answer.status == 200, || format!("{who}: /accounts{query} answered {}", answer.status))?;
        let listed: BTreeSet<&str> =
            answer.body["accounts"].as_array().into_iter().flatten().filter_map(|a| a["accountId"].as_str()).collect();
        let chosen: BTreeSet<&str> = grant.accounts.iter().map(|a| a.id.as_str()).collect();
        ensure(listed == chosen, || format!("{who}: /accounts{query} lists {listed:?}, the consent holds {chosen:?}"))?;
        for account in answer.body["accounts"].as_array().into_iter().flatten() {
            only_shown_fields(FdxObject::Account, account, granted, &format!("{who}: /accounts{query}"))?;
        }
    }

    // Each consented account: fields shown, 403 where nothing opens the endpoint, history inside the window.
    for account in &grant.accounts {
        for (endpoint, object, list) in PER_ACCOUNT {
            let at = format!("{who}: {} ({})", endpoint.path_for(Some(&account.id)), account.kind);
            let mut next = Some(match endpoint {
                Endpoint::Transactions | Endpoint::Statements => {
                    format!("{}?startTime=2000-01-01&limit=500", endpoint.path_for(Some(&account.id)))
                }
                _ => endpoint.path_for(Some(&account.id)),
            });
            let mut pages = 0;
            while let Some(path) = next.take() {
                let answer = app.get(&path, token).await;
                if !opens(endpoint, granted) {
                    let refused = answer.status == 403 && answer.body["code"] == "403";
                    ensure(refused, || format!("{at}: answered {} {}, not 403", answer.status, answer.body))?;
                    break;
                }
                ensure(answer.status == 200, || format!("{at}: answered {} {}", answer.status, answer.body))?;
                let items = match list {
                    None => vec![answer.body.clone()],
                    Some(list) => {
                        let envelope: Vec<&String> =
                            answer.body.as_object().map(|o| o.keys().collect()).unwrap_or_default();
                        let known = envelope.iter().all(|k| ["page", "links", list].contains(&k.as_str()));
                        ensure(known, || format!("{at}: envelope fields {envelope:?}"))?;
                        answer.body[list].as_array().cloned().unwrap_or_default()
                    }
                };
                for item in &items {
                    only_shown_fields(object, item, granted, &at)?;
                    let owner = item.get("accountId").and_then(Value::as_str);
                    ensure(owner.is_none_or(|id| id == account.id), || format!("{at}: an item of account {owner:?}"))?;
                    let dated = match endpoint {
                        Endpoint::Transactions => Some("transactionTimestamp"),
                        Endpoint::Statements => Some("statementDate"),
                        _ => None,
                    };
                    if let Some(field) = dated {
                        let day = day_of(item[field].as_str());
                        ensure(day.is_some_and(|d| d >= earliest), || {
                            format!("{at}: {field} {} is before the lookback window (from {earliest})", item[field])
                        })?;
                    }
                }
                if endpoint == Endpoint::Account {
                    let id = answer.body["accountId"].as_str();
                    ensure(id == Some(account.id.as_str()), || format!("{at}: the answer is about account {id:?}"))?;
                }
                next = answer.body["links"]["next"]["href"].as_str().map(str::to_owned);
                pages += 1;
                ensure(pages <= 20, || format!("{at}: more than 20 pages of 500"))?;
            }
        }
    }

    // The current customer: the shown fields, and only the consent's accounts.
    let answer = app.get("/fdx/v6/customers/current", token).await;
    let at = format!("{who}: /customers/current");
    if opens(Endpoint::CurrentCustomer, granted) {
        ensure(answer.status == 200, || format!("{at}: answered {} {}", answer.status, answer.body))?;
        only_shown_fields(FdxObject::Customer, &answer.body, granted, &at)?;
        for listed in answer.body["accounts"].as_array().into_iter().flatten() {
            let id = listed["accountId"].as_str().unwrap_or_default();
            ensure(grant.covers(id), || format!("{at}: lists account {id}, outside the consent"))?;
        }
    } else {
        ensure(answer.status == 403, || format!("{at}: answered {}, not 403", answer.status))?;
    }

    // Accounts outside the consent answer exactly what an account that does not exist answers: the same person's
    // unchosen accounts on every per-account endpoint; the accounts of the other people in this case, and one
    // account of everybody else, on one endpoint each (in turn). (Ids are unique per bank only, so an id that is
    // also one of the consent's own accounts is skipped: at this bank it names the consent's account.)
    let mut reference = Vec::new();
    for (endpoint, _, _) in PER_ACCOUNT {
        reference.push(raw(app, &endpoint.path_for(Some(NO_SUCH_ACCOUNT)), token).await);
    }
    let statuses: Vec<u16> = reference.iter().map(|(status, _)| *status).collect();
    ensure(statuses.iter().all(|s| *s == 404), || format!("{who}: an account that does not exist: {statuses:?}"))?;
    let mut checks: Vec<(usize, &AccountRef)> = Vec::new();
    for person in people {
        let in_case = grants.iter().any(|g| g.person == *person);
        let outside = person.accounts.iter().filter(|a| !grant.covers(&a.id));
        for account in outside.take(if in_case { usize::MAX } else { 1 }) {
            if *person == grant.person {
                checks.extend((0..PER_ACCOUNT.len()).map(|k| (k, account)));
            } else {
                checks.push((checks.len() % PER_ACCOUNT.len(), account));
            }
        }
    }
    for (k, outsider) in checks {
        let path = PER_ACCOUNT[k].0.path_for(Some(&outsider.id));
        let answer = raw(app, &path, token).await;
        ensure(answer == reference[k], || {
            format!(
                "{who}: {path} ({}) answered {} {:?}; an account that does not exist: {} {:?}",
                outsider.kind,
                answer.0,
                String::from_utf8_lossy(&answer.1),
                reference[k].0,
                String::from_utf8_lossy(&reference[k].1)
            )
        })?;
    }

    // Other people's ids in `accountIds` are dropped from the list.
    if opens(Endpoint::Accounts, granted) {
        let mut asked: Vec<&str> = vec![grant.accounts[0].id.as_str()];
        asked.extend(people.iter().flat_map(|p| &p.accounts).map(|a| a.id.as_str()).filter(|id| !grant.covers(id)));
        asked.truncate(12);
        let answer = app.get(&format!("/fdx/v6/accounts?accountIds={}", asked.join(",")), token).await;
        let listed: Vec<&str> =
            answer.body["accounts"].as_array().into_iter().flatten().filter_map(|a| a["accountId"].as_str()).collect();
        ensure(answer.status == 200 && listed == [asked[0]], || {
            format!("{who}: /accounts?accountIds={} answered {} listing {listed:?}", asked.join(","), answer.status)
        })?;
    }
    Ok(())
}

/// One case: create every consent, then check each.
async fn check_case(sandbox: &Sandbox, app: &App, people: &[Person], grants: &[Grant]) -> Verdict {
    let mut tokens = Vec::new();
    for grant in grants {
        let (_, token) = app.consent(grant.request()).await;
        tokens.push(token);
    }
    for (grant, token) in grants.iter().zip(&tokens) {
        check_consent(sandbox, app, people, grants, grant, token).await?;
    }
    Ok(())
}

#[test]
fn every_consent_sees_only_its_accounts_fields_endpoints_and_history() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let sandbox = runtime.block_on(resource_api::sandbox(Some(no_rate_limit)));
    let app = runtime.block_on(async { App::of(&sandbox) });
    let people = Arc::new(people(&sandbox));
    // No regression files: a failure prints its shrunk case, which is what to turn into a plain test.
    let config = Config { cases: CASES, max_shrink_iters: 64, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let strategy = proptest::collection::vec(grant(people.clone()), 1..=3);
    let result = runner.run(&strategy, |grants| {
        runtime.block_on(check_case(&sandbox, &app, &people, &grants)).map_err(TestCaseError::fail)
    });
    runtime.block_on(sandbox.shutdown()).expect("the sandbox stops");
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
