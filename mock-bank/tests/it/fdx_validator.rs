//! A strict validator of JSON bodies against the published FDX 6.2 OpenAPI document
//! (`shared/reference/fdx/fdx-api-6.2.0-openapi31.yaml`, beside the workspace): [`FdxDocument`] loads it and finds
//! the schema the document gives for a path and status (`paths./accounts/{accountId}/transactions.get.responses.200
//! ...`) or by name (`Error1`), resolved at test time, not from schema names written down here; [`Validator`] lists
//! every way a body breaks that schema.
//!
//! Shared by two test crates: the mock bank's (`mock-bank/tests/it/fdx_schema.rs`, the bank's own answers) and the
//! end-to-end tests (`tests/e2e/fdx_schema.rs`, the gateway's answers, which include this file by `#[path]`). Each
//! uses part of it, hence `allow(dead_code)`. The document is found from the including crate's manifest directory:
//! up to the workspace root (the first directory whose `Cargo.toml` declares `[workspace]`), then `../shared/...`
//! (CI puts `shared/` beside its clone the same way).
//!
//! The validator is deliberately small and deliberately strict. It understands the part of JSON Schema 2020-12 /
//! OpenAPI 3.1 that the document uses on these paths (`$ref`, `allOf` merged, `anyOf`/`oneOf` with a branch chosen
//! by the discriminator, `type`, `properties`, `required`, `enum`, `const`, `items`, `additionalProperties`, string,
//! number and array bounds, `pattern` in a small regex subset, and the `date`/`date-time`/`int32`/`int64` formats,
//! which this document writes as `contentEncoding`), and it refuses any other assertion keyword rather than
//! silently passing it. On top of the standard it fails on every property a response object carries that the
//! schema does not declare: the document allows additional properties, but an undeclared name is exactly the
//! misspelt or invented field a client of the real FDX API would never see.
//!
//! It must never be loosened to make a bank or the gateway pass: a failure here means their wire shapes are wrong.

#![allow(dead_code)]

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime};

/// Where the FDX document lives, relative to the directory that holds the workspace.
const FDX_DOCUMENT: &str = "shared/reference/fdx/fdx-api-6.2.0-openapi31.yaml";
const SCHEMAS: &str = "#/components/schemas/";

/// The FDX document's path for the crate that includes this file: beside its workspace root.
pub fn document_path() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let declares_workspace = |dir: &Path| {
        std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|t| t.lines().any(|l| l.trim() == "[workspace]"))
    };
    let root = manifest.ancestors().find(|dir| declares_workspace(dir)).unwrap_or(manifest);
    root.parent().unwrap_or(root).join(FDX_DOCUMENT)
}

// ---- the document -------------------------------------------------------------------------------------------------

/// The FDX OpenAPI document, with the discriminator table the validator chooses `anyOf` branches by.
pub struct FdxDocument {
    root: Value,
    /// `(property, value)` -> the schema names that value selects, from every `discriminator.mapping` in
    /// `components.schemas`, plus, for an account entity a category selects, the transaction entity that account's
    /// embedded `transactions` array holds (FDX gives accounts and their transactions the same `accountCategory`).
    discriminated: HashMap<(String, String), BTreeSet<String>>,
}

impl FdxDocument {
    /// The document at [`document_path`].
    pub fn load() -> Self {
        Self::load_from(&document_path())
    }

    /// The document at `path`; panics (this is test support) when it cannot be read.
    pub fn load_from(path: &Path) -> Self {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let root: Value =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{} is not YAML we can read: {e}", path.display()));
        assert_eq!(root["openapi"].as_str().map(|v| v.starts_with("3.1")), Some(true), "not an OpenAPI 3.1 document");
        Self::from_value(root)
    }

