//! The authorization server's own signing keys (access tokens, and later signed responses): ES256 (P-256) keys
//! generated with aws-lc-rs or loaded from PKCS#8 PEM, parsed ONCE, named by their RFC 7638 thumbprint, and
//! published as a JWKS (RFC 7517 §5).
//!
//! Signing deliberately bypasses `jsonwebtoken::encode`: even with a prepared `EncodingKey` it re-parses (and
//! re-validates) the PKCS#8 key on every call (STACK.md), which would cap the token endpoint. We keep the parsed
//! aws-lc-rs `EcdsaKeyPair` and build the compact JWS (RFC 7515 §7.1) ourselves; verification uses the same
//! [`PublicJwk`] path as every other JWT.
//!
//! [`KeySet`] holds one active signing key and the previous keys that still verify (rotation: publish the new key,
//! sign with it, keep the old one in the JWKS until every token it signed has expired, then retire it). This module
//! must never publish, log or `Debug`-print private key material; only [`SigningKey::to_pkcs8_pem`] exports it,
//! for persisting a generated key to the data directory.

use std::fmt;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Serialize;
use serde_json::{Value, json};

use super::jws::{CompactJws, JwsError, PublicJwk, SigningAlg};

/// Why a key could not be made, loaded or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("key generation failed")]
    Generation,
    #[error("not a PKCS#8 PEM document (expected -----BEGIN PRIVATE KEY-----)")]
    NotPem,
    #[error("not a P-256 PKCS#8 private key")]
    NotP256,
    #[error("signing failed: {0}")]
    Signing(String),
}

/// One ES256 signing key: private part parsed once, public JWK and `kid` derived from it.
pub struct SigningKey {
    kid: String,
    pair: EcdsaKeyPair,
    verifying: PublicJwk,
    rng: SystemRandom,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &"ES256")
            .field("private", &"<hidden>")
            .finish()
    }
}

const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

impl SigningKey {
    /// A fresh P-256 key from aws-lc-rs's system RNG.
    pub fn generate_es256() -> Result<Self, KeyError> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|_| KeyError::Generation)?;
        let pkcs8 = pair.to_pkcs8v1().map_err(|_| KeyError::Generation)?;
        Self::from_pkcs8_der(pkcs8.as_ref())
    }

    /// Loads an unencrypted PKCS#8 P-256 private key (DER).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(|_| KeyError::NotP256)?;
        let point = pair.public_key().as_ref();
        // An uncompressed SEC1 point: 0x04 || x (32) || y (32).
        if point.len() != 65 || point[0] != 4 {
            return Err(KeyError::NotP256);
        }
        let (x, y) = point[1..].split_at(32);
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)});
        let verifying = PublicJwk::from_json(&jwk).map_err(|_| KeyError::NotP256)?;
        Ok(Self { kid: verifying.thumbprint().to_owned(), pair, verifying, rng: SystemRandom::new() })
    }

    /// Loads an unencrypted PKCS#8 P-256 private key from PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        let start = pem.find(PEM_BEGIN).ok_or(KeyError::NotPem)? + PEM_BEGIN.len();
        let end = pem[start..].find(PEM_END).ok_or(KeyError::NotPem)? + start;
        let b64: String = pem[start..end].chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let der = STANDARD.decode(b64).map_err(|_| KeyError::NotPem)?;
        Self::from_pkcs8_der(&der)
    }

    /// The private key as PKCS#8 PEM, to persist a generated key (file mode 0600). Never log the result.
    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        let der = self.pair.to_pkcs8v1().map_err(|_| KeyError::Signing("PKCS#8 export failed".into()))?;
        let b64 = STANDARD.encode(der.as_ref());
        let mut pem = String::with_capacity(b64.len() + 64);
        pem.push_str(PEM_BEGIN);
        pem.push('\n');
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str(PEM_END);
        pem.push('\n');
        Ok(pem)
    }

    /// The key id: the RFC 7638 SHA-256 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key, for verification.
    pub fn public_key(&self) -> &PublicJwk {
        &self.verifying
    }

    /// The public JWK as published in the JWKS (RFC 7517 §4; RFC 7518 §6.2.1): never a private member.
    pub fn public_jwk_json(&self) -> Value {
        let mut jwk = self.verifying.public_json().clone();
        if let Value::Object(m) = &mut jwk {
            m.insert("kid".into(), Value::String(self.kid.clone()));
            m.insert("use".into(), Value::String("sig".into()));
            m.insert("alg".into(), Value::String("ES256".into()));
        }
        jwk
    }

    /// Signs `claims` as a compact JWS with `alg: ES256`, this key's `kid` and the given `typ`.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, KeyError> {
        let header = json!({"alg": "ES256", "typ": typ, "kid": self.kid});
        let payload = serde_json::to_vec(claims).map_err(|e| KeyError::Signing(e.to_string()))?;
        let mut jws = URL_SAFE_NO_PAD.encode(header.to_string());
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut jws);
        let signature = self.pair.sign(&self.rng, jws.as_bytes()).map_err(|_| KeyError::Signing("ECDSA".into()))?;
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut jws);
        Ok(jws)
    }
}

