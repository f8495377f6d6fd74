//! The app-facing notification API (FDX 6.2 "Notifications"): `POST /fdx/v6/notification-subscriptions`,
//! `GET`/`DELETE /fdx/v6/notification-subscriptions/{subscriptionId}`, and the bankgate extension
//! `GET /fdx/v6/notification-subscriptions/{subscriptionId}/dead-letters`; the polling endpoints are in
//! [`super::poll`]; [`routes`] serves both.
//!
//! Every request presents the consent's access token with its sender constraint (DPoP or mTLS,
//! [`crate::oauth::endpoints::presented::check`], exactly like the resource API); the consent must be active (401
//! FDX 603 otherwise) and hold `NOTIFICATIONS`, the scope `fdx:notifications:subscribe` (403 otherwise). Errors
//! are FDX `{code, message, debugMessage}` bodies; `x-fapi-interaction-id` is echoed on every answer. A
//! subscription of another consent answers 404, the same as one that does not exist.
//!
//! Decisions: `type`/`category` must be one of the pairs bankgate uses (RISK/FRAUD, BALANCE/NEW_DATA,
//! CONSENT_REVOKED/CONSENT, PLANNED_OUTAGE/MAINTENANCE; 400 otherwise). `callbackUrl` must be `https`, or plain
//! `http` only to a loopback host (`127.0.0.1`, `[::1]`, `localhost`): webhooks carry the person's financial
//! events, so they never cross a network in clear, while a developer's local receiver still works. The
//! `subscriber` an app sends is replaced by its own party (`{name: client_name, type: DATA_RECIPIENT}`).
//! `effectiveDate` is the gateway's date of creation. This module must never show one consent's subscriptions or
//! events to another.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use certs::serve::PeerCertificates;
use serde::Serialize;

use super::model::{DeadLetter, DeadLetters, NotificationSubscription, Party, PartyType};
use crate::app::AppState;
use crate::consent::{Consent, DataCluster};
use crate::fdx::{FdxError, access};
use crate::store::SubscriptionRecord;

/// The subscriptions collection.
pub const SUBSCRIPTIONS_PATH: &str = "/fdx/v6/notification-subscriptions";
/// Longest `callbackUrl` accepted.
const MAX_CALLBACK_LEN: usize = 2048;
/// Largest request body accepted.
pub(super) const MAX_BODY: usize = 64 * 1024;
/// Most dead letters listed.
const MAX_DEAD_LETTERS: u32 = 1000;

/// The notification API's routes (merged into [`crate::app::router`]).
pub fn routes() -> Router<AppState> {
    let fdx = |route: MethodRouter<AppState>| route.fallback(|| async { method_not_allowed() });
    Router::new()
        .route(SUBSCRIPTIONS_PATH, fdx(post(create)))
        .route("/fdx/v6/notification-subscriptions/{subscriptionId}", fdx(get(read).delete(delete)))
        .route("/fdx/v6/notification-subscriptions/{subscriptionId}/dead-letters", fdx(get(dead_letters)))
        .route(super::poll::NOTIFICATIONS_PATH, fdx(get(super::poll::list)))
        .route(super::poll::ACKNOWLEDGEMENTS_PATH, fdx(post(super::poll::acknowledge)))
        .layer(axum::middleware::from_fn(crate::fdx::interaction_id))
}

