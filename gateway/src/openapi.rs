//! The gateway's OpenAPI 3.1 document ([`document`]), served at `GET /openapi.json` with a Swagger UI at `/docs`
//! ([`routes`], merged into [`crate::app::router`]). The Swagger UI's files are compiled into the binary
//! (`utoipa-swagger-ui` feature `vendored`) and its validator badge is switched off, so `/docs` works offline.
//!
//! It describes the FDX 6.2 resource API ([`crate::fdx`]), the FDX consent API and OpenID Grant Management
//! ([`crate::oauth::endpoints::grants`]), the OAuth endpoints (RFC 8414 metadata, RFC 7517 JWKS, RFC 7591/7592
//! registration, RFC 9126 PAR, RFC 6749 token, RFC 7662 introspection, RFC 7009 revocation) and the sandbox consent
//! shortcut. The handlers live in modules other engineers edit, so nothing here annotates them: each operation is a
//! documentation-only function below (never routed), named after the FDX `operationId` or the endpoint, whose
//! Rust doc names the handler it describes. The error responses every operation of a family shares are added by
//! [`SharedResponses`] from one table per family.
//!
//! Response schemas are written to accept every answer the handlers give and no more: the resource API's objects
//! list exactly the fields of [`crate::fdx::table::FIELDS`] (`additionalProperties: false`: the filter is an
//! allow-list, so a field outside the table is a bug the schema catches), every one optional (the consent's data
//! clusters decide which appear); nested FDX objects (`currency`, addresses, names, ...) are passed on as the bank
//! sent them and so stay open. The CI script `ci/schemathesis.sh` fuzzes the resource and consent API against this
//! document. This module must never describe a field the gateway does not send, nor leave out one it does.

use axum::Router;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::app::AppState;

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/openapi.json";
/// Where the Swagger UI is served.
pub const DOCS_PATH: &str = "/docs";

/// The gateway's OpenAPI 3.1 document.
pub fn document() -> utoipa::openapi::OpenApi {
    GatewayApi::openapi()
}

/// `GET /openapi.json` and the Swagger UI under `/docs` (no state, no authentication: the document is public).
pub fn routes() -> Router<AppState> {
    let config = Config::new([OPENAPI_PATH]).validator_url("none").try_it_out_enabled(false);
    SwaggerUi::new(DOCS_PATH).url(OPENAPI_PATH, document()).config(config).into()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "bankgate consent gateway",
        description = "The consent gateway of the bankgate open-banking sandbox: a FAPI 2.0 authorization server, \
            the FDX 6.2 consent API and a consent-enforced FDX 6.2 resource API in front of the person's bank.\n\n\
            Every resource request is checked in this order: the access token and its sender constraint (DPoP \
            proof, or the bound client certificate; plain Bearer only for sandbox clients), the client's rate \
            limit (429), the consent active (401), the account inside the consent (404, the same answer as for an \
            account that does not exist), the data clusters (403); then the bank is called and its answer cut to \
            what the consent shows. The resource API is read-only: any other method answers 405 (FDX 1206), and \
            any other path under `/fdx/v6` 404 (FDX 1107). Every resource answer, errors included, carries \
            `x-fapi-interaction-id`.",
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
        get_consent_grant,
        get_consent_revocation,
        revoke_consent_grant,
        query_grant,
        revoke_grant,
        authorization_server_metadata,
        openid_configuration,
        jwks,
        register_client,
        read_client,
        update_client,
        delete_client,
        pushed_authorization_request,
        token,
        introspect,
        revoke,
        sandbox_consent,
        create_notification_subscription,
        get_notification_subscription,
        delete_notification_subscription,
        get_notification_dead_letters,
        get_notifications,
        acknowledge_notifications,
    ),
    components(schemas(
        FdxError,
        PageMetadata,
        PageLinks,
        HateoasLink,
        Account,
        AccountsPage,
        Transaction,
        TransactionsPage,
        Statement,
        StatementsPage,
        PaymentNetwork,
        PaymentNetworksPage,
        AccountContact,
        Customer,
        ConsentGrant,
        ConsentRevocationRequest,
        ConsentRevocationList,
        OAuthError,
        crate::events::model::Notification,
        crate::events::model::NotificationSubscription,
        crate::events::model::NotificationPage,
        crate::events::model::Acknowledgements,
        crate::events::model::DeadLetters,
    )),
    modifiers(&SecuritySchemes, &SharedResponses, &OptionalRevocationBody),
    tags(
        (name = "FDX resources", description = "FDX 6.2 account data, answered from the person's bank only as far \
            as the consent reaches."),
        (name = "FDX consents", description = "FDX 6.2 consent API, for the app's own consents (`consent_management` \
            client-credentials token). Errors are FDX `{code, message, debugMessage}`."),
        (name = "Grant Management", description = "OpenID Grant Management (grant_id = consent id). Errors are \
            RFC 6750 / RFC 6749 `{error, error_description}`."),
        (name = "OAuth", description = "The FAPI 2.0 authorization server: RFC 8414, 7517, 7591, 7592, 9126, 6749, \
            7662, 7009. Errors are RFC 6749 §5.2 `{error, error_description}` with `Cache-Control: no-store`."),
        (name = "Sandbox", description = "Routed only while the sandbox profile is on."),
        (name = "FDX notifications", description = "Bank notifications (fraud, balance, consent revoked, planned \
            outage) for the consent's app: FDX 6.2 subscriptions delivered as webhooks, and polling. Needs \
            `NOTIFICATIONS` (scope `fdx:notifications:subscribe`) in an active consent. A webhook is an RFC 8417 \
            Security Event Token (`typ: secevent+jwt`, ES256, verifiable with `/jwks`) pushed per RFC 8935 as \
            `application/secevent+jwt`; claims `iss`, `aud` (client_id), `iat`, `jti` (= notificationId), `toe`, \
            `events: {\"https://bankgate.dev/secevent/fdx-notification\": Notificationentity}`. Delivery is at least \
            once, ordered per subscription, retried with exponential backoff and jitter on 408, 429, 5xx, timeouts \
            and connection errors (other 4xx: dead at once), then dead-lettered; nothing is delivered after the \
            consent is revoked or expired, except the CONSENT_REVOKED news itself."),
    ),
)]
struct GatewayApi;

// ---------------------------------------------------------------------------------------------------------------
// Security schemes

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
            "bearer",
            bearer(
                "`Authorization: Bearer <access token>` (RFC 6750 §2.1): sandbox clients' bearer tokens, and \
                 certificate-bound tokens together with `mtls` (RFC 8705 §3).",
            ),
        );
        components.add_security_scheme(
            "dpop",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "DPoP",
                "RFC 9449 §7.1: `Authorization: DPoP <access token>` plus this `DPoP` header, a proof JWT for this \
                 request (`htm`, `htu`, `ath` = the token's hash, a fresh `jti`, `iat` within 60 s).",
            ))),
        );
        components.add_security_scheme(
            "mtls",
            SecurityScheme::MutualTls {
                description: Some(
                    "RFC 8705: the client certificate the token is bound to (`cnf.x5t#S256`), or that \
                     authenticates a `tls_client_auth` client."
                        .into(),
                ),
                deprecated: None,
                extensions: None,
            },
        );
        components.add_security_scheme(
            "client_secret_basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "RFC 6749 §2.3.1, `sandbox` clients only. `private_key_jwt` clients send \
                         `client_assertion_type` and `client_assertion` (RFC 7523) in the body instead.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "registration_access_token",
            bearer("RFC 7592 §3: the registration access token returned by `POST /register`."),
        );
        components.add_security_scheme(
            "initial_access_token",
            bearer("RFC 7591 §3.1: needed only where the deployment gates registration with one."),
        );
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Shared error responses

/// Where an error response comes from, which decides its body and headers.
#[derive(Clone, Copy)]
enum Family {
    /// The resource API ([`crate::fdx::error`]): FDX body, `x-fapi-interaction-id`, `Cache-Control: no-store`.
    Resource,
    /// The FDX consent API ([`crate::oauth::endpoints::grants`]): FDX body; 401 challenges `DPoP, Bearer`.
    Consent,
    /// OAuth endpoints and Grant Management ([`crate::error::OAuthFailure`]): RFC 6749 §5.2 body.
    OAuth,
}

