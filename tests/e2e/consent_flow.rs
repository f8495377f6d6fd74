//! The whole consent flow over real HTTPS, as DESIGN.md flows 1-3 describe it: an app registers at the gateway
//! (RFC 7591, tls_client_auth), pushes its authorization request (PAR) carrying an `fdx_consent`
//! authorization_details; a person chooses a bank on the gateway's consent page, logs in at that bank's own pages,
//! shares accounts, approves at the gateway; the app exchanges the code with PKCE over mutual TLS and gets
//! certificate-bound tokens naming the consent.
//!
//! Issue 3's complete happy flows: a `private_key_jwt` client with DPoP (PAR with `dpop_jkt`, the MFA user through
//! both bank login pages, exchange and refresh with fresh proofs, introspection, RFC 7009 revocation) and a
//! `tls_client_auth` client whose tokens carry exactly the presented certificate's thumbprint and are refused over
//! a connection with another certificate. Assertions and proofs are signed here by hand (aws-lc-rs, ES256).

use crate::support::{START, gateway_sandbox, https_client};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use bankgate::{
    Sandbox, SandboxOptions,
    person::{LoginOutcome, LoginPlan, Person, Pkce},
    sandbox::SAMPLE_APP_CLIENTS,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub(crate) const REDIRECT: &str = "https://app.example/callback";

/// The sample app over mutual TLS, registered at the gateway as a `fapi2` tls_client_auth client.
pub(crate) async fn register_app(sandbox: &Sandbox) -> (reqwest::Client, String, String) {
    let identity = sandbox.pki.issue_client(SAMPLE_APP_CLIENTS[0]).unwrap();
    let app = https_client(sandbox.pki.ca_pem(), Some(format!("{}{}", identity.cert_pem, identity.key_pem)));
    let issuer = sandbox.endpoints.gateway.as_ref().expect("gateway runs").issuer.clone();
    let registration = json!({
        "client_name": "Budget Buddy",
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "tls_client_auth",
        "tls_client_auth_san_uri": certs::client_uri(SAMPLE_APP_CLIENTS[0]),
        "grant_types": ["authorization_code", "refresh_token"],
        "purposes": ["personal_finance_management"],
    });
    let response = app.post(format!("{issuer}/register")).json(&registration).send().await.unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap_or_default());
    let body: Value = response.json().await.unwrap();
    (app, issuer, body["client_id"].as_str().unwrap().to_owned())
}

pub(crate) async fn push(app: &reqwest::Client, issuer: &str, client_id: &str, pkce: &Pkce, state: &str) -> String {
    let details = json!([{
        "type": "fdx_consent",
        "dataClusters": ["ACCOUNT_BASIC", "ACCOUNT_DETAILED", "TRANSACTIONS"],
        "durationType": "TIME_BOUND",
        "durationPeriod": 90,
        "lookbackPeriod": 365,
        "purposes": ["personal_finance_management"],
    }]);
    let form = [
        ("client_id", client_id),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("state", state),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("authorization_details", &details.to_string()),
    ];
    let response = app.post(format!("{issuer}/par")).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap_or_default());
    let body: Value = response.json().await.unwrap();
    body["request_uri"].as_str().unwrap().to_owned()
}

pub(crate) fn origins(sandbox: &Sandbox, issuer: &str) -> Vec<String> {
    let mut origins = vec![issuer.to_owned()];
    origins.extend(sandbox.endpoints.banks.iter().map(|b| b.login.clone()));
    origins
}

