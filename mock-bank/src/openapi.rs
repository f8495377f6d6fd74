//! The bank's OpenAPI 3.1 document ([`document`]): its FDX 6.2 resource API ([`crate::api::fdx`], on the mutual-TLS
//! API listener) and its admin API ([`crate::api::admin`]). Served on the ADMIN listener, which needs no client
//! certificate, at `GET /openapi.json` with a Swagger UI at `/docs` ([`routes`], merged in [`crate::server`]). The
//! Swagger UI's files are compiled in (`utoipa-swagger-ui` feature `vendored`) and its validator badge is off, so
//! `/docs` works offline. Neither needs the admin token: the document holds no data.
//!
//! The handlers live in modules others edit, so nothing here annotates them: each operation is a
//! documentation-only function below (never routed) whose Rust doc names the handler it describes. The FDX shapes
//! follow [`crate::api::wire`] field for field (`additionalProperties: false`, `required` exactly where the wire
//! type always writes the member); error responses shared by a family of operations are added by
//! [`SharedResponses`]. This module must never describe a member the bank does not send, nor leave out one it does.

use std::sync::Arc;

use axum::Router;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::state::BankState;

/// Where the document is served (admin listener).
pub const OPENAPI_PATH: &str = "/openapi.json";
/// Where the Swagger UI is served (admin listener).
pub const DOCS_PATH: &str = "/docs";

/// The bank's OpenAPI 3.1 document.
pub fn document() -> utoipa::openapi::OpenApi {
    BankApi::openapi()
}

/// `GET /openapi.json` and the Swagger UI under `/docs`, for the admin listener.
pub fn routes() -> Router<Arc<BankState>> {
    let config = Config::new([OPENAPI_PATH]).validator_url("none").try_it_out_enabled(false);
    SwaggerUi::new(DOCS_PATH).url(OPENAPI_PATH, document()).config(config).into()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "bankgate mock bank",
        description = "A simulated US bank of the bankgate sandbox. Three listeners: the FDX 6.2 API (`/fdx/v6`, \
            mutual TLS with a client certificate chaining to the sandbox CA, plus the bank's access token bound to \
            that certificate), the login pages (not described here) and the admin API (`/admin`, admin bearer \
            token; this document and `/docs` are served there).\n\nThe FDX API's answers may also be shaped by \
            the profile's weekly maintenance window (503 with `Retry-After`), by admin fault rules (any status \
            400-599 with any FDX code, latency, reset connections, truncated bodies) and by the data-error test \
            users. Every FDX answer carries `x-fapi-interaction-id`.\n\nNotifications (FDX Event \
            Notifications): a consent's token subscribes to RISK/FRAUD, BALANCE/NEW_DATA, \
            CONSENT_REVOKED/CONSENT or PLANNED_OUTAGE/MAINTENANCE at an https callback URL. The bank then `POST`s \
            each `Notification` (schema below) there over mutual TLS with its client certificate `bank-{id}`, as an \
            RFC 7515 compact JWS (`content-type: application/jose`, ES256, protected header `x5t#S256` = the \
            thumbprint of that certificate), in order per callback URL; 5xx, 408, 429 and timeouts are retried (5 \
            attempts, 200 ms doubling with jitter), other 4xx are not.",
        license(name = "MIT OR Apache-2.0"),
    ),
    paths(
        search_for_accounts,
        get_account,
        search_for_account_transactions,
        search_for_account_statements,
        get_account_payment_networks,
        get_account_contact,
        get_customer_info,
        create_notification_subscription,
        get_notification_subscription,
        delete_notification_subscription,
        admin_bank,
        admin_customers,
        admin_customer,
        admin_customer_accounts,
        admin_account,
        admin_transactions,
        admin_inject,
        admin_fraud,
        admin_clock,
        admin_move_clock,
        admin_faults,
        admin_set_faults,
        admin_clear_faults,
        admin_reset,
        admin_register_client,
        admin_consents,
        admin_revoke_consent,
        admin_publish_notification,
        admin_notification_outbox,
        admin_notification_subscriptions,
    ),
    components(schemas(
        FdxError,
        Problem,
        Account,
        Transaction,
        Statement,
        PaymentNetwork,
        AccountContact,
        Customer,
        Notification
    )),
    modifiers(&SecuritySchemes, &SharedResponses),
    tags(
        (name = "FDX", description = "FDX 6.2 resources (API listener: mutual TLS + bank access token)."),
        (name = "Admin", description = "QA and test control (admin listener: `Authorization: Bearer <admin \
            token>`). Errors are RFC 9457 `application/problem+json`; money in cents."),
    ),
)]
struct BankApi;

/// The schemes operations refer to by name.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some(description)).build(),
            )
        };
        components.add_security_scheme(
            "bank_token",
            bearer(
                "RFC 6750 §2.1: an access token of the bank's own OAuth server (`/oauth/token` on the API listener), \
                 bound to the client certificate it was issued over (RFC 8705 §3).",
            ),
        );
        components.add_security_scheme(
            "mtls",
            SecurityScheme::MutualTls {
                description: Some(
                    "RFC 8705: a client certificate chaining to the sandbox CA whose CN is the client id.".into(),
                ),
                deprecated: None,
                extensions: None,
            },
        );
        components.add_security_scheme("admin_token", bearer("The admin token (`DIR/admin-token`)."));
    }
}

/// The FDX API's shared errors: status, description.
const FDX_ERRORS: [(u16, &str); 7] = [
    (
        400,
        "Bad query: FDX 401 Invalid Input (limit out of range, tampered cursor), 702 (not a date), 703 (start \
          after end).",
    ),
    (401, "FDX 603: no token, or unknown, expired, revoked, or bound to another client certificate."),
    (403, "The consent does not cover the endpoint's data cluster."),
    (404, "FDX 701: the account does not exist or is outside the consent (the same answer); 601 customer gone."),
    (413, "A request body over 16 KiB (FDX 401)."),
    (503, "FDX 503 Scheduled Maintenance: the weekly window or a fault rule."),
    (500, "FDX 500, or the data-error test user's 500."),
];

/// The admin API's shared errors.
const ADMIN_ERRORS: [(u16, &str); 3] = [
    (400, "A malformed query string or path."),
    (401, "No or a wrong admin token (`WWW-Authenticate: Bearer realm=\"bank-admin\"`)."),
    (500, "The bank's store failed."),
];

fn string_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some(description))
        .build()
}

fn fdx_error_response(status: Option<u16>, description: &str) -> Response {
    let mut response = ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("FdxError"))).build())
        .header(crate::api::fdx::INTERACTION_ID.as_str(), string_header("Echoed, or generated (a UUID)."))
        .header("Cache-Control", string_header("`no-store`."));
    match status {
        Some(401) => {
            response = response.header("WWW-Authenticate", string_header("RFC 6750 §3 `Bearer realm=\"fdx\"...`."))
        }
        Some(503) | None => {
            let retry = HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1))))
                .description(Some("Seconds (RFC 9110 §10.2.3): on 503 and 429."))
                .build();
            response = response.header("Retry-After", retry);
        }
        _ => {}
    }
    response.build()
}

