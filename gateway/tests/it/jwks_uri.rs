//! Clients registered with an RFC 7591 `jwks_uri` instead of an inline `jwks`: the gateway fetches the key set
//! over HTTPS (trusting its configured CA) when the client authenticates with `private_key_jwt` (RFC 7523), caches
//! it, picks up key rotation on an unknown `kid` (at most one early refetch per 30 s), and turns a URI that hangs,
//! answers too much or redirects into `invalid_client`, never a hang or a 500. The key set is served by a real
//! tokio HTTPS server on 127.0.0.1; the gateway's router is driven with `oneshot`, its clock moved by hand.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gateway::app::{AppState, router};
use gateway::config::{GatewayConfig, ManualClock};
use gateway::oauth::client_auth::JWT_BEARER_ASSERTION_TYPE;
use gateway::oauth::jwks_fetch::JwksFetcher;
use gateway::server::build_state;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

const ISSUER: &str = "https://gateway.bankgate.test";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A client's P-256 key with a `kid`, signing assertions by hand.
struct ClientKey {
    pair: EcdsaKeyPair,
    kid: &'static str,
}

impl ClientKey {
    fn new(kid: &'static str) -> Self {
        Self { pair: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("P-256 key"), kid }
    }

    fn public_jwk(&self) -> Value {
        let p = self.pair.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "kid": self.kid, "x": b64(&p[1..33]), "y": b64(&p[33..65])})
    }

    fn assertion(&self, client_id: &str, now: OffsetDateTime, jti: &str) -> String {
        let t = now.unix_timestamp();
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let claims = json!({"iss": client_id, "sub": client_id, "aud": ISSUER, "iat": t, "exp": t + 60, "jti": jti});
        let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
        let sig = self.pair.sign(&SystemRandom::new(), input.as_bytes()).expect("sign");
        format!("{input}.{}", b64(sig.as_ref()))
    }
}

/// An HTTPS server on 127.0.0.1 serving `/jwks` (replaceable, fetches counted), `/big` (100 KiB) and `/moved`
/// (a redirect to `/jwks`), plus a second port that accepts TCP and never answers.
struct KeySetServer {
    base: String,
    hanging: String,
    jwks: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
    stop: watch::Sender<bool>,
}

