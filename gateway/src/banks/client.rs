//! [`BankClient`]: the gateway as one bank's OAuth 2.0 client (RFC 6749 authorization code grant with PKCE S256,
//! RFC 7636; client authentication by certificate, RFC 8705 §2.1 `tls_client_auth`; RFC 9207 `iss` check; RFC 7009
//! revocation) and FDX caller; plus, for the gateway's sandbox-only shortcut, the banks' sandbox-login extension
//! grant (RFC 6749 §4.5, [`BankClient::sandbox_login`]), which carries a public sandbox test password.
//!
//! One per bank, shared: the reqwest pool is inside. It must never send a code or token to any URL but the bank's
//! own endpoints, accept a redirect whose `iss` or `state` differs from what it expects, or print a secret.

use std::time::Duration;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, EndpointNotSet, EndpointSet, ExtraTokenFields, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, RevocationUrl, Scope, StandardRevocableToken,
    StandardTokenResponse, TokenResponse, TokenUrl,
};
use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::directory::BankEntry;
use super::fdx::{BankCallError, BankResponse, RawBankResponse, check_fdx_path, into_bank_response};
use super::secret::{BankSecret, PkceVerifier};
use super::transport::{OAuthTransport, Protocol, build_http_client};

/// Timeouts towards one bank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BankTimeouts {
    /// TCP + TLS connection establishment.
    pub connect: Duration,
    /// A whole request, body included.
    pub request: Duration,
    /// How long an idle pooled connection is kept.
    pub pool_idle: Duration,
}

impl Default for BankTimeouts {
    fn default() -> Self {
        Self { connect: Duration::from_secs(5), request: Duration::from_secs(20), pool_idle: Duration::from_secs(90) }
    }
}

/// How the gateway is registered at a bank.
#[derive(Debug, Clone)]
pub struct BankClientSettings {
    /// The gateway's `client_id` at the bank: the CN of its client certificate (RFC 8705 §2.1).
    pub client_id: String,
    /// The registered redirect URI (matched exactly by the bank).
    pub redirect_uri: String,
    pub timeouts: BankTimeouts,
    pub breaker: super::BreakerSettings,
}

/// Extra members of the bank's token response: the bank's consent and the accounts the person chose.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct BankTokenFields {
    /// Absent on a sign-in-only (`scope=openid`) token response.
    #[serde(default)]
    consent_id: String,
    /// The bank's pairwise subject identifier of the person (OpenID Connect Core §8.1): stable per person and client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    #[serde(default)]
    account_ids: Vec<String>,
}

impl ExtraTokenFields for BankTokenFields {}

type BankTokenResponse = StandardTokenResponse<BankTokenFields, BasicTokenType>;

type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    BankTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
    EndpointSet,
>;

/// Tokens a bank issued to the gateway (RFC 6749 §5.1), with the bank's consent id and chosen accounts.
#[derive(Debug, Clone)]
pub struct BankTokenSet {
    pub access_token: BankSecret,
    pub refresh_token: Option<BankSecret>,
    /// `now + expires_in`, on the caller's clock; `None` when the bank did not say.
    pub expires_at: Option<OffsetDateTime>,
    /// Granted scopes; `None` when the bank omitted `scope` (RFC 6749 §5.1: then as requested).
    pub scope: Option<Vec<String>>,
    pub consent_id: String,
    pub account_ids: Vec<String>,
    /// The person, as the bank names them to this client (`sub`), when the bank says.
    pub subject: Option<String>,
}

/// Which token is revoked (RFC 7009 §2.1 `token_type_hint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BankTokenKind {
    Access,
    Refresh,
}

/// A token, refresh or revocation request that failed.
#[derive(Debug, thiserror::Error)]
pub enum BankOAuthError {
    /// RFC 6749 §5.2 error response (`invalid_grant`, `invalid_client`, ...).
    #[error("the bank refused: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused { error: String, description: Option<String> },
    #[error(transparent)]
    Call(#[from] BankCallError),
    /// The bank answered 2xx/4xx with something that is not a valid RFC 6749 response.
    #[error("the bank's OAuth response is not valid: {0}")]
    InvalidResponse(String),
    #[error("bank client configuration: {0}")]
    Configuration(String),
}

impl BankOAuthError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Call(call) if call.is_retryable())
    }
}

