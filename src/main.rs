//! The `bankgate` command line: `up` (the default), `bank`, `gateway --config FILE`, `certs init`, `scenario run`,
//! `scenario schema`.
//!
//! Thin on purpose: parse options, call the launcher in `bankgate::sandbox`, print what to do next, wait for
//! Ctrl-C or SIGTERM, shut down cleanly.

use anyhow::Context;
use bankgate::{Sandbox, SandboxOptions, sandbox};
use clap::{Args, Parser, Subcommand};
use mock_bank::ledger::users::{MFA_CODE, PASSWORD, TEST_USERS};
use std::path::PathBuf;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

#[derive(Debug, Parser)]
#[command(name = "bankgate", version, about = "Open-banking sandbox: a consent gateway in front of simulated US banks")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start every bank and the consent gateway (the default command).
    Up(RunArgs),
    /// Start one bank.
    Bank {
        /// Bank id: continental, liberty, summit or harbor.
        #[arg(long)]
        bank: String,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Run the consent gateway alone, in front of the banks named in a configuration file (see
    /// gateway.example.toml).
    Gateway {
        /// The gateway's TOML configuration file.
        #[arg(long, env = "BANKGATE_GATEWAY_CONFIG")]
        config: PathBuf,
    },
    /// Development PKI.
    Certs {
        #[command(subcommand)]
        command: CertsCommand,
    },
    /// QA scenario files (scenarios/FORMAT.md): play them, or print their JSON Schema.
    Scenario {
        #[command(subcommand)]
        command: ScenarioCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ScenarioCommand {
    /// Play scenario files, each against its own isolated in-process system (or one running deployment).
    ///
    /// Exit codes: 0 every scenario passed; 1 an expectation failed; 2 a scenario file does not parse or check
    /// (file:line:column, what is wrong, how to fix it); 3 broken infrastructure (the system could not be started
    /// or reached, a file or report could not be read or written).
    #[command(after_help = "Exit codes: 0 all passed, 1 an expectation failed, 2 parse/validation error in a \
                            scenario file, 3 broken infrastructure (could not start the system, I/O).")]
    Run {
        /// Scenario files, or folders whose *.yaml, *.yml and *.json files are played in name order.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Scenarios played at the same time.
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        /// Seed of every system, overriding each scenario's setup.seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Also write a report: junit=PATH, json=PATH or html=PATH (repeatable).
        #[arg(long = "report", value_name = "KIND=PATH")]
        reports: Vec<String>,
        /// Play against a running deployment (its DIR/endpoints.json) instead of in-process systems.
        #[arg(long)]
        target: Option<PathBuf>,
    },
    /// Print the JSON Schema of scenario files (scenarios/schema/scenario.schema.json).
    Schema,
}

#[derive(Debug, Subcommand)]
enum CertsCommand {
    /// Create (or renew) the CA and every server and client certificate in DIR/certs.
    Init {
        #[arg(long, env = "BANKGATE_DATA_DIR", default_value = ".bankgate")]
        data_dir: PathBuf,
    },
}

#[derive(Debug, Args, Default)]
struct RunArgs {
    /// Where certificates, bank stores, the admin token and endpoints.json live.
    #[arg(long, env = "BANKGATE_DATA_DIR", default_value = ".bankgate")]
    data_dir: PathBuf,
    /// Seed of every generated ledger: the same seed gives the same customers, accounts and transactions.
    #[arg(long, env = "BANKGATE_SEED", default_value_t = 42)]
    seed: u64,
    /// Customers per bank (default: each bank's profile, 1000). At least 7 (the test users).
    #[arg(long)]
    customers: Option<u32>,
    /// Let the OS choose every port (see endpoints.json for the result).
    #[arg(long)]
    ephemeral_ports: bool,
    /// Simulated start instant (RFC 3339) used on the first start; later starts keep the pinned one.
    #[arg(long, value_parser = parse_rfc3339)]
    start: Option<OffsetDateTime>,
    /// Keep simulated time still until moved through the admin API (without --start, a first start inside a
    /// bank's weekly maintenance window starts at the window's end).
    #[arg(long)]
    frozen_clock: bool,
    /// A bank profiles file replacing the shipped one.
    #[arg(long)]
    profiles: Option<PathBuf>,
    /// Requests per second each app may make on the gateway's FDX API (burst: twice that); 0 turns the limit off
    /// (load runs).
    #[arg(long, default_value_t = 50)]
    rate_limit: u32,
}

/// mimalloc instead of glibc's malloc (see the `heap` crate for why, and why not the `mimalloc` crate's wrapper).
#[global_allocator]
static ALLOCATOR: heap::Heap = heap::Heap;

fn parse_rfc3339(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| format!("expected an RFC 3339 instant like 2026-01-15T09:00:00Z: {e}"))
}

fn main() -> anyhow::Result<()> {
    certs::install_crypto_provider();
    let cli = Cli::parse();
    // Scenario runs start many short-lived systems: their start-up lines would drown the progress lines.
    let default_filter = if matches!(cli.command, Some(Command::Scenario { .. })) {
        "error"
    } else {
        "warn,bankgate=info,gateway=info,mock_bank=info"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        match cli.command.unwrap_or(Command::Up(RunArgs::default_from_env())) {
            Command::Up(run) => serve(run, None).await,
            Command::Bank { bank, run } => serve(run, Some(bank)).await,
            Command::Gateway { config } => serve_gateway(&config).await,
            Command::Certs { command: CertsCommand::Init { data_dir } } => certs_init(&data_dir),
            Command::Scenario { command: ScenarioCommand::Schema } => {
                print!("{}", scenarios::schema::scenario_schema());
                Ok(())
            }
            Command::Scenario { command: ScenarioCommand::Run { paths, jobs, seed, reports, target } } => {
                let code = scenario_run(paths, jobs, seed, &reports, target).await;
                std::process::exit(code)
            }
        }
    })
}

/// `bankgate scenario run`: the exit code (see the command's help).
async fn scenario_run(
    paths: Vec<PathBuf>,
    jobs: usize,
    seed: Option<u64>,
    reports: &[String],
    target: Option<PathBuf>,
) -> i32 {
    let mut outputs = Vec::new();
    for spec in reports {
        match spec.split_once('=') {
            Some((kind @ ("junit" | "json" | "html"), path)) if !path.is_empty() => {
                outputs.push((kind.to_owned(), PathBuf::from(path)));
            }
            _ => {
                eprintln!("bankgate: --report `{spec}`: write junit=PATH, json=PATH or html=PATH");
                return 2;
            }
        }
    }
    let options = bankgate::scenario::RunOptions { paths, jobs: jobs.max(1), seed, target, progress: true };
    let report = bankgate::scenario::run(&options).await;
    println!("{}", report.summary());
    let mut code = report.exit_code();
    for (kind, path) in outputs {
        let text = match kind.as_str() {
            "junit" => report.junit(),
            "json" => report.json(),
            _ => report.html(),
        };
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("bankgate: cannot write the {kind} report {}: {e}", path.display());
            code = code.max(3);
        }
    }
    code
}

