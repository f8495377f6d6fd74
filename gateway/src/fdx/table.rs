//! The one table that says which data cluster opens which endpoint and which fields of its answer
//! (DESIGN.md flow 4): [`ENDPOINTS`] (the gateway's `/fdx/v6` routes and the clusters that open each) and
//! [`FIELDS`] (every field the gateway passes on, per FDX object, and the clusters that show it). README prints
//! this table ([`markdown`]); a test keeps the two identical.
//!
//! The filter is an allow-list: a field a bank sends that is not listed here is removed, whatever the consent, so a
//! bank adding a field never leaks it. An endpoint opens when the consent holds ANY of its clusters; a field shows
//! when the consent holds ANY of the field's clusters. Decisions, written down once:
//! - `ACCOUNT_BASIC` is the account descriptor (`accountNumberDisplay` is the masked number, `...1234`); balances,
//!   rates, limits and the routing number are `ACCOUNT_DETAILED`; full account numbers only ever travel on the
//!   payment-networks endpoint (`PAYMENT_SUPPORT`, or its deprecated FDX 6.1 name `ACCOUNT_PAYMENTS`).
//! - `/customers/current` opens with `CUSTOMER_PERSONAL` or `CUSTOMER_CONTACT`: name and date of birth are personal,
//!   emails, addresses and telephones are contact; the customer id, type, start date and account list need either.
//! - The account contact endpoint (holders, emails, addresses, telephones) is `CUSTOMER_CONTACT`.
//!
//! This module is data only: no I/O, no request handling.

use crate::consent::DataCluster;
use DataCluster::{
    AccountBasic, AccountDetailed, AccountPayments, CustomerContact, CustomerPersonal, PaymentSupport, Statements,
    Transactions,
};

/// The FDX objects the gateway passes on (FDX 6.2 schema names in the docs of each variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FdxObject {
    /// `AccountDescriptorentity` / `DepositAccountentity` / `LineofCreditAccountentity` / `LoanAccountentity`.
    Account,
    /// `DepositTransactionentity` and its siblings.
    Transaction,
    /// `Statemententity`.
    Statement,
    /// `PaymentNetworkSupportedbyAccount`.
    PaymentNetwork,
    /// `AccountContactentity`.
    AccountContact,
    /// `Customerentity`.
    Customer,
}

impl FdxObject {
    pub fn name(self) -> &'static str {
        match self {
            Self::Account => "account",
            Self::Transaction => "transaction",
            Self::Statement => "statement",
            Self::PaymentNetwork => "payment network",
            Self::AccountContact => "account contact",
            Self::Customer => "customer",
        }
    }
}

/// The gateway's FDX resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Accounts,
    Account,
    Transactions,
    Statements,
    PaymentNetworks,
    AccountContact,
    CurrentCustomer,
}

/// One row of the endpoint table.
#[derive(Debug, Clone, Copy)]
pub struct EndpointRule {
    pub endpoint: Endpoint,
    /// The path under the gateway (and the bank), FDX 6.2 spelling.
    pub path: &'static str,
    /// The short name used in the audit log and metrics.
    pub name: &'static str,
    /// The endpoint opens when the consent holds any of these.
    pub opens: &'static [DataCluster],
    /// What the answer carries.
    pub object: FdxObject,
}

