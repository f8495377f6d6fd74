//! What an app asks for: a [`ConsentRequest`] parsed and validated from either request syntax the gateway accepts
//! at its PAR endpoint (RFC 9126):
//!
//! 1. **FDX 6.2 `ConsentRequest`** (`components.schemas.ConsentRequestentity`): `durationType`, `durationPeriod`,
//!    `lookbackPeriod`, `resources[{resourceType, dataClusters}]`, plus our documented extension member `purposes`
//!    (FDX has no purpose field; CFPB 1033 wants the purpose stated). Unknown members are ignored, as FDX entities
//!    are extensible. Errors map to OAuth `invalid_request` (RFC 6749 §4.1.2.1).
//! 2. **RFC 9396 `authorization_details`**: a JSON array holding exactly one object of our documented type
//!    [`AUTHORIZATION_DETAILS_TYPE`] (`"fdx_consent"`) with `dataClusters`, `durationType`, `durationPeriod`,
//!    `lookbackPeriod`, `purposes` and optional `accounts`. Unknown members and unknown types are refused (RFC 9396
//!    §5: "not conforming to the respective type definition") with `invalid_authorization_details`.
//!
//! Pure parsing: no I/O. This module must never accept a request that breaks a CFPB 1033 limit (duration above 365
//! days, lookback above 730 days, no stated purpose); whether a secondary-use purpose was opted into separately is
//! the lifecycle's decision, not the parser's.

use super::cluster::DataCluster;
use super::duration::{ConsentDuration, DurationError, DurationType, LookbackPeriod};
use super::purpose::Purpose;
use serde::Deserialize;
use serde_json::{Value, json};
use std::fmt;

/// The RFC 9396 `type` of our authorization details object.
pub const AUTHORIZATION_DETAILS_TYPE: &str = "fdx_consent";
/// Longest account identifier accepted (FDX 6.2 `resourceId` maxLength).
pub const MAX_ACCOUNT_ID_LEN: usize = 256;

/// Which syntax a request arrived in (decides the OAuth error code of a refusal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestSyntax {
    /// FDX 6.2 `ConsentRequest` JSON.
    FdxConsentRequest,
    /// RFC 9396 `authorization_details`.
    AuthorizationDetails,
}

/// A validated consent request: what the app wants, for how long, how far back and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRequest {
    /// Requested clusters, sorted, without duplicates, never empty.
    pub clusters: Vec<DataCluster>,
    pub duration: ConsentDuration,
    pub lookback: LookbackPeriod,
    /// Stated purposes, sorted, without duplicates, never empty.
    pub purposes: Vec<Purpose>,
    /// Accounts the app asks for by id (RFC 9396 syntax only); `None` lets the person choose any.
    pub accounts: Option<Vec<String>>,
}

/// What was wrong with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestProblem {
    /// Not JSON, or a member of the wrong JSON type.
    Malformed(String),
    /// RFC 9396: no object of type `fdx_consent` in the array.
    NoConsentDetails,
    /// RFC 9396: an object of a type this server does not know.
    UnsupportedType(String),
    /// RFC 9396: more than one `fdx_consent` object.
    MoreThanOneConsent,
    MissingField(&'static str),
    UnknownCluster(String),
    NoClusters,
    UnknownResourceType(String),
    UnknownPurpose(String),
    NoPurposes,
    UnknownDurationType(String),
    Duration(DurationError),
    BadAccountId(String),
    NoAccounts,
}

impl fmt::Display for RequestProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "malformed consent request: {why}"),
            Self::NoConsentDetails => {
                write!(f, "authorization_details holds no object of type \"{AUTHORIZATION_DETAILS_TYPE}\"")
            }
            Self::UnsupportedType(t) => write!(f, "unsupported authorization_details type {t:?}"),
            Self::MoreThanOneConsent => {
                write!(f, "authorization_details may hold only one object of type \"{AUTHORIZATION_DETAILS_TYPE}\"")
            }
            Self::MissingField(name) => write!(f, "{name} is required"),
            Self::UnknownCluster(c) => write!(f, "unknown FDX data cluster {c:?}"),
            Self::NoClusters => write!(f, "at least one data cluster is required"),
            Self::UnknownResourceType(t) => {
                write!(f, "unknown resourceType {t:?} (expected ACCOUNT, CUSTOMER or DOCUMENT)")
            }
            Self::UnknownPurpose(p) => write!(f, "unknown purpose {p:?}"),
            Self::NoPurposes => write!(f, "at least one purpose is required"),
            Self::UnknownDurationType(d) => {
                write!(f, "unknown durationType {d:?} (expected ONE_TIME, PERSISTENT or TIME_BOUND)")
            }
            Self::Duration(e) => write!(f, "{e}"),
            Self::BadAccountId(a) => {
                write!(f, "account id {a:?} must be 1 to {MAX_ACCOUNT_ID_LEN} printable characters")
            }
            Self::NoAccounts => write!(f, "accounts, when present, must name at least one account"),
        }
    }
}