/// The error statuses of the resource API, with what each means.
const RESOURCE_ERRORS: [(u16, &str); 10] = [
    (400, "Invalid query (FDX 401 Invalid Input, 702 bad date), or the bank's own 400 passed on."),
    (
        401,
        "No valid, sender-constrained access token of an active consent (FDX 603); also a revoked or expired \
          consent or token.",
    ),
    (403, "A client-credentials token, or the consent does not cover the endpoint's data clusters (FDX 403)."),
    (404, "The account is not in the consent (or does not exist: the same answer, FDX 701), or the bank's 404."),
    (429, "The client's request rate is above its limit (FDX 1207)."),
    (500, "A failure of the gateway itself (FDX 500)."),
    (502, "The bank failed, reset the connection or answered a malformed body (code 502)."),
    (503, "The bank is in maintenance (FDX 503, the bank's `Retry-After`) or its circuit is open (code 503)."),
    (504, "The bank did not answer in time (code 504)."),
    (405, "Not a GET (FDX 1206). Never the answer to a documented operation; listed for completeness."),
];

/// The error statuses of each FDX consent API operation.
const CONSENT_ERRORS: [(u16, &str); 4] = [
    (
        401,
        "The token is not an active client-credentials token of this client, or its DPoP proof or certificate \
          binding failed (FDX 603).",
    ),
    (403, "The token lacks the `consent_management` scope (FDX 403)."),
    (404, "No such consent of this client (FDX 1107): another client's consent looks the same."),
    (500, "A failure of the gateway itself (FDX 500)."),
];

/// The error statuses of each Grant Management operation.
const GRANT_ERRORS: [(u16, &str); 4] = [
    (
        401,
        "`invalid_token` (RFC 6750 §3.1): not an active client-credentials token of this client, or its sender \
          constraint failed.",
    ),
    (403, "`insufficient_scope` (RFC 6750 §3.1)."),
    (404, "`invalid_grant`: no such active grant of this client."),
    (500, "`server_error`."),
];

/// The error statuses of the client-authenticated OAuth endpoints (token, PAR, introspection, revocation).
const OAUTH_ERRORS: [(u16, &str); 3] = [
    (
        400,
        "RFC 6749 §5.2 `invalid_request`, `invalid_grant`, `unauthorized_client`, `unsupported_grant_type`, \
          `invalid_scope`, RFC 9396 `invalid_authorization_details`, RFC 9449 `invalid_dpop_proof`, ...",
    ),
    (401, "`invalid_client`: client authentication failed (`WWW-Authenticate` names the scheme tried)."),
    (500, "`server_error`."),
];

fn component_name(family: Family, status: u16) -> String {
    let prefix = match family {
        Family::Resource => "Fdx",
        Family::Consent => "Consent",
        Family::OAuth => "OAuth",
    };
    format!("{prefix}{status}")
}

fn string_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some(description))
        .build()
}

fn error_response(family: Family, status: u16, description: &str) -> Response {
    let body = match family {
        Family::Resource | Family::Consent => "FdxError",
        Family::OAuth => "OAuthError",
    };
    let mut response = ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name(body))).build());
    if matches!(family, Family::Resource) {
        response = response.header(crate::fdx::INTERACTION_ID.as_str(), interaction_id_header());
    }
    if !matches!(family, Family::Consent) {
        response = response.header("Cache-Control", string_header("`no-store`."));
    }
    match (family, status) {
        (Family::Resource, 401) => {
            response = response.header(
                "WWW-Authenticate",
                string_header("`Bearer error=\"invalid_token\"`, or for DPoP-bound tokens `DPoP error=...`."),
            );
        }
        (Family::Consent, 401) => {
            response = response.header("WWW-Authenticate", string_header("`DPoP, Bearer`."));
        }
        (Family::OAuth, 401) => {
            response = response.header("WWW-Authenticate", string_header("`Basic realm=...` or `Bearer error=...`."));
        }
        (Family::Resource, 429) => {
            response = response.header("Retry-After", retry_after_header(true));
        }
        (Family::Resource, 503) => {
            response = response.header("Retry-After", retry_after_header(false));
        }
        _ => {}
    }
    response.build()
}

fn interaction_id_header() -> utoipa::openapi::header::Header {
    string_header(
        "FAPI 2.0 / FDX interaction id: the request's own when it sent a sane one (1-128 of `A-Za-z0-9-_.:`), \
         a fresh UUID otherwise.",
    )
}

fn retry_after_header(always: bool) -> utoipa::openapi::header::Header {
    let description = if always {
        "Seconds until the client may try again (RFC 9110 §10.2.3)."
    } else {
        "Seconds until the bank is expected back (RFC 9110 §10.2.3); present unless the bank named no time."
    };
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1))))
        .description(Some(description))
        .build()
}

/// Adds the shared error responses as components and refers every operation of a family to them.
struct SharedResponses;

impl Modify for SharedResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let tables: [(Family, &[(u16, &str)]); 3] =
            [(Family::Resource, &RESOURCE_ERRORS), (Family::Consent, &CONSENT_ERRORS), (Family::OAuth, &GRANT_ERRORS)];
        let components = openapi.components.get_or_insert_with(Default::default);
        for (family, table) in tables {
            for (status, description) in table {
                components
                    .responses
                    .insert(component_name(family, *status), RefOr::T(error_response(family, *status, description)));
            }
        }
        for (status, description) in OAUTH_ERRORS {
            components
                .responses
                .entry(component_name(Family::OAuth, status))
                .or_insert_with(|| RefOr::T(error_response(Family::OAuth, status, description)));
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            let (family, statuses): (Family, Vec<u16>) = if path.starts_with("/fdx/v6/") {
                (Family::Resource, RESOURCE_ERRORS.iter().map(|(s, _)| *s).filter(|s| *s != 405).collect())
            } else if path.starts_with("/consents/") {
                (Family::Consent, CONSENT_ERRORS.iter().map(|(s, _)| *s).collect())
            } else if path.starts_with("/grants/") {
                (Family::OAuth, GRANT_ERRORS.iter().map(|(s, _)| *s).collect())
            } else if [
                crate::oauth::endpoints::TOKEN_PATH,
                crate::oauth::endpoints::PAR_PATH,
                crate::oauth::endpoints::INTROSPECT_PATH,
                crate::oauth::endpoints::REVOKE_PATH,
                crate::oauth::endpoints::sandbox::SANDBOX_CONSENTS_PATH,
            ]
            .contains(&path.as_str())
            {
                (Family::OAuth, OAUTH_ERRORS.iter().map(|(s, _)| *s).collect())
            } else {
                continue;
            };
            let operations =
                [&mut item.get, &mut item.put, &mut item.post, &mut item.delete].into_iter().filter_map(Option::as_mut);
            for operation in operations {
                for status in &statuses {
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(component_name(family, *status))));
                }
            }
        }
    }
}

/// `PUT /consents/{consentId}/revocation` takes an empty body as `{}` (the body is optional, but never `null`).
struct OptionalRevocationBody;

impl Modify for OptionalRevocationBody {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let body = openapi
            .paths
            .paths
            .get_mut("/consents/{consentId}/revocation")
            .and_then(|item| item.put.as_mut())
            .and_then(|operation| operation.request_body.as_mut());
        if let Some(RefOr::T(body)) = body {
            body.required = Some(utoipa::openapi::Required::False);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// FDX resource shapes (as the gateway answers them: cut to the field table)

/// FDX 6.2 `Error`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FdxError {
    /// FDX error code (or the HTTP status as a provider-defined code for 502/503/504).
    #[schema(example = "701")]
    pub code: String,
    /// The FDX message of the code.
    #[schema(example = "Account not found")]
    pub message: String,
    /// What happened, for a developer (never a token or a bank's body).
    pub debug_message: String,
}

/// FDX 6.2 `PageMetadata`, cut to what the gateway passes on.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PageMetadata {
    /// Opaque cursor of the next page (send it back as `offset`).
    #[serde(default)]
    pub next_offset: String,
    #[serde(default)]
    pub total_elements: u64,
}

/// FDX 6.2 `HATEOASLink` (only `href`, always pointing at the gateway).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HateoasLink {
    #[schema(format = "uri")]
    pub href: String,
}

/// FDX 6.2 `PageMetadataLinks`, cut to `next`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PageLinks {
    #[serde(default)]
    pub next: HateoasLink,
}

/// FDX `AccountCategory`: the account's concrete FDX type.
#[derive(ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccountCategory {
    AnnuityAccount,
    CommercialAccount,
    DepositAccount,
    DigitalWallet,
    InsuranceAccount,
    InvestmentAccount,
    LoanAccount,
    LocAccount,
}

/// FDX 6.2 `AccountStatus`.
#[derive(ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum AccountStatus {
    Closed,
    Delinquent,
    Negativecurrentbalance,
    Open,
    Paid,
    Pendingclose,
    Pendingopen,
    Restricted,
}