impl From<RequestTokenError<BankCallError, BasicErrorResponse>> for BankOAuthError {
    fn from(error: RequestTokenError<BankCallError, BasicErrorResponse>) -> Self {
        match error {
            RequestTokenError::ServerResponse(response) => Self::Refused {
                error: response.error().as_ref().to_owned(),
                description: response.error_description().cloned(),
            },
            RequestTokenError::Request(call) => Self::Call(call),
            RequestTokenError::Parse(e, _body) => Self::InvalidResponse(e.to_string()),
            RequestTokenError::Other(message) => Self::InvalidResponse(message),
        }
    }
}

/// Why a redirect back from the bank was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CallbackError {
    #[error("parameter `{0}` appears more than once")]
    Repeated(&'static str),
    /// RFC 9207 §2.4: the bank advertises `iss`; a response without it is rejected.
    #[error("the redirect has no `iss` parameter")]
    MissingIssuer,
    /// RFC 9207 §2.4: a different issuer means a mix-up attack (or a misrouted response).
    #[error("the redirect comes from issuer `{received}`, not from this bank")]
    IssuerMismatch { received: String },
    /// RFC 6749 §10.12: a `state` that is not ours is a CSRF attempt.
    #[error("the redirect's `state` does not match this authorization request")]
    StateMismatch,
    /// RFC 6749 §4.1.2.1: the bank (or the person) declined.
    #[error("the bank answered `{error}`")]
    Denied { error: String, description: Option<String> },
    #[error("the redirect carries neither `code` nor `error`")]
    MissingCode,
}

/// The gateway as one bank's OAuth client and FDX caller. Clone is cheap-ish; share one per bank.
#[derive(Clone)]
pub struct BankClient {
    bank: BankEntry,
    /// The resource API's reads (HTTP/1.1 pool, [`Protocol::Http1Pool`]): other FDX `GET`s.
    http: reqwest::Client,
    /// The resource API's reads through [`Self::get_raw`] ([`super::reads`]).
    reads: std::sync::Arc<super::reads::ReadPool>,
    /// OAuth calls and notification subscriptions (HTTP/2, [`Protocol::Http2`]).
    control: reqwest::Client,
    oauth: OAuthClient,
    /// Shared by every clone: one breaker per bank.
    breaker: std::sync::Arc<super::CircuitBreaker>,
}

impl std::fmt::Debug for BankClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BankClient").field("bank", &self.bank.id()).field("client_id", self.oauth.client_id()).finish()
    }
}

impl BankClient {
    /// A client for `bank`, trusting only `ca` and presenting `identity` (whose CN must be `settings.client_id`).
    pub fn new(
        bank: BankEntry,
        ca: &CertificateDer<'static>,
        identity: &certs::Identity,
        settings: &BankClientSettings,
    ) -> Result<Self, BankOAuthError> {
        if identity.common_name() != Some(settings.client_id.as_str()) {
            return Err(BankOAuthError::Configuration(format!(
                "the client certificate's CN must be the client_id `{}` (RFC 8705 §2.1)",
                settings.client_id
            )));
        }
        let config = |what: &str, e: oauth2::url::ParseError| BankOAuthError::Configuration(format!("{what}: {e}"));
        let oauth = oauth2::Client::new(ClientId::new(settings.client_id.clone()))
            .set_auth_uri(AuthUrl::new(bank.authorization_endpoint()).map_err(|e| config("authorization URL", e))?)
            .set_token_uri(TokenUrl::new(bank.token_endpoint()).map_err(|e| config("token URL", e))?)
            .set_revocation_url(
                RevocationUrl::new(bank.revocation_endpoint()).map_err(|e| config("revocation URL", e))?,
            )
            .set_redirect_uri(RedirectUrl::new(settings.redirect_uri.clone()).map_err(|e| config("redirect URI", e))?);
        let http = build_http_client(ca, identity, &settings.timeouts, Protocol::Http1Pool)?;
        let tls = certs::client_config(ca, Some(identity)).map_err(|e| BankCallError::Tls(e.to_string()))?;
        let reads = std::sync::Arc::new(super::reads::ReadPool::new(bank.api(), &tls, settings.timeouts)?);
        let control = build_http_client(ca, identity, &settings.timeouts, Protocol::Http2)?;
        let breaker = std::sync::Arc::new(super::CircuitBreaker::new(settings.breaker));
        Ok(Self { bank, http, reads, control, oauth, breaker })
    }

