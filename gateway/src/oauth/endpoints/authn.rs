//! Client authentication dispatch for the token, PAR, introspection and revocation endpoints: decides which
//! method the request uses and runs the one check for it, then insists it is the method the client registered
//! (RFC 7591 §2 `token_endpoint_auth_method`).
//!
//! - `client_assertion` present: RFC 7523 `private_key_jwt`, checked by
//!   [`ClientAssertionValidator`](crate::oauth::client_auth::ClientAssertionValidator) against the client's
//!   registered JWKS (inline `jwks`, or `jwks_uri` through [`crate::oauth::jwks_fetch`]: cached, refetched at most
//!   once per 30 s when the assertion names an unknown `kid`) with the issuer as the only accepted `aud`;
//! - `Authorization: Basic`: RFC 6749 §2.3.1 `client_secret_basic`, for `sandbox` clients only and only while the
//!   deployment allows the sandbox profile;
//! - otherwise `client_id` plus a client certificate verified by the TLS layer: RFC 8705 §2.1 `tls_client_auth`.
//!
//! Every failure is `invalid_client` (401). This module must never say whether a client id exists, and never log
//! or echo an assertion or secret.

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use certs::serve::PeerCertificates;

use super::form::OAuthParams;
use super::register::{AuthMethod, ClientMetadata};
use crate::app::AppState;
use crate::error::OAuthFailure;
use crate::oauth::client_auth::{ClientAssertionInput, ClientAuthError, PresentedCertificate, match_tls_client_auth};
use crate::store::{ClientProfile, ClientRecord};

/// A client that proved its identity on this request.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    pub record: ClientRecord,
    pub metadata: ClientMetadata,
    pub method: AuthMethod,
}

fn refused(detail: &str) -> OAuthFailure {
    OAuthFailure::invalid_client(format!("client authentication failed: {detail}"))
}

fn assertion_refused(e: ClientAuthError) -> OAuthFailure {
    OAuthFailure::from(e.oauth_error())
}

/// Splits `Authorization: Basic base64(id:secret)` (RFC 7617 §2); `None` when the header is not Basic.
fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), OAuthFailure>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.split_once(':').map(|(id, secret)| (id.to_owned(), secret.to_owned())));
    Some(decoded.ok_or_else(|| {
        let mut e = refused("malformed Basic credentials");
        e.basic_challenge = true;
        e
    }))
}

/// RFC 8705 §2.1.2: the leaf certificate's subject DN and SANs, parsed for matching.
pub fn presented_certificate(der: &[u8]) -> Option<PresentedCertificate> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let mut presented = PresentedCertificate { subject_dn: cert.subject().to_string(), ..Default::default() };
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => presented.san_dns.push((*d).to_owned()),
                GeneralName::URI(u) => presented.san_uri.push((*u).to_owned()),
                GeneralName::RFC822Name(m) => presented.san_email.push((*m).to_owned()),
                GeneralName::IPAddress(bytes) => match bytes.len() {
                    4 => presented.san_ip.push(std::net::IpAddr::from(<[u8; 4]>::try_from(*bytes).ok()?)),
                    16 => presented.san_ip.push(std::net::IpAddr::from(<[u8; 16]>::try_from(*bytes).ok()?)),
                    _ => {}
                },
                _ => {}
            }
        }
    }
    Some(presented)
}

/// Registrations already validated by [`ClientMetadata::of_record`], by client id. An entry is used only while the
/// stored record is identical (same profile, same metadata document), so an updated registration is re-validated
/// on its first use and a stale parse is never trusted. Bounded: cleared when full.
#[derive(Debug, Default)]
pub struct ParsedClients {
    inner: std::sync::Mutex<std::collections::HashMap<String, (ClientRecord, ClientMetadata)>>,
}

/// Most parsed registrations kept.
const PARSED_CLIENTS_LIMIT: usize = 10_000;

impl ParsedClients {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, (ClientRecord, ClientMetadata)>> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get(&self, record: &ClientRecord) -> Option<ClientMetadata> {
        let guard = self.lock();
        let (cached, metadata) = guard.get(&record.client_id)?;
        (cached.profile == record.profile && cached.metadata == record.metadata).then(|| metadata.clone())
    }

    fn put(&self, record: &ClientRecord, metadata: &ClientMetadata) {
        let mut guard = self.lock();
        if guard.len() >= PARSED_CLIENTS_LIMIT {
            guard.clear();
        }
        guard.insert(record.client_id.clone(), (record.clone(), metadata.clone()));
    }
}