#[tokio::test]
async fn a_person_consents_through_the_gateway_and_the_app_gets_bound_tokens() {
    let sandbox = gateway_sandbox().await;
    let (app, issuer, client_id) = register_app(&sandbox).await;
    let pkce = Pkce::new().unwrap();
    let request_uri = push(&app, &issuer, &client_id, &pkce, "st-1").await;

    let mut person = Person::new(sandbox.pki.ca_pem()).unwrap();
    let authorize = reqwest::Url::parse_with_params(
        &format!("{issuer}/authorize"),
        [("client_id", client_id.as_str()), ("request_uri", request_uri.as_str())],
    )
    .unwrap();
    let plan = LoginPlan { bank: Some("continental"), ..LoginPlan::user("user_mfa") };
    let outcome = person.walk(authorize.as_str(), &plan, &origins(&sandbox, &issuer)).await.unwrap();
    assert_eq!(outcome.param("state"), Some("st-1"), "{outcome:?}");
    assert_eq!(outcome.param("iss"), Some(issuer.as_str()), "RFC 9207: the gateway names itself");
    let code = outcome.param("code").unwrap_or_else(|| panic!("an authorization code: {outcome:?}")).to_owned();

    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", pkce.verifier.as_str()),
        ("client_id", client_id.as_str()),
    ];
    let response = app.post(format!("{issuer}/token")).form(&exchange).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());
    let tokens: Value = response.json().await.unwrap();
    assert!(tokens["access_token"].is_string() && tokens["refresh_token"].is_string(), "{tokens}");
    assert!(tokens["grant_id"].is_string());
    assert!(tokens["authorization_details"].to_string().contains("TRANSACTIONS"));

    let introspection = [("token", tokens["access_token"].as_str().unwrap()), ("client_id", client_id.as_str())];
    let active: Value =
        app.post(format!("{issuer}/introspect")).form(&introspection).send().await.unwrap().json().await.unwrap();
    assert_eq!(active["active"], true, "{active}");
    assert!(active["cnf"]["x5t#S256"].is_string(), "certificate-bound (RFC 8705): {active}");

    // The code is single use: a second exchange fails and revokes what the first one issued.
    let again = app.post(format!("{issuer}/token")).form(&exchange).send().await.unwrap();
    assert_eq!(again.status(), 400);
    let after: Value =
        app.post(format!("{issuer}/introspect")).form(&introspection).send().await.unwrap().json().await.unwrap();
    assert_eq!(after["active"], false, "a replayed code revokes the tokens issued from it");
    sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_person_who_denies_sends_the_app_access_denied() {
    let sandbox = gateway_sandbox().await;
    let (app, issuer, client_id) = register_app(&sandbox).await;
    let pkce = Pkce::new().unwrap();
    let request_uri = push(&app, &issuer, &client_id, &pkce, "st-2").await;
    let mut person = Person::new(sandbox.pki.ca_pem()).unwrap();
    let authorize = format!("{issuer}/authorize?client_id={client_id}&request_uri={request_uri}");
    let plan = LoginPlan { bank: Some("summit"), approve: false, ..LoginPlan::user("user_good") };
    match person.walk(&authorize, &plan, &origins(&sandbox, &issuer)).await.unwrap() {
        outcome @ LoginOutcome::Redirected { .. } => {
            assert_eq!(outcome.param("error"), Some("access_denied"));
            // Denied at the gateway's final confirmation, after the bank round trip (not a refusal by the bank).
            assert_eq!(outcome.param("error_description"), Some("the person declined the consent"));
            assert_eq!(outcome.param("state"), Some("st-2"));
            assert!(outcome.param("code").is_none());
        }
        page => panic!("denial must go back to the app, got {page:?}"),
    }
    sandbox.shutdown().await.unwrap();
}

