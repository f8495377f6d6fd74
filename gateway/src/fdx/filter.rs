//! What the gateway does to a bank's FDX answer before an app sees it (DESIGN.md flow 4): every object is cut to
//! the fields the consent's clusters show ([`super::table`], an allow-list), lists keep only the consent's accounts,
//! transactions and statements older than the lookback window are dropped (the request's `startTime` was already
//! clamped; this is the second fence), and pagination links are rewritten to point at the gateway.
//!
//! Pure functions from the bank's bytes to the app's bytes: no I/O. The body is not parsed into a tree: each object
//! is read as its list of (key, JSON value text) pairs, the texts borrowed from the body (validated but not built, by
//! [`super::json::Reader`]), and the allowed pairs are written out as the bank sent them. Only what a decision needs
//! is read (an item's `accountId` and date, `page`, `links`, a customer's account list). Decided for the resource
//! API's hot path: the profile of a page of 25 transactions showed building, dropping and re-serializing a
//! `serde_json::Value` at about a third of the gateway's CPU. A list answer is read in one pass (its list member
//! straight into objects, `ListBody`), the shown fields of an object kind are looked up in the table once per answer
//! (`Shown`), and neighbouring kept fields are copied as one stretch of the body (`write_kept`).
//! `cargo bench -p gateway --bench filter` compares the filter with a `Value` parse and re-serialization of the same
//! bytes in the same run; counted in instructions (callgrind on that bench) the own reader and the stretches took a
//! page of 25 transactions from 317,385 to 253,588 instructions (serde_json's `RawValue` walk before). Consequences,
//! written down: a kept field's value passes byte for byte (nested objects included, when the table lists the
//! field), and so does the whitespace between neighbouring kept fields; fields keep the bank's order; an object that
//! names a key twice is refused (which of the two would the app see?).
//!
//! A body that is not JSON is [`FilterError::Malformed`] (the bank is unwell: the breaker counts it); one that does
//! not have the shape the endpoint promises is [`FilterError::Shape`]; the proxy answers 502 to both, never passing
//! anything through unfiltered.

use std::borrow::Cow;

use serde_json::{Map, Value};
use time::Date;

use super::json::{ReadError, Reader, string_value};
use super::table::{Endpoint, FdxObject, FieldRule, shown_fields};
use crate::consent::DataCluster;

/// What a response may contain.
#[derive(Debug, Clone, Copy)]
pub struct Allowed<'a> {
    pub granted: &'a [DataCluster],
    /// The accounts the person chose.
    pub accounts: &'a [String],
    /// The account the request is about (per-account endpoints).
    pub account: Option<&'a str>,
    /// The oldest date the lookback window lets through.
    pub earliest: Date,
    /// The gateway's base URL (issuer) for rewritten links.
    pub base: &'a str,
}

