//! The one error type of the `certs` crate.
//!
//! Every I/O failure carries the path it happened on, so `bankgate dev init` can say which file it could not read
//! or write. Errors must never carry key material: a message may name a file, never print its contents.

use std::path::PathBuf;

/// Everything that can go wrong while creating, loading or using development certificates.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// Reading, writing, renaming or locking a file or directory failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What we were doing ("read", "write", "create directory", ...).
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// rcgen refused to build or sign a certificate (or to parse a key).
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// A PEM or DER blob (certificate or key) could not be understood.
    #[error("cannot parse {what}: {reason}")]
    Parse {
        /// Which blob ("certificate", "private key", ...).
        what: &'static str,
        /// Why, in words (never the blob itself).
        reason: String,
    },
    /// A certificate/file name was rejected before anything was written.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Which rule it broke.
        reason: &'static str,
    },
    /// rustls rejected the configuration (for instance a key that does not match its certificate).
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The client-certificate verifier could not be built from the CA.
    #[error("client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

impl CertError {
    /// An [`CertError::Io`] for `path`.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CertError::Io { action, path: path.into(), source }
    }

    /// A [`CertError::Parse`] for `what`.
    pub(crate) fn parse(what: &'static str, reason: impl ToString) -> Self {
        CertError::Parse { what, reason: reason.to_string() }
    }
}
