//! An app's P-256 key, as the scenario runner's apps hold it: signs RFC 7523 client assertions and RFC 9449 DPoP
//! proofs (ES256, RFC 7518 §3.4: the fixed-width R||S signature). `iat` comes from the caller, who passes the
//! gateway's clock (simulated in-process), never the wall clock.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The `kid` the runner's apps give their key in their registered JWKS.
pub const KEY_ID: &str = "scenario-key-1";

#[derive(Debug)]
pub struct AppKey(EcdsaKeyPair);

impl AppKey {
    pub fn generate() -> anyhow::Result<Self> {
        EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map(Self)
            .map_err(|_| anyhow::anyhow!("cannot generate a P-256 key"))
    }

    /// The public key as a JWK (RFC 7518 §6.2.1), without `kid`.
    pub fn public_jwk(&self) -> Value {
        let point = self.0.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])})
    }

    /// RFC 7638 §3.2 thumbprint: SHA-256 over the required members in lexicographic order, no whitespace.
    pub fn thumbprint(&self) -> String {
        let jwk = self.public_jwk();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap_or_default(),
            jwk["y"].as_str().unwrap_or_default()
        );
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }

    pub(crate) fn sign(&self, header: &Value, claims: &Value) -> anyhow::Result<String> {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string().as_bytes()),
            URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes())
        );
        let signature =
            self.0.sign(&SystemRandom::new(), input.as_bytes()).map_err(|_| anyhow::anyhow!("signing failed"))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref())))
    }

    /// RFC 7523 §3 client assertion; FAPI 2.0 §5.3.2.1: `aud` is the issuer identifier.
    pub fn assertion(&self, client_id: &str, issuer: &str, now: i64) -> anyhow::Result<String> {
        let jti = crate::sandbox::random_token()?;
        self.sign(
            &json!({"alg": "ES256", "typ": "JWT", "kid": KEY_ID}),
            &json!({"iss": client_id, "sub": client_id, "aud": issuer, "iat": now, "exp": now + 60, "jti": jti}),
        )
    }

    /// RFC 9449 §4.2 proof for `method url`; with `access_token`, its hash as `ath` (§4.2, resource requests).
    pub fn proof(&self, method: &str, url: &str, access_token: Option<&str>, now: i64) -> anyhow::Result<String> {
        let jti = crate::sandbox::random_token()?;
        // RFC 9449 §4.2: htu without query and fragment.
        let htu = url.split(['?', '#']).next().unwrap_or(url);
        let mut claims = json!({"jti": jti, "htm": method, "htu": htu, "iat": now});
        if let Some(token) = access_token {
            claims["ath"] = json!(URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes())));
        }
        self.sign(&json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.public_jwk()}), &claims)
    }
}