fn problem_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
        )
        .build()
}

/// Adds the shared error responses as components and refers every FDX and admin operation to them.
struct SharedResponses;

impl Modify for SharedResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (status, description) in FDX_ERRORS {
            components
                .responses
                .insert(format!("Fdx{status}"), RefOr::T(fdx_error_response(Some(status), description)));
        }
        components.responses.insert(
            "FdxChosen".into(),
            RefOr::T(fdx_error_response(
                None,
                "Any status 400-599 with any FDX code, chosen by an admin fault rule or a data-error test user (e.g. \
                 429 FDX 1207).",
            )),
        );
        for (status, description) in ADMIN_ERRORS {
            components.responses.insert(format!("Admin{status}"), RefOr::T(problem_response(description)));
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            let (prefix, statuses): (&str, Vec<u16>) = if path.starts_with("/fdx/v6/") {
                ("Fdx", FDX_ERRORS.iter().map(|(s, _)| *s).collect())
            } else if path.starts_with("/admin/") {
                ("Admin", ADMIN_ERRORS.iter().map(|(s, _)| *s).collect())
            } else {
                continue;
            };
            let operations =
                [&mut item.get, &mut item.put, &mut item.post, &mut item.delete].into_iter().filter_map(Option::as_mut);
            for operation in operations {
                let responses = &mut operation.responses.responses;
                for status in &statuses {
                    responses
                        .entry(status.to_string())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(format!("{prefix}{status}"))));
                }
                if prefix == "Fdx" {
                    responses.insert("default".into(), RefOr::Ref(Ref::from_response_name("FdxChosen")));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// FDX shapes ([`crate::api::wire`])

/// FDX 6.2 `Error`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FdxError {
    pub code: String,
    pub message: String,
    pub debug_message: String,
}

/// FDX 6.2 `PageMetadata`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PageMetadata {
    /// Signed cursor (HMAC), bound to the account and the query.
    #[serde(default)]
    pub next_offset: String,
    #[serde(default)]
    pub total_elements: u64,
}

/// FDX 6.2 `HATEOASLink` (a path on this bank).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HateoasLink {
    pub href: String,
}

/// FDX 6.2 `PageMetadataLinks`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PageLinks {
    #[serde(default)]
    pub next: HateoasLink,
}

/// FDX 6.2 `Currencyentity`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Currency {
    #[schema(example = "USD")]
    pub currency_code: String,
}

/// An FDX 6.2 account: the `AccountDescriptorentity` members always; with `ACCOUNT_DETAILED` the members of its
/// concrete type (`accountCategory` `DEPOSIT_ACCOUNT`, `LOC_ACCOUNT` or `LOAN_ACCOUNT`).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Account {
    /// `DEPOSIT_ACCOUNT`, `LOC_ACCOUNT` or `LOAN_ACCOUNT`.
    pub account_category: String,
    pub account_id: String,
    /// `CHECKING`, `SAVINGS`, `CD`, `CREDITCARD`, `MORTGAGE` or `AUTOLOAN`.
    pub account_type: String,
    pub account_number_display: String,
    pub product_name: String,
    pub nickname: String,
    /// `OPEN`.
    pub status: String,
    #[schema(format = Date)]
    pub account_open_date: String,
    pub currency: Currency,
    #[serde(default)]
    pub routing_transit_number: String,
    /// `ASSET` or `LIABILITY`.
    #[serde(default)]
    pub balance_type: String,
    #[serde(default)]
    pub interest_rate: f64,
    /// `FIXED`.
    #[serde(default)]
    pub interest_rate_type: String,
    #[serde(default)]
    #[schema(format = Date)]
    pub last_activity_date: String,
    #[serde(default)]
    pub transfer_in: bool,
    #[serde(default)]
    pub transfer_out: bool,
    #[serde(default)]
    #[schema(format = DateTime)]
    pub balance_as_of: String,
    #[serde(default)]
    pub current_balance: f64,
    #[serde(default)]
    pub opening_day_balance: f64,
    #[serde(default)]
    pub available_balance: f64,
    #[serde(default)]
    pub annual_percentage_yield: f64,
    #[serde(default)]
    pub term: i32,
    #[serde(default)]
    #[schema(format = Date)]
    pub maturity_date: String,
    #[serde(default)]
    pub credit_line: f64,
    #[serde(default)]
    pub available_credit: f64,
    #[serde(default)]
    pub purchases_apr: f64,
    #[serde(default)]
    pub last_stmt_balance: f64,
    #[serde(default)]
    #[schema(format = Date)]
    pub last_stmt_date: String,
    #[serde(default)]
    pub minimum_payment_amount: f64,
    #[serde(default)]
    pub card_network: String,
    #[serde(default)]
    pub principal_balance: f64,
    #[serde(default)]
    pub original_principal: f64,
    #[serde(default)]
    #[schema(format = Date)]
    pub originating_date: String,
    #[serde(default)]
    pub loan_term: i32,
    #[serde(default)]
    pub payment_frequency: String,
    #[serde(default)]
    pub next_payment_amount: f64,
    #[serde(default)]
    #[schema(format = Date)]
    pub next_payment_date: String,
}

/// `GET /fdx/v6/accounts`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountsPage {
    pub page: PageMetadata,
    pub links: PageLinks,
    pub accounts: Vec<Account>,
}

/// FDX 6.2 `FiAttributeentity`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FiAttribute {
    /// `categoryName`, `channel` or `suspectedFraud`.
    pub name: String,
    pub value: String,
}

/// An FDX 6.2 transaction (`DepositTransactionentity`, `LineofCreditTransactionentity`, `LoanTransactionentity`).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Transaction {
    pub account_category: String,
    pub account_id: String,
    pub transaction_id: String,
    /// Posted transactions only.
    #[serde(default)]
    #[schema(format = DateTime)]
    pub posted_timestamp: String,
    #[schema(format = DateTime)]
    pub transaction_timestamp: String,
    pub description: String,
    /// `DEBIT` or `CREDIT`.
    pub debit_credit_memo: String,
    #[serde(default)]
    pub category: String,
    /// `MCC` when `category` is a merchant category code.
    #[serde(default)]
    pub sub_category: String,
    /// `PENDING` or `POSTED`.
    pub status: String,
    pub amount: f64,
    pub transaction_type: String,
    #[serde(default)]
    pub payee: String,
    #[serde(default)]
    pub check_number: u32,
    #[serde(default)]
    pub fi_attributes: Vec<FiAttribute>,
}

