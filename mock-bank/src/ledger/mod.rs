//! Deterministic ledger generation (filled by the ledger work).
pub mod model;
pub mod users;

/// (placeholder until the ledger work lands; the real one keeps this name)
#[derive(Debug, Clone)]
pub struct LedgerGenerator;
