//! Reading a scenario file: YAML (serde-saphyr) into [`crate::model`], then the checks the types cannot express
//! (names used before they are defined, banks outside the setup, durations, paths). No I/O: the caller reads the
//! file and passes its text, so the same function serves the CLI, the tests and an editor integration.
//!
//! Every problem is a [`Diagnostic`]: `file:line:column`, what is wrong, and how to fix it (Hurl's rule).

use crate::jsonpath::JsonPath;
use crate::model::{Assertion, Capture, EventFilter, Expect, NOTIFICATION_TYPES, Scenario, Spanned, Step, ValueExpect};
use std::collections::BTreeSet;
use std::fmt;

/// The banks a sandbox can run (mock-bank/profiles/banks.toml).
pub const KNOWN_BANKS: [&str; 4] = ["continental", "liberty", "summit", "harbor"];
/// The bank a scenario gets when its setup names none.
pub const DEFAULT_BANK: &str = "continental";

/// Longest `within` of an `expect_webhook` (wall time).
pub const MAX_WEBHOOK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);
/// Longest `for` of an `expect_no_webhook` (wall time: the whole library must stay fast).
pub const MAX_QUIET_WATCH: std::time::Duration = std::time::Duration::from_secs(10);

/// One problem in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
    /// The offending source line, when known.
    pub source_line: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}:{}:{}: error: {}", self.file, self.line, self.column, self.message)?;
        if let Some(source) = &self.source_line {
            let gutter = self.line.to_string().len();
            writeln!(f, "{:gutter$} |", "")?;
            writeln!(f, "{} | {}", self.line, source)?;
            let pad = " ".repeat(self.column.saturating_sub(1) as usize);
            writeln!(f, "{:gutter$} | {pad}^", "")?;
        }
        write!(f, "  hint: {}", self.hint)
    }
}

/// Parse and check `text`, read from `file` (as it should be shown in messages).
pub fn parse(file: &str, text: &str) -> Result<Scenario, Vec<Diagnostic>> {
    let lines: Vec<&str> = text.lines().collect();
    let at = |line: u32, column: u32, message: String, hint: String| Diagnostic {
        file: file.to_owned(),
        line,
        column,
        message,
        hint,
        source_line: lines.get(line.saturating_sub(1) as usize).map(|l| (*l).to_owned()),
    };
    let scenario: Scenario = match serde_saphyr::from_str(text) {
        Ok(scenario) => scenario,
        Err(error) => {
            let (line, column) = error.location().map_or((1, 1), |l| (l.line() as u32, l.column() as u32));
            let display = error.to_string();
            let first = display.lines().next().unwrap_or_default();
            let message = first.split_once(": ").map(|(_, rest)| rest).unwrap_or(first);
            let message =
                message.split_once(": ").filter(|(head, _)| head.starts_with("line ")).map_or(message, |(_, m)| m);
            let (message, hint) = explain(message);
            return Err(vec![at(line, column, message, hint)]);
        }
    };
    let mut checker = Checker { diagnostics: Vec::new(), clients: BTreeSet::new(), grants: BTreeSet::new() };
    let banks: Vec<String> =
        if scenario.setup.banks.is_empty() { vec![DEFAULT_BANK.to_owned()] } else { scenario.setup.banks.clone() };
    // Setup problems point at the `setup:` line (or the first line when there is none).
    let setup_line = lines.iter().position(|l| l.starts_with("setup:")).map_or(1, |i| i as u32 + 1);
    let setup_problem = |message: String, hint: &str| at(setup_line, 1, message, hint.to_owned());
    for bank in &scenario.setup.banks {
        if !KNOWN_BANKS.contains(&bank.as_str()) {
            checker.diagnostics.push(setup_problem(
                format!("setup.banks names an unknown bank `{bank}`"),
                &format!("the banks are: {}", KNOWN_BANKS.join(", ")),
            ));
        }
    }
    for bank in scenario.setup.faults.keys() {
        if !banks.contains(bank) {
            checker.diagnostics.push(setup_problem(
                format!("setup.faults names bank `{bank}`, which setup.banks does not start"),
                "add the bank to setup.banks, or remove its faults",
            ));
        }
    }
    if scenario.setup.customers.is_some_and(|c| c < 7) {
        checker.diagnostics.push(setup_problem(
            "setup.customers is below 7".into(),
            "every bank needs at least its seven test users: write 7 or more (default 8)",
        ));
    }
    if let Some(clock) = &scenario.setup.clock
        && time::OffsetDateTime::parse(clock, &time::format_description::well_known::Rfc3339).is_err()
    {
        checker.diagnostics.push(setup_problem(
            format!("setup.clock `{clock}` is not an RFC 3339 instant"),
            "write an instant such as 2026-03-04T15:00:00Z",
        ));
    }
    if scenario.steps.is_empty() {
        checker.diagnostics.push(setup_problem(
            "the scenario has no steps".into(),
            "add a `steps:` list with at least one step (FORMAT.md lists them)",
        ));
    }
    // `setup.clients` register before the first step: their names are defined for every step.
    for client in &scenario.setup.clients {
        checker.clients.insert(client.name.clone());
    }
    checker.steps(&scenario.steps, &banks, &at);
    if checker.diagnostics.is_empty() { Ok(scenario) } else { Err(checker.diagnostics) }
}

