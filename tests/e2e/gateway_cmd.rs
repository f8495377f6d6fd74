//! `bankgate gateway --config FILE`: the real binary runs the consent gateway alone in front of banks started
//! elsewhere (here: in-process with `gateway: false`, as `bankgate bank` does), announces its issuer and metadata,
//! serves the clients declared in the file, stops cleanly on SIGTERM; a bad file is a clear error naming the key.

use crate::support::{eventually, https_client};
use bankgate::{Sandbox, SandboxOptions};
use serde_json::Value;
use std::{
    io::BufRead,
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};
use time::macros::datetime;

const SECRET: &str = "e2e-sandbox-secret-0123456789";

/// SIGTERM, then wait (bounded) for the process to exit.
async fn terminate(mut child: Child) -> std::process::ExitStatus {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(status.success());
    let exited = eventually(Duration::from_secs(30), || child.try_wait().expect("wait")).await;
    exited.unwrap_or_else(|| {
        child.kill().ok();
        panic!("bankgate gateway did not stop within 30 s of SIGTERM")
    })
}

/// A configuration for the banks of `sandbox`, with one declared sandbox client (`sandbox-app`).
fn write_config(dir: &Path, sandbox: &Sandbox) -> std::path::PathBuf {
    let certs = dir.join("banks").join("certs");
    std::fs::write(dir.join("app-secret"), format!("{SECRET}\n")).unwrap();
    let mut text = format!(
        r#"listen = "127.0.0.1:0"
public_host = "127.0.0.1"
data_dir = "gateway-data"
sandbox_profile = true

[tls]
ca_cert = "{certs}/ca.pem"
server_cert = "{certs}/gateway.pem"
server_key = "{certs}/gateway-key.pem"
bank_client_cert = "{certs}/gateway-client.pem"
bank_client_key = "{certs}/gateway-client-key.pem"
bank_client_id = "gateway-client"

[[clients]]
client_id = "sandbox-app"
client_secret_file = "app-secret"
metadata = {{ redirect_uris = ["https://app.example/cb"], profile = "sandbox", token_endpoint_auth_method = "client_secret_basic", grant_types = ["client_credentials"], purposes = ["fraud_alerts"] }}
"#,
        certs = certs.display()
    );
    for bank in &sandbox.endpoints.banks {
        text.push_str(&format!(
            "\n[[banks]]\nid = \"{}\"\ndisplay_name = \"{}\"\nissuer = \"{}\"\napi = \"{}\"\n",
            bank.id, bank.display_name, bank.login, bank.api
        ));
    }
    let path = dir.join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn gateway_command_serves_declared_clients_in_front_of_configured_banks_and_stops_on_sigterm() {
    certs::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let options = SandboxOptions {
        data_dir: Some(dir.path().join("banks")),
        customers: Some(10),
        banks: Some(vec!["summit".into()]),
        start: Some(datetime!(2026-03-04 15:00 UTC)),
        gateway: false,
        ..SandboxOptions::default()
    };
    let sandbox = Sandbox::start(options).await.expect("banks start");
    assert!(sandbox.gateway.is_none());
    // `bankgate certs init` issues the gateway's server certificate; a banks-only start does not.
    let certs_dir = dir.path().join("banks").join("certs");
    sandbox.pki.load_or_issue(&certs_dir, "gateway", certs::CertKind::Server).unwrap();
    let config = write_config(dir.path(), &sandbox);

    let mut child = Command::new(env!("CARGO_BIN_EXE_bankgate"))
        .args(["gateway", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("bankgate gateway starts");
    // The banner names the issuer once the listener is bound; read stdout on a thread, poll without sleeping on
    // a guess.
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut banner = Vec::new();
    let issuer = eventually(Duration::from_secs(60), || {
        banner.extend(received.try_iter());
        banner.iter().find_map(|l: &String| {
            l.strip_prefix("Consent gateway: ").and_then(|rest| rest.split_whitespace().next()).map(str::to_owned)
        })
    })
    .await
    .unwrap_or_else(|| {
        child.kill().ok();
        panic!("no issuer announced within 60 s; stdout so far: {banner:?}")
    });
    assert!(issuer.starts_with("https://127.0.0.1:"), "{issuer}");
    assert!(banner.iter().any(|l| l.contains("summit") && l.contains("Pacific Summit Bank")), "{banner:?}");

    let ca = std::fs::read_to_string(certs_dir.join("ca.pem")).unwrap();
    let client = https_client(&ca, None);
    let metadata: Value = client
        .get(format!("{issuer}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("metadata over HTTPS")
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["issuer"], issuer.as_str());
    assert_eq!(metadata["require_pushed_authorization_requests"], true);

    // The client declared in the file exists: its secret (read from a file, stored hashed) gets a token.
    let token = client
        .post(format!("{issuer}/token"))
        .basic_auth("sandbox-app", Some(SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200, "{}", token.text().await.unwrap_or_default());
    let body: Value = token.json().await.unwrap();
    assert!(body["access_token"].is_string(), "{body}");
    let wrong = client
        .post(format!("{issuer}/token"))
        .basic_auth("sandbox-app", Some("not-the-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(dir.path().join("gateway-data").join("gateway.sqlite").is_file(), "data_dir relative to the file");

    drop(client);
    let status = terminate(child).await;
    assert!(status.success(), "clean exit on SIGTERM, got {status:?}");
    sandbox.shutdown().await.unwrap();
}

#[test]
fn a_bad_configuration_file_is_a_clear_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let run = |text: &str| {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, text).unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_bankgate")).args(["gateway", "--config"]).arg(&path).output();
        let output = output.expect("bankgate runs");
        assert!(!output.status.success(), "a bad file must fail");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let base = "listen = \"127.0.0.1:0\"\ndata_dir = \"d\"\n[tls]\nca_cert = \"missing-ca.pem\"\nserver_cert = \"s.pem\"\n\
                server_key = \"k.pem\"\n";
    let unknown = run(&format!("colour = \"blue\"\n{base}"));
    assert!(unknown.contains("colour") && unknown.contains("bad.toml"), "{unknown}");
    let missing = run(base);
    assert!(missing.contains("`tls.ca_cert`: cannot read") && missing.contains("missing-ca.pem"), "{missing}");
    let code = run(&base.replace("data_dir = \"d\"\n", "data_dir = \"d\"\n[lifetimes]\ncode = 600\n"));
    assert!(code.contains("`lifetimes.code`"), "{code}");
    let absent = Command::new(env!("CARGO_BIN_EXE_bankgate"))
        .args(["gateway", "--config", "/nonexistent/gateway.toml"])
        .output()
        .unwrap();
    assert!(!absent.status.success());
    assert!(String::from_utf8_lossy(&absent.stderr).contains("/nonexistent/gateway.toml"));
}
