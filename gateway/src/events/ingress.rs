//! The bank-facing intake of notifications (issue 5 contract, "Delivery (bank -> gateway)"):
//! `POST /bank-notifications/{bankId}/{consentId}`, the callback URL the gateway gave the bank when it subscribed
//! ([`crate::banks::notifications`]).
//!
//! A delivery is accepted only when all of this holds, checked in this order (each refusal an FDX 6.2 `Error1` body,
//! never a 500 for bad input; the bank does not retry a 4xx):
//! 1. the TLS peer presented a client certificate (the listener verified it chains to the dev CA; RFC 8705 §2) —
//!    else 401 (FDX 603);
//! 2. `bankId` is a bank the gateway knows — else 404 (FDX 1107);
//! 3. the certificate's subject CN is `bank-{bankId}` — else 403;
//! 4. the body is at most [`BODY_LIMIT`] bytes (413) sent as `content-type: application/jose` (RFC 7515 §9.2.1) —
//!    else 400 (FDX 401 Invalid Input);
//! 5. the body is a JWS compact serialization (RFC 7515 §7.1) whose protected header has `alg` exactly `ES256`
//!    (RFC 7518 §3.4), `typ` `JOSE` (RFC 7515 §4.1.9), no `crit` (§4.1.11: no extension is understood) and an
//!    `x5t#S256` (§4.1.8) — else 400;
//! 6. that `x5t#S256` is the base64url SHA-256 thumbprint of the certificate the bank presented on this very
//!    connection, and the ES256 signature verifies with that certificate's P-256 public key (the key that signed is
//!    the key that authenticated the TLS session) — else 401;
//! 7. the payload is an FDX `Notificationentity` ([`Notification`]) — else 400;
//! 8. the consent exists and is one of this bank's — else 404 (the same answer for both, so a bank learns nothing
//!    about other banks' consents).
//!
//! After check 7 the delivery waits for its turn in its bank lane (`x-bankgate-lane` / `x-bankgate-sequence`,
//! [`super::sequence`]): a bank sends several notifications of one consent at once, and they are queued in the
//! bank's order. Then the notification goes to [`super::accept_bank_notification`] (coverage filter, durable enqueue): 202 for a
//! new, duplicate (idempotent by `notificationId`) or filtered notification; 503 when the store failed (the bank
//! retries). A CONSENT_REVOKED notification first revokes the gateway consent with initiator Bank
//! ([`crate::revocation::revoke`], as the resource API does when the bank refuses the refresh token), so the app's
//! next data call is refused at once, and then is accepted (as the news of that revocation, which is delivered).
//! A repeated CONSENT_REVOKED finds the consent already revoked and is only accepted again (a duplicate).
//!
//! This module must never trust a signature made by another key than the presenting certificate's, never act on a
//! payload before the signature verified, and never log the body.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use certs::serve::PeerCertificates;
use rustls_pki_types::CertificateDer;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::model::{NotificationCategory, NotificationType};
use super::sequence::Place;
use super::{Accepted, EventError, Notification, accept_bank_notification};
use crate::app::AppState;
use crate::banks::notifications::BANK_NOTIFICATIONS_PATH;
use crate::consent::{Initiator, RevocationReason};
use crate::fdx::error::FdxError;

/// Largest notification body accepted (a signed FDX notification is about 2 KiB).
pub const BODY_LIMIT: usize = 64 * 1024;
/// The media type of a JWS compact serialization (RFC 7515 §9.2.1).
pub const JOSE_MEDIA_TYPE: &str = "application/jose";
/// The FAPI interaction id header.
const INTERACTION_ID: &str = "x-fapi-interaction-id";

/// The intake route (merged into [`crate::app::router`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(&format!("{BANK_NOTIFICATIONS_PATH}/{{bank_id}}/{{consent_id}}"), post(receive))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// The client certificate CN a bank delivers with (contract: `bank-{bankId}`, issued by the dev CA).
pub fn bank_client_name(bank_id: &str) -> String {
    format!("bank-{bank_id}")
}

