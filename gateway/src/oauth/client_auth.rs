//! Client authentication at the token (and PAR) endpoint for `fapi2` clients: RFC 7523 `private_key_jwt` with the
//! FAPI 2.0 Security Profile rules (§5.3.2.1, §5.4.1), and RFC 8705 §2.1 `tls_client_auth` matching.
//!
//! `private_key_jwt` checks, in order: `client_assertion_type` (RFC 7521 §4.2), alg allow-list (PS256, ES256,
//! EdDSA), key selection in the client's registered JWKS, signature, `iss` == `sub` == client_id (RFC 7523 §3
//! items 1-2), `aud` EXACTLY the issuer identifier as a single string (FAPI 2.0 §5.3.2.1 item 8, RFC 7523bis: the
//! token endpoint URL and arrays are refused), `exp` in the future (item 4), `iat`/`nbf` not too far ahead, lifetime
//! bounded, `jti` present and never seen before (item 7, replay cache until `exp`).
//!
//! Clock-skew choice (FAPI 2.0 §5.3.2.1 item 9 leaves 10-60 s open): we accept `iat`/`nbf` up to
//! [`DEFAULT_FUTURE_SKEW`] = 10 s ahead and refuse anything further ahead; the tolerance is configurable up to the
//! 60 s ceiling, never beyond. Every failure is `invalid_client`. This module must never accept an assertion it
//! could not fully check (a replay cache error refuses), and never echo the assertion in an error.

use std::net::IpAddr;

use serde_json::Value;
use time::{Duration, OffsetDateTime};

use super::error::{OAuthError, OAuthErrorCode};
use super::jws::{CompactJws, JwsError, PublicJwk, SigningAlg, private_member};
use super::replay::ReplayCache;

/// RFC 7523 §2.2: the only `client_assertion_type` we accept.
pub const JWT_BEARER_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// `iat`/`nbf` this far in the future are accepted (FAPI 2.0 §5.3.2.1 item 9: "shall accept ... up to 10 seconds").
pub const DEFAULT_FUTURE_SKEW: Duration = Duration::seconds(10);
/// Never tolerate more than this (FAPI 2.0: "shall reject ... more than 60 seconds in the future").
pub const MAX_FUTURE_SKEW: Duration = Duration::seconds(60);
/// Longest accepted assertion lifetime (`exp` - `iat`, or `exp` - now when `iat` is absent).
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::minutes(5);
const MAX_JTI_LEN: usize = 256;