/// Every endpoint of the gateway's resource API.
pub const ENDPOINTS: [EndpointRule; 7] = [
    EndpointRule {
        endpoint: Endpoint::Accounts,
        path: "/fdx/v6/accounts",
        name: "accounts",
        opens: &[AccountBasic, AccountDetailed],
        object: FdxObject::Account,
    },
    EndpointRule {
        endpoint: Endpoint::Account,
        path: "/fdx/v6/accounts/{accountId}",
        name: "account",
        opens: &[AccountBasic, AccountDetailed],
        object: FdxObject::Account,
    },
    EndpointRule {
        endpoint: Endpoint::Transactions,
        path: "/fdx/v6/accounts/{accountId}/transactions",
        name: "transactions",
        opens: &[Transactions],
        object: FdxObject::Transaction,
    },
    EndpointRule {
        endpoint: Endpoint::Statements,
        path: "/fdx/v6/accounts/{accountId}/statements",
        name: "statements",
        opens: &[Statements],
        object: FdxObject::Statement,
    },
    EndpointRule {
        endpoint: Endpoint::PaymentNetworks,
        path: "/fdx/v6/accounts/{accountId}/payment-networks",
        name: "payment_networks",
        opens: &[PaymentSupport, AccountPayments],
        object: FdxObject::PaymentNetwork,
    },
    EndpointRule {
        endpoint: Endpoint::AccountContact,
        path: "/fdx/v6/accounts/{accountId}/contact",
        name: "contact",
        opens: &[CustomerContact],
        object: FdxObject::AccountContact,
    },
    EndpointRule {
        endpoint: Endpoint::CurrentCustomer,
        path: "/fdx/v6/customers/current",
        name: "customer",
        opens: &[CustomerPersonal, CustomerContact],
        object: FdxObject::Customer,
    },
];

impl Endpoint {
    pub fn rule(self) -> &'static EndpointRule {
        ENDPOINTS.iter().find(|r| r.endpoint == self).unwrap_or(&ENDPOINTS[0])
    }

    /// Whether the endpoint is about one account (`{accountId}` in its path).
    pub fn per_account(self) -> bool {
        self.rule().path.contains("{accountId}")
    }
}

/// One row of the field table: `field` of `object` shows when the consent holds any of `shown_with`.
#[derive(Debug, Clone, Copy)]
pub struct FieldRule {
    pub object: FdxObject,
    pub field: &'static str,
    /// `"field":`, the field as the filter writes it before a value (built at compile time).
    pub json_key: &'static str,
    pub shown_with: &'static [DataCluster],
}

const BASIC: &[DataCluster] = &[AccountBasic, AccountDetailed];
const DETAILED: &[DataCluster] = &[AccountDetailed];
const PAYMENTS: &[DataCluster] = &[PaymentSupport, AccountPayments];
const TX: &[DataCluster] = &[Transactions];
const STMT: &[DataCluster] = &[Statements];
const CONTACT: &[DataCluster] = &[CustomerContact];
const PERSONAL: &[DataCluster] = &[CustomerPersonal];
const PERSON_ANY: &[DataCluster] = &[CustomerPersonal, CustomerContact];

macro_rules! fields {
    ($object:expr, $clusters:expr, [$($name:literal),* $(,)?]) => {
        [$(FieldRule { object: $object, field: $name, json_key: concat!("\"", $name, "\":"), shown_with: $clusters }),*]
    };
}

const ACCOUNT_BASIC_FIELDS: [FieldRule; 9] = fields!(
    FdxObject::Account,
    BASIC,
    [
        "accountCategory",
        "accountId",
        "accountType",
        "accountNumberDisplay",
        "productName",
        "nickname",
        "status",
        "accountOpenDate",
        "currency"
    ]
);
const ACCOUNT_DETAILED_FIELDS: [FieldRule; 27] = fields!(
    FdxObject::Account,
    DETAILED,
    [
        "routingTransitNumber",
        "balanceType",
        "interestRate",
        "interestRateType",
        "lastActivityDate",
        "transferIn",
        "transferOut",
        "balanceAsOf",
        "currentBalance",
        "openingDayBalance",
        "availableBalance",
        "annualPercentageYield",
        "term",
        "maturityDate",
        "creditLine",
        "availableCredit",
        "purchasesApr",
        "lastStmtBalance",
        "lastStmtDate",
        "minimumPaymentAmount",
        "cardNetwork",
        "principalBalance",
        "originalPrincipal",
        "originatingDate",
        "loanTerm",
        "paymentFrequency",
        "nextPaymentAmount"
    ]
);
const ACCOUNT_DETAILED_MORE: [FieldRule; 1] = fields!(FdxObject::Account, DETAILED, ["nextPaymentDate"]);
const TRANSACTION_FIELDS: [FieldRule; 15] = fields!(
    FdxObject::Transaction,
    TX,
    [
        "accountCategory",
        "accountId",
        "transactionId",
        "postedTimestamp",
        "transactionTimestamp",
        "description",
        "debitCreditMemo",
        "category",
        "subCategory",
        "status",
        "amount",
        "transactionType",
        "payee",
        "checkNumber",
        "fiAttributes"
    ]
);
const STATEMENT_FIELDS: [FieldRule; 5] =
    fields!(FdxObject::Statement, STMT, ["accountId", "statementId", "statementDate", "description", "status"]);
