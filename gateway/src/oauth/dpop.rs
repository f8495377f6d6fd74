//! DPoP proof validation (RFC 9449): at the token endpoint (binding new tokens to the client's key) and at the
//! resource API (proving possession of the key a token is bound to). The checks follow RFC 9449 §4.3, cited by
//! their number there, plus `jti` replay (§11.1) and server nonces (§8, §9).
//!
//! Server nonces are stateless so every replica can verify them: a nonce is base64url(HMAC-SHA-256(secret, time
//! slot)); one minted in the current or the previous slot is accepted. A missing or stale nonce yields
//! `use_dpop_nonce` carrying a fresh nonce for the `DPoP-Nonce` response header.
//!
//! The result is the key's RFC 7638 thumbprint `jkt`, for `cnf.jkt` (§6.1) and for PAR's `dpop_jkt` (§10).
//! This module must never accept a proof signed with a symmetric algorithm or `none`, a `jwk` carrying private
//! material, or a proof whose replay check could not be made; and never log the access token.

use std::fmt;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

use super::error::{OAuthError, OAuthErrorCode};
use super::jws::{CompactJws, JwsError, PublicJwk, SigningAlg};
use super::replay::ReplayCache;

/// RFC 9449 §4.2: the `typ` of a DPoP proof.
pub const DPOP_JWT_TYPE: &str = "dpop+jwt";
/// Default acceptance window for `iat` on either side of `now` (RFC 9449 §11.1 leaves it to the server).
pub const DEFAULT_IAT_WINDOW: Duration = Duration::seconds(60);
/// Default length of a nonce time slot; a nonce is valid for its slot and the next one.
pub const DEFAULT_NONCE_SLOT: Duration = Duration::minutes(5);
const MAX_JTI_LEN: usize = 256;

/// Why a DPoP proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpopError {
    #[error("a DPoP proof is required")]
    MissingProof,
    #[error("check 1: exactly one DPoP header is allowed")]
    MultipleProofs,
    #[error("check 2: the DPoP proof is not a well-formed JWT: {0}")]
    Malformed(JwsError),
    #[error("check 3: the DPoP proof lacks {0}")]
    MissingClaim(&'static str),
    #[error("check 4: typ must be dpop+jwt")]
    WrongTyp,
    #[error("check 5: {0}")]
    Alg(JwsError),
    #[error("check 7: the jwk header must be a public key: {0}")]
    BadJwk(JwsError),
    #[error("check 6: the signature does not verify with the jwk header")]
    BadSignature,
    #[error("check 8: htm does not match the request method")]
    WrongHtm,
    #[error("check 9: htu does not match the request URI")]
    WrongHtu,
    #[error("check 10: a DPoP nonce is required")]
    NonceRequired { fresh_nonce: String },
    #[error("check 10: the DPoP nonce is invalid or stale")]
    StaleNonce { fresh_nonce: String },
    #[error("check 11: iat is outside the accepted window")]
    IatOutOfWindow,
    #[error("check 12: ath does not match the access token")]
    WrongAth,
    #[error("check 12: the proof key is not the key the token or request is bound to")]
    KeyMismatch,
    #[error("the proof's jti was already used")]
    Replayed,
    #[error("the replay check could not be made")]
    ReplayCacheUnavailable,
}

impl DpopError {
    /// The RFC 9449 error: `use_dpop_nonce` for nonce problems (§8), `invalid_dpop_proof` otherwise (§5).
    pub fn oauth_error(&self) -> OAuthError {
        let code = match self {
            Self::NonceRequired { .. } | Self::StaleNonce { .. } => OAuthErrorCode::UseDpopNonce,
            Self::ReplayCacheUnavailable => OAuthErrorCode::ServerError,
            _ => OAuthErrorCode::InvalidDpopProof,
        };
        OAuthError::new(code, self.to_string())
    }

    /// The value for the `DPoP-Nonce` response header, when the error asks the client for a nonce.
    pub fn fresh_nonce(&self) -> Option<&str> {
        match self {
            Self::NonceRequired { fresh_nonce } | Self::StaleNonce { fresh_nonce } => Some(fresh_nonce),
            _ => None,
        }
    }
}

/// Mints and checks stateless DPoP server nonces (RFC 9449 §8): HMAC of the time slot under a shared secret.
pub struct DpopNonceSource {
    key: hmac::Key,
    slot: Duration,
}

impl fmt::Debug for DpopNonceSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopNonceSource").field("key", &"<hidden>").field("slot", &self.slot).finish()
    }
}

