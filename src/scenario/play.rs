//! Plays one parsed scenario against a [`System`]: each step over HTTPS as an app, a person or a bank operator
//! would act, recording every exchange for the reports. A step fails with a sentence that names what was expected
//! and what came back; transport failures (nothing answered) are infrastructure, reported apart (exit 3).
//!
//! It never reads the wall clock for an outcome: `iat` claims come from the gateway's clock, dates in variables
//! from the simulated clock. Wall time only bounds waits (`retry.interval`, `within`).

use super::keys::AppKey;
use super::system::System;
use super::webhooks::{self, Receiver, Webhook};
use crate::person::{LoginOutcome, LoginPlan, Person, Pkce};
use crate::sandbox::{SAMPLE_APP_CLIENTS, SAMPLE_APP_REDIRECT};
use scenarios::assert::{check, shown};
use scenarios::jsonpath::JsonPath;
use scenarios::model::{
    Assertion, Capture, CaptureSpec, ClientAuth, ConsentFlow, Decision, EventFilter, Expect, ExpectNoWebhook,
    ExpectWebhook, NOTIFICATION_TYPES, RegisterClient, RequestAuth, Revoker, Spanned, Step, Subscribe, ValueExpect,
};
use scenarios::report::{Exchange, Outcome, StepReport};
use scenarios::vars::{Vars, is_set};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Where registered apps send the person back (nothing listens: the walk stops at the redirect).
const APP_REDIRECT: &str = "https://app.example/callback";
/// Longest response body kept in a report.
const KEPT_BODY: usize = 64 * 1024;
/// How long `subscribe` waits for the gateway's own subscription at the bank (made off the consent's request path).
const BANK_SUBSCRIPTION_WAIT: Duration = Duration::from_secs(10);
/// How long `expect_no_webhook` waits for the banks' notification outboxes to empty before it watches.
const OUTBOX_IDLE_WAIT: Duration = Duration::from_secs(10);

/// Why a step stopped.
#[derive(Debug)]
pub enum StepError {
    /// An expectation did not hold.
    Failed(String),
    /// Nothing answered, or the runner could not do its part.
    Broken(String),
}

type StepResult<T> = Result<T, StepError>;

fn failed<T>(message: impl Into<String>) -> StepResult<T> {
    Err(StepError::Failed(message.into()))
}

fn broken(e: impl std::fmt::Display) -> StepError {
    StepError::Broken(format!("{e:#}"))
}

/// An app the scenario registered (or the sandbox client).
#[derive(Debug)]
struct AppClient {
    id: String,
    auth: ClientAuth,
    key: Option<AppKey>,
    /// Presents the app's certificate for tls_client_auth; plain otherwise.
    http: reqwest::Client,
    /// Another certificate of the same CA (a thief's), for tls_client_auth.
    thief_http: Option<reqwest::Client>,
    secret: Option<String>,
    redirect: String,
    /// client_credentials tokens by scope: (token, token_type).
    management: BTreeMap<String, (String, String)>,
}

#[derive(Debug, Clone, Default)]
struct GrantState {
    client: String,
    bank: String,
    user: String,
    code: Option<String>,
    verifier: String,
    access_token: Option<String>,
    token_type: String,
    refresh_token: Option<String>,
    consent_id: Option<String>,
}

/// A response as steps see it.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
    json: Value,
    elapsed: Duration,
}

pub struct Player<'a> {
    system: &'a System,
    file: String,
    /// Trusts the sandbox CA, follows no redirects.
    http: reqwest::Client,
    vars: Vars,
    clients: BTreeMap<String, AppClient>,
    grants: BTreeMap<String, GrantState>,
    /// Simulated time: the start and how far the clocks were moved.
    start: OffsetDateTime,
    advanced: time::Duration,
    exchanges: Vec<Exchange>,
    pub reports: Vec<StepReport>,
    /// The apps' webhook receiver, started by the first `subscribe`.
    receiver: Option<Receiver>,
    /// The index of the step being played (`3`, `5[2].1`), for `matched by step ...`.
    step_index: String,
}

impl std::fmt::Debug for Player<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Player").field("file", &self.file).finish_non_exhaustive()
    }
}

fn client_builder(ca_pem: &str, identity: Option<&str>) -> anyhow::Result<reqwest::Client> {
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes())?;
    let mut builder = reqwest::Client::builder()
        .tls_certs_only([ca])
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30));
    if let Some(pem) = identity {
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes())?);
    }
    Ok(builder.build()?)
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

impl<'a> Player<'a> {
    pub fn new(
        system: &'a System,
        file: &str,
        start: OffsetDateTime,
        initial: BTreeMap<String, Value>,
    ) -> anyhow::Result<Self> {
        let mut player = Self {
            system,
            file: file.to_owned(),
            http: client_builder(&system.ca_pem, None)?,
            vars: Vars::new(initial),
            clients: BTreeMap::new(),
            grants: BTreeMap::new(),
            start,
            advanced: time::Duration::ZERO,
            exchanges: Vec::new(),
            reports: Vec::new(),
            receiver: None,
            step_index: String::new(),
        };
        player.tick();
        Ok(player)
    }

    /// The simulated now of the banks (start plus every move).
    fn sim_now(&self) -> OffsetDateTime {
        self.start + self.advanced
    }

    fn tick(&mut self) {
        let now = self.sim_now();
        let days = (now.unix_timestamp()).div_euclid(86_400);
        self.vars.set_clock(rfc3339(now), days);
    }

    /// Set a bank's fault rules before the first step.
    pub async fn setup_faults(&mut self, bank: &str, faults: &[Value]) -> Result<(), StepError> {
        self.set_faults(bank, &Value::Array(faults.to_vec())).await
    }

    /// Register one of `setup.clients` before the first step, exactly as a `register_client` step would.
    pub async fn setup_client(&mut self, client: &RegisterClient) -> Result<(), StepError> {
        self.register(client).await
    }

    /// Play `steps`; on the first failure, `Err((outcome, sentence with file:line:column))`.
    pub async fn play(&mut self, steps: &[Spanned<Step>], prefix: &str) -> Result<(), (Outcome, String)> {
        for (i, spanned) in steps.iter().enumerate() {
            let index = if prefix.is_empty() { format!("{}", i + 1) } else { format!("{prefix}.{}", i + 1) };
            let (line, column) = (spanned.referenced.line() as u32, spanned.referenced.column() as u32);
            let started = Instant::now();
            self.exchanges.clear();
            let kind = spanned.value.kind();
            self.step_index = index.clone();
            let (result, attempts) = match &spanned.value {
                Step::Repeat(repeat) => {
                    // Nested steps report themselves; the repeat reports its own outcome after them.
                    let mut rounds = 0u32;
                    let result = loop {
                        let go_on = match (&repeat.times, &repeat.while_set) {
                            (Some(times), _) => rounds < *times,
                            (None, Some(var)) => is_set(self.vars.get(var)),
                            (None, None) => false,
                        };
                        if !go_on {
                            break Ok(());
                        }
                        if repeat.times.is_none() && rounds >= repeat.max.unwrap_or(0) {
                            let var = repeat.while_set.as_deref().unwrap_or_default();
                            break failed(format!(
                                "repeat reached its max of {rounds} rounds while `{var}` was still set"
                            ));
                        }
                        rounds += 1;
                        Box::pin(self.play(&repeat.steps, &format!("{index}[{rounds}]"))).await?;
                    };
                    (result, rounds)
                }
                step => self.attempts(step).await,
            };
            let (outcome, failure) = match &result {
                Ok(()) => (Outcome::Passed, None),
                Err(StepError::Failed(m)) => (Outcome::Failed, Some(m.clone())),
                Err(StepError::Broken(m)) => (Outcome::Broken, Some(m.clone())),
            };
            self.reports.push(StepReport {
                index: index.clone(),
                kind: kind.to_owned(),
                line,
                column,
                outcome,
                elapsed_ms: started.elapsed().as_millis() as u64,
                attempts,
                failure: failure.clone(),
                exchanges: std::mem::take(&mut self.exchanges),
            });
            if let Some(message) = failure {
                return Err((outcome, format!("{}:{line}:{column}: step {index} `{kind}`: {message}", self.file)));
            }
        }
        Ok(())
    }

