//! Variables and `{{name}}` interpolation (FORMAT.md "Variables").
//!
//! A string that is exactly one `{{expr}}` becomes the variable's JSON value (a number stays a number); otherwise
//! each `{{expr}}` is replaced by the value's text. `expr` is a variable name with optional `.member` / `.N` steps
//! (`{{grant.consent_id}}`, `{{accounts.0}}`) or a built-in of the simulated clock: `{{now}}` (RFC 3339),
//! `{{today}}` (YYYY-MM-DD), `{{today-30d}}` / `{{today+2d}}`. Interpolation never reads the wall clock: the
//! runner passes the simulated date.

use serde_json::Value;
use std::collections::BTreeMap;

/// The variables of one scenario run.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: BTreeMap<String, Value>,
    /// Simulated now (RFC 3339) and today (days since 1970-01-01 and its YYYY-MM-DD), set by the runner.
    now: String,
    today_days: i64,
}

/// A `{{...}}` that names nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownVariable(pub String);

impl std::fmt::Display for UnknownVariable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{{{{{}}}}}` names no variable set so far", self.0)
    }
}

impl Vars {
    pub fn new(initial: BTreeMap<String, Value>) -> Self {
        Self { values: initial, ..Self::default() }
    }

    /// Tell interpolation the simulated instant: RFC 3339 text and the day number (days since 1970-01-01).
    pub fn set_clock(&mut self, now_rfc3339: String, days_since_epoch: i64) {
        self.now = now_rfc3339;
        self.today_days = days_since_epoch;
    }

    pub fn set(&mut self, name: &str, value: Value) {
        self.values.insert(name.to_owned(), value);
    }

    pub fn remove(&mut self, name: &str) {
        self.values.remove(name);
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// Every variable (reports show them).
    pub fn all(&self) -> &BTreeMap<String, Value> {
        &self.values
    }

    /// The value of one expression (inside the braces).
    pub fn lookup(&self, expr: &str) -> Option<Value> {
        let expr = expr.trim();
        if expr == "now" {
            return Some(Value::String(self.now.clone()));
        }
        if let Some(rest) = expr.strip_prefix("today") {
            let offset = if rest.is_empty() {
                0
            } else {
                let (sign, days) = rest.split_at(1);
                let days: i64 = days.strip_suffix('d')?.parse().ok()?;
                match sign {
                    "+" => days,
                    "-" => -days,
                    _ => return None,
                }
            };
            return Some(Value::String(civil_date(self.today_days + offset)));
        }
        let mut parts = expr.split('.');
        let mut value = self.values.get(parts.next()?)?;
        for part in parts {
            value = match value {
                Value::Object(map) => map.get(part)?,
                Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(value.clone())
    }

    /// Interpolate every string inside `value`.
    pub fn apply(&self, value: &Value) -> Result<Value, UnknownVariable> {
        Ok(match value {
            Value::String(text) => self.apply_str_value(text)?,
            Value::Array(items) => Value::Array(items.iter().map(|v| self.apply(v)).collect::<Result<_, _>>()?),
            Value::Object(map) => Value::Object(
                map.iter().map(|(k, v)| Ok((k.clone(), self.apply(v)?))).collect::<Result<_, UnknownVariable>>()?,
            ),
            other => other.clone(),
        })
    }

    /// A string with every `{{expr}}` replaced; a string that is one whole `{{expr}}` keeps the value's type.
    pub fn apply_str_value(&self, text: &str) -> Result<Value, UnknownVariable> {
        let trimmed = text.trim();
        if let Some(inner) = trimmed.strip_prefix("{{").and_then(|t| t.strip_suffix("}}"))
            && !inner.contains("{{")
        {
            return self.lookup(inner).ok_or_else(|| UnknownVariable(inner.trim().to_owned()));
        }
        self.apply_str(text).map(Value::String)
    }

    /// A string with every `{{expr}}` replaced by the value's text.
    pub fn apply_str(&self, text: &str) -> Result<String, UnknownVariable> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                out.push_str(&rest[start..]);
                return Ok(out);
            };
            let expr = &after[..end];
            let value = self.lookup(expr).ok_or_else(|| UnknownVariable(expr.trim().to_owned()))?;
            out.push_str(&text_of(&value));
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// A value as text: strings without quotes, everything else as JSON.
pub fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether a variable counts as set for `repeat.while`: present, not null, not an empty string.
pub fn is_set(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

/// YYYY-MM-DD of a day number (days since 1970-01-01), proleptic Gregorian (H. Hinnant's civil_from_days).
pub fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn whole_expressions_keep_their_type_and_parts_become_text() {
        let mut vars = Vars::new(BTreeMap::from([("g".to_owned(), json!({"n": 3, "ids": ["a", "b"]}))]));
        vars.set_clock("2026-03-04T15:00:00Z".into(), 20_516);
        assert_eq!(vars.apply_str_value("{{g.n}}").unwrap(), json!(3));
        assert_eq!(vars.apply_str_value("/x/{{g.ids.1}}?n={{ g.n }}").unwrap(), json!("/x/b?n=3"));
        assert_eq!(vars.apply_str_value("{{today}}").unwrap(), json!("2026-03-04"));
        assert_eq!(vars.apply_str_value("{{today-30d}}").unwrap(), json!("2026-02-02"));
        assert_eq!(vars.apply_str_value("{{now}}").unwrap(), json!("2026-03-04T15:00:00Z"));
        assert_eq!(vars.apply_str_value("{{missing}}").unwrap_err(), UnknownVariable("missing".into()));
        assert_eq!(vars.apply(&json!({"a": ["{{g.n}}"]})).unwrap(), json!({"a": [3]}));
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(11_016), "2000-02-29");
        assert_eq!(civil_date(-1), "1969-12-31");
    }
}
