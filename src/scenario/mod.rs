//! The scenario runner (`bankgate scenario run`): finds scenario files, parses them (crate `scenarios`), plays
//! each against its own isolated in-process system (or one running deployment, `--target`), `--jobs` at a time,
//! and reports. Exit codes (FORMAT.md "Exit codes"): 0 all passed, 1 an expectation failed, 2 a file does not
//! parse or check, 3 broken infrastructure.
//!
//! Event steps use a webhook receiver on loopback started per scenario ([`webhooks`]), never shared.
//!
//! Each in-process system is the smallest that serves its scenario: only the banks its setup names, 8 customers
//! per bank unless it asks for more, clocks frozen at its start instant. The same seed gives the same system.

pub mod keys;
pub mod play;
pub mod system;
pub mod webhooks;

use scenarios::report::{Outcome, RunReport, ScenarioReport};
use scenarios::{Diagnostic, Scenario};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use system::System;

/// The longest one scenario may take before it is reported broken.
pub const SCENARIO_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Files, or folders whose `*.yaml`, `*.yml` and `*.json` files are played (sorted by name).
    pub paths: Vec<PathBuf>,
    pub jobs: usize,
    /// Overrides each scenario's `setup.seed`.
    pub seed: Option<u64>,
    /// A running deployment's endpoints.json instead of in-process systems.
    pub target: Option<PathBuf>,
    /// One progress line per finished scenario on stderr.
    pub progress: bool,
}

/// The scenario files under `paths`, in a stable order; unreadable paths are reported as broken.
pub fn discover(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<ScenarioReport>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        if path.is_dir() {
            match std::fs::read_dir(path) {
                Ok(entries) => {
                    let mut found: Vec<PathBuf> = entries
                        .filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|p| p.is_file() && is_scenario_file(p))
                        .collect();
                    found.sort();
                    files.extend(found);
                }
                Err(e) => problems.push(ScenarioReport::not_run(
                    &path.display().to_string(),
                    Outcome::Broken,
                    format!("{}: cannot read the folder: {e}", path.display()),
                )),
            }
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            problems.push(ScenarioReport::not_run(
                &path.display().to_string(),
                Outcome::Broken,
                format!("{}: no such file or folder", path.display()),
            ));
        }
    }
    (files, problems)
}

fn is_scenario_file(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json"))
}

/// Read and parse one file: the scenario, or the report of why it cannot run.
pub fn load(path: &Path) -> Result<Scenario, ScenarioReport> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ScenarioReport::not_run(&file, Outcome::Broken, format!("{file}: cannot read the file: {e}")))?;
    scenarios::parse(&file, &text).map_err(|diagnostics| {
        let text = diagnostics.iter().map(Diagnostic::to_string).collect::<Vec<_>>().join("\n");
        ScenarioReport::not_run(&file, Outcome::Invalid, text)
    })
}