/// Why client authentication failed. Every variant maps to `invalid_client` (RFC 6749 §5.2, HTTP 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientAuthError {
    #[error("client_assertion_type must be {JWT_BEARER_ASSERTION_TYPE}")]
    WrongAssertionType,
    #[error("client_assertion is missing")]
    MissingAssertion,
    #[error("client_assertion: {0}")]
    Jws(#[from] JwsError),
    #[error("the client's registered JWKS is unusable: {0}")]
    BadClientJwks(String),
    #[error("no registered key of the client matches kid {0:?} and the assertion's alg")]
    UnknownKid(String),
    #[error("no registered key of the client can verify {0}")]
    NoKeyForAlg(&'static str),
    #[error("several registered keys could verify {0}: the assertion must name one by kid")]
    AmbiguousKey(&'static str),
    #[error("iss is missing")]
    MissingIss,
    #[error("sub is missing")]
    MissingSub,
    #[error("iss and sub must both be the client_id")]
    WrongIssOrSub,
    #[error("the client_id parameter names another client than the assertion")]
    ClientIdMismatch,
    #[error("aud is missing")]
    MissingAud,
    #[error("aud must be a single string, not an array (FAPI 2.0 §5.3.2.1)")]
    ArrayAud,
    #[error("aud must be exactly the issuer identifier {0:?}")]
    WrongAud(String),
    #[error("exp is missing")]
    MissingExp,
    #[error("the assertion has expired")]
    Expired,
    #[error("iat is too far in the future")]
    IssuedInFuture,
    #[error("nbf is too far in the future")]
    NotYetValid,
    #[error("the assertion lives longer than the allowed {0} seconds")]
    LifetimeTooLong(i64),
    #[error("jti is missing or not a usable string")]
    MissingJti,
    #[error("the assertion's jti was already used")]
    Replayed,
    #[error("the replay check could not be made")]
    ReplayCacheUnavailable,
    #[error("the client certificate does not match the registered {0}")]
    CertificateMismatch(&'static str),
}

impl ClientAuthError {
    /// The RFC 6749 error body: always `invalid_client`, except a replay cache outage (`server_error`).
    pub fn oauth_error(&self) -> OAuthError {
        let code = match self {
            Self::ReplayCacheUnavailable => OAuthErrorCode::ServerError,
            _ => OAuthErrorCode::InvalidClient,
        };
        OAuthError::new(code, self.to_string())
    }
}

/// A client's registered JWKS (RFC 7591 `jwks`), parsed once: its signature keys we can verify with.
#[derive(Debug, Clone)]
pub struct ClientJwks {
    keys: Vec<PublicJwk>,
}

impl ClientJwks {
    /// Parses `{"keys": [...]}`. Keys marked `use: enc` and key types we cannot verify with are skipped; a
    /// private key anywhere in the set, or a set with no usable key, is an error (reject at registration).
    pub fn from_json(jwks: &Value) -> Result<Self, ClientAuthError> {
        let list = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| ClientAuthError::BadClientJwks("no keys array".into()))?;
        let mut keys = Vec::new();
        for raw in list {
            if let Some(m) = private_member(raw) {
                return Err(ClientAuthError::BadClientJwks(format!("a key contains the private member {m:?}")));
            }
            if raw.get("use").and_then(Value::as_str) == Some("enc") {
                continue;
            }
            if let Ok(k) = PublicJwk::from_json(raw) {
                keys.push(k);
            }
        }
        if keys.is_empty() {
            return Err(ClientAuthError::BadClientJwks("no PS256/ES256/EdDSA signature key".into()));
        }
        Ok(Self { keys })
    }

    /// The usable keys.
    pub fn keys(&self) -> &[PublicJwk] {
        &self.keys
    }

    /// Picks the verification key: by `kid` when the header names one, else the only key able to verify `alg`.
    fn select(&self, kid: Option<&str>, alg: SigningAlg) -> Result<&PublicJwk, ClientAuthError> {
        if let Some(kid) = kid {
            return self
                .keys
                .iter()
                .find(|k| k.kid() == Some(kid) && k.supports(alg))
                .ok_or_else(|| ClientAuthError::UnknownKid(kid.chars().take(64).collect()));
        }
        let mut candidates = self.keys.iter().filter(|k| k.supports(alg));
        match (candidates.next(), candidates.next()) {
            (Some(k), None) => Ok(k),
            (None, _) => Err(ClientAuthError::NoKeyForAlg(alg.as_str())),
            (Some(_), Some(_)) => Err(ClientAuthError::AmbiguousKey(alg.as_str())),
        }
    }
}

/// The client-authentication parameters of a token/PAR request (RFC 7521 §4.2).
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientAssertionInput<'a> {
    /// `client_assertion_type`.
    pub client_assertion_type: Option<&'a str>,
    /// `client_assertion` (never log it).
    pub client_assertion: Option<&'a str>,
    /// `client_id`, optional with assertions; when present it must name the same client.
    pub client_id: Option<&'a str>,
}

impl ClientAssertionInput<'_> {
    /// Which client claims to be calling, UNVERIFIED: the `client_id` parameter, else the assertion's `sub`
    /// (else `iss`). Only for looking up the registration whose keys [`ClientAssertionValidator::validate`]
    /// then checks the assertion against.
    pub fn claimed_client_id(&self) -> Result<String, ClientAuthError> {
        if let Some(id) = self.client_id.filter(|s| !s.is_empty()) {
            return Ok(id.to_owned());
        }
        let jws = CompactJws::parse(self.client_assertion.ok_or(ClientAuthError::MissingAssertion)?)?;
        let sub = jws.claim_str("sub")?.or(jws.claim_str("iss")?);
        sub.map(str::to_owned).ok_or(ClientAuthError::MissingSub)
    }
}

