//! The HTTPS client the gateway uses towards one bank, and its adapter to the `oauth2` crate.
//!
//! rustls from `certs::client_config`: trusts exactly the bankgate CA it is given, presents the gateway's client
//! certificate (RFC 8705 §2 mutual TLS), offers only the FAPI 2.0 / RFC 9325 cipher suites. Redirects are never
//! followed (a token endpoint that redirects is an error, RFC 6749 §3.2). Nothing here logs a request body.
//!
//! The resource API's reads do not come here: they have a pool of their own, driven by the asking task
//! ([`super::reads`]). Two reqwest clients per bank ([`Protocol`]). FDX reads (`get_json`): HTTP/1.1 only, over a pool of kept-alive
//! connections (as nginx proxies to an upstream). Decided from a profile of the resource API under load: over
//! HTTP/2 every call of every app shared ONE connection to the bank, so one task on each side encrypted, framed and
//! HPACK-coded all of them in turn, while separate connections spread over the cores. A connection is opened when
//! none is idle; idle ones close after `pool_idle`.
//!
//! The OAuth calls (code exchange, refresh, revocation) and the notification subscriptions: HTTP/2, one
//! multiplexed connection. Decided from a leak found under concurrent consent flows: on the HTTP/1.1 pool, a call
//! that finds no idle connection starts a connect and also waits for one; when another call frees one first,
//! hyper-util (0.1.21) finishes the connect in the background, and connections the pool did not keep stayed open
//! (observed: idle, established on both sides; the mechanism is our reading of its pool). With 32 concurrent flows the gateway opened about 100 mutual-TLS connections per second
//! to the bank (a full handshake each) and the established ones grew without bound (247 -> 1,534 in 14 s; a cap on
//! idle connections only halved the growth). Over HTTP/2 they stay at one; flows/s within the noise (489-527
//! against 542-561 with every call on HTTP/2, alternated runs). The resource API's GETs, one per app request, do
//! not show the growth (34-85 connections under 32 connections of load).

use std::future::Future;
use std::pin::Pin;

use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};
use rustls_pki_types::CertificateDer;

use super::client::BankTimeouts;
use super::fdx::{BankCallError, read_body};

/// Which of a bank's two clients (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// HTTP/1.1 over a pool of connections: the resource API's reads.
    Http1Pool,
    /// HTTP/2 over one connection (ALPN `h2`, `http/1.1` for a bank without HTTP/2): OAuth calls and notification
    /// subscriptions.
    Http2,
}

/// A reqwest client for one bank speaking `protocol`.
pub(crate) fn build_http_client(
    ca: &CertificateDer<'static>,
    identity: &certs::Identity,
    timeouts: &BankTimeouts,
    protocol: Protocol,
) -> Result<reqwest::Client, BankCallError> {
    let tls = certs::client_config(ca, Some(identity)).map_err(|e| BankCallError::Tls(e.to_string()))?;
    let mut tls = rustls::ClientConfig::clone(&tls);
    let builder = match protocol {
        Protocol::Http1Pool => {
            tls.alpn_protocols = vec![b"http/1.1".to_vec()];
            reqwest::Client::builder().tls_backend_preconfigured(tls).http1_only()
        }
        Protocol::Http2 => {
            // HTTP/1.1 offered second: a bank that speaks only HTTP/1.1 is still reachable (on a pool, as before).
            tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            reqwest::Client::builder().tls_backend_preconfigured(tls)
        }
    };
    builder
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.request)
        .pool_idle_timeout(timeouts.pool_idle)
        .build()
        .map_err(|e| BankCallError::from_reqwest(&e))
}

/// Lets `oauth2` send its token and revocation requests through our mutual-TLS client.
pub(crate) struct OAuthTransport<'a>(pub(crate) &'a reqwest::Client);

impl<'c> AsyncHttpClient<'c> for OAuthTransport<'_> {
    type Error = BankCallError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BankCallError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)
                .map_err(|e| BankCallError::InvalidRequest(format!("oauth request: {}", e.without_url())))?;
            let response = self.0.execute(request).await.map_err(|e| BankCallError::from_reqwest(&e))?;
            let status = response.status();
            // A 5xx keeps its retryability instead of becoming an opaque OAuth parse error.
            if status.is_server_error() {
                return Err(BankCallError::ServerError {
                    status: status.as_u16(),
                    retry_after: super::fdx::retry_after(response.headers()),
                    body: None,
                });
            }
            let mut builder = http::Response::builder().status(status);
            if let Some(headers) = builder.headers_mut() {
                headers.extend(response.headers().iter().map(|(name, value)| (name.clone(), value.clone())));
            }
            let body = read_body(response).await?;
            builder.body(body).map_err(|e| BankCallError::MalformedBody(e.to_string()))
        })
    }
}