/// FDX 6.2 `BalanceType`.
#[derive(ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum BalanceType {
    Asset,
    Liability,
}

/// FDX 6.2 `InterestRateType`.
#[derive(ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum InterestRateType {
    Fixed,
    Variable,
}

/// FDX 6.2 `PaymentFrequency`.
#[derive(ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum PaymentFrequency {
    Annually,
    Biweekly,
    Daily,
    Monthly,
    Semiannually,
    Semimonthly,
    Weekly,
}

/// FDX 6.2 `Currencyentity` (as the bank sent it).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Currency {
    /// ISO 4217 code.
    #[schema(example = "USD")]
    #[serde(default)]
    pub currency_code: String,
    #[serde(default)]
    pub currency_rate: f64,
    #[serde(default)]
    pub original_currency_code: String,
}

/// An FDX 6.2 account (`AccountDescriptorentity` and the fields of `DepositAccountentity`,
/// `LineofCreditAccountentity`, `LoanAccountentity` the gateway passes on). The descriptor fields show with
/// `ACCOUNT_BASIC` or `ACCOUNT_DETAILED`, the rest with `ACCOUNT_DETAILED` only; nothing else ever appears.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Account {
    #[serde(default)]
    pub account_category: AccountCategory,
    #[serde(default)]
    pub account_id: String,
    /// FDX `AccountType`, e.g. `CHECKING`, `SAVINGS`, `CD`, `CREDITCARD`, `MORTGAGE`, `AUTOLOAN`.
    #[serde(default)]
    pub account_type: String,
    /// The masked number, e.g. `...1234`.
    #[serde(default)]
    pub account_number_display: String,
    #[serde(default)]
    pub product_name: String,
    #[serde(default)]
    pub nickname: String,
    #[serde(default)]
    pub status: AccountStatus,
    #[schema(format = Date)]
    #[serde(default)]
    pub account_open_date: String,
    #[serde(default)]
    pub currency: Currency,
    #[serde(default)]
    pub routing_transit_number: String,
    #[serde(default)]
    pub balance_type: BalanceType,
    #[serde(default)]
    pub interest_rate: f64,
    #[serde(default)]
    pub interest_rate_type: InterestRateType,
    #[schema(format = Date)]
    #[serde(default)]
    pub last_activity_date: String,
    #[serde(default)]
    pub transfer_in: bool,
    #[serde(default)]
    pub transfer_out: bool,
    #[schema(format = DateTime)]
    #[serde(default)]
    pub balance_as_of: String,
    #[serde(default)]
    pub current_balance: f64,
    #[serde(default)]
    pub opening_day_balance: f64,
    #[serde(default)]
    pub available_balance: f64,
    #[serde(default)]
    pub annual_percentage_yield: f64,
    /// Months.
    #[serde(default)]
    pub term: i64,
    #[schema(format = Date)]
    #[serde(default)]
    pub maturity_date: String,
    #[serde(default)]
    pub credit_line: f64,
    #[serde(default)]
    pub available_credit: f64,
    #[serde(default)]
    pub purchases_apr: f64,
    #[serde(default)]
    pub last_stmt_balance: f64,
    #[schema(format = Date)]
    #[serde(default)]
    pub last_stmt_date: String,
    #[serde(default)]
    pub minimum_payment_amount: f64,
    #[serde(default)]
    pub card_network: String,
    #[serde(default)]
    pub principal_balance: f64,
    #[serde(default)]
    pub original_principal: f64,
    #[schema(format = Date)]
    #[serde(default)]
    pub originating_date: String,
    /// Months.
    #[serde(default)]
    pub loan_term: i64,
    #[serde(default)]
    pub payment_frequency: PaymentFrequency,
    #[serde(default)]
    pub next_payment_amount: f64,
    #[schema(format = Date)]
    #[serde(default)]
    pub next_payment_date: String,
}

/// `GET /fdx/v6/accounts`: a page of the consent's accounts.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountsPage {
    #[serde(default)]
    pub page: PageMetadata,
    #[serde(default)]
    pub links: PageLinks,
    pub accounts: Vec<Account>,
}

/// FDX 6.2 `DebitCreditMemo`.
#[derive(ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum DebitCreditMemo {
    Credit,
    Debit,
    Memo,
}

/// FDX 6.2 `TransactionStatus`.
#[derive(ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum TransactionStatus {
    Authorization,
    Memo,
    Pending,
    Posted,
}

/// FDX 6.2 `FiAttributeentity` (as the bank sent it).
#[derive(ToSchema)]
pub struct FiAttribute {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: String,
}

/// An FDX 6.2 transaction (`DepositTransactionentity`, `LineofCreditTransactionentity`, `LoanTransactionentity`),
/// cut to the field table (`TRANSACTIONS`).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Transaction {
    #[serde(default)]
    pub account_category: AccountCategory,
    #[serde(default)]
    pub account_id: String,
    #[serde(default)]
    pub transaction_id: String,
    #[schema(format = DateTime)]
    #[serde(default)]
    pub posted_timestamp: String,
    #[schema(format = DateTime)]
    #[serde(default)]
    pub transaction_timestamp: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub debit_credit_memo: DebitCreditMemo,
    /// MCC (with `subCategory` `MCC`) or the bank's category name.
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub sub_category: String,
    #[serde(default)]
    pub status: TransactionStatus,
    #[serde(default)]
    pub amount: f64,
    /// FDX transaction type of the account's category, e.g. `POSDEBIT`, `DIRECTDEPOSIT`, `PURCHASE`, `PAYMENT`.
    #[serde(default)]
    pub transaction_type: String,
    #[serde(default)]
    pub payee: String,
    #[serde(default)]
    pub check_number: i64,
    #[serde(default)]
    pub fi_attributes: Vec<FiAttribute>,
}

/// `GET /fdx/v6/accounts/{accountId}/transactions`: a page of transactions inside the consent's lookback window.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransactionsPage {
    #[serde(default)]
    pub page: PageMetadata,
    #[serde(default)]
    pub links: PageLinks,
    pub transactions: Vec<Transaction>,
}

/// FDX 6.2 `StatementStatus`.
#[derive(ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum StatementStatus {
    Available,
    Failed,
    Processing,
}

/// FDX 6.2 `Statemententity`, cut to the field table (`STATEMENTS`).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Statement {
    #[serde(default)]
    pub account_id: String,
    #[serde(default)]
    pub statement_id: String,
    #[schema(format = Date)]
    #[serde(default)]
    pub statement_date: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub status: StatementStatus,
}

/// `GET /fdx/v6/accounts/{accountId}/statements`: a page of statements inside the lookback window.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatementsPage {
    #[serde(default)]
    pub page: PageMetadata,
    #[serde(default)]
    pub links: PageLinks,
    pub statements: Vec<Statement>,
}

/// FDX 6.2 `PaymentNetworkIdentifierType`.
#[derive(ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentNetworkIdentifierType {
    AccountNumber,
    TokenizedAccountNumber,
}

/// FDX 6.2 `PaymentNetworkSupportedbyAccount`, cut to the field table (`PAYMENT_SUPPORT` / `ACCOUNT_PAYMENTS`):
/// the only place a full account number travels.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentNetwork {
    /// Routing number.
    #[serde(default)]
    pub bank_id: String,
    /// The full account number.
    #[serde(default)]
    pub identifier: String,
    #[serde(default)]
    pub identifier_type: PaymentNetworkIdentifierType,
    /// FDX `PaymentNetworkType` (suggested values `US_ACH`, `US_RTP`, `US_FEDWIRE`, ...).
    #[serde(rename = "type")]
    #[serde(default)]
    pub network: String,
    #[serde(default)]
    pub transfer_in: bool,
    #[serde(default)]
    pub transfer_out: bool,
}

/// `GET /fdx/v6/accounts/{accountId}/payment-networks`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentNetworksPage {
    #[serde(default)]
    pub page: PageMetadata,
    #[serde(default)]
    pub links: PageLinks,
    pub payment_networks: Vec<PaymentNetwork>,
}

/// FDX 6.2 `CustomerName` (as the bank sent it).
#[derive(ToSchema)]
pub struct CustomerName {
    #[serde(default)]
    pub first: String,
    #[serde(default)]
    pub middle: String,
    #[serde(default)]
    pub last: String,
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub suffix: String,
    #[serde(default)]
    pub company: String,
}

/// FDX 6.2 `DeliveryAddress` (as the bank sent it).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAddress {
    #[serde(default)]
    pub line1: String,
    #[serde(default)]
    pub line2: String,
    #[serde(default)]
    pub line3: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub postal_code: String,
    #[serde(default)]
    pub country: String,
    /// `BUSINESS`, `DELIVERY`, `HOME` or `MAILING`.
    #[serde(rename = "type")]
    #[serde(default)]
    pub kind: String,
}

