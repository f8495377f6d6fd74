//! Evaluating assertions (FORMAT.md "Assertions"): a JSON path or a value, and comparisons that must all hold.
//! Failures are sentences a QA engineer can act on: what was checked, what was expected, what was found.

use crate::jsonpath::JsonPath;
use crate::model::{Assertion, CountExpect};
use crate::vars::{Vars, text_of};
use serde_json::Value;
use std::cmp::Ordering;

/// Longest rendering of a found value inside a failure message.
const SHOWN: usize = 160;

/// Check `assertion` against `document` (its `path`), or against its own `value` (interpolated) when it has no path.
/// Expected values are interpolated first. `Err` is the failure sentence.
pub fn check(assertion: &Assertion, document: &Value, vars: &Vars) -> Result<(), String> {
    let interp = |v: &Option<Value>| -> Result<Option<Value>, String> {
        v.as_ref().map(|v| vars.apply(v)).transpose().map_err(|e| e.to_string())
    };
    let (subject, selected): (String, Vec<Value>) = match (&assertion.path, &assertion.value) {
        (Some(path), _) => {
            let parsed = JsonPath::parse(path).map_err(|e| format!("`{path}`: {}", e.message))?;
            let found = parsed.select(document).into_iter().cloned().collect();
            (format!("`{path}`"), found)
        }
        (None, Some(value)) => {
            let value = vars.apply(value).map_err(|e| e.to_string())?;
            (format!("value {}", shown(&value)), vec![value])
        }
        (None, None) => ("the value".to_owned(), vec![document.clone()]),
    };
    if let Some(exists) = assertion.exists {
        if exists && selected.is_empty() {
            return Err(format!("{subject} selects nothing (expected it to exist)"));
        }
        if !exists && !selected.is_empty() {
            return Err(format!("{subject} exists (expected none), found {}", shown_all(&selected)));
        }
    }
    if let Some(count) = &assertion.count {
        let n = match selected.as_slice() {
            [Value::Array(items)] if assertion.path.as_deref().is_none_or(|p| !p.contains('*')) => items.len() as u64,
            other => other.len() as u64,
        };
        let ok = match count {
            CountExpect::Exactly(want) => n == *want,
            CountExpect::Range { min, max } => min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m),
        };
        if !ok {
            let want = match count {
                CountExpect::Exactly(want) => format!("{want}"),
                CountExpect::Range { min, max } => match (min, max) {
                    (Some(a), Some(b)) => format!("between {a} and {b}"),
                    (Some(a), None) => format!("at least {a}"),
                    (None, Some(b)) => format!("at most {b}"),
                    (None, None) => "any number".into(),
                },
            };
            return Err(format!("{subject}: expected a count of {want}, found {n}"));
        }
    }
    let comparisons: [(&str, Option<Value>); 10] = [
        ("equal", interp(&assertion.equals)?),
        ("not equal", interp(&assertion.not_equals)?),
        ("be greater than", interp(&assertion.gt)?),
        ("be at least", interp(&assertion.gte)?),
        ("be less than", interp(&assertion.lt)?),
        ("be at most", interp(&assertion.lte)?),
        ("contain", interp(&assertion.contains)?),
        ("not contain", interp(&assertion.not_contains)?),
        (
            "start with",
            assertion.starts_with.as_ref().map(|s| vars.apply_str_value(s)).transpose().map_err(|e| e.to_string())?,
        ),
        ("be one of", interp(&assertion.one_of.clone().map(Value::Array))?),
    ];
    if comparisons.iter().all(|(_, v)| v.is_none()) {
        return Ok(());
    }
    if selected.is_empty() {
        return Err(format!("{subject} selects nothing"));
    }
    for found in &selected {
        for (verb, want) in &comparisons {
            let Some(want) = want else { continue };
            let ok = match *verb {
                "equal" => loosely_equal(found, want),
                "not equal" => !loosely_equal(found, want),
                "be greater than" => compare(found, want) == Some(Ordering::Greater),
                "be at least" => matches!(compare(found, want), Some(Ordering::Greater | Ordering::Equal)),
                "be less than" => compare(found, want) == Some(Ordering::Less),
                "be at most" => matches!(compare(found, want), Some(Ordering::Less | Ordering::Equal)),
                "contain" => contains(found, want),
                "not contain" => !contains(found, want),
                "start with" => matches!(found, Value::String(s) if s.starts_with(&text_of(want))),
                _ => want.as_array().is_some_and(|list| list.iter().any(|w| loosely_equal(found, w))),
            };
            if !ok {
                let each = if selected.len() > 1 { " (every selected value)" } else { "" };
                return Err(format!("{subject}{each}: expected to {verb} {}, found {}", shown(want), shown(found)));
            }
        }
    }
    Ok(())
}