/// `GET /fdx/v6/accounts/{accountId}/transactions`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransactionsPage {
    pub page: PageMetadata,
    pub links: PageLinks,
    pub transactions: Vec<Transaction>,
}

/// FDX 6.2 `Statemententity`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Statement {
    pub account_id: String,
    pub statement_id: String,
    #[schema(format = Date)]
    pub statement_date: String,
    pub description: String,
    /// `AVAILABLE`.
    pub status: String,
}

/// `GET /fdx/v6/accounts/{accountId}/statements`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatementsPage {
    pub page: PageMetadata,
    pub links: PageLinks,
    pub statements: Vec<Statement>,
}

/// FDX 6.2 `PaymentNetworkSupportedbyAccount`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentNetwork {
    pub bank_id: String,
    pub identifier: String,
    /// `ACCOUNT_NUMBER`.
    pub identifier_type: String,
    /// `US_ACH` or `US_RTP`.
    #[serde(rename = "type")]
    pub network: String,
    pub transfer_in: bool,
    pub transfer_out: bool,
}

/// `GET /fdx/v6/accounts/{accountId}/payment-networks`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentNetworksPage {
    pub page: PageMetadata,
    pub payment_networks: Vec<PaymentNetwork>,
}

/// FDX 6.2 `CustomerName` (the members the bank fills).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerName {
    pub first: String,
    pub last: String,
}

/// FDX 6.2 `DeliveryAddress`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeliveryAddress {
    pub line1: String,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub country: String,
    /// `HOME`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// FDX 6.2 `TelephoneNumber`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TelephoneNumber {
    /// `CELL`.
    #[serde(rename = "type")]
    pub kind: String,
    pub country: String,
    pub number: String,
}

/// FDX 6.2 `AccountHolderentity` (the members the bank fills).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountHolder {
    pub customer_id: String,
    /// `CONSUMER`.
    #[serde(rename = "type")]
    pub kind: String,
    pub name: CustomerName,
    /// `PRIMARY` or `PRIMARY_BORROWER`.
    pub relationship: String,
}

/// FDX 6.2 `AccountContactentity`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountContact {
    pub holders: Vec<AccountHolder>,
    pub emails: Vec<String>,
    pub addresses: Vec<DeliveryAddress>,
    pub telephones: Vec<TelephoneNumber>,
}

/// FDX 6.2 `CustomertoAccountRelationshipentity`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerAccount {
    pub account_id: String,
    pub relationship: String,
    pub links: Vec<HateoasLink>,
}

/// FDX 6.2 `Customerentity`: name and date of birth with `CUSTOMER_PERSONAL`; emails, addresses and telephones
/// with `CUSTOMER_CONTACT`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Customer {
    pub customer_id: String,
    /// `CONSUMER`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub name: CustomerName,
    #[serde(default)]
    #[schema(format = Date)]
    pub date_of_birth: String,
    #[serde(default)]
    #[schema(format = Date)]
    pub customer_start_date: String,
    #[serde(default)]
    pub emails: Vec<String>,
    #[serde(default)]
    pub addresses: Vec<DeliveryAddress>,
    #[serde(default)]
    pub telephones: Vec<TelephoneNumber>,
    pub accounts: Vec<CustomerAccount>,
}

/// The interaction id header a caller may send.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct InteractionIdParam {
    /// Echoed when it is 1-128 of `A-Za-z0-9-_.:`; otherwise the bank makes one.
    #[param(rename = "x-fapi-interaction-id", required = false, max_length = 128)]
    pub interaction_id: String,
}

/// `{accountId}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path, names("accountId"))]
pub struct AccountIdParam(pub String);

/// The query of `GET /fdx/v6/accounts`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct AccountsQuery {
    /// Comma-separated account ids to keep.
    #[param(required = false)]
    pub account_ids: String,
    /// `lightweight` (default) or `details` (with `ACCOUNT_DETAILED`).
    #[param(required = false)]
    pub result_type: String,
    /// The cursor of `page.nextOffset`.
    #[param(required = false)]
    pub offset: String,
    /// From 1 to the profile's maximum page size.
    #[param(required = false, minimum = 1)]
    pub limit: u32,
}

/// The query of the transactions and statements endpoints.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct RangeQuery {
    /// `YYYY-MM-DD` or RFC 3339; default: the start of the generated history.
    #[param(required = false, format = Date)]
    pub start_time: String,
    /// Default: today (simulated).
    #[param(required = false, format = Date)]
    pub end_time: String,
    #[param(required = false)]
    pub offset: String,
    #[param(required = false, minimum = 1)]
    pub limit: u32,
}

// ---------------------------------------------------------------------------------------------------------------
// Admin shapes ([`crate::api::admin`])

/// RFC 9457 problem details (`type` `about:blank`, `title` the status phrase).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
}

/// The simulated clock.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Clock {
    #[schema(format = DateTime)]
    pub now: String,
    pub ticking: bool,
    #[schema(format = DateTime)]
    pub pinned_start: String,
    #[schema(format = Date)]
    pub history_start: String,
}

/// `GET /admin/bank`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BankOverview {
    pub id: String,
    pub display_name: String,
    pub routing_number: String,
    pub seed: u64,
    pub customers: u32,
    /// The bank's profile (`mock-bank/profiles/banks.toml`).
    pub profile: serde_json::Value,
    pub clock: Clock,
    pub injected_transactions: u64,
    pub cached_customers: u64,
    pub fault_rules: u64,
    /// `{api, login, admin}`.
    pub urls: serde_json::Value,
}

/// One customer in a list.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerSummary {
    pub index: u32,
    pub customer_id: String,
    /// The login name (`user_good`, `customer7`, ...).
    pub username: String,
    pub persona: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
}

/// `GET /admin/customers`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerList {
    pub customers: Vec<CustomerSummary>,
    pub total: u32,
    pub offset: u32,
    pub limit: u32,
    pub next_offset: Option<u32>,
}

/// The admin view of an account, with balances at the simulated now and its issued statements (cents).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminAccount {
    pub account_id: String,
    pub customer_index: u32,
    pub kind: String,
    pub account_category: String,
    pub account_type: String,
    pub product_name: String,
    pub nickname: String,
    pub account_number: String,
    pub routing_number: String,
    #[schema(format = Date)]
    pub opened: String,
    pub currency: String,
    pub interest_rate_bp: i64,
    pub credit_limit_cents: Option<i64>,
    pub original_principal_cents: Option<i64>,
    pub maturity: Option<String>,
    pub monthly_payment_cents: Option<i64>,
    pub opening_balance_cents: i64,
    /// `{asOf, currentCents, availableCents, pendingDebitsCents}`.
    pub balances: serde_json::Value,
    pub statements: Vec<serde_json::Value>,
}

