//! Shared helpers: a trust check as a TLS peer would do it, and an HTTPS test server on 127.0.0.1:0.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Extension};
use axum::http::Version;
use axum::routing::get;
use certs::serve::{PeerCertificates, serve_tls};
use certs::{CertKind, ClientAuth, Identity, Pki};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Whether a TLS peer trusting only `pki`'s CA accepts `identity` as a `kind` certificate right now.
pub fn trusted_by(pki: &Pki, identity: &Identity, kind: CertKind) -> bool {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca_der()).unwrap();
    let roots = Arc::new(roots);
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let now = UnixTime::now();
    match kind {
        CertKind::Server => {
            let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider).build().unwrap();
            let name = ServerName::try_from("localhost").unwrap();
            verifier.verify_server_cert(&identity.cert_der(), &[], &name, &[], now).is_ok()
        }
        CertKind::Client => {
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider).build().unwrap();
            verifier.verify_client_cert(&identity.cert_der(), &[], now).is_ok()
        }
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `GET /whoami`: what the handler saw of the connection, as `cn=<cn|none> sha=<hex|none> peer=<ip> version=<v>`.
async fn whoami(
    Extension(peer_certs): Extension<PeerCertificates>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    version: Version,
) -> String {
    let cn = peer_certs.leaf_common_name().unwrap_or("none");
    let sha = peer_certs.leaf_sha256().map_or_else(|| "none".to_owned(), |h| hex(&h));
    format!("cn={cn} sha={sha} peer={} version={version:?}", addr.ip())
}

/// A running test server.
pub struct TestServer {
    pub pki: Pki,
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    /// Starts `serve_tls` on 127.0.0.1:0 with a fresh CA, a server certificate and `mode`; `extra` adds routes.
    pub async fn start(mode: ClientAuth, extra: Router) -> TestServer {
        certs::install_crypto_provider();
        let pki = Pki::generate().unwrap();
        let server_identity = pki.issue_server("test-server").unwrap();
        let tls = certs::server_config(&server_identity, &pki.ca_der(), mode).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new().route("/whoami", get(whoami)).merge(extra);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_tls(listener, tls, router, async {
            let _ = stopped.await;
        }));
        TestServer { pki, addr, stop: Some(stop), task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.addr.port())
    }

    /// A reqwest client trusting only this server's CA, presenting `identity` if given.
    pub fn client(&self, identity: Option<&Identity>) -> reqwest::ClientBuilder {
        let ca = reqwest::Certificate::from_pem(self.pki.ca_pem().as_bytes()).unwrap();
        let builder = reqwest::Client::builder().tls_certs_only([ca]);
        match identity {
            Some(id) => {
                let pem = format!("{}{}", id.cert_pem, id.key_pem);
                builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap())
            }
            None => builder,
        }
    }

    /// Resolves the shutdown future handed to `serve_tls`.
    pub fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