impl DpopNonceSource {
    /// A source keyed with `secret` (every replica must share it) and slots of `slot` (at least 1 s).
    pub fn new(secret: &[u8], slot: Duration) -> Self {
        Self { key: hmac::Key::new(hmac::HMAC_SHA256, secret), slot: slot.max(Duration::SECOND) }
    }

    fn slot_of(&self, now: OffsetDateTime) -> i64 {
        now.unix_timestamp().div_euclid(self.slot.whole_seconds())
    }

    fn mac_input(slot: i64) -> [u8; 23] {
        let mut input = [0u8; 23];
        input[..15].copy_from_slice(b"bankgate-dpop:\0");
        input[15..].copy_from_slice(&slot.to_be_bytes());
        input
    }

    /// The nonce to hand out now (`DPoP-Nonce` header).
    pub fn issue(&self, now: OffsetDateTime) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.key, &Self::mac_input(self.slot_of(now))))
    }

    /// Whether `nonce` was minted in the current or the previous slot (constant-time MAC comparison).
    pub fn is_valid(&self, nonce: &str, now: OffsetDateTime) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(nonce) else { return false };
        let slot = self.slot_of(now);
        [slot, slot.saturating_sub(1)].iter().any(|s| hmac::verify(&self.key, &Self::mac_input(*s), &tag).is_ok())
    }
}

/// The request a DPoP proof accompanies.
#[derive(Debug, Clone, Copy)]
pub struct DpopRequest<'a> {
    /// The HTTP method, e.g. `POST`.
    pub method: &'a str,
    /// The absolute request URI as the server is reached (`https://host[:port]/path?query`).
    pub uri: &'a str,
    /// Every value of the `DPoP` request header (RFC 9449 §4.3 check 1: there must be exactly one).
    pub proofs: &'a [&'a str],
    /// At a resource server: the DPoP-bound access token presented with the request (check 12, `ath`).
    pub access_token: Option<&'a str>,
    /// The `jkt` the request must be made with: the token's `cnf.jkt` at a resource server, or PAR's
    /// `dpop_jkt` at the token endpoint (RFC 9449 §10).
    pub expected_jkt: Option<&'a str>,
}

/// A DPoP proof that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedDpopProof {
    /// RFC 7638 SHA-256 thumbprint of the proof key, base64url (`cnf.jkt`).
    pub jkt: String,
    /// The proof's `jti` (now in the replay cache).
    pub jti: String,
    /// The proof's `iat`.
    pub issued_at: OffsetDateTime,
    /// The algorithm the proof was signed with.
    pub alg: SigningAlg,
}

/// The DPoP rules of one server: `iat` window and optional nonces.
#[derive(Debug)]
pub struct DpopValidator {
    iat_window: Duration,
    nonces: Option<DpopNonceSource>,
}

impl Default for DpopValidator {
    fn default() -> Self {
        Self::new()
    }
}

/// RFC 9449 §4.3 check 9: the URI without query and fragment, scheme and host lower-cased, default port dropped,
/// percent-escapes upper-cased, empty path as `/` (RFC 3986 §6.2.2-§6.2.3). `None` if it is not an absolute
/// http(s) URI without userinfo.
pub fn normalize_htu(uri: &str) -> Option<String> {
    let uri = uri.split(['#', '?']).next().unwrap_or_default();
    let (scheme, rest) = uri.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    // Split host and port, minding IPv6 literals ([::1]:8443).
    let (host, port) = if let Some(stripped) = authority.strip_prefix('[') {
        let (inside, after) = stripped.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (format!("[{}]", inside.to_ascii_lowercase()), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_ascii_lowercase(), Some(p)),
            None => (authority.to_ascii_lowercase(), None),
        }
    };
    if host.is_empty() || host.contains(':') && !host.starts_with('[') {
        return None;
    }
    let port = match port {
        Some(p) if !p.bytes().all(|b| b.is_ascii_digit()) => return None,
        Some(p) if p.is_empty() || p.trim_start_matches('0') == default_port => None,
        Some(p) => Some(p.trim_start_matches('0')),
        None => None,
    };
    // Percent-escapes compare case-insensitively (RFC 3986 §6.2.2.1): upper-case their hex digits.
    let mut path_bytes = path.as_bytes().to_vec();
    let mut i = 0;
    while i < path_bytes.len() {
        if path_bytes[i] == b'%' && i + 2 < path_bytes.len() {
            path_bytes[i + 1] = path_bytes[i + 1].to_ascii_uppercase();
            path_bytes[i + 2] = path_bytes[i + 2].to_ascii_uppercase();
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut path_norm = String::from_utf8(path_bytes).ok()?;
    if path_norm.is_empty() {
        path_norm.push('/');
    }
    Some(match port {
        Some(p) => format!("{scheme}://{host}:{p}{path_norm}"),
        None => format!("{scheme}://{host}{path_norm}"),
    })
}

/// RFC 9449 §4.2: `ath` = base64url(SHA-256(ASCII access token)).
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes()))
}