/// `GET /admin/customers/{customer}/accounts`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerAccounts {
    pub customer_id: String,
    pub accounts: Vec<AdminAccount>,
}

/// The admin view of a transaction (`status` `PENDING`, `POSTED` or `NOT_VISIBLE` yet; cents).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminTransaction {
    pub transaction_id: String,
    pub account_id: String,
    pub kind: String,
    pub direction: String,
    pub status: String,
    pub amount_cents: Option<i64>,
    pub authorized_amount_cents: i64,
    pub description: String,
    pub merchant: Option<serde_json::Value>,
    pub channel: String,
    pub category: String,
    pub platform: Option<String>,
    pub check_number: Option<u32>,
    pub suspected_fraud: bool,
    #[schema(format = DateTime)]
    pub authorized_at: String,
    pub posted_at: Option<String>,
    /// `{outcome: posts|drops, at, amountCents}`.
    pub settlement: serde_json::Value,
}

/// `GET /admin/accounts/{accountId}/transactions`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdminTransactions {
    pub account_id: String,
    #[schema(format = DateTime)]
    pub as_of: String,
    pub total: u64,
    pub transactions: Vec<AdminTransaction>,
}

/// A merchant for an injected transaction.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MerchantBody {
    pub name: String,
    /// Merchant category code, 0-9999.
    pub mcc: u16,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub region: String,
}

/// `POST /admin/accounts/{accountId}/transactions`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InjectRequest {
    /// 1 to 10,000,000,000.
    #[schema(minimum = 1)]
    pub amount_cents: i64,
    /// `debit` or `credit` (also `DEBIT`/`CREDIT`).
    pub direction: String,
    pub description: String,
    #[serde(default)]
    pub merchant: MerchantBody,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub platform: String,
    #[serde(default)]
    pub pending_days: u32,
    /// `posts` (default) or `drops`.
    #[serde(default)]
    pub outcome: String,
}

/// `POST /admin/accounts/{accountId}/fraud` (every member optional; an empty body takes the defaults).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FraudRequest {
    #[serde(default)]
    pub amount_cents: i64,
    #[serde(default)]
    pub merchant: MerchantBody,
}

/// `POST /admin/clock`: exactly one of the two.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockRequest {
    /// A positive duration: `3d`, `12h`, `90m`, `1d12h`, `PT36H`.
    #[serde(default)]
    pub advance: String,
    /// An RFC 3339 instant, not before now.
    #[serde(default)]
    #[schema(format = DateTime)]
    pub set: String,
}

/// The fault rules (`PUT` replaces every rule; at most 100).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// `{endpoint, latency?, error?, maintenanceUntil?, maintenanceFrom?, connectionResetRate?, malformedBodyRate?,
    /// slowBody?}`; `endpoint` is `accounts`, `account`, `transactions`, `statements`, `payment_networks`,
    /// `contact`, `customer`, `token`, `subscriptions` or `*`. A maintenance window (from `maintenanceFrom`, default
    /// now, until `maintenanceUntil`) is announced once to PLANNED_OUTAGE subscribers.
    pub faults: Vec<serde_json::Value>,
}

/// `POST /admin/reset`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetResult {
    pub reset: bool,
    pub clock: Clock,
}

/// `POST /admin/oauth-clients`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuthClientRequest {
    pub client_id: String,
    pub redirect_uris: Vec<String>,
}

/// The answer to `POST /admin/oauth-clients`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OAuthClientRegistered {
    pub client_id: String,
    pub registered: bool,
}

/// A consent the person gave at the bank.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BankConsent {
    pub consent_id: String,
    pub client_id: String,
    pub customer_index: u32,
    pub account_ids: Vec<String>,
    pub clusters: Vec<String>,
    pub purposes: Vec<String>,
    pub platform: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
    pub revoked_at: Option<String>,
}

/// `GET /admin/consents`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsentList {
    pub customer_index: u32,
    pub consents: Vec<BankConsent>,
}

/// The answer to a consent revocation.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsentRevoked {
    pub consent_id: String,
    pub revoked: bool,
}

/// FDX 6.2 `Partyentity`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Party {
    /// 1-256 characters.
    pub name: String,
    /// FDX `PartyType`: `DATA_ACCESS_PLATFORM`, `DATA_PROVIDER`, `DATA_RECIPIENT`, `INDIVIDUAL`, `MERCHANT`, `VENDOR`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub home_uri: String,
    #[serde(default)]
    pub logo_uri: String,
    /// FDX `Registry`: `FDX`, `GLEIF`, `ICANN`, `PRIVATE`.
    #[serde(default)]
    pub registry: String,
    #[serde(default)]
    pub registered_entity_name: String,
    #[serde(default)]
    pub registered_entity_id: String,
}

/// FDX 6.2 `NotificationSubscriptionentity` as a client sends it (`effectiveDate` and `subscriptionId` are set by
/// the bank and ignored here).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationSubscriptionRequest {
    /// `RISK`, `BALANCE`, `CONSENT_REVOKED` or `PLANNED_OUTAGE`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The type's pair: `FRAUD`, `NEW_DATA`, `CONSENT` or `MAINTENANCE` respectively.
    pub category: String,
    /// An absolute https URL without credentials or fragment, at most 2048 bytes.
    pub callback_url: String,
    pub subscriber: Party,
}

/// FDX 6.2 `NotificationSubscriptionentity` as the bank answers it.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotificationSubscription {
    #[serde(rename = "type")]
    pub kind: String,
    pub category: String,
    pub callback_url: String,
    pub subscriber: Party,
    /// The simulated date the subscription took effect.
    #[schema(format = Date)]
    pub effective_date: String,
    /// A UUID.
    pub subscription_id: String,
}

/// FDX 6.2 `FIAttributeentity` of a notification: a reason code and its text.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationCustomFields {
    /// RISK: `CARD_NOT_PRESENT_FAR_FROM_HOME`, `SMALL_CHARGE_BURST`, `NEW_MERCHANT_CATEGORY`, `SUSPECTED_FRAUD`;
    /// BALANCE: `LOW_BALANCE`, `LARGE_DEPOSIT`; CONSENT_REVOKED: `INITIATOR`; PLANNED_OUTAGE: `MAINTENANCE_WINDOW`.
    pub name: String,
    /// Human text; for `MAINTENANCE_WINDOW` `<start RFC 3339>/<end RFC 3339>`; for `INITIATOR` `INDIVIDUAL`.
    pub value: String,
}

/// FDX 6.2 `NotificationPayloadentity2`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotificationPayload {
    /// The account id, the bank's consent id or the maintenance window id.
    pub id: String,
    /// `ACCOUNT`, `CONSENT` or `MAINTENANCE`.
    pub id_type: String,
    pub custom_fields: NotificationCustomFields,
}

