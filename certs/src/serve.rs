//! An HTTPS accept loop for axum that hands the verified client certificate to handlers.
//!
//! axum-server does not expose the peer certificate, yet RFC 8705 (mTLS client authentication and
//! certificate-bound tokens) needs it in the handler. So this is our own tokio-rustls loop: one task per connection,
//! a bounded TLS handshake, hyper-util's auto (HTTP/1.1 + h2) connection, [`PeerCertificates`] and
//! `ConnectInfo<SocketAddr>` in every request's extensions, and a graceful shutdown with a bound.
//! It must never let one bad connection (failed or stalled handshake, reset) stop the loop, and never report a
//! certificate the handshake did not verify.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls_pki_types::CertificateDer;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// A TLS handshake that takes longer than this is abandoned.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// After shutdown is requested, open connections get this long to finish their in-flight requests.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Pause after an accept error that is not about one connection (e.g. out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The peer's client certificate chain (leaf first) as the TLS handshake verified it; inserted into every request's
/// extensions (absent certificate => an empty chain). One per connection, shared by its requests (`Arc` inside): the
/// leaf's common name and SHA-256 are computed on first use and kept, not parsed again for every request (the
/// per-request X.509 parse was 4% of the CPU under resource-API load).
#[derive(Clone, Debug)]
pub struct PeerCertificates(Arc<PeerChain>);

#[derive(Debug)]
struct PeerChain {
    chain: Vec<CertificateDer<'static>>,
    common_name: std::sync::OnceLock<Option<String>>,
    sha256: std::sync::OnceLock<Option<[u8; 32]>>,
}

impl PeerCertificates {
    /// The chain `chain` (leaf first), as a verifying handshake reported it.
    pub fn new(chain: Vec<CertificateDer<'static>>) -> Self {
        Self(Arc::new(PeerChain { chain, common_name: Default::default(), sha256: Default::default() }))
    }

    /// The whole chain, leaf first (empty when the client presented none).
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.0.chain
    }

    /// The client's own certificate, if it presented one.
    pub fn leaf(&self) -> Option<&CertificateDer<'static>> {
        self.0.chain.first()
    }

    /// The subject common name of the leaf (the client name our PKI put there).
    pub fn leaf_common_name(&self) -> Option<&str> {
        let parse = || {
            let (_, cert) = x509_parser::parse_x509_certificate(self.leaf()?).ok()?;
            Some(cert.subject().iter_common_name().next()?.as_str().ok()?.to_owned())
        };
        self.0.common_name.get_or_init(parse).as_deref()
    }

    /// SHA-256 of the leaf DER: RFC 8705 §3.1, the `x5t#S256` confirmation of certificate-bound tokens (raw bytes).
    pub fn leaf_sha256(&self) -> Option<[u8; 32]> {
        *self.0.sha256.get_or_init(|| self.leaf().map(|der| crate::identity::sha256(der)))
    }
}

/// Serve `router` over TLS on `listener` until `shutdown` resolves.
///
/// Per connection: TLS handshake bounded by [`HANDSHAKE_TIMEOUT`] (failures logged at debug, the loop goes on),
/// then hyper-util's auto builder (HTTP/1.1 or h2, whichever the client speaks), with [`PeerCertificates`] and
/// `axum::extract::ConnectInfo<SocketAddr>` inserted into each request. On shutdown: stop accepting, ask open
/// connections to finish (HTTP/1.1 closes after the current response, h2 sends GOAWAY), wait up to
/// [`SHUTDOWN_GRACE`], then drop whatever is left. Returns after that.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, "serving HTTPS");
    let acceptor = TlsAcceptor::from(tls);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    connections.spawn(serve_connection(acceptor.clone(), tcp, peer, router.clone(), stop_rx.clone()));
                }
                Err(error) if is_per_connection(&error) => {
                    tracing::debug!(%error, "accept failed for one connection");
                }
                Err(error) => {
                    tracing::error!(%error, addr = %local, "accept failed; backing off");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let open = connections.len();
    tracing::info!(addr = %local, open, "shutting down HTTPS server");
    let drained =
        tokio::time::timeout(SHUTDOWN_GRACE, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(addr = %local, left = connections.len(), "connections still open after the grace period; closing them");
        connections.shutdown().await;
    }
    Ok(())
}

/// Errors that concern one incoming connection only; the listener itself is fine.
fn is_per_connection(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(error.kind(), ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock)
}

/// Resolves once shutdown was requested (or the server is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard returned by wait_for is dropped at once: it must not live across an await.
    let _ = stop.wait_for(|stop| *stop).await;
}

/// One connection: handshake, then HTTP until done or shutdown.
async fn serve_connection(
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
    router: axum::Router,
    mut stop: watch::Receiver<bool>,
) {
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
    let tls = tokio::select! {
        result = handshake => match result {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                tracing::debug!(%peer, %error, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, timeout = ?HANDSHAKE_TIMEOUT, "TLS handshake timed out");
                return;
            }
        },
        () = stopped(&mut stop) => return,
    };
    // rustls only reports certificates its verifier accepted (RFC 8446 §4.4.2.4: a rejected one aborts the handshake).
    let chain: Vec<CertificateDer<'static>> = tls
        .get_ref()
        .1
        .peer_certificates()
        .map(|certs| certs.iter().map(|c| c.clone().into_owned()).collect())
        .unwrap_or_default();
    let peer_certificates = PeerCertificates::new(chain);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(peer_certificates.clone());
        request.extensions_mut().insert(ConnectInfo(peer));
        // Router's error type is Infallible: every failure is already a response.
        router.clone().oneshot(request)
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // With a timer, hyper enforces its HTTP/1.1 header-read timeout (slow-loris protection).
    builder.http1().timer(TokioTimer::new());
    builder.http2().timer(TokioTimer::new());
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stopped(&mut stop) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
}
