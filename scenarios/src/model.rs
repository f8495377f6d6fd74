//! The scenario format as Rust types: what a file may say, nothing about how it is played. FORMAT.md is the prose
//! spec; `scenario.schema.json` is derived from these types (schemars), so the three never disagree on a field name.
//!
//! Every struct refuses unknown fields: a misspelt key is a parse error at its line, never silently ignored.

use schemars::JsonSchema;
use serde::Deserialize;
pub use serde_saphyr::Spanned;
use std::collections::BTreeMap;

/// A scenario file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The editor's schema reference (JSON files carry it here; YAML files use the first-line comment).
    #[serde(rename = "$schema", default)]
    pub schema: Option<String>,
    /// One line: what situation this scenario plays.
    pub name: String,
    /// Longer prose: the story, what a QA engineer should learn from it.
    #[serde(default)]
    pub description: Option<String>,
    /// Free labels for selecting and reporting.
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub setup: Setup,
    /// Played in order; the first failing step ends the scenario.
    #[schemars(with = "Vec<Step>")]
    pub steps: Vec<Spanned<Step>>,
}

/// The system the scenario needs. The runner starts the smallest system that serves it.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// Seed of every generated ledger (default 42): the same seed gives the same people, accounts, transactions.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Bank ids to start (continental, liberty, summit, harbor); default: continental.
    #[serde(default)]
    pub banks: Vec<String>,
    /// Customers per bank (default 8: the seven test users and one more). At least 7.
    #[serde(default)]
    pub customers: Option<u32>,
    /// Simulated start instant, RFC 3339 (default 2026-03-04T15:00:00Z). Clocks stand still until a step moves them.
    #[serde(default)]
    pub clock: Option<String>,
    /// Fault rules set at each named bank before the first step (the bank admin API's rule format).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Vec<serde_json::Value>>")]
    pub faults: BTreeMap<String, Vec<serde_json::Value>>,
    /// Variables available as `{{name}}` from the first step.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub vars: BTreeMap<String, serde_json::Value>,
    /// Apps registered in order before the first step, exactly as `register_client` steps would (same keys).
    #[serde(default)]
    pub clients: Vec<RegisterClient>,
}

/// One step: a map with exactly one key naming what to do.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Register an app at the gateway (RFC 7591), or name the sandbox's declared client.
    RegisterClient(RegisterClient),
    /// A person goes through the consent pages: chooses a bank, logs in, shares accounts, approves or denies.
    Consent(Box<ConsentFlow>),
    /// Exchange a grant's authorization code for tokens (when the consent step said `exchange: false`).
    Exchange(GrantRef),
    /// Refresh a grant's tokens (RFC 6749 §6).
    Refresh(GrantRef),
    /// An HTTP request to the gateway (or any URL of the system) with expectations and captures.
    Request(Box<Request>),
    /// An HTTP request to a bank's admin API (the bank's own view of its data).
    BankAdmin(Box<BankAdmin>),
    /// Move every simulated clock forward (banks and gateway), e.g. `30d`, `366d`, `90m`.
    AdvanceClock(String),
    /// The bank records a new transaction on an account (admin API).
    InjectTransaction(Box<InjectTransaction>),
    /// The bank raises a suspected-fraud card purchase on an account (admin API).
    RaiseFraud(RaiseFraud),
    /// Replace a bank's fault rules (admin API rule format).
    SetFaults(SetFaults),
    /// Remove every fault rule of a bank.
    ClearFaults(BankRef),
    /// A planned outage: the bank answers 503 with Retry-After until the simulated clock passes the end.
    Outage(Outage),
    /// Stop a grant: by the person (dashboard), the app (grant management API) or the bank.
    Revoke(Revoke),
    /// The person signs in to the gateway's dashboard and reads its apps and access log.
    Dashboard(Box<Dashboard>),
    /// Assertions on variables, no I/O.
    Check(Vec<Assertion>),
    /// Play nested steps several times, or while a variable is set (bounded).
    Repeat(Box<Repeat>),
    /// Subscribe a grant's app at the gateway (FDX notification subscriptions) with the runner's webhook receiver.
    Subscribe(Subscribe),
    /// Wait (bounded) for a signed webhook notification to reach an app.
    ExpectWebhook(Box<ExpectWebhook>),
    /// Watch an app's webhook for a while: no matching notification may arrive.
    ExpectNoWebhook(Box<ExpectNoWebhook>),
}

