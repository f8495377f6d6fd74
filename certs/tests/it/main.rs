//! certs tests