    pub fn bank(&self) -> &BankEntry {
        &self.bank
    }

    /// The bank's circuit breaker (the resource API consults it around [`get_json`](Self::get_json)).
    pub fn breaker(&self) -> &super::CircuitBreaker {
        &self.breaker
    }

    /// RFC 6749 §4.1.1 authorization request URL, with a fresh PKCE S256 pair (RFC 7636 §4.1-4.3). Keep the
    /// verifier with `state` until the redirect comes back. `purposes` (space-joined), `platform`, `recipient` (the
    /// downstream app the gateway asks for: the banks' sharing policies match it instead of the gateway's own
    /// client id) and `duration_days` are the banks' extension parameters (RFC 6749 §3.1); scopes are
    /// `fdx:<cluster>:read`.
    pub fn authorize_url(
        &self,
        state: &str,
        scopes: &[String],
        purposes: &[String],
        platform: Option<&str>,
        recipient: Option<&str>,
        duration_days: Option<u32>,
    ) -> (oauth2::url::Url, PkceVerifier) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = state.to_owned();
        let mut request = self
            .oauth
            .authorize_url(move || CsrfToken::new(state))
            .add_scopes(scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge);
        if !purposes.is_empty() {
            request = request.add_extra_param("purpose", purposes.join(" "));
        }
        if let Some(platform) = platform {
            request = request.add_extra_param("platform", platform.to_owned());
        }
        if let Some(recipient) = recipient {
            request = request.add_extra_param("recipient", recipient.to_owned());
        }
        if let Some(days) = duration_days {
            request = request.add_extra_param("duration_days", days.to_string());
        }
        let (url, _state) = request.url();
        (url, PkceVerifier::new(verifier.into_secret()))
    }

    /// Check the redirect back from the bank and return the authorization code. In order: RFC 9207 §2.4 `iss` must
    /// equal this bank's issuer (before anything else in the response is trusted), then `state` must be ours
    /// (RFC 6749 §10.12, constant time), then an `error` is reported (§4.1.2.1), else `code` is returned.
    pub fn verify_callback<K, V>(
        &self,
        params: impl IntoIterator<Item = (K, V)>,
        expected_state: &str,
    ) -> Result<BankSecret, CallbackError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let (mut iss, mut state, mut code, mut error, mut description) = (None, None, None, None, None);
        for (key, value) in params {
            let (slot, name) = match key.as_ref() {
                "iss" => (&mut iss, "iss"),
                "state" => (&mut state, "state"),
                "code" => (&mut code, "code"),
                "error" => (&mut error, "error"),
                "error_description" => (&mut description, "error_description"),
                _ => continue,
            };
            // RFC 6749 §3.1: request and response parameters must not be included more than once.
            if slot.replace(value.as_ref().to_owned()).is_some() {
                return Err(CallbackError::Repeated(name));
            }
        }
        let iss = iss.ok_or(CallbackError::MissingIssuer)?;
        if iss != self.bank.issuer() {
            return Err(CallbackError::IssuerMismatch { received: iss });
        }
        let state = state.ok_or(CallbackError::StateMismatch)?;
        if !bool::from(state.as_bytes().ct_eq(expected_state.as_bytes())) {
            return Err(CallbackError::StateMismatch);
        }
        if let Some(error) = error {
            return Err(CallbackError::Denied { error, description });
        }
        code.filter(|c| !c.is_empty()).map(BankSecret::new).ok_or(CallbackError::MissingCode)
    }

    /// RFC 6749 §4.1.3 token request with the RFC 7636 §4.5 `code_verifier`; the client authenticates with its
    /// certificate and sends `client_id` in the body (RFC 8705 §2.1). `now` is the gateway's clock.
    pub async fn exchange_code(
        &self,
        code: &BankSecret,
        verifier: &PkceVerifier,
        now: OffsetDateTime,
    ) -> Result<BankTokenSet, BankOAuthError> {
        let response = self
            .oauth
            .exchange_code(AuthorizationCode::new(code.expose().to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.expose().to_owned()))
            .request_async(&OAuthTransport(&self.control))
            .await?;
        token_set(&response, now)
    }

    /// RFC 6749 §6: a new access token from the refresh token.
    pub async fn refresh(
        &self,
        refresh_token: &BankSecret,
        now: OffsetDateTime,
    ) -> Result<BankTokenSet, BankOAuthError> {
        let token = RefreshToken::new(refresh_token.expose().to_owned());
        let response = self.oauth.exchange_refresh_token(&token).request_async(&OAuthTransport(&self.control)).await?;
        let mut set = token_set(&response, now)?;
        // RFC 6749 §6: without a new refresh token, the old one stays valid.
        if set.refresh_token.is_none() {
            set.refresh_token = Some(refresh_token.clone());
        }
        Ok(set)
    }

    /// RFC 7009 §2.1: revoke a token at the bank. An unknown token also succeeds (§2.2).
    pub async fn revoke(&self, token: &BankSecret, kind: BankTokenKind) -> Result<(), BankOAuthError> {
        let secret = token.expose().to_owned();
        let token = match kind {
            BankTokenKind::Access => StandardRevocableToken::AccessToken(oauth2::AccessToken::new(secret)),
            BankTokenKind::Refresh => StandardRevocableToken::RefreshToken(RefreshToken::new(secret)),
        };
        let request = self.oauth.revoke_token(token).map_err(|e| BankOAuthError::Configuration(e.to_string()))?;
        request.request_async(&OAuthTransport(&self.control)).await.map_err(|e| match e {
            RequestTokenError::ServerResponse(response) => BankOAuthError::Refused {
                error: response.error().to_string(),
                description: response.error_description().cloned(),
            },
            RequestTokenError::Request(call) => BankOAuthError::Call(call),
            RequestTokenError::Parse(e, _) => BankOAuthError::InvalidResponse(e.to_string()),
            RequestTokenError::Other(message) => BankOAuthError::InvalidResponse(message),
        })
    }

    /// GET an FDX resource (`path` starts with `/fdx/v6/`) with the bank's access token (RFC 6750 §2.1) and the
    /// FAPI `x-fapi-interaction-id`. Answers below 500 come back as they are; transport failures, 5xx and
    /// malformed JSON become a [`BankCallError`] that knows whether a retry may help.
    pub async fn get_json(
        &self,
        path: &str,
        access_token: &BankSecret,
        interaction_id: &str,
    ) -> Result<BankResponse, BankCallError> {
        self.fdx_call(reqwest::Method::GET, path, access_token, interaction_id, None).await
    }

    /// POST a JSON body to an FDX path (FDX 6.2 `/notification-subscriptions`); as [`get_json`](Self::get_json).
    pub async fn post_json(
        &self,
        path: &str,
        access_token: &BankSecret,
        interaction_id: &str,
        body: &serde_json::Value,
    ) -> Result<BankResponse, BankCallError> {
        self.fdx_call(reqwest::Method::POST, path, access_token, interaction_id, Some(body)).await
    }

    /// DELETE an FDX resource (FDX 6.2 `/notification-subscriptions/{subscriptionId}`); 204 comes back with a `Null`
    /// body.
    pub async fn delete(
        &self,
        path: &str,
        access_token: &BankSecret,
        interaction_id: &str,
    ) -> Result<BankResponse, BankCallError> {
        self.fdx_call(reqwest::Method::DELETE, path, access_token, interaction_id, None).await
    }

    /// GET an FDX resource as [`get_json`](Self::get_json) does, the body left as the bank sent it (the resource
    /// API's filter reads the bytes, [`crate::fdx::filter`]); malformed JSON is the caller's to find.
    pub async fn get_raw(
        &self,
        path: &str,
        access_token: &BankSecret,
        interaction_id: &str,
    ) -> Result<RawBankResponse, BankCallError> {
        check_fdx_path(path)?;
        self.reads.get(path, access_token, interaction_id).await
    }

    /// One FDX call: the path rule, the bearer token, the interaction id, an optional JSON body, classified answers.
    async fn fdx_call(
        &self,
        method: reqwest::Method,
        path: &str,
        access_token: &BankSecret,
        interaction_id: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<BankResponse, BankCallError> {
        into_bank_response(self.send(method, path, access_token, interaction_id, body).await?).await
    }

    /// Sends one FDX request (the path rule, the bearer token, the interaction id, an optional JSON body).
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        access_token: &BankSecret,
        interaction_id: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<reqwest::Response, BankCallError> {
        check_fdx_path(path)?;
        // Reads on the pool, subscriptions (POST, DELETE) on the control connection (transport docs).
        let client = if method == reqwest::Method::GET { &self.http } else { &self.control };
        let mut request = client
            .request(method, self.bank.api_url(path))
            .bearer_auth(access_token.expose())
            .header("x-fapi-interaction-id", interaction_id)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.map_err(|e| BankCallError::from_reqwest(&e))
    }

    /// The sandbox shortcut at the bank: the RFC 6749 §4.5 extension grant [`SANDBOX_LOGIN_GRANT`] with a test
    /// user's public sandbox credentials, client authenticated by certificate as in the code exchange (RFC 8705
    /// §2.1). Answers the same [`BankTokenSet`] as [`exchange_code`](Self::exchange_code). Only the gateway's
    /// sandbox-only endpoint calls it; the password is sent to the bank's token endpoint and nowhere else.
    pub async fn sandbox_login(
        &self,
        login: &SandboxLogin<'_>,
        now: OffsetDateTime,
    ) -> Result<BankTokenSet, BankOAuthError> {
        // In a block: the serializer is not `Send` (it may hold an encoding override) and must not live across an await.
        let body = {
            let mut form = oauth2::url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", SANDBOX_LOGIN_GRANT)
                .append_pair("client_id", self.oauth.client_id().as_str())
                .append_pair("username", login.username)
                .append_pair("password", login.password)
                .append_pair("scope", &login.scopes.join(" "));
            if let Some(code) = login.mfa_code {
                form.append_pair("mfa_code", code);
            }
            if !login.purposes.is_empty() {
                form.append_pair("purpose", &login.purposes.join(" "));
            }
            if let Some(platform) = login.platform {
                form.append_pair("platform", platform);
            }
            if let Some(recipient) = login.recipient {
                form.append_pair("recipient", recipient);
            }
            if let Some(days) = login.duration_days {
                form.append_pair("duration_days", &days.to_string());
            }
            if let Some(accounts) = login.account_ids.filter(|a| !a.is_empty()) {
                form.append_pair("account_ids", &accounts.join(" "));
            }
            form.finish().into_bytes()
        };
        let request = http::Request::builder()
            .method(http::Method::POST)
            .uri(self.bank.token_endpoint())
            .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(http::header::ACCEPT, "application/json")
            .body(body)
            .map_err(|e| BankOAuthError::Configuration(format!("token request: {e}")))?;
        let response = oauth2::AsyncHttpClient::call(&OAuthTransport(&self.control), request).await?;
        let body = response.body();
        if response.status().is_success() {
            let tokens: BankTokenResponse = serde_json::from_slice(body)
                .map_err(|e| BankOAuthError::InvalidResponse(format!("token response: {e}")))?;
            return token_set(&tokens, now);
        }
        // RFC 6749 §5.2 error response.
        let refusal: BasicErrorResponse = serde_json::from_slice(body).map_err(|_| {
            BankOAuthError::InvalidResponse(format!("the bank answered {} without an OAuth error", response.status()))
        })?;
        Err(BankOAuthError::Refused {
            error: refusal.error().as_ref().to_owned(),
            description: refusal.error_description().cloned(),
        })
    }
}

