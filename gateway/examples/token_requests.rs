//! Pre-signed `client_credentials` requests for the token endpoint load run (`bench/gateway-load.sh`).
//!
//! A load generator cannot mint a fresh `private_key_jwt` assertion (RFC 7523) and DPoP proof (RFC 9449) per
//! request, and the gateway refuses a replayed `jti` by design. So this tool registers a `fapi2` client with an ES256
//! key at the gateway (RFC 7591), then writes N request lines ahead of time, each with its own assertion and proof:
//! `<form body>\t<DPoP proof>\n`. `bench/token.lua` replays them with wrk, one line per request. Every assertion
//! and proof is valid for 60 s from the moment it is written, so the load run must start right after.
//!
//! Usage: `token_requests <issuer> <ca.pem> <count> <out file> [ES256|EdDSA] [dpop|bearer]`: the algorithm of the
//! client key and the DPoP key (default ES256); `bearer` registers a `sandbox` client instead and writes no proof
//! (an empty second field: the token is a plain bearer token, one signature check per request instead of two). Not
//! part of the product: never used by the gateway.

use std::io::Write as _;

use serde_json::{Value, json};

mod support;
use support::{Key, unique};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (issuer, ca, count, out, alg, binding) = match args.as_slice() {
        [_, issuer, ca, count, out] => (issuer, ca, count, out, "ES256", "dpop"),
        [_, issuer, ca, count, out, alg] => (issuer, ca, count, out, alg.as_str(), "dpop"),
        [_, issuer, ca, count, out, alg, binding] if binding == "dpop" || binding == "bearer" => {
            (issuer, ca, count, out, alg.as_str(), binding.as_str())
        }
        _ => anyhow::bail!("usage: token_requests <issuer> <ca.pem> <count> <out file> [ES256|EdDSA] [dpop|bearer]"),
    };
    let dpop = binding == "dpop";
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
            "profile": if dpop { "fapi2" } else { "sandbox" },
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
        let proof = if dpop {
            dpop_key.sign(&dpop_header, &json!({"htm": "POST", "htu": token_url, "iat": now, "jti": unique()?}))?
        } else {
            String::new()
        };
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