/// FDX 6.2 `TelephoneNumber` (as the bank sent it).
#[derive(ToSchema)]
pub struct TelephoneNumber {
    /// `HOME`, `BUSINESS`, `CELL` or `FAX`.
    #[serde(rename = "type")]
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub country: String,
    #[serde(default)]
    pub number: String,
}

/// FDX 6.2 `AccountHolderentity` (as the bank sent it).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountHolder {
    #[serde(default)]
    pub customer_id: String,
    /// `CONSUMER` or `BUSINESS`.
    #[serde(rename = "type")]
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: CustomerName,
    /// FDX `AccountHolderRelationship`, e.g. `PRIMARY`, `PRIMARY_BORROWER`.
    #[serde(default)]
    pub relationship: String,
}

/// FDX 6.2 `AccountContactentity` (`CUSTOMER_CONTACT`).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountContact {
    #[serde(default)]
    pub holders: Vec<AccountHolder>,
    #[serde(default)]
    pub emails: Vec<String>,
    #[serde(default)]
    pub addresses: Vec<DeliveryAddress>,
    #[serde(default)]
    pub telephones: Vec<TelephoneNumber>,
}

/// FDX 6.2 `CustomertoAccountRelationshipentity`, cut to `accountId`, `relationship` and links to the gateway; only
/// the consent's accounts are listed.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerAccount {
    #[serde(default)]
    pub account_id: String,
    #[serde(default)]
    pub relationship: String,
    #[serde(default)]
    pub links: Vec<HateoasLink>,
}

/// FDX 6.2 `Customerentity`, cut to the field table: name and date of birth with `CUSTOMER_PERSONAL`; emails,
/// addresses and telephones with `CUSTOMER_CONTACT`; the rest with either.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Customer {
    #[serde(default)]
    pub customer_id: String,
    /// `CONSUMER` or `BUSINESS`.
    #[serde(rename = "type")]
    #[serde(default)]
    pub kind: String,
    #[schema(format = Date)]
    #[serde(default)]
    pub customer_start_date: String,
    #[serde(default)]
    pub accounts: Vec<CustomerAccount>,
    #[serde(default)]
    pub name: CustomerName,
    #[schema(format = Date)]
    #[serde(default)]
    pub date_of_birth: String,
    #[serde(default)]
    pub emails: Vec<String>,
    #[serde(default)]
    pub addresses: Vec<DeliveryAddress>,
    #[serde(default)]
    pub telephones: Vec<TelephoneNumber>,
}

// ---------------------------------------------------------------------------------------------------------------
// FDX consent API shapes

/// FDX 6.2 `ConsentGrantStatus` (as the consent API shows it: a pending consent does not exist there).
#[derive(ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ConsentGrantStatus {
    Active,
    Expired,
    Revoked,
}

/// FDX 6.2 `ConsentDurationType`.
#[derive(ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsentDurationType {
    OneTime,
    Persistent,
    TimeBound,
}

/// FDX 6.2 `PartyType`.
#[derive(ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PartyType {
    DataAccessPlatform,
    DataProvider,
    DataRecipient,
    Individual,
    Merchant,
    Vendor,
}

/// FDX 6.2 `ConsentUpdateReason`.
#[derive(ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsentUpdateReason {
    BusinessRule,
    UserAction,
}

/// FDX 6.2 `DataCluster`: the gateway's own enum, so the document cannot drift from what the gateway accepts.
pub use crate::consent::DataCluster;

/// FDX 6.2 `ConsentResourceType` (the gateway grants `ACCOUNT` and `CUSTOMER` resources).
#[derive(ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ConsentResourceType {
    Account,
    Customer,
}

/// FDX 6.2 `ConsentGrantParty`: the app and the bank.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentGrantParty {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: PartyType,
}

/// FDX 6.2 `ConsentResource`: each chosen account with the account clusters, the customer with the customer ones.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsentResource {
    pub resource_type: ConsentResourceType,
    pub resource_id: String,
    pub data_clusters: Vec<DataCluster>,
}

/// FDX 6.2 `ConsentGrant` as of the request.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsentGrant {
    pub id: String,
    pub status: ConsentGrantStatus,
    pub parties: Vec<ConsentGrantParty>,
    #[schema(format = DateTime)]
    pub created_time: String,
    #[schema(format = DateTime)]
    pub updated_time: String,
    #[serde(default)]
    #[schema(format = DateTime)]
    pub expiration_time: String,
    pub duration_type: ConsentDurationType,
    /// Days (`TIME_BOUND` only).
    #[serde(default)]
    pub duration_period: u32,
    /// Days of history the consent lets through.
    pub lookback_period: u32,
    pub resources: Vec<ConsentResource>,
}

/// FDX 6.2 `ConsentRevocationRequest`: both members optional (reason defaults to `USER_ACTION`). An empty body is
/// the same as `{}`.
#[derive(ToSchema)]
pub struct ConsentRevocationRequest {
    #[serde(default)]
    pub reason: ConsentUpdateReason,
    #[serde(default)]
    pub initiator: RevocationInitiator,
}

/// The FDX `PartyType` a caller of the consent API may revoke as: only itself, the data recipient.
#[derive(ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RevocationInitiator {
    DataRecipient,
}

/// FDX 6.2 `ConsentRevocation`: one entry of the history.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsentRevocation {
    pub status: ConsentGrantStatus,
    pub reason: ConsentUpdateReason,
    pub initiator: PartyType,
    #[schema(format = DateTime)]
    pub updated_time: String,
}

/// FDX 6.2 `ConsentRevocationList`: empty while the consent was never revoked.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentRevocationList {
    pub revocations: Vec<ConsentRevocation>,
}

// ---------------------------------------------------------------------------------------------------------------
// Grant Management and OAuth shapes

/// RFC 6749 §5.2 error (also RFC 6750 §3.1, RFC 7591 §3.2.2, RFC 9449 §7).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuthError {
    #[schema(example = "invalid_request")]
    pub error: String,
    pub error_description: String,
}

/// RFC 9396 authorization details of type `fdx_consent`, as granted.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FdxConsentDetails {
    /// Always `fdx_consent`.
    #[serde(rename = "type")]
    pub kind: String,
    pub data_clusters: Vec<DataCluster>,
    pub duration_type: ConsentDurationType,
    #[serde(default)]
    pub duration_period: u32,
    pub lookback_period: u32,
    pub purposes: Vec<String>,
    /// The accounts the person chose.
    #[serde(default)]
    pub accounts: Vec<String>,
}

/// A granted scope (Grant Management §6.3).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantScope {
    pub scope: String,
}

/// `GET /grants/{grant_id}` (Grant Management §6.3).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    pub scopes: Vec<GrantScope>,
    pub authorization_details: Vec<FdxConsentDetails>,
    /// Always `ACTIVE` (an ended grant is 404).
    pub status: ConsentGrantStatus,
    /// Unix time the consent ends.
    #[schema(required = true)]
    pub expires_at: Option<i64>,
}

/// RFC 6749 §5.1 token response (plus RFC 9396 `authorization_details` and Grant Management `grant_id` for a
/// consent's tokens, and `consent_id` from the sandbox shortcut).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenResponse {
    pub access_token: String,
    /// `DPoP` for DPoP-bound tokens (RFC 9449 §5), else `Bearer`.
    pub token_type: String,
    pub expires_in: i64,
    pub scope: String,
    #[serde(default)]
    pub refresh_token: String,
    #[serde(default)]
    pub authorization_details: Vec<FdxConsentDetails>,
    #[serde(default)]
    pub grant_id: String,
    #[serde(default)]
    pub consent_id: String,
}

/// RFC 9126 §2.2 response.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParResponse {
    pub request_uri: String,
    pub expires_in: i64,
}

/// RFC 7662 §2.2 response: `{"active": false}` alone for a token that is not this client's or not active.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionResponse {
    pub active: bool,
    #[serde(default)]
    pub iss: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub scope: String,
    #[serde(default)]
    pub iat: i64,
    #[serde(default)]
    pub exp: i64,
    /// `Bearer`, `DPoP` or `refresh_token`.
    #[serde(default)]
    pub token_type: String,
    /// RFC 9449 §6.2 `{"jkt"}` or RFC 8705 §3.2 `{"x5t#S256"}`.
    #[serde(default)]
    pub cnf: serde_json::Value,
    #[serde(default)]
    pub consent_id: String,
}

