//! Compact JWS (RFC 7515) parsing and signature verification for every JWT the authorization server receives:
//! client assertions (RFC 7523) and DPoP proofs (RFC 9449); also the public-key JWKs (RFC 7517) they are checked
//! against.
//!
//! Why not `jsonwebtoken::decode`: it reads the wall clock for `exp`/`nbf`, cannot represent `alg: none` (so it
//! could not say *why* a token was refused) and accepts a `jwk` header with private members. Here the header and
//! payload are parsed as plain JSON, the algorithm is checked against an explicit allow-list (FAPI 2.0 Security
//! Profile §5.4.1: PS256, ES256, EdDSA; never `none`, never HMAC, never RS256), and only the signature arithmetic
//! is delegated to `jsonwebtoken::crypto::verify` (aws-lc-rs). This module must never accept a token whose
//! algorithm is not on the allow-list, never use a private or symmetric key, and never panic on any input.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use serde_json::{Map, Value};

/// Larger JWTs are refused before any parsing (a client assertion or DPoP proof is well under 4 KiB).
pub const MAX_JWT_LEN: usize = 16 * 1024;

/// The signing algorithms FAPI 2.0 Security Profile §5.4.1 allows. Nothing else is ever verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    /// RSASSA-PSS with SHA-256 (RFC 7518 §3.5), RSA keys of at least 2048 bits.
    PS256,
    /// ECDSA P-256 with SHA-256 (RFC 7518 §3.4).
    ES256,
    /// Ed25519 (RFC 8037).
    EdDSA,
}

impl SigningAlg {
    /// The JOSE `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PS256 => "PS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    /// Parses a header `alg`, refusing everything outside the allow-list with the reason.
    pub fn from_header(alg: &str) -> Result<Self, JwsError> {
        match alg {
            "PS256" => Ok(Self::PS256),
            "ES256" => Ok(Self::ES256),
            "EdDSA" => Ok(Self::EdDSA),
            a if a.eq_ignore_ascii_case("none") => Err(JwsError::AlgNone),
            other => Err(JwsError::AlgNotAllowed(truncate(other))),
        }
    }

    pub(crate) fn to_jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::PS256 => jsonwebtoken::Algorithm::PS256,
            Self::ES256 => jsonwebtoken::Algorithm::ES256,
            Self::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        }
    }
}

/// Why a JWT or JWK was refused. Descriptions never echo the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("the JWT is longer than {MAX_JWT_LEN} bytes")]
    TooLarge,
    #[error("the JWT is not three base64url segments separated by dots")]
    Malformed,
    #[error("the JWT header is not a base64url-encoded JSON object")]
    BadHeader,
    #[error("the JWT payload is not a base64url-encoded JSON object")]
    BadPayload,
    #[error("the JWT header has no alg")]
    MissingAlg,
    #[error("alg \"none\" is never accepted")]
    AlgNone,
    #[error("alg {0:?} is not allowed (only PS256, ES256 and EdDSA)")]
    AlgNotAllowed(String),
    #[error("the JWT header carries crit, and no JWS extension is supported")]
    CriticalHeader,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("claim {0} has the wrong type")]
    ClaimType(&'static str),
    #[error("unusable key: {0}")]
    UnusableKey(String),
}

fn truncate(s: &str) -> String {
    s.chars().take(32).collect()
}

/// A parsed (not yet verified) compact JWS with JSON header and payload.
#[derive(Debug)]
pub struct CompactJws<'a> {
    signing_input: &'a str,
    signature_b64: &'a str,
    /// The protected header.
    pub header: Map<String, Value>,
    /// The payload (JWT claims set).
    pub claims: Map<String, Value>,
}