    /// One step, played again on failure when it carries `retry` (bounded).
    async fn attempts(&mut self, step: &Step) -> (StepResult<()>, u32) {
        let (times, interval) = match step {
            Step::Request(r) => match &r.retry {
                Some(retry) => (
                    retry.times,
                    retry
                        .interval
                        .as_deref()
                        .and_then(scenarios::duration::parse)
                        .unwrap_or(Duration::from_millis(100)),
                ),
                None => (0, Duration::ZERO),
            },
            _ => (0, Duration::ZERO),
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.step(step).await;
            if result.is_ok() || attempt > times {
                return (result, attempt);
            }
            // Bounded retry: waiting on the system (a breaker's cooldown), never deciding the outcome.
            tokio::time::sleep(interval).await;
        }
    }

    async fn step(&mut self, step: &Step) -> StepResult<()> {
        match step {
            Step::RegisterClient(r) => self.register(r).await,
            Step::Consent(c) => self.consent(c).await,
            Step::Exchange(g) => self.exchange(&g.grant, g.expect_status, g.expect_error.as_deref()).await,
            Step::Refresh(g) => self.refresh(&g.grant, g.expect_status, g.expect_error.as_deref()).await,
            Step::Request(r) => self.request(r).await,
            Step::BankAdmin(b) => {
                let path = self.interp(&b.path)?;
                let body = b.json.as_ref().map(|j| self.interp_value(j)).transpose()?;
                let answer = self.admin(&b.bank, &b.method, &path, body).await?;
                self.expect(&b.expect, &answer)?;
                self.capture(&b.capture, &answer)
            }
            Step::AdvanceClock(by) => {
                let by = scenarios::duration::parse(by)
                    .ok_or_else(|| StepError::Failed(format!("`{by}` is not a duration")))?;
                let by = time::Duration::try_from(by).map_err(broken)?;
                self.system.advance_clocks(&self.http, by).await.map_err(broken)?;
                self.advanced += by;
                self.tick();
                Ok(())
            }
            Step::InjectTransaction(t) => {
                let mut body = json!({
                    "amountCents": t.amount_cents,
                    "direction": t.direction,
                    "description": self.interp(&t.description)?,
                });
                if let Some(m) = &t.merchant {
                    body["merchant"] = self.interp_value(m)?;
                }
                for (key, value) in [("category", &t.category), ("platform", &t.platform), ("outcome", &t.outcome)] {
                    if let Some(v) = value {
                        body[key] = json!(self.interp(v)?);
                    }
                }
                if let Some(days) = t.pending_days {
                    body["pendingDays"] = json!(days);
                }
                let account = self.interp(&t.account)?;
                let path = format!("/admin/accounts/{account}/transactions");
                let answer = self.admin(&t.bank, "POST", &path, Some(body)).await?;
                Self::status_is(&answer, &[201])?;
                if let Some(name) = &t.name {
                    self.vars.set(name, answer.json);
                }
                Ok(())
            }
            Step::RaiseFraud(f) => {
                let body = f.amount_cents.map(|a| json!({"amountCents": a})).unwrap_or_else(|| json!({}));
                let account = self.interp(&f.account)?;
                let answer =
                    self.admin(&f.bank, "POST", &format!("/admin/accounts/{account}/fraud"), Some(body)).await?;
                Self::status_is(&answer, &[201])?;
                if let Some(name) = &f.name {
                    self.vars.set(name, answer.json);
                }
                Ok(())
            }
            Step::SetFaults(f) => {
                let faults = self.interp_value(&Value::Array(f.faults.clone()))?;
                self.set_faults(&f.bank, &faults).await
            }
            Step::ClearFaults(b) => {
                let answer = self.admin(&b.bank, "DELETE", "/admin/faults", None).await?;
                Self::status_is(&answer, &[204])
            }
            Step::Outage(o) => {
                let simulated = |text: &str| {
                    scenarios::duration::parse(text)
                        .and_then(|d| time::Duration::try_from(d).ok())
                        .ok_or_else(|| StepError::Failed(format!("`{text}` is not a duration")))
                };
                let by = simulated(&o.duration)?;
                let from = o.from.as_deref().map(simulated).transpose()?;
                let start = self.sim_now() + from.unwrap_or(time::Duration::ZERO);
                let endpoint = o.endpoint.clone().unwrap_or_else(|| "*".to_owned());
                let mut rule = json!({"endpoint": endpoint, "maintenanceUntil": rfc3339(start + by)});
                if from.is_some() {
                    rule["maintenanceFrom"] = json!(rfc3339(start));
                }
                self.set_faults(&o.bank, &json!([rule])).await
            }
            Step::Revoke(r) => self.revoke(&r.grant, r.by).await,
            Step::Dashboard(d) => {
                let password = d.password.clone().unwrap_or_else(|| "pass_good".into());
                let mfa = d.mfa_code.clone().unwrap_or_else(|| "123456".into());
                let user = self.interp(&d.user)?;
                let (_, html) = self.dashboard_sign_in(&d.bank, &user, &password, &mfa).await?;
                let view = dashboard_view(&html);
                for assertion in &d.expect {
                    check(assertion, &view, &self.vars).map_err(StepError::Failed)?;
                }
                let answer = Answer {
                    status: 200,
                    headers: Default::default(),
                    text: String::new(),
                    json: view,
                    elapsed: Duration::ZERO,
                };
                self.capture(&d.capture, &answer)
            }
            Step::Check(list) => {
                for assertion in list {
                    check(assertion, &Value::Null, &self.vars).map_err(StepError::Failed)?;
                }
                Ok(())
            }
            Step::Repeat(_) => Ok(()),
            Step::Subscribe(sub) => self.subscribe(sub).await,
            Step::ExpectWebhook(w) => self.expect_webhook(w).await,
            Step::ExpectNoWebhook(w) => self.expect_no_webhook(w).await,
        }
    }

    fn interp(&self, text: &str) -> StepResult<String> {
        self.vars.apply_str(text).map_err(|e| StepError::Failed(e.to_string()))
    }

    fn interp_value(&self, value: &Value) -> StepResult<Value> {
        self.vars.apply(value).map_err(|e| StepError::Failed(e.to_string()))
    }

    fn status_is(answer: &Answer, accepted: &[u16]) -> StepResult<()> {
        if accepted.contains(&answer.status) {
            return Ok(());
        }
        let want = accepted.iter().map(u16::to_string).collect::<Vec<_>>().join(" or ");
        failed(format!("expected status {want}, got {}\n  response: {}", answer.status, excerpt(&answer.text)))
    }

