//! What the gateway does to a bank's FDX answer before an app sees it (DESIGN.md flow 4): every object is cut to
//! the fields the consent's clusters show ([`super::table`], an allow-list), lists keep only the consent's accounts,
//! transactions and statements older than the lookback window are dropped (the request's `startTime` was already
//! clamped; this is the second fence), and pagination links are rewritten to point at the gateway.
//!
//! Pure functions over `serde_json::Value`: no I/O. A body that does not have the shape the endpoint promises is a
//! [`ShapeError`] (the proxy answers 502), never passed through unfiltered.

use serde_json::{Map, Value};
use time::Date;

use super::table::{Endpoint, FdxObject, shows};
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

/// The filtered body of `endpoint`.
pub fn filter(endpoint: Endpoint, body: Value, allowed: &Allowed<'_>) -> Result<Value, ShapeError> {
    let name = endpoint.rule().name;
    let Value::Object(mut body) = body else { return Err(ShapeError(name)) };
    let out = match endpoint {
        Endpoint::Accounts => {
            let accounts = take_list(&mut body, "accounts", name)?
                .into_iter()
                .filter(|a| a.get("accountId").and_then(Value::as_str).is_some_and(|id| allowed.covers(id)))
                .map(|a| object(FdxObject::Account, a, allowed.granted, name))
                .collect::<Result<Vec<_>, _>>()?;
            envelope(&body, allowed, [("accounts", Value::Array(accounts))])
        }
        Endpoint::Account => {
            let account = object(FdxObject::Account, Value::Object(body), allowed.granted, name)?;
            if account.get("accountId").and_then(Value::as_str) != allowed.account {
                return Err(ShapeError(name));
            }
            account
        }
        Endpoint::Transactions => {
            let transactions = take_list(&mut body, "transactions", name)?
                .into_iter()
                .filter(|t| allowed.same_account(t) && allowed.within_lookback(t, "transactionTimestamp"))
                .map(|t| object(FdxObject::Transaction, t, allowed.granted, name))
                .collect::<Result<Vec<_>, _>>()?;
            envelope(&body, allowed, [("transactions", Value::Array(transactions))])
        }
        Endpoint::Statements => {
            let statements = take_list(&mut body, "statements", name)?
                .into_iter()
                .filter(|s| allowed.same_account(s) && allowed.within_lookback(s, "statementDate"))
                .map(|s| object(FdxObject::Statement, s, allowed.granted, name))
                .collect::<Result<Vec<_>, _>>()?;
            envelope(&body, allowed, [("statements", Value::Array(statements))])
        }
        Endpoint::PaymentNetworks => {
            let networks = take_list(&mut body, "paymentNetworks", name)?
                .into_iter()
                .map(|n| object(FdxObject::PaymentNetwork, n, allowed.granted, name))
                .collect::<Result<Vec<_>, _>>()?;
            envelope(&body, allowed, [("paymentNetworks", Value::Array(networks))])
        }
        Endpoint::AccountContact => object(FdxObject::AccountContact, Value::Object(body), allowed.granted, name)?,
        Endpoint::CurrentCustomer => {
            let mut customer = object(FdxObject::Customer, Value::Object(body), allowed.granted, name)?;
            if let Some(Value::Array(accounts)) = customer.get_mut("accounts") {
                accounts.retain(|a| a.get("accountId").and_then(Value::as_str).is_some_and(|id| allowed.covers(id)));
                for account in accounts.iter_mut() {
                    let Value::Object(fields) = account else { return Err(ShapeError(name)) };
                    fields.retain(|k, _| matches!(k.as_str(), "accountId" | "relationship" | "links"));
                    if let Some(links) = fields.get_mut("links") {
                        *links = rewrite_link_list(links, allowed.base);
                    }
                }
            }
            customer
        }
    };
    Ok(out)
}

impl Allowed<'_> {
    fn covers(&self, account_id: &str) -> bool {
        self.accounts.iter().any(|a| a == account_id)
    }

    /// An item of a per-account list belongs to the requested account (an item without `accountId` is kept: the
    /// bank answered for the account the request named).
    fn same_account(&self, item: &Value) -> bool {
        match item.get("accountId") {
            None => true,
            Some(id) => id.as_str() == self.account,
        }
    }

    /// The item's date (`YYYY-MM-DD...`) is not before the window; an item without a readable date is dropped.
    fn within_lookback(&self, item: &Value, field: &str) -> bool {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        item.get(field)
            .and_then(Value::as_str)
            .and_then(|text| text.get(..10))
            .and_then(|day| Date::parse(day, &format).ok())
            .is_some_and(|day| day >= self.earliest)
    }
}