impl DpopValidator {
    /// No nonces, `iat` within ±60 s.
    pub fn new() -> Self {
        Self { iat_window: DEFAULT_IAT_WINDOW, nonces: None }
    }

    /// Accept `iat` within ±`window` of `now` (at least 1 s).
    pub fn with_iat_window(mut self, window: Duration) -> Self {
        self.iat_window = window.max(Duration::SECOND);
        self
    }

    /// Require server nonces minted by `source` (RFC 9449 §8).
    pub fn with_nonces(mut self, source: DpopNonceSource) -> Self {
        self.nonces = Some(source);
        self
    }

    /// The nonce to advertise now (for a `DPoP-Nonce` header on successful responses too), if nonces are on.
    pub fn current_nonce(&self, now: OffsetDateTime) -> Option<String> {
        self.nonces.as_ref().map(|n| n.issue(now))
    }

    /// Runs every RFC 9449 §4.3 check on the request's proof; on success records its `jti` in `replay`.
    pub async fn validate(
        &self,
        request: &DpopRequest<'_>,
        now: OffsetDateTime,
        replay: &dyn ReplayCache,
    ) -> Result<VerifiedDpopProof, DpopError> {
        // Check 1: exactly one DPoP header field.
        let proof = match request.proofs {
            [] => return Err(DpopError::MissingProof),
            [one] => *one,
            _ => return Err(DpopError::MultipleProofs),
        };
        // Check 2: a single well-formed JWT (no commas: a combined header of several values is refused too).
        if proof.contains(',') {
            return Err(DpopError::MultipleProofs);
        }
        let jws = CompactJws::parse(proof.trim()).map_err(DpopError::Malformed)?;
        // Check 4: typ is dpop+jwt.
        match jws.header_str("typ") {
            Some(t) if t == DPOP_JWT_TYPE => {}
            Some(_) => return Err(DpopError::WrongTyp),
            None => return Err(DpopError::MissingClaim("the typ header")),
        }
        // Check 5: an asymmetric algorithm from the allow-list, never none.
        let alg = jws.alg().map_err(DpopError::Alg)?;
        // Check 7: the jwk header is a public key (parsing refuses private members and symmetric keys).
        let jwk_value = jws.header.get("jwk").ok_or(DpopError::MissingClaim("the jwk header"))?;
        let jwk = PublicJwk::from_json(jwk_value).map_err(DpopError::BadJwk)?;
        // Check 3: the claims §4.2 requires.
        let jti = jws
            .claim_str("jti")
            .ok()
            .flatten()
            .filter(|j| !j.is_empty() && j.len() <= MAX_JTI_LEN)
            .ok_or(DpopError::MissingClaim("jti"))?;
        let htm = jws.claim_str("htm").ok().flatten().ok_or(DpopError::MissingClaim("htm"))?;
        let htu = jws.claim_str("htu").ok().flatten().ok_or(DpopError::MissingClaim("htu"))?;
        let iat = jws.claim_numeric_date("iat").ok().flatten().ok_or(DpopError::MissingClaim("iat"))?;
        // Check 6: the signature verifies with the jwk header's key.
        jws.verify(alg, &jwk).map_err(|e| match e {
            JwsError::BadSignature => DpopError::BadSignature,
            other => DpopError::BadJwk(other),
        })?;
        // Check 8: htm matches the method (methods are case-sensitive, RFC 9110 §9.1).
        if htm != request.method {
            return Err(DpopError::WrongHtm);
        }
        // Check 9: htu matches the request URI without query and fragment.
        match (normalize_htu(htu), normalize_htu(request.uri)) {
            (Some(a), Some(b)) if a == b => {}
            _ => return Err(DpopError::WrongHtu),
        }
        // Check 11: iat within the window around now.
        let now_s = now.unix_timestamp();
        let window = self.iat_window.whole_seconds();
        if iat < now_s.saturating_sub(window) || iat > now_s.saturating_add(window) {
            return Err(DpopError::IatOutOfWindow);
        }
        // Check 12: at a resource server, ath matches the presented access token ...
        if let Some(token) = request.access_token {
            let ath = jws.claim_str("ath").ok().flatten().ok_or(DpopError::MissingClaim("ath"))?;
            if !bool::from(ath.as_bytes().ct_eq(access_token_hash(token).as_bytes())) {
                return Err(DpopError::WrongAth);
            }
        }
        // ... and the proof key is the one the token (cnf.jkt) or the PAR request (dpop_jkt) is bound to.
        if let Some(expected) = request.expected_jkt
            && !bool::from(expected.as_bytes().ct_eq(jwk.thumbprint().as_bytes()))
        {
            return Err(DpopError::KeyMismatch);
        }
        // Check 10: the server nonce, when this server requires one.
        if let Some(nonces) = &self.nonces {
            match jws.claim_str("nonce").ok().flatten() {
                None => return Err(DpopError::NonceRequired { fresh_nonce: nonces.issue(now) }),
                Some(n) if !nonces.is_valid(n, now) => {
                    return Err(DpopError::StaleNonce { fresh_nonce: nonces.issue(now) });
                }
                Some(_) => {}
            }
        }
        // §11.1: jti single use while the proof could be accepted (until iat + window).
        let expires_at = OffsetDateTime::from_unix_timestamp(iat.saturating_add(window).saturating_add(1))
            .map_err(|_| DpopError::IatOutOfWindow)?;
        let issued_at = OffsetDateTime::from_unix_timestamp(iat).map_err(|_| DpopError::IatOutOfWindow)?;
        let key = format!("dpop:{}:{jti}", jwk.thumbprint());
        match replay.insert_if_absent(&key, expires_at, now).await {
            Ok(true) => {}
            Ok(false) => return Err(DpopError::Replayed),
            Err(_) => return Err(DpopError::ReplayCacheUnavailable),
        }
        Ok(VerifiedDpopProof { jkt: jwk.thumbprint().to_owned(), jti: jti.to_owned(), issued_at, alg })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htu_normalization() {
        let n = |s: &str| normalize_htu(s);
        assert_eq!(n("HTTPS://Bank.Example:443/token?x=1#f").as_deref(), Some("https://bank.example/token"));
        assert_eq!(n("https://bank.example").as_deref(), Some("https://bank.example/"));
        assert_eq!(n("http://h:80/a").as_deref(), Some("http://h/a"));
        assert_eq!(n("https://h:8443/a%2f").as_deref(), Some("https://h:8443/a%2F"));
        assert_eq!(n("https://[::1]:443/t").as_deref(), Some("https://[::1]/t"));
        assert_eq!(n("https://[::1]:9/t").as_deref(), Some("https://[::1]:9/t"));
        assert_ne!(n("https://h/token"), n("https://h/token2"));
        assert_ne!(n("https://h/token"), n("http://h/token"));
        assert_ne!(n("https://h:444/token"), n("https://h/token"));
        for bad in ["", "/token", "ftp://h/x", "https://user@h/x", "https://h:x/", "https:///x", "https://a:b:c/"] {
            assert_eq!(n(bad), None, "{bad}");
        }
    }

    #[test]
    fn nonces_live_for_two_slots_and_are_bound_to_the_secret() {
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let source = DpopNonceSource::new(b"replica-shared-secret", Duration::minutes(5));
        let nonce = source.issue(t0);
        assert!(source.is_valid(&nonce, t0));
        assert!(source.is_valid(&nonce, t0 + Duration::minutes(5)), "previous slot still accepted");
        assert!(!source.is_valid(&nonce, t0 + Duration::minutes(11)), "two slots later it is stale");
        let other_replica = DpopNonceSource::new(b"replica-shared-secret", Duration::minutes(5));
        assert!(other_replica.is_valid(&nonce, t0), "any replica with the secret verifies it");
        let foreign = DpopNonceSource::new(b"another-secret", Duration::minutes(5));
        assert!(!foreign.is_valid(&nonce, t0));
        assert!(!source.is_valid("not base64!", t0));
        assert!(format!("{source:?}").contains("<hidden>"));
    }

    #[test]
    fn rfc9449_ath_example() {
        // RFC 9449 §7.1 example access token and its ath.
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn nonce_errors_are_use_dpop_nonce_with_a_fresh_nonce() {
        let e = DpopError::StaleNonce { fresh_nonce: "n1".into() };
        assert_eq!(e.oauth_error().error, OAuthErrorCode::UseDpopNonce);
        assert_eq!(e.fresh_nonce(), Some("n1"));
        assert_eq!(DpopError::WrongHtm.oauth_error().error, OAuthErrorCode::InvalidDpopProof);
    }
}