/// The result of a successful `private_key_jwt` authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedClient {
    /// The authenticated client.
    pub client_id: String,
    /// The assertion's `jti` (now recorded in the replay cache).
    pub jti: String,
    /// The algorithm the assertion was signed with.
    pub alg: SigningAlg,
    /// RFC 7638 thumbprint of the client key that verified it.
    pub key_thumbprint: String,
}

/// The `private_key_jwt` rules of one authorization server (its issuer identifier and tolerances).
#[derive(Debug, Clone)]
pub struct ClientAssertionValidator {
    issuer: String,
    future_skew: Duration,
    max_lifetime: Duration,
}

impl ClientAssertionValidator {
    /// The validator for the authorization server whose issuer identifier (RFC 8414 `issuer`) is `issuer`.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self { issuer: issuer.into(), future_skew: DEFAULT_FUTURE_SKEW, max_lifetime: DEFAULT_MAX_LIFETIME }
    }

    /// Tolerance for `iat`/`nbf` ahead of `now`; clamped to 0..=60 s (FAPI 2.0 §5.3.2.1 item 9).
    pub fn with_future_skew(mut self, skew: Duration) -> Self {
        self.future_skew = skew.clamp(Duration::ZERO, MAX_FUTURE_SKEW);
        self
    }

    /// Longest accepted assertion lifetime (at least 1 s).
    pub fn with_max_lifetime(mut self, lifetime: Duration) -> Self {
        self.max_lifetime = lifetime.max(Duration::SECOND);
        self
    }

    /// The issuer identifier assertions must name as `aud`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Authenticates `client_id` (the registration looked up via
    /// [`ClientAssertionInput::claimed_client_id`]) with its registered `keys`, at time `now`. On success the
    /// assertion's `jti` is recorded in `replay` until its `exp`.
    pub async fn validate(
        &self,
        input: &ClientAssertionInput<'_>,
        client_id: &str,
        keys: &ClientJwks,
        now: OffsetDateTime,
        replay: &dyn ReplayCache,
    ) -> Result<AuthenticatedClient, ClientAuthError> {
        // RFC 7521 §4.2: the assertion type must be the JWT bearer one.
        if input.client_assertion_type != Some(JWT_BEARER_ASSERTION_TYPE) {
            return Err(ClientAuthError::WrongAssertionType);
        }
        let assertion = input.client_assertion.filter(|a| !a.is_empty()).ok_or(ClientAuthError::MissingAssertion)?;
        // RFC 7521 §4.2: a client_id parameter alongside must identify the same client.
        if input.client_id.is_some_and(|id| id != client_id) {
            return Err(ClientAuthError::ClientIdMismatch);
        }
        let jws = CompactJws::parse(assertion)?;
        // FAPI 2.0 §5.4.1: PS256, ES256 or EdDSA only (RS256, HS*, none refused).
        let alg = jws.alg()?;
        let key = keys.select(jws.header_str("kid"), alg)?;
        // RFC 7523 §3 item 9: the JWT must be digitally signed by the client.
        jws.verify(alg, key)?;

        // RFC 7523 §3 items 1-2 (RFC 7523bis): iss and sub are both the client_id.
        let iss = jws.claim_str("iss")?.ok_or(ClientAuthError::MissingIss)?;
        let sub = jws.claim_str("sub")?.ok_or(ClientAuthError::MissingSub)?;
        if iss != client_id || sub != client_id {
            return Err(ClientAuthError::WrongIssOrSub);
        }
        // FAPI 2.0 §5.3.2.1 item 8 / RFC 7523bis §3: aud is the issuer identifier, as a single string, exactly.
        match jws.claims.get("aud") {
            None => return Err(ClientAuthError::MissingAud),
            Some(Value::Array(_)) => return Err(ClientAuthError::ArrayAud),
            Some(Value::String(aud)) if *aud == self.issuer => {}
            Some(_) => return Err(ClientAuthError::WrongAud(self.issuer.clone())),
        }
        // RFC 7523 §3 item 4: exp is required and in the future.
        let now_s = now.unix_timestamp();
        let exp = jws.claim_numeric_date("exp")?.ok_or(ClientAuthError::MissingExp)?;
        if exp <= now_s {
            return Err(ClientAuthError::Expired);
        }
        // FAPI 2.0 §5.3.2.1 item 9: iat/nbf at most `future_skew` ahead.
        let latest_ok = now_s.saturating_add(self.future_skew.whole_seconds());
        let iat = jws.claim_numeric_date("iat")?;
        if iat.is_some_and(|iat| iat > latest_ok) {
            return Err(ClientAuthError::IssuedInFuture);
        }
        if jws.claim_numeric_date("nbf")?.is_some_and(|nbf| nbf > latest_ok) {
            return Err(ClientAuthError::NotYetValid);
        }
        // RFC 7523 §3 item 4 ("reject JWTs with an unreasonably far future exp"): bounded lifetime.
        let max = self.max_lifetime.whole_seconds();
        if exp.saturating_sub(iat.map_or(now_s, |i| i.min(now_s))) > max {
            return Err(ClientAuthError::LifetimeTooLong(max));
        }
        // RFC 7523 §3 item 7: jti required, single use while the assertion is valid.
        let jti = jws
            .claim_str("jti")
            .ok()
            .flatten()
            .filter(|j| !j.is_empty() && j.len() <= MAX_JTI_LEN)
            .ok_or(ClientAuthError::MissingJti)?;
        let expires_at = OffsetDateTime::from_unix_timestamp(exp).map_err(|_| ClientAuthError::Expired)?;
        let cache_key = format!("client_assertion:{client_id}:{jti}");
        match replay.insert_if_absent(&cache_key, expires_at, now).await {
            Ok(true) => {}
            Ok(false) => return Err(ClientAuthError::Replayed),
            Err(_) => return Err(ClientAuthError::ReplayCacheUnavailable),
        }
        Ok(AuthenticatedClient {
            client_id: client_id.to_owned(),
            jti: jti.to_owned(),
            alg,
            key_thumbprint: key.thumbprint().to_owned(),
        })
    }
}