impl KeySetServer {
    async fn start(pki: &certs::Pki) -> Self {
        let jwks = Arc::new(Mutex::new(json!({"keys": []})));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (served, counted) = (jwks.clone(), fetches.clone());
        let app = axum::Router::new()
            .route(
                "/jwks",
                get(move || {
                    let (served, counted) = (served.clone(), counted.clone());
                    async move {
                        counted.fetch_add(1, Ordering::SeqCst);
                        let body = served.lock().expect("lock").clone();
                        axum::Json(body)
                    }
                }),
            )
            .route("/big", get(|| async { format!("{{\"keys\": [], \"padding\": \"{}\"}}", "x".repeat(100 * 1024)) }))
            .route("/moved", get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/jwks")]) }));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("https://127.0.0.1:{}", listener.local_addr().expect("addr").port());
        let identity = pki.issue_server("jwks-host").expect("server cert");
        let tls = certs::server_config(&identity, &pki.ca_der(), certs::ClientAuth::None).expect("tls");
        let (stop, mut stopped) = watch::channel(false);
        tokio::spawn(certs::serve::serve_tls(listener, tls, app, async move {
            let _ = stopped.wait_for(|s| *s).await;
        }));

        // Accepts connections and keeps them open without a TLS handshake: a fetch can only time out.
        let silent = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let hanging = format!("https://127.0.0.1:{}/jwks", silent.local_addr().expect("addr").port());
        let mut stop_silent = stop.subscribe();
        tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                tokio::select! {
                    _ = stop_silent.changed() => break,
                    Ok((socket, _)) = silent.accept() => held.push(socket),
                }
            }
        });
        Self { base, hanging, jwks, fetches, stop }
    }

    fn serve(&self, keys: &[&ClientKey]) {
        *self.jwks.lock().expect("lock") = json!({"keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>()});
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

struct Gateway {
    state: AppState,
    clock: Arc<ManualClock>,
}

impl Gateway {
    async fn new(pki: &certs::Pki) -> Self {
        let clock = Arc::new(ManualClock::new(OffsetDateTime::from_unix_timestamp(1_780_272_000).expect("instant")));
        let config = GatewayConfig::sandbox(([127, 0, 0, 1], 0).into());
        let state = build_state(config, ISSUER.into(), clock.clone()).await.expect("state");
        // A short timeout keeps the "hanging URI" test quick; the production bound is 5 s.
        let fetcher = JwksFetcher::with_timeout(&pki.ca_der(), StdDuration::from_secs(1)).expect("fetcher");
        Self { state: state.with_jwks_fetcher(fetcher), clock }
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = router(self.state.clone()).oneshot(request).await.expect("infallible");
        let status = response.status();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn register(&self, metadata: &Value) -> (StatusCode, Value) {
        let request = Request::post("/register")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(metadata.to_string()))
            .expect("request");
        self.send(request).await
    }

    async fn register_uri(&self, uri: &str) -> String {
        let (status, body) = self.register(&metadata(json!({"jwks_uri": uri}))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["jwks_uri"], uri);
        body["client_id"].as_str().expect("client_id").to_owned()
    }

    /// Authenticates at the introspection endpoint (200 `active: false` for an unknown token once the client is
    /// authenticated; 401 `invalid_client` otherwise).
    async fn authenticate(&self, client_id: &str, key: &ClientKey, jti: &str) -> (StatusCode, Value) {
        let assertion = key.assertion(client_id, self.clock_now(), jti);
        let form = format!(
            "token=unknown&client_assertion_type={}&client_assertion={assertion}",
            JWT_BEARER_ASSERTION_TYPE.replace(':', "%3A")
        );
        let request = Request::post("/introspect")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .expect("request");
        self.send(request).await
    }

    fn clock_now(&self) -> OffsetDateTime {
        self.state.now()
    }
}

fn metadata(extra: Value) -> Value {
    let mut m = json!({
        "client_name": "Rotating App",
        "redirect_uris": ["https://rotating.example/cb"],
        "token_endpoint_auth_method": "private_key_jwt",
        "purposes": ["fraud_alerts"],
    });
    for (k, v) in extra.as_object().expect("object") {
        m[k] = v.clone();
    }
    m
}

fn assert_invalid_client(result: &(StatusCode, Value), containing: &str) {
    let (status, body) = result;
    assert_eq!((*status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "{body}");
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(description.contains(containing), "expected {containing:?} in {description:?}");
}

#[tokio::test]
async fn a_jwks_uri_client_authenticates_and_key_rotation_is_picked_up_on_an_unknown_kid() {
    certs::install_crypto_provider();
    let pki = certs::Pki::generate().expect("pki");
    let server = KeySetServer::start(&pki).await;
    let gw = Gateway::new(&pki).await;
    let (k1, k2, k3) = (ClientKey::new("k1"), ClientKey::new("k2"), ClientKey::new("k3"));
    server.serve(&[&k1]);
    let client_id = gw.register_uri(&format!("{}/jwks", server.base)).await;
    assert_eq!(server.fetches(), 0, "registration makes no outbound call");

    let ok = gw.authenticate(&client_id, &k1, "a1").await;
    assert_eq!(ok, (StatusCode::OK, json!({"active": false})));
    assert_eq!(gw.authenticate(&client_id, &k1, "a2").await.0, StatusCode::OK);
    assert_eq!(server.fetches(), 1, "the key set is cached");

    // Rotation: the URI now serves k2 only; an assertion naming k2 triggers one refetch (30 s after the last).
    server.serve(&[&k2]);
    assert_invalid_client(&gw.authenticate(&client_id, &k2, "a3-early").await, "kid");
    assert_eq!(server.fetches(), 1, "no refetch within 30 s of the first fetch");
    gw.clock.advance(Duration::seconds(30));
    assert_eq!(gw.authenticate(&client_id, &k2, "a3").await.0, StatusCode::OK);
    assert_eq!(server.fetches(), 2);
    assert_invalid_client(&gw.authenticate(&client_id, &k1, "a4").await, "kid");

    // A second rotation within 30 s is not fetched (rate limit), then is after the clock moves past it.
    server.serve(&[&k3]);
    assert_invalid_client(&gw.authenticate(&client_id, &k3, "a5").await, "kid");
    assert_eq!(server.fetches(), 2, "at most one early refetch per 30 s");
    gw.clock.advance(Duration::seconds(31));
    assert_eq!(gw.authenticate(&client_id, &k3, "a6").await.0, StatusCode::OK);
    assert_eq!(server.fetches(), 3);

    // The cache lives 5 minutes: after that the set is fetched again even for a known kid.
    gw.clock.advance(Duration::minutes(4));
    assert_eq!(gw.authenticate(&client_id, &k3, "a7").await.0, StatusCode::OK);
    assert_eq!(server.fetches(), 3, "still cached after 4 minutes");
    gw.clock.advance(Duration::seconds(61));
    assert_eq!(gw.authenticate(&client_id, &k3, "a8").await.0, StatusCode::OK);
    assert_eq!(server.fetches(), 4, "refetched once the 5-minute TTL passed");

    // A replayed assertion is still refused with a fetched key set.
    let replay = gw.authenticate(&client_id, &k3, "a8").await;
    assert_invalid_client(&replay, "jti");
    let _ = server.stop.send(true);
}

#[tokio::test]
async fn jwks_uri_registration_rules() {
    certs::install_crypto_provider();
    let pki = certs::Pki::generate().expect("pki");
    let gw = Gateway::new(&pki).await;
    let key = ClientKey::new("k1");
    let cases = [
        ("both", json!({"jwks_uri": "https://keys.example/jwks", "jwks": {"keys": [key.public_jwk()]}})),
        ("plain http", json!({"jwks_uri": "http://keys.example/jwks"})),
        ("not a URL", json!({"jwks_uri": "keys"})),
        ("not a string", json!({"jwks_uri": 7})),
        ("neither", json!({})),
    ];
    for (name, extra) in cases {
        let (status, body) = gw.register(&metadata(extra)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_client_metadata")),
            "{name}"
        );
    }
    assert!(gw.state.store.list_clients().await.expect("store").is_empty());
}

#[tokio::test]
async fn a_jwks_uri_that_hangs_is_too_large_or_redirects_gives_invalid_client_quickly() {
    certs::install_crypto_provider();
    let pki = certs::Pki::generate().expect("pki");
    let server = KeySetServer::start(&pki).await;
    let gw = Gateway::new(&pki).await;
    let key = ClientKey::new("k1");
    server.serve(&[&key]);

    let hanging = gw.register_uri(&server.hanging).await;
    let started = Instant::now();
    assert_invalid_client(&gw.authenticate(&hanging, &key, "h1").await, "timed out");
    assert!(started.elapsed() < StdDuration::from_secs(4), "bounded by the fetch timeout: {:?}", started.elapsed());
    // A failure is remembered: the next attempt within 30 s does not call out again (and answers at once).
    let started = Instant::now();
    assert_invalid_client(&gw.authenticate(&hanging, &key, "h2").await, "failed recently");
    assert!(started.elapsed() < StdDuration::from_millis(500));

    let big = gw.register_uri(&format!("{}/big", server.base)).await;
    assert_invalid_client(&gw.authenticate(&big, &key, "b1").await, "65536 bytes");

    let moved = gw.register_uri(&format!("{}/moved", server.base)).await;
    assert_invalid_client(&gw.authenticate(&moved, &key, "m1").await, "HTTP 302");
    assert_eq!(server.fetches(), 0, "the redirect was not followed");

    // A server whose certificate does not chain to the gateway's CA is refused too.
    let other = certs::Pki::generate().expect("other pki");
    let stranger = KeySetServer::start(&other).await;
    stranger.serve(&[&key]);
    let untrusted = gw.register_uri(&format!("{}/jwks", stranger.base)).await;
    assert_invalid_client(&gw.authenticate(&untrusted, &key, "u1").await, "could not be fetched");
    assert_eq!(stranger.fetches(), 0);
    let _ = (server.stop.send(true), stranger.stop.send(true));
}
