//! Who the person is: the pairwise `sub` in every token response (OpenID Connect Core 1.0 §8.1) and the sign-in-only
//! authorization (`scope=openid`), over real HTTPS through `server::start`: a browser (cookies by hand, no
//! redirects followed) on the login listener, OAuth clients with their certificates (mutual TLS) on the API
//! listener, and the admin API for registering a second client and listing the bank's consents.

use axum::http::header;
use mock_bank::login::{PairwiseSubjects, SUB_LEN};
use mock_bank::server::{BankConfig, RunningBank};
use mock_bank::state::Secret;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use time::macros::datetime;

const GATEWAY: &str = "bankgate-gateway";
const REDIRECT: &str = "https://127.0.0.1:9443/banks/callback";
const BUDGET_APP: &str = "budget-app";
const BUDGET_REDIRECT: &str = "https://budget.example/cb";
/// RFC 7636 Appendix B verifier and its S256 challenge.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const DATA_SCOPE: &str = "fdx:accountbasic:read fdx:transactions:read";
const SANDBOX_GRANT: &str = "urn:bankgate:params:oauth:grant-type:sandbox-login";
const ADMIN_TOKEN: &str = "admin-token";
const SEED: u64 = 11;
const BANK: &str = "continental";

/// One bank serving on three real HTTPS listeners (port 0), and the PKI its clients' certificates come from.
struct LiveBank {
    running: RunningBank,
    pki: certs::Pki,
    ca: reqwest::Certificate,
}

impl LiveBank {
    async fn start(seed: u64) -> Self {
        certs::install_crypto_provider();
        let pki = certs::Pki::generate().unwrap();
        let profile = mock_bank::profile::load_profiles(None).unwrap().into_iter().find(|b| b.id == BANK).unwrap();
        let any_port: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
        let config = BankConfig {
            profile,
            seed,
            customers: 20,
            store_path: None,
            // A Wednesday noon: outside the bank's maintenance window.
            start: datetime!(2026-11-18 12:00 UTC),
            ticking: false,
            server_identity: Arc::new(pki.issue_server(BANK).unwrap()),
            ca: pki.ca_der(),
            api_addr: any_port,
            login_addr: any_port,
            admin_addr: any_port,
            public_host: "127.0.0.1".into(),
            admin_token: Secret::new(ADMIN_TOKEN),
            oauth_clients: vec![mock_bank::login::OAuthClient {
                client_id: GATEWAY.into(),
                redirect_uris: vec![REDIRECT.into()],
            }],
            client_identity: None,
        };
        let running = mock_bank::server::start(config).await.unwrap();
        let ca = reqwest::Certificate::from_pem(pki.ca_pem().as_bytes()).unwrap();
        Self { running, pki, ca }
    }

    fn login_url(&self) -> &str {
        &self.running.urls().login
    }

    fn browser(&self) -> Browser {
        let http = reqwest::Client::builder()
            .tls_certs_only([self.ca.clone()])
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser { http, base: self.login_url().to_owned(), cookie: None }
    }