    pub fn from_value(root: Value) -> Self {
        let mut doc = Self { root, discriminated: HashMap::new() };
        let mut table: HashMap<(String, String), BTreeSet<String>> = HashMap::new();
        if let Some(schemas) = doc.root["components"]["schemas"].as_object() {
            for schema in schemas.values() {
                let Some(discriminator) = schema.get("discriminator") else { continue };
                let Some(property) = discriminator["propertyName"].as_str() else { continue };
                for (value, target) in discriminator["mapping"].as_object().into_iter().flatten() {
                    let Some(target) = target.as_str() else { continue };
                    let target = target.strip_prefix(SCHEMAS).unwrap_or(target).to_owned();
                    let entry = table.entry((property.to_owned(), value.clone())).or_default();
                    if let Some(transaction) = doc.embedded_transaction_entity(&target) {
                        entry.insert(transaction);
                    }
                    entry.insert(target);
                }
            }
        }
        doc.discriminated = table;
        doc
    }

    /// `components.schemas.<name>`.
    pub fn schema_named(&self, name: &str) -> Option<&Value> {
        self.root["components"]["schemas"].get(name)
    }

    /// The item schema name of the `transactions` array an account entity declares (through its `allOf`).
    fn embedded_transaction_entity(&self, account_entity: &str) -> Option<String> {
        let schema = self.schema_named(account_entity)?;
        let parts = schema["allOf"].as_array().into_iter().flatten().chain(std::iter::once(schema));
        parts
            .filter_map(|part| part["properties"]["transactions"]["items"]["$ref"].as_str())
            .find_map(|r| r.strip_prefix(SCHEMAS).map(str::to_owned))
    }

    /// A local reference (`#/...`, JSON Pointer per RFC 6901) and the name of what it points at.
    fn resolve<'d>(&'d self, reference: &'d str) -> Result<(&'d str, &'d Value), String> {
        let pointer = reference.strip_prefix('#').ok_or_else(|| format!("non-local $ref `{reference}`"))?;
        let target = self.root.pointer(pointer).ok_or_else(|| format!("$ref `{reference}` points nowhere"))?;
        Ok((reference.rsplit('/').next().unwrap_or(reference), target))
    }

    /// The JSON schema of the `status` response of `GET {template}`, following a response-level `$ref`; panics
    /// when the document gives none.
    pub fn response_schema(&self, template: &str, status: u16) -> &Value {
        assert!(self.root["paths"][template]["get"].is_object(), "the FDX document has no GET {template}");
        self.documented_response(template, status)
            .unwrap_or_else(|| panic!("the FDX document gives GET {template} no JSON schema for status {status}"))
    }

    /// The JSON schema of the `status` response of `GET {template}`, `None` when the document has no such path or
    /// documents no JSON body for that status there.
    pub fn documented_response(&self, template: &str, status: u16) -> Option<&Value> {
        let mut response = self.root["paths"][template]["get"]["responses"].get(status.to_string().as_str())?;
        if let Some(reference) = response["$ref"].as_str() {
            response = self.resolve(reference).ok()?.1;
        }
        Some(&response["content"]["application/json"]["schema"]).filter(|schema| schema.is_object())
    }
}

// ---- the validator ------------------------------------------------------------------------------------------------

/// Keywords that only annotate: they never make an instance invalid.
const ANNOTATIONS: [&str; 15] = [
    "description",
    "title",
    "examples",
    "example",
    "contentMediaType",
    "discriminator",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
    "$comment",
    "externalDocs",
    "xml",
    "$schema",
    "$id",
];
/// Assertion keywords [`Validator::assert`] applies to the instance itself.
const ASSERTIONS: [&str; 15] = [
    "type",
    "enum",
    "const",
    "maxLength",
    "minLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "format",
    "contentEncoding",
    "minItems",
    "maxItems",
    "uniqueItems",
];
/// Deeper than any honest nesting of `$ref`/`allOf` in the document: a guard against reference cycles.
const MAX_SCHEMA_DEPTH: usize = 64;