fn invalid(debug: impl Into<String>) -> FdxError {
    FdxError::new(StatusCode::BAD_REQUEST, "401", "Invalid Input", debug)
}

fn unauthenticated(debug: impl Into<String>) -> FdxError {
    FdxError::new(StatusCode::UNAUTHORIZED, "603", "Authentication failed", debug)
}

fn not_found(debug: impl Into<String>) -> FdxError {
    FdxError::new(StatusCode::NOT_FOUND, "1107", "Data not found for request parameters", debug)
}

fn unavailable(cause: &dyn std::fmt::Display) -> FdxError {
    tracing::error!(%cause, "bank notification intake: store failed");
    FdxError {
        retry_after: Some(1),
        ..FdxError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "503",
            "Service Unavailable",
            "the gateway could not store it; retry",
        )
    }
}

/// Steps 4 to 7 of the module docs: `body` sent with `content_type` must be a JWS of the contract signed by the key
/// of `leaf`, the certificate the bank presented; returns its notification.
pub(crate) fn verify_delivery(
    content_type: Option<&str>,
    leaf: &CertificateDer<'_>,
    body: &[u8],
) -> Result<Notification, FdxError> {
    let media = content_type.and_then(|v| v.split(';').next()).map(str::trim);
    if !media.is_some_and(|m| m.eq_ignore_ascii_case(JOSE_MEDIA_TYPE)) {
        return Err(invalid(format!("the body must be a JWS sent as {JOSE_MEDIA_TYPE} (RFC 7515 §9.2.1)")));
    }
    let text = std::str::from_utf8(body).map_err(|_| invalid("the body is not a JWS compact serialization"))?;
    let text = text.trim();
    // RFC 7515 §7.1: BASE64URL(header) '.' BASE64URL(payload) '.' BASE64URL(signature).
    let mut parts = text.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("the body is not three base64url segments separated by dots (RFC 7515 §7.1)"));
    };
    let header: Value = URL_SAFE_NO_PAD
        .decode(header_b64)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .filter(Value::is_object)
        .ok_or_else(|| invalid("the JWS protected header is not a base64url-encoded JSON object"))?;
    // RFC 7518 §3.4 / contract: ES256 and nothing else (never `none`, never a MAC).
    if header.get("alg").and_then(Value::as_str) != Some("ES256") {
        return Err(invalid("the JWS alg must be ES256"));
    }
    if header.get("typ").and_then(Value::as_str) != Some("JOSE") {
        return Err(invalid("the JWS typ must be JOSE"));
    }
    // RFC 7515 §4.1.11: a `crit` extension we do not understand makes the JWS invalid.
    if header.get("crit").is_some() {
        return Err(invalid("the JWS carries crit; no JWS extension is supported"));
    }
    let thumbprint = header
        .get("x5t#S256")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("the JWS header has no x5t#S256 (RFC 7515 §4.1.8)"))?;
    // RFC 7515 §4.1.8: base64url of the SHA-256 of the DER certificate — here, the one on this TLS connection.
    if thumbprint != URL_SAFE_NO_PAD.encode(Sha256::digest(leaf.as_ref())) {
        return Err(unauthenticated("x5t#S256 is not the thumbprint of the client certificate of this connection"));
    }
    let signature = URL_SAFE_NO_PAD.decode(signature_b64).map_err(|_| invalid("the JWS signature is not base64url"))?;
    let key = leaf_p256_key(leaf)?;
    // RFC 7515 §5.2 / RFC 7518 §3.4: the signing input is the ASCII of `header '.' payload`; R || S, 64 bytes.
    let signing_input = &text.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
    aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED, key)
        .verify(signing_input, &signature)
        .map_err(|_| unauthenticated("the JWS signature does not verify with the client certificate's key"))?;
    let payload = URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| invalid("the JWS payload is not base64url"))?;
    serde_json::from_slice::<Notification>(&payload).map_err(|e| {
        let line: String = e.to_string().chars().take(200).collect();
        invalid(format!("the JWS payload is not an FDX Notificationentity: {line}"))
    })
}

