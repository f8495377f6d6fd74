//! rustls configurations for bankgate's servers and clients, always on the aws-lc-rs provider.
//!
//! FAPI 2.0 Security Profile §5.2.1 asks for TLS 1.2 or later following RFC 9325 (BCP 195): TLS 1.3 suites plus,
//! for TLS 1.2, only the ECDHE + AES-GCM suites of RFC 9325 §4.2. The configs name their provider explicitly, so they
//! work even where no process default was installed. This module must never weaken verification: a client config
//! trusts exactly the CA it is given, and a server that asks for client certificates verifies them against that CA.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::crypto::aws_lc_rs;
use rustls::server::WebPkiClientVerifier;
use rustls::{CipherSuite, ClientConfig, RootCertStore, ServerConfig, SupportedCipherSuite};
use rustls_pki_types::CertificateDer;

use crate::{CertError, Identity};

/// ALPN protocols offered and accepted (RFC 7301): HTTP/2 first, then HTTP/1.1.
pub const ALPN_PROTOCOLS: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Whether a TLS server asks for a client certificate (RFC 8446 §4.3.2 CertificateRequest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// Not requested.
    None,
    /// Requested; when presented it must chain to the CA, when absent the handshake still succeeds.
    Optional,
    /// Required: the handshake fails unless the client presents a certificate chaining to the CA.
    Required,
}

/// Installs aws-lc-rs as rustls' process-wide provider (idempotent; call at the top of main and in tests).
///
/// If another provider was installed first it stays in place; the configs built here do not depend on it.
pub fn install_crypto_provider() {
    if aws_lc_rs::default_provider().install_default().is_err() {
        tracing::trace!("a rustls crypto provider was already installed");
    }
}

/// The aws-lc-rs provider restricted to the cipher suites FAPI 2.0 / RFC 9325 §4.2 allow.
fn provider() -> Arc<CryptoProvider> {
    let mut provider = aws_lc_rs::default_provider();
    provider.cipher_suites.retain(|suite| match suite {
        SupportedCipherSuite::Tls13(_) => true,
        SupportedCipherSuite::Tls12(_) => matches!(
            suite.suite(),
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                | CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
                | CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
                | CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
        ),
    });
    Arc::new(provider)
}

/// A root store holding only `ca`.
fn roots(ca: &CertificateDer<'static>) -> Result<Arc<RootCertStore>, CertError> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone())?;
    Ok(Arc::new(roots))
}

fn alpn() -> Vec<Vec<u8>> {
    ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect()
}

/// Server config: this identity; client certs: None = not requested, Optional = requested and verified against the CA
/// when presented, Required = must chain to the CA. ALPN h2 + http/1.1.
pub fn server_config(
    identity: &Identity,
    ca: &CertificateDer<'static>,
    client_auth: ClientAuth,
) -> Result<Arc<ServerConfig>, CertError> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
    let builder = match client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Optional | ClientAuth::Required => {
            // RFC 8705 §2: the certificate is verified during the handshake; the application then binds it.
            let verifier = WebPkiClientVerifier::builder_with_provider(roots(ca)?, provider);
            let verifier = match client_auth {
                ClientAuth::Optional => verifier.allow_unauthenticated(),
                _ => verifier,
            };
            builder.with_client_cert_verifier(verifier.build()?)
        }
    };
    let mut config = builder.with_single_cert(vec![identity.cert_der()], identity.key_der())?;
    config.alpn_protocols = alpn();
    Ok(Arc::new(config))
}

/// Client config trusting only `ca`, optionally presenting `client` (for mTLS). ALPN h2 + http/1.1.
pub fn client_config(ca: &CertificateDer<'static>, client: Option<&Identity>) -> Result<Arc<ClientConfig>, CertError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots(ca)?);
    let mut config = match client {
        Some(identity) => builder.with_client_auth_cert(vec![identity.cert_der()], identity.key_der())?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Pki;

    #[test]
    fn tls12_suites_are_limited_to_ecdhe_aes_gcm() {
        let provider = provider();
        assert!(provider.cipher_suites.iter().any(|s| matches!(s, SupportedCipherSuite::Tls13(_))));
        for suite in &provider.cipher_suites {
            let name = format!("{:?}", suite.suite());
            assert!(
                name.starts_with("TLS13_") || (name.contains("ECDHE") && name.contains("GCM")),
                "{name} should not be offered"
            );
        }
    }

    #[test]
    fn configs_build_for_every_client_auth_mode_and_offer_h2() {
        let pki = Pki::generate().unwrap();
        let server = pki.issue_server("s").unwrap();
        for mode in [ClientAuth::None, ClientAuth::Optional, ClientAuth::Required] {
            let config = server_config(&server, &pki.ca_der(), mode).unwrap();
            assert_eq!(config.alpn_protocols, alpn());
        }
        let client = pki.issue_client("c").unwrap();
        let with_cert = client_config(&pki.ca_der(), Some(&client)).unwrap();
        assert_eq!(with_cert.alpn_protocols, alpn());
        assert!(with_cert.client_auth_cert_resolver.has_certs(), "mTLS client presents its certificate");
        assert!(!client_config(&pki.ca_der(), None).unwrap().client_auth_cert_resolver.has_certs());
    }
}
