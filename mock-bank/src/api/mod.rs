//! The mock bank's HTTP APIs: the FDX v6 resource API an aggregator calls ([`fdx_router`], mounted at the root of
//! the mutual-TLS API listener) and the admin API for tests and QA ([`admin_router`], its own listener).
//!
//! One error type per boundary: [`error::FdxError`] (FDX `{code, message, debugMessage}`) on the FDX side,
//! [`admin::Problem`] (RFC 9457 problem+json) on the admin side. Handlers stay thin: the rules live in `books`
//! (what exists at the simulated now), `faults` (simulated infrastructure) and `login` (who may see what). Nothing
//! here keeps state of its own.

pub mod admin;
pub mod error;
pub mod fdx;
pub mod wire;

use crate::state::BankState;
use axum::Router;
use std::sync::Arc;

/// The FDX v6 API (`/fdx/v6/...`).
pub fn fdx_router() -> Router<Arc<BankState>> {
    fdx::router()
}

/// The admin API (`/admin/...`).
pub fn admin_router() -> Router<Arc<BankState>> {
    admin::router()
}