/// The uncompressed P-256 point of `leaf`'s SubjectPublicKeyInfo (RFC 5480 §2), or 401 for any other key.
fn leaf_p256_key(leaf: &CertificateDer<'_>) -> Result<Vec<u8>, FdxError> {
    use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY};
    let wrong = || unauthenticated("the client certificate's key is not an ECDSA P-256 key; ES256 needs one");
    let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref()).map_err(|_| wrong())?;
    let spki = cert.public_key();
    let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok());
    if spki.algorithm.algorithm != OID_KEY_TYPE_EC_PUBLIC_KEY || curve != Some(OID_EC_P256) {
        return Err(wrong());
    }
    Ok(spki.subject_public_key.data.to_vec())
}

/// The request's `x-fapi-interaction-id` when sane, else a fresh one; echoed on every answer.
fn interaction_id(headers: &HeaderMap) -> HeaderValue {
    headers
        .get(INTERACTION_ID)
        .filter(|v| {
            let b = v.as_bytes();
            !b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(c))
        })
        .cloned()
        .or_else(|| HeaderValue::from_str(&crate::banks::notifications::new_interaction_id()).ok())
        .unwrap_or_else(|| HeaderValue::from_static("unknown"))
}

/// `POST /bank-notifications/{bankId}/{consentId}` (rules in the module docs).
pub async fn receive(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    peer: Option<axum::Extension<PeerCertificates>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let id = interaction_id(&headers);
    let mut response = match intake(&state, path, &headers, peer.as_ref().map(|p| &p.0), body).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(refused) => {
            tracing::info!(status = refused.status.as_u16(), reason = %refused.debug_message, "bank notification refused");
            refused.into_response()
        }
    };
    response.headers_mut().insert(INTERACTION_ID, id);
    response
}

async fn intake(
    state: &AppState,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: &HeaderMap,
    peer: Option<&PeerCertificates>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(), FdxError> {
    let Ok(Path((bank_id, consent_id))) = path else {
        return Err(not_found("no such bank notification endpoint"));
    };
    // 1. RFC 8705 §2: the listener verified the chain; here the bank must have presented a certificate at all.
    let leaf = peer
        .and_then(PeerCertificates::leaf)
        .ok_or_else(|| unauthenticated("a bank delivers notifications with its client certificate (mutual TLS)"))?;
    // 2. A bank the gateway knows.
    if state.banks.get(&bank_id).is_none() {
        return Err(not_found("no such bank at this gateway"));
    }
    // 3. The certificate names that bank.
    if peer.and_then(PeerCertificates::leaf_common_name) != Some(bank_client_name(&bank_id).as_str()) {
        return Err(FdxError::new(
            StatusCode::FORBIDDEN,
            "403",
            "Forbidden",
            format!("the client certificate is not the one of bank `{bank_id}`"),
        ));
    }
    // 4-7. Size, media type, JWS, key binding, payload.
    let body = body.map_err(|_| {
        FdxError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "413",
            "Payload Too Large",
            format!("the body could not be read or is larger than {BODY_LIMIT} bytes"),
        )
    })?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let notification = verify_delivery(content_type, leaf, &body)?;
    // The bank's order: wait for the earlier notifications of this lane to be queued (dropped on any refusal below).
    let turn = state.bank_lanes.turn(&bank_id, &consent_id, Place::from_headers(headers)).await;
    // 8. One of this bank's consents.
    let consent = state.store.consent(&consent_id).await.map_err(|e| unavailable(&e))?;
    if consent.as_ref().and_then(|c| c.subject.as_ref()).is_none_or(|s| s.bank != bank_id) {
        return Err(not_found("no such consent of this bank"));
    }
    let (notification_id, kind) = (notification.notification_id.clone(), notification.notification_type);
    // Only the contract's pair CONSENT_REVOKED/CONSENT revokes; any other pairing is refused by the acceptance below.
    if kind == NotificationType::ConsentRevoked && notification.category == NotificationCategory::Consent {
        revoke_for_bank(state, &bank_id, &consent_id).await?;
    }
    match accept_bank_notification(state, &consent_id, &bank_id, notification, turn).await {
        Ok(accepted) => {
            let outcome = match accepted {
                Accepted::New => "new",
                Accepted::Duplicate => "duplicate",
                Accepted::Filtered => "filtered",
            };
            tracing::info!(bank = %bank_id, notification_id = %notification_id, kind = ?kind, outcome, "bank notification accepted");
            Ok(())
        }
        Err(EventError::UnknownConsent(_)) => Err(not_found("no such consent of this bank")),
        Err(EventError::Invalid(why)) => Err(invalid(why)),
        Err(EventError::Store(err)) => Err(unavailable(&err)),
    }
}

