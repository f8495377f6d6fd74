//! Bad input, thrown at every door of the bank: property tests that send random and hostile query strings, path
//! segments, JSON bodies and forms through the FDX API, the admin API, the login pages and the token endpoint, and
//! hold the bank to the promise: never a panic, never a 5xx (no faults are set here, so no 5xx is
//! legitimate), and every error in the shape its standard prescribes: FDX `{code, message}` JSON on the FDX API,
//! RFC 9457 problem+json on the admin API, RFC 6749 §5.2 `{error}` JSON on the token endpoint.
//!
//! Each property runs a bounded number of cases against one bank built once (cheap requests through
//! `tower::ServiceExt::oneshot`, no sockets); failures shrink to a minimal request. These tests must never weaken a
//! check to pass, and never depend on wall-clock timing.

use crate::support::*;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use std::future::Future;

// ---- harness ------------------------------------------------------------------------------------------------------

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime")
}

/// Run `property` on `cases` values of `strategy`, each inside `rt`; panics with the shrunk failing input.
fn check<S, F, Fut>(rt: &tokio::runtime::Runtime, cases: u32, strategy: S, property: F)
where
    S: Strategy,
    S::Value: std::fmt::Debug,
    F: Fn(S::Value) -> Fut,
    Fut: Future<Output = Result<(), TestCaseError>>,
{
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let ran = std::cell::Cell::new(0u32);
    let result = runner.run(&strategy, |value| {
        ran.set(ran.get() + 1);
        rt.block_on(property(value))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(ran.get() >= cases, "only {} of {cases} cases ran", ran.get());
}

/// Percent-encode every byte outside RFC 3986 `unreserved`.
fn pct(value: &str) -> String {
    encode(value)
}

/// A request, or `None` when the target is not even a URI `http` accepts (then no bank would ever see it).
fn request(method: Method, uri: &str, content_type: Option<&str>, body: Vec<u8>) -> Option<Request<Body>> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    builder.body(Body::from(body)).ok()
}

fn content_type(reply: &Reply) -> String {
    reply.header("content-type").unwrap_or_default().to_owned()
}

fn shown(reply: &Reply) -> String {
    reply.text().chars().take(300).collect()
}

/// Never 5xx; JSON always; an FDX error `{code, message}` whenever the status is not 2xx.
fn fdx_shape(uri: &str, reply: &Reply) -> Result<(), TestCaseError> {
    prop_assert!(!reply.status.is_server_error(), "GET {uri} answered {}: {}", reply.status, shown(reply));
    prop_assert!(
        content_type(reply).starts_with("application/json"),
        "GET {uri}: content type {}",
        content_type(reply)
    );
    prop_assert!(reply.header("x-fapi-interaction-id").is_some(), "GET {uri}: no x-fapi-interaction-id");
    let json: Value = serde_json::from_slice(&reply.body)
        .map_err(|e| TestCaseError::fail(format!("GET {uri}: body is not JSON ({e}): {}", shown(reply))))?;
    if !reply.status.is_success() {
        let code = json["code"].as_str().unwrap_or_default();
        prop_assert!(!code.is_empty() && code.bytes().all(|b| b.is_ascii_digit()), "GET {uri}: FDX code in {json}");
        prop_assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()), "GET {uri}: no message in {json}");
    }
    Ok(())
}

/// Never 5xx; RFC 9457 problem+json whose `status` is the response's whenever the status is not 2xx.
fn problem_shape(what: &str, reply: &Reply) -> Result<(), TestCaseError> {
    prop_assert!(!reply.status.is_server_error(), "{what} answered {}: {}", reply.status, shown(reply));
    if !reply.status.is_success() {
        prop_assert_eq!(content_type(reply), "application/problem+json", "{}: {}", what, shown(reply));
        let json: Value = serde_json::from_slice(&reply.body)
            .map_err(|e| TestCaseError::fail(format!("{what}: problem is not JSON ({e})")))?;
        prop_assert_eq!(json["status"].as_u64(), Some(u64::from(reply.status.as_u16())), "{}: {}", what, json);
        prop_assert!(json["title"].is_string() && json["type"].is_string(), "{what}: {json}");
        prop_assert!(json["detail"].is_string(), "{what}: {json}");
    }
    Ok(())
}

// ---- strategies ---------------------------------------------------------------------------------------------------

/// Values that have broken date, number and cursor parsers elsewhere.
const EDGE_VALUES: &[&str] = &[
    "",
    " ",
    "0",
    "-1",
    "1",
    "-0",
    "+5",
    "00001",
    "4294967295",
    "4294967296",
    "18446744073709551616",
    "99999999999999999999999999999999999999999",
    "1e3",
    "0x10",
    "NaN",
    "null",
    "true",
    "[]",
    "{}",
    "2026-02-30",
    "2026-02-29",
    "2024-02-29",
    "9999-12-31",
    "0000-01-01",
    "-0001-01-01",
    "+10000-01-01",
    "10000-01-01",
    "2026-13-01",
    "2026-00-10",
    "2026-1-1",
    "2026-11-18T00:00:00Z",
    "2026-11-18T12:00:00.123456789+05:30",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:30:00-01:00",
    "0000-01-01T00:00:00+23:59",
    "0000-01-01T00:00:00-00:01",
    "2026-11-18T25:00:00Z",
    "2026-11-18T23:59:60Z",
    "2026-11-18 12:00",
    "٢٠٢٦-١١-١٨",
    "２０２６-１１-１８",
    "2026\u{2010}11\u{2010}18",
    "\u{feff}2026-11-18",
    "2026-11-18\u{0}",
    "\u{0}",
    "😀",
    "'; DROP TABLE transactions; --",
    "../../etc/passwd",
    "a|b|c|d|e",
    "t|acct|2026-01-01|2026-01-02|1|x",
    "s|acct|2026-01-01|2026-01-02|0",
];

