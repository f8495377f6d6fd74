//! The CLI contract: `bankgate up` writes endpoints.json once every listener accepts connections, the listeners
//! answer as documented, SIGTERM shuts down cleanly, and a restart keeps the data directory's state.

use crate::support::{eventually, https_client};
use bankgate::Endpoints;
use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

fn start_up(data_dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_bankgate"))
        .args(["up", "--ephemeral-ports", "--frozen-clock", "--customers", "50", "--start", "2026-03-02T12:00:00Z"])
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("bankgate binary starts")
}

/// SIGTERM, then wait (bounded) for the process to exit.
async fn terminate(mut child: Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
    assert!(status.success());
    let exited = eventually(Duration::from_secs(30), || child.try_wait().expect("wait")).await;
    exited.unwrap_or_else(|| {
        child.kill().ok();
        panic!("bankgate did not stop within 30 s of SIGTERM")
    })
}

async fn wait_for_endpoints(data_dir: &Path) -> Endpoints {
    let path = data_dir.join("endpoints.json");
    eventually(Duration::from_secs(60), || Endpoints::read(&path).ok()).await.expect("endpoints.json within 60 s")
}

#[tokio::test]
async fn up_writes_endpoints_serves_every_listener_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let child = start_up(dir.path());
    let endpoints = wait_for_endpoints(dir.path()).await;

    assert_eq!(endpoints.banks.len(), 4);
    let ids: Vec<&str> = endpoints.banks.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, ["continental", "liberty", "summit", "harbor"]);
    let ca = std::fs::read_to_string(&endpoints.ca_cert).expect("CA file exists");
    let token_file = std::fs::read_to_string(dir.path().join("admin-token")).unwrap();
    assert_eq!(token_file.trim(), endpoints.admin_token);

    let admin = https_client(&ca, None);
    let identity = format!(
        "{}{}",
        std::fs::read_to_string(&endpoints.client_cert).unwrap(),
        std::fs::read_to_string(&endpoints.client_key).unwrap()
    );
    let gateway = https_client(&ca, Some(identity));
    let anonymous = https_client(&ca, None);
    for bank in &endpoints.banks {
        let response = admin
            .get(format!("{}/admin/bank", bank.admin))
            .bearer_auth(&endpoints.admin_token)
            .send()
            .await
            .expect("admin listener answers");
        assert_eq!(response.status(), 200, "admin of {}", bank.id);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["id"], bank.id.as_str());

        let unauthorized = admin.get(format!("{}/admin/bank", bank.admin)).send().await.unwrap();
        assert_eq!(unauthorized.status(), 401);

        // The API listener demands a client certificate chaining to the CA: without one the handshake fails.
        let refused = anonymous.get(format!("{}/fdx/v6/accounts", bank.api)).send().await;
        assert!(refused.is_err(), "API of {} must refuse a client without a certificate", bank.id);
        // With the gateway's certificate but no token: an FDX 401.
        let no_token = gateway.get(format!("{}/fdx/v6/accounts", bank.api)).send().await.unwrap();
        assert_eq!(no_token.status(), 401);

        let login = anonymous.get(format!("{}/oauth/authorize", bank.login)).send().await.unwrap();
        assert!(login.status().is_client_error(), "authorize without parameters is a clear 4xx");
    }

    // The consent gateway runs beside the banks and announces itself in endpoints.json (RFC 8414 metadata).
    let announced = endpoints.gateway.as_ref().expect("the gateway is in endpoints.json");
    let metadata: serde_json::Value =
        anonymous.get(&announced.metadata).send().await.unwrap().error_for_status().unwrap().json().await.unwrap();
    assert_eq!(metadata["issuer"], announced.issuer.as_str());
    assert_eq!(metadata["require_pushed_authorization_requests"], true);

    drop((admin, gateway, anonymous));
    let status = terminate(child).await;
    assert!(status.success(), "clean exit on SIGTERM, got {status:?}");
}

#[tokio::test]
async fn restart_keeps_certificates_admin_token_and_clock() {
    let dir = tempfile::tempdir().unwrap();
    let first = start_up(dir.path());
    let endpoints = wait_for_endpoints(dir.path()).await;
    let ca_before = std::fs::read_to_string(&endpoints.ca_cert).unwrap();
    let client = https_client(&ca_before, None);
    let bank = &endpoints.banks[0];
    let moved = client
        .post(format!("{}/admin/clock", bank.admin))
        .bearer_auth(&endpoints.admin_token)
        .json(&serde_json::json!({"advance": "3d"}))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200);
    let clock_before: serde_json::Value = moved.json().await.unwrap();
    let jwks_url = |e: &Endpoints| format!("{}/jwks", e.gateway.as_ref().expect("gateway").issuer);
    let jwks_before: serde_json::Value = client.get(jwks_url(&endpoints)).send().await.unwrap().json().await.unwrap();
    assert!(terminate(first).await.success());
    std::fs::remove_file(dir.path().join("endpoints.json")).unwrap();

    let second = start_up(dir.path());
    let again = wait_for_endpoints(dir.path()).await;
    assert_eq!(std::fs::read_to_string(&again.ca_cert).unwrap(), ca_before, "CA reused while valid");
    assert_eq!(again.admin_token, endpoints.admin_token);
    let jwks_after: serde_json::Value = client.get(jwks_url(&again)).send().await.unwrap().json().await.unwrap();
    assert!(jwks_before["keys"][0]["kid"].is_string());
    assert_eq!(jwks_after, jwks_before, "the gateway's signing key survives a restart");
    let bank = &again.banks[0];
    let clock_after: serde_json::Value = client
        .get(format!("{}/admin/clock", bank.admin))
        .bearer_auth(&again.admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(clock_after["now"], clock_before["now"], "the simulated clock survives a restart");
    assert!(terminate(second).await.success());
}

#[test]
fn certs_init_writes_the_pki_and_reuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        let output = Command::new(env!("CARGO_BIN_EXE_bankgate"))
            .args(["certs", "init", "--data-dir"])
            .arg(dir.path())
            .output()
            .expect("bankgate runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    let first = run();
    let certs = dir.path().join("certs");
    for file in [
        "ca.pem",
        "ca-key.pem",
        "continental.pem",
        "harbor-key.pem",
        "gateway.pem",
        "gateway-client.pem",
        "sample-app.pem",
    ] {
        assert!(certs.join(file).is_file(), "{file} missing; output:\n{first}");
    }
    assert!(!first.contains("PRIVATE KEY"), "keys are never printed");
    let ca = std::fs::read_to_string(certs.join("ca.pem")).unwrap();
    run();
    assert_eq!(std::fs::read_to_string(certs.join("ca.pem")).unwrap(), ca, "a valid CA is reused");
}

#[tokio::test]
async fn bank_subcommand_runs_one_bank() {
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_bankgate"))
        .args(["bank", "--bank", "summit", "--ephemeral-ports", "--frozen-clock", "--customers", "10", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let endpoints = wait_for_endpoints(dir.path()).await;
    let ids: Vec<&str> = endpoints.banks.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, ["summit"]);
    assert!(endpoints.gateway.is_none(), "`bankgate bank` runs the bank alone");
    assert!(terminate(child).await.success());

    let unknown = Command::new(env!("CARGO_BIN_EXE_bankgate"))
        .args(["bank", "--bank", "nowhere", "--ephemeral-ports", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown bank `nowhere`"));
}