fn decode_json_object(segment: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
    match serde_json::from_slice::<Value>(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

impl<'a> CompactJws<'a> {
    /// Splits and decodes `token` (RFC 7515 §7.1). Refuses anything but exactly three segments, base64url
    /// without padding, with JSON objects as header and payload. Does not verify anything.
    pub fn parse(token: &'a str) -> Result<Self, JwsError> {
        if token.len() > MAX_JWT_LEN {
            return Err(JwsError::TooLarge);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(JwsError::Malformed);
        };
        if h.is_empty() || p.is_empty() {
            return Err(JwsError::Malformed);
        }
        let header = decode_json_object(h).ok_or(JwsError::BadHeader)?;
        let claims = decode_json_object(p).ok_or(JwsError::BadPayload)?;
        let signing_input = &token[..h.len() + 1 + p.len()];
        Ok(Self { signing_input, signature_b64: s, header, claims })
    }

    /// The header `alg`, checked against the allow-list (RFC 7515 §4.1.1, FAPI 2.0 §5.4.1). Also refuses a
    /// `crit` header (RFC 7515 §4.1.11: we understand no extension, so a critical one must fail).
    pub fn alg(&self) -> Result<SigningAlg, JwsError> {
        if self.header.contains_key("crit") {
            return Err(JwsError::CriticalHeader);
        }
        match self.header.get("alg") {
            Some(Value::String(a)) => SigningAlg::from_header(a),
            Some(_) => Err(JwsError::AlgNotAllowed("<not a string>".into())),
            None => Err(JwsError::MissingAlg),
        }
    }

    /// A string header parameter; `None` when absent or not a string.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    /// Verifies the signature with `key` under `alg` (the key must support `alg`).
    pub fn verify(&self, alg: SigningAlg, key: &PublicJwk) -> Result<(), JwsError> {
        if !key.supports(alg) {
            return Err(JwsError::UnusableKey(format!("the key cannot verify {}", alg.as_str())));
        }
        if self.signature_b64.is_empty() {
            return Err(JwsError::BadSignature);
        }
        match jsonwebtoken::crypto::verify(
            self.signature_b64,
            self.signing_input.as_bytes(),
            &key.decoding,
            alg.to_jsonwebtoken(),
        ) {
            Ok(true) => Ok(()),
            _ => Err(JwsError::BadSignature),
        }
    }

    /// A string claim: `Ok(None)` when absent, an error when present with another type.
    pub fn claim_str(&self, name: &'static str) -> Result<Option<&str>, JwsError> {
        match self.claims.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(JwsError::ClaimType(name)),
        }
    }

    /// A NumericDate claim (RFC 7519 §2: seconds since the epoch, possibly fractional; truncated here).
    pub fn claim_numeric_date(&self, name: &'static str) -> Result<Option<i64>, JwsError> {
        match self.claims.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                if let Some(i) = n.as_i64() {
                    Ok(Some(i))
                } else {
                    match n.as_f64() {
                        Some(f) if f.is_finite() && f.abs() < 1e15 => Ok(Some(f.trunc() as i64)),
                        _ => Err(JwsError::ClaimType(name)),
                    }
                }
            }
            Some(_) => Err(JwsError::ClaimType(name)),
        }
    }
}

/// JWK members that only private or symmetric keys have (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The first private-key member a JWK carries, if any (a JWK that is not a JSON object has none).
pub fn private_member(jwk: &Value) -> Option<&'static str> {
    let obj = jwk.as_object()?;
    PRIVATE_MEMBERS.iter().copied().find(|m| obj.contains_key(*m))
}

/// What kind of public key a JWK holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicKeyKind {
    /// `kty: EC`, `crv: P-256`.
    EcP256,
    /// `kty: RSA` with the modulus size in bits.
    Rsa { bits: usize },
    /// `kty: OKP`, `crv: Ed25519`.
    Ed25519,
}

/// A validated public JWK, parsed once into a verification key, with its RFC 7638 SHA-256 thumbprint.
#[derive(Clone)]
pub struct PublicJwk {
    kind: PublicKeyKind,
    kid: Option<String>,
    alg: Option<String>,
    key_use: Option<String>,
    thumbprint: String,
    public_json: Value,
    decoding: DecodingKey,
}