async fn load(state: &AppState, client_id: &str) -> Result<(ClientRecord, ClientMetadata), OAuthFailure> {
    let record = state.store.client(client_id).await?.ok_or_else(|| refused("unknown client or wrong credentials"))?;
    if let Some(metadata) = state.parsed_clients.get(&record) {
        return Ok((record, metadata));
    }
    let metadata = ClientMetadata::of_record(&record, state.config.allow_sandbox_profile)
        .map_err(|_| refused("the client's registration is not usable on this deployment"))?;
    state.parsed_clients.put(&record, &metadata);
    Ok((record, metadata))
}

/// Authenticates the calling client (rules in the module docs).
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<&PeerCertificates>,
    params: &OAuthParams,
) -> Result<AuthenticatedClient, OAuthFailure> {
    let now = state.now();
    if params.contains("client_assertion") || params.contains("client_assertion_type") {
        let input = ClientAssertionInput {
            client_assertion_type: params.get("client_assertion_type"),
            client_assertion: params.get("client_assertion"),
            client_id: params.get("client_id"),
        };
        let claimed = input.claimed_client_id().map_err(|e| OAuthFailure::from(e.oauth_error()))?;
        let (record, metadata) = load(state, &claimed).await?;
        if metadata.auth_method != AuthMethod::PrivateKeyJwt {
            return Err(refused("the client is not registered for private_key_jwt"));
        }
        let replay = state.assertion_replay.as_ref();
        if let Some(keys) = &metadata.jwks {
            state.assertions.validate(&input, &claimed, keys, now, replay).await.map_err(assertion_refused)?;
        } else {
            let uri = metadata.jwks_uri.as_deref().ok_or_else(|| refused("the client has no registered jwks"))?;
            let fetcher = &state.jwks_fetcher;
            let keys = fetcher.keys(&claimed, uri, now).await.map_err(|e| refused(&e.to_string()))?;
            match state.assertions.validate(&input, &claimed, &keys, now, replay).await {
                // Key rotation at the URI: one early refetch (rate-limited per client), then one more try. The
                // replay cache was not touched by the failed attempt (the jti is recorded only on success).
                Err(first @ (ClientAuthError::UnknownKid(_) | ClientAuthError::NoKeyForAlg(_))) => {
                    match fetcher.refresh(&claimed, uri, now).await {
                        Some(Ok(fresh)) => state
                            .assertions
                            .validate(&input, &claimed, &fresh, now, replay)
                            .await
                            .map_err(assertion_refused)?,
                        _ => return Err(assertion_refused(first)),
                    };
                }
                other => {
                    other.map_err(assertion_refused)?;
                }
            }
        }
        return Ok(AuthenticatedClient { record, metadata, method: AuthMethod::PrivateKeyJwt });
    }

    if let Some(credentials) = basic_credentials(headers) {
        let challenge = |mut e: OAuthFailure| {
            e.basic_challenge = true;
            e
        };
        let (client_id, secret) = credentials?;
        if !state.config.allow_sandbox_profile {
            return Err(challenge(refused("client_secret_basic is not available on this deployment")));
        }
        if params.get("client_id").is_some_and(|id| id != client_id) {
            return Err(challenge(refused("client_id differs from the Basic credentials")));
        }
        let (record, metadata) = load(state, &client_id).await.map_err(challenge)?;
        let secret_ok = metadata.secret_hash.is_some_and(|h| h.matches(&secret));
        if record.profile != ClientProfile::Sandbox
            || metadata.auth_method != AuthMethod::ClientSecretBasic
            || !secret_ok
        {
            return Err(challenge(refused("unknown client or wrong credentials")));
        }
        return Ok(AuthenticatedClient { record, metadata, method: AuthMethod::ClientSecretBasic });
    }

    let client_id = params.get("client_id").ok_or_else(|| refused("no client credentials in the request"))?;
    let leaf = peer.and_then(PeerCertificates::leaf).ok_or_else(|| refused("no client credentials in the request"))?;
    let (record, metadata) = load(state, client_id).await?;
    let subject = match (metadata.auth_method, &metadata.tls_subject) {
        (AuthMethod::TlsClientAuth, Some(subject)) => subject,
        _ => return Err(refused("the client is not registered for tls_client_auth")),
    };
    let presented = presented_certificate(leaf).ok_or_else(|| refused("the client certificate cannot be parsed"))?;
    match_tls_client_auth(subject, &presented).map_err(|e| OAuthFailure::from(e.oauth_error()))?;
    Ok(AuthenticatedClient { record, metadata, method: AuthMethod::TlsClientAuth })
}