fn take_list(body: &mut Map<String, Value>, field: &str, name: &'static str) -> Result<Vec<Value>, ShapeError> {
    match body.remove(field) {
        Some(Value::Array(items)) => Ok(items),
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(_) => Err(ShapeError(name)),
    }
}

/// `value` cut to the fields of `object` that `granted` shows.
fn object(kind: FdxObject, value: Value, granted: &[DataCluster], name: &'static str) -> Result<Value, ShapeError> {
    let Value::Object(mut fields) = value else { return Err(ShapeError(name)) };
    fields.retain(|field, _| shows(kind, field, granted));
    Ok(Value::Object(fields))
}

/// A list answer: FDX `page` (only `nextOffset` and `totalElements`), `links` (only `next`, rewritten) and the list.
fn envelope<const N: usize>(bank: &Map<String, Value>, allowed: &Allowed<'_>, lists: [(&str, Value); N]) -> Value {
    let mut out = Map::new();
    if let Some(Value::Object(page)) = bank.get("page") {
        let mut kept = Map::new();
        if let Some(next) = page.get("nextOffset").filter(|v| v.is_string()) {
            kept.insert("nextOffset".into(), next.clone());
        }
        if let Some(total) = page.get("totalElements").filter(|v| v.is_u64()) {
            kept.insert("totalElements".into(), total.clone());
        }
        out.insert("page".into(), Value::Object(kept));
    }
    if let Some(Value::Object(links)) = bank.get("links") {
        let mut kept = Map::new();
        if let Some(href) = links.get("next").and_then(|n| n.get("href")).and_then(Value::as_str)
            && let Some(rewritten) = rewrite_href(href, allowed.base)
        {
            kept.insert("next".into(), serde_json::json!({ "href": rewritten }));
        }
        out.insert("links".into(), Value::Object(kept));
    }
    for (name, list) in lists {
        out.insert(name.into(), list);
    }
    Value::Object(out)
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
        let out = filter(Endpoint::Accounts, body.clone(), &allowed(&[DataCluster::AccountBasic], &accounts, None))
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
        let out = filter(Endpoint::Accounts, body, &allowed(&detailed, &accounts, None)).expect("shape");
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
        let out = filter(Endpoint::Transactions, body, &allowed(&[DataCluster::Transactions], &accounts, Some("a1")))
            .unwrap();
        let ids: Vec<&str> =
            out["transactions"].as_array().unwrap().iter().map(|t| t["transactionId"].as_str().unwrap()).collect();
        assert_eq!(ids, ["t1"]);
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
            filter(Endpoint::CurrentCustomer, body.clone(), &allowed(&[DataCluster::CustomerContact], &accounts, None))
                .unwrap();
        assert_eq!(
            out,
            json!({"customerId": "c", "type": "CONSUMER", "emails": ["a@b"], "accounts": [
                {"accountId": "a1", "relationship": "PRIMARY", "links": [{"href": "https://gw.test/fdx/v6/accounts/a1"}]}
            ]})
        );
        let out = filter(Endpoint::CurrentCustomer, body, &allowed(&[DataCluster::CustomerPersonal], &accounts, None))
            .unwrap();
        assert!(out.get("name").is_some() && out.get("emails").is_none() && out.get("ssn").is_none());
    }

    #[test]
    fn wrong_shapes_and_wrong_accounts_are_errors() {
        let accounts = vec!["a1".to_owned()];
        let basic = [DataCluster::AccountBasic];
        assert!(filter(Endpoint::Accounts, json!([1]), &allowed(&basic, &accounts, None)).is_err());
        assert!(filter(Endpoint::Accounts, json!({"accounts": 3}), &allowed(&basic, &accounts, None)).is_err());
        let other = json!({"accountId": "a9"});
        assert!(filter(Endpoint::Account, other, &allowed(&basic, &accounts, Some("a1"))).is_err());
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
}