/// RFC 8414 authorization server metadata (the members this deployment announces).
#[derive(ToSchema)]
pub struct ServerMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub pushed_authorization_request_endpoint: String,
    pub registration_endpoint: String,
    pub introspection_endpoint: String,
    pub revocation_endpoint: String,
    pub jwks_uri: String,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub dpop_signing_alg_values_supported: Vec<String>,
    pub scopes_supported: Vec<String>,
    pub grant_types_supported: Vec<String>,
    pub require_pushed_authorization_requests: bool,
    pub sandbox_profile_enabled: bool,
    /// Our extension member: the sandbox consent shortcut, present only while the sandbox profile is on.
    #[serde(default)]
    pub bankgate_sandbox_consents_endpoint: String,
}

/// RFC 7517 JWK set: the public keys access tokens are signed with.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Jwks {
    pub keys: Vec<serde_json::Value>,
}

/// RFC 7591 §2 client metadata (the members the gateway reads; others are kept and echoed).
#[derive(ToSchema)]
pub struct ClientMetadata {
    /// Required: exact `https` URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub client_name: String,
    /// `fapi2` (default) or `sandbox`.
    #[serde(default)]
    pub profile: String,
    /// `private_key_jwt` (default), `tls_client_auth`, or `client_secret_basic` (sandbox only).
    #[serde(default)]
    pub token_endpoint_auth_method: String,
    #[serde(default)]
    pub jwks: serde_json::Value,
    #[serde(default)]
    pub jwks_uri: String,
    #[serde(default)]
    pub tls_client_auth_subject_dn: String,
    #[serde(default)]
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub purposes: Vec<String>,
    #[serde(default)]
    pub platform: String,
    #[serde(default)]
    pub notification_uri: String,
}

/// RFC 7591 §3.2.1 client information: the stored metadata plus these members.
#[derive(ToSchema)]
pub struct ClientInformation {
    pub client_id: String,
    pub client_id_issued_at: i64,
    pub registration_client_uri: String,
    /// On registration (and update) only.
    #[serde(default)]
    pub registration_access_token: String,
    /// `client_secret_basic` clients only, on registration and update.
    #[serde(default)]
    pub client_secret: String,
    #[serde(default)]
    pub client_secret_expires_at: i64,
}

/// RFC 6749 §4.1.3 / §6 / §4.4 token request (form). Client authentication: HTTP Basic, or `client_id` with
/// `client_assertion_type` + `client_assertion` (RFC 7523), or `client_id` over the client certificate.
#[derive(ToSchema)]
pub struct TokenRequest {
    /// `authorization_code`, `refresh_token` or `client_credentials`.
    #[serde(default)]
    pub grant_type: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub redirect_uri: String,
    #[serde(default)]
    pub code_verifier: String,
    #[serde(default)]
    pub refresh_token: String,
    #[serde(default)]
    pub scope: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub client_assertion_type: String,
    #[serde(default)]
    pub client_assertion: String,
}

/// RFC 9126 pushed authorization request (form): the authorization request's parameters plus client
/// authentication as at the token endpoint.
#[derive(ToSchema)]
pub struct ParRequest {
    #[serde(default)]
    pub response_type: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub redirect_uri: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub code_challenge: String,
    #[serde(default)]
    pub code_challenge_method: String,
    /// RFC 9396: JSON array with one `fdx_consent` object.
    #[serde(default)]
    pub authorization_details: String,
    #[serde(default)]
    pub scope: String,
    #[serde(default)]
    pub dpop_jkt: String,
    #[serde(default)]
    pub client_assertion_type: String,
    #[serde(default)]
    pub client_assertion: String,
}

/// RFC 7662 §2.1 / RFC 7009 §2.1 request (form), with client authentication as at the token endpoint.
#[derive(ToSchema)]
pub struct TokenHintRequest {
    pub token: String,
    /// `access_token` or `refresh_token`.
    #[serde(default)]
    pub token_type_hint: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub client_assertion_type: String,
    #[serde(default)]
    pub client_assertion: String,
}

/// The sandbox consent shortcut's request (JSON, at most 16 KiB; unknown members are refused).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxConsentRequest {
    /// Bank id, e.g. `continental`.
    pub bank: String,
    /// A test user, e.g. `user_good`.
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub mfa_code: String,
    #[serde(default)]
    pub authorization_details: Vec<serde_json::Value>,
    #[serde(default)]
    pub account_ids: Vec<String>,
    #[serde(default)]
    pub secondary_use_opt_in: bool,
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub client_assertion_type: String,
    #[serde(default)]
    pub client_assertion: String,
}

// ---------------------------------------------------------------------------------------------------------------
// Parameters

/// The FAPI interaction id a client may send on resource requests.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct InteractionIdParam {
    /// Echoed on the answer when it is 1-128 of `A-Za-z0-9-_.:`; otherwise the gateway makes one.
    #[param(rename = "x-fapi-interaction-id", required = false, max_length = 128)]
    pub interaction_id: String,
}

/// `{accountId}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path, names("accountId"))]
pub struct AccountIdParam(
    /// An account of the consent.
    pub String,
);

/// The query of `GET /fdx/v6/accounts`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[into_params(rename_all = "camelCase")]
pub struct AccountsQuery {
    /// Comma-separated account ids; ids outside the consent are dropped (none left: an empty page).
    #[param(required = false)]
    pub account_ids: String,
    /// `details` asks for the full accounts (still cut to the consent's clusters).
    #[param(required = false, inline)]
    pub result_type: ResultType,
    /// The cursor of `page.nextOffset`.
    #[param(required = false, max_length = 1024)]
    pub offset: String,
    /// Page size (the bank caps it).
    #[param(required = false, minimum = 1, maximum = 999999)]
    pub limit: u32,
}

/// `resultType`.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResultType {
    Lightweight,
    Details,
}

/// The query of the transactions and statements endpoints.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[into_params(rename_all = "camelCase")]
pub struct RangeQuery {
    /// First day (`YYYY-MM-DD`, or an RFC 3339 date-time whose UTC date is taken); moved into the consent's
    /// lookback window.
    #[param(required = false, format = Date)]
    pub start_time: String,
    /// Last day; a range ending before the lookback window answers an empty page.
    #[param(required = false, format = Date)]
    pub end_time: String,
    /// The cursor of `page.nextOffset`.
    #[param(required = false, max_length = 1024)]
    pub offset: String,
    /// Page size (the bank caps it).
    #[param(required = false, minimum = 1, maximum = 999999)]
    pub limit: u32,
}

/// `{consentId}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path, names("consentId"))]
pub struct ConsentIdParam(
    /// A consent of the calling client.
    pub String,
);

/// `{grant_id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path, names("grant_id"))]
pub struct GrantIdParam(
    /// The consent id (Grant Management grant_id).
    pub String,
);

/// `{client_id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path, names("client_id"))]
pub struct ClientIdParam(pub String);

// ---------------------------------------------------------------------------------------------------------------
// Operations: documentation only, never routed. Each describes the routed handler its doc names.

/// Describes [`crate::fdx::proxy::accounts`] (routed in [`crate::fdx::routes`]); exists only for this document.
#[utoipa::path(
    get,
    path = "/fdx/v6/accounts",
    tag = "FDX resources",
    operation_id = "searchForAccounts",
    summary = "The consent's accounts",
    description = "A page of the accounts the person chose, each cut to the consent's clusters (`ACCOUNT_BASIC` or \
        `ACCOUNT_DETAILED`).",
    params(AccountsQuery, InteractionIdParam),
    security(("bearer" = []), ("dpop" = []), ("bearer" = [], "mtls" = [])),
    responses((status = 200, description = "A page of accounts.", body = AccountsPage,
        headers(("x-fapi-interaction-id" = String, description = "The interaction id.")))),
)]
#[allow(dead_code)]
fn search_for_accounts() {}

/// Describes [`crate::fdx::proxy::account`]; exists only for this document.
#[utoipa::path(
    get,
    path = "/fdx/v6/accounts/{accountId}",
    tag = "FDX resources",
    operation_id = "getAccount",
    summary = "One account",
    description = "The account, its balances and details with `ACCOUNT_DETAILED`, the descriptor alone with \
        `ACCOUNT_BASIC`.",
    params(AccountIdParam, InteractionIdParam),
    security(("bearer" = []), ("dpop" = []), ("bearer" = [], "mtls" = [])),
    responses((status = 200, description = "The account.", body = Account,
        headers(("x-fapi-interaction-id" = String, description = "The interaction id.")))),
)]
#[allow(dead_code)]
fn get_account() {}