impl RunArgs {
    /// The options of a bare `bankgate` (no subcommand): defaults, with the environment variables applied.
    fn default_from_env() -> Self {
        match Cli::try_parse_from(["bankgate", "up"]) {
            Ok(Cli { command: Some(Command::Up(run)) }) => run,
            _ => RunArgs { data_dir: PathBuf::from(".bankgate"), seed: 42, ..RunArgs::default() },
        }
    }
}

async fn serve(run: RunArgs, only_bank: Option<String>) -> anyhow::Result<()> {
    let options = SandboxOptions {
        data_dir: Some(run.data_dir.clone()),
        seed: run.seed,
        customers: run.customers,
        ephemeral_ports: run.ephemeral_ports,
        gateway: only_bank.is_none(),
        banks: only_bank.map(|id| vec![id]),
        start: run.start,
        ticking: !run.frozen_clock,
        profiles: run.profiles,
        oauth_clients: Vec::new(),
        tune_gateway: None,
        rate_limit: (run.rate_limit > 0).then(|| gateway::fdx::rate_limit::RateLimit {
            per_second: run.rate_limit,
            burst: run.rate_limit.saturating_mul(2),
        }),
        gateway_clock_at_start: false,
    };
    let sandbox = Sandbox::start(options).await?;
    print_banner(&sandbox, &run.data_dir);
    wait_for_stop_signal().await?;
    eprintln!("bankgate: shutting down");
    sandbox.shutdown().await
}