/// Raw query or path fragments, sent without encoding (percent escapes the decoder must survive).
const RAW_FRAGMENTS: &[&str] =
    &["%00", "%FF", "%C3%28", "%ED%A0%80", "%", "%2", "%%", "+", "%2B", "%20", "%E2%80%AE", "%0A", "%2F", "%3F", "%23"];

/// Raw path segments: empty, dot segments, encoded slashes, NUL, invalid UTF-8, bidi overrides.
const RAW_SEGMENTS: &[&str] =
    &["", ".", "..", "%2E%2E", "%00", "%2F", "%FF", "%C3%28", "%25", "a%2Fb", "%20", "%E2%80%AE"];

/// A query value: `(raw, text)`; raw text goes into the URI as is, the rest percent-encoded.
fn query_value(cursors: Vec<String>) -> impl Strategy<Value = (bool, String)> {
    let mutated = (select(cursors.clone()), any::<Index>(), any::<char>(), 0..3u8).prop_map(|(c, at, ch, how)| {
        let mut chars: Vec<char> = c.chars().collect();
        let i = at.index(chars.len().max(1)).min(chars.len().saturating_sub(1));
        match how {
            0 if !chars.is_empty() => chars[i] = ch,
            1 => chars.truncate(i),
            _ => chars.push(ch),
        }
        chars.into_iter().collect::<String>()
    });
    prop_oneof![
        4 => select(EDGE_VALUES).prop_map(|v| (false, v.to_owned())),
        2 => (0i32..=12_000, 0u32..=13, 0u32..=32).prop_map(|(y, m, d)| (false, format!("{y:04}-{m:02}-{d:02}"))),
        1 => any::<i128>().prop_map(|n| (false, n.to_string())),
        2 => any::<String>().prop_map(|s| (false, s)),
        1 => "[A-Za-z0-9|_-]{300,3000}".prop_map(|s| (false, s)),
        2 => select(RAW_FRAGMENTS).prop_map(|v| (true, v.to_owned())),
        3 => select(cursors).prop_map(|c| (false, c)),
        3 => mutated.prop_map(|c| (false, c)),
    ]
}

/// A path segment: `(raw, text)` like [`query_value`].
fn path_segment(known: Vec<String>) -> impl Strategy<Value = (bool, String)> {
    prop_oneof![
        4 => select(known).prop_map(|id| (false, id)),
        2 => "[A-Za-z0-9._~-]{1,40}".prop_map(|s| (false, s)),
        2 => any::<String>().prop_map(|s| (false, s)),
        1 => "[a-z0-9]{250,400}".prop_map(|s| (false, s)),
        2 => select(RAW_SEGMENTS).prop_map(|s| (true, s.to_owned())),
    ]
}

fn piece((raw, text): &(bool, String)) -> String {
    if *raw { text.clone() } else { pct(text) }
}

/// Cursors the bank really issued: for two accounts of the consent, transactions and statements, from pages in
/// windows that match and do not match the requests they will be replayed with.
async fn real_cursors(bank: &TestBank, token: &str, accounts: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for id in accounts.iter().take(3) {
        for uri in [
            format!("/fdx/v6/accounts/{id}/transactions?limit=5"),
            format!("/fdx/v6/accounts/{id}/transactions?startTime=2026-01-01&endTime=2026-03-31&limit=3"),
            format!("/fdx/v6/accounts/{id}/statements?limit=1"),
        ] {
            let json = fdx_get(bank, &uri, token).await.json();
            out.extend(json["page"]["nextOffset"].as_str().map(str::to_owned));
        }
    }
    let accounts_page = fdx_get(bank, "/fdx/v6/accounts?limit=1", token).await.json();
    out.extend(accounts_page["page"]["nextOffset"].as_str().map(str::to_owned));
    assert!(out.len() >= 4, "the bank issued too few cursors to replay: {out:?}");
    out
}

