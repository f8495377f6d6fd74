//! RFC 7591 dynamic client registration (`POST /register`) and RFC 7592 client configuration management
//! (`GET`/`PUT`/`DELETE /register/{client_id}` with the registration access token), plus the metadata rules shared
//! with clients declared in configuration ([`ClientMetadata::validate`]).
//!
//! Metadata rules (issue 3, FAPI 2.0 Security Profile):
//! - `redirect_uris`: required, `https` absolute URIs without fragment (RFC 6749 §3.1.2), compared later as exact
//!   strings; else `invalid_redirect_uri`.
//! - `profile`: `fapi2` (default) or `sandbox` (refused when the deployment switched the sandbox profile off).
//! - `token_endpoint_auth_method`: `private_key_jwt` (default) or `tls_client_auth`; `sandbox` clients may also use
//!   `client_secret_basic` (the secret is generated here, returned once, stored only as a SHA-256 hash).
//! - `private_key_jwt` needs either an inline `jwks` with a usable signature key and no private members, or an
//!   `https` `jwks_uri`; both at once is `invalid_client_metadata` (RFC 7591 §2: "MUST NOT both be present"). The
//!   URI is not fetched at registration (no outbound call on this path): [`crate::oauth::jwks_fetch`] fetches it,
//!   bounded and cached, when the client authenticates.
//! - `tls_client_auth` needs exactly one `tls_client_auth_*` subject member (RFC 8705 §2.1.2).
//! - `grant_types` ⊆ {authorization_code, refresh_token, client_credentials}; `response_types` ⊆ {code}.
//! - `purposes`: the declared purposes (non-empty, known names); `notification_uri`: optional https callback for
//!   events.
//! - `platform`: optional extension member (RFC 7591 §2), `[a-z0-9_-]{1,64}`: the platform the client acts for. The
//!   consent pages send it to the bank as `platform` (with `recipient` = the client id), where the bank's
//!   data-sharing policy may refuse it.
//!
//! Registration is open or gated by an RFC 7591 §3.1 initial access token (see
//! [`RegistrationPolicy`](crate::config::RegistrationPolicy)). This module must never store or log a client secret
//! or registration access token in clear, and compares them in constant time (via [`TokenHash::matches`]).

use std::net::IpAddr;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::random_token;
use crate::app::AppState;
use crate::config::RegistrationPolicy;
use crate::consent::Purpose;
use crate::error::OAuthFailure;
use crate::oauth::client_auth::{ClientJwks, TlsClientAuthSubject};
use crate::store::{ClientProfile, ClientRecord, StoreError, TokenHash};

/// How a client authenticates at the token endpoint (RFC 7591 §2 `token_endpoint_auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    PrivateKeyJwt,
    TlsClientAuth,
    /// `sandbox` profile only.
    ClientSecretBasic,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::TlsClientAuth => "tls_client_auth",
            Self::ClientSecretBasic => "client_secret_basic",
        }
    }
}

/// Internal metadata member holding the hex SHA-256 of a sandbox client's secret; never returned.
const SECRET_HASH_MEMBER: &str = "client_secret_hash";
const GRANT_TYPES: [&str; 3] = ["authorization_code", "refresh_token", "client_credentials"];
const TLS_SUBJECT_MEMBERS: [&str; 5] = [
    "tls_client_auth_subject_dn",
    "tls_client_auth_san_dns",
    "tls_client_auth_san_uri",
    "tls_client_auth_san_ip",
    "tls_client_auth_san_email",
];

/// A client's metadata, validated: what the endpoints need to authenticate it and check its requests.
#[derive(Debug, Clone)]
pub struct ClientMetadata {
    pub profile: ClientProfile,
    pub auth_method: AuthMethod,
    pub redirect_uris: Vec<String>,
    pub jwks: Option<ClientJwks>,
    /// RFC 7591 §2 `jwks_uri` (https), the alternative to `jwks`.
    pub jwks_uri: Option<String>,
    pub tls_subject: Option<TlsClientAuthSubject>,
    pub secret_hash: Option<TokenHash>,
    pub grant_types: Vec<String>,
    pub purposes: Vec<Purpose>,
    /// The platform the client acts for (extension member, RFC 7591 §2): sent to banks as `platform`, whose
    /// sharing policies may match it.
    pub platform: Option<String>,
}

