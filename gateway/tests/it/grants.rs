//! The token endpoint's `authorization_code` and `refresh_token` grants, OpenID Grant Management and the FDX
//! consent API, driven through the router with `oneshot`. Consents and codes are written straight into the store,
//! standing in for the consent pages; time only moves by advancing the `ManualClock`.

use std::sync::Arc;

use crate::support::{Key, b64};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use certs::serve::PeerCertificates;
use gateway::app::{AppState, router};
use gateway::config::{GatewayConfig, ManualClock};
use gateway::consent::{Authorization, Consent, ConsentRequest, ConsentStatus, ConsentSubject};
use gateway::oauth::access_token::{self, Confirmation};
use gateway::oauth::client_auth::{JWT_BEARER_ASSERTION_TYPE, certificate_thumbprint_s256};
use gateway::oauth::dpop::access_token_hash;
use gateway::server::build_state;
use gateway::store::{CodeRecord, TokenHash};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use tower::ServiceExt;

const ISSUER: &str = "https://gateway.bankgate.test";
const REDIRECT: &str = "https://budget.example/callback";
const VERIFIER: &str = "grants-test-pkce-verifier-0123456789-abcdefghijklmnop";

fn random() -> String {
    access_token::new_jti().expect("rng")
}

fn challenge_of(verifier: &str) -> String {
    b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref())
}

/// How a test client authenticates: private_key_jwt, or tls_client_auth with its certificate.
enum Client {
    Jwt { id: String, key: Key },
    Tls { id: String, cert: certs::Identity },
}

impl Client {
    fn id(&self) -> &str {
        match self {
            Self::Jwt { id, .. } | Self::Tls { id, .. } => id,
        }
    }

    fn cert(&self) -> Option<&certs::Identity> {
        match self {
            Self::Tls { cert, .. } => Some(cert),
            Self::Jwt { .. } => None,
        }
    }
}

struct Gw {
    state: AppState,
    clock: Arc<ManualClock>,
}

struct Reply {
    status: StatusCode,
    body: Value,
}

impl Reply {
    fn error(&self) -> (StatusCode, Option<&str>) {
        (self.status, self.body["error"].as_str())
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Gw {
    async fn new() -> Self {
        let clock = Arc::new(ManualClock::new(OffsetDateTime::from_unix_timestamp(1_780_272_000).expect("instant")));
        let config = GatewayConfig::sandbox(([127, 0, 0, 1], 0).into());
        let state = build_state(config, ISSUER.into(), clock.clone()).await.expect("state");
        Self { state, clock }
    }

    fn now(&self) -> OffsetDateTime {
        self.state.now()
    }

    async fn send(&self, request: Request<Body>, cert: Option<&certs::Identity>) -> Reply {
        let mut request = request;
        if let Some(identity) = cert {
            request.extensions_mut().insert(PeerCertificates::new(vec![identity.cert_der()]));
        }
        let response = router(self.state.clone()).oneshot(request).await.expect("infallible");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("JSON body") };
        Reply { status: parts.status, body }
    }

    async fn register(&self, metadata: Value) -> String {
        let request = Request::post("/register")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(metadata.to_string()))
            .expect("request");
        let reply = self.send(request, None).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["client_id"].as_str().expect("client_id").to_owned()
    }

    async fn jwt_client(&self) -> Client {
        let key = Key::new();
        let mut jwk = key.public_jwk();
        jwk["kid"] = json!("k1");
        let id = self
            .register(json!({
                "client_name": "Budget App",
                "redirect_uris": [REDIRECT],
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks": {"keys": [jwk]},
                "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
                "purposes": ["fraud_alerts"],
            }))
            .await;
        Client::Jwt { id, key }
    }

    async fn tls_client(&self, pki: &certs::Pki, name: &str) -> Client {
        let cert = pki.issue_client(name).expect("client cert");
        let id = self
            .register(json!({
                "client_name": "Saver",
                "redirect_uris": [REDIRECT],
                "token_endpoint_auth_method": "tls_client_auth",
                "tls_client_auth_san_uri": certs::client_uri(name),
                "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
                "purposes": ["fraud_alerts"],
            }))
            .await;
        Client::Tls { id, cert }
    }

