//! What a run produced, and its four renderings: console lines, JUnit XML (CI dashboards), JSON (tools) and one
//! self-contained HTML page (each step with its requests, responses and timings; no external script or style).
//!
//! The runner fills these types; nothing here does I/O. Secrets never reach a report: the runner records request
//! headers with `Authorization`, `DPoP` and cookies masked.

use serde::Serialize;
use std::fmt::Write;

/// How a scenario ended; the process exit code is the worst of them (FORMAT.md "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    /// An expectation did not hold (exit 1).
    Failed,
    /// The file does not parse or check (exit 2).
    Invalid,
    /// The system could not be started or reached, or I/O failed (exit 3).
    Broken,
}

impl Outcome {
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Passed => 0,
            Outcome::Failed => 1,
            Outcome::Invalid => 2,
            Outcome::Broken => 3,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Passed => "PASS",
            Outcome::Failed => "FAIL",
            Outcome::Invalid => "INVALID",
            Outcome::Broken => "BROKEN",
        }
    }
}

/// One HTTP exchange a step made.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Exchange {
    pub method: String,
    pub url: String,
    pub request_headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_body: Option<String>,
    pub status: u16,
    pub response_headers: Vec<(String, String)>,
    pub response_body: String,
    pub elapsed_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// Position: `3`, or `5.2` inside a repeat (round 2 of step 5 shows as `5[2].1`).
    pub index: String,
    pub kind: String,
    pub line: u32,
    pub column: u32,
    pub outcome: Outcome,
    pub elapsed_ms: u64,
    /// Attempts made (retries included).
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    pub exchanges: Vec<Exchange>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    pub file: String,
    pub name: String,
    pub outcome: Outcome,
    pub elapsed_ms: u64,
    /// Set when the scenario did not pass: the sentence (with file:line:column) a person reads first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    pub steps: Vec<StepReport>,
}

impl ScenarioReport {
    /// A scenario that never ran: its file is invalid or unreadable.
    pub fn not_run(file: &str, outcome: Outcome, failure: String) -> Self {
        Self {
            file: file.to_owned(),
            name: String::new(),
            outcome,
            elapsed_ms: 0,
            failure: Some(failure),
            steps: vec![],
        }
    }

    /// The console line of this scenario and, when it did not pass, its failure indented below.
    pub fn console(&self) -> String {
        let mut out = format!("{} {} ({} ms)", self.outcome.label(), self.file, self.elapsed_ms);
        if !self.name.is_empty() {
            let _ = write!(out, " — {}", self.name);
        }
        if let Some(failure) = &self.failure {
            for line in failure.lines() {
                let _ = write!(out, "\n    {line}");
            }
        }
        out
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub seed: Option<u64>,
    pub jobs: usize,
    pub elapsed_ms: u64,
    pub passed: usize,
    pub failed: usize,
    pub invalid: usize,
    pub broken: usize,
    pub scenarios: Vec<ScenarioReport>,
}

impl RunReport {
    pub fn new(seed: Option<u64>, jobs: usize, elapsed_ms: u64, scenarios: Vec<ScenarioReport>) -> Self {
        let count = |o: Outcome| scenarios.iter().filter(|s| s.outcome == o).count();
        Self {
            seed,
            jobs,
            elapsed_ms,
            passed: count(Outcome::Passed),
            failed: count(Outcome::Failed),
            invalid: count(Outcome::Invalid),
            broken: count(Outcome::Broken),
            scenarios,
        }
    }

    /// The worst outcome's exit code (0 when there were no scenarios at all is refused by the runner).
    pub fn exit_code(&self) -> i32 {
        self.scenarios.iter().map(|s| s.outcome).max().unwrap_or(Outcome::Passed).exit_code()
    }

    /// The closing console line, in the plain `N passed, N failed` shape CI tools read.
    pub fn summary(&self) -> String {
        format!(
            "scenarios: {} passed, {} failed ({} invalid, {} broken) in {:.1} s",
            self.passed,
            self.failed + self.invalid + self.broken,
            self.invalid,
            self.broken,
            self.elapsed_ms as f64 / 1000.0
        )
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// JUnit XML: one testsuite, one testcase per scenario, failures with their message and steps as system-out.
    pub fn junit(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let failures = self.failed;
        let errors = self.invalid + self.broken;
        let _ = writeln!(
            out,
            "<testsuites tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">",
            self.scenarios.len(),
            self.elapsed_ms as f64 / 1000.0
        );
        let _ = writeln!(
            out,
            "  <testsuite name=\"bankgate scenarios\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">",
            self.scenarios.len(),
            self.elapsed_ms as f64 / 1000.0
        );
        for s in &self.scenarios {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                xml(&s.file),
                xml(if s.name.is_empty() { &s.file } else { &s.name }),
                s.elapsed_ms as f64 / 1000.0
            );
            let failure = s.failure.as_deref().unwrap_or_default();
            let first = failure.lines().next().unwrap_or_default();
            match s.outcome {
                Outcome::Passed => out.push_str(">\n"),
                Outcome::Failed => {
                    let _ = writeln!(out, ">\n      <failure message=\"{}\">{}</failure>", xml(first), xml(failure));
                }
                Outcome::Invalid | Outcome::Broken => {
                    let _ = writeln!(
                        out,
                        ">\n      <error type=\"{}\" message=\"{}\">{}</error>",
                        s.outcome.label().to_lowercase(),
                        xml(first),
                        xml(failure)
                    );
                }
            }
            let steps: String = s
                .steps
                .iter()
                .map(|st| {
                    format!(
                        "{} {} {} (line {}, {} ms)\n",
                        st.outcome.label(),
                        st.index,
                        st.kind,
                        st.line,
                        st.elapsed_ms
                    )
                })
                .collect();
            let _ = writeln!(out, "      <system-out>{}</system-out>\n    </testcase>", xml(&steps));
        }
        out.push_str("  </testsuite>\n</testsuites>\n");
        out
    }