const NETWORK_FIELDS: [FieldRule; 6] = fields!(
    FdxObject::PaymentNetwork,
    PAYMENTS,
    ["bankId", "identifier", "identifierType", "type", "transferIn", "transferOut"]
);
const CONTACT_FIELDS: [FieldRule; 4] =
    fields!(FdxObject::AccountContact, CONTACT, ["holders", "emails", "addresses", "telephones"]);
const CUSTOMER_ANY_FIELDS: [FieldRule; 4] =
    fields!(FdxObject::Customer, PERSON_ANY, ["customerId", "type", "customerStartDate", "accounts"]);
const CUSTOMER_PERSONAL_FIELDS: [FieldRule; 2] = fields!(FdxObject::Customer, PERSONAL, ["name", "dateOfBirth"]);
const CUSTOMER_CONTACT_FIELDS: [FieldRule; 3] =
    fields!(FdxObject::Customer, CONTACT, ["emails", "addresses", "telephones"]);

/// Every field the gateway passes on. Anything else a bank sends is removed.
pub static FIELDS: std::sync::LazyLock<Vec<FieldRule>> = std::sync::LazyLock::new(|| {
    let mut all = Vec::new();
    all.extend(ACCOUNT_BASIC_FIELDS);
    all.extend(ACCOUNT_DETAILED_FIELDS);
    all.extend(ACCOUNT_DETAILED_MORE);
    all.extend(TRANSACTION_FIELDS);
    all.extend(STATEMENT_FIELDS);
    all.extend(NETWORK_FIELDS);
    all.extend(CONTACT_FIELDS);
    all.extend(CUSTOMER_ANY_FIELDS);
    all.extend(CUSTOMER_PERSONAL_FIELDS);
    all.extend(CUSTOMER_CONTACT_FIELDS);
    all
});

/// Whether a consent holding `granted` opens `endpoint`.
pub fn opens(endpoint: Endpoint, granted: &[DataCluster]) -> bool {
    endpoint.rule().opens.iter().any(|c| granted.contains(c))
}

/// Whether a consent holding `granted` sees `field` of `object` (false for fields not in the table).
pub fn shows(object: FdxObject, field: &str, granted: &[DataCluster]) -> bool {
    FIELDS
        .iter()
        .filter(|r| r.object == object && r.field == field)
        .any(|r| r.shown_with.iter().any(|c| granted.contains(c)))
}

/// The rows of every field of `object` a consent holding `granted` sees, in table order (the filter's per-answer
/// view of [`shows`]).
pub fn shown_fields(object: FdxObject, granted: &[DataCluster]) -> Vec<&'static FieldRule> {
    FIELDS.iter().filter(|r| r.object == object && r.shown_with.iter().any(|c| granted.contains(c))).collect()
}

fn cluster_list(clusters: &[DataCluster]) -> String {
    clusters.iter().map(|c| format!("`{}`", c.as_fdx())).collect::<Vec<_>>().join(" or ")
}