    fn dpop(&self, key: &Key, method: &str, path: &str, token: Option<&str>) -> String {
        let mut claims = json!({"jti": random(), "htm": method, "htu": format!("{ISSUER}{path}"), "iat": self.now().unix_timestamp()});
        if let Some(token) = token {
            claims["ath"] = json!(access_token_hash(token));
        }
        key.sign(&json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk()}), &claims)
    }

    /// A form POST authenticated as `client` (assertion or certificate), with optional `DPoP` proof.
    async fn post(&self, client: &Client, path: &str, params: &[(&str, &str)], dpop: Option<String>) -> Reply {
        let mut all: Vec<(String, String)> = params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        all.push(("client_id".into(), client.id().to_owned()));
        if let Client::Jwt { id, key } = client {
            let t = self.now().unix_timestamp();
            let assertion = key.sign(
                &json!({"alg": "ES256", "typ": "JWT"}),
                &json!({"iss": id, "sub": id, "aud": ISSUER, "iat": t, "exp": t + 60, "jti": random()}),
            );
            all.push(("client_assertion_type".into(), JWT_BEARER_ASSERTION_TYPE.into()));
            all.push(("client_assertion".into(), assertion));
        }
        let body = all.iter().map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v))).collect::<Vec<_>>().join("&");
        let mut request = Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(proof) = dpop {
            request = request.header("dpop", proof);
        }
        self.send(request.body(Body::from(body)).expect("request"), client.cert()).await
    }

    /// Stores an AUTHORIZED consent of `client_id` (authorized `authorized_ago` before now) and an authorization
    /// code for it; returns the code.
    async fn seed(
        &self,
        client_id: &str,
        consent_id: &str,
        details: Value,
        authorized_ago: Duration,
        dpop_jkt: Option<String>,
    ) -> String {
        let request = ConsentRequest::from_authorization_details(&details.to_string()).expect("consent request");
        let now = self.now();
        let mut consent = Consent::new(consent_id.into(), client_id.into(), request, now - authorized_ago);
        self.state.store.insert_consent(&consent).await.expect("insert consent");
        let decision = Authorization {
            subject: ConsentSubject { person: "user_good".into(), bank: "first-national".into() },
            accounts: vec!["acc-1".into()],
            secondary_use_opt_in: false,
        };
        consent.authorize(decision, now - authorized_ago).expect("authorize");
        assert!(self.state.store.update_consent(&consent, ConsentStatus::Pending).await.expect("update"));
        self.code(client_id, consent_id, dpop_jkt).await
    }

    async fn code(&self, client_id: &str, consent_id: &str, dpop_jkt: Option<String>) -> String {
        let code = random();
        let record = CodeRecord {
            code_hash: TokenHash::of(&code),
            client_id: client_id.into(),
            consent_id: consent_id.into(),
            pkce_challenge: challenge_of(VERIFIER),
            redirect_uri: REDIRECT.into(),
            dpop_jkt,
            expires_at: self.now() + self.state.config.code_lifetime,
            used_at: None,
        };
        self.state.store.insert_code(&record).await.expect("insert code");
        code
    }

    async fn exchange(&self, client: &Client, code: &str, verifier: Option<&str>, dpop: Option<String>) -> Reply {
        let mut params = vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT)];
        if let Some(v) = verifier {
            params.push(("code_verifier", v));
        }
        self.post(client, "/token", &params, dpop).await
    }

    async fn is_active(&self, client: &Client, token: &str) -> bool {
        let reply = self.post(client, "/introspect", &[("token", token)], None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["active"] == true
    }

    /// A client_credentials token of an mTLS client for `scope`.
    async fn management_token(&self, client: &Client, scope: &str) -> String {
        let reply = self.post(client, "/token", &[("grant_type", "client_credentials"), ("scope", scope)], None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["access_token"].as_str().expect("token").to_owned()
    }

    /// A management API call with a certificate-bound bearer token.
    async fn manage(
        &self,
        client: &Client,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(v) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).expect("request"), client.cert()).await
    }
}