/// FDX 6.2 `HATEOASLink` of a notification.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationLink {
    /// RISK: the account's transactions on the day of the charge; BALANCE: the account.
    pub href: String,
    /// `GET`.
    pub action: String,
    /// `transactions` or `account`.
    pub rel: String,
    /// `["application/json"]`.
    pub types: Vec<String>,
}

/// FDX 6.2 `Notificationentity`: the payload of the JWS the bank `POST`s to a subscription's callback URL (not an
/// answer of this API).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Notification {
    /// A UUID; one per subscription and event.
    pub notification_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The bank's simulated clock at emission (UTC).
    #[schema(format = DateTime)]
    pub sent_on: String,
    pub category: String,
    /// RISK `ALERT`; BALANCE `WARNING` (low balance) or `NOTICE`; CONSENT_REVOKED `WARNING`; PLANNED_OUTAGE `INFO`.
    pub severity: String,
    /// RISK and CONSENT_REVOKED `HIGH`; BALANCE `MEDIUM`; PLANNED_OUTAGE `LOW`.
    pub priority: String,
    /// `{name: <bank display name>, type: DATA_PROVIDER}`.
    pub publisher: Party,
    /// The subscription's subscriber.
    pub subscriber: Party,
    pub notification_payload: NotificationPayload,
    /// RISK and BALANCE only.
    #[serde(default)]
    pub url: NotificationLink,
}

/// `POST /admin/notifications`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublishRequest {
    /// `RISK`, `BALANCE` or `PLANNED_OUTAGE` (CONSENT_REVOKED comes from revoking).
    #[serde(rename = "type")]
    pub kind: String,
    /// Optional; must be the type's pair when given.
    #[serde(default)]
    pub category: String,
    /// Required for RISK and BALANCE.
    #[serde(default)]
    pub account_id: String,
    /// `customFields.name` (default `SUSPECTED_FRAUD` / `LOW_BALANCE`), at most 64 bytes.
    #[serde(default)]
    pub reason: String,
    /// `customFields.value`, at most 500 bytes.
    #[serde(default)]
    pub detail: String,
    /// PLANNED_OUTAGE: the window (default: now for one hour).
    #[serde(default)]
    #[schema(format = DateTime)]
    pub maintenance_from: String,
    #[serde(default)]
    #[schema(format = DateTime)]
    pub maintenance_until: String,
}

/// The answer to `POST /admin/notifications`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublishResult {
    /// How many notifications were queued (one per subscription the event reaches).
    pub queued: u64,
    pub notification_ids: Vec<String>,
}

/// `GET /admin/notifications/outbox`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutboxCounts {
    /// Waiting in a callback URL's lane.
    pub queued: u64,
    /// Being delivered, waits between attempts included.
    pub in_flight: u64,
    /// Answered 2xx.
    pub delivered: u64,
    /// Refused with a 4xx other than 408/429 (not retried).
    pub rejected: u64,
    /// Given up after 5 attempts, or never sendable (no client certificate).
    pub dropped: u64,
    /// HTTP attempts, retries included.
    pub attempts: u64,
    /// Whether the bank has a client certificate to deliver with.
    pub can_deliver: bool,
    /// Subscriptions at this bank.
    pub subscriptions: u64,
}

/// One subscription in `GET /admin/notifications/subscriptions`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdminSubscription {
    pub subscription_id: String,
    /// The bank consent it belongs to.
    pub consent_id: String,
    pub client_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub category: String,
    pub callback_url: String,
    #[schema(format = Date)]
    pub effective_date: String,
    /// The accounts its events may be about.
    pub account_ids: Vec<String>,
}

/// `GET /admin/notifications/subscriptions`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminSubscriptions {
    pub subscriptions: Vec<AdminSubscription>,
}

/// `{subscriptionId}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path, names("subscriptionId"))]
pub struct SubscriptionIdParam(pub String);

/// `{customer}`: an FDX customer id, a login name or an index.
#[derive(IntoParams)]
#[into_params(parameter_in = Path, names("customer"))]
pub struct CustomerParam(pub String);

/// `{consentId}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path, names("consentId"))]
pub struct ConsentIdParam(pub String);

/// `?offset&limit`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    #[param(required = false)]
    pub offset: u32,
    /// 1-1000, default 50.
    #[param(required = false, minimum = 1, maximum = 1000)]
    pub limit: u32,
}

/// `?start&end` (dates or RFC 3339).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DayRangeQuery {
    #[param(required = false)]
    pub start: String,
    #[param(required = false)]
    pub end: String,
}

/// `?customer=`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsentsQuery {
    /// Customer id, login name or index.
    pub customer: String,
}

// ---------------------------------------------------------------------------------------------------------------
// Operations: documentation only, never routed. Each describes the routed handler its doc names.

/// Describes `list_accounts` in [`crate::api::fdx`]; exists only for this document.
#[utoipa::path(get, path = "/fdx/v6/accounts", tag = "FDX", operation_id = "searchForAccounts",
    summary = "The consent's accounts (ACCOUNT_BASIC)",
    params(AccountsQuery, InteractionIdParam), security(("bank_token" = [], "mtls" = [])),
    responses((status = 200, description = "A page of accounts.", body = AccountsPage)))]
#[allow(dead_code)]
fn search_for_accounts() {}

/// Describes `get_account` in [`crate::api::fdx`]; exists only for this document.
#[utoipa::path(get, path = "/fdx/v6/accounts/{accountId}", tag = "FDX", operation_id = "getAccount",
    summary = "One account (details with ACCOUNT_DETAILED)",
    params(AccountIdParam, InteractionIdParam), security(("bank_token" = [], "mtls" = [])),
    responses((status = 200, description = "The account.", body = Account)))]
#[allow(dead_code)]
fn get_account() {}

/// Describes `list_transactions` in [`crate::api::fdx`]; exists only for this document.
#[utoipa::path(get, path = "/fdx/v6/accounts/{accountId}/transactions", tag = "FDX",
    operation_id = "searchForAccountTransactions", summary = "Transactions (TRANSACTIONS)",
    description = "Oldest first. Pacific Summit Bank withholds card purchases not made through the consent's \
        platform.",
    params(AccountIdParam, RangeQuery, InteractionIdParam), security(("bank_token" = [], "mtls" = [])),
    responses((status = 200, description = "A page of transactions.", body = TransactionsPage)))]
#[allow(dead_code)]
fn search_for_account_transactions() {}

/// Describes `list_statements` in [`crate::api::fdx`]; exists only for this document.
#[utoipa::path(get, path = "/fdx/v6/accounts/{accountId}/statements", tag = "FDX",
    operation_id = "searchForAccountStatements", summary = "Statements (STATEMENTS)",
    params(AccountIdParam, RangeQuery, InteractionIdParam), security(("bank_token" = [], "mtls" = [])),
    responses((status = 200, description = "A page of statements.", body = StatementsPage)))]