fn string_member<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, OAuthFailure> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(OAuthFailure::invalid_client_metadata(format!("{name} must be a string"))),
    }
}

fn string_array(obj: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>, OAuthFailure> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| OAuthFailure::invalid_client_metadata(format!("{name} must be an array of strings"))),
        Some(_) => Err(OAuthFailure::invalid_client_metadata(format!("{name} must be an array of strings"))),
    }
}

/// `[a-z0-9_-]{1,64}`: the banks' rule for `platform`.
fn is_platform_identifier(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// RFC 6749 §3.1.2 + FAPI 2.0 §5.3.2.2: an absolute `https` URI with a host and no fragment.
fn check_https_uri(uri: &str) -> Result<(), String> {
    if uri.contains('#') {
        return Err(format!("{uri:?} must not contain a fragment"));
    }
    match reqwest::Url::parse(uri) {
        Ok(u) if u.scheme() == "https" && u.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        Ok(_) => Err(format!("{uri:?} must be an https URL")),
        Err(_) => Err(format!("{uri:?} is not an absolute URL")),
    }
}

impl ClientMetadata {
    /// Validates RFC 7591 metadata (rules in the module docs); `allow_sandbox` is the deployment switch.
    pub fn validate(metadata: &Value, allow_sandbox: bool) -> Result<ClientMetadata, OAuthFailure> {
        let obj = metadata
            .as_object()
            .ok_or_else(|| OAuthFailure::invalid_client_metadata("the metadata must be a JSON object"))?;

        let redirect_uris = string_array(obj, "redirect_uris")?
            .filter(|u| !u.is_empty())
            .ok_or_else(|| OAuthFailure::invalid_redirect_uri("redirect_uris is required"))?;
        for uri in &redirect_uris {
            check_https_uri(uri).map_err(|e| OAuthFailure::invalid_redirect_uri(format!("redirect_uri {e}")))?;
        }

        let profile = match string_member(obj, "profile")? {
            None => ClientProfile::Fapi2,
            Some(p) => ClientProfile::parse(p)
                .ok_or_else(|| OAuthFailure::invalid_client_metadata("profile must be fapi2 or sandbox"))?,
        };
        if profile == ClientProfile::Sandbox && !allow_sandbox {
            return Err(OAuthFailure::invalid_client_metadata("the sandbox profile is switched off on this gateway"));
        }

        let auth_method = match (string_member(obj, "token_endpoint_auth_method")?, profile) {
            (None | Some("private_key_jwt"), _) => AuthMethod::PrivateKeyJwt,
            (Some("tls_client_auth"), _) => AuthMethod::TlsClientAuth,
            (Some("client_secret_basic"), ClientProfile::Sandbox) => AuthMethod::ClientSecretBasic,
            (Some(other), _) => {
                return Err(OAuthFailure::invalid_client_metadata(format!(
                    "token_endpoint_auth_method {other:?} is not allowed for {} clients (FAPI 2.0 §5.3.2.1: \
                     private_key_jwt or tls_client_auth)",
                    profile.as_str()
                )));
            }
        };

        let jwks_uri = string_member(obj, "jwks_uri")?.map(str::to_owned);
        if let Some(uri) = &jwks_uri {
            check_https_uri(uri).map_err(|e| OAuthFailure::invalid_client_metadata(format!("jwks_uri {e}")))?;
        }
        let jwks = match obj.get("jwks") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                ClientJwks::from_json(v).map_err(|e| OAuthFailure::invalid_client_metadata(format!("jwks: {e}")))?,
            ),
        };
        if jwks.is_some() && jwks_uri.is_some() {
            // RFC 7591 §2: "The jwks_uri and jwks parameters MUST NOT both be present in the same request".
            return Err(OAuthFailure::invalid_client_metadata("jwks and jwks_uri must not both be present"));
        }
        if auth_method == AuthMethod::PrivateKeyJwt && jwks.is_none() && jwks_uri.is_none() {
            return Err(OAuthFailure::invalid_client_metadata("private_key_jwt requires jwks or jwks_uri"));
        }

        let present: Vec<&str> = TLS_SUBJECT_MEMBERS.into_iter().filter(|m| obj.contains_key(*m)).collect();
        let tls_subject = match present.as_slice() {
            [] => None,
            [member] => {
                let value = string_member(obj, member)?
                    .filter(|v| !v.trim().is_empty())
                    .ok_or_else(|| OAuthFailure::invalid_client_metadata(format!("{member} must not be empty")))?;
                Some(match *member {
                    "tls_client_auth_subject_dn" => TlsClientAuthSubject::SubjectDn(value.into()),
                    "tls_client_auth_san_dns" => TlsClientAuthSubject::SanDns(value.into()),
                    "tls_client_auth_san_uri" => TlsClientAuthSubject::SanUri(value.into()),
                    "tls_client_auth_san_ip" => TlsClientAuthSubject::SanIp(value.parse::<IpAddr>().map_err(|_| {
                        OAuthFailure::invalid_client_metadata("tls_client_auth_san_ip is not an IP address")
                    })?),
                    _ => TlsClientAuthSubject::SanEmail(value.into()),
                })
            }
            _ => {
                return Err(OAuthFailure::invalid_client_metadata(
                    "exactly one tls_client_auth_* member may be registered (RFC 8705 §2.1.2)",
                ));
            }
        };
        if auth_method == AuthMethod::TlsClientAuth && tls_subject.is_none() {
            return Err(OAuthFailure::invalid_client_metadata(
                "tls_client_auth requires one of tls_client_auth_subject_dn, _san_dns, _san_uri, _san_ip, _san_email",
            ));
        }

        let grant_types = string_array(obj, "grant_types")?
            .unwrap_or_else(|| vec!["authorization_code".into(), "client_credentials".into()]);
        if let Some(bad) = grant_types.iter().find(|g| !GRANT_TYPES.contains(&g.as_str())) {
            return Err(OAuthFailure::invalid_client_metadata(format!("grant type {bad:?} is not supported")));
        }
        if let Some(types) = string_array(obj, "response_types")?
            && types.iter().any(|t| t != "code")
        {
            return Err(OAuthFailure::invalid_client_metadata("response_types may only contain \"code\""));
        }

        let purposes = string_array(obj, "purposes")?
            .filter(|p| !p.is_empty())
            .ok_or_else(|| OAuthFailure::invalid_client_metadata("purposes (the declared purposes) is required"))?
            .iter()
            .map(|p| p.parse::<Purpose>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| OAuthFailure::invalid_client_metadata(format!("purposes: {e}")))?;

        if let Some(uri) = string_member(obj, "notification_uri")? {
            check_https_uri(uri).map_err(|e| OAuthFailure::invalid_client_metadata(format!("notification_uri {e}")))?;
        }
        let secret_hash = string_member(obj, SECRET_HASH_MEMBER).ok().flatten().and_then(TokenHash::from_hex);
        let platform = string_member(obj, "platform")?.map(str::to_owned);
        if platform.as_deref().is_some_and(|p| !is_platform_identifier(p)) {
            return Err(OAuthFailure::invalid_client_metadata(
                "platform must be an identifier of [a-z0-9_-], 1-64 characters",
            ));
        }

        Ok(ClientMetadata {
            profile,
            auth_method,
            redirect_uris,
            jwks,
            jwks_uri,
            tls_subject,
            secret_hash,
            grant_types,
            purposes,
            platform,
        })
    }

    /// The metadata of a stored client (validated when it was registered; re-checked against today's switch).
    pub fn of_record(record: &ClientRecord, allow_sandbox: bool) -> Result<ClientMetadata, OAuthFailure> {
        Self::validate(&record.metadata, allow_sandbox)
    }
}