fn time_bound() -> Value {
    json!([{"type": "fdx_consent", "dataClusters": ["ACCOUNT_BASIC", "TRANSACTIONS", "CUSTOMER_CONTACT"],
            "durationType": "TIME_BOUND", "durationPeriod": 90, "lookbackPeriod": 365, "purposes": ["fraud_alerts"]}])
}

fn one_time() -> Value {
    json!([{"type": "fdx_consent", "dataClusters": ["ACCOUNT_BASIC"], "durationType": "ONE_TIME",
            "lookbackPeriod": 30, "purposes": ["fraud_alerts"]}])
}

fn str_of<'a>(body: &'a Value, field: &str) -> &'a str {
    body[field].as_str().unwrap_or_else(|| panic!("{field} missing in {body}"))
}

// ---------------------------------------------------------------------------------------------------------------
// authorization_code and refresh_token

#[tokio::test]
async fn code_exchange_with_dpop_gives_bound_tokens_and_refresh_needs_the_same_key() {
    let gw = Gw::new().await;
    let client = gw.jwt_client().await;
    let Client::Jwt { key, .. } = &client else { unreachable!() };
    let code = gw.seed(client.id(), "consent-dpop", time_bound(), Duration::ZERO, Some(key.thumbprint())).await;

    let reply = gw.exchange(&client, &code, Some(VERIFIER), Some(gw.dpop(key, "POST", "/token", None))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let body = &reply.body;
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["grant_id"], "consent-dpop");
    assert_eq!(body["scope"], "fdx:accountbasic:read fdx:customercontact:read fdx:transactions:read");
    assert_eq!(body["authorization_details"][0]["type"], "fdx_consent");
    assert_eq!(body["authorization_details"][0]["accounts"], json!(["acc-1"]));
    let access = str_of(body, "access_token");
    let claims = access_token::verify(&gw.state.keys, access, ISSUER, ISSUER, gw.now()).expect("valid JWT");
    assert_eq!(claims.consent_id, "consent-dpop");
    assert_eq!(claims.sub, "user_good");
    assert_eq!(claims.cnf, Some(Confirmation::Jkt(key.thumbprint())));
    let refresh = str_of(body, "refresh_token").to_owned();

    // Refresh with the same DPoP key: a new access token, and no rotation (FAPI 2.0): the same refresh token works
    // again.
    gw.clock.advance(Duration::minutes(10));
    for _ in 0..2 {
        let proof = gw.dpop(key, "POST", "/token", None);
        let reply = gw
            .post(&client, "/token", &[("grant_type", "refresh_token"), ("refresh_token", &refresh)], Some(proof))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body["token_type"], "DPoP");
        assert!(reply.body.get("refresh_token").is_none(), "no rotation: {}", reply.body);
        assert_ne!(str_of(&reply.body, "access_token"), access);
        assert!(gw.is_active(&client, str_of(&reply.body, "access_token")).await);
    }

    // Another DPoP key, or no proof at all, cannot use the refresh token.
    let other = Key::new();
    let proof = gw.dpop(&other, "POST", "/token", None);
    let reply =
        gw.post(&client, "/token", &[("grant_type", "refresh_token"), ("refresh_token", &refresh)], Some(proof)).await;
    assert_eq!(reply.error(), (StatusCode::BAD_REQUEST, Some("invalid_dpop_proof")), "{}", reply.body);
    let reply = gw.post(&client, "/token", &[("grant_type", "refresh_token"), ("refresh_token", &refresh)], None).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    let reply =
        gw.post(&client, "/token", &[("grant_type", "refresh_token"), ("refresh_token", "made-up")], None).await;
    assert_eq!(reply.error(), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
}

