//! Integration tests of the `certs` crate: the PKI directory on disk, real HTTPS round trips through
//! `serve::serve_tls` with reqwest, and graceful shutdown. One binary, one module per area.

mod https;
mod pki_dir;
mod shutdown;
mod support;