/// The parts of a request the authorization reads.
#[derive(Debug)]
pub struct AppRequest {
    pub(super) method: String,
    pub(super) headers: HeaderMap,
    pub(super) peer: Option<PeerCertificates>,
    /// The path as the client addressed it (the DPoP `htu`).
    pub(super) path: String,
    pub(super) query: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for AppRequest {
    type Rejection = FdxError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, FdxError> {
        Ok(Self {
            method: parts.method.as_str().to_owned(),
            headers: parts.headers.clone(),
            peer: parts.extensions.get::<PeerCertificates>().cloned(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
        })
    }
}

/// An app's request that passed the checks: its client and consent.
#[derive(Debug)]
pub struct AppAccess {
    pub client_id: String,
    pub consent: Consent,
}

/// Token (with sender constraint), consent active, `NOTIFICATIONS` granted.
pub(super) async fn authorize(state: &AppState, request: &AppRequest) -> Result<AppAccess, FdxError> {
    let token =
        access::presented_token(state, &request.method, &request.path, &request.headers, request.peer.as_ref()).await?;
    let Some(consent_id) = token.record.consent_id.clone() else {
        return Err(FdxError::forbidden("a client_credentials token has no notifications: use a token of a consent"));
    };
    let consent = access::active_consent(state, &token.record, &consent_id).await?;
    if !consent.covers_cluster(DataCluster::Notifications) {
        return Err(FdxError::forbidden(format!(
            "the consent does not include NOTIFICATIONS (scope {})",
            DataCluster::Notifications.scope()
        )));
    }
    Ok(AppAccess { client_id: token.record.client_id, consent })
}

/// 404 for a subscription that does not exist or belongs to another consent (the same answer).
fn no_such_subscription() -> FdxError {
    FdxError::new(
        StatusCode::NOT_FOUND,
        "1107",
        "Data not found for request parameters",
        "no such notification subscription under this consent",
    )
}

/// 405, FDX 1206, for a method the notification endpoints do not have.
fn method_not_allowed() -> FdxError {
    FdxError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "1206",
        "Method Not Allowed",
        "this method is not offered on this notification resource",
    )
}

/// A JSON answer with `Cache-Control: no-store`.
pub(super) fn json_answer<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut response = (status, bytes).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(err) => FdxError::internal(&err).into_response(),
    }
}

/// A random RFC 4122 version-4 UUID (subscription ids).
fn new_uuid() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    Ok(format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]))
}