/// serde's message -> ours, with a hint.
fn explain(message: &str) -> (String, String) {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let allowed = expected.trim_start_matches(", expected one of ").trim_start_matches(", expected ");
        let hint = match closest(field, allowed) {
            Some(best) => format!("did you mean `{best}`? The keys allowed here are: {allowed}"),
            None if allowed.contains("there are no fields") => "this map takes no keys here".to_owned(),
            None => format!("the keys allowed here are: {allowed}"),
        };
        return (format!("unknown key `{field}`"), hint);
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (variant, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let allowed = expected.trim_start_matches(", expected one of ").trim_start_matches(", expected ");
        let hint = match closest(variant, allowed) {
            Some(best) => format!("did you mean `{best}`? Allowed: {allowed}"),
            None => format!("allowed: {allowed}"),
        };
        let what = if allowed.contains("register_client") { "step" } else { "value" };
        return (format!("unknown {what} `{variant}`"), hint);
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return (
            format!("missing key `{field}`"),
            format!("add `{field}: ...` to this map (scenarios/FORMAT.md says what it takes)"),
        );
    }
    if message.contains("untagged enum") {
        let hint = if message.contains("StatusExpect") {
            "write a status code (200) or a list of them ([200, 201])"
        } else if message.contains("CountExpect") {
            "write a number (3) or bounds ({min: 1, max: 5})"
        } else if message.contains("Capture") {
            "write a JSON path ($.accounts[0].accountId) or a map {path | header, count, add, optional}"
        } else if message.contains("ValueExpect") {
            "write the expected text, or a map of checks (equals, starts_with, contains, exists)"
        } else {
            "see scenarios/FORMAT.md for the shapes this key takes"
        };
        return ("this value has none of the shapes allowed here".to_owned(), hint.to_owned());
    }
    if message.starts_with("expected string") {
        return (
            "expected text here".to_owned(),
            "write plain text; quote it (\"...\") when it starts with [, {, *, &, ! or contains `: `".to_owned(),
        );
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, "another type"));
        return (format!("found {found} where {expected} belongs"), format!("write {expected} here"));
    }
    (message.to_owned(), "see scenarios/FORMAT.md for the format".to_owned())
}

/// The allowed word nearest to `word` (edit distance at most 3), if any.
fn closest<'a>(word: &str, allowed: &'a str) -> Option<&'a str> {
    allowed
        .split(", ")
        .map(|a| a.trim_matches('`'))
        .map(|a| (edit_distance(word, a), a))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let old = row[j + 1];
            row[j + 1] = (old + 1).min(row[j] + 1).min(prev + usize::from(ca != *cb));
            prev = old;
        }
    }
    row[b.len()]
}

struct Checker {
    diagnostics: Vec<Diagnostic>,
    clients: BTreeSet<String>,
    grants: BTreeSet<String>,
}