/// The bank's body does not have the endpoint's shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the bank's {0} response has an unexpected shape")]
pub struct ShapeError(pub &'static str);

/// Why a bank's body could not be filtered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// Not JSON at all (or not UTF-8).
    #[error("the bank's response is not valid JSON: {0}")]
    Malformed(String),
    #[error(transparent)]
    Shape(#[from] ShapeError),
}

/// The filtered body of `endpoint`, from the bank's `body`.
pub fn filter(endpoint: Endpoint, body: &[u8], allowed: &Allowed<'_>) -> Result<Vec<u8>, FilterError> {
    let name = endpoint.rule().name;
    let text = std::str::from_utf8(body).map_err(|e| FilterError::Malformed(e.to_string()))?;
    let shape = |_| ShapeError(name);
    // Room for the whole answer: at most the bank's bytes, plus the gateway's longer base in a rewritten link.
    let mut out = Vec::with_capacity(body.len() + allowed.base.len() + 16);
    match endpoint {
        Endpoint::Accounts => {
            let list = ListBody::parse(text, "accounts", name)?;
            list_answer(&mut out, &list, "accounts", FdxObject::Account, allowed, name, |a| {
                Ok(a.get_str("accountId")?.is_some_and(|id| allowed.covers(&id)))
            })?
        }
        Endpoint::Account => {
            let top = RawObject::parse(text, name)?;
            if top.get_str("accountId").map_err(shape)?.as_deref() != allowed.account {
                return Err(ShapeError(name).into());
            }
            write_kept(&mut out, text, &top, &Shown::of(FdxObject::Account, allowed.granted)).map_err(shape)?;
        }
        Endpoint::Transactions => {
            let list = ListBody::parse(text, "transactions", name)?;
            list_answer(&mut out, &list, "transactions", FdxObject::Transaction, allowed, name, |t| {
                Ok(allowed.same_account(t)? && allowed.within_lookback(t, "transactionTimestamp")?)
            })?
        }
        Endpoint::Statements => {
            let list = ListBody::parse(text, "statements", name)?;
            list_answer(&mut out, &list, "statements", FdxObject::Statement, allowed, name, |s| {
                Ok(allowed.same_account(s)? && allowed.within_lookback(s, "statementDate")?)
            })?
        }
        Endpoint::PaymentNetworks => {
            let list = ListBody::parse(text, "paymentNetworks", name)?;
            list_answer(&mut out, &list, "paymentNetworks", FdxObject::PaymentNetwork, allowed, name, |_| Ok(true))?
        }
        Endpoint::AccountContact => {
            let top = RawObject::parse(text, name)?;
            write_kept(&mut out, text, &top, &Shown::of(FdxObject::AccountContact, allowed.granted)).map_err(shape)?
        }
        Endpoint::CurrentCustomer => {
            let top = RawObject::parse(text, name)?;
            let shown = Shown::of(FdxObject::Customer, allowed.granted);
            let mut fields: Vec<(&str, Cow<'_, str>)> = Vec::new();
            for pair in top.kept(&shown) {
                let (_, rule, value) = pair.map_err(shape)?;
                let key = rule.field;
                let text = if key == "accounts" {
                    Cow::Owned(customer_accounts(value, allowed).ok_or(ShapeError(name))?.to_string())
                } else {
                    Cow::Borrowed(value)
                };
                fields.push((key, text));
            }
            write_fields(&mut out, fields.iter().map(|(k, v)| (*k, v.as_ref())));
        }
    }
    Ok(out)
}

/// A reading error as the filter reports it: a value of another kind than the endpoint promises is its shape,
/// anything else (syntax, end of input) is a malformed body.
fn read_error(error: ReadError, name: &'static str) -> FilterError {
    match error {
        ReadError::Shape => FilterError::Shape(ShapeError(name)),
        ReadError::Syntax(what, at) => FilterError::Malformed(format!("{what} at byte {at}")),
    }
}

/// A list answer: FDX `page` (only `nextOffset` and `totalElements`), `links` (only `next`, rewritten) and the list
/// `field` of `kind` objects, each kept when `keep` says so and cut to its shown fields.
fn list_answer(
    out: &mut Vec<u8>,
    list: &ListBody<'_>,
    field: &str,
    kind: FdxObject,
    allowed: &Allowed<'_>,
    name: &'static str,
    keep: impl Fn(&RawObject<'_>) -> Result<bool, Duplicate>,
) -> Result<(), ShapeError> {
    let shape = |_| ShapeError(name);
    let top = &list.members;
    let page = top.get("page").map_err(shape)?.and_then(|raw| serde_json::from_str::<Value>(raw).ok());
    let links = top.get("links").map_err(shape)?.and_then(|raw| serde_json::from_str::<Value>(raw).ok());
    out.push(b'{');
    if let Some(Value::Object(page)) = page {
        let mut kept = Map::new();
        if let Some(next) = page.get("nextOffset").filter(|v| v.is_string()) {
            kept.insert("nextOffset".into(), next.clone());
        }
        if let Some(total) = page.get("totalElements").filter(|v| v.is_u64()) {
            kept.insert("totalElements".into(), total.clone());
        }
        out.extend_from_slice(b"\"page\":");
        out.extend_from_slice(Value::Object(kept).to_string().as_bytes());
        out.push(b',');
    }
    if let Some(Value::Object(links)) = links {
        let mut kept = Map::new();
        if let Some(href) = links.get("next").and_then(|n| n.get("href")).and_then(Value::as_str)
            && let Some(rewritten) = rewrite_href(href, allowed.base)
        {
            kept.insert("next".into(), serde_json::json!({ "href": rewritten }));
        }
        out.extend_from_slice(b"\"links\":");
        out.extend_from_slice(Value::Object(kept).to_string().as_bytes());
        out.push(b',');
    }
    write_key(out, field);
    out.extend_from_slice(b":[");
    let shown = Shown::of(kind, allowed.granted);
    let mut first = true;
    for item in &list.items {
        if !keep(item).map_err(shape)? {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        write_kept(out, list.text, item, &shown).map_err(shape)?;
    }
    out.extend_from_slice(b"]}");
    Ok(())
}

/// A customer's `accounts`: only the consent's, each with `accountId`, `relationship` and rewritten `links`.
fn customer_accounts(raw: &str, allowed: &Allowed<'_>) -> Option<Value> {
    let Value::Array(mut accounts) = serde_json::from_str::<Value>(raw).ok()? else { return None };
    accounts.retain(|a| a.get("accountId").and_then(Value::as_str).is_some_and(|id| allowed.covers(id)));
    for account in accounts.iter_mut() {
        let Value::Object(fields) = account else { return None };
        fields.retain(|k, _| matches!(k.as_str(), "accountId" | "relationship" | "links"));
        if let Some(links) = fields.get_mut("links") {
            *links = rewrite_link_list(links, allowed.base);
        }
    }
    Some(Value::Array(accounts))
}

impl Allowed<'_> {
    fn covers(&self, account_id: &str) -> bool {
        self.accounts.iter().any(|a| a == account_id)
    }

    /// An item of a per-account list belongs to the requested account (an item without `accountId` is kept: the
    /// bank answered for the account the request named).
    fn same_account(&self, item: &RawObject<'_>) -> Result<bool, Duplicate> {
        Ok(match item.get("accountId")? {
            None => true,
            Some(raw) => string_value(raw).as_deref() == self.account,
        })
    }

    /// The item's date (`YYYY-MM-DD...`) is not before the window; an item without a readable date is dropped.
    fn within_lookback(&self, item: &RawObject<'_>, field: &str) -> Result<bool, Duplicate> {
        Ok(item.get_str(field)?.as_deref().and_then(leading_date).is_some_and(|day| day >= self.earliest))
    }
}

/// The calendar date a text starts with, `YYYY-MM-DD` (four-digit year; a day the month does not have is no date).
/// Read by hand: `time`'s format-description parser was 5% of the filter's time on a page of transactions.
fn leading_date(text: &str) -> Option<Date> {
    let b = text.as_bytes().get(..10)?;
    let digits = |range: std::ops::Range<usize>| {
        b[range].iter().try_fold(0u32, |n, c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = i32::try_from(digits(0..4)?).ok()?;
    let month = time::Month::try_from(u8::try_from(digits(5..7)?).ok()?).ok()?;
    Date::from_calendar_date(year, month, u8::try_from(digits(8..10)?).ok()?).ok()
}

/// An object names the same key twice.
#[derive(Debug, Clone, Copy)]
struct Duplicate;

/// A JSON object as its (key, value text, where the key's opening quote is in the body) triples in the bank's
/// order, values borrowed from the body.
struct RawObject<'a>(Vec<(Cow<'a, str>, &'a str, usize)>);

impl<'a> RawObject<'a> {
    /// The value of `key`, if present once.
    fn get(&self, key: &str) -> Result<Option<&'a str>, Duplicate> {
        let mut found = None;
        for (k, v, _) in &self.0 {
            if k == key {
                if found.is_some() {
                    return Err(Duplicate);
                }
                found = Some(*v);
            }
        }
        Ok(found)
    }

    /// The string value of `key` (`None` when absent or not a string).
    fn get_str(&self, key: &str) -> Result<Option<Cow<'a, str>>, Duplicate> {
        Ok(self.get(key)?.and_then(string_value))
    }

    /// The pairs whose key is `shown`, in the bank's order, each with its place in the object and its table row;
    /// an `Err` where a shown key comes a second time.
    fn kept<'s>(
        &'s self,
        shown: &'s Shown,
    ) -> impl Iterator<Item = Result<(usize, &'static FieldRule, &'a str), Duplicate>> + 's {
        let mut seen = Seen::default();
        self.0.iter().enumerate().filter_map(move |(position, (key, value, _))| {
            let index = shown.index_at(position, key)?;
            Some(seen.first_time(index).map(|()| (position, shown.rules[index], *value)))
        })
    }

    /// A whole body that must be one object (the single-object endpoints).
    fn parse(text: &'a str, name: &'static str) -> Result<Self, FilterError> {
        let mut reader = Reader::new(text);
        let object = Self::read(&mut reader, 16).map_err(|e| read_error(e, name))?;
        reader.end().map_err(|e| read_error(e, name))?;
        Ok(object)
    }

    /// The object at the reader's position (room made for `expected` pairs).
    fn read(reader: &mut Reader<'a>, expected: usize) -> Result<Self, ReadError> {
        reader.begin_object()?;
        let mut pairs = Vec::with_capacity(expected);
        while let Some(key) = reader.next_key(pairs.is_empty())? {
            let key_at = reader.last_key_at();
            pairs.push((key, reader.value()?, key_at));
        }
        Ok(RawObject(pairs))
    }
}

/// The fields of one kind of object that a consent shows, taken from the table once per answer (not once per key
/// of every item: the table is a list of every field of every object).
///
/// The items of a list come with the same keys in the same order, so what the key at each place of the previous
/// item was is remembered (`memo`), and a key is first compared with that one (exactly: a hidden key is remembered
/// by its text) before the list of shown fields is searched. Decided from a profile of the filter on a page of 25
/// transactions: the search, a string comparison with every shown field for every key of every item, was about 16%
/// of the filter's time.
struct Shown {
    rules: Vec<&'static FieldRule>,
    memo: std::cell::RefCell<Vec<Memo>>,
}

/// What the key at one place of the previous object was.
enum Memo {
    Unknown,
    Shown(usize),
    Hidden(String),
}

/// Places of an object remembered (beyond, keys are looked up every time).
const MEMO_PLACES: usize = 64;

impl Shown {
    fn of(kind: FdxObject, granted: &[DataCluster]) -> Self {
        Self { rules: shown_fields(kind, granted), memo: std::cell::RefCell::new(Vec::new()) }
    }

    /// The field's place in the list of shown fields, when shown.
    fn index(&self, key: &str) -> Option<usize> {
        self.rules.iter().position(|rule| rule.field == key)
    }

    /// [`Self::index`] of the key at `position` of an object, remembered for the next object.
    fn index_at(&self, position: usize, key: &str) -> Option<usize> {
        if position >= MEMO_PLACES {
            return self.index(key);
        }
        let mut memo = self.memo.borrow_mut();
        match memo.get(position) {
            Some(Memo::Shown(index)) if self.rules[*index].field == key => return Some(*index),
            Some(Memo::Hidden(hidden)) if hidden == key => return None,
            _ => {}
        }
        let found = self.index(key);
        if memo.len() <= position {
            memo.resize_with(position + 1, || Memo::Unknown);
        }
        memo[position] = match found {
            Some(index) => Memo::Shown(index),
            None => Memo::Hidden(key.to_owned()),
        };
        found
    }
}

/// Which shown fields an object named already (a bit per [`Shown`] index; the table has far fewer than 128 fields
/// per object, and a test keeps it so).
#[derive(Default)]
struct Seen(u128);

impl Seen {
    fn first_time(&mut self, index: usize) -> Result<(), Duplicate> {
        let bit = 1u128.checked_shl(index as u32).ok_or(Duplicate)?;
        if self.0 & bit != 0 {
            return Err(Duplicate);
        }
        self.0 |= bit;
        Ok(())
    }
}

/// A list answer's top-level object read in one pass: the list field's items as objects, every other member as a
/// raw pair (the list is not first validated as one raw value and then parsed again).
struct ListBody<'a> {
    /// The whole body.
    text: &'a str,
    members: RawObject<'a>,
    items: Vec<RawObject<'a>>,
}