/// The person revoked at the bank: revoke the gateway consent with initiator Bank (the bank already knows), and mark
/// its bank subscriptions ended (the bank ends them itself after CONSENT_REVOKED).
async fn revoke_for_bank(state: &AppState, bank_id: &str, consent_id: &str) -> Result<(), FdxError> {
    let outcome =
        crate::revocation::revoke(state, consent_id, RevocationReason::UserAction, Initiator::Bank, state.now())
            .await
            .map_err(|e| unavailable(&e))?;
    if matches!(outcome, crate::store::ConsentRevocationOutcome::Revoked { .. }) {
        tracing::info!(bank = %bank_id, "the bank reported a revocation: consent revoked");
    }
    crate::banks::notifications::forget(state, consent_id).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    use axum::body::Body;
    use axum::http::Request;
    use serde_json::json;
    use time::OffsetDateTime;
    use tower::ServiceExt as _;

    use super::*;
    use crate::banks::{BankClient, BankClientSettings, BankEntry, BankTimeouts};
    use crate::config::{DeclaredClient, GatewayConfig, ManualClock};
    use crate::consent::{Authorization, Consent, ConsentRequest, ConsentStatus, ConsentSubject};
    use crate::pages::BankRegistry;

    const ISSUER: &str = "https://gateway.test";
    const CLIENT: &str = "budget-app";
    const CONSENT: &str = "consent-harbor-1";
    const OTHER_BANKS_CONSENT: &str = "consent-summit-1";

    struct Fixture {
        state: AppState,
        pki: certs::Pki,
        harbor: certs::Identity,
    }

    async fn fixture() -> Fixture {
        let pki = certs::Pki::generate().unwrap();
        let mut config = GatewayConfig::sandbox(([127, 0, 0, 1], 0).into());
        let metadata = json!({
            "client_name": "Budget App",
            "profile": "sandbox",
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code"],
            "redirect_uris": ["https://app.test/cb"],
            "purposes": ["personal_finance_management"],
            "client_secret_hash": crate::store::TokenHash::of("not-a-real-secret-but-long-enough-0123456789").to_hex(),
        });
        config.clients.push(DeclaredClient { client_id: CLIENT.into(), metadata });
        let now = OffsetDateTime::from_unix_timestamp(1_780_272_000).unwrap();
        let state = crate::server::build_state(config, ISSUER.into(), Arc::new(ManualClock::new(now))).await.unwrap();
        let gateway = pki.issue_client("gateway-client").unwrap();
        let mut registry = BankRegistry::new();
        for (id, port) in [("harbor", 9111), ("summit", 9121)] {
            let url = format!("https://127.0.0.1:{port}");
            let settings = BankClientSettings {
                client_id: "gateway-client".into(),
                redirect_uri: crate::pages::bank_redirect_uri(ISSUER, id),
                timeouts: BankTimeouts::default(),
                breaker: Default::default(),
            };
            let entry = BankEntry::new(id, id, &url, &url).unwrap();
            registry = registry.with(BankClient::new(entry, &pki.ca_der(), &gateway, &settings).unwrap());
        }
        let state = state.with_banks(registry);
        for (id, bank) in [(CONSENT, "harbor"), (OTHER_BANKS_CONSENT, "summit")] {
            let details = json!([{"type": "fdx_consent", "dataClusters": ["ACCOUNT_BASIC", "NOTIFICATIONS"],
                "durationType": "TIME_BOUND", "durationPeriod": 30, "lookbackPeriod": 30,
                "purposes": ["personal_finance_management"]}]);
            let request = ConsentRequest::from_authorization_details_value(&details).unwrap();
            let mut consent = Consent::new(id.into(), CLIENT.into(), request, now);
            state.store.insert_consent(&consent).await.unwrap();
            let subject = ConsentSubject { person: "p-1".into(), bank: bank.into() };
            let decision = Authorization { subject, accounts: vec!["acct-1".into()], secondary_use_opt_in: false };
            consent.authorize(decision, now).unwrap();
            assert!(state.store.update_consent(&consent, ConsentStatus::Pending).await.unwrap());
        }
        let harbor = pki.issue_client("bank-harbor").unwrap();
        Fixture { state, pki, harbor }
    }

    fn notification(kind: &str, category: &str, id_type: &str, id: &str) -> Value {
        json!({
            "notificationId": "0b5c1d9e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
            "type": kind,
            "sentOn": "2026-03-04T15:00:00Z",
            "category": category,
            "severity": "ALERT",
            "priority": "HIGH",
            "publisher": {"name": "Harbor Trust", "type": "DATA_PROVIDER"},
            "subscriber": {"name": "bankgate", "type": "DATA_ACCESS_PLATFORM"},
            "notificationPayload": {"id": id, "idType": id_type,
                "customFields": {"name": "CARD_NOT_PRESENT_FAR_FROM_HOME", "value": "card used far from home"}},
        })
    }

    fn fraud() -> Value {
        notification("RISK", "FRAUD", "ACCOUNT", "acct-1")
    }

    /// A compact JWS of `payload` with `header`, signed by `signer`'s key.
    fn jws_with(header: &Value, payload: &[u8], signer: &certs::Identity) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).unwrap()),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let key = signer.key_der();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, key.secret_der()).unwrap();
        let signature = pair.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }

    fn header_for(identity: &certs::Identity) -> Value {
        let thumbprint = URL_SAFE_NO_PAD.encode(identity.sha256_thumbprint());
        json!({"alg": "ES256", "typ": "JOSE", "x5t#S256": thumbprint})
    }

    /// The contract's delivery of `payload` by `identity`.
    fn signed(payload: &Value, identity: &certs::Identity) -> String {
        jws_with(&header_for(identity), &serde_json::to_vec(payload).unwrap(), identity)
    }

    async fn deliver_as(
        state: &AppState,
        path: &str,
        peer: Option<&certs::Identity>,
        content_type: &str,
        body: impl Into<Body>,
    ) -> (StatusCode, Value) {
        let mut request = Request::post(path)
            .header(header::CONTENT_TYPE, content_type)
            .header(INTERACTION_ID, "bank-interaction-1")
            .body(body.into())
            .unwrap();
        let chain = peer.map(|p| vec![p.cert_der()]).unwrap_or_default();
        request.extensions_mut().insert(PeerCertificates::new(chain));
        let response = crate::app::router(state.clone()).oneshot(request).await.unwrap();
        assert_eq!(response.headers()[INTERACTION_ID], "bank-interaction-1", "echoed on every answer");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn deliver(f: &Fixture, peer: Option<&certs::Identity>, body: String) -> (StatusCode, Value) {
        let path = format!("/bank-notifications/harbor/{CONSENT}");
        deliver_as(&f.state, &path, peer, JOSE_MEDIA_TYPE, body).await
    }

    fn assert_fdx(answer: &(StatusCode, Value), status: StatusCode, code: &str) {
        assert_eq!(answer.0, status, "{}", answer.1);
        assert_eq!(answer.1["code"], code, "{}", answer.1);
        assert!(answer.1["message"].is_string() && answer.1["debugMessage"].is_string(), "{}", answer.1);
    }

    /// A numbered delivery of a RISK notification `id` at `place` of lane `L`.
    async fn deliver_numbered(state: AppState, harbor: &certs::Identity, id: &str, place: u64) -> StatusCode {
        let mut payload = fraud();
        payload["notificationId"] = json!(id);
        let mut request = Request::post(format!("/bank-notifications/harbor/{CONSENT}"))
            .header(header::CONTENT_TYPE, JOSE_MEDIA_TYPE)
            .header(super::super::sequence::LANE_HEADER, "L")
            .header(super::super::sequence::SEQUENCE_HEADER, place.to_string())
            .body(Body::from(signed(&payload, harbor)))
            .unwrap();
        request.extensions_mut().insert(PeerCertificates::new(vec![harbor.cert_der()]));
        crate::app::router(state).oneshot(request).await.unwrap().status()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn overlapping_deliveries_of_a_lane_are_queued_in_the_banks_order() {
        let mut f = fixture().await;
        // A long bound, so only the predecessor's arrival (not the timeout) can let place 3 go.
        let lanes = Arc::new(super::super::sequence::IngressSequencer::with_wait(std::time::Duration::from_secs(60)));
        f.state = f.state.clone().changed(|parts| parts.bank_lanes = lanes);
        assert_eq!(deliver_numbered(f.state.clone(), &f.harbor, "n-1", 1).await, StatusCode::ACCEPTED);
        let third = tokio::spawn({
            let (state, harbor) = (f.state.clone(), f.harbor.clone());
            async move { deliver_numbered(state, &harbor, "n-3", 3).await }
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while f.state.bank_lanes.waiting() == 0 {
            assert!(std::time::Instant::now() < deadline, "place 3 waits for place 2");
            tokio::task::yield_now().await;
        }
        assert_eq!(deliver_numbered(f.state.clone(), &f.harbor, "n-2", 2).await, StatusCode::ACCEPTED);
        assert_eq!(third.await.unwrap(), StatusCode::ACCEPTED);
        let stored = f.state.store.unacked_events(CONSENT, 0, 10).await.unwrap();
        let ids: Vec<&str> = stored.iter().map(|e| e.notification_id.as_str()).collect();
        assert_eq!(ids, ["n-1", "n-2", "n-3"], "queued in the bank's order, not in arrival order");
    }

    #[tokio::test]
    async fn a_delivery_without_a_client_certificate_is_401() {
        let f = fixture().await;
        let answer = deliver(&f, None, signed(&fraud(), &f.harbor)).await;
        assert_fdx(&answer, StatusCode::UNAUTHORIZED, "603");
    }

    #[tokio::test]
    async fn an_unknown_bank_is_404() {
        let f = fixture().await;
        let nowhere = f.pki.issue_client("bank-nowhere").unwrap();
        let path = format!("/bank-notifications/nowhere/{CONSENT}");
        let answer = deliver_as(&f.state, &path, Some(&nowhere), JOSE_MEDIA_TYPE, signed(&fraud(), &nowhere)).await;
        assert_fdx(&answer, StatusCode::NOT_FOUND, "1107");
    }

    #[tokio::test]
    async fn another_banks_certificate_is_403() {
        let f = fixture().await;
        for name in ["bank-summit", "gateway-client", "sample-app"] {
            let other = f.pki.issue_client(name).unwrap();
            let answer = deliver(&f, Some(&other), signed(&fraud(), &other)).await;
            assert_fdx(&answer, StatusCode::FORBIDDEN, "403");
        }
    }

    #[tokio::test]
    async fn a_body_that_is_not_application_jose_is_400() {
        let f = fixture().await;
        let path = format!("/bank-notifications/harbor/{CONSENT}");
        for content_type in ["application/json", "text/plain", "application/jose+json"] {
            let answer = deliver_as(&f.state, &path, Some(&f.harbor), content_type, signed(&fraud(), &f.harbor)).await;
            assert_fdx(&answer, StatusCode::BAD_REQUEST, "401");
        }
        let with_charset = deliver_as(
            &f.state,
            &path,
            Some(&f.harbor),
            "application/jose; charset=utf-8",
            signed(&json!({"not": "a notification"}), &f.harbor),
        )
        .await;
        assert_eq!(with_charset.0, StatusCode::BAD_REQUEST, "parameters are allowed; then the payload is checked");
        assert!(with_charset.1["debugMessage"].as_str().unwrap().contains("Notificationentity"), "{}", with_charset.1);
    }

    #[tokio::test]
    async fn a_body_over_64_kib_is_refused_without_a_500() {
        let f = fixture().await;
        let answer = deliver(&f, Some(&f.harbor), "a".repeat(BODY_LIMIT + 1)).await;
        assert_fdx(&answer, StatusCode::PAYLOAD_TOO_LARGE, "413");
    }

    #[tokio::test]
    async fn a_body_that_is_not_a_compact_jws_is_400() {
        let f = fixture().await;
        let good = signed(&fraud(), &f.harbor);
        let parts: Vec<&str> = good.split('.').collect();
        let cases = [
            String::new(),
            "not a jws".to_owned(),
            format!("{}.{}", parts[0], parts[1]),
            format!("{good}.extra"),
            format!("!!.{}.{}", parts[1], parts[2]),
            format!("{}.{}.***", parts[0], parts[1]),
            format!("{}.{}.{}", URL_SAFE_NO_PAD.encode("[1]"), parts[1], parts[2]),
            String::from_utf8_lossy(&[0xff, 0xfe, b'.', b'.']).into_owned(),
        ];
        for body in cases {
            let answer = deliver(&f, Some(&f.harbor), body.clone()).await;
            assert_fdx(&answer, StatusCode::BAD_REQUEST, "401");
        }
    }

    #[tokio::test]
    async fn only_es256_typ_jose_without_crit_and_with_x5t_is_accepted() {
        let f = fixture().await;
        let payload = serde_json::to_vec(&fraud()).unwrap();
        let base = header_for(&f.harbor);
        let mut variants = Vec::new();
        for alg in [json!("none"), json!("ES384"), json!("HS256"), json!("es256"), json!(null)] {
            let mut header = base.clone();
            header["alg"] = alg;
            variants.push(header);
        }
        for typ in [json!("JWT"), json!("jose"), json!(null)] {
            let mut header = base.clone();
            header["typ"] = typ;
            variants.push(header);
        }
        let mut crit = base.clone();
        crit["crit"] = json!(["exp"]);
        variants.push(crit);
        let mut no_thumbprint = base.clone();
        no_thumbprint.as_object_mut().unwrap().remove("x5t#S256");
        variants.push(no_thumbprint);
        for header in variants {
            let answer = deliver(&f, Some(&f.harbor), jws_with(&header, &payload, &f.harbor)).await;
            assert_fdx(&answer, StatusCode::BAD_REQUEST, "401");
        }
    }

    #[tokio::test]
    async fn a_signature_or_thumbprint_of_another_certificate_is_401() {
        let f = fixture().await;
        let payload = serde_json::to_vec(&fraud()).unwrap();
        // Another certificate of the same bank name (a stolen or stale key): its thumbprint is not this connection's.
        let twin = f.pki.issue_client("bank-harbor").unwrap();
        let answer = deliver(&f, Some(&f.harbor), signed(&fraud(), &twin)).await;
        assert_fdx(&answer, StatusCode::UNAUTHORIZED, "603");
        // The right thumbprint, signed by another key.
        let answer = deliver(&f, Some(&f.harbor), jws_with(&header_for(&f.harbor), &payload, &twin)).await;
        assert_fdx(&answer, StatusCode::UNAUTHORIZED, "603");
        // A payload changed after signing.
        let good = signed(&fraud(), &f.harbor);
        let parts: Vec<&str> = good.split('.').collect();
        let mut changed = fraud();
        changed["notificationPayload"]["id"] = json!("acct-2");
        let tampered =
            format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(serde_json::to_vec(&changed).unwrap()), parts[2]);
        let answer = deliver(&f, Some(&f.harbor), tampered).await;
        assert_fdx(&answer, StatusCode::UNAUTHORIZED, "603");
    }

    #[tokio::test]
    async fn a_payload_that_is_not_an_fdx_notification_is_400() {
        let f = fixture().await;
        let mut unknown_type = fraud();
        unknown_type["type"] = json!("LOTTERY_WIN");
        let mut no_id = fraud();
        no_id.as_object_mut().unwrap().remove("notificationId");
        for payload in [json!("text"), json!({}), unknown_type, no_id] {
            let answer = deliver(&f, Some(&f.harbor), signed(&payload, &f.harbor)).await;
            assert_fdx(&answer, StatusCode::BAD_REQUEST, "401");
        }
        let not_json = jws_with(&header_for(&f.harbor), b"{not json", &f.harbor);
        assert_fdx(&deliver(&f, Some(&f.harbor), not_json).await, StatusCode::BAD_REQUEST, "401");
    }

    #[tokio::test]
    async fn an_unknown_consent_or_another_banks_consent_is_404() {
        let f = fixture().await;
        for consent in ["no-such-consent", OTHER_BANKS_CONSENT] {
            let path = format!("/bank-notifications/harbor/{consent}");
            let answer =
                deliver_as(&f.state, &path, Some(&f.harbor), JOSE_MEDIA_TYPE, signed(&fraud(), &f.harbor)).await;
            assert_fdx(&answer, StatusCode::NOT_FOUND, "1107");
        }
        // GET is not a delivery.
        let request = Request::get(format!("/bank-notifications/harbor/{CONSENT}")).body(Body::empty()).unwrap();
        let response = crate::app::router(f.state.clone()).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn consent_revoked_from_the_bank_revokes_the_gateway_consent_as_the_banks_doing() {
        let f = fixture().await;
        let revoked = notification("CONSENT_REVOKED", "CONSENT", "CONSENT", "bank-consent-1");
        let answer = deliver(&f, Some(&f.harbor), signed(&revoked, &f.harbor)).await;
        assert_eq!(answer.0, StatusCode::ACCEPTED, "{}", answer.1);
        let consent = f.state.store.consent(CONSENT).await.unwrap().unwrap();
        assert_eq!(consent.status, ConsentStatus::Revoked);
        assert_eq!(consent.revocations.len(), 1);
        assert_eq!(consent.revocations[0].initiator, Initiator::Bank);
        // The bank retries or repeats: still 202, still one revocation.
        let again = deliver(&f, Some(&f.harbor), signed(&revoked, &f.harbor)).await;
        assert_eq!(again.0, StatusCode::ACCEPTED, "{}", again.1);
        assert_eq!(f.state.store.consent(CONSENT).await.unwrap().unwrap().revocations.len(), 1);
    }

    #[tokio::test]
    async fn a_verified_notification_is_accepted_with_202() {
        let f = fixture().await;
        let answer = deliver(&f, Some(&f.harbor), signed(&fraud(), &f.harbor)).await;
        assert_eq!(answer.0, StatusCode::ACCEPTED, "{}", answer.1);
        // Idempotent by notificationId: the same delivery again is a 202 too.
        let again = deliver(&f, Some(&f.harbor), signed(&fraud(), &f.harbor)).await;
        assert_eq!(again.0, StatusCode::ACCEPTED, "{}", again.1);
        // About an account outside the consent: dropped, and still 202 (the bank cannot know the gateway's consent).
        let mut outside = fraud();
        outside["notificationId"] = json!("7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6");
        outside["notificationPayload"]["id"] = json!("acct-not-in-the-consent");
        let filtered = deliver(&f, Some(&f.harbor), signed(&outside, &f.harbor)).await;
        assert_eq!(filtered.0, StatusCode::ACCEPTED, "{}", filtered.1);
        // A pair outside the contract (RISK in category CONSENT) is refused by the acceptance rules: 400.
        let mut mismatched = fraud();
        mismatched["notificationId"] = json!("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d");
        mismatched["category"] = json!("CONSENT");
        let refused = deliver(&f, Some(&f.harbor), signed(&mismatched, &f.harbor)).await;
        assert_fdx(&refused, StatusCode::BAD_REQUEST, "401");
        assert_eq!(f.state.store.consent(CONSENT).await.unwrap().unwrap().status, ConsentStatus::Authorized);
    }
}
