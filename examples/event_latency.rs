//! `cargo run --release --example event_latency -- --rate 1000 --seconds 10` (or `bench/event-latency.sh`): bank
//! event to delivered webhook, measured end to end; a load driver, not part of CI.
//!
//! Starts a sandbox in this process (ephemeral loopback ports, one bank, frozen clocks; file-backed stores in a
//! temporary directory as deployed, so the gateway's enqueue waits for its disk flush; `--in-memory` for in-memory
//! stores), gets a
//! consent with the NOTIFICATIONS cluster through the sandbox shortcut, subscribes the app to RISK/FRAUD at the
//! gateway with a callback on a plain-HTTP loopback receiver in this process, then publishes RISK notifications at
//! the bank (`POST /admin/notifications`) at a fixed rate, open loop (a slow answer never delays the next event).
//! Each event carries its sequence number in `customFields.value`; the receiver reads it from the SET it gets and
//! records the arrival. Latency = arrival at the app minus the instant the driver sent the event to the bank, so it
//! includes the bank's admin API, the bank's signed mTLS delivery, the gateway's verification, durable enqueue and
//! signed webhook delivery.
//!
//! Baseline, measured in the same run at the same rate: the driver POSTs the same JSON straight to the receiver
//! (one loopback HTTP round trip), so the ratio says what the pipeline costs over the cheapest possible hop.
//! Everything (driver, bank, gateway, receiver) shares this process and the machine's cores. It never talks to
//! anything but 127.0.0.1.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use bankgate::{Sandbox, SandboxOptions};
use base64::Engine as _;
use clap::Parser;
use serde_json::{Value, json};
use time::macros::datetime;

#[derive(Debug, Parser)]
#[command(about = "Bank event to webhook latency against an in-process sandbox")]
struct Args {
    /// Events per second, open loop.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// How long to publish.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Run bank and gateway on in-memory stores instead of file-backed ones.
    #[arg(long)]
    in_memory: bool,
}

/// Arrival instants by sequence number, filled by the receiver.
type Arrivals = Arc<Mutex<HashMap<u64, Instant>>>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.rate > 0 && args.seconds > 0, "--rate and --seconds must be positive");
    certs::install_crypto_provider();
    let data_dir = (!args.in_memory).then(tempfile::tempdir).transpose()?;
    let options = SandboxOptions {
        customers: Some(100),
        banks: Some(vec!["continental".to_owned()]),
        start: Some(datetime!(2026-03-04 15:00 UTC)),
        ticking: false,
        ephemeral_ports: true,
        rate_limit: None,
        data_dir: data_dir.as_ref().map(|d| d.path().to_owned()),
        ..SandboxOptions::default()
    };
    let sandbox = Sandbox::start(options).await.context("starting the sandbox")?;
    let result = run(&sandbox, &args).await;
    sandbox.shutdown().await?;
    result
}

