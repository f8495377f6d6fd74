//! Helpers shared by the end-to-end tests: the gateway sandbox they start, HTTPS clients that trust the sandbox CA,
//! bounded polling.

use bankgate::{Sandbox, SandboxOptions};
use std::time::{Duration, Instant};
use time::{OffsetDateTime, macros::datetime};

/// Where the simulated clocks of [`gateway_sandbox`] start.
pub const START: OffsetDateTime = datetime!(2026-03-04 15:00 UTC);

/// The consent gateway in front of two banks (`continental`, `summit`; 20 customers each), clocks frozen at
/// [`START`], everything in memory on ephemeral ports.
pub async fn gateway_sandbox() -> Sandbox {
    certs::install_crypto_provider();
    let options = SandboxOptions {
        customers: Some(20),
        banks: Some(vec!["continental".into(), "summit".into()]),
        start: Some(START),
        ..SandboxOptions::default()
    };
    Sandbox::start(options).await.expect("sandbox starts")
}

/// A client trusting only `ca_pem`, optionally presenting a client identity (certificate + key PEM).
pub fn https_client(ca_pem: &str, identity_pem: Option<String>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("CA PEM");
    let mut builder = reqwest::Client::builder().tls_certs_only([ca]).timeout(Duration::from_secs(20));
    if let Some(pem) = identity_pem {
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).expect("identity PEM"));
    }
    builder.build().expect("client")
}

/// Poll `check` every 50 ms until it returns `Some`, for at most `limit`.
pub async fn eventually<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