#[tokio::test]
async fn code_exchange_with_mtls_gives_a_certificate_bound_token_capped_at_the_consent_expiry() {
    let pki = certs::Pki::generate().expect("pki");
    let gw = Gw::new().await;
    let client = gw.tls_client(&pki, "tpp-saver").await;
    // A ONE_TIME consent lasts an hour after authorization; authorized 58 minutes ago, two minutes remain.
    let code = gw.seed(client.id(), "consent-once", one_time(), Duration::minutes(58), None).await;
    let reply = gw.exchange(&client, &code, Some(VERIFIER), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(reply.body["expires_in"], 120, "never beyond the consent's expiry");
    assert!(reply.body.get("refresh_token").is_none(), "no refresh token for a ONE_TIME consent");
    let access = str_of(&reply.body, "access_token");
    let claims = access_token::verify(&gw.state.keys, access, ISSUER, ISSUER, gw.now()).expect("valid JWT");
    let cert = client.cert().expect("cert");
    assert_eq!(claims.cnf, Some(Confirmation::X5tS256(certificate_thumbprint_s256(&cert.cert_der()))));
    assert_eq!(claims.exp, (gw.now() + Duration::minutes(2)).unix_timestamp());
}

#[tokio::test]
async fn pkce_missing_plain_or_wrong_verifier_and_a_wrong_redirect_uri_are_invalid_grant() {
    let pki = certs::Pki::generate().expect("pki");
    let gw = Gw::new().await;
    let client = gw.tls_client(&pki, "tpp-pkce").await;
    gw.seed(client.id(), "consent-pkce", time_bound(), Duration::ZERO, None).await;
    let plain = challenge_of(VERIFIER); // what a "plain" client would send: the challenge itself
    let wrong = "another-verifier-that-is-long-enough-to-be-well-formed-0123";
    for verifier in [None, Some(plain.as_str()), Some(wrong), Some("short")] {
        let code = gw.code(client.id(), "consent-pkce", None).await;
        let reply = gw.exchange(&client, &code, verifier, None).await;
        assert_eq!(reply.error(), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{verifier:?}: {}", reply.body);
    }
    let code = gw.code(client.id(), "consent-pkce", None).await;
    let params = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "https://budget.example/other"),
        ("code_verifier", VERIFIER),
    ];
    let reply = gw.post(&client, "/token", &params, None).await;
    assert_eq!(reply.error(), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{}", reply.body);
}

#[tokio::test]
async fn a_reused_code_is_refused_and_the_tokens_from_its_first_use_stop_working() {
    let pki = certs::Pki::generate().expect("pki");
    let gw = Gw::new().await;
    let client = gw.tls_client(&pki, "tpp-reuse").await;
    let code = gw.seed(client.id(), "consent-reuse", time_bound(), Duration::ZERO, None).await;
    let first = gw.exchange(&client, &code, Some(VERIFIER), None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let access = str_of(&first.body, "access_token");
    let refresh = str_of(&first.body, "refresh_token");
    assert!(gw.is_active(&client, access).await);
    assert!(gw.is_active(&client, refresh).await);

    let again = gw.exchange(&client, &code, Some(VERIFIER), None).await;
    assert_eq!(again.error(), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{}", again.body);
    assert!(!gw.is_active(&client, access).await, "access token from the replayed code is revoked");
    assert!(!gw.is_active(&client, refresh).await, "refresh token from the replayed code is revoked");
    let reply = gw.post(&client, "/token", &[("grant_type", "refresh_token"), ("refresh_token", refresh)], None).await;
    assert_eq!(reply.error(), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
}

#[tokio::test]
async fn an_expired_code_and_a_code_of_another_client_are_invalid_grant() {
    let pki = certs::Pki::generate().expect("pki");
    let gw = Gw::new().await;
    let owner = gw.tls_client(&pki, "tpp-owner").await;
    let thief = gw.tls_client(&pki, "tpp-thief").await;
    let code = gw.seed(owner.id(), "consent-owned", time_bound(), Duration::ZERO, None).await;

    let reply = gw.exchange(&thief, &code, Some(VERIFIER), None).await;
    assert_eq!(reply.error(), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{}", reply.body);
    // The attempt of another client does not consume the code of its owner.
    let reply = gw.exchange(&owner, &code, Some(VERIFIER), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    let late = gw.code(owner.id(), "consent-owned", None).await;
    gw.clock.advance(gw.state.config.code_lifetime + Duration::seconds(1));
    let reply = gw.exchange(&owner, &late, Some(VERIFIER), None).await;
    assert_eq!(reply.error(), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{}", reply.body);
}

#[tokio::test]
async fn a_fapi2_client_needs_a_binding_and_the_dpop_key_named_at_par() {
    let gw = Gw::new().await;
    let client = gw.jwt_client().await;
    let Client::Jwt { key, .. } = &client else { unreachable!() };
    gw.seed(client.id(), "consent-bind", time_bound(), Duration::ZERO, None).await;

    // Neither DPoP nor a certificate: no bearer token for a fapi2 client.
    let code = gw.code(client.id(), "consent-bind", None).await;
    let reply = gw.exchange(&client, &code, Some(VERIFIER), None).await;
    assert_eq!(reply.error(), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{}", reply.body);

    // PAR named this key's thumbprint as dpop_jkt; a proof by another key is refused (RFC 9449 §10).
    let code = gw.code(client.id(), "consent-bind", Some(key.thumbprint())).await;
    let other = Key::new();
    let reply = gw.exchange(&client, &code, Some(VERIFIER), Some(gw.dpop(&other, "POST", "/token", None))).await;
    assert_eq!(reply.error(), (StatusCode::BAD_REQUEST, Some("invalid_dpop_proof")), "{}", reply.body);
}

// ---------------------------------------------------------------------------------------------------------------
// Grant Management and the FDX consent API

#[tokio::test]
async fn grant_management_queries_and_revokes_and_refresh_fails_afterwards() {
    let pki = certs::Pki::generate().expect("pki");
    let gw = Gw::new().await;
    let client = gw.tls_client(&pki, "tpp-grants").await;
    let stranger = gw.tls_client(&pki, "tpp-stranger").await;
    let code = gw.seed(client.id(), "grant-1", time_bound(), Duration::ZERO, None).await;
    let tokens = gw.exchange(&client, &code, Some(VERIFIER), None).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    let access = str_of(&tokens.body, "access_token");
    let refresh = str_of(&tokens.body, "refresh_token");

    let query = gw.management_token(&client, "grant_management_query").await;
    let reply = gw.manage(&client, "GET", "/grants/grant-1", Some(&query), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.body["scopes"][0]["scope"],
        "fdx:accountbasic:read fdx:customercontact:read fdx:transactions:read"
    );
    assert_eq!(reply.body["authorization_details"][0]["accounts"], json!(["acc-1"]));

    // No token, another client's grant, the wrong scope, or a token presented without its certificate.
    let reply = gw.manage(&client, "GET", "/grants/grant-1", None, None).await;
    assert_eq!(reply.error(), (StatusCode::UNAUTHORIZED, Some("invalid_token")));
    let stranger_token = gw.management_token(&stranger, "grant_management_query grant_management_revoke").await;
    let reply = gw.manage(&stranger, "GET", "/grants/grant-1", Some(&stranger_token), None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
    let reply = gw.manage(&stranger, "DELETE", "/grants/grant-1", Some(&stranger_token), None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
    let reply = gw.manage(&client, "DELETE", "/grants/grant-1", Some(&query), None).await;
    assert_eq!(reply.error(), (StatusCode::FORBIDDEN, Some("insufficient_scope")));
    let reply = gw.manage(&stranger, "GET", "/grants/grant-1", Some(&query), None).await;
    assert_eq!(reply.error(), (StatusCode::UNAUTHORIZED, Some("invalid_token")), "bound to the other certificate");
    assert!(gw.is_active(&client, access).await);

    let revoke = gw.management_token(&client, "grant_management_revoke").await;
    let reply = gw.manage(&client, "DELETE", "/grants/grant-1", Some(&revoke), None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    assert!(!gw.is_active(&client, access).await);
    assert!(!gw.is_active(&client, refresh).await);
    let reply = gw.post(&client, "/token", &[("grant_type", "refresh_token"), ("refresh_token", refresh)], None).await;
    assert_eq!(reply.error(), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let reply = gw.manage(&client, "GET", "/grants/grant-1", Some(&query), None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "a revoked grant is gone");
    let consent = gw.state.store.consent("grant-1").await.expect("store").expect("consent");
    assert_eq!(consent.status, ConsentStatus::Revoked);
    assert_eq!(consent.revocations[0].initiator, gateway::consent::Initiator::App);
}

#[tokio::test]
async fn grant_management_works_with_a_dpop_bound_management_token() {
    let gw = Gw::new().await;
    let client = gw.jwt_client().await;
    let Client::Jwt { key, .. } = &client else { unreachable!() };
    gw.seed(client.id(), "grant-dpop", time_bound(), Duration::ZERO, None).await;
    let proof = gw.dpop(key, "POST", "/token", None);
    let reply = gw
        .post(
            &client,
            "/token",
            &[("grant_type", "client_credentials"), ("scope", "grant_management_query")],
            Some(proof),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let token = str_of(&reply.body, "access_token").to_owned();
    let request = |proof: Option<String>, scheme: &str| {
        let mut r = Request::get("/grants/grant-dpop").header(header::AUTHORIZATION, format!("{scheme} {token}"));
        if let Some(p) = proof {
            r = r.header("dpop", p);
        }
        r.body(Body::empty()).expect("request")
    };
    let ok = gw.send(request(Some(gw.dpop(key, "GET", "/grants/grant-dpop", Some(&token))), "DPoP"), None).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["status"], "ACTIVE");
    let no_proof = gw.send(request(None, "DPoP"), None).await;
    assert_eq!(no_proof.error(), (StatusCode::UNAUTHORIZED, Some("invalid_token")));
    let as_bearer = gw.send(request(None, "Bearer"), None).await;
    assert_eq!(as_bearer.error(), (StatusCode::UNAUTHORIZED, Some("invalid_token")));
    let other_key = Key::new();
    let stolen =
        gw.send(request(Some(gw.dpop(&other_key, "GET", "/grants/grant-dpop", Some(&token))), "DPoP"), None).await;
    assert_eq!(stolen.error(), (StatusCode::UNAUTHORIZED, Some("invalid_token")));
    // RFC 9449 §11.1: a proof is single use (remembered in memory at protected endpoints).
    let proof = gw.dpop(key, "GET", "/grants/grant-dpop", Some(&token));
    assert_eq!(gw.send(request(Some(proof.clone()), "DPoP"), None).await.status, StatusCode::OK);
    let replayed = gw.send(request(Some(proof), "DPoP"), None).await;
    assert_eq!(replayed.error(), (StatusCode::UNAUTHORIZED, Some("invalid_token")));
    // A proof signed before the gateway started (within the 60 s iat window) is refused: a restart must not
    // reopen a replay window of a proof sent to the previous process.
    let mut claims = json!({"jti": random(), "htm": "GET", "htu": format!("{ISSUER}/grants/grant-dpop"),
                            "iat": (gw.state.started_at - Duration::seconds(30)).unix_timestamp()});
    claims["ath"] = json!(access_token_hash(&token));
    let old = key.sign(&json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk()}), &claims);
    let before_start = gw.send(request(Some(old), "DPoP"), None).await;
    assert_eq!(before_start.error(), (StatusCode::UNAUTHORIZED, Some("invalid_token")));
}

#[tokio::test]
async fn fdx_consent_api_shows_the_grant_revokes_it_and_keeps_the_history() {
    let pki = certs::Pki::generate().expect("pki");
    let gw = Gw::new().await;
    let client = gw.tls_client(&pki, "tpp-fdx").await;
    let code = gw.seed(client.id(), "fdx-consent-1", time_bound(), Duration::ZERO, None).await;
    let tokens = gw.exchange(&client, &code, Some(VERIFIER), None).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    let access = str_of(&tokens.body, "access_token");
    let token = gw.management_token(&client, "consent_management").await;

    let reply = gw.manage(&client, "GET", "/consents/fdx-consent-1", Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let grant = &reply.body;
    assert_eq!(grant["id"], "fdx-consent-1");
    assert_eq!(grant["status"], "ACTIVE");
    assert_eq!(grant["durationType"], "TIME_BOUND");
    assert_eq!(grant["durationPeriod"], 90);
    assert_eq!(grant["lookbackPeriod"], 365);
    assert_eq!(grant["parties"][0], json!({"name": "Saver", "type": "DATA_RECIPIENT"}));
    assert_eq!(grant["parties"][1]["type"], "DATA_PROVIDER");
    assert_eq!(
        grant["resources"],
        json!([
            {"resourceType": "ACCOUNT", "resourceId": "acc-1", "dataClusters": ["ACCOUNT_BASIC", "TRANSACTIONS"]},
            {"resourceType": "CUSTOMER", "resourceId": "user_good", "dataClusters": ["CUSTOMER_CONTACT"]},
        ])
    );
    let created = OffsetDateTime::parse(str_of(grant, "createdTime"), &time::format_description::well_known::Rfc3339)
        .expect("RFC 3339 createdTime");
    let expires =
        OffsetDateTime::parse(str_of(grant, "expirationTime"), &time::format_description::well_known::Rfc3339)
            .expect("RFC 3339 expirationTime");
    assert_eq!(expires - created, Duration::days(90));

    // FDX errors: unknown consent, no token, bad revocation bodies.
    let reply = gw.manage(&client, "GET", "/consents/nope", Some(&token), None).await;
    assert_eq!((reply.status, reply.body["code"].as_str()), (StatusCode::NOT_FOUND, Some("1107")));
    let reply = gw.manage(&client, "GET", "/consents/fdx-consent-1", None, None).await;
    assert_eq!((reply.status, reply.body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("603")));
    assert!(reply.body["debugMessage"].is_string());
    for bad in [json!({"reason": "BORED"}), json!({"initiator": "DATA_PROVIDER"}), json!([1])] {
        let reply = gw.manage(&client, "PUT", "/consents/fdx-consent-1/revocation", Some(&token), Some(bad)).await;
        assert_eq!((reply.status, reply.body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("401")));
    }
    let reply = gw.manage(&client, "GET", "/consents/fdx-consent-1/revocation", Some(&token), None).await;
    assert_eq!(reply.body, json!({"revocations": []}));

    let body = json!({"reason": "BUSINESS_RULE", "initiator": "DATA_RECIPIENT"});
    let reply = gw.manage(&client, "PUT", "/consents/fdx-consent-1/revocation", Some(&token), Some(body.clone())).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    assert!(!gw.is_active(&client, access).await, "the consent's tokens stop working");
    let reply = gw.manage(&client, "PUT", "/consents/fdx-consent-1/revocation", Some(&token), Some(body)).await;
    assert_eq!((reply.status, reply.body["code"].as_str()), (StatusCode::CONFLICT, Some("409")));

    let reply = gw.manage(&client, "GET", "/consents/fdx-consent-1", Some(&token), None).await;
    assert_eq!(reply.body["status"], "REVOKED");
    let reply = gw.manage(&client, "GET", "/consents/fdx-consent-1/revocation", Some(&token), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let history = reply.body["revocations"].as_array().expect("revocations");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["status"], "REVOKED");
    assert_eq!(history[0]["reason"], "BUSINESS_RULE");
    assert_eq!(history[0]["initiator"], "DATA_RECIPIENT");
    let at = OffsetDateTime::parse(str_of(&history[0], "updatedTime"), &time::format_description::well_known::Rfc3339)
        .expect("RFC 3339 updatedTime");
    assert_eq!(at.unix_timestamp(), gw.now().unix_timestamp());
}