impl<'a> ListBody<'a> {
    /// `text` as an object whose member `field` (absent or `null`: no items) is a list of objects.
    fn parse(text: &'a str, field: &'static str, name: &'static str) -> Result<Self, FilterError> {
        let mut reader = Reader::new(text);
        let list = Self::read(&mut reader, field).map_err(|e| read_error(e, name))?;
        reader.end().map_err(|e| read_error(e, name))?;
        Ok(list)
    }

    fn read(reader: &mut Reader<'a>, field: &'static str) -> Result<Self, ReadError> {
        reader.begin_object()?;
        let mut members = Vec::new();
        let mut items: Option<Vec<RawObject<'a>>> = None;
        let mut first = true;
        while let Some(key) = reader.next_key(first)? {
            first = false;
            if key != field {
                let key_at = reader.last_key_at();
                members.push((key, reader.value()?, key_at));
                continue;
            }
            if items.is_some() {
                // Which of the two lists would the app see?
                return Err(ReadError::Shape);
            }
            let mut list = Vec::new();
            if !reader.take_null()? {
                reader.begin_array()?;
                // The items of a list have about as many fields as the first one.
                let mut expected = 16;
                while reader.next_element(list.is_empty())? {
                    let item = RawObject::read(reader, expected)?;
                    expected = item.0.len();
                    list.push(item);
                }
            }
            items = Some(list);
        }
        Ok(ListBody { text: reader.text(), members: RawObject(members), items: items.unwrap_or_default() })
    }
}

