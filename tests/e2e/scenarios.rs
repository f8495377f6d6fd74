//! The scenario runner end to end (issue 6): every file of `scenarios/library/` passes, each against its own
//! in-process system; every must-fail scenario under `scenarios/tests/failing/` fails, and its failure reads
//! exactly as its golden file `scenarios/tests/golden/failing/<name>.txt` says (`BANKGATE_UPDATE_GOLDEN=1`
//! rewrites them); the `bankgate scenario` command's exit codes and report files.

use bankgate::scenario::{RunOptions, play_one, run};
use scenarios::report::Outcome;
use std::path::{Path, PathBuf};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_library_scenario_passes() {
    let options =
        RunOptions { paths: vec![scenarios_dir().join("library")], jobs: 2, seed: None, target: None, progress: false };
    let report = run(&options).await;
    let failures: Vec<String> =
        report.scenarios.iter().filter(|s| s.outcome != Outcome::Passed).map(|s| s.console()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(report.passed >= 20, "the library holds at least 20 scenarios: {}", report.summary());
    assert_eq!(report.exit_code(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn must_fail_scenarios_fail_as_their_golden_files_say() {
    let root = scenarios_dir().join("tests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("failing"))
        .expect("scenarios/tests/failing exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "must-fail scenarios are there");
    let mut mismatches = Vec::new();
    for path in files {
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
        let label = format!("tests/failing/{name}.yaml");
        let text = std::fs::read_to_string(&path).expect("readable");
        let scenario = scenarios::parse(&label, &text).unwrap_or_else(|e| panic!("{label} must parse: {e:?}"));
        let report = play_one(&label, &scenario, None, None).await;
        assert_eq!(report.outcome, Outcome::Failed, "{label} must fail on an expectation: {}", report.console());
        let failed_step = report.steps.last().expect("the failing step is reported");
        assert_eq!(failed_step.outcome, Outcome::Failed, "{label}");
        assert!(!failed_step.exchanges.is_empty() || failed_step.kind == "repeat", "{label}: exchanges are recorded");
        let rendered = format!("{}\n", report.failure.unwrap_or_default());
        let golden = root.join("golden/failing").join(format!("{name}.txt"));
        mismatches.extend(scenarios::golden::compare(&golden, &rendered));
    }
    assert!(mismatches.is_empty(), "set BANKGATE_UPDATE_GOLDEN=1 to accept:\n{}", mismatches.join("\n"));
}

#[test]
fn the_scenario_command_tells_failures_parse_errors_and_broken_infrastructure_apart() {
    let bin = env!("CARGO_BIN_EXE_bankgate");
    let out = tempfile::tempdir().expect("temp dir");
    let tests = scenarios_dir().join("tests");
    let run = |args: &[&std::ffi::OsStr]| {
        let output = std::process::Command::new(bin).arg("scenario").arg("run").args(args).output().expect("runs");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    // A failed expectation: 1, with reports in every format.
    let junit = out.path().join("report.xml");
    let json = out.path().join("report.json");
    let html = out.path().join("report.html");
    let failing = tests.join("failing/expects-code-after-deny.yaml");
    let reports =
        [format!("junit={}", junit.display()), format!("json={}", json.display()), format!("html={}", html.display())];
    let mut args: Vec<&std::ffi::OsStr> = vec![failing.as_os_str()];
    for r in &reports {
        args.push("--report".as_ref());
        args.push(r.as_ref());
    }
    let (code, stdout, stderr) = run(&args);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("0 passed, 1 failed"), "{stdout}");
    assert!(stderr.contains("expects-code-after-deny.yaml:5:5: step 2 `consent`"), "{stderr}");
    let junit = std::fs::read_to_string(junit).expect("junit written");
    assert!(junit.contains("<testsuites tests=\"1\" failures=\"1\" errors=\"0\""), "{junit}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).expect("json written")).expect("JSON");
    assert_eq!(json["scenarios"][0]["outcome"], "failed");
    let steps = json["scenarios"][0]["steps"].as_array().expect("steps");
    assert!(steps[1]["exchanges"].as_array().is_some_and(|x| x.len() >= 5), "the person's pages are recorded");
    let html = std::fs::read_to_string(html).expect("html written");
    assert!(
        html.starts_with("<!doctype html>") && html.contains("FAIL") && !html.contains("<script"),
        "self-contained"
    );
    assert!(!html.contains("client_assertion=ey"), "secrets stay out of reports");
    // A file that does not parse: 2, with file:line:column and a hint.
    let invalid = tests.join("invalid/misspelt-key.yaml");
    let (code, _, stderr) = run(&[invalid.as_os_str()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("misspelt-key.yaml:9:7: error: unknown key `usr`"), "{stderr}");
    assert!(stderr.contains("hint: did you mean `user`?"), "{stderr}");
    // Nothing to run, or an unreadable target: 3.
    let missing = out.path().join("no-such-folder");
    let (code, _, stderr) = run(&[missing.as_os_str()]);
    assert_eq!(code, Some(3), "{stderr}");
    let library = scenarios_dir().join("library/mfa-login.yaml");
    let target = out.path().join("endpoints.json");
    let (code, _, stderr) = run(&[library.as_os_str(), "--target".as_ref(), target.as_os_str()]);
    assert_eq!(code, Some(3), "{stderr}");
    // The schema subcommand prints the checked-in schema.
    let schema = std::process::Command::new(bin).args(["scenario", "schema"]).output().expect("runs");
    let stored = std::fs::read_to_string(scenarios_dir().join("schema/scenario.schema.json")).expect("schema file");
    assert_eq!(String::from_utf8_lossy(&schema.stdout), stored);
}