/// Account ids of another customer of the bank (real accounts outside the consent).
async fn foreign_accounts(bank: &TestBank) -> Vec<String> {
    let json = admin_get(bank, "/admin/customers/customer9/accounts").await.json();
    json["accounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["accountId"].as_str().map(str::to_owned))
        .collect()
}

// ---- FDX API ------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct RangedRequest {
    account: (bool, String),
    endpoint: &'static str,
    params: Vec<(&'static str, Option<(bool, String)>)>,
    duplicate: Option<usize>,
}

impl RangedRequest {
    fn uri(&self) -> String {
        let mut pairs: Vec<String> = self
            .params
            .iter()
            .filter_map(|(name, value)| value.as_ref().map(|v| format!("{name}={}", piece(v))))
            .collect();
        if let Some(i) = self.duplicate
            && i < pairs.len()
        {
            let again = pairs[i].clone();
            pairs.push(again);
        }
        format!("/fdx/v6/accounts/{}/{}?{}", piece(&self.account), self.endpoint, pairs.join("&"))
    }
}

#[test]
fn fdx_ranged_endpoints_answer_bad_queries_with_fdx_errors() {
    let rt = runtime();
    let (bank, consent, cursors, mut ids) = rt.block_on(async {
        let bank = bank("liberty").await;
        let consent = consent(&bank, "user_many_accounts", ALL_SCOPES, &[]).await;
        let cursors = real_cursors(&bank, &consent.access_token, &consent.account_ids).await;
        let ids = consent.account_ids.clone();
        (bank, consent, cursors, ids)
    });
    ids.extend(rt.block_on(foreign_accounts(&bank)));
    // Each parameter is absent, valid, or hostile, so that many requests get past the first check.
    let param = |valid: BoxedStrategy<String>| {
        prop_oneof![
            4 => Just(None),
            4 => valid.prop_map(|v| Some((false, v))),
            2 => query_value(cursors.clone()).prop_map(Some),
        ]
    };
    let day = (2024i32..=2026, 1u8..=12, 1u8..=28).prop_map(|(y, m, d)| format!("{y}-{m:02}-{d:02}")).boxed();
    let limit = (1u32..=100).prop_map(|n| n.to_string()).boxed();
    let cursor = select(cursors.clone()).boxed();
    let strategy = (
        prop_oneof![3 => select(consent.account_ids.clone()).prop_map(|id| (false, id)), 1 => path_segment(ids)],
        select(vec!["transactions", "statements"]),
        (param(day.clone()), param(day), param(limit), param(cursor)),
        proptest::option::of(0..8usize),
    )
        .prop_map(|(account, endpoint, (start, end, limit, offset), duplicate)| RangedRequest {
            account,
            endpoint,
            params: vec![("startTime", start), ("endTime", end), ("limit", limit), ("offset", offset)],
            duplicate,
        });
    check(&rt, 256, strategy, |req| {
        let (bank, token) = (&bank, consent.access_token.clone());
        async move {
            let uri = req.uri();
            if request(Method::GET, &uri, None, vec![]).is_none() {
                return Ok(());
            }
            fdx_shape(&uri, &fdx_get(bank, &uri, &token).await)
        }
    });
}

#[test]
fn fdx_account_paths_answer_unknown_and_hostile_ids_with_fdx_errors() {
    let rt = runtime();
    let (bank, consent, mut ids) = rt.block_on(async {
        let bank = bank("summit").await;
        let consent = consent(&bank, "user_many_accounts", ALL_SCOPES, &[]).await;
        let ids = consent.account_ids.clone();
        (bank, consent, ids)
    });
    ids.extend(rt.block_on(foreign_accounts(&bank)));
    let consented = consent.account_ids.clone();
    let tails =
        vec!["", "/", "/transactions", "/statements", "/payment-networks", "/contact", "/unknown", "/contact/x"];
    let strategy = (path_segment(ids), select(tails), proptest::option::of("[a-zA-Z=&%0-9]{0,40}"));
    check(&rt, 192, strategy, |(segment, tail, query)| {
        let (bank, token, consented) = (&bank, consent.access_token.clone(), consented.clone());
        async move {
            let mut uri = format!("/fdx/v6/accounts/{}{tail}", piece(&segment));
            if let Some(query) = query {
                uri = format!("{uri}?{query}");
            }
            if request(Method::GET, &uri, None, vec![]).is_none() {
                return Ok(());
            }
            let reply = fdx_get(bank, &uri, &token).await;
            fdx_shape(&uri, &reply)?;
            // Only the consent's own accounts are ever served; any other id is 404 (FDX 701 or 1107).
            if reply.status.is_success() {
                prop_assert!(!segment.0 && consented.contains(&segment.1), "GET {uri} served a foreign account");
            }
            Ok(())
        }
    });
}

// ---- admin API ----------------------------------------------------------------------------------------------------

/// JSON keys the admin API knows, mixed with random ones, so random bodies reach past the first serde error.
const ADMIN_KEYS: &[&str] = &[
    "advance",
    "set",
    "amountCents",
    "direction",
    "description",
    "merchant",
    "name",
    "mcc",
    "city",
    "region",
    "category",
    "platform",
    "pendingDays",
    "outcome",
    "faults",
    "endpoint",
    "latency",
    "kind",
    "ms",
    "minMs",
    "maxMs",
    "error",
    "rate",
    "status",
    "code",
    "message",
    "maintenanceUntil",
    "connectionResetRate",
    "malformedBodyRate",
    "slowBody",
    "chunkBytes",
    "chunkDelayMs",
];

fn json_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        select(vec![0i64, -1, 1, 30, 31, 89_999, 10_000_000_000, 10_000_000_001, i64::MAX, i64::MIN])
            .prop_map(Value::from),
        select(vec![u64::MAX, u64::from(u32::MAX), u64::from(u32::MAX) + 1, 65_535, 65_536, 60_000, 60_001])
            .prop_map(Value::from),
        select(vec![0.5, -0.0, 1.0000001, 1e308, -1e308, 5e-324, 2.5, 100.0]).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("JSON numbers are finite", |f| f.is_finite()).prop_map(Value::from),
    ]
}