/// Run every scenario under `options.paths`.
pub async fn run(options: &RunOptions) -> RunReport {
    let started = Instant::now();
    let (files, mut reports) = discover(&options.paths);
    if files.is_empty() && reports.is_empty() {
        reports.push(ScenarioReport::not_run(
            "(none)",
            Outcome::Broken,
            "no scenario files (*.yaml, *.yml, *.json) were found".into(),
        ));
    }
    let target = match &options.target {
        Some(path) => match System::target(path) {
            Ok(system) => Some(Arc::new(system)),
            Err(e) => {
                reports.push(ScenarioReport::not_run(
                    &path.display().to_string(),
                    Outcome::Broken,
                    format!("cannot use the target: {e:#}"),
                ));
                return RunReport::new(options.seed, options.jobs, started.elapsed().as_millis() as u64, reports);
            }
        },
        None => None,
    };
    let progress = Arc::new(Progress::new(options.progress, files.len()));
    let semaphore = Arc::new(tokio::sync::Semaphore::new(options.jobs.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut slots: Vec<Option<ScenarioReport>> = Vec::new();
    for (index, path) in files.into_iter().enumerate() {
        slots.push(None);
        let scenario = match load(&path) {
            Ok(s) => s,
            Err(report) => {
                progress.finished(&report);
                slots[index] = Some(report);
                continue;
            }
        };
        let (semaphore, target, seed, progress) = (semaphore.clone(), target.clone(), options.seed, progress.clone());
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            let file = path.display().to_string();
            progress.started(&file);
            let report = match tokio::time::timeout(SCENARIO_TIMEOUT, play_one(&file, &scenario, seed, target)).await {
                Ok(report) => report,
                Err(_) => ScenarioReport {
                    file: file.clone(),
                    name: scenario.name.clone(),
                    outcome: Outcome::Broken,
                    elapsed_ms: SCENARIO_TIMEOUT.as_millis() as u64,
                    failure: Some(format!(
                        "{file}: the scenario did not finish within {} s",
                        SCENARIO_TIMEOUT.as_secs()
                    )),
                    steps: vec![],
                },
            };
            progress.finished(&report);
            (index, report)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, report)) => slots[index] = Some(report),
            Err(e) => reports.push(ScenarioReport::not_run(
                "(runner)",
                Outcome::Broken,
                format!("a scenario task failed: {e}"),
            )),
        }
    }
    progress.close();
    reports.extend(slots.into_iter().flatten());
    RunReport::new(options.seed, options.jobs, started.elapsed().as_millis() as u64, reports)
}

/// Progress on stderr (FORMAT.md "Running"). On a terminal: one status line, redrawn in place,
/// `[done/total] N passed, M failed, running: <files>`, with only the FAIL / INVALID / BROKEN lines (and their
/// messages) printed above it. Elsewhere (pipes, CI logs, tests): one line per finished scenario, as before.
struct Progress {
    enabled: bool,
    terminal: bool,
    state: std::sync::Mutex<ProgressState>,
}

#[derive(Default)]
struct ProgressState {
    total: usize,
    done: usize,
    passed: usize,
    failed: usize,
    running: Vec<String>,
    drawn: bool,
}

/// Return to the start of the line and clear it (ECMA-48 EL, "erase in line", whole line).
const CLEAR_LINE: &str = "\r\x1b[2K";