/// The table as README prints it (Markdown): endpoints, then fields grouped by object and clusters.
pub fn markdown() -> String {
    let mut out = String::from("| endpoint | opens with | returns |\n|---|---|---|\n");
    for rule in &ENDPOINTS {
        out.push_str(&format!("| `GET {}` | {} | {} |\n", rule.path, cluster_list(rule.opens), rule.object.name()));
    }
    out.push_str("\n| object | fields | shown with |\n|---|---|---|\n");
    let mut groups: Vec<(FdxObject, &'static [DataCluster], Vec<&'static str>)> = Vec::new();
    for rule in FIELDS.iter() {
        match groups.iter_mut().find(|(o, c, _)| *o == rule.object && *c == rule.shown_with) {
            Some((_, _, fields)) => fields.push(rule.field),
            None => groups.push((rule.object, rule.shown_with, vec![rule.field])),
        }
    }
    for (object, clusters, fields) in groups {
        let fields = fields.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ");
        out.push_str(&format!("| {} | {} | {} |\n", object.name(), fields, cluster_list(clusters)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_open_with_their_clusters_only() {
        assert!(opens(Endpoint::Transactions, &[Transactions]));
        assert!(!opens(Endpoint::Transactions, &[AccountBasic, AccountDetailed]));
        assert!(opens(Endpoint::Accounts, &[AccountDetailed]));
        assert!(opens(Endpoint::CurrentCustomer, &[CustomerContact]));
        assert!(!opens(Endpoint::AccountContact, &[CustomerPersonal]));
        assert!(Endpoint::Transactions.per_account() && !Endpoint::Accounts.per_account());
        for rule in &ENDPOINTS {
            assert_eq!(rule.endpoint.rule().path, rule.path);
        }
    }

    #[test]
    fn fields_show_with_their_clusters_and_unknown_fields_never() {
        assert!(shows(FdxObject::Account, "accountNumberDisplay", &[AccountBasic]));
        assert!(!shows(FdxObject::Account, "currentBalance", &[AccountBasic]));
        assert!(shows(FdxObject::Account, "currentBalance", &[AccountDetailed]));
        assert!(!shows(FdxObject::Account, "accountNumber", &DataCluster::ALL), "never listed, never shown");
        assert!(shows(FdxObject::Customer, "name", &[CustomerPersonal]));
        assert!(!shows(FdxObject::Customer, "emails", &[CustomerPersonal]));
        assert!(shows(FdxObject::Customer, "customerId", &[CustomerContact]));
        for rule in FIELDS.iter() {
            let plain = rule.field.bytes().all(|b| b.is_ascii_alphanumeric());
            assert!(plain, "{}: the filter writes names without escaping", rule.field);
            assert_eq!(rule.json_key, format!("\"{}\":", rule.field));
        }
        let no_duplicates: std::collections::HashSet<_> =
            FIELDS.iter().map(|r| (r.object, r.field, r.shown_with)).collect();
        assert_eq!(no_duplicates.len(), FIELDS.len());
    }

    #[test]
    fn shown_fields_lists_exactly_what_shows_allows_and_fits_the_filters_bitmask() {
        let grants: [&[DataCluster]; 4] = [&[AccountBasic], &[AccountDetailed, Transactions], &[CustomerContact], &[]];
        for object in [
            FdxObject::Account,
            FdxObject::Transaction,
            FdxObject::Statement,
            FdxObject::PaymentNetwork,
            FdxObject::AccountContact,
            FdxObject::Customer,
        ] {
            assert!(shown_fields(object, &DataCluster::ALL).len() < 128, "the filter's `Seen` holds 128 fields");
            for granted in grants {
                let listed: Vec<&str> = shown_fields(object, granted).iter().map(|r| r.field).collect();
                for rule in FIELDS.iter().filter(|r| r.object == object) {
                    assert_eq!(listed.contains(&rule.field), shows(object, rule.field, granted), "{}", rule.field);
                }
            }
        }
        assert!(shown_fields(FdxObject::Transaction, &[AccountBasic]).is_empty());
    }

    #[test]
    fn readme_prints_this_table() {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"));
        let table = markdown();
        assert!(readme.contains(&table), "README's resource API table must be exactly:\n{table}");
    }

    #[test]
    fn the_markdown_names_every_endpoint_and_field() {
        let text = markdown();
        for rule in &ENDPOINTS {
            assert!(text.contains(rule.path));
        }
        for rule in FIELDS.iter() {
            assert!(text.contains(&format!("`{}`", rule.field)));
        }
    }
}