impl Step {
    /// The step's key, as written in files.
    pub fn kind(&self) -> &'static str {
        match self {
            Step::RegisterClient(_) => "register_client",
            Step::Consent(_) => "consent",
            Step::Exchange(_) => "exchange",
            Step::Refresh(_) => "refresh",
            Step::Request(_) => "request",
            Step::BankAdmin(_) => "bank_admin",
            Step::AdvanceClock(_) => "advance_clock",
            Step::InjectTransaction(_) => "inject_transaction",
            Step::RaiseFraud(_) => "raise_fraud",
            Step::SetFaults(_) => "set_faults",
            Step::ClearFaults(_) => "clear_faults",
            Step::Outage(_) => "outage",
            Step::Revoke(_) => "revoke",
            Step::Dashboard(_) => "dashboard",
            Step::Check(_) => "check",
            Step::Repeat(_) => "repeat",
            Step::Subscribe(_) => "subscribe",
            Step::ExpectWebhook(_) => "expect_webhook",
            Step::ExpectNoWebhook(_) => "expect_no_webhook",
        }
    }
}

/// How an app authenticates at the gateway, which also fixes how its tokens are bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// FAPI 2.0: signed client assertions (RFC 7523) and DPoP-bound tokens (RFC 9449).
    #[default]
    PrivateKeyJwt,
    /// FAPI 2.0: mutual TLS (RFC 8705), certificate-bound tokens.
    TlsClientAuth,
    /// The sandbox's declared client (`client_secret_basic`, plain bearer tokens); nothing is registered.
    Sandbox,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterClient {
    /// Name later steps use for this client.
    #[serde(rename = "as")]
    pub name: String,
    #[serde(default)]
    pub auth: ClientAuth,
    /// Shown to the person on the consent pages (default: the `as` name).
    #[serde(default)]
    pub client_name: Option<String>,
    /// Purposes the app declares (default: personal_finance_management).
    #[serde(default)]
    pub purposes: Vec<String>,
    /// The platform the app acts for (gateway extension member; banks' sharing policies match it).
    #[serde(default)]
    pub platform: Option<String>,
    /// Expected registration status (default 201); a refusal ends the step without a client.
    #[serde(default)]
    pub expect_status: Option<u16>,
}