    /// Send and record one exchange.
    async fn send(
        &mut self,
        request: reqwest::RequestBuilder,
        method: &str,
        url: &str,
        shown_headers: Vec<(String, String)>,
        shown_body: Option<String>,
    ) -> StepResult<Answer> {
        let started = Instant::now();
        let response = request
            .send()
            .await
            .map_err(|e| StepError::Broken(format!("{method} {} got no answer: {e}", strip_origin(url))))?;
        let elapsed = started.elapsed();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(|e| StepError::Broken(format!("reading the response: {e}")))?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let masked = |name: &str, value: &str| -> String {
            if matches!(name, "authorization" | "dpop" | "cookie" | "set-cookie") {
                let scheme = value.split(' ').next().filter(|_| value.contains(' ')).unwrap_or_default();
                format!("{scheme} <hidden>").trim().to_owned()
            } else {
                value.to_owned()
            }
        };
        self.exchanges.push(Exchange {
            method: method.to_owned(),
            url: url.to_owned(),
            request_headers: shown_headers.iter().map(|(k, v)| (k.clone(), masked(&k.to_lowercase(), v))).collect(),
            request_body: shown_body.map(|b| mask_form(&b)),
            status,
            response_headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), masked(k.as_str(), v.to_str().unwrap_or("<binary>"))))
                .collect(),
            response_body: text.chars().take(KEPT_BODY).collect(),
            elapsed_ms: elapsed.as_millis() as u64,
        });
        Ok(Answer { status, headers, text, json, elapsed })
    }

    /// Record a walk of the person's pages (method, path, status, time; no query, no form values).
    fn record_walk(&mut self, person: &Person) {
        for s in person.steps() {
            self.exchanges.push(Exchange {
                method: s.method.to_owned(),
                url: format!("{}{}", s.origin, s.path),
                status: s.status,
                elapsed_ms: s.elapsed.as_millis() as u64,
                ..Exchange::default()
            });
        }
    }

    fn now_secs(&self) -> i64 {
        self.system.gateway_now().unix_timestamp()
    }

    async fn register(&mut self, r: &RegisterClient) -> StepResult<()> {
        let issuer = self.system.issuer().to_owned();
        let name = r.client_name.clone().unwrap_or_else(|| r.name.clone());
        let purposes =
            if r.purposes.is_empty() { vec!["personal_finance_management".to_owned()] } else { r.purposes.clone() };
        let mut registration = json!({
            "client_name": name,
            "redirect_uris": [APP_REDIRECT],
            "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
            "purposes": purposes,
        });
        if let Some(platform) = &r.platform {
            registration["platform"] = json!(platform);
        }
        let identities = self.system.app_identities.clone();
        let (http, thief_http, key) = match r.auth {
            ClientAuth::Sandbox => {
                let (id, secret) = self
                    .system
                    .sandbox_secret
                    .clone()
                    .ok_or_else(|| broken("the system declares no sandbox client"))?;
                let client = AppClient {
                    id: id.clone(),
                    auth: ClientAuth::Sandbox,
                    key: None,
                    http: self.http.clone(),
                    thief_http: None,
                    secret: Some(secret),
                    redirect: SAMPLE_APP_REDIRECT.to_owned(),
                    management: BTreeMap::new(),
                };
                self.clients.insert(r.name.clone(), client);
                self.vars.set(&r.name, json!({"client_id": id}));
                return Ok(());
            }
            ClientAuth::PrivateKeyJwt => {
                let key = AppKey::generate().map_err(broken)?;
                let mut jwk = key.public_jwk();
                jwk["kid"] = json!(super::keys::KEY_ID);
                registration["token_endpoint_auth_method"] = json!("private_key_jwt");
                registration["jwks"] = json!({"keys": [jwk]});
                (self.http.clone(), None, Some(key))
            }
            ClientAuth::TlsClientAuth => {
                let [own, thief] = identities.ok_or_else(|| {
                    broken(
                        "no app certificates: the target's endpoints.json has no sample-app certificates beside its CA",
                    )
                })?;
                registration["token_endpoint_auth_method"] = json!("tls_client_auth");
                registration["tls_client_auth_san_uri"] = json!(certs::client_uri(SAMPLE_APP_CLIENTS[0]));
                let http = client_builder(&self.system.ca_pem, Some(&own)).map_err(broken)?;
                let thief = client_builder(&self.system.ca_pem, Some(&thief)).map_err(broken)?;
                (http, Some(thief), None)
            }
        };
        let url = format!("{issuer}/register");
        let body = registration.to_string();
        let request = http.post(&url).json(&registration);
        let answer = self.send(request, "POST", &url, vec![], Some(body)).await?;
        Self::status_is(&answer, &[r.expect_status.unwrap_or(201)])?;
        if answer.status != 201 {
            self.vars.set(&r.name, answer.json);
            return Ok(());
        }
        let id = answer.json["client_id"]
            .as_str()
            .ok_or_else(|| {
                StepError::Failed(format!("registration answered without client_id: {}", excerpt(&answer.text)))
            })?
            .to_owned();
        self.vars.set(&r.name, answer.json.clone());
        let client = AppClient {
            id,
            auth: r.auth,
            key,
            http,
            thief_http,
            secret: None,
            redirect: APP_REDIRECT.to_owned(),
            management: BTreeMap::new(),
        };
        self.clients.insert(r.name.clone(), client);
        Ok(())
    }

    fn client(&self, name: &str) -> StepResult<&AppClient> {
        self.clients.get(name).ok_or_else(|| StepError::Failed(format!("client `{name}` was not registered")))
    }

    /// A request to a client-authenticated endpoint (PAR, token, revoke): the form plus the client's
    /// authentication (RFC 7523 assertion, mutual TLS, or HTTP Basic for the sandbox client), and a DPoP proof
    /// for private_key_jwt clients when `dpop` (RFC 9449 §5).
    async fn client_post(
        &mut self,
        client: &str,
        path: &str,
        mut form: Vec<(String, String)>,
        dpop: bool,
    ) -> StepResult<Answer> {
        let issuer = self.system.issuer().to_owned();
        let url = format!("{issuer}{path}");
        let now = self.now_secs();
        let app = self.client(client)?;
        let mut headers = Vec::new();
        let mut request = app.http.post(&url);
        match app.auth {
            ClientAuth::PrivateKeyJwt => {
                let key = app.key.as_ref().ok_or_else(|| broken("a private_key_jwt client without a key"))?;
                form.push(("client_id".into(), app.id.clone()));
                form.push((
                    "client_assertion_type".into(),
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ));
                form.push(("client_assertion".into(), key.assertion(&app.id, &issuer, now).map_err(broken)?));
                if dpop {
                    let proof = key.proof("POST", &url, None, now).map_err(broken)?;
                    headers.push(("DPoP".to_owned(), proof.clone()));
                    request = request.header("DPoP", proof);
                }
            }
            ClientAuth::TlsClientAuth => form.push(("client_id".into(), app.id.clone())),
            ClientAuth::Sandbox => {
                request = request.basic_auth(&app.id, app.secret.as_deref());
                headers.push(("Authorization".to_owned(), "Basic <hidden>".to_owned()));
            }
        }
        let shown = form.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        let request = request.form(&form);
        self.send(request, "POST", &url, headers, Some(shown)).await
    }

    async fn consent(&mut self, c: &ConsentFlow) -> StepResult<()> {
        let issuer = self.system.issuer().to_owned();
        let user = self.interp(&c.user)?;
        let pkce = Pkce::new().map_err(broken)?;
        let clusters: Vec<String> = if c.clusters.is_empty() {
            vec!["ACCOUNT_BASIC".into(), "ACCOUNT_DETAILED".into(), "TRANSACTIONS".into()]
        } else {
            c.clusters.clone()
        };
        let purposes =
            if c.purposes.is_empty() { vec!["personal_finance_management".to_owned()] } else { c.purposes.clone() };
        let duration_type = c.duration_type.clone().unwrap_or_else(|| "TIME_BOUND".into());
        let mut details = json!({
            "type": "fdx_consent",
            "dataClusters": clusters,
            "durationType": duration_type,
            "lookbackPeriod": c.lookback_days.unwrap_or(365),
            "purposes": purposes,
        });
        if duration_type == "TIME_BOUND" {
            details["durationPeriod"] = json!(c.duration_days.unwrap_or(90));
        }
        let state = format!("st-{}", c.name);
        let (client_id, redirect, jkt) = {
            let app = self.client(&c.client)?;
            (app.id.clone(), app.redirect.clone(), app.key.as_ref().map(AppKey::thumbprint))
        };
        let mut form = vec![
            ("response_type".to_owned(), "code".to_owned()),
            ("redirect_uri".to_owned(), redirect.clone()),
            ("state".to_owned(), state.clone()),
            ("code_challenge".to_owned(), pkce.challenge.clone()),
            ("code_challenge_method".to_owned(), "S256".to_owned()),
            ("authorization_details".to_owned(), json!([details]).to_string()),
        ];
        if let Some(jkt) = jkt {
            // RFC 9449 §10: bind the authorization code to the app's DPoP key.
            form.push(("dpop_jkt".to_owned(), jkt));
        }
        let pushed = self.client_post(&c.client, "/par", form, false).await?;
        Self::status_is(&pushed, &[201])?;
        let request_uri = pushed.json["request_uri"]
            .as_str()
            .ok_or_else(|| StepError::Failed("PAR answered without request_uri".into()))?
            .to_owned();
        let authorize = reqwest::Url::parse_with_params(
            &format!("{issuer}/authorize"),
            [("client_id", client_id.as_str()), ("request_uri", request_uri.as_str())],
        )
        .map_err(broken)?;
        let password = c.password.clone().unwrap_or_else(|| "pass_good".into());
        let mfa = c.mfa_code.clone().unwrap_or_else(|| "123456".into());
        let accounts = c
            .accounts
            .as_ref()
            .map(|list| list.iter().map(|a| self.interp(a)).collect::<StepResult<Vec<_>>>())
            .transpose()?;
        let plan = LoginPlan {
            username: &user,
            password: &password,
            mfa_code: Some(&mfa),
            accounts,
            bank: Some(&c.bank),
            opt_in: c.opt_in,
            approve: c.decision == Decision::Approve,
        };
        let mut person = Person::with_browser(crate::person::browser(&self.system.ca_pem).map_err(broken)?);
        let walked = person.walk(authorize.as_str(), &plan, &self.origins()).await;
        self.record_walk(&person);
        let outcome = walked.map_err(broken)?;
        let expect = c.expect.clone().unwrap_or_default();
        let posted: Vec<&str> = person.steps().iter().filter(|s| s.method == "POST").map(|s| s.path.as_str()).collect();
        for page in &expect.posted {
            if !posted.contains(&page.as_str()) {
                return failed(format!("the person never posted {page} (posted: {})", posted.join(", ")));
            }
        }
        let mut result = json!({"state": state});
        let mut code = None;
        match (&outcome, &expect.error, expect.page_status) {
            (LoginOutcome::Redirected { .. }, Some(error), _) => {
                let got = outcome.param("error").unwrap_or_default();
                let description = outcome.param("error_description").unwrap_or_default().to_owned();
                if got != error {
                    return failed(format!(
                        "expected the app to receive error `{error}`, got {}",
                        if got.is_empty() {
                            "an authorization code".to_owned()
                        } else {
                            format!("`{got}` ({description})")
                        }
                    ));
                }
                for text in &expect.contains {
                    if !description.contains(text.as_str()) {
                        return failed(format!("error_description `{description}` does not contain `{text}`"));
                    }
                }
                result["error"] = json!(got);
                result["error_description"] = json!(description);
            }
            (LoginOutcome::Page { status, html }, _, Some(want)) => {
                if *status != want {
                    return failed(format!("the walk stopped on a page with status {status}, expected {want}"));
                }
                for text in &expect.contains {
                    if !html.contains(text.as_str()) {
                        return failed(format!(
                            "the page does not contain `{text}`\n  page text: {}",
                            excerpt(&page_text(html))
                        ));
                    }
                }
            }
            (LoginOutcome::Redirected { .. }, None, None) => {
                if let Some(error) = outcome.param("error") {
                    let description = outcome.param("error_description").unwrap_or_default();
                    return failed(format!(
                        "expected an authorization code, the app received error `{error}` ({description})"
                    ));
                }
                if outcome.param("state") != Some(state.as_str()) {
                    return failed("the redirect back to the app lost the `state`");
                }
                code = outcome.param("code").map(str::to_owned);
                if code.is_none() {
                    return failed("the redirect back to the app carries no code");
                }
                result["code"] = json!(code);
            }
            (LoginOutcome::Page { status, html }, _, None) => {
                return failed(format!(
                    "the person's walk stopped on a page (status {status}) instead of returning to the app\n  page text: {}",
                    excerpt(&page_text(html))
                ));
            }
            (LoginOutcome::Redirected { .. }, _, Some(want)) => {
                return failed(format!(
                    "expected the walk to stop on a page with status {want}, it returned to the app ({})",
                    outcome.param("error").unwrap_or("with a code")
                ));
            }
        }
        let grant = GrantState {
            client: c.client.clone(),
            bank: c.bank.clone(),
            user,
            code: code.clone(),
            verifier: pkce.verifier,
            token_type: String::new(),
            ..GrantState::default()
        };
        self.grants.insert(c.name.clone(), grant);
        self.vars.set(&c.name, result);
        if code.is_some() && c.exchange.unwrap_or(true) {
            self.exchange(&c.name, None, None).await?;
        }
        Ok(())
    }

    fn origins(&self) -> Vec<String> {
        let mut origins = vec![self.system.issuer().to_owned()];
        origins.extend(self.system.endpoints.banks.iter().map(|b| b.login.clone()));
        origins
    }

    fn grant(&self, name: &str) -> StepResult<&GrantState> {
        self.grants.get(name).ok_or_else(|| StepError::Failed(format!("grant `{name}` does not exist")))
    }

    /// Store a token response in the grant and its variable.
    fn keep_tokens(&mut self, name: &str, tokens: &Value) {
        if let Some(grant) = self.grants.get_mut(name) {
            grant.access_token = tokens["access_token"].as_str().map(str::to_owned);
            grant.token_type = tokens["token_type"].as_str().unwrap_or("Bearer").to_owned();
            if let Some(refresh) = tokens["refresh_token"].as_str() {
                grant.refresh_token = Some(refresh.to_owned());
            }
            if let Some(id) = tokens["grant_id"].as_str() {
                grant.consent_id = Some(id.to_owned());
            }
        }
        let mut var = self.vars.get(name).cloned().unwrap_or_else(|| json!({}));
        if let (Some(grant), Value::Object(map)) = (self.grants.get(name), &mut var) {
            for (key, value) in [
                ("access_token", grant.access_token.clone()),
                ("refresh_token", grant.refresh_token.clone()),
                ("consent_id", grant.consent_id.clone()),
                ("token_type", Some(grant.token_type.clone())),
            ] {
                if let Some(value) = value {
                    map.insert(key.to_owned(), json!(value));
                }
            }
            map.insert("tokens".to_owned(), tokens.clone());
        }
        self.vars.set(name, var);
    }

    /// The token endpoint's answer against the step's expectation: `Ok(true)` when tokens came back.
    fn token_outcome(answer: &Answer, expect_status: Option<u16>, expect_error: Option<&str>) -> StepResult<bool> {
        let want = expect_status.unwrap_or(if expect_error.is_some() { 400 } else { 200 });
        Self::status_is(answer, &[want])?;
        if let Some(error) = expect_error {
            let got = answer.json["error"].as_str().unwrap_or_default();
            if got != error {
                return failed(format!(
                    "expected OAuth error `{error}`, got `{got}`\n  response: {}",
                    excerpt(&answer.text)
                ));
            }
        }
        Ok(answer.status == 200)
    }

    async fn exchange(&mut self, name: &str, expect_status: Option<u16>, expect_error: Option<&str>) -> StepResult<()> {
        let grant = self.grant(name)?.clone();
        let code = grant.code.clone().ok_or_else(|| StepError::Failed(format!("grant `{name}` has no code")))?;
        let redirect = self.client(&grant.client)?.redirect.clone();
        let form = vec![
            ("grant_type".to_owned(), "authorization_code".to_owned()),
            ("code".to_owned(), code),
            ("redirect_uri".to_owned(), redirect),
            ("code_verifier".to_owned(), grant.verifier.clone()),
        ];
        let answer = self.client_post(&grant.client, "/token", form, true).await?;
        if Self::token_outcome(&answer, expect_status, expect_error)? {
            self.keep_tokens(name, &answer.json);
        }
        Ok(())
    }

    async fn refresh(&mut self, name: &str, expect_status: Option<u16>, expect_error: Option<&str>) -> StepResult<()> {
        let grant = self.grant(name)?.clone();
        let refresh = grant
            .refresh_token
            .clone()
            .ok_or_else(|| StepError::Failed(format!("grant `{name}` has no refresh token")))?;
        let form = vec![("grant_type".to_owned(), "refresh_token".to_owned()), ("refresh_token".to_owned(), refresh)];
        let answer = self.client_post(&grant.client, "/token", form, true).await?;
        if Self::token_outcome(&answer, expect_status, expect_error)? {
            self.keep_tokens(name, &answer.json);
        }
        Ok(())
    }

    /// A client_credentials token of `client` for `scope` (cached): (token, token_type).
    async fn management_token(&mut self, client: &str, scope: &str) -> StepResult<(String, String)> {
        if let Some(token) = self.client(client)?.management.get(scope) {
            return Ok(token.clone());
        }
        let form =
            vec![("grant_type".to_owned(), "client_credentials".to_owned()), ("scope".to_owned(), scope.to_owned())];
        let answer = self.client_post(client, "/token", form, true).await?;
        Self::status_is(&answer, &[200])?;
        let token = answer.json["access_token"].as_str().unwrap_or_default().to_owned();
        let kind = answer.json["token_type"].as_str().unwrap_or("Bearer").to_owned();
        if let Some(app) = self.clients.get_mut(client) {
            app.management.insert(scope.to_owned(), (token.clone(), kind.clone()));
        }
        Ok((token, kind))
    }

    async fn request(&mut self, r: &scenarios::model::Request) -> StepResult<()> {
        let issuer = self.system.issuer().to_owned();
        let mut url = self.interp(&r.url)?;
        if url.starts_with('/') {
            url = format!("{issuer}{url}");
        }
        if !r.query.is_empty() {
            let mut parsed = reqwest::Url::parse(&url).map_err(|e| StepError::Failed(format!("`{url}`: {e}")))?;
            for (k, v) in &r.query {
                let v = self.interp(v)?;
                parsed.query_pairs_mut().append_pair(k, &v);
            }
            url = parsed.to_string();
        }
        let method = reqwest::Method::from_bytes(r.method.to_uppercase().as_bytes())
            .map_err(|_| StepError::Failed(format!("`{}` is not an HTTP method", r.method)))?;
        let auth = r.auth.unwrap_or(if r.grant.is_some() { RequestAuth::Grant } else { RequestAuth::None });
        let now = self.now_secs();
        // (client to send with, Authorization value, DPoP proof)
        let (http, authorization, proof) = match auth {
            RequestAuth::None => (self.http.clone(), None, None),
            RequestAuth::Management => {
                let client = match (&r.client, &r.grant) {
                    (Some(c), _) => c.clone(),
                    (None, Some(g)) => self.grant(g)?.client.clone(),
                    (None, None) => return failed("a management request names no client"),
                };
                let scope = r.scope.clone().unwrap_or_default();
                let (token, kind) = self.management_token(&client, &scope).await?;
                let app = self.client(&client)?;
                self.authorize(app, &method, &url, &token, &kind, now)?
            }
            RequestAuth::Grant | RequestAuth::Stolen | RequestAuth::Thief => {
                let name = r.grant.clone().unwrap_or_default();
                let grant = self.grant(&name)?;
                let token = grant
                    .access_token
                    .clone()
                    .ok_or_else(|| StepError::Failed(format!("grant `{name}` has no access token")))?;
                let app = self.client(&grant.client)?;
                match auth {
                    RequestAuth::Stolen => (self.http.clone(), Some(format!("Bearer {token}")), None),
                    RequestAuth::Thief => match (&app.thief_http, app.key.is_some()) {
                        (Some(thief), _) => (thief.clone(), Some(format!("Bearer {token}")), None),
                        (None, true) => {
                            let thief_key = AppKey::generate().map_err(broken)?;
                            let proof = thief_key.proof(method.as_str(), &url, Some(&token), now).map_err(broken)?;
                            (self.http.clone(), Some(format!("DPoP {token}")), Some(proof))
                        }
                        (None, false) => (self.http.clone(), Some(format!("Bearer {token}")), None),
                    },
                    _ => self.authorize(app, &method, &url, &token, &grant.token_type, now)?,
                }
            }
        };
        let mut request = http.request(method.clone(), &url);
        let mut shown = Vec::new();
        if let Some(value) = &authorization {
            request = request.header("Authorization", value);
            shown.push(("Authorization".to_owned(), value.clone()));
        }
        if let Some(proof) = &proof {
            request = request.header("DPoP", proof);
            shown.push(("DPoP".to_owned(), proof.clone()));
        }
        for (k, v) in &r.headers {
            let v = self.interp(v)?;
            request = request.header(k, &v);
            shown.push((k.clone(), v));
        }
        let body = match &r.json {
            Some(j) => {
                let j = self.interp_value(j)?;
                request = request.json(&j);
                Some(j.to_string())
            }
            None => None,
        };
        let answer = self.send(request, method.as_str(), &url, shown, body).await?;
        self.expect(&r.expect, &answer)?;
        self.capture(&r.capture, &answer)
    }

    /// How `app` presents `token`: DPoP with a fresh proof (RFC 9449 §7.1), or Bearer over the app's own connection
    /// (its certificate for RFC 8705 tokens).
    fn authorize(
        &self,
        app: &AppClient,
        method: &reqwest::Method,
        url: &str,
        token: &str,
        token_type: &str,
        now: i64,
    ) -> StepResult<(reqwest::Client, Option<String>, Option<String>)> {
        if token_type.eq_ignore_ascii_case("DPoP") {
            let key = app.key.as_ref().ok_or_else(|| broken("a DPoP token without the app's key"))?;
            let proof = key.proof(method.as_str(), url, Some(token), now).map_err(broken)?;
            return Ok((app.http.clone(), Some(format!("DPoP {token}")), Some(proof)));
        }
        Ok((app.http.clone(), Some(format!("Bearer {token}")), None))
    }

    fn expect(&self, expect: &Expect, answer: &Answer) -> StepResult<()> {
        if let Some(status) = &expect.status
            && !status.accepts(answer.status)
        {
            let want = match status {
                scenarios::model::StatusExpect::One(s) => s.to_string(),
                scenarios::model::StatusExpect::AnyOf(list) => {
                    list.iter().map(u16::to_string).collect::<Vec<_>>().join(" or ")
                }
            };
            return failed(format!(
                "expected status {want}, got {}\n  response: {}",
                answer.status,
                excerpt(&answer.text)
            ));
        }
        for (name, want) in &expect.headers {
            let got = answer.headers.get(name.as_str()).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let document = got.clone().map_or(Value::Null, Value::String);
            match want {
                ValueExpect::Equals(text) => {
                    let text = self.interp(text)?;
                    if got.as_deref() != Some(text.as_str()) {
                        return failed(format!(
                            "header `{name}`: expected {}, found {}",
                            shown(&json!(text)),
                            got.map_or("no such header".to_owned(), |g| shown(&json!(g)))
                        ));
                    }
                }
                ValueExpect::Checks(checks) => {
                    let mut checks: Assertion = (**checks).clone();
                    if got.is_none() && checks.exists != Some(false) {
                        return failed(format!("header `{name}` is missing"));
                    }
                    if got.is_some() && checks.exists == Some(false) {
                        return failed(format!("header `{name}` is present (expected none)"));
                    }
                    checks.exists = None;
                    if got.is_some() {
                        check(&checks, &document, &self.vars)
                            .map_err(|m| StepError::Failed(format!("header `{name}`: {m}")))?;
                    }
                }
            }
        }
        for assertion in &expect.json {
            check(assertion, &answer.json, &self.vars).map_err(StepError::Failed)?;
        }
        for text in &expect.body_contains {
            let text = self.interp(text)?;
            if !answer.text.contains(&text) {
                return failed(format!("the body does not contain `{text}`\n  response: {}", excerpt(&answer.text)));
            }
        }
        if let Some(within) = &expect.within
            && let Some(bound) = scenarios::duration::parse(within)
            && answer.elapsed > bound
        {
            return failed(format!("the response took {} ms, more than {within}", answer.elapsed.as_millis()));
        }
        Ok(())
    }

    fn capture(&mut self, captures: &BTreeMap<String, Capture>, answer: &Answer) -> StepResult<()> {
        for (name, capture) in captures {
            let spec = match capture {
                Capture::Path(path) => CaptureSpec { path: Some(path.clone()), ..CaptureSpec::default() },
                Capture::Detailed(spec) => spec.clone(),
            };
            let selected: Vec<Value> = match (&spec.path, &spec.header) {
                (Some(path), _) => JsonPath::parse(path)
                    .map_err(|e| StepError::Failed(format!("`{path}`: {}", e.message)))?
                    .select(&answer.json)
                    .into_iter()
                    .cloned()
                    .collect(),
                (None, Some(header)) => answer
                    .headers
                    .get(header.as_str())
                    .and_then(|v| v.to_str().ok())
                    .map(|v| vec![json!(v)])
                    .unwrap_or_default(),
                (None, None) => vec![],
            };
            let multi = spec.path.as_deref().is_some_and(|p| p.contains('*'));
            let value = if spec.count {
                let n = match selected.as_slice() {
                    [Value::Array(items)] if !multi => items.len(),
                    other => other.len(),
                };
                json!(n)
            } else {
                match selected.as_slice() {
                    [] if spec.optional => {
                        self.vars.remove(name);
                        continue;
                    }
                    [] => {
                        let from = spec.path.clone().or(spec.header.map(|h| format!("header {h}"))).unwrap_or_default();
                        return failed(format!(
                            "capture `{name}`: `{from}` selects nothing\n  response: {}",
                            excerpt(&answer.text)
                        ));
                    }
                    [one] if !multi => one.clone(),
                    many => Value::Array(many.to_vec()),
                }
            };
            let value = if spec.add {
                let before = self.vars.get(name).and_then(Value::as_f64).unwrap_or(0.0);
                let added = value.as_f64().ok_or_else(|| {
                    StepError::Failed(format!("capture `{name}`: `add` needs a number, got {}", shown(&value)))
                })?;
                let total = before + added;
                if total.fract() == 0.0 { json!(total as i64) } else { json!(total) }
            } else {
                value
            };
            self.vars.set(name, value);
        }
        Ok(())
    }

    /// The admin API base URL of `bank`.
    fn bank_admin(&self, bank: &str) -> StepResult<String> {
        self.system
            .endpoints
            .bank(bank)
            .map(|b| b.admin.clone())
            .ok_or_else(|| StepError::Broken(format!("the system runs no bank `{bank}`")))
    }

    /// A bank admin `GET` for the runner's own polling (not shown in the report); `what` names it in errors.
    async fn admin_json_quietly(&self, url: &str, what: &str) -> StepResult<Value> {
        let answer = async {
            self.http
                .get(url)
                .bearer_auth(&self.system.endpoints.admin_token)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await
        };
        answer.await.map_err(|e: reqwest::Error| StepError::Broken(format!("reading {what}: {e}")))
    }

    /// A bank admin API call.
    async fn admin(&mut self, bank: &str, method: &str, path: &str, body: Option<Value>) -> StepResult<Answer> {
        let base = self.bank_admin(bank)?;
        let url = format!("{base}{path}");
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes())
            .map_err(|_| StepError::Failed(format!("`{method}` is not an HTTP method")))?;
        let mut request = self.http.request(method.clone(), &url).bearer_auth(&self.system.endpoints.admin_token);
        let shown_body = body.as_ref().map(Value::to_string);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let shown = vec![("Authorization".to_owned(), "Bearer <hidden>".to_owned())];
        self.send(request, method.as_str(), &url, shown, shown_body).await
    }

    async fn set_faults(&mut self, bank: &str, faults: &Value) -> StepResult<()> {
        let answer = self.admin(bank, "PUT", "/admin/faults", Some(json!({"faults": faults}))).await?;
        Self::status_is(&answer, &[200])
    }

    async fn revoke(&mut self, name: &str, by: Revoker) -> StepResult<()> {
        let grant = self.grant(name)?.clone();
        let consent_id =
            grant.consent_id.clone().ok_or_else(|| StepError::Failed(format!("grant `{name}` has no consent id")))?;
        match by {
            Revoker::App => {
                let (token, kind) = self.management_token(&grant.client, "grant_management_revoke").await?;
                let url = format!("{}/grants/{consent_id}", self.system.issuer());
                let method = reqwest::Method::DELETE;
                let now = self.now_secs();
                let (http, authorization, proof) =
                    self.authorize(self.client(&grant.client)?, &method, &url, &token, &kind, now)?;
                let mut request = http.delete(&url);
                let mut shown = Vec::new();
                if let Some(a) = authorization {
                    request = request.header("Authorization", &a);
                    shown.push(("Authorization".to_owned(), a));
                }
                if let Some(p) = proof {
                    request = request.header("DPoP", &p);
                    shown.push(("DPoP".to_owned(), p));
                }
                let answer = self.send(request, "DELETE", &url, shown, None).await?;
                Self::status_is(&answer, &[204])
            }
            Revoker::Bank => {
                let list =
                    self.admin(&grant.bank, "GET", &format!("/admin/consents?customer={}", grant.user), None).await?;
                Self::status_is(&list, &[200])?;
                let field = |c: &Value, camel: &str, snake: &str| c.get(camel).or_else(|| c.get(snake)).cloned();
                let bank_consent = list.json["consents"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|c| field(c, "revokedAt", "revoked_at").is_none_or(|v| v.is_null()))
                    .and_then(|c| field(c, "consentId", "consent_id"))
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .ok_or_else(|| {
                        StepError::Failed(format!("bank `{}` lists no active consent of {}", grant.bank, grant.user))
                    })?;
                let answer =
                    self.admin(&grant.bank, "POST", &format!("/admin/consents/{bank_consent}/revoke"), None).await?;
                Self::status_is(&answer, &[200])
            }
            Revoker::Person => {
                let (mut person, html) =
                    self.dashboard_sign_in(&grant.bank, &grant.user, "pass_good", "123456").await?;
                let marker = format!("name=\"consent_id\" value=\"{consent_id}\"");
                if !html.contains(&marker) {
                    return failed(format!("the dashboard shows no Stop sharing button for consent {consent_id}"));
                }
                let csrf =
                    hidden(&html, "csrf").ok_or_else(|| StepError::Failed("the dashboard has no CSRF field".into()))?;
                let url = format!("{}/dashboard/revoke", self.system.issuer());
                let form = vec![("csrf".to_owned(), csrf), ("consent_id".to_owned(), consent_id.clone())];
                let result = person.submit(&url, &form).await;
                self.exchanges.push(Exchange {
                    method: "POST".into(),
                    url: url.clone(),
                    status: result.as_ref().map_or(0, |r| r.0),
                    ..Exchange::default()
                });
                let (status, _, body) = result.map_err(broken)?;
                if !(200..400).contains(&status) {
                    return failed(format!(
                        "the dashboard refused the revocation: status {status}\n  page text: {}",
                        excerpt(&page_text(&body))
                    ));
                }
                Ok(())
            }
        }
    }

    /// The person signs in to the gateway's dashboard through `bank`'s login: the person and the home page.
    async fn dashboard_sign_in(
        &mut self,
        bank: &str,
        user: &str,
        password: &str,
        mfa: &str,
    ) -> StepResult<(Person, String)> {
        let url = format!("{}/dashboard", self.system.issuer());
        let plan = LoginPlan {
            username: user,
            password,
            mfa_code: Some(mfa),
            accounts: None,
            bank: Some(bank),
            opt_in: false,
            approve: false,
        };
        let mut person = Person::with_browser(crate::person::browser(&self.system.ca_pem).map_err(broken)?);
        let walked = person.walk(&url, &plan, &self.origins()).await;
        self.record_walk(&person);
        match walked.map_err(broken)? {
            LoginOutcome::Page { status: 200, html } if html.contains("Apps reading your data") => Ok((person, html)),
            LoginOutcome::Page { status, html } => failed(format!(
                "the person could not sign in to the dashboard (status {status})\n  page text: {}",
                excerpt(&page_text(&html))
            )),
            LoginOutcome::Redirected { location, .. } => {
                failed(format!("the dashboard sign-in left the system for {}", strip_origin(&location)))
            }
        }
    }
}