/// Writes `{"key":value,...}` of the object's `shown` pairs, each value as the bank sent it; a shown key named twice
/// is refused. `text` is the body the object was read from.
///
/// Kept pairs that stand next to each other in the bank's object are copied as one stretch of the body, from the
/// first one's key to the last one's value (the commas and whitespace between them are the bank's, and JSON):
/// a consent that shows most fields of an item costs a copy or two per item, not two per field. Decided from the
/// filter's instruction count (callgrind, a page of 25 transactions): two copies per kept field were a quarter of
/// it. A key the bank wrote with escapes is written as the table's name instead.
fn write_kept(out: &mut Vec<u8>, text: &str, object: &RawObject<'_>, shown: &Shown) -> Result<(), Duplicate> {
    out.push(b'{');
    let mut wrote = false;
    // The stretch of the body being gathered (its start and end), and the place of its last pair.
    let mut stretch: Option<(usize, usize, usize)> = None;
    let flush = |out: &mut Vec<u8>, wrote: &mut bool, stretch: Option<(usize, usize, usize)>| {
        if let Some((start, end, _)) = stretch {
            if *wrote {
                out.push(b',');
            }
            out.extend_from_slice(&text.as_bytes()[start..end]);
            *wrote = true;
        }
    };
    for pair in object.kept(shown) {
        let (position, rule, value) = pair?;
        let (key, _, key_at) = &object.0[position];
        let end = offset_in(text, value).map(|at| at + value.len());
        match (key, end) {
            (Cow::Borrowed(_), Some(end)) => match stretch {
                Some((start, _, last)) if last + 1 == position => stretch = Some((start, end, position)),
                _ => {
                    flush(out, &mut wrote, stretch);
                    stretch = Some((*key_at, end, position));
                }
            },
            _ => {
                flush(out, &mut wrote, stretch.take());
                if wrote {
                    out.push(b',');
                }
                // The table's name, equal to the bank's key and plain ASCII (a table test), so written unescaped.
                out.extend_from_slice(rule.json_key.as_bytes());
                out.extend_from_slice(value.as_bytes());
                wrote = true;
            }
        }
    }
    flush(out, &mut wrote, stretch);
    out.push(b'}');
    Ok(())
}