#[allow(dead_code)]
fn search_for_account_statements() {}

/// Describes `payment_networks` in [`crate::api::fdx`]; exists only for this document.
#[utoipa::path(get, path = "/fdx/v6/accounts/{accountId}/payment-networks", tag = "FDX",
    operation_id = "getAccountPaymentNetworks", summary = "Payment networks (PAYMENT_SUPPORT)",
    params(AccountIdParam, InteractionIdParam), security(("bank_token" = [], "mtls" = [])),
    responses((status = 200, description = "The account's networks.", body = PaymentNetworksPage)))]
#[allow(dead_code)]
fn get_account_payment_networks() {}

/// Describes `account_contact` in [`crate::api::fdx`]; exists only for this document.
#[utoipa::path(get, path = "/fdx/v6/accounts/{accountId}/contact", tag = "FDX", operation_id = "getAccountContact",
    summary = "Holders and contact details (CUSTOMER_CONTACT)",
    params(AccountIdParam, InteractionIdParam), security(("bank_token" = [], "mtls" = [])),
    responses((status = 200, description = "The account's contact.", body = AccountContact)))]
#[allow(dead_code)]
fn get_account_contact() {}

/// Describes `current_customer` in [`crate::api::fdx`]; exists only for this document.
#[utoipa::path(get, path = "/fdx/v6/customers/current", tag = "FDX", operation_id = "getCustomerInfo",
    summary = "The consent's customer (CUSTOMER_PERSONAL or CUSTOMER_CONTACT)",
    params(InteractionIdParam), security(("bank_token" = [], "mtls" = [])),
    responses((status = 200, description = "The customer.", body = Customer)))]
#[allow(dead_code)]
fn get_customer_info() {}

/// Describes `create_subscription` in [`crate::api::fdx`]; exists only for this document.
#[utoipa::path(post, path = "/fdx/v6/notification-subscriptions", tag = "FDX",
    operation_id = "createNotificationSubscription", summary = "Subscribe the token's consent to a notification type",
    description = "One subscription per consent and type: subscribing again replaces its callback URL and \
        subscriber (same id). RISK and BALANCE events are about the consent's accounts only; CONSENT_REVOKED is \
        sent when the consent is revoked at the bank, after which its subscriptions end; PLANNED_OUTAGE goes to \
        every PLANNED_OUTAGE subscriber of the bank.",
    params(InteractionIdParam), security(("bank_token" = [], "mtls" = [])),
    request_body(content = NotificationSubscriptionRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Subscribed.", body = NotificationSubscription),
        (status = 400, description = "FDX 401 Invalid Input: not JSON, a type/category pair the bank does not \
            offer, a callback URL that is not https, a missing or invalid subscriber.", body = FdxError),
    ))]
#[allow(dead_code)]
fn create_notification_subscription() {}

/// Describes `get_subscription` in [`crate::api::fdx`]; exists only for this document.
#[utoipa::path(get, path = "/fdx/v6/notification-subscriptions/{subscriptionId}", tag = "FDX",
    operation_id = "getNotificationSubscription", summary = "One of the consent's subscriptions",
    params(SubscriptionIdParam, InteractionIdParam), security(("bank_token" = [], "mtls" = [])),
    responses(
        (status = 200, description = "The subscription.", body = NotificationSubscription),
        (status = 404, description = "FDX 1107: no such subscription for this consent (another consent's id \
            gets the same answer).", body = FdxError),
    ))]
#[allow(dead_code)]
fn get_notification_subscription() {}

/// Describes `delete_subscription` in [`crate::api::fdx`]; exists only for this document.
#[utoipa::path(delete, path = "/fdx/v6/notification-subscriptions/{subscriptionId}", tag = "FDX",
    operation_id = "deleteNotificationSubscription", summary = "End one of the consent's subscriptions",
    params(SubscriptionIdParam, InteractionIdParam), security(("bank_token" = [], "mtls" = [])),
    responses(
        (status = 204, description = "Ended."),
        (status = 404, description = "FDX 1107: no such subscription for this consent.", body = FdxError),
    ))]
#[allow(dead_code)]
fn delete_notification_subscription() {}

/// Describes `bank` in [`crate::api::admin`]; exists only for this document.
#[utoipa::path(get, path = "/admin/bank", tag = "Admin", operation_id = "adminBank",
    summary = "Profile, clock and counts", security(("admin_token" = [])),
    responses((status = 200, description = "The bank.", body = BankOverview)))]
#[allow(dead_code)]
fn admin_bank() {}

/// Describes `customers` in [`crate::api::admin`]; exists only for this document.
#[utoipa::path(get, path = "/admin/customers", tag = "Admin", operation_id = "adminCustomers",
    summary = "Customers, a page at a time", params(PageQuery), security(("admin_token" = [])),
    responses((status = 200, description = "A page of customers.", body = CustomerList)))]
#[allow(dead_code)]
fn admin_customers() {}

/// Describes `customer` in [`crate::api::admin`]; exists only for this document.
#[utoipa::path(get, path = "/admin/customers/{customer}", tag = "Admin", operation_id = "adminCustomer",
    summary = "One customer", params(CustomerParam), security(("admin_token" = [])),
    responses(
        (status = 200, description = "The customer with address, date of birth and accounts.",
            body = serde_json::Value),
        (status = 404, description = "No such customer.", body = Problem, content_type = "application/problem+json"),
    ))]
#[allow(dead_code)]
fn admin_customer() {}

/// Describes `customer_accounts` in [`crate::api::admin`]; exists only for this document.
#[utoipa::path(get, path = "/admin/customers/{customer}/accounts", tag = "Admin",
    operation_id = "adminCustomerAccounts", summary = "A customer's accounts with balances",
    params(CustomerParam), security(("admin_token" = [])),
    responses(
        (status = 200, description = "The accounts.", body = CustomerAccounts),
        (status = 404, description = "No such customer.", body = Problem, content_type = "application/problem+json"),
    ))]
#[allow(dead_code)]
fn admin_customer_accounts() {}

/// Describes `account` in [`crate::api::admin`]; exists only for this document.
#[utoipa::path(get, path = "/admin/accounts/{accountId}", tag = "Admin", operation_id = "adminAccount",
    summary = "One account with balances and statements", params(AccountIdParam), security(("admin_token" = [])),
    responses(
        (status = 200, description = "The account.", body = AdminAccount),
        (status = 404, description = "No such account.", body = Problem, content_type = "application/problem+json"),
    ))]
#[allow(dead_code)]
fn admin_account() {}

/// Describes `transactions` in [`crate::api::admin`]; exists only for this document.
#[utoipa::path(get, path = "/admin/accounts/{accountId}/transactions", tag = "Admin",
    operation_id = "adminTransactions", summary = "Every transaction, pending included, no consent needed",
    params(AccountIdParam, DayRangeQuery), security(("admin_token" = [])),
    responses(
        (status = 200, description = "Oldest first.", body = AdminTransactions),
        (status = 404, description = "No such account.", body = Problem, content_type = "application/problem+json"),
    ))]