/// Everything the schemas that apply to one instance say, `allOf` parts and chosen `anyOf` branches merged.
#[derive(Default)]
struct Merged<'d> {
    /// Names of the `$ref`s passed through (for messages).
    names: Vec<&'d str>,
    assertions: Vec<&'d Map<String, Value>>,
    properties: BTreeMap<&'d str, Vec<&'d Value>>,
    required: BTreeSet<&'d str>,
    items: Vec<&'d Value>,
    additional: Vec<&'d Value>,
    closed: bool,
    /// Some part declared `type: object` or `properties`: undeclared property names are then reported.
    describes_object: bool,
}

/// Holds instances to the schemas of one document.
pub struct Validator<'d> {
    doc: &'d FdxDocument,
}

impl<'d> Validator<'d> {
    pub fn new(doc: &'d FdxDocument) -> Self {
        Self { doc }
    }

    /// Every way `instance` (at JSON path `at`) breaks `schema`, one line each; empty when it conforms.
    pub fn errors(&self, schema: &'d Value, instance: &Value, at: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.validate(schema, instance, at, &mut out);
        out
    }

    fn validate(&self, schema: &'d Value, instance: &Value, at: &str, out: &mut Vec<String>) {
        let mut merged = Merged::default();
        self.collect(schema, instance, at, &mut merged, out, 0);
        self.check(&merged, instance, at, out);
    }