fn json_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(EDGE_VALUES).prop_map(str::to_owned),
        3 => select(vec![
            "3d", "12h", "90m", "45s", "1d12h", "PT36H", "P1DT2H", "P2W", "3660d", "3661d", "99999999999d", "PT0S",
            "0d", "-3d", "P", "PT", "debit", "credit", "DEBIT", "posts", "drops", "fixed", "uniform", "*", "accounts",
            "transactions", "token", "chatly", "2026-11-18T12:00:01Z", "2026-11-19T00:00:00Z", "2036-11-18T00:00:00Z",
        ])
        .prop_map(str::to_owned),
        2 => any::<String>(),
        1 => "[a-z ]{190,260}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        json_number(),
        json_string().prop_map(Value::String),
    ];
    let key = prop_oneof![4 => select(ADMIN_KEYS).prop_map(str::to_owned), 1 => any::<String>()];
    leaf.prop_recursive(4, 48, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map(key.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A fault rule that is almost right: known fields, values at and past their limits.
fn fault_rule() -> impl Strategy<Value = Value> {
    let endpoint = text(&["*", "accounts", "transactions", "token"]);
    let ms = || mostly((0u64..=60_000).prop_map(Value::from), json_number());
    let rate = || mostly((0.0f64..=1.0).prop_map(Value::from), json_number());
    let latency = prop_oneof![
        ms().prop_map(|ms| json!({"kind": "fixed", "ms": ms})),
        (ms(), ms()).prop_map(|(a, b)| json!({"kind": "uniform", "minMs": a, "maxMs": b})),
        json_value(),
    ];
    let status = mostly((400u16..=599).prop_map(Value::from), json_number());
    let error = (rate(), status, text(&["500", "1207", "503"]))
        .prop_map(|(rate, status, code)| json!({"rate": rate, "status": status, "code": code}));
    let until = text(&["2026-11-18T13:00:00Z", "2026-11-18T11:00:00Z", "9999-12-31T23:59:59Z"]);
    (
        endpoint,
        proptest::option::of(latency),
        proptest::option::of(error),
        proptest::option::of(until),
        proptest::option::of(rate()),
        proptest::option::of((mostly((1u64..=4096).prop_map(Value::from), json_number()), ms())),
    )
        .prop_map(|(endpoint, latency, error, until, rate, slow)| {
            let mut rule = json!({ "endpoint": endpoint });
            if let Some(latency) = latency {
                rule["latency"] = latency;
            }
            if let Some(error) = error {
                rule["error"] = error;
            }
            if let Some(until) = until {
                rule["maintenanceUntil"] = until;
            }
            if let Some(rate) = rate {
                rule["malformedBodyRate"] = rate.clone();
                rule["connectionResetRate"] = rate;
            }
            if let Some((bytes, delay)) = slow {
                rule["slowBody"] = json!({"chunkBytes": bytes, "chunkDelayMs": delay});
            }
            rule
        })
}

/// Mostly `valid`, sometimes `hostile`: random bodies that still get past the first check often enough to reach the
/// bank's deeper rules.
fn mostly<T: std::fmt::Debug + Clone + 'static>(
    valid: impl Strategy<Value = T> + 'static,
    hostile: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<T> {
    prop_oneof![7 => valid, 1 => hostile].boxed()
}

fn text(valid: &'static [&'static str]) -> BoxedStrategy<Value> {
    mostly(select(valid).prop_map(Value::from), json_string().prop_map(Value::from))
}

/// An injection body that is almost right.
fn injection() -> impl Strategy<Value = Value> {
    let mcc = mostly((1000u16..=9999).prop_map(Value::from), json_number());
    let merchant = (text(&["SQ *BLUE BOTTLE", "AMZN Mktp US*2K4"]), mcc, proptest::option::of(text(&["SEATTLE"])))
        .prop_map(|(name, mcc, city)| json!({"name": name, "mcc": mcc, "city": city}));
    (
        mostly((1i64..=500_000).prop_map(Value::from), json_number()),
        text(&["debit", "credit", "DEBIT", "CREDIT"]),
        text(&["COFFEE", "PAYROLL ACME CORP", "ZELLE TO ALEX"]),
        proptest::option::of(merchant),
        proptest::option::of(text(&["chatly", "voicely"])),
        proptest::option::of(mostly((0u32..=30).prop_map(Value::from), json_number())),
        text(&["posts", "drops"]),
    )
        .prop_map(|(amount, direction, description, merchant, platform, pending, outcome)| {
            let mut body = json!({"amountCents": amount, "direction": direction, "description": description,
                "outcome": outcome});
            if let Some(m) = merchant {
                body["merchant"] = m;
            }
            if let Some(p) = platform {
                body["platform"] = p;
            }
            if let Some(p) = pending {
                body["pendingDays"] = p;
            }
            body
        })
}

/// A body as sent: JSON text, raw bytes, or an oversized document, under some content type.
#[derive(Clone)]
struct SentBody {
    content_type: Option<&'static str>,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for SentBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = String::from_utf8_lossy(&self.bytes);
        let shown: String = text.chars().take(400).collect();
        write!(f, "{:?} ({} bytes) {shown:?}", self.content_type, self.bytes.len())
    }
}

fn sent_body(json: impl Strategy<Value = Value>) -> impl Strategy<Value = SentBody> {
    let content_type = prop_oneof![
        16 => Just(Some("application/json")),
        1 => Just(Some("application/json; charset=utf-8")),
        1 => Just(Some("text/plain")),
        1 => Just(Some("application/x-www-form-urlencoded")),
        1 => Just(None),
    ];
    let bytes = prop_oneof![
        16 => json.prop_map(|v| v.to_string().into_bytes()),
        1 => proptest::collection::vec(any::<u8>(), 0..200),
        1 => Just(format!("{{\"description\": \"{}\"}}", "x".repeat(70 * 1024)).into_bytes()),
        1 => Just(b"{\"advance\": \"3d\"".to_vec()),
    ];
    (content_type, bytes).prop_map(|(content_type, bytes)| SentBody { content_type, bytes })
}

async fn admin_send(bank: &TestBank, method: Method, uri: &str, body: &SentBody) -> Option<Reply> {
    let mut request = request(method, uri, body.content_type, body.bytes.clone())?;
    let token = format!("Bearer {ADMIN_TOKEN}").parse().ok()?;
    request.headers_mut().insert(header::AUTHORIZATION, token);
    Some(send(&bank.admin, request).await)
}

