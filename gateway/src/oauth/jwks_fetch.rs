//! Fetching and caching the key sets of clients registered with an RFC 7591 §2 `jwks_uri` (for `private_key_jwt`,
//! RFC 7523): the one place in [`crate::oauth`] that does I/O.
//!
//! The fetch is bounded in every direction, because the URI is chosen by whoever registered: `https` only, no
//! redirects followed (a 3xx is an error), connect and total timeout [`FETCH_TIMEOUT`] (5 s), body capped at
//! [`MAX_JWKS_BYTES`] (64 KiB, counted while streaming, not trusted from `Content-Length`), HTTP 200 only.
//! Trust decision: the server must present a certificate chaining to the gateway's configured CA (the same CA its
//! listener and banks use). Public web PKI roots are not trusted: the sandbox runs offline, where no root store is
//! available, and a local sandbox's clients are local too. A fetcher built without a CA
//! ([`JwksFetcher::without_trust`], used by state built in tests without TLS) refuses every fetch.
//!
//! Cache: per client, for [`CACHE_TTL`] (5 min) of the gateway's [`Clock`](crate::config::Clock) (so scenarios
//! and tests move it, never sleep); an assertion naming an unknown `kid` may trigger one early refetch per client
//! per [`REFETCH_INTERVAL`] (30 s), which is how key rotation at the URI is picked up. A failed fetch is
//! remembered for the same interval so a broken or slow URI cannot make the gateway call out on every request.
//! This module must never follow a redirect, read an unbounded body, log a fetched key set or the URI's
//! response body, or hold its lock across a network call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};

use super::client_auth::ClientJwks;

/// Connect timeout and total timeout of one fetch.
pub const FETCH_TIMEOUT: StdDuration = StdDuration::from_secs(5);
/// Largest key set body accepted.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// How long a fetched key set is used before it is fetched again.
pub const CACHE_TTL: Duration = Duration::minutes(5);
/// At most one early refetch (unknown `kid`) or retry after a failure per client in this interval.
pub const REFETCH_INTERVAL: Duration = Duration::seconds(30);

/// Why a client's key set could not be obtained (every variant ends as `invalid_client` at the endpoints).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksFetchError {
    #[error("this gateway has no trust anchor for fetching jwks_uri")]
    NoTrust,
    #[error("jwks_uri must be an https URL")]
    NotHttps,
    #[error("fetching jwks_uri timed out")]
    Timeout,
    #[error("jwks_uri answered with a body over {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    #[error("jwks_uri answered HTTP {0} (redirects are not followed; 200 is required)")]
    Status(u16),
    #[error("jwks_uri could not be fetched: {0}")]
    Transport(String),
    #[error("jwks_uri did not return a usable key set: {0}")]
    Invalid(String),
    #[error("jwks_uri failed recently; not retried before {REFETCH_INTERVAL} have passed: {0}")]
    RecentlyFailed(Box<JwksFetchError>),
}

#[derive(Debug, Clone)]
struct CachedJwks {
    uri: String,
    /// The last good key set and when it was fetched.
    keys: Option<(Arc<ClientJwks>, OffsetDateTime)>,
    /// The last fetch attempt (success or failure), for the refetch rate limit.
    last_attempt: OffsetDateTime,
    last_error: Option<JwksFetchError>,
}

/// Fetches client key sets over HTTPS and caches them per client (rules in the module docs).
#[derive(Debug)]
pub struct JwksFetcher {
    http: Option<reqwest::Client>,
    cache: Mutex<HashMap<String, CachedJwks>>,
}

impl JwksFetcher {
    /// A fetcher trusting exactly `ca`, with the [`FETCH_TIMEOUT`] bounds.
    pub fn new(ca: &CertificateDer<'static>) -> anyhow::Result<Self> {
        Self::with_timeout(ca, FETCH_TIMEOUT)
    }

    /// Like [`JwksFetcher::new`] with another connect/total timeout (tests use a short one; never above 5 s).
    pub fn with_timeout(ca: &CertificateDer<'static>, timeout: StdDuration) -> anyhow::Result<Self> {
        let timeout = timeout.min(FETCH_TIMEOUT);
        let tls = certs::client_config(ca, None)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(rustls::ClientConfig::clone(&tls))
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()?;
        Ok(Self { http: Some(http), cache: Mutex::default() })
    }