/// What the person decides at the gateway's final confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    #[default]
    Approve,
    Deny,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentFlow {
    /// Name of the grant this flow creates (`{{NAME.access_token}}`, `{{NAME.consent_id}}`...).
    #[serde(rename = "as")]
    pub name: String,
    /// A client named by `register_client`.
    pub client: String,
    /// The bank the person chooses on the gateway's consent page.
    pub bank: String,
    /// Login name at the bank (user_good, user_mfa, user_locked, ...).
    pub user: String,
    /// Default: the sandbox password `pass_good`.
    #[serde(default)]
    pub password: Option<String>,
    /// One-time code when the bank asks (default: the sandbox code `123456`).
    #[serde(default)]
    pub mfa_code: Option<String>,
    /// Account ids to tick at the bank; default: the bank's preselection (all).
    #[serde(default)]
    pub accounts: Option<Vec<String>>,
    /// FDX data clusters asked for (default: ACCOUNT_BASIC, ACCOUNT_DETAILED, TRANSACTIONS).
    #[serde(default)]
    pub clusters: Vec<String>,
    /// Purposes asked for (default: personal_finance_management).
    #[serde(default)]
    pub purposes: Vec<String>,
    /// Days the consent lasts (default 90); `duration_type` ONE_TIME or PERSISTENT drops it.
    #[serde(default)]
    pub duration_days: Option<u32>,
    /// FDX durationType (default TIME_BOUND).
    #[serde(default)]
    pub duration_type: Option<String>,
    /// Days of history the app may read (default 365).
    #[serde(default)]
    pub lookback_days: Option<u32>,
    /// On the separate secondary-use screen: allow (true) or decline (default).
    #[serde(default)]
    pub opt_in: bool,
    #[serde(default)]
    pub decision: Decision,
    /// Exchange the code for tokens right away (default true).
    #[serde(default)]
    pub exchange: Option<bool>,
    /// What the app must get back; default: a code (and tokens when exchanged).
    #[serde(default)]
    pub expect: Option<ConsentExpect>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentExpect {
    /// OAuth `error` the app receives at its redirect URI (e.g. access_denied).
    #[serde(default)]
    pub error: Option<String>,
    /// The walk stops on a page (no redirect back to the app): its HTTP status.
    #[serde(default)]
    pub page_status: Option<u16>,
    /// Text the page (or the error_description) must contain.
    #[serde(default)]
    pub contains: Vec<String>,
    /// Pages the person must have posted, in any order (e.g. /login/mfa).
    #[serde(default)]
    pub posted: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRef {
    pub grant: String,
    /// Expected token endpoint status (default 200).
    #[serde(default)]
    pub expect_status: Option<u16>,
    /// Expected OAuth `error` (implies a 400 unless `expect_status` says otherwise).
    #[serde(default)]
    pub expect_error: Option<String>,
}

/// How a request authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestAuth {
    /// The grant's access token as its binding requires (DPoP proof, client certificate, or bearer).
    #[default]
    Grant,
    /// The grant's token as a plain Bearer token, no proof and no client certificate (a stolen token).
    Stolen,
    /// The grant's token with a DPoP proof by another key, or over another client certificate (a thief's).
    Thief,
    /// A client_credentials token of `client` with `scope`.
    Management,
    /// No Authorization header.
    None,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Request {
    #[serde(default = "get")]
    pub method: String,
    /// A path under the gateway's issuer (`/fdx/v6/accounts`) or an absolute https URL of the system.
    pub url: String,
    /// Query parameters (appended, URL-encoded).
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// JSON body.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub json: Option<serde_json::Value>,
    /// The grant whose token is used (auth grant, stolen, thief).
    #[serde(default)]
    pub grant: Option<String>,
    /// The client of a management token (auth management); default: the grant's client.
    #[serde(default)]
    pub client: Option<String>,
    /// Scope of a management token (e.g. consent_management, grant_management_revoke).
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub auth: Option<RequestAuth>,
    #[serde(default)]
    pub expect: Expect,
    /// Variables set from the response (JSON path, header, count).
    #[serde(default)]
    pub capture: BTreeMap<String, Capture>,
    /// Play the request again until its expectations hold (bounded).
    #[serde(default)]
    pub retry: Option<Retry>,
}

fn get() -> String {
    "GET".to_owned()
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BankAdmin {
    pub bank: String,
    #[serde(default = "get")]
    pub method: String,
    /// Path under the bank's admin base, e.g. `/admin/customers/user_good/accounts`.
    pub path: String,
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub json: Option<serde_json::Value>,
    #[serde(default)]
    pub expect: Expect,
    #[serde(default)]
    pub capture: BTreeMap<String, Capture>,
}

/// Expectations on a response.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The exact status, or a list of acceptable ones.
    #[serde(default)]
    pub status: Option<StatusExpect>,
    /// Header name (case-insensitive) -> assertion on its value (string equality, or an assertion map).
    #[serde(default)]
    pub headers: BTreeMap<String, ValueExpect>,
    /// Assertions on the JSON body.
    #[serde(default)]
    pub json: Vec<Assertion>,
    /// Upper bound on the response time, e.g. `2s`, `500ms` (wall time: asserts performance, not outcome).
    #[serde(default)]
    pub within: Option<String>,
    /// Text the body must contain.
    #[serde(default)]
    pub body_contains: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum StatusExpect {
    One(u16),
    AnyOf(Vec<u16>),
}

impl StatusExpect {
    pub fn accepts(&self, status: u16) -> bool {
        match self {
            StatusExpect::One(s) => *s == status,
            StatusExpect::AnyOf(list) => list.contains(&status),
        }
    }
}

/// An assertion on a header value: a literal (equality) or comparisons.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ValueExpect {
    Equals(String),
    Checks(Box<Assertion>),
}

/// One assertion: where the value comes from (`path` in a JSON document, or `value` in `check` steps; neither for a
/// header) and what must hold; every check given must hold. With a path that selects several values (`[*]`), every
/// check except `count` and `exists` must hold for each of them, and at least one must be selected.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Assertion {
    /// JSON path (FORMAT.md "JSON paths"): `$.accounts[0].accountId`, `$.transactions[*].amount`.
    #[serde(default)]
    pub path: Option<String>,
    /// A literal or `{{variable}}` to check (in `check` steps).
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub value: Option<serde_json::Value>,
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub equals: Option<serde_json::Value>,
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub not_equals: Option<serde_json::Value>,
    /// Whether the path selects anything (`false`: it must select nothing).
    #[serde(default)]
    pub exists: Option<bool>,
    /// Number of selected values; or with a single selected array, its length.
    #[serde(default)]
    pub count: Option<CountExpect>,
    /// Numbers compare as numbers; strings (e.g. ISO dates) compare lexicographically.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub gt: Option<serde_json::Value>,
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub gte: Option<serde_json::Value>,
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub lt: Option<serde_json::Value>,
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub lte: Option<serde_json::Value>,
    /// Substring of a string value, an element of an array value, or a member name of an object value.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub contains: Option<serde_json::Value>,
    /// The opposite of `contains`.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub not_contains: Option<serde_json::Value>,
    #[serde(default)]
    pub starts_with: Option<String>,
    /// Element of this list.
    #[serde(default)]
    #[schemars(with = "Option<Vec<serde_json::Value>>")]
    pub one_of: Option<Vec<serde_json::Value>>,
}

/// An exact count or bounds.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum CountExpect {
    Exactly(u64),
    Range {
        #[serde(default)]
        min: Option<u64>,
        #[serde(default)]
        max: Option<u64>,
    },
}