    fn collect(
        &self,
        schema: &'d Value,
        instance: &Value,
        at: &str,
        merged: &mut Merged<'d>,
        out: &mut Vec<String>,
        depth: usize,
    ) {
        if depth > MAX_SCHEMA_DEPTH {
            out.push(format!("{at}: schema nesting deeper than {MAX_SCHEMA_DEPTH} (a $ref cycle?)"));
            return;
        }
        let map = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => return out.push(format!("{at}: the schema allows nothing here")),
            Value::Object(map) => map,
            other => return out.push(format!("{at}: not a schema: {other}")),
        };
        let mut asserts = false;
        for (keyword, value) in map {
            match keyword.as_str() {
                "$ref" => match value.as_str().map(|r| self.doc.resolve(r)) {
                    Some(Ok((name, target))) => {
                        merged.names.push(name);
                        self.collect(target, instance, at, merged, out, depth + 1);
                    }
                    Some(Err(e)) => out.push(format!("{at}: {e}")),
                    None => out.push(format!("{at}: $ref is not a string")),
                },
                "allOf" => {
                    for part in value.as_array().into_iter().flatten() {
                        self.collect(part, instance, at, merged, out, depth + 1);
                    }
                }
                "anyOf" | "oneOf" => {
                    if let Some(branch) = self.choose_branch(keyword, map, value, instance, at, out) {
                        self.collect(branch, instance, at, merged, out, depth + 1);
                    }
                }
                "properties" => {
                    merged.describes_object = true;
                    for (name, sub) in value.as_object().into_iter().flatten() {
                        merged.properties.entry(name.as_str()).or_default().push(sub);
                    }
                }
                "required" => merged.required.extend(value.as_array().into_iter().flatten().filter_map(Value::as_str)),
                "items" => merged.items.push(value),
                "additionalProperties" => match value {
                    Value::Bool(true) => {}
                    Value::Bool(false) => merged.closed = true,
                    schema => merged.additional.push(schema),
                },
                k if ASSERTIONS.contains(&k) => {
                    asserts = true;
                    if k == "type" && types_of(value).contains(&"object") {
                        merged.describes_object = true;
                    }
                }
                k if ANNOTATIONS.contains(&k) || k.starts_with("x-") => {}
                k => out.push(format!("{at}: the validator does not understand schema keyword `{k}`")),
            }
        }
        if asserts {
            merged.assertions.push(map);
        }
    }

    /// The `anyOf`/`oneOf` branch `instance` is an instance of. Chosen by the schema's own discriminator, else by
    /// the document's discriminator table (e.g. `accountCategory`), else by shape: the branches it fully conforms to
    /// (for `oneOf`, exactly one).
    fn choose_branch(
        &self,
        keyword: &str,
        schema: &'d Map<String, Value>,
        branches: &'d Value,
        instance: &Value,
        at: &str,
        out: &mut Vec<String>,
    ) -> Option<&'d Value> {
        let Some(branches) = branches.as_array().filter(|b| !b.is_empty()) else {
            out.push(format!("{at}: {keyword} without branches"));
            return None;
        };
        let name_of = |branch: &Value| branch["$ref"].as_str().and_then(|r| r.strip_prefix(SCHEMAS)).map(str::to_owned);
        let mut wanted: Option<(String, String, BTreeSet<String>)> = None;
        if let Some(property) = schema.get("discriminator").and_then(|d| d["propertyName"].as_str()) {
            let Some(value) = instance.get(property).and_then(Value::as_str) else {
                out.push(format!("{at}: the discriminator `{property}` is missing or not a string"));
                return None;
            };
            let target = schema["discriminator"]["mapping"][value].as_str().unwrap_or(value);
            let target = target.strip_prefix(SCHEMAS).unwrap_or(target).to_owned();
            wanted = Some((property.to_owned(), value.to_owned(), BTreeSet::from([target])));
        } else if let Some(object) = instance.as_object() {
            for ((property, value), targets) in &self.doc.discriminated {
                if object.get(property).and_then(Value::as_str) == Some(value.as_str())
                    && branches.iter().filter_map(name_of).any(|n| targets.contains(&n))
                {
                    wanted = Some((property.clone(), value.clone(), targets.clone()));
                }
            }
            let discriminators: BTreeSet<&str> = self.doc.discriminated.keys().map(|(p, _)| p.as_str()).collect();
            if wanted.is_none()
                && let Some(property) = discriminators.iter().find(|p| object.contains_key(**p))
                && branches.iter().filter_map(name_of).any(|n| {
                    self.doc.discriminated.iter().any(|((p, _), targets)| p == property && targets.contains(&n))
                })
            {
                out.push(format!(
                    "{at}: {property} `{}` selects none of the {keyword} branches",
                    object.get(*property).unwrap_or(&Value::Null)
                ));
                return None;
            }
        }
        if let Some((property, value, targets)) = wanted {
            let chosen: Vec<&Value> =
                branches.iter().filter(|b| name_of(b).is_some_and(|n| targets.contains(&n))).collect();
            return match chosen.as_slice() {
                [one] => Some(*one),
                _ => {
                    out.push(format!("{at}: {property} `{value}` selects {} of the {keyword} branches", chosen.len()));
                    None
                }
            };
        }
        let mut best: Option<Vec<String>> = None;
        let mut fits = Vec::new();
        for branch in branches {
            let errors = self.errors(branch, instance, at);
            if errors.is_empty() {
                fits.push(branch);
            } else if best.as_ref().is_none_or(|b| errors.len() < b.len()) {
                best = Some(errors);
            }
        }
        match (keyword, fits.as_slice()) {
            (_, []) => {
                out.push(format!("{at}: conforms to none of the {keyword} branches; the closest one says:"));
                out.extend(best.unwrap_or_default().into_iter().map(|e| format!("  {e}")));
                None
            }
            ("oneOf", [_, _, ..]) => {
                out.push(format!("{at}: conforms to {} oneOf branches, not exactly one", fits.len()));
                None
            }
            (_, [first, ..]) => Some(*first),
        }
    }

    fn check(&self, merged: &Merged<'d>, instance: &Value, at: &str, out: &mut Vec<String>) {
        let context = merged.names.last().map(|n| format!(" ({n})")).unwrap_or_default();
        for keywords in &merged.assertions {
            self.assert(keywords, instance, at, out);
        }
        if let Some(object) = instance.as_object() {
            for name in &merged.required {
                if !object.contains_key(*name) {
                    out.push(format!("{at}{context}: required property `{name}` is missing"));
                }
            }
            for (name, value) in object {
                let here = format!("{at}.{name}");
                match merged.properties.get(name.as_str()) {
                    Some(schemas) => schemas.iter().for_each(|s| self.validate(s, value, &here, out)),
                    None if !merged.additional.is_empty() => {
                        merged.additional.iter().for_each(|s| self.validate(s, value, &here, out));
                    }
                    None if merged.closed => {
                        out.push(format!(
                            "{at}{context}: property `{name}` is not allowed (additionalProperties: false)"
                        ));
                    }
                    None if merged.describes_object => {
                        out.push(format!("{at}{context}: property `{name}` is not declared by the schema"));
                    }
                    None => {}
                }
            }
        }
        if let Some(array) = instance.as_array() {
            for (i, item) in array.iter().enumerate() {
                let here = format!("{at}[{i}]");
                merged.items.iter().for_each(|s| self.validate(s, item, &here, out));
            }
        }
    }

    /// The assertion keywords of one schema object, applied to `instance`.
    fn assert(&self, keywords: &Map<String, Value>, instance: &Value, at: &str, out: &mut Vec<String>) {
        let shown = || {
            let text = instance.to_string();
            if text.chars().count() > 60 { format!("{}...", text.chars().take(60).collect::<String>()) } else { text }
        };
        if let Some(types) = keywords.get("type") {
            let types = types_of(types);
            for t in &types {
                if !KNOWN_TYPES.contains(t) {
                    out.push(format!("{at}: unknown type `{t}` in the schema"));
                }
            }
            if !types.iter().any(|t| has_type(instance, t)) {
                out.push(format!("{at}: {} is not of type {}", shown(), types.join(" | ")));
            }
        }
        if let Some(allowed) = keywords.get("enum").and_then(Value::as_array)
            && !allowed.contains(instance)
        {
            let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
            out.push(format!("{at}: {} is not one of the enum values [{}]", shown(), list.join(", ")));
        }
        if let Some(constant) = keywords.get("const")
            && constant != instance
        {
            out.push(format!("{at}: {} is not the constant {constant}", shown()));
        }
        for key in ["format", "contentEncoding"] {
            if let Some(format) = keywords.get(key).and_then(Value::as_str) {
                match check_format(format, instance) {
                    Ok(true) => {}
                    Ok(false) => out.push(format!("{at}: {} is not a valid `{format}`", shown())),
                    Err(e) => out.push(format!("{at}: {e}")),
                }
            }
        }
        if let Some(text) = instance.as_str() {
            let length = text.chars().count() as u64;
            if let Some(max) = keywords.get("maxLength").and_then(Value::as_u64)
                && length > max
            {
                out.push(format!("{at}: {length} characters, more than maxLength {max}"));
            }
            if let Some(min) = keywords.get("minLength").and_then(Value::as_u64)
                && length < min
            {
                out.push(format!("{at}: {length} characters, fewer than minLength {min}"));
            }
            if let Some(pattern) = keywords.get("pattern").and_then(Value::as_str) {
                match Pattern::parse(pattern) {
                    Ok(p) if p.is_found_in(text) => {}
                    Ok(_) => out.push(format!("{at}: {} does not match the pattern `{pattern}`", shown())),
                    Err(e) => out.push(format!("{at}: pattern `{pattern}`: {e}")),
                }
            }
        }
        if let Some(number) = instance.as_f64() {
            let bound = |key: &str| keywords.get(key).and_then(Value::as_f64);
            if bound("minimum").is_some_and(|m| number < m) || bound("exclusiveMinimum").is_some_and(|m| number <= m) {
                out.push(format!("{at}: {number} is below the schema's minimum"));
            }
            if bound("maximum").is_some_and(|m| number > m) || bound("exclusiveMaximum").is_some_and(|m| number >= m) {
                out.push(format!("{at}: {number} is above the schema's maximum"));
            }
        }
        if let Some(array) = instance.as_array() {
            let count = array.len() as u64;
            if keywords.get("maxItems").and_then(Value::as_u64).is_some_and(|m| count > m) {
                out.push(format!("{at}: {count} items, more than maxItems"));
            }
            if keywords.get("minItems").and_then(Value::as_u64).is_some_and(|m| count < m) {
                out.push(format!("{at}: {count} items, fewer than minItems"));
            }
            if keywords.get("uniqueItems") == Some(&Value::Bool(true))
                && array.iter().enumerate().any(|(i, a)| array[..i].contains(a))
            {
                out.push(format!("{at}: items are not unique"));
            }
        }
    }
}