    /// One HTML page, no external resources: a summary table, then each scenario with its steps and exchanges.
    pub fn html(&self) -> String {
        let mut out = String::from(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>bankgate scenarios</title>\n<style>\n\
             body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}\n\
             td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}\n\
             .passed{color:#1a7f37}.failed,.invalid,.broken{color:#cf222e}pre{background:#f6f8fa;padding:.5em;\
             white-space:pre-wrap;max-height:20em;overflow:auto}details{margin:.3em 0}\n</style></head><body>\n",
        );
        let _ = writeln!(out, "<h1>bankgate scenarios</h1>\n<p>{}</p>", html(&self.summary()));
        out.push_str("<table><tr><th>Scenario</th><th>File</th><th>Outcome</th><th>Time</th></tr>\n");
        for (i, s) in self.scenarios.iter().enumerate() {
            let class = format!("{:?}", s.outcome).to_lowercase();
            let _ = writeln!(
                out,
                "<tr><td><a href=\"#s{i}\">{}</a></td><td>{}</td><td class=\"{class}\">{}</td><td>{} ms</td></tr>",
                html(&s.name),
                html(&s.file),
                s.outcome.label(),
                s.elapsed_ms
            );
        }
        out.push_str("</table>\n");
        for (i, s) in self.scenarios.iter().enumerate() {
            let class = format!("{:?}", s.outcome).to_lowercase();
            let _ = writeln!(
                out,
                "<section id=\"s{i}\"><h2 class=\"{class}\">{} {}</h2><p>{}</p>",
                s.outcome.label(),
                html(&s.name),
                html(&s.file)
            );
            if let Some(failure) = &s.failure {
                let _ = writeln!(out, "<pre class=\"{class}\">{}</pre>", html(failure));
            }
            for step in &s.steps {
                let class = format!("{:?}", step.outcome).to_lowercase();
                let _ = writeln!(
                    out,
                    "<details{}><summary class=\"{class}\">{} step {} <code>{}</code> (line {}) — {} ms, {} attempt(s)</summary>",
                    if step.outcome == Outcome::Passed { "" } else { " open" },
                    step.outcome.label(),
                    html(&step.index),
                    html(&step.kind),
                    step.line,
                    step.elapsed_ms,
                    step.attempts
                );
                if let Some(failure) = &step.failure {
                    let _ = writeln!(out, "<p class=\"{class}\">{}</p>", html(failure));
                }
                for x in &step.exchanges {
                    let headers =
                        |list: &[(String, String)]| list.iter().map(|(k, v)| format!("{k}: {v}\n")).collect::<String>();
                    let _ = writeln!(
                        out,
                        "<details><summary>{} {} → {} ({} ms)</summary><pre>{}{}</pre><pre>{}\n{}</pre></details>",
                        html(&x.method),
                        html(&x.url),
                        x.status,
                        x.elapsed_ms,
                        html(&headers(&x.request_headers)),
                        html(x.request_body.as_deref().unwrap_or_default()),
                        html(&headers(&x.response_headers)),
                        html(&x.response_body)
                    );
                }
                out.push_str("</details>\n");
            }
            out.push_str("</section>\n");
        }
        out.push_str("</body></html>\n");
        out
    }
}

fn xml(text: &str) -> String {
    text.chars()
        .filter(|c| matches!(c, '\t' | '\n' | '\r') || !c.is_control())
        .collect::<String>()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html(text: &str) -> String {
    xml(text).replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RunReport {
        let step = StepReport {
            index: "1".into(),
            kind: "request".into(),
            line: 4,
            column: 5,
            outcome: Outcome::Failed,
            elapsed_ms: 3,
            attempts: 1,
            failure: Some("expected status 200, got 403".into()),
            exchanges: vec![Exchange {
                method: "GET".into(),
                url: "https://x/<a>".into(),
                status: 403,
                ..Default::default()
            }],
        };
        let failed = ScenarioReport {
            file: "a&b.yaml".into(),
            name: "A <story>".into(),
            outcome: Outcome::Failed,
            elapsed_ms: 10,
            failure: Some("a&b.yaml:4:5: step 1 `request`: expected status 200, got 403".into()),
            steps: vec![step],
        };
        let invalid = ScenarioReport::not_run("c.yaml", Outcome::Invalid, "c.yaml:1:1: error: x".into());
        RunReport::new(Some(7), 2, 20, vec![failed, invalid])
    }

    #[test]
    fn every_rendering_escapes_and_counts() {
        let report = sample();
        assert_eq!(report.exit_code(), 2, "the worst outcome wins");
        assert_eq!(report.summary(), "scenarios: 0 passed, 2 failed (1 invalid, 0 broken) in 0.0 s");
        let junit = report.junit();
        assert!(junit.contains("failures=\"1\" errors=\"1\""), "{junit}");
        assert!(junit.contains("classname=\"a&amp;b.yaml\" name=\"A &lt;story&gt;\""), "{junit}");
        assert!(junit.contains("<error type=\"invalid\""), "{junit}");
        let html = report.html();
        assert!(html.contains("https://x/&lt;a&gt;") && !html.contains("<script") && !html.contains("href=\"http"));
        let json: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
        assert_eq!(json["scenarios"][0]["steps"][0]["exchanges"][0]["status"], 403);
        assert!(report.scenarios[0].console().starts_with("FAIL a&b.yaml (10 ms) — A <story>\n    a&b.yaml:4:5"));
    }
}