    /// An OAuth client of the bank: its certificate (CN = client id) on every connection to the API listener.
    fn client(&self, client_id: &'static str, redirect_uri: &'static str) -> App {
        let identity = self.pki.issue_client(client_id).unwrap();
        let identity =
            reqwest::Identity::from_pem(format!("{}{}", identity.cert_pem, identity.key_pem).as_bytes()).unwrap();
        let http = reqwest::Client::builder().tls_certs_only([self.ca.clone()]).identity(identity).build().unwrap();
        App { http, api: self.running.urls().api.clone(), client_id, redirect_uri }
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let http = reqwest::Client::builder().tls_certs_only([self.ca.clone()]).build().unwrap();
        let mut request = http.request(method, format!("{}{path}", self.running.urls().admin)).bearer_auth(ADMIN_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request.send().await.unwrap();
        let status = reply.status();
        (status, reply.json().await.unwrap_or(Value::Null))
    }

    /// The bank's consents of `customer` (username, customerId or index), as its admin API lists them.
    async fn consents_of(&self, customer: &str) -> Vec<Value> {
        let (status, list) =
            self.admin(reqwest::Method::GET, &format!("/admin/consents?customer={customer}"), None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        list["consents"].as_array().unwrap().clone()
    }
}

/// What the browser got back.
struct Page {
    status: StatusCode,
    location: String,
    csp: String,
    body: String,
}

impl Page {
    fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.body.find(marker).unwrap_or_else(|| panic!("no CSRF field in {}", self.body)) + marker.len();
        self.body[start..start + self.body[start..].find('"').unwrap()].to_owned()
    }
    /// A decoded query parameter of the redirect.
    fn param(&self, name: &str) -> Option<String> {
        let url = reqwest::Url::parse(&self.location).ok()?;
        url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
}

/// A person's browser on the login listener: one session cookie, redirects read, not followed.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

impl Browser {
    async fn read(&mut self, reply: reqwest::Response) -> Page {
        let header_of =
            |name: header::HeaderName| reply.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let (location, csp) = (header_of(header::LOCATION), header_of(header::CONTENT_SECURITY_POLICY));
        if let Some(set) = reply.headers().get(header::SET_COOKIE).and_then(|v| v.to_str().ok()) {
            let pair = set.split(';').next().unwrap_or("");
            self.cookie = pair.split_once('=').filter(|(_, v)| !v.is_empty()).map(|_| pair.to_owned());
        }
        let status = reply.status();
        Page { status, location, csp, body: reply.text().await.unwrap() }
    }

    async fn get(&mut self, path_and_query: &str) -> Page {
        let mut request = self.http.get(format!("{}{path_and_query}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let reply = request.send().await.unwrap();
        self.read(reply).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let mut request = self.http.post(format!("{}{path}", self.base)).form(form);
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let reply = request.send().await.unwrap();
        self.read(reply).await
    }

    /// `GET /oauth/authorize` for `app` with PKCE S256, `state=st-1` and `scope`, plus `extra` parameters.
    async fn authorize(&mut self, app: &App, scope: &str, extra: &[(&str, &str)]) -> Page {
        let mut url = reqwest::Url::parse(&format!("{}/oauth/authorize", self.base)).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", app.client_id)
            .append_pair("redirect_uri", app.redirect_uri)
            .append_pair("state", "st-1")
            .append_pair("code_challenge", CHALLENGE)
            .append_pair("code_challenge_method", "S256")
            .append_pair("scope", scope)
            .extend_pairs(extra);
        let path = format!("{}?{}", url.path(), url.query().unwrap_or(""));
        self.get(&path).await
    }

    /// Authorize with `scope`, then submit the password page as `username`.
    async fn sign_in(&mut self, app: &App, scope: &str, username: &str) -> Page {
        let page = self.authorize(app, scope, &[]).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let csrf = page.csrf();
        self.post("/login", &[("username", username), ("password", "pass_good"), ("csrf", &csrf)]).await
    }
}

/// The code of a redirect back to `app`, after checking it carries the request's `state` and the bank's `iss`.
fn code_of(bank: &LiveBank, app: &App, page: &Page) -> String {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(page.location.starts_with(&format!("{}?", app.redirect_uri)), "{}", page.location);
    assert_eq!(page.param("state").as_deref(), Some("st-1"));
    assert_eq!(page.param("iss").as_deref(), Some(bank.login_url()), "RFC 9207 iss");
    page.param("code").unwrap_or_else(|| panic!("no code in {}", page.location))
}

/// An OAuth client of the bank talking to its API listener over mutual TLS.
struct App {
    http: reqwest::Client,
    api: String,
    client_id: &'static str,
    redirect_uri: &'static str,
}

impl App {
    async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let mut pairs = vec![("client_id", self.client_id)];
        pairs.extend_from_slice(form);
        let reply = self.http.post(format!("{}/oauth/token", self.api)).form(&pairs).send().await.unwrap();
        let status = reply.status();
        (status, reply.json().await.unwrap())
    }

    async fn exchange(&self, code: &str, verifier: &str) -> (StatusCode, Value) {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.redirect_uri),
            ("code_verifier", verifier),
        ];
        self.token(&form).await
    }

    async fn refresh(&self, refresh_token: &str) -> (StatusCode, Value) {
        self.token(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
    }

    async fn sandbox_login(&self, username: &str, extra: &[(&str, &str)]) -> (StatusCode, Value) {
        let mut form = vec![("grant_type", SANDBOX_GRANT), ("username", username), ("password", "pass_good")];
        form.extend_from_slice(extra);
        self.token(&form).await
    }

    async fn fdx_status(&self, path: &str, access_token: &str) -> StatusCode {
        let reply = self.http.get(format!("{}{path}", self.api)).bearer_auth(access_token).send().await.unwrap();
        reply.status()
    }

    /// The whole browser flow of a data consent on every account, and the code exchange: the token response.
    async fn data_consent(&self, bank: &LiveBank, username: &str) -> Value {
        let mut browser = bank.browser();
        let signed_in = browser.sign_in(self, DATA_SCOPE, username).await;
        assert_eq!((signed_in.status, signed_in.location.as_str()), (StatusCode::SEE_OTHER, "/login/accounts"));
        let accounts = browser.get("/login/accounts").await;
        let ids: Vec<String> = accounts
            .body
            .split("name=\"account_id\" value=\"")
            .skip(1)
            .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
            .collect();
        let csrf = accounts.csrf();
        let mut form = vec![("csrf", csrf.as_str()), ("action", "share")];
        form.extend(ids.iter().map(|id| ("account_id", id.as_str())));
        let done = browser.post("/login/consent", &form).await;
        let (status, tokens) = self.exchange(&code_of(bank, self, &done), VERIFIER).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        tokens
    }
}

fn text<'a>(json: &'a Value, field: &str) -> &'a str {
    json[field].as_str().unwrap_or_else(|| panic!("{field} missing in {json}"))
}

