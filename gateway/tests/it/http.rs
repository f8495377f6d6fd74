//! The gateway's HTTP surface as a client app sees it: metadata and JWKS, RFC 7591/7592 registration, the token
//! endpoint with `client_credentials` (private_key_jwt + DPoP, tls_client_auth, sandbox secret), PAR, introspection
//! and revocation; driven through `app::router` with `tower::ServiceExt::oneshot` on an in-memory store and a
//! manual clock (never the wall clock, never sleep), plus one real HTTPS run through `server::start` with a client
//! certificate from `certs::Pki`.

use std::sync::Arc;

use crate::support::{Key as ClientKey, b64};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents};
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use certs::serve::PeerCertificates;
use gateway::app::{AppState, router};
use gateway::config::{DeclaredClient, GatewayConfig, ManualClock, RegistrationPolicy, Secret};
use gateway::oauth::access_token::{self, Confirmation};
use gateway::oauth::client_auth::{JWT_BEARER_ASSERTION_TYPE, certificate_thumbprint_s256};
use gateway::server::{GatewayTls, build_state, start_with_clock};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use tower::ServiceExt;

const ISSUER: &str = "https://gateway.bankgate.test";
const REDIRECT: &str = "https://budget.example/callback";
const VERIFIER: &str = "dBjftJeZ4CK-pkce-verifier-of-forty-three-characters-or-more";

fn start_instant() -> OffsetDateTime {
    // 2026-06-01T00:00:00Z: a fixed simulated instant.
    OffsetDateTime::from_unix_timestamp(1_780_272_000).expect("valid instant")
}

struct Gateway {
    state: AppState,
    clock: Arc<ManualClock>,
}

impl Gateway {
    async fn with(config: GatewayConfig) -> Self {
        let clock = Arc::new(ManualClock::new(start_instant()));
        let state = build_state(config, ISSUER.into(), clock.clone()).await.expect("state");
        Self { state, clock }
    }

    async fn new() -> Self {
        Self::with(GatewayConfig::sandbox(([127, 0, 0, 1], 0).into())).await
    }

    fn now(&self) -> i64 {
        self.state.now().unix_timestamp()
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
        let response = router(self.state.clone()).oneshot(request).await.expect("infallible");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        let value = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("JSON body") };
        (parts.status, parts.headers, value)
    }

    async fn get(&self, path: &str) -> (StatusCode, HeaderMap, Value) {
        self.send(Request::get(path).body(Body::empty()).expect("request")).await
    }

    async fn register(&self, metadata: &Value) -> (StatusCode, Value) {
        let request = Request::post("/register")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(metadata.to_string()))
            .expect("request");
        let (status, _, body) = self.send(request).await;
        (status, body)
    }

    /// A form POST with optional extra headers and a client certificate on the "connection".
    async fn form(
        &self,
        path: &str,
        params: &[(&str, &str)],
        headers: &[(&str, String)],
        cert: Option<&certs::Identity>,
    ) -> (StatusCode, HeaderMap, Value) {
        let body =
            params.iter().map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v))).collect::<Vec<_>>().join("&");
        let mut request = Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut request = request.body(Body::from(body)).expect("request");
        if let Some(identity) = cert {
            request.extensions_mut().insert(PeerCertificates::new(vec![identity.cert_der()]));
        }
        self.send(request).await
    }

    /// Registers a private_key_jwt client with `key`; returns (client_id, registration_access_token).
    async fn register_jwt_client(&self, key: &ClientKey) -> (String, String) {
        let (status, body) = self.register(&jwt_metadata(key)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            body["client_id"].as_str().expect("id").into(),
            body["registration_access_token"].as_str().expect("rat").into(),
        )
    }

    fn assertion(&self, key: &ClientKey, client_id: &str, alg_aud: (&str, &str), jti: &str) -> String {
        let t = self.now();
        key.sign(
            &json!({"alg": alg_aud.0, "typ": "JWT"}),
            &json!({"iss": client_id, "sub": client_id, "aud": alg_aud.1, "iat": t, "exp": t + 60, "jti": jti}),
        )
    }

    fn dpop_proof(&self, key: &ClientKey, path: &str, jti: &str) -> String {
        key.sign(
            &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk()}),
            &json!({"jti": jti, "htm": "POST", "htu": format!("{ISSUER}{path}"), "iat": self.now()}),
        )
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