/// The bank's sandbox-only RFC 6749 §4.5 extension grant type.
pub const SANDBOX_LOGIN_GRANT: &str = "urn:bankgate:params:oauth:grant-type:sandbox-login";

/// What [`BankClient::sandbox_login`] asks the bank for. `Debug` hides the password and the one-time code.
pub struct SandboxLogin<'a> {
    pub username: &'a str,
    /// A public sandbox test password (never a real credential: the shortcut exists only in the sandbox profile).
    pub password: &'a str,
    pub mfa_code: Option<&'a str>,
    /// `fdx:<cluster>:read` scopes.
    pub scopes: &'a [String],
    pub purposes: &'a [String],
    pub platform: Option<&'a str>,
    /// The third party the data is for (its client id at the gateway), judged by the bank's sharing policy.
    pub recipient: Option<&'a str>,
    pub duration_days: Option<u32>,
    /// The accounts to share; `None` shares every account of the customer.
    pub account_ids: Option<&'a [String]>,
}

impl std::fmt::Debug for SandboxLogin<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxLogin")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .field("mfa_code", &self.mfa_code.map(|_| "<hidden>"))
            .field("scopes", &self.scopes)
            .field("purposes", &self.purposes)
            .field("recipient", &self.recipient)
            .field("account_ids", &self.account_ids)
            .finish()
    }
}