/// Issue 3, purpose limits: Harbor Trust's data-sharing policy refuses targeted advertising to `*social*` parties.
/// Gateway client ids are generated at registration (they cannot be chosen to match a glob), so the app declares
/// the platform it acts for (`platform`, RFC 7591 §2 extension member); the gateway sends it to the bank with the
/// app's client id as `recipient`, and the bank's policy matches either.
#[tokio::test]
async fn a_bank_policy_refusal_is_shown_to_the_person_even_after_the_opt_in() {
    certs::install_crypto_provider();
    let options = SandboxOptions {
        customers: Some(20),
        banks: Some(vec!["harbor".into()]),
        start: Some(START),
        ..SandboxOptions::default()
    };
    let sandbox = Sandbox::start(options).await.expect("sandbox starts");
    let identity = sandbox.pki.issue_client(SAMPLE_APP_CLIENTS[0]).unwrap();
    let app = https_client(sandbox.pki.ca_pem(), Some(format!("{}{}", identity.cert_pem, identity.key_pem)));
    let issuer = sandbox.endpoints.gateway.as_ref().expect("gateway runs").issuer.clone();
    let registration = json!({
        "client_name": "Chirp",
        "platform": "chirp-social",
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "tls_client_auth",
        "tls_client_auth_san_uri": certs::client_uri(SAMPLE_APP_CLIENTS[0]),
        "grant_types": ["authorization_code"],
        "purposes": ["personal_finance_management", "targeted_advertising"],
    });
    let response = app.post(format!("{issuer}/register")).json(&registration).send().await.unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap_or_default());
    let registered: Value = response.json().await.unwrap();
    assert_eq!(registered["platform"], "chirp-social", "the platform is part of the client's metadata");
    let client_id = registered["client_id"].as_str().unwrap().to_owned();

    let pkce = Pkce::new().unwrap();
    let details = json!([{
        "type": "fdx_consent",
        "dataClusters": ["ACCOUNT_BASIC", "TRANSACTIONS"],
        "durationType": "TIME_BOUND",
        "durationPeriod": 30,
        "lookbackPeriod": 90,
        "purposes": ["personal_finance_management", "targeted_advertising"],
    }]);
    let form = [
        ("client_id", client_id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("state", "st-social"),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("authorization_details", &details.to_string()),
    ];
    let pushed: Value = app.post(format!("{issuer}/par")).form(&form).send().await.unwrap().json().await.unwrap();
    let request_uri = pushed["request_uri"].as_str().unwrap_or_else(|| panic!("a request_uri: {pushed}"));

    let mut person = Person::new(sandbox.pki.ca_pem()).unwrap();
    let authorize = reqwest::Url::parse_with_params(
        &format!("{issuer}/authorize"),
        [("client_id", client_id.as_str()), ("request_uri", request_uri)],
    )
    .unwrap();
    // The person opts in; the bank still refuses, before any sign-in.
    let plan = LoginPlan { bank: Some("harbor"), opt_in: true, ..LoginPlan::user("user_good") };
    match person.walk(authorize.as_str(), &plan, &origins(&sandbox, &issuer)).await.unwrap() {
        LoginOutcome::Page { status, html } => {
            assert_eq!(status, 200, "{html}");
            assert!(html.contains("role=\"alert\""), "the refusal is an alert page: {html}");
            assert!(html.contains("Harbor Trust will not share this data with <strong>Chirp</strong>"), "{html}");
            assert!(
                html.contains(
                    "does not allow sharing data for targeted advertising with apps of the platform chirp-social"
                ),
                "the bank's words, naming what and to whom: {html}"
            );
            assert!(html.contains("Return to Chirp"), "{html}");
        }
        outcome => panic!("the person must see the bank's refusal, got {outcome:?}"),
    }
    sandbox.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------------------------------------
// Issue 3: the complete happy flow with a private_key_jwt + DPoP client, and certificate binding checked exactly.

/// An app's P-256 key (aws-lc-rs), signing client assertions and DPoP proofs by hand: the test never asks the code
/// under test to build its own inputs.
struct AppKey(EcdsaKeyPair);

impl AppKey {
    fn new() -> Self {
        Self(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("P-256 key"))
    }

    fn public_jwk(&self) -> Value {
        let p = self.0.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(&p[1..33]), "y": URL_SAFE_NO_PAD.encode(&p[33..65])})
    }

    /// RFC 7638 §3.2: SHA-256 over the required members in lexicographic order, no whitespace.
    fn thumbprint(&self) -> String {
        let jwk = self.public_jwk();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap()
        );
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string().as_bytes()),
            URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes())
        );
        let signature = self.0.sign(&SystemRandom::new(), input.as_bytes()).expect("sign");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }

    /// RFC 7523 §3 client assertion for the issuer (FAPI 2.0 §5.3.2.1: `aud` is the issuer identifier). The
    /// sandbox gateway runs on the wall clock, so `iat` is now.
    fn assertion(&self, client_id: &str, issuer: &str) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let jti = bankgate::sandbox::random_token().unwrap();
        self.sign(
            &json!({"alg": "ES256", "typ": "JWT", "kid": "app-key-1"}),
            &json!({"iss": client_id, "sub": client_id, "aud": issuer, "iat": now, "exp": now + 60, "jti": jti}),
        )
    }

    /// RFC 9449 §4.2 proof for `POST url`, fresh `jti`.
    fn dpop_proof(&self, url: &str) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let jti = bankgate::sandbox::random_token().unwrap();
        self.sign(
            &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.public_jwk()}),
            &json!({"jti": jti, "htm": "POST", "htu": url, "iat": now}),
        )
    }

    /// RFC 9449 §7: proof for a resource request `GET url` carrying `access_token`'s hash (`ath`).
    fn resource_proof(&self, url: &str, access_token: &str) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let jti = bankgate::sandbox::random_token().unwrap();
        let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()));
        self.sign(
            &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.public_jwk()}),
            &json!({"jti": jti, "htm": "GET", "htu": url, "iat": now, "ath": ath}),
        )
    }
}