const KNOWN_TYPES: [&str; 7] = ["object", "array", "string", "number", "integer", "boolean", "null"];

/// `type` as a list (OpenAPI 3.1 allows `type: [string, "null"]`).
fn types_of(value: &Value) -> Vec<&str> {
    match value {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

fn has_type(value: &Value, t: &str) -> bool {
    match t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        // JSON Schema 2020-12 §6.1.1: any number with a zero fractional part is an integer.
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.is_finite() && f.fract() == 0.0)
        }
        _ => false,
    }
}

/// Whether `instance` is a valid `format` (`Ok(true)` for instances the format does not constrain, e.g. a date
/// format on a number: `type` judges those). Unknown formats are an error, never a pass.
fn check_format(format: &str, instance: &Value) -> Result<bool, String> {
    match format {
        "date" => Ok(instance.as_str().is_none_or(is_full_date)),
        "date-time" => Ok(instance.as_str().is_none_or(|s| OffsetDateTime::parse(s, &Rfc3339).is_ok())),
        "int32" => Ok(instance.as_f64().is_none_or(|_| instance.as_i64().is_some_and(|n| i32::try_from(n).is_ok()))),
        "int64" => Ok(instance.as_f64().is_none_or(|_| instance.as_i64().is_some())),
        other => Err(format!("the validator does not know the format `{other}`")),
    }
}