/// The module docs' rule for `callbackUrl`.
pub fn check_callback_url(text: &str) -> Result<(), String> {
    if text.len() > MAX_CALLBACK_LEN {
        return Err(format!("callbackUrl is longer than {MAX_CALLBACK_LEN} characters"));
    }
    let url = oauth2::url::Url::parse(text).map_err(|e| format!("callbackUrl is not an absolute URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("callbackUrl must not carry credentials".into());
    }
    if url.fragment().is_some() {
        return Err("callbackUrl must not have a fragment".into());
    }
    let loopback = match url.host() {
        Some(oauth2::url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(oauth2::url::Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(oauth2::url::Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
        None => return Err("callbackUrl has no host".into()),
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err("callbackUrl must be https (plain http only to 127.0.0.1, [::1] or localhost)".into()),
        other => Err(format!("callbackUrl scheme {other} is not https")),
    }
}

/// The app's own party (FDX `Partyentity`): its registered `client_name`, else its client_id.
pub(super) async fn app_party(state: &AppState, client_id: &str) -> Result<Party, crate::store::StoreError> {
    let client = state.store.client(client_id).await?;
    let name = client
        .as_ref()
        .and_then(|c| c.metadata.get("client_name"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or(client_id)
        .to_owned();
    Ok(Party {
        name,
        party_type: PartyType::DataRecipient,
        home_uri: None,
        logo_uri: None,
        registered_entity_name: None,
        registered_entity_id: None,
    })
}

/// An FDX enum value read back from the store.
fn stored_enum<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, FdxError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| FdxError::internal(&format!("stored subscription {what} {text:?} is not FDX")))
}

async fn entity(state: &AppState, sub: &SubscriptionRecord) -> Result<NotificationSubscription, FdxError> {
    let date = sub.created_at.date();
    Ok(NotificationSubscription {
        notification_type: stored_enum("type", &sub.notification_type)?,
        category: stored_enum("category", &sub.category)?,
        callback_url: sub.callback_url.clone(),
        subscriber: Some(app_party(state, &sub.client_id).await.map_err(|e| FdxError::internal(&e))?),
        effective_date: Some(format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())),
        subscription_id: Some(sub.id.clone()),
    })
}

/// The subscription `id` if it belongs to the caller's consent.
async fn owned(state: &AppState, access: &AppAccess, id: &str) -> Result<SubscriptionRecord, FdxError> {
    if id.len() > 256 {
        return Err(no_such_subscription());
    }
    match state.store.subscription(id).await.map_err(|e| FdxError::internal(&e))? {
        Some(sub) if sub.consent_id == access.consent.id && sub.client_id == access.client_id => Ok(sub),
        _ => Err(no_such_subscription()),
    }
}

/// `POST /fdx/v6/notification-subscriptions` (FDX `createNotificationSubscription`): 201 with the entity.
pub async fn create(State(state): State<AppState>, request: AppRequest, body: Bytes) -> Response {
    match create_inner(&state, &request, &body).await {
        Ok(response) => response,
        Err(refusal) => refusal.into_response(),
    }
}

async fn create_inner(state: &AppState, request: &AppRequest, body: &[u8]) -> Result<Response, FdxError> {
    let access = authorize(state, request).await?;
    if body.len() > MAX_BODY {
        return Err(FdxError::invalid_input("the request body is too large"));
    }
    let wanted: NotificationSubscription = serde_json::from_slice(body)
        .map_err(|e| FdxError::invalid_input(format!("not a NotificationSubscriptionentity: {e}")))?;
    if wanted.notification_type.bankgate_category() != Some(wanted.category) {
        return Err(FdxError::invalid_input(format!(
            "type {} with category {} is not offered; use RISK/FRAUD, BALANCE/NEW_DATA, CONSENT_REVOKED/CONSENT or \
             PLANNED_OUTAGE/MAINTENANCE",
            wanted.notification_type.as_fdx(),
            wanted.category.as_fdx()
        )));
    }
    check_callback_url(&wanted.callback_url).map_err(FdxError::invalid_input)?;
    let record = SubscriptionRecord {
        id: new_uuid().map_err(|e| FdxError::internal(&e))?,
        consent_id: access.consent.id.clone(),
        client_id: access.client_id.clone(),
        notification_type: wanted.notification_type.as_fdx().to_owned(),
        category: wanted.category.as_fdx().to_owned(),
        callback_url: wanted.callback_url.clone(),
        created_at: state.now(),
    };
    state.store.insert_subscription(&record).await.map_err(|e| FdxError::internal(&e))?;
    let created = entity(state, &record).await?;
    let mut response = json_answer(StatusCode::CREATED, &created);
    if let Ok(location) = HeaderValue::from_str(&format!("{SUBSCRIPTIONS_PATH}/{}", record.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `GET /fdx/v6/notification-subscriptions/{subscriptionId}` (FDX `getNotificationSubscription`).
pub async fn read(State(state): State<AppState>, request: AppRequest, Path(id): Path<String>) -> Response {
    let answer = async {
        let access = authorize(&state, &request).await?;
        let sub = owned(&state, &access, &id).await?;
        Ok::<_, FdxError>(json_answer(StatusCode::OK, &entity(&state, &sub).await?))
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

/// `DELETE /fdx/v6/notification-subscriptions/{subscriptionId}` (FDX `deleteNotificationSubscription`): 204;
/// its pending deliveries end with it.
pub async fn delete(State(state): State<AppState>, request: AppRequest, Path(id): Path<String>) -> Response {
    let answer = async {
        let access = authorize(&state, &request).await?;
        let sub = owned(&state, &access, &id).await?;
        state.store.delete_subscription(&sub.id).await.map_err(|e| FdxError::internal(&e))?;
        let mut response = StatusCode::NO_CONTENT.into_response();
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok::<_, FdxError>(response)
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /fdx/v6/notification-subscriptions/{subscriptionId}/dead-letters` (bankgate extension): the deliveries
/// given up, oldest first, with their attempts and last error.
pub async fn dead_letters(State(state): State<AppState>, request: AppRequest, Path(id): Path<String>) -> Response {
    let answer = async {
        let access = authorize(&state, &request).await?;
        let sub = owned(&state, &access, &id).await?;
        let dead = state.store.dead_deliveries(&sub.id, MAX_DEAD_LETTERS).await.map_err(|e| FdxError::internal(&e))?;
        let dead_letters = dead
            .into_iter()
            .map(|d| DeadLetter {
                notification_id: d.notification_id,
                attempts: d.attempts,
                last_error: d.last_error,
                dead_since: d.updated_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                notification: d.body,
            })
            .collect();
        Ok::<_, FdxError>(json_answer(StatusCode::OK, &DeadLetters { subscription_id: sub.id, dead_letters }))
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_are_https_or_loopback_http() {
        assert!(check_callback_url("https://app.example/hooks").is_ok());
        assert!(check_callback_url("http://127.0.0.1:8080/hooks").is_ok());
        assert!(check_callback_url("http://localhost/hooks").is_ok());
        assert!(check_callback_url("http://[::1]:9/h").is_ok());
        assert!(check_callback_url("http://app.example/hooks").is_err());
        assert!(check_callback_url("http://10.0.0.1/hooks").is_err());
        assert!(check_callback_url("ftp://app.example/x").is_err());
        assert!(check_callback_url("https://user:pw@app.example/x").is_err());
        assert!(check_callback_url("https://app.example/x#frag").is_err());
        assert!(check_callback_url("/relative").is_err());
    }
}
