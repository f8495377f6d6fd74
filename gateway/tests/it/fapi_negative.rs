//! FAPI 2.0 negative cases at the HTTP level that the other modules do not already prove, modelled on the OpenID
//! FAPI 2.0 conformance plan: authorization requests that skip PAR, redirect URIs that only resemble the registered
//! one (open-redirect attempts), response types other than `code`, and `GET /authorize` never redirecting anywhere
//! but to the pushed redirect URI whatever the query adds. Everything goes through `POST /register`, `POST /par`
//! and the pages via `app::router` with `oneshot`, an in-memory store and a manual clock; the app authenticates with
//! tls_client_auth (its certificate put on the request as the TLS listener would).
//!
//! Already proven elsewhere (not repeated here): `response_type=token` / `code id_token` at PAR, an unregistered or
//! prefix-extended redirect URI at PAR (`http::par_stores_a_validated_request_and_refuses_bad_ones`); an unknown,
//! foreign or expired request_uri and `/authorize` with only a client_id
//! (`consent_flow::unknown_foreign_expired_or_missing_request_uris_get_an_error_page_never_a_redirect`); a reused
//! request_uri after completion (`consent_flow::denying_sends_access_denied_with_state_and_iss_and_consumes_the_request`,
//! `consent_flow::approving_the_confirmation_issues_a_single_use_code_for_an_authorized_consent`); consent forms
//! without or with a wrong CSRF token (`consent_flow::consent_form_without_or_with_a_wrong_csrf_token_or_session_is_refused`).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use certs::serve::PeerCertificates;
use gateway::app::{AppState, router};
use gateway::config::{GatewayConfig, ManualClock};
use gateway::server::build_state;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use tower::ServiceExt;

const ISSUER: &str = "https://gateway.bankgate.test";
const REDIRECT: &str = "https://budget.example/callback";
/// S256 of the RFC 7636 appendix B verifier.
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    fn location(&self) -> Option<&str> {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok())
    }

    fn header(&self, name: header::HeaderName) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// RFC 6749 §4.1.2.1: before the redirect URI is trusted, an HTML error page, never a redirect, no session.
    fn assert_error_page(&self, case: &str) {
        assert_eq!(self.status, StatusCode::BAD_REQUEST, "{case}: {}", self.body);
        assert_eq!(self.location(), None, "{case}: an error page, never a redirect");
        assert!(self.headers.get(header::SET_COOKIE).is_none(), "{case}: no session starts");
        assert!(self.body.contains("<h1>"), "{case}: an HTML page: {}", self.body);
    }
}

struct Gateway {
    state: AppState,
    clock: Arc<ManualClock>,
    app_cert: certs::Identity,
    client_id: String,
}