/// The metadata as stored: the request's members with defaults filled in, without any client-supplied
/// `client_id`/secret members, plus the internal secret hash when one was issued.
fn normalized(request: &Value, parsed: &ClientMetadata, secret_hash: Option<TokenHash>) -> Value {
    let mut obj = request.as_object().cloned().unwrap_or_default();
    for member in ["client_id", "client_secret", "client_id_issued_at", "client_secret_expires_at", SECRET_HASH_MEMBER]
    {
        obj.remove(member);
    }
    obj.remove("registration_access_token");
    obj.remove("registration_client_uri");
    obj.insert("profile".into(), json!(parsed.profile.as_str()));
    obj.insert("token_endpoint_auth_method".into(), json!(parsed.auth_method.as_str()));
    obj.insert("grant_types".into(), json!(parsed.grant_types));
    obj.insert("response_types".into(), json!(["code"]));
    if let Some(hash) = secret_hash {
        obj.insert(SECRET_HASH_MEMBER.into(), json!(hash.to_hex()));
    }
    Value::Object(obj)
}

/// The client information response (RFC 7591 §3.2.1 / RFC 7592 §3): metadata without internal members.
fn information(state: &AppState, record: &ClientRecord, extra: &[(&str, Value)]) -> Value {
    let mut obj = record.metadata.as_object().cloned().unwrap_or_default();
    obj.remove(SECRET_HASH_MEMBER);
    obj.insert("client_id".into(), json!(record.client_id));
    obj.insert("client_id_issued_at".into(), json!(record.created_at.unix_timestamp()));
    obj.insert("registration_client_uri".into(), json!(state.url(&format!("/register/{}", record.client_id))));
    for (k, v) in extra {
        obj.insert((*k).into(), v.clone());
    }
    Value::Object(obj)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

fn created(body: Value) -> Response {
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    response
}

fn json_body(body: Result<Json<Value>, axum::extract::rejection::JsonRejection>) -> Result<Value, OAuthFailure> {
    body.map(|Json(v)| v).map_err(|e| OAuthFailure::invalid_client_metadata(format!("body: {}", e.body_text())))
}

/// Issues a client secret for `client_secret_basic` clients: returns (secret, hash).
fn new_secret(parsed: &ClientMetadata) -> Result<Option<(String, TokenHash)>, OAuthFailure> {
    if parsed.auth_method != AuthMethod::ClientSecretBasic {
        return Ok(None);
    }
    let secret = random_token(32)?;
    let hash = TokenHash::of(&secret);
    Ok(Some((secret, hash)))
}

/// RFC 7591 §3.1: `POST /register`.
pub async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, OAuthFailure> {
    if let RegistrationPolicy::InitialAccessToken(expected) = &state.config.registration
        && !bearer(&headers).is_some_and(|t| expected.matches(t))
    {
        return Err(OAuthFailure::invalid_token("a valid initial access token is required (RFC 7591 §3.1)"));
    }
    let request = json_body(body)?;
    let parsed = ClientMetadata::validate(&request, state.config.allow_sandbox_profile)?;
    let secret = new_secret(&parsed)?;
    let registration_token = random_token(32)?;
    let now = state.now();
    let record = ClientRecord {
        client_id: random_token(16)?,
        metadata: normalized(&request, &parsed, secret.as_ref().map(|s| s.1)),
        registration_token_hash: Some(TokenHash::of(&registration_token)),
        profile: parsed.profile,
        created_at: now,
        updated_at: now,
    };
    state.store.insert_client(&record).await?;
    tracing::info!(client_id = %record.client_id, profile = parsed.profile.as_str(), "client registered");
    let mut extra = vec![("registration_access_token", json!(registration_token))];
    if let Some((secret, _)) = secret {
        extra.push(("client_secret", json!(secret)));
        extra.push(("client_secret_expires_at", json!(0)));
    }
    Ok(created(information(&state, &record, &extra)))
}

/// RFC 7592 §2: the client and a matching registration access token, or 401 (also for an unknown client, so the
/// endpoint does not reveal which client ids exist).
async fn authorized_client(
    state: &AppState,
    client_id: &str,
    headers: &HeaderMap,
) -> Result<ClientRecord, OAuthFailure> {
    let refused = || OAuthFailure::invalid_token("the registration access token is not valid for this client");
    let token = bearer(headers).ok_or_else(refused)?;
    let record = state.store.client(client_id).await?.ok_or_else(refused)?;
    match &record.registration_token_hash {
        Some(hash) if hash.matches(token) => Ok(record),
        _ => Err(refused()),
    }
}

/// RFC 7592 §2.1: read the client's configuration.
pub async fn read(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, OAuthFailure> {
    let record = authorized_client(&state, &client_id, &headers).await?;
    let mut response = Json(information(&state, &record, &[])).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(response)
}

/// RFC 7592 §2.2: replace the client's metadata (the body's `client_id` must be this client's). The registration
/// access token stays valid; a `client_secret_basic` client gets a new secret.
pub async fn update(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, OAuthFailure> {
    let mut record = authorized_client(&state, &client_id, &headers).await?;
    let request = json_body(body)?;
    if request.get("client_id").and_then(Value::as_str) != Some(client_id.as_str()) {
        return Err(OAuthFailure::invalid_request("the body's client_id must be the client's (RFC 7592 §2.2)"));
    }
    if request.get("client_secret").is_some() {
        return Err(OAuthFailure::invalid_request("client_secret cannot be chosen by the client"));
    }
    let parsed = ClientMetadata::validate(&request, state.config.allow_sandbox_profile)?;
    let secret = new_secret(&parsed)?;
    record.metadata = normalized(&request, &parsed, secret.as_ref().map(|s| s.1));
    record.profile = parsed.profile;
    record.updated_at = state.now();
    if !state.store.update_client(&record).await? {
        return Err(OAuthFailure::invalid_token("the client no longer exists"));
    }
    let mut extra = Vec::new();
    if let Some((secret, _)) = secret {
        extra.push(("client_secret", json!(secret)));
        extra.push(("client_secret_expires_at", json!(0)));
    }
    let mut response = Json(information(&state, &record, &extra)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(response)
}

/// RFC 7592 §2.3: deregister (its requests, consents and tokens go with it).
pub async fn delete(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, OAuthFailure> {
    authorized_client(&state, &client_id, &headers).await?;
    state.store.delete_client(&client_id).await?;
    state.jwks_fetcher.forget(&client_id);
    tracing::info!(%client_id, "client deregistered");
    Ok(StatusCode::NO_CONTENT)
}

/// Inserts the clients declared in configuration (validated like registrations; no registration access token).
/// An already stored declared client is replaced by the configured metadata.
pub async fn declare_configured_clients(state: &AppState) -> Result<(), anyhow::Error> {
    for declared in &state.config.clients {
        let parsed = ClientMetadata::validate(&declared.metadata, state.config.allow_sandbox_profile).map_err(|e| {
            anyhow::anyhow!("configured client {:?}: {}: {}", declared.client_id, e.error, e.description)
        })?;
        let now = state.now();
        let record = ClientRecord {
            client_id: declared.client_id.clone(),
            metadata: normalized(&declared.metadata, &parsed, parsed.secret_hash),
            registration_token_hash: None,
            profile: parsed.profile,
            created_at: now,
            updated_at: now,
        };
        match state.store.insert_client(&record).await {
            Ok(()) => {}
            Err(StoreError::Duplicate) => {
                state.store.update_client(&record).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