/// Where a captured variable comes from.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Capture {
    /// A JSON path; the single selected value (several: an array of them).
    Path(String),
    Detailed(CaptureSpec),
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptureSpec {
    #[serde(default)]
    pub path: Option<String>,
    /// A response header instead of the body.
    #[serde(default)]
    pub header: Option<String>,
    /// Capture the number of selected values (or the length of a single selected array).
    #[serde(default)]
    pub count: bool,
    /// Add the captured number to the variable's current value (accumulating over a `repeat`).
    #[serde(default)]
    pub add: bool,
    /// Nothing selected is not an error: the variable is removed (ends a `repeat` with `while`).
    #[serde(default)]
    pub optional: bool,
}

/// Bounded retries: the step is played again, at most `times` more times, `interval` apart, until it passes.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    pub times: u32,
    /// e.g. `100ms`, `1s` (default 100ms). Wall time: waits for the system, never the outcome's source.
    #[serde(default)]
    pub interval: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BankRef {
    pub bank: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InjectTransaction {
    pub bank: String,
    pub account: String,
    pub amount_cents: i64,
    /// debit or credit
    pub direction: String,
    pub description: String,
    /// `{name, mcc, city?, region?}`: a card purchase.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub merchant: Option<serde_json::Value>,
    #[serde(default)]
    pub category: Option<String>,
    /// The platform a card purchase was made through.
    #[serde(default)]
    pub platform: Option<String>,
    /// Days until it posts (0: posted at once).
    #[serde(default)]
    pub pending_days: Option<u32>,
    /// posts (default) or drops.
    #[serde(default)]
    pub outcome: Option<String>,
    /// Variable receiving the bank's view of the transaction.
    #[serde(rename = "as", default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RaiseFraud {
    pub bank: String,
    pub account: String,
    #[serde(default)]
    pub amount_cents: Option<i64>,
    #[serde(rename = "as", default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetFaults {
    pub bank: String,
    #[schemars(with = "Vec<serde_json::Value>")]
    pub faults: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    pub bank: String,
    /// How long, in simulated time, e.g. `1h`.
    #[serde(rename = "for")]
    pub duration: String,
    /// A bank route name (accounts, transactions, ...) or `*` (default).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Schedule it for later: it starts this long after now (simulated), e.g. `1d`; default: at once. Either way
    /// the bank announces it as a PLANNED_OUTAGE notification.
    #[serde(default)]
    pub from: Option<String>,
}

/// Who stops a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Revoker {
    /// The person, on the gateway's dashboard (signs in at the bank, presses Stop sharing).
    Person,
    /// The app, through the Grant Management API (`DELETE /grants/{id}`).
    App,
    /// The bank (its admin API stands in for the bank's own pages).
    Bank,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Revoke {
    pub grant: String,
    pub by: Revoker,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    pub bank: String,
    pub user: String,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub mfa_code: Option<String>,
    /// Assertions on `{apps: [{consent_id, app, status}], accesses: [{at, app, endpoint, account, data, outcome}]}`.
    #[serde(default)]
    pub expect: Vec<Assertion>,
    #[serde(default)]
    pub capture: BTreeMap<String, Capture>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    /// Exactly this many rounds (unless `while` stops earlier).
    #[serde(default)]
    pub times: Option<u32>,
    /// Keep going while this variable is set and not empty; needs `max`.
    #[serde(rename = "while", default)]
    pub while_set: Option<String>,
    /// Upper bound on rounds with `while`: reaching it fails the step.
    #[serde(default)]
    pub max: Option<u32>,
    #[schemars(with = "Vec<Step>")]
    pub steps: Vec<Spanned<Step>>,
}

/// The notification types bankgate's banks publish, each with its one FDX category (FORMAT.md "Events").
pub const NOTIFICATION_TYPES: [(&str, &str); 4] =
    [("RISK", "FRAUD"), ("BALANCE", "NEW_DATA"), ("CONSENT_REVOKED", "CONSENT"), ("PLANNED_OUTAGE", "MAINTENANCE")];

/// FORMAT.md "Events": the grant's app subscribes at the gateway (FDX `POST /notification-subscriptions`), one
/// subscription per type, each calling back the runner's webhook receiver for that app.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Subscribe {
    /// The grant whose consent (with NOTIFICATIONS) the subscriptions belong to.
    pub grant: String,
    /// Notification types (RISK, BALANCE, CONSENT_REVOKED, PLANNED_OUTAGE); default: all four.
    #[serde(default)]
    pub types: Vec<String>,
    /// Expected status of each subscription request (default 201), e.g. 403 for a consent without NOTIFICATIONS.
    #[serde(default)]
    pub expect_status: Option<u16>,
    /// Variable receiving `{TYPE: subscriptionId}`.
    #[serde(rename = "as", default)]
    pub name: Option<String>,
}