impl Checker {
    fn steps(
        &mut self,
        steps: &[Spanned<Step>],
        banks: &[String],
        at: &dyn Fn(u32, u32, String, String) -> Diagnostic,
    ) {
        for spanned in steps {
            let (line, column) = (spanned.referenced.line() as u32, spanned.referenced.column() as u32);
            let mut problems: Vec<(String, String)> = Vec::new();
            let bank = |name: &str, problems: &mut Vec<(String, String)>| {
                if !banks.iter().any(|b| b == name) {
                    problems.push((
                        format!("bank `{name}` is not started by this scenario"),
                        format!("add `{name}` to setup.banks (now: {})", banks.join(", ")),
                    ));
                }
            };
            let client = |this: &Self, name: &str, problems: &mut Vec<(String, String)>| {
                if !this.clients.contains(name) {
                    problems.push((
                        format!("client `{name}` is used before a `register_client` step names it"),
                        format!("add `- register_client: {{as: {name}}}` before this step, or fix the name"),
                    ));
                }
            };
            let grant = |this: &Self, name: &str, problems: &mut Vec<(String, String)>| {
                if !this.grants.contains(name) {
                    problems.push((
                        format!("grant `{name}` is used before a `consent` step creates it (`as: {name}`)"),
                        "add a `consent` step with that `as:` name before this step, or fix the name".to_owned(),
                    ));
                }
            };
            let duration = |text: &str, what: &str, problems: &mut Vec<(String, String)>| {
                if crate::duration::parse(text).is_none() {
                    problems.push((format!("{what} `{text}` is not a duration"), crate::duration::HINT.to_owned()));
                }
            };
            match &spanned.value {
                Step::RegisterClient(r) => {
                    self.clients.insert(r.name.clone());
                }
                Step::Consent(c) => {
                    client(self, &c.client, &mut problems);
                    bank(&c.bank, &mut problems);
                    self.grants.insert(c.name.clone());
                }
                Step::Exchange(g) | Step::Refresh(g) => grant(self, &g.grant, &mut problems),
                Step::Request(r) => {
                    use crate::model::RequestAuth;
                    let auth = r.auth.unwrap_or(if r.grant.is_some() { RequestAuth::Grant } else { RequestAuth::None });
                    match auth {
                        RequestAuth::Grant | RequestAuth::Stolen | RequestAuth::Thief => match &r.grant {
                            Some(g) => grant(self, g, &mut problems),
                            None => problems.push((
                                "this request uses a grant's token but names no `grant`".into(),
                                "add `grant: NAME` (a consent step's `as:`), or `auth: none`".into(),
                            )),
                        },
                        RequestAuth::Management => {
                            match (&r.client, &r.grant) {
                                (Some(c), _) => client(self, c, &mut problems),
                                (None, Some(g)) => grant(self, g, &mut problems),
                                (None, None) => problems.push((
                                    "a management request needs the app it acts for".into(),
                                    "add `client: NAME` (a register_client step's `as:`)".into(),
                                )),
                            }
                            if r.scope.is_none() {
                                problems.push((
                                    "a management request needs a `scope`".into(),
                                    "add e.g. `scope: consent_management` or `scope: grant_management_query`".into(),
                                ));
                            }
                        }
                        RequestAuth::None => {}
                    }
                    self.expect(&r.expect, &mut problems);
                    self.captures(r.capture.values(), &mut problems);
                    if let Some(retry) = &r.retry {
                        if retry.times == 0 || retry.times > 100 {
                            problems.push((
                                format!("retry.times is {}", retry.times),
                                "retries are bounded: write 1 to 100".into(),
                            ));
                        }
                        if let Some(interval) = &retry.interval {
                            duration(interval, "retry.interval", &mut problems);
                        }
                    }
                }
                Step::BankAdmin(b) => {
                    bank(&b.bank, &mut problems);
                    if !b.path.starts_with("/admin/") {
                        problems.push((
                            format!("bank_admin path `{}` is not under /admin/", b.path),
                            "write the admin API path, e.g. /admin/customers/user_good/accounts".into(),
                        ));
                    }
                    self.expect(&b.expect, &mut problems);
                    self.captures(b.capture.values(), &mut problems);
                }
                Step::AdvanceClock(by) => duration(by, "advance_clock", &mut problems),
                Step::InjectTransaction(i) => {
                    bank(&i.bank, &mut problems);
                    if !matches!(i.direction.as_str(), "debit" | "credit") {
                        problems.push((
                            format!("direction `{}` is neither debit nor credit", i.direction),
                            "write `direction: debit` (money out) or `direction: credit` (money in)".into(),
                        ));
                    }
                }
                Step::RaiseFraud(f) => bank(&f.bank, &mut problems),
                Step::SetFaults(f) => bank(&f.bank, &mut problems),
                Step::ClearFaults(f) => bank(&f.bank, &mut problems),
                Step::Outage(o) => {
                    bank(&o.bank, &mut problems);
                    duration(&o.duration, "outage `for`", &mut problems);
                    if let Some(from) = &o.from {
                        duration(from, "outage `from`", &mut problems);
                    }
                }
                Step::Revoke(r) => grant(self, &r.grant, &mut problems),
                Step::Dashboard(d) => {
                    bank(&d.bank, &mut problems);
                    self.assertions(&d.expect, &mut problems);
                    self.captures(d.capture.values(), &mut problems);
                }
                Step::Check(list) => {
                    for a in list {
                        if a.value.is_none() {
                            problems.push((
                                "a `check` assertion needs a `value`".into(),
                                "write e.g. `- {value: \"{{total}}\", gte: 100}`".into(),
                            ));
                        }
                    }
                    self.assertions(list, &mut problems);
                }
                Step::Repeat(r) => {
                    match (r.times, &r.while_set, r.max) {
                        (Some(t), None, _) if (1..=1000).contains(&t) => {}
                        (None, Some(_), Some(m)) if (1..=1000).contains(&m) => {}
                        (Some(_), Some(_), _) => problems.push((
                            "repeat has both `times` and `while`".into(),
                            "use `times: N` for a fixed count, or `while: VAR` with `max: N`".into(),
                        )),
                        (None, Some(_), _) => problems.push((
                            "repeat with `while` needs `max` (1 to 1000)".into(),
                            "loops are bounded: add `max: N`".into(),
                        )),
                        _ => problems.push((
                            "repeat needs `times` (1 to 1000) or `while` with `max`".into(),
                            "write `times: 3`, or `while: next_page` and `max: 50`".into(),
                        )),
                    }
                    self.steps(&r.steps, banks, at);
                }
                Step::Subscribe(sub) => {
                    grant(self, &sub.grant, &mut problems);
                    for kind in &sub.types {
                        notification_type(kind, &mut problems);
                    }
                }
                Step::ExpectWebhook(w) => {
                    client(self, &w.client, &mut problems);
                    bounded(&w.within, "within", MAX_WEBHOOK_WAIT, &mut problems);
                    filter(w.filter(), &mut problems);
                    self.assertions(&w.json, &mut problems);
                    self.captures(w.capture.values(), &mut problems);
                }
                Step::ExpectNoWebhook(w) => {
                    client(self, &w.client, &mut problems);
                    bounded(&w.duration, "for", MAX_QUIET_WATCH, &mut problems);
                    filter(w.filter(), &mut problems);
                }
            }
            for (message, hint) in problems {
                self.diagnostics.push(at(line, column, format!("step `{}`: {message}", spanned.value.kind()), hint));
            }
        }
    }

