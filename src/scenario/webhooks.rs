//! The apps' webhook receiver of one scenario (FORMAT.md "Events"): a plain-HTTP RFC 8935 push endpoint on
//! 127.0.0.1 (the gateway accepts `http` callbacks only on loopback), one path per app (`/hooks/{app}`), started by
//! the first `subscribe` step of a scenario and stopped with it.
//!
//! Every Security Event Token it receives is verified the way an app must (RFC 8417 over RFC 7515): `Content-Type:
//! application/secevent+jwt` (RFC 8935 §2), a compact JWS with `alg` ES256 (RFC 7518 §3.4) and `typ`
//! `secevent+jwt` (RFC 8417 §2.3) whose signature verifies with the key its `kid` names in the gateway's `/jwks`
//! (RFC 7517), `iss` the gateway's issuer and `aud` the app's client_id (RFC 8417 §2.2), exactly one event, the FDX
//! notification, whose `notificationId` is the token's `jti`. A verified SET is answered 202 (RFC 8935 §2.2), any
//! other 400 with an RFC 8935 §2.3 error body; both are recorded, in arrival order, for the event steps.
//!
//! Against a `--target` deployment the target's gateway must reach this receiver on 127.0.0.1: it does when the
//! deployment runs on the same machine. The receiver never decides an outcome itself and never logs a body.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The RFC 8417 `events` member under which the gateway sends an FDX notification.
pub use gateway::events::set::EVENT_TYPE;
/// Largest SET accepted (the gateway's are a few KiB).
const BODY_LIMIT: usize = 256 * 1024;

/// One push the receiver got.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// The app (the `as` name of its `register_client` step).
    pub app: String,
    /// Wall time since the receiver started.
    pub after_ms: u64,
    /// The verified SET's claims, or why it was refused.
    pub verdict: Result<Value, String>,
    /// Set once an `expect_webhook` step matched it (by that step's index).
    pub matched_by: Option<String>,
}

impl Webhook {
    /// The FDX notification inside a verified SET.
    pub fn notification(&self) -> Option<&Value> {
        self.verdict.as_ref().ok().map(|claims| &claims["events"][EVENT_TYPE])
    }
}

struct Shared {
    issuer: String,
    http: reqwest::Client,
    started: Instant,
    /// The gateway's JWKS as last fetched.
    jwks: tokio::sync::Mutex<Option<Value>>,
    /// App name -> its client_id (the `aud` its SETs must carry).
    audiences: Mutex<BTreeMap<String, String>>,
    received: Mutex<Vec<Webhook>>,
    arrived: tokio::sync::Notify,
}

