//! Pre-signed resource requests for the FDX load run (`bench/resource-load.sh`).
//!
//! A DPoP-bound access token needs a fresh proof for every request (RFC 9449 §7: `jti` single use, `ath` binding
//! the token), which a load generator cannot sign. So this tool creates a consent through the sandbox shortcut with
//! a DPoP proof (the token comes back DPoP-bound to an ES256 key it holds), picks the consent's first account, and
//! writes N lines `<path>\t<access token>\t<DPoP proof>` for `GET <path>`, each proof with its own `jti`.
//! `bench/resource.lua` replays them with wrk. Proofs are valid for 60 s from when they are written.
//!
//! Usage: `resource_requests <issuer> <ca.pem> <sandbox client id> <secret> <accounts|transactions> <count> <out>`.
//! Not part of the product: never used by the gateway.

use std::io::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::Digest as _;

mod support;
use support::{Key, unique};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, issuer, ca, client_id, secret, which, count, out] = args.as_slice() else {
        anyhow::bail!(
            "usage: resource_requests <issuer> <ca.pem> <client id> <secret> <accounts|transactions> <count> <out>"
        );
    };
    let count: usize = count.parse()?;
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca)?)?;
    let http = reqwest::Client::builder().tls_certs_only([ca]).build()?;
    let key = Key::generate("ES256")?;
    let header = json!({"typ": "dpop+jwt", "alg": key.alg(), "jwk": key.public_jwk()});
    let now = || time::OffsetDateTime::now_utc().unix_timestamp();
    let shortcut = format!("{issuer}/sandbox/consents");
    let proof = key.sign(&header, &json!({"htm": "POST", "htu": shortcut, "iat": now(), "jti": unique()?}))?;
    let body = json!({"bank": "continental", "username": "user_good", "password": "pass_good"});
    let tokens: Value = http
        .post(&shortcut)
        .basic_auth(client_id, Some(secret))
        .header("DPoP", proof)
        .json(&body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    anyhow::ensure!(tokens["token_type"] == "DPoP", "the token is not DPoP-bound: {tokens}");
    let token = tokens["access_token"].as_str().ok_or_else(|| anyhow::anyhow!("{tokens}"))?.to_owned();
    let ath = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(token.as_bytes()));
    let proof_for = |path: &str| -> anyhow::Result<String> {
        let claims = json!({"htm": "GET", "htu": format!("{issuer}{path}"), "iat": now(), "jti": unique()?,
                            "ath": ath});
        key.sign(&header, &claims)
    };
    let accounts_path = "/fdx/v6/accounts";
    let accounts: Value = http
        .get(format!("{issuer}{accounts_path}"))
        .header("Authorization", format!("DPoP {token}"))
        .header("DPoP", proof_for(accounts_path)?)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let first = accounts["accounts"][0]["accountId"].as_str().ok_or_else(|| anyhow::anyhow!("{accounts}"))?;
    let path = match which.as_str() {
        "accounts" => accounts_path.to_owned(),
        "transactions" => format!("/fdx/v6/accounts/{first}/transactions?limit=25"),
        other => anyhow::bail!("unknown resource {other}: accounts or transactions"),
    };
    let htu_path = path.split('?').next().unwrap_or(&path).to_owned();
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    for _ in 0..count {
        writeln!(file, "{path}\t{token}\t{}", proof_for(&htu_path)?)?;
    }
    file.flush()?;
    eprintln!("{count} {which} requests written to {out}");
    Ok(())
}
