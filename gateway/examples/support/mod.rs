//! Keys for the load-run tools (`token_requests`, `resource_requests`): an ES256 or Ed25519 key that signs compact
//! JWS by hand (client assertions, DPoP proofs) and shows its public JWK. Not part of the product.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

pub enum Key {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

impl Key {
    pub fn generate(alg: &str) -> anyhow::Result<Self> {
        let rng = SystemRandom::new();
        Ok(match alg {
            "ES256" => {
                let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| anyhow::anyhow!("cannot generate a key"))?;
                Self::Es256(
                    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
                        .map_err(|_| anyhow::anyhow!("cannot load the key"))?,
                )
            }
            "EdDSA" => Self::EdDsa(Ed25519KeyPair::generate().map_err(|_| anyhow::anyhow!("cannot generate a key"))?),
            other => anyhow::bail!("unsupported algorithm {other}: ES256 or EdDSA"),
        })
    }

    pub fn alg(&self) -> &'static str {
        match self {
            Self::Es256(_) => "ES256",
            Self::EdDsa(_) => "EdDSA",
        }
    }

    /// RFC 7518 §6.2.1 (uncompressed point 0x04 || x || y) or RFC 8037 §2 public JWK.
    pub fn public_jwk(&self) -> Value {
        match self {
            Self::Es256(pair) => {
                let point = pair.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                       "y": URL_SAFE_NO_PAD.encode(&point[33..65])})
            }
            Self::EdDsa(pair) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref())})
            }
        }
    }

    pub fn sign(&self, header: &Value, claims: &Value) -> anyhow::Result<String> {
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let sig = match self {
            Self::Es256(pair) => pair
                .sign(&SystemRandom::new(), input.as_bytes())
                .map_err(|_| anyhow::anyhow!("sign"))?
                .as_ref()
                .to_vec(),
            Self::EdDsa(pair) => pair.sign(input.as_bytes()).as_ref().to_vec(),
        };
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

pub fn unique() -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}