#[test]
fn admin_clock_refuses_bad_moves_with_problems() {
    let rt = runtime();
    let bank = rt.block_on(bank("harbor"));
    let clock_body = prop_oneof![
        3 => text(&["1d", "12h", "PT90M", "P1W", "45s"]).prop_map(|v| json!({ "advance": v })),
        1 => (0i64..=400 * 86_400).prop_map(|s| {
            let at = START + time::Duration::seconds(s);
            json!({ "set": at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default() })
        }),
        2 => (select(vec!["advance", "set"]), json_string()).prop_map(|(k, v)| json!({ k: v })),
        1 => (json_string(), json_string()).prop_map(|(a, s)| json!({"advance": a, "set": s})),
        2 => json_value(),
    ];
    check(&rt, 160, sent_body(clock_body), |body| {
        let bank = &bank;
        async move {
            let Some(reply) = admin_send(bank, Method::POST, "/admin/clock", &body).await else { return Ok(()) };
            problem_shape("POST /admin/clock", &reply)?;
            // Whatever happened, the clock still answers and the bank still serves an account.
            let clock = admin_get(bank, "/admin/clock").await;
            prop_assert_eq!(clock.status, StatusCode::OK, "{}", clock.text());
            let accounts = admin_get(bank, "/admin/customers/user_good/accounts").await;
            problem_shape("GET /admin/customers/user_good/accounts", &accounts)?;
            Ok(())
        }
    });
}

#[test]
fn admin_injections_and_faults_refuse_bad_bodies_with_problems() {
    let rt = runtime();
    let bank = rt.block_on(bank("continental"));
    let mut ids = rt.block_on(foreign_accounts(&bank));
    ids.push("acct-unknown".into());
    let target = prop_oneof![
        3 => (select(ids.clone()), sent_body(prop_oneof![3 => injection(), 1 => json_value()]))
            .prop_map(|(id, body)| (Method::POST, format!("/admin/accounts/{}/transactions", pct(&id)), body)),
        1 => (select(ids), sent_body(json_value()))
            .prop_map(|(id, body)| (Method::POST, format!("/admin/accounts/{}/fraud", pct(&id)), body)),
        3 => sent_body(prop_oneof![
                3 => proptest::collection::vec(fault_rule(), 0..4).prop_map(|rules| json!({ "faults": rules })),
                1 => json_value(),
            ])
            .prop_map(|body| (Method::PUT, "/admin/faults".to_owned(), body)),
    ];
    check(&rt, 192, target, |(method, uri, body)| {
        let bank = &bank;
        async move {
            let what = format!("{method} {uri}");
            let Some(reply) = admin_send(bank, method, &uri, &body).await else { return Ok(()) };
            problem_shape(&what, &reply)?;
            let faults = admin_get(bank, "/admin/faults").await;
            prop_assert_eq!(faults.status, StatusCode::OK, "GET /admin/faults after {}: {}", what, faults.text());
            Ok(())
        }
    });
}

#[test]
fn admin_paths_answer_hostile_segments_with_problems() {
    let rt = runtime();
    let bank = rt.block_on(bank("continental"));
    let mut known = rt.block_on(foreign_accounts(&bank));
    known.extend(["customer9", "user_good", "0", "39", "40", "4294967295", "-1", "cust-000009"].map(str::to_owned));
    let routes = vec![
        (Method::GET, "/admin/accounts/{}"),
        (Method::GET, "/admin/accounts/{}/transactions"),
        (Method::GET, "/admin/customers/{}"),
        (Method::GET, "/admin/customers/{}/accounts"),
        (Method::POST, "/admin/accounts/{}/fraud"),
        (Method::POST, "/admin/consents/{}/revoke"),
        (Method::DELETE, "/admin/accounts/{}"),
        (Method::GET, "/admin/{}"),
    ];
    let query = proptest::option::of((query_value(vec!["x".into()]), query_value(vec!["y".into()])));
    check(&rt, 192, (path_segment(known), select(routes), query), |(segment, (method, route), query)| {
        let bank = &bank;
        async move {
            let mut uri = route.replace("{}", &piece(&segment));
            if let Some((start, end)) = query {
                uri = format!(
                    "{uri}?start={}&end={}&customer={}&limit={}",
                    piece(&start),
                    piece(&end),
                    piece(&start),
                    piece(&end)
                );
            }
            let body = SentBody { content_type: None, bytes: Vec::new() };
            let Some(reply) = admin_send(bank, method.clone(), &uri, &body).await else { return Ok(()) };
            problem_shape(&format!("{method} {uri}"), &reply)
        }
    });
}

// ---- the bank's login and token endpoint ----------------------------------------------------------------------

/// The authorize parameters of a good request.
fn good_authorize() -> Vec<(&'static str, &'static str)> {
    vec![
        ("response_type", "code"),
        ("client_id", GATEWAY),
        ("redirect_uri", REDIRECT),
        ("state", "s1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("scope", ALL_SCOPES),
    ]
}

fn form_text(pairs: &[(String, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", pct(k), pct(v))).collect::<Vec<_>>().join("&")
}

/// A form value: the good one for its key (when there is one), an edge value, or random text.
fn form_value(good: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(good).prop_map(str::to_owned),
        2 => json_string(),
        1 => "[a-zA-Z0-9_-]{43}",
    ]
}

type Keys = &'static [(&'static str, &'static [&'static str])];
type Pairs = Vec<(String, String)>;

/// One form pair: a known key with a good, edge or random value, or random text for both.
fn form_pair(keys: Keys) -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        6 => select(keys).prop_flat_map(|(k, good)| form_value(good).prop_map(move |v| (k.to_owned(), v))),
        1 => (any::<String>(), any::<String>()),
    ]
}