/// Describes [`crate::fdx::proxy::transactions`]; exists only for this document.
#[utoipa::path(
    get,
    path = "/fdx/v6/accounts/{accountId}/transactions",
    tag = "FDX resources",
    operation_id = "searchForAccountTransactions",
    summary = "An account's transactions",
    description = "Transactions inside the consent's lookback window (`TRANSACTIONS`), pending and posted.",
    params(AccountIdParam, RangeQuery, InteractionIdParam),
    security(("bearer" = []), ("dpop" = []), ("bearer" = [], "mtls" = [])),
    responses((status = 200, description = "A page of transactions.", body = TransactionsPage,
        headers(("x-fapi-interaction-id" = String, description = "The interaction id.")))),
)]
#[allow(dead_code)]
fn search_for_account_transactions() {}

/// Describes [`crate::fdx::proxy::statements`]; exists only for this document.
#[utoipa::path(
    get,
    path = "/fdx/v6/accounts/{accountId}/statements",
    tag = "FDX resources",
    operation_id = "searchForAccountStatements",
    summary = "An account's statements",
    description = "Statements inside the consent's lookback window (`STATEMENTS`).",
    params(AccountIdParam, RangeQuery, InteractionIdParam),
    security(("bearer" = []), ("dpop" = []), ("bearer" = [], "mtls" = [])),
    responses((status = 200, description = "A page of statements.", body = StatementsPage,
        headers(("x-fapi-interaction-id" = String, description = "The interaction id.")))),
)]
#[allow(dead_code)]
fn search_for_account_statements() {}

/// Describes [`crate::fdx::proxy::payment_networks`]; exists only for this document.
#[utoipa::path(
    get,
    path = "/fdx/v6/accounts/{accountId}/payment-networks",
    tag = "FDX resources",
    operation_id = "getAccountPaymentNetworks",
    summary = "How an account is paid into or from",
    description = "Payment networks with the full account number (`PAYMENT_SUPPORT` or `ACCOUNT_PAYMENTS`).",
    params(AccountIdParam, InteractionIdParam),
    security(("bearer" = []), ("dpop" = []), ("bearer" = [], "mtls" = [])),
    responses((status = 200, description = "The account's payment networks.", body = PaymentNetworksPage,
        headers(("x-fapi-interaction-id" = String, description = "The interaction id.")))),
)]
#[allow(dead_code)]
fn get_account_payment_networks() {}

/// Describes [`crate::fdx::proxy::contact`]; exists only for this document.
#[utoipa::path(
    get,
    path = "/fdx/v6/accounts/{accountId}/contact",
    tag = "FDX resources",
    operation_id = "getAccountContact",
    summary = "An account's holders and contact details",
    description = "Holders, emails, addresses and telephones (`CUSTOMER_CONTACT`).",
    params(AccountIdParam, InteractionIdParam),
    security(("bearer" = []), ("dpop" = []), ("bearer" = [], "mtls" = [])),
    responses((status = 200, description = "The account's contact.", body = AccountContact,
        headers(("x-fapi-interaction-id" = String, description = "The interaction id.")))),
)]
#[allow(dead_code)]
fn get_account_contact() {}

/// Describes [`crate::fdx::proxy::current_customer`]; exists only for this document.
#[utoipa::path(
    get,
    path = "/fdx/v6/customers/current",
    tag = "FDX resources",
    operation_id = "getCustomerInfo",
    summary = "The person behind the consent",
    description = "Name and date of birth with `CUSTOMER_PERSONAL`; emails, addresses and telephones with \
        `CUSTOMER_CONTACT`; id, type, start date and the consent's accounts with either.",
    params(InteractionIdParam),
    security(("bearer" = []), ("dpop" = []), ("bearer" = [], "mtls" = [])),
    responses((status = 200, description = "The customer.", body = Customer,
        headers(("x-fapi-interaction-id" = String, description = "The interaction id.")))),
)]
#[allow(dead_code)]
fn get_customer_info() {}

/// Describes [`crate::oauth::endpoints::grants::get_consent`]; exists only for this document.
#[utoipa::path(
    get,
    path = "/consents/{consentId}",
    tag = "FDX consents",
    operation_id = "getConsentGrant",
    summary = "A consent of the calling app",
    params(ConsentIdParam),
    security(("bearer" = [], "mtls" = []), ("dpop" = [])),
    responses((status = 200, description = "The FDX consent grant as of now.", body = ConsentGrant)),
)]
#[allow(dead_code)]
fn get_consent_grant() {}

/// Describes [`crate::oauth::endpoints::grants::get_revocations`]; exists only for this document.
#[utoipa::path(
    get,
    path = "/consents/{consentId}/revocation",
    tag = "FDX consents",
    operation_id = "getConsentRevocation",
    summary = "A consent's revocation history",
    params(ConsentIdParam),
    security(("bearer" = [], "mtls" = []), ("dpop" = [])),
    responses((status = 200, description = "The revocations (empty while the consent was never revoked).",
        body = ConsentRevocationList)),
)]
#[allow(dead_code)]
fn get_consent_revocation() {}

/// Describes [`crate::oauth::endpoints::grants::put_revocation`]; exists only for this document.
#[utoipa::path(
    put,
    path = "/consents/{consentId}/revocation",
    tag = "FDX consents",
    operation_id = "revokeConsentGrant",
    summary = "Revoke a consent",
    description = "Revokes the consent and every token issued under it, recorded with initiator `DATA_RECIPIENT`; \
        no data response of the consent follows once this answers.",
    params(ConsentIdParam),
    request_body(content = ConsentRevocationRequest, content_type = "application/json",
        description = "Optional; an empty body is `{}`."),
    security(("bearer" = [], "mtls" = []), ("dpop" = [])),
    responses(
        (status = 204, description = "Revoked."),
        (status = 400, description = "Not a `ConsentRevocationRequest` (FDX 401 Invalid Input).", body = FdxError),
        (status = 409, description = "The consent had already ended (FDX 409).", body = FdxError),
    ),
)]
#[allow(dead_code)]
fn revoke_consent_grant() {}

/// Describes [`crate::oauth::endpoints::grants::query_grant`]; exists only for this document.
#[utoipa::path(
    get,
    path = "/grants/{grant_id}",
    tag = "Grant Management",
    operation_id = "queryGrant",
    summary = "An active grant (scope grant_management_query)",
    params(GrantIdParam),
    security(("bearer" = [], "mtls" = []), ("dpop" = [])),
    responses((status = 200, description = "The grant's scopes and authorization details.", body = Grant,
        headers(("Cache-Control" = String, description = "`no-store`.")))),
)]
#[allow(dead_code)]
fn query_grant() {}

/// Describes [`crate::oauth::endpoints::grants::revoke_grant`]; exists only for this document.
#[utoipa::path(
    delete,
    path = "/grants/{grant_id}",
    tag = "Grant Management",
    operation_id = "revokeGrant",
    summary = "Revoke a grant (scope grant_management_revoke)",
    params(GrantIdParam),
    security(("bearer" = [], "mtls" = []), ("dpop" = [])),
    responses((status = 204, description = "Revoked, with every token issued under it.")),
)]
#[allow(dead_code)]
fn revoke_grant() {}

/// Describes [`crate::oauth::endpoints::metadata::authorization_server`]; exists only for this document.
#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    tag = "OAuth",
    operation_id = "authorizationServerMetadata",
    summary = "RFC 8414 metadata",
    responses((status = 200, description = "The metadata document.", body = ServerMetadata)),
)]
#[allow(dead_code)]
fn authorization_server_metadata() {}

/// Describes [`crate::oauth::endpoints::metadata::openid_configuration`]; exists only for this document.
#[utoipa::path(
    get,
    path = "/.well-known/openid-configuration",
    tag = "OAuth",
    operation_id = "openidConfiguration",
    summary = "The same metadata for OpenID-style discovery",
    responses((status = 200, description = "The metadata document.", body = ServerMetadata)),
)]
#[allow(dead_code)]
fn openid_configuration() {}

/// Describes [`crate::oauth::endpoints::metadata::jwks`]; exists only for this document.
#[utoipa::path(
    get,
    path = "/jwks",
    tag = "OAuth",
    operation_id = "jwks",
    summary = "RFC 7517 JWK set",
    responses((status = 200, description = "The public keys (active and still-verifying previous).", body = Jwks)),
)]
#[allow(dead_code)]
fn jwks() {}