impl Progress {
    fn new(enabled: bool, total: usize) -> Self {
        use std::io::IsTerminal;
        let terminal = enabled && std::io::stderr().is_terminal();
        Progress { enabled, terminal, state: std::sync::Mutex::new(ProgressState { total, ..Default::default() }) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ProgressState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn started(&self, file: &str) {
        if !self.terminal {
            return;
        }
        let mut state = self.state();
        state.running.push(short_name(file));
        Self::draw(&mut state);
    }

    fn finished(&self, report: &ScenarioReport) {
        if !self.enabled {
            return;
        }
        if !self.terminal {
            eprintln!("{}", report.console());
            return;
        }
        let mut state = self.state();
        let name = short_name(&report.file);
        if let Some(at) = state.running.iter().position(|f| *f == name) {
            state.running.remove(at);
        }
        state.done += 1;
        if report.outcome == Outcome::Passed {
            state.passed += 1;
        } else {
            state.failed += 1;
            eprintln!("{CLEAR_LINE}{}", report.console());
            state.drawn = false;
        }
        Self::draw(&mut state);
    }

    /// Clear the status line so the summary on stdout starts on a clean line.
    fn close(&self) {
        let mut state = self.state();
        if self.terminal && state.drawn {
            eprint!("{CLEAR_LINE}");
            state.drawn = false;
        }
    }

    fn draw(state: &mut ProgressState) {
        use std::io::Write;
        let running = if state.running.is_empty() { "-".to_owned() } else { state.running.join(", ") };
        let line = format!(
            "[{}/{}] {} passed, {} failed, running: {running}",
            state.done, state.total, state.passed, state.failed
        );
        // A line wider than the terminal would wrap, and `\r` would then redraw only its last row.
        let width = std::env::var("COLUMNS").ok().and_then(|c| c.parse::<usize>().ok()).unwrap_or(80).max(20);
        let line = if line.chars().count() < width {
            line
        } else {
            line.chars().take(width - 2).chain(std::iter::once('…')).collect()
        };
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "{CLEAR_LINE}{line}");
        let _ = stderr.flush();
        state.drawn = true;
    }
}

/// The file name of a scenario path, for the status line.
fn short_name(file: &str) -> String {
    Path::new(file).file_name().map_or_else(|| file.to_owned(), |n| n.to_string_lossy().into_owned())
}

/// Start (or reuse) a system and play one scenario on it.
pub async fn play_one(
    file: &str,
    scenario: &Scenario,
    seed: Option<u64>,
    target: Option<Arc<System>>,
) -> ScenarioReport {
    let started = Instant::now();
    let mut report = ScenarioReport {
        file: file.to_owned(),
        name: scenario.name.clone(),
        outcome: Outcome::Passed,
        elapsed_ms: 0,
        failure: None,
        steps: vec![],
    };
    let setup = &scenario.setup;
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    let start = time::OffsetDateTime::parse(setup.clock.as_deref().unwrap_or(system::DEFAULT_START), rfc3339)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let banks =
        if setup.banks.is_empty() { vec![scenarios::parse::DEFAULT_BANK.to_owned()] } else { setup.banks.clone() };
    let (owned, system) = match target {
        Some(system) => (None, system),
        None => {
            let seed = seed.or(setup.seed).unwrap_or(42);
            match System::start(seed, banks, setup.customers.unwrap_or(system::DEFAULT_CUSTOMERS), start).await {
                Ok(system) => {
                    let system = Arc::new(system);
                    (Some(system.clone()), system)
                }
                Err(e) => {
                    report.outcome = Outcome::Broken;
                    report.failure = Some(format!("{file}: cannot start the system: {e:#}"));
                    report.elapsed_ms = started.elapsed().as_millis() as u64;
                    return report;
                }
            }
        }
    };
    // Against a target, the simulated now is the first bank's clock; in-process it is `start`.
    let start = match &owned {
        Some(_) => start,
        None => match system.bank_clock().await {
            Ok(now) => now,
            Err(e) => {
                report.outcome = Outcome::Broken;
                report.failure = Some(format!("{file}: cannot read the target's clock: {e:#}"));
                report.elapsed_ms = started.elapsed().as_millis() as u64;
                return report;
            }
        },
    };
    let result = async {
        let mut player = play::Player::new(&system, file, start, setup.vars.clone().into_iter().collect())
            .map_err(|e| (Outcome::Broken, format!("{file}: {e:#}")))?;
        for (bank, faults) in &setup.faults {
            player.setup_faults(bank, faults).await.map_err(|e| match e {
                play::StepError::Failed(m) => (Outcome::Failed, format!("{file}: setup.faults of `{bank}`: {m}")),
                play::StepError::Broken(m) => (Outcome::Broken, format!("{file}: setup.faults of `{bank}`: {m}")),
            })?;
        }
        for (i, client) in setup.clients.iter().enumerate() {
            let name = &client.name;
            player.setup_client(client).await.map_err(|e| match e {
                play::StepError::Failed(m) => (Outcome::Failed, format!("{file}: setup.clients[{i}] `{name}`: {m}")),
                play::StepError::Broken(m) => (Outcome::Broken, format!("{file}: setup.clients[{i}] `{name}`: {m}")),
            })?;
        }
        let outcome = player.play(&scenario.steps, "").await;
        report.steps = std::mem::take(&mut player.reports);
        outcome
    }
    .await;
    if let Err((outcome, failure)) = result {
        report.outcome = outcome;
        report.failure = Some(failure);
    }
    drop(system);
    if let Some(system) = owned.and_then(|s| Arc::try_unwrap(s).ok())
        && let Err(e) = system.shutdown().await
        && report.outcome == Outcome::Passed
    {
        report.outcome = Outcome::Broken;
        report.failure = Some(format!("{file}: the system did not shut down cleanly: {e:#}"));
    }
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    report
}