/// One change to a good form.
#[derive(Debug, Clone)]
enum Edit {
    Drop(Index),
    Replace(Index, String),
    Add((String, String)),
    Repeat(Index),
}

/// Forms: a good one (from `bases`) with a few edits, a random one over `keys`, or an oversized one.
fn form(bases: Vec<Vec<(&'static str, &'static str)>>, keys: Keys) -> impl Strategy<Value = Pairs> {
    let edit = prop_oneof![
        1 => any::<Index>().prop_map(Edit::Drop),
        2 => (any::<Index>(), prop_oneof![json_string(), "[a-zA-Z0-9_-]{43}"]).prop_map(|(i, v)| Edit::Replace(i, v)),
        1 => form_pair(keys).prop_map(Edit::Add),
        1 => any::<Index>().prop_map(Edit::Repeat),
    ];
    let edited = (select(bases), proptest::collection::vec(edit, 0..4)).prop_map(|(base, edits)| {
        let mut pairs: Pairs = base.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        for edit in edits {
            let len = pairs.len();
            match edit {
                Edit::Drop(i) if len > 0 => drop(pairs.remove(i.index(len))),
                Edit::Replace(i, v) if len > 0 => pairs[i.index(len)].1 = v,
                Edit::Add(pair) => pairs.push(pair),
                Edit::Repeat(i) if len > 0 => pairs.push(pairs[i.index(len)].clone()),
                _ => {}
            }
        }
        pairs
    });
    prop_oneof![
        8 => edited,
        4 => proptest::collection::vec(form_pair(keys), 0..10),
        1 => Just(vec![("username".to_owned(), "u".repeat(20 * 1024))]),
    ]
}