fn token_set(response: &BankTokenResponse, now: OffsetDateTime) -> Result<BankTokenSet, BankOAuthError> {
    // RFC 6750 §4 / RFC 6749 §7.1: the banks issue bearer tokens; anything else we cannot use.
    if *response.token_type() != BasicTokenType::Bearer
        && !matches!(response.token_type(), BasicTokenType::Extension(t) if t.eq_ignore_ascii_case("bearer"))
    {
        return Err(BankOAuthError::InvalidResponse("token_type is not Bearer".into()));
    }
    let expires_at = match response.expires_in() {
        Some(lifetime) => Some(
            time::Duration::try_from(lifetime)
                .ok()
                .and_then(|d| now.checked_add(d))
                .ok_or_else(|| BankOAuthError::InvalidResponse("expires_in is out of range".into()))?,
        ),
        None => None,
    };
    let extra = response.extra_fields();
    Ok(BankTokenSet {
        access_token: BankSecret::new(response.access_token().secret().clone()),
        refresh_token: response.refresh_token().map(|t| BankSecret::new(t.secret().clone())),
        expires_at,
        scope: response.scopes().map(|scopes| scopes.iter().map(|s| s.as_str().to_owned()).collect()),
        consent_id: extra.consent_id.clone(),
        account_ids: extra.account_ids.clone(),
        subject: extra.sub.clone().filter(|s| !s.is_empty() && s.len() <= 256),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> BankClient {
        let pki = certs::Pki::generate().unwrap();
        let identity = pki.issue_client("gateway-client").unwrap();
        let bank =
            BankEntry::new("harbor", "Harbor Trust", "https://127.0.0.1:9112", "https://127.0.0.1:9111").unwrap();
        let settings = BankClientSettings {
            client_id: "gateway-client".into(),
            redirect_uri: "https://gateway.test/banks/callback".into(),
            timeouts: BankTimeouts::default(),
            breaker: Default::default(),
        };
        BankClient::new(bank, &pki.ca_der(), &identity, &settings).unwrap()
    }

    #[test]
    fn authorize_url_carries_pkce_s256_scopes_and_extensions() {
        let client = client();
        let scopes = vec!["fdx:accountbasic:read".to_owned(), "fdx:transactions:read".to_owned()];
        let (url, verifier) =
            client.authorize_url("st-1", &scopes, &["budgeting".into()], Some("plat_1"), Some("Ab9_app"), Some(90));
        assert!(url.as_str().starts_with("https://127.0.0.1:9112/oauth/authorize?"));
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        assert_eq!(get("response_type"), Some("code"));
        assert_eq!(get("client_id"), Some("gateway-client"));
        assert_eq!(get("state"), Some("st-1"));
        assert_eq!(get("redirect_uri"), Some("https://gateway.test/banks/callback"));
        assert_eq!(get("scope"), Some("fdx:accountbasic:read fdx:transactions:read"));
        assert_eq!(get("code_challenge_method"), Some("S256"));
        assert_eq!(get("purpose"), Some("budgeting"));
        assert_eq!(get("platform"), Some("plat_1"));
        assert_eq!(get("recipient"), Some("Ab9_app"));
        assert_eq!(get("duration_days"), Some("90"));
        // RFC 7636 §4.2: challenge = BASE64URL(SHA256(verifier)).
        let expected = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.expose().into()));
        assert_eq!(get("code_challenge"), Some(expected.as_str()));
        assert!(!format!("{verifier:?}").contains(verifier.expose()));
    }

    #[test]
    fn callback_checks_issuer_then_state_then_error() {
        let client = client();
        let good = [("code", "c1"), ("state", "st"), ("iss", "https://127.0.0.1:9112")];
        assert_eq!(client.verify_callback(good, "st").unwrap(), BankSecret::new("c1"));
        let other_bank = [("code", "c1"), ("state", "st"), ("iss", "https://127.0.0.1:9102")];
        assert!(matches!(client.verify_callback(other_bank, "st"), Err(CallbackError::IssuerMismatch { .. })));
        let trailing_slash = [("code", "c1"), ("state", "st"), ("iss", "https://127.0.0.1:9112/")];
        assert!(matches!(client.verify_callback(trailing_slash, "st"), Err(CallbackError::IssuerMismatch { .. })));
        assert_eq!(client.verify_callback([("code", "c1"), ("state", "st")], "st"), Err(CallbackError::MissingIssuer));
        assert_eq!(client.verify_callback(good, "other"), Err(CallbackError::StateMismatch));
        let twice = [("code", "c1"), ("state", "st"), ("state", "st"), ("iss", "https://127.0.0.1:9112")];
        assert_eq!(client.verify_callback(twice, "st"), Err(CallbackError::Repeated("state")));
        let denied = [("error", "access_denied"), ("state", "st"), ("iss", "https://127.0.0.1:9112")];
        assert!(matches!(
            client.verify_callback(denied, "st"),
            Err(CallbackError::Denied { error, .. }) if error == "access_denied"
        ));
        // An error from the wrong issuer is a mix-up first (RFC 9207 §2.4).
        let denied_elsewhere = [("error", "access_denied"), ("state", "st"), ("iss", "https://evil")];
        assert!(matches!(client.verify_callback(denied_elsewhere, "st"), Err(CallbackError::IssuerMismatch { .. })));
    }

    #[test]
    fn the_certificate_must_belong_to_the_client_id() {
        let pki = certs::Pki::generate().unwrap();
        let identity = pki.issue_client("someone-else").unwrap();
        let bank = BankEntry::new("b", "B", "https://127.0.0.1:1", "https://127.0.0.1:2").unwrap();
        let settings = BankClientSettings {
            client_id: "gateway-client".into(),
            redirect_uri: "https://gateway.test/cb".into(),
            timeouts: BankTimeouts::default(),
            breaker: Default::default(),
        };
        assert!(matches!(
            BankClient::new(bank, &pki.ca_der(), &identity, &settings),
            Err(BankOAuthError::Configuration(_))
        ));
    }
}