/// A refused consent request, with the syntax it came in (RFC 9396 §5 / RFC 6749 §4.1.2.1 error mapping).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}")]
pub struct ConsentRequestError {
    pub syntax: RequestSyntax,
    pub problem: RequestProblem,
}

impl ConsentRequestError {
    /// The OAuth `error` code: `invalid_authorization_details` for RFC 9396 requests (RFC 9396 §5),
    /// `invalid_request` for FDX ConsentRequest JSON.
    pub fn oauth_error(&self) -> &'static str {
        match self.syntax {
            RequestSyntax::AuthorizationDetails => "invalid_authorization_details",
            RequestSyntax::FdxConsentRequest => "invalid_request",
        }
    }

    /// The OAuth `error_description` (safe to return to the client: names only what the client sent).
    pub fn description(&self) -> String {
        self.problem.to_string()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FdxRaw {
    duration_type: Option<String>,
    duration_period: Option<i64>,
    lookback_period: Option<i64>,
    resources: Option<Vec<FdxResourceRaw>>,
    purposes: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FdxResourceRaw {
    resource_type: String,
    data_clusters: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RarRaw {
    #[serde(rename = "type")]
    _type: String,
    data_clusters: Option<Vec<String>>,
    duration_type: Option<String>,
    duration_period: Option<i64>,
    lookback_period: Option<i64>,
    purposes: Option<Vec<String>>,
    accounts: Option<Vec<String>>,
}

impl ConsentRequest {
    /// Parses an FDX 6.2 ConsentRequest JSON document.
    pub fn from_fdx_json(text: &str) -> Result<ConsentRequest, ConsentRequestError> {
        let fail = |problem| ConsentRequestError { syntax: RequestSyntax::FdxConsentRequest, problem };
        let value: Value = serde_json::from_str(text).map_err(|e| fail(RequestProblem::Malformed(e.to_string())))?;
        Self::from_fdx_value(&value)
    }

    /// Validates an FDX 6.2 ConsentRequest already parsed as JSON.
    pub fn from_fdx_value(value: &Value) -> Result<ConsentRequest, ConsentRequestError> {
        let fail = |problem| ConsentRequestError { syntax: RequestSyntax::FdxConsentRequest, problem };
        let raw = FdxRaw::deserialize(value).map_err(|e| fail(RequestProblem::Malformed(e.to_string())))?;
        let mut clusters = Vec::new();
        for resource in raw.resources.unwrap_or_default() {
            if !matches!(resource.resource_type.as_str(), "ACCOUNT" | "CUSTOMER" | "DOCUMENT") {
                return Err(fail(RequestProblem::UnknownResourceType(resource.resource_type)));
            }
            clusters.extend(resource.data_clusters);
        }
        build(clusters, raw.duration_type, raw.duration_period, raw.lookback_period, raw.purposes, None).map_err(fail)
    }

    /// Parses the RFC 9396 `authorization_details` parameter value (a JSON array).
    pub fn from_authorization_details(text: &str) -> Result<ConsentRequest, ConsentRequestError> {
        let fail = |problem| ConsentRequestError { syntax: RequestSyntax::AuthorizationDetails, problem };
        let value: Value = serde_json::from_str(text).map_err(|e| fail(RequestProblem::Malformed(e.to_string())))?;
        Self::from_authorization_details_value(&value)
    }

    /// Validates an RFC 9396 `authorization_details` array already parsed as JSON.
    pub fn from_authorization_details_value(value: &Value) -> Result<ConsentRequest, ConsentRequestError> {
        let fail = |problem| ConsentRequestError { syntax: RequestSyntax::AuthorizationDetails, problem };
        // RFC 9396 §2: "a JSON array of JSON objects", each with a `type` string.
        let Some(items) = value.as_array() else {
            return Err(fail(RequestProblem::Malformed("authorization_details must be a JSON array".into())));
        };
        let mut ours = None;
        for item in items {
            let Some(kind) = item.get("type").and_then(Value::as_str) else {
                return Err(fail(RequestProblem::Malformed("every authorization_details object needs a type".into())));
            };
            if kind != AUTHORIZATION_DETAILS_TYPE {
                return Err(fail(RequestProblem::UnsupportedType(kind.to_owned())));
            }
            if ours.replace(item).is_some() {
                return Err(fail(RequestProblem::MoreThanOneConsent));
            }
        }
        let item = ours.ok_or_else(|| fail(RequestProblem::NoConsentDetails))?;
        let raw = RarRaw::deserialize(item).map_err(|e| fail(RequestProblem::Malformed(e.to_string())))?;
        let clusters = raw.data_clusters.unwrap_or_default();
        build(clusters, raw.duration_type, raw.duration_period, raw.lookback_period, raw.purposes, raw.accounts)
            .map_err(fail)
    }

    /// The scope string equivalent (space-separated `fdx:<cluster>:read`, RFC 6749 §3.3).
    pub fn scope(&self) -> String {
        self.clusters.iter().map(|c| c.scope()).collect::<Vec<_>>().join(" ")
    }

    /// Whether any purpose is a secondary use needing a separate opt-in (CFPB 1033).
    pub fn has_secondary_use(&self) -> bool {
        self.purposes.iter().any(|p| p.is_secondary_use())
    }

    /// The request as an RFC 9396 `authorization_details` array, for echoing in the token response (RFC 9396 §7).
    pub fn to_authorization_details(&self) -> Value {
        let mut object = json!({
            "type": AUTHORIZATION_DETAILS_TYPE,
            "dataClusters": self.clusters,
            "durationType": self.duration.kind(),
            "lookbackPeriod": self.lookback.days(),
            "purposes": self.purposes,
        });
        if let Some(days) = self.duration.period_days() {
            object["durationPeriod"] = json!(days);
        }
        if let Some(accounts) = &self.accounts {
            object["accounts"] = json!(accounts);
        }
        Value::Array(vec![object])
    }
}

fn build(
    clusters: Vec<String>,
    duration_type: Option<String>,
    duration_period: Option<i64>,
    lookback_period: Option<i64>,
    purposes: Option<Vec<String>>,
    accounts: Option<Vec<String>>,
) -> Result<ConsentRequest, RequestProblem> {
    let mut parsed_clusters = Vec::with_capacity(clusters.len());
    for name in clusters {
        parsed_clusters.push(name.parse::<DataCluster>().map_err(|e| RequestProblem::UnknownCluster(e.0))?);
    }
    parsed_clusters.sort();
    parsed_clusters.dedup();
    if parsed_clusters.is_empty() {
        return Err(RequestProblem::NoClusters);
    }

    let kind_name = duration_type.ok_or(RequestProblem::MissingField("durationType"))?;
    let kind = DurationType::from_fdx(&kind_name).ok_or(RequestProblem::UnknownDurationType(kind_name))?;
    let duration = ConsentDuration::new(kind, duration_period).map_err(RequestProblem::Duration)?;
    let lookback = LookbackPeriod::new(lookback_period).map_err(RequestProblem::Duration)?;

    let mut parsed_purposes = Vec::new();
    for name in purposes.ok_or(RequestProblem::MissingField("purposes"))? {
        parsed_purposes.push(name.parse::<Purpose>().map_err(|e| RequestProblem::UnknownPurpose(e.0))?);
    }
    parsed_purposes.sort();
    parsed_purposes.dedup();
    if parsed_purposes.is_empty() {
        return Err(RequestProblem::NoPurposes);
    }

    let accounts = match accounts {
        None => None,
        Some(list) if list.is_empty() => return Err(RequestProblem::NoAccounts),
        Some(mut list) => {
            if let Some(bad) = list.iter().find(|a| !valid_account_id(a)) {
                return Err(RequestProblem::BadAccountId(bad.clone()));
            }
            list.sort();
            list.dedup();
            Some(list)
        }
    };

    Ok(ConsentRequest { clusters: parsed_clusters, duration, lookback, purposes: parsed_purposes, accounts })
}

fn valid_account_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ACCOUNT_ID_LEN && id.chars().all(|c| c.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(r: Result<ConsentRequest, ConsentRequestError>) -> (&'static str, RequestProblem) {
        let e = r.expect_err("request should be refused");
        (e.oauth_error(), e.problem)
    }

    #[test]
    fn fdx_consent_request_is_parsed() {
        let r = ConsentRequest::from_fdx_json(
            r#"{"durationType":"TIME_BOUND","durationPeriod":90,"lookbackPeriod":365,
                "resources":[{"resourceType":"ACCOUNT","dataClusters":["TRANSACTIONS","ACCOUNT_BASIC"]},
                             {"resourceType":"CUSTOMER","dataClusters":["CUSTOMER_CONTACT","ACCOUNT_BASIC"]}],
                "purposes":["fraud_alerts"],"vendorExtension":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(r.clusters, [DataCluster::AccountBasic, DataCluster::CustomerContact, DataCluster::Transactions]);
        assert_eq!(r.duration, ConsentDuration::TimeBound { days: 90 });
        assert_eq!(r.lookback.days(), 365);
        assert_eq!(r.purposes, [Purpose::FraudAlerts]);
        assert_eq!(r.accounts, None);
        assert_eq!(r.scope(), "fdx:accountbasic:read fdx:customercontact:read fdx:transactions:read");
    }

    #[test]
    fn authorization_details_are_parsed_and_round_trip() {
        let text = r#"[{"type":"fdx_consent","dataClusters":["ACCOUNT_DETAILED","TRANSACTIONS"],
            "durationType":"PERSISTENT","lookbackPeriod":730,"purposes":["balance_display","fraud_alerts"],
            "accounts":["acc-2","acc-1","acc-2"]}]"#;
        let r = ConsentRequest::from_authorization_details(text).unwrap();
        assert_eq!(r.duration, ConsentDuration::Persistent);
        assert_eq!(r.accounts.as_deref(), Some(&["acc-1".to_owned(), "acc-2".to_owned()][..]));
        let again = ConsentRequest::from_authorization_details_value(&r.to_authorization_details()).unwrap();
        assert_eq!(again, r);
    }

    #[test]
    fn errors_map_to_the_oauth_code_of_their_syntax() {
        let rar = |body: &str| ConsentRequest::from_authorization_details(body);
        let base = r#""dataClusters":["TRANSACTIONS"],"durationType":"TIME_BOUND","purposes":["fraud_alerts"]"#;
        assert_eq!(
            problem(rar(&format!(r#"[{{"type":"fdx_consent",{base},"durationPeriod":400}}]"#))),
            ("invalid_authorization_details", RequestProblem::Duration(DurationError::PeriodTooLong(400)))
        );
        assert_eq!(
            problem(rar(&format!(r#"[{{"type":"fdx_consent",{base}}}]"#))),
            ("invalid_authorization_details", RequestProblem::Duration(DurationError::PeriodRequired))
        );
        assert_eq!(
            problem(rar(r#"[{"type":"payment_initiation"}]"#)).1,
            RequestProblem::UnsupportedType("payment_initiation".into())
        );
        assert_eq!(problem(rar("[]")).1, RequestProblem::NoConsentDetails);
        assert!(matches!(problem(rar(r#"{"type":"fdx_consent"}"#)).1, RequestProblem::Malformed(_)));
        assert!(matches!(problem(rar("not json")).1, RequestProblem::Malformed(_)));
        assert!(matches!(
            problem(rar(&format!(r#"[{{"type":"fdx_consent",{base},"durationPeriod":5,"surprise":true}}]"#))).1,
            RequestProblem::Malformed(m) if m.contains("surprise")
        ));
        let one = format!(r#"{{"type":"fdx_consent",{base},"durationPeriod":5}}"#);
        assert_eq!(problem(rar(&format!("[{one},{one}]"))).1, RequestProblem::MoreThanOneConsent);

        let fdx = |body: &str| ConsentRequest::from_fdx_json(body);
        assert_eq!(
            problem(fdx(
                r#"{"durationType":"ONE_TIME","resources":[{"resourceType":"ACCOUNT","dataClusters":["BALANCES"]}],"purposes":["fraud_alerts"]}"#
            )),
            ("invalid_request", RequestProblem::UnknownCluster("BALANCES".into()))
        );
        assert_eq!(
            problem(fdx(
                r#"{"durationType":"ONE_TIME","resources":[{"resourceType":"ACCOUNT","dataClusters":["TAX"]}]}"#
            )),
            ("invalid_request", RequestProblem::MissingField("purposes"))
        );
        assert_eq!(
            problem(fdx(r#"{"durationType":"FOREVER","resources":[{"resourceType":"ACCOUNT","dataClusters":["TAX"]}],"purposes":["fraud_alerts"]}"#)).1,
            RequestProblem::UnknownDurationType("FOREVER".into())
        );
        assert_eq!(
            problem(fdx(r#"{"durationType":"ONE_TIME","lookbackPeriod":800,"resources":[{"resourceType":"ACCOUNT","dataClusters":["TAX"]}],"purposes":["fraud_alerts"]}"#)).1,
            RequestProblem::Duration(DurationError::LookbackTooLong(800))
        );
        assert_eq!(
            problem(fdx(r#"{"durationType":"ONE_TIME","resources":[],"purposes":["fraud_alerts"]}"#)).1,
            RequestProblem::NoClusters
        );
        let e = fdx(r#"{"durationType":"ONE_TIME","resources":[{"resourceType":"ACCOUNT","dataClusters":["TAX"]}],"purposes":["spying"]}"#)
            .unwrap_err();
        assert_eq!(e.description(), "unknown purpose \"spying\"");
    }

    #[test]
    fn secondary_use_is_detected_in_the_request() {
        let r = ConsentRequest::from_authorization_details(
            r#"[{"type":"fdx_consent","dataClusters":["TRANSACTIONS"],"durationType":"ONE_TIME",
                "purposes":["fraud_alerts","cross_selling"]}]"#,
        )
        .unwrap();
        assert!(r.has_secondary_use());
    }
}