fn print_banner(sandbox: &Sandbox, data_dir: &std::path::Path) {
    let e = &sandbox.endpoints;
    let mut out = String::new();
    out.push_str("\nbankgate is running.\n");
    if let Some(gateway) = &e.gateway {
        out.push_str(&format!("\nConsent gateway: {}  (metadata {})\n", gateway.issuer, gateway.metadata));
    }
    out.push_str("\nBanks:\n");
    for bank in &e.banks {
        out.push_str(&format!(
            "  {:<12} {:<24} api {}  login {}  admin {}\n",
            bank.id, bank.display_name, bank.api, bank.login, bank.admin
        ));
    }
    out.push_str(&format!("\nTest users (password `{PASSWORD}` for all; MFA code `{MFA_CODE}`):\n"));
    for (name, persona) in TEST_USERS {
        out.push_str(&format!("  {name:<20} {persona:?}\n"));
    }
    out.push_str("  customerN            any other generated customer, N >= 7\n");
    out.push_str(
        "  login_error_<code>   login fails with that OAuth error (e.g. login_error_temporarily_unavailable)\n",
    );
    out.push_str("  data_error_<status>_<fdx code>   data calls fail with that error (e.g. data_error_503_503)\n");
    if let Some(first) = e.banks.first() {
        out.push_str(&format!(
            "\nTry (the admin API of {}):\n  curl --cacert {} -H \"Authorization: Bearer $(cat {}/admin-token)\" {}/admin/customers/user_good/accounts\n",
            first.display_name,
            e.ca_cert.display(),
            data_dir.display(),
            first.admin
        ));
    }
    if let (Some(gateway), Some(client)) = (&e.gateway, &sandbox.sandbox_client) {
        // Issue 3's tour: the sandbox-only consent shortcut, then a call that reads the consent back.
        let curl = format!(
            "curl --cacert {} -u {}:$(cat {}/gateway/sandbox-app-secret)",
            e.ca_cert.display(),
            client.client_id,
            data_dir.display()
        );
        out.push_str(&format!(
            "\nTry the sandbox consent shortcut (sandbox profile only; public test credentials, no browser):\n  \
             {curl} -H 'content-type: application/json' \\\n    \
             -d '{{\"bank\":\"continental\",\"username\":\"user_good\",\"password\":\"pass_good\"}}' {issuer}/sandbox/consents\n  \
             {curl} -d token=ACCESS_TOKEN_FROM_ABOVE {issuer}/introspect\n",
            issuer = gateway.issuer
        ));
    }
    out.push_str(&format!(
        "\nAddresses, CA, admin token and the sandbox app's secret: {}/endpoints.json. Stop with Ctrl-C.\n",
        data_dir.display()
    ));
    println!("{out}");
}

async fn wait_for_stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("waiting for Ctrl-C")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    Ok(())
}

/// `bankgate gateway --config FILE`: the gateway alone, on the wall clock, until Ctrl-C or SIGTERM.
async fn serve_gateway(config_path: &std::path::Path) -> anyhow::Result<()> {
    let loaded = gateway::config_file::load(config_path)
        .with_context(|| format!("gateway configuration {}", config_path.display()))?;
    if let gateway::config::StoreLocation::DataDir(dir) = &loaded.config.store {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let clock = std::sync::Arc::new(gateway::config::SystemClock);
    let running = gateway::server::start_with_banks(loaded.config, loaded.tls, clock, loaded.banks)
        .await
        .context("starting the gateway")?;
    let issuer = running.issuer().to_owned();
    let mut out = format!(
        "\nbankgate gateway is running.\n\nConsent gateway: {issuer}  (metadata {issuer}/.well-known/oauth-authorization-server)\n"
    );
    for bank in running.state.banks.iter().map(|client| client.bank()) {
        let (id, name, login, api) = (bank.id(), bank.display_name(), bank.issuer(), bank.api());
        out.push_str(&format!("  bank {id:<12} {name:<24} login {login}  api {api}\n"));
    }
    out.push_str("\nStop with Ctrl-C.\n");
    println!("{out}");
    wait_for_stop_signal().await?;
    eprintln!("bankgate: shutting down");
    running.shutdown().await
}

fn certs_init(data_dir: &std::path::Path) -> anyhow::Result<()> {
    let profiles = mock_bank::profile::load_profiles(None)?;
    let mut servers: Vec<&str> = profiles.iter().map(|p| p.id.as_str()).collect();
    servers.push("gateway");
    let mut clients = vec![sandbox::GATEWAY_CLIENT];
    clients.extend(sandbox::SAMPLE_APP_CLIENTS);
    let report = certs::init_dir(&data_dir.join("certs"), &servers, &clients)?;
    println!("{report}");
    Ok(())
}