impl std::fmt::Debug for PublicJwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicJwk")
            .field("kind", &self.kind)
            .field("kid", &self.kid)
            .field("thumbprint", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

fn b64_member<'v>(obj: &'v Map<String, Value>, name: &str) -> Result<(&'v str, Vec<u8>), JwsError> {
    let s = obj
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| JwsError::UnusableKey(format!("member {name} missing or not a string")))?;
    let bytes =
        URL_SAFE_NO_PAD.decode(s).map_err(|_| JwsError::UnusableKey(format!("member {name} is not base64url")))?;
    Ok((s, bytes))
}

/// RSA moduli below this many bits are refused (FAPI 2.0 Security Profile §5.4.1: at least 2048).
pub const MIN_RSA_BITS: usize = 2048;

impl PublicJwk {
    /// Parses a JWK (RFC 7517 §4) that must be a PUBLIC asymmetric key we can verify with: EC P-256, RSA of at
    /// least 2048 bits, or OKP Ed25519. Refuses any private member (`d`, `p`, ...) and symmetric (`oct`) keys.
    pub fn from_json(value: &Value) -> Result<Self, JwsError> {
        let Value::Object(obj) = value else {
            return Err(JwsError::UnusableKey("the JWK is not a JSON object".into()));
        };
        if let Some(m) = private_member(value) {
            return Err(JwsError::UnusableKey(format!("the JWK contains the private member {m:?}")));
        }
        let kty = obj.get("kty").and_then(Value::as_str).unwrap_or_default();
        let crv = obj.get("crv").and_then(Value::as_str);
        // RFC 7638 §3.2: the thumbprint input holds only the required members, in lexicographic order; all of
        // them are base64url strings or fixed names here, so no JSON escaping is needed.
        let (kind, canonical, public_json, decoding) = match (kty, crv) {
            ("EC", Some("P-256")) => {
                let (x, xb) = b64_member(obj, "x")?;
                let (y, yb) = b64_member(obj, "y")?;
                if xb.len() != 32 || yb.len() != 32 {
                    return Err(JwsError::UnusableKey("P-256 coordinates must be 32 bytes".into()));
                }
                let key = DecodingKey::from_ec_components(x, y).map_err(|e| JwsError::UnusableKey(e.to_string()))?;
                (
                    PublicKeyKind::EcP256,
                    format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#),
                    serde_json::json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
                    key,
                )
            }
            ("RSA", _) => {
                let (n, nb) = b64_member(obj, "n")?;
                let (e, eb) = b64_member(obj, "e")?;
                let first = nb.iter().position(|b| *b != 0).unwrap_or(nb.len());
                let bits = (nb.len() - first) * 8;
                if bits < MIN_RSA_BITS {
                    return Err(JwsError::UnusableKey(format!("RSA keys must have at least {MIN_RSA_BITS} bits")));
                }
                if eb.is_empty() || eb.len() > 8 {
                    return Err(JwsError::UnusableKey("RSA exponent out of range".into()));
                }
                let key = DecodingKey::from_rsa_components(n, e).map_err(|e| JwsError::UnusableKey(e.to_string()))?;
                (
                    PublicKeyKind::Rsa { bits },
                    format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
                    serde_json::json!({"kty": "RSA", "n": n, "e": e}),
                    key,
                )
            }
            ("OKP", Some("Ed25519")) => {
                let (x, xb) = b64_member(obj, "x")?;
                if xb.len() != 32 {
                    return Err(JwsError::UnusableKey("Ed25519 public keys are 32 bytes".into()));
                }
                let key = DecodingKey::from_ed_components(x).map_err(|e| JwsError::UnusableKey(e.to_string()))?;
                (
                    PublicKeyKind::Ed25519,
                    format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#),
                    serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": x}),
                    key,
                )
            }
            ("oct", _) => return Err(JwsError::UnusableKey("symmetric (oct) keys are not accepted".into())),
            _ => {
                return Err(JwsError::UnusableKey(format!(
                    "unsupported key type {:?}/{:?} (EC P-256, RSA, OKP Ed25519 only)",
                    truncate(kty),
                    crv.map(truncate)
                )));
            }
        };
        let thumbprint =
            URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes()));
        let str_member = |name: &str| obj.get(name).and_then(Value::as_str).map(str::to_owned);
        Ok(Self {
            kind,
            kid: str_member("kid"),
            alg: str_member("alg"),
            key_use: str_member("use"),
            thumbprint,
            public_json,
            decoding,
        })
    }

    /// Whether this key can verify `alg` (and, when the JWK names an `alg`, whether it is that one).
    pub fn supports(&self, alg: SigningAlg) -> bool {
        let kind_ok = matches!(
            (self.kind, alg),
            (PublicKeyKind::EcP256, SigningAlg::ES256)
                | (PublicKeyKind::Rsa { .. }, SigningAlg::PS256)
                | (PublicKeyKind::Ed25519, SigningAlg::EdDSA)
        );
        kind_ok && self.alg.as_deref().is_none_or(|a| a == alg.as_str())
    }

    /// The key type.
    pub fn kind(&self) -> PublicKeyKind {
        self.kind
    }

    /// The `kid`, if the JWK has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The JWK `use`, if any (`sig` or `enc`).
    pub fn key_use(&self) -> Option<&str> {
        self.key_use.as_deref()
    }

    /// RFC 7638 JWK SHA-256 thumbprint, base64url: the DPoP `jkt` (RFC 9449 §6.1).
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The required public members only (no `kid`, no extras), e.g. for a DPoP `jwk` header.
    pub fn public_json(&self) -> &Value {
        &self.public_json
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc7638_example_thumbprint() {
        // RFC 7638 §3.1 example key and its published thumbprint.
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        let key = PublicJwk::from_json(&jwk).expect("valid RSA key");
        assert_eq!(key.thumbprint(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
        assert_eq!(key.kind(), PublicKeyKind::Rsa { bits: 2048 });
        // The JWK says RS256, so it must not be used for PS256 either.
        assert!(!key.supports(SigningAlg::PS256));
    }

    #[test]
    fn private_and_symmetric_keys_are_refused() {
        let ec_private = json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "d": "AA"});
        assert!(matches!(PublicJwk::from_json(&ec_private), Err(JwsError::UnusableKey(m)) if m.contains("\"d\"")));
        let oct = json!({"kty": "oct", "kid": "x"});
        assert!(PublicJwk::from_json(&oct).is_err());
        let short_ec = json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"});
        assert!(PublicJwk::from_json(&short_ec).is_err());
    }

    #[test]
    fn alg_allow_list() {
        assert_eq!(SigningAlg::from_header("ES256"), Ok(SigningAlg::ES256));
        assert_eq!(SigningAlg::from_header("none"), Err(JwsError::AlgNone));
        assert_eq!(SigningAlg::from_header("NONE"), Err(JwsError::AlgNone));
        for refused in ["RS256", "HS256", "ES384", "PS512", ""] {
            assert!(matches!(SigningAlg::from_header(refused), Err(JwsError::AlgNotAllowed(_))), "{refused}");
        }
    }

    #[test]
    fn malformed_tokens_are_refused_without_panicking() {
        for t in ["", ".", "..", "a.b.c", "e30.e30", "e30.e30.e30.e30", "W10.e30.", "e30.W10."] {
            assert!(CompactJws::parse(t).is_err(), "{t:?}");
        }
        let ok = CompactJws::parse("e30.e30.").expect("empty objects parse");
        assert_eq!(ok.alg(), Err(JwsError::MissingAlg));
    }
}