/// The running receiver; dropping it stops it.
pub struct Receiver {
    base: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").field("base", &self.base).finish_non_exhaustive()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// Listen on 127.0.0.1 (an ephemeral port). `http` must trust the gateway's certificate (for `/jwks`).
    pub async fn start(issuer: &str, http: reqwest::Client) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let base = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            issuer: issuer.trim_end_matches('/').to_owned(),
            http,
            started: Instant::now(),
            jwks: tokio::sync::Mutex::new(None),
            audiences: Mutex::new(BTreeMap::new()),
            received: Mutex::new(Vec::new()),
            arrived: tokio::sync::Notify::new(),
        });
        let app = Router::new()
            .route("/hooks/{app}", axum::routing::post(receive))
            .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "the scenario webhook receiver stopped");
            }
        });
        Ok(Self { base, shared, task })
    }

    /// The callback URL of `app`, after which SETs to it must carry `aud` = `client_id`.
    pub fn register(&self, app: &str, client_id: &str) -> String {
        lock(&self.shared.audiences).insert(app.to_owned(), client_id.to_owned());
        self.register_url(app)
    }

    /// The callback URL of `app` (whether or not it registered).
    pub fn register_url(&self, app: &str) -> String {
        format!("{}/hooks/{app}", self.base)
    }

    /// Whether `app` has a callback here.
    pub fn knows(&self, app: &str) -> bool {
        lock(&self.shared.audiences).contains_key(app)
    }

    /// Everything received so far, in arrival order.
    pub fn received(&self) -> Vec<Webhook> {
        lock(&self.shared.received).clone()
    }

    /// Mark webhook `index` as matched by step `step`.
    pub fn mark(&self, index: usize, step: &str) {
        if let Some(webhook) = lock(&self.shared.received).get_mut(index) {
            webhook.matched_by = Some(step.to_owned());
        }
    }

    /// Wait until something new may have arrived, at most until `deadline`.
    pub async fn changed(&self, deadline: tokio::time::Instant) {
        // Bounded wait on a condition: woken by an arrival, and re-checked every 50 ms in case the wake-up came
        // between the caller's check and this call.
        let bound = deadline.min(tokio::time::Instant::now() + std::time::Duration::from_millis(50));
        let _ = tokio::time::timeout_at(bound, self.shared.arrived.notified()).await;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `POST /hooks/{app}`: RFC 8935 §2 push of one SET.
async fn receive(
    State(shared): State<Arc<Shared>>,
    Path(app): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(audience) = lock(&shared.audiences).get(&app).cloned() else {
        return (StatusCode::NOT_FOUND, axum::Json(json!({"err": "invalid_request", "description": "no such hook"})))
            .into_response();
    };
    let verdict = verify(&shared, &audience, &headers, &body).await;
    let answer = match &verdict {
        Ok(_) => StatusCode::ACCEPTED.into_response(),
        // RFC 8935 §2.3: the error codes of §2.4 (`invalid_request`, `invalid_key`, ...).
        Err((code, description)) => {
            (StatusCode::BAD_REQUEST, axum::Json(json!({"err": code, "description": description}))).into_response()
        }
    };
    let webhook = Webhook {
        app,
        after_ms: shared.started.elapsed().as_millis() as u64,
        verdict: verdict.map_err(|(_, d)| d),
        matched_by: None,
    };
    lock(&shared.received).push(webhook);
    shared.arrived.notify_waiters();
    answer
}

type Refusal = (&'static str, String);

fn refuse<T>(code: &'static str, description: impl Into<String>) -> Result<T, Refusal> {
    Err((code, description.into()))
}

/// Verify one pushed SET for the app whose client_id is `audience`: its claims.
async fn verify(shared: &Shared, audience: &str, headers: &HeaderMap, body: &[u8]) -> Result<Value, Refusal> {
    // RFC 8935 §2: the SET is sent as `application/secevent+jwt`.
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if content_type.split(';').next().map(str::trim) != Some("application/secevent+jwt") {
        return refuse("invalid_request", format!("Content-Type is `{content_type}`, not application/secevent+jwt"));
    }
    let text = std::str::from_utf8(body).map_err(|_| ("invalid_request", "the body is not text".to_owned()))?.trim();
    let parts: Vec<&str> = text.split('.').collect();
    let [head, payload, signature] = parts.as_slice() else {
        return refuse("invalid_request", "not a compact JWS (RFC 7515 §7.1)");
    };
    let decode = |part: &str, what: &str| -> Result<Vec<u8>, Refusal> {
        URL_SAFE_NO_PAD.decode(part).map_err(|_| ("invalid_request", format!("the JWS {what} is not base64url")))
    };
    let header: Value = serde_json::from_slice(&decode(head, "header")?)
        .map_err(|_| ("invalid_request", "the JWS header is not JSON".to_owned()))?;
    if header["alg"] != "ES256" {
        return refuse("invalid_request", format!("alg is {}, not ES256 (RFC 7518 §3.4)", header["alg"]));
    }
    if header["typ"] != "secevent+jwt" {
        return refuse("invalid_request", format!("typ is {}, not secevent+jwt (RFC 8417 §2.3)", header["typ"]));
    }
    let kid = header["kid"].as_str().ok_or(("invalid_key", "the JWS header names no kid".to_owned()))?;
    let key = key_for(shared, kid).await?;
    if key["kty"] != "EC" || key["crv"] != "P-256" {
        return refuse("invalid_key", format!("the gateway's key {kid} is not a P-256 EC key"));
    }
    let mut point = vec![0x04];
    for coordinate in ["x", "y"] {
        let text = key[coordinate].as_str().unwrap_or_default();
        point
            .extend(URL_SAFE_NO_PAD.decode(text).map_err(|_| ("invalid_key", format!("JWKS key {kid} is malformed")))?);
    }
    let input = format!("{head}.{payload}");
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
        .verify(input.as_bytes(), &decode(signature, "signature")?)
        .map_err(|_| ("invalid_key", format!("the signature does not verify with the gateway's key {kid}")))?;
    let claims: Value = serde_json::from_slice(&decode(payload, "payload")?)
        .map_err(|_| ("invalid_request", "the SET claims are not JSON".to_owned()))?;
    // RFC 8417 §2.2: iss, aud, jti, events.
    if claims["iss"] != shared.issuer.as_str() {
        return refuse("invalid_issuer", format!("iss is {}, not the gateway's issuer", claims["iss"]));
    }
    let audience_ok = match &claims["aud"] {
        Value::String(aud) => aud == audience,
        Value::Array(list) => list.iter().any(|a| a == audience),
        _ => false,
    };
    if !audience_ok {
        return refuse("invalid_audience", format!("aud is {}, not this app's client_id {audience}", claims["aud"]));
    }
    let events = claims["events"].as_object().map(|e| e.len()).unwrap_or_default();
    let notification = &claims["events"][EVENT_TYPE];
    if events != 1 || !notification.is_object() {
        return refuse("invalid_request", format!("events must hold exactly one member, {EVENT_TYPE}"));
    }
    if claims["jti"].is_null() || claims["jti"] != notification["notificationId"] {
        return refuse("invalid_request", "jti is not the notification's notificationId");
    }
    Ok(claims)
}

/// The JWKS key `kid`, fetching the gateway's `/jwks` when it is not known yet (once per unknown kid).
async fn key_for(shared: &Shared, kid: &str) -> Result<Value, Refusal> {
    let mut cached = shared.jwks.lock().await;
    let find = |jwks: &Option<Value>| -> Option<Value> {
        jwks.as_ref()?["keys"].as_array()?.iter().find(|k| k["kid"] == kid).cloned()
    };
    if let Some(key) = find(&cached) {
        return Ok(key);
    }
    let url = format!("{}/jwks", shared.issuer);
    let fetched: Value = async { shared.http.get(&url).send().await?.error_for_status()?.json().await }
        .await
        .map_err(|e: reqwest::Error| ("invalid_key", format!("cannot read the gateway's JWKS: {e}")))?;
    *cached = Some(fetched);
    find(&cached).ok_or(("invalid_key", format!("the gateway's JWKS has no key {kid}")))
}

/// One line about a received webhook: `RISK/FRAUD about ACCOUNT acc-1 (SUSPECTED_FRAUD)`, or why it was refused.
pub fn describe(webhook: &Webhook) -> String {
    let Some(n) = webhook.notification() else {
        return format!("a webhook that did not verify: {}", webhook.verdict.as_ref().err().map_or("", |e| e));
    };
    let text = |v: &Value| v.as_str().unwrap_or("?").to_owned();
    let payload = &n["notificationPayload"];
    let mut line = format!("{}/{}", text(&n["type"]), text(&n["category"]));
    if payload["id"].is_string() {
        line.push_str(&format!(" about {} {}", text(&payload["idType"]), text(&payload["id"])));
    }
    if let Some(reason) = payload["customFields"]["name"].as_str() {
        line.push_str(&format!(" ({reason})"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::keys::AppKey;

    const ISSUER: &str = "https://gateway.test";

    fn set(key: &AppKey, typ: &str, aud: &str) -> String {
        let notification = json!({
            "notificationId": "n-1", "type": "RISK", "category": "FRAUD",
            "notificationPayload": {"id": "acc-1", "idType": "ACCOUNT", "customFields": {"name": "SUSPECTED_FRAUD"}},
        });
        let header = json!({"alg": "ES256", "typ": typ, "kid": "k1"});
        let claims = json!({"iss": ISSUER, "aud": aud, "iat": 1, "jti": "n-1", "events": {EVENT_TYPE: notification}});
        key.sign(&header, &claims).expect("signs")
    }

    #[tokio::test]
    async fn verifies_sets_and_refuses_what_an_app_must_refuse() {
        let key = AppKey::generate().expect("a key");
        let mut jwk = key.public_jwk();
        jwk["kid"] = json!("k1");
        let receiver = Receiver::start(ISSUER, reqwest::Client::new()).await.expect("listens");
        *receiver.shared.jwks.lock().await = Some(json!({"keys": [jwk]}));
        let url = receiver.register("app", "client-1");
        let http = reqwest::Client::new();
        let push = |body: String, content_type: &'static str| {
            http.post(&url).header("content-type", content_type).body(body).send()
        };
        let good = push(set(&key, "secevent+jwt", "client-1"), "application/secevent+jwt").await.expect("answers");
        assert_eq!(good.status(), 202, "RFC 8935 §2.2");
        let other_app = push(set(&key, "secevent+jwt", "client-2"), "application/secevent+jwt").await.expect("answers");
        assert_eq!(other_app.status(), 400);
        let body: Value = other_app.json().await.expect("RFC 8935 §2.3 error body");
        assert_eq!(body["err"], "invalid_audience");
        let wrong_typ = push(set(&key, "JWT", "client-1"), "application/secevent+jwt").await.expect("answers");
        assert_eq!(wrong_typ.status(), 400);
        let wrong_type = push(set(&key, "secevent+jwt", "client-1"), "application/json").await.expect("answers");
        assert_eq!(wrong_type.status(), 400);
        let thief = AppKey::generate().expect("a key");
        let forged = push(set(&thief, "secevent+jwt", "client-1"), "application/secevent+jwt").await.expect("answers");
        assert_eq!(forged.status(), 400, "signed by another key than the gateway's k1");

        let received = receiver.received();
        assert_eq!(received.len(), 5);
        assert_eq!(describe(&received[0]), "RISK/FRAUD about ACCOUNT acc-1 (SUSPECTED_FRAUD)");
        let refusals: Vec<String> = received[1..].iter().map(describe).collect();
        assert!(refusals[0].contains("aud is \"client-2\""), "{refusals:?}");
        assert!(refusals[1].contains("typ is \"JWT\""), "{refusals:?}");
        assert!(refusals[2].contains("Content-Type"), "{refusals:?}");
        assert!(refusals[3].contains("signature does not verify"), "{refusals:?}");
        let unknown = http.post(receiver.register_url("nobody")).body("x").send().await.expect("answers");
        assert_eq!(unknown.status(), 404);
    }
}