/// RFC 3339 `full-date`: `YYYY-MM-DD`, a day that exists.
fn is_full_date(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r.clone()].iter().all(u8::is_ascii_digit).then(|| &text[r]);
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10)) else { return false };
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i32>(), m.parse::<u8>(), d.parse::<u8>()) else { return false };
    Month::try_from(m).is_ok_and(|m| Date::from_calendar_date(y, m, d).is_ok())
}

// ---- `pattern`: the regular-expression subset the document needs ---------------------------------------------

/// An ECMA-262 regular expression without groups or alternation: literals, `.`, `\d \w \s` (and negations),
/// bracket classes, the quantifiers `* + ? {n} {n,} {n,m}`, and the anchors `^ $`. Anything else is refused.
/// JSON Schema patterns are not anchored: the pattern must match somewhere in the string.
pub struct Pattern {
    anchored_start: bool,
    anchored_end: bool,
    pieces: Vec<(Atom, usize, usize)>,
}

enum Atom {
    Any,
    Char(char),
    Class { ranges: Vec<(char, char)>, negated: bool },
}

impl Atom {
    fn matches(&self, c: char) -> bool {
        match self {
            Atom::Any => c != '\n',
            Atom::Char(x) => *x == c,
            Atom::Class { ranges, negated } => ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated,
        }
    }
}

fn escape_class(c: char) -> Option<Atom> {
    let (ranges, negated): (Vec<(char, char)>, bool) = match c {
        'd' | 'D' => (vec![('0', '9')], c == 'D'),
        'w' | 'W' => (vec![('a', 'z'), ('A', 'Z'), ('0', '9'), ('_', '_')], c == 'W'),
        's' | 'S' => (vec![(' ', ' '), ('\t', '\r')], c == 'S'),
        _ => return None,
    };
    Some(Atom::Class { ranges, negated })
}

