//! Pre-signed `client_credentials` requests for the token endpoint load run (`bench/gateway-load.sh`).
//!
//! A load generator cannot mint a fresh `private_key_jwt` assertion (RFC 7523) and DPoP proof (RFC 9449) per
//! request, and the gateway refuses a replayed `jti` by design. So this tool registers a `fapi2` client with an ES256
//! key at the gateway (RFC 7591), then writes N request lines ahead of time, each with its own assertion and proof:
//! `<form body>\t<DPoP proof>\n`. `bench/token.lua` replays them with wrk, one line per request. Every assertion
//! and proof is valid for 60 s from the moment it is written, so the load run must start right after.
//!
//! Usage: `token_requests <issuer> <ca.pem> <count> <out file> [ES256|EdDSA]` (the algorithm of the client key and
//! the DPoP key; default ES256). Not part of the product: never used by the gateway.

use std::io::Write as _;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

enum Key {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

impl Key {
    fn generate(alg: &str) -> anyhow::Result<Self> {
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

    fn alg(&self) -> &'static str {
        match self {
            Self::Es256(_) => "ES256",
            Self::EdDsa(_) => "EdDSA",
        }
    }

    /// RFC 7518 §6.2.1 (uncompressed point 0x04 || x || y) or RFC 8037 §2 public JWK.
    fn public_jwk(&self) -> Value {
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

    fn sign(&self, header: &Value, claims: &Value) -> anyhow::Result<String> {
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

fn unique() -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (issuer, ca, count, out, alg) = match args.as_slice() {
        [_, issuer, ca, count, out] => (issuer, ca, count, out, "ES256"),
        [_, issuer, ca, count, out, alg] => (issuer, ca, count, out, alg.as_str()),
        _ => anyhow::bail!("usage: token_requests <issuer> <ca.pem> <count> <out file> [ES256|EdDSA]"),
    };
    let count: usize = count.parse()?;
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca)?)?;
    let http = reqwest::Client::builder().tls_certs_only([ca]).build()?;
    let client_key = Key::generate(alg)?;
    let dpop_key = Key::generate(alg)?;
    let mut jwk = client_key.public_jwk();
    jwk["kid"] = json!("bench-1");
    jwk["use"] = json!("sig");
    let registration: Value = http
        .post(format!("{issuer}/register"))
        .json(&json!({
            "client_name": "token load run",
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [jwk]},
            "redirect_uris": ["https://localhost/cb"],
            "grant_types": ["client_credentials"],
            "purposes": ["personal_finance_management"],
        }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let client_id = registration["client_id"].as_str().ok_or_else(|| anyhow::anyhow!("{registration}"))?.to_owned();
    let token_url = format!("{issuer}/token");
    let dpop_header = json!({"typ": "dpop+jwt", "alg": dpop_key.alg(), "jwk": dpop_key.public_jwk()});
    let assertion_header = json!({"typ": "JWT", "alg": client_key.alg(), "kid": "bench-1"});
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for _ in 0..count {
        let claims = json!({"iss": client_id, "sub": client_id, "aud": issuer, "iat": now, "exp": now + 60,
                            "jti": unique()?});
        let assertion = client_key.sign(&assertion_header, &claims)?;
        let proof =
            dpop_key.sign(&dpop_header, &json!({"htm": "POST", "htu": token_url, "iat": now, "jti": unique()?}))?;
        writeln!(
            file,
            "grant_type=client_credentials&scope=consent_management&client_assertion_type={}&client_assertion={assertion}\t{proof}",
            ASSERTION_TYPE.replace(':', "%3A")
        )?;
    }
    file.flush()?;
    eprintln!("{count} requests for client {client_id} written to {out}");
    Ok(())
}