/// Event steps (FORMAT.md "Events"): subscriptions at the gateway, and what the apps' webhook receiver got.
impl Player<'_> {
    /// FDX `POST /notification-subscriptions` at the gateway, one per type, with the grant's token and the app's
    /// callback at the runner's receiver; then waits (bounded) until the gateway's own subscription at the bank
    /// covers those types, so that what the bank raises next reaches the gateway.
    async fn subscribe(&mut self, s: &Subscribe) -> StepResult<()> {
        let grant = self.grant(&s.grant)?.clone();
        let token = grant
            .access_token
            .clone()
            .ok_or_else(|| StepError::Failed(format!("grant `{}` has no access token", s.grant)))?;
        let client_id = self.client(&grant.client)?.id.clone();
        if self.receiver.is_none() {
            let receiver = Receiver::start(self.system.issuer(), self.http.clone()).await.map_err(broken)?;
            self.receiver = Some(receiver);
        }
        let callback = self.receiver.as_ref().map(|r| r.register(&grant.client, &client_id)).unwrap_or_default();
        let types: Vec<&str> = if s.types.is_empty() {
            NOTIFICATION_TYPES.iter().map(|(t, _)| *t).collect()
        } else {
            s.types.iter().map(String::as_str).collect()
        };
        let want = s.expect_status.unwrap_or(201);
        let url = format!("{}/fdx/v6/notification-subscriptions", self.system.issuer());
        let mut ids = serde_json::Map::new();
        for kind in &types {
            let category = NOTIFICATION_TYPES.iter().find(|(t, _)| t == kind).map_or("", |(_, c)| *c);
            let body = json!({
                "type": kind,
                "category": category,
                "callbackUrl": callback,
                "subscriber": {"name": grant.client, "type": "DATA_RECIPIENT"},
            });
            let now = self.now_secs();
            let method = reqwest::Method::POST;
            let (http, authorization, proof) =
                self.authorize(self.client(&grant.client)?, &method, &url, &token, &grant.token_type, now)?;
            let mut request = http.post(&url).json(&body);
            let mut shown = Vec::new();
            if let Some(a) = authorization {
                request = request.header("Authorization", &a);
                shown.push(("Authorization".to_owned(), a));
            }
            if let Some(p) = proof {
                request = request.header("DPoP", &p);
                shown.push(("DPoP".to_owned(), p));
            }
            let answer = self.send(request, "POST", &url, shown, Some(body.to_string())).await?;
            Self::status_is(&answer, &[want])?;
            if answer.status == 201 {
                ids.insert((*kind).to_owned(), answer.json["subscriptionId"].clone());
            }
        }
        if want == 201 {
            let consent_id = grant.consent_id.clone().unwrap_or_default();
            self.wait_bank_subscription(&grant.bank, &consent_id, &types).await?;
        }
        if let Some(name) = &s.name {
            self.vars.set(name, Value::Object(ids));
        }
        Ok(())
    }

    /// Poll the bank's admin list of notification subscriptions until the gateway's, for `consent_id`, covers
    /// `types` (bounded by [`BANK_SUBSCRIPTION_WAIT`]).
    async fn wait_bank_subscription(&mut self, bank: &str, consent_id: &str, types: &[&str]) -> StepResult<()> {
        let base = self.bank_admin(bank)?;
        let url = format!("{base}/admin/notifications/subscriptions");
        let callback_end = format!("/{bank}/{consent_id}");
        let deadline = Instant::now() + BANK_SUBSCRIPTION_WAIT;
        loop {
            let listed = self.admin_json_quietly(&url, &format!("bank `{bank}`'s subscriptions")).await?;
            let present: Vec<&str> = listed["subscriptions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| s["callbackUrl"].as_str().is_some_and(|c| c.ends_with(&callback_end)))
                .filter_map(|s| s["type"].as_str())
                .collect();
            let missing: Vec<&str> = types.iter().copied().filter(|t| !present.contains(t)).collect();
            if missing.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return failed(format!(
                    "the gateway did not subscribe at bank `{bank}` to {} for this consent within {} s (the bank \
                     lists {}); does the consent include NOTIFICATIONS?",
                    missing.join(", "),
                    BANK_SUBSCRIPTION_WAIT.as_secs(),
                    if present.is_empty() { "none".to_owned() } else { present.join(", ") }
                ));
            }
            // Bounded polling of a condition (the gateway subscribes off the consent's request path).
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The receiver, when `client` subscribed.
    fn receiver_of(&self, client: &str) -> StepResult<&Receiver> {
        self.client(client)?;
        self.receiver.as_ref().filter(|r| r.knows(client)).ok_or_else(|| {
            StepError::Failed(format!(
                "client `{client}` has no webhook: add a `subscribe` step for one of its grants before this one"
            ))
        })
    }

    /// A step's filter with its variables applied.
    fn resolve(&self, filter: EventFilter<'_>) -> StepResult<Wanted> {
        let text = |v: Option<&str>| v.map(|v| self.interp(v)).transpose();
        let kind = text(filter.kind)?;
        let category = text(filter.category)?.or_else(|| {
            let kind = kind.as_deref()?;
            NOTIFICATION_TYPES.iter().find(|(t, _)| *t == kind).map(|(_, c)| (*c).to_owned())
        });
        Ok(Wanted { kind, category, account: text(filter.account)?, reason: text(filter.reason)? })
    }

    /// Record received webhooks as the step's exchanges (the verified SET's claims as the request body).
    fn record_webhooks<'w>(&mut self, client: &str, hooks: impl Iterator<Item = &'w Webhook>) {
        let url = self.receiver.as_ref().map(|r| r.register_url(client)).unwrap_or_default();
        for hook in hooks {
            let body = match &hook.verdict {
                Ok(claims) => serde_json::to_string_pretty(claims).unwrap_or_default(),
                Err(e) => format!("(refused: {e})"),
            };
            self.exchanges.push(Exchange {
                method: "POST".into(),
                url: url.clone(),
                request_headers: vec![("Content-Type".into(), "application/secevent+jwt".into())],
                request_body: Some(body),
                status: if hook.verdict.is_ok() { 202 } else { 400 },
                elapsed_ms: hook.after_ms,
                ..Exchange::default()
            });
        }
    }

    /// Wait (bounded by `within`) for a verified webhook to `client` that no earlier step matched, that passes the
    /// filter and every `json` assertion; capture from it.
    async fn expect_webhook(&mut self, w: &ExpectWebhook) -> StepResult<()> {
        let wanted = self.resolve(w.filter())?;
        let within = scenarios::duration::parse(&w.within)
            .ok_or_else(|| StepError::Failed(format!("`{}` is not a duration", w.within)))?;
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let received = self.receiver_of(&w.client)?.received();
            let mine: Vec<(usize, &Webhook)> = received.iter().enumerate().filter(|(_, h)| h.app == w.client).collect();
            if let Some((n, refused)) = mine.iter().enumerate().find(|(_, (_, h))| h.verdict.is_err()) {
                let why = refused.1.verdict.as_ref().err().cloned().unwrap_or_default();
                self.record_webhooks(&w.client, std::iter::once(refused.1));
                return failed(format!(
                    "webhook {} to `{}` does not verify as a SET of the gateway: {why}",
                    n + 1,
                    w.client
                ));
            }
            let mut nearest: Option<String> = None;
            for (index, hook) in mine.iter().filter(|(_, h)| h.matched_by.is_none()) {
                let Some(notification) = hook.notification() else { continue };
                if !wanted.matches(notification) {
                    continue;
                }
                let verdict: Result<(), String> = w.json.iter().try_for_each(|a| check(a, notification, &self.vars));
                match verdict {
                    Ok(()) => {
                        let step = self.step_index.clone();
                        if let Some(receiver) = &self.receiver {
                            receiver.mark(*index, &step);
                        }
                        self.record_webhooks(&w.client, std::iter::once(*hook));
                        let answer = Answer {
                            status: 202,
                            headers: Default::default(),
                            text: notification.to_string(),
                            json: notification.clone(),
                            elapsed: Duration::from_millis(hook.after_ms),
                        };
                        return self.capture(&w.capture, &answer);
                    }
                    Err(m) => {
                        nearest.get_or_insert(format!("{} arrived, but {m}", webhooks::describe(hook)));
                    }
                }
            }
            if tokio::time::Instant::now() >= deadline {
                let lines: Vec<String> = mine
                    .iter()
                    .enumerate()
                    .map(|(n, (_, h))| {
                        let matched =
                            h.matched_by.as_ref().map(|s| format!(", matched by step {s}")).unwrap_or_default();
                        format!("\n  {}. {}{matched}", n + 1, webhooks::describe(h))
                    })
                    .collect();
                let hooks: Vec<Webhook> = mine.iter().map(|(_, h)| (*h).clone()).collect();
                self.record_webhooks(&w.client, hooks.iter());
                let mut message = format!("no webhook {} reached `{}` within {}", wanted, w.client, w.within);
                if let Some(nearest) = nearest {
                    message.push_str(&format!("; {nearest}"));
                }
                match lines.len() {
                    0 => message.push_str("; it received none"),
                    n => message.push_str(&format!("; it received {n}:{}", lines.concat())),
                }
                return failed(message);
            }
            self.receiver_of(&w.client)?.changed(deadline).await;
        }
    }

    /// Once the banks' notification outboxes are idle, watch `client`'s webhook for `for`: no unmatched webhook
    /// passing the filter may be there or arrive.
    async fn expect_no_webhook(&mut self, w: &ExpectNoWebhook) -> StepResult<()> {
        let wanted = self.resolve(w.filter())?;
        self.receiver_of(&w.client)?;
        let watch = scenarios::duration::parse(&w.duration)
            .ok_or_else(|| StepError::Failed(format!("`{}` is not a duration", w.duration)))?;
        self.wait_outboxes_idle().await?;
        let deadline = tokio::time::Instant::now() + watch;
        loop {
            let received = self.receiver_of(&w.client)?.received();
            let unexpected = received.iter().find(|h| {
                h.app == w.client
                    && h.matched_by.is_none()
                    && h.notification().is_none_or(|notification| wanted.matches(notification))
            });
            if let Some(hook) = unexpected {
                let line = webhooks::describe(hook);
                self.record_webhooks(&w.client, std::iter::once(hook));
                return failed(format!("expected no webhook {wanted} to `{}`, but it received {line}", w.client));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(());
            }
            self.receiver_of(&w.client)?.changed(deadline).await;
        }
    }

    /// Poll every bank's notification outbox until nothing is queued or in flight (bounded).
    async fn wait_outboxes_idle(&mut self) -> StepResult<()> {
        let deadline = Instant::now() + OUTBOX_IDLE_WAIT;
        for bank in self.system.endpoints.banks.clone() {
            let url = format!("{}/admin/notifications/outbox", bank.admin);
            loop {
                let counts = self.admin_json_quietly(&url, &format!("bank `{}`'s outbox", bank.id)).await?;
                if counts["queued"] == 0 && counts["inFlight"] == 0 {
                    break;
                }
                if Instant::now() >= deadline {
                    return failed(format!(
                        "bank `{}`'s notification outbox did not empty within {} s: {counts}",
                        bank.id,
                        OUTBOX_IDLE_WAIT.as_secs()
                    ));
                }
                // Bounded polling of a condition.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        Ok(())
    }
}

/// An event step's filter, variables applied; the category defaults to the type's.
#[derive(Debug)]
struct Wanted {
    kind: Option<String>,
    category: Option<String>,
    account: Option<String>,
    reason: Option<String>,
}

impl Wanted {
    fn matches(&self, notification: &Value) -> bool {
        let payload = &notification["notificationPayload"];
        let is = |value: &Value, want: &Option<String>| want.as_ref().is_none_or(|w| value.as_str() == Some(w));
        is(&notification["type"], &self.kind)
            && is(&notification["category"], &self.category)
            && is(&payload["customFields"]["name"], &self.reason)
            && self.account.as_ref().is_none_or(|a| payload["idType"] == "ACCOUNT" && payload["id"] == a.as_str())
    }
}

impl std::fmt::Display for Wanted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.kind, &self.category) {
            (Some(kind), Some(category)) => write!(f, "{kind}/{category}")?,
            (Some(kind), None) => write!(f, "{kind}")?,
            (None, Some(category)) => write!(f, "of category {category}")?,
            (None, None) => write!(f, "of any type")?,
        }
        if let Some(account) = &self.account {
            write!(f, " about account {account}")?;
        }
        if let Some(reason) = &self.reason {
            write!(f, " ({reason})")?;
        }
        Ok(())
    }
}