impl Pattern {
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let mut chars: Vec<char> = pattern.chars().collect();
        let anchored_start = chars.first() == Some(&'^');
        if anchored_start {
            chars.remove(0);
        }
        let anchored_end = chars.last() == Some(&'$') && !(chars.len() >= 2 && chars[chars.len() - 2] == '\\');
        if anchored_end {
            chars.pop();
        }
        let mut pieces = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let atom = match chars[i] {
                '.' => Atom::Any,
                '\\' => {
                    i += 1;
                    let c = *chars.get(i).ok_or("a trailing backslash")?;
                    match escape_class(c) {
                        Some(class) => class,
                        None if c.is_ascii_alphanumeric() => return Err(format!("unsupported escape `\\{c}`")),
                        None => Atom::Char(c),
                    }
                }
                '[' => {
                    let mut ranges = Vec::new();
                    i += 1;
                    let negated = chars.get(i) == Some(&'^');
                    if negated {
                        i += 1;
                    }
                    loop {
                        let c = *chars.get(i).ok_or("an unclosed `[`")?;
                        if c == ']' {
                            break;
                        }
                        let lo = if c == '\\' {
                            i += 1;
                            let e = *chars.get(i).ok_or("a trailing backslash")?;
                            if let Some(Atom::Class { ranges: r, negated: false }) = escape_class(e) {
                                ranges.extend(r);
                                i += 1;
                                continue;
                            }
                            e
                        } else {
                            c
                        };
                        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|h| *h != ']') {
                            ranges.push((lo, chars[i + 2]));
                            i += 3;
                        } else {
                            ranges.push((lo, lo));
                            i += 1;
                        }
                    }
                    Atom::Class { ranges, negated }
                }
                c @ ('(' | ')' | '|' | '^' | '$' | '*' | '+' | '?' | '{' | '}' | ']') => {
                    return Err(format!("`{c}` is outside the supported regex subset"));
                }
                c => Atom::Char(c),
            };
            i += 1;
            let (min, max) = match chars.get(i) {
                Some('*') => (0, usize::MAX),
                Some('+') => (1, usize::MAX),
                Some('?') => (0, 1),
                Some('{') => {
                    let close = chars[i..].iter().position(|c| *c == '}').ok_or("an unclosed `{`")? + i;
                    let body: String = chars[i + 1..close].iter().collect();
                    let bad = || format!("bad quantifier `{{{body}}}`");
                    let (min, max) = match body.split_once(',') {
                        None => {
                            let n = body.parse().map_err(|_| bad())?;
                            (n, n)
                        }
                        Some((lo, "")) => (lo.parse().map_err(|_| bad())?, usize::MAX),
                        Some((lo, hi)) => (lo.parse().map_err(|_| bad())?, hi.parse().map_err(|_| bad())?),
                    };
                    i = close;
                    (min, max)
                }
                _ => {
                    pieces.push((atom, 1, 1));
                    continue;
                }
            };
            i += 1;
            if chars.get(i) == Some(&'?') {
                return Err("lazy quantifiers are outside the supported regex subset".into());
            }
            pieces.push((atom, min, max));
        }
        Ok(Self { anchored_start, anchored_end, pieces })
    }

    pub fn is_found_in(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        let starts = if self.anchored_start { 0..=0 } else { 0..=chars.len() };
        starts.into_iter().any(|start| self.matches_at(0, &chars[start..]))
    }

    fn matches_at(&self, piece: usize, rest: &[char]) -> bool {
        let Some((atom, min, max)) = self.pieces.get(piece) else {
            return !self.anchored_end || rest.is_empty();
        };
        let available = rest.iter().take_while(|c| atom.matches(**c)).take(*max).count();
        (*min..=available).rev().any(|n| self.matches_at(piece + 1, &rest[n..]))
    }
}