// ---------------------------------------------------------------------------------------------------------------
// RFC 8705 §2.1: tls_client_auth (PKI mutual TLS).

/// The one certificate attribute a `tls_client_auth` client registered (RFC 8705 §2.1.2: exactly one of these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsClientAuthSubject {
    /// `tls_client_auth_subject_dn`: an RFC 4514 string.
    SubjectDn(String),
    /// `tls_client_auth_san_dns`.
    SanDns(String),
    /// `tls_client_auth_san_uri`.
    SanUri(String),
    /// `tls_client_auth_san_ip`.
    SanIp(IpAddr),
    /// `tls_client_auth_san_email`.
    SanEmail(String),
}

/// What the TLS layer parsed from the client certificate it validated against our trust anchors (chain
/// validation is the TLS layer's job; this module only matches the registered subject).
#[derive(Debug, Clone, Default)]
pub struct PresentedCertificate {
    /// The subject DN as an RFC 4514 string.
    pub subject_dn: String,
    /// dNSName SAN entries.
    pub san_dns: Vec<String>,
    /// uniformResourceIdentifier SAN entries.
    pub san_uri: Vec<String>,
    /// iPAddress SAN entries.
    pub san_ip: Vec<IpAddr>,
    /// rfc822Name SAN entries.
    pub san_email: Vec<String>,
}

