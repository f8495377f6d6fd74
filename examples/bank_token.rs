//! `cargo run --release --example bank_token -- DIR/endpoints.json [bank] [username]`: log in at a bank's pages as
//! a test user (as a person would), exchange the code with the sample app's client certificate, and print the token
//! response plus the user's checking account id as JSON. Benchmarks and shell scripts use it to get a bank token.

use bankgate::{
    Endpoints,
    person::{LoginPlan, Person, Pkce},
    sandbox::{SAMPLE_APP_CLIENTS, SAMPLE_APP_REDIRECT},
};
use std::path::PathBuf;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    certs::install_crypto_provider();
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!("usage: bank_token ENDPOINTS [BANK] [USER]"))?);
    let bank_id = args.next().unwrap_or_else(|| "continental".into());
    let username = args.next().unwrap_or_else(|| "user_good".into());
    let endpoints = Endpoints::read(&path)?;
    let bank = endpoints.bank(&bank_id).ok_or_else(|| anyhow::anyhow!("no bank `{bank_id}` in {}", path.display()))?;
    let ca = std::fs::read_to_string(&endpoints.ca_cert)?;
    let cert_dir = endpoints.ca_cert.parent().unwrap_or(std::path::Path::new("."));
    let app = SAMPLE_APP_CLIENTS[0];
    let identity = format!(
        "{}{}",
        std::fs::read_to_string(cert_dir.join(format!("{app}.pem")))?,
        std::fs::read_to_string(cert_dir.join(format!("{app}-key.pem")))?
    );

    let pkce = Pkce::new()?;
    let mut url = reqwest::Url::parse(&format!("{}/oauth/authorize", bank.login))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", app)
        .append_pair("redirect_uri", SAMPLE_APP_REDIRECT)
        .append_pair("state", "bench")
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("scope", "fdx:accountbasic:read fdx:accountdetailed:read fdx:transactions:read");
    let plan = LoginPlan {
        username: &username,
        password: "pass_good",
        mfa_code: Some("123456"),
        accounts: None,
        ..LoginPlan::user("")
    };
    let outcome = Person::new(&ca)?.log_in(url.as_str(), &plan).await?;
    let code = outcome.param("code").ok_or_else(|| anyhow::anyhow!("login did not return a code: {outcome:?}"))?;

    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes())?])
        .identity(reqwest::Identity::from_pem(identity.as_bytes())?)
        .build()?;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", SAMPLE_APP_REDIRECT),
        ("code_verifier", pkce.verifier.as_str()),
        ("client_id", app),
    ];
    let tokens: serde_json::Value =
        client.post(format!("{}/oauth/token", bank.api)).form(&form).send().await?.error_for_status()?.json().await?;
    let token = tokens["access_token"].as_str().ok_or_else(|| anyhow::anyhow!("no access_token: {tokens}"))?;
    let accounts: serde_json::Value =
        client.get(format!("{}/fdx/v6/accounts", bank.api)).bearer_auth(token).send().await?.json().await?;
    let checking = accounts["accounts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["accountType"] == "CHECKING")
        .and_then(|d| d["accountId"].as_str())
        .ok_or_else(|| anyhow::anyhow!("no checking account in {accounts}"))?;
    let out = serde_json::json!({"access_token": token, "checking_account_id": checking, "api": bank.api});
    println!("{out}");
    Ok(())
}
