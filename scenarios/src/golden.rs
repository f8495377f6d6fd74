//! Golden-file tests of the parser's error output (Hurl's practice): each file under `tests/invalid/` must fail
//! to parse with exactly the text in `tests/golden/invalid/<name>.txt`. `BANKGATE_UPDATE_GOLDEN=1` rewrites the
//! golden files after an intended change; review the diff before keeping it. [`compare`] is the one comparison
//! both this crate's golden tests and the runner's must-fail tests (tests/e2e/scenarios.rs) use.

use std::path::Path;

/// Compares `rendered` with the golden file `golden` (rewriting it first when `BANKGATE_UPDATE_GOLDEN` is set);
/// `Some(diff text)` when they differ. For tests only: it panics when the golden folder cannot be written.
pub fn compare(golden: &Path, rendered: &str) -> Option<String> {
    if std::env::var_os("BANKGATE_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden.parent().expect("a golden file has a folder")).expect("golden folder");
        std::fs::write(golden, rendered).expect("write golden");
    }
    let expected = std::fs::read_to_string(golden).unwrap_or_default();
    (expected != rendered).then(|| format!("--- {}\n+++ actual\n{rendered}", golden.display()))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn invalid_files_fail_with_their_golden_errors() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
        let mut files: Vec<_> = std::fs::read_dir(root.join("invalid"))
            .expect("tests/invalid exists")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        files.sort();
        assert!(files.len() >= 5, "the invalid examples are there");
        let mut mismatches = Vec::new();
        for path in files {
            let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
            let text = std::fs::read_to_string(&path).expect("readable");
            let shown = format!("tests/invalid/{name}.yaml");
            let diagnostics = crate::parse(&shown, &text).expect_err("an invalid file must not parse");
            let rendered = diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n") + "\n";
            let golden = root.join("golden/invalid").join(format!("{name}.txt"));
            mismatches.extend(super::compare(&golden, &rendered));
        }
        assert!(mismatches.is_empty(), "set BANKGATE_UPDATE_GOLDEN=1 to accept:\n{}", mismatches.join("\n"));
    }

    #[test]
    fn every_library_file_parses_and_names_the_schema() {
        let library = Path::new(env!("CARGO_MANIFEST_DIR")).join("library");
        let mut count = 0;
        for entry in std::fs::read_dir(&library).expect("library exists").filter_map(Result::ok) {
            let path = entry.path();
            let text = std::fs::read_to_string(&path).expect("readable");
            assert!(
                text.starts_with("# yaml-language-server: $schema=../schema/scenario.schema.json\n"),
                "{} must start with the $schema comment",
                path.display()
            );
            if let Err(errors) = crate::parse(&path.display().to_string(), &text) {
                panic!("{}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"));
            }
            count += 1;
        }
        assert!(count >= 12, "the library holds at least 12 scenarios, found {count}");
    }
}
