//! `cargo run --release --example consent_flows -- --workers 8 --seconds 20` (or `bench/consent-flows.sh`): a load
//! driver for complete consent flows, not part of CI.
//!
//! Starts a sandbox in this process (ephemeral loopback ports, one bank, frozen bank clock, file-backed stores in a
//! temporary directory as deployed, or in-memory ones with `--in-memory`),
//! registers a `sandbox`-profile client (client_secret_basic: the driver measures the flow, not client-assertion
//! signing), then runs N concurrent workers for D seconds, each doing complete flows: PAR -> GET /authorize ->
//! consent form -> the bank's login form -> account selection -> the bank's consent -> back to the gateway ->
//! confirm -> code exchange. Prints flows/s, p50/p99 per flow, the errors, and where a flow's time goes (mean time
//! per HTTP step, from sending the request to the response headers). It never talks to anything but 127.0.0.1.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use bankgate::{
    Sandbox, SandboxOptions,
    person::{self, LoginOutcome, LoginPlan, Person, Pkce},
};
use clap::Parser;
use serde_json::{Value, json};
use time::macros::datetime;

const REDIRECT: &str = "https://app.example/callback";

/// The allocator `bankgate` runs with (src/main.rs), so the sandbox in this process is measured as deployed: with
/// glibc's malloc its allocation and consolidation were about 9% of this driver's profile.
#[global_allocator]
static ALLOCATOR: heap::Heap = heap::Heap;

#[derive(Debug, Parser)]
#[command(about = "Complete consent flows against an in-process sandbox")]
struct Args {
    /// Concurrent workers, each running one flow at a time.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// How long to run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The bank the person chooses.
    #[arg(long, default_value = "continental")]
    bank: String,
    /// The test user; `user_mfa` adds the one-time-code page.
    #[arg(long, default_value = "user_good")]
    user: String,
    /// Run bank and gateway on in-memory stores instead of file-backed ones (in a temporary directory).
    #[arg(long)]
    in_memory: bool,
}

/// What one worker measured.
#[derive(Debug, Default)]
struct Tally {
    flows: Vec<Duration>,
    /// Step label -> (count, total time).
    steps: BTreeMap<String, (u64, Duration)>,
    errors: BTreeMap<String, u64>,
}

impl Tally {
    fn step(&mut self, label: String, elapsed: Duration) {
        let entry = self.steps.entry(label).or_default();
        entry.0 += 1;
        entry.1 += elapsed;
    }

    fn merge(&mut self, other: Tally) {
        self.flows.extend(other.flows);
        for (label, (count, total)) in other.steps {
            let entry = self.steps.entry(label).or_default();
            entry.0 += count;
            entry.1 += total;
        }
        for (error, count) in other.errors {
            *self.errors.entry(error).or_default() += count;
        }
    }
}

/// What every worker shares.
struct Setup {
    issuer: String,
    client_id: String,
    client_secret: String,
    origins: Vec<String>,
    app: reqwest::Client,
    browser: reqwest::Client,
    bank: String,
    user: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.workers > 0 && args.seconds > 0, "--workers and --seconds must be positive");
    certs::install_crypto_provider();
    let data_dir = (!args.in_memory).then(tempfile::tempdir).transpose()?;
    let options = SandboxOptions {
        customers: Some(100),
        banks: Some(vec![args.bank.clone()]),
        // A Wednesday afternoon, outside every bank's maintenance window; the bank clock stays there.
        start: Some(datetime!(2026-03-04 15:00 UTC)),
        ticking: false,
        ephemeral_ports: true,
        data_dir: data_dir.as_ref().map(|d| d.path().to_owned()),
        ..SandboxOptions::default()
    };
    let sandbox = Sandbox::start(options).await.context("starting the sandbox")?;
    let result = run(&sandbox, &args).await;
    sandbox.shutdown().await?;
    result
}

async fn run(sandbox: &Sandbox, args: &Args) -> anyhow::Result<()> {
    let issuer = sandbox.endpoints.gateway.as_ref().context("the sandbox runs no gateway")?.issuer.clone();
    let ca = reqwest::Certificate::from_pem(sandbox.pki.ca_pem().as_bytes())?;
    let app = reqwest::Client::builder().tls_certs_only([ca]).timeout(Duration::from_secs(30)).build()?;
    let registration = json!({
        "client_name": "Load Driver",
        "profile": "sandbox",
        "token_endpoint_auth_method": "client_secret_basic",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "purposes": ["personal_finance_management"],
    });
    let response = app.post(format!("{issuer}/register")).json(&registration).send().await?;
    anyhow::ensure!(response.status() == 201, "registration refused: {}", response.text().await?);
    let registered: Value = response.json().await?;
    let field = |name: &str| registered[name].as_str().map(str::to_owned).context("registration response");
    let mut origins = vec![issuer.clone()];
    origins.extend(sandbox.endpoints.banks.iter().map(|b| b.login.clone()));
    let setup = std::sync::Arc::new(Setup {
        client_id: field("client_id")?,
        client_secret: field("client_secret")?,
        issuer,
        origins,
        app,
        browser: person::browser(sandbox.pki.ca_pem())?,
        bank: args.bank.clone(),
        user: args.user.clone(),
    });

    eprintln!("{} workers for {} s, bank {}, user {}", args.workers, args.seconds, args.bank, args.user);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let workers: Vec<_> = (0..args.workers)
        .map(|_| {
            let setup = setup.clone();
            tokio::spawn(async move {
                let mut tally = Tally::default();
                while Instant::now() < deadline {
                    let begun = Instant::now();
                    match flow(&setup, &mut tally).await {
                        Ok(()) => tally.flows.push(begun.elapsed()),
                        Err(err) => *tally.errors.entry(format!("{err:#}")).or_default() += 1,
                    }
                }
                tally
            })
        })
        .collect();
    let mut tally = Tally::default();
    for worker in workers {
        tally.merge(worker.await?);
    }
    report(&tally, started.elapsed());
    Ok(())
}