    /// A fetcher that refuses every fetch (state without TLS material).
    pub fn without_trust() -> Self {
        Self { http: None, cache: Mutex::default() }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, CachedJwks>> {
        // A poisoned lock still holds a valid map of plain values; the worst case is a stale entry.
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The client's key set: cached while younger than [`CACHE_TTL`] (and fetched from the same `uri`), else
    /// fetched now, unless the last attempt failed less than [`REFETCH_INTERVAL`] ago.
    pub async fn keys(
        &self,
        client_id: &str,
        uri: &str,
        now: OffsetDateTime,
    ) -> Result<Arc<ClientJwks>, JwksFetchError> {
        if let Some(entry) = self.cache().get(client_id).filter(|e| e.uri == uri) {
            if let Some((keys, fetched_at)) = &entry.keys
                && age(now, *fetched_at).is_some_and(|a| a < CACHE_TTL)
            {
                return Ok(keys.clone());
            }
            if let Some(error) = &entry.last_error
                && age(now, entry.last_attempt).is_some_and(|a| a < REFETCH_INTERVAL)
            {
                return Err(JwksFetchError::RecentlyFailed(Box::new(error.clone())));
            }
        }
        self.fetch_and_store(client_id, uri, now).await
    }

    /// An early refetch after an assertion named a `kid` the cached set does not have. `None` when the client's
    /// URI was fetched less than [`REFETCH_INTERVAL`] ago (the caller keeps its "unknown kid" refusal).
    pub async fn refresh(
        &self,
        client_id: &str,
        uri: &str,
        now: OffsetDateTime,
    ) -> Option<Result<Arc<ClientJwks>, JwksFetchError>> {
        let limited = self
            .cache()
            .get(client_id)
            .filter(|e| e.uri == uri)
            .is_some_and(|e| age(now, e.last_attempt).is_some_and(|a| a < REFETCH_INTERVAL));
        if limited {
            return None;
        }
        Some(self.fetch_and_store(client_id, uri, now).await)
    }

    /// Forgets a client's cached set (after its registration changed or was deleted).
    pub fn forget(&self, client_id: &str) {
        self.cache().remove(client_id);
    }

    async fn fetch_and_store(
        &self,
        client_id: &str,
        uri: &str,
        now: OffsetDateTime,
    ) -> Result<Arc<ClientJwks>, JwksFetchError> {
        let result = self.fetch(uri).await.map(Arc::new);
        let mut cache = self.cache();
        let previous = cache.remove(client_id).filter(|e| e.uri == uri).and_then(|e| e.keys);
        let entry = match &result {
            Ok(keys) => {
                CachedJwks { uri: uri.to_owned(), keys: Some((keys.clone(), now)), last_attempt: now, last_error: None }
            }
            // A failed refetch keeps the previous good set for the rest of its TTL.
            Err(e) => {
                CachedJwks { uri: uri.to_owned(), keys: previous, last_attempt: now, last_error: Some(e.clone()) }
            }
        };
        cache.insert(client_id.to_owned(), entry);
        if let Err(error) = &result {
            tracing::info!(%client_id, %error, "client jwks_uri fetch failed");
        }
        result
    }

    /// One bounded GET (rules in the module docs).
    async fn fetch(&self, uri: &str) -> Result<ClientJwks, JwksFetchError> {
        let http = self.http.as_ref().ok_or(JwksFetchError::NoTrust)?;
        let url = reqwest::Url::parse(uri).map_err(|_| JwksFetchError::NotHttps)?;
        if url.scheme() != "https" {
            return Err(JwksFetchError::NotHttps);
        }
        let mut response = http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/jwk-set+json, application/json")
            .send()
            .await
            .map_err(transport)?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(JwksFetchError::Status(response.status().as_u16()));
        }
        if response.content_length().is_some_and(|n| n > MAX_JWKS_BYTES as u64) {
            return Err(JwksFetchError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(JwksFetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let json: serde_json::Value =
            serde_json::from_slice(&body).map_err(|_| JwksFetchError::Invalid("not JSON".into()))?;
        ClientJwks::from_json(&json).map_err(|e| JwksFetchError::Invalid(e.to_string()))
    }
}

/// `now - then`, or `None` when the clock went back past `then` (treated as stale: fetch again).
fn age(now: OffsetDateTime, then: OffsetDateTime) -> Option<Duration> {
    let age = now - then;
    (!age.is_negative()).then_some(age)
}

fn transport(e: reqwest::Error) -> JwksFetchError {
    if e.is_timeout() {
        JwksFetchError::Timeout
    } else {
        // Without the URL: the caller knows it, and the error text stays short.
        JwksFetchError::Transport(e.without_url().to_string())
    }
}