/// `{apps: [{consent_id, app, status}], accesses: [{at, app, endpoint, account, data, outcome}]}` from the
/// dashboard's home page (the markup gateway/templates/dashboard/home.html promises).
fn dashboard_view(html: &str) -> Value {
    let mut apps = Vec::new();
    for (at, _) in html.match_indices("<section class=\"app\" id=\"app-") {
        let rest = &html[at + "<section class=\"app\" id=\"app-".len()..];
        let consent_id = rest.split('"').next().unwrap_or_default();
        let name = between(rest, "<h2>", "</h2>").map(|h| page_text(h.split(" <span").next().unwrap_or(h)));
        let status = between(rest, "<p class=\"status\"><strong>", "</strong>").map(page_text);
        apps.push(json!({"consent_id": unescape(consent_id), "app": name, "status": status}));
    }
    let mut accesses = Vec::new();
    if let Some(table) = html.split("id=\"access-log\"").nth(1).and_then(|t| t.split("</table>").next()) {
        for row in table.split("<tr>").skip(2) {
            let cells: Vec<String> =
                row.split("<td>").skip(1).map(|c| page_text(c.split("</td>").next().unwrap_or_default())).collect();
            if let [at, app, endpoint, account, data, outcome] = cells.as_slice() {
                accesses.push(json!({"at": at, "app": app, "endpoint": endpoint, "account": account, "data": data, "outcome": outcome}));
            }
        }
    }
    json!({"apps": apps, "accesses": accesses})
}

