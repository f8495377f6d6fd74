//! The JSON path subset scenario files use (FORMAT.md "JSON paths"): `$` the document, `.name` or `['name']` a
//! member, `[N]` an element (`[-1]` the last), `[*]` every element (or every member's value), and one kind of
//! filter, an equality test on a member of each element as RFC 9535 §2.3.5 writes it: `[?@.name == 'text']`
//! (also `[?(@.a.b == 42)]`; the literal is a quoted string, a number, `true`, `false` or `null`). No other
//! filters, no recursive descent: what a QA engineer needs to point at a field, and nothing to learn beyond it.

use serde_json::Value;

/// One segment of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Member(String),
    Index(i64),
    Wildcard,
    /// `[?@.a.b == literal]`: the elements (or member values) whose member chain equals the literal.
    Filter {
        members: Vec<String>,
        equals: Value,
    },
}

/// A parsed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    pub segments: Vec<Segment>,
}

/// Why a path does not parse: the message and the byte offset in the path text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError {
    pub offset: usize,
    pub message: String,
}

impl JsonPath {
    pub fn parse(text: &str) -> Result<JsonPath, PathError> {
        let err = |offset: usize, message: &str| PathError { offset, message: message.to_owned() };
        let bytes = text.as_bytes();
        if bytes.first() != Some(&b'$') {
            return Err(err(0, "a path starts with `$` (the whole document), e.g. `$.accounts[0]`"));
        }
        let mut segments = Vec::new();
        let mut i = 1;
        while i < bytes.len() {
            match bytes[i] {
                b'.' => {
                    let start = i + 1;
                    let mut end = start;
                    while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || matches!(bytes[end], b'_' | b'-'))
                    {
                        end += 1;
                    }
                    if end < bytes.len() && bytes[end] == b'*' && end == start {
                        segments.push(Segment::Wildcard);
                        i = end + 1;
                        continue;
                    }
                    if end == start {
                        return Err(err(i, "`.` must be followed by a member name"));
                    }
                    segments.push(Segment::Member(text[start..end].to_owned()));
                    i = end;
                }
                b'[' => {
                    let close = text[i..].find(']').map(|c| c + i).ok_or_else(|| err(i, "`[` without `]`"))?;
                    let inner = text[i + 1..close].trim();
                    if inner == "*" {
                        segments.push(Segment::Wildcard);
                    } else if let Some(filter) = inner.strip_prefix('?') {
                        segments.push(parse_filter(filter).map_err(|message| err(i + 1, message))?);
                    } else if let Some(quoted) = inner
                        .strip_prefix('\'')
                        .and_then(|s| s.strip_suffix('\''))
                        .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
                    {
                        segments.push(Segment::Member(quoted.to_owned()));
                    } else {
                        let index: i64 = inner
                            .parse()
                            .map_err(|_| err(i + 1, "inside `[]` write an index (0, -1), `*`, or a quoted name"))?;
                        segments.push(Segment::Index(index));
                    }
                    i = close + 1;
                }
                _ => return Err(err(i, "expected `.name` or `[...]`")),
            }
        }
        Ok(JsonPath { segments })
    }

    /// Whether the path can select more than one value.
    pub fn is_multi(&self) -> bool {
        self.segments.iter().any(|s| matches!(s, Segment::Wildcard | Segment::Filter { .. }))
    }

    /// The selected values, in document order.
    pub fn select<'a>(&self, document: &'a Value) -> Vec<&'a Value> {
        let mut current = vec![document];
        for segment in &self.segments {
            let mut next = Vec::new();
            for value in current {
                match (segment, value) {
                    (Segment::Member(name), Value::Object(map)) => next.extend(map.get(name)),
                    (Segment::Index(index), Value::Array(items)) => {
                        let at = if *index < 0 { items.len() as i64 + index } else { *index };
                        if at >= 0 {
                            next.extend(items.get(at as usize));
                        }
                    }
                    (Segment::Wildcard, Value::Array(items)) => next.extend(items.iter()),
                    (Segment::Wildcard, Value::Object(map)) => next.extend(map.values()),
                    (Segment::Filter { members, equals }, Value::Array(items)) => {
                        next.extend(items.iter().filter(|item| member_chain(item, members) == Some(equals)));
                    }
                    (Segment::Filter { members, equals }, Value::Object(map)) => {
                        next.extend(map.values().filter(|item| member_chain(item, members) == Some(equals)));
                    }
                    _ => {}
                }
            }
            current = next;
        }
        current
    }
}

/// `@.a.b == literal` (optionally in parentheses), the text after `?`.
fn parse_filter(text: &str) -> Result<Segment, &'static str> {
    const HINT: &str = "a filter is an equality test such as `[?@.status == 'POSTED']`";
    let text = text.trim();
    let text = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')).unwrap_or(text).trim();
    let (left, right) = text.split_once("==").ok_or(HINT)?;
    let chain = left.trim().strip_prefix("@.").ok_or(HINT)?;
    let members: Vec<String> = chain.split('.').map(str::to_owned).collect();
    if members.iter().any(|m| m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')) {
        return Err(HINT);
    }
    let right = right.trim();
    let equals = match right.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        Some(text) => Value::String(text.to_owned()),
        None => serde_json::from_str(right).map_err(|_| HINT)?,
    };
    Ok(Segment::Filter { members, equals })
}

fn member_chain<'a>(value: &'a Value, members: &[String]) -> Option<&'a Value> {
    members.iter().try_fold(value, |v, name| v.get(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selects_members_indexes_and_wildcards() {
        let doc = json!({"a": [{"b": 1}, {"b": 2}, {"c": 3}], "x-y": {"z": true}});
        let sel = |p: &str| JsonPath::parse(p).unwrap().select(&doc).into_iter().cloned().collect::<Vec<_>>();
        assert_eq!(sel("$.a[0].b"), [json!(1)]);
        assert_eq!(sel("$.a[-1].c"), [json!(3)]);
        assert_eq!(sel("$.a[*].b"), [json!(1), json!(2)]);
        assert_eq!(sel("$['x-y'].z"), [json!(true)]);
        assert_eq!(sel("$.x-y.z"), [json!(true)]);
        assert_eq!(sel("$.a[9]"), Vec::<Value>::new());
        assert_eq!(sel("$"), std::slice::from_ref(&doc));
        assert_eq!(sel("$.a[?@.b == 2]"), [json!({"b": 2})]);
        assert_eq!(sel("$.a[?(@.c == 3)].c"), [json!(3)]);
        let tx = json!({"t": [{"d": "CORNER BAKERY", "s": "PENDING"}, {"d": "X", "s": "POSTED"}]});
        let sel = |p: &str| JsonPath::parse(p).unwrap().select(&tx).into_iter().cloned().collect::<Vec<_>>();
        assert_eq!(sel("$.t[?@.d == 'CORNER BAKERY'].s"), [json!("PENDING")]);
        assert_eq!(sel("$.t[?@.d == \"CORNER BAKERY\"].s"), [json!("PENDING")]);
        assert!(JsonPath::parse("$.t[?@.d == 'X']").unwrap().is_multi());
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        for (bad, at) in [
            ("a.b", 0),
            ("$.", 1),
            ("$[x]", 2),
            ("$[0", 1),
            ("$a", 1),
            ("$[?@.a]", 2),
            ("$[?a == 1]", 2),
            ("$[?@.a == bare]", 2),
        ] {
            assert_eq!(JsonPath::parse(bad).unwrap_err().offset, at, "{bad}");
        }
    }
}
