//! bankgate's development PKI and TLS serving.
//!
//! One development CA (rcgen, ECDSA P-256) issues the server certificates of the gateway and the mock banks and the
//! client certificates used for mTLS (RFC 8705); the files live in one directory and are reused while valid. On top:
//! rustls server/client configs pinned to the aws-lc-rs provider, and [`serve::serve_tls`], an accept loop that puts
//! the verified client certificate into each axum request.
//!
//! This crate is for development and tests only: it must never be the trust root of a real deployment, never print
//! or log a private key (`Debug` shows `<hidden>`), and never write a key file readable by other users.

mod error;
mod files;
mod identity;
mod init;
mod pki;
pub mod serve;
mod tls;

pub use error::CertError;
pub use identity::{CertKind, Identity};
pub use init::{InitAction, InitEntry, InitReport, init_dir};
pub use pki::{CA_VALIDITY, LEAF_VALIDITY, MIN_REMAINING_VALIDITY, Pki, client_uri};
pub use tls::{ALPN_PROTOCOLS, ClientAuth, client_config, install_crypto_provider, server_config};