/// FORMAT.md "Events": a notification the gateway must deliver to the app's webhook within a bound.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectWebhook {
    /// The app whose webhook receives it.
    pub client: String,
    /// Bound on delivery (wall time), e.g. `5s`.
    pub within: String,
    /// FDX notification type: RISK, BALANCE, CONSENT_REVOKED, PLANNED_OUTAGE.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// FDX category (FRAUD, NEW_DATA, CONSENT, MAINTENANCE).
    #[serde(default)]
    pub category: Option<String>,
    /// The account the notification is about (`notificationPayload.id` with `idType: ACCOUNT`).
    #[serde(default)]
    pub account: Option<String>,
    /// The bank's reason code (`notificationPayload.customFields.name`), e.g. SUSPECTED_FRAUD, LARGE_DEPOSIT.
    #[serde(default)]
    pub reason: Option<String>,
    /// Assertions on the notification (the FDX `Notificationentity` inside the verified SET); part of the match.
    #[serde(default)]
    pub json: Vec<Assertion>,
    #[serde(default)]
    pub capture: BTreeMap<String, Capture>,
}

/// FORMAT.md "Events": no matching notification reaches the app while the runner watches.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectNoWebhook {
    pub client: String,
    /// How long to watch (wall time, at most 10 s), after the banks' outboxes are idle, e.g. `1s`.
    #[serde(rename = "for")]
    pub duration: String,
    /// FDX notification type: RISK, BALANCE, CONSENT_REVOKED, PLANNED_OUTAGE.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// FDX category (FRAUD, NEW_DATA, CONSENT, MAINTENANCE).
    #[serde(default)]
    pub category: Option<String>,
    /// The account the notification is about (`notificationPayload.id` with `idType: ACCOUNT`).
    #[serde(default)]
    pub account: Option<String>,
    /// The bank's reason code (`notificationPayload.customFields.name`), e.g. SUSPECTED_FRAUD, LARGE_DEPOSIT.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Which notifications an event step is about (every filter given must hold).
#[derive(Debug, Clone, Copy)]
pub struct EventFilter<'a> {
    pub kind: Option<&'a str>,
    pub category: Option<&'a str>,
    pub account: Option<&'a str>,
    pub reason: Option<&'a str>,
}

impl ExpectWebhook {
    pub fn filter(&self) -> EventFilter<'_> {
        EventFilter {
            kind: self.kind.as_deref(),
            category: self.category.as_deref(),
            account: self.account.as_deref(),
            reason: self.reason.as_deref(),
        }
    }
}

impl ExpectNoWebhook {
    pub fn filter(&self) -> EventFilter<'_> {
        EventFilter {
            kind: self.kind.as_deref(),
            category: self.category.as_deref(),
            account: self.account.as_deref(),
            reason: self.reason.as_deref(),
        }
    }
}
