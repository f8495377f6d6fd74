//! Polling for notifications instead of (or besides) webhooks: `GET /fdx/v6/notifications?limit&offset` (FDX 6.2
//! `getNotifications`) lists the consent's unacknowledged events, oldest first, as a `Notificationsentity` page;
//! `POST /fdx/v6/notifications/acknowledgements` with `{"notificationIds": [...]}` (a bankgate extension: FDX 6.2
//! defines no acknowledgement) marks them read and answers 204, so the next poll no longer lists them.
//!
//! Same authorization as [`super::subscriptions`]. `offset` is an opaque cursor (the last event of the previous
//! page), `limit` 1 to [`MAX_LIMIT`] (default [`DEFAULT_LIMIT`]); `page.totalElements` counts every unacknowledged
//! event of the consent. Acknowledging an unknown or already acknowledged id is not an error (idempotent).
//! Polling and webhooks are independent: acknowledging does not stop a pending webhook, and a delivered webhook
//! does not acknowledge. This module must never list another consent's events.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::model::{Acknowledgements, HateoasLink, NotificationPage, PageMetadata, PageMetadataLinks};
use super::subscriptions::{AppRequest, MAX_BODY, authorize, json_answer};
use crate::app::AppState;
use crate::fdx::FdxError;

/// The polling endpoint.
pub const NOTIFICATIONS_PATH: &str = "/fdx/v6/notifications";
/// The acknowledgement endpoint (bankgate extension).
pub const ACKNOWLEDGEMENTS_PATH: &str = "/fdx/v6/notifications/acknowledgements";
/// Page size when `limit` is absent.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest page.
pub const MAX_LIMIT: u32 = 1000;
/// Most ids acknowledged in one request.
pub const MAX_ACKS: usize = 1000;

/// `GET /fdx/v6/notifications`.
pub async fn list(State(state): State<AppState>, request: AppRequest) -> Response {
    list_inner(&state, &request).await.unwrap_or_else(IntoResponse::into_response)
}

async fn list_inner(state: &AppState, request: &AppRequest) -> Result<Response, FdxError> {
    let access = authorize(state, request).await?;
    let (mut limit, mut after) = (DEFAULT_LIMIT, 0i64);
    let mut seen: Vec<String> = Vec::new();
    for (name, value) in oauth2::url::form_urlencoded::parse(request.query.as_deref().unwrap_or("").as_bytes()) {
        if seen.iter().any(|n| *n == name) {
            return Err(FdxError::invalid_input(format!("parameter {name} is given more than once")));
        }
        seen.push(name.to_string());
        match name.as_ref() {
            "limit" => {
                limit = value
                    .parse::<u32>()
                    .ok()
                    .filter(|l| (1..=MAX_LIMIT).contains(l))
                    .ok_or_else(|| FdxError::invalid_input(format!("limit must be 1 to {MAX_LIMIT}")))?;
            }
            "offset" => {
                after = value
                    .parse::<i64>()
                    .ok()
                    .filter(|o| *o >= 0)
                    .ok_or_else(|| FdxError::invalid_input("offset is not a cursor this API issued"))?;
            }
            // FDX `dataRecipientId` and others: a consent has one data recipient, nothing to narrow.
            _ => {}
        }
    }
    let store = &state.store;
    let consent_id = &access.consent.id;
    // One more than asked: whether a next page exists.
    let mut events = store.unacked_events(consent_id, after, limit + 1).await.map_err(|e| FdxError::internal(&e))?;
    let total = store.count_unacked_events(consent_id).await.map_err(|e| FdxError::internal(&e))?;
    let more = events.len() > limit as usize;
    events.truncate(limit as usize);
    let next_offset = more.then(|| events.last().map(|e| e.seq.to_string())).flatten();
    let next = next_offset.as_ref().map(|cursor| HateoasLink {
        href: state.url(&format!("{NOTIFICATIONS_PATH}?offset={cursor}&limit={limit}")),
        action: Some("GET".into()),
        rel: Some("next".into()),
        types: Some(vec!["application/json".into()]),
    });
    let page = NotificationPage {
        page: PageMetadata { next_offset, total_elements: total },
        links: PageMetadataLinks { next },
        notifications: events.into_iter().map(|e| e.body).collect(),
    };
    Ok(json_answer(StatusCode::OK, &page))
}

/// `POST /fdx/v6/notifications/acknowledgements`: 204.
pub async fn acknowledge(State(state): State<AppState>, request: AppRequest, body: Bytes) -> Response {
    let answer = async {
        let access = authorize(&state, &request).await?;
        if body.len() > MAX_BODY {
            return Err(FdxError::invalid_input("the request body is too large"));
        }
        let acks: Acknowledgements = serde_json::from_slice(&body)
            .map_err(|e| FdxError::invalid_input(format!("expected {{\"notificationIds\": [...]}}: {e}")))?;
        if acks.notification_ids.len() > MAX_ACKS {
            return Err(FdxError::invalid_input(format!("at most {MAX_ACKS} notificationIds per request")));
        }
        state
            .store
            .ack_events(&access.consent.id, &acks.notification_ids, state.now())
            .await
            .map_err(|e| FdxError::internal(&e))?;
        let mut response = StatusCode::NO_CONTENT.into_response();
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(response)
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}