    fn expect(&self, expect: &Expect, problems: &mut Vec<(String, String)>) {
        self.assertions(&expect.json, problems);
        if let Some(within) = &expect.within
            && crate::duration::parse(within).is_none()
        {
            problems.push((format!("expect.within `{within}` is not a duration"), crate::duration::HINT.to_owned()));
        }
        for check in expect.headers.values() {
            if let ValueExpect::Checks(a) = check
                && (a.path.is_some() || a.value.is_some())
            {
                problems.push(("a header check takes no `path` or `value`".into(), "remove them".into()));
            }
        }
    }

    fn assertions(&self, list: &[Assertion], problems: &mut Vec<(String, String)>) {
        for a in list {
            if let Some(path) = &a.path {
                path_ok(path, problems);
            }
        }
    }

    fn captures<'a>(&self, captures: impl Iterator<Item = &'a Capture>, problems: &mut Vec<(String, String)>) {
        for capture in captures {
            match capture {
                Capture::Path(path) => path_ok(path, problems),
                Capture::Detailed(spec) => match (&spec.path, &spec.header) {
                    (Some(path), None) => path_ok(path, problems),
                    (None, Some(_)) => {}
                    _ => problems.push((
                        "a capture takes exactly one of `path` or `header`".into(),
                        "write `{path: $.a.b}` or `{header: location}`".into(),
                    )),
                },
            }
        }
    }
}