/// One complete flow; every HTTP exchange is added to `tally.steps`.
async fn flow(setup: &Setup, tally: &mut Tally) -> anyhow::Result<()> {
    let pkce = Pkce::new()?;
    let details = json!([{"type": "fdx_consent", "dataClusters": ["ACCOUNT_BASIC", "TRANSACTIONS"],
        "durationType": "TIME_BOUND", "durationPeriod": 90, "lookbackPeriod": 365,
        "purposes": ["personal_finance_management"]}])
    .to_string();
    let par = [
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("state", "load"),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("authorization_details", details.as_str()),
    ];
    let begun = Instant::now();
    let response = setup
        .app
        .post(format!("{}/par", setup.issuer))
        .basic_auth(&setup.client_id, Some(&setup.client_secret))
        .form(&par)
        .send()
        .await?;
    tally.step("POST /par".into(), begun.elapsed());
    anyhow::ensure!(response.status() == 201, "PAR answered {}", response.status());
    let pushed: Value = response.json().await?;
    let request_uri = pushed["request_uri"].as_str().context("PAR without request_uri")?;

    let authorize = reqwest::Url::parse_with_params(
        &format!("{}/authorize", setup.issuer),
        [("client_id", setup.client_id.as_str()), ("request_uri", request_uri)],
    )?;
    let plan = LoginPlan { bank: Some(&setup.bank), ..LoginPlan::user(&setup.user) };
    let mut person = Person::with_browser(setup.browser.clone());
    let outcome = person.walk(authorize.as_str(), &plan, &setup.origins).await;
    for step in person.steps() {
        let side = if step.origin == setup.issuer { "gateway" } else { "bank" };
        tally.step(format!("{} {} ({side})", step.method, step.path), step.elapsed);
    }
    let code = match outcome? {
        outcome @ LoginOutcome::Redirected { .. } => match outcome.param("code") {
            Some(code) => code.to_owned(),
            None => anyhow::bail!("redirected without a code: error={:?}", outcome.param("error")),
        },
        LoginOutcome::Page { status, .. } => anyhow::bail!("the pages stopped at a {status} page"),
    };

    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", pkce.verifier.as_str()),
    ];
    let begun = Instant::now();
    let response = setup
        .app
        .post(format!("{}/token", setup.issuer))
        .basic_auth(&setup.client_id, Some(&setup.client_secret))
        .form(&exchange)
        .send()
        .await?;
    tally.step("POST /token".into(), begun.elapsed());
    anyhow::ensure!(response.status() == 200, "code exchange answered {}", response.status());
    let tokens: Value = response.json().await?;
    anyhow::ensure!(tokens["access_token"].is_string(), "no access token");
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn report(tally: &Tally, wall: Duration) {
    let mut flows = tally.flows.clone();
    flows.sort();
    let errors: u64 = tally.errors.values().sum();
    println!(
        "flows: {} ok, {errors} errors in {:.1} s = {:.1} flows/s; per flow p50 {:.1} ms, p99 {:.1} ms",
        flows.len(),
        wall.as_secs_f64(),
        flows.len() as f64 / wall.as_secs_f64(),
        ms(percentile(&flows, 50.0)),
        ms(percentile(&flows, 99.0)),
    );
    for (error, count) in &tally.errors {
        println!("  error x{count}: {error}");
    }
    let per_flow = flows.len().max(1) as f64;
    let mut steps: Vec<_> = tally.steps.iter().collect();
    steps.sort_by_key(|(_, (_, total))| std::cmp::Reverse(*total));
    let total: Duration = steps.iter().map(|(_, (_, t))| *t).sum();
    println!("where a flow's time goes (mean per step, share of all step time):");
    for (label, (count, time)) in steps {
        println!(
            "  {label:<44} {:>7.2} ms x{:.1}/flow  {:>5.1}%",
            ms(*time) / *count as f64,
            *count as f64 / per_flow,
            100.0 * time.as_secs_f64() / total.as_secs_f64().max(f64::EPSILON),
        );
    }
}
