//! `Identity`: one certificate with its private key, in PEM (for files and reqwest) and DER (for rustls).
//!
//! An identity is checked when it is built: the PEM parses, the key is PKCS#8 and belongs to the certificate.
//! It must never print its private key: `Debug` shows the subject and expiry and `<hidden>` for the key.

use std::fmt;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::CertError;

/// What a leaf certificate is for: its extended key usage (RFC 5280 §4.2.1.12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CertKind {
    /// A TLS server (EKU id-kp-serverAuth).
    Server,
    /// A TLS client, for mTLS (EKU id-kp-clientAuth).
    Client,
}

impl fmt::Display for CertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CertKind::Server => "server",
            CertKind::Client => "client",
        })
    }
}

/// A certificate and its private key, PEM and DER. `Debug` hides the key.
///
/// Built by [`crate::Pki`] or from PEM with [`Identity::from_pem`]. The PEM fields are public for writing files and
/// handing to other libraries; treat them as read-only (the DER accessors are derived from them once, at build time).
#[derive(Clone)]
pub struct Identity {
    /// The certificate, PEM ("CERTIFICATE").
    pub cert_pem: String,
    /// The private key, PEM (PKCS#8 "PRIVATE KEY").
    pub key_pem: String,
    cert_der: CertificateDer<'static>,
    key_pkcs8: Vec<u8>,
    facts: CertFacts,
}

impl Identity {
    /// Builds an identity from a certificate PEM and its PKCS#8 key PEM, checking that the key matches.
    pub fn from_pem(cert_pem: impl Into<String>, key_pem: impl Into<String>) -> Result<Identity, CertError> {
        let cert_pem = cert_pem.into();
        let key_pem = key_pem.into();
        let cert_der =
            CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|e| CertError::parse("certificate PEM", e))?;
        let key = PrivatePkcs8KeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| CertError::parse("private key PEM (PKCS#8 expected)", e))?;
        let key_pkcs8 = key.secret_pkcs8_der().to_vec();
        let facts = CertFacts::parse(&cert_der)?;
        let key_pair = rcgen::KeyPair::try_from(key_pkcs8.as_slice())?;
        if rcgen::PublicKeyData::subject_public_key_info(&key_pair) != facts.spki {
            return Err(CertError::parse("private key", "it does not belong to the certificate"));
        }
        Ok(Identity { cert_pem, key_pem, cert_der, key_pkcs8, facts })
    }

    /// The certificate, DER.
    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.cert_der.clone()
    }

    /// The private key, DER (PKCS#8).
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_pkcs8.clone()))
    }

    /// End of the certificate's validity period.
    pub fn not_after(&self) -> OffsetDateTime {
        self.facts.not_after
    }

    /// The subject common name, if the certificate has one.
    pub fn common_name(&self) -> Option<&str> {
        self.facts.common_name.as_deref()
    }

    /// The subject distinguished name in RFC 4514 text form (e.g. `CN=gateway, O=bankgate development`).
    pub fn subject(&self) -> &str {
        &self.facts.subject
    }

    /// SHA-256 of the DER certificate (RFC 8705 §3.1: `x5t#S256` is its base64url) — raw bytes.
    pub fn sha256_thumbprint(&self) -> [u8; 32] {
        sha256(&self.cert_der)
    }

    pub(crate) fn facts(&self) -> &CertFacts {
        &self.facts
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("subject", &self.facts.subject)
            .field("not_after", &self.facts.not_after)
            .field("key", &"<hidden>")
            .finish()
    }
}

/// SHA-256 of a DER blob.
pub(crate) fn sha256(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

/// What we need to know about a certificate to decide whether to trust or reuse it, read with x509-parser.
#[derive(Clone, Debug)]
pub(crate) struct CertFacts {
    pub(crate) not_before: OffsetDateTime,
    pub(crate) not_after: OffsetDateTime,
    pub(crate) common_name: Option<String>,
    pub(crate) subject: String,
    /// DER of the subject Name (for issuer matching, RFC 5280 §4.1.2.4).
    pub(crate) subject_raw: Vec<u8>,
    /// DER of the issuer Name.
    pub(crate) issuer_raw: Vec<u8>,
    /// DER SubjectPublicKeyInfo.
    pub(crate) spki: Vec<u8>,
    pub(crate) is_ca: bool,
    pub(crate) server_auth: bool,
    pub(crate) client_auth: bool,
}

impl CertFacts {
    pub(crate) fn parse(der: &[u8]) -> Result<CertFacts, CertError> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| CertError::parse("certificate", e))?;
        let eku = cert
            .extended_key_usage()
            .map_err(|e| CertError::parse("certificate extended key usage", e))?
            .map(|ext| (ext.value.server_auth, ext.value.client_auth));
        let is_ca = cert
            .basic_constraints()
            .map_err(|e| CertError::parse("certificate basic constraints", e))?
            .is_some_and(|ext| ext.value.ca);
        Ok(CertFacts {
            not_before: cert.validity().not_before.to_datetime(),
            not_after: cert.validity().not_after.to_datetime(),
            common_name: cert.subject().iter_common_name().next().and_then(|cn| cn.as_str().ok()).map(str::to_owned),
            subject: cert.subject().to_string(),
            subject_raw: cert.subject().as_raw().to_vec(),
            issuer_raw: cert.issuer().as_raw().to_vec(),
            spki: cert.public_key().raw.to_vec(),
            is_ca,
            server_auth: eku.is_some_and(|(server, _)| server),
            client_auth: eku.is_some_and(|(_, client)| client),
        })
    }

    /// Whether the certificate carries the EKU `kind` needs.
    pub(crate) fn fits(&self, kind: CertKind) -> bool {
        !self.is_ca
            && match kind {
                CertKind::Server => self.server_auth,
                CertKind::Client => self.client_auth,
            }
    }
}

/// Verifies that `child_der` carries a valid signature by the key in `issuer_spki_der`.
pub(crate) fn signed_by(child_der: &[u8], issuer_spki_der: &[u8]) -> bool {
    use x509_parser::prelude::FromDer;
    let Ok((_, child)) = x509_parser::parse_x509_certificate(child_der) else {
        return false;
    };
    let Ok((_, spki)) = x509_parser::x509::SubjectPublicKeyInfo::from_der(issuer_spki_der) else {
        return false;
    };
    child.verify_signature(Some(&spki)).is_ok()
}