impl Gateway {
    async fn new() -> Self {
        let clock = Arc::new(ManualClock::new(OffsetDateTime::from_unix_timestamp(1_780_272_000).expect("instant")));
        let config = GatewayConfig::sandbox(([127, 0, 0, 1], 0).into());
        let state = build_state(config, ISSUER.into(), clock.clone()).await.expect("state");
        let pki = certs::Pki::generate().expect("pki");
        let app_cert = pki.issue_client("budget-app").expect("client certificate");
        let mut gw = Self { state, clock, app_cert, client_id: String::new() };
        let metadata = json!({
            "client_name": "Budget App",
            "redirect_uris": [REDIRECT, "https://budget.example/other"],
            "token_endpoint_auth_method": "tls_client_auth",
            "tls_client_auth_san_uri": certs::client_uri("budget-app"),
            "purposes": ["fraud_alerts"],
        });
        let request = Request::post("/register")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(metadata.to_string()))
            .expect("request");
        let reply = gw.send(request).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        gw.client_id = reply.json()["client_id"].as_str().expect("client_id").to_owned();
        gw
    }

    async fn send(&self, request: Request<Body>) -> Reply {
        let response = router(self.state.clone()).oneshot(request).await.expect("infallible");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        Reply { status: parts.status, headers: parts.headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    /// `POST /par` as the app over mutual TLS: the default request with `overrides` replacing (`Some`) or dropping
    /// (`None`) parameters, and `extra` pairs appended as they are (repeats included).
    async fn par(&self, overrides: &[(&str, Option<&str>)], extra: &[(&str, &str)]) -> Reply {
        let details = json!([{"type": "fdx_consent", "dataClusters": ["ACCOUNT_BASIC"], "durationType": "TIME_BOUND",
            "durationPeriod": 30, "lookbackPeriod": 90, "purposes": ["fraud_alerts"]}])
        .to_string();
        let mut params: Vec<(&str, String)> = vec![
            ("client_id", self.client_id.clone()),
            ("response_type", "code".into()),
            ("redirect_uri", REDIRECT.into()),
            ("state", "pushed-state".into()),
            ("code_challenge", CHALLENGE.into()),
            ("code_challenge_method", "S256".into()),
            ("authorization_details", details),
        ];
        for (name, value) in overrides {
            params.retain(|(k, _)| k != name);
            if let Some(v) = value {
                params.push((name, (*v).to_owned()));
            }
        }
        params.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let body = params.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&");
        let mut request = Request::post("/par")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("request");
        request.extensions_mut().insert(PeerCertificates::new(vec![self.app_cert.cert_der()]));
        self.send(request).await
    }

    async fn pushed(&self) -> String {
        let reply = self.par(&[], &[]).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.json()["request_uri"].as_str().expect("request_uri").to_owned()
    }

    async fn authorize(&self, query: &[(&str, &str)]) -> Reply {
        let query = query.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&");
        self.send(Request::get(format!("/authorize?{query}")).body(Body::empty()).expect("request")).await
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn an_authorization_request_that_skips_par_gets_an_error_page_whatever_it_carries() {
    let gw = Gateway::new().await;
    let id = gw.client_id.as_str();
    let classic = [
        ("response_type", "code"),
        ("client_id", id),
        ("redirect_uri", REDIRECT),
        ("scope", "fdx:accountbasic:read"),
        ("state", "s1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("a complete RFC 6749 §4.1.1 request", classic.to_vec()),
        (
            "an implicit request to another host",
            vec![
                ("response_type", "token"),
                ("client_id", id),
                ("redirect_uri", "https://evil.example/cb"),
                ("state", "s2"),
            ],
        ),
        // FAPI 2.0 §5.3.2.2 item 2: only pushed requests; a request object by value or by reference is no way round.
        ("a request object by value", vec![("client_id", id), ("request", "eyJhbGciOiJub25lIn0.eyJ9.")]),
        ("a request_uri that is a URL", vec![("client_id", id), ("request_uri", "https://evil.example/request.jwt")]),
        ("no parameters at all", vec![]),
    ];
    for (case, query) in cases {
        let reply = gw.authorize(&query).await;
        reply.assert_error_page(case);
        assert!(!reply.body.contains("evil.example"), "{case}: the page does not echo the attacker's URI");
    }
}

#[tokio::test]
async fn redirect_uris_that_only_resemble_the_registered_one_are_refused_at_par() {
    let gw = Gateway::new().await;
    assert_eq!(gw.par(&[], &[]).await.status, StatusCode::CREATED, "the registered URI itself is accepted");
    // RFC 9700 §4.1.3 and §2.1: exact string comparison, no pattern, no normalisation.
    let resembling = [
        ("scheme case", "HTTPS://budget.example/callback"),
        ("host case", "https://Budget.Example/callback"),
        ("path case", "https://budget.example/Callback"),
        ("another host", "https://evil.example/callback"),
        ("subdomain of the attacker", "https://budget.example.evil.example/callback"),
        ("explicit default port", "https://budget.example:443/callback"),
        ("another port", "https://budget.example:8443/callback"),
        ("path suffix", "https://budget.example/callbackx"),
        ("dot segments", "https://budget.example/callback/../../evil"),
        ("trailing slash", "https://budget.example/callback/"),
        ("added query", "https://budget.example/callback?next=https://evil.example"),
        ("userinfo", "https://budget.example@evil.example/callback"),
        ("userinfo on the right host", "https://good@budget.example/callback"),
        ("fragment", "https://budget.example/callback#evil"),
        ("http scheme", "http://budget.example/callback"),
        ("percent-encoded path", "https://budget.example/%63allback"),
        ("trailing space", "https://budget.example/callback "),
    ];
    for (case, uri) in resembling {
        let reply = gw.par(&[("redirect_uri", Some(uri))], &[]).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{case}: {}", reply.body);
        assert_eq!(reply.json()["error"], "invalid_request", "{case}: {}", reply.body);
        assert_eq!(reply.header(header::CONTENT_TYPE), "application/json", "{case}: OAuth error JSON");
    }
    // A missing redirect_uri is refused too (FAPI 2.0 §5.3.2.2: required even with one registered URI), and so is
    // the registered URI followed by a second one (RFC 6749 §3.1: parameters at most once).
    let missing = gw.par(&[("redirect_uri", None)], &[]).await;
    assert_eq!((missing.status, missing.json()["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
    let repeated = gw.par(&[], &[("redirect_uri", "https://evil.example/cb")]).await;
    assert_eq!(
        (repeated.status, repeated.json()["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
}

#[tokio::test]
async fn response_types_other_than_code_are_refused_at_par() {
    let gw = Gateway::new().await;
    // `token` and `code id_token` are in the http module's PAR test; the other hybrid and implicit values here.
    for response_type in ["code token", "code id_token token", "id_token", "id_token token", "none", "CODE", "code "] {
        let reply = gw.par(&[("response_type", Some(response_type))], &[]).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{response_type:?}: {}", reply.body);
        assert_eq!(reply.json()["error"], "unsupported_response_type", "{response_type:?}: {}", reply.body);
    }
    let missing = gw.par(&[("response_type", None)], &[]).await;
    assert_eq!((missing.status, missing.json()["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
}

#[tokio::test]
async fn authorize_redirects_only_to_the_pushed_redirect_uri_whatever_the_query_adds() {
    let gw = Gateway::new().await;
    let request_uri = gw.pushed().await;
    let id = gw.client_id.as_str();
    // RFC 9126 §4 / FAPI 2.0 §5.3.2.2: the pushed parameters are the request; what the front channel adds counts
    // for nothing, the registered-but-not-pushed URI included.
    let page = gw
        .authorize(&[
            ("client_id", id),
            ("request_uri", &request_uri),
            ("redirect_uri", "https://evil.example/cb"),
            ("state", "attacker-state"),
            ("response_type", "token"),
            ("response_mode", "fragment"),
        ])
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.location(), None);
    assert!(!page.body.contains("evil.example"), "{}", page.body);
    let csp = page.header(header::CONTENT_SECURITY_POLICY);
    assert!(csp.contains("https://budget.example") && !csp.contains("evil.example"), "form-action: {csp}");
    let cookie = page.header(header::SET_COOKIE).split(';').next().expect("cookie pair").to_owned();
    let csrf_at = page.body.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    let csrf = page.body[csrf_at..].split('"').next().expect("value").to_owned();

    let deny = Request::post("/authorize/consent")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, &cookie)
        .body(Body::from(format!("csrf={}&action=deny&redirect_uri={}", enc(&csrf), enc("https://evil.example/cb"))))
        .expect("request");
    let denied = gw.send(deny).await;
    assert_eq!(denied.status, StatusCode::SEE_OTHER, "{}", denied.body);
    let location = reqwest::Url::parse(denied.location().expect("Location")).expect("absolute URL");
    assert_eq!(location.origin().ascii_serialization(), "https://budget.example");
    assert_eq!(location.path(), "/callback", "the pushed URI, not the other registered one");
    let params: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    assert_eq!(param("state"), Some("pushed-state"));
    assert_eq!(param("error"), Some("access_denied"));
    assert_eq!(param("iss"), Some(ISSUER));
    assert_eq!(location.fragment(), None, "response_mode from the query is ignored");

    // Whatever else goes wrong, a redirect_uri in the query never turns an error page into a redirect.
    let evil = ("redirect_uri", "https://evil.example/cb");
    gw.authorize(&[("client_id", id), ("request_uri", &request_uri), evil]).await.assert_error_page("used request_uri");
    let unknown = "urn:ietf:params:oauth:request_uri:unknown";
    gw.authorize(&[("client_id", id), ("request_uri", unknown), evil]).await.assert_error_page("unknown request_uri");
    let fresh = gw.pushed().await;
    gw.authorize(&[("client_id", id), ("request_uri", &fresh), ("request_uri", unknown)])
        .await
        .assert_error_page("repeated request_uri");
    gw.authorize(&[("client_id", id), ("client_id", "other-app"), ("request_uri", &fresh)])
        .await
        .assert_error_page("repeated client_id");
    gw.clock.advance(gw.state.config.par_lifetime + Duration::seconds(1));
    gw.authorize(&[("client_id", id), ("request_uri", &fresh), evil]).await.assert_error_page("expired request_uri");
}