/// A wall-time bound: a duration, at most `max`.
fn bounded(text: &str, what: &str, max: std::time::Duration, problems: &mut Vec<(String, String)>) {
    match crate::duration::parse(text) {
        None => problems.push((format!("{what} `{text}` is not a duration"), crate::duration::HINT.to_owned())),
        Some(d) if d.is_zero() || d > max => problems.push((
            format!("{what} `{text}` is outside 1ms..{}s", max.as_secs()),
            format!("waits are bounded: write a duration up to {}s, e.g. `2s`", max.as_secs()),
        )),
        Some(_) => {}
    }
}

fn notification_type(kind: &str, problems: &mut Vec<(String, String)>) {
    if !NOTIFICATION_TYPES.iter().any(|(t, _)| *t == kind) {
        let known = NOTIFICATION_TYPES.iter().map(|(t, _)| *t).collect::<Vec<_>>().join(", ");
        problems.push((
            format!("notification type `{kind}` is not one the banks publish"),
            format!("write one of {known}"),
        ));
    }
}

fn filter(filter: EventFilter<'_>, problems: &mut Vec<(String, String)>) {
    if let Some(kind) = filter.kind {
        notification_type(kind, problems);
    }
    if let Some(category) = filter.category {
        let pair = NOTIFICATION_TYPES.iter().find(|(_, c)| *c == category);
        match (pair, filter.kind) {
            (None, _) => problems.push((
                format!("category `{category}` is not one the banks publish"),
                "write FRAUD, NEW_DATA, CONSENT or MAINTENANCE (or leave it out: the type implies it)".into(),
            )),
            (Some((t, _)), Some(kind)) if *t != kind => problems.push((
                format!("type `{kind}` never comes with category `{category}`"),
                format!("`{category}` belongs to type {t}; leave the category out, the type implies it"),
            )),
            _ => {}
        }
    }
}

fn path_ok(path: &str, problems: &mut Vec<(String, String)>) {
    if let Err(e) = JsonPath::parse(path) {
        problems.push((
            format!("JSON path `{path}` does not parse at character {}: {}", e.offset + 1, e.message),
            "paths are `$`, `.name`, `['name']`, `[0]`, `[-1]`, `[*]` (FORMAT.md \"JSON paths\")".into(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCENARIO: &str = "name: setup clients\nsetup:\n  clients:\n    - {as: app, client_name: Ledgerly}\n    - \
                            {as: other, auth: tls_client_auth}\nsteps:\n  - consent: {as: grant, client: app, bank: \
                            continental, user: user_good}\n  - expect_no_webhook: {client: other, for: 100ms}\n";

    #[test]
    fn setup_clients_are_defined_for_every_step() {
        let scenario = parse("setup.yaml", SCENARIO).map_err(|d| d[0].to_string()).expect("parses");
        let names: Vec<&str> = scenario.setup.clients.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["app", "other"]);
        assert_eq!(scenario.setup.clients[0].client_name.as_deref(), Some("Ledgerly"));
        assert_eq!(scenario.steps.len(), 2);
    }

    #[test]
    fn setup_clients_take_the_register_client_keys_only() {
        let text = SCENARIO.replace("client_name: Ledgerly", "client_nme: Ledgerly");
        let errors = parse("setup.yaml", &text).expect_err("a misspelt key is refused");
        assert!(errors[0].message.contains("unknown key `client_nme`"), "{}", errors[0]);
        assert!(errors[0].hint.contains("did you mean `client_name`?"), "{}", errors[0]);
    }

    #[test]
    fn a_client_missing_from_setup_is_still_undefined() {
        let text = SCENARIO.replace("{as: other, auth: tls_client_auth}", "{as: another}");
        let errors = parse("setup.yaml", &text).expect_err("`other` is not defined");
        assert!(errors[0].message.contains("client `other` is used before"), "{}", errors[0]);
    }
}