/// An RFC 4514 DN reduced for comparison: RDNs in order, attribute types lower-case, values trimmed,
/// inner whitespace collapsed and case-folded, multi-valued RDNs sorted. A practical approximation of
/// RFC 4517 distinguishedNameMatch (which RFC 8705 §2.1.2 names) for the attribute types certificates use.
fn normalize_dn(dn: &str) -> Vec<Vec<(String, String)>> {
    fn split_unescaped(s: &str, sep: char) -> Vec<String> {
        let (mut out, mut cur, mut escaped) = (Vec::new(), String::new(), false);
        for c in s.chars() {
            if escaped {
                cur.push(c);
                escaped = false;
            } else if c == '\\' {
                cur.push(c);
                escaped = true;
            } else if c == sep {
                out.push(std::mem::take(&mut cur));
            } else {
                cur.push(c);
            }
        }
        out.push(cur);
        out
    }
    split_unescaped(dn, ',')
        .iter()
        .map(|rdn| {
            let mut avas: Vec<(String, String)> = split_unescaped(rdn, '+')
                .iter()
                .map(|ava| {
                    let (t, v) = ava.split_once('=').unwrap_or((ava.as_str(), ""));
                    let v = v.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
                    (t.trim().to_ascii_lowercase(), v)
                })
                .collect();
            avas.sort();
            avas
        })
        .collect()
}

/// RFC 8705 §2.1.2: does the presented certificate carry the registered subject DN or SAN?
pub fn match_tls_client_auth(
    registered: &TlsClientAuthSubject,
    presented: &PresentedCertificate,
) -> Result<(), ClientAuthError> {
    let ok = match registered {
        TlsClientAuthSubject::SubjectDn(dn) => {
            !presented.subject_dn.trim().is_empty() && normalize_dn(dn) == normalize_dn(&presented.subject_dn)
        }
        // DNS names are case-insensitive (RFC 4343); a trailing root dot is not significant.
        TlsClientAuthSubject::SanDns(name) => {
            let want = name.trim_end_matches('.');
            presented.san_dns.iter().any(|d| d.trim_end_matches('.').eq_ignore_ascii_case(want))
        }
        TlsClientAuthSubject::SanUri(uri) => presented.san_uri.iter().any(|u| u == uri),
        TlsClientAuthSubject::SanIp(ip) => presented.san_ip.contains(ip),
        // RFC 5321: the local part is case-sensitive, the domain is not.
        TlsClientAuthSubject::SanEmail(mail) => {
            presented.san_email.iter().any(|m| match (m.rsplit_once('@'), mail.rsplit_once('@')) {
                (Some((ml, md)), Some((wl, wd))) => ml == wl && md.eq_ignore_ascii_case(wd),
                _ => false,
            })
        }
    };
    if ok {
        Ok(())
    } else {
        Err(ClientAuthError::CertificateMismatch(match registered {
            TlsClientAuthSubject::SubjectDn(_) => "tls_client_auth_subject_dn",
            TlsClientAuthSubject::SanDns(_) => "tls_client_auth_san_dns",
            TlsClientAuthSubject::SanUri(_) => "tls_client_auth_san_uri",
            TlsClientAuthSubject::SanIp(_) => "tls_client_auth_san_ip",
            TlsClientAuthSubject::SanEmail(_) => "tls_client_auth_san_email",
        }))
    }
}

/// RFC 8705 §3.1: the `x5t#S256` confirmation value of a certificate (base64url SHA-256 of its DER), for
/// certificate-bound access tokens.
pub fn certificate_thumbprint_s256(der: &[u8]) -> String {
    thumbprint_text(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der).as_ref())
}