fn between<'h>(text: &'h str, start: &str, end: &str) -> Option<&'h str> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(&text[from..to])
}

fn hidden(html: &str, name: &str) -> Option<String> {
    between(html, &format!("name=\"{name}\" value=\""), "\"").map(unescape)
}

fn unescape(text: &str) -> String {
    text.replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The visible text of an HTML fragment, whitespace collapsed.
fn page_text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    let body = html.split("<body").nth(1).unwrap_or(html);
    let body = body.split("<style").next().map_or(body, |b| if b.len() < body.len() { b } else { body });
    for c in body.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    unescape(&out.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// A response body cut for a failure message.
fn excerpt(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() {
        return "(empty body)".to_owned();
    }
    if flat.chars().count() <= 300 { flat } else { format!("{}…", flat.chars().take(300).collect::<String>()) }
}

/// A URL without scheme, host and port (messages stay the same from run to run).
fn strip_origin(url: &str) -> String {
    reqwest::Url::parse(url).map_or_else(|_| url.to_owned(), |u| u.path().to_owned())
}

/// A form body with secret-bearing fields hidden.
fn mask_form(body: &str) -> String {
    body.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _))
                if matches!(
                    k,
                    "client_assertion" | "code" | "code_verifier" | "refresh_token" | "token" | "password" | "csrf"
                ) =>
            {
                format!("{k}=<hidden>")
            }
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_dashboard_markup() {
        let html = r#"<section class="app" id="app-c1">
  <h2>Ledgerly <span class="note">(sandbox test app)</span></h2>
  <p class="status"><strong>Sharing</strong> · until x</p></section>
<table id="access-log">
<tr><th>When</th><th>App</th><th>What</th><th>Account</th><th>Data</th><th>Result</th></tr>
<tr><td>2026-03-04 15:00</td><td>Ledgerly</td><td>accounts</td><td>—</td><td>Account list</td><td>served</td></tr>
</table>"#;
        let view = dashboard_view(html);
        assert_eq!(view["apps"][0], json!({"consent_id": "c1", "app": "Ledgerly", "status": "Sharing"}));
        assert_eq!(view["accesses"][0]["endpoint"], "accounts");
        assert_eq!(view["accesses"][0]["outcome"], "served");
        assert_eq!(
            mask_form("grant_type=x&code=abc&client_assertion=j"),
            "grant_type=x&code=<hidden>&client_assertion=<hidden>"
        );
    }
}