/// Describes [`crate::oauth::endpoints::register::register`]; exists only for this document.
#[utoipa::path(
    post,
    path = "/register",
    tag = "OAuth",
    operation_id = "registerClient",
    summary = "RFC 7591 dynamic client registration",
    request_body(content = ClientMetadata, content_type = "application/json"),
    security((), ("initial_access_token" = [])),
    responses(
        (status = 201, description = "Registered.", body = ClientInformation),
        (status = 400, description = "`invalid_client_metadata` or `invalid_redirect_uri` (RFC 7591 §3.2.2).",
            body = OAuthError),
        (status = 401, description = "`invalid_token`: the initial access token is missing or wrong.",
            body = OAuthError),
    ),
)]
#[allow(dead_code)]
fn register_client() {}

/// Describes [`crate::oauth::endpoints::register::read`]; exists only for this document.
#[utoipa::path(
    get,
    path = "/register/{client_id}",
    tag = "OAuth",
    operation_id = "readClient",
    summary = "RFC 7592 §2.1 read a registration",
    params(ClientIdParam),
    security(("registration_access_token" = [])),
    responses(
        (status = 200, description = "The client information.", body = ClientInformation),
        (status = 401, description = "`invalid_token`.", body = OAuthError),
    ),
)]
#[allow(dead_code)]
fn read_client() {}

/// Describes [`crate::oauth::endpoints::register::update`]; exists only for this document.
#[utoipa::path(
    put,
    path = "/register/{client_id}",
    tag = "OAuth",
    operation_id = "updateClient",
    summary = "RFC 7592 §2.2 replace a registration",
    params(ClientIdParam),
    request_body(content = ClientMetadata, content_type = "application/json"),
    security(("registration_access_token" = [])),
    responses(
        (status = 200, description = "The updated client information.", body = ClientInformation),
        (status = 400, description = "`invalid_client_metadata` or `invalid_redirect_uri`.", body = OAuthError),
        (status = 401, description = "`invalid_token`.", body = OAuthError),
    ),
)]
#[allow(dead_code)]
fn update_client() {}

/// Describes [`crate::oauth::endpoints::register::delete`]; exists only for this document.
#[utoipa::path(
    delete,
    path = "/register/{client_id}",
    tag = "OAuth",
    operation_id = "deleteClient",
    summary = "RFC 7592 §2.3 delete a registration",
    params(ClientIdParam),
    security(("registration_access_token" = [])),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, description = "`invalid_token`.", body = OAuthError),
    ),
)]
#[allow(dead_code)]
fn delete_client() {}

/// Describes [`crate::oauth::endpoints::par::push`]; exists only for this document.
#[utoipa::path(
    post,
    path = "/par",
    tag = "OAuth",
    operation_id = "pushedAuthorizationRequest",
    summary = "RFC 9126 pushed authorization request",
    request_body(content = ParRequest, content_type = "application/x-www-form-urlencoded"),
    security(("client_secret_basic" = []), ("mtls" = []), ()),
    responses((status = 201, description = "The `request_uri` to send the person to `/authorize` with.",
        body = ParResponse)),
)]
#[allow(dead_code)]
fn pushed_authorization_request() {}

/// Describes [`crate::oauth::endpoints::token::token`]; exists only for this document.
#[utoipa::path(
    post,
    path = "/token",
    tag = "OAuth",
    operation_id = "token",
    summary = "RFC 6749 token endpoint",
    description = "`authorization_code` (PKCE S256, RFC 9449 DPoP binding), `refresh_token` and \
        `client_credentials` (scopes `consent_management`, `grant_management_query`, `grant_management_revoke`). \
        Tokens are DPoP-bound when a `DPoP` proof comes, certificate-bound over mutual TLS, Bearer only for \
        sandbox clients.",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    security(("client_secret_basic" = []), ("mtls" = []), ()),
    responses((status = 200, description = "Tokens (`Cache-Control: no-store`).", body = TokenResponse)),
)]
#[allow(dead_code)]
fn token() {}

/// Describes [`crate::oauth::endpoints::introspect::introspect`]; exists only for this document.
#[utoipa::path(
    post,
    path = "/introspect",
    tag = "OAuth",
    operation_id = "introspect",
    summary = "RFC 7662 introspection of the client's own tokens",
    request_body(content = TokenHintRequest, content_type = "application/x-www-form-urlencoded"),
    security(("client_secret_basic" = []), ("mtls" = []), ()),
    responses((status = 200, description = "The token's state.", body = IntrospectionResponse)),
)]
#[allow(dead_code)]
fn introspect() {}

/// Describes [`crate::oauth::endpoints::revoke::revoke`]; exists only for this document.
#[utoipa::path(
    post,
    path = "/revoke",
    tag = "OAuth",
    operation_id = "revoke",
    summary = "RFC 7009 revocation of the client's own tokens",
    request_body(content = TokenHintRequest, content_type = "application/x-www-form-urlencoded"),
    security(("client_secret_basic" = []), ("mtls" = []), ()),
    responses((status = 200, description = "Revoked, or was not active (RFC 7009 §2.2).")),
)]
#[allow(dead_code)]
fn revoke() {}

/// Describes [`crate::oauth::endpoints::sandbox`]'s handler; exists only for this document.
#[utoipa::path(
    post,
    path = "/sandbox/consents",
    tag = "Sandbox",
    operation_id = "sandboxConsent",
    summary = "Sandbox consent shortcut (sandbox clients only)",
    description = "Logs a bank's test user in with the public sandbox credentials and answers tokens of a new, \
        authorized consent, with `consent_id`. Refusals: `invalid_grant` (credentials), `access_denied` (403, the \
        bank's sharing policy), `unauthorized_client` (403, not a sandbox client), `temporarily_unavailable` (503), \
        `server_error` (502).",
    request_body(content = SandboxConsentRequest, content_type = "application/json"),
    security(("client_secret_basic" = []), ("mtls" = []), ()),
    responses(
        (status = 200, description = "Tokens of the new consent.", body = TokenResponse),
        (status = 403, description = "`unauthorized_client` or `access_denied`.", body = OAuthError),
        (status = 502, description = "`server_error`: the bank answered something unusable.", body = OAuthError),
        (status = 503, description = "`temporarily_unavailable`: the bank is unreachable or failing.",
            body = OAuthError),
    ),
)]
#[allow(dead_code)]
fn sandbox_consent() {}

// ---------------------------------------------------------------------------------------------------------------
// FDX notifications (crate::events)

/// `{subscriptionId}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path, names("subscriptionId"))]
pub struct SubscriptionIdParam(
    /// A subscription of this consent (another consent's id answers 404).
    #[param(max_length = 256)]
    pub String,
);

/// The query of `GET /fdx/v6/notifications`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationsQuery {
    /// The cursor of `page.nextOffset`.
    #[param(required = false)]
    pub offset: String,
    /// Page size, 1 to 1000 (default 100).
    #[param(required = false, minimum = 1, maximum = 1000)]
    pub limit: u32,
}

/// Describes [`crate::events::subscriptions::create`]; exists only for this document.
#[utoipa::path(
    post,
    path = "/fdx/v6/notification-subscriptions",
    tag = "FDX notifications",
    operation_id = "createNotificationSubscription",
    summary = "Subscribe to a type of notification",
    description = "`type`/`category` one of RISK/FRAUD, BALANCE/NEW_DATA, CONSENT_REVOKED/CONSENT, \
        PLANNED_OUTAGE/MAINTENANCE; `callbackUrl` https (plain http only to 127.0.0.1, [::1] or localhost). The \
        `subscriber` sent is replaced by the app's own party.",
    params(InteractionIdParam),
    request_body(content = crate::events::model::NotificationSubscription, content_type = "application/json"),
    security(("bearer" = []), ("dpop" = []), ("bearer" = [], "mtls" = [])),
    responses((status = 201, description = "Created, with `subscriptionId` and `effectiveDate`.",
        body = crate::events::model::NotificationSubscription,
        headers(("x-fapi-interaction-id" = String, description = "The interaction id.")))),
)]
#[allow(dead_code)]
fn create_notification_subscription() {}

/// Describes [`crate::events::subscriptions::read`]; exists only for this document.
#[utoipa::path(
    get,
    path = "/fdx/v6/notification-subscriptions/{subscriptionId}",
    tag = "FDX notifications",
    operation_id = "getNotificationSubscription",
    summary = "One subscription",
    params(SubscriptionIdParam, InteractionIdParam),
    security(("bearer" = []), ("dpop" = []), ("bearer" = [], "mtls" = [])),
    responses((status = 200, description = "The subscription.", body = crate::events::model::NotificationSubscription,
        headers(("x-fapi-interaction-id" = String, description = "The interaction id.")))),
)]
#[allow(dead_code)]
fn get_notification_subscription() {}