/// The `x5t#S256` of the client certificate of a connection (none presented: `None`), from the SHA-256 the
/// connection keeps: the binding of an issued token and the check of a presented one both use this.
pub fn peer_thumbprint_s256(peer: &certs::serve::PeerCertificates) -> Option<String> {
    peer.leaf_sha256().map(|digest| thumbprint_text(&digest))
}

/// A certificate's SHA-256 `digest` as `x5t#S256` carries it (base64url without padding).
fn thumbprint_text(digest: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(dn: &str) -> PresentedCertificate {
        PresentedCertificate {
            subject_dn: dn.into(),
            san_dns: vec!["App.Example.com".into()],
            san_uri: vec!["https://app.example.com/client".into()],
            san_ip: vec!["10.0.0.7".parse().expect("ip")],
            san_email: vec!["Ops@Example.com".into()],
        }
    }

    #[test]
    fn subject_dn_matches_modulo_case_and_spacing_but_not_another_subject() {
        let presented = cert("CN=budget-app,  O=Budget Co ,C=US");
        let registered = TlsClientAuthSubject::SubjectDn("cn=Budget-App,o=budget  co,c=us".into());
        assert_eq!(match_tls_client_auth(&registered, &presented), Ok(()));
        let other = TlsClientAuthSubject::SubjectDn("CN=evil-app,O=Budget Co,C=US".into());
        assert_eq!(
            match_tls_client_auth(&other, &presented),
            Err(ClientAuthError::CertificateMismatch("tls_client_auth_subject_dn"))
        );
        // RDN order is significant, and an escaped comma is not a separator.
        let reordered = TlsClientAuthSubject::SubjectDn("C=US,O=Budget Co,CN=budget-app".into());
        assert!(match_tls_client_auth(&reordered, &presented).is_err());
        let escaped = cert(r"CN=Budget\, Inc,C=US");
        assert!(
            match_tls_client_auth(&TlsClientAuthSubject::SubjectDn(r"CN=budget\, inc,C=US".into()), &escaped).is_ok()
        );
        assert!(match_tls_client_auth(&TlsClientAuthSubject::SubjectDn("CN=Budget".into()), &escaped).is_err());
    }

    #[test]
    fn san_variants_match_their_own_kind_only() {
        let presented = cert("CN=x");
        assert!(match_tls_client_auth(&TlsClientAuthSubject::SanDns("app.example.com.".into()), &presented).is_ok());
        assert!(match_tls_client_auth(&TlsClientAuthSubject::SanDns("example.com".into()), &presented).is_err());
        let uri = TlsClientAuthSubject::SanUri("https://app.example.com/client".into());
        assert!(match_tls_client_auth(&uri, &presented).is_ok());
        let ip = TlsClientAuthSubject::SanIp("10.0.0.7".parse().expect("ip"));
        assert!(match_tls_client_auth(&ip, &presented).is_ok());
        let mail = TlsClientAuthSubject::SanEmail("Ops@example.COM".into());
        assert!(match_tls_client_auth(&mail, &presented).is_ok());
        let mail_case = TlsClientAuthSubject::SanEmail("ops@example.com".into());
        assert!(match_tls_client_auth(&mail_case, &presented).is_err());
        let err = match_tls_client_auth(&mail_case, &PresentedCertificate::default()).expect_err("no SAN");
        assert_eq!(err.oauth_error().error, OAuthErrorCode::InvalidClient);
    }

    #[test]
    fn certificate_thumbprint_is_base64url_sha256() {
        // SHA-256 of the empty string.
        assert_eq!(certificate_thumbprint_s256(b""), "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
    }

    #[test]
    fn client_jwks_refuses_private_keys_and_empty_sets() {
        let private = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "c"}]});
        assert!(matches!(ClientJwks::from_json(&private), Err(ClientAuthError::BadClientJwks(_))));
        assert!(ClientJwks::from_json(&serde_json::json!({"keys": []})).is_err());
        assert!(ClientJwks::from_json(&serde_json::json!({})).is_err());
    }
}