fn jwt_metadata(key: &ClientKey) -> Value {
    let mut jwk = key.public_jwk();
    jwk["kid"] = json!("k1");
    json!({
        "client_name": "Budget App",
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [jwk]},
        "purposes": ["balance_display", "fraud_alerts"],
        "notification_uri": "https://budget.example/events",
    })
}

fn tls_metadata(name: &str) -> Value {
    json!({
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "tls_client_auth",
        "tls_client_auth_san_uri": certs::client_uri(name),
        "purposes": ["fraud_alerts"],
    })
}

fn pkce_challenge() -> String {
    b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, VERIFIER.as_bytes()).as_ref())
}

fn consent_details() -> String {
    json!([{"type": "fdx_consent", "dataClusters": ["ACCOUNT_BASIC", "TRANSACTIONS"], "durationType": "TIME_BOUND",
            "durationPeriod": 90, "lookbackPeriod": 365, "purposes": ["fraud_alerts"]}])
    .to_string()
}

// ---------------------------------------------------------------------------------------------------------------
// Metadata and JWKS

#[tokio::test]
async fn metadata_announces_the_fapi2_capabilities_at_both_well_known_urls() {
    let gw = Gateway::new().await;
    for path in ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"] {
        let (status, _, m) = gw.get(path).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(m["issuer"], ISSUER);
        assert_eq!(m["token_endpoint"], format!("{ISSUER}/token"));
        assert_eq!(m["pushed_authorization_request_endpoint"], format!("{ISSUER}/par"));
        assert_eq!(m["jwks_uri"], format!("{ISSUER}/jwks"));
        assert_eq!(
            m["token_endpoint_auth_methods_supported"],
            json!(["private_key_jwt", "tls_client_auth", "client_secret_basic"])
        );
        assert_eq!(m["token_endpoint_auth_signing_alg_values_supported"], json!(["PS256", "ES256", "EdDSA"]));
        assert_eq!(m["dpop_signing_alg_values_supported"], json!(["PS256", "ES256", "EdDSA"]));
        assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(m["require_pushed_authorization_requests"], true);
        assert_eq!(m["authorization_response_iss_parameter_supported"], true);
        assert_eq!(m["tls_client_certificate_bound_access_tokens"], true);
        assert_eq!(m["authorization_details_types_supported"], json!(["fdx_consent"]));
        assert_eq!(m["response_types_supported"], json!(["code"]));
        assert_eq!(m["grant_types_supported"], json!(["authorization_code", "refresh_token", "client_credentials"]));
        let scopes = m["scopes_supported"].as_array().expect("scopes");
        assert!(scopes.contains(&json!("fdx:transactions:read")) && scopes.contains(&json!("fdx:accountbasic:read")));
    }

    let mut fapi_only = GatewayConfig::sandbox(([127, 0, 0, 1], 0).into());
    fapi_only.allow_sandbox_profile = false;
    let gw = Gateway::with(fapi_only).await;
    let (_, _, m) = gw.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(m["token_endpoint_auth_methods_supported"], json!(["private_key_jwt", "tls_client_auth"]));
}

#[tokio::test]
async fn jwks_publishes_the_public_signing_key_only() {
    let gw = Gateway::new().await;
    let (status, _, jwks) = gw.get("/jwks").await;
    assert_eq!(status, StatusCode::OK);
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kty"], "EC");
    assert_eq!(keys[0]["kid"], gw.state.keys.active().kid());
    for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        assert!(keys[0].get(private).is_none(), "JWKS leaks {private}");
    }
    let (status, headers, problem) = gw.get("/no/such/path").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    assert_eq!(problem["status"], 404);
}

// ---------------------------------------------------------------------------------------------------------------
// RFC 7591 / RFC 7592

