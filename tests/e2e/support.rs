//! Helpers shared by the end-to-end tests: HTTPS clients that trust the sandbox CA, bounded polling.

use std::time::{Duration, Instant};

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