/// Describes [`crate::events::subscriptions::delete`]; exists only for this document.
#[utoipa::path(
    delete,
    path = "/fdx/v6/notification-subscriptions/{subscriptionId}",
    tag = "FDX notifications",
    operation_id = "deleteNotificationSubscription",
    summary = "End a subscription",
    description = "Its pending deliveries and dead letters end with it.",
    params(SubscriptionIdParam, InteractionIdParam),
    security(("bearer" = []), ("dpop" = []), ("bearer" = [], "mtls" = [])),
    responses((status = 204, description = "Deleted.",
        headers(("x-fapi-interaction-id" = String, description = "The interaction id.")))),
)]
#[allow(dead_code)]
fn delete_notification_subscription() {}

/// Describes [`crate::events::subscriptions::dead_letters`]; exists only for this document.
#[utoipa::path(
    get,
    path = "/fdx/v6/notification-subscriptions/{subscriptionId}/dead-letters",
    tag = "FDX notifications",
    operation_id = "getNotificationDeadLetters",
    summary = "Deliveries given up (bankgate extension)",
    description = "Notifications whose webhook failed for good (attempts exhausted, or a 4xx other than 408/429), \
        oldest first, with the attempts made and the last error.",
    params(SubscriptionIdParam, InteractionIdParam),
    security(("bearer" = []), ("dpop" = []), ("bearer" = [], "mtls" = [])),
    responses((status = 200, description = "The dead letters.", body = crate::events::model::DeadLetters,
        headers(("x-fapi-interaction-id" = String, description = "The interaction id.")))),
)]
#[allow(dead_code)]
fn get_notification_dead_letters() {}

/// Describes [`crate::events::poll::list`]; exists only for this document.
#[utoipa::path(
    get,
    path = "/fdx/v6/notifications",
    tag = "FDX notifications",
    operation_id = "getNotifications",
    summary = "Poll the consent's unacknowledged notifications",
    description = "Oldest first; `page.totalElements` counts every unacknowledged notification of the consent.",
    params(NotificationsQuery, InteractionIdParam),
    security(("bearer" = []), ("dpop" = []), ("bearer" = [], "mtls" = [])),
    responses((status = 200, description = "A page of notifications.", body = crate::events::model::NotificationPage,
        headers(("x-fapi-interaction-id" = String, description = "The interaction id.")))),
)]
#[allow(dead_code)]
fn get_notifications() {}

/// Describes [`crate::events::poll::acknowledge`]; exists only for this document.
#[utoipa::path(
    post,
    path = "/fdx/v6/notifications/acknowledgements",
    tag = "FDX notifications",
    operation_id = "acknowledgeNotifications",
    summary = "Acknowledge polled notifications (bankgate extension)",
    description = "Acknowledged notifications are no longer listed by `GET /fdx/v6/notifications`; unknown or \
        already acknowledged ids are ignored. Webhook delivery is not affected.",
    params(InteractionIdParam),
    request_body(content = crate::events::model::Acknowledgements, content_type = "application/json"),
    security(("bearer" = []), ("dpop" = []), ("bearer" = [], "mtls" = [])),
    responses((status = 204, description = "Acknowledged.",
        headers(("x-fapi-interaction-id" = String, description = "The interaction id.")))),
)]
#[allow(dead_code)]
fn acknowledge_notifications() {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fdx::table::ENDPOINTS;
    use serde_json::Value;

    fn document_json() -> Value {
        let text = document().to_pretty_json().expect("the document serializes");
        serde_json::from_str(&text).expect("the document is valid JSON")
    }

    #[test]
    fn the_document_is_openapi_3_1_and_lists_every_routed_fdx_path() {
        let doc = document_json();
        let version = doc["openapi"].as_str().expect("openapi version");
        assert!(version.starts_with("3.1."), "OpenAPI 3.1.x, got {version}");
        let paths = doc["paths"].as_object().expect("paths");
        for rule in &ENDPOINTS {
            let get = &paths.get(rule.path).unwrap_or_else(|| panic!("{} is documented", rule.path))["get"];
            assert!(get["responses"]["200"].is_object(), "{} documents its 200", rule.path);
            for status in ["400", "401", "403", "404", "429", "502", "503", "504"] {
                assert!(get["responses"][status].is_object(), "{} documents {status}", rule.path);
            }
        }
        for (path, method) in [
            ("/consents/{consentId}", "get"),
            ("/consents/{consentId}/revocation", "get"),
            ("/consents/{consentId}/revocation", "put"),
            ("/grants/{grant_id}", "get"),
            ("/grants/{grant_id}", "delete"),
            ("/token", "post"),
            ("/par", "post"),
            ("/register", "post"),
            ("/introspect", "post"),
            ("/revoke", "post"),
            ("/jwks", "get"),
            ("/.well-known/oauth-authorization-server", "get"),
        ] {
            assert!(paths[path][method].is_object(), "{method} {path} is documented");
        }
        let revocation = &paths["/consents/{consentId}/revocation"]["put"]["requestBody"];
        assert_eq!(revocation["required"], false, "an empty revocation body is `{{}}`");
        assert_eq!(
            revocation["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ConsentRevocationRequest",
            "a `null` body is refused, so the schema is the object alone"
        );
        let schemes = doc["components"]["securitySchemes"].as_object().expect("security schemes");
        assert_eq!(schemes["mtls"]["type"], "mutualTLS");
        assert_eq!(schemes["bearer"]["scheme"], "bearer");
        assert_eq!(schemes["dpop"]["name"], "DPoP");
    }

    /// The app's router (one merge line in [`crate::app::router`]) serves the document and a Swagger UI whose page
    /// loads only its own files: nothing from another host, so it works offline.
    #[tokio::test]
    async fn the_router_serves_the_document_and_an_offline_swagger_ui() {
        use axum::body::Body;
        use axum::http::{Request, StatusCode};
        use http_body_util::BodyExt as _;
        use tower::ServiceExt as _;

        let clock = std::sync::Arc::new(crate::config::ManualClock::new(time::OffsetDateTime::UNIX_EPOCH));
        let config = crate::config::GatewayConfig::sandbox(([127, 0, 0, 1], 0).into());
        let state = crate::server::build_state(config, "https://gateway.test".into(), clock).await.expect("state");
        let app = crate::app::router(state);
        let get = |path: &'static str| {
            let app = app.clone();
            async move {
                let response =
                    app.oneshot(Request::get(path).body(Body::empty()).expect("request")).await.expect("answer");
                let status = response.status();
                let bytes = response.into_body().collect().await.expect("body").to_bytes();
                (status, String::from_utf8_lossy(&bytes).into_owned())
            }
        };

        let (status, body) = get(OPENAPI_PATH).await;
        assert_eq!(status, StatusCode::OK);
        let served: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(served, document_json(), "the served document is this module's");

        let (status, page) = get("/docs/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("swagger-ui-bundle.js"), "the Swagger UI page");
        assert!(!page.contains("http://") && !page.contains("https://"), "the page loads nothing from elsewhere");
        let (status, initializer) = get("/docs/swagger-initializer.js").await;
        assert_eq!(status, StatusCode::OK);
        assert!(initializer.contains(OPENAPI_PATH), "the UI shows this document");
        assert!(initializer.contains("\"validatorUrl\": \"none\""), "no online validator badge");
        let (status, bundle) = get("/docs/swagger-ui-bundle.js").await;
        assert_eq!(status, StatusCode::OK);
        assert!(bundle.len() > 100_000, "the vendored bundle is compiled in");
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document_json();
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert!(refs.len() > 50, "the operations refer to shared schemas and responses");
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

    #[test]
    fn resource_objects_list_exactly_the_field_table() {
        use crate::fdx::table::{FIELDS, FdxObject};
        let doc = document_json();
        let schemas = &doc["components"]["schemas"];
        for (object, schema) in [
            (FdxObject::Account, "Account"),
            (FdxObject::Transaction, "Transaction"),
            (FdxObject::Statement, "Statement"),
            (FdxObject::PaymentNetwork, "PaymentNetwork"),
            (FdxObject::AccountContact, "AccountContact"),
            (FdxObject::Customer, "Customer"),
        ] {
            let mut documented: Vec<&str> =
                schemas[schema]["properties"].as_object().expect("properties").keys().map(String::as_str).collect();
            let mut table: Vec<&str> = FIELDS.iter().filter(|r| r.object == object).map(|r| r.field).collect();
            documented.sort_unstable();
            table.sort_unstable();
            table.dedup();
            assert_eq!(documented, table, "{schema} documents exactly the allow-list");
            assert_eq!(schemas[schema]["additionalProperties"], false, "{schema} refuses unlisted fields");
            assert!(schemas[schema].get("required").is_none(), "{schema}: the consent decides which fields appear");
        }
    }
}