#[tokio::test]
async fn registration_returns_client_information_and_management_needs_the_registration_token() {
    let gw = Gateway::new().await;
    let key = ClientKey::new();
    let (status, info) = gw.register(&jwt_metadata(&key)).await;
    assert_eq!(status, StatusCode::CREATED, "{info}");
    let client_id = info["client_id"].as_str().expect("client_id").to_owned();
    let rat = info["registration_access_token"].as_str().expect("registration token").to_owned();
    assert_eq!(info["profile"], "fapi2");
    assert_eq!(info["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(info["registration_client_uri"], format!("{ISSUER}/register/{client_id}"));
    assert!(info.get("client_secret").is_none());

    let path = format!("/register/{client_id}");
    let read = |token: &str| Request::get(&path).header(header::AUTHORIZATION, format!("Bearer {token}"));
    let (status, _, body) = gw.send(read(&rat).body(Body::empty()).expect("req")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["client_name"], "Budget App");
    assert!(body.get("registration_access_token").is_none());

    // A wrong token, and no token, are refused (RFC 7592 §2).
    let (status, headers, body) = gw.send(read("not-the-token").body(Body::empty()).expect("req")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_token");
    assert!(headers.contains_key(header::WWW_AUTHENTICATE));
    let (status, _, _) = gw.send(Request::get(&path).body(Body::empty()).expect("req")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let wrong_delete = Request::delete(&path).header(header::AUTHORIZATION, "Bearer nope").body(Body::empty());
    assert_eq!(gw.send(wrong_delete.expect("req")).await.0, StatusCode::UNAUTHORIZED);

    // Update replaces the metadata.
    let mut updated = jwt_metadata(&key);
    updated["client_id"] = json!(client_id);
    updated["client_name"] = json!("Budget App 2");
    let put = Request::put(&path)
        .header(header::AUTHORIZATION, format!("Bearer {rat}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(updated.to_string()))
        .expect("req");
    let (status, _, body) = gw.send(put).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["client_name"], "Budget App 2");

    // Delete, after which the client is gone.
    let delete = Request::delete(&path).header(header::AUTHORIZATION, format!("Bearer {rat}")).body(Body::empty());
    assert_eq!(gw.send(delete.expect("req")).await.0, StatusCode::NO_CONTENT);
    assert!(gw.state.store.client(&client_id).await.expect("store").is_none());
    assert_eq!(gw.send(read(&rat).body(Body::empty()).expect("req")).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn registration_refuses_each_kind_of_invalid_metadata() {
    let gw = Gateway::new().await;
    let key = ClientKey::new();
    let with = |patch: &dyn Fn(&mut Value)| {
        let mut m = jwt_metadata(&key);
        patch(&mut m);
        m
    };
    let mut private_jwk = key.public_jwk();
    private_jwk["d"] = json!(b64(&[7u8; 32]));
    let cases: Vec<(&str, Value, &str)> = vec![
        ("http redirect", with(&|m| m["redirect_uris"] = json!(["http://budget.example/cb"])), "invalid_redirect_uri"),
        ("fragment", with(&|m| m["redirect_uris"] = json!(["https://budget.example/cb#x"])), "invalid_redirect_uri"),
        ("relative", with(&|m| m["redirect_uris"] = json!(["/cb"])), "invalid_redirect_uri"),
        ("no redirect_uris", with(&|m| m["redirect_uris"] = json!([])), "invalid_redirect_uri"),
        // RFC 7591 §2: `jwks` and `jwks_uri` MUST NOT both be present.
        (
            "jwks and jwks_uri",
            with(&|m| m["jwks_uri"] = json!("https://budget.example/jwks")),
            "invalid_client_metadata",
        ),
        (
            "http jwks_uri",
            with(&|m| {
                _ = m.as_object_mut().map(|o| o.remove("jwks"));
                m["jwks_uri"] = json!("http://budget.example/jwks");
            }),
            "invalid_client_metadata",
        ),
        ("no jwks", with(&|m| _ = m.as_object_mut().map(|o| o.remove("jwks"))), "invalid_client_metadata"),
        ("private jwk", with(&|m| m["jwks"] = json!({"keys": [private_jwk.clone()]})), "invalid_client_metadata"),
        (
            "secret for fapi2",
            with(&|m| m["token_endpoint_auth_method"] = json!("client_secret_basic")),
            "invalid_client_metadata",
        ),
        ("none auth", with(&|m| m["token_endpoint_auth_method"] = json!("none")), "invalid_client_metadata"),
        (
            "tls without subject",
            with(&|m| m["token_endpoint_auth_method"] = json!("tls_client_auth")),
            "invalid_client_metadata",
        ),
        ("unknown profile", with(&|m| m["profile"] = json!("lax")), "invalid_client_metadata"),
        ("implicit", with(&|m| m["response_types"] = json!(["token"])), "invalid_client_metadata"),
        ("password grant", with(&|m| m["grant_types"] = json!(["password"])), "invalid_client_metadata"),
        ("no purposes", with(&|m| m["purposes"] = json!([])), "invalid_client_metadata"),
        ("unknown purpose", with(&|m| m["purposes"] = json!(["mind_reading"])), "invalid_client_metadata"),
        ("http callback", with(&|m| m["notification_uri"] = json!("http://x.example/n")), "invalid_client_metadata"),
        ("not an object", json!(["redirect_uris"]), "invalid_client_metadata"),
    ];
    for (name, metadata, expected) in cases {
        let (status, body) = gw.register(&metadata).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {body}");
        assert_eq!(body["error"], expected, "{name}: {body}");
    }
    assert!(gw.state.store.list_clients().await.expect("store").is_empty());

    // The sandbox profile cannot be registered where the deployment switched it off.
    let mut fapi_only = GatewayConfig::sandbox(([127, 0, 0, 1], 0).into());
    fapi_only.allow_sandbox_profile = false;
    let gw = Gateway::with(fapi_only).await;
    let sandbox = json!({"redirect_uris": [REDIRECT], "profile": "sandbox",
        "token_endpoint_auth_method": "client_secret_basic", "purposes": ["fraud_alerts"]});
    let (status, body) = gw.register(&sandbox).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_client_metadata")));
}

#[tokio::test]
async fn registration_can_require_an_initial_access_token() {
    let mut config = GatewayConfig::sandbox(([127, 0, 0, 1], 0).into());
    config.registration = RegistrationPolicy::InitialAccessToken(Secret::new("iat-123"));
    let gw = Gateway::with(config).await;
    let key = ClientKey::new();
    let (status, body) = gw.register(&jwt_metadata(&key)).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")));
    let request = Request::post("/register")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, "Bearer iat-123")
        .body(Body::from(jwt_metadata(&key).to_string()))
        .expect("req");
    assert_eq!(gw.send(request).await.0, StatusCode::CREATED);
}

// ---------------------------------------------------------------------------------------------------------------
// Token endpoint

#[tokio::test]
async fn client_credentials_with_private_key_jwt_and_dpop_issues_a_dpop_bound_jwt() {
    let gw = Gateway::new().await;
    let key = ClientKey::new();
    let dpop_key = ClientKey::new();
    let (client_id, _) = gw.register_jwt_client(&key).await;
    let assertion = gw.assertion(&key, &client_id, ("ES256", ISSUER), "a-1");
    let proof = gw.dpop_proof(&dpop_key, "/token", "p-1");
    let (status, headers, body) = gw
        .form(
            "/token",
            &[
                ("grant_type", "client_credentials"),
                ("scope", "grant_management_query"),
                ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
                ("client_assertion", &assertion),
            ],
            &[("dpop", proof)],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(body["scope"], "grant_management_query");
    assert_eq!(body["expires_in"], 300);
    let token = body["access_token"].as_str().expect("token");
    let claims = access_token::verify(&gw.state.keys, token, ISSUER, ISSUER, gw.state.now()).expect("valid JWT");
    assert_eq!(claims.client_id, client_id);
    assert_eq!(claims.cnf, Some(Confirmation::Jkt(dpop_key.thumbprint())));

    // The same assertion again is a replay (RFC 7523 §3 item 7).
    let proof = gw.dpop_proof(&dpop_key, "/token", "p-2");
    let (status, _, body) = gw
        .form(
            "/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
                ("client_assertion", &assertion),
            ],
            &[("dpop", proof)],
            None,
        )
        .await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
}

#[tokio::test]
async fn fapi2_client_without_dpop_or_certificate_gets_no_bearer_token_and_bad_dpop_is_refused() {
    let gw = Gateway::new().await;
    let key = ClientKey::new();
    let (client_id, _) = gw.register_jwt_client(&key).await;
    let assertion = gw.assertion(&key, &client_id, ("ES256", ISSUER), "a-1");
    let params = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
        ("client_assertion", assertion.as_str()),
    ];
    let (status, _, body) = gw.form("/token", &params, &[], None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{body}");

    // A DPoP proof made for another endpoint (htu) is refused.
    let assertion = gw.assertion(&key, &client_id, ("ES256", ISSUER), "a-2");
    let proof = gw.dpop_proof(&key, "/par", "p-1");
    let params = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
        ("client_assertion", assertion.as_str()),
    ];
    let (status, _, body) = gw.form("/token", &params, &[("dpop", proof)], None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_dpop_proof")), "{body}");
}

#[tokio::test]
async fn client_assertions_signed_rs256_or_for_another_audience_are_refused_at_the_endpoint() {
    let gw = Gateway::new().await;
    let key = ClientKey::new();
    let (client_id, _) = gw.register_jwt_client(&key).await;
    let try_assertion = async |assertion: String, jti: &str| {
        let proof = gw.dpop_proof(&key, "/token", jti);
        let params = [
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
            ("client_assertion", assertion.as_str()),
        ];
        gw.form("/token", &params, &[("dpop", proof)], None).await
    };
    // Token endpoint URL as aud (FAPI 2.0 §5.3.2.1: only the issuer).
    let (status, headers, body) =
        try_assertion(gw.assertion(&key, &client_id, ("ES256", &format!("{ISSUER}/token")), "a-1"), "p-1").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    assert!(body["error_description"].as_str().expect("text").contains("aud"));
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");

    // RS256 with an RSA key the client registered.
    let rsa = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key");
    let c = RsaPublicKeyComponents::<Vec<u8>>::from(rsa.public_key());
    let metadata = json!({"redirect_uris": [REDIRECT], "purposes": ["fraud_alerts"],
        "jwks": {"keys": [{"kty": "RSA", "n": b64(&c.n), "e": b64(&c.e), "kid": "r1"}]}});
    let (status, info) = gw.register(&metadata).await;
    assert_eq!(status, StatusCode::CREATED, "{info}");
    let rsa_client = info["client_id"].as_str().expect("id");
    let t = gw.now();
    let claims = json!({"iss": rsa_client, "sub": rsa_client, "aud": ISSUER, "iat": t, "exp": t + 60, "jti": "r-1"});
    let input = format!(
        "{}.{}",
        b64(json!({"alg": "RS256", "kid": "r1"}).to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut sig = vec![0; rsa.public_modulus_len()];
    rsa.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut sig).expect("sign");
    let (status, _, body) = try_assertion(format!("{input}.{}", b64(&sig)), "p-2").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "{body}");
}

#[tokio::test]
async fn password_and_unknown_grants_are_unsupported() {
    let gw = Gateway::new().await;
    let key = ClientKey::new();
    let (client_id, _) = gw.register_jwt_client(&key).await;
    for (i, grant) in ["password", "urn:example:magic", "implicit"].into_iter().enumerate() {
        let assertion = gw.assertion(&key, &client_id, ("ES256", ISSUER), &format!("a-{i}"));
        let params = [
            ("grant_type", grant),
            ("username", "alice"),
            ("password", "hunter2"),
            ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
            ("client_assertion", assertion.as_str()),
        ];
        let (status, _, body) = gw.form("/token", &params, &[], None).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unsupported_grant_type")));
    }
    // A repeated parameter is refused (RFC 6749 §3.2).
    let (status, _, body) =
        gw.form("/token", &[("grant_type", "client_credentials"), ("grant_type", "password")], &[], None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
}

#[tokio::test]
async fn tls_client_auth_gets_a_certificate_bound_token_and_a_foreign_certificate_is_refused() {
    let pki = certs::Pki::generate().expect("pki");
    let tpp = pki.issue_client("tpp-one").expect("client cert");
    let other = pki.issue_client("tpp-two").expect("client cert");
    let gw = Gateway::new().await;
    let (status, info) = gw.register(&tls_metadata("tpp-one")).await;
    assert_eq!(status, StatusCode::CREATED, "{info}");
    let client_id = info["client_id"].as_str().expect("id");
    let params = [("grant_type", "client_credentials"), ("client_id", client_id)];

    let (status, _, body) = gw.form("/token", &params, &[], Some(&tpp)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let claims = access_token::verify(
        &gw.state.keys,
        body["access_token"].as_str().expect("token"),
        ISSUER,
        ISSUER,
        gw.state.now(),
    )
    .expect("valid");
    assert_eq!(claims.cnf, Some(Confirmation::X5tS256(certificate_thumbprint_s256(&tpp.cert_der()))));

    let (status, _, body) = gw.form("/token", &params, &[], Some(&other)).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    let (status, _, body) = gw.form("/token", &params, &[], None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
}

#[tokio::test]
async fn sandbox_client_uses_its_secret_and_gets_a_plain_bearer_token() {
    let gw = Gateway::new().await;
    let metadata = json!({"redirect_uris": [REDIRECT], "profile": "sandbox",
        "token_endpoint_auth_method": "client_secret_basic", "purposes": ["fraud_alerts"]});
    let (status, info) = gw.register(&metadata).await;
    assert_eq!(status, StatusCode::CREATED, "{info}");
    let id = info["client_id"].as_str().expect("id");
    let secret = info["client_secret"].as_str().expect("secret is returned once");
    let stored = gw.state.store.client(id).await.expect("store").expect("client");
    assert!(!stored.metadata.to_string().contains(secret), "the secret is stored only as a hash");

    let basic = |s: &str| format!("Basic {}", STANDARD.encode(format!("{id}:{s}")));
    let (status, _, body) =
        gw.form("/token", &[("grant_type", "client_credentials")], &[("authorization", basic(secret))], None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let (status, headers, body) =
        gw.form("/token", &[("grant_type", "client_credentials")], &[("authorization", basic("wrong"))], None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    assert!(headers[header::WWW_AUTHENTICATE].to_str().expect("ascii").starts_with("Basic"));

    // RFC 7592 update issues a new secret: the client (already authenticated once, so cached by the store and as a
    // parsed registration) must be re-read at once: the old secret stops working, the new one works.
    let path = format!("/register/{id}");
    let rat = info["registration_access_token"].as_str().expect("registration token");
    let mut updated = metadata.clone();
    updated["client_id"] = json!(id);
    let put = Request::put(&path)
        .header(header::AUTHORIZATION, format!("Bearer {rat}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(updated.to_string()))
        .expect("req");
    let (status, _, body) = gw.send(put).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fresh = body["client_secret"].as_str().expect("a new secret");
    assert_ne!(fresh, secret);
    let cc = [("grant_type", "client_credentials")];
    let status = gw.form("/token", &cc, &[("authorization", basic(secret))], None).await.0;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old secret is refused after the update");
    let status = gw.form("/token", &cc, &[("authorization", basic(fresh))], None).await.0;
    assert_eq!(status, StatusCode::OK, "the new secret works at once");
    // After deletion the client cannot authenticate at all.
    let delete = Request::delete(&path).header(header::AUTHORIZATION, format!("Bearer {rat}")).body(Body::empty());
    assert_eq!(gw.send(delete.expect("req")).await.0, StatusCode::NO_CONTENT);
    let status = gw.form("/token", &cc, &[("authorization", basic(fresh))], None).await.0;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a deleted client is refused");
}

// ---------------------------------------------------------------------------------------------------------------
// PAR

/// PAR parameters to replace (`Some`) or drop (`None`).
type Overrides<'a> = Vec<(&'a str, Option<&'a str>)>;

async fn par_client(gw: &Gateway) -> (ClientKey, String) {
    let key = ClientKey::new();
    let (client_id, _) = gw.register_jwt_client(&key).await;
    (key, client_id)
}

#[tokio::test]
async fn par_stores_a_validated_request_and_refuses_bad_ones() {
    let gw = Gateway::new().await;
    let (key, client_id) = par_client(&gw).await;
    let challenge = pkce_challenge();
    let details = consent_details();
    let jkt = key.thumbprint();
    let mut n = 0;
    let mut push = async |overrides: &[(&str, Option<&str>)]| {
        n += 1;
        let assertion = gw.assertion(&key, &client_id, ("ES256", ISSUER), &format!("par-{n}"));
        let mut params: Vec<(&str, String)> = vec![
            ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE.into()),
            ("client_assertion", assertion),
            ("client_id", client_id.clone()),
            ("response_type", "code".into()),
            ("redirect_uri", REDIRECT.into()),
            ("code_challenge", challenge.clone()),
            ("code_challenge_method", "S256".into()),
            ("state", "xyz".into()),
            ("authorization_details", details.clone()),
            ("dpop_jkt", jkt.clone()),
        ];
        for (name, value) in overrides {
            params.retain(|(k, _)| k != name);
            if let Some(v) = value {
                params.push((name, (*v).to_owned()));
            }
        }
        let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        gw.form("/par", &borrowed, &[], None).await
    };

    let (status, headers, body) = push(&[]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(body["expires_in"], 90);
    let request_uri = body["request_uri"].as_str().expect("request_uri");
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:") && request_uri.len() > 60);
    let stored = gw.state.store.par_request(request_uri).await.expect("store").expect("stored");
    assert_eq!(stored.client_id, client_id);
    assert_eq!(stored.params["redirect_uri"], REDIRECT);
    assert_eq!(stored.params["code_challenge"], challenge);
    assert_eq!(stored.params["dpop_jkt"], jkt);
    assert_eq!(stored.params["scope"], "fdx:accountbasic:read fdx:transactions:read");
    assert_eq!(stored.expires_at, gw.state.now() + Duration::seconds(90));

    let fdx = json!({"durationType": "ONE_TIME", "lookbackPeriod": 30, "purposes": ["balance_display"],
        "resources": [{"resourceType": "ACCOUNT", "dataClusters": ["ACCOUNT_BASIC"]}]})
    .to_string();
    let (status, _, body) = push(&[("authorization_details", None), ("fdx_consent_request", Some(&fdx))]).await;
    assert_eq!(status, StatusCode::CREATED, "FDX ConsentRequest syntax: {body}");

    let refused: Vec<(&str, Overrides, &str)> = vec![
        ("response_type=token", vec![("response_type", Some("token"))], "unsupported_response_type"),
        ("code id_token", vec![("response_type", Some("code id_token"))], "unsupported_response_type"),
        ("missing PKCE", vec![("code_challenge", None), ("code_challenge_method", None)], "invalid_request"),
        ("plain PKCE", vec![("code_challenge_method", Some("plain"))], "invalid_request"),
        ("unregistered redirect", vec![("redirect_uri", Some("https://evil.example/cb"))], "invalid_request"),
        ("redirect prefix", vec![("redirect_uri", Some("https://budget.example/callback/x"))], "invalid_request"),
        ("pushed request_uri", vec![("request_uri", Some("urn:x"))], "invalid_request"),
        ("no consent request", vec![("authorization_details", None)], "invalid_request"),
        (
            "unknown details type",
            vec![("authorization_details", Some(r#"[{"type":"payment_initiation"}]"#))],
            "invalid_authorization_details",
        ),
        ("bad dpop_jkt", vec![("dpop_jkt", Some("short"))], "invalid_request"),
        ("scope beyond consent", vec![("scope", Some("fdx:statements:read"))], "invalid_scope"),
    ];
    for (name, overrides, expected) in refused {
        let (status, _, body) = push(&overrides).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {body}");
        assert_eq!(body["error"], expected, "{name}: {body}");
    }
    // A purpose the client never declared.
    let undeclared = json!([{"type": "fdx_consent", "dataClusters": ["TRANSACTIONS"], "durationType": "ONE_TIME",
        "purposes": ["credit_underwriting"]}])
    .to_string();
    let (status, _, body) = push(&[("authorization_details", Some(&undeclared))]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{body}");

    // Unauthenticated PAR is refused.
    let (status, _, body) =
        gw.form("/par", &[("response_type", "code"), ("client_id", client_id.as_str())], &[], None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
}

// ---------------------------------------------------------------------------------------------------------------
// Introspection and revocation

#[tokio::test]
async fn introspection_and_revocation_answer_only_the_tokens_own_client() {
    let pki = certs::Pki::generate().expect("pki");
    let (cert_a, cert_b) = (pki.issue_client("tpp-a").expect("cert"), pki.issue_client("tpp-b").expect("cert"));
    let gw = Gateway::new().await;
    let id_a = gw.register(&tls_metadata("tpp-a")).await.1["client_id"].as_str().expect("id").to_owned();
    let id_b = gw.register(&tls_metadata("tpp-b")).await.1["client_id"].as_str().expect("id").to_owned();
    let (_, _, body) =
        gw.form("/token", &[("grant_type", "client_credentials"), ("client_id", &id_a)], &[], Some(&cert_a)).await;
    let token = body["access_token"].as_str().expect("token").to_owned();

    let introspect = async |id: &str, cert: &certs::Identity, token: &str| {
        let (status, _, body) = gw.form("/introspect", &[("client_id", id), ("token", token)], &[], Some(cert)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    };
    let active = introspect(&id_a, &cert_a, &token).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], id_a.as_str());
    assert_eq!(active["cnf"]["x5t#S256"], certificate_thumbprint_s256(&cert_a.cert_der()));
    assert_eq!(introspect(&id_b, &cert_b, &token).await, json!({"active": false}), "another client learns nothing");
    assert_eq!(introspect(&id_a, &cert_a, "not-a-token").await, json!({"active": false}));

    // Introspection needs client authentication.
    let (status, _, _) = gw.form("/introspect", &[("token", token.as_str())], &[], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Another client cannot revoke it; its own client can; unknown tokens answer 200.
    let (status, _, body) = gw.form("/revoke", &[("client_id", &id_b), ("token", &token)], &[], Some(&cert_b)).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unauthorized_client")));
    assert_eq!(introspect(&id_a, &cert_a, &token).await["active"], true);
    let (status, _, _) = gw.form("/revoke", &[("client_id", &id_a), ("token", &token)], &[], Some(&cert_a)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(introspect(&id_a, &cert_a, &token).await, json!({"active": false}));
    let (status, _, _) = gw.form("/revoke", &[("client_id", &id_a), ("token", "unknown")], &[], Some(&cert_a)).await;
    assert_eq!(status, StatusCode::OK);

    // A fresh token stops being active once the clock passes its expiry.
    let (_, _, body) =
        gw.form("/token", &[("grant_type", "client_credentials"), ("client_id", &id_a)], &[], Some(&cert_a)).await;
    let token = body["access_token"].as_str().expect("token").to_owned();
    assert_eq!(introspect(&id_a, &cert_a, &token).await["active"], true);
    gw.clock.advance(Duration::seconds(301));
    assert_eq!(introspect(&id_a, &cert_a, &token).await, json!({"active": false}));
}

// ---------------------------------------------------------------------------------------------------------------
// Real HTTPS

#[tokio::test]
async fn real_https_listener_serves_metadata_and_binds_tokens_to_the_client_certificate() {
    certs::install_crypto_provider();
    let pki = certs::Pki::generate().expect("pki");
    let tpp = pki.issue_client("tpp-https").expect("client cert");
    let mut config = GatewayConfig::sandbox(([127, 0, 0, 1], 0).into());
    config.public_host = "127.0.0.1".into();
    config.clients = vec![DeclaredClient { client_id: "declared-tpp".into(), metadata: tls_metadata("tpp-https") }];
    let tls =
        GatewayTls { server_identity: Arc::new(pki.issue_server("gateway").expect("server cert")), ca: pki.ca_der() };
    let clock = Arc::new(ManualClock::new(start_instant()));
    let running = start_with_clock(config, tls, clock).await.expect("gateway starts");
    let issuer = running.issuer().to_owned();
    assert_eq!(issuer, format!("https://127.0.0.1:{}", running.addr.port()));

    let ca = reqwest::Certificate::from_pem(pki.ca_pem().as_bytes()).expect("CA");
    let anonymous = reqwest::Client::builder().tls_certs_only([ca.clone()]).build().expect("client");
    let metadata: Value = anonymous
        .get(format!("{issuer}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("metadata over HTTPS")
        .json()
        .await
        .expect("JSON");
    assert_eq!(metadata["issuer"], issuer.as_str());

    let identity = reqwest::Identity::from_pem(format!("{}{}", tpp.cert_pem, tpp.key_pem).as_bytes()).expect("id");
    let app = reqwest::Client::builder().tls_certs_only([ca]).identity(identity).build().expect("client");
    let response = app
        .post(format!("{issuer}/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", "declared-tpp")])
        .send()
        .await
        .expect("token over mTLS");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let body: Value = response.json().await.expect("JSON");
    let claims = access_token::verify(
        &running.state.keys,
        body["access_token"].as_str().expect("token"),
        &issuer,
        &issuer,
        running.state.now(),
    )
    .expect("valid token");
    assert_eq!(claims.cnf, Some(Confirmation::X5tS256(certificate_thumbprint_s256(&tpp.cert_der()))));

    // Without a certificate the same request is an unauthenticated client.
    let response = anonymous
        .post(format!("{issuer}/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", "declared-tpp")])
        .send()
        .await
        .expect("token without mTLS");
    assert_eq!(response.status(), reqwest::StatusCode::UNAUTHORIZED);
    running.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn bodies_of_the_wrong_shape_get_oauth_errors_never_a_500() {
    let gw = Gateway::new().await;
    let request =
        Request::builder().method(Method::POST).uri("/token").header(header::CONTENT_TYPE, "application/json");
    let (status, _, body) = gw.send(request.body(Body::from("{}")).expect("req")).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
    let (status, body) = gw.register(&json!(null)).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_client_metadata")));
}