/// `form` plus a fresh client assertion of `client_id`.
fn with_assertion<'a>(
    key: &AppKey,
    client_id: &'a str,
    issuer: &str,
    form: &[(&'a str, &'a str)],
) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = form.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    all.push(("client_id".into(), client_id.to_owned()));
    all.push(("client_assertion_type".into(), "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()));
    all.push(("client_assertion".into(), key.assertion(client_id, issuer)));
    all
}

fn authorize_url(issuer: &str, client_id: &str, request_uri: &str) -> String {
    reqwest::Url::parse_with_params(
        &format!("{issuer}/authorize"),
        [("client_id", client_id), ("request_uri", request_uri)],
    )
    .unwrap()
    .to_string()
}

#[tokio::test]
async fn a_dpop_client_goes_from_par_through_mfa_login_to_refresh_introspection_and_revocation() {
    let sandbox = gateway_sandbox().await;
    let issuer = sandbox.endpoints.gateway.as_ref().expect("gateway runs").issuer.clone();
    let app = https_client(sandbox.pki.ca_pem(), None);
    let key = AppKey::new();
    let mut jwk = key.public_jwk();
    jwk["kid"] = json!("app-key-1");
    let registration = json!({
        "client_name": "Ledgerly",
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [jwk]},
        "grant_types": ["authorization_code", "refresh_token"],
        "purposes": ["personal_finance_management"],
    });
    let response = app.post(format!("{issuer}/register")).json(&registration).send().await.unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap_or_default());
    let registered: Value = response.json().await.unwrap();
    assert_eq!(registered["profile"], "fapi2");
    let client_id = registered["client_id"].as_str().unwrap().to_owned();

    // PAR (RFC 9126) authenticated with private_key_jwt, naming the DPoP key (RFC 9449 §10).
    let pkce = Pkce::new().unwrap();
    let details = json!([{"type": "fdx_consent", "dataClusters": ["ACCOUNT_BASIC", "TRANSACTIONS"],
        "durationType": "TIME_BOUND", "durationPeriod": 90, "lookbackPeriod": 180,
        "purposes": ["personal_finance_management"]}])
    .to_string();
    let jkt = key.thumbprint();
    let par = with_assertion(
        &key,
        &client_id,
        &issuer,
        &[
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("state", "st-dpop"),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
            ("authorization_details", &details),
            ("dpop_jkt", &jkt),
        ],
    );
    let response = app.post(format!("{issuer}/par")).form(&par).send().await.unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap_or_default());
    let pushed: Value = response.json().await.unwrap();
    let request_uri = pushed["request_uri"].as_str().unwrap().to_owned();

    // The person: consent page, the bank's password page and its one-time-code page, accounts, confirmation.
    let mut person = Person::new(sandbox.pki.ca_pem()).unwrap();
    let plan = LoginPlan { bank: Some("summit"), ..LoginPlan::user("user_mfa") };
    let authorize = authorize_url(&issuer, &client_id, &request_uri);
    let outcome = person.walk(&authorize, &plan, &origins(&sandbox, &issuer)).await.unwrap();
    let posted: Vec<&str> = person.steps().iter().filter(|s| s.method == "POST").map(|s| s.path.as_str()).collect();
    for page in ["/authorize/consent", "/login", "/login/mfa", "/login/consent", "/authorize/confirm"] {
        assert!(posted.contains(&page), "the person posted the form of {page}: {posted:?}");
    }
    assert!(person.steps().iter().all(|s| s.status < 500), "{:?}", person.steps());
    assert_eq!(outcome.param("state"), Some("st-dpop"), "{outcome:?}");
    assert_eq!(outcome.param("iss"), Some(issuer.as_str()));
    let code = outcome.param("code").unwrap_or_else(|| panic!("an authorization code: {outcome:?}")).to_owned();

    // RFC 9126 §4: the completed request_uri cannot start another authorization (error page, no redirect).
    let reused = Person::new(sandbox.pki.ca_pem()).unwrap().walk(&authorize, &plan, &origins(&sandbox, &issuer)).await;
    match reused.unwrap() {
        LoginOutcome::Page { status, html } => assert_eq!(status, 400, "{html}"),
        redirected => panic!("a used request_uri must not redirect: {redirected:?}"),
    }

    // Code exchange with a DPoP proof (RFC 9449 §5): a DPoP-bound token naming the consent.
    let token_url = format!("{issuer}/token");
    let exchange = with_assertion(
        &key,
        &client_id,
        &issuer,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &pkce.verifier),
        ],
    );
    let response =
        app.post(&token_url).header("DPoP", key.dpop_proof(&token_url)).form(&exchange).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP", "{tokens}");
    let consent_id = tokens["grant_id"].as_str().expect("grant_id names the consent").to_owned();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().expect("a refresh token").to_owned();

    let introspect = async |token: &str| -> Value {
        let form = with_assertion(&key, &client_id, &issuer, &[("token", token)]);
        let response = app.post(format!("{issuer}/introspect")).form(&form).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    };
    let active = introspect(&access).await;
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["token_type"], "DPoP");
    assert_eq!(active["cnf"]["jkt"], jkt.as_str(), "bound to the key named at PAR (RFC 9449 §6.1)");
    assert_eq!(active["consent_id"], consent_id.as_str());
    assert_eq!(active["client_id"], client_id.as_str());

    // The resource API (RFC 9449 §7.1): the DPoP scheme plus a proof of the key for this request.
    let accounts_url = format!("{issuer}/fdx/v6/accounts");
    let read = |authorization: String, proof: Option<String>| {
        let mut request = app.get(&accounts_url).header("Authorization", authorization);
        if let Some(proof) = proof {
            request = request.header("DPoP", proof);
        }
        request.send()
    };
    let proof = key.resource_proof(&accounts_url, &access);
    let response = read(format!("DPoP {access}"), Some(proof.clone())).await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());
    let accounts: Value = response.json().await.unwrap();
    assert!(!accounts["accounts"].as_array().unwrap().is_empty(), "{accounts}");
    // A stolen token without the key: as a bearer token, without a proof, with a thief's proof, with a replayed
    // proof, or with a proof for another URL.
    let thief = AppKey::new();
    let stolen = [
        ("as Bearer", format!("Bearer {access}"), None),
        ("without a proof", format!("DPoP {access}"), None),
        ("with a thief's proof", format!("DPoP {access}"), Some(thief.resource_proof(&accounts_url, &access))),
        ("with a replayed proof", format!("DPoP {access}"), Some(proof)),
        ("with a proof for another URL", format!("DPoP {access}"), Some(key.resource_proof(&token_url, &access))),
    ];
    for (how, authorization, proof) in stolen {
        let response = read(authorization, proof).await.unwrap();
        assert_eq!(response.status(), 401, "{how}");
        let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(challenge.starts_with("DPoP "), "{how}: {challenge}");
        assert_eq!(response.json::<Value>().await.unwrap()["code"], "603", "{how}");
    }

    // Refresh (RFC 6749 §6) with a fresh proof by the same key.
    let refresh_form =
        with_assertion(&key, &client_id, &issuer, &[("grant_type", "refresh_token"), ("refresh_token", &refresh)]);
    let response =
        app.post(&token_url).header("DPoP", key.dpop_proof(&token_url)).form(&refresh_form).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());
    let refreshed: Value = response.json().await.unwrap();
    assert_eq!(refreshed["token_type"], "DPoP");
    let second = refreshed["access_token"].as_str().unwrap().to_owned();
    assert_ne!(second, access);
    let active = introspect(&second).await;
    assert_eq!((active["active"].clone(), active["cnf"]["jkt"].clone()), (json!(true), json!(jkt)), "{active}");
    assert_eq!(active["consent_id"], consent_id.as_str());

    // RFC 7009: revocation answers 200 and the token is inactive from then on.
    for token in [second.as_str(), refresh.as_str()] {
        let form = with_assertion(&key, &client_id, &issuer, &[("token", token)]);
        let response = app.post(format!("{issuer}/revoke")).form(&form).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(introspect(token).await, json!({"active": false}));
    }
    assert_eq!(introspect(&access).await["active"], true, "revoking one access token leaves the other");
    let refresh_form =
        with_assertion(&key, &client_id, &issuer, &[("grant_type", "refresh_token"), ("refresh_token", &refresh)]);
    let response =
        app.post(&token_url).header("DPoP", key.dpop_proof(&token_url)).form(&refresh_form).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let refused: Value = response.json().await.unwrap();
    assert_eq!(refused["error"], "invalid_grant", "a revoked refresh token is dead: {refused}");
    sandbox.shutdown().await.unwrap();
}