// -------------------------------------------------------------------------------------------------------------
// 1. The pairwise `sub`

#[tokio::test]
async fn the_same_customer_has_one_sub_per_client_across_consents_refreshes_and_grants() {
    let bank = LiveBank::start(SEED).await;
    let gateway = bank.client(GATEWAY, REDIRECT);
    let first = gateway.data_consent(&bank, "user_good").await;
    let second = gateway.data_consent(&bank, "user_good").await;
    assert_ne!(text(&first, "consent_id"), text(&second, "consent_id"), "two separate consents");
    let sub = text(&first, "sub");
    assert_eq!(text(&second, "sub"), sub, "same customer, same client: same sub");
    assert_eq!(sub.len(), SUB_LEN);
    assert!(sub.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "lowercase hex: {sub}");
    let customer_id = mock_bank::ledger::ids::customer_id(0);
    assert!(!sub.contains(&customer_id) && !sub.contains(&customer_id[3..11]), "{sub} shows {customer_id}");

    // A refresh names the same person.
    let (status, refreshed) = gateway.refresh(text(&first, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(text(&refreshed, "sub"), sub);
    // So does the sandbox-login grant.
    let (status, sandbox) = gateway.sandbox_login("user_good", &[("scope", DATA_SCOPE)]).await;
    assert_eq!(status, StatusCode::OK, "{sandbox}");
    assert_eq!(text(&sandbox, "sub"), sub);

    // Another customer of the same client: another sub.
    let other = gateway.data_consent(&bank, "customer7").await;
    assert_ne!(text(&other, "sub"), sub);

    // A second client, registered through the admin API, gets another sub for the same customer.
    let (status, registered) = bank
        .admin(
            reqwest::Method::POST,
            "/admin/oauth-clients",
            Some(json!({"client_id": BUDGET_APP, "redirect_uris": [BUDGET_REDIRECT]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    let budget = bank.client(BUDGET_APP, BUDGET_REDIRECT);
    let elsewhere = budget.data_consent(&bank, "user_good").await;
    assert_eq!(bank.running.state.auth.consent(text(&elsewhere, "consent_id")).unwrap().customer_index, 0);
    let budget_sub = text(&elsewhere, "sub");
    assert_ne!(budget_sub, sub, "two clients cannot correlate the same person");
    assert_eq!(budget.data_consent(&bank, "user_good").await["sub"], budget_sub, "and it is stable there too");
    bank.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_sub_is_a_function_of_the_seed_so_a_restarted_bank_keeps_it() {
    let bank = LiveBank::start(SEED).await;
    let gateway = bank.client(GATEWAY, REDIRECT);
    let sub = text(&gateway.data_consent(&bank, "user_good").await, "sub").to_owned();
    assert_eq!(sub, PairwiseSubjects::new(SEED, BANK).sub(GATEWAY, 0));
    bank.running.shutdown().await.unwrap();

    // A new process with a new (empty) store and the same seed: the same person, the same sub.
    let again = LiveBank::start(SEED).await;
    let gateway = again.client(GATEWAY, REDIRECT);
    assert_eq!(text(&gateway.data_consent(&again, "user_good").await, "sub"), sub);
    again.running.shutdown().await.unwrap();

    // Another seed is another bank population: the value differs.
    let other = LiveBank::start(SEED + 1).await;
    let gateway = other.client(GATEWAY, REDIRECT);
    assert_ne!(text(&gateway.data_consent(&other, "user_good").await, "sub"), sub);
    other.running.shutdown().await.unwrap();
}

// -------------------------------------------------------------------------------------------------------------
// 2. Sign-in only (`scope=openid`)

#[tokio::test]
async fn sign_in_only_returns_the_persons_sub_and_shares_nothing() {
    let bank = LiveBank::start(SEED).await;
    let gateway = bank.client(GATEWAY, REDIRECT);
    let data = gateway.data_consent(&bank, "user_good").await;
    let data_token = text(&data, "access_token");
    let account_id = data["account_ids"][0].as_str().unwrap().to_owned();

    let mut browser = bank.browser();
    let page = browser.authorize(&gateway, "openid", &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("is asking you to sign in with First Continental Bank"), "{}", page.body);
    assert!(page.body.contains("no account data is shared") && !page.body.contains("connect to your"));
    // The password post ends in a redirect to the client: its origin is an allowed form target.
    assert!(page.csp.contains("form-action 'self' https://127.0.0.1:9443;"), "{}", page.csp);
    let csrf = page.csrf();
    let signed_in =
        browser.post("/login", &[("username", "user_good"), ("password", "pass_good"), ("csrf", &csrf)]).await;
    // No account page: straight back to the client with a code, state and iss.
    let code = code_of(&bank, &gateway, &signed_in);
    assert!(browser.cookie.is_none(), "the session ended with the redirect");

    let (status, tokens) = gateway.exchange(&code, VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(text(&tokens, "sub"), text(&data, "sub"), "the person of the data consent");
    assert_eq!(text(&tokens, "scope"), "openid");
    assert_eq!(text(&tokens, "token_type"), "Bearer");
    assert!(tokens.get("refresh_token").is_none(), "no refresh token: {tokens}");
    assert_eq!(tokens["consent_id"], "");
    assert_eq!(tokens["account_ids"], json!([]));
    // RFC 6749 §4.1.2: the code is single-use.
    let (status, again) = gateway.exchange(&code, VERIFIER).await;
    assert_eq!((status, text(&again, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));

    // The sign-in's access token reads nothing; the data consent's token of the same person does.
    let sign_in_token = text(&tokens, "access_token");
    let paths = [
        "/fdx/v6/accounts".to_owned(),
        format!("/fdx/v6/accounts/{account_id}"),
        format!("/fdx/v6/accounts/{account_id}/transactions"),
        format!("/fdx/v6/accounts/{account_id}/statements"),
        format!("/fdx/v6/accounts/{account_id}/payment-networks"),
        format!("/fdx/v6/accounts/{account_id}/contact"),
        "/fdx/v6/customers/current".to_owned(),
    ];
    for path in &paths {
        assert_eq!(gateway.fdx_status(path, sign_in_token).await, StatusCode::UNAUTHORIZED, "{path}");
    }
    assert_eq!(gateway.fdx_status("/fdx/v6/accounts", data_token).await, StatusCode::OK);
    // Nor can it be used as a refresh token.
    let (status, refused) = gateway.refresh(sign_in_token).await;
    assert_eq!((status, text(&refused, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));

    // The bank recorded no consent for the sign-in: its admin API lists only the data consent.
    let consents = bank.consents_of("user_good").await;
    assert_eq!(consents.len(), 1, "{consents:?}");
    assert_eq!(consents[0]["consent_id"], data["consent_id"]);
    bank.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn sign_in_only_keeps_the_pkce_check() {
    let bank = LiveBank::start(SEED).await;
    let gateway = bank.client(GATEWAY, REDIRECT);
    let mut browser = bank.browser();
    let code = code_of(&bank, &gateway, &browser.sign_in(&gateway, "openid", "user_good").await);
    let wrong_verifier = "x".repeat(43);
    let (status, refused) = gateway.exchange(&code, &wrong_verifier).await;
    assert_eq!((status, text(&refused, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
    // The failed attempt used the code up.
    let (status, refused) = gateway.exchange(&code, VERIFIER).await;
    assert_eq!((status, text(&refused, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
    bank.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn sign_in_only_asks_the_mfa_user_for_the_code() {
    let bank = LiveBank::start(SEED).await;
    let gateway = bank.client(GATEWAY, REDIRECT);
    let mut browser = bank.browser();
    let signed_in = browser.sign_in(&gateway, "openid", "user_mfa").await;
    assert_eq!((signed_in.status, signed_in.location.as_str()), (StatusCode::SEE_OTHER, "/login/mfa"));
    let mfa = browser.get("/login/mfa").await;
    assert_eq!(mfa.status, StatusCode::OK);
    assert!(mfa.csp.contains("form-action 'self' https://127.0.0.1:9443;"), "{}", mfa.csp);
    let wrong = browser.post("/login/mfa", &[("code", "000000"), ("csrf", &mfa.csrf())]).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.body.contains("That code is not right") && wrong.location.is_empty(), "no code without MFA");
    let right = browser.post("/login/mfa", &[("code", "123456"), ("csrf", &wrong.csrf())]).await;
    let code = code_of(&bank, &gateway, &right);
    let (status, tokens) = gateway.exchange(&code, VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(text(&tokens, "sub"), PairwiseSubjects::new(SEED, BANK).sub(GATEWAY, 1), "customer 1 is user_mfa");
    assert!(bank.consents_of("user_mfa").await.is_empty());
    bank.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn sign_in_only_fails_for_locked_login_error_and_wrong_password_users() {
    let bank = LiveBank::start(SEED).await;
    let gateway = bank.client(GATEWAY, REDIRECT);

    let locked = bank.browser().sign_in(&gateway, "openid", "user_locked").await;
    assert_eq!(locked.status, StatusCode::FORBIDDEN);
    assert!(locked.body.contains("Your account is locked") && locked.location.is_empty(), "{}", locked.body);

    let chosen = bank.browser().sign_in(&gateway, "openid", "login_error_temporarily_unavailable").await;
    assert_eq!(chosen.status, StatusCode::SEE_OTHER);
    assert_eq!(chosen.param("error").as_deref(), Some("temporarily_unavailable"));
    assert_eq!(
        (chosen.param("state").as_deref(), chosen.param("iss").as_deref()),
        (Some("st-1"), Some(bank.login_url()))
    );
    assert_eq!(chosen.param("code"), None);

    let mut browser = bank.browser();
    let page = browser.authorize(&gateway, "openid", &[]).await;
    let wrong =
        browser.post("/login", &[("username", "user_good"), ("password", "pass_bad"), ("csrf", &page.csrf())]).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.body.contains("is not right") && wrong.location.is_empty());
    bank.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn openid_is_refused_next_to_data_scopes_or_data_parameters() {
    let bank = LiveBank::start(SEED).await;
    let gateway = bank.client(GATEWAY, REDIRECT);
    let mut browser = bank.browser();
    for scope in ["openid fdx:accountbasic:read", "fdx:accountbasic:read openid"] {
        let refused = browser.authorize(&gateway, scope, &[]).await;
        assert_eq!(refused.status, StatusCode::SEE_OTHER, "{}", refused.body);
        assert!(refused.location.starts_with(&format!("{REDIRECT}?")), "{}", refused.location);
        assert_eq!(refused.param("error").as_deref(), Some("invalid_scope"), "{scope}");
        assert_eq!(refused.param("state").as_deref(), Some("st-1"));
        assert_eq!(refused.param("iss").as_deref(), Some(bank.login_url()));
        assert_eq!(refused.param("code"), None);
    }
    let with_purpose = browser.authorize(&gateway, "openid", &[("purpose", "budgeting")]).await;
    assert_eq!(with_purpose.param("error").as_deref(), Some("invalid_request"));
    assert!(with_purpose.param("error_description").unwrap().contains("`purpose` does not apply"));

    // The sandbox-login grant applies the same rules.
    let mixed = [("scope", "openid fdx:accountbasic:read")];
    let (status, refused) = gateway.sandbox_login("user_good", &mixed).await;
    assert_eq!((status, text(&refused, "error")), (StatusCode::BAD_REQUEST, "invalid_scope"));
    let (status, refused) = gateway.sandbox_login("user_good", &[("scope", "openid"), ("account_ids", "x")]).await;
    assert_eq!((status, text(&refused, "error")), (StatusCode::BAD_REQUEST, "invalid_request"));
    assert!(bank.consents_of("user_good").await.is_empty());
    bank.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_sandbox_grant_signs_in_with_openid_like_the_pages() {
    let bank = LiveBank::start(SEED).await;
    let gateway = bank.client(GATEWAY, REDIRECT);
    let (status, tokens) = gateway.sandbox_login("user_good", &[("scope", "openid")]).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(text(&tokens, "sub"), PairwiseSubjects::new(SEED, BANK).sub(GATEWAY, 0));
    assert_eq!(text(&tokens, "scope"), "openid");
    assert!(tokens.get("refresh_token").is_none());
    assert_eq!((tokens["consent_id"].clone(), tokens["account_ids"].clone()), (json!(""), json!([])));
    assert_eq!(gateway.fdx_status("/fdx/v6/accounts", text(&tokens, "access_token")).await, StatusCode::UNAUTHORIZED);
    assert!(bank.consents_of("user_good").await.is_empty());

    let (status, refused) = gateway.sandbox_login("user_mfa", &[("scope", "openid")]).await;
    assert_eq!((status, text(&refused, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
    let (status, mfa) = gateway.sandbox_login("user_mfa", &[("scope", "openid"), ("mfa_code", "123456")]).await;
    assert_eq!(status, StatusCode::OK, "{mfa}");
    assert_eq!(text(&mfa, "sub"), PairwiseSubjects::new(SEED, BANK).sub(GATEWAY, 1));
    let (status, refused) = gateway.sandbox_login("user_locked", &[("scope", "openid")]).await;
    assert_eq!((status, text(&refused, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"));
    bank.running.shutdown().await.unwrap();
}
