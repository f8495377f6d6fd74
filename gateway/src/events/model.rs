//! The FDX 6.2 notification shapes the gateway receives from banks, keeps, and hands to apps: `Notificationentity`
//! ([`Notification`]), `NotificationSubscriptionentity` ([`NotificationSubscription`]), `Notificationsentity`
//! ([`NotificationPage`]) and their enums, with FDX 6.2's exact field names (camelCase) and enum spellings.
//!
//! Only the pairs of type and category of the issue 5 contract ([`NotificationType::category`]) are used by bankgate;
//! the enums still list every FDX 6.2 value so a well-formed FDX body always parses and is refused by rule, not by
//! shape. This module holds data only: it must never do I/O.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// FDX 6.2 `NotificationType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationType {
    Balance,
    ConsentRevoked,
    ConsentUpdated,
    Custom,
    PlannedOutage,
    Risk,
    Service,
}

/// FDX 6.2 `NotificationCategory1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationCategory {
    Consent,
    Fraud,
    Maintenance,
    NewData,
    Security,
}

/// FDX 6.2 `NotificationSeverity2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationSeverity {
    Emergency,
    Alert,
    Warning,
    Notice,
    Info,
}

/// FDX 6.2 `NotificationPriority2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationPriority {
    High,
    Medium,
    Low,
}

/// FDX 6.2 `NotificationPayloadIdType2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationPayloadIdType {
    Account,
    Consent,
    Customer,
    Maintenance,
    Party,
}

/// FDX 6.2 `PartyType2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PartyType {
    DataAccessPlatform,
    DataProvider,
    DataRecipient,
    Individual,
    Merchant,
    Vendor,
}

/// FDX 6.2 `Partyentity` (the `registry` object is not used by bankgate and not kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Party {
    pub name: String,
    #[serde(rename = "type")]
    pub party_type: PartyType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_entity_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_entity_id: Option<String>,
}

/// FDX 6.2 `FIAttributeentity`: one name/value pair (`customFields` holds ONE of these in 6.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FiAttribute {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// FDX 6.2 `NotificationPayloadentity2`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationPayload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_type: Option<NotificationPayloadIdType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<FiAttribute>,
}

/// FDX 6.2 `HATEOASLink` (`types` kept as the content-type strings FDX `ContentTypes` enumerates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = NotificationLink)]
pub struct HateoasLink {
    pub href: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<Vec<String>>,
}

/// An FDX 6.2 `Notificationentity`, as a bank sends it and (rewritten, see [`super`]) as an app receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub notification_id: String,
    #[serde(rename = "type")]
    pub notification_type: NotificationType,
    /// RFC 3339 date-time.
    pub sent_on: String,
    pub category: NotificationCategory,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<NotificationSeverity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<NotificationPriority>,
    pub publisher: Party,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscriber: Option<Party>,
    pub notification_payload: NotificationPayload,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<HateoasLink>,
}

impl NotificationType {
    /// The FDX enum value.
    pub fn as_fdx(self) -> &'static str {
        match self {
            Self::Balance => "BALANCE",
            Self::ConsentRevoked => "CONSENT_REVOKED",
            Self::ConsentUpdated => "CONSENT_UPDATED",
            Self::Custom => "CUSTOM",
            Self::PlannedOutage => "PLANNED_OUTAGE",
            Self::Risk => "RISK",
            Self::Service => "SERVICE",
        }
    }

    /// The one category bankgate pairs with this type (issue 5 contract table); `None` for types bankgate does
    /// not use.
    pub fn bankgate_category(self) -> Option<NotificationCategory> {
        match self {
            Self::Risk => Some(NotificationCategory::Fraud),
            Self::Balance => Some(NotificationCategory::NewData),
            Self::ConsentRevoked => Some(NotificationCategory::Consent),
            Self::PlannedOutage => Some(NotificationCategory::Maintenance),
            Self::ConsentUpdated | Self::Custom | Self::Service => None,
        }
    }

    /// Whether the event is about one account (its payload names it with `idType: ACCOUNT`).
    pub fn is_about_an_account(self) -> bool {
        matches!(self, Self::Risk | Self::Balance)
    }
}

impl NotificationCategory {
    /// The FDX enum value.
    pub fn as_fdx(self) -> &'static str {
        match self {
            Self::Consent => "CONSENT",
            Self::Fraud => "FRAUD",
            Self::Maintenance => "MAINTENANCE",
            Self::NewData => "NEW_DATA",
            Self::Security => "SECURITY",
        }
    }
}

/// FDX 6.2 `NotificationSubscriptionentity`: what an app posts (`subscriptionId`, `effectiveDate` are the
/// gateway's; `subscriber` is replaced by the app's own party).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationSubscription {
    #[serde(rename = "type")]
    pub notification_type: NotificationType,
    pub category: NotificationCategory,
    pub callback_url: String,
    /// Required by FDX; the gateway answers with the app's own party whatever was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscriber: Option<Party>,
    /// YYYY-MM-DD (answers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_date: Option<String>,
    /// Answers only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
}

/// FDX 6.2 `PageMetadata` (`nextOffset` is an opaque cursor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = NotificationPageMetadata)]
pub struct PageMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<String>,
    pub total_elements: u64,
}

/// FDX 6.2 `PageMetadataLinks` (only `next`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = NotificationPageLinks)]
pub struct PageMetadataLinks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<HateoasLink>,
}

/// FDX 6.2 `Notificationsentity`: a page of the consent's unacknowledged notifications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NotificationPage {
    pub page: PageMetadata,
    pub links: PageMetadataLinks,
    #[schema(value_type = Vec<Notification>)]
    pub notifications: Vec<serde_json::Value>,
}

/// bankgate extension: `POST /fdx/v6/notifications/acknowledgements` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Acknowledgements {
    pub notification_ids: Vec<String>,
}

/// bankgate extension: one dead delivery of a subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub notification_id: String,
    /// Attempts made before the delivery was given up.
    pub attempts: u32,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it was given up (RFC 3339).
    pub dead_since: String,
    #[schema(value_type = Notification)]
    pub notification: serde_json::Value,
}

/// bankgate extension: `GET /fdx/v6/notification-subscriptions/{subscriptionId}/dead-letters` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetters {
    pub subscription_id: String,
    pub dead_letters: Vec<DeadLetter>,
}