fn thumbprint(identity: &certs::Identity) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(identity.cert_der().as_ref()))
}

#[tokio::test]
async fn mtls_tokens_carry_the_thumbprint_of_the_presented_certificate_and_fail_on_another_connection() {
    let sandbox = gateway_sandbox().await;
    let issuer = sandbox.endpoints.gateway.as_ref().expect("gateway runs").issuer.clone();
    let identity = sandbox.pki.issue_client(SAMPLE_APP_CLIENTS[0]).unwrap();
    let app = https_client(sandbox.pki.ca_pem(), Some(format!("{}{}", identity.cert_pem, identity.key_pem)));
    let registration = json!({
        "client_name": "Budget Buddy",
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "tls_client_auth",
        "tls_client_auth_san_uri": certs::client_uri(SAMPLE_APP_CLIENTS[0]),
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "purposes": ["personal_finance_management"],
    });
    let response = app.post(format!("{issuer}/register")).json(&registration).send().await.unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap_or_default());
    let client_id = response.json::<Value>().await.unwrap()["client_id"].as_str().unwrap().to_owned();
    let pkce = Pkce::new().unwrap();
    let request_uri = push(&app, &issuer, &client_id, &pkce, "st-mtls").await;
    let mut person = Person::new(sandbox.pki.ca_pem()).unwrap();
    let plan = LoginPlan { bank: Some("continental"), ..LoginPlan::user("user_good") };
    let authorize = authorize_url(&issuer, &client_id, &request_uri);
    let outcome = person.walk(&authorize, &plan, &origins(&sandbox, &issuer)).await.unwrap();
    let code = outcome.param("code").unwrap_or_else(|| panic!("an authorization code: {outcome:?}")).to_owned();

    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", pkce.verifier.as_str()),
        ("client_id", client_id.as_str()),
    ];
    let response = app.post(format!("{issuer}/token")).form(&exchange).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer", "RFC 8705 tokens are presented as Bearer");
    let consent_id = tokens["grant_id"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().expect("a refresh token").to_owned();

    // RFC 8705 §3.1: cnf.x5t#S256 is base64url(SHA-256(DER)) of the certificate presented on the TLS connection,
    // computed here from the identity the sandbox PKI issued; refreshed tokens keep the binding.
    let expected = thumbprint(&identity);
    let introspect = async |token: &str| -> Value {
        let form = [("token", token), ("client_id", client_id.as_str())];
        app.post(format!("{issuer}/introspect")).form(&form).send().await.unwrap().json().await.unwrap()
    };
    let active = introspect(tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["consent_id"], consent_id.as_str());
    assert_eq!(active["cnf"]["x5t#S256"], expected.as_str(), "{active}");
    let refresh_form =
        [("grant_type", "refresh_token"), ("refresh_token", refresh.as_str()), ("client_id", &client_id)];
    let refreshed: Value =
        app.post(format!("{issuer}/token")).form(&refresh_form).send().await.unwrap().json().await.unwrap();
    let active = introspect(refreshed["access_token"].as_str().unwrap_or_else(|| panic!("{refreshed}"))).await;
    assert_eq!(active["cnf"]["x5t#S256"], expected.as_str(), "{active}");

    // The resource API with the certificate the token is bound to; another certificate, or none, is refused.
    let accounts_url = format!("{issuer}/fdx/v6/accounts");
    let data_token = refreshed["access_token"].as_str().unwrap().to_owned();
    let response = app.get(&accounts_url).bearer_auth(&data_token).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());

    // The same binding on the gateway's Grant Management API (OpenID Grant Management §6) with a management token
    // of the same client.
    let form = [("grant_type", "client_credentials"), ("scope", "grant_management_query"), ("client_id", &client_id)];
    let management: Value = app.post(format!("{issuer}/token")).form(&form).send().await.unwrap().json().await.unwrap();
    let management = management["access_token"].as_str().unwrap_or_else(|| panic!("{management}")).to_owned();
    let grant_url = format!("{issuer}/grants/{consent_id}");
    let own = app.get(&grant_url).bearer_auth(&management).send().await.unwrap();
    assert_eq!(own.status(), 200, "{}", own.text().await.unwrap_or_default());
    let grant: Value = own.json().await.unwrap();
    assert_eq!(grant["authorization_details"][0]["type"], "fdx_consent", "{grant}");
    // RFC 8705 §3: the same token over a connection with another certificate (same CA, same SAN scheme), or with
    // none, is refused.
    let other = sandbox.pki.issue_client(SAMPLE_APP_CLIENTS[1]).unwrap();
    let thief = https_client(sandbox.pki.ca_pem(), Some(format!("{}{}", other.cert_pem, other.key_pem)));
    let anonymous = https_client(sandbox.pki.ca_pem(), None);
    for (who, client) in [("another certificate", &thief), ("no certificate", &anonymous)] {
        let data = client.get(&accounts_url).bearer_auth(&data_token).send().await.unwrap();
        assert_eq!(data.status(), 401, "data with {who}");
        assert_eq!(data.json::<Value>().await.unwrap()["code"], "603", "{who}");
        let stolen = client.get(&grant_url).bearer_auth(&management).send().await.unwrap();
        assert_eq!(stolen.status(), 401, "{who}");
        let body: Value = stolen.json().await.unwrap();
        assert_eq!(body["error"], "invalid_token", "{who}: {body}");
    }
    sandbox.shutdown().await.unwrap();
}