/// Where `part`, a slice of `text`, starts in it.
fn offset_in(text: &str, part: &str) -> Option<usize> {
    let at = (part.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
    (at + part.len() <= text.len()).then_some(at)
}

/// Writes `{"key":json,...}` from keys and JSON texts.
fn write_fields<'a>(out: &mut Vec<u8>, fields: impl Iterator<Item = (&'a str, &'a str)>) {
    out.push(b'{');
    for (i, (key, json)) in fields.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_key(out, key);
        out.push(b':');
        out.extend_from_slice(json.as_bytes());
    }
    out.push(b'}');
}

/// A JSON string (RFC 8259 §7): quote, reverse solidus and control characters escaped.
fn write_key(out: &mut Vec<u8>, key: &str) {
    out.push(b'"');
    for &b in key.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0..0x20 => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

fn rewrite_link_list(links: &Value, base: &str) -> Value {
    let Value::Array(links) = links else { return Value::Array(Vec::new()) };
    Value::Array(
        links
            .iter()
            .filter_map(|l| l.get("href").and_then(Value::as_str))
            .filter_map(|href| rewrite_href(href, base))
            .map(|href| serde_json::json!({ "href": href }))
            .collect(),
    )
}

/// A bank's link (`/fdx/v6/...`, or absolute at the bank's host) as the same resource at the gateway; `None` for
/// anything that is not a plain FDX v6 path (such a link is dropped, never passed on).
pub fn rewrite_href(href: &str, base: &str) -> Option<String> {
    let path = if href.starts_with('/') {
        href
    } else {
        let rest = href.strip_prefix("https://")?;
        &rest[rest.find('/')?..]
    };
    crate::banks::is_fdx_path(path).then(|| format!("{base}{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::date;

    /// The filter from and to JSON values.
    fn run(endpoint: Endpoint, body: Value, allowed: &Allowed<'_>) -> Result<Value, FilterError> {
        let bytes = filter(endpoint, body.to_string().as_bytes(), allowed)?;
        Ok(serde_json::from_slice(&bytes).expect("the filter writes JSON"))
    }

    fn allowed<'a>(granted: &'a [DataCluster], accounts: &'a [String], account: Option<&'a str>) -> Allowed<'a> {
        Allowed { granted, accounts, account, earliest: date!(2026 - 01 - 01), base: "https://gw.test" }
    }

    #[test]
    fn basic_without_detailed_shows_the_descriptor_only() {
        let accounts = vec!["a1".to_owned()];
        let body = json!({
            "page": {"totalElements": 2, "junk": 1},
            "links": {"next": {"href": "/fdx/v6/accounts?offset=x&limit=1"}, "prev": {"href": "/x"}},
            "accounts": [
                {"accountId": "a1", "accountNumberDisplay": "...1234", "currentBalance": 10.5, "accountNumber": "99"},
                {"accountId": "a2", "accountNumberDisplay": "...9999"}
            ]
        });
        let out = run(Endpoint::Accounts, body.clone(), &allowed(&[DataCluster::AccountBasic], &accounts, None))
            .expect("shape");
        assert_eq!(
            out,
            json!({
                "page": {"totalElements": 2},
                "links": {"next": {"href": "https://gw.test/fdx/v6/accounts?offset=x&limit=1"}},
                "accounts": [{"accountId": "a1", "accountNumberDisplay": "...1234"}]
            })
        );
        let detailed = [DataCluster::AccountDetailed];
        let out = run(Endpoint::Accounts, body, &allowed(&detailed, &accounts, None)).expect("shape");
        assert_eq!(out["accounts"][0]["currentBalance"], 10.5);
        assert!(out["accounts"][0].get("accountNumber").is_none(), "unlisted fields never pass");
    }

    #[test]
    fn transactions_of_other_accounts_or_before_the_window_are_dropped() {
        let accounts = vec!["a1".to_owned()];
        let body = json!({"transactions": [
            {"accountId": "a1", "transactionId": "t1", "transactionTimestamp": "2026-02-01T10:00:00Z", "amount": 1.0},
            {"accountId": "a1", "transactionId": "t0", "transactionTimestamp": "2025-12-31T23:59:59Z", "amount": 2.0},
            {"accountId": "a2", "transactionId": "t2", "transactionTimestamp": "2026-02-01T10:00:00Z", "amount": 3.0},
            {"accountId": "a1", "transactionId": "t3", "amount": 4.0},
        ]});
        let out =
            run(Endpoint::Transactions, body, &allowed(&[DataCluster::Transactions], &accounts, Some("a1"))).unwrap();
        let ids: Vec<&str> =
            out["transactions"].as_array().unwrap().iter().map(|t| t["transactionId"].as_str().unwrap()).collect();
        assert_eq!(ids, ["t1"]);
    }

    #[test]
    fn items_with_keys_in_changing_places_are_cut_the_same() {
        let accounts = vec!["a1".to_owned()];
        // The same fields in another order, a hidden key where a shown one was, a shown one where a hidden one was.
        let body = br#"{"accounts":[
            {"accountId":"a1","accountNumber":"111","accountNumberDisplay":"...1"},
            {"accountNumber":"222","accountId":"a1","accountNumberDisplay":"...2"},
            {"accountNumberDisplay":"...3","accountId":"a1","accountNumber":"333"},
            {"accountId":"a1","accountNumberDisplay":"...4","accountNumber":"444"}
        ]}"#;
        let out = filter(Endpoint::Accounts, body, &allowed(&[DataCluster::AccountBasic], &accounts, None)).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("accountNumber\""), "a hidden field never passes: {text}");
        assert_eq!(
            text,
            r#"{"accounts":[{"accountId":"a1","accountNumberDisplay":"...1"},{"accountId":"a1","accountNumberDisplay":"...2"},{"accountNumberDisplay":"...3","accountId":"a1"},{"accountId":"a1","accountNumberDisplay":"...4"}]}"#
        );
    }

    #[test]
    fn a_date_is_read_from_the_start_of_a_text() {
        assert_eq!(leading_date("2026-02-28T23:59:59Z"), Some(date!(2026 - 02 - 28)));
        assert_eq!(leading_date("2024-02-29"), Some(date!(2024 - 02 - 29)));
        for no in
            ["2026-02-29", "2026-13-01", "2026-00-10", "2026-1-010", "26-01-01xx", "2026-01-0", "２０２６-01-01", ""]
        {
            assert_eq!(leading_date(no), None, "{no}");
        }
    }

    #[test]
    fn customer_fields_follow_personal_and_contact() {
        let accounts = vec!["a1".to_owned()];
        let body = json!({
            "customerId": "c", "type": "CONSUMER", "name": {"first": "A"}, "dateOfBirth": "1990-01-01",
            "emails": ["a@b"], "ssn": "123",
            "accounts": [
                {"accountId": "a1", "relationship": "PRIMARY", "links": [{"href": "/fdx/v6/accounts/a1"}], "x": 1},
                {"accountId": "a9", "relationship": "PRIMARY"}
            ]
        });
        let out =
            run(Endpoint::CurrentCustomer, body.clone(), &allowed(&[DataCluster::CustomerContact], &accounts, None))
                .unwrap();
        assert_eq!(
            out,
            json!({"customerId": "c", "type": "CONSUMER", "emails": ["a@b"], "accounts": [
                {"accountId": "a1", "relationship": "PRIMARY", "links": [{"href": "https://gw.test/fdx/v6/accounts/a1"}]}
            ]})
        );
        let out =
            run(Endpoint::CurrentCustomer, body, &allowed(&[DataCluster::CustomerPersonal], &accounts, None)).unwrap();
        assert!(out.get("name").is_some() && out.get("emails").is_none() && out.get("ssn").is_none());
    }

    #[test]
    fn wrong_shapes_and_wrong_accounts_are_errors() {
        let accounts = vec!["a1".to_owned()];
        let basic = [DataCluster::AccountBasic];
        assert!(run(Endpoint::Accounts, json!([1]), &allowed(&basic, &accounts, None)).is_err());
        assert!(run(Endpoint::Accounts, json!({"accounts": 3}), &allowed(&basic, &accounts, None)).is_err());
        let other = json!({"accountId": "a9"});
        assert!(run(Endpoint::Account, other, &allowed(&basic, &accounts, Some("a1"))).is_err());
    }

    #[test]
    fn only_plain_fdx_links_are_rewritten() {
        let base = "https://gw.test";
        assert_eq!(rewrite_href("/fdx/v6/accounts?a=b", base).as_deref(), Some("https://gw.test/fdx/v6/accounts?a=b"));
        assert_eq!(
            rewrite_href("https://bank.test:9101/fdx/v6/accounts/a1", base).as_deref(),
            Some("https://gw.test/fdx/v6/accounts/a1")
        );
        for bad in [
            "/admin/reset",
            "http://bank/fdx/v6/x",
            "/fdx/v6/../admin",
            "//evil/fdx/v6/x",
            "/fdx/v6/a b",
            "javascript:x",
        ] {
            assert_eq!(rewrite_href(bad, base), None, "{bad}");
        }
    }

    #[test]
    fn kept_values_pass_byte_for_byte_and_escaped_keys_are_read() {
        let accounts = vec!["a1".to_owned()];
        let body =
            br#"{"account\u0049d":"a\u0031","currentBalance":10.50,"balanceAsOf":"2026-01-02T00:00:00Z","x":{"y":1}}"#;
        let detailed = [DataCluster::AccountDetailed];
        let out = filter(Endpoint::Account, body, &allowed(&detailed, &accounts, Some("a1"))).expect("filtered");
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(text, r#"{"accountId":"a\u0031","currentBalance":10.50,"balanceAsOf":"2026-01-02T00:00:00Z"}"#);
    }

    #[test]
    fn neighbouring_kept_fields_are_copied_as_they_stand_with_the_bank_s_whitespace() {
        let accounts = vec!["a1".to_owned()];
        let basic = [DataCluster::AccountBasic];
        let body = br#"{"accounts":[ { "accountId" : "a1" ,
            "accountNumberDisplay":"...1", "accountNumber": "99", "acc\u006funtType" : "CHECKING", "nickname":"n" } ]}"#;
        let out = filter(Endpoint::Accounts, body, &allowed(&basic, &accounts, None)).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "{\"accounts\":[{\"accountId\" : \"a1\" ,\n            \"accountNumberDisplay\":\"...1\",\"accountType\":\"CHECKING\",\
             \"nickname\":\"n\"}]}"
        );
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed["accounts"][0],
            json!({"accountId": "a1", "accountNumberDisplay": "...1", "accountType": "CHECKING", "nickname": "n"})
        );
    }

    #[test]
    fn a_key_given_twice_is_refused_not_guessed() {
        let accounts = vec!["a1".to_owned()];
        let basic = [DataCluster::AccountBasic];
        let twice = br#"{"accounts":[{"accountId":"a1","nickname":"x","nickname":"y"}]}"#;
        let refused = filter(Endpoint::Accounts, twice, &allowed(&basic, &accounts, None));
        assert_eq!(refused, Err(FilterError::Shape(ShapeError("accounts"))));
        let ids_twice = br#"{"accounts":[{"accountId":"a9","accountId":"a1"}]}"#;
        assert!(filter(Endpoint::Accounts, ids_twice, &allowed(&basic, &accounts, None)).is_err());
        let list_twice = br#"{"accounts":[{"accountId":"a9"}],"accounts":[{"accountId":"a1"}]}"#;
        let refused = filter(Endpoint::Accounts, list_twice, &allowed(&basic, &accounts, None));
        assert_eq!(refused, Err(FilterError::Shape(ShapeError("accounts"))));
    }

    #[test]
    fn a_body_that_is_not_json_is_malformed_and_a_wrong_shape_is_a_shape_error() {
        let accounts = vec!["a1".to_owned()];
        let basic = [DataCluster::AccountBasic];
        for bad in [&b"{\"accounts\": ["[..], b"not json", b"\xff\xfe", b"{\"a\":1} trailing"] {
            let answer = filter(Endpoint::Accounts, bad, &allowed(&basic, &accounts, None));
            assert!(matches!(answer, Err(FilterError::Malformed(_))), "{answer:?}");
        }
        for shape in [&b"[1]"[..], b"{\"accounts\": 3}", b"{\"accounts\": [1]}", b"\"text\"", b"{\"accounts\": {}}"] {
            let answer = filter(Endpoint::Accounts, shape, &allowed(&basic, &accounts, None));
            assert_eq!(answer, Err(FilterError::Shape(ShapeError("accounts"))), "{}", String::from_utf8_lossy(shape));
        }
        for empty in [&b"{\"accounts\": null}"[..], b"{}", b"{\"page\": {}, \"accounts\": []}"] {
            let answer = filter(Endpoint::Accounts, empty, &allowed(&basic, &accounts, None)).expect("an empty list");
            let answer: Value = serde_json::from_slice(&answer).expect("json");
            assert_eq!(answer["accounts"], json!([]), "{}", String::from_utf8_lossy(empty));
        }
    }
}