/// The server's keys: one active signing key plus previous keys still published for verification.
#[derive(Debug)]
pub struct KeySet {
    active: SigningKey,
    previous: Vec<SigningKey>,
}

impl KeySet {
    /// A set with `active` as its only key.
    pub fn new(active: SigningKey) -> Self {
        Self { active, previous: Vec::new() }
    }

    /// Makes `next` the signing key; the current one stays published for verification until [`KeySet::retire`].
    pub fn rotate(&mut self, next: SigningKey) {
        let old = std::mem::replace(&mut self.active, next);
        self.previous.insert(0, old);
    }

    /// Stops publishing and accepting a previous key. Returns whether it was there (the active key is never
    /// retired this way).
    pub fn retire(&mut self, kid: &str) -> bool {
        let before = self.previous.len();
        self.previous.retain(|k| k.kid != kid);
        before != self.previous.len()
    }

    /// The key new tokens are signed with.
    pub fn active(&self) -> &SigningKey {
        &self.active
    }

    /// The active or a previous key with this `kid`.
    pub fn find(&self, kid: &str) -> Option<&SigningKey> {
        std::iter::once(&self.active).chain(&self.previous).find(|k| k.kid == kid)
    }

    /// The public JWK Set (RFC 7517 §5) served at `/jwks`: active key first, then previous keys.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> =
            std::iter::once(&self.active).chain(&self.previous).map(SigningKey::public_jwk_json).collect();
        json!({ "keys": keys })
    }

    /// Signs with the active key.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, KeyError> {
        self.active.sign(typ, claims)
    }

    /// Verifies a JWS signed by one of our keys (by `kid`; ES256 only) and checks its `typ` (compared
    /// case-insensitively, RFC 7515 §4.1.9). Returns the parsed token; claim checks are the caller's.
    pub fn verify<'t>(&self, token: &'t str, expected_typ: &str) -> Result<CompactJws<'t>, JwsError> {
        let jws = CompactJws::parse(token)?;
        let alg = jws.alg()?;
        if alg != SigningAlg::ES256 {
            return Err(JwsError::AlgNotAllowed(alg.as_str().into()));
        }
        let key = jws
            .header_str("kid")
            .and_then(|kid| self.find(kid))
            .ok_or_else(|| JwsError::UnusableKey("unknown kid".into()))?;
        jws.verify(alg, key.public_key())?;
        match jws.header_str("typ") {
            Some(t) if t.eq_ignore_ascii_case(expected_typ) => Ok(jws),
            _ => Err(JwsError::BadHeader),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_round_trips_through_pem_and_signs_verifiable_tokens() {
        let key = SigningKey::generate_es256().expect("generate");
        let pem = key.to_pkcs8_pem().expect("export");
        let reloaded = SigningKey::from_pkcs8_pem(&pem).expect("reload");
        assert_eq!(reloaded.kid(), key.kid(), "the kid is a thumbprint, stable across reloads");
        assert_eq!(key.kid().len(), 43);
        let set = KeySet::new(reloaded);
        let token = set.sign("at+jwt", &json!({"sub": "alice"})).expect("sign");
        let verified = set.verify(&token, "at+jwt").expect("verify");
        assert_eq!(verified.claim_str("sub"), Ok(Some("alice")));
        assert!(set.verify(&token, "dpop+jwt").is_err(), "typ is checked");
        assert!(format!("{key:?}").contains("<hidden>"));
        assert!(!format!("{key:?}").contains(&pem[30..60]));
    }

    #[test]
    fn jwks_is_public_only_and_rotation_keeps_old_tokens_verifiable() {
        let first = SigningKey::generate_es256().expect("generate");
        let first_kid = first.kid().to_owned();
        let mut set = KeySet::new(first);
        let old_token = set.sign("at+jwt", &json!({"n": 1})).expect("sign");
        set.rotate(SigningKey::generate_es256().expect("generate"));
        let jwks = set.jwks();
        let keys = jwks["keys"].as_array().expect("keys array");
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[1]["kid"], first_kid.as_str());
        for k in keys {
            assert!(k.get("d").is_none(), "no private member in the JWKS");
            assert_eq!(k["kty"], "EC");
            assert_eq!(k["use"], "sig");
        }
        assert!(set.verify(&old_token, "at+jwt").is_ok(), "tokens of the previous key still verify");
        assert_ne!(set.active().kid(), first_kid);
        assert!(set.retire(&first_kid));
        assert!(set.verify(&old_token, "at+jwt").is_err(), "a retired key verifies nothing");
        assert_eq!(set.jwks()["keys"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn garbage_pem_is_refused() {
        assert_eq!(SigningKey::from_pkcs8_pem("hello").err(), Some(KeyError::NotPem));
        let bogus = format!("{PEM_BEGIN}\nAAAA\n{PEM_END}\n");
        assert_eq!(SigningKey::from_pkcs8_pem(&bogus).err(), Some(KeyError::NotP256));
    }
}