#[allow(dead_code)]
fn admin_transactions() {}

/// Describes `inject` in [`crate::api::admin`]; exists only for this document.
#[utoipa::path(post, path = "/admin/accounts/{accountId}/transactions", tag = "Admin", operation_id = "adminInject",
    summary = "Inject a transaction authorized now", params(AccountIdParam),
    request_body(content = InjectRequest, content_type = "application/json"), security(("admin_token" = [])),
    responses(
        (status = 201, description = "The injected transaction.", body = AdminTransaction),
        (status = 404, description = "No such account.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 64 KiB.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Out of range or the wrong shape.", body = Problem,
            content_type = "application/problem+json"),
    ))]
#[allow(dead_code)]
fn admin_inject() {}

/// Describes `raise_fraud` in [`crate::api::admin`]; exists only for this document.
#[utoipa::path(post, path = "/admin/accounts/{accountId}/fraud", tag = "Admin", operation_id = "adminFraud",
    summary = "Raise a suspected-fraud card-not-present purchase", params(AccountIdParam),
    request_body(content = FraudRequest, content_type = "application/json"), security(("admin_token" = [])),
    responses(
        (status = 201, description = "The pending charge.", body = AdminTransaction),
        (status = 404, description = "No such account.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a credit card or checking account.", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "Bad amount or merchant.", body = Problem,
            content_type = "application/problem+json"),
    ))]
#[allow(dead_code)]
fn admin_fraud() {}

/// Describes `clock` in [`crate::api::admin`]; exists only for this document.
#[utoipa::path(get, path = "/admin/clock", tag = "Admin", operation_id = "adminClock", summary = "The clock",
    security(("admin_token" = [])), responses((status = 200, description = "The clock.", body = Clock)))]
#[allow(dead_code)]
fn admin_clock() {}

/// Describes `move_clock` in [`crate::api::admin`]; exists only for this document.
#[utoipa::path(post, path = "/admin/clock", tag = "Admin", operation_id = "adminMoveClock",
    summary = "Move the clock forward", request_body(content = ClockRequest, content_type = "application/json"),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The moved clock.", body = Clock),
        (status = 409, description = "Backwards.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not exactly one valid member.", body = Problem,
            content_type = "application/problem+json"),
    ))]
#[allow(dead_code)]
fn admin_move_clock() {}

/// Describes `faults` in [`crate::api::admin`]; exists only for this document.
#[utoipa::path(get, path = "/admin/faults", tag = "Admin", operation_id = "adminFaults", summary = "Fault rules",
    security(("admin_token" = [])), responses((status = 200, description = "The rules.", body = Faults)))]
#[allow(dead_code)]
fn admin_faults() {}

/// Describes `set_faults` in [`crate::api::admin`]; exists only for this document.
#[utoipa::path(put, path = "/admin/faults", tag = "Admin", operation_id = "adminSetFaults",
    summary = "Replace the fault rules", request_body(content = Faults, content_type = "application/json"),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The rules now in force.", body = Faults),
        (status = 422, description = "An invalid rule.", body = Problem, content_type = "application/problem+json"),
    ))]
#[allow(dead_code)]
fn admin_set_faults() {}

/// Describes `clear_faults` in [`crate::api::admin`]; exists only for this document.
#[utoipa::path(delete, path = "/admin/faults", tag = "Admin", operation_id = "adminClearFaults",
    summary = "Remove every fault rule", security(("admin_token" = [])),
    responses((status = 204, description = "Cleared.")))]
#[allow(dead_code)]
fn admin_clear_faults() {}

/// Describes `reset` in [`crate::api::admin`]; exists only for this document.
#[utoipa::path(post, path = "/admin/reset", tag = "Admin", operation_id = "adminReset",
    summary = "Back to the seed (consents stay)", security(("admin_token" = [])),
    responses((status = 200, description = "Reset.", body = ResetResult)))]
#[allow(dead_code)]
fn admin_reset() {}

/// Describes `register_client` in [`crate::api::admin`]; exists only for this document.
#[utoipa::path(post, path = "/admin/oauth-clients", tag = "Admin", operation_id = "adminRegisterClient",
    summary = "Register a client of the bank's login",
    request_body(content = OAuthClientRequest, content_type = "application/json"), security(("admin_token" = [])),
    responses(
        (status = 201, description = "Registered.", body = OAuthClientRegistered),
        (status = 422, description = "Refused.", body = Problem, content_type = "application/problem+json"),
    ))]
#[allow(dead_code)]
fn admin_register_client() {}

/// Describes `consents` in [`crate::api::admin`]; exists only for this document.
#[utoipa::path(get, path = "/admin/consents", tag = "Admin", operation_id = "adminConsents",
    summary = "A customer's consents at the bank", params(ConsentsQuery), security(("admin_token" = [])),
    responses(
        (status = 200, description = "Newest first.", body = ConsentList),
        (status = 404, description = "No such customer.", body = Problem, content_type = "application/problem+json"),
    ))]
#[allow(dead_code)]
fn admin_consents() {}

/// Describes `revoke_consent` in [`crate::api::admin`]; exists only for this document.
#[utoipa::path(post, path = "/admin/consents/{consentId}/revoke", tag = "Admin", operation_id = "adminRevokeConsent",
    summary = "Revoke as the person would at the bank", params(ConsentIdParam), security(("admin_token" = [])),
    responses(
        (status = 200, description = "Revoked; every token of the consent stops.", body = ConsentRevoked),
        (status = 404, description = "No such consent.", body = Problem, content_type = "application/problem+json"),
    ))]
#[allow(dead_code)]
fn admin_revoke_consent() {}

/// Describes `publish_notification` in [`crate::api::admin`]; exists only for this document.
#[utoipa::path(post, path = "/admin/notifications", tag = "Admin", operation_id = "adminPublishNotification",
    summary = "Publish a notification without touching the ledger",
    description = "Addressed and delivered like detected events (RISK/BALANCE to the subscriptions whose consent \
        covers the account, PLANNED_OUTAGE to every PLANNED_OUTAGE subscription). For QA, scenarios and load runs.",
    request_body(content = PublishRequest, content_type = "application/json"), security(("admin_token" = [])),
    responses(
        (status = 202, description = "Queued (possibly none, when no subscription wants it).", body = PublishResult),
        (status = 404, description = "No such account.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown type or pair, missing accountId, CONSENT_REVOKED, a bad window.",
            body = Problem, content_type = "application/problem+json"),
    ))]
#[allow(dead_code)]
fn admin_publish_notification() {}