/// A substring of a string, an element of an array, a member name of an object.
fn contains(found: &Value, want: &Value) -> bool {
    match found {
        Value::String(s) => s.contains(&text_of(want)),
        Value::Array(items) => items.iter().any(|i| loosely_equal(i, want)),
        Value::Object(map) => map.contains_key(&text_of(want)),
        _ => false,
    }
}

/// Equality where `"200"` and `200` are the same (YAML authors quote numbers; FDX codes are strings).
fn loosely_equal(found: &Value, want: &Value) -> bool {
    match (found, want) {
        (Value::String(a), Value::Number(b)) | (Value::Number(b), Value::String(a)) => *a == b.to_string(),
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => found == want,
    }
}

/// Numbers as numbers (a numeric string counts as a number), strings lexicographically; otherwise incomparable.
fn compare(found: &Value, want: &Value) -> Option<Ordering> {
    let number = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse::<f64>().ok(),
        _ => None,
    };
    if let (Some(a), Some(b)) = (number(found), number(want)) {
        return a.partial_cmp(&b);
    }
    match (found, want) {
        (Value::String(a), Value::String(b)) => Some(a.as_str().cmp(b.as_str())),
        _ => None,
    }
}

/// A value for a message, cut to [`SHOWN`] characters.
pub fn shown(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= SHOWN { text } else { format!("{}…", text.chars().take(SHOWN).collect::<String>()) }
}

fn shown_all(values: &[Value]) -> String {
    match values {
        [one] => shown(one),
        many => shown(&Value::Array(many.to_vec())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn a(yaml: &str) -> Assertion {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn comparisons_counts_and_wildcards() {
        let doc = json!({"code": "603", "items": [{"d": "2026-01-02", "n": 5}, {"d": "2026-02-01", "n": 7}]});
        let vars = Vars::default();
        assert_eq!(check(&a("path: $.code\nequals: 603"), &doc, &vars), Ok(()));
        assert_eq!(check(&a("path: $.items\ncount: 2"), &doc, &vars), Ok(()));
        assert_eq!(check(&a("path: $.items[*]\ncount: {min: 1, max: 2}"), &doc, &vars), Ok(()));
        assert_eq!(check(&a("path: $.items[*].d\ngte: '2026-01-01'"), &doc, &vars), Ok(()));
        assert_eq!(
            check(&a("path: $.items[*].n\nlt: 6"), &doc, &vars),
            Err("`$.items[*].n` (every selected value): expected to be less than 6, found 7".into())
        );
        assert_eq!(
            check(&a("path: $.nothing\nexists: true"), &doc, &vars),
            Err("`$.nothing` selects nothing (expected it to exist)".into())
        );
        assert_eq!(
            check(&a("path: $.items\ncount: 3"), &doc, &vars),
            Err("`$.items`: expected a count of 3, found 2".into())
        );
        assert_eq!(check(&a("value: 12\ngt: 10"), &Value::Null, &vars), Ok(()));
        assert_eq!(check(&a("path: $.items[0].d\none_of: ['2026-01-02', x]"), &doc, &vars), Ok(()));
    }
}
