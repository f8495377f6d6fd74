//! The in-process launcher (the same one `bankgate up` and the scenario runner use): a million customers per bank
//! start at once, and what changes the generated base survives a restart.

use crate::support::https_client;
use bankgate::{Sandbox, SandboxOptions};
use serde_json::{Value, json};
use time::macros::datetime;

fn options(dir: Option<&std::path::Path>, customers: u32) -> SandboxOptions {
    SandboxOptions {
        data_dir: dir.map(|d| d.to_path_buf()),
        customers: Some(customers),
        start: Some(datetime!(2026-03-02 12:00 UTC)),
        ..SandboxOptions::default()
    }
}

async fn admin_get(client: &reqwest::Client, sandbox: &Sandbox, bank: usize, path: &str) -> (u16, Value) {
    let url = format!("{}{path}", sandbox.endpoints.banks[bank].admin);
    let response = client.get(url).bearer_auth(&sandbox.endpoints.admin_token).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_million_customers_per_bank_start_lazily() {
    certs::install_crypto_provider();
    let sandbox = Sandbox::start(options(None, 1_000_000)).await.expect("starts");
    let client = https_client(sandbox.pki.ca_pem(), None);
    let (status, accounts) = admin_get(&client, &sandbox, 0, "/admin/customers/customer999999/accounts").await;
    assert_eq!(status, 200, "the last of a million customers exists: {accounts}");
    let listed = accounts["accounts"].as_array().expect("an accounts array");
    assert!(listed.iter().any(|a| a["accountType"] == "CHECKING"), "every customer has a checking account: {accounts}");
    let (status, _) = admin_get(&client, &sandbox, 0, "/admin/customers/customer1000000").await;
    assert_eq!(status, 404);
    sandbox.shutdown().await.unwrap();
}

#[tokio::test]
async fn injected_transactions_and_clock_survive_a_restart() {
    certs::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::start(options(Some(dir.path()), 20)).await.unwrap();
    let client = https_client(sandbox.pki.ca_pem(), None);
    let (status, accounts) = admin_get(&client, &sandbox, 0, "/admin/customers/user_good/accounts").await;
    assert_eq!(status, 200);
    let account_id = accounts["accounts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["accountType"] == "CHECKING")
        .and_then(|a| a["accountId"].as_str())
        .expect("user_good has a checking account")
        .to_owned();
    let injected = client
        .post(format!("{}/admin/accounts/{account_id}/transactions", sandbox.endpoints.banks[0].admin))
        .bearer_auth(&sandbox.endpoints.admin_token)
        .json(&json!({"amountCents": 123456, "direction": "CREDIT", "description": "E2E PERSISTENCE CHECK"}))
        .send()
        .await
        .unwrap();
    assert_eq!(injected.status(), 201, "{}", injected.text().await.unwrap_or_default());
    sandbox.shutdown().await.unwrap();

    let again = Sandbox::start(options(Some(dir.path()), 20)).await.unwrap();
    let client = https_client(again.pki.ca_pem(), None);
    let (status, txns) = admin_get(&client, &again, 0, &format!("/admin/accounts/{account_id}/transactions")).await;
    assert_eq!(status, 200);
    assert!(txns.to_string().contains("E2E PERSISTENCE CHECK"), "injected transaction survives the restart");
    again.shutdown().await.unwrap();
}

/// A frozen sandbox started at the wall clock's now never starts inside a bank's weekly maintenance window (its
/// clock would stay there, and every FDX call to that bank would answer 503 for the whole run): it starts at the
/// window's end. A ticking one starts at now, inside the window: that is the simulation. The bank's profile is given a
/// two-hour window that begins at the current hour, so now is inside it whenever the suite runs.
#[tokio::test]
async fn a_frozen_sandbox_started_inside_a_maintenance_window_starts_at_its_end() {
    certs::install_crypto_provider();
    let now = time::OffsetDateTime::now_utc();
    let weekday = now.weekday().to_string().to_lowercase();
    let window = format!("maintenance = {{ weekday = \"{weekday}\", start_hour = {}, hours = 2 }}", now.hour());
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/mock-bank/profiles/banks.toml")).unwrap();
    let profiles: String = shipped
        .lines()
        .map(|line| if line.starts_with("maintenance = ") { window.as_str() } else { line })
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(profiles.matches(window.as_str()).count(), 4, "every shipped bank got the window");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("banks.toml");
    std::fs::write(&file, profiles).unwrap();
    let window_end = now.replace_time(time::Time::from_hms(now.hour(), 0, 0).unwrap()) + time::Duration::hours(2);

    for ticking in [false, true] {
        let options = SandboxOptions {
            customers: Some(7),
            banks: Some(vec!["summit".into()]),
            profiles: Some(file.clone()),
            ticking,
            ..SandboxOptions::default()
        };
        let sandbox = Sandbox::start(options).await.unwrap();
        let bank = &sandbox.banks[0];
        let started = bank.state.clock.now();
        let inside = bank.state.profile.quirks.maintenance.contains(started);
        if ticking {
            assert!(inside && started < window_end, "a ticking sandbox starts at now: {started}");
        } else {
            assert_eq!(started, window_end, "a frozen sandbox starts at the window's end");
        }
        sandbox.shutdown().await.unwrap();
    }
}