/// Describes `outbox` in [`crate::api::admin`]; exists only for this document.
#[utoipa::path(get, path = "/admin/notifications/outbox", tag = "Admin", operation_id = "adminNotificationOutbox",
    summary = "Notification delivery counters", security(("admin_token" = [])),
    responses((status = 200, description = "The counters; the outbox is empty when queued and inFlight are 0.",
        body = OutboxCounts)))]
#[allow(dead_code)]
fn admin_notification_outbox() {}

/// Describes `subscriptions` in [`crate::api::admin`]; exists only for this document.
#[utoipa::path(get, path = "/admin/notifications/subscriptions", tag = "Admin",
    operation_id = "adminNotificationSubscriptions", summary = "Every notification subscription at the bank",
    security(("admin_token" = [])),
    responses((status = 200, description = "Sorted by consent, then type.", body = AdminSubscriptions)))]
#[allow(dead_code)]
fn admin_notification_subscriptions() {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The FDX paths [`crate::api::fdx::router`] routes.
    const ROUTED_FDX_PATHS: [&str; 7] = [
        "/fdx/v6/accounts",
        "/fdx/v6/accounts/{accountId}",
        "/fdx/v6/accounts/{accountId}/transactions",
        "/fdx/v6/accounts/{accountId}/statements",
        "/fdx/v6/accounts/{accountId}/payment-networks",
        "/fdx/v6/accounts/{accountId}/contact",
        "/fdx/v6/customers/current",
    ];

    fn document_json() -> Value {
        let text = document().to_pretty_json().expect("the document serializes");
        serde_json::from_str(&text).expect("the document is valid JSON")
    }

    #[test]
    fn the_document_is_openapi_3_1_and_lists_every_routed_fdx_and_admin_path() {
        let doc = document_json();
        let version = doc["openapi"].as_str().expect("openapi version");
        assert!(version.starts_with("3.1."), "OpenAPI 3.1.x, got {version}");
        let paths = doc["paths"].as_object().expect("paths");
        for path in ROUTED_FDX_PATHS {
            let get = &paths.get(path).unwrap_or_else(|| panic!("{path} is documented"))["get"];
            for status in ["200", "400", "401", "403", "404", "503", "default"] {
                assert!(get["responses"][status].is_object(), "{path} documents {status}");
            }
        }
        for (path, method, status) in [
            ("/fdx/v6/notification-subscriptions", "post", "201"),
            ("/fdx/v6/notification-subscriptions/{subscriptionId}", "get", "200"),
            ("/fdx/v6/notification-subscriptions/{subscriptionId}", "delete", "204"),
        ] {
            for status in [status, "400", "401", "404", "default"] {
                assert!(paths[path][method]["responses"][status].is_object(), "{method} {path} documents {status}");
            }
        }
        let fdx_paths = paths.keys().filter(|p| p.starts_with("/fdx/")).count();
        assert_eq!(fdx_paths, ROUTED_FDX_PATHS.len() + 2, "no FDX path the router does not have");
        for (path, method) in [
            ("/admin/bank", "get"),
            ("/admin/customers/{customer}/accounts", "get"),
            ("/admin/accounts/{accountId}/transactions", "post"),
            ("/admin/clock", "post"),
            ("/admin/faults", "put"),
            ("/admin/faults", "delete"),
            ("/admin/consents/{consentId}/revoke", "post"),
            ("/admin/notifications", "post"),
            ("/admin/notifications/outbox", "get"),
            ("/admin/notifications/subscriptions", "get"),
        ] {
            assert!(paths[path][method]["responses"]["401"].is_object(), "{method} {path} documents 401");
        }
        assert_eq!(doc["components"]["securitySchemes"]["mtls"]["type"], "mutualTLS");
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document_json();
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert!(refs.len() > 50, "operations refer to shared schemas and responses");
        for reference in refs {
            let pointer = reference.strip_prefix('#').expect("local reference");
            assert!(doc.pointer(pointer).is_some(), "{reference} resolves");
        }
    }

    fn collect_refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| collect_refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }

    /// The document's account schema accepts what [`crate::api::wire`] writes: every member it writes is listed.
    #[test]
    fn wire_accounts_use_only_documented_members() {
        use crate::api::wire::FdxAccount;
        let doc = document_json();
        let properties = doc["components"]["schemas"]["Account"]["properties"].as_object().expect("properties");
        let required: Vec<&str> = doc["components"]["schemas"]["Account"]["required"]
            .as_array()
            .expect("required")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let descriptor = serde_json::to_value(FdxAccount { account_category: "DEPOSIT_ACCOUNT", ..Default::default() })
            .expect("serializes");
        let written = descriptor.as_object().expect("object");
        for member in written.keys() {
            assert!(properties.contains_key(member), "{member} is documented");
        }
        for member in required {
            assert!(written.contains_key(member), "{member} is always written");
        }
    }

    /// The document's notification schemas list exactly the members `events::Notification` writes.
    #[test]
    fn notifications_use_only_documented_members() {
        use crate::events::{
            CustomField, Notification, NotificationLink, NotificationPayload, NotificationType, Party,
        };
        let party = Party {
            name: "Bank".into(),
            kind: "DATA_PROVIDER".into(),
            home_uri: Some("https://bank.example".into()),
            logo_uri: Some("https://bank.example/logo".into()),
            registry: Some("FDX".into()),
            registered_entity_name: Some("Bank".into()),
            registered_entity_id: Some("B1".into()),
        };
        let notification = Notification {
            notification_id: crate::events::new_uuid(),
            kind: NotificationType::Risk,
            sent_on: "2026-11-18T12:00:00Z".into(),
            category: "FRAUD",
            severity: "ALERT",
            priority: "HIGH",
            publisher: party.clone(),
            subscriber: party,
            notification_payload: NotificationPayload {
                id: "A1".into(),
                id_type: "ACCOUNT",
                custom_fields: CustomField { name: "SUSPECTED_FRAUD".into(), value: "x".into() },
            },
            url: Some(NotificationLink {
                href: "https://bank.example/fdx/v6/accounts/A1".into(),
                action: "GET",
                rel: "account",
                types: ["application/json"],
            }),
        };
        let written = serde_json::to_value(&notification).expect("serializes");
        let doc = document_json();
        let schemas = &doc["components"]["schemas"];
        for (schema, value) in [
            ("Notification", &written),
            ("NotificationPayload", &written["notificationPayload"]),
            ("NotificationCustomFields", &written["notificationPayload"]["customFields"]),
            ("NotificationLink", &written["url"]),
            ("Party", &written["publisher"]),
        ] {
            let mut documented: Vec<&String> =
                schemas[schema]["properties"].as_object().expect(schema).keys().collect();
            let mut members: Vec<&String> = value.as_object().expect(schema).keys().collect();
            documented.sort();
            members.sort();
            assert_eq!(members, documented, "{schema}");
        }
    }
}