const AUTHORIZE_KEYS: &[(&str, &[&str])] = &[
    ("response_type", &["code", "token", "code id_token"]),
    ("client_id", &[GATEWAY, "someone-else"]),
    ("redirect_uri", &[REDIRECT, "https://evil.example/cb", "https://127.0.0.1:9443/banks/callback/../x"]),
    ("state", &["s1", ""]),
    ("code_challenge", &[CHALLENGE, "short", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c."]),
    ("code_challenge_method", &["S256", "plain"]),
    ("scope", &[ALL_SCOPES, "fdx:transactions:read", "openid", "fdx:nothing:read", ""]),
    ("purpose", &["budgeting", "advertising", "a b c d e f g h i j k", "UPPER"]),
    ("platform", &["chatly", "Chatly!", ""]),
    ("duration_days", &["1", "365", "366", "0", "-1", "65536"]),
];

const LOGIN_KEYS: &[(&str, &[&str])] = &[
    (
        "username",
        &[
            "user_good",
            "user_mfa",
            "user_locked",
            "user_login_error",
            "login_error_server_error",
            "login_error_",
            "data_error_503_503",
            "data_error_999_1",
            "customer7",
            "customer99999",
        ],
    ),
    ("password", &["pass_good", "wrong"]),
    ("csrf", &["<csrf>", "forged"]),
    ("code", &["123456", "000000", "1234567890123456789"]),
    ("action", &["share", "deny", "cancel"]),
    ("account_id", &["<account>", "acct-unknown", ""]),
];

const TOKEN_KEYS: &[(&str, &[&str])] = &[
    ("grant_type", &["authorization_code", "refresh_token", "client_credentials", "password"]),
    ("code", &["<code>", "not-a-code"]),
    ("redirect_uri", &[REDIRECT, "https://evil.example/cb"]),
    ("code_verifier", &["dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "short"]),
    ("client_id", &[GATEWAY, "someone-else"]),
    ("refresh_token", &["<token>", "nope"]),
    ("scope", &["fdx:transactions:read", "fdx:everything:read"]),
    ("client_secret", &["s3cret"]),
    ("client_assertion", &["e30.e30.sig"]),
    ("token", &["<token>", "whatever"]),
];

fn cookie_of(reply: &Reply) -> Option<String> {
    let set = reply.header("set-cookie")?;
    Some(set.split(';').next()?.to_owned())
}

fn hidden_field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

async fn post_form(router: &axum::Router, uri: &str, cookie: Option<&str>, body: String, form: bool) -> Reply {
    let mut builder = Request::post(uri);
    if form {
        builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    send(router, builder.body(Body::from(body)).expect("a form request")).await
}

/// Never 5xx; a redirect only ever to the registered redirect URI or the bank's own pages.
fn login_shape(what: &str, reply: &Reply) -> Result<(), TestCaseError> {
    prop_assert!(!reply.status.is_server_error(), "{what} answered {}: {}", reply.status, shown(reply));
    if reply.status.is_redirection() {
        let location = reply.header("location").unwrap_or_default();
        prop_assert!(
            location.starts_with(&format!("{REDIRECT}?")) || location.starts_with("/login"),
            "{what} redirected to {location}"
        );
    }
    Ok(())
}

#[test]
fn authorize_answers_random_queries_without_server_errors() {
    let rt = runtime();
    let bank = rt.block_on(bank("continental"));
    let query = prop_oneof![
        6 => form(vec![good_authorize()], AUTHORIZE_KEYS).prop_map(|pairs| form_text(&pairs)),
        2 => (form(vec![good_authorize()], AUTHORIZE_KEYS), select(RAW_FRAGMENTS))
            .prop_map(|(pairs, raw)| format!("{}&{raw}={raw}", form_text(&pairs))),
        1 => "[ -~]{0,200}".prop_map(|s| s.replace(' ', "%20").replace('#', "%23")),
    ];
    check(&rt, 256, query, |query| {
        let bank = &bank;
        async move {
            let uri = format!("/oauth/authorize?{query}");
            let Some(request) = request(Method::GET, &uri, None, vec![]) else { return Ok(()) };
            login_shape(&format!("GET {uri}"), &send(&bank.login, request).await)
        }
    });
}

#[test]
fn login_pages_answer_random_forms_without_server_errors() {
    let rt = runtime();
    let bank = rt.block_on(bank("continental"));
    let sign_in = form(
        ["user_good", "user_mfa"]
            .map(|u| vec![("username", u), ("password", "pass_good"), ("csrf", "<csrf>")])
            .to_vec(),
        LOGIN_KEYS,
    );
    let mfa = form(vec![vec![("code", "123456"), ("csrf", "<csrf>")]], LOGIN_KEYS);
    let share = form(vec![vec![("csrf", "<csrf>"), ("action", "share"), ("account_id", "<account>")]], LOGIN_KEYS);
    let as_form = prop_oneof![7 => Just(true), 1 => Just(false)];
    let walk = (
        sign_in,
        mfa,
        share,
        [as_form.clone(), as_form.clone(), as_form],
        prop_oneof![7 => Just(true), 1 => Just(false)],
    );
    check(&rt, 192, walk, |(login, mfa, share, as_form, with_session)| {
        let bank = &bank;
        async move {
            let authorize =
                good_authorize().iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<Vec<_>>();
            let page = send(
                &bank.login,
                Request::get(format!("/oauth/authorize?{}", form_text(&authorize))).body(Body::empty()).unwrap(),
            )
            .await;
            prop_assert_eq!(page.status, StatusCode::OK, "{}", page.text());
            let mut cookie = if with_session { cookie_of(&page) } else { None };
            let mut csrf = hidden_field(&page.text(), "csrf").unwrap_or_default();
            let mut account = String::new();
            for (step, (uri, pairs)) in
                [("/login", login), ("/login/mfa", mfa), ("/login/consent", share)].into_iter().enumerate()
            {
                let pairs: Vec<(String, String)> = pairs
                    .into_iter()
                    .map(|(k, v)| (k, v.replace("<csrf>", &csrf).replace("<account>", &account)))
                    .collect();
                let reply = post_form(&bank.login, uri, cookie.as_deref(), form_text(&pairs), as_form[step]).await;
                login_shape(&format!("POST {uri}"), &reply)?;
                // A browser keeps whatever session id the bank sets (it issues a new one at sign-in).
                if cookie.is_some()
                    && let Some(new) = cookie_of(&reply)
                {
                    cookie = Some(new);
                }
                // Follow the bank to its next page, as a browser would, to reach the later forms.
                if let Some(next) = reply.header("location").filter(|l| l.starts_with("/login")) {
                    let mut get = Request::get(next);
                    if let Some(cookie) = &cookie {
                        get = get.header(header::COOKIE, cookie);
                    }
                    let next_page = send(&bank.login, get.body(Body::empty()).unwrap()).await;
                    login_shape(&format!("GET {next}"), &next_page)?;
                    let html = next_page.text();
                    csrf = hidden_field(&html, "csrf").unwrap_or(csrf);
                    account = hidden_field(&html, "account_id").unwrap_or(account);
                }
            }
            Ok(())
        }
    });
}

/// Walk the bank's login as `user_good`, share every account, and return the authorization code (not redeemed).
async fn fresh_code(bank: &TestBank) -> Option<String> {
    let query =
        form_text(&good_authorize().iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<Vec<_>>());
    let page = send(&bank.login, Request::get(format!("/oauth/authorize?{query}")).body(Body::empty()).ok()?).await;
    let cookie = cookie_of(&page)?;
    let csrf = hidden_field(&page.text(), "csrf")?;
    let sign_in = form_text(&[
        ("username".into(), "user_good".into()),
        ("password".into(), "pass_good".into()),
        ("csrf".into(), csrf),
    ]);
    let signed = post_form(&bank.login, "/login", Some(&cookie), sign_in, true).await;
    // The bank issues a new session id at sign-in (no session fixation).
    let cookie = cookie_of(&signed).unwrap_or(cookie);
    let get = Request::get("/login/accounts").header(header::COOKIE, &cookie).body(Body::empty()).ok()?;
    let html = send(&bank.login, get).await.text();
    let mut share = vec![("csrf".to_owned(), hidden_field(&html, "csrf")?), ("action".into(), "share".into())];
    share.extend(
        html.split("name=\"account_id\" value=\"")
            .skip(1)
            .filter_map(|rest| Some(("account_id".to_owned(), rest[..rest.find('"')?].to_owned()))),
    );
    let done = post_form(&bank.login, "/login/consent", Some(&cookie), form_text(&share), true).await;
    let location = done.header("location")?;
    let code = location.split(['?', '&']).find_map(|pair| pair.strip_prefix("code="))?;
    Some(code.to_owned())
}

#[test]
fn token_endpoint_answers_random_forms_with_oauth_errors() {
    let rt = runtime();
    let (bank, tokens) = rt.block_on(async {
        let bank = bank("continental").await;
        let code = fresh_code(&bank).await.expect("a code");
        let form = form_text(&[
            ("grant_type".into(), "authorization_code".into()),
            ("code".into(), code),
            ("redirect_uri".into(), REDIRECT.into()),
            ("code_verifier".into(), VERIFIER.into()),
            ("client_id".into(), GATEWAY.into()),
        ]);
        let mut request = Request::post("/oauth/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap();
        request.extensions_mut().insert(bank.gateway_cert.clone());
        let json = send(&bank.token, request).await.json();
        let token = |name: &str| json[name].as_str().unwrap_or_else(|| panic!("no {name} in {json}")).to_owned();
        let tokens = (token("access_token"), token("refresh_token"));
        (bank, tokens)
    });
    let grants = vec![
        vec![
            ("grant_type", "authorization_code"),
            ("code", "<code>"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", GATEWAY),
        ],
        vec![("grant_type", "refresh_token"), ("refresh_token", "<refresh>"), ("client_id", GATEWAY)],
        vec![("token", "<token>"), ("token_type_hint", "access_token"), ("client_id", GATEWAY)],
    ];
    let certificate = prop_oneof![6 => Just(0u8), 1 => Just(1), 1 => Just(2)];
    let as_form = prop_oneof![7 => Just(true), 1 => Just(false)];
    let endpoint = prop_oneof![3 => Just("/oauth/token"), 1 => Just("/oauth/revoke")];
    let strategy = (form(grants, TOKEN_KEYS), certificate, endpoint, as_form);
    check(&rt, 192, strategy, |(pairs, cert, uri, as_form)| {
        let (bank, (access, refresh)) = (&bank, tokens.clone());
        async move {
            let code = if pairs.iter().any(|(_, v)| v.contains("<code>")) { fresh_code(bank).await } else { None };
            let pairs: Vec<(String, String)> = pairs
                .into_iter()
                .map(|(k, v)| {
                    let v = v.replace("<token>", &access).replace("<refresh>", &refresh);
                    (k, v.replace("<code>", code.as_deref().unwrap_or_default()))
                })
                .collect();
            let mut builder = Request::post(uri);
            if as_form {
                builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            }
            let mut request = builder.body(Body::from(form_text(&pairs))).unwrap();
            match cert {
                0 => {
                    request.extensions_mut().insert(bank.gateway_cert.clone());
                }
                1 => {
                    request.extensions_mut().insert(bank.other_cert.clone());
                }
                _ => {}
            }
            let reply = send(&bank.token, request).await;
            prop_assert!(!reply.status.is_server_error(), "POST {uri} answered {}: {}", reply.status, shown(&reply));
            if !reply.status.is_success() {
                let kind = content_type(&reply);
                prop_assert!(kind.starts_with("application/json"), "POST {uri}: {kind}");
                let json: Value = serde_json::from_slice(&reply.body)
                    .map_err(|e| TestCaseError::fail(format!("POST {uri}: error body is not JSON ({e})")))?;
                let error = json["error"].as_str().unwrap_or_default();
                prop_assert!(
                    error.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') && !error.is_empty(),
                    "POST {uri}: no RFC 6749 error code in {json}"
                );
            }
            Ok(())
        }
    });
}

// ---- regressions: each a bug these properties found ------------------------------------------------------------

/// An RFC 3339 date-time whose UTC instant falls after 9999-12-31 used to panic in `to_offset`; now FDX 702.
#[tokio::test]
async fn fdx_date_times_past_year_9999_in_utc_are_invalid_dates() {
    let bank = bank("continental").await;
    let consent = good_consent(&bank).await;
    let id = &consent.account_ids[0];
    for (endpoint, param) in [("transactions", "startTime"), ("transactions", "endTime"), ("statements", "endTime")] {
        let uri = format!("/fdx/v6/accounts/{id}/{endpoint}?{param}=9999-12-31T23%3A30%3A00-01%3A00");
        let reply = fdx_get(&bank, &uri, &consent.access_token).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}: {}", reply.text());
        assert_eq!(reply.fdx_code(), "702", "{uri}");
    }
}

/// The admin transaction listing had the same `to_offset` panic; now a 400 problem.
#[tokio::test]
async fn admin_date_times_past_year_9999_in_utc_are_bad_requests() {
    let bank = bank("continental").await;
    let id = foreign_accounts(&bank).await.remove(0);
    let reply =
        admin_get(&bank, &format!("/admin/accounts/{id}/transactions?end=9999-12-31T23%3A30%3A00-01%3A00")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/problem+json"));
}

/// An oversized body on the fraud endpoint used to get axum's plain-text 413; now a problem like every admin error.
#[tokio::test]
async fn admin_fraud_with_an_oversized_body_is_a_problem() {
    let bank = bank("continental").await;
    let id = foreign_accounts(&bank).await.remove(0);
    let body = json!({ "merchant": { "name": "x".repeat(70 * 1024), "mcc": 5732 } });
    let reply = admin(&bank, Method::POST, &format!("/admin/accounts/{id}/fraud"), Some(body)).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/problem+json"));
    assert_eq!(reply.json()["status"], 413);
}

/// Setting the clock to the last second `time` can hold and then moving it on used to panic on overflow; a clock
/// that far out is refused (422), and the bank keeps serving.
#[tokio::test]
async fn admin_clock_refuses_instants_the_bank_cannot_move_past() {
    let bank = bank("continental").await;
    let far = admin(&bank, Method::POST, "/admin/clock", Some(json!({ "set": "9999-12-31T23:59:59Z" }))).await;
    assert!(far.status.is_client_error(), "{}: {}", far.status, far.text());
    assert_eq!(far.header("content-type"), Some("application/problem+json"));
    let on = admin(&bank, Method::POST, "/admin/clock", Some(json!({ "advance": "3d" }))).await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.text());
    let now = admin_get(&bank, "/admin/clock").await.json();
    assert_eq!(now["now"], "2026-11-21T12:00:00Z");
}