async fn run(sandbox: &Sandbox, args: &Args) -> anyhow::Result<()> {
    let arrivals: Arrivals = Arc::default();
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let receiver_url = format!("http://{}", receiver.local_addr()?);
    let router = axum::Router::new()
        .route("/webhook", axum::routing::post(webhook))
        .route("/baseline", axum::routing::post(baseline))
        .with_state(arrivals.clone());
    tokio::spawn(async move { axum::serve(receiver, router).await });

    let gateway = sandbox.endpoints.gateway.as_ref().context("the sandbox runs no gateway")?;
    let client = sandbox.sandbox_client.as_ref().context("no sandbox client")?;
    let bank = sandbox.endpoints.banks.first().context("no bank")?;
    let ca = reqwest::Certificate::from_pem(sandbox.pki.ca_pem().as_bytes())?;
    let http = reqwest::Client::builder().tls_certs_only([ca]).timeout(Duration::from_secs(30)).build()?;
    let admin = format!("Bearer {}", sandbox.endpoints.admin_token);

    let accounts: Value = http
        .get(format!("{}/admin/customers/user_good/accounts", bank.admin))
        .header("authorization", &admin)
        .send()
        .await?
        .json()
        .await?;
    let account_id = accounts["accounts"][0]["accountId"].as_str().context("user_good has no account")?.to_owned();

    let details = json!([{"type": "fdx_consent", "dataClusters": ["ACCOUNT_BASIC", "TRANSACTIONS", "NOTIFICATIONS"],
        "durationType": "TIME_BOUND", "durationPeriod": 90, "lookbackPeriod": 365,
        "purposes": ["personal_finance_management"]}]);
    let shortcut = json!({"bank": bank.id, "username": "user_good", "password": "pass_good",
        "authorization_details": details, "account_ids": [account_id]});
    let response = http
        .post(format!("{}/sandbox/consents", gateway.issuer))
        .basic_auth(&client.client_id, Some(&client.client_secret))
        .json(&shortcut)
        .send()
        .await?;
    anyhow::ensure!(response.status() == 200, "the shortcut refused: {}", response.text().await?);
    let tokens: Value = response.json().await?;
    let access = tokens["access_token"].as_str().context("no access token")?;

    let subscription = json!({"type": "RISK", "category": "FRAUD", "callbackUrl": format!("{receiver_url}/webhook"),
        "subscriber": {"name": "Latency Driver", "type": "DATA_RECIPIENT"}});
    let response = http
        .post(format!("{}/fdx/v6/notification-subscriptions", gateway.issuer))
        .bearer_auth(access)
        .header("x-fapi-interaction-id", "c770aef3-6784-41f7-8e0e-ff5f97bddb3a")
        .json(&subscription)
        .send()
        .await?;
    anyhow::ensure!(response.status() == 201, "the subscription was refused: {}", response.text().await?);

    let total = args.rate * args.seconds;
    let plain = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    eprintln!("baseline: {total} POSTs straight to the receiver at {}/s", args.rate);
    let baseline = paced(args.rate, total, |seq| {
        let plain = plain.clone();
        let url = format!("{receiver_url}/baseline");
        async move {
            let sent = Instant::now();
            let response = plain.post(url).json(&json!({"reason": format!("bench-{seq}")})).send().await;
            match response {
                Ok(r) if r.status().is_success() => Some(sent.elapsed()),
                _ => None,
            }
        }
    })
    .await;

    eprintln!("pipeline: {total} RISK events at the bank at {}/s", args.rate);
    let sent: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let refused = paced(args.rate, total, |seq| {
        let http = http.clone();
        let url = format!("{}/admin/notifications", bank.admin);
        let body =
            json!({"type": "RISK", "accountId": account_id, "reason": "BENCHMARK", "detail": format!("bench-{seq}")});
        let admin = admin.clone();
        let sent = sent.clone();
        async move {
            sent.lock().map(|mut s| s.insert(seq, Instant::now())).ok();
            let response = http.post(url).header("authorization", admin).json(&body).send().await;
            match response {
                Ok(r) if r.status().is_success() => Some(Duration::ZERO),
                _ => None,
            }
        }
    })
    .await;
    let failed_sends = total as usize - refused.len();
    // Where the backlog sits when the last event was published: still at the bank, or past it.
    let outbox: Value = http
        .get(format!("{}/admin/notifications/outbox", bank.admin))
        .header("authorization", &admin)
        .send()
        .await?
        .json()
        .await?;
    let arrived = arrivals.lock().map(|a| a.len()).unwrap_or(0);
    println!("when publishing ended: bank outbox {outbox}, webhooks arrived {arrived}");

    // Bounded wait for the stragglers: every accepted event, or 30 s.
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline && arrivals.lock().map(|a| a.len()).unwrap_or(0) < refused.len() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let arrivals = arrivals.lock().map(|a| a.clone()).unwrap_or_default();
    let sent = sent.lock().map(|s| s.clone()).unwrap_or_default();
    let mut latencies: Vec<Duration> = sent
        .iter()
        .filter_map(|(seq, at)| arrivals.get(seq).map(|arrived| arrived.saturating_duration_since(*at)))
        .collect();
    let mut baseline = baseline;
    println!("events published: {total}, refused by the bank: {failed_sends}, delivered: {}", latencies.len());
    let (b50, b99) = percentiles(&mut baseline);
    let (p50, p99) = percentiles(&mut latencies);
    println!("baseline (loopback POST to the receiver): p50 {b50:?}  p99 {b99:?}");
    println!("bank event -> webhook delivered:          p50 {p50:?}  p99 {p99:?}");
    println!(
        "ratio to baseline: p50 {:.1}x  p99 {:.1}x",
        p50.as_secs_f64() / b50.as_secs_f64().max(1e-9),
        p99.as_secs_f64() / b99.as_secs_f64().max(1e-9)
    );
    Ok(())
}

/// Runs `job(seq)` for seq in 0..total at `rate` per second, each in its own task (open loop), and collects the
/// durations the jobs return (`None`: failed).
async fn paced<F, Fut>(rate: u64, total: u64, job: F) -> Vec<Duration>
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = Option<Duration>> + Send + 'static,
{
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = tokio::task::JoinSet::new();
    for seq in 0..total {
        ticks.tick().await;
        tasks.spawn(job(seq));
    }
    let mut out = Vec::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok(Some(elapsed)) = done {
            out.push(elapsed);
        }
    }
    out
}

fn percentiles(values: &mut [Duration]) -> (Duration, Duration) {
    if values.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    values.sort();
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (at(0.50), at(0.99))
}

/// The app's webhook: a SET (JWS compact); the sequence number is in the notification's `customFields.value`.
async fn webhook(State(arrivals): State<Arrivals>, body: Bytes) -> StatusCode {
    let now = Instant::now();
    let Some(seq) = sequence_of_set(&body) else { return StatusCode::BAD_REQUEST };
    if let Ok(mut arrivals) = arrivals.lock() {
        arrivals.entry(seq).or_insert(now);
    }
    StatusCode::ACCEPTED
}

async fn baseline(body: Bytes) -> StatusCode {
    match serde_json::from_slice::<Value>(&body) {
        Ok(_) => StatusCode::ACCEPTED,
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

fn sequence_of_set(body: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(body).ok()?;
    let payload = text.split('.').nth(1)?;
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let events = claims["events"].as_object()?;
    let notification = events.values().next()?;
    let value = notification["notificationPayload"]["customFields"]["value"].as_str()?;
    value.strip_prefix("bench-")?.parse().ok()
}
